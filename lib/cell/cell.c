/* SPDX-License-Identifier: MIT */
/*
 * lib/cell/cell.c: the typed cell's core.  A cell segment's payload:
 *
 *   [0, 48)             cell header: immutable layout fields, seq, flag,
 *                       and the waiters word (see lib/cell/seqlock.h)
 *   [value_offset, +n)  the value, 8-aligned, padded to whole words
 *   [sync_offset, +m)   the lock backend's bytes, on their own cache line
 *
 * The sequence shares a cache line with the start of the value, so a reader
 * of a small value touches one line.  With the futex backend the sequence
 * word is also the lock word (lib/cell/cellword.h: holder pid in its high
 * bits) and the lock bytes keep only the owner record and the creator's pid
 * namespace; other backends lock their own bytes, on another line.  The
 * one-writer backend has no lock: its bytes are the writer role record
 * (lib/sync/onewriter.h) and the holder writes as a single-writer seqlock
 * (cortex__cell_write_one).
 */
#include "internal.h"
#include "atomic.h"
#include "cell/seqlock.h"
#include "cell/cell_wait.h"
#include "os/os.h"
#include "sync/ident.h"
#include "sync/onewriter.h"
#if CORTEX_HAVE_FUTEX
#include "cell/cellword.h"
#include "sync/futex_lock.h"
#endif

#include <errno.h>
#include <neocortex/cell.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OW_NONE UINT64_MAX
#define CELL_MAGIC 0x4c4c4543u /* "CELL" */
#define CELL_VERSION 3u /* 2: the futex lock is the sequence word's high bits (cellword.h); 3: the waiters word's LIGHT bit (seqlock.h) */

typedef struct cell_head {
    uint32_t magic;        /* CELL_MAGIC */
    uint32_t version;      /* CELL_VERSION */
    uint32_t lock_id;      /* same as the segment header's */
    uint32_t sync_offset;  /* lock bytes, from the payload start */
    uint32_t sync_size;
    uint32_t value_offset; /* value, from the payload start */
    uint32_t value_size;
    uint32_t value_align;
    cortex__a64 seq;          /* counter (odd while a write is in progress) | futex holder pid << 40 */
    cortex__a32 inconsistent; /* 1: a writer died mid-write */
    cortex__a32 waiters;      /* futex word: bit 0 a waiter sleeps, the rest a wake generation (seqlock.h) */
} cell_head;

_Static_assert(sizeof(cell_head) == 48, "cell header is 48 bytes in every ABI");
_Static_assert(offsetof(cell_head, seq) == 32, "seq at offset 32");
_Static_assert(offsetof(cell_head, inconsistent) == 40, "flag at offset 40");
_Static_assert(offsetof(cell_head, waiters) == 44, "waiters flag at offset 44");

struct cortex_cell {
    cortex_cell_fast_ fast; /* first: read by neocortex/cell.h's inline read and write */
    cortex_region *region;
    cell_head *head;      /* fast.head, typed */
    void *sync;
    void *local;
    const cortex_sync_ops *ops;
    bool futex;           /* ops is the built-in futex: call it inline */
    bool one_writer;      /* ops is cortex_sync_one_writer: writes need the role, no lock */
    /* fast.ow_light: one-writer, the wake path decided for fast.ow_key's process;
     * fast.ow_key: one-writer, the identity (lib/sync/ident.h) this handle holds the role as,
     * OW_NONE until then (no identity has pid 0xffffffff, and none is 0) */
    /* fast.fx_light: (pid << 1) | light, the wake path decided for pid (0: not yet; a forked child decides
     * again); light: it registered for membarrier and marked the cell (seqlock.h).  Atomic (light_state()):
     * threads share a handle.  fast.fx_record: the futex lock's owner record, NULL for other backends. */
};

static inline cortex__a64 *light_state(cortex_cell *c) { return (cortex__a64 *)(void *)&c->fast.fx_light; }

/* neocortex/cell.h's inline write reads the header at these offsets (cell_head's asserts above). */
_Static_assert(offsetof(struct cortex_cell, fast) == 0, "the fast-path fields come first");
_Static_assert(offsetof(cortex_cell_fast_, fx_light) % 8 == 0 && offsetof(cortex_cell_fast_, ow_key) == 0,
               "the fast path's atomically accessed words are 8-aligned on every ABI");
_Static_assert(CORTEX__CELL_SEQ_BITS == 40, "neocortex/cell.h's inline write masks a 40-bit counter");
_Static_assert(CORTEX__CELL_WAITING == 1u, "neocortex/cell.h's inline write tests bit 0 of the waiters word");

struct layout_calc {
    uint32_t value_offset, sync_offset, sync_size;
    uint64_t payload_size;
    uint32_t payload_align;
};

static void compute_layout(size_t size, size_t align, const cortex_sync_ops *ops, struct layout_calc *l)
{
    uint64_t va = align < 8 ? 8 : align;
    l->value_offset = (uint32_t)cortex__align_up(sizeof(cell_head), va);
    uint64_t vend = l->value_offset + cortex__cell_words_size(size);
    l->sync_offset = (uint32_t)cortex__align_up(vend, CORTEX_CACHELINE);
    l->sync_size = ops->shared_size;
    l->payload_size = (uint64_t)l->sync_offset + l->sync_size;
    l->payload_align = (uint32_t)(va < CORTEX_CACHELINE ? CORTEX_CACHELINE : va);
}

static int check_type(size_t size, size_t align, const char *fn)
{
    if (size == 0 || size > CORTEX_CELL_MAX_SIZE)
        return cortex__fail(EINVAL, "%s: value size %zu is out of range (1 to %u bytes)", fn, size,
                            (unsigned)CORTEX_CELL_MAX_SIZE);
    if (!cortex__is_pow2(align) || align > CORTEX_MAX_ALIGN)
        return cortex__fail(EINVAL, "%s: value alignment %zu is not a power of two <= %u", fn, align,
                            CORTEX_MAX_ALIGN);
    return 0;
}

static int check_ops(const cortex_sync_ops *ops)
{
    int rc = cortex_sync_validate(ops);
    if (rc < 0)
        return rc;
    if (!cortex_sync_available(ops)) {
        void *local = NULL;
        cortex_sync_env env = {CORTEX_KEY_HEAP, 0600, "cell", NULL, 0};
        return ops->init(NULL, &env, &local); /* the stand-in explains what is missing */
    }
    return 0;
}

static void describe_region(cortex_region *r, char *buf, unsigned len)
{
    cortex_key_describe(cortex_region_key(r), buf, len);
}

static cortex_cell *cell_new(cortex_region *r, const cortex_sync_ops *ops, const struct layout_calc *l,
                             uint32_t size)
{
    cortex_cell *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    unsigned char *p = cortex_region_payload(r);
    c->region = r;
    c->head = (cell_head *)(void *)p;
    unsigned char *value = p + l->value_offset;
    c->sync = p + l->sync_offset;
    c->ops = ops;
#if CORTEX_HAVE_FUTEX
    c->futex = ops == &cortex_sync_futex;
#endif
    c->one_writer = ops == &cortex_sync_one_writer;
    c->fast = (cortex_cell_fast_){.ow_key = OW_NONE, .head = p, .value = value, .size = size};
#if CORTEX_HAVE_FUTEX
    if (c->futex) /* the owner record of lib/sync/futex_lock.h, in the cell's lock area */
        c->fast.fx_record = (unsigned char *)&((cortex__futex_lock *)c->sync)->record;
#endif
    return c;
}

/* ---- create / attach ----------------------------------------------------- */

struct create_ctx {
    const void *init;
    size_t size, align;
    const cortex_sync_ops *ops;
    const struct layout_calc *l;
    unsigned perm;
    void *local;
};

static int create_init(cortex_region *r, void *payload, void *vctx)
{
    struct create_ctx *x = vctx;
    cell_head *h = payload;
    unsigned char *p = payload;
    h->magic = CELL_MAGIC;
    h->version = CELL_VERSION;
    h->lock_id = x->ops->id;
    h->sync_offset = x->l->sync_offset;
    h->sync_size = x->l->sync_size;
    h->value_offset = x->l->value_offset;
    h->value_size = (uint32_t)x->size;
    h->value_align = (uint32_t)x->align;
    cortex__st64(&h->seq, 0, CX_RELAXED);
    cortex__st32(&h->inconsistent, 0, CX_RELAXED);
    cortex__st32(&h->waiters, 0, CX_RELAXED);
    cortex__cell_store_value(p + x->l->value_offset, x->init, x->size);
    char what[256];
    describe_region(r, what, sizeof what);
    cortex_sync_env env = {cortex_region_key(r), x->perm, what, NULL, cortex__region_identity(r)};
    int rc = x->ops->init(p + x->l->sync_offset, &env, &x->local);
    if (rc < 0 && x->ops->id >= CORTEX_SYNC_ID_USER_MIN && cortex_last_error()->code != rc)
        rc = cortex__fail(-rc, "%s: lock backend '%s' failed to initialise (%s)", what, x->ops->name,
                          cortex_strerror(rc));
    return rc;
}

static int finish_attach(cortex_cell **ret, cortex_region *r, size_t size, size_t align, const cortex_opts *opts);

int cortex_cell_create(cortex_cell **ret, cortex_key key, const void *init, size_t size, size_t align,
                       const char *type_name, const cortex_opts *opts)
{
    int rc;
    if (!ret)
        return cortex__fail(EINVAL, "cortex_cell_create: ret is NULL");
    *ret = NULL;
    if ((rc = check_type(size, align, "cortex_cell_create")) < 0)
        return rc;
    if (!init)
        return cortex__fail(EINVAL, "cortex_cell_create: no initial value");
    if (opts && opts->mode == CORTEX_ATTACH_ONLY)
        return cortex_cell_attach(ret, key, size, align, type_name, opts);
    if (opts && opts->mode == CORTEX_OPEN_OR_CREATE && !opts->lock &&
        (key.kind == CORTEX_KEYKIND_SYSV || key.kind == CORTEX_KEYKIND_NAME || key.kind == CORTEX_KEYKIND_FILE)) {
        /* No lock named: an existing cell keeps its own backend, a new one gets the default. */
        cortex_opts excl = *opts;
        excl.mode = CORTEX_CREATE_EXCL;
        for (int tries = 0; tries < 8; tries++) {
            rc = cortex_cell_attach(ret, key, size, align, type_name, opts);
            if (rc != -ENOENT)
                return rc;
            rc = cortex_cell_create(ret, key, init, size, align, type_name, &excl);
            if (rc != -EEXIST)
                return rc;
        }
        return rc; /* someone kept creating and removing it under us */
    }
    const cortex_sync_ops *ops = opts && opts->lock ? opts->lock : cortex_sync_default();
    if ((rc = check_ops(ops)) < 0)
        return rc;

    struct layout_calc l;
    compute_layout(size, align, ops, &l);
    const char *tag = cortex__type_tag(opts, type_name);
    cortex_layout layout = {
        .kind = CORTEX_KIND_CELL,
        .payload_size = l.payload_size,
        .payload_align = l.payload_align,
        .elem_size = (uint32_t)size,
        .elem_align = (uint32_t)align,
        .type_name = tag,
        .lock_id = ops->id,
    };
    struct create_ctx x = {init, size, align, ops, &l, cortex__effective_perm(opts), NULL};
    cortex_region *r = NULL;
    rc = cortex_region_create(&r, key, &layout, opts, create_init, &x);
    if (rc < 0) {
        /* A failed create removed the segment; remove the lock's object if init made one. */
        if (x.local && (ops->destroy || ops->detach)) {
            cortex_error saved = *cortex_last_error();
            if (ops->destroy)
                ops->destroy(NULL, x.local);
            if (ops->detach)
                ops->detach(NULL, x.local);
            *cortex__error_slot() = saved;
        }
        return rc;
    }
    if (!cortex_region_created(r)) /* open-or-create found it */
        return finish_attach(ret, r, size, align, opts);

    cortex_cell *c = cell_new(r, ops, &l, (uint32_t)size);
    if (!c) {
        if (ops->destroy)
            ops->destroy(NULL, x.local);
        if (ops->detach)
            ops->detach(NULL, x.local);
        cortex_region_close(r);
        return cortex__fail(ENOMEM, "out of memory for a cell handle");
    }
    c->local = x.local;
    *ret = c;
    return 0;
}

/* Validates the cell header against what this process expects; @r is attached. */
static int finish_attach(cortex_cell **ret, cortex_region *r, size_t size, size_t align, const cortex_opts *opts)
{
    char what[256];
    int rc;
    describe_region(r, what, sizeof what);
    const cortex_seg_header *sh = cortex_region_header(r);
    uint32_t lock_id = sh->lock_id; /* immutable since READY, validated by attach */
    const cortex_sync_ops *ops = opts && opts->lock ? opts->lock : cortex_sync_builtin(lock_id);
    if (!ops) {
        rc = cortex__fail(ENOTSUP,
                          "%s uses a user-supplied lock backend (id %u); pass its ops in cortex_opts.lock to attach",
                          what, lock_id);
        goto fail;
    }
    if (ops->id != lock_id) {
        rc = cortex__fail(EPROTO, "%s uses lock backend %u, the caller asked for '%s' (%u)", what, lock_id,
                          ops->name ? ops->name : "?", ops->id);
        goto fail;
    }
    if ((rc = check_ops(ops)) < 0) {
        cortex__append(" (needed to attach %s)", what);
        goto fail;
    }
    struct layout_calc l;
    compute_layout(size, align, ops, &l);
    uint64_t psize = cortex_region_payload_size(r);
    if (psize < sizeof(cell_head)) {
        rc = cortex__fail(EBADMSG, "%s: %llu-byte payload is too small for a cell", what, (unsigned long long)psize);
        goto fail;
    }
    cell_head *live = cortex_region_payload(r);
    /* The lock word, the sequence and the value need their alignment; a forged header could offer less. */
    if (((uintptr_t)live & (l.payload_align - 1)) != 0) {
        rc = cortex__fail(EBADMSG, "%s: cell payload at offset %llu is not aligned to %u (its lock and sequence words "
                                   "need it)",
                          what, (unsigned long long)sh->payload_offset, l.payload_align);
        goto fail;
    }
    cell_head h;
    memcpy(&h, live, offsetof(cell_head, seq)); /* the immutable part */
    if (h.magic != CELL_MAGIC || h.version != CELL_VERSION) {
        rc = cortex__fail(EBADMSG, "%s: cell header magic 0x%08x version %u, expected 0x%08x version %u", what,
                          h.magic, h.version, CELL_MAGIC, CELL_VERSION);
        goto fail;
    }
    if (h.value_size != size || h.value_align != align) {
        rc = cortex__fail(EPROTO, "%s holds a %u-byte value aligned to %u, expected %zu bytes aligned to %zu", what,
                          h.value_size, h.value_align, size, align);
        goto fail;
    }
    if (h.lock_id != lock_id || h.value_offset != l.value_offset || h.sync_offset != l.sync_offset ||
        h.sync_size != l.sync_size || psize < l.payload_size) {
        rc = cortex__fail(EBADMSG,
                          "%s: cell layout (value at %u, lock '%s' %u bytes at %u, payload %llu) does not match "
                          "what this build computes (value at %u, lock %u bytes at %u, payload %llu)",
                          what, h.value_offset, ops->name, h.sync_size, h.sync_offset, (unsigned long long)psize,
                          l.value_offset, l.sync_size, l.sync_offset, (unsigned long long)l.payload_size);
        goto fail;
    }
    cortex_cell *c = cell_new(r, ops, &l, (uint32_t)size);
    if (!c) {
        rc = cortex__fail(ENOMEM, "out of memory for a cell handle");
        goto fail;
    }
    cortex_sync_env env = {cortex_region_key(r), cortex__effective_perm(opts), what, opts, cortex__region_identity(r)};
    rc = ops->attach(c->sync, &env, &c->local);
    if (rc < 0) {
        if (ops->id >= CORTEX_SYNC_ID_USER_MIN && cortex_last_error()->code != rc)
            rc = cortex__fail(-rc, "%s: lock backend '%s' failed to attach (%s)", what, ops->name,
                              cortex_strerror(rc));
        free(c);
        goto fail;
    }
    *ret = c;
    return 0;
fail: {
    cortex_error saved = *cortex_last_error();
    cortex_region_close(r);
    *cortex__error_slot() = saved;
    return rc;
}
}

int cortex_cell_attach(cortex_cell **ret, cortex_key key, size_t size, size_t align, const char *type_name,
                       const cortex_opts *opts)
{
    int rc;
    if (!ret)
        return cortex__fail(EINVAL, "cortex_cell_attach: ret is NULL");
    *ret = NULL;
    if ((rc = check_type(size, align, "cortex_cell_attach")) < 0)
        return rc;
    const char *tag = cortex__type_tag(opts, type_name);
    cortex_layout expect = {
        .kind = CORTEX_KIND_CELL,
        .payload_size = 0,
        .payload_align = 0,
        .elem_size = (uint32_t)size,
        .elem_align = (uint32_t)align,
        .type_name = tag,
        .lock_id = opts && opts->lock ? opts->lock->id : 0,
    };
    cortex_region *r = NULL;
    if ((rc = cortex_region_attach(&r, key, &expect, opts)) < 0)
        return rc;
    return finish_attach(ret, r, size, align, opts);
}

/* ---- the lock ------------------------------------------------------------ */

#if CORTEX_HAVE_FUTEX
static __attribute__((noinline)) int pid_too_large(uint32_t pid)
{
    return cortex__fail(EOVERFLOW, "cell: pid %u does not fit the futex cell's lock word (pids below %u); "
                        "nothing was changed: use the semaphore backend on this system",
                        pid, CORTEX__CELLWORD_PID_MAX + 1u);
}

static inline cortex__a64 *cell_record(cortex_cell *c) { return &((cortex__futex_lock *)c->sync)->record; }
#endif

/* The lock holder's pid (1) or 0 (free), -ENOTSUP when the backend cannot tell. */
static int cell_holder(cortex_cell *c, int32_t *pid)
{
#if CORTEX_HAVE_FUTEX
    if (c->futex) {
        *pid = (int32_t)cortex__cellword_holder(cortex__ld64(&c->head->seq, CX_RELAXED));
        return *pid != 0;
    }
#endif
    return c->ops->holder ? c->ops->holder(c->sync, pid) : -ENOTSUP;
}

/* -ETIMEDOUT from a lock wait, naming the holder when the backend can tell. */
static __attribute__((noinline)) int lock_timeout(cortex_cell *c, int64_t timeout_ns, const char *op)
{
    char what[256];
    describe_region(c->region, what, sizeof what);
    int32_t pid = 0;
    int held = cell_holder(c, &pid);
    if (held == 1 && pid > 0)
        return cortex__fail(ETIMEDOUT, "%s: %s: the '%s' lock was not free within %lld ns (held by pid %d); nothing "
                            "was changed",
                            what, op, c->ops->name, (long long)timeout_ns, (int)pid);
    return cortex__fail(ETIMEDOUT, "%s: %s: the '%s' lock was not free within %lld ns; nothing was changed", what, op,
                        c->ops->name, (long long)timeout_ns);
}

/*
 * A user backend that cannot wait with a deadline answers -ENOTSUP to a
 * positive timeout: try it (timeout 0) with sleeps of 10 us doubling up to
 * CORTEX_SYNC_CHECK_INTERVAL_NS until the deadline.
 */
static int lock_by_polling(cortex_cell *c, int64_t timeout_ns)
{
    int64_t deadline = cortex__deadline(timeout_ns);
    int64_t nap = 10000;
    for (;;) {
        int rc = c->ops->lock(c->sync, c->local, 0);
        if (rc != -ETIMEDOUT)
            return rc;
        int64_t left = deadline - cortex__now_ns();
        if (left <= 0)
            return -ETIMEDOUT;
        cortex__sleep_ns(nap < left ? nap : left);
        if (nap < CORTEX_SYNC_CHECK_INTERVAL_NS)
            nap *= 2;
    }
}

/* The generic backend path and error reports, out of line so the futex fast path stays lean. */
static __attribute__((noinline)) int ops_lock(cortex_cell *c, int64_t timeout_ns, const char *op)
{
    int rc = c->ops->lock(c->sync, c->local, timeout_ns);
    if (rc == -ENOTSUP && timeout_ns > 0 && c->ops->id >= CORTEX_SYNC_ID_USER_MIN)
        rc = lock_by_polling(c, timeout_ns);
    if (rc == 0 || rc == -EOWNERDEAD)
        return 0;
    if (rc == -ETIMEDOUT)
        return lock_timeout(c, timeout_ns, op);
    if (cortex_last_error()->code != rc)
        rc = cortex__fail(-rc, "cell: lock backend '%s' failed to lock (%s)", c->ops->name, cortex_strerror(rc));
    return rc;
}

static __attribute__((noinline)) int ops_unlock(cortex_cell *c, int rc)
{
    if (rc == 1)
        rc = c->ops->unlock(c->sync, c->local);
    if (rc < 0 && cortex_last_error()->code != rc)
        rc = cortex__fail(-rc, "cell: lock backend '%s' failed to unlock (%s)", c->ops->name, cortex_strerror(rc));
    return rc;
}

/*
 * 0 with the lock held (a dead holder's lock counts), or a negative errno:
 * -ETIMEDOUT when @timeout_ns (< 0: forever) passed first.  @op names the
 * operation in messages.  @writing (futex backend): take the word with the
 * counter odd, a write starts (other backends: the caller does it).
 */
static inline int cell_lock(cortex_cell *c, int64_t timeout_ns, const char *op, uint64_t writing)
{
#if CORTEX_HAVE_FUTEX
    if (__builtin_expect(c->futex, 1)) {
        uint64_t id = cortex__sync_ident();
        if (__builtin_expect((uint32_t)id > CORTEX__CELLWORD_PID_MAX, 0))
            return pid_too_large((uint32_t)id);
        int rc = cortex__cellword_lock(&c->head->seq, cell_record(c), &c->head->waiters, (uint32_t)id,
                                       (uint32_t)(id >> 32), writing, timeout_ns);
        if (__builtin_expect(rc == 0 || rc == -EOWNERDEAD, 1))
            return 0;
        return rc == -ETIMEDOUT ? lock_timeout(c, timeout_ns, op) : rc;
    }
#endif
    CORTEX_UNUSED(writing);
    return ops_lock(c, timeout_ns, op);
}

#if CORTEX_HAVE_FUTEX
static __attribute__((noinline)) int word_unlock_failed(cortex_cell *c)
{
    char what[256];
    describe_region(c->region, what, sizeof what);
    return cortex__fail(EPERM, "%s: unlock by pid %d, but the cell's lock word names pid %u (changed by another "
                        "process?); nothing was released",
                        what, (int)cortex__self_pid(),
                        (unsigned)cortex__cellword_holder(cortex__ld64(&c->head->seq, CX_RELAXED)));
}
#endif

/*
 * First release by this process: take the light wake path (no fence) if it
 * can register for expedited membarrier, after marking the cell so that
 * its waiters call membarrier (seqlock.h).  Where it cannot (no membarrier,
 * -Dforce_fallback=membarrier, a refused registration) the fence stays.
 */
static __attribute__((noinline, cold)) bool light_decide(cortex_cell *c, uint32_t self)
{
    bool light = cortex__os_membarrier_register() && cortex__cell_light_join(&c->head->waiters);
    cortex__st64(light_state(c), ((uint64_t)self << 1) | light, CX_RELAXED);
    return light;
}

/* This process's wake path for @c: light (no fence) or not; decided at its first release. */
static inline bool light_for(cortex_cell *c, uint32_t self)
{
    uint64_t ls = cortex__ld64(light_state(c), CX_RELAXED);
    return __builtin_expect(ls >> 1 == self, 1) ? (ls & 1u) != 0 : light_decide(c, self);
}

/*
 * Release the lock (a futex write in progress ends there) and wake waiters
 * if the sequence moved (@changed) or, for the futex word, whenever one
 * announced itself (lock waiters sleep on the same word).
 */
static inline int cell_unlock(cortex_cell *c, bool changed)
{
#if CORTEX_HAVE_FUTEX
    if (__builtin_expect(c->futex, 1)) {
        uint32_t self = (uint32_t)cortex__sync_ident();
        int rc = cortex__cellword_unlock(&c->head->seq, cell_record(c), &c->head->waiters, self, light_for(c, self));
        return __builtin_expect(rc == 0, 1) ? 0 : word_unlock_failed(c);
    }
#endif
    int rc = ops_unlock(c, 1);
    if (changed) /* other backends keep the fence: their unlock costs far more than it */
        cortex__cell_wake(&c->head->waiters, false);
    return rc;
}

/* ---- waiting for a change ------------------------------------------------ */

static int wait_timeout(cortex_cell *c, uint64_t seen, uint64_t now, int64_t timeout_ns)
{
    char what[256];
    describe_region(c->region, what, sizeof what);
    if (now & 1u)
        return cortex__fail(ETIMEDOUT,
                            "%s: wait: no new value within %lld ns: a write is in progress (sequence %llu is odd; "
                            "if its writer died, the next write or consistent() repairs it); nothing was changed",
                            what, (long long)timeout_ns, (unsigned long long)now);
    return cortex__fail(ETIMEDOUT, "%s: wait: no new value within %lld ns (version still %llu); nothing was changed",
                        what, (long long)timeout_ns, (unsigned long long)seen);
}

int cortex_cell_wait(cortex_cell *c, uint64_t *seen, int64_t timeout_ns)
{
    if (!c || !seen)
        return cortex__fail(EINVAL, "cortex_cell_wait: NULL %s", c ? "seen" : "cell");
    uint64_t s = cortex__cell_counter(cortex__ld64(&c->head->seq, CX_ACQUIRE));
    if (s != *seen && !(s & 1u)) {
        *seen = s;
        return 0;
    }
    if (timeout_ns == 0) /* only look: no announcement, no store to shared memory */
        return wait_timeout(c, *seen, s, timeout_ns);
    if (cortex__cell_wait_change(&c->head->seq, &c->head->waiters, seen, &s, cortex__deadline(timeout_ns)) == 0)
        return 0;
    return wait_timeout(c, *seen, s, timeout_ns);
}

static int inconsistent_error(cortex_cell *c, const char *op)
{
    char what[256];
    describe_region(c->region, what, sizeof what);
    return cortex__fail(EOWNERDEAD,
                        "%s: %s: a writer died while writing this cell, so the value may be torn; write a new "
                        "value or call consistent() to accept it",
                        what, op);
}

static int bad_size(cortex_cell *c, size_t size, const char *fn)
{
    if (!c)
        return cortex__fail(EINVAL, "%s: NULL cell", fn);
    return cortex__fail(EINVAL, "%s: %zu bytes given, the cell holds %u", fn, size, c->fast.size);
}

/* ---- operations ---------------------------------------------------------- */

/* One-writer: the role's holder is gone (@gone 1) or its record corrupt (< 0) while a write stays open. */
static __attribute__((noinline)) int writer_gone_error(cortex_cell *c, int32_t pid, int gone)
{
    char what[256];
    describe_region(c->region, what, sizeof what);
    if (gone < 0)
        return cortex__fail(EBADMSG, "%s: read: a write stays in progress and the one-writer role record names pid %d, "
                            "which no process can have (corrupt); the copy may be torn",
                            what, (int)pid);
    if (pid == 0)
        return cortex__fail(EOWNERDEAD, "%s: read: a write stays in progress and nobody holds the writer role: the "
                            "value may be torn; the next writer repairs it (write, or consistent() to accept it)",
                            what);
    return cortex__fail(EOWNERDEAD, "%s: read: the writer (pid %d) died while writing this cell, so the value may be "
                        "torn; the next writer takes the role over (write a new value, or consistent() to accept it)",
                        what, (int)pid);
}

/*
 * One-writer: nothing to lock.  Keep trying; a write that stays in progress
 * (the same odd counter) for CORTEX_SYNC_CHECK_INTERVAL_NS has its writer
 * checked, and only a certainly dead (or absent) one ends the wait, with
 * the copy as it is and -EOWNERDEAD (nothing is changed: the next writer
 * repairs).
 */
static __attribute__((noinline)) int one_writer_read_wait(cortex_cell *c, void *out, size_t size, uint64_t *version)
{
    uint64_t odd = UINT64_MAX;
    int64_t since = 0;
    for (unsigned i = 0;; i++) {
        int r = cortex__cell_read_try_version(&c->head->seq, &c->head->inconsistent, c->fast.value, out, size, version);
        if (r == 0)
            return 0;
        if (r > 0)
            return inconsistent_error(c, "read");
        uint64_t s = cortex__cell_counter(cortex__ld64(&c->head->seq, CX_ACQUIRE));
        if (s & 1u) {
            int64_t now = cortex__now_ns();
            if (s != odd) {
                odd = s;
                since = now;
            } else if (now - since >= CORTEX_SYNC_CHECK_INTERVAL_NS) {
                int32_t pid = 0;
                int gone = cortex__ow_holder_gone(c->sync, &pid);
                if (gone != 0 && cortex__cell_counter(cortex__ld64(&c->head->seq, CX_ACQUIRE)) == s) {
                    cortex__cell_load_value(out, c->fast.value, size);
                    *version = s;
                    return writer_gone_error(c, pid, gone);
                }
                since = now;
            }
        }
        if (i < 64)
            cortex__spin_hint();
        else
            cortex__sleep_ns(i < 256 ? 1000 : 20000);
    }
}

/* Lost the first optimistic attempt: retry, then read under the lock. */
static __attribute__((noinline)) int read_slow(cortex_cell *c, void *out, size_t size, int first, uint64_t *version)
{
    if (first > 0)
        return inconsistent_error(c, "read");
    if (c->one_writer)
        return one_writer_read_wait(c, out, size, version);
    for (int i = 1; i < CORTEX_CELL_READ_RETRIES; i++) {
        cortex__spin_hint();
        int r = cortex__cell_read_try_version(&c->head->seq, &c->head->inconsistent, c->fast.value, out, size, version);
        if (r == 0)
            return 0;
        if (r > 0)
            return inconsistent_error(c, "read");
    }
    /* Kept losing to writers (or a writer died mid-write): read under the lock. */
    int rc = cell_lock(c, -1, "read", 0);
    if (rc < 0)
        return rc;
    bool repaired = cortex__cell_repair(&c->head->seq, &c->head->inconsistent);
    *version = cortex__cell_counter(cortex__ld64(&c->head->seq, CX_RELAXED));
    uint32_t f = cortex__cell_read_locked(&c->head->seq, &c->head->inconsistent, c->fast.value, out, size);
    rc = cell_unlock(c, repaired);
    if (rc < 0)
        return rc;
    return f ? inconsistent_error(c, "read") : 0;
}

static inline int read_impl(cortex_cell *c, void *out, size_t size, uint64_t *version, const char *fn)
{
    if (__builtin_expect(!c || size != c->fast.size || !out, 0))
        return bad_size(c, size, fn);
    int r = cortex__cell_read_try_version(&c->head->seq, &c->head->inconsistent, c->fast.value, out, size, version);
    if (__builtin_expect(r == 0, 1))
        return 0;
    return read_slow(c, out, size, r, version);
}

/* read_slow for a caller that wants no version (keeps cortex_cell_read a leaf: nothing of its frame lives on). */
static __attribute__((noinline)) int read_slow_unversioned(cortex_cell *c, void *out, size_t size, int first)
{
    uint64_t version;
    return read_slow(c, out, size, first, &version);
}

int cortex_cell_read(cortex_cell *c, void *out, size_t size)
{
    if (__builtin_expect(!c || size != c->fast.size || !out, 0))
        return bad_size(c, size, "cortex_cell_read");
    uint64_t version;
    int r = cortex__cell_read_try_version(&c->head->seq, &c->head->inconsistent, c->fast.value, out, size, &version);
    if (__builtin_expect(r == 0, 1))
        return 0;
    return read_slow_unversioned(c, out, size, r);
}

int cortex_cell_read_version(cortex_cell *c, void *out, size_t size, uint64_t *version)
{
    if (!version)
        return cortex__fail(EINVAL, "cortex_cell_read_version: version is NULL");
    return read_impl(c, out, size, version, "cortex_cell_read_version");
}

#if CORTEX_HAVE_FUTEX
/*
 * A write with the futex backend, in one piece: one CAS takes the word odd,
 * the value is stored, one plain store releases it even, and the wake check
 * is a load (light) or a fence and a load.  The identity is read once.
 */
static inline int futex_write(cortex_cell *c, const void *value, size_t size, int64_t timeout_ns)
{
    uint64_t id = cortex__sync_ident();
    uint32_t self = (uint32_t)id;
    if (__builtin_expect(self > CORTEX__CELLWORD_PID_MAX, 0))
        return pid_too_large(self);
    cell_head *h = c->head;
    cortex__a64 *record = cell_record(c);
    int rc = cortex__cellword_lock(&h->seq, record, &h->waiters, self, (uint32_t)(id >> 32), 1, timeout_ns);
    if (__builtin_expect(rc != 0 && rc != -EOWNERDEAD, 0))
        return rc == -ETIMEDOUT ? lock_timeout(c, timeout_ns, "write") : rc;
    /* odd already; the unlock makes it even (a dead writer's torn value is replaced whole) */
    cortex__cell_write_body(&h->inconsistent, c->fast.value, value, size, 0);
    rc = cortex__cellword_unlock(&h->seq, record, &h->waiters, self, light_for(c, self));
    return __builtin_expect(rc == 0, 1) ? 0 : word_unlock_failed(c);
}
#endif

/* The holder's write: no read-modify-write, no fence (x86), then the wake check. */
static inline void one_writer_store(cortex_cell *c, const void *value, size_t size, uint32_t self)
{
    cortex__cell_write_one(&c->head->seq, &c->head->inconsistent, c->fast.value, value, size);
    cortex__cell_wake(&c->head->waiters, light_for(c, self));
}

/*
 * First write through this handle (or in a forked child): claim the role,
 * repair what a dead holder left, and remember the identity and wake path
 * for the fast path.
 */
static __attribute__((noinline)) int one_writer_claim_write(cortex_cell *c, const void *value, size_t size)
{
    int rc = ops_lock(c, -1, "write");
    if (rc < 0)
        return rc;
    cortex__cell_repair(&c->head->seq, &c->head->inconsistent);
    uint64_t id = cortex__sync_ident();
    one_writer_store(c, value, size, (uint32_t)id);
    c->fast.ow_light = light_for(c, (uint32_t)id);
    uint64_t held = ((cortex__ow_local *)c->local)->ident;
    cortex__st64((cortex__a64 *)(void *)&c->fast.ow_key, held ? held : OW_NONE, CX_RELAXED);
    return 0;
}

/* The holder's write, a leaf with tail calls (nothing to save): one compare, the stores, the wake check. */
static __attribute__((noinline)) int one_writer_write(cortex_cell *c, const void *value, size_t size)
{
    /* An unfilled cache (0) never matches: the claim fills it. */
    if (__builtin_expect(cortex__ld64((cortex__a64 *)(void *)&c->fast.ow_key, CX_RELAXED) !=
                             cortex__ld64(&cortex__sync_ident_cache, CX_RELAXED),
                         0))
        return one_writer_claim_write(c, value, size);
    cortex__cell_write_one(&c->head->seq, &c->head->inconsistent, c->fast.value, value, size);
    return cortex__cell_wake(&c->head->waiters, c->fast.ow_light);
}

static int write_impl(cortex_cell *c, const void *value, size_t size, int64_t timeout_ns, const char *fn)
{
    if (!c || size != c->fast.size || !value)
        return bad_size(c, size, fn);
    if (c->one_writer)
        return one_writer_write(c, value, size);
#if CORTEX_HAVE_FUTEX
    if (__builtin_expect(c->futex, 1))
        return futex_write(c, value, size, timeout_ns);
#endif
    int rc = cell_lock(c, timeout_ns, "write", 1);
    if (rc < 0)
        return rc;
    cortex__cell_repair(&c->head->seq, &c->head->inconsistent);
    cortex__cell_write_locked(&c->head->seq, &c->head->inconsistent, c->fast.value, value, size, 0);
    return cell_unlock(c, true);
}

/* neocortex/cell.h's inline writes, after their fence: a waiter announced itself, wake it. */
int cortex_cell__wake_(cortex_cell *c)
{
    if (!c)
        return 0;
    uint32_t w = cortex__ld32(&c->head->waiters, CX_RELAXED);
    return (w & CORTEX__CELL_WAITING) ? cortex__cell_wake_slow(&c->head->waiters, w) : 0;
}

/* neocortex/cell.h's inline futex write, value stored: the word is no longer the one it took. */
int cortex_cell__release_(cortex_cell *c)
{
    if (!c)
        return cortex__fail(EINVAL, "cortex_cell__release_: cell is NULL");
    return cell_unlock(c, true);
}

int cortex_cell_write(cortex_cell *c, const void *value, size_t size)
{
    if (c && c->one_writer && size == c->fast.size && value) /* before write_impl's frame: the fast path saves nothing */
        return one_writer_write(c, value, size);
    return write_impl(c, value, size, -1, "cortex_cell_write");
}

int cortex_cell_write_timed(cortex_cell *c, const void *value, size_t size, int64_t timeout_ns)
{
    return write_impl(c, value, size, timeout_ns, "cortex_cell_write_timed");
}

/* An update function said no: its value goes back to the caller; a negative one is also recorded. */
static int update_cancelled(cortex_cell *c, int keep)
{
    if (keep > 0)
        return keep;
    char what[256];
    describe_region(c->region, what, sizeof what);
    cortex__fail(keep > -4096 ? -keep : ECANCELED,
                 "%s: update: the update function returned %d, so nothing was written (value and version "
                 "unchanged)",
                 what, keep);
    return keep;
}

/* One of @fn (always writes) and @fn_if (writes when it returns 0). */
static int update_impl(cortex_cell *c, cortex_cell_update_fn fn, cortex_cell_update_if_fn fn_if, void *ctx,
                       void *scratch, size_t size, int64_t timeout_ns, const char *name)
{
    if (!c || size != c->fast.size || !scratch)
        return bad_size(c, size, name);
    if (!fn && !fn_if)
        return cortex__fail(EINVAL, "%s: no function given", name);
    int rc = cell_lock(c, timeout_ns, "update", 0);
    if (rc < 0)
        return rc;
    bool repaired = cortex__cell_repair(&c->head->seq, &c->head->inconsistent);
    if (cortex__cell_read_locked(&c->head->seq, &c->head->inconsistent, c->fast.value, scratch, size)) {
        rc = cell_unlock(c, repaired);
        return rc < 0 ? rc : inconsistent_error(c, "update");
    }
    int keep = 0;
    if (fn_if)
        keep = fn_if(scratch, ctx);
    else
        fn(scratch, ctx);
    if (keep == 0)
        cortex__cell_write_locked(&c->head->seq, &c->head->inconsistent, c->fast.value, scratch, size, 0);
    rc = cell_unlock(c, keep == 0);
    if (rc < 0)
        return rc;
    return keep == 0 ? 0 : update_cancelled(c, keep);
}

int cortex_cell_update(cortex_cell *c, cortex_cell_update_fn fn, void *ctx, void *scratch, size_t size)
{
    return update_impl(c, fn, NULL, ctx, scratch, size, -1, "cortex_cell_update");
}

int cortex_cell_update_timed(cortex_cell *c, cortex_cell_update_fn fn, void *ctx, void *scratch, size_t size,
                             int64_t timeout_ns)
{
    return update_impl(c, fn, NULL, ctx, scratch, size, timeout_ns, "cortex_cell_update_timed");
}

int cortex_cell_update_if(cortex_cell *c, cortex_cell_update_if_fn fn, void *ctx, void *scratch, size_t size,
                          int64_t timeout_ns)
{
    return update_impl(c, NULL, fn, ctx, scratch, size, timeout_ns, "cortex_cell_update_if");
}

int cortex_cell_consistent(cortex_cell *c)
{
    if (!c)
        return cortex__fail(EINVAL, "cortex_cell_consistent: NULL cell");
    int rc = cell_lock(c, -1, "consistent", 0);
    if (rc < 0)
        return rc;
    bool changed = cortex__cell_repair(&c->head->seq, &c->head->inconsistent);
    if (cortex__ld32(&c->head->inconsistent, CX_RELAXED)) {
        cortex__cell_write_locked(&c->head->seq, &c->head->inconsistent, c->fast.value, NULL, 0, 0);
        changed = true;
    }
    return cell_unlock(c, changed);
}

/* ---- ownership ----------------------------------------------------------- */

int cortex_cell_close(cortex_cell *c)
{
    if (!c)
        return 0;
    int rc = 0;
    if (cortex_region_is_owner(c->region) && c->ops->destroy) { /* closing removes the segment */
        rc = c->ops->destroy(c->sync, c->local);
        if (rc < 0)
            cortex__log_last();
    }
    if (c->ops->detach)
        c->ops->detach(c->sync, c->local);
    int rrc = cortex_region_close(c->region);
    free(c);
    return rc < 0 ? rc : rrc;
}

int cortex_cell_leak(cortex_cell *c)
{
    if (!c)
        return cortex__fail(EINVAL, "cortex_cell_leak: NULL cell");
    if (c->ops->detach)
        c->ops->detach(c->sync, c->local);
    int rc = cortex_region_leak(c->region);
    free(c);
    return rc;
}

int cortex_cell_own(cortex_cell *c)
{
    if (!c)
        return cortex__fail(EINVAL, "cortex_cell_own: NULL cell");
    return cortex_region_own(c->region);
}

cortex_region *cortex_cell_region(const cortex_cell *c) { return c ? c->region : NULL; }

size_t cortex_cell_size(const cortex_cell *c) { return c ? c->fast.size : 0; }

const cortex_sync_ops *cortex_cell_lock_ops(const cortex_cell *c) { return c ? c->ops : NULL; }

/* ---- inspection (read-only, hostile memory) ------------------------------ */

int cortex_cell_inspect(const cortex_region *r, cortex_cell_info *out)
{
    if (!r || !out)
        return cortex__fail(EINVAL, "cortex_cell_inspect: NULL argument");
    memset(out, 0, sizeof *out);
    const cortex_seg_header *live = cortex_region_header(r);
    unsigned char *p = cortex_region_payload(r);
    uint64_t psize = cortex_region_payload_size(r);
    if (!live || !p)
        return cortex__fail(EINVAL, "cortex_cell_inspect: region has no mapping");
    cortex_seg_header sh;
    memcpy(&sh, live, sizeof sh);
    if (sh.magic != CORTEX_MAGIC)
        return cortex__fail(EBADMSG, "not a neocortex segment (magic 0x%016llx)", (unsigned long long)sh.magic);
    if (sh.kind != CORTEX_KIND_CELL)
        return cortex__fail(EPROTO, "segment holds a %s, not a cell", cortex_kind_name(sh.kind));
    cortex__printable(sh.type_tag, CORTEX_TYPE_TAG_MAX, out->type_name);
    if (((uintptr_t)p & 63u) != 0 || psize < sizeof(cell_head))
        return cortex__fail(EBADMSG, "cell payload of %llu bytes is too small or misaligned",
                            (unsigned long long)psize);
    cell_head *lh = (cell_head *)(void *)p;
    cell_head h;
    memcpy(&h, lh, offsetof(cell_head, seq));
    if (h.magic != CELL_MAGIC || h.version != CELL_VERSION)
        return cortex__fail(EBADMSG, "cell header magic 0x%08x version %u, expected 0x%08x version %u", h.magic,
                            h.version, CELL_MAGIC, CELL_VERSION);
    if (h.value_size == 0 || h.value_size > CORTEX_CELL_MAX_SIZE || !cortex__is_pow2(h.value_align) ||
        h.value_align > CORTEX_MAX_ALIGN || h.value_offset < sizeof(cell_head) || (h.value_offset & 7u) ||
        (uint64_t)h.value_offset + cortex__cell_words_size(h.value_size) > psize)
        return cortex__fail(EBADMSG, "cell value (%u bytes, align %u, at %u) does not fit its %llu-byte payload",
                            h.value_size, h.value_align, h.value_offset, (unsigned long long)psize);
    if (h.sync_size == 0 || h.sync_size > CORTEX_SYNC_SHARED_MAX || (h.sync_offset & 7u) ||
        (uint64_t)h.sync_offset + h.sync_size > psize)
        return cortex__fail(EBADMSG, "cell lock bytes (%u at %u) do not fit its %llu-byte payload", h.sync_size,
                            h.sync_offset, (unsigned long long)psize);
    uint64_t word = cortex__ld64(&lh->seq, CX_ACQUIRE);
    out->sequence = cortex__cell_counter(word);
    out->consistent = cortex__ld32(&lh->inconsistent, CX_RELAXED) == 0;
    out->value_size = h.value_size;
    out->value_align = h.value_align;
    out->lock_id = h.lock_id;
    const cortex_sync_ops *ops = cortex_sync_builtin(h.lock_id);
    snprintf(out->lock_name, sizeof out->lock_name, "%s", ops ? ops->name : "user");
    out->lock_state = -ENOTSUP;
    if (ops && cortex_sync_available(ops) && ops->holder && h.sync_size >= ops->shared_size) {
        int32_t pid = 0;
        if (h.lock_id == CORTEX_SYNC_ID_FUTEX) { /* the holder is in the sequence word (cellword.h) */
            pid = (int32_t)(word >> CORTEX__CELL_SEQ_BITS);
            out->lock_state = pid != 0;
        } else {
            out->lock_state = ops->holder(p + h.sync_offset, &pid);
        }
        if (out->lock_state == 1 && pid > 0) {
            out->holder_pid = pid;
            out->holder_alive = cortex__pid_alive(pid, 0);
        }
    }
    return 0;
}

/* ---- the waitset's hook (lib/waitset) ------------------------------------ */

int cortex__cell_wait_arm(cortex_cell *c, uint64_t seen, bool announce, bool check_pid, cortex__a32 **word,
                          uint32_t *val, uint64_t *now)
{
    if (!c || !c->head)
        return cortex__fail(EINVAL, "waitset: NULL or closed cell");
    uint64_t raw, s;
    if (announce) {
        int64_t nap_cap;
        *word = &c->head->waiters;
        *val = cortex__cell_announce(&c->head->waiters, &c->head->seq, &raw, &nap_cap);
        if (nap_cap != INT64_MAX)
            *word = NULL; /* a light writer's wake cannot be proven without membarrier: poll this cell */
    } else {
        raw = cortex__ld64(&c->head->seq, CX_ACQUIRE);
    }
    s = cortex__cell_counter(raw);
    *now = s;
    if (s != seen && !(s & 1u))
        return 1;
    bool dead = false;
    if (check_pid) { /* the lock's holder died: nobody finishes a write until a writer takes it over */
#if CORTEX_HAVE_FUTEX
        if (c->futex) {
            uint32_t holder = cortex__cellword_holder(raw);
            dead = holder != 0 && cortex__futex_pid_dead(holder, cell_record(c), NULL) &&
                   cortex__ld64(&c->head->seq, CX_RELAXED) == raw;
        } else
#endif
        {
            int32_t hp;
            /* one-writer: a dead role holder only matters if it died mid-write */
            dead = c->ops->owner_dead && c->ops->owner_dead(c->sync) == 1 && (!c->one_writer || (s & 1u));
            /* An odd sequence with the lock free (a semaphore's SEM_UNDO released it): its writer died mid-copy. */
            if (!dead && (s & 1u) && c->ops->holder && c->ops->holder(c->sync, &hp) == 0)
                dead = cortex__ld64(&c->head->seq, CX_ACQUIRE) == raw;
        }
    }
    if (dead || cortex__ld32(&c->head->inconsistent, CX_ACQUIRE)) {
        char what[256];
        describe_region(c->region, what, sizeof what);
        return cortex__fail(EOWNERDEAD, "%s: waitset: a writer died %s (version %llu); the next write takes over",
                            what, dead ? "holding the cell's lock" : "while writing this cell",
                            (unsigned long long)s);
    }
    return 0;
}
