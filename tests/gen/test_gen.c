/* SPDX-License-Identifier: MIT */
/*
 * The typed generators, complete and alike: name_leak / name_own for rings,
 * slabs and pools, name_new / name_free for heap ring handles, the typed
 * pool, the typed reclaim's flags, and the one-exported-copy forms
 * (PROTOTYPE in a header, DEFINE in one .c file).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gen_proto.h"
#include "nctest.h"

TestSuite(gen, .fini = nct_cleanup, .timeout = 30);

SPSC_RING_DECLARE(u64_ring, uint64_t);
SLAB_DECLARE(u64_slab, uint64_t);
POOL_DECLARE(u64_pool, uint64_t);
struct wide {
    char bytes[48];
};
POOL_DECLARE(wide_pool, struct wide);

#define OK(call) cr_assert_eq((call), 0, "%s: %s", #call, cortex_last_error()->message)

static bool shm_exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

/* ---- rings --------------------------------------------------------------- */

Test(gen, ring_leak_keeps_the_segment_and_frees_the_role)
{
    char name[64];
    nct_name(name, "ringleak");
    u64_ring prod, prod2, cons;
    OK(u64_ring_create(&prod, CORTEX_KEY_NAME(name), 8, CORTEX_PRODUCER, NULL));
    for (uint64_t v = 1; v <= 3; v++)
        OK(u64_ring_push(&prod, v));
    OK(u64_ring_leak(&prod));
    cr_assert(shm_exists(name), "a leaked ring stays in the system");
    cr_assert_eq(u64_ring_push(&prod, 9), -EINVAL, "the leaked handle is closed");
    cr_assert_eq(u64_ring_leak(&prod), -EINVAL);

    /* The producer role is free again and the side is not closed: a new producer goes on. */
    OK(u64_ring_attach(&prod2, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL));
    OK(u64_ring_push(&prod2, 4));
    OK(u64_ring_attach(&cons, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL));
    for (uint64_t v = 1; v <= 4; v++) {
        uint64_t got = 0;
        OK(u64_ring_pop(&cons, &got));
        cr_assert_eq(got, v);
    }
    OK(u64_ring_own(&cons));
    OK(u64_ring_close(&prod2));
    cr_assert(shm_exists(name), "closing a handle that no longer owns it only detaches");
    OK(u64_ring_close(&cons));
    cr_assert(!shm_exists(name), "the new owner's close removes the segment");
    cr_assert_eq(u64_ring_attach(&cons, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), -ENOENT);
}

Test(gen, ring_leak_and_own_refuse_a_raw_ring)
{
    static _Alignas(64) unsigned char mem[4096];
    u64_ring r;
    OK(u64_ring_init(&r, mem, sizeof mem, 16));
    cr_assert_eq(u64_ring_leak(&r), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "raw ring"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64_ring_own(&r), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "cortex_ring_own"), "%s", cortex_last_error()->message);
    OK(u64_ring_push(&r, 7)); /* still open and working */
    uint64_t v = 0;
    OK(u64_ring_pop(&r, &v));
    cr_assert_eq(v, 7);
    OK(u64_ring_close(&r));
    cr_assert_eq(u64_ring_own(&r), -EINVAL, "a closed handle");
}

Test(gen, ring_new_gives_an_aligned_heap_handle)
{
    char name[64];
    nct_name(name, "ringnew");
    u64_ring *p = u64_ring_new();
    u64_ring *c = u64_ring_new();
    cr_assert(p && c);
    cr_assert_eq((uintptr_t)p % 64, 0, "name_new() honours the handle's 64-byte alignment");
    cr_assert_eq((uintptr_t)c % 64, 0);
    OK(u64_ring_create(p, CORTEX_KEY_NAME(name), 4, CORTEX_PRODUCER, NULL));
    OK(u64_ring_attach(c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL));
    OK(u64_ring_push(p, 11));
    uint64_t v = 0;
    OK(u64_ring_pop(c, &v));
    cr_assert_eq(v, 11);
    OK(u64_ring_free(c));
    OK(u64_ring_free(p));
    cr_assert(!shm_exists(name), "name_free() closed the owner");
    OK(u64_ring_free(NULL));
    /* A never-opened handle from name_new() frees cleanly too. */
    OK(u64_ring_free(u64_ring_new()));
}

/* ---- slabs --------------------------------------------------------------- */

Test(gen, slab_leak_keeps_the_segment_and_its_slots)
{
    char name[64];
    nct_name(name, "slableak");
    u64_slab s, t;
    cortex_handle h;
    OK(u64_slab_create(&s, CORTEX_KEY_NAME(name), 8, NULL));
    OK(u64_slab_alloc(&s, &h));
    *u64_slab_get(&s, h) = 4242;
    OK(u64_slab_leak(&s));
    cr_assert_null(u64_slab_core(&s), "a leaked handle is cleared");
    cr_assert(shm_exists(name));
    OK(u64_slab_attach(&t, CORTEX_KEY_NAME(name), NULL));
    uint64_t *v = u64_slab_get(&t, h);
    cr_assert(v, "the slot survived: %s", cortex_last_error()->message);
    cr_assert_eq(*v, 4242);
    OK(u64_slab_free(&t, h));
    OK(u64_slab_own(&t));
    OK(u64_slab_close(&t));
    cr_assert(!shm_exists(name));
}

Test(gen, slab_leak_refuses_the_raw_form_and_keeps_the_view)
{
    static _Alignas(64) unsigned char mem[8192];
    u64_slab s;
    cortex_handle h;
    OK(u64_slab_init(&s, mem, sizeof mem, 4));
    cr_assert_eq(u64_slab_leak(&s), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "no segment"), "%s", cortex_last_error()->message);
    cr_assert_not_null(u64_slab_core(&s), "a refused leak keeps the view");
    cr_assert_eq(u64_slab_own(&s), -EINVAL);
    OK(u64_slab_alloc(&s, &h));
    OK(u64_slab_close(&s));
}

Test(gen, slab_magazine_and_alloc_get)
{
    static _Alignas(64) unsigned char mem[8192];
    u64_slab s;
    cortex_handle h, first = 0;
    uint64_t *p = NULL;
    OK(u64_slab_init(&s, mem, sizeof mem, 4));
    cr_assert_eq(u64_slab_magazine(&s, CORTEX_SLAB_MAGAZINE_MAX + 1), -EINVAL);
    OK(u64_slab_magazine(&s, 2));
    for (int i = 0; i < 3; i++) {
        OK(u64_slab_alloc_get(&s, &h, &p));
        cr_assert_eq(p, u64_slab_get(&s, h), "alloc_get's address is get's");
        *p = 42;
        if (i == 0)
            first = h;
        else
            cr_assert_eq(cortex_handle_index(h), cortex_handle_index(first), "the magazine hands the slot back");
        OK(u64_slab_free(&s, h));
        cr_assert_eq(u64_slab_free(&s, h), -ESTALE);
    }
    cr_assert_eq(u64_slab_alloc_get(&s, &h, NULL), -EINVAL);
    cortex_slab_stats st;
    OK(u64_slab_stats(&s, &st));
    cr_assert_eq(st.free, 4);
    OK(u64_slab_magazine(&s, 0));
    OK(u64_slab_close(&s));
}

/* ---- pools --------------------------------------------------------------- */

static const cortex_pool_class classes[] = {{16, 4}, {64, 4}, {256, 2}};

Test(gen, typed_pool_counts_in_elements)
{
    char name[64];
    nct_name(name, "pool");
    u64_pool p;
    cortex_handle h;
    size_t count = 0;
    OK(u64_pool_create(&p, CORTEX_KEY_NAME(name), classes, 3, NULL));
    OK(u64_pool_alloc(&p, 3, &h)); /* 24 bytes: the 64-byte class */
    uint64_t *v = u64_pool_get(&p, h, &count);
    cr_assert_not_null(v);
    cr_assert_eq(count, 8, "a 64-byte slot holds 8 uint64_t, got %zu", count);
    for (size_t i = 0; i < count; i++)
        v[i] = i;
    cr_assert_eq(u64_pool_alloc(&p, 33, &h), -ERANGE, "264 bytes: more than the largest class");
    cr_assert_eq(u64_pool_alloc(&p, SIZE_MAX, &h), -ERANGE, "count * sizeof(T) overflows: refused, not wrapped");
    cortex_handle hs[2];
    OK(u64_pool_alloc(&p, 32, &hs[0]));
    OK(u64_pool_alloc(&p, 32, &hs[1]));
    cr_assert_eq(u64_pool_alloc(&p, 32, &h), -ENOSPC);
    OK(u64_pool_free(&p, hs[0]));
    cr_assert_eq(u64_pool_free(&p, hs[0]), -ESTALE);
    cr_assert_null(u64_pool_get(&p, hs[0], &count));
    cr_assert_eq(cortex_last_error()->code, -ESTALE, "a NULL get says why");
    OK(u64_pool_send(&p, hs[1]));
    OK(u64_pool_receive(&p, &hs[1]));
    cr_assert_eq(u64_pool_reclaim(&p, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 0, "nobody died");
    OK(u64_pool_close(&p));
    cr_assert(!shm_exists(name));
}

Test(gen, typed_pool_refuses_another_type_and_classes_too_small)
{
    char name[64];
    nct_name(name, "pooltype");
    u64_pool p;
    wide_pool w;
    OK(u64_pool_create(&p, CORTEX_KEY_NAME(name), classes, 3, NULL));
    cr_assert_eq(wide_pool_attach(&w, CORTEX_KEY_NAME(name), NULL), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "struct wide"), "%s", cortex_last_error()->message);
    OK(u64_pool_close(&p));

    /* 48-byte elements do not fit the 16-byte class. */
    cr_assert_eq(wide_pool_create(&w, CORTEX_KEY_NAME(name), classes, 3, NULL), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "cannot hold one 48-byte element"), "%s",
              cortex_last_error()->message);
    cr_assert(!shm_exists(name), "nothing was created");
    static _Alignas(64) unsigned char mem[16384];
    cr_assert_eq(wide_pool_init(&w, mem, sizeof mem, classes, 3), -EINVAL);
    static const cortex_pool_class wide_classes[] = {{48, 2}, {96, 2}};
    OK(wide_pool_init(&w, mem, sizeof mem, wide_classes, 2));
    cortex_handle h;
    size_t count = 0;
    OK(wide_pool_alloc(&w, 2, &h));
    cr_assert_not_null(wide_pool_get(&w, h, &count));
    cr_assert_eq(count, 2);
    cr_assert_eq(wide_pool_leak(&w), -EINVAL, "no segment behind caller memory");
    OK(wide_pool_close(&w));
}

Test(gen, pool_leak_and_own)
{
    char name[64];
    nct_name(name, "poolleak");
    u64_pool p, q;
    cortex_handle h;
    OK(u64_pool_create(&p, CORTEX_KEY_NAME(name), classes, 3, NULL));
    OK(u64_pool_alloc(&p, 1, &h));
    *u64_pool_get(&p, h, NULL) = 99;
    OK(u64_pool_leak(&p));
    cr_assert_null(u64_pool_core(&p));
    OK(u64_pool_attach(&q, CORTEX_KEY_NAME(name), NULL));
    cr_assert_eq(*u64_pool_get(&q, h, NULL), 99);
    OK(u64_pool_own(&q));
    OK(u64_pool_close(&q));
    cr_assert(!shm_exists(name));
}

/* ---- one exported copy ---------------------------------------------------- */

Test(gen, prototype_and_define_give_one_exported_copy)
{
    /* The functions are real external ones: this file and gen_define.c see the same address. */
    cr_assert_eq(gen_define_addresses(0), (void *)(uintptr_t)gen_ring_push);
    cr_assert_eq(gen_define_addresses(1), (void *)(uintptr_t)gen_slab_alloc);
    cr_assert_eq(gen_define_addresses(2), (void *)(uintptr_t)gen_pool_alloc);

    char name[64];
    gen_ring *r = gen_ring_new();
    cr_assert_not_null(r);
    OK(gen_ring_create(r, CORTEX_KEY_NAME(nct_name(name, "protoring")), 4, CORTEX_PRODUCER, NULL));
    OK(gen_ring_push(r, (struct gen_sample){1, 2}));
    cr_assert_eq(gen_ring_len(r), 1);
    OK(gen_ring_free(r));

    gen_slab s;
    cortex_handle h;
    OK(gen_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, "protoslab")), 4, NULL));
    OK(gen_slab_alloc(&s, &h));
    gen_slab_get(&s, h)->value = 5;
    cr_assert_eq(gen_slab_reclaim(&s, 0), 0);
    OK(gen_slab_close(&s));

    gen_pool p;
    OK(gen_pool_create(&p, CORTEX_KEY_NAME(nct_name(name, "protopool")), classes, 3, NULL));
    OK(gen_pool_alloc(&p, 2, &h));
    size_t n = 0;
    cr_assert_not_null(gen_pool_get(&p, h, &n));
    cr_assert_eq(n, 2);
    OK(gen_pool_close(&p));
}
