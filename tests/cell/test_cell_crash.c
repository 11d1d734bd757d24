/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_crash.c: writers SIGKILLed inside name_update or
 * name_write at random points, hundreds of times per backend and operation
 * (suite crash).  With the futex backend the write takes the cell's merged
 * lock + sequence word (lib/cell/cellword.h), the update takes it without a
 * write and makes it odd only for the copy: both are hit.
 *
 * After each kill: nobody deadlocks; the survivor's update gets the lock
 * within CORTEX_SYNC_DEAD_OWNER_BOUND_NS (not counting the time the
 * scheduler kept it off the CPU); it returns -EOWNERDEAD exactly
 * when the sequence was odd (the kill hit the copy), and then
 * name_consistent or name_write clears it; when the sequence was even the
 * value is whole (every word carries the same stamp).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"

TestSuite(cell_crash, .fini = nct_cleanup, .timeout = 120);

#define WORDS 2048 /* 16 KiB: a copy long enough to be hit */
typedef struct big {
    uint64_t w[WORDS];
} big;
CORTEX_DECLARE(big_cell, big);

static void restamp(big *b, void *ctx)
{
    (void)ctx;
    uint64_t next = b->w[0] + 1;
    for (int i = 0; i < WORDS; i++)
        b->w[i] = next;
}

static bool whole(const big *b)
{
    for (int i = 1; i < WORDS; i++)
        if (b->w[i] != b->w[0])
            return false;
    return true;
}

static int64_t cpu_ns(const struct rusage *ru)
{
    return ((int64_t)ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000;
}

static void kill_loop(const cortex_sync_ops *ops, bool by_write, int rounds)
{
    cortex_opts o = opts_with(ops);
    cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
    static big init;
    big_cell c;
    cr_assert_eq(big_cell_create(&c, key, init, &o), 0, "%s", cortex_last_error()->message);
    /* Our first release decides our wake path too (membarrier registration: 5-30 ms here, over 50 ms on a
     * loaded host, where round 0 failed the bound with 52-59 ms): done before any clock starts. */
    cr_assert_eq(big_cell_update(&c, restamp, NULL), 0, "%s", cortex_last_error()->message);
    unsigned seed = (unsigned)getpid();
    int odd_kills = 0, even_kills = 0, held_kills = 0, stalled = 0;
    int64_t worst_ns = 0, worst_stall_ns = 0;
    for (int round = 0; round < rounds; round++) {
        int up[2];
        cr_assert_eq(pipe(up), 0);
        pid_t pid = fork();
        if (pid == 0) {
            big_cell b;
            if (big_cell_attach(&b, key, NULL) != 0)
                _exit(2);
            static big mine;
            if (by_write && big_cell_read(&b, &mine) != 0)
                _exit(5);
            /* One operation before the clock starts: the first release decides the wake path (membarrier
             * registration), which on a loaded host can outlast the whole kill window. */
            if (big_cell_update(&b, restamp, NULL) != 0 || (by_write && big_cell_read(&b, &mine) != 0))
                _exit(6);
            char ch = 's';
            if (write(up[1], &ch, 1) != 1)
                _exit(3);
            for (;;) {
                if (by_write) {
                    restamp(&mine, NULL);
                    if (big_cell_write(&b, mine) != 0)
                        _exit(4);
                } else if (big_cell_update(&b, restamp, NULL) != 0) {
                    _exit(4);
                }
            }
        }
        char ch;
        cr_assert_eq(read(up[0], &ch, 1), 1);
        close(up[0]);
        close(up[1]);
        cortex__sleep_ns((int64_t)(rand_r(&seed) % 1500000)); /* 0-1.5 ms into the loop */
        cr_assert_eq(kill(pid, SIGKILL), 0);
        /* Half the rounds leave it a zombie while we recover, half reap it first. */
        if (round & 1) {
            int st;
            cr_assert_eq(waitpid(pid, &st, 0), pid);
            cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child ended otherwise: %d", st);
        } else {
            /* Zombie: wait until the kernel has finished killing it (state Z). */
            int64_t end = nct_now_ms() + 5000;
            while (cortex__pid_alive(pid, 0) && nct_now_ms() < end)
                cortex__sleep_ns(50000);
        }
        cortex_cell_info info;
        cr_assert_eq(cortex_cell_inspect(big_cell_region(&c), &info), 0);
        bool odd = info.sequence & 1;
        held_kills += info.lock_state == 1;

        /* The bound is on the library's waiting: time the scheduler kept us off the CPU (a loaded host,
         * a throttled cgroup) is not counted. */
        struct rusage ru0, ru1;
        getrusage(RUSAGE_THREAD, &ru0);
        int64_t t0 = cortex__now_ns();
        int64_t d0 = nct_run_delay_ns();
        int rc = big_cell_update(&c, restamp, NULL);
        int64_t d1 = nct_run_delay_ns();
        int64_t took = cortex__now_ns() - t0;
        getrusage(RUSAGE_THREAD, &ru1);
        int64_t kept_off = nct_run_delay_between(d0, d1);
        /*
         * Nor is time taken from a survivor that neither slept (no voluntary switch) nor ran for the
         * bound: no run-queue count shows it (a VM's vCPU held by its host, most likely; 48 and 72 ms
         * were seen here with 0.1 ms of CPU and nothing off the CPU).  A lock that sleeps or spins
         * through the bound still fails.
         */
        bool slept = ru1.ru_nvcsw > ru0.ru_nvcsw;
        int64_t cpu = cpu_ns(&ru1) - cpu_ns(&ru0);
        int64_t waited = took - kept_off;
        if (waited >= CORTEX_SYNC_DEAD_OWNER_BOUND_NS && !slept && cpu < CORTEX_SYNC_DEAD_OWNER_BOUND_NS / 2) {
            stalled++;
            worst_stall_ns = waited > worst_stall_ns ? waited : worst_stall_ns;
        } else {
            if (waited > worst_ns)
                worst_ns = waited;
            cr_assert_lt(waited, CORTEX_SYNC_DEAD_OWNER_BOUND_NS,
                         "%s round %d: survivor waited %lld ns for the lock (%lld ns more off the CPU; %s, %lld ns of "
                         "CPU)",
                         ops->name, round, (long long)waited, (long long)kept_off, slept ? "slept" : "never slept",
                         (long long)cpu);
        }
        big v;
        if (odd) {
            odd_kills++;
            cr_assert_eq(rc, -EOWNERDEAD, "%s round %d: odd sequence must be reported", ops->name, round);
            cr_assert_eq(big_cell_read(&c, &v), -EOWNERDEAD, "reads report it too");
            if (round % 3 == 0) {
                cr_assert_eq(big_cell_consistent(&c), 0);
                cr_assert_eq(big_cell_read(&c, &v), 0);
                /* Accepted as torn: make it whole again for the next round. */
                restamp(&v, NULL);
                cr_assert_eq(big_cell_write(&c, v), 0);
            } else {
                restamp(&v, NULL);
                cr_assert_eq(big_cell_write(&c, v), 0, "a write clears it");
            }
        } else {
            even_kills++;
            cr_assert_eq(rc, 0, "%s round %d: even sequence, rc %d (%s)", ops->name, round, rc,
                         cortex_last_error()->message);
        }
        cr_assert_eq(big_cell_read(&c, &v), 0, "%s round %d", ops->name, round);
        cr_assert(whole(&v), "%s round %d: value not whole after recovery", ops->name, round);
        if (!(round & 1))
            cr_assert_eq(nct_wait(pid, 5000), 128 + SIGKILL);
    }
    cr_log_info("%s %s: %d kills, %d mid-copy (odd), %d with the lock held, worst recovery %lld us (%d rounds "
                "stalled outside the lock, worst %lld us)",
                ops->name, by_write ? "write" : "update", rounds, odd_kills, held_kills, (long long)(worst_ns / 1000),
                stalled, (long long)(worst_stall_ns / 1000));
    /* Most rounds are held to the bound: a host that stalls more than one round in ten tests nothing here. */
    cr_assert_leq(stalled, rounds / 10, "%s: %d of %d rounds stalled outside the lock (worst %lld us)", ops->name,
                  stalled, rounds, (long long)(worst_stall_ns / 1000));
    cr_assert_gt(odd_kills, 0, "%s: no kill hit the copy in %d rounds", ops->name, rounds);
    cr_assert_gt(even_kills, 0);
    cr_assert_eq(big_cell_close(&c), 0);
}


Test(cell_crash, sigkill_inside_update_futex)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    kill_loop(&cortex_sync_futex, false, 200 * nct_scale());
}

Test(cell_crash, sigkill_inside_write_futex)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    kill_loop(&cortex_sync_futex, true, 200 * nct_scale());
}

Test(cell_crash, sigkill_inside_update_semaphore)
{
    if (!CORTEX_HAVE_SEMAPHORE)
        cr_skip_test("semaphore backend not built");
    kill_loop(&cortex_sync_semaphore, false, 200 * nct_scale());
}

Test(cell_crash, sigkill_inside_write_semaphore)
{
    if (!CORTEX_HAVE_SEMAPHORE)
        cr_skip_test("semaphore backend not built");
    kill_loop(&cortex_sync_semaphore, true, 200 * nct_scale());
}
