/* SPDX-License-Identifier: MIT */
/*
 * examples/spawn/worker.c: the plugin side.  Picks up the segment and the
 * doorbell its host handed over (cortex_child_attach), then answers jobs
 * until the host says it is done or goes away.
 */
#include "job.h"

#include <ctype.h>
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    cortex_doorbell bell;
    cortex_region *seg = NULL;
    cortex_layout layout = job_layout();
    int rc = cortex_child_attach(argc, argv, &bell, &seg, &layout, NULL);
    if (rc < 0) {
        fprintf(stderr, "spawn-worker: %s\n", cortex_last_error()->message);
        return 2;
    }
    job *j = cortex_region_payload(seg);
    uint64_t done = 0;
    int status = 0;
    for (;;) {
        uint64_t seq = atomic_load_explicit(&j->request, memory_order_acquire);
        if (seq == JOB_DONE)
            break;
        if (seq == done) {
            /* Nothing new: sleep in the doorbell (it consumes the ring before we look again). */
            rc = cortex_doorbell_wait(&bell, -1);
            if (rc == -EPIPE) {
                fprintf(stderr, "spawn-worker: the host is gone\n");
                status = 1;
                break;
            }
            continue;
        }
        /* The segment is shared memory: never trust a length read from it. */
        uint32_t len = j->len > JOB_TEXT_MAX ? JOB_TEXT_MAX : j->len;
        uint64_t lines = 0, words = 0;
        int in_word = 0;
        for (uint32_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)j->text[i];
            lines += c == '\n';
            if (isspace(c))
                in_word = 0;
            else if (!in_word) {
                in_word = 1;
                words++;
            }
            j->text[i] = (char)toupper(c);
        }
        j->lines = lines;
        j->words = words;
        j->bytes = len;
        atomic_store_explicit(&j->answered, seq, memory_order_release);
        cortex_doorbell_signal(&bell);
        done = seq;
    }
    cortex_doorbell_close(&bell);
    cortex_region_close(seg);
    return status;
}
