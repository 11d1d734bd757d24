/* SPDX-License-Identifier: MIT */
/*
 * lib/sync/futex_lock.h: the futex lock on plain caller memory (internal).
 *
 * Everything here is static inline and goes through lib/atomic.h and the
 * lib/internal.h helpers, so the model checker (tests/model, built with
 * -DCORTEX_MODEL) can run the same code in its explorer.  The *_as()
 * variants take the caller's identity explicitly (the model gives every
 * simulated process its own pid); the plain ones use cortex__self_pid().
 *
 * Lock word (32 bits):   0 = free
 *                        holder pid | CORTEX__FUTEX_WAITERS (bit 31: a waiter
 *                        announced itself and must be woken by unlock)
 * Record (64 bits):      (holder's stamp << 32) | pid, written by the holder
 *                        right after it takes the word and cleared before it
 *                        releases it; the stamp (a boot time at which the
 *                        holder ran under that pid, lib/os/proc.c) tells a
 *                        reused pid from the holder, also under emulators.
 *
 * Lock: one CAS 0 -> pid (no system call).  Contended: spin
 * CORTEX__FUTEX_SPIN times, check once that the holder lives (if the same
 * holder kept the lock through the whole spin), then set the
 * waiters bit and FUTEX_WAIT with a timeout of CORTEX_SYNC_CHECK_INTERVAL_NS;
 * after a wait that timed out (nothing changed for a whole interval) check
 * again whether the holder lives (cortex__proc_verdict on the record) and
 * take a certainly dead holder's word over with a CAS: -EOWNERDEAD, lock
 * held.  A holder whose verdict is "unknown" is waited for.
 * Unlock: CAS pid -> 0 (no system call); only if the waiters bit is set,
 * exchange to 0 and FUTEX_WAKE one waiter (who re-locks with the bit set,
 * since it cannot know whether others still sleep).
 *
 * Limits: pids must fit in 30 bits (Linux: at most 2^22) and all users of
 * one lock must share a pid namespace and a boot (a cell segment with this
 * lock is refused at attach otherwise, lib/region).
 */
#ifndef CORTEX_SYNC_FUTEX_LOCK_H
#define CORTEX_SYNC_FUTEX_LOCK_H

#include "atomic.h"
#include "internal.h"

#include <errno.h>
#include <neocortex/sync.h>

#define CORTEX__FUTEX_WAITERS 0x80000000u
#define CORTEX__FUTEX_PID_MASK 0x3fffffffu

/* Bounded spin before sleeping (iterations of load + cortex__spin_hint). */
#ifndef CORTEX__FUTEX_SPIN
#define CORTEX__FUTEX_SPIN 128
#endif

typedef struct cortex__futex_lock {
    cortex__a32 word;   /* 0, or holder pid | CORTEX__FUTEX_WAITERS */
    uint32_t reserved;  /* backend's use (the creator's pid namespace); 0 on plain memory */
    cortex__a64 record; /* (stamp << 32) | pid of the holder, 0 when free */
} cortex__futex_lock;

_Static_assert(sizeof(cortex__futex_lock) == 16, "futex lock is 16 bytes in every ABI");

static inline void cortex__futex_lock_init(cortex__futex_lock *l)
{
    cortex__st32(&l->word, 0, CX_RELAXED);
    l->reserved = 0;
    cortex__st64(&l->record, 0, CX_RELAXED);
}

static inline uint64_t cortex__futex_record(uint32_t self, uint32_t stamp)
{
    return ((uint64_t)stamp << 32) | self;
}

/* The first time a waiter saw a holder pid without its record (see holder_dead). */
typedef struct cortex__futex_seen {
    uint32_t pid;
    uint64_t at; /* boot ticks */
} cortex__futex_seen;

/*
 * Is the process @pid that holds a lock certainly dead?  Reads /proc (tens of
 * us): only called after a whole check interval without progress.  The
 * record (stamp, pid) names the holder exactly (lib/os/proc.c); a holder
 * still between its CAS and its record store is judged by the pid alone,
 * plus "a process that started after a waiter saw the pid in the word is
 * not the holder" (@seen).  Unknown (hidden /proc, ...) is not dead.  Also
 * used by the cell's merged lock word (lib/cell/cellword.h).
 */
static inline bool cortex__futex_pid_dead(uint32_t pid, cortex__a64 *record, cortex__futex_seen *seen)
{
    cortex__proc_id id = {.pid = (int32_t)pid};
    if (id.pid == 0)
        return false;
    uint64_t rec = cortex__ld64(record, CX_ACQUIRE);
    if ((uint32_t)rec == pid && (rec >> 32) != 0) {
        id.stamp = (uint32_t)(rec >> 32);
    } else if (seen) {
        if (seen->pid != pid) {
            seen->pid = pid;
            seen->at = cortex__boot_ticks();
        }
        id.seen = seen->at;
    }
    return cortex__proc_verdict(&id, NULL) == CORTEX__DEAD;
}

/* Is the holder named by lock word @w certainly dead (and the word still @w)? */
static inline bool cortex__futex_lock_holder_dead(cortex__futex_lock *l, uint32_t w, cortex__futex_seen *seen)
{
    if (!cortex__futex_pid_dead(w & CORTEX__FUTEX_PID_MASK, &l->record, seen))
        return false;
    /* Dead, if nothing moved meanwhile. */
    return cortex__ld32(&l->word, CX_RELAXED) == w;
}

/* Kept out of line so the uncontended paths stay small (few registers to save). */
#if defined(__GNUC__) || defined(__clang__)
#define CORTEX__FUTEX_COLD __attribute__((noinline, cold, unused))
#else
#define CORTEX__FUTEX_COLD
#endif

static CORTEX__FUTEX_COLD int cortex__futex_lock_slow(cortex__futex_lock *l, uint32_t self, uint32_t stamp,
                                                      int64_t timeout_ns)
{
    uint32_t w, e;
    uint32_t first_holder = cortex__ld32(&l->word, CX_RELAXED) & CORTEX__FUTEX_PID_MASK;
    if (timeout_ns != 0) {
        for (int i = 0; i < CORTEX__FUTEX_SPIN; i++) {
            w = cortex__ld32(&l->word, CX_RELAXED);
            if (w == 0) {
                e = 0;
                if (cortex__cas32(&l->word, &e, self, CX_ACQUIRE, CX_RELAXED))
                    goto locked;
            }
            cortex__spin_hint();
        }
    }
    int64_t deadline = INT64_MAX; /* timeout_ns < 0, or one too large to add without overflow */
    if (timeout_ns >= 0) {
        int64_t start = cortex__now_ns();
        if (timeout_ns < INT64_MAX - start)
            deadline = start + timeout_ns;
    }
    /*
     * Check the holder once before the first sleep if the same holder kept
     * the lock through the whole spin (a dead one is then taken over at
     * once; a lock that changed hands is alive and busy, no /proc read),
     * then after every interval slept without progress.
     */
    bool check = true;
    bool first = true;
    cortex__futex_seen seen = {0, 0};
    for (;;) {
        w = cortex__ld32(&l->word, CX_RELAXED);
        if (w == 0) {
            /* Others may still sleep: keep the waiters bit (like Drepper's state 2). */
            e = 0;
            if (cortex__cas32(&l->word, &e, self | CORTEX__FUTEX_WAITERS, CX_ACQUIRE, CX_RELAXED))
                goto locked;
            cortex__spin_hint();
            continue;
        }
        if (check) {
            check = false;
            bool moved = first && (w & CORTEX__FUTEX_PID_MASK) != first_holder;
            first = false;
            if (!moved && cortex__futex_lock_holder_dead(l, w, &seen)) {
                e = w;
                if (cortex__cas32(&l->word, &e, self | (w & CORTEX__FUTEX_WAITERS), CX_ACQUIRE, CX_RELAXED)) {
                    cortex__st64(&l->record, cortex__futex_record(self, stamp), CX_RELAXED);
                    return -EOWNERDEAD;
                }
                continue;
            }
        }
        int64_t now = cortex__now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        if (!(w & CORTEX__FUTEX_WAITERS)) {
            e = w;
            if (!cortex__cas32(&l->word, &e, w | CORTEX__FUTEX_WAITERS, CX_RELAXED, CX_RELAXED)) {
                cortex__spin_hint();
                continue;
            }
            w |= CORTEX__FUTEX_WAITERS;
        }
        int64_t nap = deadline - now;
        if (nap > CORTEX_SYNC_CHECK_INTERVAL_NS)
            nap = CORTEX_SYNC_CHECK_INTERVAL_NS;
        int rc = cortex__futex_wait(&l->word, w, nap);
        /* A whole interval (or the deadline) passed with the word unchanged: check the holder. */
        if (rc == -ETIMEDOUT)
            check = true;
    }
locked:
    cortex__st64(&l->record, cortex__futex_record(self, stamp), CX_RELAXED);
    return 0;
}

/* Take the lock as process @self (its stamp @stamp). 0, -EOWNERDEAD (held), -ETIMEDOUT. */
static inline int cortex__futex_lock_acquire_as(cortex__futex_lock *l, uint32_t self, uint32_t stamp,
                                                int64_t timeout_ns)
{
    uint32_t e = 0;
    if (cortex__cas32(&l->word, &e, self, CX_ACQUIRE, CX_RELAXED)) {
        cortex__st64(&l->record, cortex__futex_record(self, stamp), CX_RELAXED);
        return 0;
    }
    return cortex__futex_lock_slow(l, self, stamp, timeout_ns);
}

/* Release as @self: 0, or -EPERM if @self does not hold it (nothing changed). */
static inline int cortex__futex_lock_release_as(cortex__futex_lock *l, uint32_t self)
{
    uint32_t w = cortex__ld32(&l->word, CX_RELAXED);
    if ((w & CORTEX__FUTEX_PID_MASK) != self)
        return -EPERM;
    cortex__st64(&l->record, 0, CX_RELAXED);
    uint32_t e = self;
    if (cortex__cas32(&l->word, &e, 0, CX_RELEASE, CX_RELAXED))
        return 0;
    /* A waiter set the bit: release and wake exactly one. */
    w = cortex__xchg32(&l->word, 0, CX_RELEASE);
    if (w & CORTEX__FUTEX_WAITERS)
        cortex__futex_wake(&l->word, 1);
    return 0;
}

static inline int cortex__futex_lock_acquire(cortex__futex_lock *l, int64_t timeout_ns)
{
    return cortex__futex_lock_acquire_as(l, (uint32_t)cortex__self_pid(), cortex__self_stamp(),
                                         timeout_ns);
}

static inline int cortex__futex_lock_release(cortex__futex_lock *l)
{
    return cortex__futex_lock_release_as(l, (uint32_t)cortex__self_pid());
}

/* The holder's pid from the lock word, 0 when free. */
static inline uint32_t cortex__futex_lock_holder(cortex__futex_lock *l)
{
    return cortex__ld32(&l->word, CX_RELAXED) & CORTEX__FUTEX_PID_MASK;
}

#endif
