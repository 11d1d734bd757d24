/* SPDX-License-Identifier: MIT */
/*
 * tests/support/nctest.h: helpers every test uses.
 *
 * Unique keys and names per test process (pid-based, so tests run in
 * parallel), a registry of what a test made so that its fini removes it
 * even when an assertion failed, and fork/exec helpers whose children
 * report through their exit status (never cr_assert in a child).
 */
#ifndef NCTEST_H
#define NCTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Prefix of every POSIX name and file the tests make; leftovers looks for it. */
#define NCT_PREFIX "nct-"

/* NCT_ASAN: 1 in an AddressSanitizer build, else 0. */
#if defined(__SANITIZE_ADDRESS__)
#define NCT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NCT_ASAN 1
#endif
#endif
#ifndef NCT_ASAN
#define NCT_ASAN 0
#endif

/* A SysV key unique to this process and call (never 0), tracked for cleanup. */
int nct_sysv_key(void);
/* "/nct-<pid>-<n>-<tag>" into buf (>= 64 bytes), tracked for cleanup. */
const char *nct_name(char *buf, const char *tag);
/* "/tmp/nct-<pid>-<n>-<tag>" into buf (>= 96 bytes), tracked for cleanup. */
const char *nct_path(char *buf, const char *tag);
/* Removes every tracked object still in the system (segment, semaphore, name, file). */
void nct_cleanup(void);

/* Iteration multiplier from NCTEST_SCALE (the stress_scale option); >= 1. */
int nct_scale(void);

/* Waits for pid; returns its exit status, or 128+signal, or -1. Bounded by timeout_ms (then SIGKILL, -2). */
int nct_wait(pid_t pid, int timeout_ms);

/* Path of a helper program built next to the tests (for exec). */
const char *nct_helper_path(const char *name);

/* Count of open fds in this process (/proc/self/fd). */
int nct_count_fds(void);

/* Milliseconds of monotonic time. */
int64_t nct_now_ms(void);

/*
 * Nanoseconds the calling thread has spent runnable but kept off the CPU by
 * the scheduler (run queue, cgroup throttling), from /proc/thread-self/schedstat;
 * -1 where the kernel does not keep it.  The difference of two readings taken
 * around a wait is the part of its wall-clock time no library code can cause.
 */
int64_t nct_run_delay_ns(void);
/* The same for process @pid (its main thread; a zombie's too, until it is reaped). */
int64_t nct_run_delay_of(pid_t pid);
/* The run-queue time between two such readings: @p after - @p before, 0 if either is unknown (-1). */
int64_t nct_run_delay_between(int64_t before, int64_t after);

#endif
