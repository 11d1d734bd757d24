/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/test_handover.c: doorbells and segments handed to exec'd
 * programs (tests/doorbell/helper.c): by cortex_spawn, by fork and
 * cortex_fd_inherit, and over a Unix socket with SCM_RIGHTS.  Children
 * report through their exit status; only the parent asserts.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mailbox.h"
#include "nctest.h"

TestSuite(handover, .fini = nct_cleanup, .timeout = 60);

#define MSG cortex_last_error()->message
#define WAIT_NS INT64_C(10000000000)

extern char **environ;

static const char *helper(void) { return nct_helper_path("db-helper"); }

Test(handover, signal_and_wait_across_exec)
{
    int fds0 = nct_count_fds();
    int rounds = 300 * nct_scale();
    char n[16];
    snprintf(n, sizeof n, "%d", rounds);
    char *argv[] = {(char *)helper(), "echo", n, NULL};
    pid_t pid;
    cortex_doorbell bell;
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, -1), 0, "%s", MSG);
#ifdef __linux__
    /* The end: its socket, its epoll set and the child's eventfd (the fast wake path). */
    cr_assert_eq(nct_count_fds(), fds0 + 3, "only the parent's end is left open here");
#else
    cr_assert_eq(nct_count_fds(), fds0 + 1, "only the parent's end is left open here");
#endif
    for (int i = 0; i < rounds; i++) {
        cr_assert_eq(cortex_doorbell_signal(&bell), CORTEX_DOORBELL_SENT, "round %d: %s", i, MSG);
        int rc = cortex_doorbell_wait(&bell, WAIT_NS);
        cr_assert_eq(rc, 0, "round %d: %d %s", i, rc, MSG);
    }
    /* The child exits after its last ring: its end closes and the parent learns it. */
    cr_assert_eq(cortex_doorbell_wait(&bell, WAIT_NS), -EPIPE, "%s", MSG);
    cr_assert_eq(nct_wait(pid, 10000), 0);
    cortex_doorbell_close(&bell);
    cr_assert_eq(nct_count_fds(), fds0);
}

static void *kill_later(void *arg)
{
    usleep(100 * 1000);
    kill(*(pid_t *)arg, SIGKILL);
    return NULL;
}

Test(handover, killed_peer_is_reported)
{
    int fds0 = nct_count_fds();
    char *argv[] = {(char *)helper(), "sleep", NULL};
    pid_t pid;
    cortex_doorbell bell;
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, -1), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&bell, WAIT_NS), 0, "the child rings once when ready: %s", MSG);
    /* Wait forever while the child is SIGKILLed: the wait must come back with -EPIPE. */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, kill_later, &pid), 0);
    int64_t t0 = nct_now_ms();
    int rc = cortex_doorbell_wait(&bell, -1);
    int64_t took = nct_now_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_eq(rc, -EPIPE, "wait after the peer was killed: %d %s", rc, MSG);
    cr_assert_lt(took, 10000, "the wait ended %lld ms after the kill", (long long)took);
    cr_assert_eq(cortex_doorbell_signal(&bell), -EPIPE, "%s", MSG);
    cr_assert_eq(cortex_doorbell_drain(&bell), -EPIPE);
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    cortex_doorbell_close(&bell);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(handover, killed_peer_signal_first)
{
    int fds0 = nct_count_fds();
    char *argv[] = {(char *)helper(), "sleep", NULL};
    pid_t pid;
    cortex_doorbell bell;
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, -1), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&bell, WAIT_NS), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_signal(&bell), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_signal(&bell), CORTEX_DOORBELL_PENDING, "the sleeping child has not read it");
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 10000), 128 + SIGKILL);
    cr_assert_eq(cortex_doorbell_signal(&bell), -EPIPE, "a killed peer is gone, not pending: %s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&bell, 0), -EPIPE);
    cortex_doorbell_close(&bell);
    cr_assert_eq(nct_count_fds(), fds0);
}

/* Runs the mailbox protocol for n requests from the parent's side; returns the first bad step or 0. */
static int run_mailbox(cortex_doorbell *bell, nct_mailbox *mb, uint64_t n)
{
    for (uint64_t i = 1; i <= n; i++) {
        mb->req_value = nct_mailbox_request(i);
        cortex__st64(&mb->req_seq, i, CX_RELEASE);
        if (cortex_doorbell_signal(bell) < 0)
            return 1;
        while (cortex__ld64(&mb->resp_seq, CX_ACQUIRE) != i) {
            int rc = cortex_doorbell_wait(bell, WAIT_NS);
            if (rc < 0) {
                cr_log_error("request %llu: wait: %s", (unsigned long long)i, MSG);
                return 2;
            }
        }
        if (mb->resp_value != nct_mailbox_answer(nct_mailbox_request(i))) {
            cr_log_error("request %llu: answer %llu", (unsigned long long)i, (unsigned long long)mb->resp_value);
            return 3;
        }
    }
    return 0;
}

Test(handover, spawn_with_a_memfd_segment)
{
    int fds0 = nct_count_fds();
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_MEMFD("nct-mailbox"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    uint64_t n = 500 * (uint64_t)nct_scale();
    char ns[24];
    snprintf(ns, sizeof ns, "%llu", (unsigned long long)n);
    char *argv[] = {(char *)helper(), "mailbox", ns, NULL};
    pid_t pid;
    cortex_doorbell bell;
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, cortex_region_fd(r)), 0, "%s", MSG);
    cr_assert_eq(run_mailbox(&bell, cortex_region_payload(r), n), 0);
    cr_assert_eq(nct_wait(pid, 10000), 0);
    cortex_doorbell_close(&bell);
    cortex_region_close(r);
    cr_assert_eq(nct_count_fds(), fds0);
}

/* "dev:ino" of fd into buf. */
static char *file_id(int fd, char *buf, size_t len)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    snprintf(buf, len, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return buf;
}

Test(handover, child_gets_only_what_it_is_handed)
{
    int fds0 = nct_count_fds();
    /* Things this process holds that no child is handed: every one of them close-on-exec by the library. */
    cortex_doorbell x, y;
    cr_assert_eq(cortex_doorbell_pair(&x, &y), 0);
    cortex_region *kept = NULL, *handed = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&kept, CORTEX_KEY_MEMFD("nct-kept"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    cr_assert_eq(cortex_region_create(&handed, CORTEX_KEY_MEMFD("nct-handed"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    char path[96];
    int lsock = -1;
    cr_assert_eq(cortex_unix_listen(nct_path(path, "sock"), &lsock), 0, "%s", MSG);
    char id[4][64];
    char *argv[] = {(char *)helper(), "fds", file_id(cortex_doorbell_fd(&x), id[0], 64),
                    file_id(cortex_doorbell_fd(&y), id[1], 64), file_id(cortex_region_fd(kept), id[2], 64),
                    file_id(lsock, id[3], 64), NULL};

    /* 1. cortex_spawn: fds 3 and 4 are the handed doorbell and segment, nothing else of ours. */
    pid_t pid;
    cortex_doorbell bell;
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, cortex_region_fd(handed)), 0, "%s", MSG);
    cr_assert_eq(nct_wait(pid, 10000), 0, "the spawned child saw an fd it was not handed (see its stderr)");
    cortex_doorbell_close(&bell);

    /* 2. fork + cortex_fd_inherit + exec: the same, by hand. */
    cortex_doorbell p, c;
    cr_assert_eq(cortex_doorbell_pair(&p, &c), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int from[2] = {cortex_doorbell_fd(&c), cortex_region_fd(handed)};
        int to[2] = {4, 3}; /* other numbers than cortex_spawn's, crossed on purpose */
        if (cortex_fd_inherit(from, to, 2) != 0)
            _exit(90);
        setenv(CORTEX_FDS_ENV, "doorbell:4,segment:3", 1);
        execve(argv[0], argv, environ);
        _exit(91);
    }
    cortex_doorbell_close(&c); /* the parent's copy of the child's end */
    cr_assert_eq(nct_wait(pid, 10000), 0, "the forked child saw an fd it was not handed");
    cr_assert_eq(cortex_doorbell_wait(&p, WAIT_NS), -EPIPE, "the child's end died with it");
    cortex_doorbell_close(&p);

    /* 3. A child handed nothing sees none of them (and no fds 3/4 claims). */
    pid_t plain;
    char *argv0[] = {argv[0], "fds", id[0], id[1], id[2], id[3], NULL};
    char *env0[] = {NULL};
    cr_assert_eq(posix_spawn(&plain, argv[0], NULL, NULL, argv0, env0), 0);
    cr_assert_eq(nct_wait(plain, 10000), 0);

    close(lsock);
    unlink(path);
    cortex_doorbell_close(&x);
    cortex_doorbell_close(&y);
    cortex_region_close(kept);
    cortex_region_close(handed);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(handover, bad_fd_numbers_in_argv_and_env)
{
    int fds0 = nct_count_fds();
    struct {
        const char *arg;
        int exit;
    } cases[] = {
        {"--neocortex-fds=doorbell:-3,segment:4", EINVAL},
        {"--neocortex-fds=doorbell:3,segment:99999999999", ERANGE},
        {"--neocortex-fds=doorbell:3,segment:2147483000", ERANGE},
        {"--neocortex-fds=doorbell:abc", EINVAL},
        {"--neocortex-fds=doorbell:4,segment:3", ENOTSOCK}, /* swapped: the segment is no socket */
        {"--neocortex-fds=doorbell:3,segment:60", EBADF},   /* not open in the child */
        {"--neocortex-fds=doorbell:3,segment:3", EINVAL},
        {"--neocortex-fds=doorbell:3,segment:4", 0},        /* what cortex_spawn set up: fine */
    };
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_MEMFD("nct"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {(char *)helper(), "attach-rc", (char *)cases[i].arg, NULL};
        pid_t pid;
        cortex_doorbell bell;
        cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, cortex_region_fd(r)), 0, "%s", MSG);
        int st = nct_wait(pid, 10000);
        cr_assert_eq(st, cases[i].exit, "%s: child exited %d, expected %d", cases[i].arg, st, cases[i].exit);
        cortex_doorbell_close(&bell);
    }
    cortex_region_close(r);

    /* A handed segment whose header is wrong: zeros where the header should be. */
    int zero = memfd_create("nct-zero", MFD_CLOEXEC);
    cr_assert_eq(ftruncate(zero, 4096), 0);
    char *argv[] = {(char *)helper(), "attach-rc", NULL};
    pid_t pid;
    cortex_doorbell bell;
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), argv, NULL, zero), 0, "%s", MSG);
    cr_assert_eq(nct_wait(pid, 10000), EBADMSG);
    cortex_doorbell_close(&bell);
    close(zero);

    /* Bad arguments to cortex_spawn itself leave nothing open. */
    cr_assert_eq(cortex_spawn(&pid, &bell, "/nonexistent/nct-program", NULL, NULL, -1), -ENOENT);
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), NULL, NULL, 1 << 29), -EBADF);
    cr_assert_eq(cortex_spawn(&pid, &bell, helper(), NULL, NULL, -7), -EBADF);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(handover, memfd_over_scm_rights_to_an_unrelated_process)
{
    int fds0 = nct_count_fds();
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_MEMFD("nct-scm"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    cortex_doorbell mine, theirs;
    cr_assert_eq(cortex_doorbell_pair(&mine, &theirs), 0);
    char path[96];
    int lsock = -1, conn = -1;
    cr_assert_eq(cortex_unix_listen(nct_path(path, "scm"), &lsock), 0, "%s", MSG);
    uint64_t n = 500 * (uint64_t)nct_scale();
    char ns[24];
    snprintf(ns, sizeof ns, "%llu", (unsigned long long)n);
    /* Started with nothing handed: it finds us by path, like any other program would. */
    char *argv[] = {(char *)helper(), "peer", path, ns, NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
    cr_assert_eq(cortex_unix_accept(lsock, &conn, WAIT_NS), 0, "%s", MSG);
    int fds[2] = {cortex_region_fd(r), cortex_doorbell_fd(&theirs)};
    cr_assert_eq(cortex_fd_send(conn, "seg+bell", 8, fds, 2), 0, "%s", MSG);
    cortex_doorbell_close(&theirs); /* the peer has its own copy now */
    close(conn);
    close(lsock);
    unlink(path);
    cr_assert_eq(run_mailbox(&mine, cortex_region_payload(r), n), 0);
    cr_assert_eq(nct_wait(pid, 10000), 0);
    /* A last ring may still be queued (answered before we waited): it comes first, then the peer is gone. */
    int rc = cortex_doorbell_drain(&mine);
    cr_assert(rc >= 0 || rc == -EPIPE, "drain: %d %s", rc, MSG);
    cr_assert_eq(cortex_doorbell_wait(&mine, WAIT_NS), -EPIPE, "the peer exited");
    cortex_doorbell_close(&mine);
    cortex_region_close(r);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(handover, receiving_side_refuses_and_closes_what_it_did_not_ask_for)
{
    int fds0 = nct_count_fds();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_MEMFD("nct"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    int segfd = cortex_region_fd(r);
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    int base = nct_count_fds();
    char buf[16];
    int got[2] = {-1, -1};
    unsigned ngot = 9;

    /* Three fds when one was asked for: all closed, -EPROTO. */
    int three[3] = {segfd, pfd[0], pfd[1]};
    cr_assert_eq(cortex_fd_send(sv[0], "x", 1, three, 3), 0, "%s", MSG);
    cr_assert_eq(cortex_fd_recv(sv[1], buf, sizeof buf, got, 1, &ngot, WAIT_NS), -EPROTO);
    cr_assert(strstr(MSG, "sent 3 fd(s), expected at most 1"), "message: %s", MSG);
    cr_assert_eq(ngot, 0);
    cr_assert_eq(nct_count_fds(), base, "no received fd leaked");
    /* More fds than any receive has room for: the control data is truncated; nothing leaks either. */
    int eight[8] = {segfd, segfd, segfd, segfd, segfd, segfd, segfd, segfd};
    cr_assert_eq(cortex_fd_send(sv[0], "x", 1, eight, 8), 0, "%s", MSG);
    cr_assert_eq(cortex_fd_recv(sv[1], buf, sizeof buf, got, 2, &ngot, WAIT_NS), -EPROTO);
    cr_assert_eq(nct_count_fds(), base);
    /* A message longer than the buffer, with an fd: closed. */
    cr_assert_eq(cortex_fd_send(sv[0], "0123456789abcdefXYZ", 19, &segfd, 1), 0);
    cr_assert_eq(cortex_fd_recv(sv[1], buf, sizeof buf, got, 2, &ngot, WAIT_NS), -EPROTO);
    cr_assert(strstr(MSG, "longer"), "message: %s", MSG);
    cr_assert_eq(nct_count_fds(), base);
    /* segment_recv: a pipe is not a segment; no fd at all; a good one attaches. */
    cortex_region *in = NULL;
    cr_assert_eq(cortex_fd_send(sv[0], "seg", 3, &pfd[0], 1), 0);
    cr_assert_eq(cortex_segment_recv(sv[1], &in, &l, NULL, WAIT_NS), -ENODEV, "%s", MSG);
    cr_assert_eq(nct_count_fds(), base);
    cr_assert_eq(cortex_fd_send(sv[0], "seg", 3, NULL, 0), 0);
    cr_assert_eq(cortex_segment_recv(sv[1], &in, &l, NULL, WAIT_NS), -EPROTO, "%s", MSG);
    cr_assert_eq(cortex_fd_send(sv[0], "seg", 3, &segfd, 1), 0);
    cr_assert_eq(cortex_segment_recv(sv[1], &in, &l, NULL, WAIT_NS), 0, "%s", MSG);
    cr_assert_eq(nct_count_fds(), base + 1, "the region holds one fd; the received one was closed");
    strcpy((char *)cortex_region_payload(r) + 64, "through scm_rights");
    cr_assert_str_eq((char *)cortex_region_payload(in) + 64, "through scm_rights");
    cortex_region_close(in);
    /* Timeouts, a closed fd to send, and a gone peer. */
    cr_assert_eq(cortex_fd_recv(sv[1], buf, sizeof buf, got, 2, &ngot, 20 * 1000000LL), -ETIMEDOUT);
    int closed = pfd[1];
    close(closed);
    cr_assert_eq(cortex_fd_send(sv[0], "x", 1, &closed, 1), -EBADF);
    close(sv[0]);
    cr_assert_eq(cortex_fd_recv(sv[1], buf, sizeof buf, got, 2, &ngot, WAIT_NS), -EPIPE);
    close(sv[1]);
    close(pfd[0]);
    cortex_region_close(r);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(handover, connect_and_path_errors)
{
    int fds0 = nct_count_fds();
    char path[96];
    int fd = -1;
    nct_path(path, "nobody");
    cr_assert_eq(cortex_unix_connect(path, &fd, 30 * 1000000LL), -ETIMEDOUT);
    cr_assert(strstr(MSG, path), "message names the path: %s", MSG);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(cortex_unix_listen(longp, &fd), -ENAMETOOLONG);
    int l1 = -1;
    cr_assert_eq(cortex_unix_listen(nct_path(path, "busy"), &l1), 0, "%s", MSG);
    cr_assert_eq(cortex_unix_listen(path, &fd), -EADDRINUSE);
    cr_assert_eq(cortex_unix_accept(l1, &fd, 10 * 1000000LL), -ETIMEDOUT);
    close(l1);
    unlink(path);
    cr_assert_eq(nct_count_fds(), fds0);
}
