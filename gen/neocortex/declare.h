/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare.h
 * @brief What the typed generators (declare_cell.h, declare_ring.h,
 *        declare_slab.h) share: C and C++ spellings of alignof and
 *        static_assert, and the linkage of generated functions.
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
/** @endcond */

#endif
