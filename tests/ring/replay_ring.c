/* SPDX-License-Identifier: MIT */
/*
 * Replays the ring fuzz corpus (argv[1]) through LLVMFuzzerTestOneInput in a
 * normal build, and checks that the corpus still holds what it should: at
 * least one valid ring (attach succeeds) and at least one corrupt one.
 */
#include <dirent.h>
#include <neocortex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    int files = 0, valid = 0, invalid = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        void *mem = NULL;
        if (posix_memalign(&mem, 64, n ? n : 1) != 0)
            return 1;
        memcpy(mem, buf, n);
        cortex_ring r;
        if (cortex_ring_attach_mem(&r, mem, n, 0, 0, CORTEX_BOTH_SIDES) == 0) {
            valid++;
            cortex_ring_close(&r);
        } else {
            invalid++;
        }
        free(mem);
        files++;
    }
    closedir(d);
    printf("replayed %d inputs (%d attachable, %d refused)\n", files, valid, invalid);
    return files >= 4 && valid >= 1 && invalid >= 1 ? 0 : 1;
}
