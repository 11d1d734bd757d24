/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/doc_snippets.c: every C snippet of docs/doorbell.md,
 * compiled, and run where it can run inside one test program.  Keep the
 * two in step: a snippet changed in the docs is changed here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

#define CHECK(cond)                                                                                     \
    do {                                                                                                \
        if (!(cond)) {                                                                                  \
            fprintf(stderr, "%s:%d: %s failed (%s)\n", __FILE__, __LINE__, #cond,                      \
                    cortex_last_error()->message);                                                      \
            exit(1);                                                                                    \
        }                                                                                               \
    } while (0)

static void handle_requests(void) {}

/* docs: "A doorbell pair" */
static void snippet_pair(void)
{
    cortex_doorbell a, b;
    if (cortex_doorbell_pair(&a, &b) < 0) {
        fprintf(stderr, "%s\n", cortex_last_error()->message);
        return;
    }
    int rc = cortex_doorbell_signal(&a); /* CORTEX_DOORBELL_SENT, or _PENDING: coalesced */
    rc = cortex_doorbell_wait(&b, 100 * 1000000LL); /* 0, -ETIMEDOUT, or -EPIPE: peer gone */
    CHECK(rc == 0);
    cortex_doorbell_close(&a);
    rc = cortex_doorbell_wait(&b, -1); /* returns -EPIPE at once: a never blocks forever */
    CHECK(rc == -EPIPE);
    cortex_doorbell_close(&b);
}

/* docs: "In your own poll loop" */
static void snippet_poll_loop(cortex_doorbell *bell)
{
    struct pollfd p = {.fd = cortex_doorbell_fd(bell), .events = POLLIN};
    if (poll(&p, 1, -1) > 0) {
        int rings = cortex_doorbell_drain(bell); /* consume first ... */
        if (rings == -EPIPE)
            return;          /* the peer is gone */
        handle_requests();   /* ... then look at the shared state */
    }
}

/* docs: "The host" */
static int snippet_host(const char *worker)
{
    cortex_region *seg;
    cortex_layout layout = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    int rc = cortex_region_create(&seg, CORTEX_KEY_MEMFD("jobs"), &layout, NULL, NULL, NULL);
    if (rc < 0)
        return rc;
    pid_t pid;
    cortex_doorbell bell;
    char *argv[] = {(char *)worker, NULL};
    rc = cortex_spawn(&pid, &bell, worker, argv, NULL, cortex_region_fd(seg));
    if (rc < 0) {
        cortex_region_close(seg);
        return rc;
    }
    /* ... write into cortex_region_payload(seg), cortex_doorbell_signal(&bell),
       cortex_doorbell_wait(&bell, timeout) ... */
    cortex_doorbell_close(&bell);
    waitpid(pid, NULL, 0);
    cortex_region_close(seg);
    return 0;
}

/* docs: "The worker" */
static int snippet_worker(int argc, char **argv)
{
    cortex_doorbell bell;
    cortex_region *seg;
    cortex_layout expect = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    int rc = cortex_child_attach(argc, argv, &bell, &seg, &expect, NULL);
    if (rc < 0) {
        fprintf(stderr, "worker: %s\n", cortex_last_error()->message);
        return 2;
    }
    /* ... cortex_doorbell_wait(&bell, -1), read the payload, answer, signal ... */
    cortex_doorbell_close(&bell);
    cortex_region_close(seg);
    return 0;
}

/* docs: "fork and exec by hand" */
static pid_t snippet_fork(const char *program, cortex_doorbell *child_end, cortex_region *seg)
{
    pid_t pid = fork();
    if (pid == 0) {
        int from[2] = {cortex_doorbell_fd(child_end), cortex_region_fd(seg)};
        int to[2] = {3, 4};
        if (cortex_fd_inherit(from, to, 2) != 0)
            _exit(127);
        setenv(CORTEX_FDS_ENV, "doorbell:3,segment:4", 1);
        execl(program, program, (char *)NULL);
        _exit(127);
    }
    cortex_doorbell_close(child_end); /* the parent's copy: without this, the child's death goes unseen */
    return pid;
}

/* docs: "To an unrelated process" (sender, then receiver) */
static int snippet_send(int sock, cortex_region *seg, cortex_doorbell *theirs)
{
    int fds[2] = {cortex_region_fd(seg), cortex_doorbell_fd(theirs)};
    int rc = cortex_fd_send(sock, "hello", 5, fds, 2);
    cortex_doorbell_close(theirs); /* the receiver has its own copy now */
    return rc;
}

static int snippet_receive(int sock, cortex_region **seg, cortex_doorbell *bell)
{
    char msg[16];
    int fds[2];
    unsigned n;
    ssize_t len = cortex_fd_recv(sock, msg, sizeof msg, fds, 2, &n, 5 * 1000000000LL);
    if (len < 0)
        return (int)len; /* more than 2 fds sent: all closed, -EPROTO */
    if (n != 2) {
        for (unsigned i = 0; i < n; i++)
            close(fds[i]);
        return -EPROTO;
    }
    cortex_layout expect = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    int rc = cortex_fd_validate_segment(fds[0], &expect);
    if (rc == 0)
        rc = cortex_region_attach(seg, CORTEX_KEY_FD(fds[0]), &expect, NULL);
    close(fds[0]); /* the region keeps its own copy */
    if (rc == 0 && (rc = cortex_doorbell_from_fd(bell, fds[1])) < 0)
        cortex_region_close(*seg);
    if (rc < 0)
        close(fds[1]);
    return rc;
}

int main(int argc, char **argv)
{
    if (getenv(CORTEX_FDS_ENV)) /* started by snippet_host or snippet_fork below */
        return snippet_worker(argc, argv);
    int fds0 = nct_count_fds();
    snippet_pair();

    cortex_doorbell a, b;
    CHECK(cortex_doorbell_pair(&a, &b) == 0);
    CHECK(cortex_doorbell_signal(&a) == CORTEX_DOORBELL_SENT);
    snippet_poll_loop(&b);
    CHECK(cortex_doorbell_wait(&b, 0) == -ETIMEDOUT);

    /* The host snippet starting this same program as its worker. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = '\0';
    CHECK(snippet_host(self) == 0);

    /* fork by hand, then the worker snippet in the child. */
    cortex_region *seg = NULL;
    cortex_layout layout = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    CHECK(cortex_region_create(&seg, CORTEX_KEY_MEMFD("doc"), &layout, NULL, NULL, NULL) == 0);
    cortex_doorbell mine, theirs;
    CHECK(cortex_doorbell_pair(&mine, &theirs) == 0);
    pid_t pid = snippet_fork(self, &theirs, seg);
    CHECK(nct_wait(pid, 10000) == 0);
    CHECK(cortex_doorbell_wait(&mine, 1000000000LL) == -EPIPE);
    cortex_doorbell_close(&mine);
    CHECK(cortex_doorbell_pair(&mine, &theirs) == 0);

    /* Over a socket pair standing in for a Unix socket between unrelated processes. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(snippet_send(sv[0], seg, &theirs) == 0);
    cortex_region *got = NULL;
    cortex_doorbell gb;
    CHECK(snippet_receive(sv[1], &got, &gb) == 0);
    strcpy(cortex_region_payload(seg), "shared");
    CHECK(strcmp(cortex_region_payload(got), "shared") == 0);
    CHECK(cortex_doorbell_signal(&gb) == CORTEX_DOORBELL_SENT);
    CHECK(cortex_doorbell_wait(&mine, 1000000000LL) == 0);
    cortex_region_close(got);
    cortex_doorbell_close(&gb);
    cortex_doorbell_close(&mine);
    cortex_region_close(seg);
    close(sv[0]);
    close(sv[1]);
    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    CHECK(nct_count_fds() == fds0);
    printf("doc snippets ok\n");
    return 0;
}
