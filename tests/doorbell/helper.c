/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/helper.c: the program the doorbell tests exec.  It reports
 * only through its exit status (0 = pass; otherwise a step number or the
 * errno of a failed call) and explains failures on stderr.
 *
 *   db-helper echo N            cortex_child_attach (doorbell only); N times: wait, ring back
 *   db-helper sleep             attach, ring once, then sleep until killed
 *   db-helper mailbox N         attach doorbell + segment; answer N mailbox requests
 *   db-helper attach-rc [...]   exit with -cortex_child_attach(argc, argv, ...) (0 on success)
 *   db-helper fds DEV:INO...    check that no open fd is one of these files, and that fds 3/4 are
 *                               a unix socket and a neocortex segment
 *   db-helper peer PATH N       connect to PATH, receive a segment fd and a doorbell fd over
 *                               SCM_RIGHTS, answer N mailbox requests
 */
#define _GNU_SOURCE
#include "mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_NS INT64_C(10000000000) /* 10 s: a stuck peer fails the test instead of hanging it */

static int fail(int code, const char *what)
{
    const cortex_error *e = cortex_last_error();
    fprintf(stderr, "db-helper: %s: %s (%s)\n", what, e->message, cortex_errname(e->code));
    return code;
}

static int serve_mailbox(cortex_doorbell *bell, nct_mailbox *mb, uint64_t n)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t seq = cortex__ld64(&mb->req_seq, CX_ACQUIRE);
        if (seq == done) {
            int rc = cortex_doorbell_wait(bell, WAIT_NS);
            if (rc < 0)
                return fail(10, "wait for a request");
            continue;
        }
        if (seq != done + 1) {
            fprintf(stderr, "db-helper: request seq %llu after %llu\n", (unsigned long long)seq,
                    (unsigned long long)done);
            return 11;
        }
        uint64_t v = mb->req_value;
        if (v != nct_mailbox_request(seq)) {
            fprintf(stderr, "db-helper: request %llu carries %llu\n", (unsigned long long)seq,
                    (unsigned long long)v);
            return 12;
        }
        mb->resp_value = nct_mailbox_answer(v);
        cortex__st64(&mb->resp_seq, seq, CX_RELEASE);
        if (cortex_doorbell_signal(bell) < 0)
            return fail(13, "ring back");
        done = seq;
    }
    return 0;
}

static int do_echo(int argc, char **argv, uint64_t n)
{
    cortex_doorbell bell;
    if (cortex_child_attach(argc, argv, &bell, NULL, NULL, NULL) < 0)
        return fail(2, "attach");
    for (uint64_t i = 0; i < n; i++) {
        if (cortex_doorbell_wait(&bell, WAIT_NS) < 0)
            return fail(3, "wait");
        if (cortex_doorbell_signal(&bell) < 0)
            return fail(4, "signal");
    }
    cortex_doorbell_close(&bell);
    return 0;
}

static int do_sleep(int argc, char **argv)
{
    cortex_doorbell bell;
    if (cortex_child_attach(argc, argv, &bell, NULL, NULL, NULL) < 0)
        return fail(2, "attach");
    if (cortex_doorbell_signal(&bell) < 0)
        return fail(3, "signal");
    for (;;)
        pause();
}

static int do_mailbox(int argc, char **argv, uint64_t n)
{
    cortex_doorbell bell;
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    if (cortex_child_attach(argc, argv, &bell, &r, &l, NULL) < 0)
        return fail(2, "attach");
    int rc = serve_mailbox(&bell, cortex_region_payload(r), n);
    cortex_doorbell_close(&bell);
    cortex_region_close(r);
    return rc;
}

static int do_attach_rc(int argc, char **argv)
{
    cortex_doorbell bell;
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    int rc = cortex_child_attach(argc, argv, &bell, &r, &l, NULL);
    if (rc < 0) {
        fail(0, "attach");
        return -rc;
    }
    cortex_doorbell_close(&bell);
    cortex_region_close(r);
    return 0;
}

/* Exit 0 if no open fd is one of the files named "dev:ino" in list, and 3/4 are what was handed. */
static int do_fds(int argc, char **argv)
{
    int handed_bell = -1, handed_seg = -1;
    if (getenv(CORTEX_FDS_ENV)) {
        cortex_fdspec spec;
        if (cortex_fdspec_from_process(&spec, argc, argv) < 0)
            return fail(2, "fd spec");
        handed_bell = cortex_fdspec_find(&spec, CORTEX_FDNAME_DOORBELL);
        handed_seg = cortex_fdspec_find(&spec, CORTEX_FDNAME_SEGMENT);
    }
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 3;
    int bad = 0, seen_bell = 0, seen_seg = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        struct stat st;
        if (fstat(fd, &st) != 0)
            continue;
        for (int i = 2; i < argc; i++) {
            unsigned long long dev, ino;
            if (sscanf(argv[i], "%llu:%llu", &dev, &ino) == 2 && st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino) {
                fprintf(stderr, "db-helper: fd %d is %s, which was not handed to this child\n", fd, argv[i]);
                bad = 1;
            }
        }
        if (fd == handed_bell)
            seen_bell = cortex_fd_validate(fd, CORTEX_FD_UNIX_SEQPACKET) == 0;
        if (fd == handed_seg)
            seen_seg = cortex_fd_validate_segment(fd, NULL) == 0;
    }
    closedir(d);
    if (bad)
        return 4;
    if (handed_bell >= 0 && !seen_bell)
        return fail(5, "the handed doorbell fd is missing or not a seqpacket socket");
    if (handed_seg >= 0 && !seen_seg)
        return fail(6, "the handed segment fd is missing or not a segment");
    return 0;
}

static int do_peer(const char *path, uint64_t n)
{
    int sock = -1;
    if (cortex_unix_connect(path, &sock, WAIT_NS) < 0)
        return fail(2, "connect");
    char msg[32];
    int fds[2] = {-1, -1};
    unsigned nfds = 0;
    ssize_t len = cortex_fd_recv(sock, msg, sizeof msg, fds, 2, &nfds, WAIT_NS);
    close(sock);
    if (len < 0)
        return fail(3, "receive");
    if (nfds != 2 || len != 8 || memcmp(msg, "seg+bell", 8) != 0) {
        fprintf(stderr, "db-helper: got %u fds and %zd bytes\n", nfds, len);
        return 4;
    }
    cortex_layout l = nct_mailbox_layout();
    cortex_region *r = NULL;
    cortex_doorbell bell;
    if (cortex_fd_validate_segment(fds[0], &l) < 0)
        return fail(5, "validate the segment");
    if (cortex_region_attach(&r, CORTEX_KEY_FD(fds[0]), &l, NULL) < 0)
        return fail(6, "attach by fd");
    close(fds[0]);
    if (cortex_doorbell_from_fd(&bell, fds[1]) < 0)
        return fail(7, "doorbell from fd");
    int rc = serve_mailbox(&bell, cortex_region_payload(r), n);
    cortex_doorbell_close(&bell);
    cortex_region_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 100;
    const char *mode = argv[1];
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    if (strcmp(mode, "echo") == 0)
        return do_echo(argc, argv, n);
    if (strcmp(mode, "sleep") == 0)
        return do_sleep(argc, argv);
    if (strcmp(mode, "mailbox") == 0)
        return do_mailbox(argc, argv, n);
    if (strcmp(mode, "attach-rc") == 0)
        return do_attach_rc(argc, argv);
    if (strcmp(mode, "fds") == 0)
        return do_fds(argc, argv);
    if (strcmp(mode, "peer") == 0 && argc > 3)
        return do_peer(argv[2], strtoull(argv[3], NULL, 10));
    return 101;
}
