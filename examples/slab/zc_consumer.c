/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy messaging, consumer side (started by zerocopy-producer):
 *
 *   zerocopy-consumer POOL_NAME RING_NAME COUNT
 *
 * Pops handles, takes each slot over (in flight -> ours), checks the
 * message in place (sequence, length, checksum) and frees the slot.
 */
#include "zc_common.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    long count = atol(argv[3]);
    cortex_pool *pool;
    handle_ring ring;
    if (cortex_pool_attach(&pool, CORTEX_KEY_NAME(argv[1]), NULL) < 0 ||
        handle_ring_attach(&ring, CORTEX_KEY_NAME(argv[2]), CORTEX_CONSUMER, NULL) < 0) {
        fprintf(stderr, "consumer: attach: %s\n", cortex_last_error()->message);
        return 1;
    }
    long seen = 0;
    int bad = 0;
    for (;;) {
        cortex_handle h;
        int rc = handle_ring_pop_wait(&ring, &h, 5000000000);
        if (rc < 0) {
            fprintf(stderr, "consumer: pop: %s\n", cortex_strerror(rc));
            bad = 1;
            break;
        }
        if (h == CORTEX_HANDLE_NULL)
            break;
        size_t cap;
        const struct zc_msg *m = NULL;
        /* receive swaps h for our own handle: the producer's copy is stale from now on */
        if (cortex_pool_receive(pool, &h) == 0)
            m = cortex_pool_get(pool, h, &cap);
        if (!m || m->seq != (uint64_t)(seen + 1) || m->len + sizeof *m > cap ||
            zc_sum((const unsigned char *)(m + 1), m->len) != m->sum) {
            fprintf(stderr, "consumer: message %ld is wrong\n", seen + 1);
            bad = 1;
            break;
        }
        seen++;
        cortex_pool_free(pool, h);
    }
    handle_ring_close(&ring);
    cortex_pool_close(pool);
    if (!bad && seen != count) {
        fprintf(stderr, "consumer: %ld of %ld messages\n", seen, count);
        bad = 1;
    }
    return bad;
}
