/* SPDX-License-Identifier: MIT */
/* lib/doorbell/doorbell_internal.h: what the doorbell's files share (never installed). */
#ifndef CORTEX_DOORBELL_INTERNAL_H
#define CORTEX_DOORBELL_INTERNAL_H

#include "internal.h"

#include <neocortex/doorbell.h>

/*
 * A new AF_UNIX socket of @type_pref (SOCK_SEQPACKET, falling back to
 * SOCK_STREAM where the platform has no seqpacket), close-on-exec.
 * socketpair when sv != NULL, else one socket into *ret_fd.
 * Sets *ret_type to the type used.  0 or -errno (recorded).
 */
int cortex__unix_socket(int sv[2], int *ret_fd, int *ret_type, bool nonblock);

/* Checks fd is an AF_UNIX seqpacket or stream socket; sets *ret_type.  0 or -errno (recorded). */
int cortex__doorbell_check(int fd, int *ret_type, const char *what);

/* Checks that fd is a number this process can hold and is open.  0 or -EBADF (recorded). */
int cortex__fd_check_open(int fd, const char *what);

/* The soft RLIMIT_NOFILE (fd numbers are below it), at most INT_MAX. */
int cortex__fd_limit(void);

/* Remaining ms until deadline_ns for poll(): -1 for no deadline, rounded up. */
int cortex__poll_ms(int64_t deadline_ns);

/* ---- the fast wake path (wake.c) ---- */
#if defined(__linux__)
#define CORTEX_DB_FAST 1
#endif

/* cortex__db_fast_signal(): the peer is not asleep in wait, ring it on the socket. */
#define DB_USE_SOCKET 2

/*
 * Closes an end this process never used, whose only other copy went to a
 * child that takes the page itself (cortex_spawn): its line is left as the
 * child set it, where cortex_doorbell_close() would withdraw it.
 */
void cortex__db_close_unused(cortex_doorbell *b);

/* "the peer's end is closed (peer gone)": -EPIPE, recorded. */
int cortex__db_peer_gone(const cortex_doorbell *b, const char *syscall, int e);
/* Is this message the setup message queued by cortex_doorbell_pair() (not a ring)? */
bool cortex__db_is_setup(const void *data, size_t len);
#ifdef CORTEX_DB_FAST
/* Gives both ends of a new pair the shared page and eventfds (best effort: none on failure). */
void cortex__db_fast_pair(cortex_doorbell *a, cortex_doorbell *b);
/* Takes the setup message queued for this end, if it is there and sound. */
void cortex__db_fast_take(cortex_doorbell *b);
/* Reads and drops a setup message at the head of the queue, if there is one. */
void cortex__db_discard_setup(cortex_doorbell *b);
/*
 * Unmaps the page, closes the eventfd and epoll set (no-op without them);
 * @withdraw: first marks this end's line as without the page, so that the
 * peer rings on the socket (a copy of the fd may go on to a holder without it).
 */
void cortex__db_fast_drop(cortex_doorbell *b, bool withdraw);
/* Rings through the page: SENT, PENDING, -EPIPE, or DB_USE_SOCKET (send a ring on the socket). */
int cortex__db_fast_signal(cortex_doorbell *b);
/* Marks this end as waiting in cortex_doorbell_wait() (rung through the page) or polling its socket. */
void cortex__db_fast_mode(const cortex_doorbell *b, bool waits);
/* Call before reading rings from the socket: clears the socket-ring flag. */
void cortex__db_fast_sock_read(cortex_doorbell *b);
/* Consumes the flag: 1 if a ring was pending. */
int cortex__db_fast_take_flag(cortex_doorbell *b);
/* Sleeps up to @ms (epoll): 1 rang, 0 not (yet), -errno; *ret_sock: the socket is readable or hung up. */
int cortex__db_fast_sleep(cortex_doorbell *b, int ms, bool *ret_sock);
#endif

#endif
