/* SPDX-License-Identifier: MIT */
/* lib/os/nofutex.c: platforms without futexes; waiters poll with short sleeps instead. */
#include "internal.h"
#include "atomic.h"

#include <errno.h>

int cortex__os_futex_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns)
{
    if (atomic_load_explicit(addr, memory_order_acquire) != expected)
        return -EAGAIN;
    int64_t step = 50000; /* 50 us */
    if (timeout_ns >= 0 && timeout_ns < step)
        step = timeout_ns;
    cortex__sleep_ns(step);
    return timeout_ns >= 0 && timeout_ns <= step ? -ETIMEDOUT : 0;
}

int cortex__os_futex_wake(cortex__a32 *addr, uint32_t n)
{
    CORTEX_UNUSED(addr);
    CORTEX_UNUSED(n);
    return 0;
}
