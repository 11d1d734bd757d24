/* SPDX-License-Identifier: MIT */
/*
 * What the broadcast's multi-process and crash tests share: a 64-byte
 * element whose words all derive from one sequence number (so a torn copy
 * is seen), and a wait for a number of readers to have joined.
 */
#ifndef BC_TEST_UTIL_H
#define BC_TEST_UTIL_H

#include <neocortex.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct bc_elem {
    uint64_t w[8];
} bc_elem;

BROADCAST_DECLARE(elem_bc, bc_elem);

static inline bc_elem bc_make(uint64_t seq)
{
    bc_elem e;
    for (unsigned k = 0; k < 8; k++)
        e.w[k] = seq * 8 + k;
    return e;
}

/* The element's sequence number, or UINT64_MAX for a torn or garbled element. */
static inline uint64_t bc_check(const bc_elem *e)
{
    for (unsigned k = 0; k < 8; k++)
        if (e->w[k] != e->w[0] + k || e->w[0] % 8)
            return UINT64_MAX;
    return e->w[0] / 8;
}

/* Waits (up to ~10 s) until @p n readers have joined the writer's ring. */
static inline bool bc_wait_readers(elem_bc *w, uint32_t n)
{
    for (int i = 0; i < 10000; i++) {
        cortex_broadcast_info info;
        if (cortex_broadcast_inspect(elem_bc_region(w), &info) == 0 && info.readers >= n)
            return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return false;
}

#endif
