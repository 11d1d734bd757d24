/* SPDX-License-Identifier: MIT */
/*
 * lib/sync/semaphore.c: the SysV semaphore lock backend, or its -ENOTSUP
 * stand-in.  SEM_UNDO makes the kernel release a dead holder's lock; it
 * says nothing about the death, so the cell's sequence number is what shows
 * a torn value.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "os/os.h"

#include <errno.h>
#include <neocortex/sync.h>

#if CORTEX_HAVE_SEMAPHORE

#include <stdint.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#define SEM_MAGIC 0x414d4553u /* "SEMA" */

/*
 * The set has two semaphores: 0 is the lock, 1 holds a tag of the segment's
 * identity (1..SEM_TAG_MAX), so an id forged in the segment that names
 * another set of ours is caught before we lock it or remove it.
 */
#define SEM_NSEMS 2
#define SEM_TAG_MAX 32767 /* SEMVMX */

static unsigned short segment_tag(uint64_t segment_id)
{
    return (unsigned short)(cortex__fnv1a32(&segment_id, sizeof segment_id) % SEM_TAG_MAX + 1);
}

/* What the backend keeps in the segment. */
typedef struct sem_shared {
    uint32_t magic; /* SEM_MAGIC */
    int32_t semid;  /* the semaphore set (one semaphore) */
    int32_t key;    /* its SysV key, 0 for IPC_PRIVATE */
    uint32_t perm;  /* mode bits it was created with */
} sem_shared;

_Static_assert(sizeof(sem_shared) == 16, "semaphore shared bytes are 16 in every ABI");

union cortex_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

/* The semid lives in *local as id + 1 (so NULL means none). */
static int local_id(void *local) { return (int)((intptr_t)local - 1); }

static int sem_init(void *shared, const cortex_sync_env *env, void **local)
{
    sem_shared *s = shared;
    int32_t key = env->key.kind == CORTEX_KEYKIND_SYSV ? env->key.sysv : 0;
    int perm = (int)(env->perm & 0777u);
    int id;
    *local = NULL;
    if (key != 0) {
        id = semget((key_t)key, SEM_NSEMS, IPC_CREAT | IPC_EXCL | perm);
        if (id < 0 && errno == EEXIST)
            return cortex__fail_sys(EEXIST, "semget", errno,
                                    "%s: a SysV semaphore under key 0x%08x exists without its segment "
                                    "(left by a crashed owner?); remove it with ipcrm -S 0x%08x",
                                    env->what, (unsigned)key, (unsigned)key);
    } else {
        id = semget(IPC_PRIVATE, SEM_NSEMS, IPC_CREAT | perm);
    }
    if (id < 0)
        return cortex__fail_sys(errno == ENOSPC ? ENOSPC : errno, "semget", errno,
                                "%s: could not create its SysV semaphore", env->what);
    union cortex_semun arg;
    unsigned short vals[SEM_NSEMS] = {1, segment_tag(env->segment_id)};
    arg.array = vals;
    if (semctl(id, 0, SETALL, arg) != 0) {
        int e = errno;
        semctl(id, 0, IPC_RMID);
        return cortex__fail_sys(e, "semctl", e, "%s: could not initialise its SysV semaphore", env->what);
    }
    s->magic = SEM_MAGIC;
    s->semid = id;
    s->key = key;
    s->perm = (uint32_t)perm;
    *local = (void *)(intptr_t)(id + 1);
    return 0;
}

static int sem_attach(void *shared, const cortex_sync_env *env, void **local)
{
    const sem_shared *s = shared;
    sem_shared c = *s; /* shared memory: read once */
    *local = NULL;
    if (c.magic != SEM_MAGIC || c.semid < 0)
        return cortex__fail(EBADMSG, "%s: semaphore lock bytes are corrupt (magic 0x%08x, id %d)", env->what,
                            c.magic, (int)c.semid);
    if (c.key != 0) {
        int id = semget((key_t)c.key, 0, 0);
        if (id < 0)
            return cortex__fail_sys(errno == ENOENT ? EIDRM : errno, "semget", errno,
                                    "%s: its SysV semaphore (key 0x%08x) is gone", env->what, (unsigned)c.key);
        if (id != c.semid)
            return cortex__fail(EBADMSG, "%s: the semaphore under key 0x%08x is id %d, the segment says %d",
                                env->what, (unsigned)c.key, id, (int)c.semid);
    }
    struct semid_ds ds;
    union cortex_semun arg;
    arg.buf = &ds;
    if (semctl(c.semid, 0, IPC_STAT, arg) != 0)
        return cortex__fail_sys(errno == EINVAL ? EIDRM : errno, "semctl", errno,
                                "%s: cannot use its SysV semaphore id %d", env->what, (int)c.semid);
    char set[288];
    snprintf(set, sizeof set, "%s: its SysV semaphore id %d", env->what, (int)c.semid);
    int rc = cortex__check_owner((uint32_t)ds.sem_perm.uid, (uint32_t)ds.sem_perm.cuid, (unsigned)ds.sem_perm.mode,
                                 env->opts, set);
    if (rc < 0)
        return rc;
    if (ds.sem_nsems != SEM_NSEMS)
        return cortex__fail(EBADMSG, "%s has %lu semaphores, expected %d: not this segment's lock", set,
                            (unsigned long)ds.sem_nsems, SEM_NSEMS);
    int32_t set_key; /* lib/os: the key field has a private name where the platform shows it at all */
    if (c.key == 0 && cortex__os_ipc_key(&ds.sem_perm, &set_key) == 0 && set_key != (int32_t)IPC_PRIVATE)
        return cortex__fail(EBADMSG, "%s is the set of SysV key 0x%08x, not a private one: not this segment's lock",
                            set, (unsigned)set_key);
    int tag = semctl(c.semid, 1, GETVAL);
    if (tag < 0)
        return cortex__fail_sys(errno, "semctl", errno, "%s: cannot read its tag", set);
    if (tag != segment_tag(env->segment_id))
        return cortex__fail(EBADMSG, "%s was made for another segment (tag %d, this segment's is %d): refused, "
                            "neither locked nor removed",
                            set, tag, (int)segment_tag(env->segment_id));
    *local = (void *)(intptr_t)(c.semid + 1);
    return 0;
}

static int sem_error(int e, int id, const char *op)
{
    if (e == EIDRM || e == EINVAL)
        return cortex__fail_sys(EIDRM, "semop", e, "SysV semaphore id %d was removed (the cell's owner closed it)",
                                id);
    return cortex__fail_sys(e, "semop", e, "%s of SysV semaphore id %d failed", op, id);
}

static int sem_lock(void *shared, void *local, int64_t timeout_ns)
{
    CORTEX_UNUSED(shared);
    int id = local_id(local);
    struct sembuf op = {0, -1, SEM_UNDO};
    if (timeout_ns == 0)
        op.sem_flg |= IPC_NOWAIT;
    int64_t deadline = timeout_ns > 0 ? cortex__deadline(timeout_ns) : 0; /* no overflow for huge timeouts */
    for (;;) {
        int r;
        if (timeout_ns > 0) {
            int64_t left = deadline - cortex__now_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            r = cortex__os_semtimedop(id, &op, left); /* lib/os: semtimedop where the platform has it */
            if (r < 0) {
                errno = -r;
                r = -1;
            }
            if (r != 0 && errno == ENOSYS) { /* without it: poll */
                op.sem_flg |= IPC_NOWAIT;
                r = semop(id, &op, 1);
                if (r != 0 && errno == EAGAIN) {
                    if (cortex__now_ns() >= deadline)
                        return -ETIMEDOUT;
                    cortex__sleep_ns(100000);
                    continue;
                }
            }
        } else {
            r = semop(id, &op, 1);
        }
        if (r == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return -ETIMEDOUT;
        return sem_error(errno, id, "lock");
    }
}

static int sem_unlock(void *shared, void *local)
{
    CORTEX_UNUSED(shared);
    int id = local_id(local);
    struct sembuf op = {0, 1, SEM_UNDO};
    while (semop(id, &op, 1) != 0) {
        if (errno != EINTR)
            return sem_error(errno, id, "unlock");
    }
    return 0;
}

static int sem_destroy(void *shared, void *local)
{
    CORTEX_UNUSED(shared);
    int id = local_id(local);
    if (id < 0)
        return 0;
    if (semctl(id, 0, IPC_RMID) != 0 && errno != EINVAL && errno != EIDRM) {
        char what[CORTEX_ERROR_LEFTOVER_MAX];
        int rc = cortex__fail_sys(errno, "semctl", errno, "could not remove SysV semaphore id %d", id);
        snprintf(what, sizeof what, "SysV semaphore id %d", id);
        cortex__mark_dirty(what);
        return rc;
    }
    return 0;
}

static int sem_holder(const void *shared, int32_t *pid)
{
    const sem_shared *s = shared;
    int32_t id = s->semid; /* written once by the creator before READY */
    *pid = 0;
    if (id < 0)
        return -EBADMSG;
    int val = semctl(id, 0, GETVAL);
    if (val < 0)
        return -errno;
    if (val > 0)
        return 0;
    int p = semctl(id, 0, GETPID); /* the last semop: the taker, while it is held */
    *pid = p > 0 ? p : 0;
    return 1;
}

const cortex_sync_ops cortex_sync_semaphore = {
    .id = CORTEX_SYNC_ID_SEMAPHORE,
    .name = "semaphore",
    .shared_size = sizeof(sem_shared),
    .shared_align = 8,
    .init = sem_init,
    .attach = sem_attach,
    .lock = sem_lock,
    .unlock = sem_unlock,
    .detach = NULL,
    .destroy = sem_destroy,
    .holder = sem_holder,
    .owner_dead = NULL,
};

#else /* not compiled in */

static int sem_missing(void)
{
    return cortex__fail(ENOTSUP, "the SysV semaphore lock backend is not in this build of neocortex "
                                 "(configured with -Dsemaphore=disabled); use cortex_sync_futex");
}
static int sem_init(void *s, const cortex_sync_env *e, void **l) { CORTEX_UNUSED(s); CORTEX_UNUSED(e); *l = NULL; return sem_missing(); }
static int sem_lock(void *s, void *l, int64_t t) { CORTEX_UNUSED(s); CORTEX_UNUSED(l); CORTEX_UNUSED(t); return sem_missing(); }
static int sem_unlock(void *s, void *l) { CORTEX_UNUSED(s); CORTEX_UNUSED(l); return sem_missing(); }

const cortex_sync_ops cortex_sync_semaphore = {
    .id = CORTEX_SYNC_ID_SEMAPHORE,
    .name = "semaphore",
    .shared_size = 16,
    .shared_align = 8,
    .init = sem_init,
    .attach = sem_init,
    .lock = sem_lock,
    .unlock = sem_unlock,
};

#endif
