/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a ring's shared bytes, as a peer (or a
 * corrupting third process) left them.  Attach as consumer, producer and
 * both sides; pop, push, batch, zero-copy and inspect must never read or
 * write outside the input (it is copied into an allocation of exactly its
 * length, so ASan sees any overrun) and never crash: corrupt state is
 * -EBADMSG / -EPROTO.  The plain test ring-corpus replays the seed corpus
 * through the same function in every build.
 */
#include <neocortex.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(uint8_t *mem, size_t size, cortex_role role)
{
    cortex_ring r;
    if (cortex_ring_attach_mem(&r, mem, size, 0, 0, role) != 0)
        return;
    unsigned char buf[64 * 64];
    size_t esz = r.elem_size <= 64 ? r.elem_size : 0;
    for (int i = 0; i < 3 && esz; i++) {
        if (role & CORTEX_CONSUMER) {
            (void)cortex_ring_pop(&r, buf);
            (void)cortex_ring_pop_n(&r, buf, sizeof buf / esz);
            (void)cortex_ring_pop_wait(&r, buf, 0);
            const void *span;
            ssize_t n = cortex_ring_peek(&r, 1000, &span);
            if (n > 0) {
                volatile unsigned char sum = 0;
                for (size_t b = 0; b < (size_t)n * r.elem_size; b++)
                    sum ^= ((const unsigned char *)span)[b];
                (void)sum;
                (void)cortex_ring_release(&r, (size_t)n);
            }
        }
        if (role & CORTEX_PRODUCER) {
            memset(buf, 0xab, sizeof buf);
            (void)cortex_ring_push(&r, buf);
            (void)cortex_ring_push_n(&r, buf, sizeof buf / esz);
            (void)cortex_ring_push_wait(&r, buf, 0);
            void *span;
            ssize_t n = cortex_ring_reserve(&r, 1000, &span);
            if (n > 0) {
                memset(span, 0xcd, (size_t)n * r.elem_size);
                (void)cortex_ring_commit(&r, (size_t)n);
            }
        }
        (void)cortex_ring_len(&r);
    }
    cortex_ring_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *mem = NULL;
    if (posix_memalign((void **)&mem, 64, size ? size : 1) != 0)
        return 0;
    cortex_ring_info info;
    memcpy(mem, data, size);
    (void)cortex_ring_inspect_mem(mem, size, &info);
    memcpy(mem, data, size);
    exercise(mem, size, CORTEX_CONSUMER);
    memcpy(mem, data, size);
    exercise(mem, size, CORTEX_PRODUCER);
    memcpy(mem, data, size);
    exercise(mem, size, CORTEX_BOTH_SIDES);
    free(mem);
    return 0;
}
