/* SPDX-License-Identifier: MIT */
/* tests/gen: the one .c file that defines the exported copies of gen_proto.h. */
#include "gen_proto.h"

SPSC_RING_DEFINE(gen_ring, struct gen_sample);
CORTEX_SLAB_DEFINE(gen_slab, struct gen_sample);
POOL_DEFINE(gen_pool, struct gen_sample);

void *gen_define_addresses(int which)
{
    switch (which) {
    case 0:
        return (void *)(uintptr_t)gen_ring_push;
    case 1:
        return (void *)(uintptr_t)gen_slab_alloc;
    default:
        return (void *)(uintptr_t)gen_pool_alloc;
    }
}
