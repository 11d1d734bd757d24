/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/opts.h
 * @brief Options for creating and attaching segments (::cortex_opts).
 *
 * A NULL `const cortex_opts *` means all defaults, and so does a
 * zero-initialised struct (`cortex_opts o = {0};` or CORTEX_OPTS_INIT):
 * create-exclusive, owner-only permissions (0600), the build's default
 * lock backend, a 2 s attach timeout, `#T` as the type tag, and a file
 * that is removed when its owner closes it.
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
} cortex_opts;

/** A zero initialiser for ::cortex_opts: every field at its default. */
#define CORTEX_OPTS_INIT {CORTEX_CREATE_EXCL, 0, 0, 0, 0, CORTEX_FILE_REMOVE}

/** Default attach timeout in nanoseconds (2 s). */
#define CORTEX_DEFAULT_ATTACH_TIMEOUT_NS INT64_C(2000000000)

CORTEX_END_DECLS

#endif
