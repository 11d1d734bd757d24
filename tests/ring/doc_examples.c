/* SPDX-License-Identifier: MIT */
/*
 * The C snippets of docs/ring.md, compiled and run as the plain test
 * ring-docs.  Each snippet is a function named after its section.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- docs/ring.md: "Declaring a ring" --- */
struct sample {
    uint64_t seq;
    float value[6];
};
SPSC_RING_DECLARE(sample_ring, struct sample);

/* --- docs/ring.md: "Two processes" --- */
static int two_processes(const char *name)
{
    sample_ring r;
    int rc = sample_ring_create(&r, CORTEX_KEY_NAME(name), 1024, CORTEX_CONSUMER, NULL);
    if (rc < 0)
        return rc;
    pid_t pid = fork();
    if (pid == 0) { /* producer */
        sample_ring p;
        if (sample_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) < 0)
            _exit(1);
        for (uint64_t i = 0; i < 1000; i++) {
            struct sample s = {.seq = i};
            if (sample_ring_push_wait(&p, s, -1) < 0) /* waits while full */
                _exit(1);
        }
        sample_ring_close(&p); /* the consumer drains, then sees -EPIPE */
        _exit(0);
    }
    struct sample s;
    uint64_t n = 0;
    while ((rc = sample_ring_pop_wait(&r, &s, 5000000000)) == 0) /* 5 s timeout */
        if (s.seq == n)
            n++;
    int st;
    waitpid(pid, &st, 0);
    sample_ring_close(&r); /* the creator owns the segment: this removes it */
    return rc == -EPIPE && n == 1000 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* --- docs/ring.md: "Raw memory, batches and zero-copy spans" --- */
static int raw_batches_spans(void)
{
    size_t len = sample_ring_required_size(256); /* 0: capacity not a power of two */
    void *mem = aligned_alloc(64, len);
    sample_ring r;
    if (sample_ring_init(&r, mem, len, 256) < 0) /* one handle, both sides (threads) */
        return -EINVAL;

    struct sample in[32] = {{0}}, out[32];
    ssize_t pushed = sample_ring_push_n(&r, in, 32); /* one index publication */
    ssize_t popped = sample_ring_pop_n(&r, out, 32);

    struct sample *w;
    ssize_t n = sample_ring_reserve(&r, 8, &w); /* up to 8 contiguous free slots */
    for (ssize_t i = 0; i < n; i++)
        w[i].seq = (uint64_t)i; /* fill in place */
    sample_ring_commit(&r, (size_t)n);

    const struct sample *rd;
    ssize_t m = sample_ring_peek(&r, 8, &rd); /* read in place */
    uint64_t sum = 0;
    for (ssize_t i = 0; i < m; i++)
        sum += rd[i].seq;
    sample_ring_release(&r, (size_t)m);

    sample_ring_close(&r);
    free(mem);
    return pushed == 32 && popped == 32 && n == 8 && m == 8 && sum == 28 ? 0 : -EIO;
}

/* --- docs/ring.md: "Errors" --- */
static int errors(void)
{
    size_t len = sample_ring_required_size(4);
    void *mem = aligned_alloc(64, len);
    sample_ring r;
    int rc = sample_ring_init(&r, mem, len, 3);
    if (rc == -EINVAL) /* "capacity 3 is not a power of two in [1, 2^31]" */
        printf("init: %s\n", cortex_last_error()->message);
    free(mem);
    return rc == -EINVAL ? 0 : -EIO;
}

/* --- docs/ring.md: "Compile-time capacity" --- */
SPSC_RING_DECLARE_STATIC(event_ring, uint32_t, 64); /* 48 would not compile */
static int static_capacity(void)
{
    static event_ring_storage storage;
    event_ring r;
    if (event_ring_init_static(&r, &storage) < 0)
        return -EINVAL;
    return event_ring_push(&r, 7) == 0 && event_ring_capacity(&r) == 64 ? 0 : -EIO;
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/nct-%d-docring", (int)getpid());
    int rc = two_processes(name);
    shm_unlink(name);
    if (rc || raw_batches_spans() || errors() || static_capacity()) {
        fprintf(stderr, "a docs/ring.md snippet failed (%d)\n", rc);
        return 1;
    }
    return 0;
}
