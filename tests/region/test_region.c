/* SPDX-License-Identifier: MIT */
/* Segments: create modes, validation, ownership, permissions, limits. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "nctest.h"

TestSuite(region, .fini = nct_cleanup, .timeout = 30);

static const cortex_layout raw64 = {.kind = CORTEX_KIND_RAW, .payload_size = 64};

#define OK(expr) cr_assert_eq((expr), 0, "%s: %s", #expr, cortex_last_error()->message)

static bool sysv_exists(int key) { return shmget(key, 0, 0) >= 0; }

static bool name_exists(const char *name)
{
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

Test(region, sysv_create_attach_close)
{
    int key = nct_sysv_key();
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL));
    cr_assert(cortex_region_created(a) && cortex_region_is_owner(a));
    OK(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL));
    cr_assert(!cortex_region_created(b) && !cortex_region_is_owner(b));
    strcpy(cortex_region_payload(a), "hello");
    cr_assert_str_eq(cortex_region_payload(b), "hello");
    cr_assert_eq(cortex_region_payload_size(b), 64);
    OK(cortex_region_close(b));
    cr_assert(sysv_exists(key), "an attacher's close must not remove the segment");
    OK(cortex_region_close(a));
    cr_assert(!sysv_exists(key), "the owner's close removes the segment");
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL), -ENOENT);
    cr_assert_eq(cortex_last_error()->code, -ENOENT);
    cr_assert(strstr(cortex_last_error()->message, "SysV key") != NULL, "%s", cortex_last_error()->message);
}

Test(region, exclusive_create_leaves_existing_untouched)
{
    char name[64];
    nct_name(name, "excl");
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, NULL, NULL, NULL));
    strcpy(cortex_region_payload(a), "original");
    cortex_layout other = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    cr_assert_eq(cortex_region_create(&b, CORTEX_KEY_NAME(name), &other, NULL, NULL, NULL), -EEXIST);
    cr_assert(!cortex_last_error()->dirty);
    cr_assert_null(b);
    cr_assert_str_eq(cortex_region_payload(a), "original");
    cr_assert(name_exists(name));
    /* The same for SysV. */
    int key = nct_sysv_key();
    OK(cortex_region_create(&b, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL));
    cortex_region *c = NULL;
    cr_assert_eq(cortex_region_create(&c, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL), -EEXIST);
    cr_assert(sysv_exists(key));
    OK(cortex_region_close(b));
    OK(cortex_region_close(a));
    cr_assert(!name_exists(name));
}

Test(region, open_or_create_and_attach_only)
{
    char name[64];
    nct_name(name, "ooc");
    cortex_opts oc = {.mode = CORTEX_OPEN_OR_CREATE};
    cortex_opts ao = {.mode = CORTEX_ATTACH_ONLY};
    cortex_region *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(cortex_region_create(&c, CORTEX_KEY_NAME(name), &raw64, &ao, NULL, NULL), -ENOENT);
    OK(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, &oc, NULL, NULL));
    cr_assert(cortex_region_created(a));
    OK(cortex_region_create(&b, CORTEX_KEY_NAME(name), &raw64, &oc, NULL, NULL));
    cr_assert(!cortex_region_created(b), "the second open-or-create attaches");
    OK(cortex_region_create(&c, CORTEX_KEY_NAME(name), &raw64, &ao, NULL, NULL));
    OK(cortex_region_close(c));
    OK(cortex_region_close(b));
    OK(cortex_region_close(a));
}

Test(region, leak_and_own)
{
    int key = nct_sysv_key();
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL));
    OK(cortex_region_leak(a));
    cr_assert(sysv_exists(key), "leak keeps the segment");
    OK(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL));
    OK(cortex_region_own(b));
    cr_assert(cortex_region_is_owner(b));
    OK(cortex_region_close(b));
    cr_assert(!sysv_exists(key), "the new owner's close removes it");

    /* After a takeover the previous owner's close only detaches. */
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL));
    OK(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL));
    OK(cortex_region_own(b));
    cr_assert(!cortex_region_is_owner(a), "after a takeover the old handle no longer owns it");
    cr_assert(cortex_region_is_owner(b));
    OK(cortex_region_close(a));
    cr_assert(sysv_exists(key), "the old owner must not remove a segment it gave away");
    OK(cortex_region_close(b));
    cr_assert(!sysv_exists(key));
}

Test(region, sysv_private_key)
{
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV_PRIVATE, &raw64, NULL, NULL, NULL));
    cortex_key k = cortex_region_key(a);
    cr_assert_eq(k.kind, CORTEX_KEYKIND_SYSV);
    cr_assert_neq(k.sysv, 0, "key 0 is never used");
    OK(cortex_region_attach(&b, k, &raw64, NULL));
    strcpy(cortex_region_payload(b), "via private key");
    cr_assert_str_eq(cortex_region_payload(a), "via private key");
    OK(cortex_region_close(b));
    OK(cortex_region_close(a));
    cr_assert(!sysv_exists(k.sysv));
    /* Two private keys differ. */
    cortex_region *c = NULL, *d = NULL;
    OK(cortex_region_create(&c, CORTEX_KEY_SYSV_PRIVATE, &raw64, NULL, NULL, NULL));
    OK(cortex_region_create(&d, CORTEX_KEY_SYSV_PRIVATE, &raw64, NULL, NULL, NULL));
    cr_assert_neq(cortex_region_key(c).sysv, cortex_region_key(d).sysv);
    OK(cortex_region_close(c));
    OK(cortex_region_close(d));
}

Test(region, file_policies)
{
    char path[96];
    nct_path(path, "file");
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_FILE(path), &raw64, NULL, NULL, NULL));
    OK(cortex_region_attach(&b, CORTEX_KEY_FILE(path), &raw64, NULL));
    strcpy(cortex_region_payload(a), "file");
    cr_assert_str_eq(cortex_region_payload(b), "file");
    OK(cortex_region_close(b));
    OK(cortex_region_close(a));
    cr_assert_neq(access(path, F_OK), 0, "CORTEX_FILE_REMOVE removes the file");

    cortex_opts keep = {.file_policy = CORTEX_FILE_KEEP};
    OK(cortex_region_create(&a, CORTEX_KEY_FILE(path), &raw64, &keep, NULL, NULL));
    strcpy(cortex_region_payload(a), "kept");
    OK(cortex_region_close(a));
    cr_assert_eq(access(path, F_OK), 0, "CORTEX_FILE_KEEP keeps the file");
    OK(cortex_region_attach(&b, CORTEX_KEY_FILE(path), &raw64, NULL));
    cr_assert_str_eq(cortex_region_payload(b), "kept", "the contents survive");
    /* A later owner follows the creator's policy, whatever its own opts said. */
    OK(cortex_region_own(b));
    OK(cortex_region_close(b));
    cr_assert_eq(access(path, F_OK), 0, "the creator asked to keep it");
    unlink(path);
}

Test(region, memfd_and_fd_keys_and_cloexec)
{
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_MEMFD("nct-memfd"), &raw64, NULL, NULL, NULL));
    int fd = cortex_region_fd(a);
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "every fd the library opens is close-on-exec");
    OK(cortex_region_attach(&b, CORTEX_KEY_FD(fd), &raw64, NULL));
    cr_assert_neq(cortex_region_fd(b), fd, "attach by fd works on its own dup");
    cr_assert(fcntl(cortex_region_fd(b), F_GETFD) & FD_CLOEXEC);
    strcpy(cortex_region_payload(a), "memfd");
    cr_assert_str_eq(cortex_region_payload(b), "memfd");
    /* A peer cannot shrink a memfd segment under us. */
    cr_assert_neq(ftruncate(fd, 0), 0);
    OK(cortex_region_close(b));
    OK(cortex_region_close(a));

    char name[64];
    nct_name(name, "cloexec");
    OK(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, NULL, NULL, NULL));
    cr_assert(fcntl(cortex_region_fd(a), F_GETFD) & FD_CLOEXEC);
    OK(cortex_region_close(a));
}

Test(region, heap)
{
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_HEAP, &raw64, NULL, NULL, NULL));
    memset(cortex_region_payload(a), 0xab, 64);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_HEAP, &raw64, NULL), -EINVAL);
    OK(cortex_region_close(a));
}

Test(region, permissions_applied_at_create)
{
    char name[64];
    nct_name(name, "perm");
    mode_t old = umask(077); /* a strict umask must not narrow what was asked */
    cortex_opts grp = {.perm = CORTEX_PERM_GROUP};
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, &grp, NULL, NULL));
    struct stat st;
    cr_assert_eq(fstat(cortex_region_fd(a), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0660, "mode %o", st.st_mode & 0777);
    OK(cortex_region_close(a));

    int key = nct_sysv_key();
    OK(cortex_region_create(&b, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL));
    struct shmid_ds ds;
    cr_assert_eq(shmctl(shmget(key, 0, 0), IPC_STAT, &ds), 0);
    cr_assert_eq(ds.shm_perm.mode & 0777, 0600, "default is owner only, got %o", ds.shm_perm.mode & 0777);
    OK(cortex_region_close(b));
    umask(old);

    cortex_opts bad = {.perm = 01777};
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, &bad, NULL, NULL), -EINVAL);
}

Test(region, bad_keys_and_names)
{
    cortex_region *a = NULL;
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_SYSV(0), &raw64, NULL, NULL, NULL), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "IPC_PRIVATE"));
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_NAME("noslash"), &raw64, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_NAME("/a/b"), &raw64, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_NAME(NULL), &raw64, NULL, NULL, NULL), -EINVAL);
    char longname[CORTEX_NAME_MAX + 3];
    longname[0] = '/';
    memset(longname + 1, 'n', CORTEX_NAME_MAX + 1);
    longname[CORTEX_NAME_MAX + 2] = '\0';
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_NAME(longname), &raw64, NULL, NULL, NULL), -ENAMETOOLONG);
    cr_assert(strstr(cortex_last_error()->message, "longer than this platform allows"));
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_FD(3), &raw64, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(cortex_region_attach(&a, CORTEX_KEY_FD(-1), &raw64, NULL), -EBADF);
    cr_assert_eq(cortex_region_attach(&a, CORTEX_KEY_FD(1000000), &raw64, NULL), -EBADF);
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    cr_assert_eq(cortex_region_attach(&a, CORTEX_KEY_FD(pipefd[0]), &raw64, NULL), -ENODEV);
    close(pipefd[0]);
    close(pipefd[1]);
    cr_assert_eq(cortex_region_create(NULL, CORTEX_KEY_HEAP, &raw64, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_HEAP, NULL, NULL, NULL, NULL), -EINVAL);
    cortex_layout zero = {.kind = CORTEX_KIND_RAW, .payload_size = 0};
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_HEAP, &zero, NULL, NULL, NULL), -EINVAL);
    cortex_layout align = {.kind = CORTEX_KIND_RAW, .payload_size = 8, .payload_align = 48};
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_HEAP, &align, NULL, NULL, NULL), -EINVAL);
    cortex_layout kind = {.kind = 99, .payload_size = 8};
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_HEAP, &kind, NULL, NULL, NULL), -EINVAL);
    cr_assert_null(a, "ret is written only on success");
}

Test(region, no_space_is_reported_at_create)
{
    /* Far more than /dev/shm holds: -ENOSPC now, not SIGBUS later, and nothing left. */
    char name[64];
    nct_name(name, "nospc");
    cortex_layout huge = {.kind = CORTEX_KIND_RAW, .payload_size = UINT64_C(1) << 39};
    cortex_region *a = NULL;
    int rc = cortex_region_create(&a, CORTEX_KEY_NAME(name), &huge, NULL, NULL, NULL);
    cr_assert(rc == -ENOSPC || rc == -EFBIG, "rc %d: %s", rc, cortex_last_error()->message);
    cr_assert(!cortex_last_error()->dirty);
    cr_assert(!name_exists(name), "a failed create removes what it made");
}

Test(region, mismatches_are_eproto)
{
    int key = nct_sysv_key();
    cortex_layout cell = {.kind = CORTEX_KIND_CELL, .payload_size = 64, .elem_size = 8, .elem_align = 8,
                          .type_name = "double"};
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &cell, NULL, NULL, NULL));
    cortex_layout want_ring = {.kind = CORTEX_KIND_RING};
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &want_ring, NULL), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "holds a cell of 'double'"), "%s",
              cortex_last_error()->message);
    cortex_layout want_float = {.kind = CORTEX_KIND_CELL, .elem_size = 4, .elem_align = 4, .type_name = "float"};
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &want_float, NULL), -EPROTO);
    const char *m = cortex_last_error()->message;
    cr_assert(strstr(m, "'double' (size 8") && strstr(m, "'float' (size 4"), "message names both: %s", m);
    cortex_layout want_size = {.kind = CORTEX_KIND_CELL, .payload_size = 128};
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &want_size, NULL), -EPROTO);
    cortex_layout want_lock = {.kind = CORTEX_KIND_CELL, .lock_id = 7};
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &want_lock, NULL), -EPROTO);
    OK(cortex_region_close(a));
}

Test(region, foreign_and_short_segments)
{
    /* A SysV segment with someone else's bytes. */
    int key = nct_sysv_key();
    int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    cr_assert_geq(id, 0);
    char *p = shmat(id, NULL, 0);
    memset(p, 0x5a, 4096);
    cortex_region *b = NULL;
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "not a neocortex segment"), "%s", cortex_last_error()->message);
    shmdt(p);
    shmctl(id, IPC_RMID, NULL);

    /* A POSIX object smaller than a header. */
    char name[64];
    nct_name(name, "short");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 100), 0);
    cortex_opts quick = {.attach_timeout_ns = 50 * 1000 * 1000};
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_NAME(name), &raw64, &quick), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "smaller than"), "%s", cortex_last_error()->message);
    /* An empty one never became anything: timed out. */
    cr_assert_eq(ftruncate(fd, 0), 0);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_NAME(name), &raw64, &quick), -ETIMEDOUT);
    close(fd);
    shm_unlink(name);
}

static int slow_init(cortex_region *r, void *payload, void *ctx)
{
    usleep(200 * 1000);
    strcpy(payload, ctx);
    return 0;
}

static int failing_init(cortex_region *r, void *payload, void *ctx) { return -EIO; }

static int dying_init(cortex_region *r, void *payload, void *ctx) { _exit(0); }

Test(region, attach_waits_for_ready)
{
    char name[64];
    nct_name(name, "slow");
    pid_t pid = fork();
    if (pid == 0) {
        cortex_region *a = NULL;
        if (cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, NULL, slow_init, "ready") < 0)
            _exit(1);
        usleep(500 * 1000);
        _exit(cortex_region_close(a) == 0 ? 0 : 2);
    }
    cortex_region *b = NULL;
    int rc = -ENOENT;
    for (int i = 0; i < 1000 && rc == -ENOENT; i++) { /* until the child has created the name */
        rc = cortex_region_attach(&b, CORTEX_KEY_NAME(name), &raw64, NULL);
        if (rc == -ENOENT)
            usleep(1000);
    }
    cr_assert_eq(rc, 0, "%s", cortex_last_error()->message);
    cr_assert_str_eq(cortex_region_payload(b), "ready", "attach returned only after READY");
    OK(cortex_region_close(b));
    cr_assert_eq(nct_wait(pid, 10000), 0);
}

Test(region, creator_dies_before_ready)
{
    int key = nct_sysv_key();
    pid_t pid = fork();
    if (pid == 0) {
        /* Someone makes a bare segment under the key and never fills it. */
        int id = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600);
        (void)id;
        _exit(0);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);
    cortex_region *b = NULL;
    cortex_opts quick = {.attach_timeout_ns = 100 * 1000 * 1000};
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, &quick), -ETIMEDOUT);

    int key2 = nct_sysv_key();
    pid = fork();
    if (pid == 0) {
        cortex_region *a = NULL;
        /* init never returns: the process dies while the state is INIT. */
        int rc = cortex_region_create(&a, CORTEX_KEY_SYSV(key2), &raw64, NULL, dying_init, NULL);
        _exit(rc == 0 ? 3 : 4);
    }
    nct_wait(pid, 10000);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key2), &raw64, &quick), -ETIMEDOUT);
    cr_assert(strstr(cortex_last_error()->message, "died"), "%s", cortex_last_error()->message);
}

Test(region, failed_init_removes_everything)
{
    char name[64];
    nct_name(name, "initfail");
    cortex_region *a = NULL;
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, NULL, failing_init, NULL), -EIO);
    cr_assert(!cortex_last_error()->dirty);
    cr_assert(!name_exists(name));
    int key = nct_sysv_key();
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, NULL, failing_init, NULL), -EIO);
    cr_assert(!sysv_exists(key));
}

Test(region, close_is_null_safe)
{
    cr_assert_eq(cortex_region_close(NULL), 0);
    cr_assert_eq(cortex_region_leak(NULL), -EINVAL);
    cr_assert_eq(cortex_region_own(NULL), -EINVAL);
    cr_assert_null(cortex_region_payload(NULL));
    cr_assert_eq(cortex_region_fd(NULL), -1);
}

/* ---- trust: what attach accepts from a segment it did not make ---------- */

enum { KEY_SYSV, KEY_NAME, KEY_FILE, KEY_KINDS };
static const char *const key_kind_names[KEY_KINDS] = {"sysv", "name", "file"};

/* A fresh tracked key of kind @i; @buf (96 bytes) holds a name or path. */
static cortex_key fresh_key(int i, char *buf, const char *tag)
{
    switch (i) {
    case KEY_SYSV: return CORTEX_KEY_SYSV(nct_sysv_key());
    case KEY_NAME: return CORTEX_KEY_NAME(nct_name(buf, tag));
    default: return CORTEX_KEY_FILE(nct_path(buf, tag));
    }
}

static bool mentions(const char *needle) { return strstr(cortex_last_error()->message, needle) != NULL; }

Test(region, own_uid_with_wider_mode_is_refused)
{
    for (int i = 0; i < KEY_KINDS; i++) {
        char buf[96];
        cortex_key key = fresh_key(i, buf, "wide");
        cortex_opts everybody = {.perm = CORTEX_PERM_EVERYBODY};
        cortex_region *a = NULL, *b = NULL;
        OK(cortex_region_create(&a, key, &raw64, &everybody, NULL, NULL));
        cr_assert_eq(cortex_region_attach(&b, key, &raw64, NULL), -EACCES, "%s: default attach of a 0666 segment",
                     key_kind_names[i]);
        cr_assert(mentions("mode 0666") && mentions("0600"), "%s: %s", key_kind_names[i],
                  cortex_last_error()->message);
        cr_assert(!cortex_last_error()->dirty);
        cortex_opts ooc = {.mode = CORTEX_OPEN_OR_CREATE};
        cr_assert_eq(cortex_region_create(&b, key, &raw64, &ooc, NULL, NULL), -EACCES, "%s: open-or-create",
                     key_kind_names[i]);
        cortex_opts group = {.perm = CORTEX_PERM_GROUP};
        cr_assert_eq(cortex_region_attach(&b, key, &raw64, &group), -EACCES, "%s: 0660 asked, 0666 found",
                     key_kind_names[i]);
        OK(cortex_region_attach(&b, key, &raw64, &everybody));
        OK(cortex_region_close(b));
        /* Narrower than asked is fine. */
        OK(cortex_region_close(a));
        OK(cortex_region_create(&a, key, &raw64, NULL, NULL, NULL));
        OK(cortex_region_attach(&b, key, &raw64, &everybody));
        OK(cortex_region_close(b));
        OK(cortex_region_close(a));
    }
}

Test(region, file_key_symlink_and_hard_link_are_refused)
{
    char path[96], link_path[96], hard[96];
    nct_path(path, "target");
    nct_path(link_path, "symlink");
    nct_path(hard, "hardlink");
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_FILE(path), &raw64, NULL, NULL, NULL));
    cr_assert_eq(symlink(path, link_path), 0);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_FILE(link_path), &raw64, NULL), -EACCES);
    cr_assert(mentions("symbolic link"), "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_last_error()->sys_errno, ELOOP);
    cortex_opts ooc = {.mode = CORTEX_OPEN_OR_CREATE};
    cr_assert_eq(cortex_region_create(&b, CORTEX_KEY_FILE(link_path), &raw64, &ooc, NULL, NULL), -EACCES);
    cr_assert_eq(cortex_region_create(&b, CORTEX_KEY_FILE(link_path), &raw64, NULL, NULL, NULL), -EEXIST,
                 "create never follows a link to make its file");
    cr_assert_eq(link(path, hard), 0);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_FILE(hard), &raw64, NULL), -EACCES);
    cr_assert(mentions("2 hard links"), "%s", cortex_last_error()->message);
    cr_assert_eq(unlink(hard), 0);
    OK(cortex_region_attach(&b, CORTEX_KEY_FILE(path), &raw64, NULL));
    OK(cortex_region_close(b));
    OK(cortex_region_close(a));
    cr_assert_eq(unlink(link_path), 0);
}

/* Under ASan (NCT_ASAN, nctest.h) a fatal SIGBUS is reported by its handler, which exits 1. */

/* A copy of @a's bytes in a new memfd that nobody sealed. */
static int unsealed_copy(cortex_region *a)
{
    int fd = memfd_create("nct-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    cr_assert_geq(fd, 0);
    const cortex_seg_header *h = cortex_region_header(a);
    cr_assert_eq(ftruncate(fd, (off_t)h->segment_size), 0);
    cr_assert_eq(pwrite(fd, h, (size_t)h->segment_size, 0), (ssize_t)h->segment_size);
    return fd;
}

Test(region, unsealed_fd_is_refused_unless_trusted)
{
    cortex_region *a = NULL, *b = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_MEMFD("nct-sealed"), &raw64, NULL, NULL, NULL));
    strcpy(cortex_region_payload(a), "copy");
    int fd = unsealed_copy(a);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_FD(fd), &raw64, NULL), -EACCES);
    cr_assert(mentions("F_SEAL_SHRINK"), "%s", cortex_last_error()->message);
    cortex_opts trusting = {.trust = CORTEX_TRUST_UNSEALED_FD};
    OK(cortex_region_attach(&b, CORTEX_KEY_FD(fd), &raw64, &trusting));
    cr_assert_str_eq(cortex_region_payload(b), "copy");
    OK(cortex_region_close(b));

    /* What the option means: a sender that shrinks it kills the attacher when it touches the lost page. */
    pid_t pid = fork();
    if (pid == 0) {
        cortex_region *c = NULL;
        if (cortex_region_attach(&c, CORTEX_KEY_FD(fd), &raw64, &trusting) < 0)
            _exit(1);
        if (ftruncate(fd, 0) != 0)
            _exit(2);
        volatile char *p = cortex_region_payload(c);
        p[0] = 'x';
        _exit(3);
    }
    cr_assert_eq(nct_wait(pid, 10000), NCT_ASAN ? 1 : 128 + SIGBUS, "the documented hazard of CORTEX_TRUST_UNSEALED_FD");

    /* Sealed by its sender: accepted by default. */
    int fd2 = unsealed_copy(a);
    cr_assert_eq(fcntl(fd2, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    OK(cortex_region_attach(&b, CORTEX_KEY_FD(fd2), &raw64, NULL));
    OK(cortex_region_close(b));
    /* Not sealable at all (a POSIX shm fd): refused the same way. */
    char name[64];
    cortex_region *n = NULL;
    OK(cortex_region_create(&n, CORTEX_KEY_NAME(nct_name(name, "fdname")), &raw64, NULL, NULL, NULL));
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_FD(cortex_region_fd(n)), &raw64, NULL), -EACCES);
    OK(cortex_region_close(n));
    close(fd);
    close(fd2);
    OK(cortex_region_close(a));
}

Test(region, failed_create_with_file_keep_removes_its_file)
{
    char path[96];
    nct_path(path, "keepfail");
    cortex_opts keep = {.file_policy = CORTEX_FILE_KEEP};
    cortex_region *a = NULL;
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_FILE(path), &raw64, &keep, failing_init, NULL), -EIO);
    cr_assert(!cortex_last_error()->dirty, "%s", cortex_last_error()->message);
    cr_assert_neq(access(path, F_OK), 0, "the file made with O_EXCL is removed, KEEP or not");
    /* A file that existed before a failed open-or-create is not removed. */
    OK(cortex_region_create(&a, CORTEX_KEY_FILE(path), &raw64, &keep, NULL, NULL));
    OK(cortex_region_close(a));
    cr_assert_eq(access(path, F_OK), 0);
    cr_assert_eq(unlink(path), 0);
}

Test(region, sizes_beyond_the_address_space_are_efbig)
{
    /* What a 32-bit process checks: 4 GiB + 4 KiB does not fit a 32-bit size_t. */
    uint64_t big = (UINT64_C(4) << 30) + 4096;
    cr_assert_eq(cortex__check_map_size(big, UINT32_MAX, "forged segment"), -EFBIG);
    cr_assert(mentions("4294971392 bytes"), "%s", cortex_last_error()->message);
    cr_assert_eq(cortex__check_map_size(UINT32_MAX, UINT32_MAX, "x"), 0);
    cr_assert_eq(cortex__check_map_size(big, SIZE_MAX, "x"), SIZE_MAX >= big ? 0 : -EFBIG);
}

static int killed_init(cortex_region *r, void *payload, void *ctx)
{
    raise(SIGKILL);
    return 0;
}

Test(region, open_or_create_takes_over_from_a_creator_killed_before_ready)
{
    for (int i = 0; i < KEY_KINDS; i++) {
        char buf[96];
        cortex_key key = fresh_key(i, buf, "killed");
        pid_t pid = fork();
        if (pid == 0) {
            cortex_region *a = NULL;
            _exit(cortex_region_create(&a, key, &raw64, NULL, killed_init, NULL) == 0 ? 3 : 4);
        }
        cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
        cortex_region *b = NULL;
        cortex_opts quick = {.attach_timeout_ns = 50 * 1000 * 1000};
        cr_assert_eq(cortex_region_attach(&b, key, &raw64, &quick), -ETIMEDOUT, "%s: attach-only reports it",
                     key_kind_names[i]);
        cr_assert(mentions("died"), "%s", cortex_last_error()->message);
        cortex_opts ooc = {.mode = CORTEX_OPEN_OR_CREATE};
        OK(cortex_region_create(&b, key, &raw64, &ooc, NULL, NULL));
        cr_assert(cortex_region_created(b), "%s: removed and made anew", key_kind_names[i]);
        cr_assert(cortex_region_is_owner(b));
        strcpy(cortex_region_payload(b), "anew");
        cortex_region *c = NULL;
        OK(cortex_region_attach(&c, key, &raw64, NULL));
        cr_assert_str_eq(cortex_region_payload(c), "anew");
        OK(cortex_region_close(c));
        OK(cortex_region_close(b));
    }
}
