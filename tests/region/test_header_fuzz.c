/* SPDX-License-Identifier: MIT */
/*
 * Hostile headers: hundreds of thousands of random and mutated headers go
 * through the validator (the same code attach runs), and a few thousand
 * through a real attach of a memfd segment.  None may crash or be accepted
 * with fields that point outside the mapping.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <errno.h>
#include <neocortex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nctest.h"

TestSuite(header_fuzz, .fini = nct_cleanup, .timeout = 120);

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void seal(cortex_seg_header *h)
{
    uint32_t x = 2166136261u;
    const unsigned char *p = (const unsigned char *)h;
    for (size_t i = 0; i < offsetof(cortex_seg_header, check); i++) {
        x ^= p[i];
        x *= 16777619u;
    }
    h->check = x;
}

static void valid_header(cortex_seg_header *h, uint64_t mapped)
{
    memset(h, 0, sizeof *h);
    h->magic = CORTEX_MAGIC;
    h->version = CORTEX_LAYOUT_VERSION;
    h->header_size = CORTEX_HEADER_SIZE;
    h->kind = CORTEX_KIND_RAW;
    h->payload_align = 64;
    h->segment_size = mapped;
    h->payload_offset = 256;
    h->payload_size = 64;
    h->state = CORTEX_STATE_READY;
    seal(h);
}

/* Accepted headers must describe memory inside the mapping. */
static void check_accepted(const cortex_seg_header *h, uint64_t mapped)
{
    cr_assert_geq(h->payload_offset, CORTEX_HEADER_SIZE);
    cr_assert_leq(h->payload_offset, mapped);
    cr_assert_leq(h->payload_size, mapped - h->payload_offset);
    cr_assert_eq(h->magic, CORTEX_MAGIC);
}

Test(header_fuzz, random_and_mutated_headers)
{
    const uint64_t mapped = 4096;
    int accepted = 0, rejected = 0;
    long rounds = 300000L * nct_scale();
    for (long i = 0; i < rounds; i++) {
        cortex_seg_header h;
        if (i % 3 == 0) {
            unsigned char *p = (unsigned char *)&h;
            for (size_t j = 0; j < sizeof h; j++)
                p[j] = (unsigned char)next();
        } else {
            valid_header(&h, mapped);
            int flips = 1 + (int)(next() % 4);
            unsigned char *p = (unsigned char *)&h;
            for (int j = 0; j < flips; j++)
                p[next() % sizeof h] ^= (unsigned char)(1u << (next() % 8));
            if (i % 3 == 2) /* re-seal so the checksum does not hide the field checks */
                seal(&h);
        }
        int rc = cortex_header_validate(&h, mapped, NULL, "fuzz");
        if (rc == 0) {
            check_accepted(&h, mapped);
            accepted++;
        } else {
            cr_assert(rc == -EBADMSG || rc == -EPROTO, "rc %d", rc);
            cr_assert_neq(cortex_last_error()->message[0], '\0');
            rejected++;
        }
    }
    cr_assert_gt(rejected, 0);
    cr_assert_gt(accepted, 0, "re-sealed mutations of unchecked bytes must still pass");
}

Test(header_fuzz, hostile_bytes_in_a_real_segment)
{
    cortex_layout raw = {.kind = CORTEX_KIND_RAW, .payload_size = 64};
    cortex_opts quick = {.attach_timeout_ns = 1000000}; /* 1 ms */
    int fd = memfd_create("nct-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 4096), 0);
    cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0, "attach by fd wants it sealed against shrinking");
    unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    int rounds = 3000 * nct_scale();
    for (int i = 0; i < rounds; i++) {
        cortex_seg_header *h = (cortex_seg_header *)p;
        valid_header(h, 4096);
        for (int j = 0; j < 8; j++)
            p[next() % 256] = (unsigned char)next();
        if (i & 1)
            seal(h);
        if (i % 5 == 0)
            h->state = CORTEX_STATE_READY;
        cortex_region *r = NULL;
        int rc = cortex_region_attach(&r, CORTEX_KEY_FD(fd), &raw, &quick);
        if (rc == 0) {
            volatile unsigned char *payload = cortex_region_payload(r);
            for (uint64_t k = 0; k < cortex_region_payload_size(r); k++)
                (void)payload[k];
            cortex_region_close(r);
        } else {
            cr_assert(rc == -EBADMSG || rc == -EPROTO || rc == -ETIMEDOUT || rc == -ENOENT, "rc %d: %s", rc,
                      cortex_last_error()->message);
        }
    }
    munmap(p, 4096);
    close(fd);
}
