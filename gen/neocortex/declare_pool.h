/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare_pool.h
 * @brief CORTEX_POOL_DECLARE(name, T): a typed pool (size classes) of arrays of T over neocortex/slab.h.
 *
 * A pool is several slabs of different slot sizes in one segment (see
 * cortex_pool_create()); its typed form hands out variable-length arrays of
 * one element type T.  Class sizes stay in bytes (::cortex_pool_class); every
 * class must hold at least one T and be aligned for it (-EINVAL otherwise),
 * and the segment records T (size, alignment and spelling, or
 * opts->type_tag) so that name_attach() refuses a pool of another type
 * with -EPROTO.
 *
 * `CORTEX_POOL_DECLARE(frames, struct sample);` declares a distinct struct
 * type `frames` and these static inline functions:
 *
 * @code
 *   size_t frames_required_size(const cortex_pool_class *classes, unsigned n);  // raw form; 0 if invalid
 *   int  frames_create(frames *p, cortex_key key, const cortex_pool_class *classes, unsigned n,
 *                      const cortex_opts *opts);
 *   int  frames_attach(frames *p, cortex_key key, const cortex_opts *opts);
 *   int  frames_init(frames *p, void *mem, size_t len, const cortex_pool_class *classes, unsigned n);
 *   int  frames_alloc(frames *p, size_t count, cortex_handle *out);   // room for count T; -ENOSPC, -ERANGE
 *   T   *frames_get(frames *p, cortex_handle h, size_t *count);      // *count: how many T fit; NULL if bad
 *   int  frames_free(frames *p, cortex_handle h);       // -ESTALE on double free
 *   int  frames_send(frames *p, cortex_handle h);       // allocated -> in flight
 *   int  frames_receive(frames *p, cortex_handle *h);   // in flight -> ours; *h := our new handle
 *   int  frames_reclaim(frames *p, unsigned flags);     // dead processes' slots; 0 or CORTEX_SLAB_RECLAIM_IN_FLIGHT
 *   int  frames_close(frames *p);                       // owner: removes the segment
 *   int  frames_leak(frames *p);                        // free the view, keep the segment
 *   int  frames_own(frames *p);                         // become the owner
 *   cortex_region *frames_region(frames *p);            // NULL for the raw form
 *   cortex_pool   *frames_core(frames *p);              // the untyped core
 * @endcode
 *
 * Each is a one-line forwarder to the cortex_pool_* core.  frames_get()
 * returns NULL for a stale or bad handle and says why in cortex_last_error().
 *
 * For one exported copy: `CORTEX_POOL_PROTOTYPE(frames, struct sample);` in
 * a header and `CORTEX_POOL_DEFINE(frames, struct sample);` in exactly one
 * .c file that includes it.  POOL_DECLARE, POOL_PROTOTYPE and POOL_DEFINE
 * are the short aliases (off with CORTEX_NO_SHORT_NAMES).
 */
#ifndef NEOCORTEX_DECLARE_POOL_H
#define NEOCORTEX_DECLARE_POOL_H

#include <neocortex/declare.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <neocortex/slab.h>
#include <stddef.h>
#include <stdint.h>

/** @cond internal */
/* The compile-time checks and the handle type of pool instance @p name. */
#define CORTEX__POOL_TYPES(name, T)                                                                              \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_SLAB_MAX_SLOT_SIZE,                                \
                          "CORTEX_POOL_DECLARE(" #name ", " #T "): sizeof(" #T ") must be 1 byte to 1 GiB");     \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= 64,                                                              \
                          "CORTEX_POOL_DECLARE(" #name ", " #T "): pool slots are aligned to at most 64 bytes"); \
    typedef struct name {                                                                                        \
        cortex_pool *core_;                                                                                      \
    } name

/*
 * Every function of pool instance @p name with linkage @p SCOPE and @p BODY
 * (CORTEX__BODY_PROTO or CORTEX__BODY_DEFINE); ends without the caller's ';'.
 */
#define CORTEX__POOL_GENERATE(name, T, SCOPE, BODY)                                                              \
    SCOPE size_t name##_required_size(const cortex_pool_class *classes, unsigned n)                             \
        BODY(return cortex_pool_required_size(classes, n);)                                                      \
    SCOPE int name##_create(name *p, cortex_key key, const cortex_pool_class *classes, unsigned n,               \
                            const cortex_opts *opts)                                                             \
        BODY(return cortex_pool_create_typed(&p->core_, key, classes, n, sizeof(T), CORTEX__ALIGNOF(T), #T,      \
                                             opts);)                                                             \
    SCOPE int name##_attach(name *p, cortex_key key, const cortex_opts *opts)                                    \
        BODY(return cortex_pool_attach_typed(&p->core_, key, sizeof(T), CORTEX__ALIGNOF(T), #T, opts);)         \
    SCOPE int name##_init(name *p, void *mem, size_t len, const cortex_pool_class *classes, unsigned n)          \
        BODY(return cortex_pool_init_typed(&p->core_, mem, len, classes, n, sizeof(T), CORTEX__ALIGNOF(T));)    \
    SCOPE int name##_alloc(name *p, size_t count, cortex_handle *out)                                            \
        BODY(return cortex_pool_alloc(p->core_, count > SIZE_MAX / sizeof(T) ? SIZE_MAX : count * sizeof(T),     \
                                      out);)                                                                     \
    SCOPE T *name##_get(name *p, cortex_handle h, size_t *count)                                                 \
        BODY(size_t cap_ = 0; T *v_ = (T *)cortex_pool_get(p->core_, h, &cap_);                                  \
             if (v_ && count) *count = cap_ / sizeof(T); return v_;)                                             \
    SCOPE int name##_free(name *p, cortex_handle h) BODY(return cortex_pool_free(p->core_, h);)                  \
    SCOPE int name##_send(name *p, cortex_handle h) BODY(return cortex_pool_send(p->core_, h);)                  \
    SCOPE int name##_receive(name *p, cortex_handle *h) BODY(return cortex_pool_receive(p->core_, h);)           \
    SCOPE int name##_reclaim(name *p, unsigned flags) BODY(return cortex_pool_reclaim(p->core_, flags);)         \
    SCOPE int name##_close(name *p) BODY(int rc_ = cortex_pool_close(p->core_); p->core_ = 0; return rc_;)       \
    SCOPE int name##_leak(name *p)                                                                               \
        BODY(int rc_ = cortex_pool_leak(p->core_); if (rc_ == 0) p->core_ = 0; return rc_;)                     \
    SCOPE int name##_own(name *p) BODY(return cortex_pool_own(p->core_);)                                        \
    SCOPE cortex_region *name##_region(name *p) BODY(return cortex_pool_region(p->core_);)                       \
    SCOPE cortex_pool *name##_core(name *p) BODY(return p->core_;)                                               \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_pool *), "CORTEX_POOL_DECLARE(" #name "): handle size")
/** @endcond */

/** Declares a typed pool @p name of arrays of @p T: static inline functions (see the file comment). */
#define CORTEX_POOL_DECLARE(name, T) CORTEX__GEN_DECLARE(POOL, name, T)

/** Declarations only (in a header): the functions are defined once by CORTEX_POOL_DEFINE(name, T). */
#define CORTEX_POOL_PROTOTYPE(name, T) CORTEX__GEN_PROTOTYPE(POOL, name, T)

/** The exported definitions for a CORTEX_POOL_PROTOTYPE(name, T) (in exactly one .c file). */
#define CORTEX_POOL_DEFINE(name, T) CORTEX__GEN_DEFINE(POOL, name, T)

#ifndef CORTEX_NO_SHORT_NAMES
/** Short alias of CORTEX_POOL_DECLARE. */
#define POOL_DECLARE(name, T) CORTEX_POOL_DECLARE(name, T)
/** Short alias of CORTEX_POOL_PROTOTYPE. */
#define POOL_PROTOTYPE(name, T) CORTEX_POOL_PROTOTYPE(name, T)
/** Short alias of CORTEX_POOL_DEFINE. */
#define POOL_DEFINE(name, T) CORTEX_POOL_DEFINE(name, T)
#endif

#endif
