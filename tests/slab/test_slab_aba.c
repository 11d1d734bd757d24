/* SPDX-License-Identifier: MIT */
/*
 * ABA, deterministically: an allocator reads the head (its top slot is taken,
 * so it means to take the slot linked below it), and before its CAS other
 * operations pop and push until the head's index, taker and parity bits are
 * exactly what it read, while the slot it read as "below" is now someone
 * else's.  With the tag the stale CAS fails and the allocator retries; an
 * untagged head (built from the same sources with
 * -DCORTEX_SEED_SLAB_UNTAGGED_HEAD, registered should_fail) accepts the stale
 * CAS and hands out a slot that is already allocated.
 *
 * The window is opened with a test-build hook that slab.c calls right before
 * the head CAS (-DCORTEX_SLAB_TEST_HOOKS).  Exit 0: no slot handed out twice.
 */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slab/slab_internal.h"

static cortex_handle p_handle, q, r, r2;
static int hook_rc;

static void others(cortex_slab *s)
{
    cortex__slab_hook_before_cas = NULL; /* once, and not in the nested calls */
    hook_rc |= cortex_slab_alloc(s, &q);       /* takes the slot the stalled allocator read as "below" */
    hook_rc |= cortex_slab_free(s, p_handle);  /* slot 0 back on top */
    hook_rc |= cortex_slab_alloc(s, &r);       /* slot 0 taken (generation parity flips) */
    hook_rc |= cortex_slab_free(s, r);         /* back again */
    hook_rc |= cortex_slab_alloc(s, &r2);      /* slot 0 taken: head bits as the allocator read them */
}

int main(void)
{
    enum { N = 4 };
    size_t len = cortex_slab_required_size(N, 16, 8);
    void *mem = NULL;
    if (posix_memalign(&mem, 64, len) != 0)
        return 2;
    cortex_slab *s;
    if (cortex_slab_init(&s, mem, len, N, 16, 8) < 0)
        return 2;
    if (cortex_slab_alloc(s, &p_handle) < 0) /* slot 0 taken: the head names it */
        return 2;
    cortex__slab_hook_before_cas = others;
    cortex_handle a;
    int rc = cortex_slab_alloc(s, &a);
    if (rc < 0 || hook_rc != 0) {
        printf("alloc %d, others %d: %s\n", rc, hook_rc, cortex_last_error()->message);
        return 3;
    }
    printf("stalled allocator got slot %u; others hold slots %u and %u\n", cortex_handle_index(a),
           cortex_handle_index(q), cortex_handle_index(r2));
    int bad = 0;
    if (cortex_handle_index(a) == cortex_handle_index(q) || cortex_handle_index(a) == cortex_handle_index(r2)) {
        printf("FAIL: slot %u handed out twice (ABA on the head)\n", cortex_handle_index(a));
        bad = 1;
    }
    /* Every slot exactly once: free what we hold, then take all N. */
    cortex_slab_free(s, a);
    cortex_slab_free(s, q);
    cortex_slab_free(s, r2);
    unsigned seen = 0;
    cortex_handle h;
    for (int i = 0; i < N + 1; i++) {
        rc = cortex_slab_alloc(s, &h);
        if (rc < 0)
            break;
        unsigned bit = 1u << cortex_handle_index(h);
        if (seen & bit) {
            printf("FAIL: slot %u handed out twice after refill\n", cortex_handle_index(h));
            bad = 1;
            break;
        }
        seen |= bit;
    }
    if (!bad && (seen != (1u << N) - 1 || rc != -ENOSPC)) {
        printf("FAIL: refill took slots 0x%x then returned %d\n", seen, rc);
        bad = 1;
    }
    cortex_slab_close(s);
    free(mem);
    if (!bad)
        printf("ok: the stale head CAS was refused\n");
    return bad;
}
