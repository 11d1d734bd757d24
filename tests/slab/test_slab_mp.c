/* SPDX-License-Identifier: MIT */
/*
 * The slab across threads and processes: allocation stamps under contention,
 * a process killed while holding slots (reclaim returns exactly those),
 * processes killed at random instants, a take interrupted before the slot
 * word was written, and a third process corrupting the free list.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hammer.h"
#include "nctest.h"
#include "slab/slab_layout.h"

TestSuite(slab_mp, .fini = nct_cleanup, .timeout = 60);

enum { SLOTS = 32 };

static long ops(void) { return (HAMMER_SANITIZED ? 400000L : 2000000L) * nct_scale(); }

static cortex_slab *make(char *name, const char *tag)
{
    cortex_slab *s = NULL;
    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, tag)), SLOTS, sizeof(struct stamp),
                                    _Alignof(struct stamp), "struct stamp", NULL),
                 0, "%s", cortex_last_error()->message);
    cr_assert_eq(hammer_prepare(s), 0);
    return s;
}

static cortex_slab *child_attach(const char *name)
{
    cortex_slab *c = NULL;
    if (cortex_slab_attach(&c, CORTEX_KEY_NAME(name), sizeof(struct stamp), _Alignof(struct stamp), "struct stamp",
                           NULL) < 0) {
        fprintf(stderr, "child attach: %s\n", cortex_last_error()->message);
        _exit(10);
    }
    return c;
}

/* With SLAB_DEBUG set: the head, every slot word and link, and the process table (for a failing run). */
static void dump_if_debug(cortex_slab *s, const char *where)
{
    if (!getenv("SLAB_DEBUG"))
        return;
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    struct cortex__slot_meta *m = (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    uint64_t h = atomic_load(&sh->head);
    fprintf(stderr, "%s: head top %u claim %u par %u tag %u\n", where, CX_HEAD_TOP(h), CX_HEAD_CLAIM(h),
            CX_HEAD_PAR(h), CX_HEAD_TAG(h));
    for (int i = 0; i < SLOTS; i++) {
        uint64_t w = atomic_load(&m[i].word);
        fprintf(stderr, "  %2d: gen %u st %u proc %u next %llu\n", i, CX_W_GEN(w), CX_W_STATE(w), CX_W_PROC(w),
                (unsigned long long)atomic_load(&m[i].next));
    }
    for (int e = 1; e < 128; e++)
        if (atomic_load(&sh->procs[e]))
            fprintf(stderr, "  proc %d: pid %u\n", e, (unsigned)(atomic_load(&sh->procs[e]) >> 32));
}

/*
 * Walks the free list from the head (bounded): every slot on it must be free
 * and appear once.  Returns how many distinct free slots it reaches, or -1
 * for a link out of range, a slot that is not free, or a slot seen twice.
 */
static int walk_free_list(cortex_slab *s)
{
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    struct cortex__slot_meta *m = (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    uint64_t h = atomic_load(&sh->head);
    uint32_t cur = CX_HEAD_TOP(h);
    if (CX_HEAD_CLAIM(h) && cur) {
        uint64_t w = atomic_load(&m[cur - 1].word);
        bool taken = !CX_IS_FREE(CX_W_STATE(w)) || (CX_W_GEN(w) & 1u) == CX_HEAD_PAR(h);
        if (taken) /* the taken top is not on the free list (a pending take counts as taken) */
            cur = (uint32_t)atomic_load(&m[cur - 1].next);
        else
            return -1; /* a freed taken top: its free has not relinked it */
    }
    uint64_t seen = 0;
    int n = 0;
    while (cur) {
        if (cur > SLOTS || (seen & (UINT64_C(1) << (cur - 1))))
            return -1;
        seen |= UINT64_C(1) << (cur - 1);
        if (!CX_IS_FREE(CX_W_STATE(atomic_load(&m[cur - 1].word))))
            return -1;
        n++;
        cur = (uint32_t)atomic_load(&m[cur - 1].next);
    }
    return n;
}

/* Every slot is free and reachable: take all of them (distinct), then -ENOSPC; stamps cleared; all back. */
static void assert_all_free(cortex_slab *s)
{
    cortex_handle h[SLOTS];
    uint64_t seen = 0;
    for (int i = 0; i < SLOTS; i++) {
        cr_assert_eq(cortex_slab_alloc(s, &h[i]), 0, "slot %d of %d: %s", i, SLOTS, cortex_last_error()->message);
        uint64_t bit = UINT64_C(1) << cortex_handle_index(h[i]);
        cr_assert_not(seen & bit, "slot %u twice", cortex_handle_index(h[i]));
        seen |= bit;
        struct stamp *st = cortex_slab_get(s, h[i]);
        st->owner = 0;
        st->check = ~(uint64_t)0;
    }
    cortex_handle x;
    cr_assert_eq(cortex_slab_alloc(s, &x), -ENOSPC);
    for (int i = 0; i < SLOTS; i++)
        cr_assert_eq(cortex_slab_free(s, h[i]), 0);
}

Test(slab_mp, stamps_two_processes)
{
    char name[64];
    cortex_slab *s = make(name, "stamp2p");
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        cr_assert_geq(pids[w], 0);
        if (pids[w] == 0) {
            cortex_slab *c = child_attach(name);
            int rc = hammer(c, (uint32_t)w + 1, ops(), NULL);
            cortex_slab_close(c);
            _exit(rc);
        }
    }
    for (int w = 0; w < 2; w++)
        cr_assert_eq(nct_wait(pids[w], 55000), 0, "worker %d found a slot handed out twice or failed", w);
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.free, SLOTS);
    assert_all_free(s);
    cortex_slab_close(s);
}

struct thr {
    cortex_slab *s;
    uint32_t id;
    int rc;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    t->rc = hammer(t->s, t->id, ops(), NULL);
    return NULL;
}

Test(slab_mp, stamps_two_threads)
{
    char name[64];
    cortex_slab *s = make(name, "stamp2t");
    struct thr t[2] = {{s, 1, -1}, {s, 2, -1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(t[i].rc, 0, "thread %d: %d", i, t[i].rc);
    }
    assert_all_free(s);
    cortex_slab_close(s);
}

Test(slab_mp, killed_holder_is_reclaimed_exactly, .timeout = 30)
{
    char name[64];
    cortex_slab *s = make(name, "kill1");
    cortex_handle mine[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(cortex_slab_alloc(s, &mine[i]), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    enum { K = 5 };
    pid_t pid = fork();
    if (pid == 0) {
        cortex_slab *c = child_attach(name);
        cortex_handle h[K + 1];
        for (int i = 0; i < K + 1; i++)
            if (cortex_slab_alloc(c, &h[i]) < 0)
                _exit(11);
        if (cortex_slab_free(c, h[K]) < 0) /* one given back before dying */
            _exit(12);
        if (write(fds[1], h, sizeof h) != (ssize_t)sizeof h)
            _exit(13);
        pause();
        _exit(0);
    }
    cortex_handle theirs[K + 1];
    cr_assert_eq(read(fds[0], theirs, sizeof theirs), (ssize_t)sizeof theirs);
    cr_assert_eq(cortex_slab_reclaim(s, 0), 0, "the holder is alive: nothing to reclaim");
    kill(pid, SIGKILL);
    cr_assert_eq(nct_wait(pid, 5000), 128 + SIGKILL);

    cortex_slab_info info;
    cr_assert_eq(cortex_slab_inspect(cortex_slab_region(s), &info), 0);
    cr_assert_eq(info.dead_held, K, "inspect sees the dead holder's slots");
    cr_assert_eq(cortex_slab_reclaim(s, 0), K, "reclaim returns exactly the %d slots the dead process held", K);
    for (int i = 0; i < K; i++)
        cr_assert_null(cortex_slab_get(s, theirs[i]), "the dead process's handles are stale now");
    for (int i = 0; i < 2; i++)
        cr_assert_not_null(cortex_slab_get(s, mine[i]), "our own slots untouched");
    cr_assert_eq(cortex_slab_reclaim(s, 0), 0);
    cr_assert_eq(cortex_slab_inspect(cortex_slab_region(s), &info), 0);
    cr_assert_eq(info.dead_held, 0);
    cr_assert_eq(info.free, SLOTS - 2);
    cr_assert_eq(info.procs, 1, "the dead process's table entry was freed");
    for (int i = 0; i < 2; i++)
        cr_assert_eq(cortex_slab_free(s, mine[i]), 0);
    assert_all_free(s);
    close(fds[0]);
    close(fds[1]);
    cortex_slab_close(s);
}

/* Killed at random instants while hammering: reclaim gets every held slot back. */
Test(slab_mp, random_kills_lose_nothing, .timeout = 60)
{
    char name[64];
    cortex_slab *s = make(name, "killr");
    int rounds = 12 * nct_scale();
    unsigned seed = (unsigned)getpid();
    int lost_in_free = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pids[2];
        for (int w = 0; w < 2; w++) {
            pids[w] = fork();
            if (pids[w] == 0) /* the inherited view: a forked child registers as itself */
                _exit(hammer(s, (uint32_t)(r * 2 + w + 1), 1L << 40, NULL));
        }
        usleep(3000 + (useconds_t)(rand_r(&seed) % 12000));
        for (int w = 0; w < 2; w++)
            kill(pids[w], SIGKILL);
        for (int w = 0; w < 2; w++)
            cr_assert_eq(nct_wait(pids[w], 5000), 128 + SIGKILL, "round %d worker %d ended before the kill", r, w);
        cortex_slab_info info;
        cr_assert_eq(cortex_slab_inspect(cortex_slab_region(s), &info), 0);
        dump_if_debug(s, "before reclaim");
        int got = cortex_slab_reclaim(s, CORTEX_SLAB_RECLAIM_IN_FLIGHT);
        dump_if_debug(s, "after reclaim");
        cr_assert_geq(got, 0, "%s", cortex_last_error()->message);
        /* A take interrupted before its slot word was written is counted by reclaim, not by inspect. */
        cr_assert(got == (int)info.dead_held || got == (int)info.dead_held + 1,
                  "round %d: reclaim freed %d, the dead held %u", r, got, info.dead_held);
        cr_assert_eq(cortex_slab_inspect(cortex_slab_region(s), &info), 0);
        cr_assert_eq(info.dead_held, 0);
        cr_assert_eq(info.allocated + info.in_flight, 0);
        cr_assert_eq(walk_free_list(s), SLOTS, "round %d: the free list does not reach every slot exactly once", r);
        /* Killed inside free, between marking and linking: reclaim linked it, nothing is unreachable. */
        int rep = cortex_slab_repair(s);
        cr_assert_eq(rep, 0, "round %d: %d free slots were unreachable after reclaim", r, rep);
        lost_in_free += got;
        assert_all_free(s);
    }
    cr_log_info("%d rounds, %d slots reclaimed from killed workers", rounds, lost_in_free);
    cr_assert_gt(lost_in_free, 0, "the workers were never killed while holding slots: the test proved nothing");
    cortex_slab_close(s);
}

/* A process dies right after the head CAS that took a slot, before writing the slot word. */
Test(slab_mp, take_interrupted_before_the_word)
{
    char name[64];
    cortex_slab *s = make(name, "pend");
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    cr_assert_eq(nct_wait(dead, 5000), 0);
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    struct cortex__slot_meta *m =
        (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    /* As the dead process would have left it: its table entry, and the head naming it as the taker of the top. */
    atomic_store(&sh->procs[100], ((uint64_t)(uint32_t)dead << 32) | 1u);
    uint64_t h = atomic_load(&sh->head);
    uint32_t top = CX_HEAD_TOP(h);
    cr_assert_neq(top, 0);
    uint64_t w = atomic_load(&m[top - 1].word);
    atomic_store(&sh->head, cx_head(CX_HEAD_TAG(h) + 1, CX_W_GEN(w) & 1u, 100, top));

    cortex_slab_info info;
    cr_assert_eq(cortex_slab_inspect(cortex_slab_region(s), &info), 0);
    cr_assert(info.list_ok);
    cr_assert_eq(cortex_slab_reclaim(s, 0), 1, "the taken slot is found through the head: %s",
                 cortex_last_error()->message);
    assert_all_free(s);
    cortex_slab_close(s);
}

/* Same, but another process allocates first: it records the dead taker, and reclaim then frees it. */
Test(slab_mp, take_interrupted_then_helped)
{
    char name[64];
    cortex_slab *s = make(name, "pend2");
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    cr_assert_eq(nct_wait(dead, 5000), 0);
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    struct cortex__slot_meta *m = (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    atomic_store(&sh->procs[100], ((uint64_t)(uint32_t)dead << 32) | 1u);
    uint64_t h = atomic_load(&sh->head);
    uint32_t top = CX_HEAD_TOP(h);
    uint64_t w = atomic_load(&m[top - 1].word);
    atomic_store(&sh->head, cx_head(CX_HEAD_TAG(h) + 1, CX_W_GEN(w) & 1u, 100, top));
    cortex_handle x;
    cr_assert_eq(cortex_slab_alloc(s, &x), 0);
    cr_assert_neq(cortex_handle_index(x), top - 1, "the dead taker's slot is not handed out again");
    w = atomic_load(&m[top - 1].word);
    cr_assert_eq(CX_W_STATE(w), CORTEX__SLOT_ALLOC, "the allocator recorded the dead taker as owner");
    cr_assert_eq(CX_W_PROC(w), 100);
    cr_assert_eq(cortex_slab_reclaim(s, 0), 1);
    cr_assert_eq(cortex_slab_free(s, x), 0);
    assert_all_free(s);
    cortex_slab_close(s);
}

static void corrupt_in_child(const char *name, int how)
{
    cortex_region *r;
    cortex_layout l = {.kind = CORTEX_KIND_SLAB};
    if (cortex_region_attach(&r, CORTEX_KEY_NAME(name), &l, NULL) < 0)
        _exit(10);
    struct cortex__slab_shared *sh = cortex_region_payload(r);
    struct cortex__slot_meta *m = (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    if (how == 0)
        atomic_store(&m[5].next, 0xfffffu); /* slot 5's link far out of range */
    else
        atomic_store(&m[9].next, 21); /* slot 9 -> slot 20, which the list reaches before 9: a cycle */
    cortex_region_close(r);
    _exit(0);
}

Test(slab_mp, third_process_corrupts_free_list)
{
    for (int how = 0; how < 2; how++) {
        char name[64];
        cortex_slab *s = make(name, how ? "cyc" : "oor");
        pid_t user = fork();
        if (user == 0) {
            cortex_slab *c = child_attach(name);
            cortex_handle h;
            if (cortex_slab_alloc(c, &h) < 0 || cortex_slab_alloc(c, &h) < 0) /* a user holding slots */
                _exit(11);
            cortex_slab_close(c);
            _exit(0);
        }
        cr_assert_eq(nct_wait(user, 5000), 0);
        pid_t bad = fork();
        if (bad == 0)
            corrupt_in_child(name, how);
        cr_assert_eq(nct_wait(bad, 5000), 0);
        pid_t victim = fork();
        if (victim == 0) {
            cortex_slab *c = child_attach(name);
            cortex_handle h;
            int rc = 0;
            for (int i = 0; i <= SLOTS && rc == 0; i++)
                rc = cortex_slab_alloc(c, &h);
            _exit(rc == -EBADMSG ? 0 : rc == -ENOSPC ? 1 : rc == 0 ? 2 : 3);
        }
        cr_assert_eq(nct_wait(victim, 5000), 0, "corruption %d: alloc did not return -EBADMSG", how);
        cortex_slab_info info;
        cr_assert_eq(cortex_slab_inspect(cortex_slab_region(s), &info), 0);
        cortex_slab_close(s);
    }
}

/* A slot owned by a process whose pid now belongs to another (newer) process: the owner is dead. */
Test(slab_mp, reused_pid_is_not_the_owner)
{
    char name[64];
    cortex_slab *s = make(name, "reuse");
    cortex_handle mine, theirs;
    cr_assert_eq(cortex_slab_alloc(s, &mine), 0);
    cr_assert_eq(cortex_slab_alloc(s, &theirs), 0);
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    struct cortex__slot_meta *m = (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    /* entry 90: OUR pid, but another start time, as a pid reused after its first owner died */
    uint32_t self = (uint32_t)getpid();
    uint32_t real_start = 0;
    for (uint32_t e = 1; e < CORTEX__SLAB_PROC_ENTRIES; e++) {
        uint64_t v = atomic_load(&sh->procs[e]);
        if ((uint32_t)(v >> 32) == self)
            real_start = (uint32_t)v;
    }
    cr_assert_neq(real_start, 0, "this platform reports process start times");
    atomic_store(&sh->procs[90], ((uint64_t)self << 32) | (real_start + 12345u));
    uint32_t i = cortex_handle_index(theirs);
    uint64_t w = atomic_load(&m[i].word);
    atomic_store(&m[i].word, cx_word(CX_W_GEN(w), CORTEX__SLOT_ALLOC, 90, self));
    cr_assert_eq(cortex_slab_reclaim(s, 0), 1, "only the slot of the reused pid's first owner");
    cr_assert_null(cortex_slab_get(s, theirs));
    cr_assert_not_null(cortex_slab_get(s, mine));
    cr_assert_eq(atomic_load(&sh->procs[90]), 0, "its table entry was freed");
    cr_assert_eq(cortex_slab_free(s, mine), 0);
    assert_all_free(s);
    cortex_slab_close(s);
}

/* Waits (up to 5 s) until process @p pid holds a slot of @p s: a victim killed before it ran holds nothing. */
static void wait_until_holding(cortex_slab *s, pid_t pid)
{
    struct cortex__slab_shared *sh = (struct cortex__slab_shared *)cortex_region_payload(cortex_slab_region(s));
    struct cortex__slot_meta *m = (struct cortex__slot_meta *)(void *)((uint8_t *)sh + sh->hdr.meta_off);
    for (int tries = 0; tries < 50000; tries++) {
        for (int i = 0; i < SLOTS; i++) {
            uint64_t w = atomic_load(&m[i].word);
            uint32_t st = CX_W_STATE(w);
            if (!CX_IS_FREE(st) && CX_W_PID(w) == ((uint32_t)pid & 0x3fffffu))
                return;
        }
        usleep(100);
    }
}

/* Reclaim runs while a live worker keeps hammering: it frees the dead one's slots and never the live one's. */
Test(slab_mp, reclaim_while_others_run, .timeout = 60)
{
    char name[64];
    cortex_slab *s = make(name, "recl");
    volatile uint32_t *dead = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)dead, MAP_FAILED);
    *dead = 0;
    volatile int *stop = (volatile int *)(dead + 16);
    int reclaimed = 0;
    int rounds = 6 * nct_scale();
    for (int round = 0; round < rounds; round++) {
        *stop = 0;
        pid_t victim = fork();
        if (victim == 0)
            _exit(hammer(s, 100 + (uint32_t)round, 1L << 40, NULL));
        pid_t live = fork();
        if (live == 0)
            _exit(hammer_ex(s, 1, 1L << 40, stop, dead));
        usleep(5000);
        wait_until_holding(s, victim); /* on a loaded host the victim may not have run yet */
        kill(victim, SIGKILL);
        int vrc = nct_wait(victim, 5000);
        cr_assert_eq(vrc, 128 + SIGKILL, "round %d: the victim ended by itself (%d) before the kill", round, vrc);
        *dead = 100 + (uint32_t)round;
        for (int k = 0; k < 20; k++) {
            int n = cortex_slab_reclaim(s, CORTEX_SLAB_RECLAIM_IN_FLIGHT);
            cr_assert_geq(n, 0, "%s", cortex_last_error()->message);
            reclaimed += n;
        }
        usleep(5000);
        *stop = 1;
        int lrc = nct_wait(live, 50000);
        cr_assert_eq(lrc, 0, "round %d: the live worker saw a slot taken twice or lost (%d)", round, lrc);
        cr_assert_eq(cortex_slab_reclaim(s, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 0);
        dump_if_debug(s, "reclaim_while_others_run");
        cr_assert_eq(walk_free_list(s), SLOTS, "round %d: the free list does not reach every slot exactly once", round);
        cr_assert_eq(cortex_slab_repair(s), 0, "nothing unreachable");
        assert_all_free(s);
        *dead = 0;
    }
    cr_log_info("reclaimed %d slots while a live worker ran", reclaimed);
    cr_assert_gt(reclaimed, 0);
    munmap((void *)dead, 4096);
    cortex_slab_close(s);
}

/* ---- handles across processes: the hand-over and another slab's handles ---- */

static void xwrite(int fd, const void *p, size_t n)
{
    if (write(fd, p, n) != (ssize_t)n)
        _exit(90);
}

static int xread(int fd, void *p, size_t n) { return read(fd, p, n) == (ssize_t)n ? 0 : -1; }

/* Two pipes (parent -> child, child -> parent), then fork: the child's pid or 0. */
static pid_t fork_with_pipes(int down[2], int up[2])
{
    cr_assert_eq(pipe(down), 0);
    cr_assert_eq(pipe(up), 0);
    pid_t pid = fork();
    if (pid != 0) /* no assertion in the child: it reports through _exit() only */
        cr_assert_gt(pid, 0, "fork failed");
    return pid;
}

static void close_pipes(int down[2], int up[2])
{
    for (int i = 0; i < 2; i++) {
        close(down[i]);
        close(up[i]);
    }
}

/*
 * The parent sends a slot to a forked child, which attaches and receives it.
 * The parent's copy of the handle is then refused (get NULL, free/send
 * -ESTALE) while the child holds the slot; the child's own handle reads the
 * parent's bytes and frees it; afterwards both copies stay refused.
 */
Test(slab_mp, sender_copy_refused_after_handover)
{
    char name[64];
    cortex_slab *s = NULL;
    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, "ho")), 4, 64, 8, "text", NULL), 0, "%s",
                 cortex_last_error()->message);
    int down[2], up[2];
    pid_t pid = fork_with_pipes(down, up);
    if (pid == 0) {
        cortex_slab *c = NULL;
        cortex_handle h, go;
        if (cortex_slab_attach(&c, CORTEX_KEY_NAME(name), 64, 8, "text", NULL) < 0)
            _exit(10);
        if (xread(down[0], &h, sizeof h) < 0)
            _exit(11);
        cortex_handle mine = h;
        if (cortex_slab_receive(c, &mine) != 0 || mine == h)
            _exit(12);
        xwrite(up[1], &mine, sizeof mine);
        if (xread(down[0], &go, sizeof go) < 0) /* the parent has tried its old copy */
            _exit(13);
        const char *p = cortex_slab_get(c, mine);
        if (!p || strcmp(p, "handed over") != 0)
            _exit(14); /* the parent's free of its old copy reached our slot */
        if (cortex_slab_free(c, mine) != 0)
            _exit(15);
        if (cortex_slab_free(c, mine) != -ESTALE || cortex_slab_free(c, h) != -ESTALE)
            _exit(16);
        cortex_slab_close(c);
        _exit(0);
    }
    cortex_handle h, theirs;
    cr_assert_eq(cortex_slab_alloc(s, &h), 0);
    strcpy(cortex_slab_get(s, h), "handed over");
    cr_assert_eq(cortex_slab_send(s, h), 0);
    xwrite(down[1], &h, sizeof h);
    cr_assert_eq(xread(up[0], &theirs, sizeof theirs), 0);
    cr_assert_neq(theirs, h);
    cr_assert_eq(cortex_handle_index(theirs), cortex_handle_index(h));
    /* the sender's copy after the hand-over */
    cr_assert_null(cortex_slab_get(s, h), "the sender still reads the received slot");
    cr_assert_eq(cortex_slab_free(s, h), -ESTALE, "the sender's copy freed the receiver's slot");
    cr_assert_eq(cortex_slab_send(s, h), -ESTALE);
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.allocated, 1, "the receiver still holds its slot");
    xwrite(down[1], &h, sizeof h);
    cr_assert_eq(nct_wait(pid, 10000), 0, "the receiver found its slot gone or could not free it");
    cr_assert_null(cortex_slab_get(s, theirs));
    cr_assert_eq(cortex_slab_free(s, theirs), -ESTALE, "stale after the receiver's free");
    cr_assert_eq(cortex_slab_free(s, h), -ESTALE);
    cr_assert_eq(cortex_slab_reclaim(s, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 0, "nothing left behind");
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.free, 4);
    close_pipes(down, up);
    cr_assert_eq(cortex_slab_close(s), 0);
}

/*
 * Two fresh slabs created the same way by two processes, each allocating its
 * first slot: each refuses the other's handle (they used to be equal).
 */
Test(slab_mp, other_process_slab_handle_refused)
{
    char na[64], nb[64];
    nct_name(na, "pa");
    nct_name(nb, "pb");
    int down[2], up[2];
    pid_t pid = fork_with_pipes(down, up);
    if (pid == 0) {
        cortex_slab *b = NULL;
        cortex_handle hb, ha;
        if (cortex_slab_create(&b, CORTEX_KEY_NAME(nb), 4, 64, 8, "text", NULL) < 0)
            _exit(10);
        if (cortex_slab_alloc(b, &hb) < 0)
            _exit(11);
        xwrite(up[1], &hb, sizeof hb);
        if (xread(down[0], &ha, sizeof ha) < 0)
            _exit(12);
        int rc = 0;
        if (cortex_slab_get(b, ha) != NULL || cortex_slab_free(b, ha) != -ESTALE)
            rc = 13;
        else if (cortex_slab_get(b, hb) == NULL || cortex_slab_free(b, hb) != 0)
            rc = 14;
        cortex_slab_close(b); /* the creator removes B */
        _exit(rc);
    }
    cortex_slab *a = NULL;
    cr_assert_eq(cortex_slab_create(&a, CORTEX_KEY_NAME(na), 4, 64, 8, "text", NULL), 0, "%s",
                 cortex_last_error()->message);
    cortex_handle ha, hb;
    cr_assert_eq(cortex_slab_alloc(a, &ha), 0);
    cr_assert_eq(xread(up[0], &hb, sizeof hb), 0);
    cr_assert_eq(cortex_handle_index(ha), cortex_handle_index(hb));
    cr_assert_neq(ha, hb, "two fresh slabs issued the same first handle");
    cr_assert_null(cortex_slab_get(a, hb));
    cr_assert_eq(cortex_last_error()->code, -ESTALE, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_free(a, hb), -ESTALE);
    cortex_handle f = hb;
    cr_assert_eq(cortex_slab_receive(a, &f), -ESTALE);
    cr_assert_not_null(cortex_slab_get(a, ha), "A's own slot untouched");
    xwrite(down[1], &ha, sizeof ha);
    cr_assert_eq(nct_wait(pid, 10000), 0, "B accepted A's handle or lost its own");
    cr_assert_eq(cortex_slab_free(a, ha), 0);
    close_pipes(down, up);
    cr_assert_eq(cortex_slab_close(a), 0);
}

/*
 * A receiver SIGKILLed at random instants while the parent hands it slots
 * through a shared mailbox (send, then the handle in a box; the child takes
 * the box, receives, checks, frees).  Afterwards reclaim frees what the
 * dead receiver held, and every handle the parent ever sent is either
 * stale (the child received it: the generation moved on) or still in
 * flight (in a box, or taken from one by a receiver killed before its
 * receive), in which case the parent receives it back and frees it.
 * Nothing else is possible, and nothing is left unreachable.
 */
Test(slab_mp, receiver_killed_during_handovers, .timeout = 60)
{
    char name[64];
    cortex_slab *s = make(name, "hokill");
    _Atomic uint64_t *box = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)box, MAP_FAILED);
    _Atomic int *bad = (_Atomic int *)(box + SLOTS), *ready = bad + 1;
    enum { MAX_SENT = SLOTS + 1500 };
    cortex_handle *sent = malloc(MAX_SENT * sizeof *sent);
    cr_assert_not_null(sent);
    int rounds = 12 * nct_scale();
    unsigned seed = (unsigned)getpid();
    long received_total = 0, recovered_total = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < SLOTS; i++)
            atomic_store(&box[i], 0);
        atomic_store(ready, 0);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            atomic_store(ready, 1);
            for (unsigned i = 0, n = 0;; i = (i + 1) % SLOTS) {
                if (++n % 4096 == 0 && getppid() != parent)
                    _exit(1); /* the test died under us: do not spin forever */
                cortex_handle h = atomic_exchange(&box[i], 0), mine = h;
                if (!h)
                    continue;
                const struct stamp *st;
                if (cortex_slab_receive(s, &mine) != 0 || !(st = cortex_slab_get(s, mine)) || st->owner != h ||
                    cortex_slab_get(s, h) != NULL || cortex_slab_free(s, h) != -ESTALE ||
                    cortex_slab_free(s, mine) != 0)
                    atomic_store(bad, 1);
            }
        }
        while (!atomic_load(ready)) /* the window starts once the receiver runs */
            sched_yield();
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        /* the kill lands after a random number of sends (the receiver has to keep up), or 3 s */
        int64_t until = ts.tv_sec * 1000000000LL + ts.tv_nsec + 3000000000LL;
        size_t nsent = 0, target = SLOTS + (size_t)(rand_r(&seed) % 1500);
        while (nsent < target) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            if (ts.tv_sec * 1000000000LL + ts.tv_nsec >= until)
                break;
            cortex_handle h;
            int rc = cortex_slab_alloc(s, &h);
            if (rc == -ENOSPC) {
                sched_yield(); /* the receiver frees them: let it run */
                continue;
            }
            cr_assert_eq(rc, 0, "%s", cortex_last_error()->message);
            struct stamp *st = cortex_slab_get(s, h);
            st->owner = h;
            cr_assert_eq(cortex_slab_send(s, h), 0);
            sent[nsent++] = h;
            /* a free box exists: at most SLOTS - 1 other slots are allocated or in flight */
            for (unsigned i = 0;; i = (i + 1) % SLOTS) {
                uint64_t zero = 0;
                if (atomic_compare_exchange_strong(&box[i], &zero, h))
                    break;
            }
        }
        kill(pid, SIGKILL);
        cr_assert_eq(nct_wait(pid, 5000), 128 + SIGKILL, "round %d: the receiver ended by itself", r);
        cr_assert_eq(atomic_load(bad), 0, "round %d: the receiver saw a wrong slot or a live sender's copy", r);
        int reclaimed = cortex_slab_reclaim(s, 0);
        cr_assert_geq(reclaimed, 0, "%s", cortex_last_error()->message);
        cr_assert_leq(reclaimed, 1, "round %d: the receiver held %d slots (it holds one at a time)", r, reclaimed);
        cortex_slab_stats stats;
        cr_assert_eq(cortex_slab_stats_get(s, &stats), 0);
        cr_assert_eq(stats.allocated, 0, "round %d: allocated slots left after reclaim", r);
        int in_boxes = 0;
        for (int i = 0; i < SLOTS; i++)
            in_boxes += atomic_load(&box[i]) != 0;
        /* every handle ever sent: stale (received) or still in flight (then ours to take back) */
        int recovered = 0;
        for (size_t k = 0; k < nsent; k++) {
            cortex_handle back = sent[k];
            int rc = cortex_slab_receive(s, &back);
            if (rc == 0) {
                cr_assert_eq(cortex_slab_free(s, back), 0);
                recovered++;
            } else {
                cr_assert_eq(rc, -ESTALE, "round %d: sent handle %zu: %d (%s)", r, k, rc,
                             cortex_last_error()->message);
            }
        }
        cr_assert(recovered == in_boxes || recovered == in_boxes + 1,
                  "round %d: %d slots still in flight, %d of them in boxes (one may have been taken by the "
                  "killed receiver before its receive)", r, recovered, in_boxes);
        cr_log_info("round %d: sent %zu, reclaimed %d, in boxes %d, recovered %d", r, nsent, reclaimed, in_boxes,
                    recovered);
        received_total += (long)nsent - recovered;
        recovered_total += recovered;
        cr_assert_eq(walk_free_list(s), SLOTS, "round %d: the free list does not reach every slot once", r);
        cr_assert_eq(cortex_slab_repair(s), 0, "round %d: unreachable free slots", r);
        assert_all_free(s);
    }
    cr_log_info("%d rounds: %ld slots handed over, %ld taken back from the mailbox", rounds, received_total,
                recovered_total);
    cr_assert_gt(received_total, 0, "no hand-over completed: the test proved nothing");
    free(sent);
    munmap((void *)box, 4096);
    cortex_slab_close(s);
}
