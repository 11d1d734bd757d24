/* SPDX-License-Identifier: MIT */
/*
 * A reclaimer killed between its CAS of a dead owner's slot to FREEING and
 * the push that links it: the next reclaim links the slot (it is FREEING
 * under the dead reclaimer's table id), no repair() needed.  The window is
 * opened with a test-build hook (-DCORTEX_SLAB_TEST_HOOKS) that kills the
 * reclaimer there.  Exit 0: every slot can be allocated again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slab/slab_internal.h"

enum { N = 4 };

static void die_here(cortex_slab *s)
{
    (void)s;
    raise(SIGKILL);
}

static int run(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
    size_t len = cortex_slab_required_size(N, 16, 8);
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 2;
    cortex_slab *s;
    if (cortex_slab_init(&s, mem, len, N, 16, 8) < 0)
        return 2;
    /* A process takes two slots and dies. */
    pid_t owner = fork();
    if (owner == 0) {
        cortex_slab *c;
        cortex_handle h;
        if (cortex_slab_attach_raw(&c, mem, len, 16, 8) < 0 || cortex_slab_alloc(c, &h) < 0 ||
            cortex_slab_alloc(c, &h) < 0)
            _exit(1);
        _exit(0);
    }
    if (run(owner) != 0) {
        cortex_slab_close(s);
        return 2;
    }
    /* A reclaimer is killed right after it marks the first slot FREEING, before linking it. */
    pid_t reclaimer = fork();
    if (reclaimer == 0) {
        cortex_slab *c;
        if (cortex_slab_attach_raw(&c, mem, len, 16, 8) < 0)
            _exit(1);
        cortex__slab_hook_reclaim_before_push = die_here;
        cortex_slab_reclaim(c, 0);
        _exit(3);
    }
    int rc = run(reclaimer);
    if (rc != 128 + SIGKILL) {
        printf("reclaimer ended with %d, not SIGKILL in the window\n", rc);
        cortex_slab_close(s);
        return 3;
    }
    /* The next reclaim (no repair) must bring back both slots. */
    int n = cortex_slab_reclaim(s, 0);
    cortex_handle h[N];
    int got = 0;
    while (got < N && cortex_slab_alloc(s, &h[got]) == 0)
        got++;
    printf("second reclaim freed %d; %d of %d slots allocatable\n", n, got, N);
    cortex_slab_close(s); /* the handle's memory (LeakSanitizer checks it) */
    munmap(mem, len);
    if (got != N) {
        printf("FAIL: a slot the killed reclaimer had marked FREEING is unreachable\n");
        return 1;
    }
    return 0;
}
