/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare_ring.h
 * @brief CORTEX_SPSC_RING_DECLARE(name, T): a typed SPSC ring over the core in neocortex/ring.h.
 *
 * Expands, at file scope, to a distinct struct type `name` and `static
 * inline` forwarders that pass `sizeof(T)`, `_Alignof(T)` and `#T` to the
 * core.  Write the trailing `;` yourself.  Every function returns 0 (or a
 * count) or a negative errno (see neocortex/ring.h).
 *
 * @code
 * size_t  name_required_size(uint32_t capacity);
 * int     name_create(name *r, cortex_key key, uint32_t capacity, cortex_role role, const cortex_opts *opts);
 * int     name_attach(name *r, cortex_key key, cortex_role role, const cortex_opts *opts);
 * int     name_init(name *r, void *mem, size_t len, uint32_t capacity);   // raw memory, both sides
 * int     name_push(name *r, T value);                   // -EAGAIN when full
 * int     name_pop(name *r, T *out);                     // -EAGAIN when empty
 * ssize_t name_push_n(name *r, const T *v, size_t n);    // count moved, or -errno
 * ssize_t name_pop_n(name *r, T *out, size_t n);
 * int     name_push_wait(name *r, T value, int64_t timeout_ns);  // -ETIMEDOUT, -EPIPE
 * int     name_pop_wait(name *r, T *out, int64_t timeout_ns);    // -ETIMEDOUT, -EPIPE
 * int     name_close(name *r);                          // this side closed; the owner removes the segment
 * int     name_leak(name *r);                           // detach, keep the segment; the role is free again
 * int     name_own(name *r);                            // become the owner (its close removes the segment)
 * name   *name_new(void);                               // a 64-byte aligned handle on the heap (NULL: -ENOMEM)
 * int     name_free(name *r);                           // close and free a name_new() handle (NULL accepted)
 * // extras
 * int     name_flush(name *r);                           // batch scheme: publish what is pending
 * ssize_t name_reserve(name *r, size_t want, T **span);  // zero-copy write: fill span[0..n), then
 * int     name_commit(name *r, size_t n);
 * ssize_t name_peek(name *r, size_t want, const T **span); // zero-copy read: read span[0..n), then
 * int     name_release(name *r, size_t n);
 * size_t  name_len(const name *r);
 * size_t  name_capacity(const name *r);
 * bool    name_is_empty(const name *r);
 * cortex_region *name_region(const name *r);             // NULL for a raw ring
 * cortex_ring   *name_core(name *r);                     // the untyped handle
 * @endcode
 *
 * CORTEX_SPSC_RING_DECLARE_STATIC(name, T, CAP) adds a compile-time
 * capacity: everything above plus `name_storage` (a correctly sized and
 * aligned buffer type) and `int name_init_static(name *r, name_storage *mem)`;
 * a CAP that is not a power of two fails to compile with a message.
 *
 * name_leak() is the way to leave a ring in the system: it gives the role
 * back without closing the side, so a later name_attach() of that role goes
 * on from the ring's indices (cortex_region_leak(name_region(r)) would unmap
 * memory the handle still uses).  `name` holds a 64-byte aligned
 * ::cortex_ring: a malloc()'ed one is misaligned, so use name_new() and
 * name_free() on the heap (or automatic/static storage).
 *
 * For one exported copy instead of static inline functions:
 * `CORTEX_SPSC_RING_PROTOTYPE(name, T);` in a header and
 * `CORTEX_SPSC_RING_DEFINE(name, T);` in exactly one .c file that includes
 * it (same functions, same names).
 *
 * CORTEX_SPSC_RING_DECLARE_MARKED(name, T, EMPTY) declares the same for an
 * 8-byte T with a value that means "empty": the ring then uses the marks
 * publication scheme (see neocortex/ring.h), and adds `T name_empty(void)`.
 * CORTEX_SPSC_RING_DECLARE_BATCHED(name, T) declares the same with the batch
 * publication scheme (the producer must call name_flush() when it goes
 * idle).  Both only in the static inline form.
 *
 * SPSC_RING_DECLARE, SPSC_RING_DECLARE_STATIC, SPSC_RING_DECLARE_MARKED,
 * SPSC_RING_DECLARE_BATCHED, SPSC_RING_PROTOTYPE and SPSC_RING_DEFINE are
 * short aliases, not defined when CORTEX_NO_SHORT_NAMES is.
 */
#ifndef NEOCORTEX_DECLARE_RING_H
#define NEOCORTEX_DECLARE_RING_H

#include <neocortex/error.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <neocortex/declare.h>
#include <neocortex/ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** @cond internal */
#ifdef __cplusplus
#define CORTEX_RING__CAST(T, p) static_cast<T>(p)
#else
#define CORTEX_RING__CAST(T, p) ((T)(p))
#endif
#define CORTEX_RING__MAXU(a, b) ((a) > (b) ? (a) : (b))
/* Compile-time cortex_ring_required_size_aligned(cap, sizeof(T), _Alignof(T)). */
#define CORTEX_RING__SIZE(T, cap)                                                                          \
    ((((size_t)CORTEX_RING_HEADER_SIZE + CORTEX_RING__MAXU((size_t)64, CORTEX__ALIGNOF(T)) - 1) &      \
      ~(CORTEX_RING__MAXU((size_t)64, CORTEX__ALIGNOF(T)) - 1)) +                                     \
     (size_t)(cap) * sizeof(T))
/** @endcond */

/** @cond internal */
/* The compile-time checks and the handle type of ring instance @p name. */
#define CORTEX__RING_TYPES(name, T)                                                                        \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_RING_MAX_ELEM,                              \
                          "SPSC ring '" #name "': element type '" #T "' must be 1 byte to 1 MiB");         \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                          \
                          "SPSC ring '" #name "': element type '" #T "' is aligned beyond 4096 bytes");    \
    typedef struct name {                                                                                  \
        cortex_ring ring; /* the untyped handle */                                                         \
    } name

/* How name_create and name_init make the ring, per publication scheme (the arguments are theirs). */
#define CORTEX__RING_CREATE_INDEX(name, T)                                                                 \
    cortex_ring_create(&r->ring, key, capacity, sizeof(T), CORTEX__ALIGNOF(T), #T, role, opts)
#define CORTEX__RING_INIT_INDEX(name, T) cortex_ring_init(&r->ring, mem, len, capacity, sizeof(T), CORTEX__ALIGNOF(T))
#define CORTEX__RING_CREATE_MARKS(name, T)                                                                 \
    cortex_ring_create_marked(&r->ring, key, capacity, CORTEX__ALIGNOF(T), #T, name##_empty_bits_(), role, opts)
#define CORTEX__RING_INIT_MARKS(name, T)                                                                   \
    cortex_ring_init_marked(&r->ring, mem, len, capacity, CORTEX__ALIGNOF(T), name##_empty_bits_())
#define CORTEX__RING_CREATE_BATCH(name, T)                                                                 \
    cortex_ring_create_batched(&r->ring, key, capacity, sizeof(T), CORTEX__ALIGNOF(T), #T, role, opts)
#define CORTEX__RING_INIT_BATCH(name, T)                                                                   \
    cortex_ring_init_batched(&r->ring, mem, len, capacity, sizeof(T), CORTEX__ALIGNOF(T))

/*
 * Every function of ring instance @p name with linkage @p SCOPE and @p BODY
 * (CORTEX__BODY_PROTO or CORTEX__BODY_DEFINE); ends without the caller's ';'.
 */
#define CORTEX__RING_GENERATE(name, T, SCOPE, BODY) CORTEX__RING_GENERATE_AS(name, T, SCOPE, BODY, INDEX)

/* As CORTEX__RING_GENERATE, creating rings of publication @p SCHEME (INDEX, MARKS or BATCH). */
#define CORTEX__RING_GENERATE_AS(name, T, SCOPE, BODY, SCHEME)                                             \
    SCOPE size_t name##_required_size(uint32_t capacity)                                                   \
        BODY(return cortex_ring_required_size_aligned(capacity, sizeof(T), CORTEX__ALIGNOF(T));)           \
    SCOPE int name##_create(name *r, cortex_key key, uint32_t capacity, cortex_role role,                  \
                            const cortex_opts *opts)                                                       \
        BODY(return CORTEX__RING_CREATE_##SCHEME(name, T);)                                                \
    SCOPE int name##_attach(name *r, cortex_key key, cortex_role role, const cortex_opts *opts)            \
        BODY(return cortex_ring_attach(&r->ring, key, sizeof(T), CORTEX__ALIGNOF(T), #T, role, opts);)     \
    SCOPE int name##_init(name *r, void *mem, size_t len, uint32_t capacity)                               \
        BODY(return CORTEX__RING_INIT_##SCHEME(name, T);)                                                  \
    SCOPE int name##_push(name *r, T value) BODY(return cortex_ring_push_sized(&r->ring, &value, sizeof(T));) \
    SCOPE int name##_pop(name *r, T *out) BODY(return cortex_ring_pop_sized(&r->ring, out, sizeof(T));)    \
    SCOPE ssize_t name##_push_n(name *r, const T *v, size_t n) BODY(return cortex_ring_push_n(&r->ring, v, n);) \
    SCOPE ssize_t name##_pop_n(name *r, T *out, size_t n) BODY(return cortex_ring_pop_n(&r->ring, out, n);) \
    SCOPE int name##_push_wait(name *r, T value, int64_t timeout_ns)                                       \
        BODY(return cortex_ring_push_wait(&r->ring, &value, timeout_ns);)                                  \
    SCOPE int name##_pop_wait(name *r, T *out, int64_t timeout_ns)                                         \
        BODY(return cortex_ring_pop_wait(&r->ring, out, timeout_ns);)                                      \
    SCOPE int name##_flush(name *r) BODY(return cortex_ring_flush(&r->ring);)                              \
    SCOPE int name##_close(name *r) BODY(return cortex_ring_close(&r->ring);)                              \
    SCOPE int name##_leak(name *r) BODY(return cortex_ring_leak(&r->ring);)                                \
    SCOPE int name##_own(name *r) BODY(return cortex_ring_own(&r->ring);)                                  \
    SCOPE name *name##_new(void) BODY(return CORTEX_RING__CAST(name *, CORTEX_RING__CAST(void *, cortex_ring_new()));) \
    SCOPE int name##_free(name *r) BODY(return r ? cortex_ring_free(&r->ring) : 0;)                        \
    SCOPE ssize_t name##_reserve(name *r, size_t want, T **span)                                           \
        BODY(void *p_ = NULL; ssize_t n_ = cortex_ring_reserve(&r->ring, want, &p_);                       \
             if (n_ > 0) *span = CORTEX_RING__CAST(T *, p_); return n_;)                                   \
    SCOPE int name##_commit(name *r, size_t n) BODY(return cortex_ring_commit(&r->ring, n);)               \
    SCOPE ssize_t name##_peek(name *r, size_t want, const T **span)                                        \
        BODY(const void *p_ = NULL; ssize_t n_ = cortex_ring_peek(&r->ring, want, &p_);                    \
             if (n_ > 0) *span = CORTEX_RING__CAST(const T *, p_); return n_;)                             \
    SCOPE int name##_release(name *r, size_t n) BODY(return cortex_ring_release(&r->ring, n);)             \
    SCOPE size_t name##_len(const name *r) BODY(return cortex_ring_len(&r->ring);)                         \
    SCOPE size_t name##_capacity(const name *r) BODY(return cortex_ring_capacity(&r->ring);)               \
    SCOPE bool name##_is_empty(const name *r) BODY(return cortex_ring_is_empty(&r->ring);)                 \
    SCOPE cortex_region *name##_region(const name *r) BODY(return cortex_ring_region(&r->ring);)           \
    SCOPE cortex_ring *name##_core(name *r) BODY(return &r->ring;)                                         \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_ring), "SPSC ring '" #name "': handle size")
/** @endcond */

/** Declares the typed SPSC ring `name` of elements of type @p T: static inline functions (see the file comment). */
#define CORTEX_SPSC_RING_DECLARE(name, T) CORTEX__GEN_DECLARE(RING, name, T)

/**
 * Declares the typed SPSC ring `name` of 8-byte elements of type @p T whose
 * value @p EMPTY (an expression of type T) means "empty slot": the marks
 * publication scheme (neocortex/ring.h), for types that have such a value
 * (a ::cortex_handle ring: CORTEX_HANDLE_NULL).  Same functions as
 * CORTEX_SPSC_RING_DECLARE, plus `T name_empty(void)`; pushing @p EMPTY is
 * -EINVAL.  name_attach() works on either scheme (the header says which).
 */
#define CORTEX_SPSC_RING_DECLARE_MARKED(name, T, EMPTY)                                                    \
    CORTEX__RING_TYPES(name, T);                                                                           \
    CORTEX__STATIC_ASSERT(sizeof(T) == 8 && CORTEX__ALIGNOF(T) <= 8,                                       \
                          "SPSC ring '" #name "': a marked ring needs an 8-byte element type, '" #T "' is not"); \
    /** The value that means "empty slot" (never pushed). */                                               \
    CORTEX__GEN_FN T name##_empty(void) { return (EMPTY); }                                                \
    CORTEX__GEN_FN uint64_t name##_empty_bits_(void)                                                       \
    {                                                                                                      \
        T e_ = name##_empty();                                                                             \
        uint64_t u_;                                                                                       \
        memcpy(&u_, &e_, 8);                                                                               \
        return u_;                                                                                         \
    }                                                                                                      \
    CORTEX__RING_GENERATE_AS(name, T, CORTEX__GEN_FN, CORTEX__BODY_DEFINE, MARKS)

/**
 * Declares the typed SPSC ring `name` of elements of type @p T with the
 * batch publication scheme (neocortex/ring.h): the producer publishes its
 * index once per CORTEX_RING_BATCH slots, and must call name_flush() when it
 * stops pushing.  Same functions as CORTEX_SPSC_RING_DECLARE.
 */
#define CORTEX_SPSC_RING_DECLARE_BATCHED(name, T)                                                          \
    CORTEX__RING_TYPES(name, T);                                                                           \
    CORTEX__RING_GENERATE_AS(name, T, CORTEX__GEN_FN, CORTEX__BODY_DEFINE, BATCH)

/** Declarations only (in a header): the functions are defined once by CORTEX_SPSC_RING_DEFINE(name, T). */
#define CORTEX_SPSC_RING_PROTOTYPE(name, T) CORTEX__GEN_PROTOTYPE(RING, name, T)

/** The exported definitions for a CORTEX_SPSC_RING_PROTOTYPE(name, T) (in exactly one .c file). */
#define CORTEX_SPSC_RING_DEFINE(name, T) CORTEX__GEN_DEFINE(RING, name, T)

/**
 * As CORTEX_SPSC_RING_DECLARE, with a compile-time capacity @p CAP: adds the
 * buffer type `name_storage` and `int name_init_static(name *r, name_storage *mem)`.
 */
#define CORTEX_SPSC_RING_DECLARE_STATIC(name, T, CAP)                                                      \
    CORTEX__STATIC_ASSERT((CAP) > 0 && ((CAP) & ((CAP)-1)) == 0,                                            \
                         "SPSC ring '" #name "': capacity " #CAP " is not a power of two");                \
    CORTEX__STATIC_ASSERT((CAP) <= CORTEX_RING_MAX_CAPACITY,                                                \
                         "SPSC ring '" #name "': capacity " #CAP " is above 2^31");                        \
    CORTEX_SPSC_RING_DECLARE(name, T);                                                                     \
    /** Storage for a raw name ring of CAP elements, aligned to max(64, alignof(T)). */                    \
    typedef union name##_storage {                                                                         \
        CORTEX_RING_ALIGN64 unsigned char bytes[CORTEX_RING__SIZE(T, CAP)]; /**< The ring's bytes. */      \
        T align_; /**< Only for the alignment of T. */                                                     \
    } name##_storage;                                                                                      \
    /** Lays the ring over @p mem (both sides in one handle). */                                           \
    CORTEX__GEN_FN int name##_init_static(name *r, name##_storage *mem)                                     \
    {                                                                                                      \
        return name##_init(r, mem->bytes, sizeof mem->bytes, (uint32_t)(CAP));                             \
    }                                                                                                      \
    typedef int name##_declared_static_

#ifndef CORTEX_NO_SHORT_NAMES
/** Short alias of CORTEX_SPSC_RING_DECLARE (off with CORTEX_NO_SHORT_NAMES). */
#define SPSC_RING_DECLARE(name, T) CORTEX_SPSC_RING_DECLARE(name, T)
/** Short alias of CORTEX_SPSC_RING_DECLARE_MARKED. */
#define SPSC_RING_DECLARE_MARKED(name, T, EMPTY) CORTEX_SPSC_RING_DECLARE_MARKED(name, T, EMPTY)
/** Short alias of CORTEX_SPSC_RING_DECLARE_BATCHED. */
#define SPSC_RING_DECLARE_BATCHED(name, T) CORTEX_SPSC_RING_DECLARE_BATCHED(name, T)
/** Short alias of CORTEX_SPSC_RING_DECLARE_STATIC. */
#define SPSC_RING_DECLARE_STATIC(name, T, CAP) CORTEX_SPSC_RING_DECLARE_STATIC(name, T, CAP)
/** Short alias of CORTEX_SPSC_RING_PROTOTYPE. */
#define SPSC_RING_PROTOTYPE(name, T) CORTEX_SPSC_RING_PROTOTYPE(name, T)
/** Short alias of CORTEX_SPSC_RING_DEFINE. */
#define SPSC_RING_DEFINE(name, T) CORTEX_SPSC_RING_DEFINE(name, T)
#endif

#endif
