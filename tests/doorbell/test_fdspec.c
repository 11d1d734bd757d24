/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/test_fdspec.c: the "doorbell:3,segment:4" text, and
 * cortex_child_attach() given bad input in this process (each Criterion
 * test runs in its own process, so setenv here touches nobody else).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mailbox.h"
#include "nctest.h"

TestSuite(fdspec, .fini = nct_cleanup, .timeout = 30);

#define MSG cortex_last_error()->message

Test(fdspec, parses_good_specs)
{
    int fds0 = nct_count_fds();
    cortex_fdspec s;
    cr_assert_eq(cortex_fdspec_parse(&s, "doorbell:3,segment:4"), 0, "%s", MSG);
    cr_assert_eq(s.count, 2);
    cr_assert_str_eq(s.entry[0].name, "doorbell");
    cr_assert_eq(s.entry[0].fd, 3);
    cr_assert_eq(cortex_fdspec_find(&s, "segment"), 4);
    cr_assert_eq(cortex_fdspec_find(&s, "doorbell"), 3);
    cr_assert_eq(cortex_fdspec_find(&s, "other"), -ENOENT);
    cr_assert_eq(cortex_fdspec_parse(&s, "a_b-9:10"), 0, "%s", MSG);
    cr_assert_eq(s.count, 1);
    char buf[64];
    cr_assert_eq(cortex_fdspec_parse(&s, "x:5,y:6,z:7"), 0);
    cr_assert_eq(cortex_fdspec_format(&s, buf, sizeof buf), 11);
    cr_assert_str_eq(buf, "x:5,y:6,z:7");
    cr_assert_eq(cortex_fdspec_format(&s, buf, 5), -ENAMETOOLONG);
    /* Sixteen entries fit, seventeen do not. */
    char many[400] = "";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sn%d:%d", i ? "," : "", i, 10 + i);
    cr_assert_eq(cortex_fdspec_parse(&s, many), -EOVERFLOW);
    *strrchr(many, ',') = '\0';
    cr_assert_eq(cortex_fdspec_parse(&s, many), 0, "%s", MSG);
    cr_assert_eq(s.count, 16);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(fdspec, refuses_bad_specs)
{
    int fds0 = nct_count_fds();
    static const struct {
        const char *text;
        int rc;
        const char *says;
    } bad[] = {
        {"", -EINVAL, "empty"},
        {"doorbell", -EINVAL, "':'"},
        {"doorbell:", -EINVAL, "fd number"},
        {"doorbell:-3", -EINVAL, "fd number"},
        {"doorbell:+3", -EINVAL, "fd number"},
        {"doorbell: 3", -EINVAL, "fd number"},
        {"doorbell:3 ", -EINVAL, "unexpected"},
        {"doorbell:3x", -EINVAL, "unexpected"},
        {"doorbell:0x3", -EINVAL, "unexpected"},
        {"doorbell:03", -EINVAL, "leading zero"},
        {"doorbell:0", -ERANGE, "stdin"},
        {"doorbell:2", -ERANGE, "stdin"},
        {"doorbell:99999999999", -ERANGE, "10 digits"},
        {"doorbell:2147483648", -ERANGE, "limit"},
        {"doorbell:3,", -EINVAL, "trailing"},
        {",doorbell:3", -EINVAL, "cannot start"},
        {"Doorbell:3", -EINVAL, "cannot start"},
        {"door bell:3", -EINVAL, "':'"},
        {"doorbell:3,doorbell:4", -EINVAL, "twice"},
        {"doorbell:3,segment:3", -EINVAL, "twice"},
        {"doorbell:3;segment:4", -EINVAL, "unexpected"},
        {"a23456789012345678901234567890123:3", -EINVAL, "longer than"},
        {"\xff:3", -EINVAL, "cannot start"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cortex_fdspec s;
        s.count = 77;
        int rc = cortex_fdspec_parse(&s, bad[i].text);
        cr_assert_eq(rc, bad[i].rc, "'%s': got %d (%s), expected %d", bad[i].text, rc, MSG, bad[i].rc);
        cr_assert(strstr(MSG, bad[i].says), "'%s': message '%s' should say '%s'", bad[i].text, MSG, bad[i].says);
        cr_assert_eq(s.count, 77, "'%s': the output is written only on success", bad[i].text);
    }
    char longtext[CORTEX_FDSPEC_TEXT_MAX + 10];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    cortex_fdspec s;
    cr_assert_eq(cortex_fdspec_parse(&s, longtext), -EOVERFLOW);
    cr_assert_eq(cortex_fdspec_parse(&s, NULL), -EINVAL);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(fdspec, number_beyond_the_fd_limit)
{
    int fds0 = nct_count_fds();
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    char text[64];
    cortex_fdspec s;
    snprintf(text, sizeof text, "doorbell:%llu", (unsigned long long)rl.rlim_cur);
    cr_assert_eq(cortex_fdspec_parse(&s, text), -ERANGE, "%s", MSG);
    cr_assert(strstr(MSG, "limit"), "message: %s", MSG);
    snprintf(text, sizeof text, "doorbell:%llu", (unsigned long long)rl.rlim_cur - 1);
    cr_assert_eq(cortex_fdspec_parse(&s, text), 0, "%s", MSG);
    cr_assert_eq(nct_count_fds(), fds0);
}

Test(fdspec, argument_before_environment)
{
    int fds0 = nct_count_fds();
    cortex_fdspec s;
    unsetenv(CORTEX_FDS_ENV);
    cr_assert_eq(cortex_fdspec_from_process(&s, 0, NULL), -ENOENT);
    cr_assert(strstr(MSG, CORTEX_FDS_ENV), "message: %s", MSG);
    setenv(CORTEX_FDS_ENV, "doorbell:7", 1);
    cr_assert_eq(cortex_fdspec_from_process(&s, 0, NULL), 0);
    cr_assert_eq(cortex_fdspec_find(&s, "doorbell"), 7);
    char *argv[] = {"prog", "x", "--neocortex-fds=doorbell:8", NULL};
    cr_assert_eq(cortex_fdspec_from_process(&s, 3, argv), 0);
    cr_assert_eq(cortex_fdspec_find(&s, "doorbell"), 8, "the argument wins");
    char *after_dashes[] = {"prog", "--", "--neocortex-fds=doorbell:8", NULL};
    cr_assert_eq(cortex_fdspec_from_process(&s, 3, after_dashes), 0);
    cr_assert_eq(cortex_fdspec_find(&s, "doorbell"), 7, "arguments after -- are the program's");
    char *bad[] = {"prog", "--neocortex-fds=doorbell:-1", NULL};
    cr_assert_eq(cortex_fdspec_from_process(&s, 2, bad), -EINVAL);
    unsetenv(CORTEX_FDS_ENV);
    cr_assert_eq(nct_count_fds(), fds0);
}

/* cortex_child_attach with NEOCORTEX_FDS set to text; returns its rc.  Nothing may be taken on failure. */
static int attach_with(const char *text, bool want_segment)
{
    setenv(CORTEX_FDS_ENV, text, 1);
    cortex_doorbell bell = CORTEX_DOORBELL_INIT;
    cortex_region *r = NULL;
    cortex_layout l = nct_mailbox_layout();
    int rc = cortex_child_attach(0, NULL, &bell, want_segment ? &r : NULL, &l, NULL);
    if (rc == 0) {
        cr_assert_null(getenv(CORTEX_FDS_ENV), "a successful attach removes the variable");
        cortex_doorbell_close(&bell);
        cortex_region_close(r);
    } else {
        cr_assert_eq(bell.fd, -1);
        cr_assert_null(r);
        cr_assert_str_eq(getenv(CORTEX_FDS_ENV), text, "a failed attach leaves the variable");
    }
    unsetenv(CORTEX_FDS_ENV);
    return rc;
}

Test(fdspec, child_attach_refuses_bad_fds)
{
    int fds0 = nct_count_fds();
    char text[128];
    cortex_doorbell a, b;
    cr_assert_eq(cortex_doorbell_pair(&a, &b), 0);
    cortex_region *seg = NULL;
    cortex_layout l = nct_mailbox_layout();
    cr_assert_eq(cortex_region_create(&seg, CORTEX_KEY_MEMFD("nct"), &l, NULL, NULL, NULL), 0, "%s", MSG);
    int segfd = cortex_region_fd(seg);
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    close(pfd[1]);
    int zero = memfd_create("nct-zero", MFD_CLOEXEC);
    cr_assert_eq(ftruncate(zero, 4096), 0);
    cortex_region *other = NULL;
    cortex_layout ol = {.kind = CORTEX_KIND_RAW, .payload_size = 4096};
    cr_assert_eq(cortex_region_create(&other, CORTEX_KEY_MEMFD("nct"), &ol, NULL, NULL, NULL), 0, "%s", MSG);

    /* A closed fd as the doorbell (closed right here, so no later open reuses its number first). */
    int closed = dup(pfd[0]);
    close(closed);
    snprintf(text, sizeof text, "doorbell:%d", closed);
    cr_assert_eq(attach_with(text, false), -EBADF, "%s", MSG);
    cr_assert(strstr(MSG, "not open"), "message: %s", MSG);
    /* A pipe and a memfd as the doorbell. */
    snprintf(text, sizeof text, "doorbell:%d", pfd[0]);
    cr_assert_eq(attach_with(text, false), -ENOTSOCK, "%s", MSG);
    snprintf(text, sizeof text, "doorbell:%d", segfd);
    cr_assert_eq(attach_with(text, false), -ENOTSOCK, "%s", MSG);
    /* Garbage, negative and out-of-range numbers. */
    cr_assert_eq(attach_with("doorbell:three", false), -EINVAL);
    cr_assert_eq(attach_with("doorbell:-4", false), -EINVAL);
    cr_assert_eq(attach_with("doorbell:2147483647", false), -ERANGE);
    cr_assert_eq(attach_with("segment:5", false), -ENOENT, "no doorbell entry");
    /* A segment fd that is a socket, a zero-filled memfd, a segment of the wrong size. */
    snprintf(text, sizeof text, "doorbell:%d,segment:%d", cortex_doorbell_fd(&b), cortex_doorbell_fd(&a));
    cr_assert_eq(attach_with(text, true), -ENODEV, "%s", MSG);
    snprintf(text, sizeof text, "doorbell:%d,segment:%d", cortex_doorbell_fd(&b), zero);
    cr_assert_eq(attach_with(text, true), -EBADMSG, "%s", MSG);
    snprintf(text, sizeof text, "doorbell:%d,segment:%d", cortex_doorbell_fd(&b), cortex_region_fd(other));
    cr_assert_eq(attach_with(text, true), -EPROTO, "%s", MSG);
    snprintf(text, sizeof text, "doorbell:%d", cortex_doorbell_fd(&b));
    cr_assert_eq(attach_with(text, true), -ENOENT, "no segment entry");
    /* Every refused fd is still open and still ours. */
    cr_assert_geq(fcntl(pfd[0], F_GETFD), 0);
    cr_assert_geq(fcntl(zero, F_GETFD), 0);
    cr_assert_geq(fcntl(cortex_doorbell_fd(&b), F_GETFD), 0);

    /* And the good case, in this process: a copy of b and of the segment fd are taken over. */
    int bcopy = dup(cortex_doorbell_fd(&b));
    int scopy = dup(segfd);
    snprintf(text, sizeof text, "doorbell:%d,segment:%d", bcopy, scopy);
    cr_assert_eq(attach_with(text, true), 0, "%s", MSG);
    cr_assert_eq(fcntl(bcopy, F_GETFD), -1, "the doorbell was closed with its handle");
    cr_assert_eq(fcntl(scopy, F_GETFD), -1, "the inherited segment fd was closed after attach");

    cortex_doorbell_close(&a);
    cortex_doorbell_close(&b);
    cortex_region_close(seg);
    cortex_region_close(other);
    close(pfd[0]);
    close(zero);
    cr_assert_eq(nct_count_fds(), fds0);
}
