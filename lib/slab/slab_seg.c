/* SPDX-License-Identifier: MIT */
/*
 * lib/slab/slab_seg.c: slabs and pools in segments (CORTEX_KIND_SLAB,
 * CORTEX_KIND_POOL), and the read-only inspector.  The lock-free part is in
 * slab.c.
 */
#define _GNU_SOURCE
#include "internal.h"

#include "atomic.h"
#include "slab/slab_internal.h"
#include "slab/slab_layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- slab segments --------------------------------------------------------- */

struct slab_init_ctx {
    uint32_t slots, slot_size, slot_align;
};

static int slab_region_init(cortex_region *r, void *payload, void *ctx)
{
    struct slab_init_ctx *c = ctx;
    return cortex__slab_format(payload, (size_t)cortex_region_payload_size(r), c->slots, c->slot_size,
                               c->slot_align, cortex__slab_new_id());
}

static int wrap_region(cortex_slab **ret, cortex_region *r, uint32_t slot_size, uint32_t slot_align)
{
    cortex_slab *s = calloc(1, sizeof *s);
    if (!s) {
        cortex_region_close(r);
        return cortex__fail(ENOMEM, "out of memory for a slab view");
    }
    int rc = cortex__slab_view_init(s, cortex_region_payload(r), (size_t)cortex_region_payload_size(r), slot_size,
                                    slot_align);
    if (rc < 0) {
        cortex_error saved = *cortex_last_error();
        free(s);
        cortex_region_close(r);
        *cortex__error_slot() = saved;
        return rc;
    }
    s->region = r;
    *ret = s;
    return 0;
}

int cortex_slab_create(cortex_slab **ret, cortex_key key, uint32_t slots, uint32_t slot_size, uint32_t slot_align,
                       const char *type_name, const cortex_opts *opts)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_slab_create: ret is NULL");
    if (slot_align == 0)
        slot_align = 1;
    size_t need = cortex_slab_required_size(slots, slot_size, slot_align);
    if (need == 0)
        return cortex__fail(EINVAL,
                            "slab of %u slots of %u bytes aligned to %u is out of range (1-%u slots, 1 byte-1 GiB, "
                            "power-of-two alignment <= %u)",
                            slots, slot_size, slot_align, CORTEX_SLAB_MAX_SLOTS, CORTEX_MAX_ALIGN);
    cortex_layout l = {
        .kind = CORTEX_KIND_SLAB,
        .payload_size = need,
        .payload_align = (uint32_t)cortex_slab_required_align(slot_size, slot_align) < CORTEX_CACHELINE
                             ? CORTEX_CACHELINE
                             : (uint32_t)cortex_slab_required_align(slot_size, slot_align),
        .elem_size = slot_size,
        .elem_align = slot_align,
        .type_name = cortex__type_tag(opts, type_name),
    };
    struct slab_init_ctx ctx = {slots, slot_size, slot_align};
    cortex_region *r = NULL;
    int rc = cortex_region_create(&r, key, &l, opts, slab_region_init, &ctx);
    if (rc < 0)
        return rc;
    return wrap_region(ret, r, slot_size, slot_align);
}

int cortex_slab_attach(cortex_slab **ret, cortex_key key, uint32_t slot_size, uint32_t slot_align,
                       const char *type_name, const cortex_opts *opts)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_slab_attach: ret is NULL");
    cortex_layout l = {
        .kind = CORTEX_KIND_SLAB,
        .elem_size = slot_size,
        .elem_align = slot_align,
        .type_name = cortex__type_tag(opts, type_name),
    };
    cortex_region *r = NULL;
    int rc = cortex_region_attach(&r, key, &l, opts);
    if (rc < 0)
        return rc;
    return wrap_region(ret, r, slot_size, slot_align);
}

int cortex_slab_close(cortex_slab *s)
{
    if (!s)
        return 0;
    cortex_region *r = s->region;
    (void)cortex__slab_mag_close(s); /* a failure is recorded; the slots stay for reclaim */
    free(s);
    return r ? cortex_region_close(r) : 0;
}

cortex_region *cortex_slab_region(const cortex_slab *s) { return s ? s->region : NULL; }

/* Frees a slab or pool @p view and leaves its segment @p r; the raw form (no segment) is refused and kept. */
static int leak_view(void *view, cortex_region *r, const char *op)
{
    if (!view)
        return cortex__fail(EINVAL, "%s: NULL handle", op);
    if (!r)
        return cortex__fail(EINVAL, "%s: the view is over caller memory; it has no segment to leak", op);
    free(view);
    return cortex_region_leak(r);
}

/* Makes a slab or pool @p view the owner of its segment @p r. */
static int own_view(const void *view, cortex_region *r, const char *op)
{
    if (!view)
        return cortex__fail(EINVAL, "%s: NULL handle", op);
    if (!r)
        return cortex__fail(EINVAL, "%s: the view is over caller memory; it has no segment to own", op);
    return cortex_region_own(r);
}

int cortex_slab_leak(cortex_slab *s) { return leak_view(s, s ? s->region : NULL, "cortex_slab_leak"); }

int cortex_slab_own(cortex_slab *s) { return own_view(s, s ? s->region : NULL, "cortex_slab_own"); }

/* ---- pools ------------------------------------------------------------------- */

#define POOL_MAGIC UINT64_C(0x31304c4f4f505843) /* "CXPOOL01" */

struct pool_class_rec {
    uint32_t size;
    uint32_t slots;
    uint64_t offset; /* of the class's slab, from the pool's start */
    uint64_t len;
};

struct pool_hdr {
    uint64_t magic;
    uint32_t version;
    uint32_t nclasses;
    uint64_t total;
    struct pool_class_rec cls[CORTEX_POOL_MAX_CLASSES];
    uint32_t reserved;
    uint32_t check; /* FNV-1a 32 of the bytes before it */
};
_Static_assert(sizeof(struct pool_hdr) == 24 + 24 * CORTEX_POOL_MAX_CLASSES + 8, "pool header size");

#define NO_CLASS 0xffu

struct cortex_pool {
    unsigned n;
    uint8_t class_of_tag[256]; /* handle tag -> class, NO_CLASS for none */
    uint32_t size[CORTEX_POOL_MAX_CLASSES];
    cortex_slab cls[CORTEX_POOL_MAX_CLASSES];
    cortex_region *region;
};

static uint32_t class_align(uint32_t size) { return size >= CORTEX_CACHELINE ? CORTEX_CACHELINE : 8u; }

/* Fills a header for @p classes; 0 or -EINVAL. */
static int pool_plan(const cortex_pool_class *classes, unsigned n, struct pool_hdr *h)
{
    if (!classes || n == 0 || n > CORTEX_POOL_MAX_CLASSES)
        return cortex__fail(EINVAL, "a pool needs 1 to %u classes, got %u", CORTEX_POOL_MAX_CLASSES, n);
    memset(h, 0, sizeof *h);
    h->magic = POOL_MAGIC;
    h->version = 1;
    h->nclasses = n;
    uint64_t off = cortex__align_up(sizeof *h, CORTEX_CACHELINE);
    for (unsigned i = 0; i < n; i++) {
        if (i && classes[i].size <= classes[i - 1].size)
            return cortex__fail(EINVAL, "pool class %u (%u bytes) is not larger than class %u (%u bytes)", i,
                                classes[i].size, i - 1, classes[i - 1].size);
        size_t len = cortex_slab_required_size(classes[i].slots, classes[i].size, class_align(classes[i].size));
        if (len == 0)
            return cortex__fail(EINVAL, "pool class %u: %u slots of %u bytes is out of range", i, classes[i].slots,
                                classes[i].size);
        h->cls[i].size = classes[i].size;
        h->cls[i].slots = classes[i].slots;
        h->cls[i].offset = off;
        h->cls[i].len = len;
        off = cortex__align_up(off + len, CORTEX_CACHELINE);
    }
    h->total = off;
    h->check = cortex__fnv1a32(h, offsetof(struct pool_hdr, check));
    return 0;
}

size_t cortex_pool_required_size(const cortex_pool_class *classes, unsigned n)
{
    struct pool_hdr h;
    int rc = pool_plan(classes, n, &h);
    return rc < 0 ? 0 : (size_t)h.total;
}

/* Validates a pool header copy against len bytes; 0 or -EBADMSG. */
static int pool_check(const struct pool_hdr *h, uint64_t len)
{
    if (len < sizeof *h)
        return cortex__fail(EBADMSG, "pool: %llu bytes is smaller than a pool header", (unsigned long long)len);
    if (h->magic != POOL_MAGIC || h->version != 1)
        return cortex__fail(EBADMSG, "pool: no pool here (magic 0x%016llx, version %u)",
                            (unsigned long long)h->magic, h->version);
    if (h->check != cortex__fnv1a32(h, offsetof(struct pool_hdr, check)))
        return cortex__fail(EBADMSG, "pool: header checksum does not match its contents");
    if (h->nclasses == 0 || h->nclasses > CORTEX_POOL_MAX_CLASSES)
        return cortex__fail(EBADMSG, "pool: %u classes", h->nclasses);
    cortex_pool_class c[CORTEX_POOL_MAX_CLASSES];
    for (unsigned i = 0; i < h->nclasses; i++) {
        c[i].size = h->cls[i].size;
        c[i].slots = h->cls[i].slots;
    }
    struct pool_hdr want;
    if (pool_plan(c, h->nclasses, &want) < 0 || memcmp(&want, h, sizeof want) != 0)
        return cortex__fail(EBADMSG, "pool: class table is inconsistent");
    if (want.total > len)
        return cortex__fail(EBADMSG, "pool: needs %llu bytes, %llu are there", (unsigned long long)want.total,
                            (unsigned long long)len);
    return 0;
}

static int pool_format(void *mem, size_t len, const cortex_pool_class *classes, unsigned n)
{
    struct pool_hdr h;
    int rc = pool_plan(classes, n, &h);
    if (rc < 0)
        return rc;
    if (!mem || len < h.total || ((uintptr_t)mem & (CORTEX_CACHELINE - 1)) != 0)
        return cortex__fail(EINVAL, "pool needs %llu bytes aligned to %u", (unsigned long long)h.total,
                            CORTEX_CACHELINE);
    /* Each class its own random id, with tags (low bytes) that differ: a handle's tag names its class. */
    bool used[256] = {false};
    for (unsigned i = 0; i < n; i++) {
        uint32_t id = cortex__slab_new_id();
        while (used[CX_ID_TAG(id)])
            id = (id & ~0xffu) | CX_ID_TAG(id + 1u);
        used[CX_ID_TAG(id)] = true;
        if ((rc = cortex__slab_format((uint8_t *)mem + h.cls[i].offset, (size_t)h.cls[i].len, h.cls[i].slots,
                                      h.cls[i].size, class_align(h.cls[i].size), id)) < 0)
            return rc;
    }
    memcpy(mem, &h, sizeof h);
    return 0;
}

static int pool_open(cortex_pool **ret, void *mem, size_t len, cortex_region *r)
{
    struct pool_hdr h;
    if (!mem || len < sizeof h)
        return cortex__fail(EBADMSG, "pool: %zu bytes is smaller than a pool header", len);
    memcpy(&h, mem, sizeof h);
    int rc = pool_check(&h, len);
    if (rc < 0)
        return rc;
    cortex_pool *p = calloc(1, sizeof *p);
    if (!p)
        return cortex__fail(ENOMEM, "out of memory for a pool view");
    p->n = h.nclasses;
    memset(p->class_of_tag, NO_CLASS, sizeof p->class_of_tag);
    for (unsigned i = 0; i < p->n; i++) {
        p->size[i] = h.cls[i].size;
        if ((rc = cortex__slab_view_init(&p->cls[i], (uint8_t *)mem + h.cls[i].offset, (size_t)h.cls[i].len,
                                         h.cls[i].size, class_align(h.cls[i].size))) < 0) {
            free(p);
            return rc;
        }
        uint32_t tag = p->cls[i].tag;
        if (p->class_of_tag[tag] != NO_CLASS) {
            unsigned other = p->class_of_tag[tag];
            free(p);
            return cortex__fail(EBADMSG, "pool: classes %u and %u share the handle tag 0x%02x (a pool never "
                                         "lays them out so)", other, i, tag);
        }
        p->class_of_tag[tag] = (uint8_t)i;
    }
    p->region = r;
    *ret = p;
    return 0;
}

int cortex_pool_init(cortex_pool **ret, void *mem, size_t len, const cortex_pool_class *classes, unsigned n)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_pool_init: ret is NULL");
    int rc = pool_format(mem, len, classes, n);
    return rc < 0 ? rc : pool_open(ret, mem, len, NULL);
}

struct pool_init_ctx {
    const cortex_pool_class *classes;
    unsigned n;
};

static int pool_region_init(cortex_region *r, void *payload, void *ctx)
{
    struct pool_init_ctx *c = ctx;
    return pool_format(payload, (size_t)cortex_region_payload_size(r), c->classes, c->n);
}

static int pool_wrap(cortex_pool **ret, cortex_region *r)
{
    int rc = pool_open(ret, cortex_region_payload(r), (size_t)cortex_region_payload_size(r), r);
    if (rc < 0) {
        cortex_error saved = *cortex_last_error();
        cortex_region_close(r);
        *cortex__error_slot() = saved;
    }
    return rc;
}

/* Can every class hold at least one element of @p elem_size bytes aligned to @p elem_align? */
static int pool_fits_elem(const cortex_pool_class *classes, unsigned n, size_t elem_size, size_t elem_align)
{
    for (unsigned i = 0; classes && i < n; i++) {
        if (classes[i].size < elem_size)
            return cortex__fail(EINVAL, "pool class %u (%u bytes) cannot hold one %zu-byte element", i,
                                classes[i].size, elem_size);
        if (class_align(classes[i].size) < elem_align)
            return cortex__fail(EINVAL, "pool class %u (%u bytes) is %u-byte aligned, the element needs %zu", i,
                                classes[i].size, class_align(classes[i].size), elem_align);
    }
    return 0;
}

int cortex_pool_create_typed(cortex_pool **ret, cortex_key key, const cortex_pool_class *classes, unsigned n,
                             size_t elem_size, size_t elem_align, const char *type_name, const cortex_opts *opts)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_pool_create: ret is NULL");
    if (elem_size > CORTEX_SLAB_MAX_SLOT_SIZE || elem_align > CORTEX_MAX_ALIGN)
        return cortex__fail(EINVAL, "cortex_pool_create: element of %zu bytes aligned to %zu is out of range",
                            elem_size, elem_align);
    int rc = pool_fits_elem(classes, n, elem_size, elem_align);
    if (rc < 0)
        return rc;
    size_t need = cortex_pool_required_size(classes, n);
    if (need == 0)
        return cortex_last_error()->code;
    cortex_layout l = {.kind = CORTEX_KIND_POOL, .payload_size = need, .payload_align = CORTEX_CACHELINE,
                       .elem_size = (uint32_t)elem_size, .elem_align = (uint32_t)elem_align,
                       .type_name = cortex__type_tag(opts, type_name)};
    struct pool_init_ctx ctx = {classes, n};
    cortex_region *r = NULL;
    rc = cortex_region_create(&r, key, &l, opts, pool_region_init, &ctx);
    return rc < 0 ? rc : pool_wrap(ret, r);
}

int cortex_pool_create(cortex_pool **ret, cortex_key key, const cortex_pool_class *classes, unsigned n,
                       const cortex_opts *opts)
{
    return cortex_pool_create_typed(ret, key, classes, n, 0, 0, NULL, opts);
}

int cortex_pool_attach_typed(cortex_pool **ret, cortex_key key, size_t elem_size, size_t elem_align,
                             const char *type_name, const cortex_opts *opts)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_pool_attach: ret is NULL");
    if (elem_size > CORTEX_SLAB_MAX_SLOT_SIZE || elem_align > CORTEX_MAX_ALIGN)
        return cortex__fail(EINVAL, "cortex_pool_attach: element of %zu bytes aligned to %zu is out of range",
                            elem_size, elem_align);
    cortex_layout l = {.kind = CORTEX_KIND_POOL, .elem_size = (uint32_t)elem_size, .elem_align = (uint32_t)elem_align,
                       .type_name = cortex__type_tag(opts, type_name)};
    cortex_region *r = NULL;
    int rc = cortex_region_attach(&r, key, &l, opts);
    return rc < 0 ? rc : pool_wrap(ret, r);
}

int cortex_pool_attach(cortex_pool **ret, cortex_key key, const cortex_opts *opts)
{
    return cortex_pool_attach_typed(ret, key, 0, 0, NULL, opts);
}

int cortex_pool_init_typed(cortex_pool **ret, void *mem, size_t len, const cortex_pool_class *classes, unsigned n,
                           size_t elem_size, size_t elem_align)
{
    int rc = pool_fits_elem(classes, n, elem_size, elem_align);
    return rc < 0 ? rc : cortex_pool_init(ret, mem, len, classes, n);
}

int cortex_pool_close(cortex_pool *p)
{
    if (!p)
        return 0;
    cortex_region *r = p->region;
    for (unsigned i = 0; i < p->n; i++)
        (void)cortex__slab_mag_close(&p->cls[i]);
    free(p);
    return r ? cortex_region_close(r) : 0;
}

/*
 * A pool handle is its class slab's handle: the tag names the class.  The
 * class of @p h, or -1 (recorded as @p op's error: -ESTALE) if no class of
 * this pool has its tag.
 */
static int pool_class(const cortex_pool *p, cortex_handle h, const char *op)
{
    unsigned c = p->class_of_tag[cortex_handle_tag(h)];
    if (c != NO_CLASS)
        return (int)c;
    if (h == CORTEX_HANDLE_NULL)
        (void)cortex__fail(EINVAL, "%s: NULL handle", op);
    else
        (void)cortex__fail(ESTALE, "%s: handle 0x%016llx belongs to none of the pool's %u classes (its tag is 0x%02x)",
                           op, (unsigned long long)h, p->n, cortex_handle_tag(h));
    return -1;
}

int cortex_pool_alloc(cortex_pool *p, size_t size, cortex_handle *out)
{
    if (!p || !out)
        return cortex__fail(EINVAL, "cortex_pool_alloc: NULL argument");
    unsigned c = 0;
    while (c < p->n && p->size[c] < size)
        c++;
    if (c == p->n)
        return cortex__fail(ERANGE, "cortex_pool_alloc: %zu bytes is more than the largest class (%u bytes)", size,
                            p->size[p->n - 1]);
    unsigned first = c;
    for (; c < p->n; c++) {
        cortex_handle h;
        int rc = cortex_slab_alloc(&p->cls[c], &h);
        if (rc == 0) {
            *out = h;
            return 0;
        }
        if (rc != -ENOSPC)
            return rc;
    }
    return cortex__fail(ENOSPC, "pool exhausted: no free slot of %zu bytes or more (classes %u-%u are full)", size,
                        first, p->n - 1);
}

void *cortex_pool_get(cortex_pool *p, cortex_handle h, size_t *cap)
{
    if (!p) {
        (void)cortex__fail(EINVAL, "cortex_pool_get: NULL pool");
        return NULL;
    }
    int c = pool_class(p, h, "cortex_pool_get");
    if (c < 0)
        return NULL;
    void *ptr = cortex_slab_get(&p->cls[c], h);
    if (ptr && cap)
        *cap = p->size[c];
    return ptr;
}

int cortex_pool_free(cortex_pool *p, cortex_handle h)
{
    if (!p)
        return cortex__fail(EINVAL, "cortex_pool_free: NULL pool");
    int c = pool_class(p, h, "cortex_pool_free");
    return c < 0 ? cortex_last_error()->code : cortex_slab_free(&p->cls[c], h);
}

int cortex_pool_send(cortex_pool *p, cortex_handle h)
{
    if (!p)
        return cortex__fail(EINVAL, "cortex_pool_send: NULL pool");
    int c = pool_class(p, h, "cortex_pool_send");
    return c < 0 ? cortex_last_error()->code : cortex_slab_send(&p->cls[c], h);
}

int cortex_pool_receive(cortex_pool *p, cortex_handle *h)
{
    if (!p || !h)
        return cortex__fail(EINVAL, "cortex_pool_receive: NULL %s", p ? "handle pointer" : "pool");
    int c = pool_class(p, *h, "cortex_pool_receive");
    return c < 0 ? cortex_last_error()->code : cortex_slab_receive(&p->cls[c], h);
}

int cortex_pool_magazine(cortex_pool *p, uint32_t batch)
{
    if (!p)
        return cortex__fail(EINVAL, "cortex_pool_magazine: NULL pool");
    int first = 0;
    for (unsigned c = 0; c < p->n; c++) {
        int rc = cortex_slab_magazine(&p->cls[c], batch);
        if (rc < 0 && first == 0)
            first = rc;
    }
    return first;
}

int cortex_pool_reclaim(cortex_pool *p, unsigned flags)
{
    if (!p)
        return cortex__fail(EINVAL, "cortex_pool_reclaim: NULL pool");
    int total = 0;
    for (unsigned c = 0; c < p->n; c++) {
        int rc = cortex_slab_reclaim(&p->cls[c], flags);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}

cortex_region *cortex_pool_region(const cortex_pool *p) { return p ? p->region : NULL; }

int cortex_pool_leak(cortex_pool *p) { return leak_view(p, p ? p->region : NULL, "cortex_pool_leak"); }

int cortex_pool_own(cortex_pool *p) { return own_view(p, p ? p->region : NULL, "cortex_pool_own"); }

unsigned cortex_pool_classes(const cortex_pool *p) { return p ? p->n : 0; }

cortex_slab *cortex_pool_class_slab(cortex_pool *p, unsigned i) { return p && i < p->n ? &p->cls[i] : NULL; }

/* ---- inspection (read-only) --------------------------------------------------- */

/* Adds one slab at mem (len bytes) to *out; never writes shared memory. */
int cortex__slab_inspect_mem(const uint8_t *mem, uint64_t len, cortex_slab_info *out)
{
    struct cortex__slab_hdr h;
    if (len < sizeof(struct cortex__slab_shared))
        return cortex__fail(EBADMSG, "inspect: %llu bytes is smaller than a slab header", (unsigned long long)len);
    memcpy(&h, mem, sizeof h);
    int rc = cortex__slab_check_hdr(&h, len, "inspect");
    if (rc < 0)
        return rc;
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)(uintptr_t)mem;
    struct cortex__slot_meta *meta = (struct cortex__slot_meta *)(uintptr_t)(mem + h.meta_off);
    int alive[CORTEX__SLAB_PROC_ENTRIES];
    for (uint32_t e = 0; e < CORTEX__SLAB_PROC_ENTRIES; e++) {
        uint64_t ent = e ? cortex__ld64(&sh->procs[e], CX_ACQUIRE) : 0;
        alive[e] = ent ? cortex__slab_proc_alive(ent) : 0;
        out->procs += ent != 0;
    }
    out->slots += h.slots;
    if (h.slot_size > out->slot_size)
        out->slot_size = h.slot_size;
    for (uint32_t i = 0; i < h.slots; i++) {
        uint64_t w = cortex__ld64(&meta[i].word, CX_ACQUIRE);
        uint32_t st = CX_W_STATE(w), p = CX_W_PROC(w);
        bool dead = p >= CORTEX__SLAB_PROC_ENTRIES || !alive[p];
        if (st == CORTEX__SLOT_FREE)
            out->free++;
        else if (st == CORTEX__SLOT_FREEING) {
            out->free++;
            /* not the top: a free that died before linking it */
            if (dead && CX_HEAD_TOP(cortex__ld64(&sh->head, CX_ACQUIRE)) != i + 1)
                out->dead_held++;
        } else {
            if (st == CORTEX__SLOT_ALLOC)
                out->allocated++;
            else
                out->in_flight++;
            out->dead_held += dead;
        }
    }
    uint64_t hw = cortex__ld64(&sh->high_water, CX_RELAXED);
    out->high_water += hw > h.slots ? h.slots : (uint32_t)hw;
    out->failed += cortex__ld64(&sh->failed, CX_RELAXED);
    /* Walk the free list, at most one step per slot. */
    uint64_t head = cortex__ld64(&sh->head, CX_ACQUIRE);
    uint32_t cur = CX_HEAD_TOP(head);
    if (cur > h.slots)
        out->list_ok = false;
    else if (CX_HEAD_CLAIM(head) && cur)
        cur = (uint32_t)cortex__ld64(&meta[cur - 1].next, CX_ACQUIRE);
    for (uint64_t steps = 0; out->list_ok && cur != 0; steps++) {
        if (cur > h.slots || steps >= h.slots) {
            out->list_ok = false;
            break;
        }
        cur = (uint32_t)cortex__ld64(&meta[cur - 1].next, CX_ACQUIRE);
    }
    return 0;
}

int cortex_slab_inspect(const cortex_region *r, cortex_slab_info *out)
{
    if (!r || !out)
        return cortex__fail(EINVAL, "cortex_slab_inspect: NULL argument");
    memset(out, 0, sizeof *out);
    out->list_ok = true;
    const cortex_seg_header *live = cortex_region_header(r);
    const uint8_t *payload = cortex_region_payload(r);
    uint64_t len = cortex_region_payload_size(r);
    if (!live || !payload)
        return cortex__fail(EINVAL, "cortex_slab_inspect: region has no mapping");
    uint32_t kind;
    memcpy(&kind, (const uint8_t *)live + offsetof(cortex_seg_header, kind), sizeof kind);
    out->kind = kind;
    if (kind == CORTEX_KIND_SLAB) {
        out->classes = 1;
        return cortex__slab_inspect_mem(payload, len, out);
    }
    if (kind != CORTEX_KIND_POOL)
        return cortex__fail(EPROTO, "inspect: segment holds a %s, not a slab or pool", cortex_kind_name(kind));
    struct pool_hdr h;
    if (len < sizeof h)
        return cortex__fail(EBADMSG, "inspect: %llu bytes is smaller than a pool header", (unsigned long long)len);
    memcpy(&h, payload, sizeof h);
    int rc = pool_check(&h, len);
    if (rc < 0)
        return rc;
    out->classes = h.nclasses;
    for (unsigned i = 0; i < h.nclasses; i++)
        if ((rc = cortex__slab_inspect_mem(payload + h.cls[i].offset, h.cls[i].len, out)) < 0)
            return rc;
    return 0;
}
