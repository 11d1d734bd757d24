/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/top.c: `neocortex top`, a live table of the segments on
 * this host with rates.
 *
 * A frame is two readings of every segment, one interval apart: the rates
 * (ring messages in and out per second, cell writes per second, failed slab
 * allocations per second) are the difference of counters the segments
 * already keep (ring indices, the cell's sequence, the slab's statistics)
 * divided by the time between the two readings of that segment.  The
 * counters are read with the parts' read-only inspectors (nc_sample_kind),
 * which range-check every field; a counter that went backwards (a hostile
 * or recreated segment) gives no rate rather than a huge one.
 */
#define _GNU_SOURCE
#include "seg.h"

#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One segment in one frame. */
typedef struct top_row {
    nc_seg seg;
    nc_sample now;
    int64_t t_ns;  /* monotonic time of the reading */
    bool sampled;  /* ours, ready: its counters were read (now.rc says how that went) */
} top_row;

typedef struct top_frame {
    top_row *v;
    size_t n;
    bool sysv_listed, posix_listed;
} top_frame;

static void frame_free(top_frame *f)
{
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* Scans the host and reads the counters of every valid, ready segment.  0 or -ENOMEM. */
static int frame_take(const nc_top_opts *o, top_frame *out)
{
    memset(out, 0, sizeof *out);
    nc_list l;
    if (nc_scan_match(&l, o->globs, o->nglobs) < 0)
        return -ENOMEM;
    out->sysv_listed = l.sysv_listed;
    out->posix_listed = l.posix_listed;
    out->v = calloc(l.n ? l.n : 1, sizeof *out->v);
    if (!out->v) {
        nc_list_free(&l);
        return -ENOMEM;
    }
    for (size_t i = 0; i < l.n; i++) {
        const nc_seg *s = &l.v[i];
        /* Like `ls`: ours and corrupt ones; foreign and unreadable ones are not ours to watch. */
        if (s->status != NC_OURS && s->status != NC_CORRUPT)
            continue;
        top_row *row = &out->v[out->n++];
        row->seg = *s;
        if (s->status == NC_OURS && s->hdr.state == CORTEX_STATE_READY) {
            row->sampled = true;
            nc_sample_kind(s, &row->now);
        }
        row->t_ns = cortex__now_ns();
    }
    nc_list_free(&l);
    return 0;
}

/* The same kernel object holding the same segment (not one recreated under the same key or name). */
static bool same_segment(const nc_seg *a, const nc_seg *b)
{
    if (a->backing != b->backing || strcmp(a->id, b->id) != 0 || a->status != NC_OURS || b->status != NC_OURS)
        return false;
    if (a->backing == NC_SYSV ? a->shmid != b->shmid : a->ino != b->ino)
        return false;
    return a->hdr.created_ns == b->hdr.created_ns && a->hdr.kind == b->hdr.kind;
}

static const top_row *earlier_reading(const top_frame *prev, const top_row *row)
{
    if (!row->sampled || !row->now.have)
        return NULL;
    for (size_t i = 0; i < prev->n; i++) {
        const top_row *p = &prev->v[i];
        if (p->sampled && p->now.have && same_segment(&p->seg, &row->seg))
            return p->t_ns < row->t_ns ? p : NULL;
    }
    return NULL;
}

/* Per second from two readings of a counter; false when there is no honest rate. */
static bool per_second(uint64_t then, uint64_t now, const top_row *prev, const top_row *row, double *out)
{
    if (!prev || now < then)
        return false;
    *out = (double)(now - then) * 1e9 / (double)(row->t_ns - prev->t_ns);
    return isfinite(*out);
}

/* The rates of one row against its earlier reading; has_* false where there is none. */
typedef struct top_rates {
    bool has_in, has_out, has_writes, has_failed;
    double in, out, writes, failed;
    double used_pct;   /* ring fill or slab occupancy; < 0: none */
} top_rates;

static void rates_of(const top_frame *prev, const top_row *row, top_rates *r)
{
    memset(r, 0, sizeof *r);
    r->used_pct = -1;
    if (!row->sampled || !row->now.have)
        return;
    const top_row *p = earlier_reading(prev, row);
    const nc_sample *a = p ? &p->now : NULL, *b = &row->now;
    switch (row->seg.hdr.kind) {
    case CORTEX_KIND_RING:
        if (!b->indices_ok)
            break;
        if (b->capacity)
            r->used_pct = 100.0 * (double)b->fill / b->capacity;
        if (a && a->indices_ok) {
            r->has_in = per_second(a->prod, b->prod, p, row, &r->in);
            r->has_out = per_second(a->cons, b->cons, p, row, &r->out);
        }
        break;
    case CORTEX_KIND_CELL:
        /* Two sequence steps per write (odd while writing): count completed steps. */
        if (a && per_second(a->sequence, b->sequence, p, row, &r->writes)) {
            r->writes /= 2;
            r->has_writes = true;
        }
        break;
    case CORTEX_KIND_BROADCAST:
        if (b->capacity)
            r->used_pct = 100.0 * (double)b->max_lag / b->capacity; /* the slowest reader's lag */
        if (a)
            r->has_in = per_second(a->head, b->head, p, row, &r->in);
        break;
    case CORTEX_KIND_SLAB:
    case CORTEX_KIND_POOL:
        if (b->slots)
            r->used_pct = 100.0 * (double)((uint64_t)b->allocated + b->in_flight) / b->slots;
        if (a)
            r->has_failed = per_second(a->failed, b->failed, p, row, &r->failed);
        break;
    default: break;
    }
}

/* ---- JSON lines -------------------------------------------------------------- */

static void json_rate(FILE *f, const char *name, bool has, double v)
{
    if (has)
        fprintf(f, ",\"%s\":%.3f", name, v);
    else
        fprintf(f, ",\"%s\":null", name);
}

static void json_row(FILE *f, const top_frame *prev, const top_row *row)
{
    const nc_seg *s = &row->seg;
    fputs("{\"id\":", f);
    nc_json_str(f, s->id);
    fprintf(f, ",\"backing\":\"%s\"", s->backing == NC_SYSV ? "sysv" : "posix");
    if (s->attached >= 0)
        fprintf(f, ",\"attached\":%ld", s->attached);
    else
        fputs(",\"attached\":null", f);
    if (s->status != NC_OURS) {
        fputs(",\"status\":\"corrupt\",\"problem\":", f);
        nc_json_str(f, s->problem);
        fputc('}', f);
        return;
    }
    const cortex_seg_header *h = &s->hdr;
    char tag[CORTEX_TYPE_TAG_MAX + 1];
    nc_printable(h->type_tag, sizeof h->type_tag, tag);
    const char *state = h->state == CORTEX_STATE_READY ? "ready" : h->state == CORTEX_STATE_INIT ? "init" : "failed";
    fprintf(f, ",\"status\":\"ok\",\"state\":\"%s\",\"kind\":\"%s\",\"type\":", state, cortex_kind_name(h->kind));
    nc_json_str(f, tag);
    fprintf(f, ",\"creator_pid\":%" PRId32 ",\"creator_alive\":%s", h->creator_pid,
            s->creator_alive ? "true" : "false");
    if (row->sampled && row->now.rc < 0) {
        fputs(",\"error\":", f);
        nc_json_str(f, row->now.why);
    }
    if (!row->sampled || !row->now.have) {
        fputc('}', f);
        return;
    }
    top_rates r;
    rates_of(prev, row, &r);
    const nc_sample *n = &row->now;
    switch (h->kind) {
    case CORTEX_KIND_RING:
        fprintf(f, ",\"ring\":{\"capacity\":%" PRIu32 ",\"prod\":%" PRIu64 ",\"cons\":%" PRIu64 ",\"fill\":%" PRIu64
                   ",\"indices_ok\":%s",
                n->capacity, n->prod, n->cons, n->fill, n->indices_ok ? "true" : "false");
        json_rate(f, "fill_pct", r.used_pct >= 0, r.used_pct);
        json_rate(f, "in_per_s", r.has_in, r.in);
        json_rate(f, "out_per_s", r.has_out, r.out);
        break;
    case CORTEX_KIND_CELL:
        fprintf(f, ",\"cell\":{\"sequence\":%" PRIu64 ",\"consistent\":%s", n->sequence,
                n->consistent ? "true" : "false");
        json_rate(f, "writes_per_s", r.has_writes, r.writes);
        break;
    case CORTEX_KIND_BROADCAST:
        fprintf(f, ",\"broadcast\":{\"mode\":\"%s\",\"capacity\":%" PRIu32 ",\"head\":%" PRIu64
                   ",\"writer\":{\"pid\":%" PRId32 ",\"alive\":%s,\"closed\":%s},\"max_readers\":%" PRIu32
                   ",\"max_lag\":%" PRIu64 ",\"readers\":[",
                n->lossy ? "lossy" : "lossless", n->capacity, n->head, n->writer_pid,
                n->writer_alive ? "true" : "false", n->closed ? "true" : "false", n->max_readers, n->max_lag);
        for (uint32_t i = 0; i < n->readers; i++)
            fprintf(f, "%s{\"entry\":%" PRIu32 ",\"pid\":%" PRId32 ",\"alive\":%s,\"cursor\":%" PRIu64
                       ",\"lag\":%" PRIu64 "}",
                    i ? "," : "", n->reader[i].entry, n->reader[i].pid, n->reader[i].alive ? "true" : "false",
                    n->reader[i].cursor, n->reader[i].lag);
        fputc(']', f);
        json_rate(f, "lag_pct", r.used_pct >= 0, r.used_pct);
        json_rate(f, "published_per_s", r.has_in, r.in);
        break;
    default:
        fprintf(f, ",\"slab\":{\"slots\":%" PRIu32 ",\"allocated\":%" PRIu32 ",\"in_flight\":%" PRIu32
                   ",\"free\":%" PRIu32 ",\"high_water\":%" PRIu32 ",\"failed\":%" PRIu64,
                n->slots, n->allocated, n->in_flight, n->free, n->high_water, n->failed);
        json_rate(f, "used_pct", r.used_pct >= 0, r.used_pct);
        json_rate(f, "failed_per_s", r.has_failed, r.failed);
        break;
    }
    fputs("}}", f);
}

static void json_frame(FILE *f, const nc_top_opts *o, long frame, const top_frame *prev, const top_frame *cur)
{
    fprintf(f, "{\"frame\":%ld,\"time_ns\":%" PRId64 ",\"interval_s\":%.3f,\"segments\":[", frame,
            cortex__realtime_ns(), o->interval_s);
    for (size_t i = 0; i < cur->n; i++) {
        if (i)
            fputc(',', f);
        json_row(f, prev, &cur->v[i]);
    }
    fprintf(f, "],\"sysv_listed\":%s,\"posix_listed\":%s}\n", cur->sysv_listed ? "true" : "false",
            cur->posix_listed ? "true" : "false");
}

/* ---- the table ----------------------------------------------------------------- */

static const char *fmt_rate(bool has, double v, char *buf, size_t len)
{
    if (!has)
        snprintf(buf, len, "-");
    else if (v >= 1e7)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.1f", v);
    return buf;
}

/* The USED column: "fill/capacity (pct%)" or "used/slots (pct%)". */
static const char *fmt_used(uint64_t used, uint64_t of, double pct, char *buf, size_t len)
{
    if (pct < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " (%.0f%%)", used, of, pct);
    return buf;
}

/* A line of text from a name or a segment, made safe for a terminal (a hostile name may hold escape sequences). */
static void put_printable_line(FILE *f, const char *text)
{
    size_t n = strlen(text);
    char *safe = malloc(n + 1);
    if (!safe)
        return;
    nc_printable(text, n, safe);
    fprintf(f, "%s\n", safe);
    free(safe);
}

/* "lossless, writer 12 alive, 2/4 readers: 0 pid 13 at 3 lag 2, ..." (the first 4 entries, then a count). */
static void broadcast_detail(const nc_sample *n, char *buf, size_t len)
{
    int at = snprintf(buf, len, "%s, writer %" PRId32 " %s, %" PRIu32 "/%" PRIu32 " readers", n->lossy ? "lossy" : "lossless",
                      n->writer_pid, n->closed ? "closed" : n->writer_alive ? "alive" : "DEAD", n->readers,
                      n->max_readers);
    for (uint32_t i = 0; i < n->readers && i < 4 && at > 0 && (size_t)at < len; i++)
        at += snprintf(buf + at, len - (size_t)at, "%s entry %" PRIu32 " pid %" PRId32 "%s at %" PRIu64 " lag %" PRIu64,
                       i ? "," : ":", n->reader[i].entry, n->reader[i].pid, n->reader[i].alive ? "" : " (dead)",
                       n->reader[i].cursor, n->reader[i].lag);
    if (n->readers > 4 && at > 0 && (size_t)at < len)
        snprintf(buf + at, len - (size_t)at, ", %" PRIu32 " more", n->readers - 4);
}

static void text_row(FILE *f, int idw, const top_frame *prev, const top_row *row)
{
    const nc_seg *s = &row->seg;
    char id[sizeof s->id];
    nc_printable(s->id, sizeof s->id - 1, id);
    char att[24];
    if (s->attached >= 0)
        snprintf(att, sizeof att, "%ld", s->attached);
    else
        snprintf(att, sizeof att, "n/a");
    if (s->status != NC_OURS) {
        fprintf(f, "%-*s  %-7s %-16s %4s %10s  %-16s ", idw, id, "corrupt", "-", att, "-", "-");
        put_printable_line(f, s->problem);
        return;
    }
    const cortex_seg_header *h = &s->hdr;
    char tag[CORTEX_TYPE_TAG_MAX + 1], kind[24], rate[32], used[64], detail[CORTEX_ERROR_MESSAGE_MAX + 128];
    nc_printable(h->type_tag, sizeof h->type_tag, tag);
    if (!tag[0])
        snprintf(tag, sizeof tag, "-");
    snprintf(kind, sizeof kind, "%s%s", cortex_kind_name(h->kind),
             h->state == CORTEX_STATE_READY ? "" : h->state == CORTEX_STATE_INIT ? "(init)" : "(failed)");
    top_rates r;
    rates_of(prev, row, &r);
    const nc_sample *n = &row->now;
    snprintf(rate, sizeof rate, "-");
    snprintf(used, sizeof used, "-");
    detail[0] = '\0';
    if (row->sampled && n->have) {
        char a[32], b[32];
        switch (h->kind) {
        case CORTEX_KIND_RING:
            fmt_rate(r.has_in, r.in, rate, sizeof rate);
            fmt_used(n->fill, n->capacity, r.used_pct, used, sizeof used);
            snprintf(detail, sizeof detail, "in %s/s, out %s/s%s", fmt_rate(r.has_in, r.in, a, sizeof a),
                     fmt_rate(r.has_out, r.out, b, sizeof b), n->indices_ok ? "" : ", indices IMPOSSIBLE");
            break;
        case CORTEX_KIND_CELL:
            fmt_rate(r.has_writes, r.writes, rate, sizeof rate);
            snprintf(detail, sizeof detail, "sequence %" PRIu64 "%s", n->sequence,
                     n->consistent ? "" : ", INCONSISTENT");
            break;
        case CORTEX_KIND_BROADCAST:
            fmt_rate(r.has_in, r.in, rate, sizeof rate);
            fmt_used(n->max_lag, n->capacity, r.used_pct, used, sizeof used);
            broadcast_detail(n, detail, sizeof detail);
            break;
        default:
            fmt_used((uint64_t)n->allocated + n->in_flight, n->slots, r.used_pct, used, sizeof used);
            snprintf(detail, sizeof detail, "high-water %" PRIu32 ", %" PRIu64 " failed (%s/s)", n->high_water,
                     n->failed, fmt_rate(r.has_failed, r.failed, a, sizeof a));
            break;
        }
    }
    if (row->sampled && n->rc < 0) {
        size_t at = strlen(detail);
        snprintf(detail + at, sizeof detail - at, "%s%s", at ? "; " : "", n->why);
    }
    fprintf(f, "%-*s  %-7s %-16.64s %4s %10s  %-16s ", idw, id, kind, tag, att, rate, used);
    put_printable_line(f, detail);
}

static void text_frame(FILE *f, const nc_top_opts *o, const top_frame *prev, const top_frame *cur)
{
    char when[64];
    time_t now = (time_t)(cortex__realtime_ns() / 1000000000);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(when, sizeof when, "?");
    fprintf(f, "neocortex top - %s, every %.3g s, %zu segment(s)\n", when, o->interval_s, cur->n);
    int idw = 8;
    for (size_t i = 0; i < cur->n; i++) {
        int w = (int)strlen(cur->v[i].seg.id);
        if (w > idw && w < 64)
            idw = w;
    }
    fprintf(f, "%-*s  %-7s %-16s %4s %10s  %-16s %s\n", idw, "KEY/NAME", "KIND", "TYPE", "ATT", "RATE/s", "USED",
            "DETAIL");
    for (size_t i = 0; i < cur->n; i++)
        text_row(f, idw, prev, &cur->v[i]);
    if (cur->n == 0)
        fprintf(f, "(no neocortex segments)\n");
}

int nc_top(const nc_top_opts *o)
{
    bool tty = !o->json && isatty(STDOUT_FILENO);
    int64_t interval_ns = (int64_t)(o->interval_s * 1e9);
    top_frame prev, cur;
    if (frame_take(o, &prev) < 0) {
        fprintf(stderr, "neocortex: out of memory\n");
        return 1;
    }
    if (!prev.sysv_listed)
        fprintf(stderr, "note: /proc/sysvipc/shm is not readable: SysV segments not shown\n");
    if (!prev.posix_listed)
        fprintf(stderr, "note: /dev/shm is not readable: POSIX names not shown\n");
    int status = (prev.sysv_listed || prev.posix_listed) ? 0 : 1;
    for (long frame = 1; o->iterations == 0 || frame <= o->iterations; frame++) {
        cortex__sleep_ns(interval_ns);
        if (frame_take(o, &cur) < 0) {
            fprintf(stderr, "neocortex: out of memory\n");
            status = 1;
            break;
        }
        if (o->json)
            json_frame(stdout, o, frame, &prev, &cur);
        else {
            /* A terminal is redrawn in place; a pipe or file gets one plain table per frame. */
            if (tty)
                fputs("\033[H\033[2J", stdout);
            else if (frame > 1)
                fputc('\n', stdout);
            text_frame(stdout, o, &prev, &cur);
        }
        fflush(stdout);
        frame_free(&prev);
        prev = cur;
    }
    frame_free(&prev);
    return status;
}
