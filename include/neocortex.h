/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex.h
 * @brief Umbrella header: the core API, keys, errors and the typed generators.
 *
 * Define CORTEX_NO_SHORT_NAMES before including to get only the
 * CORTEX_-prefixed generator macros (CORTEX_SPSC_RING_DECLARE, ...).
 */
#ifndef NEOCORTEX_H
#define NEOCORTEX_H

#include <neocortex/version.h>
#include <neocortex/export.h>
#include <neocortex/error.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#if __has_include(<neocortex/sync.h>)
#include <neocortex/sync.h>
#endif
#if __has_include(<neocortex/cell.h>)
#include <neocortex/cell.h>
#endif
#if __has_include(<neocortex/ring.h>)
#include <neocortex/ring.h>
#endif
#if __has_include(<neocortex/slab.h>)
#include <neocortex/slab.h>
#endif
#if __has_include(<neocortex/doorbell.h>)
#include <neocortex/doorbell.h>
#endif
#if __has_include(<neocortex/declare_cell.h>)
#include <neocortex/declare_cell.h>
#endif
#if __has_include(<neocortex/declare_ring.h>)
#include <neocortex/declare_ring.h>
#endif
#if __has_include(<neocortex/declare_slab.h>)
#include <neocortex/declare_slab.h>
#endif

#endif
