/* SPDX-License-Identifier: MIT */
/*
 * lib/broadcast/broadcast_layout.h: the broadcast ring's shared layout
 * (internal).  The public header documents the same offsets.
 */
#ifndef CORTEX_BROADCAST_LAYOUT_H
#define CORTEX_BROADCAST_LAYOUT_H

#include "internal.h"
#include "atomic.h"

#include <neocortex/broadcast.h>

/* One line per reader.  pid, stamp, start and image are the identity the ring's roles use (lib/os/proc.c). */
typedef struct cortex_bc_reader {
    cortex__a32 pid;    /* holder; 0 free; -pid while it joins */
    cortex__a32 stamp;  /* holder's stamp */
    cortex__a64 start;  /* holder's start time */
    cortex__a64 cursor; /* next index it reads, published per batch (it writes; the writer reads) */
    cortex__a64 image;  /* holder's image token: tells an exec'd image from its predecessor */
    cortex__a32 asleep; /* 1: the holder counted itself in data_waiters (whoever reclaims a dead holder's entry withdraws it) */
    uint8_t pad1[28];
} cortex_bc_reader;

typedef struct cortex_bc_shared {
    /* line 0: written once at create, then immutable and validated by every join */
    uint64_t magic;        /* CORTEX_BROADCAST_MAGIC */
    uint32_t version;      /* CORTEX_BROADCAST_VERSION */
    uint32_t header_size;  /* CORTEX_BROADCAST_HEADER_SIZE */
    uint32_t elem_size;
    uint32_t elem_align;
    uint32_t capacity;     /* power of two */
    uint32_t max_readers;  /* 1..64 */
    uint32_t flags;        /* CORTEX_BROADCAST_LOSSY or 0 */
    uint32_t slot_size;    /* elem_size rounded up to 8 */
    uint64_t slots_offset; /* header_size + 64 * max_readers */
    uint64_t total_size;   /* slots_offset + capacity * slot_size */
    uint32_t check;        /* FNV-1a 32 of bytes [0, 56) */
    uint32_t pad0;
    /* line 1: the writer */
    cortex__a64 head;      /* elements published (free-running) */
    cortex__a32 closed;    /* 1: the writer closed the ring */
    cortex__a32 wpid;      /* the writer's pid */
    cortex__a64 wstart;    /* the writer's start time */
    cortex__a64 claim;     /* elements the writer has begun to write: head <= claim <= head + capacity */
    cortex__a64 wimage;    /* the writer's image token */
    cortex__a32 wstamp;    /* the writer's stamp */
    cortex__a32 wlight;    /* 1: the writer fences nothing after a publish; sleepers call membarrier (see (3)) */
    uint8_t pad1[16];
    /* line 2: readers asleep in pop_wait: a count, and the word they sleep on */
    cortex__a32 data_waiters;
    cortex__a32 data_futex;
    uint8_t pad2[56];
    /* line 3: the lossless writer asleep in push_wait */
    cortex__a32 space_waiting;
    cortex__a32 space_futex;
    uint8_t pad3[56];
} cortex_bc_shared;

_Static_assert(sizeof(cortex_bc_shared) == CORTEX_BROADCAST_HEADER_SIZE, "broadcast header is 4 cache lines");
_Static_assert(offsetof(cortex_bc_shared, check) == 56, "check covers bytes [0, 56)");
_Static_assert(offsetof(cortex_bc_shared, head) == 64, "writer line (ABI)");
_Static_assert(offsetof(cortex_bc_shared, claim) == 88, "writer's claim (ABI)");
_Static_assert(offsetof(cortex_bc_shared, data_waiters) == 128, "readers' wake line (ABI)");
_Static_assert(offsetof(cortex_bc_shared, space_waiting) == 192, "writer's wake line (ABI)");
_Static_assert(sizeof(cortex_bc_reader) == 64, "one reader per cache line");

/* Each slot: the element in 8-byte words (slot_size bytes); element i lives in slot i & (capacity - 1). */
typedef cortex__a64 cortex_bc_word;

/*
 * lib/waitset: a reader's pop_wait announcement without the sleep, so one
 * waitset sleeps on many sources.  With @announce, counts the reader in
 * data_waiters (fence) and stores the futex word and the value to sleep on
 * in *word / *val; then re-checks.  1 data (or a lap) to read, 0 none
 * (armed if @announce), -EPIPE writer gone and all read (its liveness only
 * when @check_pid), -EBADMSG impossible head, -EINVAL not an open reader.
 * A light writer (no fence) is made up for by a membarrier, as in pop_wait;
 * if that call fails, *word is NULL: the caller must poll this reader, and
 * a failure (< 0) then returns with the count withdrawn (nothing to disarm).
 */
int cortex__broadcast_wait_arm(cortex_broadcast *b, bool announce, bool check_pid, cortex__a32 **word, uint32_t *val);
/* Withdraws the count of cortex__broadcast_wait_arm(). */
void cortex__broadcast_wait_disarm(cortex_broadcast *b);

#endif
