/* SPDX-License-Identifier: MIT */
/*
 * The typed generators across processes: a ring or slab leaked by its
 * creator outlives that process, another process attaches, takes it over
 * with name_own and removes it with name_close; the typed reclaim's flags
 * decide whether a dead process's in-flight slots are freed.  Children
 * report through their exit status.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gen_proto.h"
#include "nctest.h"

TestSuite(gen_mp, .fini = nct_cleanup, .timeout = 60);

static bool shm_exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

/* Child side: exit with @code after printing why, if @rc failed. */
static void child_check(int rc, int code, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "child %s: %s\n", what, cortex_last_error()->message);
        _exit(code);
    }
}

static int run_child(void (*fn)(const char *, int), const char *name, int fd)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        fn(name, fd);
        _exit(0);
    }
    return nct_wait(pid, 20000);
}

enum { N = 5 };

static void ring_creator(const char *name, int fd)
{
    (void)fd;
    gen_ring r;
    child_check(gen_ring_create(&r, CORTEX_KEY_NAME(name), 8, CORTEX_PRODUCER, NULL), 10, "create");
    for (uint32_t i = 0; i < N; i++)
        child_check(gen_ring_push(&r, (struct gen_sample){i, i * 10}), 11, "push");
    child_check(gen_ring_leak(&r), 12, "leak");
}

static void ring_adopter(const char *name, int fd)
{
    (void)fd;
    gen_ring r;
    child_check(gen_ring_attach(&r, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), 20, "attach");
    for (uint32_t i = 0; i < N; i++) {
        struct gen_sample s;
        child_check(gen_ring_pop(&r, &s), 21, "pop");
        if (s.seq != i || s.value != i * 10)
            _exit(22);
    }
    child_check(gen_ring_own(&r), 23, "own");
    child_check(gen_ring_close(&r), 24, "close");
}

Test(gen_mp, leaked_ring_outlives_its_creator_and_is_removed_by_its_new_owner)
{
    char name[64];
    nct_name(name, "mpring");
    cr_assert_eq(run_child(ring_creator, name, -1), 0);
    cr_assert(shm_exists(name), "the creator exited; the leaked ring is still there");
    cr_assert_eq(run_child(ring_adopter, name, -1), 0);
    cr_assert(!shm_exists(name), "the adopter owned and closed it: removed");
    gen_ring r;
    cr_assert_eq(gen_ring_attach(&r, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL), -ENOENT);
}

static void slab_creator(const char *name, int fd)
{
    gen_slab s;
    cortex_handle h;
    child_check(gen_slab_create(&s, CORTEX_KEY_NAME(name), 4, NULL), 10, "create");
    child_check(gen_slab_alloc(&s, &h), 11, "alloc");
    gen_slab_get(&s, h)->value = 777;
    child_check(gen_slab_send(&s, h), 12, "send");
    if (write(fd, &h, sizeof h) != (ssize_t)sizeof h)
        _exit(13);
    child_check(gen_slab_leak(&s), 14, "leak");
}

static void slab_adopter(const char *name, int fd)
{
    gen_slab s;
    cortex_handle h;
    if (read(fd, &h, sizeof h) != (ssize_t)sizeof h)
        _exit(19);
    child_check(gen_slab_attach(&s, CORTEX_KEY_NAME(name), NULL), 20, "attach");
    child_check(gen_slab_receive(&s, &h), 21, "receive");
    struct gen_sample *v = gen_slab_get(&s, h);
    if (!v || v->value != 777)
        _exit(22);
    child_check(gen_slab_free(&s, h), 23, "free");
    child_check(gen_slab_own(&s), 24, "own");
    child_check(gen_slab_close(&s), 25, "close");
}

Test(gen_mp, leaked_slab_outlives_its_creator_and_is_removed_by_its_new_owner)
{
    char name[64];
    int p[2];
    cr_assert_eq(pipe(p), 0);
    nct_name(name, "mpslab");
    cr_assert_eq(run_child(slab_creator, name, p[1]), 0);
    cr_assert(shm_exists(name));
    cr_assert_eq(run_child(slab_adopter, name, p[0]), 0);
    close(p[0]);
    close(p[1]);
    cr_assert(!shm_exists(name));
}

/* A process that dies holding one allocated and one in-flight slot (of a slab or a pool). */
static void slab_holder(const char *name, int fd)
{
    (void)fd;
    gen_slab s;
    cortex_handle a, b;
    child_check(gen_slab_attach(&s, CORTEX_KEY_NAME(name), NULL), 30, "attach");
    child_check(gen_slab_alloc(&s, &a), 31, "alloc");
    child_check(gen_slab_alloc(&s, &b), 32, "alloc");
    child_check(gen_slab_send(&s, b), 33, "send");
    _exit(0); /* dies without freeing */
}

static void pool_holder(const char *name, int fd)
{
    (void)fd;
    gen_pool p;
    cortex_handle a, b;
    child_check(gen_pool_attach(&p, CORTEX_KEY_NAME(name), NULL), 30, "attach");
    child_check(gen_pool_alloc(&p, 1, &a), 31, "alloc");
    child_check(gen_pool_alloc(&p, 20, &b), 32, "alloc");
    child_check(gen_pool_send(&p, b), 33, "send");
    _exit(0);
}

Test(gen_mp, typed_reclaim_takes_its_flags)
{
    char name[64];
    gen_slab s;
    cr_assert_eq(gen_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, "reclaim")), 4, NULL), 0);
    cr_assert_eq(run_child(slab_holder, name, -1), 0);
    cr_assert_eq(gen_slab_reclaim(&s, 0), 1, "flags 0: only the allocated slot");
    cr_assert_eq(gen_slab_reclaim(&s, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 1, "then the in-flight one");
    cr_assert_eq(gen_slab_reclaim(&s, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 0);
    cr_assert_eq(gen_slab_close(&s), 0);

    static const cortex_pool_class classes[] = {{16, 2}, {256, 2}};
    gen_pool p;
    cr_assert_eq(gen_pool_create(&p, CORTEX_KEY_NAME(nct_name(name, "poolreclaim")), classes, 2, NULL), 0);
    cr_assert_eq(run_child(pool_holder, name, -1), 0);
    cr_assert_eq(gen_pool_reclaim(&p, 0), 1);
    cr_assert_eq(gen_pool_reclaim(&p, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 1);
    cr_assert_eq(gen_pool_close(&p), 0);
}
