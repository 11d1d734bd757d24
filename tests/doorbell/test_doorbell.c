/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/test_doorbell.c: the doorbell, fd checks and the fd spec,
 * in one process.  Every test checks that the fd table is the same size at
 * its end as at its start.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mailbox.h"
#include "nctest.h"

TestSuite(doorbell, .fini = nct_cleanup, .timeout = 30);

#define MSG cortex_last_error()->message

Test(doorbell, signal_then_wait)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    cr_assert_eq(cortex_fd_kind_of(cortex_doorbell_fd(&a)), CORTEX_FD_UNIX_SEQPACKET);
    cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT, "nothing rang yet");
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&b, 0), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT, "the ring was consumed by the first wait");
    /* Both directions. */
    cr_assert_eq(cortex_doorbell_signal(&b), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&a, -1), 0, "%s", MSG);
    /* Close-on-exec and non-blocking, both ends. */
    int ends[2] = {cortex_doorbell_fd(&a), cortex_doorbell_fd(&b)};
    for (int i = 0; i < 2; i++) {
        cr_assert(fcntl(ends[i], F_GETFD) & FD_CLOEXEC);
        cr_assert(fcntl(ends[i], F_GETFL) & O_NONBLOCK);
    }
    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    cortex_doorbell_close(&b); /* twice is fine */
    cr_assert_eq(cortex_doorbell_fd(&b), -1);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(doorbell, many_signals_one_wake)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    int sent = 0, pending = 0;
    for (int i = 0; i < 1000; i++) {
        int rc = cortex_doorbell_signal(&a);
        cr_assert(rc == CORTEX_DOORBELL_SENT || rc == CORTEX_DOORBELL_PENDING, "signal %d: %d", i, rc);
        if (rc == CORTEX_DOORBELL_SENT)
            sent++;
        else
            pending++;
    }
    cr_assert_eq(sent + pending, 1000);
    cr_assert_geq(sent, 1);
    /* Coalesced into at most what the queue holds, never 1000 separate wake-ups. */
#ifdef __linux__
    cr_assert_eq(sent, 1, "on Linux exactly one ring is queued, the other 999 coalesce (sent %d)", sent);
#endif
    cr_assert_lt(sent, 1000);
    cr_assert_eq(cortex_doorbell_wait(&b, 0), 0);
    cr_assert_eq(cortex_doorbell_wait(&b, 0), -ETIMEDOUT, "one wake for all the signals");
    cr_assert_eq(cortex_doorbell_drain(&b), 0);
    /* Once consumed, the next signal is sent again. */
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_drain(&b), 1);
    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(doorbell, wait_times_out)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    int64_t t0 = nct_now_ms();
    cr_assert_eq(cortex_doorbell_wait(&b, 60 * 1000000LL), -ETIMEDOUT);
    int64_t took = nct_now_ms() - t0;
    cr_assert_geq(took, 60, "returned after %lld ms, before its 60 ms timeout", (long long)took);
    cr_assert_eq(cortex_last_error()->code, -ETIMEDOUT);
    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(doorbell, closed_peer_is_reported)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    /* A ring sent before the close is still delivered, then the peer is reported gone. */
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cortex_doorbell_close(&a);
    cr_assert_eq(cortex_doorbell_wait(&b, -1), 0);
    cr_assert_eq(cortex_doorbell_wait(&b, -1), -EPIPE, "a closed peer must not block a wait forever");
    cr_assert_eq(cortex_doorbell_drain(&b), -EPIPE);
    cr_assert_eq(cortex_doorbell_signal(&b), -EPIPE, "%s", MSG);
    cr_assert(strstr(MSG, "peer gone"), "message: %s", MSG);
    /* Pending rings in a closed peer's queue do not make a signal look merely coalesced. */
    cortex_doorbell_close(&b);
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cortex_doorbell_close(&b);
    cr_assert_eq(cortex_doorbell_signal(&a), -EPIPE);
    cortex_doorbell_close(&a);
    cr_assert_eq(cortex_doorbell_signal(&a), -EBADF);
    cr_assert_eq(cortex_doorbell_wait(&a, 0), -EBADF);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(doorbell, poll_loop_and_release)
{
    int fds0 = nct_count_fds();
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0, "%s", MSG);
    struct pollfd p = {.fd = cortex_doorbell_fd(&b), .events = POLLIN};
    /* A new end is readable once (the pair's setup message): a drain takes it and finds no ring. */
    cr_assert_eq(cortex_doorbell_drain(&b), 0);
    cr_assert_eq(poll(&p, 1, 0), 0);
    cr_assert_eq(cortex_doorbell_signal(&a), CORTEX_DOORBELL_SENT);
    cr_assert_eq(poll(&p, 1, 1000), 1);
    cr_assert(p.revents & POLLIN);
    cr_assert_eq(cortex_doorbell_drain(&b), 1);
    cr_assert_eq(poll(&p, 1, 0), 0, "drained: no longer readable");
    cortex_doorbell_close(&a);
    cr_assert_eq(poll(&p, 1, 1000), 1);
    cr_assert(p.revents & (POLLHUP | POLLIN), "peer gone shows in poll");
    /* release hands the fd out; from_fd takes it back after checking it. */
    int fd = cortex_doorbell_release(&b);
    cr_assert_geq(fd, 0);
    cr_assert_eq(cortex_doorbell_fd(&b), -1);
    cortex_doorbell c;
    cr_assert_eq(cortex_doorbell_from_fd(&c, fd), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_wait(&c, -1), -EPIPE);
    cortex_doorbell_close(&c);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(doorbell, from_fd_refuses_what_is_not_a_doorbell)
{
    int fds0 = nct_count_fds();
    cortex_doorbell d = CORTEX_DOORBELL_INIT;
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    cr_assert_eq(cortex_doorbell_from_fd(&d, pfd[0]), -ENOTSOCK);
    cr_assert(strstr(MSG, "pipe"), "message names what it found: %s", MSG);
    cr_assert_eq(fcntl(pfd[0], F_GETFD) >= 0, 1, "a refused fd stays open and the caller's");
    int mfd = memfd_create("nct", MFD_CLOEXEC);
    cr_assert_eq(cortex_doorbell_from_fd(&d, mfd), -ENOTSOCK);
    int dg[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg), 0);
    cr_assert_eq(cortex_doorbell_from_fd(&d, dg[0]), -EPROTO, "%s", MSG);
    cr_assert(strstr(MSG, "datagram"), "message: %s", MSG);
    int closed = pfd[1];
    close(closed);
    cr_assert_eq(cortex_doorbell_from_fd(&d, closed), -EBADF);
    cr_assert(strstr(MSG, "not open"), "message: %s", MSG);
    cr_assert_eq(cortex_doorbell_from_fd(&d, -5), -EBADF);
    cr_assert_eq(cortex_doorbell_from_fd(&d, 1 << 30), -EBADF);
    cr_assert(strstr(MSG, "limit"), "message: %s", MSG);
    cr_assert_eq(d.fd, -1, "nothing was taken");
    close(pfd[0]);
    close(mfd);
    close(dg[0]);
    close(dg[1]);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(doorbell, fd_kinds_and_flags)
{
    int fds0 = nct_count_fds();
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    int mfd = memfd_create("nct", MFD_CLOEXEC);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int st[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
    int inet = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(cortex_fd_kind_of(pfd[0]), CORTEX_FD_FIFO);
    cr_assert_eq(cortex_fd_kind_of(mfd), CORTEX_FD_REGULAR);
    cr_assert_eq(cortex_fd_kind_of(nul), CORTEX_FD_CHAR);
    cr_assert_eq(cortex_fd_kind_of(dir), CORTEX_FD_DIR);
    cr_assert_eq(cortex_fd_kind_of(st[0]), CORTEX_FD_UNIX_STREAM);
    if (inet >= 0)
        cr_assert_eq(cortex_fd_kind_of(inet), CORTEX_FD_SOCKET);
    cr_assert_eq(cortex_fd_validate(mfd, CORTEX_FD_REGULAR), 0);
    cr_assert_eq(cortex_fd_validate(pfd[0], CORTEX_FD_REGULAR), -ENODEV);
    cr_assert_eq(cortex_fd_validate(pfd[0], CORTEX_FD_UNIX_SEQPACKET), -ENOTSOCK);
    cr_assert_eq(cortex_fd_validate(st[0], CORTEX_FD_UNIX_SEQPACKET), -EPROTO);
    cr_assert_eq(cortex_fd_validate(st[0], (cortex_fd_kind)99), -EINVAL);
    /* A stream socket is a valid doorbell end too (the portable fallback); a ring is one byte. */
    cortex_doorbell x, y;
    cr_assert_eq(cortex_doorbell_from_fd(&x, st[0]), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_from_fd(&y, st[1]), 0, "%s", MSG);
    cr_assert_eq(cortex_doorbell_signal(&x), CORTEX_DOORBELL_SENT);
    cr_assert_eq(cortex_doorbell_wait(&y, -1), 0);
    cortex_doorbell_close(&x);
    cr_assert_eq(cortex_doorbell_wait(&y, -1), -EPIPE);
    cortex_doorbell_close(&y);
    /* Flags. */
    cr_assert_eq(cortex_fd_set_nonblocking(pfd[0], true), 0);
    cr_assert(fcntl(pfd[0], F_GETFL) & O_NONBLOCK);
    cr_assert_eq(cortex_fd_set_nonblocking(pfd[0], false), 0);
    cr_assert_eq(fcntl(pfd[0], F_GETFL) & O_NONBLOCK, 0);
    cr_assert_eq(cortex_fd_set_cloexec(pfd[0], false), 0);
    cr_assert_eq(fcntl(pfd[0], F_GETFD) & FD_CLOEXEC, 0);
    cr_assert_eq(cortex_fd_set_cloexec(pfd[0], true), 0);
    cr_assert(fcntl(pfd[0], F_GETFD) & FD_CLOEXEC);
    int closed = pfd[1];
    close(closed);
    cr_assert_eq(cortex_fd_set_nonblocking(closed, true), -EBADF);
    cr_assert_eq(cortex_fd_kind_of(closed), -EBADF);
    close(pfd[0]);
    close(mfd);
    close(nul);
    close(dir);
    if (inet >= 0)
        close(inet);
    cr_assert_eq(nct_count_fds(), fds0);
}

/* A memfd segment holding a mailbox. */
static cortex_region *mailbox_segment(void)
{
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_MEMFD("nct-mailbox"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    return r;
}

Test(doorbell, segment_validation)
{
    int fds0 = nct_count_fds();
    cortex_region *r = mailbox_segment();
    int fd = cortex_region_fd(r);
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_fd_validate_segment(fd, NULL), 0, "%s", MSG);
    cr_assert_eq(cortex_fd_validate_segment(fd, &l), 0, "%s", MSG);
    cortex_layout other = l;
    other.payload_size = 4096;
    other.elem_size = 0;
    other.type_name = NULL;
    cr_assert_eq(cortex_fd_validate_segment(fd, &other), -EPROTO);
    cr_assert(strstr(MSG, "expected 4096"), "message: %s", MSG);
    other = l;
    other.kind = CORTEX_KIND_RING;
    cr_assert_eq(cortex_fd_validate_segment(fd, &other), -EPROTO);
    cr_assert(strstr(MSG, "ring"), "message: %s", MSG);
    cortex_region_close(r);

    /* Zeros, garbage, too small, a pipe. */
    int z = memfd_create("nct-zero", MFD_CLOEXEC);
    cr_assert_eq(ftruncate(z, 4096), 0);
    cr_assert_eq(cortex_fd_validate_segment(z, NULL), -EBADMSG);
    cr_assert(strstr(MSG, "not a neocortex segment"), "message: %s", MSG);
    char junk[512];
    memset(junk, 0xa5, sizeof junk);
    cr_assert_eq(pwrite(z, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    cr_assert_eq(cortex_fd_validate_segment(z, NULL), -EBADMSG);
    cr_assert_eq(ftruncate(z, 100), 0);
    cr_assert_eq(cortex_fd_validate_segment(z, NULL), -EBADMSG);
    cr_assert(strstr(MSG, "smaller"), "message: %s", MSG);
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    cr_assert_eq(cortex_fd_validate_segment(pfd[0], NULL), -ENODEV);
    close(pfd[1]);
    cr_assert_eq(cortex_fd_validate_segment(pfd[1], NULL), -EBADF);
    close(pfd[0]);
    close(z);
    cr_assert_eq(nct_count_fds(), fds0);
}

/* A real segment whose header was damaged after it was made: checksum or size lie. */
Test(doorbell, segment_with_a_damaged_header)
{
    int fds0 = nct_count_fds();
    cortex_region *r = mailbox_segment();
    int fd = cortex_region_fd(r);
    cortex_seg_header h;
    cr_assert_eq(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    cortex_seg_header bad = h;
    bad.payload_size += 1; /* checksum no longer matches */
    cr_assert_eq(pwrite(fd, &bad, sizeof bad, 0), (ssize_t)sizeof bad);
    cr_assert_eq(cortex_fd_validate_segment(fd, NULL), -EBADMSG);
    cr_assert(strstr(MSG, "checksum"), "message: %s", MSG);
    bad = h;
    bad.version = 99;
    cr_assert_eq(pwrite(fd, &bad, sizeof bad, 0), (ssize_t)sizeof bad);
    cr_assert_eq(cortex_fd_validate_segment(fd, NULL), -EPROTO);
    cr_assert(strstr(MSG, "version 99"), "message: %s", MSG);
    cr_assert_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    cr_assert_eq(cortex_fd_validate_segment(fd, NULL), 0, "%s", MSG);
    cortex_region_close(r);
    cr_assert_eq(nct_count_fds(), fds0);
}
