/* SPDX-License-Identifier: MIT */
/*
 * tests/model/scn_waitset.c: the waitset's announce / re-check / sleep
 * against the rings' publish / check-waiter, model-checked over the real
 * code (lib/waitset/waitset.c and lib/ring/ring.c built with
 * -DCORTEX_MODEL; futex_waitv is the explorer's).  Threads 1 and 2 each
 * produce into their own ring (two sources); thread 3 holds a waitset over
 * both consumers and waits, pops what is reported, and waits again until it
 * has every item.  A wake-up lost anywhere leaves thread 3 asleep with only
 * its timeout to end the sleep, which the explorer reports.
 *
 * Seeded bug (program model-waitset-seed-no-recheck): with
 * CORTEX_SEED_WAITSET_NO_RECHECK the waitset sleeps right after announcing,
 * without looking at the rings again: a push that landed between its first
 * look and its announcement saw no waiter and woke nobody.
 */
#include "explorer.h"

#include "atomic.h"
#include "ring/ring_layout.h"

#include <errno.h>
#include <neocortex/waitset.h>
#include <string.h>

#define NRING 2

static struct {
    _Alignas(64) unsigned char mem[NRING][1024];
    cortex_ring init[NRING], prod[NRING], cons[NRING];
    int items; /* per ring */
    int got[NRING];
} ws_m;

static uint64_t item(int ring, int i) { return 0x100u * (uint64_t)(ring + 1) + (uint64_t)i; }

static void setup(int items)
{
    memset(&ws_m, 0, sizeof ws_m);
    ws_m.items = items;
    for (int r = 0; r < NRING; r++) {
        int rc = cortex_ring_init(&ws_m.init[r], ws_m.mem[r], sizeof ws_m.mem[r], 2, 8, 8);
        MC_ASSERT(rc == 0, "init: %d", rc);
        rc = cortex_ring_attach_mem(&ws_m.prod[r], ws_m.mem[r], sizeof ws_m.mem[r], 8, 8, CORTEX_PRODUCER);
        MC_ASSERT(rc == 0, "attach producer: %d", rc);
        rc = cortex_ring_attach_mem(&ws_m.cons[r], ws_m.mem[r], sizeof ws_m.mem[r], 8, 8, CORTEX_CONSUMER);
        MC_ASSERT(rc == 0, "attach consumer: %d", rc);
        cortex_ring_shared *sh = (cortex_ring_shared *)(void *)ws_m.mem[r];
        mc_name(&sh->prod, 8, r ? "ringB.prod" : "ringA.prod");
        mc_name(&sh->cons, 8, r ? "ringB.cons" : "ringA.cons");
        mc_name(&sh->cons_waiting, 4, r ? "ringB.cons_waiting" : "ringA.cons_waiting");
        mc_name(&sh->cons_futex, 4, r ? "ringB.cons_futex" : "ringA.cons_futex");
        mc_name(ws_m.prod[r].slots, 16, r ? "ringB.slot" : "ringA.slot");
    }
}

static void one_item_setup(void) { setup(1); }

static void thread(int id)
{
    if (id <= NRING) { /* a producer: its items into its own ring */
        int r = id - 1;
        for (int i = 0; i < ws_m.items; i++) {
            uint64_t v = item(r, i);
            int rc = cortex_ring_push(&ws_m.prod[r], &v);
            MC_ASSERT(rc == 0, "push: %d", rc);
        }
        return;
    }
    cortex_waitset *ws;
    MC_ASSERT(cortex_waitset_create(&ws) == 0, "create");
    for (int r = 0; r < NRING; r++)
        MC_ASSERT(cortex_waitset_add_ring(ws, &ws_m.cons[r], CORTEX_WAITSET_DATA, (uint64_t)r) == 0, "add");
    int total = 0;
    while (total < NRING * ws_m.items) {
        cortex_waitset_event ev[NRING];
        int n = cortex_waitset_wait(ws, ev, NRING, INT64_C(1000000000));
        MC_ASSERT(n > 0, "wait: %d (a lost wake-up ends only by the timeout)", n);
        for (int k = 0; k < n; k++) {
            MC_ASSERT(ev[k].flags == CORTEX_WAITSET_READY, "flags %u reason %d", ev[k].flags, ev[k].reason);
            int r = (int)ev[k].tag;
            uint64_t v;
            int rc = cortex_ring_pop(&ws_m.cons[r], &v);
            MC_ASSERT(rc == 0, "ring %d was reported ready, pop: %d", r, rc);
            MC_ASSERT(v == item(r, ws_m.got[r]), "ring %d: %#llx", r, (unsigned long long)v);
            ws_m.got[r]++;
            total++;
        }
    }
    cortex_waitset_destroy(ws);
}

static void check(void)
{
    for (int r = 0; r < NRING; r++)
        MC_ASSERT(ws_m.got[r] == ws_m.items, "ring %d: %d of %d items", r, ws_m.got[r], ws_m.items);
}

static const mc_scenario ws_two_rings = {
    "waitset_two_rings", "waitset over two rings, one producer each (one item), vs the waitset's look / announce "
                         "/ re-check / futex_waitv: every item is reported, no wake-up is lost",
    3, one_item_setup, thread, check, 2, 3, 0, 0, true, false};

static const mc_scenario *const all[] = {&ws_two_rings, NULL};

int main(int argc, char **argv) { return mc_main(argc, argv, all); }
