/* SPDX-License-Identifier: MIT */
/*
 * lib/region/trust.c: what an attach accepts from a kernel object it did
 * not make (owner, creator, mode bits) and what this process can map.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

static bool uid_accepted(uint32_t uid, const cortex_opts *opts)
{
    unsigned trust = opts ? opts->trust : 0;
    if (trust & CORTEX_TRUST_ANY_UID)
        return true;
    if (uid == (uint32_t)geteuid())
        return true;
    return (trust & CORTEX_TRUST_OTHER_UID) && uid == opts->trusted_uid;
}

int cortex__check_owner(uint32_t uid, uint32_t cuid, unsigned mode, const cortex_opts *opts, const char *what)
{
    unsigned asked = cortex__effective_perm(opts);
    mode &= 0777u;
    if (!uid_accepted(uid, opts) || !uid_accepted(cuid, opts))
        return cortex__fail(EACCES,
                            "%s is owned by uid %u (created by uid %u, mode %04o), not by this process's uid %u: "
                            "refused (set cortex_opts.trust to accept another owner)",
                            what, (unsigned)uid, (unsigned)cuid, mode, (unsigned)geteuid());
    if (mode & ~asked)
        return cortex__fail(EACCES,
                            "%s (owner uid %u) has mode %04o, wider than the %04o this caller asked for: refused "
                            "(pass the mode you accept in cortex_opts.perm)",
                            what, (unsigned)uid, mode, asked);
    return 0;
}

int cortex__check_map_size(uint64_t size, uint64_t limit, const char *what)
{
    if (size > limit)
        return cortex__fail(EFBIG, "%s is %llu bytes, more than this process can map (at most %llu)", what,
                            (unsigned long long)size, (unsigned long long)limit);
    return 0;
}
