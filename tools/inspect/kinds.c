/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/kinds.c: the live state of a cell, ring or slab for `show`,
 * read through the parts' *_inspect functions once they are built.
 */
#define _GNU_SOURCE
#include "seg.h"

#include "internal.h"

int nc_show_kind(const nc_seg *s, FILE *f, bool json)
{
    if (json)
        fputs("null", f);
    else
        fprintf(f, "live       (no inspector for a %s in this build)\n", cortex_kind_name(s->hdr.kind));
    return 0;
}
