/* SPDX-License-Identifier: MIT */
/*
 * Compile-time checks of SLAB_DECLARE (tests/slab/meson.build runs the
 * compiler on this file): MISUSE=0 must compile; 1 passes one instance to
 * another instance's function, 2 declares a slab of a type larger than a
 * slot can be, 3 takes a slot as the wrong type; each must be rejected.
 */
#include <neocortex/declare_slab.h>

struct msg {
    int x;
};

#if MISUSE == 2
struct huge {
    char bytes[(1u << 30) + 1];
};
SLAB_DECLARE(huge_slab, struct huge);
#endif

SLAB_DECLARE(a_slab, struct msg);
SLAB_DECLARE(b_slab, struct msg);

int use(a_slab *a, b_slab *b);
int use(a_slab *a, b_slab *b)
{
    cortex_handle h = CORTEX_HANDLE_NULL;
#if MISUSE == 1
    (void)a;
    return a_slab_alloc(b, &h); /* b is a b_slab */
#elif MISUSE == 3
    (void)b;
    long *wrong = a_slab_get(a, h); /* a slot of a_slab is a struct msg */
    return wrong != 0;
#else
    (void)b;
    struct msg *m = a_slab_get(a, h);
    return a_slab_alloc(a, &h) + (m != 0);
#endif
}
