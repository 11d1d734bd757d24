/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/robust_mutex_lock.h: a user-supplied lock backend for cells,
 * built on a process-shared robust pthread mutex.
 *
 *   cortex_opts o = CORTEX_OPTS_INIT;
 *   o.lock = &example_robust_mutex_lock;
 *   counter_create(&c, key, 0, &o);   // and the same o to attach
 */
#ifndef EXAMPLE_ROBUST_MUTEX_LOCK_H
#define EXAMPLE_ROBUST_MUTEX_LOCK_H

#include <neocortex.h>

/* Stable id stored in the segment (user ids start at CORTEX_SYNC_ID_USER_MIN). */
#define EXAMPLE_ROBUST_MUTEX_ID 0x1001u

extern const cortex_sync_ops example_robust_mutex_lock;

#endif
