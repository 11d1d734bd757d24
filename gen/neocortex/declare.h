/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare.h
 * @brief What the typed generators (declare_cell.h, declare_ring.h,
 *        declare_slab.h, declare_pool.h) share: the layout alignment of
 *        the type signature, C and C++ spellings of static_assert, and the
 *        linkage of generated functions.
 *
 * Every generator comes in three forms with the same functions:
 * `X_DECLARE(name, T)` (static inline, header-only), `X_PROTOTYPE(name, T)`
 * (declarations, for a header) and `X_DEFINE(name, T)` (the one exported
 * copy, in exactly one .c file that includes that header).
 */
#ifndef NEOCORTEX_DECLARE_H
#define NEOCORTEX_DECLARE_H

#include <stddef.h>

/** @cond internal */
/*
 * CORTEX__ABI_ALIGNOF(T): the alignment the ABI gives T, the same in C++,
 * C11 and C99 (not GNU __alignof__, which is the *preferred* alignment: 8
 * for uint64_t and double on i386, where the ABI says 4).
 */
#ifdef __cplusplus
#define CORTEX__ABI_ALIGNOF(T) alignof(T)
#define CORTEX__STATIC_ASSERT(c, msg) static_assert(c, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ < 201112L && (defined(__GNUC__) || defined(__clang__))
/* -std=c99 with GNU compilers: the same checks through extensions, quietly. */
#define CORTEX__ABI_ALIGNOF(T) (__extension__ _Alignof(T))
#define CORTEX__STATIC_ASSERT(c, msg) __extension__ _Static_assert(c, msg)
#else
#define CORTEX__ABI_ALIGNOF(T) _Alignof(T)
#define CORTEX__STATIC_ASSERT(c, msg) _Static_assert(c, msg)
#endif
/* The largest power of two up to 8 that divides sizeof(T). */
#define CORTEX__SIZE_ALIGN(T)                                                                                    \
    ((sizeof(T) & 7u) == 0 ? (size_t)8 : (sizeof(T) & 3u) == 0 ? (size_t)4 : (sizeof(T) & 1u) == 0 ? (size_t)2 : (size_t)1)
/** @endcond */

/**
 * The alignment a generator records for T and places T at in a segment: the
 * larger of the ABI alignment of T and the largest power of two up to 8
 * that divides sizeof(T).
 *
 * This is the "layout alignment" of the type signature (size, this
 * alignment, the type's spelling): it depends on the type's layout, not on
 * the compiler's view of alignment.  A struct of fixed-width fields has the
 * same value for i386 and x86-64 peers exactly when it has the same size
 * there (a uint64_t or double that x86-64 aligns to 8 and i386 to 4 either
 * sits at a multiple of 8 in both, or x86-64 pads and the sizes differ), so
 * `uint64_t`, `double`, ::cortex_handle and such structs are shared across
 * them, and a struct whose layout differs is refused.  C99, C11 and C++
 * programs of one ABI get the same value.  Use it for any typed segment
 * (the broadcast and channel generators do through CORTEX__ALIGNOF).
 */
#define CORTEX_LAYOUT_ALIGNOF(T)                                                                                 \
    (CORTEX__ABI_ALIGNOF(T) > CORTEX__SIZE_ALIGN(T) ? (size_t)CORTEX__ABI_ALIGNOF(T) : CORTEX__SIZE_ALIGN(T))

/** @cond internal */
/* What every generator passes as T's alignment: the layout alignment. */
#define CORTEX__ALIGNOF(T) CORTEX_LAYOUT_ALIGNOF(T)

/* Generated functions a program does not call must not warn (clang -Wunused-function in .c files). */
#if defined(__GNUC__) || defined(__clang__)
#define CORTEX__MAYBE_UNUSED __attribute__((unused))
#else
#define CORTEX__MAYBE_UNUSED
#endif

/* Linkage of the header-only (static inline) form of every generator. */
#define CORTEX__GEN_FN static inline CORTEX__MAYBE_UNUSED

/*
 * Every generator has one internal macro that emits all of an instance's
 * functions with a linkage SCOPE and a BODY: CORTEX__BODY_PROTO gives a
 * declaration (the *_PROTOTYPE forms, for a header), CORTEX__BODY_DEFINE the
 * definition (the *_DECLARE forms with CORTEX__GEN_FN, and the *_DEFINE
 * forms with external linkage, in one .c file).
 */
#define CORTEX__BODY_PROTO(...) ;
#define CORTEX__BODY_DEFINE(...) { __VA_ARGS__ }

/*
 * The three forms of generator KIND (CORTEX__<KIND>_TYPES declares the
 * checks and the handle type, CORTEX__<KIND>_GENERATE the functions).
 */
#define CORTEX__GEN_DECLARE(KIND, name, T)                                                                       \
    CORTEX__##KIND##_TYPES(name, T);                                                                             \
    CORTEX__##KIND##_GENERATE(name, T, CORTEX__GEN_FN, CORTEX__BODY_DEFINE)
#define CORTEX__GEN_PROTOTYPE(KIND, name, T)                                                                     \
    CORTEX__##KIND##_TYPES(name, T);                                                                             \
    CORTEX__##KIND##_GENERATE(name, T, extern, CORTEX__BODY_PROTO)
#define CORTEX__GEN_DEFINE(KIND, name, T) CORTEX__##KIND##_GENERATE(name, T, , CORTEX__BODY_DEFINE)
/** @endcond */

#endif
