/* SPDX-License-Identifier: MIT */
/*
 * lib/channel/channel_layout.h: the shared layout of a channel segment's
 * payload (see channel.c), for the library and its hostile-memory tests.
 */
#ifndef CORTEX_CHANNEL_LAYOUT_H
#define CORTEX_CHANNEL_LAYOUT_H

#include <neocortex/channel.h>
#include <stdint.h>

#define CHAN_HDR_SIZE 512u

/* One class as recorded in the shared header. */
typedef struct chan_cls_rec {
    uint32_t size;
    uint32_t slots;
    uint64_t off; /* slab offset from the payload start */
    uint64_t len; /* slab bytes */
} chan_cls_rec;

/* The shared header (immutable after READY). */
typedef struct chan_hdr {
    uint64_t magic;
    uint32_t version;
    uint32_t nclasses;
    uint32_t ring_capacity;
    uint32_t elem_size;
    uint32_t elem_align;
    uint32_t reserved0;
    uint64_t ring_off;
    uint64_t ring_len;
    chan_cls_rec cls[CORTEX_CHANNEL_MAX_CLASSES];
    uint32_t check; /* FNV-1a 32 of every byte before it */
    uint32_t reserved1;
} chan_hdr;

_Static_assert(sizeof(chan_hdr) <= CHAN_HDR_SIZE, "channel header fits its space");

/* What travels through the ring: the handle, its class and the message length. */
typedef struct chan_rec {
    uint64_t handle;
    uint32_t cls;
    uint32_t len;
} chan_rec;

/*
 * Tests and the model checker (tests/model/scn_channel.c): a channel view
 * over caller memory, no segment.  With @p classes the memory is laid out
 * first (as cortex_channel_create() does); with NULL it is attached.
 * cortex_channel_close() closes the view (the memory stays).
 */
int cortex__channel_open_mem(cortex_channel **ret, void *mem, size_t len, const cortex_pool_class *classes,
                             unsigned n, size_t elem_size, size_t elem_align, cortex_role role);

#endif
