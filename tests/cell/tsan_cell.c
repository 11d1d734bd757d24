/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/tsan_cell.c: threads on one mapping of one cell, for every
 * backend: two writers (whole writes and updates) and two readers checking
 * every word of a stamped value, plus an update counter that a fifth
 * thread follows with counter_cell_wait; and for the one-writer backend one
 * writer thread (the role's holder: writes and updates through one handle)
 * and the same readers and waiter.  Exit 0 = pass.
 * Built as a plain program so it also runs under ThreadSanitizer (which
 * must report nothing: the value is copied in atomic words, see
 * lib/cell/seqlock.h).
 */
#define _GNU_SOURCE
#include <neocortex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS 64 /* 512 bytes */
typedef struct stamped {
    uint64_t w[WORDS];
} stamped;
CORTEX_DECLARE(stamped_cell, stamped);

CORTEX_DECLARE(counter_cell, uint64_t);

static stamped_cell cell;
static counter_cell counter;

static void count(uint64_t *v, void *ctx)
{
    (void)ctx;
    *v += 1;
}
static int done;
static int failed;
static int iters = 20000;

static void fail(const char *what)
{
    fprintf(stderr, "tsan_cell: %s\n", what);
    __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
}

static void bump(stamped *s, void *ctx)
{
    (void)ctx;
    uint64_t next = s->w[0] + 2;
    for (int i = 0; i < WORDS; i++)
        s->w[i] = next;
}

/* Every word of @s stamped 2i + 1 (odd: a whole write; updates keep stamps even), then written. */
static void write_odd_stamp(stamped *s, int i, const char *what)
{
    for (int k = 0; k < WORDS; k++)
        s->w[k] = (uint64_t)i * 2 + 1;
    if (stamped_cell_write(&cell, *s) != 0)
        fail(what);
}

static void *writer(void *arg)
{
    int kind = (int)(intptr_t)arg;
    stamped s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < iters; i++) {
        if (kind == 0) {
            if (stamped_cell_update(&cell, bump, NULL) != 0)
                fail("update failed");
        } else {
            /* Whole writes with odd stamps (updates keep them even); the count is not ours to keep. */
            write_odd_stamp(&s, i, "write failed");
        }
        if (counter_cell_update(&counter, count, NULL) != 0)
            fail("counter update failed");
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    stamped s;
    uint64_t reads = 0;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE) || reads < 100) {
        if (stamped_cell_read(&cell, &s) != 0)
            fail("read failed");
        for (int i = 1; i < WORDS; i++)
            if (s.w[i] != s.w[0]) {
                fail("torn read");
                return NULL;
            }
        reads++;
    }
    return NULL;
}

/* Sleeps in counter_cell_wait until the last update: every wake must bring a newer, even version. */
static void *waiter(void *arg)
{
    (void)arg;
    uint64_t seen = 0, v = 0;
    while (v != (uint64_t)iters * 2) {
        uint64_t before = seen;
        if (counter_cell_wait(&counter, &seen, 20000000000) != 0) {
            fail("wait timed out while the writers ran");
            return NULL;
        }
        if (seen <= before || (seen & 1u)) {
            fail("wait returned an old or odd version");
            return NULL;
        }
        if (counter_cell_read_version(&counter, &v, &seen) != 0)
            fail("read_version failed");
    }
    return NULL;
}

static int run(const cortex_sync_ops *ops)
{
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = ops;
    stamped init;
    memset(&init, 0, sizeof init);
    if (stamped_cell_create(&cell, CORTEX_KEY_HEAP, init, &o) != 0) {
        fprintf(stderr, "create (%s): %s\n", ops->name, cortex_last_error()->message);
        return 1;
    }
    if (counter_cell_create(&counter, CORTEX_KEY_HEAP, 0, &o) != 0) {
        fprintf(stderr, "create counter (%s): %s\n", ops->name, cortex_last_error()->message);
        return 1;
    }
    /* Plain writes too, from this thread, before the others start. */
    for (int i = 0; i < 100; i++)
        if (stamped_cell_write(&cell, init) != 0)
            fail("write failed");
    __atomic_store_n(&done, 0, __ATOMIC_RELAXED);
    pthread_t w[2], r[2], wt;
    pthread_create(&wt, NULL, waiter, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i);
        pthread_create(&r[i], NULL, reader, NULL);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    pthread_join(wt, NULL);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    uint64_t n = 0;
    if (counter_cell_read(&counter, &n) != 0 || n != (uint64_t)iters * 2) {
        fprintf(stderr, "%s: %llu updates, expected %llu\n", ops->name, (unsigned long long)n,
                (unsigned long long)iters * 2);
        failed = 1;
    }
    stamped_cell_close(&cell);
    counter_cell_close(&counter);
    printf("%s: ok=%d\n", ops->name, !failed);
    return failed;
}

/* One-writer: the writer thread's handle holds the role; it writes and updates, nothing else may. */
static void *sole_writer(void *arg)
{
    (void)arg;
    stamped s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < iters; i++) {
        if (i & 1) {
            if (stamped_cell_update(&cell, bump, NULL) != 0)
                fail("one-writer update failed");
        } else {
            write_odd_stamp(&s, i, "one-writer write failed");
        }
        if (counter_cell_update(&counter, count, NULL) != 0 || counter_cell_update(&counter, count, NULL) != 0)
            fail("one-writer counter update failed");
    }
    return NULL;
}

static int run_one_writer(void)
{
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &cortex_sync_one_writer;
    stamped init;
    memset(&init, 0, sizeof init);
    if (stamped_cell_create(&cell, CORTEX_KEY_HEAP, init, &o) != 0 ||
        counter_cell_create(&counter, CORTEX_KEY_HEAP, 0, &o) != 0) {
        fprintf(stderr, "create (one-writer): %s\n", cortex_last_error()->message);
        return 1;
    }
    __atomic_store_n(&done, 0, __ATOMIC_RELAXED);
    pthread_t w, r[2], wt;
    pthread_create(&wt, NULL, waiter, NULL);
    pthread_create(&w, NULL, sole_writer, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&r[i], NULL, reader, NULL);
    pthread_join(w, NULL);
    pthread_join(wt, NULL);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    uint64_t n = 0;
    if (counter_cell_read(&counter, &n) != 0 || n != (uint64_t)iters * 2) {
        fprintf(stderr, "one-writer: %llu updates, expected %llu\n", (unsigned long long)n,
                (unsigned long long)iters * 2);
        failed = 1;
    }
    stamped_cell_close(&cell);
    counter_cell_close(&counter);
    printf("one-writer: ok=%d\n", !failed);
    return failed;
}

int main(void)
{
    const char *scale = getenv("NCTEST_SCALE");
    if (scale && atoi(scale) > 1)
        iters *= atoi(scale);
    int rc = 0;
    if (cortex_sync_available(&cortex_sync_futex))
        rc |= run(&cortex_sync_futex);
    if (cortex_sync_available(&cortex_sync_semaphore))
        rc |= run(&cortex_sync_semaphore);
    rc |= run_one_writer();
    return rc;
}
