/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare.h
 * @brief What the typed generators (declare_cell.h, declare_ring.h,
 *        declare_slab.h, declare_pool.h) share: C and C++ spellings of
 *        alignof and static_assert, and the linkage of generated functions.
 *
 * Every generator comes in three forms with the same functions:
 * `X_DECLARE(name, T)` (static inline, header-only), `X_PROTOTYPE(name, T)`
 * (declarations, for a header) and `X_DEFINE(name, T)` (the one exported
 * copy, in exactly one .c file that includes that header).
 */
#ifndef NEOCORTEX_DECLARE_H
#define NEOCORTEX_DECLARE_H

/** @cond internal */
#ifdef __cplusplus
#define CORTEX__ALIGNOF(T) alignof(T)
#define CORTEX__STATIC_ASSERT(c, msg) static_assert(c, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ < 201112L && (defined(__GNUC__) || defined(__clang__))
/* -std=c99 with GNU compilers: the same checks through extensions, quietly. */
#define CORTEX__ALIGNOF(T) __alignof__(T)
#define CORTEX__STATIC_ASSERT(c, msg) __extension__ _Static_assert(c, msg)
#else
#define CORTEX__ALIGNOF(T) _Alignof(T)
#define CORTEX__STATIC_ASSERT(c, msg) _Static_assert(c, msg)
#endif

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
