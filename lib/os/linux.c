/* SPDX-License-Identifier: MIT */
/*
 * lib/os/linux.c: Linux system calls, each with its fallback beside it.
 *
 * Built against the C library's headers only (glibc or musl, which ships no
 * kernel headers): syscall numbers come from <sys/syscall.h>, and the few
 * kernel constants used are defined here where the C library lacks them.
 * They are kernel ABI and do not change.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* <linux/futex.h> */
#ifndef FUTEX_WAIT
#define FUTEX_WAIT 0
#endif
#ifndef FUTEX_WAKE
#define FUTEX_WAKE 1
#endif
/* <linux/membarrier.h> */
#define NC_MEMBARRIER_CMD_QUERY 0
#define NC_MEMBARRIER_CMD_GLOBAL_EXPEDITED (1 << 1)
#define NC_MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED (1 << 2)

/*
 * The futex call whose timespec matches ours.  A 32-bit target whose time_t
 * is 64 bits (musl always, glibc with -D_TIME_BITS=64) must use futex_time64
 * (syscall 422 on every 32-bit architecture): the old call reads a 32-bit
 * timespec and would see a garbage timeout.
 */
#if UINTPTR_MAX == 0xffffffffu && !(defined(__x86_64__) && defined(__ILP32__))
#define NC_TIME64_SPLIT 1
#ifndef SYS_futex_time64
#define SYS_futex_time64 422
#endif
#else
#define NC_TIME64_SPLIT 0
#endif

/* ---- futex ------------------------------------------------------------------ */

static long futex_wait_call(uint32_t *addr, uint32_t expected, int64_t timeout_ns)
{
    int64_t sec = timeout_ns / 1000000000, nsec = timeout_ns % 1000000000;
#if NC_TIME64_SPLIT
    /* The kernel's own layout of a 64-bit timespec, whatever time_t is. */
    struct {
        int64_t tv_sec;
        int64_t tv_nsec;
    } ts64 = {sec, nsec};
    long r = syscall(SYS_futex_time64, addr, FUTEX_WAIT, expected, timeout_ns >= 0 ? &ts64 : NULL, NULL, 0);
    if (r == 0 || errno != ENOSYS)
        return r;
    /* A kernel before 5.1: the old call with a 32-bit timespec (clamped; a wait may wake early and retry). */
    struct {
        int32_t tv_sec;
        int32_t tv_nsec;
    } ts32 = {sec > INT32_MAX ? INT32_MAX : (int32_t)sec, (int32_t)nsec};
#ifdef SYS_futex
    return syscall(SYS_futex, addr, FUTEX_WAIT, expected, timeout_ns >= 0 ? &ts32 : NULL, NULL, 0);
#else
    CORTEX_UNUSED(ts32);
    errno = ENOSYS;
    return -1;
#endif
#else
    struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = (long)nsec};
    return syscall(SYS_futex, addr, FUTEX_WAIT, expected, timeout_ns >= 0 ? &ts : NULL, NULL, 0);
#endif
}

int cortex__os_futex_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns)
{
    if (cortex__os_no(CORTEX__OS_NO_FUTEX))
        return cortex__os_poll_wait(addr, expected, timeout_ns);
    /* Relative timeout with FUTEX_WAIT.  Not FUTEX_PRIVATE_FLAG: other processes wake us. */
    long r = futex_wait_call((uint32_t *)addr, expected, timeout_ns);
    if (r == 0)
        return 0;
    if (errno == ENOSYS)
        return cortex__os_poll_wait(addr, expected, timeout_ns);
    return -errno; /* -EAGAIN (value changed), -ETIMEDOUT, -EINTR */
}

int cortex__os_futex_wake(cortex__a32 *addr, uint32_t n)
{
    if (cortex__os_no(CORTEX__OS_NO_FUTEX))
        return 0; /* waiters poll */
#if NC_TIME64_SPLIT && !defined(SYS_futex)
    long nr = SYS_futex_time64; /* a wake takes no timespec: either call does */
#else
    long nr = SYS_futex;
#endif
    long r = syscall(nr, (uint32_t *)addr, FUTEX_WAKE, (int)(n > (uint32_t)INT32_MAX ? INT32_MAX : n), NULL, NULL, 0);
    return r < 0 ? -errno : (int)r;
}

/* futex_waitv (Linux 5.16): the same number on every architecture. */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define NC_FUTEX2_SIZE_U32 0x02u /* shared (no FUTEX2_PRIVATE): other processes wake us */

int cortex__os_futex_waitv(cortex__a32 *const *words, const uint32_t *vals, unsigned n, int64_t timeout_ns)
{
    if (n == 0 || n > CORTEX__OS_WAITV_MAX || cortex__os_no(CORTEX__OS_NO_FUTEX | CORTEX__OS_NO_FUTEX_WAITV))
        return -ENOSYS;
    struct {
        uint64_t val, uaddr;
        uint32_t flags, reserved;
    } w[CORTEX__OS_WAITV_MAX];
    for (unsigned i = 0; i < n; i++) {
        w[i].val = vals[i];
        w[i].uaddr = (uint64_t)(uintptr_t)words[i];
        w[i].flags = NC_FUTEX2_SIZE_U32;
        w[i].reserved = 0;
    }
    /* The timeout is absolute on CLOCK_MONOTONIC, in the kernel's 64-bit timespec. */
    struct {
        int64_t tv_sec;
        int64_t tv_nsec;
    } ts;
    if (timeout_ns >= 0) {
        int64_t at = cortex__now_ns() + timeout_ns;
        ts.tv_sec = at / 1000000000;
        ts.tv_nsec = at % 1000000000;
    }
    long r = syscall(SYS_futex_waitv, w, n, 0, timeout_ns >= 0 ? &ts : NULL, CLOCK_MONOTONIC);
    if (r >= 0)
        return (int)r;
    return -errno; /* -EAGAIN, -ETIMEDOUT, -EINTR, -ENOSYS (before 5.16) */
}

/* ---- randomness --------------------------------------------------------------- */

int cortex__os_getrandom(void *buf, size_t len)
{
#ifdef SYS_getrandom
    unsigned char *p = buf;
    while (len > 0) {
        long n = syscall(SYS_getrandom, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
#else
    CORTEX_UNUSED(buf);
    CORTEX_UNUSED(len);
    return -ENOSYS;
#endif
}

/* ---- segments ----------------------------------------------------------------- */

int cortex__os_shm_open(const char *name, int oflag, unsigned mode)
{
    int fd = shm_open(name, oflag | O_CLOEXEC, (mode_t)mode);
    return fd < 0 ? -errno : fd;
}

bool cortex__os_segment_mode(unsigned st_mode) { return S_ISREG((mode_t)st_mode); }

int cortex__os_set_mode(int fd, unsigned mode) { return fchmod(fd, (mode_t)mode) != 0 ? -errno : 0; }

int cortex__os_size_fd(int fd, uint64_t size, const char **call)
{
    return cortex__os_size_fd_posix(fd, size, true, call);
}

int cortex__os_memfd(const char *name, uint64_t size, bool *sealed, const char **call)
{
    *sealed = false;
#if defined(SYS_memfd_create) && defined(F_ADD_SEALS) && defined(MFD_ALLOW_SEALING)
    if (!cortex__os_no(CORTEX__OS_NO_MEMFD)) {
        int fd = (int)syscall(SYS_memfd_create, name ? name : "neocortex", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 && errno != ENOSYS) {
            *call = "memfd_create";
            return -errno;
        }
        if (fd >= 0)
            return cortex__os_seal_memfd(fd, size, sealed, call);
    }
#else
    CORTEX_UNUSED(name);
#endif
    return cortex__os_anon_shm(size, call);
}

int cortex__os_fd_sealed(int fd) { return cortex__os_fd_sealed_posix(fd); }

/* ---- membarrier --------------------------------------------------------------- */

static pid_t membarrier_pid; /* the process that registered (a forked child registers again) */

bool cortex__os_membarrier_register(void)
{
#ifdef SYS_membarrier
    if (cortex__os_no(CORTEX__OS_NO_MEMBARRIER))
        return false;
    pid_t self = cortex__self_pid();
    if (__atomic_load_n(&membarrier_pid, __ATOMIC_ACQUIRE) == self)
        return true;
    long cmds = syscall(SYS_membarrier, NC_MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & NC_MEMBARRIER_CMD_GLOBAL_EXPEDITED) ||
        !(cmds & NC_MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
        return false;
    if (syscall(SYS_membarrier, NC_MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) != 0)
        return false;
    __atomic_store_n(&membarrier_pid, self, __ATOMIC_RELEASE);
    return true;
#else
    return false;
#endif
}

int cortex__os_membarrier(void)
{
#ifdef SYS_membarrier
    if (cortex__os_no(CORTEX__OS_NO_MEMBARRIER))
        return -ENOSYS;
    return syscall(SYS_membarrier, NC_MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0 ? -errno : 0;
#else
    return -ENOSYS;
#endif
}

/* ---- sockets ------------------------------------------------------------------ */

int cortex__os_recv_batch(int fd, int max, void *bufs, size_t size, size_t *lens, bool *eof)
{
    enum { BATCH = 16 };
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    *eof = false;
    if (max > BATCH)
        max = BATCH;
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < max; i++) {
        iov[i].iov_base = (char *)bufs + (size_t)i * size;
        iov[i].iov_len = size;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd, mm, (unsigned)max, MSG_DONTWAIT, NULL);
    if (got < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    /* At end of file recvmmsg reports empty messages: count the ones before the first. */
    int n = 0;
    while (n < got && mm[n].msg_len > 0) {
        lens[n] = mm[n].msg_len;
        n++;
    }
    *eof = n < got;
    return n;
}

int cortex__os_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int cortex__os_is_eventfd(int fd)
{
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return -errno;
    target[n] = '\0';
    return strcmp(target, "anon_inode:[eventfd]") == 0;
}

int cortex__os_wait_set(int edge_fd, uint32_t edge_tag, int level_fd, uint32_t level_tag)
{
    int set = epoll_create1(EPOLL_CLOEXEC);
    if (set < 0)
        return -errno;
    struct epoll_event edge = {.events = EPOLLIN | EPOLLET, .data.u32 = edge_tag};
    struct epoll_event level = {.events = EPOLLIN, .data.u32 = level_tag};
    if (epoll_ctl(set, EPOLL_CTL_ADD, edge_fd, &edge) != 0 || epoll_ctl(set, EPOLL_CTL_ADD, level_fd, &level) != 0) {
        int e = errno;
        close(set);
        return -e;
    }
    return set;
}

int cortex__os_wait_set_wait(int set, uint32_t *tags, int max, int ms)
{
    struct epoll_event ev[8];
    if (max > 8)
        max = 8;
    int n = epoll_wait(set, ev, max, ms);
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++)
        tags[i] = ev[i].data.u32;
    return n;
}

int cortex__os_accept(int listen_fd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 && errno == ENOSYS)
        return cortex__os_accept_posix(listen_fd);
    return fd < 0 ? -errno : fd;
}

/* ---- processes ------------------------------------------------------------------ */

/* Linux names processes through /proc (lib/os/proc.c); there is no other source. */
int cortex__os_pid_info(pid_t pid, char *state, uint64_t *start)
{
    CORTEX_UNUSED(pid);
    CORTEX_UNUSED(state);
    CORTEX_UNUSED(start);
    return -ENOSYS;
}

/* ---- SysV IPC --------------------------------------------------------------------- */

int cortex__os_semtimedop(int semid, struct sembuf *op, int64_t timeout_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000), .tv_nsec = (long)(timeout_ns % 1000000000)};
    return semtimedop(semid, op, 1, &ts) != 0 ? -errno : 0;
}

/* glibc names the key field __key; musl __ipc_perm_key, which <sys/ipc.h> spells __key (or key) under _GNU_SOURCE. */
int cortex__os_ipc_key(const struct ipc_perm *perm, int32_t *key)
{
    *key = (int32_t)perm->__key;
    return 0;
}

/* ---- listing the system's segments and processes (tools/inspect) ---------------- */

FILE *cortex__os_sysv_table(void) { return fopen("/proc/sysvipc/shm", "re"); }

int cortex__os_shm_dir_open(void)
{
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

const char *cortex__os_shm_dir(void) { return "/dev/shm"; }

DIR *cortex__os_proc_list(void) { return opendir("/proc"); }

FILE *cortex__os_proc_maps(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    return fopen(path, "re");
}
