/* SPDX-License-Identifier: MIT */
/*
 * ring-consumer NAME [COUNT]: creates a ring of `struct tick` under the POSIX
 * shm name NAME (e.g. /ticks), then pops with pop_wait until the producer
 * closes (-EPIPE) or COUNT ticks arrived.  Run ring-producer NAME in another
 * terminal.  The consumer owns the segment: closing it removes the name.
 */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>

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
    long long count = argc > 2 ? atoll(argv[2]) : -1;
    tick_ring r;
    int rc = tick_ring_create(&r, CORTEX_KEY_NAME(argv[1]), 4096, CORTEX_CONSUMER, NULL);
    if (rc < 0) {
        fprintf(stderr, "create %s: %s: %s\n", argv[1], cortex_strerror(rc), cortex_last_error()->message);
        return 1;
    }
    long long got = 0;
    double sum = 0;
    struct tick t;
    while (count < 0 || got < count) {
        rc = tick_ring_pop_wait(&r, &t, 30 * INT64_C(1000000000)); /* 30 s without a tick: give up */
        if (rc == -EPIPE)
            break; /* the producer closed (or died) and everything it sent was read */
        if (rc < 0) {
            fprintf(stderr, "pop_wait: %s: %s\n", cortex_strerror(rc), cortex_last_error()->message);
            tick_ring_close(&r);
            return 1;
        }
        if (t.seq != (uint64_t)got) {
            fprintf(stderr, "tick %llu arrived as number %lld\n", (unsigned long long)t.seq, got);
            tick_ring_close(&r);
            return 1;
        }
        sum += t.price;
        got++;
    }
    printf("consumer: %lld ticks, mean price %.3f\n", got, got ? sum / (double)got : 0.0);
    tick_ring_close(&r);
    return 0;
}
