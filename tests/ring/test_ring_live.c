/* SPDX-License-Identifier: MIT */
/*
 * Ring roles and process identity: a live producer whose main thread called
 * pthread_exit() keeps its role; a forked child's close (and exit) of an
 * inherited handle leaves the parent's role working; an exec'd image takes
 * back the role its old image held (reported); a record that cannot be
 * judged (hidden /proc) is never taken over; a peer in another pid namespace
 * is refused at attach.  Children report through their exit status.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nct_proc.h"
#include "nctest.h"
#include "ring/ring_layout.h"

TestSuite(ring_live, .fini = nct_cleanup, .timeout = 60);

SPSC_RING_DECLARE(u64_ring, uint64_t);

#define SEC INT64_C(1000000000)

static void make(u64_ring *r, char *name, const char *tag, cortex_role role)
{
    cr_assert_eq(u64_ring_create(r, CORTEX_KEY_NAME(nct_name(name, tag)), 64, role, NULL), 0, "%s",
                 cortex_last_error()->message);
}

/* In a child: attach with @role and exit with 0, 31 (-EBUSY) or 32 (other). */
static pid_t attach_in_child(const char *name, cortex_role role)
{
    pid_t pid = fork();
    if (pid == 0) {
        u64_ring r;
        int rc = u64_ring_attach(&r, CORTEX_KEY_NAME(name), role, NULL);
        if (rc == 0)
            u64_ring_close(&r);
        _exit(rc == 0 ? 0 : rc == -EBUSY ? 31 : 32);
    }
    return pid;
}

Test(ring_live, producer_alive_after_main_thread_exit_keeps_its_role)
{
    char name[64];
    u64_ring c;
    make(&c, name, "mtprod", CORTEX_CONSUMER);
    pid_t holder = fork();
    if (holder == 0) {
        u64_ring p;
        if (u64_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) != 0 || u64_ring_push(&p, 41) != 0)
            _exit(10);
        nct_keep_alive_and_exit_main();
    }
    cr_assert(nct_wait_main_zombie(holder, 5000), "the holder's main thread exited");
    uint64_t v;
    cr_assert_eq(u64_ring_pop_wait(&c, &v, 5 * SEC), 0);
    cr_assert_eq(v, 41);
    /* The holder lives (a thread runs): a second producer is refused, the consumer sees no -EPIPE. */
    cr_assert_eq(nct_wait(attach_in_child(name, CORTEX_PRODUCER), 5000), 31, "second producer admitted");
    cr_assert_eq(u64_ring_pop_wait(&c, &v, 50000000), -ETIMEDOUT, "%s", cortex_last_error()->message);
    kill(holder, SIGKILL);
    cr_assert_eq(nct_wait(holder, 5000), 128 + SIGKILL);
    /* Now it is dead: taken over. */
    cr_assert_eq(nct_wait(attach_in_child(name, CORTEX_PRODUCER), 5000), 0);
    u64_ring_close(&c);
}

/* In a child: the inherited producer handle @p closed directly, or by an atexit handler on exit(). */
static u64_ring *atexit_ring;
static void close_at_exit(void)
{
    if (atexit_ring)
        u64_ring_close(atexit_ring);
}

static void child_closes_inherited(u64_ring *p, bool via_exit)
{
    pid_t k = fork();
    if (k == 0) {
        if (!via_exit)
            _exit(u64_ring_close(p) == 0 ? 0 : 1);
        atexit_ring = p;
        atexit(close_at_exit);
        exit(0);
    }
    cr_assert_eq(nct_wait(k, 5000), 0);
}

/* The parent produces 0..9 after a forked child closed its copy: the consumer gets all, then -EPIPE. */
static void fork_child_close_case(bool via_exit)
{
    char name[64];
    u64_ring p;
    make(&p, name, via_exit ? "forkx" : "forkc", CORTEX_PRODUCER);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t cons = fork();
    if (cons == 0) {
        u64_ring c;
        close(ready[0]);
        if (u64_ring_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) != 0)
            _exit(10);
        char one = 1;
        if (write(ready[1], &one, 1) != 1) /* attached: the parent's close may remove the name now */
            _exit(11);
        uint64_t v;
        for (uint64_t i = 0; i < 10; i++)
            if (u64_ring_pop_wait(&c, &v, 5 * SEC) != 0 || v != i)
                _exit(20 + (int)i);
        int end = u64_ring_pop_wait(&c, &v, 5 * SEC);
        u64_ring_close(&c);
        _exit(end == -EPIPE ? 0 : 40);
    }
    close(ready[1]);
    char one = 0;
    cr_assert_eq(read(ready[0], &one, 1), 1, "the consumer did not attach");
    close(ready[0]);
    child_closes_inherited(&p, via_exit); /* only a detach */
    for (uint64_t i = 0; i < 10; i++)
        cr_assert_eq(u64_ring_push_wait(&p, i, 5 * SEC), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(u64_ring_close(&p), 0);
    cr_assert_eq(nct_wait(cons, 10000), 0, "the consumer did not receive the parent's pushes, then -EPIPE");
}

Test(ring_live, forked_child_close_leaves_the_parents_role) { fork_child_close_case(false); }

Test(ring_live, forked_child_exit_through_cleanup_leaves_the_parents_role) { fork_child_close_case(true); }

Test(ring_live, exec_image_takes_back_its_role_and_reports_it)
{
    char name[64];
    u64_ring c;
    make(&c, name, "exec", CORTEX_CONSUMER);
    pid_t pid = fork();
    if (pid == 0) {
        u64_ring p, again;
        if (u64_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        /* The same image asking twice is still refused: it holds the role. */
        if (u64_ring_attach(&again, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) != -EBUSY)
            _exit(11);
        const char *peer = nct_helper_path("ident_peer");
        execl(peer, peer, "ring-back", name, "77", (char *)NULL);
        _exit(12);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0, "the exec'd image did not take its role back (see stderr)");
    uint64_t v;
    cr_assert_eq(u64_ring_pop_wait(&c, &v, 5 * SEC), 0);
    cr_assert_eq(v, 77);
    cr_assert_eq(u64_ring_pop_wait(&c, &v, 5 * SEC), -EPIPE, "it closed after its push");
    u64_ring_close(&c);
}

/* A record that reads as a reused pid is taken over; with /proc hidden it cannot be judged, and is not. */
Test(ring_live, unknown_holder_is_never_taken_over)
{
    char name[64];
    u64_ring c;
    make(&c, name, "hide", CORTEX_CONSUMER);
    pid_t holder = fork();
    if (holder == 0) {
        u64_ring p;
        if (u64_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) != 0)
            _exit(10);
        for (;;)
            pause();
    }
    cortex_ring_shared *sh = (cortex_ring_shared *)(void *)c.ring.base;
    for (int i = 0; i < 5000 && (int32_t)atomic_load(&sh->side[0].pid) != holder; i++)
        usleep(1000);
    cr_assert_eq((int32_t)atomic_load(&sh->side[0].pid), holder);
    /* Forge: another start time and a stamp from before the holder started, as a reused pid would show. */
    atomic_store(&sh->side[0].start, atomic_load(&sh->side[0].start) + 1000);
    atomic_store(&sh->side[0].stamp, 1u);
    pid_t hidden = fork();
    if (hidden == 0) {
        cortex__proc_test_hide(1); /* as under hidepid=2: other processes' /proc entries are gone */
        u64_ring p;
        int rc = u64_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL);
        _exit(rc == -EBUSY && strstr(cortex_last_error()->message, "cannot be judged") ? 0 : 1);
    }
    cr_assert_eq(nct_wait(hidden, 5000), 0, "a holder that cannot be judged was taken over");
    pid_t noproc = fork();
    if (noproc == 0) {
        cortex__proc_test_hide(2); /* no /proc at all */
        u64_ring p;
        _exit(u64_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) == -EBUSY ? 0 : 1);
    }
    cr_assert_eq(nct_wait(noproc, 5000), 0, "without /proc a live holder was taken over");
    /* With /proc readable the forged record is a reused pid: dead, taken over. */
    cr_assert_eq(nct_wait(attach_in_child(name, CORTEX_PRODUCER), 5000), 0);
    kill(holder, SIGKILL);
    nct_wait(holder, 5000);
    u64_ring_close(&c);
}

Test(ring_live, peer_in_another_pid_namespace_is_refused)
{
    if (!nct_unshare_works())
        cr_skip_test("unshare --pid --fork is not permitted here");
    char name[64];
    u64_ring c;
    make(&c, name, "pidns", CORTEX_CONSUMER);
    const char *argv[] = {nct_helper_path("ident_peer"), "ring", name, "producer", NULL};
    cr_assert_eq(nct_run_unshared(argv), 30, "a producer in another pid namespace was not refused with -EXDEV");
    /* In ours it is admitted. */
    cr_assert_eq(nct_wait(attach_in_child(name, CORTEX_PRODUCER), 5000), 0);
    u64_ring_close(&c);
}

/* A claimant killed between its CAS and its record leaves -pid: taken over once no process has that pid. */
Test(ring_live, claim_left_at_minus_pid)
{
    char name[64];
    u64_ring c;
    make(&c, name, "minus", CORTEX_CONSUMER);
    cortex_ring_shared *sh = (cortex_ring_shared *)(void *)c.ring.base;
    pid_t live = fork();
    if (live == 0) {
        for (;;)
            pause();
    }
    atomic_store(&sh->side[0].pid, (uint32_t)-live);
    cr_assert_eq(nct_wait(attach_in_child(name, CORTEX_PRODUCER), 10000), 31, "a live claimant lost its claim");
    kill(live, SIGKILL);
    cr_assert_eq(nct_wait(live, 5000), 128 + SIGKILL);
    pid_t taker = fork();
    if (taker == 0) {
        u64_ring p;
        int rc = u64_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL);
        _exit(rc == 0 && p.ring.took_over == live ? 0 : 1);
    }
    cr_assert_eq(nct_wait(taker, 5000), 0, "the dead claimant's role was not taken over (and reported)");
    u64_ring_close(&c);
}
