/* SPDX-License-Identifier: MIT */
/*
 * tests/doorbell/mailbox.h: the request/response protocol the doorbell
 * tests run through a raw memfd segment.  One request is outstanding at a
 * time: the requester writes the value, publishes the sequence number
 * (release) and rings; the responder, woken, reads the sequence (acquire),
 * answers the same way.  Every value is checked, so a lost or stale
 * message fails the test.
 */
#ifndef NCT_DOORBELL_MAILBOX_H
#define NCT_DOORBELL_MAILBOX_H

#include "atomic.h"

#include <neocortex.h>
#include <stdint.h>

typedef struct nct_mailbox {
    cortex__a64 req_seq;
    uint64_t req_value;
    uint8_t pad0[48];
    cortex__a64 resp_seq;
    uint64_t resp_value;
    uint8_t pad1[48];
} nct_mailbox;

_Static_assert(sizeof(nct_mailbox) == 128, "mailbox layout");

#define NCT_MAILBOX_TAG "nct_mailbox"

static inline cortex_layout nct_mailbox_layout(void)
{
    cortex_layout l = {.kind = CORTEX_KIND_RAW, .payload_size = sizeof(nct_mailbox),
                       .elem_size = sizeof(nct_mailbox), .elem_align = 8, .type_name = NCT_MAILBOX_TAG};
    return l;
}

/* What the responder answers to request value v. */
static inline uint64_t nct_mailbox_answer(uint64_t v) { return v * 2654435761u + 17; }

/* The request value of sequence number i. */
static inline uint64_t nct_mailbox_request(uint64_t i) { return i * 7 + 3; }

#endif
