/* SPDX-License-Identifier: MIT */
/*
 * bench/slab reuse: what the order in which a channel's slots come back to
 * the producer does to a stream of 4 KiB messages (docs/channel.md, "Slot
 * reuse and the producer's stores").  Two processes, in the same run, for
 * channels of 256, 512 and 1024 slots, three ways each:
 *
 *   off      magazines off (every release goes to the shared free list,
 *            every loan takes the most recently freed slot)
 *   plain    the slab's plain magazines on both sides (the consumer keeps
 *            a batch after each put, the producer refills from the depot
 *            buffer it took last): what the channel did before
 *   channel  the channel's default (the consumer hands each batch on at
 *            once, the producer takes the depot's buffers oldest first)
 *
 * The producer loans (cortex_channel_loan_wait when out of slots), writes
 * the whole message with memset plus an 8-byte sequence number and
 * publishes; the consumer busy-polls cortex_channel_take, checks every
 * word and releases (a lost, repeated or torn message fails the run).
 * Each variant keeps its channel and consumer process for the whole run;
 * variants are interleaved rep by rep (the order flips every rep).  Per
 * variant: min / median / max messages/s and the mean reuse distance
 * (messages published between two loans of one slot).  The first line is
 * the host's cache-line round trip (bench/line_probe.h).
 *
 *   build-rel/bench/slab/bench-reuse [reps]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../line_probe.h"
#include "slab/slab_internal.h"

enum { MSG = 4096, COUNT = 20000, WARM = 4096, NSLOTS = 3, NWAY = 3, NV = NSLOTS * NWAY, MAXREP = 31 };
static const uint32_t slot_counts[NSLOTS] = {256, 512, 1024};
static const char *way_name[NWAY] = {"magazines off", "plain magazines", "channel default"};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fill(void *p, uint64_t seq)
{
    memset(p, (int)(seq & 0xff), MSG);
    memcpy(p, &seq, sizeof seq);
}

static bool intact(const void *msg, uint64_t seq)
{
    const unsigned char *p = msg;
    uint64_t got, want = UINT64_C(0x0101010101010101) * (seq & 0xff);
    memcpy(&got, p, sizeof got);
    uint64_t diff = got ^ seq;
    for (size_t i = sizeof got; i < MSG; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        diff |= w ^ want;
    }
    return diff == 0;
}

/* Sets way @p way on this side of @p c (the channel's own default needs nothing). */
static int set_way(cortex_channel *c, int way, uint32_t slots)
{
    if (way == 0)
        return cortex_channel_magazine(c, 0);
    if (way == 1) {
        uint32_t b = slots / 4 < CORTEX_SLAB_MAGAZINE_MAX ? slots / 4 : CORTEX_SLAB_MAGAZINE_MAX;
        return cortex__slab_magazine_tune(cortex_channel_class_slab(c, 0), b, b, false);
    }
    return 0;
}

typedef struct {
    cortex_channel *c;
    pid_t pid;
    int cmd, res; /* pipes to and from the consumer */
    uint64_t seq;
    /* reuse distance: the sequence number each slot was last loaned at */
    const void *slot[2048];
    uint64_t last[2048];
    double dist_sum;
    long dist_n;
} variant;

/* The consumer: for every command (a message count), takes, checks and releases that many; replies its clock. */
static void consumer_main(const char *name, int way, uint32_t slots, int cmd, int res)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    cortex_channel *c = NULL;
    if (cortex_channel_attach(&c, CORTEX_KEY_NAME(name), 1, 8, "bytes", CORTEX_CONSUMER, NULL) < 0 ||
        set_way(c, way, slots) < 0)
        _exit(2);
    uint64_t seq = 0;
    long n;
    while (read(cmd, &n, sizeof n) == (ssize_t)sizeof n) {
        for (long i = 0; i < n; i++) {
            const void *p;
            size_t len;
            int rc;
            while ((rc = cortex_channel_take(c, &p, &len)) == -EAGAIN)
                ;
            if (rc < 0 || len != MSG || !intact(p, ++seq) || cortex_channel_release(c, p) < 0)
                _exit(3);
        }
        int64_t t = now_ns();
        if (write(res, &t, sizeof t) != (ssize_t)sizeof t)
            _exit(4);
    }
    cortex_channel_close(c);
    _exit(0);
}

static int open_variant(variant *v, int k, const variant *all)
{
    int way = k % NWAY;
    uint32_t slots = slot_counts[k / NWAY];
    char name[64];
    snprintf(name, sizeof name, "/ncb-reuse-%d-%d", (int)getpid(), k);
    cortex_pool_class cls = {MSG, slots};
    if (cortex_channel_create(&v->c, CORTEX_KEY_NAME(name), &cls, 1, 1, 8, "bytes", CORTEX_PRODUCER, NULL) < 0 ||
        set_way(v->c, way, slots) < 0) {
        fprintf(stderr, "bench-reuse: channel %s: %s\n", name, cortex_last_error()->message);
        return -1;
    }
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0)
        return -1;
    fflush(stdout);
    v->pid = fork();
    if (v->pid < 0)
        return -1;
    if (v->pid == 0) {
        close(to[1]);
        close(from[0]);
        for (int j = 0; j < k; j++) { /* the earlier consumers' pipes: their EOF must not wait for us */
            close(all[j].cmd);
            close(all[j].res);
        }
        consumer_main(name, way, slots, to[0], from[1]);
    }
    close(to[0]);
    close(from[1]);
    v->cmd = to[1];
    v->res = from[0];
    return 0;
}

/* Streams @p n messages through @p v; messages/s from the producer's start to the consumer's end, or -1. */
static double stream(variant *v, long n, bool measure)
{
    if (write(v->cmd, &n, sizeof n) != (ssize_t)sizeof n)
        return -1;
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        void *p;
        int rc;
        while ((rc = cortex_channel_loan_wait(v->c, MSG, &p, 100000000)) == -ETIMEDOUT)
            ;
        if (rc < 0)
            return -1;
        v->seq++;
        size_t h = ((uintptr_t)p / MSG) & 2047u;
        while (v->slot[h] && v->slot[h] != p)
            h = (h + 1) & 2047u;
        if (v->slot[h] && measure) {
            v->dist_sum += (double)(v->seq - v->last[h]);
            v->dist_n++;
        }
        v->slot[h] = p;
        v->last[h] = v->seq;
        fill(p, v->seq);
        if (cortex_channel_publish(v->c, p, MSG) < 0)
            return -1;
    }
    int64_t t1;
    if (read(v->res, &t1, sizeof t1) != (ssize_t)sizeof t1)
        return -1;
    return (double)n * 1e9 / (double)(t1 - t0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > MAXREP)
        reps = 7;
    printf("channel slot reuse: 4 KiB stream, two processes (%d reps of %d messages, interleaved; every byte written "
           "and checked)\n",
           reps, COUNT);
    bench_print_line_cost();
    static variant v[NV];
    static double r[NV][MAXREP];
    int ok = 1, made = 0;
    for (int k = 0; k < NV && ok; k++, made++) {
        v[k].cmd = v[k].res = -1;
        ok = open_variant(&v[k], k, v) == 0;
    }
    for (int k = 0; k < made && ok; k++)
        ok = stream(&v[k], WARM, false) > 0;
    for (int rep = 0; rep < reps && ok; rep++)
        for (int i = 0; i < NV && ok; i++) {
            int k = (rep & 1) ? NV - 1 - i : i;
            ok = (r[k][rep] = stream(&v[k], COUNT, true)) > 0;
        }
    for (int k = 0; k < made; k++) { /* the consumer ends at its command pipe's EOF */
        if (v[k].cmd >= 0)
            close(v[k].cmd);
        if (v[k].pid > 0)
            waitpid(v[k].pid, NULL, 0);
        if (v[k].res >= 0)
            close(v[k].res);
        cortex_channel_close(v[k].c);
    }
    if (!ok) {
        printf("FAILED: a rep failed or a message was lost or wrong\n");
        return 1;
    }
    printf("  %-6s %-16s %10s %10s %10s %14s\n", "slots", "variant", "min", "median", "max", "reuse (msgs)");
    double med[NV];
    for (int k = 0; k < NV; k++) {
        qsort(r[k], (size_t)reps, sizeof r[k][0], cmp_d);
        med[k] = r[k][reps / 2];
        printf("  %-6u %-16s %10.0f %10.0f %10.0f %14.0f\n", slot_counts[k / NWAY], way_name[k % NWAY], r[k][0],
               med[k], r[k][reps - 1], v[k].dist_n ? v[k].dist_sum / (double)v[k].dist_n : 0.0);
    }
    for (int s = 0; s < NSLOTS; s++)
        printf("  ratio channel default / plain magazines at %u slots: %.2fx (/ off: %.2fx)\n", slot_counts[s],
               med[s * NWAY + 2] / med[s * NWAY + 1], med[s * NWAY + 2] / med[s * NWAY]);
    return 0;
}
