/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/compile_swap.c: compiled by meson tests, never linked.
 * Without SWAP it must compile (the control); with SWAP it passes one
 * instance's handle to another instance's function of the same T, which
 * must not compile: each CORTEX_DECLARE makes a distinct struct type, so
 * this is a constraint violation (incompatible pointer types).
 */
#include <neocortex/declare_cell.h>

CORTEX_DECLARE(left_cell, int);
CORTEX_DECLARE(right_cell, int);

int use(left_cell *l, right_cell *r);
int use(left_cell *l, right_cell *r)
{
#ifdef SWAP
    return right_cell_write(l, 1) + left_cell_write(r, 2);
#else
    return left_cell_write(l, 1) + right_cell_write(r, 2);
#endif
}
