/* SPDX-License-Identifier: MIT */
/* examples/slab: what the zero-copy producer and consumer agree on. */
#ifndef ZC_COMMON_H
#define ZC_COMMON_H

#include <neocortex.h>
#include <stdint.h>

/* A ring of slot handles: the messages themselves stay in the pool. */
SPSC_RING_DECLARE(handle_ring, cortex_handle);

/* The pool's size classes: small, page and large messages. */
static const cortex_pool_class zc_classes[] = {{64, 512}, {4096, 128}, {65536, 16}};
#define ZC_NCLASSES 3u

/* Every message starts with this header; the payload follows in the same slot. */
struct zc_msg {
    uint64_t seq;  /* 1, 2, 3, ... */
    uint32_t len;  /* payload bytes after the header */
    uint32_t sum;  /* FNV-1a of the payload */
};

static inline uint32_t zc_sum(const unsigned char *p, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

#endif
