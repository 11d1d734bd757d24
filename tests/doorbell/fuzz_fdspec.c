/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/fuzz_fdspec.c: libFuzzer target for cortex_fdspec_parse(),
 * the parser of text that comes from outside (NEOCORTEX_FDS or
 * --neocortex-fds=).  Properties: no crash or out-of-bounds read on any
 * bytes; an accepted spec is well-formed (names of [a-z0-9_-], numbers in
 * range, no repeats); formatting it and parsing the text again gives the
 * same spec.
 */
#include <neocortex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A malloc of exactly the text and its NUL, so ASan sees any read past it. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cortex_fdspec spec;
    if (cortex_fdspec_parse(&spec, text) == 0) {
        if (spec.count == 0 || spec.count > CORTEX_FDSPEC_MAX)
            abort();
        for (unsigned i = 0; i < spec.count; i++) {
            size_t n = strnlen(spec.entry[i].name, sizeof spec.entry[i].name);
            if (n == 0 || n > CORTEX_FDSPEC_NAME_MAX || spec.entry[i].fd < 3)
                abort();
            for (size_t k = 0; k < n; k++) {
                char c = spec.entry[i].name[k];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                    abort();
            }
            for (unsigned j = 0; j < i; j++)
                if (spec.entry[j].fd == spec.entry[i].fd || strcmp(spec.entry[j].name, spec.entry[i].name) == 0)
                    abort();
        }
        char *again = malloc(CORTEX_FDSPEC_TEXT_MAX + 1);
        if (!again)
            abort();
        cortex_fdspec spec2;
        if (cortex_fdspec_format(&spec, again, CORTEX_FDSPEC_TEXT_MAX + 1) < 0 ||
            cortex_fdspec_parse(&spec2, again) != 0 || spec2.count != spec.count)
            abort();
        for (unsigned i = 0; i < spec.count; i++)
            if (spec2.entry[i].fd != spec.entry[i].fd || strcmp(spec2.entry[i].name, spec.entry[i].name) != 0)
                abort();
        if (strcmp(again, text) != 0) /* the grammar has one spelling per spec */
            abort();
        free(again);
    }
    free(text);
    return 0;
}
