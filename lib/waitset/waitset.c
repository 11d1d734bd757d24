/* SPDX-License-Identifier: MIT */
/*
 * lib/waitset/waitset.c: one wait over many sources.
 *
 * Protocol.  Each futex-backed source (ring side, broadcast reader, cell)
 * has a hook in its own part (cortex__ring_wait_arm, ...) that runs that
 * source's own sleeper announcement -- the ring's waiting flag + fence (+
 * membarrier for a light peer), the broadcast's waiter count + fence, the
 * cell's waiting bit + fence -- then re-checks the condition.  The waitset
 *
 *   1. looks at every source (no announcement): any ready -> report;
 *   2. spins ~20 us (a busy peer answers without a system call): a pass
 *      loads, per ring, the one word its peer stores to when it makes the
 *      ring ready (cortex__ring_wait_watch) and looks properly only at a
 *      ring whose word moved; other sources are looked at every pass, and
 *      every source (closes, dead peers) every SPIN_FULL passes;
 *   3. arms every futex source (announce, re-check, remember the futex
 *      word and the value read BEFORE announcing): any ready -> report;
 *   4. sleeps: futex_waitv over all the words (every source futex-backed,
 *      at most 128), else one FUTEX_WAIT (a single word, no fd), else
 *      poll() over the fds (or a plain sleep) in slices;
 *   5. withdraws the announcements and goes back to 1.
 *
 * No lost wake-up: a writer publishes, fences, and reads the announcement;
 * the waitset announces, fences, and re-reads the condition (step 3): one
 * of the two sees the other (the store-buffering argument of ring.c (2)).
 * A writer that sees it bumps the futex word before FUTEX_WAKE, and the
 * value step 4 sleeps on was read before the announcement, so a wake that
 * lands between 3 and 4 makes futex_waitv return at once (-EAGAIN).
 *
 * The fd of cortex_waitset_fd(): a watcher thread gets, under a mutex, a
 * copy of the armed words/values (and fds) and sleeps on them plus a
 * private control word; when one moves (or an fd polls ready) and the
 * waitset is still armed, it writes the eventfd.  It never touches a
 * source's handle; it reads futex words only under the mutex while armed,
 * and every add/remove/wait disarms first, so a removed source's mapping
 * is never read by it.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "atomic.h"
#include "os/os.h"
#include "ring/ring_layout.h"
#include "broadcast/broadcast_layout.h"
#include "cell/cell_wait.h"

#include <neocortex/waitset.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WS_SPIN_NS INT64_C(20000)
#define WS_SPIN_FULL 128u /* spin passes between two looks at everything (16 between two at the clock) */
#define WS_FIRST_SLICE_NS INT64_C(50000)
#define WS_WATCH_NAP_NS INT64_C(100000000)
#define WS_LIVE_BATCH 4u /* sources whose peer's pid one liveness look checks */

enum ws_kind { WS_RING_DATA, WS_RING_SPACE, WS_BROADCAST, WS_CELL, WS_DOORBELL, WS_FD };

typedef struct ws_src {
    uint64_t tag;
    enum ws_kind kind;
    void *obj;          /* cortex_ring / cortex_broadcast / cortex_cell */
    int fd;             /* WS_FD, WS_DOORBELL */
    short events;       /* poll events */
    uint64_t seen;      /* WS_CELL: the version last reported */
    cortex__a32 *word;  /* armed: the futex word (NULL: armed without one: poll it) */
    uint32_t val;       /* armed: the value to sleep on */
    bool armed;
    bool light;         /* armed ring whose producer's wake check relies on our membarrier */
} ws_src;

struct cortex_waitset {
    ws_src *src;
    unsigned n, cap;
    unsigned nfd;         /* WS_FD and WS_DOORBELL sources */
    struct pollfd *pfd;   /* scratch: one per fd source */
    unsigned *pfd_src;    /* pfd[i] belongs to src[pfd_src[i]] */
    const char *mechanism;
    int64_t next_live;    /* when the next look checks the peers' pids (busy sources must not hide a dead one) */
    pid_t owner;          /* the process whose watcher, eventfd and announcements these are (adopt()) */
    unsigned live_next;   /* the first source the next liveness look checks */
    /* cortex_waitset_fd() */
    int efd_r, efd_w;     /* eventfd (both the same) or a pipe; -1 before the first call */
    bool thread_up;
    bool peek;            /* scan() only looks: a cell's reported version stays unseen (watch_arm) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, watch;     /* watch: armed for the watcher (under mu) */
    cortex__a32 ctl;      /* bumped (and woken) to pull the watcher out of futex_waitv */
    cortex__a32 *w_words[CORTEX_WAITSET_MAX_SOURCES];
    uint32_t w_vals[CORTEX_WAITSET_MAX_SOURCES];
    unsigned w_n;         /* words handed to the watcher (ctl not counted) */
    bool w_poll;          /* the watcher polls in slices (fds, too many words, a word-less source) */
    bool w_fast;          /* a source without a word: signal after every slice */
    bool w_liveness;      /* sources whose peer can die silently: wake every WS_WATCH_NAP_NS */
    struct pollfd *w_pfd; /* the watcher's copy of the fds */
    /* step 2 (spin): per ring, the word its peer stores to, its value at the last look, the source */
    struct {
        cortex__a64 *word;
        uint64_t val;
    } spin_w[CORTEX_WAITSET_MAX_SOURCES]; /* side by side: separate arrays 8 KiB apart share L1 sets */
    unsigned spin_src[CORTEX_WAITSET_MAX_SOURCES]; /* rings with a word from the bottom, other futex sources from the top */
    unsigned w_nfd;
};

static bool is_futex_kind(enum ws_kind k) { return k != WS_FD && k != WS_DOORBELL; }

/* ---- one source ------------------------------------------------------------ */

static void src_disarm(ws_src *s);
static void adopt(cortex_waitset *ws);

static bool is_ring(const ws_src *s) { return s->kind == WS_RING_DATA || s->kind == WS_RING_SPACE; }

/*
 * Step 3's first half for the rings: announce on every ring, then one
 * membarrier for all whose peer's wake check is the light one (a ring that
 * cannot get it is polled: word NULL).  The re-check follows in scan().
 */
static void announce_rings(cortex_waitset *ws)
{
    bool light_any = false;
    for (unsigned i = 0; i < ws->n; i++) {
        ws_src *s = &ws->src[i];
        if (!is_ring(s))
            continue;
        src_disarm(s);
        cortex__a32 *word;
        uint32_t val;
        int rc = cortex__ring_wait_announce(s->obj, s->kind == WS_RING_SPACE, &word, &val);
        if (rc < 0)
            continue; /* the check reports it */
        s->armed = true;
        s->word = word;
        s->val = val;
        s->light = rc == 1;
        light_any |= s->light;
    }
    if (light_any && cortex__ring_membarrier() < 0)
        for (unsigned i = 0; i < ws->n; i++)
            if (ws->src[i].armed && ws->src[i].light)
                ws->src[i].word = NULL; /* no proof its producer's wake is seen: poll it */
}

/*
 * Looks at one futex-backed source (a broadcast or cell is also armed here
 * when @announce; rings by announce_rings()): 1 ready, 0 not, negative
 * errno (gone or error).
 */
static int src_check(ws_src *s, bool announce, bool check_pid, uint64_t *version)
{
    cortex__a32 *word = NULL;
    uint32_t val = 0;
    int rc;
    if (is_ring(s))
        return cortex__ring_wait_check(s->obj, s->kind == WS_RING_SPACE, check_pid);
    if (announce)
        src_disarm(s); /* one announcement per source at a time (the broadcast's is a count) */
    if (s->kind == WS_BROADCAST)
        rc = cortex__broadcast_wait_arm(s->obj, announce, check_pid, &word, &val);
    else
        rc = cortex__cell_wait_arm(s->obj, s->seen, announce, check_pid, &word, &val, version);
    if (announce && (rc >= 0 || word)) { /* the hooks announce before they can find the peer gone */
        s->armed = true;
        s->word = word;
        s->val = val;
    }
    return rc;
}

static void src_disarm(ws_src *s)
{
    if (!s->armed)
        return;
    s->armed = false;
    if (is_ring(s))
        cortex__ring_wait_disarm(s->obj, s->kind == WS_RING_SPACE);
    else if (s->kind == WS_BROADCAST)
        cortex__broadcast_wait_disarm(s->obj);
    /* a cell's waiting bit stays: the next write clears it (seqlock.h) */
}

static void disarm_all(cortex_waitset *ws)
{
    for (unsigned i = 0; i < ws->n; i++)
        src_disarm(&ws->src[i]);
}

/* Appends an event for @s from @rc (1 ready, < 0 gone/error) and fd @revents; returns the new count. */
static unsigned report(cortex_waitset_event *ev, unsigned k, unsigned max, ws_src *s, int rc, short revents,
                       uint64_t version, bool commit)
{
    if (k >= max)
        return k;
    cortex_waitset_event e = {.tag = s->tag, .revents = revents};
    if (rc == 1) {
        e.flags = CORTEX_WAITSET_READY;
        if (s->kind == WS_CELL) {
            e.version = version;
            if (commit) /* a look that drops the event (watch_arm) must leave it to be found again */
                s->seen = version;
        }
    } else if (rc == -EPIPE || rc == -EOWNERDEAD) {
        e.flags = CORTEX_WAITSET_GONE;
        e.reason = rc;
    } else {
        e.flags = CORTEX_WAITSET_ERROR;
        e.reason = rc;
    }
    ev[k] = e;
    return k + 1;
}

/* Turns poll's revents for an fd source into an event. */
static unsigned report_fd(cortex_waitset_event *ev, unsigned k, unsigned max, ws_src *s, short re)
{
    if (k >= max || re == 0)
        return k;
    cortex_waitset_event e = {.tag = s->tag, .revents = re};
    if (re & POLLNVAL) {
        e.flags = CORTEX_WAITSET_ERROR;
        e.reason = -EBADF;
    } else {
        if (re & s->events)
            e.flags |= CORTEX_WAITSET_READY;
        if (re & (POLLHUP | POLLERR)) {
            e.flags |= CORTEX_WAITSET_GONE;
            e.reason = -EPIPE;
        }
        if (e.flags == 0)
            return k;
    }
    ev[k] = e;
    return k + 1;
}

/* ---- looking at every source ---------------------------------------------- */

static void fill_pollfds(cortex_waitset *ws)
{
    unsigned j = 0;
    for (unsigned i = 0; i < ws->n; i++) {
        if (is_futex_kind(ws->src[i].kind))
            continue;
        ws->pfd[j] = (struct pollfd){.fd = ws->src[i].fd, .events = ws->src[i].events};
        ws->pfd_src[j++] = i;
    }
}

/* Reports what poll() left in ws->pfd. */
static unsigned report_fds(cortex_waitset *ws, cortex_waitset_event *ev, unsigned k, unsigned max)
{
    for (unsigned j = 0; j < ws->nfd; j++)
        k = report_fd(ev, k, max, &ws->src[ws->pfd_src[j]], ws->pfd[j].revents);
    return k;
}

/*
 * Step 1 (or 3 with @announce): every futex source, and the fds with a
 * poll(0) when @fds.  With @live, the next WS_LIVE_BATCH sources (round
 * robin) also have their peer's pid checked: a check reads /proc, so a
 * tick pays for a few, not for all 64 of a large set.  Returns the number
 * of events.
 */
static unsigned scan(cortex_waitset *ws, cortex_waitset_event *ev, unsigned max, bool announce, bool live,
                     bool fds)
{
    unsigned k = 0, from = ws->n ? ws->live_next % ws->n : 0;
    if (announce) {
        announce_rings(ws);
#if defined(CORTEX_SEED_WAITSET_NO_RECHECK)
        return 0; /* seeded bug (tests/model): sleeps on what it announced without looking again */
#endif
    }
    if (live)
        ws->live_next = from + WS_LIVE_BATCH;
    for (unsigned i = 0; i < ws->n && k < max; i++) {
        ws_src *s = &ws->src[i];
        if (!is_futex_kind(s->kind))
            continue;
        uint64_t version = 0;
        bool check_pid = live && (i + ws->n - from) % ws->n < WS_LIVE_BATCH;
        int rc = src_check(s, announce, check_pid, &version);
        if (rc != 0)
            k = report(ev, k, max, s, rc, 0, version, !ws->peek);
    }
    if (fds && ws->nfd && k < max) {
        fill_pollfds(ws);
        if (poll(ws->pfd, ws->nfd, 0) > 0)
            k = report_fds(ws, ev, k, max);
    }
    return k;
}

/* ---- sleeping ------------------------------------------------------------- */

/* Poll timeout in ms for @ns, rounded up, at least 1 unless 0. */
static int ms_of(int64_t ns) { return ns <= 0 ? 0 : (int)((ns + 999999) / 1000000); }

/*
 * Step 4: sleeps up to @nap with every futex source armed.  @slice is the
 * fallback's current slice (grows to CORTEX_WAITSET_SLICE_NS).  Returns
 * the fd events found (poll), else 0.
 */
static unsigned sleep_armed(cortex_waitset *ws, cortex_waitset_event *ev, unsigned max, int64_t nap, int64_t *slice,
                            int *woke)
{
    cortex__a32 *words[CORTEX__OS_WAITV_MAX];
    uint32_t vals[CORTEX__OS_WAITV_MAX];
    unsigned src_of[CORTEX__OS_WAITV_MAX];
    unsigned nw = 0, nfutex = 0;
    bool wordless = false;
    for (unsigned i = 0; i < ws->n; i++) {
        ws_src *s = &ws->src[i];
        if (!is_futex_kind(s->kind))
            continue;
        nfutex++;
        if (!s->word)
            wordless = true;
        else if (nw < CORTEX__OS_WAITV_MAX) {
            src_of[nw] = i;
            words[nw] = s->word;
            vals[nw++] = s->val;
        }
    }
    if (ws->nfd == 0 && !wordless && nw > 0 && nfutex <= CORTEX__OS_WAITV_MAX) {
        int rc = cortex__futex_waitv(words, vals, nw, nap);
        if (rc != -ENOSYS) {
            ws->mechanism = "futex_waitv";
            if (rc >= 0 && (unsigned)rc < nw)
                *woke = (int)src_of[rc]; /* the source whose writer woke us: look at it first */
            return 0;
        }
        if (nw == 1) {
            ws->mechanism = "futex";
            cortex__futex_wait(words[0], vals[0], nap);
            return 0;
        }
    }
    int64_t t = nfutex ? (*slice < nap ? *slice : nap) : nap;
    if (nfutex && *slice < CORTEX_WAITSET_SLICE_NS)
        *slice = *slice * 2 < CORTEX_WAITSET_SLICE_NS ? *slice * 2 : CORTEX_WAITSET_SLICE_NS;
    if (ws->nfd == 0) {
        ws->mechanism = "sleep";
        cortex__sleep_ns(t);
        return 0;
    }
    ws->mechanism = "poll";
    fill_pollfds(ws);
    if (poll(ws->pfd, ws->nfd, ms_of(t)) > 0)
        return report_fds(ws, ev, 0, max);
    return 0;
}

/* ---- the watcher of cortex_waitset_fd() ------------------------------------ */

static void efd_signal(cortex_waitset *ws)
{
    uint64_t one = 1;
    ssize_t w;
    do
        w = write(ws->efd_w, &one, ws->efd_r == ws->efd_w ? sizeof one : 1);
    while (w < 0 && errno == EINTR);
}

static void efd_drain(cortex_waitset *ws)
{
    unsigned char buf[64];
    while (read(ws->efd_r, buf, ws->efd_r == ws->efd_w ? 8 : sizeof buf) > 0) {
    }
}

/* Stops the watcher's use of the armed words (it may still be inside futex_waitv: ctl pulls it out). */
static void watch_disarm(cortex_waitset *ws)
{
    if (!ws->thread_up)
        return;
    pthread_mutex_lock(&ws->mu);
    if (ws->watch) {
        ws->watch = false;
        cortex__fadd32(&ws->ctl, 1, CX_RELEASE);
        cortex__futex_wake(&ws->ctl, INT32_MAX);
    }
    pthread_mutex_unlock(&ws->mu);
}

/* Has a watched word moved from its armed value?  Under mu, while armed. */
static bool words_moved(const cortex_waitset *ws)
{
    for (unsigned i = 0; i < ws->w_n; i++)
        if (cortex__ld32(ws->w_words[i], CX_ACQUIRE) != ws->w_vals[i])
            return true;
    return false;
}

static void *watcher(void *arg)
{
    cortex_waitset *ws = arg;
    struct pollfd *mine = NULL; /* the watcher's copy of the fds */
    unsigned cap = 0;
    pthread_mutex_lock(&ws->mu);
    for (;;) {
        while (!ws->watch && !ws->stop)
            pthread_cond_wait(&ws->cv, &ws->mu);
        if (ws->stop)
            break;
        bool fire = false;
        if (!ws->w_poll) {
            cortex__a32 *words[CORTEX__OS_WAITV_MAX];
            uint32_t vals[CORTEX__OS_WAITV_MAX];
            unsigned n = ws->w_n;
            memcpy(words, ws->w_words, n * sizeof words[0]);
            memcpy(vals, ws->w_vals, n * sizeof vals[0]);
            words[n] = &ws->ctl;
            vals[n] = cortex__ld32(&ws->ctl, CX_ACQUIRE);
            int64_t nap = ws->w_liveness ? WS_WATCH_NAP_NS : -1;
            pthread_mutex_unlock(&ws->mu);
            int rc = cortex__os_futex_waitv(words, vals, n + 1, nap);
            pthread_mutex_lock(&ws->mu);
            if (rc == -ENOSYS)
                ws->w_poll = true; /* go on in slices */
            else
                fire = rc != (int)n; /* a source's word, a value that moved, or the liveness nap */
        } else {
            int64_t until = cortex__now_ns() + (ws->w_fast ? CORTEX_WAITSET_SLICE_NS : WS_WATCH_NAP_NS);
            while (ws->watch && !ws->stop && !fire) {
                if (words_moved(ws) || cortex__now_ns() >= until) {
                    fire = true;
                    break;
                }
                /* poll a copy of its own: an add may move ws->w_pfd while this thread is in poll() */
                unsigned nfd = ws->w_nfd;
                if (nfd > cap) {
                    struct pollfd *grown = realloc(mine, nfd * sizeof *mine);
                    if (!grown) {
                        fire = true; /* cannot watch: let the caller look */
                        break;
                    }
                    mine = grown;
                    cap = nfd;
                }
                if (nfd)
                    memcpy(mine, ws->w_pfd, nfd * sizeof *mine);
                pthread_mutex_unlock(&ws->mu);
                int r = nfd ? poll(mine, nfd, ms_of(CORTEX_WAITSET_SLICE_NS))
                            : (cortex__sleep_ns(CORTEX_WAITSET_SLICE_NS), 0);
                pthread_mutex_lock(&ws->mu);
                if (r > 0)
                    fire = true;
            }
        }
        if (fire && ws->watch && !ws->stop) {
            ws->watch = false;
            efd_signal(ws);
        }
    }
    pthread_mutex_unlock(&ws->mu);
    free(mine);
    return NULL;
}

/* Arms the sources and hands their words to the watcher (or signals the fd at once if one is ready). */
static void watch_arm(cortex_waitset *ws)
{
    cortex_waitset_event ev[1];
    ws->peek = true; /* the event is dropped: the caller's wait must find it again */
    unsigned k = scan(ws, ev, 1, true, false, false);
    ws->peek = false;
    if (k > 0) {
        disarm_all(ws);
        efd_signal(ws);
        return;
    }
    pthread_mutex_lock(&ws->mu);
    ws->w_n = 0;
    ws->w_poll = ws->nfd > 0;
    ws->w_fast = ws->w_liveness = false;
    for (unsigned i = 0; i < ws->n; i++) {
        ws_src *s = &ws->src[i];
        if (!is_futex_kind(s->kind))
            continue;
        ws->w_liveness = true;
        if (!s->word) {
            ws->w_poll = ws->w_fast = true;
            continue;
        }
        ws->w_words[ws->w_n] = s->word;
        ws->w_vals[ws->w_n++] = s->val;
    }
    if (ws->w_n >= CORTEX__OS_WAITV_MAX) /* the control word takes one of futex_waitv's 128 */
        ws->w_poll = true;
    ws->w_nfd = 0;
    for (unsigned i = 0; i < ws->n; i++)
        if (!is_futex_kind(ws->src[i].kind))
            ws->w_pfd[ws->w_nfd++] = (struct pollfd){.fd = ws->src[i].fd, .events = ws->src[i].events};
    ws->watch = true;
    pthread_cond_signal(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
}

int cortex_waitset_fd(cortex_waitset *ws)
{
    if (!ws)
        return cortex__fail(EINVAL, "cortex_waitset_fd: NULL waitset");
    adopt(ws);
    if (ws->thread_up)
        return ws->efd_r;
    int fd = cortex__os_eventfd();
    if (fd >= 0) {
        ws->efd_r = ws->efd_w = fd;
    } else {
        int p[2];
        if (pipe(p) < 0)
            return cortex__fail_sys(errno, "pipe", errno, "cortex_waitset_fd: no eventfd and no pipe; nothing was "
                                                          "left behind");
        for (int i = 0; i < 2; i++) {
            cortex__set_cloexec(p[i], true);
            fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
        }
        ws->efd_r = p[0];
        ws->efd_w = p[1];
    }
    ws->stop = ws->watch = false;
    int rc = pthread_create(&ws->thread, NULL, watcher, ws);
    if (rc != 0) {
        close(ws->efd_r);
        if (ws->efd_w != ws->efd_r)
            close(ws->efd_w);
        ws->efd_r = ws->efd_w = -1;
        return cortex__fail_sys(rc, "pthread_create", rc,
                                "cortex_waitset_fd: could not start the watcher thread; its fd was closed again, "
                                "nothing was left behind");
    }
    ws->thread_up = true;
    watch_arm(ws);
    return ws->efd_r;
}

/* ---- the set ---------------------------------------------------------------- */

/*
 * A forked child holds a copy of its parent's waitset: fork copied neither
 * the watcher thread nor anything of it but its mutex (possibly locked) and
 * the eventfd, which the child shares with the parent; the announcements
 * the copy records armed are the parent's, on memory both share.  The
 * child's first call takes the copy over: its fds closed (its own copies
 * only), no thread, nothing armed, and nothing written to shared memory,
 * so the parent's watcher and poll loop go on as before.
 */
static void adopt(cortex_waitset *ws)
{
    pid_t self = cortex__self_pid();
    if (ws->owner == self)
        return;
    ws->owner = self;
    for (unsigned i = 0; i < ws->n; i++)
        ws->src[i].armed = false; /* the parent's: withdrawn by the parent */
    if (ws->thread_up) {
        close(ws->efd_r);
        if (ws->efd_w != ws->efd_r)
            close(ws->efd_w);
        ws->thread_up = false;
    }
    ws->efd_r = ws->efd_w = -1;
    ws->stop = ws->watch = false;
    memset(&ws->mu, 0, sizeof ws->mu);
    memset(&ws->cv, 0, sizeof ws->cv);
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
}

int cortex_waitset_create(cortex_waitset **ret)
{
    if (!ret)
        return cortex__fail(EINVAL, "cortex_waitset_create: NULL ret");
    cortex_waitset *ws = calloc(1, sizeof *ws);
    if (!ws)
        return cortex__fail(ENOMEM, "cortex_waitset_create: out of memory; nothing was left behind");
    ws->efd_r = ws->efd_w = -1;
    ws->mechanism = "none";
    ws->owner = cortex__self_pid();
#if defined(CORTEX_MODEL)
    ws->next_live = 1; /* never due (live_due) */
#endif
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
    *ret = ws;
    return 0;
}

void cortex_waitset_destroy(cortex_waitset *ws)
{
    if (!ws)
        return;
    adopt(ws);
    if (ws->thread_up) {
        pthread_mutex_lock(&ws->mu);
        ws->stop = true;
        ws->watch = false;
        cortex__fadd32(&ws->ctl, 1, CX_RELEASE);
        cortex__futex_wake(&ws->ctl, INT32_MAX);
        pthread_cond_signal(&ws->cv);
        pthread_mutex_unlock(&ws->mu);
        pthread_join(ws->thread, NULL);
        close(ws->efd_r);
        if (ws->efd_w != ws->efd_r)
            close(ws->efd_w);
    }
    disarm_all(ws);
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cv);
    free(ws->src);
    free(ws->pfd);
    free(ws->pfd_src);
    free(ws->w_pfd);
    free(ws);
}

static ws_src *find(cortex_waitset *ws, uint64_t tag)
{
    for (unsigned i = 0; i < ws->n; i++)
        if (ws->src[i].tag == tag)
            return &ws->src[i];
    return NULL;
}

/* Grows the arrays by one source when needed. */
static int reserve(cortex_waitset *ws, const char *op)
{
    if (ws->n < ws->cap)
        return 0;
    unsigned cap = ws->cap ? ws->cap * 2 : 8;
    if (cap > CORTEX_WAITSET_MAX_SOURCES)
        cap = CORTEX_WAITSET_MAX_SOURCES;
    ws_src *src = realloc(ws->src, cap * sizeof *src);
    if (src)
        ws->src = src;
    struct pollfd *pfd = src ? realloc(ws->pfd, cap * sizeof *pfd) : NULL;
    if (pfd)
        ws->pfd = pfd;
    unsigned *ps = pfd ? realloc(ws->pfd_src, cap * sizeof *ps) : NULL;
    if (ps)
        ws->pfd_src = ps;
    struct pollfd *wp = ps ? realloc(ws->w_pfd, cap * sizeof *wp) : NULL;
    if (wp)
        ws->w_pfd = wp;
    if (!wp)
        return cortex__fail(ENOMEM, "%s: out of memory; the set is unchanged", op);
    ws->cap = cap;
    return 0;
}

static int add(cortex_waitset *ws, const ws_src *s, const char *op)
{
    if (!ws)
        return cortex__fail(EINVAL, "%s: NULL waitset", op);
    adopt(ws);
    if (find(ws, s->tag))
        return cortex__fail(EEXIST, "%s: tag %llu is already in the set; the set is unchanged", op,
                            (unsigned long long)s->tag);
    if (ws->n >= CORTEX_WAITSET_MAX_SOURCES)
        return cortex__fail(ENOSPC, "%s: the set holds %u sources already (CORTEX_WAITSET_MAX_SOURCES)", op, ws->n);
    /* The watcher first: it copies its fds from ws->w_pfd (under mu, while armed), which reserve() may move. */
    watch_disarm(ws);
    int rc = reserve(ws, op);
    if (rc < 0) {
        if (ws->thread_up && ws->n)
            watch_arm(ws); /* the set is unchanged: watch it as before */
        return rc;
    }
    ws->src[ws->n++] = *s;
    if (!is_futex_kind(s->kind))
        ws->nfd++;
    if (ws->thread_up)
        watch_arm(ws);
    return 0;
}

int cortex_waitset_add_ring(cortex_waitset *ws, cortex_ring *ring, unsigned what, uint64_t tag)
{
    const char *op = "cortex_waitset_add_ring";
    if (what != CORTEX_WAITSET_DATA && what != CORTEX_WAITSET_SPACE)
        return cortex__fail(EINVAL, "%s: what is %u, not CORTEX_WAITSET_DATA or CORTEX_WAITSET_SPACE", op, what);
    bool space = what == CORTEX_WAITSET_SPACE;
    if (!ring || !ring->base || ring->closed || !(ring->role & (space ? CORTEX_PRODUCER : CORTEX_CONSUMER)))
        return cortex__fail(EINVAL, "%s: %s", op,
                            ring ? (space ? "the ring handle is not an open producer"
                                          : "the ring handle is not an open consumer")
                                 : "NULL ring");
    ws_src s = {.tag = tag, .kind = space ? WS_RING_SPACE : WS_RING_DATA, .obj = ring, .fd = -1};
    return add(ws, &s, op);
}

int cortex_waitset_add_broadcast(cortex_waitset *ws, cortex_broadcast *reader, uint64_t tag)
{
    const char *op = "cortex_waitset_add_broadcast";
    if (!reader || reader->role != 2 /* reader (lib/broadcast) */ || !reader->base)
        return cortex__fail(EINVAL, "%s: %s", op, reader ? "the handle is not an open reader" : "NULL reader");
    ws_src s = {.tag = tag, .kind = WS_BROADCAST, .obj = reader, .fd = -1};
    return add(ws, &s, op);
}

int cortex_waitset_add_cell(cortex_waitset *ws, cortex_cell *cell, uint64_t seen, uint64_t tag)
{
    const char *op = "cortex_waitset_add_cell";
    if (!cell)
        return cortex__fail(EINVAL, "%s: NULL cell", op);
    ws_src s = {.tag = tag, .kind = WS_CELL, .obj = cell, .fd = -1, .seen = seen};
    return add(ws, &s, op);
}

int cortex_waitset_add_doorbell(cortex_waitset *ws, cortex_doorbell *bell, uint64_t tag)
{
    const char *op = "cortex_waitset_add_doorbell";
    if (!bell)
        return cortex__fail(EINVAL, "%s: NULL doorbell", op);
    if (ws && find(ws, tag)) /* before cortex_doorbell_fd() changes how the bell is rung */
        return cortex__fail(EEXIST, "%s: tag %llu is already in the set; the set is unchanged", op,
                            (unsigned long long)tag);
    int fd = cortex_doorbell_fd(bell);
    if (fd < 0)
        return cortex__fail(EINVAL, "%s: the doorbell is closed", op);
    ws_src s = {.tag = tag, .kind = WS_DOORBELL, .fd = fd, .events = POLLIN};
    return add(ws, &s, op);
}

int cortex_waitset_add_fd(cortex_waitset *ws, int fd, short events, uint64_t tag)
{
    const char *op = "cortex_waitset_add_fd";
    if (fd < 0)
        return cortex__fail(EBADF, "%s: fd %d is negative", op, fd);
    if (events == 0)
        return cortex__fail(EINVAL, "%s: no events to wait for (events 0)", op);
    ws_src s = {.tag = tag, .kind = WS_FD, .fd = fd, .events = events};
    return add(ws, &s, op);
}

int cortex_waitset_remove(cortex_waitset *ws, uint64_t tag)
{
    if (!ws)
        return cortex__fail(EINVAL, "cortex_waitset_remove: NULL waitset");
    adopt(ws);
    ws_src *s = find(ws, tag);
    if (!s)
        return cortex__fail(ENOENT, "cortex_waitset_remove: no source with tag %llu in the set",
                            (unsigned long long)tag);
    watch_disarm(ws);
    src_disarm(s);
    if (!is_futex_kind(s->kind))
        ws->nfd--;
    unsigned i = (unsigned)(s - ws->src);
    memmove(s, s + 1, (ws->n - i - 1) * sizeof *s);
    ws->n--;
    if (ws->thread_up && ws->n)
        watch_arm(ws);
    return 0;
}

const char *cortex_waitset_mechanism(const cortex_waitset *ws) { return ws ? ws->mechanism : "none"; }

/* ---- waiting ---------------------------------------------------------------- */

/* Is a liveness check of the peers due (every CORTEX_WAITSET_NAP_NS, across calls)? */
static bool live_due(cortex_waitset *ws, int64_t now)
{
#if defined(CORTEX_MODEL) /* deterministic executions: no pid checks (the model's peers never die) */
    now = 0;
#endif
    if (now < ws->next_live)
        return false;
    ws->next_live = now + CORTEX_WAITSET_NAP_NS;
    return true;
}

#if !defined(CORTEX_MODEL)
/*
 * Step 2: passes until @until (WS_SPIN_NS, or the caller's deadline if
 * sooner); a busy peer answers within a cache line's round trip plus one
 * pass.  A pass loads one word per ring, from lines that stay in this
 * CPU's cache until the peer stores to them; 64 rings' index words share
 * one L1 set (the same offset in each ring's page), so a pass over them
 * costs about 180 ns on the benchmark machine, not 64 L1 hits.
 */
static unsigned spin(cortex_waitset *ws, cortex_waitset_event *ev, unsigned max, int64_t until)
{
    unsigned nw = 0, no = 0; /* rings with a word: spin_src[0, nw); futex sources without one: from the top */
    for (unsigned i = 0; i < ws->n; i++) {
        ws_src *s = &ws->src[i];
        cortex__a64 *w = is_ring(s) ? cortex__ring_wait_watch(s->obj, s->kind == WS_RING_SPACE) : NULL;
        if (w) {
            ws->spin_w[nw].word = w;
            ws->spin_w[nw].val = cortex__ld64(w, CX_RELAXED);
            ws->spin_src[nw++] = i;
        } else if (is_futex_kind(s->kind)) {
            ws->spin_src[CORTEX_WAITSET_MAX_SOURCES - 1 - no++] = i;
        }
    }
    for (unsigned pass = 1;; pass++) {
        cortex__spin_hint();
        unsigned k = 0;
        if (pass % 16 == 0 && cortex__now_ns() >= until)
            return 0;
        if (pass % WS_SPIN_FULL == 0) {
            if ((k = scan(ws, ev, max, false, false, false)) > 0)
                return k;
            continue;
        }
        unsigned first = nw; /* one branch-free sweep (the loads overlap): the first word that moved */
        for (unsigned j = nw; j-- > 0;)
            first = cortex__ld64(ws->spin_w[j].word, CX_RELAXED) != ws->spin_w[j].val ? j : first;
        int ring_rc = 0; /* that ring only, at once (each load of a set's words costs a line in one L1 set) */
        unsigned ring_at = ws->n;
        if (first < nw) {
            ws->spin_w[first].val = cortex__ld64(ws->spin_w[first].word, CX_RELAXED);
            ring_at = ws->spin_src[first];
            ring_rc = src_check(&ws->src[ring_at], false, false, NULL);
        }
        /* every pass: broadcast readers, cells, closed rings; reported with the ring in the order added */
        for (unsigned j = 0; j <= no && k < max; j++) {
            unsigned at = j < no ? ws->spin_src[CORTEX_WAITSET_MAX_SOURCES - 1 - j] : ws->n;
            if (ring_rc != 0 && ring_at < at) {
                k = report(ev, k, max, &ws->src[ring_at], ring_rc, 0, 0, !ws->peek);
                ring_rc = 0;
            }
            if (j == no)
                break;
            uint64_t version = 0;
            int rc = src_check(&ws->src[at], false, false, &version);
            if (rc != 0)
                k = report(ev, k, max, &ws->src[at], rc, 0, version, !ws->peek);
        }
        if (k)
            return k;
    }
}
#endif

static int wait_core(cortex_waitset *ws, cortex_waitset_event *ev, unsigned max, int64_t timeout_ns)
{
    unsigned k = scan(ws, ev, max, false, live_due(ws, cortex__now_ns()), true);
    if (k || timeout_ns == 0)
        return k ? (int)k : cortex__fail(ETIMEDOUT, "cortex_waitset_wait: no source ready (timeout 0)");
    int64_t deadline = cortex__deadline(timeout_ns);
#if !defined(CORTEX_MODEL) /* the model checker explores schedules, not time */
    int64_t spin_until = cortex__now_ns() + WS_SPIN_NS;
    if (ws->nfd == 0 && (k = spin(ws, ev, max, spin_until < deadline ? spin_until : deadline)) > 0) /* step 2 */
        return (int)k;
#endif
    int64_t slice = WS_FIRST_SLICE_NS;
    for (;;) {
        int64_t now = cortex__now_ns();
        if (now >= deadline)
            return cortex__fail(ETIMEDOUT, "cortex_waitset_wait: no source ready within %lld ns",
                                (long long)timeout_ns);
        int64_t nap = deadline - now < CORTEX_WAITSET_NAP_NS ? deadline - now : CORTEX_WAITSET_NAP_NS;
        int woke = -1;
        k = scan(ws, ev, max, true, false, false); /* step 3 */
        if (k == 0)
            k = sleep_armed(ws, ev, max, nap, &slice, &woke); /* step 4 */
        disarm_all(ws);                                       /* step 5 */
        if (k)
            return (int)k;
        if (woke >= 0) { /* the woken source alone, without a look at all the others */
            uint64_t version = 0;
            int rc = src_check(&ws->src[woke], false, false, &version);
            if (rc != 0)
                return (int)report(ev, 0, max, &ws->src[woke], rc, 0, version, true);
        }
        if ((k = scan(ws, ev, max, false, live_due(ws, cortex__now_ns()), true)) > 0)
            return (int)k;
    }
}

int cortex_waitset_wait(cortex_waitset *ws, cortex_waitset_event *events, unsigned max, int64_t timeout_ns)
{
    if (!ws || !events || max == 0)
        return cortex__fail(EINVAL, "cortex_waitset_wait: %s", !ws ? "NULL waitset" : !events ? "NULL events"
                                                                                              : "max is 0");
    adopt(ws);
    if (ws->n == 0)
        return cortex__fail(EINVAL, "cortex_waitset_wait: the set is empty (it would sleep forever)");
    if (ws->thread_up) {
        watch_disarm(ws);
        disarm_all(ws); /* what the watcher slept on: withdrawn, so writers stop paying for wakes */
        efd_drain(ws);
    }
    int rc = wait_core(ws, events, max, timeout_ns);
    if (ws->thread_up) {
        if (rc > 0)
            efd_signal(ws); /* level: readable until a call finds nothing */
        else
            watch_arm(ws);
    }
    return rc;
}
