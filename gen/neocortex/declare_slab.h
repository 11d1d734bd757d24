/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare_slab.h
 * @brief CORTEX_SLAB_DECLARE(name, T): a typed slab of T over neocortex/slab.h.
 *
 * `CORTEX_SLAB_DECLARE(msgs, struct msg);` declares a distinct struct type
 * `msgs` and these static inline functions (one-line forwarders that pass
 * sizeof(T), _Alignof(T) and the spelling of T, or opts->type_tag, to the
 * core):
 *
 * @code
 *   size_t msgs_required_size(uint32_t slots);
 *   int  msgs_create(msgs *s, cortex_key key, uint32_t slots, const cortex_opts *opts);
 *   int  msgs_attach(msgs *s, cortex_key key, const cortex_opts *opts);
 *   int  msgs_init(msgs *s, void *mem, size_t len, uint32_t slots);   // raw memory
 *   int  msgs_alloc(msgs *s, cortex_handle *out);      // -ENOSPC when exhausted
 *   T   *msgs_get(msgs *s, cortex_handle h);           // NULL for a stale handle
 *   int  msgs_free(msgs *s, cortex_handle h);          // -ESTALE on double free
 *   int  msgs_close(msgs *s);
 *   int  msgs_leak(msgs *s);                           // free the view, keep the segment
 *   int  msgs_own(msgs *s);                            // become the owner (its close removes it)
 *   // extras
 *   int  msgs_attach_raw(msgs *s, void *mem, size_t len);  // another mapping of init'd memory
 *   int  msgs_send(msgs *s, cortex_handle h);          // allocated -> in flight
 *   int  msgs_receive(msgs *s, cortex_handle *h);      // in flight -> ours; *h := our new handle
 *   int  msgs_reclaim(msgs *s, unsigned flags);        // frees dead processes' slots; count
 *                                                      // flags: 0 or CORTEX_SLAB_RECLAIM_IN_FLIGHT
 *   int  msgs_stats(msgs *s, cortex_slab_stats *out);
 *   int  msgs_alloc_get(msgs *s, cortex_handle *out, T **ptr); // alloc, and the slot's address
 *   int  msgs_magazine(msgs *s, uint32_t batch);       // this thread's slot cache (0: off)
 *   cortex_region *msgs_region(msgs *s);               // NULL for the raw form
 *   cortex_slab   *msgs_core(msgs *s);                 // the untyped core
 * @endcode
 *
 * msgs_get() returns NULL for a stale or bad handle and says why in
 * cortex_last_error().  msgs_leak() and msgs_own() refuse the raw form
 * (-EINVAL: no segment); a successful msgs_leak() clears the handle.
 *
 * For one exported copy instead of static inline functions:
 * `CORTEX_SLAB_PROTOTYPE(msgs, struct msg);` in a header and
 * `CORTEX_SLAB_DEFINE(msgs, struct msg);` in exactly one .c file that
 * includes it.
 *
 * The caller writes the trailing `;`.  `SLAB_DECLARE`, `SLAB_PROTOTYPE` and
 * `SLAB_DEFINE` are the short aliases (define CORTEX_NO_SHORT_NAMES before
 * including to turn them off).  The raw
 * form's memory must be aligned to cortex_slab_required_align(sizeof(T),
 * _Alignof(T)) (64 for types of 64 bytes or more).
 */
#ifndef NEOCORTEX_DECLARE_SLAB_H
#define NEOCORTEX_DECLARE_SLAB_H

#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <neocortex/slab.h>
#include <neocortex/declare.h>
#include <stddef.h>
#include <stdint.h>

/** @cond internal */
/* The compile-time checks and the handle type of slab instance @p name. */
#define CORTEX__SLAB_TYPES(name, T)                                                                              \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_SLAB_MAX_SLOT_SIZE,                                \
                          "CORTEX_SLAB_DECLARE(" #name ", " #T "): sizeof(" #T ") must be 1 byte to 1 GiB");     \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                                \
                          "CORTEX_SLAB_DECLARE(" #name ", " #T "): _Alignof(" #T ") is larger than "             \
                          "CORTEX_MAX_ALIGN");                                                                   \
    typedef struct name {                                                                                        \
        cortex_slab *core_;                                                                                      \
    } name

/* Arguments every core call takes after the memory/key: the slot size and alignment of T. */
#define CORTEX__SLAB_ST(T) (uint32_t)sizeof(T), (uint32_t)CORTEX__ALIGNOF(T)

/*
 * Every function of slab instance @p name with linkage @p SCOPE and @p BODY
 * (CORTEX__BODY_PROTO or CORTEX__BODY_DEFINE); ends without the caller's ';'.
 */
#define CORTEX__SLAB_GENERATE(name, T, SCOPE, BODY)                                                              \
    SCOPE size_t name##_required_size(uint32_t slots) BODY(return cortex_slab_required_size(slots, CORTEX__SLAB_ST(T));) \
    SCOPE int name##_create(name *s, cortex_key key, uint32_t slots, const cortex_opts *opts)                     \
        BODY(return cortex_slab_create(&s->core_, key, slots, CORTEX__SLAB_ST(T), #T, opts);)                   \
    SCOPE int name##_attach(name *s, cortex_key key, const cortex_opts *opts)                                     \
        BODY(return cortex_slab_attach(&s->core_, key, CORTEX__SLAB_ST(T), #T, opts);)                          \
    SCOPE int name##_init(name *s, void *mem, size_t len, uint32_t slots)                                        \
        BODY(return cortex_slab_init(&s->core_, mem, len, slots, CORTEX__SLAB_ST(T));)                          \
    SCOPE int name##_attach_raw(name *s, void *mem, size_t len)                                                  \
        BODY(return cortex_slab_attach_raw(&s->core_, mem, len, CORTEX__SLAB_ST(T));)                           \
    SCOPE int name##_alloc(name *s, cortex_handle *out) BODY(return cortex_slab_alloc(s->core_, out);)           \
    SCOPE T *name##_get(name *s, cortex_handle h) BODY(return (T *)cortex_slab_get(s->core_, h);)                \
    SCOPE int name##_free(name *s, cortex_handle h) BODY(return cortex_slab_free(s->core_, h);)                  \
    SCOPE int name##_alloc_get(name *s, cortex_handle *out, T **ptr)                                             \
        BODY(void *p_ = 0; int rc_ = cortex_slab_alloc_get(s->core_, out, ptr ? &p_ : 0);                       \
             if (rc_ == 0) *ptr = (T *)p_; return rc_;)                                                          \
    SCOPE int name##_magazine(name *s, uint32_t batch) BODY(return cortex_slab_magazine(s->core_, batch);)       \
    SCOPE int name##_send(name *s, cortex_handle h) BODY(return cortex_slab_send(s->core_, h);)                  \
    SCOPE int name##_receive(name *s, cortex_handle *h) BODY(return cortex_slab_receive(s->core_, h);)           \
    SCOPE int name##_reclaim(name *s, unsigned flags) BODY(return cortex_slab_reclaim(s->core_, flags);)         \
    SCOPE int name##_stats(name *s, cortex_slab_stats *out) BODY(return cortex_slab_stats_get(s->core_, out);)   \
    SCOPE cortex_region *name##_region(name *s) BODY(return cortex_slab_region(s->core_);)                       \
    SCOPE cortex_slab *name##_core(name *s) BODY(return s->core_;)                                               \
    SCOPE int name##_close(name *s) BODY(int rc_ = cortex_slab_close(s->core_); s->core_ = 0; return rc_;)       \
    SCOPE int name##_leak(name *s)                                                                               \
        BODY(int rc_ = cortex_slab_leak(s->core_); if (rc_ == 0) s->core_ = 0; return rc_;)                     \
    SCOPE int name##_own(name *s) BODY(return cortex_slab_own(s->core_);)                                        \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_slab *), "CORTEX_SLAB_DECLARE(" #name "): handle size")
/** @endcond */

/** Declares a typed slab @p name of elements of type @p T: static inline functions (see the file comment). */
#define CORTEX_SLAB_DECLARE(name, T) CORTEX__GEN_DECLARE(SLAB, name, T)

/** Declarations only (in a header): the functions are defined once by CORTEX_SLAB_DEFINE(name, T). */
#define CORTEX_SLAB_PROTOTYPE(name, T) CORTEX__GEN_PROTOTYPE(SLAB, name, T)

/** The exported definitions for a CORTEX_SLAB_PROTOTYPE(name, T) (in exactly one .c file). */
#define CORTEX_SLAB_DEFINE(name, T) CORTEX__GEN_DEFINE(SLAB, name, T)

#ifndef CORTEX_NO_SHORT_NAMES
/** Short alias of CORTEX_SLAB_DECLARE. */
#define SLAB_DECLARE(name, T) CORTEX_SLAB_DECLARE(name, T)
/** Short alias of CORTEX_SLAB_PROTOTYPE. */
#define SLAB_PROTOTYPE(name, T) CORTEX_SLAB_PROTOTYPE(name, T)
/** Short alias of CORTEX_SLAB_DEFINE. */
#define SLAB_DEFINE(name, T) CORTEX_SLAB_DEFINE(name, T)
#endif

#endif
