/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/kinds.c: the live state of a cell, ring or slab for `show`,
 * read through the parts' read-only *_inspect functions.  The segment is
 * attached through the library (after its header validated), and the
 * reads run under a SIGBUS/SIGSEGV guard: a segment that a hostile process
 * shrinks under us is reported, not a crash.
 */
#define _GNU_SOURCE
#include "seg.h"

#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* NC_HAVE_<PART> come from tools/inspect/meson.build. */
#if NC_HAVE_CELL
#include <neocortex/cell.h>
#endif
#if NC_HAVE_SYNC
#include <neocortex/sync.h>
#endif
#if NC_HAVE_RING
#include <neocortex/ring.h>
#endif
#if NC_HAVE_SLAB
#include <neocortex/slab.h>
#endif
#if NC_HAVE_BROADCAST
#include <neocortex/broadcast.h>
#endif

static sigjmp_buf guard_jmp;
static volatile sig_atomic_t guard_armed;

static void on_fault(int sig)
{
    if (guard_armed) {
        guard_armed = 0;
        siglongjmp(guard_jmp, sig);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

typedef void (*reader_fn)(const cortex_region *r, void *ctx);

/* Runs the reader; returns 0, or the signal (SIGBUS, SIGSEGV) that stopped it. */
static int run_guarded(reader_fn reader, const cortex_region *r, void *ctx)
{
    int sig = sigsetjmp(guard_jmp, 1);
    if (sig != 0)
        return sig;
    guard_armed = 1;
    reader(r, ctx);
    guard_armed = 0;
    return 0;
}

/*
 * Attaches @s through the library (its header already validated) and runs
 * @reader on it under the SIGBUS/SIGSEGV guard.  Returns 0 when the reader
 * ran to its end (its own result is in its ctx); -errno with @why filled
 * when the segment could not be attached or the read faulted.
 */
static int read_guarded(const nc_seg *s, reader_fn reader, void *ctx, char *why, size_t why_len)
{
    cortex_key key = s->backing == NC_SYSV ? CORTEX_KEY_SYSV(s->key) : CORTEX_KEY_NAME(s->name);
    cortex_layout expect;
    memset(&expect, 0, sizeof expect);
    expect.kind = s->hdr.kind;
    cortex_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.attach_timeout_ns = 200 * 1000000LL;
    /* An inspector reads whatever it is shown (guarded against faults): any owner, any mode. */
    opts.perm = 0777;
    opts.trust = CORTEX_TRUST_ANY_UID;
    cortex_region *r = NULL;
    int rc = cortex_region_attach(&r, key, &expect, &opts);
    if (rc < 0) {
        snprintf(why, why_len, "cannot attach to read it: %s", cortex_last_error()->message);
        return rc;
    }
    struct sigaction sa, old_bus, old_segv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGSEGV, &sa, &old_segv);
    int sig = run_guarded(reader, r, ctx);
    sigaction(SIGBUS, &old_bus, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
    cortex_region_close(r);
    if (sig != 0) {
        snprintf(why, why_len, "%s", sig == SIGBUS ? "the segment shrank while being read (SIGBUS)"
                                                   : "reading the segment faulted (SIGSEGV)");
        return -EBADMSG;
    }
    return 0;
}

/* What the `show` readers print to, and their result. */
typedef struct show_ctx {
    FILE *f;
    bool json;
    int rc;
} show_ctx;

#if NC_HAVE_CELL || NC_HAVE_RING || NC_HAVE_SLAB
static const char *yes_no(bool v) { return v ? "true" : "false"; }
#endif

#if NC_HAVE_CELL
static void show_cell(const cortex_region *r, void *ctx)
{
    show_ctx *c = ctx;
    FILE *f = c->f;
    bool json = c->json;
    int *rc = &c->rc;
    cortex_cell_info ci;
    memset(&ci, 0, sizeof ci);
    if ((*rc = cortex_cell_inspect(r, &ci)) < 0)
        return;
    char lock[sizeof ci.lock_name + 1];
    nc_printable(ci.lock_name, sizeof ci.lock_name, lock);
    if (json) {
        fprintf(f,
                "{\"kind\":\"cell\",\"sequence\":%" PRIu64 ",\"write_in_progress\":%s,\"consistent\":%s"
                ",\"value_size\":%" PRIu32 ",\"value_align\":%" PRIu32 ",\"lock\":",
                ci.sequence, yes_no(ci.sequence & 1u), yes_no(ci.consistent), ci.value_size, ci.value_align);
        nc_json_str(f, lock);
        fprintf(f, ",\"lock_state\":");
        if (ci.lock_state < 0)
            fputs("null", f);
        else
            fputs(ci.lock_state ? "\"held\"" : "\"free\"", f);
        fprintf(f, ",\"holder_pid\":%" PRId32 ",\"holder_alive\":%s}", ci.holder_pid, yes_no(ci.holder_alive));
        return;
    }
    fprintf(f, "cell       value of %" PRIu32 " bytes (align %" PRIu32 "), sequence %" PRIu64 " (%s)\n", ci.value_size,
            ci.value_align, ci.sequence, (ci.sequence & 1u) ? "odd: a write in progress, or its writer died" : "even");
    fprintf(f, "consistent %s\n", ci.consistent ? "yes" : "NO: a writer died mid-write; reads return -EOWNERDEAD");
    if (ci.lock_state < 0)
        fprintf(f, "lock now   %s: state unknown (%s)\n", lock, cortex_strerror(ci.lock_state));
    else if (ci.lock_state == 0)
        fprintf(f, "lock now   %s: free\n", lock);
    else if (ci.holder_pid > 0)
        fprintf(f, "lock now   %s: held by pid %" PRId32 " (%s)\n", lock, ci.holder_pid,
                ci.holder_alive ? "alive" : "dead");
    else
        fprintf(f, "lock now   %s: held\n", lock);
}
#endif

#if NC_HAVE_RING
static const char *role_state(int32_t pid, bool alive, bool closed, bool waiting, char *buf, size_t len)
{
    if (pid <= 0)
        snprintf(buf, len, "none%s", closed ? ", closed" : "");
    else
        snprintf(buf, len, "pid %" PRId32 " (%s)%s%s", pid, alive ? "alive" : "dead", closed ? ", closed" : "",
                 waiting ? ", waiting" : "");
    return buf;
}

static void show_ring(const cortex_region *r, void *ctx)
{
    show_ctx *c = ctx;
    FILE *f = c->f;
    bool json = c->json;
    int *rc = &c->rc;
    cortex_ring_info ri;
    memset(&ri, 0, sizeof ri);
    *rc = cortex_ring_inspect(r, &ri);
    if (*rc < 0 && *rc != -EBADMSG)
        return;
    /* -EBADMSG still fills what could be read (indices_ok false): show it. */
    if (json) {
        fprintf(f,
                "{\"kind\":\"ring\",\"capacity\":%" PRIu32 ",\"elem_size\":%" PRIu32 ",\"prod\":%" PRIu64
                ",\"cons\":%" PRIu64 ",\"fill\":%" PRIu64 ",\"indices_ok\":%s"
                ",\"producer\":{\"pid\":%" PRId32 ",\"alive\":%s,\"closed\":%s,\"waiting\":%s}"
                ",\"consumer\":{\"pid\":%" PRId32 ",\"alive\":%s,\"closed\":%s,\"waiting\":%s}}",
                ri.capacity, ri.elem_size, ri.prod, ri.cons, ri.fill, yes_no(ri.indices_ok), ri.prod_pid,
                yes_no(ri.prod_alive), yes_no(ri.prod_closed), yes_no(ri.prod_waiting), ri.cons_pid,
                yes_no(ri.cons_alive), yes_no(ri.cons_closed), yes_no(ri.cons_waiting));
        return;
    }
    char buf[96];
    fprintf(f, "ring       %" PRIu32 " slots of %" PRIu32 " bytes\n", ri.capacity, ri.elem_size);
    if (ri.indices_ok)
        fprintf(f, "indices    produced %" PRIu64 ", consumed %" PRIu64 ": %" PRIu64 " queued (%.0f%% full)\n", ri.prod,
                ri.cons, ri.fill, ri.capacity ? 100.0 * (double)ri.fill / ri.capacity : 0.0);
    else
        fprintf(f, "indices    produced %" PRIu64 ", consumed %" PRIu64 ": IMPOSSIBLE (corrupt)\n", ri.prod, ri.cons);
    fprintf(f, "producer   %s\n", role_state(ri.prod_pid, ri.prod_alive, ri.prod_closed, ri.prod_waiting, buf, sizeof buf));
    fprintf(f, "consumer   %s\n", role_state(ri.cons_pid, ri.cons_alive, ri.cons_closed, ri.cons_waiting, buf, sizeof buf));
}
#endif

#if NC_HAVE_SLAB
static void show_slab(const cortex_region *r, void *ctx)
{
    show_ctx *c = ctx;
    FILE *f = c->f;
    bool json = c->json;
    int *rc = &c->rc;
    cortex_slab_info si;
    memset(&si, 0, sizeof si);
    if ((*rc = cortex_slab_inspect(r, &si)) < 0)
        return;
    if (json) {
        fprintf(f,
                "{\"kind\":\"%s\",\"classes\":%" PRIu32 ",\"slots\":%" PRIu32 ",\"slot_size\":%" PRIu32
                ",\"free\":%" PRIu32 ",\"allocated\":%" PRIu32 ",\"in_flight\":%" PRIu32 ",\"high_water\":%" PRIu32
                ",\"failed\":%" PRIu64 ",\"dead_held\":%" PRIu32 ",\"procs\":%" PRIu32 ",\"list_ok\":%s}",
                cortex_kind_name(si.kind), si.classes, si.slots, si.slot_size, si.free, si.allocated, si.in_flight,
                si.high_water, si.failed, si.dead_held, si.procs, yes_no(si.list_ok));
        return;
    }
    if (si.classes > 1)
        fprintf(f, "pool       %" PRIu32 " classes, %" PRIu32 " slots (largest %" PRIu32 " bytes)\n", si.classes,
                si.slots, si.slot_size);
    else
        fprintf(f, "slab       %" PRIu32 " slots of %" PRIu32 " bytes\n", si.slots, si.slot_size);
    fprintf(f, "slots      %" PRIu32 " free, %" PRIu32 " allocated, %" PRIu32 " in flight; high-water %" PRIu32
               "; %" PRIu64 " failed allocations\n",
            si.free, si.allocated, si.in_flight, si.high_water, si.failed);
    fprintf(f, "dead       %" PRIu32 " slot(s) held by processes that no longer exist (%" PRIu32 " process(es) known)\n",
            si.dead_held, si.procs);
    fprintf(f, "free list  %s\n", si.list_ok ? "ok" : "BROKEN (out of range or a cycle)");
}
#endif

#if NC_HAVE_BROADCAST
/* The writer, and every held reader entry with its position and lag behind the writer. */
static void show_broadcast(const cortex_region *r, void *ctx)
{
    show_ctx *c = ctx;
    FILE *f = c->f;
    static cortex_broadcast_info bi; /* large (64 entries): not on the guarded stack */
    memset(&bi, 0, sizeof bi);
    if ((c->rc = cortex_broadcast_inspect(r, &bi)) < 0)
        return;
    const char *mode = bi.flags ? "lossy" : "lossless";
    uint32_t n = bi.max_readers <= CORTEX_BROADCAST_MAX_READERS ? bi.max_readers : CORTEX_BROADCAST_MAX_READERS;
    if (c->json) {
        fprintf(f,
                "{\"kind\":\"broadcast\",\"mode\":\"%s\",\"capacity\":%" PRIu32 ",\"elem_size\":%" PRIu32
                ",\"max_readers\":%" PRIu32 ",\"head\":%" PRIu64
                ",\"writer\":{\"pid\":%" PRId32 ",\"alive\":%s,\"closed\":%s},\"readers\":[",
                mode, bi.capacity, bi.elem_size, bi.max_readers, bi.head, bi.writer_pid, yes_no(bi.writer_alive),
                yes_no(bi.closed));
        const char *sep = "";
        for (uint32_t i = 0; i < n; i++) {
            const cortex_broadcast_reader_info *ri = &bi.reader[i];
            if (ri->pid == 0)
                continue;
            fprintf(f, "%s{\"entry\":%" PRIu32 ",\"pid\":%" PRId32 ",\"alive\":%s,\"cursor\":%" PRIu64
                       ",\"lag\":%" PRIu64 "}",
                    sep, i, ri->pid, yes_no(ri->alive), ri->cursor, ri->lag);
            sep = ",";
        }
        fprintf(f, "]}");
        return;
    }
    char buf[96];
    fprintf(f, "broadcast  %s, %" PRIu32 " slots of %" PRIu32 " bytes, %" PRIu32 " of %" PRIu32 " reader entries held\n",
            mode, bi.capacity, bi.elem_size, bi.readers, bi.max_readers);
    fprintf(f, "head       %" PRIu64 " published\n", bi.head);
    fprintf(f, "writer     %s\n", role_state(bi.writer_pid, bi.writer_alive, bi.closed, false, buf, sizeof buf));
    for (uint32_t i = 0; i < n; i++) {
        const cortex_broadcast_reader_info *ri = &bi.reader[i];
        if (ri->pid != 0)
            fprintf(f, "reader %-3" PRIu32 " pid %" PRId32 " (%s), at %" PRIu64 ", lag %" PRIu64 "\n", i, ri->pid,
                    ri->alive ? "alive" : "dead", ri->cursor, ri->lag);
    }
}
#endif

#if NC_HAVE_CELL
static void sample_cell(const cortex_region *r, void *ctx);
#endif
#if NC_HAVE_RING
static void sample_ring(const cortex_region *r, void *ctx);
#endif
#if NC_HAVE_SLAB
static void sample_slab(const cortex_region *r, void *ctx);
#endif
#if NC_HAVE_BROADCAST
static void sample_broadcast(const cortex_region *r, void *ctx);
#endif

/* The reader of a kind for `show` (sample false) or `top` (sample true); NULL: none in this build. */
static reader_fn readers_of(uint32_t kind, bool sample)
{
    switch (kind) {
#if NC_HAVE_CELL
    case CORTEX_KIND_CELL: return sample ? sample_cell : show_cell;
#endif
#if NC_HAVE_RING
    case CORTEX_KIND_RING: return sample ? sample_ring : show_ring;
#endif
#if NC_HAVE_SLAB
    case CORTEX_KIND_SLAB:
    case CORTEX_KIND_POOL: return sample ? sample_slab : show_slab;
#endif
#if NC_HAVE_BROADCAST
    case CORTEX_KIND_BROADCAST: return sample ? sample_broadcast : show_broadcast;
#endif
    default: (void)sample; return NULL;
    }
}

static int show_none(const nc_seg *s, FILE *f, bool json, const char *why)
{
    if (json) {
        fputs("{\"kind\":", f);
        nc_json_str(f, cortex_kind_name(s->hdr.kind));
        fputs(",\"error\":", f);
        nc_json_str(f, why);
        fputc('}', f);
    } else {
        fprintf(f, "live       %s\n", why);
    }
    return 0;
}

int nc_show_kind(const nc_seg *s, FILE *f, bool json)
{
    reader_fn reader = readers_of(s->hdr.kind, false);
    if (!reader) {
        if (s->hdr.kind == CORTEX_KIND_RAW)
            return show_none(s, f, json, "raw bytes: no structure to show");
        return show_none(s, f, json, "this build has no reader for this kind");
    }

    /* The reader writes to memory; only a complete report reaches f. */
    show_ctx c = {.f = NULL, .json = json, .rc = 0};
    char *text = NULL;
    size_t text_len = 0;
    if (!(c.f = open_memstream(&text, &text_len)))
        return show_none(s, f, json, "out of memory");
    char why[CORTEX_ERROR_MESSAGE_MAX + 32];
    int rc = read_guarded(s, reader, &c, why, sizeof why);
    fclose(c.f);
    if (rc == 0 && text)
        fwrite(text, 1, text_len, f);
    free(text);
    if (rc < 0) {
        show_none(s, f, json, why);
        return rc;
    }
    rc = c.rc;
    if (rc < 0 && !(s->hdr.kind == CORTEX_KIND_RING && rc == -EBADMSG)) {
        snprintf(why, sizeof why, "%s: %s", cortex_errname(rc), cortex_last_error()->message);
        show_none(s, f, json, why);
    }
    return rc;
}

/* ---- samples for `top` ----------------------------------------------------- */

#if NC_HAVE_CELL || NC_HAVE_RING || NC_HAVE_SLAB || NC_HAVE_BROADCAST
/* Keeps the inspector's verdict while it is fresh (closing the region may write another). */
static void sample_failed(nc_sample *out)
{
    snprintf(out->why, sizeof out->why, "%s: %s", cortex_errname(out->rc), cortex_last_error()->message);
}
#endif

#if NC_HAVE_CELL
static void sample_cell(const cortex_region *r, void *ctx)
{
    nc_sample *out = ctx;
    cortex_cell_info ci;
    memset(&ci, 0, sizeof ci);
    if ((out->rc = cortex_cell_inspect(r, &ci)) < 0) {
        sample_failed(out);
        return;
    }
    out->have = true;
    out->sequence = ci.sequence;
    out->consistent = ci.consistent;
}
#endif

#if NC_HAVE_RING
static void sample_ring(const cortex_region *r, void *ctx)
{
    nc_sample *out = ctx;
    cortex_ring_info ri;
    memset(&ri, 0, sizeof ri);
    /* -EBADMSG still fills the capacity and the raw indices (indices_ok false). */
    if ((out->rc = cortex_ring_inspect(r, &ri)) < 0)
        sample_failed(out);
    /* -EBADMSG over a ring header that read (a capacity) is impossible indices: still worth showing. */
    if (out->rc < 0 && (out->rc != -EBADMSG || ri.capacity == 0))
        return;
    out->have = true;
    out->capacity = ri.capacity;
    out->prod = ri.prod;
    out->cons = ri.cons;
    out->fill = ri.fill;
    out->indices_ok = ri.indices_ok;
}
#endif

#if NC_HAVE_SLAB
static void sample_slab(const cortex_region *r, void *ctx)
{
    nc_sample *out = ctx;
    cortex_slab_info si;
    memset(&si, 0, sizeof si);
    if ((out->rc = cortex_slab_inspect(r, &si)) < 0) {
        sample_failed(out);
        return;
    }
    out->have = true;
    out->slots = si.slots;
    out->allocated = si.allocated;
    out->in_flight = si.in_flight;
    out->free = si.free;
    out->high_water = si.high_water;
    out->failed = si.failed;
}
#endif

#if NC_HAVE_BROADCAST
_Static_assert(NC_TOP_READERS == CORTEX_BROADCAST_MAX_READERS, "a sample keeps every reader entry");

static void sample_broadcast(const cortex_region *r, void *ctx)
{
    nc_sample *out = ctx;
    static cortex_broadcast_info bi; /* large (64 entries): not on the guarded stack */
    memset(&bi, 0, sizeof bi);
    if ((out->rc = cortex_broadcast_inspect(r, &bi)) < 0) {
        sample_failed(out);
        return;
    }
    out->have = true;
    out->capacity = bi.capacity;
    out->head = bi.head;
    out->lossy = bi.flags != 0;
    out->closed = bi.closed;
    out->writer_pid = bi.writer_pid;
    out->writer_alive = bi.writer_alive;
    out->max_readers = bi.max_readers;
    uint32_t n = bi.max_readers <= NC_TOP_READERS ? bi.max_readers : NC_TOP_READERS;
    for (uint32_t i = 0; i < n; i++) {
        const cortex_broadcast_reader_info *ri = &bi.reader[i];
        if (ri->pid == 0)
            continue;
        struct nc_sample_reader *o = &out->reader[out->readers++];
        o->entry = i;
        o->pid = ri->pid;
        o->alive = ri->alive;
        o->cursor = ri->cursor;
        o->lag = ri->lag;
        if (ri->lag > out->max_lag)
            out->max_lag = ri->lag;
    }
}
#endif

int nc_sample_kind(const nc_seg *s, nc_sample *out)
{
    memset(out, 0, sizeof *out);
    reader_fn reader = readers_of(s->hdr.kind, true);
    if (!reader) {
        out->rc = -ENOTSUP;
        snprintf(out->why, sizeof out->why, "%s",
                 s->hdr.kind == CORTEX_KIND_RAW ? "raw bytes: no counters" : "this build has no reader for this kind");
        return out->rc;
    }
    char why[sizeof out->why];
    int rc = read_guarded(s, reader, out, why, sizeof why);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        out->rc = rc;
        memcpy(out->why, why, sizeof why);
    }
    return out->rc;
}

int nc_remove_with_lock(const nc_seg *s, bool *sem_removed)
{
    *sem_removed = false;
#if NC_HAVE_CELL && defined(CORTEX_SYNC_ID_SEMAPHORE)
    /*
     * A cell under a POSIX name keeps its SysV semaphore under IPC_PRIVATE,
     * known only from inside the cell: become the cell's owner and close it,
     * which removes the semaphore and the name together.
     */
    if (s->status != NC_OURS || s->backing != NC_POSIX || s->hdr.kind != CORTEX_KIND_CELL ||
        s->hdr.lock_id != CORTEX_SYNC_ID_SEMAPHORE)
        return -ENOTSUP;
    cortex_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.attach_timeout_ns = 200 * 1000000LL;
    /* The caller named it for removal: whatever its owner and mode. */
    opts.perm = 0777;
    opts.trust = CORTEX_TRUST_ANY_UID;
    cortex_cell *c = NULL;
    int rc = cortex_cell_attach(&c, CORTEX_KEY_NAME(s->name), s->hdr.elem_size, s->hdr.elem_align, NULL, &opts);
    if (rc < 0)
        return rc;
    if ((rc = cortex_cell_own(c)) < 0) {
        cortex_cell_close(c);
        return rc;
    }
    rc = cortex_cell_close(c);
    if (rc == 0)
        *sem_removed = true;
    return rc;
#else
    (void)s;
    return -ENOTSUP;
#endif
}
