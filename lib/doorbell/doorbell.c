/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/doorbell.c: a doorbell is one end of a connected AF_UNIX
 * socket pair.  A ring is a one-byte message; rings coalesce while one is
 * unread; the kernel's end-of-file tells each end that the other is gone.
 * A peer asleep in cortex_doorbell_wait() is rung through the shared page
 * and its eventfd instead (wake.c); the socket still reports its death.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"
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
    *ret_a = (cortex_doorbell)CORTEX_DOORBELL_INIT;
    *ret_b = (cortex_doorbell)CORTEX_DOORBELL_INIT;
    ret_a->fd = sv[0];
    ret_a->type = type;
    ret_b->fd = sv[1];
    ret_b->type = type;
#ifdef CORTEX_DB_FAST
    if (type == SOCK_SEQPACKET)
        cortex__db_fast_pair(ret_a, ret_b);
#endif
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
    *ret = (cortex_doorbell)CORTEX_DOORBELL_INIT;
    ret->fd = fd;
    ret->type = type;
#ifdef CORTEX_DB_FAST
    cortex__db_fast_take(ret);
#endif
    return 0;
}

static int closed_end(void) { return cortex__fail(EBADF, "doorbell end is closed"); }

int cortex__db_peer_gone(const cortex_doorbell *b, const char *syscall, int e)
{
    return cortex__fail_sys(EPIPE, syscall, e, "doorbell fd %d: the peer's end is closed (peer gone)", b->fd);
}

int cortex_doorbell_signal(cortex_doorbell *b)
{
    if (!b || b->fd < 0)
        return closed_end();
#ifdef CORTEX_DB_FAST
    if (b->shared) {
        int rc = cortex__db_fast_signal(b);
        if (rc != DB_USE_SOCKET)
            return rc;
    }
#endif
    /*
     * Coalescing is the page's flag (wake.c); without the page every ring
     * is sent, and rings coalesce only when the peer's queue is full.
     */
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
            return cortex__db_peer_gone(b, "send", e);
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
    /* Batches of setup messages only (not rings) skipped in this call: a peer that keeps sending them
     * must not keep the caller here; after DB_DRAIN_MAX messages the call returns, the rest stays queued. */
    int skipped = 0;
    for (;;) {
        ssize_t n = -2; /* -2: no batch read, one recv below */
        if (b->type == SOCK_SEQPACKET) {
            enum { BATCH = 16 };
            char msgs[BATCH][16]; /* a ring is one byte; a setup message is not a ring */
            size_t lens[BATCH];
            bool eof;
            /* lib/os: recvmmsg on Linux; -ENOSYS where there is no batch read (then recv below). */
            int got = cortex__os_recv_batch(b->fd, BATCH, msgs, sizeof msgs[0], lens, &eof);
            if (got >= 0) {
                /* Fds that came with a message were closed by the kernel (no room for them: MSG_CTRUNC). */
                int rings = 0;
                for (int i = 0; i < got; i++)
                    if (!cortex__db_is_setup(msgs[i], lens[i]))
                        rings++;
                if (got == 0)
                    return -EPIPE;
                *more = got == BATCH; /* if it stopped at end of file, the next read reports it */
                if (rings == 0 && eof)
                    return -EPIPE; /* only setup messages, then end of file */
                if (rings == 0 && *more) {
                    if (++skipped < DB_DRAIN_MAX / BATCH)
                        continue;
                    return 0;
                }
                return rings;
            }
            if (got != -ENOSYS) {
                n = -1;
                errno = -got;
            }
        }
        if (n == -2) {
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

/* Every ring queued on the socket: the count, -EPIPE (end of file and nothing queued), -errno. */
static int drain_socket(cortex_doorbell *b)
{
#ifdef CORTEX_DB_FAST
    if (b->shared)
        cortex__db_fast_sock_read(b);
#endif
    int rings = 0;
    bool more = true;
    while (more && rings < DB_DRAIN_MAX) {
        int n = read_rings(b, &more);
        if (n == -EPIPE) {
            /* End of file: deliver what was queued first, report the peer gone on the next call. */
            if (rings > 0)
                return rings;
            return cortex__db_peer_gone(b, "", 0);
        }
        if (n < 0)
            return n;
        if (n == 0)
            break;
        rings += n;
    }
    return rings;
}

int cortex_doorbell_drain(cortex_doorbell *b)
{
    if (!b || b->fd < 0)
        return closed_end();
#ifdef CORTEX_DB_FAST
    if (b->shared) {
        /* A ring goes either through the eventfd (the flag) or on the socket: add them. */
        int flag = cortex__db_fast_take_flag(b);
        int rings = drain_socket(b);
        if (flag && rings == -EPIPE)
            return 1; /* a ring before the end of file is delivered first */
        return rings < 0 ? rings : rings + flag;
    }
#endif
    return drain_socket(b);
}

static int timed_out(const cortex_doorbell *b, int64_t timeout_ns)
{
    return cortex__fail(ETIMEDOUT, "doorbell fd %d did not ring within %lld ns", b->fd, (long long)timeout_ns);
}

#ifdef CORTEX_DB_FAST
/* wait with the shared page: sleep in the epoll set of the eventfd and the socket. */
static int wait_fast(cortex_doorbell *b, int64_t timeout_ns, int64_t deadline)
{
    if (timeout_ns != 0) /* a look (timeout 0) never sleeps: it leaves a caller's poll loop as it is */
        cortex__db_fast_mode(b, true); /* from now on the peer rings through the page */
    for (;;) {
        int ms = cortex__poll_ms(deadline);
        bool sock = true; /* the last look (ms == 0) reads the socket too */
        int rang;
        if (ms != 0) {
            if ((rang = cortex__db_fast_sleep(b, ms, &sock)) < 0)
                return rang;
        } else {
            rang = cortex__db_fast_take_flag(b);
        }
        if (sock) {
            /* A ring on the socket, the setup message, or the peer's end of file. */
            int n = drain_socket(b);
            if (n > 0)
                rang = 1;
            else if (n < 0 && !(rang && n == -EPIPE))
                return n;
        }
        if (rang)
            return 0;
        if (ms == 0)
            return timed_out(b, timeout_ns);
    }
}
#endif

int cortex_doorbell_wait(cortex_doorbell *b, int64_t timeout_ns)
{
    if (!b || b->fd < 0)
        return closed_end();
    int64_t deadline = cortex__deadline(timeout_ns);
#ifdef CORTEX_DB_FAST
    if (b->shared)
        return wait_fast(b, timeout_ns, deadline);
#endif
    /* Sleep first: a pending ring makes poll return at once, and the drain then reads it in one go. */
    bool slept = timeout_ns == 0;
    for (;;) {
        if (slept) {
            int rc = drain_socket(b);
            if (rc != 0)
                return rc > 0 ? 0 : rc;
        }
        int ms = cortex__poll_ms(deadline);
        if (ms == 0)
            return timed_out(b, timeout_ns);
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

int cortex_doorbell_fd(const cortex_doorbell *b)
{
    if (!b)
        return -1;
#ifdef CORTEX_DB_FAST
    if (b->shared && b->fd >= 0)
        cortex__db_fast_mode(b, false); /* the caller may poll the socket: the peer rings on it again */
#endif
    return b->fd;
}

int cortex_doorbell_release(cortex_doorbell *b)
{
    if (!b)
        return -1;
    int fd = b->fd;
    b->fd = -1;
#ifdef CORTEX_DB_FAST
    cortex__db_fast_drop(b, true); /* whoever takes the fd over takes the page from its setup message, if still queued */
#endif
    return fd;
}

static void close_end(cortex_doorbell *b, bool withdraw)
{
    if (!b || b->fd < 0)
        return;
#ifdef CORTEX_DB_FAST
    cortex__db_fast_drop(b, withdraw);
#else
    CORTEX_UNUSED(withdraw);
#endif
    close(b->fd);
    b->fd = -1;
}

/* A copy of the fd may live on (sent, inherited): the peer rings it on the socket until a holder claims the page. */
void cortex_doorbell_close(cortex_doorbell *b) { close_end(b, true); }

void cortex__db_close_unused(cortex_doorbell *b) { close_end(b, false); }
