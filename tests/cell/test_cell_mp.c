/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/test_cell_mp.c: cells across processes (suite multiprocess):
 * both directions for every backend and backing, an N x M counter, and
 * readers that check every word of a 4 KiB stamped value.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell_test_util.h"
#include "nct_proc.h"
#include "nctest.h"

TestSuite(cell_mp, .fini = nct_cleanup, .timeout = 60);

typedef struct msg {
    uint64_t seq;
    char text[40];
} msg;
CORTEX_DECLARE(msg_cell, msg);
CORTEX_DECLARE(counter_cell, uint64_t);
CORTEX_DECLARE(ns_int_cell, int);

#define STAMP_WORDS 512 /* 4 KiB */
typedef struct stamped {
    uint64_t w[STAMP_WORDS];
} stamped;
CORTEX_DECLARE(stamped_cell, stamped);

enum { BACK_SYSV, BACK_NAME, BACK_MEMFD, BACK_FILE, BACK_N };
static const char *const back_names[] = {"sysv", "posix-name", "memfd", "file"};

/* Parent creates and writes, child (forked) attaches, reads, writes back; then the other way round. */
static void both_ways(const cortex_sync_ops *ops, int back)
{
    cortex_opts o = opts_with(ops);
    char name[64], path[96];
    cortex_key key;
    if (back == BACK_SYSV)
        key = CORTEX_KEY_SYSV(nct_sysv_key());
    else if (back == BACK_NAME)
        key = CORTEX_KEY_NAME(nct_name(name, "bw"));
    else if (back == BACK_MEMFD)
        key = CORTEX_KEY_MEMFD("nct-cell");
    else
        key = CORTEX_KEY_FILE(nct_path(path, "bw"));
    msg_cell c;
    cr_assert_eq(msg_cell_create(&c, key, (msg){1, "from parent"}, &o), 0, "%s/%s: %s", ops->name,
                 back_names[back], cortex_last_error()->message);
    /* A memfd is found by its fd, which the child inherits. */
    cortex_key akey = back == BACK_MEMFD ? CORTEX_KEY_FD(cortex_region_fd(msg_cell_region(&c))) : key;
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t pid = fork();
    if (pid == 0) {
        msg_cell b;
        if (msg_cell_attach(&b, akey, NULL) != 0)
            _exit(2);
        if (cortex_cell_lock_ops(b.cell) != ops)
            _exit(3);
        msg m;
        if (msg_cell_read(&b, &m) != 0 || m.seq != 1 || strcmp(m.text, "from parent") != 0)
            _exit(4);
        if (msg_cell_write(&b, (msg){2, "from child"}) != 0)
            _exit(5);
        put(up[1], 'w');
        if (get(down[0]) != 'w')
            _exit(6);
        if (msg_cell_read(&b, &m) != 0 || m.seq != 3 || strcmp(m.text, "parent again") != 0)
            _exit(7);
        _exit(msg_cell_close(&b) == 0 ? 0 : 8);
    }
    cr_assert_eq(get(up[0]), 'w');
    msg m;
    cr_assert_eq(msg_cell_read(&c, &m), 0);
    cr_assert_eq(m.seq, 2, "%s/%s", ops->name, back_names[back]);
    cr_assert_str_eq(m.text, "from child");
    cr_assert_eq(msg_cell_write(&c, (msg){3, "parent again"}), 0);
    put(down[1], 'w');
    cr_assert_eq(nct_wait(pid, 10000), 0, "%s/%s child", ops->name, back_names[back]);
    for (int i = 0; i < 2; i++) {
        close(up[i]);
        close(down[i]);
    }
    cr_assert_eq(msg_cell_close(&c), 0);
}

Test(cell_mp, two_processes_both_ways)
{
    FOR_EACH_BACKEND(ops) {
        for (int back = 0; back < BACK_N; back++)
            both_ways(ops, back);
    }
}

/* The child creates, the parent attaches: ownership on the other side. */
Test(cell_mp, child_creates_parent_attaches)
{
    FOR_EACH_BACKEND(ops) {
        int key = nct_sysv_key();
        int up[2], down[2];
        cr_assert_eq(pipe(up), 0);
        cr_assert_eq(pipe(down), 0);
        pid_t pid = fork();
        if (pid == 0) {
            cortex_opts o = opts_with(ops);
            counter_cell c;
            if (counter_cell_create(&c, CORTEX_KEY_SYSV(key), 100, &o) != 0)
                _exit(2);
            put(up[1], 'c');
            if (get(down[0]) != 'd')
                _exit(3);
            uint64_t v;
            if (counter_cell_read(&c, &v) != 0 || v != 101)
                _exit(4);
            _exit(counter_cell_close(&c) == 0 ? 0 : 5);
        }
        cr_assert_eq(get(up[0]), 'c');
        counter_cell c;
        cr_assert_eq(counter_cell_attach(&c, CORTEX_KEY_SYSV(key), NULL), 0, "%s", cortex_last_error()->message);
        uint64_t v;
        cr_assert_eq(counter_cell_read(&c, &v), 0);
        cr_assert_eq(v, 100);
        cr_assert_eq(counter_cell_write(&c, 101), 0);
        put(down[1], 'd');
        cr_assert_eq(nct_wait(pid, 10000), 0);
        cr_assert_eq(counter_cell_close(&c), 0);
        cr_assert_eq(counter_cell_attach(&c, CORTEX_KEY_SYSV(key), NULL), -ENOENT, "owner's close removed it");
        for (int i = 0; i < 2; i++) {
            close(up[i]);
            close(down[i]);
        }
    }
}

static void incr(uint64_t *v, void *ctx)
{
    (void)ctx;
    *v += 1;
}

Test(cell_mp, n_processes_m_updates_lose_nothing)
{
    enum { N = 4 };
    const int M = 5000 * nct_scale();
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
        counter_cell c;
        cr_assert_eq(counter_cell_create(&c, key, 0, &o), 0);
        pid_t kids[N];
        for (int i = 0; i < N; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                counter_cell b;
                if (counter_cell_attach(&b, key, NULL) != 0)
                    _exit(2);
                for (int j = 0; j < M; j++)
                    if (counter_cell_update(&b, incr, NULL) != 0)
                        _exit(3);
                _exit(counter_cell_close(&b) == 0 ? 0 : 4);
            }
        }
        for (int i = 0; i < N; i++)
            cr_assert_eq(nct_wait(kids[i], 50000), 0, "%s: child %d", ops->name, i);
        uint64_t v;
        cr_assert_eq(counter_cell_read(&c, &v), 0);
        cr_assert_eq(v, (uint64_t)N * (uint64_t)M, "%s: %llu != %d", ops->name, (unsigned long long)v, N * M);
        cr_assert_eq(counter_cell_close(&c), 0);
    }
}

static void restamp(stamped *s, void *ctx)
{
    uint64_t next = s->w[0] + *(uint64_t *)ctx;
    for (int i = 0; i < STAMP_WORDS; i++)
        s->w[i] = next;
}

/* Shared between the parent, the readers and the writers of the torn-read test. */
struct torn_ctl {
    int done;      /* writers finished */
    int satisfied; /* readers that have seen enough distinct values */
};

/* Reader exit codes: 0 fine, 1 torn value seen, 2 never saw enough changes, 3 error. */
static int reader(cortex_key key, struct torn_ctl *ctl)
{
    stamped_cell b;
    if (stamped_cell_attach(&b, key, NULL) != 0)
        return 3;
    static stamped s;
    uint64_t last = 0, changes = 0, reads = 0;
    bool counted = false;
    while (!__atomic_load_n(&ctl->done, __ATOMIC_ACQUIRE) || reads < 10) {
        if (stamped_cell_read(&b, &s) != 0)
            return 3;
        reads++;
        for (int i = 1; i < STAMP_WORDS; i++)
            if (s.w[i] != s.w[0])
                return 1;
        if (s.w[0] != last)
            changes++;
        last = s.w[0];
        if (!counted && changes >= 50) {
            counted = true;
            __atomic_fetch_add(&ctl->satisfied, 1, __ATOMIC_RELEASE);
        }
    }
    stamped_cell_close(&b);
    return changes >= 50 ? 0 : 2;
}

Test(cell_mp, readers_never_see_a_torn_4k_value)
{
    const int writes = 20000 * nct_scale();
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        cortex_key key = CORTEX_KEY_SYSV(nct_sysv_key());
        static stamped init;
        stamped_cell c;
        cr_assert_eq(stamped_cell_create(&c, key, init, &o), 0);
        struct torn_ctl *ctl = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq((void *)ctl, MAP_FAILED);
        memset(ctl, 0, sizeof *ctl);
        pid_t readers[2], writers[2];
        for (int i = 0; i < 2; i++) {
            readers[i] = fork();
            if (readers[i] == 0)
                _exit(reader(key, ctl));
        }
        for (int i = 0; i < 2; i++) {
            writers[i] = fork();
            if (writers[i] == 0) {
                stamped_cell b;
                if (stamped_cell_attach(&b, key, NULL) != 0)
                    _exit(3);
                static stamped s;
                uint64_t step = 1;
                /* At least `writes`, and on until both readers saw 50 distinct values (at most 20 s). */
                int64_t cap = nct_now_ms() + 20000;
                for (int j = 0; j < writes || (__atomic_load_n(&ctl->satisfied, __ATOMIC_ACQUIRE) < 2 &&
                                               nct_now_ms() < cap);
                     j++) {
                    if (i == 0) { /* whole-value writes with odd stamps */
                        for (int k = 0; k < STAMP_WORDS; k++)
                            s.w[k] = (uint64_t)j * 2 + 1;
                        if (stamped_cell_write(&b, s) != 0)
                            _exit(4);
                    } else if (stamped_cell_update(&b, restamp, &step) != 0) {
                        _exit(5);
                    }
                }
                _exit(0);
            }
        }
        for (int i = 0; i < 2; i++)
            cr_assert_eq(nct_wait(writers[i], 50000), 0, "%s writer %d", ops->name, i);
        __atomic_store_n(&ctl->done, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < 2; i++) {
            int st = nct_wait(readers[i], 50000);
            cr_assert_neq(st, 1, "%s: reader %d saw a torn value", ops->name, i);
            cr_assert_eq(st, 0, "%s: reader %d exit %d", ops->name, i, st);
        }
        munmap(ctl, 4096);
        cr_assert_eq(stamped_cell_close(&c), 0);
    }
}

/* The owner closes while another process is attached. */
Test(cell_mp, owner_close_under_an_attacher)
{
    FOR_EACH_BACKEND(ops) {
        cortex_opts o = opts_with(ops);
        int key = nct_sysv_key();
        counter_cell c, b;
        cr_assert_eq(counter_cell_create(&c, CORTEX_KEY_SYSV(key), 5, &o), 0);
        cr_assert_eq(counter_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), 0);
        cr_assert_eq(counter_cell_close(&c), 0);
        uint64_t v = 0;
        cr_assert_eq(counter_cell_read(&b, &v), 0, "the mapping stays valid: optimistic reads work");
        cr_assert_eq(v, 5);
        int rc = counter_cell_write(&b, 6);
        if (ops == &cortex_sync_semaphore) {
            cr_assert_eq(rc, -EIDRM, "the semaphore went with the owner: %d", rc);
            cr_assert(strstr(cortex_last_error()->message, "removed"), "%s", cortex_last_error()->message);
        } else {
            cr_assert_eq(rc, 0, "the futex lock lives in the mapping");
        }
        cr_assert_eq(counter_cell_close(&b), 0);
        cr_assert_eq(counter_cell_attach(&b, CORTEX_KEY_SYSV(key), NULL), -ENOENT);
    }
}

/* Two processes race to open-or-create one key: one creates, the other attaches, both see one cell. */
Test(cell_mp, open_or_create_race)
{
    FOR_EACH_BACKEND(ops) {
        for (int round = 0; round < 20; round++) {
            int key = nct_sysv_key();
            int go[2];
            cr_assert_eq(pipe(go), 0);
            pid_t kids[2];
            for (int i = 0; i < 2; i++) {
                kids[i] = fork();
                if (kids[i] == 0) {
                    char ch;
                    if (read(go[0], &ch, 1) != 1)
                        _exit(2);
                    cortex_opts oc = opts_with(ops);
                    oc.mode = CORTEX_OPEN_OR_CREATE;
                    counter_cell c;
                    if (counter_cell_create(&c, CORTEX_KEY_SYSV(key), 0, &oc) != 0)
                        _exit(3);
                    if (counter_cell_update(&c, incr, NULL) != 0)
                        _exit(4);
                    /* The creator leaves it for the parent; exit code tells who created it. */
                    int created = cortex_region_created(counter_cell_region(&c));
                    if (counter_cell_leak(&c) != 0)
                        _exit(5);
                    _exit(created ? 10 : 11);
                }
            }
            cr_assert_eq(write(go[1], "gg", 2), 2);
            int a = nct_wait(kids[0], 10000), b = nct_wait(kids[1], 10000);
            cr_assert((a == 10 && b == 11) || (a == 11 && b == 10), "%s round %d: exits %d %d", ops->name, round,
                      a, b);
            counter_cell c;
            cr_assert_eq(counter_cell_attach(&c, CORTEX_KEY_SYSV(key), NULL), 0);
            uint64_t v;
            cr_assert_eq(counter_cell_read(&c, &v), 0);
            cr_assert_eq(v, 2, "both updates landed in one cell");
            cr_assert_eq(counter_cell_own(&c), 0);
            cr_assert_eq(counter_cell_close(&c), 0);
            close(go[0]);
            close(go[1]);
        }
    }
}

/* ---- process identity: a live holder is never taken over ---------------- */

static void add_one_slowly(uint64_t *v, void *ctx)
{
    (void)ctx;
    usleep(500000);
    *v += 1;
}

static void add_ten(uint64_t *v, void *ctx)
{
    (void)ctx;
    *v += 10;
}

static void *slow_updater(void *arg)
{
    counter_cell *c = arg;
    int rc = counter_cell_update(c, add_one_slowly, NULL);
    _exit(rc == 0 ? 0 : 20);
    return NULL;
}

/* The lock holder is a thread of a process whose main thread called pthread_exit(): alive, waited for. */
Test(cell_mp, futex_holder_alive_after_main_thread_exit_keeps_the_lock)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    cortex_opts o = opts_with(&cortex_sync_futex);
    char name[64];
    counter_cell c;
    cr_assert_eq(counter_cell_create(&c, CORTEX_KEY_NAME(nct_name(name, "mtcell")), 0, &o), 0);
    pid_t holder = fork();
    if (holder == 0) {
        counter_cell a;
        if (counter_cell_attach(&a, CORTEX_KEY_NAME(name), &o) != 0)
            _exit(10);
        pthread_t t;
        if (pthread_create(&t, NULL, slow_updater, &a) != 0)
            _exit(11);
        pthread_exit(NULL);
    }
    cr_assert(nct_wait_main_zombie(holder, 5000), "the holder's main thread exited");
    usleep(50000); /* its thread is inside the 500 ms update */
    cr_assert_eq(counter_cell_update(&c, add_ten, NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(nct_wait(holder, 5000), 0, "the holder's update failed (its unlock refused?)");
    uint64_t v = 0;
    cr_assert_eq(counter_cell_read(&c, &v), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(v, 11, "both updates, one after the other (got %llu: one was lost)", (unsigned long long)v);
    cr_assert_eq(counter_cell_close(&c), 0);
}

Test(cell_mp, futex_cell_from_another_pid_namespace_is_refused)
{
    if (!CORTEX_HAVE_FUTEX)
        cr_skip_test("futex backend not built");
    if (!nct_unshare_works())
        cr_skip_test("unshare --pid --fork is not permitted here");
    cortex_opts o = opts_with(&cortex_sync_futex);
    char name[64];
    ns_int_cell c;
    cr_assert_eq(ns_int_cell_create(&c, CORTEX_KEY_NAME(nct_name(name, "nscell")), 1, &o), 0);
    const char *argv[] = {nct_helper_path("ident_peer"), "cell", name, NULL};
    cr_assert_eq(nct_run_unshared(argv), 30, "a futex cell user in another pid namespace was not refused");
    cr_assert_eq(ns_int_cell_close(&c), 0);
}

/* A semaphore set of another uid (0666, made with ipcmk as nobody); -1 if it could not be made. */
static int foreign_semaphore_set(void)
{
    FILE *p = popen("setpriv --reuid=nobody --regid=nogroup --clear-groups ipcmk -S 2 -p 0666 2>/dev/null", "r");
    if (!p)
        return -1;
    int id = -1;
    if (fscanf(p, "Semaphore id: %d", &id) != 1)
        id = -1;
    pclose(p);
    return id;
}

/* The semaphore id in a cell is forged to name another uid's set: the attacher refuses it by owner. */
Test(cell_mp, semaphore_set_of_another_uid_is_refused)
{
    if (!CORTEX_HAVE_SEMAPHORE)
        cr_skip_test("semaphore backend not built");
    if (geteuid() != 0 || system("command -v setpriv >/dev/null && command -v ipcmk >/dev/null") != 0)
        cr_skip_test("needs root, setpriv and ipcmk to make a set as nobody");
    cortex_opts o = opts_with(&cortex_sync_semaphore);
    char name[64];
    counter_cell a;
    cr_assert_eq(counter_cell_create(&a, CORTEX_KEY_NAME(nct_name(name, "semuid")), 1, &o), 0);
    char *pa = cortex_region_payload(counter_cell_region(&a));
    uint32_t off;
    int32_t mine;
    memcpy(&off, pa + 12, 4);
    memcpy(&mine, pa + off + 4, 4);
    int theirs = foreign_semaphore_set();
    cr_assert_geq(theirs, 0, "ipcmk as nobody");
    int32_t forged = theirs;
    memcpy(pa + off + 4, &forged, 4);

    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        counter_cell v;
        int rc = counter_cell_attach(&v, CORTEX_KEY_NAME(name), NULL);
        const char *m = cortex_last_error()->message;
        if (write(pipefd[1], m, strlen(m)) < 0)
            _exit(9);
        _exit(rc == -EACCES ? 0 : 1);
    }
    close(pipefd[1]);
    char msgbuf[CORTEX_ERROR_MESSAGE_MAX + 1] = "";
    ssize_t n = read(pipefd[0], msgbuf, sizeof msgbuf - 1);
    msgbuf[n > 0 ? n : 0] = '\0';
    close(pipefd[0]);
    int status = nct_wait(pid, 10000);
    int untouched = semctl(theirs, 0, GETVAL) == 0 && semctl(theirs, 1, GETVAL) == 0;
    semctl(theirs, 0, IPC_RMID);
    memcpy(pa + off + 4, &mine, 4);
    cr_assert_eq(status, 0, "attach refused the other uid's set with -EACCES: %s", msgbuf);
    cr_assert(strstr(msgbuf, "uid 65534") && strstr(msgbuf, "0666"), "names owner and mode: %s", msgbuf);
    cr_assert(untouched, "the other set was neither locked nor changed");
    cr_assert_eq(counter_cell_close(&a), 0);
}
