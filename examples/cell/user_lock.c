/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/user_lock.c: a cell locked by a user-supplied backend (a
 * process-shared robust pthread mutex, robust_mutex_lock.c).  Two processes
 * add to one counter; one of them dies holding the lock; the other goes on.
 */
#define _GNU_SOURCE
#include "robust_mutex_lock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

CORTEX_DECLARE(counter, uint64_t);

static void add(uint64_t *v, void *ctx) { *v += *(uint64_t *)ctx; }

static void die_inside(uint64_t *v, void *ctx)
{
    (void)v;
    (void)ctx;
    raise(SIGKILL); /* holding the lock, before the value is written back */
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/neocortex-example-userlock-%d", (int)getpid());
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &example_robust_mutex_lock; /* creator and attachers pass the same ops */

    counter c;
    if (counter_create(&c, CORTEX_KEY_NAME(name), 0, &o) < 0) {
        fprintf(stderr, "create: %s\n", cortex_last_error()->message);
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        counter mine;
        if (counter_attach(&mine, CORTEX_KEY_NAME(name), &o) < 0)
            _exit(1);
        uint64_t one = 1;
        for (int i = 0; i < 1000; i++)
            counter_update(&mine, add, &one);
        counter_update(&mine, die_inside, NULL); /* never returns */
        _exit(2);
    }
    uint64_t one = 1;
    for (int i = 0; i < 1000; i++)
        counter_update(&c, add, &one);
    int st;
    waitpid(pid, &st, 0);
    /* The robust mutex reported the death to whoever locked next; the value was never torn
     * (update works on a copy), so the cell stays consistent. */
    uint64_t v = 0;
    int rc = counter_read(&c, &v);
    printf("user lock '%s': child %s, counter = %llu (expected 2000), read: %s\n", example_robust_mutex_lock.name,
           WIFSIGNALED(st) ? "killed inside update" : "exited", (unsigned long long)v, cortex_strerror(rc));
    counter_close(&c);
    return rc == 0 && v == 2000 ? 0 : 1;
}
