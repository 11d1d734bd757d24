/* SPDX-License-Identifier: MIT */
/*
 * examples/spawn/job.h: what the host and its worker share.  The segment
 * holds one job slot: the host writes a chunk of text and publishes its
 * sequence number; the worker counts its lines, words and bytes, writes
 * the chunk back in upper case and publishes the same number.  Each side
 * rings the doorbell after publishing and sleeps in it while waiting.
 */
#ifndef EXAMPLE_SPAWN_JOB_H
#define EXAMPLE_SPAWN_JOB_H

#include <neocortex.h>
#include <stdatomic.h>
#include <stdint.h>

#define JOB_TEXT_MAX 4096u

typedef struct job {
    _Atomic uint64_t request;  /* sequence of the last chunk the host published; UINT64_MAX: done */
    _Atomic uint64_t answered; /* sequence of the last chunk the worker finished */
    uint32_t len;              /* bytes in text */
    uint32_t pad;
    uint64_t lines, words, bytes; /* the worker's counts for this chunk */
    char text[JOB_TEXT_MAX];      /* in: the chunk; out: the chunk upper-cased */
} job;

#define JOB_DONE UINT64_MAX

static inline cortex_layout job_layout(void)
{
    cortex_layout l = {.kind = CORTEX_KIND_RAW, .payload_size = sizeof(job), .elem_size = sizeof(job),
                       .elem_align = _Alignof(job), .type_name = "example_spawn_job"};
    return l;
}

#endif
