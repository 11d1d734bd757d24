/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/publisher.c: creates a pose cell, starts the subscriber
 * program (fork + exec) on the same name, publishes poses, and removes the
 * cell when it is done.
 *
 *   cell-publisher [count] [/name]
 */
#define _GNU_SOURCE
#include "pose.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pose make_pose(uint64_t stamp)
{
    pose p = {stamp, (double)stamp, stamp * 0.5, stamp * 0.25, stamp * 0.125, stamp * 3};
    return p;
}

int main(int argc, char **argv)
{
    char defname[64];
    snprintf(defname, sizeof defname, "/neocortex-example-pose-%d", (int)getpid());
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    const char *name = argc > 2 ? argv[2] : defname;

    pose_cell cell;
    int rc = pose_cell_create(&cell, CORTEX_KEY_NAME(name), make_pose(0), NULL);
    if (rc < 0) {
        fprintf(stderr, "publisher: create %s: %s (%s)\n", name, cortex_strerror(rc), cortex_last_error()->message);
        return 1;
    }

    /* The subscriber is another program, found next to this one. */
    char self[4096], sub[4200], countbuf[32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(sub, sizeof sub, "%s/cell-subscriber", self);
    snprintf(countbuf, sizeof countbuf, "%ld", count);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        perror("pipe2");
        pose_cell_close(&cell);
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(ready[1], 3); /* the subscriber writes a byte on fd 3 once attached (dup2 clears CLOEXEC) */
        execl(sub, "cell-subscriber", name, countbuf, "3", (char *)NULL);
        perror("exec cell-subscriber");
        _exit(127);
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1)
        fprintf(stderr, "publisher: subscriber did not start\n");
    close(ready[0]);

    for (long i = 1; i <= count; i++) {
        if ((rc = pose_cell_write(&cell, make_pose((uint64_t)i))) < 0) {
            fprintf(stderr, "publisher: write: %s\n", cortex_last_error()->message);
            break;
        }
        if (i % 1000 == 0)
            usleep(1000); /* a sensor's pace: the subscriber sleeps in pose_cell_wait meanwhile */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    pose_cell_close(&cell); /* the owner removes the segment */
    int ok = rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("publisher: %ld poses published, subscriber %s\n", count, ok ? "agreed" : "failed");
    return ok ? 0 : 1;
}
