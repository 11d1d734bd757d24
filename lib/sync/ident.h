/* SPDX-License-Identifier: MIT */
/*
 * lib/sync/ident.h: this process's identity for lock words (internal).
 *
 * The futex lock stores the holder's pid and stamp on every lock;
 * cortex__self_pid()/cortex__self_stamp() are calls into lib/os, so the
 * cell's hot path reads this cache instead: one relaxed load, refilled
 * after fork by a pthread_atfork child handler.
 */
#ifndef CORTEX_SYNC_IDENT_H
#define CORTEX_SYNC_IDENT_H

#include "atomic.h"

#include <stdint.h>

/* pid in the low 32 bits, the stamp (lib/os/proc.c) in the high ones; 0 = not known yet. */
CORTEX_API extern cortex__a64 cortex__sync_ident_cache;
uint64_t cortex__sync_ident_fill(void);

static inline uint64_t cortex__sync_ident(void)
{
    uint64_t v = cortex__ld64(&cortex__sync_ident_cache, CX_RELAXED);
    if (__builtin_expect(v == 0, 0))
        v = cortex__sync_ident_fill();
    return v;
}

#endif
