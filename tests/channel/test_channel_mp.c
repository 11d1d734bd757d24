/* SPDX-License-Identifier: MIT */
/*
 * The channel between two processes: the parent loans and publishes, a
 * forked child attaches as the consumer, takes, checks every byte of every
 * message and releases; the child reports through its exit status.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(channel_mp, .fini = nct_cleanup, .timeout = 120);

struct msg64 {
    uint64_t w[8];
};

CHANNEL_DECLARE(small_ch, struct msg64);
CHANNEL_VAR_DECLARE(big_ch, uint64_t);

static const int64_t SEC = 1000000000;

/* Child: the consumer of a small_ch; exit 0 when @p n messages arrived intact and in order. */
static int small_consumer(const char *name, uint64_t n)
{
    small_ch c;
    if (small_ch_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0) {
        fprintf(stderr, "consumer attach: %s\n", cortex_last_error()->message);
        return 10;
    }
    for (uint64_t i = 0; i < n; i++) {
        const struct msg64 *m;
        int rc = small_ch_take_wait(&c, &m, 10 * SEC);
        if (rc < 0) {
            fprintf(stderr, "take %llu: %s\n", (unsigned long long)i, cortex_last_error()->message);
            return 11;
        }
        for (int k = 0; k < 8; k++)
            if (m->w[k] != i * 8 + (uint64_t)k)
                return 12;
        if (small_ch_release(&c, m) < 0)
            return 13;
    }
    const struct msg64 *m;
    int rc = small_ch_take_wait(&c, &m, 10 * SEC);
    small_ch_close(&c);
    return rc == -EPIPE ? 0 : 14; /* the producer closed after the last one */
}

Test(channel_mp, small_messages_in_place)
{
    char name[64];
    small_ch p;
    cr_assert_eq(small_ch_create(&p, CORTEX_KEY_NAME(nct_name(name, "mp64")), 64, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    const uint64_t n = 200000 * (uint64_t)nct_scale();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(small_consumer(name, n));
    for (uint64_t i = 0; i < n; i++) {
        struct msg64 *m;
        int rc = small_ch_loan_wait(&p, &m, 10 * SEC);
        cr_assert_eq(rc, 0, "loan %llu: %s", (unsigned long long)i, cortex_last_error()->message);
        for (int k = 0; k < 8; k++)
            m->w[k] = i * 8 + (uint64_t)k;
        cr_assert_eq(small_ch_publish(&p, m), 0, "%s", cortex_last_error()->message);
    }
    cortex_channel_stats st;
    cr_assert_eq(small_ch_stats(&p, &st), 0);
    cr_assert_eq(small_ch_close(&p), 0);
    cr_assert_eq(nct_wait(pid, 60000), 0, "the consumer saw every message intact, then -EPIPE");
}

/* Words of message @p i of @p words words. */
static uint64_t word(uint64_t i, size_t k) { return (i << 20) ^ (uint64_t)k; }

static int big_consumer(const char *name, uint64_t n)
{
    big_ch c;
    if (big_ch_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0)
        return 10;
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t *m;
        size_t count = 0;
        if (big_ch_take_wait(&c, &m, &count, 10 * SEC) < 0) {
            fprintf(stderr, "take %llu: %s\n", (unsigned long long)i, cortex_last_error()->message);
            return 11;
        }
        size_t want = i % 3 == 2 ? 8192 : 512; /* 64 KiB or 4 KiB */
        if (count != want)
            return 12;
        for (size_t k = 0; k < count; k++)
            if (m[k] != word(i, k))
                return 13;
        if (big_ch_release(&c, m) < 0)
            return 14;
    }
    big_ch_close(&c);
    return 0;
}

Test(channel_mp, large_messages_in_place_and_copied_in)
{
    char name[64];
    cortex_pool_class cls[] = {{4096, 32}, {65536, 8}};
    big_ch p;
    cr_assert_eq(big_ch_create(&p, CORTEX_KEY_NAME(nct_name(name, "mpbig")), cls, 2, CORTEX_PRODUCER, NULL), 0,
                 "%s", cortex_last_error()->message);
    const uint64_t n = 20000 * (uint64_t)nct_scale();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(big_consumer(name, n));
    uint64_t *local = malloc(65536);
    cr_assert_not_null(local);
    for (uint64_t i = 0; i < n; i++) {
        size_t count = i % 3 == 2 ? 8192 : 512;
        if (i % 2 == 0) { /* the recommended way: build locally, copy in */
            for (size_t k = 0; k < count; k++)
                local[k] = word(i, k);
            cr_assert_eq(big_ch_publish_copy(&p, local, count, 10 * SEC), 0, "%s", cortex_last_error()->message);
        } else { /* in place */
            uint64_t *m;
            cr_assert_eq(big_ch_loan_wait(&p, count, &m, 10 * SEC), 0, "%s", cortex_last_error()->message);
            for (size_t k = 0; k < count; k++)
                m[k] = word(i, k);
            cr_assert_eq(big_ch_publish(&p, m, count), 0, "%s", cortex_last_error()->message);
        }
    }
    free(local);
    cr_assert_eq(nct_wait(pid, 60000), 0, "the consumer saw every message intact");
    cortex_channel_stats st;
    cr_assert_eq(big_ch_stats(&p, &st), 0);
    cr_assert_eq(st.free, st.slots, "every slot came back");
    cr_assert_eq(big_ch_close(&p), 0);
}
