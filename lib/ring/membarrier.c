/* SPDX-License-Identifier: MIT */
/*
 * lib/ring/membarrier.c: the asymmetric fence of the ring's wait protocol.
 *
 * A process registers once for MEMBARRIER_CMD_GLOBAL_EXPEDITED; from then
 * on a peer that calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) makes
 * every running thread of this process execute a full memory barrier (and a
 * thread that is not running passed one when it was switched out).  That is
 * what lets a ring side skip the seq_cst fence between publishing its index
 * and reading the peer's sleeper flag (see ring.c).  Linux only; elsewhere,
 * in model-check builds and when the kernel refuses, nothing registers and
 * every side uses real fences.
 */
#define _GNU_SOURCE
#include "ring_layout.h"

#include <errno.h>

#if defined(__linux__) && !defined(CORTEX_MODEL)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t registered_pid; /* the process that registered (fork: register again) */

bool cortex__ring_membarrier_register(void)
{
    pid_t self = cortex__self_pid();
    if (__atomic_load_n(&registered_pid, __ATOMIC_ACQUIRE) == self)
        return true;
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) ||
        !(cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
        return false;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) != 0)
        return false;
    __atomic_store_n(&registered_pid, self, __ATOMIC_RELEASE);
    return true;
}

int cortex__ring_membarrier(void)
{
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0)
        return -errno;
    return 0;
}

#else

bool cortex__ring_membarrier_register(void) { return false; }

int cortex__ring_membarrier(void) { return -ENOSYS; }

#endif
