/* SPDX-License-Identifier: MIT */
/*
 * The channel in one process: both sides on two handles, the typed and the
 * variable-size forms, the errors of each call, the fast copy-in, and
 * hostile bytes in the channel header and in the ring's records.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel/channel_layout.h"
#include "internal.h"
#include "nctest.h"

TestSuite(channel, .fini = nct_cleanup, .timeout = 60);

struct frame {
    uint64_t seq;
    uint64_t words[7];
};

CHANNEL_DECLARE(frames, struct frame);
CORTEX_CHANNEL_VAR_DECLARE(blobs, uint32_t);

enum { SLOTS = 8 };

static void fill(struct frame *f, uint64_t seq)
{
    f->seq = seq;
    for (int i = 0; i < 7; i++)
        f->words[i] = seq * 7 + (uint64_t)i;
}

static int intact(const struct frame *f, uint64_t seq)
{
    if (f->seq != seq)
        return 0;
    for (int i = 0; i < 7; i++)
        if (f->words[i] != seq * 7 + (uint64_t)i)
            return 0;
    return 1;
}

/* A producer (creator) of @p slots slots and a consumer on the same segment, with default magazines. */
static void open_sized(frames *p, frames *c, char *name, const char *tag, uint32_t slots)
{
    cr_assert_eq(frames_create(p, CORTEX_KEY_NAME(nct_name(name, tag)), slots, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(frames_attach(c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
}

/* A producer and a consumer of SLOTS slots. */
static void open_pair(frames *p, frames *c, char *name)
{
    open_sized(p, c, name, "ch", SLOTS);
    /* Exact slot counts below: no released slot stays cached by the consumer. */
    cr_assert_eq(cortex_channel_magazine(frames_core(c), 0), 0);
}

Test(channel, loan_publish_take_release_in_order)
{
    char name[64];
    frames p, c;
    open_pair(&p, &c, name);
    for (uint64_t round = 0; round < 5; round++) {
        struct frame *m[SLOTS];
        for (int i = 0; i < SLOTS; i++) {
            cr_assert_eq(frames_loan(&p, &m[i]), 0, "%s", cortex_last_error()->message);
            fill(m[i], round * 100 + (uint64_t)i);
        }
        struct frame *extra;
        cr_assert_eq(frames_loan(&p, &extra), -EAGAIN, "every slot is loaned");
        for (int i = 0; i < SLOTS; i++)
            cr_assert_eq(frames_publish(&p, m[i]), 0, "%s", cortex_last_error()->message);
        cortex_channel_stats st;
        cr_assert_eq(frames_stats(&c, &st), 0);
        cr_assert_eq(st.in_flight, SLOTS);
        cr_assert_eq(st.queued, SLOTS);
        for (int i = 0; i < SLOTS; i++) {
            const struct frame *f;
            cr_assert_eq(frames_take(&c, &f), 0, "%s", cortex_last_error()->message);
            cr_assert(intact(f, round * 100 + (uint64_t)i), "message %d of round %d intact", i, (int)round);
            /* The slot the consumer holds is the one the producer wrote (each side maps the segment apart). */
            cr_assert_eq((const char *)f - (const char *)cortex_region_payload(frames_region(&c)),
                         (const char *)m[i] - (const char *)cortex_region_payload(frames_region(&p)));
            cr_assert_eq(frames_release(&c, f), 0, "%s", cortex_last_error()->message);
        }
        const struct frame *none;
        cr_assert_eq(frames_take(&c, &none), -EAGAIN);
        cr_assert_eq(frames_stats(&c, &st), 0);
        cr_assert_eq(st.free, SLOTS, "every slot is back");
    }
    cr_assert_eq(frames_close(&c), 0);
    cr_assert_eq(frames_close(&p), 0);
}

Test(channel, wrong_side_unknown_slot_and_double_release)
{
    char name[64];
    frames p, c;
    open_pair(&p, &c, name);
    struct frame *m;
    const struct frame *f;
    cr_assert_eq(frames_loan(&c, &m), -EINVAL, "the consumer cannot loan");
    cr_assert_eq(frames_take(&p, &f), -EINVAL, "the producer cannot take");
    struct frame local;
    cr_assert_eq(frames_publish(&p, &local), -EINVAL, "not a loaned slot");
    cr_assert_eq(frames_loan(&p, &m), 0);
    fill(m, 1);
    cr_assert_eq(frames_publish(&p, m), 0);
    cr_assert_eq(frames_publish(&p, m), -EINVAL, "published twice");
    cr_assert_eq(frames_take(&c, &f), 0);
    cr_assert_eq(frames_release(&c, f), 0);
    cr_assert_eq(frames_release(&c, f), -EINVAL, "released twice");
    cr_assert_eq(frames_loan(&p, &m), 0);
    cr_assert_eq(frames_unloan(&p, m), 0, "a loan given back unpublished");
    cr_assert_eq(frames_unloan(&p, m), -EINVAL);
    cr_assert_eq(frames_close(&c), 0);
    cr_assert_eq(frames_close(&p), 0);
}

Test(channel, publish_copy_waits_timeout_and_pipe)
{
    char name[64];
    frames p, c;
    open_pair(&p, &c, name);
    struct frame v;
    for (int i = 0; i < SLOTS; i++) {
        fill(&v, (uint64_t)i);
        cr_assert_eq(frames_publish_copy(&p, &v, 0), 0, "%s", cortex_last_error()->message);
    }
    int64_t t0 = nct_now_ms();
    cr_assert_eq(frames_publish_copy(&p, &v, 20000000), -ETIMEDOUT, "no slot free for 20 ms");
    cr_assert_geq(nct_now_ms() - t0, 15);
    const struct frame *f;
    for (int i = 0; i < SLOTS; i++) {
        cr_assert_eq(frames_take_wait(&c, &f, 1000000000), 0);
        cr_assert(intact(f, (uint64_t)i));
        cr_assert_eq(frames_release(&c, f), 0);
    }
    cr_assert_eq(frames_take_wait(&c, &f, 10000000), -ETIMEDOUT);
    fill(&v, 99);
    cr_assert_eq(frames_publish_copy(&p, &v, -1), 0);
    cr_assert_eq(frames_close(&p), 0, "the producer closes with a message queued");
    cr_assert_eq(frames_take_wait(&c, &f, 1000000000), 0, "what was published is drained first");
    cr_assert(intact(f, 99));
    cr_assert_eq(frames_release(&c, f), 0);
    cr_assert_eq(frames_take_wait(&c, &f, 1000000000), -EPIPE, "then the closed producer is reported");
    cr_assert_eq(frames_close(&c), 0);
}

Test(channel, close_gives_back_held_slots)
{
    char name[64];
    frames p, c;
    open_pair(&p, &c, name);
    struct frame *m;
    cr_assert_eq(frames_loan(&p, &m), 0);
    fill(m, 5);
    cr_assert_eq(frames_publish(&p, m), 0);
    const struct frame *f;
    cr_assert_eq(frames_take(&c, &f), 0);
    cr_assert_eq(frames_loan(&p, &m), 0);
    cortex_channel_stats st;
    cr_assert_eq(frames_stats(&p, &st), 0);
    cr_assert_eq(st.allocated, 2);
    cr_assert_eq(st.held, 1);
    cr_assert_eq(frames_close(&c), 0, "the consumer closes holding one slot");
    cr_assert_eq(frames_stats(&p, &st), 0);
    cr_assert_eq(st.allocated, 1, "the taken slot came back");
    cr_assert_eq(frames_publish(&p, m), -EPIPE, "the consumer is gone");
    cr_assert_eq(frames_close(&p), 0);
}

Test(channel, variable_size_classes)
{
    char name[64];
    cortex_pool_class cls[] = {{64, 4}, {4096, 4}, {65536, 2}};
    blobs p, c;
    cr_assert_eq(blobs_create(&p, CORTEX_KEY_NAME(nct_name(name, "var")), cls, 3, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(blobs_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    size_t counts[] = {1, 16, 17, 1024, 1025, 16384, 3};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        uint32_t *m;
        cr_assert_eq(blobs_loan(&p, counts[k], &m), 0, "%s", cortex_last_error()->message);
        for (size_t i = 0; i < counts[k]; i++)
            m[i] = (uint32_t)(k * 1000003u + i);
        cr_assert_eq(blobs_publish(&p, m, counts[k]), 0, "%s", cortex_last_error()->message);
        const uint32_t *f;
        size_t n = 0;
        cr_assert_eq(blobs_take(&c, &f, &n), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(n, counts[k]);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(f[i], (uint32_t)(k * 1000003u + i));
        cr_assert_eq(blobs_release(&c, f), 0);
    }
    uint32_t *m;
    cr_assert_eq(blobs_loan(&p, 16385, &m), -ERANGE, "larger than the largest class");
    /* Small messages spill into larger classes when theirs is exhausted. */
    uint32_t *held[10];
    for (int i = 0; i < 10; i++)
        cr_assert_eq(blobs_loan(&p, 1, &held[i]), 0, "loan %d", i);
    cr_assert_eq(blobs_loan(&p, 1, &m), -EAGAIN);
    uint32_t buf[100];
    for (int i = 0; i < 100; i++)
        buf[i] = (uint32_t)i * 3u;
    cr_assert_eq(blobs_unloan(&p, held[9]), 0);
    cr_assert_eq(blobs_publish_copy(&p, buf, 100, 0), 0, "%s", cortex_last_error()->message);
    const uint32_t *f;
    size_t n;
    cr_assert_eq(blobs_take(&c, &f, &n), 0);
    cr_assert_eq(n, 100);
    cr_assert_eq(memcmp(f, buf, sizeof buf), 0);
    cr_assert_eq(blobs_close(&c), 0);
    cr_assert_eq(blobs_close(&p), 0);
}

Test(channel, create_errors_and_type_check)
{
    char name[64];
    cortex_channel *ch = NULL;
    cortex_pool_class bad[] = {{64, 4}, {64, 4}};
    cr_assert_eq(cortex_channel_create(&ch, CORTEX_KEY_NAME(nct_name(name, "bad")), bad, 2, 8, 8, "x",
                                       CORTEX_PRODUCER, NULL),
                 -EINVAL, "sizes not increasing");
    cortex_pool_class small[] = {{4, 4}};
    cr_assert_eq(cortex_channel_create(&ch, CORTEX_KEY_NAME(name), small, 1, 8, 8, "x", CORTEX_PRODUCER, NULL),
                 -EINVAL, "a class smaller than the element");
    cortex_pool_class ok[] = {{64, 4}};
    cr_assert_eq(cortex_channel_create(&ch, CORTEX_KEY_NAME(name), ok, 1, 8, 8, "x", CORTEX_BOTH_SIDES, NULL),
                 -EINVAL, "a channel handle is one side");
    frames p, c;
    cr_assert_eq(frames_create(&p, CORTEX_KEY_NAME(name), SLOTS, CORTEX_PRODUCER, NULL), 0);
    blobs wrong;
    cr_assert_eq(blobs_attach(&wrong, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), -EPROTO, "another type");
    cr_assert_eq(frames_attach(&c, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL), -EBUSY, "the producer is taken");
    cr_assert_eq(frames_close(&p), 0);
}

Test(channel, copy_in_every_size_and_alignment)
{
    size_t sizes[] = {0, 1, 7, 63, 64, 511, 512, 513, 4096, 4097, 65535, 65536, 65600, 200003};
    unsigned char *src = malloc(200100), *dst = malloc(200100);
    cr_assert(src && dst);
    for (size_t i = 0; i < 200100; i++)
        src[i] = (unsigned char)(i * 131u + 7u);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (size_t off = 0; off < 3; off++) {
            memset(dst, 0xee, 200100);
            cortex_channel_copy_in(dst + off * 16, src + off, sizes[k]);
            cr_assert_eq(memcmp(dst + off * 16, src + off, sizes[k]), 0, "size %zu offset %zu", sizes[k], off);
            cr_assert_eq(dst[off * 16 + sizes[k]], 0xee, "no byte past the end (size %zu)", sizes[k]);
        }
    }
    free(src);
    free(dst);
}

/* The ring record the consumer reads next, in the segment (test-only knowledge of the layout). */
static chan_rec *next_record(frames *c)
{
    unsigned char *pay = cortex_region_payload(frames_region(c));
    const chan_hdr *h = (const chan_hdr *)(void *)pay;
    cortex_ring_info ri;
    cr_assert_eq(cortex_ring_inspect_mem(pay + h->ring_off, (size_t)h->ring_len, &ri), 0);
    return (chan_rec *)(void *)(pay + h->ring_off + ri.slots_offset +
                                (ri.cons & (ri.capacity - 1)) * sizeof(chan_rec));
}

Test(channel, hostile_records_are_refused_and_skipped)
{
    char name[64];
    frames p, c;
    open_pair(&p, &c, name);
    struct frame v;
    const struct frame *f;
    struct {
        const char *what;
        int expect;
        void (*poison)(chan_rec *);
    } cases[] = {
        {"class out of range", -EBADMSG, NULL},
        {"length larger than the slot", -EBADMSG, NULL},
        {"index out of range", -EBADMSG, NULL},
        {"old generation", -ESTALE, NULL},
        {"another slab's tag", -ESTALE, NULL},
    };
    for (int k = 0; k < 5; k++) {
        fill(&v, (uint64_t)k);
        cr_assert_eq(frames_publish_copy(&p, &v, 0), 0);
        chan_rec *r = next_record(&c);
        switch (k) {
        case 0: r->cls = 0xfffffff0u; break;
        case 1: r->len = 1u << 30; break;
        case 2: r->handle = (r->handle & ~UINT64_C(0xffffff)) | 0xfffff0u; break;
        case 3: r->handle -= UINT64_C(1) << 32; break;
        case 4: r->handle ^= UINT64_C(0x5a) << 24; break;
        }
        cr_assert_eq(frames_take(&c, &f), cases[k].expect, "%s: got %s", cases[k].what,
                     cortex_last_error()->message);
        cr_assert_neq(strstr(cortex_last_error()->message, "skipped"), NULL, "%s", cortex_last_error()->message);
        /* The slot of the refused record stays in flight: reclaim cannot know it.  Then the next message works. */
        fill(&v, 100 + (uint64_t)k);
        cr_assert_eq(frames_publish_copy(&p, &v, 0), 0, "%s", cortex_last_error()->message);
        cr_assert_eq(frames_take(&c, &f), 0, "%s", cortex_last_error()->message);
        cr_assert(intact(f, 100 + (uint64_t)k));
        cr_assert_eq(frames_release(&c, f), 0);
    }
    cr_assert_eq(frames_close(&c), 0);
    cr_assert_eq(frames_close(&p), 0);
}

Test(channel, corrupt_header_is_refused_on_attach)
{
    char name[64];
    frames p, c;
    cr_assert_eq(frames_create(&p, CORTEX_KEY_NAME(nct_name(name, "hdr")), SLOTS, CORTEX_PRODUCER, NULL), 0);
    chan_hdr *h = cortex_region_payload(frames_region(&p));
    chan_hdr saved = *h;
    /* A field changed without the checksum. */
    h->ring_off += 64;
    cr_assert_eq(frames_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), -EBADMSG);
    cr_assert_neq(strstr(cortex_last_error()->message, "checksum"), NULL, "%s", cortex_last_error()->message);
    /* Hostile values with a matching checksum: each is named, none is followed. */
    uint64_t far = UINT64_C(1) << 40;
    for (int k = 0; k < 4; k++) {
        *h = saved;
        switch (k) {
        case 0: h->elem_size = 0; break;
        case 1: h->cls[0].off = far; break;
        case 2: h->ring_capacity = 2; break;
        case 3: h->nclasses = 9; break;
        }
        h->check = cortex__fnv1a32(h, offsetof(chan_hdr, check));
        cr_assert_eq(frames_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), -EBADMSG, "case %d", k);
    }
    *h = saved;
    cr_assert_eq(frames_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(frames_close(&c), 0);
    cr_assert_eq(frames_close(&p), 0);
}

/*
 * The consumer's magazine hands each batch of released slots on as soon as
 * it holds one (docs/channel.md, "Magazines"): with every slot published, a
 * batch of releases lets the producer loan that many again at once, and not
 * one more.  (A slab magazine keeps a batch cached after a put; a consumer
 * that did so would hold back up to 2 x batch - 1 slots the producer waits
 * for.)
 */
Test(channel, consumer_hands_each_batch_on)
{
    enum { N = 64, BATCH = 16 }; /* the default batch of a 64-slot class: a quarter of it */
    char name[64];
    frames p, c;
    open_sized(&p, &c, name, "chb", N);
    uint64_t seq = 0, next = 0;
    for (int round = 0; round < 3; round++) {
        int loaned = 0;
        struct frame *m;
        while (frames_loan(&p, &m) == 0) {
            fill(m, seq++);
            cr_assert_eq(frames_publish(&p, m), 0, "%s", cortex_last_error()->message);
            loaned++;
        }
        cr_assert_eq(cortex_last_error()->code, -EAGAIN);
        cr_assert_eq(loaned, round == 0 ? N : BATCH, "round %d: the producer loaned %d", round, loaned);
        /* One slot short of a batch: nothing comes back yet. */
        for (int i = 0; i < BATCH; i++) {
            const struct frame *f;
            cr_assert_eq(frames_take(&c, &f), 0, "%s", cortex_last_error()->message);
            cr_assert(intact(f, next++));
            cr_assert_eq(frames_release(&c, f), 0);
            if (i == BATCH - 2)
                cr_assert_eq(frames_loan(&p, &m), -EAGAIN, "a partial batch stays with the consumer");
        }
    }
    cortex_channel_stats st;
    cr_assert_eq(frames_stats(&p, &st), 0);
    cr_assert_eq(st.slots, N);
    cr_assert_eq(st.in_flight + st.free, N, "every slot is in flight or free (%u + %u)", st.in_flight, st.free);
    cr_assert_eq(frames_close(&c), 0);
    cr_assert_eq(frames_close(&p), 0);
}

/*
 * A class of 1 MiB of payload or more has every slot in the cycle, and a
 * slot comes back only after the others have been used: with a consumer
 * that keeps up (one message in flight), the producer takes the slots
 * still on the shared stack before the batches the consumer hands back,
 * and the depot has room for every slot in the default batches.  Taking
 * those batches first cycled the first 32-64 slots and left the rest
 * parked, and a slot was written again while its lines were still in the
 * consumer's cache (docs/channel.md, "Slot reuse and the producer's
 * stores").  A smaller class reuses the slots released last instead (they
 * are still in the caches: better for a ping-pong).  Returns the distinct
 * slots loaned in the first 2 x @p n messages.
 */
static uint32_t slots_cycled(uint32_t n, uint32_t bytes, const char *tag, long *shortest_out)
{
    enum { MAX = 1024 };
    long msgs = 4L * n, shortest = msgs;
    cr_assert_leq(n, MAX);
    char name[64];
    cortex_pool_class cls = {bytes, n};
    blobs p, c;
    cr_assert_eq(blobs_create(&p, CORTEX_KEY_NAME(nct_name(name, tag)), &cls, 1, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(blobs_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    static const uint32_t *seen[MAX];
    static long last[MAX];
    uint32_t distinct = 0, first = 0;
    size_t words = bytes / sizeof(uint32_t);
    for (long i = 0; i < msgs; i++) {
        uint32_t *m;
        cr_assert_eq(blobs_loan(&p, words, &m), 0, "class of %u, message %ld: %s", n, i,
                     cortex_last_error()->message);
        uint32_t k = 0;
        while (k < distinct && seen[k] != m)
            k++;
        if (k == distinct) {
            cr_assert_lt(distinct, n, "more distinct slots than the class has");
            seen[distinct++] = m;
        } else if (i >= 2L * n && i - last[k] < shortest) {
            shortest = i - last[k];
        }
        last[k] = i;
        m[0] = (uint32_t)i;
        m[words - 1] = ~(uint32_t)i;
        cr_assert_eq(blobs_publish(&p, m, words), 0, "%s", cortex_last_error()->message);
        const uint32_t *f;
        size_t got = 0;
        cr_assert_eq(blobs_take(&c, &f, &got), 0, "%s", cortex_last_error()->message);
        cr_assert(got == words && f[0] == (uint32_t)i && f[words - 1] == ~(uint32_t)i);
        cr_assert_eq(blobs_release(&c, f), 0);
        if (i == 2L * n - 1)
            first = distinct;
    }
    cr_assert_eq(blobs_close(&c), 0);
    cr_assert_eq(blobs_close(&p), 0);
    *shortest_out = shortest;
    return first;
}

Test(channel, every_slot_cycles_before_one_comes_back)
{
    static const uint32_t n[] = {32, 64, 512, 1024}; /* batches of 8, 16, 32, 32; 4, 4, 16, 32 depot buffers */
    for (int k = 0; k < 4; k++) {
        long shortest, batch = n[k] / 4 < 32 ? n[k] / 4 : 32;
        char tag[16];
        snprintf(tag, sizeof tag, "chc%u", n[k]);
        uint32_t used = slots_cycled(n[k], (1u << 20) / n[k], tag, &shortest); /* 1 MiB of payload */
        cr_assert_eq(used, n[k], "class of %u: only %u slots used in %u messages", n[k], used, 2 * n[k]);
        /* In the steady state a slot waits behind the depot's other batches: nearly the whole class. */
        cr_assert_geq(shortest, (long)n[k] - 2 * batch, "a slot came back after %ld messages (class of %u)",
                      shortest, n[k]);
    }
    /* 512 slots of 64 bytes (32 KiB): the slots released last come back first. */
    long shortest;
    uint32_t used = slots_cycled(512, 64, "chcs", &shortest);
    cr_assert_leq(used, 2 * 32 + 1, "a small class cycled %u of its 512 slots", used);
}
