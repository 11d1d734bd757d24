/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a slab's shared bytes as another process
 * could have left them.  They are copied into an allocation of exactly
 * their length (ASan then sees any read or write past them), attached, and
 * driven through alloc, get (writing the whole slot), send, receive, free,
 * garbage handles from the input, stats, the inspector and repair, with a
 * magazine when the input says so (its depot buffers come from the input).  Nothing
 * may crash, read or write out of bounds, or loop forever.  Also replayed
 * over the seed corpus in normal builds (fuzz_replay.c).
 */
#include <errno.h>
#include <neocortex.h>
#include <stdlib.h>
#include <string.h>

#include "slab/slab_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *mem = NULL;
    if (posix_memalign(&mem, 64, size ? size : 1) != 0)
        return 0;
    memcpy(mem, data, size);
    cortex_slab_info info;
    memset(&info, 0, sizeof info);
    info.list_ok = true;
    cortex__slab_inspect_mem(mem, size, &info);
    cortex_slab *s = NULL;
    if (cortex_slab_attach_raw(&s, mem, size, 0, 0) == 0) {
        cortex_handle h[4] = {0, 0, 0, 0};
        cortex_slab_stats st;
        cortex_slab_stats_get(s, &st);
        /* an odd last byte drives the magazine and the depot (batch from the byte before) */
        if (size > 2 && (data[size - 1] & 1))
            cortex_slab_magazine(s, 1u + data[size - 2] % CORTEX_SLAB_MAGAZINE_MAX);
        for (int i = 0; i < 4; i++) {
            if (cortex_slab_alloc(s, &h[i]) != 0)
                break;
            uint8_t *p = cortex_slab_get(s, h[i]);
            if (p)
                memset(p, 0x5a, st.slot_size);
        }
        if (h[0] && cortex_slab_send(s, h[0]) == 0)
            cortex_slab_receive(s, &h[0]);
        for (int i = 3; i >= 0; i--)
            if (h[i])
                cortex_slab_free(s, h[i]);
        /* handles taken from the input itself, as they are and with this slab's tag */
        for (size_t k = 0; k < 2 * 7; k++) {
            size_t off = (k % 7) * 40;
            if (off + 8 > size)
                continue;
            cortex_handle g;
            memcpy(&g, data + off, sizeof g);
            if (k >= 7)
                g = (g & ~UINT64_C(0xff000000)) | ((uint64_t)cortex_slab_tag(s) << 24);
            uint8_t *p = cortex_slab_get(s, g);
            if (p)
                p[0] ^= 1;
            cortex_slab_send(s, g);
            cortex_slab_receive(s, &g);
            cortex_slab_free(s, g);
        }
        cortex_slab_stats_get(s, &st);
        if (size > 64 && (data[64] & 1))
            cortex_slab_repair(s);
        cortex_handle x;
        if (cortex_slab_alloc(s, &x) == 0)
            cortex_slab_free(s, x);
        cortex_slab_close(s);
    }
    free(mem);
    return 0;
}
