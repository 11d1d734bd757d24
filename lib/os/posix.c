/* SPDX-License-Identifier: MIT */
/*
 * lib/os/posix.c: clocks, randomness, this process's cached identity, fd
 * flags, and the portable fallbacks every platform file (lib/os/linux.c,
 * darwin.c, freebsd.c, generic.c) falls back on.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef CORTEX_OS_FORCE
#define CORTEX_OS_FORCE 0u
#endif

static unsigned forced = CORTEX_OS_FORCE;

unsigned cortex__os_forced(void) { return __atomic_load_n(&forced, __ATOMIC_RELAXED); }

void cortex__os_force(unsigned mask) { __atomic_store_n(&forced, mask, __ATOMIC_RELAXED); }

int64_t cortex__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cortex__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cortex__deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return INT64_MAX;
    int64_t now = cortex__now_ns();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

void cortex__sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cortex__random(void *buf, size_t len)
{
    unsigned char *p = buf;
    if (cortex__os_getrandom(buf, len) == 0)
        return 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            return -e;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return 0;
}

static pid_t cached_pid;
static uint64_t cached_start;
static uint32_t cached_stamp;

static void after_fork_child(void)
{
    cached_pid = 0;
    cached_start = 0;
    cached_stamp = 0;
}

pid_t cortex__self_pid(void)
{
    static int registered;
    /* Load first: an exchange on every call costs a locked instruction on the lock fast path. */
    if (!__atomic_load_n(&registered, __ATOMIC_ACQUIRE) && !__atomic_exchange_n(&registered, 1, __ATOMIC_ACQ_REL))
        pthread_atfork(NULL, NULL, after_fork_child);
    pid_t p = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
    if (p == 0) {
        p = getpid();
        __atomic_store_n(&cached_pid, p, __ATOMIC_RELAXED);
    }
    return p;
}

uint64_t cortex__self_start(void)
{
    cortex__self_pid();
    uint64_t s = __atomic_load_n(&cached_start, __ATOMIC_RELAXED);
    if (s == 0) {
        s = cortex__pid_start_time(getpid());
        __atomic_store_n(&cached_start, s, __ATOMIC_RELAXED);
    }
    return s;
}

uint32_t cortex__self_stamp(void)
{
    cortex__self_pid();
    uint32_t s = __atomic_load_n(&cached_stamp, __ATOMIC_RELAXED);
    if (s == 0) {
        s = cortex__make_stamp();
        __atomic_store_n(&cached_stamp, s, __ATOMIC_RELAXED);
    }
    return s;
}

int cortex__set_cloexec(int fd, bool on)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -errno;
    int nflags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    if (nflags != flags && fcntl(fd, F_SETFD, nflags) < 0)
        return -errno;
    return 0;
}

uint32_t cortex__fnv1a32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint64_t cortex__fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* ---- portable fallbacks ---------------------------------------------------- */

/* Without futexes a waiter polls: wakes cost nothing and are never lost, a wait costs up to 50 us. */
int cortex__os_poll_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns)
{
    if (atomic_load_explicit(addr, memory_order_acquire) != expected)
        return -EAGAIN;
    int64_t step = 50000; /* 50 us */
    if (timeout_ns >= 0 && timeout_ns < step)
        step = timeout_ns;
    cortex__sleep_ns(step);
    return timeout_ns >= 0 && timeout_ns <= step ? -ETIMEDOUT : 0;
}

/* macOS refuses O_CLOEXEC (and O_NOFOLLOW) in shm_open: set FD_CLOEXEC afterwards instead. */
int cortex__os_shm_open_posix(const char *name, int oflag, unsigned mode)
{
    int fd = shm_open(name, oflag & ~(O_CLOEXEC | O_NOFOLLOW), (mode_t)mode);
    if (fd < 0)
        return -errno;
    int rc = cortex__set_cloexec(fd, true);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int cortex__os_size_fd_posix(int fd, uint64_t size, bool reserve, const char **call)
{
    if ((uint64_t)(off_t)size != size || (off_t)size < 0) {
        *call = "ftruncate";
        return -EFBIG;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        *call = "ftruncate";
        return -errno;
    }
#if CORTEX_HAVE_POSIX_FALLOCATE
    if (reserve && !cortex__os_no(CORTEX__OS_NO_FALLOCATE)) {
        int e = posix_fallocate(fd, 0, (off_t)size);
        /* Refused for this kind of object (FreeBSD shm: ENODEV; tmpfs without it: EOPNOTSUPP): sized, not reserved. */
        if (e != 0 && e != EOPNOTSUPP && e != EINVAL && e != ENODEV) {
            *call = "posix_fallocate";
            return -e;
        }
    }
#else
    CORTEX_UNUSED(reserve);
#endif
    return 0;
}

/*
 * Where there is no memfd: a shm object under a random name, unlinked at
 * once, so only the fd (inherited or passed) reaches it.  It cannot be
 * sealed: attachers must accept it with CORTEX_TRUST_UNSEALED_FD.
 */
int cortex__os_anon_shm(uint64_t size, const char **call)
{
    for (int tries = 0; tries < 16; tries++) {
        uint64_t rnd = 0;
        char name[32];
        if (cortex__random(&rnd, sizeof rnd) < 0)
            rnd = (uint64_t)cortex__now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
        snprintf(name, sizeof name, "/ncanon.%016llx", (unsigned long long)rnd);
        int fd = cortex__os_shm_open_posix(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd == -EEXIST)
            continue;
        if (fd < 0) {
            *call = "shm_open";
            return fd;
        }
        shm_unlink(name);
        int rc = cortex__os_size_fd_posix(fd, size, true, call);
        if (rc < 0) {
            close(fd);
            return rc;
        }
        return fd;
    }
    *call = "shm_open";
    return -EEXIST;
}

/*
 * Sizes a new memfd, then seals it: a peer may not shrink it under us
 * (SIGBUS) or grow it.  @fd, or -errno with @fd closed.
 */
int cortex__os_seal_memfd(int fd, uint64_t size, bool *sealed, const char **call)
{
    int rc = cortex__os_size_fd(fd, size, call);
#ifdef F_ADD_SEALS
    if (rc == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        *call = "fcntl(F_ADD_SEALS)";
        rc = -errno;
    }
#else
    if (rc == 0) {
        *call = "fcntl(F_ADD_SEALS)";
        rc = -ENOTSUP;
    }
#endif
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *sealed = true;
    return fd;
}

int cortex__os_fd_sealed_posix(int fd)
{
#ifdef F_GET_SEALS
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0)
        return errno == EINVAL ? -ENOTSUP : -errno; /* EINVAL: not a sealable file (not a memfd) */
    return (seals & F_SEAL_SHRINK) ? 1 : 0;
#else
    CORTEX_UNUSED(fd);
    return -ENOTSUP;
#endif
}

int cortex__os_accept_posix(int listen_fd)
{
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0)
        return -errno;
    cortex__set_cloexec(fd, true);
    return fd;
}
