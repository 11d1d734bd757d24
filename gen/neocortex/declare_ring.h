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
 * int     name_close(name *r);
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
 * CORTEX_SPSC_RING_DECLARE_MARKED(name, T, EMPTY) declares the same for an
 * 8-byte T with a value that means "empty": the ring then uses the marks
 * publication scheme (see neocortex/ring.h), and adds `T name_empty(void)`.
 *
 * CORTEX_SPSC_RING_DECLARE_BATCHED(name, T) declares the same with the batch
 * publication scheme (the producer must call name_flush() when it goes idle).
 *
 * SPSC_RING_DECLARE, SPSC_RING_DECLARE_MARKED, SPSC_RING_DECLARE_BATCHED and SPSC_RING_DECLARE_STATIC are short aliases, not
 * defined when CORTEX_NO_SHORT_NAMES is.
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
#define CORTEX_RING__HEAD(name, T)                                                                  \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_RING_MAX_ELEM,                               \
                         "SPSC ring '" #name "': element type '" #T "' must be 1 byte to 1 MiB");           \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                      \
                         "SPSC ring '" #name "': element type '" #T "' is aligned beyond 4096 bytes");      \
    /** A typed SPSC ring of T (distinct type per declaration). */                                         \
    typedef struct name {                                                                                  \
        cortex_ring ring; /**< The untyped handle. */                                                      \
    } name;                                                                                                \
    /** Bytes a raw ring of @p capacity T needs (0 if capacity is not a power of two). */                  \
    CORTEX__GEN_FN size_t name##_required_size(uint32_t capacity)                                           \
    {                                                                                                      \
        return cortex_ring_required_size_aligned(capacity, sizeof(T), CORTEX__ALIGNOF(T));            \
    }

#define CORTEX_RING__OPS(name, T)                                                                          \
    /** Attaches to the ring segment under @p key (checks it holds T) and takes @p role. */                \
    CORTEX__GEN_FN int name##_attach(name *r, cortex_key key, cortex_role role, const cortex_opts *opts)    \
    {                                                                                                      \
        return cortex_ring_attach(&r->ring, key, sizeof(T), CORTEX__ALIGNOF(T), #T, role, opts);      \
    }                                                                                                      \
    /** Pushes @p value; -EAGAIN when full, -EPIPE when the consumer is gone. */                           \
    CORTEX__GEN_FN int name##_push(name *r, T value)                                                        \
    {                                                                                                      \
        return cortex_ring_push_sized(&r->ring, &value, sizeof(T));                                        \
    }                                                                                                      \
    /** Pops into @p out; -EAGAIN when empty, -EPIPE when drained and the producer is gone. */             \
    CORTEX__GEN_FN int name##_pop(name *r, T *out) { return cortex_ring_pop_sized(&r->ring, out, sizeof(T)); } \
    /** Pushes up to @p n values with one index publication; returns the count pushed. */                  \
    CORTEX__GEN_FN ssize_t name##_push_n(name *r, const T *v, size_t n)                                     \
    {                                                                                                      \
        return cortex_ring_push_n(&r->ring, v, n);                                                         \
    }                                                                                                      \
    /** Pops up to @p n values with one index publication; returns the count popped. */                    \
    CORTEX__GEN_FN ssize_t name##_pop_n(name *r, T *out, size_t n) { return cortex_ring_pop_n(&r->ring, out, n); } \
    /** Pushes, waiting up to @p timeout_ns while full (<0 forever, 0 never). */                           \
    CORTEX__GEN_FN int name##_push_wait(name *r, T value, int64_t timeout_ns)                               \
    {                                                                                                      \
        return cortex_ring_push_wait(&r->ring, &value, timeout_ns);                                        \
    }                                                                                                      \
    /** Pops, waiting up to @p timeout_ns while empty (<0 forever, 0 never). */                            \
    CORTEX__GEN_FN int name##_pop_wait(name *r, T *out, int64_t timeout_ns)                                 \
    {                                                                                                      \
        return cortex_ring_pop_wait(&r->ring, out, timeout_ns);                                            \
    }                                                                                                      \
    /** Publishes what this producer pushed (batch scheme: call it when the producer goes idle). */        \
    CORTEX__GEN_FN int name##_flush(name *r) { return cortex_ring_flush(&r->ring); }                        \
    /** Closes this side (the peer drains, then gets -EPIPE); the owner removes the segment. */            \
    CORTEX__GEN_FN int name##_close(name *r) { return cortex_ring_close(&r->ring); }                        \
    /** Zero-copy write: up to @p want contiguous free slots at *@p span; then name_commit(). */           \
    CORTEX__GEN_FN ssize_t name##_reserve(name *r, size_t want, T **span)                                   \
    {                                                                                                      \
        void *p = NULL;                                                                                    \
        ssize_t n = cortex_ring_reserve(&r->ring, want, &p);                                               \
        if (n > 0)                                                                                         \
            *span = CORTEX_RING__CAST(T *, p);                                                             \
        return n;                                                                                          \
    }                                                                                                      \
    /** Publishes the first @p n reserved slots. */                                                        \
    CORTEX__GEN_FN int name##_commit(name *r, size_t n) { return cortex_ring_commit(&r->ring, n); }         \
    /** Zero-copy read: up to @p want contiguous filled slots at *@p span; then name_release(). */         \
    CORTEX__GEN_FN ssize_t name##_peek(name *r, size_t want, const T **span)                                \
    {                                                                                                      \
        const void *p = NULL;                                                                              \
        ssize_t n = cortex_ring_peek(&r->ring, want, &p);                                                  \
        if (n > 0)                                                                                         \
            *span = CORTEX_RING__CAST(const T *, p);                                                       \
        return n;                                                                                          \
    }                                                                                                      \
    /** Frees the first @p n peeked slots. */                                                              \
    CORTEX__GEN_FN int name##_release(name *r, size_t n) { return cortex_ring_release(&r->ring, n); }       \
    /** Elements in the ring now (snapshot). */                                                            \
    CORTEX__GEN_FN size_t name##_len(const name *r) { return cortex_ring_len(&r->ring); }                   \
    /** The capacity. */                                                                                   \
    CORTEX__GEN_FN size_t name##_capacity(const name *r) { return cortex_ring_capacity(&r->ring); }         \
    /** true if empty now (snapshot). */                                                                   \
    CORTEX__GEN_FN bool name##_is_empty(const name *r) { return cortex_ring_is_empty(&r->ring); }           \
    /** The segment behind the ring (NULL for a raw ring). */                                              \
    CORTEX__GEN_FN cortex_region *name##_region(const name *r) { return cortex_ring_region(&r->ring); }     \
    /** The untyped core handle. */                                                                        \
    CORTEX__GEN_FN cortex_ring *name##_core(name *r) { return &r->ring; }                                   \
    typedef int name##_declared_ /* swallows the caller's ';' */
/** @endcond */

/** Declares the typed SPSC ring `name` of elements of type @p T (see the file comment). */
#define CORTEX_SPSC_RING_DECLARE(name, T)                                                                  \
    CORTEX_RING__HEAD(name, T)                                                                             \
    /** Creates a ring segment under @p key and takes @p role in it. */                                    \
    CORTEX__GEN_FN int name##_create(name *r, cortex_key key, uint32_t capacity, cortex_role role,          \
                                    const cortex_opts *opts)                                               \
    {                                                                                                      \
        return cortex_ring_create(&r->ring, key, capacity, sizeof(T), CORTEX__ALIGNOF(T), #T, role,   \
                                  opts);                                                                   \
    }                                                                                                      \
    /** Lays an empty ring over @p len bytes at @p mem (64-byte aligned); the handle serves both sides. */ \
    CORTEX__GEN_FN int name##_init(name *r, void *mem, size_t len, uint32_t capacity)                       \
    {                                                                                                      \
        return cortex_ring_init(&r->ring, mem, len, capacity, sizeof(T), CORTEX__ALIGNOF(T));         \
    }                                                                                                      \
    CORTEX_RING__OPS(name, T)

/**
 * Declares the typed SPSC ring `name` of elements of type @p T with the
 * batch publication scheme (neocortex/ring.h): the producer publishes its
 * index once per CORTEX_RING_BATCH slots, and must call name_flush() when it
 * stops pushing.  Same functions as CORTEX_SPSC_RING_DECLARE.
 */
#define CORTEX_SPSC_RING_DECLARE_BATCHED(name, T)                                                          \
    CORTEX_RING__HEAD(name, T)                                                                             \
    /** Creates a batched ring segment under @p key and takes @p role in it. */                            \
    CORTEX__GEN_FN int name##_create(name *r, cortex_key key, uint32_t capacity, cortex_role role,          \
                                    const cortex_opts *opts)                                               \
    {                                                                                                      \
        return cortex_ring_create_batched(&r->ring, key, capacity, sizeof(T), CORTEX__ALIGNOF(T), #T,      \
                                          role, opts);                                                     \
    }                                                                                                      \
    /** Lays an empty batched ring over @p len bytes at @p mem (64-byte aligned); both sides. */           \
    CORTEX__GEN_FN int name##_init(name *r, void *mem, size_t len, uint32_t capacity)                       \
    {                                                                                                      \
        return cortex_ring_init_batched(&r->ring, mem, len, capacity, sizeof(T), CORTEX__ALIGNOF(T));      \
    }                                                                                                      \
    CORTEX_RING__OPS(name, T)

/**
 * Declares the typed SPSC ring `name` of 8-byte elements of type @p T whose
 * value @p EMPTY (an expression of type T) means "empty slot": the marks
 * publication scheme (neocortex/ring.h), for types that have such a value
 * (a ::cortex_handle ring: CORTEX_HANDLE_NULL).  Same functions as
 * CORTEX_SPSC_RING_DECLARE, plus `T name_empty(void)`; pushing @p EMPTY is
 * -EINVAL.  name_attach() works on either scheme (the header says which).
 */
#define CORTEX_SPSC_RING_DECLARE_MARKED(name, T, EMPTY)                                                    \
    CORTEX_RING__HEAD(name, T)                                                                             \
    CORTEX__STATIC_ASSERT(sizeof(T) == 8 && CORTEX__ALIGNOF(T) <= 8,                                       \
                         "SPSC ring '" #name "': a marked ring needs an 8-byte element type, '" #T "' is not"); \
    /** The value that means "empty slot" (never pushed). */                                               \
    CORTEX__GEN_FN T name##_empty(void) { return (EMPTY); }                                                \
    /** @cond internal */                                                                                  \
    CORTEX__GEN_FN uint64_t name##_empty_bits_(void)                                                       \
    {                                                                                                      \
        T e = name##_empty();                                                                              \
        uint64_t u;                                                                                        \
        memcpy(&u, &e, 8);                                                                                 \
        return u;                                                                                          \
    }                                                                                                      \
    /** @endcond */                                                                                        \
    /** Creates a marked ring segment under @p key and takes @p role in it. */                             \
    CORTEX__GEN_FN int name##_create(name *r, cortex_key key, uint32_t capacity, cortex_role role,          \
                                    const cortex_opts *opts)                                               \
    {                                                                                                      \
        return cortex_ring_create_marked(&r->ring, key, capacity, CORTEX__ALIGNOF(T), #T,                  \
                                         name##_empty_bits_(), role, opts);                                \
    }                                                                                                      \
    /** Lays an empty marked ring over @p len bytes at @p mem (64-byte aligned); both sides. */            \
    CORTEX__GEN_FN int name##_init(name *r, void *mem, size_t len, uint32_t capacity)                       \
    {                                                                                                      \
        return cortex_ring_init_marked(&r->ring, mem, len, capacity, CORTEX__ALIGNOF(T),                   \
                                       name##_empty_bits_());                                              \
    }                                                                                                      \
    CORTEX_RING__OPS(name, T)

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
/** Short alias of CORTEX_SPSC_RING_DECLARE_BATCHED. */
#define SPSC_RING_DECLARE_BATCHED(name, T) CORTEX_SPSC_RING_DECLARE_BATCHED(name, T)
/** Short alias of CORTEX_SPSC_RING_DECLARE_MARKED. */
#define SPSC_RING_DECLARE_MARKED(name, T, EMPTY) CORTEX_SPSC_RING_DECLARE_MARKED(name, T, EMPTY)
/** Short alias of CORTEX_SPSC_RING_DECLARE_STATIC. */
#define SPSC_RING_DECLARE_STATIC(name, T, CAP) CORTEX_SPSC_RING_DECLARE_STATIC(name, T, CAP)
#endif

#endif
