/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/wake.c: the doorbell's fast wake path (Linux).
 *
 * The socket pair stays what tells each end that the other is gone and what
 * carries the doorbell to another process.  Next to it, cortex_doorbell_pair()
 * makes a small shared page (memfd) with one line per end, and one eventfd
 * per end to sleep on:
 *
 *   line[i].has_page      end i has the page and clears these flags (withdrawn by
 *                         release and close, whose fd may live on without the page;
 *                         claimed back by a holder with it at its next wait or drain)
 *   line[i].waits         end i waits in cortex_doorbell_wait() (set there, cleared
 *                         by cortex_doorbell_fd(): a caller's own poll loop watches the socket)
 *   line[i].sleeping      end i is inside wait, asleep or about to be
 *   line[i].pending       a ring for end i through the page, not consumed yet
 *   line[i].sock_pending  a ring for end i on the socket, not read yet (coalescing)
 *   line[i].looked        when end i last looked at the socket for a ring that
 *                         coalesced into an awake peer's flag (its own note)
 *
 * A ring for a peer that waits in cortex_doorbell_wait() is one exchange on
 * shared memory, plus one eventfd write if the peer sleeps; the sleeper
 * waits in an epoll set that holds its eventfd (edge-triggered, so it never
 * reads it) and the socket (level: a ring sent on the socket, or the
 * peer's death, wakes it as before).  A peer in a caller's own poll loop,
 * or an end without the shared page, is rung on the socket as before.
 *
 * The shared page and both eventfds travel to each end in one setup message
 * queued on the socket at pair time (SCM_RIGHTS); cortex_doorbell_from_fd()
 * takes it if it is still there.  Everything in the page is a flag: a peer
 * that writes garbage there can cost wake-ups, never memory safety.
 *
 * Plain C11 atomics, not lib/atomic.h: these words are never model-checked
 * and must not be routed through the model build's hooks.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"
#include "os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef CORTEX_DB_FAST
#include <sys/mman.h>
#endif

#ifdef CORTEX_DB_FAST

/* The setup message: tag, then the index of the end it is queued for. */
#define DB_SETUP_TAG "ncdbwak1"
#define DB_SETUP_LEN 12
#define DB_PAGE 4096

typedef struct {
    _Atomic uint32_t has_page;     /* this end has the page and clears the flags */
    _Atomic uint32_t waits;        /* this end waits in cortex_doorbell_wait(): ring it through the page */
    _Atomic uint32_t sleeping;     /* inside wait, asleep or about to be */
    _Atomic uint32_t pending;      /* rung through the page, not consumed yet */
    _Atomic uint32_t sock_pending; /* rung on the socket, not read yet (coalescing) */
    uint32_t spare;
    _Atomic uint64_t looked;       /* this end's last look at the socket for a coalesced ring (monotonic ns) */
    unsigned char pad[32];
} db_line;

_Static_assert(sizeof(db_line) == 64, "one line per end");

typedef struct {
    db_line line[2];
} db_page;

_Static_assert(sizeof(db_page) <= DB_PAGE, "the shared page holds both lines");

enum { EV_WAKE = 0, EV_SOCK = 1 };

static db_page *page_of(const cortex_doorbell *b) { return (db_page *)b->shared; }

bool cortex__db_is_setup(const void *data, size_t len)
{
    return len == DB_SETUP_LEN && memcmp(data, DB_SETUP_TAG, 8) == 0;
}

static void close_if(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void cortex__db_fast_drop(cortex_doorbell *b, bool withdraw)
{
    if (!b->shared)
        return;
    /*
     * Released or closed: another copy of the fd may live on (sent, or
     * inherited by an exec'd child) with a holder that has no page; the
     * peer must send every ring until a holder with the page claims its
     * line again (claim_line()).  A holder that does have it (a forked
     * copy) claims it back at its next wait, drain or cortex_doorbell_fd().
     */
    if (withdraw) {
        atomic_store_explicit(&page_of(b)->line[b->side].waits, 0, memory_order_seq_cst);
        atomic_store_explicit(&page_of(b)->line[b->side].has_page, 0, memory_order_seq_cst);
    }
    munmap(b->shared, DB_PAGE);
    b->shared = NULL;
    close_if(&b->peer_wake_fd);
    close_if(&b->poll_fd);
}

/*
 * Maps @memfd and builds this end's epoll set; takes @peer_wake_fd.  Its own
 * eventfd is only registered, not kept: the registration lives as long as
 * the eventfd does, that is while the peer holds it, which is as long as
 * anyone can ring it.  0 or -errno (not recorded); @wake_fd is never closed.
 */
static int fast_attach(cortex_doorbell *b, int memfd, unsigned side, int wake_fd, int peer_wake_fd)
{
    void *p = mmap(NULL, DB_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (p == MAP_FAILED)
        return -errno;
    int ep = cortex__os_wait_set(wake_fd, EV_WAKE, b->fd, EV_SOCK); /* lib/os: epoll, the eventfd edge-triggered */
    if (ep < 0) {
        munmap(p, DB_PAGE);
        return ep;
    }
    b->shared = p;
    b->side = side;
    db_line *me = &((db_page *)p)->line[side];
    /* A new holder: it neither waits nor sleeps yet (whatever an earlier holder left). */
    atomic_store_explicit(&me->waits, 0, memory_order_seq_cst);
    atomic_store_explicit(&me->sleeping, 0, memory_order_seq_cst);
    atomic_store_explicit(&me->looked, 0, memory_order_relaxed);
    atomic_store_explicit(&me->has_page, 1, memory_order_seq_cst);
    b->peer_wake_fd = peer_wake_fd;
    b->poll_fd = ep;
    return 0;
}

static int dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }

/* Queues the setup message for end @side on @from (the other end's socket). */
static int send_setup(int from, unsigned side, int memfd, int efd_side, int efd_other)
{
    unsigned char data[DB_SETUP_LEN];
    memcpy(data, DB_SETUP_TAG, 8);
    uint32_t s = side;
    memcpy(data + 8, &s, 4);
    int fds[3] = {memfd, efd_side, efd_other};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t n;
    do
        n = sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof data ? 0 : -errno;
}

void cortex__db_fast_pair(cortex_doorbell *a, cortex_doorbell *b)
{
    /* Best effort: without the fast path both ends ring on the socket, as before. */
    bool sealed;
    const char *call;
    int memfd = cortex__os_memfd("neocortex-doorbell", DB_PAGE, &sealed, &call); /* lib/os: sized and sealed */
    if (memfd < 0)
        return;
    int efd[2] = {cortex__os_eventfd(), cortex__os_eventfd()}; /* lib/os: close-on-exec, non-blocking */
    int dups[2] = {-1, -1};
    if (efd[0] < 0 || efd[1] < 0 || !sealed) /* unsealed (no memfd): the peer would refuse the page */
        goto fail;
    if (send_setup(b->fd, 0, memfd, efd[0], efd[1]) != 0 || send_setup(a->fd, 1, memfd, efd[1], efd[0]) != 0)
        goto fail_queued;
    dups[0] = dup_cloexec(efd[0]);
    dups[1] = dup_cloexec(efd[1]);
    if (dups[0] < 0 || dups[1] < 0)
        goto fail_queued;
    if (fast_attach(a, memfd, 0, efd[0], efd[1]) != 0)
        goto fail_queued;
    efd[1] = -1; /* a holds it */
    if (fast_attach(b, memfd, 1, dups[1], dups[0]) != 0) {
        cortex__db_fast_drop(a, false); /* closes efd[1] */
        goto fail_queued;
    }
    close(memfd);
    close(efd[0]);  /* registered in a's set; b holds its copy */
    close(dups[1]); /* registered in b's set; a holds its copy */
    return;
fail_queued:
    /* Take back what was queued: an end handed on later must not find a page its peer does not use. */
    for (int i = 0; i < 2; i++)
        cortex__db_discard_setup(i ? b : a);
fail:
    for (int i = 0; i < 2; i++) {
        close_if(&efd[i]);
        close_if(&dups[i]);
    }
    close(memfd);
}

/*
 * Reads the message at the head of the queue if it is a setup message:
 * its bytes into @data (16), every fd that came with it into @got (16).
 * The length, or -1 if the head is something else (left unread) or nothing.
 */
static ssize_t recv_setup(int sock, unsigned char *data, int *got, int *ret_ngot, int *ret_flags)
{
    *ret_ngot = 0;
    ssize_t n;
    do
        n = recv(sock, data, 16, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 || !cortex__db_is_setup(data, (size_t)n))
        return -1;
    union {
        char buf[CMSG_SPACE(16 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = data, .iov_len = 16};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    do
        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    /* Every fd that arrived, so none leaks whatever the message was. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && *ret_ngot < 16; i++)
            memcpy(&got[(*ret_ngot)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    *ret_flags = mh.msg_flags;
    return n;
}

void cortex__db_discard_setup(cortex_doorbell *b)
{
    unsigned char data[16];
    int got[16], ngot, flags;
    recv_setup(b->fd, data, got, &ngot, &flags);
    for (int i = 0; i < ngot; i++)
        close(got[i]);
}

/* Is @fd an eventfd?  (An fd that came from a peer could be anything.) */
static bool is_eventfd(int fd) { return cortex__os_is_eventfd(fd) == 1; }

/* Checks the received shared page: a sealed memfd of at least one page. */
static bool page_ok(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < DB_PAGE)
        return false;
    return cortex__os_fd_sealed(fd) == 1; /* lib/os: F_GET_SEALS */
}

void cortex__db_fast_take(cortex_doorbell *b)
{
    if (b->type != SOCK_SEQPACKET)
        return;
    unsigned char data[16];
    int got[16], ngot, flags = 0;
    /* No setup message: handed on after it was read, or not made by cortex_doorbell_pair: socket only. */
    ssize_t n = recv_setup(b->fd, data, got, &ngot, &flags);
    uint32_t side = UINT32_MAX;
    if (n > 0 && cortex__db_is_setup(data, (size_t)n))
        memcpy(&side, data + 8, 4);
    bool ok = ngot == 3 && !(flags & (MSG_CTRUNC | MSG_TRUNC)) && side <= 1 && page_ok(got[0]) &&
              is_eventfd(got[1]) && is_eventfd(got[2]);
    /* Never block on the peer's eventfd: O_NONBLOCK is on the shared file already; make sure. */
    if (ok && fcntl(got[2], F_SETFL, O_NONBLOCK) == 0 && fast_attach(b, got[0], side, got[1], got[2]) == 0) {
        close(got[0]);
        close(got[1]); /* registered in the epoll set; the peer holds its copy */
        return;
    }
    for (int i = 0; i < ngot; i++)
        close(got[i]);
}

/* Is the peer gone?  One look at the socket, no reading. */
#define DB_LOOK_EVERY_NS INT64_C(1000000)
static bool peer_closed(const cortex_doorbell *b)
{
    struct pollfd p = {.fd = b->fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

int cortex__db_fast_signal(cortex_doorbell *b)
{
    db_line *peer = &page_of(b)->line[b->side ^ 1u];
    if (atomic_load_explicit(&peer->has_page, memory_order_relaxed) == 0)
        return DB_USE_SOCKET; /* an end without the page clears no flag: every ring is sent */
    bool waits = atomic_load_explicit(&peer->waits, memory_order_seq_cst) != 0;
    _Atomic uint32_t *flag = waits ? &peer->pending : &peer->sock_pending;
    if (atomic_exchange_explicit(flag, 1, memory_order_seq_cst) != 0) {
        /*
         * Coalesced: whoever raised the flag woke the peer.  It may have
         * died since: look at the socket.  Not every time for a peer awake
         * in its wait protocol: its flag stays up whenever its loop finds
         * the data there before it calls wait (a ping-pong does so half of
         * the time), and a look is a system call.  Such a peer is looked at
         * at most once a millisecond; a peer marked asleep (asleep, or
         * killed asleep) and one rung on the socket at every such ring.
         */
        if (waits && atomic_load_explicit(&peer->sleeping, memory_order_seq_cst) == 0) {
            _Atomic uint64_t *looked = &page_of(b)->line[b->side].looked;
            uint64_t now = (uint64_t)cortex__now_ns(), last = atomic_load_explicit(looked, memory_order_relaxed);
            if (now >= last && now - last < (uint64_t)DB_LOOK_EVERY_NS)
                return CORTEX_DOORBELL_PENDING;
            atomic_store_explicit(looked, now, memory_order_relaxed);
        }
        if (peer_closed(b))
            return cortex__db_peer_gone(b, "poll", 0);
        return CORTEX_DOORBELL_PENDING;
    }
    if (!waits)
        return DB_USE_SOCKET; /* its own poll loop watches the socket: send, once until it reads */
    /*
     * The flag is up, then the look (pairs with the waiter's store of
     * sleeping, then its look at the flag): awake, it sees the flag at its
     * next wait and no system call is made; asleep, or about to be, it
     * gets an edge on its eventfd, which its epoll set keeps until it sleeps.
     */
    if (atomic_load_explicit(&peer->sleeping, memory_order_seq_cst) == 0)
        return CORTEX_DOORBELL_SENT;
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(b->peer_wake_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof one)
        return CORTEX_DOORBELL_SENT;
    /* A counter at its maximum (a hostile peer) or a broken fd: ring on the socket as well. */
    return DB_USE_SOCKET;
}

/*
 * This end has the page: says so again if a closed or released copy of it
 * withdrew the line (cortex__db_fast_drop()).  The socket-ring flag is
 * cleared first: one left up by an earlier holder would make the peer
 * coalesce every ring into it; a ring sent twice is only a spare wake-up.
 */
static void claim_line(const cortex_doorbell *b)
{
    db_line *me = &page_of(b)->line[b->side];
    if (atomic_load_explicit(&me->has_page, memory_order_relaxed) != 0)
        return;
    atomic_store_explicit(&me->sock_pending, 0, memory_order_seq_cst);
    atomic_store_explicit(&me->has_page, 1, memory_order_seq_cst);
}

void cortex__db_fast_mode(const cortex_doorbell *b, bool waits)
{
    claim_line(b);
    _Atomic uint32_t *w = &page_of(b)->line[b->side].waits;
    if (atomic_load_explicit(w, memory_order_relaxed) != (uint32_t)waits)
        atomic_store_explicit(w, waits, memory_order_seq_cst);
}

void cortex__db_fast_sock_read(cortex_doorbell *b)
{
    claim_line(b);
    /* Before the read: a ring after this is sent again, one before it is queued already. */
    atomic_store_explicit(&page_of(b)->line[b->side].sock_pending, 0, memory_order_seq_cst);
}

int cortex__db_fast_take_flag(cortex_doorbell *b)
{
    return atomic_exchange_explicit(&page_of(b)->line[b->side].pending, 0, memory_order_seq_cst) != 0;
}

int cortex__db_fast_sleep(cortex_doorbell *b, int ms, bool *ret_sock)
{
    db_line *me = &page_of(b)->line[b->side];
    *ret_sock = false;
    atomic_store_explicit(&me->sleeping, 1, memory_order_seq_cst);
    int rang = atomic_exchange_explicit(&me->pending, 0, memory_order_seq_cst) != 0;
    int rc = 0;
    if (!rang) {
        uint32_t tags[2];
        int n = cortex__os_wait_set_wait(b->poll_fd, tags, 2, ms);
        if (n < 0 && n != -EINTR)
            rc = cortex__fail_sys(-n, "epoll_wait", -n, "could not wait on doorbell fd %d", b->fd);
        for (int i = 0; i < n; i++)
            if (tags[i] == EV_SOCK)
                *ret_sock = true;
    }
    atomic_store_explicit(&me->sleeping, 0, memory_order_seq_cst);
    /* A ring that saw us asleep just before we stopped: take it now, not at the next wait. */
    if (atomic_exchange_explicit(&me->pending, 0, memory_order_seq_cst) != 0)
        rang = 1;
    return rc < 0 ? rc : rang;
}

#endif /* CORTEX_DB_FAST */
