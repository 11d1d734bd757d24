/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/sync.h
 * @brief Lock backends behind one ops table (::cortex_sync_ops).
 *
 * A cell (neocortex/cell.h) keeps its lock inside its segment: the backend
 * says how many bytes it needs there (cortex_sync_ops::shared_size and
 * cortex_sync_ops::shared_align), the creator initialises them, every other
 * process attaches to them, and the owner's close destroys them.
 *
 * Built-in backends:
 *
 * - ::cortex_sync_futex (Linux): the lock word holds the owner's pid and a
 *   "waiters" bit.  Lock and unlock cost no system call while uncontended;
 *   a waiter spins briefly, checks that the owner is alive if the same
 *   owner held the lock through the whole spin (pid and process start
 *   time, against pid reuse), then sleeps in FUTEX_WAIT for
 *   at most CORTEX_SYNC_CHECK_INTERVAL_NS at a time and checks again after
 *   every interval in which the lock did not move.  A
 *   dead owner's lock is taken over: lock() returns -EOWNERDEAD with the
 *   lock held, within CORTEX_SYNC_DEAD_OWNER_BOUND_NS of the death.
 *   Unlock calls FUTEX_WAKE only when a waiter announced itself.
 * - ::cortex_sync_semaphore: a SysV semaphore with SEM_UNDO, so the kernel
 *   releases it when its holder dies (without telling anybody: the cell's
 *   sequence number is what shows a torn value).  For a SysV-keyed segment
 *   it lives under the same key; for other backings it is an IPC_PRIVATE
 *   semaphore whose id is kept in the segment.  It gets the segment's
 *   permission bits and is removed by the owner's close.  Attach holds the
 *   set to the segment's trust rules (owner, creator and mode, see
 *   cortex_opts::trust) and checks that it was made for this segment (its
 *   key, and a 15-bit tag of cortex_sync_env::segment_id kept in a second
 *   semaphore): an id forged in the segment is -EBADMSG or -EACCES, and the
 *   set it names is neither used nor removed.
 *
 * - ::cortex_sync_one_writer (every platform): not a lock but a writer
 *   ROLE, for cells that one process writes and many read.  Its bytes in
 *   the segment record the role's holder (pid and a start stamp against pid
 *   reuse).  A handle claims the role at its first write, update or
 *   consistent() (not at create) with one CAS; from then on its writes are
 *   a single-writer seqlock: no read-modify-write and no fence, three plain
 *   stores on x86 around the value copy.  While the holder lives, a write,
 *   update or consistent() through any other handle (another process, a
 *   forked child of the holder, a second handle in the holder's process)
 *   fails at once with -EBUSY naming the holder's pid (the timed variants
 *   do not wait: nothing will release the role but a close).  A holder
 *   that is certainly dead (never "unknown") is taken over by the next
 *   writer with a CAS; if it died in the middle of a write, the value is
 *   marked inconsistent exactly as with the futex backend: update returns
 *   -EOWNERDEAD, a write replaces the value (0), consistent() accepts it.
 *   Readers stay optimistic; one that sees a write in progress for longer
 *   than CORTEX_SYNC_CHECK_INTERVAL_NS checks the holder and, if it died
 *   mid-write, returns -EOWNERDEAD (with the copy, as for a torn value)
 *   within CORTEX_SYNC_DEAD_OWNER_BOUND_NS.  close() and leak() of the
 *   holding handle give the role back.  A role record that names no
 *   possible process is -EBADMSG.
 *
 * A backend that was not compiled in (`-Dfutex=disabled`,
 * `-Dsemaphore=disabled`) still has its ops table; using it fails with
 * -ENOTSUP and a message that says how the library was configured.
 *
 * Users may supply their own backend (see examples/cell/robust_mutex_lock.c
 * for one built on a process-shared robust pthread mutex).
 */
#ifndef NEOCORTEX_SYNC_H
#define NEOCORTEX_SYNC_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <stdbool.h>
#include <stdint.h>

CORTEX_BEGIN_DECLS

/** Id of the SysV semaphore backend (stored in segment headers). */
#define CORTEX_SYNC_ID_SEMAPHORE 1u
/** Id of the Linux futex backend. */
#define CORTEX_SYNC_ID_FUTEX 2u
/** Id of the one-writer cell backend (::cortex_sync_one_writer). */
#define CORTEX_SYNC_ID_ONE_WRITER 3u
/** User backends pick an id at or above this (and keep it stable: it is stored in segments). */
#define CORTEX_SYNC_ID_USER_MIN 0x100u
/** Largest cortex_sync_ops::shared_size accepted. */
#define CORTEX_SYNC_SHARED_MAX 4096u

/** Futex backend: how long a waiter sleeps before it checks that the owner is alive (1 ms). */
#define CORTEX_SYNC_CHECK_INTERVAL_NS INT64_C(1000000)
/**
 * Documented bound: a waiter blocked on a lock whose holder died gets the
 * lock (with -EOWNERDEAD for the futex backend) within this time of the
 * death, provided it gets a CPU: one check interval, the /proc reads of the
 * liveness check, and slack for a loaded machine or a sanitizer build
 * (50 ms).  Measured here: futex 0.1-2.5 ms (a waiter that arrives after
 * the death checks at once; one asleep at the death notices within one
 * interval), semaphore well under 1 ms (the kernel undoes at exit).
 */
#define CORTEX_SYNC_DEAD_OWNER_BOUND_NS INT64_C(50000000)

struct cortex_opts;

/** What a backend's init and attach learn about the segment. */
typedef struct cortex_sync_env {
    /** The segment's key (for a SysV-keyed segment, the integer key actually used). */
    cortex_key key;
    /** Permission bits of the segment (0600 by default). */
    unsigned perm;
    /** Human-readable name of the segment, for messages. */
    const char *what;
    /**
     * The caller's options (NULL: defaults).  A backend that attaches to a
     * kernel object of its own should hold it to the same trust rules as
     * the segment (cortex_opts::trust, cortex_opts::perm).
     */
    const struct cortex_opts *opts;
    /**
     * A number naming the segment's kernel object (from its inode, or its
     * SysV id), the same in every process: a backend may bind its own
     * objects to it so that an id forged in the segment is refused.
     */
    uint64_t segment_id;
} cortex_sync_env;

/**
 * A lock backend.  Every function gets @p shared, the backend's bytes in the
 * segment (cortex_sync_ops::shared_size bytes at cortex_sync_ops::shared_align),
 * and @p local, the per-handle pointer its init/attach stored (may stay NULL).
 *
 * Return values are 0 or a negative errno; failures should set the detail
 * through the application's own means (the library records a generic
 * message naming the backend when a user backend fails).
 */
typedef struct cortex_sync_ops {
    /** Stable id, stored in the segment header (built-ins: 1, 2, 3; users: >= CORTEX_SYNC_ID_USER_MIN). */
    uint32_t id;
    /** Short name for messages ("futex", "semaphore", "robust-mutex"). */
    const char *name;
    /** Bytes the backend needs in the segment (1 to CORTEX_SYNC_SHARED_MAX). */
    uint32_t shared_size;
    /** Their alignment (power of two, at most 64). */
    uint32_t shared_align;
    /** Creator: initialise @p shared (zeroed) before the segment is published. */
    int (*init)(void *shared, const cortex_sync_env *env, void **local);
    /** Every other process: check and attach to an initialised @p shared. */
    int (*attach)(void *shared, const cortex_sync_env *env, void **local);
    /**
     * Take the lock.  @p timeout_ns < 0 waits forever, 0 tries once, > 0
     * waits at most that long (the cells' timed operations,
     * cortex_cell_write_timed() and friends, pass theirs here).
     *
     * A backend that cannot wait with a deadline may answer -ENOTSUP to a
     * positive @p timeout_ns (it must still honour 0 and < 0): a cell then
     * falls back to trying with 0 and sleeping between tries (10 us,
     * doubling up to CORTEX_SYNC_CHECK_INTERVAL_NS) until the deadline.
     * @return 0; -EOWNERDEAD with the lock held when the previous holder
     *         died holding it; -ETIMEDOUT; -ENOTSUP (see above); another
     *         negative errno (lock not held).
     */
    int (*lock)(void *shared, void *local, int64_t timeout_ns);
    /** Release the lock (held by the caller). */
    int (*unlock)(void *shared, void *local);
    /** This handle is going away (free @p local).  May be NULL. */
    void (*detach)(void *shared, void *local);
    /** The owner's close: remove what init made (a kernel object).  May be NULL. */
    int (*destroy)(void *shared, void *local);
    /**
     * Optional, read-only, must tolerate corrupt @p shared: who holds the lock.
     * @return 1 held (*pid = holder or 0 if unknown), 0 free, negative errno unknown.
     */
    int (*holder)(const void *shared, int32_t *pid);
    /**
     * Optional: 1 if the holder is known to be dead (the next lock() will
     * report or repair it), 0 if alive or free, negative errno if unknown.
     */
    int (*owner_dead)(const void *shared);
} cortex_sync_ops;

/** The SysV semaphore backend (its functions fail with -ENOTSUP if not compiled in). */
CORTEX_API extern const cortex_sync_ops cortex_sync_semaphore;
/** The Linux futex backend (its functions fail with -ENOTSUP if not compiled in). */
CORTEX_API extern const cortex_sync_ops cortex_sync_futex;

/** The one-writer cell backend: a writer role instead of a lock (always available; see the file's text). */
CORTEX_API extern const cortex_sync_ops cortex_sync_one_writer;

/** The build's default backend (-Ddefault_lock=, falling back to the one compiled). */
CORTEX_API const cortex_sync_ops *cortex_sync_default(void);
/** A built-in backend by id, or NULL (unknown id: a user backend). */
CORTEX_API const cortex_sync_ops *cortex_sync_builtin(uint32_t id);
/** true if @p ops is usable in this build (a user backend always is). */
CORTEX_API bool cortex_sync_available(const cortex_sync_ops *ops);
/**
 * Checks a user-supplied ops table (id, name, sizes, required functions).
 * @return 0 or -EINVAL with cortex_last_error() naming the problem.
 */
CORTEX_API int cortex_sync_validate(const cortex_sync_ops *ops);

CORTEX_END_DECLS

#endif
