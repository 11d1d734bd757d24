/* SPDX-License-Identifier: MIT */
/*
 * Threads on one mapping (ThreadSanitizer can see them; it cannot see
 * across processes): two workers hammer alloc/free with allocation stamps
 * (plain, unsynchronised payload writes: a missing release/acquire between a
 * free and the next alloc of the slot is a data race TSan reports), while a
 * producer/consumer pair hands slots over with send/receive, and a fifth
 * thread runs reclaim (which must free nothing: nobody died) and stats.
 * A third worker hammers through its own view with a magazine (the
 * store-only fast paths, batches through the depot) on the same slots.
 * Exit 0 = pass.
 */
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hammer.h"

enum { SLOTS = 64, HANDOFFS = 20000 };

static cortex_slab *slab;
static _Atomic cortex_handle mailbox; /* 0 = empty */
static long n_ops;

struct worker {
    uint32_t id;
    int rc;
};

static void *hammer_main(void *arg)
{
    struct worker *w = arg;
    w->rc = hammer(slab, w->id, n_ops, NULL);
    return NULL;
}

static cortex_slab *mag_view; /* the magazine worker's own view of the same memory */

static void *magazine_main(void *arg)
{
    struct worker *w = arg;
    w->rc = cortex_slab_magazine(mag_view, 4) != 0 ? 30 : hammer(mag_view, w->id, n_ops, NULL);
    if (cortex_slab_magazine(mag_view, 0) != 0 && w->rc == 0) /* its cached slots go back */
        w->rc = 31;
    return NULL;
}

static void *producer(void *arg)
{
    int *rc = arg;
    for (uint64_t i = 1; i <= HANDOFFS; i++) {
        cortex_handle h;
        int r;
        while ((r = cortex_slab_alloc(slab, &h)) == -ENOSPC)
            sched_yield();
        if (r < 0) {
            *rc = 1;
            return NULL;
        }
        struct stamp *st = cortex_slab_get(slab, h);
        st->owner = (100ull << 32) | i; /* filled in place */
        st->check = ~st->owner;
        if (cortex_slab_send(slab, h) != 0) {
            *rc = 2;
            return NULL;
        }
        cortex_handle empty = 0;
        while (!atomic_compare_exchange_weak_explicit(&mailbox, &empty, h, memory_order_release, memory_order_relaxed)) {
            empty = 0;
            sched_yield();
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int *rc = arg;
    for (uint64_t i = 1; i <= HANDOFFS; i++) {
        cortex_handle h;
        while ((h = atomic_exchange_explicit(&mailbox, 0, memory_order_acquire)) == 0)
            sched_yield();
        if (cortex_slab_receive(slab, &h) != 0) {
            *rc = 3;
            return NULL;
        }
        struct stamp *st = cortex_slab_get(slab, h);
        if (!st || st->owner != ((100ull << 32) | i) || st->check != ~st->owner) {
            *rc = 4;
            return NULL;
        }
        st->owner = 0;
        st->check = ~(uint64_t)0;
        if (cortex_slab_free(slab, h) != 0) {
            *rc = 5;
            return NULL;
        }
    }
    return NULL;
}

static _Atomic int workers_done;
static int reclaim_rc;

/* Reclaim and stats while everyone runs: nobody is dead, so reclaim must free nothing. */
static void *reclaimer(void *arg)
{
    (void)arg;
    long rounds = 0;
    while (!atomic_load(&workers_done)) {
        int n = cortex_slab_reclaim(slab, CORTEX_SLAB_RECLAIM_IN_FLIGHT);
        cortex_slab_stats st;
        if (n != 0 || cortex_slab_stats_get(slab, &st) != 0 || st.free > SLOTS) {
            reclaim_rc = n != 0 ? 10 : 11;
            return NULL;
        }
        rounds++;
        usleep(100); /* reclaim reads /proc: do not turn the test into a system-call benchmark */
    }
    return NULL;
}

int main(void)
{
    n_ops = HAMMER_SANITIZED ? 300000L : 2000000L;
    size_t len = cortex_slab_required_size(SLOTS, sizeof(struct stamp), _Alignof(struct stamp));
    void *mem = NULL;
    if (posix_memalign(&mem, 64, len) != 0 || cortex_slab_init(&slab, mem, len, SLOTS, sizeof(struct stamp),
                                                               _Alignof(struct stamp)) < 0) {
        printf("setup failed: %s\n", cortex_last_error()->message);
        return 1;
    }
    if (hammer_prepare(slab) != 0 ||
        cortex_slab_attach_raw(&mag_view, mem, len, sizeof(struct stamp), _Alignof(struct stamp)) < 0)
        return 1;
    struct worker w[3] = {{1, -1}, {2, -1}, {3, -1}};
    int prc = 0, crc = 0;
    pthread_t th[5], rt;
    pthread_create(&rt, NULL, reclaimer, NULL);
    pthread_create(&th[0], NULL, hammer_main, &w[0]);
    pthread_create(&th[1], NULL, hammer_main, &w[1]);
    pthread_create(&th[2], NULL, producer, &prc);
    pthread_create(&th[3], NULL, consumer, &crc);
    pthread_create(&th[4], NULL, magazine_main, &w[2]);
    for (int i = 0; i < 5; i++)
        pthread_join(th[i], NULL);
    atomic_store(&workers_done, 1);
    pthread_join(rt, NULL);
    cortex_slab_stats st;
    cortex_slab_stats_get(slab, &st);
    /* every slot allocatable again (the magazine's went back, the depot's spill) */
    cortex_handle all[SLOTS];
    int got = 0;
    while (got < SLOTS && cortex_slab_alloc(slab, &all[got]) == 0)
        got++;
    for (int i = 0; i < got; i++)
        cortex_slab_free(slab, all[i]);
    int bad = w[0].rc || w[1].rc || w[2].rc || prc || crc || reclaim_rc || st.free != SLOTS || got != SLOTS;
    printf("%s: workers %d %d, magazine worker %d, producer %d, consumer %d, reclaimer %d, %u of %u slots free, "
           "%d allocatable, high water %u\n",
           bad ? "FAIL" : "ok", w[0].rc, w[1].rc, w[2].rc, prc, crc, reclaim_rc, st.free, SLOTS, got, st.high_water);
    cortex_slab_close(mag_view);
    cortex_slab_close(slab);
    free(mem);
    return bad;
}
