/* SPDX-License-Identifier: MIT */
/*
 * lib/region/region.c: segments by SysV key, POSIX name, fd, file, memfd or
 * heap; the READY handshake; ownership (close destroys, leak, own).
 */
#define _GNU_SOURCE
#include "internal.h"
#include "os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest segment accepted (a sanity bound against overflow, 1 TiB). */
#define REGION_MAX_SIZE (UINT64_C(1) << 40)

struct cortex_region {
    cortex_key_kind kind;
    void *base;        /* start of the mapping */
    uint64_t mapped;   /* bytes mapped */
    uint8_t *payload;  /* base + payload_offset */
    uint64_t payload_size;
    int fd;            /* -1 for SysV and heap */
    int shmid;         /* SysV only */
    int32_t sysv_key;  /* SysV only */
    char *str;         /* copy of the name or path */
    uint32_t token;    /* identifies this handle as the owner in the header */
    pid_t claim_pid;   /* the process that claimed it (a forked child inherits the token, not ownership) */
    bool owner;
    bool created;
    cortex_file_policy policy;
};

static const char *describe(cortex_key key, char *buf)
{
    return cortex_key_describe(key, buf, 256);
}

static int64_t attach_timeout(const cortex_opts *o)
{
    if (!o || o->attach_timeout_ns == 0)
        return CORTEX_DEFAULT_ATTACH_TIMEOUT_NS;
    return o->attach_timeout_ns;
}

static long page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? p : 4096;
}

static int check_name(const char *name, char *what)
{
    if (!name || name[0] != '/')
        return cortex__fail(EINVAL, "%s: a POSIX shm name must start with '/'", what);
    size_t len = strlen(name + 1);
    if (len == 0)
        return cortex__fail(EINVAL, "%s: empty POSIX shm name", what);
    if (strchr(name + 1, '/'))
        return cortex__fail(EINVAL, "%s: a POSIX shm name may not contain '/' after the first", what);
    if (len > CORTEX_NAME_MAX)
        return cortex__fail(ENAMETOOLONG, "POSIX shm name of %zu bytes is longer than this platform allows (%d)",
                            len, CORTEX_NAME_MAX);
    return 0;
}

/* A POSIX name through lib/os (shm_open), a file with open(): fd, or -1 with errno set. */
static int open_named(bool is_name, const char *str, int flags, unsigned mode)
{
    if (!is_name)
        return open(str, flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    int fd = cortex__os_shm_open(str, flags | O_NOFOLLOW, mode);
    if (fd < 0) {
        errno = -fd;
        return -1;
    }
    return fd;
}

static cortex_region *region_new(cortex_key key)
{
    cortex_region *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = key.kind;
    r->fd = -1;
    r->shmid = -1;
    r->base = NULL;
    if ((key.kind == CORTEX_KEYKIND_NAME || key.kind == CORTEX_KEYKIND_FILE || key.kind == CORTEX_KEYKIND_MEMFD) &&
        key.str) {
        r->str = strdup(key.str);
        if (!r->str) {
            free(r);
            return NULL;
        }
    }
    return r;
}

static void unmap(cortex_region *r)
{
    if (r->base) {
        if (r->kind == CORTEX_KEYKIND_SYSV || r->kind == CORTEX_KEYKIND_SYSV_PRIVATE)
            shmdt(r->base);
        else if (r->kind == CORTEX_KEYKIND_HEAP)
            free(r->base);
        else
            munmap(r->base, (size_t)r->mapped);
        r->base = NULL;
    }
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

static void region_free(cortex_region *r)
{
    if (!r)
        return;
    unmap(r);
    free(r->str);
    free(r);
}

/*
 * Removes the kernel object (not the mapping).  On failure records a dirty
 * error naming what is left and returns it.
 */
static int destroy_object(cortex_region *r)
{
    char what[CORTEX_ERROR_LEFTOVER_MAX];
    int rc = 0;
    switch (r->kind) {
    case CORTEX_KEYKIND_SYSV:
    case CORTEX_KEYKIND_SYSV_PRIVATE:
        if (r->shmid >= 0 && shmctl(r->shmid, IPC_RMID, NULL) != 0 && errno != EINVAL && errno != EIDRM) {
            rc = cortex__fail_sys(errno, "shmctl", errno, "could not remove SysV segment key 0x%08x",
                                  (unsigned)r->sysv_key);
            snprintf(what, sizeof what, "SysV shm key 0x%08x id %d", (unsigned)r->sysv_key, r->shmid);
            cortex__mark_dirty(what);
        }
        break;
    case CORTEX_KEYKIND_NAME:
        if (r->str && shm_unlink(r->str) != 0 && errno != ENOENT) {
            rc = cortex__fail_sys(errno, "shm_unlink", errno, "could not remove POSIX shm %s", r->str);
            snprintf(what, sizeof what, "POSIX shm %s", r->str);
            cortex__mark_dirty(what);
        }
        break;
    case CORTEX_KEYKIND_FILE:
        if (r->policy == CORTEX_FILE_REMOVE && r->str && unlink(r->str) != 0 && errno != ENOENT) {
            rc = cortex__fail_sys(errno, "unlink", errno, "could not remove file %s", r->str);
            snprintf(what, sizeof what, "file %s", r->str);
            cortex__mark_dirty(what);
        }
        break;
    default: /* memfd, fd, heap: nothing named in the system */
        break;
    }
    return rc;
}

/* Reserve the space now so a full /dev/shm is -ENOSPC here, not a SIGBUS later (lib/os: where it can). */
static int size_fd(int fd, uint64_t size, const char *what)
{
    const char *call = "ftruncate";
    int rc = cortex__os_size_fd(fd, size, &call);
    if (rc < 0)
        return cortex__fail_sys(-rc, call, -rc, "could not size %s to %llu bytes", what, (unsigned long long)size);
    return 0;
}

static int map_fd(cortex_region *r, uint64_t size, const char *what)
{
    int rc = cortex__check_map_size(size, SIZE_MAX, what);
    if (rc < 0)
        return rc;
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (p == MAP_FAILED)
        return cortex__fail_sys(errno, "mmap", errno, "could not map %llu bytes of %s", (unsigned long long)size,
                                what);
    r->base = p;
    r->mapped = size;
    return 0;
}

static int map_sysv(cortex_region *r, const char *what)
{
    struct shmid_ds ds;
    if (shmctl(r->shmid, IPC_STAT, &ds) != 0)
        return cortex__fail_sys(errno, "shmctl", errno, "could not stat %s", what);
    void *p = shmat(r->shmid, NULL, 0);
    if (p == (void *)-1)
        return cortex__fail_sys(errno, "shmat", errno, "could not attach %s", what);
    r->base = p;
    r->mapped = ds.shm_segsz;
    return 0;
}

/* ---- create -------------------------------------------------------------- */

enum { OPENED_NEW = 0, OPENED_EXISTING = 1 };

/*
 * Makes (or finds) the kernel object of @size bytes and maps it.  Returns
 * OPENED_NEW, OPENED_EXISTING (mode allows attach; nothing mapped) or -errno.
 */
static int open_new(cortex_region *r, cortex_key key, uint64_t size, const cortex_opts *opts, const char *what)
{
    cortex_create_mode mode = opts ? opts->mode : CORTEX_CREATE_EXCL;
    unsigned perm = cortex__effective_perm(opts);
    int rc;

    switch (key.kind) {
    case CORTEX_KEYKIND_SYSV:
    case CORTEX_KEYKIND_SYSV_PRIVATE: {
        int tries = key.kind == CORTEX_KEYKIND_SYSV_PRIVATE ? 64 : 1;
        for (int i = 0; i < tries; i++) {
            int32_t k = key.sysv;
            if (key.kind == CORTEX_KEYKIND_SYSV_PRIVATE) {
                uint32_t rnd = 0;
                if ((rc = cortex__random(&rnd, sizeof rnd)) < 0)
                    return cortex__fail_sys(-rc, "getrandom", -rc, "could not pick a private SysV key");
                k = (int32_t)(rnd & 0x7fffffffu);
                if (k == 0 || k == (int32_t)IPC_PRIVATE)
                    continue;
            }
            int id = shmget((key_t)k, (size_t)size, IPC_CREAT | IPC_EXCL | (int)perm);
            if (id >= 0) {
                r->shmid = id;
                r->sysv_key = k;
                break;
            }
            if (errno == EEXIST && key.kind == CORTEX_KEYKIND_SYSV_PRIVATE)
                continue;
            if (errno == EEXIST) {
                if (mode == CORTEX_CREATE_EXCL)
                    return cortex__fail_sys(EEXIST, "shmget", errno,
                                            "%s exists; create-exclusive leaves it untouched", what);
                return OPENED_EXISTING;
            }
            if (errno == EINVAL)
                return cortex__fail_sys(EINVAL, "shmget", errno,
                                        "%s: could not create %llu bytes (over SHMMAX, or an existing segment of another size)",
                                        what, (unsigned long long)size);
            return cortex__fail_sys(errno, "shmget", errno, "could not create %s", what);
        }
        if (r->shmid < 0)
            return cortex__fail(EEXIST, "no free private SysV key found after 64 tries");
        if ((rc = map_sysv(r, what)) < 0)
            return rc;
        return OPENED_NEW;
    }
    case CORTEX_KEYKIND_NAME:
    case CORTEX_KEYKIND_FILE: {
        bool is_name = key.kind == CORTEX_KEYKIND_NAME;
        int fd = open_named(is_name, key.str, O_RDWR | O_CREAT | O_EXCL, perm);
        if (fd < 0) {
            if (errno == EEXIST) {
                if (mode == CORTEX_CREATE_EXCL)
                    return cortex__fail_sys(EEXIST, is_name ? "shm_open" : "open", errno,
                                            "%s exists; create-exclusive leaves it untouched", what);
                return OPENED_EXISTING;
            }
            return cortex__fail_sys(errno, is_name ? "shm_open" : "open", errno, "could not create %s", what);
        }
        r->fd = fd;
        /* The umask may have narrowed the mode; restore exactly what was asked (never wider). */
        if ((rc = cortex__os_set_mode(fd, perm)) < 0)
            return cortex__fail_sys(-rc, "fchmod", -rc, "could not set mode %o on %s", perm, what);
        if ((rc = size_fd(fd, size, what)) < 0)
            return rc;
        if ((rc = map_fd(r, size, what)) < 0)
            return rc;
        return OPENED_NEW;
    }
    case CORTEX_KEYKIND_MEMFD: {
        bool sealed;
        const char *call = "memfd_create";
        /* lib/os: a sealed memfd, or where there is none an unlinked shm object that cannot be sealed. */
        int fd = cortex__os_memfd(key.str, size, &sealed, &call);
        if (fd < 0)
            return cortex__fail_sys(-fd, call, -fd, "could not create %s", what);
        r->fd = fd;
        if ((rc = map_fd(r, size, what)) < 0)
            return rc;
        return OPENED_NEW;
    }
    case CORTEX_KEYKIND_HEAP: {
        void *p = NULL;
        if (posix_memalign(&p, (size_t)page_size(), (size_t)size) != 0 || !p)
            return cortex__fail(ENOMEM, "could not allocate %llu bytes of heap memory", (unsigned long long)size);
        memset(p, 0, (size_t)size);
        r->base = p;
        r->mapped = size;
        return OPENED_NEW;
    }
    case CORTEX_KEYKIND_FD:
        return cortex__fail(EINVAL, "%s: an fd key names an existing segment; use attach", what);
    default:
        return cortex__fail(EINVAL, "invalid key (kind %d)", (int)key.kind);
    }
}

static int check_layout(const cortex_layout *l, uint32_t *align)
{
    if (!l)
        return cortex__fail(EINVAL, "no layout given");
    if (l->kind < CORTEX_KIND_RAW || l->kind > CORTEX_KIND_BROADCAST)
        return cortex__fail(EINVAL, "unknown segment kind %u", l->kind);
    uint32_t a = l->payload_align ? l->payload_align : CORTEX_CACHELINE;
    if (!cortex__is_pow2(a) || a > CORTEX_MAX_ALIGN)
        return cortex__fail(EINVAL, "payload alignment %u is not a power of two <= %u", a, CORTEX_MAX_ALIGN);
    if (a < CORTEX_CACHELINE)
        a = CORTEX_CACHELINE;
    if (l->payload_size == 0 || l->payload_size > REGION_MAX_SIZE)
        return cortex__fail(EINVAL, "payload size %llu is out of range (1 byte to 1 TiB)",
                            (unsigned long long)l->payload_size);
    if (l->elem_align && !cortex__is_pow2(l->elem_align))
        return cortex__fail(EINVAL, "element alignment %u is not a power of two", l->elem_align);
    *align = a;
    return 0;
}

static void fill_header(cortex_seg_header *h, const cortex_layout *l, uint32_t align, uint64_t payload_offset,
                        uint64_t segment_size, cortex_file_policy policy)
{
    memset(h, 0, sizeof *h);
    h->magic = CORTEX_MAGIC;
    h->version = CORTEX_LAYOUT_VERSION;
    h->header_size = CORTEX_HEADER_SIZE;
    h->kind = l->kind;
    h->payload_align = align;
    h->segment_size = segment_size;
    h->payload_offset = payload_offset;
    h->payload_size = l->payload_size;
    h->elem_size = l->elem_size;
    h->elem_align = l->elem_align;
    if (l->type_name) {
        h->type_hash = cortex_type_hash(l->type_name);
        strncpy(h->type_tag, l->type_name, sizeof h->type_tag - 1);
    }
    h->lock_id = l->lock_id;
    h->creator_pid = (int32_t)cortex__self_pid();
    h->creator_start = cortex__self_start();
    h->created_ns = (uint64_t)cortex__realtime_ns();
    h->flags = policy == CORTEX_FILE_KEEP ? CORTEX_HDR_KEEP_FILE : 0;
    h->check = cortex__fnv1a32(h, offsetof(cortex_seg_header, check));
    h->creator_pidns = cortex__self_pidns();
    h->creator_boot = cortex__self_boot();
    h->creator_stamp = cortex__self_stamp();
    h->ident_check = cortex__header_ident_check(h);
    cortex__header_set_abi(h);
}

/*
 * Rings, slabs, pools, channels and broadcast rings keep pids in shared memory, and a pid names a
 * process only within one pid namespace and one boot: a segment made in
 * another is refused, rather than a live peer taken for a dead one (or a
 * dead one for a live one).  Raw segments and cells keep no pids here and
 * may cross namespaces; the futex lock refuses another namespace itself
 * (lib/sync/futex.c).
 */
int cortex__region_check_domain(const cortex_seg_header *h, const char *what)
{
    if (h->kind != CORTEX_KIND_RING && h->kind != CORTEX_KIND_SLAB && h->kind != CORTEX_KIND_POOL &&
        h->kind != CORTEX_KIND_CHANNEL && h->kind != CORTEX_KIND_BROADCAST)
        return 0;
    uint64_t ns = cortex__self_pidns(), boot = cortex__self_boot();
    if (h->creator_pidns && ns && h->creator_pidns != ns)
        return cortex__fail(EXDEV,
                            "%s was made in another pid namespace (pid:[%llu], ours pid:[%llu]): the pids it "
                            "records would name other processes here; share a pid namespace with its users",
                            what, (unsigned long long)h->creator_pidns, (unsigned long long)ns);
    if (h->creator_boot && boot && h->creator_boot != boot)
        return cortex__fail(EXDEV,
                            "%s was made before a reboot (another boot id): the pids it records mean nothing "
                            "now; remove it and create it again",
                            what);
    return 0;
}

static uint32_t new_token(void)
{
    uint32_t t = 0;
    while (t == 0)
        if (cortex__random(&t, sizeof t) < 0)
            t = (uint32_t)cortex__now_ns() | 1u;
    return t;
}

static void claim_ownership(cortex_region *r)
{
    cortex_seg_header *h = r->base;
    r->token = new_token();
    r->claim_pid = cortex__self_pid();
    /* owner_pid is for people and tools; the token alone decides, so racing own() calls leave one owner. */
    __atomic_store_n(&h->owner_pid, (int32_t)r->claim_pid, __ATOMIC_RELEASE);
    __atomic_store_n(&h->owner_token, r->token, __ATOMIC_RELEASE);
    r->owner = true;
}

/* Does the header still name this handle as the owner (nobody took it over)? */
static bool still_owner(const cortex_region *r)
{
    const cortex_seg_header *h = r->base;
    if (!h)
        return true;
    return r->claim_pid == cortex__self_pid() && __atomic_load_n(&h->owner_token, __ATOMIC_ACQUIRE) == r->token;
}

int cortex_region_create(cortex_region **ret, cortex_key key, const cortex_layout *layout, const cortex_opts *opts,
                         cortex_region_init_fn init, void *ctx)
{
    char what[256];
    uint32_t align = CORTEX_CACHELINE;
    int rc;

    if (!ret)
        return cortex__fail(EINVAL, "cortex_region_create: ret is NULL");
    describe(key, what);
    if ((rc = check_layout(layout, &align)) < 0)
        return rc;
    if (opts && opts->mode == CORTEX_ATTACH_ONLY)
        return cortex_region_attach(ret, key, layout, opts);
    if (opts && (opts->mode < CORTEX_CREATE_EXCL || opts->mode > CORTEX_ATTACH_ONLY))
        return cortex__fail(EINVAL, "unknown create mode %d", (int)opts->mode);
    if (opts && (opts->perm & ~0777u))
        return cortex__fail(EINVAL, "permission bits %o outside 0777", opts->perm);
    if (key.kind == CORTEX_KEYKIND_SYSV && key.sysv == 0)
        return cortex__fail(EINVAL, "SysV key 0 is IPC_PRIVATE; use CORTEX_KEY_SYSV_PRIVATE");
    if (key.kind == CORTEX_KEYKIND_NAME && (rc = check_name(key.str, what)) < 0)
        return rc;
    if (key.kind == CORTEX_KEYKIND_FILE && (!key.str || !key.str[0]))
        return cortex__fail(EINVAL, "file key without a path");

    uint64_t payload_offset = cortex__align_up(CORTEX_HEADER_SIZE, align);
    uint64_t size = cortex__align_up(payload_offset + layout->payload_size, (uint64_t)page_size());
    if ((rc = cortex__check_map_size(size, SIZE_MAX, what)) < 0)
        return rc;

    cortex_region *r;
    for (int tries = 0;; tries++) {
        r = region_new(key);
        if (!r)
            return cortex__fail(ENOMEM, "out of memory for a region handle");
        r->policy = opts ? opts->file_policy : CORTEX_FILE_REMOVE;
        rc = open_new(r, key, size, opts, what);
        if (rc != OPENED_EXISTING)
            break;
        region_free(r);
        /* Open-or-create: -ENOENT means it went away (or its dead creator's leftover was removed): make it. */
        rc = cortex_region_attach(ret, key, layout, opts);
        if (rc != -ENOENT || tries >= 8)
            return rc;
    }
    r->owner = true;
    r->created = true;
    if (rc < 0)
        goto fail;

    if (r->mapped < size) {
        rc = cortex__fail(EBADMSG, "%s: mapped %llu bytes, needed %llu", what, (unsigned long long)r->mapped,
                          (unsigned long long)size);
        goto fail;
    }
    cortex_seg_header *h = r->base;
    fill_header(h, layout, align, payload_offset, size, r->policy);
    claim_ownership(r);
    r->payload = (uint8_t *)r->base + payload_offset;
    r->payload_size = layout->payload_size;
    if (init && (rc = init(r, r->payload, ctx)) < 0)
        goto fail;
    __atomic_store_n(&h->state, (uint32_t)CORTEX_STATE_READY, __ATOMIC_RELEASE);
    *ret = r;
    return 0;

fail:
    /* Keep the original error; removal failures make it dirty. */
    {
        cortex_error saved = *cortex_last_error();
        if (r->base && r->mapped >= CORTEX_HEADER_SIZE)
            __atomic_store_n(&((cortex_seg_header *)r->base)->state, (uint32_t)CORTEX_STATE_FAILED,
                             __ATOMIC_RELEASE);
        bool have_object = r->shmid >= 0 || (r->fd >= 0 && key.kind != CORTEX_KEYKIND_MEMFD);
        /* CORTEX_FILE_KEEP is for a segment that was made; a file left half-made by O_EXCL is removed. */
        r->policy = CORTEX_FILE_REMOVE;
        int drc = have_object ? destroy_object(r) : 0;
        if (drc < 0) {
            cortex_error dirty = *cortex_last_error();
            *cortex__error_slot() = saved;
            cortex__mark_dirty(dirty.leftover);
            cortex__append("; cleanup failed too: %s", dirty.message);
        } else {
            *cortex__error_slot() = saved;
        }
        region_free(r);
        return rc;
    }
}

/* ---- attach -------------------------------------------------------------- */

/* An fd segment must be sealed against shrinking, or a sender's ftruncate makes us SIGBUS. */
static int check_seals(int fd, const cortex_opts *opts, const char *what)
{
    if (opts && (opts->trust & CORTEX_TRUST_UNSEALED_FD))
        return 0;
    int sealed = cortex__os_fd_sealed(fd); /* lib/os: F_GET_SEALS where seals exist */
    if (sealed == 1)
        return 0;
    if (sealed < 0)
        return cortex__fail_sys(EACCES, "fcntl", -sealed,
                                "%s cannot be sealed (not a memfd, or a platform without seals), so its sender could "
                                "shrink it under us: refused (CORTEX_TRUST_UNSEALED_FD accepts it)",
                                what);
    return cortex__fail(EACCES,
                        "%s is not sealed against shrinking (no F_SEAL_SHRINK), so its sender could "
                        "shrink it under us: refused (CORTEX_TRUST_UNSEALED_FD accepts it)",
                        what);
}

static int open_existing(cortex_region *r, cortex_key key, const cortex_opts *opts, const char *what,
                         struct stat *st)
{
    switch (key.kind) {
    case CORTEX_KEYKIND_SYSV: {
        if (key.sysv == 0)
            return cortex__fail(EINVAL, "SysV key 0 is IPC_PRIVATE and cannot be attached");
        int id = shmget((key_t)key.sysv, 0, 0);
        if (id < 0)
            return cortex__fail_sys(errno, "shmget", errno, errno == ENOENT ? "no segment under %s" : "cannot open %s",
                                    what);
        r->shmid = id;
        r->sysv_key = key.sysv;
        struct shmid_ds ds;
        if (shmctl(id, IPC_STAT, &ds) != 0)
            return cortex__fail_sys(errno, "shmctl", errno, "could not stat %s", what);
        /* Owner and creator both: a creator may give the segment away with IPC_SET and keep control of it. */
        return cortex__check_owner((uint32_t)ds.shm_perm.uid, (uint32_t)ds.shm_perm.cuid,
                                   (unsigned)ds.shm_perm.mode, opts, what);
    }
    case CORTEX_KEYKIND_NAME:
    case CORTEX_KEYKIND_FILE: {
        int rc;
        if (key.kind == CORTEX_KEYKIND_NAME && (rc = check_name(key.str, (char *)what)) < 0)
            return rc;
        if (key.kind == CORTEX_KEYKIND_FILE && (!key.str || !key.str[0]))
            return cortex__fail(EINVAL, "file key without a path");
        bool is_name = key.kind == CORTEX_KEYKIND_NAME;
        int fd = open_named(is_name, key.str, O_RDWR, 0);
        if (fd < 0 && errno == ELOOP)
            return cortex__fail_sys(EACCES, is_name ? "shm_open" : "open", errno,
                                    "%s is a symbolic link: refused (a segment is opened only where it is)", what);
        if (fd < 0)
            return cortex__fail_sys(errno, is_name ? "shm_open" : "open", errno,
                                    errno == ENOENT ? "no segment under %s" : "cannot open %s", what);
        r->fd = fd;
        break;
    }
    case CORTEX_KEYKIND_FD: {
        if (key.fd < 0)
            return cortex__fail(EBADF, "fd %d is not a descriptor", key.fd);
        int fd = fcntl(key.fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            return cortex__fail_sys(errno, "fcntl", errno, "cannot use %s", what);
        r->fd = fd;
        break;
    }
    case CORTEX_KEYKIND_SYSV_PRIVATE:
        return cortex__fail(EINVAL, "a private SysV key is picked at create time; attach with CORTEX_KEY_SYSV(key)");
    case CORTEX_KEYKIND_MEMFD:
        return cortex__fail(EINVAL, "a memfd key creates; attach with CORTEX_KEY_FD(fd)");
    case CORTEX_KEYKIND_HEAP:
        return cortex__fail(EINVAL, "heap memory belongs to one process and cannot be attached");
    default:
        return cortex__fail(EINVAL, "invalid key (kind %d)", (int)key.kind);
    }
    if (fstat(r->fd, st) != 0)
        return cortex__fail_sys(errno, "fstat", errno, "cannot stat %s", what);
    if (!cortex__os_segment_mode((unsigned)st->st_mode))
        return cortex__fail(ENODEV, "%s is not a shared memory object or regular file", what);
    if (key.kind == CORTEX_KEYKIND_FD) /* whoever handed us the fd vouched for its owner; not for its size */
        return check_seals(r->fd, opts, what);
    if (key.kind == CORTEX_KEYKIND_FILE && st->st_nlink != 1)
        return cortex__fail(EACCES, "%s has %lu hard links (another name for it may belong to someone else): refused",
                            what, (unsigned long)st->st_nlink);
    return cortex__check_owner((uint32_t)st->st_uid, (uint32_t)st->st_uid, (unsigned)st->st_mode, opts, what);
}

/*
 * The pid (and start time) of the creator of a segment still in INIT, read
 * from a copy whose checksum proves the creator finished writing it; false
 * while nobody can be named (a header not yet written, or torn).
 */
/* The creator identity of a header still in INIT, if its checked bytes are whole (stamp only if its own check holds). */
static bool init_creator(const cortex_seg_header *live, cortex__proc_id *creator)
{
    cortex_seg_header h;
    memcpy(&h, live, sizeof h);
    if (h.magic != CORTEX_MAGIC || h.creator_pid <= 0 ||
        cortex__fnv1a32(&h, offsetof(cortex_seg_header, check)) != h.check)
        return false;
    memset(creator, 0, sizeof *creator);
    creator->pid = h.creator_pid;
    creator->start = h.creator_start;
    if (h.ident_check != 0 && h.ident_check == cortex__header_ident_check(&h))
        creator->stamp = h.creator_stamp;
    return true;
}

/*
 * Open-or-create found a segment whose creator died before READY: remove
 * exactly that object, never a newer one under the same name.  Takers of
 * one stale file or POSIX object serialise on flock() of it, and each
 * unlinks the name only while it still names the stale inode.
 */
static int remove_stale(cortex_region *r, cortex_key key, const char *what)
{
    if (r->shmid >= 0) {
        if (shmctl(r->shmid, IPC_RMID, NULL) != 0 && errno != EINVAL && errno != EIDRM)
            return cortex__fail_sys(errno, "shmctl", errno, "could not remove the stale %s", what);
        return 0;
    }
    if (r->fd < 0 || (key.kind != CORTEX_KEYKIND_NAME && key.kind != CORTEX_KEYKIND_FILE))
        return 0;
    struct stat mine, now;
    while (flock(r->fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return cortex__fail_sys(errno, "flock", errno, "could not lock the stale %s", what);
    if (fstat(r->fd, &mine) != 0)
        return cortex__fail_sys(errno, "fstat", errno, "cannot stat %s", what);
    bool is_name = key.kind == CORTEX_KEYKIND_NAME;
    int fd = open_named(is_name, key.str, O_RDONLY, 0);
    if (fd < 0)
        return errno == ENOENT ? 0 : cortex__fail_sys(errno, is_name ? "shm_open" : "open", errno,
                                                      "cannot reopen the stale %s", what);
    bool same = fstat(fd, &now) == 0 && now.st_dev == mine.st_dev && now.st_ino == mine.st_ino;
    close(fd);
    if (same && (is_name ? shm_unlink(key.str) : unlink(key.str)) != 0 && errno != ENOENT)
        return cortex__fail_sys(errno, is_name ? "shm_unlink" : "unlink", errno, "could not remove the stale %s",
                                what);
    return 0;
}

int cortex_region_attach(cortex_region **ret, cortex_key key, const cortex_layout *expect, const cortex_opts *opts)
{
    char what[256];
    struct stat st;
    int rc;

    if (!ret)
        return cortex__fail(EINVAL, "cortex_region_attach: ret is NULL");
    describe(key, what);
    cortex_region *r = region_new(key);
    if (!r)
        return cortex__fail(ENOMEM, "out of memory for a region handle");
    r->policy = opts ? opts->file_policy : CORTEX_FILE_REMOVE;

    int64_t timeout = attach_timeout(opts);
    int64_t deadline = timeout < 0 ? INT64_MAX : cortex__now_ns() + timeout;
    int64_t nap = 10000; /* 10 us, doubling to 1 ms */

    if ((rc = open_existing(r, key, opts, what, &st)) < 0)
        goto fail;

    /* A file-backed creator may not have sized it yet: wait for the header to exist. */
    if (r->fd >= 0) {
        while ((uint64_t)st.st_size < CORTEX_HEADER_SIZE) {
            if (cortex__now_ns() >= deadline) {
                rc = cortex__fail(st.st_size == 0 ? ETIMEDOUT : EBADMSG,
                                  "%s is %lld bytes, smaller than a neocortex header, after waiting %lld ms", what,
                                  (long long)st.st_size, (long long)(timeout / 1000000));
                goto fail;
            }
            cortex__sleep_ns(nap);
            nap = nap < 1000000 ? nap * 2 : nap;
            if (fstat(r->fd, &st) != 0) {
                rc = cortex__fail_sys(errno, "fstat", errno, "cannot stat %s", what);
                goto fail;
            }
        }
        if ((rc = cortex__check_map_size((uint64_t)st.st_size, SIZE_MAX, what)) < 0)
            goto fail;
        if ((uint64_t)st.st_size > REGION_MAX_SIZE) {
            rc = cortex__fail(EFBIG, "%s is %lld bytes, more than neocortex maps", what, (long long)st.st_size);
            goto fail;
        }
        if ((rc = map_fd(r, (uint64_t)st.st_size, what)) < 0)
            goto fail;
    } else {
        if ((rc = map_sysv(r, what)) < 0)
            goto fail;
        if (r->mapped < CORTEX_HEADER_SIZE) {
            rc = cortex__fail(EBADMSG, "%s is %llu bytes, smaller than a neocortex header", what,
                              (unsigned long long)r->mapped);
            goto fail;
        }
    }

    /* Wait for READY; a foreign magic fails at once. */
    cortex_seg_header *live = r->base;
    for (;;) {
        uint32_t state = __atomic_load_n(&live->state, __ATOMIC_ACQUIRE);
        uint64_t magic = __atomic_load_n(&live->magic, __ATOMIC_RELAXED);
        if (state == CORTEX_STATE_READY)
            break;
        if (magic != 0 && magic != CORTEX_MAGIC) {
            rc = cortex__header_bad_magic(magic, what);
            goto fail;
        }
        if (state == CORTEX_STATE_FAILED) {
            rc = cortex__fail(ENOENT, "%s: its creator failed and is removing it", what);
            goto fail;
        }
        if (state != CORTEX_STATE_INIT) {
            rc = cortex__fail(EBADMSG, "%s: unknown init state %u", what, state);
            goto fail;
        }
        cortex__proc_id creator;
        bool known = init_creator(live, &creator);
        int32_t cpid = known ? creator.pid : 0;
        bool creator_dead = known && cortex__proc_verdict(&creator, NULL) == CORTEX__DEAD;
        if (opts && opts->mode == CORTEX_OPEN_OR_CREATE && creator_dead) {
            /*
             * Only a creator known dead: -ENOENT sends open-or-create back to make it anew.  But it
             * may have published READY (and exited) between our look at the state and the verdict:
             * claim the segment as FAILED first, from exactly INIT, and look again if that fails.
             * Other waiters then see FAILED and create anew too.
             */
            uint32_t was = CORTEX_STATE_INIT;
            if (!__atomic_compare_exchange_n(&live->state, &was, (uint32_t)CORTEX_STATE_FAILED, false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                continue;
            if ((rc = remove_stale(r, key, what)) < 0)
                goto fail;
            rc = cortex__fail(ENOENT, "%s: its creator (pid %d) died before it was READY; removed it to create it anew",
                              what, (int)cpid);
            goto fail;
        }
        if (cortex__now_ns() >= deadline) {
            if (creator_dead)
                rc = cortex__fail(ETIMEDOUT, "%s never became READY: its creator (pid %d) died while initialising it",
                                  what, (int)cpid);
            else
                rc = cortex__fail(ETIMEDOUT, "%s not READY after %lld ms (creator still initialising?)", what,
                                  (long long)(timeout / 1000000));
            goto fail;
        }
        cortex__sleep_ns(nap);
        nap = nap < 1000000 ? nap * 2 : nap;
    }

    /* Validate a private copy: the live header is shared and may change under us. */
    cortex_seg_header h;
    memcpy(&h, live, sizeof h);
    if ((rc = cortex_header_validate(&h, r->mapped, expect, what)) < 0 ||
        (rc = cortex__region_check_domain(&h, what)) < 0)
        goto fail;
    r->payload = (uint8_t *)r->base + h.payload_offset;
    r->payload_size = h.payload_size;
    r->policy = (h.flags & CORTEX_HDR_KEEP_FILE) ? CORTEX_FILE_KEEP : CORTEX_FILE_REMOVE;
    r->owner = false;
    r->created = false;
    *ret = r;
    return 0;

fail:
    region_free(r);
    return rc;
}

/* ---- ownership ----------------------------------------------------------- */

int cortex_region_close(cortex_region *r)
{
    if (!r)
        return 0;
    int rc = 0;
    if (r->owner && r->kind != CORTEX_KEYKIND_HEAP) {
        /* Someone who called own() after us is the owner now: then we only detach. */
        if (still_owner(r)) {
            rc = destroy_object(r);
            if (rc < 0)
                cortex__log_last();
        }
    }
    region_free(r);
    return rc;
}

int cortex_region_leak(cortex_region *r)
{
    if (!r)
        return cortex__fail(EINVAL, "cortex_region_leak: NULL region");
    if (r->kind == CORTEX_KEYKIND_HEAP) {
        /* Heap memory cannot outlive its handle in any useful way: keep the contract, free it. */
        region_free(r);
        return 0;
    }
    r->owner = false;
    region_free(r);
    return 0;
}

int cortex_region_own(cortex_region *r)
{
    if (!r)
        return cortex__fail(EINVAL, "cortex_region_own: NULL region");
    if (r->kind == CORTEX_KEYKIND_HEAP)
        return 0;
    claim_ownership(r);
    return 0;
}

/* ---- accessors ----------------------------------------------------------- */

void *cortex_region_payload(const cortex_region *r) { return r ? r->payload : NULL; }

uint64_t cortex_region_payload_size(const cortex_region *r) { return r ? r->payload_size : 0; }

const cortex_seg_header *cortex_region_header(const cortex_region *r) { return r ? r->base : NULL; }

bool cortex_region_is_owner(const cortex_region *r) { return r && r->owner && still_owner(r); }

bool cortex_region_created(const cortex_region *r) { return r && r->created; }

int cortex_region_fd(const cortex_region *r) { return r ? r->fd : -1; }

uint64_t cortex__region_identity(const cortex_region *r)
{
    if (!r)
        return 0;
    if (r->shmid >= 0)
        return (uint64_t)(uint32_t)r->shmid;
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0)
        return 0;
    uint64_t id[2] = {(uint64_t)st.st_dev, (uint64_t)st.st_ino};
    return cortex__fnv1a64(id, sizeof id);
}

cortex_key cortex_region_key(const cortex_region *r)
{
    if (!r)
        return cortex_key_make_(CORTEX_KEYKIND_NONE, 0, -1, NULL);
    switch (r->kind) {
    case CORTEX_KEYKIND_SYSV:
    case CORTEX_KEYKIND_SYSV_PRIVATE: return CORTEX_KEY_SYSV(r->sysv_key);
    case CORTEX_KEYKIND_NAME: return CORTEX_KEY_NAME(r->str);
    case CORTEX_KEYKIND_FILE: return CORTEX_KEY_FILE(r->str);
    case CORTEX_KEYKIND_MEMFD:
    case CORTEX_KEYKIND_FD: return CORTEX_KEY_FD(r->fd);
    case CORTEX_KEYKIND_HEAP: return CORTEX_KEY_HEAP;
    default: return cortex_key_make_(CORTEX_KEYKIND_NONE, 0, -1, NULL);
    }
}

int cortex__region_inspect_kind(const struct cortex_region *region, uint32_t kind, void *out, size_t out_size,
                                const char *fn, const char *noun)
{
    if (!region || !out)
        return cortex__fail(EINVAL, "%s: NULL %s", fn, region ? "output" : "region");
    const cortex_seg_header *hdr = cortex_region_header(region);
    uint32_t have = hdr ? hdr->kind : 0;
    if (have != kind) {
        memset(out, 0, out_size);
        return cortex__fail(EPROTO, "%s: the segment holds a %s, not %s", fn, cortex_kind_name(have), noun);
    }
    return 0;
}
