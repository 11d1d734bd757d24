/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_one_writer.c: the one-writer backend in one process
 * and its direct children (suite unit): the role is claimed at the first
 * write, a second writer gets -EBUSY naming the holder, close and leak give
 * the role back, update and consistent() work for the holder, a dead
 * writer's half-done write is reported, corrupt role records are refused,
 * and the other backends still let any handle write.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"

TestSuite(cell_one_writer, .fini = nct_cleanup, .timeout = 60);

typedef struct pair {
    uint64_t a, b;
} pair;
CORTEX_DECLARE(pair_cell, pair);

static const cortex_sync_ops *OW = &cortex_sync_one_writer;

static void make(pair_cell *c, cortex_key *key)
{
    *key = CORTEX_KEY_SYSV(nct_sysv_key());
    cortex_opts o = opts_with(OW);
    cr_assert_eq(pair_cell_create(c, *key, (pair){0, 0}, &o), 0, "%s", cortex_last_error()->message);
}

static void attach(pair_cell *c, cortex_key key)
{
    cr_assert_eq(pair_cell_attach(c, key, NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_cell_lock_ops(c->cell), OW, "attach takes the backend from the header");
}

static cortex_cell_info info_of(pair_cell *c)
{
    cortex_cell_info info;
    cr_assert_eq(cortex_cell_inspect(pair_cell_region(c), &info), 0, "%s", cortex_last_error()->message);
    return info;
}

/* The role record in a mapping: the cell header's sync_offset (at byte 12) from the payload. */
static cortex__a64 *role_of(cortex_region *r)
{
    unsigned char *p = cortex_region_payload(r);
    uint32_t off;
    memcpy(&off, p + 12, 4);
    return (cortex__a64 *)(void *)(p + off);
}

static bool message_has(const char *s) { return strstr(cortex_last_error()->message, s) != NULL; }

static void add_one(pair *v, void *ctx)
{
    (void)ctx;
    v->a++;
    v->b++;
}

Test(cell_one_writer, builtin_and_available)
{
    cr_assert_eq(cortex_sync_builtin(CORTEX_SYNC_ID_ONE_WRITER), OW);
    cr_assert(cortex_sync_available(OW));
    cr_assert_eq(cortex_sync_validate(OW), 0);
    cr_assert_str_eq(OW->name, "one-writer");
}

Test(cell_one_writer, role_claimed_at_first_write)
{
    pair_cell c;
    cortex_key key;
    make(&c, &key);
    cortex_cell_info info = info_of(&c);
    cr_assert_str_eq(info.lock_name, "one-writer");
    cr_assert_eq(info.lock_state, 0, "create does not claim the role");
    pair v;
    uint64_t ver0, ver1;
    cr_assert_eq(pair_cell_read_version(&c, &v, &ver0), 0);
    cr_assert_eq(pair_cell_write(&c, (pair){7, 7}), 0, "%s", cortex_last_error()->message);
    info = info_of(&c);
    cr_assert_eq(info.lock_state, 1, "the first write claims the role");
    cr_assert_eq(info.holder_pid, getpid());
    cr_assert_eq(pair_cell_write(&c, (pair){8, 8}), 0);
    cr_assert_eq(pair_cell_read_version(&c, &v, &ver1), 0);
    cr_assert(v.a == 8 && v.b == 8);
    cr_assert_eq(ver1, ver0 + 4, "two writes, two versions (%llu -> %llu)", (unsigned long long)ver0,
                 (unsigned long long)ver1);
    cr_assert_eq(pair_cell_close(&c), 0);
}

Test(cell_one_writer, second_writer_busy_names_holder)
{
    pair_cell c, other;
    cortex_key key;
    make(&c, &key);
    attach(&other, key);
    cr_assert_eq(pair_cell_write(&c, (pair){1, 1}), 0);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    /* Another handle of this process. */
    cr_assert_eq(pair_cell_write(&other, (pair){2, 2}), -EBUSY);
    cr_assert(message_has(pid) && message_has("another handle"), "%s", cortex_last_error()->message);
    cr_assert_eq(pair_cell_update(&other, add_one, NULL), -EBUSY);
    cr_assert_eq(pair_cell_consistent(&other), -EBUSY);
    cr_assert_eq(pair_cell_write_timed(&other, (pair){2, 2}, 1000000), -EBUSY, "no wait for a role");
    /* Another process: its write is refused, naming this pid. */
    pid_t child = fork();
    if (child == 0) {
        pair_cell x;
        if (pair_cell_attach(&x, key, NULL) != 0)
            _exit(2);
        int rc = pair_cell_write(&x, (pair){3, 3});
        if (rc != -EBUSY)
            _exit(3);
        if (!message_has(pid) || !message_has("live"))
            _exit(4);
        pair v;
        if (pair_cell_read(&x, &v) != 0 || v.a != 1)
            _exit(5);
        pair_cell_close(&x);
        _exit(0);
    }
    cr_assert_eq(nct_wait(child, 10000), 0);
    pair v;
    cr_assert_eq(pair_cell_read(&other, &v), 0);
    cr_assert(v.a == 1 && v.b == 1, "refused writes changed nothing");
    cr_assert_eq(pair_cell_close(&other), 0);
    cr_assert_eq(pair_cell_close(&c), 0);
}

Test(cell_one_writer, close_and_leak_release_the_role)
{
    pair_cell owner, a, b;
    cortex_key key;
    make(&owner, &key);
    attach(&a, key);
    attach(&b, key);
    cr_assert_eq(pair_cell_write(&a, (pair){1, 1}), 0);
    cr_assert_eq(pair_cell_write(&b, (pair){2, 2}), -EBUSY);
    cr_assert_eq(pair_cell_close(&a), 0);
    cr_assert_eq(info_of(&owner).lock_state, 0, "close gave the role back");
    cr_assert_eq(pair_cell_write(&b, (pair){2, 2}), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(pair_cell_write(&owner, (pair){3, 3}), -EBUSY);
    cr_assert_eq(pair_cell_leak(&b), 0);
    cr_assert_eq(pair_cell_write(&owner, (pair){3, 3}), 0, "leak gave the role back: %s",
                 cortex_last_error()->message);
    pair v;
    cr_assert_eq(pair_cell_read(&owner, &v), 0);
    cr_assert(v.a == 3 && v.b == 3);
    cr_assert_eq(pair_cell_close(&owner), 0);
}

Test(cell_one_writer, update_and_consistent_for_the_holder)
{
    pair_cell c, other;
    cortex_key key;
    make(&c, &key);
    attach(&other, key);
    cr_assert_eq(pair_cell_update(&c, add_one, NULL), 0, "update claims the role too: %s",
                 cortex_last_error()->message);
    cr_assert_eq(pair_cell_update(&c, add_one, NULL), 0);
    cr_assert_eq(pair_cell_write(&other, (pair){9, 9}), -EBUSY);
    cr_assert_eq(pair_cell_consistent(&c), 0);
    pair v;
    cr_assert_eq(pair_cell_read(&other, &v), 0);
    cr_assert(v.a == 2 && v.b == 2, "{%llu, %llu}", (unsigned long long)v.a, (unsigned long long)v.b);
    cr_assert_eq(pair_cell_write(&c, (pair){5, 5}), 0);
    cr_assert_eq(pair_cell_update(&c, add_one, NULL), 0);
    cr_assert_eq(pair_cell_read(&other, &v), 0);
    cr_assert(v.a == 6 && v.b == 6);
    cr_assert_eq(pair_cell_close(&other), 0);
    cr_assert_eq(pair_cell_close(&c), 0);
}

/* A reaped child's pid: certainly dead (no process has it now, barring reuse within the test). */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    cr_assert_eq(nct_wait(p, 5000), 0);
    return p;
}

Test(cell_one_writer, dead_writer_mid_write_is_reported_and_taken_over)
{
    pair_cell c, reader;
    cortex_key key;
    make(&c, &key);
    attach(&reader, key);
    cr_assert_eq(pair_cell_leak(&c), 0); /* the creator goes; reader stays, the segment remains */
    cr_assert_eq(pair_cell_own(&reader), 0);
    cortex_region *r = pair_cell_region(&reader);
    /* A dead process held the role and stopped between "counter odd" and "counter even". */
    cortex__st64(role_of(r), (uint64_t)(uint32_t)dead_pid(), CX_RELEASE);
    cortex__a64 *seq = cell_seq_of(r);
    cortex__st64(seq, cortex__ld64(seq, CX_RELAXED) + 1, CX_RELEASE);
    pair v;
    int64_t t0 = cortex__now_ns();
    int64_t d0 = nct_run_delay_ns();
    cr_assert_eq(pair_cell_read(&reader, &v), -EOWNERDEAD, "%s", cortex_last_error()->message);
    int64_t d1 = nct_run_delay_ns();
    int64_t took = cortex__now_ns() - t0;
    int64_t kept_off = nct_run_delay_between(d0, d1); /* a loaded host's stalls are not the reader's wait */
    cr_assert_lt(took - kept_off, CORTEX_SYNC_DEAD_OWNER_BOUND_NS, "reported within the bound: %lld ns (+%lld off the CPU)",
                 (long long)(took - kept_off), (long long)kept_off);
    cr_assert(message_has("died while writing"), "%s", cortex_last_error()->message);
    cr_assert_eq(pair_cell_update(&reader, add_one, NULL), -EOWNERDEAD, "the takeover reports the torn value");
    cr_assert_eq(info_of(&reader).holder_pid, getpid(), "the role was taken over");
    cr_assert_eq(pair_cell_read(&reader, &v), -EOWNERDEAD, "inconsistent until repaired");
    cr_assert_eq(pair_cell_consistent(&reader), 0);
    cr_assert_eq(pair_cell_read(&reader, &v), 0);
    cr_assert_eq(pair_cell_write(&reader, (pair){4, 4}), 0);
    cr_assert_eq(pair_cell_read(&reader, &v), 0);
    cr_assert(v.a == 4 && v.b == 4);
    cr_assert_eq(pair_cell_close(&reader), 0);
}

Test(cell_one_writer, dead_writer_between_writes_is_taken_over_quietly)
{
    pair_cell c, other;
    cortex_key key;
    make(&c, &key);
    attach(&other, key);
    cortex__st64(role_of(pair_cell_region(&c)), (uint64_t)(uint32_t)dead_pid(), CX_RELEASE);
    cr_assert_eq(pair_cell_write(&other, (pair){5, 5}), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(info_of(&c).holder_pid, getpid());
    cr_assert_eq(pair_cell_update(&other, add_one, NULL), 0);
    pair v;
    cr_assert_eq(pair_cell_read(&c, &v), 0);
    cr_assert(v.a == 6 && v.b == 6);
    cr_assert_eq(pair_cell_close(&other), 0);
    cr_assert_eq(pair_cell_close(&c), 0);
}

Test(cell_one_writer, corrupt_role_record_is_refused)
{
    pair_cell c, other;
    cortex_key key;
    make(&c, &key);
    attach(&other, key);
    cortex_region *r = pair_cell_region(&c);
    cortex__st64(role_of(r), UINT64_C(0x00000001ffffffff), CX_RELEASE);
    cr_assert_eq(pair_cell_write(&other, (pair){1, 1}), -EBADMSG);
    cr_assert(message_has("corrupt"), "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_cell_inspect(r, &(cortex_cell_info){0}), 0, "inspect still works");
    /* A write that never ends, with a corrupt holder: the reader says so, no hang. */
    cortex__a64 *seq = cell_seq_of(r);
    cortex__st64(seq, cortex__ld64(seq, CX_RELAXED) + 1, CX_RELEASE);
    pair v;
    cr_assert_eq(pair_cell_read(&other, &v), -EBADMSG, "%s", cortex_last_error()->message);
    cortex__st64(role_of(r), 0, CX_RELEASE);
    cr_assert_eq(pair_cell_read(&other, &v), -EOWNERDEAD, "a write in progress nobody holds: %s",
                 cortex_last_error()->message);
    cr_assert_eq(pair_cell_consistent(&other), 0);
    cr_assert_eq(pair_cell_read(&c, &v), 0);
    /* A bad magic: attach refuses. */
    uint32_t *magic = (uint32_t *)(void *)((unsigned char *)role_of(r) + 16);
    *magic ^= 1u;
    pair_cell third;
    cr_assert_eq(pair_cell_attach(&third, key, NULL), -EBADMSG);
    cr_assert(message_has("role record"), "%s", cortex_last_error()->message);
    *magic ^= 1u;
    cr_assert_eq(pair_cell_close(&other), 0);
    cr_assert_eq(pair_cell_close(&c), 0);
}

Test(cell_one_writer, other_backends_let_any_handle_write)
{
    FOR_EACH_BACKEND(ops)
    {
        cortex_opts o = opts_with(ops);
        cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
        pair_cell c, other;
        cr_assert_eq(pair_cell_create(&c, key, (pair){0, 0}, &o), 0);
        cr_assert_eq(pair_cell_attach(&other, key, NULL), 0);
        cr_assert_eq(pair_cell_write(&c, (pair){1, 1}), 0, "%s", ops->name);
        cr_assert_eq(pair_cell_write(&other, (pair){2, 2}), 0, "%s", ops->name);
        cr_assert_eq(pair_cell_update(&c, add_one, NULL), 0, "%s", ops->name);
        pair v;
        cr_assert_eq(pair_cell_read(&other, &v), 0);
        cr_assert(v.a == 3 && v.b == 3, "%s", ops->name);
        cr_assert_eq(pair_cell_close(&other), 0);
        cr_assert_eq(pair_cell_close(&c), 0);
    }
}

Test(cell_one_writer, wait_is_woken_by_the_holders_writes)
{
    pair_cell c;
    cortex_key key;
    make(&c, &key);
    pair v;
    uint64_t seen;
    cr_assert_eq(pair_cell_read_version(&c, &v, &seen), 0);
    pid_t child = fork();
    if (child == 0) {
        pair_cell w;
        if (pair_cell_attach(&w, key, NULL) != 0)
            _exit(2);
        for (uint64_t k = 1; k <= 50; k++) {
            cortex__sleep_ns(200000);
            if (pair_cell_write(&w, (pair){k, k}) != 0)
                _exit(3);
        }
        pair_cell_close(&w);
        _exit(0);
    }
    /* Sleeps in the cell's wait (no timeout spin): each write's wake check must end the sleep. */
    uint64_t last = seen + 100;
    while (seen < last) {
        int rc = pair_cell_wait(&c, &seen, 5000000000LL);
        cr_assert_eq(rc, 0, "a write was not woken within 5 s: %s", cortex_last_error()->message);
    }
    cr_assert_eq(pair_cell_read(&c, &v), 0);
    cr_assert(v.a == 50 && v.b == 50);
    cr_assert_eq(nct_wait(child, 10000), 0);
    cr_assert_eq(pair_cell_close(&c), 0);
}

/* A waitset reports a one-writer cell gone only when its dead writer left a write open. */
Test(cell_one_writer, waitset_reports_a_dead_writer_only_mid_write)
{
    pair_cell c;
    cortex_key key;
    make(&c, &key);
    cortex_region *r = pair_cell_region(&c);
    pair v;
    uint64_t seen;
    cr_assert_eq(pair_cell_read_version(&c, &v, &seen), 0);
    cortex__st64(role_of(r), (uint64_t)(uint32_t)dead_pid(), CX_RELEASE);
    cortex_waitset *ws;
    cortex_waitset_event ev[1];
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    cr_assert_eq(cortex_waitset_add_cell(ws, c.cell, seen, 7), 0);
    cr_assert_eq(cortex_waitset_wait(ws, ev, 1, 300000000), -ETIMEDOUT,
                 "a writer that died between writes left nothing to report");
    cortex__a64 *seq = cell_seq_of(r);
    cortex__st64(seq, cortex__ld64(seq, CX_RELAXED) + 1, CX_RELEASE);
    int n = cortex_waitset_wait(ws, ev, 1, 5000000000LL);
    cr_assert_eq(n, 1, "%d: %s", n, cortex_last_error()->message);
    cr_assert_eq(ev[0].tag, 7);
    cr_assert_eq(ev[0].flags, CORTEX_WAITSET_GONE);
    cr_assert_eq(ev[0].reason, -EOWNERDEAD);
    cortex_waitset_destroy(ws);
    cr_assert_eq(pair_cell_write(&c, (pair){1, 1}), 0, "the next write takes the role over and repairs");
    cr_assert_eq(pair_cell_read(&c, &v), 0);
    cr_assert_eq(pair_cell_close(&c), 0);
}

/* ---- the typed write's inline path (neocortex/cell.h) --------------------- */

typedef struct odd13 {
    unsigned char b[13]; /* a last word of 5 bytes: the zero-padded tail */
} odd13;
typedef struct big200 {
    uint64_t w[25];
} big200;
CORTEX_DECLARE(odd_cell, odd13);
CORTEX_DECLARE(big_cell, big200);

Test(cell_one_writer, typed_inline_writes_match_the_library_path_at_every_size)
{
#if !defined(CORTEX_CELL_NO_INLINE) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
    cortex_opts o = opts_with(OW);
    odd_cell oc;
    big_cell bc;
    cr_assert_eq(odd_cell_create(&oc, CORTEX_KEY_SYSV(nct_sysv_key()), (odd13){{0}}, &o), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(big_cell_create(&bc, CORTEX_KEY_SYSV(nct_sysv_key()), (big200){{0}}, &o), 0, "%s",
                 cortex_last_error()->message);
    uint64_t v_odd = 0, v_big = 0;
    for (unsigned k = 1; k <= 200; k++) {
        odd13 x, got;
        big200 y, goty;
        for (unsigned i = 0; i < sizeof x.b; i++)
            x.b[i] = (unsigned char)(k * 7 + i);
        for (unsigned i = 0; i < 25; i++)
            y.w[i] = (uint64_t)k << 32 | i;
        /* odd k: the typed (inline) write; even k: the library's cortex_cell_write() */
        int rc1 = k & 1 ? odd_cell_write(&oc, x) : cortex_cell_write(oc.cell, &x, sizeof x);
        int rc2 = k & 1 ? big_cell_write(&bc, y) : cortex_cell_write(bc.cell, &y, sizeof y);
        cr_assert_eq(rc1, 0, "round %u: %s", k, cortex_last_error()->message);
        cr_assert_eq(rc2, 0, "round %u: %s", k, cortex_last_error()->message);
        uint64_t vo, vb;
        cr_assert_eq(odd_cell_read_version(&oc, &got, &vo), 0);
        cr_assert_eq(big_cell_read_version(&bc, &goty, &vb), 0);
        cr_assert_eq(memcmp(&got, &x, sizeof x), 0, "round %u: the 13-byte value differs", k);
        cr_assert_eq(memcmp(&goty, &y, sizeof y), 0, "round %u: the 200-byte value differs", k);
        cr_assert_gt(vo, v_odd, "round %u: the version did not advance", k);
        cr_assert_gt(vb, v_big, "round %u: the version did not advance", k);
        v_odd = vo;
        v_big = vb;
    }
    cr_assert_eq(odd_cell_close(&oc), 0);
    cr_assert_eq(big_cell_close(&bc), 0);
#else
    cr_skip_test("built without the inline write");
#endif
}
