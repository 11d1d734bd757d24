/* SPDX-License-Identifier: MIT */
/*
 * tests/model/scn_ring.c: model-checked scenarios over the real SPSC ring
 * (lib/ring/ring.c built with -DCORTEX_MODEL, so the ring's inline fast
 * paths are off and every call goes through ring.c).  Thread 1 is the
 * producer, thread 2 the consumer; each owns its own handle attached to one
 * raw ring, as two processes would.  Elements are 8 bytes; slots are plain
 * memory, so a slot read not ordered after its write is a reported race.
 *
 * Seeded bugs (separate programs): CORTEX_SEED_RING_RELAXED_PUBLISH (the
 * producer's index store is relaxed) and CORTEX_SEED_RING_NO_WAIT_FENCE (the
 * wait protocol's seq_cst fences are gone), and for the marks scheme
 * CORTEX_SEED_RING_MARKS_LINE_FIRST and CORTEX_SEED_RING_MARKS_FREE_TOP_FIRST.
 */
#include "explorer.h"

#include "atomic.h"
#include "ring/ring_layout.h"

#include <errno.h>
#include <string.h>

#define MAXN 8

static struct {
    _Alignas(64) unsigned char mem[1024];
    cortex_ring init, prod, cons;
    uint32_t capacity;
    int items;
    uint64_t got[MAXN];
    int ngot;
    int end_rc; /* close_drain: what the consumer's last pop_wait returned */
    uint64_t pay[MAXN]; /* marks scenarios: plain payload the item refers to (a handle's slot) */
    bool marked;
} rg;

static uint64_t item(int i) { return 0x1000u + (uint64_t)i; }

/* @scheme: CORTEX_RING_SCHEME_*; marks: 0 means "empty" (as CORTEX_HANDLE_NULL). */
static void ring_setup_scheme(uint32_t capacity, int items, uint64_t start, uint32_t scheme)
{
    bool marked = scheme == CORTEX_RING_SCHEME_MARKS;
    memset(&rg, 0, sizeof rg);
    rg.capacity = capacity;
    rg.items = items;
    size_t need = cortex_ring_required_size_aligned(capacity, 8, 8);
    MC_ASSERT(need <= sizeof rg.mem, "ring needs %zu bytes", need);
    int rc = marked ? cortex_ring_init_marked(&rg.init, rg.mem, sizeof rg.mem, capacity, 8, 0)
             : scheme == CORTEX_RING_SCHEME_BATCH ? cortex_ring_init_batched(&rg.init, rg.mem, sizeof rg.mem, capacity, 8, 8)
                                                  : cortex_ring_init(&rg.init, rg.mem, sizeof rg.mem, capacity, 8, 8);
    MC_ASSERT(rc == 0, "cortex_ring_init: %d", rc);
    rg.marked = marked;
    if (start) {
        rc = cortex__ring_set_indices(&rg.init, start);
        MC_ASSERT(rc == 0, "set_indices: %d", rc);
    }
    rc = cortex_ring_attach_mem(&rg.prod, rg.mem, sizeof rg.mem, 8, 8, CORTEX_PRODUCER);
    MC_ASSERT(rc == 0, "attach producer: %d", rc);
    rc = cortex_ring_attach_mem(&rg.cons, rg.mem, sizeof rg.mem, 8, 8, CORTEX_CONSUMER);
    MC_ASSERT(rc == 0, "attach consumer: %d", rc);
    cortex_ring_shared *sh = (cortex_ring_shared *)(void *)rg.mem;
    mc_name(&sh->prod, 8, "ring.prod");
    mc_name(&sh->cons, 8, "ring.cons");
    mc_name(&sh->side[0], sizeof sh->side[0], "ring.side[prod]");
    mc_name(&sh->side[1], sizeof sh->side[1], "ring.side[cons]");
    mc_name(&sh->side[0].closed, 4, "ring.prod_closed");
    mc_name(&sh->side[1].closed, 4, "ring.cons_closed");
    mc_name(&sh->cons_waiting, 4, "ring.cons_waiting");
    mc_name(&sh->cons_futex, 4, "ring.cons_futex");
    mc_name(&sh->prod_waiting, 4, "ring.prod_waiting");
    mc_name(&sh->prod_futex, 4, "ring.prod_futex");
    mc_name(rg.prod.slots, (size_t)capacity * 8, "ring.slot");
    mc_name(rg.pay, sizeof rg.pay, "payload");
}

static void ring_setup(uint32_t capacity, int items, uint64_t start)
{
    ring_setup_scheme(capacity, items, start, CORTEX_RING_SCHEME_INDEX);
}

static void got(uint64_t v)
{
    MC_ASSERT(rg.ngot < rg.items, "popped %d items, only %d pushed", rg.ngot + 1, rg.items);
    MC_ASSERT(v == item(rg.ngot), "item %d is %#llx, expected %#llx (FIFO order)", rg.ngot,
              (unsigned long long)v, (unsigned long long)item(rg.ngot));
    rg.got[rg.ngot++] = v;
}

static void check_all_received(void)
{
    MC_ASSERT(rg.ngot == rg.items, "%d of %d items received", rg.ngot, rg.items);
    uint64_t p = cortex__ld64(&((cortex_ring_shared *)(void *)rg.mem)->prod, CX_RELAXED);
    uint64_t c = cortex__ld64(&((cortex_ring_shared *)(void *)rg.mem)->cons, CX_RELAXED);
    MC_ASSERT(p == c, "ring not empty at the end: prod %llu, cons %llu", (unsigned long long)p,
              (unsigned long long)c);
}

/* ---- FIFO with push/pop (non-blocking, spinning on -EAGAIN) ------------------- */

/* Producer: push every item, spinning on -EAGAIN. */
static void push_all_spinning(void)
{
    for (int i = 0; i < rg.items; i++) {
        uint64_t v = item(i);
        int rc;
        while ((rc = cortex_ring_push(&rg.prod, &v)) == -EAGAIN)
            cortex__spin_hint();
        MC_ASSERT(rc == 0, "push: %d", rc);
    }
}

static void fifo_thread(int id)
{
    if (id == 1) {
        push_all_spinning();
    } else {
        while (rg.ngot < rg.items) {
            uint64_t v;
            int rc = cortex_ring_pop(&rg.cons, &v);
            if (rc == -EAGAIN) {
                cortex__spin_hint();
                continue;
            }
            MC_ASSERT(rc == 0, "pop: %d", rc);
            got(v);
        }
    }
}

static void fifo_setup(void) { ring_setup(2, 3, 0); }
/* free-running u64 indices across 2^64: start two below the wrap */
static void wrap_setup(void) { ring_setup(2, 4, UINT64_MAX - 1); }

static const mc_scenario ring_fifo = {
    "ring_fifo", "ring: capacity 2, 3 items, concurrent push/pop: FIFO, no lost or duplicated item, no race",
    2, fifo_setup, fifo_thread, check_all_received, 3, 3, 0, 0, true, false};
static const mc_scenario ring_wrap = {
    "ring_wraparound", "ring: capacity 2, 4 items, slots wrap twice and the u64 indices cross 2^64", 2,
    wrap_setup, fifo_thread, check_all_received, 2, 3, 0, 0, true, false};

/* ---- batches: push_n/pop_n and reserve/commit / peek/release ------------------ */

static void batch_thread(int id)
{
    if (id == 1) {
        /* items 0..2 with push_n (partial moves allowed), then 3..4 with reserve/commit */
        uint64_t v[MAXN];
        for (int i = 0; i < rg.items; i++)
            v[i] = item(i);
        int sent = 0;
        while (sent < 3) {
            ssize_t k = cortex_ring_push_n(&rg.prod, v + sent, (size_t)(3 - sent));
            if (k == -EAGAIN) {
                cortex__spin_hint();
                continue;
            }
            MC_ASSERT(k > 0 && k <= 3 - sent, "push_n: %zd", k);
            sent += (int)k;
        }
        while (sent < rg.items) {
            void *span;
            ssize_t k = cortex_ring_reserve(&rg.prod, (size_t)(rg.items - sent), &span);
            if (k == -EAGAIN) {
                cortex__spin_hint();
                continue;
            }
            MC_ASSERT(k > 0 && k <= rg.items - sent, "reserve: %zd", k);
            cortex__plain_write(span, v + sent, (size_t)k * 8);
            int rc = cortex_ring_commit(&rg.prod, (size_t)k);
            MC_ASSERT(rc == 0, "commit: %d", rc);
            sent += (int)k;
        }
    } else {
        /* pop_n of up to 2, then peek/release of up to 2, alternately */
        bool use_peek = false;
        while (rg.ngot < rg.items) {
            uint64_t v[2];
            ssize_t k;
            if (!use_peek) {
                k = cortex_ring_pop_n(&rg.cons, v, 2);
            } else {
                const void *span;
                k = cortex_ring_peek(&rg.cons, 2, &span);
                if (k > 0) {
                    cortex__plain_read(v, span, (size_t)k * 8);
                    int rc = cortex_ring_release(&rg.cons, (size_t)k);
                    MC_ASSERT(rc == 0, "release: %d", rc);
                }
            }
            if (k == -EAGAIN) {
                cortex__spin_hint();
                continue;
            }
            MC_ASSERT(k > 0 && k <= 2, "%s: %zd", use_peek ? "peek" : "pop_n", k);
            for (ssize_t i = 0; i < k; i++)
                got(v[i]);
            use_peek = !use_peek;
        }
    }
}

static void batch_setup(void) { ring_setup(4, 5, 0); }

static const mc_scenario ring_batch = {
    "ring_batch", "ring: capacity 4, push_n then reserve/commit vs pop_n and peek/release: FIFO, no race", 2,
    batch_setup, batch_thread, check_all_received, 3, 3, 0, 0, true, false};

/* ---- close and drain ----------------------------------------------------------- */

static void marks_send(int i);
static void marks_got(uint64_t v);

/* Consumer: pop_wait until an error (kept in end_rc), checking each item. */
static void drain_until_error(void)
{
    for (;;) {
        uint64_t v;
        int rc = cortex_ring_pop_wait(&rg.cons, &v, -1);
        if (rc != 0) {
            rg.end_rc = rc;
            break;
        }
        if (rg.marked)
            marks_got(v);
        else
            got(v);
    }
}

/* Producer: push_wait every item. */
static void push_wait_all(void)
{
    for (int i = 0; i < rg.items; i++) {
        uint64_t v = item(i);
        if (rg.marked)
            marks_send(i);
        int rc = cortex_ring_push_wait(&rg.prod, &v, -1);
        MC_ASSERT(rc == 0, "push_wait: %d", rc);
    }
}

static void close_thread(int id)
{
    if (id == 1) {
        push_all_spinning();
        int rc = cortex_ring_close(&rg.prod);
        MC_ASSERT(rc == 0, "close: %d", rc);
    } else {
        drain_until_error();
    }
}

static void close_check(void)
{
    MC_ASSERT(rg.end_rc == -EPIPE, "pop_wait ended with %d, expected -EPIPE", rg.end_rc);
    check_all_received();
}

static void close_setup(void) { ring_setup(2, 2, 0); }

static const mc_scenario ring_close = {
    "ring_close_drain", "ring: producer pushes 2 and closes; consumer pop_wait drains both, then -EPIPE "
                        "(woken by the close, no lost wake-up)",
    2, close_setup, close_thread, close_check, 3, 3, 0, 0, true, false};

/* the consumer takes one item and closes: a producer asleep on the full ring must wake with -EPIPE */
static void cclose_thread(int id)
{
    if (id == 1) {
        int i = 0, rc = 0;
        for (; i < rg.items; i++) {
            uint64_t v = item(i);
            if ((rc = cortex_ring_push_wait(&rg.prod, &v, -1)) != 0)
                break;
        }
        rg.end_rc = rc;
        MC_ASSERT(rc == -EPIPE, "push_wait into a ring the consumer closed: %d after %d items", rc, i);
    } else {
        uint64_t v;
        int rc = cortex_ring_pop_wait(&rg.cons, &v, -1);
        MC_ASSERT(rc == 0, "pop_wait: %d", rc);
        got(v);
        rc = cortex_ring_close(&rg.cons);
        MC_ASSERT(rc == 0, "close: %d", rc);
    }
}

static void cclose_setup(void) { ring_setup(1, 3, 0); }

static const mc_scenario ring_cons_close = {
    "ring_consumer_close", "ring: capacity 1; the consumer pops one item and closes while the producer "
                           "push_waits 3: the producer gets -EPIPE (woken by the close, no lost wake-up)",
    2, cclose_setup, cclose_thread, NULL, 3, 3, 0, 0, true, false};

/* ---- blocking push_wait/pop_wait: no lost wake-up ------------------------------- */

static void wait_thread(int id)
{
    if (id == 1) {
        push_wait_all();
    } else {
        for (int i = 0; i < rg.items; i++) {
            uint64_t v;
            int rc = cortex_ring_pop_wait(&rg.cons, &v, -1);
            MC_ASSERT(rc == 0, "pop_wait: %d", rc);
            got(v);
        }
    }
}

static void wait_setup(void) { ring_setup(1, 3, 0); }

static const mc_scenario ring_wait = {
    "ring_wait_wake", "ring: capacity 1, 3 items, push_wait vs pop_wait: both sides sleep, every sleep is "
                      "woken (no lost wake-up)",
    2, wait_setup, wait_thread, check_all_received, 2, 3, 0, 0, true, false};

/* ---- the marks scheme (per-slot empty marks) ------------------------------------ */

/*
 * Each item refers to a payload written with plain stores before the push and
 * read after the pop, as a slab handle refers to its slot: the slot store must
 * publish it (release/acquire), or the read races the write.
 */
static void marks_send(int i)
{
    uint64_t want = ~item(i);
    cortex__plain_write(&rg.pay[i], &want, 8);
}

static void marks_got(uint64_t v)
{
    int i = (int)(v - item(0));
    MC_ASSERT(i >= 0 && i < rg.items, "popped %#llx, no such item", (unsigned long long)v);
    uint64_t p;
    cortex__plain_read(&p, &rg.pay[i], 8);
    MC_ASSERT(p == ~v, "item %d's payload is %#llx", i, (unsigned long long)p);
    got(v);
}

/* push/pop, then push_n/reserve+commit against pop_n, spinning on -EAGAIN */
static void marks_thread(int id)
{
    if (id == 1) {
        int i = 0;
        for (; i < rg.items - 2; i++) {
            uint64_t v = item(i);
            marks_send(i);
            int rc;
            while ((rc = cortex_ring_push(&rg.prod, &v)) == -EAGAIN)
                cortex__spin_hint();
            MC_ASSERT(rc == 0, "push: %d", rc);
        }
        uint64_t two[2] = {item(i), item(i + 1)};
        marks_send(i);
        marks_send(i + 1);
        int sent = 0;
        while (sent < 2) {
            ssize_t k;
            if (sent == 0) {
                k = cortex_ring_push_n(&rg.prod, two, 1);
            } else {
                void *span;
                k = cortex_ring_reserve(&rg.prod, 1, &span);
                if (k > 0) {
                    memcpy(span, &two[1], 8); /* the staging area is private to the handle */
                    MC_ASSERT(cortex_ring_commit(&rg.prod, 1) == 0, "commit");
                }
            }
            if (k == -EAGAIN) {
                cortex__spin_hint();
                continue;
            }
            MC_ASSERT(k == 1, "push_n/reserve: %zd", k);
            sent++;
        }
    } else {
        bool batch = false;
        while (rg.ngot < rg.items) {
            uint64_t v[2];
            ssize_t k = batch ? cortex_ring_pop_n(&rg.cons, v, 2) : (ssize_t)cortex_ring_pop(&rg.cons, v);
            if (k == -EAGAIN) {
                cortex__spin_hint();
                continue;
            }
            MC_ASSERT(k >= 0 && k <= 2, "%s: %zd", batch ? "pop_n" : "pop", k);
            for (ssize_t j = 0; j < (batch ? k : 1); j++)
                marks_got(v[j]);
            batch = !batch;
        }
    }
}

/* capacity 4: two model lines of 2 slots (RING_MARKS_LINE), so the producer's line check and the
 * consumer's lazy freeing (it frees a line when it leaves it or finds the ring empty) both run */
static void marks_setup(void) { ring_setup_scheme(4, 6, 0, CORTEX_RING_SCHEME_MARKS); }

static const mc_scenario ring_marks = {
    "ring_marks_fifo", "marked ring: capacity 4, 6 items by push, push_n and reserve/commit vs pop and pop_n: FIFO, "
                       "each item's payload published by its slot store, the line check never reuses a full slot",
    2, marks_setup, marks_thread, check_all_received, 2, 3, 0, 0, true, false};

static void marks_wait_thread(int id)
{
    if (id == 1) {
        push_wait_all();
        MC_ASSERT(cortex_ring_close(&rg.prod) == 0, "close");
    } else {
        drain_until_error();
    }
}

static void marks_wait_setup(void) { ring_setup_scheme(1, 2, 0, CORTEX_RING_SCHEME_MARKS); }

static const mc_scenario ring_marks_wait = {
    "ring_marks_wait", "marked ring: capacity 1, 2 items, push_wait vs pop_wait, then close: every sleep is woken "
                       "by a slot store or the close, the consumer drains and gets -EPIPE",
    2, marks_wait_setup, marks_wait_thread, close_check, 2, 3, 0, 0, true, false};

/* ---- the batch scheme (index published once per group) ------------------------ */

/* producer: push (spinning on -EAGAIN) then flush; consumer: pop.  Capacity 4 = one group. */
static void batchpub_thread(int id)
{
    if (id == 1) {
        push_all_spinning();
        MC_ASSERT(cortex_ring_flush(&rg.prod) == 0, "flush");
    } else {
        fifo_thread(id);
    }
}

static void batchpub_setup(void) { ring_setup_scheme(4, 6, 0, CORTEX_RING_SCHEME_BATCH); }

static const mc_scenario ring_batchpub = {
    "ring_batchpub_fifo", "batched ring: capacity 4 (one group), 6 items pushed then a flush vs pop: FIFO, the "
                          "group's publication orders its slots, the flush publishes the rest",
    2, batchpub_setup, batchpub_thread, check_all_received, 3, 3, 0, 0, true, false};

/* the producer pushes less than a group and closes: the close publishes it */
static void batchclose_setup(void) { ring_setup_scheme(4, 3, 0, CORTEX_RING_SCHEME_BATCH); }

static const mc_scenario ring_batchclose = {
    "ring_batchpub_close", "batched ring: capacity 4, 3 items (less than a group) then close vs pop_wait: the "
                           "close publishes them, the consumer drains all 3, then -EPIPE",
    2, batchclose_setup, close_thread, close_check, 3, 3, 0, 0, true, false};

static const mc_scenario *const all[] = {&ring_fifo,  &ring_wrap,  &ring_batch,      &ring_close, &ring_cons_close,
                                         &ring_wait,  &ring_marks, &ring_marks_wait, &ring_batchpub, &ring_batchclose, NULL};

int main(int argc, char **argv) { return mc_main(argc, argv, all); }
