/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/seg.h: finding and reading the segments on this host for
 * the `neocortex` command-line tool.
 *
 * Every byte read from a segment is treated as hostile: headers are read
 * into a private copy (pread for POSIX names, a read-only shmat for SysV
 * segments) and validated with cortex_header_validate() before any field
 * is believed.
 */
#ifndef NC_SEG_H
#define NC_SEG_H

#include "internal.h"

#include <neocortex/error.h>
#include <neocortex/region.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Longest POSIX shm name we handle (NAME_MAX), plus '/' and NUL. */
#define NC_NAME_LEN 258

typedef enum nc_backing {
    NC_SYSV = 1,  /* SysV shared memory, found through /proc/sysvipc/shm */
    NC_POSIX = 2  /* POSIX shm name, found in /dev/shm */
} nc_backing;

typedef enum nc_status {
    NC_OURS = 0,      /* valid neocortex header */
    NC_CORRUPT = 1,   /* our magic, but the header does not validate */
    NC_FOREIGN = 2,   /* not a neocortex segment */
    NC_UNREADABLE = 3 /* exists, but we may not read it */
} nc_status;

typedef struct nc_seg {
    nc_backing backing;
    int32_t key;               /* SysV key */
    int shmid;                 /* SysV id */
    char name[NC_NAME_LEN];    /* POSIX: "/name" */
    char id[NC_NAME_LEN + 16]; /* display: "0x0000abcd" or "/name" */
    uint64_t size;             /* bytes of the kernel object */
    uint64_t ino;              /* POSIX: inode in /dev/shm */
    long attached;             /* SysV nattch, POSIX processes mapping it; -1 = unknown */
    uid_t uid;
    unsigned mode;             /* permission bits */
    nc_status status;
    char problem[CORTEX_ERROR_MESSAGE_MAX]; /* why CORRUPT/FOREIGN/UNREADABLE */
    cortex_seg_header hdr;     /* private copy (valid for OURS; raw bytes for CORRUPT) */
    bool have_hdr;             /* at least sizeof(hdr) bytes were read */
    bool creator_alive; /* not certainly dead (gc spares it) */
    bool owner_alive;
    cortex__liveness creator_verdict; /* alive / dead / unknown (lib/os/proc.c) */
    cortex__liveness owner_verdict;
} nc_seg;

typedef struct nc_list {
    nc_seg *v;
    size_t n, cap;
    unsigned unreadable_sysv;  /* segments we may not read (other users) */
    unsigned unreadable_posix;
    bool sysv_listed;          /* /proc/sysvipc/shm was readable */
    bool posix_listed;         /* /dev/shm was readable */
    bool maps_partial;         /* some /proc/PID/maps could not be read */
} nc_list;

/* Every SysV segment and /dev/shm entry on the host (ours, corrupt, foreign, unreadable). */
int nc_scan(nc_list *out);
/* Only the entries whose id ("0x0000abcd", "/name"; names also without '/') matches a glob; n = 0: all. */
int nc_scan_match(nc_list *out, const char *const *globs, size_t n);
void nc_list_free(nc_list *l);

/*
 * Parses a command-line key: "/name" (POSIX), a number (SysV key, decimal,
 * 0x hex or negative as /proc prints it), or "name" (POSIX, '/' added).
 * Returns 0 or -EINVAL.
 */
int nc_parse_target(const char *arg, nc_backing *backing, int32_t *key, char name[NC_NAME_LEN]);

/* Finds and reads one segment.  0, -ENOENT, or another -errno (message in problem). */
int nc_lookup(nc_backing backing, int32_t key, const char *name, nc_seg *out);

/* Removes the kernel object (and for SysV a semaphore under the same key). 0 or -errno; *sem_removed set. */
int nc_remove(const nc_seg *s, bool *sem_removed);

/*
 * Removes a segment through its kind when the kernel objects it owns are
 * known only from inside it (a cell under a POSIX name with a semaphore
 * lock).  0 (done), -ENOTSUP (not such a segment: remove it directly), or
 * another -errno.
 */
int nc_remove_with_lock(const nc_seg *s, bool *sem_removed);

/* Copies a string from shared bytes, replacing anything unprintable: out has room for len+1. */
void nc_printable(const char *in, size_t len, char *out);

/* Human-readable sizes and ages into buf. */
const char *nc_fmt_size(uint64_t bytes, char *buf, size_t len);
const char *nc_fmt_age(int64_t ns, char *buf, size_t len);

/* Lock backend id as a word ("none", "futex", "semaphore", "id N"). */
const char *nc_lock_name(uint32_t id, char *buf, size_t len);

/* Writes a JSON string literal. */
void nc_json_str(FILE *f, const char *s);

/*
 * The kind's live state (cell, ring, slab), printed after the header by
 * `show`.  Attaches through the library (after the header validated).
 * Returns 0, or a negative errno when the state could not be read
 * (reported, not fatal).
 */
int nc_show_kind(const nc_seg *s, FILE *f, bool json);

/*
 * One reading of a segment's counters for `top`: what the kind's read-only
 * inspector returned, copied out of the segment (every field already
 * range-checked by the inspector).
 */
/* Reader entries a broadcast sample keeps (CORTEX_BROADCAST_MAX_READERS). */
#define NC_TOP_READERS 64

typedef struct nc_sample {
    int rc;            /* 0; -errno when nothing (or, a ring: not everything) could be read */
    char why[CORTEX_ERROR_MESSAGE_MAX + 64]; /* what went wrong when rc < 0 */
    bool have;         /* the counters of the kind below were read */
    /* ring */
    uint32_t capacity;
    uint64_t prod, cons, fill;
    bool indices_ok;   /* cons <= prod <= cons + capacity */
    /* cell */
    uint64_t sequence;
    bool consistent;
    /* slab, pool */
    uint32_t slots, allocated, in_flight, free, high_water;
    uint64_t failed;
    /* broadcast (capacity above): the writer and every held reader entry */
    uint64_t head;     /* elements published */
    bool lossy, closed, writer_alive;
    int32_t writer_pid;
    uint32_t readers, max_readers;
    uint64_t max_lag;  /* the slowest held entry's lag */
    struct nc_sample_reader {
        uint32_t entry;
        int32_t pid;
        bool alive;
        uint64_t cursor, lag;
    } reader[NC_TOP_READERS];
} nc_sample;

/*
 * Reads the counters of a cell, ring, slab, pool or broadcast ring whose header validated,
 * attached through the library under the same fault guard as `show`.
 * Returns out->rc.
 */
int nc_sample_kind(const nc_seg *s, nc_sample *out);

/* `neocortex top`: options parsed by main.c. */
typedef struct nc_top_opts {
    bool json;
    double interval_s;          /* > 0 */
    long iterations;            /* frames to print; 0: until interrupted */
    const char *const *globs;
    size_t nglobs;
} nc_top_opts;

/* Runs `top`; returns the exit status. */
int nc_top(const nc_top_opts *o);

#endif
