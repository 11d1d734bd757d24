/* SPDX-License-Identifier: MIT */
/*
 * examples/spawn/host.c: starts a worker program the way a host starts a
 * plugin, with a memfd segment and a doorbell already handed over, and
 * sends it a text chunk by chunk.  The worker counts and upper-cases each
 * chunk in the segment; the host prints the result and the totals.
 *
 *   spawn-host [FILE]        (default: a short built-in text)
 *
 * The worker is found next to this program (spawn-worker).  Kill the
 * worker while it runs (kill -9) and the host reports it at once instead of
 * hanging: the doorbell tells the host that its peer is gone.
 */
#define _GNU_SOURCE
#include "job.h"

#include <errno.h>
#include <limits.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char builtin[] =
    "Shared memory is fast because nothing is copied through the kernel.\n"
    "A doorbell wakes the other side when there is something to look at,\n"
    "and tells you when the other side is gone.\n";

static int fail(const char *what, int rc)
{
    fprintf(stderr, "spawn-host: %s: %s (%s)\n", what, cortex_last_error()->message, cortex_errname(rc));
    return 1;
}

/* Path of spawn-worker in the directory of this program. */
static void worker_path(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        slash[1] = '\0';
    snprintf(out, len, "%sspawn-worker", n > 0 ? self : "./");
}

int main(int argc, char **argv)
{
    /* The text to process. */
    char *text = (char *)builtin;
    size_t text_len = sizeof builtin - 1;
    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        static char buf[1 << 20];
        text_len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        text = buf;
    }

    /* A memfd segment for the job slot: no name in the system, gone when the last holder closes it. */
    cortex_region *seg = NULL;
    cortex_layout layout = job_layout();
    int rc = cortex_region_create(&seg, CORTEX_KEY_MEMFD("spawn-example"), &layout, NULL, NULL, NULL);
    if (rc < 0)
        return fail("create the segment", rc);
    job *j = cortex_region_payload(seg);

    /* Start the worker with the segment and its end of a doorbell handed over. */
    char path[PATH_MAX + 16];
    worker_path(path, sizeof path);
    char *wargv[] = {path, NULL};
    pid_t pid;
    cortex_doorbell bell;
    rc = cortex_spawn(&pid, &bell, path, wargv, NULL, cortex_region_fd(seg));
    if (rc < 0) {
        cortex_region_close(seg);
        return fail("start the worker", rc);
    }

    uint64_t seq = 0, lines = 0, words = 0, bytes = 0;
    int status = 0;
    for (size_t off = 0; off < text_len;) {
        size_t n = text_len - off < JOB_TEXT_MAX ? text_len - off : JOB_TEXT_MAX;
        /* End a full chunk after its last space, so that no word is counted in two chunks. */
        size_t cut = n;
        while (n == JOB_TEXT_MAX && cut > 0 && text[off + cut - 1] != ' ' && text[off + cut - 1] != '\n')
            cut--;
        if (cut > 0)
            n = cut;
        memcpy(j->text, text + off, n);
        j->len = (uint32_t)n;
        atomic_store_explicit(&j->request, ++seq, memory_order_release);
        cortex_doorbell_signal(&bell);
        /* Sleep until the worker has answered this chunk (or is gone). */
        while (atomic_load_explicit(&j->answered, memory_order_acquire) != seq) {
            rc = cortex_doorbell_wait(&bell, 5 * INT64_C(1000000000));
            if (rc == -EPIPE) {
                fprintf(stderr, "spawn-host: the worker is gone (chunk %llu unanswered)\n",
                        (unsigned long long)seq);
                status = 1;
                goto out;
            }
            if (rc == -ETIMEDOUT) {
                fprintf(stderr, "spawn-host: the worker is alive but silent for 5 s\n");
                status = 1;
                goto out;
            }
        }
        fwrite(j->text, 1, j->len, stdout);
        lines += j->lines;
        words += j->words;
        bytes += j->bytes;
        off += n;
    }
    printf("-- %llu chunk(s): %llu lines, %llu words, %llu bytes (counted by worker pid %d)\n",
           (unsigned long long)seq, (unsigned long long)lines, (unsigned long long)words,
           (unsigned long long)bytes, (int)pid);
    atomic_store_explicit(&j->request, JOB_DONE, memory_order_release);
    cortex_doorbell_signal(&bell);

out:
    cortex_doorbell_close(&bell); /* a worker still waiting learns that the host is gone */
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        status = 1;
    cortex_region_close(seg);
    return status;
}
