/* SPDX-License-Identifier: MIT */
/*
 * bench/line_probe.h: the host's cache-line cost, printed at the top of every
 * benchmark table.  Hosts of this machine kind differ tenfold in what a line
 * costs to move between cores (~30 to ~300 ns one way), so a table means
 * little without it.  Two processes bounce one word 100000 times; the
 * result is half the round trip (one way), in ns, or -1 if it failed.
 */
#ifndef NEOCORTEX_BENCH_LINE_PROBE_H
#define NEOCORTEX_BENCH_LINE_PROBE_H

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

static inline double bench_line_one_way_ns(void)
{
    enum { ROUNDS = 100000 };
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
        for (uint64_t i = 1; i < 2 * ROUNDS; i += 2) {
            while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != i)
                ;
            __atomic_store_n(w, i + 1, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    int64_t t0 = bench_line_now_ns();
    for (uint64_t i = 1; i < 2 * ROUNDS; i += 2) {
        __atomic_store_n(w, i, __ATOMIC_RELEASE);
        while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != i + 1)
            ;
    }
    double ns = (double)(bench_line_now_ns() - t0) / ROUNDS / 2;
    waitpid(pid, NULL, 0);
    munmap(w, 4096);
    return ns;
}

/* The line every table starts with; returns the one-way figure (ns, -1 if it failed). */
static inline double bench_print_line_cost(void)
{
    double ns = bench_line_one_way_ns();
    printf("host cache line between two processes: %.0f ns one way, %.0f ns round trip "
           "(this machine kind: ~30 to ~300 ns one way)\n",
           ns, 2 * ns);
    return ns;
}

#endif
