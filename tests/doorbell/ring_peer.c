/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/ring_peer.c: the unrelated process of the SCM_RIGHTS ring
 * test.  Started with no fds handed over, it connects to the Unix socket
 * at argv[1], receives two memfd ring segments (requests to it, answers
 * from it) and a doorbell end in one message, attaches both rings by fd,
 * and answers argv[2] requests.  Exit status: 0 = pass, else the failed step.
 */
#define _GNU_SOURCE
#include "ring_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(int code, const char *what, int rc)
{
    fprintf(stderr, "db-ring-peer: %s: %s (%s)\n", what, cortex_last_error()->message, cortex_errname(rc));
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 100;
    uint64_t n = strtoull(argv[2], NULL, 10);
    int sock = -1, rc;
    if ((rc = cortex_unix_connect(argv[1], &sock, NCT_RING_WAIT_NS)) < 0)
        return fail(2, "connect", rc);
    char msg[16];
    int fds[3] = {-1, -1, -1};
    unsigned nfds = 0;
    ssize_t len = cortex_fd_recv(sock, msg, sizeof msg, fds, 3, &nfds, NCT_RING_WAIT_NS);
    close(sock);
    if (len < 0)
        return fail(3, "receive", (int)len);
    if (nfds != 3 || len != 5 || memcmp(msg, "rings", 5) != 0)
        return 4;
    /* Check every fd before use: two ring segments and a doorbell socket. */
    cortex_layout ring_kind = {.kind = CORTEX_KIND_RING};
    for (int i = 0; i < 2; i++)
        if ((rc = cortex_fd_validate_segment(fds[i], &ring_kind)) < 0)
            return fail(5, "validate a ring segment", rc);
    nct_u64ring in, out;
    if ((rc = nct_u64ring_attach(&in, CORTEX_KEY_FD(fds[0]), CORTEX_CONSUMER, NULL)) < 0)
        return fail(6, "attach the request ring", rc);
    if ((rc = nct_u64ring_attach(&out, CORTEX_KEY_FD(fds[1]), CORTEX_PRODUCER, NULL)) < 0)
        return fail(7, "attach the answer ring", rc);
    close(fds[0]);
    close(fds[1]);
    cortex_doorbell bell;
    if ((rc = cortex_doorbell_from_fd(&bell, fds[2])) < 0)
        return fail(8, "take the doorbell", rc);

    uint64_t got = 0, answered = 0;
    while (answered < n) {
        bool progress = false;
        while (answered < got) {
            if (nct_u64ring_push(&out, nct_ring_answer(answered + 1)) != 0)
                break;
            answered++;
            progress = true;
        }
        uint64_t v;
        rc = -EAGAIN;
        while (got - answered < 64 && (rc = nct_u64ring_pop(&in, &v)) == 0) {
            if (v != got + 1) {
                fprintf(stderr, "db-ring-peer: request %llu carries %llu\n", (unsigned long long)(got + 1),
                        (unsigned long long)v);
                return 9;
            }
            got++;
            progress = true;
        }
        if (rc != 0 && rc != -EAGAIN)
            return fail(10, "pop", rc);
        if (progress) {
            if ((rc = cortex_doorbell_signal(&bell)) < 0)
                return fail(11, "ring", rc);
        } else if ((rc = cortex_doorbell_wait(&bell, NCT_RING_WAIT_NS)) < 0) {
            return fail(12, "wait", rc);
        }
    }
    nct_u64ring_close(&in);
    nct_u64ring_close(&out);
    cortex_doorbell_close(&bell);
    return 0;
}
