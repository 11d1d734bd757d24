/* SPDX-License-Identifier: MIT */
/*
 * Broadcast ring across processes: one writer, four reader processes.
 * Lossless: every reader receives every element in order, by pop_wait and
 * by batches, then -EPIPE after the writer closes.  Lossy: a writer that
 * never waits, readers that fall behind: every element a reader returns is
 * whole (never torn) and in order, and received + missed == published.
 * Readers join and leave while the writer runs.  Children report through
 * their exit status; only the parent asserts.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bc_test_util.h"
#include "nctest.h"

TestSuite(broadcast_mp, .fini = nct_cleanup, .timeout = 120);

#define SEC INT64_C(1000000000)

/* A reader child: joins, reads until -EPIPE, checks order and wholeness; exit code 0 on success. */
static int reader_child(int key, uint64_t n, bool lossy, bool batches)
{
    elem_bc r;
    if (elem_bc_join(&r, CORTEX_KEY_SYSV(key), CORTEX_BROADCAST_NEWEST, NULL) != 0)
        return 10;
    uint64_t next = 0, got = 0; /* next: the lowest sequence number still acceptable */
    bc_elem buf[16];
    for (;;) {
        ssize_t k = batches ? elem_bc_pop_n(&r, buf, 16) : -EAGAIN;
        if (k == -EAGAIN) {
            int rc = elem_bc_pop_wait(&r, buf, 5 * SEC);
            k = rc == 0 ? 1 : rc;
        }
        if (k == -EPIPE)
            break;
        if (k == -EOVERFLOW && lossy)
            continue; /* lapped: the next element is a later one */
        if (k < 0)
            return 11;
        for (ssize_t i = 0; i < k; i++) {
            uint64_t s = bc_check(&buf[i]);
            if (s == UINT64_MAX)
                return 12; /* torn */
            if (s < next || (!lossy && s != next))
                return 13; /* out of order, or lost in lossless mode */
            next = s + 1;
            got++;
        }
    }
    if (!lossy && (got != n || elem_bc_missed(&r) != 0))
        return 15;
    if (lossy && got + elem_bc_missed(&r) != n)
        return 16;
    elem_bc_close(&r);
    return 0;
}

static void fan_out(unsigned flags, bool batches, uint64_t n)
{
    int key = nct_sysv_key();
    elem_bc w;
    cr_assert_eq(elem_bc_create(&w, CORTEX_KEY_SYSV(key), 256, 4, flags, NULL), 0, "%s", cortex_last_error()->message);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        cr_assert_neq(kids[i], -1);
        if (kids[i] == 0)
            _exit(reader_child(key, n, flags == CORTEX_BROADCAST_LOSSY, batches));
    }
    cr_assert(bc_wait_readers(&w, 4), "the four readers joined");
    bc_elem chunk[32];
    for (uint64_t s = 0; s < n;) {
        if (batches) {
            uint64_t k = n - s < 32 ? n - s : 32;
            for (uint64_t i = 0; i < k; i++)
                chunk[i] = bc_make(s + i);
            ssize_t m = elem_bc_push_n(&w, chunk, k);
            if (m == -EAGAIN) {
                cr_assert_eq(elem_bc_push_wait(&w, chunk[0], 10 * SEC), 0, "%s", cortex_last_error()->message);
                m = 1;
            }
            cr_assert_gt(m, 0, "%s", cortex_last_error()->message);
            s += (uint64_t)m;
        } else {
            cr_assert_eq(elem_bc_push_wait(&w, bc_make(s), 10 * SEC), 0, "%s", cortex_last_error()->message);
            s++;
        }
    }
    cr_assert_eq(elem_bc_close(&w), 0);
    for (int i = 0; i < 4; i++) {
        int code = nct_wait(kids[i], 60000);
        cr_assert_eq(code, 0, "reader %d exited with %d (see reader_child)", i, code);
    }
}

Test(broadcast_mp, lossless_every_reader_gets_everything) { fan_out(CORTEX_BROADCAST_LOSSLESS, false, 200000); }
Test(broadcast_mp, lossless_batches) { fan_out(CORTEX_BROADCAST_LOSSLESS, true, 500000); }
Test(broadcast_mp, lossy_never_torn_and_counts_what_was_lost) { fan_out(CORTEX_BROADCAST_LOSSY, false, 500000); }
Test(broadcast_mp, lossy_batches) { fan_out(CORTEX_BROADCAST_LOSSY, true, 500000); }

/* Readers join and leave over and over while a lossless writer runs: it never stalls on a leaver. */
Test(broadcast_mp, join_and_leave_while_writing)
{
    int key = nct_sysv_key();
    elem_bc w;
    cr_assert_eq(elem_bc_create(&w, CORTEX_KEY_SYSV(key), 64, 2, CORTEX_BROADCAST_LOSSLESS, NULL), 0);
    pid_t kid = fork();
    cr_assert_neq(kid, -1);
    if (kid == 0) {
        for (int round = 0; round < 200; round++) {
            elem_bc r;
            int rc = elem_bc_join(&r, CORTEX_KEY_SYSV(key), round & 1 ? CORTEX_BROADCAST_OLDEST : CORTEX_BROADCAST_NEWEST,
                                  NULL);
            if (rc == -EPIPE || (rc == -ENOENT && round > 0))
                _exit(0); /* the writer closed (and removed) the ring */
            if (rc != 0)
                _exit(20);
            bc_elem e;
            uint64_t last = UINT64_MAX;
            bool lost = false;
            for (int i = 0; i < 50; i++) {
                rc = elem_bc_pop_wait(&r, &e, SEC);
                if (rc == -EPIPE || rc == -ETIMEDOUT)
                    break;
                /* An OLDEST join's history (what was in the ring at the join) may be overwritten before
                 * the writer's next scan sees the reader: reported laps, then the reader goes on later
                 * (documented).  A NEWEST join in lossless mode never loses an element. */
                if (rc == -EOVERFLOW && (round & 1)) {
                    lost = true;
                    continue;
                }
                if (rc != 0)
                    _exit(21);
                uint64_t s = bc_check(&e);
                if (s == UINT64_MAX || (last != UINT64_MAX && (lost ? s <= last : s != last + 1)))
                    _exit(22);
                last = s;
                lost = false;
            }
            elem_bc_close(&r);
            if (rc == -EPIPE)
                _exit(0);
        }
        _exit(0);
    }
    cr_assert(bc_wait_readers(&w, 1));
    for (uint64_t s = 0; s < 100000; s++)
        cr_assert_eq(elem_bc_push_wait(&w, bc_make(s), 10 * SEC), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(elem_bc_close(&w), 0);
    int st = nct_wait(kid, 60000);
    cr_assert_eq(st, 0, "child exited %d", st);
}

/* A reader asleep in pop_wait in another process is woken by a push and by the close. */
Test(broadcast_mp, sleeping_reader_is_woken)
{
    int key = nct_sysv_key();
    elem_bc w;
    cr_assert_eq(elem_bc_create(&w, CORTEX_KEY_SYSV(key), 8, 1, CORTEX_BROADCAST_LOSSY, NULL), 0);
    pid_t kid = fork();
    cr_assert_neq(kid, -1);
    if (kid == 0) {
        elem_bc r;
        if (elem_bc_join(&r, CORTEX_KEY_SYSV(key), CORTEX_BROADCAST_NEWEST, NULL) != 0)
            _exit(30);
        bc_elem e;
        if (elem_bc_pop_wait(&r, &e, -1) != 0 || bc_check(&e) != 7)
            _exit(31);
        if (elem_bc_pop_wait(&r, &e, -1) != -EPIPE)
            _exit(32);
        elem_bc_close(&r);
        _exit(0);
    }
    cr_assert(bc_wait_readers(&w, 1));
    usleep(50000); /* let it fall asleep */
    cr_assert_eq(elem_bc_push(&w, bc_make(7)), 0);
    usleep(50000);
    cr_assert_eq(elem_bc_close(&w), 0);
    cr_assert_eq(nct_wait(kid, 10000), 0);
}

BROADCAST_DECLARE(idx_bc, uint64_t);

/*
 * A NEWEST join is lossless from its first element on, also against a
 * writer that publishes without a fence (registered for membarrier): the
 * join and the writer's scan of the reader table form the store-buffering
 * pattern of (2) in broadcast.c, which needs a barrier on both sides.  A
 * child joins and leaves over and over while the parent writes element i
 * as the value i into a ring of one slot with no other reader (so it scans
 * the table before every push); each first element popped must be the one
 * the join started at.  The window is a few nanoseconds: on the 2-CPU
 * host this was written on, 800,000 joins did not hit it before the fix.
 */
Test(broadcast_mp, newest_join_against_a_light_writer_keeps_its_first_element)
{
    size_t len = cortex_broadcast_required_size(1, 1, sizeof(uint64_t));
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    idx_bc w;
    cr_assert_eq(idx_bc_init(&w, m, len, 1, 1, CORTEX_BROADCAST_LOSSLESS), 0);
    fprintf(stderr, "# writer %s\n", w.bc.light ? "light (membarrier)" : "fenced");
    pid_t parent = getpid();
    pid_t kid = fork();
    cr_assert_neq(kid, -1);
    if (kid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int64_t until = nct_now_ms() + 3000;
        for (int n = 0; n < 200000 && nct_now_ms() < until && getppid() == parent; n++) {
            idx_bc r;
            if (idx_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST) != 0)
                _exit(20);
            uint64_t first = r.bc.pos, v = 0;
            int rc;
            while ((rc = idx_bc_pop(&r, &v)) == -EAGAIN)
                ;
            if (rc != 0)
                _exit(21);
            if (v != first) {
                fprintf(stderr, "# join %d: started at %llu, popped %llu\n", n, (unsigned long long)first,
                        (unsigned long long)v);
                _exit(22);
            }
            idx_bc_close(&r);
        }
        _exit(0);
    }
    int st = -1;
    for (uint64_t i = 0;; i++) {
        int rc = idx_bc_push(&w, w.bc.pos);
        cr_assert(rc == 0 || rc == -EAGAIN, "%s", cortex_last_error()->message);
        if ((i & 1023) == 0 && waitpid(kid, &st, WNOHANG) == kid)
            break;
    }
    idx_bc_close(&w);
    munmap(m, len);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d (22: a NEWEST join lost its first element)",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
