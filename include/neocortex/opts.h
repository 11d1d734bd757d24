/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/opts.h
 * @brief Options for creating and attaching segments (::cortex_opts).
 *
 * A NULL `const cortex_opts *` means all defaults, and so does a
 * zero-initialised struct (`cortex_opts o = {0};` or CORTEX_OPTS_INIT):
 * create-exclusive, owner-only permissions (0600), the build's default
 * lock backend, a 2 s attach timeout, `#T` as the type tag, a file
 * that is removed when its owner closes it, and a segment made by someone
 * else accepted only if the caller's own uid owns it with mode bits no
 * wider than cortex_opts::perm (see ::CORTEX_TRUST_OTHER_UID).
 */
#ifndef NEOCORTEX_OPTS_H
#define NEOCORTEX_OPTS_H

#include <neocortex/export.h>
#include <stdint.h>

CORTEX_BEGIN_DECLS

struct cortex_sync_ops;

/** What create does when the key exists or not. */
typedef enum cortex_create_mode {
    CORTEX_CREATE_EXCL = 0,     /**< Create; -EEXIST if the key exists (default). */
    CORTEX_OPEN_OR_CREATE = 1,  /**< Attach if it exists, create otherwise. */
    CORTEX_ATTACH_ONLY = 2      /**< Attach; -ENOENT if it does not exist. */
} cortex_create_mode;

/** Permission presets; any other mode bits (e.g. 0640) are accepted too. */
enum {
    CORTEX_PERM_DEFAULT = 0,      /**< 0 means owner only. */
    CORTEX_PERM_OWNER = 0600,     /**< Owner read/write (the default). */
    CORTEX_PERM_GROUP = 0660,     /**< Owner and group. */
    CORTEX_PERM_EVERYBODY = 0666  /**< Everybody. */
};

/** What happens to a CORTEX_KEY_FILE file when its owner closes it. */
typedef enum cortex_file_policy {
    CORTEX_FILE_REMOVE = 0, /**< unlink() the file on the owner's close (default). */
    CORTEX_FILE_KEEP = 1    /**< Leave the file in place. */
} cortex_file_policy;

/**
 * What attach (and create when it finds an existing segment) accepts beyond
 * the default, as bits of cortex_opts::trust.  By default a segment this
 * call did not make must be owned by the caller's effective uid (for SysV:
 * owner and creator), with mode bits no wider than cortex_opts::perm
 * (0600 when 0), and so must a cell's SysV semaphore; anything else is
 * -EACCES naming the owner and mode found.  An fd key must be sealed
 * against shrinking (F_SEAL_SHRINK), or it is -EACCES.
 */
enum {
    /** Trust only what was checked (the default). */
    CORTEX_TRUST_NONE = 0,
    /** Also accept segments (and semaphores) owned by cortex_opts::trusted_uid. */
    CORTEX_TRUST_OTHER_UID = 1u << 0,
    /** Accept segments owned by any uid (the mode check still applies). */
    CORTEX_TRUST_ANY_UID = 1u << 1,
    /**
     * Accept an fd key that is not sealed against shrinking: "I trust the
     * sender".  A sender that then truncates it makes this process SIGBUS
     * when it touches the lost pages.
     */
    CORTEX_TRUST_UNSEALED_FD = 1u << 2
};

/** Options for create and attach.  Zero means default for every field. */
typedef struct cortex_opts {
    /** Create mode (ignored by attach). */
    cortex_create_mode mode;
    /** Permission bits for the segment and its semaphore; 0 = 0600. */
    unsigned perm;
    /** Lock backend; NULL = the segment's on attach, the build's default on create. */
    const struct cortex_sync_ops *lock;
    /** How long attach waits for a creator to publish READY: 0 = 2 s, <0 = forever. */
    int64_t attach_timeout_ns;
    /** Overrides the `#T` spelling in the type signature (NULL: use `#T`). */
    const char *type_tag;
    /** For CORTEX_KEY_FILE segments, chosen at create and kept in the header: every later
     *  owner (after own()) follows the creator's choice; ignored by attach. */
    cortex_file_policy file_policy;
    /** CORTEX_TRUST_* bits: what an existing segment may be beyond the default (0: owner only). */
    unsigned trust;
    /** With ::CORTEX_TRUST_OTHER_UID: the one other uid whose segments are accepted. */
    uint32_t trusted_uid;
} cortex_opts;

/** A zero initialiser for ::cortex_opts: every field at its default. */
#define CORTEX_OPTS_INIT {CORTEX_CREATE_EXCL, 0, 0, 0, 0, CORTEX_FILE_REMOVE, 0, 0}

/** Default attach timeout in nanoseconds (2 s). */
#define CORTEX_DEFAULT_ATTACH_TIMEOUT_NS INT64_C(2000000000)

CORTEX_END_DECLS

#endif
