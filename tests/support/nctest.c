/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "nctest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NCT_MAX_TRACKED 256

static int tracked_keys[NCT_MAX_TRACKED];
static int n_keys;
static char tracked_names[NCT_MAX_TRACKED][96];
static bool tracked_is_file[NCT_MAX_TRACKED];
static int n_names;
static unsigned counter;

/*
 * Keys and names hold this process's pid, so no other live process makes
 * them; but an object left by a dead process that had the same pid (a test
 * killed by its timeout, another job's run on the same machine) would make
 * an exclusive create fail with EEXIST once the pid comes round again.
 * Such a key or name is skipped (and left alone: it is not ours).
 */
static bool sysv_key_taken(int key)
{
    return !(shmget(key, 0, 0) < 0 && errno == ENOENT && semget(key, 0, 0) < 0 && errno == ENOENT);
}

int nct_sysv_key(void)
{
    int key;
    for (int tries = 0;; tries++) {
        unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        key = (int)(0x10000000u | (((unsigned)getpid() & 0xfffffu) << 8) | (n & 0xffu));
        if (tries >= 256 || !sysv_key_taken(key))
            break;
    }
    if (n_keys < NCT_MAX_TRACKED)
        tracked_keys[n_keys++] = key;
    return key;
}

static const char *track_name(char *buf, size_t len, const char *dir, const char *tag, bool file)
{
    for (int tries = 0;; tries++) {
        unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(buf, len, "%s/" NCT_PREFIX "%d-%u-%s", dir, (int)getpid(), n, tag ? tag : "x");
        char shm_path[128];
        snprintf(shm_path, sizeof shm_path, "/dev/shm%s", buf);
        if (tries >= 256 || access(file ? buf : shm_path, F_OK) != 0)
            break;
    }
    if (n_names < NCT_MAX_TRACKED) {
        snprintf(tracked_names[n_names], sizeof tracked_names[0], "%s", buf);
        tracked_is_file[n_names] = file;
        n_names++;
    }
    return buf;
}

const char *nct_name(char *buf, const char *tag) { return track_name(buf, 64, "", tag, false); }

const char *nct_path(char *buf, const char *tag) { return track_name(buf, 96, "/tmp", tag, true); }

void nct_cleanup(void)
{
    for (int i = 0; i < n_keys; i++) {
        int id = shmget(tracked_keys[i], 0, 0);
        if (id >= 0)
            shmctl(id, IPC_RMID, NULL);
        id = semget(tracked_keys[i], 0, 0);
        if (id >= 0)
            semctl(id, 0, IPC_RMID);
    }
    for (int i = 0; i < n_names; i++) {
        if (tracked_is_file[i])
            unlink(tracked_names[i]);
        else
            shm_unlink(tracked_names[i]);
    }
    n_keys = 0;
    n_names = 0;
}

int nct_scale(void)
{
    const char *s = getenv("NCTEST_SCALE");
    int v = s ? atoi(s) : 1;
    return v < 1 ? 1 : v;
}

int64_t nct_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t run_delay_at(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long on_cpu, delay;
    int n = fscanf(f, "%llu %llu", &on_cpu, &delay);
    fclose(f);
    return n == 2 ? (int64_t)delay : -1;
}

int64_t nct_run_delay_ns(void) { return run_delay_at("/proc/thread-self/schedstat"); }

int64_t nct_run_delay_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    return run_delay_at(path);
}

int64_t nct_run_delay_between(int64_t before, int64_t after)
{
    return before >= 0 && after > before ? after - before : 0;
}

int nct_wait(pid_t pid, int timeout_ms)
{
    int64_t end = nct_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
            return -1;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (nct_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -2;
        }
        usleep(1000);
    }
}

const char *nct_helper_path(const char *name)
{
    /* Helpers are built next to the tests or in a subdirectory of that folder. */
    static char path[4096 + 512];
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return name;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof path, "%s/%s", self, name);
    if (access(path, X_OK) == 0)
        return path;
    DIR *d = opendir(self);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/%s", self, e->d_name, name);
            if (access(path, X_OK) == 0) {
                closedir(d);
                return path;
            }
        }
        closedir(d);
    }
    return name;
}

int nct_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}
