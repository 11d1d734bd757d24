/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/export.h
 * @brief Symbol visibility and C++ linkage macros shared by every public header.
 */
#ifndef NEOCORTEX_EXPORT_H
#define NEOCORTEX_EXPORT_H

/** Marks a function exported from the neocortex library (everything else is hidden). */
#if defined(CORTEX_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define CORTEX_API __attribute__((visibility("default")))
#else
#define CORTEX_API
#endif

#ifdef __cplusplus
#define CORTEX_BEGIN_DECLS extern "C" {
#define CORTEX_END_DECLS }
#else
/** Opens an extern "C" block in C++ (nothing in C). */
#define CORTEX_BEGIN_DECLS
/** Closes the block CORTEX_BEGIN_DECLS opened. */
#define CORTEX_END_DECLS
#endif

#if defined(__GNUC__) || defined(__clang__)
/** The caller must look at the return value. */
#define CORTEX_NODISCARD __attribute__((warn_unused_result))
/** printf-style format checking. */
#define CORTEX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CORTEX_NODISCARD
#define CORTEX_PRINTF(fmt, args)
#endif

#endif
