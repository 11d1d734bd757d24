/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(region, .fini = nct_cleanup, .timeout = 30);

static const cortex_layout raw64 = {.kind = CORTEX_KIND_RAW, .payload_size = 64};

Test(region, sysv_create_attach_close)
{
    int key = nct_sysv_key();
    cortex_region *a = NULL, *b = NULL;
    cr_assert_eq(cortex_region_create(&a, CORTEX_KEY_SYSV(key), &raw64, NULL, NULL, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL), 0, "%s",
                 cortex_last_error()->message);
    strcpy(cortex_region_payload(a), "hello");
    cr_assert_str_eq(cortex_region_payload(b), "hello");
    cr_assert_eq(cortex_region_close(b), 0);
    cr_assert_eq(cortex_region_close(a), 0);
    cr_assert_eq(cortex_region_attach(&b, CORTEX_KEY_SYSV(key), &raw64, NULL), -ENOENT);
}
