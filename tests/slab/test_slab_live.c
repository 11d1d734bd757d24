/* SPDX-License-Identifier: MIT */
/*
 * Slab process table and process identity: a live process whose main thread
 * called pthread_exit() keeps its slots through reclaim; an owner that cannot
 * be judged (hidden /proc) keeps them too; a process in another pid namespace
 * is refused at attach.  Children report through their exit status.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "nct_proc.h"
#include "nctest.h"
#include "internal.h"
#include "slab/slab_layout.h"

TestSuite(slab_live, .fini = nct_cleanup, .timeout = 60);

static cortex_slab *make(char *name, const char *tag)
{
    cortex_slab *s = NULL;
    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, tag)), 8, 16, 8, "ident16", NULL), 0, "%s",
                 cortex_last_error()->message);
    return s;
}

/* A child that allocates 3 slots, then either pauses or pthread_exit()s its main thread. */
static pid_t holder_of_three(const char *name, bool exit_main, int ready_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        cortex_slab *s = NULL;
        if (cortex_slab_attach(&s, CORTEX_KEY_NAME(name), 16, 8, "ident16", NULL) < 0)
            _exit(10);
        cortex_handle h;
        for (int i = 0; i < 3; i++)
            if (cortex_slab_alloc(s, &h) < 0)
                _exit(11);
        if (write(ready_fd, "x", 1) != 1)
            _exit(12);
        if (exit_main)
            nct_keep_alive_and_exit_main();
        for (;;)
            pause();
    }
    return pid;
}

static pid_t start_holder(const char *name, bool exit_main)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = holder_of_three(name, exit_main, fds[1]);
    close(fds[1]);
    char b;
    cr_assert_eq(read(fds[0], &b, 1), 1, "the holder allocated its slots");
    close(fds[0]);
    return pid;
}

static uint32_t allocated(cortex_slab *s)
{
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    return st.allocated;
}

Test(slab_live, owner_alive_after_main_thread_exit_keeps_its_slots)
{
    char name[64];
    cortex_slab *s = make(name, "mtslab");
    pid_t holder = start_holder(name, true);
    cr_assert(nct_wait_main_zombie(holder, 5000), "the holder's main thread exited");
    cr_assert_eq(cortex_slab_reclaim(s, 0), 0, "reclaim freed slots of a live process");
    cr_assert_eq(allocated(s), 3);
    kill(holder, SIGKILL);
    cr_assert_eq(nct_wait(holder, 5000), 128 + SIGKILL);
    cr_assert_eq(cortex_slab_reclaim(s, 0), 3, "dead now: its 3 slots come back");
    cortex_slab_close(s);
}

/* In a child with /proc hidden (mode 1: hidepid=2, 2: none): how many slots reclaim frees (exit status). */
static int reclaim_hidden(const char *name, int mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        cortex__proc_test_hide(mode);
        cortex_slab *s = NULL;
        if (cortex_slab_attach(&s, CORTEX_KEY_NAME(name), 16, 8, "ident16", NULL) < 0)
            _exit(100);
        int n = cortex_slab_reclaim(s, 0);
        _exit(n < 0 ? 101 : n);
    }
    return nct_wait(pid, 10000);
}

Test(slab_live, owner_that_cannot_be_judged_keeps_its_slots)
{
    char name[64];
    cortex_slab *s = make(name, "hideslab");
    pid_t holder = start_holder(name, false);
    /* Forge the holder's table entry: a stamp from before it started, as a reused pid would show. */
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    int forged = 0;
    for (uint32_t e = 1; e < CORTEX__SLAB_PROC_ENTRIES; e++) {
        uint64_t v = atomic_load(&sh->procs[e]);
        if ((pid_t)(v >> 32) == holder) {
            atomic_store(&sh->procs[e], ((uint64_t)(uint32_t)holder << 32) | 1u);
            forged++;
        }
    }
    cr_assert_eq(forged, 1);
    cr_assert_eq(reclaim_hidden(name, 1), 0, "hidepid: an owner that cannot be judged lost its slots");
    cr_assert_eq(reclaim_hidden(name, 2), 0, "no /proc: an owner that cannot be judged lost its slots");
    cr_assert_eq(allocated(s), 3);
    /* Readable /proc: the forged entry is a reused pid, so its slots are reclaimed. */
    cr_assert_eq(reclaim_hidden(name, 0), 3);
    kill(holder, SIGKILL);
    nct_wait(holder, 5000);
    cortex_slab_close(s);
}

Test(slab_live, dead_owner_is_reclaimed_with_proc_hidden)
{
    char name[64];
    cortex_slab *s = make(name, "deadhide");
    pid_t holder = start_holder(name, false);
    kill(holder, SIGKILL);
    cr_assert_eq(nct_wait(holder, 5000), 128 + SIGKILL);
    /* No process has the pid (kill(pid, 0) == ESRCH): dead even without /proc. */
    cr_assert_eq(reclaim_hidden(name, 2), 3);
    cortex_slab_close(s);
}

Test(slab_live, peer_in_another_pid_namespace_is_refused)
{
    if (!nct_unshare_works())
        cr_skip_test("unshare --pid --fork is not permitted here");
    char name[64];
    cortex_slab *s = make(name, "pidns");
    const char *argv[] = {nct_helper_path("ident_peer"), "slab", name, NULL};
    cr_assert_eq(nct_run_unshared(argv), 30, "a slab user in another pid namespace was not refused with -EXDEV");
    const char *same[] = {nct_helper_path("ident_peer"), "slab", name, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execv(same[0], (char *const *)same);
        _exit(127);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0, "in our namespace it attaches");
    cortex_slab_close(s);
}
