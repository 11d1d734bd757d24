/* SPDX-License-Identifier: MIT */
/*
 * lib/os/proc.c: the one process identity every liveness verdict goes through.
 *
 * A record in shared memory names a process by its pid plus what makes
 * that pid exact: the start time the process read for itself, and a
 * "stamp", a boot-relative time (in clock ticks, like /proc/PID/stat field
 * 22) at which the process was known to run under that pid.  The verdict
 * compares them with the kernel's start time S of whatever runs at the pid
 * now:
 *
 *   - S == recorded start                         -> alive (the same process)
 *   - S <  stamp: it ran at the pid at the stamp,
 *     and a pid is one process at a time          -> alive (the writer), also
 *     when an emulator (qemu-user) reports a start time of its own
 *   - S >  stamp, or S > the time an observer saw
 *     the pid named ("seen")                       -> dead (the pid was reused)
 *   - no such process (kill(pid, 0) == ESRCH), or
 *     every thread of it a zombie                  -> dead
 *   - the pid exists but its start time cannot be
 *     read (hidepid=2, no /proc, a /proc of another
 *     pid namespace), or nothing recorded decides -> unknown
 *
 * A process is alive while any of its threads is: a main thread in state Z
 * after pthread_exit() with other threads running does not make it dead.
 * Only "dead" may lead to a takeover or a reclaim.
 */
#define _GNU_SOURCE
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Tests only (cortex__proc_test_hide): 1 hides other processes' /proc entries, 2 all of /proc. */
static int hide_proc;

void cortex__proc_test_hide(int mode) { hide_proc = mode; }

/* /proc/PID/stat reports USER_HZ ticks; Linux fixes USER_HZ at 100 for user space. */
uint64_t cortex__ticks_per_sec(void)
{
    static long hz;
    long v = __atomic_load_n(&hz, __ATOMIC_RELAXED);
    if (v <= 0) {
        v = sysconf(_SC_CLK_TCK);
        if (v <= 0)
            v = 100;
        __atomic_store_n(&hz, v, __ATOMIC_RELAXED);
    }
    return (uint64_t)v;
}

uint64_t cortex__wall_to_ticks(int64_t wall_ns)
{
    int64_t age = cortex__realtime_ns() - wall_ns;
    uint64_t hz = cortex__ticks_per_sec(), now = cortex__boot_ticks();
    uint64_t back = age > 0 ? (uint64_t)age / (1000000000u / hz) : 0;
    return now > back ? now - back : 1;
}

uint64_t cortex__boot_ticks(void)
{
    struct timespec ts;
#ifdef CLOCK_BOOTTIME
    if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
#endif
        clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t hz = cortex__ticks_per_sec();
    return (uint64_t)ts.tv_sec * hz + (uint64_t)ts.tv_nsec / (1000000000u / hz);
}

/* Reads /proc/<dir>/stat: state (field 3) and start time (field 22).  0 or -errno. */
static int read_stat(const char *dir, char *state, uint64_t *start)
{
#ifdef __linux__
    char path[96], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -EIO;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may hold spaces and ')' */
    if (!p || p[1] != ' ' || !p[2])
        return -EIO;
    p += 2;
    *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EIO;
        p++;
    }
    char *end;
    *start = strtoull(p, &end, 10);
    return end == p ? -EIO : 0;
#else
    CORTEX_UNUSED(dir);
    CORTEX_UNUSED(state);
    CORTEX_UNUSED(start);
    return -ENOSYS;
#endif
}

/*
 * Can /proc/PID name other processes of our pid namespace?  Not when /proc is
 * missing or hidden, nor when it is the /proc of another pid namespace
 * (unshare --pid without --mount-proc): /proc/self then names us by another pid.
 */
static bool proc_usable(void)
{
    if (hide_proc >= 2 || cortex__os_no(CORTEX__OS_NO_PROC_START))
        return false;
    char link[32];
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    return strtol(link, NULL, 10) == (long)getpid();
}

uint64_t cortex__pid_start_time(pid_t pid)
{
    char st, dir[24];
    uint64_t start = 0;
    if (pid <= 0 || (hide_proc && pid != getpid()))
        return 0;
    if (!proc_usable()) /* sysctl or proc_pidinfo where there is no /proc (lib/os/darwin.c, freebsd.c) */
        return cortex__os_pid_info(pid, &st, &start) == 0 ? start : 0;
    snprintf(dir, sizeof dir, "%d", (int)pid);
    return read_stat(dir, &st, &start) == 0 ? start : 0;
}

/* Does any thread of @pid (whose main thread is a zombie) still run?  1 yes, 0 no, -1 cannot tell. */
static int any_thread_running(pid_t pid)
{
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char dir[96], st;
        uint64_t start;
        snprintf(dir, sizeof dir, "%d/task/%.20s", (int)pid, de->d_name);
        if (read_stat(dir, &st, &start) == 0 && st != 'Z' && st != 'X')
            found = 1;
    }
    closedir(d);
    return found;
}

/* Undoes the 32-bit truncation of a stamp: the latest time <= now with those low bits. */
static uint64_t widen_stamp(uint32_t stamp, uint64_t now)
{
    uint32_t back = (uint32_t)now - stamp;
    return now >= back ? now - back : 0;
}

static cortex__liveness verdict(cortex__liveness v, const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return v;
}

/* The pid exists (or kill cannot tell): dead only on ESRCH. */
static cortex__liveness by_signal(pid_t pid, const char **why, const char *reason)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return verdict(CORTEX__DEAD, why, "no process has that pid");
    return verdict(CORTEX__UNKNOWN, why, reason);
}

static cortex__liveness by_start(const cortex__proc_id *id, uint64_t s, uint64_t slack, const char **why);

cortex__liveness cortex__proc_verdict(const cortex__proc_id *id, const char **why)
{
    pid_t pid = id->pid;
    if (pid <= 0)
        return verdict(CORTEX__DEAD, why, "no pid recorded");
    char st, dir[24];
    uint64_t s = 0;
    if (!proc_usable()) {
        int rc = cortex__os_pid_info(pid, &st, &s);
        if (rc == -ESRCH)
            return verdict(CORTEX__DEAD, why, "no process has that pid");
        if (rc < 0)
            return by_signal(pid, why, "the pid exists but /proc cannot tell which process it is (no /proc, "
                                       "or a /proc of another pid namespace)");
        if (st == 'Z')
            return verdict(CORTEX__DEAD, why, "the process has exited (a zombie)");
        return by_start(id, s, 2, why);
    }
    snprintf(dir, sizeof dir, "%d", (int)pid);
    int rc = (hide_proc && pid != getpid()) ? -ENOENT : read_stat(dir, &st, &s);
    if (rc < 0)
        return by_signal(pid, why, "the pid exists but its /proc entry is hidden (hidepid?): its start time "
                                   "cannot be checked");
    if (st == 'Z' || st == 'X') {
        int running = any_thread_running(pid);
        if (running < 0)
            return verdict(CORTEX__UNKNOWN, why, "its main thread exited and its threads cannot be listed");
        if (running == 0)
            return verdict(CORTEX__DEAD, why, "the process has exited (a zombie)");
    }
    return by_start(id, s, 0, why);
}

/*
 * A process started at @s runs at the recorded pid: is it the recorded one?
 * @slack: ticks by which two readings of one start time may differ (0 from
 * /proc; a start time carried over from the wall clock, as proc_pidinfo and
 * sysctl give it, may move by a tick between readings).  Within the slack
 * nothing is dead: ambiguity is "unknown" or, for the same start, alive.
 */
static cortex__liveness by_start(const cortex__proc_id *id, uint64_t s, uint64_t slack, const char **why)
{
    if (id->start != 0 && s <= id->start + slack && s + slack >= id->start)
        return verdict(CORTEX__ALIVE, why, "running, same start time");
    if (id->stamp != 0) {
        uint64_t w = widen_stamp(id->stamp, cortex__boot_ticks());
        if (s + slack < w)
            return verdict(CORTEX__ALIVE, why, "running since before its record was written");
        if (s > w + slack)
            return verdict(CORTEX__DEAD, why, "the pid was reused: its process started after the record");
    }
    if (id->seen != 0 && s > id->seen + slack)
        return verdict(CORTEX__DEAD, why, "the pid was reused: its process started after it was seen recorded");
    if (id->start != 0 && id->stamp == 0)
        return verdict(CORTEX__DEAD, why, "the pid was reused: another start time");
    return verdict(CORTEX__UNKNOWN, why, "a process runs at that pid, but the record cannot say it is the one "
                                         "that wrote it");
}

bool cortex__pid_alive(pid_t pid, uint64_t start)
{
    cortex__proc_id id = {.pid = pid, .start = start};
    return cortex__proc_verdict(&id, NULL) != CORTEX__DEAD;
}

/* ---- this process ---------------------------------------------------------- */

/* Not cached: a child forked after unshare(CLONE_NEWPID) is in another namespace than its parent. */
uint64_t cortex__self_pidns(void)
{
    struct stat st;
    if (hide_proc >= 2 || stat("/proc/self/ns/pid", &st) != 0)
        return 0;
    return (uint64_t)st.st_ino;
}

static uint64_t read_boot(void)
{
    char buf[64];
    if (hide_proc >= 2)
        return 0;
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 32)
        return 0;
    uint64_t h = cortex__fnv1a64(buf, 36 < (size_t)n ? 36 : (size_t)n);
    return h ? h : 1;
}

/* The boot id does not change while we run: read once. */
uint64_t cortex__self_boot(void)
{
    static uint64_t boot;
    uint64_t v = __atomic_load_n(&boot, __ATOMIC_RELAXED);
    if (v == 0) {
        v = read_boot();
        __atomic_store_n(&boot, v, __ATOMIC_RELAXED);
    }
    return v;
}

/*
 * A stamp for this process: a boot time at which it runs under its pid, made
 * strictly later than its start (a verdict reads "started at the stamp" as
 * ambiguous), so a process that stamps within its first tick waits for the
 * next one, once.
 */
uint32_t cortex__make_stamp(void)
{
    uint64_t start = cortex__self_start();
    uint64_t now = cortex__boot_ticks();
    while (start != 0 && now <= start) {
        cortex__sleep_ns((int64_t)(1000000000u / cortex__ticks_per_sec()) / 4);
        now = cortex__boot_ticks();
    }
    uint32_t s = (uint32_t)now;
    return s ? s : 1;
}

/* Per image: random, so an exec'd image (same pid, same start time) tells itself from its predecessor. */
static uint64_t image_token;

uint64_t cortex__image_token(void)
{
    uint64_t t = __atomic_load_n(&image_token, __ATOMIC_RELAXED);
    while (t == 0) {
        if (cortex__random(&t, sizeof t) < 0)
            t = (uint64_t)cortex__now_ns() ^ ((uint64_t)getpid() << 40);
        uint64_t zero = 0;
        if (!__atomic_compare_exchange_n(&image_token, &zero, t, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            t = zero;
    }
    return t;
}

void cortex__proc_self(cortex__proc_id *out)
{
    memset(out, 0, sizeof *out);
    out->pid = (int32_t)cortex__self_pid();
    out->start = cortex__self_start();
    out->pidns = cortex__self_pidns();
    out->boot = cortex__self_boot();
}
