/* SPDX-License-Identifier: MIT */
/*
 * bench-broadcast: one writer to 4 readers, 8-byte messages, per-reader
 * messages per second, against (a) one SPSC ring (one producer, one
 * consumer) and (b) the same writer pushing every message into 4 SPSC
 * rings, one per reader.  Threads over heap memory; variants interleaved
 * rep by rep; the figures are the median over reps of the same-rep ratios
 * (the host is shared and moves vCPUs: only same-run ratios mean anything).
 * First line: the host's cache-line round trip (two threads bouncing one
 * atomic word), the unit every cross-core hand-off costs.
 *
 *   bench-broadcast [reps (11)] [messages per variant per rep (2000000)]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READERS 4
#define CAP 1024

BROADCAST_DECLARE(u64_bc, uint64_t);
SPSC_RING_DECLARE(u64_ring, uint64_t);

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- cache-line round trip -------------------------------------------------- */

static _Alignas(64) atomic_uint_fast64_t ball;

static void *bounce(void *arg)
{
    uint64_t n = *(uint64_t *)arg;
    for (uint64_t i = 0; i < n; i++) {
        for (unsigned spin = 1; atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 1; spin++)
            if ((spin & 1023) == 0)
                sched_yield(); /* more threads than CPUs: let the other one run */
        atomic_store_explicit(&ball, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static double round_trip_ns(void)
{
    uint64_t n = 20000;
    atomic_store(&ball, 0);
    pthread_t t;
    pthread_create(&t, NULL, bounce, &n);
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        atomic_store_explicit(&ball, 2 * i + 1, memory_order_release);
        for (unsigned spin = 1; atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 2; spin++)
            if ((spin & 1023) == 0)
                sched_yield();
    }
    int64_t t1 = now_ns();
    pthread_join(t, NULL);
    return (double)(t1 - t0) / (double)n;
}

/* ---- variants ------------------------------------------------------------------ */

static uint64_t N;
static void *bc_mem;
static size_t bc_len;
static u64_ring rings[READERS];
static void *ring_mem[READERS];
static double reader_rate[READERS];
static atomic_int joined;

/* A reader's bookkeeping for @p m messages: starts its clock, checks every sequence number. */
static void take(const uint64_t *buf, ssize_t m, uint64_t *next, int64_t *t0)
{
    if (!*t0)
        *t0 = now_ns();
    for (ssize_t i = 0; i < m; i++)
        if (buf[i] != (*next)++)
            abort(); /* a wrong message ends the run */
}

static void *bc_reader(void *arg)
{
    int k = (int)(intptr_t)arg;
    u64_bc r;
    if (u64_bc_join_mem(&r, bc_mem, bc_len, CORTEX_BROADCAST_NEWEST) != 0)
        abort();
    atomic_fetch_add(&joined, 1);
    uint64_t buf[64], next = 0;
    int64_t t0 = 0;
    while (next < N) {
        ssize_t m = u64_bc_pop_n(&r, buf, 64);
        if (m == -EAGAIN) {
            sched_yield(); /* 5 threads on a 2-CPU host: an idle spinner must give its CPU away */
            continue;
        }
        if (m < 0)
            abort();
        take(buf, m, &next, &t0);
    }
    reader_rate[k] = (double)N / ((double)(now_ns() - t0) / 1e9);
    u64_bc_close(&r);
    return NULL;
}

static void *ring_reader(void *arg)
{
    int k = (int)(intptr_t)arg;
    uint64_t buf[64], next = 0;
    int64_t t0 = 0;
    while (next < N) {
        ssize_t m = u64_ring_pop_n(&rings[k], buf, 64);
        if (m == -EAGAIN) {
            sched_yield(); /* 5 threads on a 2-CPU host: an idle spinner must give its CPU away */
            continue;
        }
        if (m < 0)
            abort();
        take(buf, m, &next, &t0);
    }
    reader_rate[k] = (double)N / ((double)(now_ns() - t0) / 1e9);
    return NULL;
}

/* Mean per-reader msgs/s of: 0 broadcast to 4; 1 one SPSC ring; 2 one writer into 4 SPSC rings. */
static double run(int variant)
{
    int readers = variant == 1 ? 1 : READERS;
    pthread_t t[READERS];
    memset(reader_rate, 0, sizeof reader_rate);
    uint64_t batch[32];
    if (variant == 0) {
        u64_bc w;
        if (u64_bc_init(&w, bc_mem, bc_len, CAP, READERS, CORTEX_BROADCAST_LOSSLESS) != 0)
            abort();
        atomic_store(&joined, 0);
        for (int k = 0; k < readers; k++)
            pthread_create(&t[k], NULL, bc_reader, (void *)(intptr_t)k);
        while (atomic_load(&joined) < readers)
            sched_yield();
        for (uint64_t s = 0; s < N;) {
            uint64_t k = N - s < 32 ? N - s : 32;
            for (uint64_t i = 0; i < k; i++)
                batch[i] = s + i;
            ssize_t m = u64_bc_push_n(&w, batch, k);
            if (m > 0)
                s += (uint64_t)m;
            else
                sched_yield();
        }
        for (int k = 0; k < readers; k++)
            pthread_join(t[k], NULL);
        u64_bc_close(&w);
    } else {
        for (int k = 0; k < readers; k++) {
            if (u64_ring_init(&rings[k], ring_mem[k], u64_ring_required_size(CAP), CAP) != 0)
                abort();
            pthread_create(&t[k], NULL, ring_reader, (void *)(intptr_t)k);
        }
        uint64_t sent[READERS] = {0};
        for (uint64_t s = 0; s < N; s += 32) {
            uint64_t k = N - s < 32 ? N - s : 32;
            for (uint64_t i = 0; i < k; i++)
                batch[i] = s + i;
            for (int r = 0; r < readers; r++) {
                uint64_t done = 0;
                while (done < k) {
                    ssize_t m = u64_ring_push_n(&rings[r], batch + done, k - done);
                    if (m > 0)
                        done += (uint64_t)m;
                    else
                        sched_yield();
                }
                sent[r] += k;
            }
        }
        for (int k = 0; k < readers; k++)
            pthread_join(t[k], NULL);
    }
    double sum = 0;
    for (int k = 0; k < readers; k++)
        sum += reader_rate[k];
    return sum / readers;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int reps = argc > 1 ? atoi(argv[1]) : 11;
    N = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000;
    if (reps < 1 || reps > 1000 || N < 1000)
        return 2;
    printf("host: cache-line round trip %.0f ns (two threads, one atomic word)\n", round_trip_ns());
    bc_len = u64_bc_required_size(CAP, READERS);
    bc_mem = aligned_alloc(64, (bc_len + 63) & ~(size_t)63);
    for (int k = 0; k < READERS; k++)
        ring_mem[k] = aligned_alloc(64, (u64_ring_required_size(CAP) + 63) & ~(size_t)63);
    double *v[3], *r1 = malloc(sizeof(double) * (size_t)reps), *r2 = malloc(sizeof(double) * (size_t)reps);
    for (int i = 0; i < 3; i++)
        v[i] = malloc(sizeof(double) * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < 3; i++)
            v[i][r] = run(i);
        r1[r] = v[0][r] / v[1][r];
        r2[r] = v[0][r] / v[2][r];
    }
    const char *names[3] = {"broadcast 8B, 1 writer -> 4 readers", "one SPSC ring 8B, 1 -> 1",
                            "1 writer -> 4 SPSC rings 8B (one per reader)"};
    printf("%-46s %16s\n", "per-reader messages/s (median of reps)", "msgs/s");
    for (int i = 0; i < 3; i++)
        printf("%-46s %16.0f\n", names[i], median(v[i], reps));
    printf("%-46s %8.2fx (target >= 0.8x)\n", "broadcast 1->4 / one SPSC ring", median(r1, reps));
    printf("%-46s %8.2fx (target >= 3x)\n", "broadcast 1->4 / writer into 4 SPSC rings", median(r2, reps));
    printf("(%d reps x %llu messages; threads, batches of 32/64; a shared host: the ratios are noisy)\n", reps,
           (unsigned long long)N);
    return 0;
}
