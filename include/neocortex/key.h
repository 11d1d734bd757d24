/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/key.h
 * @brief How a segment is found: SysV key, POSIX name, passed fd, file, memfd, heap.
 *
 * A ::cortex_key is a small value passed by value.  Build it with the
 * CORTEX_KEY_* macros, which are expressions of type ::cortex_key in C and
 * C++.  String keys point at the caller's string, which must outlive the
 * create/attach call (the library copies what it keeps).
 */
#ifndef NEOCORTEX_KEY_H
#define NEOCORTEX_KEY_H

#include <neocortex/export.h>
#include <stdint.h>

CORTEX_BEGIN_DECLS

/** Which kind of backing a key names. */
typedef enum cortex_key_kind {
    CORTEX_KEYKIND_NONE = 0,     /**< Not a key (zero-initialised). */
    CORTEX_KEYKIND_SYSV,         /**< SysV shared memory, integer key (shmget). */
    CORTEX_KEYKIND_SYSV_PRIVATE, /**< SysV, a fresh key chosen at create time. */
    CORTEX_KEYKIND_NAME,         /**< POSIX shm_open name, "/like-this". */
    CORTEX_KEYKIND_FD,           /**< An fd already open (memfd, passed or inherited). */
    CORTEX_KEYKIND_FILE,         /**< A regular file mapped shared. */
    CORTEX_KEYKIND_MEMFD,        /**< A new anonymous memfd (Linux); pass its fd on. */
    CORTEX_KEYKIND_HEAP          /**< Process-private heap memory (tests, raw use). */
} cortex_key_kind;

/** A segment's address.  Build with the CORTEX_KEY_* macros. */
typedef struct cortex_key {
    cortex_key_kind kind; /**< Which backing. */
    int32_t sysv;         /**< SYSV: the key (never 0 = IPC_PRIVATE). */
    int fd;               /**< FD: the descriptor (the library dup()s it). */
    const char *str;      /**< NAME/FILE: the name or path; MEMFD: a debug name. */
} cortex_key;

/** Longest POSIX shm name accepted, excluding the leading '/' (Linux NAME_MAX; macOS PSHMNAMLEN 31 counts the '/'). */
#ifdef __APPLE__
#define CORTEX_NAME_MAX 30
#else
#define CORTEX_NAME_MAX 255
#endif

static inline cortex_key cortex_key_make_(cortex_key_kind kind, int32_t sysv, int fd, const char *str)
{
    cortex_key k;
    k.kind = kind;
    k.sysv = sysv;
    k.fd = fd;
    k.str = str;
    return k;
}

/** SysV shared memory under integer key @p k (0 is refused: it means IPC_PRIVATE). */
#define CORTEX_KEY_SYSV(k) cortex_key_make_(CORTEX_KEYKIND_SYSV, (int32_t)(k), -1, (const char *)0)
/**
 * SysV shared memory under a fresh key the creator picks (random, never 0,
 * never an existing key).  Read it back with cortex_region_key() and hand it on.
 */
#define CORTEX_KEY_SYSV_PRIVATE cortex_key_make_(CORTEX_KEYKIND_SYSV_PRIVATE, 0, -1, (const char *)0)
/** POSIX shared memory object @p name ("/telemetry"; at most CORTEX_NAME_MAX bytes after '/'). */
#define CORTEX_KEY_NAME(name) cortex_key_make_(CORTEX_KEYKIND_NAME, 0, -1, (name))
/** An open fd that refers to a segment (attach only; the library dup()s it). */
#define CORTEX_KEY_FD(fd) cortex_key_make_(CORTEX_KEYKIND_FD, 0, (fd), (const char *)0)
/** A regular file at @p path, mapped shared; see cortex_opts::file_policy. */
#define CORTEX_KEY_FILE(path) cortex_key_make_(CORTEX_KEYKIND_FILE, 0, -1, (path))
/** A new anonymous memfd (create only; Linux).  @p debug_name shows in /proc. */
#define CORTEX_KEY_MEMFD(debug_name) cortex_key_make_(CORTEX_KEYKIND_MEMFD, 0, -1, (debug_name))
/** Private heap memory: one process only, for tests and raw use (create only). */
#define CORTEX_KEY_HEAP cortex_key_make_(CORTEX_KEYKIND_HEAP, 0, -1, (const char *)0)

/**
 * Writes a human-readable form of @p key ("SysV key 0x00001234",
 * "POSIX name /x", "fd 5", ...) into @p buf of @p len bytes.
 * @return @p buf.
 */
CORTEX_API const char *cortex_key_describe(cortex_key key, char *buf, unsigned len);

CORTEX_END_DECLS

#endif
