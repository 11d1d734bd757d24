/* SPDX-License-Identifier: MIT */
/*
 * bench/iceoryx: neocortex's zero-copy channel against iceoryx 2.0.3 (its C
 * binding), head to head, between two processes, in the same run:
 *
 *   one-way latency   ping-pong of 8 B, 4 KiB and 64 KiB messages (round
 *                     trip / 2), busy poll and blocking
 *   messages/s        one-way stream of 8 B and 4 KiB messages
 *
 * Two worker processes (A and B, forked once, each with its own iceoryx
 * runtime and its own channel handles) run every rep; the parent only
 * sends them commands and collects their clocks.  Both libraries are used
 * the same way: the sender loans a slot (iox_pub_loan_chunk /
 * cortex_channel_loan), writes the whole message in place with memset plus
 * an 8-byte sequence number (docs/channel.md: a payload written by memset
 * goes in place), publishes it; the receiver takes it, reads every byte
 * (sequence number and pattern; a lost, repeated or torn message fails the
 * run) and releases it.
 *
 *   busy poll   iox_sub_take_chunk in a loop / cortex_channel_take in a loop
 *   blocking    an iceoryx WaitSet on the subscriber's HAS_DATA state (its
 *               own subscribers, so the busy rows pay no notification) /
 *               cortex_channel_take_wait (spins ~20 us, yields, then naps)
 *
 * Streams: iceoryx's subscriber queue holds 256 messages (its largest)
 * and its mempool 1024 chunks of 4 KiB (roudi.toml); the channel has 512
 * slots, sized as docs/channel.md says (at least twice the consumer's L2 of
 * payload, so that a slot's lines have left the consumer's caches before
 * the producer writes it again), and a second channel row has 256 slots,
 * the queue's size.  A sender that finds no room waits the library's way:
 * iceoryx's publisher blocks in publish (its policy WAIT_FOR_CONSUMER: no
 * message dropped), ours in cortex_channel_loan_wait (spins ~20 us, then
 * yields).  Variants are
 * interleaved rep by rep (the order flips every rep); min / median / max
 * and the ratio of the medians, ours / iceoryx, with the targets.
 * The first line is the host's cache-line round trip (bench/line_probe.h).
 *
 * iceoryx needs its daemon: `bash tools/bench.sh iceoryx` starts iox-roudi
 * with bench/iceoryx/roudi.toml and stops it.  Without a RouDi the iceoryx
 * rows are skipped (said on stdout) and only ours are measured.
 *
 *   build-bench/bench/iceoryx/bench-iceoryx [reps] [scale]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <neocortex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iceoryx_binding_c/log.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/types.h"
#include "iceoryx_binding_c/wait_set.h"

#include "../line_probe.h"

enum { L_IOX, L_NC, NLIB };
static const char *lib_name[NLIB] = {"iceoryx 2.0.3", "neocortex channel"};
enum { M_BUSY, M_BLOCK, NMODE };
static const char *mode_name[NMODE] = {"busy poll", "blocking"};
enum { NSIZE = 3 };
static const size_t sizes[NSIZE] = {8, 4096, 65536};
enum { STREAM_QUEUE = 256, STREAM_SLOTS = 512, WARMUP = 200 };
/* Stream rows: iceoryx, the channel of STREAM_SLOTS slots, the channel of STREAM_QUEUE slots. */
enum { S_IOX, S_NC, S_NC_QUEUE, NSTREAM };
static const char *stream_name[NSTREAM] = {"iceoryx 2.0.3", "channel, 512 slots", "channel, 256 slots"};
#define DEADLINE_NS INT64_C(60000000000) /* one rep never takes a minute: fail instead */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Set by the parent (a shared page) on Ctrl-C or a failure: the workers end
 * their rep, then close their endpoints and leave RouDi cleanly (a process
 * that RouDi still has registered when it stops makes it abort). */
static volatile int *stop_flag;

static bool give_up_now(int64_t end)
{
    return *stop_flag || now_ns() > end;
}

/* In a polling loop: looks at the clock every 1024 polls. */
static bool give_up(unsigned *polls, int64_t end)
{
    return (++*polls & 1023) == 0 && give_up_now(end);
}

/* ---- the message: written whole, read whole ---------------------------- */

static void fill(void *p, size_t size, uint64_t seq)
{
    memset(p, (int)(seq & 0xff), size);
    memcpy(p, &seq, sizeof seq);
}

/* Reads every byte: the sequence number, then the pattern word by word. */
static bool check(const void *msg, size_t size, uint64_t seq)
{
    const unsigned char *p = msg;
    uint64_t got;
    memcpy(&got, p, sizeof got);
    uint64_t want = UINT64_C(0x0101010101010101) * (seq & 0xff), diff = got ^ seq;
    size_t i = sizeof got;
    for (; i + 8 <= size; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        diff |= w ^ want;
    }
    for (; i < size; i++)
        diff |= (uint64_t)(p[i] ^ (unsigned char)(seq & 0xff));
    return diff == 0;
}

/* ---- commands between the parent and the two workers ------------------- */

enum { OP_LAT, OP_STREAM };
typedef struct {
    int op, lib, mode, si; /* a stream's mode: 0, or 1 for the channel of STREAM_QUEUE slots */
    long count;
} command;
typedef struct {
    int ok;
    int64_t t0, t1;
} result;

/* One worker's endpoints.  A: sends ping and the stream, receives pong.
 * B: receives ping and the stream, sends pong. */
typedef struct {
    bool is_a, iox;
    /* neocortex: [si] */
    cortex_channel *lat_tx[NSIZE], *lat_rx[NSIZE], *stream[NSIZE], *stream_q[NSIZE];
    /* iceoryx: [mode][si] (separate services per mode: a WaitSet on the busy
     * subscribers would make every publish notify it) */
    iox_pub_storage_t pub_st[NMODE][NSIZE], spub_st[NSIZE];
    iox_sub_storage_t sub_st[NMODE][NSIZE], ssub_st[NSIZE];
    iox_pub_t pub[NMODE][NSIZE], spub[NSIZE];
    iox_sub_t sub[NMODE][NSIZE], ssub[NSIZE];
    iox_ws_storage_t ws_st[NSIZE];
    iox_ws_t ws[NSIZE];
} worker;

static char tag[64]; /* names of this run: pid of the parent */

static void chan_name(char *buf, size_t n, const char *what, int si)
{
    snprintf(buf, n, "/ncb-iox-%s-%s-%zu", tag, what, sizes[si]);
}

static bool is_stream_size(int si)
{
    return sizes[si] <= 4096;
}

static int nc_create(cortex_channel **c, const char *what, int si, uint32_t slots)
{
    char name[96];
    chan_name(name, sizeof name, what, si);
    cortex_pool_class cls = {(uint32_t)sizes[si], slots};
    int rc = cortex_channel_create(c, CORTEX_KEY_NAME(name), &cls, 1, 1, 8, "bytes", CORTEX_PRODUCER, NULL);
    if (rc < 0)
        fprintf(stderr, "bench-iceoryx: channel %s: %s\n", name, cortex_last_error()->message);
    return rc;
}

/* The peer creates it: retry until it is there (10 s). */
static int nc_attach(cortex_channel **c, const char *what, int si)
{
    char name[96];
    chan_name(name, sizeof name, what, si);
    int64_t end = now_ns() + INT64_C(10000000000);
    int rc;
    while ((rc = cortex_channel_attach(c, CORTEX_KEY_NAME(name), 1, 8, "bytes", CORTEX_CONSUMER, NULL)) < 0 &&
           now_ns() < end)
        usleep(2000);
    if (rc < 0)
        fprintf(stderr, "bench-iceoryx: attach %s: %s\n", name, cortex_last_error()->message);
    return rc;
}

static void iox_names(char *svc, char *ev, int mode, const char *what, int si)
{
    snprintf(svc, 96, "ncbench%s", tag);
    snprintf(ev, 96, "%s%s%zu", what, mode == M_BLOCK ? "w" : "", sizes[si]);
}

static iox_pub_t iox_pub(iox_pub_storage_t *st, int mode, const char *what, int si)
{
    char svc[96], ev[96];
    iox_names(svc, ev, mode, what, si);
    iox_pub_options_t o;
    iox_pub_options_init(&o);
    o.historyCapacity = 0;
    o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    return iox_pub_init(st, svc, "bench", ev, &o);
}

static iox_sub_t iox_sub(iox_sub_storage_t *st, int mode, const char *what, int si, uint64_t queue)
{
    char svc[96], ev[96];
    iox_names(svc, ev, mode, what, si);
    iox_sub_options_t o;
    iox_sub_options_init(&o);
    o.queueCapacity = queue;
    o.historyRequest = 0;
    o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    return iox_sub_init(st, svc, "bench", ev, &o);
}

static int worker_setup(worker *w)
{
    const char *tx = w->is_a ? "ping" : "pong", *rx = w->is_a ? "pong" : "ping";
    for (int si = 0; si < NSIZE; si++) {
        if (nc_create(&w->lat_tx[si], tx, si, 8) < 0)
            return -1;
        if (w->is_a && is_stream_size(si) &&
            (nc_create(&w->stream[si], "stream", si, STREAM_SLOTS) < 0 ||
             nc_create(&w->stream_q[si], "streamq", si, STREAM_QUEUE) < 0))
            return -1;
    }
    for (int si = 0; si < NSIZE; si++) {
        if (nc_attach(&w->lat_rx[si], rx, si) < 0)
            return -1;
        if (!w->is_a && is_stream_size(si) &&
            (nc_attach(&w->stream[si], "stream", si) < 0 || nc_attach(&w->stream_q[si], "streamq", si) < 0))
            return -1;
    }
    if (!w->iox)
        return 0;
    char app[96];
    snprintf(app, sizeof app, "ncbench-%s-%s", tag, w->is_a ? "a" : "b");
    iox_set_loglevel(Iceoryx_LogLevel_Warn); /* its runtime logs at debug level by default */
    iox_runtime_init(app);
    for (int si = 0; si < NSIZE; si++) {
        for (int m = 0; m < NMODE; m++) {
            w->pub[m][si] = iox_pub(&w->pub_st[m][si], m, tx, si);
            w->sub[m][si] = iox_sub(&w->sub_st[m][si], m, rx, si, 16);
        }
        w->ws[si] = iox_ws_init(&w->ws_st[si]);
        if (iox_ws_attach_subscriber_state(w->ws[si], w->sub[M_BLOCK][si], SubscriberState_HAS_DATA, (uint64_t)si,
                                           NULL) != WaitSetResult_SUCCESS) {
            fprintf(stderr, "bench-iceoryx: cannot attach a WaitSet\n");
            return -1;
        }
        if (is_stream_size(si)) {
            if (w->is_a)
                w->spub[si] = iox_pub(&w->spub_st[si], M_BUSY, "stream", si);
            else
                w->ssub[si] = iox_sub(&w->ssub_st[si], M_BUSY, "stream", si, STREAM_QUEUE);
        }
    }
    /* Subscriptions are made by RouDi in the background: wait for all of them. */
    int64_t end = now_ns() + INT64_C(20000000000);
    for (;;) {
        bool all = true;
        for (int si = 0; si < NSIZE; si++) {
            for (int m = 0; m < NMODE; m++)
                all = all && iox_sub_get_subscription_state(w->sub[m][si]) == SubscribeState_SUBSCRIBED &&
                      iox_pub_has_subscribers(w->pub[m][si]);
            if (is_stream_size(si))
                all = all && (w->is_a ? iox_pub_has_subscribers(w->spub[si])
                                      : iox_sub_get_subscription_state(w->ssub[si]) == SubscribeState_SUBSCRIBED);
        }
        if (all)
            return 0;
        if (now_ns() > end) {
            fprintf(stderr, "bench-iceoryx: iceoryx subscriptions not made within 20 s\n");
            return -1;
        }
        usleep(5000);
    }
}

static void worker_teardown(worker *w)
{
    for (int si = 0; si < NSIZE; si++) {
        cortex_channel_close(w->lat_rx[si]);
        cortex_channel_close(w->lat_tx[si]);
        cortex_channel_close(w->stream[si]);
        cortex_channel_close(w->stream_q[si]);
    }
    if (!w->iox)
        return;
    for (int si = 0; si < NSIZE; si++) {
        if (w->ws[si])
            iox_ws_deinit(w->ws[si]);
        for (int m = 0; m < NMODE; m++) {
            if (w->sub[m][si])
                iox_sub_deinit(w->sub[m][si]);
            if (w->pub[m][si])
                iox_pub_deinit(w->pub[m][si]);
        }
        if (w->spub[si])
            iox_pub_deinit(w->spub[si]);
        if (w->ssub[si])
            iox_sub_deinit(w->ssub[si]);
    }
    iox_runtime_shutdown();
}

/* ---- sending and receiving one message --------------------------------- */

static bool send_msg(int lib, cortex_channel *c, iox_pub_t pub, size_t size, uint64_t seq,
                     int64_t end)
{
    void *slot = NULL;
    if (lib == L_NC) {
        /* a full channel: wait as iceoryx's publisher does for a full queue
         * (spin, then yield), not spin through the consumer's time slice */
        int rc;
        while ((rc = cortex_channel_loan_wait(c, size, &slot, 100000000)) == -ETIMEDOUT)
            if (give_up_now(end))
                return false;
        if (rc < 0)
            return false;
        fill(slot, size, seq);
        return cortex_channel_publish(c, slot, size) == 0;
    }
    enum iox_AllocationResult ar;
    unsigned spins = 0;
    while ((ar = iox_pub_loan_chunk(pub, &slot, (uint32_t)size)) == AllocationResult_RUNNING_OUT_OF_CHUNKS)
        if (give_up(&spins, end))
            return false;
    if (ar != AllocationResult_SUCCESS) {
        fprintf(stderr, "bench-iceoryx: iox_pub_loan_chunk: result %d\n", (int)ar);
        return false;
    }
    fill(slot, size, seq);
    iox_pub_publish_chunk(pub, slot);
    return true;
}

static bool recv_msg(int lib, int mode, cortex_channel *c, iox_sub_t sub, iox_ws_t ws, size_t size,
                     uint64_t seq, int64_t end)
{
    unsigned spins = 0;
    if (lib == L_NC) {
        const void *p;
        size_t n;
        int rc;
        for (;;) {
            if (mode == M_BLOCK) {
                if ((rc = cortex_channel_take_wait(c, &p, &n, 100000000)) != -ETIMEDOUT)
                    break;
                if (give_up_now(end))
                    return false;
                continue;
            }
            if ((rc = cortex_channel_take(c, &p, &n)) != -EAGAIN)
                break;
            if (give_up(&spins, end))
                return false;
        }
        if (rc < 0) {
            fprintf(stderr, "bench-iceoryx: channel take: %s\n", cortex_last_error()->message);
            return false;
        }
        bool ok = n == size && check(p, size, seq);
        return cortex_channel_release(c, p) == 0 && ok;
    }
    const void *p = NULL;
    enum iox_ChunkReceiveResult r;
    while ((r = iox_sub_take_chunk(sub, &p)) == ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
        if (mode == M_BLOCK) {
            iox_notification_info_t info[NSIZE];
            uint64_t missed = 0;
            struct timespec to = {0, 100000000};
            (void)iox_ws_timed_wait(ws, to, info, NSIZE, &missed);
            if (give_up_now(end))
                return false;
        } else if (give_up(&spins, end)) {
            return false;
        }
    }
    if (r != ChunkReceiveResult_SUCCESS) {
        fprintf(stderr, "bench-iceoryx: iox_sub_take_chunk: result %d\n", (int)r);
        return false;
    }
    bool ok = check(p, size, seq);
    iox_sub_release_chunk(sub, p);
    return ok;
}

/* ---- one rep, on each side --------------------------------------------- */

static result run_cmd(worker *w, const command *cmd)
{
    result res = {0, 0, 0};
    size_t size = sizes[cmd->si];
    int lib = cmd->lib, mode = cmd->mode, si = cmd->si;
    int64_t end = now_ns() + DEADLINE_NS;
    if (cmd->op == OP_LAT) {
        cortex_channel *tx = w->lat_tx[si], *rx = w->lat_rx[si];
        iox_pub_t pub = lib == L_IOX ? w->pub[mode][si] : NULL;
        iox_sub_t sub = lib == L_IOX ? w->sub[mode][si] : NULL;
        iox_ws_t ws = lib == L_IOX ? w->ws[si] : NULL;
        long total = cmd->count + WARMUP;
        for (long i = 1; i <= total; i++) {
            if (i == WARMUP + 1)
                res.t0 = now_ns();
            if (w->is_a) {
                if (!send_msg(lib, tx, pub, size, (uint64_t)i, end) ||
                    !recv_msg(lib, mode, rx, sub, ws, size, (uint64_t)i, end))
                    return res;
            } else {
                if (!recv_msg(lib, mode, rx, sub, ws, size, (uint64_t)i, end) ||
                    !send_msg(lib, tx, pub, size, (uint64_t)i, end))
                    return res;
            }
        }
        res.t1 = now_ns();
        res.ok = 1;
        return res;
    }
    /* stream: A sends, B receives; A's start and B's end give the rate */
    cortex_channel *c = mode ? w->stream_q[si] : w->stream[si];
    res.t0 = now_ns();
    for (long i = 1; i <= cmd->count; i++) {
        bool ok = w->is_a ? send_msg(lib, c, lib == L_IOX ? w->spub[si] : NULL, size, (uint64_t)i, end)
                          : recv_msg(lib, M_BUSY, c, lib == L_IOX ? w->ssub[si] : NULL, NULL, size, (uint64_t)i,
                                     end);
        if (!ok)
            return res;
    }
    res.t1 = now_ns();
    res.ok = 1;
    return res;
}

/* Commands and results are far smaller than PIPE_BUF: each goes in one
 * atomic write and comes out of one read whole. */
static int pipe_io(int fd, void *buf, size_t n, int writing)
{
    ssize_t k;
    do
        k = writing ? write(fd, buf, n) : read(fd, buf, n);
    while (k < 0 && errno == EINTR);
    return k == (ssize_t)n ? 0 : -1;
}

static void worker_main(bool is_a, bool iox, int cmd_fd, int res_fd, pid_t parent)
{
    signal(SIGINT, SIG_IGN); /* a Ctrl-C reaches the parent, which stops the workers */
    signal(SIGTERM, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(9);
    static worker w; /* large (the iceoryx storages): not on the stack */
    w.is_a = is_a;
    w.iox = iox;
    result ready = {worker_setup(&w) == 0, 0, 0};
    if (pipe_io(res_fd, &ready, sizeof ready, 1) < 0 || !ready.ok) {
        worker_teardown(&w);
        exit(3);
    }
    command cmd;
    while (pipe_io(cmd_fd, &cmd, sizeof cmd, 0) == 0) { /* until the parent closes the pipe */
        result r = run_cmd(&w, &cmd);
        if (pipe_io(res_fd, &r, sizeof r, 1) < 0)
            break;
    }
    worker_teardown(&w);
    exit(0);
}

/* ---- the parent -------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int cmd_fd, res_fd;
} worker_proc;

static int spawn(worker_proc *wp, bool is_a, bool iox)
{
    int c[2], r[2];
    if (pipe2(c, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(r, O_CLOEXEC) != 0) {
        close(c[0]);
        close(c[1]);
        return -1;
    }
    pid_t parent = getpid();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(c[1]);
        close(r[0]);
        worker_main(is_a, iox, c[0], r[1], parent);
    }
    close(c[0]);
    close(r[1]);
    wp->pid = pid;
    wp->cmd_fd = c[1];
    wp->res_fd = r[0];
    return 0;
}

/* Runs one rep on both workers; returns A's and B's results in *ra, *rb. */
static bool rep(worker_proc *a, worker_proc *b, command cmd, result *ra, result *rb)
{
    /* the receiver first, so it is waiting when the first message goes */
    if (pipe_io(b->cmd_fd, &cmd, sizeof cmd, 1) < 0 || pipe_io(a->cmd_fd, &cmd, sizeof cmd, 1) < 0)
        return false;
    if (pipe_io(a->res_fd, ra, sizeof *ra, 0) < 0 || pipe_io(b->res_fd, rb, sizeof *rb, 0) < 0)
        return false;
    return ra->ok && rb->ok;
}

static int cmp_d(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return p < q ? -1 : p > q;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* An iceoryx RouDi is up when its management segment and socket exist. */
static bool roudi_up(void)
{
    struct stat st;
    return stat("/dev/shm/iceoryx_mgmt", &st) == 0 && stat("/tmp/roudi", &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The channel names of this run, made once: the signal handler removes them. */
static char leftover[3 * NSIZE][96];

static void name_leftovers(void)
{
    static const char *what[] = {"ping", "pong", "stream"};
    for (int k = 0; k < 3; k++)
        for (int si = 0; si < NSIZE; si++)
            chan_name(leftover[k * NSIZE + si], sizeof leftover[0], what[k], si);
}

/* Only a worker that died before its close leaves one. */
static void remove_leftovers(void)
{
    for (int i = 0; i < 3 * NSIZE; i++)
        shm_unlink(leftover[i]);
}

static volatile pid_t worker_pid[2];
static volatile int worker_cmd[2] = {-1, -1};

/* Ends the workers: the stop flag ends their rep, the closed command pipe
 * their loop; a worker still there after 10 s is killed.  Then removes
 * what a killed worker left.  Async-signal-safe. */
static void stop_workers(void)
{
    *stop_flag = 1;
    for (int i = 0; i < 2; i++)
        if (worker_cmd[i] >= 0) {
            close(worker_cmd[i]);
            worker_cmd[i] = -1;
        }
    for (int i = 0; i < 2; i++) {
        pid_t pid = worker_pid[i];
        if (pid <= 0)
            continue;
        int t = 0;
        while (waitpid(pid, NULL, WNOHANG) == 0 && t++ < 1000) {
            struct timespec ten_ms = {0, 10000000};
            nanosleep(&ten_ms, NULL);
        }
        if (t > 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        worker_pid[i] = 0;
    }
    remove_leftovers();
}

/* Ctrl-C or SIGTERM: the workers go, and nothing of ours stays in /dev/shm. */
static void on_signal(int sig)
{
    stop_workers();
    _exit(128 + sig);
}

enum { MAXREP = 51 };

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    if (reps < 1 || reps > MAXREP)
        reps = 7;
    if (!(scale > 0 && scale <= 100))
        scale = 1.0;
    snprintf(tag, sizeof tag, "%d", (int)getpid());
    bool iox = roudi_up() && !getenv("NC_BENCH_NO_ICEORYX");
    printf("neocortex channel vs iceoryx 2.0.3 (C binding), two processes (%d reps, interleaved; every byte of "
           "every message written and checked)\n",
           reps);
    bench_print_line_cost();
    if (!iox)
        printf("iceoryx rows SKIPPED: no iox-roudi running (/dev/shm/iceoryx_mgmt, /tmp/roudi); "
               "`bash tools/bench.sh iceoryx` starts one. Only neocortex is measured.\n");
    fflush(stdout);

    name_leftovers();
    struct sigaction sa_int = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa_int, NULL);
    sigaction(SIGTERM, &sa_int, NULL);
    stop_flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stop_flag == MAP_FAILED) {
        perror("bench-iceoryx: mmap");
        return 1;
    }
    worker_proc a = {-1, -1, -1}, b = {-1, -1, -1};
    if (spawn(&b, false, iox) < 0 || (worker_pid[0] = b.pid, worker_cmd[0] = b.cmd_fd, spawn(&a, true, iox) < 0)) {
        perror("bench-iceoryx: fork");
        stop_workers();
        return 1;
    }
    worker_pid[1] = a.pid;
    worker_cmd[1] = a.cmd_fd;
    result ra, rb;
    bool ok = pipe_io(a.res_fd, &ra, sizeof ra, 0) == 0 && ra.ok && pipe_io(b.res_fd, &rb, sizeof rb, 0) == 0 &&
              rb.ok;
    int nlib0 = iox ? L_IOX : L_NC;
    static double lat[NMODE][NSIZE][NLIB][MAXREP], thr[NSIZE][NSTREAM][MAXREP];
    for (int si = 0; si < NSIZE && ok; si++)
        for (int m = 0; m < NMODE && ok; m++) {
            long count = (long)(scale * (sizes[si] >= 65536 ? 1000 : 4000));
            for (int r = 0; r < reps && ok; r++)
                for (int k = nlib0; k < NLIB && ok; k++) {
                    int lib = (r & 1) ? NLIB - 1 - k + nlib0 : k; /* odd reps in reverse order */
                    command cmd = {OP_LAT, lib, m, si, count};
                    ok = rep(&a, &b, cmd, &ra, &rb);
                    lat[m][si][lib][r] = (double)(ra.t1 - ra.t0) / (double)count / 2;
                    if (!ok)
                        fprintf(stderr, "bench-iceoryx: %s latency %zu B %s failed\n", lib_name[lib], sizes[si],
                                mode_name[m]);
                }
        }
    for (int si = 0; si < NSIZE && ok; si++) {
        if (!is_stream_size(si))
            continue;
        long count = (long)(scale * (sizes[si] >= 4096 ? 20000 : 100000));
        int sv0 = iox ? S_IOX : S_NC;
        for (int r = 0; r < reps && ok; r++)
            for (int k = sv0; k < NSTREAM && ok; k++) {
                int sv = (r & 1) ? NSTREAM - 1 - k + sv0 : k;
                command cmd = {OP_STREAM, sv == S_IOX ? L_IOX : L_NC, sv == S_NC_QUEUE, si, count};
                ok = rep(&a, &b, cmd, &ra, &rb);
                thr[si][sv][r] = (double)count * 1e9 / (double)(rb.t1 - ra.t0);
                if (!ok)
                    fprintf(stderr, "bench-iceoryx: %s stream %zu B failed\n", stream_name[sv], sizes[si]);
            }
    }
    stop_workers(); /* their command pipe closes: they close their endpoints and leave */
    if (!ok) {
        printf("FAILED: a rep failed or a message was lost or wrong (see stderr)\n");
        return 1;
    }

    printf("\none-way latency (ping-pong round trip / 2), ns\n");
    printf("  %-10s %-10s %-18s %10s %10s %10s %12s\n", "size", "mode", "variant", "min", "median", "max",
           "ours/iceoryx");
    double med_lat[NMODE][NSIZE][NLIB];
    for (int si = 0; si < NSIZE; si++)
        for (int m = 0; m < NMODE; m++)
            for (int lib = nlib0; lib < NLIB; lib++) {
                double *v = lat[m][si][lib];
                med_lat[m][si][lib] = median(v, reps);
                char ratio[32] = "";
                if (lib == L_NC && iox)
                    snprintf(ratio, sizeof ratio, "%.2fx", med_lat[m][si][L_NC] / med_lat[m][si][L_IOX]);
                printf("  %-10zu %-10s %-18s %10.0f %10.0f %10.0f %12s\n", sizes[si], mode_name[m], lib_name[lib],
                       v[0], med_lat[m][si][lib], v[reps - 1], ratio);
            }
    printf("  (blocking: iceoryx sleeps in its WaitSet, a semaphore the publisher posts; the channel's\n"
           "   cortex_channel_take_wait spins ~20 us, then sleeps on the ring's futex word, so a reply that\n"
           "   comes within the spin never enters the kernel, see docs/channel.md)\n");
    printf("\nmessages/s, one-way stream, busy-poll receiver (iceoryx: queue of %d, 1024 chunks; channel: %d "
           "slots, and %d)\n",
           STREAM_QUEUE, STREAM_SLOTS, STREAM_QUEUE);
    printf("  %-10s %-18s %12s %12s %12s %12s\n", "size", "variant", "min", "median", "max", "ours/iceoryx");
    double med_thr[NSIZE][NSTREAM];
    for (int si = 0; si < NSIZE; si++) {
        if (!is_stream_size(si))
            continue;
        for (int sv = iox ? S_IOX : S_NC; sv < NSTREAM; sv++) {
            double *v = thr[si][sv];
            med_thr[si][sv] = median(v, reps);
            char ratio[32] = "";
            if (sv != S_IOX && iox)
                snprintf(ratio, sizeof ratio, "%.2fx", med_thr[si][sv] / med_thr[si][S_IOX]);
            printf("  %-10zu %-18s %12.0f %12.0f %12.0f %12s\n", sizes[si], stream_name[sv], v[0], med_thr[si][sv],
                   v[reps - 1], ratio);
        }
    }
    if (!iox)
        return 0;
    printf("\nratios of the medians, ours / iceoryx (issue 12 targets where set)\n");
    double zc = med_thr[1][S_NC] / med_thr[1][S_IOX];
    printf("  zero-copy 4 KiB msgs/s ours (%d slots)/iceoryx:   %6.2fx  (target >= 4x: %s)\n", STREAM_SLOTS, zc,
           zc >= 4 ? "met" : "NOT met");
    printf("  the same, a channel of %d slots:                  %6.2fx  (iceoryx's queue size; docs/channel.md)\n",
           STREAM_QUEUE, med_thr[1][S_NC_QUEUE] / med_thr[1][S_IOX]);
    double l4 = med_lat[M_BUSY][1][L_NC] / med_lat[M_BUSY][1][L_IOX];
    printf("  one-way latency 4 KiB busy poll ours/iceoryx:      %6.2fx  (target <= 0.2x: %s)\n", l4,
           l4 <= 0.2 ? "met" : "NOT met");
    printf("  8 B msgs/s ours/iceoryx:                           %6.2fx  (no target)\n",
           med_thr[0][S_NC] / med_thr[0][S_IOX]);
    for (int si = 0; si < NSIZE; si++)
        for (int m = 0; m < NMODE; m++) {
            if (si == 1 && m == M_BUSY)
                continue;
            char label[64];
            snprintf(label, sizeof label, "one-way latency %zu B %s ours/iceoryx:", sizes[si], mode_name[m]);
            printf("  %-50s %6.2fx  (no target)\n", label, med_lat[m][si][L_NC] / med_lat[m][si][L_IOX]);
        }
    return 0;
}
