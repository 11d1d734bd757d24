/* SPDX-License-Identifier: MIT */
/*
 * bench/doorbell/bench_wake.c: wake-up round trip between two processes
 * (A wakes B, B wakes A), for the neocortex doorbell and the mechanisms it
 * competes with, side by side in one run:
 *
 *   doorbell     cortex_doorbell (AF_UNIX seqpacket pair), sequence in shared memory
 *   futex        FUTEX_WAIT/FUTEX_WAKE on a shared word that is the sequence
 *   eventfd      one eventfd per direction, the sequence is the value
 *   pipe         one pipe per direction, the sequence is the 4 bytes written
 *   sysv-sem     SysV semaphore set of two, sequence in shared memory
 *   spin+futex   spin up to 20 us on the shared word, then FUTEX_WAIT; the
 *                waker calls FUTEX_WAKE only if the waiter flagged itself asleep
 *
 * Every variant has its own B process, blocked in its own mechanism while
 * the others run.  Reps are interleaved (rep r of every variant before rep
 * r+1, in an order rotated by one each rep), each rep runs for --ms milliseconds; the table gives min / median /
 * max of the per-rep mean round trip, and the median over reps of the ratio
 * to the doorbell in the same rep; a last line per placement gives the
 * issue's figure the other way round, doorbell / eventfd, with its target.  Every message is checked (sequence
 * numbers); a wrong one fails the run.  Placements: A and B pinned to
 * different CPUs (cross), to the same CPU (same), or not pinned (free).
 *
 *   bench-doorbell-wake [--reps N] [--ms M] [--place cross|same|free|all]
 */
#define _GNU_SOURCE
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../line_probe.h"

enum { V_DOORBELL, V_FUTEX, V_EVENTFD, V_PIPE, V_SEM, V_SPIN, NV };
static const char *vname[NV] = {"doorbell", "futex", "eventfd", "pipe", "sysv-sem", "spin+futex"};

#define STOP UINT32_C(0xffffffff)
#define SPIN_NS 20000

/* Shared between A and the B processes: per variant, a word per direction and a sleeping flag. */
typedef struct {
    struct {
        cortex__a32 word;
        cortex__a32 sleeping;
        uint8_t pad[56];
    } dir[NV][2];
} shared_t;

static shared_t *sh;
static cortex_doorbell bell[2]; /* [0] A's end, [1] B's end */
static int efd[2];               /* eventfd per direction */
static int pipes[2][2];          /* pipe per direction */
static int semid = -1;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-doorbell-wake: %s: %s (%s)\n", what, strerror(errno), cortex_last_error()->message);
    if (semid >= 0)
        semctl(semid, 0, IPC_RMID);
    exit(1);
}

static void sem_op(int idx, int delta)
{
    struct sembuf op = {.sem_num = (unsigned short)idx, .sem_op = (short)delta, .sem_flg = 0};
    while (semop(semid, &op, 1) != 0)
        if (errno != EINTR)
            die("semop");
}

/* side: 0 = A, 1 = B.  dir: 0 = A->B, 1 = B->A. */
static void xsend(int v, int side, int dir, uint32_t seq)
{
    cortex__a32 *w = &sh->dir[v][dir].word;
    switch (v) {
    case V_DOORBELL:
        cortex__st32(w, seq, CX_RELEASE);
        if (cortex_doorbell_signal(&bell[side]) < 0)
            die("doorbell signal");
        break;
    case V_FUTEX:
        cortex__st32(w, seq, CX_RELEASE);
        cortex__futex_wake(w, 1);
        break;
    case V_EVENTFD: {
        uint64_t x = seq;
        if (write(efd[dir], &x, sizeof x) != (ssize_t)sizeof x)
            die("eventfd write");
        break;
    }
    case V_PIPE:
        if (write(pipes[dir][1], &seq, sizeof seq) != (ssize_t)sizeof seq)
            die("pipe write");
        break;
    case V_SEM:
        cortex__st32(w, seq, CX_RELEASE);
        sem_op(dir, 1);
        break;
    case V_SPIN:
        cortex__st32(w, seq, CX_SEQ_CST);
        if (cortex__ld32(&sh->dir[v][dir].sleeping, CX_SEQ_CST))
            cortex__futex_wake(w, 1);
        break;
    }
}

/* Waits for the next value after @last in direction @dir and returns it. */
static uint32_t xrecv(int v, int side, int dir, uint32_t last)
{
    cortex__a32 *w = &sh->dir[v][dir].word;
    uint32_t x;
    switch (v) {
    case V_DOORBELL:
        while ((x = cortex__ld32(w, CX_ACQUIRE)) == last)
            if (cortex_doorbell_wait(&bell[side], -1) < 0)
                die("doorbell wait");
        return x;
    case V_FUTEX:
        while ((x = cortex__ld32(w, CX_ACQUIRE)) == last)
            cortex__futex_wait(w, last, -1);
        return x;
    case V_EVENTFD: {
        uint64_t y;
        if (read(efd[dir], &y, sizeof y) != (ssize_t)sizeof y)
            die("eventfd read");
        return (uint32_t)y;
    }
    case V_PIPE:
        if (read(pipes[dir][0], &x, sizeof x) != (ssize_t)sizeof x)
            die("pipe read");
        return x;
    case V_SEM:
        sem_op(dir, -1);
        return cortex__ld32(w, CX_ACQUIRE);
    case V_SPIN: {
        int64_t until = now_ns() + SPIN_NS;
        for (;;) {
            for (int i = 0; i < 64; i++) {
                if ((x = cortex__ld32(w, CX_ACQUIRE)) != last)
                    return x;
                cortex__spin_hint();
            }
            if (now_ns() > until)
                break;
        }
        cortex__a32 *sl = &sh->dir[v][dir].sleeping;
        for (;;) {
            cortex__st32(sl, 1, CX_SEQ_CST);
            if ((x = cortex__ld32(w, CX_SEQ_CST)) != last) {
                cortex__st32(sl, 0, CX_RELAXED);
                return x;
            }
            cortex__futex_wait(w, last, -1);
            cortex__st32(sl, 0, CX_RELAXED);
            if ((x = cortex__ld32(w, CX_ACQUIRE)) != last)
                return x;
        }
    }
    }
    return 0;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof s, &s) != 0)
        die("sched_setaffinity");
}

/* B: answer every value with itself until STOP. */
static void serve(int v, int cpu)
{
    pin(cpu);
    cortex_doorbell_close(&bell[0]);
    uint32_t last = 0;
    for (;;) {
        uint32_t x = xrecv(v, 1, 0, last);
        if (x == STOP)
            _exit(0);
        if (x != last + 1) {
            fprintf(stderr, "B %s: got %u after %u\n", vname[v], x, last);
            _exit(2);
        }
        xsend(v, 1, 1, x);
        last = x;
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run(const char *place, int cpu_a, int cpu_b, int reps, int ms)
{
    memset(sh, 0, sizeof *sh);
    if (cortex_doorbell_pair(&bell[0], &bell[1]) < 0)
        die("doorbell pair");
    for (int d = 0; d < 2; d++) {
        efd[d] = eventfd(0, EFD_CLOEXEC);
        if (efd[d] < 0 || pipe2(pipes[d], O_CLOEXEC) != 0)
            die("eventfd/pipe");
    }
    semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    if (semid < 0)
        die("semget");
    pid_t b[NV];
    for (int v = 0; v < NV; v++) {
        b[v] = fork();
        if (b[v] < 0)
            die("fork");
        if (b[v] == 0)
            serve(v, cpu_b);
    }
    cortex_doorbell_close(&bell[1]);
    pin(cpu_a);

    double *rt = calloc((size_t)(NV * reps), sizeof *rt);
    uint64_t iters[NV] = {0};
    uint32_t seq[NV] = {0};
    int bad = 0;
    for (int r = 0; r < reps; r++) {
        /* Rotate the order every rep: no mechanism always runs first, right after the spinner. */
        for (int k = 0; k < NV; k++) {
            int v = (k + r) % NV;
            int64_t t0 = now_ns(), end = t0 + (int64_t)ms * 1000000, t;
            uint64_t n = 0;
            do {
                seq[v]++;
                xsend(v, 0, 0, seq[v]);
                uint32_t x = xrecv(v, 0, 1, seq[v] - 1);
                if (x != seq[v]) {
                    fprintf(stderr, "A %s: sent %u, got back %u\n", vname[v], seq[v], x);
                    bad = 1;
                }
                n++;
                t = now_ns();
            } while (t < end);
            rt[v * reps + r] = (double)(t - t0) / (double)n / 1000.0; /* us per round trip */
            iters[v] += n;
        }
    }
    for (int v = 0; v < NV; v++) {
        xsend(v, 0, 0, STOP);
        int st = 0;
        waitpid(b[v], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "B %s failed (status %d)\n", vname[v], st);
            bad = 1;
        }
    }

    printf("\nwake-up round trip A->B->A, placement %s (A on cpu %d, B on cpu %d; -1 = free), %d reps x %d ms, "
           "interleaved\n", place, cpu_a, cpu_b, reps, ms);
    printf("%-12s %10s %10s %10s %14s %12s\n", "mechanism", "min us", "median us", "max us", "ratio/doorbell",
           "round trips");
    double *tmp = calloc((size_t)reps, sizeof *tmp);
    for (int v = 0; v < NV; v++) {
        double *x = rt + v * reps;
        for (int r = 0; r < reps; r++)
            tmp[r] = x[r] / rt[V_DOORBELL * reps + r]; /* same rep, same placement */
        double ratio = median(tmp, reps);
        for (int r = 0; r < reps; r++)
            tmp[r] = x[r];
        double med = median(tmp, reps);
        printf("%-12s %10.2f %10.2f %10.2f %14.2f %12llu\n", vname[v], tmp[0], med, tmp[reps - 1], ratio,
               (unsigned long long)iters[v]);
    }
    /* The target, as a ratio line: doorbell over eventfd, per rep, then the median. */
    for (int r = 0; r < reps; r++)
        tmp[r] = rt[V_DOORBELL * reps + r] / rt[V_EVENTFD * reps + r];
    printf("ratio doorbell / eventfd, placement %-5s (median of per-rep ratios) %6.2f   target <= 1.10\n", place,
           median(tmp, reps));
    free(tmp);
    free(rt);
    cortex_doorbell_close(&bell[0]);
    for (int d = 0; d < 2; d++) {
        close(efd[d]);
        close(pipes[d][0]);
        close(pipes[d][1]);
    }
    semctl(semid, 0, IPC_RMID);
    semid = -1;
    return bad;
}

int main(int argc, char **argv)
{
    int reps = 21, ms = 100;
    const char *place = "all";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ms") == 0)
            ms = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--place") == 0)
            place = argv[i + 1];
    }
    if (reps < 1 || ms < 1) {
        fprintf(stderr, "usage: %s [--reps N] [--ms M] [--place cross|same|free|all]\n", argv[0]);
        return 2;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die("mmap");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    bench_print_line_cost();
    int bad = 0;
    if ((strcmp(place, "all") == 0 || strcmp(place, "cross") == 0) && ncpu >= 2)
        bad |= run("cross", 0, 1, reps, ms);
    if (strcmp(place, "all") == 0 || strcmp(place, "same") == 0)
        bad |= run("same", 0, 0, reps, ms);
    if (strcmp(place, "free") == 0)
        bad |= run("free", -1, -1, reps, ms);
    if (bad)
        fprintf(stderr, "FAILED: a message came back wrong\n");
    return bad;
}
