/* SPDX-License-Identifier: MIT */
/*
 * bench/waitset/bench_waitset.c: wake latency of a waiter, one way, across
 * processes, for three ways to wait on many sources:
 *
 *   waitset     cortex_waitset_wait() over 64 ring consumers (futex_waitv)
 *   pop_wait    one ring's cortex_ring_pop_wait() (the single-source floor)
 *   epoll       epoll_wait() over 64 eventfds
 *
 * A producer process picks a random source (of 64; the one ring for
 * pop_wait), stamps CLOCK_MONOTONIC into the message (the ring element, the
 * eventfd value) and sends it; the waiter wakes, takes the message and
 * records now - stamp.  It checks that the source it was told about is the
 * one the producer picked.  Before each message the producer pauses a gap,
 * and each gap is its own table, because what a wake costs depends on how
 * long the waiter has been waiting:
 *   300 us  asleep: longer than any spin phase; the waiter's CPU is idle
 *           (on a VM a halted vCPU), so every variant is one kernel wake;
 *    50 us  just asleep: past the 20 us spin phases, a short sleep;
 *     5 us  waiting: inside the spin phases (waitset and pop_wait spin
 *           about 20 us before they sleep; epoll_wait sleeps at once).
 * The producer sleeps (usleep) through gaps of 100 us and more and spins
 * through shorter ones.  Reps are interleaved (rep r of every variant before rep
 * r+1, order rotated each rep); per rep and variant the median latency of
 * MSGS messages; the table gives min / median / max over reps and the
 * median over reps of the per-rep ratios, with the targets of issue 16.
 * Waiter and producer are pinned to different CPUs when there are two.
 *
 *   bench-waitset [--reps N] [--msgs M] [--sources S (default 64)] [--gap-us G (default: 300, 50 and 5)]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../line_probe.h"

SPSC_RING_DECLARE(u64_ring, uint64_t);

enum { V_WAITSET, V_POPWAIT, V_EPOLL, NV };
static const char *vname[NV] = {"waitset (S rings)", "pop_wait (1 ring)", "epoll (S eventfds)"};

#define NSRC 64

typedef struct {
    volatile uint32_t go;    /* waiter -> producer: a round number << 8 | the variant to run + 1, or STOP */
    volatile uint32_t seq;   /* waiter -> producer: messages consumed so far */
    volatile uint32_t which; /* producer -> waiter: the source it picked */
    volatile uint32_t msgs;
    volatile uint32_t gap_us; /* the producer's pause before each message */
} ctl_t;
#define STOP 0xffffffffu

static ctl_t *ctl;
static u64_ring rings[NSRC], single;
static int efd[NSRC];
static cortex_key keys[NSRC + 1];

static int nsrc = NSRC; /* --sources: rings in the waitset and eventfds in the epoll set */

static int64_t now_ns(void) { return bench_line_now_ns(); }

static void die(const char *what)
{
    fprintf(stderr, "bench-waitset: %s: %s (%s)\n", what, strerror(errno), cortex_last_error()->message);
    exit(1);
}

static void pin(int cpu)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void producer(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin(1);
    u64_ring prod[NSRC], one;
    for (int i = 0; i < NSRC; i++)
        if (u64_ring_attach(&prod[i], keys[i], CORTEX_PRODUCER, NULL) < 0)
            _exit(3);
    if (u64_ring_attach(&one, keys[NSRC], CORTEX_PRODUCER, NULL) < 0)
        _exit(3);
    unsigned seed = (unsigned)getpid();
    for (;;) {
        uint32_t go;
        while ((go = __atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE)) == 0)
            usleep(50);
        if (go == STOP)
            _exit(0);
        int v = (int)(go & 0xff) - 1;
        for (uint32_t m = 0; m < ctl->msgs; m++) {
            while (__atomic_load_n(&ctl->seq, __ATOMIC_ACQUIRE) != m)
                ;
            uint32_t gap_us = ctl->gap_us;
            if (gap_us >= 100) {
                usleep(gap_us); /* the waiter is asleep by now */
            } else { /* a short gap: busy, so the producer is not waking up itself */
                int64_t until = now_ns() + (int64_t)gap_us * 1000;
                while (now_ns() < until)
                    ;
            }
            uint32_t k = (uint32_t)rand_r(&seed) % (uint32_t)nsrc;
            __atomic_store_n(&ctl->which, k, __ATOMIC_RELEASE);
            uint64_t t0 = (uint64_t)now_ns();
            int rc = 0;
            if (v == V_WAITSET)
                rc = u64_ring_push(&prod[k], t0);
            else if (v == V_POPWAIT)
                rc = u64_ring_push(&one, t0);
            else if (write(efd[k], &t0, 8) != 8)
                rc = -1;
            if (rc < 0)
                _exit(4);
        }
        while (__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE) == go)
            usleep(50);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One rep of variant @v: the median one-way wake latency (ns) of @msgs messages. */
static double run(int v, uint32_t msgs, cortex_waitset *ws, int ep, int64_t *lat)
{
    __atomic_store_n(&ctl->seq, 0, __ATOMIC_RELEASE);
    static uint32_t round; /* in go's upper bits: back-to-back runs of one variant still differ */
    round = (round + 1) & 0xffffff;
    __atomic_store_n(&ctl->go, round << 8 | ((uint32_t)v + 1), __ATOMIC_RELEASE);
    for (uint32_t m = 0; m < msgs; m++) {
        uint64_t t0 = 0;
        uint32_t got = NSRC;
        if (v == V_WAITSET) {
            cortex_waitset_event ev[NSRC];
            if (cortex_waitset_wait(ws, ev, NSRC, 10 * INT64_C(1000000000)) != 1)
                die("waitset wait");
            got = (uint32_t)ev[0].tag;
            if (u64_ring_pop(&rings[got], &t0) < 0)
                die("pop of the reported ring");
        } else if (v == V_POPWAIT) {
            if (u64_ring_pop_wait(&single, &t0, 10 * INT64_C(1000000000)) < 0)
                die("pop_wait");
        } else {
            struct epoll_event e;
            if (epoll_wait(ep, &e, 1, 10000) != 1)
                die("epoll_wait");
            got = e.data.u32;
            if (read(efd[got], &t0, 8) != 8)
                die("eventfd read");
        }
        lat[m] = now_ns() - (int64_t)t0;
        if (v != V_POPWAIT && got != __atomic_load_n(&ctl->which, __ATOMIC_ACQUIRE)) {
            fprintf(stderr, "bench-waitset: %s reported source %u, the producer sent on %u\n", vname[v], got,
                    ctl->which);
            exit(1);
        }
        __atomic_store_n(&ctl->seq, m + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&ctl->go, 0, __ATOMIC_RELEASE);
    qsort(lat, msgs, sizeof lat[0], cmp_i64);
    return (double)lat[msgs / 2];
}

int main(int argc, char **argv)
{
    int reps = 11, gap_arg = -1;
    uint32_t msgs = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--msgs") == 0)
            msgs = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sources") == 0)
            nsrc = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--gap-us") == 0)
            gap_arg = atoi(argv[i + 1]);
    }
    if (reps < 1 || msgs < 1 || nsrc < 1 || nsrc > NSRC || (gap_arg < 0 && gap_arg != -1))
        return 2;
    bench_print_line_cost();
    ctl = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED)
        die("mmap");
    ctl->msgs = msgs;
    cortex_waitset *ws;
    if (cortex_waitset_create(&ws) < 0)
        die("waitset");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i <= NSRC; i++) {
        u64_ring *r = i < NSRC ? &rings[i] : &single;
        if (u64_ring_create(r, CORTEX_KEY_SYSV_PRIVATE, 64, CORTEX_CONSUMER, NULL) < 0)
            die("ring create");
        keys[i] = cortex_region_key(u64_ring_region(r));
        if (i == NSRC)
            break;
        if (i < nsrc && cortex_waitset_add_ring(ws, u64_ring_core(r), CORTEX_WAITSET_DATA, (uint64_t)i) < 0)
            die("waitset add");
        if ((efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            die("eventfd");
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (i < nsrc && epoll_ctl(ep, EPOLL_CTL_ADD, efd[i], &e) < 0)
            die("epoll_ctl");
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        producer();
    pin(0);
    int64_t *lat = malloc(msgs * sizeof *lat);
    double *med[NV], *ratio[2];
    for (int v = 0; v < NV; v++)
        med[v] = malloc((size_t)reps * sizeof(double));
    ratio[0] = malloc((size_t)reps * sizeof(double));
    ratio[1] = malloc((size_t)reps * sizeof(double));
    static const int default_gaps[] = {300, 50, 5};
    static const char *regime[] = {"asleep", "just asleep", "waiting (inside the spin phase)"};
    int ngaps = gap_arg >= 0 ? 1 : 3;
    for (int g = 0; g < ngaps; g++) {
        int gap = gap_arg >= 0 ? gap_arg : default_gaps[g];
        ctl->gap_us = (uint32_t)gap;
        for (int r = 0; r < reps; r++) {
            for (int j = 0; j < NV; j++) {
                int v = (j + r) % NV;
                med[v][r] = run(v, msgs, ws, ep, lat);
            }
            ratio[0][r] = med[V_WAITSET][r] / med[V_POPWAIT][r];
            ratio[1][r] = med[V_WAITSET][r] / med[V_EPOLL][r];
        }
        printf("\nwaitset wake latency, one way, cross-process, gap %d us before each message (%s), S = %d sources: "
               "%d reps x %u messages, median per rep, mechanism %s\n",
               gap, gap_arg >= 0 ? "--gap-us" : regime[g], nsrc, reps, msgs, cortex_waitset_mechanism(ws));
        printf("%-22s %10s %10s %10s\n", "variant", "min us", "median us", "max us");
        for (int v = 0; v < NV; v++) {
            qsort(med[v], (size_t)reps, sizeof(double), cmp_dbl);
            printf("%-22s %10.2f %10.2f %10.2f\n", vname[v], med[v][0] / 1e3, med[v][reps / 2] / 1e3,
                   med[v][reps - 1] / 1e3);
        }
        qsort(ratio[0], (size_t)reps, sizeof(double), cmp_dbl);
        qsort(ratio[1], (size_t)reps, sizeof(double), cmp_dbl);
        double r0 = ratio[0][reps / 2], r1 = ratio[1][reps / 2];
        printf("ratio waitset(%d rings) / pop_wait(1 ring):  %.2fx (target <= 1.2x: %s)\n", nsrc, r0,
               r0 <= 1.2 ? "met" : "not met");
        printf("ratio waitset(%d rings) / epoll(%d eventfds): %.2fx (target <= 0.7x: %s)\n", nsrc, nsrc, r1,
               r1 <= 0.7 ? "met" : "not met");
        fflush(stdout);
    }
    __atomic_store_n(&ctl->go, STOP, __ATOMIC_RELEASE);
    waitpid(pid, NULL, 0);
    cortex_waitset_destroy(ws);
    for (int i = 0; i < NSRC; i++) {
        u64_ring_close(&rings[i]);
        close(efd[i]);
    }
    u64_ring_close(&single);
    close(ep);
    return 0;
}
