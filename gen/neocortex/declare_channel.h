/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare_channel.h
 * @brief CORTEX_CHANNEL_DECLARE(name, T): a zero-copy channel of T over
 *        neocortex/channel.h; CORTEX_CHANNEL_VAR_DECLARE(name, T): messages
 *        of any number of T, from size classes.
 *
 * `CORTEX_CHANNEL_DECLARE(frames, struct frame);` declares a distinct struct
 * type `frames` and these static inline functions (one-line forwarders that
 * pass sizeof(T), _Alignof(T) and the spelling of T, or opts->type_tag, to
 * the core):
 *
 * @code
 *   int  frames_create(frames *c, cortex_key key, uint32_t slots, cortex_role role,
 *                      const cortex_opts *opts);              // the creator is one side
 *   int  frames_attach(frames *c, cortex_key key, cortex_role role, const cortex_opts *opts);
 *   int  frames_loan(frames *c, T **out);                      // producer; -EAGAIN none free
 *   int  frames_publish(frames *c, T *msg);                    // producer: the ring push is the transfer
 *   int  frames_take(frames *c, const T **out);                // consumer; -EAGAIN, -EPIPE, -ESTALE
 *   int  frames_release(frames *c, const T *msg);              // consumer: give the slot back
 *   int  frames_loan_wait(frames *c, T **out, int64_t timeout_ns);
 *   int  frames_take_wait(frames *c, const T **out, int64_t timeout_ns);
 *   int  frames_close(frames *c);
 *   // extras
 *   int  frames_unloan(frames *c, T *msg);                     // producer: give a loan back unpublished
 *   int  frames_publish_copy(frames *c, const T *value, int64_t timeout_ns);  // loan + fast copy-in + publish
 *   int  frames_reclaim(frames *c);                            // dead processes' slots; count
 *   int  frames_stats(frames *c, cortex_channel_stats *out);
 *   cortex_region  *frames_region(frames *c);
 *   cortex_channel *frames_core(frames *c);                    // the untyped core
 * @endcode
 *
 * `CORTEX_CHANNEL_VAR_DECLARE(blobs, T);` is the variable-size form: a
 * message is an array of 1 or more T, its slot taken from size classes
 * (::cortex_pool_class, sizes in bytes, each holding at least one T):
 *
 * @code
 *   int  blobs_create(blobs *c, cortex_key key, const cortex_pool_class *classes, unsigned n,
 *                     cortex_role role, const cortex_opts *opts);
 *   int  blobs_attach(blobs *c, cortex_key key, cortex_role role, const cortex_opts *opts);
 *   int  blobs_loan(blobs *c, size_t count, T **out);          // room for count elements; -ERANGE too many
 *   int  blobs_publish(blobs *c, T *msg, size_t count);
 *   int  blobs_take(blobs *c, const T **out, size_t *count);
 *   int  blobs_release(blobs *c, const T *msg);
 *   int  blobs_loan_wait(blobs *c, size_t count, T **out, int64_t timeout_ns);
 *   int  blobs_take_wait(blobs *c, const T **out, size_t *count, int64_t timeout_ns);
 *   int  blobs_close(blobs *c);
 *   int  blobs_unloan(blobs *c, T *msg);
 *   int  blobs_publish_copy(blobs *c, const T *v, size_t count, int64_t timeout_ns);
 *   int  blobs_reclaim(blobs *c);
 *   int  blobs_stats(blobs *c, cortex_channel_stats *out);
 *   cortex_region  *blobs_region(blobs *c);
 *   cortex_channel *blobs_core(blobs *c);
 * @endcode
 *
 * The loan and take calls always write their out-parameters (NULL and a
 * count of 0 on failure); a count whose bytes overflow size_t is refused
 * by the core (-ERANGE for a loan).  The core refuses a record whose length is not a whole number of T
 * (-EBADMSG, the record is skipped).  For one exported copy instead of
 * static inline functions: `CORTEX_CHANNEL_PROTOTYPE(name, T);` (or
 * `CORTEX_CHANNEL_VAR_PROTOTYPE`) in a header and `CORTEX_CHANNEL_DEFINE(name,
 * T);` (`CORTEX_CHANNEL_VAR_DEFINE`) in exactly one .c file that includes it.
 * The caller writes the trailing `;`.  `CHANNEL_DECLARE`, `CHANNEL_PROTOTYPE`,
 * `CHANNEL_DEFINE` and the `CHANNEL_VAR_*` spellings are the short aliases
 * (define CORTEX_NO_SHORT_NAMES before including to turn them off).
 */
#ifndef NEOCORTEX_DECLARE_CHANNEL_H
#define NEOCORTEX_DECLARE_CHANNEL_H

#include <neocortex/channel.h>
#include <neocortex/declare.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <neocortex/region.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/** @cond internal */
/* The compile-time checks and the handle type of channel instance @p name (both forms). */
#define CORTEX__CHANNEL_TYPES(name, T)                                                                           \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0 && sizeof(T) <= CORTEX_SLAB_MAX_SLOT_SIZE,                                \
                          "CORTEX_CHANNEL_DECLARE(" #name ", " #T "): sizeof(" #T ") must be 1 byte to 1 GiB");  \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                                \
                          "CORTEX_CHANNEL_DECLARE(" #name ", " #T "): _Alignof(" #T ") is larger than "          \
                          "CORTEX_MAX_ALIGN");                                                                   \
    typedef struct name {                                                                                        \
        cortex_channel *core_;                                                                                   \
    } name
#define CORTEX__CHANNEL_VAR_TYPES(name, T) CORTEX__CHANNEL_TYPES(name, T)

/* The element size, alignment and spelling every create/attach passes. */
#define CORTEX__CHANNEL_ET(T) sizeof(T), CORTEX__ALIGNOF(T), #T

/* What both forms share: attach, release, close and the extras. */
#define CORTEX__CHANNEL_COMMON(name, T, SCOPE, BODY)                                                             \
    SCOPE int name##_attach(name *c, cortex_key key, cortex_role role, const cortex_opts *opts)                   \
        BODY(return cortex_channel_attach(&c->core_, key, CORTEX__CHANNEL_ET(T), role, opts);)                  \
    SCOPE int name##_release(name *c, const T *msg) BODY(return cortex_channel_release(c->core_, msg);)          \
    SCOPE int name##_unloan(name *c, T *msg) BODY(return cortex_channel_unloan(c->core_, msg);)                  \
    SCOPE int name##_reclaim(name *c) BODY(return cortex_channel_reclaim(c->core_);)                             \
    SCOPE int name##_stats(name *c, cortex_channel_stats *out) BODY(return cortex_channel_stats_get(c->core_, out);) \
    SCOPE cortex_region *name##_region(name *c) BODY(return cortex_channel_region(c->core_);)                    \
    SCOPE cortex_channel *name##_core(name *c) BODY(return c->core_;)                                            \
    SCOPE int name##_close(name *c) BODY(int rc_ = cortex_channel_close(c->core_); c->core_ = 0; return rc_;)

/* Every function of fixed-size channel instance @p name with linkage @p SCOPE and @p BODY. */
#define CORTEX__CHANNEL_GENERATE(name, T, SCOPE, BODY)                                                           \
    SCOPE int name##_create(name *c, cortex_key key, uint32_t slots, cortex_role role, const cortex_opts *opts)   \
        BODY(cortex_pool_class cls_ = {(uint32_t)sizeof(T), slots};                                              \
             return cortex_channel_create(&c->core_, key, &cls_, 1, CORTEX__CHANNEL_ET(T), role, opts);)        \
    SCOPE int name##_loan(name *c, T **out)                                                                      \
        BODY(void *p_ = 0; int rc_ = cortex_channel_loan(c->core_, sizeof(T), &p_);                              \
             *out = (T *)p_; return rc_;)                                                          \
    SCOPE int name##_loan_wait(name *c, T **out, int64_t timeout_ns)                                             \
        BODY(void *p_ = 0; int rc_ = cortex_channel_loan_wait(c->core_, sizeof(T), &p_, timeout_ns);             \
             *out = (T *)p_; return rc_;)                                                          \
    SCOPE int name##_publish(name *c, T *msg) BODY(return cortex_channel_publish(c->core_, msg, sizeof(T));)     \
    SCOPE int name##_publish_copy(name *c, const T *value, int64_t timeout_ns)                                   \
        BODY(return cortex_channel_publish_copy(c->core_, value, sizeof(T), timeout_ns);)                        \
    SCOPE int name##_take(name *c, const T **out)                                                                \
        BODY(const void *p_ = 0; int rc_ = cortex_channel_take(c->core_, &p_, 0);                                \
             *out = (const T *)p_; return rc_;)                                                    \
    SCOPE int name##_take_wait(name *c, const T **out, int64_t timeout_ns)                                       \
        BODY(const void *p_ = 0; int rc_ = cortex_channel_take_wait(c->core_, &p_, 0, timeout_ns);               \
             *out = (const T *)p_; return rc_;)                                                    \
    CORTEX__CHANNEL_COMMON(name, T, SCOPE, BODY)                                                                 \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_channel *), "CORTEX_CHANNEL_DECLARE(" #name "): handle size")

/* Bytes of @p count elements; SIZE_MAX on overflow (the core refuses it: -ERANGE / -EINVAL with a message). */
#define CORTEX__CHANNEL_BYTES(T, count) ((count) > SIZE_MAX / sizeof(T) ? SIZE_MAX : (count) * sizeof(T))

/* A taken message of @p len_ bytes (the core checked it is a whole number of T) as a count of T. */
#define CORTEX__CHANNEL_VAR_COUNT(T, rc_, p_, len_, out, count)                                                  \
    *out = (const T *)p_;                                                                                        \
    if (count)                                                                                                   \
        *count = len_ / sizeof(T);                                                                               \
    return rc_;

/* Every function of variable-size channel instance @p name with linkage @p SCOPE and @p BODY. */
#define CORTEX__CHANNEL_VAR_GENERATE(name, T, SCOPE, BODY)                                                       \
    SCOPE int name##_create(name *c, cortex_key key, const cortex_pool_class *classes, unsigned n,               \
                            cortex_role role, const cortex_opts *opts)                                           \
        BODY(return cortex_channel_create(&c->core_, key, classes, n, CORTEX__CHANNEL_ET(T), role, opts);)      \
    SCOPE int name##_loan(name *c, size_t count, T **out)                                                        \
        BODY(void *p_ = 0;                                                                                     \
             int rc_ = cortex_channel_loan(c->core_, CORTEX__CHANNEL_BYTES(T, count), &p_); *out = (T *)p_;      \
             return rc_;)                                                                                        \
    SCOPE int name##_loan_wait(name *c, size_t count, T **out, int64_t timeout_ns)                               \
        BODY(void *p_ = 0;                                                                                     \
             int rc_ = cortex_channel_loan_wait(c->core_, CORTEX__CHANNEL_BYTES(T, count), &p_, timeout_ns);   \
             *out = (T *)p_; return rc_;)                                                          \
    SCOPE int name##_publish(name *c, T *msg, size_t count)                                                      \
        BODY(return cortex_channel_publish(c->core_, msg, CORTEX__CHANNEL_BYTES(T, count));)                                   \
    SCOPE int name##_publish_copy(name *c, const T *v, size_t count, int64_t timeout_ns)                         \
        BODY(return cortex_channel_publish_copy(c->core_, v, CORTEX__CHANNEL_BYTES(T, count), timeout_ns);)                   \
    SCOPE int name##_take(name *c, const T **out, size_t *count)                                                 \
        BODY(const void *p_ = 0; size_t len_ = 0; int rc_ = cortex_channel_take(c->core_, &p_, &len_);           \
             CORTEX__CHANNEL_VAR_COUNT(T, rc_, p_, len_, out, count))                                            \
    SCOPE int name##_take_wait(name *c, const T **out, size_t *count, int64_t timeout_ns)                        \
        BODY(const void *p_ = 0; size_t len_ = 0;                                                                \
             int rc_ = cortex_channel_take_wait(c->core_, &p_, &len_, timeout_ns);                               \
             CORTEX__CHANNEL_VAR_COUNT(T, rc_, p_, len_, out, count))                                            \
    CORTEX__CHANNEL_COMMON(name, T, SCOPE, BODY)                                                                 \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_channel *),                                       \
                          "CORTEX_CHANNEL_VAR_DECLARE(" #name "): handle size")
/** @endcond */

/** Declares a zero-copy channel @p name of messages of type @p T: static inline functions (see the file comment). */
#define CORTEX_CHANNEL_DECLARE(name, T) CORTEX__GEN_DECLARE(CHANNEL, name, T)
/** Declarations only (in a header): the functions are defined once by CORTEX_CHANNEL_DEFINE(name, T). */
#define CORTEX_CHANNEL_PROTOTYPE(name, T) CORTEX__GEN_PROTOTYPE(CHANNEL, name, T)
/** The exported definitions for a CORTEX_CHANNEL_PROTOTYPE(name, T) (in exactly one .c file). */
#define CORTEX_CHANNEL_DEFINE(name, T) CORTEX__GEN_DEFINE(CHANNEL, name, T)

/** Declares a variable-size channel @p name of messages of 1 or more @p T (see the file comment). */
#define CORTEX_CHANNEL_VAR_DECLARE(name, T) CORTEX__GEN_DECLARE(CHANNEL_VAR, name, T)
/** Declarations only: defined once by CORTEX_CHANNEL_VAR_DEFINE(name, T). */
#define CORTEX_CHANNEL_VAR_PROTOTYPE(name, T) CORTEX__GEN_PROTOTYPE(CHANNEL_VAR, name, T)
/** The exported definitions for a CORTEX_CHANNEL_VAR_PROTOTYPE(name, T). */
#define CORTEX_CHANNEL_VAR_DEFINE(name, T) CORTEX__GEN_DEFINE(CHANNEL_VAR, name, T)

#ifndef CORTEX_NO_SHORT_NAMES
/** Short alias of CORTEX_CHANNEL_DECLARE. */
#define CHANNEL_DECLARE(name, T) CORTEX_CHANNEL_DECLARE(name, T)
/** Short alias of CORTEX_CHANNEL_PROTOTYPE. */
#define CHANNEL_PROTOTYPE(name, T) CORTEX_CHANNEL_PROTOTYPE(name, T)
/** Short alias of CORTEX_CHANNEL_DEFINE. */
#define CHANNEL_DEFINE(name, T) CORTEX_CHANNEL_DEFINE(name, T)
/** Short alias of CORTEX_CHANNEL_VAR_DECLARE. */
#define CHANNEL_VAR_DECLARE(name, T) CORTEX_CHANNEL_VAR_DECLARE(name, T)
/** Short alias of CORTEX_CHANNEL_VAR_PROTOTYPE. */
#define CHANNEL_VAR_PROTOTYPE(name, T) CORTEX_CHANNEL_VAR_PROTOTYPE(name, T)
/** Short alias of CORTEX_CHANNEL_VAR_DEFINE. */
#define CHANNEL_VAR_DEFINE(name, T) CORTEX_CHANNEL_VAR_DEFINE(name, T)
#endif

#endif
