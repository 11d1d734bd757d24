/* SPDX-License-Identifier: MIT */
/* examples/cell/pose.c: the one exported copy of the pose_cell functions. */
#include "pose.h"

CORTEX_DEFINE(pose_cell, pose);
