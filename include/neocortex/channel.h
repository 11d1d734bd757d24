/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/channel.h
 * @brief Zero-copy messages between two processes: slots to write in
 *        place plus a ring of handles whose hand-over is the transfer.
 *
 * A channel is ONE segment (kind ::CORTEX_KIND_CHANNEL) that holds an SPSC
 * ring (neocortex/ring.h) of 16-byte handle records and one or more slabs
 * (neocortex/slab.h) of message slots, one slab per size class.  The
 * producer borrows a slot (cortex_channel_loan()), writes the message in it
 * and publishes it (cortex_channel_publish(): the slot is marked in flight
 * and its handle pushed into the ring); the consumer takes the next message
 * (cortex_channel_take(): pops the handle and receives the slot, which makes
 * it the slot's owner) and gives the slot back when done
 * (cortex_channel_release()).  The payload is never copied by the channel.
 *
 * One class gives the fixed-size form (CORTEX_CHANNEL_DECLARE, one slab of
 * sizeof(T) slots); several classes give the variable-size form: a loan of
 * @c size bytes comes from the smallest class that fits and has a free slot,
 * as in a pool (cortex_pool_alloc()), and the message length travels with
 * the handle.
 *
 * The ring has room for every slot plus one, so publishing never finds it
 * full.
 *
 * ## Crash recovery
 * Publishing pushes the handle record first and marks the slot in flight
 * after; taking receives the slot first and advances the ring after.  So a
 * slot is never in flight without its record in the ring, and:
 * - loaned and taken slots of a process that died are freed by
 *   cortex_channel_reclaim() (the slab's crash reclaim: the owner is dead);
 * - published slots of a dead producer stay in the ring and are delivered
 *   to the consumer as usual;
 * - a record whose producer died after pushing it but before marking the
 *   slot in flight is skipped (-ESTALE) once reclaim has freed that slot;
 *   until then cortex_channel_take() says -EAGAIN;
 * - a record a consumer received but did not advance past (it died in
 *   between) is refused by the next consumer with -ESTALE (the slot's
 *   generation moved on) and skipped; the slot itself comes back through
 *   the reclaim of the dead consumer.
 * The slab's generation check makes every path exact: a slot is freed once
 * and handed out once.  Attaching (taking over a dead side), the waits and
 * a take that keeps finding an unmarked record run cortex_channel_reclaim()
 * for the caller.
 *
 * Shared memory is treated as hostile: the channel header is checked at
 * attach, every record taken from the ring is range-checked (class, length)
 * and its handle checked by the slab (-EBADMSG for a corrupt record, -ESTALE
 * for a stale or foreign handle), never used to reach outside the mapping.
 *
 * A channel handle is used by one thread at a time.
 */
#ifndef NEOCORTEX_CHANNEL_H
#define NEOCORTEX_CHANNEL_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <neocortex/ring.h>
#include <neocortex/slab.h>
#include <stddef.h>
#include <stdint.h>

CORTEX_BEGIN_DECLS

/** Most size classes in one channel. */
#define CORTEX_CHANNEL_MAX_CLASSES 8u
/** Most slots in one channel (all classes together). */
#define CORTEX_CHANNEL_MAX_SLOTS (UINT32_C(1) << 22)
/** "NCCHAN01" read as a little-endian 64-bit number. */
#define CORTEX_CHANNEL_MAGIC UINT64_C(0x31304e414843434e)
/** Version of the channel layout. */
#define CORTEX_CHANNEL_VERSION 1u

/** A process's view of a channel: one side (opaque). */
typedef struct cortex_channel cortex_channel;

/**
 * Creates a channel segment under @p key and takes @p role in it.
 * @param ret        receives the channel, only on success.
 * @param key        where the segment goes.
 * @param classes    @p n size classes, sizes strictly increasing (a
 *                   ::cortex_pool_class each: slot bytes and slot count).
 *                   With the default magazines every slot of a class of
 *                   1 MiB of payload or more (up to 2048 slots) is used
 *                   in turn, so for a stream of large messages a class of
 *                   at least twice the consumer's L2 cache in payload
 *                   bytes (512 slots of 4 KiB on a 1 MiB L2) lets a slot's
 *                   lines leave the consumer's caches before the producer
 *                   writes it again: 1.5-2.6x the rate of a 256-slot class
 *                   at 4 KiB here.  A smaller class reuses the slots
 *                   released last (docs/channel.md, "Slot reuse").
 * @param n          1 to ::CORTEX_CHANNEL_MAX_CLASSES.
 * @param elem_size  bytes of the element type every class must hold (the
 *                   typed form passes sizeof(T); 1 for bytes).
 * @param elem_align its alignment (the slots are aligned to it, and to 64
 *                   for slots of 64 bytes or more).
 * @param type_name  spelling of the element type for the segment's type
 *                   signature (opts->type_tag overrides it; NULL: none).
 * @param role       CORTEX_PRODUCER or CORTEX_CONSUMER.
 * @param opts       NULL for defaults.
 * @return 0; -EINVAL (classes, sizes, role; more than
 *         ::CORTEX_CHANNEL_MAX_SLOTS slots), the cortex_region_create()
 *         errors, and with CORTEX_OPEN_OR_CREATE the cortex_channel_attach() ones.
 */
CORTEX_API CORTEX_NODISCARD int cortex_channel_create(cortex_channel **ret, cortex_key key,
                                                      const cortex_pool_class *classes, unsigned n,
                                                      size_t elem_size, size_t elem_align, const char *type_name,
                                                      cortex_role role, const cortex_opts *opts);

/**
 * Attaches to a channel segment and takes @p role (a role whose holder died
 * is taken over, and the dead holder's slots are reclaimed).
 * @p elem_size / @p elem_align / @p type_name: what the creator gave (0 /
 * NULL: not checked).
 * @return 0; the cortex_region_attach() errors; -EPROTO (not a channel,
 *         another element type); -EBADMSG (corrupt channel header, ring or
 *         slab); -EBUSY (a live process holds @p role); -EPIPE (that side
 *         closed the channel); -EINVAL.
 */
CORTEX_API CORTEX_NODISCARD int cortex_channel_attach(cortex_channel **ret, cortex_key key, size_t elem_size,
                                                      size_t elem_align, const char *type_name, cortex_role role,
                                                      const cortex_opts *opts);

/**
 * Closes this side: slots it still has loaned or taken are freed, the
 * side is marked closed in the ring (the peer gets -EPIPE: a consumer after
 * it drained what was published), and the owner removes the segment.  NULL
 * is accepted.
 * @return 0, or the first error of the ring or region close.
 */
CORTEX_API int cortex_channel_close(cortex_channel *c);

/**
 * Producer: borrows a free slot of at least @p size bytes (smallest class
 * that fits and has one free) and points *@p out at it.  Never blocks.
 * @return 0; -EAGAIN (no free slot that fits; cortex_channel_loan_wait()),
 *         -ERANGE (@p size larger than the largest class), -EINVAL (not the
 *         producer, NULL), -EBADMSG (corrupt free list), -EUSERS.
 */
CORTEX_API CORTEX_NODISCARD int cortex_channel_loan(cortex_channel *c, size_t size, void **out);

/**
 * As cortex_channel_loan(), waiting for a slot: spins about 20 us, then
 * sleeps on the ring's futex (woken by the consumer's release, which first
 * gives its magazine's cached slots back), in naps of at most 10 ms after
 * which it checks the consumer's liveness and reclaims the slots of dead
 * processes.  @p timeout_ns < 0 waits forever, 0 never blocks.
 * @return 0; -ETIMEDOUT; -EPIPE (the consumer closed the channel or died);
 *         the cortex_channel_loan() errors.
 */
CORTEX_API CORTEX_NODISCARD int cortex_channel_loan_wait(cortex_channel *c, size_t size, void **out,
                                                         int64_t timeout_ns);

/**
 * Producer: hands the loaned slot @p msg, holding @p len bytes, to the
 * consumer (marks it in flight and pushes its handle: the push is the
 * transfer).  @p msg is the consumer's from then on.
 * @return 0; -EINVAL (@p msg is not a slot this side has loaned, @p len is
 *         larger than the slot); -EPIPE (the consumer closed or died: the
 *         slot stays loaned, release it with cortex_channel_unloan());
 *         -EBADMSG (the ring is corrupt).
 */
CORTEX_API int cortex_channel_publish(cortex_channel *c, void *msg, size_t len);

/**
 * Producer: gives back a loaned slot without publishing it.
 * @return 0; -EINVAL (not a slot this side has loaned).
 */
CORTEX_API int cortex_channel_unloan(cortex_channel *c, void *msg);

/**
 * Consumer: takes the next message; *@p out points at it in the slot and
 * *@p len (if not NULL) is its length.  The slot is this side's until
 * cortex_channel_release().  The take asks the CPU to prefetch the
 * message's first 4 KiB (a hint: nothing is read), so a caller that reads
 * the message next finds its lines on their way.
 * @return 0; -EAGAIN (empty, or the next record's slot is not marked in
 *         flight yet); -EPIPE (drained and the producer closed or died); -ESTALE (the
 *         record's slot was reclaimed or belongs to no live message: the
 *         record is skipped, take again); -EBADMSG (a corrupt record, class
 *         or length: skipped; or a corrupt ring: the channel stays
 *         unusable); -EINVAL (not the consumer).
 */
CORTEX_API CORTEX_NODISCARD int cortex_channel_take(cortex_channel *c, const void **out, size_t *len);

/**
 * As cortex_channel_take(), waiting for a message: spins about 20 us,
 * then sleeps on the ring's futex (woken by the producer's publish), in
 * naps of at most 10 ms after which it checks the producer's liveness.  A
 * record whose slot is not marked in flight yet is looked at again every
 * 50 us (with a reclaim every 10 ms: its producer may have died there).
 * Before it sleeps, the consumer gives its magazines' cached slots back and
 * wakes a producer asleep for one.  @p timeout_ns < 0 waits forever, 0
 * never blocks.
 * @return 0; -ETIMEDOUT; the cortex_channel_take() errors (-ESTALE and
 *         -EBADMSG for a skipped record are retried within the wait).
 */
CORTEX_API CORTEX_NODISCARD int cortex_channel_take_wait(cortex_channel *c, const void **out, size_t *len,
                                                         int64_t timeout_ns);

/**
 * Consumer: gives a taken slot back to the producer's free slots.
 * @return 0; -EINVAL (not a slot this side has taken); the
 *         cortex_slab_free() errors.
 */
CORTEX_API int cortex_channel_release(cortex_channel *c, const void *msg);

/**
 * Copies @p n bytes into a loaned slot with the fastest stores for the size
 * and the host: on x86-64 `rep movsb` from 512 bytes on and non-temporal
 * stores from 64 KiB on (aligned slots), memcpy otherwise.  Filling a slot
 * from a local buffer this way is faster than ordinary stores in place on
 * hosts where a cache line moves slowly between cores (see docs/channel.md).
 */
CORTEX_API void cortex_channel_copy_in(void *dst, const void *src, size_t n);

/**
 * Producer: publishes a copy of @p len bytes at @p buf: loan (waiting up
 * to @p timeout_ns), cortex_channel_copy_in(), publish.
 * @return 0; the cortex_channel_loan_wait() and cortex_channel_publish() errors.
 */
CORTEX_API int cortex_channel_publish_copy(cortex_channel *c, const void *buf, size_t len, int64_t timeout_ns);

/**
 * Sets this side's magazines (the slab's magazines on every class; on by
 * default with @p batch ::CORTEX_SLAB_MAGAZINE_MAX).  With them a loan and
 * a release write only the slot's own word (no read-modify-write on a line
 * the peer writes), and released slots go back to the producer in batches:
 * the consumer hands each batch on as soon as it is complete, so up to
 * @p batch - 1 released slots stay cached by it until it releases more,
 * sleeps in cortex_channel_take_wait(), finds the producer asleep in
 * cortex_channel_loan_wait(), or closes, and a non-blocking
 * cortex_channel_loan() may see -EAGAIN meanwhile; in a class of 1 MiB
 * or more the producer takes never-used slots first, then the batches
 * back oldest first, in a smaller one the newest batch first
 * (docs/channel.md, "Magazines").  The batch
 * is capped at a quarter of each class's slots (classes under 8 slots get
 * none), so the cache can never hold what the producer needs to go on.
 * Any call first gives the cached slots back; @p batch 0 turns the
 * magazines off.  The magazines belong to the calling thread (another
 * thread using the handle later works through the shared free lists).
 * @return 0; -EINVAL (NULL, @p batch above ::CORTEX_SLAB_MAGAZINE_MAX);
 *         -EBADMSG (a corrupt free list met while giving slots back: they
 *         stay for reclaim).
 */
CORTEX_API int cortex_channel_magazine(cortex_channel *c, uint32_t batch);

/**
 * Frees the slots that processes which died had loaned or taken (never a
 * published one: its record is in the ring; see the file comment).  Safe
 * to call from either side at any time.
 * @return the number of slots freed, or -errno (-EBADMSG).
 */
CORTEX_API int cortex_channel_reclaim(cortex_channel *c);

/** Counters of a channel (a scan of every class: O(slots)). */
typedef struct cortex_channel_stats {
    uint32_t classes;   /**< Size classes. */
    uint32_t slots;     /**< Slots of all classes. */
    uint32_t free;      /**< Free slots. */
    uint32_t allocated; /**< Loaned or taken slots. */
    uint32_t in_flight; /**< Published, not yet taken. */
    uint32_t queued;    /**< Records in the ring now (a snapshot). */
    uint32_t held;      /**< Slots this side has loaned or taken. */
} cortex_channel_stats;

/** Fills @p out.  @return 0; -EINVAL; the cortex_slab_stats_get() errors. */
CORTEX_API int cortex_channel_stats_get(cortex_channel *c, cortex_channel_stats *out);

/** The channel's segment. */
CORTEX_API cortex_region *cortex_channel_region(const cortex_channel *c);

/** Class count (0 for NULL). */
CORTEX_API unsigned cortex_channel_classes(const cortex_channel *c);

/** The slab of class @p i, for stats (NULL if out of range). */
CORTEX_API cortex_slab *cortex_channel_class_slab(cortex_channel *c, unsigned i);

CORTEX_END_DECLS

#endif
