/* SPDX-License-Identifier: MIT */
/*
 * tests/ring/ring_seq.h: producer and consumer loops that move the sequence
 * numbers 0..n-1 through a ring in one of several ways, the consumer checking
 * that every number arrives once and in order.  Used by the thread pair
 * (tsan_ring.c) and the process pair (test_ring_mp.c).  Plain code: no
 * Criterion, so it runs in forked children and under ThreadSanitizer.
 */
#ifndef RING_SEQ_H
#define RING_SEQ_H

#include <errno.h>
#include <neocortex.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

SPSC_RING_DECLARE(seq_ring, uint64_t);

enum seq_mode { SEQ_SINGLE, SEQ_BATCH, SEQ_SPAN, SEQ_WAIT };

/* ThreadSanitizer runs this code 5-15x slower: the counts are cut to a tenth there (ASan keeps them). */
#if defined(__SANITIZE_THREAD__)
#define SEQ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SEQ_TSAN 1
#endif
#endif
#ifndef SEQ_TSAN
#define SEQ_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SEQ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEQ_ASAN 1
#endif
#endif
#ifndef SEQ_ASAN
#define SEQ_ASAN 0
#endif

/* xorshift for batch sizes (deterministic per side). */
static inline uint32_t seq_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)*s;
}

/* After -EAGAIN: spin a little, then let the other side run (tests share 2 CPUs). */
static inline void seq_backoff(unsigned *misses)
{
    if (++*misses % 64 == 0)
        sched_yield();
}

/* Pushes 0..n-1.  Returns 0 or a negative errno (and prints what went wrong). */
static inline int seq_produce(seq_ring *r, uint64_t n, enum seq_mode mode, uint64_t seed)
{
    uint64_t next = 0;
    unsigned misses = 0;
    uint64_t buf[64];
    while (next < n) {
        int rc;
        if (mode == SEQ_SINGLE) {
            rc = seq_ring_push(r, next);
            if (rc == 0)
                next++;
        } else if (mode == SEQ_WAIT) {
            rc = seq_ring_push_wait(r, next, 10 * INT64_C(1000000000));
            if (rc == 0)
                next++;
        } else if (mode == SEQ_BATCH) {
            size_t want = 1 + seq_rand(&seed) % 64;
            if (want > n - next)
                want = (size_t)(n - next);
            for (size_t i = 0; i < want; i++)
                buf[i] = next + i;
            ssize_t k = seq_ring_push_n(r, buf, want);
            rc = k < 0 ? (int)k : 0;
            if (k > 0)
                next += (uint64_t)k;
        } else {
            uint64_t *span;
            size_t want = 1 + seq_rand(&seed) % 64;
            ssize_t k = seq_ring_reserve(r, want, &span);
            rc = k < 0 ? (int)k : 0;
            if (k > 0) {
                if ((uint64_t)k > n - next)
                    k = (ssize_t)(n - next);
                for (ssize_t i = 0; i < k; i++)
                    span[i] = next + (uint64_t)i;
                rc = seq_ring_commit(r, (size_t)k);
                next += (uint64_t)k;
            }
        }
        if (rc == -EAGAIN)
            seq_backoff(&misses);
        else if (rc < 0) {
            fprintf(stderr, "producer: %s at %llu: %s\n", cortex_errname(rc), (unsigned long long)next,
                    cortex_last_error()->message);
            return rc;
        }
    }
    return seq_ring_flush(r); /* the producer stops: a batched ring publishes its last group */
}

/* Pops n numbers and checks each.  Returns 0, -EILSEQ on a wrong number, or a negative errno. */
static inline int seq_consume(seq_ring *r, uint64_t n, enum seq_mode mode, uint64_t seed)
{
    uint64_t expect = 0;
    unsigned misses = 0;
    uint64_t buf[64];
    while (expect < n) {
        int rc;
        uint64_t got[64];
        size_t k = 0;
        if (mode == SEQ_SINGLE || mode == SEQ_WAIT) {
            rc = mode == SEQ_SINGLE ? seq_ring_pop(r, &got[0]) : seq_ring_pop_wait(r, &got[0], 10 * INT64_C(1000000000));
            if (rc == 0)
                k = 1;
        } else if (mode == SEQ_BATCH) {
            size_t want = 1 + seq_rand(&seed) % 64;
            ssize_t m = seq_ring_pop_n(r, buf, want);
            rc = m < 0 ? (int)m : 0;
            for (ssize_t i = 0; i < m; i++)
                got[i] = buf[i];
            k = m > 0 ? (size_t)m : 0;
        } else {
            const uint64_t *span;
            size_t want = 1 + seq_rand(&seed) % 64;
            ssize_t m = seq_ring_peek(r, want, &span);
            rc = m < 0 ? (int)m : 0;
            for (ssize_t i = 0; i < m; i++)
                got[i] = span[i];
            if (m > 0) {
                rc = seq_ring_release(r, (size_t)m);
                k = (size_t)m;
            }
        }
        for (size_t i = 0; i < k; i++, expect++) {
            if (got[i] != expect) {
                fprintf(stderr, "consumer: got %llu, expected %llu\n", (unsigned long long)got[i],
                        (unsigned long long)expect);
                return -EILSEQ;
            }
        }
        if (rc == -EAGAIN)
            seq_backoff(&misses);
        else if (rc < 0) {
            fprintf(stderr, "consumer: %s at %llu: %s\n", cortex_errname(rc), (unsigned long long)expect,
                    cortex_last_error()->message);
            return rc;
        }
    }
    /* Nothing extra may follow. */
    uint64_t extra;
    int rc = seq_ring_pop(r, &extra);
    if (rc == 0) {
        fprintf(stderr, "consumer: an extra element %llu after the last\n", (unsigned long long)extra);
        return -EILSEQ;
    }
    return 0;
}

#endif
