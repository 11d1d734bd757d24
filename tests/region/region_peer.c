/* SPDX-License-Identifier: MIT */
/*
 * region_peer: an exec'd peer for the region tests.
 *   region_peer sysv KEY|name NAME|file PATH|fd N  read EXPECTED | write TEXT | plant TEXT  [TRUST]
 * read/write attach (raw kind, 64-byte payload), check or write the
 * payload's string and detach; plant creates the segment with mode 0666,
 * writes TEXT and leaks it (a squatter).  TRUST: "any" accepts any owner
 * and mode 0666, "uid:N" accepts uid N and mode 0666.  Exit 0 on success,
 * 10 + errno-ish codes otherwise.
 */
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6)
        return 2;
    cortex_key key;
    if (!strcmp(argv[1], "sysv"))
        key = CORTEX_KEY_SYSV((int)strtol(argv[2], NULL, 0));
    else if (!strcmp(argv[1], "name"))
        key = CORTEX_KEY_NAME(argv[2]);
    else if (!strcmp(argv[1], "file"))
        key = CORTEX_KEY_FILE(argv[2]);
    else if (!strcmp(argv[1], "fd"))
        key = CORTEX_KEY_FD(atoi(argv[2]));
    else
        return 2;
    cortex_opts opts = CORTEX_OPTS_INIT;
    if (argc == 6 && !strcmp(argv[5], "any")) {
        opts.perm = CORTEX_PERM_EVERYBODY;
        opts.trust = CORTEX_TRUST_ANY_UID;
    } else if (argc == 6 && !strncmp(argv[5], "uid:", 4)) {
        opts.perm = CORTEX_PERM_EVERYBODY;
        opts.trust = CORTEX_TRUST_OTHER_UID;
        opts.trusted_uid = (uint32_t)strtoul(argv[5] + 4, NULL, 10);
    } else if (argc == 6) {
        return 2;
    }
    cortex_layout want = {.kind = CORTEX_KIND_RAW, .payload_size = 64};
    cortex_region *r = NULL;
    int rc;
    if (!strcmp(argv[3], "plant")) {
        opts.perm = CORTEX_PERM_EVERYBODY;
        rc = cortex_region_create(&r, key, &want, &opts, NULL, NULL);
    } else {
        rc = cortex_region_attach(&r, key, &want, &opts);
    }
    if (rc < 0) {
        fprintf(stderr, "region_peer: %s: %s\n", argv[3], cortex_last_error()->message);
        return 10;
    }
    char *p = cortex_region_payload(r);
    int status = 0;
    if (!strcmp(argv[3], "read"))
        status = strcmp(p, argv[4]) == 0 ? 0 : 11;
    else if (!strcmp(argv[3], "write") || !strcmp(argv[3], "plant"))
        snprintf(p, 64, "%s", argv[4]);
    else
        status = 2;
    if (!strcmp(argv[3], "plant"))
        return cortex_region_leak(r) == 0 ? status : 12;
    if (cortex_region_close(r) < 0)
        status = 12;
    return status;
}
