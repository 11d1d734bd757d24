/* SPDX-License-Identifier: MIT */
/*
 * bench/slab zero-copy: messages/s between two processes for 64 B, 4 KiB
 * and 64 KiB messages, four ways in the same run:
 *
 *   zero-copy   a channel (neocortex/channel.h), used as docs/channel.md
 *               recommends: the producer loans a slot and writes the
 *               message in place (this payload is a memset and an 8-byte
 *               store: bulk stores, fast-string at 4 KiB and up), then
 *               publishes it; the consumer takes it (which prefetches its
 *               first 4 KiB), reads it in place and releases it; magazines
 *               on (the default); then two more rows: magazines off, and
 *               the message built in a local buffer and published with
 *               cortex_channel_publish_copy() (what the docs recommend for
 *               a payload computed word by word)
 *   ring copy   the same bytes copied into a ring of message-sized elements
 *               and copied out again (cortex_ring_push_wait / pop_wait)
 *   pipe        write() / read() of the whole message
 *   socketpair  the same over a Unix stream socketpair
 *   bare slots  no library: as many slots as the channel's class, used in
 *               turn, each with a full/free flag on a line of its own; the
 *               consumer prefetches the payload as the channel's take does
 *               (not crash-safe; a reference for the channel's bookkeeping)
 *
 * In every variant the producer writes all S bytes of each message (its
 * first 8 bytes are a sequence number) and the consumer checks every
 * byte: a lost, repeated or torn message fails the run.  Each rep first
 * sends four times the ring's capacity (a warm-up: every slot and page
 * written twice over); the consumer times from the end of the warm-up to
 * its last message, so the messages the producer queued ahead by then
 * (at most the channel's class or the ring: about 1 % of a rep) count
 * too.  Variants are interleaved rep by rep, and each rep first probes
 * the cache line; min / median / max messages/s and the ratio of the
 * medians to zero-copy, and, per host class the probes found (fast: a line
 * moves in <= 100 ns one way), the median of the same-rep ratios against
 * issue 12's targets for that class.  The first line is the host's
 * cache-line round trip (a line bounced between two processes, RTT/2), so
 * a slow-interconnect host can be told from a fast one.
 *
 *   build-rel/bench/slab/bench-zerocopy [reps]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../line_probe.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Every byte of a message is written: its sequence number, then the number's low byte repeated. */
static void fill(unsigned char *p, size_t size, uint64_t seq)
{
    memset(p, (int)(seq & 0xff), size);
    memcpy(p, &seq, sizeof seq);
}

/* Every byte of a message is checked (word by word: sizes are multiples of 8). */
static int check(const unsigned char *p, size_t size, uint64_t seq)
{
    uint64_t got, acc = 0, pat = (seq & 0xff) * UINT64_C(0x0101010101010101);
    memcpy(&got, p, sizeof got);
    const uint64_t *w = (const void *)p;
    for (size_t k = 1; k < size / 8; k++)
        acc |= w[k] ^ pat;
    return got == seq && acc == 0;
}

enum { V_ZC, V_ZC_NOMAG, V_ZC_COPY, V_RING, V_PIPE, V_SOCK, V_BARE, NV };
static const char *vname[NV] = {"zero-copy (channel, in place)", "zero-copy, magazines off",
                                "zero-copy, built locally + copy-in", "ring copy (message-sized elements)", "pipe",
                                "socketpair", "bare slots, no library"};

/*
 * The bare-slots row: no library, about the least a shared-memory hand-over
 * of in-place messages moves.  As many slots as the channel's pool, used in
 * turn, and a flag per slot on a line of its own (the message's sequence
 * number when full, 0 when free), so a message moves its payload's lines
 * and its flag's; the consumer prefetches the payload first, as the
 * channel's take does.  No crash safety, no checks of the peer, one
 * producer and one consumer: a reference for the channel's bookkeeping,
 * not a design to use.  @p mem holds the slots, then the flag lines.
 */
static uint64_t *bare_flag(unsigned char *mem, uint32_t slots, size_t size, long i)
{
    return (uint64_t *)(void *)(mem + (size_t)slots * size + (size_t)((i - 1) % slots) * 64);
}

static int bare_produce(unsigned char *mem, uint32_t slots, size_t size, long count)
{
    for (long i = 1; i <= count; i++) {
        unsigned char *p = mem + (size_t)((i - 1) % slots) * size;
        uint64_t *flag = bare_flag(mem, slots, size, i);
        int64_t spins = 0;
        while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0)
            if (++spins > INT64_C(4000000000))
                return -1;
        fill(p, size, (uint64_t)i);
        __atomic_store_n(flag, (uint64_t)i, __ATOMIC_RELEASE);
    }
    return 0;
}

static int bare_consume(unsigned char *mem, uint32_t slots, size_t size, long count, long warm, int64_t *t_start)
{
    for (long i = 1; i <= count; i++) {
        if (i == warm + 1)
            *t_start = now_ns();
        unsigned char *p = mem + (size_t)((i - 1) % slots) * size;
        uint64_t *flag = bare_flag(mem, slots, size, i);
        int64_t spins = 0;
        while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != (uint64_t)i)
            if (++spins > INT64_C(4000000000))
                return -1;
        for (size_t off = 0; off < size && off < 4096; off += 64)
            __builtin_prefetch(p + off, 0, 3);
        if (!check(p, size, (uint64_t)i))
            return -1;
        __atomic_store_n(flag, 0, __ATOMIC_RELEASE);
    }
    return 0;
}

static int rw_full(int fd, void *buf, size_t n, int writing)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = writing ? write(fd, p, n) : read(fd, p, n);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/*
 * Runs one rep of variant v: @p timed messages of size bytes after a
 * warm-up of four times the channel's ring capacity (every slot and page
 * of each variant written twice over); returns messages/s, or -1.
 */
static double run(int v, size_t size, long timed)
{
    uint32_t cap = size >= 65536 ? 32 : size >= 4096 ? 256 : 1024;
    long warm = (long)cap * 4, count = warm + timed;
    int sync[2]; /* the consumer's "ready", then its two time stamps */
    if (pipe(sync) != 0)
        return -1;
    size_t ring_len = cortex_ring_required_size(cap, size);
    unsigned char *mem = NULL;
    int fds[2] = {-1, -1};
    cortex_ring init, prod;
    cortex_channel *ch = NULL;
    char name[64];
    snprintf(name, sizeof name, "/nc-bench-zc-%d", (int)getpid());
    bool zc = v == V_ZC || v == V_ZC_NOMAG || v == V_ZC_COPY, ring_up = false;
    size_t bare_len = (size_t)cap * 2 * (size + 64);
    int setup = 0;
    if (zc) {
        cortex_pool_class cls = {(uint32_t)size, cap * 2};
        if (cortex_channel_create(&ch, CORTEX_KEY_NAME(name), &cls, 1, 1, 8, "bytes", CORTEX_PRODUCER, NULL) < 0) {
            fprintf(stderr, "channel: %s\n", cortex_last_error()->message);
            setup = -1;
        } else if (v == V_ZC_NOMAG && cortex_channel_magazine(ch, 0) < 0) {
            setup = -1;
        }
    } else if (v == V_RING || v == V_BARE) {
        mem = mmap(NULL, v == V_RING ? ring_len : bare_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                   0);
        if (mem == MAP_FAILED) {
            mem = NULL;
            setup = -1;
        } else if (v == V_RING) {
            ring_up = cortex_ring_init(&init, mem, ring_len, cap, size, 8) == 0 &&
                      cortex_ring_attach_mem(&prod, mem, ring_len, size, 8, CORTEX_PRODUCER) == 0;
            setup = ring_up ? 0 : -1;
        }
    } else if (v == V_PIPE ? pipe(fds) != 0 : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        setup = -1;
    }
    if (setup < 0) {
        if (ch)
            cortex_channel_close(ch);
        if (mem)
            munmap(mem, v == V_RING ? ring_len : bare_len);
        close(sync[0]);
        close(sync[1]);
        fprintf(stderr, "%s, %zu B: setup failed\n", vname[v], size);
        return -1;
    }
    unsigned char *buf = malloc(size);
    /*
     * The consumer's clock runs from the end of the warm-up to its last
     * message: not the fork and its setup (a new process's first attach may
     * wait up to a clock tick, 10 ms, for its identity stamp:
     * docs/segments.md), and not the first touch of fresh pages.
     */
    pid_t pid = fork();
    if (pid == 0) { /* consumer */
        int bad = 0;
        cortex_ring cons;
        cortex_channel *cc = NULL;
        if (v == V_RING && cortex_ring_attach_mem(&cons, mem, ring_len, size, 8, CORTEX_CONSUMER) < 0)
            _exit(3);
        if (zc && cortex_channel_attach(&cc, CORTEX_KEY_NAME(name), 1, 8, "bytes", CORTEX_CONSUMER, NULL) < 0)
            _exit(3);
        if (v == V_ZC_NOMAG && cortex_channel_magazine(cc, 0) < 0)
            _exit(3);
        if (v == V_PIPE || v == V_SOCK)
            close(fds[1]);
        close(sync[0]);
        if (write(sync[1], "r", 1) != 1)
            _exit(3);
        int64_t times[2] = {0, 0}; /* the end of the warm-up, the last message */
        if (v == V_BARE) /* a loop of its own: flags, no library */
            bad = bare_consume(mem, cap * 2, size, count, warm, &times[0]) < 0;
        for (long i = 1; v != V_BARE && i <= count && !bad; i++) {
            if (i == warm + 1)
                times[0] = now_ns();
            if (zc) {
                const void *p;
                size_t n;
                int rc;
                if ((rc = cortex_channel_take_wait(cc, &p, &n, 10000000000)) < 0)
                    _exit(4);
                bad = n != size || !check(p, size, (uint64_t)i) || cortex_channel_release(cc, p) < 0;
            } else if (v == V_RING) {
                if (cortex_ring_pop_wait(&cons, buf, 10000000000) < 0)
                    _exit(4);
                bad = !check(buf, size, (uint64_t)i);
            } else {
                if (rw_full(fds[0], buf, size, 0) < 0)
                    _exit(4);
                bad = !check(buf, size, (uint64_t)i);
            }
        }
        times[1] = now_ns();
        if (cc)
            cortex_channel_close(cc);
        if (write(sync[1], times, sizeof times) != (ssize_t)sizeof times)
            _exit(3);
        _exit(bad ? 5 : 0);
    }
    if (v == V_PIPE || v == V_SOCK)
        close(fds[0]);
    close(sync[1]);
    char ready;
    int bad = pid < 0 || read(sync[0], &ready, 1) != 1;
    int64_t times[2] = {0, 0};
    if (v == V_BARE && !bad)
        bad = bare_produce(mem, cap * 2, size, count) < 0;
    for (long i = 1; v != V_BARE && i <= count && !bad; i++) {
        if (zc && v != V_ZC_COPY) { /* in place */
            void *slot;
            int rc;
            if ((rc = cortex_channel_loan_wait(ch, size, &slot, 10000000000)) < 0)
                bad = 1;
            else {
                fill(slot, size, (uint64_t)i);
                bad = cortex_channel_publish(ch, slot, size) < 0;
            }
        } else if (zc) { /* built locally, copied in with fast stores */
            fill(buf, size, (uint64_t)i);
            bad = cortex_channel_publish_copy(ch, buf, size, 10000000000) < 0;
        } else if (v == V_RING) {
            fill(buf, size, (uint64_t)i);
            bad = cortex_ring_push_wait(&prod, buf, 10000000000) < 0;
        } else {
            fill(buf, size, (uint64_t)i);
            bad = rw_full(fds[1], buf, size, 1) < 0;
        }
    }
    int st = 0;
    if (pid > 0) {
        bad |= read(sync[0], times, sizeof times) != (ssize_t)sizeof times;
        waitpid(pid, &st, 0);
    }
    close(sync[0]);
    int64_t dt = times[1] - times[0];
    if (v == V_PIPE || v == V_SOCK)
        close(fds[1]);
    free(buf);
    if (ring_up)
        cortex_ring_close(&prod);
    if (mem)
        munmap(mem, v == V_RING ? ring_len : bare_len);
    if (ch)
        cortex_channel_close(ch);
    if (bad || dt <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s, %zu B: failed (consumer status 0x%x)\n", vname[v], size, st);
        return -1;
    }
    return (double)timed * 1e9 / (double)dt;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of @p n values (sorted in place). */
static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Same-rep ratios of the reps whose line probe put them in one host class
 * (the classes: fast <= 100 ns one way, slow above), with the
 * issue's targets for that class.  Ratios of two runs a few milliseconds
 * apart cancel the host's drift, which on this machine kind can move the
 * line cost 5-10x between reps (BASELINES.md).
 */
static void class_ratios(size_t size, int reps, const double *probe, double res[][101], bool fast_class)
{
    double rr[101], rp[101], rn[101], rb[101], lo = 0, hi = 0;
    int n = 0;
    for (int r = 0; r < reps; r++) {
        if (probe[r] <= 0 || (probe[r] <= 100) != fast_class || res[V_ZC][r] <= 0 || res[V_RING][r] <= 0 ||
            res[V_PIPE][r] <= 0 || res[V_ZC_NOMAG][r] <= 0 || res[V_BARE][r] <= 0)
            continue;
        lo = n == 0 || probe[r] < lo ? probe[r] : lo;
        hi = n == 0 || probe[r] > hi ? probe[r] : hi;
        rr[n] = res[V_ZC][r] / res[V_RING][r];
        rp[n] = res[V_ZC][r] / res[V_PIPE][r];
        rn[n] = res[V_ZC_NOMAG][r] / res[V_RING][r];
        rb[n] = res[V_BARE][r] / res[V_RING][r];
        n++;
    }
    if (n == 0)
        return;
    double t_ring = size == 64 ? 0.5 : fast_class ? 3.0 : 1.5;
    double t_pipe = size == 4096 ? (fast_class ? 10.0 : 7.0) : 0;
    double mr = median_of(rr, n), mp = median_of(rp, n);
    printf("  %d of %d reps on a %s host (line %.0f-%.0f ns one way), median of same-rep ratios:\n", n, reps,
           fast_class ? "fast" : "slow", lo, hi);
    printf("    zero-copy / ring copy %.2fx (target >= %.1fx: %s)", mr, t_ring, mr >= t_ring ? "met" : "NOT met");
    if (t_pipe > 0)
        printf("; zero-copy / pipe %.2fx (target >= %.0fx: %s)\n", mp, t_pipe, mp >= t_pipe ? "met" : "NOT met");
    else
        printf("; zero-copy / pipe %.2fx (no target)\n", mp);
    /* What the host gives an in-place hand-over with no bookkeeping, and the channel without its magazines
     * (few slots reused, not the whole class cycled): docs/channel.md, "Benchmark". */
    printf("    for reference, / ring copy: bare slots %.2fx, zero-copy with magazines off %.2fx\n", median_of(rb, n),
           median_of(rn, n));
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > 101)
        reps = 7;
    static const size_t sizes[] = {64, 4096, 65536};
    int failed = 0;
    printf("zero-copy messaging between two processes, messages/s (%d reps, interleaved; every message checked;\n"
           "the consumer times from the end of a warm-up of 4 x the ring's capacity to its last message)\n",
           reps);
    bench_print_line_cost();
    printf("targets (issue 12): a fast host (line <= 100 ns one way) and a slow one have their own; each rep\n"
           "probes the line first and counts for the class it found\n");
    for (int si = 0; si < 3; si++) {
        size_t size = sizes[si];
        long count = size >= 65536 ? 8000 : size >= 4096 ? 40000 : 200000;
        double res[NV][101], probe[101];
        for (int r = 0; r < reps; r++) {
            probe[r] = bench_line_one_way_ns();
            for (int k = 0; k < NV; k++) {
                int v = (r & 1) ? NV - 1 - k : k; /* odd reps in reverse order */
                res[v][r] = run(v, size, count);
                failed |= res[v][r] < 0;
            }
        }
        printf("\n%zu-byte messages (%ld timed per rep)\n", size, count);
        printf("  %-36s %12s %12s %12s %10s %9s\n", "variant", "min", "median", "max", "MB/s med", "zc/this");
        double med[NV], sorted[NV][101];
        for (int v = 0; v < NV; v++) {
            memcpy(sorted[v], res[v], sizeof sorted[v]);
            med[v] = median_of(sorted[v], reps);
        }
        for (int v = 0; v < NV; v++)
            printf("  %-36s %12.0f %12.0f %12.0f %10.0f %8.2fx\n", vname[v], sorted[v][0], med[v],
                   sorted[v][reps - 1], med[v] * (double)size / 1e6, med[V_ZC] / med[v]);
        class_ratios(size, reps, probe, res, true);
        class_ratios(size, reps, probe, res, false);
    }
    if (failed) {
        printf("FAILED: some messages were lost or wrong\n");
        return 1;
    }
    return 0;
}
