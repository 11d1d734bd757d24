/* SPDX-License-Identifier: MIT */
/* lib/sync/futex.c: the futex lock backend (Linux), or its -ENOTSUP stand-in. */
#include "internal.h"

#include <errno.h>
#include <neocortex/sync.h>

#if CORTEX_HAVE_FUTEX

#include "sync/futex_lock.h"

/*
 * The lock word holds pids, which only mean something inside one pid
 * namespace: the creator records its namespace (the inode of
 * /proc/self/ns/pid, 0 if unknown) in the lock's spare word and attach
 * refuses another one, rather than take a live holder for a dead one.
 */
static uint32_t pid_namespace(void) { return (uint32_t)cortex__self_pidns(); }

static int fx_init(void *shared, const cortex_sync_env *env, void **local)
{
    CORTEX_UNUSED(env);
    cortex__futex_lock *l = shared;
    *local = NULL;
    cortex__futex_lock_init(l);
    l->reserved = pid_namespace();
    return 0;
}

static int fx_attach(void *shared, const cortex_sync_env *env, void **local)
{
    cortex__futex_lock *l = shared;
    *local = NULL;
    uint32_t theirs = l->reserved; /* written once by the creator before READY */
    uint32_t ours = pid_namespace();
    if (theirs != 0 && ours != 0 && theirs != ours)
        return cortex__fail(EXDEV,
                            "%s: its futex lock was made in another pid namespace (pid:[%u], ours pid:[%u]); "
                            "pids in the lock word would mean other processes here: use the semaphore backend",
                            env->what, theirs, ours);
    return 0;
}

static int fx_lock(void *shared, void *local, int64_t timeout_ns)
{
    CORTEX_UNUSED(local);
    return cortex__futex_lock_acquire(shared, timeout_ns);
}

static int fx_unlock(void *shared, void *local)
{
    CORTEX_UNUSED(local);
    int rc = cortex__futex_lock_release(shared);
    if (rc < 0)
        return cortex__fail(EPERM, "futex lock: unlock by pid %d, which does not hold it (holder %u)",
                            (int)cortex__self_pid(), cortex__futex_lock_holder(shared));
    return 0;
}

static int fx_holder(const void *shared, int32_t *pid)
{
    uint32_t h = cortex__futex_lock_holder((cortex__futex_lock *)shared);
    *pid = (int32_t)h;
    return h != 0;
}

static int fx_owner_dead(const void *shared)
{
    cortex__futex_lock *l = (cortex__futex_lock *)shared;
    uint32_t w = cortex__ld32(&l->word, CX_RELAXED);
    if ((w & CORTEX__FUTEX_PID_MASK) == 0)
        return 0;
    return cortex__futex_lock_holder_dead(l, w, NULL) ? 1 : 0;
}

const cortex_sync_ops cortex_sync_futex = {
    .id = CORTEX_SYNC_ID_FUTEX,
    .name = "futex",
    .shared_size = sizeof(cortex__futex_lock),
    .shared_align = 8,
    .init = fx_init,
    .attach = fx_attach,
    .lock = fx_lock,
    .unlock = fx_unlock,
    .detach = NULL,
    .destroy = NULL,
    .holder = fx_holder,
    .owner_dead = fx_owner_dead,
};

#else /* not compiled in */

static int fx_missing(void)
{
    return cortex__fail(ENOTSUP, "the futex lock backend is not in this build of neocortex "
#ifdef __linux__
                                 "(configured with -Dfutex=disabled)"
#else
                                 "(it needs Linux)"
#endif
                                 "; use cortex_sync_semaphore");
}
static int fx_init(void *s, const cortex_sync_env *e, void **l) { CORTEX_UNUSED(s); CORTEX_UNUSED(e); *l = NULL; return fx_missing(); }
static int fx_lock(void *s, void *l, int64_t t) { CORTEX_UNUSED(s); CORTEX_UNUSED(l); CORTEX_UNUSED(t); return fx_missing(); }
static int fx_unlock(void *s, void *l) { CORTEX_UNUSED(s); CORTEX_UNUSED(l); return fx_missing(); }

const cortex_sync_ops cortex_sync_futex = {
    .id = CORTEX_SYNC_ID_FUTEX,
    .name = "futex",
    .shared_size = 16,
    .shared_align = 8,
    .init = fx_init,
    .attach = fx_init,
    .lock = fx_lock,
    .unlock = fx_unlock,
};

#endif
