/* SPDX-License-Identifier: MIT */
/*
 * SPSC ring across processes: sequence numbers through a process pair (single,
 * batches, spans, waits; index, per-slot-marks and batch schemes), a sleeping pop_wait woken by another process, -EPIPE
 * after the producer closes or is SIGKILLed (also while the consumer sleeps),
 * a third process writing garbage into the indices, -EBUSY for a second
 * producer, and taking over the role of a killed producer.  Children report
 * through their exit status; only the parent asserts.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"
#include "ring/ring_layout.h"
#include "ring_seq.h"

TestSuite(ring_mp, .fini = nct_cleanup, .timeout = 100);

#define SEC INT64_C(1000000000)

static uint64_t pair_count(void)
{
    /* 10 M sequence numbers per pair (ASan included: this loop costs it little). */
    return 10000000u * (uint64_t)nct_scale();
}

/*
 * Parent: consumer (creates); child: producer (attaches by key, and learns
 * the scheme from the header).  Marks scheme: UINT64_MAX means "empty" (the
 * numbers 0..n-1 never reach it).  Batch scheme: the producer's close
 * publishes its last group.
 */
static void process_pair_scheme(enum seq_mode mode, uint64_t n, uint32_t scheme)
{
    int key = nct_sysv_key();
    seq_ring c;
    int rc = scheme == CORTEX_RING_SCHEME_MARKS
                 ? cortex_ring_create_marked(&c.ring, CORTEX_KEY_SYSV(key), 1024, _Alignof(uint64_t), "uint64_t",
                                             UINT64_MAX, CORTEX_CONSUMER, NULL)
             : scheme == CORTEX_RING_SCHEME_BATCH
                 ? cortex_ring_create_batched(&c.ring, CORTEX_KEY_SYSV(key), 1024, 8, _Alignof(uint64_t), "uint64_t",
                                              CORTEX_CONSUMER, NULL)
                 : seq_ring_create(&c, CORTEX_KEY_SYSV(key), 1024, CORTEX_CONSUMER, NULL);
    cr_assert_eq(rc, 0, "%s", cortex_last_error()->message);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        if (p.ring.marks != (scheme == CORTEX_RING_SCHEME_MARKS) || (p.ring.batch != 0) != (scheme == CORTEX_RING_SCHEME_BATCH))
            _exit(12);
        int rc = seq_produce(&p, n, mode, 77);
        seq_ring_close(&p);
        _exit(rc == 0 ? 0 : 11);
    }
    rc = seq_consume(&c, n, mode, 78);
    int st = nct_wait(pid, 60000);
    cr_assert_eq(rc, 0, "consumer: %d", rc);
    cr_assert_eq(st, 0, "producer child exited %d", st);
    uint64_t v;
    cr_assert_eq(seq_ring_pop(&c, &v), -EPIPE, "after the producer closed and the ring drained");
    cr_assert_eq(seq_ring_close(&c), 0);
}

static void process_pair(enum seq_mode mode, uint64_t n) { process_pair_scheme(mode, n, CORTEX_RING_SCHEME_INDEX); }

#define MARKS CORTEX_RING_SCHEME_MARKS
#define BATCH CORTEX_RING_SCHEME_BATCH
Test(ring_mp, marked_process_pair_single) { process_pair_scheme(SEQ_SINGLE, pair_count(), MARKS); }
Test(ring_mp, marked_process_pair_random_batches) { process_pair_scheme(SEQ_BATCH, pair_count(), MARKS); }
Test(ring_mp, marked_process_pair_reserve_commit) { process_pair_scheme(SEQ_SPAN, pair_count(), MARKS); }
Test(ring_mp, marked_process_pair_wait) { process_pair_scheme(SEQ_WAIT, pair_count() / 10, MARKS); }
Test(ring_mp, batched_process_pair_single) { process_pair_scheme(SEQ_SINGLE, pair_count(), BATCH); }
Test(ring_mp, batched_process_pair_random_batches) { process_pair_scheme(SEQ_BATCH, pair_count(), BATCH); }
Test(ring_mp, batched_process_pair_reserve_commit) { process_pair_scheme(SEQ_SPAN, pair_count(), BATCH); }
Test(ring_mp, batched_process_pair_wait) { process_pair_scheme(SEQ_WAIT, pair_count() / 10, BATCH); }

Test(ring_mp, process_pair_single) { process_pair(SEQ_SINGLE, pair_count()); }
Test(ring_mp, process_pair_random_batches) { process_pair(SEQ_BATCH, pair_count()); }
Test(ring_mp, process_pair_reserve_commit) { process_pair(SEQ_SPAN, pair_count()); }
Test(ring_mp, process_pair_wait) { process_pair(SEQ_WAIT, pair_count() / 10); }

/* Waits until the ring shows a sleeping consumer (its announcement), up to 5 s. */
static bool wait_for_sleeper(cortex_region *reg)
{
    for (int i = 0; i < 5000; i++) {
        cortex_ring_info info;
        if (cortex_ring_inspect(reg, &info) == 0 && info.cons_waiting)
            return true;
        usleep(1000);
    }
    return false;
}

Test(ring_mp, pop_wait_is_woken_by_a_push_from_another_process)
{
    int key = nct_sysv_key();
    seq_ring c;
    cr_assert_eq(seq_ring_create(&c, CORTEX_KEY_SYSV(key), 16, CORTEX_CONSUMER, NULL), 0);
    pid_t pid = fork();
    if (pid == 0) {
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        /* Push only once the consumer has announced that it sleeps in the futex. */
        if (!wait_for_sleeper(seq_ring_region(&p)))
            _exit(12);
        usleep(20000);
        if (seq_ring_push(&p, 4242) != 0)
            _exit(13);
        pause(); /* stay alive: the consumer must get the value, not -EPIPE */
        _exit(0);
    }
    uint64_t v = 0;
    int64_t t0 = nct_now_ms();
    int rc = seq_ring_pop_wait(&c, &v, 20 * SEC);
    int64_t dt = nct_now_ms() - t0;
    kill(pid, SIGKILL);
    int st = nct_wait(pid, 5000);
    cr_assert_eq(rc, 0, "pop_wait: %s", cortex_last_error()->message);
    cr_assert_eq(v, 4242);
    cr_assert_eq(st, 128 + SIGKILL, "child exited %d (10 attach, 12 never saw the sleeper)", st);
    cr_assert_lt(dt, 5000, "woken by the push, not by a timeout (%lld ms)", (long long)dt);
    seq_ring_close(&c);
}

Test(ring_mp, push_wait_is_woken_by_a_pop_from_another_process)
{
    int key = nct_sysv_key();
    seq_ring p;
    cr_assert_eq(seq_ring_create(&p, CORTEX_KEY_SYSV(key), 2, CORTEX_PRODUCER, NULL), 0);
    cr_assert_eq(seq_ring_push(&p, 1), 0);
    cr_assert_eq(seq_ring_push(&p, 2), 0);
    pid_t pid = fork();
    if (pid == 0) {
        seq_ring c;
        if (seq_ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL) != 0)
            _exit(10);
        usleep(100000);
        uint64_t v[3];
        for (int i = 0; i < 3; i++)
            if (seq_ring_pop_wait(&c, &v[i], 10 * SEC) != 0 || v[i] != (uint64_t)i + 1)
                _exit(20 + i);
        _exit(0);
    }
    int rc = seq_ring_push_wait(&p, 3, 20 * SEC);
    int st = nct_wait(pid, 20000);
    cr_assert_eq(rc, 0, "%s", cortex_last_error()->message);
    cr_assert_eq(st, 0, "child %d", st);
    seq_ring_close(&p);
}

/* The producer child pushes 3 values; then either closes or is killed. */
static void epipe_case(bool kill_it, bool consumer_sleeping)
{
    int key = nct_sysv_key();
    seq_ring c;
    cr_assert_eq(seq_ring_create(&c, CORTEX_KEY_SYSV(key), 16, CORTEX_CONSUMER, NULL), 0);
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[0]);
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        for (uint64_t i = 0; i < 3; i++)
            if (seq_ring_push(&p, i) != 0)
                _exit(11);
        if (write(go[1], "x", 1) != 1)
            _exit(12);
        if (!kill_it) {
            seq_ring_close(&p);
            _exit(0);
        }
        pause();
        _exit(0);
    }
    close(go[1]);
    char b;
    cr_assert_eq(read(go[0], &b, 1), 1);
    close(go[0]);
    uint64_t v;
    for (uint64_t i = 0; i < 3; i++) {
        cr_assert_eq(seq_ring_pop_wait(&c, &v, 5 * SEC), 0);
        cr_assert_eq(v, i);
    }
    pid_t killer = -1;
    if (kill_it && consumer_sleeping) {
        /* Kill the producer while we are asleep in pop_wait. */
        killer = fork();
        if (killer == 0) {
            usleep(150000);
            kill(pid, SIGKILL);
            _exit(0);
        }
    } else if (kill_it) {
        kill(pid, SIGKILL);
    }
    int64_t t0 = nct_now_ms();
    int rc = seq_ring_pop_wait(&c, &v, 30 * SEC);
    int64_t dt = nct_now_ms() - t0;
    int st = nct_wait(pid, 5000);
    if (killer > 0)
        nct_wait(killer, 5000);
    cr_assert_eq(rc, -EPIPE, "pop_wait returned %d: %s", rc, cortex_last_error()->message);
    cr_assert_lt(dt, 5000, "noticed within a bounded time (%lld ms)", (long long)dt);
    cr_assert_eq(st, kill_it ? 128 + SIGKILL : 0);
    cr_assert_eq(seq_ring_pop(&c, &v), -EPIPE);
    seq_ring_close(&c);
}

Test(ring_mp, epipe_after_producer_closes) { epipe_case(false, false); }
Test(ring_mp, epipe_after_producer_is_killed) { epipe_case(true, false); }
Test(ring_mp, epipe_when_producer_is_killed_while_consumer_sleeps) { epipe_case(true, true); }

Test(ring_mp, third_process_garbage_in_indices_is_ebadmsg)
{
    int key = nct_sysv_key();
    seq_ring c;
    cr_assert_eq(seq_ring_create(&c, CORTEX_KEY_SYSV(key), 64, CORTEX_CONSUMER, NULL), 0);
    pid_t prod = fork();
    if (prod == 0) {
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        for (uint64_t i = 0; i < 10; i++)
            if (seq_ring_push(&p, i) != 0)
                _exit(11);
        pause();
        _exit(0);
    }
    uint64_t v;
    for (uint64_t i = 0; i < 10; i++) {
        cr_assert_eq(seq_ring_pop_wait(&c, &v, 5 * SEC), 0);
        cr_assert_eq(v, i);
    }
    /* A third process maps the segment as raw bytes and scribbles over both indices. */
    pid_t vandal = fork();
    if (vandal == 0) {
        cortex_region *reg = NULL;
        cortex_layout any = {.kind = CORTEX_KIND_RING};
        if (cortex_region_attach(&reg, CORTEX_KEY_SYSV(key), &any, NULL) != 0)
            _exit(10);
        cortex_ring_shared *sh = cortex_region_payload(reg);
        __atomic_store_n((uint64_t *)&sh->prod, UINT64_C(0xdeadbeefdeadbeef), __ATOMIC_RELEASE);
        __atomic_store_n((uint64_t *)&sh->cons, UINT64_C(0x0123456789abcdef), __ATOMIC_RELEASE);
        cortex_region_leak(reg);
        _exit(0);
    }
    cr_assert_eq(nct_wait(vandal, 5000), 0);
    int rc = seq_ring_pop(&c, &v);
    cr_assert_eq(rc, -EBADMSG, "pop returned %d", rc);
    cr_assert(strstr(cortex_last_error()->message, "producer index"), "%s", cortex_last_error()->message);
    cr_assert_eq(seq_ring_pop_wait(&c, &v, SEC), -EBADMSG);
    uint64_t buf[64];
    cr_assert_eq(seq_ring_pop_n(&c, buf, 64), -EBADMSG);
    kill(prod, SIGKILL);
    nct_wait(prod, 5000);
    seq_ring_close(&c);
}

Test(ring_mp, second_producer_is_ebusy_and_a_dead_producer_is_taken_over)
{
    int key = nct_sysv_key();
    seq_ring c;
    cr_assert_eq(seq_ring_create(&c, CORTEX_KEY_SYSV(key), 64, CORTEX_CONSUMER, NULL), 0);
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t first = fork();
    if (first == 0) {
        close(go[0]);
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        for (uint64_t i = 0; i < 5; i++)
            if (seq_ring_push(&p, i) != 0)
                _exit(11);
        if (write(go[1], "x", 1) != 1)
            _exit(12);
        pause();
        _exit(0);
    }
    close(go[1]);
    char b;
    cr_assert_eq(read(go[0], &b, 1), 1);
    close(go[0]);
    /* A second producer in another process: -EBUSY naming the holder. */
    pid_t second = fork();
    if (second == 0) {
        seq_ring p;
        int rc = seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL);
        char want[32];
        snprintf(want, sizeof want, "pid %d", (int)first);
        _exit(rc == -EBUSY && strstr(cortex_last_error()->message, want) ? 0 : 20);
    }
    cr_assert_eq(nct_wait(second, 5000), 0);
    /* Kill the holder: its role can be taken over, and the stream goes on. */
    kill(first, SIGKILL);
    cr_assert_eq(nct_wait(first, 5000), 128 + SIGKILL);
    pid_t third = fork();
    if (third == 0) {
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(30);
        for (uint64_t i = 5; i < 10; i++)
            if (seq_ring_push(&p, i) != 0)
                _exit(31);
        seq_ring_close(&p);
        _exit(0);
    }
    cr_assert_eq(nct_wait(third, 5000), 0);
    uint64_t v;
    for (uint64_t i = 0; i < 10; i++) {
        cr_assert_eq(seq_ring_pop_wait(&c, &v, 5 * SEC), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(seq_ring_pop_wait(&c, &v, 5 * SEC), -EPIPE);
    seq_ring_close(&c);
}

Test(ring_mp, push_wait_gets_epipe_when_the_consumer_is_killed)
{
    int key = nct_sysv_key();
    seq_ring p;
    cr_assert_eq(seq_ring_create(&p, CORTEX_KEY_SYSV(key), 4, CORTEX_PRODUCER, NULL), 0);
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[0]);
        seq_ring c;
        if (seq_ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL) != 0)
            _exit(10);
        if (write(go[1], "x", 1) != 1)
            _exit(11);
        pause(); /* never pops */
        _exit(0);
    }
    close(go[1]);
    char b;
    cr_assert_eq(read(go[0], &b, 1), 1);
    close(go[0]);
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(seq_ring_push(&p, i), 0);
    /* The clock starts before the killer exists: the kill comes 150 ms later or more, however late
     * this process gets to its push_wait (a clock started after the fork could see the death early). */
    int64_t t0 = nct_now_ms();
    pid_t killer = fork();
    if (killer == 0) {
        usleep(150000); /* the producer is asleep in push_wait by now (most often) */
        kill(pid, SIGKILL);
        _exit(0);
    }
    int rc = seq_ring_push_wait(&p, 4, 30 * SEC);
    int64_t dt = nct_now_ms() - t0;
    nct_wait(killer, 5000);
    cr_assert_eq(nct_wait(pid, 5000), 128 + SIGKILL);
    cr_assert_eq(rc, -EPIPE, "push_wait returned %d: %s", rc, cortex_last_error()->message);
    cr_assert(dt >= 100 && dt < 5000, "noticed the death after it happened, within a bounded time (%lld ms)",
              (long long)dt);
    cr_assert_eq(seq_ring_push(&p, 5), -EPIPE, "a full ring with a dead consumer");
    seq_ring_close(&p);
}

/*
 * Batch scheme with 64-byte elements: the push writes each element with
 * non-temporal stores, which only the store fence before each publication
 * of prod orders (neocortex/ring.h, lib/ring/ring.c).  A small ring keeps it
 * full, so every publication path runs (group complete, full ring,
 * push_n, a sleeping consumer's wake, close), and the consumer checks all
 * eight words of every element, popping singly and in batches.
 */
typedef struct line64 {
    uint64_t w[8];
} line64;
CORTEX_SPSC_RING_DECLARE_BATCHED(line_ring, line64);

static line64 line_of(uint64_t i)
{
    line64 v;
    for (int q = 0; q < 8; q++)
        v.w[q] = i * 8 + (uint64_t)q;
    return v;
}

Test(ring_mp, batched_64_byte_elements_arrive_whole)
{
    int key = nct_sysv_key();
    const uint64_t n = 2000000u * (uint64_t)nct_scale();
    line_ring c;
    cr_assert_eq(line_ring_create(&c, CORTEX_KEY_SYSV(key), 64, CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        line_ring p;
        if (line_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        line64 buf[24];
        uint64_t i = 0, r = 12345;
        unsigned misses = 0;
        while (i < n) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            unsigned k = (unsigned)(r >> 60) % 24 + 1;
            if (k > n - i)
                k = (unsigned)(n - i);
            if (k < 4) { /* single pushes, waiting now and then so the consumer may sleep */
                line64 v = line_of(i);
                int rc = (r >> 40) % 16 == 0 ? line_ring_push_wait(&p, v, 10 * SEC) : line_ring_push(&p, v);
                if (rc == 0)
                    i++;
                else if (rc == -EAGAIN)
                    seq_backoff(&misses);
                else
                    _exit(11);
            } else {
                for (unsigned q = 0; q < k; q++)
                    buf[q] = line_of(i + q);
                ssize_t got = line_ring_push_n(&p, buf, k);
                if (got > 0)
                    i += (uint64_t)got;
                else if (got == -EAGAIN)
                    seq_backoff(&misses);
                else
                    _exit(12);
            }
        }
        line_ring_close(&p); /* publishes the last group */
        _exit(0);
    }
    uint64_t expect = 0, bad = 0;
    unsigned misses = 0;
    line64 out[32];
    while (expect < n) {
        ssize_t k;
        if (expect % 3 == 0) {
            int rc = line_ring_pop_wait(&c, &out[0], 10 * SEC);
            k = rc == 0 ? 1 : rc;
        } else {
            k = line_ring_pop_n(&c, out, 32);
        }
        if (k == -EAGAIN) {
            seq_backoff(&misses); /* empty: the producer may share our CPU, let it run */
            continue;
        }
        cr_assert_gt(k, 0, "pop: %zd (%s) after %llu", k, cortex_last_error()->message, (unsigned long long)expect);
        for (ssize_t q = 0; q < k; q++, expect++) {
            line64 want = line_of(expect);
            bad += memcmp(&out[q], &want, sizeof want) != 0;
        }
        cr_assert_eq(bad, 0, "element %llu arrived torn or stale", (unsigned long long)(expect - 1));
    }
    cr_assert_eq(nct_wait(pid, 60000), 0, "producer child failed");
    cr_assert_eq(line_ring_close(&c), 0);
}
