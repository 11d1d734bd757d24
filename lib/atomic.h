/* SPDX-License-Identifier: MIT */
/*
 * lib/atomic.h: the one atomics layer of the lock-free code (internal).
 *
 * The ring, the slab, the futex lock and the cell sequence do EVERY access to
 * shared state through these functions:
 *
 *   cortex__ld32/64      load with an explicit memory order
 *   cortex__st32/64      store
 *   cortex__xchg32/64    exchange
 *   cortex__fadd32/64    fetch-add (returns the old value)
 *   cortex__cas32/64     strong compare-exchange (updates *expected on failure)
 *   cortex__fence        thread fence
 *   cortex__plain_read   marked plain (non-atomic) copy out of shared memory
 *   cortex__plain_write  marked plain copy into shared memory
 *   cortex__futex_wait   sleep while *addr == expected (bounded by timeout)
 *   cortex__futex_wake   wake up to n sleepers on addr
 *   cortex__spin_hint    inside a spin loop (pause; a yield point in the model)
 *
 * Normal builds: static inline wrappers over <stdatomic.h>, memcpy and the
 * futex system call; they compile to the same instructions as direct use.
 *
 * Model-check builds (CORTEX_MODEL defined): every call goes to the explorer
 * in tests/model/, which makes it a scheduling point, keeps a store history
 * per location, tracks happens-before with vector clocks and reports races
 * on the plain accesses.  The shared fields keep their _Atomic types in both
 * builds, so the layout is the same.
 */
#ifndef CORTEX_INTERNAL_ATOMIC_H
#define CORTEX_INTERNAL_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef _Atomic uint32_t cortex__a32;
typedef _Atomic uint64_t cortex__a64;

_Static_assert(sizeof(cortex__a32) == 4, "_Atomic uint32_t must be 4 bytes");
_Static_assert(sizeof(cortex__a64) == 8, "_Atomic uint64_t must be 8 bytes");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

#define CX_RELAXED memory_order_relaxed
#define CX_ACQUIRE memory_order_acquire
#define CX_RELEASE memory_order_release
#define CX_ACQ_REL memory_order_acq_rel
#define CX_SEQ_CST memory_order_seq_cst

/* Futex primitives of the OS layer (lib/os); return 0, -EAGAIN, -ETIMEDOUT, -EINTR. */
int cortex__os_futex_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns);
int cortex__os_futex_wake(cortex__a32 *addr, uint32_t n);
/* futex_waitv over @n words (lib/os/os.h): the woken word's index, -EAGAIN, -ETIMEDOUT, -EINTR, -ENOSYS. */
int cortex__os_futex_waitv(cortex__a32 *const *words, const uint32_t *vals, unsigned n, int64_t timeout_ns);

#if defined(CORTEX_MODEL)

/* Implemented by the explorer (tests/model). width is 4 or 8. */
uint64_t cortex__model_load(void *p, unsigned width, memory_order mo);
void cortex__model_store(void *p, unsigned width, uint64_t v, memory_order mo);
uint64_t cortex__model_xchg(void *p, unsigned width, uint64_t v, memory_order mo);
uint64_t cortex__model_fadd(void *p, unsigned width, uint64_t v, memory_order mo);
bool cortex__model_cas(void *p, unsigned width, uint64_t *expected, uint64_t desired,
                       memory_order succ, memory_order fail);
void cortex__model_fence(memory_order mo);
void cortex__model_plain_read(void *dst, const void *src, size_t n);
void cortex__model_plain_write(void *dst, const void *src, size_t n);
int cortex__model_futex_wait(void *addr, uint32_t expected, int64_t timeout_ns);
int cortex__model_futex_wake(void *addr, uint32_t n);
int cortex__model_futex_waitv(void *const *addrs, const uint32_t *expected, unsigned n, int64_t timeout_ns);
void cortex__model_spin(void);
void cortex__model_membarrier(void); /* a seq_cst fence in every other live thread, where it stands */

static inline uint32_t cortex__ld32(cortex__a32 *p, memory_order mo) { return (uint32_t)cortex__model_load((void *)p, 4, mo); }
static inline uint64_t cortex__ld64(cortex__a64 *p, memory_order mo) { return cortex__model_load((void *)p, 8, mo); }
static inline void cortex__st32(cortex__a32 *p, uint32_t v, memory_order mo) { cortex__model_store((void *)p, 4, v, mo); }
static inline void cortex__st64(cortex__a64 *p, uint64_t v, memory_order mo) { cortex__model_store((void *)p, 8, v, mo); }
static inline uint32_t cortex__xchg32(cortex__a32 *p, uint32_t v, memory_order mo) { return (uint32_t)cortex__model_xchg((void *)p, 4, v, mo); }
static inline uint64_t cortex__xchg64(cortex__a64 *p, uint64_t v, memory_order mo) { return cortex__model_xchg((void *)p, 8, v, mo); }
static inline uint32_t cortex__fadd32(cortex__a32 *p, uint32_t v, memory_order mo) { return (uint32_t)cortex__model_fadd((void *)p, 4, v, mo); }
static inline uint64_t cortex__fadd64(cortex__a64 *p, uint64_t v, memory_order mo) { return cortex__model_fadd((void *)p, 8, v, mo); }
static inline bool cortex__cas32(cortex__a32 *p, uint32_t *expected, uint32_t desired, memory_order succ, memory_order fail)
{
    uint64_t e = *expected;
    bool ok = cortex__model_cas((void *)p, 4, &e, desired, succ, fail);
    *expected = (uint32_t)e;
    return ok;
}
static inline bool cortex__cas64(cortex__a64 *p, uint64_t *expected, uint64_t desired, memory_order succ, memory_order fail)
{
    return cortex__model_cas((void *)p, 8, expected, desired, succ, fail);
}
static inline void cortex__fence(memory_order mo) { cortex__model_fence(mo); }
static inline void cortex__plain_read(void *dst, const void *src, size_t n) { cortex__model_plain_read(dst, src, n); }
static inline void cortex__plain_write(void *dst, const void *src, size_t n) { cortex__model_plain_write(dst, src, n); }
static inline int cortex__futex_wait(cortex__a32 *p, uint32_t expected, int64_t timeout_ns) { return cortex__model_futex_wait((void *)p, expected, timeout_ns); }
static inline int cortex__futex_wake(cortex__a32 *p, uint32_t n) { return cortex__model_futex_wake((void *)p, n); }
static inline int cortex__futex_waitv(cortex__a32 *const *w, const uint32_t *v, unsigned n, int64_t timeout_ns)
{
    return cortex__model_futex_waitv((void *const *)w, v, n, timeout_ns);
}
static inline void cortex__spin_hint(void) { cortex__model_spin(); }

#else /* normal build */

static inline uint32_t cortex__ld32(cortex__a32 *p, memory_order mo) { return atomic_load_explicit(p, mo); }
static inline uint64_t cortex__ld64(cortex__a64 *p, memory_order mo) { return atomic_load_explicit(p, mo); }
static inline void cortex__st32(cortex__a32 *p, uint32_t v, memory_order mo) { atomic_store_explicit(p, v, mo); }
static inline void cortex__st64(cortex__a64 *p, uint64_t v, memory_order mo) { atomic_store_explicit(p, v, mo); }
static inline uint32_t cortex__xchg32(cortex__a32 *p, uint32_t v, memory_order mo) { return atomic_exchange_explicit(p, v, mo); }
static inline uint64_t cortex__xchg64(cortex__a64 *p, uint64_t v, memory_order mo) { return atomic_exchange_explicit(p, v, mo); }
static inline uint32_t cortex__fadd32(cortex__a32 *p, uint32_t v, memory_order mo) { return atomic_fetch_add_explicit(p, v, mo); }
static inline uint64_t cortex__fadd64(cortex__a64 *p, uint64_t v, memory_order mo) { return atomic_fetch_add_explicit(p, v, mo); }
static inline bool cortex__cas32(cortex__a32 *p, uint32_t *expected, uint32_t desired, memory_order succ, memory_order fail)
{
    return atomic_compare_exchange_strong_explicit(p, expected, desired, succ, fail);
}
static inline bool cortex__cas64(cortex__a64 *p, uint64_t *expected, uint64_t desired, memory_order succ, memory_order fail)
{
    return atomic_compare_exchange_strong_explicit(p, expected, desired, succ, fail);
}
static inline void cortex__fence(memory_order mo) { atomic_thread_fence(mo); }
static inline void cortex__plain_read(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
static inline void cortex__plain_write(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
static inline int cortex__futex_wait(cortex__a32 *p, uint32_t expected, int64_t timeout_ns) { return cortex__os_futex_wait(p, expected, timeout_ns); }
static inline int cortex__futex_wake(cortex__a32 *p, uint32_t n) { return cortex__os_futex_wake(p, n); }
static inline int cortex__futex_waitv(cortex__a32 *const *w, const uint32_t *v, unsigned n, int64_t timeout_ns)
{
    return cortex__os_futex_waitv(w, v, n, timeout_ns);
}
static inline void cortex__spin_hint(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* CORTEX_MODEL */

#endif
