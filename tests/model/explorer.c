/* SPDX-License-Identifier: MIT */
/*
 * tests/model/explorer.c: the model checker behind lib/atomic.h's
 * CORTEX_MODEL build.
 *
 * WHAT IT DOES
 *  - Runs the real library code in up to 4 cooperative threads (coroutines:
 *    a small stack switch on x86-64 Linux, ucontext elsewhere) plus thread 0,
 *    which runs the scenario's setup before and its check after them.  Only
 *    one thread runs at a time.
 *  - Every call into lib/atomic.h (load, store, exchange, fetch-add, CAS,
 *    seq_cst fence, plain read/write, futex wait/wake, spin, membarrier) is
 *    a scheduling point.  Acquire/release/relaxed fences are thread-local (they only move
 *    vector clocks), so they are not scheduling points.
 *  - Depth-first search over every choice (which thread runs next, which
 *    store a load reads, whether a futex wait times out), CHESS-style:
 *    switching away from a thread that could go on costs one preemption and
 *    the number of preemptions per execution is bounded; switching away from
 *    a thread that blocked, spun or finished is free.  Each execution replays
 *    the recorded prefix of choices and takes the next untried alternative
 *    at the deepest choice point with one left.  Executions are
 *    deterministic (a replay that sees a different number of alternatives
 *    is reported as non-determinism).
 *  - C11 happens-before with vector clocks: release stores, acquire loads,
 *    release sequences through read-modify-writes (C++20 definition: only
 *    RMWs continue a release sequence), release fences (later relaxed
 *    stores carry the fence's clock and head a release sequence) and acquire
 *    fences (they take the clocks of every store read by earlier relaxed
 *    loads).
 *  - Each atomic location keeps its last `history` stores in modification
 *    order.  A load may read any of them that it may legally see: not older
 *    than a store or read of that location that happens-before it
 *    (write-read and read-read coherence, including through other threads),
 *    nor older than what the thread itself saw.  RMWs (exchange, fetch-add,
 *    successful CAS) read the newest store.  A failing CAS may read any
 *    visible store whose value differs from the expected one.
 *  - Plain accesses (cortex__plain_read/write) are checked byte by byte for
 *    data races: a plain access that is not ordered by happens-before after
 *    a conflicting earlier one fails the execution, naming both.  Ranges
 *    marked with mc_racy() (a seqlock payload) instead behave like relaxed
 *    atomics in 8-byte chunks (one step per chunk, any visible write may be
 *    read), so a torn or stale copy can be seen and must be rejected by the
 *    code.
 *  - Futexes: futex_wait reads the newest value of the word (the kernel's
 *    read), returns -EAGAIN if it differs, -ETIMEDOUT at once for a zero
 *    timeout, otherwise blocks until a futex_wake on the same address (FIFO)
 *    or, for a finite timeout, until nothing else can run (or at once, as
 *    an explored choice, with explore_timeouts).  If every thread is blocked
 *    without a timeout: deadlock.  With stall_timeout_is_lost_wakeup, a
 *    waiter that only its timeout could free is reported as a lost wake-up.
 *  - Spin loops: cortex__spin_hint() parks the thread until some other
 *    thread writes shared memory (re-reading the same values is pointless).
 *    If nothing else can run, the parked spinners are resumed reading only
 *    the newest stores (C11's "stores become visible in finite time"); if
 *    one spins 8 times in a row that way with no write by anyone in between:
 *    livelock, reported.
 *    More than max_spins spins by one thread in one execution prunes the
 *    execution (counted and printed), as does an execution over 20,000
 *    steps.
 *  - Any failure (assertion, race, deadlock, lost wake-up, livelock) stops
 *    the search and prints the whole trace of the failing execution: step,
 *    thread, operation, location (named with mc_name), values, memory order,
 *    and which of the visible stores a load chose.
 *
 * WHAT IT DOES NOT MODEL (so it may miss bugs that depend on these)
 *  - seq_cst is treated as acq_rel plus one global clock: every seq_cst
 *    load, store, RMW or fence first joins the global clock into the
 *    thread's clock and then joins the thread's clock into the global one.
 *    This forbids every outcome the C11 total order S forbids for the
 *    store-buffering pattern, but is stronger than C11: it also orders
 *    plain accesses through any two seq_cst operations executed one after
 *    the other, even on different locations.
 *  - Modification order follows the interleaving: a store is always newest
 *    when it executes, so a load never reads a store that executes later
 *    (no load buffering / out-of-thin-air results).
 *  - Only the last `history` stores per location can be read.
 *  - No spurious CAS failure (CAS is strong, as lib/atomic.h uses); no
 *    spurious futex wake-ups or EINTR; futex calls carry no ordering.
 *  - Mixed-size accesses: each atomic location has one width (4 or 8); a
 *    different width at the same address fails the execution.  Plain
 *    accesses of mc_racy ranges must use the same start and length.
 *  - membarrier (cortex__model_membarrier) is a seq_cst fence executed by
 *    every other started thread at the point where it stands, then by the
 *    caller: the effect of MEMBARRIER_CMD_GLOBAL_EXPEDITED, not its cost.
 *  - Memory allocation, system calls other than futex and membarrier, and
 *    time are not modelled; scenarios must keep them out of the explored
 *    threads.
 */
#define _GNU_SOURCE
#include "explorer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#ifndef CORTEX_MODEL
#define CORTEX_MODEL /* for the cortex__model_* prototypes */
#endif
#include "atomic.h"

#define NT (MC_MAX_THREADS + 1)
#define STACK_SIZE (256 * 1024)
#define MAX_STEPS 20000
#define MAX_LOCS 1024
#define LOC_HASH 4096
#define SHADOW_HASH 16384
#define MAX_NAMES 64
#define MAX_RACY 16
#define LIVELOCK_ROUNDS 8

/* ---- coroutines ----------------------------------------------------------
 * On x86-64 Linux a 20-instruction stack switch (callee-saved registers,
 * MXCSR and the x87 control word); elsewhere, or with -DMC_UCONTEXT, or when
 * CET shadow stacks may be on, ucontext, whose swapcontext also makes a
 * sigprocmask system call on every switch (about 40% of the run time). */
#if defined(__x86_64__) && defined(__linux__) && !defined(__CET__) && !defined(MC_UCONTEXT)
#define MC_FAST_SWITCH 1
typedef struct mc_ctx {
    void *sp;
} mc_ctx;
void mc__switch(void **save_sp, void *to_sp);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl mc__switch\n"
        ".hidden mc__switch\n"
        ".type mc__switch, @function\n"
        "mc__switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size mc__switch, .-mc__switch\n");
#else
#define MC_FAST_SWITCH 0
typedef ucontext_t mc_ctx;
#endif

typedef struct vclock {
    uint32_t c[NT];
} vclock;

static void vc_join(vclock *a, const vclock *b)
{
    for (int i = 0; i < NT; i++)
        if (b->c[i] > a->c[i])
            a->c[i] = b->c[i];
}

typedef struct mstore {
    uint64_t val;
    uint32_t tid, epoch, step;
    bool has_sync;
    vclock sync; /* what an acquire reading this store synchronises with */
} mstore;

typedef struct mobs { /* a store or read of a location: (thread, epoch) -> mo index */
    uint32_t tid, epoch, idx;
} mobs;

typedef struct mloc {
    uintptr_t addr;
    unsigned width; /* 4, 8; plain chunks 1..8 */
    bool plain;
    uint32_t nstores; /* stores so far; hist[i % history] holds store i */
    mstore hist[MC_MAX_HISTORY];
    mobs *obs;
    uint32_t nobs, capobs;
} mloc;

typedef struct mshadow { /* race detector state of one plain byte */
    uintptr_t addr;
    uint32_t gen;
    uint32_t wtid, wepoch, wstep;
    uint32_t rep[NT], rstep[NT];
} mshadow;

enum tstate { T_UNBORN, T_RUNNABLE, T_BLOCKED, T_SPIN, T_FINISHED, T_JOINING };

typedef struct mthread {
    mc_ctx ctx;
    void (*entry)(void);
    char *stack;
    enum tstate state;
    bool skip_sched; /* just started: the choice to run it was already made */
    vclock clk;
    vclock rel_fence;
    bool has_rel_fence;
    vclock acq_pending;
    /* futex */
    uintptr_t wait_addr;
    uintptr_t wait_more[MC_WAITV_MAX - 1]; /* futex_waitv: the other words (wait_addr is the first) */
    int wait_n;                            /* words waited on: 1, or futex_waitv's count */
    bool wait_timed;
    uint64_t wait_seq;
    int wake_result;
    /* spin */
    uint64_t spin_mark;
    int spins;
    bool fresh, stuck;
    int stuck_rounds; /* spins while fresh with no write by anyone in between */
    uint64_t fresh_mark;
} mthread;

enum opkind { OP_LOAD, OP_STORE, OP_XCHG, OP_FADD, OP_CAS_OK, OP_CAS_FAIL, OP_FENCE, OP_PREAD,
              OP_PWRITE, OP_FWAIT, OP_FWAKE, OP_SPIN, OP_START, OP_END, OP_TIMEOUT, OP_MEMBARRIER };
static const char *const op_names[] = {"load", "store", "xchg", "fetch_add", "cas ok", "cas fail",
                                       "fence", "plain_read", "plain_write", "futex_wait",
                                       "futex_wake", "spin", "start", "finish", "timeout", "membarrier"};

typedef struct mtrace {
    uint8_t tid, op, width, mo;
    uint16_t pick, nvis; /* loads: chose the pick-th newest of nvis visible stores */
    uintptr_t addr;
    uint64_t val, val2;
    int64_t extra;
} mtrace;

typedef struct mchoice {
    uint32_t chosen, count;
} mchoice;

static struct {
    const mc_scenario *sc;
    int history, bound, max_spins;
    bool running;
    mc_ctx main_ctx;
    mthread th[NT];
    int cur, nthreads;
    int preemptions;
    uint64_t writes, wait_seq;
    vclock sc_clock;
    /* locations */
    mloc locs[MAX_LOCS];
    int nlocs;
    int loc_hash[LOC_HASH]; /* index+1 into locs, valid when loc_gen[] == gen */
    uint32_t loc_gen[LOC_HASH];
    uint32_t gen;
    mshadow *shadow;
    /* memory names and racy ranges */
    struct { uintptr_t lo, hi; const char *name; } names[MAX_NAMES];
    int nnames;
    struct { uintptr_t lo, hi; } racy[MAX_RACY];
    int nracy;
    /* choices */
    mchoice *choices;
    size_t nchoices, capchoices, depth;
    /* trace */
    mtrace trace[MAX_STEPS];
    uint32_t steps, setup_steps;
    /* outcome */
    bool failed, pruned, slept;
    char message[512];
} E;

/* ---- helpers ----------------------------------------------------------- */

static const char *mo_name(int mo)
{
    switch (mo) {
    case memory_order_relaxed: return "relaxed";
    case memory_order_consume: return "consume";
    case memory_order_acquire: return "acquire";
    case memory_order_release: return "release";
    case memory_order_acq_rel: return "acq_rel";
    case memory_order_seq_cst: return "seq_cst";
    default: return "?";
    }
}

static bool is_acq(memory_order mo)
{
    return mo == memory_order_acquire || mo == memory_order_acq_rel || mo == memory_order_seq_cst ||
           mo == memory_order_consume;
}

static bool is_rel(memory_order mo)
{
    return mo == memory_order_release || mo == memory_order_acq_rel || mo == memory_order_seq_cst;
}

static uint64_t wmask(unsigned width)
{
    return width >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (width * 8)) - 1);
}

const char *mc_fmt(const char *fmt, ...)
{
    static char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

void mc_name(const void *p, size_t n, const char *name)
{
    if (E.nnames < MAX_NAMES) {
        E.names[E.nnames].lo = (uintptr_t)p;
        E.names[E.nnames].hi = (uintptr_t)p + n;
        E.names[E.nnames].name = name;
        E.nnames++;
    }
}

void mc_racy(const void *p, size_t n)
{
    if (E.nracy < MAX_RACY) {
        E.racy[E.nracy].lo = (uintptr_t)p;
        E.racy[E.nracy].hi = (uintptr_t)p + n;
        E.nracy++;
    }
}

int mc_self(void) { return E.cur; }

static bool in_racy(uintptr_t a, size_t n)
{
    for (int i = 0; i < E.nracy; i++)
        if (a < E.racy[i].hi && a + n > E.racy[i].lo)
            return true;
    return false;
}

static const char *loc_label(uintptr_t a, char *buf, size_t len)
{
    /* innermost (smallest) named range wins */
    int best = -1;
    for (int i = 0; i < E.nnames; i++)
        if (a >= E.names[i].lo && a < E.names[i].hi &&
            (best < 0 || E.names[i].hi - E.names[i].lo < E.names[best].hi - E.names[best].lo))
            best = i;
    if (best < 0)
        snprintf(buf, len, "%#lx", (unsigned long)a);
    else if (a == E.names[best].lo)
        snprintf(buf, len, "%s", E.names[best].name);
    else
        snprintf(buf, len, "%s+%lu", E.names[best].name, (unsigned long)(a - E.names[best].lo));
    return buf;
}

static bool full_trace;

static void print_trace(FILE *f)
{
    char lb[96];
    uint32_t first = 0;
    if (!full_trace)
        while (first < E.steps && E.trace[first].tid == 0 && first < E.setup_steps)
            first++;
    fprintf(f, "---- trace of the failing execution (%u steps) ----\n", E.steps);
    if (first)
        fprintf(f, "  (steps #0-#%u: thread 0's setup, not shown; --full-trace shows them)\n", first - 1);
    for (uint32_t i = first; i < E.steps; i++) {
        const mtrace *t = &E.trace[i];
        fprintf(f, "  #%-4u T%u %-11s ", i, t->tid, op_names[t->op]);
        switch (t->op) {
        case OP_LOAD:
        case OP_CAS_FAIL:
        case OP_PREAD:
            fprintf(f, "%-20s -> %#llx", loc_label(t->addr, lb, sizeof lb), (unsigned long long)t->val);
            if (t->op == OP_CAS_FAIL)
                fprintf(f, " (expected %#llx)", (unsigned long long)t->val2);
            if (t->op != OP_PREAD || t->nvis)
                fprintf(f, " %s", t->op == OP_PREAD ? "" : mo_name(t->mo));
            if (t->nvis > 1)
                fprintf(f, " [read %s of %u visible stores]",
                        t->pick == 0 ? "the newest" : mc_fmt("the %u-older", t->pick), t->nvis);
            if (t->op == OP_PREAD && t->extra)
                fprintf(f, " (%lld bytes)", (long long)t->extra);
            break;
        case OP_STORE:
        case OP_PWRITE:
            fprintf(f, "%-20s := %#llx %s", loc_label(t->addr, lb, sizeof lb), (unsigned long long)t->val,
                    t->op == OP_PWRITE ? "" : mo_name(t->mo));
            if (t->op == OP_PWRITE && t->extra)
                fprintf(f, "(%lld bytes)", (long long)t->extra);
            break;
        case OP_XCHG:
        case OP_FADD:
        case OP_CAS_OK:
            fprintf(f, "%-20s %#llx -> %#llx %s", loc_label(t->addr, lb, sizeof lb),
                    (unsigned long long)t->val, (unsigned long long)t->val2, mo_name(t->mo));
            break;
        case OP_FENCE:
            fprintf(f, "%s", mo_name(t->mo));
            break;
        case OP_FWAIT:
            fprintf(f, "%-20s expect %#llx: %s", loc_label(t->addr, lb, sizeof lb),
                    (unsigned long long)t->val2,
                    t->extra == 0 ? "woken" : t->extra == -EAGAIN ? "value differs (-EAGAIN)"
                    : t->extra == -ETIMEDOUT ? "timed out" : t->extra == 1 ? "blocks" : "?");
            break;
        case OP_FWAKE:
            fprintf(f, "%-20s woke %lld", loc_label(t->addr, lb, sizeof lb), (long long)t->extra);
            break;
        case OP_TIMEOUT:
            fprintf(f, "%-20s (nothing else can run)", loc_label(t->addr, lb, sizeof lb));
            break;
        default:
            break;
        }
        fputc('\n', f);
    }
    fprintf(f, "---- end of trace ----\n");
}

static void tr(int op, uintptr_t addr, unsigned width, uint64_t val, uint64_t val2, int mo, unsigned pick,
               unsigned nvis, int64_t extra)
{
    if (E.steps >= MAX_STEPS)
        return;
    mtrace *t = &E.trace[E.steps++];
    t->tid = (uint8_t)E.cur;
    t->op = (uint8_t)op;
    t->width = (uint8_t)width;
    t->mo = (uint8_t)mo;
    t->pick = (uint16_t)pick;
    t->nvis = (uint16_t)nvis;
    t->addr = addr;
    t->val = val;
    t->val2 = val2;
    t->extra = extra;
}

static void ctx_swap(mc_ctx *save, mc_ctx *to)
{
#if MC_FAST_SWITCH
    mc__switch(&save->sp, to->sp);
#else
    swapcontext(save, to);
#endif
}

#if MC_FAST_SWITCH
/* First code of every coroutine: runs its entry; thread 0's entry returns at the end. */
static void ctx_trampoline(void)
{
    E.th[E.cur].entry();
    mc__switch(&E.th[E.cur].ctx.sp, E.main_ctx.sp);
    abort(); /* never resumed */
}
#endif

/* Prepares coroutine i to start at fn when first switched to. */
static void ctx_make(int i, void (*fn)(void))
{
    mthread *t = &E.th[i];
    t->entry = fn;
#if MC_FAST_SWITCH
    uintptr_t top = ((uintptr_t)t->stack + STACK_SIZE) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = NULL;                            /* the trampoline's return address (never used) */
    *--sp = (void *)(uintptr_t)ctx_trampoline; /* where mc__switch returns to */
    for (int r = 0; r < 6; r++)
        *--sp = NULL;                        /* rbp rbx r12 r13 r14 r15 */
    uint32_t mxcsr = 0;
    uint16_t fpucw = 0;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    *--sp = NULL; /* MXCSR at +0, x87 control word at +4 */
    memcpy(sp, &mxcsr, sizeof mxcsr);
    memcpy((char *)sp + 4, &fpucw, sizeof fpucw);
    t->ctx.sp = sp;
#else
    getcontext(&t->ctx);
    t->ctx.uc_stack.ss_sp = t->stack;
    t->ctx.uc_stack.ss_size = STACK_SIZE;
    t->ctx.uc_link = i == 0 ? &E.main_ctx : NULL;
    makecontext(&t->ctx, fn, 0);
#endif
}

/* ---- ending an execution ------------------------------------------------ */

static void leave(void) __attribute__((noreturn));
static void leave(void)
{
    ctx_swap(&E.th[E.cur].ctx, &E.main_ctx);
    abort(); /* never resumed */
}

void mc_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(E.message, sizeof E.message, fmt, ap);
    va_end(ap);
    if (!E.running) {
        fprintf(stderr, "model: failure outside an execution: %s\n", E.message);
        abort();
    }
    E.failed = true;
    leave();
}

static void prune(void) __attribute__((noreturn));
static void prune(void)
{
    E.pruned = true;
    leave();
}

/* ---- choices and scheduling -------------------------------------------- */

static uint32_t choose(uint32_t n)
{
    if (n <= 1)
        return 0;
    if (E.depth < E.nchoices) {
        mchoice *c = &E.choices[E.depth++];
        if (c->count != n)
            mc_fail("non-deterministic execution: choice point %zu had %u alternatives, now %u "
                    "(the scenario must reset all state in setup and use no time or randomness)",
                    E.depth - 1, c->count, n);
        return c->chosen;
    }
    if (E.nchoices == E.capchoices) {
        E.capchoices = E.capchoices ? E.capchoices * 2 : 1024;
        E.choices = realloc(E.choices, E.capchoices * sizeof *E.choices);
        if (!E.choices)
            abort();
    }
    E.choices[E.nchoices].chosen = 0;
    E.choices[E.nchoices].count = n;
    E.nchoices++;
    E.depth++;
    return 0;
}

static bool enabled(int i)
{
    mthread *t = &E.th[i];
    switch (t->state) {
    case T_RUNNABLE: return true;
    case T_SPIN:
        if (E.writes > t->spin_mark) {
            t->state = T_RUNNABLE;
            t->stuck = false;
            t->stuck_rounds = 0;
            return true;
        }
        return false;
    case T_JOINING:
        for (int j = 1; j <= E.nthreads; j++)
            if (E.th[j].state != T_FINISHED)
                return false;
        return true;
    default: return false;
    }
}

static void switch_to(int next)
{
    int prev = E.cur;
    E.cur = next;
    ctx_swap(&E.th[prev].ctx, &E.th[next].ctx);
}

/* Nothing can run: resume spinners, fire a timeout, or report the stall. */
static void resolve_stall(void)
{
    bool any = false;
    for (int i = 0; i <= E.nthreads; i++) {
        mthread *t = &E.th[i];
        if (t->state == T_SPIN && !t->stuck) {
            t->state = T_RUNNABLE;
            t->fresh = true;
            t->fresh_mark = E.writes;
            any = true;
        }
    }
    if (any)
        return;
    int timed[NT], nt = 0;
    for (int i = 0; i <= E.nthreads; i++)
        if (E.th[i].state == T_BLOCKED && E.th[i].wait_timed)
            timed[nt++] = i;
    char lb[96];
    if (nt > 0) {
        if (E.sc->stall_timeout_is_lost_wakeup)
            mc_fail("lost wake-up: T%d sleeps in futex_wait on %s and only its timeout can wake it "
                    "(every other thread is finished, blocked or spinning)",
                    timed[0], loc_label(E.th[timed[0]].wait_addr, lb, sizeof lb));
        int k = timed[choose((uint32_t)nt)];
        E.th[k].state = T_RUNNABLE;
        E.th[k].wake_result = -ETIMEDOUT;
        int save = E.cur;
        E.cur = k;
        tr(OP_TIMEOUT, E.th[k].wait_addr, 4, 0, 0, 0, 0, 0, 0);
        E.cur = save;
        return;
    }
    for (int i = 0; i <= E.nthreads; i++)
        if (E.th[i].state == T_SPIN)
            mc_fail("livelock: T%d spins and nothing it waits for can change (no other thread can "
                    "write)", i);
    for (int i = 0; i <= E.nthreads; i++)
        if (E.th[i].state == T_BLOCKED)
            mc_fail("deadlock: T%d sleeps in futex_wait on %s forever (no thread can run to wake it)", i,
                    loc_label(E.th[i].wait_addr, lb, sizeof lb));
    mc_fail("internal: stall with no blocked thread");
}

/* A scheduling point before an operation of the current thread. */
static void sched_point(void)
{
    mthread *cur = &E.th[E.cur];
    if (cur->skip_sched) {
        cur->skip_sched = false;
        return;
    }
    if (E.steps >= MAX_STEPS)
        prune();
    for (;;) {
        int alts[NT], n = 0;
        bool cur_en = enabled(E.cur);
        if (cur_en)
            alts[n++] = E.cur;
        if (!cur_en || E.preemptions < E.bound)
            for (int i = 0; i <= E.nthreads; i++)
                if (i != E.cur && enabled(i))
                    alts[n++] = i;
        if (n == 0) {
            resolve_stall();
            continue;
        }
        int next = alts[choose((uint32_t)n)];
        if (next != E.cur) {
            if (cur_en)
                E.preemptions++;
            switch_to(next);
        }
        return;
    }
}

/* ---- locations ---------------------------------------------------------- */

static size_t hash_addr(uintptr_t a) { return (size_t)((a >> 2) * 2654435761u); }

static mloc *get_loc(void *p, unsigned width, bool plain)
{
    uintptr_t a = (uintptr_t)p;
    size_t h = hash_addr(a) & (LOC_HASH - 1);
    for (;;) {
        if (E.loc_gen[h] != E.gen)
            break;
        mloc *l = &E.locs[E.loc_hash[h] - 1];
        if (l->addr == a) {
            if (l->width != width || l->plain != plain)
                mc_fail("mixed-size access at %#lx: %u-byte %s access to a %u-byte %s location "
                        "(not modelled)", (unsigned long)a, width, plain ? "plain" : "atomic", l->width,
                        l->plain ? "plain" : "atomic");
            return l;
        }
        h = (h + 1) & (LOC_HASH - 1);
    }
    if (E.nlocs == MAX_LOCS)
        mc_fail("too many shared locations (%d)", MAX_LOCS);
    mloc *l = &E.locs[E.nlocs++];
    E.loc_gen[h] = E.gen;
    E.loc_hash[h] = E.nlocs;
    l->addr = a;
    l->width = width;
    l->plain = plain;
    l->nstores = 1;
    l->nobs = 0;
    mstore *s = &l->hist[0];
    memset(s, 0, sizeof *s);
    if (plain)
        memcpy(&s->val, p, width);
    else if (width == 4)
        s->val = *(uint32_t *)p;
    else
        s->val = *(uint64_t *)p;
    return l; /* initial value: thread 0, epoch 0, happens-before everything */
}

static void add_obs(mloc *l, int tid, uint32_t idx)
{
    if (l->nobs == l->capobs) {
        l->capobs = l->capobs ? l->capobs * 2 : 16;
        l->obs = realloc(l->obs, l->capobs * sizeof *l->obs);
        if (!l->obs)
            abort();
    }
    mobs *o = &l->obs[l->nobs++];
    o->tid = (uint32_t)tid;
    o->epoch = E.th[tid].clk.c[tid];
    o->idx = idx;
}

/* Oldest store index the current thread may read. */
static uint32_t visible_min(const mloc *l, const mthread *t)
{
    uint32_t lo = l->nstores > (uint32_t)E.history ? l->nstores - (uint32_t)E.history : 0;
    for (uint32_t i = 0; i < l->nobs; i++) {
        const mobs *o = &l->obs[i];
        if (o->idx > lo && o->epoch <= t->clk.c[o->tid])
            lo = o->idx;
    }
    return lo;
}

static bool fresh_only(mthread *t)
{
    if (t->fresh && E.writes == t->fresh_mark)
        return true;
    t->fresh = false;
    return false;
}

/* A load's choice among the stores it may see (newest first); records the read. */
static uint32_t pick_visible(mloc *l, mthread *t, uint32_t *nvis)
{
    uint32_t hi = l->nstores - 1, pick = hi;
    *nvis = 1;
    if (!fresh_only(t)) {
        *nvis = hi - visible_min(l, t) + 1;
        pick = hi - choose(*nvis);
    }
    add_obs(l, E.cur, pick);
    return pick;
}

static void tick(mthread *t) { t->clk.c[E.cur]++; }

static void sc_pre(mthread *t) { vc_join(&t->clk, &E.sc_clock); }
static void sc_post(mthread *t) { vc_join(&E.sc_clock, &t->clk); }

/* Takes the synchronisation of reading store s with order mo. */
static void read_sync(mthread *t, const mstore *s, memory_order mo)
{
    if (!s->has_sync)
        return;
    if (is_acq(mo))
        vc_join(&t->clk, &s->sync);
    else
        vc_join(&t->acq_pending, &s->sync);
}

/* Appends a store; rmw_prev is the store an RMW read (release sequence) or NULL. */
static mstore *append_store(mloc *l, mthread *t, uint64_t val, memory_order mo, const mstore *rmw_prev)
{
    mstore prev_copy;
    if (rmw_prev) {
        prev_copy = *rmw_prev; /* the slot may be overwritten below */
        rmw_prev = &prev_copy;
    }
    uint32_t idx = l->nstores++;
    mstore *s = &l->hist[idx % (uint32_t)E.history];
    s->val = val;
    s->tid = (uint32_t)E.cur;
    s->epoch = t->clk.c[E.cur];
    s->step = E.steps;
    s->has_sync = false;
    if (is_rel(mo)) {
        s->sync = t->clk;
        s->has_sync = true;
    } else if (t->has_rel_fence) {
        s->sync = t->rel_fence;
        s->has_sync = true;
    }
    if (rmw_prev && rmw_prev->has_sync) {
        if (!s->has_sync) {
            memset(&s->sync, 0, sizeof s->sync);
            s->has_sync = true;
        }
        vc_join(&s->sync, &rmw_prev->sync);
    }
    add_obs(l, E.cur, idx);
    E.writes++;
    return s;
}

static void mem_write(void *p, unsigned width, uint64_t v)
{
    if (width == 4)
        *(uint32_t *)p = (uint32_t)v;
    else
        *(uint64_t *)p = v;
}

static unsigned check_width(unsigned width)
{
    if (width != 4 && width != 8)
        mc_fail("unsupported atomic width %u", width);
    return width;
}

/* ---- the atomics layer -------------------------------------------------- */

uint64_t cortex__model_load(void *p, unsigned width, memory_order mo)
{
    if (!E.running)
        return width == 4 ? *(uint32_t *)p : *(uint64_t *)p;
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    if (mo == memory_order_seq_cst)
        sc_pre(t);
    mloc *l = get_loc(p, check_width(width), false);
    uint32_t hi = l->nstores - 1, nvis;
    uint32_t pick = pick_visible(l, t, &nvis);
    const mstore *s = &l->hist[pick % (uint32_t)E.history];
    read_sync(t, s, mo);
    if (mo == memory_order_seq_cst)
        sc_post(t);
    tr(OP_LOAD, (uintptr_t)p, width, s->val, 0, mo, hi - pick, nvis, 0);
    return s->val;
}

void cortex__model_store(void *p, unsigned width, uint64_t v, memory_order mo)
{
    v &= wmask(width);
    if (!E.running) {
        mem_write(p, width, v);
        return;
    }
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    if (mo == memory_order_seq_cst)
        sc_pre(t);
    mloc *l = get_loc(p, check_width(width), false);
    append_store(l, t, v, mo, NULL);
    mem_write(p, width, v);
    if (mo == memory_order_seq_cst)
        sc_post(t);
    tr(OP_STORE, (uintptr_t)p, width, v, 0, mo, 0, 0, 0);
}

/* Read-modify-write reading the newest store; op: 0 xchg, 1 fadd. */
static uint64_t rmw(void *p, unsigned width, uint64_t v, memory_order mo, int op)
{
    v &= wmask(width);
    if (!E.running) {
        uint64_t old = width == 4 ? *(uint32_t *)p : *(uint64_t *)p;
        mem_write(p, width, op ? (old + v) & wmask(width) : v);
        return old;
    }
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    if (mo == memory_order_seq_cst)
        sc_pre(t);
    mloc *l = get_loc(p, check_width(width), false);
    const mstore *prev = &l->hist[(l->nstores - 1) % (uint32_t)E.history];
    uint64_t old = prev->val;
    read_sync(t, prev, mo);
    uint64_t nv = op ? (old + v) & wmask(width) : v;
    append_store(l, t, nv, mo, prev);
    mem_write(p, width, nv);
    if (mo == memory_order_seq_cst)
        sc_post(t);
    tr(op ? OP_FADD : OP_XCHG, (uintptr_t)p, width, old, nv, mo, 0, 0, 0);
    return old;
}

uint64_t cortex__model_xchg(void *p, unsigned width, uint64_t v, memory_order mo) { return rmw(p, width, v, mo, 0); }
uint64_t cortex__model_fadd(void *p, unsigned width, uint64_t v, memory_order mo) { return rmw(p, width, v, mo, 1); }

bool cortex__model_cas(void *p, unsigned width, uint64_t *expected, uint64_t desired, memory_order succ,
                       memory_order fail)
{
    uint64_t m = wmask(width), exp = *expected & m;
    desired &= m;
    if (!E.running) {
        uint64_t cur = width == 4 ? *(uint32_t *)p : *(uint64_t *)p;
        if (cur == exp) {
            mem_write(p, width, desired);
            return true;
        }
        *expected = cur;
        return false;
    }
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    if (succ == memory_order_seq_cst || fail == memory_order_seq_cst)
        sc_pre(t);
    mloc *l = get_loc(p, check_width(width), false);
    uint32_t hi = l->nstores - 1;
    /* Alternatives: the newest store, then older visible ones that make the CAS fail. */
    uint32_t alt[MC_MAX_HISTORY], n = 0;
    alt[n++] = hi;
    if (!fresh_only(t)) {
        uint32_t lo = visible_min(l, t);
        for (uint32_t i = hi; i-- > lo;)
            if (l->hist[i % (uint32_t)E.history].val != exp)
                alt[n++] = i;
    }
    uint32_t pick = alt[choose(n)];
    const mstore *s = &l->hist[pick % (uint32_t)E.history];
    bool ok = pick == hi && s->val == exp;
    if (ok) {
        read_sync(t, s, succ);
        append_store(l, t, desired, succ, s);
        mem_write(p, width, desired);
        tr(OP_CAS_OK, (uintptr_t)p, width, exp, desired, succ, 0, 0, 0);
    } else {
        add_obs(l, E.cur, pick);
        read_sync(t, s, fail);
        *expected = s->val;
        tr(OP_CAS_FAIL, (uintptr_t)p, width, s->val, exp, fail, hi - pick, n, 0);
    }
    if (succ == memory_order_seq_cst || fail == memory_order_seq_cst)
        sc_post(t);
    return ok;
}

void cortex__model_fence(memory_order mo)
{
    if (!E.running)
        return;
    if (mo == memory_order_seq_cst)
        sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    if (mo == memory_order_seq_cst)
        sc_pre(t);
    if (is_acq(mo))
        vc_join(&t->clk, &t->acq_pending);
    if (is_rel(mo)) {
        t->rel_fence = t->clk;
        t->has_rel_fence = true;
    }
    if (mo == memory_order_seq_cst)
        sc_post(t);
    tr(OP_FENCE, 0, 0, 0, 0, mo, 0, 0, 0);
}

/*
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) by the running thread: every
 * other started thread executes a seq_cst fence at the point where it stands
 * (between two of its operations), then the caller executes one.  So the
 * caller sees whatever the others stored before that point, and their
 * loads after it see whatever the caller stored before the call.
 */
void cortex__model_membarrier(void)
{
    if (!E.running)
        return;
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    sc_pre(t);
    sc_post(t);
    for (int i = 1; i < NT; i++) {
        mthread *o = &E.th[i];
        if (i == E.cur || o->state == T_UNBORN) /* a finished thread passed a barrier as it ended */
            continue;
        sc_pre(o);
        vc_join(&o->clk, &o->acq_pending);
        o->rel_fence = o->clk;
        o->has_rel_fence = true;
        sc_post(o);
    }
    sc_pre(t);
    tr(OP_MEMBARRIER, 0, 0, 0, 0, memory_order_seq_cst, 0, 0, 0);
}

/* ---- plain accesses ------------------------------------------------------ */

static mshadow *shadow_of(uintptr_t a)
{
    size_t h = hash_addr(a * 4) & (SHADOW_HASH - 1);
    for (size_t probes = 0; probes < SHADOW_HASH; probes++) {
        mshadow *s = &E.shadow[h];
        if (s->gen != E.gen) {
            memset(s, 0, sizeof *s);
            s->gen = E.gen;
            s->addr = a;
            return s;
        }
        if (s->addr == a)
            return s;
        h = (h + 1) & (SHADOW_HASH - 1);
    }
    mc_fail("too many plain bytes tracked (%d)", SHADOW_HASH);
}

static void race_report(const char *kind, uintptr_t a, size_t n, int other, uint32_t other_step,
                        const char *other_kind) __attribute__((noreturn));
static void race_report(const char *kind, uintptr_t a, size_t n, int other, uint32_t other_step,
                        const char *other_kind)
{
    char lb[96];
    tr(kind[6] == 'r' ? OP_PREAD : OP_PWRITE, a, 0, 0, 0, 0, 0, 0, (int64_t)n);
    mc_fail("data race: T%d %s of %s is not ordered by happens-before after T%d's %s at step #%u",
            E.cur, kind, loc_label(a, lb, sizeof lb), other, other_kind, other_step);
}

static void plain_checked(void *dst, const void *src, size_t n, bool write)
{
    mthread *t = &E.th[E.cur];
    uintptr_t a = (uintptr_t)(write ? dst : src);
    for (size_t i = 0; i < n; i++) {
        mshadow *s = shadow_of(a + i);
        if (s->wepoch > t->clk.c[s->wtid] && s->wtid != (uint32_t)E.cur)
            race_report(write ? "plain_write" : "plain_read", a + i, n, (int)s->wtid, s->wstep,
                        "plain_write");
        if (write) {
            for (int u = 0; u < NT; u++)
                if (u != E.cur && s->rep[u] > t->clk.c[u])
                    race_report("plain_write", a + i, n, u, s->rstep[u], "plain_read");
            memset(s->rep, 0, sizeof s->rep);
            s->wtid = (uint32_t)E.cur;
            s->wepoch = t->clk.c[E.cur];
            s->wstep = E.steps;
        } else {
            s->rep[E.cur] = t->clk.c[E.cur];
            s->rstep[E.cur] = E.steps;
        }
    }
    uint64_t shown = 0;
    memcpy(dst, src, n);
    memcpy(&shown, write ? dst : src, n < 8 ? n : 8);
    tr(write ? OP_PWRITE : OP_PREAD, a, 0, shown, 0, 0, 0, 0, (int64_t)n);
    if (write)
        E.writes++;
}

/* A plain access to an mc_racy range: one relaxed-like step per 8-byte chunk. */
static void plain_racy(void *dst, const void *src, size_t n, bool write)
{
    char *shared = (char *)(write ? dst : (void *)(uintptr_t)src);
    for (size_t off = 0; off < n; off += 8) {
        unsigned w = (unsigned)(n - off < 8 ? n - off : 8);
        sched_point();
        mthread *t = &E.th[E.cur];
        tick(t);
        mloc *l = get_loc(shared + off, w, true);
        uint64_t v = 0;
        if (write) {
            memcpy(&v, (const char *)src + off, w);
            append_store(l, t, v, memory_order_relaxed, NULL);
            memcpy(shared + off, &v, w);
            tr(OP_PWRITE, (uintptr_t)shared + off, w, v, 0, 0, 0, 0, w);
        } else {
            uint32_t hi = l->nstores - 1, nvis;
            uint32_t pick = pick_visible(l, t, &nvis);
            const mstore *s = &l->hist[pick % (uint32_t)E.history];
            read_sync(t, s, memory_order_relaxed);
            memcpy((char *)dst + off, &s->val, w);
            tr(OP_PREAD, (uintptr_t)shared + off, w, s->val, 0, 0, hi - pick, nvis, w);
        }
    }
}

static void plain_access(void *dst, const void *src, size_t n, bool write)
{
    if (!E.running || n == 0) {
        memcpy(dst, src, n);
    } else if (in_racy((uintptr_t)(write ? dst : src), n)) {
        plain_racy(dst, src, n, write);
    } else {
        sched_point();
        tick(&E.th[E.cur]);
        plain_checked(dst, src, n, write);
    }
}

void cortex__model_plain_write(void *dst, const void *src, size_t n) { plain_access(dst, src, n, true); }
void cortex__model_plain_read(void *dst, const void *src, size_t n) { plain_access(dst, src, n, false); }

/* ---- futex and spin ------------------------------------------------------ */

int cortex__model_futex_wait(void *addr, uint32_t expected, int64_t timeout_ns)
{
    if (!E.running)
        return *(uint32_t *)addr == expected ? -ETIMEDOUT : -EAGAIN;
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    mloc *l = get_loc(addr, 4, false);
    uint32_t hi = l->nstores - 1;
    uint64_t v = l->hist[hi % (uint32_t)E.history].val;
    add_obs(l, E.cur, hi);
    if (v != expected) {
        tr(OP_FWAIT, (uintptr_t)addr, 4, v, expected, 0, 0, 0, -EAGAIN);
        return -EAGAIN;
    }
    if (timeout_ns == 0 || (timeout_ns > 0 && E.sc->explore_timeouts && choose(2) == 1)) {
        tr(OP_FWAIT, (uintptr_t)addr, 4, v, expected, 0, 0, 0, -ETIMEDOUT);
        return -ETIMEDOUT;
    }
    tr(OP_FWAIT, (uintptr_t)addr, 4, v, expected, 0, 0, 0, 1);
    E.slept = true;
    t->state = T_BLOCKED;
    t->wait_addr = (uintptr_t)addr;
    t->wait_n = 1;
    t->wait_timed = timeout_ns > 0;
    t->wait_seq = E.wait_seq++;
    t->wake_result = 0;
    sched_point();
    tr(OP_FWAIT, (uintptr_t)addr, 4, v, expected, 0, 0, 0, t->wake_result);
    return t->wake_result;
}

/* Does blocked thread @t wait on @addr?  Which of its words (0..), or -1. */
static int waits_on(const mthread *t, uintptr_t addr)
{
    if (t->wait_addr == addr)
        return 0;
    for (int i = 1; i < t->wait_n; i++)
        if (t->wait_more[i - 1] == addr)
            return i;
    return -1;
}

/*
 * futex_waitv: -EAGAIN if one word's newest value differs from its expected
 * one (each word is read like futex_wait's), else blocks on all of them; a
 * wake of any returns its index.
 */
int cortex__model_futex_waitv(void *const *addrs, const uint32_t *expected, unsigned n, int64_t timeout_ns)
{
    if (n == 0 || n > MC_WAITV_MAX)
        return -EINVAL;
    if (!E.running)
        return -ETIMEDOUT;
    sched_point();
    mthread *t = &E.th[E.cur];
    tick(t);
    for (unsigned i = 0; i < n; i++) {
        mloc *l = get_loc(addrs[i], 4, false);
        uint32_t hi = l->nstores - 1;
        uint64_t v = l->hist[hi % (uint32_t)E.history].val;
        add_obs(l, E.cur, hi);
        if (v != expected[i]) {
            tr(OP_FWAIT, (uintptr_t)addrs[i], 4, v, expected[i], 0, 0, 0, -EAGAIN);
            return -EAGAIN;
        }
    }
    if (timeout_ns == 0 || (timeout_ns > 0 && E.sc->explore_timeouts && choose(2) == 1)) {
        tr(OP_FWAIT, (uintptr_t)addrs[0], 4, expected[0], expected[0], 0, 0, 0, -ETIMEDOUT);
        return -ETIMEDOUT;
    }
    tr(OP_FWAIT, (uintptr_t)addrs[0], 4, expected[0], expected[0], 0, 0, 0, 1);
    E.slept = true;
    t->state = T_BLOCKED;
    t->wait_addr = (uintptr_t)addrs[0];
    for (unsigned i = 1; i < n; i++)
        t->wait_more[i - 1] = (uintptr_t)addrs[i];
    t->wait_n = (int)n;
    t->wait_timed = timeout_ns > 0;
    t->wait_seq = E.wait_seq++;
    t->wake_result = 0;
    sched_point();
    t->wait_n = 1;
    tr(OP_FWAIT, t->wait_addr, 4, 0, 0, 0, 0, 0, t->wake_result);
    return t->wake_result;
}

int cortex__model_futex_wake(void *addr, uint32_t n)
{
    if (!E.running)
        return 0;
    sched_point();
    tick(&E.th[E.cur]);
    int woken = 0;
    while ((uint32_t)woken < n) {
        int best = -1;
        for (int i = 0; i <= E.nthreads; i++) {
            mthread *t = &E.th[i];
            if (t->state == T_BLOCKED && waits_on(t, (uintptr_t)addr) >= 0 &&
                (best < 0 || t->wait_seq < E.th[best].wait_seq))
                best = i;
        }
        if (best < 0)
            break;
        E.th[best].state = T_RUNNABLE;
        E.th[best].wake_result = E.th[best].wait_n > 1 ? waits_on(&E.th[best], (uintptr_t)addr) : 0;
        woken++;
    }
    tr(OP_FWAKE, (uintptr_t)addr, 4, 0, 0, 0, 0, 0, woken);
    return woken;
}

void cortex__model_spin(void)
{
    if (!E.running)
        return;
    mthread *t = &E.th[E.cur];
    if (++t->spins > E.max_spins)
        prune();
    tr(OP_SPIN, 0, 0, 0, 0, 0, 0, 0, 0);
    /* Resumed reading only the newest stores and nobody wrote since: one more round
     * without progress (a round can still change the thread's local state, e.g. a
     * failed CAS hands it the newest value, so only LIVELOCK_ROUNDS in a row count). */
    if (t->fresh && E.writes == t->fresh_mark)
        t->stuck = ++t->stuck_rounds >= LIVELOCK_ROUNDS;
    else
        t->stuck_rounds = 0;
    t->fresh = false;
    t->state = T_SPIN;
    t->spin_mark = E.writes;
    sched_point();
}

/* ---- executions ----------------------------------------------------------- */

static void thread_entry(void)
{
    int id = E.cur;
    E.sc->thread(id);
    tr(OP_END, 0, 0, 0, 0, 0, 0, 0, 0);
    E.th[id].state = T_FINISHED;
    E.th[id].skip_sched = false;
    sched_point();
    abort(); /* a finished thread is never resumed */
}

static void main_entry(void)
{
    mthread *t0 = &E.th[0];
    E.sc->setup();
    for (int i = 1; i <= E.nthreads; i++) {
        mthread *t = &E.th[i];
        tick(t0);
        t->clk = t0->clk; /* thread creation: setup happens-before the thread */
        t->clk.c[i] = 1;
        t->state = T_RUNNABLE;
        ctx_make(i, thread_entry);
    }
    t0->state = T_JOINING;
    E.setup_steps = E.steps;
    sched_point();
    /* join: every thread happens-before the check */
    for (int i = 1; i <= E.nthreads; i++)
        vc_join(&t0->clk, &E.th[i].clk);
    t0->state = T_RUNNABLE;
    if (E.sc->check)
        E.sc->check();
}

static void reset_execution(void)
{
    E.gen++;
    if (E.gen == 0) { /* wrapped: clear the stamps for real */
        memset(E.loc_gen, 0, sizeof E.loc_gen);
        for (size_t i = 0; i < SHADOW_HASH; i++)
            E.shadow[i].gen = 0;
        E.gen = 1;
    }
    E.nlocs = 0;
    E.nnames = 0;
    E.nracy = 0;
    E.steps = 0;
    E.setup_steps = MAX_STEPS;
    E.depth = 0;
    E.preemptions = 0;
    E.writes = 0;
    E.wait_seq = 0;
    E.failed = false;
    E.pruned = false;
    E.slept = false;
    memset(&E.sc_clock, 0, sizeof E.sc_clock);
    for (int i = 0; i < NT; i++) {
        mthread *t = &E.th[i];
        char *stack = t->stack;
        memset(t, 0, sizeof *t);
        t->stack = stack;
        t->state = i == 0 ? T_RUNNABLE : T_UNBORN;
        t->skip_sched = i != 0;
    }
    E.cur = 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mc_explore(const mc_scenario *sc, bool quiet, mc_result *res)
{
    memset(res, 0, sizeof *res);
    E.sc = sc;
    E.nthreads = sc->threads < 1 ? 1 : sc->threads > MC_MAX_THREADS ? MC_MAX_THREADS : sc->threads;
    E.bound = sc->preemptions == 0 ? 2 : sc->preemptions < 0 ? 0 : sc->preemptions;
    E.history = sc->history <= 0 ? 3 : sc->history > MC_MAX_HISTORY ? MC_MAX_HISTORY : sc->history;
    E.max_spins = sc->max_spins <= 0 ? 40 : sc->max_spins;
    long max_exec = sc->max_executions <= 0 ? 5000000 : sc->max_executions;
    for (int i = 0; i < NT; i++)
        if (!E.th[i].stack && !(E.th[i].stack = malloc(STACK_SIZE)))
            abort();
    if (!E.shadow && !(E.shadow = calloc(SHADOW_HASH, sizeof *E.shadow)))
        abort();
    E.nchoices = 0;
    double t0 = now_s();
    for (;;) {
        reset_execution();
        E.running = true;
        E.cur = 0;
        ctx_make(0, main_entry);
        ctx_swap(&E.main_ctx, &E.th[0].ctx);
        E.running = false;
        res->executions++;
        if ((long)E.nchoices > res->max_depth)
            res->max_depth = (long)E.nchoices;
        if (E.pruned)
            res->pruned++;
        if (E.slept)
            res->slept++;
        if (E.failed) {
            res->failed = true;
            snprintf(res->message, sizeof res->message, "%s", E.message);
            if (!quiet) {
                printf("%s: FAILED in execution %ld: %s\n", sc->name, res->executions, E.message);
                print_trace(stdout);
            }
            break;
        }
        /* next schedule: the deepest choice point with an untried alternative */
        while (E.nchoices > 0 && E.choices[E.nchoices - 1].chosen + 1 >= E.choices[E.nchoices - 1].count)
            E.nchoices--;
        if (E.nchoices == 0) {
            res->complete = true;
            break;
        }
        E.choices[E.nchoices - 1].chosen++;
        if (res->executions >= max_exec)
            break;
    }
    res->seconds = now_s() - t0;
}

/* ---- command line ---------------------------------------------------------- */

int mc_main(int argc, char **argv, const mc_scenario *const *list)
{
    const char *name = NULL;
    bool expect_fail = false, quiet = false;
    int bound = 0, history = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            for (const mc_scenario *const *s = list; *s; s++)
                printf("%-28s %d threads, bound %d: %s\n", (*s)->name, (*s)->threads, (*s)->preemptions,
                       (*s)->what ? (*s)->what : "");
            return 0;
        } else if (!strcmp(argv[i], "--expect-fail"))
            expect_fail = true;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = true;
        else if (!strcmp(argv[i], "--full-trace"))
            full_trace = true;
        else if (!strcmp(argv[i], "--bound") && i + 1 < argc)
            bound = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--history") && i + 1 < argc)
            history = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "usage: %s --list | NAME [--expect-fail] [--bound N] [--history N] [--quiet] [--full-trace]\n",
                    argv[0]);
            return 2;
        }
    }
    const mc_scenario *sc = NULL;
    for (const mc_scenario *const *s = list; *s && name; s++)
        if (!strcmp((*s)->name, name))
            sc = *s;
    if (!sc) {
        fprintf(stderr, "%s: no scenario named %s (try --list)\n", argv[0], name ? name : "(none)");
        return 2;
    }
    mc_scenario copy = *sc;
    if (bound)
        copy.preemptions = bound;
    if (history)
        copy.history = history;
    mc_result r;
    printf("%s: %s\n", copy.name, copy.what ? copy.what : "");
    printf("%s: %d threads, preemption bound %d, history %d%s\n", copy.name, copy.threads,
           copy.preemptions == 0 ? 2 : copy.preemptions < 0 ? 0 : copy.preemptions,
           copy.history <= 0 ? 3 : copy.history, expect_fail ? ", expecting the checker to find a bug" : "");
    fflush(stdout);
    mc_explore(&copy, quiet, &r);
    printf("%s: %ld executions explored (%ld pruned by the spin/step bound, %ld slept in futex_wait, deepest "
           "%ld choice points) in %.2f s: %s\n",
           copy.name, r.executions, r.pruned, r.slept, r.max_depth, r.seconds,
           r.failed ? "BUG FOUND" : r.complete ? "passed, exhaustive within the bounds"
                                               : "NOT exhaustive (execution cap reached)");
    if (copy.report)
        copy.report();
    if (expect_fail) {
        if (r.failed) {
            printf("%s: the checker found the seeded bug after %ld executions, as expected\n", copy.name,
                   r.executions);
            return 0;
        }
        printf("%s: the checker did NOT find the seeded bug\n", copy.name);
        return 1;
    }
    return !r.failed && r.complete ? 0 : 1;
}
