/* SPDX-License-Identifier: MIT */
/*
 * Waitset across processes: forked producers on eight rings (each event
 * names a ring that really has data, and every value arrives exactly once),
 * an exec'd producer, an fd written by a child next to a ring, and a cell
 * written by a child.  Children report through their exit status; only the
 * parent asserts.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/os.h"
#include "nctest.h"
#include "ws_util.h"

static void fini(void)
{
    cortex__os_force(CORTEX_OS_FORCE);
    nct_cleanup();
}

TestSuite(waitset_mp, .fini = fini, .timeout = 120);

#define NR 8

/* A forked producer: attaches to ring @key, pushes @n values @first.. with pauses, closes. */
static pid_t fork_producer(int key, int n, int delay_us, uint64_t first)
{
    ws_ring r;
    pid_t pid = ws_fork_producer(key, &r);
    if (pid != 0)
        return pid;
    for (int i = 0; i < n; i++) {
        usleep((useconds_t)delay_us);
        if (ws_ring_push_wait(&r, first + (uint64_t)i, 10 * WS_SEC) != 0)
            _exit(4);
    }
    _exit(ws_ring_close(&r) == 0 ? 0 : 5);
}

/*
 * Pops every reported ring until all @nr producers closed: each event must
 * name a ring with data (or a closed one), values arrive in order per ring.
 */
static void drain_all(cortex_waitset *ws, ws_ring *rings, int nr, int per_ring)
{
    int next[NR] = {0}, gone = 0;
    cortex_waitset_event ev[NR];
    while (gone < nr) {
        int n = cortex_waitset_wait(ws, ev, NR, 20 * WS_SEC);
        cr_assert_gt(n, 0, "%d: %s", n, cortex_last_error()->message);
        for (int k = 0; k < n; k++) {
            int i = (int)ev[k].tag;
            cr_assert(i >= 0 && i < nr);
            if (ev[k].flags & CORTEX_WAITSET_GONE) {
                cr_assert_eq(ev[k].reason, -EPIPE);
                cr_assert_eq(next[i], per_ring, "ring %d gone after %d of %d values", i, next[i], per_ring);
                cr_assert_eq(cortex_waitset_remove(ws, (uint64_t)i), 0);
                gone++;
                continue;
            }
            cr_assert_eq(ev[k].flags, CORTEX_WAITSET_READY);
            uint64_t v;
            cr_assert_eq(ws_ring_pop(&rings[i], &v), 0, "ring %d was reported ready", i);
            cr_assert_eq(v, (uint64_t)i * 1000 + (uint64_t)next[i]);
            next[i]++;
            while (ws_ring_pop(&rings[i], &v) == 0) {
                cr_assert_eq(v, (uint64_t)i * 1000 + (uint64_t)next[i]);
                next[i]++;
            }
        }
    }
}

static void forked_producers(int per_ring)
{
    static ws_ring rings[NR];
    cortex_waitset *ws;
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    pid_t pids[NR];
    int keys[NR];
    for (int i = 0; i < NR; i++) {
        keys[i] = nct_sysv_key();
        cr_assert_eq(ws_ring_create(&rings[i], CORTEX_KEY_SYSV(keys[i]), 16, CORTEX_CONSUMER, NULL), 0);
        cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&rings[i]), CORTEX_WAITSET_DATA, (uint64_t)i), 0);
    }
    for (int i = 0; i < NR; i++) {
        pids[i] = fork_producer(keys[i], per_ring, 200 + 300 * i, (uint64_t)i * 1000);
        cr_assert_gt(pids[i], 0);
    }
    drain_all(ws, rings, NR, per_ring);
    for (int i = 0; i < NR; i++)
        cr_assert_eq(nct_wait(pids[i], 20000), 0, "producer %d", i);
    cortex_waitset_destroy(ws);
    for (int i = 0; i < NR; i++)
        cr_assert_eq(ws_ring_close(&rings[i]), 0);
}

Test(waitset_mp, eight_forked_producers_right_ring_reported) { forked_producers(200); }

Test(waitset_mp, eight_forked_producers_fallback)
{
    cortex__os_force(CORTEX__OS_NO_FUTEX_WAITV);
    forked_producers(50);
}

/* An exec'd producer (a new image, not a fork) wakes the waitset and closes. */
Test(waitset_mp, execd_producer)
{
    int key = nct_sysv_key();
    ws_ring r;
    cr_assert_eq(ws_ring_create(&r, CORTEX_KEY_SYSV(key), 16, CORTEX_CONSUMER, NULL), 0);
    cortex_waitset *ws;
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_DATA, 0), 0);
    char skey[32];
    snprintf(skey, sizeof skey, "%d", key);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl(nct_helper_path("ws-peer"), "ws-peer", skey, "20", "2000", "0", (char *)NULL);
        _exit(127);
    }
    drain_all(ws, &r, 1, 20);
    cr_assert_eq(nct_wait(pid, 20000), 0);
    cortex_waitset_destroy(ws);
    cr_assert_eq(ws_ring_close(&r), 0);
}

/* A child writes a pipe and a cell; the waitset (ring + fd + cell) reports each with its own tag. */
Test(waitset_mp, fd_and_cell_sources_from_a_child)
{
    int key = nct_sysv_key();
    ws_ring r;
    void *mem;
    cr_assert_eq(ws_raw_ring(&r, 8, &mem), 0);
    ws_cell c;
    cr_assert_eq(ws_cell_create(&c, CORTEX_KEY_SYSV(key), 0, NULL), 0);
    uint64_t v, seen;
    cr_assert_eq(ws_cell_read_version(&c, &v, &seen), 0);
    int p[2], go[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(pipe(go), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[4];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_DATA, 1), 0);
    cr_assert_eq(cortex_waitset_add_fd(ws, p[0], POLLIN, 2), 0);
    cr_assert_eq(cortex_waitset_add_cell(ws, c.cell, seen, 3), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(go[1]); /* a parent gone before its go: end of file, not a read that waits for good */
        close(p[0]);
        usleep(20000); /* most often the parent sleeps in its wait by now (either way is right) */
        if (write(p[1], "x", 1) != 1)
            _exit(3);
        /* The cell only once the parent has taken the fd's event: a parent that reached its first wait
         * late (a loaded host) would otherwise find both ready at once. */
        char g;
        if (read(go[0], &g, 1) != 1)
            _exit(5);
        usleep(20000);
        ws_cell cc;
        if (ws_cell_attach(&cc, CORTEX_KEY_SYSV(key), NULL) != 0 || ws_cell_write(&cc, 42) != 0)
            _exit(4);
        ws_cell_close(&cc);
        _exit(0);
    }
    int n = cortex_waitset_wait(ws, ev, 4, 20 * WS_SEC);
    cr_assert_eq(n, 1);
    cr_assert_eq(ev[0].tag, 2, "the fd first");
    char ch;
    cr_assert_eq(read(p[0], &ch, 1), 1);
    cr_assert_eq(write(go[1], "g", 1), 1);
    n = cortex_waitset_wait(ws, ev, 4, 20 * WS_SEC);
    cr_assert_eq(n, 1);
    cr_assert_eq(ev[0].tag, 3, "then the cell");
    cr_assert_eq(ws_cell_read_version(&c, &v, &seen), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(ev[0].version, seen);
    cr_assert_eq(nct_wait(pid, 20000), 0);
    cortex_waitset_destroy(ws);
    close(p[0]);
    close(p[1]);
    close(go[0]);
    close(go[1]);
    cr_assert_eq(ws_cell_close(&c), 0);
    free(mem);
}
