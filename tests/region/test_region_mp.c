/* SPDX-License-Identifier: MIT */
/* Segments across real processes: fork, exec, another uid. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(region_mp, .fini = nct_cleanup, .timeout = 60);

static const cortex_layout raw64 = {.kind = CORTEX_KIND_RAW, .payload_size = 64};

#define OK(expr) cr_assert_eq((expr), 0, "%s: %s", #expr, cortex_last_error()->message)

/* Runs region_peer with the given key arguments; returns its exit status. */
static int run_peer_trusting(const char *kind, const char *arg, const char *op, const char *text, int keep_fd,
                             const char *as_user, const char *trust)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (keep_fd >= 0) {
            /* Hand this one fd to the exec'd child: everything the library opens is close-on-exec. */
            if (dup2(keep_fd, 100) < 0)
                _exit(90);
        }
        const char *peer = nct_helper_path("region_peer");
        if (as_user) {
            char user[64];
            snprintf(user, sizeof user, "--reuid=%s", as_user);
            execlp("setpriv", "setpriv", user, "--regid=nogroup", "--clear-groups", peer, kind, arg, op, text,
                   trust, (char *)NULL);
        } else {
            execl(peer, peer, kind, arg, op, text, trust, (char *)NULL);
        }
        _exit(91);
    }
    return nct_wait(pid, 20000);
}

/* The same, trusting nothing beyond the defaults. */
static int run_peer(const char *kind, const char *arg, const char *op, const char *text, int keep_fd,
                    const char *as_user)
{
    return run_peer_trusting(kind, arg, op, text, keep_fd, as_user, NULL);
}

/* Creates with @key, then a forked child and an exec'd child read and write it. */
static void across_processes(cortex_key key, const char *kind, const char *arg, bool by_fd)
{
    cortex_region *a = NULL;
    OK(cortex_region_create(&a, key, &raw64, NULL, NULL, NULL));
    char *p = cortex_region_payload(a);
    strcpy(p, "from-parent");
    cortex_key attach_key = cortex_region_key(a);

    pid_t pid = fork();
    if (pid == 0) {
        cortex_region *b = NULL;
        if (cortex_region_attach(&b, attach_key, &raw64, NULL) < 0)
            _exit(1);
        char *q = cortex_region_payload(b);
        if (strcmp(q, "from-parent") != 0)
            _exit(2);
        strcpy(q, "from-fork");
        _exit(cortex_region_close(b) == 0 ? 0 : 3);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0, "forked child");
    cr_assert_str_eq(p, "from-fork");

    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "100");
    int status = run_peer(kind, by_fd ? fdarg : arg, "read", "from-fork", by_fd ? cortex_region_fd(a) : -1, NULL);
    cr_assert_eq(status, 0, "exec'd reader exited %d", status);
    status = run_peer(kind, by_fd ? fdarg : arg, "write", "from-exec", by_fd ? cortex_region_fd(a) : -1, NULL);
    cr_assert_eq(status, 0, "exec'd writer exited %d", status);
    cr_assert_str_eq(p, "from-exec");
    OK(cortex_region_close(a));
}

Test(region_mp, sysv)
{
    int key = nct_sysv_key();
    char arg[32];
    snprintf(arg, sizeof arg, "%d", key);
    across_processes(CORTEX_KEY_SYSV(key), "sysv", arg, false);
}

Test(region_mp, sysv_private)
{
    cortex_region *a = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV_PRIVATE, &raw64, NULL, NULL, NULL));
    char arg[32];
    snprintf(arg, sizeof arg, "%d", cortex_region_key(a).sysv);
    strcpy(cortex_region_payload(a), "private");
    cr_assert_eq(run_peer("sysv", arg, "read", "private", -1, NULL), 0);
    OK(cortex_region_close(a));
}

Test(region_mp, posix_name)
{
    char name[64];
    nct_name(name, "mp");
    across_processes(CORTEX_KEY_NAME(name), "name", name, false);
}

Test(region_mp, file)
{
    char path[96];
    nct_path(path, "mp");
    across_processes(CORTEX_KEY_FILE(path), "file", path, false);
    cr_assert_neq(access(path, F_OK), 0);
}

Test(region_mp, memfd_by_inherited_fd)
{
    across_processes(CORTEX_KEY_MEMFD("nct-mp"), "fd", "100", true);
}

Test(region_mp, exec_child_without_the_fd_cannot_see_it)
{
    cortex_region *a = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_MEMFD("nct-noinherit"), &raw64, NULL, NULL, NULL));
    char arg[16];
    snprintf(arg, sizeof arg, "%d", cortex_region_fd(a));
    /* The fd number means nothing in an exec'd child that was not handed it. */
    cr_assert_eq(run_peer("fd", arg, "read", "", -1, NULL), 10);
    OK(cortex_region_close(a));
}

Test(region_mp, other_uid_is_refused_owner_only)
{
    if (geteuid() != 0 || system("command -v setpriv >/dev/null 2>&1") != 0) {
        cr_skip_test("needs root and setpriv to run a child as nobody");
    }
    int key = nct_sysv_key();
    char arg[32];
    snprintf(arg, sizeof arg, "%d", key);
    cortex_region *a = NULL;
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL));
    strcpy(cortex_region_payload(a), "secret");
    cr_assert_eq(run_peer("sysv", arg, "read", "secret", -1, "nobody"), 10, "owner-only refuses another uid");
    OK(cortex_region_close(a));

    char name[64];
    nct_name(name, "uid");
    OK(cortex_region_create(&a, CORTEX_KEY_NAME(name), &raw64, NULL, NULL, NULL));
    cr_assert_eq(run_peer("name", name, "read", "", -1, "nobody"), 10);
    OK(cortex_region_close(a));

    cortex_opts all = {.perm = CORTEX_PERM_EVERYBODY};
    OK(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, &all, NULL, NULL));
    strcpy(cortex_region_payload(a), "public");
    cr_assert_eq(run_peer("sysv", arg, "read", "public", -1, "nobody"), 10,
                 "0666 alone: the other uid's default attach refuses a segment it does not own");
    cr_assert_eq(run_peer_trusting("sysv", arg, "read", "public", -1, "nobody", "any"), 0,
                 "0666 and a peer that accepts other owners");
    cr_assert_eq(run_peer_trusting("sysv", arg, "read", "public", -1, "nobody", "uid:0"), 0,
                 "0666 and a peer that accepts uid 0");
    OK(cortex_region_close(a));
}

/* Another uid plants a valid 0666 segment under @key first; the victim's default calls refuse it. */
static void squatted(const char *kind, const char *arg, cortex_key key, const char *tag)
{
    struct passwd *nobody = getpwnam("nobody");
    cr_assert_not_null(nobody);
    char owner[32];
    snprintf(owner, sizeof owner, "uid %u", (unsigned)nobody->pw_uid);
    cr_assert_eq(run_peer(kind, arg, "plant", tag, -1, "nobody"), 0, "%s: the other uid plants it", kind);

    cortex_region *a = NULL;
    cortex_opts ooc = {.mode = CORTEX_OPEN_OR_CREATE};
    cr_assert_eq(cortex_region_create(&a, key, &raw64, &ooc, NULL, NULL), -EACCES, "%s: open-or-create", kind);
    const char *msg = cortex_last_error()->message;
    cr_assert(strstr(msg, owner) && strstr(msg, "0666"), "%s: names owner and mode: %s", kind, msg);
    cr_assert_eq(cortex_region_attach(&a, key, &raw64, NULL), -EACCES, "%s: attach", kind);
    msg = cortex_last_error()->message;
    cr_assert(strstr(msg, owner) && strstr(msg, "0666"), "%s: names owner and mode: %s", kind, msg);
    cortex_opts wide = {.perm = CORTEX_PERM_EVERYBODY};
    cr_assert_eq(cortex_region_attach(&a, key, &raw64, &wide), -EACCES, "%s: accepting 0666 is not accepting %s",
                 kind, owner);
    cortex_opts stranger = {.perm = CORTEX_PERM_EVERYBODY, .trust = CORTEX_TRUST_OTHER_UID,
                            .trusted_uid = nobody->pw_uid + 1};
    cr_assert_eq(cortex_region_attach(&a, key, &raw64, &stranger), -EACCES, "%s: another trusted uid", kind);

    /* The opt-ins: that uid, or any. */
    cortex_opts that_uid = stranger;
    that_uid.trusted_uid = nobody->pw_uid;
    OK(cortex_region_attach(&a, key, &raw64, &that_uid));
    cr_assert_str_eq(cortex_region_payload(a), tag);
    OK(cortex_region_close(a));
    cortex_opts any = {.mode = CORTEX_OPEN_OR_CREATE, .perm = CORTEX_PERM_EVERYBODY, .trust = CORTEX_TRUST_ANY_UID};
    OK(cortex_region_create(&a, key, &raw64, &any, NULL, NULL));
    cr_assert(!cortex_region_created(a));
    cr_assert_str_eq(cortex_region_payload(a), tag);
    OK(cortex_region_own(a));
    OK(cortex_region_close(a));
}

Test(region_mp, another_uid_cannot_plant_a_segment)
{
    if (geteuid() != 0 || system("command -v setpriv >/dev/null 2>&1") != 0) {
        cr_skip_test("needs root and setpriv to run a child as nobody");
    }
    char arg[96];
    int key = nct_sysv_key();
    snprintf(arg, sizeof arg, "%d", key);
    squatted("sysv", arg, CORTEX_KEY_SYSV(key), "planted-sysv");
    nct_name(arg, "squat");
    squatted("name", arg, CORTEX_KEY_NAME(arg), "planted-name");
    nct_path(arg, "squat");
    squatted("file", arg, CORTEX_KEY_FILE(arg), "planted-file");
}
