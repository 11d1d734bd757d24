/* SPDX-License-Identifier: MIT */
/*
 * lib/ring/ring_layout.h: the ring's shared layout (internal) and the
 * internal hooks tests use.  The public header documents the same offsets.
 */
#ifndef CORTEX_RING_LAYOUT_H
#define CORTEX_RING_LAYOUT_H

#include "internal.h"
#include "atomic.h"

#include <neocortex/ring.h>

/* One per side, in the control line. */
typedef struct cortex_ring_side {
    cortex__a32 pid;    /* holder's pid; 0 none; -pid while it writes the fields below */
    cortex__a32 closed; /* 1: this side closed the ring (sticky) */
    cortex__a64 start;  /* holder's start time (pid reuse check) */
    cortex__a32 light;  /* 1: holder's wake checks rely on its sleeping peer's membarrier */
    cortex__a32 stamp;  /* holder's stamp (lib/os/proc.c); 0 unknown (older writers) */
} cortex_ring_side;

typedef struct cortex_ring_shared {
    /* line 0: written once by init, then immutable and validated by every attach */
    uint64_t magic;        /* CORTEX_RING_MAGIC */
    uint32_t version;      /* CORTEX_RING_VERSION */
    uint32_t header_size;  /* CORTEX_RING_HEADER_SIZE */
    uint32_t elem_size;
    uint32_t elem_align;
    uint32_t capacity;     /* power of two */
    uint32_t scheme;       /* CORTEX_RING_SCHEME_INDEX or CORTEX_RING_SCHEME_MARKS */
    uint64_t slots_offset; /* from the ring's first byte; >= header_size, aligned */
    uint64_t total_size;   /* slots_offset + capacity * elem_size */
    uint64_t empty;        /* MARKS: the 8-byte value that means "slot empty"; INDEX: 0 */
    uint32_t check;        /* FNV-1a 32 of bytes [0, 56) */
    uint8_t pad0[4];
    /* line 1: the producer's index (producer writes, consumer reads) */
    cortex__a64 prod;
    uint8_t pad1[56];
    /* line 2: the consumer's index */
    cortex__a64 cons;
    uint8_t pad2[56];
    /* line 3: roles */
    cortex_ring_side side[2]; /* [0] producer, [1] consumer */
    cortex__a64 image[2];     /* holder's image token per side: tells an exec'd image from its predecessor */
    /* line 4: the consumer's sleep: it announces in cons_waiting, sleeps on cons_futex */
    cortex__a32 cons_waiting;
    cortex__a32 cons_futex;
    uint8_t pad4[56];
    /* line 5: the producer's sleep */
    cortex__a32 prod_waiting;
    cortex__a32 prod_futex;
    uint8_t pad5[56];
} cortex_ring_shared;

_Static_assert(sizeof(cortex_ring_shared) == CORTEX_RING_HEADER_SIZE, "ring header is 6 cache lines");
_Static_assert(offsetof(cortex_ring_shared, check) == 56, "check covers bytes [0, 56)");
_Static_assert(offsetof(cortex_ring_shared, scheme) == CORTEX_RING_OFF_SCHEME, "scheme offset (ABI)");
_Static_assert(offsetof(cortex_ring_shared, prod) == CORTEX_RING_OFF_PROD, "producer index offset (ABI)");
_Static_assert(offsetof(cortex_ring_shared, cons) == CORTEX_RING_OFF_CONS, "consumer index offset (ABI)");
_Static_assert(offsetof(cortex_ring_shared, side) == 192, "roles line offset (ABI)");
_Static_assert(sizeof(cortex_ring_side) == 24, "role record is 24 bytes");
_Static_assert(offsetof(cortex_ring_shared, side[1].closed) == CORTEX_RING_OFF_CONS_CLOSED, "consumer closed (ABI)");
_Static_assert(offsetof(cortex_ring_shared, cons_waiting) == CORTEX_RING_OFF_CONS_WAITING, "consumer sleeper (ABI)");
_Static_assert(offsetof(cortex_ring_shared, prod_waiting) == CORTEX_RING_OFF_PROD_WAITING, "producer sleeper (ABI)");

/*
 * Tests only: moves both indices of an EMPTY ring to @p start (e.g. near
 * 2^64 to cross the wrap), in the shared ring and in @p r.  -EBUSY if not empty.
 */
int cortex__ring_set_indices(cortex_ring *r, uint64_t start);

/*
 * For a waiter on a condition outside the ring (lib/channel): one nap of
 * this side on its sleeper word, as the *_wait calls take it: announce,
 * fence, re-check @p ready(@p ctx) and the peer, futex-sleep up to
 * @p nap_ns.  A waker wakes it with cortex__ring_wake_peer() after
 * cortex__ring_peer_sleeps() said true (a commit/release of the ring wakes
 * it too).  Returns 1 if the peer closed or died, 0, or -EINVAL.
 */
int cortex__ring_nap(cortex_ring *r, int64_t nap_ns, bool (*ready)(void *), void *ctx);
/* The waker's fence, then whether the peer announced a sleep (its flag; not cleared). */
bool cortex__ring_peer_sleeps(cortex_ring *r);
/* Wakes the peer if it announced a sleep (cortex_ring__wake_prod/_cons() for this side's peer). */
void cortex__ring_wake_peer(cortex_ring *r);

/*
 * lib/waitset: the sleeper's half of (2) above without the sleep, split so
 * that one waitset announces on many rings and then pays one membarrier for
 * all of them.  @space: the producer's wait (room) instead of the
 * consumer's (data).  cortex__ring_wait_announce() stores the futex word
 * and the value to sleep on (read before announcing) in *word / *val, sets
 * the waiting flag and fences, as sleep_once() does; it returns 1 when the
 * peer's wake check is the light one (the caller must then run
 * cortex__ring_membarrier() before re-checking, and poll this ring if that
 * fails), 0 when not, -EINVAL for a handle not open for that side.
 * cortex__ring_wait_check() reads shared memory only and never changes the
 * handle's indices: 1 ready (a consumer: data, even from a gone producer),
 * 0 not, -EPIPE the peer closed or died (liveness only with @check_pid),
 * -EBADMSG an impossible index (the next pop/push poisons the handle),
 * -EINVAL as above.
 */
int cortex__ring_wait_announce(cortex_ring *r, bool space, cortex__a32 **word, uint32_t *val);
int cortex__ring_wait_check(cortex_ring *r, bool space, bool check_pid);
/* Withdraws the announcement of cortex__ring_wait_announce() (a waker may have withdrawn it already). */
void cortex__ring_wait_disarm(cortex_ring *r, bool space);
/*
 * For a waiter's spin: the 64-bit word the peer stores to when it makes the
 * side ready (the producer's index or, for the marks scheme, the slot the
 * consumer reads next; for @space the consumer's index or the slot the
 * producer writes next), inside the mapping, or NULL when the handle is
 * not open for that side.  A change of the word says "look again with
 * cortex__ring_wait_check()"; it proves nothing by itself, and a closing
 * peer stores elsewhere (the caller still checks now and then).  Valid
 * until this handle pushes or pops.
 */
cortex__a64 *cortex__ring_wait_watch(cortex_ring *r, bool space);

/* lib/ring/membarrier.c: asymmetric fence (Linux membarrier), see ring.c. */
bool cortex__ring_membarrier_register(void);
int cortex__ring_membarrier(void);

#endif
