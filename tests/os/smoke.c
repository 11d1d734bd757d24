/* SPDX-License-Identifier: MIT */
/*
 * tests/os/smoke.c: a Criterion-free smoke test of every lib/os path a
 * platform build leans on, across real processes (fork): a futex-locked
 * cell updated by parent and child, a POSIX-name ring of 20,000 elements
 * with blocking waits, a memfd segment inherited by the child, a doorbell
 * pair.  The musl stage of tools/test.sh builds it with musl-gcc against a
 * musl build of the library (Criterion is glibc-built); every normal build
 * runs it too (suite unit).  Exit 0 = pass; every failure prints its step.
 */
#include <neocortex.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

CORTEX_DECLARE(smoke_cell, uint64_t);
SPSC_RING_DECLARE(smoke_ring, uint64_t);

static int failed(const char *step, int rc)
{
    fprintf(stderr, "smoke: %s: %s (%s)\n", step, cortex_strerror(rc), cortex_last_error()->message);
    return 1;
}

static int child_status(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void add_one(uint64_t *v, void *ctx)
{
    (void)ctx;
    (*v)++;
}

static int cell_step(const cortex_sync_ops *lock)
{
    char name[64];
    snprintf(name, sizeof name, "/nct-%d-smoke-cell-%s", (int)getpid(), lock->name);
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = lock;
    smoke_cell c;
    int rc = smoke_cell_create(&c, CORTEX_KEY_NAME(name), 0, &o);
    if (rc < 0)
        return failed("cell create", rc);
    enum { N = 2000 };
    pid_t pid = fork();
    if (pid == 0) {
        smoke_cell a;
        if (smoke_cell_attach(&a, CORTEX_KEY_NAME(name), NULL) < 0)
            _exit(2);
        for (int i = 0; i < N; i++)
            if (smoke_cell_update(&a, add_one, NULL) < 0)
                _exit(3);
        smoke_cell_close(&a);
        _exit(0);
    }
    int bad = 0;
    for (int i = 0; i < N; i++)
        if ((rc = smoke_cell_update(&c, add_one, NULL)) < 0)
            bad = failed("cell update", rc);
    int st = child_status(pid);
    uint64_t v = 0;
    if ((rc = smoke_cell_read(&c, &v)) < 0)
        bad = failed("cell read", rc);
    smoke_cell_close(&c);
    if (st != 0 || v != 2 * N) {
        fprintf(stderr, "smoke: cell (%s lock): child exit %d, value %llu, expected %d\n", lock->name, st,
                (unsigned long long)v, 2 * N);
        return 1;
    }
    return bad;
}

static int ring_step(void)
{
    char name[64];
    snprintf(name, sizeof name, "/nct-%d-smoke-ring", (int)getpid());
    smoke_ring r;
    int rc = smoke_ring_create(&r, CORTEX_KEY_NAME(name), 64, CORTEX_CONSUMER, NULL);
    if (rc < 0)
        return failed("ring create", rc);
    enum { N = 20000 };
    pid_t pid = fork();
    if (pid == 0) {
        smoke_ring p;
        if (smoke_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) < 0)
            _exit(2);
        for (uint64_t i = 0; i < N; i++)
            if (smoke_ring_push_wait(&p, i, 10000000000) < 0)
                _exit(3);
        smoke_ring_close(&p);
        _exit(0);
    }
    uint64_t got = 0, v;
    while ((rc = smoke_ring_pop_wait(&r, &v, 10000000000)) == 0 && v == got)
        got++;
    int st = child_status(pid);
    smoke_ring_close(&r);
    if (st != 0 || got != N || rc != -EPIPE) {
        fprintf(stderr, "smoke: ring: child exit %d, %llu of %d in order, last rc %d\n", st,
                (unsigned long long)got, N, rc);
        return 1;
    }
    return 0;
}

static int memfd_step(void)
{
    cortex_region *seg;
    cortex_layout layout = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    int rc = cortex_region_create(&seg, CORTEX_KEY_MEMFD("smoke"), &layout, NULL, NULL, NULL);
    if (rc < 0)
        return failed("memfd create", rc);
    strcpy(cortex_region_payload(seg), "parent");
    int fd = cortex_region_fd(seg);
    pid_t pid = fork();
    if (pid == 0) {
        cortex_opts o = CORTEX_OPTS_INIT;
        o.trust = CORTEX_TRUST_UNSEALED_FD; /* a platform without memfd hands out an unsealed shm object */
        cortex_region *a;
        if (cortex_region_attach(&a, CORTEX_KEY_FD(fd), &layout, &o) < 0)
            _exit(2);
        if (strcmp(cortex_region_payload(a), "parent") != 0)
            _exit(3);
        strcpy(cortex_region_payload(a), "child");
        cortex_region_close(a);
        _exit(0);
    }
    int st = child_status(pid);
    int bad = st != 0 || strcmp(cortex_region_payload(seg), "child") != 0;
    if (bad)
        fprintf(stderr, "smoke: memfd: child exit %d, payload \"%.8s\"\n", st, (char *)cortex_region_payload(seg));
    cortex_region_close(seg);
    return bad;
}

static int doorbell_step(void)
{
    cortex_doorbell a, b;
    int rc = cortex_doorbell_pair(&a, &b);
    if (rc < 0)
        return failed("doorbell pair", rc);
    pid_t pid = fork();
    if (pid == 0) {
        cortex_doorbell_close(&a);
        int r = cortex_doorbell_wait(&b, 10000000000);
        if (r < 0)
            _exit(2);
        _exit(cortex_doorbell_signal(&b) < 0 ? 3 : 0);
    }
    cortex_doorbell_close(&b);
    int bad = 0;
    if ((rc = cortex_doorbell_signal(&a)) < 0)
        bad = failed("doorbell signal", rc);
    if ((rc = cortex_doorbell_wait(&a, 10000000000)) < 0)
        bad = failed("doorbell wait", rc);
    int st = child_status(pid);
    cortex_doorbell_close(&a);
    if (st != 0) {
        fprintf(stderr, "smoke: doorbell: child exit %d\n", st);
        return 1;
    }
    return bad;
}

int main(void)
{
    int bad = 0;
    if (cortex_sync_available(&cortex_sync_futex))
        bad |= cell_step(&cortex_sync_futex);
    if (cortex_sync_available(&cortex_sync_semaphore))
        bad |= cell_step(&cortex_sync_semaphore);
    bad |= ring_step();
    bad |= memfd_step();
    bad |= doorbell_step();
    if (!bad)
        printf("smoke: cell, ring, memfd and doorbell across processes: ok\n");
    return bad;
}
