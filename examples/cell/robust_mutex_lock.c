/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/robust_mutex_lock.c: a cortex_sync_ops built on a
 * process-shared robust pthread mutex.  The kernel's robust list hands a
 * dead holder's mutex to the next locker with EOWNERDEAD, which this maps
 * to the cell's -EOWNERDEAD (lock held); the cell's sequence number then
 * tells whether the value was torn.
 *
 * Limit: pthread_mutex_t is not a fixed-width layout, so every process
 * using one cell must be built for the same ABI (the built-in backends have
 * no such limit).
 */
#define _GNU_SOURCE
#include "robust_mutex_lock.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

static int rm_init(void *shared, const cortex_sync_env *env, void **local)
{
    (void)env;
    *local = NULL;
    pthread_mutexattr_t a;
    int e = pthread_mutexattr_init(&a);
    if (e == 0)
        e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (e == 0)
        e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (e == 0)
        e = pthread_mutex_init((pthread_mutex_t *)shared, &a);
    pthread_mutexattr_destroy(&a);
    return -e;
}

static int rm_attach(void *shared, const cortex_sync_env *env, void **local)
{
    (void)shared;
    (void)env;
    *local = NULL;
    return 0;
}

static int rm_lock(void *shared, void *local, int64_t timeout_ns)
{
    (void)local;
    pthread_mutex_t *m = shared;
    int e;
    if (timeout_ns < 0) {
        e = pthread_mutex_lock(m);
    } else if (timeout_ns == 0) {
        e = pthread_mutex_trylock(m);
        if (e == EBUSY)
            e = ETIMEDOUT;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + timeout_ns % 1000000000;
        ts.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        e = pthread_mutex_timedlock(m, &ts);
    }
    if (e == EOWNERDEAD) {
        /* We hold it now; mark it usable again.  The cell decides whether the value is torn. */
        pthread_mutex_consistent(m);
        return -EOWNERDEAD;
    }
    return -e;
}

static int rm_unlock(void *shared, void *local)
{
    (void)local;
    return -pthread_mutex_unlock((pthread_mutex_t *)shared);
}

static int rm_destroy(void *shared, void *local)
{
    (void)local;
    if (shared)
        pthread_mutex_destroy((pthread_mutex_t *)shared);
    return 0;
}

const cortex_sync_ops example_robust_mutex_lock = {
    .id = EXAMPLE_ROBUST_MUTEX_ID,
    .name = "robust-mutex",
    .shared_size = sizeof(pthread_mutex_t),
    .shared_align = _Alignof(pthread_mutex_t),
    .init = rm_init,
    .attach = rm_attach,
    .lock = rm_lock,
    .unlock = rm_unlock,
    .detach = NULL,
    .destroy = rm_destroy,
    .holder = NULL,
    .owner_dead = NULL,
};
