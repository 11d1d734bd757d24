/* SPDX-License-Identifier: MIT */
/* tests/gen: the one-exported-copy forms, as a program's own header would use them. */
#ifndef GEN_PROTO_H
#define GEN_PROTO_H

#include <neocortex.h>

struct gen_sample {
    uint32_t seq;
    uint32_t value;
};

SPSC_RING_PROTOTYPE(gen_ring, struct gen_sample);
CORTEX_SLAB_PROTOTYPE(gen_slab, struct gen_sample);
POOL_PROTOTYPE(gen_pool, struct gen_sample);

/* Addresses of the exported functions as gen_define.c sees them (the same copy everywhere). */
void *gen_define_addresses(int which);

#endif
