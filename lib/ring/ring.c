/* SPDX-License-Identifier: MIT */
/*
 * lib/ring/ring.c: the wait-free SPSC ring (raw memory or a ring segment).
 *
 * Memory-order argument
 * ---------------------
 * Indices are free-running u64 (never masked in shared memory); a slot is
 * index & mask.  Each side keeps its own index and a cached copy of the
 * other's in its process-private handle, and only reads the other's shared
 * index when its cache says full (producer) or empty (consumer).
 *
 * (1) Data.  The producer writes slot bytes, then stores prod with RELEASE.
 *     The consumer loads prod with ACQUIRE, then reads the slots below it:
 *     the release/acquire pair makes the slot writes happen-before the reads.
 *     Symmetrically the consumer reads slots, then stores cons with RELEASE;
 *     the producer loads cons with ACQUIRE before overwriting those slots, so
 *     a slot is never rewritten while it is still being read.
 *
 * (2) Sleeping (*_wait).  A sleeper S (say the consumer, on an empty ring)
 *     and a waker W (the producer publishing) run the store-buffering
 *     pattern:   S: store cons_waiting=1; FENCE; load prod
 *                W: store prod;            FENCE; load cons_waiting
 *     With a seq_cst fence on both sides at least one side sees the other's
 *     store (C11 7.17.4: two SC fences order the stores before them against
 *     the loads after them), so either S sees the new prod and does not
 *     sleep, or W sees the announcement and wakes S.  S read its futex word
 *     before announcing and W increments it before FUTEX_WAKE, so a wake that
 *     lands before S enters futex_wait makes the kernel's compare fail and S
 *     returns at once.  W clears the flag with an exchange, so one sleep costs
 *     at most one FUTEX_WAKE, and none while nobody sleeps.
 *
 *     Cost: a full fence after every publish stalls the producer on its
 *     store buffer (the slot and index lines are in the peer's cache), which
 *     would cost a cache round trip per push.  So when this process could
 *     register for MEMBARRIER_CMD_GLOBAL_EXPEDITED (r->light, recorded for
 *     the peer in side[].light), W's fence is only a compiler barrier and S,
 *     on its slow path, calls membarrier(GLOBAL_EXPEDITED): the kernel makes
 *     every running thread of W's process execute a full barrier, which splits
 *     W's "store prod; load flag" at some point M: M before the store -> W's
 *     load sees the flag; M between -> both; M after the load -> S sees the
 *     store.  The same case analysis as with two fences (this is liburcu's
 *     sys_membarrier scheme).  Model-check builds never register, so the
 *     model checker sees two seq_cst fences.
 *
 * (3) Close.  The closer stores closed=1 (SEQ_CST), fences, and wakes a
 *     sleeping peer the same way; a sleeper checks closed after its fence.
 *     The consumer, on seeing closed (ACQUIRE), reloads prod once more and
 *     drains what is left before returning -EPIPE.
 *
 * (4) Hostile peers.  An index read from shared memory is checked against
 *     the reader's own index and its last copy: the producer index must
 *     satisfy tail <= prod <= tail + capacity and never go below the last
 *     value seen, the consumer index cons <= head <= cons + capacity and
 *     never go back.  Anything else is -EBADMSG and poisons the handle.  Slot
 *     addresses are always (index & mask) * elem_size < capacity * elem_size,
 *     and a batch is at most capacity long, so no value in shared memory can
 *     make a side read or write outside the slots.
 *
 * (5) Marks scheme (FastForward, 8-byte slots, one reserved "empty" value).
 *     The slot is its own flag: the producer stores a message into a slot it
 *     saw empty (RELEASE), the consumer loads it (ACQUIRE), and stores the
 *     empty value back (RELEASE) once it has the message.  Neither side loads
 *     the other's index on its path, so a waiting consumer pulls only the
 *     slot line it waits on, never a line the producer writes per message.
 *     Line-aware producer: the consumer frees slots in index order with
 *     release stores, so when the LAST slot of a cache line (group of 8, or
 *     the capacity if smaller) reads empty (ACQUIRE), every earlier slot of
 *     that line is free too, and the producer fills the line without
 *     looking at the others.  A hostile peer can only put wrong values in
 *     slots: addresses are masked indices as in (4).
 *     Lazy freeing: the consumer writes the empty marks of a cache line only
 *     when it leaves the line (or finds the ring empty), lowest slot first,
 *     never per message: a store into the line the producer fills next would
 *     take that line away from the producer and, x86 committing stores in
 *     order, hold the consumer's next store (its own reply, in a ping-pong)
 *     behind that transfer: two line transfers per message instead of one.
 *     (bench-ring's spinning ping-pong on an AMD host measured no difference
 *     between this and freeing per pop, 2026-11-29; the rule costs nothing
 *     there and stays for hosts that do commit the free ahead of the reply.)
 *     c.freed is the lowest slot taken and not yet freed.  A producer blocked
 *     on a taken-not-freed slot implies at least capacity - group + 1 messages
 *     up to and past the consumer's line end, so the consumer always reaches
 *     the end of its line (no deadlock); the price is that up to group - 1
 *     slots the consumer took are not yet free while it reads a line, so
 *     rings of fewer than two lines (16 slots) free every slot at once.
 *     The indices are kept for len/inspect and for a takeover:
 *       producer: store prod = h + n (claim), then the slots h..h+n-1;
 *       consumer: store cons = t + n (taken), later the empty marks.
 *     So a slot below prod that reads empty and is at or above cons was
 *     claimed and never written (a dead producer's hole), and a slot below
 *     cons that still holds a message while prod - cons < capacity was taken
 *     and not freed (a dead consumer's leftover); take_role() repairs both
 *     (marks_adopt_*), which keeps a takeover exact without any wait.
 *     Waits and close are as in (2) and (3), with "the slot at my index is
 *     full/empty" as the condition.
 *
 * (6) Batch scheme (MCRingBuffer).  As (1), but the producer's release store
 *     of prod happens only when a push completes a group of r->batch + 1
 *     slots, in the slow path when the ring looks full, when the wake check
 *     finds the consumer asleep (cortex_ring__wake_cons publishes before the
 *     FUTEX_WAKE, so (2)'s argument covers the pending messages), in the
 *     batch calls, at cortex_ring_flush() and at close.  p.pub is the last
 *     value stored.  Nothing else changes: the consumer still acquires prod
 *     before reading slots below it.  A takeover starts at the published
 *     prod (what a dead producer never published was never visible).
 */
#define _GNU_SOURCE
#include "ring_layout.h"
#include "region/part_open.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#if defined(__x86_64__) && !defined(CORTEX_MODEL)
#include <emmintrin.h> /* copy_in's non-temporal stores (SSE2: every x86-64 CPU) */
#endif

/* Seeded bugs for the model checker (tests/model); never defined in normal builds. */
#if defined(CORTEX_SEED_RING_RELAXED_PUBLISH)
#define PUBLISH_ORDER CX_RELAXED
#else
#define PUBLISH_ORDER CX_RELEASE
#endif

/* Spin before sleeping (see BASELINES.md: a blocking cross-core hand-off costs ~40 us one-way);
 * handles left at -1 use this process default (cortex_ring_set_default_spin). */
static cortex__a64 ring_default_spin = CORTEX_RING_SPIN_DEFAULT_NS;
/* Longest single futex nap: a sleeper re-checks its peer's liveness this often. */
#define RING_NAP_NS INT64_C(10000000)
/* Nap when the peer relies on membarrier but the call failed (cannot prove the wake). */
#define RING_SHORT_NAP_NS INT64_C(200000)
/* How often a plain pop/push on an empty/full ring checks the peer's pid. */
#define RING_LIVENESS_NS INT64_C(5000000)

enum { SIDE_PROD = 0, SIDE_CONS = 1 };

/* Marks scheme: slots per cache line.  The model checker uses lines of 2 slots, so that its small
 * rings have several lines and exercise the line check and the lazy freeing across lines. */
#if defined(CORTEX_MODEL)
#define RING_MARKS_LINE 2u
#else
#define RING_MARKS_LINE (CORTEX_CACHELINE / 8u)
#endif

static inline cortex_ring_shared *SH(const cortex_ring *r) { return (cortex_ring_shared *)(void *)r->base; }

static bool is_prod(const cortex_ring *r) { return (r->role & CORTEX_PRODUCER) != 0; }
static bool is_cons(const cortex_ring *r) { return (r->role & CORTEX_CONSUMER) != 0; }

/* ---- sizes and the header ------------------------------------------------ */

static int check_geometry(uint64_t capacity, uint64_t elem_size, uint64_t elem_align, const char *what)
{
    if (!cortex__is_pow2(capacity) || capacity > CORTEX_RING_MAX_CAPACITY)
        return cortex__fail(EINVAL, "%s: capacity %llu is not a power of two in [1, 2^31]", what,
                            (unsigned long long)capacity);
    if (elem_size == 0 || elem_size > CORTEX_RING_MAX_ELEM)
        return cortex__fail(EINVAL, "%s: element size %llu is outside [1, %u] bytes", what,
                            (unsigned long long)elem_size, CORTEX_RING_MAX_ELEM);
    if (elem_align != 0 && (!cortex__is_pow2(elem_align) || elem_align > CORTEX_MAX_ALIGN))
        return cortex__fail(EINVAL, "%s: element alignment %llu is not a power of two <= %u", what,
                            (unsigned long long)elem_align, CORTEX_MAX_ALIGN);
    if (capacity * elem_size > (UINT64_C(1) << 40))
        return cortex__fail(EINVAL, "%s: %llu slots of %llu bytes is more than 1 TiB", what,
                            (unsigned long long)capacity, (unsigned long long)elem_size);
    return 0;
}

static uint64_t slots_offset_for(uint64_t elem_align)
{
    uint64_t a = elem_align > CORTEX_CACHELINE ? elem_align : CORTEX_CACHELINE;
    return cortex__align_up(CORTEX_RING_HEADER_SIZE, a);
}

size_t cortex_ring_required_size_aligned(uint32_t capacity, size_t elem_size, size_t elem_align)
{
    if (!cortex__is_pow2(capacity) || capacity > CORTEX_RING_MAX_CAPACITY || elem_size == 0 ||
        elem_size > CORTEX_RING_MAX_ELEM || (elem_align && (!cortex__is_pow2(elem_align) || elem_align > CORTEX_MAX_ALIGN)))
        return 0;
    uint64_t total = slots_offset_for(elem_align) + (uint64_t)capacity * elem_size;
    if (total > (uint64_t)SIZE_MAX)
        return 0;
    return (size_t)total;
}

size_t cortex_ring_required_size(uint32_t capacity, size_t elem_size)
{
    return cortex_ring_required_size_aligned(capacity, elem_size, 0);
}

/* A private copy of line 0, checked against @len bytes of ring memory and the expected element. */
static int validate_header(const cortex_ring_shared *live, uint64_t len, uint64_t elem_size, uint64_t elem_align,
                           const char *what, cortex_ring_shared *out)
{
    if (len < CORTEX_RING_HEADER_SIZE)
        return cortex__fail(EBADMSG, "%s: %llu bytes cannot hold a ring header (%u bytes)", what,
                            (unsigned long long)len, CORTEX_RING_HEADER_SIZE);
    cortex_ring_shared h;
    memcpy(&h, live, 64); /* line 0 only: the rest is live state */
    if (h.magic != CORTEX_RING_MAGIC)
        return cortex__fail(EBADMSG, "%s holds no ring (magic 0x%016llx, expected 0x%016llx)", what,
                            (unsigned long long)h.magic, (unsigned long long)CORTEX_RING_MAGIC);
    if (h.version != CORTEX_RING_VERSION)
        return cortex__fail(EPROTO, "%s: ring layout version %u, this build reads %u", what, h.version,
                            CORTEX_RING_VERSION);
    uint32_t check = cortex__fnv1a32(&h, offsetof(cortex_ring_shared, check));
    if (check != h.check)
        return cortex__fail(EBADMSG, "%s: ring header checksum 0x%08x does not match its contents (0x%08x)", what,
                            h.check, check);
    if (h.header_size != CORTEX_RING_HEADER_SIZE)
        return cortex__fail(EBADMSG, "%s: ring header size %u, expected %u", what, h.header_size,
                            CORTEX_RING_HEADER_SIZE);
    if (h.scheme > CORTEX_RING_SCHEME_BATCH ||
        (h.scheme == CORTEX_RING_SCHEME_MARKS && (h.elem_size != 8 || h.elem_align > 8)) ||
        (h.scheme != CORTEX_RING_SCHEME_MARKS && h.empty != 0))
        return cortex__fail(EBADMSG, "%s: ring publication scheme %u with %u-byte elements (align %u, empty value "
                            "0x%llx) cannot be (0: index, 1: marks with 8-byte elements, 2: batch)",
                            what, h.scheme, h.elem_size, h.elem_align, (unsigned long long)h.empty);
    int rc = check_geometry(h.capacity, h.elem_size, h.elem_align, what);
    if (rc < 0) {
        char why[CORTEX_ERROR_MESSAGE_MAX]; /* the message is formatted into the buffer it came from */
        snprintf(why, sizeof why, "%s", cortex_last_error()->message);
        return cortex__fail(EBADMSG, "%s: corrupt ring header: %s", what, why);
    }
    if (h.slots_offset != slots_offset_for(h.elem_align))
        return cortex__fail(EBADMSG, "%s: slots at offset %llu, expected %llu", what,
                            (unsigned long long)h.slots_offset, (unsigned long long)slots_offset_for(h.elem_align));
    uint64_t total = h.slots_offset + (uint64_t)h.capacity * h.elem_size;
    if (h.total_size != total || total > len)
        return cortex__fail(EBADMSG, "%s: ring of %u x %u bytes needs %llu bytes, header says %llu, memory has %llu",
                            what, h.capacity, h.elem_size, (unsigned long long)total,
                            (unsigned long long)h.total_size, (unsigned long long)len);
    if ((elem_size && elem_size != h.elem_size) || (elem_align && elem_align != h.elem_align))
        return cortex__fail(EPROTO, "%s holds a ring of %u-byte elements (align %u), expected %llu bytes (align %llu)",
                            what, h.elem_size, h.elem_align, (unsigned long long)elem_size,
                            (unsigned long long)elem_align);
    *out = h;
    return 0;
}

/* Fills the header (and, for the marks scheme, every slot with the empty value). */
static void write_header(cortex_ring_shared *sh, uint32_t capacity, uint32_t elem_size, uint32_t elem_align,
                         uint32_t scheme, uint64_t empty)
{
    memset(sh, 0, sizeof *sh);
    sh->magic = CORTEX_RING_MAGIC;
    sh->version = CORTEX_RING_VERSION;
    sh->header_size = CORTEX_RING_HEADER_SIZE;
    sh->elem_size = elem_size;
    sh->elem_align = elem_align;
    sh->capacity = capacity;
    sh->scheme = scheme;
    sh->empty = scheme == CORTEX_RING_SCHEME_MARKS ? empty : 0;
    sh->slots_offset = slots_offset_for(elem_align);
    sh->total_size = sh->slots_offset + (uint64_t)capacity * elem_size;
    if (scheme == CORTEX_RING_SCHEME_MARKS) {
        cortex__a64 *slot = (cortex__a64 *)(void *)((unsigned char *)sh + sh->slots_offset);
        for (uint32_t i = 0; i < capacity; i++)
            cortex__st64(&slot[i], empty, CX_RELAXED);
    }
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_ring_shared, check));
}

/* Fills the handle from a validated header copy; indices come from shared memory. */
static void handle_fill(cortex_ring *r, void *mem, const cortex_ring_shared *h, cortex_role role,
                        cortex_region *region)
{
    memset(r, 0, sizeof *r);
    r->base = mem;
    r->slots = (unsigned char *)mem + h->slots_offset;
    r->mask = (uint64_t)h->capacity - 1;
    r->elem_size = h->elem_size;
    r->capacity = h->capacity;
    r->role = (uint32_t)role;
    r->region = region;
    r->marks = h->scheme == CORTEX_RING_SCHEME_MARKS;
    r->empty = h->empty;
    r->group = h->capacity < RING_MARKS_LINE ? h->capacity : RING_MARKS_LINE;
    /* lazy freeing (see (5)) from two lines up: a smaller ring would lose too much of its capacity */
    r->lazy = h->capacity >= 2 * RING_MARKS_LINE ? RING_MARKS_LINE - 1 : 0;
    r->spin_ns = -1; /* the process default */
    r->batch = h->scheme != CORTEX_RING_SCHEME_BATCH ? 0
               : (h->capacity < CORTEX_RING_BATCH ? h->capacity : CORTEX_RING_BATCH) - 1;
    cortex_ring_shared *sh = mem;
    uint64_t prod = cortex__ld64(&sh->prod, CX_ACQUIRE);
    uint64_t cons = cortex__ld64(&sh->cons, CX_ACQUIRE);
    r->p.head = prod;
    r->p.cons = cons;
    r->c.tail = r->c.freed = cons;
    r->c.prod = prod;
}

/* Makes every fast path take the slow path (after close or corruption). */
static void force_slow(cortex_ring *r)
{
    r->p.cons = r->p.head - r->capacity;
    r->c.prod = r->c.tail;
}

/*
 * Marks one side of the handle corrupt: every later call of that side returns
 * -EBADMSG.  Only the calling side's fields are written (with a both-sides
 * handle the other side may be running in another thread).
 */
static void poison_prod(cortex_ring *r)
{
    r->p.bad = 1;
    r->p.cons = r->p.head - r->capacity;
}

static void poison_cons(cortex_ring *r)
{
    r->c.bad = 1;
    r->c.prod = r->c.tail;
}

/* ---- roles --------------------------------------------------------------- */

/*
 * The verdict on a side's holder (lib/os/proc.c).  A claim still at -pid
 * (its holder between the CAS and the record) is judged by the pid alone:
 * dead only if no process has it (or only a zombie); its start and stamp
 * fields may still be the previous holder's.
 */
static cortex__liveness side_verdict(cortex_ring_shared *sh, int side, int32_t *pid_out, const char **why)
{
    int32_t pid = (int32_t)cortex__ld32(&sh->side[side].pid, CX_ACQUIRE);
    cortex__proc_id id = {.pid = pid};
    if (pid_out)
        *pid_out = pid;
    if (pid == 0) {
        if (why)
            *why = "nobody holds it";
        return CORTEX__DEAD;
    }
    if (pid < 0)
        id.pid = pid == INT32_MIN ? 0 : -pid;
    else {
        id.start = cortex__ld64(&sh->side[side].start, CX_RELAXED);
        id.stamp = cortex__ld32(&sh->side[side].stamp, CX_RELAXED);
    }
    return cortex__proc_verdict(&id, why);
}

static bool side_alive(cortex_ring_shared *sh, int side, int32_t *pid_out)
{
    return side_verdict(sh, side, pid_out, NULL) != CORTEX__DEAD;
}

/*
 * Claims a side.  A holder certainly dead is taken over; a live or unknown
 * one makes it -EBUSY (saying which).  A record naming this very process
 * under another image token is this process's image before an exec(): the
 * role is taken back.  *took_over gets the previous holder's pid on a
 * takeover or take-back, else 0.
 */
static int claim_side(cortex_ring_shared *sh, int side, bool light, int32_t *took_over, const char *what)
{
    const char *name = side == SIDE_PROD ? "producer" : "consumer";
    int32_t self = (int32_t)cortex__self_pid();
    uint64_t image = cortex__image_token();
    *took_over = 0;
    if (cortex__ld32(&sh->side[side].closed, CX_ACQUIRE))
        return cortex__fail(EPIPE, "%s: the ring's %s closed it; make a new ring", what, name);
    for (int tries = 0; tries < 200; tries++) {
        uint32_t cur = cortex__ld32(&sh->side[side].pid, CX_ACQUIRE);
        if (cur != 0) {
            int32_t holder;
            const char *why;
            cortex__liveness v = side_verdict(sh, side, &holder, &why);
            if (holder < 0 && v != CORTEX__DEAD) {
                /* A claim in progress finishes within microseconds: wait for its record. */
                cortex__sleep_ns(100000);
                continue;
            }
            if (v == CORTEX__ALIVE && holder == self &&
                cortex__ld64(&sh->image[side], CX_ACQUIRE) == image)
                return cortex__fail(EBUSY, "%s: this process already holds the %s role (another handle)", what,
                                    name);
            if (v == CORTEX__UNKNOWN)
                return cortex__fail(EBUSY, "%s: the %s role is held by pid %d, which cannot be judged dead: %s",
                                    what, name, holder, why);
            if (v == CORTEX__ALIVE && holder != self)
                return cortex__fail(EBUSY, "%s: the %s role is held by live pid %d", what, name, holder);
            /* dead holder, or this process's image before exec: take over (CAS from exactly what we judged) */
        }
        if (cortex__cas32(&sh->side[side].pid, &cur, (uint32_t)-self, CX_ACQ_REL, CX_ACQUIRE)) {
            int32_t prev = (int32_t)cur;
            *took_over = prev < 0 ? (prev == INT32_MIN ? 0 : -prev) : prev;
            cortex__st64(&sh->side[side].start, cortex__self_start(), CX_RELAXED);
            cortex__st32(&sh->side[side].stamp, cortex__self_stamp(), CX_RELAXED);
            cortex__st64(&sh->image[side], image, CX_RELAXED);
            cortex__st32(&sh->side[side].light, light ? 1u : 0u, CX_RELAXED);
            cortex__st32(&sh->side[side].pid, (uint32_t)self, CX_RELEASE);
            return 0;
        }
        cortex__spin_hint();
    }
    return cortex__fail(EBUSY, "%s: the %s role keeps changing hands (or a claim by a live pid never finished)",
                        what, name);
}

static void release_side(cortex_ring_shared *sh, int side)
{
    uint32_t self = (uint32_t)cortex__self_pid();
    cortex__cas32(&sh->side[side].pid, &self, 0, CX_ACQ_REL, CX_RELAXED);
}

/* ---- waking -------------------------------------------------------------- */

/* The waker's half of (2): called after a publish or a close. */
/* The waker's fence of (2): its store (publish, slot or close) before its read of the sleeper flag. */
static void waker_fence(cortex_ring *r)
{
#if !defined(CORTEX_SEED_RING_NO_WAIT_FENCE)
    if (!r->light)
        cortex__fence(CX_SEQ_CST); /* store->load: our publish before our read of the flag */
#if !defined(CORTEX_MODEL)
    else /* the sleeper's membarrier supplies the CPU fence; the compiler must not reorder either */
        __asm__ __volatile__("" ::: "memory");
#endif
#else
    CORTEX_UNUSED(r);
#endif
}

static void wake_if_waiting(cortex_ring *r, cortex__a32 *waiting, cortex__a32 *futex)
{
    waker_fence(r);
    if (cortex__ld32(waiting, CX_RELAXED) && cortex__xchg32(waiting, 0, CX_ACQ_REL)) {
        cortex__fadd32(futex, 1, CX_RELEASE);
        cortex__futex_wake(futex, 1);
    }
}

/*
 * Batch scheme with 64-byte elements: the pushes write each element with
 * non-temporal stores, which x86 does not order with the release store of
 * prod; the header's fence does (model builds use plain stores: none).
 */
static inline void nt_fence(const cortex_ring *r)
{
#if !defined(CORTEX_MODEL)
    cortex_ring__nt_fence_(r);
#else
    CORTEX_UNUSED(r);
#endif
}

/* Called by the inline paths once they saw the flag set (they did the fence). */
void cortex_ring__wake_cons(cortex_ring *r)
{
    cortex_ring_shared *sh = SH(r);
    if (r->p.pub != r->p.head && !r->marks) { /* batch scheme: a sleeping consumer gets what is pushed at once */
        nt_fence(r);
        r->p.pub = r->p.head;
        cortex__st64(&sh->prod, r->p.head, PUBLISH_ORDER);
    }
    if (cortex__xchg32(&sh->cons_waiting, 0, CX_ACQ_REL)) {
        cortex__fadd32(&sh->cons_futex, 1, CX_RELEASE);
        cortex__futex_wake(&sh->cons_futex, 1);
    }
}

void cortex_ring__wake_prod(cortex_ring *r)
{
    cortex_ring_shared *sh = SH(r);
    if (cortex__xchg32(&sh->prod_waiting, 0, CX_ACQ_REL)) {
        cortex__fadd32(&sh->prod_futex, 1, CX_RELEASE);
        cortex__futex_wake(&sh->prod_futex, 1);
    }
}

static inline void publish_prod(cortex_ring *r, uint64_t h)
{
    nt_fence(r);
    r->p.head = r->p.pub = h;
    cortex__st64(&SH(r)->prod, h, PUBLISH_ORDER);
    wake_if_waiting(r, &SH(r)->cons_waiting, &SH(r)->cons_futex);
}

static inline void publish_cons(cortex_ring *r, uint64_t t)
{
    r->c.tail = t;
    cortex__st64(&SH(r)->cons, t, CX_RELEASE);
    wake_if_waiting(r, &SH(r)->prod_waiting, &SH(r)->prod_futex);
}

/* ---- refreshing the other side's index (the untrusted read) ------------- */

/*
 * Consumer: reloads prod.  Returns the number of readable slots (>= 0) or
 * -EBADMSG.  prod must stay in [cached, tail + capacity] (never backwards,
 * never more than capacity ahead).
 */
static int64_t cons_refresh(cortex_ring *r)
{
    uint64_t t = r->c.tail;
    uint64_t p = cortex__ld64(&SH(r)->prod, CX_ACQUIRE);
    if (p - t > r->capacity || p - r->c.prod > p - t) {
        unsigned long long last = r->c.prod;
        poison_cons(r);
        return cortex__fail(EBADMSG,
                            "ring: producer index %llu is impossible for consumer index %llu (last seen %llu, "
                            "capacity %u): corrupt or hostile peer",
                            (unsigned long long)p, (unsigned long long)t, last, r->capacity);
    }
    r->c.prod = p;
    return (int64_t)(p - t);
}

/* Producer: reloads cons.  Returns the number of free slots or -EBADMSG. */
static int64_t prod_refresh(cortex_ring *r)
{
    uint64_t h = r->p.head;
    uint64_t c = cortex__ld64(&SH(r)->cons, CX_ACQUIRE);
    if (h - c > r->capacity || c - r->p.cons > h - r->p.cons) {
        unsigned long long last = r->p.cons;
        poison_prod(r);
        return cortex__fail(EBADMSG,
                            "ring: consumer index %llu is impossible for producer index %llu (last seen %llu, "
                            "capacity %u): corrupt or hostile peer",
                            (unsigned long long)c, (unsigned long long)h, last, r->capacity);
    }
    r->p.cons = c;
    return (int64_t)(r->capacity - (h - c));
}

/* Batch scheme: publishes what this producer pushed since its last publication (a no-op otherwise). */
static void publish_pending(cortex_ring *r)
{
    if (r->batch && r->p.pub != r->p.head && !r->p.bad)
        publish_prod(r, r->p.head);
}

/*
 * Producer, after writing the slots below @h: publishes (index scheme; batch
 * scheme when a group completes), else only checks for a sleeping consumer,
 * which cortex_ring__wake_cons() gives the pending group (see (6)).
 */
static void push_done(cortex_ring *r, uint64_t h)
{
    if ((h & r->batch) == 0) {
        publish_prod(r, h);
        return;
    }
    r->p.head = h;
    waker_fence(r);
    if (cortex__ld32(&SH(r)->cons_waiting, CX_RELAXED))
        cortex_ring__wake_cons(r);
}

/* ---- the marks scheme's slots (see (5)) --------------------------------- */

static inline cortex__a64 *mslot(const cortex_ring *r, uint64_t i)
{
    return (cortex__a64 *)(void *)(r->slots + (size_t)(i & r->mask) * 8);
}

/*
 * Producer, marks: extends the known-free run at the head (p.cons + capacity)
 * by whole cache lines (one load of the line's last slot) or single slots,
 * until @want are known free or a slot still holds a message.  Returns the
 * free slots known now (>= 0).
 */
static int64_t marks_free(cortex_ring *r, uint64_t want)
{
    uint64_t h = r->p.head, end = r->p.cons + r->capacity, g = r->group;
    if (end - h > r->capacity)
        end = h;
    while (end - h < want && end - h < r->capacity) {
        uint64_t last = end | (g - 1); /* the last slot of end's line (groups are aligned indices) */
#if defined(CORTEX_SEED_RING_MARKS_LINE_FIRST)
        /* seeded bug: judges the line by its first free slot, not its last */
        if (last - h < r->capacity && cortex__ld64(mslot(r, end), CX_ACQUIRE) == r->empty)
#else
        if (last - h < r->capacity && cortex__ld64(mslot(r, last), CX_ACQUIRE) == r->empty)
#endif
            end = last + 1;
        else if (cortex__ld64(mslot(r, end), CX_ACQUIRE) == r->empty)
            end++;
        else
            break;
    }
    r->p.cons = end - r->capacity;
    return (int64_t)(end - h);
}

/*
 * Consumer, marks: messages at the tail (up to @want), by their slots.  The
 * scan stops a lap after c.freed: from there on a slot still holds a message
 * this consumer took and has not freed yet (see lazy freeing in (5)).
 */
static int64_t marks_filled(cortex_ring *r, uint64_t want)
{
    uint64_t t = r->c.tail, k = 0, room = r->capacity - (t - r->c.freed);
    while (k < want && k < room && cortex__ld64(mslot(r, t + k), CX_ACQUIRE) != r->empty)
        k++;
    if (k)
        r->c.prod = t + r->capacity; /* re-arm the inline path's check (see cortex_ring_pop_sized) */
    return (int64_t)k;
}

/* Producer, marks: claims [h, h+n) in the index, then stores the messages (each store publishes one). */
static void marks_put(cortex_ring *r, uint64_t h, const void *src, uint64_t n)
{
    r->p.head = h + n;
    cortex__st64(&SH(r)->prod, h + n, CX_RELAXED);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const unsigned char *)src + i * 8, 8);
        cortex__st64(mslot(r, h + i), v, PUBLISH_ORDER);
    }
    wake_if_waiting(r, &SH(r)->cons_waiting, &SH(r)->cons_futex);
}

/*
 * Consumer, marks: frees the taken slots [c.freed, @upto) lowest first (the
 * producer's line check relies on the order) and wakes a producer asleep on
 * a full ring.  A no-op when none are pending below @upto.
 */
static void marks_give_back(cortex_ring *r, uint64_t upto)
{
    uint64_t from = r->c.freed;
    if ((int64_t)(upto - from) <= 0)
        return;
#if defined(CORTEX_SEED_RING_MARKS_FREE_TOP_FIRST)
    /* seeded bug: frees the line highest slot first, so the producer's line check passes too early */
    for (uint64_t i = upto; i != from; i--)
        cortex__st64(mslot(r, i - 1), r->empty, CX_RELEASE);
#else
    for (uint64_t i = from; i != upto; i++)
        cortex__st64(mslot(r, i), r->empty, CX_RELEASE);
#endif
    r->c.freed = upto;
    wake_if_waiting(r, &SH(r)->prod_waiting, &SH(r)->prod_futex);
}

/*
 * Consumer, marks: records [t, t+n) as taken in the index, then frees every
 * cache line (group) it has left.  Slots of the line it is still reading
 * stay taken until it leaves the line or finds the ring empty
 * (marks_give_back from cons_avail): a consumer keeping pace with the
 * producer then never writes into the line the producer fills next.
 */
static void marks_free_slots(cortex_ring *r, uint64_t t, uint64_t n)
{
    r->c.tail = t + n;
    cortex__st64(&SH(r)->cons, t + n, CX_RELAXED);
    marks_give_back(r, (t + n) & ~(uint64_t)r->lazy);
}

static void marks_take(cortex_ring *r, uint64_t t, void *dst, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = cortex__ld64(mslot(r, t + i), CX_ACQUIRE);
        memcpy((unsigned char *)dst + i * 8, &v, 8);
    }
    marks_free_slots(r, t, n);
}

/* -EINVAL if one of @n messages at @src is the ring's empty value (it could never be popped). */
static int marks_refuse_empty(const cortex_ring *r, const void *src, uint64_t n, const char *op)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const unsigned char *)src + i * 8, 8);
        if (v == r->empty)
            return cortex__fail(EINVAL, "%s: element %llu is 0x%llx, the value this ring reserves for an empty slot",
                                op, (unsigned long long)i, (unsigned long long)v);
    }
    return 0;
}

/*
 * A new producer of a marks ring: a dead predecessor may have claimed slots
 * (prod) that it never wrote.  Those holes are the empty slots at the top
 * of [cons, prod); an empty slot there that was written and then taken has
 * cons above it (cons is stored before the empty mark).  Returns the head.
 */
static uint64_t marks_adopt_prod(cortex_ring *r, uint64_t prod, uint64_t cons)
{
    uint64_t top = prod;
    while (top - cons > 0 && top - cons <= r->capacity && cortex__ld64(mslot(r, top - 1), CX_ACQUIRE) == r->empty)
        top--;
    uint64_t c = cortex__ld64(&SH(r)->cons, CX_ACQUIRE);
    uint64_t head = c - top <= r->capacity && c != top ? c : top; /* the larger of the two (wrap-safe) */
    if (head != prod)
        cortex__st64(&SH(r)->prod, head, CX_RELAXED);
    return head;
}

/*
 * A new consumer of a marks ring: a dead predecessor may have taken messages
 * (cons) without freeing their slots.  Such a slot below cons still holds a
 * message while the producer has not claimed it again (prod - index <=
 * capacity); free those, lowest first (the producer's line check relies on
 * the order).
 */
static void marks_adopt_cons(cortex_ring *r, uint64_t cons)
{
    uint64_t lo = cons;
    while (cons - (lo - 1) <= r->capacity && cortex__ld64(mslot(r, lo - 1), CX_ACQUIRE) != r->empty &&
           cortex__ld64(&SH(r)->prod, CX_ACQUIRE) - (lo - 1) <= r->capacity)
        lo--;
    for (uint64_t i = lo; i != cons; i++)
        cortex__st64(mslot(r, i), r->empty, CX_RELEASE);
}

/* Is the peer side gone (closed, or its holder died)?  Liveness only when @check_pid. */
static bool peer_gone(cortex_ring *r, int peer, bool check_pid)
{
    cortex_ring_shared *sh = SH(r);
    if (cortex__ld32(&sh->side[peer].closed, CX_ACQUIRE))
        return true;
    if (r->role == CORTEX_BOTH_SIDES)
        return false;
    int32_t pid = (int32_t)cortex__ld32(&sh->side[peer].pid, CX_ACQUIRE);
    if (pid == 0)
        return false; /* not attached yet (or released): wait for one */
    if (pid == r->dead_pid)
        return true; /* seen dead before, nobody took over since */
    if (!check_pid || side_alive(sh, peer, NULL))
        return false;
    r->dead_pid = pid;
    return true;
}

/* Rate-limited liveness check for the non-blocking calls. */
static bool peer_gone_polled(cortex_ring *r, int peer, uint32_t *polls, int64_t *next_check)
{
    bool check = false;
    if (r->role != CORTEX_BOTH_SIDES && ++*polls >= 256) {
        *polls = 0;
        int64_t now = cortex__now_ns();
        if (now >= *next_check) {
            *next_check = now + RING_LIVENESS_NS;
            check = true;
        }
    }
    return peer_gone(r, peer, check);
}

/*
 * A failed (empty or full) non-blocking pop or push backs off for one CPU
 * spin hint before it returns -EAGAIN.  A caller that polls in a loop would
 * otherwise re-read the slot (or index) line every few ns while the peer
 * waits to own it for its store; in the spinning ping-pong of bench-ring the
 * pause took the one-way latency from ~1.2-1.45x to ~1.1-1.2x the cache-line
 * probe, and a second pause per poll lost the gain again (docs/ring.md).  The
 * *_wait spin loops rely on this pause and add none of their own.  Model
 * builds leave it out: there a spin hint is a scheduling point.
 */
static inline void poll_backoff(void)
{
#if !defined(CORTEX_MODEL)
    cortex__spin_hint();
#endif
}

static int not_open(const cortex_ring *r, bool prod, const char *op)
{
    if (!r)
        return cortex__fail(EINVAL, "%s: NULL ring", op);
    if (prod ? r->p.bad : r->c.bad)
        return cortex__fail(EBADMSG, "%s: this ring handle saw corrupt shared state earlier", op);
    return cortex__fail(EINVAL, "%s: the handle is closed or not open for this side", op);
}

/*
 * Producer slow path: free slots now (> 0), or -EAGAIN / -EPIPE / -EBADMSG.
 * Checks the consumer only when the ring is full.
 */
static int64_t prod_space(cortex_ring *r, uint64_t want, const char *op)
{
    if (!r || r->p.bad || r->closed || !is_prod(r))
        return not_open(r, true, op);
    uint64_t avail = r->capacity - (r->p.head - r->p.cons);
    /* Enough by the cached index: no load of the consumer's line.  Else one refresh. */
    if (avail >= want && !cortex__ld32(&SH(r)->side[SIDE_CONS].closed, CX_RELAXED))
        return (int64_t)avail;
    publish_pending(r); /* batch scheme: a full ring publishes what is pending */
    int64_t n = r->marks ? marks_free(r, want) : prod_refresh(r);
    if (n < 0)
        return n;
    if (peer_gone(r, SIDE_CONS, false))
        return cortex__fail(EPIPE, "%s: the consumer closed the ring", op);
    if (n > 0)
        return n;
    if (peer_gone_polled(r, SIDE_CONS, &r->p.polls, &r->p.next_check))
        return cortex__fail(EPIPE, "%s: the consumer died", op);
    poll_backoff();
    return cortex__fail_fixed(&cortex__err_ring_full);
}

/* Consumer slow path: readable slots now (> 0), or -EAGAIN / -EPIPE / -EBADMSG. */
static int64_t cons_avail(cortex_ring *r, uint64_t want, const char *op)
{
    if (!r || r->c.bad || r->closed || !is_cons(r))
        return not_open(r, false, op);
    if (r->marks) {
        int64_t k = marks_filled(r, want);
        if (k != 0)
            return k;
        marks_give_back(r, r->c.tail); /* caught up: the producer may need the slots of this line */
    } else {
        uint64_t avail = r->c.prod - r->c.tail;
        if (avail >= want) /* enough by the cached index; else one refresh */
            return (int64_t)avail;
    }
    int64_t n = r->marks ? 0 : cons_refresh(r);
    if (n != 0)
        return n;
    if (peer_gone_polled(r, SIDE_PROD, &r->c.polls, &r->c.next_check)) {
        /* Gone: anything it published before closing is still ours (closed was read with acquire). */
        n = r->marks ? marks_filled(r, want) : cons_refresh(r);
        if (n != 0)
            return n;
        return cortex__fail(EPIPE, "%s: the producer closed the ring or died, and the ring is drained", op);
    }
    poll_backoff();
    return cortex__fail_fixed(&cortex__err_ring_empty);
}

/* ---- copying ------------------------------------------------------------- */

static void copy_in(cortex_ring *r, uint64_t h, const void *src, uint64_t n)
{
#if defined(__x86_64__) && !defined(CORTEX_MODEL)
    /* batch scheme, whole-line elements: non-temporal stores, as the inline push (publish_prod fences) */
    if (r->batch && r->elem_size == 64 && ((uintptr_t)r->slots & 63u) == 0) {
        const unsigned char *s8 = (const unsigned char *)src;
        for (uint64_t i = 0; i < n; i++) {
            unsigned char *slot = r->slots + (size_t)((h + i) & r->mask) * 64;
            for (int q = 0; q < 4; q++)
                _mm_stream_si128((__m128i *)(void *)(slot + 16 * q),
                                 _mm_loadu_si128((const __m128i *)(const void *)(s8 + i * 64 + 16 * (size_t)q)));
        }
        return;
    }
#endif
    uint64_t at = h & r->mask;
    uint64_t first = r->capacity - at < n ? r->capacity - at : n;
    cortex__plain_write(r->slots + at * r->elem_size, src, (size_t)(first * r->elem_size));
    if (n > first)
        cortex__plain_write(r->slots, (const unsigned char *)src + first * r->elem_size,
                            (size_t)((n - first) * r->elem_size));
}

static void copy_out(cortex_ring *r, uint64_t t, void *dst, uint64_t n)
{
    uint64_t at = t & r->mask;
    uint64_t first = r->capacity - at < n ? r->capacity - at : n;
    cortex__plain_read(dst, r->slots + at * r->elem_size, (size_t)(first * r->elem_size));
    if (n > first)
        cortex__plain_read((unsigned char *)dst + first * r->elem_size, r->slots,
                           (size_t)((n - first) * r->elem_size));
}

/* ---- operations ---------------------------------------------------------- */

int cortex_ring_push_lib(cortex_ring *r, const void *elem)
{
    int64_t n = prod_space(r, 1, "cortex_ring_push");
    if (n < 0)
        return (int)n;
    if (!elem)
        return cortex__fail(EINVAL, "cortex_ring_push: NULL element");
    uint64_t h = r->p.head;
    if (r->marks) {
        int rc = marks_refuse_empty(r, elem, 1, "cortex_ring_push");
        if (rc == 0)
            marks_put(r, h, elem, 1);
        return rc;
    }
    copy_in(r, h, elem, 1);
    push_done(r, h + 1);
    if (r->batch && CORTEX_RING_PREFETCH_SLOTS(r->elem_size) < r->capacity / 2) /* as the inline push */
        __builtin_prefetch(r->slots + (size_t)((h + CORTEX_RING_PREFETCH_SLOTS(r->elem_size)) & r->mask) *
                                          r->elem_size, 1);
    return 0;
}

int cortex_ring_pop_lib(cortex_ring *r, void *out)
{
    int64_t n = cons_avail(r, 1, "cortex_ring_pop");
    if (n < 0)
        return (int)n;
    if (!out)
        return cortex__fail(EINVAL, "cortex_ring_pop: NULL output");
    uint64_t t = r->c.tail;
    if (r->marks) {
        marks_take(r, t, out, 1);
        return 0;
    }
    copy_out(r, t, out, 1);
    publish_cons(r, t + 1);
    return 0;
}

ssize_t cortex_ring_push_n_lib(cortex_ring *r, const void *elems, size_t n)
{
    if (n == 0)
        return 0;
    if (!elems)
        return cortex__fail(EINVAL, "cortex_ring_push_n: NULL elements");
    int64_t space = prod_space(r, n, "cortex_ring_push_n");
    if (space < 0)
        return (ssize_t)space;
    uint64_t k = n < (uint64_t)space ? n : (uint64_t)space;
    uint64_t h = r->p.head;
    if (r->marks) {
        int rc = marks_refuse_empty(r, elems, k, "cortex_ring_push_n");
        if (rc < 0)
            return rc;
        marks_put(r, h, elems, k);
        return (ssize_t)k;
    }
    copy_in(r, h, elems, k); /* at most two contiguous spans */
    publish_prod(r, h + k);  /* one publication for the whole batch */
    return (ssize_t)k;
}

ssize_t cortex_ring_pop_n_lib(cortex_ring *r, void *out, size_t n)
{
    if (n == 0)
        return 0;
    if (!out)
        return cortex__fail(EINVAL, "cortex_ring_pop_n: NULL output");
    int64_t avail = cons_avail(r, n, "cortex_ring_pop_n");
    if (avail < 0)
        return (ssize_t)avail;
    uint64_t k = n < (uint64_t)avail ? n : (uint64_t)avail;
    uint64_t t = r->c.tail;
    if (r->marks) {
        marks_take(r, t, out, k);
        return (ssize_t)k;
    }
    copy_out(r, t, out, k);
    publish_cons(r, t + k);
    return (ssize_t)k;
}

ssize_t cortex_ring_reserve(cortex_ring *r, size_t want, void **span)
{
    if (want == 0 || !span)
        return cortex__fail(EINVAL, "cortex_ring_reserve: want is 0 or span is NULL");
    int64_t n = prod_space(r, want, "cortex_ring_reserve");
    if (n < 0)
        return (ssize_t)n;
    uint64_t at = r->p.head & r->mask;
    uint64_t k = (uint64_t)n;
    if (r->marks) { /* a marked slot publishes itself when written: stage the span, commit copies it */
        uint64_t room = sizeof r->p.stage / sizeof r->p.stage[0];
        k = k < room ? k : room;
        k = k < want ? k : want;
        r->p.reserved = k;
        *span = r->p.stage;
        return (ssize_t)k;
    }
    if (k > r->capacity - at)
        k = r->capacity - at; /* contiguous only */
    if (k > want)
        k = want;
    r->p.reserved = k;
    *span = r->slots + at * r->elem_size;
    return (ssize_t)k;
}

int cortex_ring_commit(cortex_ring *r, size_t n)
{
    if (!r || r->p.bad || r->closed || !is_prod(r))
        return not_open(r, true, "cortex_ring_commit");
    if (n > r->p.reserved)
        return cortex__fail(EINVAL, "cortex_ring_commit: %zu slots committed, only %llu reserved", n,
                            (unsigned long long)r->p.reserved);
    /* A push between reserve and commit moved head: the span no longer fits what is free. */
    if (r->p.head - r->p.cons > r->capacity || n > r->capacity - (r->p.head - r->p.cons)) { /* wrap-safe */
        r->p.reserved = 0;
        return cortex__fail(EINVAL, "cortex_ring_commit: %zu slots do not fit any more (pushed since the reserve?)",
                            n);
    }
    r->p.reserved = 0;
    if (n && r->marks) {
        int rc = marks_refuse_empty(r, r->p.stage, n, "cortex_ring_commit");
        if (rc == 0)
            marks_put(r, r->p.head, r->p.stage, n);
        return rc;
    }
    if (n)
        publish_prod(r, r->p.head + n);
    return 0;
}

ssize_t cortex_ring_peek(cortex_ring *r, size_t want, const void **span)
{
    if (want == 0 || !span)
        return cortex__fail(EINVAL, "cortex_ring_peek: want is 0 or span is NULL");
    int64_t n = cons_avail(r, want, "cortex_ring_peek");
    if (n < 0)
        return (ssize_t)n;
    uint64_t at = r->c.tail & r->mask;
    uint64_t k = (uint64_t)n;
    if (k > r->capacity - at)
        k = r->capacity - at;
    if (k > want)
        k = want;
    r->c.peeked = k;
    *span = r->slots + at * r->elem_size;
    return (ssize_t)k;
}

int cortex_ring_release(cortex_ring *r, size_t n)
{
    if (!r || r->c.bad || r->closed || !is_cons(r))
        return not_open(r, false, "cortex_ring_release");
    if (n > r->c.peeked)
        return cortex__fail(EINVAL, "cortex_ring_release: %zu slots released, only %llu peeked", n,
                            (unsigned long long)r->c.peeked);
    /* A pop between peek and release moved tail: never release what was not published
     * (marks: a slot that holds no message; the producer never writes one that does). */
    if (r->marks ? marks_filled(r, n) < (int64_t)n : n > r->c.prod - r->c.tail) { /* wrap-safe */
        r->c.peeked = 0;
        return cortex__fail(EINVAL, "cortex_ring_release: %zu slots are not filled any more (popped since the peek?)",
                            n);
    }
    r->c.peeked = 0;
    if (n && r->marks)
        marks_free_slots(r, r->c.tail, n);
    else if (n)
        publish_cons(r, r->c.tail + n);
    return 0;
}

size_t cortex_ring_len(const cortex_ring *r)
{
    if (!r || !r->base || r->closed)
        return 0;
    cortex_ring_shared *sh = SH(r);
    /* Our own index from the handle when we have one (exact); the other side's from shared memory. */
    uint64_t c = is_cons(r) ? r->c.tail : cortex__ld64(&sh->cons, CX_ACQUIRE);
    uint64_t p = is_prod(r) ? r->p.head : cortex__ld64(&sh->prod, CX_ACQUIRE);
    uint64_t n = p - c;
    if (n > r->capacity) /* torn snapshot or corrupt: clamp */
        n = (int64_t)n < 0 ? 0 : r->capacity;
    return (size_t)n;
}

size_t cortex_ring_capacity(const cortex_ring *r) { return r ? r->capacity : 0; }

bool cortex_ring_is_empty(const cortex_ring *r) { return cortex_ring_len(r) == 0; }

struct cortex_region *cortex_ring_region(const cortex_ring *r) { return r ? r->region : NULL; }

/* The segment of an open segment-form handle, or NULL with the error set. */
static cortex_region *open_region(const cortex_ring *r, const char *op)
{
    if (!r || !r->base || r->closed)
        cortex__fail(EINVAL, "%s: %s", op, r ? "the ring handle is closed or was never opened" : "NULL ring");
    else if (!r->region)
        cortex__fail(EINVAL, "%s: a raw ring (over caller memory) has no segment to leak or own", op);
    else
        return r->region;
    return NULL;
}

int cortex_ring_leak(cortex_ring *r)
{
    cortex_region *region = open_region(r, "cortex_ring_leak");
    if (!region)
        return cortex_last_error()->code;
    /* Give the role back without closing the side: a later attach takes it and goes on. */
    if (is_prod(r))
        publish_pending(r); /* batch: the next producer goes on from the published index */
    if (r->role == CORTEX_PRODUCER)
        release_side(SH(r), SIDE_PROD);
    else if (r->role == CORTEX_CONSUMER)
        release_side(SH(r), SIDE_CONS);
    r->closed = 1;
    r->role = 0;
    force_slow(r);
    r->region = NULL;
    return cortex_region_leak(region);
}

int cortex_ring_own(cortex_ring *r)
{
    cortex_region *region = open_region(r, "cortex_ring_own");
    return region ? cortex_region_own(region) : cortex_last_error()->code;
}

/* ---- waiting ------------------------------------------------------------- */

/*
 * The sleeper's half of (2).  @ready re-checks the condition after the
 * announcement; returns true if the caller should retry instead of sleeping.
 */
static void sleep_once(cortex_ring *r, int peer, cortex__a32 *waiting, cortex__a32 *futex, int64_t nap,
                       bool (*ready)(void *), void *ctx)
{
    uint32_t seen = cortex__ld32(futex, CX_ACQUIRE);
#if !defined(CORTEX_SEED_RING_NO_WAIT_FENCE)
    cortex_ring_shared *sh = SH(r);
    cortex__st32(waiting, 1, CX_SEQ_CST);  /* announce */
    cortex__fence(CX_SEQ_CST);            /* store->load: announcement before the re-check */
    bool peer_light = r->role == CORTEX_BOTH_SIDES ? r->light != 0
                                                   : cortex__ld32(&sh->side[peer].light, CX_RELAXED) != 0;
    /* The peer's waker has no fence of its own: make its threads execute one now (see (2)). */
    if (peer_light && cortex__ring_membarrier() < 0 && nap > RING_SHORT_NAP_NS)
        nap = RING_SHORT_NAP_NS;
#else
    cortex__st32(waiting, 1, CX_RELAXED);
#endif
    if (ready(ctx) || peer_gone(r, peer, false)) {
        cortex__st32(waiting, 0, CX_RELAXED);
        return;
    }
    cortex__futex_wait(futex, seen, nap);
    cortex__st32(waiting, 0, CX_RELAXED);
}

static bool cons_ready(void *ctx)
{
    cortex_ring *r = ctx;
    if (r->marks)
        return cortex__ld64(mslot(r, r->c.tail), CX_ACQUIRE) != r->empty;
    return cortex__ld64(&SH(r)->prod, CX_ACQUIRE) != r->c.tail;
}

static bool prod_ready(void *ctx)
{
    cortex_ring *r = ctx;
    if (r->marks)
        return cortex__ld64(mslot(r, r->p.head), CX_ACQUIRE) == r->empty;
    return r->p.head - cortex__ld64(&SH(r)->cons, CX_ACQUIRE) < r->capacity;
}

/* Shared loop of push_wait/pop_wait: @try_op returns -EAGAIN to keep waiting. */
static int wait_loop(cortex_ring *r, int64_t timeout_ns, int peer, cortex__a32 *waiting, cortex__a32 *futex,
                     int (*try_op)(cortex_ring *, void *), void *arg, bool (*ready)(void *),
                     const char *op)
{
    int rc = try_op(r, arg);
    if (rc != -EAGAIN || timeout_ns == 0)
        return rc == -EAGAIN ? cortex__fail(ETIMEDOUT, "%s: timed out (timeout 0)", op) : rc;
    int64_t deadline = cortex__deadline(timeout_ns);
    /* Spin first: an active peer answers within a cache round trip, no system call. */
#if defined(CORTEX_MODEL)
    int64_t spin = 1, spin_until = 0; /* one try, then the sleep protocol */
#else
    int64_t spin = r->spin_ns >= 0 ? r->spin_ns : (int64_t)cortex__ld64(&ring_default_spin, CX_RELAXED);
    int64_t spin_until = cortex__now_ns() + spin;
#endif
    for (unsigned i = 1; spin > 0; i++) {
#if defined(CORTEX_MODEL)
        cortex__spin_hint(); /* elsewhere the failed try paused already (poll_backoff) */
#endif
        if ((rc = try_op(r, arg)) != -EAGAIN)
            return rc;
        if ((i & 31) == 0 && cortex__now_ns() >= spin_until)
            break;
#if defined(CORTEX_MODEL)
        break;
#endif
    }
    for (;;) {
        int64_t now = cortex__now_ns();
        if (now >= deadline)
            return cortex__fail(ETIMEDOUT, "%s: timed out after %lld ns", op, (long long)timeout_ns);
        int64_t nap = deadline - now < RING_NAP_NS ? deadline - now : RING_NAP_NS;
        sleep_once(r, peer, waiting, futex, nap, ready, r);
        if ((rc = try_op(r, arg)) != -EAGAIN)
            return rc;
        if (peer_gone(r, peer, true)) { /* a dead peer never wakes us: look after every nap */
            if ((rc = try_op(r, arg)) != -EAGAIN)
                return rc;
            return cortex__fail(EPIPE, "%s: the %s closed the ring or died", op,
                                peer == SIDE_PROD ? "producer" : "consumer");
        }
    }
}

int cortex_ring_set_spin(cortex_ring *r, int64_t spin_ns)
{
    if (!r || !r->base || r->closed)
        return cortex__fail(EINVAL, "cortex_ring_set_spin: %s", r ? "the handle is closed or not open" : "NULL ring");
    if (spin_ns < -1 || spin_ns > CORTEX_RING_SPIN_MAX_NS)
        return cortex__fail(EINVAL, "cortex_ring_set_spin: spin %lld ns is outside [0, %lld] (or -1: the default)",
                            (long long)spin_ns, (long long)CORTEX_RING_SPIN_MAX_NS);
    r->spin_ns = spin_ns;
    return 0;
}

int cortex_ring_set_default_spin(int64_t spin_ns)
{
    if (spin_ns < 0 || spin_ns > CORTEX_RING_SPIN_MAX_NS)
        return cortex__fail(EINVAL, "cortex_ring_set_default_spin: spin %lld ns is outside [0, %lld]",
                            (long long)spin_ns, (long long)CORTEX_RING_SPIN_MAX_NS);
    cortex__st64(&ring_default_spin, (uint64_t)spin_ns, CX_RELAXED);
    return 0;
}

static int try_push(cortex_ring *r, void *elem) { return cortex_ring_push_lib(r, elem); }
static int try_pop(cortex_ring *r, void *out) { return cortex_ring_pop_lib(r, out); }

int cortex_ring_push_wait(cortex_ring *r, const void *elem, int64_t timeout_ns)
{
    if (!r || r->p.bad || r->closed || !is_prod(r))
        return not_open(r, true, "cortex_ring_push_wait");
    return wait_loop(r, timeout_ns, SIDE_CONS, &SH(r)->prod_waiting, &SH(r)->prod_futex, try_push, (void *)elem,
                     prod_ready, "cortex_ring_push_wait");
}

int cortex_ring_pop_wait(cortex_ring *r, void *out, int64_t timeout_ns)
{
    if (!r || r->c.bad || r->closed || !is_cons(r))
        return not_open(r, false, "cortex_ring_pop_wait");
    return wait_loop(r, timeout_ns, SIDE_PROD, &SH(r)->cons_waiting, &SH(r)->cons_futex, try_pop, out, cons_ready,
                     "cortex_ring_pop_wait");
}

int cortex__ring_nap(cortex_ring *r, int64_t nap_ns, bool (*ready)(void *), void *ctx)
{
    if (!r || !r->base || r->closed || r->role == CORTEX_BOTH_SIDES)
        return cortex__fail(EINVAL, "ring nap: the handle is closed or serves both sides");
    cortex_ring_shared *sh = SH(r);
    bool prod = is_prod(r);
    int peer = prod ? SIDE_CONS : SIDE_PROD;
    sleep_once(r, peer, prod ? &sh->prod_waiting : &sh->cons_waiting, prod ? &sh->prod_futex : &sh->cons_futex,
               nap_ns, ready, ctx);
    return peer_gone(r, peer, true) ? 1 : 0;
}

bool cortex__ring_peer_sleeps(cortex_ring *r)
{
    if (!r || !r->base || r->closed || r->role == CORTEX_BOTH_SIDES)
        return false;
#if !defined(CORTEX_SEED_CHANNEL_NO_RELEASE_FENCE) /* seeded bug: the channel's release misses a sleeping producer */
    waker_fence(r);
#endif
    return cortex__ld32(is_prod(r) ? &SH(r)->cons_waiting : &SH(r)->prod_waiting, CX_RELAXED) != 0;
}

void cortex__ring_wake_peer(cortex_ring *r)
{
    if (!r || !r->base || r->closed || r->role == CORTEX_BOTH_SIDES)
        return;
    if (is_prod(r))
        cortex_ring__wake_cons(r);
    else
        cortex_ring__wake_prod(r);
}

/* ---- setting up ---------------------------------------------------------- */

static int check_role(cortex_role role, bool both_ok, const char *what)
{
    if (role == CORTEX_PRODUCER || role == CORTEX_CONSUMER || (both_ok && role == CORTEX_BOTH_SIDES))
        return 0;
    return cortex__fail(EINVAL, "%s: role %d is not CORTEX_PRODUCER or CORTEX_CONSUMER", what, (int)role);
}

/* Validates the live indices of a ring just mapped. */
static int check_indices(cortex_ring_shared *sh, uint32_t capacity, const char *what)
{
    uint64_t prod = cortex__ld64(&sh->prod, CX_ACQUIRE);
    uint64_t cons = cortex__ld64(&sh->cons, CX_ACQUIRE);
    if (prod - cons > capacity)
        return cortex__fail(EBADMSG, "%s: producer index %llu and consumer index %llu cannot be (capacity %u)",
                            what, (unsigned long long)prod, (unsigned long long)cons, capacity);
    return 0;
}

/* Claims the role(s) and records the fence mode. */
static int take_role(cortex_ring *r, cortex_role role, const char *what)
{
    cortex_ring_shared *sh = SH(r);
    bool light = cortex__ring_membarrier_register();
    int rc;
    if (role == CORTEX_BOTH_SIDES) {
        cortex__st32(&sh->side[SIDE_PROD].light, light, CX_RELAXED);
        cortex__st32(&sh->side[SIDE_CONS].light, light, CX_RELAXED);
    } else if ((rc = claim_side(sh, role == CORTEX_PRODUCER ? SIDE_PROD : SIDE_CONS, light, &r->took_over,
                                 what)) < 0) {
        return rc;
    }
    r->holder = (int32_t)cortex__self_pid();
    r->light = light;
    /* Re-read the indices now that we hold the role (a dead predecessor may have moved them). */
    uint64_t prod = cortex__ld64(&sh->prod, CX_ACQUIRE);
    uint64_t cons = cortex__ld64(&sh->cons, CX_ACQUIRE);
    if (prod - cons > r->capacity) {
        if (role != CORTEX_BOTH_SIDES)
            release_side(sh, role == CORTEX_PRODUCER ? SIDE_PROD : SIDE_CONS);
        return cortex__fail(EBADMSG, "%s: producer index %llu and consumer index %llu cannot be (capacity %u)",
                            what, (unsigned long long)prod, (unsigned long long)cons, r->capacity);
    }
    /* Marks: repair what a dead predecessor of this role left half done (see (5)). */
    if (r->marks && role == CORTEX_PRODUCER)
        prod = marks_adopt_prod(r, prod, cons);
    else if (r->marks && role == CORTEX_CONSUMER)
        marks_adopt_cons(r, cons);
    r->p.head = r->c.prod = r->p.pub = prod;
    r->p.cons = r->c.tail = r->c.freed = cons;
    if (r->marks) { /* nothing known free yet; the consumer's inline check re-arms at tail + capacity */
        r->p.cons = r->p.head - r->capacity;
        r->c.prod = r->c.tail + r->capacity;
    }
    /* The side this handle does not play always takes the slow path (which refuses it). */
    if (!is_prod(r))
        r->p.cons = r->p.head - r->capacity;
    if (!is_cons(r))
        r->c.prod = r->c.tail;
    return 0;
}

static int init_scheme(cortex_ring *r, void *mem, size_t len, uint32_t capacity, size_t elem_size,
                       size_t elem_align, uint32_t scheme, uint64_t empty)
{
    int rc;
    if (!r || !mem)
        return cortex__fail(EINVAL, "cortex_ring_init: NULL %s", r ? "memory" : "ring");
    if ((rc = check_geometry(capacity, elem_size, elem_align, "cortex_ring_init")) < 0)
        return rc;
    size_t need = cortex_ring_required_size_aligned(capacity, elem_size, elem_align);
    if (len < need)
        return cortex__fail(EINVAL, "cortex_ring_init: %zu bytes given, a ring of %u x %zu bytes needs %zu", len,
                            capacity, elem_size, need);
    uint64_t a = elem_align > CORTEX_CACHELINE ? elem_align : CORTEX_CACHELINE;
    if ((uintptr_t)mem & (a - 1))
        return cortex__fail(EINVAL, "cortex_ring_init: memory at %p is not %llu-byte aligned", mem,
                            (unsigned long long)a);
    cortex_ring_shared *sh = mem;
    write_header(sh, capacity, (uint32_t)elem_size, (uint32_t)elem_align, scheme, empty);
    handle_fill(r, mem, sh, CORTEX_BOTH_SIDES, NULL);
    return take_role(r, CORTEX_BOTH_SIDES, "cortex_ring_init");
}

int cortex_ring_init(cortex_ring *r, void *mem, size_t len, uint32_t capacity, size_t elem_size, size_t elem_align)
{
    return init_scheme(r, mem, len, capacity, elem_size, elem_align, CORTEX_RING_SCHEME_INDEX, 0);
}

static int check_marked(size_t elem_align, const char *what)
{
    if (elem_align > 8)
        return cortex__fail(EINVAL, "%s: a marked ring holds 8-byte elements aligned to at most 8 (align %zu given)",
                            what, elem_align);
    return 0;
}

int cortex_ring_init_batched(cortex_ring *r, void *mem, size_t len, uint32_t capacity, size_t elem_size,
                             size_t elem_align)
{
    return init_scheme(r, mem, len, capacity, elem_size, elem_align, CORTEX_RING_SCHEME_BATCH, 0);
}

int cortex_ring_flush(cortex_ring *r)
{
    if (!r || r->p.bad || r->closed || !is_prod(r))
        return not_open(r, true, "cortex_ring_flush");
    publish_pending(r);
    return 0;
}

int cortex_ring_init_marked(cortex_ring *r, void *mem, size_t len, uint32_t capacity, size_t elem_align,
                            uint64_t empty)
{
    int rc = check_marked(elem_align, "cortex_ring_init_marked");
    return rc < 0 ? rc : init_scheme(r, mem, len, capacity, 8, elem_align, CORTEX_RING_SCHEME_MARKS, empty);
}

static int attach_common(cortex_ring *r, void *mem, uint64_t len, size_t elem_size, size_t elem_align,
                         cortex_role role, cortex_region *region, const char *what)
{
    cortex_ring_shared h;
    int rc;
    if ((rc = validate_header(mem, len, elem_size, elem_align, what, &h)) < 0)
        return rc;
    if ((uintptr_t)mem & 63u)
        return cortex__fail(EINVAL, "%s: ring memory at %p is not 64-byte aligned", what, mem);
    if ((rc = check_indices(mem, h.capacity, what)) < 0)
        return rc;
    handle_fill(r, mem, &h, role, region);
    if ((rc = take_role(r, role, what)) < 0) {
        memset(r, 0, sizeof *r);
        return rc;
    }
    return 0;
}

int cortex_ring_attach_mem(cortex_ring *r, void *mem, size_t len, size_t elem_size, size_t elem_align,
                           cortex_role role)
{
    int rc;
    if (!r || !mem)
        return cortex__fail(EINVAL, "cortex_ring_attach_mem: NULL %s", r ? "memory" : "ring");
    if ((rc = check_role(role, true, "cortex_ring_attach_mem")) < 0)
        return rc;
    return attach_common(r, mem, len, elem_size, elem_align, role, NULL, "ring memory");
}

struct ring_init_ctx {
    uint32_t capacity, elem_size, elem_align, scheme;
    uint64_t empty;
};

static int ring_region_init(cortex_region *region, void *payload, void *ctx)
{
    CORTEX_UNUSED(region);
    struct ring_init_ctx *c = ctx;
    write_header(payload, c->capacity, c->elem_size, c->elem_align, c->scheme, c->empty);
    return 0;
}

static int attach_region(cortex_ring *r, cortex_region *region, size_t elem_size, size_t elem_align,
                         cortex_role role)
{
    char what[CORTEX__PART_WHAT_MAX];
    int rc = attach_common(r, cortex_region_payload(region), cortex_region_payload_size(region), elem_size,
                           elem_align, role, region, cortex__part_what(region, "ring", what));
    return rc < 0 ? cortex__part_open_failed(region, rc) : rc;
}

static int create_scheme(cortex_ring *r, cortex_key key, uint32_t capacity, size_t elem_size, size_t elem_align,
                         const char *type_name, cortex_role role, const cortex_opts *opts, uint32_t scheme,
                         uint64_t empty)
{
    int rc;
    if (!r)
        return cortex__fail(EINVAL, "cortex_ring_create: NULL ring");
    if ((rc = check_role(role, false, "cortex_ring_create")) < 0)
        return rc;
    if ((rc = check_geometry(capacity, elem_size, elem_align, "cortex_ring_create")) < 0)
        return rc;
    size_t need = cortex_ring_required_size_aligned(capacity, elem_size, elem_align);
    uint32_t align = elem_align > CORTEX_CACHELINE ? (uint32_t)elem_align : CORTEX_CACHELINE;
    cortex_layout layout = {.kind = CORTEX_KIND_RING,
                            .payload_size = need,
                            .payload_align = align,
                            .elem_size = (uint32_t)elem_size,
                            .elem_align = (uint32_t)elem_align,
                            .type_name = cortex__type_tag(opts, type_name)};
    struct ring_init_ctx ctx = {capacity, (uint32_t)elem_size, (uint32_t)elem_align, scheme, empty};
    cortex_region *region = NULL;
    if ((rc = cortex_region_create(&region, key, &layout, opts, ring_region_init, &ctx)) < 0)
        return rc;
    /* Created, or (open-or-create) found: either way validate and claim like an attach. */
    return attach_region(r, region, elem_size, elem_align, role);
}

int cortex_ring_create(cortex_ring *r, cortex_key key, uint32_t capacity, size_t elem_size, size_t elem_align,
                       const char *type_name, cortex_role role, const cortex_opts *opts)
{
    return create_scheme(r, key, capacity, elem_size, elem_align, type_name, role, opts, CORTEX_RING_SCHEME_INDEX,
                         0);
}

int cortex_ring_create_batched(cortex_ring *r, cortex_key key, uint32_t capacity, size_t elem_size,
                               size_t elem_align, const char *type_name, cortex_role role, const cortex_opts *opts)
{
    return create_scheme(r, key, capacity, elem_size, elem_align, type_name, role, opts, CORTEX_RING_SCHEME_BATCH,
                         0);
}

int cortex_ring_create_marked(cortex_ring *r, cortex_key key, uint32_t capacity, size_t elem_align,
                              const char *type_name, uint64_t empty, cortex_role role, const cortex_opts *opts)
{
    int rc = check_marked(elem_align, "cortex_ring_create_marked");
    return rc < 0 ? rc
                  : create_scheme(r, key, capacity, 8, elem_align, type_name, role, opts, CORTEX_RING_SCHEME_MARKS,
                                  empty);
}

int cortex_ring_attach(cortex_ring *r, cortex_key key, size_t elem_size, size_t elem_align, const char *type_name,
                       cortex_role role, const cortex_opts *opts)
{
    int rc;
    if (!r)
        return cortex__fail(EINVAL, "cortex_ring_attach: NULL ring");
    if ((rc = check_role(role, false, "cortex_ring_attach")) < 0)
        return rc;
    cortex_layout expect = {.kind = CORTEX_KIND_RING,
                            .elem_size = (uint32_t)elem_size,
                            .elem_align = (uint32_t)elem_align,
                            .type_name = cortex__type_tag(opts, type_name)};
    cortex_region *region = NULL;
    if ((rc = cortex_region_attach(&region, key, &expect, opts)) < 0)
        return rc;
    return attach_region(r, region, elem_size, elem_align, role);
}

int cortex_ring_close(cortex_ring *r)
{
    if (!r || !r->base || r->closed)
        return 0;
    cortex_ring_shared *sh = SH(r);
    /* A forked child's copy of the handle only detaches: the role stays with the process that claimed it. */
    if (r->holder == (int32_t)cortex__self_pid()) {
#if !defined(CORTEX_SEED_RING_BATCH_CLOSE_NO_PUBLISH) /* seeded bug: close strands the pending group */
        if (is_prod(r)) /* batch: what was pushed goes out first */
            publish_pending(r);
#endif
        if (is_prod(r))
            cortex__st32(&sh->side[SIDE_PROD].closed, 1, CX_SEQ_CST);
        if (is_cons(r))
            cortex__st32(&sh->side[SIDE_CONS].closed, 1, CX_SEQ_CST);
        /* Wake a peer asleep in *_wait: it re-checks closed after its fence (see (3)). */
        r->light = 0; /* the close path always uses the full fence */
        wake_if_waiting(r, &sh->cons_waiting, &sh->cons_futex);
        wake_if_waiting(r, &sh->prod_waiting, &sh->prod_futex);
        if (r->role == CORTEX_PRODUCER)
            release_side(sh, SIDE_PROD);
        else if (r->role == CORTEX_CONSUMER)
            release_side(sh, SIDE_CONS);
    }
    cortex_region *region = r->region;
    r->closed = 1;
    r->role = 0;
    force_slow(r);
    r->region = NULL;
    return region ? cortex_region_close(region) : 0;
}

int cortex__ring_set_indices(cortex_ring *r, uint64_t start)
{
    cortex_ring_shared *sh = SH(r);
    if (cortex__ld64(&sh->prod, CX_ACQUIRE) != cortex__ld64(&sh->cons, CX_ACQUIRE))
        return cortex__fail(EBUSY, "cortex__ring_set_indices: the ring is not empty");
    cortex__st64(&sh->cons, start, CX_RELEASE);
    cortex__st64(&sh->prod, start, CX_RELEASE);
    r->p.head = r->p.cons = r->c.tail = r->c.prod = r->p.pub = r->c.freed = start;
    return 0;
}

/* ---- inspection ---------------------------------------------------------- */

int cortex_ring_inspect_mem(const void *mem, size_t len, cortex_ring_info *out)
{
    if (!mem || !out)
        return cortex__fail(EINVAL, "cortex_ring_inspect: NULL %s", mem ? "output" : "memory");
    memset(out, 0, sizeof *out);
    cortex_ring_shared h;
    int rc = validate_header(mem, len, 0, 0, "ring", &h);
    if (rc < 0)
        return rc;
    cortex_ring_shared *sh = (cortex_ring_shared *)(uintptr_t)mem;
    out->version = h.version;
    out->capacity = h.capacity;
    out->elem_size = h.elem_size;
    out->elem_align = h.elem_align;
    out->scheme = h.scheme;
    out->empty = h.empty;
    out->slots_offset = h.slots_offset;
    out->prod = cortex__ld64(&sh->prod, CX_ACQUIRE);
    out->cons = cortex__ld64(&sh->cons, CX_ACQUIRE);
    out->indices_ok = out->prod - out->cons <= h.capacity;
    out->fill = out->indices_ok ? out->prod - out->cons : 0;
    int32_t pid;
    out->prod_alive = side_alive(sh, SIDE_PROD, &pid);
    out->prod_pid = pid < 0 && pid != INT32_MIN ? -pid : pid;
    out->cons_alive = side_alive(sh, SIDE_CONS, &pid);
    out->cons_pid = pid < 0 && pid != INT32_MIN ? -pid : pid;
    out->prod_closed = cortex__ld32(&sh->side[SIDE_PROD].closed, CX_ACQUIRE) != 0;
    out->cons_closed = cortex__ld32(&sh->side[SIDE_CONS].closed, CX_ACQUIRE) != 0;
    out->prod_waiting = cortex__ld32(&sh->prod_waiting, CX_RELAXED) != 0;
    out->cons_waiting = cortex__ld32(&sh->cons_waiting, CX_RELAXED) != 0;
    if (!out->indices_ok)
        return cortex__fail(EBADMSG, "ring: producer index %llu and consumer index %llu cannot be (capacity %u)",
                            (unsigned long long)out->prod, (unsigned long long)out->cons, h.capacity);
    return 0;
}

int cortex_ring_inspect(const struct cortex_region *region, cortex_ring_info *out)
{
    int rc = cortex__region_inspect_kind(region, CORTEX_KIND_RING, out, sizeof *out, "cortex_ring_inspect", "a ring");
    if (rc < 0)
        return rc;
    return cortex_ring_inspect_mem(cortex_region_payload(region), cortex_region_payload_size(region), out);
}

/* ---- the waitset's hook (lib/waitset) ------------------------------------ */

/* Ready to pop (1) or not (0), judged from shared memory only; -EBADMSG for an impossible producer index. */
static int cons_ready_checked(cortex_ring *r)
{
    if (r->marks)
        return cortex__ld64(mslot(r, r->c.tail), CX_ACQUIRE) != r->empty;
    uint64_t t = r->c.tail, p = cortex__ld64(&SH(r)->prod, CX_ACQUIRE);
    if (p - t > r->capacity || p - r->c.prod > p - t)
        return cortex__fail(EBADMSG, "ring: producer index %llu is impossible for consumer index %llu (capacity %u)",
                            (unsigned long long)p, (unsigned long long)t, r->capacity);
    return p != t;
}

/* Room to push (1) or not (0); -EBADMSG for an impossible consumer index. */
static int prod_ready_checked(cortex_ring *r)
{
    if (r->marks)
        return cortex__ld64(mslot(r, r->p.head), CX_ACQUIRE) == r->empty;
    uint64_t h = r->p.head, c = cortex__ld64(&SH(r)->cons, CX_ACQUIRE);
    if (h - c > r->capacity || c - r->p.cons > h - r->p.cons)
        return cortex__fail(EBADMSG, "ring: consumer index %llu is impossible for producer index %llu (capacity %u)",
                            (unsigned long long)c, (unsigned long long)h, r->capacity);
    return h - c < r->capacity;
}

int cortex__ring_wait_announce(cortex_ring *r, bool space, cortex__a32 **word, uint32_t *val)
{
    if (!r || r->closed || !(space ? is_prod(r) : is_cons(r)) || (space ? r->p.bad : r->c.bad))
        return not_open(r, space, space ? "waitset: ring (space)" : "waitset: ring (data)");
    cortex_ring_shared *sh = SH(r);
    *word = space ? &sh->prod_futex : &sh->cons_futex;
    *val = cortex__ld32(*word, CX_ACQUIRE);
    cortex__st32(space ? &sh->prod_waiting : &sh->cons_waiting, 1, CX_SEQ_CST);
    cortex__fence(CX_SEQ_CST); /* the announcement before the re-check, as in sleep_once() */
    int peer = space ? SIDE_CONS : SIDE_PROD;
    return r->role == CORTEX_BOTH_SIDES ? r->light != 0 : cortex__ld32(&sh->side[peer].light, CX_RELAXED) != 0;
}

int cortex__ring_wait_check(cortex_ring *r, bool space, bool check_pid)
{
    if (!r || r->closed || !(space ? is_prod(r) : is_cons(r)) || (space ? r->p.bad : r->c.bad))
        return not_open(r, space, space ? "waitset: ring (space)" : "waitset: ring (data)");
    if (space) {
        if (peer_gone(r, SIDE_CONS, check_pid))
            return cortex__fail(EPIPE, "waitset: ring (space): the consumer closed the ring or died");
        return prod_ready_checked(r);
    }
    int rc = cons_ready_checked(r);
    if (rc != 0 || !peer_gone(r, SIDE_PROD, check_pid))
        return rc;
    rc = cons_ready_checked(r); /* what it published before closing is still ours */
    return rc != 0 ? rc : cortex__fail(EPIPE, "waitset: ring (data): the producer closed the ring or died, drained");
}

cortex__a64 *cortex__ring_wait_watch(cortex_ring *r, bool space)
{
    if (!r || r->closed || !(space ? is_prod(r) : is_cons(r)) || (space ? r->p.bad : r->c.bad))
        return NULL;
    if (r->marks)
        return mslot(r, space ? r->p.head : r->c.tail);
    return space ? &SH(r)->cons : &SH(r)->prod;
}

void cortex__ring_wait_disarm(cortex_ring *r, bool space)
{
    cortex__st32(space ? &SH(r)->prod_waiting : &SH(r)->cons_waiting, 0, CX_RELAXED);
}
