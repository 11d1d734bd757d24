/* SPDX-License-Identifier: MIT */
/*
 * lib/slab/slab.c: the lock-free slab (raw form).  Every access to shared
 * state goes through lib/atomic.h; the model checker rebuilds this file with
 * -DCORTEX_MODEL.  The layout and the head/word packing are described in
 * slab_layout.h.
 *
 * The free list is a Treiber stack with a tagged head.  Taking a slot is ONE
 * CAS of the head that names the taker (its process-table id) while leaving
 * the slot linked as the stack's top; the slot word (generation, state,
 * owner) is then written by the taker.  Whoever next needs the head first
 * makes sure that word is written ("helping": a CAS from exactly the free
 * value seen, so it never lands twice) and only then unlinks the taken slot.
 * So at every instant a taken slot is findable with its owner, and a
 * process killed between the two steps leaves a slot that reclaim can free.
 *
 * Seeded bugs for the model checker, never defined in a normal build:
 *   CORTEX_SEED_SLAB_UNTAGGED_HEAD    the head's tag is not changed (ABA)
 *   CORTEX_SEED_SLAB_GEN_AFTER_STATE  the generation is bumped in a separate
 *                                     store after the state change
 *   CORTEX_SEED_SLAB_RECEIVE_KEEPS_GEN receive keeps the generation, so the
 *                                     sender's copy of a handed-over handle
 *                                     still frees the receiver's slot
 *   CORTEX_SEED_SLAB_RECEIVE_ODD_STEP  receive advances the generation by 1:
 *                                     a received-then-freed slot shows the
 *                                     parity it was taken at, and a helper
 *                                     records it as allocated again
 *   CORTEX_SEED_SLAB_DEPOT_EARLY_FULL  a depot buffer is published FULL
 *                                     before its entries are written: a
 *                                     taker reads entries of nothing
 *   CORTEX_SEED_SLAB_RELABEL_STORE     a depot taker checks the filler's
 *                                     word, then relabels it with a store
 *                                     (no CAS): a reclaim in between and
 *                                     the taker both get the slot
 *   CORTEX_SEED_SLAB_FAST_FREE_ANY_OWNER the magazine's store-only free
 *                                     checks generation and state but not
 *                                     the owner: it takes a dead process's
 *                                     slot that reclaim is returning
 */
#define _GNU_SOURCE
#define CORTEX_SLAB_NO_INLINE 1 /* this file defines the out-of-line copies (also when a test compiles it) */
#include "internal.h"

#include "atomic.h"
#include "slab/slab_internal.h"
#include "slab/slab_layout.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Test builds only (tests/slab/test_slab_aba.c): a hook called in alloc right
 * before the head CAS, so a test can run other operations in that window.
 */
#if defined(CORTEX_SLAB_TEST_HOOKS)
void (*cortex__slab_hook_before_cas)(cortex_slab *s);
void (*cortex__slab_hook_after_take)(cortex_slab *s);
void (*cortex__slab_hook_reclaim_before_push)(cortex_slab *s);
#define HOOK(name, s)                                                                                            \
    do {                                                                                                         \
        if (cortex__slab_hook_##name)                                                                            \
            cortex__slab_hook_##name(s);                                                                         \
    } while (0)
#else
#define HOOK(name, s) ((void)0)
#endif

#if defined(CORTEX_SEED_SLAB_UNTAGGED_HEAD)
#define NEXT_TAG(h) CX_HEAD_TAG(h)
#else
#define NEXT_TAG(h) (CX_HEAD_TAG(h) + 1u)
#endif

/*
 * Receive advances the generation by 2: the sender's copy becomes stale, and
 * the low bit (flipped once per allocation, see help_record) is kept.
 */
#if defined(CORTEX_SEED_SLAB_RECEIVE_KEEPS_GEN)
#define RECEIVE_STEP 0u
#elif defined(CORTEX_SEED_SLAB_RECEIVE_ODD_STEP)
#define RECEIVE_STEP 1u
#else
#define RECEIVE_STEP 2u
#endif

/* ---- fork detection: a child re-registers in the process table ---------- */

static uint64_t fork_epoch = 1;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/*
 * A thread's key for the fast paths (include/neocortex/slab.h): 0 until the
 * thread arms a magazine, then unique in this process image; the forking
 * thread's is reset in the child (the only thread there), so views armed
 * before the fork miss and take the checked path, which empties them.
 */
_Thread_local uint64_t cortex__slab_thread_key __attribute__((tls_model("initial-exec")));
static uint64_t thread_keys; /* keys handed out (process-local, atomic) */
#define KEY_NONE UINT64_MAX  /* a view's key while disarmed: no thread's */

static void on_fork_child(void)
{
    fork_epoch++;
    cortex__slab_thread_key = 0;
}
static void fork_hook(void) { pthread_atfork(NULL, NULL, on_fork_child); }

/* ---- slab identity --------------------------------------------------------- */

/* A 32-bit mix (the finalizer of MurmurHash3), for per-slot starting generations. */
static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

uint32_t cortex__slab_new_id(void)
{
#if defined(CORTEX_MODEL)
    return 0x5a5a0001u; /* the explorer replays each execution: no randomness */
#else
    uint32_t id = 0;
    if (cortex__random(&id, sizeof id) == 0)
        return id;
    /* No random source: still differ between slabs made at other times or by other processes. */
    static cortex__a64 counter;
    uint64_t c = cortex__fadd64(&counter, 1, CX_RELAXED);
    return mix32((uint32_t)cortex__now_ns() ^ mix32((uint32_t)cortex__self_pid() + (uint32_t)c));
#endif
}

/* The generation slot i of the slab with id @p id starts at. */
static inline uint32_t first_gen(uint32_t id, uint32_t i) { return mix32(id ^ mix32(i + 0x9e3779b9u)); }

uint32_t cortex_slab_tag(const cortex_slab *s) { return s ? s->tag : 0; }

/* ---- geometry and header validation ------------------------------------- */

int cortex__slab_geometry(uint32_t slots, uint32_t slot_size, uint32_t slot_align, struct cortex__slab_geom *g)
{
    if (slots == 0 || slots > CORTEX_SLAB_MAX_SLOTS || slot_size == 0 || slot_size > CORTEX_SLAB_MAX_SLOT_SIZE)
        return -1;
    if (slot_align == 0)
        slot_align = 1;
    if (!cortex__is_pow2(slot_align) || slot_align > CORTEX_MAX_ALIGN)
        return -1;
    uint32_t a = slot_align < 8 ? 8 : slot_align;
    if (slot_size >= CORTEX_CACHELINE && a < CORTEX_CACHELINE)
        a = CORTEX_CACHELINE;
    uint64_t stride = cortex__align_up(slot_size, a);
    if (stride > CORTEX_SLAB_MAX_SLOT_SIZE + (uint64_t)CORTEX_MAX_ALIGN)
        return -1;
    g->stride = (uint32_t)stride;
    g->align = a;
    g->meta_off = sizeof(struct cortex__slab_shared);
    /*
     * Room for every slot in batches of the default size (a quarter of the
     * slots, at most 32: the channel's), so that with that batch a consumer
     * never pushes a batch onto the shared stack for want of a buffer and
     * every slot can stay in the cycle (docs/channel.md, "Slot reuse");
     * at most CORTEX__SLAB_DEPOTS_MAX buffers.
     */
    uint32_t batch = cortex__slab_quarter_batch(slots, CORTEX__SLAB_MAG_BATCH);
    g->depots = batch ? (uint32_t)(((uint64_t)slots + batch - 1u) / batch) : 1u;
    g->depots = g->depots > CORTEX__SLAB_DEPOTS_MAX ? CORTEX__SLAB_DEPOTS_MAX : g->depots;
    g->depot_off =
        cortex__align_up(g->meta_off + (uint64_t)slots * sizeof(struct cortex__slot_meta), CORTEX_CACHELINE);
    g->data_off = cortex__align_up(g->depot_off + (uint64_t)g->depots * sizeof(struct cortex__slab_depot),
                                   a < CORTEX_CACHELINE ? CORTEX_CACHELINE : a);
    g->total = g->data_off + (uint64_t)slots * stride;
    return 0;
}

size_t cortex_slab_required_size(uint32_t slots, uint32_t slot_size, uint32_t slot_align)
{
    struct cortex__slab_geom g;
    if (cortex__slab_geometry(slots, slot_size, slot_align, &g) < 0 || g.total > SIZE_MAX)
        return 0;
    return (size_t)g.total;
}

size_t cortex_slab_required_align(uint32_t slot_size, uint32_t slot_align)
{
    struct cortex__slab_geom g;
    if (cortex__slab_geometry(1, slot_size ? slot_size : 1, slot_align, &g) < 0)
        return CORTEX_CACHELINE;
    return g.align;
}

int cortex__slab_check_hdr(const struct cortex__slab_hdr *h, uint64_t len, const char *what)
{
    struct cortex__slab_geom g;
    if (len < sizeof(struct cortex__slab_shared))
        return cortex__fail(EBADMSG, "%s: %llu bytes is smaller than a slab header", what, (unsigned long long)len);
    if (h->magic != CORTEX__SLAB_MAGIC)
        return cortex__fail(EBADMSG, "%s: no slab here (magic 0x%016llx, expected 0x%016llx)", what,
                            (unsigned long long)h->magic, (unsigned long long)CORTEX__SLAB_MAGIC);
    if (h->version != CORTEX__SLAB_VERSION)
        return cortex__fail(EBADMSG, "%s: slab layout version %u, this build reads %u", what, h->version,
                            CORTEX__SLAB_VERSION);
    uint32_t check = cortex__fnv1a32(h, offsetof(struct cortex__slab_hdr, check));
    if (check != h->check)
        return cortex__fail(EBADMSG, "%s: slab header checksum 0x%08x does not match its contents (0x%08x)", what,
                            h->check, check);
    if (cortex__slab_geometry(h->slots, h->slot_size, h->slot_align, &g) < 0)
        return cortex__fail(EBADMSG, "%s: slab header claims %u slots of %u bytes aligned to %u: out of range",
                            what, h->slots, h->slot_size, h->slot_align);
    if (g.stride != h->stride || g.meta_off != h->meta_off || g.data_off != h->data_off || g.total != h->total ||
        h->procs != CORTEX__SLAB_PROC_ENTRIES)
        return cortex__fail(EBADMSG, "%s: slab header offsets do not match its slot count and size", what);
    if (g.total > len)
        return cortex__fail(EBADMSG, "%s: slab needs %llu bytes but only %llu are there", what,
                            (unsigned long long)g.total, (unsigned long long)len);
    return 0;
}

int cortex__slab_proc_alive(uint64_t ent)
{
    if (ent == 0)
        return 0;
    /* Only a certainly dead process loses its slots: alive and unknown both keep them. */
    cortex__proc_id id = {.pid = (int32_t)(uint32_t)(ent >> 32), .stamp = (uint32_t)ent};
    if (id.pid <= 0)
        return 0;
    return cortex__proc_verdict(&id, NULL) != CORTEX__DEAD;
}

/* ---- views --------------------------------------------------------------- */

static int view_open(cortex_slab *s, void *mem, size_t len, uint32_t slot_size, uint32_t slot_align)
{
    if (!mem)
        return cortex__fail(EINVAL, "slab: no memory given");
    if (((uintptr_t)mem & 7u) != 0)
        return cortex__fail(EINVAL, "slab: memory at %p is not 8-byte aligned", mem);
    struct cortex__slab_hdr h;
    if (len < sizeof(struct cortex__slab_shared))
        return cortex__fail(EBADMSG, "slab: %zu bytes is smaller than a slab header", len);
    cortex__plain_read(&h, mem, sizeof h); /* immutable after init: a private copy is validated */
    int rc = cortex__slab_check_hdr(&h, len, "slab");
    if (rc < 0)
        return rc;
    if ((slot_size && slot_size != h.slot_size) || (slot_align && slot_align != h.slot_align))
        return cortex__fail(EPROTO, "slab holds slots of %u bytes aligned to %u, expected %u aligned to %u",
                            h.slot_size, h.slot_align, slot_size, slot_align);
    uint32_t a = (uint32_t)cortex_slab_required_align(h.slot_size, h.slot_align);
    if (((uintptr_t)mem & (a - 1u)) != 0)
        return cortex__fail(EINVAL, "slab: memory at %p is not aligned to %u as its slots need", mem, a);
    s->sh = mem;
    s->meta = (struct cortex__slot_meta *)(void *)((uint8_t *)mem + h.meta_off);
    s->data = (uint8_t *)mem + h.data_off;
    s->slots = h.slots;
    s->slot_size = h.slot_size;
    s->stride = h.stride;
    s->len = h.total;
    struct cortex__slab_geom g;
    (void)cortex__slab_geometry(h.slots, h.slot_size, h.slot_align, &g); /* checked by cortex__slab_check_hdr */
    s->depot = (struct cortex__slab_depot *)(void *)((uint8_t *)mem + g.depot_off);
    s->depots = g.depots;
    s->tag = CX_ID_TAG(h.id);
    __atomic_store_n(&s->f.key, KEY_NONE, __ATOMIC_RELAXED);
    s->f.meta = (unsigned char *)s->meta;
    s->f.data = s->data;
    s->f.slots = s->slots;
    s->f.stride = s->stride;
    s->f.tag24 = s->tag << 24;
    cortex__st64(&s->reg, 0, CX_RELAXED);
    pthread_once(&fork_once, fork_hook);
    return 0;
}

int cortex__slab_format(void *mem, size_t len, uint32_t slots, uint32_t slot_size, uint32_t slot_align,
                        uint32_t id)
{
    struct cortex__slab_geom g;
    if (cortex__slab_geometry(slots, slot_size, slot_align, &g) < 0)
        return cortex__fail(EINVAL,
                            "slab of %u slots of %u bytes aligned to %u is out of range (1-%u slots, 1 byte-1 GiB, "
                            "power-of-two alignment <= %u)",
                            slots, slot_size, slot_align, CORTEX_SLAB_MAX_SLOTS, CORTEX_MAX_ALIGN);
    if (!mem)
        return cortex__fail(EINVAL, "slab: no memory given");
    if (len < g.total)
        return cortex__fail(EINVAL, "slab of %u slots of %u bytes needs %llu bytes, got %zu", slots, slot_size,
                            (unsigned long long)g.total, len);
    if (((uintptr_t)mem & (g.align - 1u)) != 0)
        return cortex__fail(EINVAL, "slab: memory at %p is not aligned to %u as its slots need", mem, g.align);
    struct cortex__slab_shared *sh = mem;
    memset(sh, 0, sizeof *sh);
    struct cortex__slab_hdr h;
    memset(&h, 0, sizeof h);
    h.magic = CORTEX__SLAB_MAGIC;
    h.version = CORTEX__SLAB_VERSION;
    h.slots = slots;
    h.slot_size = slot_size;
    h.slot_align = slot_align ? slot_align : 1;
    h.stride = g.stride;
    h.procs = CORTEX__SLAB_PROC_ENTRIES;
    h.meta_off = g.meta_off;
    h.data_off = g.data_off;
    h.total = g.total;
    h.id = id;
    h.check = cortex__fnv1a32(&h, offsetof(struct cortex__slab_hdr, check));
    struct cortex__slot_meta *meta = (struct cortex__slot_meta *)(void *)((uint8_t *)mem + g.meta_off);
    for (uint32_t i = 0; i < slots; i++) {
        cortex__st64(&meta[i].word, cx_word(first_gen(id, i), CORTEX__SLOT_FREE, 0, 0), CX_RELAXED);
        cortex__st64(&meta[i].next, i + 1 < slots ? i + 2 : 0, CX_RELAXED);
    }
    struct cortex__slab_depot *dep = (struct cortex__slab_depot *)(void *)((uint8_t *)mem + g.depot_off);
    for (uint32_t d = 0; d < g.depots; d++) {
        cortex__st64(&dep[d].state, cx_depot(CORTEX__DEPOT_EMPTY, 0, 0, 0), CX_RELAXED);
        for (uint32_t j = 0; j < CORTEX__SLAB_MAG_BATCH; j++)
            cortex__st64(&dep[d].ent[j], 0, CX_RELAXED);
    }
    for (uint32_t i = 0; i < CORTEX__SLAB_PROC_ENTRIES; i++)
        cortex__st64(&sh->procs[i], 0, CX_RELAXED);
    cortex__st64(&sh->failed, 0, CX_RELAXED);
    cortex__st64(&sh->high_water, 0, CX_RELAXED);
    cortex__plain_write(&sh->hdr, &h, sizeof h);
    /* Publishes everything above to whoever sees the head first. */
    cortex__st64(&sh->head, cx_head(0, 0, 0, 1), CX_RELEASE);
    return 0;
}

int cortex__slab_view_init(cortex_slab *s, void *mem, size_t len, uint32_t slot_size, uint32_t slot_align)
{
    memset(s, 0, sizeof *s);
    return view_open(s, mem, len, slot_size, slot_align);
}

int cortex_slab_init(cortex_slab **ret, void *mem, size_t len, uint32_t slots, uint32_t slot_size,
                     uint32_t slot_align)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_slab_init: ret is NULL");
    int rc = cortex__slab_format(mem, len, slots, slot_size, slot_align, cortex__slab_new_id());
    if (rc < 0)
        return rc;
    return cortex_slab_attach_raw(ret, mem, len, slot_size, slot_align ? slot_align : 1);
}

int cortex_slab_attach_raw(cortex_slab **ret, void *mem, size_t len, uint32_t slot_size, uint32_t slot_align)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_slab_attach_raw: ret is NULL");
    cortex_slab *s = calloc(1, sizeof *s);
    if (!s)
        return cortex__fail(ENOMEM, "out of memory for a slab view");
    int rc = view_open(s, mem, len, slot_size, slot_align);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *ret = s;
    return 0;
}


/* ---- process table ------------------------------------------------------- */

static int proc_register(cortex_slab *s)
{
    uint32_t pid = (uint32_t)cortex__self_pid();
    uint64_t ent = ((uint64_t)pid << 32) | cortex__self_stamp();
    uint32_t me = 0;
    for (uint32_t e = 1; e < CORTEX__SLAB_PROC_ENTRIES && !me; e++)
        if (cortex__ld64(&s->sh->procs[e], CX_ACQUIRE) == ent)
            me = e;
    for (uint32_t e = 1; e < CORTEX__SLAB_PROC_ENTRIES && !me; e++) {
        uint64_t zero = 0;
        if (cortex__cas64(&s->sh->procs[e], &zero, ent, CX_ACQ_REL, CX_ACQUIRE))
            me = e;
    }
    if (!me)
        return cortex__fail(EUSERS, "slab: all %u process-table entries are taken by other processes "
                                    "(cortex_slab_reclaim() frees those of dead ones)",
                            CORTEX_SLAB_MAX_PROCS);
    cortex__st64(&s->reg, (fork_epoch << 8) | me, CX_RELAXED);
    s->pid = pid;
    return (int)me;
}

/* This process's table id (registers on first use and after a fork). */
static inline int proc_id(cortex_slab *s)
{
    uint64_t r = cortex__ld64(&s->reg, CX_RELAXED);
    if (__builtin_expect((r >> 8) == fork_epoch, 1))
        return (int)(r & 0xffu);
    return proc_register(s);
}

/* ---- the stack ------------------------------------------------------------- */

/*
 * The head as it is now: a read-modify-write, which reads the newest value in
 * the head's modification order (an acquire load may return an older one
 * under C11).  Used only to confirm "the head did not move" before acting on
 * a combination of reads (recording a taker, finishing a free, reporting
 * corruption or exhaustion); never on the fast path.
 */
static inline uint64_t head_now(cortex_slab *s) { return cortex__fadd64(&s->sh->head, 0, CX_ACQ_REL); }

static int corrupt(cortex_slab *s, const char *what, uint64_t v)
{
    (void)s;
    return cortex__fail(EBADMSG, "slab free list is corrupt: %s (%llu)", what, (unsigned long long)v);
}

/*
 * The head @p h names a taken slot.  Makes sure that slot's word records the
 * taker.  Returns 0 (recorded, or freed again since), 1 (the head moved:
 * start over) or -EBADMSG.
 */
static int help_record(cortex_slab *s, uint64_t h)
{
    uint32_t top = CX_HEAD_TOP(h);
    if (top == 0 || top > s->slots)
        return corrupt(s, "head names a taken slot out of range", top);
    cortex__a64 *wp = &s->meta[top - 1].word;
    uint64_t w = cortex__ld64(wp, CX_ACQUIRE);
    uint32_t claim = CX_HEAD_CLAIM(h);
    /*
     * Not recorded yet (the taker is slow or dead) while the word still shows
     * the free value it was taken at.  That value can change once more before
     * the record: a pusher that saw the slot as the free top may still turn
     * FREEING into FREE (same generation).  So retry until the word is
     * recorded (or freed since), or the head moves: giving up after one lost
     * CAS could leave a dead taker's slot unrecorded and then unlinked.
     */
    while (CX_IS_FREE(CX_W_STATE(w)) && (CX_W_GEN(w) & 1u) == CX_HEAD_PAR(h)) {
        if (head_now(s) != h)
            return 1;
        uint32_t pid = (uint32_t)(cortex__ld64(&s->sh->procs[claim], CX_ACQUIRE) >> 32);
        /* Not a wait: a failed CAS reloads w, which changes at most twice (FREE, then recorded). */
        if (cortex__cas64(wp, &w, cx_word(CX_W_GEN(w) + 1u, CORTEX__SLOT_ALLOC, claim, pid), CX_ACQ_REL, CX_ACQUIRE))
            break;
    }
    return 0;
}

/*
 * The first free slot under head @p h (index + 1, 0 = none): the top, or,
 * when the top is taken, the slot linked below it once the taker is
 * recorded.  Returns 0, 1 (the head moved: start over) or -EBADMSG.
 */
static int first_free(cortex_slab *s, uint64_t h, uint32_t *first)
{
    uint32_t top = CX_HEAD_TOP(h);
    *first = 0;
    if (top > s->slots)
        return corrupt(s, "head index out of range", top);
    *first = top;
    if (!CX_HEAD_CLAIM(h))
        return 0;
    int rc = help_record(s, h);
    if (rc != 0)
        return rc;
    uint32_t below = (uint32_t)cortex__ld64(&s->meta[top - 1].next, CX_ACQUIRE);
    if (below > s->slots)
        return head_now(s) == h ? corrupt(s, "link out of range", below) : 1;
    *first = below;
    return 0;
}

/*
 * Puts slot @p top1 (index + 1), whose word is already FREE, on the stack.
 * A taken top is unlinked by the same CAS (it is recorded first); when the
 * taken top is @p top1 itself, its link is rewritten with the value it has.
 */
static int push(cortex_slab *s, uint32_t top1)
{
    for (;;) {
        uint64_t h = cortex__ld64(&s->sh->head, CX_ACQUIRE);
        if (CX_HEAD_CLAIM(h) && CX_HEAD_TOP(h) == top1) {
            /*
             * Fast path: the taken top is this very slot (taken, recorded, and
             * now freed by us): giving it back only clears the claim; its link
             * already names the rest of the stack.
             */
            if (cortex__cas64(&s->sh->head, &h, cx_head(NEXT_TAG(h), 0, 0, top1), CX_ACQ_REL, CX_ACQUIRE))
                return 0;
            cortex__spin_hint();
            continue;
        }
        uint32_t below = 0;
        int rc = first_free(s, h, &below);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (!CX_HEAD_CLAIM(h) && below != 0) {
                /*
                 * About to bury the top: if its free is not finished (FREEING),
                 * finish it.  Only with a word read while the head still was h:
                 * a word read later may belong to a newer life of the slot (taken,
                 * freed, not yet relinked), which must stay FREEING for reclaim.
                 */
                cortex__a64 *tp = &s->meta[below - 1].word;
                uint64_t tw = cortex__ld64(tp, CX_ACQUIRE);
                if (CX_W_STATE(tw) == CORTEX__SLOT_FREEING && head_now(s) == h)
                    cortex__cas64(tp, &tw, cx_word(CX_W_GEN(tw), CORTEX__SLOT_FREE, 0, 0), CX_ACQ_REL, CX_ACQUIRE);
            }
            cortex__st64(&s->meta[top1 - 1].next, below, CX_RELAXED);
            if (cortex__cas64(&s->sh->head, &h, cx_head(NEXT_TAG(h), 0, 0, top1), CX_ACQ_REL, CX_ACQUIRE))
                return 0;
        }
        cortex__spin_hint();
    }
}

static inline void note_high_water(cortex_slab *s, uint32_t top1)
{
    uint64_t hw = cortex__ld64(&s->sh->high_water, CX_RELAXED);
    while (top1 > hw) {
        if (cortex__cas64(&s->sh->high_water, &hw, top1, CX_RELAXED, CX_RELAXED))
            break;
    }
}

/* ---- magazines ----------------------------------------------------------------- */

/*
 * A view can keep a magazine: a private stack of free slots (cortex_slab_magazine()).
 * A cached slot's word stays in shared memory as FREE with the holder's
 * process-table id, so the slot words alone say who holds what; alloc and
 * free from the magazine write only that word, with no read-modify-write on
 * a line another process writes (free's CAS is on the slot's own word).
 * Batches of slots move through the depot buffers: one CAS of a buffer's
 * state takes it (EMPTY -> FILLING, FULL -> TAKING), one release store hands
 * it on.  A taker relabels each slot from the filler's id to its own with a
 * CAS from the exact word the filler left, so a reclaim that returned the
 * slot meanwhile (its own CAS from that word) and the taker never both win.
 * Crash windows, and who recovers them (cortex_slab_reclaim()):
 *   cached in a dead process's magazine     FREE + dead id, in no FULL buffer
 *   FILLING by a dead process               its slots still carry its id (above);
 *                                           the buffer is emptied
 *   FULL, filler dead                        stays: any taker relabels them
 *   TAKING by a dead process                 entries not yet relabeled are
 *                                           returned from the filler's exact
 *                                           word; relabeled ones carry the
 *                                           dead taker's id (above)
 */

/* Its address names the calling thread (initial-exec: no __tls_get_addr call on the fast path). */
static _Thread_local char mag_token __attribute__((tls_model("initial-exec")));

/* The calling thread owns @p s's magazine (its entries emptied after a fork). */
static inline bool mag_mine(cortex_slab *s)
{
    if (__atomic_load_n(&s->mag_owner, __ATOMIC_RELAXED) != (const void *)&mag_token)
        return false;
    if (__builtin_expect(s->mag_epoch != fork_epoch, 0)) {
        /* A forked child: the entries are the parent's slots. */
        s->f.n = 0;
        s->mag_epoch = fork_epoch;
    }
    return true;
}

/*
 * Arms the fast paths for the calling (owning) thread, registered as @p me
 * in this fork epoch with its magazine emptied of a parent's entries
 * (mag_mine() was true): the slot words they write, precomputed.
 */
static void mag_arm(cortex_slab *s, uint32_t me)
{
    s->f.abits = cx_word(0, CORTEX__SLOT_ALLOC, me, s->pid);
    s->f.fbits = cx_word(0, CORTEX__SLOT_FREE, me, 0);
    s->f.cap = s->mag_batch + s->mag_keep - 1u; /* the fast free's room: a free that fills it gives a batch */
    if (cortex__slab_thread_key == 0)
        cortex__slab_thread_key = __atomic_add_fetch(&thread_keys, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->f.key, cortex__slab_thread_key, __ATOMIC_RELAXED);
}

/* The fast paths' test: armed by the calling thread in this process image. */
static inline bool mag_fast(const cortex_slab *s)
{
    return __atomic_load_n(&s->f.key, __ATOMIC_RELAXED) == cortex__slab_thread_key;
}

#define MAG_SLOT1(e) ((uint32_t)(e)&0xffffffu)
#define MAG_GEN(e) ((uint32_t)((e) >> 32))

/* Returns cached slot @p e (ours) to the shared stack: FREEING (ours) until it is linked. */
static int mag_release(cortex_slab *s, uint32_t me, uint64_t e)
{
    uint32_t i = MAG_SLOT1(e);
    uint64_t w = cx_word(MAG_GEN(e), CORTEX__SLOT_FREE, me, 0);
    if (i == 0 || i > s->slots)
        return corrupt(s, "magazine entry out of range", i);
    if (!cortex__cas64(&s->meta[i - 1].word, &w, cx_word(MAG_GEN(e), CORTEX__SLOT_FREEING, me, 0), CX_ACQ_REL,
                       CX_ACQUIRE))
        return 0; /* no longer ours (a reclaim judged us dead): nothing to give back */
    return push(s, i);
}

/* Moves the top @p n entries of the magazine to the shared stack. */
static int mag_release_n(cortex_slab *s, uint32_t me, uint32_t n)
{
    int rc = 0;
    for (; n > 0 && s->f.n > 0; n--) {
        int r = mag_release(s, me, s->f.mag[--s->f.n]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

/* A full magazine: one batch goes to an EMPTY depot buffer, or to the shared stack if none is. */
static int mag_put(cortex_slab *s, uint32_t me)
{
    uint32_t b = s->mag_batch;
    const uint64_t *src = &s->f.mag[s->f.n - b];
    for (uint32_t k = 0; k < s->depots; k++) {
        uint32_t d = (s->mag_hint + k) % s->depots;
        cortex__a64 *st = &s->depot[d].state;
        uint64_t v = cortex__ld64(st, CX_RELAXED);
        if (CX_D_KIND(v) != CORTEX__DEPOT_EMPTY ||
            !cortex__cas64(st, &v, cx_depot(CORTEX__DEPOT_FILLING, me, 0, me), CX_ACQUIRE, CX_RELAXED))
            continue;
#if defined(CORTEX_SEED_SLAB_DEPOT_EARLY_FULL)
        cortex__st64(st, cx_depot(CORTEX__DEPOT_FULL, me, b, me), CX_RELEASE);
        for (uint32_t j = 0; j < b; j++)
            cortex__st64(&s->depot[d].ent[j], src[j], CX_RELAXED);
#else
        for (uint32_t j = 0; j < b; j++)
            cortex__st64(&s->depot[d].ent[j], src[j], CX_RELAXED);
        /* Publishes the entries: a taker's CAS (acquire) of this value reads them. */
        cortex__st64(st, cx_depot(CORTEX__DEPOT_FULL, me, b, me), CX_RELEASE);
#endif
        s->f.n -= b;
        s->mag_hint = d;
        return 0;
    }
    return mag_release_n(s, me, b);
}

/*
 * Takes a FULL depot buffer, looking from buffer *@p hint on (set to the
 * one taken): its slots, relabeled as ours, are appended to @p dst (*@p dn
 * entries, room for a batch more).  1 (entries added), 0 (no
 * full buffer), -EBADMSG (a buffer with hostile contents; emptied).
 */
static int depot_take(cortex_slab *s, uint32_t me, uint64_t *dst, uint32_t *dn, uint32_t *hint)
{
    for (uint32_t k = 0; k < s->depots; k++) {
        uint32_t d = (*hint + k) % s->depots;
        cortex__a64 *st = &s->depot[d].state;
        uint64_t v = cortex__ld64(st, CX_RELAXED);
        if (CX_D_KIND(v) != CORTEX__DEPOT_FULL)
            continue;
        uint32_t n = CX_D_COUNT(v), from = CX_D_PROC(v);
        if (!cortex__cas64(st, &v, cx_depot(CORTEX__DEPOT_TAKING, me, n, from), CX_ACQUIRE, CX_RELAXED))
            continue;
        *hint = d;
        if (n > CORTEX__SLAB_MAG_BATCH || from == 0 || from >= CORTEX__SLAB_PROC_ENTRIES) {
            cortex__st64(st, cx_depot(CORTEX__DEPOT_EMPTY, 0, 0, 0), CX_RELEASE);
            return cortex__fail(EBADMSG,
                                "slab depot buffer %u is corrupt (%u entries from process-table id %u): emptied; "
                                "its slots stay cached until cortex_slab_repair()",
                                d, n, from);
        }
        uint32_t bad = 0, got = 0;
        for (uint32_t j = 0; j < n; j++) {
            uint64_t e = cortex__ld64(&s->depot[d].ent[j], CX_RELAXED);
            uint32_t i = MAG_SLOT1(e);
            if (i == 0 || i > s->slots) {
                bad++;
                continue;
            }
            cortex__a64 *wp = &s->meta[i - 1].word;
            uint64_t w = cx_word(MAG_GEN(e), CORTEX__SLOT_FREE, from, 0);
            /* Ours already (we filled it): check the word, no write.  Else relabel from the filler's exact word. */
#if defined(CORTEX_SEED_SLAB_RELABEL_STORE)
            bool ok = cortex__ld64(wp, CX_ACQUIRE) == w;
            if (ok && from != me)
                cortex__st64(wp, cx_word(MAG_GEN(e), CORTEX__SLOT_FREE, me, 0), CX_RELEASE);
#else
            bool ok = from == me ? cortex__ld64(wp, CX_ACQUIRE) == w
                                 : cortex__cas64(wp, &w, cx_word(MAG_GEN(e), CORTEX__SLOT_FREE, me, 0), CX_ACQ_REL,
                                                 CX_ACQUIRE);
#endif
            if (ok) {
                dst[(*dn)++] = ((uint64_t)MAG_GEN(e) << 32) | i;
                got++;
            }
        }
        cortex__st64(st, cx_depot(CORTEX__DEPOT_EMPTY, 0, 0, 0), CX_RELEASE);
        if (bad)
            return cortex__fail(EBADMSG, "slab depot buffer %u names %u slots out of range (skipped)", d, bad);
        if (got)
            return 1;
    }
    return 0;
}

/*
 * Sweep mode's first choice while some slot of the class was never used
 * (the high-water mark is below the slot count): the shared stack, while
 * its top is a free slot.  The stack hands out never-used slots in index
 * order, and taking them first brings every slot of the class into the
 * cycle, so that a slot comes back only after the others have been used.
 * Taking the depot's batches whenever there are any cycled only the slots
 * in use before the first batch came back and left the rest parked
 * (docs/channel.md, "Slot reuse and the producer's stores").  Only when the
 * depot holds the whole class in this view's batches: then a peer with the
 * same batch never pushes a batch onto the stack for want of a buffer, so
 * what the stack holds was never used (or a reclaim returned it).  With a
 * smaller depot (more than 64 batches, or a smaller batch) the stack would
 * also hold the peer's newest batches, on top: the depot comes first, as it
 * does once every slot has been used.
 */
static bool stack_first(cortex_slab *s)
{
    if ((uint64_t)s->depots * s->mag_batch < s->slots ||
        cortex__ld64(&s->sh->high_water, CX_RELAXED) >= s->slots)
        return false;
    uint64_t h = cortex__ld64(&s->sh->head, CX_RELAXED);
    return CX_HEAD_TOP(h) != 0 && CX_HEAD_CLAIM(h) == 0;
}

/* An empty magazine: refilled from a FULL depot buffer (depot_take()); 0 also when the stack comes first. */
static inline int mag_take(cortex_slab *s, uint32_t me)
{
    if (s->mag_sweep) {
        if (stack_first(s))
            return 0;
        /* the buffer after the one taken last: filled longest ago when all are full */
        s->mag_hint = (s->mag_hint + 1) % s->depots;
    }
    return depot_take(s, me, s->f.mag, &s->f.n, &s->mag_hint);
}

/*
 * The shared stack is empty: moves one FULL depot buffer's slots onto it, so
 * views without a magazine (and this one) can have them.  1 (moved), 0 (the
 * depot is empty too), -EBADMSG.
 */
static int depot_spill(cortex_slab *s, uint32_t me)
{
    uint64_t tmp[CORTEX__SLAB_MAG_BATCH];
    uint32_t n = 0, hint = 0; /* any thread may spill: nothing of the view's magazine is touched */
    int rc = depot_take(s, me, tmp, &n, &hint);
    for (uint32_t j = 0; j < n; j++) {
        int r = mag_release(s, me, tmp[j]);
        if (r < 0 && rc >= 0)
            rc = r;
    }
    return rc < 0 ? rc : n > 0;
}

/* Gives every cached slot of this view back to the shared stack (close, repair, resize). */
static int mag_flush(cortex_slab *s)
{
    if (!s->mag_batch || s->mag_epoch != fork_epoch || s->f.n == 0) {
        s->f.n = 0;
        return 0;
    }
    uint64_t r = cortex__ld64(&s->reg, CX_RELAXED);
    if ((r >> 8) != fork_epoch) {
        s->f.n = 0;
        return 0;
    }
    return mag_release_n(s, (uint32_t)(r & 0xffu), s->f.n);
}

int cortex__slab_magazine_tune(cortex_slab *s, uint32_t batch, uint32_t keep, bool sweep)
{
    if (!s)
        return cortex__fail(EINVAL, "cortex_slab_magazine: NULL slab");
    if (batch > CORTEX_SLAB_MAGAZINE_MAX)
        return cortex__fail(EINVAL, "cortex_slab_magazine: batch %u is more than %u", batch, CORTEX_SLAB_MAGAZINE_MAX);
    if (keep > batch)
        return cortex__fail(EINVAL, "cortex_slab_magazine: keeps %u entries after a batch of %u", keep, batch);
    int rc = mag_flush(s);
    s->f.n = 0;
    s->mag_batch = batch;
    s->mag_keep = keep;
    s->mag_sweep = sweep;
    s->mag_epoch = fork_epoch;
    s->f.hw = 0;
    __atomic_store_n(&s->f.key, KEY_NONE, __ATOMIC_RELAXED);
    __atomic_store_n(&s->mag_owner, batch ? (const void *)&mag_token : NULL, __ATOMIC_RELAXED);
    return rc;
}

int cortex_slab_magazine(cortex_slab *s, uint32_t batch) { return cortex__slab_magazine_tune(s, batch, batch, false); }

int cortex__slab_mag_close(cortex_slab *s)
{
    int rc = mag_flush(s);
    s->mag_batch = 0;
    __atomic_store_n(&s->f.key, KEY_NONE, __ATOMIC_RELAXED);
    __atomic_store_n(&s->mag_owner, NULL, __ATOMIC_RELAXED);
    return rc;
}

/* Alloc from the magazine: 1 (*out set), 0 (empty: use the shared stack), < 0. */
static inline int mag_alloc(cortex_slab *s, uint32_t me, cortex_handle *out)
{
    if (s->f.n == 0) {
        int rc = mag_take(s, me);
        if (rc <= 0)
            return rc;
    }
    uint64_t e = s->f.mag[--s->f.n];
    uint32_t i = MAG_SLOT1(e), gen = MAG_GEN(e) + 1u;
    /* Nobody else writes a word cached by a live process: a store, no RMW. */
    cortex__st64(&s->meta[i - 1].word, cx_word(gen, CORTEX__SLOT_ALLOC, me, s->pid), CX_RELEASE);
    if (__builtin_expect(i > s->f.hw, 0)) {
        note_high_water(s, i);
        s->f.hw = i;
    }
    *out = cx_handle(gen, s->tag, i);
    return 1;
}

/*
 * A slot this view took from the shared stack will be cached: unlink it now.
 * Left as the head's claimed top, its word cycling through the magazine would
 * show the head's parity again, and a helper would record it as taken.
 */
static void unlink_taken(cortex_slab *s, uint32_t me, uint32_t c)
{
    uint64_t h = cortex__ld64(&s->sh->head, CX_ACQUIRE);
    while (CX_HEAD_CLAIM(h) == me && CX_HEAD_TOP(h) == c) {
        uint32_t below = (uint32_t)cortex__ld64(&s->meta[c - 1].next, CX_ACQUIRE);
        if (cortex__cas64(&s->sh->head, &h, cx_head(NEXT_TAG(h), 0, 0, below), CX_ACQ_REL, CX_ACQUIRE))
            return;
    }
}

/* Everything but a magazine hit: arguments, registration, refill, the shared stack. */
static __attribute__((noinline)) int alloc_slow(cortex_slab *s, cortex_handle *out)
{
    if (!s || !out)
        return cortex__fail(EINVAL, "cortex_slab_alloc: NULL argument");
    int me = proc_id(s);
    if (me < 0)
        return me;
    bool cache = s->mag_batch && mag_mine(s);
    if (cache) {
        mag_arm(s, (uint32_t)me);
        int rc = mag_alloc(s, (uint32_t)me, out);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    for (;;) {
        uint64_t h = cortex__ld64(&s->sh->head, CX_ACQUIRE);
        uint32_t c = 0;
        int rc = first_free(s, h, &c);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            cortex__spin_hint();
            continue;
        }
        if (c == 0) {
            /* Slots parked in the depot are free too: bring a batch here first. */
            int sp = depot_spill(s, (uint32_t)me);
            if (sp < 0)
                return sp;
            if (sp > 0)
                continue;
            /*
             * Empty as of the head we read.  Not confirmed with head_now(): a
             * caller that spins on -ENOSPC would turn that into a stream of
             * writes to the head's line while others free.
             */
            cortex__fadd64(&s->sh->failed, 1, CX_RELAXED);
            return cortex__fail(ENOSPC, "slab exhausted: all %u slots are allocated", s->slots);
        }
        cortex__a64 *wp = &s->meta[c - 1].word;
        uint64_t w = cortex__ld64(wp, CX_ACQUIRE);
        if (!CX_IS_FREE(CX_W_STATE(w))) {
            /* A free-list entry that is not free: corrupt, unless the head moved meanwhile. */
            if (head_now(s) == h)
                return corrupt(s, "free list reaches a slot in use (a cycle?)", c - 1);
            cortex__spin_hint();
            continue;
        }
        uint64_t nh = cx_head(NEXT_TAG(h), CX_W_GEN(w) & 1u, (uint32_t)me, c);
        HOOK(before_cas, s);
        if (!cortex__cas64(&s->sh->head, &h, nh, CX_ACQ_REL, CX_ACQUIRE)) {
            cortex__spin_hint();
            continue;
        }
        /* Taken: the head names us.  Now the slot word (a helper may have written the same value). */
        uint32_t gen = CX_W_GEN(w) + 1u;
#if defined(CORTEX_SEED_SLAB_GEN_AFTER_STATE)
        cortex__st64(wp, cx_word(CX_W_GEN(w), CORTEX__SLOT_ALLOC, (uint32_t)me, s->pid), CX_RELEASE);
        HOOK(after_take, s);
        cortex__st64(wp, cx_word(gen, CORTEX__SLOT_ALLOC, (uint32_t)me, s->pid), CX_RELEASE);
#else
        cortex__st64(wp, cx_word(gen, CORTEX__SLOT_ALLOC, (uint32_t)me, s->pid), CX_RELEASE);
        HOOK(after_take, s);
#endif
        note_high_water(s, c);
        if (cache)
            unlink_taken(s, (uint32_t)me, c);
        *out = cx_handle(gen, s->tag, c);
        return 0;
    }
}

/*
 * The magazine hit: the owning thread pops a cached slot and stores its
 * word (no read-modify-write: nobody else writes a word cached by a live
 * process), with nothing to check that was not checked when it was cached.
 * An entry is generation << 32 | index + 1, so the next generation's word
 * and handle are the entry + 1 << 32 with the precomputed low bits.
 * Returns the handle; the caller checked mag_n > 0 and mag_fast().
 */
static inline cortex_handle mag_pop(cortex_slab *s)
{
    uint64_t e = s->f.mag[--s->f.n] + (UINT64_C(1) << 32);
    uint32_t i = MAG_SLOT1(e);
    cortex__st64(&s->meta[i - 1].word, (e & ~UINT64_C(0xffffffff)) | s->f.abits, CX_RELEASE);
    if (__builtin_expect(i > s->f.hw, 0)) {
        note_high_water(s, i);
        s->f.hw = i;
    }
    return e | s->f.tag24;
}

int cortex_slab_alloc(cortex_slab *s, cortex_handle *out)
{
    if (__builtin_expect(!s || !out || !mag_fast(s) || s->f.n == 0, 0))
        return alloc_slow(s, out);
    *out = mag_pop(s);
    return 0;
}

int cortex_slab_alloc_get(cortex_slab *s, cortex_handle *out, void **ptr)
{
    cortex_handle h;
    if (__builtin_expect(!s || !out || !ptr, 0))
        return cortex__fail(EINVAL, "cortex_slab_alloc_get: NULL argument");
    if (__builtin_expect(mag_fast(s) && s->f.n != 0, 1)) {
        h = mag_pop(s);
    } else {
        int rc = alloc_slow(s, &h);
        if (rc < 0)
            return rc;
    }
    *out = h;
    *ptr = s->data + (size_t)(CX_H_SLOT1(h) - 1u) * s->stride;
    return 0;
}

/* Index + 1 of a handle of this slab, or 0 (another slab's tag, NULL, out of range). */
static inline uint32_t handle_slot(const cortex_slab *s, cortex_handle h)
{
    uint32_t i = CX_H_SLOT1(h);
    return (cortex_handle_tag(h) != s->tag || i == 0 || i > s->slots) ? 0 : i;
}

/*
 * Why handle_slot() refused @p h, recorded as the last error of @p op:
 * -EINVAL (NULL handle, index out of range) or -ESTALE (another slab's tag).
 */
static int bad_handle(const cortex_slab *s, cortex_handle h, const char *op)
{
    if (h == CORTEX_HANDLE_NULL)
        return cortex__fail(EINVAL, "%s: NULL handle", op);
    if (cortex_handle_tag(h) != s->tag)
        return cortex__fail(ESTALE, "%s: handle 0x%016llx belongs to another slab (tag 0x%02x, this slab's is 0x%02x)",
                            op, (unsigned long long)h, cortex_handle_tag(h), s->tag);
    return cortex__fail(EINVAL, "%s: handle 0x%016llx names slot %lld, the slab has %u", op, (unsigned long long)h,
                        (long long)CX_H_SLOT1(h) - 1, s->slots);
}

/* Records why get refused a handle whose slot word is @p w (the failure path only). */
static __attribute__((noinline)) void *get_refused(const cortex_slab *s, cortex_handle h, uint64_t w)
{
    if (!handle_slot(s, h)) {
        (void)bad_handle(s, h, "cortex_slab_get");
        return NULL;
    }
    uint32_t st = CX_W_STATE(w);
    (void)cortex__fail(ESTALE, "cortex_slab_get: handle of slot %u generation %u is stale (slot is %s, generation %u)",
                       CX_H_SLOT1(h) - 1, cortex_handle_generation(h), CX_IS_FREE(st) ? "free" : "in use",
                       CX_W_GEN(w));
    return NULL;
}

void *cortex_slab_get(cortex_slab *s, cortex_handle h)
{
    if (!s) {
        (void)cortex__fail(EINVAL, "cortex_slab_get: NULL slab");
        return NULL;
    }
    uint32_t i = handle_slot(s, h);
    if (__builtin_expect(!i, 0))
        return get_refused(s, h, 0);
    uint64_t w = cortex__ld64(&s->meta[i - 1].word, CX_ACQUIRE);
    /* The same generation, and ALLOC or IN_FLIGHT (state - 1 is 0 or 1). */
    if (__builtin_expect(((w ^ h) >> 32) != 0 || CX_W_STATE(w) - 1u > 1u, 0))
        return get_refused(s, h, w);
    return s->data + (size_t)(i - 1) * s->stride;
}

#define KEEP_OWNER 0xffffffffu

/*
 * One checked transition of the slot word: from state @p from (with the
 * handle's generation) to (@p to, owner), the generation advanced by
 * @p step.  0, -ESTALE, -EBUSY, -EINVAL.
 */
static int transition(cortex_slab *s, cortex_handle h, uint32_t from, uint32_t to, uint32_t proc, uint32_t pid,
                      uint32_t step, const char *op)
{
    uint32_t i = handle_slot(s, h);
    if (!i)
        return bad_handle(s, h, op);
    uint32_t gen = cortex_handle_generation(h);
    cortex__a64 *wp = &s->meta[i - 1].word;
    uint64_t w = cortex__ld64(wp, CX_ACQUIRE);
    for (;;) {
        uint32_t st = CX_W_STATE(w);
        if (CX_W_GEN(w) != gen || CX_IS_FREE(st))
            return cortex__fail(ESTALE, "%s: handle of slot %u generation %u is stale (slot is %s, generation %u)",
                                op, i - 1, gen, CX_IS_FREE(st) ? "free" : "reused", CX_W_GEN(w));
        if (st != from)
            return cortex__fail(EBUSY, "%s: slot %u is %s", op, i - 1,
                                st == CORTEX__SLOT_INFLIGHT ? "in flight (receive it first)" : "not in flight");
        uint64_t nw = proc == KEEP_OWNER ? cx_word(gen + step, to, CX_W_PROC(w), CX_W_PID(w))
                                             : cx_word(gen + step, to, proc, pid);
        if (cortex__cas64(wp, &w, nw, CX_ACQ_REL, CX_ACQUIRE))
            return 0;
    }
}

/* Everything but the fast free below: checks that say why, peers' slots, a full magazine, no magazine. */
static __attribute__((noinline)) int free_slow(cortex_slab *s, cortex_handle h)
{
    if (!s)
        return cortex__fail(EINVAL, "cortex_slab_free: NULL slab");
    if (s->mag_batch && mag_mine(s)) {
        int me = proc_id(s);
        if (me < 0)
            return me;
        mag_arm(s, (uint32_t)me);
        /* Cached: FREE with our id (one CAS on the slot's word), on our stack. */
        uint32_t i = handle_slot(s, h);
        uint64_t w = cx_word(cortex_handle_generation(h), CORTEX__SLOT_ALLOC, 0, 0);
        if (i) {
            w = cortex__ld64(&s->meta[i - 1].word, CX_RELAXED);
            if (CX_W_GEN(w) != cortex_handle_generation(h) || CX_W_STATE(w) != CORTEX__SLOT_ALLOC)
                i = 0;
        }
        if (!i || !cortex__cas64(&s->meta[i - 1].word, &w,
                                 cx_word(cortex_handle_generation(h), CORTEX__SLOT_FREE, (uint32_t)me, 0),
                                 CX_ACQ_REL, CX_ACQUIRE)) {
            /* Refused or raced: the checked path says why (or wins the retry). */
            int rc = transition(s, h, CORTEX__SLOT_ALLOC, CORTEX__SLOT_FREE, (uint32_t)me, 0, 0,
                                "cortex_slab_free");
            if (rc < 0)
                return rc;
        }
        s->f.mag[s->f.n++] = ((uint64_t)cortex_handle_generation(h) << 32) | CX_H_SLOT1(h);
        return s->f.n >= s->mag_batch + s->mag_keep ? mag_put(s, (uint32_t)me) : 0;
    }
    /* FREEING keeps the owner: if we die before the slot is linked, reclaim links it. */
    int rc = transition(s, h, CORTEX__SLOT_ALLOC, CORTEX__SLOT_FREEING, KEEP_OWNER, 0, 0, "cortex_slab_free");
    if (rc < 0)
        return rc;
    return push(s, CX_H_SLOT1(h));
}

/*
 * The fast free: the magazine's thread frees a slot this process allocated
 * (its word is exactly ALLOC, our table id and pid, the handle's
 * generation) into a magazine with room.  A live process's allocated slot
 * changes only by its holder's free, send or receive, so the word is
 * written with a store.  Two holders freeing one handle at the same instant
 * (a double free that is a race in the caller) are not told apart here:
 * docs/slab.md, "The fast path".  Anything else: free_slow().
 * (uint32_t)h - tag24 - 1 < slots checks the tag and the index at once
 * (slots < 2^24).
 */
int cortex_slab_free(cortex_slab *s, cortex_handle h)
{
    if (__builtin_expect(!s || !mag_fast(s) || s->f.n >= s->f.cap, 0))
        return free_slow(s, h);
    uint32_t i = (uint32_t)h - s->f.tag24;
    if (__builtin_expect(i - 1u >= s->slots, 0))
        return free_slow(s, h);
    uint64_t gen = h & ~UINT64_C(0xffffffff);
    cortex__a64 *wp = &s->meta[i - 1].word;
#if defined(CORTEX_SEED_SLAB_FAST_FREE_ANY_OWNER)
    if (((cortex__ld64(wp, CX_RELAXED) ^ (gen | s->f.abits)) & ~UINT64_C(0x3fffffff)) != 0)
        return free_slow(s, h);
#else
    if (__builtin_expect(cortex__ld64(wp, CX_RELAXED) != (gen | s->f.abits), 0))
        return free_slow(s, h);
#endif
    cortex__st64(wp, gen | s->f.fbits, CX_RELEASE);
    s->f.mag[s->f.n++] = gen | i;
    return 0;
}

int cortex_slab_send(cortex_slab *s, cortex_handle h)
{
    if (!s)
        return cortex__fail(EINVAL, "cortex_slab_send: NULL slab");
    /* The owner of record stays the sender until the receiver takes it. */
    return transition(s, h, CORTEX__SLOT_ALLOC, CORTEX__SLOT_INFLIGHT, KEEP_OWNER, 0, 0, "cortex_slab_send");
}

int cortex_slab_receive(cortex_slab *s, cortex_handle *h)
{
    if (!s || !h)
        return cortex__fail(EINVAL, "cortex_slab_receive: NULL %s", s ? "handle pointer" : "slab");
    int me = proc_id(s);
    if (me < 0)
        return me;
    /*
     * One CAS: in flight at the sent generation -> ours at that generation
     * + 2.  A process killed before it leaves the slot in flight (the
     * sender's, or reclaimable with CORTEX_SLAB_RECLAIM_IN_FLIGHT); killed
     * after, it leaves the slot allocated to itself (reclaimable).  The new
     * handle is computed from the sent one, never read back from shared
     * memory.
     */
    cortex_handle sent = *h;
    int rc = transition(s, sent, CORTEX__SLOT_INFLIGHT, CORTEX__SLOT_ALLOC, (uint32_t)me, s->pid, RECEIVE_STEP,
                        "cortex_slab_receive");
    if (rc < 0)
        return rc;
    *h = cx_handle(cortex_handle_generation(sent) + RECEIVE_STEP, s->tag, CX_H_SLOT1(sent));
    return 0;
}

/* ---- reclaim ----------------------------------------------------------------- */

/*
 * Reclaim's part of the depot: empties the buffers dead processes were
 * filling (their slots still carry the dead filler's id: the sweep returns
 * them); returns the entries of buffers a dead process was taking that it had
 * not relabeled yet (a CAS from the filler's exact word, so a live filler's
 * or taker's slot is never touched); and marks in *@p in_full (a bitmap,
 * malloc'd) the slots FULL buffers hold, which stay cached there.  Freed
 * slots pass through FREEING under @p mine, as in the sweep.
 */
static int reclaim_depot(cortex_slab *s, const unsigned char *dead, uint32_t mine, uint32_t my_pid, uint8_t **in_full,
                         int *freed)
{
    uint8_t *bits = calloc((size_t)s->slots / 8u + 1u, 1);
    if (!bits)
        return cortex__fail(ENOMEM, "cortex_slab_reclaim: out of memory for a %u-slot bitmap (nothing reclaimed)",
                            s->slots);
    for (uint32_t d = 0; d < s->depots; d++) {
        cortex__a64 *st = &s->depot[d].state;
        uint64_t v = cortex__ld64(st, CX_ACQUIRE);
        uint32_t kind = CX_D_KIND(v), p = CX_D_PROC(v), n = CX_D_COUNT(v), from = CX_D_FILLER(v);
        n = n > CORTEX__SLAB_MAG_BATCH ? CORTEX__SLAB_MAG_BATCH : n;
        if (kind == CORTEX__DEPOT_FULL) {
            for (uint32_t j = 0; j < n; j++) {
                uint32_t i = MAG_SLOT1(cortex__ld64(&s->depot[d].ent[j], CX_RELAXED));
                if (i != 0 && i <= s->slots)
                    bits[(i - 1) >> 3] |= (uint8_t)(1u << ((i - 1) & 7));
            }
            continue;
        }
        if (kind == CORTEX__DEPOT_EMPTY || p >= CORTEX__SLAB_PROC_ENTRIES || !dead[p])
            continue;
        if (kind == CORTEX__DEPOT_TAKING && from != 0 && from < CORTEX__SLAB_PROC_ENTRIES) {
            for (uint32_t j = 0; j < n; j++) {
                uint64_t e = cortex__ld64(&s->depot[d].ent[j], CX_RELAXED);
                uint32_t i = MAG_SLOT1(e);
                uint64_t w = cx_word(MAG_GEN(e), CORTEX__SLOT_FREE, from, 0);
                if (i == 0 || i > s->slots ||
                    !cortex__cas64(&s->meta[i - 1].word, &w,
                                   cx_word(MAG_GEN(e), CORTEX__SLOT_FREEING, mine, my_pid), CX_ACQ_REL, CX_ACQUIRE))
                    continue;
                int rc = push(s, i);
                if (rc < 0) {
                    free(bits);
                    return rc;
                }
                (*freed)++;
            }
        }
        cortex__cas64(st, &v, cx_depot(CORTEX__DEPOT_EMPTY, 0, 0, 0), CX_ACQ_REL, CX_RELAXED);
    }
    *in_full = bits;
    return 0;
}

int cortex_slab_reclaim(cortex_slab *s, unsigned flags)
{
    if (!s)
        return cortex__fail(EINVAL, "cortex_slab_reclaim: NULL slab");
    /*
     * The slots this reclaim frees pass through FREEING under OUR table id:
     * if we are killed between that CAS and the push, the next reclaim finds
     * a FREEING slot of a dead process and links it, as for a dying free.
     * Only with a full table (no id for us) is that window left to repair().
     */
    int me = proc_id(s);
    uint32_t mine = me > 0 ? (uint32_t)me : 0, my_pid = me > 0 ? s->pid : 0;
    /* Which table entries belong to dead processes (entry value as seen now). */
    uint64_t ents[CORTEX__SLAB_PROC_ENTRIES];
    unsigned char dead[CORTEX__SLAB_PROC_ENTRIES];
    for (uint32_t e = 0; e < CORTEX__SLAB_PROC_ENTRIES; e++) {
        ents[e] = e ? cortex__ld64(&s->sh->procs[e], CX_ACQUIRE) : 0;
        dead[e] = e && ents[e] && !cortex__slab_proc_alive(ents[e]);
    }
    /* A slot a dead process took but whose word it never wrote: record it and unlink it, so the sweep sees it. */
    for (uint32_t tries = 0; tries < 1000; tries++) {
        uint64_t h = cortex__ld64(&s->sh->head, CX_ACQUIRE);
        uint32_t claim = CX_HEAD_CLAIM(h), below;
        if (!claim || !dead[claim])
            break;
        int rc = first_free(s, h, &below);
        if (rc < 0)
            return rc;
        if (rc == 0 && cortex__cas64(&s->sh->head, &h, cx_head(NEXT_TAG(h), 0, 0, below), CX_ACQ_REL, CX_ACQUIRE))
            break;
        cortex__spin_hint();
    }
    int freed = 0;
    bool any_dead = false;
    for (uint32_t e = 1; e < CORTEX__SLAB_PROC_ENTRIES; e++)
        any_dead |= dead[e] != 0;
    /* The depot buffers a dead process was filling or taking; which slots FULL buffers hold (those stay). */
    uint8_t *in_full = NULL;
    if (any_dead) {
        int rc = reclaim_depot(s, dead, mine, my_pid, &in_full, &freed);
        if (rc < 0)
            return rc;
    }
    for (uint32_t i = 0; i < s->slots && any_dead; i++) {
        cortex__a64 *wp = &s->meta[i].word;
        uint64_t w = cortex__ld64(wp, CX_ACQUIRE);
        for (;;) {
            uint32_t st = CX_W_STATE(w), p = CX_W_PROC(w);
            bool held = st == CORTEX__SLOT_ALLOC || st == CORTEX__SLOT_FREEING ||
                        (st == CORTEX__SLOT_INFLIGHT && (flags & CORTEX_SLAB_RECLAIM_IN_FLIGHT)) ||
                        (st == CORTEX__SLOT_FREE && p != 0 && !(in_full[i >> 3] & (1u << (i & 7))));
            if (!held || p >= CORTEX__SLAB_PROC_ENTRIES || !dead[p])
                break;
            /* A FREEING top is linked already; any other FREEING slot's free died before linking it. */
            if (st == CORTEX__SLOT_FREEING && CX_HEAD_TOP(cortex__ld64(&s->sh->head, CX_ACQUIRE)) == i + 1)
                break;
            /*
             * Another reclaim may have freed the entry and a new process taken it:
             * then the slot (which we read after) is that process's.  Still the dead one's?
             */
            if (cortex__ld64(&s->sh->procs[p], CX_ACQUIRE) != ents[p])
                break;
            if (cortex__cas64(wp, &w, cx_word(CX_W_GEN(w), CORTEX__SLOT_FREEING, mine, my_pid), CX_ACQ_REL,
                              CX_ACQUIRE)) {
                HOOK(reclaim_before_push, s);
                int rc = push(s, i + 1);
                if (rc < 0) {
                    free(in_full);
                    return rc;
                }
                freed++;
                break;
            }
        }
    }
    free(in_full);
    /*
     * Free the dead processes' table entries, unless a slot still names one
     * (an in-flight slot kept because the flag was not given).
     */
    for (uint32_t e = 1; e < CORTEX__SLAB_PROC_ENTRIES; e++) {
        if (!dead[e])
            continue;
        bool used = false;
        for (uint32_t i = 0; i < s->slots && !used; i++) {
            uint64_t w = cortex__ld64(&s->meta[i].word, CX_ACQUIRE);
            used = CX_W_STATE(w) != CORTEX__SLOT_FREE && CX_W_PROC(w) == e;
            /* (a FREEING top of theirs keeps the entry until someone pushes over it) */
        }
        if (!used)
            cortex__cas64(&s->sh->procs[e], &ents[e], 0, CX_ACQ_REL, CX_RELAXED);
    }
    return freed;
}

/* ---- quiescent repair --------------------------------------------------------- */

int cortex_slab_repair(cortex_slab *s)
{
    if (!s)
        return cortex__fail(EINVAL, "cortex_slab_repair: NULL slab");
    /* Finish a pending take (so its slot reads as allocated), then relink every free slot. */
    uint64_t h = cortex__ld64(&s->sh->head, CX_ACQUIRE);
    if (CX_HEAD_CLAIM(h) && CX_HEAD_TOP(h) >= 1 && CX_HEAD_TOP(h) <= s->slots && help_record(s, h) < 0)
        return cortex_last_error()->code;
    /* Count the free slots the list reaches (bounded walk), to report what was lost. */
    uint32_t listed = 0, cur = 0;
    if (first_free(s, h, &cur) != 0)
        cur = 0;
    while (cur != 0 && cur <= s->slots && listed <= s->slots) {
        listed++;
        cur = (uint32_t)cortex__ld64(&s->meta[cur - 1].next, CX_ACQUIRE);
    }
    /* Quiescent: every magazine and depot buffer is given up; their slots go on the stack. */
    s->f.n = 0;
    for (uint32_t d = 0; d < s->depots; d++)
        cortex__st64(&s->depot[d].state, cx_depot(CORTEX__DEPOT_EMPTY, 0, 0, 0), CX_RELEASE);
    uint32_t nfree = 0, top = 0;
    for (uint32_t i = s->slots; i-- > 0;) {
        uint64_t w = cortex__ld64(&s->meta[i].word, CX_ACQUIRE);
        if (CX_W_STATE(w) > CORTEX__SLOT_INFLIGHT || (CX_W_STATE(w) == CORTEX__SLOT_FREE && CX_W_PROC(w) != 0))
            cortex__st64(&s->meta[i].word, cx_word(CX_W_GEN(w), CORTEX__SLOT_FREE, 0, 0), CX_RELEASE);
        else if (CX_W_STATE(w) != CORTEX__SLOT_FREE)
            continue;
        cortex__st64(&s->meta[i].next, top, CX_RELAXED);
        top = i + 1;
        nfree++;
    }
    cortex__st64(&s->sh->head, cx_head(NEXT_TAG(h), 0, 0, top), CX_RELEASE);
    return listed >= nfree ? 0 : (int)(nfree - listed);
}

/* ---- counters ---------------------------------------------------------------- */

int cortex_slab_stats_get(cortex_slab *s, cortex_slab_stats *out)
{
    if (!s || !out)
        return cortex__fail(EINVAL, "cortex_slab_stats_get: NULL argument");
    memset(out, 0, sizeof *out);
    out->slots = s->slots;
    out->slot_size = s->slot_size;
    out->stride = s->stride;
    for (uint32_t i = 0; i < s->slots; i++) {
        uint64_t w = cortex__ld64(&s->meta[i].word, CX_RELAXED);
        switch (CX_W_STATE(w)) {
        case CORTEX__SLOT_ALLOC: out->allocated++; break;
        case CORTEX__SLOT_INFLIGHT: out->in_flight++; break;
        default: out->free++; break;
        }
    }
    /* A slot taken but whose word is not yet written still counts as free here: approximate. */
    uint64_t hw = cortex__ld64(&s->sh->high_water, CX_RELAXED);
    out->high_water = hw > s->slots ? s->slots : (uint32_t)hw;
    out->failed = cortex__ld64(&s->sh->failed, CX_RELAXED);
    return 0;
}

uint32_t cortex_slab_slots(const cortex_slab *s) { return s ? s->slots : 0; }

/* ---- the out-of-line copies the header's inline fast paths call ---------------- */

_Static_assert(offsetof(struct cortex_slab, f) == 0, "the fast-path state is a view's first member");
_Static_assert(sizeof(((cortex_slab_fast_ *)0)->mag) == sizeof(uint64_t) * 2u * CORTEX_SLAB_MAGAZINE_MAX,
               "a magazine holds 2 x the largest batch");

int cortex_slab_alloc_lib(cortex_slab *s, cortex_handle *out) { return cortex_slab_alloc(s, out); }
int cortex_slab_alloc_get_lib(cortex_slab *s, cortex_handle *out, void **ptr)
{
    return cortex_slab_alloc_get(s, out, ptr);
}
void *cortex_slab_get_lib(cortex_slab *s, cortex_handle h) { return cortex_slab_get(s, h); }
int cortex_slab_free_lib(cortex_slab *s, cortex_handle h) { return cortex_slab_free(s, h); }
