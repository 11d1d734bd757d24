/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/error.h
 * @brief Error model: negative errno returns, a thread-local detail record, a log hook.
 *
 * Every neocortex function that can fail returns an `int` (or `ssize_t`):
 * 0 or a count on success, a negative errno value on failure (`-EEXIST`,
 * `-ENOENT`, `-EPROTO`, ...).  Codes with a neocortex meaning: `-EPROTO`
 * the segment holds another kind, type, size or lock; `-EBADMSG` corrupt or
 * foreign shared state; `-EOWNERDEAD` a dead holder's lock was taken over
 * (the value may be torn); `-EXDEV` a segment that records pids (ring,
 * slab, pool, futex cell) was made in another pid namespace or before a
 * reboot, so its pids would name other processes here.  After a failure, cortex_last_error() tells
 * what was found, which system call failed underneath and whether anything
 * was left behind in the system (a *dirty* failure).
 *
 * The library never prints.  Failures that happen where nothing can return
 * them (for example while removing a segment from a destructor) go to the
 * log hook installed with cortex_set_log_hook().
 */
#ifndef NEOCORTEX_ERROR_H
#define NEOCORTEX_ERROR_H

#include <neocortex/export.h>
#include <stdbool.h>

CORTEX_BEGIN_DECLS

/** Room for cortex_error::message, including the terminating NUL. */
#define CORTEX_ERROR_MESSAGE_MAX 320
/** Room for cortex_error::leftover, including the terminating NUL. */
#define CORTEX_ERROR_LEFTOVER_MAX 160

/**
 * Detail of the calling thread's most recent failure.
 *
 * The rule: every neocortex call that returns a negative value, and every
 * lookup that returns NULL for a bad argument (cortex_slab_get(),
 * cortex_pool_get(), the typed `name_get`), sets it first, so its `code` is
 * what the call returned and `message` is about that failure.  The ring's
 * hot-path -EAGAIN (full or empty) sets a fixed message (a pointer store, no
 * formatting).  Only failures write it: a later success does not clear it,
 * so read it right after the call that failed.
 */
typedef struct cortex_error {
    /** The negative errno value the call returned (0 if nothing failed yet). */
    int code;
    /** errno of the system call that failed underneath, or 0. */
    int sys_errno;
    /** Name of that system call ("shmget", "shm_open", ...), or "" . */
    const char *syscall;
    /** true: something may be left in the system; #leftover names it. */
    bool dirty;
    /** What happened, naming the key and what was found against what was expected. */
    char message[CORTEX_ERROR_MESSAGE_MAX];
    /** For a dirty failure: the object left behind (e.g. "SysV shm key 0x1234"), else "". */
    char leftover[CORTEX_ERROR_LEFTOVER_MAX];
} cortex_error;

/** The calling thread's last failure (never NULL; thread-local storage; valid until its next failure). */
CORTEX_API const cortex_error *cortex_last_error(void);

/** Forgets the calling thread's last failure (code 0, empty message). */
CORTEX_API void cortex_clear_error(void);

/**
 * A short English description of a return code: "segment exists" for
 * -EEXIST and so on.  Accepts negative or positive errno values and 0
 * ("success").  Never NULL; the string is static.
 */
CORTEX_API const char *cortex_strerror(int rc);

/** The symbolic name of a return code ("EEXIST"), or "E?" when unknown. */
CORTEX_API const char *cortex_errname(int rc);

/**
 * Log hook: called with a dirty failure that no caller can receive (a
 * destroy in a close path that failed, a cleanup after a failed create
 * that itself failed).  Runs on the thread that saw the failure; must not
 * call back into neocortex.
 */
typedef void (*cortex_log_fn)(const cortex_error *err, void *ctx);

/** Installs @p fn (NULL removes the hook).  Process-wide; not thread-safe against itself. */
CORTEX_API void cortex_set_log_hook(cortex_log_fn fn, void *ctx);

CORTEX_END_DECLS

#endif
