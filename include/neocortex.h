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
#include <neocortex/sync.h>
#include <neocortex/cell.h>
#include <neocortex/ring.h>
#include <neocortex/slab.h>
#include <neocortex/doorbell.h>
#include <neocortex/channel.h>
#include <neocortex/broadcast.h>
#include <neocortex/waitset.h>
#include <neocortex/declare_cell.h>
#include <neocortex/declare_ring.h>
#include <neocortex/declare_slab.h>
#include <neocortex/declare_pool.h>
#include <neocortex/declare_channel.h>
#include <neocortex/declare_broadcast.h>

#endif
