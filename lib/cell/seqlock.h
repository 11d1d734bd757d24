/* SPDX-License-Identifier: MIT */
/*
 * lib/cell/seqlock.h: the cell's sequence, inconsistent flag and value copies
 * on plain caller memory (internal; the model checker runs these in its
 * explorer, built with -DCORTEX_MODEL).
 *
 * Memory model.  Readers copy the value while a writer may be storing it, so
 * the value is copied in 64-bit words through lib/atomic.h: the writer's
 * stores are release, the reader's loads acquire.  That is correct C11 (no
 * data race; on x86 both are plain moves) and needs no fence:
 *
 *   writer (lock held)             reader
 *   s = seq                        s0 = seq (acquire); retry if odd
 *   seq = s + 1      (relaxed)     words = value (acquire, each)
 *   value = words    (release)     f = flag (acquire)
 *   flag = f'        (release)     s1 = seq (relaxed)
 *   seq = s + 2      (release)     ok when s1 == s0 (the counters)
 *
 * The sequence word (64 bits): the low CORTEX__CELL_SEQ_BITS bits are the
 * counter (odd while a write is in progress; the value's version when
 * even), the high ones the holder's pid when the word is also the lock
 * (the futex backend, lib/cell/cellword.h), 0 otherwise.  Readers and
 * waiters compare counters only, so taking or releasing the lock without a
 * write is not a change of value.  The counter wraps at 2^40 (2^39 writes):
 * a reader would have to sleep through exactly that many writes between
 * its two loads to accept a torn copy.
 *
 * If the reader's copy saw any word of a newer write, that word's release
 * store made "seq = s + 1" visible before it (acquire), so s1 != s0 and the
 * read retries; the data words never race in the C11 sense, which is also
 * why ThreadSanitizer stays quiet without annotations.  Every copy of the
 * value in shared memory (even under the lock) uses these words, so a lock
 * that ThreadSanitizer cannot see (a SysV semaphore) does not produce false
 * reports either.  The caller's buffers are ordinary memory.
 *
 * Seeded bug for the model checker: with CORTEX_SEED_CELL_RELAXED_SEQ the
 * writer's sequence and value stores are all relaxed (no ordering), so a
 * reader can accept a torn value.  Normal builds never define it.
 */
#ifndef CORTEX_CELL_SEQLOCK_H
#define CORTEX_CELL_SEQLOCK_H

#include "atomic.h"
#include "internal.h"
#ifndef CORTEX_MODEL
#include "os/os.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef CORTEX_SEED_CELL_RELAXED_SEQ
#define CORTEX__SEQ_PUBLISH CX_RELAXED
#else
#define CORTEX__SEQ_PUBLISH CX_RELEASE
#endif

#define CORTEX__CELL_SEQ_BITS 40
#define CORTEX__CELL_SEQ_MASK ((UINT64_C(1) << CORTEX__CELL_SEQ_BITS) - 1u)

/* The counter of sequence word @w (its version when even). */
static inline uint64_t cortex__cell_counter(uint64_t w) { return w & CORTEX__CELL_SEQ_MASK; }

/* Sequence word @w with its counter advanced by @by (wrapping), holder bits kept. */
static inline uint64_t cortex__cell_advance(uint64_t w, uint64_t by)
{
    return (w & ~CORTEX__CELL_SEQ_MASK) | ((w + by) & CORTEX__CELL_SEQ_MASK);
}

/* Bytes of shared value area for a value of @n bytes (whole words). */
static inline size_t cortex__cell_words_size(size_t n) { return (n + 7u) & ~(size_t)7u; }

/*
 * Copy the last 1..7 bytes of a value between a word and caller memory with
 * constant-size copies only: a memcpy of variable length is a library call,
 * which would make every copy loop save registers on its fast path.
 */
static inline void cortex__cell_tail(void *dst, const void *src, size_t k)
{
    switch (k) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 3: memcpy(dst, src, 3); break;
    case 4: memcpy(dst, src, 4); break;
    case 5: memcpy(dst, src, 5); break;
    case 6: memcpy(dst, src, 6); break;
    default: memcpy(dst, src, 7); break;
    }
}

/* Copy @n bytes from caller memory into the shared value area (8-aligned, padded to words), each word stored with @mo. */
static inline void cortex__cell_store_value_mo(void *shared, const void *src, size_t n, memory_order mo)
{
    cortex__a64 *w = (cortex__a64 *)shared;
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        cortex__st64(&w[i / 8], v, mo);
    }
    if (i < n) {
        uint64_t v = 0;
        cortex__cell_tail(&v, s + i, n - i);
        cortex__st64(&w[i / 8], v, mo);
    }
}

/* The same with release stores (the lock-based writers: no fence needed before them). */
static inline void cortex__cell_store_value(void *shared, const void *src, size_t n)
{
    cortex__cell_store_value_mo(shared, src, n, CORTEX__SEQ_PUBLISH);
}

/* Copy @n bytes of the shared value area out to caller memory. */
static inline void cortex__cell_load_value(void *dst, const void *shared, size_t n)
{
    cortex__a64 *w = (cortex__a64 *)(uintptr_t)shared;
    unsigned char *d = (unsigned char *)dst;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = cortex__ld64(&w[i / 8], CX_ACQUIRE);
        memcpy(d + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = cortex__ld64(&w[i / 8], CX_ACQUIRE);
        cortex__cell_tail(d + i, &v, n - i);
    }
}

/*
 * Lock held: repair what a dead writer left.  An odd counter means the
 * previous holder died between "counter odd" and "counter even": mark the
 * value inconsistent and make the counter even again.  Returns true if it
 * was odd.
 */
static inline bool cortex__cell_repair(cortex__a64 *seq, cortex__a32 *flag)
{
    uint64_t s = cortex__ld64(seq, CX_RELAXED);
    if (!(s & 1u))
        return false;
    cortex__st32(flag, 1, CORTEX__SEQ_PUBLISH);
    cortex__st64(seq, cortex__cell_advance(s, 1), CORTEX__SEQ_PUBLISH);
    return true;
}

/* Counter odd: store the value (if @src) and set the flag to @inconsistent. */
static inline void cortex__cell_write_body(cortex__a32 *flag, void *shared, const void *src, size_t n,
                                           uint32_t inconsistent)
{
    if (src)
        cortex__cell_store_value(shared, src, n);
    cortex__st32(flag, inconsistent, CORTEX__SEQ_PUBLISH);
}

/* Lock held, sequence even: replace the value and set the flag to @inconsistent. */
static inline void cortex__cell_write_locked(cortex__a64 *seq, cortex__a32 *flag, void *shared, const void *src,
                                             size_t n, uint32_t inconsistent)
{
    uint64_t s = cortex__ld64(seq, CX_RELAXED);
    cortex__st64(seq, cortex__cell_advance(s, 1), CX_RELAXED);
    cortex__cell_write_body(flag, shared, src, n, inconsistent);
    cortex__st64(seq, cortex__cell_advance(s, 2), CORTEX__SEQ_PUBLISH);
}

/*
 * The one-writer backend's write (its handle holds the writer role, so no
 * other process stores here): a single-writer seqlock, no read-modify-write.
 *
 *   seq = s + 1   (relaxed; s made even first, so a corrupt odd word still
 *                  ends odd during the copy)
 *   fence(release)        x86: no instruction, the compiler keeps the order
 *   value = words (relaxed), flag = 0 (relaxed)
 *   seq = s + 2   (release)
 *
 * A reader whose acquire load of a value word reads one of these stores
 * synchronises with the fence, so its later load of seq sees s + 1 or newer
 * and it retries; one that read s + 2 (acquire) sees every word.  Seeded bug
 * for the model checker: CORTEX_SEED_ONE_WRITER_NO_RELEASE_FENCE drops the
 * fence, so the value stores may pass the odd counter and a reader can
 * accept a torn value.
 */
static inline void cortex__cell_write_one(cortex__a64 *seq, cortex__a32 *flag, void *shared, const void *src,
                                          size_t n)
{
    uint64_t s = cortex__cell_counter(cortex__ld64(seq, CX_RELAXED)) & ~(uint64_t)1;
    cortex__st64(seq, (s + 1) & CORTEX__CELL_SEQ_MASK, CX_RELAXED);
#ifndef CORTEX_SEED_ONE_WRITER_NO_RELEASE_FENCE
    cortex__fence(CX_RELEASE);
#endif
    cortex__cell_store_value_mo(shared, src, n, CX_RELAXED);
    cortex__st32(flag, 0, CX_RELAXED);
    cortex__st64(seq, (s + 2) & CORTEX__CELL_SEQ_MASK, CX_RELEASE);
}

/*
 * One optimistic read attempt: no lock, no store to shared memory.
 * Returns 0 (copied, consistent), 1 (copied, inconsistent) or -1 (lost to a
 * writer: retry); on 0 and 1 *version is the sequence the copy belongs to.
 */
static inline int cortex__cell_read_try_version(cortex__a64 *seq, cortex__a32 *flag, const void *shared, void *dst,
                                                size_t n, uint64_t *version)
{
    uint64_t s0 = cortex__ld64(seq, CX_ACQUIRE);
    if (s0 & 1u)
        return -1;
    cortex__cell_load_value(dst, shared, n);
    uint32_t f = cortex__ld32(flag, CX_ACQUIRE);
    uint64_t s1 = cortex__ld64(seq, CX_RELAXED);
    if (cortex__cell_counter(s1 ^ s0) != 0)
        return -1;
    *version = cortex__cell_counter(s0); /* the (even) counter of the write whose value was copied */
    return f ? 1 : 0;
}

static inline int cortex__cell_read_try(cortex__a64 *seq, cortex__a32 *flag, const void *shared, void *dst,
                                        size_t n)
{
    uint64_t version;
    return cortex__cell_read_try_version(seq, flag, shared, dst, n, &version);
}

/* Lock held (after repair): copy the value out; returns the flag. */
static inline uint32_t cortex__cell_read_locked(cortex__a64 *seq, cortex__a32 *flag, const void *shared, void *dst,
                                                size_t n)
{
    (void)seq;
    cortex__cell_load_value(dst, shared, n);
    return cortex__ld32(flag, CX_RELAXED);
}

/*
 * Waiting for a change.  The waiters word (32 bits, in the cell header next
 * to the sequence) is the futex word: bit 0 (CORTEX__CELL_WAITING) says a
 * waiter sleeps or is about to; bit 31 (CORTEX__CELL_LIGHT, sticky) says
 * some process writes this cell without a wake fence; bits 1..30 are a wake
 * generation.
 *
 *   waiter                            writer (after its sequence store)
 *   CAS waiters: w -> w | 1           full writer: fence (seq_cst)
 *     (always an RMW: it reads the    light writer: compiler barrier only
 *     newest word, LIGHT included)    w = waiters (relaxed)
 *   fence (seq_cst)                   bit 0 set: CAS waiters -> generation
 *   LIGHT: membarrier(GLOBAL_EXP.)      + 1, bit 0 clear, LIGHT kept;
 *   s = seq; changed: done              FUTEX_WAKE all
 *   FUTEX_WAIT(waiters, w | 1)
 *
 * A full writer and the waiter make a store-buffering pair of fences:
 * either the writer sees bit 0, or the waiter sees the new sequence.  A
 * light writer has no fence: its process registered for expedited global
 * membarrier (lib/os) and set LIGHT with an RMW before its first write, so
 * either the waiter's announcing CAS came after that RMW in the word's
 * modification order, saw LIGHT and ran membarrier, which makes every
 * running thread of the writer's process execute a full barrier somewhere
 * in its "store seq; load waiters" (before the store: the load sees bit 0;
 * after the load: the waiter sees the store; between: both); or the CAS
 * came before it, and then the writer's later load, which coherence places
 * after its own RMW, sees bit 0.  A writer that sees bit 0 changes the word
 * the waiter sleeps on, so the kernel's compare (or the wake) ends that
 * sleep.  A light-path writer pays no fence and one branch; the waiter's
 * slow path pays one membarrier call.  If the call fails (the process is
 * not allowed it), the waiter cannot prove the wake and sleeps at most
 * CORTEX__CELL_UNPROVED_NAP_NS at a time.  A waiter that dies leaves bit 0
 * set: the next write clears it at the cost of one FUTEX_WAKE.  Any value a
 * hostile peer puts in the word only causes extra wakes, membarrier calls
 * or a sleep until the timeout.
 *
 * Seeded bugs for the model checker: CORTEX_SEED_CELL_NO_WAKE_FENCE leaves
 * the full writer's fence out; CORTEX_SEED_CELL_NO_MEMBARRIER makes the
 * waiter skip membarrier although LIGHT is set; CORTEX_SEED_CELL_LIGHT_UNJOINED
 * makes a light writer skip setting LIGHT.  Each loses a wakeup.
 */
#define CORTEX__CELL_WAITING 1u
#define CORTEX__CELL_LIGHT (UINT32_C(1) << 31)
#define CORTEX__CELL_UNPROVED_NAP_NS INT64_C(200000)

#if defined(__GNUC__) || defined(__clang__)
#define CORTEX__CELL_COLD __attribute__((noinline, cold, unused))
#else
#define CORTEX__CELL_COLD
#endif

#ifdef CORTEX_MODEL
/* The explorer runs a seq_cst fence in every other live thread where it stands. */
static inline int cortex__cell_membarrier(void)
{
    cortex__model_membarrier();
    return 0;
}
#else
static inline int cortex__cell_membarrier(void) { return cortex__os_membarrier(); }
#endif

/*
 * A process whose writes to this cell will take the light path (it
 * registered for expedited global membarrier) marks the cell first, with an
 * RMW (see above).  Sticky: nothing clears LIGHT.  False if the word kept
 * changing under the CAS (a hostile peer): then the writer keeps its fence.
 */
static inline bool cortex__cell_light_join(cortex__a32 *waiters)
{
#ifndef CORTEX_SEED_CELL_LIGHT_UNJOINED
    uint32_t w = cortex__ld32(waiters, CX_RELAXED);
    for (int tries = 0; tries < 1000; tries++)
        if (cortex__cas32(waiters, &w, w | CORTEX__CELL_LIGHT, CX_RELAXED, CX_RELAXED))
            return true;
    return false;
#else
    (void)waiters;
    return true;
#endif
}

static CORTEX__CELL_COLD int cortex__cell_wake_slow(cortex__a32 *waiters, uint32_t w)
{
    while (w & CORTEX__CELL_WAITING) {
        uint32_t next = ((w + 1u) & ~CORTEX__CELL_LIGHT) | (w & CORTEX__CELL_LIGHT);
        if (cortex__cas32(waiters, &w, next, CX_RELAXED, CX_RELAXED))
            break;
    }
    cortex__futex_wake(waiters, (uint32_t)INT32_MAX);
    return 0;
}

/*
 * Writer: after a store that changed the sequence (or released the lock),
 * wake the waiters if one announced itself.  @light: this process marked
 * the cell with cortex__cell_light_join() and is the one that registered.
 * Returns 0 (so a writer can end with it as a tail call).
 */
static inline int cortex__cell_wake(cortex__a32 *waiters, bool light)
{
#ifndef CORTEX_SEED_CELL_NO_WAKE_FENCE
    if (!light)
        cortex__fence(CX_SEQ_CST);
#endif
#ifndef CORTEX_MODEL
    if (light) /* the sleeper's membarrier is the CPU's fence; the compiler must not reorder either */
        __asm__ __volatile__("" ::: "memory");
#endif
    uint32_t w = cortex__ld32(waiters, CX_RELAXED);
    if (__builtin_expect((w & CORTEX__CELL_WAITING) != 0, 0))
        return cortex__cell_wake_slow(waiters, w);
    return 0;
}

/*
 * Waiter (for a new value or for the lock, cellword.h): set bit 0 of the
 * waiters word, fence (and membarrier if LIGHT), and load the sequence word
 * into *s.  Returns the waiters value to FUTEX_WAIT on if *s shows nothing
 * to act on; *nap_cap is then the longest sleep that cannot miss a wake
 * (INT64_MAX, or CORTEX__CELL_UNPROVED_NAP_NS if membarrier failed).
 */
static inline uint32_t cortex__cell_announce(cortex__a32 *waiters, cortex__a64 *seq, uint64_t *s, int64_t *nap_cap)
{
    uint32_t w = cortex__ld32(waiters, CX_RELAXED);
    /* An RMW even when bit 0 is set already: it must read the newest LIGHT. */
    while (!cortex__cas32(waiters, &w, w | CORTEX__CELL_WAITING, CX_RELAXED, CX_RELAXED))
        cortex__spin_hint();
    w |= CORTEX__CELL_WAITING;
    cortex__fence(CX_SEQ_CST);
    *nap_cap = INT64_MAX;
#ifndef CORTEX_SEED_CELL_NO_MEMBARRIER
    if ((w & CORTEX__CELL_LIGHT) && cortex__cell_membarrier() < 0)
        *nap_cap = CORTEX__CELL_UNPROVED_NAP_NS;
#endif
    *s = cortex__ld64(seq, CX_ACQUIRE);
    return w;
}

/*
 * Waiter: sleep until the counter is even and differs from *seen, then store
 * it in *seen: 0.  -ETIMEDOUT once @deadline (monotonic ns; INT64_MAX: none)
 * has passed, with the counter last seen in *now.
 */
static inline int cortex__cell_wait_change(cortex__a64 *seq, cortex__a32 *waiters, uint64_t *seen, uint64_t *now,
                                           int64_t deadline)
{
    for (;;) {
        uint64_t s;
        int64_t cap;
        uint32_t w = cortex__cell_announce(waiters, seq, &s, &cap);
        s = cortex__cell_counter(s);
        *now = s;
        if (s != *seen && !(s & 1u)) {
            *seen = s;
            return 0;
        }
        int64_t left = -1;
        if (deadline != INT64_MAX && (left = deadline - cortex__now_ns()) <= 0)
            return -ETIMEDOUT;
        if (cap != INT64_MAX && (left < 0 || left > cap))
            left = cap;
        cortex__futex_wait(waiters, w, left); /* 0, -EAGAIN, -EINTR, -ETIMEDOUT: look again */
    }
}

#endif
