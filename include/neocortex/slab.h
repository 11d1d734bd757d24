/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/slab.h
 * @brief Lock-free slab of fixed-size slots in shared memory, generation-checked
 *        handles, crash reclaim, and a pool of size classes.
 *
 * A slab is N slots of one size, handed out and taken back by any number of
 * threads and processes without a lock.  The free slots form a Treiber stack
 * whose 64-bit head packs the top slot's index with a tag that changes on
 * every push and pop, so a stale head can never be installed again (ABA).
 * The free-list link lives in the slot's metadata, never in the payload.
 *
 * Every slot has ONE atomic 64-bit state word: generation, state
 * (free / allocated / in flight) and owner (pid and process-table id).  Every
 * transition is one compare-and-swap of that word, so a stale handle (whose
 * generation is old) can never free or reach a newer allocation.
 *
 * Handles (::cortex_handle) are 64-bit values, meaningful in every process
 * that maps the slab: the slot's generation (high 32 bits), the slab's tag
 * (8 bits) and the slot index + 1 (low 24 bits).  The tag is the low byte of
 * a random id the slab gets when it is laid out, and every slot starts at a
 * generation derived from that id, so a handle of another slab (even one
 * created the same way and used in the same order) is refused: by its tag,
 * or in the 1 case of 256 where the tags agree, by its generation.  0 is
 * never a valid handle (::CORTEX_HANDLE_NULL).
 *
 * States and transitions (each one CAS of the slot word):
 *
 *     free --alloc--> allocated --send--> in flight --receive (new handle)--> allocated
 *                     allocated --free--> free
 *     allocated/in flight of a dead process --reclaim--> free
 *
 * `send` marks a slot handed to another process (for example by pushing its
 * handle into a ring); it stays valid for cortex_slab_get() on both sides,
 * but cannot be freed until the receiving side calls cortex_slab_receive(),
 * which makes the receiver the owner of record and gives it a NEW handle
 * (the generation advanced by 2): from then on the sender's copy is stale
 * (get NULL, free/send -ESTALE), so it can no longer free or reach the slot
 * the receiver now holds.
 *
 * Crash recovery: the owner is recorded in the same atomic step that takes
 * the slot off the free list (the pop's head CAS names the taker; the slot
 * word is filled in by the taker or by whoever touches the head next), so a
 * process killed at any instruction leaves its slots findable.
 * cortex_slab_reclaim() frees every slot held by a process that no longer
 * exists; processes are identified by pid AND start time, so a reused pid
 * is not mistaken for the old owner.
 *
 * Limits: at most 16,777,215 slots per slab, slot size up to 1 GiB, and at
 * most 127 distinct live processes using one slab at a time
 * (-EUSERS beyond that; cortex_slab_reclaim() frees the entries of dead ones).
 *
 * Shared memory is treated as hostile: every index read from it is
 * bounds-checked, a corrupt free list (a link out of range, a cycle) makes
 * alloc return -EBADMSG, never a wild access or an endless loop.
 *
 * ## Inline fast paths
 *
 * In C11 (GCC or Clang), cortex_slab_alloc(), cortex_slab_alloc_get(),
 * cortex_slab_get() and cortex_slab_free() are `static inline` here: the
 * magazine's thread (cortex_slab_magazine()) pops and pushes its private
 * stack and stores the slot word without a call, and get checks the handle
 * against the slot word inline.  Anything else calls the library's
 * out-of-line copies (cortex_slab_alloc_lib() ...), which also keep the
 * exported cortex_slab_alloc() & co. for binaries built without the inline
 * paths.  They read only this process's view and compare one slot word
 * exactly (nothing from shared memory is used as an index).  Define
 * CORTEX_SLAB_NO_INLINE (or CORTEX_MODEL) before including to call the
 * library every time; C++ always does.  The view's first bytes
 * (`cortex_slab_fast_`) are thus an ABI between this header and the
 * library, as the ring's fields are.
 */
#ifndef NEOCORTEX_SLAB_H
#define NEOCORTEX_SLAB_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(CORTEX_MODEL) && !defined(CORTEX_SLAB_NO_INLINE) && !defined(CORTEX_BUILDING_LIBRARY) && \
    !defined(__cplusplus) && !defined(__STDC_NO_ATOMICS__) && defined(__STDC_VERSION__) &&           \
    __STDC_VERSION__ >= 201112L && (defined(__GNUC__) || defined(__clang__))
/** 1 when this translation unit uses the slab's inline fast paths. */
#define CORTEX_SLAB_INLINE 1
#include <stdatomic.h>
#else
/** 0: this translation unit calls the library for every slab operation. */
#define CORTEX_SLAB_INLINE 0
#endif

CORTEX_BEGIN_DECLS

/**
 * A slot handle: 64 bits, generation (bits 32-63), the slab's tag (bits
 * 24-31) and slot index + 1 (bits 0-23).  A pool handle is the handle of
 * one of its class slabs, whose tags differ, so the tag names the class.
 */
typedef uint64_t cortex_handle;

/** Never a valid handle. */
#define CORTEX_HANDLE_NULL ((cortex_handle)0)

/** Largest slot count of one slab. */
#define CORTEX_SLAB_MAX_SLOTS 16777215u
/** Largest slot size. */
#define CORTEX_SLAB_MAX_SLOT_SIZE (1u << 30)
/** Distinct live processes one slab can record as owners. */
#define CORTEX_SLAB_MAX_PROCS 127u

/** A process's view of one slab (opaque; one per process and mapping). */
typedef struct cortex_slab cortex_slab;

/** Counters of a slab (cortex_slab_stats()). */
typedef struct cortex_slab_stats {
    uint32_t slots;      /**< Slot count. */
    uint32_t slot_size;  /**< Bytes per slot as asked (element size). */
    uint32_t stride;     /**< Bytes between slots (aligned). */
    uint32_t free;       /**< Free slots (approximate while others run). */
    uint32_t allocated;  /**< Allocated slots (approximate). */
    uint32_t in_flight;  /**< Slots in flight (approximate). */
    uint32_t high_water; /**< Most slots ever allocated at once (approximate, see docs). */
    uint64_t failed;     /**< Allocations refused with -ENOSPC. */
} cortex_slab_stats;

/** Flags for cortex_slab_reclaim(). */
enum {
    /** Also free slots that a dead process sent (in flight) and nobody received. */
    CORTEX_SLAB_RECLAIM_IN_FLIGHT = 1u
};

/* ---- raw form: over caller memory ------------------------------------- */

/**
 * Bytes of memory a slab of @p slots slots of @p slot_size bytes, aligned to
 * @p slot_align, needs (header, metadata and slots).  0 if the arguments are
 * out of range.
 */
CORTEX_API size_t cortex_slab_required_size(uint32_t slots, uint32_t slot_size, uint32_t slot_align);

/**
 * Alignment the memory given to cortex_slab_init() must have: the slot
 * alignment, at least 8, and 64 for slots of 64 bytes or more (so each such
 * slot starts on its own cache line).
 */
CORTEX_API size_t cortex_slab_required_align(uint32_t slot_size, uint32_t slot_align);

/**
 * Lays out a slab in @p mem (@p len bytes, at least
 * cortex_slab_required_size()) and returns this process's view of it.
 * Other processes that map the same memory use cortex_slab_attach_raw().
 * @return 0; -EINVAL (bad sizes, memory too small or misaligned), -ENOMEM.
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_init(cortex_slab **ret, void *mem, size_t len, uint32_t slots,
                                                 uint32_t slot_size, uint32_t slot_align);

/**
 * Attaches to a slab that cortex_slab_init() laid out in @p mem.  Every
 * field of its header is checked against @p len.  @p slot_size and
 * @p slot_align, when not 0, must match.
 * @return 0; -EBADMSG (not a slab, corrupt header), -EPROTO (other slot
 *         size/alignment), -EINVAL, -ENOMEM.
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_attach_raw(cortex_slab **ret, void *mem, size_t len,
                                                       uint32_t slot_size, uint32_t slot_align);

/* ---- segment form: a CORTEX_KIND_SLAB segment ------------------------- */

/**
 * Creates a segment under @p key holding a slab of @p slots slots of
 * @p slot_size bytes aligned to @p slot_align.  @p type_name (or
 * opts->type_tag) goes into the segment's type signature.
 * @return 0 or what cortex_region_create() returns; -EINVAL for bad sizes.
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_create(cortex_slab **ret, cortex_key key, uint32_t slots,
                                                   uint32_t slot_size, uint32_t slot_align,
                                                   const char *type_name, const cortex_opts *opts);

/**
 * Attaches to a slab segment; @p slot_size, @p slot_align and @p type_name
 * (or opts->type_tag) must match what the creator gave (0/NULL: not checked).
 * The slab's own header inside the payload is validated too.
 * @return 0; the cortex_region_attach() errors (-EXDEV: made in another pid
 *         namespace or boot, whose process table means nothing here);
 *         -EBADMSG (corrupt slab header); -EPROTO (other slot size).
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_attach(cortex_slab **ret, cortex_key key, uint32_t slot_size,
                                                   uint32_t slot_align, const char *type_name,
                                                   const cortex_opts *opts);

/**
 * Closes this process's view.  For the segment form, the owner removes the
 * segment (see cortex_region_close()).  Slots this process still holds stay
 * allocated.  NULL is accepted.
 */
CORTEX_API int cortex_slab_close(cortex_slab *s);

/** The region behind a segment-form slab (NULL for the raw form). */
CORTEX_API cortex_region *cortex_slab_region(const cortex_slab *s);

/**
 * Frees this process's view and leaves the slab segment in the system,
 * whoever owns it (slots this process holds stay allocated).  Use it, not
 * cortex_region_leak(cortex_slab_region(s)), which would unmap what the view
 * still uses.
 * @return 0; -EINVAL (NULL, or the raw form: no segment; the view is kept).
 */
CORTEX_API int cortex_slab_leak(cortex_slab *s);

/**
 * Makes this view the owner of the slab segment (its close removes it).
 * @return 0; -EINVAL (NULL, or the raw form).
 */
CORTEX_API int cortex_slab_own(cortex_slab *s);

/* ---- slots ------------------------------------------------------------ */

#if CORTEX_SLAB_INLINE
/* alloc, alloc_get, get and free are static inline (see "Inline fast paths" at the end) */
static inline CORTEX_NODISCARD int cortex_slab_alloc(cortex_slab *s, cortex_handle *out);
static inline CORTEX_NODISCARD int cortex_slab_alloc_get(cortex_slab *s, cortex_handle *out, void **ptr);
static inline void *cortex_slab_get(cortex_slab *s, cortex_handle h);
static inline int cortex_slab_free(cortex_slab *s, cortex_handle h);
#else
/**
 * Takes a free slot and records this process as its owner.  Lock-free;
 * never blocks.
 * @return 0 with *out set; -ENOSPC when every slot is taken; -EBADMSG if
 *         the free list is corrupt; -EUSERS if the process table is full.
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_alloc(cortex_slab *s, cortex_handle *out);

/**
 * cortex_slab_alloc() and the new slot's address in one call, as malloc()
 * gives it: what a caller that writes the slot at once uses (with a
 * magazine, the pair with cortex_slab_free() costs about half a
 * malloc()+free() pair: docs/slab.md, "The fast path").  The address is
 * the one cortex_slab_get() would return.
 * @param s the view.
 * @param[out] out the handle (written only on success).
 * @param[out] ptr the slot's payload in this process (written only on success).
 * @return as cortex_slab_alloc(); -EINVAL also for a NULL @p ptr.
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_alloc_get(cortex_slab *s, cortex_handle *out, void **ptr);

/**
 * The slot's payload in this process, or NULL for a stale, freed, garbage
 * or out-of-range handle, or a handle of another slab.  Valid while the
 * slot is allocated or in flight.  A NULL return sets cortex_last_error()
 * (code -ESTALE, or -EINVAL for a NULL slab, a NULL handle or an index out
 * of range) with a message that says which check refused the handle.
 */
CORTEX_API void *cortex_slab_get(cortex_slab *s, cortex_handle h);

/**
 * Returns the slot to the free list.
 * @return 0; -ESTALE (already freed, the generation is old, a sender's copy
 *         after the receiver's cortex_slab_receive(), or a handle of another
 *         slab); -EINVAL (NULL handle, or an index out of range); -EBUSY
 *         (slot is in flight: the receiver must cortex_slab_receive() it
 *         first).
 */
CORTEX_API int cortex_slab_free(cortex_slab *s, cortex_handle h);
#endif

/**
 * The library's out-of-line copies of cortex_slab_alloc(),
 * cortex_slab_alloc_get(), cortex_slab_get() and cortex_slab_free(), with
 * the same contracts: what the inline fast paths call when they cannot
 * finish (and what C++, CORTEX_SLAB_NO_INLINE and the library itself use).
 * @param s the view.
 * @param[out] out the handle (written only on success).
 * @return as cortex_slab_alloc().
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_alloc_lib(cortex_slab *s, cortex_handle *out);
/**
 * Out-of-line cortex_slab_alloc_get() (see cortex_slab_alloc_lib()).
 * @param s the view.
 * @param[out] out the handle (written only on success).
 * @param[out] ptr the slot's payload (written only on success).
 * @return as cortex_slab_alloc_get().
 */
CORTEX_API CORTEX_NODISCARD int cortex_slab_alloc_get_lib(cortex_slab *s, cortex_handle *out, void **ptr);
/** Out-of-line cortex_slab_get() (see cortex_slab_alloc_lib()): the address, or NULL with the last error set. */
CORTEX_API void *cortex_slab_get_lib(cortex_slab *s, cortex_handle h);
/** Out-of-line cortex_slab_free() (see cortex_slab_alloc_lib()): 0 or its negative errno. */
CORTEX_API int cortex_slab_free_lib(cortex_slab *s, cortex_handle h);

/**
 * Marks an allocated slot in flight (handed to another process).
 * @return 0; -ESTALE, -EINVAL, -EBUSY (already in flight).
 */
CORTEX_API int cortex_slab_send(cortex_slab *s, cortex_handle h);

/**
 * Takes ownership of a slot that another process sent: in flight ->
 * allocated, owned by this process, in one compare-and-swap that also
 * advances the slot's generation by 2.  On success *@p h is replaced by
 * the new handle, which only the receiver holds; the sent value (the
 * sender's copy) is stale from then on, so a sender can no longer free or
 * read the slot it handed over.  On failure *@p h is left unchanged.
 * @param s the receiver's view of the slab.
 * @param h in: the handle that was sent; out: the receiver's handle.
 * @return 0; -ESTALE (stale handle, or another slab's), -EINVAL (NULL
 *         argument, NULL handle, index out of range), -EBUSY (not in
 *         flight), -EUSERS (the process table is full).
 */
CORTEX_API int cortex_slab_receive(cortex_slab *s, cortex_handle *h);

/**
 * Frees every allocated slot whose owner is certainly dead (pid gone, only a
 * zombie, or the pid reused by a newer process), the free slots a dead
 * process held in its magazine (cortex_slab_magazine()) or was moving
 * through the depot, and with CORTEX_SLAB_RECLAIM_IN_FLIGHT also in-flight
 * slots sent by dead processes.  An owner that cannot be judged (a live pid
 * whose /proc entry is hidden) keeps its slots; a process alive in any
 * thread is alive.  Safe to run while others allocate and free, and to be
 * killed in: the slots it was freeing are linked by the next reclaim.
 * @return the number of slots freed, or a negative errno (-EBADMSG).
 */
CORTEX_API int cortex_slab_reclaim(cortex_slab *s, unsigned flags);

/**
 * Rebuilds the free list from the slot words.  ONLY when nothing else uses
 * the slab (no other thread or process): it is the recovery for the one
 * window reclaim cannot cover, a process killed inside cortex_slab_free()
 * between marking the slot free and linking it (the slot is then free but
 * unreachable), and for a free list damaged by a stray write.
 * @return how many free slots were unreachable and are linked again.
 */
CORTEX_API int cortex_slab_repair(cortex_slab *s);

/** Largest batch cortex_slab_magazine() takes (a depot buffer's size). */
#define CORTEX_SLAB_MAGAZINE_MAX 32u

/**
 * Gives this view a magazine: a private stack of up to 2 x @p batch free
 * slots, owned by the calling thread.  That thread's alloc and free then
 * work on the stack (alloc and free each write the slot's word with a plain
 * store, with no read-modify-write when the slot is one this process
 * allocated; free of a slot another process allocated does one CAS on it;
 * neither touches a line another process writes) and move @p batch slots at
 * a time through the slab's shared depot (one CAS per batch), so slots one
 * process frees and another allocates (the zero-copy pattern) travel in
 * batches too.  Other threads keep using the shared stack through the same
 * view.  Handles, generations, send/receive and the errors stay as they are.
 *
 * A cached slot is free (counted in cortex_slab_stats::free) but only its
 * holder hands it out until the batch moves on: others may see -ENOSPC while
 * up to 2 x @p batch slots per magazine and 32 per depot buffer are cached.
 * A process that dies with cached slots leaves them to
 * cortex_slab_reclaim(), which returns each exactly once.
 * cortex_slab_close() gives the cached slots back; so does @p batch 0,
 * which turns the magazine off.  Call it from the thread that will use the
 * magazine, while no other thread uses this view's magazine.  One thing the
 * store does not catch: two frees of one handle racing each other (a
 * use-after-free in the caller), one of them this thread's, may both
 * succeed; a double free one after the other is still -ESTALE.
 * @param s the view.
 * @param batch 1 .. CORTEX_SLAB_MAGAZINE_MAX slots per depot transfer; 0: off.
 * @return 0; -EINVAL (NULL slab, batch too large); -EBADMSG (giving cached
 *         slots back met a corrupt free list; they stay for reclaim).
 */
CORTEX_API int cortex_slab_magazine(cortex_slab *s, uint32_t batch);

/** Fills @p out with the slab's counters (a scan: O(slots)).  0 or -EINVAL. */
CORTEX_API int cortex_slab_stats_get(cortex_slab *s, cortex_slab_stats *out);

/** Slot count. */
CORTEX_API uint32_t cortex_slab_slots(const cortex_slab *s);
/** Slot index of a handle (no validation), for diagnostics. */
static inline uint32_t cortex_handle_index(cortex_handle h) { return (uint32_t)(h & 0xffffffu) - 1u; }
/** Generation of a handle. */
static inline uint32_t cortex_handle_generation(cortex_handle h) { return (uint32_t)(h >> 32); }
/** Tag of a handle: the low byte of its slab's random id (see ::cortex_handle). */
static inline uint32_t cortex_handle_tag(cortex_handle h) { return (uint32_t)(h >> 24) & 0xffu; }
/** The tag this slab puts in its handles (0-255), for diagnostics.  0 for NULL. */
CORTEX_API uint32_t cortex_slab_tag(const cortex_slab *s);

/* ---- read-only inspection (tools) ------------------------------------- */

/** What cortex_slab_inspect() found. */
typedef struct cortex_slab_info {
    uint32_t kind;        /**< CORTEX_KIND_SLAB or CORTEX_KIND_POOL. */
    uint32_t classes;     /**< 1 for a slab; the class count of a pool. */
    uint32_t slots;       /**< Slots (sum over classes). */
    uint32_t slot_size;   /**< Slot size (a pool: the largest class). */
    uint32_t free;        /**< Slots in state free. */
    uint32_t allocated;   /**< Slots allocated. */
    uint32_t in_flight;   /**< Slots in flight. */
    uint32_t high_water;  /**< High-water mark (sum over classes). */
    uint64_t failed;      /**< Failed allocations (sum). */
    uint32_t dead_held;   /**< Slots allocated or in flight by processes that no longer exist. */
    uint32_t procs;       /**< Process-table entries in use. */
    bool list_ok;         /**< The free list walked cleanly (in range, no cycle). */
} cortex_slab_info;

/**
 * Reads the slab (or pool) in @p r without writing anything and fills
 * @p out.  Validates every field; never follows an index out of range and
 * bounds every walk, so a corrupt segment gives -EBADMSG, never a crash.
 * @return 0; -EINVAL (NULL), -EPROTO (not a slab or pool), -EBADMSG.
 */
CORTEX_API int cortex_slab_inspect(const cortex_region *r, cortex_slab_info *out);

/* ---- pool: size classes in one segment -------------------------------- */

/** One size class of a pool. */
typedef struct cortex_pool_class {
    uint32_t size;  /**< Slot bytes of this class. */
    uint32_t slots; /**< Slots in this class. */
} cortex_pool_class;

/** Most classes in one pool. */
#define CORTEX_POOL_MAX_CLASSES 16u

/** A process's view of a pool (opaque). */
typedef struct cortex_pool cortex_pool;

/**
 * Creates a CORTEX_KIND_POOL segment with @p n classes (sizes strictly
 * increasing, each its own slab; slots of 64 bytes or more are cache-line
 * aligned, smaller ones 8-byte aligned).  Each class slab gets its own
 * random id, with tags that differ between the classes: a pool handle's tag
 * names its class.
 */
CORTEX_API CORTEX_NODISCARD int cortex_pool_create(cortex_pool **ret, cortex_key key,
                                                   const cortex_pool_class *classes, unsigned n,
                                                   const cortex_opts *opts);
/** Attaches to a pool segment, validating every class's slab. */
CORTEX_API CORTEX_NODISCARD int cortex_pool_attach(cortex_pool **ret, cortex_key key, const cortex_opts *opts);
/**
 * As cortex_pool_create() for slots that hold elements of @p elem_size bytes
 * aligned to @p elem_align (recorded in the segment header with
 * @p type_name, or opts->type_tag, so cortex_pool_attach_typed() refuses
 * another element type with -EPROTO).  The typed form CORTEX_POOL_DECLARE
 * calls it.
 * @return 0; -EINVAL also when a class cannot hold one element or is less
 *         aligned than the element; the cortex_pool_create() errors.
 */
CORTEX_API CORTEX_NODISCARD int cortex_pool_create_typed(cortex_pool **ret, cortex_key key,
                                                         const cortex_pool_class *classes, unsigned n,
                                                         size_t elem_size, size_t elem_align,
                                                         const char *type_name, const cortex_opts *opts);
/**
 * As cortex_pool_attach(), checking the element size, alignment and type
 * name the creator recorded (0 / NULL: not checked).
 * @return 0; -EPROTO (another element type); the cortex_pool_attach() errors.
 */
CORTEX_API CORTEX_NODISCARD int cortex_pool_attach_typed(cortex_pool **ret, cortex_key key, size_t elem_size,
                                                         size_t elem_align, const char *type_name,
                                                         const cortex_opts *opts);
/**
 * As cortex_pool_init(), first checking that every class holds at least one
 * element of @p elem_size bytes aligned to @p elem_align (-EINVAL if not).
 */
CORTEX_API CORTEX_NODISCARD int cortex_pool_init_typed(cortex_pool **ret, void *mem, size_t len,
                                                       const cortex_pool_class *classes, unsigned n,
                                                       size_t elem_size, size_t elem_align);
/** Lays out a pool in caller memory (@p len >= cortex_pool_required_size()). */
CORTEX_API CORTEX_NODISCARD int cortex_pool_init(cortex_pool **ret, void *mem, size_t len,
                                                 const cortex_pool_class *classes, unsigned n);
/** Bytes cortex_pool_init() needs (memory aligned to 64); 0 if the classes are invalid. */
CORTEX_API size_t cortex_pool_required_size(const cortex_pool_class *classes, unsigned n);
/** Closes the view (the owner removes the segment).  NULL accepted. */
CORTEX_API int cortex_pool_close(cortex_pool *p);

/**
 * Allocates a slot of at least @p size bytes from the smallest class that
 * fits and has a free slot.  Never blocks.
 * @return 0; -ENOSPC (every class that fits is exhausted); -ERANGE (larger
 *         than the largest class); -EBADMSG; -EUSERS.
 */
CORTEX_API CORTEX_NODISCARD int cortex_pool_alloc(cortex_pool *p, size_t size, cortex_handle *out);
/**
 * Payload of @p h, and its capacity in *cap (if not NULL); NULL for a bad
 * handle (a handle whose tag names none of the pool's classes, or one its
 * class refuses as cortex_slab_get() does; cortex_last_error() says which).
 */
CORTEX_API void *cortex_pool_get(cortex_pool *p, cortex_handle h, size_t *cap);
/** Frees @p h; errors as cortex_slab_free(). */
CORTEX_API int cortex_pool_free(cortex_pool *p, cortex_handle h);
/** Marks @p h in flight; as cortex_slab_send(). */
CORTEX_API int cortex_pool_send(cortex_pool *p, cortex_handle h);
/**
 * Takes ownership of the slot *@p h names and replaces *@p h with the
 * receiver's new handle; the sender's copy is stale afterwards.  As
 * cortex_slab_receive().
 */
CORTEX_API int cortex_pool_receive(cortex_pool *p, cortex_handle *h);
/**
 * Gives every class of this view a magazine of @p batch slots (see
 * cortex_slab_magazine()); 0 turns them off.  0 or the first error.
 */
CORTEX_API int cortex_pool_magazine(cortex_pool *p, uint32_t batch);
/** Reclaims dead processes' slots in every class; the total freed or -errno. */
CORTEX_API int cortex_pool_reclaim(cortex_pool *p, unsigned flags);
/** The region behind a segment pool (NULL for one over caller memory). */
CORTEX_API cortex_region *cortex_pool_region(const cortex_pool *p);
/** Frees the view and leaves the pool segment in the system (as cortex_slab_leak()).  0; -EINVAL. */
CORTEX_API int cortex_pool_leak(cortex_pool *p);
/** Makes this view the owner of the pool segment (as cortex_slab_own()).  0; -EINVAL. */
CORTEX_API int cortex_pool_own(cortex_pool *p);
/** Class count. */
CORTEX_API unsigned cortex_pool_classes(const cortex_pool *p);
/** The slab of class @p i (NULL if out of range): for stats. */
CORTEX_API cortex_slab *cortex_pool_class_slab(cortex_pool *p, unsigned i);

/* ---- inline fast paths ----------------------------------------------------- */

/** @cond internal */
/*
 * The magazine's fast-path state, the first member of every slab view
 * (lib/slab/slab_internal.h; its offsets are checked there).  An ABI of
 * this header and the library, like cortex_ring's fields: the library's
 * out-of-line paths fill it; these inline ones read it and move entries.
 */
typedef struct cortex_slab_fast_ {
    uint64_t key;                /* the owning thread's cortex__slab_thread_key while armed, else ~0 (atomic) */
    unsigned char *meta;         /* slot metadata: 16 bytes per slot, the 64-bit slot word first */
    unsigned char *data;         /* slot 0's payload in this mapping */
    uint64_t abits;              /* slot word "allocated by this process", generation 0 */
    uint64_t fbits;              /* slot word "free, cached by this process", generation 0 */
    uint32_t n;                  /* magazine entries */
    uint32_t cap;                /* most entries a fast free may leave (2 x batch - 1) */
    uint32_t slots, stride;      /* slot count, bytes per slot */
    uint32_t tag24;              /* the slab's handle tag << 24 */
    uint32_t hw;                 /* high-water mark already recorded by this view */
    uint64_t mag[2 * CORTEX_SLAB_MAGAZINE_MAX]; /* generation << 32 | index + 1 of cached slots */
} cortex_slab_fast_;

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
/* This thread's key (0: none yet; a new one in a forked child). */
CORTEX_API extern _Thread_local uint64_t cortex__slab_thread_key;
#endif
/** @endcond */

#if CORTEX_SLAB_INLINE

/* slot index + 1 @p i's word */
#define CORTEX_SLAB__WORD_(f, i) ((_Atomic uint64_t *)(void *)((f)->meta + (size_t)((i)-1u) * 16u))

/* The magazine hit: 1 with the handle in *@p out and the slot index + 1 in *@p slot1, or 0 (call the library). */
static inline int cortex_slab__pop_(cortex_slab *s, cortex_handle *out, uint32_t *slot1)
{
    cortex_slab_fast_ *f = (cortex_slab_fast_ *)(void *)s;
    /* the key first: other threads may use the view, only the owner touches n, mag and hw */
    if (__builtin_expect(!s || __atomic_load_n(&f->key, __ATOMIC_RELAXED) != cortex__slab_thread_key || f->n == 0, 0))
        return 0;
    uint64_t e = f->mag[f->n - 1u] + (UINT64_C(1) << 32);
    uint32_t i = (uint32_t)e & 0xffffffu;
    if (__builtin_expect(i > f->hw, 0)) /* the library records a new high-water mark */
        return 0;
    f->n--;
    atomic_store_explicit(CORTEX_SLAB__WORD_(f, i), (e & ~UINT64_C(0xffffffff)) | f->abits, memory_order_release);
    *out = e | f->tag24;
    *slot1 = i;
    return 1;
}

/** cortex_slab_alloc_get(), inline: the magazine hit here, anything else in cortex_slab_alloc_get_lib(). */
static inline int cortex_slab_alloc_get(cortex_slab *s, cortex_handle *out, void **ptr)
{
    uint32_t i;
    if (__builtin_expect(!out || !ptr || !cortex_slab__pop_(s, out, &i), 0))
        return cortex_slab_alloc_get_lib(s, out, ptr);
    const cortex_slab_fast_ *f = (const cortex_slab_fast_ *)(const void *)s;
    *ptr = f->data + (size_t)(i - 1u) * f->stride;
    return 0;
}

/** cortex_slab_alloc(), inline: the magazine hit here, anything else in cortex_slab_alloc_lib(). */
static inline int cortex_slab_alloc(cortex_slab *s, cortex_handle *out)
{
    uint32_t i;
    if (__builtin_expect(!out || !cortex_slab__pop_(s, out, &i), 0))
        return cortex_slab_alloc_lib(s, out);
    return 0;
}

/** cortex_slab_get(), inline: a handle that passes here is valid; a refusal is explained by cortex_slab_get_lib(). */
static inline void *cortex_slab_get(cortex_slab *s, cortex_handle h)
{
    const cortex_slab_fast_ *f = (const cortex_slab_fast_ *)(const void *)s;
    uint32_t i;
    if (__builtin_expect(!s || (i = (uint32_t)h - f->tag24) - 1u >= f->slots, 0))
        return cortex_slab_get_lib(s, h);
    uint64_t w = atomic_load_explicit(CORTEX_SLAB__WORD_(f, i), memory_order_acquire);
    /* the handle's generation, and allocated or in flight (state 1 or 2) */
    if (__builtin_expect(((w ^ h) >> 32) != 0 || ((uint32_t)(w >> 30) & 3u) - 1u > 1u, 0))
        return cortex_slab_get_lib(s, h);
    return f->data + (size_t)(i - 1u) * f->stride;
}

/** cortex_slab_free(), inline: the magazine's store-only free here, anything else in cortex_slab_free_lib(). */
static inline int cortex_slab_free(cortex_slab *s, cortex_handle h)
{
    cortex_slab_fast_ *f = (cortex_slab_fast_ *)(void *)s;
    uint32_t i;
    if (__builtin_expect(!s || __atomic_load_n(&f->key, __ATOMIC_RELAXED) != cortex__slab_thread_key ||
                             f->n >= f->cap ||
                             (i = (uint32_t)h - f->tag24) - 1u >= f->slots,
                         0))
        return cortex_slab_free_lib(s, h);
    uint64_t gen = h & ~UINT64_C(0xffffffff);
    _Atomic uint64_t *w = CORTEX_SLAB__WORD_(f, i);
    if (__builtin_expect(atomic_load_explicit(w, memory_order_relaxed) != (gen | f->abits), 0))
        return cortex_slab_free_lib(s, h);
    atomic_store_explicit(w, gen | f->fbits, memory_order_release);
    f->mag[f->n++] = gen | i;
    return 0;
}
#endif

CORTEX_END_DECLS

#endif
