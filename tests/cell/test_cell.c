/* SPDX-License-Identifier: MIT */
/* tests/cell/test_cell.c: single-process behaviour of typed cells (suite unit). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"
#include "../../examples/cell/robust_mutex_lock.h"

TestSuite(cell, .fini = nct_cleanup, .timeout = 30);

typedef struct pose {
    double x, y;
    uint64_t stamp;
} pose;

CORTEX_DECLARE(pose_cell, pose);
CORTEX_DECLARE(int_cell, int);
CORTEX_DECLARE(dbl_cell, double);
typedef struct { char text[13]; } odd_size;
CORTEX_DECLARE(odd_cell, odd_size);
CORTEX_DECLARE(u64_cell, uint64_t);

static void bump(pose *p, void *ctx)
{
    p->stamp += *(uint64_t *)ctx;
    p->x += 1.0;
}

Test(cell, typed_roundtrip_every_backend_and_backing)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        char name[64];
        cortex_key keys[3] = {CORTEX_KEY_SYSV(nct_sysv_key()), CORTEX_KEY_NAME(nct_name(name, "rt")),
                              CORTEX_KEY_HEAP};
        for (int k = 0; k < 3; k++) {
            pose_cell c;
            cr_assert_eq(pose_cell_create(&c, keys[k], (pose){1.5, 2.5, 7}, &o), 0, "%s: %s", ops->name,
                         cortex_last_error()->message);
            pose p;
            cr_assert_eq(pose_cell_read(&c, &p), 0);
            cr_assert(p.x == 1.5 && p.y == 2.5 && p.stamp == 7);
            cr_assert_eq(pose_cell_write(&c, (pose){3, 4, 9}), 0);
            cr_assert_eq(pose_cell_read(&c, &p), 0);
            cr_assert(p.x == 3 && p.y == 4 && p.stamp == 9);
            uint64_t add = 5;
            cr_assert_eq(pose_cell_update(&c, bump, &add), 0);
            cr_assert_eq(pose_cell_read(&c, &p), 0);
            cr_assert(p.x == 4 && p.stamp == 14);
            cr_assert_eq(cortex_cell_lock_ops(c.cell), ops);
            cr_assert_eq(pose_cell_close(&c), 0);
            cr_assert_null(c.cell);
        }
    }
}

Test(cell, odd_sizes_copy_exactly)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        odd_cell c;
        odd_size v = {"hello world!"};
        cr_assert_eq(odd_cell_create(&c, CORTEX_KEY_SYSV(nct_sysv_key()), v, &o), 0, "%s", cortex_last_error()->message);
        odd_size out;
        memset(&out, 0x5a, sizeof out);
        cr_assert_eq(odd_cell_read(&c, &out), 0);
        cr_assert_str_eq(out.text, "hello world!");
        cr_assert_eq(odd_cell_close(&c), 0);
    }
}

Test(cell, attach_sees_writes_and_checks_type)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
        dbl_cell a, b;
        cr_assert_eq(dbl_cell_create(&a, key, 0.25, &o), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(dbl_cell_attach(&b, key, NULL), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(cortex_cell_lock_ops(b.cell), ops, "attach picks the segment's backend");
        cr_assert_eq(dbl_cell_write(&b, 8.5), 0);
        double d;
        cr_assert_eq(dbl_cell_read(&a, &d), 0);
        cr_assert(d == 8.5);

        /* Wrong type, same size: int vs double differ in size; pose in size too. */
        int_cell wrong;
        cr_assert_eq(int_cell_attach(&wrong, key, NULL), -EPROTO);
        const char *msg = cortex_last_error()->message;
        cr_assert(strstr(msg, "'double'") && strstr(msg, "'int'"), "message names both: %s", msg);
        pose_cell wp;
        cr_assert_eq(pose_cell_attach(&wp, key, NULL), -EPROTO);
        msg = cortex_last_error()->message;
        cr_assert(strstr(msg, "'double'") && strstr(msg, "'pose'") && strstr(msg, "size 8") && strstr(msg, "size 24"),
                  "%s", msg);
        /* Same size and alignment, other type name. */
        u64_cell wu;
        cr_assert_eq(u64_cell_attach(&wu, key, NULL), -EPROTO);
        msg = cortex_last_error()->message;
        cr_assert(strstr(msg, "'double'") && strstr(msg, "'uint64_t'"), "%s", msg);
        /* type_tag makes them agree. */
        cortex_opts tagged = CORTEX_OPTS_INIT;
        tagged.type_tag = "double";
        cr_assert_eq(u64_cell_attach(&wu, key, &tagged), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(u64_cell_close(&wu), 0);

        cr_assert_eq(dbl_cell_close(&b), 0);
        cr_assert_eq(dbl_cell_close(&a), 0);
        cr_assert_eq(dbl_cell_attach(&b, key, NULL), -ENOENT);
    }
}

Test(cell, create_existing_is_eexist_and_untouched)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int key = nct_sysv_key();
        dbl_cell a, b;
        cr_assert_eq(dbl_cell_create(&a, CORTEX_KEY_SYSV(key), 42.0, &o), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(dbl_cell_create(&b, CORTEX_KEY_SYSV(key), 13.0, &o), -EEXIST);
        cr_assert_null(b.cell);
        cr_assert(strstr(cortex_last_error()->message, "exists"), "%s", cortex_last_error()->message);
        cr_assert_not(cortex_last_error()->dirty);
        /* Another type too: still -EEXIST, nothing written. */
        int_cell ib;
        cr_assert_eq(int_cell_create(&ib, CORTEX_KEY_SYSV(key), 1, &o), -EEXIST);
        double d;
        cr_assert_eq(dbl_cell_read(&a, &d), 0);
        cr_assert(d == 42.0, "existing value untouched: %g", d);
        cr_assert_eq(dbl_cell_write(&a, 43.0), 0, "existing lock untouched");
        /* Open-or-create attaches and does not write its init. */
        cortex_opts oc = o;
        oc.mode = CORTEX_OPEN_OR_CREATE;
        cr_assert_eq(dbl_cell_create(&b, CORTEX_KEY_SYSV(key), 99.0, &oc), 0, "%s", cortex_last_error()->message);
        cr_assert_not(cortex_region_is_owner(dbl_cell_region(&b)));
        cr_assert_eq(dbl_cell_read(&b, &d), 0);
        cr_assert(d == 43.0);
        cr_assert_eq(dbl_cell_close(&b), 0);
        cr_assert_eq(dbl_cell_close(&a), 0);
    }
}

Test(cell, lock_mismatch_and_missing_user_lock)
{
    const cortex_sync_ops *b[2];
    if (cell_backends(b) < 2)
        cr_skip_test("needs both backends");
    char name[64];
    nct_name(name, "lm");
    cortex_opts fo = opts_with(&cortex_sync_futex), so = opts_with(&cortex_sync_semaphore);
    dbl_cell a, x;
    cr_assert_eq(dbl_cell_create(&a, CORTEX_KEY_NAME(name), 1.0, &fo), 0);
    cr_assert_eq(dbl_cell_attach(&x, CORTEX_KEY_NAME(name), &so), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "lock"), "%s", cortex_last_error()->message);
    cr_assert_eq(dbl_cell_close(&a), 0);

    /* A cell with a user lock cannot be attached without its ops. */
    cortex_opts uo = opts_with(&example_robust_mutex_lock);
    cr_assert_eq(dbl_cell_create(&a, CORTEX_KEY_NAME(name), 1.0, &uo), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(dbl_cell_attach(&x, CORTEX_KEY_NAME(name), NULL), -ENOTSUP);
    cr_assert(strstr(cortex_last_error()->message, "cortex_opts.lock"), "%s", cortex_last_error()->message);
    cr_assert_eq(dbl_cell_attach(&x, CORTEX_KEY_NAME(name), &uo), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(dbl_cell_close(&x), 0);
    cr_assert_eq(dbl_cell_close(&a), 0);
}

Test(cell, backend_not_built_is_enotsup)
{
    const cortex_sync_ops *missing = !CORTEX_HAVE_FUTEX ? &cortex_sync_futex
                                     : !CORTEX_HAVE_SEMAPHORE ? &cortex_sync_semaphore
                                                              : NULL;
    if (!missing) {
        cr_assert(cortex_sync_available(&cortex_sync_futex) && cortex_sync_available(&cortex_sync_semaphore));
        cr_skip_test("both backends are built");
    }
    cortex_opts o = opts_with(missing);
    dbl_cell c;
    char name[64];
    cr_assert_eq(dbl_cell_create(&c, CORTEX_KEY_NAME(nct_name(name, "ns")), 1.0, &o), -ENOTSUP);
    const char *msg = cortex_last_error()->message;
    cr_assert(strstr(msg, missing->name) && strstr(msg, "disabled"), "%s", msg);
    /* And the default is the one that is built. */
    cr_assert(cortex_sync_available(cortex_sync_default()));
}

Test(cell, sysv_semaphore_shares_key_and_mode)
{
    if (!CORTEX_HAVE_SEMAPHORE)
        cr_skip_test("semaphore backend not built");
    int key = nct_sysv_key();
    cortex_opts o = opts_with(&cortex_sync_semaphore);
    o.perm = 0640;
    dbl_cell c;
    cr_assert_eq(dbl_cell_create(&c, CORTEX_KEY_SYSV(key), 1.0, &o), 0, "%s", cortex_last_error()->message);
    int id = semget(key, 0, 0);
    cr_assert_geq(id, 0, "semaphore under the segment's key");
    struct semid_ds ds;
    union { int val; struct semid_ds *buf; } arg = {.buf = &ds};
    cr_assert_eq(semctl(id, 0, IPC_STAT, arg), 0);
    cr_assert_eq(ds.sem_perm.mode & 0777, 0640);
    cr_assert_eq(dbl_cell_close(&c), 0);
    cr_assert_lt(semget(key, 0, 0), 0, "removed by the owner's close");

    /* Other backings: a private semaphore, removed too. */
    char name[64];
    cr_assert_eq(dbl_cell_create(&c, CORTEX_KEY_NAME(nct_name(name, "sp")), 1.0, &o), 0);
    int32_t semid = *(int32_t *)((char *)cortex_region_payload(dbl_cell_region(&c)) + 64 + 4);
    cr_assert_eq(semctl(semid, 0, IPC_STAT, arg), 0, "semid %d", semid);
    cr_assert_eq(ds.sem_perm.__key, IPC_PRIVATE);
    cr_assert_eq(ds.sem_perm.mode & 0777, 0640);
    /* An attacher's close leaves it; the owner's removes it. */
    dbl_cell b;
    /* 0640 is wider than the 0600 a default attach accepts; the attacher says what it accepts. */
    int by_default = dbl_cell_attach(&b, CORTEX_KEY_NAME(name), NULL);
    if (by_default == 0)
        dbl_cell_close(&b);
    cr_assert_eq(dbl_cell_attach(&b, CORTEX_KEY_NAME(name), &o), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(dbl_cell_close(&b), 0);
    cr_assert_eq(semctl(semid, 0, IPC_STAT, arg), 0);
    cr_assert_eq(dbl_cell_close(&c), 0);
    cr_assert_lt(semctl(semid, 0, IPC_STAT, arg), 0);
    cr_assert_eq(by_default, -EACCES, "a default attach refuses a 0640 cell");
}

Test(cell, leak_and_own)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int key = nct_sysv_key();
        dbl_cell a, b;
        cr_assert_eq(dbl_cell_create(&a, CORTEX_KEY_SYSV(key), 5.0, &o), 0);
        cr_assert_eq(dbl_cell_leak(&a), 0);
        cr_assert_eq(dbl_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), 0, "leaked cell still there: %s",
                     cortex_last_error()->message);
        double d;
        cr_assert_eq(dbl_cell_read(&b, &d), 0);
        cr_assert(d == 5.0);
        cr_assert_eq(dbl_cell_own(&b), 0);
        cr_assert_eq(dbl_cell_close(&b), 0);
        cr_assert_eq(dbl_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), -ENOENT);
        cr_assert_lt(semget(key, 0, 0), 0, "own()ed close removed the semaphore too");
    }
}

static int ran;
static void count_runs(int *v, void *ctx)
{
    (void)ctx;
    ran++;
    *v += 1;
}

Test(cell, torn_value_is_eownerdead_until_write_or_consistent)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int_cell c;
        cr_assert_eq(int_cell_create(&c, CORTEX_KEY_SYSV(nct_sysv_key()), 10, &o), 0);
        cortex_region *r = int_cell_region(&c);
        /* What a writer killed between "seq = odd" and "seq = even" leaves (its lock already released). */
        cortex__st64(cell_seq_of(r), cortex__ld64(cell_seq_of(r), CX_RELAXED) + 1, CX_RELAXED);
        int v = 0;
        cr_assert_eq(int_cell_read(&c, &v), -EOWNERDEAD, "%s", ops->name);
        cr_assert_eq(v, 10, "the value is still copied out");
        cr_assert(strstr(cortex_last_error()->message, "consistent"), "%s", cortex_last_error()->message);
        cr_assert_eq(cortex__ld64(cell_seq_of(r), CX_RELAXED) & 1, 0, "repaired to even");
        ran = 0;
        cr_assert_eq(int_cell_update(&c, count_runs, NULL), -EOWNERDEAD);
        cr_assert_eq(ran, 0, "update does not run on a torn value");
        cr_assert_eq(int_cell_read(&c, &v), -EOWNERDEAD, "still inconsistent");
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(r, &info), 0);
        cr_assert_not(info.consistent);
        cr_assert_eq(int_cell_consistent(&c), 0);
        cr_assert_eq(int_cell_read(&c, &v), 0);
        cr_assert_eq(v, 10);
        cr_assert_eq(int_cell_update(&c, count_runs, NULL), 0);
        cr_assert_eq(ran, 1);

        /* And a write clears it as well. */
        cortex__st64(cell_seq_of(r), cortex__ld64(cell_seq_of(r), CX_RELAXED) + 1, CX_RELAXED);
        cr_assert_eq(int_cell_update(&c, count_runs, NULL), -EOWNERDEAD);
        cr_assert_eq(int_cell_write(&c, 77), 0);
        cr_assert_eq(int_cell_read(&c, &v), 0);
        cr_assert_eq(v, 77);
        cr_assert_eq(int_cell_close(&c), 0);
    }
}

/*
 * Futex backend: the lock is the sequence word.  A dead holder's word is
 * taken over; -EOWNERDEAD exactly when its sequence was odd (it died in
 * mid-copy), not when it only held the word (inside an update function).
 */
Test(cell, futex_word_dead_holder_takeover_is_exact)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    cortex_opts o = opts_with(&cortex_sync_futex);
    int_cell c;
    cr_assert_eq(int_cell_create(&c, CORTEX_KEY_SYSV(nct_sysv_key()), 10, &o), 0);
    cortex__a64 *seq = cell_seq_of(int_cell_region(&c));
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    cr_assert_eq(nct_wait(gone, 5000), 0);
    uint64_t dead = (uint64_t)(uint32_t)gone << 40;

    /* Held (sequence even), holder dead: taken over, value whole, nothing to report. */
    uint64_t s = cortex__ld64(seq, CX_RELAXED);
    cortex__st64(seq, dead | s, CX_RELAXED);
    cortex_cell_info info;
    cr_assert_eq(cortex_cell_inspect(int_cell_region(&c), &info), 0);
    cr_assert_eq(info.lock_state, 1);
    cr_assert_eq(info.holder_pid, gone);
    cr_assert_eq(info.sequence, s, "the holder bits are not part of the version");
    ran = 0;
    cr_assert_eq(int_cell_update(&c, count_runs, NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(ran, 1);
    int v = 0;
    cr_assert_eq(int_cell_read(&c, &v), 0);
    cr_assert_eq(v, 11);

    /* Held in mid-copy (sequence odd), holder dead: -EOWNERDEAD until a write. */
    s = cortex__ld64(seq, CX_RELAXED);
    cr_assert_eq(s >> 40, 0, "released");
    cortex__st64(seq, dead | (s + 1), CX_RELAXED);
    ran = 0;
    cr_assert_eq(int_cell_update(&c, count_runs, NULL), -EOWNERDEAD);
    cr_assert_eq(ran, 0);
    cr_assert_eq(int_cell_read(&c, &v), -EOWNERDEAD);
    cr_assert_eq(int_cell_write(&c, 12), 0);
    cr_assert_eq(int_cell_read(&c, &v), 0);
    cr_assert_eq(v, 12);

    /* A write that takes a dead writer's odd word over replaces the value whole. */
    s = cortex__ld64(seq, CX_RELAXED);
    cortex__st64(seq, dead | (s + 1), CX_RELAXED);
    cr_assert_eq(int_cell_write(&c, 13), 0);
    cr_assert_eq(int_cell_read(&c, &v), 0);
    cr_assert_eq(v, 13);
    s = cortex__ld64(seq, CX_RELAXED);
    cr_assert_eq(s & 1, 0);
    cr_assert_eq(s >> 40, 0);
    cr_assert_eq(int_cell_close(&c), 0);
}

/*
 * The typed read and futex write run inline (neocortex/cell.h) once the
 * process has written through the handle: the same bytes, versions and
 * lock word as the library's path, at a size with a padded last word and
 * at a large one, in this process and in a forked child (a new identity:
 * its first write goes through the library again).
 */
typedef struct {
    uint64_t w[25];
} big200;
CORTEX_DECLARE(big_cell, big200);

static void inline_round(odd_cell *oc, big_cell *bc, unsigned k, uint64_t *v_odd, uint64_t *v_big)
{
    odd_size x, got;
    big200 y, goty;
    for (unsigned i = 0; i < sizeof x.text; i++)
        x.text[i] = (char)(k * 7 + i);
    for (unsigned i = 0; i < 25; i++)
        y.w[i] = (uint64_t)k << 32 | i;
    /* odd k: the typed (inline) write and read; even k: the library's calls */
    cr_assert_eq(k & 1 ? odd_cell_write(oc, x) : cortex_cell_write(oc->cell, &x, sizeof x), 0, "round %u: %s", k,
                 cortex_last_error()->message);
    cr_assert_eq(k & 1 ? big_cell_write(bc, y) : cortex_cell_write(bc->cell, &y, sizeof y), 0, "round %u: %s", k,
                 cortex_last_error()->message);
    cr_assert_eq(k & 1 ? odd_cell_read(oc, &got) : cortex_cell_read(oc->cell, &got, sizeof got), 0);
    cr_assert_eq(k & 1 ? big_cell_read(bc, &goty) : cortex_cell_read(bc->cell, &goty, sizeof goty), 0);
    cr_assert_eq(memcmp(&got, &x, sizeof x), 0, "round %u: the 13-byte value differs", k);
    cr_assert_eq(memcmp(&goty, &y, sizeof y), 0, "round %u: the 200-byte value differs", k);
    uint64_t vo, vb;
    cr_assert_eq(odd_cell_read_version(oc, &got, &vo), 0);
    cr_assert_eq(big_cell_read_version(bc, &goty, &vb), 0);
    cr_assert_eq(vo, *v_odd + 2, "round %u: one write is one version step", k);
    cr_assert_eq(vb, *v_big + 2, "round %u: one write is one version step", k);
    *v_odd = vo;
    *v_big = vb;
    cortex_region *rs[2] = {odd_cell_region(oc), big_cell_region(bc)};
    for (int i = 0; i < 2; i++) {
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(rs[i], &info), 0);
        cr_assert_eq(info.lock_state, 0, "round %u: the word is free after the write", k);
        cr_assert(info.consistent);
        cr_assert_eq(cortex__ld64(cell_seq_of(rs[i]), CX_RELAXED) >> 40, 0, "round %u: no holder left", k);
    }
}

Test(cell, typed_futex_write_and_read_inline_match_the_library_path)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    cortex_opts o = opts_with(&cortex_sync_futex);
    odd_cell oc;
    big_cell bc;
    cr_assert_eq(odd_cell_create(&oc, CORTEX_KEY_SYSV(nct_sysv_key()), (odd_size){{0}}, &o), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(big_cell_create(&bc, CORTEX_KEY_SYSV(nct_sysv_key()), (big200){{0}}, &o), 0, "%s",
                 cortex_last_error()->message);
    uint64_t v_odd = 0, v_big = 0;
    cr_assert_eq(odd_cell_read_version(&oc, &(odd_size){{0}}, &v_odd), 0);
    cr_assert_eq(big_cell_read_version(&bc, &(big200){{0}}, &v_big), 0);
    for (unsigned k = 1; k <= 100; k++)
        inline_round(&oc, &bc, k, &v_odd, &v_big);
    pid_t kid = fork();
    if (kid == 0) {
        for (unsigned k = 101; k <= 200; k++)
            inline_round(&oc, &bc, k, &v_odd, &v_big);
        _exit(0);
    }
    cr_assert_eq(nct_wait(kid, 10000), 0, "the forked child's rounds failed");
    big200 y;
    cr_assert_eq(big_cell_read(&bc, &y), 0);
    cr_assert_eq(y.w[3], (uint64_t)200 << 32 | 3, "the child's last write is what the parent reads");
    /* The inline write's release when the word changed under it: the library's, -EPERM when not ours. */
    cortex__a64 *seq = cell_seq_of(odd_cell_region(&oc));
    uint64_t s = cortex__ld64(seq, CX_RELAXED);
    cortex__st64(seq, s | (uint64_t)1 << 40 | 1, CX_RELAXED); /* held by pid 1, mid-write */
    cr_assert_eq(cortex_cell__release_(oc.cell), -EPERM);
    cr_assert(strstr(cortex_last_error()->message, "nothing was released"), "%s", cortex_last_error()->message);
    cr_assert_eq(cortex__ld64(seq, CX_RELAXED), s | (uint64_t)1 << 40 | 1, "untouched");
    cortex__st64(seq, s, CX_RELAXED);
    cr_assert_eq(cortex_cell__release_(NULL), -EINVAL);
    cr_assert_eq(odd_cell_close(&oc), 0);
    cr_assert_eq(big_cell_close(&bc), 0);
}

Test(cell, inspect_reports_and_survives_corruption)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        pose_cell c;
        cr_assert_eq(pose_cell_create(&c, CORTEX_KEY_SYSV(nct_sysv_key()), (pose){0}, &o), 0);
        cr_assert_eq(pose_cell_write(&c, (pose){1, 2, 3}), 0);
        cortex_region *r = pose_cell_region(&c);
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(r, &info), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(info.sequence, 2);
        cr_assert(info.consistent);
        cr_assert_eq(info.value_size, sizeof(pose));
        cr_assert_str_eq(info.lock_name, ops->name);
        cr_assert_str_eq(info.type_name, "pose");
        cr_assert_eq(info.lock_state, 0, "free");

        /* Scribble every byte of the cell header, one at a time: never a crash. */
        unsigned char *p = cortex_region_payload(r);
        unsigned char saved[48];
        memcpy(saved, p, sizeof saved);
        static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
        int bad = 0;
        for (size_t i = 0; i < 32; i++) {
            for (size_t v = 0; v < sizeof vals; v++) {
                p[i] = vals[v];
                int rc = cortex_cell_inspect(r, &info);
                cr_assert(rc == 0 || rc == -EBADMSG, "byte %zu = %u: %d", i, vals[v], rc);
                bad += rc != 0;
                memcpy(p, saved, sizeof saved);
            }
        }
        cr_assert_gt(bad, 0);
        /* Offsets that point far outside: -EBADMSG. */
        uint32_t huge = 0xfffffff8u;
        memcpy(p + 12, &huge, 4); /* sync_offset */
        cr_assert_eq(cortex_cell_inspect(r, &info), -EBADMSG);
        memcpy(p, saved, sizeof saved);
        memcpy(p + 20, &huge, 4); /* value_offset */
        cr_assert_eq(cortex_cell_inspect(r, &info), -EBADMSG);
        memcpy(p, saved, sizeof saved);
        cr_assert_eq(cortex_cell_inspect(r, &info), 0);
        cr_assert_eq(pose_cell_close(&c), 0);
    }
    /* Not a cell. */
    cortex_region *raw;
    const cortex_layout l = {.kind = CORTEX_KIND_RAW, .payload_size = 64};
    cr_assert_eq(cortex_region_create(&raw, CORTEX_KEY_HEAP, &l, NULL, NULL, NULL), 0);
    cortex_cell_info info;
    cr_assert_eq(cortex_cell_inspect(raw, &info), -EPROTO);
    cr_assert_eq(cortex_cell_inspect(NULL, &info), -EINVAL);
    cortex_region_close(raw);
}

struct hold_ctx {
    int tell, wait;
};
static void hold_lock(int *v, void *ctx)
{
    struct hold_ctx *h = ctx;
    char ch = 'h';
    if (write(h->tell, &ch, 1) != 1 || read(h->wait, &ch, 1) != 1)
        _exit(4);
    *v += 1;
}

/* A cell made by a build with another layout version (1: separate futex lock word) is refused, not misread. */
Test(cell, other_layout_version_is_refused)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
        int_cell c, b;
        cr_assert_eq(int_cell_create(&c, key, 3, &o), 0);
        uint32_t *version = (uint32_t *)((char *)cortex_region_payload(int_cell_region(&c)) + 4);
        uint32_t ours = *version;
        cr_assert_geq(ours, 2u, "the merged futex word bumped the cell layout");
        *version = 1;
        cr_assert_eq(int_cell_attach(&b, key, NULL), -EBADMSG, "%s", ops->name);
        cr_assert(strstr(cortex_last_error()->message, "version 1"), "%s", cortex_last_error()->message);
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(int_cell_region(&c), &info), -EBADMSG);
        *version = ours;
        cr_assert_eq(int_cell_attach(&b, key, NULL), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(int_cell_close(&b), 0);
        cr_assert_eq(int_cell_close(&c), 0);
    }
}

Test(cell, inspect_shows_the_holder)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
        int_cell c;
        cr_assert_eq(int_cell_create(&c, key, 1, &o), 0);
        int up[2], down[2];
        cr_assert_eq(pipe(up), 0);
        cr_assert_eq(pipe(down), 0);
        pid_t pid = fork();
        if (pid == 0) {
            int_cell b;
            if (int_cell_attach(&b, key, NULL) != 0)
                _exit(2);
            struct hold_ctx h = {up[1], down[0]};
            _exit(int_cell_update(&b, hold_lock, &h) == 0 ? 0 : 3);
        }
        char ch;
        cr_assert_eq(read(up[0], &ch, 1), 1);
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(int_cell_region(&c), &info), 0);
        cr_assert_eq(info.lock_state, 1, "%s: held", ops->name);
        cr_assert_eq(info.holder_pid, pid, "%s: holder %d, child %d", ops->name, info.holder_pid, (int)pid);
        cr_assert(info.holder_alive);
        /* An update that has not written yet does not stop readers (futex: the word is held but even). */
        uint64_t before = info.sequence;
        int now = 0;
        uint64_t version = 1;
        cr_assert_eq(int_cell_read_version(&c, &now, &version), 0, "%s: %s", ops->name, cortex_last_error()->message);
        cr_assert_eq(now, 1, "%s", ops->name);
        cr_assert_eq(version, before, "%s: version %llu while held, %llu before", ops->name,
                     (unsigned long long)version, (unsigned long long)before);
        cr_assert_eq(version & 1, 0);
        /* A timed write names the holder. */
        cr_assert_eq(int_cell_write_timed(&c, 5, 1000000), -ETIMEDOUT, "%s", ops->name);
        char pidtxt[32];
        snprintf(pidtxt, sizeof pidtxt, "held by pid %d", (int)pid);
        cr_assert(strstr(cortex_last_error()->message, pidtxt), "%s: %s", ops->name, cortex_last_error()->message);
        cr_assert_eq(write(down[1], "g", 1), 1);
        cr_assert_eq(nct_wait(pid, 5000), 0);
        cr_assert_eq(cortex_cell_inspect(int_cell_region(&c), &info), 0);
        cr_assert_eq(info.lock_state, 0);
        int v;
        cr_assert_eq(int_cell_read(&c, &v), 0);
        cr_assert_eq(v, 2);
        close(up[0]);
        close(up[1]);
        close(down[0]);
        close(down[1]);
        cr_assert_eq(int_cell_close(&c), 0);
    }
}

Test(cell, user_lock_robust_mutex)
{
    cortex_opts o = opts_with(&example_robust_mutex_lock);
    char name[64];
    nct_name(name, "ul");
    int_cell c, b;
    cr_assert_eq(int_cell_create(&c, CORTEX_KEY_NAME(name), 0, &o), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(int_cell_attach(&b, CORTEX_KEY_NAME(name), &o), 0, "%s", cortex_last_error()->message);
    cortex_cell_info info;
    cr_assert_eq(cortex_cell_inspect(int_cell_region(&c), &info), 0);
    cr_assert_str_eq(info.lock_name, "user");
    cr_assert_eq(info.lock_id, example_robust_mutex_lock.id);
    enum { N = 4, M = 2000 };
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            for (int j = 0; j < M; j++)
                if (int_cell_update(&b, count_runs, NULL) != 0)
                    _exit(2);
            _exit(0);
        }
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(nct_wait(kids[i], 20000), 0);
    int v;
    cr_assert_eq(int_cell_read(&c, &v), 0);
    cr_assert_eq(v, N * M);

    /* A holder that dies: the robust mutex reports EOWNERDEAD, the cell's odd sequence the torn value. */
    pid_t k = fork();
    if (k == 0) {
        cortex_cell *cc = b.cell;
        const cortex_sync_ops *lo = cortex_cell_lock_ops(cc);
        char *pl = cortex_region_payload(int_cell_region(&b));
        uint32_t sync_off;
        memcpy(&sync_off, pl + 12, 4);
        if (lo->lock(pl + sync_off, NULL, -1) != 0)
            _exit(2);
        cortex__st64(cell_seq_of(int_cell_region(&b)), cortex__ld64(cell_seq_of(int_cell_region(&b)), CX_RELAXED) + 1,
                     CX_RELAXED);
        _exit(0); /* dies holding it, mid-"write" */
    }
    cr_assert_eq(nct_wait(k, 5000), 0);
    cr_assert_eq(int_cell_read(&c, &v), -EOWNERDEAD, "%s", cortex_last_error()->message);
    cr_assert_eq(int_cell_consistent(&c), 0);
    cr_assert_eq(int_cell_read(&c, &v), 0);
    cr_assert_eq(v, N * M);
    cr_assert_eq(int_cell_close(&b), 0);
    cr_assert_eq(int_cell_close(&c), 0);
}

Test(cell, bad_arguments)
{
    cortex_cell *c;
    int v = 0;
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_HEAP, &v, 0, 4, "int", NULL), -EINVAL);
    cr_assert_null(c);
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_HEAP, &v, 4, 3, "int", NULL), -EINVAL);
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_HEAP, NULL, 4, 4, "int", NULL), -EINVAL);
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_HEAP, &v, 4, 4, "int", NULL), 0);
    long l;
    cr_assert_eq(cortex_cell_read(c, &l, sizeof l), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "8 bytes given, the cell holds 4"), "%s",
              cortex_last_error()->message);
    cr_assert_eq(cortex_cell_write(c, &l, sizeof l), -EINVAL);
    cr_assert_eq(cortex_cell_read(NULL, &v, 4), -EINVAL);
    cr_assert_eq(cortex_cell_close(c), 0);
    cr_assert_eq(cortex_cell_close(NULL), 0);
    cortex_sync_ops bad = cortex_sync_futex;
    bad.id = 7;
    cortex_opts o = opts_with(&bad);
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_HEAP, &v, 4, 4, "int", &o), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "reserved"), "%s", cortex_last_error()->message);
}

Test(cell, futex_lock_from_another_pid_namespace_is_refused)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    cortex_opts o = opts_with(&cortex_sync_futex);
    int key = nct_sysv_key();
    int_cell c, b;
    cr_assert_eq(int_cell_create(&c, CORTEX_KEY_SYSV(key), 1, &o), 0);
    char *p = cortex_region_payload(int_cell_region(&c));
    uint32_t sync_off, ns;
    memcpy(&sync_off, p + 12, 4);
    memcpy(&ns, p + sync_off + 4, 4);
    cr_assert_neq(ns, 0, "the creator recorded its pid namespace");
    cr_assert_eq(int_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), 0);
    cr_assert_eq(int_cell_close(&b), 0);
    uint32_t other = ns + 1;
    memcpy(p + sync_off + 4, &other, 4);
    cr_assert_eq(int_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), -EXDEV);
    cr_assert(strstr(cortex_last_error()->message, "pid namespace"), "%s", cortex_last_error()->message);
    cr_assert_eq(int_cell_close(&c), 0);
}

/* Attach validates the cell header against the mapping: scribbles give an error, never a crash. */
Test(cell, attach_refuses_corrupt_cell_headers)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int key = nct_sysv_key();
        pose_cell c, b;
        cr_assert_eq(pose_cell_create(&c, CORTEX_KEY_SYSV(key), (pose){1, 2, 3}, &o), 0);
        unsigned char *p = cortex_region_payload(pose_cell_region(&c));
        unsigned char saved[48];
        memcpy(saved, p, sizeof saved);
        static const uint32_t vals[] = {0, 1, 7, 64, 4096, 0x7fffffffu, 0xfffffff8u};
        for (size_t field = 0; field < 8; field++) {
            for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
                uint32_t old;
                memcpy(&old, p + field * 4, 4);
                if (old == vals[v])
                    continue;
                memcpy(p + field * 4, &vals[v], 4);
                int rc = pose_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL);
                cr_assert(rc == -EBADMSG || rc == -EPROTO, "%s: field %zu = 0x%x: attach gave %d", ops->name, field,
                          vals[v], rc);
                cr_assert_null(b.cell);
                memcpy(p, saved, sizeof saved);
            }
        }
        cr_assert_eq(pose_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), 0);
        cr_assert_eq(pose_cell_close(&b), 0);
        cr_assert_eq(pose_cell_close(&c), 0);
    }
}

/* Two handles in one process: after the second one own()s, only its close removes the cell and its lock. */
Test(cell, own_in_the_same_process_moves_the_semaphore_too)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int key = nct_sysv_key();
        int_cell a, b, x;
        cr_assert_eq(int_cell_create(&a, CORTEX_KEY_SYSV(key), 3, &o), 0);
        cr_assert_eq(int_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), 0);
        cr_assert_eq(int_cell_own(&b), 0);
        cr_assert_eq(int_cell_close(&a), 0);
        cr_assert_eq(int_cell_attach(&x, CORTEX_KEY_SYSV(key), NULL), 0, "%s: still there: %s", ops->name,
                     cortex_last_error()->message);
        cr_assert_eq(int_cell_write(&x, 4), 0, "%s: and its lock works", ops->name);
        cr_assert_eq(int_cell_close(&x), 0);
        cr_assert_eq(int_cell_close(&b), 0);
        cr_assert_eq(int_cell_attach(&x, CORTEX_KEY_SYSV(key), NULL), -ENOENT);
        cr_assert_lt(semget(key, 0, 0), 0, "the semaphore went with the new owner's close");
    }
}

/* Open-or-create without naming a lock attaches an existing cell whatever its backend. */
Test(cell, open_or_create_keeps_the_existing_backend)
{
    FOR_EACH_BACKEND(ops) {
        int key = nct_sysv_key();
        cortex_opts o = opts_with(ops);
        int_cell a, b;
        cr_assert_eq(int_cell_create(&a, CORTEX_KEY_SYSV(key), 9, &o), 0);
        cortex_opts oc = CORTEX_OPTS_INIT;
        oc.mode = CORTEX_OPEN_OR_CREATE;
        cr_assert_eq(int_cell_create(&b, CORTEX_KEY_SYSV(key), 1, &oc), 0, "%s: %s", ops->name,
                     cortex_last_error()->message);
        cr_assert_eq(cortex_cell_lock_ops(b.cell), ops);
        int v;
        cr_assert_eq(int_cell_read(&b, &v), 0);
        cr_assert_eq(v, 9, "init not written over an existing cell");
        cr_assert_eq(int_cell_close(&b), 0);
        cr_assert_eq(int_cell_close(&a), 0);
        /* And when nothing is there it creates (and owns) one with the default backend. */
        cr_assert_eq(int_cell_create(&b, CORTEX_KEY_SYSV(key), 1, &oc), 0);
        cr_assert(cortex_region_is_owner(int_cell_region(&b)));
        cr_assert_eq(cortex_cell_lock_ops(b.cell), cortex_sync_default());
        cr_assert_eq(int_cell_close(&b), 0);
    }
}

/* A payload moved off its alignment (header re-checksummed): the lock and sequence words would be misaligned. */
Test(cell, misaligned_payload_is_ebadmsg)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int key = nct_sysv_key();
        int_cell c, b;
        cr_assert_eq(int_cell_create(&c, CORTEX_KEY_SYSV(key), 7, &o), 0);
        cortex_region *r = int_cell_region(&c);
        cortex_seg_header *h = (cortex_seg_header *)(uintptr_t)cortex_region_header(r);
        unsigned char *base = (unsigned char *)h;
        cr_assert_eq(h->payload_offset, CORTEX_HEADER_SIZE);
        cr_assert_leq(h->payload_offset + 1 + h->payload_size, h->segment_size);
        memmove(base + h->payload_offset + 1, base + h->payload_offset, (size_t)h->payload_size);
        h->payload_offset += 1;
        h->payload_align = 1;
        h->check = cortex__fnv1a32(h, offsetof(cortex_seg_header, check));
        cr_assert_eq(int_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), -EBADMSG, "%s", ops->name);
        cr_assert(strstr(cortex_last_error()->message, "not aligned"), "%s", cortex_last_error()->message);
        cr_assert_null(b.cell);
        cr_assert_eq(int_cell_close(&c), 0);
    }
}

/* The private semaphore id kept in a segment is forged to name another cell's set. */
Test(cell, forged_semaphore_id_is_refused_and_the_other_set_untouched)
{
    if (!CORTEX_HAVE_SEMAPHORE)
        cr_skip_test("semaphore backend not built");
    cortex_opts o = opts_with(&cortex_sync_semaphore);
    char name_a[64], name_b[64];
    int_cell a, b, x;
    cr_assert_eq(int_cell_create(&a, CORTEX_KEY_NAME(nct_name(name_a, "sema")), 1, &o), 0);
    cr_assert_eq(int_cell_create(&b, CORTEX_KEY_NAME(nct_name(name_b, "semb")), 2, &o), 0);
    char *pa = cortex_region_payload(int_cell_region(&a));
    char *pb = cortex_region_payload(int_cell_region(&b));
    uint32_t off_a, off_b;
    int32_t id_a, id_b;
    memcpy(&off_a, pa + 12, 4);
    memcpy(&off_b, pb + 12, 4);
    memcpy(&id_a, pa + off_a + 4, 4);
    memcpy(&id_b, pb + off_b + 4, 4);
    cr_assert_neq(id_a, id_b);
    memcpy(pa + off_a + 4, &id_b, 4);

    /* Another process attaches the forged cell: refused, and it neither locks nor removes b's set. */
    pid_t pid = fork();
    if (pid == 0) {
        int_cell v;
        int rc = int_cell_attach(&v, CORTEX_KEY_NAME(name_a), NULL);
        if (rc != -EBADMSG)
            _exit(1);
        if (!strstr(cortex_last_error()->message, "another segment"))
            _exit(2);
        _exit(0);
    }
    int status = nct_wait(pid, 10000);
    int b_free = semctl(id_b, 0, GETVAL);
    int b_write = int_cell_write(&b, 3);
    int b_attach = int_cell_attach(&x, CORTEX_KEY_NAME(name_b), NULL);
    if (b_attach == 0)
        b_attach = int_cell_close(&x);
    /* Put it back: the genuine id attaches. */
    memcpy(pa + off_a + 4, &id_a, 4);
    int a_attach = int_cell_attach(&x, CORTEX_KEY_NAME(name_a), NULL);
    if (a_attach == 0)
        a_attach = int_cell_close(&x);
    /* Close both before asserting: their private sets are not known to the fini. */
    int a_close = int_cell_close(&a);
    int a_gone = semctl(id_a, 0, GETVAL) < 0;
    int b_still = semctl(id_b, 0, GETVAL);
    int b_close = int_cell_close(&b);
    cr_assert_eq(status, 0, "the attacher refused the forged id");
    cr_assert_eq(b_free, 1, "b's lock is free");
    cr_assert_eq(b_write, 0);
    cr_assert_eq(b_attach, 0, "b still works");
    cr_assert_eq(a_attach, 0, "the genuine id attaches");
    cr_assert_eq(a_close, 0);
    cr_assert(a_gone, "a's owner removed its own set");
    cr_assert_eq(b_still, 1, "and only its own");
    cr_assert_eq(b_close, 0);
}
