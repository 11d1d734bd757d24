/* SPDX-License-Identifier: MIT */
/* What the waitset tests share: typed rings and cells, raw rings on the heap, one-event helpers. */
#ifndef WS_UTIL_H
#define WS_UTIL_H

#include <neocortex.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

SPSC_RING_DECLARE(ws_ring, uint64_t);
CORTEX_DECLARE(ws_cell, uint64_t);
BROADCAST_DECLARE(ws_bc, uint64_t);

#define WS_SEC INT64_C(1000000000)
#define WS_MS INT64_C(1000000)

/* A raw ring (both sides in one handle) over fresh heap memory; the memory into *mem (free it). */
static inline int ws_raw_ring(ws_ring *r, uint32_t cap, void **mem)
{
    size_t len = ws_ring_required_size(cap);
    *mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
    if (!*mem)
        return -ENOMEM;
    memset(*mem, 0, len);
    return ws_ring_init(r, *mem, len, cap);
}

/* A raw broadcast of 8 slots over heap memory: writer *w, one reader *rd joined; the memory returned (free it). */
static inline unsigned char *ws_raw_bc(ws_bc *w, ws_bc *rd, unsigned flags)
{
    size_t len = cortex_broadcast_required_size(8, 2, 8);
    unsigned char *m = aligned_alloc(64, (len + 63) & ~(size_t)63);
    if (m && (ws_bc_init(w, m, len, 8, 2, flags) != 0 || ws_bc_join_mem(rd, m, len, CORTEX_BROADCAST_NEWEST) != 0)) {
        free(m);
        return NULL;
    }
    return m;
}

/*
 * fork(): the parent gets the child's pid (or -1); the child, which dies
 * with its parent, gets 0 with *r attached as the producer of the ring at
 * SysV @key (it exits 3 if it cannot attach).
 */
static inline pid_t ws_fork_producer(int key, ws_ring *r)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (ws_ring_attach(r, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
        _exit(3);
    return 0;
}

static inline void ws_sleep_ms(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

#endif
