/* SPDX-License-Identifier: MIT */
/*
 * The neocortex demo: three real processes share typed memory.
 *
 *   host      creates a stats cell and a slab of messages, starts the two
 *             others (fork + exec of this program), watches the cell with
 *             lock-free reads and checks the totals at the end;
 *   producer  creates a ring of slab handles, allocates messages in the
 *             slab, writes them in place and pushes only their handles;
 *   consumer  pops handles, reads each message in place, checks it, frees
 *             the slot, and counts what it saw in the shared cell.
 *
 * Usage: demo [COUNT]          (the host; default 500000 messages)
 *        demo producer BASE COUNT  /  demo consumer BASE   (started by the host)
 */
#define _GNU_SOURCE
#include <neocortex.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct demo_stats {
    uint64_t produced;   /* messages pushed */
    uint64_t consumed;   /* messages popped and checked */
    uint64_t bytes;      /* payload bytes read in place */
    uint64_t bad;        /* messages that failed their check */
    uint64_t slab_waits; /* times the producer found the slab full */
} demo_stats;

typedef struct demo_msg {
    uint64_t seq;
    uint32_t len;
    uint32_t sum; /* checksum of text[0..len) */
    char text[112];
} demo_msg;

CORTEX_DECLARE(stats_cell, demo_stats);
SLAB_DECLARE(msg_slab, demo_msg);
SPSC_RING_DECLARE(handle_ring, cortex_handle);

#define SLAB_SLOTS 64u
#define RING_CAPACITY 32u
#define BATCH 128u

static uint32_t checksum(const char *p, uint32_t len)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static void names(const char *base, char *cell, char *slab, char *ring)
{
    snprintf(cell, 96, "/%s-stats", base);
    snprintf(slab, 96, "/%s-slab", base);
    snprintf(ring, 96, "/%s-ring", base);
}

static int fail(const char *who, const char *what, int rc)
{
    fprintf(stderr, "%s: %s: %s (%s)\n", who, what, cortex_strerror(rc), cortex_last_error()->message);
    return 1;
}

typedef struct counts {
    uint64_t produced, consumed, bytes, bad, slab_waits;
} counts;

static void add_counts(demo_stats *s, void *ctx)
{
    const counts *c = ctx;
    s->produced += c->produced;
    s->consumed += c->consumed;
    s->bytes += c->bytes;
    s->bad += c->bad;
    s->slab_waits += c->slab_waits;
}

/* Both workers attach the host's cell and slab; returns 0 or the exit status. */
static int attach_shared(const char *who, const char *cn, const char *sn, stats_cell *stats, msg_slab *slab)
{
    int rc;
    if ((rc = stats_cell_attach(stats, CORTEX_KEY_NAME(cn), NULL)) < 0)
        return fail(who, "attach stats cell", rc);
    if ((rc = msg_slab_attach(slab, CORTEX_KEY_NAME(sn), NULL)) < 0)
        return fail(who, "attach slab", rc);
    return 0;
}

/* ---- producer ------------------------------------------------------------ */

static int producer(const char *base, uint64_t count)
{
    char cn[96], sn[96], rn[96];
    names(base, cn, sn, rn);
    stats_cell stats;
    msg_slab slab;
    handle_ring ring;
    int rc;
    if (attach_shared("producer", cn, sn, &stats, &slab) != 0)
        return 1;
    if ((rc = handle_ring_create(&ring, CORTEX_KEY_NAME(rn), RING_CAPACITY, CORTEX_PRODUCER, NULL)) < 0)
        return fail("producer", "create ring", rc);

    counts pending = {0};
    pid_t me = getpid();
    for (uint64_t seq = 0; seq < count; seq++) {
        cortex_handle h;
        while ((rc = msg_slab_alloc(&slab, &h)) == -ENOSPC) {
            pending.slab_waits++; /* every slot is with the consumer: let it catch up */
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        if (rc < 0)
            return fail("producer", "alloc", rc);
        demo_msg *m = msg_slab_get(&slab, h); /* written in place: no copy into the ring */
        m->seq = seq;
        int n = snprintf(m->text, sizeof m->text, "message %" PRIu64 " from producer %d", seq, (int)me);
        m->len = (uint32_t)n;
        m->sum = checksum(m->text, m->len);
        if ((rc = msg_slab_send(&slab, h)) < 0) /* hand the slot over */
            return fail("producer", "send", rc);
        if ((rc = handle_ring_push_wait(&ring, h, -1)) < 0)
            return fail("producer", "push", rc);
        if (++pending.produced == BATCH) {
            if ((rc = stats_cell_update(&stats, add_counts, &pending)) < 0)
                return fail("producer", "update stats", rc);
            memset(&pending, 0, sizeof pending);
        }
    }
    if ((rc = stats_cell_update(&stats, add_counts, &pending)) < 0)
        return fail("producer", "update stats", rc);
    handle_ring_close(&ring); /* the consumer drains what is left, then sees -EPIPE */
    msg_slab_close(&slab);
    stats_cell_close(&stats);
    return 0;
}

/* ---- consumer ------------------------------------------------------------ */

static int consumer(const char *base)
{
    char cn[96], sn[96], rn[96];
    names(base, cn, sn, rn);
    stats_cell stats;
    msg_slab slab;
    handle_ring ring;
    int rc;
    if (attach_shared("consumer", cn, sn, &stats, &slab) != 0)
        return 1;
    /* The producer creates the ring; wait for it to appear. */
    for (int tries = 0;; tries++) {
        rc = handle_ring_attach(&ring, CORTEX_KEY_NAME(rn), CORTEX_CONSUMER, NULL);
        if (rc != -ENOENT || tries == 5000)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (rc < 0)
        return fail("consumer", "attach ring", rc);

    counts pending = {0};
    uint64_t expect = 0;
    for (;;) {
        cortex_handle h;
        rc = handle_ring_pop_wait(&ring, &h, INT64_C(2000000000));
        if (rc == -EPIPE)
            break; /* producer closed and everything is drained */
        if (rc < 0)
            return fail("consumer", "pop", rc);
        if ((rc = msg_slab_receive(&slab, &h)) < 0) /* the slot is ours now, h our own handle */
            return fail("consumer", "receive", rc);
        const demo_msg *m = msg_slab_get(&slab, h);
        if (!m || m->seq != expect || m->len >= sizeof m->text || checksum(m->text, m->len) != m->sum)
            pending.bad++;
        else
            pending.bytes += m->len;
        expect++;
        if ((rc = msg_slab_free(&slab, h)) < 0)
            return fail("consumer", "free", rc);
        if (++pending.consumed == BATCH) {
            if ((rc = stats_cell_update(&stats, add_counts, &pending)) < 0)
                return fail("consumer", "update stats", rc);
            memset(&pending, 0, sizeof pending);
        }
    }
    if ((rc = stats_cell_update(&stats, add_counts, &pending)) < 0)
        return fail("consumer", "update stats", rc);
    handle_ring_close(&ring);
    msg_slab_close(&slab);
    stats_cell_close(&stats);
    return 0;
}

/* ---- host ---------------------------------------------------------------- */

static pid_t start(const char *self, const char *role, const char *base, const char *count)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, role, base, count, (char *)NULL);
        perror("exec");
        _exit(127);
    }
    return pid;
}

static int host(const char *self, uint64_t count)
{
    char base[64], cn[96], sn[96], rn[96], countarg[32];
    snprintf(base, sizeof base, "neocortex-demo-%d", (int)getpid());
    snprintf(countarg, sizeof countarg, "%" PRIu64, count);
    names(base, cn, sn, rn);

    stats_cell stats;
    msg_slab slab;
    int rc;
    if ((rc = stats_cell_create(&stats, CORTEX_KEY_NAME(cn), (demo_stats){0, 0, 0, 0, 0}, NULL)) < 0)
        return fail("host", "create stats cell", rc);
    if ((rc = msg_slab_create(&slab, CORTEX_KEY_NAME(sn), SLAB_SLOTS, NULL)) < 0) {
        stats_cell_close(&stats);
        return fail("host", "create slab", rc);
    }
    printf("host %d: stats cell %s (%s lock), slab %s (%u x %zu B), ring %s (%u handles)\n", (int)getpid(), cn,
           cortex_cell_lock_ops(stats.cell)->name, sn, SLAB_SLOTS, sizeof(demo_msg), rn, RING_CAPACITY);

    pid_t cons = start(self, "consumer", base, "0");
    pid_t prod = start(self, "producer", base, countarg);
    printf("host: consumer %d and producer %d started; %" PRIu64 " messages, zero-copy through slab + ring\n",
           (int)cons, (int)prod, count);

    int running = 2, status_ok = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (running > 0) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        demo_stats s;
        if (stats_cell_read(&stats, &s) == 0) /* lock-free: never blocks the writers */
            printf("  produced %8" PRIu64 "  consumed %8" PRIu64 "  bad %" PRIu64 "\n", s.produced, s.consumed,
                   s.bad);
        int st;
        pid_t done;
        while ((done = waitpid(-1, &st, WNOHANG)) > 0) {
            running--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                status_ok = 0;
                fprintf(stderr, "host: %s %d failed\n", done == prod ? "producer" : "consumer", (int)done);
                kill(done == prod ? cons : prod, SIGTERM);
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    demo_stats s;
    rc = stats_cell_read(&stats, &s);
    cortex_slab_stats ss;
    int src = msg_slab_stats(&slab, &ss);
    printf("host: done in %.2f s: produced %" PRIu64 ", consumed %" PRIu64 ", %" PRIu64
           " bytes read in place, %" PRIu64 " bad, producer waited for a free slot %" PRIu64 " times\n",
           secs, s.produced, s.consumed, s.bytes, s.bad, s.slab_waits);
    if (src == 0)
        printf("host: slab has %u of %u slots free again (high-water mark %u)\n", ss.free, ss.slots,
               ss.high_water);
    int ok = status_ok && rc == 0 && s.produced == count && s.consumed == count && s.bad == 0 && src == 0 &&
             ss.free == ss.slots;
    msg_slab_close(&slab);   /* the owner removes /dev/shm/...-slab */
    stats_cell_close(&stats); /* and ...-stats with its lock */
    printf("host: %s\n", ok ? "all messages arrived in order and intact; segments removed" : "FAILED");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "producer") == 0)
        return producer(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "consumer") == 0)
        return consumer(argv[2]);
    uint64_t count = argc >= 2 ? strtoull(argv[1], NULL, 10) : 500000;
    if (count == 0) {
        fprintf(stderr, "usage: %s [COUNT]\n", argv[0]);
        return 2;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    return host(self, count);
}
