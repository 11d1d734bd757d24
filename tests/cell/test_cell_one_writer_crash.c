/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_one_writer_crash.c: the one-writer backend's writer
 * SIGKILLed at random moments, hundreds of times (suite crash).
 *
 * A reader process reads all along and never accepts a torn value (0 only
 * for a whole one; -EOWNERDEAD while a dead writer's half-done write stands;
 * the one exception is the window in which a successor's consistent() has
 * accepted the torn value on purpose, counted apart).
 * After each kill a new writer process takes the role over: its update
 * returns -EOWNERDEAD exactly when the killed writer was mid-write (odd
 * sequence), 0 otherwise; then consistent() and normal writes work.  That
 * writer then exits holding the role (or closes, every third round), so the
 * next round's writer takes over from a dead holder between writes.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"

TestSuite(cell_one_writer_crash, .fini = nct_cleanup, .timeout = 180);

#define WORDS 2048 /* 16 KiB: a copy long enough to be hit */
typedef struct big {
    uint64_t w[WORDS];
} big;
CORTEX_DECLARE(big_cell, big);

static bool whole(const big *b)
{
    for (int i = 1; i < WORDS; i++)
        if (b->w[i] != b->w[0])
            return false;
    return true;
}

static void restamp(big *b, void *ctx)
{
    (void)ctx;
    uint64_t next = b->w[0] + 1;
    for (int i = 0; i < WORDS; i++)
        b->w[i] = next;
}

/* What the reader saw, in a shared page. */
struct tally {
    cortex__a32 stop;
    cortex__a64 whole, owner_dead, torn, other, accepted;
    /* Odd while a successor's consistent() has accepted a torn value that its next write replaces:
     * a torn read with rc 0 is then legitimate (that is what consistent() means). */
    cortex__a64 window;
};

static void reader(cortex_key key, struct tally *t)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    big_cell c;
    if (big_cell_attach(&c, key, NULL) != 0)
        _exit(10);
    static big v;
    while (!cortex__ld32(&t->stop, CX_ACQUIRE)) {
        uint64_t w0 = cortex__ld64(&t->window, CX_ACQUIRE);
        int rc = big_cell_read(&c, &v);
        uint64_t w1 = cortex__ld64(&t->window, CX_ACQUIRE);
        if (rc == 0 && !whole(&v))
            cortex__fadd64((w0 & 1u) || w1 != w0 ? &t->accepted : &t->torn, 1, CX_RELAXED);
        else if (rc == 0)
            cortex__fadd64(&t->whole, 1, CX_RELAXED);
        else if (rc == -EOWNERDEAD)
            cortex__fadd64(&t->owner_dead, 1, CX_RELAXED);
        else
            cortex__fadd64(&t->other, 1, CX_RELAXED);
    }
    big_cell_close(&c);
    _exit(0);
}

/* The new writer after a kill: takes over, checks the report, repairs, writes.  Exit 0 on success. */
static int successor(cortex_key key, bool odd, bool close_after, struct tally *t)
{
    big_cell c;
    if (big_cell_attach(&c, key, NULL) != 0)
        return 20;
    int rc = big_cell_update(&c, restamp, NULL);
    if (rc != (odd ? -EOWNERDEAD : 0))
        return odd ? 21 : 22;
    static big v;
    if (odd) {
        cortex__fadd64(&t->window, 1, CX_SEQ_CST);
        if (big_cell_consistent(&c) != 0)
            return 23;
        if (big_cell_read(&c, &v) != 0)
            return 24;
        restamp(&v, NULL); /* accepted as torn: make it whole again */
        if (big_cell_write(&c, v) != 0)
            return 25;
        cortex__fadd64(&t->window, 1, CX_SEQ_CST);
    }
    if (big_cell_read(&c, &v) != 0 || !whole(&v))
        return 26;
    restamp(&v, NULL);
    if (big_cell_write(&c, v) != 0)
        return 27;
    if (close_after)
        big_cell_close(&c);
    return 0; /* otherwise exits holding the role */
}

Test(cell_one_writer_crash, sigkill_the_writer)
{
    cortex_opts o = opts_with(&cortex_sync_one_writer);
    cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
    static big init;
    big_cell c;
    cr_assert_eq(big_cell_create(&c, key, init, &o), 0, "%s", cortex_last_error()->message);
    struct tally *t = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(t, MAP_FAILED);
    pid_t rd = fork();
    if (rd == 0)
        reader(key, t);
    unsigned seed = (unsigned)getpid();
    int rounds = 150 * nct_scale(), odd_kills = 0, even_kills = 0;
    for (int round = 0; round < rounds; round++) {
        int up[2];
        cr_assert_eq(pipe(up), 0);
        pid_t w = fork();
        if (w == 0) {
            big_cell b;
            if (big_cell_attach(&b, key, NULL) != 0)
                _exit(2);
            static big mine;
            if (big_cell_read(&b, &mine) != 0)
                _exit(3);
            /* The first write claims the role (and decides the wake path): done before the clock starts. */
            restamp(&mine, NULL);
            if (big_cell_write(&b, mine) != 0)
                _exit(5);
            put(up[1], 's');
            for (;;) {
                restamp(&mine, NULL);
                if (big_cell_write(&b, mine) != 0)
                    _exit(4); /* the role is ours (the previous writer is dead or closed) */
            }
        }
        cr_assert_eq(get(up[0]), 's', "round %d: writer did not start", round);
        close(up[0]);
        close(up[1]);
        cortex__sleep_ns((int64_t)(rand_r(&seed) % 1500000));
        cr_assert_eq(kill(w, SIGKILL), 0);
        if (round & 1) {
            cr_assert_eq(nct_wait(w, 5000), 128 + SIGKILL, "round %d: writer ended otherwise", round);
        } else { /* leave it a zombie while the successor takes over */
            int64_t end = nct_now_ms() + 5000;
            while (cortex__pid_alive(w, 0) && nct_now_ms() < end)
                cortex__sleep_ns(50000);
        }
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(big_cell_region(&c), &info), 0);
        bool odd = info.sequence & 1;
        odd_kills += odd;
        even_kills += !odd;
        pid_t s = fork();
        if (s == 0)
            _exit(successor(key, odd, round % 3 == 0, t));
        int st = nct_wait(s, 20000);
        cr_assert_eq(st, 0, "round %d (%s): successor failed with %d", round, odd ? "mid-write" : "between writes",
                     st);
        if (!(round & 1))
            cr_assert_eq(nct_wait(w, 5000), 128 + SIGKILL);
    }
    cortex__st32(&t->stop, 1, CX_RELEASE);
    cr_assert_eq(nct_wait(rd, 20000), 0, "reader failed");
    cr_log_info("one-writer: %d kills, %d mid-write; reader: %llu whole, %llu -EOWNERDEAD, %llu torn, %llu torn "
                "after consistent(), %llu other",
                rounds, odd_kills, (unsigned long long)t->whole, (unsigned long long)t->owner_dead,
                (unsigned long long)t->torn, (unsigned long long)t->accepted, (unsigned long long)t->other);
    cr_assert_eq(cortex__ld64(&t->torn, CX_RELAXED), 0, "the reader accepted a torn value");
    cr_assert_eq(cortex__ld64(&t->other, CX_RELAXED), 0, "the reader got another error");
    cr_assert_gt(cortex__ld64(&t->whole, CX_RELAXED), 0);
    cr_assert_gt(odd_kills, 0, "no kill hit a write in %d rounds", rounds);
    cr_assert_gt(even_kills, 0);
    big v;
    cr_assert_eq(big_cell_read(&c, &v), 0);
    cr_assert(whole(&v));
    munmap(t, 4096);
    cr_assert_eq(big_cell_close(&c), 0);
}
