/* SPDX-License-Identifier: MIT */
/*
 * bench/slab: the slab's alloc+free pair against its peers, in one run.
 *
 *   1. single thread, ns per alloc+free pair (+ writing and reading back 8 bytes
 *        of the slot): neocortex slab (alloc, get, free) | the same with a
 *        magazine (batch 32) | with a magazine through alloc_get (the address
 *        comes with the handle, as malloc gives it) | naive Treiber, tagged head |
 *        naive Treiber, untagged (ABA-unsafe) | malloc(64)+free; the magazine
 *        pairs' ratios to malloc and to the tagged Treiber (issue 12: <= 0.5x).
 *        The slab calls are the header's inline fast paths (docs/slab.md).
 *   2. two threads on one slab: ns per pair per thread, pairs/s in total
 *   3. two processes on one shared mapping: the same, then with a magazine each
 *
 * Variants run interleaved rep by rep (rep r of every variant before rep
 * r+1), REPS reps of about 0.1 s; min / median / max and the ratio of the
 * medians to the peers are printed.  Every pair is checked (the slot index
 * is in range, the stamp written into the slot reads back).
 *
 *   build-rel/bench/slab/bench-slab [reps]
 */
#define _GNU_SOURCE
#include <neocortex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../line_probe.h"

#define SLOTS 1024u
#define SLOT 64u

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static int failures;
#define CHECK(c)                                                                                                 \
    do {                                                                                                         \
        if (__builtin_expect(!(c), 0)) {                                                                         \
            failures++;                                                                                          \
            return -1;                                                                                           \
        }                                                                                                        \
    } while (0)

/* ---- naive Treiber stacks (peers): index + 1 links in a side array ---- */

struct naive {
    _Alignas(64) _Atomic uint64_t head; /* tag:32 | top+1:32 */
    _Alignas(64) _Atomic uint32_t next[SLOTS];
    _Alignas(64) uint8_t data[SLOTS][SLOT];
};

static void naive_init(struct naive *n)
{
    for (uint32_t i = 0; i < SLOTS; i++)
        atomic_store_explicit(&n->next[i], i + 1 < SLOTS ? i + 2 : 0, memory_order_relaxed);
    atomic_store(&n->head, 1);
}

static inline uint32_t naive_pop(struct naive *n, int tagged)
{
    uint64_t h = atomic_load_explicit(&n->head, memory_order_acquire);
    for (;;) {
        uint32_t top = (uint32_t)h;
        if (!top)
            return 0;
        uint32_t nx = atomic_load_explicit(&n->next[top - 1], memory_order_relaxed);
        uint64_t nh = ((tagged ? (h >> 32) + 1 : (h >> 32)) << 32) | nx;
        if (atomic_compare_exchange_weak_explicit(&n->head, &h, nh, memory_order_acq_rel, memory_order_acquire))
            return top;
    }
}

static inline void naive_push(struct naive *n, uint32_t top, int tagged)
{
    uint64_t h = atomic_load_explicit(&n->head, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&n->next[top - 1], (uint32_t)h, memory_order_relaxed);
        uint64_t nh = ((tagged ? (h >> 32) + 1 : (h >> 32)) << 32) | top;
        if (atomic_compare_exchange_weak_explicit(&n->head, &h, nh, memory_order_release, memory_order_relaxed))
            return;
    }
}

/* ---- one rep of each variant: returns ns per pair ---- */

static cortex_slab *slab, *slab_mag;
static struct naive *naive;

static int run_slab(cortex_slab *slab, long iters, uint64_t salt)
{
    for (long i = 0; i < iters; i++) {
        cortex_handle h;
        CHECK(cortex_slab_alloc(slab, &h) == 0);
        volatile uint64_t *p = cortex_slab_get(slab, h);
        CHECK(p != NULL);
        *p = salt + (uint64_t)i;
        CHECK(*p == salt + (uint64_t)i);
        CHECK(cortex_slab_free(slab, h) == 0);
    }
    return 0;
}

/* alloc_get: the handle and the address in one call. */
static int run_slab_ag(cortex_slab *slab, long iters, uint64_t salt)
{
    for (long i = 0; i < iters; i++) {
        cortex_handle h;
        void *q;
        CHECK(cortex_slab_alloc_get(slab, &h, &q) == 0);
        volatile uint64_t *p = q;
        *p = salt + (uint64_t)i;
        CHECK(*p == salt + (uint64_t)i);
        CHECK(cortex_slab_free(slab, h) == 0);
    }
    return 0;
}

static int run_naive(long iters, uint64_t salt, int tagged)
{
    for (long i = 0; i < iters; i++) {
        uint32_t t = naive_pop(naive, tagged);
        CHECK(t != 0 && t <= SLOTS);
        volatile uint64_t *p = (volatile uint64_t *)(void *)naive->data[t - 1];
        *p = salt + (uint64_t)i;
        CHECK(*p == salt + (uint64_t)i);
        naive_push(naive, t, tagged);
    }
    return 0;
}

static int run_malloc(long iters, uint64_t salt)
{
    for (long i = 0; i < iters; i++) {
        volatile uint64_t *p = malloc(SLOT);
        CHECK(p != NULL);
        *p = salt + (uint64_t)i;
        CHECK(*p == salt + (uint64_t)i);
        free((void *)p);
    }
    return 0;
}

enum { V_SLAB, V_MAG, V_MAG_AG, V_TAGGED, V_UNTAGGED, V_MALLOC, NV };
static const char *vname[NV] = {"neocortex slab",
                                "neocortex slab, magazine (32)",
                                "  the same, alloc_get (no get)",
                                "naive Treiber, tagged",
                                "naive Treiber, untagged (ABA)",
                                "malloc(64)+free"};

static double time_variant(int v, long iters, uint64_t salt)
{
    int64_t t0 = now_ns();
    switch (v) {
    case V_SLAB: run_slab(slab, iters, salt); break;
    case V_MAG: run_slab(slab_mag, iters, salt); break;
    case V_MAG_AG: run_slab_ag(slab_mag, iters, salt); break;
    case V_TAGGED: run_naive(iters, salt, 1); break;
    case V_UNTAGGED: run_naive(iters, salt, 0); break;
    default: run_malloc(iters, salt); break;
    }
    return (double)(now_ns() - t0) / (double)iters;
}

/* ---- contended: threads and processes ---- */

struct shared_go {
    _Atomic int go;
    _Atomic int ready;
    _Atomic long pairs[2];
    _Atomic int64_t ns[2];
};

static int mag_workers; /* contended_procs: each worker gives its view a magazine */

static int contended_worker(cortex_slab *s, struct shared_go *g, int id, int64_t dur_ns)
{
    if (mag_workers && cortex_slab_magazine(s, 32) != 0)
        return -1;
    atomic_fetch_add(&g->ready, 1);
    while (!atomic_load(&g->go))
        ;
    int64_t t0 = now_ns(), end = t0 + dur_ns;
    long n = 0;
    uint64_t salt = (uint64_t)id << 48;
    while (now_ns() < end) {
        for (int k = 0; k < 256; k++, n++) {
            cortex_handle h;
            if (cortex_slab_alloc(s, &h) != 0)
                return -1;
            volatile uint64_t *p = cortex_slab_get(s, h);
            if (!p)
                return -1;
            *p = salt + (uint64_t)n;
            if (*p != salt + (uint64_t)n || cortex_slab_free(s, h) != 0)
                return -1;
        }
    }
    atomic_store(&g->pairs[id], n);
    atomic_store(&g->ns[id], now_ns() - t0);
    return 0;
}

struct thr_arg {
    struct shared_go *g;
    int id;
    int64_t dur;
    int rc;
};

static void *thr_main(void *a)
{
    struct thr_arg *t = a;
    t->rc = contended_worker(slab, t->g, t->id, t->dur);
    return NULL;
}

/* ns per pair per worker (mean of the two), or -1. */
static double contended_threads(int64_t dur)
{
    struct shared_go g;
    memset(&g, 0, sizeof g);
    struct thr_arg a[2] = {{&g, 0, dur, 0}, {&g, 1, dur, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, thr_main, &a[i]);
    while (atomic_load(&g.ready) < 2)
        ;
    atomic_store(&g.go, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (a[0].rc || a[1].rc) {
        failures++;
        return -1;
    }
    return ((double)g.ns[0] / (double)g.pairs[0] + (double)g.ns[1] / (double)g.pairs[1]) / 2;
}

static void *shm_mem;
static size_t shm_len;
static struct shared_go *shm_go;

static double contended_procs(int64_t dur)
{
    memset(shm_go, 0, sizeof *shm_go);
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        pid[i] = fork();
        if (pid[i] == 0) {
            cortex_slab *c;
            if (cortex_slab_attach_raw(&c, shm_mem, shm_len, 8, 8) < 0)
                _exit(2);
            int rc = contended_worker(c, shm_go, i, dur);
            _exit(rc == 0 && cortex_slab_close(c) == 0 ? 0 : 1); /* close: the magazine's slots go back */
        }
    }
    while (atomic_load(&shm_go->ready) < 2)
        ;
    atomic_store(&shm_go->go, 1);
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(pid[i], &st, 0);
        bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    if (bad) {
        failures++;
        return -1;
    }
    return ((double)shm_go->ns[0] / (double)shm_go->pairs[0] + (double)shm_go->ns[1] / (double)shm_go->pairs[1]) / 2;
}

static double slab_med_for_rows;

static void row(const char *name, double *v, int reps, double peer_med, const char *peer)
{
    double lo = v[0], hi = v[0];
    for (int i = 0; i < reps; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double med = median(v, reps);
    printf("  %-34s %8.2f %8.2f %8.2f", name, lo, med, hi);
    if (peer_med > 0)
        printf("   slab = %5.2fx %s", slab_med_for_rows / peer_med, peer);
    printf("\n");
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    if (reps < 3 || reps > 1001)
        reps = 21;
    bench_print_line_cost();

    size_t len = cortex_slab_required_size(SLOTS, SLOT, 8);
    void *mem = NULL;
    if (posix_memalign(&mem, 64, len) != 0 || cortex_slab_init(&slab, mem, len, SLOTS, SLOT, 8) != 0) {
        fprintf(stderr, "setup: %s\n", cortex_last_error()->message);
        return 1;
    }
    void *mem2 = NULL;
    if (posix_memalign(&mem2, 64, len) != 0 || cortex_slab_init(&slab_mag, mem2, len, SLOTS, SLOT, 8) != 0 ||
        cortex_slab_magazine(slab_mag, 32) != 0) {
        fprintf(stderr, "setup: %s\n", cortex_last_error()->message);
        return 1;
    }
    if (posix_memalign((void **)&naive, 64, sizeof *naive) != 0)
        return 1;
    naive_init(naive);

    /* calibrate iterations to ~0.1 s per rep for the slab */
    long iters = 100000;
    for (;;) {
        int64_t t0 = now_ns();
        run_slab(slab, iters, 1);
        int64_t dt = now_ns() - t0;
        if (dt > 20000000 || iters > (1L << 30)) {
            iters = (long)((double)iters * 1e8 / (double)dt);
            break;
        }
        iters *= 4;
    }

    double *res[NV];
    for (int v = 0; v < NV; v++)
        res[v] = calloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++)
        for (int v = 0; v < NV; v++)
            res[v][r] = time_variant(v, iters, (uint64_t)r << 40);

    printf("slab alloc+free pair, single thread, ns per pair (%d reps x %ld pairs, interleaved)\n", reps, iters);
    printf("  %-34s %8s %8s %8s\n", "variant", "min", "median", "max");
    double med[NV];
    for (int v = 0; v < NV; v++) {
        double tmp[1024];
        memcpy(tmp, res[v], sizeof(double) * (size_t)reps);
        med[v] = median(tmp, reps);
    }
    slab_med_for_rows = med[V_SLAB];
    for (int v = 0; v < NV; v++)
        row(vname[v], res[v], reps, v == V_SLAB ? 0 : med[v], v == V_SLAB ? "" : "(slab median / this median)");
    printf("  target: <= 0.7 x 14.5 ns (shm-primitives TreiberSlab pair) = 10.15 ns; slab median %.2f ns -> %.2fx of 14.5\n",
           med[V_SLAB], med[V_SLAB] / 14.5);
    printf("  magazine pair, alloc_get+free: %.2fx malloc(64)+free (target <= 0.5x), %.2fx tagged Treiber "
           "(target <= 0.5x)\n",
           med[V_MAG_AG] / med[V_MALLOC], med[V_MAG_AG] / med[V_TAGGED]);
    printf("  magazine pair, alloc+get+free: %.2fx malloc(64)+free (target <= 0.5x), %.2fx tagged Treiber "
           "(target <= 0.5x)\n",
           med[V_MAG] / med[V_MALLOC], med[V_MAG] / med[V_TAGGED]);

    /* contended */
    shm_len = len;
    shm_mem = mmap(NULL, len + 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm_mem == MAP_FAILED)
        return 1;
    cortex_slab *shm_slab;
    if (cortex_slab_init(&shm_slab, shm_mem, len, SLOTS, 8, 8) != 0)
        return 1;
    shm_go = (struct shared_go *)(void *)((uint8_t *)shm_mem + len);
    int creps = reps < 11 ? reps : 11;
    double *ct = calloc((size_t)creps, sizeof(double)), *cp = calloc((size_t)creps, sizeof(double));
    double *cm = calloc((size_t)creps, sizeof(double));
    for (int r = 0; r < creps; r++) {
        ct[r] = contended_threads(100000000);
        cp[r] = contended_procs(100000000);
        mag_workers = 1;
        cm[r] = contended_procs(100000000);
        mag_workers = 0;
    }
    printf("\ncontended: 2 workers alloc+free on one slab, ns per pair per worker (%d reps x 0.1 s, interleaved)\n",
           creps);
    printf("  %-34s %8s %8s %8s\n", "variant", "min", "median", "max");
    double mt = median(memcpy(calloc((size_t)creps, sizeof(double)), ct, sizeof(double) * (size_t)creps), creps);
    double mp = median(memcpy(calloc((size_t)creps, sizeof(double)), cp, sizeof(double) * (size_t)creps), creps);
    row("2 threads, one mapping", ct, creps, 0, "");
    row("2 processes, shared mapping", cp, creps, 0, "");
    row("2 processes, a magazine each", cm, creps, 0, "");
    printf("  total pairs/s (median): threads %.1f M, processes %.1f M; processes/threads %.2fx\n", 2e3 / mt,
           2e3 / mp, mp / mt);
    cortex_slab_close(shm_slab);
    cortex_slab_close(slab);
    cortex_slab_close(slab_mag);
    if (failures) {
        printf("FAILED: %d checks failed\n", failures);
        return 1;
    }
    printf("all pairs checked\n");
    return 0;
}
