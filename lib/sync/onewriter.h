/* SPDX-License-Identifier: MIT */
/*
 * lib/sync/onewriter.h: the one-writer cell backend's role record
 * (internal; lib/sync/onewriter.c, used by lib/cell/cell.c).
 *
 * A one-writer cell has no lock: its writes are a single-writer seqlock
 * (lib/cell/seqlock.h, cortex__cell_write_one).  What keeps a second writer
 * out is the writer ROLE, recorded in the backend's bytes of the segment:
 *
 *   holder  (stamp << 32) | pid of the handle's process that holds the
 *           role, 0 = free.  One CAS claims it with the whole identity
 *           (the pid and the stamp that lib/os/proc.c's verdict needs
 *           against pid reuse), so there is no half-written claim.
 *   image   the holder's image token (lib/os): a record that names this
 *           very pid under another token is this process before an exec.
 *   magic   CORTEX__OW_MAGIC, set by the creator, checked at attach.
 *
 * A handle claims the role at its first write, update or consistent()
 * (not at create): 0 when free; a holder that the identity verdict finds
 * certainly dead is taken over with a CAS from exactly the record judged
 * (-EOWNERDEAD to the caller, which repairs an odd sequence); a live or
 * "unknown" holder is -EBUSY naming its pid.  Claims by handles of one
 * process are serialised by a process-local mutex, so a handle never
 * mistakes another handle's claim in progress for an exec'd predecessor.
 * The handle remembers the identity it claimed with: a forked child's copy
 * of the handle sees another identity (lib/sync/ident.h) and must claim
 * anew, which the live parent's record refuses.  close() and leak() of the
 * holding handle give the role back (CAS identity -> 0).
 */
#ifndef CORTEX_SYNC_ONEWRITER_H
#define CORTEX_SYNC_ONEWRITER_H

#include "atomic.h"
#include "internal.h"

#include <stdint.h>

#define CORTEX__OW_MAGIC 0x3152574fu /* "OWR1" */
/* Largest pid a role record may name (Linux's PID_MAX_LIMIT); larger is corrupt. */
#define CORTEX__OW_PID_MAX (UINT32_C(1) << 22)

typedef struct cortex__ow_role {
    cortex__a64 holder; /* (stamp << 32) | pid, 0 free */
    cortex__a64 image;  /* the holder's image token */
    uint32_t magic;     /* CORTEX__OW_MAGIC */
    uint32_t reserved;
    uint64_t spare;
} cortex__ow_role;

_Static_assert(sizeof(cortex__ow_role) == 32, "one-writer role record is 32 bytes in every ABI");

/* Per handle (the backend's local pointer). */
typedef struct cortex__ow_local {
    uint64_t ident; /* (stamp << 32) | pid this handle holds the role as; 0 none */
    char what[192]; /* the segment, for messages */
} cortex__ow_local;

/*
 * Claims the role for handle @l (its process identity @ident, from
 * cortex__sync_ident()).  0 claimed from free (or already held by @l);
 * -EOWNERDEAD taken over from a dead holder (or this process's image
 * before an exec), *prev_pid names it; -EBUSY live or unknown holder, or
 * another handle of this process; -EBADMSG corrupt record.  The failures
 * set cortex_last_error() and change nothing.
 */
int cortex__ow_claim(cortex__ow_role *r, cortex__ow_local *l, uint64_t ident, int32_t *prev_pid);

/*
 * Is the role's holder certainly dead (or the role free)?  1 dead or
 * free, 0 alive or unknown, -EBADMSG corrupt record; *pid gets the pid.
 */
int cortex__ow_holder_gone(const cortex__ow_role *r, int32_t *pid);

#endif
