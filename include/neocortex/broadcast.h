/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/broadcast.h
 * @brief One writer, many readers: a broadcast ring in shared memory.
 *
 * One writer publishes fixed-size elements; up to `max_readers` readers
 * (fixed at create, at most ::CORTEX_BROADCAST_MAX_READERS) each read every
 * element at their own pace.  Readers join and leave at any time.  Two
 * modes, chosen at create:
 *
 * - ::CORTEX_BROADCAST_LOSSLESS: the writer gets -EAGAIN (or waits, in
 *   cortex_broadcast_push_wait()) while the slowest live reader is a whole
 *   ring behind.  A reader whose process died is evicted by the writer:
 *   a full writer checks the lagging readers' liveness at most every
 *   ::CORTEX_BROADCAST_LIVENESS_NS, so a dead reader blocks it for at most
 *   that long (plus one nap of cortex_broadcast_push_wait(), at most
 *   ::CORTEX_BROADCAST_NAP_NS).
 * - ::CORTEX_BROADCAST_LOSSY: the writer never waits; a reader that was
 *   lapped gets -EOVERFLOW once, learns how many elements it lost from
 *   cortex_broadcast_missed() (and from cortex_last_error()), and goes on
 *   from the oldest element still in the ring.
 *
 * In both modes the writer announces the elements it is about to write (its
 * claim) before it writes them: a reader copies a run of elements out and
 * then checks the claim, so it never returns a torn element.
 *
 * Forms: cortex_broadcast_create() / cortex_broadcast_join() make or find a
 * CORTEX_KIND_BROADCAST segment (the creator is the writer);
 * cortex_broadcast_init() / cortex_broadcast_join_mem() do the same over
 * memory the caller maps itself.
 *
 * Errors: -EAGAIN full (lossless writer) or empty (reader); -EOVERFLOW
 * lapped (lossy reader; the next pop goes on); -EPIPE the writer closed the
 * ring or died and everything it published was read; -EBUSY every reader
 * entry is taken; -EBADMSG an index, claim or reader entry in shared
 * memory is impossible (corrupt or hostile; the handle stays poisoned);
 * -ETIMEDOUT from the *_wait calls.
 *
 * ## Shared layout (ABI, version 2), offsets from the broadcast's first byte
 *
 * | offset | field | written by |
 * |---:|---|---|
 * | 0   | magic "NCBCAST1", version, header size, elem size/align, capacity, max readers, flags, slot size, slots offset, total size, checksum | create, then immutable |
 * | 64  | writer: head (u64, elements published), closed flag, pid (-pid from create until its claim is complete), start time, claim (u64 at 88, elements it began to write), image token, stamp | writer |
 * | 128 | readers' wake: sleeper count, futex word | readers (writer bumps the word) |
 * | 192 | writer's wake (lossless): announcement flag, futex word | writer (readers clear) |
 * | 256 | reader table: one 64-byte line per reader (pid, stamp, start time, cursor, image token, asleep flag at 32) | that reader (writer evicts the dead) |
 * | 256 + 64 * max_readers | slots: the element rounded up to 8 bytes, contiguous | writer |
 */
#ifndef NEOCORTEX_BROADCAST_H
#define NEOCORTEX_BROADCAST_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

CORTEX_BEGIN_DECLS

/** Create flag: the writer waits for the slowest live reader (never loses an element). */
#define CORTEX_BROADCAST_LOSSLESS 0u
/** Create flag: the writer never waits; lapped readers report -EOVERFLOW. */
#define CORTEX_BROADCAST_LOSSY 1u
/** Join: start at the next element the writer publishes. */
#define CORTEX_BROADCAST_NEWEST 0u
/** Join: start at the oldest element still in the ring (the history). */
#define CORTEX_BROADCAST_OLDEST 1u

/** Most readers a broadcast ring can be created for. */
#define CORTEX_BROADCAST_MAX_READERS 64u
/** Largest capacity (a power of two). */
#define CORTEX_BROADCAST_MAX_CAPACITY (UINT32_C(1) << 30)
/** Largest element size in bytes. */
#define CORTEX_BROADCAST_MAX_ELEM (UINT32_C(1) << 20)
/** "NCBCAST1" read as a little-endian 64-bit number. */
#define CORTEX_BROADCAST_MAGIC UINT64_C(0x315453414342434e)
/** Version of the broadcast layout. */
#define CORTEX_BROADCAST_VERSION 2u
/** Bytes of control data before the reader table. */
#define CORTEX_BROADCAST_HEADER_SIZE 256u
/** A full lossless writer checks the liveness of lagging readers at most this often (ns). */
#define CORTEX_BROADCAST_LIVENESS_NS INT64_C(5000000)
/** Longest single sleep of a *_wait call before it re-checks its peers (ns). */
#define CORTEX_BROADCAST_NAP_NS INT64_C(10000000)

/**
 * A process-private handle on a broadcast ring (writer or reader).  Fill it
 * with cortex_broadcast_create(), cortex_broadcast_join(),
 * cortex_broadcast_init() or cortex_broadcast_join_mem(); its fields are
 * the library's.
 */
typedef struct cortex_broadcast {
    unsigned char *base;          /**< The broadcast's first shared byte in this mapping. */
    unsigned char *slots;         /**< Slot 0. */
    struct cortex_region *region; /**< Segment form: the region; raw form: NULL. */
    uint64_t mask;                /**< capacity - 1. */
    uint64_t pos;                 /**< Writer: next index to write; reader: next index to read. */
    uint64_t seen;                /**< Writer: cached lowest reader cursor; reader: last head seen. */
    uint64_t missed;              /**< Reader: elements lost to laps, in total. */
    int64_t next_check;           /**< When to check liveness next (ns). */
    uint32_t elem_size;           /**< Bytes per element. */
    uint32_t slot_size;           /**< Bytes per slot (the element rounded up to 8). */
    uint32_t capacity;            /**< Slots (power of two). */
    uint32_t max_readers;         /**< Entries in the reader table. */
    uint32_t flags;               /**< CORTEX_BROADCAST_LOSSY or LOSSLESS. */
    uint32_t role;                /**< 1 writer, 2 reader, 0 not open. */
    uint32_t index;               /**< Reader: its entry in the table. */
    uint32_t bad;                 /**< 1: corrupt shared state was seen; calls return -EBADMSG. */
    int32_t pid;                  /**< The pid that opened the handle. */
    uint32_t polls;               /**< Empty/full polls since the last liveness check. */
    uint64_t published;           /**< Reader: its position at its last wake check for the writer. */
    uint64_t guarded;             /**< Reader, lossless: from this index on the writer waits for it; writer: its claims go no lower (a dead writer's claim it took over). */
    uint32_t light;               /**< Writer: registered for membarrier, so it publishes without a fence. */
    int32_t took_over;            /**< Set by create / join: pid of the certainly dead writer whose role this handle took over (or of this process's image before an exec()), or of the dead reader whose entry a join reused; 0 if the role or entry was free. */
} cortex_broadcast;

/**
 * Bytes a broadcast ring needs (control lines, reader table, slots).
 * @return the size, or 0 if a parameter is out of range (capacity not a
 *         power of two in [1, CORTEX_BROADCAST_MAX_CAPACITY], max_readers
 *         not in [1, 64], elem_size 0 or above CORTEX_BROADCAST_MAX_ELEM).
 */
CORTEX_API size_t cortex_broadcast_required_size(uint32_t capacity, uint32_t max_readers, size_t elem_size);

/**
 * Creates a CORTEX_KIND_BROADCAST segment at @p key; the caller is its writer.
 * @param b the handle to fill (the writer's).
 * @param key where the segment is made (see neocortex/key.h).
 * @param capacity slots, a power of two in [1, CORTEX_BROADCAST_MAX_CAPACITY].
 * @param max_readers entries in the reader table, 1 to CORTEX_BROADCAST_MAX_READERS.
 * @param flags CORTEX_BROADCAST_LOSSLESS or CORTEX_BROADCAST_LOSSY.
 * @param elem_size bytes per element, 1 to CORTEX_BROADCAST_MAX_ELEM.
 * @param elem_align alignment of the element type (checked by joiners; 0: any).
 * @param type_name spelling of the element type for the segment's signature.
 * @param opts create mode, permissions, type tag... (NULL: defaults).
 * @return 0, -EINVAL (parameters), -EEXIST, -EBUSY (open-or-create on a ring
 *         whose writer lives, this process's other handle included), -EACCES,
 *         ... (see cortex_region_create()).
 */
CORTEX_API int cortex_broadcast_create(cortex_broadcast *b, cortex_key key, uint32_t capacity, uint32_t max_readers,
                                       unsigned flags, size_t elem_size, size_t elem_align, const char *type_name,
                                       const cortex_opts *opts);

/**
 * Joins the broadcast segment at @p key as a reader.
 * @param b the handle to fill (a reader's).
 * @param key where the segment is (see neocortex/key.h).
 * @param from CORTEX_BROADCAST_NEWEST or CORTEX_BROADCAST_OLDEST.
 * @param elem_size bytes per element the caller expects.
 * @param elem_align alignment of the element type the caller expects.
 * @param type_name spelling of the element type, checked against the segment's signature.
 * @param opts attach timeout, trust, type tag... (NULL: defaults).
 * @return 0, -EBUSY (every reader entry is held by a live process), -EPIPE
 *         (the writer closed it), -EPROTO (another kind or element type),
 *         -EBADMSG (corrupt), -ENOENT, -EACCES, ...
 */
CORTEX_API int cortex_broadcast_join(cortex_broadcast *b, cortex_key key, unsigned from, size_t elem_size,
                                     size_t elem_align, const char *type_name, const cortex_opts *opts);

/**
 * Lays a broadcast ring over @p len bytes at @p mem (64-byte aligned,
 * cortex_broadcast_required_size() bytes) and makes @p b its writer.
 * @return 0 or -EINVAL.
 */
CORTEX_API int cortex_broadcast_init(cortex_broadcast *b, void *mem, size_t len, uint32_t capacity,
                                     uint32_t max_readers, unsigned flags, size_t elem_size, size_t elem_align);

/**
 * Joins a broadcast ring in memory the caller mapped (every field is
 * validated first); @p elem_size / @p elem_align 0 accept any element.
 * @return 0, -EBUSY, -EPIPE, -EPROTO, -EBADMSG or -EINVAL.
 */
CORTEX_API int cortex_broadcast_join_mem(cortex_broadcast *b, void *mem, size_t len, unsigned from,
                                         size_t elem_size, size_t elem_align);

/**
 * Writer: publishes one element.
 * @return 0; -EAGAIN (lossless: the slowest live reader is a ring behind);
 *         -EBADMSG (a reader's cursor is impossible); -EINVAL (not a writer).
 */
CORTEX_API int cortex_broadcast_push(cortex_broadcast *b, const void *elem);

/** Writer: publishes up to @p n elements at once. @return the count published (0 only for n == 0), or -errno as cortex_broadcast_push(). */
CORTEX_API ssize_t cortex_broadcast_push_n(cortex_broadcast *b, const void *elems, size_t n);

/**
 * Writer: as cortex_broadcast_push(), waiting up to @p timeout_ns for a
 * lossless ring to have room (< 0 forever, 0 never).  @return 0,
 * -ETIMEDOUT, -EBADMSG.
 */
CORTEX_API int cortex_broadcast_push_wait(cortex_broadcast *b, const void *elem, int64_t timeout_ns);

/**
 * Reader: copies the next element to @p out (whose bytes are unspecified
 * after a failure).
 * @return 0; -EAGAIN empty; -EOVERFLOW lapped (lossy: the count lost is
 *         added to cortex_broadcast_missed() and named in
 *         cortex_last_error(); the next pop reads the oldest element left);
 *         -EPIPE the writer closed the ring or died and all it published
 *         was read; -EBADMSG corrupt shared state.
 */
CORTEX_API int cortex_broadcast_pop(cortex_broadcast *b, void *out);

/**
 * Reader: copies up to @p n elements, one contiguous run below the head it
 * read once.  @return the count (> 0), or -errno as cortex_broadcast_pop():
 * a run the writer lapped is reported by this call (-EOVERFLOW, counting
 * only the elements overwritten; the next call reads on from the oldest).
 */
CORTEX_API ssize_t cortex_broadcast_pop_n(cortex_broadcast *b, void *out, size_t n);

/**
 * Reader: as cortex_broadcast_pop(), sleeping up to @p timeout_ns (< 0
 * forever, 0 never) until the writer publishes.  The writer makes a system
 * call to wake readers only while one sleeps.  @return 0, -ETIMEDOUT,
 * -EOVERFLOW, -EPIPE, -EBADMSG.
 */
CORTEX_API int cortex_broadcast_pop_wait(cortex_broadcast *b, void *out, int64_t timeout_ns);

/** Reader: elements this reader lost to laps, in total (0 for a writer or NULL). */
CORTEX_API uint64_t cortex_broadcast_missed(const cortex_broadcast *b);

/** Reader: elements published and not yet read by this reader (0 for a writer). */
CORTEX_API uint64_t cortex_broadcast_lag(const cortex_broadcast *b);

/** Capacity in elements (0 for NULL). */
CORTEX_API size_t cortex_broadcast_capacity(const cortex_broadcast *b);

/** The segment of a create/join handle, NULL for the raw form. */
CORTEX_API struct cortex_region *cortex_broadcast_region(const cortex_broadcast *b);

/**
 * Closes the handle.  The writer marks the ring closed (readers drain it,
 * then get -EPIPE) and wakes sleeping readers; a reader frees its entry and
 * wakes a writer waiting on it.  The segment's owner (the creator, unless
 * ownership moved) removes it.  NULL and closed handles are accepted.
 * @return 0, or an error of cortex_region_close().
 */
CORTEX_API int cortex_broadcast_close(cortex_broadcast *b);

/** One reader entry as seen by cortex_broadcast_inspect(). */
typedef struct cortex_broadcast_reader_info {
    int32_t pid;     /**< Holder's pid (0: free). */
    bool alive;      /**< The holder's process is alive. */
    uint64_t cursor; /**< Next index it reads. */
    uint64_t lag;    /**< head - cursor (clamped to the capacity when impossible). */
} cortex_broadcast_reader_info;

/** What cortex_broadcast_inspect() reports. */
typedef struct cortex_broadcast_info {
    uint32_t capacity;    /**< Slots. */
    uint32_t elem_size;   /**< Bytes per element. */
    uint32_t max_readers; /**< Entries in the reader table. */
    uint32_t flags;       /**< CORTEX_BROADCAST_LOSSY or LOSSLESS. */
    uint64_t head;        /**< Elements published. */
    int32_t writer_pid;   /**< The writer's pid (also while its claim is in progress). */
    bool writer_alive;    /**< The writer's process is alive. */
    bool closed;          /**< The writer closed the ring. */
    uint32_t readers;     /**< Entries held. */
    cortex_broadcast_reader_info reader[CORTEX_BROADCAST_MAX_READERS]; /**< The first max_readers entries. */
} cortex_broadcast_info;

/**
 * Reads a broadcast ring's state without joining it (for tools): validates
 * the header, then copies the writer line and reader table.
 * @return 0, -EBADMSG (corrupt), -EPROTO (another kind), -EINVAL.
 */
CORTEX_API int cortex_broadcast_inspect_mem(const void *mem, size_t len, cortex_broadcast_info *out);

/** As cortex_broadcast_inspect_mem() on an open region (-EPROTO if it is not a broadcast ring). */
CORTEX_API int cortex_broadcast_inspect(const struct cortex_region *region, cortex_broadcast_info *out);

CORTEX_END_DECLS

#endif
