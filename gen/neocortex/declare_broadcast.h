/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare_broadcast.h
 * @brief CORTEX_BROADCAST_DECLARE(name, T): a typed broadcast ring over the core in neocortex/broadcast.h.
 *
 * Expands, at file scope, to a distinct struct type `name` and `static
 * inline` forwarders that pass `sizeof(T)`, `_Alignof(T)` and `#T` to the
 * core.  Write the trailing `;` yourself.  Every function returns 0 (or a
 * count) or a negative errno (see neocortex/broadcast.h).
 *
 * @code
 * size_t  name_required_size(uint32_t capacity, uint32_t max_readers);
 * int     name_create(name *b, cortex_key key, uint32_t capacity, uint32_t max_readers,
 *                     unsigned flags, const cortex_opts *opts);      // the writer; LOSSLESS or LOSSY
 * int     name_join(name *b, cortex_key key, unsigned from, const cortex_opts *opts); // a reader; NEWEST or OLDEST
 * int     name_init(name *b, void *mem, size_t len, uint32_t capacity, uint32_t max_readers,
 *                   unsigned flags);                                 // raw memory: the writer
 * int     name_join_mem(name *b, void *mem, size_t len, unsigned from); // raw memory: a reader
 * int     name_push(name *b, T value);                  // lossless: -EAGAIN while the slowest reader is full
 * ssize_t name_push_n(name *b, const T *v, size_t n);   // count published, or -errno
 * int     name_push_wait(name *b, T value, int64_t timeout_ns);  // -ETIMEDOUT
 * int     name_pop(name *b, T *out);                    // -EAGAIN empty; -EOVERFLOW lapped (then resumes); -EPIPE
 * ssize_t name_pop_n(name *b, T *out, size_t n);
 * int     name_pop_wait(name *b, T *out, int64_t timeout_ns);    // -ETIMEDOUT, -EOVERFLOW, -EPIPE
 * uint64_t name_missed(const name *b);                  // elements this reader lost to laps, in total
 * uint64_t name_lag(const name *b);                     // published, not yet read by this reader
 * size_t  name_capacity(const name *b);
 * cortex_region *name_region(const name *b);            // NULL for the raw form
 * cortex_broadcast *name_core(name *b);                 // the untyped handle
 * int     name_close(name *b);                          // writer: closed for all; reader: leaves
 * @endcode
 *
 * For one exported copy instead of static inline functions:
 * `CORTEX_BROADCAST_PROTOTYPE(name, T);` in a header and
 * `CORTEX_BROADCAST_DEFINE(name, T);` in exactly one .c file that includes
 * it (same functions, same names).
 *
 * BROADCAST_DECLARE, BROADCAST_PROTOTYPE and BROADCAST_DEFINE are short
 * aliases, not defined when CORTEX_NO_SHORT_NAMES is.
 */
#ifndef NEOCORTEX_DECLARE_BROADCAST_H
#define NEOCORTEX_DECLARE_BROADCAST_H

#include <neocortex/broadcast.h>
#include <neocortex/declare.h>
#include <neocortex/error.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** @cond internal */
/* The compile-time checks and the handle type of broadcast instance @p name. */
#define CORTEX__BROADCAST_TYPES(name, T)                                                                   \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_BROADCAST_MAX_ELEM,                         \
                          "broadcast '" #name "': element type '" #T "' must be 1 byte to 1 MiB");         \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                          \
                          "broadcast '" #name "': element type '" #T "' is aligned beyond 4096 bytes");    \
    typedef struct name {                                                                                  \
        cortex_broadcast bc; /* the untyped handle */                                                      \
    } name

/* Every function of broadcast instance @p name with linkage @p SCOPE and @p BODY; ends without ';'. */
#define CORTEX__BROADCAST_GENERATE(name, T, SCOPE, BODY)                                                   \
    SCOPE size_t name##_required_size(uint32_t capacity, uint32_t max_readers)                             \
        BODY(return cortex_broadcast_required_size(capacity, max_readers, sizeof(T));)                     \
    SCOPE int name##_create(name *b, cortex_key key, uint32_t capacity, uint32_t max_readers, unsigned flags, \
                            const cortex_opts *opts)                                                       \
        BODY(return cortex_broadcast_create(&b->bc, key, capacity, max_readers, flags, sizeof(T),          \
                                            CORTEX__ALIGNOF(T), #T, opts);)                                \
    SCOPE int name##_join(name *b, cortex_key key, unsigned from, const cortex_opts *opts)                 \
        BODY(return cortex_broadcast_join(&b->bc, key, from, sizeof(T), CORTEX__ALIGNOF(T), #T, opts);)    \
    SCOPE int name##_init(name *b, void *mem, size_t len, uint32_t capacity, uint32_t max_readers,         \
                          unsigned flags)                                                                  \
        BODY(return cortex_broadcast_init(&b->bc, mem, len, capacity, max_readers, flags, sizeof(T),       \
                                          CORTEX__ALIGNOF(T));)                                            \
    SCOPE int name##_join_mem(name *b, void *mem, size_t len, unsigned from)                               \
        BODY(return cortex_broadcast_join_mem(&b->bc, mem, len, from, sizeof(T), CORTEX__ALIGNOF(T));)     \
    SCOPE int name##_push(name *b, T value) BODY(return cortex_broadcast_push(&b->bc, &value);)           \
    SCOPE ssize_t name##_push_n(name *b, const T *v, size_t n)                                             \
        BODY(return cortex_broadcast_push_n(&b->bc, v, n);)                                                \
    SCOPE int name##_push_wait(name *b, T value, int64_t timeout_ns)                                       \
        BODY(return cortex_broadcast_push_wait(&b->bc, &value, timeout_ns);)                               \
    SCOPE int name##_pop(name *b, T *out) BODY(return cortex_broadcast_pop(&b->bc, out);)                  \
    SCOPE ssize_t name##_pop_n(name *b, T *out, size_t n) BODY(return cortex_broadcast_pop_n(&b->bc, out, n);) \
    SCOPE int name##_pop_wait(name *b, T *out, int64_t timeout_ns)                                         \
        BODY(return cortex_broadcast_pop_wait(&b->bc, out, timeout_ns);)                                   \
    SCOPE uint64_t name##_missed(const name *b) BODY(return cortex_broadcast_missed(&b->bc);)              \
    SCOPE uint64_t name##_lag(const name *b) BODY(return cortex_broadcast_lag(&b->bc);)                    \
    SCOPE size_t name##_capacity(const name *b) BODY(return cortex_broadcast_capacity(&b->bc);)            \
    SCOPE cortex_region *name##_region(const name *b) BODY(return cortex_broadcast_region(&b->bc);)        \
    SCOPE cortex_broadcast *name##_core(name *b) BODY(return &b->bc;)                                      \
    SCOPE int name##_close(name *b) BODY(return cortex_broadcast_close(&b->bc);)                           \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_broadcast), "broadcast '" #name "': handle size")
/** @endcond */

/** Declares the typed broadcast ring `name` of elements of type @p T: static inline functions (see the file comment). */
#define CORTEX_BROADCAST_DECLARE(name, T) CORTEX__GEN_DECLARE(BROADCAST, name, T)

/** Declarations only (in a header): the functions are defined once by CORTEX_BROADCAST_DEFINE(name, T). */
#define CORTEX_BROADCAST_PROTOTYPE(name, T) CORTEX__GEN_PROTOTYPE(BROADCAST, name, T)

/** The exported definitions for a CORTEX_BROADCAST_PROTOTYPE(name, T) (in exactly one .c file). */
#define CORTEX_BROADCAST_DEFINE(name, T) CORTEX__GEN_DEFINE(BROADCAST, name, T)

#ifndef CORTEX_NO_SHORT_NAMES
/** Short alias of CORTEX_BROADCAST_DECLARE (off with CORTEX_NO_SHORT_NAMES). */
#define BROADCAST_DECLARE(name, T) CORTEX_BROADCAST_DECLARE(name, T)
/** Short alias of CORTEX_BROADCAST_PROTOTYPE. */
#define BROADCAST_PROTOTYPE(name, T) CORTEX_BROADCAST_PROTOTYPE(name, T)
/** Short alias of CORTEX_BROADCAST_DEFINE. */
#define BROADCAST_DEFINE(name, T) CORTEX_BROADCAST_DEFINE(name, T)
#endif

#endif
