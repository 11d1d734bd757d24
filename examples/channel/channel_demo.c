/* SPDX-License-Identifier: MIT */
/*
 * channel-demo [COUNT]: zero-copy messages of 64 B to 64 KiB between two
 * processes through a channel.  The parent creates the channel as the
 * producer and forks; the child attaches as the consumer.  Small messages
 * are written in place in the loaned slot; large ones are built in a local
 * buffer and copied in with cortex_channel_copy_in() (publish_copy), which
 * is faster than ordinary stores in place on hosts where cache lines move
 * slowly between cores (docs/channel.md).  The consumer checks every byte
 * of every message and says how many arrived.
 */
#include <neocortex.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

CHANNEL_VAR_DECLARE(blob_ch, uint64_t);

static const int64_t SEC = 1000000000;

/* Message i holds words(i) words; word k of it is tag(i, k). */
static size_t words(uint64_t i) { return (size_t)8 << (i % 11); } /* 64 B .. 64 KiB */
static uint64_t tag(uint64_t i, size_t k) { return i * 0x9e3779b97f4a7c15u + k; }

static int consume(const char *name, uint64_t count)
{
    blob_ch c;
    if (blob_ch_attach(&c, CORTEX_KEY_NAME(name), CORTEX_CONSUMER, NULL) < 0) {
        fprintf(stderr, "consumer: %s\n", cortex_last_error()->message);
        return 1;
    }
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < count; i++) {
        const uint64_t *m;
        size_t n;
        if (blob_ch_take_wait(&c, &m, &n, 10 * SEC) < 0) {
            fprintf(stderr, "consumer: message %llu: %s\n", (unsigned long long)i, cortex_last_error()->message);
            return 1;
        }
        if (n != words(i)) {
            fprintf(stderr, "consumer: message %llu has %zu words, expected %zu\n", (unsigned long long)i, n,
                    words(i));
            return 1;
        }
        for (size_t k = 0; k < n; k++)
            if (m[k] != tag(i, k)) {
                fprintf(stderr, "consumer: message %llu word %zu is wrong\n", (unsigned long long)i, k);
                return 1;
            }
        bytes += n * 8;
        blob_ch_release(&c, m);
    }
    printf("consumer: %llu messages, %llu bytes, all intact\n", (unsigned long long)count,
           (unsigned long long)bytes);
    fflush(stdout); /* the child leaves with _exit() */
    return blob_ch_close(&c) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000;
    char name[64];
    snprintf(name, sizeof name, "/nct-channel-demo-%d", (int)getpid());
    /* Size classes: 64 B to 64 KiB, the ring has room for every slot. */
    cortex_pool_class classes[] = {{512, 64}, {8192, 32}, {65536, 8}};
    blob_ch p;
    if (blob_ch_create(&p, CORTEX_KEY_NAME(name), classes, 3, CORTEX_PRODUCER, NULL) < 0) {
        fprintf(stderr, "producer: %s\n", cortex_last_error()->message);
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        blob_ch_close(&p);
        return 1;
    }
    if (pid == 0)
        _exit(consume(name, count));
    uint64_t *local = malloc(65536);
    int ok = local != NULL;
    for (uint64_t i = 0; ok && i < count; i++) {
        size_t n = words(i);
        if (n * 8 < 4096) { /* small: write in place */
            uint64_t *m;
            ok = blob_ch_loan_wait(&p, n, &m, 10 * SEC) == 0;
            for (size_t k = 0; ok && k < n; k++)
                m[k] = tag(i, k);
            ok = ok && blob_ch_publish(&p, m, n) == 0;
        } else { /* large: build locally, copy in with the fastest stores */
            for (size_t k = 0; k < n; k++)
                local[k] = tag(i, k);
            ok = blob_ch_publish_copy(&p, local, n, 10 * SEC) == 0;
        }
        if (!ok)
            fprintf(stderr, "producer: message %llu: %s\n", (unsigned long long)i, cortex_last_error()->message);
    }
    free(local);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("producer: %llu messages published\n", (unsigned long long)count);
    blob_ch_close(&p);
    return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
