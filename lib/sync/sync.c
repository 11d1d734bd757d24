/* SPDX-License-Identifier: MIT */
/* lib/sync/sync.c: choosing and checking lock backends. */
#include "internal.h"

#include <errno.h>
#include <neocortex/sync.h>

const cortex_sync_ops *cortex_sync_default(void)
{
#if CORTEX_DEFAULT_LOCK_FUTEX
    return &cortex_sync_futex;
#else
    return &cortex_sync_semaphore;
#endif
}

const cortex_sync_ops *cortex_sync_builtin(uint32_t id)
{
    switch (id) {
    case CORTEX_SYNC_ID_SEMAPHORE: return &cortex_sync_semaphore;
    case CORTEX_SYNC_ID_FUTEX: return &cortex_sync_futex;
    case CORTEX_SYNC_ID_ONE_WRITER: return &cortex_sync_one_writer;
    default: return NULL;
    }
}

bool cortex_sync_available(const cortex_sync_ops *ops)
{
    if (!ops)
        return false;
    if (ops == &cortex_sync_futex)
        return CORTEX_HAVE_FUTEX;
    if (ops == &cortex_sync_semaphore)
        return CORTEX_HAVE_SEMAPHORE;
    return true;
}

int cortex_sync_validate(const cortex_sync_ops *ops)
{
    if (!ops)
        return cortex__fail(EINVAL, "no lock backend given");
    const char *name = ops->name ? ops->name : "(unnamed)";
    if (ops->id == 0)
        return cortex__fail(EINVAL, "lock backend '%s' has id 0", name);
    if (ops->id < CORTEX_SYNC_ID_USER_MIN && cortex_sync_builtin(ops->id) != ops)
        return cortex__fail(EINVAL, "lock backend '%s' uses id %u, reserved for built-ins (user ids start at %u)",
                            name, ops->id, CORTEX_SYNC_ID_USER_MIN);
    if (!ops->name || !ops->name[0])
        return cortex__fail(EINVAL, "lock backend %u has no name", ops->id);
    if (ops->shared_size == 0 || ops->shared_size > CORTEX_SYNC_SHARED_MAX)
        return cortex__fail(EINVAL, "lock backend '%s' asks for %u shared bytes (1 to %u allowed)", name,
                            ops->shared_size, CORTEX_SYNC_SHARED_MAX);
    if (!cortex__is_pow2(ops->shared_align) || ops->shared_align > CORTEX_CACHELINE)
        return cortex__fail(EINVAL, "lock backend '%s' asks for alignment %u (a power of two <= %u)", name,
                            ops->shared_align, CORTEX_CACHELINE);
    if (!ops->init || !ops->attach || !ops->lock || !ops->unlock)
        return cortex__fail(EINVAL, "lock backend '%s' lacks init, attach, lock or unlock", name);
    return 0;
}
