/* SPDX-License-Identifier: MIT */
/*
 * tests/abi/abi_types.h: the types the cross-ABI tests share between an
 * x86-64 and an i386 process, and the layout alignments a C99 unit reports.
 */
#ifndef ABI_TYPES_H
#define ABI_TYPES_H

#include <neocortex.h>
#include <stdint.h>

/* Same offsets (0, 8, 12, 16) and size (24) for i386 and x86-64; _Alignof 4 vs 8. */
typedef struct abi_sample {
    uint64_t seq;
    uint32_t a;
    uint32_t b;
    double x;
} abi_sample;

/* Offsets 0, 4 and size 12 on i386; 0, 8 and size 16 on x86-64: must be refused across them. */
typedef struct abi_unportable {
    uint32_t a;
    uint64_t b;
} abi_unportable;

/* CORTEX_LAYOUT_ALIGNOF of uint64_t, double, abi_sample, cortex_handle as a C99 unit sees them. */
void abi_c99_aligns(size_t out[4]);

#endif
