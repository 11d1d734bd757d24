/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy messaging between two processes, producer side.
 *
 *   zerocopy-producer [CONSUMER_PROGRAM [COUNT]]
 *
 * Creates a pool of size classes and a ring of handles, starts the consumer
 * program (fork + exec, passing the two segment names), then for each
 * message: allocates a slot of the size it needs, writes the message IN
 * PLACE in shared memory, marks the slot in flight and pushes only its
 * 8-byte handle.  The consumer pops the handle, takes the slot over, reads
 * the message in place and frees the slot.  No payload byte is copied.
 * A NULL handle ends the stream.  Exit 0 when the consumer saw every
 * message intact.
 */
#define _GNU_SOURCE
#include "zc_common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "producer: %s: %s (%s)\n", what, cortex_strerror(rc), cortex_last_error()->message);
    return 1;
}

int main(int argc, char **argv)
{
    char consumer[PATH_MAX];
    if (argc > 1) {
        snprintf(consumer, sizeof consumer, "%s", argv[1]);
    } else { /* next to this program */
        ssize_t n = readlink("/proc/self/exe", consumer, sizeof consumer - 32);
        if (n < 0)
            return 1;
        consumer[n] = '\0';
        char *slash = strrchr(consumer, '/');
        strcpy(slash ? slash + 1 : consumer, "zerocopy-consumer");
    }
    long count = argc > 2 ? atol(argv[2]) : 100000;

    char pool_name[64], ring_name[64];
    snprintf(pool_name, sizeof pool_name, "/neocortex-zc-%d-pool", (int)getpid());
    snprintf(ring_name, sizeof ring_name, "/neocortex-zc-%d-ring", (int)getpid());
    cortex_pool *pool;
    int rc = cortex_pool_create(&pool, CORTEX_KEY_NAME(pool_name), zc_classes, ZC_NCLASSES, NULL);
    if (rc < 0)
        return fail("pool", rc);
    handle_ring ring;
    if ((rc = handle_ring_create(&ring, CORTEX_KEY_NAME(ring_name), 256, CORTEX_PRODUCER, NULL)) < 0) {
        cortex_pool_close(pool);
        return fail("ring", rc);
    }

    char count_arg[32];
    snprintf(count_arg, sizeof count_arg, "%ld", count);
    pid_t pid = fork();
    if (pid == 0) {
        execl(consumer, consumer, pool_name, ring_name, count_arg, (char *)NULL);
        perror("exec consumer");
        _exit(127);
    }

    static const uint32_t sizes[] = {40, 3000, 60000}; /* one per class, in turn */
    int status = 0;
    for (long i = 1; i <= count && status == 0; i++) {
        uint32_t len = sizes[i % 3];
        cortex_handle h;
        while ((rc = cortex_pool_alloc(pool, sizeof(struct zc_msg) + len, &h)) == -ENOSPC)
            usleep(50); /* every slot of this size is in flight: the consumer frees them */
        if (rc < 0) {
            status = fail("alloc", rc);
            break;
        }
        struct zc_msg *m = cortex_pool_get(pool, h, NULL);
        unsigned char *payload = (unsigned char *)(m + 1);
        for (uint32_t k = 0; k < len; k++)
            payload[k] = (unsigned char)(i * 31 + k);
        m->seq = (uint64_t)i;
        m->len = len;
        m->sum = zc_sum(payload, len);
        if ((rc = cortex_pool_send(pool, h)) < 0 || (rc = handle_ring_push_wait(&ring, h, 5000000000)) < 0)
            status = fail("send", rc);
    }
    if (status == 0 && (rc = handle_ring_push_wait(&ring, CORTEX_HANDLE_NULL, 5000000000)) < 0)
        status = fail("end of stream", rc);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "producer: the consumer failed (status 0x%x)\n", st);
        status = 1;
    }
    handle_ring_close(&ring);
    cortex_pool_close(pool); /* owner: removes both segments */
    if (status == 0)
        printf("producer: %ld messages passed zero-copy\n", count);
    return status;
}
