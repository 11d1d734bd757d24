/* SPDX-License-Identifier: MIT */
/*
 * lib/broadcast/broadcast.c: one writer, many readers.
 *
 * Memory-order argument
 * ---------------------
 * (1) Claims, not per-slot sequences.  Element i lives in slot i & mask
 *     (slot_size bytes, 8-byte words, contiguous like the SPSC ring's).  To
 *     write elements [pos, pos + n) the writer stores claim = pos + n
 *     (relaxed), a release fence, the words (relaxed atomic stores), then
 *     head = pos + n (release).  A reader that acquired head copies a run
 *     [i, j) below it (relaxed atomic loads), then an acquire fence, then
 *     loads claim: claim <= i + capacity means no word of the run was
 *     overwritten.  If a word came from a later lap (element k + capacity,
 *     k >= i), the writer had stored claim >= k + capacity + 1 before it
 *     (release fence -> word store read by our load -> acquire fence), so
 *     claim - i > capacity and the run counts as lapped: a torn copy is
 *     never returned.  Two shared loads per run, not per element.  Every
 *     shared access is atomic, so ThreadSanitizer needs no annotation.
 *     The argument needs the claim never to go back: a writer that takes a
 *     dead one's role keeps its claims at or above the claim it found
 *     (claim_writer), which covers what the dead one half wrote.
 *     (The model checker's bc_lossy_lapped finds the variant without the
 *     two fences: CORTEX_SEED_BROADCAST_NO_CLAIM_FENCE.)
 *
 * (2) Lossless mode.  Each reader publishes its cursor (release) after it
 *     copied the elements below it; the writer loads the cursors (acquire)
 *     before it overwrites a slot, and only when its cached minimum says the
 *     ring might be full.  Cursors only grow, so a cached minimum is a lower
 *     bound.  A reader that joins publishes its cursor, then its pid, then
 *     re-reads head (h2) after a SEQ_CST fence; the writer fences between
 *     publishing head and its next scan (after each publish, or, when light
 *     (3), at the start of each scan: a joiner calls no membarrier).  Store-buffering: either the scan
 *     sees the reader, or h2 is at least the head the writer had then, and
 *     until its next scan it overwrites only elements below that.  So a
 *     NEWEST join (start at h2) is lossless; an OLDEST join's history below
 *     h2 may be overwritten until the writer's next scan sees the reader
 *     (several elements, not one), which the claim check of (1) turns into
 *     reported laps.
 *     So a lossless reader checks the claim only for elements below h2
 *     (b->guarded): from h2 on the writer never overwrites what it has not
 *     read.
 *     (The model checker's bc_join_leave found the first version, which
 *     started at the head read before the fence.)
 *
 * (3) Sleeping.  Readers announce by incrementing data_waiters (SEQ_CST),
 *     fence, re-check head, then sleep on data_futex; the writer stores head,
 *     fences, and bumps data_futex + FUTEX_WAKE only when data_waiters != 0
 *     (store-buffering pattern: one of the two sees the other).  A writer
 *     that could register for membarrier(GLOBAL_EXPEDITED) (b->light, told
 *     to readers in wlight) skips its fence; a reader about to sleep calls
 *     membarrier after its own fence, which makes the writer's threads
 *     execute a full barrier: the ring's scheme (lib/ring/ring.c (2)).
 *     Model-check builds never register, so the checker sees two fences.  The
 *     lossless writer sleeps on space_futex after setting space_waiting;
 *     a reader that moved its cursor fences and wakes it when the flag is set.
 *     A sleeper also flags its reader entry (asleep), so a reader killed
 *     asleep does not stay counted: whoever reclaims its entry withdraws
 *     the count, and a writer whose wake finds nobody in the kernel
 *     reclaims dead sleepers' entries (evict_dead, rate-limited).
 *
 * (4) Hostile memory.  Everything is range-checked before use: the header
 *     copy (line 0) is validated field by field; head never goes backwards;
 *     a cursor ahead of head, or a claim below head or more than a ring
 *     above it, is -EBADMSG; slot addresses are (i & mask) * slot_size.
 *
 * (6) A reader's cursor and the writer's wake.  A reader stores its cursor
 *     (release) after every pop and pop_n, so the writer's back-pressure is
 *     exact.  The store-load fence of (3) and the check of the writer's
 *     space_waiting flag are not per pop: a reader takes them when it finds
 *     the ring empty (if it moved since its last check), or at once when a
 *     plain load already shows the flag set.  Enough: a writer asleep for
 *     room publishes nothing, so the reader it waits for drains the ring and
 *     finds it empty, and there the fences of (3) pair up as before.
 */
#define _GNU_SOURCE
#include "broadcast_layout.h"
#include "region/part_open.h"
#include "ring/ring_layout.h" /* the asymmetric fence the ring's waits use (lib/ring/membarrier.c) */
#include "os/os.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seeded bug for the model checker (tests/model); never defined in normal builds. */
#if defined(CORTEX_SEED_BROADCAST_NO_CLAIM_FENCE)
#define claim_fence(mo) ((void)0)
#else
#define claim_fence(mo) cortex__fence(mo)
#endif

enum { ROLE_WRITER = 1, ROLE_READER = 2 };

/* Spin before sleeping in the *_wait calls. */
#define BC_SPIN_NS INT64_C(20000)
/* Nap when the writer relies on membarrier but the call failed (the wake cannot be proven). */
#define BC_SHORT_NAP_NS INT64_C(200000)

static const cortex_error err_full = {
    -EAGAIN, 0, "", false,
    "broadcast full: nothing was pushed; the slowest live reader is a whole ring behind (lossless mode)", ""};
static const cortex_error err_empty = {
    -EAGAIN, 0, "", false, "broadcast empty: nothing was popped; the writer has published nothing newer", ""};

static inline cortex_bc_shared *SH(const cortex_broadcast *b) { return (cortex_bc_shared *)(void *)b->base; }

static inline cortex_bc_reader *entry(const cortex_broadcast *b, uint32_t i)
{
    return (cortex_bc_reader *)(void *)(b->base + CORTEX_BROADCAST_HEADER_SIZE + (size_t)i * 64u);
}

static inline cortex_bc_word *slot_of(const cortex_broadcast *b, uint64_t i)
{
    return (cortex_bc_word *)(void *)(b->slots + (size_t)(i & b->mask) * b->slot_size);
}

/*
 * The one liveness verdict of this file, on the identity the ring's roles
 * record too (lib/os/proc.c): true only when the holder is certainly gone.
 * A holder at -pid (a join in progress) is judged by its pid alone: its
 * start and stamp fields may still be the previous holder's.
 */
static bool holder_dead(int32_t pid, uint64_t start, uint32_t stamp)
{
    if (pid == 0 || pid == INT32_MIN)
        return true;
    cortex__proc_id id = {.pid = pid < 0 ? -pid : pid};
    if (pid > 0) {
        id.start = start;
        id.stamp = stamp;
    }
    return cortex__proc_verdict(&id, NULL) == CORTEX__DEAD; /* unknown is not dead */
}

/* The pid a holder record names (a claim in progress at -pid; 0 for none). */
static int32_t holder_pid(int32_t pid) { return pid == INT32_MIN ? 0 : pid < 0 ? -pid : pid; }

static bool reader_dead(cortex_bc_reader *e, int32_t pid)
{
    return holder_dead(pid, cortex__ld64(&e->start, CX_RELAXED), cortex__ld32(&e->stamp, CX_RELAXED));
}

static bool writer_dead(cortex_bc_shared *sh, int32_t pid)
{
    return holder_dead(pid, cortex__ld64(&sh->wstart, CX_RELAXED), cortex__ld32(&sh->wstamp, CX_RELAXED));
}

/* ---- geometry and the header --------------------------------------------- */

static uint64_t slot_size_for(uint64_t elem_size) { return cortex__align_up(elem_size, 8); }
static uint64_t slots_offset_for(uint64_t max_readers) { return CORTEX_BROADCAST_HEADER_SIZE + 64 * max_readers; }

static int check_geometry(uint64_t capacity, uint64_t max_readers, uint64_t elem_size, uint64_t elem_align,
                          const char *what)
{
    if (!cortex__is_pow2(capacity) || capacity > CORTEX_BROADCAST_MAX_CAPACITY)
        return cortex__fail(EINVAL, "%s: capacity %llu is not a power of two in [1, 2^30]", what,
                            (unsigned long long)capacity);
    if (max_readers == 0 || max_readers > CORTEX_BROADCAST_MAX_READERS)
        return cortex__fail(EINVAL, "%s: %llu readers is outside [1, %u]", what, (unsigned long long)max_readers,
                            CORTEX_BROADCAST_MAX_READERS);
    if (elem_size == 0 || elem_size > CORTEX_BROADCAST_MAX_ELEM)
        return cortex__fail(EINVAL, "%s: element size %llu is outside [1, %u] bytes", what,
                            (unsigned long long)elem_size, CORTEX_BROADCAST_MAX_ELEM);
    if (elem_align != 0 && (!cortex__is_pow2(elem_align) || elem_align > CORTEX_MAX_ALIGN))
        return cortex__fail(EINVAL, "%s: element alignment %llu is not a power of two <= %u", what,
                            (unsigned long long)elem_align, CORTEX_MAX_ALIGN);
    if (capacity * slot_size_for(elem_size) > (UINT64_C(1) << 40))
        return cortex__fail(EINVAL, "%s: %llu slots of %llu bytes is more than 1 TiB", what,
                            (unsigned long long)capacity, (unsigned long long)elem_size);
    return 0;
}

size_t cortex_broadcast_required_size(uint32_t capacity, uint32_t max_readers, size_t elem_size)
{
    if (!cortex__is_pow2(capacity) || capacity > CORTEX_BROADCAST_MAX_CAPACITY || max_readers == 0 ||
        max_readers > CORTEX_BROADCAST_MAX_READERS || elem_size == 0 || elem_size > CORTEX_BROADCAST_MAX_ELEM)
        return 0;
    uint64_t total = slots_offset_for(max_readers) + (uint64_t)capacity * slot_size_for(elem_size);
    return total > (uint64_t)SIZE_MAX ? 0 : (size_t)total;
}

static void write_header(cortex_bc_shared *sh, uint32_t capacity, uint32_t max_readers, unsigned flags,
                         uint32_t elem_size, uint32_t elem_align)
{
    uint64_t slots = slots_offset_for(max_readers);
    uint64_t total = slots + (uint64_t)capacity * slot_size_for(elem_size);
    memset(sh, 0, (size_t)total);
    /* The creator's claim in progress (claim_writer finishes it): a creator killed before it is found dead. */
    cortex__st32(&sh->wpid, (uint32_t)-(int32_t)cortex__self_pid(), CX_RELAXED);
    cortex__fence(CX_RELEASE); /* before the magic that makes the header readable */
    sh->magic = CORTEX_BROADCAST_MAGIC;
    sh->version = CORTEX_BROADCAST_VERSION;
    sh->header_size = CORTEX_BROADCAST_HEADER_SIZE;
    sh->elem_size = elem_size;
    sh->elem_align = elem_align;
    sh->capacity = capacity;
    sh->max_readers = max_readers;
    sh->flags = flags;
    sh->slot_size = (uint32_t)slot_size_for(elem_size);
    sh->slots_offset = slots;
    sh->total_size = total;
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_bc_shared, check));
}

/* A private copy of line 0, checked field by field against @p len bytes and the expected element. */
static int validate_header(const void *live, uint64_t len, uint64_t elem_size, uint64_t elem_align, const char *what,
                           cortex_bc_shared *out)
{
    if (len < CORTEX_BROADCAST_HEADER_SIZE)
        return cortex__fail(EBADMSG, "%s: %llu bytes cannot hold a broadcast header (%u bytes)", what,
                            (unsigned long long)len, CORTEX_BROADCAST_HEADER_SIZE);
    cortex_bc_shared h;
    memcpy(&h, live, 64);
    if (h.magic != CORTEX_BROADCAST_MAGIC)
        return cortex__fail(EBADMSG, "%s holds no broadcast ring (magic 0x%016llx, expected 0x%016llx)", what,
                            (unsigned long long)h.magic, (unsigned long long)CORTEX_BROADCAST_MAGIC);
    if (h.version != CORTEX_BROADCAST_VERSION)
        return cortex__fail(EPROTO, "%s: broadcast layout version %u, this build reads %u", what, h.version,
                            CORTEX_BROADCAST_VERSION);
    uint32_t check = cortex__fnv1a32(&h, offsetof(cortex_bc_shared, check));
    if (check != h.check)
        return cortex__fail(EBADMSG, "%s: broadcast header checksum 0x%08x does not match its contents (0x%08x)",
                            what, h.check, check);
    if (h.header_size != CORTEX_BROADCAST_HEADER_SIZE || h.flags > CORTEX_BROADCAST_LOSSY)
        return cortex__fail(EBADMSG, "%s: broadcast header size %u / flags 0x%x, expected %u / 0 or 1", what,
                            h.header_size, h.flags, CORTEX_BROADCAST_HEADER_SIZE);
    if (check_geometry(h.capacity, h.max_readers, h.elem_size, h.elem_align, what) < 0) {
        char why[CORTEX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", cortex_last_error()->message);
        return cortex__fail(EBADMSG, "%s: corrupt broadcast header: %s", what, why);
    }
    uint64_t total = slots_offset_for(h.max_readers) + (uint64_t)h.capacity * slot_size_for(h.elem_size);
    if (h.slot_size != slot_size_for(h.elem_size) || h.slots_offset != slots_offset_for(h.max_readers) ||
        h.total_size != total || total > len)
        return cortex__fail(EBADMSG,
                            "%s: broadcast of %u x %u bytes for %u readers needs %llu bytes (slot %llu, slots at "
                            "%llu); header says %llu (slot %u, slots at %llu), memory has %llu",
                            what, h.capacity, h.elem_size, h.max_readers, (unsigned long long)total,
                            (unsigned long long)slot_size_for(h.elem_size),
                            (unsigned long long)slots_offset_for(h.max_readers), (unsigned long long)h.total_size,
                            h.slot_size, (unsigned long long)h.slots_offset, (unsigned long long)len);
    if ((elem_size && elem_size != h.elem_size) || (elem_align && elem_align != h.elem_align))
        return cortex__fail(EPROTO,
                            "%s holds a broadcast of %u-byte elements (align %u), expected %llu bytes (align %llu)",
                            what, h.elem_size, h.elem_align, (unsigned long long)elem_size,
                            (unsigned long long)elem_align);
    *out = h;
    return 0;
}

static void handle_fill(cortex_broadcast *b, void *mem, const cortex_bc_shared *h, uint32_t role,
                        cortex_region *region)
{
    memset(b, 0, sizeof *b);
    b->base = mem;
    b->slots = (unsigned char *)mem + h->slots_offset;
    b->region = region;
    b->mask = (uint64_t)h->capacity - 1;
    b->elem_size = h->elem_size;
    b->slot_size = h->slot_size;
    b->capacity = h->capacity;
    b->max_readers = h->max_readers;
    b->flags = h->flags;
    b->role = role;
    b->pid = (int32_t)cortex__self_pid();
}

/* ---- slots --------------------------------------------------------------- */

/*
 * How a run is copied.  Release builds use memcpy over each contiguous part
 * (what the seqlock readers of Linux or folly do: the claim check of (1)
 * throws away any copy the writer raced with, and the fences order the
 * copy against the claim for the compiler and the CPU).  The model checker
 * and ThreadSanitizer judge by the C11 letter, where such a copy is a data
 * race: there every word is a relaxed atomic access instead.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BC_WORD_COPY 1
#endif
#endif
#if defined(CORTEX_MODEL) || defined(__SANITIZE_THREAD__)
#define BC_WORD_COPY 1
#endif

#if defined(BC_WORD_COPY)
static void put_words(cortex_bc_word *w, const unsigned char *src, size_t bytes)
{
    size_t k = 0;
    for (; k < bytes / 8; k++) {
        uint64_t v;
        memcpy(&v, src + 8 * k, 8);
        cortex__st64(&w[k], v, CX_RELAXED);
    }
    if (bytes & 7u) {
        uint64_t v = 0;
        memcpy(&v, src + 8 * k, bytes & 7u);
        cortex__st64(&w[k], v, CX_RELAXED);
    }
}

static void get_words(const cortex_bc_word *w, unsigned char *dst, size_t bytes)
{
    size_t k = 0;
    for (; k < bytes / 8; k++) {
        uint64_t v = cortex__ld64((cortex_bc_word *)(uintptr_t)&w[k], CX_RELAXED);
        memcpy(dst + 8 * k, &v, 8);
    }
    if (bytes & 7u) {
        uint64_t v = cortex__ld64((cortex_bc_word *)(uintptr_t)&w[k], CX_RELAXED);
        memcpy(dst + 8 * k, &v, bytes & 7u);
    }
}
#else
static inline void put_words(cortex_bc_word *w, const unsigned char *src, size_t bytes) { memcpy((void *)w, src, bytes); }
static inline void get_words(const cortex_bc_word *w, unsigned char *dst, size_t bytes)
{
    memcpy(dst, (const void *)w, bytes);
}
#endif

/* Elements [i, i + n) to (@p to_slots) or from their slots, @p buf packed as the caller's array. */
static void copy_run(cortex_broadcast *b, uint64_t i, uint64_t n, unsigned char *buf, bool to_slots)
{
    uint32_t size = b->elem_size;
    while (n) {
        uint64_t run = b->capacity - (i & b->mask); /* up to the ring's end */
        run = run < n ? run : n;
        cortex_bc_word *w = slot_of(b, i);
        if (size == b->slot_size) { /* slots as packed as the caller's array: one copy */
            if (to_slots)
                put_words(w, buf, (size_t)run * size);
            else
                get_words(w, buf, (size_t)run * size);
        } else {
            for (uint64_t e = 0; e < run; e++, w += b->slot_size / 8)
                if (to_slots)
                    put_words(w, buf + e * size, size);
                else
                    get_words(w, buf + e * size, size);
        }
        buf += run * size;
        i += run;
        n -= run;
    }
}

/* ---- errors of a handle -------------------------------------------------- */

static int not_open(const cortex_broadcast *b, uint32_t role, const char *op)
{
    if (!b)
        return cortex__fail(EINVAL, "%s: NULL broadcast", op);
    if (b->bad)
        return cortex__fail(EBADMSG, "%s: this broadcast handle saw corrupt shared state earlier", op);
    return cortex__fail(EINVAL, "%s: the handle is closed or is not a %s", op,
                        role == ROLE_WRITER ? "writer" : "reader");
}

static bool usable(const cortex_broadcast *b, uint32_t role) { return b && b->role == role && !b->bad; }

/* ---- liveness --------------------------------------------------------------- */

/*
 * Is a liveness check due?  Always when @p force; else at most every
 * CORTEX_BROADCAST_LIVENESS_NS (after 64 polls first when @p polled, so an
 * empty reader's busy loop does not read the clock every time).  Model-check
 * builds never check on a timer (an execution must not depend on time).
 */
static bool liveness_due(cortex_broadcast *b, bool force, bool polled)
{
    if (force)
        return true;
#if defined(CORTEX_MODEL)
    CORTEX_UNUSED(b);
    CORTEX_UNUSED(polled);
    return false;
#else
    if (polled && ++b->polls < 64)
        return false;
    b->polls = 0;
    int64_t now = cortex__now_ns();
    if (now < b->next_check)
        return false;
    b->next_check = now + CORTEX_BROADCAST_LIVENESS_NS;
    return true;
#endif
}

/* ---- writer -------------------------------------------------------------- */

/*
 * Wakes sleeping readers (after a publish or a close).  True when sleepers
 * were counted but the wake found none in the kernel: about to sleep (the
 * bumped word sends them back), or dead asleep (see evict_dead).
 */
static bool wake_readers(cortex_broadcast *b, bool always)
{
    cortex_bc_shared *sh = SH(b);
    if (always || !b->light)
        cortex__fence(CX_SEQ_CST); /* our head/closed store before our read of the sleeper count */
#if !defined(CORTEX_MODEL)
    else /* a sleeper's membarrier supplies the CPU fence (see (3)); the compiler must not reorder either */
        __asm__ __volatile__("" ::: "memory");
#endif
    if (always || cortex__ld32(&sh->data_waiters, CX_RELAXED)) {
        cortex__fadd32(&sh->data_futex, 1, CX_RELEASE);
        return cortex__futex_wake(&sh->data_futex, INT32_MAX) == 0;
    }
    return false;
}

/*
 * After winning a dead holder's entry (its pid swapped for a claim of ours):
 * the sleeper count it died with, if it died asleep, is withdrawn.  Only
 * the winner of that swap gets here, and a live holder's flag is its own.
 */
static void drop_dead_sleeper(cortex_broadcast *b, cortex_bc_reader *e)
{
    if (cortex__xchg32(&e->asleep, 0, CX_RELAXED))
        cortex__fadd32(&SH(b)->data_waiters, (uint32_t)-1, CX_RELAXED);
}

/*
 * Frees the entries of readers that are certainly dead and hold the ring
 * full, or (@p sleepers) are counted among the sleepers, at most once per
 * CORTEX_BROADCAST_LIVENESS_NS unless @p force.  Returns how many were
 * evicted.
 */
static unsigned evict_dead(cortex_broadcast *b, bool force, bool sleepers)
{
    if (!liveness_due(b, force, sleepers))
        return 0;
    unsigned n = 0;
    for (uint32_t i = 0; i < b->max_readers; i++) {
        cortex_bc_reader *e = entry(b, i);
        uint32_t pid = cortex__ld32(&e->pid, CX_ACQUIRE);
        if (pid == 0)
            continue;
        uint64_t cur = cortex__ld64(&e->cursor, CX_ACQUIRE);
        if (b->pos - cur < b->capacity && (int32_t)pid > 0 && !(sleepers && cortex__ld32(&e->asleep, CX_RELAXED)))
            continue; /* not holding the writer back, nor counted asleep */
        /* Held at -(our pid) while the dead one's sleeper count is withdrawn, then freed. */
        if (reader_dead(e, (int32_t)pid) && cortex__cas32(&e->pid, &pid, (uint32_t)-b->pid, CX_ACQ_REL, CX_RELAXED)) {
            drop_dead_sleeper(b, e);
            cortex__st32(&e->pid, 0, CX_RELEASE);
            n++;
        }
    }
    return n;
}

/*
 * Lowest cursor of the live readers (pos when there are none), into b->seen.
 * -EBADMSG for a cursor ahead of the writer.  A cursor more than a ring
 * behind (a lapped join) counts as exactly a ring behind.
 */
static int scan_readers(cortex_broadcast *b, const char *op)
{
    /* Our head before the entries we read (the writer's half of (2)); a fenced writer took it in wake_readers. */
    if (b->light)
        cortex__fence(CX_SEQ_CST);
    uint64_t most = 0; /* how far the slowest live reader is behind */
    for (uint32_t i = 0; i < b->max_readers; i++) {
        cortex_bc_reader *e = entry(b, i);
        int32_t pid = (int32_t)cortex__ld32(&e->pid, CX_ACQUIRE);
        if (pid <= 0)
            continue; /* free, or a join in progress (see (2)) */
        uint64_t cur = cortex__ld64(&e->cursor, CX_ACQUIRE);
        uint64_t behind = b->pos - cur;
        if (behind > (UINT64_C(1) << 62)) {
            b->bad = 1;
            return cortex__fail(EBADMSG, "%s: reader %u (pid %d) has cursor %llu ahead of the writer's %llu: corrupt "
                                         "or hostile reader entry", op, i, pid, (unsigned long long)cur,
                                (unsigned long long)b->pos);
        }
        if (behind > most)
            most = behind > b->capacity ? b->capacity : behind;
    }
    b->seen = b->pos - most;
    return 0;
}

/* Free slots for the writer (> 0), or -EAGAIN / -EBADMSG / -EINVAL / -EPIPE. */
static int64_t writer_space(cortex_broadcast *b, uint64_t want, const char *op)
{
    if (!usable(b, ROLE_WRITER))
        return not_open(b, ROLE_WRITER, op);
    if (b->flags & CORTEX_BROADCAST_LOSSY)
        return b->capacity;
    uint64_t used = b->pos - b->seen;
    if (used <= b->capacity && b->capacity - used >= want)
        return (int64_t)(b->capacity - used); /* by the cached minimum: no reader line touched */
    int rc = scan_readers(b, op);
    if (rc < 0)
        return rc;
    if (b->pos - b->seen >= b->capacity && evict_dead(b, false, false) && (rc = scan_readers(b, op)) < 0)
        return rc;
    uint64_t free_slots = b->capacity - (b->pos - b->seen);
    if (free_slots == 0)
        return cortex__fail_fixed(&err_full);
    return (int64_t)free_slots;
}

/* Claims, writes and publishes elements [pos, pos + n) from @p src (see (1)). */
static void publish(cortex_broadcast *b, const unsigned char *src, uint64_t n)
{
    cortex_bc_shared *sh = SH(b);
    uint64_t end = b->pos + n;
    uint64_t claim = end > b->guarded ? end : b->guarded; /* never below a dead predecessor's (see claim_writer) */
    cortex__st64(&sh->claim, claim, CX_RELEASE); /* release: the head before it (see recover_lap) */
    claim_fence(CX_RELEASE);                   /* the claim before any word of the run */
    copy_run(b, b->pos, n, (unsigned char *)(uintptr_t)src, true);
    b->pos = end;
    cortex__st64(&sh->head, end, CX_RELEASE);
    if (wake_readers(b, false))
        evict_dead(b, false, true); /* a reader killed asleep stays counted: withdraw it (rate-limited) */
}

int cortex_broadcast_push(cortex_broadcast *b, const void *elem)
{
    int64_t n = writer_space(b, 1, "cortex_broadcast_push");
    if (n < 0)
        return (int)n;
    if (!elem)
        return cortex__fail(EINVAL, "cortex_broadcast_push: NULL element");
    publish(b, elem, 1);
    return 0;
}

ssize_t cortex_broadcast_push_n(cortex_broadcast *b, const void *elems, size_t n)
{
    if (n == 0)
        return 0;
    if (!elems)
        return cortex__fail(EINVAL, "cortex_broadcast_push_n: NULL elements");
    int64_t space = writer_space(b, n, "cortex_broadcast_push_n");
    if (space < 0)
        return (ssize_t)space;
    uint64_t k = n < (uint64_t)space ? n : (uint64_t)space;
    publish(b, elems, k);
    return (ssize_t)k;
}

/* The next sleep of a *_wait call: up to CORTEX_BROADCAST_NAP_NS, 0 once @p deadline passed. */
static int64_t nap_for(int64_t deadline)
{
    int64_t left = deadline - cortex__now_ns();
    if (left <= 0)
        return 0;
    return left < CORTEX_BROADCAST_NAP_NS ? left : CORTEX_BROADCAST_NAP_NS;
}

int cortex_broadcast_push_wait(cortex_broadcast *b, const void *elem, int64_t timeout_ns)
{
    const char *op = "cortex_broadcast_push_wait";
    int rc = cortex_broadcast_push(b, elem);
    if (rc != -EAGAIN)
        return rc;
    if (timeout_ns == 0)
        return cortex__fail(ETIMEDOUT, "%s: the ring is full (timeout 0)", op);
    cortex_bc_shared *sh = SH(b);
    int64_t deadline = cortex__deadline(timeout_ns);
    for (;;) {
        int64_t nap = nap_for(deadline);
        if (nap == 0)
            return cortex__fail(ETIMEDOUT, "%s: the slowest reader stayed a ring behind for %lld ns", op,
                                (long long)timeout_ns);
        uint32_t seen = cortex__ld32(&sh->space_futex, CX_ACQUIRE);
        cortex__st32(&sh->space_waiting, 1, CX_SEQ_CST);
        cortex__fence(CX_SEQ_CST); /* the announcement before the re-scan */
        if ((rc = scan_readers(b, op)) < 0)
            return rc;
        if (b->pos - b->seen >= b->capacity)
            cortex__futex_wait(&sh->space_futex, seen, nap);
        cortex__st32(&sh->space_waiting, 0, CX_RELAXED);
        evict_dead(b, false, false);
        if ((rc = cortex_broadcast_push(b, elem)) != -EAGAIN)
            return rc;
    }
}

/* ---- reader -------------------------------------------------------------- */

/* Stores the reader's cursor (release): the writer may now overwrite every element below it. */
static inline void store_cursor(cortex_broadcast *b)
{
    cortex__st64(&entry(b, b->index)->cursor, b->pos, CX_RELEASE);
}

/* The reader's half of (3)/(6): wakes a lossless writer asleep in push_wait for room. */
static void wake_writer(cortex_broadcast *b)
{
    cortex_bc_shared *sh = SH(b);
    if (b->flags & CORTEX_BROADCAST_LOSSY)
        return;
    b->published = b->pos;
    cortex__fence(CX_SEQ_CST); /* our cursor before our read of the writer's flag */
    if (cortex__ld32(&sh->space_waiting, CX_RELAXED) && cortex__xchg32(&sh->space_waiting, 0, CX_ACQ_REL)) {
        cortex__fadd32(&sh->space_futex, 1, CX_RELEASE);
        cortex__futex_wake(&sh->space_futex, 1);
    }
}

/*
 * A reader counts itself among the sleepers (data_waiters, see (3)) and
 * flags its entry, so that whoever reclaims the entry of a reader killed
 * asleep withdraws the count (drop_dead_sleeper); a count left up would
 * cost the writer a FUTEX_WAKE call per publish for good.  Killed between
 * the two stores (nanoseconds, never while asleep) it still leaks one.
 */
static void count_asleep(cortex_broadcast *b, bool in)
{
    cortex_bc_reader *e = entry(b, b->index);
    if (in) {
        cortex__fadd32(&SH(b)->data_waiters, 1, CX_SEQ_CST);
        cortex__st32(&e->asleep, 1, CX_RELAXED);
    } else {
        cortex__st32(&e->asleep, 0, CX_RELAXED);
        cortex__fadd32(&SH(b)->data_waiters, (uint32_t)-1, CX_RELAXED);
    }
}

/* After a pop: the cursor, and the wake only when the writer's flag is already visible. */
static inline void after_pop(cortex_broadcast *b)
{
    store_cursor(b);
    if ((b->flags & CORTEX_BROADCAST_LOSSY) == 0 && cortex__ld32(&SH(b)->space_waiting, CX_RELAXED))
        wake_writer(b);
}

/* Reloads head: 0, or -EBADMSG when it went backwards. */
static int reload_head(cortex_broadcast *b, const char *op)
{
    uint64_t h = cortex__ld64(&SH(b)->head, CX_ACQUIRE);
    if (h - b->seen > (UINT64_C(1) << 62) || h - b->pos > (UINT64_C(1) << 62)) {
        b->bad = 1;
        return cortex__fail(EBADMSG, "%s: writer's head %llu went back below %llu (reader at %llu): corrupt or "
                                     "hostile writer line", op, (unsigned long long)h, (unsigned long long)b->seen,
                            (unsigned long long)b->pos);
    }
    b->seen = h;
    return 0;
}

enum { GOT = 0, EMPTY = 1, LAPPED = 2, RETRY = 3 };

/* -EBADMSG (handle poisoned) for a writer's claim @p c that no writer at head @p h can have made. */
static int bad_claim(cortex_broadcast *b, uint64_t c, uint64_t h, const char *op)
{
    b->bad = 1;
    return cortex__fail(EBADMSG, "%s: writer's claim %llu is outside [head %llu, head + %u]: corrupt or hostile "
                                 "writer line", op, (unsigned long long)c, (unsigned long long)h, b->capacity);
}

/*
 * A run of up to @p max elements from b->pos into @p out (see (1)): GOT with
 * the count in *got, EMPTY, LAPPED, or -EBADMSG.  Head is re-read only when
 * the cached one does not cover @p max elements.
 */
static int read_run(cortex_broadcast *b, unsigned char *out, uint64_t max, uint64_t *got, const char *op)
{
    uint64_t i = b->pos, c = 0;
    if (b->seen - i < max) { /* the cached head does not cover the request: read it (once per call) */
        int rc = reload_head(b, op);
        if (rc < 0)
            return rc;
        if (i == b->seen)
            return EMPTY;
    }
    if (b->seen - i > b->capacity)
        return LAPPED;
    uint64_t n = b->seen - i < max ? b->seen - i : max;
    copy_run(b, i, n, out, false);
    if ((b->flags & CORTEX_BROADCAST_LOSSY) == 0 && i >= b->guarded) {
        b->pos = i + n; /* lossless, and the writer has seen our entry since: it waits for us (see (2)) */
        *got = n;
        return GOT;
    }
    claim_fence(CX_ACQUIRE); /* the words before the claim */
    c = cortex__ld64(&SH(b)->claim, CX_RELAXED);
    if (c - b->seen > (UINT64_C(1) << 62)) /* below the head we acquired before it */
        return bad_claim(b, c, b->seen, op);
    if (c - i > b->capacity)
        return LAPPED; /* the writer came round to the run while we copied: it may be torn */
    b->pos = i + n;
    *got = n;
    return GOT;
}

/* After a lap: skip to the oldest element still retained; -EOVERFLOW with the count. */
static int recover_lap(cortex_broadcast *b, const char *op)
{
    /* The claim, then head: a writer had published head >= claim - capacity before it claimed. */
    uint64_t c = cortex__ld64(&SH(b)->claim, CX_ACQUIRE);
    int rc = reload_head(b, op);
    if (rc < 0)
        return rc;
    if (b->seen - c < (UINT64_C(1) << 62))
        c = b->seen; /* the writer moved on since: its claim is at least head */
    else if (c - b->seen > b->capacity)
        return bad_claim(b, c, b->seen, op);
    uint64_t from = b->pos;
    uint64_t oldest = c >= b->capacity ? c - b->capacity : 0; /* the oldest no claim reached yet */
    uint64_t next = oldest > from ? oldest : from + 1;
    uint64_t lost = next - from;
    b->missed += lost;
    b->pos = next;
    store_cursor(b);
    wake_writer(b);
    return cortex__fail(EOVERFLOW, "%s: lapped by the writer: %llu element(s) lost (at %llu, writer at %llu, %llu "
                                   "lost in total); reading on from %llu", op, (unsigned long long)lost,
                        (unsigned long long)from, (unsigned long long)b->seen, (unsigned long long)b->missed,
                        (unsigned long long)next);
}

/* Is the writer gone (closed, or its process dead)?  The pid only every LIVENESS_NS. */
static bool writer_gone(cortex_broadcast *b, bool force)
{
    cortex_bc_shared *sh = SH(b);
    if (cortex__ld32(&sh->closed, CX_ACQUIRE))
        return true;
    if (!liveness_due(b, force, true))
        return false;
    int32_t pid = (int32_t)cortex__ld32(&sh->wpid, CX_ACQUIRE);
    return pid != 0 && writer_dead(sh, pid);
}

/* Empty: -EPIPE when the writer is gone and nothing is left, else -EAGAIN. */
static int empty_result(cortex_broadcast *b, bool force, const char *op)
{
    if (!writer_gone(b, force))
        return cortex__fail_fixed(&err_empty);
    int rc = reload_head(b, op); /* what it published before going is still ours */
    if (rc < 0)
        return rc;
    if (b->seen != b->pos)
        return RETRY;
    return cortex__fail(EPIPE, "%s: the writer closed the ring or died, and this reader read everything", op);
}

/*
 * Up to @p n elements into @p out: the count (> 0) or a negative errno.  The
 * cursor is published here only when the ring is found empty or lapped; the
 * callers publish it after what they took (see (6)).
 */
static ssize_t take(cortex_broadcast *b, void *out, uint64_t n, bool force, const char *op)
{
    if (!usable(b, ROLE_READER))
        return not_open(b, ROLE_READER, op);
    if (!out)
        return cortex__fail(EINVAL, "%s: NULL output", op);
    for (int tries = 0; tries < 4; tries++) {
        uint64_t got = 0;
        int rc = read_run(b, out, n, &got, op);
        if (rc == GOT)
            return (ssize_t)got; /* one run: head is read once per call, like the SPSC ring's index */
        if (rc < 0)
            return rc;
        if (rc == LAPPED)
            return recover_lap(b, op);
        if (b->pos != b->published)
            wake_writer(b); /* empty: the fenced check of (6) */
        rc = empty_result(b, force, op);
        if (rc != RETRY)
            return rc;
    }
    return cortex__fail_fixed(&err_empty);
}

static int pop_one(cortex_broadcast *b, void *out, bool force, const char *op)
{
    ssize_t rc = take(b, out, 1, force, op);
    if (rc < 0)
        return (int)rc;
    after_pop(b);
    return 0;
}

int cortex_broadcast_pop(cortex_broadcast *b, void *out) { return pop_one(b, out, false, "cortex_broadcast_pop"); }

ssize_t cortex_broadcast_pop_n(cortex_broadcast *b, void *out, size_t n)
{
    if (n == 0)
        return 0;
    ssize_t k = take(b, out, n, false, "cortex_broadcast_pop_n");
    if (k > 0)
        after_pop(b);
    return k;
}

int cortex_broadcast_pop_wait(cortex_broadcast *b, void *out, int64_t timeout_ns)
{
    const char *op = "cortex_broadcast_pop_wait";
    int rc = pop_one(b, out, false, op);
    if (rc != -EAGAIN)
        return rc;
    if (timeout_ns == 0)
        return cortex__fail(ETIMEDOUT, "%s: nothing to read (timeout 0)", op);
    cortex_bc_shared *sh = SH(b);
    int64_t deadline = cortex__deadline(timeout_ns);
#if !defined(CORTEX_MODEL)
    int64_t spin_until = cortex__now_ns() + BC_SPIN_NS;
    for (unsigned i = 1;; i++) {
        cortex__spin_hint();
        if (cortex__ld64(&sh->head, CX_ACQUIRE) != b->pos && (rc = pop_one(b, out, false, op)) != -EAGAIN)
            return rc;
        if ((i & 31) == 0 && cortex__now_ns() >= spin_until)
            break;
    }
#endif
    for (;;) {
        int64_t nap = nap_for(deadline);
        if (nap == 0)
            return cortex__fail(ETIMEDOUT, "%s: nothing published for %lld ns", op, (long long)timeout_ns);
        uint32_t seen = cortex__ld32(&sh->data_futex, CX_ACQUIRE);
        count_asleep(b, true);
        cortex__fence(CX_SEQ_CST); /* the announcement before the re-check */
        /* A light writer publishes without a fence: make its threads execute one now (see (3)). */
        if (cortex__ld32(&sh->wlight, CX_RELAXED) && cortex__ring_membarrier() < 0 && nap > BC_SHORT_NAP_NS)
            nap = BC_SHORT_NAP_NS;
        if (cortex__ld64(&sh->head, CX_ACQUIRE) == b->pos && !cortex__ld32(&sh->closed, CX_ACQUIRE))
            cortex__futex_wait(&sh->data_futex, seen, nap);
        count_asleep(b, false);
        /* A dead writer never wakes us: check its liveness after every nap. */
        if ((rc = pop_one(b, out, true, op)) != -EAGAIN)
            return rc;
    }
}

uint64_t cortex_broadcast_missed(const cortex_broadcast *b) { return b && b->role == ROLE_READER ? b->missed : 0; }

uint64_t cortex_broadcast_lag(const cortex_broadcast *b)
{
    if (!b || b->role != ROLE_READER)
        return 0;
    uint64_t h = cortex__ld64(&SH(b)->head, CX_ACQUIRE);
    uint64_t lag = h - b->pos;
    return lag > (UINT64_C(1) << 62) ? 0 : lag;
}

size_t cortex_broadcast_capacity(const cortex_broadcast *b) { return b ? b->capacity : 0; }

struct cortex_region *cortex_broadcast_region(const cortex_broadcast *b) { return b ? b->region : NULL; }

/* ---- joining, creating, closing ------------------------------------------- */

static int claim_writer(cortex_broadcast *b, const char *what)
{
    cortex_bc_shared *sh = SH(b);
    if (cortex__ld32(&sh->closed, CX_ACQUIRE))
        return cortex__fail(EPIPE, "%s: the writer closed this broadcast ring; make a new one", what);
    uint32_t self = (uint32_t)cortex__self_pid();
    uint32_t stamp = cortex__self_stamp(); /* may wait a clock tick: before the role is claimed */
    uint32_t cur = cortex__ld32(&sh->wpid, CX_ACQUIRE);
    /* this very pid is taken back only from its image before an exec() (another token), as a ring role is */
    if (cur == self && cortex__ld64(&sh->wimage, CX_ACQUIRE) == cortex__image_token())
        return cortex__fail(EBUSY, "%s: this process already holds the writer role (another handle)", what);
    /* -self: our own header's record (write_header), or this pid's image killed mid-claim before an exec() */
    if (cur != 0 && cur != self && cur != (uint32_t)-(int32_t)self && !writer_dead(sh, (int32_t)cur))
        return cortex__fail(EBUSY, "%s: the writer role is held by pid %d, not certainly dead%s", what,
                            (int)holder_pid((int32_t)cur), (int32_t)cur < 0 ? " (its claim is in progress)" : "");
    /* Claimed as -pid until our start time is recorded: the previous writer's start must not judge us. */
    if (!cortex__cas32(&sh->wpid, &cur, (uint32_t)-(int32_t)self, CX_ACQ_REL, CX_ACQUIRE))
        return cortex__fail(EBUSY, "%s: another process took the writer role", what);
    if (cur != (uint32_t)-(int32_t)self) /* not our own header's record: a takeover (or take-back), reported */
        b->took_over = holder_pid((int32_t)cur);
    cortex__st64(&sh->wstart, cortex__self_start(), CX_RELAXED);
    cortex__st32(&sh->wstamp, stamp, CX_RELAXED);
    b->light = cortex__ring_membarrier_register() ? 1u : 0u;
    cortex__st32(&sh->wlight, b->light, CX_RELAXED);
    cortex__st64(&sh->wimage, cortex__image_token(), CX_RELAXED);
    cortex__st32(&sh->wpid, self, CX_RELEASE);
    b->pos = cortex__ld64(&sh->head, CX_ACQUIRE);
    b->seen = b->pos - b->capacity; /* unknown minimum: the first push scans */
    /*
     * A writer killed between its words and its head left its claim above
     * head, and words a ring newer than the elements below head in their
     * slots.  Our claims stay at least there until we have written past it,
     * so a reader's check of (1) counts those slots as lapped.  A claim
     * below head is ignored; one more than a ring above it counts as a ring.
     */
    uint64_t above = cortex__ld64(&sh->claim, CX_ACQUIRE) - b->pos;
    b->guarded = b->pos + (above > (UINT64_C(1) << 62) ? 0 : above > b->capacity ? b->capacity : above);
    return 0;
}

static int take_entry(cortex_broadcast *b, unsigned from, const char *what)
{
    cortex_bc_shared *sh = SH(b);
    if (cortex__ld32(&sh->closed, CX_ACQUIRE))
        return cortex__fail(EPIPE, "%s: the writer closed this broadcast ring", what);
    int32_t self = (int32_t)cortex__self_pid();
    uint64_t image = cortex__image_token();
    uint32_t stamp = cortex__self_stamp(); /* may wait a clock tick: before the entry is claimed, not while */
    for (uint32_t i = 0; i < b->max_readers; i++) {
        cortex_bc_reader *e = entry(b, i);
        uint32_t cur = cortex__ld32(&e->pid, CX_ACQUIRE);
        /* this very process before an exec() (another image token) holds nothing any more: take it back */
        bool ours_before_exec = (int32_t)cur == self && cortex__ld64(&e->image, CX_ACQUIRE) != image;
        if (cur != 0 && !ours_before_exec && !reader_dead(e, (int32_t)cur))
            continue;
        if (!cortex__cas32(&e->pid, &cur, (uint32_t)-self, CX_ACQ_REL, CX_RELAXED))
            continue;
        b->took_over = holder_pid((int32_t)cur); /* a dead reader's entry (or our image's before exec) */
        if (cur != 0)
            drop_dead_sleeper(b, e);
        cortex__st64(&e->start, cortex__self_start(), CX_RELAXED);
        cortex__st32(&e->stamp, stamp, CX_RELAXED);
        cortex__st64(&e->image, image, CX_RELAXED);
        uint64_t h = cortex__ld64(&sh->head, CX_ACQUIRE);
        uint64_t pos = from == CORTEX_BROADCAST_OLDEST ? (h >= b->capacity ? h - b->capacity : 0) : h;
        cortex__st64(&e->cursor, pos, CX_RELEASE);
        cortex__st32(&e->pid, (uint32_t)self, CX_RELEASE);
        cortex__fence(CX_SEQ_CST); /* our entry before the re-read of head (see (2)) */
        uint64_t h2 = cortex__ld64(&sh->head, CX_ACQUIRE);
        if (h2 - h > (UINT64_C(1) << 62)) {
            cortex__st32(&e->pid, 0, CX_RELEASE);
            return cortex__fail(EBADMSG, "%s: writer's head went back from %llu to %llu: corrupt", what,
                                (unsigned long long)h, (unsigned long long)h2);
        }
        /* NEWEST: start at h2; a writer that scanned without seeing us had
           published its head before its fence, so h2 is at least that head and
           it overwrites nothing at or above h2 before it scans again. */
        uint64_t start = from == CORTEX_BROADCAST_OLDEST ? (h2 - pos > b->capacity ? h2 - b->capacity : pos) : h2;
        if (start != pos) {
            pos = start; /* only forward: the writer's view of our cursor stays a lower bound */
            cortex__st64(&e->cursor, pos, CX_RELEASE);
        }
        b->index = i;
        b->pos = pos;
        b->published = pos;
#if defined(CORTEX_SEED_BROADCAST_GUARD_HISTORY)
        b->guarded = pos; /* seeded bug: trusts the history too */
#else
        b->guarded = h2;
#endif
        b->seen = h2;
        return 0;
    }
    return cortex__fail(EBUSY, "%s: all %u reader entries are held by live processes", what, b->max_readers);
}

static int open_common(cortex_broadcast *b, void *mem, uint64_t len, size_t elem_size, size_t elem_align,
                       uint32_t role, unsigned from, cortex_region *region, const char *what)
{
    cortex_bc_shared h;
    int rc;
    if ((uintptr_t)mem & 63u)
        return cortex__fail(EINVAL, "%s: broadcast memory at %p is not 64-byte aligned", what, mem);
    if ((rc = validate_header(mem, len, elem_size, elem_align, what, &h)) < 0)
        return rc;
    handle_fill(b, mem, &h, role, region);
    rc = role == ROLE_WRITER ? claim_writer(b, what) : take_entry(b, from, what);
    if (rc < 0)
        memset(b, 0, sizeof *b);
    return rc;
}

static int check_from(unsigned from, const char *what)
{
    if (from == CORTEX_BROADCAST_NEWEST || from == CORTEX_BROADCAST_OLDEST)
        return 0;
    return cortex__fail(EINVAL, "%s: from %u is not CORTEX_BROADCAST_NEWEST or CORTEX_BROADCAST_OLDEST", what, from);
}

static int check_flags(unsigned flags, const char *what)
{
    if (flags == CORTEX_BROADCAST_LOSSLESS || flags == CORTEX_BROADCAST_LOSSY)
        return 0;
    return cortex__fail(EINVAL, "%s: flags 0x%x are not CORTEX_BROADCAST_LOSSLESS or CORTEX_BROADCAST_LOSSY", what,
                        flags);
}

int cortex_broadcast_init(cortex_broadcast *b, void *mem, size_t len, uint32_t capacity, uint32_t max_readers,
                          unsigned flags, size_t elem_size, size_t elem_align)
{
    const char *what = "cortex_broadcast_init";
    int rc;
    if (!b || !mem)
        return cortex__fail(EINVAL, "%s: NULL %s", what, b ? "memory" : "handle");
    if ((rc = check_flags(flags, what)) < 0 || (rc = check_geometry(capacity, max_readers, elem_size, elem_align, what)) < 0)
        return rc;
    size_t need = cortex_broadcast_required_size(capacity, max_readers, elem_size);
    if (len < need)
        return cortex__fail(EINVAL, "%s: %zu bytes given, %zu needed", what, len, need);
    if ((uintptr_t)mem & 63u)
        return cortex__fail(EINVAL, "%s: memory at %p is not 64-byte aligned", what, mem);
    write_header(mem, capacity, max_readers, flags, (uint32_t)elem_size, (uint32_t)elem_align);
    return open_common(b, mem, len, elem_size, elem_align, ROLE_WRITER, 0, NULL, what);
}

int cortex_broadcast_join_mem(cortex_broadcast *b, void *mem, size_t len, unsigned from, size_t elem_size,
                              size_t elem_align)
{
    const char *what = "broadcast memory";
    int rc;
    if (!b || !mem)
        return cortex__fail(EINVAL, "cortex_broadcast_join_mem: NULL %s", b ? "memory" : "handle");
    if ((rc = check_from(from, "cortex_broadcast_join_mem")) < 0)
        return rc;
    return open_common(b, mem, len, elem_size, elem_align, ROLE_READER, from, NULL, what);
}

struct bc_init_ctx {
    uint32_t capacity, max_readers, flags, elem_size, elem_align;
};

static int bc_region_init(cortex_region *region, void *payload, void *ctx)
{
    CORTEX_UNUSED(region);
    struct bc_init_ctx *c = ctx;
    write_header(payload, c->capacity, c->max_readers, c->flags, c->elem_size, c->elem_align);
    return 0;
}

static int open_region(cortex_broadcast *b, cortex_region *region, size_t elem_size, size_t elem_align, uint32_t role,
                       unsigned from)
{
    char what[CORTEX__PART_WHAT_MAX];
    int rc = open_common(b, cortex_region_payload(region), cortex_region_payload_size(region), elem_size, elem_align,
                         role, from, region, cortex__part_what(region, "broadcast", what));
    return rc < 0 ? cortex__part_open_failed(region, rc) : rc;
}

int cortex_broadcast_create(cortex_broadcast *b, cortex_key key, uint32_t capacity, uint32_t max_readers,
                            unsigned flags, size_t elem_size, size_t elem_align, const char *type_name,
                            const cortex_opts *opts)
{
    const char *what = "cortex_broadcast_create";
    int rc;
    if (!b)
        return cortex__fail(EINVAL, "%s: NULL handle", what);
    if ((rc = check_flags(flags, what)) < 0 || (rc = check_geometry(capacity, max_readers, elem_size, elem_align, what)) < 0)
        return rc;
    cortex_layout layout = {.kind = CORTEX_KIND_BROADCAST,
                            .payload_size = cortex_broadcast_required_size(capacity, max_readers, elem_size),
                            .payload_align = CORTEX_CACHELINE,
                            .elem_size = (uint32_t)elem_size,
                            .elem_align = (uint32_t)elem_align,
                            .type_name = cortex__type_tag(opts, type_name)};
    struct bc_init_ctx ctx = {capacity, max_readers, flags, (uint32_t)elem_size, (uint32_t)elem_align};
    cortex_region *region = NULL;
    if ((rc = cortex_region_create(&region, key, &layout, opts, bc_region_init, &ctx)) < 0)
        return rc;
    return open_region(b, region, elem_size, elem_align, ROLE_WRITER, 0);
}

int cortex_broadcast_join(cortex_broadcast *b, cortex_key key, unsigned from, size_t elem_size, size_t elem_align,
                          const char *type_name, const cortex_opts *opts)
{
    int rc;
    if (!b)
        return cortex__fail(EINVAL, "cortex_broadcast_join: NULL handle");
    if ((rc = check_from(from, "cortex_broadcast_join")) < 0)
        return rc;
    cortex_layout expect = {.kind = CORTEX_KIND_BROADCAST,
                            .elem_size = (uint32_t)elem_size,
                            .elem_align = (uint32_t)elem_align,
                            .type_name = cortex__type_tag(opts, type_name)};
    cortex_region *region = NULL;
    if ((rc = cortex_region_attach(&region, key, &expect, opts)) < 0)
        return rc;
    return open_region(b, region, elem_size, elem_align, ROLE_READER, from);
}

int cortex_broadcast_close(cortex_broadcast *b)
{
    if (!b || !b->base || !b->role)
        return 0;
    cortex_bc_shared *sh = SH(b);
    bool mine = b->pid == (int32_t)cortex__self_pid(); /* a forked child holds nothing */
    if (mine && b->role == ROLE_WRITER) {
        cortex__st32(&sh->closed, 1, CX_SEQ_CST);
        wake_readers(b, true);
    } else if (mine && b->role == ROLE_READER) {
        uint32_t self = (uint32_t)b->pid;
        cortex__cas32(&entry(b, b->index)->pid, &self, 0, CX_ACQ_REL, CX_RELAXED);
        /* A lossless writer may be waiting for exactly us. */
        cortex__fence(CX_SEQ_CST);
        if (cortex__xchg32(&sh->space_waiting, 0, CX_ACQ_REL)) {
            cortex__fadd32(&sh->space_futex, 1, CX_RELEASE);
            cortex__futex_wake(&sh->space_futex, 1);
        }
    }
    cortex_region *region = b->region;
    memset(b, 0, sizeof *b);
    return region ? cortex_region_close(region) : 0;
}

/* ---- inspection ---------------------------------------------------------- */

int cortex_broadcast_inspect_mem(const void *mem, size_t len, cortex_broadcast_info *out)
{
    if (!mem || !out)
        return cortex__fail(EINVAL, "cortex_broadcast_inspect: NULL %s", mem ? "output" : "memory");
    memset(out, 0, sizeof *out);
    cortex_bc_shared h;
    int rc = validate_header(mem, len, 0, 0, "broadcast", &h);
    if (rc < 0)
        return rc;
    cortex_broadcast view;
    handle_fill(&view, (void *)(uintptr_t)mem, &h, 0, NULL);
    cortex_bc_shared *sh = SH(&view);
    out->capacity = h.capacity;
    out->elem_size = h.elem_size;
    out->max_readers = h.max_readers;
    out->flags = h.flags;
    out->head = cortex__ld64(&sh->head, CX_ACQUIRE);
    out->writer_pid = (int32_t)cortex__ld32(&sh->wpid, CX_ACQUIRE);
    out->writer_alive = out->writer_pid != 0 && !writer_dead(sh, out->writer_pid);
    if (out->writer_pid < 0 && out->writer_pid != INT32_MIN)
        out->writer_pid = -out->writer_pid; /* its claim in progress */
    out->closed = cortex__ld32(&sh->closed, CX_ACQUIRE) != 0;
    for (uint32_t i = 0; i < h.max_readers; i++) {
        cortex_bc_reader *e = entry(&view, i);
        cortex_broadcast_reader_info *ri = &out->reader[i];
        ri->pid = (int32_t)cortex__ld32(&e->pid, CX_ACQUIRE);
        if (ri->pid == 0)
            continue;
        out->readers++;
        ri->alive = !reader_dead(e, ri->pid);
        if (ri->pid < 0 && ri->pid != INT32_MIN)
            ri->pid = -ri->pid;
        ri->cursor = cortex__ld64(&e->cursor, CX_ACQUIRE);
        ri->lag = out->head - ri->cursor > h.capacity ? h.capacity : out->head - ri->cursor;
    }
    return 0;
}

int cortex_broadcast_inspect(const struct cortex_region *region, cortex_broadcast_info *out)
{
    int rc = cortex__region_inspect_kind(region, CORTEX_KIND_BROADCAST, out, sizeof *out, "cortex_broadcast_inspect", "a broadcast ring");
    if (rc < 0)
        return rc;
    return cortex_broadcast_inspect_mem(cortex_region_payload(region), cortex_region_payload_size(region), out);
}

/* ---- the waitset's hook (lib/waitset) ------------------------------------ */

int cortex__broadcast_wait_arm(cortex_broadcast *b, bool announce, bool check_pid, cortex__a32 **word, uint32_t *val)
{
    const char *op = "waitset: broadcast reader";
    if (!usable(b, ROLE_READER))
        return not_open(b, ROLE_READER, op);
    cortex_bc_shared *sh = SH(b);
    if (announce) { /* as pop_wait: count ourselves in, fence, re-check */
        *word = &sh->data_futex;
        *val = cortex__ld32(&sh->data_futex, CX_ACQUIRE);
        count_asleep(b, true);
        cortex__fence(CX_SEQ_CST);
        /* As pop_wait: a light writer's missing fence is made up by a membarrier; without one, poll (no word). */
        if (cortex__ld32(&sh->wlight, CX_RELAXED) && cortex__ring_membarrier() < 0)
            *word = NULL;
    }
    int rc = 0;
    for (int pass = 0; pass < 2; pass++) {
        if ((rc = reload_head(b, op)) < 0) /* an impossible head poisons the handle, as in a pop */
            break;
        if (b->seen != b->pos)
            return 1;
        if (pass == 0 && !writer_gone(b, check_pid))
            return 0; /* a closing writer published first: look once more after seeing it gone */
    }
    if (rc == 0)
        rc = cortex__fail(EPIPE, "%s: the writer closed the ring or died, and this reader read everything", op);
    if (announce && !*word) /* a failure without a word: the caller keeps no announcement to withdraw */
        cortex__broadcast_wait_disarm(b);
    return rc;
}

void cortex__broadcast_wait_disarm(cortex_broadcast *b) { count_asleep(b, false); }
