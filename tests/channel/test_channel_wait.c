/* SPDX-License-Identifier: MIT */
/*
 * The channel's blocking calls across processes: a waiter really sleeps
 * (its announcement is seen in the ring's sleeper words) and is woken by
 * the other process's publish or release; a timed wait times out; a dead
 * peer is reported as -EPIPE (not as a timeout) and its slots come back.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel/channel_layout.h"
#include "nctest.h"

TestSuite(channel_wait, .fini = nct_cleanup, .timeout = 120);

struct note {
    uint64_t seq;
    uint64_t w[7];
};

CHANNEL_DECLARE(notes, struct note);

enum { SLOTS = 16 };
static const int64_t MS = 1000000;

static void fill(struct note *m, uint64_t seq)
{
    m->seq = seq;
    for (int k = 0; k < 7; k++)
        m->w[k] = seq * 8 + (uint64_t)k;
}

static int intact(const struct note *m, uint64_t seq)
{
    if (m->seq != seq)
        return 0;
    for (int k = 0; k < 7; k++)
        if (m->w[k] != seq * 8 + (uint64_t)k)
            return 0;
    return 1;
}

/* The state of @p c's ring (0 or the inspect error). */
static int ring_info(notes *c, cortex_ring_info *info)
{
    const unsigned char *p = cortex_region_payload(notes_region(c));
    chan_hdr h;
    memcpy(&h, p, sizeof h);
    return cortex_ring_inspect_mem(p + h.ring_off, (size_t)h.ring_len, info);
}

/* Whether the consumer (or producer) side of @p c's ring announced that it sleeps. */
static bool side_sleeps(notes *c, bool consumer)
{
    cortex_ring_info info;
    if (ring_info(c, &info) < 0)
        return false;
    return consumer ? info.cons_waiting : info.prod_waiting;
}

/* Polls up to 10 s for the side to be asleep. */
static bool wait_asleep(notes *c, bool consumer)
{
    for (int i = 0; i < 10000; i++) {
        if (side_sleeps(c, consumer))
            return true;
        usleep(1000);
    }
    return false;
}

static pid_t child(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    return pid;
}

static void create_producer(notes *p, char *name, const char *tag)
{
    cr_assert_eq(notes_create(p, CORTEX_KEY_NAME(nct_name(name, tag)), SLOTS, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
}

/* Publishes seq 0 .. SLOTS-1: every slot is then in flight. */
static void publish_all(notes *p)
{
    for (int i = 0; i < SLOTS; i++) {
        struct note *m;
        cr_assert_eq(notes_loan(p, &m), 0, "%s", cortex_last_error()->message);
        fill(m, (uint64_t)i);
        cr_assert_eq(notes_publish(p, m), 0);
    }
}

/* Child: attaches as the consumer; a timed take times out, then one asleep is woken by seq 42. */
static int sleeping_consumer(const char *name, int ready_fd)
{
    notes c;
    if (notes_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0)
        return 10;
    const struct note *m;
    int64_t t0 = nct_now_ms();
    if (notes_take_wait(&c, &m, 50 * MS) != -ETIMEDOUT || nct_now_ms() - t0 < 50)
        return 11;
    if (write(ready_fd, "r", 1) != 1)
        return 12;
    if (notes_take_wait(&c, &m, 20000 * MS) != 0 || !intact(m, 42))
        return 13;
    if (notes_release(&c, m) < 0)
        return 14;
    return notes_close(&c) == 0 ? 0 : 15;
}

Test(channel_wait, a_sleeping_consumer_is_woken_by_a_publish)
{
    char name[64];
    notes p;
    create_producer(&p, name, "wake-c");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = child();
    if (pid == 0)
        _exit(sleeping_consumer(name, fds[1]));
    char b;
    cr_assert_eq(read(fds[0], &b, 1), 1, "the consumer's timed wait returned -ETIMEDOUT");
    cr_assert(wait_asleep(&p, true), "the consumer announced a futex sleep");
    struct note *m;
    cr_assert_eq(notes_loan(&p, &m), 0, "%s", cortex_last_error()->message);
    fill(m, 42);
    cr_assert_eq(notes_publish(&p, m), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(nct_wait(pid, 30000), 0, "the consumer was woken with the message intact");
    close(fds[0]);
    close(fds[1]);
    cr_assert_eq(notes_close(&p), 0);
}

/* Child: takes all SLOTS and holds them; once the producer sleeps, releases one, then takes seq 1000. */
static int releasing_consumer(const char *name)
{
    notes c;
    if (notes_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0)
        return 10;
    const struct note *held[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        if (notes_take_wait(&c, &held[i], 20000 * MS) != 0 || !intact(held[i], (uint64_t)i))
            return 11;
    if (!wait_asleep(&c, false))
        return 12;
    if (notes_release(&c, held[0]) != 0)
        return 13;
    const struct note *m;
    if (notes_take_wait(&c, &m, 20000 * MS) != 0 || !intact(m, 1000))
        return 14;
    return notes_close(&c) == 0 ? 0 : 15;
}

Test(channel_wait, a_sleeping_producer_is_woken_by_a_release)
{
    char name[64];
    notes p;
    create_producer(&p, name, "wake-p");
    pid_t pid = child();
    if (pid == 0)
        _exit(releasing_consumer(name));
    publish_all(&p);
    /* Every slot is in flight or taken: this sleeps until the child releases one
     * (which the consumer's magazine would cache, were the producer not asleep). */
    struct note *m;
    cr_assert_eq(notes_loan_wait(&p, &m, 20000 * MS), 0, "%s", cortex_last_error()->message);
    fill(m, 1000);
    cr_assert_eq(notes_publish(&p, m), 0);
    cr_assert_eq(nct_wait(pid, 30000), 0, "the consumer released while the producer slept, then got seq 1000");
    cr_assert_eq(notes_close(&p), 0);
}

Test(channel_wait, a_timed_loan_times_out_while_the_consumer_lives)
{
    char name[64];
    notes p;
    create_producer(&p, name, "tmo");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = child();
    if (pid == 0) {
        notes c;
        close(fds[1]);
        if (notes_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0)
            _exit(10);
        char b;
        _exit(read(fds[0], &b, 1) == 0 && notes_close(&c) == 0 ? 0 : 11); /* EOF: the parent is done */
    }
    close(fds[0]);
    cortex_ring_info info = {0};
    for (int i = 0; i < 10000 && (ring_info(&p, &info) < 0 || info.cons_pid != pid); i++)
        usleep(1000);
    cr_assert_eq(info.cons_pid, pid, "the child holds the consumer role");
    publish_all(&p);
    struct note *m;
    int64_t t0 = nct_now_ms();
    cr_assert_eq(notes_loan_wait(&p, &m, 100 * MS), -ETIMEDOUT, "%s", cortex_last_error()->message);
    cr_assert_geq(nct_now_ms() - t0, 100, "the whole timeout was waited");
    close(fds[1]);
    cr_assert_eq(nct_wait(pid, 30000), 0);
    cr_assert_eq(notes_close(&p), 0);
}

Test(channel_wait, a_dead_producer_is_reported_to_a_sleeping_consumer)
{
    char name[64];
    nct_name(name, "deadp");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = child();
    if (pid == 0) { /* creates the channel, publishes 3, dies holding a loan */
        notes q;
        if (notes_create(&q, CORTEX_KEY_NAME(name), SLOTS, CORTEX_PRODUCER, NULL) < 0)
            _exit(10);
        for (uint64_t i = 0; i < 3; i++) {
            struct note *m;
            if (notes_loan(&q, &m) < 0)
                _exit(11);
            fill(m, i);
            if (notes_publish(&q, m) < 0)
                _exit(12);
        }
        struct note *loaned;
        if (notes_loan(&q, &loaned) < 0 || write(fds[1], "p", 1) != 1)
            _exit(13);
        pause();
        _exit(14);
    }
    char b;
    cr_assert_eq(read(fds[0], &b, 1), 1, "the producer published");
    notes c;
    cr_assert_eq(notes_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    for (uint64_t i = 0; i < 3; i++) {
        const struct note *m;
        cr_assert_eq(notes_take_wait(&c, &m, 20000 * MS), 0, "%s", cortex_last_error()->message);
        cr_assert(intact(m, i));
        cr_assert_eq(notes_release(&c, m), 0);
    }
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 30000), 128 + SIGKILL);
    const struct note *m;
    int64_t t0 = nct_now_ms();
    cr_assert_eq(notes_take_wait(&c, &m, 60000 * MS), -EPIPE, "%s", cortex_last_error()->message);
    cr_assert_lt(nct_now_ms() - t0, 60000, "reported as a dead peer, not a timeout");
    cr_assert_geq(notes_reclaim(&c), 0);
    cortex_channel_stats st;
    cr_assert_eq(notes_stats(&c, &st), 0);
    cr_assert_eq(st.free, SLOTS, "the dead producer's loan came back (%u free)", st.free);
    cr_assert_eq(cortex_region_own(notes_region(&c)), 0); /* the dead creator owned the segment */
    cr_assert_eq(notes_close(&c), 0);
    close(fds[0]);
    close(fds[1]);
}

Test(channel_wait, a_dead_consumer_is_reported_to_a_sleeping_producer)
{
    char name[64];
    notes p;
    create_producer(&p, name, "deadc");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = child();
    if (pid == 0) {
        notes c;
        if (notes_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0)
            _exit(10);
        const struct note *m;
        if (notes_take_wait(&c, &m, 20000 * MS) != 0) /* dies holding it */
            _exit(11);
        if (write(fds[1], "t", 1) != 1)
            _exit(12);
        pause();
        _exit(13);
    }
    publish_all(&p);
    char b;
    cr_assert_eq(read(fds[0], &b, 1), 1, "the consumer took one");
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 30000), 128 + SIGKILL);
    struct note *m;
    int64_t t0 = nct_now_ms();
    cr_assert_eq(notes_loan_wait(&p, &m, 60000 * MS), -EPIPE, "%s", cortex_last_error()->message);
    cr_assert_lt(nct_now_ms() - t0, 60000, "reported as a dead peer, not a timeout");
    cr_assert_geq(notes_reclaim(&p), 0);
    cortex_channel_stats st;
    cr_assert_eq(notes_stats(&p, &st), 0);
    cr_assert_eq(st.allocated, 0, "the dead consumer's taken slot came back");
    cr_assert_eq(st.free + st.in_flight, SLOTS);
    close(fds[0]);
    close(fds[1]);
    cr_assert_eq(notes_close(&p), 0);
}
