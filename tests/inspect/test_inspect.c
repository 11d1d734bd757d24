/* SPDX-License-Identifier: MIT */
/*
 * The `neocortex` tool, driven as a user drives it: this program makes
 * segments (its own pid-unique keys and names), runs the tool (path from
 * $NEOCORTEX_TOOL, set by meson), and checks its output and exit status.
 * Every ls/gc run is restricted with --match to this process's own keys
 * and names, so parallel tests and the host's segments are never touched.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "nctest.h"

TestSuite(inspect, .fini = nct_cleanup, .timeout = 60);

#define OUT_MAX 65536

typedef struct run {
    int status; /* exit code, 128+signal, or <0 */
    char out[OUT_MAX];
    char err[OUT_MAX];
} run;

static const char *tool_path(void)
{
    const char *p = getenv("NEOCORTEX_TOOL");
    return p && p[0] ? p : nct_helper_path("neocortex");
}

/* Runs the tool with the given arguments (NULL-terminated), capturing stdout and stderr. */
static void run_tool(run *r, ...)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "neocortex";
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    memset(r, 0, sizeof *r);
    int po[2], pe[2];
    cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execv(tool_path(), (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t no = 0, ne = 0;
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    int64_t end = nct_now_ms() + 20000;
    while (open_fds > 0 && nct_now_ms() < end) {
        if (poll(fds, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char *buf = i == 0 ? r->out : r->err;
            size_t *n = i == 0 ? &no : &ne;
            char scratch[4096];
            char *dst = *n < OUT_MAX - 1 ? buf + *n : scratch;
            size_t room = *n < OUT_MAX - 1 ? OUT_MAX - 1 - *n : sizeof scratch;
            ssize_t got = read(fds[i].fd, dst, room);
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (dst != scratch) {
                *n += (size_t)got;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    r->out[no] = '\0';
    r->err[ne] = '\0';
    r->status = nct_wait(pid, 20000);
}

/* Globs that select only this process's keys (0x1PPPPPnn) and names (/nct-PID-...). */
static char key_glob[32], name_glob[64];

static void make_globs(void)
{
    snprintf(key_glob, sizeof key_glob, "0x1%05x??", (unsigned)getpid() & 0xfffffu);
    snprintf(name_glob, sizeof name_glob, "/nct-%d-*", (int)getpid());
}

static const char *keystr(int key, char buf[16])
{
    snprintf(buf, 16, "0x%08x", (unsigned)key);
    return buf;
}

static bool sysv_exists(int key) { return shmget(key, 0, 0) >= 0; }

static bool name_exists(const char *name)
{
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static const cortex_layout typed = {
    .kind = CORTEX_KIND_RAW, .payload_size = 100, .elem_size = 8, .elem_align = 8, .type_name = "nct_sample"};

static cortex_region *make(cortex_key key)
{
    cortex_region *r = NULL;
    cr_assert_eq(cortex_region_create(&r, key, &typed, NULL, NULL, NULL), 0, "%s", cortex_last_error()->message);
    return r;
}

/* The output line that mentions id, or NULL. */
static const char *line_of(const char *out, const char *id, char *line, size_t len)
{
    const char *p = strstr(out, id);
    if (!p)
        return NULL;
    const char *start = p;
    while (start > out && start[-1] != '\n')
        start--;
    const char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - start) : strlen(start);
    if (n >= len)
        n = len - 1;
    memcpy(line, start, n);
    line[n] = '\0';
    return line;
}

Test(inspect, ls_lists_sysv_and_posix_segments)
{
    make_globs();
    char name[64], ks[16], line[512], pidw[32];
    int key = nct_sysv_key();
    cortex_region *a = make(CORTEX_KEY_SYSV(key));
    cortex_region *b = make(CORTEX_KEY_NAME(nct_name(name, "ls")));
    run r;
    run_tool(&r, "ls", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
    cr_assert(strstr(r.out, "KEY/NAME"), "no header line:\n%s", r.out);
    snprintf(pidw, sizeof pidw, "%d alive", (int)getpid());

    cr_assert(line_of(r.out, keystr(key, ks), line, sizeof line), "SysV segment not listed:\n%s", r.out);
    cr_assert(strstr(line, "sysv") && strstr(line, "raw") && strstr(line, "nct_sample") && strstr(line, pidw),
              "bad line: %s", line);
    cr_assert(strstr(line, " 1 "), "SysV segment should show 1 attach: %s", line);

    cr_assert(line_of(r.out, name, line, sizeof line), "POSIX name not listed:\n%s", r.out);
    cr_assert(strstr(line, "posix") && strstr(line, "nct_sample") && strstr(line, pidw), "bad line: %s", line);
    cr_assert(strstr(line, " 1 "), "this process maps the name: 1 attached expected: %s", line);
    cr_assert(strstr(r.err, "memfd"), "ls should say memfds are out of reach: %s", r.err);

    /* After a leak nobody maps them: 0 attached. */
    cr_assert_eq(cortex_region_leak(a), 0);
    cr_assert_eq(cortex_region_leak(b), 0);
    run_tool(&r, "ls", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(line_of(r.out, keystr(key, ks), line, sizeof line));
    cr_assert(strstr(line, " 0 "), "leaked SysV segment should show 0 attached: %s", line);
    cr_assert(line_of(r.out, name, line, sizeof line));
    cr_assert(strstr(line, " 0 "), "leaked name should show 0 attached: %s", line);

    /* A filter that matches nothing of ours lists nothing. */
    run_tool(&r, "ls", "--match", "/nct-no-such-*", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "(no neocortex segments)"), "%s", r.out);
}

Test(inspect, ls_json)
{
    make_globs();
    char name[64], ks[16], want[256];
    int key = nct_sysv_key();
    cortex_region *a = make(CORTEX_KEY_SYSV(key));
    cortex_region *b = make(CORTEX_KEY_NAME(nct_name(name, "json")));
    run r;
    run_tool(&r, "ls", "--json", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(strncmp(r.out, "{\"segments\":[", 13), 0, "%s", r.out);
    cr_assert(strstr(r.out, "\"memfd\":"), "%s", r.out);
    snprintf(want, sizeof want, "{\"id\":\"%s\",\"backing\":\"sysv\",\"key\":%u,", keystr(key, ks), (unsigned)key);
    cr_assert(strstr(r.out, want), "no %s in\n%s", want, r.out);
    snprintf(want, sizeof want, "{\"id\":\"%s\",\"backing\":\"posix\",\"name\":\"%s\"", name, name);
    cr_assert(strstr(r.out, want), "no %s in\n%s", want, r.out);
    snprintf(want, sizeof want, "\"creator_pid\":%d,\"creator_alive\":true", (int)getpid());
    cr_assert(strstr(r.out, want), "no %s in\n%s", want, r.out);
    cr_assert(strstr(r.out, "\"type\":\"nct_sample\",\"elem_size\":8,\"elem_align\":8"), "%s", r.out);
    cr_assert(strstr(r.out, "\"payload_size\":100"), "%s", r.out);
    cr_assert(strstr(r.out, "\"attached\":1"), "%s", r.out);
    cr_assert(strstr(r.out, "\"state\":\"ready\""), "%s", r.out);
    /* Balanced braces and brackets, one line. */
    int depth = 0;
    bool in_str = false;
    for (const char *p = r.out; *p; p++) {
        if (in_str) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_str = false;
            continue;
        }
        if (*p == '"')
            in_str = true;
        else if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        cr_assert_geq(depth, 0);
    }
    cr_assert_eq(depth, 0);
    cr_assert_not(in_str);
    cr_assert_eq(cortex_region_close(a), 0);
    cr_assert_eq(cortex_region_close(b), 0);
}

Test(inspect, show_header)
{
    char name[64], ks[16], want[256];
    int key = nct_sysv_key();
    cortex_region *a = make(CORTEX_KEY_SYSV(key));
    cortex_region *b = make(CORTEX_KEY_NAME(nct_name(name, "show")));
    run r;
    run_tool(&r, "show", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "kind       raw"), "%s", r.out);
    cr_assert(strstr(r.out, "type       'nct_sample' (size 8, align 8"), "%s", r.out);
    cr_assert(strstr(r.out, "payload    100 bytes"), "%s", r.out);
    cr_assert(strstr(r.out, "state      ready"), "%s", r.out);
    cr_assert(strstr(r.out, "attached   1"), "%s", r.out);
    snprintf(want, sizeof want, "creator    pid %d (alive)", (int)getpid());
    cr_assert(strstr(r.out, want), "%s", r.out);

    /* The same key in decimal. */
    char dec[16];
    snprintf(dec, sizeof dec, "%d", key);
    run_tool(&r, "show", dec, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, keystr(key, ks)));

    /* A name, with and without its '/'. */
    run_tool(&r, "show", name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "POSIX name"), "%s", r.out);
    run_tool(&r, "show", "--json", name + 1, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    snprintf(want, sizeof want, "{\"segment\":{\"id\":\"%s\"", name);
    cr_assert(strstr(r.out, want), "%s", r.out);

    /* Missing ones: exit 1. */
    int gone = nct_sysv_key();
    run_tool(&r, "show", keystr(gone, ks), NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "no such segment"), "%s", r.err);
    char missing[64];
    run_tool(&r, "show", nct_name(missing, "missing"), NULL);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(cortex_region_close(a), 0);
    cr_assert_eq(cortex_region_close(b), 0);
}

Test(inspect, rm_refuses_attached_unless_forced)
{
    char name[64], ks[16];
    int key = nct_sysv_key();
    cortex_region *a = make(CORTEX_KEY_SYSV(key));
    cortex_region *b = make(CORTEX_KEY_NAME(nct_name(name, "rm")));
    run r;
    run_tool(&r, "rm", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.err, "refused") && strstr(r.err, "attached"), "%s", r.err);
    cr_assert(sysv_exists(key));
    run_tool(&r, "rm", name, NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.err, "refused"), "%s", r.err);
    cr_assert(name_exists(name));

    run_tool(&r, "rm", "--force", keystr(key, ks), name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "removed"), "%s", r.out);
    cr_assert_not(sysv_exists(key));
    cr_assert_not(name_exists(name));
    /* Our handles still work, and closing them copes with the object being gone. */
    memset(cortex_region_payload(a), 1, 100);
    cr_assert_eq(cortex_region_close(a), 0);
    cr_assert_eq(cortex_region_close(b), 0);

    /* Not there any more: 1. */
    run_tool(&r, "rm", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 1);
}

Test(inspect, rm_detached_and_its_semaphore)
{
    char name[64], ks[16];
    int key = nct_sysv_key();
    cr_assert_eq(cortex_region_leak(make(CORTEX_KEY_SYSV(key))), 0);
    cr_assert_eq(cortex_region_leak(make(CORTEX_KEY_NAME(nct_name(name, "rmleak")))), 0);
    int sem = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
    cr_assert_geq(sem, 0);
    run r;
    run_tool(&r, "rm", keystr(key, ks), name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "and its semaphore"), "%s", r.out);
    cr_assert_not(sysv_exists(key));
    cr_assert_lt(semget(key, 0, 0), 0, "semaphore left behind");
    cr_assert_not(name_exists(name));
}

/* A child creates segments, leaks them and exits: their creator is dead. */
static void leak_in_child(int key, const char *name)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cortex_region *r = NULL;
        if (cortex_region_create(&r, CORTEX_KEY_SYSV(key), &typed, NULL, NULL, NULL) < 0)
            _exit(10);
        if (cortex_region_leak(r) < 0)
            _exit(11);
        if (cortex_region_create(&r, CORTEX_KEY_NAME(name), &typed, NULL, NULL, NULL) < 0)
            _exit(12);
        if (cortex_region_leak(r) < 0)
            _exit(13);
        _exit(0);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);
}

Test(inspect, gc_removes_dead_unattached_only)
{
    make_globs();
    char dead_name[64], live_name[64], leaked_name[64], ks[16], line[512];
    int dead_key = nct_sysv_key(), live_key = nct_sysv_key(), leaked_key = nct_sysv_key();
    leak_in_child(dead_key, nct_name(dead_name, "dead"));
    cortex_region *live = make(CORTEX_KEY_SYSV(live_key));
    cortex_region *live_n = make(CORTEX_KEY_NAME(nct_name(live_name, "live")));
    /* Leaked by a live creator: not garbage either. */
    cr_assert_eq(cortex_region_leak(make(CORTEX_KEY_SYSV(leaked_key))), 0);
    cr_assert_eq(cortex_region_leak(make(CORTEX_KEY_NAME(nct_name(leaked_name, "leaked")))), 0);

    run r;
    run_tool(&r, "ls", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert(line_of(r.out, keystr(dead_key, ks), line, sizeof line), "%s", r.out);
    cr_assert(strstr(line, " dead "), "creator should be dead: %s", line);

    run_tool(&r, "gc", "--dry-run", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(line_of(r.out, keystr(dead_key, ks), line, sizeof line), "%s", r.out);
    cr_assert(strstr(line, "would remove"), "%s", line);
    cr_assert(line_of(r.out, dead_name, line, sizeof line), "%s", r.out);
    cr_assert_not(strstr(r.out, keystr(live_key, ks)), "%s", r.out);
    cr_assert_not(strstr(r.out, keystr(leaked_key, ks)), "%s", r.out);
    cr_assert_not(strstr(r.out, live_name), "%s", r.out);
    cr_assert_not(strstr(r.out, leaked_name), "%s", r.out);
    cr_assert(sysv_exists(dead_key), "dry run removed something");
    cr_assert(name_exists(dead_name), "dry run removed something");

    /* --match restricts gc: only the key goes, the dead name stays. */
    run_tool(&r, "gc", "--match", keystr(dead_key, ks), NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not(sysv_exists(dead_key), "%s", r.out);
    cr_assert(name_exists(dead_name), "gc removed a segment its --match did not select");
    cr_assert_not(strstr(r.out, dead_name), "%s", r.out);

    run_tool(&r, "gc", "--json", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"dry_run\":false"), "%s", r.out);
    cr_assert(strstr(r.out, dead_name), "%s", r.out);
    cr_assert_not(sysv_exists(dead_key));
    cr_assert_not(name_exists(dead_name));
    cr_assert(sysv_exists(live_key));
    cr_assert(sysv_exists(leaked_key));
    cr_assert(name_exists(live_name));
    cr_assert(name_exists(leaked_name));

    run_tool(&r, "gc", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "nothing to collect"), "%s", r.out);
    cr_assert_eq(cortex_region_close(live), 0);
    cr_assert_eq(cortex_region_close(live_n), 0);
}

/* A dead creator that recorded another pid namespace: "unknown", never "dead", and gc spares it. */
Test(inspect, gc_spares_a_creator_of_another_pid_namespace)
{
    make_globs();
    char name[64], ks[16], line[512];
    int key = nct_sysv_key();
    leak_in_child(key, nct_name(name, "ns"));
    int id = shmget(key, 0, 0);
    cr_assert_geq(id, 0);
    cortex_seg_header *h = shmat(id, NULL, 0);
    cr_assert_neq((void *)h, (void *)-1);
    h->creator_pidns += 1;
    h->ident_check = cortex__header_ident_check(h);
    cr_assert_eq(shmdt(h), 0);
    run r;
    run_tool(&r, "ls", "--match", keystr(key, ks), NULL);
    cr_assert(line_of(r.out, keystr(key, ks), line, sizeof line), "%s", r.out);
    cr_assert(strstr(line, " unknown "), "a creator of another namespace cannot be judged: %s", line);
    run_tool(&r, "gc", "--match", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(sysv_exists(key), "gc removed a segment whose creator it cannot judge: %s", r.out);
    /* The same creator in our namespace is dead: gc takes the name. */
    run_tool(&r, "gc", "--match", name, NULL);
    cr_assert_not(name_exists(name), "%s", r.out);
}

/* Writes bytes into a new SysV segment of 4096 bytes. */
static void sysv_with(int key, const void *bytes, size_t n)
{
    int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    cr_assert_geq(id, 0);
    void *p = shmat(id, NULL, 0);
    cr_assert_neq(p, (void *)-1);
    memcpy(p, bytes, n);
    shmdt(p);
}

static void name_with(const char *name, const void *bytes, size_t n, size_t size)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    if (n)
        cr_assert_eq(pwrite(fd, bytes, n, 0), (ssize_t)n);
    close(fd);
}

Test(inspect, corrupt_and_foreign_reported_and_left_alone)
{
    make_globs();
    unsigned char junk[512];
    cr_assert_eq(cortex__random(junk, sizeof junk), 0);
    junk[0] ^= 0x5a; /* never our magic by accident */
    unsigned char bad[512];
    memcpy(bad, junk, sizeof bad);
    uint64_t magic = CORTEX_MAGIC;
    memcpy(bad, &magic, sizeof magic); /* our magic, random rest: corrupt */

    char ks1[16], ks2[16], n1[64], n2[64], n3[64], line[1024];
    int foreign_key = nct_sysv_key(), corrupt_key = nct_sysv_key();
    sysv_with(foreign_key, junk, sizeof junk);
    sysv_with(corrupt_key, bad, sizeof bad);
    name_with(nct_name(n1, "corrupt"), bad, sizeof bad, 8192);
    name_with(nct_name(n2, "tiny"), bad, 12, 12); /* our magic, cut short */
    name_with(nct_name(n3, "empty"), NULL, 0, 0);
    keystr(foreign_key, ks1);
    keystr(corrupt_key, ks2);

    run r;
    run_tool(&r, "ls", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(line_of(r.out, ks2, line, sizeof line), "corrupt SysV segment not reported:\n%s", r.out);
    cr_assert(strstr(line, "corrupt"), "%s", line);
    cr_assert(strstr(r.out, "left alone"), "%s", r.out);
    cr_assert(line_of(r.out, n1, line, sizeof line) && strstr(line, "corrupt"), "%s", r.out);
    cr_assert(line_of(r.out, n2, line, sizeof line) && strstr(line, "corrupt"), "%s", r.out);
    cr_assert_not(strstr(r.out, ks1), "a foreign segment is not ours to list without --all:\n%s", r.out);

    run_tool(&r, "ls", "--all", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(line_of(r.out, ks1, line, sizeof line) && strstr(line, "foreign"), "%s", r.out);
    cr_assert(line_of(r.out, n3, line, sizeof line) && strstr(line, "foreign"), "%s", r.out);
    run_tool(&r, "ls", "--all", "--json", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"status\":\"corrupt\",\"problem\":"), "%s", r.out);
    cr_assert(strstr(r.out, "\"status\":\"foreign\",\"problem\":"), "%s", r.out);

    run_tool(&r, "show", ks2, NULL);
    cr_assert_eq(r.status, 3, "show of a corrupt segment: exit %d\n%s", r.status, r.out);
    cr_assert(strstr(r.out, "corrupt"), "%s", r.out);
    run_tool(&r, "show", ks1, NULL);
    cr_assert_eq(r.status, 3, "%s", r.out);
    cr_assert(strstr(r.out, "not a neocortex segment"), "%s", r.out);
    run_tool(&r, "show", n2, NULL);
    cr_assert_eq(r.status, 3, "%s", r.out);

    run_tool(&r, "gc", "--match", key_glob, "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "skipped"), "%s", r.err);
    cr_assert(sysv_exists(foreign_key) && sysv_exists(corrupt_key));
    cr_assert(name_exists(n1) && name_exists(n2) && name_exists(n3));

    run_tool(&r, "rm", ks1, NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "not a neocortex segment"), "%s", r.err);
    run_tool(&r, "rm", n1, NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(sysv_exists(foreign_key) && name_exists(n1));
    run_tool(&r, "rm", "--force", ks1, ks2, n1, n2, n3, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not(sysv_exists(foreign_key) || sysv_exists(corrupt_key));
    cr_assert_not(name_exists(n1) || name_exists(n2) || name_exists(n3));
}

/*
 * Valid headers with fields changed at random and the checksum fixed up,
 * so validation's deeper checks are reached: the tool never crashes, and
 * reports each one as ok (0) or invalid (3).
 */
Test(inspect, mutated_headers_never_crash_the_tool)
{
    char name[64];
    cortex_region *r = make(CORTEX_KEY_NAME(nct_name(name, "mut")));
    cortex_seg_header good;
    memcpy(&good, cortex_region_header(r), sizeof good);
    cr_assert_eq(cortex_region_close(r), 0);
    uint32_t seed = (uint32_t)getpid();
    int invalid = 0;
    for (int i = 0; i < 40; i++) {
        cortex_seg_header h = good;
        unsigned char *b = (unsigned char *)&h;
        int flips = 1 + (int)(seed % 4);
        for (int j = 0; j < flips; j++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = 8 + (seed >> 8) % (offsetof(cortex_seg_header, check) - 8);
            b[at] ^= (unsigned char)(1u << ((seed >> 4) % 8));
        }
        if (i % 2 == 0)
            h.check = cortex__fnv1a32(&h, offsetof(cortex_seg_header, check));
        name_with(name, &h, sizeof h, 4096);
        run out;
        run_tool(&out, "show", "--json", name, NULL);
        cr_assert(out.status == 0 || out.status == 3, "exit %d for mutation %d\n%s\n%s", out.status, i, out.out,
                  out.err);
        invalid += out.status == 3;
        cr_assert_eq(shm_unlink(name), 0);
    }
    cr_assert_gt(invalid, 0, "no mutation was caught");
}

Test(inspect, bad_arguments)
{
    static const char *const cases[][4] = {
        {NULL},
        {"frobnicate", NULL},
        {"show", NULL},
        {"show", "0", NULL},
        {"show", "a/b", NULL},
        {"show", "12abc", NULL},
        {"show", "0x1", "0x2", NULL},
        {"ls", "--bogus", NULL},
        {"ls", "extra", NULL},
        {"rm", NULL},
        {"rm", "/ok", "/not/ok", NULL},
        {"gc", "extra", NULL},
        {"gc", "--match", NULL},
    };
    run r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_tool(&r, cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);
        cr_assert_eq(r.status, 2, "case %zu (%s %s): exit %d\n%s", i, cases[i][0] ? cases[i][0] : "",
                     cases[i][0] && cases[i][1] ? cases[i][1] : "", r.status, r.err);
        cr_assert(r.err[0], "case %zu: no message on stderr", i);
    }
    run_tool(&r, "help", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "exit status"), "%s", r.out);
    run_tool(&r, "--version", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, CORTEX_VERSION_STRING), "%s", r.out);
}

/* ---- live state of the kinds, once their parts are in the build ---------- */
/* NC_HAVE_* come from tools/inspect/meson.build (inspect_part_args). */

#if NC_HAVE_DECLARE_CELL
typedef struct nct_pt {
    double x, y;
} nct_pt;
CORTEX_DECLARE(nct_pt_cell, nct_pt);

Test(inspect, show_cell_state)
{
    char ks[16], want[160];
    int key = nct_sysv_key();
    nct_pt_cell c;
    cr_assert_eq(nct_pt_cell_create(&c, CORTEX_KEY_SYSV(key), (nct_pt){1, 2}, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(nct_pt_cell_write(&c, (nct_pt){3, 4}), 0);
    cr_assert_eq(nct_pt_cell_write(&c, (nct_pt){5, 6}), 0);
    run r;
    run_tool(&r, "show", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "kind       cell"), "%s", r.out);
    cr_assert(strstr(r.out, "type       'nct_pt' (size 16, align 8"), "%s", r.out);
    snprintf(want, sizeof want, "cell       value of %zu bytes (align %zu), sequence", sizeof(nct_pt),
             _Alignof(nct_pt));
    cr_assert(strstr(r.out, want), "%s", r.out);
    cr_assert(strstr(r.out, "(even)"), "no write in progress: %s", r.out);
    cr_assert(strstr(r.out, "consistent yes"), "%s", r.out);
    cr_assert(strstr(r.out, "lock now") && strstr(r.out, ": free"), "%s", r.out);

    run_tool(&r, "show", "--json", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"live\":{\"kind\":\"cell\",\"sequence\":"), "%s", r.out);
    cr_assert(strstr(r.out, "\"consistent\":true"), "%s", r.out);
    cr_assert(strstr(r.out, "\"lock_state\":\"free\""), "%s", r.out);

    /* Corrupt the cell's own bytes: show reports it (3) and does not crash. */
    cortex_region *reg = nct_pt_cell_region(&c);
    unsigned char *payload = cortex_region_payload(reg), saved[64];
    memcpy(saved, payload, sizeof saved);
    memset(payload, 0xa5, sizeof saved);
    run_tool(&r, "show", keystr(key, ks), NULL);
    memcpy(payload, saved, sizeof saved);
    cr_assert_eq(r.status, 3, "corrupt cell state: exit %d\n%s", r.status, r.out);
    cr_assert(strstr(r.out, "EBADMSG") || strstr(r.out, "EPROTO"), "%s", r.out);
    cr_assert_eq(nct_pt_cell_close(&c), 0);
}

#if NC_HAVE_SYNC && CORTEX_HAVE_SEMAPHORE
static bool sem_exists(int semid)
{
    struct semid_ds ds;
    union {
        int val;
        struct semid_ds *buf;
    } arg = {.buf = &ds};
    return semctl(semid, 0, IPC_STAT, arg) == 0;
}

/*
 * The semaphore backend keeps {magic "SEMA", semid, key, perm} in the cell's
 * lock bytes; the test finds the id there (the layout is the cell's own,
 * so a miss fails loudly rather than passing).
 */
static int cell_semid(cortex_region *reg)
{
    const unsigned char *p = cortex_region_payload(reg);
    uint64_t n = cortex_region_payload_size(reg);
    for (uint64_t off = 0; off + 8 <= n; off += 4) {
        uint32_t magic;
        int32_t id;
        memcpy(&magic, p + off, 4);
        memcpy(&id, p + off + 4, 4);
        if (magic == 0x414d4553u && id >= 0 && sem_exists(id))
            return id;
    }
    return -1;
}

/* A cell under a POSIX name keeps its semaphore under IPC_PRIVATE: rm removes it too. */
Test(inspect, rm_cell_removes_its_private_semaphore)
{
    char name[64];
    cortex_opts o = CORTEX_OPTS_INIT;
    o.lock = &cortex_sync_semaphore;
    nct_pt_cell c;
    cr_assert_eq(nct_pt_cell_create(&c, CORTEX_KEY_NAME(nct_name(name, "semcell")), (nct_pt){1, 2}, &o), 0, "%s",
                 cortex_last_error()->message);
    int semid = cell_semid(nct_pt_cell_region(&c));
    cr_assert_geq(semid, 0, "could not find the cell's semaphore id in its lock bytes");
    run r;
    run_tool(&r, "show", "--json", name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"lock\":\"semaphore\""), "%s", r.out);
    cr_assert_eq(nct_pt_cell_leak(&c), 0);

    run_tool(&r, "rm", name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "and its semaphore"), "%s", r.out);
    cr_assert_not(name_exists(name));
    bool left = sem_exists(semid);
    if (left)
        semctl(semid, 0, IPC_RMID);
    cr_assert_not(left, "the cell's private semaphore %d was left behind", semid);
}
#endif
#endif

#if NC_HAVE_DECLARE_RING
SPSC_RING_DECLARE(nct_u64_ring, uint64_t);

Test(inspect, show_ring_state)
{
    char name[64], want[160];
    nct_u64_ring q;
    cr_assert_eq(nct_u64_ring_create(&q, CORTEX_KEY_NAME(nct_name(name, "ring")), 16, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(nct_u64_ring_push(&q, i), 0);
    run r;
    run_tool(&r, "show", name, NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "kind       ring"), "%s", r.out);
    cr_assert(strstr(r.out, "ring       16 slots of 8 bytes"), "%s", r.out);
    cr_assert(strstr(r.out, "produced 5, consumed 0: 5 queued"), "%s", r.out);
    snprintf(want, sizeof want, "producer   pid %d (alive)", (int)getpid());
    cr_assert(strstr(r.out, want), "%s", r.out);
    cr_assert(strstr(r.out, "consumer   none"), "%s", r.out);

    run_tool(&r, "show", "--json", name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"live\":{\"kind\":\"ring\",\"capacity\":16,\"elem_size\":8,\"prod\":5,\"cons\":0,\"fill\":5"),
              "%s", r.out);

    /* Corrupt ring bytes: reported (3), never a crash. */
    cortex_region *reg = nct_u64_ring_region(&q);
    unsigned char *payload = cortex_region_payload(reg), saved[256];
    memcpy(saved, payload, sizeof saved);
    memset(payload, 0xff, sizeof saved);
    run_tool(&r, "show", name, NULL);
    memcpy(payload, saved, sizeof saved);
    cr_assert_eq(r.status, 3, "corrupt ring: exit %d\n%s", r.status, r.out);
    cr_assert_eq(nct_u64_ring_close(&q), 0);
}
#endif

#if NC_HAVE_DECLARE_BROADCAST
BROADCAST_DECLARE(nct_u64_bc, uint64_t);

/* A broadcast of 16 (4 entries) under a fresh name, 5 pushed; reader a read 3 (lag 2), reader b none (lag 5). */
static void two_readers(nct_u64_bc *w, nct_u64_bc *a, nct_u64_bc *b, char name[64], const char *tag, unsigned flags)
{
    cr_assert_eq(nct_u64_bc_create(w, CORTEX_KEY_NAME(nct_name(name, tag)), 16, 4, flags, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(nct_u64_bc_join(a, CORTEX_KEY_NAME(name), CORTEX_BROADCAST_NEWEST, NULL), 0);
    cr_assert_eq(nct_u64_bc_join(b, CORTEX_KEY_NAME(name), CORTEX_BROADCAST_NEWEST, NULL), 0);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(nct_u64_bc_push(w, i), 0);
    uint64_t v;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(nct_u64_bc_pop(a, &v), 0);
}

/* show lists the writer and each reader with its position and lag; corrupt bytes are reported, never a crash. */
Test(inspect, show_broadcast_readers)
{
    char name[64], want[160];
    nct_u64_bc w, a, b;
    two_readers(&w, &a, &b, name, "bcast", CORTEX_BROADCAST_LOSSY);
    run r;
    run_tool(&r, "show", name, NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "kind       broadcast"), "%s", r.out);
    cr_assert(strstr(r.out, "broadcast  lossy, 16 slots of 8 bytes, 2 of 4 reader entries held"), "%s", r.out);
    cr_assert(strstr(r.out, "head       5 published"), "%s", r.out);
    snprintf(want, sizeof want, "reader 0   pid %d (alive), at 3, lag 2", (int)getpid());
    cr_assert(strstr(r.out, want), "%s", r.out);
    snprintf(want, sizeof want, "reader 1   pid %d (alive), at 0, lag 5", (int)getpid());
    cr_assert(strstr(r.out, want), "%s", r.out);
    run_tool(&r, "show", "--json", name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"kind\":\"broadcast\",\"mode\":\"lossy\",\"capacity\":16"), "%s", r.out);
    cr_assert(strstr(r.out, "\"cursor\":3,\"lag\":2}"), "%s", r.out);
    run_tool(&r, "ls", NULL);
    cr_assert(strstr(r.out, "broadcast"), "%s", r.out);

    cortex_region *reg = nct_u64_bc_region(&w);
    unsigned char *payload = cortex_region_payload(reg), saved[64];
    memcpy(saved, payload, sizeof saved);
    memset(payload, 0xff, sizeof saved);
    run_tool(&r, "show", name, NULL);
    memcpy(payload, saved, sizeof saved);
    cr_assert_eq(r.status, 3, "corrupt broadcast: exit %d\n%s", r.status, r.out);
    nct_u64_bc_close(&a);
    nct_u64_bc_close(&b);
    cr_assert_eq(nct_u64_bc_close(&w), 0);
}
#endif

#if NC_HAVE_DECLARE_SLAB
typedef struct nct_msg {
    uint64_t seq;
    char text[56];
} nct_msg;
SLAB_DECLARE(nct_msg_slab, nct_msg);

Test(inspect, show_slab_state)
{
    char name[64];
    nct_msg_slab s;
    cr_assert_eq(nct_msg_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, "slab")), 8, NULL), 0, "%s",
                 cortex_last_error()->message);
    cortex_handle h[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(nct_msg_slab_alloc(&s, &h[i]), 0);
    cr_assert_eq(nct_msg_slab_free(&s, h[1]), 0);
    /* A child takes two slots and dies holding them. */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        nct_msg_slab mine;
        cortex_handle a, b;
        if (nct_msg_slab_attach(&mine, CORTEX_KEY_NAME(name), NULL) < 0)
            _exit(2);
        if (nct_msg_slab_alloc(&mine, &a) < 0 || nct_msg_slab_alloc(&mine, &b) < 0)
            _exit(3);
        _exit(0);
    }
    cr_assert_eq(nct_wait(pid, 10000), 0);

    run r;
    run_tool(&r, "show", name, NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "kind       slab"), "%s", r.out);
    cr_assert(strstr(r.out, "slab       8 slots of"), "%s", r.out);
    cr_assert(strstr(r.out, "slots      4 free, 4 allocated, 0 in flight; high-water 4"), "%s", r.out);
    cr_assert(strstr(r.out, "dead       2 slot(s) held by processes that no longer exist"), "%s", r.out);
    cr_assert(strstr(r.out, "free list  ok"), "%s", r.out);

    run_tool(&r, "show", "--json", name, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"live\":{\"kind\":\"slab\",\"classes\":1,\"slots\":8,"), "%s", r.out);
    cr_assert(strstr(r.out, "\"free\":4,\"allocated\":4,\"in_flight\":0,\"high_water\":4"), "%s", r.out);
    cr_assert(strstr(r.out, "\"dead_held\":2"), "%s", r.out);
    cr_assert(strstr(r.out, "\"list_ok\":true"), "%s", r.out);

    /* Corrupt slab bytes: reported (3), never a crash. */
    cortex_region *reg = nct_msg_slab_region(&s);
    unsigned char *payload = cortex_region_payload(reg), saved[256];
    memcpy(saved, payload, sizeof saved);
    memset(payload, 0xff, sizeof saved);
    run_tool(&r, "show", name, NULL);
    memcpy(payload, saved, sizeof saved);
    cr_assert_eq(r.status, 3, "corrupt slab: exit %d\n%s", r.status, r.out);
    cr_assert_eq(nct_msg_slab_close(&s), 0);
}
#endif

/* ---- top: live rates from two readings ------------------------------------ */

#if NC_HAVE_DECLARE_CELL && NC_HAVE_DECLARE_RING && NC_HAVE_DECLARE_SLAB
CORTEX_DECLARE(nct_count_cell, uint64_t);

/* The n-th line (from 0) of text into buf; false if there is none. */
static bool nth_line(const char *text, int n, char *buf, size_t len)
{
    for (; n > 0 && text; n--) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    if (!text || !*text)
        return false;
    size_t l = strcspn(text, "\n");
    if (l >= len)
        l = len - 1;
    memcpy(buf, text, l);
    buf[l] = '\0';
    return true;
}

/* The JSON object of segment @id in a `top --json` frame, cut at the next segment, into buf. */
static bool top_segment(const char *frame, const char *id, char *buf, size_t len)
{
    char want[128];
    snprintf(want, sizeof want, "{\"id\":\"%s\"", id);
    const char *at = strstr(frame, want);
    if (!at)
        return false;
    const char *end = strstr(at + 1, "{\"id\":");
    size_t l = end ? (size_t)(end - at) : strlen(at);
    if (l >= len)
        l = len - 1;
    memcpy(buf, at, l);
    buf[l] = '\0';
    return true;
}

/* The number after "key": in obj; false when absent or null. */
static bool json_number(const char *obj, const char *key, double *out)
{
    char want[64];
    snprintf(want, sizeof want, "\"%s\":", key);
    const char *at = strstr(obj, want);
    if (!at)
        return false;
    at += strlen(want);
    char *end;
    *out = strtod(at, &end);
    return end != at;
}

/*
 * A child producing at a steady pace: pushes into the ring and writes the
 * cell every 2 ms until @stop is closed (at most 20 s).  Says it started
 * through @ready once the first message is in.
 */
static void pace_child(const char *ring, const char *cell, int ready, int stop)
{
    nct_u64_ring q;
    nct_count_cell c;
    if (nct_u64_ring_attach(&q, CORTEX_KEY_NAME(ring), CORTEX_PRODUCER, NULL) < 0)
        _exit(2);
    if (nct_count_cell_attach(&c, CORTEX_KEY_NAME(cell), NULL) < 0)
        _exit(3);
    int64_t end = nct_now_ms() + 20000;
    for (uint64_t i = 1; nct_now_ms() < end; i++) {
        int rc = nct_u64_ring_push(&q, i);
        if (rc < 0 && rc != -EAGAIN)
            _exit(4);
        if (nct_count_cell_write(&c, i) < 0)
            _exit(5);
        if (i == 1 && write(ready, "r", 1) != 1)
            _exit(6);
        struct pollfd p = {.fd = stop, .events = POLLIN};
        if (poll(&p, 1, 2) != 0)
            break; /* closed: the test is done */
    }
    nct_u64_ring_close(&q);
    nct_count_cell_close(&c);
    _exit(0);
}

Test(inspect, top_json_rates_of_a_live_ring_cell_and_slab)
{
    make_globs();
    char ring[64], cell[64], slab[64];
    nct_u64_ring q;
    cr_assert_eq(nct_u64_ring_create(&q, CORTEX_KEY_NAME(nct_name(ring, "top-ring")), 1024, CORTEX_CONSUMER, NULL), 0,
                 "%s", cortex_last_error()->message);
    nct_count_cell c;
    cr_assert_eq(nct_count_cell_create(&c, CORTEX_KEY_NAME(nct_name(cell, "top-cell")), 0, NULL), 0, "%s",
                 cortex_last_error()->message);
    nct_msg_slab s;
    cr_assert_eq(nct_msg_slab_create(&s, CORTEX_KEY_NAME(nct_name(slab, "top-slab")), 16, NULL), 0, "%s",
                 cortex_last_error()->message);
    cortex_handle h[5];
    for (int i = 0; i < 5; i++)
        cr_assert_eq(nct_msg_slab_alloc(&s, &h[i]), 0);
    cr_assert_eq(nct_msg_slab_free(&s, h[4]), 0); /* 4 in use, high-water 5 */

    int ready[2], stop[2];
    cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        close(stop[1]);
        pace_child(ring, cell, ready[1], stop[0]);
    }
    close(ready[1]);
    close(stop[0]);
    char byte;
    struct pollfd p = {.fd = ready[0], .events = POLLIN};
    bool started = poll(&p, 1, 10000) == 1 && read(ready[0], &byte, 1) == 1;

    run r;
    if (started)
        run_tool(&r, "top", "-n", "2", "--interval", "0.2", "--json", "--match", name_glob, NULL);
    close(stop[1]);
    close(ready[0]);
    int child = nct_wait(pid, 10000);
    cr_assert(started, "the pacing child did not start (exit %d)", child);
    cr_assert_eq(child, 0, "pacing child failed: %d", child);
    cr_assert_eq(r.status, 0, "top: exit %d\n%s\n%s", r.status, r.out, r.err);

    char line[8192], obj[2048];
    double v, in_rate = 0, writes = 0;
    for (int f = 0; f < 2; f++) {
        cr_assert(nth_line(r.out, f, line, sizeof line), "frame %d missing:\n%s", f + 1, r.out);
        char head[32];
        snprintf(head, sizeof head, "{\"frame\":%d,", f + 1);
        cr_assert_eq(strncmp(line, head, strlen(head)), 0, "%s", line);

        cr_assert(top_segment(line, ring, obj, sizeof obj), "ring not in frame %d: %s", f + 1, line);
        cr_assert(strstr(obj, "\"kind\":\"ring\"") && strstr(obj, "\"capacity\":1024"), "%s", obj);
        cr_assert(strstr(obj, "\"indices_ok\":true") && strstr(obj, "\"attached\":"), "%s", obj);
        cr_assert(json_number(obj, "fill", &v) && v >= 1 && v <= 1024, "fill: %s", obj);
        cr_assert(json_number(obj, "fill_pct", &v) && v > 0 && v <= 100, "fill_pct: %s", obj);
        cr_assert(json_number(obj, "out_per_s", &v) && v == 0, "nobody pops: %s", obj);
        if (json_number(obj, "in_per_s", &v))
            in_rate = v > in_rate ? v : in_rate;

        cr_assert(top_segment(line, cell, obj, sizeof obj), "cell not in frame %d: %s", f + 1, line);
        cr_assert(strstr(obj, "\"kind\":\"cell\"") && strstr(obj, "\"consistent\":true"), "%s", obj);
        if (json_number(obj, "writes_per_s", &v))
            writes = v > writes ? v : writes;

        cr_assert(top_segment(line, slab, obj, sizeof obj), "slab not in frame %d: %s", f + 1, line);
        cr_assert(strstr(obj, "\"slots\":16,\"allocated\":4,\"in_flight\":0,\"free\":12,\"high_water\":5"), "%s", obj);
        cr_assert(json_number(obj, "used_pct", &v) && v == 25.0, "%s", obj);
        cr_assert(json_number(obj, "failed_per_s", &v) && v == 0, "%s", obj);
    }
    cr_assert_not(nth_line(r.out, 2, line, sizeof line), "more than the 2 frames asked for:\n%s", r.out);
    cr_assert_gt(in_rate, 0, "no ring rate while a child pushes:\n%s", r.out);
    cr_assert_gt(writes, 0, "no cell write rate while a child writes:\n%s", r.out);

    cr_assert_eq(nct_msg_slab_close(&s), 0);
    cr_assert_eq(nct_count_cell_close(&c), 0);
    cr_assert_eq(nct_u64_ring_close(&q), 0);
}

/* A ring of 16 under a fresh name (into ring), this process its producer. */
static void top_ring(nct_u64_ring *q, char ring[64], const char *tag)
{
    cr_assert_eq(nct_u64_ring_create(q, CORTEX_KEY_NAME(nct_name(ring, tag)), 16, CORTEX_PRODUCER, NULL), 0, "%s",
                 cortex_last_error()->message);
}

/* On a pipe: plain tables one after another, no terminal escapes. */
Test(inspect, top_text_on_a_pipe)
{
    make_globs();
    char ring[64];
    nct_u64_ring q;
    top_ring(&q, ring, "top-text");
    for (uint64_t i = 0; i < 4; i++)
        cr_assert_eq(nct_u64_ring_push(&q, i), 0);
    run r;
    run_tool(&r, "top", "--iterations", "2", "--interval", "0.05", "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert_not(strchr(r.out, '\033'), "escape codes on a pipe:\n%s", r.out);
    const char *first = strstr(r.out, "neocortex top - ");
    cr_assert(first && strstr(first + 1, "neocortex top - "), "two frames expected:\n%s", r.out);
    cr_assert_not(strstr(strstr(first + 1, "neocortex top - ") + 1, "neocortex top - "), "%s", r.out);
    char line[1024];
    cr_assert(line_of(r.out, ring, line, sizeof line), "%s", r.out);
    cr_assert(strstr(line, "ring") && strstr(line, "4/16 (25%)"), "%s", line);
    cr_assert(strstr(line, "in 0.0/s, out 0.0/s"), "%s", line);
    cr_assert_eq(nct_u64_ring_close(&q), 0);
}

/* Garbage, a header cut short and a valid header over wrecked ring bytes: reported, never a crash. */
Test(inspect, top_survives_hostile_segments)
{
    make_globs();
    unsigned char bad[512];
    cr_assert_eq(cortex__random(bad, sizeof bad), 0);
    uint64_t magic = CORTEX_MAGIC;
    memcpy(bad, &magic, sizeof magic);
    char n1[64], n2[64], n3[64], ring[64], obj[2048];
    name_with(nct_name(n1, "top-bad"), bad, sizeof bad, 8192);
    name_with(nct_name(n2, "top-tiny"), bad, 12, 12);
    name_with(nct_name(n3, "top-\033[2J"), bad, sizeof bad, 8192); /* a name that would clear a terminal */
    nct_u64_ring q;
    top_ring(&q, ring, "top-wreck");
    cortex_region *reg = nct_u64_ring_region(&q);
    unsigned char *payload = cortex_region_payload(reg), saved[256];
    memcpy(saved, payload, sizeof saved);
    memset(payload, 0xff, sizeof saved);

    run r, t;
    run_tool(&r, "top", "-n", "2", "--interval", "0.05", "--json", "--match", name_glob, NULL);
    run_tool(&t, "top", "-n", "1", "--interval", "0.05", "--match", name_glob, NULL);
    memcpy(payload, saved, sizeof saved);
    cr_assert_eq(r.status, 0, "top --json: exit %d\n%s\n%s", r.status, r.out, r.err);
    char line[8192];
    cr_assert(nth_line(r.out, 1, line, sizeof line), "%s", r.out);
    cr_assert(top_segment(line, n1, obj, sizeof obj) && strstr(obj, "\"status\":\"corrupt\",\"problem\":"), "%s",
              line);
    cr_assert(top_segment(line, n2, obj, sizeof obj) && strstr(obj, "\"status\":\"corrupt\""), "%s", line);
    cr_assert(top_segment(line, ring, obj, sizeof obj), "%s", line);
    cr_assert(strstr(obj, "\"error\":"), "a wrecked ring must say so: %s", obj);
    cr_assert_not(strstr(obj, "\"in_per_s\":") && !strstr(obj, "\"in_per_s\":null"),
                  "no rate from impossible indices: %s", obj);

    cr_assert_eq(t.status, 0, "top: exit %d\n%s\n%s", t.status, t.out, t.err);
    cr_assert_not(strchr(t.out, '\033'), "a name's escape sequence reached the terminal:\n%s", t.out);
    cr_assert(strstr(r.out, "top-\\u001b[2J"), "the name, escaped, in JSON: %s", r.out);
    cr_assert(line_of(t.out, n1, line, sizeof line) && strstr(line, "corrupt"), "%s", t.out);
    cr_assert(line_of(t.out, ring, line, sizeof line), "%s", t.out);
    /* ls, show and gc print that name safely too. */
    run_tool(&t, "ls", "--match", name_glob, NULL);
    cr_assert(strstr(t.out, "top-?[2J") && !strchr(t.out, '\033'), "ls:\n%s", t.out);
    run_tool(&t, "show", n3, NULL);
    cr_assert(strstr(t.out, "top-?[2J") && !strchr(t.out, '\033'), "show:\n%s", t.out);
    run_tool(&t, "gc", "--dry-run", "--match", name_glob, NULL);
    cr_assert(strstr(t.err, "top-?[2J") && !strchr(t.err, '\033'), "gc:\n%s", t.err);
    cr_assert_eq(nct_u64_ring_close(&q), 0);
}

/* On a terminal: each frame clears the screen and redraws the table. */
Test(inspect, top_redraws_a_terminal)
{
    make_globs();
    char ring[64];
    nct_u64_ring q;
    top_ring(&q, ring, "top-tty");
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    cr_assert_geq(master, 0);
    cr_assert_eq(grantpt(master), 0);
    cr_assert_eq(unlockpt(master), 0);
    char slave[128];
    cr_assert_eq(ptsname_r(master, slave, sizeof slave), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(slave, O_RDWR | O_NOCTTY);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(tool_path(), "neocortex", "top", "-n", "2", "--interval", "0.05", "--match", name_glob, (char *)NULL);
        _exit(127);
    }
    static char out[OUT_MAX];
    size_t n = 0;
    int64_t end = nct_now_ms() + 20000;
    while (n < sizeof out - 1 && nct_now_ms() < end) {
        struct pollfd p = {.fd = master, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t got = read(master, out + n, sizeof out - 1 - n);
        if (got <= 0)
            break; /* EIO once the tool has exited and closed the terminal */
        n += (size_t)got;
    }
    out[n] = '\0';
    close(master);
    int status = nct_wait(pid, 10000);
    cr_assert_eq(status, 0, "top on a terminal: exit %d\n%s", status, out);
    const char *clear = "\033[H\033[2J";
    const char *first = strstr(out, clear);
    cr_assert(first, "no clear-screen on a terminal:\n%s", out);
    cr_assert(strstr(first + 1, clear), "the second frame does not redraw:\n%s", out);
    cr_assert(strstr(out, ring), "%s", out);
    cr_assert_eq(nct_u64_ring_close(&q), 0);
}

Test(inspect, top_bad_arguments)
{
    const char *cases[][3] = {
        {"--interval", "0", NULL}, {"--interval", "abc", NULL}, {"--interval", "nan", NULL},
        {"-n", "0", NULL},         {"-n", "-3", NULL},          {"-n", "1x", NULL},
        {"--all", NULL, NULL},     {"extra", NULL, NULL},       {"--interval", NULL, NULL},
        {"--dry-run", NULL, NULL}, {"-n", NULL, NULL},          {"--iterations", "two", NULL},
    };
    run r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_tool(&r, "top", cases[i][0], cases[i][1], NULL);
        cr_assert_eq(r.status, 2, "top %s %s: exit %d\n%s", cases[i][0], cases[i][1] ? cases[i][1] : "", r.status,
                     r.err);
        cr_assert(r.err[0], "case %zu: no message", i);
    }
    run_tool(&r, "top", "--help", NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "usage: neocortex top [--json] [--interval SECONDS] [-n N]"), "%s", r.out);
}
#if NC_HAVE_DECLARE_BROADCAST
/* top samples a broadcast ring: mode, head, the writer, every reader's position and lag, in JSON and text. */
Test(inspect, top_broadcast_readers_and_lag)
{
    make_globs();
    char name[64], want[256], obj[4096], line[8192];
    nct_u64_bc w, a, b;
    two_readers(&w, &a, &b, name, "top-bcast", CORTEX_BROADCAST_LOSSLESS);
    run r;
    run_tool(&r, "top", "-n", "2", "--interval", "0.05", "--json", "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "top: exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert(nth_line(r.out, 1, line, sizeof line), "second frame missing:\n%s", r.out);
    cr_assert(top_segment(line, name, obj, sizeof obj), "broadcast not in the frame: %s", line);
    snprintf(want, sizeof want, "\"broadcast\":{\"mode\":\"lossless\",\"capacity\":16,\"head\":5,\"writer\":{\"pid\":%d,"
             "\"alive\":true,\"closed\":false},\"max_readers\":4,\"max_lag\":5", (int)getpid());
    cr_assert(strstr(obj, want), "%s", obj);
    snprintf(want, sizeof want, "{\"entry\":0,\"pid\":%d,\"alive\":true,\"cursor\":3,\"lag\":2}", (int)getpid());
    cr_assert(strstr(obj, want), "%s", obj);
    snprintf(want, sizeof want, "{\"entry\":1,\"pid\":%d,\"alive\":true,\"cursor\":0,\"lag\":5}", (int)getpid());
    cr_assert(strstr(obj, want), "%s", obj);
    double d;
    cr_assert(json_number(obj, "lag_pct", &d) && d == 100.0 * 5 / 16, "%s", obj);
    cr_assert(json_number(obj, "published_per_s", &d) && d == 0, "nothing pushed between frames: %s", obj);

    run_tool(&r, "top", "-n", "1", "--interval", "0.05", "--match", name_glob, NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert(line_of(r.out, name, line, sizeof line), "%s", r.out);
    cr_assert(strstr(line, "broadcast") && strstr(line, "5/16 (31%)"), "%s", line);
    snprintf(want, sizeof want, "lossless, writer %d alive, 2/4 readers: entry 0 pid %d at 3 lag 2, entry 1 pid %d at 0 lag 5",
             (int)getpid(), (int)getpid(), (int)getpid());
    cr_assert(strstr(line, want), "%s", line);
    nct_u64_bc_close(&a);
    nct_u64_bc_close(&b);
    cr_assert_eq(nct_u64_bc_close(&w), 0);
}
#endif
#endif

/* show reads a segment whatever its mode: the trust rules of attach are for users, not the inspector. */
Test(inspect, show_reads_a_group_or_world_readable_cell)
{
    /* A SysV key: the cell's semaphore, if any, lives under it and the fini removes it even on failure. */
    char ks[16];
    int key = nct_sysv_key();
    cortex_opts o = CORTEX_OPTS_INIT;
    o.perm = CORTEX_PERM_EVERYBODY;
    int64_t v = 42;
    cortex_cell *c = NULL;
    cr_assert_eq(cortex_cell_create(&c, CORTEX_KEY_SYSV(key), &v, sizeof v, _Alignof(int64_t), "int64_t", &o), 0,
                 "%s", cortex_last_error()->message);
    run r;
    run_tool(&r, "show", keystr(key, ks), NULL);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert_null(strstr(r.out, "cannot attach"), "%s", r.out);
    cr_assert_eq(cortex_cell_close(c), 0);
}
