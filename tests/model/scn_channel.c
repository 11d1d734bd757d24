/* SPDX-License-Identifier: MIT */
/*
 * tests/model/scn_channel.c: model-checked scenarios over the real channel
 * (lib/channel/channel.c, with the ring and slab under it, built with
 * -DCORTEX_MODEL).  The producer and the consumer each have their own view
 * of one channel laid out in a static buffer (cortex__channel_open_mem), as
 * two processes would.  The producer writes each message's payload with
 * plain stores and the consumer reads it with plain loads, so a slot handed
 * over without happens-before (or to both sides at once) is a data race or
 * a wrong value; at the end every slot must be free and the ring empty.
 *
 *   chan_handover      loan / publish / take / release of 2 messages over
 *                      1 slot, both sides polling
 *   chan_wait_wake     the same with loan_wait / take_wait on 1 slot: a
 *                      producer asleep for the slot is woken by the
 *                      consumer's release (no lost wake-up)
 *   chan_dead_producer a dead producer left one slot loaned and one
 *                      published-but-not-marked (killed between its push
 *                      and its send); the consumer takes (reclaiming while
 *                      the record's slot is unmarked) while the producer's
 *                      view reclaims: both slots come back exactly once,
 *                      the record is skipped, nothing is delivered
 *
 * Seeded bugs (separate programs): CORTEX_SEED_CHANNEL_NO_RELEASE_FENCE
 * (the consumer's release reads the producer's sleep flag without the
 * waker's fence: chan_wait_wake finds the lost wake-up) and
 * CORTEX_SEED_CHANNEL_RECORD_AFTER_COMMIT (publish writes the handle record
 * after the ring commit published it: chan_handover's consumer reads a
 * stale record).  chan_wait_wake first found a real one: a consumer whose
 * re-check met a record not yet marked in flight slept a whole nap (the
 * producer's mark wakes nobody); it now re-looks after 50 us.
 */
#include "explorer.h"

#include "atomic.h"
#include "channel/channel_layout.h"
#include "internal.h"
#include "slab/slab_internal.h"
#include "slab/slab_layout.h"

#include <errno.h>
#include <string.h>

static struct {
    _Alignas(64) unsigned char mem[8192];
    cortex_channel *prod, *cons;
    int reclaimed[MC_MAX_THREADS + 1];
} ch;

/*
 * The views are closed at the end of each check (a close in the next setup
 * would record its stores in that execution's fresh history, where the
 * memset of the layout cannot undo them); a failed execution's views leak.
 */
static void chan_setup(uint32_t slots)
{
    memset(&ch, 0, sizeof ch);
    cortex_pool_class cls = {8, slots};
    int rc = cortex__channel_open_mem(&ch.prod, ch.mem, sizeof ch.mem, &cls, 1, 8, 8, CORTEX_PRODUCER);
    MC_ASSERT(rc == 0, "channel layout: %d", rc);
    rc = cortex__channel_open_mem(&ch.cons, ch.mem, sizeof ch.mem, NULL, 0, 8, 8, CORTEX_CONSUMER);
    MC_ASSERT(rc == 0, "consumer view: %d", rc);
    /* Registers both views in the slab's process table (the table scan is not what is explored). */
    cortex_slab *s = cortex_channel_class_slab(ch.prod, 0);
    cortex_handle none = CORTEX_HANDLE_NULL;
    (void)cortex_slab_receive(s, &none);
    (void)cortex_slab_receive(cortex_channel_class_slab(ch.cons, 0), &none);
    mc_name(&s->sh->head, 8, "slab.head");
    mc_name(&s->meta[0].word, 8, "slot0.word");
    if (slots > 1)
        mc_name(&s->meta[1].word, 8, "slot1.word");
    mc_name(s->data, (size_t)slots * s->stride, "slot.data");
}

static void payload_write(uint64_t *slot, uint64_t v) { cortex__plain_write(slot, &v, sizeof v); }

static uint64_t payload_read(const uint64_t *slot)
{
    uint64_t v;
    cortex__plain_read(&v, slot, sizeof v);
    return v;
}

/* The consumer's side of a message: its payload must read @p want, then the slot goes back. */
static void consume(const void *msg, uint64_t want)
{
    uint64_t v = payload_read(msg);
    MC_ASSERT(v == want, "message %llu reads %llu", (unsigned long long)want, (unsigned long long)v);
    int rc = cortex_channel_release(ch.cons, msg);
    MC_ASSERT(rc == 0, "release of message %llu: %d", (unsigned long long)want, rc);
}

/* Every slot free, none held, nothing queued. */
static void check_drained(void)
{
    cortex_channel_stats st;
    int rc = cortex_channel_stats_get(ch.prod, &st);
    MC_ASSERT(rc == 0, "stats: %d", rc);
    MC_ASSERT(st.free == st.slots && st.queued == 0,
              "%u of %u slots free, %u allocated, %u in flight, %u queued at the end", st.free, st.slots,
              st.allocated, st.in_flight, st.queued);
    (void)cortex_channel_close(ch.prod);
    (void)cortex_channel_close(ch.cons);
}

/* ---- the hand-over, both sides polling ------------------------------------------- */

enum { MSGS = 2 };

static void handover_setup(void) { chan_setup(1); }

static void handover_thread(int id)
{
    for (uint64_t k = 1; k <= MSGS; k++) {
        if (id == 1) {
            void *slot;
            int rc;
            while ((rc = cortex_channel_loan(ch.prod, 8, &slot)) == -EAGAIN)
                cortex__spin_hint();
            MC_ASSERT(rc == 0, "loan %llu: %d", (unsigned long long)k, rc);
            payload_write(slot, 100 + k);
            rc = cortex_channel_publish(ch.prod, slot, 8);
            MC_ASSERT(rc == 0, "publish %llu: %d", (unsigned long long)k, rc);
        } else {
            const void *msg;
            size_t len = 0;
            int rc;
            while ((rc = cortex_channel_take(ch.cons, &msg, &len)) == -EAGAIN)
                cortex__spin_hint();
            MC_ASSERT(rc == 0 && len == 8, "take %llu: %d (%zu bytes)", (unsigned long long)k, rc, len);
            consume(msg, 100 + k);
        }
    }
}

static const mc_scenario chan_handover = {
    "chan_handover", "channel: 2 messages over 1 slot, loan/publish against take/release: each payload "
                     "ordered, read once, the slot reused only after its release",
    2, handover_setup, handover_thread, check_drained, 2, 2, 0, 0, false, false, NULL};

/* ---- the waits: a producer asleep for a slot, a consumer asleep for a message ------ */

/* Message 1 is published in setup: the producer's loan_wait for message 2 sleeps until its release. */
static void wait_setup(void)
{
    chan_setup(1);
    void *slot;
    MC_ASSERT(cortex_channel_loan(ch.prod, 8, &slot) == 0, "setup loan");
    payload_write(slot, 201);
    MC_ASSERT(cortex_channel_publish(ch.prod, slot, 8) == 0, "setup publish");
}

static void wait_thread(int id)
{
    if (id == 1) {
        void *slot;
        int rc = cortex_channel_loan_wait(ch.prod, 8, &slot, -1);
        MC_ASSERT(rc == 0, "loan_wait: %d", rc);
        payload_write(slot, 202);
        rc = cortex_channel_publish(ch.prod, slot, 8);
        MC_ASSERT(rc == 0, "publish: %d", rc);
        return;
    }
    for (uint64_t k = 1; k <= 2; k++) {
        const void *msg;
        int rc = k == 1 ? cortex_channel_take(ch.cons, &msg, NULL) : cortex_channel_take_wait(ch.cons, &msg, NULL, -1);
        MC_ASSERT(rc == 0, "take %llu: %d", (unsigned long long)k, rc);
        consume(msg, 200 + k);
    }
}

/* A futex nap that only its timeout can end is a lost wake-up. */
static const mc_scenario chan_wait_wake = {
    "chan_wait_wake", "channel: 1 slot, message 1 in flight: the producer's loan_wait is woken by the "
                      "consumer's release, the consumer's take_wait by the publish (no lost wake-up)",
    2, wait_setup, wait_thread, check_drained, 1, 2, 0, 0, true, false, NULL}; /* bound 2: 40 s, also passes */

/* ---- a dead producer's loaned and half-published slots --------------------------- */

/* A process-table entry for a process that cannot exist (pid above any pid_max). */
#define DEAD_ENTRY 5u
#define DEAD_PID UINT32_C(0x7ffffff0)

/* Rewrites slot @p h's word as allocated by the dead process (same generation). */
static void owned_by_dead(cortex_slab *s, cortex_handle h)
{
    uint32_t i = cortex_handle_index(h);
    cortex__st64(&s->meta[i].word, cx_word(cortex_handle_generation(h), CORTEX__SLOT_ALLOC, DEAD_ENTRY, 0),
                 CX_RELEASE);
}

/* The handle of the slot at @p p, read from its word (setup only). */
static cortex_handle handle_at(cortex_slab *s, const void *p)
{
    uint32_t i = (uint32_t)(((const unsigned char *)p - s->data) / s->stride);
    uint64_t w = cortex__ld64(&s->meta[i].word, CX_RELAXED);
    return cx_handle(CX_W_GEN(w), s->tag, i + 1u);
}

static void dead_setup(void)
{
    chan_setup(2);
    cortex_slab *s = cortex_channel_class_slab(ch.prod, 0);
    void *a, *b;
    MC_ASSERT(cortex_channel_loan(ch.prod, 8, &a) == 0 && cortex_channel_loan(ch.prod, 8, &b) == 0, "setup loans");
    cortex_handle ha = handle_at(s, a), hb = handle_at(s, b);
    payload_write(b, 7);
    MC_ASSERT(cortex_channel_publish(ch.prod, b, 8) == 0, "setup publish");
    /* The producer died between the push and the send of b (b is allocated again, not in flight), holding a. */
    cortex__st64(&s->sh->procs[DEAD_ENTRY], (uint64_t)DEAD_PID << 32, CX_RELEASE);
    owned_by_dead(s, hb);
    owned_by_dead(s, ha);
}

/* T1 the consumer (takes; reclaims itself while the record's slot is unmarked), T2 reclaims. */
static void dead_thread(int id)
{
    if (id == 2) { /* the producer's view (a successor that took the dead side over) */
        ch.reclaimed[id] = cortex_channel_reclaim(ch.prod);
        MC_ASSERT(ch.reclaimed[id] >= 0, "reclaim: %d", ch.reclaimed[id]);
        return;
    }
    const void *msg;
    int rc;
    for (int tries = 0; (rc = cortex_channel_take(ch.cons, &msg, NULL)) == -EAGAIN; tries++) {
        MC_ASSERT(tries < 2, "the unmarked record is still not skipped after a reclaim");
        int n = cortex_channel_reclaim(ch.cons);
        MC_ASSERT(n >= 0, "reclaim: %d", n);
        ch.reclaimed[id] += n;
    }
    MC_ASSERT(rc == -ESTALE, "take of a dead producer's unmarked record: %d (0: it was delivered)", rc);
    rc = cortex_channel_take(ch.cons, &msg, NULL);
    MC_ASSERT(rc == -EAGAIN, "after the skipped record: %d", rc);
}

static void dead_check(void)
{
    MC_ASSERT(ch.reclaimed[1] + ch.reclaimed[2] == 2, "reclaim freed %d + %d slots, expected the dead producer's 2",
              ch.reclaimed[1], ch.reclaimed[2]);
    check_drained();
}

static const mc_scenario chan_dead_producer = {
    "chan_dead_producer", "channel: a dead producer's loaned slot and its pushed-but-unmarked slot come back "
                          "once while the consumer takes and another view reclaims; the record is skipped",
    2, dead_setup, dead_thread, dead_check, 1, 2, 0, 0, false, false, NULL}; /* bound 2: 45 s, also passes */

static const mc_scenario *const all[] = {&chan_handover, &chan_wait_wake, &chan_dead_producer, NULL};

int main(int argc, char **argv) { return mc_main(argc, argv, all); }
