/* SPDX-License-Identifier: MIT */
/*
 * The set grows while the fd's watcher polls: a waitset with a pipe as its
 * first source and its fd in use (the watcher thread polls a copy of the
 * fds it takes under the waitset's mutex every CORTEX_WAITSET_SLICE_NS),
 * then fd sources added one by one, with pauses that let the watcher take
 * its copy between two adds, until the arrays were grown several times.
 * An add that grows the arrays must not free the ones the watcher copies
 * from while it may still read them: under ThreadSanitizer a free that no
 * lock orders after the watcher's read is a data race (the build fails).
 * Every add must succeed, and the fd must still report a ready pipe.
 * Exit 0 = pass.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "nctest.h"
#include "ws_util.h"

#define NFD 40

int main(void)
{
    int p[2];
    cortex_waitset *ws = NULL;
    int rc = 0;
    if (pipe(p) != 0 || cortex_waitset_create(&ws) != 0)
        return 2;
    if (cortex_waitset_add_fd(ws, p[0], POLLIN, 0) != 0 || cortex_waitset_fd(ws) < 0)
        rc = 3;
    for (int i = 1; i <= NFD && rc == 0; i++) {
        ws_sleep_ms(3); /* the watcher takes its copy of the fds at least once */
        if (cortex_waitset_add_fd(ws, p[0], POLLIN, (uint64_t)i) != 0)
            rc = 4;
    }
    if (rc == 0 && write(p[1], "x", 1) != 1)
        rc = 5;
    struct pollfd q = {.fd = cortex_waitset_fd(ws), .events = POLLIN};
    if (rc == 0 && poll(&q, 1, 10000) != 1)
        rc = 6;
    cortex_waitset_event ev[NFD + 1];
    if (rc == 0 && cortex_waitset_wait(ws, ev, NFD + 1, 0) != NFD + 1)
        rc = 7;
    cortex_waitset_destroy(ws);
    close(p[0]);
    close(p[1]);
    nct_cleanup();
    if (rc != 0)
        fprintf(stderr, "tsan-waitset-grow: failed with %d (%s)\n", rc, cortex_last_error()->message);
    return rc;
}
