/* SPDX-License-Identifier: MIT */
/*
 * lib/os/os.h: the platform interface.  Every system call that is not plain
 * POSIX goes through one of these functions; each platform has one file
 * (linux.c, darwin.c, freebsd.c; absent.c answers what a non-Linux
 * platform lacks) and the portable
 * fallbacks live in posix.c, beside which each platform file calls them when
 * its own call is missing, refused, or forced off (cortex__os_force()).
 * tools/check-platform-calls.sh fails the build suite if a platform call
 * appears anywhere else.
 */
#ifndef NEOCORTEX_LIB_OS_H
#define NEOCORTEX_LIB_OS_H

#include "internal.h"
#include "atomic.h"

#include <stdbool.h>
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

/*
 * Fallbacks that can be forced on Linux, so the other platforms' logic runs
 * in CI here: at build time with -Dforce_fallback=[...] (the build's
 * default), at run time by tests through cortex__os_force().
 */
enum {
    CORTEX__OS_NO_FUTEX = 1u << 0,      /* waits poll with short sleeps (macOS, other Unix) */
    CORTEX__OS_NO_MEMFD = 1u << 1,      /* memfd keys: an unlinked, unsealable shm object (macOS) */
    CORTEX__OS_NO_MEMBARRIER = 1u << 2, /* rings use real fences on both sides */
    CORTEX__OS_NO_PROC_START = 1u << 4, /* no /proc start time: kill(pid, 0) only (unknown, or dead on ESRCH) */
    CORTEX__OS_NO_FALLOCATE = 1u << 5,  /* shm sized with ftruncate only (FreeBSD refuses posix_fallocate on shm) */
    CORTEX__OS_NO_FUTEX_WAITV = 1u << 6, /* waitsets take their fallback path (kernels before 5.16) */
};
/* The fallbacks in force now. */
unsigned cortex__os_forced(void);
/* Tests only: replaces the forced set (the build's -Dforce_fallback default until then). */
void cortex__os_force(unsigned mask);
static inline bool cortex__os_no(unsigned what) { return (cortex__os_forced() & what) != 0; }

/* ---- platform files (linux.c; darwin.c, freebsd.c with absent.c) -------- */

/* Random bytes from the platform's own call; -ENOSYS sends cortex__random() to /dev/urandom. */
int cortex__os_getrandom(void *buf, size_t len);
/* shm_open() with close-on-exec set however the platform allows it.  fd or -errno. */
int cortex__os_shm_open(const char *name, int oflag, unsigned mode);
/* Is an fstat() st_mode that of a segment (a shm object or a regular file)? */
bool cortex__os_segment_mode(unsigned st_mode);
/* Sets the mode bits of a new shm object or file (umask undone).  0 or -errno. */
int cortex__os_set_mode(int fd, unsigned mode);
/*
 * Gives a new shm object or file @size bytes and reserves them where the
 * platform can (a full /dev/shm is -ENOSPC now, not SIGBUS later).  0 or
 * -errno with *call naming the call that failed.
 */
int cortex__os_size_fd(int fd, uint64_t size, const char **call);
/*
 * An anonymous segment fd of @size bytes, sealed against resizing where the
 * platform can seal (*sealed says whether it is).  fd or -errno, *call
 * naming the failed call.
 */
int cortex__os_memfd(const char *name, uint64_t size, bool *sealed, const char **call);
/* Is @fd sealed against shrinking?  1 yes, 0 no, -ENOTSUP it cannot be sealed, other -errno. */
int cortex__os_fd_sealed(int fd);
/* Registers this process for expedited global memory barriers.  false: use fences. */
bool cortex__os_membarrier_register(void);
/* A barrier on every running thread of every registered process.  0 or -errno. */
int cortex__os_membarrier(void);
/*
 * Reads up to @max seqpacket messages without blocking, message i's first
 * @size bytes into @bufs + i * @size and its length into @lens[i] (fds that
 * came with one are closed by the kernel).  > 0 messages read (*eof: an end
 * of file followed them), 0 end of file, -EAGAIN none queued, other -errno.
 * -ENOSYS: no batch read here (recv one at a time).
 */
int cortex__os_recv_batch(int fd, int max, void *bufs, size_t size, size_t *lens, bool *eof);
/* A close-on-exec, non-blocking eventfd (the doorbell's fast wake, Linux).  fd or -errno; -ENOSYS elsewhere. */
int cortex__os_eventfd(void);
/* Is @fd an eventfd?  1 yes, 0 no, -errno cannot tell. */
int cortex__os_is_eventfd(int fd);
/*
 * A close-on-exec wait set (epoll) holding @edge_fd edge-triggered (never
 * read to clear it) and @level_fd level-triggered, reported as @edge_tag and
 * @level_tag.  fd or -errno; -ENOSYS where there is none.
 */
int cortex__os_wait_set(int edge_fd, uint32_t edge_tag, int level_fd, uint32_t level_tag);
/* Waits up to @ms (-1: forever) on @set; the tags of up to @max ready fds into @tags.  count, or -errno (-EINTR). */
int cortex__os_wait_set_wait(int set, uint32_t *tags, int max, int ms);
/* Most words one cortex__os_futex_waitv() call takes (the kernel's limit). */
#define CORTEX__OS_WAITV_MAX 128
/*
 * Sleeps until one of @n (<= CORTEX__OS_WAITV_MAX) shared 32-bit futex words
 * is woken, or up to @timeout_ns (< 0: forever), if every words[i] still
 * holds vals[i] (futex_waitv, Linux 5.16+).  The index of a woken word,
 * -EAGAIN (a word already differed), -ETIMEDOUT, -EINTR; -ENOSYS where
 * there is no such call (older kernel, other platform, or forced off).
 */
int cortex__os_futex_waitv(cortex__a32 *const *words, const uint32_t *vals, unsigned n, int64_t timeout_ns);
/* accept() with close-on-exec set.  fd or -errno. */
int cortex__os_accept(int listen_fd);
/* semtimedop() with a relative timeout.  0, -errno; -ENOSYS where there is none (callers poll). */
int cortex__os_semtimedop(int semid, struct sembuf *op, int64_t timeout_ns);
/* The SysV key of an IPC object from its ipc_perm (a private field).  0, or -ENOSYS if not shown. */
int cortex__os_ipc_key(const struct ipc_perm *perm, int32_t *key);
/*
 * Start time (boot ticks, as cortex__boot_ticks()) and run state ('Z' for
 * a zombie, 'R' otherwise) of @pid from a source other than /proc (sysctl,
 * proc_pidinfo).  0, -ESRCH no such process, -ENOSYS no such source.
 */
int cortex__os_pid_info(pid_t pid, char *state, uint64_t *start);

/* lib/os/proc.c: clock ticks per second of start times and stamps; a wall-clock time in boot ticks. */
uint64_t cortex__ticks_per_sec(void);
uint64_t cortex__wall_to_ticks(int64_t wall_ns);

/*
 * Listing what is in the system (tools/inspect): the SysV segment table as
 * text lines (/proc/sysvipc/shm), the directory of POSIX names (/dev/shm)
 * and its path as mappings show it, the list of processes (/proc) and one
 * process's mappings (/proc/PID/maps).  NULL / -errno where the platform
 * has none: -ENOSYS (macOS and FreeBSD keep no such files), the tool then
 * says what it could not list.
 */
FILE *cortex__os_sysv_table(void);
int cortex__os_shm_dir_open(void);
const char *cortex__os_shm_dir(void);
DIR *cortex__os_proc_list(void);
FILE *cortex__os_proc_maps(pid_t pid);

/* ---- portable fallbacks (posix.c), also used when a call is forced off --- */

int cortex__os_poll_wait(cortex__a32 *addr, uint32_t expected, int64_t timeout_ns);
int cortex__os_shm_open_posix(const char *name, int oflag, unsigned mode);
int cortex__os_size_fd_posix(int fd, uint64_t size, bool reserve, const char **call);
int cortex__os_anon_shm(uint64_t size, const char **call);
int cortex__os_accept_posix(int listen_fd);
int cortex__os_seal_memfd(int fd, uint64_t size, bool *sealed, const char **call);
int cortex__os_fd_sealed_posix(int fd);

#endif
