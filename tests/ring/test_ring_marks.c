/* SPDX-License-Identifier: MIT */
/*
 * The ring's marks publication scheme (FastForward-style empty marks, 8-byte
 * elements): edges and laps, the reserved value, batches and spans, the
 * header record, hostile bytes, the takeover repairs, close and waits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nctest.h"
#include "ring/ring_layout.h"

TestSuite(ring_marks, .fini = nct_cleanup, .timeout = 30);

SPSC_RING_DECLARE_MARKED(hring, cortex_handle, CORTEX_HANDLE_NULL);
SPSC_RING_DECLARE_MARKED(mring, uint64_t, UINT64_MAX);
SPSC_RING_DECLARE(u64ring, uint64_t);

static void *ring_mem(uint32_t cap, size_t *len)
{
    *len = cortex_ring_required_size(cap, 8);
    cr_assert_gt(*len, 0);
    void *m = aligned_alloc(64, (*len + 63) & ~(size_t)63);
    cr_assert_not_null(m);
    memset(m, 0xee, *len); /* init must set every slot to the empty value itself */
    return m;
}

/* Lays a marked ring of @p cap over @p m and joins it as producer @p p and consumer @p c. */
static void join_pair(void *m, size_t len, uint32_t cap, hring *p, hring *c)
{
    hring init;
    cr_assert_eq(hring_init(&init, m, len, cap), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p->ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c->ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
}

/* The slots of the marked ring at @p m, as plain words (a third party's view). */
static uint64_t *slot_word(void *m)
{
    return (uint64_t *)(void *)((unsigned char *)m + ((cortex_ring_shared *)m)->slots_offset);
}

/* Fill to capacity, one more is -EAGAIN, drain in order; ping-pong over every slot; batches; several laps. */
static void edges(uint32_t cap, uint64_t start)
{
    size_t len;
    void *m = ring_mem(cap, &len);
    hring r;
    cr_assert_eq(hring_init(&r, m, len, cap), 0, "%s", cortex_last_error()->message);
    if (start)
        cr_assert_eq(cortex__ring_set_indices(&r.ring, start), 0);
    uint64_t seq = 1, expect = 1, v;
    for (int lap = 0; lap < 5; lap++) {
        cr_assert(hring_is_empty(&r));
        cr_assert_eq(hring_pop(&r, &v), -EAGAIN);
        for (uint32_t i = 0; i < cap; i++) {
            cr_assert_eq(hring_push(&r, seq++), 0, "cap %u push %u: %s", cap, i, cortex_last_error()->message);
            cr_assert_eq(hring_len(&r), i + 1);
        }
        cr_assert_eq(hring_push(&r, 999), -EAGAIN, "cap %u: push into a full ring", cap);
        for (uint32_t i = 0; i < cap; i++) {
            cr_assert_eq(hring_pop(&r, &v), 0);
            cr_assert_eq(v, expect++);
        }
        cr_assert_eq(hring_pop(&r, &v), -EAGAIN);
        for (uint32_t i = 0; i <= cap; i++) {
            cr_assert_eq(hring_push(&r, seq++), 0);
            cr_assert_eq(hring_pop(&r, &v), 0);
            cr_assert_eq(v, expect++);
        }
        /* partly full rings: the producer's line check must not skip a slot still in use */
        for (uint32_t i = 0; i < cap / 2 + 1 && i < cap; i++)
            cr_assert_eq(hring_push(&r, seq++), 0);
        for (uint32_t i = 0; i < cap / 2 + 1 && i < cap; i++) {
            cr_assert_eq(hring_pop(&r, &v), 0);
            cr_assert_eq(v, expect++);
        }
    }
    /* the consumer finding the ring empty gives back the slots of the line it was reading (lazy freeing) */
    cr_assert_eq(hring_pop(&r, &v), -EAGAIN);
    uint64_t in[2100], out[2100];
    for (size_t i = 0; i < 2100; i++)
        in[i] = seq + i;
    cr_assert_eq(hring_push_n(&r, in, 2100), (ssize_t)cap);
    cr_assert_eq(hring_push_n(&r, in, 3), -EAGAIN);
    cr_assert_eq(hring_pop_n(&r, out, 2100), (ssize_t)cap);
    for (uint32_t i = 0; i < cap; i++)
        cr_assert_eq(out[i], in[i]);
    cr_assert_eq(hring_pop_n(&r, out, 5), -EAGAIN);
    hring_close(&r);
    free(m);
}

Test(ring_marks, edges_capacity_1) { edges(1, 0); }
Test(ring_marks, edges_capacity_2) { edges(2, 0); }
Test(ring_marks, edges_capacity_8) { edges(8, 0); }
Test(ring_marks, edges_capacity_1024) { edges(1024, 0); }
Test(ring_marks, edges_across_2_pow_64_capacity_4) { edges(4, UINT64_MAX - 2); }
Test(ring_marks, edges_across_2_pow_64_capacity_1024) { edges(1024, UINT64_MAX - 700); }

/*
 * Lazy freeing: from 16 slots up the consumer writes a cache line's empty
 * marks when it leaves the line (8 slots) or finds the ring empty, never per
 * message; a smaller ring frees every slot at once.
 */
Test(ring_marks, the_consumer_frees_a_line_when_it_leaves_it_or_finds_the_ring_empty)
{
    size_t len;
    void *m = ring_mem(32, &len);
    hring p, c;
    join_pair(m, len, 32, &p, &c);
    uint64_t *slot = slot_word(m), v, seq = 1, expect = 1;
    for (int i = 0; i < 32; i++)
        cr_assert_eq(hring_push(&p, seq++), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(hring_pop(&c, &v), 0);
        cr_assert_eq(v, expect++);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_neq(slot[i], CORTEX_HANDLE_NULL, "slot %d: taken, still in the line being read", i);
    cr_assert_eq(hring_push(&p, seq), -EAGAIN, "taken slots of the current line are not free yet");
    for (int i = 3; i < 8; i++) {
        cr_assert_eq(hring_pop(&c, &v), 0);
        cr_assert_eq(v, expect++);
    }
    for (int i = 0; i < 8; i++)
        cr_assert_eq(slot[i], CORTEX_HANDLE_NULL, "slot %d: freed when the consumer left its line", i);
    cr_assert_eq(slot[8], 9);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(hring_push(&p, seq++), 0, "push %d into the freed line", i);
    cr_assert_eq(hring_push(&p, seq), -EAGAIN);
    while (expect < seq) {
        cr_assert_eq(hring_pop(&c, &v), 0);
        cr_assert_eq(v, expect++);
    }
    cr_assert_eq(hring_push(&p, seq++), 0); /* index 40: the first of a line */
    cr_assert_eq(hring_pop(&c, &v), 0);
    cr_assert_eq(v, expect++);
    cr_assert_neq(slot[40 % 32], CORTEX_HANDLE_NULL, "taken, in the line being read");
    cr_assert_eq(hring_pop(&c, &v), -EAGAIN);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(slot[i], CORTEX_HANDLE_NULL, "slot %d: freed once the consumer found the ring empty", i);
    hring_close(&p);
    hring_close(&c);
    free(m);

    /* below two lines every pop frees its slot */
    m = ring_mem(8, &len);
    join_pair(m, len, 8, &p, &c);
    slot = slot_word(m);
    cr_assert_eq(hring_push(&p, 5), 0);
    cr_assert_eq(hring_push(&p, 6), 0);
    cr_assert_eq(hring_pop(&c, &v), 0);
    cr_assert_eq(slot[0], CORTEX_HANDLE_NULL);
    cr_assert_eq(slot[1], 6);
    hring_close(&p);
    hring_close(&c);
    free(m);
}

Test(ring_marks, the_empty_value_cannot_be_pushed)
{
    size_t len;
    void *m = ring_mem(16, &len);
    mring r;
    cr_assert_eq(mring_init(&r, m, len, 16), 0);
    cr_assert_eq(mring_empty(), UINT64_MAX);
    cr_assert_eq(mring_push(&r, UINT64_MAX), -EINVAL);
    cr_assert(strstr(cortex_last_error()->message, "reserves for an empty slot"), "%s", cortex_last_error()->message);
    cr_assert_eq(mring_push(&r, 0), 0, "0 is an ordinary value in this ring");
    uint64_t three[3] = {1, UINT64_MAX, 3};
    cr_assert_eq(mring_push_n(&r, three, 3), -EINVAL);
    cr_assert_eq(mring_len(&r), 1, "a refused batch moves nothing");
    uint64_t *span = NULL;
    cr_assert_eq(mring_reserve(&r, 2, &span), 2);
    span[0] = 5;
    span[1] = UINT64_MAX;
    cr_assert_eq(mring_commit(&r, 2), -EINVAL);
    cr_assert_eq(mring_len(&r), 1);
    uint64_t v;
    cr_assert_eq(mring_pop(&r, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(mring_pop(&r, &v), -EAGAIN);
    free(m);
}

Test(ring_marks, spans_stage_writes_and_read_in_place)
{
    size_t len;
    void *m = ring_mem(16, &len);
    hring r;
    cr_assert_eq(hring_init(&r, m, len, 16), 0);
    cortex_handle *w = NULL;
    cr_assert_eq(hring_reserve(&r, 100, &w), 8, "the staging area holds one cache line");
    cortex_ring_shared *sh = m;
    for (int i = 0; i < 8; i++)
        w[i] = 100 + (uint64_t)i;
    cr_assert_eq(cortex_ring_len(&r.ring), 0, "nothing visible before the commit");
    cr_assert_eq(hring_commit(&r, 5), 0);
    cr_assert_eq(hring_len(&r), 5);
    cr_assert_eq(sh->prod, 5);
    const cortex_handle *rd = NULL;
    cr_assert_eq(hring_peek(&r, 16, &rd), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(rd[i], 100 + (uint64_t)i);
    cr_assert_eq(hring_release(&r, 3), 0);
    cr_assert_eq(hring_release(&r, 1), -EINVAL, "released twice");
    cr_assert_eq(hring_peek(&r, 1, &rd), 1);
    cr_assert_eq(rd[0], 103);
    cortex_handle v;
    cr_assert_eq(hring_pop(&r, &v), 0);
    cr_assert_eq(hring_pop(&r, &v), 0);
    cr_assert_eq(v, 104);
    cr_assert_eq(hring_release(&r, 1), -EINVAL, "a pop since the peek took the slot");
    /* a span across the end of the slots (staged, so not limited to the contiguous part) */
    cr_assert_eq(cortex__ring_set_indices(&r.ring, 13), 0);
    cr_assert_eq(hring_reserve(&r, 6, &w), 6);
    for (int i = 0; i < 6; i++)
        w[i] = 200 + (uint64_t)i;
    cr_assert_eq(hring_commit(&r, 6), 0);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(hring_pop(&r, &v), 0);
        cr_assert_eq(v, 200 + (uint64_t)i);
    }
    free(m);
}

Test(ring_marks, the_header_records_the_scheme)
{
    size_t len;
    void *m = ring_mem(8, &len);
    mring r;
    cr_assert_eq(mring_init(&r, m, len, 8), 0);
    cr_assert_eq(mring_push(&r, 42), 0);
    cortex_ring_info info;
    cr_assert_eq(cortex_ring_inspect_mem(m, len, &info), 0);
    cr_assert_eq(info.version, 2);
    cr_assert_eq(info.scheme, CORTEX_RING_SCHEME_MARKS);
    cr_assert_eq(info.empty, UINT64_MAX);
    cr_assert_eq(info.fill, 1);
    /* an index-scheme wrapper of the same type joins it and follows the marks */
    u64ring c;
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    cr_assert_eq(c.ring.marks, 1);
    uint64_t v;
    cr_assert_eq(u64ring_pop(&c, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(u64ring_pop(&c, &v), -EAGAIN);
    u64ring_close(&c);

    cortex_ring_shared *sh = m;
    cortex_ring_shared saved = *sh;
    /* an unknown scheme, consistent checksum: refused as corrupt */
    sh->scheme = 7;
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_ring_shared, check));
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 0, 0, CORTEX_CONSUMER), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "scheme 7"), "%s", cortex_last_error()->message);
    /* marks with an element that is not 8 bytes */
    *sh = saved;
    sh->elem_size = 4;
    sh->total_size = sh->slots_offset + 8 * 4;
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_ring_shared, check));
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 0, 0, CORTEX_CONSUMER), -EBADMSG);
    /* an index ring with an empty value set */
    *sh = saved;
    sh->scheme = CORTEX_RING_SCHEME_INDEX;
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_ring_shared, check));
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 0, 0, CORTEX_CONSUMER), -EBADMSG);
    /* the empty value changed without the checksum */
    *sh = saved;
    sh->empty = 0;
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 0, 0, CORTEX_CONSUMER), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "checksum"), "%s", cortex_last_error()->message);
    /* a version 1 ring (before the scheme was recorded) */
    *sh = saved;
    sh->version = 1;
    sh->check = cortex__fnv1a32(sh, offsetof(cortex_ring_shared, check));
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 0, 0, CORTEX_CONSUMER), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "version 1"), "%s", cortex_last_error()->message);
    /* marked rings need 8-byte elements aligned to at most 8 */
    cr_assert_eq(cortex_ring_init_marked(&c.ring, m, len, 8, 16, 0), -EINVAL);
    free(m);
}

Test(ring_marks, hostile_bytes_never_reach_outside_the_slots)
{
    size_t len;
    void *m = ring_mem(8, &len);
    hring p, c;
    join_pair(m, len, 8, &p, &c);
    cortex_ring_shared *sh = m;
    uint64_t *slot = slot_word(m);
    /* a third party fills every slot with garbage: the consumer takes it as messages (values, not
     * addresses), the producer sees a full ring */
    for (int i = 0; i < 8; i++)
        slot[i] = 0xdead0000u + (uint64_t)i;
    cr_assert_eq(hring_push(&p, 1), -EAGAIN);
    uint64_t v, buf[16];
    cr_assert_eq(hring_pop(&c, &v), 0);
    cr_assert_eq(v, 0xdead0000u);
    cr_assert_eq(hring_pop_n(&c, buf, 16), 7);
    cr_assert_eq(hring_push(&p, 1), 0, "freed by the consumer");
    /* indices that cannot be are refused at attach (a takeover trusts nothing) */
    hring q;
    sh->prod = 1000;
    sh->cons = 3;
    cr_assert_eq(cortex_ring_attach_mem(&q.ring, m, len, 8, 8, CORTEX_BOTH_SIDES), -EBADMSG);
    free(m);
}

Test(ring_marks, a_dead_producers_claimed_holes_are_reused)
{
    size_t len;
    void *m = ring_mem(8, &len);
    hring init, c, p;
    cr_assert_eq(hring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    cortex_ring_shared *sh = m;
    uint64_t *slot = slot_word(m);
    /* a dead producer claimed [0, 5) with push_n and wrote only 0 and 1 */
    slot[0] = 10;
    slot[1] = 11;
    sh->prod = 5;
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(p.ring.p.head, 2, "the new producer starts at the first hole");
    cr_assert_eq(sh->prod, 2);
    for (uint64_t i = 12; i < 18; i++)
        cr_assert_eq(hring_push(&p, i), 0);
    cr_assert_eq(hring_push(&p, 99), -EAGAIN);
    uint64_t v;
    for (uint64_t i = 10; i < 18; i++) {
        cr_assert_eq(hring_pop(&c, &v), 0);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(hring_pop(&c, &v), -EAGAIN);
    /* the same when the consumer already took what was written: the head is the consumer's index */
    hring_close(&p);
    sh->side[0].closed = 0;
    cr_assert_eq(hring_pop(&c, &v), -EAGAIN);
    sh->prod = 8 + 3; /* claimed [8, 11), none written; taken up to 8 */
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    cr_assert_eq(p.ring.p.head, 8);
    cr_assert_eq(hring_push(&p, 30), 0);
    cr_assert_eq(hring_pop(&c, &v), 0);
    cr_assert_eq(v, 30);
    free(m);
}

Test(ring_marks, a_dead_consumers_taken_slots_are_freed)
{
    size_t len;
    void *m = ring_mem(8, &len);
    hring init, c, p;
    cr_assert_eq(hring_init(&init, m, len, 8), 0);
    cr_assert_eq(cortex_ring_attach_mem(&p.ring, m, len, 8, 8, CORTEX_PRODUCER), 0);
    for (uint64_t i = 1; i <= 6; i++)
        cr_assert_eq(hring_push(&p, i), 0);
    cortex_ring_shared *sh = m;
    uint64_t *slot = slot_word(m);
    /* a dead consumer took [0, 4) (cons = 4) and freed only slot 0 */
    slot[0] = CORTEX_HANDLE_NULL;
    sh->cons = 4;
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(slot[i], CORTEX_HANDLE_NULL, "slot %d freed by the takeover", i);
    uint64_t v;
    cr_assert_eq(hring_pop(&c, &v), 0);
    cr_assert_eq(v, 5);
    /* the producer can use the whole ring again */
    for (uint64_t i = 7; i <= 13; i++)
        cr_assert_eq(hring_push(&p, i), 0, "push %llu: %s", (unsigned long long)i, cortex_last_error()->message);
    cr_assert_eq(hring_push(&p, 99), -EAGAIN);
    for (uint64_t i = 6; i <= 13; i++) {
        cr_assert_eq(hring_pop(&c, &v), 0);
        cr_assert_eq(v, i);
    }
    /* a slot below the consumer's index that the producer rewrote (a lap later) is not touched */
    hring_close(&c);
    sh->side[1].closed = 0;
    for (uint64_t i = 14; i <= 21; i++)
        cr_assert_eq(hring_push(&p, i), 0);
    cr_assert_eq(cortex_ring_attach_mem(&c.ring, m, len, 8, 8, CORTEX_CONSUMER), 0);
    for (uint64_t i = 14; i <= 21; i++) {
        cr_assert_eq(hring_pop(&c, &v), 0);
        cr_assert_eq(v, i);
    }
    free(m);
}

Test(ring_marks, close_drains_then_epipe)
{
    size_t len;
    void *m = ring_mem(8, &len);
    hring p, c;
    join_pair(m, len, 8, &p, &c);
    for (uint64_t i = 1; i <= 3; i++)
        cr_assert_eq(hring_push(&p, i), 0);
    cr_assert_eq(hring_close(&p), 0);
    uint64_t v;
    for (uint64_t i = 1; i <= 3; i++) {
        cr_assert_eq(hring_pop_wait(&c, &v, 1000000000), 0);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(hring_pop_wait(&c, &v, 5000000000), -EPIPE);
    cr_assert_eq(hring_close(&c), 0);
    /* the consumer closes: pushes get -EPIPE at once */
    join_pair(m, len, 8, &p, &c);
    cr_assert_eq(hring_close(&c), 0);
    cr_assert_eq(hring_push(&p, 1), -EPIPE);
    cr_assert_eq(hring_push_wait(&p, 1, -1), -EPIPE);
    free(m);
}

struct waiter {
    hring *r;
    uint64_t n;
    int rc;
};

static void *consume_waiting(void *arg)
{
    struct waiter *w = arg;
    for (uint64_t i = 1; i <= w->n; i++) {
        uint64_t v = 0;
        int rc = hring_pop_wait(w->r, &v, 10 * INT64_C(1000000000));
        if (rc != 0 || v != i) {
            w->rc = rc ? rc : -EBADMSG;
            return NULL;
        }
    }
    return NULL;
}

/* A lone message with a sleeping consumer is delivered (and wakes it); a full ring's producer sleeps and is woken. */
Test(ring_marks, waits_wake_for_lone_messages_and_free_slots)
{
    size_t len;
    void *m = ring_mem(4, &len);
    hring p, c;
    join_pair(m, len, 4, &p, &c);
    struct waiter w = {&c, 200, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, consume_waiting, &w), 0);
    for (uint64_t i = 1; i <= 200; i++) {
        if (i % 50 == 0)
            usleep(30000); /* the consumer is asleep in its futex by now: this lone push must wake it */
        cr_assert_eq(hring_push_wait(&p, i, 10 * INT64_C(1000000000)), 0, "%s", cortex_last_error()->message);
    }
    pthread_join(t, NULL);
    cr_assert_eq(w.rc, 0, "consumer: %d", w.rc);
    free(m);
}

Test(ring_marks, segment_create_and_attach)
{
    int key = nct_sysv_key();
    hring c, p;
    cr_assert_eq(hring_create(&c, CORTEX_KEY_SYSV(key), 64, CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(hring_attach(&p, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL), 0);
    cr_assert_eq(p.ring.marks, 1);
    cr_assert_eq(hring_push(&p, 77), 0);
    cortex_ring_info info;
    cr_assert_eq(cortex_ring_inspect(hring_region(&c), &info), 0);
    cr_assert_eq(info.scheme, CORTEX_RING_SCHEME_MARKS);
    cr_assert_eq(info.empty, CORTEX_HANDLE_NULL);
    uint64_t v;
    cr_assert_eq(hring_pop(&c, &v), 0);
    cr_assert_eq(v, 77);
    hring_close(&p);
    hring_close(&c);
}
