/* SPDX-License-Identifier: MIT */
/*
 * SIGKILL torture for the slab: worker processes allocate, stamp, check and
 * free slots in a loop; one of them is killed at a random moment, hundreds
 * of times.  After each kill, reclaim must return exactly the slots the dead
 * worker held (its ledger, plus at most the one it was between taking and
 * recording), no live worker may ever find its stamp overwritten (no slot
 * handed out twice), and after the last kill every slot is free again and
 * can be allocated once each.
 *
 * The same again with every worker using a magazine (cortex_slab_magazine(),
 * batch 4): reclaim then also returns the dead worker's cached free slots,
 * so per kill it frees at least the ledger's count and at most that plus one
 * plus what a magazine and a depot buffer in transit can hold; the final
 * checks (no stamp overwritten, every slot allocatable exactly once, by the
 * test's view without a magazine, so through the depot too) are unchanged.
 *
 * Rounds: 300 x NCTEST_SCALE (the stress_scale option) per variant.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(torture_slab, .fini = nct_cleanup, .timeout = 240);

#define SLOTS 128u
#define HOLD_MAX 24

typedef struct stamp {
    int32_t pid;
    uint32_t n;
    uint64_t words[7];
} stamp;

SLAB_DECLARE(stamp_slab, stamp);

/* Test bookkeeping in an anonymous shared mapping (not the slab itself). */
typedef struct ledger {
    int32_t holder[SLOTS]; /* pid that recorded the slot, 0 if none */
    uint64_t stomped;      /* stamps found overwritten */
    uint64_t ops;
} ledger;

static ledger *led;
static uint32_t mag_batch; /* 0: workers use no magazine */

static void worker(const char *name, unsigned seed)
{
    stamp_slab s;
    if (stamp_slab_attach(&s, CORTEX_KEY_NAME(name), NULL) < 0)
        _exit(10);
    if (mag_batch && cortex_slab_magazine(stamp_slab_core(&s), mag_batch) < 0)
        _exit(15);
    int32_t me = (int32_t)getpid();
    cortex_handle held[HOLD_MAX];
    int nheld = 0;
    uint32_t n = 0;
    srand(seed);
    for (;;) {
        if (nheld < HOLD_MAX && (nheld == 0 || rand() % 3 != 0)) {
            cortex_handle h;
            int rc = stamp_slab_alloc(&s, &h);
            if (rc == -ENOSPC)
                goto release;
            if (rc < 0)
                _exit(11);
            stamp *p = stamp_slab_get(&s, h);
            if (!p)
                _exit(12);
            p->pid = me;
            p->n = ++n;
            for (int i = 0; i < 7; i++)
                p->words[i] = ((uint64_t)(uint32_t)me << 32) | n;
            led->holder[cortex_handle_index(h) % SLOTS] = me;
            held[nheld++] = h;
            __atomic_fetch_add(&led->ops, 1, __ATOMIC_RELAXED);
            continue;
        }
    release:
        if (nheld == 0) {
            usleep(10);
            continue;
        }
        int k = rand() % nheld;
        cortex_handle h = held[k];
        stamp *p = stamp_slab_get(&s, h);
        if (!p)
            _exit(13);
        bool ok = p->pid == me;
        for (int i = 0; i < 7 && ok; i++)
            ok = p->words[i] == (((uint64_t)(uint32_t)me << 32) | p->n);
        if (!ok)
            __atomic_fetch_add(&led->stomped, 1, __ATOMIC_RELAXED);
        led->holder[cortex_handle_index(h) % SLOTS] = 0;
        if (stamp_slab_free(&s, h) < 0)
            _exit(14);
        held[k] = held[--nheld];
    }
}

static pid_t spawn(const char *name, unsigned seed)
{
    pid_t pid = fork();
    if (pid == 0) {
        worker(name, seed);
        _exit(99);
    }
    return pid;
}

static int ledger_count(pid_t pid)
{
    int n = 0;
    for (unsigned i = 0; i < SLOTS; i++)
        n += led->holder[i] == (int32_t)pid;
    return n;
}

static void forget(pid_t pid)
{
    for (unsigned i = 0; i < SLOTS; i++)
        if (led->holder[i] == (int32_t)pid)
            led->holder[i] = 0;
}

static void torture(const char *tag)
{
    led = mmap(NULL, sizeof *led, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(led, MAP_FAILED);
    char name[64];
    nct_name(name, tag);
    stamp_slab s;
    cr_assert_eq(stamp_slab_create(&s, CORTEX_KEY_NAME(name), SLOTS, NULL), 0, "%s", cortex_last_error()->message);

    srand((unsigned)getpid());
    pid_t w[2] = {spawn(name, 1), spawn(name, 2)};
    int rounds = 300 * nct_scale(), reclaimed_total = 0, off_by_one = 0;
    for (int r = 0; r < rounds; r++) {
        usleep((useconds_t)(100 + rand() % 1500));
        int k = rand() % 2;
        kill(w[k], SIGKILL);
        int st = nct_wait(w[k], 20000);
        cr_assert_eq(st, 128 + SIGKILL, "worker ended with %d before it was killed", st);
        int recorded = ledger_count(w[k]);
        int n = stamp_slab_reclaim(&s, 0);
        cr_assert_geq(n, 0, "reclaim: %s", cortex_last_error()->message);
        /* The other worker is alive: only the dead one's slots may come back. */
        /* With magazines: + its cached slots, up to 2 x batch, and a depot buffer it was taking. */
        int cached_max = mag_batch ? (int)(2 * mag_batch + 32) : 0;
        cr_assert(n >= recorded && n <= recorded + 1 + cached_max,
                  "round %d: reclaim freed %d slots, the dead worker held %d (+1 at most in its last step, + up "
                  "to %d cached)",
                  r, n, recorded, cached_max);
        off_by_one += n == recorded + 1;
        reclaimed_total += n;
        forget(w[k]);
        w[k] = spawn(name, (unsigned)r + 3);
    }
    for (int k = 0; k < 2; k++) {
        kill(w[k], SIGKILL);
        nct_wait(w[k], 20000);
        forget(w[k]);
    }
    cr_assert_geq(stamp_slab_reclaim(&s, 0), 0);
    cr_assert_eq(led->stomped, 0, "%llu stamps overwritten: a slot was handed out twice",
                 (unsigned long long)led->stomped);

    cortex_slab_stats st;
    cr_assert_eq(stamp_slab_stats(&s, &st), 0);
    cr_assert_eq(st.free, SLOTS, "every slot is free again (%u of %u)", st.free, SLOTS);
    cortex_handle all[SLOTS];
    for (unsigned i = 0; i < SLOTS; i++)
        cr_assert_eq(stamp_slab_alloc(&s, &all[i]), 0, "slot %u of %u", i, SLOTS);
    cortex_handle extra;
    cr_assert_eq(stamp_slab_alloc(&s, &extra), -ENOSPC);
    for (unsigned i = 0; i < SLOTS; i++)
        for (unsigned j = i + 1; j < SLOTS; j++)
            cr_assert_neq(stamp_slab_get(&s, all[i]), stamp_slab_get(&s, all[j]));
    cr_log_info("slab: %d kills, %d slots reclaimed (%d kills caught a worker between alloc and its ledger), "
                "%llu allocations",
                rounds, reclaimed_total, off_by_one, (unsigned long long)led->ops);
    cr_assert_eq(stamp_slab_close(&s), 0);
    munmap(led, sizeof *led);
}

Test(torture_slab, kill_slot_holders_and_reclaim) { torture("tslab"); }

Test(torture_slab, kill_magazine_holders_and_reclaim)
{
    mag_batch = 4;
    torture("tslabm");
}
