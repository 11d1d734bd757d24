/* SPDX-License-Identifier: MIT */
/* lib/error: negative errno codes, their names, the thread-local detail record. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One table gives cortex_strerror() and cortex_errname(). */
#define CORTEX_ERRNO_TABLE(X)                                                   \
    X(EPERM, "operation not permitted")                                         \
    X(ENOENT, "no such segment")                                                \
    X(EINTR, "interrupted")                                                     \
    X(EIO, "input/output error")                                                \
    X(EBADF, "bad file descriptor")                                             \
    X(EAGAIN, "try again (ring full or empty, or resource busy)")               \
    X(ENOMEM, "out of memory")                                                  \
    X(EACCES, "permission denied (or an owner or mode not trusted)")           \
    X(EFAULT, "bad address")                                                    \
    X(EBUSY, "busy (role or object already taken)")                             \
    X(EEXIST, "segment exists")                                                 \
    X(ENODEV, "not a mappable object")                                          \
    X(ENOTDIR, "not a directory")                                               \
    X(EISDIR, "is a directory")                                                 \
    X(EINVAL, "invalid argument")                                               \
    X(ENFILE, "too many open files in the system")                              \
    X(EMFILE, "too many open files")                                            \
    X(ENOTSOCK, "not a socket")                                                 \
    X(EXDEV, "segment made in another pid namespace or boot")                   \
    X(EFBIG, "segment too large")                                               \
    X(ENOSPC, "no space left (segment store full or slab exhausted)")          \
    X(ESPIPE, "illegal seek")                                                   \
    X(EPIPE, "peer closed or died")                                             \
    X(ERANGE, "value out of range")                                             \
    X(EUSERS, "too many processes use this object")                             \
    X(ENAMETOOLONG, "name too long")                                            \
    X(ENOSYS, "not implemented on this platform")                               \
    X(EOVERFLOW, "value too large")                                             \
    X(ENOTSUP, "not supported (backend not built)")                             \
    X(EPROTO, "segment holds something else (kind, type, size or lock mismatch)") \
    X(EBADMSG, "corrupt shared state")                                          \
    X(ETIMEDOUT, "timed out")                                                   \
    X(ESTALE, "stale handle")                                                   \
    X(EOWNERDEAD, "previous owner died; value may be inconsistent")             \
    X(ENOTRECOVERABLE, "state not recoverable")                                 \
    X(ECONNRESET, "connection reset by peer")                                   \
    X(ENOTCONN, "not connected")

static _Thread_local cortex_error tls_error = {0, 0, "", false, "", ""};

static cortex_log_fn log_hook;
static void *log_ctx;

_Thread_local const cortex_error *cortex__fixed_error CORTEX__TLS_FAST;

const cortex_error cortex__err_ring_full = {
    -EAGAIN, 0, "", false,
    "ring full: nothing was pushed; try again once the consumer has popped (or use the *_wait call)", ""};
const cortex_error cortex__err_ring_empty = {
    -EAGAIN, 0, "", false,
    "ring empty: nothing was popped; try again once the producer has pushed (or use the *_wait call)", ""};

const cortex_error *cortex_last_error(void)
{
    const cortex_error *fixed = cortex__fixed_error;
    return fixed ? fixed : &tls_error;
}

cortex_error *cortex__error_slot(void)
{
    cortex__fixed_error = NULL;
    return &tls_error;
}

void cortex_clear_error(void)
{
    cortex__fixed_error = NULL;
    tls_error.code = 0;
    tls_error.sys_errno = 0;
    tls_error.syscall = "";
    tls_error.dirty = false;
    tls_error.message[0] = '\0';
    tls_error.leftover[0] = '\0';
}

const char *cortex_strerror(int rc)
{
    int e = rc < 0 ? -rc : rc;
    if (e == 0)
        return "success";
    switch (e) {
#define X(code, text) case code: return text;
        CORTEX_ERRNO_TABLE(X)
#undef X
    default:
        return "unknown error";
    }
}

const char *cortex_errname(int rc)
{
    int e = rc < 0 ? -rc : rc;
    if (e == 0)
        return "OK";
    switch (e) {
#define X(code, text) case code: return #code;
        CORTEX_ERRNO_TABLE(X)
#undef X
    default:
        return "E?";
    }
}

void cortex_set_log_hook(cortex_log_fn fn, void *ctx)
{
    log_hook = fn;
    log_ctx = ctx;
}

/* Starts a new formatted record (no message yet); async-signal-safe.  Returns the negative code. */
static int new_record(int code, const char *syscall, int sys_errno)
{
    if (code < 0)
        code = -code;
    cortex__fixed_error = NULL;
    tls_error.code = -code;
    tls_error.sys_errno = sys_errno;
    tls_error.syscall = syscall ? syscall : "";
    tls_error.dirty = false;
    tls_error.leftover[0] = '\0';
    return -code;
}

static int set_error(int code, const char *syscall, int sys_errno, const char *fmt, va_list ap)
    CORTEX_PRINTF(4, 0);

static int set_error(int code, const char *syscall, int sys_errno, const char *fmt, va_list ap)
{
    int rc = new_record(code, syscall, sys_errno);
    vsnprintf(tls_error.message, sizeof tls_error.message, fmt, ap);
    if (syscall && sys_errno) {
        size_t used = strlen(tls_error.message);
        snprintf(tls_error.message + used, sizeof tls_error.message - used, " (%s: %s)",
                 syscall, strerror(sys_errno));
    }
    return rc;
}

int cortex__fail_const(int code, const char *syscall, int sys_errno, const char *msg)
{
    int rc = new_record(code, syscall, sys_errno);
    size_t i = 0;
    for (; msg[i] && i + 1 < sizeof tls_error.message; i++)
        tls_error.message[i] = msg[i];
    tls_error.message[i] = '\0';
    return rc;
}

int cortex__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = set_error(code, NULL, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int cortex__fail_sys(int code, const char *syscall, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = set_error(code, syscall, sys_errno, fmt, ap);
    va_end(ap);
    return rc;
}

/* The formatted record becomes the current one again (a fixed record is copied in). */
static void take_record(void)
{
    const cortex_error *fixed = cortex__fixed_error;
    if (fixed) {
        tls_error = *fixed;
        cortex__fixed_error = NULL;
    }
}

void cortex__append(const char *fmt, ...)
{
    take_record();
    size_t used = strlen(tls_error.message);
    if (used + 1 >= sizeof tls_error.message)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_error.message + used, sizeof tls_error.message - used, fmt, ap);
    va_end(ap);
}

void cortex__mark_dirty(const char *what)
{
    take_record();
    tls_error.dirty = true;
    snprintf(tls_error.leftover, sizeof tls_error.leftover, "%s", what ? what : "");
}

void cortex__log_last(void)
{
    cortex_log_fn fn = log_hook;
    if (fn)
        fn(cortex_last_error(), log_ctx);
}
