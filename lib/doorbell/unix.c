/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/unix.c: a Unix socket at a path, and fds passed over it with
 * SCM_RIGHTS.  Received fds are close-on-exec, and a receive that gets more
 * than it asked for closes everything it got instead of leaking it.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"
#include "os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif
#ifdef MSG_CMSG_CLOEXEC
#define RECV_FLAGS MSG_CMSG_CLOEXEC
#else
#define RECV_FLAGS 0 /* set close-on-exec right after (a window a concurrent fork could see) */
#endif

/* Room for twice what a caller may ask for, so a sender that sends too many is seen and cleaned up. */
#define RECV_FD_ROOM (2 * CORTEX_FD_PASS_MAX)

static int make_addr(struct sockaddr_un *a, const char *path)
{
    if (!path || !path[0])
        return cortex__fail(EINVAL, "unix socket: empty path");
    size_t len = strlen(path);
    memset(a, 0, sizeof *a);
    if (len >= sizeof a->sun_path)
        return cortex__fail(ENAMETOOLONG, "unix socket path of %zu bytes is longer than %zu", len,
                            sizeof a->sun_path - 1);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path, path, len + 1);
    return 0;
}

int cortex_unix_listen(const char *path, int *ret_fd)
{
    struct sockaddr_un a;
    int rc, fd, type;
    if (!ret_fd)
        return cortex__fail(EINVAL, "cortex_unix_listen: NULL ret_fd");
    if ((rc = make_addr(&a, path)) < 0)
        return rc;
    if ((rc = cortex__unix_socket(NULL, &fd, &type, false)) < 0)
        return rc;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        rc = cortex__fail_sys(errno, "bind", errno, "cannot bind unix socket %s", path);
        close(fd);
        return rc;
    }
    if (listen(fd, 16) != 0) {
        rc = cortex__fail_sys(errno, "listen", errno, "cannot listen on unix socket %s", path);
        close(fd);
        unlink(path);
        return rc;
    }
    *ret_fd = fd;
    return 0;
}

static int wait_fd(int fd, short events, int64_t deadline, int64_t timeout_ns, const char *what)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, cortex__poll_ms(deadline));
        if (n > 0) {
            if (p.revents & POLLNVAL)
                return cortex__fail(EBADF, "%s: fd %d is not open", what, fd);
            return 0;
        }
        if (n < 0 && errno != EINTR)
            return cortex__fail_sys(errno, "poll", errno, "%s: fd %d", what, fd);
        if (n == 0 || cortex__poll_ms(deadline) == 0)
            return cortex__fail(ETIMEDOUT, "%s: fd %d not ready within %lld ns", what, fd, (long long)timeout_ns);
    }
}

int cortex_unix_accept(int listen_fd, int *ret_fd, int64_t timeout_ns)
{
    if (!ret_fd)
        return cortex__fail(EINVAL, "cortex_unix_accept: NULL ret_fd");
    int64_t deadline = cortex__deadline(timeout_ns);
    for (;;) {
        int rc = wait_fd(listen_fd, POLLIN, deadline, timeout_ns, "accept");
        if (rc < 0)
            return rc;
        int fd = cortex__os_accept(listen_fd); /* accept4 where the platform has it */
        if (fd < 0)
            errno = -fd;
        if (fd >= 0) {
            *ret_fd = fd;
            return 0;
        }
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
            return cortex__fail_sys(errno, "accept", errno, "cannot accept on fd %d", listen_fd);
    }
}

int cortex_unix_connect(const char *path, int *ret_fd, int64_t timeout_ns)
{
    struct sockaddr_un a;
    int rc, fd, type;
    if (!ret_fd)
        return cortex__fail(EINVAL, "cortex_unix_connect: NULL ret_fd");
    if ((rc = make_addr(&a, path)) < 0)
        return rc;
    int64_t deadline = cortex__deadline(timeout_ns);
    int64_t nap = 100000; /* 0.1 ms, doubling to 10 ms */
    for (;;) {
        if ((rc = cortex__unix_socket(NULL, &fd, &type, false)) < 0)
            return rc;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            *ret_fd = fd;
            return 0;
        }
        int e = errno;
        close(fd);
        if (e != ENOENT && e != ECONNREFUSED && e != EINTR && e != EAGAIN)
            return cortex__fail_sys(e, "connect", e, "cannot connect to unix socket %s", path);
        if (cortex__now_ns() >= deadline)
            return cortex__fail_sys(ETIMEDOUT, "connect", e, "no listener at unix socket %s within %lld ns", path,
                                    (long long)timeout_ns);
        cortex__sleep_ns(nap);
        nap = nap < 10000000 ? nap * 2 : nap;
    }
}

int cortex_fd_send(int sock, const void *data, size_t len, const int *fds, unsigned nfds)
{
    if (!data || len == 0 || len > 4096)
        return cortex__fail(EINVAL, "cortex_fd_send: %zu bytes of data; a message carries 1 to 4096", len);
    if (nfds > CORTEX_FD_PASS_MAX || (nfds && !fds))
        return cortex__fail(EINVAL, "cortex_fd_send: %u fds; at most %d per message", nfds, CORTEX_FD_PASS_MAX);
    for (unsigned i = 0; i < nfds; i++) {
        int rc = cortex__fd_check_open(fds[i], "cortex_fd_send");
        if (rc < 0)
            return rc;
    }
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * CORTEX_FD_PASS_MAX)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (nfds) {
        m.msg_control = ctl.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &m, SEND_FLAGS);
        if (n == (ssize_t)len)
            return 0;
        int e = errno;
        if (n >= 0)
            return cortex__fail(EIO, "fd %d: sent %zd of %zu bytes", sock, n, len);
        if (e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            int rc = wait_fd(sock, POLLOUT, INT64_MAX, -1, "send");
            if (rc < 0)
                return rc;
            continue;
        }
        if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
            return cortex__fail_sys(EPIPE, "sendmsg", e, "fd %d: the peer is gone", sock);
        return cortex__fail_sys(e, "sendmsg", e, "cannot send %u fd(s) over fd %d", nfds, sock);
    }
}

static void close_all(const int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
}

ssize_t cortex_fd_recv(int sock, void *buf, size_t len, int *fds, unsigned max_fds, unsigned *ret_nfds,
                       int64_t timeout_ns)
{
    if (!buf || len == 0 || (max_fds && !fds) || max_fds > CORTEX_FD_PASS_MAX)
        return cortex__fail(EINVAL, "cortex_fd_recv: bad buffer or more than %d fds asked for", CORTEX_FD_PASS_MAX);
    if (ret_nfds)
        *ret_nfds = 0;
    int64_t deadline = cortex__deadline(timeout_ns);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * RECV_FD_ROOM)];
    } ctl;
    for (;;) {
        int rc = wait_fd(sock, POLLIN, deadline, timeout_ns, "receive");
        if (rc < 0)
            return rc;
        struct iovec iov = {.iov_base = buf, .iov_len = len};
        struct msghdr m;
        memset(&m, 0, sizeof m);
        memset(&ctl, 0, sizeof ctl);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        ssize_t n = recvmsg(sock, &m, RECV_FLAGS | MSG_DONTWAIT);
        if (n < 0) {
            int e = errno;
            /* ECONNRESET: the peer closed with data of ours unread; what it sent may still be queued. */
            if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK || e == ECONNRESET)
                continue;
            return cortex__fail_sys(e, "recvmsg", e, "cannot receive on fd %d", sock);
        }
        /* Collect every fd that arrived, whatever happens next. */
        int got[RECV_FD_ROOM];
        unsigned ngot = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t bytes = c->cmsg_len > CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
            unsigned k = (unsigned)(bytes / sizeof(int));
            for (unsigned j = 0; j < k && ngot < RECV_FD_ROOM; j++)
                memcpy(&got[ngot++], CMSG_DATA(c) + j * sizeof(int), sizeof(int));
        }
#if RECV_FLAGS == 0
        for (unsigned j = 0; j < ngot; j++)
            cortex__set_cloexec(got[j], true);
#endif
        if (n == 0 && ngot == 0)
            return cortex__fail(EPIPE, "fd %d: the peer closed the connection", sock);
        if (m.msg_flags & MSG_CTRUNC) {
            close_all(got, ngot);
            return cortex__fail(EPROTO, "fd %d: the peer sent more fds than fit (control data truncated); closed "
                                        "the %u that arrived", sock, ngot);
        }
        if (m.msg_flags & MSG_TRUNC) {
            close_all(got, ngot);
            return cortex__fail(EPROTO, "fd %d: message longer than the %zu-byte buffer; closed the %u fd(s) "
                                        "that came with it", sock, len, ngot);
        }
        if (ngot > max_fds) {
            close_all(got, ngot);
            return cortex__fail(EPROTO, "fd %d: the peer sent %u fd(s), expected at most %u; closed them all",
                                sock, ngot, max_fds);
        }
        if (n == 0) {
            close_all(got, ngot);
            return cortex__fail(EPROTO, "fd %d: fds arrived without data; closed them", sock);
        }
        if (ngot)
            memcpy(fds, got, ngot * sizeof(int));
        if (ret_nfds)
            *ret_nfds = ngot;
        return n;
    }
}

int cortex_segment_recv(int sock, cortex_region **ret, const cortex_layout *expect, const cortex_opts *opts,
                        int64_t timeout_ns)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_segment_recv: NULL ret");
    char buf[256];
    int fd = -1;
    unsigned nfds = 0;
    ssize_t n = cortex_fd_recv(sock, buf, sizeof buf, &fd, 1, &nfds, timeout_ns);
    if (n < 0)
        return (int)n;
    if (nfds != 1)
        return cortex__fail(EPROTO, "fd %d: a %zd-byte message came without a segment fd", sock, n);
    int rc = cortex_fd_validate_segment(fd, expect);
    if (rc == 0)
        rc = cortex_region_attach(ret, CORTEX_KEY_FD(fd), expect, opts);
    close(fd);
    return rc;
}
