/* SPDX-License-Identifier: MIT */
/*
 * The ring corpus must keep at least one attachable ring and one that is
 * refused (tests/support/replay_corpus.c replays it through fuzz_ring.c).
 */
#include <neocortex.h>
#include <stdlib.h>
#include <string.h>

int nct_corpus_classify(const uint8_t *data, size_t size);

int nct_corpus_classify(const uint8_t *data, size_t size)
{
    void *mem = NULL;
    if (posix_memalign(&mem, 64, size ? size : 1) != 0)
        return 0;
    memcpy(mem, data, size);
    cortex_ring r;
    int ok = cortex_ring_attach_mem(&r, mem, size, 0, 0, CORTEX_BOTH_SIDES) == 0;
    if (ok)
        cortex_ring_close(&r);
    free(mem);
    return ok;
}
