/* SPDX-License-Identifier: MIT */
/**
 * @file waitset.h
 * @brief One wait over many sources: rings, broadcast readers, cells,
 *        doorbells and plain fds (docs/waitset.md).
 *
 * A waitset holds up to #CORTEX_WAITSET_MAX_SOURCES sources, each with a
 * tag (a caller-chosen 64-bit cookie, unique in the set).
 * cortex_waitset_wait() blocks until at least one is ready and reports the
 * ready ones, like poll()'s revents, as ::cortex_waitset_event records.
 * It consumes nothing: the caller pops, reads or drains the reported
 * sources itself, with their own calls.
 *
 * - **How it sleeps.**  Each ring, broadcast and cell source is announced
 *   on its own futex word exactly as that source's own *_wait call does
 *   (the ring's waiting flag and membarrier, the broadcast's waiter count,
 *   the cell's waiting bit), then re-checked, so the source's ordinary
 *   writer wakes the waitset without knowing one exists and no wake-up is
 *   lost.  On Linux 5.16+, when every source is futex-backed and there are
 *   at most 128 of them, one futex_waitv() sleeps on all the words: a wake
 *   costs what a single ring's pop_wait costs.  Otherwise (fds or doorbells
 *   mixed in, more than 128 futex sources, an older kernel, or another
 *   platform) the fallback sleeps in poll() over the fds in slices and
 *   re-checks the futex sources after each one: fd sources wake it at
 *   once, futex sources within CORTEX_WAITSET_SLICE_NS (1 ms).
 * - **Dead peers.**  A ring whose peer closed or died, a broadcast whose
 *   writer is gone, a doorbell whose peer hung up, a cell whose writer died
 *   mid-write or holding its lock: reported with #CORTEX_WAITSET_GONE and the reason, never a
 *   sleep forever.  A peer that dies without closing is found by its pid:
 *   every CORTEX_WAITSET_NAP_NS (10 ms) the waitset checks the peers of the
 *   next 4 sources (round robin; a check reads /proc), so within
 *   10 ms x ceil(sources / 4) (40 ms for 16 sources, 160 ms for 64).
 * - **Corrupt sources.**  An impossible index in a ring or broadcast header
 *   is #CORTEX_WAITSET_ERROR with -EBADMSG for that source; the waitset
 *   only reads words at fixed offsets of mappings it was given, and never
 *   uses a shared value as an offset or size.
 * - **Threads.**  A waitset, and the handles added to it, belong to one
 *   thread at a time: add, remove and wait must not run concurrently (the
 *   handles are not thread-safe either).  Add and remove between waits.
 *   The one exception is the internal watcher thread of
 *   cortex_waitset_fd(), which touches only futex words and fds.
 * - **Fork.**  A forked child's first call on its copy takes it over: no
 *   watcher, fd or announcement of the parent's is used or withdrawn (a
 *   new fd and watcher if it calls cortex_waitset_fd()); destroying the
 *   copy in the child leaves the parent's waitset working.
 */
#ifndef NEOCORTEX_WAITSET_H
#define NEOCORTEX_WAITSET_H

#include <neocortex/export.h>
#include <neocortex/broadcast.h>
#include <neocortex/cell.h>
#include <neocortex/doorbell.h>
#include <neocortex/ring.h>

#include <stdint.h>

CORTEX_BEGIN_DECLS

/** Most sources one waitset holds (-ENOSPC beyond). */
#define CORTEX_WAITSET_MAX_SOURCES 1024u
/** Longest sleep between two looks at the futex sources in the fallback path (ns). */
#define CORTEX_WAITSET_SLICE_NS 1000000
/** Longest sleep between two liveness checks of the sources' peers (ns). */
#define CORTEX_WAITSET_NAP_NS 10000000

/** What a ring source waits for: data to pop (the consumer's side). */
#define CORTEX_WAITSET_DATA 1u
/** What a ring source waits for: room to push (the producer's side). */
#define CORTEX_WAITSET_SPACE 2u

/** Event flag: the source is ready (data, room, a new version, a ring, poll events). */
#define CORTEX_WAITSET_READY 1u
/** Event flag: the source's peer is gone; ::cortex_waitset_event.reason says how (-EPIPE, -EOWNERDEAD). */
#define CORTEX_WAITSET_GONE 2u
/** Event flag: the source cannot be waited on; ::cortex_waitset_event.reason says why (-EBADMSG, ...). */
#define CORTEX_WAITSET_ERROR 4u

/** A waitset (opaque; cortex_waitset_create()). */
typedef struct cortex_waitset cortex_waitset;

/** One ready source, as cortex_waitset_wait() reports it. */
typedef struct cortex_waitset_event {
    uint64_t tag;     /**< The tag the source was added with. */
    uint32_t flags;   /**< #CORTEX_WAITSET_READY, #CORTEX_WAITSET_GONE, #CORTEX_WAITSET_ERROR. */
    int32_t reason;   /**< 0, or a negative errno: -EPIPE peer closed or died, -EOWNERDEAD a cell's
                           writer died mid-write, -EBADMSG corrupt shared state, -EINVAL a handle
                           not open for that side, -EBADF a closed fd. */
    uint64_t version; /**< Cell sources: the version now complete (the waitset's new "seen"). */
    int16_t revents;  /**< Fd and doorbell sources: poll()'s revents. */
} cortex_waitset_event;

/**
 * Makes an empty waitset.
 * @param ret  receives it (on success only).
 * @return 0; -EINVAL NULL @p ret; -ENOMEM.
 */
CORTEX_API CORTEX_NODISCARD int cortex_waitset_create(cortex_waitset **ret);

/**
 * Destroys a waitset: stops its watcher thread and closes its fd.  The
 * sources themselves are left as they are.  NULL is a no-op.
 */
CORTEX_API void cortex_waitset_destroy(cortex_waitset *ws);

/**
 * Adds one side of a ring: @p what #CORTEX_WAITSET_DATA for a consumer
 * handle (ready when there is data to pop; gone once the producer closed or
 * died and the ring is drained), #CORTEX_WAITSET_SPACE for a producer handle
 * (ready when there is room; gone when the consumer closed or died).  Typed
 * rings: pass name_core(&r).
 * @return 0; -EINVAL (NULL, bad @p what, a handle not open for that side);
 *         -EEXIST @p tag already in the set; -ENOSPC the set is full; -ENOMEM.
 */
CORTEX_API int cortex_waitset_add_ring(cortex_waitset *ws, cortex_ring *ring, unsigned what, uint64_t tag);

/**
 * Adds a broadcast reader: ready when it has something to pop (an element,
 * or a lap that pop reports as -EOVERFLOW); gone once the writer closed or
 * died and the reader read everything.  Typed: name_core(&b).
 * @return as cortex_waitset_add_ring(); -EINVAL also for a writer's handle.
 */
CORTEX_API int cortex_waitset_add_broadcast(cortex_waitset *ws, cortex_broadcast *reader, uint64_t tag);

/**
 * Adds a cell: ready when a write completed with a version other than @p
 * seen (from cortex_cell_read_version(); 0: any write since creation).
 * Each report stores the new version as the waitset's seen one (and in
 * ::cortex_waitset_event.version), so one write is reported once.  Gone
 * (-EOWNERDEAD) when a writer died mid-write or holding the cell's lock
 * (reported at each wait until a write takes the lock over).  Typed: pass
 * name.cell.
 * @return as cortex_waitset_add_ring().
 */
CORTEX_API int cortex_waitset_add_cell(cortex_waitset *ws, cortex_cell *cell, uint64_t seen, uint64_t tag);

/**
 * Adds a doorbell: ready when it was rung (drain it with
 * cortex_doorbell_drain()); gone (-EPIPE) when its peer hung up.  This
 * switches the doorbell to its socket (cortex_doorbell_fd()): its peer
 * rings it there from now on.  As in a plain poll loop, a new end of
 * cortex_doorbell_pair() is reported once for the pair's setup message (a
 * drain then finds no ring).
 * @return as cortex_waitset_add_ring(); -EINVAL also for a closed doorbell.
 */
CORTEX_API int cortex_waitset_add_doorbell(cortex_waitset *ws, cortex_doorbell *bell, uint64_t tag);

/**
 * Adds a plain fd, waited on with poll() for @p events (POLLIN, POLLOUT,
 * ...).  Ready with poll's revents; POLLHUP is also #CORTEX_WAITSET_GONE
 * (-EPIPE), POLLNVAL #CORTEX_WAITSET_ERROR (-EBADF).  The waitset does not
 * own the fd: remove it before closing it.
 * @return as cortex_waitset_add_ring(); -EBADF for a negative fd; -EINVAL
 *         for @p events 0.
 */
CORTEX_API int cortex_waitset_add_fd(cortex_waitset *ws, int fd, short events, uint64_t tag);

/**
 * Removes the source added with @p tag.  Remove a source before closing
 * its handle or fd.
 * @return 0; -EINVAL NULL @p ws; -ENOENT no such tag.
 */
CORTEX_API int cortex_waitset_remove(cortex_waitset *ws, uint64_t tag);

/**
 * Waits until at least one source is ready, gone or in error, and reports
 * up to @p max of them in @p events, in the order they were added (so give
 * @p max >= the number of sources, or a busy early source can hide a later one).
 * Spins about 20 us first, then sleeps (see the file comment for how).
 * @param ws          the waitset (not empty).
 * @param events      receives the events.
 * @param max         room in @p events (>= 1).
 * @param timeout_ns  < 0 forever, 0 only looks.
 * @return the number of events (>= 1); -ETIMEDOUT none in time; -EINVAL
 *         NULL @p ws or @p events, @p max 0, or an empty set.
 */
CORTEX_API int cortex_waitset_wait(cortex_waitset *ws, cortex_waitset_event *events, unsigned max,
                                   int64_t timeout_ns);

/**
 * An fd that polls readable when a source may be ready, for programs with
 * their own poll/epoll loop.  When it is readable, call
 * cortex_waitset_wait(ws, ev, max, 0) and handle what it reports; the fd
 * stays readable while that call reports events, and a call that finds
 * nothing (-ETIMEDOUT) re-arms it.  Behind it an internal watcher thread
 * (started by the first call) sleeps in futex_waitv on the sources' words,
 * or polls the fds in slices of CORTEX_WAITSET_SLICE_NS, and writes an
 * eventfd (a pipe off Linux).  Cost: a thread, one extra wake-up and
 * eventfd write per readiness, and a readable fd every 100 ms while rings,
 * broadcasts or cells are idle (so that a silently dead peer is found).
 * The waitset owns the fd: do not close it.
 * @return the fd; -EINVAL NULL @p ws; -errno from eventfd/pipe or
 *         pthread_create (nothing is left behind).
 */
CORTEX_API int cortex_waitset_fd(cortex_waitset *ws);

/**
 * How the last sleep of @p ws waited: "futex_waitv", "futex" (one futex
 * source), "poll" (fds and/or futex sources in slices), "sleep" (futex
 * sources in slices, no fd), or "none" (no sleep yet).  For tests and
 * diagnostics.
 */
CORTEX_API const char *cortex_waitset_mechanism(const cortex_waitset *ws);

CORTEX_END_DECLS

#endif
