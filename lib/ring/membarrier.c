/* SPDX-License-Identifier: MIT */
/*
 * lib/ring/membarrier.c: the asymmetric fence of the ring's wait protocol.
 *
 * A process registers once for expedited global memory barriers; from then
 * on a peer's barrier call (lib/os: membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
 * on Linux) makes every running thread of this process execute a full memory
 * barrier (and a thread that is not running passed one when it was switched
 * out).  That is what lets a ring side skip the seq_cst fence between
 * publishing its index and reading the peer's sleeper flag (see ring.c).
 * Where the platform has no such call, in model-check builds, when the
 * kernel refuses, or when -Dforce_fallback=membarrier forces it off, nothing
 * registers and every side uses real fences.
 */
#include "ring_layout.h"
#include "os/os.h"

#include <errno.h>

#ifndef CORTEX_MODEL

bool cortex__ring_membarrier_register(void) { return cortex__os_membarrier_register(); }

int cortex__ring_membarrier(void) { return cortex__os_membarrier(); }

#else

bool cortex__ring_membarrier_register(void) { return false; }

int cortex__ring_membarrier(void) { return -ENOSYS; }

#endif
