/* SPDX-License-Identifier: MIT */
/* tests/cell/cell_test_util.h: shared bits of the cell suites. */
#ifndef CELL_TEST_UTIL_H
#define CELL_TEST_UTIL_H

#include <errno.h>
#include <neocortex.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "cortex_config.h"
#include "internal.h"

/* The backends compiled into this build, futex first. */
static inline int cell_backends(const cortex_sync_ops **out)
{
    int n = 0;
    if (cortex_sync_available(&cortex_sync_futex))
        out[n++] = &cortex_sync_futex;
    if (cortex_sync_available(&cortex_sync_semaphore))
        out[n++] = &cortex_sync_semaphore;
    return n;
}

#define FOR_EACH_BACKEND(ops)                                                                                    \
    const cortex_sync_ops *backends_[2];                                                                         \
    int nbackends_ = cell_backends(backends_);                                                                   \
    for (int bi_ = 0; bi_ < nbackends_; bi_++)                                                                   \
        for (const cortex_sync_ops *ops = backends_[bi_]; ops; ops = NULL)

/* One byte through a pipe between a test and its forked child (a child that cannot write exits 90). */
static inline void put(int fd, char ch)
{
    if (write(fd, &ch, 1) != 1)
        _exit(90);
}
static inline char get(int fd)
{
    char ch = 0;
    if (read(fd, &ch, 1) != 1)
        return 0;
    return ch;
}

static inline cortex_opts opts_with(const cortex_sync_ops *ops)
{
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = ops;
    return o;
}

/*
 * A user backend over a built-in one whose lock cannot wait with a deadline:
 * -ENOTSUP for a positive timeout (the cell then falls back to tries with
 * timeout 0, which this counts).  One at a time per process.
 */
struct untimed_backend {
    const cortex_sync_ops *base;
    int tries;
    cortex_sync_ops ops;
};
static inline struct untimed_backend *untimed_state(void)
{
    static struct untimed_backend u;
    return &u;
}
static inline int untimed_lock(void *shared, void *local, int64_t timeout_ns)
{
    struct untimed_backend *u = untimed_state();
    if (timeout_ns > 0)
        return -ENOTSUP;
    if (timeout_ns == 0)
        u->tries++;
    return u->base->lock(shared, local, timeout_ns);
}
static inline const cortex_sync_ops *untimed_over(const cortex_sync_ops *base)
{
    struct untimed_backend *u = untimed_state();
    u->base = base;
    u->tries = 0;
    u->ops = *base;
    u->ops.id = CORTEX_SYNC_ID_USER_MIN + 40;
    u->ops.name = "untimed";
    u->ops.lock = untimed_lock;
    return &u->ops;
}

/* The cell's sequence and flag in a mapping (layout asserted in lib/cell/cell.c). */
static inline cortex__a64 *cell_seq_of(cortex_region *r) { return (cortex__a64 *)((char *)cortex_region_payload(r) + 32); }
static inline cortex__a32 *cell_flag_of(cortex_region *r) { return (cortex__a32 *)((char *)cortex_region_payload(r) + 40); }
static inline cortex__a32 *cell_waiters_of(cortex_region *r) { return (cortex__a32 *)((char *)cortex_region_payload(r) + 44); }

#endif
