/* SPDX-License-Identifier: MIT */
/* The OS layer the crash recovery leans on: pid liveness, start times, randomness. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
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
