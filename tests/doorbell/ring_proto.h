/* SPDX-License-Identifier: MIT */
/* tests/doorbell/ring_proto.h: the ring exchange of the SCM_RIGHTS ring test (both sides). */
#ifndef NCT_DOORBELL_RING_PROTO_H
#define NCT_DOORBELL_RING_PROTO_H

#include <neocortex.h>
#include <stdint.h>

SPSC_RING_DECLARE(nct_u64ring, uint64_t);

#define NCT_RING_WAIT_NS INT64_C(10000000000)

/* The answer to request number i (requests carry 1, 2, 3, ...). */
static inline uint64_t nct_ring_answer(uint64_t i) { return i * 3 + 1; }

#endif
