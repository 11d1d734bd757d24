/* SPDX-License-Identifier: MIT */
/*
 * bench-broadcast: one writer to 4 readers, 8-byte messages, against (a) one
 * SPSC ring (one producer, one consumer) and (b) the same writer pushing
 * every message into 4 SPSC rings, one per reader.
 *
 * Method.  Processes, as the library is meant to be used: the parent is the
 * writer, each reader is a forked child over a MAP_SHARED mapping.  Batches:
 * the writer pushes 32 at a time, readers pop up to 64.  Every reader checks
 * every message (the sequence 0, 1, 2, ...); a wrong one ends the run.  An
 * empty pop (or a full push) yields the CPU (sched_yield), so a poller gives
 * its vCPU to a process that has work.  Per variant and rep:
 *   - per-reader msgs/s per wall second (go to last message): with 5
 *     processes on a host of few vCPUs, mostly the scheduler's figure;
 *   - per-reader msgs/s per second of that reader's own CPU time
 *     (CLOCK_PROCESS_CPUTIME_ID; it includes its empty polls): what a reader
 *     costs, the figure the 0.8x target compares;
 *   - the writer's CPU time per message (CLOCK_THREAD_CPUTIME_ID; full
 *     pushes included);
 *   - "busy" ns per message of a reader and of the writer: the time stamp
 *     counter read around each call that moved messages, summed, calls
 *     longer than 20 us (a preemption) left out.  On a loaded host the CPU
 *     times above are mostly empty polls and yields; the busy figures are
 *     what a message costs each side, and the targets compare them
 *     (reader: broadcast vs one SPSC ring >= 0.8x in msgs/s; writer: 4 SPSC
 *     rings vs broadcast >= 3x in ns per message).
 * Variants run interleaved rep by rep; each figure is the median over reps,
 * each ratio the median of the same-rep ratios (the host is shared).
 *
 *   bench-broadcast [reps (7)] [messages per variant per rep (2000000)]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../line_probe.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t ticks(void) { return __rdtsc(); }
#else
static inline uint64_t ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif
static double tick_ns = 1; /* ns per tick, calibrated in main */
static uint64_t tick_cap;  /* ticks in 20 us: a longer call was preempted */

#define READERS 4
#define CAP 1024
#define WBATCH 32
#define RBATCH 64

enum { V_BCAST, V_ONE_RING, V_FOUR_RINGS, V_COUNT };

/* One shared page: the go flag, and what each reader reports. */
struct board {
    _Alignas(64) int ready;
    int go;
    struct {
        _Alignas(64) int64_t wall_ns, cpu_ns;
        uint64_t busy, busy_msgs;
        int ok;
    } r[READERS];
};

static uint64_t N;
static struct board *board;
static void *bc_mem;
static size_t bc_len;
static void *ring_mem[READERS];
static size_t ring_len;

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "bench-broadcast: %s: %s\n", what, cortex_last_error()->message);
    exit(1);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- readers (children) ------------------------------------------------------ */

/* Pops through @p pop until N messages arrived, each checked; reports wall and CPU time. */
static void reader_main(int k, ssize_t (*pop)(void *h, void *out, size_t n), void *h)
{
    __atomic_fetch_add(&board->ready, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&board->go, __ATOMIC_ACQUIRE))
        sched_yield();
    int64_t w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t buf[RBATCH], next = 0, busy = 0, busy_msgs = 0;
    while (next < N) {
        uint64_t t0 = ticks();
        ssize_t m = pop(h, buf, RBATCH);
        uint64_t dt = ticks() - t0;
        if (m > 0 && dt < tick_cap) {
            busy += dt;
            busy_msgs += (uint64_t)m;
        }
        if (m == -EAGAIN) {
            sched_yield();
            continue;
        }
        if (m <= 0)
            _exit(3);
        for (ssize_t i = 0; i < m; i++)
            if (buf[i] != next++)
                _exit(4); /* a wrong message ends the run */
    }
    board->r[k].cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    board->r[k].wall_ns = clock_ns(CLOCK_MONOTONIC) - w0;
    board->r[k].busy = busy;
    board->r[k].busy_msgs = busy_msgs;
    board->r[k].ok = 1;
}

static ssize_t bc_pop(void *h, void *out, size_t n) { return cortex_broadcast_pop_n(h, out, n); }
static ssize_t ring_pop(void *h, void *out, size_t n) { return cortex_ring_pop_n(h, out, n); }

static pid_t spawn_reader(int variant, int k)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid > 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (variant == V_BCAST) {
        cortex_broadcast r;
        if (cortex_broadcast_join_mem(&r, bc_mem, bc_len, CORTEX_BROADCAST_NEWEST, 8, 8) != 0)
            _exit(2);
        reader_main(k, bc_pop, &r);
        cortex_broadcast_close(&r);
    } else {
        cortex_ring c;
        if (cortex_ring_attach_mem(&c, ring_mem[k], ring_len, 8, 8, CORTEX_CONSUMER) != 0)
            _exit(2);
        reader_main(k, ring_pop, &c);
        cortex_ring_close(&c);
    }
    _exit(0);
}

/* ---- the writer (this process) ------------------------------------------------- */

struct result {
    double wall_rate, cpu_rate; /* per reader, mean over readers */
    double writer_ns;           /* writer CPU ns per message */
    double rbusy_ns, wbusy_ns;  /* busy ns per message: reader (mean), writer */
};

static uint64_t wbusy, wbusy_msgs; /* the writer's busy ticks and the messages they moved */

static void wtime(uint64_t t0, ssize_t m)
{
    uint64_t dt = ticks() - t0;
    if (m > 0 && dt < tick_cap) {
        wbusy += dt;
        wbusy_msgs += (uint64_t)m;
    }
}

static void push_all_bc(cortex_broadcast *w)
{
    uint64_t batch[WBATCH];
    for (uint64_t s = 0; s < N;) {
        uint64_t k = N - s < WBATCH ? N - s : WBATCH;
        for (uint64_t i = 0; i < k; i++)
            batch[i] = s + i;
        for (uint64_t done = 0; done < k;) {
            uint64_t t0 = ticks();
            ssize_t m = cortex_broadcast_push_n(w, batch + done, k - done);
            wtime(t0, m);
            if (m > 0)
                done += (uint64_t)m;
            else if (m == -EAGAIN)
                sched_yield();
            else
                die("broadcast push_n");
        }
        s += k;
    }
}

static void push_all_rings(cortex_ring *p, int rings)
{
    uint64_t batch[WBATCH];
    for (uint64_t s = 0; s < N; s += WBATCH) {
        uint64_t k = N - s < WBATCH ? N - s : WBATCH;
        for (uint64_t i = 0; i < k; i++)
            batch[i] = s + i;
        for (int r = 0; r < rings; r++)
            for (uint64_t done = 0; done < k;) {
                uint64_t t0 = ticks();
                ssize_t m = cortex_ring_push_n(&p[r], batch + done, k - done);
                wtime(t0, m); /* element pushes: per message is over rings */
                if (m > 0)
                    done += (uint64_t)m;
                else if (m == -EAGAIN)
                    sched_yield();
                else
                    die("ring push_n");
            }
    }
    for (int r = 0; r < rings; r++)
        cortex_ring_flush(&p[r]);
}

static struct result run(int variant)
{
    int readers = variant == V_ONE_RING ? 1 : READERS;
    cortex_broadcast w;
    cortex_ring p[READERS];
    memset(board, 0, sizeof *board);
    if (variant == V_BCAST) {
        if (cortex_broadcast_init(&w, bc_mem, bc_len, CAP, READERS, CORTEX_BROADCAST_LOSSLESS, 8, 8) != 0)
            die("broadcast init");
    } else {
        for (int k = 0; k < readers; k++)
            if (cortex_ring_init(&p[k], ring_mem[k], ring_len, CAP, 8, 8) != 0)
                die("ring init");
    }
    pid_t kid[READERS];
    for (int k = 0; k < readers; k++)
        kid[k] = spawn_reader(variant, k);
    while (__atomic_load_n(&board->ready, __ATOMIC_ACQUIRE) < readers)
        sched_yield();
    __atomic_store_n(&board->go, 1, __ATOMIC_RELEASE);
    wbusy = wbusy_msgs = 0;
    int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (variant == V_BCAST)
        push_all_bc(&w);
    else
        push_all_rings(p, readers);
    int64_t wcpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    struct result res = {0, 0, (double)wcpu / (double)N, 0,
                         wbusy_msgs ? (double)wbusy * tick_ns / ((double)wbusy_msgs / (variant == V_BCAST ? 1 : readers)) : 0};
    for (int k = 0; k < readers; k++) {
        int st;
        if (waitpid(kid[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !board->r[k].ok) {
            fprintf(stderr, "bench-broadcast: reader %d of variant %d failed (status 0x%x)\n", k, variant, st);
            exit(1);
        }
        res.wall_rate += (double)N / ((double)board->r[k].wall_ns / 1e9) / readers;
        res.cpu_rate += (double)N / ((double)board->r[k].cpu_ns / 1e9) / readers;
        if (board->r[k].busy_msgs)
            res.rbusy_ns += (double)board->r[k].busy * tick_ns / (double)board->r[k].busy_msgs / readers;
    }
    if (variant == V_BCAST)
        cortex_broadcast_close(&w);
    else
        for (int k = 0; k < readers; k++)
            cortex_ring_close(&p[k]);
    return res;
}

/* ---- statistics and the table ------------------------------------------------ */

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

static void *shared(size_t len)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return m;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    N = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000;
    if (reps < 1 || reps > 1000 || N < 1000)
        return 2;
    bench_print_line_cost();
    board = shared(sizeof *board);
    bc_len = cortex_broadcast_required_size(CAP, READERS, 8);
    bc_mem = shared(bc_len);
    ring_len = cortex_ring_required_size(CAP, 8);
    for (int k = 0; k < READERS; k++)
        ring_mem[k] = shared(ring_len);

    int64_t c0 = clock_ns(CLOCK_MONOTONIC);
    uint64_t k0 = ticks();
    while (clock_ns(CLOCK_MONOTONIC) - c0 < 20000000)
        ;
    tick_ns = (double)(clock_ns(CLOCK_MONOTONIC) - c0) / (double)(ticks() - k0);
    tick_cap = (uint64_t)(20000 / tick_ns);

    enum { WALL, CPU, WNS, RBUSY, WBUSY, NFIG };
    enum { R_READER_BUSY, R_WRITER_BUSY, R_READER_CPU, R_WRITER_CPU, R_WALL_ONE, R_WALL_FOUR, NRATIO };
    double *fig[V_COUNT][NFIG], *ratio[NRATIO];
    for (int v = 0; v < V_COUNT; v++)
        for (int f = 0; f < NFIG; f++)
            fig[v][f] = calloc((size_t)reps, sizeof(double));
    for (int i = 0; i < NRATIO; i++)
        ratio[i] = calloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) {
        struct result res[V_COUNT];
        for (int v = 0; v < V_COUNT; v++) {
            res[v] = run(v);
            fig[v][WALL][r] = res[v].wall_rate;
            fig[v][CPU][r] = res[v].cpu_rate;
            fig[v][WNS][r] = res[v].writer_ns;
            fig[v][RBUSY][r] = res[v].rbusy_ns;
            fig[v][WBUSY][r] = res[v].wbusy_ns;
        }
        const struct result *bc = &res[V_BCAST], *one = &res[V_ONE_RING], *four = &res[V_FOUR_RINGS];
        ratio[R_READER_BUSY][r] = one->rbusy_ns / bc->rbusy_ns; /* msgs/s = 1 / ns */
        ratio[R_WRITER_BUSY][r] = four->wbusy_ns / bc->wbusy_ns;
        ratio[R_READER_CPU][r] = bc->cpu_rate / one->cpu_rate;
        ratio[R_WRITER_CPU][r] = four->writer_ns / bc->writer_ns;
        ratio[R_WALL_ONE][r] = bc->wall_rate / one->wall_rate;
        ratio[R_WALL_FOUR][r] = bc->wall_rate / four->wall_rate;
    }
    const char *names[V_COUNT] = {"broadcast 8B, 1 writer -> 4 readers", "one SPSC ring 8B, 1 -> 1",
                                  "1 writer -> 4 SPSC rings 8B (one per reader)"};
    printf("method: fork()ed reader processes on %ld online CPUs, every message checked by every reader, "
           "%d interleaved reps x %llu messages, medians; busy = time stamp counter around calls that moved "
           "messages (preempted calls left out)\n",
           sysconf(_SC_NPROCESSORS_ONLN), reps, (unsigned long long)N);
    printf("%-44s %9s %9s %9s %9s %9s\n", "variant (per reader; writer per message)", "M/wall s", "M/CPU s",
           "rd busy", "wr busy", "wr CPU");
    printf("%-44s %9s %9s %9s %9s %9s\n", "", "", "", "ns/msg", "ns/msg", "ns/msg");
    for (int v = 0; v < V_COUNT; v++)
        printf("%-44s %9.1f %9.1f %9.2f %9.2f %9.2f\n", names[v], median(fig[v][WALL], reps) / 1e6,
               median(fig[v][CPU], reps) / 1e6, median(fig[v][RBUSY], reps), median(fig[v][WBUSY], reps),
               median(fig[v][WNS], reps));
    printf("%-62s %6.2fx (target >= 0.8x)\n", "broadcast 1->4 / one SPSC ring, per-reader msgs per busy s",
           median(ratio[R_READER_BUSY], reps));
    printf("%-62s %6.2fx (target >= 3x)\n", "broadcast 1->4 / writer into 4 SPSC rings, writer busy per msg",
           median(ratio[R_WRITER_BUSY], reps));
    printf("%-62s %6.2fx\n", "broadcast 1->4 / one SPSC ring, per-reader msgs per CPU s", median(ratio[R_READER_CPU], reps));
    printf("%-62s %6.2fx\n", "broadcast 1->4 / writer into 4 SPSC rings, writer CPU per msg",
           median(ratio[R_WRITER_CPU], reps));
    printf("%-62s %6.2fx (scheduler-bound)\n", "broadcast 1->4 / one SPSC ring, per-reader msgs per wall s",
           median(ratio[R_WALL_ONE], reps));
    printf("%-62s %6.2fx (scheduler-bound)\n", "broadcast 1->4 / writer into 4 SPSC rings, per-reader wall",
           median(ratio[R_WALL_FOUR], reps));
    printf("(CPU figures include empty polls and full pushes, each followed by sched_yield; wall figures "
           "mostly measure the scheduler when the processes outnumber the CPUs)\n");
    return 0;
}
