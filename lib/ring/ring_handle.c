/* SPDX-License-Identifier: MIT */
/*
 * lib/ring/ring_handle.c: ring handles on the heap.  cortex_ring is 64-byte
 * aligned (each side's private indices on their own cache line), which
 * malloc() does not promise; these hand out correctly aligned handles.
 */
#include "internal.h"

#include <neocortex/ring.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

cortex_ring *cortex_ring_new(void)
{
    /* sizeof(cortex_ring) is a multiple of its alignment, as aligned_alloc() wants. */
    cortex_ring *r = aligned_alloc(_Alignof(cortex_ring), sizeof *r);
    if (!r) {
        cortex__fail(ENOMEM, "cortex_ring_new: out of memory for a %zu-byte ring handle", sizeof *r);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    return r;
}

int cortex_ring_free(cortex_ring *r)
{
    if (!r)
        return 0;
    int rc = cortex_ring_close(r);
    free(r);
    return rc;
}
