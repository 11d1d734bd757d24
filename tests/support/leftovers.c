/* SPDX-License-Identifier: MIT */
/*
 * leftovers: runs after every other test (priority -1000, not parallel) and
 * fails if any of them left an object behind: a SysV segment or semaphore
 * whose key is in the tests' range (0x10000000-0x1fffffff), a SysV segment
 * holding a neocortex header, or a /dev/shm or /tmp entry named nct-*.
 *
 * Only objects whose creating process is gone count: a test run in another
 * build tree at the same time still owns its live objects.  (Test names
 * carry the pid, "nct-<pid>-..."; test keys carry its low 20 bits; SysV
 * segments record their creator.)  Leftovers are listed, then removed, so
 * one failure does not cascade.
 */
#define _GNU_SOURCE
#include <neocortex.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <signal.h>
#include <errno.h>

static bool test_key(long key) { return key >= 0x10000000L && key <= 0x1fffffffL; }

static bool pid_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* A test key holds the low 20 bits of its creator's pid. */
static bool key_owner_alive(long key)
{
    long bits = (key >> 8) & 0xfffff;
    for (long p = bits; p < (1L << 22); p += (1L << 20))
        if (pid_alive(p))
            return true;
    return false;
}

static int scan_sysv(const char *file, bool is_sem)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        long key, size = 0, cpid = 0;
        int id;
        unsigned perms;
        int fields = sscanf(line, "%ld %d %o %ld %ld", &key, &id, &perms, &size, &cpid);
        if (fields < 2)
            continue;
        if (is_sem ? (test_key(key) && key_owner_alive(key)) : (fields == 5 && pid_alive(cpid)))
            continue; /* its creator is still running: not a leftover (yet) */
        bool ours = test_key(key);
        if (!ours && !is_sem) {
            void *p = shmat(id, NULL, SHM_RDONLY);
            if (p != (void *)-1) {
                struct shmid_ds ds;
                if (shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz >= sizeof(uint64_t)) {
                    uint64_t magic;
                    memcpy(&magic, p, sizeof magic);
                    ours = magic == CORTEX_MAGIC;
                }
                shmdt(p);
            }
        }
        if (!ours)
            continue;
        found++;
        printf("leftover SysV %s: key 0x%08lx id %d\n", is_sem ? "semaphore" : "segment", key, id);
        if (is_sem)
            semctl(id, 0, IPC_RMID);
        else
            shmctl(id, IPC_RMID, NULL);
    }
    fclose(f);
    return found;
}

static int scan_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "nct-", 4) != 0)
            continue;
        if (pid_alive(strtol(e->d_name + 4, NULL, 10)))
            continue;
        found++;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        printf("leftover %s\n", path);
        unlink(path);
    }
    closedir(d);
    return found;
}

int main(void)
{
    int n = scan_sysv("/proc/sysvipc/shm", false) + scan_sysv("/proc/sysvipc/sem", true) +
            scan_dir("/dev/shm") + scan_dir("/tmp");
    if (n) {
        printf("%d object(s) left behind by the tests\n", n);
        return 1;
    }
    printf("no leftovers\n");
    return 0;
}
