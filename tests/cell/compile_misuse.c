/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/compile_misuse.c: CORTEX_DECLARE on types that cannot live in
 * a cell must stop the build with a readable _Static_assert.  MISUSE=0 is
 * the control (must compile); 1 a pointer, 2 an array, 3 an empty struct,
 * 4 a type over CORTEX_CELL_MAX_SIZE.
 */
#include <neocortex/declare_cell.h>

#if MISUSE == 0
typedef struct { int a; } fine;
CORTEX_DECLARE(fine_cell, fine);
#elif MISUSE == 1
CORTEX_DECLARE(ptr_cell, int *);
#elif MISUSE == 2
typedef int four[4];
CORTEX_DECLARE(arr_cell, four);
#elif MISUSE == 3
struct empty {};
CORTEX_DECLARE(empty_cell, struct empty);
#elif MISUSE == 4
typedef struct { char b[(1u << 30) + 1]; } huge;
CORTEX_DECLARE(huge_cell, huge);
#endif
