/* SPDX-License-Identifier: MIT */
/*
 * Broadcast ring in one process: geometry checks, every reader sees every
 * element (raw memory and a segment), lossless back-pressure and leaving,
 * lossy laps with the missed count, NEWEST/OLDEST joins, batches, close ->
 * -EPIPE after draining, timed waits, reader table limits, and hostile bytes
 * in the header, head, claim and cursors (-EBADMSG, never a read outside
 * the memory), and reader records judged by pid, start time and stamp.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <neocortex.h>

#include "nctest.h"
#include "broadcast/broadcast_layout.h"
#include "os/os.h"

TestSuite(broadcast, .fini = nct_cleanup, .timeout = 60);

BROADCAST_DECLARE(u64_bc, uint64_t);

typedef struct {
    uint32_t a;
    char text[13];
} odd_t;
BROADCAST_DECLARE(odd_bc, odd_t);

static void *raw(uint32_t cap, uint32_t readers, size_t esz, size_t *len)
{
    *len = cortex_broadcast_required_size(cap, readers, esz);
    cr_assert_gt(*len, 0);
    void *m = aligned_alloc(64, (*len + 63) & ~(size_t)63);
    cr_assert_not_null(m);
    memset(m, 0xa5, *len);
    return m;
}

Test(broadcast, geometry_is_checked)
{
    cr_assert_eq(cortex_broadcast_required_size(3, 1, 8), 0);
    cr_assert_eq(cortex_broadcast_required_size(4, 0, 8), 0);
    cr_assert_eq(cortex_broadcast_required_size(4, 65, 8), 0);
    cr_assert_eq(cortex_broadcast_required_size(4, 1, 0), 0);
    cr_assert_eq(cortex_broadcast_required_size(4, 2, 8), 256 + 2 * 64 + 4 * 8);
    size_t len;
    void *m = raw(8, 2, 8, &len);
    u64_bc w;
    cr_assert_eq(u64_bc_init(&w, m, len, 6, 2, CORTEX_BROADCAST_LOSSY), -EINVAL);
    cr_assert_eq(u64_bc_init(&w, m, len - 1, 8, 2, CORTEX_BROADCAST_LOSSY), -EINVAL);
    cr_assert_eq(u64_bc_init(&w, m, len, 8, 2, 7), -EINVAL);
    cr_assert_eq(u64_bc_init(&w, m, len, 8, 2, CORTEX_BROADCAST_LOSSY), 0);
    u64_bc r;
    cr_assert_eq(u64_bc_join_mem(&r, m, len, 9), -EINVAL);
    odd_bc o;
    cr_assert_eq(odd_bc_join_mem(&o, m, len, CORTEX_BROADCAST_NEWEST), -EPROTO, "%s", cortex_last_error()->message);
    cr_assert_eq(u64_bc_pop(&w, &(uint64_t){0}), -EINVAL, "a writer cannot pop");
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    cr_assert_eq(u64_bc_push(&r, 1), -EINVAL, "a reader cannot push");
    u64_bc_close(&r);
    u64_bc_close(&w);
    free(m);
}

/* Every reader reads every element, in order, in both modes, when nobody falls behind. */
static void fan_out(unsigned flags)
{
    size_t len;
    void *m = raw(16, 4, sizeof(odd_t), &len);
    odd_bc w, r[4];
    cr_assert_eq(odd_bc_init(&w, m, len, 16, 4, flags), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(odd_bc_join_mem(&r[i], m, len, CORTEX_BROADCAST_NEWEST), 0, "%s", cortex_last_error()->message);
    odd_bc extra;
    cr_assert_eq(odd_bc_join_mem(&extra, m, len, CORTEX_BROADCAST_NEWEST), -EBUSY, "a fifth reader");
    odd_t v, got;
    for (uint32_t i = 0; i < 1000; i++) {
        memset(&v, 0, sizeof v);
        v.a = i;
        snprintf(v.text, sizeof v.text, "n%u", i);
        cr_assert_eq(odd_bc_push(&w, v), 0);
        for (int k = 0; k < 4; k++) {
            cr_assert_eq(odd_bc_lag(&r[k]), 1);
            cr_assert_eq(odd_bc_pop(&r[k], &got), 0, "%s", cortex_last_error()->message);
            cr_assert_eq(got.a, i);
            cr_assert_str_eq(got.text, v.text);
            cr_assert_eq(odd_bc_pop(&r[k], &got), -EAGAIN);
        }
    }
    cr_assert_eq(odd_bc_close(&r[3]), 0);
    cr_assert_eq(odd_bc_join_mem(&extra, m, len, CORTEX_BROADCAST_NEWEST), 0, "the freed entry is taken again");
    odd_bc_close(&extra);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(odd_bc_missed(&r[k]), 0);
    odd_bc_close(&w);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(odd_bc_pop(&r[k], &got), -EPIPE, "closed and drained");
    for (int k = 0; k < 3; k++)
        odd_bc_close(&r[k]);
    free(m);
}

Test(broadcast, fan_out_lossless) { fan_out(CORTEX_BROADCAST_LOSSLESS); }
Test(broadcast, fan_out_lossy) { fan_out(CORTEX_BROADCAST_LOSSY); }

Test(broadcast, lossless_waits_for_the_slowest_reader)
{
    size_t len;
    void *m = raw(8, 2, 8, &len);
    u64_bc w, fast, slow;
    cr_assert_eq(u64_bc_init(&w, m, len, 8, 2, CORTEX_BROADCAST_LOSSLESS), 0);
    cr_assert_eq(u64_bc_join_mem(&fast, m, len, CORTEX_BROADCAST_NEWEST), 0);
    cr_assert_eq(u64_bc_join_mem(&slow, m, len, CORTEX_BROADCAST_NEWEST), 0);
    uint64_t v;
    for (uint64_t i = 0; i < 8; i++) {
        cr_assert_eq(u64_bc_push(&w, i), 0);
        cr_assert_eq(u64_bc_pop(&fast, &v), 0);
    }
    cr_assert_eq(u64_bc_push(&w, 8), -EAGAIN, "the slow reader is a ring behind");
    cr_assert_eq(cortex_last_error()->code, -EAGAIN);
    cr_assert_eq(u64_bc_push_wait(&w, 8, 1000000), -ETIMEDOUT);
    cr_assert_eq(u64_bc_pop(&slow, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(u64_bc_push(&w, 8), 0, "one slot freed");
    cr_assert_eq(u64_bc_push(&w, 9), -EAGAIN);
    cr_assert_eq(u64_bc_close(&slow), 0, "the slow reader leaves");
    cr_assert_eq(u64_bc_push(&w, 9), 0, "only the fast reader is left, one behind");
    cr_assert_eq(u64_bc_pop(&fast, &v), 0);
    cr_assert_eq(v, 8);
    uint64_t batch[16] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    cr_assert_eq(u64_bc_push_n(&w, batch, 16), 7, "a batch is cut at the free room");
    uint64_t out[16];
    cr_assert_eq(u64_bc_pop_n(&fast, out, 16), 8);
    cr_assert_eq(out[0], 9);
    cr_assert_eq(out[7], 16);
    cr_assert_eq(u64_bc_missed(&fast), 0, "lossless never loses");
    u64_bc_close(&fast);
    cr_assert_eq(u64_bc_push_n(&w, batch, 16), 8, "no readers: nothing holds the writer (a batch is at most a ring)");
    u64_bc_close(&w);
    free(m);
}

Test(broadcast, lossy_lap_reports_the_count_and_resumes)
{
    size_t len;
    void *m = raw(8, 1, 8, &len);
    u64_bc w, r;
    cr_assert_eq(u64_bc_init(&w, m, len, 8, 1, CORTEX_BROADCAST_LOSSY), 0);
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    for (uint64_t i = 0; i < 20; i++)
        cr_assert_eq(u64_bc_push(&w, i), 0, "a lossy writer never waits");
    uint64_t v = 999;
    cr_assert_eq(u64_bc_pop(&r, &v), -EOVERFLOW);
    cr_assert_eq(u64_bc_missed(&r), 12);
    cr_assert(strstr(cortex_last_error()->message, "12 element(s) lost"), "%s", cortex_last_error()->message);
    for (uint64_t i = 12; i < 20; i++) {
        cr_assert_eq(u64_bc_pop(&r, &v), 0);
        cr_assert_eq(v, i, "resumes at the oldest retained element");
    }
    cr_assert_eq(u64_bc_pop(&r, &v), -EAGAIN);
    /* A lap in the middle of a batch ends the batch; the next call reports it. */
    for (uint64_t i = 20; i < 24; i++)
        cr_assert_eq(u64_bc_push(&w, i), 0);
    uint64_t out[8];
    cr_assert_eq(u64_bc_pop_n(&r, out, 2), 2);
    cr_assert_eq(out[1], 21);
    for (uint64_t i = 24; i < 40; i++)
        cr_assert_eq(u64_bc_push(&w, i), 0);
    cr_assert_eq(u64_bc_pop_n(&r, out, 8), -EOVERFLOW);
    cr_assert_eq(u64_bc_missed(&r), 12 + 10);
    cr_assert_eq(u64_bc_pop_n(&r, out, 8), 8);
    cr_assert_eq(out[0], 32);
    u64_bc_close(&r);
    u64_bc_close(&w);
    free(m);
}

Test(broadcast, join_newest_or_oldest)
{
    size_t len;
    void *m = raw(8, 3, 8, &len);
    u64_bc w, a, b, c;
    cr_assert_eq(u64_bc_init(&w, m, len, 8, 3, CORTEX_BROADCAST_LOSSY), 0);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(u64_bc_push(&w, i), 0);
    cr_assert_eq(u64_bc_join_mem(&a, m, len, CORTEX_BROADCAST_OLDEST), 0);
    cr_assert_eq(u64_bc_join_mem(&b, m, len, CORTEX_BROADCAST_NEWEST), 0);
    cr_assert_eq(u64_bc_lag(&a), 5);
    cr_assert_eq(u64_bc_lag(&b), 0);
    for (uint64_t i = 5; i < 13; i++)
        cr_assert_eq(u64_bc_push(&w, i), 0);
    cr_assert_eq(u64_bc_join_mem(&c, m, len, CORTEX_BROADCAST_OLDEST), 0);
    uint64_t v;
    cr_assert_eq(u64_bc_pop(&c, &v), 0);
    cr_assert_eq(v, 5, "the oldest retained of 13 in a ring of 8");
    cr_assert_eq(u64_bc_pop(&b, &v), 0);
    cr_assert_eq(v, 5);
    cr_assert_eq(u64_bc_pop(&a, &v), -EOVERFLOW, "a joined at 0 and was lapped");
    u64_bc_close(&a);
    u64_bc_close(&b);
    u64_bc_close(&c);
    u64_bc_close(&w);
    free(m);
}

Test(broadcast, segment_create_join_wait_close)
{
    int key = nct_sysv_key();
    u64_bc w, r;
    cr_assert_eq(u64_bc_create(&w, CORTEX_KEY_SYSV(key), 64, 4, CORTEX_BROADCAST_LOSSLESS, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(u64_bc_join(&r, CORTEX_KEY_SYSV(key), CORTEX_BROADCAST_NEWEST, NULL), 0, "%s",
                 cortex_last_error()->message);
    odd_bc o;
    cr_assert_eq(odd_bc_join(&o, CORTEX_KEY_SYSV(key), CORTEX_BROADCAST_NEWEST, NULL), -EPROTO);
    cr_assert_not_null(u64_bc_region(&r));
    uint64_t v;
    cr_assert_eq(u64_bc_pop_wait(&r, &v, 0), -ETIMEDOUT);
    cr_assert_eq(u64_bc_pop_wait(&r, &v, 2000000), -ETIMEDOUT);
    cr_assert_eq(u64_bc_push_wait(&w, 42, 0), 0);
    cr_assert_eq(u64_bc_pop_wait(&r, &v, -1), 0);
    cr_assert_eq(v, 42);
    cortex_broadcast_info info;
    cr_assert_eq(cortex_broadcast_inspect(u64_bc_region(&w), &info), 0);
    cr_assert_eq(info.readers, 1);
    cr_assert_eq(info.head, 1);
    cr_assert_eq(info.reader[0].cursor, 1);
    cr_assert(info.writer_alive);
    cr_assert_eq(u64_bc_push(&w, 43), 0);
    cr_assert_eq(u64_bc_close(&w), 0);
    cr_assert_eq(u64_bc_pop_wait(&r, &v, -1), 0, "drains after close");
    cr_assert_eq(v, 43);
    cr_assert_eq(u64_bc_pop_wait(&r, &v, -1), -EPIPE);
    cr_assert_eq(u64_bc_close(&r), 0);
    cr_assert_eq(u64_bc_join(&r, CORTEX_KEY_SYSV(key), CORTEX_BROADCAST_NEWEST, NULL), -ENOENT, "the owner removed it");
}

/* ---- hostile bytes ------------------------------------------------------- */

static void *writer_mem(u64_bc *w, size_t *len)
{
    void *m = raw(8, 2, 8, len);
    cr_assert_eq(u64_bc_init(w, m, *len, 8, 2, CORTEX_BROADCAST_LOSSLESS), 0);
    for (uint64_t i = 0; i < 3; i++)
        cr_assert_eq(u64_bc_push(w, i), 0);
    return m;
}

Test(broadcast, hostile_header_fields)
{
    size_t len;
    u64_bc w, r;
    void *m = writer_mem(&w, &len);
    cortex_bc_shared *sh = m;
    cortex_bc_shared good;
    memcpy(&good, m, 64);
    cr_assert_eq(u64_bc_join_mem(&r, m, 100, CORTEX_BROADCAST_NEWEST), -EBADMSG, "too short");
    cr_assert_eq(u64_bc_join_mem(&r, m, len - 1, CORTEX_BROADCAST_NEWEST), -EBADMSG, "truncated slots");
    uint32_t *fields[] = {&sh->capacity, &sh->max_readers, &sh->elem_size, &sh->slot_size, &sh->flags};
    uint32_t bad_values[] = {0, 3, 65, 1u << 31, 0xffffffffu};
    for (size_t f = 0; f < CORTEX_ARRAY_LEN(fields); f++) {
        for (size_t k = 0; k < CORTEX_ARRAY_LEN(bad_values); k++) {
            memcpy(m, &good, 64);
            *fields[f] = bad_values[k];
            sh->check = cortex__fnv1a32(sh, offsetof(cortex_bc_shared, check)); /* a consistent liar */
            int rc = cortex_broadcast_join_mem(&r.bc, m, len, CORTEX_BROADCAST_NEWEST, 0, 0);
            cr_assert(rc == -EBADMSG || rc == -EPROTO || (fields[f] == &sh->flags && bad_values[k] == 0) ||
                          (fields[f] == &sh->elem_size && bad_values[k] == 3) /* same slots: consistent */, "field %zu = 0x%x: %d", f, bad_values[k], rc);
            if (rc == 0)
                u64_bc_close(&r);
        }
    }
    memcpy(m, &good, 64);
    sh->total_size += 64;
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), -EBADMSG, "checksum");
    memcpy(m, &good, 64);
    u64_bc_close(&w);
    free(m);
}

Test(broadcast, hostile_head_cursor_and_sequence)
{
    size_t len;
    u64_bc w, r;
    void *m = writer_mem(&w, &len);
    cortex_bc_shared *sh = m;
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_OLDEST), 0);
    uint64_t v;
    cr_assert_eq(u64_bc_pop(&r, &v), 0);
    /* A writer's claim below head, or more than a ring above it. */
    uint64_t claim = atomic_load(&sh->claim);
    atomic_store(&sh->claim, 1);
    cr_assert_eq(u64_bc_pop(&r, &v), -EBADMSG, "%s", cortex_last_error()->message);
    cr_assert_eq(u64_bc_pop(&r, &v), -EBADMSG, "poisoned");
    u64_bc_close(&r);
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_OLDEST), 0);
    atomic_store(&sh->claim, UINT64_C(1) << 50);
    cr_assert_eq(u64_bc_pop(&r, &v), -EBADMSG, "%s", cortex_last_error()->message);
    u64_bc_close(&r);
    atomic_store(&sh->claim, claim);
    /* Head going backwards. */
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    atomic_store(&sh->head, 1);
    cr_assert_eq(u64_bc_pop(&r, &v), -EBADMSG, "%s", cortex_last_error()->message);
    u64_bc_close(&r);
    atomic_store(&sh->head, 3);
    /* The same seen first by the waitset's hook: the handle stays poisoned too. */
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    atomic_store(&sh->head, 1);
    cortex__a32 *word = NULL;
    uint32_t val = 0;
    cr_assert_eq(cortex__broadcast_wait_arm(&r.bc, false, true, &word, &val), -EBADMSG);
    atomic_store(&sh->head, 3);
    cr_assert_eq(u64_bc_pop(&r, &v), -EBADMSG, "poisoned by the hook");
    u64_bc_close(&r);
    /* A huge head: a lossless reader sees a lap and resumes within the ring, never outside it. */
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    atomic_store(&sh->head, UINT64_C(1) << 40);
    int rc = u64_bc_pop(&r, &v);
    cr_assert(rc == -EOVERFLOW || rc == -EBADMSG, "%d", rc);
    u64_bc_close(&r);
    atomic_store(&sh->head, 3);
    /* A reader cursor ahead of the writer: the writer refuses with -EBADMSG. */
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    cortex_bc_reader *e = (cortex_bc_reader *)(void *)((unsigned char *)m + CORTEX_BROADCAST_HEADER_SIZE);
    atomic_store(&e->cursor, UINT64_C(1) << 50);
    for (int i = 0; i < 8 && rc != -EBADMSG; i++)
        rc = u64_bc_push(&w, 7);
    cr_assert_eq(rc, -EBADMSG, "%s", cortex_last_error()->message);
    cortex_broadcast_info info;
    cr_assert_eq(cortex_broadcast_inspect_mem(m, len, &info), 0);
    cr_assert_leq(info.reader[0].lag, 8, "the inspector clamps");
    u64_bc_close(&r);
    u64_bc_close(&w);
    free(m);
}

/*
 * Reader records are judged by the identity the ring's roles use (pid,
 * start time as the holder read it, stamp): a forged entry naming a live
 * process that started after the entry's stamp is a reused pid (dead,
 * evicted by a full writer, its entry free for a join); one whose stamp is
 * later than the process's start is that process, even when the start time
 * it recorded differs (as under qemu-user), and holds the writer back.
 */
Test(broadcast, reader_records_judged_by_stamp_like_ring_roles)
{
    size_t len;
    void *m = raw(4, 2, 8, &len);
    u64_bc w, r;
    cr_assert_eq(u64_bc_init(&w, m, len, 4, 2, CORTEX_BROADCAST_LOSSLESS), 0);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    usleep(30000); /* a few ticks old: a stamp taken now is strictly after its start */
    uint64_t start = cortex__pid_start_time(child);
    cr_assert_neq(start, 0);
    uint32_t now = (uint32_t)cortex__boot_ticks();
    cortex_bc_reader *e = (cortex_bc_reader *)(void *)((unsigned char *)m + CORTEX_BROADCAST_HEADER_SIZE);
    for (int i = 0; i < 2; i++) {
        atomic_store(&e[i].cursor, 0);
        atomic_store(&e[i].start, start + 77); /* not the start the kernel shows: only the stamp can decide */
        atomic_store(&e[i].image, 1);
    }
    atomic_store(&e[0].stamp, (uint32_t)start - 3); /* the child started after this record: a reused pid */
    atomic_store(&e[1].stamp, now);                  /* the child ran at this pid when the record was made */
    atomic_store(&e[0].pid, (uint32_t)child);
    atomic_store(&e[1].pid, (uint32_t)child);
    cortex_broadcast_info info;
    cr_assert_eq(cortex_broadcast_inspect_mem(m, len, &info), 0);
    cr_assert_eq(info.readers, 2);
    cr_assert(!info.reader[0].alive, "pid reused after the stamp: dead");
    cr_assert(info.reader[1].alive, "stamp after the start: the same process, alive");
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(u64_bc_push(&w, i), 0);
    cr_assert_eq(u64_bc_push(&w, 4), -EAGAIN, "the live forged reader holds the lossless writer");
    cr_assert_eq(atomic_load(&e[0].pid), 0, "the reused pid's entry was evicted");
    cr_assert_eq(atomic_load(&e[1].pid), (uint32_t)child);
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0, "the freed entry takes a join");
    cr_assert_eq(r.bc.index, 0);
    cr_assert_eq(r.bc.took_over, 0, "the writer had freed it");
    cr_assert_eq(u64_bc_join_mem(&(u64_bc){0}, m, len, CORTEX_BROADCAST_NEWEST), -EBUSY, "entry 1 stays held");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    u64_bc_close(&r);
    u64_bc_close(&w);
    free(m);
}

/* An entry naming this very process under another image token is its image before an exec(): a join takes it back. */
Test(broadcast, entry_of_this_pid_before_exec_is_taken_back)
{
    size_t len;
    void *m = raw(4, 1, 8, &len);
    u64_bc w, r;
    cr_assert_eq(u64_bc_init(&w, m, len, 4, 1, CORTEX_BROADCAST_LOSSLESS), 0);
    cortex_bc_reader *e = (cortex_bc_reader *)(void *)((unsigned char *)m + CORTEX_BROADCAST_HEADER_SIZE);
    atomic_store(&e[0].start, cortex__self_start());
    atomic_store(&e[0].stamp, cortex__self_stamp());
    atomic_store(&e[0].image, cortex__image_token() + 1);
    atomic_store(&e[0].pid, (uint32_t)getpid());
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(atomic_load(&e[0].image), cortex__image_token());
    cr_assert_eq(r.bc.took_over, getpid(), "taken back from this pid's image before exec");
    cr_assert_eq(u64_bc_join_mem(&(u64_bc){0}, m, len, CORTEX_BROADCAST_NEWEST), -EBUSY,
                 "held by this image now: not taken again");
    u64_bc_close(&r);
    u64_bc_close(&w);
    free(m);
}

/*
 * One writer per ring, also within one process: a second create (open-or-
 * create) on a ring this very image writes is -EBUSY, as a ring role asked
 * twice is; only a record of this pid under another image token (its image
 * before an exec()) is taken back.  Two writer handles would publish the
 * same indices and send head backwards under the readers.
 */
Test(broadcast, second_writer_handle_of_one_image_is_refused)
{
    int key = nct_sysv_key();
    u64_bc w, w2;
    cr_assert_eq(u64_bc_create(&w, CORTEX_KEY_SYSV(key), 8, 1, CORTEX_BROADCAST_LOSSY, NULL), 0, "%s",
                 cortex_last_error()->message);
    cortex_opts o = CORTEX_OPTS_INIT;
    o.mode = CORTEX_OPEN_OR_CREATE;
    int rc = u64_bc_create(&w2, CORTEX_KEY_SYSV(key), 8, 1, CORTEX_BROADCAST_LOSSY, &o);
    if (rc == 0)
        cortex_region_close(u64_bc_region(&w2)); /* only detach: keep the ring open for the failure report */
    cr_assert_eq(rc, -EBUSY, "a second writer handle in the writer's own image: %d", rc);
    cr_assert(strstr(cortex_last_error()->message, "already"), "%s", cortex_last_error()->message);
    cr_assert_eq(u64_bc_push(&w, 1), 0, "the first writer goes on");
    /* The record of this pid from an image before exec() is taken back. */
    cortex_bc_shared *sh = (cortex_bc_shared *)(void *)w.bc.base;
    atomic_store(&sh->wimage, cortex__image_token() + 1);
    cr_assert_eq(u64_bc_create(&w2, CORTEX_KEY_SYSV(key), 8, 1, CORTEX_BROADCAST_LOSSY, &o), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(atomic_load(&sh->wimage), cortex__image_token());
    cr_assert_eq(w.bc.took_over, 0, "a fresh ring's writer took nothing over");
    cr_assert_eq(w2.bc.took_over, getpid(), "the take-back is reported");
    cr_assert_eq(u64_bc_close(&w2), 0);
    cr_assert_eq(u64_bc_close(&w), 0);
}

/*
 * From the moment a ring's header can be read (READY, for a segment), it
 * names its writer: at -pid while the creator has not finished its claim.
 * Before, the writer record stayed 0 until the claim, and a creator killed
 * between its header and its claim left a ring whose readers never learn
 * that no writer will come (a pid of 0 is never judged dead).  A thread
 * watches the raw memory while the main thread lays rings over it.
 */
struct bc_watch {
    cortex_bc_shared *sh;
    unsigned gen; /* odd while the main thread clears the memory between two rings */
    int stop, seen, nameless;
};

static void *watch_header(void *arg)
{
    struct bc_watch *wt = arg;
    while (!__atomic_load_n(&wt->stop, __ATOMIC_ACQUIRE)) {
        unsigned g = __atomic_load_n(&wt->gen, __ATOMIC_ACQUIRE);
        if ((g & 1) || __atomic_load_n(&wt->sh->magic, __ATOMIC_ACQUIRE) != CORTEX_BROADCAST_MAGIC)
            continue;
        uint32_t pid = atomic_load(&wt->sh->wpid);
        if (__atomic_load_n(&wt->gen, __ATOMIC_ACQUIRE) != g)
            continue; /* the memory was cleared meanwhile */
        wt->seen++;
        wt->nameless += pid == 0;
    }
    return NULL;
}

Test(broadcast, header_names_its_writer_before_the_claim)
{
    size_t len;
    void *m = raw(4, 1, 8, &len);
    struct bc_watch wt = {.sh = m};
    __atomic_store_n(&wt.sh->magic, 0, __ATOMIC_RELEASE);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, watch_header, &wt), 0);
    for (int i = 0; i < 50000; i++) {
        u64_bc w;
        cr_assert_eq(u64_bc_init(&w, m, len, 4, 1, CORTEX_BROADCAST_LOSSY), 0);
        u64_bc_close(&w);
        __atomic_fetch_add(&wt.gen, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&wt.sh->magic, 0, __ATOMIC_RELEASE);
        atomic_store(&wt.sh->wpid, 0);
        __atomic_fetch_add(&wt.gen, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&wt.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    fprintf(stderr, "# header seen %d times, %d of them naming no writer\n", wt.seen, wt.nameless);
    cr_assert_eq(wt.nameless, 0, "a readable header named no writer %d time(s)", wt.nameless);
    free(m);
}

/*
 * The waitset's hook (cortex__broadcast_wait_arm): when the membarrier a
 * light writer needs fails, it hands back no futex word, and the waitset
 * then keeps no announcement to withdraw; if the hook also finds the writer
 * gone (-EPIPE), it must withdraw its own sleeper count, or the count stays
 * up and the writer makes a FUTEX_WAKE call on every publish for good.
 */
Test(broadcast, waitset_hook_failing_without_a_word_keeps_no_sleeper_count)
{
    size_t len;
    void *m = raw(4, 1, 8, &len);
    cortex_bc_shared *sh = m;
    u64_bc w, r;
    cr_assert_eq(u64_bc_init(&w, m, len, 4, 1, CORTEX_BROADCAST_LOSSY), 0);
    cr_assert_eq(u64_bc_join_mem(&r, m, len, CORTEX_BROADCAST_NEWEST), 0);
    cr_assert_eq(u64_bc_close(&w), 0);
    atomic_store(&sh->wlight, 1); /* as a light writer left it: an arming reader calls membarrier */
    unsigned forced = cortex__os_forced();
    cortex__os_force(forced | CORTEX__OS_NO_MEMBARRIER); /* and that call fails */
    cortex__a32 *word = &sh->data_futex;
    uint32_t val = 0;
    int rc = cortex__broadcast_wait_arm(&r.bc, true, false, &word, &val);
    cortex__os_force(forced);
    cr_assert_eq(rc, -EPIPE, "%d %s", rc, cortex_last_error()->message);
    cr_assert_null(word, "no word: the caller polls (and has nothing to disarm)");
    cr_assert_eq(atomic_load(&sh->data_waiters), 0, "the hook's sleeper count was left up");
    u64_bc_close(&r);
    free(m);
}
