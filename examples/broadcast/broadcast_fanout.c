/* SPDX-License-Identifier: MIT */
/*
 * broadcast-fanout [READERS [COUNT]]: one writer, READERS reader processes
 * (default 3; each an exec of this program) over a lossless broadcast ring
 * under a POSIX name.  The writer waits until every reader joined, publishes
 * COUNT sensor samples (default 100000) with push_wait and closes; each
 * reader checks that it received every sample in order, then sees -EPIPE.
 * Exits 0 when every reader did.
 *
 * broadcast-fanout --reader NAME COUNT is the reader side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sample {
    uint64_t seq;
    double celsius;
};
BROADCAST_DECLARE(sample_bc, struct sample);

static int reader(const char *name, uint64_t count)
{
    sample_bc b;
    int rc = sample_bc_join(&b, CORTEX_KEY_NAME(name), CORTEX_BROADCAST_NEWEST, NULL);
    if (rc < 0) {
        fprintf(stderr, "reader %d: join %s: %s\n", (int)getpid(), name, cortex_last_error()->message);
        return 1;
    }
    uint64_t next = 0;
    struct sample s;
    while ((rc = sample_bc_pop_wait(&b, &s, -1)) == 0) {
        if (s.seq != next) {
            fprintf(stderr, "reader %d: sample %llu, expected %llu\n", (int)getpid(), (unsigned long long)s.seq,
                    (unsigned long long)next);
            return 1;
        }
        next++;
    }
    sample_bc_close(&b);
    if (rc != -EPIPE || next != count) {
        fprintf(stderr, "reader %d: %s after %llu samples\n", (int)getpid(), cortex_strerror(rc),
                (unsigned long long)next);
        return 1;
    }
    printf("reader %d: %llu samples in order, then the writer closed\n", (int)getpid(), (unsigned long long)next);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--reader") == 0)
        return reader(argv[2], strtoull(argv[3], NULL, 10));
    int readers = argc > 1 ? atoi(argv[1]) : 3;
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    if (readers < 1 || readers > 64) {
        fprintf(stderr, "usage: %s [readers 1..64 [count]]\n", argv[0]);
        return 2;
    }
    char name[64], countstr[32];
    snprintf(name, sizeof name, "/nc-bcast-example-%d", (int)getpid());
    snprintf(countstr, sizeof countstr, "%llu", count);
    sample_bc w;
    if (sample_bc_create(&w, CORTEX_KEY_NAME(name), 1024, (uint32_t)readers, CORTEX_BROADCAST_LOSSLESS, NULL) < 0) {
        fprintf(stderr, "create %s: %s\n", name, cortex_last_error()->message);
        return 1;
    }
    pid_t kids[64];
    for (int i = 0; i < readers; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            execl("/proc/self/exe", argv[0], "--reader", name, countstr, (char *)NULL);
            _exit(127);
        }
    }
    /* Wait until every reader joined (a NEWEST reader only sees what comes after its join). */
    cortex_broadcast_info info;
    for (int tries = 0; tries < 1000; tries++) {
        if (cortex_broadcast_inspect(sample_bc_region(&w), &info) == 0 && info.readers == (uint32_t)readers)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    for (uint64_t i = 0; i < count; i++) {
        struct sample s = {i, 20.0 + (double)(i % 100) / 10.0};
        if (sample_bc_push_wait(&w, s, -1) < 0) {
            fprintf(stderr, "push: %s\n", cortex_last_error()->message);
            break;
        }
    }
    sample_bc_close(&w); /* readers drain, then get -EPIPE; the segment is removed */
    int failed = 0;
    for (int i = 0; i < readers; i++) {
        int st = 0;
        waitpid(kids[i], &st, 0);
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    printf("writer: %llu samples to %d readers, %d failed\n", count, readers, failed);
    return failed ? 1 : 0;
}
