/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/subscriber.c: attaches to the publisher's pose cell and
 * reads until it sees the last pose, checking that no read is torn.
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
    uint64_t reads = 0, seen = 0, prev = 0;
    pose p;
    do {
        if ((rc = pose_cell_read(&cell, &p)) < 0) {
            fprintf(stderr, "subscriber: read: %s\n", cortex_last_error()->message);
            return 1;
        }
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
    } while (p.stamp != last);
    printf("subscriber: %llu reads, %llu distinct poses, none torn\n", (unsigned long long)reads,
           (unsigned long long)seen);
    pose_cell_close(&cell); /* an attacher only detaches */
    return 0;
}
