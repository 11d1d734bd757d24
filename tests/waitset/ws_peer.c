/* SPDX-License-Identifier: MIT */
/*
 * ws-peer KEY COUNT DELAY_US FIRST [hold]: an exec'd producer for the waitset
 * tests.  Attaches as the producer of the ring at SysV KEY, pushes COUNT
 * values FIRST, FIRST+1, ... DELAY_US apart, then closes the ring (or, with
 * "hold", stays attached until it is killed).  Exit 0 on success.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ws_util.h"

int main(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    int key = atoi(argv[1]);
    long count = atol(argv[2]), delay = atol(argv[3]);
    uint64_t first = strtoull(argv[4], NULL, 10);
    ws_ring r;
    if (ws_ring_attach(&r, CORTEX_KEY_SYSV(key), CORTEX_PRODUCER, NULL) != 0)
        return 3;
    for (long i = 0; i < count; i++) {
        if (delay)
            usleep((useconds_t)delay);
        if (ws_ring_push_wait(&r, first + (uint64_t)i, 10 * WS_SEC) != 0)
            return 4;
    }
    if (argc > 5 && strcmp(argv[5], "hold") == 0)
        for (;;)
            pause();
    return ws_ring_close(&r) == 0 ? 0 : 5;
}
