/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/seg.c: enumerating SysV segments (/proc/sysvipc/shm) and
 * POSIX names (/dev/shm), reading their headers into private copies and
 * classifying them; counting the processes that map a POSIX name.
 */
#define _GNU_SOURCE
#include "seg.h"

#include "internal.h"
#include "os/os.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
#if NC_HAVE_SYNC
#include <neocortex/sync.h>
#endif


static nc_seg *list_push(nc_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        nc_seg *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    nc_seg *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->attached = -1;
    s->shmid = -1;
    return s;
}

void nc_list_free(nc_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void nc_printable(const char *in, size_t len, char *out) { cortex__printable(in, len, out); }

/* Decides what the first bytes of a segment are. */
static void classify(nc_seg *s, const unsigned char *bytes, size_t n)
{
    uint64_t magic = 0;
    if (n < sizeof magic) {
        s->status = NC_FOREIGN;
        snprintf(s->problem, sizeof s->problem, "%zu bytes: too small for a neocortex header", n);
        return;
    }
    memcpy(&magic, bytes, sizeof magic);
    if (magic != CORTEX_MAGIC) {
        s->status = NC_FOREIGN;
        if (magic == 0)
            snprintf(s->problem, sizeof s->problem,
                     "no neocortex header (first bytes are zero: foreign, or a creator that died before writing it)");
        else
            snprintf(s->problem, sizeof s->problem, "not a neocortex segment (magic 0x%016" PRIx64 ")", magic);
        return;
    }
    if (n < sizeof s->hdr) {
        s->status = NC_CORRUPT;
        snprintf(s->problem, sizeof s->problem, "neocortex magic, but only %zu bytes, smaller than the %u-byte header",
                 n, CORTEX_HEADER_SIZE);
        return;
    }
    memcpy(&s->hdr, bytes, sizeof s->hdr);
    s->have_hdr = true;
    if (cortex_header_validate(&s->hdr, s->size, NULL, s->id) < 0) {
        s->status = NC_CORRUPT;
        snprintf(s->problem, sizeof s->problem, "%s", cortex_last_error()->message);
        return;
    }
    s->status = NC_OURS;
    /* The one verdict (lib/os): a creator of another pid namespace or boot cannot be judged from here. */
    cortex__proc_id creator = {.pid = s->hdr.creator_pid, .start = s->hdr.creator_start, .stamp = s->hdr.creator_stamp};
    cortex__proc_id owner = {.pid = s->hdr.owner_pid};
    bool foreign = (s->hdr.creator_pidns && cortex__self_pidns() && s->hdr.creator_pidns != cortex__self_pidns()) ||
                   (s->hdr.creator_boot && cortex__self_boot() && s->hdr.creator_boot != cortex__self_boot());
    s->creator_verdict = foreign ? CORTEX__UNKNOWN : cortex__proc_verdict(&creator, NULL);
    if (s->hdr.owner_pid == s->hdr.creator_pid)
        s->owner_verdict = s->creator_verdict;
    else
        s->owner_verdict = foreign ? CORTEX__UNKNOWN : cortex__proc_verdict(&owner, NULL);
    s->creator_alive = s->creator_verdict != CORTEX__DEAD;
    s->owner_alive = s->owner_verdict != CORTEX__DEAD;
}

/* Reads a SysV segment's first bytes through a read-only attach. */
static bool read_sysv(nc_seg *s)
{
    void *p = shmat(s->shmid, NULL, SHM_RDONLY);
    if (p == (void *)-1) {
        if (errno == EINVAL || errno == EIDRM)
            return false; /* gone meanwhile */
        s->status = NC_UNREADABLE;
        snprintf(s->problem, sizeof s->problem, "cannot attach read-only: %s", strerror(errno));
        return true;
    }
    /* The mapping cannot shrink under us: shm_segsz is fixed at creation.
     * size and attached come from /proc, read before we attached. */
    size_t n = s->size < sizeof s->hdr ? (size_t)s->size : sizeof s->hdr;
    unsigned char buf[sizeof s->hdr];
    memcpy(buf, p, n);
    shmdt(p);
    classify(s, buf, n);
    return true;
}

/* Reads a POSIX name's first bytes with pread (never a mapping: no SIGBUS if it shrinks). */
static bool read_posix(nc_seg *s, int dirfd, const char *entry)
{
    /* Only regular files are opened (never a FIFO or a device someone put there). */
    struct stat pre;
    if (fstatat(dirfd, entry, &pre, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(pre.st_mode))
        return false;
    int fd = openat(dirfd, entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return false;
        s->size = (uint64_t)pre.st_size;
        s->uid = pre.st_uid;
        s->mode = pre.st_mode & 07777;
        s->ino = (uint64_t)pre.st_ino;
        s->status = NC_UNREADABLE;
        snprintf(s->problem, sizeof s->problem, "cannot open read-only: %s", strerror(errno));
        return true;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return false;
    }
    s->size = (uint64_t)st.st_size;
    s->uid = st.st_uid;
    s->mode = st.st_mode & 07777;
    s->ino = (uint64_t)st.st_ino;
    unsigned char buf[sizeof s->hdr];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    if (n < 0) {
        s->status = NC_UNREADABLE;
        snprintf(s->problem, sizeof s->problem, "cannot read: %s", strerror(errno));
        return true;
    }
    classify(s, buf, (size_t)n);
    return true;
}

typedef bool (*want_fn)(const nc_seg *s, void *ctx);

static int scan_sysv(nc_list *l, want_fn want, void *ctx)
{
    FILE *f = cortex__os_sysv_table(); /* lib/os: /proc/sysvipc/shm */
    if (!f)
        return -errno;
    l->sysv_listed = true;
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        long long key;
        int id;
        unsigned mode;
        unsigned long long size;
        int cpid, lpid;
        unsigned long nattch;
        unsigned uid;
        if (sscanf(line, "%lld %d %o %llu %d %d %lu %u", &key, &id, &mode, &size, &cpid, &lpid, &nattch, &uid) != 8)
            continue;
        if (key == 0) /* IPC_PRIVATE, or already removed and waiting for its last detach */
            continue;
        nc_seg tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.backing = NC_SYSV;
        tmp.key = (int32_t)key;
        tmp.shmid = id;
        tmp.size = size;
        tmp.attached = (long)nattch;
        tmp.uid = (uid_t)uid;
        tmp.mode = mode & 0777;
        snprintf(tmp.id, sizeof tmp.id, "0x%08" PRIx32, (uint32_t)tmp.key);
        if (want && !want(&tmp, ctx))
            continue;
        nc_seg *s = list_push(l);
        if (!s) {
            fclose(f);
            return -ENOMEM;
        }
        *s = tmp;
        if (!read_sysv(s))
            l->n--;
        else if (s->status == NC_UNREADABLE)
            l->unreadable_sysv++;
    }
    fclose(f);
    return 0;
}

static int scan_posix(nc_list *l, want_fn want, void *ctx)
{
    int dirfd = cortex__os_shm_dir_open(); /* lib/os: /dev/shm */
    if (dirfd < 0)
        return dirfd;
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return -errno;
    }
    l->posix_listed = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
            continue;
        if (strlen(e->d_name) > CORTEX_NAME_MAX)
            continue;
        nc_seg tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.backing = NC_POSIX;
        tmp.attached = -1;
        tmp.shmid = -1;
        snprintf(tmp.name, sizeof tmp.name, "/%s", e->d_name);
        snprintf(tmp.id, sizeof tmp.id, "%s", tmp.name);
        if (want && !want(&tmp, ctx))
            continue;
        nc_seg *s = list_push(l);
        if (!s) {
            closedir(d);
            return -ENOMEM;
        }
        *s = tmp;
        if (!read_posix(s, dirfd, e->d_name))
            l->n--;
        else if (s->status == NC_UNREADABLE)
            l->unreadable_posix++;
    }
    closedir(d);
    return 0;
}

/*
 * Counts, for every POSIX entry in l, the processes that map it: lines of
 * /proc/PID/maps under /dev/shm/ with the same inode.  Processes whose
 * maps we may not read (other users) are not counted: l->maps_partial.
 */
static void count_posix_maps(nc_list *l)
{
    size_t nposix = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].backing == NC_POSIX && l->v[i].ino) {
            l->v[i].attached = 0;
            nposix++;
        }
    if (nposix == 0)
        return;
    const char *shm_dir = cortex__os_shm_dir();
    size_t shm_len = shm_dir ? strlen(shm_dir) : 0;
    DIR *proc = shm_dir ? cortex__os_proc_list() : NULL; /* lib/os: /proc */
    if (!proc) {
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].backing == NC_POSIX)
                l->v[i].attached = -1;
        return;
    }
    pid_t *last = calloc(l->n, sizeof *last); /* last pid counted per entry */
    if (!last) {
        closedir(proc);
        return;
    }
    struct dirent *e;
    char line[4096 + 128];
    while ((e = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        FILE *f = cortex__os_proc_maps(pid);
        if (!f) {
            if (errno == EACCES || errno == EPERM)
                l->maps_partial = true;
            continue;
        }
        while (fgets(line, sizeof line, f)) {
            unsigned long long ino;
            int off = 0;
            if (sscanf(line, "%*s %*s %*s %*s %llu %n", &ino, &off) != 1 || off == 0)
                continue;
            const char *p = line + off;
            if (strncmp(p, shm_dir, shm_len) != 0 || p[shm_len] != '/' || ino == 0)
                continue;
            size_t len = strlen(p);
            if (len && p[len - 1] == '\n')
                len--;
            static const char deleted[] = " (deleted)";
            if (len >= sizeof deleted - 1 && memcmp(p + len - (sizeof deleted - 1), deleted, sizeof deleted - 1) == 0)
                continue; /* an unlinked object, not the current name */
            for (size_t i = 0; i < l->n; i++) {
                nc_seg *s = &l->v[i];
                if (s->backing == NC_POSIX && s->ino == ino && last[i] != pid) {
                    last[i] = pid;
                    s->attached++;
                }
            }
        }
        fclose(f);
    }
    free(last);
    closedir(proc);
}

static int scan(nc_list *out, bool sysv, bool posix, want_fn want, void *ctx)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (sysv && (rc = scan_sysv(out, want, ctx)) == -ENOMEM)
        return rc;
    if (posix && (rc = scan_posix(out, want, ctx)) == -ENOMEM)
        return rc;
    count_posix_maps(out);
    return 0;
}

int nc_scan(nc_list *out) { return scan(out, true, true, NULL, NULL); }

typedef struct match_ctx {
    const char *const *globs;
    size_t n;
} match_ctx;

static bool want_glob(const nc_seg *s, void *ctx)
{
    const match_ctx *m = ctx;
    if (m->n == 0)
        return true;
    for (size_t i = 0; i < m->n; i++) {
        if (fnmatch(m->globs[i], s->id, 0) == 0)
            return true;
        /* Names may be given without their leading '/'. */
        if (s->backing == NC_POSIX && fnmatch(m->globs[i], s->id + 1, 0) == 0)
            return true;
    }
    return false;
}

int nc_scan_match(nc_list *out, const char *const *globs, size_t n)
{
    match_ctx m = {globs, n};
    return scan(out, true, true, want_glob, &m);
}

typedef struct exact_ctx {
    nc_backing backing;
    int32_t key;
    const char *name;
} exact_ctx;

static bool want_exact(const nc_seg *s, void *ctx)
{
    const exact_ctx *x = ctx;
    if (s->backing != x->backing)
        return false;
    if (s->backing == NC_SYSV)
        return s->key == x->key;
    return strcmp(s->name, x->name) == 0;
}

int nc_lookup(nc_backing backing, int32_t key, const char *name, nc_seg *out)
{
    exact_ctx x = {backing, key, name};
    nc_list l;
    int rc = scan(&l, backing == NC_SYSV, backing == NC_POSIX, want_exact, &x);
    if (rc == 0 && l.n == 0)
        rc = (backing == NC_SYSV ? l.sysv_listed : l.posix_listed) ? -ENOENT : -ENOSYS;
    if (rc == 0)
        *out = l.v[0];
    nc_list_free(&l);
    return rc;
}

int nc_parse_target(const char *arg, nc_backing *backing, int32_t *key, char name[NC_NAME_LEN])
{
    if (!arg || !arg[0])
        return -EINVAL;
    if (arg[0] == '/' || !(isdigit((unsigned char)arg[0]) || arg[0] == '-')) {
        const char *base = arg[0] == '/' ? arg + 1 : arg;
        size_t len = strlen(base);
        if (len == 0 || len > CORTEX_NAME_MAX || strchr(base, '/') || strcmp(base, ".") == 0 ||
            strcmp(base, "..") == 0)
            return -EINVAL;
        *backing = NC_POSIX;
        snprintf(name, NC_NAME_LEN, "/%s", base);
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(arg, &end, 0);
    if (errno != 0 || !end || *end != '\0' || v < INT32_MIN || v > (long long)UINT32_MAX || v == 0)
        return -EINVAL;
    *backing = NC_SYSV;
    *key = (int32_t)(uint32_t)(v & 0xffffffffLL);
    return 0;
}

int nc_remove(const nc_seg *s, bool *sem_removed)
{
    *sem_removed = false;
    if (s->backing == NC_SYSV) {
        /* The key may have been reused since the scan: remove only the same id. */
        int id = shmget((key_t)s->key, 0, 0);
        if (id < 0)
            return -errno;
        if (id != s->shmid)
            return -ESTALE;
        if (shmctl(id, IPC_RMID, NULL) != 0)
            return -errno;
        int sem = semget((key_t)s->key, 0, 0);
        if (sem >= 0 && semctl(sem, 0, IPC_RMID) == 0)
            *sem_removed = true;
        return 0;
    }
    if (nc_remove_with_lock(s, sem_removed) == 0)
        return 0;
    /* Not a cell with a private semaphore, or it could not be attached: the name alone. */
    if (shm_unlink(s->name) != 0)
        return -errno;
    return 0;
}

const char *nc_fmt_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", bytes);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

const char *nc_fmt_age(int64_t ns, char *buf, size_t len)
{
    if (ns < 0) {
        snprintf(buf, len, "future");
        return buf;
    }
    int64_t s = ns / 1000000000;
    if (s < 120)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 2 * 3600)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 2 * 86400)
        snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, len, "%lldd", (long long)(s / 86400));
    return buf;
}

const char *nc_lock_name(uint32_t id, char *buf, size_t len)
{
    if (id == 0)
        snprintf(buf, len, "none");
#ifdef CORTEX_SYNC_ID_SEMAPHORE
    else if (id == CORTEX_SYNC_ID_SEMAPHORE)
        snprintf(buf, len, "semaphore");
#endif
#ifdef CORTEX_SYNC_ID_FUTEX
    else if (id == CORTEX_SYNC_ID_FUTEX)
        snprintf(buf, len, "futex");
#endif
#ifdef CORTEX_SYNC_ID_ONE_WRITER
    else if (id == CORTEX_SYNC_ID_ONE_WRITER)
        snprintf(buf, len, "one-writer");
#endif
#ifdef CORTEX_SYNC_ID_USER_MIN
    else if (id >= CORTEX_SYNC_ID_USER_MIN)
        snprintf(buf, len, "user:%" PRIu32, id);
#endif
    else
        snprintf(buf, len, "id %" PRIu32, id);
    return buf;
}

void nc_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}
