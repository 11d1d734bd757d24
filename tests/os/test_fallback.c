/* SPDX-License-Identifier: MIT */
/*
 * The portable fallbacks of lib/os, forced on Linux (cortex__os_force(), the
 * run-time form of -Dforce_fallback), so the logic macOS, FreeBSD and other
 * systems run is tested here: no futex, no memfd, no membarrier, no /proc
 * start time, no posix_fallocate.  Each test also checks that the
 * Linux call is what runs when nothing is forced.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <neocortex.h>

#include "os/os.h"
#include "nctest.h"

SPSC_RING_DECLARE(fb_ring, uint64_t);
CORTEX_DECLARE(fb_cell, uint64_t);

static void fini(void)
{
    cortex__os_force(CORTEX_OS_FORCE);
    nct_cleanup();
}

TestSuite(os_fallback, .timeout = 60, .fini = fini);

/* Parent pops, a forked child pushes: n elements in order with blocking waits on both sides. */
static void ring_across_fork(const char *tag, uint64_t n)
{
    char name[64];
    nct_name(name, tag);
    fb_ring r;
    cr_assert_eq(fb_ring_create(&r, CORTEX_KEY_NAME(name), 16, CORTEX_CONSUMER, NULL), 0, "%s",
                 cortex_last_error()->message);
    pid_t pid = fork();
    if (pid == 0) {
        fb_ring p;
        if (fb_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) < 0)
            _exit(2);
        for (uint64_t i = 0; i < n; i++)
            if (fb_ring_push_wait(&p, i, 10000000000) < 0)
                _exit(3);
        fb_ring_close(&p);
        _exit(0);
    }
    uint64_t got = 0, v;
    int rc;
    while ((rc = fb_ring_pop_wait(&r, &v, 10000000000)) == 0 && v == got)
        got++;
    int st = nct_wait(pid, 20000);
    fb_ring_close(&r);
    cr_assert_eq(st, 0, "producer exit %d", st);
    cr_assert_eq(got, n, "%llu of %llu in order", (unsigned long long)got, (unsigned long long)n);
    cr_assert_eq(rc, -EPIPE, "after the producer closed: %d", rc);
}

Test(os_fallback, no_futex_waits_poll_and_see_other_processes)
{
    cortex__os_force(CORTEX__OS_NO_FUTEX);
    cortex__a32 *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(word, MAP_FAILED);
    atomic_store(word, 0);
    /* Unchanged value: a timed wait times out (after at least its timeout), a changed one does not wait. */
    int64_t t0 = cortex__now_ns();
    int rc;
    while ((rc = cortex__os_futex_wait(word, 0, 20000000 - (cortex__now_ns() - t0))) == 0 &&
           cortex__now_ns() - t0 < 20000000) {
    }
    cr_assert(rc == -ETIMEDOUT || rc == 0);
    cr_assert_geq(cortex__now_ns() - t0, 20000000);
    cr_assert_eq(cortex__os_futex_wait(word, 1, 1000000000), -EAGAIN);
    /* A wake from another process is never needed: the waiter sees the store. */
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        atomic_store(word, 7);
        _exit(cortex__os_futex_wake(word, 1) == 0 ? 0 : 1);
    }
    int64_t deadline = cortex__now_ns() + 5000000000;
    while (atomic_load(word) == 0 && cortex__now_ns() < deadline)
        cortex__os_futex_wait(word, 0, 1000000000);
    cr_assert_eq(atomic_load(word), 7);
    cr_assert_eq(nct_wait(pid, 5000), 0);
    munmap(word, 4096);
    /* The ring's blocking waits work on it across processes. */
    ring_across_fork("nofutex", 5000);
}

Test(os_fallback, futex_timed_wait_times_out)
{
    cortex__os_force(0);
    cortex__a32 word = 0;
    int64_t t0 = cortex__now_ns();
    int rc = cortex__os_futex_wait(&word, 0, 30000000);
    cr_assert(rc == -ETIMEDOUT || rc == -EINTR, "rc %d", rc);
    if (rc == -ETIMEDOUT) /* the timespec the kernel read is the one we meant (time64 on 32-bit) */
        cr_assert_geq(cortex__now_ns() - t0, 30000000);
}

Test(os_fallback, no_membarrier_rings_use_fences)
{
    cortex__os_force(0);
    bool linux_has = cortex__os_membarrier_register();
    if (linux_has)
        cr_assert_eq(cortex__os_membarrier(), 0);
    cortex__os_force(CORTEX__OS_NO_MEMBARRIER);
    cr_assert(!cortex__os_membarrier_register());
    cr_assert_eq(cortex__os_membarrier(), -ENOSYS);
    ring_across_fork("nombar", 20000);
}

Test(os_fallback, no_memfd_gives_an_unlinked_unsealed_object)
{
    cortex_layout layout = {.kind = CORTEX_KIND_RAW, .payload_size = 8192};
    cortex_region *seg;

    cortex__os_force(0);
    cr_assert_eq(cortex_region_create(&seg, CORTEX_KEY_MEMFD("nct-fb"), &layout, NULL, NULL, NULL), 0);
    cr_assert_eq(cortex__os_fd_sealed(cortex_region_fd(seg)), 1, "a Linux memfd is sealed");
    cortex_region_close(seg);

    cortex__os_force(CORTEX__OS_NO_MEMFD);
    cr_assert_eq(cortex_region_create(&seg, CORTEX_KEY_MEMFD("nct-fb"), &layout, NULL, NULL, NULL), 0, "%s",
                 cortex_last_error()->message);
    int fd = cortex_region_fd(seg);
    cr_assert_leq(cortex__os_fd_sealed(fd), 0, "the stand-in cannot be sealed");
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    cr_assert_gt(n, 0);
    target[n] = '\0';
    cr_assert(strstr(target, "(deleted)") != NULL, "its name is gone at once: %s", target);
    strcpy(cortex_region_payload(seg), "parent");

    pid_t pid = fork();
    if (pid == 0) {
        cortex_region *a;
        /* Unsealed: refused by default, by name ... */
        if (cortex_region_attach(&a, CORTEX_KEY_FD(fd), &layout, NULL) != -EACCES)
            _exit(2);
        if (!strstr(cortex_last_error()->message, "CORTEX_TRUST_UNSEALED_FD"))
            _exit(3);
        /* ... and accepted when the sender is trusted. */
        cortex_opts o = CORTEX_OPTS_INIT;
        o.trust = CORTEX_TRUST_UNSEALED_FD;
        if (cortex_region_attach(&a, CORTEX_KEY_FD(fd), &layout, &o) != 0)
            _exit(4);
        if (strcmp(cortex_region_payload(a), "parent") != 0)
            _exit(5);
        strcpy(cortex_region_payload(a), "child");
        cortex_region_close(a);
        _exit(0);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);
    cr_assert_str_eq(cortex_region_payload(seg), "child");
    cortex_region_close(seg);
}

static pid_t pausing_child(void)
{
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    usleep(30000);
    return child;
}

Test(os_fallback, no_proc_start_time_is_unknown_for_the_living_dead_when_gone)
{
    cortex__os_force(0);
    pid_t child = pausing_child();
    uint64_t start = cortex__pid_start_time(child);
    cr_assert_neq(start, 0);
    cortex__proc_id id = {.pid = child, .start = start};
    cr_assert_eq(cortex__proc_verdict(&id, NULL), CORTEX__ALIVE);

    cortex__os_force(CORTEX__OS_NO_PROC_START);
    cr_assert_eq(cortex__pid_start_time(child), 0);
    const char *why = NULL;
    cr_assert_eq(cortex__proc_verdict(&id, &why), CORTEX__UNKNOWN, "%s", why);
    cortex__proc_id reused = {.pid = child, .start = start + 1};
    cr_assert_eq(cortex__proc_verdict(&reused, &why), CORTEX__UNKNOWN, "no start time: never dead by it");
    cr_assert(cortex__pid_alive(child, start));
    kill(child, SIGKILL);
    cr_assert_eq(nct_wait(child, 5000), 128 + SIGKILL);
    cr_assert_eq(cortex__proc_verdict(&id, &why), CORTEX__DEAD, "reaped: kill(pid, 0) says ESRCH");
}

Test(os_fallback, no_fallocate_still_sizes_named_segments)
{
    cortex__os_force(CORTEX__OS_NO_FALLOCATE);
    char name[64];
    nct_name(name, "nofalloc");
    fb_cell c, d;
    cr_assert_eq(fb_cell_create(&c, CORTEX_KEY_NAME(name), 41, NULL), 0, "%s", cortex_last_error()->message);
    char path[96];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_geq((uint64_t)st.st_size, cortex_region_payload_size(fb_cell_region(&c)));
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t v = 0;
        if (fb_cell_attach(&d, CORTEX_KEY_NAME(name), NULL) != 0 || fb_cell_read(&d, &v) != 0 || v != 41)
            _exit(2);
        _exit(fb_cell_write(&d, 42) == 0 && fb_cell_close(&d) == 0 ? 0 : 3);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);
    uint64_t v = 0;
    cr_assert_eq(fb_cell_read(&c, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(fb_cell_close(&c), 0);
}
