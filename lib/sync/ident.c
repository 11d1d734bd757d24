/* SPDX-License-Identifier: MIT */
/* lib/sync/ident.c: the cached (pid, stamp) of this process, reset in a forked child. */
#include "internal.h"
#include "sync/ident.h"

#include <pthread.h>

CORTEX_API cortex__a64 cortex__sync_ident_cache; /* exported: the inline one-writer write (neocortex/cell.h) reads it */

static pthread_once_t ident_once = PTHREAD_ONCE_INIT;

static void ident_after_fork(void) { cortex__st64(&cortex__sync_ident_cache, 0, CX_RELAXED); }

static void ident_register(void) { pthread_atfork(NULL, NULL, ident_after_fork); }

uint64_t cortex__sync_ident_fill(void)
{
    pthread_once(&ident_once, ident_register);
    uint64_t v = ((uint64_t)cortex__self_stamp() << 32) | (uint32_t)cortex__self_pid();
    cortex__st64(&cortex__sync_ident_cache, v, CX_RELAXED);
    return v;
}
