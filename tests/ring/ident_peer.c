/* SPDX-License-Identifier: MIT */
/*
 * ident_peer: an exec'd peer for the liveness tests (run directly, after an
 * exec() of a process that held a role, or under `unshare --pid --fork`).
 *
 *   ident_peer ring NAME producer|consumer   attach the ring (uint64_t) with that role
 *   ident_peer ring-back NAME VALUE          attach as producer, expect to take back the role
 *                                            this process held before its exec, push VALUE
 *   ident_peer slab NAME                     attach the slab (16-byte slots, align 8)
 *   ident_peer cell NAME                     attach the futex cell (int)
 *
 * Exit: 0 attached (and closed), 30 -EXDEV, 31 -EBUSY, 32 another error,
 * 33 took_over not reported as our pid, 2 usage.  The error goes to stderr.
 */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

CORTEX_DECLARE(peer_cell, int);

static int status(int rc)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "ident_peer: %s\n", cortex_last_error()->message);
    return rc == -EXDEV ? 30 : rc == -EBUSY ? 31 : 32;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    cortex_key key = CORTEX_KEY_NAME(argv[2]);
    if (!strcmp(argv[1], "ring") && argc == 4) {
        cortex_ring r;
        cortex_role role = !strcmp(argv[3], "producer") ? CORTEX_PRODUCER : CORTEX_CONSUMER;
        int rc = cortex_ring_attach(&r, key, sizeof(uint64_t), _Alignof(uint64_t), "uint64_t", role, NULL);
        if (rc == 0)
            cortex_ring_close(&r);
        return status(rc);
    }
    if (!strcmp(argv[1], "ring-back") && argc == 4) {
        cortex_ring r;
        int rc = cortex_ring_attach(&r, key, sizeof(uint64_t), _Alignof(uint64_t), "uint64_t", CORTEX_PRODUCER,
                                    NULL);
        if (rc < 0)
            return status(rc);
        if (r.took_over != (int32_t)getpid()) {
            fprintf(stderr, "ident_peer: took_over %d, expected our pid %d\n", (int)r.took_over, (int)getpid());
            cortex_ring_close(&r);
            return 33;
        }
        uint64_t v = strtoull(argv[3], NULL, 10);
        rc = cortex_ring_push(&r, &v);
        cortex_ring_close(&r);
        return status(rc);
    }
    if (!strcmp(argv[1], "slab")) {
        cortex_slab *s = NULL;
        int rc = cortex_slab_attach(&s, key, 16, 8, "ident16", NULL);
        if (rc == 0)
            cortex_slab_close(s);
        return status(rc);
    }
    if (!strcmp(argv[1], "cell")) {
        peer_cell c;
        cortex_opts o = {.lock = &cortex_sync_futex};
        int rc = peer_cell_attach(&c, key, &o);
        if (rc == 0)
            peer_cell_close(&c);
        return status(rc);
    }
    return 2;
}
