/* SPDX-License-Identifier: MIT */
/*
 * lib/os/darwin.c: macOS, written from Apple's manual pages (shm_open(2),
 * getentropy(2), sysctl(3), proc_pidinfo in <libproc.h>).
 *
 *   - shm names: at most PSHMNAMLEN (31) characters with the leading '/'
 *     (CORTEX_NAME_MAX is 30 there); shm_open takes no O_CLOEXEC, so the
 *     flag is set after (posix.c); an shm object can be sized once, by
 *     ftruncate, and there is no posix_fallocate: nothing is reserved;
 *     fchmod on it is refused, so the umask narrows its mode (never widens);
 *     fstat reports no S_IFREG for it.
 *   - no memfd: an unlinked shm object stands in, unsealable.
 *   - no futex: waits poll (lib/os/posix.c); no membarrier; no eventfd;
 *     no recvmmsg; no accept4.
 *   - everything else is in absent.c (lib/os/posix.c fallbacks).
 *   - no /proc: a process's start time comes from proc_pidinfo
 *     (PROC_PIDTBSDINFO), with kill(pid, 0) for existence (lib/os/proc.c).
 */
#include "os.h"

#include <errno.h>
#include <libproc.h>
#include <sys/proc_info.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* getentropy() gives at most 256 bytes per call. */
int cortex__os_getrandom(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        size_t n = len > 256 ? 256 : len;
        if (getentropy(p, n) != 0)
            return -errno;
        p += n;
        len -= n;
    }
    return 0;
}

/* A shm object's fstat carries its mode bits but no file type. */
bool cortex__os_segment_mode(unsigned st_mode) { return S_ISREG(st_mode) || (st_mode & S_IFMT) == 0; }

/* shm objects refuse fchmod (EINVAL): their mode is what shm_open made of it, umask applied. */
int cortex__os_set_mode(int fd, unsigned mode)
{
    if (fchmod(fd, (mode_t)mode) == 0)
        return 0;
    int e = errno;
    struct stat st;
    if (e == EINVAL && fstat(fd, &st) == 0 && (st.st_mode & 07777 & ~mode) == 0)
        return 0; /* narrower than asked at most */
    return -e;
}

int cortex__os_size_fd(int fd, uint64_t size, const char **call)
{
    return cortex__os_size_fd_posix(fd, size, false, call);
}

/* The start time is wall-clock: it is carried onto the boot-ticks line by its age now. */
int cortex__os_pid_info(pid_t pid, char *state, uint64_t *start)
{
    struct proc_bsdinfo info;
    int n = proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, (int)sizeof info);
    if (n != (int)sizeof info)
        return errno == ESRCH ? -ESRCH : -ENOSYS;
    int64_t started = (int64_t)info.pbi_start_tvsec * 1000000000 + (int64_t)info.pbi_start_tvusec * 1000;
    *state = info.pbi_status == SZOMB ? 'Z' : 'R';
    *start = cortex__wall_to_ticks(started);
    return 0;
}

