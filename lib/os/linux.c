/* SPDX-License-Identifier: MIT */
/* lib/os/linux.c: the futex system call (shared, not private: segments cross processes). */
#define _GNU_SOURCE
#include "internal.h"
#include "atomic.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int cortex__os_futex_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* Relative timeout with FUTEX_WAIT. Not FUTEX_PRIVATE_FLAG: other processes wake us. */
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, expected, tsp, NULL, 0);
    if (r == 0)
        return 0;
    return -errno; /* -EAGAIN (value changed), -ETIMEDOUT, -EINTR */
}

int cortex__os_futex_wake(cortex__a32 *addr, uint32_t n)
{
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, (int)(n > (uint32_t)INT32_MAX ? INT32_MAX : n),
                     NULL, NULL, 0);
    return r < 0 ? -errno : (int)r;
}
