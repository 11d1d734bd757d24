/* SPDX-License-Identifier: MIT */
/* tests/cell/cell_test_util.h: shared bits of the cell suites. */
#ifndef CELL_TEST_UTIL_H
#define CELL_TEST_UTIL_H

#include <neocortex.h>
#include <stdint.h>
#include <string.h>

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

static inline cortex_opts opts_with(const cortex_sync_ops *ops)
{
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = ops;
    return o;
}

/* The cell's sequence and flag in a mapping (layout asserted in lib/cell/cell.c). */
static inline cortex__a64 *cell_seq_of(cortex_region *r) { return (cortex__a64 *)((char *)cortex_region_payload(r) + 32); }
static inline cortex__a32 *cell_flag_of(cortex_region *r) { return (cortex__a32 *)((char *)cortex_region_payload(r) + 40); }

#endif
