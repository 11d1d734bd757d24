/* SPDX-License-Identifier: MIT */
/*
 * Built by tools/check-install.sh against the INSTALLED headers and library
 * (flags from `pkg-config neocortex` only) and run: proves that the install
 * holds every header the umbrella needs and a library that links and works.
 */
#define _GNU_SOURCE
#include <neocortex.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if __has_include(<neocortex/declare_cell.h>)
/* The installed generator headers work too. */
CORTEX_DECLARE(counter_cell, uint64_t);

static int typed_cell(void)
{
    counter_cell c;
    uint64_t v = 0;
    if (counter_cell_create(&c, CORTEX_KEY_SYSV_PRIVATE, 41, NULL) < 0)
        return 0;
    int ok = counter_cell_write(&c, 42) == 0 && counter_cell_read(&c, &v) == 0 && v == 42;
    return counter_cell_close(&c) == 0 && ok;
}
#else
static int typed_cell(void) { return 1; }
#endif

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/nc-install-check-%d", (int)getpid());
    const cortex_layout layout = {.kind = CORTEX_KIND_RAW, .payload_size = 32, .type_name = "char[32]"};
    cortex_region *a = NULL, *b = NULL;
    int rc = cortex_region_create(&a, CORTEX_KEY_NAME(name), &layout, NULL, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "create: %s: %s\n", cortex_strerror(rc), cortex_last_error()->message);
        return 1;
    }
    rc = cortex_region_attach(&b, CORTEX_KEY_NAME(name), &layout, NULL);
    if (rc < 0) {
        fprintf(stderr, "attach: %s: %s\n", cortex_strerror(rc), cortex_last_error()->message);
        cortex_region_close(a);
        return 1;
    }
    strcpy(cortex_region_payload(a), "installed");
    int same = strcmp(cortex_region_payload(b), "installed") == 0;
    cortex_region_close(b);
    rc = cortex_region_close(a);
    /* A wrong expectation is refused with -EPROTO, from the installed library too. */
    cortex_region *c = NULL;
    const cortex_layout other = {.kind = CORTEX_KIND_RAW, .payload_size = 32, .type_name = "int"};
    rc = rc < 0 ? rc : cortex_region_create(&c, CORTEX_KEY_NAME(name), &layout, NULL, NULL, NULL);
    int refused = rc == 0 && cortex_region_attach(&b, CORTEX_KEY_NAME(name), &other, NULL) == -EPROTO;
    if (rc == 0)
        cortex_region_close(c);
    int typed = typed_cell();
    int ok = same && refused && typed;
    printf("neocortex %s installed: %s\n", CORTEX_VERSION_STRING, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
