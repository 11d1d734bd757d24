/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_wait_mp.c: waiting for a change and lock timeouts
 * across processes (suite multiprocess), for every backend compiled in:
 * a forked writer wakes a waiter; a waiter whose writer died still
 * returns; a timed write fails with -ETIMEDOUT while another process holds
 * the lock and succeeds once it is released; writers with and without the
 * wake fence (membarrier forced off in one process) never lose a wakeup.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"
#include "cell/seqlock.h"
#include "os/os.h"

TestSuite(cell_wait_mp, .fini = nct_cleanup, .timeout = 90);

typedef struct reading {
    uint64_t n;
    char note[24];
} reading;
CORTEX_DECLARE(reading_cell, reading);

static void create(reading_cell *c, const cortex_sync_ops *ops, cortex_key *key)
{
    *key = CORTEX_KEY_SYSV(nct_sysv_key());
    cortex_opts o = opts_with(ops);
    cr_assert_eq(reading_cell_create(c, *key, (reading){0, "init"}, &o), 0, "%s: %s", ops->name,
                 cortex_last_error()->message);
}

Test(cell_wait_mp, a_forked_writer_wakes_a_waiter_in_the_parent)
{
    FOR_EACH_BACKEND(ops) {
        reading_cell c;
        cortex_key key;
        create(&c, ops, &key);
        reading r;
        uint64_t seen;
        cr_assert_eq(reading_cell_read_version(&c, &r, &seen), 0);
        int go[2];
        cr_assert_eq(pipe(go), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(go[1]);
            reading_cell b;
            if (reading_cell_attach(&b, key, NULL) != 0)
                _exit(2);
            if (get(go[0]) != 'g')
                _exit(3);
            usleep(30000); /* let the parent fall asleep */
            for (uint64_t i = 1; i <= 3; i++)
                if (reading_cell_write(&b, (reading){i, "child"}) != 0)
                    _exit(4);
            reading_cell_close(&b);
            _exit(0);
        }
        close(go[0]);
        put(go[1], 'g');
        close(go[1]);
        /* Wait until the child's last write, however the wakeups fall. */
        int rc = 0, wakes = 0;
        int64_t t0 = nct_now_ms();
        while (r.n != 3 && rc == 0) {
            rc = reading_cell_wait(&c, &seen, 20000000000);
            if (rc == 0) {
                wakes++;
                rc = reading_cell_read_version(&c, &r, &seen);
            }
        }
        int64_t waited = nct_now_ms() - t0;
        int st = nct_wait(pid, 20000);
        cr_assert_eq(rc, 0, "%s: %s", ops->name, cortex_last_error()->message);
        /* A lost wakeup still ends in 0, but only when the 20 s futex timeout lets the waiter look again. */
        cr_assert_lt(waited, 10000, "%s: the waiter was not woken (%lld ms)", ops->name, (long long)waited);
        cr_assert_eq(st, 0, "%s: child exit %d", ops->name, st);
        cr_assert_geq(wakes, 1);
        cr_assert_eq(seen, 6, "%s: three writes make version 6, got %llu", ops->name, (unsigned long long)seen);
        cr_assert_str_eq(r.note, "child");
        cr_assert_eq(reading_cell_close(&c), 0);
    }
}

/*
 * A child that attaches, optionally checks that a 20 ms wait times out
 * cleanly (nobody writes yet), says 'w', waits up to 20 s for a new
 * version, checks that it was woken (well before those 20 s) and that the
 * value then holds @expect.  Returns its pid;
 * *rd gets the 'w'.
 */
static pid_t spawn_waiter(cortex_key key, bool time_out_first, uint64_t expect, int *rd)
{
    int up[2];
    cr_assert_eq(pipe(up), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        reading_cell b;
        if (reading_cell_attach(&b, key, NULL) != 0)
            _exit(2);
        uint64_t seen = 0;
        if (time_out_first) {
            if (reading_cell_wait(&b, &seen, 20000000) != -ETIMEDOUT)
                _exit(3);
            if (cortex_last_error()->code != -ETIMEDOUT || cortex_last_error()->dirty ||
                !strstr(cortex_last_error()->message, "version still 0"))
                _exit(4);
        }
        put(up[1], 'w');
        int64_t t0 = nct_now_ms();
        if (reading_cell_wait(&b, &seen, 20000000000) != 0)
            _exit(5);
        if (nct_now_ms() - t0 >= 10000) /* not woken: it only looked again at the futex timeout */
            _exit(7);
        reading r;
        if (reading_cell_read(&b, &r) != 0 || r.n != expect || seen < 2 || (seen & 1u))
            _exit(6);
        reading_cell_close(&b);
        _exit(0);
    }
    close(up[1]);
    *rd = up[0];
    return pid;
}

/* Starts a waiter, writes @value once it waits, and checks that it woke and saw it. */
static void wake_a_forked_waiter(reading_cell *c, cortex_key key, bool time_out_first, uint64_t value)
{
    int rd;
    pid_t pid = spawn_waiter(key, time_out_first, value, &rd);
    cr_assert_eq(get(rd), 'w', "the waiter did not start (exit %d)", nct_wait(pid, 20000));
    close(rd);
    usleep(20000); /* let it fall asleep */
    cr_assert_eq(reading_cell_write(c, (reading){value, "parent"}), 0, "%s", cortex_last_error()->message);
    int st = nct_wait(pid, 20000);
    cr_assert_eq(st, 0, "%s: waiter exit %d", cortex_cell_lock_ops(c->cell)->name, st);
}

Test(cell_wait_mp, a_forked_waiter_is_woken_by_the_parent_and_times_out_without_it)
{
    FOR_EACH_BACKEND(ops) {
        reading_cell c;
        cortex_key key;
        create(&c, ops, &key);
        wake_a_forked_waiter(&c, key, true, 11);
        cr_assert_eq(reading_cell_close(&c), 0);
    }
}

/* Runs in the child under the lock: says so, then blocks on the pipe (or is killed there). */
struct hold {
    int tell, wait;
};
static void hold_lock(reading *r, void *ctx)
{
    struct hold *h = ctx;
    r->n = 500;
    put(h->tell, 'h');
    (void)get(h->wait);
}

static int never_run;
static int count_run(reading *r, void *ctx)
{
    (void)r;
    (void)ctx;
    never_run++;
    return 0;
}

/* A child that attaches and sits in update holding the lock until told. */
static pid_t spawn_holder(cortex_key key, const cortex_opts *o, int *tell_rd, int *release_wr)
{
    int tell[2], rel[2];
    cr_assert_eq(pipe(tell), 0);
    cr_assert_eq(pipe(rel), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(tell[0]);
        close(rel[1]);
        reading_cell b;
        if (reading_cell_attach(&b, key, o) != 0)
            _exit(2);
        struct hold h = {tell[1], rel[0]};
        if (reading_cell_update(&b, hold_lock, &h) != 0)
            _exit(3);
        reading_cell_close(&b);
        _exit(0);
    }
    close(tell[1]);
    close(rel[0]);
    *tell_rd = tell[0];
    *release_wr = rel[1];
    return pid;
}

static void timed_write_while_held(const cortex_sync_ops *ops, const cortex_opts *o)
{
    cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
    reading_cell c;
    cr_assert_eq(reading_cell_create(&c, key, (reading){0, "init"}, o), 0, "%s: %s", ops->name,
                 cortex_last_error()->message);
    int tell, rel;
    pid_t pid = spawn_holder(key, o, &tell, &rel);
    cr_assert_eq(get(tell), 'h', "%s: the child did not take the lock", ops->name);

    int64_t t0 = nct_now_ms();
    cr_assert_eq(reading_cell_write_timed(&c, (reading){1, "parent"}, 50000000), -ETIMEDOUT, "%s", ops->name);
    cr_assert_geq(nct_now_ms() - t0, 49, "%s: a 50 ms lock timeout returned early", ops->name);
    cr_assert_eq(cortex_last_error()->code, -ETIMEDOUT);
    cr_assert_not(cortex_last_error()->dirty);
    cr_assert(strstr(cortex_last_error()->message, "write: the '") &&
                  strstr(cortex_last_error()->message, "lock was not free within 50000000 ns"),
              "%s", cortex_last_error()->message);
    cr_assert_eq(reading_cell_write_timed(&c, (reading){1, "parent"}, 0), -ETIMEDOUT, "%s: try once", ops->name);
    never_run = 0;
    cr_assert_eq(reading_cell_update_if(&c, count_run, NULL, 20000000), -ETIMEDOUT);
    cr_assert_eq(never_run, 0, "the update function ran without the lock");
    cr_assert_eq(reading_cell_update_timed(&c, NULL, NULL, 0), -EINVAL);

    put(rel, 'r'); /* the child finishes its update and unlocks */
    close(rel);
    /* The largest timeout: its deadline must saturate, not overflow (UBSan builds check). */
    cr_assert_eq(reading_cell_write_timed(&c, (reading){2, "parent"}, INT64_MAX), 0, "%s: %s", ops->name,
                 cortex_last_error()->message);
    int st = nct_wait(pid, 20000);
    cr_assert_eq(st, 0, "%s: child exit %d", ops->name, st);
    reading r;
    uint64_t v;
    cr_assert_eq(reading_cell_read_version(&c, &r, &v), 0);
    /* The child's update (500) and the parent's write (2) both went in, in either order. */
    cr_assert_eq(v, 4, "%s: version %llu", ops->name, (unsigned long long)v);
    close(tell);
    cr_assert_eq(reading_cell_close(&c), 0);
}

Test(cell_wait_mp, timed_write_fails_while_another_process_holds_the_lock_then_succeeds)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        timed_write_while_held(ops, &o);
    }
}

Test(cell_wait_mp, timed_write_with_an_untimed_user_backend_falls_back)
{
    FOR_EACH_BACKEND(ops) {
        const cortex_sync_ops *u = untimed_over(ops);
        cortex_opts o = opts_with(u);
        timed_write_while_held(u, &o);
        cr_assert_geq(untimed_state()->tries, 2, "the fallback tries with timeout 0");
    }
}

Test(cell_wait_mp, a_waiter_whose_writer_dies_still_returns)
{
    FOR_EACH_BACKEND(ops) {
        reading_cell c;
        cortex_key key;
        create(&c, ops, &key);
        cortex_opts o = opts_with(ops);

        /* The writer dies holding the lock, before it wrote: the waiter times out. */
        int tell, rel;
        pid_t pid = spawn_holder(key, &o, &tell, &rel);
        cr_assert_eq(get(tell), 'h');
        uint64_t seen = 0;
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(reading_cell_wait(&c, &seen, 50000000), -ETIMEDOUT, "%s", ops->name);
        cr_assert(strstr(cortex_last_error()->message, "version still 0"), "%s", cortex_last_error()->message);
        nct_wait(pid, 20000);
        close(tell);
        close(rel);

        /* A writer that dies in mid-copy leaves the sequence odd: the wait says so when it times out. */
        cortex__fadd64(cell_seq_of(reading_cell_region(&c)), 1, CX_RELEASE);
        cr_assert_eq(reading_cell_wait(&c, &seen, 20000000), -ETIMEDOUT);
        cr_assert(strstr(cortex_last_error()->message, "a write is in progress"), "%s", cortex_last_error()->message);

        /* A waiter in another process returns once a write repairs it. */
        wake_a_forked_waiter(&c, key, false, 8);
        cr_assert_eq(reading_cell_close(&c), 0);
    }
}

/*
 * Ping-pong across processes on a futex cell: the parent writes 2i+1 and
 * waits for the child's 2i+2, the child the other way round; every wait
 * sleeps.  @parent_off and @child_off are the lib/os fallbacks each process
 * forces: CORTEX__OS_NO_MEMBARRIER makes that process's writes keep the
 * wake fence and its waits unable to run membarrier (they nap at most
 * 200 us).  A lost wakeup shows as a wait that times out after 5 s.
 */
#define PING_ROUNDS 400
#define PING_WAIT_NS INT64_C(5000000000)

static int await_value(reading_cell *c, uint64_t *seen, uint64_t want)
{
    reading r;
    int rc = reading_cell_read_version(c, &r, seen);
    while (rc == 0 && r.n != want) {
        if ((rc = reading_cell_wait(c, seen, PING_WAIT_NS)) == 0)
            rc = reading_cell_read_version(c, &r, seen);
    }
    return rc;
}

static void ping_pong(unsigned parent_off, unsigned child_off)
{
    reading_cell c;
    cortex_key key;
    create(&c, &cortex_sync_futex, &key);
    pid_t pid = fork();
    if (pid == 0) {
        cortex__os_force(child_off);
        reading_cell b;
        uint64_t seen = 0;
        if (reading_cell_attach(&b, key, NULL) != 0)
            _exit(2);
        for (uint64_t i = 0; i < PING_ROUNDS; i++) {
            if (await_value(&b, &seen, 2 * i + 1) != 0)
                _exit(3);
            if (reading_cell_write(&b, (reading){2 * i + 2, "child"}) != 0)
                _exit(4);
        }
        reading_cell_close(&b);
        _exit(0);
    }
    cortex__os_force(parent_off);
    uint64_t seen = 0;
    int rc = 0;
    for (uint64_t i = 0; i < PING_ROUNDS && rc == 0; i++) {
        rc = reading_cell_write(&c, (reading){2 * i + 1, "parent"});
        if (rc == 0)
            rc = await_value(&c, &seen, 2 * i + 2);
    }
    cortex_error err = *cortex_last_error();
    bool light = cortex__os_membarrier_register();
    cortex__os_force(CORTEX_OS_FORCE);
    int st = nct_wait(pid, 20000);
    cr_assert_eq(rc, 0, "parent off %#x, child off %#x: %s", parent_off, child_off, err.message);
    cr_assert_eq(st, 0, "parent off %#x, child off %#x: child exit %d (3: a wait timed out)", parent_off, child_off,
                 st);
    uint32_t w = cortex__ld32(cell_waiters_of(reading_cell_region(&c)), CX_RELAXED);
    if (light) /* a light writer marked the cell, so that its waiters run membarrier */
        cr_assert(w & CORTEX__CELL_LIGHT, "waiters word %#x: no light mark after a light writer", w);
    else if (child_off & CORTEX__OS_NO_MEMBARRIER)
        cr_assert(!(w & CORTEX__CELL_LIGHT), "waiters word %#x: light mark with membarrier off in both", w);
    cr_assert_eq(reading_cell_close(&c), 0);
}

Test(cell_wait_mp, light_and_fenced_writers_never_lose_a_wakeup)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("the light wake path is the futex backend's");
    ping_pong(CORTEX_OS_FORCE, CORTEX_OS_FORCE);
    ping_pong(CORTEX_OS_FORCE | CORTEX__OS_NO_MEMBARRIER, CORTEX_OS_FORCE);
    ping_pong(CORTEX_OS_FORCE, CORTEX_OS_FORCE | CORTEX__OS_NO_MEMBARRIER);
    ping_pong(CORTEX_OS_FORCE | CORTEX__OS_NO_MEMBARRIER, CORTEX_OS_FORCE | CORTEX__OS_NO_MEMBARRIER);
}
