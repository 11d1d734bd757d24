/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/fd.c: what an fd is, checks before an fd is used, flags, and
 * putting fds on fixed numbers in a child between fork and exec.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int cortex__poll_ms(int64_t deadline_ns)
{
    if (deadline_ns == INT64_MAX)
        return -1;
    int64_t left = deadline_ns - cortex__now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int cortex__fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)INT_MAX)
        return INT_MAX;
    return (int)rl.rlim_cur;
}

int cortex__fd_check_open(int fd, const char *what)
{
    if (fd < 0)
        return cortex__fail(EBADF, "%s: fd %d is negative", what, fd);
    int limit = cortex__fd_limit();
    if (fd >= limit)
        return cortex__fail(EBADF, "%s: fd %d is beyond this process's fd limit (%d)", what, fd, limit);
    if (fcntl(fd, F_GETFD) < 0)
        return cortex__fail_sys(EBADF, "fcntl", errno, "%s: fd %d is not open", what, fd);
    return 0;
}

static void set_nosigpipe(int fd)
{
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    CORTEX_UNUSED(fd);
#endif
}

/* socket()/socketpair() with close-on-exec (and non-blocking) set atomically where the platform can. */
static int make_socket(int type, int sv[2], int *ret_fd, bool nonblock)
{
    int flags = 0;
#ifdef SOCK_CLOEXEC
    flags |= SOCK_CLOEXEC;
    if (nonblock)
        flags |= SOCK_NONBLOCK;
#endif
    int fds[2] = {-1, -1};
    int r = sv ? socketpair(AF_UNIX, type | flags, 0, fds) : (fds[0] = socket(AF_UNIX, type | flags, 0));
    if (r < 0)
        return -errno;
#ifndef SOCK_CLOEXEC
    for (int i = 0; i < (sv ? 2 : 1); i++) {
        cortex__set_cloexec(fds[i], true);
        if (nonblock)
            cortex_fd_set_nonblocking(fds[i], true);
    }
#endif
    for (int i = 0; i < (sv ? 2 : 1); i++)
        set_nosigpipe(fds[i]);
    if (sv) {
        sv[0] = fds[0];
        sv[1] = fds[1];
    } else {
        *ret_fd = fds[0];
    }
    return 0;
}

int cortex__unix_socket(int sv[2], int *ret_fd, int *ret_type, bool nonblock)
{
    /*
     * SOCK_SEQPACKET: connection-oriented (end of file and EPIPE when the
     * peer is gone, unlike SOCK_DGRAM), message-oriented (one ring is one
     * message).  Platforms without it for AF_UNIX (macOS) get SOCK_STREAM,
     * which keeps the end-of-file; a ring is then one byte.
     */
    int rc = make_socket(SOCK_SEQPACKET, sv, ret_fd, nonblock);
    int type = SOCK_SEQPACKET;
    if (rc == -EPROTONOSUPPORT || rc == -ESOCKTNOSUPPORT || rc == -EPROTOTYPE || rc == -EOPNOTSUPP) {
        rc = make_socket(SOCK_STREAM, sv, ret_fd, nonblock);
        type = SOCK_STREAM;
    }
    if (rc < 0)
        return cortex__fail_sys(-rc, sv ? "socketpair" : "socket", -rc, "could not create an AF_UNIX socket");
    *ret_type = type;
    return 0;
}

/* Kind of an fd known to be open; socket type and family through the pointers. */
static int classify(int fd, int *ret_type, int *ret_family)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cortex__fail_sys(EBADF, "fstat", errno, "fd %d is not open", fd);
    if (S_ISREG(st.st_mode))
        return CORTEX_FD_REGULAR;
    if (S_ISFIFO(st.st_mode))
        return CORTEX_FD_FIFO;
    if (S_ISCHR(st.st_mode))
        return CORTEX_FD_CHAR;
    if (S_ISDIR(st.st_mode))
        return CORTEX_FD_DIR;
    if (!S_ISSOCK(st.st_mode))
        return CORTEX_FD_OTHER;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0)
        return CORTEX_FD_SOCKET;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int family = getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 ? ss.ss_family : AF_UNSPEC;
    if (ret_type)
        *ret_type = type;
    if (ret_family)
        *ret_family = family;
    if (family != AF_UNIX)
        return CORTEX_FD_SOCKET;
    switch (type) {
    case SOCK_SEQPACKET: return CORTEX_FD_UNIX_SEQPACKET;
    case SOCK_STREAM: return CORTEX_FD_UNIX_STREAM;
    case SOCK_DGRAM: return CORTEX_FD_UNIX_DGRAM;
    default: return CORTEX_FD_SOCKET;
    }
}

int cortex_fd_kind_of(int fd)
{
    int rc = cortex__fd_check_open(fd, "cortex_fd_kind_of");
    if (rc < 0)
        return rc;
    return classify(fd, NULL, NULL);
}

const char *cortex_fd_kind_name(int kind)
{
    switch (kind) {
    case CORTEX_FD_REGULAR: return "regular file or memfd";
    case CORTEX_FD_UNIX_SEQPACKET: return "unix seqpacket socket";
    case CORTEX_FD_UNIX_STREAM: return "unix stream socket";
    case CORTEX_FD_UNIX_DGRAM: return "unix datagram socket";
    case CORTEX_FD_SOCKET: return "non-unix socket";
    case CORTEX_FD_FIFO: return "pipe or FIFO";
    case CORTEX_FD_CHAR: return "character device";
    case CORTEX_FD_DIR: return "directory";
    case CORTEX_FD_OTHER: return "other file";
    default: return "unknown";
    }
}

static bool is_socket_kind(int k)
{
    return k == CORTEX_FD_UNIX_SEQPACKET || k == CORTEX_FD_UNIX_STREAM || k == CORTEX_FD_UNIX_DGRAM ||
           k == CORTEX_FD_SOCKET;
}

/* Open and in range, then classified: the kind, or -errno (recorded). */
static int open_kind(int fd, const char *what, int *type, int *family)
{
    int rc = cortex__fd_check_open(fd, what);
    if (rc < 0)
        return rc;
    *type = 0;
    *family = 0;
    return classify(fd, type, family);
}

/* A socket was wanted and kind k was found: -ENOTSOCK or -EPROTO, naming it. */
static int wrong_socket(int fd, int k, int type, int family, const char *what, const char *wanted)
{
    if (!is_socket_kind(k))
        return cortex__fail(ENOTSOCK, "%s: fd %d is a %s, expected a %s", what, fd, cortex_fd_kind_name(k), wanted);
    return cortex__fail(EPROTO, "%s: fd %d is a %s (family %d, type %d), expected a %s", what, fd,
                        cortex_fd_kind_name(k), family, type, wanted);
}

static int check_kind(int fd, cortex_fd_kind want, const char *what)
{
    int type, family;
    int k = open_kind(fd, what, &type, &family);
    if (k < 0 || k == (int)want)
        return k < 0 ? k : 0;
    if (is_socket_kind((int)want))
        return wrong_socket(fd, k, type, family, what, cortex_fd_kind_name((int)want));
    if (want == CORTEX_FD_REGULAR)
        return cortex__fail(ENODEV, "%s: fd %d is a %s, expected a regular file or memfd", what, fd,
                            cortex_fd_kind_name(k));
    return cortex__fail(EPROTO, "%s: fd %d is a %s, expected a %s", what, fd, cortex_fd_kind_name(k),
                        cortex_fd_kind_name((int)want));
}

int cortex_fd_validate(int fd, cortex_fd_kind want)
{
    if (want < CORTEX_FD_REGULAR || want > CORTEX_FD_OTHER)
        return cortex__fail(EINVAL, "cortex_fd_validate: unknown fd kind %d", (int)want);
    return check_kind(fd, want, "cortex_fd_validate");
}

int cortex__doorbell_check(int fd, int *ret_type, const char *what)
{
    int type, family;
    int k = open_kind(fd, what, &type, &family);
    if (k < 0)
        return k;
    if (k == CORTEX_FD_UNIX_SEQPACKET || k == CORTEX_FD_UNIX_STREAM) {
        *ret_type = k == CORTEX_FD_UNIX_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;
        return 0;
    }
    return wrong_socket(fd, k, type, family, what, "unix seqpacket or stream socket");
}

int cortex_fd_validate_segment(int fd, const cortex_layout *expect)
{
    char what[48];
    int rc;
    snprintf(what, sizeof what, "segment fd %d", fd);
    if ((rc = check_kind(fd, CORTEX_FD_REGULAR, "segment")) < 0)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cortex__fail_sys(EBADF, "fstat", errno, "cannot stat %s", what);
    if (st.st_size < (off_t)CORTEX_HEADER_SIZE)
        return cortex__fail(EBADMSG, "%s is %lld bytes, smaller than a %u-byte neocortex header", what,
                            (long long)st.st_size, CORTEX_HEADER_SIZE);
    /* Map only the header, copy it, unmap: the copy is what gets checked. */
    void *p = mmap(NULL, CORTEX_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return cortex__fail_sys(errno == EACCES ? EACCES : ENODEV, "mmap", errno, "cannot map the header of %s",
                                what);
    cortex_seg_header h;
    memcpy(&h, p, sizeof h);
    munmap(p, CORTEX_HEADER_SIZE);
    return cortex_header_validate(&h, (uint64_t)st.st_size, expect, what);
}

int cortex_fd_set_nonblocking(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return cortex__fail_sys(errno, "fcntl", errno, "fd %d: cannot read its flags", fd);
    int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
        return cortex__fail_sys(errno, "fcntl", errno, "fd %d: cannot %s O_NONBLOCK", fd, on ? "set" : "clear");
    return 0;
}

int cortex_fd_set_cloexec(int fd, bool on)
{
    int rc = cortex__set_cloexec(fd, on);
    if (rc < 0)
        return cortex__fail_sys(-rc, "fcntl", -rc, "fd %d: cannot %s FD_CLOEXEC", fd, on ? "set" : "clear");
    return 0;
}

/* Async-signal-safe: no cortex__fail (it formats), only dup/dup2/fcntl/close and cortex__fail_const. */
int cortex_fd_inherit(const int *fds, const int *targets, unsigned n)
{
    enum { MAXN = 16 };
    static const char bad_args[] = "cortex_fd_inherit: NULL arrays, more than 16 fds, a negative fd or target, "
                                   "or a target named twice";
    int tmp[MAXN];
    if (n == 0)
        return 0;
    if (!fds || !targets || n > MAXN)
        return cortex__fail_const(EINVAL, NULL, 0, bad_args);
    int top = 0;
    for (unsigned i = 0; i < n; i++) {
        if (fds[i] < 0 || targets[i] < 0)
            return cortex__fail_const(EINVAL, NULL, 0, bad_args);
        for (unsigned j = 0; j < i; j++)
            if (targets[j] == targets[i])
                return cortex__fail_const(EINVAL, NULL, 0, bad_args);
        if (targets[i] > top)
            top = targets[i];
    }
    /* Copies above every target first, so no dup2 below overwrites a source still needed. */
    for (unsigned i = 0; i < n; i++) {
        tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, top + 1);
        if (tmp[i] < 0) {
            int e = errno;
            while (i-- > 0)
                close(tmp[i]);
            return cortex__fail_const(e, "fcntl", e, "cortex_fd_inherit: cannot copy an fd above the targets");
        }
    }
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        /* tmp[i] != targets[i], so dup2 makes a new descriptor, which has no FD_CLOEXEC. */
        while (dup2(tmp[i], targets[i]) < 0) {
            if (errno != EINTR) {
                rc = cortex__fail_const(errno, "dup2", errno, "cortex_fd_inherit: cannot move an fd to its target");
                break;
            }
        }
        if (rc < 0)
            break;
    }
    for (unsigned i = 0; i < n; i++)
        close(tmp[i]);
    return rc;
}
