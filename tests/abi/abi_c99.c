/* SPDX-License-Identifier: MIT */
/* tests/abi/abi_c99.c: compiled with -std=c99, so the generators' C99 spelling of alignof is used. */
#include "abi_types.h"

void abi_c99_aligns(size_t out[4])
{
    out[0] = CORTEX_LAYOUT_ALIGNOF(uint64_t);
    out[1] = CORTEX_LAYOUT_ALIGNOF(double);
    out[2] = CORTEX_LAYOUT_ALIGNOF(abi_sample);
    out[3] = CORTEX_LAYOUT_ALIGNOF(cortex_handle);
}
