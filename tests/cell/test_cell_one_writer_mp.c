/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_one_writer_mp.c: the one-writer backend across
 * processes (suite multiprocess): one writer process and two reader
 * processes (every value read is one a write wrote, versions never go
 * back), forked children of the role's holder (refused while it lives,
 * taken over once it is dead), and a holder that exec()s (its new image
 * takes the role back).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nctest.h"

TestSuite(cell_one_writer_mp, .fini = nct_cleanup, .timeout = 120);

#define FIELDS 12
typedef struct rec {
    uint64_t k;
    uint64_t f[FIELDS]; /* each k * (i + 1): a torn copy mixes two writes */
} rec;
CORTEX_DECLARE(rec_cell, rec);

static rec rec_of(uint64_t k)
{
    rec r = {.k = k};
    for (int i = 0; i < FIELDS; i++)
        r.f[i] = k * (uint64_t)(i + 1);
    return r;
}

static bool agrees(const rec *r)
{
    for (int i = 0; i < FIELDS; i++)
        if (r->f[i] != r->k * (uint64_t)(i + 1))
            return false;
    return true;
}

/* Reader child: until it reads @last, every read is whole and neither value nor version goes back. */
static int reader(cortex_key key, uint64_t last, int ready)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rec_cell c;
    if (rec_cell_attach(&c, key, NULL) != 0)
        return 10;
    put(ready, 'r');
    uint64_t prev_k = 0, prev_ver = 0;
    for (long n = 0; n < 200000000L; n++) {
        rec r;
        uint64_t ver;
        if (rec_cell_read_version(&c, &r, &ver) != 0)
            return 11;
        if (!agrees(&r))
            return 12;
        if (r.k < prev_k || ver < prev_ver || (r.k > prev_k && ver == prev_ver))
            return 13;
        prev_k = r.k;
        prev_ver = ver;
        if (r.k == last) {
            rec_cell_close(&c);
            return 0;
        }
    }
    return 14;
}

Test(cell_one_writer_mp, one_writer_two_readers)
{
    cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
    cortex_opts o = opts_with(&cortex_sync_one_writer);
    rec_cell c;
    cr_assert_eq(rec_cell_create(&c, key, rec_of(0), &o), 0, "%s", cortex_last_error()->message);
    const uint64_t last = 200000 * (uint64_t)nct_scale();
    pid_t kids[3];
    int ready[2], go[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(reader(key, last, ready[1]));
    }
    kids[2] = fork();
    if (kids[2] == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        rec_cell w;
        if (rec_cell_attach(&w, key, NULL) != 0 || get(go[0]) != 'g')
            _exit(20);
        for (uint64_t k = 1; k <= last; k++)
            if (rec_cell_write(&w, rec_of(k)) != 0)
                _exit(21);
        rec_cell_close(&w);
        _exit(0);
    }
    cr_assert(get(ready[0]) == 'r' && get(ready[0]) == 'r', "readers did not attach");
    put(go[1], 'g'); /* both readers are reading before the first write */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(nct_wait(kids[i], 100000), 0, "%s %d failed", i < 2 ? "reader" : "writer", i);
    rec r;
    uint64_t ver;
    cr_assert_eq(rec_cell_read_version(&c, &r, &ver), 0);
    cr_assert_eq(r.k, last);
    cr_assert_eq(ver, 2 * last, "one version per write");
    cr_assert_eq(rec_cell_close(&c), 0);
}

Test(cell_one_writer_mp, forked_child_of_the_holder)
{
    cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
    cortex_opts o = opts_with(&cortex_sync_one_writer);
    rec_cell c;
    cr_assert_eq(rec_cell_create(&c, key, rec_of(0), &o), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(rec_cell_write(&c, rec_of(1)), 0);
    char me[32];
    snprintf(me, sizeof me, "pid %d", (int)getpid());
    /* The parent lives: the child's copy of the holder's handle is refused, naming the parent. */
    pid_t child = fork();
    if (child == 0) {
        if (rec_cell_write(&c, rec_of(2)) != -EBUSY)
            _exit(2);
        if (!strstr(cortex_last_error()->message, me))
            _exit(3);
        if (rec_cell_consistent(&c) != -EBUSY)
            _exit(4);
        rec r;
        if (rec_cell_read(&c, &r) != 0 || r.k != 1)
            _exit(5);
        rec_cell_leak(&c); /* a child's leak must not give the parent's role back */
        _exit(0);
    }
    cr_assert_eq(nct_wait(child, 10000), 0);
    cortex_cell_info info;
    cr_assert_eq(cortex_cell_inspect(rec_cell_region(&c), &info), 0);
    cr_assert_eq(info.holder_pid, getpid(), "the child's leak left the parent's role alone");
    cr_assert_eq(rec_cell_write(&c, rec_of(3)), 0);

    /* A holder that dies leaves its role to its forked child through the takeover rules. */
    int up[2];
    cr_assert_eq(pipe(up), 0);
    pid_t mid = fork();
    if (mid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        rec_cell h;
        if (rec_cell_attach(&h, key, NULL) != 0 || rec_cell_write(&h, rec_of(10)) != -EBUSY)
            _exit(2);
        _exit(0);
    }
    cr_assert_eq(nct_wait(mid, 10000), 0, "a second process is refused while the parent holds the role");
    cr_assert_eq(rec_cell_leak(&c), 0, "the test gives the role back");
    mid = fork();
    if (mid == 0) {
        rec_cell h;
        if (rec_cell_attach(&h, key, NULL) != 0 || rec_cell_write(&h, rec_of(20)) != 0)
            _exit(2);
        int g[2];
        if (pipe(g) != 0)
            _exit(7);
        pid_t grand = fork();
        if (grand == 0) {
            close(up[0]);
            close(g[0]);
            int rc = rec_cell_write(&h, rec_of(21));
            put(g[1], 'b');
            if (rc != -EBUSY)
                _exit(3);
            /* Wait for the holder (our parent) to die, then take over through our copy of its handle. */
            while (getppid() != 1 && cortex__pid_alive(getppid(), 0))
                cortex__sleep_ns(1000000);
            for (int i = 0; i < 5000; i++) {
                rc = rec_cell_write(&h, rec_of(22));
                if (rc == 0) {
                    rec_cell_close(&h);
                    put(up[1], 'y');
                    _exit(0);
                }
                if (rc != -EBUSY)
                    _exit(4);
                cortex__sleep_ns(1000000);
            }
            _exit(5);
        }
        close(g[1]);
        if (grand < 0 || get(g[0]) != 'b') /* the grandchild has tried while we live */
            _exit(6);
        _exit(0); /* dies holding the role, between writes */
    }
    cr_assert_eq(nct_wait(mid, 10000), 0);
    close(up[1]);
    cr_assert_eq(get(up[0]), 'y', "the grandchild took the dead holder's role over");
    close(up[0]);
    rec_cell a;
    cr_assert_eq(rec_cell_attach(&a, key, NULL), 0);
    rec r;
    cr_assert_eq(rec_cell_read(&a, &r), 0);
    cr_assert_eq(r.k, 22);
    cr_assert_eq(rec_cell_own(&a), 0);
    cr_assert_eq(rec_cell_close(&a), 0);
}

CORTEX_DECLARE(ow_int_cell, int);

Test(cell_one_writer_mp, exec_takes_the_role_back)
{
    char name[64];
    nct_name(name, "ow-exec");
    cortex_opts o = opts_with(&cortex_sync_one_writer);
    ow_int_cell c;
    cr_assert_eq(ow_int_cell_create(&c, CORTEX_KEY_NAME(name), 0, &o), 0, "%s", cortex_last_error()->message);
    const char *peer = nct_helper_path("ow_exec_peer");
    pid_t child = fork();
    if (child == 0) {
        ow_int_cell h;
        if (ow_int_cell_attach(&h, CORTEX_KEY_NAME(name), NULL) != 0 || ow_int_cell_write(&h, 1) != 0)
            _exit(12);
        execl(peer, peer, name, "2", (char *)NULL); /* the handle is gone, the record still names this pid */
        _exit(13);
    }
    cr_assert_eq(nct_wait(child, 10000), 0, "the exec'd image could not take its role back (%s)", peer);
    int v = 0;
    cr_assert_eq(ow_int_cell_read(&c, &v), 0);
    cr_assert_eq(v, 2);
    cortex_cell_info info;
    cr_assert_eq(cortex_cell_inspect(ow_int_cell_region(&c), &info), 0);
    cr_assert_eq(info.lock_state, 0, "the exec'd image's close gave the role back");
    cr_assert_eq(ow_int_cell_write(&c, 3), 0);
    cr_assert_eq(ow_int_cell_close(&c), 0);
}
