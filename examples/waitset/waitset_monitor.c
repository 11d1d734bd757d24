/* SPDX-License-Identifier: MIT */
/*
 * waitset-monitor [SENSORS [COUNT]]: one process watches SENSORS rings
 * (default 3), one per forked sensor process that pushes COUNT readings
 * (default 1000) and closes, plus a shared "config" cell a controller
 * process rewrites twice, all from a plain poll() loop: the loop polls
 * cortex_waitset_fd() next to its own fds (here stdin-like: a pipe the
 * controller closes at the end), and when the waitset fd is readable asks
 * cortex_waitset_wait(..., 0) what is ready.  Exits 0 when every reading
 * arrived in order, the controller's last config value (2) was seen (a
 * busy monitor may see only that one) and every sensor was reported gone
 * (-EPIPE) after its last reading.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <neocortex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

SPSC_RING_DECLARE(reading_ring, uint64_t);
CORTEX_DECLARE(config_cell, uint64_t);

#define MAX_SENSORS 16

static void name_of(char *buf, size_t len, const char *what, int i)
{
    snprintf(buf, len, "/nc-waitset-example-%d-%s%d", (int)getpid(), what, i);
}

static int sensor(const char *name, uint64_t count)
{
    reading_ring r;
    if (reading_ring_attach(&r, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) != 0)
        return 3;
    for (uint64_t i = 0; i < count; i++)
        if (reading_ring_push_wait(&r, i, 10 * INT64_C(1000000000)) != 0)
            return 4;
    return reading_ring_close(&r) == 0 ? 0 : 5;
}

static int controller(const char *name, int done_fd)
{
    config_cell c;
    if (config_cell_attach(&c, CORTEX_KEY_NAME(name), NULL) != 0)
        return 3;
    for (uint64_t v = 1; v <= 2; v++) {
        usleep(20000);
        if (config_cell_write(&c, v) != 0)
            return 4;
    }
    config_cell_close(&c);
    close(done_fd); /* the monitor sees its end hang up */
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
    if (n < 1 || n > MAX_SENSORS)
        return 2;
    reading_ring rings[MAX_SENSORS];
    config_cell cfg;
    char name[96];
    pid_t pids[MAX_SENSORS + 1];
    cortex_waitset *ws;
    if (cortex_waitset_create(&ws) != 0)
        return 1;
    name_of(name, sizeof name, "config", 0);
    if (config_cell_create(&cfg, CORTEX_KEY_NAME(name), 0, NULL) != 0) {
        fprintf(stderr, "config: %s\n", cortex_last_error()->message);
        return 1;
    }
    uint64_t seen, value;
    config_cell_read_version(&cfg, &value, &seen);
    cortex_waitset_add_cell(ws, cfg.cell, seen, 100);
    int done[2];
    if (pipe(done) != 0)
        return 1;
    if ((pids[n] = fork()) == 0) {
        close(done[0]);
        _exit(controller(name, done[1]));
    }
    close(done[1]);
    for (int i = 0; i < n; i++) {
        name_of(name, sizeof name, "sensor", i);
        if (reading_ring_create(&rings[i], CORTEX_KEY_NAME(name), 64, CORTEX_CONSUMER, NULL) != 0) {
            fprintf(stderr, "sensor ring %d: %s\n", i, cortex_last_error()->message);
            return 1;
        }
        cortex_waitset_add_ring(ws, reading_ring_core(&rings[i]), CORTEX_WAITSET_DATA, (uint64_t)i);
        if ((pids[i] = fork()) == 0)
            _exit(sensor(name, count));
    }

    /* The application's own poll loop: its fd and the waitset's. */
    uint64_t next[MAX_SENSORS] = {0};
    int gone = 0;
    uint64_t config = 0; /* the newest config value seen: a reader may see 1 and 2, or only 2 */
    bool hung_up = false;
    time_t give_up = time(NULL) + 30;
    struct pollfd pfd[2] = {{.fd = cortex_waitset_fd(ws), .events = POLLIN}, {.fd = done[0], .events = POLLIN}};
    while (gone < n || config < 2 || !hung_up) {
        if (poll(pfd, hung_up ? 1 : 2, 10000) <= 0 || time(NULL) > give_up) {
            fprintf(stderr, "monitor: %s\n", time(NULL) > give_up ? "not done within 30 s" : "nothing for 10 s");
            return 1;
        }
        if (!hung_up && (pfd[1].revents & (POLLHUP | POLLIN)))
            hung_up = true;
        if (!(pfd[0].revents & POLLIN))
            continue;
        cortex_waitset_event ev[MAX_SENSORS + 1];
        int k = cortex_waitset_wait(ws, ev, MAX_SENSORS + 1, 0);
        for (int e = 0; e < k; e++) {
            if (ev[e].tag == 100) {
                config_cell_read(&cfg, &value);
                printf("config: version %llu, value %llu\n", (unsigned long long)ev[e].version,
                       (unsigned long long)value);
                config = value;
                continue;
            }
            int i = (int)ev[e].tag;
            if (ev[e].flags & CORTEX_WAITSET_GONE) {
                printf("sensor %d: gone (%s) after %llu readings\n", i, cortex_strerror(ev[e].reason),
                       (unsigned long long)next[i]);
                if (next[i] != count)
                    return 1;
                cortex_waitset_remove(ws, ev[e].tag);
                gone++;
                continue;
            }
            uint64_t v;
            while (reading_ring_pop(&rings[i], &v) == 0)
                if (v != next[i]++) {
                    fprintf(stderr, "sensor %d: reading %llu out of order\n", i, (unsigned long long)v);
                    return 1;
                }
        }
    }
    int status, bad = 0;
    for (int i = 0; i <= n; i++)
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad = 1;
    cortex_waitset_destroy(ws);
    for (int i = 0; i < n; i++)
        reading_ring_close(&rings[i]);
    config_cell_close(&cfg);
    close(done[0]);
    printf("%d sensors x %llu readings in order, config value 2 seen, all sensors gone: %s\n", n,
           (unsigned long long)count, bad ? "FAIL" : "ok");
    return bad;
}
