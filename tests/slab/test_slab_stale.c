/* SPDX-License-Identifier: MIT */
/*
 * A stale handle racing the allocation that reuses its slot, deterministically:
 * a test hook runs right after the taker's store of the slot word (in the
 * seeded build -DCORTEX_SEED_SLAB_GEN_AFTER_STATE, between the state store
 * and the separate generation store, as the shm-primitives crate does) and
 * tries to free the slot with the handle of its previous allocation.  The
 * real slab refuses it (-ESTALE); the seeded one (registered should_fail)
 * lets the stale handle free the fresh allocation.  Exit 0 = refused.
 */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>

#include "slab/slab_internal.h"

static cortex_handle stale;
static int stale_rc = 1;

static void stale_free(cortex_slab *s)
{
    cortex__slab_hook_after_take = NULL;
    stale_rc = cortex_slab_free(s, stale);
}

int main(void)
{
    size_t len = cortex_slab_required_size(4, 16, 8);
    void *mem = NULL;
    cortex_slab *s;
    if (posix_memalign(&mem, 64, len) != 0 || cortex_slab_init(&s, mem, len, 4, 16, 8) < 0)
        return 2;
    if (cortex_slab_alloc(s, &stale) < 0 || cortex_slab_free(s, stale) < 0)
        return 2;
    cortex__slab_hook_after_take = stale_free;
    cortex_handle fresh;
    if (cortex_slab_alloc(s, &fresh) < 0)
        return 2;
    int bad = 0;
    if (cortex_handle_index(fresh) != cortex_handle_index(stale)) {
        printf("setup: the slot was not reused\n");
        return 2;
    }
    if (stale_rc != -ESTALE) {
        printf("FAIL: the stale handle's free returned %d inside the taker's window\n", stale_rc);
        bad = 1;
    }
    if (cortex_slab_get(s, fresh) == NULL) {
        printf("FAIL: the fresh allocation was freed under its owner\n");
        bad = 1;
    }
    cortex_slab_close(s);
    free(mem);
    if (!bad)
        printf("ok: the stale handle was refused\n");
    return bad;
}
