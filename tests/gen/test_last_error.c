/* SPDX-License-Identifier: MIT */
/*
 * The last-error rule: every public function that returns a negative value
 * (and every lookup that returns NULL for a bad argument) sets
 * cortex_last_error() first, with the code it returned and a message about
 * that failure.  Each case below first leaves an unrelated failure in the
 * record (the ring's fixed "ring full" one, or a formatted one when -EAGAIN
 * itself is checked), then makes the call fail and checks the code and
 * that the message names the failure.
 *
 * check_coverage.py fails the build suite if a public function that returns
 * int, ssize_t or a pointer is neither walked here (FAILS/NULLS) nor listed
 * in NEVER_FAILS below with the reason.
 *
 * NEVER_FAILS (no negative errno to walk):
 *   cortex_doorbell_fd, cortex_doorbell_release: the fd or -1 (no errno);
 *   cortex_region_fd: the fd or -1;
 *   cortex_fdspec_format's success is a length (its failures are walked);
 *   cortex_ring_region, cortex_slab_region, cortex_pool_region,
 *   cortex_cell_region, cortex_region_payload, cortex_region_header,
 *   cortex_cell_lock_ops, cortex_pool_class_slab, cortex_sync_default,
 *   cortex_sync_builtin, cortex_channel_region, cortex_channel_class_slab:
 *   accessors, NULL only for a NULL or absent object;
 *   cortex_ring_new: NULL only when out of memory (-ENOMEM is set);
 *   cortex_region_close, cortex_cell_close, cortex_ring_close,
 *   cortex_ring_free, cortex_slab_close, cortex_pool_close,
 *   cortex_channel_close: accept NULL and
 *   closed handles; negative only when the kernel refuses to remove the
 *   object, which the region layer reports (dirty; tests/region);
 *   cortex_broadcast_region (accessor), cortex_broadcast_close (accepts NULL
 *   and closed handles; negative only from the region layer, as above);
 *   cortex_waitset_mechanism: a constant name, never fails;
 *   cortex_last_error, cortex_strerror, cortex_errname, cortex_key_describe,
 *   cortex_fd_kind_name, cortex_kind_name, cortex_abi_describe: never fail.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(last_error, .fini = nct_cleanup, .timeout = 60);

/* A raw ring that is always full: pushing to it leaves the fixed "ring full" record. */
static _Alignas(64) unsigned char full_mem[1024];
static cortex_ring full_ring;

static void setup_full_ring(void)
{
    uint32_t v = 1;
    cr_assert_eq(cortex_ring_init(&full_ring, full_mem, sizeof full_mem, 1, sizeof v, _Alignof(uint32_t)), 0);
    cr_assert_eq(cortex_ring_push_lib(&full_ring, &v), 0);
}

/* Leaves an unrelated failure in the record: not the one about to be checked. */
static void leave_other_failure(int want)
{
    uint32_t v = 2;
    if (want != -EAGAIN) {
        cr_assert_eq(cortex_ring_push_lib(&full_ring, &v), -EAGAIN);
        cr_assert_eq(cortex_last_error()->code, -EAGAIN);
    } else {
        cortex_region *r = NULL;
        cortex_layout raw = {.kind = CORTEX_KIND_RAW};
        cr_assert_eq(cortex_region_attach(&r, CORTEX_KEY_NAME("/nct-le-never-there"), &raw, NULL), -ENOENT);
    }
}

static void check(const char *call, long rc, int want, const char *about, int line)
{
    const cortex_error *e = cortex_last_error();
    /* cr_expect: one run lists every call that breaks the rule. */
    cr_expect_eq(rc, want, "line %d: %s returned %ld, expected %d (%s)", line, call, rc, want, e->message);
    cr_expect_eq(e->code, want, "line %d: %s: last error code %d (%s), expected %d", line, call, e->code,
                 e->message, want);
    cr_expect(strstr(e->message, about), "line %d: %s: message \"%s\" does not mention \"%s\"", line, call,
              e->message, about);
}

/* The call returns @want and the last error says @about. */
#define FAILS(want, about, call)                                                                                 \
    do {                                                                                                         \
        leave_other_failure(want);                                                                               \
        long rc_ = (long)(call);                                                                                 \
        check(#call, rc_, want, about, __LINE__);                                                                \
    } while (0)

/* The call returns NULL and the last error is @want, saying @about. */
#define NULLS(want, about, call)                                                                                 \
    do {                                                                                                         \
        leave_other_failure(want);                                                                               \
        const void *p_ = (call);                                                                                 \
        check(#call, p_ ? 0 : (long)(want), want, about, __LINE__);                                             \
    } while (0)

Test(last_error, errors_and_regions, .init = setup_full_ring)
{
    char name[64];
    nct_name(name, "le-region");
    cortex_region *r = NULL;
    cortex_layout raw = {.kind = CORTEX_KIND_RAW, .payload_size = 64};
    cortex_layout none = {.kind = CORTEX_KIND_RAW, .payload_size = 0};
    FAILS(-EINVAL, "payload", cortex_region_create(&r, CORTEX_KEY_NAME(name), &none, NULL, NULL, NULL));
    FAILS(-ENOENT, name, cortex_region_attach(&r, CORTEX_KEY_NAME(name), &raw, NULL));
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_NAME(name), &raw, NULL, NULL, NULL), 0);
    cortex_region *r2 = NULL;
    FAILS(-EEXIST, name, cortex_region_create(&r2, CORTEX_KEY_NAME(name), &raw, NULL, NULL, NULL));
    cortex_layout cell_kind = {.kind = CORTEX_KIND_CELL};
    FAILS(-EPROTO, "cell", cortex_region_attach(&r2, CORTEX_KEY_NAME(name), &cell_kind, NULL));
    cortex_seg_header junk;
    memset(&junk, 0x5a, sizeof junk);
    FAILS(-EBADMSG, "magic", cortex_header_validate(&junk, sizeof junk, &raw, "junk"));
    FAILS(-EINVAL, "cortex_region_leak", cortex_region_leak(NULL));
    FAILS(-EINVAL, "cortex_region_own", cortex_region_own(NULL));
    FAILS(-EINVAL, "cortex_cell_inspect", cortex_cell_inspect(NULL, NULL));
    FAILS(-EPROTO, "ring", cortex_ring_inspect(r, &(cortex_ring_info){0}));
    FAILS(-EPROTO, "slab", cortex_slab_inspect(r, &(cortex_slab_info){0}));
    cr_assert_eq(cortex_region_close(r), 0);
}

static void add_one(void *value, void *ctx)
{
    (void)ctx;
    ++*(uint64_t *)value;
}

/* An update_if callback that cancels with a negative value: it is returned and recorded. */
static int refuse_negative(void *value, void *ctx)
{
    (void)value;
    (void)ctx;
    return -EBADE;
}

Test(last_error, cells, .init = setup_full_ring)
{
    char name[64];
    nct_name(name, "le-cell");
    cortex_cell *c = NULL, *c2 = NULL;
    uint64_t v = 1, scratch;
    FAILS(-EINVAL, "cortex_cell_create: ret is NULL",
          cortex_cell_create(NULL, CORTEX_KEY_NAME(name), &v, sizeof v, 8, "u64", NULL));
    FAILS(-EINVAL, "value size", cortex_cell_create(&c, CORTEX_KEY_NAME(name), &v, 0, 8, "u64", NULL));
    FAILS(-EINVAL, "no initial value", cortex_cell_create(&c, CORTEX_KEY_NAME(name), NULL, sizeof v, 8, "u64", NULL));
    FAILS(-ENOENT, name, cortex_cell_attach(&c2, CORTEX_KEY_NAME(name), sizeof v, 8, "u64", NULL));
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_NAME(name), &v, sizeof v, 8, "u64", NULL), 0);
    FAILS(-EEXIST, name, cortex_cell_create(&c2, CORTEX_KEY_NAME(name), &v, sizeof v, 8, "u64", NULL));
    FAILS(-EPROTO, "u32", cortex_cell_attach(&c2, CORTEX_KEY_NAME(name), 4, 4, "u32", NULL));
    FAILS(-EINVAL, "4 bytes given", cortex_cell_read(c, &v, 4));
    FAILS(-EINVAL, "NULL cell", cortex_cell_write(NULL, &v, sizeof v));
    FAILS(-EINVAL, "no function given", cortex_cell_update(c, NULL, NULL, &scratch, sizeof v));
    FAILS(-EINVAL, "2 bytes given", cortex_cell_update(c, add_one, NULL, &scratch, 2));
    FAILS(-EINVAL, "cortex_cell_consistent", cortex_cell_consistent(NULL));
    FAILS(-EINVAL, "cortex_cell_leak", cortex_cell_leak(NULL));
    FAILS(-EINVAL, "cortex_cell_own", cortex_cell_own(NULL));
    uint64_t seen = 0;
    FAILS(-EINVAL, "4 bytes given", cortex_cell_read_version(c, &v, 4, &seen));
    cr_assert_eq(cortex_cell_read_version(c, &v, sizeof v, &seen), 0);
    FAILS(-ETIMEDOUT, "no new value", cortex_cell_wait(c, &seen, 1000000));
    FAILS(-EINVAL, "NULL cell", cortex_cell_wait(NULL, &seen, 0));
    FAILS(-EINVAL, "NULL cell", cortex_cell_write_timed(NULL, &v, sizeof v, 0));
    FAILS(-EINVAL, "2 bytes given", cortex_cell_update_timed(c, add_one, NULL, &scratch, 2, 0));
    FAILS(-EINVAL, "no function given", cortex_cell_update_if(c, NULL, NULL, &scratch, sizeof v, 0));
    FAILS(-EBADE, "update function returned", cortex_cell_update_if(c, refuse_negative, NULL, &scratch, sizeof v, 0));
    cr_assert_eq(cortex_cell_close(c), 0);
}

/* The one-writer backend: a second writer is refused naming the role's holder. */
Test(last_error, one_writer_cells, .init = setup_full_ring)
{
    char name[64];
    nct_name(name, "le-ow");
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &cortex_sync_one_writer;
    cortex_cell *c = NULL, *c2 = NULL;
    uint64_t v = 1, scratch;
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_NAME(name), &v, sizeof v, 8, "u64", &o), 0);
    cr_assert_eq(cortex_cell_attach(&c2, CORTEX_KEY_NAME(name), sizeof v, 8, "u64", NULL), 0);
    cr_assert_eq(cortex_cell_write(c, &v, sizeof v), 0);
    FAILS(-EBUSY, "one-writer role", cortex_cell_write(c2, &v, sizeof v));
    FAILS(-EBUSY, "one-writer role", cortex_cell_write_timed(c2, &v, sizeof v, 1000));
    FAILS(-EBUSY, "one-writer role", cortex_cell_update(c2, add_one, NULL, &scratch, sizeof v));
    FAILS(-EBUSY, "one-writer role", cortex_cell_update_timed(c2, add_one, NULL, &scratch, sizeof v, 1000));
    FAILS(-EBUSY, "one-writer role", cortex_cell_update_if(c2, refuse_negative, NULL, &scratch, sizeof v, 0));
    FAILS(-EBUSY, "one-writer role", cortex_cell_consistent(c2));
    cr_assert_eq(cortex_cell_close(c2), 0);
    cr_assert_eq(cortex_cell_close(c), 0);
}

Test(last_error, rings, .init = setup_full_ring)
{
    static _Alignas(64) unsigned char mem[4096];
    static _Alignas(64) unsigned char junk[4096];
    char name[64];
    nct_name(name, "le-ring");
    cortex_ring r, c, raw;
    uint32_t v = 7, out[4];
    void *span = NULL;
    const void *cspan = NULL;
    memset(junk, 0x33, sizeof junk);
    FAILS(-EINVAL, "NULL ring", cortex_ring_init(NULL, mem, sizeof mem, 4, 4, 4));
    FAILS(-EINVAL, "power of two", cortex_ring_init(&raw, mem, sizeof mem, 3, 4, 4));
    FAILS(-EBADMSG, "no ring", cortex_ring_attach_mem(&raw, junk, sizeof junk, 4, 4, CORTEX_BOTH_SIDES));
    FAILS(-EINVAL, "power of two",
          cortex_ring_create(&r, CORTEX_KEY_NAME(name), 3, 4, 4, "u32", CORTEX_PRODUCER, NULL));
    FAILS(-ENOENT, name, cortex_ring_attach(&r, CORTEX_KEY_NAME(name), 4, 4, "u32", CORTEX_CONSUMER, NULL));
    FAILS(-EINVAL, "NULL", cortex_ring_inspect(NULL, NULL));
    FAILS(-EBADMSG, "no ring", cortex_ring_inspect_mem(junk, sizeof junk, &(cortex_ring_info){0}));

    cr_assert_eq(cortex_ring_init(&raw, mem, sizeof mem, 4, sizeof v, _Alignof(uint32_t)), 0);
    FAILS(-EAGAIN, "ring empty", cortex_ring_pop_lib(&raw, &v));
    FAILS(-EAGAIN, "ring empty", cortex_ring_pop_n_lib(&raw, out, 4));
    FAILS(-EAGAIN, "ring empty", cortex_ring_peek(&raw, 1, &cspan));
    FAILS(-ETIMEDOUT, "timed out", cortex_ring_pop_wait(&raw, &v, 0));
    FAILS(-ETIMEDOUT, "timed out", cortex_ring_pop_wait(&raw, &v, 1000));
    FAILS(-EINVAL, "want is 0", cortex_ring_peek(&raw, 0, &cspan));
    FAILS(-EINVAL, "only 0 peeked", cortex_ring_release(&raw, 1));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cortex_ring_push_lib(&raw, &v), 0);
    FAILS(-EAGAIN, "ring full", cortex_ring_push_lib(&raw, &v));
    FAILS(-EAGAIN, "ring full", cortex_ring_push_n_lib(&raw, out, 2));
    FAILS(-EAGAIN, "ring full", cortex_ring_reserve(&raw, 1, &span));
    FAILS(-ETIMEDOUT, "timed out", cortex_ring_push_wait(&raw, &v, 0));
    FAILS(-EINVAL, "want is 0", cortex_ring_reserve(&raw, 0, &span));
    FAILS(-EINVAL, "only 0 reserved", cortex_ring_commit(&raw, 1));
    FAILS(-EINVAL, "raw ring", cortex_ring_leak(&raw));
    FAILS(-EINVAL, "raw ring", cortex_ring_own(&raw));
    cr_assert_eq(cortex_ring_close(&raw), 0);
    FAILS(-EINVAL, "closed", cortex_ring_push_n_lib(&raw, out, 1));
    FAILS(-EINVAL, "closed", cortex_ring_leak(&raw));
    FAILS(-EINVAL, "closed", cortex_ring_flush(&raw));
    FAILS(-EINVAL, "closed", cortex_ring_set_spin(&raw, 0));
    FAILS(-EINVAL, "outside", cortex_ring_set_default_spin(-5));
    FAILS(-EINVAL, "power of two", cortex_ring_init_marked(&raw, mem, sizeof mem, 3, 8, 0));
    FAILS(-EINVAL, "aligned to at most 8", cortex_ring_init_marked(&raw, mem, sizeof mem, 4, 16, 0));
    FAILS(-EINVAL, "power of two", cortex_ring_init_batched(&raw, mem, sizeof mem, 3, 4, 4));
    FAILS(-EINVAL, "power of two",
          cortex_ring_create_marked(&r, CORTEX_KEY_NAME(name), 3, 8, "u64", 0, CORTEX_PRODUCER, NULL));
    FAILS(-EINVAL, "power of two",
          cortex_ring_create_batched(&r, CORTEX_KEY_NAME(name), 3, 4, 4, "u32", CORTEX_PRODUCER, NULL));

    /* A peer that closed: -EPIPE on both sides. */
    cr_assert_eq(cortex_ring_create(&r, CORTEX_KEY_NAME(name), 4, 4, 4, "u32", CORTEX_PRODUCER, NULL), 0);
    cr_assert_eq(cortex_ring_attach(&c, CORTEX_KEY_NAME(name), 4, 4, "u32", CORTEX_CONSUMER, NULL), 0);
    cortex_ring c2;
    FAILS(-EBUSY, "consumer role", cortex_ring_attach(&c2, CORTEX_KEY_NAME(name), 4, 4, "u32", CORTEX_CONSUMER, NULL));
    FAILS(-EPROTO, "u64", cortex_ring_attach(&c2, CORTEX_KEY_NAME(name), 8, 8, "u64", CORTEX_CONSUMER, NULL));
    cr_assert_eq(cortex_ring_close(&c), 0);
    FAILS(-EPIPE, "consumer closed", cortex_ring_push_lib(&r, &v));
    cr_assert_eq(cortex_ring_close(&r), 0);
}

Test(last_error, slabs, .init = setup_full_ring)
{
    static _Alignas(64) unsigned char mem[16384];
    static _Alignas(64) unsigned char junk[4096];
    memset(junk, 0x44, sizeof junk);
    char name[64];
    nct_name(name, "le-slab");
    cortex_slab *s = NULL, *t = NULL;
    cortex_handle h, h2;
    FAILS(-EINVAL, "ret is NULL", cortex_slab_init(NULL, mem, sizeof mem, 4, 8, 8));
    FAILS(-EINVAL, "slab", cortex_slab_init(&s, mem, 64, 4, 8, 8));
    FAILS(-EBADMSG, "slab", cortex_slab_attach_raw(&s, junk, sizeof junk, 8, 8));
    FAILS(-EINVAL, "out of range", cortex_slab_create(&s, CORTEX_KEY_NAME(name), 0, 8, 8, "u64", NULL));
    FAILS(-ENOENT, name, cortex_slab_attach(&s, CORTEX_KEY_NAME(name), 8, 8, "u64", NULL));
    FAILS(-EINVAL, "cortex_slab_reclaim: NULL slab", cortex_slab_reclaim(NULL, 0));
    FAILS(-EINVAL, "cortex_slab_repair: NULL slab", cortex_slab_repair(NULL));
    FAILS(-EINVAL, "cortex_slab_magazine: NULL slab", cortex_slab_magazine(NULL, 4));
    FAILS(-EINVAL, "cortex_slab_stats_get", cortex_slab_stats_get(NULL, NULL));
    FAILS(-EINVAL, "cortex_slab_inspect", cortex_slab_inspect(NULL, NULL));
    FAILS(-EINVAL, "cortex_slab_alloc", cortex_slab_alloc(NULL, &h));
    void *p = NULL;
    FAILS(-EINVAL, "cortex_slab_alloc_get", cortex_slab_alloc_get(NULL, &h, &p));
    FAILS(-EINVAL, "cortex_slab_alloc", cortex_slab_alloc_lib(NULL, &h));
    FAILS(-EINVAL, "cortex_slab_alloc_get", cortex_slab_alloc_get_lib(NULL, &h, &p));
    FAILS(-EINVAL, "cortex_slab_free", cortex_slab_free_lib(NULL, 1));
    NULLS(-EINVAL, "NULL slab", cortex_slab_get_lib(NULL, 1));
    NULLS(-EINVAL, "NULL slab", cortex_slab_get(NULL, 1));

    cr_assert_eq(cortex_slab_init(&s, mem, sizeof mem, 2, 8, 8), 0);
    FAILS(-EPROTO, "slot", cortex_slab_attach_raw(&t, mem, sizeof mem, 16, 8));
    cr_assert_eq(cortex_slab_alloc(s, &h), 0);
    cr_assert_eq(cortex_slab_alloc(s, &h2), 0);
    FAILS(-ENOSPC, "exhausted", cortex_slab_alloc(s, &h));
    FAILS(-ENOSPC, "exhausted", cortex_slab_alloc_get(s, &h, &p));
    FAILS(-EBUSY, "in flight", cortex_slab_receive(s, &h2));
    cr_assert_eq(cortex_slab_free(s, h2), 0);
    FAILS(-ESTALE, "stale", cortex_slab_free(s, h2));
    FAILS(-ESTALE, "stale", cortex_slab_send(s, h2));
    NULLS(-ESTALE, "stale", cortex_slab_get(s, h2));
    NULLS(-EINVAL, "names slot", cortex_slab_get(s, (h & ~UINT64_C(0xffffff)) | 99));
    NULLS(-ESTALE, "another slab", cortex_slab_get(s, h ^ (UINT64_C(1) << 24)));
    FAILS(-EINVAL, "NULL handle", cortex_slab_free(s, CORTEX_HANDLE_NULL));
    FAILS(-EINVAL, "no segment", cortex_slab_leak(s));
    FAILS(-EINVAL, "no segment", cortex_slab_own(s));
    FAILS(-EINVAL, "NULL", cortex_slab_leak(NULL));
    cr_assert_eq(cortex_slab_close(s), 0);

    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(name), 2, 8, 8, "u64", NULL), 0);
    FAILS(-EPROTO, "u32", cortex_slab_attach(&t, CORTEX_KEY_NAME(name), 4, 4, "u32", NULL));
    cr_assert_eq(cortex_slab_close(s), 0);
}

Test(last_error, broadcasts, .init = setup_full_ring)
{
    static _Alignas(64) unsigned char mem[4096];
    static _Alignas(64) unsigned char junk[4096];
    memset(junk, 0x55, sizeof junk);
    char name[64];
    nct_name(name, "le-bcast");
    cortex_broadcast w, r, r2;
    uint64_t v = 1, out[4];
    FAILS(-EINVAL, "power of two", cortex_broadcast_init(&w, mem, sizeof mem, 3, 1, 0, 8, 8));
    FAILS(-EBADMSG, "no broadcast", cortex_broadcast_join_mem(&r, junk, sizeof junk, 0, 8, 8));
    FAILS(-EINVAL, "CORTEX_BROADCAST_NEWEST", cortex_broadcast_join_mem(&r, junk, sizeof junk, 5, 8, 8));
    FAILS(-EINVAL, "readers", cortex_broadcast_create(&w, CORTEX_KEY_NAME(name), 8, 0, 0, 8, 8, "u64", NULL));
    FAILS(-ENOENT, name, cortex_broadcast_join(&r, CORTEX_KEY_NAME(name), 0, 8, 8, "u64", NULL));
    FAILS(-EINVAL, "cortex_broadcast_inspect", cortex_broadcast_inspect(NULL, NULL));
    FAILS(-EINVAL, "cortex_broadcast_inspect", cortex_broadcast_inspect_mem(NULL, 0, NULL));
    FAILS(-EINVAL, "NULL broadcast", cortex_broadcast_push(NULL, &v));
    FAILS(-EINVAL, "NULL broadcast", cortex_broadcast_push_n(NULL, &v, 1));
    FAILS(-EINVAL, "NULL broadcast", cortex_broadcast_push_wait(NULL, &v, 0));

    cr_assert_eq(cortex_broadcast_init(&w, mem, sizeof mem, 4, 1, CORTEX_BROADCAST_LOSSLESS, 8, 8), 0);
    FAILS(-EPROTO, "8-byte elements", cortex_broadcast_join_mem(&r, mem, sizeof mem, 0, 4, 4));
    cr_assert_eq(cortex_broadcast_join_mem(&r, mem, sizeof mem, 0, 8, 8), 0);
    FAILS(-EBUSY, "reader entries", cortex_broadcast_join_mem(&r2, mem, sizeof mem, 0, 8, 8));
    FAILS(-EAGAIN, "empty", cortex_broadcast_pop(&r, out));
    FAILS(-EAGAIN, "empty", cortex_broadcast_pop_n(&r, out, 4));
    FAILS(-ETIMEDOUT, "nothing", cortex_broadcast_pop_wait(&r, out, 0));
    FAILS(-EINVAL, "not a reader", cortex_broadcast_pop(&w, out));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(cortex_broadcast_push(&w, &v), 0);
    FAILS(-EAGAIN, "full", cortex_broadcast_push(&w, &v));
    FAILS(-EAGAIN, "full", cortex_broadcast_push_n(&w, out, 2));
    FAILS(-ETIMEDOUT, "ring behind", cortex_broadcast_push_wait(&w, &v, 1000));
    cr_assert_eq(cortex_broadcast_close(&w), 0);
    cr_assert_eq(cortex_broadcast_pop_n(&r, out, 4), 4);
    FAILS(-EPIPE, "closed", cortex_broadcast_pop(&r, out));
    cr_assert_eq(cortex_broadcast_close(&r), 0);
}

Test(last_error, waitsets, .init = setup_full_ring)
{
    cortex_waitset *ws = NULL;
    cortex_waitset_event ev[2];
    FAILS(-EINVAL, "NULL ret", cortex_waitset_create(NULL));
    cr_assert_eq(cortex_waitset_create(&ws), 0);
    FAILS(-EINVAL, "empty", cortex_waitset_wait(ws, ev, 2, 0));
    FAILS(-EINVAL, "NULL events", cortex_waitset_wait(ws, NULL, 2, 0));
    FAILS(-EINVAL, "NULL waitset", cortex_waitset_fd(NULL));
    FAILS(-EINVAL, "CORTEX_WAITSET_DATA", cortex_waitset_add_ring(ws, &full_ring, 9, 1));
    FAILS(-EINVAL, "NULL ring", cortex_waitset_add_ring(ws, NULL, CORTEX_WAITSET_DATA, 1));
    FAILS(-EINVAL, "NULL reader", cortex_waitset_add_broadcast(ws, NULL, 1));
    FAILS(-EINVAL, "NULL cell", cortex_waitset_add_cell(ws, NULL, 0, 1));
    FAILS(-EINVAL, "NULL doorbell", cortex_waitset_add_doorbell(ws, NULL, 1));
    FAILS(-EBADF, "negative", cortex_waitset_add_fd(ws, -1, 1, 1));
    cr_assert_eq(cortex_waitset_add_ring(ws, &full_ring, CORTEX_WAITSET_SPACE, 1), 0);
    FAILS(-EEXIST, "tag 1", cortex_waitset_add_fd(ws, 0, 1, 1));
    FAILS(-ETIMEDOUT, "no source ready", cortex_waitset_wait(ws, ev, 2, 0));
    FAILS(-ENOENT, "tag 2", cortex_waitset_remove(ws, 2));
    cortex_waitset_destroy(ws);
}

Test(last_error, pools, .init = setup_full_ring)
{
    static _Alignas(64) unsigned char mem[16384];
    static const cortex_pool_class classes[] = {{16, 2}, {64, 1}};
    char name[64];
    nct_name(name, "le-pool");
    cortex_pool *p = NULL, *q = NULL;
    cortex_handle h, h2;
    FAILS(-EINVAL, "classes", cortex_pool_create(&p, CORTEX_KEY_NAME(name), classes, 0, NULL));
    FAILS(-EINVAL, "not larger", cortex_pool_create(&p, CORTEX_KEY_NAME(name),
                                                  (cortex_pool_class[]){{64, 1}, {16, 1}}, 2, NULL));
    FAILS(-EINVAL, "cannot hold one 32-byte element",
          cortex_pool_create_typed(&p, CORTEX_KEY_NAME(name), classes, 2, 32, 8, "blk", NULL));
    FAILS(-EINVAL, "aligned", cortex_pool_create_typed(&p, CORTEX_KEY_NAME(name), classes, 2, 16, 16, "v", NULL));
    FAILS(-ENOENT, name, cortex_pool_attach(&p, CORTEX_KEY_NAME(name), NULL));
    FAILS(-ENOENT, name, cortex_pool_attach_typed(&p, CORTEX_KEY_NAME(name), 8, 8, "u64", NULL));
    FAILS(-EINVAL, "pool needs", cortex_pool_init(&p, mem, 100, classes, 2));
    FAILS(-EINVAL, "cannot hold one 32-byte element", cortex_pool_init_typed(&p, mem, sizeof mem, classes, 2, 32, 8));
    FAILS(-EINVAL, "cortex_pool_reclaim", cortex_pool_reclaim(NULL, 0));
    FAILS(-EINVAL, "cortex_pool_magazine: NULL pool", cortex_pool_magazine(NULL, 4));
    FAILS(-EINVAL, "cortex_pool_alloc", cortex_pool_alloc(NULL, 1, &h));
    NULLS(-EINVAL, "NULL pool", cortex_pool_get(NULL, 1, NULL));
    FAILS(-EINVAL, "NULL pool", cortex_pool_free(NULL, 1));
    FAILS(-EINVAL, "NULL", cortex_pool_leak(NULL));
    FAILS(-EINVAL, "NULL", cortex_pool_own(NULL));

    cr_assert_eq(cortex_pool_init(&p, mem, sizeof mem, classes, 2), 0);
    FAILS(-ERANGE, "largest class", cortex_pool_alloc(p, 65, &h));
    cr_assert_eq(cortex_pool_alloc(p, 40, &h), 0);
    FAILS(-ENOSPC, "pool exhausted", cortex_pool_alloc(p, 40, &h2));
    /* A tag that none of the pool's classes has (each class has its own random tag). */
    unsigned tag = 0;
    while (tag == cortex_slab_tag(cortex_pool_class_slab(p, 0)) || tag == cortex_slab_tag(cortex_pool_class_slab(p, 1)))
        tag++;
    cortex_handle bad = (h & ~(UINT64_C(0xff) << 24)) | ((uint64_t)tag << 24);
    NULLS(-ESTALE, "none of the pool", cortex_pool_get(p, bad, NULL));
    FAILS(-ESTALE, "none of the pool", cortex_pool_free(p, bad));
    FAILS(-ESTALE, "none of the pool", cortex_pool_send(p, bad));
    FAILS(-ESTALE, "none of the pool", cortex_pool_receive(p, &bad));
    FAILS(-EBUSY, "in flight", cortex_pool_receive(p, &h));
    cr_assert_eq(cortex_pool_free(p, h), 0);
    NULLS(-ESTALE, "stale", cortex_pool_get(p, h, NULL));
    FAILS(-ESTALE, "stale", cortex_pool_send(p, h));
    FAILS(-EINVAL, "no segment", cortex_pool_leak(p));
    FAILS(-EINVAL, "no segment", cortex_pool_own(p));
    cr_assert_eq(cortex_pool_close(p), 0);

    cr_assert_eq(cortex_pool_create_typed(&p, CORTEX_KEY_NAME(name), classes, 2, 8, 8, "u64", NULL), 0);
    FAILS(-EPROTO, "u32", cortex_pool_attach_typed(&q, CORTEX_KEY_NAME(name), 4, 4, "u32", NULL));
    cr_assert_eq(cortex_pool_close(p), 0);
}

Test(last_error, sync, .init = setup_full_ring)
{
    FAILS(-EINVAL, "no lock backend", cortex_sync_validate(NULL));
    cortex_sync_ops bad = {.id = 0, .name = "mine", .shared_size = 4, .shared_align = 4};
    FAILS(-EINVAL, "'mine' has id 0", cortex_sync_validate(&bad));
}

Test(last_error, doorbells_and_fds, .init = setup_full_ring)
{
    cortex_doorbell a, b, bad;
    int fd = -1;
    char buf[64];
    cortex_fdspec spec;
    cortex_region *r = NULL;
    cortex_layout raw = {.kind = CORTEX_KIND_RAW};
    FAILS(-EINVAL, "cortex_doorbell_pair", cortex_doorbell_pair(NULL, NULL));
    FAILS(-EBADF, "fd -1", cortex_doorbell_from_fd(&bad, -1));
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0);
    cortex_doorbell_close(&b);
    FAILS(-EPIPE, "peer", cortex_doorbell_wait(&a, 0));
    FAILS(-EPIPE, "peer", cortex_doorbell_drain(&a));
    FAILS(-EPIPE, "peer", cortex_doorbell_signal(&a));
    cortex_doorbell_close(&a);
    FAILS(-EBADF, "closed", cortex_doorbell_signal(&a));
    FAILS(-EBADF, "closed", cortex_doorbell_wait(&a, 0));
    FAILS(-EBADF, "closed", cortex_doorbell_drain(&a));

    FAILS(-EBADF, "fd -1", cortex_fd_kind_of(-1));
    FAILS(-EBADF, "fd -1", cortex_fd_validate(-1, CORTEX_FD_SOCKET));
    int p[2];
    cr_assert_eq(pipe(p), 0);
    FAILS(-ENOTSOCK, "pipe", cortex_fd_validate(p[0], CORTEX_FD_SOCKET));
    FAILS(-ENODEV, "regular file", cortex_fd_validate_segment(p[0], &raw));
    FAILS(-EBADF, "fd -1", cortex_fd_set_nonblocking(-1, true));
    FAILS(-EBADF, "fd -1", cortex_fd_set_cloexec(-1, true));
    FAILS(-EINVAL, "cortex_fd_inherit", cortex_fd_inherit(NULL, NULL, 1));
    FAILS(-EINVAL, "x", cortex_fdspec_parse(&spec, "x"));
    cr_assert_eq(cortex_fdspec_parse(&spec, "doorbell:3"), 0);
    FAILS(-ENAMETOOLONG, "bytes", cortex_fdspec_format(&spec, buf, 2));
    FAILS(-ENOENT, "segment", cortex_fdspec_find(&spec, "segment"));
    unsetenv(CORTEX_FDS_ENV);
    FAILS(-ENOENT, CORTEX_FDS_ENV, cortex_fdspec_from_process(&spec, 0, NULL));
    FAILS(-ENOENT, CORTEX_FDS_ENV, cortex_child_attach(0, NULL, &a, &r, &raw, NULL));
    pid_t pid;
    FAILS(-ENOENT, "/nct-le-no-such-program", cortex_spawn(&pid, &a, "/nct-le-no-such-program", NULL, NULL, -1));

    char longpath[300];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    FAILS(-ENAMETOOLONG, "long", cortex_unix_listen(longpath, &fd));
    FAILS(-EBADF, "999", cortex_unix_accept(999, &fd, 0));
    char sock[96];
    FAILS(-ETIMEDOUT, "connect", cortex_unix_connect(nct_path(sock, "le-sock"), &fd, 0));
    FAILS(-EBADF, "send", cortex_fd_send(-1, "x", 1, NULL, 0));
    FAILS(-EINVAL, "cortex_fd_send", cortex_fd_send(p[1], "x", 0, NULL, 0));
    unsigned nfds = 0;
    FAILS(-EBADF, "999", cortex_fd_recv(999, buf, sizeof buf, NULL, 0, &nfds, 0));
    FAILS(-EBADF, "999", cortex_segment_recv(999, &r, &raw, NULL, 0));
    close(p[0]);
    close(p[1]);
}

SPSC_RING_DECLARE(le_ring, uint64_t);
SLAB_DECLARE(le_slab, uint64_t);

Test(last_error, channels, .init = setup_full_ring)
{
    char name[64];
    nct_name(name, "le-channel");
    cortex_channel *p = NULL, *c = NULL;
    cortex_pool_class cls = {64, 2};
    FAILS(-EINVAL, "size classes", cortex_channel_create(&p, CORTEX_KEY_NAME(name), NULL, 0, 8, 8, "x",
                                                         CORTEX_PRODUCER, NULL));
    FAILS(-ENOENT, name, cortex_channel_attach(&c, CORTEX_KEY_NAME(name), 8, 8, "x", CORTEX_CONSUMER, NULL));
    cr_assert_eq(cortex_channel_create(&p, CORTEX_KEY_NAME(name), &cls, 1, 8, 8, "x", CORTEX_PRODUCER, NULL), 0);
    cr_assert_eq(cortex_channel_attach(&c, CORTEX_KEY_NAME(name), 8, 8, "x", CORTEX_CONSUMER, NULL), 0);
    void *v;
    const void *cv;
    uint64_t local[16] = {0};
    FAILS(-EINVAL, "not its producer", cortex_channel_loan(c, 8, &v));
    FAILS(-ERANGE, "the largest slot", cortex_channel_loan(p, 65, &v));
    FAILS(-ERANGE, "the largest slot", cortex_channel_publish_copy(p, local, 100, 0));
    FAILS(-EINVAL, "not a slot", cortex_channel_publish(p, local, 8));
    FAILS(-EINVAL, "not a slot", cortex_channel_unloan(p, local));
    FAILS(-EINVAL, "not its consumer", cortex_channel_take(p, &cv, NULL));
    FAILS(-ETIMEDOUT, "timeout", cortex_channel_take_wait(c, &cv, NULL, 1000000));
    FAILS(-EINVAL, "not a slot", cortex_channel_release(c, local));
    cr_assert_eq(cortex_channel_loan(p, 8, &v), 0);
    cr_assert_eq(cortex_channel_loan(p, 8, &v), 0);
    FAILS(-EAGAIN, "no free slot", cortex_channel_loan(p, 8, &v));
    FAILS(-ETIMEDOUT, "timeout", cortex_channel_loan_wait(p, 8, &v, 1000000));
    FAILS(-EINVAL, "NULL channel", cortex_channel_reclaim(NULL));
    FAILS(-EINVAL, "NULL channel", cortex_channel_magazine(NULL, 8));
    FAILS(-EINVAL, "CORTEX_SLAB_MAGAZINE_MAX", cortex_channel_magazine(p, CORTEX_SLAB_MAGAZINE_MAX + 1));
    FAILS(-EINVAL, "NULL argument", cortex_channel_stats_get(NULL, NULL));
    cr_assert_eq(cortex_channel_close(c), 0);
    cr_assert_eq(cortex_channel_close(p), 0);
}

Test(last_error, typed_wrappers_and_the_inline_paths, .init = setup_full_ring)
{
    static _Alignas(64) unsigned char rmem[4096], smem[8192];
    le_ring r;
    le_slab s;
    cortex_handle h;
    uint64_t v = 0;
    cr_assert_eq(le_ring_init(&r, rmem, sizeof rmem, 2), 0);
    FAILS(-EAGAIN, "ring empty", le_ring_pop(&r, &v));
    cr_assert_eq(le_ring_push(&r, 1), 0);
    cr_assert_eq(le_ring_push(&r, 2), 0);
    FAILS(-EAGAIN, "ring full", le_ring_push(&r, 3));
    cr_assert_eq(le_slab_init(&s, smem, sizeof smem, 2), 0);
    cr_assert_eq(le_slab_alloc(&s, &h), 0);
    cr_assert_eq(le_slab_free(&s, h), 0);
    NULLS(-ESTALE, "stale", le_slab_get(&s, h));
    cr_assert_eq(le_slab_close(&s), 0);
    cr_assert_eq(le_ring_close(&r), 0);
}

static void *push_full_in_thread(void *arg)
{
    uint32_t v = 3;
    *(int *)arg = cortex_ring_push_lib(&full_ring, &v);
    return NULL;
}

Test(last_error, the_fixed_record_is_per_thread_and_cleared, .init = setup_full_ring)
{
    uint32_t v = 3;
    cr_assert_eq(cortex_ring_push_lib(&full_ring, &v), -EAGAIN);
    cortex_clear_error();
    cr_assert_eq(cortex_last_error()->code, 0, "clear forgets a fixed record too");
    cr_assert_str_eq(cortex_last_error()->message, "");
    int rc = 0;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, push_full_in_thread, &rc), 0);
    pthread_join(t, NULL);
    cr_assert_eq(rc, -EAGAIN);
    cr_assert_eq(cortex_last_error()->code, 0, "another thread's -EAGAIN is not ours");
}
