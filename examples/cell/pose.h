/* SPDX-License-Identifier: MIT */
/*
 * examples/cell/pose.h: the type two programs share, and its cell.
 *
 * CORTEX_PROTOTYPE declares pose_cell_* here; pose.c holds the one exported
 * copy (CORTEX_DEFINE).  With CORTEX_DECLARE instead, every file that
 * includes this header would get its own static inline copies.
 */
#ifndef EXAMPLE_POSE_H
#define EXAMPLE_POSE_H

#include <neocortex.h>
#include <stdint.h>

/* Plain data only: fixed-width fields, no pointers. */
typedef struct pose {
    uint64_t stamp;   /* every field below is derived from it: a torn read shows */
    double x, y, z;
    double yaw;
    uint64_t check;   /* stamp * 3 */
} pose;

CORTEX_PROTOTYPE(pose_cell, pose);

#endif
