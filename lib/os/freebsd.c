/* SPDX-License-Identifier: MIT */
/*
 * lib/os/freebsd.c: FreeBSD, written from its manual pages (_umtx_op(2),
 * shm_open(2), memfd_create(3), posix_fallocate(2), sysctl(3), getrandom(2),
 * accept4(2)).
 *
 *   - waits: _umtx_op(UMTX_OP_WAIT_UINT / UMTX_OP_WAKE), the shared (not
 *     _PRIVATE) forms, so processes mapping one segment wake each other.
 *   - shm: shm_open sets close-on-exec itself; posix_fallocate on a shm
 *     object fails with ENODEV (before 14.0): the object is then sized by
 *     ftruncate only, not reserved (posix.c), so a full swap shows later.
 *   - memfd_create with seals from 13.0; before it an unlinked shm object.
 *   - no membarrier, no eventfd (the doorbell rings on its socket).
 *   - no /proc by default: start times from sysctl KERN_PROC_PID
 *     (kinfo_proc.ki_start), with kill(pid, 0) for existence.
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/param.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <sys/umtx.h>
#include <sys/user.h>
#include <time.h>
#include <unistd.h>

int cortex__os_futex_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns)
{
    if (cortex__os_no(CORTEX__OS_NO_FUTEX))
        return cortex__os_poll_wait(addr, expected, timeout_ns);
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000), .tv_nsec = (long)(timeout_ns % 1000000000)};
    /* uaddr NULL: uaddr2 is a relative struct timespec. */
    int r = _umtx_op((void *)addr, UMTX_OP_WAIT_UINT, expected, NULL, timeout_ns >= 0 ? &ts : NULL);
    if (r == 0)
        return atomic_load_explicit(addr, memory_order_acquire) != expected ? -EAGAIN : 0;
    return -errno; /* -ETIMEDOUT, -EINTR */
}

int cortex__os_futex_wake(cortex__a32 *addr, uint32_t n)
{
    if (cortex__os_no(CORTEX__OS_NO_FUTEX))
        return 0;
    int r = _umtx_op((void *)addr, UMTX_OP_WAKE, n > (uint32_t)INT32_MAX ? INT32_MAX : n, NULL, NULL);
    return r < 0 ? -errno : 0;
}

int cortex__os_getrandom(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cortex__os_shm_open(const char *name, int oflag, unsigned mode)
{
    int fd = shm_open(name, oflag | O_CLOEXEC, (mode_t)mode);
    return fd < 0 ? -errno : fd;
}

int cortex__os_memfd(const char *name, uint64_t size, bool *sealed, const char **call)
{
    *sealed = false;
#if __FreeBSD_version >= 1300000
    if (!cortex__os_no(CORTEX__OS_NO_MEMFD)) {
        int fd = memfd_create(name ? name : "neocortex", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) {
            *call = "memfd_create";
            return -errno;
        }
        return cortex__os_seal_memfd(fd, size, sealed, call);
    }
#else
    CORTEX_UNUSED(name);
#endif
    return cortex__os_anon_shm(size, call);
}

int cortex__os_fd_sealed(int fd) { return cortex__os_fd_sealed_posix(fd); }

int cortex__os_accept(int listen_fd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cortex__os_pid_info(pid_t pid, char *state, uint64_t *start)
{
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
    struct kinfo_proc kp;
    size_t len = sizeof kp;
    if (sysctl(mib, 4, &kp, &len, NULL, 0) != 0)
        return errno == ESRCH ? -ESRCH : -ENOSYS;
    if (len < sizeof kp)
        return -ESRCH; /* no entry for that pid */
    int64_t started = (int64_t)kp.ki_start.tv_sec * 1000000000 + (int64_t)kp.ki_start.tv_usec * 1000;
    *state = kp.ki_stat == SZOMB ? 'Z' : 'R';
    *start = cortex__wall_to_ticks(started);
    return 0;
}

