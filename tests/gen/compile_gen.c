/* SPDX-License-Identifier: MIT */
/*
 * Compile-time checks of the pool generator and of the PROTOTYPE forms
 * (tests/gen/meson.build runs the compiler on this file): MISUSE=0 must
 * compile; 1 passes one pool instance to another's function, 2 declares a
 * pool of a type aligned beyond a pool slot, 3 passes one PROTOTYPE'd ring
 * instance to another's function, 4 takes a pool array as the wrong type;
 * each must be rejected.
 */
#include <neocortex/declare_pool.h>
#include <neocortex/declare_ring.h>
#include <neocortex/declare_slab.h>

struct msg {
    int x;
};

#if MISUSE == 2
struct wide {
    _Alignas(128) char bytes[128];
};
POOL_DECLARE(wide_pool, struct wide);
#endif

POOL_DECLARE(a_pool, struct msg);
POOL_DECLARE(b_pool, struct msg);
SPSC_RING_PROTOTYPE(a_ring, struct msg);
SPSC_RING_PROTOTYPE(b_ring, struct msg);
SLAB_PROTOTYPE(a_slab, struct msg);

int use(a_pool *a, b_pool *b, a_ring *ra, b_ring *rb, a_slab *s);
int use(a_pool *a, b_pool *b, a_ring *ra, b_ring *rb, a_slab *s)
{
    cortex_handle h = CORTEX_HANDLE_NULL;
    struct msg m = {1};
    (void)rb;
#if MISUSE == 1
    return a_pool_alloc(b, 1, &h); /* b is a b_pool */
#elif MISUSE == 3
    return a_ring_push(rb, m); /* rb is a b_ring */
#elif MISUSE == 4
    long *wrong = a_pool_get(a, h, NULL); /* the array holds struct msg */
    return wrong != 0;
#else
    (void)b;
    return a_pool_alloc(a, 2, &h) + a_ring_push(ra, m) + a_slab_reclaim(s, CORTEX_SLAB_RECLAIM_IN_FLIGHT);
#endif
}
