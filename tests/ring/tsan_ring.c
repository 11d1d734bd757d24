/* SPDX-License-Identifier: MIT */
/*
 * Thread pair over one mapping: the producer and the consumer run as two
 * threads (ThreadSanitizer sees both sides), moving sequence numbers through
 * push/pop, push_n/pop_n with random batches, reserve/commit + peek/release,
 * and push_wait/pop_wait; first with one handle for both sides (the raw
 * name_init form), then with a producer handle and a consumer handle joined
 * with cortex_ring_attach_mem(), as two processes would.  Exit 0 = pass.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nctest.h"
#include "ring_seq.h"

struct side {
    seq_ring *r;
    uint64_t n;
    enum seq_mode mode;
    int rc;
};

static void *produce(void *arg)
{
    struct side *s = arg;
    s->rc = seq_produce(s->r, s->n, s->mode, 0x9e3779b97f4a7c15u);
    return NULL;
}

static void *consume(void *arg)
{
    struct side *s = arg;
    s->rc = seq_consume(s->r, s->n, s->mode, 0x2545f4914f6cdd1du);
    return NULL;
}

static int run_pair(seq_ring *p, seq_ring *c, uint64_t n, enum seq_mode mode, const char *what)
{
    struct side ps = {p, n, mode, -1}, cs = {c, n, mode, -1};
    pthread_t tp, tc;
    if (pthread_create(&tc, NULL, consume, &cs) != 0 || pthread_create(&tp, NULL, produce, &ps) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    if (ps.rc != 0 || cs.rc != 0) {
        fprintf(stderr, "FAIL %s: producer %d consumer %d\n", what, ps.rc, cs.rc);
        return 1;
    }
    printf("ok %s: %llu numbers\n", what, (unsigned long long)n);
    return 0;
}

/* Lays the ring over @p mem with the publication @p scheme (marks: UINT64_MAX is "empty"). */
static int init_ring(seq_ring *r, void *mem, size_t len, uint32_t cap, uint32_t scheme)
{
    if (scheme == CORTEX_RING_SCHEME_MARKS)
        return cortex_ring_init_marked(&r->ring, mem, len, cap, 8, UINT64_MAX);
    if (scheme == CORTEX_RING_SCHEME_BATCH)
        return cortex_ring_init_batched(&r->ring, mem, len, cap, 8, 8);
    return seq_ring_init(r, mem, len, cap);
}

static const char *const scheme_names[] = {"index", "marks", "batch"};

int main(void)
{
    /* 10 M; the sanitizers are 3-15x slower: 2 M under ASan, 1 M under TSan (still 1000+ laps). */
    uint64_t n = (SEQ_TSAN ? 1000000u : SEQ_ASAN ? 2000000u : 10000000u) * (uint64_t)nct_scale();
    uint32_t caps[] = {1024, 64, 1};
    int fails = 0;
    for (size_t ci = 0; ci < 3 * sizeof caps / sizeof caps[0]; ci++) {
        uint32_t cap = caps[ci % (sizeof caps / sizeof caps[0])];
        uint32_t scheme = (uint32_t)(ci / (sizeof caps / sizeof caps[0])); /* every case with each scheme */
        size_t len = seq_ring_required_size(cap);
        void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            return 1;
        /* The full count through the 1024 ring with a handle per side (as two processes); a
         * fiftieth for the one-handle form and the small rings, which hand off every element. */
        uint64_t m = cap == 1024 ? n : n / 50;
        static const char *names[] = {"single", "batch", "span", "wait"};
        for (int mode = SEQ_SINGLE; mode <= SEQ_WAIT; mode++) {
            char what[96];
            /* One handle for both sides. */
            seq_ring both;
            if (init_ring(&both, mem, len, cap, scheme) != 0) {
                fprintf(stderr, "init: %s\n", cortex_last_error()->message);
                return 1;
            }
            snprintf(what, sizeof what, "%s cap %u %s, one handle", scheme_names[scheme], cap, names[mode]);
            fails += run_pair(&both, &both, (mode == SEQ_WAIT ? n / 10 : n) / 50, (enum seq_mode)mode, what);
            seq_ring_close(&both);
            /* A handle per side, as two processes would have. */
            seq_ring p, c;
            if (init_ring(&both, mem, len, cap, scheme) != 0 ||
                cortex_ring_attach_mem(&p.ring, mem, len, 8, 8, CORTEX_PRODUCER) != 0 ||
                cortex_ring_attach_mem(&c.ring, mem, len, 8, 8, CORTEX_CONSUMER) != 0) {
                fprintf(stderr, "attach: %s\n", cortex_last_error()->message);
                return 1;
            }
            snprintf(what, sizeof what, "%s cap %u %s, two handles", scheme_names[scheme], cap, names[mode]);
            fails += run_pair(&p, &c, mode == SEQ_WAIT ? m / 10 : m, (enum seq_mode)mode, what);
            seq_ring_close(&p);
            seq_ring_close(&c);
        }
        munmap(mem, len);
    }
    return fails ? 1 : 0;
}
