/* SPDX-License-Identifier: MIT */
/**
 * @file neocortex/region.h
 * @brief Segments: create, attach, validate, own, leak, close.
 *
 * A region is one mapped segment that starts with a ::cortex_seg_header.
 * Cells, rings and slabs are built on regions; applications can also use a
 * region directly for raw bytes (kind CORTEX_KIND_RAW).
 *
 * Life cycle: the creator maps the segment, writes the header, lets the
 * caller's init function fill the payload, and only then publishes READY
 * (release store).  An attacher waits for READY (bounded by
 * cortex_opts::attach_timeout_ns), copies the header, checks every field
 * against what it expects and against the real size of the mapping, and
 * only then hands out the payload.
 *
 * Ownership: the creator owns the segment; cortex_region_close() on an
 * owner removes the kernel object (shm_unlink, IPC_RMID, unlink for files
 * created with CORTEX_FILE_REMOVE); on an attacher it only unmaps.
 * cortex_region_leak() unmaps and leaves the object; cortex_region_own()
 * makes an attached handle the owner (the previous owner's close then only
 * detaches).
 */
#ifndef NEOCORTEX_REGION_H
#define NEOCORTEX_REGION_H

#include <neocortex/export.h>
#include <neocortex/key.h>
#include <neocortex/opts.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

CORTEX_BEGIN_DECLS

/** "NEOCTX01" read as a little-endian 64-bit number. */
#define CORTEX_MAGIC UINT64_C(0x31305854434f454e)
/** Version of the segment layout this build writes and accepts. */
#define CORTEX_LAYOUT_VERSION 1u
/** Size of ::cortex_seg_header; payloads start at or after it. */
#define CORTEX_HEADER_SIZE 256u
/** Largest payload alignment a segment can ask for. */
#define CORTEX_MAX_ALIGN 4096u
/** Bytes of the type spelling kept in the header (for messages). */
#define CORTEX_TYPE_TAG_MAX 64u

/** What a segment holds. */
typedef enum cortex_kind {
    CORTEX_KIND_RAW = 1,  /**< Bytes for the application. */
    CORTEX_KIND_CELL = 2, /**< A typed cell (neocortex/cell.h). */
    CORTEX_KIND_RING = 3, /**< An SPSC ring (neocortex/ring.h). */
    CORTEX_KIND_SLAB = 4, /**< A slab (neocortex/slab.h). */
    CORTEX_KIND_POOL = 5, /**< Size-class slabs in one segment. */
    CORTEX_KIND_CHANNEL = 6 /**< A zero-copy channel: slabs plus a ring of handles (neocortex/channel.h). */
} cortex_kind;

/** cortex_seg_header::state values. */
enum {
    CORTEX_STATE_INIT = 0,  /**< Creator still filling the segment. */
    CORTEX_STATE_READY = 1, /**< Complete: attachers may use it. */
    CORTEX_STATE_FAILED = 2 /**< Creator gave up; the segment is being removed. */
};

/**
 * The first 256 bytes of every segment.  Fixed-width fields only; the same
 * bytes mean the same thing to 32- and 64-bit processes.  Bytes [0, 156)
 * are immutable after READY and covered by cortex_seg_header::check (the
 * creator identity at [172, 196) too, written before READY and covered by
 * cortex_seg_header::ident_check);
 * cortex_seg_header::state, cortex_seg_header::owner_pid and
 * cortex_seg_header::owner_token change at run time and are accessed atomically.
 */
typedef struct cortex_seg_header {
    uint64_t magic;          /**< CORTEX_MAGIC. */
    uint32_t version;        /**< CORTEX_LAYOUT_VERSION. */
    uint32_t header_size;    /**< CORTEX_HEADER_SIZE. */
    uint32_t kind;           /**< ::cortex_kind. */
    uint32_t payload_align;  /**< Alignment of the payload (power of two). */
    uint64_t segment_size;   /**< Bytes the creator sized the segment to. */
    uint64_t payload_offset; /**< Payload start, from the segment's start. */
    uint64_t payload_size;   /**< Payload bytes. */
    uint32_t elem_size;      /**< sizeof(T) of the element/value type (0: none). */
    uint32_t elem_align;     /**< _Alignof(T) (0: none). */
    uint64_t type_hash;      /**< FNV-1a 64 of the type tag (0: none). */
    char type_tag[CORTEX_TYPE_TAG_MAX]; /**< The tag, NUL-padded (may be truncated). */
    uint32_t lock_id;        /**< Lock backend id (0: none). */
    int32_t creator_pid;     /**< pid of the creating process. */
    uint64_t creator_start;  /**< That process's start time (pid-reuse check). */
    uint64_t created_ns;     /**< CLOCK_REALTIME at creation, in ns. */
    uint32_t flags;          /**< CORTEX_HDR_* bits (immutable). */
    uint32_t check;          /**< FNV-1a 32 of bytes [0, 156). */
    uint32_t state;          /**< CORTEX_STATE_* (atomic). */
    int32_t owner_pid;       /**< pid of the owning process (atomic; changes on own). */
    uint32_t owner_token;    /**< Random token of the owning handle: this one word decides who owns it (atomic). */
    uint32_t ident_check;    /**< FNV-1a 32 of bytes [176, 196) (creator_pidns to creator_stamp); 0 with those all zero (a creator that did not record them). */
    uint64_t creator_pidns;  /**< Inode of the creator's pid namespace (0: unknown).  pids in the segment mean processes of that namespace. */
    uint64_t creator_boot;   /**< Hash of the creator's boot id (0: unknown).  Its pids mean nothing after a reboot. */
    uint32_t creator_stamp;  /**< Boot time (clock ticks, low 32 bits) at which the creator ran under creator_pid (0: unknown). */
    uint8_t reserved[60];    /**< Zero. */
} cortex_seg_header;

/** cortex_seg_header::flags: a CORTEX_KEY_FILE segment is kept when its owner closes it. */
#define CORTEX_HDR_KEEP_FILE 1u
/** Every flag this layout version defines; others make the header corrupt. */
#define CORTEX_HDR_KNOWN_FLAGS CORTEX_HDR_KEEP_FILE

/** What a caller wants in a segment (create) or expects of one (attach). */
typedef struct cortex_layout {
    uint32_t kind;          /**< ::cortex_kind (required). */
    uint64_t payload_size;  /**< Create: bytes needed.  Attach: 0 = any, else must match. */
    uint32_t payload_align; /**< Create: power of two <= CORTEX_MAX_ALIGN (0 = 64). */
    uint32_t elem_size;     /**< sizeof(T); attach: 0 = do not check. */
    uint32_t elem_align;    /**< _Alignof(T); attach: 0 = do not check. */
    const char *type_name;  /**< Type spelling/tag; attach: NULL = do not check. */
    uint32_t lock_id;       /**< Lock backend id; attach: 0 = do not check. */
} cortex_layout;

/** A mapped segment (opaque). */
typedef struct cortex_region cortex_region;

/**
 * Called by the creator with the zeroed payload before READY is published.
 * Return 0, or a negative errno to abandon the create (the segment is removed).
 */
typedef int (*cortex_region_init_fn)(cortex_region *region, void *payload, void *ctx);

/**
 * Creates (or with CORTEX_OPEN_OR_CREATE possibly attaches to) a segment.
 *
 * @param ret     receives the region, only on success.
 * @param key     where: any key kind but FD (use attach for an fd).
 * @param layout  what to put in it.
 * @param opts    NULL for defaults.
 * @param init    fills the payload before READY (may be NULL).
 * @param ctx     passed to @p init.
 * @return 0; -EEXIST (exclusive and it exists), -ENOENT (attach-only and it
 *         does not), -EINVAL (bad key/layout), -ENAMETOOLONG, -ENOSPC (no
 *         room: checked here, never a SIGBUS later), -EFBIG (larger than
 *         this process can map), -EACCES (or open-or-create found a segment
 *         it does not trust: see cortex_region_attach()), -EPROTO or
 *         -EBADMSG (open-or-create found an incompatible segment), or what
 *         @p init returned.  A failed create removes what it made (a file
 *         too, whatever cortex_opts::file_policy says); if that removal
 *         fails the error is dirty.  Open-or-create that finds a segment
 *         whose creator died before READY removes exactly that object and
 *         creates it anew.
 */
CORTEX_API CORTEX_NODISCARD int cortex_region_create(cortex_region **ret, cortex_key key,
                                                     const cortex_layout *layout,
                                                     const cortex_opts *opts,
                                                     cortex_region_init_fn init, void *ctx);

/**
 * Attaches to an existing segment and validates it against @p expect.
 *
 * Before mapping it checks the kernel object: owned (SysV: owner and
 * creator) by the caller's effective uid unless cortex_opts::trust accepts
 * another, mode bits no wider than cortex_opts::perm (0600 when 0), a file
 * key not a symbolic link (O_NOFOLLOW) and with one link, an fd key sealed
 * against shrinking unless ::CORTEX_TRUST_UNSEALED_FD.
 *
 * @return 0; -ENOENT (no such key), -EACCES (permission denied, or an
 *         owner, mode, link or unsealed fd this call does not trust: the
 *         message names what was found), -EFBIG (larger than this process
 *         can map), -ETIMEDOUT (never became READY: creator slow or dead,
 *         the message says which), -EPROTO (another kind, version, type,
 *         size or lock), -EBADMSG (corrupt or foreign header, segment
 *         smaller than its header says), -EXDEV (a ring, slab or pool made
 *         in another pid namespace or before a reboot: the pids it records
 *         would name other processes here).
 */
CORTEX_API CORTEX_NODISCARD int cortex_region_attach(cortex_region **ret, cortex_key key,
                                                     const cortex_layout *expect,
                                                     const cortex_opts *opts);

/**
 * Closes @p region: the owner removes the segment, an attacher detaches.
 * NULL is accepted.  Always frees the handle.
 * @return 0, or a negative errno if removing failed (dirty: reported in
 *         cortex_last_error() and to the log hook).
 */
CORTEX_API int cortex_region_close(cortex_region *region);

/** Detaches and leaves the segment in the system; frees the handle.  NULL: -EINVAL. */
CORTEX_API int cortex_region_leak(cortex_region *region);

/**
 * Makes this handle the owner: its close will remove the segment, and the
 * previous owner's close will only detach.  -EINVAL for NULL; a heap region
 * is always owned by its only handle (0).
 */
CORTEX_API int cortex_region_own(cortex_region *region);

/** Start of the payload in this process's mapping. */
CORTEX_API void *cortex_region_payload(const cortex_region *region);
/** Payload bytes (validated against the mapping). */
CORTEX_API uint64_t cortex_region_payload_size(const cortex_region *region);
/** The segment's header in this process's mapping (shared memory: copy before trusting). */
CORTEX_API const cortex_seg_header *cortex_region_header(const cortex_region *region);
/** true if closing this handle removes the segment. */
CORTEX_API bool cortex_region_is_owner(const cortex_region *region);
/** true if this handle created the segment (false if it attached). */
CORTEX_API bool cortex_region_created(const cortex_region *region);
/**
 * The segment's key: for CORTEX_KEY_SYSV_PRIVATE the key that was picked,
 * for MEMFD a CORTEX_KEY_FD of the region's own fd.  String keys point into
 * the region (valid until close).
 */
CORTEX_API cortex_key cortex_region_key(const cortex_region *region);
/** The fd behind the mapping (POSIX name, memfd, file, fd), or -1 (SysV, heap). */
CORTEX_API int cortex_region_fd(const cortex_region *region);

/** FNV-1a 64 of a type tag: the hash stored in cortex_seg_header::type_hash. */
CORTEX_API uint64_t cortex_type_hash(const char *tag);

/**
 * Validates a header copy against a mapping of @p mapped bytes and an
 * expectation (@p expect may be NULL: structure only).  Used by attach; also
 * by tools that inspect foreign segments.  Never reads past @p hdr.
 * @return 0, -EBADMSG or -EPROTO with cortex_last_error() naming the field.
 */
CORTEX_API int cortex_header_validate(const cortex_seg_header *hdr, uint64_t mapped,
                                      const cortex_layout *expect, const char *what);

/** Name of a ::cortex_kind ("cell", "ring", ...), "unknown" otherwise. */
CORTEX_API const char *cortex_kind_name(uint32_t kind);

CORTEX_END_DECLS

#endif
