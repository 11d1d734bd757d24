/* SPDX-License-Identifier: MIT */
/* lib/slab/slab_internal.h: the process-local slab view (internal). */
#ifndef CORTEX_SLAB_INTERNAL_H
#define CORTEX_SLAB_INTERNAL_H

#include "atomic.h"
#include <stdbool.h>
#include <neocortex/slab.h>

struct cortex__slab_shared;
struct cortex__slot_meta;

/* One process's view of a slab: pointers into its own mapping, never shared. */
struct cortex_slab {
    cortex_slab_fast_ f; /* first: the header's inline fast paths read it (include/neocortex/slab.h) */
    struct cortex__slab_shared *sh;
    struct cortex__slot_meta *meta;
    uint8_t *data;
    uint32_t slots;
    uint32_t slot_size;
    uint32_t stride;
    uint32_t pid;      /* pid this view registered under */
    uint32_t tag;      /* the handles' tag: low 8 bits of the header's id (private copy) */
    uint64_t len;      /* bytes the slab spans */
    cortex__a64 reg;   /* fork epoch << 8 | process-table id (process-local, atomic for threads) */
    cortex_region *region; /* segment form: the region; NULL for raw */
    struct cortex__slab_depot *depot; /* the shared depot buffers */
    uint32_t depots;
    /* The magazine (cortex_slab_magazine()): used by mag_owner only; its entries are in f. */
    uint32_t mag_batch;     /* 0: off */
    uint32_t mag_keep;      /* entries a full magazine keeps after it gives a batch away (batch, or 0) */
    bool mag_sweep;         /* refills take the depot's buffers in turn (oldest first), not from the last one */
    uint32_t mag_hint;      /* depot buffer to try first */
    uint64_t mag_epoch;     /* fork epoch the entries belong to */
    const void *mag_owner;  /* the owning thread's token */
};

/* Writes a fresh slab with id @p id (cortex__slab_new_id()) into mem (no view). */
int cortex__slab_format(void *mem, size_t len, uint32_t slots, uint32_t slot_size, uint32_t slot_align,
                        uint32_t id);
/* Fills a caller-provided view (embedded in a pool) over a formatted slab. */
int cortex__slab_view_init(cortex_slab *s, void *mem, size_t len, uint32_t slot_size, uint32_t slot_align);

/*
 * A channel's magazine batch for a class of @p slots: @p batch, at most a
 * quarter of the slots.  The depot's size (cortex__slab_geometry()) assumes
 * this rule with the largest batch, so that such batches never overflow it.
 */
static inline uint32_t cortex__slab_quarter_batch(uint32_t slots, uint32_t batch)
{
    return slots / 4u < batch ? slots / 4u : batch;
}

/*
 * cortex_slab_magazine() tuned for one side of a producer/consumer pair (a
 * channel).  @p keep: entries that stay cached after a full magazine gives
 * a batch to the depot (cortex_slab_magazine() keeps @p batch, so alloc and
 * free can alternate without the depot; a view that only frees keeps 0:
 * its cached slots are slots its peer waits for).  @p sweep: an empty
 * magazine refills from the depot's buffers in turn, starting after the
 * one it took last, so the slots freed longest ago come back first
 * (cortex_slab_magazine() starts at the one it took last); and while some
 * slot was never used and the depot holds the whole slab in this view's
 * batches, it takes never-used slots from the shared stack first
 * (stack_first() in slab.c).  0 or -EINVAL.
 */
int cortex__slab_magazine_tune(cortex_slab *s, uint32_t batch, uint32_t keep, bool sweep);

/* Gives the view's cached slots back and turns its magazine off (close). */
int cortex__slab_mag_close(cortex_slab *s);

/* Read-only scan of one slab in mem (len bytes), added to *out (the inspector; fuzzed). */
int cortex__slab_inspect_mem(const uint8_t *mem, uint64_t len, cortex_slab_info *out);
#if defined(CORTEX_SLAB_TEST_HOOKS)
extern void (*cortex__slab_hook_before_cas)(cortex_slab *s);
extern void (*cortex__slab_hook_after_take)(cortex_slab *s);
extern void (*cortex__slab_hook_reclaim_before_push)(cortex_slab *s);
#endif

#endif
