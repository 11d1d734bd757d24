/* SPDX-License-Identifier: MIT */
/*
 * ring-producer NAME [COUNT]: attaches to the ring ring-consumer created
 * under NAME (retrying for a few seconds while it does not exist yet), pushes
 * COUNT ticks (default 1000000) with push_wait, and closes: the consumer
 * drains what is left and then sees -EPIPE.
 */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct tick {
    uint64_t seq;
    double price;
};
SPSC_RING_DECLARE(tick_ring, struct tick);

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /name [count]\n", argv[0]);
        return 2;
    }
    long long count = argc > 2 ? atoll(argv[2]) : 1000000;
    tick_ring r;
    int rc;
    for (int tries = 0;; tries++) {
        rc = tick_ring_attach(&r, CORTEX_KEY_NAME(argv[1]), CORTEX_PRODUCER, NULL);
        if (rc != -ENOENT || tries == 500)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc < 0) {
        fprintf(stderr, "attach %s: %s: %s\n", argv[1], cortex_strerror(rc), cortex_last_error()->message);
        return 1;
    }
    for (long long i = 0; i < count; i++) {
        struct tick t = {(uint64_t)i, 100.0 + (double)(i % 7)};
        rc = tick_ring_push_wait(&r, t, 10 * INT64_C(1000000000));
        if (rc < 0) {
            fprintf(stderr, "push_wait: %s: %s\n", cortex_strerror(rc), cortex_last_error()->message);
            tick_ring_close(&r);
            return 1;
        }
    }
    printf("producer: %lld ticks sent\n", count);
    return tick_ring_close(&r) == 0 ? 0 : 1;
}
