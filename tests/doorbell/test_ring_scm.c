/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/test_ring_scm.c: two memfd RING segments and a doorbell
 * end passed over SCM_RIGHTS to an unrelated process (ring_peer.c, started
 * with nothing handed over), which attaches the rings by fd and answers
 * requests through them; each side sleeps in the doorbell when it cannot
 * make progress and rings after it did.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <unistd.h>

#include "nctest.h"
#include "ring_proto.h"

TestSuite(ring_scm, .fini = nct_cleanup, .timeout = 60);

#define MSG cortex_last_error()->message

extern char **environ;

Test(ring_scm, memfd_rings_over_scm_rights_to_an_unrelated_process)
{
    int fds0 = nct_count_fds();
    nct_u64ring out, in;
    cr_assert_eq(nct_u64ring_create(&out, CORTEX_KEY_MEMFD("nct-req"), 64, CORTEX_PRODUCER, NULL), 0, "%s", MSG);
    cr_assert_eq(nct_u64ring_create(&in, CORTEX_KEY_MEMFD("nct-ans"), 64, CORTEX_CONSUMER, NULL), 0, "%s", MSG);
    cortex_doorbell mine, theirs;
    cr_assert_eq(cortex_doorbell_pair(&mine, &theirs), 0);
    char path[96];
    int lsock = -1, conn = -1;
    cr_assert_eq(cortex_unix_listen(nct_path(path, "ring"), &lsock), 0, "%s", MSG);
    uint64_t n = 20000 * (uint64_t)nct_scale();
    char ns[24];
    snprintf(ns, sizeof ns, "%llu", (unsigned long long)n);
    char *argv[] = {(char *)nct_helper_path("db-ring-peer"), path, ns, NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
    cr_assert_eq(cortex_unix_accept(lsock, &conn, NCT_RING_WAIT_NS), 0, "%s", MSG);
    int fds[3] = {cortex_region_fd(nct_u64ring_region(&out)), cortex_region_fd(nct_u64ring_region(&in)),
                  cortex_doorbell_fd(&theirs)};
    cr_assert_eq(cortex_fd_send(conn, "rings", 5, fds, 3), 0, "%s", MSG);
    cortex_doorbell_close(&theirs);
    close(conn);
    close(lsock);
    unlink(path);

    uint64_t sent = 0, got = 0;
    int rc = 0;
    while (got < n) {
        bool progress = false;
        while (sent < n && nct_u64ring_push(&out, sent + 1) == 0) {
            sent++;
            progress = true;
        }
        uint64_t v;
        while ((rc = nct_u64ring_pop(&in, &v)) == 0) {
            cr_assert_eq(v, nct_ring_answer(got + 1), "answer %llu is %llu", (unsigned long long)(got + 1),
                         (unsigned long long)v);
            got++;
            progress = true;
        }
        /* Empty for now; or, once every answer is in, the peer may already have closed its end. */
        cr_assert(rc == -EAGAIN || (rc == -EPIPE && got == n), "pop after %llu answers: %s",
                  (unsigned long long)got, MSG);
        if (progress) {
            rc = cortex_doorbell_signal(&mine); /* after the last answer the peer may be gone already */
            cr_assert(rc >= 0 || (rc == -EPIPE && got == n), "signal after %llu answers: %s",
                      (unsigned long long)got, MSG);
        }
        else
            cr_assert_eq(cortex_doorbell_wait(&mine, NCT_RING_WAIT_NS), 0, "after %llu answers: %s",
                         (unsigned long long)got, MSG);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);
    /* The peer closed its ring ends: the answer ring reports it, drained. */
    uint64_t v;
    cr_assert_eq(nct_u64ring_pop(&in, &v), -EPIPE);
    rc = cortex_doorbell_drain(&mine);
    cr_assert(rc >= 0 || rc == -EPIPE);
    cr_assert_eq(cortex_doorbell_wait(&mine, NCT_RING_WAIT_NS), -EPIPE);
    cortex_doorbell_close(&mine);
    nct_u64ring_close(&out);
    nct_u64ring_close(&in);
    cr_assert_eq(nct_count_fds(), fds0);
}
