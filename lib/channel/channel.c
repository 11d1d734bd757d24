/* SPDX-License-Identifier: MIT */
/*
 * lib/channel/channel.c: zero-copy messages over the public slab and ring.
 *
 * Segment payload (offsets from the payload's first byte, all fixed-width):
 *
 *   0        channel header (CHAN_HDR_SIZE bytes, immutable after READY,
 *            covered by a checksum): magic, version, class count, ring
 *            capacity, and per class the slot size, slot count and the
 *            offset/length of its slab; the ring's offset/length
 *   ring_off an SPSC ring (neocortex/ring.h) of chan_rec records
 *   cls_off  one slab (neocortex/slab.h) per size class
 *
 * The hand-over, in the order that makes crash recovery exact:
 *
 *   producer: alloc (loan) ... writes ... reserve a ring record, fill it,
 *             commit it (the payload is published by the ring's release
 *             store), THEN send (allocated -> in flight)
 *   consumer: peek the record, receive the slot (in flight -> ours, new
 *             generation), THEN release the record
 *
 * So a slot is never in flight without its record in the ring: a producer
 * killed between commit and send leaves an allocated slot with a record;
 * the consumer sees -EBUSY from receive and waits, the slab's reclaim of
 * the dead owner frees the slot, and the record then reads as stale and is
 * skipped.  A consumer killed between receive and release leaves a record
 * whose generation is two behind: the next consumer's receive says -ESTALE
 * and skips it, the dead consumer's slot comes back through reclaim.  The
 * channel adds no atomic of its own: every shared access is the ring's or
 * the slab's, so their model-checked protocols carry the channel's.
 */
#include "internal.h"

#include <neocortex/channel.h>

#include "channel_layout.h"
#include "ring/ring_layout.h"
#include "slab/slab_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The waits: spin this long, then sleep on the ring's futex words for at most CHAN_NAP_NS at a time. */
#define CHAN_SPIN_NS INT64_C(20000)
#define CHAN_NAP_NS INT64_C(10000000)
/* A record whose slot is not marked in flight yet: re-looked at after this nap. */
#define CHAN_NOT_YET_NAP_NS INT64_C(50000)
/* A waiter runs cortex_channel_reclaim() at most this often. */
#define CHAN_RECLAIM_NS INT64_C(10000000)
/* Magazine batch: at most the slab's largest, and a quarter of a class's slots (0 below 8 slots). */
#define CHAN_MAG_BATCH 32u
/* Consecutive polls of a record whose slot is not yet in flight before a reclaim is tried. */
#define CHAN_BUSY_POLLS 4096u

/* Fixed records for the -EAGAIN of the hot paths (a spinning caller pays no formatting). */
static const cortex_error chan_err_no_slot = {
    -EAGAIN, 0, "", false,
    "cortex_channel_loan: no free slot that fits (all loaned, in flight or taken); try again once the consumer "
    "releases one (or use cortex_channel_loan_wait)", ""};
static const cortex_error chan_err_not_yet = {
    -EAGAIN, 0, "", false,
    "cortex_channel_take: the next record's slot is not marked in flight yet (the producer is between its push and "
    "its send, or died there and awaits reclaim)", ""};

/* A slot this side holds (loaned or taken): its address here, its handle and class. */
typedef struct chan_held {
    const void *ptr;
    cortex_handle h;
    uint32_t cls;
    uint32_t len;
} chan_held;

struct cortex_channel {
    cortex_ring *ring;
    cortex_region *region;
    cortex_role role;
    unsigned n;
    uint32_t elem_size; /* every message length is a multiple of it */
    struct {
        cortex_slab *slab;
        uint32_t size;
        uint32_t mag; /* this view's magazine batch for the class (0: none) */
    } cls[CORTEX_CHANNEL_MAX_CLASSES];
    chan_held *held; /* capacity: every slot of the channel */
    uint32_t nheld, cap_held;
    uint32_t busy_polls;
    bool not_yet;       /* the last take's -EAGAIN was a record whose slot is not in flight yet */
};

/* ---- layout -------------------------------------------------------------- */

static uint32_t slot_align_of(uint32_t size, uint32_t elem_align)
{
    return (uint32_t)cortex_slab_required_align(size, elem_align);
}

/* Fills @p h for @p classes; 0 or -EINVAL with a message.  *payload_align receives the alignment needed. */
static int plan(chan_hdr *h, const cortex_pool_class *classes, unsigned n, size_t elem_size, size_t elem_align,
                uint32_t *payload_align)
{
    if (!classes || n == 0 || n > CORTEX_CHANNEL_MAX_CLASSES)
        return cortex__fail(EINVAL, "channel: %u size classes (1-%u)", n, CORTEX_CHANNEL_MAX_CLASSES);
    if (elem_size == 0 || elem_size > CORTEX_SLAB_MAX_SLOT_SIZE || !cortex__is_pow2(elem_align) ||
        elem_align > CORTEX_MAX_ALIGN)
        return cortex__fail(EINVAL, "channel: element of %zu bytes aligned to %zu is out of range", elem_size,
                            elem_align);
    memset(h, 0, sizeof *h);
    h->magic = CORTEX_CHANNEL_MAGIC;
    h->version = CORTEX_CHANNEL_VERSION;
    h->nclasses = n;
    h->elem_size = (uint32_t)elem_size;
    h->elem_align = (uint32_t)elem_align;
    uint64_t total = 0, align = CORTEX_CACHELINE, off = CHAN_HDR_SIZE;
    for (unsigned i = 0; i < n; i++) {
        uint32_t sz = classes[i].size, sl = classes[i].slots;
        if (sz < elem_size || sl == 0 || (i > 0 && sz <= classes[i - 1].size))
            return cortex__fail(EINVAL,
                                "channel: class %u (%u slots of %u bytes) is empty, smaller than the %zu-byte "
                                "element, or not larger than the class before it",
                                i, sl, sz, elem_size);
        total += sl;
        size_t need = cortex_slab_required_size(sl, sz, (uint32_t)elem_align);
        if (need == 0 || total > CORTEX_CHANNEL_MAX_SLOTS)
            return cortex__fail(EINVAL, "channel: class %u (%u slots of %u bytes) is out of range (at most %u slots "
                                "in all)", i, sl, sz, CORTEX_CHANNEL_MAX_SLOTS);
        uint32_t a = slot_align_of(sz, (uint32_t)elem_align);
        if (a > align)
            align = a;
        off = cortex__align_up(off, a);
        h->cls[i] = (chan_cls_rec){sz, sl, off, need};
        off += need;
    }
    uint32_t cap = 1;
    while (cap < total + 1) /* every slot in flight plus one stale record fit */
        cap <<= 1;
    h->ring_capacity = cap;
    h->ring_off = cortex__align_up(off, CORTEX_CACHELINE);
    h->ring_len = cortex_ring_required_size_aligned(cap, sizeof(chan_rec), _Alignof(chan_rec));
    if (h->ring_len == 0)
        return cortex__fail(EINVAL, "channel: a ring of %u records is too large", cap);
    h->check = cortex__fnv1a32(h, offsetof(chan_hdr, check));
    *payload_align = (uint32_t)align;
    return 0;
}

static uint64_t plan_size(const chan_hdr *h) { return h->ring_off + h->ring_len; }

/* Copies the shared header out and checks every field against @p len; 0 or -EBADMSG. */
static int check_hdr(chan_hdr *h, const void *payload, uint64_t len)
{
    if (len < CHAN_HDR_SIZE)
        return cortex__fail(EBADMSG, "channel: payload of %llu bytes cannot hold the channel header",
                            (unsigned long long)len);
    memcpy(h, payload, sizeof *h);
    if (h->magic != CORTEX_CHANNEL_MAGIC)
        return cortex__fail(EBADMSG, "channel: magic 0x%016llx is not a channel's", (unsigned long long)h->magic);
    if (h->version != CORTEX_CHANNEL_VERSION)
        return cortex__fail(EPROTO, "channel: layout version %u, this library reads %u", h->version,
                            CORTEX_CHANNEL_VERSION);
    if (h->check != cortex__fnv1a32(h, offsetof(chan_hdr, check)))
        return cortex__fail(EBADMSG, "channel: header checksum does not match its contents: corrupt");
    if (h->nclasses == 0 || h->nclasses > CORTEX_CHANNEL_MAX_CLASSES)
        return cortex__fail(EBADMSG, "channel: header claims %u classes", h->nclasses);
    if (h->elem_size == 0 || h->elem_size > CORTEX_SLAB_MAX_SLOT_SIZE || !cortex__is_pow2(h->elem_align) ||
        h->elem_align > CORTEX_MAX_ALIGN)
        return cortex__fail(EBADMSG, "channel: header claims an element of %u bytes aligned to %u", h->elem_size,
                            h->elem_align);
    uint64_t total = 0;
    for (unsigned i = 0; i < h->nclasses; i++) {
        const chan_cls_rec *c = &h->cls[i];
        total += c->slots;
        if (c->off < CHAN_HDR_SIZE || c->off > len || c->len > len - c->off || c->len == 0 ||
            total > CORTEX_CHANNEL_MAX_SLOTS || c->size == 0 || c->size < h->elem_size)
            return cortex__fail(EBADMSG, "channel: class %u (%u slots of %u bytes at offset %llu) does not fit the "
                                "%llu-byte payload", i, c->slots, c->size, (unsigned long long)c->off,
                                (unsigned long long)len);
    }
    if (h->ring_off < CHAN_HDR_SIZE || h->ring_off > len || h->ring_len > len - h->ring_off ||
        (h->ring_off & (CORTEX_CACHELINE - 1)) != 0 || !cortex__is_pow2(h->ring_capacity) ||
        h->ring_capacity < total + 1)
        return cortex__fail(EBADMSG, "channel: ring of %u records at offset %llu does not fit the payload or the "
                            "%llu slots", h->ring_capacity, (unsigned long long)h->ring_off,
                            (unsigned long long)total);
    return 0;
}

/* ---- opening ------------------------------------------------------------- */

struct chan_init_ctx {
    const chan_hdr *h;
};

static int chan_region_init(cortex_region *r, void *payload, void *ctx)
{
    const chan_hdr *h = ((struct chan_init_ctx *)ctx)->h;
    unsigned char *p = payload;
    CORTEX_UNUSED(r);
    for (unsigned i = 0; i < h->nclasses; i++) {
        cortex_slab *s = NULL;
        int rc = cortex_slab_init(&s, p + h->cls[i].off, (size_t)h->cls[i].len, h->cls[i].slots, h->cls[i].size,
                                  h->elem_align);
        if (rc < 0)
            return rc;
        cortex_slab_close(s);
    }
    cortex_ring tmp;
    int rc = cortex_ring_init(&tmp, p + h->ring_off, (size_t)h->ring_len, h->ring_capacity, sizeof(chan_rec),
                              _Alignof(chan_rec));
    if (rc < 0)
        return rc;
    memcpy(p, h, sizeof *h);
    return 0;
}

static void free_view(cortex_channel *c)
{
    for (unsigned i = 0; i < c->n; i++)
        cortex_slab_close(c->cls[i].slab);
    cortex_ring_free(c->ring);
    free(c->held);
    free(c);
}

/*
 * Builds this process's view of the channel at @p p (@p len bytes: the
 * payload of @p r, or caller memory when @p r is NULL) and takes @p role;
 * on failure closes @p r.
 */
static int open_view(cortex_channel **ret, cortex_region *r, unsigned char *p, uint64_t len, cortex_role role)
{
    chan_hdr h;
    int rc = check_hdr(&h, p, len);
    if (rc < 0) {
        cortex_region_close(r);
        return rc;
    }
    cortex_channel *c = calloc(1, sizeof *c);
    uint32_t total = 0;
    for (unsigned i = 0; i < h.nclasses; i++)
        total += h.cls[i].slots;
    if (c) {
        c->held = calloc(total, sizeof *c->held);
        c->ring = cortex_ring_new();
    }
    if (!c || !c->held || !c->ring) {
        if (c) {
            cortex_ring_free(c->ring);
            free(c->held);
            free(c);
        }
        cortex_region_close(r);
        return cortex__fail(ENOMEM, "channel: out of memory for a view of %u slots", total);
    }
    c->cap_held = total;
    c->elem_size = h.elem_size;
    c->role = role;
    for (unsigned i = 0; i < h.nclasses; i++) {
        rc = cortex_slab_attach_raw(&c->cls[i].slab, p + h.cls[i].off, (size_t)h.cls[i].len, h.cls[i].size,
                                    h.elem_align);
        if (rc < 0)
            goto fail;
        c->n = i + 1;
        c->cls[i].size = h.cls[i].size;
        if (cortex_slab_slots(c->cls[i].slab) != h.cls[i].slots) {
            rc = cortex__fail(EBADMSG, "channel: class %u slab holds %u slots, the channel header says %u", i,
                              cortex_slab_slots(c->cls[i].slab), h.cls[i].slots);
            goto fail;
        }
    }
    rc = cortex_ring_attach_mem(c->ring, p + h.ring_off, (size_t)h.ring_len, sizeof(chan_rec), _Alignof(chan_rec),
                                role);
    if (rc < 0) {
        cortex_ring_free(c->ring);
        c->ring = NULL;
        goto fail;
    }
    c->region = r;
    /*
     * Magazines (cortex_slab_magazine()): loan and release then touch no
     * line the peer writes but the slot's own word, and slots travel back
     * to the producer in batches.  A quarter of a class at most, so the up
     * to 2 x batch - 1 slots a consumer's magazine caches can never starve
     * the producer (and the waits flush them for a sleeping producer).
     */
    if ((rc = cortex_channel_magazine(c, CHAN_MAG_BATCH)) < 0)
        goto fail;
    /* A side taken over from a dead process: its slots come back now. */
    rc = cortex_channel_reclaim(c);
    if (rc < 0) {
        c->region = NULL;
        goto fail;
    }
    *ret = c;
    return 0;
fail:
    free_view(c);
    cortex_region_close(r);
    return rc;
}

int cortex_channel_create(cortex_channel **ret, cortex_key key, const cortex_pool_class *classes, unsigned n,
                          size_t elem_size, size_t elem_align, const char *type_name, cortex_role role,
                          const cortex_opts *opts)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_channel_create: ret is NULL");
    if (role != CORTEX_PRODUCER && role != CORTEX_CONSUMER)
        return cortex__fail(EINVAL, "cortex_channel_create: role %d is neither CORTEX_PRODUCER nor CORTEX_CONSUMER",
                            (int)role);
    chan_hdr h;
    uint32_t align = 0;
    int rc = plan(&h, classes, n, elem_size, elem_align, &align);
    if (rc < 0)
        return rc;
    cortex_layout l = {
        .kind = CORTEX_KIND_CHANNEL,
        .payload_size = plan_size(&h),
        .payload_align = align,
        .elem_size = (uint32_t)elem_size,
        .elem_align = (uint32_t)elem_align,
        .type_name = cortex__type_tag(opts, type_name),
    };
    struct chan_init_ctx ctx = {&h};
    cortex_region *r = NULL;
    rc = cortex_region_create(&r, key, &l, opts, chan_region_init, &ctx);
    if (rc < 0)
        return rc;
    return open_view(ret, r, cortex_region_payload(r), cortex_region_payload_size(r), role);
}

int cortex_channel_attach(cortex_channel **ret, cortex_key key, size_t elem_size, size_t elem_align,
                          const char *type_name, cortex_role role, const cortex_opts *opts)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_channel_attach: ret is NULL");
    if (role != CORTEX_PRODUCER && role != CORTEX_CONSUMER)
        return cortex__fail(EINVAL, "cortex_channel_attach: role %d is neither CORTEX_PRODUCER nor CORTEX_CONSUMER",
                            (int)role);
    cortex_layout l = {
        .kind = CORTEX_KIND_CHANNEL,
        .elem_size = (uint32_t)elem_size,
        .elem_align = (uint32_t)elem_align,
        .type_name = cortex__type_tag(opts, type_name),
    };
    cortex_region *r = NULL;
    int rc = cortex_region_attach(&r, key, &l, opts);
    if (rc < 0)
        return rc;
    return open_view(ret, r, cortex_region_payload(r), cortex_region_payload_size(r), role);
}

int cortex__channel_open_mem(cortex_channel **ret, void *mem, size_t len, const cortex_pool_class *classes,
                             unsigned n, size_t elem_size, size_t elem_align, cortex_role role)
{
    if (classes) {
        chan_hdr h;
        uint32_t align = 0;
        int rc = plan(&h, classes, n, elem_size, elem_align, &align);
        if (rc < 0)
            return rc;
        if (plan_size(&h) > len || ((uintptr_t)mem & (align - 1)) != 0)
            return cortex__fail(EINVAL, "channel: %llu bytes aligned to %u needed",
                                (unsigned long long)plan_size(&h), align);
        if ((rc = chan_region_init(NULL, mem, &(struct chan_init_ctx){&h})) < 0)
            return rc;
    }
    return open_view(ret, NULL, mem, len, role);
}

int cortex_channel_close(cortex_channel *c)
{
    if (!c)
        return 0;
    /* Slots still loaned or taken go back first (taken ones are ours: received). */
    for (uint32_t i = 0; i < c->nheld; i++)
        (void)cortex_slab_free(c->cls[c->held[i].cls].slab, c->held[i].h);
    c->nheld = 0;
    int rc = cortex_ring_close(c->ring);
    cortex_region *r = c->region;
    free_view(c); /* frees the closed ring handle too */
    int rc2 = cortex_region_close(r);
    return rc < 0 ? rc : rc2;
}

/* ---- held slots ----------------------------------------------------------- */

/* Index in c->held of the slot at @p ptr (searched from the newest), or -1. */
static int64_t find_held(const cortex_channel *c, const void *ptr)
{
    for (uint32_t i = c->nheld; i-- > 0;)
        if (c->held[i].ptr == ptr)
            return i;
    return -1;
}

static void drop_held(cortex_channel *c, int64_t i) { c->held[i] = c->held[--c->nheld]; }

static int not_side(const cortex_channel *c, cortex_role want, const char *op)
{
    if (!c)
        return cortex__fail(EINVAL, "%s: NULL channel", op);
    return cortex__fail(EINVAL, "%s: this handle is the channel's %s, not its %s", op,
                        c->role == CORTEX_PRODUCER ? "producer" : "consumer",
                        want == CORTEX_PRODUCER ? "producer" : "consumer");
}

static void wake_producer(cortex_channel *c);

/* Frees the slot at @p msg that side @p role holds (a loan given back, or a taken message released). */
static int give_back(cortex_channel *c, cortex_role role, const void *msg, const char *op)
{
    if (!c || c->role != role)
        return not_side(c, role, op);
    int64_t i = find_held(c, msg);
    if (i < 0)
        return cortex__fail(EINVAL, "%s: %p is not a slot this %s", op, msg,
                            role == CORTEX_PRODUCER ? "producer has loaned" : "consumer has taken");
    int rc = cortex_slab_free(c->cls[c->held[i].cls].slab, c->held[i].h);
    drop_held(c, i);
    if (role == CORTEX_CONSUMER)
        wake_producer(c);
    return rc;
}

/* ---- producer -------------------------------------------------------------- */

int cortex_channel_loan(cortex_channel *c, size_t size, void **out)
{
    if (!c || c->role != CORTEX_PRODUCER || !out)
        return out ? not_side(c, CORTEX_PRODUCER, "cortex_channel_loan")
                   : cortex__fail(EINVAL, "cortex_channel_loan: out is NULL");
    *out = NULL;
    if (size > c->cls[c->n - 1].size)
        return cortex__fail(ERANGE, "cortex_channel_loan: %zu bytes, the largest slot holds %u", size,
                            c->cls[c->n - 1].size);
    for (unsigned i = 0; i < c->n; i++) {
        if (c->cls[i].size < size)
            continue;
        cortex_handle h;
        int rc = cortex_slab_alloc(c->cls[i].slab, &h);
        if (rc == -ENOSPC)
            continue;
        if (rc < 0)
            return rc;
        void *p = cortex_slab_get(c->cls[i].slab, h);
        if (!p || c->nheld == c->cap_held) { /* cannot be, unless the shared words were overwritten */
            (void)cortex_slab_free(c->cls[i].slab, h);
            return cortex__fail(EBADMSG, "cortex_channel_loan: the slot just allocated is not ours (slab corrupt)");
        }
        c->held[c->nheld++] = (chan_held){p, h, i, 0};
        *out = p;
        return 0;
    }
    return cortex__fail_fixed(&chan_err_no_slot);
}

int cortex_channel_unloan(cortex_channel *c, void *msg)
{
    return give_back(c, CORTEX_PRODUCER, msg, "cortex_channel_unloan");
}

int cortex_channel_publish(cortex_channel *c, void *msg, size_t len)
{
    if (!c || c->role != CORTEX_PRODUCER)
        return not_side(c, CORTEX_PRODUCER, "cortex_channel_publish");
    int64_t i = find_held(c, msg);
    if (i < 0)
        return cortex__fail(EINVAL, "cortex_channel_publish: %p is not a slot this producer has loaned", msg);
    chan_held *hd = &c->held[i];
    if (len > c->cls[hd->cls].size || len % c->elem_size != 0)
        return cortex__fail(EINVAL, "cortex_channel_publish: %zu bytes do not fit the %u-byte slot or are not a "
                            "whole number of %u-byte elements", len, c->cls[hd->cls].size, c->elem_size);
    void *span;
    ssize_t n = cortex_ring_reserve(c->ring, 1, &span);
    if (n < 0)
        return (int)n;
    chan_rec rec = {hd->h, hd->cls, (uint32_t)len};
#if !defined(CORTEX_SEED_CHANNEL_RECORD_AFTER_COMMIT) /* seeded bug: the record is written after it is published */
    memcpy(span, &rec, sizeof rec);
    int rc = cortex_ring_commit(c->ring, 1);
#else
    int rc = cortex_ring_commit(c->ring, 1);
    cortex__spin_hint(); /* a scheduling point of the model checker between the two */
    memcpy(span, &rec, sizeof rec);
#endif
    if (rc < 0)
        return rc;
    /* The record is out: from here the slot is the consumer's, whatever happens next. */
    cortex_handle h = hd->h;
    unsigned cls = hd->cls;
    drop_held(c, i);
    rc = cortex_slab_send(c->cls[cls].slab, h);
    if (rc < 0)
        return cortex__fail(EBADMSG, "cortex_channel_publish: the published slot could not be marked in flight "
                            "(%s): its state word was overwritten", cortex_strerror(rc));
    return 0;
}

/*
 * Classes of at least this much payload cycle every slot (the producer's
 * sweep); smaller ones reuse the slots released last, which are still in
 * the caches: a ping-pong over a class of 8 slots of 4 KiB ran at
 * 0.43-0.49x iceoryx's one-way latency reusing them and 0.63-0.64x cycling
 * all 8 (bench-iceoryx, ratios within each run, 2026-11-30).  Above the
 * consumer's L2 the cycle is what pays (docs/channel.md, "Slot reuse and
 * the producer's stores").
 */
#define CHAN_CYCLE_BYTES (UINT64_C(1) << 20)

/*
 * (Re)arms class @p i's magazine (c->cls[i].mag slots a batch), emptied:
 * the producer keeps a batch and, in a class of CHAN_CYCLE_BYTES or more,
 * takes never-used slots first and then the depot's buffers in turn,
 * oldest first; the consumer, which only frees, hands each batch on as
 * soon as it has one (docs/channel.md, "Magazines": why).
 */
static int set_magazine(cortex_channel *c, unsigned i)
{
    uint32_t b = c->cls[i].mag;
    bool cycle = (uint64_t)cortex_slab_slots(c->cls[i].slab) * c->cls[i].size >= CHAN_CYCLE_BYTES;
    return c->role == CORTEX_PRODUCER ? cortex__slab_magazine_tune(c->cls[i].slab, b, b, cycle)
                                      : cortex__slab_magazine_tune(c->cls[i].slab, b, 0, false);
}

int cortex_channel_magazine(cortex_channel *c, uint32_t batch)
{
    if (!c || batch > CORTEX_SLAB_MAGAZINE_MAX)
        return cortex__fail(EINVAL, "cortex_channel_magazine: %s", c ? "batch is more than CORTEX_SLAB_MAGAZINE_MAX"
                                                                     : "NULL channel");
    int first = 0;
    for (unsigned i = 0; i < c->n; i++) {
        uint32_t slots = cortex_slab_slots(c->cls[i].slab);
        c->cls[i].mag = slots >= 8 ? cortex__slab_quarter_batch(slots, batch) : 0;
        int rc = set_magazine(c, i);
        if (rc < 0 && first == 0)
            first = rc;
    }
    return first;
}

int cortex_channel_reclaim(cortex_channel *c)
{
    if (!c)
        return cortex__fail(EINVAL, "cortex_channel_reclaim: NULL channel");
    int total = 0;
    for (unsigned i = 0; i < c->n; i++) {
        int rc = cortex_slab_reclaim(c->cls[i].slab, 0);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}

/* ---- waiting ---------------------------------------------------------------- */

/*
 * The waits sleep on the ring's futex words (cortex__ring_nap): the
 * consumer on its "ring empty" word, which the producer's commit wakes; the
 * producer on its "ring full" word, which the consumer's ring release and
 * its slot release (give_back) wake once they see it announced.  The
 * sleeper announces, fences and re-tries the operation itself before it
 * sleeps (the store-buffering pattern of lib/ring/ring.c, (2)): a slot freed
 * or a record committed either is seen by that try, or its waker sees the
 * announcement.  Slots a consumer's magazine caches are flushed to the
 * producer before a wake and before the consumer sleeps itself.
 */
typedef struct chan_wait {
    cortex_channel *c;
    int (*attempt)(struct chan_wait *);
    int rc;
    size_t size; /* loan */
    void **out;
    const void **tout; /* take */
    size_t *len;
} chan_wait;

/*
 * The re-check after the announcement: the operation itself.  A record
 * whose slot is not marked in flight yet is not slept on either: the
 * producer's mark (after its commit) wakes nobody.
 */
static bool chan_ready(void *ctx)
{
    chan_wait *w = ctx;
    w->rc = w->attempt(w);
    return w->rc != -EAGAIN || w->c->not_yet;
}

/* Gives every slot this side's magazines cache back to the shared free lists. */
static void flush_magazines(cortex_channel *c)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->cls[i].mag)
            (void)set_magazine(c, i);
}

/* Consumer, after freeing slots: a producer asleep for a slot gets the cached ones and is woken. */
static void wake_producer(cortex_channel *c)
{
    if (cortex__ring_peer_sleeps(c->ring)) {
        flush_magazines(c);
        cortex__ring_wake_peer(c->ring);
    }
}

static int wait_for(cortex_channel *c, chan_wait *w, int64_t timeout_ns, const char *op)
{
    int rc = w->attempt(w);
    if (rc != -EAGAIN || timeout_ns == 0)
        return rc;
    int64_t start = cortex__now_ns();
    int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
    int64_t last_reclaim = start;
    /* Spin first: an active peer answers within a cache-line round trip, with no system call. */
#if defined(CORTEX_MODEL)
    const int64_t spin_ns = 0; /* the model checker explores the sleep at once */
#else
    const int64_t spin_ns = CHAN_SPIN_NS;
#endif
    while (cortex__now_ns() - start < spin_ns) {
        for (int k = 0; k < 16; k++)
            cortex__spin_hint();
        if ((rc = w->attempt(w)) != -EAGAIN)
            return rc;
    }
    for (;;) {
        cortex__spin_hint(); /* also bounds the model checker's exploration of a waiter that keeps failing */
        int64_t now = cortex__now_ns();
        if (now >= deadline)
            return cortex__fail(ETIMEDOUT, "%s: nothing came within the timeout (%lld ns)", op,
                                (long long)timeout_ns);
        if (now - last_reclaim >= CHAN_RECLAIM_NS) { /* a dead peer's loaned/taken slots come back */
            last_reclaim = now;
            (void)cortex_channel_reclaim(c);
        }
        /* A record whose slot is not in flight yet is not a sleep: the producer marks it next. */
        int64_t nap = c->not_yet ? CHAN_NOT_YET_NAP_NS : CHAN_NAP_NS;
        if (nap > deadline - now)
            nap = deadline - now;
        if (c->role == CORTEX_CONSUMER) { /* before a nap: our cached slots back, then a sleeping producer up */
            flush_magazines(c);
            if (cortex__ring_peer_sleeps(c->ring))
                cortex__ring_wake_peer(c->ring);
        }
        w->rc = -EAGAIN;
        int gone = c->not_yet ? (cortex__sleep_ns(nap), 0) : cortex__ring_nap(c->ring, nap, chan_ready, w);
        if (gone < 0)
            return gone;
        if (w->rc != -EAGAIN)
            return w->rc;
        if ((rc = w->attempt(w)) != -EAGAIN)
            return rc;
        if (gone && !c->not_yet) {
            /* A consumer drains what the dead producer published (its half-published record after a reclaim). */
            if (c->role == CORTEX_CONSUMER && (cortex_channel_reclaim(c), (rc = w->attempt(w)) != -EAGAIN))
                return rc;
            return cortex__fail(EPIPE, "%s: the %s closed the channel or died", op,
                                c->role == CORTEX_PRODUCER ? "consumer" : "producer");
        }
    }
}

static int try_loan(chan_wait *w)
{
    int rc = cortex_channel_loan(w->c, w->size, w->out);
    if (rc != -EAGAIN)
        return rc;
    void *span;
    ssize_t probe = cortex_ring_reserve(w->c->ring, 1, &span); /* -EPIPE: the consumer is gone */
    return probe == -EPIPE || probe == -EBADMSG ? (int)probe : rc;
}

int cortex_channel_loan_wait(cortex_channel *c, size_t size, void **out, int64_t timeout_ns)
{
    if (!c || c->role != CORTEX_PRODUCER || !out)
        return cortex_channel_loan(c, size, out); /* its argument errors */
    chan_wait w = {.c = c, .attempt = try_loan, .size = size, .out = out};
    return wait_for(c, &w, timeout_ns, "cortex_channel_loan_wait");
}

int cortex_channel_publish_copy(cortex_channel *c, const void *buf, size_t len, int64_t timeout_ns)
{
    void *slot;
    int rc = cortex_channel_loan_wait(c, len, &slot, timeout_ns);
    if (rc < 0)
        return rc;
    cortex_channel_copy_in(slot, buf, len);
    rc = cortex_channel_publish(c, slot, len);
    if (rc < 0)
        (void)cortex_channel_unloan(c, slot);
    return rc;
}

/* ---- consumer -------------------------------------------------------------- */

/* Skips the record at the consumer's index and fails with @p code. */
static int skip_record(cortex_channel *c, int code, const chan_rec *rec, const char *why)
{
    (void)cortex_ring_release(c->ring, 1);
    c->busy_polls = 0;
    return cortex__fail(code, "cortex_channel_take: record (handle 0x%016llx, class %u, %u bytes) skipped: %s",
                        (unsigned long long)rec->handle, rec->cls, rec->len, why);
}

/*
 * The payload sits in the producer's cache: ask for its lines (up to
 * CHAN_PREFETCH bytes) all at once, so the caller's first pass over it
 * finds them arriving in parallel instead of one demand miss at a time
 * (in bench-zerocopy, 4 KiB: 2.80 against 2.52 M msg/s, two runs
 * a minute apart on a 41 ns host, not one interleaved comparison).  A hint: it reads
 * nothing and cannot fault.
 */
#define CHAN_PREFETCH 4096u
static void prefetch_payload(const void *p, size_t len)
{
    const char *q = p;
    size_t n = len < CHAN_PREFETCH ? len : CHAN_PREFETCH;
    for (size_t off = 0; off < n; off += 64)
        __builtin_prefetch(q + off, 0, 3);
}

int cortex_channel_take(cortex_channel *c, const void **out, size_t *len)
{
    if (!c || c->role != CORTEX_CONSUMER || !out)
        return out ? not_side(c, CORTEX_CONSUMER, "cortex_channel_take")
                   : cortex__fail(EINVAL, "cortex_channel_take: out is NULL");
    *out = NULL;
    if (len)
        *len = 0;
    c->not_yet = false;
    const void *span;
    ssize_t n = cortex_ring_peek(c->ring, 1, &span);
    if (n < 0)
        return (int)n;
    chan_rec rec;
    memcpy(&rec, span, sizeof rec); /* one copy: shared bytes are read once, then checked */
    if (rec.cls >= c->n)
        return skip_record(c, EBADMSG, &rec, "no such class (corrupt record)");
    if (rec.len > c->cls[rec.cls].size || rec.len % c->elem_size != 0)
        return skip_record(c, EBADMSG, &rec, "longer than its slot or not whole elements (corrupt record)");
    cortex_slab *s = c->cls[rec.cls].slab;
    cortex_handle h = rec.handle;
    int rc = cortex_slab_receive(s, &h);
    if (rc == -EBUSY) {
        /* Allocated, not yet in flight: the producer is between commit and send, or died there. */
        if (cortex_slab_get(s, rec.handle) == NULL)
            return skip_record(c, ESTALE, &rec, "its slot was freed");
        if (++c->busy_polls % CHAN_BUSY_POLLS == 0)
            (void)cortex_channel_reclaim(c);
        c->not_yet = true;
        return cortex__fail_fixed(&chan_err_not_yet);
    }
    if (rc == -ESTALE)
        return skip_record(c, ESTALE, &rec, "its slot was reclaimed or handed on (stale generation)");
    if (rc == -EINVAL)
        return skip_record(c, EBADMSG, &rec, "the handle names no slot (corrupt record)");
    if (rc < 0)
        return rc;
    void *p = cortex_slab_get(s, h);
    if (!p || c->nheld == c->cap_held) {
        (void)cortex_slab_free(s, h);
        return skip_record(c, EBADMSG, &rec, "the received slot is not readable (slab corrupt)");
    }
    prefetch_payload(p, rec.len);
    rc = cortex_ring_release(c->ring, 1);
    c->busy_polls = 0;
    c->held[c->nheld++] = (chan_held){p, h, rec.cls, rec.len};
    *out = p;
    if (len)
        *len = rec.len;
    return rc;
}

/* A take that skips stale and corrupt records at once; -EAGAIN only for "nothing yet". */
static int try_take(chan_wait *w)
{
    for (;;) {
        int rc = cortex_channel_take(w->c, w->tout, w->len);
        if (rc != -ESTALE && rc != -EBADMSG)
            return rc;
        if (rc == -EBADMSG && cortex_ring_peek(w->c->ring, 1, &(const void *){0}) == -EBADMSG)
            return rc; /* the ring itself is corrupt: no record will come */
    }
}

int cortex_channel_take_wait(cortex_channel *c, const void **out, size_t *len, int64_t timeout_ns)
{
    if (!c || c->role != CORTEX_CONSUMER || !out)
        return cortex_channel_take(c, out, len); /* its argument errors */
    chan_wait w = {.c = c, .attempt = try_take, .tout = out, .len = len};
    return wait_for(c, &w, timeout_ns, "cortex_channel_take_wait");
}

int cortex_channel_release(cortex_channel *c, const void *msg)
{
    return give_back(c, CORTEX_CONSUMER, msg, "cortex_channel_release");
}

/* ---- fast copy-in ------------------------------------------------------------- */

#if defined(__x86_64__) && !defined(CORTEX_MODEL)
#include <emmintrin.h>
#include <cpuid.h>

/* 1: the CPU has enhanced rep movsb (ERMS), 0: not; -1: not asked yet. */
static int erms_cached = -1;

static bool has_erms(void)
{
    int v = __atomic_load_n(&erms_cached, __ATOMIC_RELAXED);
    if (v < 0) {
        unsigned a, b, cx, d;
        v = __get_cpuid_count(7, 0, &a, &b, &cx, &d) && (b & (1u << 9)) ? 1 : 0;
        __atomic_store_n(&erms_cached, v, __ATOMIC_RELAXED);
    }
    return v == 1;
}

static void copy_nt(void *dst, const void *src, size_t n)
{
    __m128i *d = dst;
    const unsigned char *s = src;
    size_t k = n / 64;
    for (size_t i = 0; i < k; i++, s += 64, d += 4) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + 16));
        __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(s + 32));
        __m128i f = _mm_loadu_si128((const __m128i *)(const void *)(s + 48));
        _mm_stream_si128(d, a);
        _mm_stream_si128(d + 1, b);
        _mm_stream_si128(d + 2, e);
        _mm_stream_si128(d + 3, f);
    }
    _mm_sfence(); /* the streamed lines are ordered before the ring's release store */
    memcpy(d, s, n % 64);
}

void cortex_channel_copy_in(void *dst, const void *src, size_t n)
{
    if (n >= 65536 && ((uintptr_t)dst & 15u) == 0) {
        copy_nt(dst, src, n);
    } else if (n >= 512 && has_erms()) {
        void *d = dst;
        const void *s = src;
        size_t k = n;
        __asm__ __volatile__("rep movsb" : "+D"(d), "+S"(s), "+c"(k) : : "memory");
    } else {
        memcpy(dst, src, n);
    }
}
#else
void cortex_channel_copy_in(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
#endif

/* ---- inspection --------------------------------------------------------------- */

int cortex_channel_stats_get(cortex_channel *c, cortex_channel_stats *out)
{
    if (!c || !out)
        return cortex__fail(EINVAL, "cortex_channel_stats_get: NULL argument");
    memset(out, 0, sizeof *out);
    out->classes = c->n;
    for (unsigned i = 0; i < c->n; i++) {
        cortex_slab_stats st;
        int rc = cortex_slab_stats_get(c->cls[i].slab, &st);
        if (rc < 0)
            return rc;
        out->slots += st.slots;
        out->free += st.free;
        out->allocated += st.allocated;
        out->in_flight += st.in_flight;
    }
    out->queued = (uint32_t)cortex_ring_len(c->ring);
    out->held = c->nheld;
    return 0;
}

cortex_region *cortex_channel_region(const cortex_channel *c) { return c ? c->region : NULL; }

unsigned cortex_channel_classes(const cortex_channel *c) { return c ? c->n : 0; }

cortex_slab *cortex_channel_class_slab(cortex_channel *c, unsigned i)
{
    return c && i < c->n ? c->cls[i].slab : NULL;
}
