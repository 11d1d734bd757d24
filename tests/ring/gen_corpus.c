/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus of fuzz_ring.c into argv[1] (run by hand; the files are checked in). */
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring_layout.h"

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    size_t len = cortex_ring_required_size(8, 8);
    void *mem = aligned_alloc(64, 4096);
    cortex_ring r;
    /* valid, with 5 elements in it */
    if (cortex_ring_init(&r, mem, len, 8, 8, 8) != 0)
        return 1;
    for (uint64_t i = 0; i < 5; i++)
        cortex_ring_push(&r, &i);
    uint64_t v;
    cortex_ring_pop(&r, &v);
    put(dir, "valid-8x8", mem, len);
    /* valid, indices about to cross 2^64 */
    if (cortex_ring_init(&r, mem, len, 8, 8, 8) != 0)
        return 1;
    cortex__ring_set_indices(&r, UINT64_MAX - 2);
    for (uint64_t i = 0; i < 6; i++)
        cortex_ring_push(&r, &i);
    put(dir, "valid-wrap", mem, len);
    /* producer index far beyond the consumer's */
    cortex_ring_shared *sh = mem;
    sh->prod = 1000;
    sh->cons = 3;
    put(dir, "bad-indices", mem, len);
    /* capacity 1 of 24-byte elements, full */
    size_t len1 = cortex_ring_required_size(1, 24);
    if (cortex_ring_init(&r, mem, len1, 1, 24, 8) != 0)
        return 1;
    char e[24] = "twenty-four bytes here";
    cortex_ring_push(&r, e);
    put(dir, "valid-1x24", mem, len1);
    /* truncated: header says more slots than the input holds */
    if (cortex_ring_init(&r, mem, len, 8, 8, 8) != 0)
        return 1;
    put(dir, "truncated", mem, len - 8);
    /* marks scheme: 5 messages pushed, one popped, and one more pushed across the first line */
    if (cortex_ring_init_marked(&r, mem, len, 8, 8, UINT64_MAX) != 0)
        return 1;
    for (uint64_t i = 0; i < 5; i++)
        cortex_ring_push(&r, &i);
    cortex_ring_pop(&r, &v);
    put(dir, "marked-8x8", mem, len);
    /* marks scheme, indices about to cross 2^64, full */
    if (cortex_ring_init_marked(&r, mem, len, 8, 8, 0) != 0)
        return 1;
    cortex__ring_set_indices(&r, UINT64_MAX - 2);
    for (uint64_t i = 1; i <= 8; i++)
        cortex_ring_push(&r, &i);
    put(dir, "marked-wrap-full", mem, len);
    /* foreign bytes */
    memset(mem, 0x5a, 512);
    put(dir, "foreign", mem, 512);
    free(mem);
    return 0;
}
