/* SPDX-License-Identifier: MIT */
/*
 * bench/cell/bench_cell.c: cells against the primitives underneath and the
 * lock the `neocortex` crate uses, all in one run.
 *
 *   build-rel/bench/cell/bench-cell [reps] [ms-per-rep]   (default 21 x 20 ms)
 *
 * Every variant runs one rep before any variant runs its next rep
 * (interleaved), so a host that moves vCPUs around hurts all of them alike;
 * the table gives min / median / max ns per operation over the reps and the
 * ratios the issue targets are computed from medians of the same run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "cortex_config.h"
#include "internal.h"
#include "os/os.h"
#if CORTEX_HAVE_FUTEX
#include "sync/futex_lock.h"

#include "../line_probe.h"
#endif

CORTEX_DECLARE(f64_cell, double);

static volatile double sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- variants ------------------------------------------------------------ */

typedef struct variant {
    const char *name;
    void (*run)(struct variant *v, long n); /* n operations */
    void *ctx;
    long iters;      /* per rep, calibrated */
    double *samples; /* ns/op per rep */
} variant;

static void die(const char *what)
{
    fprintf(stderr, "bench-cell: %s: %s\n", what, cortex_last_error()->message);
    exit(1);
}

static void cell_read(variant *v, long n)
{
    f64_cell *c = v->ctx;
    double d;
    for (long i = 0; i < n; i++) {
        if (f64_cell_read(c, &d) != 0)
            die("read");
        sink = d;
    }
}

static void cell_write(variant *v, long n)
{
    f64_cell *c = v->ctx;
    for (long i = 0; i < n; i++)
        if (f64_cell_write(c, (double)i) != 0)
            die("write");
}

static void cell_write_read(variant *v, long n)
{
    f64_cell *c = v->ctx;
    double d;
    for (long i = 0; i < n; i++) {
        if (f64_cell_write(c, (double)i) != 0 || f64_cell_read(c, &d) != 0)
            die("write+read");
        if (d != (double)i) {
            fprintf(stderr, "bench-cell: read %g after writing %ld\n", d, i);
            exit(1);
        }
    }
}

static void add_one(double *d, void *ctx)
{
    (void)ctx;
    *d += 1.0;
}

static void cell_update(variant *v, long n)
{
    f64_cell *c = v->ctx;
    for (long i = 0; i < n; i++)
        if (f64_cell_update(c, add_one, NULL) != 0)
            die("update");
}

#if CORTEX_HAVE_SEMAPHORE
static void semop_pair(variant *v, long n)
{
    int id = *(int *)v->ctx;
    struct sembuf down = {0, -1, SEM_UNDO}, up = {0, 1, SEM_UNDO};
    for (long i = 0; i < n; i++) {
        if (semop(id, &down, 1) != 0 || semop(id, &up, 1) != 0) {
            perror("semop");
            exit(1);
        }
    }
}
#endif

#if CORTEX_HAVE_FUTEX
static void futex_pair(variant *v, long n)
{
    cortex__futex_lock *l = v->ctx;
    for (long i = 0; i < n; i++) {
        if (cortex__futex_lock_acquire(l, -1) != 0 || cortex__futex_lock_release(l) != 0) {
            fprintf(stderr, "futex pair failed\n");
            exit(1);
        }
    }
}
#endif

static void pmutex_pair(variant *v, long n)
{
    pthread_mutex_t *m = v->ctx;
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(m);
        pthread_mutex_unlock(m);
    }
}

static void psem_pair(variant *v, long n)
{
    sem_t *s = v->ctx;
    for (long i = 0; i < n; i++) {
        while (sem_wait(s) != 0 && errno == EINTR) {
        }
        sem_post(s);
    }
}

/* What the crate's Cortex<f64, Semaphore> does for a write and a read: a POSIX semaphore around each copy. */
struct crate_like {
    sem_t sem;
    double value;
};

static void crate_write_read(variant *v, long n)
{
    struct crate_like *c = v->ctx;
    for (long i = 0; i < n; i++) {
        double w = (double)i, r;
        while (sem_wait(&c->sem) != 0 && errno == EINTR) {
        }
        memcpy((void *)&c->value, &w, sizeof w);
        sem_post(&c->sem);
        while (sem_wait(&c->sem) != 0 && errno == EINTR) {
        }
        memcpy(&r, (void *)&c->value, sizeof r);
        sem_post(&c->sem);
        if (r != w) {
            fprintf(stderr, "bench-cell: crate-like read %g after writing %g\n", r, w);
            exit(1);
        }
    }
}

/* ---- contended counter: 2 processes ------------------------------------- */

struct race {
    int go, stop;
    uint64_t counts[2];
    int failed;
};

static void contended_child(const char *name, const cortex_sync_ops *ops, bool fenced, struct race *rc, int idx)
{
    if (fenced) /* this process's writes keep the wake fence, so nobody marks the cell light */
        cortex__os_force(cortex__os_forced() | CORTEX__OS_NO_MEMBARRIER);
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = ops;
    f64_cell c;
    if (f64_cell_attach(&c, CORTEX_KEY_NAME(name), &o) != 0)
        _exit(2);
    while (!__atomic_load_n(&rc->go, __ATOMIC_ACQUIRE))
        cortex__spin_hint();
    uint64_t n = 0;
    while (!__atomic_load_n(&rc->stop, __ATOMIC_RELAXED)) {
        for (int k = 0; k < 64; k++)
            if (f64_cell_update(&c, add_one, NULL) != 0)
                _exit(3);
        n += 64;
    }
    rc->counts[idx] = n;
    f64_cell_close(&c);
    _exit(0);
}

/* updates/s of two processes hammering one cell for @ms; checks the total. */
/* Smaller process's share of the updates in the last contended run, per backend (fairness). */
static double last_share[3];

static double contended(const cortex_sync_ops *ops, bool fenced, int ms, int slot)
{
    char name[64];
    snprintf(name, sizeof name, "/ncbench-%d-race", (int)getpid());
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = ops;
    f64_cell c;
    if (f64_cell_create(&c, CORTEX_KEY_NAME(name), 0.0, &o) != 0)
        die("create race cell");
    struct race *rc = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(rc, 0, sizeof *rc);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            contended_child(name, ops, fenced, rc, i);
    }
    usleep(20000);
    int64_t t0 = now_ns();
    __atomic_store_n(&rc->go, 1, __ATOMIC_RELEASE);
    usleep((useconds_t)ms * 1000);
    __atomic_store_n(&rc->stop, 1, __ATOMIC_RELAXED);
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    int64_t t1 = now_ns();
    double total;
    if (bad || f64_cell_read(&c, &total) != 0 || total != (double)(rc->counts[0] + rc->counts[1])) {
        fprintf(stderr, "bench-cell: contended counter lost updates (%s)\n", ops->name);
        exit(1);
    }
    double rate = total / ((double)(t1 - t0) / 1e9);
    uint64_t lo = rc->counts[0] < rc->counts[1] ? rc->counts[0] : rc->counts[1];
    last_share[slot] = total > 0 ? (double)lo / total : 0;
    munmap(rc, 4096);
    f64_cell_close(&c);
    return rate;
}

/* ---- driver -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *s, int n)
{
    double *t = malloc(sizeof(double) * (size_t)n);
    memcpy(t, s, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    double m = t[n / 2];
    free(t);
    return m;
}

static double minv(double *s, int n)
{
    double m = s[0];
    for (int i = 1; i < n; i++)
        m = s[i] < m ? s[i] : m;
    return m;
}

static double maxv(double *s, int n)
{
    double m = s[0];
    for (int i = 1; i < n; i++)
        m = s[i] > m ? s[i] : m;
    return m;
}

static void calibrate(variant *v, int ms)
{
    long n = 1000;
    for (;;) {
        int64_t t0 = now_ns();
        v->run(v, n);
        int64_t dt = now_ns() - t0;
        if (dt > ms * 1000000LL / 4 || n > (1L << 30)) {
            v->iters = (long)((double)n * (ms * 1e6) / (double)dt);
            if (v->iters < 100)
                v->iters = 100;
            return;
        }
        n *= 4;
    }
}

#define MAXV 20

static double med_of(variant *vs, int nv, const char *name, int reps)
{
    for (int i = 0; i < nv; i++)
        if (strcmp(vs[i].name, name) == 0)
            return median(vs[i].samples, reps);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    int ms = argc > 2 ? atoi(argv[2]) : 20;
    if (reps < 1)
        reps = 1;
    bench_print_line_cost();
    variant vs[MAXV];
    int nv = 0;
    f64_cell cells[2], fenced;
    const cortex_sync_ops *ops_list[2];
    int ncells = 0;
    if (cortex_sync_available(&cortex_sync_futex))
        ops_list[ncells++] = &cortex_sync_futex;
    if (cortex_sync_available(&cortex_sync_semaphore))
        ops_list[ncells++] = &cortex_sync_semaphore;
    static char names[2][4][48];
    for (int i = 0; i < ncells; i++) {
        cortex_opts o = CORTEX_OPTS_INIT;
        o.lock = ops_list[i];
        if (f64_cell_create(&cells[i], CORTEX_KEY_SYSV_PRIVATE, 0.0, &o) != 0)
            die("create");
        const char *what[4] = {"read", "write", "write+read", "update"};
        void (*fns[4])(variant *, long) = {cell_read, cell_write, cell_write_read, cell_update};
        for (int k = 0; k < 4; k++) {
            snprintf(names[i][k], sizeof names[i][k], "cell %s %s", ops_list[i]->name, what[k]);
            vs[nv++] = (variant){names[i][k], fns[k], &cells[i], 0, NULL};
        }
    }
#if CORTEX_HAVE_FUTEX
    /* The same futex cell with the wake fence kept (its first write runs with membarrier forced off). */
    if (ncells > 0 && ops_list[0] == &cortex_sync_futex) {
        cortex_opts o = CORTEX_OPTS_INIT;
        o.lock = &cortex_sync_futex;
        unsigned forced = cortex__os_forced();
        cortex__os_force(forced | CORTEX__OS_NO_MEMBARRIER);
        if (f64_cell_create(&fenced, CORTEX_KEY_SYSV_PRIVATE, 0.0, &o) != 0 || f64_cell_write(&fenced, 0.0) != 0)
            die("create (fenced)");
        cortex__os_force(forced);
        vs[nv++] = (variant){"cell futex write, fenced wake", cell_write, &fenced, 0, NULL};
        vs[nv++] = (variant){"cell futex write+read, fenced wake", cell_write_read, &fenced, 0, NULL};
    }
#endif
    /* The one-writer backend: this handle claims the writer role at its first write (below), then its
     * writes are the single-writer seqlock, no read-modify-write; same interleaving as the rows above. */
    f64_cell one_writer;
    {
        cortex_opts o = CORTEX_OPTS_INIT;
        o.lock = &cortex_sync_one_writer;
        if (f64_cell_create(&one_writer, CORTEX_KEY_SYSV_PRIVATE, 0.0, &o) != 0 || f64_cell_write(&one_writer, 0.0) != 0)
            die("create (one-writer)");
        vs[nv++] = (variant){"cell one-writer read", cell_read, &one_writer, 0, NULL};
        vs[nv++] = (variant){"cell one-writer write", cell_write, &one_writer, 0, NULL};
        vs[nv++] = (variant){"cell one-writer write+read", cell_write_read, &one_writer, 0, NULL};
    }
    /* Raw primitives, each in shared memory. */
    char *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(shm, 0, 4096);
#if CORTEX_HAVE_SEMAPHORE
    static int semid;
    semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (semid < 0) {
        perror("semget");
        return 1;
    }
    union {
        int val;
    } arg = {1};
    semctl(semid, 0, SETVAL, arg);
    vs[nv++] = (variant){"raw semop pair (SEM_UNDO)", semop_pair, &semid, 0, NULL};
#endif
#if CORTEX_HAVE_FUTEX
    cortex__futex_lock *fl = (cortex__futex_lock *)(void *)shm;
    cortex__futex_lock_init(fl);
    vs[nv++] = (variant){"raw futex lock pair", futex_pair, fl, 0, NULL};
#endif
    pthread_mutex_t *pm = (pthread_mutex_t *)(void *)(shm + 64);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(pm, &ma);
    vs[nv++] = (variant){"pthread_mutex pshared robust pair", pmutex_pair, pm, 0, NULL};
    sem_t *ps = (sem_t *)(void *)(shm + 256);
    sem_init(ps, 1, 1);
    vs[nv++] = (variant){"POSIX sem_wait+sem_post pair", psem_pair, ps, 0, NULL};
    struct crate_like *cl = (struct crate_like *)(void *)(shm + 512);
    sem_init(&cl->sem, 1, 1);
    vs[nv++] = (variant){"crate-like write+read (sem around copies)", crate_write_read, cl, 0, NULL};

    for (int i = 0; i < nv; i++) {
        calibrate(&vs[i], ms);
        vs[i].samples = calloc((size_t)reps, sizeof(double));
    }
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < nv; i++) {
            int64_t t0 = now_ns();
            vs[i].run(&vs[i], vs[i].iters);
            vs[i].samples[r] = (double)(now_ns() - t0) / (double)vs[i].iters;
        }
    }
    printf("neocortex cell benchmark: %d interleaved reps x ~%d ms, value = double, single process, uncontended\n\n",
           reps, ms);
    printf("%-40s %10s %10s %10s\n", "ns per operation", "min", "median", "max");
    for (int i = 0; i < nv; i++)
        printf("%-40s %10.1f %10.1f %10.1f\n", vs[i].name, minv(vs[i].samples, reps),
               median(vs[i].samples, reps), maxv(vs[i].samples, reps));

    /* Contended: 2 processes, interleaved per rep. */
    int creps = reps < 7 ? reps : 7;
    /* Slot ncells: the futex cell again with the wake fence kept (no membarrier for sleeping lockers). */
    bool fenced_race = ncells > 0 && ops_list[0] == &cortex_sync_futex;
    int nraces = ncells + fenced_race;
    double rates[3][7], shares[3][7];
    for (int r = 0; r < creps; r++)
        for (int i = 0; i < nraces; i++) {
            rates[i][r] = contended(i < ncells ? ops_list[i] : ops_list[0], i == ncells, 100, i);
            shares[i][r] = last_share[i] * 100;
        }
    printf("\n%-40s %10s %10s %10s %14s\n", "2 processes, one counter (M updates/s)", "min", "median", "max",
           "smaller share");
    for (int i = 0; i < nraces; i++)
        printf("cell %-35s %10.2f %10.2f %10.2f %13.0f%%\n", i < ncells ? ops_list[i]->name : "futex, fenced wake",
               minv(rates[i], creps) / 1e6, median(rates[i], creps) / 1e6, maxv(rates[i], creps) / 1e6,
               median(shares[i], creps));

    printf("\nratios (medians of this run)                                value   target\n");
    double psem = med_of(vs, nv, "POSIX sem_wait+sem_post pair", reps);
    if (cortex_sync_available(&cortex_sync_futex)) {
        double wr = med_of(vs, nv, "cell futex write+read", reps);
        printf("futex write+read / (2 x POSIX sem pair, what the crate pays)  %6.2f   <= 0.60\n",
               wr / (2 * psem));
        printf("futex write+read / crate-like write+read (same run)           %6.2f   <= 0.50\n",
               wr / med_of(vs, nv, "crate-like write+read (sem around copies)", reps));
        printf("futex write: light wake / fenced wake (same run)              %6.2f   < 1\n",
               med_of(vs, nv, "cell futex write", reps) / med_of(vs, nv, "cell futex write, fenced wake", reps));
        printf("futex write+read / 16.5 ns (the crate, BASELINES.md)          %6.2f\n", wr / 16.5);
        printf("futex optimistic read, ns                                     %6.2f   <= 5\n",
               med_of(vs, nv, "cell futex read", reps));
    }
    printf("one-writer write+read / crate-like write+read (same run)      %6.2f   <= 0.50\n",
           med_of(vs, nv, "cell one-writer write+read", reps) /
               med_of(vs, nv, "crate-like write+read (sem around copies)", reps));
    if (cortex_sync_available(&cortex_sync_futex))
        printf("one-writer write / futex write (same run)                     %6.2f   < 1\n",
               med_of(vs, nv, "cell one-writer write", reps) / med_of(vs, nv, "cell futex write", reps));
#if CORTEX_HAVE_SEMAPHORE
    double sw = med_of(vs, nv, "cell semaphore write", reps);
    double raw = med_of(vs, nv, "raw semop pair (SEM_UNDO)", reps);
    printf("semaphore write / raw semop pair                              %6.2f   <= 1.20\n", sw / raw);
    printf("semaphore optimistic read, ns                                 %6.2f   <= 5\n",
           med_of(vs, nv, "cell semaphore read", reps));
    semctl(semid, 0, IPC_RMID);
#endif
    for (int i = 0; i < ncells; i++)
        f64_cell_close(&cells[i]);
    f64_cell_close(&one_writer);
#if CORTEX_HAVE_FUTEX
    if (ncells > 0 && ops_list[0] == &cortex_sync_futex)
        f64_cell_close(&fenced);
#endif
    for (int i = 0; i < nv; i++)
        free(vs[i].samples);
    munmap(shm, 4096);
    return 0;
}
