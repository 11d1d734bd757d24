/* SPDX-License-Identifier: MIT */
/* lib/os/posix.c: clocks, randomness, this process's cached identity, fd flags. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#if CORTEX_HAVE_GETRANDOM
#include <sys/random.h>
#endif

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
#if CORTEX_HAVE_GETRANDOM
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (len == 0)
        return 0;
#endif
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
