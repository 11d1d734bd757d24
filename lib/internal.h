/* SPDX-License-Identifier: MIT */
/*
 * lib/internal.h: what the library's parts share and never install.
 * Internal names are cortex__* and hidden (the library builds with
 * -fvisibility=hidden; only CORTEX_API names are exported).
 */
#ifndef CORTEX_INTERNAL_H
#define CORTEX_INTERNAL_H

#include "cortex_config.h"

#include <neocortex/error.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CORTEX_CACHELINE 64u

#define CORTEX_UNUSED(x) ((void)(x))
#define CORTEX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors (lib/error) ------------------------------------------------ */

/*
 * Record a clean failure and return -code (code is a positive errno).
 *   return cortex__fail(EINVAL, "capacity %u is not a power of two", cap);
 */
int cortex__fail(int code, const char *fmt, ...) CORTEX_PRINTF(2, 3);
/* Same, naming the system call and its errno under the failure. */
int cortex__fail_sys(int code, const char *syscall, int sys_errno, const char *fmt, ...)
    CORTEX_PRINTF(4, 5);
/* Marks the thread's last error dirty: @what names the object left behind. */
void cortex__mark_dirty(const char *what);
/* Sends the thread's last error to the log hook (if one is installed). */
void cortex__log_last(void);
/* Appends text to the last error's message (e.g. what cleanup did). */
void cortex__append(const char *fmt, ...) CORTEX_PRINTF(1, 2);
/* Writable view of this thread's record, for callers that build it by hand. */
cortex_error *cortex__error_slot(void);

/*
 * Hot-path failures with a fixed message: cortex__fail_fixed(&rec) costs one
 * thread-local pointer store (no formatting).  While the pointer is set,
 * cortex_last_error() returns *rec; every other failure clears it.
 */
#if defined(__GNUC__) || defined(__clang__)
#define CORTEX__TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define CORTEX__TLS_FAST
#endif
extern _Thread_local const cortex_error *cortex__fixed_error CORTEX__TLS_FAST;
static inline int cortex__fail_fixed(const cortex_error *rec)
{
    cortex__fixed_error = rec;
    return rec->code;
}
/*
 * A failure with a constant message, async-signal-safe (no formatting, no
 * allocation: for code between fork and exec).  Returns -code.
 */
int cortex__fail_const(int code, const char *syscall, int sys_errno, const char *msg);
/* The fixed records (lib/error/error.c). */
extern const cortex_error cortex__err_ring_full;  /* -EAGAIN: ring full */
extern const cortex_error cortex__err_ring_empty; /* -EAGAIN: ring empty */

/* ---- OS layer (lib/os): the only place for platform system calls ------- */

/* Monotonic time in ns. */
int64_t cortex__now_ns(void);
/* CLOCK_REALTIME in ns. */
int64_t cortex__realtime_ns(void);
/* Sleep for ns (restarts on EINTR). */
void cortex__sleep_ns(int64_t ns);
/* Fills buf with random bytes (getrandom, /dev/urandom fallback). */
int cortex__random(void *buf, size_t len);
/* Start time of pid (clock ticks after boot, /proc/PID/stat field 22), 0 if unknown. */
uint64_t cortex__pid_start_time(pid_t pid);
/*
 * Is the process alive?  With start != 0, a live pid whose start time
 * differs is a reused pid: reported dead.  Zombies count as dead.
 */
bool cortex__pid_alive(pid_t pid, uint64_t start);
/* Cached getpid() (refreshed after fork). */
pid_t cortex__self_pid(void);
/* This process's start time (cached per pid). */
uint64_t cortex__self_start(void);
/* Sets FD_CLOEXEC; 0 or -errno. */
int cortex__set_cloexec(int fd, bool on);

/* Deadline in CLOCK_MONOTONIC ns for a timeout: < 0 waits forever (INT64_MAX); never overflows. */
int64_t cortex__deadline(int64_t timeout_ns);

/* Copies a NUL-padded tag of at most max bytes into out (max + 1 bytes), '?' for unprintable bytes. */
void cortex__printable(const char *in, size_t max, char *out);

/* Permission bits a create applies: opts->perm, or 0600 when unset. */
static inline unsigned cortex__effective_perm(const cortex_opts *o)
{
    return (o && o->perm ? o->perm : (unsigned)CORTEX_PERM_OWNER) & 0777u;
}

/* The type signature's spelling: opts->type_tag when set, else the caller's (#T). */
static inline const char *cortex__type_tag(const cortex_opts *o, const char *type_name)
{
    return o && o->type_tag ? o->type_tag : type_name;
}

/* ---- trust (lib/region/trust.c) -------------------------------------------- */

/*
 * May this call use a kernel object it did not make, owned by @uid and
 * created by @cuid (the same for files), with mode bits @mode?  By default
 * both must be the caller's euid and @mode no wider than the caller's
 * perm; opts->trust widens the accepted owners.  0, or -EACCES naming
 * owner, creator and mode.
 */
int cortex__check_owner(uint32_t uid, uint32_t cuid, unsigned mode, const cortex_opts *opts, const char *what);
/* Can @size bytes be mapped whole when size_t holds at most @limit (SIZE_MAX)?  0 or -EFBIG. */
int cortex__check_map_size(uint64_t size, uint64_t limit, const char *what);
/* A number naming the segment's kernel object (inode, SysV id), for binding a lock's objects to it. */
uint64_t cortex__region_identity(const cortex_region *r);

/* FNV-1a. */
uint32_t cortex__fnv1a32(const void *data, size_t len);
uint64_t cortex__fnv1a64(const void *data, size_t len);

/* Align up to a power of two. */
static inline uint64_t cortex__align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static inline bool cortex__is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

#endif
