/* SPDX-License-Identifier: MIT */
/*
 * Waitset, one process: arguments and limits, each source kind reported
 * ready (ring data and space, broadcast reader, cell version, doorbell, fd),
 * peers gone, hostile ring and broadcast words (-EBADMSG for that source
 * only), a sleeping wait woken by another thread through futex_waitv and
 * through the forced fallback, pushes that land while the waiter spins (every
 * ring scheme), and the fd for poll loops.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "os/os.h"
#include "nctest.h"
#include "ws_util.h"

static void fini(void)
{
    cortex__os_force(CORTEX_OS_FORCE);
    nct_cleanup();
}

TestSuite(waitset, .timeout = 60, .fini = fini);

Test(waitset, bad_arguments_and_limits)
{
    cortex_waitset *ws = NULL;
    cortex_waitset_event ev[4];
    cr_assert_eq(cortex_waitset_create(NULL), -EINVAL);
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 4, 0), -EINVAL, "an empty set would sleep forever");
    cr_assert_eq(cortex_waitset_add_fd(ws, -1, POLLIN, 1), -EBADF);
    cr_assert_eq(cortex_waitset_add_fd(ws, 0, 0, 1), -EINVAL);
    cr_assert_eq(cortex_waitset_add_ring(ws, NULL, CORTEX_WAITSET_DATA, 1), -EINVAL);
    cr_assert_eq(cortex_waitset_add_cell(ws, NULL, 0, 1), -EINVAL);
    cr_assert_eq(cortex_waitset_add_broadcast(ws, NULL, 1), -EINVAL);
    cr_assert_eq(cortex_waitset_add_doorbell(ws, NULL, 1), -EINVAL);
    ws_ring r;
    void *mem;
    cr_assert_eq(ws_raw_ring(&r, 8, &mem), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), 7, 1), -EINVAL, "what is DATA or SPACE");
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_DATA, 1), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_SPACE, 1), -EEXIST);
    cr_assert_eq(cortex_waitset_remove(ws, 99), -ENOENT);
    cr_assert_eq(cortex_waitset_remove(NULL, 1), -EINVAL);
    cr_assert_eq(cortex_waitset_wait(NULL, ev, 4, 0), -EINVAL);
    cr_assert_eq(cortex_waitset_wait(ws, NULL, 4, 0), -EINVAL);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 0, 0), -EINVAL);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 4, 0), -ETIMEDOUT, "empty ring, timeout 0");
    cr_assert_eq(cortex_waitset_wait(ws, ev, 4, 2 * WS_MS), -ETIMEDOUT);
    cr_assert_eq(cortex_waitset_remove(ws, 1), 0);
    for (unsigned i = 0; i < CORTEX_WAITSET_MAX_SOURCES; i++)
        cr_assert_eq(cortex_waitset_add_fd(ws, 0, POLLIN, 1000 + i), 0);
    cr_assert_eq(cortex_waitset_add_fd(ws, 0, POLLIN, 5), -ENOSPC);
    cr_assert_eq(cortex_waitset_remove(ws, 1000 + 17), 0);
    cr_assert_eq(cortex_waitset_add_fd(ws, 0, POLLIN, 5), 0, "room again after a remove");
    cortex_waitset_destroy(ws);
    cortex_waitset_destroy(NULL);
    free(mem);
}

Test(waitset, ring_data_and_space)
{
    ws_ring r;
    void *mem;
    cr_assert_eq(ws_raw_ring(&r, 4, &mem), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[4];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_DATA, 11), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_SPACE, 22), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 4, 0), 1, "empty: room only");
    cr_assert_eq(ev[0].tag, 22);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY);
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(ws_ring_push(&r, i), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 4, 0), 1, "full: data only");
    cr_assert_eq(ev[0].tag, 11);
    uint64_t v;
    cr_assert_eq(ws_ring_pop(&r, &v), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 4, 0), 2, "both");
    cr_assert_eq(ev[0].tag, 11, "in the order added");
    cr_assert_eq(ev[1].tag, 22);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 1, 0), 1, "max caps the count");
    cortex_waitset_destroy(ws);
    free(mem);
}

Test(waitset, cell_reports_each_version_once)
{
    ws_cell c;
    cr_assert_eq(ws_cell_create(&c, CORTEX_KEY_SYSV(nct_sysv_key()), 5, NULL), 0);
    uint64_t v, seen;
    cr_assert_eq(ws_cell_read_version(&c, &v, &seen), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_cell(ws, c.cell, seen, 7), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), -ETIMEDOUT);
    cr_assert_eq(ws_cell_write(&c, 6), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), 1);
    cr_assert_eq(ev[0].tag, 7);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY);
    cr_assert_gt(ev[0].version, seen);
    cr_assert_eq(ws_cell_read_version(&c, &v, &seen), 0);
    cr_assert_eq(ev[0].version, seen, "the version reported is the one a read sees");
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), -ETIMEDOUT, "reported once");
    cortex_waitset_destroy(ws);
    cr_assert_eq(ws_cell_close(&c), 0);
}

/*
 * The fd's first arming looks at the sources before it sleeps; a cell
 * version that look finds must still be reported by the caller's wait
 * (an arming that counted it as reported lost the cell's last write).
 */
Test(waitset, cell_version_found_while_arming_the_fd_is_still_reported)
{
    ws_cell c;
    cr_assert_eq(ws_cell_create(&c, CORTEX_KEY_SYSV(nct_sysv_key()), 5, NULL), 0);
    uint64_t v, seen;
    cr_assert_eq(ws_cell_read_version(&c, &v, &seen), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_cell(ws, c.cell, seen, 7), 0);
    cr_assert_eq(ws_cell_write(&c, 6), 0);
    int fd = cortex_waitset_fd(ws); /* arms the watcher: its look finds the new version */
    cr_assert_geq(fd, 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1, "the fd is readable: a source is ready");
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), 1, "%s", cortex_last_error()->message);
    cr_assert_eq(ev[0].tag, 7);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY);
    cr_assert_gt(ev[0].version, seen);
    cortex_waitset_destroy(ws);
    cr_assert_eq(ws_cell_close(&c), 0);
}

Test(waitset, broadcast_reader_and_writer_gone)
{
    ws_bc w, rd;
    unsigned char *m = ws_raw_bc(&w, &rd, CORTEX_BROADCAST_LOSSLESS);
    cr_assert_not_null(m);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_broadcast(ws, ws_bc_core(&w), 1), -EINVAL, "a writer is not a reader");
    cr_assert_eq(cortex_waitset_add_broadcast(ws, ws_bc_core(&rd), 3), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_MS), -ETIMEDOUT);
    cr_assert_eq(ws_bc_push(&w, 42), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), 1);
    cr_assert_eq(ev[0].tag, 3);
    uint64_t v;
    cr_assert_eq(ws_bc_pop(&rd, &v), 0);
    cr_assert_eq(ws_bc_close(&w), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_SEC), 1);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_GONE);
    cr_assert_eq(ev[0].reason, -EPIPE);
    cortex_waitset_destroy(ws);
    ws_bc_close(&rd);
    free(m);
}

Test(waitset, doorbell_rung_and_peer_gone)
{
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_doorbell(ws, &b, 9), 0);
    cr_assert_eq(cortex_waitset_add_doorbell(ws, &b, 9), -EEXIST);
    /* A new end is readable once (the pair's setup message, as in a plain poll loop): a drain finds no ring. */
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), 1);
    cr_assert_eq(cortex_doorbell_drain(&b), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_MS), -ETIMEDOUT);
    cr_assert_eq(cortex_doorbell_signal(&a), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_SEC), 1);
    cr_assert_eq(ev[0].tag, 9);
    cr_assert(ev[0].flags & CORTEX_WAITSET_READY);
    cr_assert_geq(cortex_doorbell_drain(&b), 1);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), -ETIMEDOUT, "drained");
    cortex_doorbell_close(&a);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_SEC), 1);
    cr_assert(ev[0].flags & CORTEX_WAITSET_GONE);
    cr_assert_eq(ev[0].reason, -EPIPE);
    cortex_waitset_destroy(ws);
    cortex_doorbell_close(&b);
}

Test(waitset, fd_source_revents_and_hangup)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_fd(ws, p[0], POLLIN, 5), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_MS), -ETIMEDOUT);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_SEC), 1);
    cr_assert_eq(ev[0].tag, 5);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY);
    cr_assert(ev[0].revents & POLLIN);
    close(p[1]);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_SEC), 1);
    cr_assert(ev[0].flags & CORTEX_WAITSET_GONE, "hang-up");
    cr_assert(ev[0].revents & POLLHUP);
    cr_assert_eq(cortex_waitset_remove(ws, 5), 0);
    close(p[0]);
    cortex_waitset_destroy(ws);
}

Test(waitset, hostile_ring_and_broadcast_words_are_ebadmsg_for_that_source)
{
    ws_ring good, bad;
    void *gm, *bm;
    cr_assert_eq(ws_raw_ring(&good, 8, &gm), 0);
    cr_assert_eq(ws_raw_ring(&bad, 8, &bm), 0);
    ws_bc w, rd;
    unsigned char *m = ws_raw_bc(&w, &rd, CORTEX_BROADCAST_LOSSY);
    cr_assert_not_null(m);
    cortex_waitset *ws;
    cortex_waitset_event ev[4];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&good), CORTEX_WAITSET_DATA, 1), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&bad), CORTEX_WAITSET_DATA, 2), 0);
    cr_assert_eq(cortex_waitset_add_broadcast(ws, ws_bc_core(&rd), 3), 0);
    /* A hostile producer index: far more than the capacity ahead. */
    uint64_t huge = UINT64_C(1) << 40;
    memcpy((unsigned char *)bm + CORTEX_RING_OFF_PROD, &huge, 8);
    /* A hostile writer head: far below the reader. */
    uint64_t back = UINT64_C(0) - 1000;
    memcpy(m + 64, &back, 8);
    cr_assert_eq(ws_ring_push(&good, 1), 0);
    int n = cortex_waitset_wait(ws, ev, 4, WS_SEC);
    cr_assert_eq(n, 3);
    cr_assert_eq(ev[0].tag, 1);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY, "the sound ring is still reported");
    cr_assert_eq(ev[1].tag, 2);
    cr_assert_eq(ev[1].flags, CORTEX_WAITSET_ERROR);
    cr_assert_eq(ev[1].reason, -EBADMSG);
    cr_assert_eq(ev[2].tag, 3);
    cr_assert_eq(ev[2].reason, -EBADMSG);
    uint64_t v;
    cr_assert_eq(ws_ring_pop(&bad, &v), -EBADMSG, "the ring's own pop agrees");
    cortex_waitset_destroy(ws);
    free(gm);
    free(bm);
    free(m);
}

/*
 * The waitset's fd shows nothing ready for 20 ms.  It may turn readable
 * without an event (the watcher's liveness nap, or a descheduled test on a
 * loaded host): then a look must find nothing.
 */
static bool fd_quiet(cortex_waitset *ws, struct pollfd *pfd)
{
    if (poll(pfd, 1, 20) == 0)
        return true;
    cortex_waitset_event ev[1];
    return cortex_waitset_wait(ws, ev, 1, 0) == -ETIMEDOUT;
}

/* A raw ring (tag 1) and a pipe's read end (tag 2) in a new waitset. */
static cortex_waitset *ring_and_pipe(ws_ring *r, void **mem, int p[2])
{
    cortex_waitset *ws;
    cr_assert_eq(ws_raw_ring(r, 8, mem), 0);
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(r), CORTEX_WAITSET_DATA, 1), 0);
    cr_assert_eq(cortex_waitset_add_fd(ws, p[0], POLLIN, 2), 0);
    return ws;
}

/* ---- sleeping waits woken by another thread -------------------------------- */

struct pusher {
    ws_ring *ring;
    int delay_ms;
};

static void *push_later(void *arg)
{
    struct pusher *p = arg;
    ws_sleep_ms(p->delay_ms);
    ws_ring_push(p->ring, 77);
    return NULL;
}

/* 64 rings, one thread pushes into ring @which after a while: exactly that one is reported. */
static const char *wake_one_of_64(int which)
{
    static ws_ring rings[64];
    void *mem[64];
    cortex_waitset *ws;
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    for (int i = 0; i < 64; i++) {
        cr_assert_eq(ws_raw_ring(&rings[i], 8, &mem[i]), 0);
        cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&rings[i]), CORTEX_WAITSET_DATA, 100 + i), 0);
    }
    struct pusher p = {&rings[which], 30};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, push_later, &p), 0);
    cortex_waitset_event ev[64];
    int n = cortex_waitset_wait(ws, ev, 64, 10 * WS_SEC);
    pthread_join(t, NULL);
    cr_assert_eq(n, 1, "%d: %s", n, cortex_last_error()->message);
    cr_assert_eq(ev[0].tag, (uint64_t)(100 + which));
    const char *mech = cortex_waitset_mechanism(ws);
    cortex_waitset_destroy(ws);
    for (int i = 0; i < 64; i++) {
        uint64_t v;
        cr_assert_eq(ws_ring_pop(&rings[i], &v), i == which ? 0 : -EAGAIN);
        free(mem[i]);
    }
    return mech;
}

static bool have_futex_waitv(void)
{
    cortex__a32 w = 0;
    cortex__a32 *words[1] = {&w};
    uint32_t vals[1] = {1};
    return cortex__os_futex_waitv(words, vals, 1, 0) != -ENOSYS; /* value differs: -EAGAIN at once */
}

Test(waitset, one_of_64_rings_wakes_futex_waitv)
{
    if (!have_futex_waitv())
        cr_skip_test("no futex_waitv on this kernel (before 5.16)");
    cr_assert_str_eq(wake_one_of_64(37), "futex_waitv");
}

Test(waitset, one_of_64_rings_wakes_fallback)
{
    cortex__os_force(CORTEX__OS_NO_FUTEX_WAITV);
    cr_assert_str_eq(wake_one_of_64(5), "sleep");
}

Test(waitset, mixed_fd_and_ring_fallback_poll)
{
    ws_ring r;
    void *mem;
    int p[2];
    cortex_waitset *ws = ring_and_pipe(&r, &mem, p);
    cortex_waitset_event ev[2];
    struct pusher pu = {&r, 20};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, push_later, &pu), 0);
    int n = cortex_waitset_wait(ws, ev, 2, 10 * WS_SEC);
    pthread_join(t, NULL);
    cr_assert_eq(n, 1);
    cr_assert_eq(ev[0].tag, 1);
    cr_assert_str_eq(cortex_waitset_mechanism(ws), "poll");
    cortex_waitset_destroy(ws);
    close(p[0]);
    close(p[1]);
    free(mem);
}

Test(waitset, fd_for_poll_loops)
{
    ws_ring r;
    void *mem;
    cr_assert_eq(ws_raw_ring(&r, 8, &mem), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_fd(NULL), -EINVAL);
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&r), CORTEX_WAITSET_DATA, 4), 0);
    int fd = cortex_waitset_fd(ws);
    cr_assert_geq(fd, 0);
    cr_assert_eq(cortex_waitset_fd(ws), fd, "one fd per waitset");
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    cr_assert(fd_quiet(ws, &pfd), "nothing ready: not readable");
    struct pusher pu = {&r, 20};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, push_later, &pu), 0);
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "a push makes it readable");
    pthread_join(t, NULL);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), 1);
    cr_assert_eq(ev[0].tag, 4);
    cr_assert_eq(poll(&pfd, 1, 0), 1, "still readable while a call reports events");
    uint64_t v;
    cr_assert_eq(ws_ring_pop(&r, &v), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), -ETIMEDOUT);
    cr_assert(fd_quiet(ws, &pfd), "re-armed: not readable");
    cr_assert_eq(ws_ring_push(&r, 5), 0);
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "readable again");
    cortex_waitset_destroy(ws);
    free(mem);
}

Test(waitset, closed_producer_is_gone_after_drain)
{
    int key = nct_sysv_key();
    ws_ring prod, cons;
    cr_assert_eq(ws_ring_create(&cons, CORTEX_KEY_SYSV(key), 8, CORTEX_CONSUMER, NULL), 0);
    cr_assert_eq(ws_ring_attach(&prod, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL), 0);
    cortex_waitset *ws;
    cortex_waitset_event ev[2];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&prod), CORTEX_WAITSET_DATA, 1), -EINVAL,
                 "a producer has no data side");
    cr_assert_eq(cortex_waitset_add_ring(ws, ws_ring_core(&cons), CORTEX_WAITSET_DATA, 1), 0);
    cr_assert_eq(ws_ring_push(&prod, 1), 0);
    cr_assert_eq(ws_ring_close(&prod), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, 0), 1);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY, "what it pushed before closing comes first");
    uint64_t v;
    cr_assert_eq(ws_ring_pop(&cons, &v), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 2, WS_SEC), 1);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_GONE);
    cr_assert_eq(ev[0].reason, -EPIPE);
    cortex_waitset_destroy(ws);
    cr_assert_eq(ws_ring_close(&cons), 0);
}

Test(waitset, fd_for_poll_loops_with_fd_sources_and_adds_while_armed)
{
    ws_ring r;
    void *mem;
    int p[2];
    cortex_waitset *ws = ring_and_pipe(&r, &mem, p);
    cortex_waitset_event ev[40];
    struct pollfd pfd = {.fd = cortex_waitset_fd(ws), .events = POLLIN};
    cr_assert_geq(pfd.fd, 0);
    cr_assert(fd_quiet(ws, &pfd), "nothing ready");
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "the watcher saw the fd");
    cr_assert_eq(cortex_waitset_wait(ws, ev, 40, 0), 1);
    cr_assert_eq(ev[0].tag, 2);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 40, 0), -ETIMEDOUT, "re-armed");
    for (uint64_t t = 10; t < 40; t++) /* grows the arrays while the watcher polls */
        cr_assert_eq(cortex_waitset_add_fd(ws, p[0], POLLIN, t), 0);
    cr_assert(fd_quiet(ws, &pfd), "still nothing ready");
    cr_assert_eq(ws_ring_push(&r, 3), 0);
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "a push wakes it (the ring is seen within a slice)");
    cr_assert_eq(cortex_waitset_wait(ws, ev, 40, 0), 1);
    cr_assert_eq(ev[0].tag, 1);
    cortex_waitset_destroy(ws);
    close(p[0]);
    close(p[1]);
    free(mem);
}

/* ---- the spin phase: a push while the waiter spins ------------------------- */

#define SPIN_RINGS 48 /* 16 of each publication scheme: each has its own word the spin watches */
#define SPIN_ROUNDS 400

struct spin_pusher {
    cortex_ring *rings;
    _Atomic uint32_t round; /* main -> pusher: push for this round (0: none yet) */
    _Atomic uint32_t done;  /* pusher -> main: the last round it pushed */
    _Atomic int failed;     /* the push that failed (asserts belong to the main thread) */
    uint32_t which[SPIN_ROUNDS + 1];
};

static void *spin_push(void *arg)
{
    struct spin_pusher *p = arg;
    for (uint32_t r = 1; r <= SPIN_ROUNDS; r++) {
        for (unsigned n = 1; atomic_load_explicit(&p->round, memory_order_acquire) != r; n++)
            if (n % 64 == 0)
                sched_yield(); /* the main thread may share our CPU */
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long wait_ns = (long)(r % 8) * 1000; /* 0-7 us: most pushes land while the waiter spins */
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < wait_ns);
        uint64_t v = r;
        cortex_ring *ring = &p->rings[p->which[r]];
        if (cortex_ring_push(ring, &v) != 0 || cortex_ring_flush(ring) != 0)
            atomic_store(&p->failed, (int)r);
        atomic_store_explicit(&p->done, r, memory_order_release);
    }
    return NULL;
}

Test(waitset, pushes_during_the_spin_phase_name_the_right_ring_in_every_scheme)
{
    static cortex_ring rings[SPIN_RINGS];
    void *mem[SPIN_RINGS];
    size_t len = cortex_ring_required_size(16, 8);
    cortex_waitset *ws;
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    for (int i = 0; i < SPIN_RINGS; i++) {
        mem[i] = aligned_alloc(64, (len + 63) & ~(size_t)63);
        cr_assert_not_null(mem[i]);
        memset(mem[i], 0, len);
        int rc = i % 3 == 0   ? cortex_ring_init(&rings[i], mem[i], len, 16, 8, 8)
                 : i % 3 == 1 ? cortex_ring_init_marked(&rings[i], mem[i], len, 16, 8, UINT64_MAX)
                              : cortex_ring_init_batched(&rings[i], mem[i], len, 16, 8, 8);
        cr_assert_eq(rc, 0, "%s", cortex_last_error()->message);
        cr_assert_eq(cortex_waitset_add_ring(ws, &rings[i], CORTEX_WAITSET_DATA, 1000 + (uint64_t)i), 0);
    }
    static struct spin_pusher p;
    memset(&p, 0, sizeof p);
    p.rings = rings;
    unsigned seed = (unsigned)getpid();
    for (int r = 1; r <= SPIN_ROUNDS; r++)
        p.which[r] = (uint32_t)rand_r(&seed) % SPIN_RINGS;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, spin_push, &p), 0);
    for (uint32_t r = 1; r <= SPIN_ROUNDS; r++) {
        atomic_store_explicit(&p.round, r, memory_order_release);
        cortex_waitset_event ev[SPIN_RINGS];
        int n = cortex_waitset_wait(ws, ev, SPIN_RINGS, 10 * WS_SEC);
        cr_assert_eq(atomic_load(&p.failed), 0, "the push of round %d failed", atomic_load(&p.failed));
        cr_assert_eq(n, 1, "round %u: %d: %s", r, n, cortex_last_error()->message);
        cr_assert_eq(ev[0].flags, CORTEX_WAITSET_READY);
        cr_assert_eq(ev[0].tag, 1000 + (uint64_t)p.which[r], "round %u: ring %llu reported, %u pushed", r,
                     (unsigned long long)(ev[0].tag - 1000), p.which[r]);
        uint64_t v = 0;
        cr_assert_eq(cortex_ring_pop(&rings[p.which[r]], &v), 0);
        cr_assert_eq(v, r);
        for (unsigned k = 1; atomic_load_explicit(&p.done, memory_order_acquire) != r; k++)
            if (k % 64 == 0)
                sched_yield(); /* the pusher may share our CPU */
    }
    pthread_join(t, NULL);
    /* Two rings filled before the wait: one call may report one of them, the next the other. */
    uint64_t v = 9;
    cr_assert_eq(cortex_ring_push(&rings[3], &v), 0);
    cr_assert_eq(cortex_ring_push(&rings[40], &v), 0);
    cr_assert_eq(cortex_ring_flush(&rings[40]), 0);
    bool seen3 = false, seen40 = false;
    for (int call = 0; call < 2 && !(seen3 && seen40); call++) {
        cortex_waitset_event ev[SPIN_RINGS];
        int n = cortex_waitset_wait(ws, ev, SPIN_RINGS, WS_SEC);
        cr_assert_gt(n, 0);
        for (int i = 0; i < n; i++) {
            seen3 |= ev[i].tag == 1003;
            seen40 |= ev[i].tag == 1040;
        }
        if (seen3 && seen40)
            break;
        cr_assert_eq(cortex_ring_pop(&rings[seen3 ? 3 : 40], &v), 0);
    }
    cr_assert(seen3 && seen40);
    cortex_waitset_destroy(ws);
    for (int i = 0; i < SPIN_RINGS; i++) {
        cortex_ring_close(&rings[i]);
        free(mem[i]);
    }
}
