/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/subscriber.c: attaches to the publisher's pose cell, sleeps
 * until a new pose is written (pose_cell_wait) and reads it, until it sees
 * the last pose, checking that no read is torn and time never goes back.
 *
 *   cell-subscriber /name count [ready-fd]
 */
#include "pose.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int whole(const pose *p)
{
    uint64_t s = p->stamp;
    return p->x == (double)s && p->y == s * 0.5 && p->z == s * 0.25 && p->yaw == s * 0.125 && p->check == s * 3;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cell-subscriber /name count\n");
        return 2;
    }
    uint64_t last = (uint64_t)atoll(argv[2]);
    pose_cell cell;
    cortex_opts o = CORTEX_OPTS_INIT;
    o.attach_timeout_ns = 5000000000; /* the publisher made it before starting us; be patient anyway */
    int rc = pose_cell_attach(&cell, CORTEX_KEY_NAME(argv[1]), &o);
    if (rc < 0) {
        fprintf(stderr, "subscriber: attach %s: %s\n", argv[1], cortex_last_error()->message);
        return 1;
    }
    if (argc > 3) { /* tell the publisher we are attached */
        int fd = atoi(argv[3]);
        if (write(fd, "r", 1) != 1)
            perror("subscriber: ready");
        close(fd);
    }
    /* Sleep until the publisher writes (pose_cell_wait), then read what is newest: no polling. */
    uint64_t reads = 0, seen = 0, prev = 0, version = 0, wakes = 0;
    pose p;
    for (rc = pose_cell_read_version(&cell, &p, &version); rc == 0;
         rc = pose_cell_read_version(&cell, &p, &version)) {
        if (!whole(&p)) {
            fprintf(stderr, "subscriber: torn pose at stamp %llu\n", (unsigned long long)p.stamp);
            return 1;
        }
        if (p.stamp < prev) {
            fprintf(stderr, "subscriber: time went back: %llu after %llu\n", (unsigned long long)p.stamp,
                    (unsigned long long)prev);
            return 1;
        }
        seen += p.stamp != prev;
        prev = p.stamp;
        reads++;
        if (p.stamp == last)
            break;
        if ((rc = pose_cell_wait(&cell, &version, 10000000000)) < 0) /* 10 s without a pose: give up */
            break;
        wakes++;
    }
    if (rc < 0) {
        fprintf(stderr, "subscriber: %s\n", cortex_last_error()->message);
        return 1;
    }
    printf("subscriber: %llu reads after %llu waits, %llu distinct poses, none torn\n", (unsigned long long)reads,
           (unsigned long long)wakes, (unsigned long long)seen);
    pose_cell_close(&cell); /* an attacher only detaches */
    return 0;
}
