/* SPDX-License-Identifier: MIT */
/*
 * A consumer of neocortex built as a subproject.  Its own code declares a
 * typed cell, ring and slab with the generator macros (each once that part
 * is in neocortex), shares each with a forked child, and checks what comes
 * back.  Exit 0 = all ok.
 */
#define _GNU_SOURCE
#include <neocortex.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, cortex_strerror(rc), cortex_last_error()->message);
    return 1;
}

typedef struct point {
    double x, y;
} point;

/* Waits for a child; 0 if it exited 0. */
static int child_ok(pid_t pid, const char *what)
{
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "consumer: %s child failed (status 0x%x)\n", what, st);
        return 1;
    }
    return 0;
}

static int region_roundtrip(void)
{
    const cortex_layout layout = {.kind = CORTEX_KIND_RAW,
                                  .payload_size = sizeof(point),
                                  .elem_size = sizeof(point),
                                  .elem_align = _Alignof(point),
                                  .type_name = "point"};
    cortex_region *r = NULL;
    int rc = cortex_region_create(&r, CORTEX_KEY_SYSV_PRIVATE, &layout, NULL, NULL, NULL);
    if (rc < 0)
        return fail("create", rc);
    cortex_key key = cortex_region_key(r);
    pid_t pid = fork();
    if (pid == 0) {
        cortex_region *c = NULL;
        if (cortex_region_attach(&c, key, &layout, NULL) < 0)
            _exit(2);
        point p = {3.0, 4.0};
        memcpy(cortex_region_payload(c), &p, sizeof p);
        _exit(cortex_region_close(c) == 0 ? 0 : 3);
    }
    if (child_ok(pid, "region") != 0) {
        cortex_region_close(r);
        return 1;
    }
    point got;
    memcpy(&got, cortex_region_payload(r), sizeof got);
    if ((rc = cortex_region_close(r)) < 0)
        return fail("close", rc);
    if (got.x != 3.0 || got.y != 4.0) {
        fprintf(stderr, "consumer: read (%g, %g), expected (3, 4)\n", got.x, got.y);
        return 1;
    }
    printf("region: ok\n");
    return 0;
}

/*
 * A POSIX segment larger than all of /dev/shm must fail at create with
 * -ENOSPC (the library reserves the space with posix_fallocate) and leave
 * nothing behind.  A library built without its posix_fallocate check (as
 * under a parent's -std=c11 once) returned 0 here and SIGBUSed later.
 */
static int no_space_at_create(void)
{
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) != 0 || vfs.f_blocks == 0) {
        printf("no space: skipped (no size limit on /dev/shm)\n");
        return 0;
    }
    uint64_t total = (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;
    char name[64];
    snprintf(name, sizeof name, "/nc-consumer-nospc-%d", (int)getpid());
    const cortex_layout huge = {.kind = CORTEX_KIND_RAW, .payload_size = total + (UINT64_C(1) << 30)};
    cortex_region *r = NULL;
    int rc = cortex_region_create(&r, CORTEX_KEY_NAME(name), &huge, NULL, NULL, NULL);
    if (rc == 0) {
        cortex_region_close(r);
        fprintf(stderr, "consumer: a %llu-byte segment on a %llu-byte /dev/shm was created (no -ENOSPC)\n",
                (unsigned long long)huge.payload_size, (unsigned long long)total);
        return 1;
    }
    if (rc != -ENOSPC)
        return fail("oversized create", rc);
    char path[96];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "consumer: the failed create left %s behind\n", path);
        return 1;
    }
    printf("no space: ok (-ENOSPC)\n");
    return 0;
}

/*
 * The lock backends this build of the library was configured with
 * (-Dneocortex:futex=..., -Dneocortex:semaphore=..., -Dneocortex:default_lock=...):
 * `built` is "futex", "semaphore" or "futex+semaphore", `dflt` the default.
 */
static int lock_backends(const char *built, const char *dflt)
{
    bool futex = strstr(built, "futex") != NULL, sem = strstr(built, "semaphore") != NULL;
    if (cortex_sync_available(&cortex_sync_futex) != futex ||
        cortex_sync_available(&cortex_sync_semaphore) != sem) {
        fprintf(stderr, "consumer: expected backends %s, the library has futex %d, semaphore %d\n", built,
                (int)cortex_sync_available(&cortex_sync_futex), (int)cortex_sync_available(&cortex_sync_semaphore));
        return 1;
    }
    if (strcmp(cortex_sync_default()->name, dflt) != 0) {
        fprintf(stderr, "consumer: default lock is %s, expected %s\n", cortex_sync_default()->name, dflt);
        return 1;
    }
    printf("locks: %s, default %s: ok\n", built, dflt);
    return 0;
}

#if __has_include(<neocortex/declare_cell.h>)
CORTEX_DECLARE(point_cell, point);

/* A typed cell: the child attaches and writes, the parent reads. */
static int cell_roundtrip(void)
{
    point_cell c;
    int rc = point_cell_create(&c, CORTEX_KEY_SYSV_PRIVATE, (point){0, 0}, NULL);
    if (rc < 0)
        return fail("point_cell_create", rc);
    cortex_key key = cortex_region_key(point_cell_region(&c));
    pid_t pid = fork();
    if (pid == 0) {
        point_cell mine;
        if (point_cell_attach(&mine, key, NULL) < 0)
            _exit(2);
        if (point_cell_write(&mine, (point){1.5, -2.5}) < 0)
            _exit(3);
        _exit(point_cell_close(&mine) == 0 ? 0 : 4);
    }
    if (child_ok(pid, "cell") != 0) {
        point_cell_close(&c);
        return 1;
    }
    point p;
    rc = point_cell_read(&c, &p);
    int crc = point_cell_close(&c);
    if (rc < 0)
        return fail("point_cell_read", rc);
    if (crc < 0)
        return fail("point_cell_close", crc);
    if (p.x != 1.5 || p.y != -2.5) {
        fprintf(stderr, "consumer: cell holds (%g, %g), expected (1.5, -2.5)\n", p.x, p.y);
        return 1;
    }
    printf("cell: ok\n");
    return 0;
}
#endif

#if __has_include(<neocortex/declare_ring.h>)
SPSC_RING_DECLARE(u64_ring, uint64_t);

/* A typed ring: the parent produces 1..N, the child consumes and checks the order. */
static int ring_roundtrip(void)
{
    enum { N = 10000 };
    char name[64];
    snprintf(name, sizeof name, "/nc-consumer-%d", (int)getpid());
    u64_ring q;
    int rc = u64_ring_create(&q, CORTEX_KEY_NAME(name), 64, CORTEX_PRODUCER, NULL);
    if (rc < 0)
        return fail("u64_ring_create", rc);
    pid_t pid = fork();
    if (pid == 0) {
        u64_ring in;
        if (u64_ring_attach(&in, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0)
            _exit(2);
        for (uint64_t want = 1; want <= N; want++) {
            uint64_t v = 0;
            if (u64_ring_pop_wait(&in, &v, INT64_C(5000000000)) < 0 || v != want)
                _exit(3);
        }
        _exit(u64_ring_close(&in) == 0 ? 0 : 4);
    }
    for (uint64_t v = 1; v <= N && rc == 0; v++)
        rc = u64_ring_push_wait(&q, v, INT64_C(5000000000));
    int bad = child_ok(pid, "ring");
    int crc = u64_ring_close(&q);
    if (rc < 0)
        return fail("u64_ring_push_wait", rc);
    if (bad)
        return 1;
    if (crc < 0)
        return fail("u64_ring_close", crc);
    printf("ring: ok\n");
    return 0;
}
#endif

#if __has_include(<neocortex/declare_slab.h>) && __has_include(<neocortex/declare_ring.h>)
typedef struct msg {
    uint64_t seq;
    char text[48];
} msg;
SLAB_DECLARE(msg_slab, msg);
SPSC_RING_DECLARE(handle_ring, cortex_handle);

/*
 * Zero-copy messages: the parent allocates slab slots, writes messages in
 * place and passes their handles over a ring; the child reads them in place
 * and frees the slots.
 */
static int slab_roundtrip(void)
{
    enum { N = 2000 };
    char sname[64], qname[64];
    snprintf(sname, sizeof sname, "/nc-consumer-slab-%d", (int)getpid());
    snprintf(qname, sizeof qname, "/nc-consumer-hq-%d", (int)getpid());
    msg_slab s;
    handle_ring q;
    int rc = msg_slab_create(&s, CORTEX_KEY_NAME(sname), 16, NULL);
    if (rc < 0)
        return fail("msg_slab_create", rc);
    if ((rc = handle_ring_create(&q, CORTEX_KEY_NAME(qname), 16, CORTEX_PRODUCER, NULL)) < 0) {
        msg_slab_close(&s);
        return fail("handle_ring_create", rc);
    }
    pid_t pid = fork();
    if (pid == 0) {
        msg_slab mine;
        handle_ring in;
        if (msg_slab_attach(&mine, CORTEX_KEY_NAME(sname), NULL) < 0 ||
            handle_ring_attach(&in, CORTEX_KEY_NAME(qname), CORTEX_CONSUMER, NULL) < 0)
            _exit(2);
        for (uint64_t want = 1; want <= N; want++) {
            cortex_handle h;
            if (handle_ring_pop_wait(&in, &h, INT64_C(5000000000)) < 0 || msg_slab_receive(&mine, &h) < 0)
                _exit(3);
            const msg *m = msg_slab_get(&mine, h);
            if (!m || m->seq != want || strcmp(m->text, "zero-copy") != 0)
                _exit(4);
            if (msg_slab_free(&mine, h) < 0)
                _exit(5);
        }
        _exit(handle_ring_close(&in) == 0 && msg_slab_close(&mine) == 0 ? 0 : 6);
    }
    for (uint64_t seq = 1; seq <= N && rc == 0; seq++) {
        cortex_handle h;
        while ((rc = msg_slab_alloc(&s, &h)) == -ENOSPC)
            usleep(50); /* every slot is in flight: the child frees them */
        if (rc < 0)
            break;
        msg *m = msg_slab_get(&s, h);
        m->seq = seq;
        strcpy(m->text, "zero-copy");
        if ((rc = msg_slab_send(&s, h)) == 0)
            rc = handle_ring_push_wait(&q, h, INT64_C(5000000000));
    }
    int bad = child_ok(pid, "slab");
    int crc = handle_ring_close(&q);
    int src = msg_slab_close(&s);
    if (rc < 0)
        return fail("slab producer", rc);
    if (bad)
        return 1;
    if (crc < 0 || src < 0)
        return fail("close", crc < 0 ? crc : src);
    printf("slab + ring: ok\n");
    return 0;
}
#endif

/* usage: consumer [BUILT_LOCKS DEFAULT_LOCK]  (defaults: futex+semaphore futex) */
int main(int argc, char **argv)
{
    printf("neocortex %s\n", CORTEX_VERSION_STRING);
    if (lock_backends(argc > 2 ? argv[1] : "futex+semaphore", argc > 2 ? argv[2] : "futex") != 0)
        return 1;
    if (region_roundtrip() != 0 || no_space_at_create() != 0)
        return 1;
#if __has_include(<neocortex/declare_cell.h>)
    if (cell_roundtrip() != 0)
        return 1;
#endif
#if __has_include(<neocortex/declare_ring.h>)
    if (ring_roundtrip() != 0)
        return 1;
#endif
#if __has_include(<neocortex/declare_slab.h>) && __has_include(<neocortex/declare_ring.h>)
    if (slab_roundtrip() != 0)
        return 1;
#endif
    printf("consumer: all ok\n");
    return 0;
}
