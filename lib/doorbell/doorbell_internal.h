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

#endif
