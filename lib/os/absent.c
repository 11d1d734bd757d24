/* SPDX-License-Identifier: MIT */
/*
 * lib/os/absent.c: what a platform other than Linux lacks, each answered by
 * the portable fallback (lib/os/posix.c) or "not here" (-ENOSYS, -ENOTSUP).
 * Built beside darwin.c or freebsd.c, and alone on any other POSIX system;
 * a function that one of them provides itself is left out for it here.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <sys/stat.h>

#if defined(__APPLE__)
#define NC_DARWIN 1
#else
#define NC_DARWIN 0
#endif
#if defined(__FreeBSD__)
#define NC_FREEBSD 1
#else
#define NC_FREEBSD 0
#endif

/* No platform but Linux waits on many futex words at once: waitsets take their fallback. */
int cortex__os_futex_waitv(cortex__a32 *const *words, const uint32_t *vals, unsigned n, int64_t timeout_ns)
{
    CORTEX_UNUSED(words);
    CORTEX_UNUSED(vals);
    CORTEX_UNUSED(n);
    CORTEX_UNUSED(timeout_ns);
    return -ENOSYS;
}

#if !NC_FREEBSD /* FreeBSD: _umtx_op */
int cortex__os_futex_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns)
{
    return cortex__os_poll_wait(addr, expected, timeout_ns);
}

int cortex__os_futex_wake(cortex__a32 *addr, uint32_t n)
{
    CORTEX_UNUSED(addr);
    CORTEX_UNUSED(n);
    return 0; /* waiters poll */
}

int cortex__os_shm_open(const char *name, int oflag, unsigned mode)
{
    return cortex__os_shm_open_posix(name, oflag, mode);
}

int cortex__os_memfd(const char *name, uint64_t size, bool *sealed, const char **call)
{
    CORTEX_UNUSED(name);
    *sealed = false;
    return cortex__os_anon_shm(size, call);
}

int cortex__os_fd_sealed(int fd)
{
    CORTEX_UNUSED(fd);
    return -ENOTSUP;
}

int cortex__os_accept(int listen_fd) { return cortex__os_accept_posix(listen_fd); }
#endif

#if !NC_DARWIN /* macOS: shm objects without a file type, refusing fchmod, not reservable */
bool cortex__os_segment_mode(unsigned st_mode) { return S_ISREG((mode_t)st_mode); }

int cortex__os_set_mode(int fd, unsigned mode) { return fchmod(fd, (mode_t)mode) != 0 ? -errno : 0; }

int cortex__os_size_fd(int fd, uint64_t size, const char **call)
{
    return cortex__os_size_fd_posix(fd, size, true, call);
}
#endif

#if !NC_DARWIN && !NC_FREEBSD /* their own: getentropy / getrandom, proc_pidinfo / sysctl */
int cortex__os_getrandom(void *buf, size_t len)
{
    CORTEX_UNUSED(buf);
    CORTEX_UNUSED(len);
    return -ENOSYS; /* /dev/urandom */
}

int cortex__os_pid_info(pid_t pid, char *state, uint64_t *start)
{
    CORTEX_UNUSED(pid);
    CORTEX_UNUSED(state);
    CORTEX_UNUSED(start);
    return -ENOSYS; /* kill(pid, 0) only */
}
#endif

/* Nowhere but on Linux. */
bool cortex__os_membarrier_register(void) { return false; }

int cortex__os_membarrier(void) { return -ENOSYS; }

int cortex__os_recv_batch(int fd, int max, void *bufs, size_t size, size_t *lens, bool *eof)
{
    CORTEX_UNUSED(fd);
    CORTEX_UNUSED(max);
    CORTEX_UNUSED(bufs);
    CORTEX_UNUSED(size);
    CORTEX_UNUSED(lens);
    *eof = false;
    return -ENOSYS;
}

int cortex__os_eventfd(void) { return -ENOSYS; }

int cortex__os_is_eventfd(int fd)
{
    CORTEX_UNUSED(fd);
    return -ENOSYS;
}

int cortex__os_wait_set(int edge_fd, uint32_t edge_tag, int level_fd, uint32_t level_tag)
{
    CORTEX_UNUSED(edge_fd);
    CORTEX_UNUSED(edge_tag);
    CORTEX_UNUSED(level_fd);
    CORTEX_UNUSED(level_tag);
    return -ENOSYS;
}

int cortex__os_wait_set_wait(int set, uint32_t *tags, int max, int ms)
{
    CORTEX_UNUSED(set);
    CORTEX_UNUSED(tags);
    CORTEX_UNUSED(max);
    CORTEX_UNUSED(ms);
    return -ENOSYS;
}

int cortex__os_semtimedop(int semid, struct sembuf *op, int64_t timeout_ns)
{
    CORTEX_UNUSED(semid);
    CORTEX_UNUSED(op);
    CORTEX_UNUSED(timeout_ns);
    return -ENOSYS; /* the semaphore backend polls with IPC_NOWAIT */
}

int cortex__os_ipc_key(const struct ipc_perm *perm, int32_t *key)
{
    CORTEX_UNUSED(perm);
    CORTEX_UNUSED(key);
    return -ENOSYS;
}

/* No files list shm segments, names or processes here (macOS, FreeBSD without /proc). */
FILE *cortex__os_sysv_table(void)
{
    errno = ENOSYS;
    return NULL;
}

int cortex__os_shm_dir_open(void) { return -ENOSYS; }

const char *cortex__os_shm_dir(void) { return NULL; }

DIR *cortex__os_proc_list(void)
{
    errno = ENOSYS;
    return NULL;
}

FILE *cortex__os_proc_maps(pid_t pid)
{
    CORTEX_UNUSED(pid);
    errno = ENOSYS;
    return NULL;
}
