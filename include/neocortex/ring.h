/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/ring.h
 * @brief Wait-free single-producer/single-consumer ring in shared memory.
 *
 * The core works on `void *` elements of a fixed size set at init.  Two
 * forms:
 *
 * - **raw**: cortex_ring_init() lays a ring over memory the caller owns
 *   (cortex_ring_required_size() bytes, 64-byte aligned).  The handle it
 *   fills serves both sides (two threads of one process), or a second
 *   process that mapped the same bytes joins with cortex_ring_attach_mem().
 * - **segment**: cortex_ring_create() / cortex_ring_attach() make or find a
 *   CORTEX_KIND_RING segment (neocortex/region.h) and take one role.  At
 *   most one producer and one consumer hold the ring at a time across
 *   processes (-EBUSY for a second); a role whose holder is certainly dead
 *   is taken over (cortex_ring::took_over names it).  A holder whose
 *   liveness cannot be judged (hidden /proc) keeps its role (-EBUSY, saying
 *   why).  A handle belongs to the process that opened it: a forked child's
 *   close (or exit through the parent's cleanup) only detaches.  After an
 *   exec(), the new image may attach the role its old image held: it takes
 *   it back, reported in cortex_ring::took_over (its own pid).
 *
 * Operations return 0 (or a count) or a negative errno: -EAGAIN full/empty,
 * -EPIPE the peer closed or died (a consumer first drains what is left),
 * -EBADMSG the peer's index is impossible (corrupt or hostile memory; the
 * handle stays poisoned), -ETIMEDOUT from the *_wait calls.
 *
 * ## Publication schemes (chosen at create, recorded in the header)
 *
 * - **index** (CORTEX_RING_SCHEME_INDEX, any element): the producer
 *   publishes its index after the slot bytes, the consumer its index after
 *   reading them; each side caches the other's index and reloads it only
 *   when the ring looks full/empty.  A message is visible as soon as its
 *   push returns.
 * - **marks** (CORTEX_RING_SCHEME_MARKS, 8-byte elements with a value that
 *   means "empty": cortex_ring_init_marked(), cortex_ring_create_marked(),
 *   CORTEX_SPSC_RING_DECLARE_MARKED): FastForward-style.  A slot holding the
 *   empty value is free, any other value is a message; the consumer writes
 *   the empty value back.  Neither side reads the other's index on its
 *   path, so the only cache lines that move per message are the slot lines
 *   (one per 8 messages each way) instead of the index line per message.
 *   A message is visible as soon as its push returns (its slot store is the
 *   publication); pushing the empty value is -EINVAL.  The indices are still
 *   kept (the producer's counts claimed slots, the consumer's taken ones)
 *   for cortex_ring_len(), inspection and a role takeover.
 * - **batch** (CORTEX_RING_SCHEME_BATCH, any element:
 *   cortex_ring_init_batched(), cortex_ring_create_batched(),
 *   CORTEX_SPSC_RING_DECLARE_BATCHED): MCRingBuffer-style.  The producer
 *   publishes its index when it completes a group of CORTEX_RING_BATCH slots
 *   (or the capacity, if smaller), so the consumer's index reads pull the
 *   producer's line once per group instead of once per message.  The price
 *   is an explicit visibility rule: a pushed message becomes visible at the
 *   latest when the group completes, when the producer finds the ring full,
 *   when a consumer asleep in cortex_ring_pop_wait() is woken by a later
 *   push, at cortex_ring_flush(), or at close.  **A producer that stops
 *   pushing must call cortex_ring_flush()** (cortex_ring_push_n() and
 *   cortex_ring_commit() publish at once, like a flush).  On x86-64,
 *   64-byte elements are written with non-temporal stores (no ownership of
 *   the line the consumer read last), fenced before each publication; they
 *   reach the consumer through memory rather than from the producer's cache.
 *
 * ## Shared layout (ABI, version 2), offsets from the ring's first byte
 *
 * | offset | field | written by |
 * |---:|---|---|
 * | 0   | magic "NCRING01", version, header size, elem size/align, capacity, scheme, slots offset, total size, empty value, checksum | init, then immutable |
 * | 64  | producer index (u64, free-running; marks: slots claimed)  | producer |
 * | 128 | consumer index (u64, free-running; marks: slots taken)  | consumer |
 * | 192 | roles: pid, start time, stamp per side, closed flags, fence modes; image tokens | attach/close |
 * | 256 | consumer sleeper: announcement flag, futex word | consumer (producer clears) |
 * | 320 | producer sleeper: announcement flag, futex word | producer (consumer clears) |
 * | 384 | slots, aligned for the element (at least 64) | |
 *
 * Each side keeps its own index and its cached copy of the other side's
 * index in the process-private handle (::cortex_ring), each side's pair on
 * its own cache line: nothing the peer (or a third process) writes can
 * change what a side believes it has published.
 *
 * ## Inline fast paths
 *
 * cortex_ring_push(), cortex_ring_pop() and friends are `static inline` in
 * this header (the layout is an ABI anyway) and call the library only when
 * the ring looks full/empty or a sleeper must be woken.  Define
 * CORTEX_RING_NO_INLINE (or CORTEX_MODEL, for the model checker) before
 * including to make every call go to the library's out-of-line copies
 * (cortex_ring_push_lib() ...), which do every shared access through the
 * library's atomics layer.  C++ always uses the library copies.
 */
#ifndef NEOCORTEX_RING_H
#define NEOCORTEX_RING_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#if !defined(CORTEX_MODEL) && !defined(CORTEX_RING_NO_INLINE) && !defined(__cplusplus) && \
    !defined(__STDC_NO_ATOMICS__) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
/** 1 when this translation unit uses the inline fast paths. */
#define CORTEX_RING_INLINE 1
#include <stdatomic.h>
#else
/** 0: this translation unit calls the library for every operation. */
#define CORTEX_RING_INLINE 0
#endif

CORTEX_BEGIN_DECLS

/** Which side of a ring a handle plays. */
typedef enum cortex_role {
    CORTEX_PRODUCER = 1,  /**< Pushes. */
    CORTEX_CONSUMER = 2,  /**< Pops. */
    CORTEX_BOTH_SIDES = 3 /**< One handle for both sides (threads of one process; raw rings). */
} cortex_role;

/** "NCRING01" read as a little-endian 64-bit number. */
#define CORTEX_RING_MAGIC UINT64_C(0x31304e49524e434e)
/** Version of the ring layout (2: the header records the publication scheme and the empty value). */
#define CORTEX_RING_VERSION 2u
/** Publication scheme: index publication with cached peer indices (any element type). */
#define CORTEX_RING_SCHEME_INDEX 0u
/** Publication scheme: per-slot empty marks (8-byte elements with a reserved "empty" value). */
#define CORTEX_RING_SCHEME_MARKS 1u
/** Publication scheme: the producer publishes its index once per CORTEX_RING_BATCH slots (any element type). */
#define CORTEX_RING_SCHEME_BATCH 2u
/** Batch scheme: slots per index publication (or the capacity, if smaller). */
#define CORTEX_RING_BATCH 32u
/** Bytes of ring control data before the slots (slots start here or later). */
#define CORTEX_RING_HEADER_SIZE 384u
/** Largest capacity (a power of two). */
#define CORTEX_RING_MAX_CAPACITY (UINT32_C(1) << 31)
/** Largest element size in bytes. */
#define CORTEX_RING_MAX_ELEM (UINT32_C(1) << 20)

/** @cond internal: how far ahead a batch-scheme producer prefetches slot lines (and the most a batch call asks for). */
#define CORTEX_RING_PREFETCH_LINES 8u
#define CORTEX_RING_PREFETCH_SLOTS(esz) \
    ((esz) >= 64u * CORTEX_RING_PREFETCH_LINES ? 1u : 64u * CORTEX_RING_PREFETCH_LINES / (uint32_t)(esz))
/** @endcond */

/** @cond internal: ABI offsets the inline fast paths use (checked in lib/ring/ring.c). */
#define CORTEX_RING_OFF_SCHEME 28u
#define CORTEX_RING_OFF_PROD 64u
#define CORTEX_RING_OFF_CONS 128u
#define CORTEX_RING_OFF_CONS_CLOSED 220u
#define CORTEX_RING_OFF_CONS_WAITING 256u
#define CORTEX_RING_OFF_PROD_WAITING 320u
#if defined(__cplusplus)
#define CORTEX_RING_ALIGN64 alignas(64)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define CORTEX_RING_ALIGN64 _Alignas(64)
#else /* C99 with GNU C: the same layout */
#define CORTEX_RING_ALIGN64 __attribute__((aligned(64)))
#endif
/** @endcond */

/**
 * A process-private handle on a ring.  Fill it with cortex_ring_init(),
 * cortex_ring_attach_mem(), cortex_ring_create() or cortex_ring_attach();
 * its fields are the library's (documented for the inline paths, not for
 * use).  64-byte aligned: on the heap take one from cortex_ring_new()
 * (or aligned_alloc(64, ...)), never from plain malloc().
 */
typedef struct cortex_ring {
    unsigned char *base;          /**< The ring's first shared byte in this mapping. */
    unsigned char *slots;         /**< Slot 0. */
    uint64_t mask;                /**< capacity - 1. */
    uint32_t elem_size;           /**< Bytes per element. */
    uint32_t capacity;            /**< Slots (power of two). */
    uint32_t role;                /**< ::cortex_role of this handle (0: not open). */
    uint32_t light;               /**< 1: the wake check needs only a compiler barrier (see ring.c). */
    uint32_t closed;              /**< 1: this handle was closed. */
    int32_t dead_pid;             /**< The peer's pid once found dead (until another takes over). */
    int32_t holder;               /**< pid of the process that opened this handle: a close elsewhere (a forked child) only detaches. */
    int32_t took_over;            /**< Set by create/attach: pid of the certainly dead holder whose role this handle took over, or of this process's image before an exec(); 0 if the role was free. */
    struct cortex_region *region; /**< Segment form: the region; raw form: NULL. */
    uint64_t empty;               /**< Marks scheme: the value that means "slot empty". */
    uint32_t marks;               /**< 1: marks scheme (CORTEX_RING_SCHEME_MARKS), 0: index scheme. */
    uint32_t group;               /**< Marks scheme: slots per cache line (the producer frees a line at once). */
    uint32_t batch;               /**< Batch scheme: slots per index publication - 1 (a mask); 0: every push. */
    uint32_t lazy;                /**< Marks scheme: slots the consumer frees at once - 1 (a mask; 0: every pop). */
    int64_t spin_ns;              /**< Spin phase of this handle's *_wait calls in ns; -1: the process default. */
    /** Producer side: its own index and its cached copy of the consumer's. */
    CORTEX_RING_ALIGN64 struct {
        uint64_t head;      /**< Next index to write (private; published to shared). */
        uint64_t cons;      /**< Last consumer index seen (cached); marks: slots known free end - capacity. */
        uint64_t reserved;  /**< Slots handed out by cortex_ring_reserve(). */
        int64_t next_check; /**< When to check the consumer's liveness next (ns). */
        uint32_t polls;     /**< Full polls since the last liveness check. */
        uint32_t bad;       /**< 1: a corrupt consumer index was seen; pushes return -EBADMSG. */
        uint64_t stage[8];  /**< Marks scheme: cortex_ring_reserve()'s span (committed by copying). */
        uint64_t pub;       /**< The index last published (batch scheme: head may be ahead of it). */
    } p;
    /** Consumer side: its own index and its cached copy of the producer's. */
    CORTEX_RING_ALIGN64 struct {
        uint64_t tail;      /**< Next index to read (private; published to shared). */
        uint64_t prod;      /**< Last producer index seen (cached); marks: index at which pop takes the slow path. */
        uint64_t peeked;    /**< Slots handed out by cortex_ring_peek(). */
        int64_t next_check; /**< When to check the producer's liveness next (ns). */
        uint32_t polls;     /**< Empty polls since the last liveness check. */
        uint32_t bad;       /**< 1: a corrupt producer index was seen; pops return -EBADMSG. */
        uint64_t freed;     /**< Marks scheme: the lowest index taken and not yet freed (tail: none pending). */
    } c;
} cortex_ring;

/**
 * Bytes a ring of @p capacity elements of @p elem_size bytes needs
 * (control lines + slots, for elements aligned to at most 64 bytes;
 * cortex_ring_required_size_aligned() for larger alignments).
 * @return the size, or 0 if @p capacity is not a power of two in
 *         [1, CORTEX_RING_MAX_CAPACITY] or @p elem_size is 0 or too large.
 */
CORTEX_API size_t cortex_ring_required_size(uint32_t capacity, size_t elem_size);

/** As cortex_ring_required_size() for elements aligned to @p elem_align (power of two <= 4096). */
CORTEX_API size_t cortex_ring_required_size_aligned(uint32_t capacity, size_t elem_size, size_t elem_align);

/**
 * Lays an empty ring over caller memory and fills @p r as a handle for both
 * sides (CORTEX_BOTH_SIDES).
 *
 * @param r          the handle to fill.
 * @param mem        at least cortex_ring_required_size_aligned() bytes, aligned
 *                   to 64 (or @p elem_align if larger); the caller keeps it alive.
 * @param len        bytes at @p mem.
 * @param capacity   slots, a power of two.
 * @param elem_size  bytes per element.
 * @param elem_align the element's alignment (power of two).
 * @return 0; -EINVAL (capacity not a power of two, element size 0 or too
 *         large, memory too small or misaligned) with a message.
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_init(cortex_ring *r, void *mem, size_t len, uint32_t capacity,
                                                 size_t elem_size, size_t elem_align);

/**
 * As cortex_ring_init() for a ring of the marks scheme (see above): 8-byte
 * elements, @p empty is the value that means "slot empty" and cannot be
 * pushed.  Every slot is set to @p empty.
 * @return 0; -EINVAL as cortex_ring_init().
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_init_marked(cortex_ring *r, void *mem, size_t len, uint32_t capacity,
                                                        size_t elem_align, uint64_t empty);

/**
 * As cortex_ring_init() for a ring of the batch scheme (see above): the
 * producer publishes its index once per CORTEX_RING_BATCH slots, and must
 * call cortex_ring_flush() when it stops pushing.
 * @return 0; -EINVAL as cortex_ring_init().
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_init_batched(cortex_ring *r, void *mem, size_t len, uint32_t capacity,
                                                         size_t elem_size, size_t elem_align);

/**
 * Makes everything this producer pushed visible to the consumer now (and
 * wakes it if it sleeps).  Needed only for the batch scheme, when the
 * producer stops pushing; harmless (no store) on the others.
 * @return 0; -EINVAL (NULL, closed, or not a producer handle).
 */
CORTEX_API int cortex_ring_flush(cortex_ring *r);

/**
 * Joins a ring that another handle laid over memory this process maps too
 * (raw form across processes, or tools).  Validates the ring header against
 * @p len and the expected element (@p elem_size / @p elem_align 0: do not
 * check) and the indices, then claims @p role (CORTEX_BOTH_SIDES claims no
 * role).
 * @return 0; -EBADMSG (not a ring, corrupt header or indices), -EPROTO
 *         (another element size/alignment or version), -EBUSY (role held by
 *         a live process), -EPIPE (that side already closed the ring).
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_attach_mem(cortex_ring *r, void *mem, size_t len, size_t elem_size,
                                                       size_t elem_align, cortex_role role);

/**
 * Creates a ring segment under @p key and takes @p role in it.
 *
 * @param r          the handle to fill.
 * @param key        where the segment goes.
 * @param capacity   slots, a power of two.
 * @param elem_size  bytes per element.
 * @param elem_align the element's alignment.
 * @param type_name  the element type's spelling for the segment's type
 *                   signature (opts->type_tag overrides it; NULL: none).
 * @param role       CORTEX_PRODUCER or CORTEX_CONSUMER: the creator is one side.
 * @param opts       NULL for defaults.
 * @return 0; -EINVAL (capacity, element, role), the cortex_region_create()
 *         errors, and with CORTEX_OPEN_OR_CREATE the cortex_ring_attach() ones.
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_create(cortex_ring *r, cortex_key key, uint32_t capacity,
                                                   size_t elem_size, size_t elem_align, const char *type_name,
                                                   cortex_role role, const cortex_opts *opts);

/**
 * As cortex_ring_create() for a ring of the marks scheme: 8-byte elements
 * (aligned to @p elem_align <= 8), @p empty is the value that means "slot
 * empty".  Attaching needs nothing special: cortex_ring_attach() reads the
 * scheme from the header.
 * @return as cortex_ring_create().
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_create_marked(cortex_ring *r, cortex_key key, uint32_t capacity,
                                                          size_t elem_align, const char *type_name, uint64_t empty,
                                                          cortex_role role, const cortex_opts *opts);

/**
 * As cortex_ring_create() for a ring of the batch scheme (any element type;
 * see cortex_ring_init_batched()).  cortex_ring_attach() reads the scheme
 * from the header.
 * @return as cortex_ring_create().
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_create_batched(cortex_ring *r, cortex_key key, uint32_t capacity,
                                                           size_t elem_size, size_t elem_align,
                                                           const char *type_name, cortex_role role,
                                                           const cortex_opts *opts);

/**
 * Attaches to a ring segment and takes @p role.
 * @return 0; the cortex_region_attach() errors; -EPROTO (not a ring, or
 *         another element type); -EBADMSG (corrupt ring header or indices);
 *         -EXDEV (made in another pid namespace or boot);
 *         -EBUSY (a live process holds @p role, or its holder cannot be
 *         judged dead); -EPIPE (that side closed it).  0 after a takeover
 *         too: cortex_ring::took_over then names the previous holder.
 */
CORTEX_API CORTEX_NODISCARD int cortex_ring_attach(cortex_ring *r, cortex_key key, size_t elem_size,
                                                   size_t elem_align, const char *type_name, cortex_role role,
                                                   const cortex_opts *opts);

/**
 * Closes this handle's side(s): marks them closed in the ring (the peer
 * drains what is left, then gets -EPIPE), releases the role, wakes a
 * sleeping peer, and closes the segment (the owner removes it).  NULL and a
 * closed handle are accepted.  In another process than the one that opened
 * the handle (a forked child) it only detaches: the role, the closed flags
 * and the segment stay the opener's.
 * @return 0, or the cortex_region_close() error.
 */
CORTEX_API int cortex_ring_close(cortex_ring *r);

/** The segment behind @p r, NULL for a raw ring. */
CORTEX_API struct cortex_region *cortex_ring_region(const cortex_ring *r);

/**
 * Detaches this handle and leaves the ring segment in the system, whoever
 * owns it.  The handle's role is given back but its side is NOT closed: a
 * later cortex_ring_attach() of the same role (in this or another process)
 * takes it and goes on from the indices in the ring; the peer meanwhile
 * sees a side with no holder (-EAGAIN, it waits).  The handle is closed
 * afterwards.  (Never leak through cortex_region_leak(cortex_ring_region(r)):
 * that unmaps the memory the handle still uses.)
 * @return 0; -EINVAL (NULL, closed, or a raw ring: nothing to leak).
 */
CORTEX_API int cortex_ring_leak(cortex_ring *r);

/**
 * Makes this handle the owner of the ring segment: its cortex_ring_close()
 * removes the segment, the previous owner's close only detaches.
 * @return 0; -EINVAL (NULL, closed, or a raw ring).
 */
CORTEX_API int cortex_ring_own(cortex_ring *r);

/**
 * A zeroed ring handle on the heap, aligned as ::cortex_ring needs (64:
 * malloc() does not promise it); fill it with cortex_ring_create() and the
 * others, give it back with cortex_ring_free().
 * @return the handle, or NULL (-ENOMEM in cortex_last_error()).
 */
CORTEX_API cortex_ring *cortex_ring_new(void);

/**
 * Closes @p r (as cortex_ring_close()) and frees a handle from
 * cortex_ring_new().  NULL is accepted.
 * @return what cortex_ring_close() returned.
 */
CORTEX_API int cortex_ring_free(cortex_ring *r);

/* Out-of-line operations: what the inline ones below call, with their contract. */
/** cortex_ring_push() in the library. */
CORTEX_API int cortex_ring_push_lib(cortex_ring *r, const void *elem);
/** cortex_ring_pop() in the library. */
CORTEX_API int cortex_ring_pop_lib(cortex_ring *r, void *out);
/** cortex_ring_push_n() in the library. */
CORTEX_API ssize_t cortex_ring_push_n_lib(cortex_ring *r, const void *elems, size_t n);
/** cortex_ring_pop_n() in the library. */
CORTEX_API ssize_t cortex_ring_pop_n_lib(cortex_ring *r, void *out, size_t n);

/**
 * Pushes one element, waiting while the ring is full: spins about 20 us
 * (cortex_ring_set_spin()), then sleeps on a futex in the ring (bounded naps, so a dead consumer is
 * noticed).  @p timeout_ns < 0 waits forever, 0 never blocks.
 * @return 0, -ETIMEDOUT, -EPIPE (consumer closed or died), -EBADMSG.
 */
CORTEX_API int cortex_ring_push_wait(cortex_ring *r, const void *elem, int64_t timeout_ns);

/**
 * Pops one element into @p out, waiting while the ring is empty (as
 * cortex_ring_push_wait()).
 * @return 0, -ETIMEDOUT, -EPIPE (producer closed or died and the ring is
 *         drained), -EBADMSG.
 */
CORTEX_API int cortex_ring_pop_wait(cortex_ring *r, void *out, int64_t timeout_ns);

/** Default spin phase of the *_wait calls, in ns (about 20 us). */
#define CORTEX_RING_SPIN_DEFAULT_NS INT64_C(20000)
/** Longest spin phase the setters accept, in ns (1 s). */
#define CORTEX_RING_SPIN_MAX_NS INT64_C(1000000000)

/**
 * Sets how long this handle's cortex_ring_push_wait() and
 * cortex_ring_pop_wait() spin (polling the ring, no system call) before
 * they announce themselves and sleep on the ring's futex.  0 sleeps at
 * once (the waiter is asleep, its waiting word set, right after its first
 * failed try: no CPU burnt, but each wake costs a FUTEX_WAKE and the
 * scheduler's wake-up); a longer spin answers an active peer within a cache
 * round trip.  The handle starts with the process default.
 * @param r       an open handle.
 * @param spin_ns in [0, CORTEX_RING_SPIN_MAX_NS], or -1 for the process
 *                default (cortex_ring_set_default_spin()).
 * @return 0; -EINVAL (NULL or closed handle, @p spin_ns out of range).
 */
CORTEX_API int cortex_ring_set_spin(cortex_ring *r, int64_t spin_ns);

/**
 * Sets the process-wide spin phase of the *_wait calls of every handle
 * left at -1 (see cortex_ring_set_spin()); initially
 * CORTEX_RING_SPIN_DEFAULT_NS.  Takes effect at their next wait.
 * @param spin_ns in [0, CORTEX_RING_SPIN_MAX_NS].
 * @return 0; -EINVAL (out of range).
 */
CORTEX_API int cortex_ring_set_default_spin(int64_t spin_ns);

/**
 * Zero-copy write: up to @p want contiguous free slots starting at the
 * producer's index; *@p span points at the first.  Fill them, then
 * cortex_ring_commit().  A later reserve replaces an uncommitted one.
 * Marks scheme: a slot is its own publication flag and cannot be filled in
 * place, so the span is a staging area of at most 8 elements in the handle,
 * and cortex_ring_commit() copies it into the slots (-EINVAL if it holds
 * the empty value).
 * @return the number of slots (>= 1), -EAGAIN (full), -EPIPE, -EBADMSG,
 *         -EINVAL (@p want 0 or not a producer).
 */
CORTEX_API ssize_t cortex_ring_reserve(cortex_ring *r, size_t want, void **span);

/** Publishes the first @p n reserved slots.  @return 0, -EINVAL (n > reserved). */
CORTEX_API int cortex_ring_commit(cortex_ring *r, size_t n);

/**
 * Zero-copy read: up to @p want contiguous filled slots at the consumer's
 * index; *@p span points at the first.  Read them, then cortex_ring_release().
 * @return the number of slots (>= 1), -EAGAIN (empty), -EPIPE (drained and
 *         the producer is gone), -EBADMSG, -EINVAL.
 */
CORTEX_API ssize_t cortex_ring_peek(cortex_ring *r, size_t want, const void **span);

/** Gives the first @p n peeked slots back to the producer.  @return 0, -EINVAL. */
CORTEX_API int cortex_ring_release(cortex_ring *r, size_t n);

/** Elements in the ring now (a snapshot; capped at the capacity). */
CORTEX_API size_t cortex_ring_len(const cortex_ring *r);
/** The capacity. */
CORTEX_API size_t cortex_ring_capacity(const cortex_ring *r);
/** true if the ring was empty when looked at (a snapshot). */
CORTEX_API bool cortex_ring_is_empty(const cortex_ring *r);

/** What cortex_ring_inspect() reads out of a ring, for tools. */
typedef struct cortex_ring_info {
    uint32_t version;          /**< Ring layout version. */
    uint32_t capacity;         /**< Slots. */
    uint32_t elem_size;        /**< Bytes per element. */
    uint32_t elem_align;       /**< Element alignment. */
    uint32_t scheme;           /**< CORTEX_RING_SCHEME_INDEX or CORTEX_RING_SCHEME_MARKS. */
    uint64_t empty;            /**< Marks scheme: the value that means "slot empty". */
    uint64_t slots_offset;     /**< Where the slots start, from the ring start. */
    uint64_t prod;             /**< Producer index (free-running). */
    uint64_t cons;             /**< Consumer index (free-running). */
    uint64_t fill;             /**< prod - cons when consistent, else 0. */
    bool indices_ok;           /**< cons <= prod <= cons + capacity. */
    int32_t prod_pid;          /**< Producer role holder (0: none). */
    int32_t cons_pid;          /**< Consumer role holder (0: none). */
    bool prod_alive;           /**< Holder not certainly dead: alive, or its liveness cannot be judged (hidden /proc). */
    bool cons_alive;           /**< Likewise. */
    bool prod_closed;          /**< The producer closed the ring. */
    bool cons_closed;          /**< The consumer closed the ring. */
    bool prod_waiting;         /**< A producer announced it sleeps (full). */
    bool cons_waiting;         /**< A consumer announced it sleeps (empty). */
} cortex_ring_info;

/**
 * Reads a ring segment's state without changing it, validating every field
 * (never reads outside the segment's payload, whatever it holds).
 * @return 0; -EINVAL (NULL); -EPROTO (not a ring segment); -EBADMSG (corrupt
 *         ring header, or indices that cannot be: @p out is still filled
 *         with what could be read and indices_ok is false).
 */
CORTEX_API int cortex_ring_inspect(const struct cortex_region *r, cortex_ring_info *out);

/** As cortex_ring_inspect() over @p len bytes at @p mem (the ring's first byte). */
CORTEX_API int cortex_ring_inspect_mem(const void *mem, size_t len, cortex_ring_info *out);

/* ---- inline fast paths ------------------------------------------------- */

#if CORTEX_RING_INLINE
/*
 * Memory orders (the full argument is in lib/ring/ring.c):
 *  - a side reads its slot bytes only after an acquire load of the other
 *    side's index, and publishes its own index with a release store after
 *    touching the slots;
 *  - after publishing, it checks the peer's sleeper flag.  Between the
 *    publish and that check a full fence is needed (store->load order);
 *    with r->light the peer's sleeper issues membarrier(GLOBAL_EXPEDITED)
 *    instead, which makes a compiler barrier here enough.
 */
/** @cond internal */
CORTEX_API void cortex_ring__wake_cons(cortex_ring *r);
CORTEX_API void cortex_ring__wake_prod(cortex_ring *r);

static inline void cortex_ring__wake_check_(cortex_ring *r, unsigned off, void (*wake)(cortex_ring *))
{
    if (r->light)
        __asm__ __volatile__("" ::: "memory");
    else
        atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit((_Atomic uint32_t *)(void *)(r->base + off), memory_order_relaxed))
        wake(r);
}
/** @endcond */

/** @cond internal */
/* Batch scheme: the non-temporal stores of 64-byte elements before the release store that publishes them
 * (x86 orders a non-temporal store only by a fence or a locked instruction).  Every publication of prod,
 * inline or in lib/ring/ring.c, goes through here first. */
static inline void cortex_ring__nt_fence_(const cortex_ring *r)
{
#if defined(__x86_64__)
    if (r->batch && r->elem_size == 64)
        __builtin_ia32_sfence();
#else
    (void)r;
#endif
}

/* Copies @p n elements between @p buf and the slots from index @p at (two spans at most); @to_ring: direction. */
static inline void cortex_ring__copy_(cortex_ring *r, uint64_t at, void *buf, uint64_t n, int to_ring)
{
    uint64_t i = at & r->mask, first = r->capacity - i < n ? r->capacity - i : n;
    unsigned char *slot = r->slots + (size_t)i * r->elem_size, *b = (unsigned char *)buf;
    size_t head = (size_t)first * r->elem_size, rest = (size_t)(n - first) * r->elem_size;
    if (to_ring) {
        memcpy(slot, b, head);
        if (rest)
            memcpy(r->slots, b + head, rest);
    } else {
        memcpy(b, slot, head);
        if (rest)
            memcpy(b + head, r->slots, rest);
    }
}

/* Prefetches the slot lines of @p n elements from index @p at, at most CORTEX_RING_PREFETCH_LINES of them
 * (@write: for writing, PREFETCHW on x86-64, where CPUs without it execute it as a NOP). */
static inline void cortex_ring__prefetch_(cortex_ring *r, uint64_t at, uint64_t n, int write)
{
    uint64_t step = r->elem_size >= 64u ? 1u : 64u / r->elem_size;
    if (n > step * CORTEX_RING_PREFETCH_LINES)
        n = step * CORTEX_RING_PREFETCH_LINES;
    for (uint64_t k = 0; k < n; k += step) {
        const unsigned char *p = r->slots + (size_t)((at + k) & r->mask) * r->elem_size;
#if defined(__x86_64__)
        if (write)
            __asm__ __volatile__("prefetchw %0" ::"m"(*p));
        else
            __builtin_prefetch(p, 0);
#else
        if (write)
            __builtin_prefetch(p, 1);
        else
            __builtin_prefetch(p, 0);
#endif
    }
}
/** @endcond */

/**
 * cortex_ring_push() with the element size as a compile-time constant
 * (@p elem_size must equal the ring's; the typed wrappers pass sizeof(T)),
 * so the copy is a move, not a memcpy call.
 */
static inline int cortex_ring_push_sized(cortex_ring *r, const void *elem, size_t elem_size)
{
    uint64_t h = r->p.head;
    if (__builtin_expect(h - r->p.cons >= r->capacity ||
                             atomic_load_explicit((_Atomic uint32_t *)(void *)(r->base + CORTEX_RING_OFF_CONS_CLOSED),
                                                  memory_order_relaxed),
                         0))
        return cortex_ring_push_lib(r, elem);
    if (elem_size == 8 && r->marks) {
        /* marks: claim the slot in the index (only a takeover reads it), then the slot store publishes */
        uint64_t v;
        memcpy(&v, elem, 8);
        if (__builtin_expect(v == r->empty, 0))
            return cortex_ring_push_lib(r, elem); /* -EINVAL */
        r->p.head = h + 1;
        atomic_store_explicit((_Atomic uint64_t *)(void *)(r->base + CORTEX_RING_OFF_PROD), h + 1,
                              memory_order_relaxed);
        atomic_store_explicit((_Atomic uint64_t *)(void *)(r->slots + (size_t)(h & r->mask) * 8), v,
                              memory_order_release);
    } else {
        unsigned char *slot = r->slots + (size_t)(h & r->mask) * elem_size;
#if defined(__x86_64__)
        /* batch scheme, one whole line per element: a non-temporal store, which needs no ownership of the
         * line the consumer read a lap ago (a plain store waits for that, about one line transfer per
         * message); the sfence before each publication of prod orders it (cortex_ring__nt_fence_) */
        if (elem_size == 64 && r->batch && ((uintptr_t)slot & 63u) == 0) {
            const unsigned char *src = (const unsigned char *)elem;
            for (int q = 0; q < 8; q++) {
                long long w;
                memcpy(&w, src + 8 * q, 8);
                __builtin_ia32_movnti64((long long *)(void *)(slot + 8 * q), w);
            }
        } else
#endif
            memcpy(slot, elem, elem_size);
        r->p.head = h + 1;
        /* batch scheme: ask for the line CORTEX_RING_PREFETCH_LINES ahead now, so its transfer from the
         * consumer overlaps the pushes before it instead of stalling the store buffer.  The write hint
         * becomes PREFETCHW only where the target has it (-mprfchw); baseline x86-64 gets a plain
         * prefetch, which still brings the data over (the store then needs only ownership) */
        if (r->batch && CORTEX_RING_PREFETCH_SLOTS(elem_size) < r->capacity / 2)
            __builtin_prefetch(r->slots + (size_t)((h + CORTEX_RING_PREFETCH_SLOTS(elem_size)) & r->mask) * elem_size,
                               1);
        if (((h + 1) & r->batch) == 0) { /* batch scheme: only when a group completes */
            cortex_ring__nt_fence_(r);
            r->p.pub = h + 1;
            atomic_store_explicit((_Atomic uint64_t *)(void *)(r->base + CORTEX_RING_OFF_PROD), h + 1,
                                  memory_order_release);
        }
    }
    cortex_ring__wake_check_(r, CORTEX_RING_OFF_CONS_WAITING, cortex_ring__wake_cons);
    return 0;
}

/** cortex_ring_pop() with a compile-time element size (see cortex_ring_push_sized()). */
static inline int cortex_ring_pop_sized(cortex_ring *r, void *out, size_t elem_size)
{
    uint64_t t = r->c.tail;
    if (__builtin_expect(t == r->c.prod, 0))
        return cortex_ring_pop_lib(r, out);
    if (elem_size == 8 && r->marks) {
        /* marks: the slot itself says whether it holds a message; no load of the producer's index */
        _Atomic uint64_t *slot = (_Atomic uint64_t *)(void *)(r->slots + (size_t)(t & r->mask) * 8);
        uint64_t v = atomic_load_explicit(slot, memory_order_acquire);
        if (v == r->empty)
            return cortex_ring_pop_lib(r, out);
        memcpy(out, &v, 8);
        r->c.tail = t + 1;
        /* taken (index first, for a takeover); the slots are freed when the consumer leaves their
         * cache line (lowest first), so it never writes into the line the producer fills next */
        atomic_store_explicit((_Atomic uint64_t *)(void *)(r->base + CORTEX_RING_OFF_CONS), t + 1,
                              memory_order_relaxed);
        if (((t + 1) & r->lazy) != 0)
            return 0; /* nothing freed: a sleeping producer has nothing to wake for */
        for (uint64_t i = r->c.freed; i != t + 1; i++)
            atomic_store_explicit((_Atomic uint64_t *)(void *)(r->slots + (size_t)(i & r->mask) * 8), r->empty,
                                  memory_order_release);
        r->c.freed = t + 1;
    } else {
        memcpy(out, r->slots + (size_t)(t & r->mask) * elem_size, elem_size);
        r->c.tail = t + 1;
        atomic_store_explicit((_Atomic uint64_t *)(void *)(r->base + CORTEX_RING_OFF_CONS), t + 1,
                              memory_order_release);
    }
    cortex_ring__wake_check_(r, CORTEX_RING_OFF_PROD_WAITING, cortex_ring__wake_prod);
    return 0;
}

/**
 * Pushes one element (copies elem_size bytes).  A push on a full ring (a
 * pop on an empty one) executes one CPU spin hint before it returns
 * -EAGAIN, so a caller polling in a loop leaves the peer time to own the
 * line it stores to.  @return 0, -EAGAIN (full), -EPIPE, -EBADMSG.
 */
static inline int cortex_ring_push(cortex_ring *r, const void *elem)
{
    return cortex_ring_push_sized(r, elem, r->elem_size);
}

/** Pops one element into @p out.  @return 0, -EAGAIN (empty), -EPIPE (drained, producer gone), -EBADMSG. */
static inline int cortex_ring_pop(cortex_ring *r, void *out)
{
    return cortex_ring_pop_sized(r, out, r->elem_size);
}

/**
 * Pushes up to @p n elements from @p elems with one index publication
 * (at most two memcpy spans).  Index scheme, all @p n free by the cached
 * consumer index: copies inline, then prefetches (for writing) the slot
 * lines of the next batch it knows free; otherwise the library call.
 * @return the count pushed (>= 1), -EAGAIN (full), -EPIPE, -EBADMSG; 0
 * when @p n is 0.
 */
static inline ssize_t cortex_ring_push_n(cortex_ring *r, const void *elems, size_t n)
{
    uint64_t h = r->p.head;
    /* index scheme, all n fit by the cached consumer index: copy and publish here; anything else
     * (marks or batch scheme, a partial push, a refresh, errors) in the library */
    if (__builtin_expect((r->marks | r->batch) != 0 || !elems || n - 1 >= r->capacity - (h - r->p.cons) ||
                             atomic_load_explicit((_Atomic uint32_t *)(void *)(r->base + CORTEX_RING_OFF_CONS_CLOSED),
                                                  memory_order_relaxed),
                         0))
        return cortex_ring_push_n_lib(r, elems, n);
    cortex_ring__copy_(r, h, (void *)elems, n, 1);
    r->p.head = r->p.pub = h + n;
    atomic_store_explicit((_Atomic uint64_t *)(void *)(r->base + CORTEX_RING_OFF_PROD), h + n, memory_order_release);
    /* ask now for the lines of the next batch that are known free: their transfer from the consumer
     * overlaps the caller's work instead of stalling the next call's stores */
    uint64_t free_end = r->p.cons + r->capacity, ahead = free_end - (h + n) < n ? free_end - (h + n) : n;
    cortex_ring__prefetch_(r, h + n, ahead, 1);
    cortex_ring__wake_check_(r, CORTEX_RING_OFF_CONS_WAITING, cortex_ring__wake_cons);
    return (ssize_t)n;
}

/**
 * Pops up to @p n elements into @p out with one index publication.  Index
 * or batch scheme, all @p n there by the cached producer index: copies
 * inline, then prefetches the next batch's published slot lines;
 * otherwise the library call.  @return count (>= 1) or as pop.
 */
static inline ssize_t cortex_ring_pop_n(cortex_ring *r, void *out, size_t n)
{
    uint64_t t = r->c.tail;
    /* index or batch scheme, all n there by the cached producer index: copy and publish here;
     * anything else (a refresh, a partial pop, errors) in the library */
    if (__builtin_expect(r->marks || !out || n == 0 || n > r->c.prod - t, 0))
        return cortex_ring_pop_n_lib(r, out, n);
    cortex_ring__copy_(r, t, out, n, 0);
    r->c.tail = t + n;
    atomic_store_explicit((_Atomic uint64_t *)(void *)(r->base + CORTEX_RING_OFF_CONS), t + n, memory_order_release);
    /* the next batch's published lines, if any: fetched while the caller works on this one */
    uint64_t ready = r->c.prod - (t + n);
    cortex_ring__prefetch_(r, t + n, ready < n ? ready : n, 0);
    cortex_ring__wake_check_(r, CORTEX_RING_OFF_PROD_WAITING, cortex_ring__wake_prod);
    return (ssize_t)n;
}
#else
static inline int cortex_ring_push(cortex_ring *r, const void *elem) { return cortex_ring_push_lib(r, elem); }
static inline int cortex_ring_push_sized(cortex_ring *r, const void *elem, size_t elem_size)
{
    (void)elem_size;
    return cortex_ring_push_lib(r, elem);
}
static inline int cortex_ring_pop_sized(cortex_ring *r, void *out, size_t elem_size)
{
    (void)elem_size;
    return cortex_ring_pop_lib(r, out);
}
static inline int cortex_ring_pop(cortex_ring *r, void *out) { return cortex_ring_pop_lib(r, out); }
static inline ssize_t cortex_ring_push_n(cortex_ring *r, const void *elems, size_t n)
{
    return cortex_ring_push_n_lib(r, elems, n);
}
static inline ssize_t cortex_ring_pop_n(cortex_ring *r, void *out, size_t n)
{
    return cortex_ring_pop_n_lib(r, out, n);
}
#endif

CORTEX_END_DECLS

#endif
