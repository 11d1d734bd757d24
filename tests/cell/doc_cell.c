/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/doc_cell.c: every C snippet of docs/cells.md, compiled and run
 * (suite unit).  Keep the two in step: the doc quotes the blocks between
 * the "doc:" markers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../examples/cell/robust_mutex_lock.h"

/* doc: declare */
typedef struct telemetry {
    uint64_t frame;
    double speed, heading;
} telemetry;

CORTEX_DECLARE(telemetry_cell, telemetry);
/* end */

/* doc: update */
static void next_frame(telemetry *t, void *ctx)
{
    t->frame += 1;                 /* runs under the lock, on a private copy */
    t->speed = *(const double *)ctx;
}
/* end */

static int producer(telemetry_cell *c, const char *name)
{
    /* doc: create */
    int rc = telemetry_cell_create(c, CORTEX_KEY_NAME(name), (telemetry){0, 0.0, 0.0}, NULL);
    if (rc < 0) {
        fprintf(stderr, "create: %s (%s)\n", cortex_strerror(rc), cortex_last_error()->message);
        return rc;
    }
    rc = telemetry_cell_write(c, (telemetry){1, 12.5, 90.0});
    double speed = 13.0;
    if (rc == 0)
        rc = telemetry_cell_update(c, next_frame, &speed);  /* frame 2, speed 13 */
    /* end */
    return rc;
}

static int consumer(const char *name)
{
    /* doc: attach */
    telemetry_cell c;
    int rc = telemetry_cell_attach(&c, CORTEX_KEY_NAME(name), NULL);
    if (rc == -EPROTO) /* another type, size or lock: the message names both sides */
        fprintf(stderr, "%s\n", cortex_last_error()->message);
    if (rc < 0)
        return rc;
    telemetry t;
    rc = telemetry_cell_read(&c, &t);          /* no lock, no store to shared memory */
    if (rc == -EOWNERDEAD) {
        /* A writer died mid-write: t holds the value as it is, maybe torn.
         * Either replace it ... */
        rc = telemetry_cell_write(&c, (telemetry){t.frame + 1, 0.0, 0.0});
        /* ... or accept it: rc = telemetry_cell_consistent(&c); */
    }
    telemetry_cell_close(&c);                  /* an attacher only detaches */
    /* end */
    return rc == 0 && t.frame == 2 && t.speed == 13.0 ? 0 : -EBADMSG;
}

static int user_lock(const char *name)
{
    /* doc: userlock */
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &example_robust_mutex_lock;       /* a cortex_sync_ops of your own */
    o.perm = CORTEX_PERM_GROUP;                /* 0660, for the segment (and a semaphore) */
    telemetry_cell c;
    int rc = telemetry_cell_create(&c, CORTEX_KEY_NAME(name), (telemetry){0, 0.0, 0.0}, &o);
    /* attachers pass the same o.lock; without it attach is -ENOTSUP */
    /* end */
    if (rc == 0)
        rc = telemetry_cell_close(&c);
    return rc;
}

static int one_writer(const char *name)
{
    /* doc: onewriter */
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &cortex_sync_one_writer;
    telemetry_cell c;
    int rc = telemetry_cell_create(&c, CORTEX_KEY_NAME(name), (telemetry){0, 0.0, 0.0}, &o);
    if (rc == 0) /* the first write claims the writer role (create does not) */
        rc = telemetry_cell_write(&c, (telemetry){1, 12.5, 90.0});
    /* end */
    if (rc < 0)
        return rc;
    telemetry_cell other;
    rc = telemetry_cell_attach(&other, CORTEX_KEY_NAME(name), NULL);
    if (rc == 0) {
        rc = telemetry_cell_write(&other, (telemetry){2, 0.0, 0.0}) == -EBUSY ? 0 : -EBADMSG;
        telemetry_cell_close(&other);
    }
    telemetry_cell_close(&c);
    return rc;
}

static int inspect(telemetry_cell *c)
{
    /* doc: inspect */
    cortex_cell_info info;
    if (cortex_cell_inspect(telemetry_cell_region(c), &info) == 0)
        printf("seq %llu, %s, lock %s %s (holder %d)\n", (unsigned long long)info.sequence,
               info.consistent ? "consistent" : "INCONSISTENT", info.lock_name,
               info.lock_state == 1 ? "held" : "free", (int)info.holder_pid);
    /* end */
    return info.sequence == 4 && info.consistent ? 0 : -EBADMSG;
}

int main(void)
{
    char name[64], name2[64], name3[64];
    snprintf(name, sizeof name, "/nct-%d-doc-cell", (int)getpid());
    snprintf(name3, sizeof name3, "/nct-%d-doc-cell-ow", (int)getpid());
    snprintf(name2, sizeof name2, "/nct-%d-doc-cell-lock", (int)getpid());
    telemetry_cell c;
    int rc = producer(&c, name);
    if (rc < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0)
        _exit(consumer(name) == 0 ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    int fails = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fails += inspect(&c) != 0;
    fails += telemetry_cell_close(&c) != 0;   /* the owner: removes the segment */
    fails += user_lock(name2) != 0;
    fails += one_writer(name3) != 0;
    printf("doc_cell: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
