/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/doorbell.c: a doorbell is one end of a connected AF_UNIX
 * socket pair.  A ring is a one-byte message; rings coalesce while one is
 * unread; the kernel's end-of-file tells each end that the other is gone.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"
#include "atomic.h"
#include "os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define DB_SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)
#else
#define DB_SEND_FLAGS MSG_DONTWAIT /* SO_NOSIGPIPE is set on the socket instead */
#endif

/* A drain consumes at most this many rings per call, so a peer that rings without pause cannot hold it. */
#define DB_DRAIN_MAX 4096

int cortex_doorbell_pair(cortex_doorbell *ret_a, cortex_doorbell *ret_b)
{
    if (!ret_a || !ret_b)
        return cortex__fail(EINVAL, "cortex_doorbell_pair: NULL argument");
    int sv[2], type;
    int rc = cortex__unix_socket(sv, NULL, &type, true);
    if (rc < 0)
        return rc;
    ret_a->fd = sv[0];
    ret_a->type = type;
    ret_b->fd = sv[1];
    ret_b->type = type;
    return 0;
}

int cortex_doorbell_from_fd(cortex_doorbell *ret, int fd)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_doorbell_from_fd: NULL doorbell");
    int type, rc;
    if ((rc = cortex__doorbell_check(fd, &type, "doorbell")) < 0)
        return rc;
    if ((rc = cortex__set_cloexec(fd, true)) < 0)
        return cortex__fail_sys(-rc, "fcntl", -rc, "doorbell fd %d: cannot set close-on-exec", fd);
    if ((rc = cortex_fd_set_nonblocking(fd, true)) < 0)
        return rc;
    ret->fd = fd;
    ret->type = type;
    return 0;
}

static int closed_end(void) { return cortex__fail(EBADF, "doorbell end is closed"); }

static int peer_gone(const cortex_doorbell *b, const char *syscall, int e)
{
    return cortex__fail_sys(EPIPE, syscall, e, "doorbell fd %d: the peer's end is closed (peer gone)", b->fd);
}

int cortex_doorbell_signal(cortex_doorbell *b)
{
    if (!b || b->fd < 0)
        return closed_end();
    /*
     * Bytes we sent that the peer has not read yet.  A pending ring wakes
     * the peer anyway, and the peer consumes it before it looks at the
     * shared state, so this ring adds nothing: coalesce.  A closed peer
     * frees its queue, so a dead peer shows 0 here and the send below
     * reports it.
     *
     * That is a store-buffering pattern:
     *   signaller: store shared state;   FENCE; load the peer's unread count (ioctl)
     *   waiter:    dequeue the ring (recv, an atomic update of our count); FENCE; load shared state
     * Without the signaller's fence its store may still sit in its store
     * buffer while the ioctl reads a count the waiter is about to drain; the
     * waiter then reads the old state and sleeps, and the ring is skipped: a
     * lost wake.  A system call does not order them by itself (SYSCALL is
     * not serialising; only KPTI's CR3 write happens to be), so: a seq_cst
     * fence here, and one after every drain (cortex_doorbell_drain), so at
     * least one side sees the other's write (C11 7.17.4).
     */
    cortex__fence(CX_SEQ_CST); /* harmless where the count is unknown (lib/os: SIOCOUTQ on Linux) */
    if (cortex__os_sock_unread(b->fd) > 0)
        return CORTEX_DOORBELL_PENDING;
    for (;;) {
        ssize_t n = send(b->fd, "!", 1, DB_SEND_FLAGS);
        if (n == 1)
            return CORTEX_DOORBELL_SENT;
        int e = errno;
        if (n >= 0 || e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
            return CORTEX_DOORBELL_PENDING; /* the peer's queue is full of unread rings */
        if (e == EPIPE || e == ECONNRESET || e == ENOTCONN || e == ECONNREFUSED)
            return peer_gone(b, "send", e);
        if (e == EBADF || e == ENOTSOCK)
            return cortex__fail_sys(EBADF, "send", e, "doorbell fd %d is not open or not a socket", b->fd);
        return cortex__fail_sys(e, "send", e, "could not ring doorbell fd %d", b->fd);
    }
}

/*
 * One read of pending rings: > 0 rings read, 0 none queued, -EPIPE end of
 * file, other -errno.  On Linux one recvmmsg() takes up to 16 rings, and a
 * short batch means the queue is empty: a wake costs one read, not a read
 * and a second one that finds nothing.
 */
static int read_rings(cortex_doorbell *b, bool *more)
{
    char buf[64];
    *more = false;
    for (;;) {
        ssize_t n;
        enum { BATCH = 16 };
        bool eof;
        /* lib/os: recvmmsg on Linux; -ENOSYS where there is no batch read. */
        int got = b->type == SOCK_SEQPACKET ? cortex__os_recv_batch(b->fd, BATCH, &eof) : -ENOSYS;
        if (got > 0) {
            *more = got == BATCH; /* if it stopped at end of file, the next read reports it */
            return got;
        }
        if (got != -ENOSYS) {
            n = got == 0 ? 0 : -1; /* 0: end of file; < 0: its errno */
            errno = -got;
        } else {
            n = recv(b->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                /* seqpacket: one message is one ring; stream: one byte is one ring. */
                *more = b->type == SOCK_SEQPACKET || (size_t)n == sizeof buf;
                return b->type == SOCK_STREAM ? (int)n : 1;
            }
        }
        if (n == 0)
            return -EPIPE;
        int e = errno;
        /* ECONNRESET: the peer closed with rings of ours unread; its rings to us may still be queued. */
        if (e == EINTR || e == ECONNRESET)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return 0;
        if (e == EPIPE || e == ENOTCONN)
            return -EPIPE;
        return cortex__fail_sys(e == ENOTSOCK ? EBADF : e, "recv", e, "could not read doorbell fd %d", b->fd);
    }
}

int cortex_doorbell_drain(cortex_doorbell *b)
{
    if (!b || b->fd < 0)
        return closed_end();
    int rings = 0;
    bool more = true;
    while (more && rings < DB_DRAIN_MAX) {
        int n = read_rings(b, &more);
        if (n == -EPIPE) {
            /* End of file: deliver what was queued first, report the peer gone on the next call. */
            if (rings > 0)
                return rings;
            return peer_gone(b, "", 0);
        }
        if (n < 0)
            return n;
        if (n == 0)
            break;
        rings += n;
    }
    /* The waiter's half of the fence pair in cortex_doorbell_signal: the drain before the caller's loads. */
    cortex__fence(CX_SEQ_CST);
    return rings;
}

int cortex_doorbell_wait(cortex_doorbell *b, int64_t timeout_ns)
{
    if (!b || b->fd < 0)
        return closed_end();
    int64_t deadline = cortex__deadline(timeout_ns);
    /* Sleep first: a pending ring makes poll return at once, and the drain then reads it in one go. */
    bool slept = timeout_ns == 0;
    for (;;) {
        if (slept) {
            int rc = cortex_doorbell_drain(b);
            if (rc != 0)
                return rc > 0 ? 0 : rc;
        }
        int ms = cortex__poll_ms(deadline);
        if (ms == 0)
            return cortex__fail(ETIMEDOUT, "doorbell fd %d did not ring within %lld ns", b->fd,
                                (long long)timeout_ns);
        struct pollfd p = {.fd = b->fd, .events = POLLIN};
        int n = poll(&p, 1, ms);
        if (n < 0 && errno != EINTR)
            return cortex__fail_sys(errno, "poll", errno, "could not wait on doorbell fd %d", b->fd);
        if (n > 0 && (p.revents & POLLNVAL))
            return cortex__fail(EBADF, "doorbell fd %d is not open", b->fd);
        /* POLLIN, POLLHUP, EINTR or the timeout: the drain decides. */
        slept = true;
    }
}

int cortex_doorbell_fd(const cortex_doorbell *b) { return b ? b->fd : -1; }

int cortex_doorbell_release(cortex_doorbell *b)
{
    if (!b)
        return -1;
    int fd = b->fd;
    b->fd = -1;
    return fd;
}

void cortex_doorbell_close(cortex_doorbell *b)
{
    if (!b || b->fd < 0)
        return;
    close(b->fd);
    b->fd = -1;
}
