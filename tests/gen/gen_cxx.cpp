// SPDX-License-Identifier: MIT
// tests/gen: the ring, slab and pool generators in all three forms compile and run in C++.
#include <neocortex.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>

struct point {
    std::int32_t x, y;
};

SPSC_RING_DECLARE(cxx_ring, point);
SLAB_DECLARE(cxx_slab, point);
POOL_DECLARE(cxx_pool, point);
SPSC_RING_PROTOTYPE(cxx_ring2, point);
SPSC_RING_DEFINE(cxx_ring2, point);
SLAB_PROTOTYPE(cxx_slab2, point);
SLAB_DEFINE(cxx_slab2, point);
POOL_PROTOTYPE(cxx_pool2, point);
POOL_DEFINE(cxx_pool2, point);

alignas(64) static unsigned char ring_mem[4096];
alignas(64) static unsigned char slab_mem[8192];
alignas(64) static unsigned char pool_mem[16384];

int main()
{
    cxx_ring *r = cxx_ring_new();
    if (!r || reinterpret_cast<std::uintptr_t>(r) % 64 != 0)
        return 1;
    point p{1, 2}, q{};
    if (cxx_ring_init(r, ring_mem, sizeof ring_mem, 8) != 0 || cxx_ring_push(r, p) != 0 || cxx_ring_pop(r, &q) != 0 ||
        q.y != 2 || cxx_ring_free(r) != 0)
        return 2;
    cxx_ring2 r2;
    if (cxx_ring2_init(&r2, ring_mem, sizeof ring_mem, 8) != 0 || cxx_ring2_leak(&r2) != -EINVAL)
        return 3;
    cxx_slab2 s;
    cortex_handle h;
    if (cxx_slab2_init(&s, slab_mem, sizeof slab_mem, 4) != 0 || cxx_slab2_alloc(&s, &h) != 0 ||
        !cxx_slab2_get(&s, h) || cxx_slab2_reclaim(&s, CORTEX_SLAB_RECLAIM_IN_FLIGHT) != 0 || cxx_slab2_close(&s) != 0)
        return 4;
    static const cortex_pool_class classes[] = {{16, 2}, {64, 2}};
    cxx_pool2 pl;
    std::size_t n = 0;
    if (cxx_pool2_init(&pl, pool_mem, sizeof pool_mem, classes, 2) != 0 || cxx_pool2_alloc(&pl, 3, &h) != 0 ||
        !cxx_pool2_get(&pl, h, &n) || n != 8 || cxx_pool2_close(&pl) != 0)
        return 5;
    std::puts("ok");
    return 0;
}
