/* SPDX-License-Identifier: MIT */
/*
 * A consumer of neocortex built as a subproject: creates a segment, has a
 * child process attach to it and answer, and checks the answer.
 */
#define _GNU_SOURCE
#include <neocortex.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, cortex_strerror(rc), cortex_last_error()->message);
    return 1;
}

typedef struct point {
    double x, y;
} point;

static int region_roundtrip(void)
{
    const cortex_layout layout = {.kind = CORTEX_KIND_RAW,
                                  .payload_size = sizeof(point),
                                  .elem_size = sizeof(point),
                                  .elem_align = _Alignof(point),
                                  .type_name = "point"};
    cortex_region *r = NULL;
    int rc = cortex_region_create(&r, CORTEX_KEY_SYSV_PRIVATE, &layout, NULL, NULL, NULL);
    if (rc < 0)
        return fail("create", rc);
    cortex_key key = cortex_region_key(r);
    pid_t pid = fork();
    if (pid == 0) {
        cortex_region *c = NULL;
        if (cortex_region_attach(&c, key, &layout, NULL) < 0)
            _exit(2);
        point p = {3.0, 4.0};
        memcpy(cortex_region_payload(c), &p, sizeof p);
        _exit(cortex_region_close(c) == 0 ? 0 : 3);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        cortex_region_close(r);
        fprintf(stderr, "consumer: child failed (status %d)\n", st);
        return 1;
    }
    point got;
    memcpy(&got, cortex_region_payload(r), sizeof got);
    if ((rc = cortex_region_close(r)) < 0)
        return fail("close", rc);
    if (got.x != 3.0 || got.y != 4.0) {
        fprintf(stderr, "consumer: read (%g, %g), expected (3, 4)\n", got.x, got.y);
        return 1;
    }
    printf("region: ok\n");
    return 0;
}

int main(void)
{
    printf("neocortex %s\n", CORTEX_VERSION_STRING);
    if (region_roundtrip() != 0)
        return 1;
    printf("consumer: all ok\n");
    return 0;
}
