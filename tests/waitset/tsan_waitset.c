/* SPDX-License-Identifier: MIT */
/*
 * Threads over one mapping, so ThreadSanitizer sees both sides: four
 * producer threads, each on its own ring, a cell writer thread and a
 * broadcast writer thread, against one waitset in the main thread that pops
 * and reads what it is told is ready (every value, in order, per source).
 * Run twice: with cortex_waitset_wait() blocking, and through
 * cortex_waitset_fd() in a poll loop (its watcher thread runs beside the
 * main thread).  Exit 0 = pass; a data race makes the TSan build fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nctest.h"
#include "ws_util.h"

#define NR 4
#define TAG_CELL 10
#define TAG_BC 11

static struct {
    ws_ring init[NR], prod[NR], cons[NR];
    void *mem[NR];
    ws_cell cell;
    ws_bc w, rd;
    unsigned char *bcmem;
    uint64_t n;
} S;

static void *ring_producer(void *arg)
{
    ws_ring *r = arg;
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (uint64_t i = 0; i < S.n; i++) {
        if (rand_r(&seed) % 8 == 0)
            ws_sleep_ms(1);
        if (ws_ring_push_wait(r, i, 10 * WS_SEC) != 0)
            return (void *)1;
    }
    return NULL;
}

static void *cell_writer(void *arg)
{
    (void)arg;
    for (uint64_t v = 1; v <= 20; v++) {
        ws_sleep_ms(1);
        if (ws_cell_write(&S.cell, v) != 0)
            return (void *)1;
    }
    return NULL;
}

static void *bc_writer(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < S.n; i++)
        if (ws_bc_push_wait(&S.w, i, 10 * WS_SEC) != 0)
            return (void *)1;
    return NULL;
}

static int run(bool with_fd)
{
    int key = nct_sysv_key();
    memset(&S, 0, sizeof S);
    S.n = 2000;
    for (int i = 0; i < NR; i++) {
        size_t len = ws_ring_required_size(16);
        S.mem[i] = aligned_alloc(64, (len + 63) & ~(size_t)63);
        if (!S.mem[i] || ws_ring_init(&S.init[i], S.mem[i], len, 16) != 0)
            return 2;
        /* two handles on one ring, one per side, as two processes would hold them */
        if (cortex_ring_attach_mem(ws_ring_core(&S.cons[i]), S.mem[i], len, 8, 8, CORTEX_CONSUMER) != 0 ||
            cortex_ring_attach_mem(ws_ring_core(&S.prod[i]), S.mem[i], len, 8, 8, CORTEX_PRODUCER) != 0)
            return 3;
    }
    if (ws_cell_create(&S.cell, CORTEX_KEY_SYSV(key), 0, NULL) != 0)
        return 4;
    if (!(S.bcmem = ws_raw_bc(&S.w, &S.rd, CORTEX_BROADCAST_LOSSLESS)))
        return 5;
    cortex_waitset *ws;
    if (cortex_waitset_create(&ws) != 0)
        return 6;
    for (int i = 0; i < NR; i++)
        cortex_waitset_add_ring(ws, ws_ring_core(&S.cons[i]), CORTEX_WAITSET_DATA, (uint64_t)i);
    uint64_t seen, v;
    ws_cell_read_version(&S.cell, &v, &seen);
    cortex_waitset_add_cell(ws, S.cell.cell, seen, TAG_CELL);
    cortex_waitset_add_broadcast(ws, ws_bc_core(&S.rd), TAG_BC);
    int fd = with_fd ? cortex_waitset_fd(ws) : -1;
    if (with_fd && fd < 0)
        return 7;
    pthread_t t[NR + 2];
    for (int i = 0; i < NR; i++)
        pthread_create(&t[i], NULL, ring_producer, &S.prod[i]);
    pthread_create(&t[NR], NULL, cell_writer, NULL);
    pthread_create(&t[NR + 1], NULL, bc_writer, NULL);
    uint64_t next[NR] = {0}, bc_next = 0, last_cell = 0;
    int rc = 0;
    while (rc == 0 && (bc_next < S.n || last_cell < 20 || next[0] < S.n || next[1] < S.n || next[2] < S.n ||
                       next[3] < S.n)) {
        cortex_waitset_event ev[NR + 2];
        int k;
        if (with_fd) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 10000) != 1) {
                rc = 8;
                break;
            }
            k = cortex_waitset_wait(ws, ev, NR + 2, 0);
            if (k == -ETIMEDOUT)
                continue;
        } else {
            k = cortex_waitset_wait(ws, ev, NR + 2, 10 * WS_SEC);
        }
        if (k <= 0) {
            rc = 9;
            break;
        }
        for (int e = 0; e < k && rc == 0; e++) {
            if (ev[e].flags != CORTEX_WAITSET_READY) {
                rc = 10;
            } else if (ev[e].tag == TAG_CELL) {
                rc = ws_cell_read(&S.cell, &last_cell) == 0 ? 0 : 11;
            } else if (ev[e].tag == TAG_BC) {
                while (ws_bc_pop(&S.rd, &v) == 0)
                    if (v != bc_next++)
                        rc = 12;
            } else {
                while (ws_ring_pop(&S.cons[ev[e].tag], &v) == 0)
                    if (v != next[ev[e].tag]++)
                        rc = 13;
            }
        }
    }
    for (int i = 0; i < NR + 2; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        if (ret && rc == 0)
            rc = 14;
    }
    cortex_waitset_destroy(ws);
    for (int i = 0; i < NR; i++) {
        cortex_ring_close(ws_ring_core(&S.cons[i]));
        cortex_ring_close(ws_ring_core(&S.prod[i]));
        free(S.mem[i]);
    }
    ws_bc_close(&S.rd);
    ws_bc_close(&S.w);
    free(S.bcmem);
    ws_cell_close(&S.cell);
    return rc;
}

int main(void)
{
    int rc = run(false);
    if (rc == 0)
        rc = run(true);
    nct_cleanup();
    if (rc != 0)
        fprintf(stderr, "tsan-waitset: failed with %d (%s)\n", rc, cortex_last_error()->message);
    return rc;
}
