/* SPDX-License-Identifier: MIT */
/*
 * Magazines (cortex_slab_magazine()): handles stay generation-checked, stats
 * stay exact, batches move through the depot (within one process and from a
 * producer process to a consumer process), slots parked in the depot are
 * reachable without a magazine, close gives cached slots back, a dead
 * process's cached slots come back exactly once, and a hostile depot buffer
 * is refused with -EBADMSG.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"
#include "slab/slab_internal.h"
#include "slab/slab_layout.h"

TestSuite(slab_mag, .fini = nct_cleanup, .timeout = 60);

enum { SLOTS = 128 };

struct stamp {
    uint64_t owner; /* pid << 32 | sequence; 0 = free */
    uint64_t check; /* ~owner */
};

static cortex_slab *make(char *name, const char *tag)
{
    cortex_slab *s = NULL;
    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, tag)), SLOTS, sizeof(struct stamp),
                                    _Alignof(struct stamp), "struct stamp", NULL),
                 0, "%s", cortex_last_error()->message);
    return s;
}

static cortex_slab *attach(const char *name)
{
    cortex_slab *c = NULL;
    if (cortex_slab_attach(&c, CORTEX_KEY_NAME(name), sizeof(struct stamp), _Alignof(struct stamp), "struct stamp",
                           NULL) < 0)
        _exit(10);
    return c;
}

static struct cortex__slab_depot *depot_of(cortex_slab *s)
{
    uint8_t *mem = cortex_region_payload(cortex_slab_region(s));
    struct cortex__slab_geom g;
    cr_assert_eq(cortex__slab_geometry(SLOTS, sizeof(struct stamp), _Alignof(struct stamp), &g), 0);
    return (struct cortex__slab_depot *)(void *)(mem + g.depot_off);
}

static uint32_t count_depot(cortex_slab *s, uint32_t kind)
{
    struct cortex__slab_depot *d = depot_of(s);
    uint32_t n = 0;
    for (uint32_t i = 0; i < SLOTS / CORTEX__SLAB_MAG_BATCH; i++)
        n += CX_D_KIND(cortex__ld64(&d[i].state, CX_ACQUIRE)) == kind;
    return n;
}

/* Every slot can be allocated exactly once through a view without a magazine, then all are freed. */
static void assert_all_allocatable(cortex_slab *s)
{
    cortex_handle h[SLOTS];
    uint8_t seen[SLOTS] = {0};
    for (int i = 0; i < SLOTS; i++) {
        cr_assert_eq(cortex_slab_alloc(s, &h[i]), 0, "slot %d of %d: %s", i, SLOTS, cortex_last_error()->message);
        uint32_t ix = cortex_handle_index(h[i]);
        cr_assert_lt(ix, SLOTS);
        cr_assert_not(seen[ix], "slot %u handed out twice", ix);
        seen[ix] = 1;
    }
    cortex_handle x;
    cr_assert_eq(cortex_slab_alloc(s, &x), -ENOSPC);
    for (int i = 0; i < SLOTS; i++)
        cr_assert_eq(cortex_slab_free(s, h[i]), 0);
}

Test(slab_mag, handles_stay_checked_and_stats_exact)
{
    char name[64];
    cortex_slab *s = make(name, "mag1");
    cr_assert_eq(cortex_slab_magazine(s, CORTEX_SLAB_MAGAZINE_MAX + 1), -EINVAL);
    cr_assert_eq(cortex_slab_magazine(NULL, 4), -EINVAL);
    cr_assert_eq(cortex_slab_magazine(s, 4), 0);
    cortex_handle a, b;
    cr_assert_eq(cortex_slab_alloc(s, &a), 0);
    cr_assert_eq(cortex_slab_free(s, a), 0);
    /* Cached, not gone: the stale handle is refused everywhere. */
    cr_assert_null(cortex_slab_get(s, a));
    cr_assert_eq(cortex_last_error()->code, -ESTALE);
    cr_assert_eq(cortex_slab_free(s, a), -ESTALE);
    cr_assert_eq(cortex_slab_send(s, a), -ESTALE);
    /* The next alloc reuses the cached slot with a new generation. */
    cr_assert_eq(cortex_slab_alloc(s, &b), 0);
    cr_assert_eq(cortex_handle_index(b), cortex_handle_index(a));
    cr_assert_neq(cortex_handle_generation(b), cortex_handle_generation(a));
    cr_assert_null(cortex_slab_get(s, a));
    cr_assert_not_null(cortex_slab_get(s, b));
    /* send/receive through a magazine view: the sender's copy goes stale. */
    cr_assert_eq(cortex_slab_send(s, b), 0);
    cortex_handle r = b;
    cr_assert_eq(cortex_slab_receive(s, &r), 0);
    cr_assert_eq(cortex_slab_free(s, b), -ESTALE);
    cr_assert_eq(cortex_slab_free(s, r), 0);

    cortex_handle h[40];
    for (int i = 0; i < 40; i++)
        cr_assert_eq(cortex_slab_alloc(s, &h[i]), 0);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(cortex_slab_free(s, h[i]), 0);
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.allocated, 10);
    cr_assert_eq(st.free, SLOTS - 10, "cached slots count as free (%u)", st.free);
    cr_assert_eq(st.in_flight, 0);
    cr_assert_geq(st.high_water, 40);
    /* 30 frees with batch 4: full magazines went to the depot. */
    cr_assert_geq(count_depot(s, CORTEX__DEPOT_FULL), 1);
    for (int i = 30; i < 40; i++)
        cr_assert_eq(cortex_slab_free(s, h[i]), 0);
    /* Off: the cached slots go back to the shared stack; the depot's are reachable too. */
    cr_assert_eq(cortex_slab_magazine(s, 0), 0);
    assert_all_allocatable(s);
    cr_assert_eq(cortex_slab_close(s), 0);
}

Test(slab_mag, depot_slots_reach_a_view_without_magazine)
{
    char name[64];
    cortex_slab *s = make(name, "mag2");
    cortex_slab *plain = NULL;
    cr_assert_eq(cortex_slab_attach(&plain, CORTEX_KEY_NAME(name), sizeof(struct stamp), _Alignof(struct stamp),
                                    "struct stamp", NULL),
                 0);
    cr_assert_eq(cortex_slab_magazine(s, 8), 0);
    cortex_handle h[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        cr_assert_eq(cortex_slab_alloc(s, &h[i]), 0);
    for (int i = 0; i < SLOTS; i++)
        cr_assert_eq(cortex_slab_free(s, h[i]), 0);
    cr_assert_geq(count_depot(s, CORTEX__DEPOT_FULL), 1, "batches were parked in the depot");
    /* The other view sees the magazine's cached slots as free but cannot have them: */
    /* after a put the magazine keeps one batch (8). */
    cortex_handle x[SLOTS];
    int got = 0;
    while (got < SLOTS && cortex_slab_alloc(plain, &x[got]) == 0)
        got++;
    cr_assert_eq(got, SLOTS - 8, "everything but the magazine's batch is reachable: got %d", got);
    cr_assert_eq(count_depot(s, CORTEX__DEPOT_FULL), 0, "the depot was spilled");
    for (int i = 0; i < got; i++)
        cr_assert_eq(cortex_slab_free(plain, x[i]), 0);
    /* Closing the magazine's view gives its slots back. */
    cr_assert_eq(cortex_slab_close(s), 0);
    assert_all_allocatable(plain);
    cr_assert_eq(cortex_slab_own(plain), 0);
    cr_assert_eq(cortex_slab_close(plain), 0);
}

Test(slab_mag, hostile_depot_buffer_is_refused)
{
    char name[64];
    cortex_slab *s = make(name, "mag3");
    cr_assert_eq(cortex_slab_magazine(s, 4), 0);
    struct cortex__slab_depot *d = depot_of(s);
    /* A FULL buffer claiming 200 entries from process-table id 3. */
    cortex__st64(&d[0].state, cx_depot(CORTEX__DEPOT_FULL, 3, 200, 3), CX_RELEASE);
    cortex_handle h;
    cr_assert_eq(cortex_slab_alloc(s, &h), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "depot buffer 0 is corrupt"), "%s",
              cortex_last_error()->message);
    /* Entries out of range: skipped, reported, nothing handed out from them. */
    for (uint32_t j = 0; j < 4; j++)
        cortex__st64(&d[0].ent[j], ((uint64_t)7 << 32) | (SLOTS + 1 + j), CX_RELAXED);
    cortex__st64(&d[0].state, cx_depot(CORTEX__DEPOT_FULL, 3, 4, 3), CX_RELEASE);
    cr_assert_eq(cortex_slab_alloc(s, &h), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "out of range"), "%s", cortex_last_error()->message);
    /* Entries naming slots in use (wrong word): not taken. */
    cortex_handle used;
    cr_assert_eq(cortex_slab_alloc(s, &used), 0);
    cortex__st64(&d[0].ent[0], ((uint64_t)cortex_handle_generation(used) << 32) | (cortex_handle_index(used) + 1),
                 CX_RELAXED);
    cortex__st64(&d[0].state, cx_depot(CORTEX__DEPOT_FULL, 3, 1, 3), CX_RELEASE);
    cortex_handle other;
    cr_assert_eq(cortex_slab_alloc(s, &other), 0);
    cr_assert_neq(cortex_handle_index(other), cortex_handle_index(used), "a slot in use was handed out twice");
    cr_assert_not_null(cortex_slab_get(s, used));
    cr_assert_eq(cortex_slab_free(s, used), 0);
    cr_assert_eq(cortex_slab_free(s, other), 0);
    cr_assert_eq(cortex_slab_close(s), 0);
}

/*
 * A child with a magazine of @p batch allocates @p alloc slots, frees the
 * first @p frees of them, and is killed with SIGKILL.  Before the kill,
 * reclaim must find nothing (the holder is alive).
 */
static void kill_a_holder(cortex_slab *s, const char *name, uint32_t batch, int alloc, int frees)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        cortex_slab *c = attach(name);
        cortex_handle h[SLOTS];
        if (cortex_slab_magazine(c, batch) < 0)
            _exit(11);
        for (int i = 0; i < alloc; i++)
            if (cortex_slab_alloc(c, &h[i]) < 0)
                _exit(12);
        for (int i = 0; i < frees; i++)
            if (cortex_slab_free(c, h[i]) < 0)
                _exit(13);
        if (write(fds[1], "x", 1) != 1)
            _exit(14);
        pause();
        _exit(0);
    }
    char x;
    cr_assert_eq(read(fds[0], &x, 1), 1);
    cr_assert_eq(cortex_slab_reclaim(s, 0), 0, "the holder is alive: nothing to reclaim");
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.allocated, (uint32_t)(alloc - frees));
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 5000), 128 + SIGKILL);
    close(fds[0]);
    close(fds[1]);
}

/* A process dies with allocated and cached slots: reclaim returns exactly those, each once. */
Test(slab_mag, dead_magazine_is_reclaimed_exactly)
{
    char name[64];
    cortex_slab *s = make(name, "mag4");
    /* 5 held; 7 frees with batch 4 (8 would fill the magazine): all 7 stay cached. */
    kill_a_holder(s, name, 4, 12, 7);
    cr_assert_eq(cortex_slab_reclaim(s, 0), 5 + 7, "reclaim returns the 5 held and 7 cached slots");
    cr_assert_eq(cortex_slab_reclaim(s, 0), 0, "and none twice");
    assert_all_allocatable(s);
    cr_assert_eq(cortex_slab_close(s), 0);
}

/* Killed after parking batches in the depot: the depot's slots stay usable, the rest comes back. */
Test(slab_mag, dead_filler_leaves_the_depot_usable)
{
    char name[64];
    cortex_slab *s = make(name, "mag5");
    /* Batch 8: puts at the 16th, 24th, 32nd and 40th free fill the 4 depot buffers; 8 stay cached. */
    kill_a_holder(s, name, 8, 60, 40);
    uint32_t full = count_depot(s, CORTEX__DEPOT_FULL);
    cr_assert_eq(full, 4);
    /* 20 held + 8 cached come back; the 4 parked batches stay in the depot. */
    int n = cortex_slab_reclaim(s, 0);
    cr_assert_eq(n, 20 + 8, "reclaim freed %d with %u full depot buffers", n, full);
    cr_assert_eq(count_depot(s, CORTEX__DEPOT_FULL), full);
    assert_all_allocatable(s);
    cr_assert_eq(cortex_slab_close(s), 0);
}

/*
 * The zero-copy pattern: a producer process allocates, stamps and sends; a
 * consumer process receives, checks and frees; both with magazines, so the
 * slots travel back in batches through the depot.  No slot is ever found
 * with a foreign stamp, and at the end every slot is free.
 */
Test(slab_mag, producer_consumer_through_the_depot)
{
    char name[64];
    cortex_slab *s = make(name, "mag6");
    long msgs = 200000L * nct_scale();
    int p2c[2];
    cr_assert_eq(pipe(p2c), 0);
    pid_t prod = fork();
    if (prod == 0) {
        close(p2c[0]);
        cortex_slab *c = attach(name);
        if (cortex_slab_magazine(c, 16) < 0)
            _exit(11);
        uint64_t me = (uint64_t)getpid() << 32;
        cortex_handle buf[64];
        int nb = 0;
        for (long k = 0; k < msgs; k++) {
            cortex_handle h;
            int rc;
            while ((rc = cortex_slab_alloc(c, &h)) == -ENOSPC) {
                if (nb && write(p2c[1], buf, sizeof buf[0] * (size_t)nb) < 0)
                    _exit(12);
                nb = 0;
                usleep(50);
            }
            if (rc < 0)
                _exit(13);
            struct stamp *st = cortex_slab_get(c, h);
            if (!st || st->owner != 0)
                _exit(14); /* a slot still in use handed out again */
            st->owner = me | (uint64_t)(k & 0xffffffff);
            st->check = ~st->owner;
            if (cortex_slab_send(c, h) < 0)
                _exit(15);
            buf[nb++] = h;
            if (nb == 64) {
                if (write(p2c[1], buf, sizeof buf) != (ssize_t)sizeof buf)
                    _exit(16);
                nb = 0;
            }
        }
        if (nb && write(p2c[1], buf, sizeof buf[0] * (size_t)nb) < 0)
            _exit(17);
        close(p2c[1]);
        _exit(cortex_slab_close(c) == 0 ? 0 : 18);
    }
    pid_t cons = fork();
    if (cons == 0) {
        close(p2c[1]);
        cortex_slab *c = attach(name);
        if (cortex_slab_magazine(c, 16) < 0)
            _exit(21);
        long got = 0;
        cortex_handle h;
        for (;;) {
            ssize_t r = read(p2c[0], &h, sizeof h);
            if (r == 0)
                break;
            if (r != (ssize_t)sizeof h)
                _exit(22);
            if (cortex_slab_receive(c, &h) < 0)
                _exit(23);
            struct stamp *st = cortex_slab_get(c, h);
            if (!st || st->owner == 0 || st->check != ~st->owner || (uint32_t)st->owner != (uint32_t)got)
                _exit(24);
            st->owner = 0;
            st->check = 0;
            if (cortex_slab_free(c, h) < 0)
                _exit(25);
            got++;
        }
        _exit(got == msgs && cortex_slab_close(c) == 0 ? 0 : 26);
    }
    close(p2c[0]);
    close(p2c[1]);
    cr_assert_eq(nct_wait(prod, 55000), 0, "producer");
    cr_assert_eq(nct_wait(cons, 55000), 0, "consumer");
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.free, SLOTS);
    assert_all_allocatable(s);
    cr_assert_eq(cortex_slab_close(s), 0);
}

/*
 * A channel's tuning of the two sides (cortex__slab_magazine_tune()): the
 * view that only frees keeps nothing after a put, so every batch it frees
 * is in the depot at once; the allocating view with sweep refills from the
 * depot's buffers in turn (the one after the buffer it took last), so the
 * batches come back oldest first rather than the same buffer again and again.
 */
Test(slab_mag, tuned_views_hand_batches_on_and_sweep_the_depot)
{
    enum { B = 8, NBUF = SLOTS / CORTEX__SLAB_MAG_BATCH }; /* 4 depot buffers */
    char name[64];
    cortex_slab *prod = make(name, "mag8");
    /* Every slot used once: the sweep's rule for never-used slots (the next test) is out of the way. */
    assert_all_allocatable(prod);
    cortex_slab *cons = NULL;
    cr_assert_eq(cortex_slab_attach(&cons, CORTEX_KEY_NAME(name), sizeof(struct stamp), _Alignof(struct stamp),
                                    "struct stamp", NULL),
                 0);
    cr_assert_eq(cortex__slab_magazine_tune(NULL, B, 0, false), -EINVAL);
    cr_assert_eq(cortex__slab_magazine_tune(cons, B, B + 1, false), -EINVAL, "keeps more than a batch");
    cr_assert_eq(cortex__slab_magazine_tune(cons, CORTEX_SLAB_MAGAZINE_MAX + 1, 0, false), -EINVAL);
    cr_assert_eq(cortex__slab_magazine_tune(prod, B, B, true), 0);
    cr_assert_eq(cortex__slab_magazine_tune(cons, B, 0, false), 0);
    /* The producer's side allocates and sends NBUF batches; the consumer's receives and frees them. */
    cortex_handle h[NBUF * B];
    for (int i = 0; i < NBUF * B; i++) {
        cr_assert_eq(cortex_slab_alloc(prod, &h[i]), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(cortex_slab_send(prod, h[i]), 0);
    }
    uint8_t batch_of[SLOTS];
    memset(batch_of, 0xff, sizeof batch_of);
    for (int i = 0; i < NBUF * B; i++) {
        cr_assert_eq(cortex_slab_receive(cons, &h[i]), 0);
        cr_assert_eq(cortex_slab_free(cons, h[i]), 0);
        batch_of[cortex_handle_index(h[i])] = (uint8_t)(i / B);
        cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), (uint32_t)(i + 1) / B,
                     "after %d frees, %d full batches are in the depot (none kept back)", i + 1, (i + 1) / B);
    }
    /*
     * The producer's magazine is empty and its last buffer taken counts as
     * buffer 0: refills sweep 1, 2, 3, 0.  Each refill is one whole batch,
     * the one filled in that buffer (the consumer filled them 0, 1, 2, 3).
     */
    for (int r = 0; r < NBUF; r++) {
        int want = (r + 1) % NBUF;
        for (int k = 0; k < B; k++) {
            cortex_handle *x = &h[r * B + k]; /* kept: a free would put it back on top of the magazine */
            cr_assert_eq(cortex_slab_alloc(prod, x), 0, "%s", cortex_last_error()->message);
            cr_assert_eq(batch_of[cortex_handle_index(*x)], want, "refill %d: slot %u came from batch %d, not %d", r,
                         cortex_handle_index(*x), batch_of[cortex_handle_index(*x)], want);
        }
    }
    cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), 0);
    for (int i = 0; i < NBUF * B; i++)
        cr_assert_eq(cortex_slab_free(prod, h[i]), 0);
    cr_assert_eq(cortex_slab_magazine(prod, 0), 0);
    cr_assert_eq(cortex_slab_close(cons), 0);
    assert_all_allocatable(prod);
    cr_assert_eq(cortex_slab_close(prod), 0);
}

/*
 * While some slot was never used, a sweeping view takes never-used slots
 * from the shared stack before the depot's batches (the channel's producer:
 * every slot joins the cycle, docs/channel.md); once all have been used, the
 * depot's batches come first again.  With a batch too small for the depot
 * to hold the whole class the rule is off (the stack may hold the peer's
 * newest batches then).
 */
Test(slab_mag, sweep_takes_never_used_slots_first)
{
    enum { B = 32, FIRST = 2 * B }; /* the default batch: the depot's 4 buffers hold the whole class */
    char name[64];
    cortex_slab *prod = make(name, "mag9");
    cortex_slab *cons = attach(name); /* exits the test's process if it cannot */
    cr_assert_eq(cortex__slab_magazine_tune(prod, B, B, true), 0);
    cr_assert_eq(cortex__slab_magazine_tune(cons, B, 0, false), 0);
    static cortex_handle h[SLOTS + 1];
    bool used[SLOTS] = {false};
    for (int i = 0; i < FIRST; i++) {
        cr_assert_eq(cortex_slab_alloc(prod, &h[i]), 0, "%s", cortex_last_error()->message);
        used[cortex_handle_index(h[i])] = true;
        cr_assert_eq(cortex_slab_send(prod, h[i]), 0);
        cr_assert_eq(cortex_slab_receive(cons, &h[i]), 0);
        cr_assert_eq(cortex_slab_free(cons, h[i]), 0);
    }
    cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), FIRST / B, "the consumer handed both batches on");
    /* Two full batches wait in the depot, yet the never-used slots come first, every one of them. */
    for (int i = FIRST; i < SLOTS; i++) {
        cr_assert_eq(cortex_slab_alloc(prod, &h[i]), 0, "%s", cortex_last_error()->message);
        uint32_t ix = cortex_handle_index(h[i]);
        cr_assert_not(used[ix], "alloc %d: slot %u again while slots were never used", i, ix);
        used[ix] = true;
    }
    cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), FIRST / B);
    /* All used: the next refill takes a depot batch (in the sweep's order: the test above). */
    cr_assert_eq(cortex_slab_alloc(prod, &h[SLOTS]), 0, "%s", cortex_last_error()->message);
    cr_assert_lt(cortex_handle_index(h[SLOTS]), SLOTS);
    cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), FIRST / B - 1);
    for (int i = FIRST; i <= SLOTS; i++)
        cr_assert_eq(cortex_slab_free(prod, h[i]), 0);
    cr_assert_eq(cortex_slab_magazine(prod, 0), 0);
    cr_assert_eq(cortex_slab_close(cons), 0);
    assert_all_allocatable(prod);
    cr_assert_eq(cortex_slab_close(prod), 0);

    /* Batches of 8: 4 buffers hold 32 of 128 slots, so the depot's batch comes back first. */
    prod = make(name, "mag10");
    cons = attach(name);
    cr_assert_eq(cortex__slab_magazine_tune(prod, 8, 8, true), 0);
    cr_assert_eq(cortex__slab_magazine_tune(cons, 8, 0, false), 0);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(cortex_slab_alloc(prod, &h[i]), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(cortex_slab_send(prod, h[i]), 0);
        cr_assert_eq(cortex_slab_receive(cons, &h[i]), 0);
        cr_assert_eq(cortex_slab_free(cons, h[i]), 0);
    }
    cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), 1);
    cr_assert_eq(cortex_slab_alloc(prod, &h[8]), 0, "%s", cortex_last_error()->message);
    cr_assert_lt(cortex_handle_index(h[8]), 8, "slot %u: not one of the batch", cortex_handle_index(h[8]));
    cr_assert_eq(count_depot(prod, CORTEX__DEPOT_FULL), 0);
    cr_assert_eq(cortex_slab_free(prod, h[8]), 0);
    cr_assert_eq(cortex_slab_magazine(prod, 0), 0);
    cr_assert_eq(cortex_slab_close(cons), 0);
    assert_all_allocatable(prod);
    cr_assert_eq(cortex_slab_close(prod), 0);
}

/* A thread that frees one handle through the view (not the magazine's owner). */
struct other_free {
    cortex_slab *s;
    cortex_handle h;
    int rc;
};
static void *other_free_main(void *a)
{
    struct other_free *o = a;
    o->rc = cortex_slab_free(o->s, o->h);
    return NULL;
}

/*
 * The magazine's fast paths (a store, no CAS) refuse what the checked paths
 * refuse and hand every slot out once: alloc_get gives get's address;
 * another slab's, NULL, out-of-range, stale and doubly freed handles get
 * their errors; a slot another thread or a forked child allocated is freed
 * through the checked path; a forked child never hands out the parent's
 * cached slots.
 */
Test(slab_mag, fast_paths_refuse_what_the_checked_ones_refuse)
{
    char name[64];
    cortex_slab *s = make(name, "magfast");
    cr_assert_eq(cortex_slab_magazine(s, 4), 0);
    cortex_handle h, held[8];
    void *p = NULL;
    for (int round = 0; round < 3; round++) { /* the first round fills the magazine through the slow path */
        for (int i = 0; i < 8; i++) {
            cr_assert_eq(cortex_slab_alloc_get(s, &held[i], &p), 0, "%s", cortex_last_error()->message);
            cr_assert_eq(p, cortex_slab_get(s, held[i]), "alloc_get's address is get's");
            ((struct stamp *)p)->owner = (uint64_t)i + 1;
        }
        for (int i = 0; i < 8; i++)
            cr_assert_eq(cortex_slab_free(s, held[i]), 0);
        for (int i = 0; i < 8; i++) {
            cr_assert_eq(cortex_slab_free(s, held[i]), -ESTALE, "double free (round %d, slot %d)", round, i);
            cr_assert_null(cortex_slab_get(s, held[i]));
        }
    }
    cr_assert_eq(cortex_slab_alloc_get(s, &h, NULL), -EINVAL);
    cr_assert_eq(cortex_slab_alloc(s, &h), 0);
    cr_assert_eq(cortex_slab_free(s, h ^ (UINT64_C(1) << 24)), -ESTALE, "another slab's tag");
    cr_assert_eq(cortex_slab_free(s, (h & ~UINT64_C(0xffffff)) | (SLOTS + 1)), -EINVAL, "index out of range");
    cr_assert_eq(cortex_slab_free(s, h + (UINT64_C(1) << 32)), -ESTALE, "a newer generation");
    cr_assert_eq(cortex_slab_free(s, CORTEX_HANDLE_NULL), -EINVAL);
    cr_assert_eq(cortex_slab_send(s, h), 0);
    cr_assert_eq(cortex_slab_free(s, h), -EBUSY, "in flight");
    cortex_handle r = h;
    cr_assert_eq(cortex_slab_receive(s, &r), 0);
    cr_assert_eq(cortex_slab_free(s, r), 0);

    /* Allocated by the owner, freed by another thread of the process: the checked path. */
    struct other_free o = {s, 0, -1};
    cr_assert_eq(cortex_slab_alloc(s, &o.h), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, other_free_main, &o), 0);
    pthread_join(t, NULL);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(cortex_slab_free(s, o.h), -ESTALE);

    /* A forked child: allocates past the parent's cached slots, hands one over raw, never a parent's cached slot. */
    cortex_handle cached[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cortex_slab_alloc(s, &cached[i]), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cortex_slab_free(s, cached[i]), 0); /* now in the parent's magazine */
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cortex_handle c;
        int bad = 0;
        for (int k = 0; k < 16 && !bad; k++) {
            if (cortex_slab_alloc(s, &c) != 0)
                _exit(2);
            for (int i = 0; i < 4; i++)
                bad |= cortex_handle_index(c) == cortex_handle_index(cached[i]);
            if (k < 15 && cortex_slab_free(s, c) != 0)
                _exit(3);
        }
        if (bad)
            _exit(4);
        _exit(write(fd[1], &c, sizeof c) == sizeof c ? 0 : 5); /* left allocated by the child */
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
    cortex_handle c;
    cr_assert_eq(read(fd[0], &c, sizeof c), (ssize_t)sizeof c);
    close(fd[0]);
    close(fd[1]);
    cr_assert_eq(cortex_slab_free(s, c), 0, "the child's slot, freed by the parent: %s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_free(s, c), -ESTALE);
    cortex_slab_stats sts;
    cr_assert_eq(cortex_slab_stats_get(s, &sts), 0);
    cr_assert_eq(sts.allocated, 0);
    cr_assert_eq(sts.free, SLOTS);
    cr_assert_eq(cortex_slab_magazine(s, 0), 0);
    assert_all_allocatable(s);
    cr_assert_eq(cortex_slab_close(s), 0);
}
