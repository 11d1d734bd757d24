/* SPDX-License-Identifier: MIT */
/*
 * region_peer: an exec'd peer for the region tests.
 *   region_peer sysv KEY|name NAME|file PATH|fd N  read EXPECTED | write TEXT
 * Attaches (raw kind, 64-byte payload), checks or writes the payload's
 * string, detaches.  Exit 0 on success, 10 + errno-ish codes otherwise.
 */
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 5)
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
    cortex_layout want = {.kind = CORTEX_KIND_RAW, .payload_size = 64};
    cortex_region *r = NULL;
    int rc = cortex_region_attach(&r, key, &want, NULL);
    if (rc < 0) {
        fprintf(stderr, "region_peer: attach: %s\n", cortex_last_error()->message);
        return 10;
    }
    char *p = cortex_region_payload(r);
    int status = 0;
    if (!strcmp(argv[3], "read"))
        status = strcmp(p, argv[4]) == 0 ? 0 : 11;
    else if (!strcmp(argv[3], "write"))
        snprintf(p, 64, "%s", argv[4]);
    else
        status = 2;
    if (cortex_region_close(r) < 0)
        status = 12;
    return status;
}
