/* SPDX-License-Identifier: MIT */
/*
 * tests/slab/hammer.h: alloc/free with allocation stamps, shared by the
 * multi-process test and the ThreadSanitizer program.
 *
 * Every slot holds a stamp.  A free slot's stamp is 0.  After alloc the
 * taker checks the stamp is 0 and writes its own (worker id, sequence);
 * before free it checks the stamp is still its own and clears it.  If the
 * slab ever handed one slot to two holders, one of them finds a foreign
 * stamp.  Returns 0, or a nonzero code saying what went wrong.
 */
#ifndef SLAB_HAMMER_H
#define SLAB_HAMMER_H

#include <errno.h>
#include <neocortex/slab.h>
#include <stdint.h>
#include <stdlib.h>

struct stamp {
    uint64_t owner; /* worker id << 32 | sequence; 0 = free */
    uint64_t check; /* ~owner */
};

#define HAMMER_HOLD 8

enum { HAMMER_OK = 0, HAMMER_ALLOC_ERR = 20, HAMMER_DIRTY = 21, HAMMER_STOLEN = 22, HAMMER_FREE_ERR = 23 };

static inline uint32_t hammer_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (uint32_t)*x;
}

/*
 * @p ops operations by worker @p id (>= 1); @p stop, if not NULL, ends it
 * early when set; @p dead, if not NULL, names a worker that was killed: its
 * stamps may be found on slots that reclaim gave back.
 */
static inline int hammer_ex(cortex_slab *s, uint32_t id, long ops, volatile int *stop, volatile uint32_t *dead)
{
    cortex_handle held[HAMMER_HOLD];
    uint64_t mine[HAMMER_HOLD];
    int n = 0;
    uint64_t rng = 0x9e3779b97f4a7c15ull * id, seq = 0;
    for (long k = 0; k < ops && !(stop && *stop); k++) {
        uint32_t r = hammer_rand(&rng);
        if (n == 0 || (n < HAMMER_HOLD && (r & 1))) {
            cortex_handle h;
            int rc = cortex_slab_alloc(s, &h);
            if (rc == -ENOSPC)
                continue;
            if (rc < 0)
                return HAMMER_ALLOC_ERR;
            struct stamp *st = cortex_slab_get(s, h);
            if (!st)
                return HAMMER_ALLOC_ERR;
            if (st->owner != 0 || st->check != ~(uint64_t)0) {
                /* a killed worker may have died halfway through writing or clearing its stamp */
                if (!dead || *dead == 0 || (st->owner != 0 && (uint32_t)(st->owner >> 32) != *dead))
                    return HAMMER_DIRTY;
            }
            uint64_t me = ((uint64_t)id << 32) | (++seq & 0xffffffffu);
            st->owner = me;
            st->check = ~me;
            held[n] = h;
            mine[n] = me;
            n++;
        } else {
            int i = (int)((r >> 1) % (uint32_t)n);
            struct stamp *st = cortex_slab_get(s, held[i]);
            if (!st || st->owner != mine[i] || st->check != ~mine[i])
                return HAMMER_STOLEN;
            st->owner = 0;
            st->check = ~(uint64_t)0;
            if (cortex_slab_free(s, held[i]) != 0)
                return HAMMER_FREE_ERR;
            held[i] = held[--n];
            mine[i] = mine[n];
        }
    }
    while (n > 0) {
        n--;
        struct stamp *st = cortex_slab_get(s, held[n]);
        if (!st || st->owner != mine[n])
            return HAMMER_STOLEN;
        st->owner = 0;
        st->check = ~(uint64_t)0;
        if (cortex_slab_free(s, held[n]) != 0)
            return HAMMER_FREE_ERR;
    }
    return HAMMER_OK;
}

static inline int hammer(cortex_slab *s, uint32_t id, long ops, volatile int *stop)
{
    return hammer_ex(s, id, ops, stop, NULL);
}

/* Stamps every slot free (once after init, before any worker); 0 or -1. */
static inline int hammer_prepare(cortex_slab *s)
{
    uint32_t n = cortex_slab_slots(s);
    cortex_handle *h = malloc(sizeof *h * n);
    if (!h)
        return -1;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (cortex_slab_alloc(s, &h[i]) != 0) {
            rc = -1;
            n = i;
            break;
        }
        struct stamp *st = cortex_slab_get(s, h[i]);
        st->owner = 0;
        st->check = ~(uint64_t)0;
    }
    for (uint32_t i = 0; i < n; i++)
        cortex_slab_free(s, h[i]);
    free(h);
    return rc;
}

#ifdef __has_feature
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HAMMER_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAMMER_SANITIZED 1
#endif
#ifndef HAMMER_SANITIZED
#define HAMMER_SANITIZED 0
#endif

#endif
