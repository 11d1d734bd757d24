/* SPDX-License-Identifier: MIT */
/*
 * tests/support/nct_proc.h: process shapes the liveness tests need (header
 * only, plain code: usable in forked children).
 *
 *   nct_keep_alive_and_exit_main()  start a thread that sleeps forever, then
 *                                   pthread_exit() the main thread: the
 *                                   process lives on, its main thread in Z
 *   nct_wait_main_zombie(pid, ms)   until /proc/PID/stat says Z (true) or ms pass
 *   nct_unshare_works()             `unshare --pid --fork true` runs here
 *   nct_run_unshared(argv)          runs argv under `unshare --pid --fork`, exit status
 */
#ifndef NCT_PROC_H
#define NCT_PROC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

static void *nct_sleeper_(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static inline void nct_keep_alive_and_exit_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test must not leave it running */
    pthread_t t;
    if (pthread_create(&t, NULL, nct_sleeper_, NULL) != 0)
        _exit(90);
    pthread_exit(NULL);
}

static inline bool nct_wait_main_zombie(pid_t pid, int ms)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < ms; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            char *p = strrchr(buf, ')');
            if (p && p[1] == ' ' && p[2] == 'Z')
                return true;
        }
        usleep(1000);
    }
    return false;
}

static inline int nct_run_unshared(const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        const char *args[16] = {"unshare", "--pid", "--fork"};
        int n = 3;
        for (int i = 0; argv[i] && n < 15; i++)
            args[n++] = argv[i];
        args[n] = NULL;
        execvp("unshare", (char *const *)args);
        _exit(127);
    }
    return nct_wait(pid, 20000);
}

static inline bool nct_unshare_works(void)
{
    const char *argv[] = {"true", NULL};
    return nct_run_unshared(argv) == 0;
}

#endif
