/* SPDX-License-Identifier: MIT */
/*
 * lib/region/part_open.h: what a part (ring, broadcast) does around opening
 * its handle over a region it just created or attached (internal): name the
 * region for error messages, and on failure close the region without losing
 * the error that made the open fail.
 */
#ifndef CORTEX_REGION_PART_OPEN_H
#define CORTEX_REGION_PART_OPEN_H

#include "internal.h"

#include <stdio.h>

/* Longest "<noun> <key>" a part names its region by. */
#define CORTEX__PART_WHAT_MAX 300

/* "<noun> <key described>" into @p buf (CORTEX__PART_WHAT_MAX bytes); returns buf. */
static inline const char *cortex__part_what(const cortex_region *region, const char *noun, char *buf)
{
    char kd[256];
    snprintf(buf, CORTEX__PART_WHAT_MAX, "%s %s", noun, cortex_key_describe(cortex_region_key(region), kd, sizeof kd));
    return buf;
}

/* After a failed open (@p rc < 0): closes @p region, keeps the open's last error, returns rc. */
static inline int cortex__part_open_failed(cortex_region *region, int rc)
{
    cortex_error saved = *cortex_last_error();
    cortex_region_close(region);
    *cortex__error_slot() = saved;
    return rc;
}

#endif
