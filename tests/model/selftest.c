/* SPDX-License-Identifier: MIT */
/*
 * tests/model/selftest.c: proves the explorer on small self-contained
 * programs written against lib/atomic.h: litmus tests (message passing,
 * store buffering), a mini SPSC ring, a mini Treiber stack and futex
 * wait/wake.  Each correct version must pass exhaustively; each broken one
 * (suffix _bug) must be caught (the meson tests run those with
 * --expect-fail).
 */
#include "explorer.h"

#include "atomic.h"

#include <errno.h>
#include <string.h>

#define RLX CX_RELAXED
#define ACQ CX_ACQUIRE
#define REL CX_RELEASE
#define SC CX_SEQ_CST

/* ---- message passing ------------------------------------------------------ */

static struct {
    cortex__a32 flag;
    cortex__a32 adata;
    uint64_t data;
    int mode; /* 0 release/acquire, 1 relaxed, 2 fences */
} mp;

static void mp_setup(int mode)
{
    memset(&mp, 0, sizeof mp);
    mp.mode = mode;
    mc_name(&mp.flag, 4, "flag");
    mc_name(&mp.adata, 4, "adata");
    mc_name(&mp.data, 8, "data");
}
static void mp_setup_ra(void) { mp_setup(0); }
static void mp_setup_rlx(void) { mp_setup(1); }
static void mp_setup_fence(void) { mp_setup(2); }

/* plain payload: a race unless the flag orders it */
static void mp_thread_plain(int id)
{
    if (id == 1) {
        uint64_t v = 42;
        cortex__plain_write(&mp.data, &v, sizeof v);
        if (mp.mode == 2)
            cortex__fence(REL);
        cortex__st32(&mp.flag, 1, mp.mode == 0 ? REL : RLX);
    } else {
        if (cortex__ld32(&mp.flag, mp.mode == 0 ? ACQ : RLX) == 1) {
            if (mp.mode == 2)
                cortex__fence(ACQ);
            uint64_t v;
            cortex__plain_read(&v, &mp.data, sizeof v);
            MC_ASSERT(v == 42, "read %llu", (unsigned long long)v);
        }
    }
}

/* atomic payload: a stale value unless the flag orders it */
static void mp_thread_atomic(int id)
{
    if (id == 1) {
        cortex__st32(&mp.adata, 42, RLX);
        cortex__st32(&mp.flag, 1, mp.mode == 0 ? REL : RLX);
    } else if (cortex__ld32(&mp.flag, mp.mode == 0 ? ACQ : RLX) == 1) {
        uint32_t v = cortex__ld32(&mp.adata, RLX);
        MC_ASSERT(v == 42, "flag set but data reads %u", v);
    }
}

/* release sequence: T1 stores data, flag=1 (release); T2 fetch_add relaxed; T3 acquires 2 */
static void mp_rs_thread(int id)
{
    if (id == 1) {
        cortex__st32(&mp.adata, 42, RLX);
        cortex__st32(&mp.flag, 1, REL);
    } else if (id == 2) {
        cortex__fadd32(&mp.flag, 1, RLX);
    } else if (cortex__ld32(&mp.flag, ACQ) == 2) {
        uint32_t v = cortex__ld32(&mp.adata, RLX);
        MC_ASSERT(v == 42, "release sequence broken: flag 2 but data %u", v);
    }
}

static const mc_scenario mp_plain_ok = {"mp_plain", "message passing, plain payload, release/acquire", 2,
                                        mp_setup_ra, mp_thread_plain, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario mp_plain_fence_ok = {"mp_plain_fences", "message passing, relaxed flag + fences", 2,
                                              mp_setup_fence, mp_thread_plain, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario mp_plain_bug = {"mp_plain_relaxed_bug", "message passing, relaxed flag: data race", 2,
                                         mp_setup_rlx, mp_thread_plain, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario mp_atomic_ok = {"mp_atomic", "message passing, atomic payload, release/acquire", 2,
                                         mp_setup_ra, mp_thread_atomic, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario mp_atomic_bug = {"mp_atomic_relaxed_bug", "message passing, relaxed: stale data read",
                                          2, mp_setup_rlx, mp_thread_atomic, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario mp_rs_ok = {"mp_release_sequence", "release sequence continued by a relaxed RMW", 3,
                                     mp_setup_ra, mp_rs_thread, NULL, 2, 3, 0, 0, false, false};

/* release sequence broken: another thread's plain (non-RMW) store ends it */
static void mp_rs_broken_thread(int id)
{
    if (id == 1) {
        uint64_t v = 42;
        cortex__plain_write(&mp.data, &v, sizeof v);
        cortex__st32(&mp.flag, 1, REL);
    } else if (id == 2) {
        if (cortex__ld32(&mp.flag, RLX) == 1)
            cortex__st32(&mp.flag, 2, RLX);
    } else if (cortex__ld32(&mp.flag, ACQ) == 2) {
        uint64_t v;
        cortex__plain_read(&v, &mp.data, sizeof v);
    }
}

static const mc_scenario mp_rs_broken_bug = {"mp_release_sequence_broken_bug",
                                             "a relaxed store (not an RMW) ends the release sequence: race", 3,
                                             mp_setup_ra, mp_rs_broken_thread, NULL, 2, 3, 0, 0, false, false};

/* ---- coherence: no false positives ------------------------------------------ */

static struct {
    cortex__a32 x, flag;
    uint32_t r1, r2;
    bool r2_set;
} co;

static void co_setup(void)
{
    memset(&co, 0, sizeof co);
    mc_name(&co.x, 4, "x");
    mc_name(&co.flag, 4, "flag");
}

/* CoRR in one thread: two reads of x never go back in modification order */
static void corr_thread(int id)
{
    if (id == 1) {
        cortex__st32(&co.x, 1, RLX);
        cortex__st32(&co.x, 2, RLX);
    } else {
        co.r1 = cortex__ld32(&co.x, RLX);
        co.r2 = cortex__ld32(&co.x, RLX);
        MC_ASSERT(!(co.r1 == 2 && co.r2 == 1), "read 2 then 1");
        MC_ASSERT(!(co.r1 >= 1 && co.r2 == 0), "read %u then 0", co.r1);
    }
}

/* read-read coherence through happens-before across threads */
static void corr_hb_thread(int id)
{
    if (id == 1) {
        cortex__st32(&co.x, 1, RLX);
    } else if (id == 2) {
        co.r1 = cortex__ld32(&co.x, RLX);
        cortex__st32(&co.flag, 1, REL);
    } else if (cortex__ld32(&co.flag, ACQ) == 1) {
        co.r2 = cortex__ld32(&co.x, RLX);
        co.r2_set = true;
    }
}
static void corr_hb_check(void)
{
    MC_ASSERT(!(co.r2_set && co.r1 == 1 && co.r2 == 0), "T3 read x = 0 after T2 read 1 and released to T3");
}

static const mc_scenario corr_ok = {"coherence_rr", "two reads of one location never go back", 2, co_setup,
                                    corr_thread, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario corr_hb_ok = {"coherence_rr_hb", "read-read coherence through happens-before", 3,
                                       co_setup, corr_hb_thread, corr_hb_check, 2, 3, 0, 0, false, false};

/* ---- store buffering ------------------------------------------------------- */

static struct {
    cortex__a32 x, y;
    uint32_t r1, r2;
    int mode; /* 0 relaxed, 1 release/acquire, 2 seq_cst ops, 3 relaxed + seq_cst fences */
} sb;

static void sb_setup(int mode)
{
    memset(&sb, 0, sizeof sb);
    sb.mode = mode;
    mc_name(&sb.x, 4, "x");
    mc_name(&sb.y, 4, "y");
}
static void sb_setup_rlx(void) { sb_setup(0); }
static void sb_setup_ra(void) { sb_setup(1); }
static void sb_setup_sc(void) { sb_setup(2); }
static void sb_setup_fence(void) { sb_setup(3); }

static void sb_thread(int id)
{
    memory_order st = sb.mode == 1 ? REL : sb.mode == 2 ? SC : RLX;
    memory_order ld = sb.mode == 1 ? ACQ : sb.mode == 2 ? SC : RLX;
    cortex__a32 *mine = id == 1 ? &sb.x : &sb.y, *other = id == 1 ? &sb.y : &sb.x;
    cortex__st32(mine, 1, st);
    if (sb.mode == 3)
        cortex__fence(SC);
    uint32_t r = cortex__ld32(other, ld);
    if (id == 1)
        sb.r1 = r;
    else
        sb.r2 = r;
}

static void sb_check(void) { MC_ASSERT(sb.r1 == 1 || sb.r2 == 1, "both threads read 0 (store buffering)"); }

static const mc_scenario sb_rlx_bug = {"sb_relaxed_bug", "store buffering, relaxed: both may read 0", 2,
                                       sb_setup_rlx, sb_thread, sb_check, 2, 3, 0, 0, false, false};
static const mc_scenario sb_ra_bug = {"sb_acqrel_bug", "store buffering, release/acquire: both may read 0", 2,
                                      sb_setup_ra, sb_thread, sb_check, 2, 3, 0, 0, false, false};
static const mc_scenario sb_sc_ok = {"sb_seq_cst", "store buffering, seq_cst: forbidden", 2, sb_setup_sc,
                                     sb_thread, sb_check, 2, 3, 0, 0, false, false};
static const mc_scenario sb_fence_ok = {"sb_fences", "store buffering, seq_cst fences: forbidden", 2,
                                        sb_setup_fence, sb_thread, sb_check, 2, 3, 0, 0, false, false};

/* ---- mini SPSC ring -------------------------------------------------------- */

#define MR_CAP 2u
#define MR_ITEMS 3u

static struct {
    cortex__a32 head; /* written by the producer */
    cortex__a32 tail; /* written by the consumer */
    uint32_t slot[MR_CAP];
    uint32_t got[MR_ITEMS];
    uint32_t ngot;
    bool relaxed_publish;
} mr;

static void mr_setup(bool bug)
{
    memset(&mr, 0, sizeof mr);
    mr.relaxed_publish = bug;
    mc_name(&mr.head, 4, "ring.head");
    mc_name(&mr.tail, 4, "ring.tail");
    mc_name(mr.slot, sizeof mr.slot, "ring.slot");
}
static void mr_setup_ok(void) { mr_setup(false); }
static void mr_setup_bug(void) { mr_setup(true); }

static void mr_thread(int id)
{
    if (id == 1) {
        for (uint32_t i = 0; i < MR_ITEMS;) {
            uint32_t h = cortex__ld32(&mr.head, RLX);
            uint32_t t = cortex__ld32(&mr.tail, ACQ);
            if (h - t == MR_CAP) {
                cortex__spin_hint();
                continue;
            }
            uint32_t v = 100 + i;
            cortex__plain_write(&mr.slot[h % MR_CAP], &v, sizeof v);
            cortex__st32(&mr.head, h + 1, mr.relaxed_publish ? RLX : REL);
            i++;
        }
    } else {
        while (mr.ngot < MR_ITEMS) {
            uint32_t t = cortex__ld32(&mr.tail, RLX);
            uint32_t h = cortex__ld32(&mr.head, ACQ);
            if (h == t) {
                cortex__spin_hint();
                continue;
            }
            uint32_t v;
            cortex__plain_read(&v, &mr.slot[t % MR_CAP], sizeof v);
            mr.got[mr.ngot++] = v;
            cortex__st32(&mr.tail, t + 1, REL);
        }
    }
}

static void mr_check(void)
{
    for (uint32_t i = 0; i < MR_ITEMS; i++)
        MC_ASSERT(mr.got[i] == 100 + i, "item %u is %u", i, mr.got[i]);
}

static const mc_scenario mr_ok = {"mini_ring", "SPSC ring, capacity 2, 3 items, release publish", 2,
                                  mr_setup_ok, mr_thread, mr_check, 3, 3, 0, 0, false, false};
static const mc_scenario mr_bug = {"mini_ring_relaxed_publish_bug", "SPSC ring with a relaxed publish", 2,
                                   mr_setup_bug, mr_thread, mr_check, 3, 3, 0, 0, false, false};

/* ---- mini Treiber stack (ABA) ------------------------------------------------ */

#define TS_NODES 3u
#define TS_NIL 0xffffu

static struct {
    cortex__a64 head;              /* tag << 32 | index (TS_NIL: empty) */
    cortex__a32 next[TS_NODES];
    cortex__a32 owner[TS_NODES];   /* 0 free, else thread id */
    bool tagged;
} ts;

static void ts_setup(bool tagged)
{
    memset(&ts, 0, sizeof ts);
    ts.tagged = tagged;
    for (uint32_t i = 0; i < TS_NODES; i++)
        cortex__st32(&ts.next[i], i + 1 < TS_NODES ? i + 1 : TS_NIL, RLX);
    cortex__st64(&ts.head, 0, RLX);
    mc_name(&ts.head, 8, "stack.head");
    mc_name(ts.next, sizeof ts.next, "stack.next");
    mc_name(ts.owner, sizeof ts.owner, "stack.owner");
}
static void ts_setup_tagged(void) { ts_setup(true); }
static void ts_setup_untagged(void) { ts_setup(false); }

static uint32_t ts_pop(void)
{
    uint64_t h = cortex__ld64(&ts.head, ACQ);
    for (;;) {
        uint32_t idx = (uint32_t)h;
        if (idx == TS_NIL)
            return TS_NIL;
        uint32_t nx = cortex__ld32(&ts.next[idx], RLX);
        uint64_t nh = (ts.tagged ? ((h >> 32) + 1) << 32 : 0) | nx;
        if (cortex__cas64(&ts.head, &h, nh, ACQ, ACQ))
            break;
    }
    uint32_t idx = (uint32_t)h;
    uint32_t prev = cortex__xchg32(&ts.owner[idx], (uint32_t)mc_self(), RLX);
    MC_ASSERT(prev == 0, "node %u handed out twice (held by T%u)", idx, prev);
    return idx;
}

static void ts_push(uint32_t idx)
{
    cortex__st32(&ts.owner[idx], 0, RLX);
    uint64_t h = cortex__ld64(&ts.head, RLX);
    do {
        cortex__st32(&ts.next[idx], (uint32_t)h, RLX);
    } while (!cortex__cas64(&ts.head, &h, (ts.tagged ? ((h >> 32) + 1) << 32 : 0) | idx, REL, RLX));
}

static void ts_thread(int id)
{
    (void)id;
    uint32_t a = ts_pop();
    uint32_t b = ts_pop();
    if (a != TS_NIL)
        ts_push(a);
    uint32_t c = ts_pop(); /* allocate again after the racy window */
    if (b != TS_NIL)
        ts_push(b);
    if (c != TS_NIL)
        ts_push(c);
}

static void ts_check(void)
{
    /* every node back on the stack exactly once */
    uint32_t seen = 0, n = 0;
    uint32_t idx = (uint32_t)cortex__ld64(&ts.head, RLX);
    while (idx != TS_NIL) {
        MC_ASSERT(idx < TS_NODES && !(seen & (1u << idx)), "stack corrupt at node %u", idx);
        seen |= 1u << idx;
        n++;
        idx = cortex__ld32(&ts.next[idx], RLX);
    }
    MC_ASSERT(n == TS_NODES, "%u of %u nodes on the stack at the end", n, TS_NODES);
}

static const mc_scenario ts_ok = {"treiber_tagged", "Treiber stack with a tagged head: no ABA", 2,
                                  ts_setup_tagged, ts_thread, ts_check, 2, 3, 0, 0, false, false};
static const mc_scenario ts_bug = {"treiber_untagged_bug", "Treiber stack with an untagged head: ABA", 2,
                                   ts_setup_untagged, ts_thread, ts_check, 2, 3, 0, 0, false, false};

/* ---- futex wait/wake ---------------------------------------------------------- */

static struct {
    cortex__a32 flag, word, waiting;
    int mode;
} fx;

static void fx_setup(int mode)
{
    memset(&fx, 0, sizeof fx);
    fx.mode = mode;
    mc_name(&fx.flag, 4, "flag");
    mc_name(&fx.word, 4, "word");
    mc_name(&fx.waiting, 4, "waiting");
}

/* mode 0: wait on the flag itself (correct); 1: wait on a word nobody bumps (lost wake-up) */
static void fx_setup_ok(void) { fx_setup(0); }
static void fx_setup_lost(void) { fx_setup(1); }

static void fx_thread(int id)
{
    if (id == 1) {
        cortex__st32(&fx.flag, 1, REL);
        cortex__futex_wake(fx.mode == 0 ? &fx.flag : &fx.word, 1);
    } else {
        while (cortex__ld32(&fx.flag, ACQ) == 0)
            cortex__futex_wait(fx.mode == 0 ? &fx.flag : &fx.word, 0, fx.mode == 2 ? 1000000 : -1);
    }
}

/* Dekker-style waiter flag (as a ring's wait protocol): mode 2 with seq_cst fences, 3 without */
static void fx_setup_dekker(void) { fx_setup(2); }
static void fx_setup_dekker_bug(void) { fx_setup(3); }

static void fx_dekker_thread(int id)
{
    if (id == 1) {
        cortex__st32(&fx.flag, 1, REL);
        if (fx.mode == 2)
            cortex__fence(SC);
        if (cortex__ld32(&fx.waiting, RLX)) {
            cortex__fadd32(&fx.word, 1, REL);
            cortex__futex_wake(&fx.word, 1);
        }
    } else {
        for (;;) {
            uint32_t w = cortex__ld32(&fx.word, ACQ);
            cortex__st32(&fx.waiting, 1, RLX);
            if (fx.mode == 2)
                cortex__fence(SC);
            if (cortex__ld32(&fx.flag, ACQ))
                break;
            cortex__futex_wait(&fx.word, w, 1000000);
        }
    }
}

static const mc_scenario fx_ok = {"futex_wait_wake", "futex wait on the flag word: no lost wake-up", 2,
                                  fx_setup_ok, fx_thread, NULL, 2, 3, 0, 0, true, false};
static const mc_scenario fx_lost = {"futex_lost_wakeup_bug", "waiting on a word the waker never bumps: deadlock",
                                    2, fx_setup_lost, fx_thread, NULL, 2, 3, 0, 0, true, false};
static const mc_scenario fx_dekker = {"futex_dekker", "waiter flag + seq_cst fences: no lost wake-up", 2,
                                      fx_setup_dekker, fx_dekker_thread, NULL, 2, 3, 0, 0, true, false};
static const mc_scenario fx_dekker_bug = {"futex_dekker_no_fence_bug",
                                          "waiter flag without the fences: lost wake-up", 2,
                                          fx_setup_dekker_bug, fx_dekker_thread, NULL, 2, 3, 0, 0, true, false};

/* explored timeouts: a timed wait may time out even though a waker exists */
static int fx_rc;
static void fx_timeout_thread(int id)
{
    if (id == 1) {
        cortex__st32(&fx.flag, 1, REL);
        cortex__futex_wake(&fx.flag, 1);
    } else {
        fx_rc = 0;
        if (cortex__ld32(&fx.flag, ACQ) == 0)
            fx_rc = cortex__futex_wait(&fx.flag, 0, 1000000);
    }
}
static void fx_timeout_check(void) { MC_ASSERT(fx_rc != -ETIMEDOUT, "the wait timed out"); }

static const mc_scenario fx_timeout_ok = {"futex_timeout_not_explored",
                                          "timed wait with a waker, timeouts only at a stall: never times out",
                                          2, fx_setup_ok, fx_timeout_thread, fx_timeout_check, 2, 3, 0, 0,
                                          false, false};
static const mc_scenario fx_timeout_bug = {"futex_timeout_explored_bug",
                                           "same with explore_timeouts: the early timeout is found", 2,
                                           fx_setup_ok, fx_timeout_thread, fx_timeout_check, 2, 3, 0, 0, false,
                                           true};

/* ---- spin with no progress ---------------------------------------------------- */

static void spin_thread(int id)
{
    if (id == 1)
        while (cortex__ld32(&fx.flag, ACQ) == 0)
            cortex__spin_hint();
}
static const mc_scenario spin_bug = {"spin_livelock_bug", "spins on a flag nobody sets: livelock reported", 2,
                                     fx_setup_ok, spin_thread, NULL, 2, 3, 0, 0, false, false};

/* ---- seqlock (racy payload) ---------------------------------------------------- */

static struct {
    cortex__a32 seq;
    uint64_t val[2];
    int mode; /* 0 correct (fences), 1 relaxed sequence */
} sl;

static void sl_setup(int mode)
{
    memset(&sl, 0, sizeof sl);
    sl.mode = mode;
    mc_name(&sl.seq, 4, "seq");
    mc_name(sl.val, sizeof sl.val, "payload");
    mc_racy(sl.val, sizeof sl.val);
}
static void sl_setup_ok(void) { sl_setup(0); }
static void sl_setup_bug(void) { sl_setup(1); }

static void sl_thread(int id)
{
    if (id == 1) {
        for (uint64_t k = 1; k <= 2; k++) {
            uint32_t s = cortex__ld32(&sl.seq, RLX);
            cortex__st32(&sl.seq, s + 1, RLX);
            if (sl.mode == 0)
                cortex__fence(REL);
            uint64_t v[2] = {k, k};
            cortex__plain_write(sl.val, v, sizeof v);
            cortex__st32(&sl.seq, s + 2, sl.mode == 0 ? REL : RLX);
        }
    } else {
        for (int tries = 0; tries < 3; tries++) {
            uint32_t s1 = cortex__ld32(&sl.seq, sl.mode == 0 ? ACQ : RLX);
            if (s1 & 1)
                continue;
            uint64_t v[2];
            cortex__plain_read(v, sl.val, sizeof v);
            if (sl.mode == 0)
                cortex__fence(ACQ);
            uint32_t s2 = cortex__ld32(&sl.seq, RLX);
            if (s1 == s2) {
                MC_ASSERT(v[0] == v[1], "torn value accepted: {%llu, %llu} at sequence %u",
                          (unsigned long long)v[0], (unsigned long long)v[1], s1);
                MC_ASSERT(v[0] == s1 / 2, "stale value %llu accepted at sequence %u",
                          (unsigned long long)v[0], s1);
                return;
            }
        }
    }
}

static const mc_scenario sl_ok = {"seqlock", "seqlock with fences: no torn value accepted", 2, sl_setup_ok,
                                  sl_thread, NULL, 2, 3, 0, 0, false, false};
static const mc_scenario sl_bug = {"seqlock_relaxed_bug", "seqlock with a relaxed sequence: torn value", 2,
                                   sl_setup_bug, sl_thread, NULL, 2, 3, 0, 0, false, false};

static const mc_scenario *const all[] = {
    &mp_plain_ok, &mp_plain_fence_ok, &mp_plain_bug, &mp_atomic_ok, &mp_atomic_bug, &mp_rs_ok,
    &mp_rs_broken_bug, &corr_ok, &corr_hb_ok,
    &sb_rlx_bug, &sb_ra_bug, &sb_sc_ok, &sb_fence_ok,
    &mr_ok, &mr_bug, &ts_ok, &ts_bug,
    &fx_ok, &fx_lost, &fx_dekker, &fx_dekker_bug, &fx_timeout_ok, &fx_timeout_bug, &spin_bug,
    &sl_ok, &sl_bug,
    NULL,
};

int main(int argc, char **argv) { return mc_main(argc, argv, all); }
