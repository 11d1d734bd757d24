/* SPDX-License-Identifier: MIT */
/* lib/region/header.c: validating a segment header copy; keys and kinds as text. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

_Static_assert(sizeof(cortex_seg_header) == CORTEX_HEADER_SIZE, "header must be 256 bytes");
_Static_assert(offsetof(cortex_seg_header, check) == 156, "check covers bytes [0,156)");
_Static_assert(offsetof(cortex_seg_header, state) == 160, "state after the checked bytes");
_Static_assert(offsetof(cortex_seg_header, ident_check) == 172, "creator identity check after the owner token");
_Static_assert(offsetof(cortex_seg_header, creator_pidns) == 176, "creator identity at [176, 196)");
_Static_assert(offsetof(cortex_seg_header, abi) == 196, "ABI record after the creator identity");
_Static_assert(sizeof(cortex_abi_record) == 8, "ABI record is 8 bytes");
_Static_assert(offsetof(cortex_seg_header, abi_check) == 204, "ABI check after the ABI record");
_Static_assert(offsetof(cortex_seg_header, reserved) == 208, "reserved after the ABI check");

static uint64_t swap64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++, v >>= 8)
        r = (r << 8) | (v & 0xffu);
    return r;
}

static uint8_t self_byte_order(void)
{
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1 ? CORTEX_ABI_LITTLE_ENDIAN : CORTEX_ABI_BIG_ENDIAN;
}

static const char *order_name(unsigned order)
{
    return order == CORTEX_ABI_BIG_ENDIAN ? "big-endian" : "little-endian";
}

void cortex_abi_self(cortex_abi_record *rec)
{
    if (!rec)
        return;
    memset(rec, 0, sizeof *rec);
    rec->byte_order = self_byte_order();
    rec->ptr_size = (uint8_t)sizeof(void *);
    rec->long_size = (uint8_t)sizeof(long);
    rec->u64_align = (uint8_t)_Alignof(uint64_t);
    rec->f64_align = (uint8_t)_Alignof(double);
    rec->time_size = (uint8_t)sizeof(time_t);
}

/* 0 when the record is all zero (a creator that did not write one), else FNV-1a 32 with bit 0 set. */
static uint32_t abi_check(const cortex_seg_header *h)
{
    static const cortex_abi_record none;
    if (memcmp(&h->abi, &none, sizeof none) == 0)
        return 0;
    return cortex__fnv1a32(&h->abi, sizeof h->abi) | 1u;
}

void cortex__header_set_abi(cortex_seg_header *h)
{
    cortex_abi_self(&h->abi);
    h->abi_check = abi_check(h);
}

int cortex__header_bad_magic(uint64_t magic, const char *what)
{
    if (magic == swap64(CORTEX_MAGIC)) {
        unsigned self = self_byte_order();
        unsigned other = self == CORTEX_ABI_BIG_ENDIAN ? CORTEX_ABI_LITTLE_ENDIAN : CORTEX_ABI_BIG_ENDIAN;
        return cortex__fail(EPROTO,
                            "%s was written by a %s process; this process is %s, so its numbers read differently "
                            "here: refused",
                            what, order_name(other), order_name(self));
    }
    return cortex__fail(EBADMSG, "%s is not a neocortex segment (magic 0x%016llx, expected 0x%016llx)", what,
                        (unsigned long long)magic, (unsigned long long)CORTEX_MAGIC);
}

/* Appends "<sep><label> <there> there, <here> here" to buf at *at; sep is " " first, then ", ". */
static void add_diff(char *buf, unsigned len, unsigned *at, bool *first, const char *label, unsigned there,
                     unsigned here)
{
    if (*at >= len)
        return;
    int n = snprintf(buf + *at, len - *at, "%s%s %u there, %u here", *first ? " " : ", ", label, there, here);
    *first = false;
    if (n > 0)
        *at = *at + (unsigned)n < len ? *at + (unsigned)n : len;
}

const char *cortex_abi_describe(const cortex_abi_record *rec, char *buf, unsigned len)
{
    if (!buf || len == 0)
        return "";
    buf[0] = '\0';
    if (!rec)
        return buf;
    cortex_abi_record me;
    cortex_abi_self(&me);
    int n = 0;
    if (rec->byte_order != me.byte_order)
        n = snprintf(buf, len, "written by a %s process:", order_name(rec->byte_order));
    else if (rec->ptr_size != me.ptr_size)
        n = snprintf(buf, len, "%u-bit peer:", rec->ptr_size * 8u);
    else if (memcmp(rec, &me, sizeof me) != 0)
        n = snprintf(buf, len, "peer of another ABI:");
    if (n <= 0 || (unsigned)n >= len)
        return buf;
    unsigned at = (unsigned)n;
    bool first = true;
    if (rec->u64_align != me.u64_align)
        add_diff(buf, len, &at, &first, "uint64_t aligned", rec->u64_align, me.u64_align);
    if (rec->f64_align != me.f64_align)
        add_diff(buf, len, &at, &first, "double aligned", rec->f64_align, me.f64_align);
    if (rec->long_size != me.long_size)
        add_diff(buf, len, &at, &first, "long is", rec->long_size, me.long_size);
    if (rec->time_size != me.time_size)
        add_diff(buf, len, &at, &first, "time_t is", rec->time_size, me.time_size);
    if (first && at > 0)
        buf[at - 1] = '\0'; /* only the byte order or the width differed: drop the colon */
    return buf;
}

static bool abi_size_ok(unsigned v)
{
    return v == 4 || v == 8;
}

static bool abi_align_ok(unsigned v)
{
    return v >= 1 && v <= 16 && cortex__is_pow2(v);
}

/* A recorded ABI must be whole and of this process's byte order (the magic already said so). */
static int check_abi(const cortex_seg_header *h, const char *what)
{
    uint32_t want = abi_check(h);
    if (h->abi_check != want)
        return cortex__fail(EBADMSG, "%s: ABI record check 0x%08x does not match its contents (0x%08x): corrupt",
                            what, h->abi_check, want);
    if (want == 0)
        return 0;
    const cortex_abi_record *a = &h->abi;
    if (a->byte_order != self_byte_order() || !abi_size_ok(a->ptr_size) || !abi_size_ok(a->long_size) ||
        !abi_align_ok(a->u64_align) || !abi_align_ok(a->f64_align) || !abi_size_ok(a->time_size) || a->zero[0] ||
        a->zero[1])
        return cortex__fail(EBADMSG,
                            "%s: ABI record is impossible (byte order %u, pointers %u, long %u, uint64_t align %u, "
                            "double align %u, time_t %u, padding %u/%u): corrupt",
                            what, a->byte_order, a->ptr_size, a->long_size, a->u64_align, a->f64_align, a->time_size,
                            a->zero[0], a->zero[1]);
    return 0;
}

uint32_t cortex__header_ident_check(const cortex_seg_header *h)
{
    const unsigned char *p = (const unsigned char *)h + offsetof(cortex_seg_header, creator_pidns);
    size_t n = offsetof(cortex_seg_header, abi) - offsetof(cortex_seg_header, creator_pidns);
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
    case CORTEX_KIND_BROADCAST: return "broadcast";
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
        return cortex__header_bad_magic(h->magic, what);
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
    int rc = check_abi(h, what);
    if (rc < 0)
        return rc;
    if (h->segment_size > SIZE_MAX || h->payload_offset > SIZE_MAX || h->payload_size > SIZE_MAX)
        return cortex__fail(EFBIG,
                            "%s: a %llu-byte segment (payload %llu bytes at %llu), more than this %u-bit process "
                            "can address",
                            what, (unsigned long long)h->segment_size, (unsigned long long)h->payload_size,
                            (unsigned long long)h->payload_offset, (unsigned)(sizeof(void *) * 8));
    if (h->kind < CORTEX_KIND_RAW || h->kind > CORTEX_KIND_BROADCAST)
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
    if (!type_ok) {
        char peer[200] = "";
        if (h->abi_check != 0)
            cortex_abi_describe(&h->abi, peer, sizeof peer);
        return cortex__fail(EPROTO,
                            "%s holds a %s of '%s' (size %u, align %u), expected '%s' (size %u, align %u)%s%s%s",
                            what, cortex_kind_name(h->kind), tag, h->elem_size, h->elem_align,
                            expect->type_name ? expect->type_name : "?", expect->elem_size, expect->elem_align,
                            peer[0] ? " (" : "", peer, peer[0] ? ")" : "");
    }
    if (expect->lock_id && expect->lock_id != h->lock_id)
        return cortex__fail(EPROTO, "%s uses lock backend %u, expected %u", what, h->lock_id, expect->lock_id);
    if (expect->payload_size && expect->payload_size != h->payload_size)
        return cortex__fail(EPROTO, "%s has a %llu-byte payload, expected %llu", what,
                            (unsigned long long)h->payload_size, (unsigned long long)expect->payload_size);
    return 0;
}
