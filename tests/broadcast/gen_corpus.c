/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus of fuzz_broadcast.c into argv[1] (run by hand; the files are checked in). */
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast/broadcast_layout.h"

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

/* A ring of 8 x 8 bytes for 2 readers, 11 elements published, one reader at 5; pids cleared. */
static size_t make(void *mem, unsigned flags)
{
    size_t len = cortex_broadcast_required_size(8, 2, 8);
    cortex_broadcast w, r;
    cortex_broadcast_init(&w, mem, len, 8, 2, flags, 8, 8);
    uint64_t v = 0;
    for (int i = 0; i < 5; i++, v++)
        cortex_broadcast_push(&w, &v);
    cortex_broadcast_join_mem(&r, mem, len, CORTEX_BROADCAST_OLDEST, 8, 8);
    for (int i = 0; i < 6; i++, v++)
        cortex_broadcast_push(&w, &v);
    cortex_bc_shared *sh = mem;
    atomic_store(&sh->wpid, 0);
    return len;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    void *mem = aligned_alloc(64, 4096);
    memset(mem, 0, 4096);
    size_t len = make(mem, CORTEX_BROADCAST_LOSSY);
    put(dir, "lossy", mem, len);
    memset(mem, 0, 4096);
    len = make(mem, CORTEX_BROADCAST_LOSSLESS);
    put(dir, "lossless", mem, len);
    cortex_bc_shared *sh = mem;
    cortex_bc_reader *e = (cortex_bc_reader *)(void *)((unsigned char *)mem + CORTEX_BROADCAST_HEADER_SIZE);
    atomic_store(&e[0].cursor, UINT64_C(1) << 60);
    put(dir, "cursor-ahead", mem, len);
    atomic_store(&e[0].cursor, 5);
    atomic_store(&sh->head, 2);
    put(dir, "head-behind", mem, len);
    atomic_store(&sh->head, 11);
    atomic_store(&sh->claim, 3);
    put(dir, "claim-below-head", mem, len);
    atomic_store(&sh->claim, UINT64_C(1) << 50);
    put(dir, "claim-far-ahead", mem, len);
    atomic_store(&sh->claim, 11);
    put(dir, "truncated", mem, len - 8);
    sh->capacity = 1024;
    put(dir, "liar-capacity", mem, len);
    free(mem);
    return 0;
}
