/* SPDX-License-Identifier: MIT */
/*
 * tests/sync/test_sync.c: the lock backends on their own (suite unit and,
 * for the cross-process ones, multiprocess): the futex lock on plain caller
 * memory, its dead-owner takeover and bound, the semaphore backend's
 * SEM_UNDO, EINTR and timeouts, and ops-table validation.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "cortex_config.h"
#include "internal.h"
#include "nct_proc.h"
#include "nctest.h"
#if CORTEX_HAVE_FUTEX
#include "sync/futex_lock.h"
#endif

TestSuite(sync, .fini = nct_cleanup, .timeout = 60);

static void *shared_page(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    memset(p, 0, 4096);
    return p;
}

Test(sync, validate_ops)
{
    cr_assert_eq(cortex_sync_validate(&cortex_sync_futex), 0);
    cr_assert_eq(cortex_sync_validate(&cortex_sync_semaphore), 0);
    cortex_sync_ops o = cortex_sync_futex;
    o.id = 3;
    cr_assert_eq(cortex_sync_validate(&o), -EINVAL);
    o.id = CORTEX_SYNC_ID_USER_MIN;
    cr_assert_eq(cortex_sync_validate(&o), 0);
    o.shared_size = 0;
    cr_assert_eq(cortex_sync_validate(&o), -EINVAL);
    o.shared_size = 16;
    o.shared_align = 3;
    cr_assert_eq(cortex_sync_validate(&o), -EINVAL);
    o.shared_align = 8;
    o.lock = NULL;
    cr_assert_eq(cortex_sync_validate(&o), -EINVAL);
    cr_assert_eq(cortex_sync_validate(NULL), -EINVAL);
    cr_assert_eq(cortex_sync_builtin(CORTEX_SYNC_ID_FUTEX), &cortex_sync_futex);
    cr_assert_eq(cortex_sync_builtin(CORTEX_SYNC_ID_SEMAPHORE), &cortex_sync_semaphore);
    cr_assert_null(cortex_sync_builtin(77));
    cr_assert(cortex_sync_available(cortex_sync_default()));
    cr_assert_eq(cortex_sync_available(&cortex_sync_futex), (bool)CORTEX_HAVE_FUTEX);
    cr_assert_eq(cortex_sync_available(&cortex_sync_semaphore), (bool)CORTEX_HAVE_SEMAPHORE);
}

Test(sync, missing_backend_says_so)
{
    const cortex_sync_ops *m = !CORTEX_HAVE_FUTEX ? &cortex_sync_futex
                               : !CORTEX_HAVE_SEMAPHORE ? &cortex_sync_semaphore
                                                        : NULL;
    if (!m)
        cr_skip_test("both backends built");
    char shared[64] = {0};
    void *local = NULL;
    cortex_sync_env env = {CORTEX_KEY_HEAP, 0600, "test", NULL, 0};
    cr_assert_eq(m->init(shared, &env, &local), -ENOTSUP);
    cr_assert(strstr(cortex_last_error()->message, "disabled"), "%s", cortex_last_error()->message);
    cr_assert_eq(m->lock(shared, local, -1), -ENOTSUP);
}

#if CORTEX_HAVE_FUTEX

struct thr {
    cortex__futex_lock *l;
    uint64_t *counter;
    int n;
};

static void *hammer(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < t->n; i++) {
        if (cortex__futex_lock_acquire(t->l, -1) != 0)
            return (void *)1;
        uint64_t v = *t->counter; /* plain: the lock protects it */
        cortex__spin_hint();
        *t->counter = v + 1;
        if (cortex__futex_lock_release(t->l) != 0)
            return (void *)2;
    }
    return NULL;
}

Test(sync, futex_lock_on_plain_memory_excludes_threads)
{
    cortex__futex_lock *l = calloc(1, sizeof *l);
    uint64_t counter = 0;
    cortex__futex_lock_init(l);
    enum { T = 4 };
    const int n = 50000 * nct_scale();
    pthread_t th[T];
    struct thr a = {l, &counter, n};
    for (int i = 0; i < T; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, &a), 0);
    for (int i = 0; i < T; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_assert_null(r);
    }
    cr_assert_eq(counter, (uint64_t)T * (uint64_t)n);
    cr_assert_eq(cortex__ld32(&l->word, CX_RELAXED), 0, "free and no waiters bit left");
    cr_assert_eq(cortex__ld64(&l->record, CX_RELAXED), 0);
    free(l);
}

Test(sync, futex_uncontended_leaves_no_waiters_bit)
{
    cortex__futex_lock l;
    cortex__futex_lock_init(&l);
    cr_assert_eq(cortex__futex_lock_acquire(&l, 0), 0);
    uint32_t w = cortex__ld32(&l.word, CX_RELAXED);
    cr_assert_eq(w, (uint32_t)getpid(), "the word holds the owner's pid and nothing else");
    cr_assert_eq((uint32_t)cortex__ld64(&l.record, CX_RELAXED), (uint32_t)getpid());
    cr_assert_eq(cortex__futex_lock_acquire(&l, 0), -ETIMEDOUT, "trylock on a held lock");
    int64_t t0 = cortex__now_ns();
    cr_assert_eq(cortex__futex_lock_acquire(&l, 30000000), -ETIMEDOUT);
    int64_t took = cortex__now_ns() - t0;
    cr_assert(took >= 29000000 && took < 2000000000, "timed out after %lld ns", (long long)took);
    cr_assert(cortex__ld32(&l.word, CX_RELAXED) & CORTEX__FUTEX_WAITERS, "a sleeper announced itself");
    cr_assert_eq(cortex__futex_lock_release(&l), 0);
    cr_assert_eq(cortex__ld32(&l.word, CX_RELAXED), 0);
    cr_assert_eq(cortex__futex_lock_release(&l), -EPERM, "not held");
}

/*
 * The holder dies while a waiter sleeps: the waiter takes over within the
 * bound.  The bound is on the lock: the time the scheduler kept the waiter,
 * or the killed holder on its way out, runnable but off the CPU after the
 * kill (a loaded host, a throttled cgroup: 2 runs in 20 failed there) is
 * not counted.
 */
Test(sync, futex_dead_owner_taken_over_within_bound)
{
    struct page {
        cortex__futex_lock l;
        int64_t killed_ns;
        int64_t waiter_delay, holder_delay; /* their run-queue delays at the kill (-1: unknown) */
    } *pg = shared_page();
    cortex__futex_lock_init(&pg->l);
    for (int round = 0; round < 5; round++) {
        pg->killed_ns = 0; /* nothing of the last round's kill is read by this round's waiter */
        pg->waiter_delay = pg->holder_delay = -1;
        pid_t holder = fork();
        if (holder == 0) {
            if (cortex__futex_lock_acquire(&pg->l, -1) != 0)
                _exit(2);
            pause();
            _exit(3);
        }
        while (cortex__futex_lock_holder(&pg->l) != (uint32_t)holder)
            cortex__sleep_ns(100000);
        pid_t waiter = fork();
        if (waiter == 0) {
            int rc = cortex__futex_lock_acquire(&pg->l, 10 * CORTEX_SYNC_DEAD_OWNER_BOUND_NS);
            int64_t lat = cortex__now_ns() - __atomic_load_n(&pg->killed_ns, __ATOMIC_ACQUIRE);
            int64_t wd = nct_run_delay_ns(), hd = nct_run_delay_of(holder); /* a zombie until we are reaped */
            int64_t off_w = nct_run_delay_between(pg->waiter_delay, wd);
            int64_t off_h = nct_run_delay_between(pg->holder_delay, hd);
            /* The larger of the two, not their sum: on a loaded host both often wait at the same moment. */
            lat -= off_w > off_h ? off_w : off_h;
            if (rc != -EOWNERDEAD)
                _exit(10);
            if (lat > CORTEX_SYNC_DEAD_OWNER_BOUND_NS)
                _exit(11);
            _exit(cortex__futex_lock_release(&pg->l) == 0 ? 0 : 12);
        }
        /* Let the waiter go to sleep, sometimes for several check intervals. */
        int64_t end = nct_now_ms() + 5000;
        while (!(cortex__ld32(&pg->l.word, CX_RELAXED) & CORTEX__FUTEX_WAITERS) && nct_now_ms() < end)
            cortex__sleep_ns(50000);
        cr_assert(cortex__ld32(&pg->l.word, CX_RELAXED) & CORTEX__FUTEX_WAITERS, "the waiter announced itself");
        cortex__sleep_ns(round * 700000);
        pg->waiter_delay = nct_run_delay_of(waiter);
        pg->holder_delay = nct_run_delay_of(holder);
        __atomic_store_n(&pg->killed_ns, cortex__now_ns(), __ATOMIC_RELEASE);
        kill(holder, SIGKILL);
        int st = nct_wait(waiter, 5000);
        cr_assert_eq(st, 0, "round %d: waiter's verdict %d (10: not taken over, 11: later than the bound)", round, st);
        cr_assert_eq(nct_wait(holder, 5000), 128 + SIGKILL);
        cr_assert_eq(cortex__ld32(&pg->l.word, CX_RELAXED) & CORTEX__FUTEX_PID_MASK, 0);
    }
    munmap(pg, 4096);
}

/* A dead owner found by a fresh locker (no sleeper), and a trylock on it. */
Test(sync, futex_dead_owner_found_by_trylock)
{
    cortex__futex_lock *l = shared_page();
    pid_t p = fork();
    if (p == 0)
        _exit(cortex__futex_lock_acquire(l, -1) == 0 ? 0 : 2); /* exits holding it */
    cr_assert_eq(nct_wait(p, 5000), 0);
    cr_assert_eq(cortex__futex_lock_acquire(l, 0), -EOWNERDEAD);
    cr_assert_eq(cortex__futex_lock_holder(l), (uint32_t)getpid());
    cr_assert_eq(cortex__futex_lock_release(l), 0);
    cr_assert_eq(cortex__futex_lock_acquire(l, 0), 0);
    cr_assert_eq(cortex__futex_lock_release(l), 0);
    munmap(l, 4096);
}

/* A live pid whose start time is not the holder's: a reused pid, so dead. */
Test(sync, futex_reused_pid_is_dead)
{
    cortex__futex_lock l;
    cortex__futex_lock_init(&l);
    pid_t other = fork();
    if (other == 0) {
        pause();
        _exit(0);
    }
    uint64_t start = cortex__pid_start_time(other);
    cr_assert_neq(start, 0);
    usleep(30000); /* a few ticks: a stamp taken now is strictly after its start */
    uint32_t stamp = (uint32_t)cortex__boot_ticks();
    /* Held by `other`, with a stamp from while it ran: alive, so a trylock times out. */
    cortex__st32(&l.word, (uint32_t)other, CX_RELAXED);
    cortex__st64(&l.record, ((uint64_t)stamp << 32) | (uint32_t)other, CX_RELAXED);
    cr_assert_eq(cortex__futex_lock_acquire(&l, 0), -ETIMEDOUT);
    cr_assert_eq(cortex__futex_lock_acquire(&l, 5000000), -ETIMEDOUT);
    /* Same pid, a stamp from before it started: the recorded holder is gone (pid reused). */
    cortex__st64(&l.record, ((uint64_t)(uint32_t)(start - 5) << 32) | (uint32_t)other, CX_RELAXED);
    cr_assert_eq(cortex__futex_lock_acquire(&l, 0), -EOWNERDEAD);
    cr_assert_eq(cortex__futex_lock_release(&l), 0);
    /* No record yet (holder between its CAS and its record store), a process that started before we looked: unknown, waited for. */
    cortex__st32(&l.word, (uint32_t)other, CX_RELAXED);
    cortex__st64(&l.record, 0, CX_RELAXED);
    cr_assert_eq(cortex__futex_lock_acquire(&l, 0), -ETIMEDOUT);
    kill(other, SIGKILL);
    cr_assert_eq(nct_wait(other, 5000), 128 + SIGKILL);
    cr_assert_eq(cortex__futex_lock_acquire(&l, 0), -EOWNERDEAD);
    cr_assert_eq(cortex__futex_lock_release(&l), 0);
}

/* Cross-process mutual exclusion with hand-offs through FUTEX_WAKE. */
Test(sync, futex_processes_exclude_and_hand_off)
{
    struct page {
        cortex__futex_lock l;
        uint64_t counter;
    } *pg = shared_page();
    cortex__futex_lock_init(&pg->l);
    enum { N = 4 };
    const int M = 20000 * nct_scale();
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            for (int j = 0; j < M; j++) {
                if (cortex__futex_lock_acquire(&pg->l, -1) != 0)
                    _exit(2);
                uint64_t v = pg->counter;
                if (j % 64 == 0)
                    sched_yield(); /* hold it across a reschedule now and then: sleepers */
                pg->counter = v + 1;
                if (cortex__futex_lock_release(&pg->l) != 0)
                    _exit(3);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(nct_wait(kids[i], 50000), 0);
    cr_assert_eq(pg->counter, (uint64_t)N * (uint64_t)M);
    cr_assert_eq(cortex__ld32(&pg->l.word, CX_RELAXED), 0);
    munmap(pg, 4096);
}

#endif /* CORTEX_HAVE_FUTEX */

#if CORTEX_HAVE_SEMAPHORE

static void on_usr1(int sig) { (void)sig; }

Test(sync, semaphore_undo_eintr_and_timeouts)
{
    char *shared = shared_page();
    void *local = NULL;
    cortex_sync_env env = {CORTEX_KEY_HEAP, 0600, "test semaphore", NULL, 0};
    const cortex_sync_ops *s = &cortex_sync_semaphore;
    cr_assert_eq(s->init(shared, &env, &local), 0, "%s", cortex_last_error()->message);

    /* SEM_UNDO: a child that exits holding it gives it back. */
    pid_t p = fork();
    if (p == 0)
        _exit(s->lock(shared, local, -1) == 0 ? 0 : 2);
    cr_assert_eq(nct_wait(p, 5000), 0);
    cr_assert_eq(s->lock(shared, local, 0), 0, "released by the kernel");
    int32_t holder = 0;
    cr_assert_eq(s->holder(shared, &holder), 1);
    cr_assert_eq(holder, getpid());

    /* Held: trylock and a timed lock time out. */
    void *alocal = NULL;
    cr_assert_eq(s->attach(shared, &env, &alocal), 0);
    p = fork();
    if (p == 0) {
        if (s->lock(shared, alocal, 0) != -ETIMEDOUT)
            _exit(2);
        int64_t t0 = cortex__now_ns();
        if (s->lock(shared, alocal, 20000000) != -ETIMEDOUT)
            _exit(3);
        if (cortex__now_ns() - t0 < 19000000)
            _exit(4);
        /* Signals without SA_RESTART while waiting: EINTR is retried, not returned. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
        __atomic_store_n((int *)(shared + 1024), 1, __ATOMIC_RELEASE);
        int rc = s->lock(shared, alocal, -1);
        if (rc != 0)
            _exit(6);
        _exit(s->unlock(shared, alocal) == 0 ? 0 : 7);
    }
    while (!__atomic_load_n((int *)(shared + 1024), __ATOMIC_ACQUIRE))
        cortex__sleep_ns(100000);
    for (int i = 0; i < 5; i++) {
        cortex__sleep_ns(2000000);
        kill(p, SIGUSR1);
    }
    cr_assert_eq(s->unlock(shared, local), 0);
    cr_assert_eq(nct_wait(p, 5000), 0);

    cr_assert_eq(s->destroy(shared, local), 0);
    cr_assert_eq(s->lock(shared, local, 0), -EIDRM, "removed");
    munmap(shared, 4096);
}

#endif

#if CORTEX_HAVE_FUTEX /* liveness of the futex lock holder */

/* A holder whose main thread called pthread_exit() while another thread runs is alive: no takeover. */
Test(sync, futex_holder_alive_after_main_thread_exit_keeps_the_lock)
{
    cortex__futex_lock *l = shared_page();
    cortex__futex_lock_init(l);
    pid_t holder = fork();
    if (holder == 0) {
        if (cortex__futex_lock_acquire(l, 0) != 0)
            _exit(10);
        nct_keep_alive_and_exit_main();
    }
    cr_assert(nct_wait_main_zombie(holder, 5000), "the holder's main thread exited");
    cr_assert_eq(cortex__futex_lock_holder(l), (uint32_t)holder);
    cr_assert_eq(cortex__futex_lock_acquire(l, 200000000), -ETIMEDOUT, "the lock was taken from a live holder");
    kill(holder, SIGKILL);
    cr_assert_eq(nct_wait(holder, 5000), 128 + SIGKILL);
    cr_assert_eq(cortex__futex_lock_acquire(l, 2000000000), -EOWNERDEAD, "dead now: taken over, reported");
    cr_assert_eq(cortex__futex_lock_release(l), 0);
    munmap(l, 4096);
}

/* In a child with /proc hidden (mode 1: hidepid=2, 2: none): the acquire's result as an exit status. */
/*
 * A child with /proc hidden as @mode tries the lock for @timeout_ms: 0 timed out, 1 took it over
 * (-EOWNERDEAD), 2 anything else.  The cases that expect a takeover get seconds: on a loaded host
 * 100 ms could turn a takeover into a timeout.
 */
static int acquire_hidden(cortex__futex_lock *l, int mode, int timeout_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        cortex__proc_test_hide(mode);
        int rc = cortex__futex_lock_acquire(l, (int64_t)timeout_ms * 1000000);
        _exit(rc == -ETIMEDOUT ? 0 : rc == -EOWNERDEAD ? 1 : 2);
    }
    return nct_wait(pid, 10000);
}

/* A record that reads as a reused pid is taken over; with /proc hidden it cannot be judged, and is not. */
Test(sync, futex_unknown_holder_is_never_taken_over)
{
    cortex__futex_lock *l = shared_page();
    cortex__futex_lock_init(l);
    pid_t holder = fork();
    if (holder == 0) {
        for (;;)
            pause();
    }
    uint64_t start = cortex__pid_start_time(holder);
    cr_assert_neq(start, 0);
    cortex__st32(&l->word, (uint32_t)holder, CX_RELAXED);
    cortex__st64(&l->record, ((uint64_t)(uint32_t)(start - 5) << 32) | (uint32_t)holder, CX_RELAXED);
    cr_assert_eq(acquire_hidden(l, 1, 100), 0, "hidepid: a holder that cannot be judged was taken over");
    cr_assert_eq(acquire_hidden(l, 2, 100), 0, "no /proc: a holder that cannot be judged was taken over");
    cr_assert_eq(acquire_hidden(l, 0, 5000), 1, "readable /proc: the forged record is a reused pid");
    kill(holder, SIGKILL);
    nct_wait(holder, 5000);
    /* A dead holder is dead without /proc too (kill(pid, 0) == ESRCH). */
    cortex__st32(&l->word, (uint32_t)holder, CX_RELAXED);
    cr_assert_eq(acquire_hidden(l, 2, 5000), 1);
    munmap(l, 4096);
}

/* Forks a child that pauses, at pid @want if ns_last_pid lets us choose it; its pid, or -1. */
static pid_t fork_at(pid_t want)
{
    for (int tries = 0; tries < 20; tries++) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!f)
            return -1;
        fprintf(f, "%d", (int)want - 1);
        if (fclose(f) != 0)
            return -1;
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        if (pid == want)
            return pid;
        kill(pid, SIGKILL);
        nct_wait(pid, 5000);
    }
    return -1;
}

/*
 * A holder killed between its CAS and its record store, its pid then reused
 * by a process that started after a waiter saw the pid in the word: that
 * process is not the holder, so the waiter takes over (-EOWNERDEAD).
 */
Test(sync, futex_pid_reused_while_a_waiter_watches_is_dead)
{
    cortex__futex_lock *l = shared_page();
    cortex__futex_lock_init(l);
    pid_t first = fork();
    if (first == 0) {
        for (;;)
            pause();
    }
    usleep(20000);
    cortex__st32(&l->word, (uint32_t)first, CX_RELAXED); /* taken, no record yet */
    pid_t waiter = fork();
    if (waiter == 0) {
        int rc = cortex__futex_lock_acquire(l, 5000000000);
        _exit(rc == -EOWNERDEAD ? 0 : rc == -ETIMEDOUT ? 1 : 2);
    }
    /* The waiter has seen `first` in the word, alive, once it announced itself (it looks before it
     * sets the bit); a fixed 200 ms was no proof of that on a loaded host. */
    int64_t end = nct_now_ms() + 10000;
    while (!(cortex__ld32(&l->word, CX_RELAXED) & CORTEX__FUTEX_WAITERS) && nct_now_ms() < end)
        usleep(1000);
    bool announced = cortex__ld32(&l->word, CX_RELAXED) & CORTEX__FUTEX_WAITERS;
    usleep(30000); /* the reused pid starts a later tick than the waiter's look */
    kill(waiter, SIGSTOP);
    if (!announced) {
        kill(waiter, SIGKILL);
        nct_wait(waiter, 5000);
        kill(first, SIGKILL);
        nct_wait(first, 5000);
        cr_assert_fail("the waiter never announced itself");
    }
    kill(first, SIGKILL);
    cr_assert_eq(nct_wait(first, 5000), 128 + SIGKILL);
    pid_t second = fork_at(first);
    if (second < 0) {
        kill(waiter, SIGKILL);
        nct_wait(waiter, 5000);
        cr_skip_test("cannot place a process at a chosen pid here (ns_last_pid)");
    }
    kill(waiter, SIGCONT);
    int st = nct_wait(waiter, 10000);
    kill(second, SIGKILL);
    nct_wait(second, 5000);
    cr_assert_eq(st, 0, "the waiter trusted a reused pid as the holder (status %d)", st);
    munmap(l, 4096);
}
#endif /* CORTEX_HAVE_FUTEX */
