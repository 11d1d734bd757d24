/* SPDX-License-Identifier: MIT */
/*
 * tests/abi: the segment header's ABI record, the layout alignment of the
 * type signature, and 32-/64-bit peers sharing a cell, a slab and a ring of
 * handles.  The i386 peer runs under qemu-i386 when CORTEX_I386_PEER names
 * it (tools/test.sh, stage i386, builds it); otherwise those tests SKIP.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_types.h"
#include "internal.h"
#include "nctest.h"

SPSC_RING_DECLARE(t_hring, cortex_handle);

static char base[64];
static const char *const parts[] = {"cell", "slab", "ring", "bad"};

static void fresh_base(void)
{
    static int n;
    snprintf(base, sizeof base, "%d-%d", (int)getpid(), n++);
}

static void unlink_parts(void)
{
    if (!base[0])
        return;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "/nct-abi-%s-%s", base, parts[i]);
        shm_unlink(name);
    }
}

static void fini(void)
{
    unlink_parts();
    nct_cleanup();
}

TestSuite(abi, .fini = fini, .timeout = 60);

/* ---- the header's ABI record --------------------------------------------- */

static cortex_region *raw_region(char *name, const cortex_layout *l)
{
    cortex_region *r = NULL;
    nct_name(name, "abi");
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_NAME(name), l, NULL, NULL, NULL), 0, "%s",
                 cortex_last_error()->message);
    return r;
}

/* A raw segment of 64 bytes and a copy of its header. */
static cortex_region *raw_with_copy(char *name, cortex_seg_header *copy)
{
    cortex_layout l = {.kind = CORTEX_KIND_RAW, .payload_size = 64};
    cortex_region *r = raw_region(name, &l);
    memcpy(copy, cortex_region_header(r), sizeof *copy);
    return r;
}

static void fix_abi_check(cortex_seg_header *h)
{
    h->abi_check = cortex__fnv1a32(&h->abi, sizeof h->abi) | 1u;
}

Test(abi, a_created_header_records_this_process_abi)
{
    char name[64];
    cortex_seg_header h;
    cortex_region *r = raw_with_copy(name, &h);
    cortex_abi_record me;
    cortex_abi_self(&me);
    cr_assert_eq(memcmp(&h.abi, &me, sizeof me), 0);
    cr_assert_eq(h.abi.byte_order, CORTEX_ABI_LITTLE_ENDIAN);
    cr_assert_eq(h.abi.ptr_size, sizeof(void *));
    cr_assert_eq(h.abi.u64_align, _Alignof(uint64_t));
    cr_assert_neq(h.abi_check, 0);
    cr_assert_eq(cortex_header_validate(&h, 4096, NULL, "copy"), 0, "%s", cortex_last_error()->message);
    char buf[160];
    cr_assert_str_empty(cortex_abi_describe(&h.abi, buf, sizeof buf));
    cr_assert_eq(cortex_region_close(r), 0);
}

/* Every field of a header, byte-swapped: what a big-endian creator writes. */
static void swap_header(cortex_seg_header *h)
{
    unsigned char *p = (unsigned char *)h;
    static const struct { size_t off, len; } fields[] = {
        {offsetof(cortex_seg_header, magic), 8},         {offsetof(cortex_seg_header, version), 4},
        {offsetof(cortex_seg_header, header_size), 4},   {offsetof(cortex_seg_header, kind), 4},
        {offsetof(cortex_seg_header, payload_align), 4}, {offsetof(cortex_seg_header, segment_size), 8},
        {offsetof(cortex_seg_header, payload_offset), 8}, {offsetof(cortex_seg_header, payload_size), 8},
        {offsetof(cortex_seg_header, elem_size), 4},     {offsetof(cortex_seg_header, elem_align), 4},
        {offsetof(cortex_seg_header, type_hash), 8},     {offsetof(cortex_seg_header, lock_id), 4},
        {offsetof(cortex_seg_header, creator_pid), 4},   {offsetof(cortex_seg_header, creator_start), 8},
        {offsetof(cortex_seg_header, created_ns), 8},    {offsetof(cortex_seg_header, flags), 4},
        {offsetof(cortex_seg_header, check), 4},         {offsetof(cortex_seg_header, state), 4},
        {offsetof(cortex_seg_header, owner_pid), 4},     {offsetof(cortex_seg_header, owner_token), 4},
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
        for (size_t i = 0; i < fields[f].len / 2; i++) {
            unsigned char t = p[fields[f].off + i];
            p[fields[f].off + i] = p[fields[f].off + fields[f].len - 1 - i];
            p[fields[f].off + fields[f].len - 1 - i] = t;
        }
    h->abi.byte_order = CORTEX_ABI_BIG_ENDIAN;
}

Test(abi, b_big_endian_segment_refused_by_name)
{
    char name[64];
    cortex_layout l = {.kind = CORTEX_KIND_CELL, .payload_size = 128, .elem_size = 8, .elem_align = 8,
                       .type_name = "uint64_t"};
    cortex_region *r = raw_region(name, &l);
    cortex_seg_header *live = (cortex_seg_header *)cortex_region_header(r);
    cortex_seg_header saved;
    memcpy(&saved, live, sizeof saved);

    cortex_seg_header copy = saved;
    swap_header(&copy);
    cr_assert_eq(cortex_header_validate(&copy, 4096, &l, "copy"), -EPROTO);
    cr_assert(strstr(cortex_last_error()->message, "written by a big-endian process"), "%s",
              cortex_last_error()->message);

    /* The same bytes in the segment: attach names the byte order too, at once. */
    memcpy(live, &copy, sizeof copy);
    cortex_region *other = NULL;
    cortex_opts o = CORTEX_OPTS_INIT;
    o.attach_timeout_ns = 200000000;
    int rc = cortex_region_attach(&other, CORTEX_KEY_NAME(name), &l, &o);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", cortex_last_error()->message);
    memcpy(live, &saved, sizeof saved);
    cr_assert_eq(rc, -EPROTO, "%d: %s", rc, msg);
    cr_assert(strstr(msg, "big-endian") && strstr(msg, "little-endian"), "%s", msg);
    cr_assert_null(other);
    cr_assert_eq(cortex_region_close(r), 0);
}

Test(abi, c_a_32_bit_peer_is_named_when_the_type_differs)
{
    char name[64];
    cortex_layout l = {.kind = CORTEX_KIND_CELL, .payload_size = 128, .elem_size = 12, .elem_align = 4,
                       .type_name = "abi_unportable"};
    cortex_region *r = raw_region(name, &l);
    cortex_seg_header h;
    memcpy(&h, cortex_region_header(r), sizeof h);
    /* What an i386 creator records. */
    h.abi.ptr_size = 4;
    h.abi.long_size = 4;
    h.abi.u64_align = 4;
    h.abi.f64_align = 4;
    h.abi.time_size = 4;
    fix_abi_check(&h);
    /* Same type signature: another ABI alone is not a reason to refuse. */
    cr_assert_eq(cortex_header_validate(&h, 4096, &l, "copy"), 0, "%s", cortex_last_error()->message);
    cortex_layout mine = l;
    mine.elem_size = 16;
    mine.elem_align = 8;
    cr_assert_eq(cortex_header_validate(&h, 4096, &mine, "copy"), -EPROTO);
    const char *msg = cortex_last_error()->message;
    if (sizeof(void *) == 8)
        cr_assert(strstr(msg, "(32-bit peer: uint64_t aligned 4 there, 8 here"), "%s", msg);
    cr_assert(strstr(msg, "size 12, align 4") && strstr(msg, "size 16, align 8"), "%s", msg);
    cr_assert_eq(cortex_region_close(r), 0);
}

Test(abi, d_a_damaged_or_impossible_abi_record_is_corrupt)
{
    char name[64];
    cortex_seg_header good;
    cortex_region *r = raw_with_copy(name, &good);

    cortex_seg_header h = good;
    h.abi.u64_align ^= 12; /* 8 <-> 4 without fixing the check */
    cr_assert_eq(cortex_header_validate(&h, 4096, NULL, "copy"), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "ABI record check"), "%s", cortex_last_error()->message);

    static const size_t offs[] = {offsetof(cortex_abi_record, byte_order), offsetof(cortex_abi_record, ptr_size),
                                  offsetof(cortex_abi_record, long_size), offsetof(cortex_abi_record, u64_align),
                                  offsetof(cortex_abi_record, f64_align), offsetof(cortex_abi_record, time_size),
                                  offsetof(cortex_abi_record, zero)};
    static const uint8_t bad[] = {0, 3, 5, 255};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        for (size_t b = 0; b < sizeof bad; b++) {
            if (offs[i] == offsetof(cortex_abi_record, zero) && bad[b] == 0)
                continue;
            h = good;
            ((uint8_t *)&h.abi)[offs[i]] = bad[b];
            fix_abi_check(&h);
            cr_assert_eq(cortex_header_validate(&h, 4096, NULL, "copy"), -EBADMSG, "field %zu value %u", i,
                         bad[b]);
            cr_assert(strstr(cortex_last_error()->message, "ABI record is impossible"), "%s",
                      cortex_last_error()->message);
        }
    /* A big-endian record under a little-endian magic is a lie, not a peer. */
    h = good;
    h.abi.byte_order = CORTEX_ABI_BIG_ENDIAN;
    fix_abi_check(&h);
    cr_assert_eq(cortex_header_validate(&h, 4096, NULL, "copy"), -EBADMSG);
    /* No record at all (a creator that did not write one): structure only. */
    h = good;
    memset(&h.abi, 0, sizeof h.abi);
    h.abi_check = 0;
    cr_assert_eq(cortex_header_validate(&h, 4096, NULL, "copy"), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_region_close(r), 0);
}

/* ---- the layout alignment of the type signature -------------------------- */

typedef struct { uint32_t a, b; } two_u32;
typedef struct { uint16_t a; } one_u16;
typedef char three_chars[3];

Test(abi, e_layout_alignment_follows_layout_and_c99_agrees_with_c11)
{
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(uint64_t), 8);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(double), 8);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(cortex_handle), 8);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(abi_sample), 8);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(two_u32), 8);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(one_u16), 2);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(three_chars), 1);
    cr_assert_eq(CORTEX_LAYOUT_ALIGNOF(uint32_t), 4);
    cr_assert_geq(CORTEX_LAYOUT_ALIGNOF(abi_sample), _Alignof(abi_sample));
    size_t c99[4];
    abi_c99_aligns(c99);
    cr_assert_eq(c99[0], CORTEX_LAYOUT_ALIGNOF(uint64_t));
    cr_assert_eq(c99[1], CORTEX_LAYOUT_ALIGNOF(double));
    cr_assert_eq(c99[2], CORTEX_LAYOUT_ALIGNOF(abi_sample));
    cr_assert_eq(c99[3], CORTEX_LAYOUT_ALIGNOF(cortex_handle));
}

/* ---- peers: native, and i386 under qemu ---------------------------------- */

/* Starts [qemu] peer ARGS with stdout on a pipe; *out gets the pipe's read end. */
static pid_t spawn(const char *qemu, const char *peer, const char *mode, const char *arg, const char *extra,
                   int *out)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        const char *argv[8];
        int n = 0;
        if (qemu)
            argv[n++] = qemu;
        argv[n++] = peer;
        argv[n++] = mode;
        if (arg)
            argv[n++] = arg;
        if (extra)
            argv[n++] = extra;
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    *out = p[0];
    return pid;
}

/* Waits (bounded) for the peer's "ready" line. */
static bool ready(int fd, int timeout_ms)
{
    char buf[16] = "";
    size_t got = 0;
    int64_t end = nct_now_ms() + timeout_ms;
    while (got < 6 && nct_now_ms() < end) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return strncmp(buf, "ready\n", 6) == 0;
}

/* serve on one side, use on the other; both must exit 0. */
static void share(const char *qemu_a, const char *peer_a, const char *qemu_b, const char *peer_b, bool cross)
{
    fresh_base();
    int fd;
    pid_t server = spawn(qemu_a, peer_a, "serve", base, NULL, &fd);
    bool up = ready(fd, 20000);
    close(fd);
    if (!up) {
        int st = nct_wait(server, 1000);
        cr_assert_fail("the serving peer (%s) did not get ready (exit %d)", peer_a, st);
    }
    int fd2;
    pid_t user = spawn(qemu_b, peer_b, "use", base, cross ? "cross" : NULL, &fd2);
    close(fd2);
    int user_st = nct_wait(user, 30000);
    int server_st = nct_wait(server, 30000);
    cr_assert_eq(user_st, 0, "the using peer (%s) exited %d", peer_b, user_st);
    cr_assert_eq(server_st, 0, "the serving peer (%s) exited %d", peer_a, server_st);
}

Test(abi, f_native_peers_share_a_cell_a_slab_and_a_ring_of_handles)
{
    const char *peer = nct_helper_path("abi_peer");
    share(NULL, peer, NULL, peer, false);
    int fd;
    pid_t c = spawn(NULL, peer, "checks", NULL, NULL, &fd);
    close(fd);
    cr_assert_eq(nct_wait(c, 10000), 0);
}

/* The i386 peer and qemu-i386, or SKIP with the reason. */
static const char *qemu_path;
static const char *i386_peer(void)
{
    const char *peer = getenv("CORTEX_I386_PEER");
    if (!peer || !peer[0])
        cr_skip_test("no i386 peer: CORTEX_I386_PEER is not set (tools/test.sh, stage i386, builds one)");
    if (access(peer, X_OK) != 0)
        cr_skip_test("CORTEX_I386_PEER=%s is not an executable", peer);
    static char q[4096];
    const char *path = getenv("PATH");
    q[0] = '\0';
    for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(q, sizeof q, "%.*s/qemu-i386", (int)n, p);
        if (access(q, X_OK) == 0)
            break;
        q[0] = '\0';
        p = colon ? colon + 1 : NULL;
    }
    if (!q[0])
        cr_skip_test("qemu-i386 is not installed (Debian: qemu-user)");
    qemu_path = q;
    return peer;
}

Test(abi, g_i386_and_x86_64_share_a_cell_a_slab_and_a_ring_of_handles, .timeout = 120)
{
    const char *peer32 = i386_peer();
    const char *peer64 = nct_helper_path("abi_peer");
    share(qemu_path, peer32, NULL, peer64, true); /* i386 creates, x86-64 attaches */
    share(NULL, peer64, qemu_path, peer32, true); /* and the other way round */
    int fd;
    pid_t c = spawn(qemu_path, peer32, "checks", NULL, NULL, &fd);
    close(fd);
    cr_assert_eq(nct_wait(c, 30000), 0, "i386 checks (C99 = C11 alignment, -EFBIG past 4 GiB) failed");
}

Test(abi, h_a_live_i386_role_holder_is_not_taken_over, .timeout = 120)
{
    const char *peer32 = i386_peer();
    fresh_base();
    char name[128];
    snprintf(name, sizeof name, "/nct-abi-%s-ring", base);
    t_hring cons;
    cr_assert_eq(t_hring_create(&cons, CORTEX_KEY_NAME(name), 16, CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    int fd;
    pid_t holder = spawn(qemu_path, peer32, "hold", base, NULL, &fd);
    bool up = ready(fd, 20000);
    close(fd);
    if (!up) {
        kill(holder, SIGKILL);
        nct_wait(holder, 5000);
        t_hring_close(&cons);
        cr_assert_fail("the i386 holder did not attach as producer");
    }
    /* qemu reports another start time for its guest than the kernel shows us: still alive. */
    t_hring prod;
    int rc = t_hring_attach(&prod, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", cortex_last_error()->message);
    if (rc == 0)
        t_hring_close(&prod);
    kill(holder, SIGKILL);
    int st = nct_wait(holder, 5000);
    if (rc != -EBUSY) {
        t_hring_close(&cons);
        cr_assert_fail("a native producer took the role of a live i386 holder: %d %s", rc, msg);
    }
    cr_assert_eq(st, 128 + SIGKILL);
    /* Judged alive by its boot-time stamp, not merely "cannot be judged". */
    cr_assert(strstr(msg, "held by live pid"), "%s", msg);
    /* Dead now: its role may be taken. */
    rc = t_hring_attach(&prod, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL);
    snprintf(msg, sizeof msg, "%s", cortex_last_error()->message);
    if (rc == 0)
        t_hring_close(&prod);
    t_hring_close(&cons);
    cr_assert_eq(rc, 0, "the dead i386 holder's role was not released: %s", msg);
}

/* A sparse file segment of 4 GiB + 4 KiB with a valid header (only the header page is written). */
static void make_big_file(char *path)
{
    char name[64];
    cortex_seg_header h;
    cortex_region *r = raw_with_copy(name, &h);
    cr_assert_eq(cortex_region_close(r), 0);
    h.segment_size = (UINT64_C(1) << 32) + 4096;
    h.payload_size = h.segment_size - h.payload_offset;
    h.check = cortex__fnv1a32(&h, offsetof(cortex_seg_header, check));
    nct_path(path, "big");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    bool ok = pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && ftruncate(fd, (off_t)h.segment_size) == 0;
    close(fd);
    cr_assert(ok, "could not write the sparse file");
}

Test(abi, i_a_4_gib_segment_is_efbig_for_an_i386_process, .timeout = 120)
{
    const char *peer32 = i386_peer();
    char path[128];
    make_big_file(path);
    int fd;
    pid_t c = spawn(qemu_path, peer32, "attach-file", path, NULL, &fd);
    close(fd);
    cr_assert_eq(nct_wait(c, 30000), 0, "the i386 attach of a 4 GiB file segment was not -EFBIG");
    c = spawn(NULL, nct_helper_path("abi_peer"), "attach-file", path, NULL, &fd);
    close(fd);
    cr_assert_eq(nct_wait(c, 30000), 0, "the native attach of a 4 GiB file segment failed");
}
