/* SPDX-License-Identifier: MIT */
/*
 * Crash recovery of the channel: a producer and a consumer process run
 * flat out and are SIGKILLed at random moments, one, the other or both,
 * many times, each replaced by a new process that takes the dead side over.
 * The consumer checks every message it takes (a slot handed out twice would
 * show as a torn message).  At the end the test takes both sides over
 * itself, drains, reclaims, and checks that every slot is free and can be
 * loaned exactly once: no slot lost, none twice.  Both sides run with
 * their magazines (the default), so slots cached by a killed process come
 * back through reclaim too.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(channel_crash, .fini = nct_cleanup, .timeout = 300);

struct kmsg {
    uint64_t seq;
    uint64_t w[15];
};

CHANNEL_DECLARE(kch, struct kmsg);

enum { SLOTS = 16 };
static const int64_t MS = 1000000;

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* Attaches @p role, waiting while the previous holder is still seen alive. */
static int attach_side(kch *c, const char *name, cortex_role role)
{
    for (int i = 0; i < 2000; i++) {
        int rc = kch_attach(c, CORTEX_KEY_NAME(name), role, NULL);
        if (rc != -EBUSY)
            return rc;
        nap_us(1000);
    }
    return -EBUSY;
}

static void fill(struct kmsg *m, uint64_t seq)
{
    m->seq = seq;
    for (int k = 0; k < 15; k++)
        m->w[k] = seq * 16 + (uint64_t)k;
}

static int intact(const struct kmsg *m)
{
    uint64_t seq = m->seq;
    for (int k = 0; k < 15; k++)
        if (m->w[k] != seq * 16 + (uint64_t)k)
            return 0;
    return 1;
}

static void producer(const char *name)
{
    kch c;
    if (attach_side(&c, name, CORTEX_PRODUCER) < 0) {
        fprintf(stderr, "producer attach: %s\n", cortex_last_error()->message);
        _exit(20);
    }
    uint64_t seq = (uint64_t)getpid() << 32;
    for (;;) {
        struct kmsg *m;
        int rc = kch_loan_wait(&c, &m, 100 * MS);
        if (rc == -ETIMEDOUT || rc == -EPIPE) {
            nap_us(200);
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "loan: %s\n", cortex_last_error()->message);
            _exit(21);
        }
        fill(m, seq++);
        rc = kch_publish(&c, m);
        if (rc == -EPIPE) {
            kch_unloan(&c, m);
            nap_us(200);
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "publish: %s\n", cortex_last_error()->message);
            _exit(22);
        }
    }
}

static void consumer(const char *name)
{
    kch c;
    if (attach_side(&c, name, CORTEX_CONSUMER) < 0) {
        fprintf(stderr, "consumer attach: %s\n", cortex_last_error()->message);
        _exit(30);
    }
    uint64_t last = 0;
    for (;;) {
        const struct kmsg *m;
        int rc = kch_take_wait(&c, &m, 100 * MS);
        if (rc == -ETIMEDOUT || rc == -EPIPE) {
            nap_us(200);
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "take: %s\n", cortex_last_error()->message);
            _exit(31);
        }
        if (!intact(m)) {
            fprintf(stderr, "torn message %llx\n", (unsigned long long)m->seq);
            _exit(32);
        }
        /* One producer's messages arrive in order, each once (the high half of seq is its pid). */
        if ((m->seq >> 32) == (last >> 32) && m->seq <= last) {
            fprintf(stderr, "message %llx after %llx: delivered twice or out of order\n",
                    (unsigned long long)m->seq, (unsigned long long)last);
            _exit(34);
        }
        last = m->seq;
        if (kch_release(&c, m) < 0) {
            fprintf(stderr, "release: %s\n", cortex_last_error()->message);
            _exit(33);
        }
    }
}

static pid_t spawn(void (*fn)(const char *), const char *name)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        fn(name);
        _exit(99);
    }
    return pid;
}

/* Kills @p pid and asserts that SIGKILL is what ended it (not a failure of its own). */
static void kill_and_check(pid_t pid, const char *who)
{
    kill(pid, SIGKILL);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s %d ended by itself: status 0x%x", who, (int)pid, st);
}

Test(channel_crash, random_kills_lose_no_slot)
{
    char name[64];
    nct_name(name, "kill");
    /* The creator leaves at once without closing: the segment stays, its producer side is dead. */
    pid_t creator = fork();
    cr_assert_geq(creator, 0);
    if (creator == 0) {
        kch c;
        _exit(kch_create(&c, CORTEX_KEY_NAME(name), SLOTS, CORTEX_PRODUCER, NULL) == 0 ? 0 : 1);
    }
    cr_assert_eq(nct_wait(creator, 10000), 0);

    srand((unsigned)getpid());
    const int rounds = 300 * nct_scale(); /* about 200 kills of each side, magazines on (the default) */
    pid_t prod = 0, cons = 0;
    for (int i = 0; i < rounds; i++) {
        if (!prod)
            prod = spawn(producer, name);
        if (!cons)
            cons = spawn(consumer, name);
        nap_us(500 + rand() % 4000);
        int victim = rand() % 3;
        if (victim != 1) {
            kill_and_check(prod, "producer");
            prod = 0;
        }
        if (victim != 0) {
            kill_and_check(cons, "consumer");
            cons = 0;
        }
    }
    if (prod)
        kill_and_check(prod, "producer");
    if (cons)
        kill_and_check(cons, "consumer");

    /* Take both dead sides over, drain what was published, reclaim. */
    kch c, p;
    cr_assert_eq(kch_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    int drained = 0, rc;
    const struct kmsg *m;
    while ((rc = kch_take_wait(&c, &m, 500 * MS)) == 0) {
        cr_assert(intact(m), "message %llx intact", (unsigned long long)m->seq);
        cr_assert_eq(kch_release(&c, m), 0);
        drained++;
    }
    cr_assert(rc == -EPIPE || rc == -ETIMEDOUT, "drain ended with %d: %s", rc, cortex_last_error()->message);
    cr_assert_eq(kch_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_geq(kch_reclaim(&c), 0);
    cr_assert_eq(cortex_channel_magazine(kch_core(&c), 0), 0, "the consumer's cached slots go back");
    /* A process killed inside the slab's free leaves a free slot unlinked: repair, with nobody else in. */
    cr_assert_geq(cortex_slab_repair(cortex_channel_class_slab(kch_core(&p), 0)), 0);
    cortex_channel_stats st;
    cr_assert_eq(kch_stats(&p, &st), 0);
    cr_assert_eq(st.free, SLOTS, "%u free, %u allocated, %u in flight, %u queued after %d drained", st.free,
                 st.allocated, st.in_flight, st.queued, drained);
    /* Every slot can be loaned exactly once. */
    struct kmsg *loans[SLOTS];
    for (int i = 0; i < SLOTS; i++) {
        cr_assert_eq(kch_loan(&p, &loans[i]), 0, "loan %d: %s", i, cortex_last_error()->message);
        for (int j = 0; j < i; j++)
            cr_assert_neq(loans[i], loans[j], "slot handed out twice");
    }
    struct kmsg *extra;
    cr_assert_eq(kch_loan(&p, &extra), -EAGAIN, "no slot beyond the %d", SLOTS);
    cr_assert_eq(kch_close(&p), 0);
    cr_assert_eq(kch_close(&c), 0);
}
