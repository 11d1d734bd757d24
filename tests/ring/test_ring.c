/* SPDX-License-Identifier: MIT */
/* SPSC ring, one process: sizes, edges, wrap near 2^64, batches, spans, validation, hostile indices, close. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nctest.h"
#include "ring/ring_layout.h"

TestSuite(ring, .fini = nct_cleanup, .timeout = 30);

SPSC_RING_DECLARE(u64ring, uint64_t);

typedef struct point3 {
    double x, y, z;
} point3;
SPSC_RING_DECLARE(pring, point3);
SPSC_RING_DECLARE_STATIC(small8, uint32_t, 8);
typedef struct wide128 {
    _Alignas(128) uint64_t v;
} wide128;
SPSC_RING_DECLARE_STATIC(wide4, wide128, 4);

static void *ring_mem(uint32_t cap, size_t esz, size_t *len)
{
    *len = cortex_ring_required_size(cap, esz);
    cr_assert_gt(*len, 0);
    void *m = aligned_alloc(64, (*len + 63) & ~(size_t)63);
    cr_assert_not_null(m);
    memset(m, 0xee, *len); /* init must not rely on zeroed memory */
    return m;
}

Test(ring, required_size_and_bad_capacity)
{
    cr_assert_eq(cortex_ring_required_size(0, 8), 0);
    cr_assert_eq(cortex_ring_required_size(3, 8), 0);
    cr_assert_eq(cortex_ring_required_size(1000, 8), 0);
    cr_assert_eq(cortex_ring_required_size(8, 0), 0);
    cr_assert_eq(cortex_ring_required_size(1, 8), CORTEX_RING_HEADER_SIZE + 8);
    cr_assert_eq(u64ring_required_size(1024), CORTEX_RING_HEADER_SIZE + 8192);
    cr_assert_eq(u64ring_required_size(1023), 0);
    size_t len;
    void *m = ring_mem(1024, 8, &len);
    u64ring r;
    cr_assert_eq(u64ring_init(&r, m, len, 1000), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "power of two"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64ring_init(&r, m, len, 0), -EINVAL);
    cr_assert_eq(u64ring_init(&r, m, len - 1, 1024), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "needs"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64ring_init(&r, (char *)m + 8, len - 8, 512), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "aligned"), "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_ring_init(&r.ring, m, len, 8, 0, 1), -EINVAL);
    free(m);
}

/* Fill to exactly capacity, one more is -EAGAIN, drain in order, one more is -EAGAIN; several laps. */
static void edges(uint32_t cap, uint64_t start)
{
    size_t len;
    void *m = ring_mem(cap, 8, &len);
    u64ring r;
    cr_assert_eq(u64ring_init(&r, m, len, cap), 0, "%s", cortex_last_error()->message);
    if (start)
        cr_assert_eq(cortex__ring_set_indices(&r.ring, start), 0);
    uint64_t seq = 0, expect = 0, v;
    for (int lap = 0; lap < 5; lap++) {
        cr_assert(u64ring_is_empty(&r));
        cr_assert_eq(u64ring_pop(&r, &v), -EAGAIN);
        for (uint32_t i = 0; i < cap; i++) {
            cr_assert_eq(u64ring_push(&r, seq++), 0, "cap %u push %u", cap, i);
            cr_assert_eq(u64ring_len(&r), i + 1);
        }
        cr_assert_eq(u64ring_push(&r, 999), -EAGAIN, "cap %u: push into a full ring", cap);
        cr_assert_eq(u64ring_len(&r), cap);
        for (uint32_t i = 0; i < cap; i++) {
            cr_assert_eq(u64ring_pop(&r, &v), 0);
            cr_assert_eq(v, expect++);
        }
        cr_assert_eq(u64ring_pop(&r, &v), -EAGAIN);
        /* half-full ping: push one, pop one, cap+1 times (walks every slot) */
        for (uint32_t i = 0; i <= cap; i++) {
            cr_assert_eq(u64ring_push(&r, seq++), 0);
            cr_assert_eq(u64ring_pop(&r, &v), 0);
            cr_assert_eq(v, expect++);
        }
    }
    /* batches larger than the ring move exactly capacity */
    uint64_t in[2100], out[2100];
    for (size_t i = 0; i < 2100; i++)
        in[i] = seq + i;
    cr_assert_eq(u64ring_push_n(&r, in, 2100), (ssize_t)cap);
    cr_assert_eq(u64ring_push_n(&r, in, 3), -EAGAIN);
    cr_assert_eq(u64ring_pop_n(&r, out, 2100), (ssize_t)cap);
    for (uint32_t i = 0; i < cap; i++)
        cr_assert_eq(out[i], in[i]);
    cr_assert_eq(u64ring_pop_n(&r, out, 5), -EAGAIN);
    cr_assert_eq(u64ring_push_n(&r, in, 0), 0);
    u64ring_close(&r);
    free(m);
}

Test(ring, edges_capacity_1) { edges(1, 0); }
Test(ring, edges_capacity_2) { edges(2, 0); }
Test(ring, edges_capacity_1024) { edges(1024, 0); }
Test(ring, edges_across_2_pow_64_capacity_1) { edges(1, UINT64_MAX - 3); }
Test(ring, edges_across_2_pow_64_capacity_2) { edges(2, UINT64_MAX - 2); }
Test(ring, edges_across_2_pow_64_capacity_1024) { edges(1024, UINT64_MAX - 700); }

Test(ring, batches_wrap_in_two_spans_near_2_pow_64)
{
    size_t len;
    void *m = ring_mem(16, 8, &len);
    u64ring r;
    cr_assert_eq(u64ring_init(&r, m, len, 16), 0);
    cr_assert_eq(cortex__ring_set_indices(&r.ring, UINT64_MAX - 20), 0);
    uint64_t seq = 0, expect = 0, buf[16];
    uint64_t state = 12345;
    for (int i = 0; i < 2000; i++) {
        size_t k = 1 + ((state = state * 6364136223846793005u + 1442695040888963407u) >> 60);
        uint64_t in[16];
        for (size_t j = 0; j < k; j++)
            in[j] = seq + j;
        ssize_t pushed = u64ring_push_n(&r, in, k);
        if (pushed > 0)
            seq += (uint64_t)pushed;
        else
            cr_assert_eq(pushed, -EAGAIN);
        ssize_t popped = u64ring_pop_n(&r, buf, 1 + (size_t)(state >> 61));
        cr_assert(popped > 0 || popped == -EAGAIN);
        for (ssize_t j = 0; j < popped; j++)
            cr_assert_eq(buf[j], expect++);
        cr_assert_leq(u64ring_len(&r), 16);
        cr_assert_eq(u64ring_len(&r), seq - expect);
    }
    cr_assert_gt(expect, 2000);
    free(m);
}

/*
 * The batch calls copy in the inline path when all n fit by the cached
 * index (24-byte elements here: spans and prefetches that are not whole
 * lines), and in the library otherwise; either way in order, wrapping at
 * the end, and never for a side the handle does not play or once closed.
 */
Test(ring, batch_calls_of_24_byte_elements_wrap_and_refuse_the_other_side)
{
    size_t len;
    void *m = ring_mem(8, sizeof(point3), &len);
    pring init, p, c;
    cr_assert_eq(pring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, sizeof(point3), _Alignof(point3), CORTEX_PRODUCER), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, sizeof(point3), _Alignof(point3), CORTEX_CONSUMER), 0);
    point3 in[8], out[8];
    double seq = 0, expect = 0;
    uint64_t state = 99;
    for (int i = 0; i < 3000; i++) {
        size_t k = 1 + ((state = state * 6364136223846793005u + 1442695040888963407u) >> 61);
        for (size_t j = 0; j < k; j++)
            in[j] = (point3){seq + (double)j, -(seq + (double)j), 0.5};
        ssize_t pushed = pring_push_n(&p, in, k);
        cr_assert(pushed > 0 || pushed == -EAGAIN, "push_n: %zd", pushed);
        if (pushed > 0)
            seq += (double)pushed;
        ssize_t popped = pring_pop_n(&c, out, 1 + (size_t)((state >> 58) & 7));
        cr_assert(popped > 0 || popped == -EAGAIN, "pop_n: %zd", popped);
        for (ssize_t j = 0; j < popped; j++, expect++)
            cr_assert(out[j].x == expect && out[j].y == -expect && out[j].z == 0.5, "element %.0f", expect);
    }
    cr_assert_gt(expect, 3000);
    cr_assert_eq(pring_pop_n(&p, out, 1), -EINVAL, "the producer's handle cannot pop");
    cr_assert_eq(pring_push_n(&c, in, 1), -EINVAL, "the consumer's handle cannot push");
    cr_assert_eq(pring_push_n(&p, NULL, 1), -EINVAL);
    cr_assert_eq(pring_pop_n(&c, NULL, 1), -EINVAL);
    cr_assert_eq(pring_close(&p), 0);
    cr_assert_eq(pring_push_n(&p, in, 1), -EINVAL, "closed");
    cr_assert_eq(pring_close(&c), 0);
    cr_assert_eq(pring_pop_n(&c, out, 1), -EINVAL, "closed");
    free(m);
}

Test(ring, reserve_commit_peek_release_spans)
{
    size_t len;
    void *m = ring_mem(8, 8, &len);
    u64ring r;
    cr_assert_eq(u64ring_init(&r, m, len, 8), 0);
    cr_assert_eq(cortex__ring_set_indices(&r.ring, 5), 0); /* slot 5: 3 contiguous slots before the end */
    uint64_t *w = NULL;
    const uint64_t *rd = NULL;
    cr_assert_eq(u64ring_reserve(&r, 8, &w), 3, "contiguous span only");
    w[0] = 10, w[1] = 11, w[2] = 12;
    cr_assert_eq(u64ring_commit(&r, 4), -EINVAL);
    cr_assert_eq(u64ring_len(&r), 0, "nothing visible before commit");
    cr_assert_eq(u64ring_commit(&r, 3), 0);
    cr_assert_eq(u64ring_reserve(&r, 8, &w), 5);
    for (int i = 0; i < 5; i++)
        w[i] = 13 + (uint64_t)i;
    cr_assert_eq(u64ring_commit(&r, 5), 0);
    cr_assert_eq(u64ring_reserve(&r, 1, &w), -EAGAIN);
    cr_assert_eq(u64ring_peek(&r, 100, &rd), 3);
    cr_assert_eq(rd[0], 10);
    cr_assert_eq(rd[2], 12);
    cr_assert_eq(u64ring_release(&r, 4), -EINVAL);
    cr_assert_eq(u64ring_release(&r, 2), 0);
    cr_assert_eq(u64ring_peek(&r, 100, &rd), 1);
    cr_assert_eq(rd[0], 12);
    cr_assert_eq(u64ring_release(&r, 1), 0);
    cr_assert_eq(u64ring_peek(&r, 2, &rd), 2);
    cr_assert_eq(rd[1], 14);
    cr_assert_eq(u64ring_release(&r, 2), 0);
    cr_assert_eq(u64ring_len(&r), 3);
    cr_assert_eq(u64ring_reserve(&r, 0, &w), -EINVAL);
    free(m);
}

Test(ring, static_storage_is_aligned_for_over_aligned_types)
{
    static wide4_storage mem;
    cr_assert_eq(_Alignof(wide4_storage), 128);
    wide4 r;
    cr_assert_eq(wide4_init_static(&r, &mem), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(wide4_push(&r, (wide128){.v = 7}), 0);
    wide128 out;
    cr_assert_eq(wide4_pop(&r, &out), 0);
    cr_assert_eq(out.v, 7);
}

Test(ring, spans_outdated_by_push_or_pop_are_refused)
{
    /* peek 4, pop them, release 4: the consumer index must never pass the producer's. */
    size_t len;
    void *m = ring_mem(8, 8, &len);
    u64ring r;
    cr_assert_eq(u64ring_init(&r, m, len, 8), 0);
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(u64ring_push(&r, i), 0);
    const uint64_t *rd = NULL;
    uint64_t v;
    cr_assert_eq(u64ring_peek(&r, 4, &rd), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(u64ring_pop(&r, &v), 0);
    cr_assert_eq(u64ring_release(&r, 4), -EINVAL);
    cr_assert_eq(u64ring_pop(&r, &v), -EAGAIN, "still empty: nothing unpublished is read");
    cr_assert_eq(u64ring_len(&r), 0);

    /* reserve 8, push one, commit 8: would publish a slot nobody wrote. */
    uint64_t *w = NULL;
    cr_assert_eq(u64ring_reserve(&r, 8, &w), 4); /* contiguous up to the end */
    cr_assert_eq(u64ring_push(&r, 100), 0);
    cr_assert_eq(u64ring_push(&r, 101), 0);
    cr_assert_eq(u64ring_push(&r, 102), 0);
    cr_assert_eq(u64ring_push(&r, 103), 0);
    cr_assert_eq(u64ring_push(&r, 104), 0);
    cr_assert_eq(u64ring_commit(&r, 4), -EINVAL, "only 3 slots are free now");
    cr_assert_eq(u64ring_len(&r), 5);
    for (uint64_t i = 100; i < 105; i++) {
        cr_assert_eq(u64ring_pop(&r, &v), 0);
        cr_assert_eq(v, i);
    }
    free(m);
}

Test(ring, struct_elements_and_static_capacity)
{
    size_t len = pring_required_size(4);
    void *m = aligned_alloc(64, 4096);
    pring r;
    cr_assert_eq(pring_init(&r, m, len, 4), 0);
    cr_assert_eq(pring_push(&r, (point3){1, 2, 3}), 0);
    point3 p;
    cr_assert_eq(pring_pop(&r, &p), 0);
    cr_assert(p.x == 1 && p.y == 2 && p.z == 3);
    cr_assert_eq(pring_capacity(&r), 4);
    free(m);

    small8 s;
    small8_storage st;
    cr_assert_eq(small8_init_static(&s, &st), 0);
    for (uint32_t i = 0; i < 8; i++)
        cr_assert_eq(small8_push(&s, i), 0);
    cr_assert_eq(small8_push(&s, 8), -EAGAIN);
    cr_assert_null(small8_region(&s));
}

Test(ring, segment_create_attach_roles_and_type_check)
{
    int key = nct_sysv_key();
    u64ring p, c, again;
    cr_assert_eq(u64ring_create(&p, CORTEX_KEY_SYSV(key), 64, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(u64ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(u64ring_attach(&again, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL), -EBUSY);
    cr_assert(strstr(cortex_last_error()->message, "producer"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64ring_attach(&again, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), -EBUSY);
    cr_assert_eq(u64ring_attach(&again, CORTEX_KEY_SYSV(key), (cortex_role)7, NULL), -EINVAL);
    /* Another element type: refused with both spellings in the message. */
    pring wrong;
    cr_assert_eq(pring_attach(&wrong, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "uint64_t"), "%s", cortex_last_error()->message);
    cr_assert(strstr(cortex_last_error()->message, "point3"), "%s", cortex_last_error()->message);
    for (uint64_t i = 0; i < 100; i++) {
        int rc = u64ring_push(&p, i);
        cr_assert(rc == 0 || (rc == -EAGAIN && i >= 64));
    }
    uint64_t v;
    for (uint64_t i = 0; i < 64; i++) {
        cr_assert_eq(u64ring_pop(&c, &v), 0);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(u64ring_pop(&c, &v), -EAGAIN);
    cr_assert_not_null(u64ring_region(&p));
    /* Wrong role for the operation. */
    cr_assert_eq(u64ring_pop(&p, &v), -EINVAL);
    cr_assert_eq(u64ring_push(&c, 1), -EINVAL);
    /* A closed consumer role can be claimed again only... never: the ring is finished. */
    cr_assert_eq(u64ring_close(&c), 0);
    cr_assert_eq(u64ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), -EPIPE);
    cr_assert_eq(u64ring_push(&p, 1), -EPIPE);
    cr_assert_eq(u64ring_close(&p), 0);
    cr_assert_eq(u64ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), -ENOENT, "owner removed it");
}

Test(ring, attach_validation_errors)
{
    int key = nct_sysv_key();
    cortex_region *raw = NULL;
    cortex_layout l = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    cr_assert_eq(cortex_region_create(&raw, CORTEX_KEY_SYSV(key), &l, NULL, NULL, NULL), 0);
    u64ring r;
    cr_assert_eq(u64ring_attach(&r, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "ring"), "%s", cortex_last_error()->message);
    cortex_ring_info info;
    cr_assert_eq(cortex_ring_inspect(raw, &info), -EPROTO);
    cortex_region_close(raw);

    /* Raw memory: every header field is checked. */
    size_t len;
    void *m = ring_mem(16, 8, &len);
    cr_assert_eq(u64ring_init(&r, m, len, 16), 0);
    cortex_ring_shared *sh = m;
    cortex_ring j;
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 8, 8, CORTEX_CONSUMER), 0);
    cortex_ring_close(&j);
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 4, 4, CORTEX_CONSUMER), -EPROTO, "element size");
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len - 1, 8, 8, CORTEX_CONSUMER), -EBADMSG, "short memory");
    cr_assert_eq(cortex_ring_attach_mem(&j, m, 100, 8, 8, CORTEX_CONSUMER), -EBADMSG, "shorter than a header");
    sh->capacity = 12; /* checksum no longer matches */
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 8, 8, CORTEX_CONSUMER), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "checksum"), "%s", cortex_last_error()->message);
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_ring_shared, check)); /* consistent but not a power of two */
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 8, 8, CORTEX_CONSUMER), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "power of two"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64ring_init(&r, m, len, 16), 0);
    sh->version = 99;
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 8, 8, CORTEX_CONSUMER), -EPROTO);
    cr_assert_eq(u64ring_init(&r, m, len, 16), 0);
    sh->magic = 0;
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 8, 8, CORTEX_CONSUMER), -EBADMSG);
    cr_assert_eq(u64ring_init(&r, m, len, 16), 0);
    sh->prod = 100; /* 100 items in a 16-slot ring */
    cr_assert_eq(cortex_ring_attach_mem(&j, m, len, 8, 8, CORTEX_CONSUMER), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "cannot be"), "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_ring_inspect_mem(m, len, &info), -EBADMSG);
    cr_assert_not(info.indices_ok);
    cr_assert_eq(info.capacity, 16);
    free(m);
}

/* A corrupt or hostile peer index is -EBADMSG, sticky, and never moves data out of bounds. */
Test(ring, hostile_indices_are_ebadmsg)
{
    size_t len;
    void *m = ring_mem(8, 8, &len);
    u64ring init, p, c;
    cr_assert_eq(u64ring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    cortex_ring_shared *sh = m;
    uint64_t v, buf[8];
    cr_assert_eq(u64ring_push(&p, 1), 0);
    cr_assert_eq(u64ring_pop(&c, &v), 0);
    /* producer index claims 9 items in an 8-slot ring */
    sh->prod = 1 + 9;
    cr_assert_eq(u64ring_pop(&c, &v), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "producer index 10"), "%s", cortex_last_error()->message);
    sh->prod = 1; /* even if it looks fine again, the handle stays poisoned */
    cr_assert_eq(u64ring_pop(&c, &v), -EBADMSG);
    cr_assert_eq(u64ring_pop_n(&c, buf, 8), -EBADMSG);
    cr_assert_eq(u64ring_pop_wait(&c, &v, 1000000), -EBADMSG);

    /* producer index moving backwards */
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 0, 0, CORTEX_BOTH_SIDES), 0);
    sh->prod = 5;
    cr_assert_eq(u64ring_pop(&c, &v), 0); /* sees 4 items */
    sh->prod = 3;
    cr_assert_eq(u64ring_pop_n(&c, buf, 3), 3); /* from the cached copy */
    cr_assert_eq(u64ring_pop(&c, &v), -EBADMSG);

    /* consumer index beyond the producer's, for the producer */
    cr_assert_eq(u64ring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_BOTH_SIDES), 0);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(u64ring_push(&p, (uint64_t)i), 0);
    sh->cons = 50;
    cr_assert_eq(u64ring_push(&p, 9), -EBADMSG);
    cr_assert_eq(u64ring_push_n(&p, buf, 2), -EBADMSG);
    void *span;
    cr_assert_eq(cortex_ring_reserve(&p.ring, 1, &span), -EBADMSG);
    free(m);
}

Test(ring, timeouts_are_honoured)
{
    size_t len;
    void *m = ring_mem(2, 8, &len);
    u64ring r;
    cr_assert_eq(u64ring_init(&r, m, len, 2), 0);
    uint64_t v;
    int64_t t0 = nct_now_ms();
    cr_assert_eq(u64ring_pop_wait(&r, &v, 0), -ETIMEDOUT);
    cr_assert_eq(u64ring_pop_wait(&r, &v, 80 * 1000000), -ETIMEDOUT);
    int64_t dt = nct_now_ms() - t0;
    cr_assert(dt >= 79 && dt < 2000, "pop_wait(80 ms) took %lld ms", (long long)dt);
    cr_assert_eq(u64ring_push(&r, 1), 0);
    cr_assert_eq(u64ring_push(&r, 2), 0);
    t0 = nct_now_ms();
    cr_assert_eq(u64ring_push_wait(&r, 3, 50 * 1000000), -ETIMEDOUT);
    dt = nct_now_ms() - t0;
    cr_assert(dt >= 49 && dt < 2000, "push_wait(50 ms) took %lld ms", (long long)dt);
    cr_assert_eq(u64ring_pop_wait(&r, &v, -1), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(u64ring_push_wait(&r, 3, 0), 0);
    free(m);
}

Test(ring, close_drains_then_epipe)
{
    size_t len;
    void *m = ring_mem(8, 8, &len);
    u64ring init, p, c;
    cr_assert_eq(u64ring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    for (uint64_t i = 0; i < 3; i++)
        cr_assert_eq(u64ring_push(&p, i), 0);
    cr_assert_eq(u64ring_close(&p), 0);
    cr_assert_eq(u64ring_close(&p), 0, "closing twice is harmless");
    cr_assert_eq(u64ring_push(&p, 9), -EINVAL, "a closed handle");
    uint64_t v;
    cr_assert_eq(u64ring_pop(&c, &v), 0);
    cr_assert_eq(u64ring_pop_wait(&c, &v, 1000000000), 0);
    cr_assert_eq(v, 1);
    const uint64_t *span;
    cr_assert_eq(u64ring_peek(&c, 4, &span), 1);
    cr_assert_eq(u64ring_release(&c, 1), 0);
    int64_t t0 = nct_now_ms();
    cr_assert_eq(u64ring_pop_wait(&c, &v, 5000000000), -EPIPE);
    cr_assert_lt(nct_now_ms() - t0, 1000, "EPIPE at once, not after the timeout");
    cr_assert_eq(u64ring_pop(&c, &v), -EPIPE);

    /* consumer closes: the producer gets -EPIPE at once */
    cr_assert_eq(u64ring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    cr_assert_eq(u64ring_push(&p, 1), 0);
    cr_assert_eq(u64ring_close(&c), 0);
    cr_assert_eq(u64ring_push(&p, 2), -EPIPE);
    cr_assert_eq(u64ring_push_wait(&p, 2, -1), -EPIPE);
    uint64_t two[2] = {1, 2};
    cr_assert_eq(u64ring_push_n(&p, two, 2), -EPIPE);
    free(m);
}

Test(ring, inspect_reports_state)
{
    int key = nct_sysv_key();
    u64ring p;
    cr_assert_eq(u64ring_create(&p, CORTEX_KEY_SYSV(key), 32, CORTEX_PRODUCER, NULL), 0);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(u64ring_push(&p, i), 0);
    cortex_ring_info info;
    cr_assert_eq(cortex_ring_inspect(u64ring_region(&p), &info), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(info.capacity, 32);
    cr_assert_eq(info.elem_size, 8);
    cr_assert_eq(info.fill, 5);
    cr_assert_eq(info.prod, 5);
    cr_assert_eq(info.cons, 0);
    cr_assert(info.indices_ok);
    cr_assert_eq(info.prod_pid, getpid());
    cr_assert(info.prod_alive);
    cr_assert_eq(info.cons_pid, 0);
    cr_assert_not(info.cons_alive);
    cr_assert_not(info.prod_closed);
    cr_assert_eq(cortex_ring_inspect(NULL, &info), -EINVAL);
    cr_assert_eq(u64ring_close(&p), 0);
}

Test(ring, open_or_create_attaches_and_checks_the_capacity)
{
    char name[64];
    nct_name(name, "ring-ooc");
    cortex_opts o = CORTEX_OPTS_INIT;
    o.mode = CORTEX_OPEN_OR_CREATE;
    u64ring a, b, c;
    cr_assert_eq(u64ring_create(&a, CORTEX_KEY_NAME(name), 16, CORTEX_PRODUCER, &o), 0, "%s",
                 cortex_last_error()->message);
    cr_assert(cortex_region_created(u64ring_region(&a)));
    cr_assert_eq(u64ring_create(&b, CORTEX_KEY_NAME(name), 16, CORTEX_CONSUMER, &o), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_not(cortex_region_created(u64ring_region(&b)), "the second one attached");
    cr_assert_eq(u64ring_push(&a, 77), 0);
    uint64_t v;
    cr_assert_eq(u64ring_pop(&b, &v), 0);
    cr_assert_eq(v, 77);
    cr_assert_eq(u64ring_create(&c, CORTEX_KEY_NAME(name), 32, CORTEX_CONSUMER, &o), -EPROTO,
                 "another capacity is another payload size");
    cr_assert_eq(u64ring_close(&b), 0);
    cr_assert_eq(u64ring_close(&a), 0);
}

Test(ring, type_tag_overrides_the_type_spelling)
{
    int key = nct_sysv_key();
    cortex_opts o = CORTEX_OPTS_INIT;
    o.type_tag = "telemetry.v1";
    u64ring p, c;
    cr_assert_eq(u64ring_create(&p, CORTEX_KEY_SYSV(key), 8, CORTEX_PRODUCER, &o), 0);
    cr_assert_eq(u64ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, NULL), -EPROTO,
                 "the default tag 'uint64_t' does not match");
    cr_assert(strstr(cortex_last_error()->message, "telemetry.v1"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64ring_attach(&c, CORTEX_KEY_SYSV(key), CORTEX_CONSUMER, &o), 0);
    cr_assert_eq(u64ring_close(&c), 0);
    cr_assert_eq(u64ring_close(&p), 0);
}

/* ---- the spin phase of *_wait (cortex_ring_set_spin / cortex_ring_set_default_spin) ---- */

struct spin_waiter {
    cortex_ring *c;
    pthread_t thread;
    _Atomic pid_t tid;
    _Atomic int64_t start_ms; /* the waiter's clock just before its pop_wait (0: not yet) */
    int rc;
    uint64_t got;
};

static void *spin_waiter_main(void *arg)
{
    struct spin_waiter *w = arg;
    atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
    atomic_store(&w->start_ms, nct_now_ms());
    w->rc = cortex_ring_pop_wait(w->c, &w->got, 5 * INT64_C(1000000000));
    return NULL;
}

/* The scheduler state letter of thread @p tid of this process ('S': asleep in the futex). */
static char thread_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

/*
 * Starts a consumer in pop_wait on an empty ring and looks for its sleep
 * announcement for @p poll_ms of wall-clock time.  Returns how many ms after
 * the waiter's start (its clock just before pop_wait) the announcement had
 * certainly been made (the clock read after the look that saw it), or -1 if
 * no look saw it.  Clock readings, not a count of naps: on one CPU shared
 * with the spinning waiter, 1000 naps of 100 us took more than a second,
 * and a 1 s spin phase had ended by then.
 */
static int64_t waiter_announced_after(struct spin_waiter *w, cortex_ring *c, void *mem, int poll_ms)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    int64_t t0 = nct_now_ms();
    cr_assert_eq(pthread_create(&w->thread, NULL, spin_waiter_main, w), 0);
    cortex__a32 *waiting = &((cortex_ring_shared *)mem)->cons_waiting;
    for (;;) {
        bool announced = cortex__ld32(waiting, CX_ACQUIRE) != 0;
        int64_t now = nct_now_ms();
        if (announced) {
            int64_t start;
            while ((start = atomic_load(&w->start_ms)) == 0) /* stored before its pop_wait: at once */
                usleep(100);
            return now - start;
        }
        if (now - t0 >= poll_ms)
            return -1;
        usleep(100);
    }
}

static void waiter_finish(struct spin_waiter *w, cortex_ring *p, uint64_t v)
{
    cr_assert_eq(cortex_ring_push_lib(p, &v), 0);
    pthread_join(w->thread, NULL);
    cr_assert_eq(w->rc, 0, "%s", cortex_last_error()->message);
    cr_assert_eq(w->got, v);
}

Test(ring, wait_spin_knob_zero_sleeps_at_once_and_long_spins_stay_awake)
{
    size_t len;
    void *m = ring_mem(8, 8, &len);
    cortex_ring init, p, c;
    cr_assert_eq(cortex_ring_init(&init, m, len, 8, 8, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c, m, len, 8, 8, CORTEX_CONSUMER), 0);
    cr_assert_eq(c.spin_ns, -1, "a handle starts with the process default");
    struct spin_waiter w;

    /* a process default of 1 s: the waiter still spins 100 ms later, not announced, not asleep */
    cr_assert_eq(cortex_ring_set_default_spin(CORTEX_RING_SPIN_MAX_NS), 0);
    int64_t at = waiter_announced_after(&w, &c, m, 100);
    cr_assert(at < 0 || at >= 1000, "a 1 s spin phase announced a sleep %lld ms after the call", (long long)at);
    waiter_finish(&w, &p, 1);

    /* the handle's 0 overrides it: asleep (announced, then blocked in the kernel) right after the call */
    cr_assert_eq(cortex_ring_set_spin(&c, 0), 0);
    /* (a handle that ignored its 0 would spin the 1 s default first) */
    at = waiter_announced_after(&w, &c, m, 10000);
    cr_assert(at >= 0, "spin 0: the waiter never announced its sleep");
    cr_assert_lt(at, 1000, "spin 0: the waiter announced its sleep only %lld ms after the call", (long long)at);
    char st = '?';
    for (int i = 0; i < 2000 && (st = thread_state(atomic_load(&w.tid))) != 'S'; i++)
        usleep(1000);
    cr_assert_eq(st, 'S', "spin 0: the waiter is in state %c, not asleep", st);
    waiter_finish(&w, &p, 2);

    /* back to the process default; then a default of 0 does the same for every handle left at -1 */
    cr_assert_eq(cortex_ring_set_spin(&c, -1), 0);
    cr_assert_eq(cortex_ring_set_default_spin(0), 0);
    at = waiter_announced_after(&w, &c, m, 10000);
    cr_assert(at >= 0, "default 0: the waiter never announced its sleep");
    cr_assert_lt(at, 1000, "default 0: the waiter announced its sleep only %lld ms after the call", (long long)at);
    waiter_finish(&w, &p, 3);
    cr_assert_eq(cortex_ring_set_default_spin(CORTEX_RING_SPIN_DEFAULT_NS), 0);

    /* range checks */
    cr_assert_eq(cortex_ring_set_spin(&c, -2), -EINVAL);
    cr_assert_eq(cortex_ring_set_spin(&c, CORTEX_RING_SPIN_MAX_NS + 1), -EINVAL);
    cr_assert_eq(cortex_ring_set_default_spin(-1), -EINVAL);
    cr_assert_eq(cortex_ring_close(&c), 0);
    cr_assert_eq(cortex_ring_set_spin(&c, 0), -EINVAL);
    cr_assert_eq(cortex_ring_close(&p), 0);
    free(m);
}
