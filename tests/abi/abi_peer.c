/* SPDX-License-Identifier: MIT */
/*
 * abi_peer: one side of the cross-ABI tests, built for x86-64 (meson) and
 * for i386 (tools/test.sh, stage i386; run under qemu-i386).
 *
 *   abi_peer serve BASE        create a cell, a slab and a ring of handles
 *                              (producer) plus a cell of a non-portable type,
 *                              push SLOTS handles of filled slab slots, print
 *                              "ready", wait until a peer sets the cell's seq
 *                              to 2, check every slot came back, close.
 *   abi_peer use BASE [cross]  attach them, check the cell, pop and check the
 *                              handles, free the slots, set seq 2; "cross":
 *                              the non-portable cell must be refused with a
 *                              message naming the other ABI.
 *   abi_peer hold BASE         attach BASE's ring as producer, print "ready",
 *                              sleep until killed (30 s at most).
 *   abi_peer attach-file PATH  attach the raw file segment PATH (over 4 GiB):
 *                              -EFBIG on a 32-bit build, 0 on a 64-bit one.
 *   abi_peer checks            C99 and C11 layout alignments agree; on a
 *                              32-bit build, sizes past SIZE_MAX are -EFBIG.
 *   abi_peer timed-wait BASE   create a cell, wait 300 ms on it unchanged:
 *                              -ETIMEDOUT after >= 250 ms of wall time, with
 *                              user + system CPU under 10% of it and at most
 *                              50 sleeps (a futex call given the wrong
 *                              timespec layout, as the old SYS_futex with
 *                              -D_TIME_BITS=64 on i386, sees a zero timeout:
 *                              thousands of sleeps, about 20% CPU under qemu).
 *
 * Names are POSIX shm names "/nct-abi-BASE-{cell,slab,ring,bad}".  Exit 0 on
 * success; otherwise a code naming the step (see fail()), with the reason
 * on stderr.
 */
#include "abi_types.h"
#include "internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 10u

CORTEX_DECLARE(abi_cell, abi_sample);
CORTEX_DECLARE(abi_bad, abi_unportable);
SLAB_DECLARE(abi_slab, abi_sample);
SPSC_RING_DECLARE(abi_hring, cortex_handle);

static int fail(int code, const char *step, int rc)
{
    fprintf(stderr, "abi_peer(%u-bit): %s: %d %s\n", (unsigned)(sizeof(void *) * 8), step, rc,
            rc < 0 ? cortex_last_error()->message : "");
    return code;
}

static void name_of(char *buf, size_t len, const char *base, const char *what)
{
    snprintf(buf, len, "/nct-abi-%s-%s", base, what);
}

struct names {
    char cell[96], slab[96], ring[96], bad[96];
};

static void names_of(struct names *n, const char *base)
{
    name_of(n->cell, sizeof n->cell, base, "cell");
    name_of(n->slab, sizeof n->slab, base, "slab");
    name_of(n->ring, sizeof n->ring, base, "ring");
    name_of(n->bad, sizeof n->bad, base, "bad");
}

static abi_sample sample(uint64_t seq)
{
    abi_sample s = {seq, (uint32_t)(0xA1000000u + seq), (uint32_t)(0xB2000000u + seq), 0.5 + (double)seq};
    return s;
}

static int same(const abi_sample *s, uint64_t seq)
{
    abi_sample w = sample(seq);
    return s->seq == w.seq && s->a == w.a && s->b == w.b && s->x == w.x;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int serve(const char *base)
{
    struct names n;
    names_of(&n, base);
    abi_cell cell;
    abi_bad bad;
    abi_slab slab;
    abi_hring ring;
    int rc, code = 0;
    abi_unportable u = {7, 8};
    if ((rc = abi_cell_create(&cell, CORTEX_KEY_NAME(n.cell), sample(1), NULL)) < 0)
        return fail(10, "create cell", rc);
    if ((rc = abi_bad_create(&bad, CORTEX_KEY_NAME(n.bad), u, NULL)) < 0) {
        code = fail(11, "create non-portable cell", rc);
        goto out_cell;
    }
    if ((rc = abi_slab_create(&slab, CORTEX_KEY_NAME(n.slab), SLOTS, NULL)) < 0) {
        code = fail(12, "create slab", rc);
        goto out_bad;
    }
    if ((rc = abi_hring_create(&ring, CORTEX_KEY_NAME(n.ring), 16, CORTEX_PRODUCER, NULL)) < 0) {
        code = fail(13, "create ring", rc);
        goto out_slab;
    }
    for (uint64_t i = 0; i < SLOTS; i++) {
        cortex_handle h;
        if ((rc = abi_slab_alloc(&slab, &h)) < 0) {
            code = fail(14, "alloc", rc);
            goto out;
        }
        *abi_slab_get(&slab, h) = sample(100 + i);
        if ((rc = abi_hring_push(&ring, h)) < 0) {
            code = fail(15, "push", rc);
            goto out;
        }
    }
    printf("ready\n");
    fflush(stdout);
    abi_sample now = {0, 0, 0, 0};
    for (int t = 0; t < 2000; t++) {
        if ((rc = abi_cell_read(&cell, &now)) < 0) {
            code = fail(16, "read cell", rc);
            goto out;
        }
        if (now.seq == 2)
            break;
        nap_ms(10);
    }
    if (!same(&now, 2)) {
        code = fail(17, "the peer never wrote seq 2 (or wrote other bytes)", 0);
        goto out;
    }
    /* The peer freed every slot: all of them can be taken again. */
    for (unsigned i = 0; i < SLOTS; i++) {
        cortex_handle h;
        if ((rc = abi_slab_alloc(&slab, &h)) < 0) {
            code = fail(18, "alloc after the peer freed", rc);
            goto out;
        }
    }
out:
    abi_hring_close(&ring);
out_slab:
    abi_slab_close(&slab);
out_bad:
    abi_bad_close(&bad);
out_cell:
    abi_cell_close(&cell);
    return code;
}

static int use(const char *base, int cross)
{
    struct names n;
    names_of(&n, base);
    abi_cell cell;
    abi_bad bad;
    abi_slab slab;
    abi_hring ring;
    int rc, code = 0;
    if ((rc = abi_cell_attach(&cell, CORTEX_KEY_NAME(n.cell), NULL)) < 0)
        return fail(20, "attach cell", rc);
    rc = abi_bad_attach(&bad, CORTEX_KEY_NAME(n.bad), NULL);
    if (rc == 0)
        abi_bad_close(&bad);
    if (cross) {
        const char *msg = cortex_last_error()->message;
        if (rc != -EPROTO || !strstr(msg, "-bit peer:") || !strstr(msg, "uint64_t aligned")) {
            code = fail(21, "non-portable cell not refused by name across ABIs", rc);
            goto out_cell;
        }
        fprintf(stderr, "abi_peer: refused as expected: %s\n", msg);
    } else if (rc < 0) {
        code = fail(21, "attach non-portable cell (same ABI)", rc);
        goto out_cell;
    }
    abi_sample v;
    if ((rc = abi_cell_read(&cell, &v)) < 0 || !same(&v, 1)) {
        code = fail(22, "cell value", rc);
        goto out_cell;
    }
    if ((rc = abi_slab_attach(&slab, CORTEX_KEY_NAME(n.slab), NULL)) < 0) {
        code = fail(23, "attach slab", rc);
        goto out_cell;
    }
    if ((rc = abi_hring_attach(&ring, CORTEX_KEY_NAME(n.ring), CORTEX_CONSUMER, NULL)) < 0) {
        code = fail(24, "attach ring", rc);
        goto out_slab;
    }
    for (uint64_t i = 0; i < SLOTS; i++) {
        cortex_handle h;
        if ((rc = abi_hring_pop(&ring, &h)) < 0) {
            code = fail(25, "pop", rc);
            goto out;
        }
        abi_sample *s = abi_slab_get(&slab, h);
        if (!s || !same(s, 100 + i)) {
            code = fail(26, "slot behind a handle", 0);
            goto out;
        }
        if ((rc = abi_slab_free(&slab, h)) < 0) {
            code = fail(27, "free", rc);
            goto out;
        }
    }
    if ((rc = abi_cell_write(&cell, sample(2))) < 0)
        code = fail(28, "write cell", rc);
out:
    abi_hring_close(&ring);
out_slab:
    abi_slab_close(&slab);
out_cell:
    abi_cell_close(&cell);
    return code;
}

static int hold(const char *base)
{
    char n_ring[96];
    name_of(n_ring, sizeof n_ring, base, "ring");
    abi_hring ring;
    int rc = abi_hring_attach(&ring, CORTEX_KEY_NAME(n_ring), CORTEX_PRODUCER, NULL);
    if (rc < 0)
        return fail(30, "attach ring as producer", rc);
    printf("ready\n");
    fflush(stdout);
    nap_ms(30000);
    abi_hring_close(&ring);
    return 31;
}

static int checks(void)
{
    size_t c99[4], c11[4] = {CORTEX_LAYOUT_ALIGNOF(uint64_t), CORTEX_LAYOUT_ALIGNOF(double),
                             CORTEX_LAYOUT_ALIGNOF(abi_sample), CORTEX_LAYOUT_ALIGNOF(cortex_handle)};
    abi_c99_aligns(c99);
    for (int i = 0; i < 4; i++)
        if (c99[i] != c11[i] || c11[i] != 8) {
            fprintf(stderr, "abi_peer: layout alignment %d: C99 %zu, C11 %zu (want 8)\n", i, c99[i], c11[i]);
            return 40;
        }
    if (sizeof(void *) == 4) {
        /* A header written by a 64-bit creator of a 4 GiB + 4 KiB segment. */
        cortex_seg_header h;
        memset(&h, 0, sizeof h);
        h.magic = CORTEX_MAGIC;
        h.version = CORTEX_LAYOUT_VERSION;
        h.header_size = CORTEX_HEADER_SIZE;
        h.kind = CORTEX_KIND_RAW;
        h.payload_align = 64;
        h.segment_size = (UINT64_C(1) << 32) + 4096;
        h.payload_offset = 256;
        h.payload_size = h.segment_size - 256;
        h.check = cortex__fnv1a32(&h, offsetof(cortex_seg_header, check));
        int rc = cortex_header_validate(&h, 8192, NULL, "forged 4 GiB segment");
        if (rc != -EFBIG)
            return fail(41, "4 GiB header on a 32-bit process", rc);
        cortex_region *r = NULL;
        cortex_layout l = {.kind = CORTEX_KIND_RAW, .payload_size = UINT64_C(1) << 32};
        rc = cortex_region_create(&r, CORTEX_KEY_NAME("/nct-abi-never-made"), &l, NULL, NULL, NULL);
        if (rc != -EFBIG) {
            cortex_region_close(r);
            return fail(42, "create of 4 GiB on a 32-bit process", rc);
        }
    }
    return 0;
}

/* Attach a raw file segment of more than 4 GiB: -EFBIG for a 32-bit process, 0 for a 64-bit one. */
static int attach_file(const char *path)
{
    cortex_region *r = NULL;
    cortex_layout l = {.kind = CORTEX_KIND_RAW};
    int rc = cortex_region_attach(&r, CORTEX_KEY_FILE(path), &l, NULL);
    int want = sizeof(void *) == 4 ? -EFBIG : 0;
    if (rc == 0) {
        uint64_t size = cortex_region_payload_size(r);
        cortex_region_leak(r);
        if (size <= UINT32_MAX)
            return fail(51, "attached a 4 GiB segment, but its payload reads smaller", 0);
    }
    return rc == want ? 0 : fail(50, "attach of a 4 GiB file segment", rc);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* User + system CPU time so far; the voluntary context switches (sleeps) into *sleeps. */
static int64_t cpu_ns(long *sleeps)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *sleeps = ru.ru_nvcsw;
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* A timed wait on an unchanged cell must sleep for its timeout, not spin. */
static int timed_wait(const char *base)
{
    char name[96];
    name_of(name, sizeof name, base, "tw");
    abi_cell cell;
    int rc = abi_cell_create(&cell, CORTEX_KEY_NAME(name), sample(1), NULL);
    if (rc < 0)
        return fail(60, "create cell", rc);
    abi_sample now;
    uint64_t seen = 0;
    int code = 0;
    if ((rc = abi_cell_read_version(&cell, &now, &seen)) < 0) {
        code = fail(61, "read cell", rc);
        goto out;
    }
    long sleeps0, sleeps;
    int64_t wall = mono_ns(), cpu = cpu_ns(&sleeps0);
    rc = abi_cell_wait(&cell, &seen, 300 * INT64_C(1000000));
    wall = mono_ns() - wall;
    cpu = cpu_ns(&sleeps) - cpu;
    sleeps -= sleeps0;
    fprintf(stderr, "abi_peer(%u-bit, time_t %u-bit): 300 ms wait: %d after %lld ms, %lld us CPU, %ld sleeps\n",
            (unsigned)(sizeof(void *) * 8), (unsigned)(sizeof(time_t) * 8), rc, (long long)(wall / 1000000),
            (long long)(cpu / 1000), sleeps);
    if (rc != -ETIMEDOUT)
        code = fail(62, "timed wait on an unchanged cell", rc);
    else if (wall < 250 * INT64_C(1000000))
        code = fail(63, "timed wait returned early", 0);
    else if (cpu * 10 >= wall || sleeps > 50)
        code = fail(64, "timed wait spun (woke at once, again and again) instead of sleeping", 0);
out:
    abi_cell_close(&cell); /* the owner: removes it */
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "serve"))
        return serve(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "use"))
        return use(argv[2], argc > 3 && !strcmp(argv[3], "cross"));
    if (argc >= 3 && !strcmp(argv[1], "hold"))
        return hold(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "attach-file"))
        return attach_file(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "checks"))
        return checks();
    if (argc >= 3 && !strcmp(argv[1], "timed-wait"))
        return timed_wait(argv[2]);
    fprintf(stderr, "usage: abi_peer serve|use|hold|timed-wait BASE [cross] | checks\n");
    return 2;
}
