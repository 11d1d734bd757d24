/* SPDX-License-Identifier: MIT */
/*
 * A marked ring (per-slot empty marks) across processes: the parent creates
 * the segment as consumer, a forked child attaches by key as producer (the
 * scheme comes from the header), and 10 million sequence numbers move
 * through push/pop, push_n/pop_n with random batches, reserve/commit against
 * peek/release, and the *_wait calls; then -EPIPE once the producer closed.
 * Children report through their exit status; only the parent asserts.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"
#include "ring_seq.h"

TestSuite(ring_marks_mp, .fini = nct_cleanup, .timeout = 100);

static void marked_pair(enum seq_mode mode, uint64_t n)
{
    int key = nct_sysv_key();
    seq_ring c;
    /* UINT64_MAX means "empty": the numbers 0..n-1 never reach it */
    cr_assert_eq(cortex_ring_create_marked(&c.ring, CORTEX_KEY_SYSV(key), 1024, _Alignof(uint64_t), "uint64_t",
                                           UINT64_MAX, CORTEX_CONSUMER, NULL),
                 0, "%s", cortex_last_error()->message);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        seq_ring p;
        if (seq_ring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        if (!p.ring.marks)
            _exit(12);
        int rc = seq_produce(&p, n, mode, 91);
        seq_ring_close(&p);
        _exit(rc == 0 ? 0 : 11);
    }
    int rc = seq_consume(&c, n, mode, 92);
    int st = nct_wait(pid, 60000);
    cr_assert_eq(rc, 0, "consumer: %d", rc);
    cr_assert_eq(st, 0, "producer child exited %d", st);
    uint64_t v;
    cr_assert_eq(seq_ring_pop(&c, &v), -EPIPE, "after the producer closed and the ring drained");
    cr_assert_eq(seq_ring_close(&c), 0);
}

static uint64_t count(void) { return 10000000u * (uint64_t)nct_scale(); }

Test(ring_marks_mp, process_pair_single) { marked_pair(SEQ_SINGLE, count()); }
Test(ring_marks_mp, process_pair_random_batches) { marked_pair(SEQ_BATCH, count()); }
Test(ring_marks_mp, process_pair_reserve_commit) { marked_pair(SEQ_SPAN, count()); }
Test(ring_marks_mp, process_pair_wait) { marked_pair(SEQ_WAIT, count() / 10); }
