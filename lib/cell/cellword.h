/* SPDX-License-Identifier: MIT */
/*
 * lib/cell/cellword.h: the cell's sequence word as its lock (internal; the
 * futex backend only, run by the model checker too, -DCORTEX_MODEL).
 *
 * With the futex backend the cell has one word for the lock and the
 * sequence (lib/cell/seqlock.h):
 *
 *   bits 0..39   counter: even = no write in progress (the version), odd = a
 *                write in progress
 *   bits 40..63  holder pid, 0 = free
 *
 * A write is one CAS (free, counter c -> self, c + 1), the value stores and
 * one release store (0, c + 2): one read-modify-write instead of the two of
 * a separate lock, and the stores of the sequence ride on the lock's.  The
 * wake check after it costs a fence only where the process could not
 * register for membarrier (seqlock.h, "Waiting for a change").  An
 * update, a read under the lock and consistent() take the word with the
 * counter unchanged (readers carry on: they compare counters only) and
 * make it odd only if they write.
 *
 * The owner record stays the futex lock's (its bytes in the cell's lock
 * area, lib/sync/futex_lock.h): (stamp << 32) | pid, stored after the CAS
 * and cleared before the release.  A waiter that finds the word held spins
 * CORTEX__FUTEX_SPIN times, checks the holder once (cortex__futex_pid_dead:
 * only a certain "dead" counts), then announces itself on the cell's waiters
 * word and sleeps there for at most CORTEX_SYNC_CHECK_INTERVAL_NS; every
 * release is followed by cortex__cell_wake(), which wakes all sleepers (value
 * waiters and lock waiters) only if one announced itself (the same wake rule
 * as a value waiter's, light or full).  A dead holder's
 * word is taken over with a CAS that keeps its counter: -EOWNERDEAD, and an
 * odd counter then still says the value may be torn (cortex__cell_repair).
 *
 * Limits: pids below 2^24 (Linux: at most 2^22), one pid namespace and boot
 * per cell (checked at attach like the futex lock's).
 *
 * Seeded bug for the model checker: with CORTEX_SEED_CELLWORD_EVEN_HELD a
 * write takes the word with its counter still even (and the release adds
 * 2), so readers copy a value being written and can accept a torn one.
 */
#ifndef CORTEX_CELL_CELLWORD_H
#define CORTEX_CELL_CELLWORD_H

#include "atomic.h"
#include "cell/seqlock.h"
#include "internal.h"
#include "sync/futex_lock.h"

#include <errno.h>
#include <neocortex/sync.h>

#define CORTEX__CELLWORD_PID_MAX ((UINT32_C(1) << (64 - CORTEX__CELL_SEQ_BITS)) - 1u)

/* The holder's pid in word @w, 0 when free. */
static inline uint32_t cortex__cellword_holder(uint64_t w) { return (uint32_t)(w >> CORTEX__CELL_SEQ_BITS); }

/* The word that @self holds: counter of @w, made odd when @writing. */
static inline uint64_t cortex__cellword_held(uint64_t w, uint32_t self, uint64_t writing)
{
#ifdef CORTEX_SEED_CELLWORD_EVEN_HELD
    writing = 0;
#endif
    return ((uint64_t)self << CORTEX__CELL_SEQ_BITS) | cortex__cell_counter(w) | writing;
}

static CORTEX__FUTEX_COLD int cortex__cellword_lock_slow(cortex__a64 *seq, cortex__a64 *record, cortex__a32 *waiters,
                                                         uint32_t self, uint32_t stamp, uint64_t writing,
                                                         int64_t timeout_ns)
{
    uint64_t w, e;
    uint32_t first_holder = cortex__cellword_holder(cortex__ld64(seq, CX_RELAXED));
    if (timeout_ns != 0) {
        for (int i = 0; i < CORTEX__FUTEX_SPIN; i++) {
            w = cortex__ld64(seq, CX_RELAXED);
            if (cortex__cellword_holder(w) == 0) {
                e = w;
                if (cortex__cas64(seq, &e, cortex__cellword_held(w, self, writing), CX_ACQUIRE, CX_RELAXED))
                    goto locked;
            }
            cortex__spin_hint();
        }
    }
    int64_t deadline = INT64_MAX;
    if (timeout_ns >= 0) {
        int64_t start = cortex__now_ns();
        if (timeout_ns < INT64_MAX - start)
            deadline = start + timeout_ns;
    }
    bool check = true, first = true;
    cortex__futex_seen seen = {0, 0};
    for (;;) {
        w = cortex__ld64(seq, CX_RELAXED);
        uint32_t holder = cortex__cellword_holder(w);
        if (holder == 0) {
            e = w;
            if (cortex__cas64(seq, &e, cortex__cellword_held(w, self, writing), CX_ACQUIRE, CX_RELAXED))
                goto locked;
            cortex__spin_hint();
            continue;
        }
        if (check) {
            check = false;
            bool moved = first && holder != first_holder;
            first = false;
            if (!moved && cortex__futex_pid_dead(holder, record, &seen) && cortex__ld64(seq, CX_RELAXED) == w) {
                /* Keep the dead writer's counter: odd still says "torn" to the repair. */
                e = w;
                uint64_t mine = ((uint64_t)self << CORTEX__CELL_SEQ_BITS) | cortex__cell_counter(w);
                if (cortex__cas64(seq, &e, mine, CX_ACQUIRE, CX_RELAXED)) {
                    cortex__st64(record, cortex__futex_record(self, stamp), CX_RELAXED);
                    return -EOWNERDEAD;
                }
                continue;
            }
        }
        int64_t now = cortex__now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        int64_t nap = deadline - now;
        if (nap > CORTEX_SYNC_CHECK_INTERVAL_NS)
            nap = CORTEX_SYNC_CHECK_INTERVAL_NS;
        uint64_t again;
        int64_t cap;
        uint32_t ws = cortex__cell_announce(waiters, seq, &again, &cap);
        if (again != w)
            continue;
        if (nap > cap)
            nap = cap;
        /* A whole interval (or the deadline) passed with nobody releasing: check the holder. */
        if (cortex__futex_wait(waiters, ws, nap) == -ETIMEDOUT)
            check = true;
    }
locked:
    cortex__st64(record, cortex__futex_record(self, stamp), CX_RELAXED);
    return 0;
}

/*
 * Take the word as @self (stamp @stamp), making the counter odd if
 * @writing (0 or 1).  0, -EOWNERDEAD (held; the counter is the dead
 * holder's, odd if it died mid-write), -ETIMEDOUT (@timeout_ns, < 0: none).
 */
static inline int cortex__cellword_lock(cortex__a64 *seq, cortex__a64 *record, cortex__a32 *waiters, uint32_t self,
                                        uint32_t stamp, uint64_t writing, int64_t timeout_ns)
{
    uint64_t w = cortex__ld64(seq, CX_RELAXED);
    if (__builtin_expect(cortex__cellword_holder(w) == 0, 1) &&
        cortex__cas64(seq, &w, cortex__cellword_held(w, self, writing), CX_ACQUIRE, CX_RELAXED)) {
        cortex__st64(record, cortex__futex_record(self, stamp), CX_RELAXED);
        return 0;
    }
    return cortex__cellword_lock_slow(seq, record, waiters, self, stamp, writing, timeout_ns);
}

/*
 * Release as @self: a write in progress (odd counter) ends, the counter
 * becomes even, the holder 0; then wakes sleepers if any announced itself
 * (@light: without a fence, see cortex__cell_wake).  -EPERM if @self does
 * not hold the word (nothing changed).
 *
 * The release is a plain store, not an RMW: while the word is held nobody
 * else changes it.  Lockers CAS only a free word, a takeover only a word
 * whose holder is certainly dead, and waiters announce on the separate
 * waiters word.  A hostile peer that stores into the word anyway can only
 * lose its own change (as it could with any other store).
 */
static inline int cortex__cellword_unlock(cortex__a64 *seq, cortex__a64 *record, cortex__a32 *waiters, uint32_t self,
                                          bool light)
{
    uint64_t w = cortex__ld64(seq, CX_RELAXED);
    if (cortex__cellword_holder(w) != self)
        return -EPERM;
    uint64_t c = cortex__cell_counter(w);
#ifdef CORTEX_SEED_CELLWORD_EVEN_HELD
    uint64_t step = 2;
#else
    uint64_t step = c & 1u;
#endif
    cortex__st64(record, 0, CX_RELAXED);
    cortex__st64(seq, (c + step) & CORTEX__CELL_SEQ_MASK, CX_RELEASE);
    cortex__cell_wake(waiters, light);
    return 0;
}

#endif
