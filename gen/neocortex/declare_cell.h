/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/declare_cell.h
 * @brief CORTEX_DECLARE(name, T): a typed shared cell of T, as thin static inline wrappers.
 *
 * @code
 *   typedef struct { double x, y; uint64_t stamp; } pose;
 *   CORTEX_DECLARE(pose_cell, pose);
 *
 *   pose_cell c;
 *   int rc = pose_cell_create(&c, CORTEX_KEY_NAME("/pose"), (pose){0}, NULL);
 *   rc = pose_cell_write(&c, (pose){1, 2, 3});
 *   pose p;
 *   rc = pose_cell_read(&c, &p);   // optimistic, lock-free
 *   rc = pose_cell_close(&c);      // owner: removes the segment
 * @endcode
 *
 * CORTEX_DECLARE(name, T) generates (the caller writes the trailing `;`):
 *
 * | generated                                                          | does |
 * |---|---|
 * | `typedef struct name name;`                                        | a distinct handle type per instance |
 * | `int name_create(name *c, cortex_key key, T init, const cortex_opts *opts)` | create (default: exclusive, 0600, default lock) |
 * | `int name_attach(name *c, cortex_key key, const cortex_opts *opts)` | attach; -EPROTO on another type/size |
 * | `int name_read(name *c, T *out)`                                    | optimistic read; -EOWNERDEAD if inconsistent (value still copied) |
 * | `int name_write(name *c, T value)`                                  | replace the value (clears inconsistent) |
 * | `int name_update(name *c, void (*fn)(T *value, void *ctx), void *ctx)` | read-modify-write under the lock |
 * | `int name_read_version(name *c, T *out, uint64_t *version)`        | read, and the version (even sequence number) of what was read |
 * | `int name_wait(name *c, uint64_t *seen, int64_t timeout_ns)`        | sleep until the version differs from `*seen`, store it there; -ETIMEDOUT |
 * | `int name_write_timed(name *c, T value, int64_t timeout_ns)`        | write, or -ETIMEDOUT if the lock is not free in time |
 * | `int name_update_timed(name *c, void (*fn)(T *value, void *ctx), void *ctx, int64_t timeout_ns)` | update, or -ETIMEDOUT |
 * | `int name_update_if(name *c, int (*fn)(T *value, void *ctx), void *ctx, int64_t timeout_ns)` | update that stores only if `fn` returns 0; else returns `fn`'s value, nothing stored |
 * | `int name_consistent(name *c)`                                      | accept the value after -EOWNERDEAD |
 * | `int name_close(name *c)`                                           | owner: destroy; attacher: detach |
 * | `int name_leak(name *c)`                                            | detach, keep the segment |
 * | `int name_own(name *c)`                                             | become the owner |
 * | `cortex_region *name_region(const name *c)`                         | extra: the underlying region |
 *
 * Timeouts: < 0 waits forever, 0 never blocks.  name_wait() sleeps in a
 * futex wait on the cell header's waiters word (on Linux, whatever the lock
 * backend), and a writer wakes sleepers only when one announced itself:
 *
 * @code
 *   uint64_t version;
 *   pose p;
 *   rc = pose_cell_read_version(&c, &p, &version);
 *   while (rc >= 0 && (rc = pose_cell_wait(&c, &version, 1000000000)) == 0)
 *       rc = pose_cell_read_version(&c, &p, &version);   // rc -ETIMEDOUT: no write for 1 s
 * @endcode
 *
 * Each is a one-line forwarder to the cortex_cell_* core (neocortex/cell.h)
 * passing `sizeof(T)`, `CORTEX_LAYOUT_ALIGNOF(T)` and `#T` (cortex_opts::type_tag
 * overrides the spelling recorded in the segment).  T must be plain data
 * that means the same in every process (no pointers: each process maps the
 * segment at its own address); a pointer or array T, an empty T and a T
 * larger than CORTEX_CELL_TYPED_MAX_SIZE (1 MiB) are refused at compile time.
 *
 * For one exported copy instead of static inline functions:
 * `CORTEX_PROTOTYPE(name, T);` in a header and `CORTEX_DEFINE(name, T);` in
 * one .c file that includes that header.
 */
#ifndef NEOCORTEX_DECLARE_CELL_H
#define NEOCORTEX_DECLARE_CELL_H

#include <neocortex/cell.h>
#include <neocortex/declare.h>

/** Largest T for CORTEX_DECLARE (1 MiB): the wrappers take T by value and update a copy on the stack.
 *  The cortex_cell_* core takes up to CORTEX_CELL_MAX_SIZE. */
#define CORTEX_CELL_TYPED_MAX_SIZE (UINT32_C(1) << 20)
#include <neocortex/error.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>

/* 1 unless T is a pointer or an array (whose parameters would decay to pointers). */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__cplusplus)
#define CORTEX__NOT_POINTER(T) (__builtin_classify_type(*(T *)0) != 5)
#else
#define CORTEX__NOT_POINTER(T) 1
#endif


/* Function bodies: a prototype gets ';', a definition its body. */
#define CORTEX__BODY_PROTO(...) ;
#define CORTEX__BODY_DEFINE(...) { __VA_ARGS__ }

/* The handle type, the update trampoline and the compile-time checks. */
#define CORTEX__CELL_TYPES(name, T)                                                                              \
    CORTEX__STATIC_ASSERT(sizeof(T) > 0, "CORTEX_DECLARE(" #name ", " #T "): T has size 0");                    \
    CORTEX__STATIC_ASSERT(sizeof(T) <= CORTEX_CELL_TYPED_MAX_SIZE,                                              \
                          "CORTEX_DECLARE(" #name ", " #T "): T is over 1 MiB (passed by value and updated on "  \
                          "a stack copy); use the cortex_cell_* core for larger values");                       \
    CORTEX__STATIC_ASSERT(CORTEX__ALIGNOF(T) <= CORTEX_MAX_ALIGN,                                               \
                          "CORTEX_DECLARE(" #name ", " #T "): T is aligned beyond CORTEX_MAX_ALIGN");           \
    CORTEX__STATIC_ASSERT(CORTEX__NOT_POINTER(T),                                                               \
                          "CORTEX_DECLARE(" #name ", " #T "): T must be plain data, not a pointer or an array "  \
                          "(a pointer means nothing in another process; wrap an array in a struct)");            \
    typedef struct name {                                                                                       \
        cortex_cell *cell;                                                                                      \
    } name;                                                                                                     \
    struct name##__update {                                                                                     \
        void (*fn)(T *value, void *ctx);                                                                        \
        void *ctx;                                                                                              \
    };                                                                                                          \
    static inline CORTEX__MAYBE_UNUSED void name##__update_tramp(void *value, void *ctx)                        \
    {                                                                                                           \
        struct name##__update *u_ = (struct name##__update *)ctx;                                               \
        u_->fn((T *)value, u_->ctx);                                                                            \
    }                                                                                                           \
    struct name##__update_if {                                                                                  \
        int (*fn)(T *value, void *ctx);                                                                         \
        void *ctx;                                                                                              \
    };                                                                                                          \
    static inline CORTEX__MAYBE_UNUSED int name##__update_if_tramp(void *value, void *ctx)                      \
    {                                                                                                           \
        struct name##__update_if *u_ = (struct name##__update_if *)ctx;                                         \
        return u_->fn((T *)value, u_->ctx);                                                                     \
    }

/*
 * The one generator: every function of instance @name, with linkage
 * @SCOPE and @BODY = CORTEX__BODY_PROTO or CORTEX__BODY_DEFINE.  Ends with a
 * declaration without its ';' so the caller's ';' completes it.
 */
#define CORTEX__CELL_GENERATE(name, T, SCOPE, BODY)                                                              \
    SCOPE int name##_create(name *c, cortex_key key, T init, const cortex_opts *opts)                            \
        BODY(return cortex_cell_create(&c->cell, key, &init, sizeof(T), CORTEX__ALIGNOF(T), #T, opts);)         \
    SCOPE int name##_attach(name *c, cortex_key key, const cortex_opts *opts)                                    \
        BODY(return cortex_cell_attach(&c->cell, key, sizeof(T), CORTEX__ALIGNOF(T), #T, opts);)                \
    SCOPE int name##_read(name *c, T *out) BODY(return cortex_cell__read_(c->cell, out, sizeof(T));)             \
    SCOPE int name##_write(name *c, T value) BODY(return cortex_cell__write_(c->cell, &value, sizeof(T));)      \
    SCOPE int name##_update(name *c, void (*fn)(T *value, void *ctx), void *ctx)                                \
        BODY(struct name##__update u_ = {fn, ctx}; T scratch_;                                                  \
             return cortex_cell_update(c->cell, name##__update_tramp, &u_, &scratch_, sizeof(T));)              \
    SCOPE int name##_read_version(name *c, T *out, uint64_t *version)                                           \
        BODY(return cortex_cell_read_version(c->cell, out, sizeof(T), version);)                                \
    SCOPE int name##_wait(name *c, uint64_t *seen, int64_t timeout_ns)                                          \
        BODY(return cortex_cell_wait(c->cell, seen, timeout_ns);)                                               \
    SCOPE int name##_write_timed(name *c, T value, int64_t timeout_ns)                                          \
        BODY(return cortex_cell_write_timed(c->cell, &value, sizeof(T), timeout_ns);)                           \
    SCOPE int name##_update_timed(name *c, void (*fn)(T *value, void *ctx), void *ctx, int64_t timeout_ns)      \
        BODY(struct name##__update u_ = {fn, ctx}; T scratch_;                                                  \
             return cortex_cell_update_timed(c->cell, fn ? name##__update_tramp : 0, &u_, &scratch_,            \
                                             sizeof(T), timeout_ns);)                                           \
    SCOPE int name##_update_if(name *c, int (*fn)(T *value, void *ctx), void *ctx, int64_t timeout_ns)          \
        BODY(struct name##__update_if u_ = {fn, ctx}; T scratch_;                                               \
             return cortex_cell_update_if(c->cell, fn ? name##__update_if_tramp : 0, &u_, &scratch_,            \
                                          sizeof(T), timeout_ns);)                                              \
    SCOPE int name##_consistent(name *c) BODY(return cortex_cell_consistent(c->cell);)                          \
    SCOPE int name##_close(name *c) BODY(int rc_ = cortex_cell_close(c->cell); c->cell = 0; return rc_;)        \
    SCOPE int name##_leak(name *c) BODY(int rc_ = cortex_cell_leak(c->cell); c->cell = 0; return rc_;)          \
    SCOPE int name##_own(name *c) BODY(return cortex_cell_own(c->cell);)                                        \
    SCOPE cortex_region *name##_region(const name *c) BODY(return cortex_cell_region(c->cell);)                 \
    CORTEX__STATIC_ASSERT(sizeof(struct name) == sizeof(cortex_cell *), "CORTEX_DECLARE(" #name "): handle size")

/** A typed cell of @p T: static inline wrappers named name_* (see the table above). */
#define CORTEX_DECLARE(name, T)                                                                                  \
    CORTEX__CELL_TYPES(name, T)                                                                                  \
    CORTEX__CELL_GENERATE(name, T, static inline CORTEX__MAYBE_UNUSED, CORTEX__BODY_DEFINE)

/** Declarations only (in a header): the functions are defined once by CORTEX_DEFINE(name, T). */
#define CORTEX_PROTOTYPE(name, T)                                                                                \
    CORTEX__CELL_TYPES(name, T)                                                                                  \
    CORTEX__CELL_GENERATE(name, T, extern, CORTEX__BODY_PROTO)

/** The exported definitions for a CORTEX_PROTOTYPE(name, T) (in exactly one .c file). */
#define CORTEX_DEFINE(name, T) CORTEX__CELL_GENERATE(name, T, , CORTEX__BODY_DEFINE)

#endif
