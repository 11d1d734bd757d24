/* SPDX-License-Identifier: MIT */
/*
 * bench-ring: SPSC ring throughput and latency in one table.
 *
 * Every variant runs once per rep, reps interleaved (rep r of every variant
 * before rep r+1), because the host moves the vCPUs around every 0.1-1.5 s
 * and only same-run, same-rep ratios mean anything (see BASELINES.md).
 * Producer on CPU0, consumer on CPU1.  Every consumer checks every sequence
 * number; a wrong one aborts the run.  Throughput is measured by the
 * consumer from its first to its last message.
 *
 *   bench-ring [reps (21)] [seconds per variant per rep (0.1)] [only]
 *
 * only: comma-separated parts of variant names to run (e.g. "8B single,cache
 * line"); ratios whose variants did not run print n/a.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <neocortex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if HAVE_CK
#include <ck_ring.h>
#endif

#define CAP 1024
#define BATCH 32

double boost_spsc_run(int elem64, int batch, uint64_t n);
void bench_pin(int cpu);
int64_t bench_now_ns(void);
void bench_share_begin(int64_t *wall, int64_t *cpu);
double bench_share_end(int64_t wall, int64_t cpu);

/*
 * The host is shared: another process on one of the two CPUs time-slices a
 * spinning pair and the rate collapses.  Each side measures the share of its
 * wall time it actually ran (thread CPU time / wall time); a sample where
 * either side ran less than CLEAN_SHARE of the time was disturbed.  The
 * table shows the undisturbed samples and the ratios use reps in which both
 * compared samples were undisturbed.
 */
#define CLEAN_SHARE 0.9
double bench_share_p, bench_share_c; /* set by every run: producer's and consumer's share */
static double *shared_share;         /* a shared page: a forked producer reports its share here */

void bench_pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &s);
    sched_setaffinity(0, sizeof s, &s); /* this thread */
}

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_share_begin(int64_t *wall, int64_t *cpu)
{
    *wall = bench_now_ns();
    *cpu = thread_cpu_ns();
}

double bench_share_end(int64_t wall, int64_t cpu)
{
    int64_t w = bench_now_ns() - wall;
    return w > 0 ? (double)(thread_cpu_ns() - cpu) / (double)w : 1.0;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-ring: %s: %s\n", what, cortex_last_error()->message);
    exit(1);
}

typedef struct e64 {
    uint64_t seq;
    uint64_t pad[7];
} e64;

SPSC_RING_DECLARE(r8, uint64_t);
SPSC_RING_DECLARE(r64, e64);

/* ---- ours: thread pair or process pair -------------------------------- */

struct ours_job {
    void *mem;       /* ring bytes (shared mapping) */
    size_t len;
    int elem64, batch;
    uint64_t n;
};

/* Sequence numbers run from 0, so the marked rings reserve UINT64_MAX as "empty". */
#define MARK_EMPTY UINT64_MAX

static void ours_produce(struct ours_job *j, cortex_ring *core)
{
    bench_pin(0);
    uint64_t next = 0;
    if (!j->elem64) {
        r8 *r = (r8 *)core;
        uint64_t buf[BATCH];
        while (next < j->n) {
            if (j->batch) {
                size_t want = j->n - next < BATCH ? (size_t)(j->n - next) : BATCH;
                for (size_t i = 0; i < want; i++)
                    buf[i] = next + i;
                ssize_t k = r8_push_n(r, buf, want);
                if (k > 0)
                    next += (uint64_t)k;
            } else if (r8_push(r, next) == 0) {
                next++;
            }
        }
    } else {
        r64 *r = (r64 *)core;
        e64 buf[BATCH];
        memset(buf, 0, sizeof buf);
        while (next < j->n) {
            if (j->batch) {
                size_t want = j->n - next < BATCH ? (size_t)(j->n - next) : BATCH;
                for (size_t i = 0; i < want; i++)
                    buf[i].seq = next + i;
                ssize_t k = r64_push_n(r, buf, want);
                if (k > 0)
                    next += (uint64_t)k;
            } else {
                buf[0].seq = next;
                if (r64_push(r, buf[0]) == 0)
                    next++;
            }
        }
    }
}

/* Returns messages/s, or -1 on a wrong sequence number. */
static double ours_consume(struct ours_job *j, cortex_ring *core)
{
    bench_pin(1);
    uint64_t expect = 0, bad = 0;
    int64_t t0 = 0;
    if (!j->elem64) {
        r8 *r = (r8 *)core;
        uint64_t buf[BATCH];
        while (expect < j->n) {
            ssize_t k = j->batch ? r8_pop_n(r, buf, BATCH) : (r8_pop(r, &buf[0]) == 0 ? 1 : 0);
            if (k > 0 && !t0)
                t0 = bench_now_ns();
            for (ssize_t i = 0; i < k; i++, expect++)
                bad += buf[i] != expect;
        }
    } else {
        r64 *r = (r64 *)core;
        e64 buf[BATCH];
        while (expect < j->n) {
            ssize_t k = j->batch ? r64_pop_n(r, buf, BATCH) : (r64_pop(r, &buf[0]) == 0 ? 1 : 0);
            if (k > 0 && !t0)
                t0 = bench_now_ns();
            for (ssize_t i = 0; i < k; i++, expect++)
                bad += buf[i].seq != expect;
        }
    }
    int64_t t1 = bench_now_ns();
    return bad ? -1.0 : (double)(j->n - 1) * 1e9 / (double)(t1 - t0);
}

static void *ours_thread(void *arg)
{
    struct ours_job *j = arg;
    cortex_ring p;
    if (cortex_ring_attach_mem(&p, j->mem, j->len, 0, 0, CORTEX_PRODUCER) != 0)
        die("attach producer");
    int64_t w, c;
    bench_share_begin(&w, &c);
    ours_produce(j, &p);
    cortex_ring_flush(&p); /* the producer stops: a batched ring publishes its last group */
    *shared_share = bench_share_end(w, c);
    cortex_ring_close(&p);
    return NULL;
}

/* @scheme: CORTEX_RING_SCHEME_INDEX, _MARKS (8-byte elements only) or _BATCH. */
static double ours_run(int elem64, int batch, int process, uint32_t scheme, uint64_t n)
{
    size_t esz = elem64 ? sizeof(e64) : 8;
    struct ours_job j = {.elem64 = elem64, .batch = batch, .n = n};
    j.len = cortex_ring_required_size(CAP, esz);
    j.mem = mmap(NULL, j.len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cortex_ring init, c;
    if ((scheme == CORTEX_RING_SCHEME_MARKS   ? cortex_ring_init_marked(&init, j.mem, j.len, CAP, 8, MARK_EMPTY)
         : scheme == CORTEX_RING_SCHEME_BATCH ? cortex_ring_init_batched(&init, j.mem, j.len, CAP, esz, 8)
                                              : cortex_ring_init(&init, j.mem, j.len, CAP, esz, 8)) != 0 ||
        cortex_ring_attach_mem(&c, j.mem, j.len, esz, 8, CORTEX_CONSUMER) != 0)
        die("ring init");
    double rate;
    int64_t w, cpu;
    if (process) {
        pid_t pid = fork();
        if (pid == 0) {
            ours_thread(&j);
            _exit(0);
        }
        bench_share_begin(&w, &cpu);
        rate = ours_consume(&j, &c);
        bench_share_c = bench_share_end(w, cpu);
        waitpid(pid, NULL, 0);
    } else {
        pthread_t t;
        pthread_create(&t, NULL, ours_thread, &j);
        bench_share_begin(&w, &cpu);
        rate = ours_consume(&j, &c);
        bench_share_c = bench_share_end(w, cpu);
        pthread_join(t, NULL);
    }
    bench_share_p = *shared_share;
    cortex_ring_close(&c);
    munmap(j.mem, j.len);
    return rate;
}

/* ---- ck_ring SPSC ---------------------------------------------------------- */

#if HAVE_CK
CK_RING_PROTOTYPE(e64, e64)
struct ck_job {
    ck_ring_t ring;
    struct ck_ring_buffer buf8[CAP];
    struct e64 buf64[CAP];
    int elem64;
    uint64_t n;
};

static void *ck_producer(void *arg)
{
    struct ck_job *j = arg;
    bench_pin(0);
    int64_t w, c;
    bench_share_begin(&w, &c);
    uint64_t next = 0;
    e64 e;
    memset(&e, 0, sizeof e);
    while (next < j->n) {
        if (j->elem64) {
            e.seq = next;
            if (ck_ring_enqueue_spsc_e64(&j->ring, j->buf64, &e))
                next++;
        } else if (ck_ring_enqueue_spsc(&j->ring, j->buf8, (void *)(uintptr_t)next)) {
            next++;
        }
    }
    bench_share_p = bench_share_end(w, c);
    return NULL;
}

static double ck_run(int elem64, uint64_t n)
{
    struct ck_job *j = aligned_alloc(64, (sizeof *j + 63) & ~(size_t)63);
    memset(j, 0, sizeof *j);
    ck_ring_init(&j->ring, CAP);
    j->elem64 = elem64;
    j->n = n;
    pthread_t t;
    pthread_create(&t, NULL, ck_producer, j);
    bench_pin(1);
    uint64_t expect = 0, bad = 0;
    int64_t t0 = 0, sw, sc;
    bench_share_begin(&sw, &sc);
    while (expect < n) {
        bool ok;
        uint64_t got;
        if (elem64) {
            e64 e;
            ok = ck_ring_dequeue_spsc_e64(&j->ring, j->buf64, &e);
            got = e.seq;
        } else {
            void *p;
            ok = ck_ring_dequeue_spsc(&j->ring, j->buf8, &p);
            got = (uint64_t)(uintptr_t)p;
        }
        if (ok) {
            if (!t0)
                t0 = bench_now_ns();
            bad += got != expect++;
        }
    }
    int64_t t1 = bench_now_ns();
    bench_share_c = bench_share_end(sw, sc);
    pthread_join(t, NULL);
    free(j);
    return bad ? -1.0 : (double)(n - 1) * 1e9 / (double)(t1 - t0);
}
#endif

/* ---- plain Lamport ring: no cached indices, no padding between them ------ */

struct lamport {
    _Atomic uint64_t head, tail;
    uint64_t n;
    int elem64;
    e64 slots[CAP];
};

static void *lamport_producer(void *arg)
{
    struct lamport *q = arg;
    bench_pin(0);
    int64_t w, c;
    bench_share_begin(&w, &c);
    uint64_t esz = q->elem64 ? sizeof(e64) : 8;
    unsigned char *base = (unsigned char *)q->slots;
    for (uint64_t next = 0; next < q->n;) {
        uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        if (h - atomic_load_explicit(&q->tail, memory_order_acquire) >= CAP)
            continue;
        e64 e = {.seq = next};
        memcpy(base + (h & (CAP - 1)) * esz, &e, esz);
        atomic_store_explicit(&q->head, h + 1, memory_order_release);
        next++;
    }
    bench_share_p = bench_share_end(w, c);
    return NULL;
}

static double lamport_run(int elem64, uint64_t n)
{
    struct lamport *q = aligned_alloc(64, (sizeof *q + 63) & ~(size_t)63);
    memset(q, 0, sizeof *q);
    q->n = n;
    q->elem64 = elem64;
    pthread_t t;
    pthread_create(&t, NULL, lamport_producer, q);
    bench_pin(1);
    uint64_t esz = elem64 ? sizeof(e64) : 8, bad = 0;
    unsigned char *base = (unsigned char *)q->slots;
    int64_t t0 = 0, sw, sc;
    bench_share_begin(&sw, &sc);
    for (uint64_t expect = 0; expect < n;) {
        uint64_t tl = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (atomic_load_explicit(&q->head, memory_order_acquire) == tl)
            continue;
        e64 e;
        memcpy(&e, base + (tl & (CAP - 1)) * esz, esz);
        atomic_store_explicit(&q->tail, tl + 1, memory_order_release);
        if (!t0)
            t0 = bench_now_ns();
        bad += e.seq != expect++;
    }
    int64_t t1 = bench_now_ns();
    bench_share_c = bench_share_end(sw, sc);
    pthread_join(t, NULL);
    free(q);
    return bad ? -1.0 : (double)(n - 1) * 1e9 / (double)(t1 - t0);
}

/* ---- pipe and socketpair: one write per 8-byte message, reads of up to 4 KiB ---- */

static double fd_run(int use_socket, uint64_t n)
{
    int fds[2];
    if (use_socket ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) : pipe2(fds, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        bench_pin(0);
        for (uint64_t i = 0; i < n; i++)
            if (write(fds[1], &i, 8) != 8)
                _exit(1);
        _exit(0);
    }
    close(fds[1]);
    bench_pin(1);
    static uint64_t buf[512];
    uint64_t expect = 0, bad = 0;
    size_t have = 0; /* bytes of a partial message at the start of buf */
    int64_t t0 = 0;
    while (expect < n) {
        ssize_t k = read(fds[0], (char *)buf + have, sizeof buf - have);
        if (k <= 0)
            break;
        if (!t0)
            t0 = bench_now_ns();
        have += (size_t)k;
        size_t whole = have / 8;
        for (size_t i = 0; i < whole; i++)
            bad += buf[i] != expect++;
        memmove(buf, (char *)buf + whole * 8, have - whole * 8);
        have -= whole * 8;
    }
    int64_t t1 = bench_now_ns();
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return bad || expect != n ? -1.0 : (double)(n - 1) * 1e9 / (double)(t1 - t0);
}

static double median(double *v, int n);

/* ---- latency: ping-pong between two processes, one-way = round trip / 2 ---- */

enum lat_kind { LAT_SPIN, LAT_WAIT, LAT_WAIT_IDLE, LAT_EVENTFD_IDLE, LAT_SPIN_MARKED, LAT_WAIT_IDLE_MARKED,
                LAT_LINE, LAT_LINE2 };

/*
 * The busy kinds (spinning sides, and the probes that price them) are timed
 * in chunks of LAT_CHUNK rounds, one clock read per chunk (two per round
 * would add ~40 ns to a ~130 ns round trip), and a run reports its median
 * chunk.  A spinning pair on a shared 2-CPU host loses whole time slices
 * (milliseconds) whenever another job runs on one of the CPUs, and the host
 * class can change under a run; one span over all rounds averaged those in,
 * so a sample could read several times the undisturbed latency.  A chunk
 * with such a stall in it is an outlier of the median, not a latency.
 */
#define LAT_CHUNK 256

struct lat_clock {
    double *chunk; /* ns per chunk */
    uint64_t k, max;
    int64_t t0, start;
};

static void lat_clock_start(struct lat_clock *c, uint64_t rounds)
{
    c->max = rounds / LAT_CHUNK;
    c->chunk = malloc(sizeof *c->chunk * (size_t)(c->max ? c->max : 1));
    c->k = 0;
    c->t0 = c->start = bench_now_ns();
}

/* After round @p i (1-based). */
static inline void lat_clock_tick(struct lat_clock *c, uint64_t i)
{
    if (i % LAT_CHUNK == 0 && c->k < c->max) {
        int64_t now = bench_now_ns();
        c->chunk[c->k++] = (double)(now - c->t0);
        c->t0 = now;
    }
}

/* One-way ns: the median chunk / LAT_CHUNK / 2 (fewer rounds than a chunk: the whole span). */
static double lat_clock_one_way(struct lat_clock *c, uint64_t rounds)
{
    double ns = c->k ? median(c->chunk, (int)c->k) / LAT_CHUNK : (double)(bench_now_ns() - c->start) / (double)rounds;
    free(c->chunk);
    return ns / 2;
}

/* ---- the host's cache line: ping-pong between CPU0 and CPU1 ------------------------------
 * LAT_LINE bounces one word (the printed probe); LAT_LINE2 sends each way through a line of its
 * own, as any ping-pong over two rings must: the floor of the spin latency rows (see the model). */

struct line_probe {
    _Alignas(64) _Atomic uint64_t word;
    _Alignas(64) _Atomic uint64_t back; /* two lines: the reply's word */
    uint64_t rounds;
    int two;
};

static void *line_echo(void *arg)
{
    struct line_probe *lp = arg;
    _Atomic uint64_t *reply = lp->two ? &lp->back : &lp->word;
    bench_pin(0);
    int64_t w, c;
    bench_share_begin(&w, &c);
    for (uint64_t i = 1; i <= lp->rounds; i++) {
        while (atomic_load_explicit(&lp->word, memory_order_acquire) != 2 * i - 1) {
        }
        atomic_store_explicit(reply, 2 * i, memory_order_release);
    }
    bench_share_p = bench_share_end(w, c); /* the probe is filtered like the rings it prices */
    return NULL;
}

/* One-way ns of a cache line between the two CPUs (round trip / 2), threads; @two: a line each way. */
static double line_run(uint64_t rounds, int two)
{
    struct line_probe *lp = aligned_alloc(64, sizeof *lp);
    atomic_init(&lp->word, 0);
    atomic_init(&lp->back, 0);
    lp->rounds = rounds;
    lp->two = two;
    _Atomic uint64_t *reply = two ? &lp->back : &lp->word;
    pthread_t t;
    pthread_create(&t, NULL, line_echo, lp);
    bench_pin(1);
    int64_t sw, sc;
    bench_share_begin(&sw, &sc);
    struct lat_clock clk;
    lat_clock_start(&clk, rounds);
    for (uint64_t i = 1; i <= rounds; i++) {
        atomic_store_explicit(&lp->word, 2 * i - 1, memory_order_release);
        while (atomic_load_explicit(reply, memory_order_acquire) != 2 * i) {
        }
        lat_clock_tick(&clk, i);
    }
    double one_way = lat_clock_one_way(&clk, rounds);
    bench_share_c = bench_share_end(sw, sc);
    pthread_join(t, NULL);
    free(lp);
    return one_way;
}
#define IDLE_GAP_NS 300000 /* the initiator pauses this long between pings: the peer is asleep */

static bool lat_idle(enum lat_kind k) { return k == LAT_WAIT_IDLE || k == LAT_EVENTFD_IDLE || k == LAT_WAIT_IDLE_MARKED; }
static bool lat_spins(enum lat_kind k) { return k == LAT_SPIN || k == LAT_SPIN_MARKED; }

static void lat_pause(enum lat_kind k)
{
    if (lat_idle(k)) {
        struct timespec ts = {0, IDLE_GAP_NS};
        nanosleep(&ts, NULL);
    }
}

/* Returns ns one-way: busy kinds the whole span / rounds / 2, idle kinds the median round / 2. */
static double lat_run(enum lat_kind kind, uint64_t rounds)
{
    if (kind == LAT_LINE || kind == LAT_LINE2)
        return line_run(rounds, kind == LAT_LINE2);
    if (kind == LAT_EVENTFD_IDLE) {
        int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
        pid_t pid = fork();
        if (pid == 0) {
            bench_pin(0);
            uint64_t v;
            for (uint64_t i = 0; i < rounds; i++) {
                if (read(a, &v, 8) != 8 || write(b, &v, 8) != 8)
                    _exit(1);
            }
            _exit(0);
        }
        bench_pin(1);
        double *round_ns = malloc(sizeof *round_ns * (size_t)rounds);
        uint64_t bad = 0;
        for (uint64_t i = 1; i <= rounds; i++) {
            lat_pause(kind);
            int64_t t0 = bench_now_ns();
            uint64_t v = i, got = 0;
            if (write(a, &v, 8) != 8 || read(b, &got, 8) != 8)
                bad++;
            round_ns[i - 1] = (double)(bench_now_ns() - t0);
            bad += got != i;
        }
        waitpid(pid, NULL, 0);
        close(a);
        close(b);
        double one_way = median(round_ns, (int)rounds) / 2;
        free(round_ns);
        return bad ? -1.0 : one_way;
    }
    size_t len = cortex_ring_required_size(16, 8);
    unsigned char *mem = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    r8 ping, pong, init;
    bool marked = kind == LAT_SPIN_MARKED || kind == LAT_WAIT_IDLE_MARKED;
    if (marked ? cortex_ring_init_marked(&init.ring, mem, len, 16, 8, MARK_EMPTY) != 0 ||
                     cortex_ring_init_marked(&init.ring, mem + 4096, len, 16, 8, MARK_EMPTY) != 0
               : r8_init(&init, mem, len, 16) != 0 || r8_init(&init, mem + 4096, len, 16) != 0)
        die("latency ring init");
    pid_t pid = fork();
    if (pid == 0) {
        bench_pin(0);
        int64_t w, c;
        bench_share_begin(&w, &c);
        if (cortex_ring_attach_mem(&ping.ring, mem, len, 8, 8, CORTEX_CONSUMER) != 0 ||
            cortex_ring_attach_mem(&pong.ring, mem + 4096, len, 8, 8, CORTEX_PRODUCER) != 0)
            _exit(1);
        for (uint64_t i = 0; i < rounds; i++) {
            uint64_t v;
            if (lat_spins(kind))
                while (r8_pop(&ping, &v) != 0) {
                }
            else if (r8_pop_wait(&ping, &v, -1) != 0)
                _exit(2);
            if (lat_spins(kind))
                while (r8_push(&pong, v) != 0) {
                }
            else if (r8_push_wait(&pong, v, -1) != 0)
                _exit(3);
        }
        *shared_share = bench_share_end(w, c);
        _exit(0);
    }
    bench_pin(1);
    if (cortex_ring_attach_mem(&ping.ring, mem, len, 8, 8, CORTEX_PRODUCER) != 0 ||
        cortex_ring_attach_mem(&pong.ring, mem + 4096, len, 8, 8, CORTEX_CONSUMER) != 0)
        die("latency attach");
    int64_t sw, sc;
    uint64_t bad = 0;
    double *round_ns = lat_idle(kind) ? malloc(sizeof *round_ns * (size_t)rounds) : NULL;
    bench_share_begin(&sw, &sc);
    /* The busy kinds in chunks, like the probes (see LAT_CHUNK); the idle kinds per round, to leave out the
     * pause. */
    struct lat_clock clk;
    lat_clock_start(&clk, rounds);
    for (uint64_t i = 1; i <= rounds; i++) {
        lat_pause(kind);
        uint64_t got = 0;
        int64_t t0 = lat_idle(kind) ? bench_now_ns() : 0;
        if (lat_spins(kind)) {
            while (r8_push(&ping, i) != 0) {
            }
            while (r8_pop(&pong, &got) != 0) {
            }
        } else if (r8_push_wait(&ping, i, -1) != 0 || r8_pop_wait(&pong, &got, -1) != 0) {
            bad++;
        }
        if (lat_idle(kind))
            round_ns[i - 1] = (double)(bench_now_ns() - t0);
        else
            lat_clock_tick(&clk, i);
        bad += got != i;
    }
    double one_way = lat_clock_one_way(&clk, rounds);
    bench_share_c = bench_share_end(sw, sc);
    waitpid(pid, NULL, 0);
    bench_share_p = *shared_share;
    if (lat_idle(kind)) /* asleep by design: not a disturbance */
        bench_share_p = bench_share_c = 1.0;
    munmap(mem, 2 * 4096);
    if (round_ns) { /* idle kinds: the median round (one preempted wake-up would move a mean) */
        one_way = median(round_ns, (int)rounds) / 2;
        free(round_ns);
    }
    return bad ? -1.0 : one_way;
}

/* ---- the table ----------------------------------------------------------------- */

enum vkind { V_OURS, V_MARKED, V_BATCHED, V_CK, V_BOOST, V_LAMPORT, V_PIPE, V_SOCK, V_LAT };
struct variant {
    const char *name;
    enum vkind kind;
    int elem64, batch, process, lat;
    int throughput;    /* 1: M msg/s, 0: ns one-way */
    uint64_t n;        /* messages (or rounds) per rep, calibrated */
    double *samples;
    bool *clean;       /* both sides ran >= CLEAN_SHARE of the time */
};

static double run_variant(struct variant *v, uint64_t n)
{
    bench_share_p = bench_share_c = 1.0; /* blocking variants (pipe, socketpair, eventfd): not filtered */
    *shared_share = 1.0;
    switch (v->kind) {
    case V_OURS: return ours_run(v->elem64, v->batch, v->process, CORTEX_RING_SCHEME_INDEX, n);
    case V_MARKED: return ours_run(0, v->batch, v->process, CORTEX_RING_SCHEME_MARKS, n);
    case V_BATCHED: return ours_run(v->elem64, v->batch, v->process, CORTEX_RING_SCHEME_BATCH, n);
#if HAVE_CK
    case V_CK: return ck_run(v->elem64, n);
#endif
#if HAVE_BOOST
    case V_BOOST: return boost_spsc_run(v->elem64, v->batch, n);
#endif
    case V_LAMPORT: return lamport_run(v->elem64, n);
    case V_PIPE: return fd_run(0, n);
    case V_SOCK: return fd_run(1, n);
    case V_LAT: return lat_run((enum lat_kind)v->lat, n);
    default: return -1;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    double *c = malloc(sizeof *c * (size_t)n);
    memcpy(c, v, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = c[n / 2];
    free(c);
    return m;
}

static struct variant *find(struct variant *vs, int nv, const char *name)
{
    for (int i = 0; i < nv; i++)
        if (strcmp(vs[i].name, name) == 0)
            return &vs[i];
    return NULL;
}

/* Median over reps of the per-rep ratio a/b (b may be the larger of two). */
static void ratio(struct variant *vs, int nv, int reps, const char *label, const char *a, const char *b,
                  const char *b2, const char *target)
{
    struct variant *va = find(vs, nv, a), *vb = find(vs, nv, b), *vc = b2 ? find(vs, nv, b2) : NULL;
    if (!va || !vb) {
        printf("  %-58s n/a (not built, or not run)\n", label);
        return;
    }
    double r[256] = {0};
    int k = 0;
    for (int pass = 0; pass < 2 && k == 0; pass++) { /* undisturbed pairs; if none, every pair */
        for (int i = 0; i < reps; i++) {
            bool clean = va->clean[i] && vb->clean[i] && (!vc || vc->clean[i]);
            if (pass == 0 && !clean)
                continue;
            double den = vb->samples[i];
            if (vc && vc->samples[i] > den)
                den = vc->samples[i];
            r[k++] = va->samples[i] / den;
        }
    }
    double lo = r[0], hi = r[0];
    for (int i = 1; i < k; i++) {
        lo = r[i] < lo ? r[i] : lo;
        hi = r[i] > hi ? r[i] : hi;
    }
    printf("  %-52s %6.2fx  (min %.2f, max %.2f, %2d reps)  target %s\n", label, median(r, k), lo, hi, k, target);
}

/*
 * Item 1 of issue 13: a model of the cache lines that move between the two
 * CPUs per message, per variant, in the steady state each ring settles in
 * (SPSC-DESIGNS.md: Boost's uncached ring near full, cached-index rings near
 * empty, every 64-byte ring near empty).  "index": lines holding an index
 * the other side reads; "slot": slot lines; "wake": the sleeper flags.
 * "stalls" counts the lines the producer must win back before a later store
 * of its own can commit (x86 commits stores in order, so each one holds up
 * every store behind it for about one round trip).  A model, not a
 * measurement: it explains the ratios, the table above measures them.
 */
struct line_model {
    const char *variant, *fill;
    double index, slot, wake, stalls;
};

static void print_line_model(double line_ns, double line2_ns)
{
    const double e8 = 8.0; /* 8-byte elements per 64-byte line */
    const struct line_model m[] = {
        /* Boost: each call reads the other side's index (2 lines per message); slots move once per line
         * each way, lines finished ~a lap earlier; near full the producer rewrites lines the consumer left
         * long ago, and its index line is the one store that must come back: 1 stall. */
        {"boost spsc_queue 8B", "near full", 2, 2 / e8, 0, 1},
        /* cached index: the waiting consumer re-reads the producer's index every push and the slot line
         * the producer is filling: 2 lines, both stores of the producer's next push wait for them. */
        {"ours index 8B (cached indices)", "near empty", 1, 1, 0, 2},
        /* marks: nobody reads an index on the path; the waiting consumer reads the slot line being
         * filled (up to once per message), the producer checks one slot per line of 8; the consumer
         * writes the empty marks once per line it leaves (lazy freeing), not per message */
        {"ours marked 8B (empty marks)", "near empty", 0, 1 + 1 / e8, 0, 1},
        {"ours marked 8B (empty marks)", "near full", 0, 2 / e8, 0, 1 / e8},
        /* 64 B: every message is a line of its own, both ways */
        {"boost spsc_queue 64B", "near empty", 2, 2, 0, 2},
        {"ours index 64B", "near empty", 1, 2, 0, 2},
        /* batch scheme: the index line once per 32 messages; the consumer reads only complete groups,
         * so it never takes a slot line the producer is still writing */
        {"ours batched 64B (index per 32)", "near empty", 1 / 32.0, 2, 0, 1 / 32.0},
        /* batch 32: one index publication (and one index read) per 32 messages */
        {"ours index 8B batch32", "either", 2 / 32.0, 2 / e8, 0, 1 / 32.0},
        /* *_wait: the flag line moves only when a side announces it sleeps (a store), then back */
        {"any, *_wait with a sleeping peer", "idle", 1, 1, 2, 1},
    };
    printf("\ncache lines moved between the CPUs per message (model, not measured; see the source):\n");
    printf("%-34s %-11s %6s %6s %6s %6s  %s\n", "variant", "fill", "index", "slot", "wake", "total",
           "producer stalls x one round trip");
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        double total = m[i].index + m[i].slot + m[i].wake;
        printf("%-34s %-11s %6.2f %6.2f %6.2f %6.2f  %.2f x %.0f ns = %.0f ns\n", m[i].variant, m[i].fill,
               m[i].index, m[i].slot, m[i].wake, total, m[i].stalls, 2 * line_ns, m[i].stalls * 2 * line_ns);
    }
    printf("(stalls overlap while the store buffer has room, so they bound, not add up to, the time per message;\n"
           " what decides the rate is whether the consumer reads lines the producer is still writing)\n");
    /* One-way latency (the spin ping-pong rows): what must happen one after the other before the peer
     * sees a message.  The one-word probe is a single fetch per one-way: each side writes its reply into
     * the line it has just fetched, and owns it by then.  A ping-pong over two rings cannot do that: the
     * reply goes into another line, which the waiting side holds shared from its polling, so the store
     * must first take that copy away.  The two-line probe prices this with the probe's tight polling
     * loops; a ring's failed poll pauses (poll_backoff in lib/ring/ring.c), which leaves the writer the
     * line sooner, so the rings can come in under the two-line probe.  Measured on this host
     * (2026-11-29, medians of interleaved 256-round chunks): two-line / one-word 1.2-1.46x depending on
     * the host class (2x where the line costs ~27 ns); the marks ring 1.04-1.21x the one-word probe
     * with the backoff, 1.26-1.45x without; per-pop, lazy or deferred freeing, dropping the index
     * stores and a producer PREFETCHW made no difference beyond the noise. */
    const struct {
        const char *variant, *why;
        double lo, hi;
    } lat[] = {
        {"cache line probe (one word)", "one fetch: the reader writes its reply into the line it owns", line_ns, line_ns},
        {"two-line probe (a line each way)", "the reply's line is shared by the waiter: taken away, then fetched",
         line2_ns, line2_ns},
        {"ours marked 8B", "the slot line each way, no index line; a failed poll pauses", line_ns, line2_ns},
        {"ours index 8B", "the index line, then the slot line (the two loads overlap)", line_ns, line2_ns},
    };
    printf("\none-way latency: what is in series per message (model, priced with the measured probes; the spin\n"
           "latency rows measure it):\n");
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++) {
        char ns[32];
        if (lat[i].hi > lat[i].lo)
            snprintf(ns, sizeof ns, "%.0f-%.0f ns", lat[i].lo, lat[i].hi);
        else
            snprintf(ns, sizeof ns, "%.0f ns", lat[i].lo);
        printf("%-34s %-12s %s\n", lat[i].variant, ns, lat[i].why);
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    double secs = argc > 2 ? atof(argv[2]) : 0.1;
    if (reps < 1 || reps > 256 || secs <= 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    shared_share = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared_share == MAP_FAILED)
        return 1;
    /* Variants that are compared run next to each other, and odd reps run the list backwards,
     * so a ratio compares runs a fraction of a second apart. */
    struct variant vs[] = {
        {"cache line one-way (ping-pong probe)", V_LAT, 0, 0, 0, LAT_LINE, 0, 0, 0, 0},
        {"two-line one-way (a line each way)", V_LAT, 0, 0, 0, LAT_LINE2, 0, 0, 0, 0},
        {"ours marked 8B single, threads", V_MARKED, 0, 0, 0, 0, 1, 0, 0, 0},
        {"ours 8B single, threads", V_OURS, 0, 0, 0, 0, 1, 0, 0, 0},
        {"ours batched 8B single, threads", V_BATCHED, 0, 0, 0, 0, 1, 0, 0, 0},
#if HAVE_CK
        {"ck_ring 8B single", V_CK, 0, 0, 0, 0, 1, 0, 0, 0},
#endif
#if HAVE_BOOST
        {"boost spsc_queue 8B single", V_BOOST, 0, 0, 0, 0, 1, 0, 0, 0},
#endif
        {"ours 8B single, processes", V_OURS, 0, 0, 1, 0, 1, 0, 0, 0},
        {"ours marked 8B single, processes", V_MARKED, 0, 0, 1, 0, 1, 0, 0, 0},
        {"ours batched 8B single, processes", V_BATCHED, 0, 0, 1, 0, 1, 0, 0, 0},
        {"Lamport ring 8B (no cached indices)", V_LAMPORT, 0, 0, 0, 0, 1, 0, 0, 0},
        {"ours marked 8B batch32, threads", V_MARKED, 0, 1, 0, 0, 1, 0, 0, 0},
        {"ours 8B batch32, threads", V_OURS, 0, 1, 0, 0, 1, 0, 0, 0},
#if HAVE_BOOST
        {"boost spsc_queue 8B batch32", V_BOOST, 0, 1, 0, 0, 1, 0, 0, 0},
#endif
        {"ours 8B batch32, processes", V_OURS, 0, 1, 1, 0, 1, 0, 0, 0},
        {"ours batched 64B single, threads", V_BATCHED, 1, 0, 0, 0, 1, 0, 0, 0},
        {"ours 64B single, threads", V_OURS, 1, 0, 0, 0, 1, 0, 0, 0},
#if HAVE_CK
        {"ck_ring 64B single", V_CK, 1, 0, 0, 0, 1, 0, 0, 0},
#endif
#if HAVE_BOOST
        {"boost spsc_queue 64B single", V_BOOST, 1, 0, 0, 0, 1, 0, 0, 0},
#endif
        {"ours 64B single, processes", V_OURS, 1, 0, 1, 0, 1, 0, 0, 0},
        {"ours batched 64B single, processes", V_BATCHED, 1, 0, 1, 0, 1, 0, 0, 0},
        {"Lamport ring 64B (no cached indices)", V_LAMPORT, 1, 0, 0, 0, 1, 0, 0, 0},
        {"ours batched 64B batch32, threads", V_BATCHED, 1, 1, 0, 0, 1, 0, 0, 0},
        {"ours 64B batch32, threads", V_OURS, 1, 1, 0, 0, 1, 0, 0, 0},
#if HAVE_BOOST
        {"boost spsc_queue 64B batch32", V_BOOST, 1, 1, 0, 0, 1, 0, 0, 0},
#endif
        {"ours 64B batch32, processes", V_OURS, 1, 1, 1, 0, 1, 0, 0, 0},
        {"pipe 8B (write per message)", V_PIPE, 0, 0, 1, 0, 1, 0, 0, 0},
        {"socketpair 8B (write per message)", V_SOCK, 0, 0, 1, 0, 1, 0, 0, 0},
        {"latency ours spin, processes", V_LAT, 0, 0, 1, LAT_SPIN, 0, 0, 0, 0},
        {"latency ours marked spin, processes", V_LAT, 0, 0, 1, LAT_SPIN_MARKED, 0, 0, 0, 0},
        {"latency ours *_wait, active peer", V_LAT, 0, 0, 1, LAT_WAIT, 0, 0, 0, 0},
        {"latency ours *_wait, idle peer (asleep)", V_LAT, 0, 0, 1, LAT_WAIT_IDLE, 0, 0, 0, 0},
        {"latency ours marked *_wait, idle peer", V_LAT, 0, 0, 1, LAT_WAIT_IDLE_MARKED, 0, 0, 0, 0},
        {"latency eventfd, idle peer (asleep)", V_LAT, 0, 0, 1, LAT_EVENTFD_IDLE, 0, 0, 0, 0},
    };
    int nv = (int)(sizeof vs / sizeof vs[0]);
    if (argc > 3) { /* keep the variants named by the filter (and the probes: they price the model) */
        int kept = 0;
        for (int i = 0; i < nv; i++) {
            bool keep = (vs[i].lat == LAT_LINE || vs[i].lat == LAT_LINE2) && vs[i].kind == V_LAT;
            char only[512];
            snprintf(only, sizeof only, "%s", argv[3]);
            for (char *save = NULL, *part = strtok_r(only, ",", &save); part && !keep; part = strtok_r(NULL, ",", &save))
                keep = strstr(vs[i].name, part) != NULL;
            if (keep)
                vs[kept++] = vs[i];
        }
        nv = kept;
    }
    /* Calibrate: one short warm-up run per variant sizes its rep to about secs. */
    for (int i = 0; i < nv; i++) {
        struct variant *v = &vs[i];
        uint64_t probe = v->throughput ? (v->kind == V_PIPE || v->kind == V_SOCK ? 100000 : 1000000)
                                       : (lat_idle((enum lat_kind)v->lat) ? 50 : 2000);
        double r = run_variant(v, probe);
        if (r <= 0) {
            fprintf(stderr, "bench-ring: %s: wrong sequence number in calibration\n", v->name);
            return 1;
        }
        double n = v->throughput ? r * secs
                                 : secs * 1e9 / (2 * r + (lat_idle((enum lat_kind)v->lat) ? IDLE_GAP_NS : 0));
        v->n = n < 1000 && v->throughput ? 1000 : n < 20 ? 20 : (uint64_t)n;
        v->samples = calloc((size_t)reps, sizeof(double));
        v->clean = calloc((size_t)reps, sizeof(bool));
    }
    for (int rep = 0; rep < reps; rep++) {
        for (int k = 0; k < nv; k++) {
            int i = rep & 1 ? nv - 1 - k : k;
            double r = run_variant(&vs[i], vs[i].n);
            if (r <= 0) {
                fprintf(stderr, "bench-ring: %s: wrong sequence number (rep %d)\n", vs[i].name, rep);
                return 1;
            }
            vs[i].samples[rep] = vs[i].throughput ? r / 1e6 : r;
            vs[i].clean[rep] = bench_share_p >= CLEAN_SHARE && bench_share_c >= CLEAN_SHARE;
        }
    }
    struct variant *line = find(vs, nv, "cache line one-way (ping-pong probe)");
    double line_ns = median(line->samples, reps);
    printf("host: cache line one-way %.0f ns, round trip %.0f ns (median of %d probes; %s)\n", line_ns, 2 * line_ns,
           reps, line_ns >= 200 ? "slow-interconnect host" : "fast host");
    printf("SPSC ring, capacity %d, producer CPU0 / consumer CPU1, %d reps x %.2f s per variant, interleaved\n"
           "(odd reps in reverse order); every consumer checked every sequence number\n",
           CAP, reps, secs);
    printf("%-42s %10s %10s %10s  %-10s %s\n", "variant", "min", "median", "max", "unit", "undisturbed reps");
    for (int i = 0; i < nv; i++) {
        struct variant *v = &vs[i];
        double sel[256];
        int k = 0;
        for (int r = 0; r < reps; r++)
            if (v->clean[r])
                sel[k++] = v->samples[r];
        bool all = k == 0; /* nothing undisturbed: show every sample, marked */
        if (all)
            for (int r = 0; r < reps; r++)
                sel[k++] = v->samples[r];
        double lo = sel[0], hi = sel[0];
        for (int r = 1; r < k; r++) {
            lo = sel[r] < lo ? sel[r] : lo;
            hi = sel[r] > hi ? sel[r] : hi;
        }
        printf("%-42s %10.2f %10.2f %10.2f  %-10s %d/%d%s\n", v->name, lo, median(sel, k), hi,
               v->throughput ? "M msg/s" : "ns 1-way", all ? 0 : k, reps, all ? " (all shown)" : "");
    }
    printf("\nratios (median of per-rep ratios, same run, reps where every compared sample was undisturbed):\n");
    ratio(vs, nv, reps, "ours 8B single / best of ck_ring, boost 8B single", "ours 8B single, threads",
          "ck_ring 8B single", "boost spsc_queue 8B single", ">= 1.3");
    ratio(vs, nv, reps, "ours batched 8B single / best of ck_ring, boost 8B single", "ours batched 8B single, threads",
          "ck_ring 8B single", "boost spsc_queue 8B single", ">= 1.3 (any T)");
    ratio(vs, nv, reps, "ours marked 8B single / best of ck_ring, boost 8B single", "ours marked 8B single, threads",
          "ck_ring 8B single", "boost spsc_queue 8B single", ">= 2");
    ratio(vs, nv, reps, "ours marked 8B batch32 / boost 8B batch32", "ours marked 8B batch32, threads",
          "boost spsc_queue 8B batch32", NULL, ">= 1.5");
    ratio(vs, nv, reps, "latency: ours marked spin / cache line one-way", "latency ours marked spin, processes",
          "cache line one-way (ping-pong probe)", NULL, "<= 1.3");
    ratio(vs, nv, reps, "latency: ours spin / cache line one-way", "latency ours spin, processes",
          "cache line one-way (ping-pong probe)", NULL, "<= 1.3");
    ratio(vs, nv, reps, "host: two-line / cache line one-way (see the model)", "two-line one-way (a line each way)",
          "cache line one-way (ping-pong probe)", NULL, "none (a host figure)");
    ratio(vs, nv, reps, "ours batched 64B single / best of ck_ring, boost 64B", "ours batched 64B single, threads",
          "ck_ring 64B single", "boost spsc_queue 64B single", ">= 2");
    ratio(vs, nv, reps, "ours 64B single / best of ck_ring, boost 64B single", "ours 64B single, threads",
          "ck_ring 64B single", "boost spsc_queue 64B single", ">= 2");
    ratio(vs, nv, reps, "ours batched 64B batch32 / boost 64B batch32", "ours batched 64B batch32, threads",
          "boost spsc_queue 64B batch32", NULL, ">= 1.2");
    ratio(vs, nv, reps, "ours 8B batch32 / boost 8B batch32", "ours 8B batch32, threads",
          "boost spsc_queue 8B batch32", NULL, ">= 1.5");
    ratio(vs, nv, reps, "ours 64B batch32 / boost 64B batch32", "ours 64B batch32, threads",
          "boost spsc_queue 64B batch32", NULL, ">= 1.2");
    ratio(vs, nv, reps, "ours 8B single: processes / threads", "ours 8B single, processes",
          "ours 8B single, threads", NULL, ">= 0.85");
    ratio(vs, nv, reps, "ours 8B batch32: processes / threads", "ours 8B batch32, processes",
          "ours 8B batch32, threads", NULL, ">= 0.85");
    ratio(vs, nv, reps, "ours 8B single / Lamport 8B", "ours 8B single, threads", "Lamport ring 8B (no cached indices)",
          NULL, "> 1");
    ratio(vs, nv, reps, "ours 8B single, processes / pipe", "ours 8B single, processes", "pipe 8B (write per message)",
          NULL, "> 1");
    ratio(vs, nv, reps, "latency: *_wait active / spin", "latency ours *_wait, active peer",
          "latency ours spin, processes", NULL, "<= 2");
    ratio(vs, nv, reps, "latency idle peer: ours *_wait / eventfd", "latency ours *_wait, idle peer (asleep)",
          "latency eventfd, idle peer (asleep)", NULL, "<= 0.9");
    struct variant *line2 = find(vs, nv, "two-line one-way (a line each way)");
    print_line_model(line_ns, line2 ? median(line2->samples, reps) : line_ns);
    return 0;
}
