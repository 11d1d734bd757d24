/* SPDX-License-Identifier: MIT */
/*
 * lib/slab/slab_layout.h: the slab's shared-memory layout (internal; tests
 * and the inspector read it too).  Fixed-width fields and offsets only.
 *
 *   [0, 64)      struct cortex__slab_hdr: immutable after init, checksummed
 *   [64, 128)    head: the Treiber stack's head word, alone on its line
 *   [128, 192)   counters: failed allocations, high-water mark
 *   [192, 1216)  process table: 128 words, entry 0 unused
 *   meta_off     slots x struct cortex__slot_meta (16 bytes: word, next)
 *   depot_off    (after the metadata, on a line) the magazine depot: depots x
 *                struct cortex__slab_depot (a state line + 32 entries); its
 *                offset and count follow from the slot count (geometry), so
 *                the header's data_off check covers them
 *   data_off     slots x stride bytes of payload
 *
 * Head word:   tag:32 | claim parity:1 | claimer:7 | top:24
 *   top      index + 1 of the stack's top slot (0: empty)
 *   claimer  0, or the process-table id of the process that has just taken
 *            the top slot (it is then no longer free: the free list starts
 *            at its link); the pop that takes a slot IS the CAS that sets
 *            this field, so the owner is recorded in the same atomic step
 *   parity   low bit of the taken slot's generation while it was free, so a
 *            helper can tell "taken, slot word not yet written" from
 *            "written and already freed again"
 *   tag      +1 on every push and pop (ABA)
 * Slot word:   generation:32 | state:2 | process-table id:8 | pid:22
 *   generation  +1 on every allocation and +2 on every receive (so its low
 *               bit flips once per allocation: the head's parity above);
 *               each slot starts at a value derived from the slab id
 * Handle:      generation:32 | slab tag:8 | slot index + 1:24
 *   tag      low 8 bits of the header's random id: a handle of another slab
 *            is refused by its tag, or (1 in 256) by its generation, whose
 *            starting values differ from slab to slab
 * Process-table entry: pid:32 | the process's stamp (lib/os/proc.c: a boot time at
 *                      which it ran under that pid; 0 = free entry)
 *
 * Magazines (slab.c, "magazines"): a FREE slot word whose process-table id
 * is not 0 is a slot cached by that process (in its private magazine, or in
 * a depot buffer it filled); a FREE word with id 0 is on the shared stack.
 * Depot state word: kind:2 | (unused):6 | id:8 | count:8 | filler:8
 *   kind     EMPTY, FILLING (id is filling it), FULL (id filled it: its
 *            count entries are valid), TAKING (id is taking it; filler is
 *            who filled it, the id its entries' slots still carry until the
 *            taker relabels them)
 * Depot entry: generation:32 | (unused):8 | slot index + 1:24, the slot word
 *   the filler left (FREE, the filler's id, that generation)
 */
#ifndef CORTEX_SLAB_LAYOUT_H
#define CORTEX_SLAB_LAYOUT_H

#include "atomic.h"
#include <neocortex/slab.h>
#include <stdint.h>

#define CORTEX__SLAB_MAGIC UINT64_C(0x313042414c535843) /* "CXSLAB01" */
#define CORTEX__SLAB_VERSION 4u /* 2: random id, handles carry its tag; 3: magazine depot; 4: depot for every slot */
#define CORTEX__SLAB_PROC_ENTRIES 128u
#define CORTEX__SLAB_MAG_BATCH 32u  /* most slots a depot buffer holds */
#define CORTEX__SLAB_DEPOTS_MAX 64u /* depot buffers: slots / min(slots / 4, 32) rounded up, in [1, 64] */

/*
 * FREEING: freed by its owner (who stays recorded) and being linked.  Only
 * the stack's top, or a slot not yet linked, can be FREEING: whoever pushes
 * over a FREEING top first turns it FREE, and a taker overwrites it.  So a
 * FREEING slot that is not the top belongs to a free that has not linked
 * it yet, and reclaim links it if its owner died.
 */
enum { CORTEX__SLOT_FREE = 0, CORTEX__SLOT_ALLOC = 1, CORTEX__SLOT_INFLIGHT = 2, CORTEX__SLOT_FREEING = 3 };
#define CX_IS_FREE(st) ((st) == CORTEX__SLOT_FREE || (st) == CORTEX__SLOT_FREEING)

struct cortex__slab_hdr {
    uint64_t magic;
    uint32_t version;
    uint32_t slots;
    uint32_t slot_size;
    uint32_t slot_align;
    uint32_t stride;
    uint32_t procs;
    uint64_t meta_off;
    uint64_t data_off;
    uint64_t total;
    uint32_t id;    /* random at format; its low 8 bits are the handles' tag */
    uint32_t check; /* FNV-1a 32 of the bytes before it */
};
_Static_assert(sizeof(struct cortex__slab_hdr) == 64, "slab header is one cache line");

struct cortex__slab_shared {
    struct cortex__slab_hdr hdr;
    cortex__a64 head;
    uint8_t pad1[56];
    cortex__a64 failed;
    cortex__a64 high_water;
    uint8_t pad2[48];
    cortex__a64 procs[CORTEX__SLAB_PROC_ENTRIES];
};
_Static_assert(offsetof(struct cortex__slab_shared, head) == 64, "head on its own line");
_Static_assert(offsetof(struct cortex__slab_shared, failed) == 128, "counters on their own line");
_Static_assert(offsetof(struct cortex__slab_shared, procs) == 192, "process table after the counters");
_Static_assert(sizeof(struct cortex__slab_shared) == 1216, "slab shared header size");

struct cortex__slot_meta {
    cortex__a64 word; /* generation | state | owner */
    cortex__a64 next; /* free-list link: index + 1 of the next free slot, 0 = end */
};
_Static_assert(sizeof(struct cortex__slot_meta) == 16, "slot metadata is 16 bytes");

struct cortex__slab_depot {
    cortex__a64 state;
    uint8_t pad[56];
    cortex__a64 ent[CORTEX__SLAB_MAG_BATCH];
};
_Static_assert(sizeof(struct cortex__slab_depot) == 320, "depot buffer: a state line and 32 entries");

enum { CORTEX__DEPOT_EMPTY = 0, CORTEX__DEPOT_FILLING = 1, CORTEX__DEPOT_FULL = 2, CORTEX__DEPOT_TAKING = 3 };
#define CX_D_KIND(d) ((uint32_t)((d)&3u))
#define CX_D_PROC(d) ((uint32_t)(((d) >> 8) & 0xffu))
#define CX_D_COUNT(d) ((uint32_t)(((d) >> 16) & 0xffu))
#define CX_D_FILLER(d) ((uint32_t)(((d) >> 24) & 0xffu))
static inline uint64_t cx_depot(uint32_t kind, uint32_t proc, uint32_t count, uint32_t filler)
{
    return (uint64_t)(kind & 3u) | ((uint64_t)(proc & 0xffu) << 8) | ((uint64_t)(count & 0xffu) << 16) |
           ((uint64_t)(filler & 0xffu) << 24);
}

/* ---- word packing ---- */
#define CX_HEAD_TOP(h) ((uint32_t)((h)&0xffffffu))
#define CX_HEAD_CLAIM(h) ((uint32_t)(((h) >> 24) & 0x7fu))
#define CX_HEAD_PAR(h) ((uint32_t)(((h) >> 31) & 1u))
#define CX_HEAD_TAG(h) ((uint32_t)((h) >> 32))
static inline uint64_t cx_head(uint32_t tag, uint32_t par, uint32_t claim, uint32_t top)
{
    return ((uint64_t)tag << 32) | ((uint64_t)(par & 1u) << 31) | ((uint64_t)(claim & 0x7fu) << 24) |
           (top & 0xffffffu);
}

#define CX_W_GEN(w) ((uint32_t)((w) >> 32))
#define CX_W_STATE(w) ((uint32_t)(((w) >> 30) & 3u))
#define CX_W_PROC(w) ((uint32_t)(((w) >> 22) & 0xffu))
#define CX_W_PID(w) ((uint32_t)((w)&0x3fffffu))
static inline uint64_t cx_word(uint32_t gen, uint32_t state, uint32_t proc, uint32_t pid)
{
    return ((uint64_t)gen << 32) | ((uint64_t)(state & 3u) << 30) | ((uint64_t)(proc & 0xffu) << 22) |
           (pid & 0x3fffffu);
}

/* Handle packing (the public cortex_handle_index()/_tag()/_generation() read it). */
static inline cortex_handle cx_handle(uint32_t gen, uint32_t tag, uint32_t slot1)
{
    return ((uint64_t)gen << 32) | ((uint64_t)(tag & 0xffu) << 24) | (slot1 & 0xffffffu);
}
#define CX_H_SLOT1(h) ((uint32_t)((h)&0xffffffu))
#define CX_ID_TAG(id) ((uint32_t)((id)&0xffu))

/* Layout arithmetic shared by init, attach and the inspector. */
struct cortex__slab_geom {
    uint32_t stride;
    uint32_t align; /* effective slot alignment */
    uint32_t depots; /* depot buffers */
    uint64_t meta_off, depot_off, data_off, total;
};
/* 0 on success, -1 if the arguments are out of range. */
int cortex__slab_geometry(uint32_t slots, uint32_t slot_size, uint32_t slot_align, struct cortex__slab_geom *g);
/* Validates a header copy against len bytes of memory; 0 or -EBADMSG (recorded). */
int cortex__slab_check_hdr(const struct cortex__slab_hdr *h, uint64_t len, const char *what);
/* A fresh random slab id (fixed in model-checker builds, which must replay). */
uint32_t cortex__slab_new_id(void);
/* Is process-table entry value not certainly dead?  (pid + stamp; pid reuse = dead; unknown = alive.) */
int cortex__slab_proc_alive(uint64_t ent);

#endif
