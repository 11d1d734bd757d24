/* SPDX-License-Identifier: MIT */
/*
 * Threads over one mapping, so ThreadSanitizer sees the writer and every
 * reader: a writer thread and three reader threads (one joining and
 * leaving over and over), in lossless mode (every element, in order, with
 * push_n/pop_n and the *_wait calls) and in lossy mode (readers lapped all
 * the time: every element they return is whole, received + missed adds up).
 * Exit 0 = pass; a data race makes the TSan build fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bc_test_util.h"
#include "nctest.h"

#define SEC INT64_C(1000000000)

struct run {
    void *mem;
    size_t len;
    unsigned flags;
    uint64_t n;
    int rc[4];
};

static struct run R;

static void *writer(void *arg)
{
    elem_bc *w = arg;
    bc_elem chunk[8];
    for (uint64_t s = 0; s < R.n;) {
        uint64_t k = (s % 3) + 1;
        if (k > R.n - s)
            k = R.n - s;
        for (uint64_t i = 0; i < k; i++)
            chunk[i] = bc_make(s + i);
        ssize_t m = elem_bc_push_n(w, chunk, k);
        if (m == -EAGAIN) {
            if (elem_bc_push_wait(w, chunk[0], 10 * SEC) != 0) {
                R.rc[0] = 1;
                break;
            }
            m = 1;
        } else if (m < 0) {
            R.rc[0] = 2;
            break;
        }
        s += (uint64_t)m;
    }
    elem_bc_close(w);
    return NULL;
}

static void *reader(void *arg)
{
    int idx = (int)(intptr_t)arg;
    elem_bc r;
    if (elem_bc_join_mem(&r, R.mem, R.len, CORTEX_BROADCAST_OLDEST) != 0) {
        R.rc[idx] = 10;
        return NULL;
    }
    bool lossy = R.flags == CORTEX_BROADCAST_LOSSY;
    uint64_t next = 0, got = 0;
    bc_elem buf[4];
    for (;;) {
        ssize_t k = idx == 2 ? elem_bc_pop_n(&r, buf, 4) : -EAGAIN;
        if (k == -EAGAIN) {
            int rc = elem_bc_pop_wait(&r, buf, 10 * SEC);
            k = rc == 0 ? 1 : rc;
        }
        if (k == -EPIPE)
            break;
        if (k == -EOVERFLOW && lossy)
            continue;
        if (k < 0) {
            R.rc[idx] = 11;
            break;
        }
        for (ssize_t i = 0; i < k; i++) {
            uint64_t s = bc_check(&buf[i]);
            if (s == UINT64_MAX || s < next || (!lossy && s != next)) {
                R.rc[idx] = 12;
                goto out;
            }
            next = s + 1;
            got++;
        }
    }
    if (!lossy && got != R.n)
        R.rc[idx] = 13;
    if (lossy && got + elem_bc_missed(&r) != R.n)
        R.rc[idx] = 14;
out:
    elem_bc_close(&r);
    return NULL;
}

/* Joins and leaves while the others run; reads a few elements each time. */
static void *visitor(void *arg)
{
    (void)arg;
    for (int round = 0; round < 300; round++) {
        elem_bc r;
        if (elem_bc_join_mem(&r, R.mem, R.len, round & 1 ? CORTEX_BROADCAST_OLDEST : CORTEX_BROADCAST_NEWEST) != 0)
            break; /* closed */
        bc_elem e;
        for (int i = 0; i < 5; i++) {
            int rc = elem_bc_pop(&r, &e);
            if (rc == 0 && bc_check(&e) == UINT64_MAX)
                R.rc[3] = 20;
            if (rc == -EPIPE)
                break;
        }
        elem_bc_close(&r);
    }
    return NULL;
}

static int run(unsigned flags, uint64_t n, const char *what)
{
    memset(&R, 0, sizeof R);
    R.flags = flags;
    R.n = n;
    R.len = elem_bc_required_size(32, 4);
    R.mem = aligned_alloc(64, (R.len + 63) & ~(size_t)63);
    elem_bc w;
    if (!R.mem || elem_bc_init(&w, R.mem, R.len, 32, 4, flags) != 0)
        return 1;
    pthread_t t[4];
    /* Readers first, so that a lossless run owes every element to each of them. */
    pthread_create(&t[1], NULL, reader, (void *)(intptr_t)1);
    pthread_create(&t[2], NULL, reader, (void *)(intptr_t)2);
    cortex_broadcast_info info;
    do
        cortex_broadcast_inspect_mem(R.mem, R.len, &info);
    while (info.readers < 2);
    pthread_create(&t[3], NULL, visitor, NULL);
    pthread_create(&t[0], NULL, writer, &w);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    free(R.mem);
    for (int i = 0; i < 4; i++) {
        if (R.rc[i]) {
            fprintf(stderr, "%s: thread %d failed with %d\n", what, i, R.rc[i]);
            return 1;
        }
    }
    printf("ok - %s\n", what);
    return 0;
}

int main(void)
{
    uint64_t n = 200000u * (uint64_t)nct_scale();
    int bad = run(CORTEX_BROADCAST_LOSSLESS, n, "lossless, 2 readers + a visitor");
    bad |= run(CORTEX_BROADCAST_LOSSY, n, "lossy, 2 readers + a visitor");
    return bad;
}
