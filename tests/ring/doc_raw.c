#include <neocortex.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

SPSC_RING_DECLARE(u64_ring, uint64_t);
SPSC_RING_DECLARE_STATIC(event_ring, uint32_t, 64); /* a capacity of 48 would not compile */

int main(void)
{
    size_t len = u64_ring_required_size(256); /* 0 if the capacity is not a power of two */
    void *mem = aligned_alloc(64, len);
    u64_ring r;
    if (u64_ring_init(&r, mem, len, 3) == -EINVAL) /* "capacity 3 is not a power of two ..." */
        printf("%s\n", cortex_last_error()->message);
    if (u64_ring_init(&r, mem, len, 256) < 0) /* one handle for both sides (two threads) */
        return 1;

    uint64_t in[32] = {0}, out[32];
    ssize_t pushed = u64_ring_push_n(&r, in, 32); /* one index publication per batch */
    ssize_t popped = u64_ring_pop_n(&r, out, 32);

    uint64_t *w;
    ssize_t n = u64_ring_reserve(&r, 8, &w); /* up to 8 contiguous free slots */
    for (ssize_t i = 0; i < n; i++)
        w[i] = (uint64_t)i; /* filled in place */
    u64_ring_commit(&r, (size_t)n);

    const uint64_t *rd;
    ssize_t m = u64_ring_peek(&r, 8, &rd); /* read in place */
    uint64_t sum = 0;
    for (ssize_t i = 0; i < m; i++)
        sum += rd[i];
    u64_ring_release(&r, (size_t)m);
    u64_ring_close(&r);
    free(mem);

    static event_ring_storage storage; /* sized and aligned at compile time */
    event_ring e;
    if (event_ring_init_static(&e, &storage) < 0 || event_ring_push(&e, 7) < 0)
        return 1;
    return pushed == 32 && popped == 32 && n == 8 && m == 8 && sum == 28 ? 0 : 1;
}
