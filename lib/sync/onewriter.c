/* SPDX-License-Identifier: MIT */
/*
 * lib/sync/onewriter.c: the one-writer cell backend (cortex_sync_one_writer).
 * Its shared bytes are the writer role record (lib/sync/onewriter.h); the
 * cell (lib/cell/cell.c) writes as a single-writer seqlock while its handle
 * holds the role.  Built on every platform: it needs no futex.
 */
#include "internal.h"
#include "sync/ident.h"
#include "sync/onewriter.h"

#include <errno.h>
#include <neocortex/sync.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Serialises this process's claims (see onewriter.h); a forked child starts with a fresh one. */
static pthread_mutex_t claim_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t claim_once = PTHREAD_ONCE_INIT;

static void claim_mu_after_fork(void) { pthread_mutex_init(&claim_mu, NULL); }
static void claim_mu_register(void) { pthread_atfork(NULL, NULL, claim_mu_after_fork); }

static bool pid_ok(uint32_t pid) { return pid != 0 && pid <= CORTEX__OW_PID_MAX; }

static int corrupt_record(const char *what, uint64_t rec)
{
    return cortex__fail(EBADMSG,
                        "%s: the one-writer role record names pid %u (stamp %u), which no process can have: the "
                        "segment is corrupt; nothing was changed",
                        what, (unsigned)(uint32_t)rec, (unsigned)(rec >> 32));
}

static cortex__liveness judge(uint64_t rec, const char **why)
{
    cortex__proc_id id = {.pid = (int32_t)(uint32_t)rec, .stamp = (uint32_t)(rec >> 32)};
    return cortex__proc_verdict(&id, why);
}

/* One try at the record @cur: 0/-EOWNERDEAD claimed, 1 lost a race (look again), other -errno refused. */
static int claim_from(cortex__ow_role *r, cortex__ow_local *l, uint64_t ident, uint64_t cur, int32_t *prev_pid)
{
    uint32_t self = (uint32_t)ident;
    int took = 0;
    if (cur != 0) {
        uint32_t pid = (uint32_t)cur;
        if (!pid_ok(pid))
            return corrupt_record(l->what, cur);
        if (pid == self) {
            /* This process: another handle (same image), or its image before an exec (take it back). */
            if (cortex__ld64(&r->image, CX_ACQUIRE) == cortex__image_token())
                return cortex__fail(EBUSY,
                                    "%s: the one-writer role is held by this process (pid %u) through another "
                                    "handle; only that handle may write (nothing was changed)",
                                    l->what, pid);
        } else {
            const char *why = "";
            cortex__liveness v = judge(cur, &why);
            if (v == CORTEX__ALIVE)
                return cortex__fail(EBUSY,
                                    "%s: the one-writer role is held by live pid %u: only its handle may write "
                                    "(nothing was changed)",
                                    l->what, pid);
            if (v == CORTEX__UNKNOWN)
                return cortex__fail(EBUSY,
                                    "%s: the one-writer role is held by pid %u, which cannot be judged dead (%s); "
                                    "nothing was changed",
                                    l->what, pid, why);
        }
        took = 1;
        *prev_pid = (int32_t)pid;
    }
    uint64_t e = cur;
    if (!cortex__cas64(&r->holder, &e, ident, CX_ACQ_REL, CX_RELAXED))
        return 1;
    cortex__st64(&r->image, cortex__image_token(), CX_RELEASE);
    l->ident = ident;
    return took ? -EOWNERDEAD : 0;
}

int cortex__ow_claim(cortex__ow_role *r, cortex__ow_local *l, uint64_t ident, int32_t *prev_pid)
{
    *prev_pid = 0;
    pthread_once(&claim_once, claim_mu_register);
    pthread_mutex_lock(&claim_mu);
    int rc = 1;
    for (int tries = 0; tries < 100 && rc == 1; tries++) {
        uint64_t cur = cortex__ld64(&r->holder, CX_ACQUIRE);
        if (cur == ident && l->ident == ident) {
            rc = 0;
            break;
        }
        rc = claim_from(r, l, ident, cur, prev_pid);
        if (rc == 1)
            cortex__spin_hint();
    }
    pthread_mutex_unlock(&claim_mu);
    if (rc == 1)
        rc = cortex__fail(EBUSY, "%s: the one-writer role keeps changing hands (a corrupt or hostile peer?); "
                                 "nothing was changed",
                          l->what);
    return rc;
}

int cortex__ow_holder_gone(const cortex__ow_role *r, int32_t *pid)
{
    uint64_t cur = cortex__ld64((cortex__a64 *)(uintptr_t)&r->holder, CX_ACQUIRE);
    *pid = (int32_t)(uint32_t)cur;
    if (cur == 0)
        return 1;
    if (!pid_ok((uint32_t)cur))
        return -EBADMSG;
    return judge(cur, NULL) == CORTEX__DEAD;
}

/* ---- the ops table ------------------------------------------------------- */

static int ow_local_new(const cortex_sync_env *env, void **local)
{
    cortex__ow_local *l = calloc(1, sizeof *l);
    if (!l)
        return cortex__fail(ENOMEM, "one-writer backend: out of memory for a handle");
    snprintf(l->what, sizeof l->what, "%s", env && env->what ? env->what : "cell");
    *local = l;
    return 0;
}

static int ow_init(void *shared, const cortex_sync_env *env, void **local)
{
    *local = NULL;
    if (shared) {
        cortex__ow_role *r = shared;
        cortex__st64(&r->holder, 0, CX_RELAXED);
        cortex__st64(&r->image, 0, CX_RELAXED);
        r->magic = CORTEX__OW_MAGIC;
    }
    return ow_local_new(env, local);
}

static int ow_attach(void *shared, const cortex_sync_env *env, void **local)
{
    *local = NULL;
    const cortex__ow_role *r = shared;
    if (r->magic != CORTEX__OW_MAGIC)
        return cortex__fail(EBADMSG, "%s: its one-writer role record has magic 0x%08x, expected 0x%08x (corrupt)",
                            env->what, r->magic, CORTEX__OW_MAGIC);
    return ow_local_new(env, local);
}

static int ow_lock(void *shared, void *local, int64_t timeout_ns)
{
    CORTEX_UNUSED(timeout_ns); /* a role is held or not: nothing to wait for */
    cortex__ow_local *l = local;
    uint64_t ident = cortex__sync_ident();
    if (l->ident == ident)
        return 0;
    int32_t prev;
    return cortex__ow_claim(shared, l, ident, &prev);
}

static int ow_unlock(void *shared, void *local)
{
    CORTEX_UNUSED(shared);
    CORTEX_UNUSED(local);
    return 0;
}

static void ow_detach(void *shared, void *local)
{
    cortex__ow_local *l = local;
    if (!l)
        return;
    /* Only the process that claimed gives the role back (a forked child's copy does not). */
    if (shared && l->ident != 0 && l->ident == cortex__sync_ident()) {
        uint64_t e = l->ident;
        cortex__cas64(&((cortex__ow_role *)shared)->holder, &e, 0, CX_RELEASE, CX_RELAXED);
    }
    free(l);
}

static int ow_holder(const void *shared, int32_t *pid)
{
    uint64_t cur = cortex__ld64((cortex__a64 *)(uintptr_t)&((const cortex__ow_role *)shared)->holder, CX_ACQUIRE);
    *pid = (int32_t)(uint32_t)cur;
    if (cur == 0)
        return 0;
    return pid_ok((uint32_t)cur) ? 1 : -EBADMSG;
}

static int ow_owner_dead(const void *shared)
{
    int32_t pid;
    int rc = cortex__ow_holder_gone(shared, &pid);
    return rc == 1 && pid != 0 ? 1 : rc < 0 ? rc : 0;
}

const cortex_sync_ops cortex_sync_one_writer = {
    .id = CORTEX_SYNC_ID_ONE_WRITER,
    .name = "one-writer",
    .shared_size = sizeof(cortex__ow_role),
    .shared_align = 8,
    .init = ow_init,
    .attach = ow_attach,
    .lock = ow_lock,
    .unlock = ow_unlock,
    .detach = ow_detach,
    .destroy = NULL,
    .holder = ow_holder,
    .owner_dead = ow_owner_dead,
};
