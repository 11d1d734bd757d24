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
/*
 * Process identity (lib/os/proc.c): the one verdict every takeover, reclaim
 * and report goes through.  Only CORTEX__DEAD may lead to a takeover or a
 * reclaim; CORTEX__UNKNOWN never does.
 */
typedef enum cortex__liveness { CORTEX__DEAD = 0, CORTEX__ALIVE = 1, CORTEX__UNKNOWN = 2 } cortex__liveness;

typedef struct cortex__proc_id {
    int32_t pid;      /* in the caller's pid namespace (attach refuses segments of another one) */
    uint32_t stamp;   /* low 32 bits of a boot time (ticks) at which it ran under pid; 0 unknown */
    uint64_t start;   /* its start time as it read it (ticks after boot, /proc/PID/stat field 22); 0 unknown */
    uint64_t seen;    /* observer's boot ticks when it saw pid named as holder (no record yet); 0 unknown */
    uint64_t pidns;   /* inode of its pid namespace; 0 unknown (cortex__proc_self only) */
    uint64_t boot;    /* hash of the boot id; 0 unknown (cortex__proc_self only) */
} cortex__proc_id;

/* Alive, dead or unknown; *why (may be NULL) gets a static sentence saying what decided it. */
cortex__liveness cortex__proc_verdict(const cortex__proc_id *id, const char **why);
/* Not certainly dead: cortex__proc_verdict() != CORTEX__DEAD for (pid, start). */
bool cortex__pid_alive(pid_t pid, uint64_t start);
/* Kernel start time of pid (ticks after boot), 0 if it cannot be read. */
uint64_t cortex__pid_start_time(pid_t pid);
/* Boot-relative time now, in the ticks of /proc/PID/stat. */
uint64_t cortex__boot_ticks(void);
/* A fresh stamp for this process (strictly after its start; may wait one tick, once). */
uint32_t cortex__make_stamp(void);
/* This process: pid, start time, pid namespace, boot id. */
void cortex__proc_self(cortex__proc_id *out);
uint64_t cortex__self_pidns(void);
uint64_t cortex__self_boot(void);
/* Random token of this exec'd image (an exec keeps pid and start time, not this). */
uint64_t cortex__image_token(void);
/* Tests only: 1 hides other processes' /proc entries (like hidepid=2), 2 hides /proc; 0 undoes. */
void cortex__proc_test_hide(int mode);
/* Cached getpid() (refreshed after fork). */
pid_t cortex__self_pid(void);
/* This process's start time (cached per pid). */
uint64_t cortex__self_start(void);
/* This process's stamp (cached per pid; see cortex__make_stamp). */
uint32_t cortex__self_stamp(void);
/* Sets FD_CLOEXEC; 0 or -errno. */
int cortex__set_cloexec(int fd, bool on);

/* ---- segment headers (lib/region) ---------------------------------------- */

struct cortex_seg_header;
/* The ident_check a header's creator identity fields call for (0 when they are all zero). */
uint32_t cortex__header_ident_check(const struct cortex_seg_header *h);
/* Writes this process's ABI record and its abi_check into a header being created. */
void cortex__header_set_abi(struct cortex_seg_header *h);
/* The error for a segment whose magic is not CORTEX_MAGIC (names a byte-swapped one). */
int cortex__header_bad_magic(uint64_t magic, const char *what);
/* -EXDEV if a segment that records pids was made in another pid namespace or boot. */
int cortex__region_check_domain(const struct cortex_seg_header *h, const char *what);
/*
 * The common head of every part's cortex_X_inspect(region, out): -EINVAL for
 * a NULL argument, -EPROTO (and @p out zeroed) when @p region holds another
 * kind than @p kind; 0 when the part may inspect its payload.  @p fn names
 * the caller, @p noun what it wanted ("a ring").
 */
int cortex__region_inspect_kind(const struct cortex_region *region, uint32_t kind, void *out, size_t out_size,
                                const char *fn, const char *noun);

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
