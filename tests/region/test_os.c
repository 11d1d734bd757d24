/* SPDX-License-Identifier: MIT */
/* The OS layer the crash recovery leans on: the process identity verdict, start times, randomness. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "nct_proc.h"
#include "nctest.h"

TestSuite(os, .timeout = 30);

Test(os, pid_liveness_and_reuse)
{
    cr_assert(cortex__pid_alive(getpid(), 0));
    uint64_t me = cortex__self_start();
    cr_assert_neq(me, 0);
    cr_assert(cortex__pid_alive(getpid(), me));
    cr_assert(!cortex__pid_alive(getpid(), me + 1), "same pid, other start time: a reused pid is dead");
    cr_assert(!cortex__pid_alive(0, 0));
    cr_assert(!cortex__pid_alive(-5, 0));

    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    uint64_t start = cortex__pid_start_time(child);
    cr_assert(cortex__pid_alive(child, start));
    kill(child, SIGKILL);
    /* A zombie (killed, not yet reaped) is dead. */
    for (int i = 0; i < 1000 && cortex__pid_alive(child, start); i++)
        usleep(1000);
    cr_assert(!cortex__pid_alive(child, start));
    waitpid(child, NULL, 0);
    cr_assert(!cortex__pid_alive(child, start));
}

static cortex__liveness verdict_of(pid_t pid, uint64_t start, uint32_t stamp, uint64_t seen)
{
    cortex__proc_id id = {.pid = pid, .start = start, .stamp = stamp, .seen = seen};
    return cortex__proc_verdict(&id, NULL);
}

static pid_t pausing_child(void)
{
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    usleep(30000); /* a few ticks old: a stamp taken now is strictly after its start */
    return child;
}

Test(os, verdict_by_start_and_stamp)
{
    pid_t child = pausing_child();
    uint64_t start = cortex__pid_start_time(child);
    cr_assert_neq(start, 0);
    uint32_t now = (uint32_t)cortex__boot_ticks();
    cr_assert_eq(verdict_of(child, start, 0, 0), CORTEX__ALIVE, "same start time");
    cr_assert_eq(verdict_of(child, 0, now, 0), CORTEX__ALIVE, "started before the stamp: the writer");
    /* An emulated writer (qemu-user) may report another start time: the stamp still decides. */
    cr_assert_eq(verdict_of(child, start + 77, now, 0), CORTEX__ALIVE);
    cr_assert_eq(verdict_of(child, start + 1, 0, 0), CORTEX__DEAD, "another start time: a reused pid");
    cr_assert_eq(verdict_of(child, 0, (uint32_t)start - 3, 0), CORTEX__DEAD, "started after the stamp: reused");
    cr_assert_eq(verdict_of(child, 0, 0, start - 3), CORTEX__DEAD, "started after it was seen named: reused");
    cr_assert_eq(verdict_of(child, 0, 0, now), CORTEX__UNKNOWN, "seen after it started: cannot tell");
    cr_assert_eq(verdict_of(child, 0, 0, 0), CORTEX__UNKNOWN, "nothing recorded: cannot tell");
    kill(child, SIGKILL);
    cr_assert_eq(nct_wait(child, 5000), 128 + SIGKILL);
    cr_assert_eq(verdict_of(child, start, now, 0), CORTEX__DEAD, "no such process");
}

Test(os, verdict_with_proc_hidden_is_unknown_for_the_living)
{
    pid_t child = pausing_child();
    uint64_t start = cortex__pid_start_time(child);
    for (int mode = 1; mode <= 2; mode++) {
        cortex__proc_test_hide(mode);
        const char *why = NULL;
        cortex__proc_id id = {.pid = child, .start = start + 1};
        cr_assert_eq(cortex__proc_verdict(&id, &why), CORTEX__UNKNOWN, "mode %d: a live pid, unverifiable", mode);
        cr_assert_not_null(why);
        cr_assert_eq(cortex__pid_start_time(child), 0, "mode %d hides its start time", mode);
        cortex__proc_test_hide(0);
    }
    kill(child, SIGKILL);
    cr_assert_eq(nct_wait(child, 5000), 128 + SIGKILL);
    cortex__proc_test_hide(2);
    cr_assert_eq(verdict_of(child, start, 0, 0), CORTEX__DEAD, "kill(pid, 0) == ESRCH is dead without /proc");
    cortex__proc_test_hide(0);
}

Test(os, process_with_a_running_thread_is_alive_after_main_exits)
{
    pid_t child = fork();
    if (child == 0)
        nct_keep_alive_and_exit_main();
    cr_assert(nct_wait_main_zombie(child, 5000));
    usleep(30000);
    uint32_t now = (uint32_t)cortex__boot_ticks();
    cr_assert_eq(verdict_of(child, 0, now, 0), CORTEX__ALIVE, "its main thread is Z, another thread runs");
    cr_assert(cortex__pid_alive(child, 0));
    kill(child, SIGKILL);
    /* Killed, not yet reaped: every thread gone, a zombie: dead. */
    for (int i = 0; i < 1000 && verdict_of(child, 0, now, 0) != CORTEX__DEAD; i++)
        usleep(1000);
    cr_assert_eq(verdict_of(child, 0, now, 0), CORTEX__DEAD);
    nct_wait(child, 5000);
}

Test(os, self_identity)
{
    cortex__proc_id me;
    cortex__proc_self(&me);
    cr_assert_eq(me.pid, getpid());
    cr_assert_neq(me.start, 0);
    cr_assert_neq(me.pidns, 0);
    cr_assert_neq(me.boot, 0);
    cortex__proc_id rec = {.pid = me.pid, .stamp = cortex__self_stamp()};
    cr_assert_eq(cortex__proc_verdict(&rec, NULL), CORTEX__ALIVE, "our own stamp names us");
    cr_assert_neq(cortex__image_token(), 0);
}

Test(os, self_pid_refreshes_after_fork)
{
    pid_t parent = cortex__self_pid();
    cr_assert_eq(parent, getpid());
    pid_t child = fork();
    if (child == 0)
        _exit(cortex__self_pid() == getpid() && cortex__self_start() == cortex__pid_start_time(getpid()) ? 0 : 1);
    cr_assert_eq(nct_wait(child, 5000), 0);
}

Test(os, random_and_hashes)
{
    uint64_t a = 0, b = 0;
    cr_assert_eq(cortex__random(&a, sizeof a), 0);
    cr_assert_eq(cortex__random(&b, sizeof b), 0);
    cr_assert_neq(a, b);
    cr_assert_eq(cortex__fnv1a32("", 0), 2166136261u);
    cr_assert_eq(cortex_type_hash("double"), cortex__fnv1a64("double", 6));
    cr_assert_neq(cortex_type_hash("double"), cortex_type_hash("float"));
}
