/* SPDX-License-Identifier: MIT */
/*
 * tests/cell/ow_exec_peer.c: the image a one-writer holder exec()s into
 * (test_cell_one_writer_mp.c): `ow_exec_peer NAME VALUE` attaches the int
 * cell NAME and writes VALUE.  The role record still names this pid under
 * the image before the exec, which this image takes back.  Exit 0 written,
 * 1 -EBUSY, 2 attach failed, 3 another error.
 */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>

CORTEX_DECLARE(ow_int_cell, int);

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    ow_int_cell c;
    if (ow_int_cell_attach(&c, CORTEX_KEY_NAME(argv[1]), NULL) != 0) {
        fprintf(stderr, "ow_exec_peer: %s\n", cortex_last_error()->message);
        return 2;
    }
    int rc = ow_int_cell_write(&c, atoi(argv[2]));
    if (rc != 0)
        fprintf(stderr, "ow_exec_peer: %s\n", cortex_last_error()->message);
    ow_int_cell_close(&c);
    return rc == 0 ? 0 : rc == -EBUSY ? 1 : 3;
}
