/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a broadcast ring's shared bytes as a
 * writer, a reader or a corrupting third process left them (header, writer
 * line, reader table, slot sequences).  Inspect it; join it as a reader
 * (newest and oldest) and pop, pop_n, pop_wait(0); and run a writer whose
 * reader table and slots are the input's, pushing single elements and
 * batches.  Nothing may read or write outside the input (it is copied into
 * an allocation of exactly its length, so ASan sees any overrun) or crash:
 * corrupt state is -EBADMSG / -EPROTO.  The plain test broadcast-corpus
 * replays the seed corpus through the same function in every build.
 */
#include <neocortex.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int nct_corpus_classify(const uint8_t *data, size_t size);

static void read_it(uint8_t *mem, size_t size, unsigned from)
{
    cortex_broadcast r;
    if (cortex_broadcast_join_mem(&r, mem, size, from, 0, 0) != 0)
        return;
    unsigned char buf[64 * 8];
    size_t esz = r.elem_size;
    if (esz <= 64) {
        for (int i = 0; i < 4; i++) {
            (void)cortex_broadcast_pop(&r, buf);
            (void)cortex_broadcast_pop_n(&r, buf, sizeof buf / esz);
            (void)cortex_broadcast_pop_wait(&r, buf, 0);
            (void)cortex_broadcast_lag(&r);
        }
    }
    cortex_broadcast_close(&r);
}

/* A writer laid over the input's geometry, then given the input's live state (all but line 0). */
static void write_it(uint8_t *mem, const uint8_t *data, size_t size)
{
    cortex_broadcast_info info;
    if (cortex_broadcast_inspect_mem(mem, size, &info) != 0 || info.elem_size > 64)
        return;
    cortex_broadcast w;
    if (cortex_broadcast_init(&w, mem, size, info.capacity, info.max_readers, info.flags, info.elem_size, 0) != 0)
        return;
    memcpy(mem + 64, data + 64, size - 64);
    unsigned char buf[64 * 8];
    memset(buf, 0x5a, sizeof buf);
    for (int i = 0; i < 4; i++) {
        (void)cortex_broadcast_push(&w, buf);
        (void)cortex_broadcast_push_n(&w, buf, sizeof buf / info.elem_size);
        (void)cortex_broadcast_push_wait(&w, buf, 0);
    }
    read_it(mem, size, CORTEX_BROADCAST_OLDEST);
    cortex_broadcast_close(&w);
}

int nct_corpus_classify(const uint8_t *data, size_t size)
{
    uint8_t *mem = NULL;
    if (posix_memalign((void **)&mem, 64, size ? size : 1) != 0)
        return 0;
    memcpy(mem, data, size);
    cortex_broadcast_info info;
    int ok = cortex_broadcast_inspect_mem(mem, size, &info) == 0;
    free(mem);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *mem = NULL;
    if (posix_memalign((void **)&mem, 64, size ? size : 1) != 0)
        return 0;
    cortex_broadcast_info info;
    memcpy(mem, data, size);
    (void)cortex_broadcast_inspect_mem(mem, size, &info);
    memcpy(mem, data, size);
    read_it(mem, size, CORTEX_BROADCAST_NEWEST);
    memcpy(mem, data, size);
    read_it(mem, size, CORTEX_BROADCAST_OLDEST);
    memcpy(mem, data, size);
    write_it(mem, data, size);
    free(mem);
    return 0;
}
