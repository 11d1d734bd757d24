/* SPDX-License-Identifier: MIT */
/*
 * tests/model/scn_broadcast.c: model-checked scenarios over the real
 * broadcast ring (lib/broadcast/broadcast.c built with -DCORTEX_MODEL).
 * Thread 1 is the writer; threads 2.. are readers, each with its own handle
 * joined to one raw broadcast ring, as separate processes would.  Elements
 * are 16 bytes (two words, the second the complement of the first), so a
 * torn copy is visible.
 *
 * Seeded bug (a separate program): CORTEX_SEED_BROADCAST_NO_CLAIM_FENCE drops
 * the writer's release fence after its claim and the reader's acquire fence
 * before its claim check, so the check can miss an overwrite and a lapped
 * reader returns a torn element.  CORTEX_SEED_BROADCAST_GUARD_HISTORY lets a
 * lossless reader skip the claim check for the history it joined with
 * (b->guarded from its first element, not from the head after its fence):
 * bc_join_oldest finds the torn element.
 */
#include "explorer.h"

#include "atomic.h"
#include "broadcast/broadcast_layout.h"

#include <errno.h>
#include <string.h>

typedef struct {
    uint64_t a, b;
} pair;

#define MAXR 3

static struct {
    _Alignas(64) unsigned char mem[1024];
    cortex_broadcast w, r[MAXR];
    unsigned flags;
    uint32_t capacity;
    int items;
    int joined;       /* readers joined in setup (threads 2..joined+1) */
    uint64_t next[MAXR]; /* per reader: lowest acceptable item index */
    int got[MAXR];
    int end_rc[MAXR];
    bool runs;        /* readers use pop_n (runs of 2) */
} bc;

static pair item(int i) { return (pair){0x100u + (uint64_t)i, ~(0x100u + (uint64_t)i)}; }

static void bc_setup(unsigned flags, uint32_t capacity, int items, int readers)
{
    memset(&bc, 0, sizeof bc);
    bc.flags = flags;
    bc.capacity = capacity;
    bc.items = items;
    bc.joined = readers;
    size_t need = cortex_broadcast_required_size(capacity, MAXR, sizeof(pair));
    MC_ASSERT(need <= sizeof bc.mem, "broadcast needs %zu bytes", need);
    int rc = cortex_broadcast_init(&bc.w, bc.mem, sizeof bc.mem, capacity, MAXR, flags, sizeof(pair), 8);
    MC_ASSERT(rc == 0, "init: %d", rc);
    for (int i = 0; i < readers; i++) {
        rc = cortex_broadcast_join_mem(&bc.r[i], bc.mem, sizeof bc.mem, CORTEX_BROADCAST_NEWEST, sizeof(pair), 8);
        MC_ASSERT(rc == 0, "join %d: %d", i, rc);
    }
    cortex_bc_shared *sh = (cortex_bc_shared *)(void *)bc.mem;
    mc_name(&sh->head, 8, "bc.head");
    mc_name(&sh->claim, 8, "bc.claim");
    mc_name(&sh->closed, 4, "bc.closed");
    mc_name(&sh->data_waiters, 4, "bc.data_waiters");
    mc_name(&sh->data_futex, 4, "bc.data_futex");
    mc_name(&sh->space_waiting, 4, "bc.space_waiting");
    mc_name(&sh->space_futex, 4, "bc.space_futex");
    mc_name(bc.mem + CORTEX_BROADCAST_HEADER_SIZE, 64 * MAXR, "bc.reader");
    mc_name(bc.w.slots, (size_t)capacity * bc.w.slot_size, "bc.slot");
}

/* Reader k received @p v: whole, in order (exactly the next one in lossless mode). */
static void got(int k, const pair *v)
{
    MC_ASSERT(v->b == ~v->a, "reader %d: torn element {%#llx, %#llx}", k, (unsigned long long)v->a,
              (unsigned long long)v->b);
    uint64_t i = v->a - 0x100u;
    MC_ASSERT(i < (uint64_t)bc.items, "reader %d: element %#llx was never pushed", k, (unsigned long long)v->a);
    if (bc.flags == CORTEX_BROADCAST_LOSSLESS)
        MC_ASSERT(i == bc.next[k], "reader %d: item %llu, expected %llu (lossless, in order)", k,
                  (unsigned long long)i, (unsigned long long)bc.next[k]);
    else
        MC_ASSERT(i >= bc.next[k], "reader %d: item %llu after %llu (out of order)", k, (unsigned long long)i,
                  (unsigned long long)bc.next[k]);
    bc.next[k] = i + 1;
    bc.got[k]++;
}

static void push_all(void)
{
    for (int i = 0; i < bc.items; i++) {
        pair v = item(i);
        int rc;
        while ((rc = cortex_broadcast_push(&bc.w, &v)) == -EAGAIN)
            cortex__spin_hint();
        MC_ASSERT(rc == 0, "push: %d", rc);
    }
}

/* Pops (runs of up to 2 with pop_n when bc.runs) until the last item arrived; laps (lossy) are counted by the library. */
static void pop_all(int k)
{
    while (bc.next[k] < (uint64_t)bc.items) {
        pair v, two[2];
        int rc;
        if (bc.runs) {
            ssize_t n = cortex_broadcast_pop_n(&bc.r[k], two, 2);
            for (ssize_t i = 0; i < n; i++)
                got(k, &two[i]);
            rc = n > 0 ? 1 : (int)n;
            if (rc == 1)
                continue;
        } else {
            rc = cortex_broadcast_pop(&bc.r[k], &v);
        }
        if (rc == -EAGAIN) {
            cortex__spin_hint();
            continue;
        }
        if (rc == -EOVERFLOW && bc.flags == CORTEX_BROADCAST_LOSSY)
            continue;
        MC_ASSERT(rc == 0, "reader %d: pop: %d", k, rc);
        got(k, &v);
    }
}

static void fan_thread(int id)
{
    if (id == 1)
        push_all();
    else
        pop_all(id - 2);
}

static void check_fan(void)
{
    for (int k = 0; k < bc.joined; k++) {
        uint64_t missed = cortex_broadcast_missed(&bc.r[k]);
        MC_ASSERT((uint64_t)bc.got[k] + missed == (uint64_t)bc.items, "reader %d: %d received + %llu missed != %d",
                  k, bc.got[k], (unsigned long long)missed, bc.items);
        if (bc.flags == CORTEX_BROADCAST_LOSSLESS)
            MC_ASSERT(missed == 0, "reader %d: lossless missed %llu", k, (unsigned long long)missed);
    }
}

static void lossless_one_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSLESS, 2, 3, 1); }
static void lossless_two_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSLESS, 1, 2, 2); }
static void lossy_one_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSY, 2, 3, 1); }
static void lossy_two_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSY, 1, 2, 2); }

static const mc_scenario bc_lossless_one = {
    "bc_lossless_one", "broadcast lossless: capacity 2, 3 items, writer vs one reader: all, in order, no race",
    2, lossless_one_setup, fan_thread, check_fan, 3, 3, 0, 0, true, false};
static const mc_scenario bc_lossless_two = {
    "bc_lossless_two", "broadcast lossless: capacity 1, 2 items, writer vs two readers: the writer waits for "
                       "the slower, each reader gets all in order",
    3, lossless_two_setup, fan_thread, check_fan, -1, 2, 0, 0, true, false};
static const mc_scenario bc_lossy_one = {
    "bc_lossy_lapped", "broadcast lossy: capacity 2, 3 items, a writer that never waits laps the reader, also "
                       "mid-copy: never a torn element, received + missed == pushed",
    2, lossy_one_setup, fan_thread, check_fan, 2, 3, 0, 0, true, false};
static void lossy_runs_setup(void)
{
    bc_setup(CORTEX_BROADCAST_LOSSY, 2, 3, 1);
    bc.runs = true;
}

static const mc_scenario bc_lossy_runs = {
    "bc_lossy_runs", "broadcast lossy: capacity 2, 3 items, the reader copies runs of 2 (pop_n) while the writer "
                     "laps it: one claim check per run still catches every overwrite",
    2, lossy_runs_setup, fan_thread, check_fan, 2, 3, 0, 0, true, false};
static const mc_scenario bc_lossy_two = {
    "bc_lossy_two", "broadcast lossy: capacity 1, 2 items, writer vs two readers lapped independently",
    3, lossy_two_setup, fan_thread, check_fan, -1, 2, 0, 0, true, false};

/* ---- join and leave while the writer runs ------------------------------------ */

static void join_thread(int id)
{
    if (id == 1) {
        push_all();
    } else if (id == 2) {
        pop_all(0);
    } else {
        /* a visitor: joins, reads at most one element, leaves; the writer must never wait for it after */
        int rc = cortex_broadcast_join_mem(&bc.r[1], bc.mem, sizeof bc.mem, CORTEX_BROADCAST_NEWEST, sizeof(pair), 8);
        MC_ASSERT(rc == 0, "visitor join: %d", rc);
        pair v;
        rc = cortex_broadcast_pop(&bc.r[1], &v);
        MC_ASSERT(rc == 0 || rc == -EAGAIN, "visitor pop: %d", rc);
        if (rc == 0)
            MC_ASSERT(v.b == ~v.a, "visitor: torn element");
        cortex_broadcast_close(&bc.r[1]);
    }
}

static void check_join(void)
{
    MC_ASSERT(bc.got[0] == bc.items, "steady reader got %d of %d", bc.got[0], bc.items);
    cortex_bc_reader *e = (cortex_bc_reader *)(void *)(bc.mem + CORTEX_BROADCAST_HEADER_SIZE);
    MC_ASSERT(cortex__ld32(&e[1].pid, CX_RELAXED) == 0, "the visitor's entry is still held");
}

static void join_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSLESS, 1, 2, 1); }

static const mc_scenario bc_join_leave = {
    "bc_join_leave", "broadcast lossless: a reader joins, reads, and leaves while the writer pushes 2 items "
                     "through capacity 1 to a steady reader: nothing lost, the writer never stuck",
    3, join_setup, join_thread, check_join, 1, 3, 0, 0, true, false};

/* ---- a lossless reader joining with history ------------------------------------ */

static void oldest_thread(int id)
{
    if (id == 1) {
        push_all();
        return;
    }
    int rc = cortex_broadcast_join_mem(&bc.r[0], bc.mem, sizeof bc.mem, CORTEX_BROADCAST_OLDEST, sizeof(pair), 8);
    MC_ASSERT(rc == 0, "join: %d", rc);
    while (bc.next[0] < (uint64_t)bc.items) {
        pair v;
        rc = cortex_broadcast_pop(&bc.r[0], &v);
        if (rc == -EAGAIN) {
            cortex__spin_hint();
            continue;
        }
        if (rc == -EOVERFLOW)
            continue; /* history overwritten before the writer saw us: reported, as documented */
        MC_ASSERT(rc == 0, "pop: %d", rc);
        MC_ASSERT(v.b == ~v.a, "torn element {%#llx, %#llx}", (unsigned long long)v.a, (unsigned long long)v.b);
        uint64_t i = v.a - 0x100u;
        MC_ASSERT(i < (uint64_t)bc.items && i >= bc.next[0], "item %llu after %llu", (unsigned long long)i,
                  (unsigned long long)bc.next[0]);
        bc.next[0] = i + 1;
    }
    cortex_broadcast_close(&bc.r[0]);
}

static void check_oldest(void) {}

static void oldest_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSLESS, 1, 2, 0); }

static const mc_scenario bc_join_oldest = {
    "bc_join_oldest", "broadcast lossless: a reader joins at the oldest element while the writer pushes 2 items "
                      "through capacity 1: history it loses is a reported lap, never a torn element",
    2, oldest_setup, oldest_thread, check_oldest, 2, 3, 0, 0, true, false};

/* ---- sleeping: push_wait / pop_wait, close -------------------------------------- */

static void wait_thread(int id)
{
    if (id == 1) {
        for (int i = 0; i < bc.items; i++) {
            pair v = item(i);
            int rc = cortex_broadcast_push_wait(&bc.w, &v, -1);
            MC_ASSERT(rc == 0, "push_wait: %d", rc);
        }
        cortex_broadcast_close(&bc.w);
    } else {
        int k = id - 2;
        for (;;) {
            pair v;
            int rc = cortex_broadcast_pop_wait(&bc.r[k], &v, -1);
            if (rc == -EPIPE) {
                bc.end_rc[k] = rc;
                break;
            }
            if (rc == -EOVERFLOW && bc.flags == CORTEX_BROADCAST_LOSSY)
                continue;
            MC_ASSERT(rc == 0, "pop_wait: %d", rc);
            got(k, &v);
        }
    }
}

static void check_wait(void)
{
    check_fan();
    for (int k = 0; k < bc.joined; k++)
        MC_ASSERT(bc.end_rc[k] == -EPIPE, "reader %d ended with %d, not -EPIPE", k, bc.end_rc[k]);
}

static void wait_lossless_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSLESS, 1, 2, 1); }
static void wait_lossy_setup(void) { bc_setup(CORTEX_BROADCAST_LOSSY, 1, 2, 1); }

static const mc_scenario bc_wait_lossless = {
    "bc_wait_lossless", "broadcast lossless: capacity 1, 2 items, push_wait vs pop_wait then close: both sides "
                        "sleep, every sleep is woken, -EPIPE after the drain",
    2, wait_lossless_setup, wait_thread, check_wait, 2, 3, 0, 0, true, false};
static const mc_scenario bc_wait_lossy = {
    "bc_wait_lossy", "broadcast lossy: capacity 1, 2 items, pop_wait vs pushes then close: no lost wake-up, "
                     "-EPIPE at the end",
    2, wait_lossy_setup, wait_thread, check_wait, 2, 3, 0, 0, true, false};

static const mc_scenario *const all[] = {&bc_lossless_one, &bc_lossless_two, &bc_lossy_one, &bc_lossy_runs, &bc_lossy_two,
                                         &bc_join_leave, &bc_join_oldest, &bc_wait_lossless, &bc_wait_lossy,
                                         NULL};

int main(int argc, char **argv) { return mc_main(argc, argv, all); }
