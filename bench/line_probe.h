/* SPDX-License-Identifier: MIT */
/*
 * bench/line_probe.h: the host's cache-line cost, printed at the top of every
 * benchmark table.  Hosts of this machine kind differ tenfold in what a line
 * costs to move between cores (~30 to ~300 ns one way), so a table means
 * little without it.  Two processes, pinned to CPUs 0 and 1 (as the ring
 * bench pins its sides; unpinned, both may share one CPU on a loaded host
 * and every bounce then waits for a context switch), bounce one word
 * 2000 times, 21 times over; the result is the fastest probe's half round
 * trip (one way, in ns: the probe least disturbed by other processes, as a
 * loaded host preempts a spinner for milliseconds), or -1 if it failed.
 */
#ifndef NEOCORTEX_BENCH_LINE_PROBE_H
#define NEOCORTEX_BENCH_LINE_PROBE_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline int64_t bench_line_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pins the calling process to @p cpu if the host has it (best effort). */
static inline void bench_line_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
}

/* One probe: a child pinned to CPU 1 answers the parent pinned to CPU 0. */
static inline double bench_line_probe_once(void)
{
    enum { ROUNDS = 2000 };
    uint64_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED)
        return -1;
    *w = 0;
    pid_t pid = fork();
    if (pid < 0) {
        munmap(w, 4096);
        return -1;
    }
    if (pid == 0) {
        bench_line_pin(1);
        __atomic_store_n(w, 1, __ATOMIC_RELEASE); /* pinned and running: start the clock */
        for (uint64_t i = 2; i < 2 + 2 * ROUNDS; i += 2) {
            while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != i)
                ;
            __atomic_store_n(w, i + 1, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    /* Not timed: the fork, the child's first run and its move to CPU 1 (~100 us, more than the bounces). */
    while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != 1)
        ;
    int64_t t0 = bench_line_now_ns();
    for (uint64_t i = 2; i < 2 + 2 * ROUNDS; i += 2) {
        __atomic_store_n(w, i, __ATOMIC_RELEASE);
        while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != i + 1)
            ;
    }
    double ns = (double)(bench_line_now_ns() - t0) / ROUNDS / 2;
    waitpid(pid, NULL, 0);
    munmap(w, 4096);
    return ns;
}

/*
 * The fastest of 21 probes (*@p median: their median, if not NULL), the
 * parent pinned to CPU 0 meanwhile (its affinity restored after).
 */
static inline double bench_line_one_way_ns_med(double *median)
{
    enum { PROBES = 21 };
    cpu_set_t old;
    int restore = sched_getaffinity(0, sizeof old, &old) == 0;
    bench_line_pin(0);
    double v[PROBES];
    int bad = 0;
    for (int i = 0; i < PROBES && !bad; i++)
        bad = (v[i] = bench_line_probe_once()) < 0;
    if (restore)
        (void)sched_setaffinity(0, sizeof old, &old);
    if (bad)
        return -1;
    for (int i = 1; i < PROBES; i++) /* insertion sort: 21 values */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    if (median)
        *median = v[PROBES / 2];
    return v[0];
}

static inline double bench_line_one_way_ns(void) { return bench_line_one_way_ns_med(NULL); }

/* The line every table starts with; returns the one-way figure (ns, -1 if it failed). */
static inline double bench_print_line_cost(void)
{
    double med = -1, ns = bench_line_one_way_ns_med(&med);
    printf("host cache line between two processes: %.0f ns one way, %.0f ns round trip "
           "(fastest of 21 probes on CPUs 0 and 1, median %.0f; this machine kind: ~30 to ~300 ns one way)\n",
           ns, 2 * ns, med);
    return ns;
}

#endif
