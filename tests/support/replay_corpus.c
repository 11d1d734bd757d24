/* SPDX-License-Identifier: MIT */
/*
 * replay_corpus.c: the main() of the plain tests that replay a fuzz target's
 * checked-in seed corpus (argv[1]) in every normal build.  Link it with the
 * target's source (which defines LLVMFuzzerTestOneInput).  Each input is
 * copied into a malloc of exactly its length, as under libFuzzer.
 *
 * A target may also define nct_corpus_classify() (1: the input is a valid
 * structure, 0: one that must be refused); then the corpus must hold at least
 * one of each, so it keeps exercising both paths.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int nct_corpus_classify(const uint8_t *data, size_t size) __attribute__((weak));

#define NCT_MAX_INPUT (1 << 20)

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    static uint8_t buf[NCT_MAX_INPUT];
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
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy)
            return 1;
        memcpy(copy, buf, n);
        LLVMFuzzerTestOneInput(copy, n);
        free(copy);
        if (nct_corpus_classify) {
            if (nct_corpus_classify(buf, n))
                valid++;
            else
                invalid++;
        }
        files++;
    }
    closedir(d);
    printf("replayed %d inputs", files);
    if (nct_corpus_classify)
        printf(" (%d valid, %d refused)", valid, invalid);
    printf("\n");
    if (files == 0)
        return 1;
    return !nct_corpus_classify || (valid >= 1 && invalid >= 1) ? 0 : 1;
}
