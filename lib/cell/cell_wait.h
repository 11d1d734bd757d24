/* SPDX-License-Identifier: MIT */
/* lib/cell/cell_wait.h: the cell's hook for lib/waitset (internal, never installed). */
#ifndef CORTEX_CELL_WAIT_H
#define CORTEX_CELL_WAIT_H

#include "atomic.h"
#include "internal.h"

#include <neocortex/cell.h>

/*
 * cortex_cell_wait()'s announcement without the sleep (seqlock.h), so one
 * waitset sleeps on many sources.  With @announce, sets the waiting bit of
 * the cell's waiters word (fence) and stores that word and the value to
 * sleep on in *word / *val; then re-checks.  1: a version other than @seen
 * is complete (stored in *now); 0: none (armed if @announce); -EOWNERDEAD:
 * a writer died mid-write (the cell is marked inconsistent) or, with
 * @check_pid, the cell's lock is held by a process that is certainly dead
 * (the futex backend's holder in the sequence word, else the backend's
 * owner_dead); -EINVAL: NULL cell.  *word is NULL after announcing when the
 * cell's writers are light and membarrier failed: the caller must poll it.
 */
int cortex__cell_wait_arm(cortex_cell *c, uint64_t seen, bool announce, bool check_pid, cortex__a32 **word,
                          uint32_t *val, uint64_t *now);

#endif
