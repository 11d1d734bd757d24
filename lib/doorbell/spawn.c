/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/spawn.c: starting a child with a doorbell and a segment
 * already handed over (posix_spawn; the fds are made inheritable for that
 * one child only), and the child's side that picks them up.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* envp without any NEOCORTEX_FDS entry, plus @extra; NULL when out of memory. */
static char **child_env(char *const *envp, char *extra)
{
    size_t n = 0, plen = strlen(CORTEX_FDS_ENV);
    for (char *const *e = envp; e && *e; e++)
        n++;
    char **out = calloc(n + 2, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    for (char *const *e = envp; e && *e; e++)
        if (!(strncmp(*e, CORTEX_FDS_ENV, plen) == 0 && (*e)[plen] == '='))
            out[k++] = *e;
    out[k++] = extra;
    out[k] = NULL;
    return out;
}

int cortex_spawn(pid_t *ret_pid, cortex_doorbell *ret_bell, const char *path, char *const argv[],
                 char *const envp[], int segment_fd)
{
    if (!ret_pid || !ret_bell || !path || !path[0])
        return cortex__fail(EINVAL, "cortex_spawn: NULL argument or empty path");
    int rc;
    if (segment_fd != -1) { /* -1: no segment; any other negative is an error */
        if ((rc = cortex__fd_check_open(segment_fd, "cortex_spawn segment")) < 0)
            return rc;
    }

    cortex_doorbell mine = CORTEX_DOORBELL_INIT, theirs = CORTEX_DOORBELL_INIT;
    if ((rc = cortex_doorbell_pair(&mine, &theirs)) < 0)
        return rc;

    /*
     * Close-on-exec copies above the target numbers, so that dup2 onto the
     * targets in the child always makes a new, inheritable descriptor
     * (dup2 of an fd onto itself would keep FD_CLOEXEC) and never
     * overwrites the other source.
     */
    int top = CORTEX_SPAWN_SEGMENT_FD > CORTEX_SPAWN_DOORBELL_FD ? CORTEX_SPAWN_SEGMENT_FD : CORTEX_SPAWN_DOORBELL_FD;
    int bell_src = -1, seg_src = -1;
    char spec[64 + sizeof CORTEX_FDS_ENV];
    char **env = NULL;
    posix_spawn_file_actions_t fa;
    bool fa_ok = false;
    pid_t pid = -1;

    bell_src = fcntl(theirs.fd, F_DUPFD_CLOEXEC, top + 1);
    if (bell_src < 0) {
        rc = cortex__fail_sys(errno, "fcntl", errno, "cortex_spawn: could not copy the doorbell fd");
        goto out;
    }
    if (segment_fd >= 0) {
        seg_src = fcntl(segment_fd, F_DUPFD_CLOEXEC, top + 1);
        if (seg_src < 0) {
            rc = cortex__fail_sys(errno, "fcntl", errno, "cortex_spawn: could not copy segment fd %d", segment_fd);
            goto out;
        }
        snprintf(spec, sizeof spec, "%s=%s:%d,%s:%d", CORTEX_FDS_ENV, CORTEX_FDNAME_DOORBELL,
                 CORTEX_SPAWN_DOORBELL_FD, CORTEX_FDNAME_SEGMENT, CORTEX_SPAWN_SEGMENT_FD);
    } else {
        snprintf(spec, sizeof spec, "%s=%s:%d", CORTEX_FDS_ENV, CORTEX_FDNAME_DOORBELL, CORTEX_SPAWN_DOORBELL_FD);
    }
    env = child_env(envp ? envp : environ, spec);
    if (!env) {
        rc = cortex__fail(ENOMEM, "cortex_spawn: out of memory for the environment");
        goto out;
    }
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        rc = cortex__fail_sys(rc, "posix_spawn_file_actions_init", rc, "cortex_spawn: %s", path);
        goto out;
    }
    fa_ok = true;
    if ((rc = posix_spawn_file_actions_adddup2(&fa, bell_src, CORTEX_SPAWN_DOORBELL_FD)) != 0 ||
        (seg_src >= 0 && (rc = posix_spawn_file_actions_adddup2(&fa, seg_src, CORTEX_SPAWN_SEGMENT_FD)) != 0)) {
        rc = cortex__fail_sys(rc, "posix_spawn_file_actions_adddup2", rc, "cortex_spawn: %s", path);
        goto out;
    }
    char *default_argv[2] = {(char *)path, NULL};
    rc = posix_spawn(&pid, path, &fa, NULL, argv ? argv : default_argv, env);
    if (rc != 0) {
        rc = cortex__fail_sys(rc, "posix_spawn", rc, "could not start %s", path);
        goto out;
    }
    *ret_pid = pid;
#ifdef CORTEX_DB_FAST
    cortex__db_discard_setup(&mine); /* this end already has the shared page: spare its first wait a wake-up */
#endif
    *ret_bell = mine;
    mine = (cortex_doorbell)CORTEX_DOORBELL_INIT;
    rc = 0;

out:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (bell_src >= 0)
        close(bell_src);
    if (seg_src >= 0)
        close(seg_src);
    /*
     * The child holds its own copy now: ours must go, or the doorbell could
     * never report its death.  Unused here: the child may have taken the page
     * already, and ours must not withdraw its line.
     */
    cortex__db_close_unused(&theirs);
    cortex_doorbell_close(&mine);
    return rc;
}

int cortex_child_attach(int argc, char *const *argv, cortex_doorbell *ret_bell, cortex_region **ret_region,
                        const cortex_layout *expect, const cortex_opts *opts)
{
    cortex_fdspec spec;
    int rc, bell_fd = -1, seg_fd = -1, type = 0;
    if (!ret_bell && !ret_region)
        return cortex__fail(EINVAL, "cortex_child_attach: asked for neither a doorbell nor a segment");
    if ((rc = cortex_fdspec_from_process(&spec, argc, argv)) < 0)
        return rc;
    if (ret_bell) {
        if ((bell_fd = cortex_fdspec_find(&spec, CORTEX_FDNAME_DOORBELL)) < 0)
            return bell_fd;
        if ((rc = cortex__doorbell_check(bell_fd, &type, "handed doorbell")) < 0)
            return rc;
    }
    cortex_region *region = NULL;
    if (ret_region) {
        if ((seg_fd = cortex_fdspec_find(&spec, CORTEX_FDNAME_SEGMENT)) < 0)
            return seg_fd;
        if ((rc = cortex_fd_validate_segment(seg_fd, expect)) < 0)
            return rc;
        if ((rc = cortex_region_attach(&region, CORTEX_KEY_FD(seg_fd), expect, opts)) < 0)
            return rc;
    }
    if (ret_bell) {
        cortex_doorbell b;
        if ((rc = cortex_doorbell_from_fd(&b, bell_fd)) < 0) {
            cortex_region_close(region);
            return rc;
        }
        *ret_bell = b;
    }
    if (ret_region) {
        close(seg_fd); /* the region holds its own close-on-exec copy */
        *ret_region = region;
    }
    unsetenv(CORTEX_FDS_ENV);
    return 0;
}
