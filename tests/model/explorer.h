/* SPDX-License-Identifier: MIT */
/*
 * tests/model/explorer.h: a small model checker for the C11 atomics of the
 * lock-free code ("a loom for C").
 *
 * Code built with -DCORTEX_MODEL routes every lib/atomic.h call to
 * explorer.c.  A scenario is a setup function, a thread function run by 1 to
 * 4 cooperative threads, and a check function; mc_explore() runs it once per
 * schedule until every schedule within the bounds has been tried, or until an
 * execution fails.  See explorer.c for what is modelled and what is not.
 */
#ifndef CORTEX_TESTS_MODEL_EXPLORER_H
#define CORTEX_TESTS_MODEL_EXPLORER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_MAX_THREADS 4 /* scenario threads, ids 1..4; id 0 runs setup and check */
#define MC_MAX_HISTORY 8 /* stores kept per location */
#define MC_WAITV_MAX 8   /* words one modelled futex_waitv takes */

typedef struct mc_scenario {
    const char *name;
    const char *what;        /* one line: what the scenario checks */
    int threads;             /* 1..MC_MAX_THREADS */
    void (*setup)(void);     /* thread 0, before the threads start: initialise ALL state */
    void (*thread)(int id);  /* run by threads 1..threads */
    void (*check)(void);     /* thread 0, after every thread finished */
    int preemptions;         /* preemption bound (default 2 when 0; -1 means 0) */
    int history;             /* stores a load may choose from per location (default 3) */
    int max_spins;           /* spin_hint calls per thread per execution before pruning (default 40) */
    long max_executions;     /* safety cap: hitting it fails the run as not exhaustive (default 5e6) */
    bool stall_timeout_is_lost_wakeup; /* a timed futex wait that only its timeout can end is an error */
    bool explore_timeouts;   /* a timed futex wait may also time out at once (an explored choice) */
    void (*report)(void);    /* optional: prints scenario counters after the exploration */
} mc_scenario;

typedef struct mc_result {
    long executions;         /* executions run (including the failing one) */
    long pruned;             /* executions cut by the spin or step bound */
    long slept;              /* executions in which some thread blocked in futex_wait */
    long max_depth;          /* most choice points in one execution */
    bool failed;
    bool complete;           /* every schedule within the bounds was explored */
    double seconds;
    char message[512];       /* the failure */
} mc_result;

/* Explores the scenario; prints the failing execution's trace unless quiet. */
void mc_explore(const mc_scenario *sc, bool quiet, mc_result *res);

/* Fails the current execution (from setup, a thread or check). */
void mc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define MC_ASSERT(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond))                                                                          \
            mc_fail("assertion `%s` failed at %s:%d: %s", #cond, __FILE__, __LINE__,          \
                    mc_fmt(__VA_ARGS__));                                                     \
    } while (0)

const char *mc_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Names a range of memory in traces (call from setup, every execution). */
void mc_name(const void *p, size_t n, const char *name);
/*
 * Marks a range whose plain accesses may race by design (a seqlock payload):
 * no race is reported there; instead each 8-byte chunk of a plain access is
 * its own step and reads may return any write they may legally see, so a
 * torn or stale value can be observed.  Call from setup.
 */
void mc_racy(const void *p, size_t n);
/* The id (0..4) of the running model thread. */
int mc_self(void);

/*
 * Command line driver for a list of scenarios (NULL-terminated):
 *   prog --list
 *   prog NAME [--expect-fail] [--bound N] [--history N] [--quiet] [--full-trace]
 * Exit 0: passed exhaustively (or, with --expect-fail, the checker found
 * the bug); 1 otherwise.
 */
int mc_main(int argc, char **argv, const mc_scenario *const *list);

#endif
