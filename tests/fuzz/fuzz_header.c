/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is the start of a segment as an attacher maps
 * it.  The validator must reject it or accept only fields that stay inside
 * the input; then the payload it describes is read end to end (ASan sees any
 * overrun, since the input is copied into a malloc of exactly its length).
 */
#include <neocortex.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *seg = malloc(size ? size : 1);
    if (!seg)
        return 0;
    memcpy(seg, data, size);
    cortex_seg_header h;
    memset(&h, 0, sizeof h);
    memcpy(&h, seg, size < sizeof h ? size : sizeof h);
    static const cortex_layout expect = {.kind = CORTEX_KIND_CELL, .elem_size = 8, .elem_align = 8,
                                         .type_name = "double"};
    if (cortex_header_validate(&h, size, (size & 1) ? &expect : NULL, "fuzz") == 0) {
        volatile uint8_t sum = 0;
        for (uint64_t i = 0; i < h.payload_size; i++)
            sum ^= seg[h.payload_offset + i];
        (void)sum;
    }
    free(seg);
    return 0;
}
