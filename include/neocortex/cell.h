/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/cell.h
 * @brief Typed shared cells, untyped core: a value in a segment, a lock, a sequence number.
 *
 * Most code uses the typed layer, CORTEX_DECLARE(name, T) in
 * neocortex/declare_cell.h, which forwards to these functions with
 * `sizeof(T)`, `_Alignof(T)` and `#T`.
 *
 * A cell's segment holds (after the 256-byte segment header) a small cell
 * header, a sequence number, an "inconsistent" flag, the value, and the
 * lock backend's bytes (neocortex/sync.h).
 *
 * - **Write**: lock, sequence to odd, copy, sequence to even, unlock.
 *   With the futex backend the lock *is* the sequence word (holder pid in
 *   its high bits): a write is one CAS that takes it and makes it odd, the
 *   copy, and one store that makes it even and free.  Pids must then be
 *   below 2^24 (Linux: at most 2^22); a larger one makes the lock fail
 *   with -EOVERFLOW (use the semaphore backend there).
 * - **Read**: optimistic: no lock and no store to shared memory; a read
 *   that overlaps a write retries, and after CORTEX_CELL_READ_RETRIES
 *   losses it takes the lock, so every read finishes.
 * - **Update**: lock, copy the value out, run the caller's function on the
 *   copy, write it back, unlock: a read-modify-write without lost updates.
 * - **Crash**: whoever takes the lock and finds the sequence odd knows the
 *   previous writer died in mid-copy.  The cell is then *inconsistent*:
 *   reads still copy the value out but return -EOWNERDEAD, updates return
 *   -EOWNERDEAD without running their function, until a write replaces the
 *   value or cortex_cell_consistent() accepts it.
 *
 * - **Versions**: the sequence number is the value's version: even, and
 *   larger after every write (it is 40 bits wide and wraps after 2^39
 *   writes).  cortex_cell_read_version() returns the
 *   version of the value it copied; cortex_cell_wait() sleeps until the
 *   version differs from the one the caller has seen.
 * - **Waiting** (cortex_cell_wait()): a futex wait on a waiters word in
 *   the cell header, next to the sequence number, whatever the lock backend
 *   (futex, semaphore or a user's), so every backend's cells wake their
 *   waiters; no polling.  A waiter sets the word's "waiting" bit before it
 *   sleeps; a writer tests it after every write (one fence and one branch)
 *   and only when it is set clears it, advances the word and calls
 *   FUTEX_WAKE for all waiters.  Where there is no futex (not Linux) the
 *   wait sleeps at most 50 us a round and looks again.
 * - **Lock timeouts**: cortex_cell_write_timed(), cortex_cell_update_timed()
 *   and cortex_cell_update_if() give up with -ETIMEDOUT when the lock is not
 *   free in time (the plain functions wait as long as it takes; a dead
 *   holder's lock is recovered, see neocortex/sync.h).
 *
 * A cortex_cell may be used by several threads at once.  The lock is not
 * recursive, so an update function must not call back into the same cell.
 */
#ifndef NEOCORTEX_CELL_H
#define NEOCORTEX_CELL_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <neocortex/sync.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

CORTEX_BEGIN_DECLS

/** Largest value a cell holds (1 GiB). */
#define CORTEX_CELL_MAX_SIZE (UINT32_C(1) << 30)
/** Optimistic read attempts before a read takes the lock. */
#define CORTEX_CELL_READ_RETRIES 64

/** An open cell (opaque): one mapping of one segment, with its lock handle. */
typedef struct cortex_cell cortex_cell;

/** Called by cortex_cell_update() under the lock with a private copy of the value. */
typedef void (*cortex_cell_update_fn)(void *value, void *ctx);
/**
 * Called by cortex_cell_update_if() under the lock with a private copy of the
 * value: return 0 to store the copy, anything else to store nothing (that
 * value is then returned to the caller).
 */
typedef int (*cortex_cell_update_if_fn)(void *value, void *ctx);

/**
 * Creates a cell holding a copy of @p init.
 *
 * @param ret        receives the cell (set to NULL on failure).
 * @param key        where (any key kind but FD).
 * @param init       the initial value (@p size bytes).
 * @param size       value size: 1 to CORTEX_CELL_MAX_SIZE.
 * @param align      value alignment: a power of two up to CORTEX_MAX_ALIGN.
 * @param type_name  the type's spelling, recorded for attach checks
 *                   (cortex_opts::type_tag overrides it).
 * @param opts       NULL for defaults (create-exclusive, 0600, default lock).
 * @return 0; -EEXIST (the key exists; the existing cell is untouched),
 *         -ENOTSUP (lock backend not in this build), -EINVAL, and every
 *         error of cortex_region_create().  With CORTEX_OPEN_OR_CREATE an
 *         existing cell is attached instead (and @p init is not written);
 *         if cortex_opts::lock is NULL it keeps whatever backend it has.
 */
CORTEX_API CORTEX_NODISCARD int cortex_cell_create(cortex_cell **ret, cortex_key key, const void *init,
                                                   size_t size, size_t align, const char *type_name,
                                                   const cortex_opts *opts);

/**
 * Attaches to an existing cell and checks it holds a value of this size,
 * alignment and type name.
 *
 * @return 0; -ENOENT; -EPROTO (another type, size, alignment or lock: the
 *         message names what the segment holds and what was expected);
 *         -ENOTSUP (its lock backend is not in this build, or it uses a
 *         user backend and cortex_opts::lock is NULL); -EBADMSG (corrupt).
 */
CORTEX_API CORTEX_NODISCARD int cortex_cell_attach(cortex_cell **ret, cortex_key key, size_t size, size_t align,
                                                   const char *type_name, const cortex_opts *opts);

/**
 * Copies the value into @p out (@p size bytes, must equal the cell's size).
 * @return 0; -EOWNERDEAD (the value was copied, but a writer died while
 *         writing it: it may be torn); -EINVAL; a lock error; with
 *         ::cortex_sync_one_writer, -EBADMSG when a write stays in progress
 *         and the role record names no possible process.
 */
CORTEX_API int cortex_cell_read(cortex_cell *cell, void *out, size_t size);

/**
 * Like cortex_cell_read(), and also stores in @p version the version
 * (sequence number, always even) of the value it copied: the value of a
 * later read is newer exactly when its version is larger.  @p version is
 * written whenever the value was copied (0 and -EOWNERDEAD).
 * @return as cortex_cell_read(); -EINVAL also for a NULL @p version.
 */
CORTEX_API int cortex_cell_read_version(cortex_cell *cell, void *out, size_t size, uint64_t *version);

/**
 * Waits until the cell's version differs from @p *seen (a write completed
 * since the caller's last look), then stores the new version in @p *seen.
 * Returns at once if it already differs.  Start with the version from
 * cortex_cell_read_version() (or 0 for "any write since creation").  It
 * does not read the value: call cortex_cell_read_version() next.  A write
 * in progress (odd sequence) is waited for; one whose writer died stays
 * odd until the next write, update or cortex_cell_consistent() repairs it,
 * which also wakes waiters.  Works alike for every lock backend.
 *
 * @param cell        the cell.
 * @param seen        in: the version the caller has; out (on 0): the new one.
 * @param timeout_ns  < 0 waits forever, 0 only looks.
 * @return 0; -ETIMEDOUT (no new version in time; cortex_last_error() says
 *         which version it still saw, or that a write is in progress);
 *         -EINVAL (NULL argument).
 */
CORTEX_API int cortex_cell_wait(cortex_cell *cell, uint64_t *seen, int64_t timeout_ns);

/**
 * Replaces the value (and clears the inconsistent state).
 * @return 0, -EINVAL, or a lock error.  With ::cortex_sync_one_writer the
 *         first write through a handle claims the writer role: -EBUSY (at
 *         once, cortex_last_error() naming the holder's pid) while another
 *         handle's live process holds it; -EBADMSG for a corrupt role record.
 */
CORTEX_API int cortex_cell_write(cortex_cell *cell, const void *value, size_t size);

/**
 * cortex_cell_write() with a bound on the wait for the lock.
 * @param cell        the cell.
 * @param value       the new value (@p size bytes).
 * @param size        must equal the cell's value size.
 * @param timeout_ns  < 0 waits forever (as cortex_cell_write()), 0 tries once.
 * @return 0; -ETIMEDOUT (the lock was not free in time: nothing was written;
 *         cortex_last_error() names the holder's pid when the backend knows
 *         it); -EINVAL; another lock error (one-writer: -EBUSY at once, as
 *         cortex_cell_write(): a role is not waited for).
 */
CORTEX_API int cortex_cell_write_timed(cortex_cell *cell, const void *value, size_t size, int64_t timeout_ns);

/**
 * Runs @p fn on a copy of the value under the lock and stores the result.
 * @p scratch is caller memory of @p size bytes, aligned for the value, that
 * holds the copy (the typed layer passes a local `T`).
 * @return 0; -EOWNERDEAD (inconsistent: @p fn was not run); -EINVAL; a lock error.
 */
CORTEX_API int cortex_cell_update(cortex_cell *cell, cortex_cell_update_fn fn, void *ctx, void *scratch,
                                  size_t size);

/**
 * cortex_cell_update() with a bound on the wait for the lock.
 * @param cell        the cell.
 * @param fn          run under the lock on the copy in @p scratch.
 * @param ctx         passed to @p fn.
 * @param scratch     caller memory for the copy (@p size bytes, aligned for the value).
 * @param size        must equal the cell's value size.
 * @param timeout_ns  < 0 waits forever, 0 tries once.
 * @return 0; -ETIMEDOUT (@p fn was not run, nothing was written);
 *         -EOWNERDEAD; -EINVAL; another lock error.
 */
CORTEX_API int cortex_cell_update_timed(cortex_cell *cell, cortex_cell_update_fn fn, void *ctx, void *scratch,
                                        size_t size, int64_t timeout_ns);

/**
 * A read-modify-write that may cancel: runs @p fn on a copy of the value
 * under the lock and stores the copy only if @p fn returns 0.  Any other
 * return leaves the value and its version as they were, and is returned as
 * is.  Return a positive value to cancel (it cannot be mistaken for a
 * library error, and cortex_last_error() is not touched); a negative one
 * is returned too and recorded in cortex_last_error().
 *
 * @param cell        the cell.
 * @param fn          run under the lock on the copy in @p scratch; 0 stores it.
 * @param ctx         passed to @p fn.
 * @param scratch     caller memory for the copy (@p size bytes, aligned for the value).
 * @param size        must equal the cell's value size.
 * @param timeout_ns  bound on the wait for the lock: < 0 forever, 0 tries once.
 * @return 0 (stored); @p fn's nonzero value (nothing stored); -ETIMEDOUT
 *         (@p fn was not run); -EOWNERDEAD (inconsistent: @p fn was not
 *         run); -EINVAL; another lock error.
 */
CORTEX_API int cortex_cell_update_if(cortex_cell *cell, cortex_cell_update_if_fn fn, void *ctx, void *scratch,
                                     size_t size, int64_t timeout_ns);

/**
 * Accepts the value as it is after -EOWNERDEAD: reads and updates succeed again.
 * @return 0, -EINVAL, or a lock error (one-writer: it needs the writer role,
 *         so -EBUSY while another live handle holds it).
 */
CORTEX_API int cortex_cell_consistent(cortex_cell *cell);

/**
 * Closes the cell: the owner removes the segment and its lock (a SysV
 * semaphore), an attacher detaches.  NULL is accepted.  Always frees it.
 */
CORTEX_API int cortex_cell_close(cortex_cell *cell);
/** Detaches and leaves the segment (and its semaphore) in the system. */
CORTEX_API int cortex_cell_leak(cortex_cell *cell);
/** Makes this handle the owner (its close removes the segment). */
CORTEX_API int cortex_cell_own(cortex_cell *cell);

/** The cell's region (key, fd, header, ownership queries). */
CORTEX_API cortex_region *cortex_cell_region(const cortex_cell *cell);
/** The value size in bytes. */
CORTEX_API size_t cortex_cell_size(const cortex_cell *cell);
/** The lock backend in use. */
CORTEX_API const cortex_sync_ops *cortex_cell_lock_ops(const cortex_cell *cell);

/** What cortex_cell_inspect() reports. */
typedef struct cortex_cell_info {
    uint64_t sequence;     /**< Sequence number (odd: a write is in progress or its writer died). */
    bool consistent;       /**< false after a writer died mid-write, until write/consistent. */
    uint32_t value_size;   /**< Bytes of the value. */
    uint32_t value_align;  /**< Its alignment. */
    uint32_t lock_id;      /**< Lock backend id (CORTEX_SYNC_ID_*, or a user id). */
    char lock_name[32];    /**< "futex", "semaphore", "one-writer", or "user" for an unknown id. */
    int lock_state;        /**< 1 held, 0 free, negative errno: unknown (one-writer: the writer role). */
    int32_t holder_pid;    /**< Holder's pid when held and known, else 0. */
    bool holder_alive;     /**< Whether that pid is a live process. */
    char type_name[CORTEX_TYPE_TAG_MAX + 1]; /**< Type tag from the header (printable). */
} cortex_cell_info;

/**
 * Read-only look at a cell segment (for tools): validates the segment and
 * cell headers against the region's real size and never writes, locks or
 * follows anything unchecked, so corrupt memory gives -EBADMSG, not a crash.
 * @return 0; -EINVAL (NULL); -EPROTO (not a cell); -EBADMSG (corrupt).
 */
CORTEX_API int cortex_cell_inspect(const cortex_region *region, cortex_cell_info *out);

/* ---- the typed read and write, inline ------------------------------------- */

/** @cond internal */
/*
 * The first member of every cell handle (lib/cell/cell.c checks its
 * offsets): what the typed read and write's inline paths read.  An ABI of
 * this header and the library, like the ring's and the slab's fast-path
 * fields.  ow_key and fx_light change while the handle is in use (the
 * library sets them at a first write) and are read with atomic builtins.
 */
typedef struct cortex_cell_fast_ {
    uint64_t ow_key;      /* one-writer: the process identity the handle holds the writer role as (else none matches) */
    unsigned char *head;  /* the cell header: sequence word at +32, inconsistent flag at +40, waiters word at +44 */
    unsigned char *value; /* the value area, whole 8-byte words */
    uint32_t size;        /* the value's size */
    uint32_t ow_light;    /* one-writer: 1 when the wake check needs no fence (see lib/cell/seqlock.h) */
    uint64_t fx_light;    /* futex: (pid << 1) | light, the wake path decided for that process (0: none yet) */
    unsigned char *fx_record; /* futex: the lock's owner record, (stamp << 32) | pid while held; NULL: not futex */
} cortex_cell_fast_;

/* The inline writes' wake when a waiter announced itself (the waiters word's bit 0); 0. */
CORTEX_API int cortex_cell__wake_(cortex_cell *cell);
/* The inline futex write found the lock word changed under it (a hostile store): the library's release
 * (0 if this process still holds the word, else -EPERM and nothing released). */
CORTEX_API int cortex_cell__release_(cortex_cell *cell);

#if !defined(CORTEX_MODEL) && !defined(CORTEX_CELL_NO_INLINE) && !defined(CORTEX_BUILDING_LIBRARY) &&            \
    !defined(__cplusplus) && !defined(__STDC_NO_ATOMICS__) && defined(__STDC_VERSION__) &&                       \
    __STDC_VERSION__ >= 201112L && (defined(__GNUC__) || defined(__clang__))
#include <stdatomic.h>
#include <string.h>
/* The calling process's identity, (stamp << 32) | pid, 0 until first asked (and after a fork): lib/sync/ident.h. */
CORTEX_API extern _Atomic uint64_t cortex__sync_ident_cache;

#define CORTEX_CELL__SEQ_MASK ((UINT64_C(1) << 40) - 1u) /* the sequence word's counter bits (lib/cell/seqlock.h) */

/* The value's words into place, the last one zero-padded (size is a constant here), then the flag cleared. */
static inline void cortex_cell__store_(const cortex_cell_fast_ *f, const void *value, size_t size,
                                       memory_order mo)
{
    _Atomic uint64_t *w = (_Atomic uint64_t *)(void *)f->value;
    const unsigned char *src = (const unsigned char *)value;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = 0;
        memcpy(&v, src + i, size - i < 8 ? size - i : 8);
        atomic_store_explicit(&w[i / 8], v, mo);
    }
    atomic_store_explicit((_Atomic uint32_t *)(void *)(f->head + 40), 0, mo);
}

/* After the release of the sequence: wake a waiter that announced itself (@light: no fence, see seqlock.h). */
static inline int cortex_cell__wake_check_(cortex_cell *cell, const cortex_cell_fast_ *f, int light)
{
    if (light)
        __asm__ __volatile__("" ::: "memory"); /* waiters make up for the fence with membarrier */
    else
        atomic_thread_fence(memory_order_seq_cst); /* the store before the look at the waiters word */
    if (__builtin_expect(atomic_load_explicit((_Atomic uint32_t *)(void *)(f->head + 44), memory_order_relaxed) & 1u,
                         0))
        return cortex_cell__wake_(cell);
    return 0;
}

/*
 * The typed write (name_write), without a call when this process has
 * written through the handle before:
 * - a one-writer cell whose writer role the handle holds: the
 *   single-writer seqlock write of lib/cell/seqlock.h
 *   (cortex__cell_write_one, which the model checker explores);
 * - a futex cell: lib/cell/cellword.h's write (one CAS takes the free word
 *   odd with this pid, the owner record, the value, one release store),
 *   which the model checker explores as cortex__cellword_lock/_unlock.
 * Then the wake check.  Anything else (a held word, another backend, the
 * first write, a forked child, bad arguments) is cortex_cell_write(),
 * which also fills what the next inline write needs.  Define
 * CORTEX_CELL_NO_INLINE to always call it.
 */
static inline int cortex_cell__write_(cortex_cell *cell, const void *value, size_t size)
{
    const cortex_cell_fast_ *f = (const cortex_cell_fast_ *)(const void *)cell;
    if (__builtin_expect(!cell || !value || size != f->size, 0))
        return cortex_cell_write(cell, value, size);
    uint64_t id = atomic_load_explicit(&cortex__sync_ident_cache, memory_order_relaxed);
    _Atomic uint64_t *seq = (_Atomic uint64_t *)(void *)(f->head + 32);
    if (__atomic_load_n(&f->ow_key, __ATOMIC_RELAXED) == id) {
        uint64_t s = atomic_load_explicit(seq, memory_order_relaxed) & CORTEX_CELL__SEQ_MASK & ~UINT64_C(1);
        atomic_store_explicit(seq, (s + 1) & CORTEX_CELL__SEQ_MASK, memory_order_relaxed);
        atomic_thread_fence(memory_order_release); /* the odd counter before any word of the value */
        cortex_cell__store_(f, value, size, memory_order_relaxed);
        atomic_store_explicit(seq, (s + 2) & CORTEX_CELL__SEQ_MASK, memory_order_release);
        return cortex_cell__wake_check_(cell, f, (int)f->ow_light);
    }
    uint64_t ls = __atomic_load_n(&f->fx_light, __ATOMIC_RELAXED);
    uint64_t w = atomic_load_explicit(seq, memory_order_relaxed);
    if (!f->fx_record || id == 0 || ls >> 1 != (uint32_t)id || (w >> 40) != 0)
        return cortex_cell_write(cell, value, size);
    uint64_t held = ((uint64_t)(uint32_t)id << 40) | (w & CORTEX_CELL__SEQ_MASK) | 1u;
    if (!atomic_compare_exchange_strong_explicit(seq, &w, held, memory_order_acquire, memory_order_relaxed))
        return cortex_cell_write(cell, value, size);
    _Atomic uint64_t *record = (_Atomic uint64_t *)(void *)f->fx_record;
    atomic_store_explicit(record, id, memory_order_relaxed);
    cortex_cell__store_(f, value, size, memory_order_release);
    if (__builtin_expect(atomic_load_explicit(seq, memory_order_relaxed) != held, 0))
        return cortex_cell__release_(cell);
    atomic_store_explicit(record, 0, memory_order_relaxed);
    atomic_store_explicit(seq, ((held & CORTEX_CELL__SEQ_MASK) + 1) & CORTEX_CELL__SEQ_MASK, memory_order_release);
    return cortex_cell__wake_check_(cell, f, (int)(ls & 1u));
}

/*
 * The typed read (name_read): one optimistic seqlock read without a call
 * (lib/cell/seqlock.h's cortex__cell_read_try); a write in progress, a
 * lost race, an inconsistent value or bad arguments go to
 * cortex_cell_read(), which retries, waits or reports.
 */
static inline int cortex_cell__read_(cortex_cell *cell, void *out, size_t size)
{
    const cortex_cell_fast_ *f = (const cortex_cell_fast_ *)(const void *)cell;
    if (__builtin_expect(!cell || !out || size != f->size, 0))
        return cortex_cell_read(cell, out, size);
    _Atomic uint64_t *seq = (_Atomic uint64_t *)(void *)(f->head + 32);
    uint64_t s0 = atomic_load_explicit(seq, memory_order_acquire);
    if (__builtin_expect(!(s0 & 1u), 1)) {
        _Atomic uint64_t *w = (_Atomic uint64_t *)(void *)f->value;
        unsigned char *dst = (unsigned char *)out;
        for (size_t i = 0; i < size; i += 8) {
            uint64_t v = atomic_load_explicit(&w[i / 8], memory_order_acquire);
            memcpy(dst + i, &v, size - i < 8 ? size - i : 8);
        }
        uint32_t flag = atomic_load_explicit((_Atomic uint32_t *)(void *)(f->head + 40), memory_order_acquire);
        uint64_t s1 = atomic_load_explicit(seq, memory_order_relaxed);
        if (__builtin_expect(flag == 0 && ((s1 ^ s0) & CORTEX_CELL__SEQ_MASK) == 0, 1))
            return 0;
    }
    return cortex_cell_read(cell, out, size);
}
#else
static inline int cortex_cell__write_(cortex_cell *cell, const void *value, size_t size)
{
    return cortex_cell_write(cell, value, size);
}
static inline int cortex_cell__read_(cortex_cell *cell, void *out, size_t size)
{
    return cortex_cell_read(cell, out, size);
}
#endif
/** @endcond */

CORTEX_END_DECLS

#endif
