/* SPDX-License-Identifier: MIT */
/*
 * Waitset with peers SIGKILLed at random moments: the producers of four
 * rings push at random paces, one is killed at a random point (while it
 * pushes, or while it sleeps), and the waitset must report that ring gone
 * (-EPIPE) within a bounded time while the others keep flowing; a killed
 * consumer is reported on the producer's space side.  Every wait is bounded:
 * a hang fails the test instead of blocking it.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cortex_config.h" /* CORTEX_HAVE_FUTEX */
#include "nctest.h"
#include "ws_util.h"

TestSuite(waitset_crash, .fini = nct_cleanup, .timeout = 240);

#define NR 4

/*
 * Pushes forever (bounded: 20 s) at a random pace; dies with its parent.
 * Returns once the child holds the producer role: a child killed before it
 * attached leaves a ring that never had a producer, which is not "gone".
 */
static pid_t fork_pusher(int key, unsigned seed)
{
    ws_ring r;
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = ws_fork_producer(key, &r);
    if (pid != 0) {
        close(ready[1]);
        struct pollfd p = {.fd = ready[0], .events = POLLIN};
        char c;
        cr_assert_eq(poll(&p, 1, 10000), 1, "producer %d did not attach within 10 s", (int)pid);
        cr_assert_eq(read(ready[0], &c, 1), 1, "producer %d died before it attached", (int)pid);
        close(ready[0]);
        return pid;
    }
    close(ready[0]);
    if (write(ready[1], "a", 1) != 1)
        _exit(5);
    close(ready[1]);
    srand(seed);
    int64_t end = nct_now_ms() + 20000;
    for (uint64_t i = 0; nct_now_ms() < end; i++) {
        if (rand() % 4 == 0)
            usleep((useconds_t)(rand() % 3000));
        ws_ring_push_wait(&r, i, 100 * WS_MS);
    }
    _exit(0);
}

/* Waits (bounded) until ring @victim is reported gone, popping what the others send. */
static void expect_gone(cortex_waitset *ws, ws_ring *rings, int victim, int64_t limit_ms)
{
    int64_t start = nct_now_ms();
    cortex_waitset_event ev[NR];
    for (;;) {
        cr_assert_lt(nct_now_ms() - start, limit_ms, "ring %d not reported gone within %lld ms", victim,
                     (long long)limit_ms);
        int n = cortex_waitset_wait(ws, ev, NR, 5 * WS_SEC);
        cr_assert_gt(n, 0, "a wait with live producers timed out: %s", cortex_last_error()->message);
        for (int k = 0; k < n; k++) {
            int i = (int)ev[k].tag;
            if (ev[k].flags & CORTEX_WAITSET_GONE) {
                cr_assert_eq(i, victim, "ring %d reported gone, but %d was killed", i, victim);
                cr_assert_eq(ev[k].reason, -EPIPE);
                cr_assert_eq(cortex_waitset_remove(ws, (uint64_t)i), 0);
                return;
            }
            cr_assert_eq(ev[k].flags, CORTEX_WAITSET_READY);
            uint64_t v;
            while (ws_ring_pop(&rings[i], &v) == 0) {
            }
        }
    }
}

Test(waitset_crash, producers_killed_at_random_moments)
{
    int rounds = 4 * nct_scale();
    srand((unsigned)getpid());
    for (int round = 0; round < rounds; round++) {
        static ws_ring rings[NR];
        pid_t pids[NR];
        cortex_waitset *ws;
        cr_assert_eq(cortex_waitset_create(&ws), 0);
        for (int i = 0; i < NR; i++) {
            int key = nct_sysv_key();
            cr_assert_eq(ws_ring_create(&rings[i], CORTEX_KEY_SYSV(key), 8, CORTEX_CONSUMER, NULL), 0);
            cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&rings[i]), CORTEX_WAITSET_DATA, (uint64_t)i), 0);
            pids[i] = fork_pusher(key, (unsigned)rand());
            cr_assert_gt(pids[i], 0);
        }
        int order[NR] = {0, 1, 2, 3};
        for (int i = NR - 1; i > 0; i--) {
            int j = rand() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < NR; k++) {
            int victim = order[k];
            usleep((useconds_t)(rand() % 20000));
            kill(pids[victim], SIGKILL);
            cr_assert_eq(nct_wait(pids[victim], 10000), 128 + SIGKILL);
            /* The documented bound is CORTEX_WAITSET_NAP_NS (10 ms) after the death; allow a loaded host. */
            expect_gone(ws, rings, victim, 5000);
        }
        cortex_waitset_destroy(ws);
        for (int i = 0; i < NR; i++)
            cr_assert_eq(ws_ring_close(&rings[i]), 0);
    }
}

Test(waitset_crash, consumer_killed_while_the_producer_waits_for_room)
{
    int key = nct_sysv_key();
    ws_ring prod;
    cr_assert_eq(ws_ring_create(&prod, CORTEX_KEY_SYSV(key), 4, CORTEX_PRODUCER, NULL), 0);
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(ws_ring_push(&prod, i), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        ws_ring cons;
        if (ws_ring_attach(&cons, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL) != 0)
            _exit(3);
        for (;;)
            pause(); /* attached, never pops */
    }
    cortex_waitset *ws;
    cortex_waitset_event ev[1];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&prod), CORTEX_WAITSET_SPACE, 8), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 1, 50 * WS_MS), -ETIMEDOUT, "full, consumer alive");
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    int64_t t0 = nct_now_ms();
    cr_assert_eq(cortex_waitset_wait(ws, ev, 1, 5 * WS_SEC), 1);
    cr_assert_lt(nct_now_ms() - t0, 5000);
    cr_assert_eq(ev[0].tag, 8);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_GONE);
    cr_assert_eq(ev[0].reason, -EPIPE);
    cortex_waitset_destroy(ws);
    cr_assert_eq(ws_ring_close(&prod), 0);
}

static void die_holding_the_lock(uint64_t *value, void *ctx)
{
    (void)value;
    (void)ctx;
    raise(SIGKILL); /* inside the update: the cell's lock is held by a dead process */
}

/*
 * A futex cell whose writer died holding its lock is reported gone
 * (-EOWNERDEAD), not waited on forever.  (A semaphore cell's lock is
 * released by SEM_UNDO and an update's callback runs before the value's
 * sequence moves, so there a kill inside the callback leaves nothing to report.)
 */
Test(waitset_crash, cell_writer_killed_holding_the_lock)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    int key = nct_sysv_key();
    ws_cell c;
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &cortex_sync_futex;
    cr_assert_eq(ws_cell_create(&c, CORTEX_KEY_SYSV(key), 1, &o), 0);
    uint64_t v, seen;
    cr_assert_eq(ws_cell_read_version(&c, &v, &seen), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        ws_cell cc;
        if (ws_cell_attach(&cc, CORTEX_KEY_SYSV(key), NULL) != 0)
            _exit(3);
        ws_cell_update(&cc, die_holding_the_lock, NULL);
        _exit(4);
    }
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    cortex_waitset *ws;
    cortex_waitset_event ev[1];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_cell(ws, c.cell, seen, 5), 0);
    int64_t t0 = nct_now_ms();
    int n = cortex_waitset_wait(ws, ev, 1, 5 * WS_SEC);
    cr_assert_eq(n, 1, "%d: %s", n, cortex_last_error()->message);
    cr_assert_lt(nct_now_ms() - t0, 5000);
    cr_assert_eq(ev[0].tag, 5);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_GONE);
    cr_assert_eq(ev[0].reason, -EOWNERDEAD);
    cortex_waitset_destroy(ws);
    cr_assert_eq(ws_cell_write(&c, 2), 0, "the next write takes the lock over");
    cr_assert_eq(ws_cell_close(&c), 0);
}
