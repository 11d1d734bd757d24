/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/doorbell.h
 * @brief Waking a peer process, passing fds, handing a segment to a child.
 *
 * **Doorbell.**  A pair of connected AF_UNIX sockets (SOCK_SEQPACKET where
 * the platform has it, SOCK_STREAM otherwise), close-on-exec and
 * non-blocking.  One end rings (cortex_doorbell_signal()), the other sleeps
 * until it rings (cortex_doorbell_wait()) or puts cortex_doorbell_fd() into
 * its own poll/epoll loop and calls cortex_doorbell_drain() on POLLIN.  A
 * socket, and not only an eventfd, because the kernel tells each end when
 * the other one is gone (the last holder closed it, or the process died):
 * then signal returns -EPIPE and wait returns -EPIPE at once instead of
 * sleeping forever.
 *
 * **Wake path (Linux).**  cortex_doorbell_pair() also gives the two ends a
 * shared page (a sealed memfd) and one eventfd each.  A peer that waits in
 * cortex_doorbell_wait() is rung through them: a flag in the page, and an
 * eventfd write only if it sleeps; it sleeps in an epoll set of its eventfd
 * and the socket, so the peer's death still wakes it at once.  An end whose
 * socket you poll yourself (cortex_doorbell_fd()) is rung on the socket.
 * The page and eventfds reach an end handed to another process in a setup
 * message queued on its socket at pair time, which cortex_doorbell_from_fd()
 * takes and checks; an end handed on after it was used falls back to the
 * socket alone (same behaviour, slower).  On Linux an end holds three fds:
 * the socket, its epoll set and the peer's eventfd.
 *
 * Rings coalesce: while one ring is unread, further rings are not queued
 * (signal returns CORTEX_DOORBELL_PENDING) and the waiter wakes once.  The
 * waiter must therefore consume the ring (wait and drain do) *before* it
 * looks at the shared state the ring announces; a ring sent after that is
 * seen by the next wait.
 *
 * **Fds to a child.**  Every fd the library opens is close-on-exec.  A
 * child gets exactly the fds it is handed: cortex_spawn() dup2()s them onto
 * fixed numbers in that one child only (posix_spawn file actions), and
 * tells it the numbers in the environment variable #CORTEX_FDS_ENV
 * (`NEOCORTEX_FDS=doorbell:3,segment:4`); a program may pass the same text
 * as an argument `--neocortex-fds=doorbell:3,segment:4` instead.  The child
 * calls cortex_child_attach(), which parses and validates the text and the
 * fds (an AF_UNIX socket of the doorbell's type; a regular file or memfd
 * that holds a valid neocortex header of the right size) before it uses them.
 *
 * **Fds to an unrelated process.**  cortex_fd_send() / cortex_fd_recv()
 * pass fds over a Unix socket with SCM_RIGHTS (received close-on-exec; any
 * fd beyond what the caller asked for is closed, never leaked);
 * cortex_unix_listen(), cortex_unix_accept() and cortex_unix_connect() make
 * the socket.
 */
#ifndef NEOCORTEX_DOORBELL_H
#define NEOCORTEX_DOORBELL_H

#include <neocortex/export.h>
#include <neocortex/region.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

CORTEX_BEGIN_DECLS

/* ---- doorbell ------------------------------------------------------------ */

/**
 * One end of a doorbell.  Treat the fields as private; zero-initialise or
 * use CORTEX_DOORBELL_INIT for an end that holds nothing (fd -1).
 */
typedef struct cortex_doorbell {
    int fd;           /**< The socket, or -1 (private). */
    int type;         /**< SOCK_SEQPACKET or SOCK_STREAM (private). */
    int peer_wake_fd; /**< Eventfd the peer sleeps on, when @c shared is set (private). */
    int poll_fd;      /**< Epoll set of this end's eventfd and @c fd, when @c shared is set (private). */
    unsigned side;    /**< This end's line in the shared page, 0 or 1 (private). */
    void *shared;     /**< The pair's shared page (fast wake path), or NULL (private). */
} cortex_doorbell;

/** An end that holds nothing; closing it is a no-op. */
#define CORTEX_DOORBELL_INIT {-1, 0, -1, -1, 0, NULL}

/** cortex_doorbell_signal(): the ring was sent. */
#define CORTEX_DOORBELL_SENT 0
/** cortex_doorbell_signal(): a ring was already pending, this one coalesced into it. */
#define CORTEX_DOORBELL_PENDING 1

/**
 * Makes a connected pair of doorbell ends (close-on-exec, non-blocking).
 * Keep one, hand the other to the peer (cortex_spawn(), cortex_fd_send(),
 * or cortex_fd_inherit() after fork) and close your copy of it.  On Linux
 * the pair also gets its shared page and eventfds (the wake path, see the
 * file's description); if they cannot be made (out of fds), the pair is
 * made without them and rings on the socket alone.  Each end's socket then
 * holds one setup message until the end first reads it: a new end's fd may
 * show POLLIN once, and a drain of it returns 0.
 * @return 0; -EMFILE/-ENFILE (out of fds) or another -errno of socketpair.
 */
CORTEX_API CORTEX_NODISCARD int cortex_doorbell_pair(cortex_doorbell *ret_a, cortex_doorbell *ret_b);

/**
 * Takes over @p fd (inherited or received) as a doorbell end after checking
 * that it is an open AF_UNIX socket of a doorbell's type; makes it
 * close-on-exec and non-blocking.  If the pair's setup message is still
 * queued on it, takes the shared page and eventfds from it (checked: a
 * sealed memfd of a page and two eventfds; anything else is closed and the
 * end rings on the socket alone).  On success the doorbell owns @p fd; on
 * failure @p fd is left as it was (still open, the caller's).
 * @return 0; -EBADF (not open), -ENOTSOCK (another kind of file, named in
 *         the message), -EPROTO (a socket of another family or type).
 */
CORTEX_API CORTEX_NODISCARD int cortex_doorbell_from_fd(cortex_doorbell *ret, int fd);

/**
 * Rings the peer.  Never blocks.  A peer that waits in
 * cortex_doorbell_wait() is rung through the shared page (no system call
 * while it is awake, one eventfd write while it sleeps).
 * @return CORTEX_DOORBELL_SENT, CORTEX_DOORBELL_PENDING (the peer has not
 *         consumed the previous ring yet: coalesced), -EPIPE (the peer's end
 *         is closed: the peer is gone), -EBADF (this end is closed).  A
 *         peer that died inside wait may take one more ring as SENT; the
 *         ring after that reports -EPIPE.
 */
CORTEX_API int cortex_doorbell_signal(cortex_doorbell *bell);

/**
 * Sleeps until the peer rings, then consumes every pending ring.
 * @param bell        this end.
 * @param timeout_ns  < 0 waits forever, 0 only looks; a timeout is rounded up
 *                    to whole milliseconds (poll()).
 * @return 0 (rang), -ETIMEDOUT, -EPIPE (the peer is gone and no ring is
 *         left unread; returned at once, also with a negative timeout),
 *         -EBADF.  EINTR is retried within the timeout.
 */
CORTEX_API int cortex_doorbell_wait(cortex_doorbell *bell, int64_t timeout_ns);

/**
 * Consumes every pending ring without blocking (call it on POLLIN from
 * your own poll loop).  One call reads at most 4096 messages from the
 * socket, so a peer that keeps sending cannot keep it here; what is left
 * keeps the fd readable for the next call.
 * @return the number of rings consumed (0: none), -EPIPE (the peer is gone
 *         and nothing was pending), -EBADF.
 */
CORTEX_API int cortex_doorbell_drain(cortex_doorbell *bell);

/**
 * The fd to watch for POLLIN (POLLHUP: peer gone), or -1.  Do not read or
 * close it yourself.  From this call on, the peer rings this end on the
 * socket (so your poll sees it) until this end waits in
 * cortex_doorbell_wait() again with a timeout other than 0 (then get the
 * fd again before you go back to polling it).  A ring sent while an end that has waited
 * switches to your poll loop may be held in the shared page: call
 * cortex_doorbell_drain() once after this call, before the first poll.
 */
CORTEX_API int cortex_doorbell_fd(const cortex_doorbell *bell);

/**
 * Gives up the fd without closing it (for handing it on); the end then
 * holds nothing (its page and eventfds are closed; the peer then rings on
 * the socket).  @return the fd, or -1.
 */
CORTEX_API int cortex_doorbell_release(cortex_doorbell *bell);

/**
 * Closes this end (the peer then sees -EPIPE once no other copy of the fd
 * is open).  A copy may live on (sent, inherited by a child): as after
 * cortex_doorbell_release(), the peer rings on the socket until a holder
 * with the pair's page waits, drains or calls cortex_doorbell_fd() again.
 * NULL and closed ends are fine.
 */
CORTEX_API void cortex_doorbell_close(cortex_doorbell *bell);

/* ---- fd helpers ---------------------------------------------------------- */

/** What an fd refers to (cortex_fd_kind()). */
typedef enum cortex_fd_kind {
    CORTEX_FD_REGULAR = 1,     /**< Regular file, memfd or POSIX shm object: a segment can live here. */
    CORTEX_FD_UNIX_SEQPACKET,  /**< AF_UNIX SOCK_SEQPACKET socket. */
    CORTEX_FD_UNIX_STREAM,     /**< AF_UNIX SOCK_STREAM socket. */
    CORTEX_FD_UNIX_DGRAM,      /**< AF_UNIX SOCK_DGRAM socket. */
    CORTEX_FD_SOCKET,          /**< A socket of another family. */
    CORTEX_FD_FIFO,            /**< Pipe or FIFO. */
    CORTEX_FD_CHAR,            /**< Character device (a terminal, /dev/null). */
    CORTEX_FD_DIR,             /**< Directory. */
    CORTEX_FD_OTHER            /**< Anything else (eventfd and other anonymous inodes show as this or CHAR). */
} cortex_fd_kind;

/** @return the ::cortex_fd_kind of @p fd, or -EBADF if it is not open. */
CORTEX_API int cortex_fd_kind_of(int fd);

/** Name of a ::cortex_fd_kind ("regular file", "unix seqpacket socket", ...). */
CORTEX_API const char *cortex_fd_kind_name(int kind);

/**
 * Checks that @p fd is open and of kind @p want.
 * @return 0; -EBADF (negative, beyond the fd limit, or not open), -ENOTSOCK
 *         (wanted a socket), -EPROTO (a socket of another family or type),
 *         -ENODEV (wanted a regular file).  The message names what was found.
 */
CORTEX_API int cortex_fd_validate(int fd, cortex_fd_kind want);

/**
 * Checks that @p fd holds a neocortex segment: a regular file or memfd at
 * least as large as its header says, with a valid header that matches
 * @p expect (NULL: structure only).  Reads only the header; maps nothing
 * for longer than the check.
 * @return 0; -EBADF, -ENODEV (not a regular file), -EBADMSG (no or corrupt
 *         header, or smaller than the header says), -EPROTO (another kind,
 *         type or size than @p expect).
 */
CORTEX_API int cortex_fd_validate_segment(int fd, const cortex_layout *expect);

/** Sets or clears O_NONBLOCK.  @return 0 or -errno. */
CORTEX_API int cortex_fd_set_nonblocking(int fd, bool on);

/** Sets or clears FD_CLOEXEC.  @return 0 or -errno. */
CORTEX_API int cortex_fd_set_cloexec(int fd, bool on);

/**
 * For the child between fork() and exec(): puts @p fds[i] on fd number
 * @p targets[i] without FD_CLOEXEC, so exactly these survive the exec (every
 * other library fd is close-on-exec).  Sources and targets may overlap in
 * any order.  Async-signal-safe (dup2/fcntl only).  At most 16 fds.
 * @return 0 or -errno (-EINVAL for bad arguments).
 */
CORTEX_API int cortex_fd_inherit(const int *fds, const int *targets, unsigned n);

/* ---- the fd convention between a host and its child ----------------------- */

/** Environment variable that tells a child its fds: "doorbell:3,segment:4". */
#define CORTEX_FDS_ENV "NEOCORTEX_FDS"
/** The argument form of the same text: "--neocortex-fds=doorbell:3,segment:4". */
#define CORTEX_FDS_ARG "--neocortex-fds="
/** Entry name of the doorbell end. */
#define CORTEX_FDNAME_DOORBELL "doorbell"
/** Entry name of the segment. */
#define CORTEX_FDNAME_SEGMENT "segment"
/** fd number cortex_spawn() gives the doorbell in the child. */
#define CORTEX_SPAWN_DOORBELL_FD 3
/** fd number cortex_spawn() gives the segment in the child. */
#define CORTEX_SPAWN_SEGMENT_FD 4
/** Most entries in one fd spec. */
#define CORTEX_FDSPEC_MAX 16
/** Longest entry name, in bytes. */
#define CORTEX_FDSPEC_NAME_MAX 31
/** Longest fd spec text accepted, in bytes. */
#define CORTEX_FDSPEC_TEXT_MAX 1024

/** A parsed fd spec: names and fd numbers. */
typedef struct cortex_fdspec {
    unsigned count; /**< Entries used. */
    struct {
        char name[CORTEX_FDSPEC_NAME_MAX + 1]; /**< [a-z0-9_-], 1 to 31 bytes. */
        int fd;                                /**< 3 .. the process's fd limit - 1. */
    } entry[CORTEX_FDSPEC_MAX]; /**< The entries, in the order given. */
} cortex_fdspec;

/**
 * Parses "name:fd[,name:fd...]".  Checks syntax only, strictly: names of
 * [a-z0-9_-] (1-31 bytes), decimal numbers without sign, spaces or leading
 * zeros, from 3 (0-2 are stdio) to the soft RLIMIT_NOFILE - 1, no name and
 * no number twice, at most CORTEX_FDSPEC_MAX entries, at most
 * CORTEX_FDSPEC_TEXT_MAX bytes.  Does not look at the fds.
 * @return 0; -EINVAL (syntax, or a name or number given twice; the message
 *         says where), -ERANGE (number out of range), -EOVERFLOW (too many
 *         entries, or the text is too long).
 */
CORTEX_API int cortex_fdspec_parse(cortex_fdspec *ret, const char *text);

/**
 * Writes @p spec as text ("doorbell:3,segment:4") into @p buf.
 * @return the length, or -ENAMETOOLONG if @p len is too small, -EINVAL.
 */
CORTEX_API int cortex_fdspec_format(const cortex_fdspec *spec, char *buf, size_t len);

/** @return the fd of entry @p name, or -ENOENT. */
CORTEX_API int cortex_fdspec_find(const cortex_fdspec *spec, const char *name);

/**
 * Finds and parses the fd spec of this process: the argument
 * `--neocortex-fds=...` in @p argv if there is one (argc may be 0 and argv
 * NULL), else the environment variable #CORTEX_FDS_ENV.
 * @return 0; -ENOENT (neither is there), or what cortex_fdspec_parse() returns.
 */
CORTEX_API int cortex_fdspec_from_process(cortex_fdspec *ret, int argc, char *const *argv);

/* ---- spawning a child with a segment and a doorbell ------------------------ */

/**
 * Starts @p path (a path, not searched in PATH) the way a host starts a
 * plugin: a new doorbell pair is made, its child end becomes fd
 * CORTEX_SPAWN_DOORBELL_FD in the child, @p segment_fd (if >= 0, e.g.
 * cortex_region_fd() of a memfd segment) becomes fd
 * CORTEX_SPAWN_SEGMENT_FD, and the child's environment is @p envp (NULL:
 * this process's) with #CORTEX_FDS_ENV set to name them.  No other fd of
 * this process reaches the child unless it was already inheritable.  The
 * parent's copy of the child end is closed before returning, so the
 * doorbell reports the child's death.
 *
 * @param ret_pid    the child's pid (reap it with waitpid).
 * @param ret_bell   the parent's end of the doorbell.
 * @param path       the program to start.
 * @param argv       the child's argv (NULL: just @p path).
 * @param envp       the child's environment (NULL: this process's).
 * @param segment_fd an fd to hand over as the segment, or -1.
 * @return 0; -ENOENT / -EACCES (cannot start @p path), -EBADF (bad
 *         @p segment_fd), -ENOMEM, or another -errno of posix_spawn.
 *         Nothing is left open on failure.
 */
CORTEX_API CORTEX_NODISCARD int cortex_spawn(pid_t *ret_pid, cortex_doorbell *ret_bell, const char *path,
                                             char *const argv[], char *const envp[], int segment_fd);

/**
 * The child side of cortex_spawn(): finds the fd spec (argument or
 * environment, see cortex_fdspec_from_process()), validates the fds and
 * takes them over.  The doorbell end becomes @p ret_bell (if not NULL);
 * the segment is attached with @p expect and @p opts into @p ret_region (if
 * not NULL) and its inherited fd closed.  Both are made close-on-exec so a
 * grandchild does not inherit them, and #CORTEX_FDS_ENV is removed from the
 * environment.  On failure nothing is taken over.
 * @return 0; -ENOENT (no spec, or no entry for something asked for), the
 *         parse errors, -EBADF / -ENOTSOCK / -EPROTO / -ENODEV / -EBADMSG
 *         for an fd that is not what its name says, or an attach error.
 */
CORTEX_API CORTEX_NODISCARD int cortex_child_attach(int argc, char *const *argv, cortex_doorbell *ret_bell,
                                                    cortex_region **ret_region, const cortex_layout *expect,
                                                    const cortex_opts *opts);

/* ---- fds over a Unix socket (SCM_RIGHTS) ---------------------------------- */

/** Most fds one cortex_fd_send()/cortex_fd_recv() message carries. */
#define CORTEX_FD_PASS_MAX 8

/**
 * Creates a listening AF_UNIX socket (seqpacket where available) at
 * @p path, close-on-exec.  The path must not exist; unlink it when done.
 * @return 0; -ENAMETOOLONG (longer than sun_path), -EADDRINUSE, -errno.
 */
CORTEX_API CORTEX_NODISCARD int cortex_unix_listen(const char *path, int *ret_fd);

/**
 * Accepts one connection within @p timeout_ns (< 0 forever).  The new
 * socket is close-on-exec and blocking.
 * @return 0; -ETIMEDOUT, -errno.
 */
CORTEX_API CORTEX_NODISCARD int cortex_unix_accept(int listen_fd, int *ret_fd, int64_t timeout_ns);

/**
 * Connects to the socket at @p path, retrying while it does not exist yet
 * or refuses, until @p timeout_ns (< 0 forever).  Close-on-exec, blocking.
 * @return 0; -ETIMEDOUT (with the last error in the message), -errno.
 */
CORTEX_API CORTEX_NODISCARD int cortex_unix_connect(const char *path, int *ret_fd, int64_t timeout_ns);

/**
 * Sends @p len bytes of @p data (1 to 4096; a message must carry data)
 * with @p nfds fds (0 to CORTEX_FD_PASS_MAX) in one message.  The fds stay
 * open here; the receiver gets its own copies.  Never raises SIGPIPE.
 * When the socket's queue is full (the peer does not read) it waits for
 * room with no time limit, also on a non-blocking socket: a peer that is
 * alive and never reads keeps it waiting; one that closes or dies ends the
 * wait with -EPIPE.
 * @return 0; -EPIPE (peer gone), -EINVAL, -errno.
 */
CORTEX_API int cortex_fd_send(int sock, const void *data, size_t len, const int *fds, unsigned nfds);

/**
 * Receives one message of up to @p len bytes into @p buf and up to
 * @p max_fds fds into @p fds (close-on-exec).  Fds beyond @p max_fds, a
 * truncated control message, or fds in a message longer than @p len: every
 * received fd is closed and the call fails (-EPROTO), so none leaks.
 * @param sock       a connected Unix socket.
 * @param buf        where the data goes.
 * @param len        room at @p buf.
 * @param fds        where the received fds go.
 * @param max_fds    room at @p fds.
 * @param ret_nfds   number of fds stored in @p fds.
 * @param timeout_ns < 0 waits forever.
 * @return the number of bytes received (> 0); -EPIPE (peer closed),
 *         -ETIMEDOUT, -EPROTO, -errno.
 */
CORTEX_API ssize_t cortex_fd_recv(int sock, void *buf, size_t len, int *fds, unsigned max_fds,
                                  unsigned *ret_nfds, int64_t timeout_ns);

/**
 * Receives one message that must carry exactly one fd holding a neocortex
 * segment, validates it (cortex_fd_validate_segment()) and attaches it
 * with @p expect and @p opts.  The received fd is closed either way (the
 * region keeps its own copy).
 * @return 0; what cortex_fd_recv(), cortex_fd_validate_segment() or
 *         cortex_region_attach() return; -EPROTO for no fd or more than one.
 */
CORTEX_API CORTEX_NODISCARD int cortex_segment_recv(int sock, cortex_region **ret, const cortex_layout *expect,
                                                    const cortex_opts *opts, int64_t timeout_ns);

CORTEX_END_DECLS

#endif
