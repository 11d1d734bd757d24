/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_wait.c: versions, waiting for a change, lock timeouts
 * and cancellable updates in one process (suite unit), for every backend
 * compiled in and for a user backend without timed waits.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"

TestSuite(cell_wait, .fini = nct_cleanup, .timeout = 60);

typedef struct sample {
    uint64_t n;
    double v;
} sample;
CORTEX_DECLARE(sample_cell, sample);

static void add_one(sample *s, void *ctx)
{
    (void)ctx;
    s->n += 1;
}

/* update_if function: writes n = *ctx unless the ctx asks to cancel with a code. */
struct decide {
    int answer; /* what to return */
    int calls;
};
static int maybe(sample *s, void *ctx)
{
    struct decide *d = ctx;
    d->calls++;
    s->n = 999; /* must not reach the cell unless answer == 0 */
    return d->answer;
}

static void create(sample_cell *c, const cortex_sync_ops *ops, const char *tag)
{
    char name[64];
    cortex_opts o = opts_with(ops);
    cr_assert_eq(sample_cell_create(c, CORTEX_KEY_NAME(nct_name(name, tag)), (sample){1, 0.5}, &o), 0, "%s: %s",
                 ops->name, cortex_last_error()->message);
}

Test(cell_wait, read_version_counts_writes_and_updates)
{
    FOR_EACH_BACKEND(ops) {
        sample_cell c;
        create(&c, ops, "ver");
        sample s;
        uint64_t v = 77;
        cr_assert_eq(sample_cell_read_version(&c, &s, &v), 0);
        cr_assert_eq(v, 0, "%s: a fresh cell is version 0, got %llu", ops->name, (unsigned long long)v);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(sample_cell_write(&c, (sample){5, 1.0}), 0);
        cr_assert_eq(sample_cell_read_version(&c, &s, &v), 0);
        cr_assert_eq(v, 2);
        cr_assert_eq(sample_cell_update(&c, add_one, NULL), 0);
        cr_assert_eq(sample_cell_write_timed(&c, (sample){9, 2.0}, 0), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(sample_cell_update_timed(&c, add_one, NULL, INT64_MAX), 0); /* a deadline that saturates */
        cr_assert_eq(sample_cell_read_version(&c, &s, &v), 0);
        cr_assert_eq(v, 8, "%s: version %llu", ops->name, (unsigned long long)v);
        cr_assert_eq(s.n, 10);
        cr_assert_eq(sample_cell_read_version(&c, &s, NULL), -EINVAL);
        cr_assert(strstr(cortex_last_error()->message, "version is NULL"), "%s", cortex_last_error()->message);
        cr_assert_eq(sample_cell_close(&c), 0);
    }
}

Test(cell_wait, wait_returns_at_once_for_a_newer_version_and_times_out_otherwise)
{
    FOR_EACH_BACKEND(ops) {
        sample_cell c;
        create(&c, ops, "wt");
        uint64_t seen = 0;
        cr_assert_eq(sample_cell_write(&c, (sample){2, 0}), 0);
        cr_assert_eq(sample_cell_wait(&c, &seen, 0), 0, "%s: a write since version 0", ops->name);
        cr_assert_eq(seen, 2);
        cr_assert_eq(sample_cell_wait(&c, &seen, 0), -ETIMEDOUT);
        cr_assert_eq(cortex_last_error()->code, -ETIMEDOUT);
        cr_assert_not(cortex_last_error()->dirty);
        cr_assert(strstr(cortex_last_error()->message, "version still 2"), "%s", cortex_last_error()->message);
        int64_t t0 = nct_now_ms();
        cr_assert_eq(sample_cell_wait(&c, &seen, 30000000), -ETIMEDOUT);
        cr_assert_geq(nct_now_ms() - t0, 29, "%s: a 30 ms wait returned early", ops->name);
        cr_assert(strstr(cortex_last_error()->message, "no new value within 30000000 ns"), "%s",
                  cortex_last_error()->message);
        cr_assert_eq(seen, 2, "a timed-out wait leaves *seen alone");
        cr_assert_eq(cortex_cell_wait(NULL, &seen, 0), -EINVAL);
        cr_assert_eq(sample_cell_wait(&c, NULL, 0), -EINVAL);
        cr_assert_eq(sample_cell_close(&c), 0);
    }
}

struct later {
    sample_cell *c;
    int delay_ms;
    int rc;
};
static void *write_later(void *arg)
{
    struct later *l = arg;
    usleep((useconds_t)l->delay_ms * 1000);
    l->rc = sample_cell_write(l->c, (sample){42, 4.2});
    return NULL;
}

Test(cell_wait, a_thread_that_writes_wakes_a_waiter)
{
    FOR_EACH_BACKEND(ops) {
        sample_cell c;
        create(&c, ops, "thr");
        sample s;
        uint64_t seen;
        cr_assert_eq(sample_cell_read_version(&c, &s, &seen), 0);
        struct later l = {&c, 50, -1};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, write_later, &l), 0);
        int64_t t0 = nct_now_ms();
        int rc = sample_cell_wait(&c, &seen, 20000000000);
        int64_t waited = nct_now_ms() - t0;
        pthread_join(t, NULL);
        cr_assert_eq(rc, 0, "%s: %s", ops->name, cortex_last_error()->message);
        /* A lost wakeup would still return 0, but only once the 20 s futex timeout let it look again. */
        cr_assert_lt(waited, 10000, "%s: the waiter was not woken (returned after %lld ms)", ops->name,
                     (long long)waited);
        cr_assert_eq(l.rc, 0);
        cr_assert_eq(seen, 2);
        cr_assert_eq(sample_cell_read_version(&c, &s, &seen), 0);
        cr_assert_eq(s.n, 42);
        cr_assert_eq(sample_cell_close(&c), 0);
    }
}

Test(cell_wait, update_if_cancel_leaves_value_and_version)
{
    FOR_EACH_BACKEND(ops) {
        sample_cell c;
        create(&c, ops, "uif");
        sample s;
        uint64_t v0, v;
        cr_assert_eq(sample_cell_read_version(&c, &s, &v0), 0);

        /* A positive answer cancels quietly: returned as is, last error untouched. */
        cr_assert_eq(sample_cell_wait(&c, &v0, 0), -ETIMEDOUT); /* a known last error */
        struct decide d = {7, 0};
        cr_assert_eq(sample_cell_update_if(&c, maybe, &d, -1), 7);
        cr_assert_eq(d.calls, 1);
        cr_assert_eq(cortex_last_error()->code, -ETIMEDOUT, "a positive cancel recorded an error");
        cr_assert_eq(sample_cell_read_version(&c, &s, &v), 0);
        cr_assert_eq(s.n, 1, "%s: a cancelled update wrote %llu", ops->name, (unsigned long long)s.n);
        cr_assert_eq(v, v0, "%s: a cancelled update moved the version", ops->name);
        cr_assert_eq(sample_cell_wait(&c, &v, 0), -ETIMEDOUT, "a cancelled update must not look like a write");

        /* A negative answer is returned and explained. */
        d.answer = -EBUSY;
        cr_assert_eq(sample_cell_update_if(&c, maybe, &d, 1000000), -EBUSY);
        cr_assert_eq(cortex_last_error()->code, -EBUSY);
        cr_assert(strstr(cortex_last_error()->message, "returned -16, so nothing was written"), "%s",
                  cortex_last_error()->message);
        cr_assert_eq(sample_cell_read_version(&c, &s, &v), 0);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(v, v0);

        /* 0 stores the copy. */
        d.answer = 0;
        cr_assert_eq(sample_cell_update_if(&c, maybe, &d, 0), 0);
        cr_assert_eq(sample_cell_read_version(&c, &s, &v), 0);
        cr_assert_eq(s.n, 999);
        cr_assert_eq(v, v0 + 2);
        cr_assert_eq(d.calls, 3);
        cr_assert_eq(sample_cell_update_if(&c, NULL, NULL, 0), -EINVAL);
        cr_assert_eq(sample_cell_close(&c), 0);
    }
}

Test(cell_wait, update_if_on_an_inconsistent_cell_does_not_run)
{
    FOR_EACH_BACKEND(ops) {
        sample_cell c;
        create(&c, ops, "inc");
        /* A writer that died mid-copy: odd sequence, lock free. */
        cortex__fadd64(cell_seq_of(sample_cell_region(&c)), 1, CX_RELEASE);
        uint64_t seen = 0;
        cr_assert_eq(sample_cell_wait(&c, &seen, 1000000), -ETIMEDOUT);
        cr_assert(strstr(cortex_last_error()->message, "a write is in progress (sequence 1 is odd"), "%s",
                  cortex_last_error()->message);
        struct decide d = {0, 0};
        cr_assert_eq(sample_cell_update_if(&c, maybe, &d, -1), -EOWNERDEAD);
        cr_assert_eq(d.calls, 0);
        /* The repair made the sequence even: a waiter sees that as a new version. */
        cr_assert_eq(sample_cell_wait(&c, &seen, 0), 0);
        cr_assert_eq(seen, 2);
        cr_assert_eq(sample_cell_consistent(&c), 0);
        cr_assert_eq(sample_cell_wait(&c, &seen, 0), 0, "consistent() rewrites the flag: a new version");
        cr_assert_eq(sample_cell_update_if(&c, maybe, &d, -1), 0);
        cr_assert_eq(sample_cell_close(&c), 0);
    }
}

Test(cell_wait, user_backend_without_timed_lock_falls_back_to_tries)
{
    FOR_EACH_BACKEND(ops) {
        sample_cell c;
        create(&c, untimed_over(ops), "untimed");
        cr_assert_eq(sample_cell_write_timed(&c, (sample){3, 0}, 50000000), 0, "%s", cortex_last_error()->message);
        cr_assert_geq(untimed_state()->tries, 1, "the fallback tries with timeout 0");
        cr_assert_eq(sample_cell_write(&c, (sample){4, 0}), 0); /* < 0: the backend's own wait */
        sample s;
        cr_assert_eq(sample_cell_read(&c, &s), 0);
        cr_assert_eq(s.n, 4);
        cr_assert_eq(sample_cell_close(&c), 0);
    }
}
