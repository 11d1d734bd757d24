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
 *   // extras
 *   int  msgs_attach_raw(msgs *s, void *mem, size_t len);  // another mapping of init'd memory
 *   int  msgs_send(msgs *s, cortex_handle h);          // allocated -> in flight
 *   int  msgs_receive(msgs *s, cortex_handle *h);      // in flight -> ours; *h := our new handle
 *   int  msgs_reclaim(msgs *s);                        // frees dead processes' slots; count
 *   int  msgs_stats(msgs *s, cortex_slab_stats *out);
 *   cortex_region *msgs_region(msgs *s);               // NULL for the raw form
 *   cortex_slab   *msgs_core(msgs *s);                 // the untyped core
 * @endcode
 *
 * The caller writes the trailing `;`.  `SLAB_DECLARE` is the short alias
 * (define CORTEX_NO_SHORT_NAMES before including to turn it off).  The raw
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

/** Declares a typed slab @p name of elements of type @p T (see the file comment). */
#define CORTEX_SLAB_DECLARE(name, T)                                                                            \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_SLAB_MAX_SLOT_SIZE,                                     \
                   "CORTEX_SLAB_DECLARE(" #name ", " #T "): sizeof(" #T ") must be 1 byte to 1 GiB");           \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                                             \
                   "CORTEX_SLAB_DECLARE(" #name ", " #T "): _Alignof(" #T ") is larger than CORTEX_MAX_ALIGN");  \
    /** Typed slab of T (distinct type per declaration). */                                                    \
    typedef struct name {                                                                                      \
        cortex_slab *core_;                                                                                    \
    } name;                                                                                                    \
    CORTEX__GEN_FN size_t name##_required_size(uint32_t slots)                                                  \
    {                                                                                                          \
        return cortex_slab_required_size(slots, (uint32_t)sizeof(T), (uint32_t)CORTEX__ALIGNOF(T));                   \
    }                                                                                                          \
    CORTEX__GEN_FN int name##_create(name *s, cortex_key key, uint32_t slots, const cortex_opts *opts)          \
    {                                                                                                          \
        return cortex_slab_create(&s->core_, key, slots, (uint32_t)sizeof(T), (uint32_t)CORTEX__ALIGNOF(T), #T, opts); \
    }                                                                                                          \
    CORTEX__GEN_FN int name##_attach(name *s, cortex_key key, const cortex_opts *opts)                          \
    {                                                                                                          \
        return cortex_slab_attach(&s->core_, key, (uint32_t)sizeof(T), (uint32_t)CORTEX__ALIGNOF(T), #T, opts);      \
    }                                                                                                          \
    CORTEX__GEN_FN int name##_init(name *s, void *mem, size_t len, uint32_t slots)                              \
    {                                                                                                          \
        return cortex_slab_init(&s->core_, mem, len, slots, (uint32_t)sizeof(T), (uint32_t)CORTEX__ALIGNOF(T));       \
    }                                                                                                          \
    CORTEX__GEN_FN int name##_attach_raw(name *s, void *mem, size_t len)                                        \
    {                                                                                                          \
        return cortex_slab_attach_raw(&s->core_, mem, len, (uint32_t)sizeof(T), (uint32_t)CORTEX__ALIGNOF(T));        \
    }                                                                                                          \
    CORTEX__GEN_FN int name##_alloc(name *s, cortex_handle *out) { return cortex_slab_alloc(s->core_, out); }    \
    CORTEX__GEN_FN T *name##_get(name *s, cortex_handle h) { return (T *)cortex_slab_get(s->core_, h); }        \
    CORTEX__GEN_FN int name##_free(name *s, cortex_handle h) { return cortex_slab_free(s->core_, h); }          \
    CORTEX__GEN_FN int name##_send(name *s, cortex_handle h) { return cortex_slab_send(s->core_, h); }          \
    CORTEX__GEN_FN int name##_receive(name *s, cortex_handle *h) { return cortex_slab_receive(s->core_, h); }   \
    CORTEX__GEN_FN int name##_reclaim(name *s) { return cortex_slab_reclaim(s->core_, 0); }                     \
    CORTEX__GEN_FN int name##_stats(name *s, cortex_slab_stats *out) { return cortex_slab_stats_get(s->core_, out); } \
    CORTEX__GEN_FN cortex_region *name##_region(name *s) { return cortex_slab_region(s->core_); }               \
    CORTEX__GEN_FN cortex_slab *name##_core(name *s) { return s->core_; }                                       \
    CORTEX__GEN_FN int name##_close(name *s)                                                                    \
    {                                                                                                          \
        int rc_ = cortex_slab_close(s->core_);                                                                 \
        s->core_ = (cortex_slab *)0;                                                                           \
        return rc_;                                                                                            \
    }                                                                                                          \
    typedef int name##_declared_with_a_trailing_semicolon_

#ifndef CORTEX_NO_SHORT_NAMES
/** Short alias of CORTEX_SLAB_DECLARE. */
#define SLAB_DECLARE(name, T) CORTEX_SLAB_DECLARE(name, T)
#endif

#endif
