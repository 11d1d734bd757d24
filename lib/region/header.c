/* SPDX-License-Identifier: MIT */
/* lib/region/header.c: validating a segment header copy; keys and kinds as text. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(cortex_seg_header) == CORTEX_HEADER_SIZE, "header must be 256 bytes");
_Static_assert(offsetof(cortex_seg_header, check) == 156, "check covers bytes [0,156)");
_Static_assert(offsetof(cortex_seg_header, state) == 160, "state after the checked bytes");
_Static_assert(offsetof(cortex_seg_header, ident_check) == 172, "creator identity check after the owner token");
_Static_assert(offsetof(cortex_seg_header, creator_pidns) == 176, "creator identity at [176, 196)");
_Static_assert(offsetof(cortex_seg_header, reserved) == 196, "reserved after the creator identity");

uint32_t cortex__header_ident_check(const cortex_seg_header *h)
{
    const unsigned char *p = (const unsigned char *)h + offsetof(cortex_seg_header, creator_pidns);
    size_t n = offsetof(cortex_seg_header, reserved) - offsetof(cortex_seg_header, creator_pidns);
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        zero = zero && p[i] == 0;
    return zero ? 0 : cortex__fnv1a32(p, n) | 1u;
}

const char *cortex_kind_name(uint32_t kind)
{
    switch (kind) {
    case CORTEX_KIND_RAW: return "raw";
    case CORTEX_KIND_CELL: return "cell";
    case CORTEX_KIND_RING: return "ring";
    case CORTEX_KIND_SLAB: return "slab";
    case CORTEX_KIND_POOL: return "pool";
    case CORTEX_KIND_CHANNEL: return "channel";
    default: return "unknown";
    }
}

uint64_t cortex_type_hash(const char *tag)
{
    if (!tag)
        return 0;
    return cortex__fnv1a64(tag, strlen(tag));
}

const char *cortex_key_describe(cortex_key key, char *buf, unsigned len)
{
    if (!buf || len == 0)
        return "";
    switch (key.kind) {
    case CORTEX_KEYKIND_SYSV: snprintf(buf, len, "SysV key 0x%08x", (unsigned)key.sysv); break;
    case CORTEX_KEYKIND_SYSV_PRIVATE:
        if (key.sysv)
            snprintf(buf, len, "SysV key 0x%08x", (unsigned)key.sysv);
        else
            snprintf(buf, len, "SysV private key");
        break;
    case CORTEX_KEYKIND_NAME: snprintf(buf, len, "POSIX name %.200s", key.str ? key.str : "(null)"); break;
    case CORTEX_KEYKIND_FD: snprintf(buf, len, "fd %d", key.fd); break;
    case CORTEX_KEYKIND_FILE: snprintf(buf, len, "file %.200s", key.str ? key.str : "(null)"); break;
    case CORTEX_KEYKIND_MEMFD: snprintf(buf, len, "memfd %.200s", key.str ? key.str : "(anonymous)"); break;
    case CORTEX_KEYKIND_HEAP: snprintf(buf, len, "heap memory"); break;
    default: snprintf(buf, len, "invalid key (kind %d)", (int)key.kind); break;
    }
    return buf;
}

void cortex__printable(const char *in, size_t max, char *out)
{
    size_t i;
    for (i = 0; i < max && in[i]; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[i] = '\0';
}

int cortex_header_validate(const cortex_seg_header *h, uint64_t mapped, const cortex_layout *expect,
                           const char *what)
{
    if (!what)
        what = "segment";
    if (!h)
        return cortex__fail(EINVAL, "%s: no header to validate", what);
    if (mapped < CORTEX_HEADER_SIZE)
        return cortex__fail(EBADMSG, "%s is %llu bytes, smaller than a %u-byte neocortex header", what,
                            (unsigned long long)mapped, CORTEX_HEADER_SIZE);
    if (h->magic != CORTEX_MAGIC)
        return cortex__fail(EBADMSG, "%s is not a neocortex segment (magic 0x%016llx, expected 0x%016llx)",
                            what, (unsigned long long)h->magic, (unsigned long long)CORTEX_MAGIC);
    if (h->version != CORTEX_LAYOUT_VERSION)
        return cortex__fail(EPROTO, "%s has layout version %u; this build reads version %u", what,
                            h->version, CORTEX_LAYOUT_VERSION);
    if (h->header_size != CORTEX_HEADER_SIZE)
        return cortex__fail(EBADMSG, "%s: header size %u, expected %u", what, h->header_size,
                            CORTEX_HEADER_SIZE);
    uint32_t check = cortex__fnv1a32(h, offsetof(cortex_seg_header, check));
    if (check != h->check)
        return cortex__fail(EBADMSG, "%s: header checksum 0x%08x does not match its contents (0x%08x): corrupt",
                            what, h->check, check);
    if (h->kind < CORTEX_KIND_RAW || h->kind > CORTEX_KIND_CHANNEL)
        return cortex__fail(EBADMSG, "%s: unknown kind %u", what, h->kind);
    if (!cortex__is_pow2(h->payload_align) || h->payload_align > CORTEX_MAX_ALIGN)
        return cortex__fail(EBADMSG, "%s: payload alignment %u is not a power of two <= %u", what,
                            h->payload_align, CORTEX_MAX_ALIGN);
    if (h->payload_offset < CORTEX_HEADER_SIZE || (h->payload_offset & (h->payload_align - 1)) != 0)
        return cortex__fail(EBADMSG, "%s: payload offset %llu is inside the header or misaligned", what,
                            (unsigned long long)h->payload_offset);
    if (h->payload_offset > mapped || h->payload_size > mapped - h->payload_offset)
        return cortex__fail(EBADMSG,
                            "%s: header claims a %llu-byte payload at offset %llu, but only %llu bytes are mapped",
                            what, (unsigned long long)h->payload_size, (unsigned long long)h->payload_offset,
                            (unsigned long long)mapped);
    if (h->segment_size > mapped)
        return cortex__fail(EBADMSG, "%s: header claims %llu bytes, but the segment has %llu", what,
                            (unsigned long long)h->segment_size, (unsigned long long)mapped);
    if (h->flags & ~CORTEX_HDR_KNOWN_FLAGS)
        return cortex__fail(EBADMSG, "%s: unknown header flags 0x%x", what, h->flags);
    if (h->elem_align != 0 && !cortex__is_pow2(h->elem_align))
        return cortex__fail(EBADMSG, "%s: element alignment %u is not a power of two", what, h->elem_align);
    if (h->ident_check != cortex__header_ident_check(h))
        return cortex__fail(EBADMSG, "%s: creator identity check 0x%08x does not match its contents (0x%08x): corrupt",
                            what, h->ident_check, cortex__header_ident_check(h));

    if (!expect)
        return 0;

    char tag[CORTEX_TYPE_TAG_MAX + 1];
    cortex__printable(h->type_tag, CORTEX_TYPE_TAG_MAX, tag);
    if (expect->kind && expect->kind != h->kind)
        return cortex__fail(EPROTO, "%s holds a %s of '%s' (%u bytes), expected a %s", what,
                            cortex_kind_name(h->kind), tag, h->elem_size, cortex_kind_name(expect->kind));
    bool type_ok = true;
    if (expect->elem_size && expect->elem_size != h->elem_size)
        type_ok = false;
    if (expect->elem_align && expect->elem_align != h->elem_align)
        type_ok = false;
    if (expect->type_name && cortex_type_hash(expect->type_name) != h->type_hash)
        type_ok = false;
    if (!type_ok)
        return cortex__fail(EPROTO,
                            "%s holds a %s of '%s' (size %u, align %u), expected '%s' (size %u, align %u)",
                            what, cortex_kind_name(h->kind), tag, h->elem_size, h->elem_align,
                            expect->type_name ? expect->type_name : "?", expect->elem_size,
                            expect->elem_align);
    if (expect->lock_id && expect->lock_id != h->lock_id)
        return cortex__fail(EPROTO, "%s uses lock backend %u, expected %u", what, h->lock_id, expect->lock_id);
    if (expect->payload_size && expect->payload_size != h->payload_size)
        return cortex__fail(EPROTO, "%s has a %llu-byte payload, expected %llu", what,
                            (unsigned long long)h->payload_size, (unsigned long long)expect->payload_size);
    return 0;
}
