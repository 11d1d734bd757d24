/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/test_wake.c: the doorbell's wake path through the pair's
 * shared page and eventfds (issue 13): wake-ups across processes, coalescing
 * for a peer that waits, a peer SIGKILLed while it sleeps or while it rings,
 * ends handed on before and after use, a page full of garbage, a forged
 * setup message, and a torture of rings while the peer dies again and again.
 * Behaviour only, never speed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(wake, .fini = nct_cleanup, .timeout = 120);

#define MSG cortex_last_error()->message
#define SEC INT64_C(1000000000)

/* A counter both processes see: the "shared state" a ring announces. */
static volatile uint32_t *shared_counter(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    return p;
}

Test(wake, ping_pong_across_processes)
{
    int fds0 = nct_count_fds();
    int rounds = 2000 * nct_scale();
    volatile uint32_t *ctr = shared_counter();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cortex_doorbell_close(&a);
        /* Answer every value with the next one; every wake must bring exactly one new value. */
        for (uint32_t want = 1; want < (uint32_t)(2 * rounds); want += 2) {
            while (__atomic_load_n(ctr, __ATOMIC_ACQUIRE) != want)
                if (cortex_doorbell_wait(&b, 10 * SEC) != 0)
                    _exit(3);
            __atomic_store_n(ctr, want + 1, __ATOMIC_RELEASE);
            if (cortex_doorbell_signal(&b) < 0)
                _exit(4);
        }
        _exit(0);
    }
    cortex_doorbell_close(&b);
    for (uint32_t v = 1; v < (uint32_t)(2 * rounds); v += 2) {
        __atomic_store_n(ctr, v, __ATOMIC_RELEASE);
        int rc = cortex_doorbell_signal(&a);
        cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "round %u: %d %s", v, rc, MSG);
        while (__atomic_load_n(ctr, __ATOMIC_ACQUIRE) != v + 1) {
            rc = cortex_doorbell_wait(&a, 10 * SEC);
            cr_assert_eq(rc, 0, "round %u: %d %s", v, rc, MSG);
        }
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);
    /* The child is gone: after any ring it left unread, -EPIPE. */
    int rc;
    while ((rc = cortex_doorbell_wait(&a, 10 * SEC)) == 0)
        ;
    cr_assert_eq(rc, -EPIPE, "%d %s", rc, MSG);
    cortex_doorbell_close(&a);
    munmap((void *)ctr, 4096);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(wake, coalescing_for_a_waiting_peer)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    /* A look (timeout 0) leaves b as it is; a wait that may sleep puts it on the page's path. */
    cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT);
    cr_assert_eq(cortex_doorbell_wait(&b, 1000000), -ETIMEDOUT);
    for (int round = 0; round < 3; round++) {
        int sent = 0, pending = 0;
        for (int i = 0; i < 1000; i++) {
            int rc = cortex_doorbell_signal(&a);
            cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "%d %s", rc, MSG);
            rc == CORTEX_DOORBELL_SENT ? sent++ : pending++;
        }
        cr_assert_eq(sent, 1, "exactly one ring, the other 999 coalesce (sent %d)", sent);
        cr_assert_eq(cortex_doorbell_wait(&b, SEC), 0, "%s", MSG);
        cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT, "one wake for all the signals");
    }
    /* drain counts the ring the page holds. */
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_drain(&b), 1);
    cr_assert_eq(cortex_doorbell_drain(&b), 0);
    /* Back to a poll loop: cortex_doorbell_fd puts b back on the socket, POLLIN shows rings again. */
    struct pollfd p = {.fd = cortex_doorbell_fd(&b), .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 0);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_PENDING);
    cr_assert_eq(poll(&p, 1, 1000), 1);
    cr_assert_eq(cortex_doorbell_drain(&b), 1);
    cr_assert_eq(poll(&p, 1, 0), 0);
    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    cr_assert_eq(nct_count_fds(), fds0);
}

/* Forks a child that waits on @end with no time limit (after one ring to say it is there). */
static pid_t sleeper(cortex_doorbell *mine, cortex_doorbell *end)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cortex_doorbell_close(mine);
        if (cortex_doorbell_signal(end) < 0)
            _exit(3);
        for (;;)
            if (cortex_doorbell_wait(end, -1) < 0)
                _exit(4);
    }
    cortex_doorbell_close(end);
    cr_assert_eq(cortex_doorbell_wait(mine, 10 * SEC), 0, "%s", MSG);
    return pid;
}

Test(wake, peer_killed_while_sleeping)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    pid_t pid = sleeper(&a, &b);
    /* Let it sleep in the page's path, ring it a few times, then kill it asleep. */
    for (int i = 0; i < 50; i++) {
        int rc = cortex_doorbell_signal(&a);
        cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "%d %s", rc, MSG);
        usleep(1000);
    }
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    /* At most one ring after the death may still report SENT (it was asleep: no look at the socket). */
    int rc = cortex_doorbell_signal(&a);
    if (rc != -EPIPE)
        rc = cortex_doorbell_signal(&a);
    cr_assert_eq(rc, -EPIPE, "the second ring after the kill must know: %d %s", rc, MSG);
    cr_assert_eq(cortex_doorbell_wait(&a, -1), -EPIPE, "a wait with no limit returns at once");
    cr_assert_eq(cortex_doorbell_drain(&a), -EPIPE);
    cortex_doorbell_close(&a);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(wake, peer_killed_while_we_sleep_and_it_rings)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cortex_doorbell_close(&a);
        for (;;) {
            if (cortex_doorbell_signal(&b) < 0)
                _exit(3);
            usleep(200);
        }
    }
    cortex_doorbell_close(&b);
    int64_t t0 = nct_now_ms();
    int wakes = 0;
    while (nct_now_ms() - t0 < 200) {
        cr_assert_eq(cortex_doorbell_wait(&a, 10 * SEC), 0, "%s", MSG);
        wakes++;
    }
    cr_assert_gt(wakes, 0);
    kill(pid, SIGKILL);
    /* Sleeping with no time limit while the ringer dies: rings it left, then -EPIPE, never a hang. */
    int rc;
    int64_t t1 = nct_now_ms();
    while ((rc = cortex_doorbell_wait(&a, -1)) == 0)
        cr_assert_lt(nct_now_ms() - t1, 10000, "still waking 10 s after the kill");
    cr_assert_eq(rc, -EPIPE, "%d %s", rc, MSG);
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    cortex_doorbell_close(&a);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(wake, handed_on_before_and_after_use)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b, c;
    /* Before use: from_fd takes the page from the setup message; rings still work and coalesce. */
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    int fd = cortex_doorbell_release(&b);
    cr_assert_eq(cortex_doorbell_from_fd(&c, fd), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&c, 0), -ETIMEDOUT);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_PENDING);
    cr_assert_eq(cortex_doorbell_wait(&c, SEC), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&c, 0), -ETIMEDOUT);
    cr_assert_eq(cortex_doorbell_signal(&c), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&a, SEC), 0, "%s", MSG);
    /* After use: the setup message was read, the next holder rings and is rung on the socket. */
    fd = cortex_doorbell_release(&c);
    cr_assert_eq(cortex_doorbell_from_fd(&b, fd), 0, "%s", MSG);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT, "%s", MSG);
        cr_assert_eq(cortex_doorbell_wait(&b, SEC), 0, "round %d: %s", i, MSG);
        cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT);
        cr_assert_eq(cortex_doorbell_signal(&b), CORTEX_DOORBELL_SENT, "%s", MSG);
        cr_assert_eq(cortex_doorbell_wait(&a, SEC), 0, "round %d: %s", i, MSG);
        cr_assert_eq(cortex_doorbell_wait(&a, 0), -ETIMEDOUT);
    }
    cortex_doorbell_close(&b);
    cr_assert_eq(cortex_doorbell_signal(&a), -EPIPE);
    cortex_doorbell_close(&a);
    cr_assert_eq(nct_count_fds(), fds0);
}

/*
 * An end that was used, then handed on by sending (or inheriting) a copy of
 * its fd and closing the holder's doorbell with cortex_doorbell_close() --
 * the docs' own fork/exec snippet does that -- leaves its line in the page
 * saying "has the page": the next holder has no page (the setup message
 * was read), so every ring must still reach it on the socket.  @waited:
 * the old holder last waited in cortex_doorbell_wait() (rings go through
 * the page), else it polled its fd (rings go on the socket, once until read).
 */
static void hand_on_by_close(bool waited)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b, c;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    if (waited) {
        cr_assert_eq(cortex_doorbell_wait(&b, SEC), 0, "%s", MSG);
    } else {
        struct pollfd p = {.fd = cortex_doorbell_fd(&b), .events = POLLIN};
        cr_assert_eq(poll(&p, 1, 1000), 1);
        cr_assert_geq(cortex_doorbell_drain(&b), 1, "%s", MSG);
    }
    int fd = fcntl(b.fd, F_DUPFD_CLOEXEC, 3); /* the copy another process would hold */
    cr_assert_geq(fd, 0);
    cortex_doorbell_close(&b);
    cr_assert_eq(cortex_doorbell_from_fd(&c, fd), 0, "%s", MSG);
    for (int i = 0; i < 3; i++) {
        int rc = cortex_doorbell_signal(&a);
        cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "%d %s", rc, MSG);
        cr_assert_eq(cortex_doorbell_wait(&c, SEC), 0, "round %d: the ring never reached the new holder: %s", i,
                     MSG);
        cr_assert_eq(cortex_doorbell_signal(&c), CORTEX_DOORBELL_SENT, "%s", MSG);
        cr_assert_eq(cortex_doorbell_wait(&a, SEC), 0, "round %d: %s", i, MSG);
    }
    cortex_doorbell_close(&c);
    cr_assert_eq(cortex_doorbell_wait(&a, -1), -EPIPE);
    cortex_doorbell_close(&a);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(wake, handed_on_by_close_after_waiting) { hand_on_by_close(true); }

Test(wake, handed_on_by_close_after_polling) { hand_on_by_close(false); }

Test(wake, garbage_in_the_page)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    cr_assert_not_null(a.shared, "Linux: the pair has its page");
    cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT);
    /* A hostile peer can write anything there: every call stays defined and bounded by its timeout. */
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        unsigned char *p = a.shared;
        for (int i = 0; i < 256; i++) {
            seed = seed * 1103515245u + 12345u;
            p[i] = (unsigned char)(seed >> 16);
        }
        int rc = cortex_doorbell_signal(&a);
        cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "%d %s", rc, MSG);
        rc = cortex_doorbell_wait(&b, 2 * 1000000);
        cr_assert(rc == 0 || rc == -ETIMEDOUT, "%d %s", rc, MSG);
        rc = cortex_doorbell_drain(&b);
        cr_assert_geq(rc, 0, "%d %s", rc, MSG);
    }
    /* Zeroed again, it works as before; the peer's death is still seen. */
    memset(a.shared, 0, 256);
    cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&b, SEC), 0, "%s", MSG);
    cortex_doorbell_close(&a);
    cr_assert_eq(cortex_doorbell_wait(&b, -1), -EPIPE);
    cortex_doorbell_close(&b);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(wake, forged_setup_message_is_refused)
{
    int fds0 = nct_count_fds();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    /* The setup message's bytes, with a pipe and /dev/null instead of a page and eventfds. */
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    cr_assert_geq(nul, 0);
    unsigned char data[12] = {'n', 'c', 'd', 'b', 'w', 'a', 'k', '1', 0, 0, 0, 0};
    int fds[3] = {pfd[0], pfd[1], nul};
    char cbuf[CMSG_SPACE(sizeof fds)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    cr_assert_eq(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof data);
    close(pfd[0]);
    close(pfd[1]);
    close(nul);
    cortex_doorbell b, a;
    cr_assert_eq(cortex_doorbell_from_fd(&b, sv[1]), 0, "%s", MSG);
    cr_assert_null(b.shared, "a pipe is not a page");
    cr_assert_eq(cortex_doorbell_from_fd(&a, sv[0]), 0, "%s", MSG);
    /* Socket only, both ways; every fd that came with the message was closed. */
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&b, SEC), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_signal(&b), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&a, SEC), 0, "%s", MSG);
    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    cr_assert_eq(nct_count_fds(), fds0);
}

/*
 * A peer that sends setup messages (not rings) faster than they are read
 * must not keep cortex_doorbell_drain() reading: one call reads at most
 * 4096 messages and returns, the rest stays queued for the next call.
 * Queued here up front (socket buffers forced large; skipped where that
 * is not allowed), so the bound is seen without a race.
 */
Test(wake, setup_message_flood_does_not_hold_drain)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int big = 64 << 20;
    if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0 ||
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0) {
        close(sv[0]);
        close(sv[1]);
        cr_skip_test("cannot force large socket buffers here (needs CAP_NET_ADMIN)");
    }
    unsigned char data[12] = {'n', 'c', 'd', 'b', 'w', 'a', 'k', '1', 0, 0, 0, 0};
    int queued = 0;
    while (queued < 6000 && send(sv[0], data, sizeof data, MSG_DONTWAIT) == (ssize_t)sizeof data)
        queued++;
    if (queued < 6000) {
        close(sv[0]);
        close(sv[1]);
        cr_skip_test("only %d messages fit in the socket buffers", queued);
    }
    cortex_doorbell b;
    cr_assert_eq(cortex_doorbell_from_fd(&b, sv[1]), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_drain(&b), 0, "no rings among setup messages: %s", MSG);
    /* The bound: some of the 6000 are still there for the next call. */
    int left = 0;
    unsigned char got[16];
    while (recv(b.fd, got, sizeof got, MSG_DONTWAIT) > 0)
        left++;
    cr_assert_gt(left, 0, "one drain read all %d setup messages", queued);
    cr_assert_lt(left, queued - 4000, "the drain read only %d of %d", queued - left, queued);
    cortex_doorbell_close(&b);
    close(sv[0]);
}

/*
 * Torture: a child rings and waits at random while the parent rings and
 * waits; the child is SIGKILLed at a random moment.  Every time the parent
 * must learn it (-EPIPE) within its timeout, and never hang.
 */
Test(wake, torture_peer_dies_again_and_again)
{
    int fds0 = nct_count_fds();
    int rounds = 40 * nct_scale();
    srand((unsigned)getpid());
    for (int r = 0; r < rounds; r++) {
        cortex_doorbell a, b;
        cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            cortex_doorbell_close(&a);
            srand((unsigned)getpid());
            for (;;) {
                if (cortex_doorbell_signal(&b) < 0)
                    _exit(3);
                int rc = cortex_doorbell_wait(&b, (rand() % 3) * 1000000);
                if (rc != 0 && rc != -ETIMEDOUT)
                    _exit(4);
            }
        }
        cortex_doorbell_close(&b);
        int64_t kill_at = nct_now_ms() + rand() % 30;
        bool killed = false;
        int64_t t_kill = 0;
        for (;;) {
            int rc = cortex_doorbell_signal(&a);
            if (rc == -EPIPE)
                break;
            cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "round %d: %d %s", r, rc, MSG);
            rc = cortex_doorbell_wait(&a, 5 * SEC);
            if (rc == -EPIPE)
                break;
            cr_assert_eq(rc, 0, "round %d: %d %s", r, rc, MSG);
            if (!killed && nct_now_ms() >= kill_at) {
                kill(pid, SIGKILL);
                killed = true;
                t_kill = nct_now_ms();
            }
            if (killed)
                cr_assert_lt(nct_now_ms() - t_kill, 5000, "round %d: still no -EPIPE 5 s after the kill", r);
        }
        cr_assert(killed, "round %d: -EPIPE before the kill", r);
        cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL, "round %d", r);
        cr_assert_eq(cortex_doorbell_wait(&a, -1), -EPIPE);
        cortex_doorbell_close(&a);
    }
    cr_assert_eq(nct_count_fds(), fds0);
}

/*
 * A peer that waits through the page, then stays awake (its loop finds its
 * data without calling wait), keeps its ring flag up: the next rings
 * coalesce into it, and look at the socket at most once a millisecond.
 * Killed there, it is reported by a ring within that interval, and every
 * ring before is SENT or PENDING.
 */
Test(wake, a_peer_killed_awake_is_reported_within_the_look_interval)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    int up[2];
    cr_assert_eq(pipe(up), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(up[0]);
        cortex_doorbell_close(&a);
        if (cortex_doorbell_wait(&b, 10 * SEC) != 0) /* through the page, then awake for good */
            _exit(3);
        if (write(up[1], "w", 1) != 1)
            _exit(4);
        for (int i = 0; i < 600; i++) /* bounded: the parent kills it long before */
            usleep(100000);
        _exit(5);
    }
    close(up[1]);
    cortex_doorbell_close(&b);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT, "%s", MSG);
    char ch;
    cr_assert_eq(read(up[0], &ch, 1), 1, "the child woke");
    close(up[0]);
    /* The child is awake: this ring raises its flag, the next ones coalesce into it. */
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT, "%s", MSG);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_PENDING, "ring %d: %s", i, MSG);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    int64_t t0 = nct_now_ms();
    int rc, rings = 0;
    while ((rc = cortex_doorbell_signal(&a)) == CORTEX_DOORBELL_PENDING && nct_now_ms() - t0 < 5000)
        rings++;
    cr_assert_eq(rc, -EPIPE, "after %d rings in %lld ms: %d %s", rings, (long long)(nct_now_ms() - t0), rc, MSG);
    /* 1 ms look interval; the bound leaves room for a loaded machine. */
    cr_assert_lt(nct_now_ms() - t0, 1000, "reported %lld ms after the kill", (long long)(nct_now_ms() - t0));
    cr_assert_eq(cortex_doorbell_wait(&a, -1), -EPIPE);
    cortex_doorbell_close(&a);
    cr_assert_eq(nct_count_fds(), fds0);
}
