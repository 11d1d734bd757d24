/* SPDX-License-Identifier: MIT */
/*
 * tests/model/scn_sync.c: model-checked scenarios over the real futex lock
 * (lib/sync/futex_lock.h) and the real cell sequence (lib/cell/seqlock.h),
 * both run on plain memory exactly as lib/cell/cell.c runs them on a
 * segment.  Built with -DCORTEX_MODEL (and once more with
 * -DCORTEX_SEED_CELL_RELAXED_SEQ, -DCORTEX_SEED_CELL_NO_WAKE_FENCE and
 * -DCORTEX_SEED_CELLWORD_EVEN_HELD, -DCORTEX_SEED_CELL_NO_MEMBARRIER and
 * -DCORTEX_SEED_CELL_LIGHT_UNJOINED and -DCORTEX_SEED_ONE_WRITER_NO_RELEASE_FENCE,
 * whose scenarios must fail).  The
 * *_light scenarios run the wake rule without the writer's fence.  The
 * cellword_* scenarios run the futex cell's merged lock and sequence word
 * (lib/cell/cellword.h) the way cell.c does.
 *
 * The futex lock's contended path spins CORTEX__FUTEX_SPIN times before it
 * sleeps; the model build sets it to 1 (meson.build) so that the sleeping
 * path is reached within the preemption bound.
 */
#include "explorer.h"

#include "atomic.h"
#include "cell/cellword.h"
#include "cell/seqlock.h"
#include "sync/futex_lock.h"

#include <string.h>
#include <unistd.h>

/*
 * The pid each simulated process locks as.  The lock checks that a holder is
 * alive (through /proc) before it sleeps, so these must be live processes
 * that outlive the run: this one, its parent (the test runner) and init.
 * Start time 0 in the lock record makes the lock trust a live pid.
 */
static uint32_t pid_of(int id)
{
    return id == 1 ? (uint32_t)getpid() : id == 2 ? (uint32_t)getppid() : 1u;
}

/* ---- futex lock: mutual exclusion and hand-off ----------------------------- */

static struct {
    cortex__futex_lock lock;
    uint64_t counter; /* plain: a race unless the lock orders every access */
    int iters;
} fl;

static void fl_setup_n(int iters)
{
    memset(&fl, 0, sizeof fl);
    fl.iters = iters;
    cortex__futex_lock_init(&fl.lock);
    mc_name(&fl.lock.word, 4, "lock.word");
    mc_name(&fl.lock.record, 8, "lock.record");
    mc_name(&fl.counter, 8, "counter");
}
static void fl_setup1(void) { fl_setup_n(1); }
static void fl_setup2(void) { fl_setup_n(2); }

static void fl_thread(int id)
{
    for (int i = 0; i < fl.iters; i++) {
        int rc = cortex__futex_lock_acquire_as(&fl.lock, pid_of(id), 0, -1);
        MC_ASSERT(rc == 0, "lock returned %d", rc);
        uint64_t v;
        cortex__plain_read(&v, &fl.counter, sizeof v);
        v++;
        cortex__plain_write(&fl.counter, &v, sizeof v);
        rc = cortex__futex_lock_release_as(&fl.lock, pid_of(id));
        MC_ASSERT(rc == 0, "unlock returned %d", rc);
    }
}

static int fl_nthreads;
static void fl_check(void)
{
    uint64_t v;
    cortex__plain_read(&v, &fl.counter, sizeof v);
    MC_ASSERT(v == (uint64_t)(fl_nthreads * fl.iters), "counter %llu after %d locked increments",
              (unsigned long long)v, fl_nthreads * fl.iters);
    MC_ASSERT(cortex__ld32(&fl.lock.word, CX_RELAXED) == 0, "lock word %#x after every unlock",
              cortex__ld32(&fl.lock.word, CX_RELAXED));
}
static void fl_check2(void) { fl_nthreads = 2; fl_check(); }
static void fl_check3(void) { fl_nthreads = 3; fl_check(); }

static const mc_scenario futex_mutex2 = {
    "futex_lock_mutex", "futex lock: 2 threads x 2 locked increments of a plain counter (exclusion, "
                        "happens-before, no lost wake-up)",
    2, fl_setup2, fl_thread, fl_check2, 3, 3, 0, 0, true, false};
static const mc_scenario futex_handoff3 = {
    "futex_lock_handoff", "futex lock: 3 threads contend, sleepers are handed the lock by unlock's wake "
                          "(no lost wake-up, exclusion)",
    3, fl_setup1, fl_thread, fl_check3, 2, 3, 0, 0, true, false};

/* ---- cell: write vs optimistic read ------------------------------------------- */

#define CELL_WORDS 2

static struct {
    cortex__futex_lock lock;
    cortex__a64 seq;
    cortex__a32 flag;
    cortex__a32 waiters; /* the waiters word (cell_wait_* scenarios) */
    cortex__a64 value[CELL_WORDS];
    int writers, writes;
    bool light; /* writers take the light wake path (no fence; waiters run membarrier) */
} cl;

static void cl_setup_n(int writers, int writes)
{
    memset(&cl, 0, sizeof cl);
    cl.writers = writers;
    cl.writes = writes;
    cortex__futex_lock_init(&cl.lock);
    uint64_t init[CELL_WORDS] = {0, 0};
    cortex__cell_store_value(cl.value, init, sizeof init);
    mc_name(&cl.lock.word, 4, "lock.word");
    mc_name(&cl.lock.record, 8, "lock.record");
    mc_name(&cl.seq, 8, "cell.seq");
    mc_name(&cl.flag, 4, "cell.inconsistent");
    mc_name(&cl.waiters, 4, "cell.waiters");
    mc_name(cl.value, sizeof cl.value, "cell.value");
}
/* The same with light writers: no wake fence; sleepers run membarrier. */
static void cl_setup_light_n(int writers, int writes)
{
    cl_setup_n(writers, writes);
    cl.light = true;
}
static void cl_setup_1w(void) { cl_setup_n(1, 2); }
static void cl_setup_2w(void) { cl_setup_n(2, 1); }

/* cortex_cell_write: lock, repair, write, unlock */
static void cl_write(int id, uint64_t k)
{
    int rc = cortex__futex_lock_acquire_as(&cl.lock, pid_of(id), 0, -1);
    MC_ASSERT(rc == 0, "lock returned %d", rc);
    cortex__cell_repair(&cl.seq, &cl.flag);
    uint64_t v[CELL_WORDS] = {k, k};
    cortex__cell_write_locked(&cl.seq, &cl.flag, cl.value, v, sizeof v, 0);
    rc = cortex__futex_lock_release_as(&cl.lock, pid_of(id));
    MC_ASSERT(rc == 0, "unlock returned %d", rc);
}

/* The lock a reader falls back to: the futex lock (@word false) or the futex cell's merged word (cellword.h). */
static void cl_fallback_lock(int id, bool word)
{
    int rc = word ? cortex__cellword_lock(&cl.seq, &cl.lock.record, &cl.waiters, pid_of(id), 0, 0, -1)
                  : cortex__futex_lock_acquire_as(&cl.lock, pid_of(id), 0, -1);
    MC_ASSERT(rc == 0, "lock returned %d", rc);
}

static void cl_fallback_unlock(int id, bool word)
{
    int rc = word ? cortex__cellword_unlock(&cl.seq, &cl.lock.record, &cl.waiters, pid_of(id), false)
                  : cortex__futex_lock_release_as(&cl.lock, pid_of(id));
    MC_ASSERT(rc == 0, "unlock returned %d", rc);
}

/* cortex_cell_read: optimistic tries (cell.c makes CORTEX_CELL_READ_RETRIES = 64; 2 here, so the
 * fallback under the lock is reached within the bound), then the lock */
static void cl_read_with(int id, bool word)
{
    uint64_t v[CELL_WORDS];
    int r = -1;
    for (int i = 0; i < 2 && r < 0; i++) {
        r = cortex__cell_read_try(&cl.seq, &cl.flag, cl.value, v, sizeof v);
        if (r < 0)
            cortex__spin_hint();
    }
    if (r < 0) {
        cl_fallback_lock(id, word);
        cortex__cell_repair(&cl.seq, &cl.flag);
        r = (int)cortex__cell_read_locked(&cl.seq, &cl.flag, cl.value, v, sizeof v);
        cl_fallback_unlock(id, word);
    }
    MC_ASSERT(r == 0, "read saw the inconsistent flag (%d) with no writer dead", r);
    MC_ASSERT(v[0] == v[1], "torn value accepted: {%llu, %llu}", (unsigned long long)v[0],
              (unsigned long long)v[1]);
    MC_ASSERT(v[0] <= (uint64_t)(cl.writers * cl.writes), "value %llu was never written",
              (unsigned long long)v[0]);
}

static void cl_read(int id) { cl_read_with(id, false); }

static void cl_thread(int id)
{
    if (id <= cl.writers) {
        for (int k = 0; k < cl.writes; k++)
            cl_write(id, (uint64_t)((id - 1) * cl.writes + k + 1)); /* distinct, 1..writers*writes */
    } else {
        cl_read(id);
    }
}

static void cl_check(void)
{
    uint64_t s = cortex__ld64(&cl.seq, CX_RELAXED);
    MC_ASSERT(s == (uint64_t)(2 * cl.writers * cl.writes), "sequence %llu after %d writes", (unsigned long long)s,
              cl.writers * cl.writes);
}

static const mc_scenario cell_1w1r = {
    "cell_write_read", "cell: 1 writer (2 writes) vs 1 optimistic reader: no torn or invented value accepted",
    2, cl_setup_1w, cl_thread, cl_check, 3, 3, 0, 0, true, false};
static const mc_scenario cell_2w1r = {
    "cell_writers_reader", "cell: 2 writers under the futex lock vs 1 optimistic reader", 3, cl_setup_2w,
    cl_thread, cl_check, 2, 2, 0, 0, true, false};

/* ---- cell: waiting for a change (cortex_cell_wait / the writers' wake) ---- */

static void cw_setup_2writes(void) { cl_setup_n(1, 2); }
static void cw_setup_2waiters(void) { cl_setup_n(1, 1); }

/* A light writer marks the cell just before its first wake, as cell.c's first release does. */
static bool light_wake(int k)
{
    if (cl.light && k == 1)
        MC_ASSERT(cortex__cell_light_join(&cl.waiters), "light bit not set");
    return cl.light;
}

/*
 * Thread 1 writes (the only writer, so no lock) and wakes as cell.c does;
 * the others wait with no timeout until the last version, so a lost wakeup
 * is a deadlock the explorer reports.
 */
static void cw_thread(int id)
{
    if (id == 1) {
        for (int k = 1; k <= cl.writes; k++) {
            uint64_t v[CELL_WORDS] = {(uint64_t)k, (uint64_t)k};
            cortex__cell_write_locked(&cl.seq, &cl.flag, cl.value, v, sizeof v, 0);
            cortex__cell_wake(&cl.waiters, light_wake(k));
        }
        return;
    }
    uint64_t seen = 0, now = 0, last = 2u * (uint64_t)cl.writes;
    while (seen != last) {
        uint64_t before = seen;
        int rc = cortex__cell_wait_change(&cl.seq, &cl.waiters, &seen, &now, INT64_MAX);
        MC_ASSERT(rc == 0, "wait without a timeout returned %d", rc);
        MC_ASSERT(seen != before && !(seen & 1u) && seen <= last, "wait returned version %llu after %llu",
                  (unsigned long long)seen, (unsigned long long)before);
        uint64_t v[CELL_WORDS], version;
        if (cortex__cell_read_try_version(&cl.seq, &cl.flag, cl.value, v, sizeof v, &version) == 0)
            MC_ASSERT(v[0] == version / 2 && version >= seen, "read value %llu at version %llu after waking at %llu",
                      (unsigned long long)v[0], (unsigned long long)version, (unsigned long long)seen);
    }
}

static const mc_scenario cell_wait_writes = {
    "cell_wait_wake", "cell: a waiter sleeps through 2 writes of 1 writer: no lost wakeup, no skipped version check",
    2, cw_setup_2writes, cw_thread, cl_check, 3, 3, 0, 0, true, false};
static void cw_setup_light(void) { cl_setup_light_n(1, 2); }
static const mc_scenario cell_wait_light = {
    "cell_wait_light", "cell: a waiter sleeps through 2 writes of a light writer (no wake fence, it marks the cell "
                       "before its first wake; the waiter runs membarrier): no lost wakeup",
    2, cw_setup_light, cw_thread, cl_check, 3, 3, 0, 0, true, false};
static const mc_scenario cell_wait_two = {
    "cell_wait_two_waiters", "cell: 2 waiters, 1 write: both woken (the generation bump and the waiters bit)", 3,
    cw_setup_2waiters, cw_thread, cl_check, 2, 3, 0, 0, true, false};

/* ---- cell: the futex backend's merged lock + sequence word (cellword.h) ---- */

/* cortex_cell_write with the futex backend: one CAS makes the word held and odd, the unlock makes it even */
static void cwd_write(int id, int k)
{
    int rc = cortex__cellword_lock(&cl.seq, &cl.lock.record, &cl.waiters, pid_of(id), 0, 1, -1);
    MC_ASSERT(rc == 0, "lock returned %d", rc);
    uint64_t v[CELL_WORDS] = {(uint64_t)k, (uint64_t)k};
    cortex__cell_write_body(&cl.flag, cl.value, v, sizeof v, 0);
    rc = cortex__cellword_unlock(&cl.seq, &cl.lock.record, &cl.waiters, pid_of(id), false);
    MC_ASSERT(rc == 0, "unlock returned %d", rc);
}

static void cwd_thread(int id)
{
    if (id <= cl.writers) {
        for (int k = 0; k < cl.writes; k++)
            cwd_write(id, (id - 1) * cl.writes + k + 1);
    } else {
        cl_read_with(id, true);
    }
}

/*
 * cortex_cell_update with the futex backend: the word taken with the
 * counter even (readers carry on), a locked copy, +1, and a write under it.
 * Lost increments mean no exclusion; a lost wakeup of a sleeping locker is a
 * deadlock the explorer reports.
 */
static void cwd_update_thread(int id)
{
    for (int k = 0; k < cl.writes; k++) {
        int rc = cortex__cellword_lock(&cl.seq, &cl.lock.record, &cl.waiters, pid_of(id), 0, 0, -1);
        MC_ASSERT(rc == 0, "lock returned %d", rc);
        MC_ASSERT(!(cortex__ld64(&cl.seq, CX_RELAXED) & 1u), "word taken for an update is odd");
        uint64_t v[CELL_WORDS];
        cortex__cell_read_locked(&cl.seq, &cl.flag, cl.value, v, sizeof v);
        v[0]++;
        v[1]++;
        cortex__cell_write_locked(&cl.seq, &cl.flag, cl.value, v, sizeof v, 0);
        rc = cortex__cellword_unlock(&cl.seq, &cl.lock.record, &cl.waiters, pid_of(id), light_wake(k + 1));
        MC_ASSERT(rc == 0, "unlock returned %d", rc);
    }
}

static void cwd_check(void)
{
    cl_check();
    MC_ASSERT(cortex__cellword_holder(cortex__ld64(&cl.seq, CX_RELAXED)) == 0, "word still held after every unlock");
    MC_ASSERT(cortex__ld64(&cl.lock.record, CX_RELAXED) == 0, "owner record not cleared");
    MC_ASSERT(cortex__ld32(&cl.flag, CX_RELAXED) == 0, "inconsistent flag set with no writer dead");
}

static void cwd_update_check(void)
{
    cwd_check();
    uint64_t v[CELL_WORDS];
    cortex__cell_read_locked(&cl.seq, &cl.flag, cl.value, v, sizeof v);
    MC_ASSERT(v[0] == (uint64_t)(cl.writers * cl.writes) && v[1] == v[0], "value {%llu, %llu} after %d updates",
              (unsigned long long)v[0], (unsigned long long)v[1], cl.writers * cl.writes);
}

static void cwd_setup_updates(void) { cl_setup_n(2, 2); }
static void cwd_setup_updates_light(void) { cl_setup_light_n(2, 2); }

static const mc_scenario cellword_1w1r = {
    "cellword_write_read", "futex cell word: 1 writer (2 writes, lock and sequence in one word) vs 1 optimistic "
                           "reader: no torn or invented value accepted",
    2, cl_setup_1w, cwd_thread, cwd_check, 3, 3, 0, 0, true, false};
static const mc_scenario cellword_2w1r = {
    "cellword_writers_reader", "futex cell word: 2 writers contend for the word vs 1 reader (falls back to the word); "
                               "bound 1 (the sleeping path is cellword_updates')",
    3, cl_setup_2w, cwd_thread, cwd_check, 1, 2, 0, 0, true, false};
static const mc_scenario cellword_updates = {
    "cellword_updates", "futex cell word: 2 updaters x 2 contend, sleepers woken through the waiters word "
                        "(exclusion, no lost increment, no lost wakeup)",
    2, cwd_setup_updates, cwd_update_thread, cwd_update_check, 2, 3, 0, 0, true, false};
static const mc_scenario cellword_updates_light = {
    "cellword_updates_light", "futex cell word: 2 light updaters x 2 (no wake fence; a sleeping locker runs "
                              "membarrier): exclusion, no lost increment, no lost wakeup",
    2, cwd_setup_updates_light, cwd_update_thread, cwd_update_check, 2, 3, 0, 0, true, false};

/* ---- cell: the one-writer backend's single-writer seqlock (seqlock.h, cortex__cell_write_one) ---- */

/*
 * Thread 1 holds the writer role (claimed before, outside the model: the
 * role record is read only by claims and by liveness checks) and writes as
 * cell.c's one_writer_store does: no lock, no read-modify-write; thread 2
 * reads as cortex_cell_read does with this backend, retrying until a copy
 * is whole (its wait for a dead writer needs a death, which the model has
 * not).  Every accepted copy must be one a write wrote, at its version.
 */
static void ow_thread(int id)
{
    if (id == 1) {
        for (int k = 1; k <= cl.writes; k++) {
            uint64_t v[CELL_WORDS] = {(uint64_t)k, (uint64_t)k};
            cortex__cell_write_one(&cl.seq, &cl.flag, cl.value, v, sizeof v);
            cortex__cell_wake(&cl.waiters, light_wake(k));
        }
        return;
    }
    uint64_t v[CELL_WORDS], version = 0;
    int r;
    while ((r = cortex__cell_read_try_version(&cl.seq, &cl.flag, cl.value, v, sizeof v, &version)) < 0)
        cortex__spin_hint();
    MC_ASSERT(r == 0, "read saw the inconsistent flag with no writer dead");
    MC_ASSERT(v[0] == v[1], "torn value accepted: {%llu, %llu}", (unsigned long long)v[0],
              (unsigned long long)v[1]);
    MC_ASSERT(v[0] == version / 2, "value %llu read at version %llu (written at %llu)", (unsigned long long)v[0],
              (unsigned long long)version, (unsigned long long)(2 * v[0]));
}

static const mc_scenario one_writer_1w1r = {
    "one_writer_write_read", "one-writer cell: the role holder's 2 lock-free writes vs 1 optimistic reader: no torn "
                             "or invented value accepted, each at its own version",
    2, cl_setup_1w, ow_thread, cl_check, 3, 3, 0, 0, true, false};

static const mc_scenario *const all[] = {&futex_mutex2, &futex_handoff3, &cell_1w1r, &cell_2w1r,
                                         &cell_wait_writes, &cell_wait_two, &cellword_1w1r, &cellword_2w1r,
                                         &cellword_updates, &cell_wait_light, &cellword_updates_light,
                                         &one_writer_1w1r, NULL};

int main(int argc, char **argv) { return mc_main(argc, argv, all); }
