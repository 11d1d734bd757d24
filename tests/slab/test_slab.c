/* SPDX-License-Identifier: MIT */
/* Unit tests of the slab: raw and segment forms, handles, transitions, pool, inspection, hostile memory. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"
#include "internal.h"
#include "slab/slab_layout.h"

TestSuite(slab, .fini = nct_cleanup, .timeout = 30);

struct msg {
    uint64_t seq;
    char text[56];
};

SLAB_DECLARE(msg_slab, struct msg);
CORTEX_SLAB_DECLARE(u32_slab, uint32_t);

static void *aligned_mem(size_t len, size_t align)
{
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, len), 0);
    memset(p, 0xa5, len); /* init must not rely on zeroed memory */
    return p;
}

static struct cortex__slot_meta *meta_of(void *mem)
{
    struct cortex__slab_hdr h;
    memcpy(&h, mem, sizeof h);
    return (struct cortex__slot_meta *)(void *)((uint8_t *)mem + h.meta_off);
}

Test(slab, sizes_and_alignment)
{
    cr_assert_eq(cortex_slab_required_size(0, 8, 8), 0);
    cr_assert_eq(cortex_slab_required_size(4, 0, 8), 0);
    cr_assert_eq(cortex_slab_required_size(4, 8, 3), 0, "alignment must be a power of two");
    cr_assert_eq(cortex_slab_required_size(CORTEX_SLAB_MAX_SLOTS + 1u, 8, 8), 0);
    cr_assert_eq(cortex_slab_required_align(8, 8), 8);
    cr_assert_eq(cortex_slab_required_align(64, 8), 64, "a cache-line element gets its own line");
    cr_assert_eq(cortex_slab_required_align(100, 4), 64);
    cr_assert_eq(cortex_slab_required_align(16, 128), 128);

    msg_slab s;
    size_t len = msg_slab_required_size(10);
    void *mem = aligned_mem(len, 64);
    cr_assert_eq(msg_slab_init(&s, mem, len, 10), 0, "%s", cortex_last_error()->message);
    cortex_handle h[10];
    uintptr_t prev = 0;
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(msg_slab_alloc(&s, &h[i]), 0);
        struct msg *m = msg_slab_get(&s, h[i]);
        cr_assert_not_null(m);
        cr_assert_eq((uintptr_t)m % 64, 0, "slot %d at %p is not cache-line aligned", i, (void *)m);
        cr_assert(m >= (struct msg *)mem && (uint8_t *)(m + 1) <= (uint8_t *)mem + len);
        if (i)
            cr_assert_geq((uintptr_t)m > prev ? (uintptr_t)m - prev : prev - (uintptr_t)m, 64);
        prev = (uintptr_t)m;
    }
    cr_assert_eq(msg_slab_close(&s), 0);
    free(mem);
}

Test(slab, init_rejects_bad_memory)
{
    cortex_slab *s = NULL;
    size_t len = cortex_slab_required_size(4, 64, 8);
    void *mem = aligned_mem(len + 64, 64);
    cr_assert_eq(cortex_slab_init(&s, mem, len - 1, 4, 64, 8), -EINVAL, "too small");
    cr_assert_eq(cortex_slab_init(&s, (uint8_t *)mem + 8, len, 4, 64, 8), -EINVAL, "misaligned for 64-byte slots");
    cr_assert_eq(cortex_slab_init(&s, NULL, len, 4, 64, 8), -EINVAL);
    cr_assert_null(s);
    free(mem);
}

Test(slab, exhaust_and_refill)
{
    u32_slab s;
    enum { N = 100 };
    size_t len = u32_slab_required_size(N);
    void *mem = aligned_mem(len, 8);
    cr_assert_eq(u32_slab_init(&s, mem, len, N), 0);
    for (int round = 0; round < 3; round++) {
        cortex_handle h[N];
        bool seen[N] = {0};
        for (uint32_t i = 0; i < N; i++) {
            cr_assert_eq(u32_slab_alloc(&s, &h[i]), 0, "round %d alloc %u: %s", round, i,
                         cortex_last_error()->message);
            uint32_t idx = cortex_handle_index(h[i]);
            cr_assert_lt(idx, N);
            cr_assert_not(seen[idx], "slot %u handed out twice", idx);
            seen[idx] = true;
            *u32_slab_get(&s, h[i]) = i;
        }
        cortex_handle extra = 0;
        cr_assert_eq(u32_slab_alloc(&s, &extra), -ENOSPC);
        cr_assert_eq(extra, 0, "a failed alloc leaves *out alone");
        cr_assert_eq(u32_slab_alloc(&s, &extra), -ENOSPC);
        cortex_slab_stats st;
        cr_assert_eq(u32_slab_stats(&s, &st), 0);
        cr_assert_eq(st.free, 0);
        cr_assert_eq(st.allocated, N);
        cr_assert_eq(st.high_water, N);
        cr_assert_eq(st.failed, 2u * (round + 1));
        for (uint32_t i = 0; i < N; i++)
            cr_assert_eq(*u32_slab_get(&s, h[i]), i);
        for (uint32_t i = 0; i < N; i++)
            cr_assert_eq(u32_slab_free(&s, h[(i * 7) % N]), 0); /* out of order */
        cr_assert_eq(u32_slab_stats(&s, &st), 0);
        cr_assert_eq(st.free, N);
    }
    cr_assert_eq(u32_slab_close(&s), 0);
    free(mem);
}

Test(slab, high_water_tracks_peak)
{
    cortex_slab *s;
    size_t len = cortex_slab_required_size(16, 8, 8);
    void *mem = aligned_mem(len, 8);
    cr_assert_eq(cortex_slab_init(&s, mem, len, 16, 8, 8), 0);
    cortex_handle h[5];
    for (int k = 0; k < 100; k++) {
        for (int i = 0; i < 5; i++)
            cr_assert_eq(cortex_slab_alloc(s, &h[i]), 0);
        for (int i = 0; i < 5; i++)
            cr_assert_eq(cortex_slab_free(s, h[i]), 0);
    }
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.high_water, 5, "100 rounds of 5 held at once: peak 5, got %u", st.high_water);
    cr_assert_eq(st.failed, 0);
    cortex_slab_close(s);
    free(mem);
}

Test(slab, stale_double_free_range_garbage)
{
    cortex_slab *s;
    size_t len = cortex_slab_required_size(4, 16, 8);
    void *mem = aligned_mem(len, 8);
    cr_assert_eq(cortex_slab_init(&s, mem, len, 4, 16, 8), 0);
    cortex_handle a, b;
    cr_assert_eq(cortex_slab_alloc(s, &a), 0);
    cr_assert_neq(a, CORTEX_HANDLE_NULL);
    cr_assert_eq(cortex_slab_free(s, a), 0);
    /* double free */
    cr_assert_eq(cortex_slab_free(s, a), -ESTALE);
    cr_assert_eq(cortex_last_error()->code, -ESTALE);
    cr_assert_null(cortex_slab_get(s, a));
    /* the same slot handed out again: the old handle still refused, the new one works */
    cr_assert_eq(cortex_slab_alloc(s, &b), 0);
    cr_assert_eq(cortex_handle_index(a), cortex_handle_index(b), "LIFO reuse of the freed slot");
    cr_assert_neq(a, b);
    cr_assert_null(cortex_slab_get(s, a));
    cr_assert_eq(cortex_slab_free(s, a), -ESTALE);
    cr_assert_eq(cortex_slab_send(s, a), -ESTALE);
    cortex_handle copy = a;
    cr_assert_eq(cortex_slab_receive(s, &copy), -ESTALE);
    cr_assert_eq(copy, a, "a failed receive leaves the handle as it was");
    cr_assert_not_null(cortex_slab_get(s, b), "the stale free did not touch the new allocation");
    /* out of range and garbage (with this slab's tag, so the index and generation checks are reached) */
    cortex_handle far = cx_handle(cortex_handle_generation(b), cortex_slab_tag(s), 5); /* index 4 of 4 */
    cr_assert_eq(cortex_slab_free(s, far), -EINVAL);
    cr_assert_null(cortex_slab_get(s, far));
    cr_assert_eq(cortex_last_error()->code, -EINVAL, "a NULL get says why: %s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_free(s, CORTEX_HANDLE_NULL), -EINVAL);
    cr_assert_null(cortex_slab_get(s, CORTEX_HANDLE_NULL));
    cr_assert_eq(cortex_slab_free(s, UINT64_MAX), cortex_slab_tag(s) == 0xff ? -EINVAL : -ESTALE);
    cortex_handle garbage = cx_handle(cortex_handle_generation(b) ^ 0x5a5a5a5au, cortex_slab_tag(s), 2);
    cr_assert_eq(cortex_slab_free(s, garbage), -ESTALE);
    cr_assert_null(cortex_slab_get(s, garbage));
    cr_assert_eq(cortex_last_error()->code, -ESTALE);
    cr_assert(strstr(cortex_last_error()->message, "stale") != NULL, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_free(s, b), 0);
    cr_assert_eq(cortex_slab_free(NULL, b), -EINVAL);
    cr_assert_null(cortex_slab_get(NULL, b));
    cortex_slab_close(s);
    free(mem);
}

Test(slab, send_receive_transitions)
{
    cortex_slab *s;
    size_t len = cortex_slab_required_size(4, 16, 8);
    void *mem = aligned_mem(len, 8);
    cr_assert_eq(cortex_slab_init(&s, mem, len, 4, 16, 8), 0);
    cortex_handle h;
    cr_assert_eq(cortex_slab_alloc(s, &h), 0);
    cortex_handle r = h;
    cr_assert_eq(cortex_slab_receive(s, &r), -EBUSY, "not in flight");
    cr_assert_eq(cortex_slab_receive(s, NULL), -EINVAL);
    cr_assert_eq(cortex_slab_send(s, h), 0);
    cr_assert_not_null(cortex_slab_get(s, h), "readable while in flight");
    cr_assert_eq(cortex_slab_send(s, h), -EBUSY, "already in flight");
    cr_assert_eq(cortex_slab_free(s, h), -EBUSY, "in flight: the receiver must take it first");
    cortex_slab_stats st;
    cr_assert_eq(cortex_slab_stats_get(s, &st), 0);
    cr_assert_eq(st.in_flight, 1);
    void *p = cortex_slab_get(s, h);
    cr_assert_eq(cortex_slab_receive(s, &r), 0);
    cr_assert_neq(r, h, "receive gives the receiver a handle of its own");
    cr_assert_eq(cortex_handle_index(r), cortex_handle_index(h));
    cr_assert_eq(cortex_slab_get(s, r), p, "the same slot");
    /* the sender's copy is stale now: it can neither reach nor free the receiver's slot */
    cr_assert_null(cortex_slab_get(s, h));
    cr_assert_eq(cortex_slab_free(s, h), -ESTALE);
    cr_assert_eq(cortex_slab_send(s, h), -ESTALE);
    cortex_handle again = h;
    cr_assert_eq(cortex_slab_receive(s, &again), -ESTALE);
    cr_assert_eq(cortex_slab_receive(s, &r), -EBUSY);
    cr_assert_eq(cortex_slab_free(s, r), 0);
    cr_assert_eq(cortex_slab_send(s, r), -ESTALE);
    cr_assert_eq(cortex_slab_free(s, r), -ESTALE, "double free of the receiver's handle");
    cr_assert_eq(cortex_slab_free(s, h), -ESTALE, "the sender's copy after the free");
    /* the slot's next life: neither old handle reaches it */
    cortex_handle n;
    cr_assert_eq(cortex_slab_alloc(s, &n), 0);
    cr_assert_eq(cortex_handle_index(n), cortex_handle_index(h));
    cr_assert_null(cortex_slab_get(s, h));
    cr_assert_null(cortex_slab_get(s, r));
    cr_assert_eq(cortex_slab_free(s, h), -ESTALE);
    cr_assert_eq(cortex_slab_free(s, r), -ESTALE);
    cr_assert_eq(cortex_slab_free(s, n), 0);
    cortex_slab_close(s);
    free(mem);
}

/* A forked child attaches the same memory and hands a slot to the parent through send/receive. */
Test(slab, send_receive_across_processes)
{
    cortex_slab *s;
    char name[64];
    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, "sr")), 8, 64, 8, "struct msg", NULL), 0,
                 "%s", cortex_last_error()->message);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        cortex_slab *c;
        cortex_handle h;
        if (cortex_slab_attach(&c, CORTEX_KEY_NAME(name), 64, 8, "struct msg", NULL) < 0)
            _exit(10);
        if (cortex_slab_alloc(c, &h) < 0)
            _exit(11);
        strcpy(cortex_slab_get(c, h), "from the child");
        if (cortex_slab_send(c, h) < 0)
            _exit(12);
        if (write(fds[1], &h, sizeof h) != sizeof h)
            _exit(13);
        cortex_slab_close(c);
        _exit(0);
    }
    cortex_handle h = 0;
    cr_assert_eq(read(fds[0], &h, sizeof h), (ssize_t)sizeof h);
    cr_assert_eq(nct_wait(pid, 5000), 0);
    cr_assert_str_eq(cortex_slab_get(s, h), "from the child");
    /* The child is gone, but the slot is in flight: plain reclaim leaves it for us. */
    cr_assert_eq(cortex_slab_reclaim(s, 0), 0);
    cortex_handle sent = h;
    cr_assert_eq(cortex_slab_receive(s, &h), 0);
    cr_assert_eq(cortex_slab_reclaim(s, CORTEX_SLAB_RECLAIM_IN_FLIGHT), 0, "we own it now");
    cr_assert_eq(cortex_slab_free(s, sent), -ESTALE, "the child's copy");
    cr_assert_eq(cortex_slab_free(s, h), 0);
    close(fds[0]);
    close(fds[1]);
    cr_assert_eq(cortex_slab_close(s), 0);
}

Test(slab, segment_type_checks)
{
    msg_slab a, b;
    u32_slab c;
    int key = nct_sysv_key();
    cr_assert_eq(msg_slab_create(&a, CORTEX_KEY_SYSV(key), 32, NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(msg_slab_attach(&b, CORTEX_KEY_SYSV(key), NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(u32_slab_attach(&c, CORTEX_KEY_SYSV(key), NULL), -EPROTO, "a slab of struct msg is not uint32_t");
    cr_assert(strstr(cortex_last_error()->message, "struct msg") != NULL, "%s", cortex_last_error()->message);
    cr_assert_not_null(msg_slab_region(&a));
    cr_assert_eq(cortex_region_header(msg_slab_region(&a))->kind, CORTEX_KIND_SLAB);
    cortex_handle h;
    cr_assert_eq(msg_slab_alloc(&a, &h), 0);
    msg_slab_get(&a, h)->seq = 42;
    cr_assert_eq(msg_slab_get(&b, h)->seq, 42, "both views see one slot");
    cr_assert_eq(msg_slab_free(&b, h), 0);
    cr_assert_eq(msg_slab_free(&a, h), -ESTALE);
    cr_assert_eq(msg_slab_close(&b), 0);
    cr_assert_eq(msg_slab_close(&a), 0);
    cr_assert_eq(msg_slab_attach(&b, CORTEX_KEY_SYSV(key), NULL), -ENOENT, "the owner's close removed it");
}

Test(slab, type_tag_override)
{
    msg_slab a;
    cortex_slab *raw;
    char name[64];
    cortex_opts o = {.type_tag = "wire.msg.v1"};
    cr_assert_eq(msg_slab_create(&a, CORTEX_KEY_NAME(nct_name(name, "tag")), 4, &o), 0);
    cr_assert_eq(cortex_slab_attach(&raw, CORTEX_KEY_NAME(name), sizeof(struct msg), _Alignof(struct msg),
                                    "struct msg", NULL),
                 -EPROTO);
    cr_assert_eq(cortex_slab_attach(&raw, CORTEX_KEY_NAME(name), 0, 0, "wire.msg.v1", NULL), 0);
    cortex_slab_close(raw);
    msg_slab_close(&a);
}

Test(slab, corrupt_header_refused)
{
    size_t len = cortex_slab_required_size(4, 16, 8);
    uint8_t *mem = aligned_mem(len, 8);
    cortex_slab *s = NULL;
    cr_assert_eq(cortex_slab_init(&s, mem, len, 4, 16, 8), 0);
    cortex_slab_close(s);
    cr_assert_eq(cortex_slab_attach_raw(&s, mem, len, 16, 8), 0);
    cortex_slab_close(s);
    s = NULL;
    cr_assert_eq(cortex_slab_attach_raw(&s, mem, len, 32, 8), -EPROTO);
    cr_assert_eq(cortex_slab_attach_raw(&s, mem, len - 1, 0, 0), -EBADMSG, "shorter than the header says");
    struct cortex__slab_hdr *h = (struct cortex__slab_hdr *)mem;
    h->slots = 1000000; /* would reach far past the memory; the checksum catches it */
    cr_assert_eq(cortex_slab_attach_raw(&s, mem, len, 0, 0), -EBADMSG);
    h->check = cortex__fnv1a32(h, offsetof(struct cortex__slab_hdr, check));
    cr_assert_eq(cortex_slab_attach_raw(&s, mem, len, 0, 0), -EBADMSG, "re-checksummed, still too big: %s",
                 cortex_last_error()->message);
    memset(mem, 0, 64);
    cr_assert_eq(cortex_slab_attach_raw(&s, mem, len, 0, 0), -EBADMSG);
    cr_assert_null(s);
    free(mem);
}

/* Hostile memory in one process (the multi-process version is in test_slab_mp.c). */
Test(slab, corrupt_links_give_ebadmsg)
{
    enum { N = 8 };
    size_t len = cortex_slab_required_size(N, 16, 8);
    for (int kind = 0; kind < 3; kind++) {
        uint8_t *mem = aligned_mem(len, 8);
        cortex_slab *s;
        cr_assert_eq(cortex_slab_init(&s, mem, len, N, 16, 8), 0);
        struct cortex__slot_meta *m = meta_of(mem);
        struct cortex__slab_shared *sh = (struct cortex__slab_shared *)mem;
        if (kind == 0)
            atomic_store(&m[2].next, 5000); /* link out of range */
        else if (kind == 1)
            atomic_store(&m[3].next, 1); /* slot 3 -> slot 0: a cycle */
        else
            atomic_store(&sh->head, cx_head(7, 0, 0, 99)); /* head out of range */
        int rc = 0, n = 0;
        cortex_handle h;
        while (n <= N + 1 && (rc = cortex_slab_alloc(s, &h)) == 0)
            n++;
        cr_assert_eq(rc, -EBADMSG, "kind %d: %d allocs then %d (%s)", kind, n, rc, cortex_last_error()->message);
        cr_assert_leq(n, N);
        cortex_slab_close(s);
        free(mem);
    }
}

Test(slab, pool_classes_and_enospc)
{
    cortex_pool_class cls[] = {{64, 4}, {4096, 2}, {65536, 1}};
    cortex_pool *p;
    char name[64];
    cr_assert_eq(cortex_pool_create(&p, CORTEX_KEY_NAME(nct_name(name, "pool")), cls, 3, NULL), 0, "%s",
                 cortex_last_error()->message);
    cortex_handle h;
    size_t cap = 0;
    cr_assert_eq(cortex_pool_alloc(p, 10, &h), 0);
    cr_assert_not_null(cortex_pool_get(p, h, &cap));
    cr_assert_eq(cap, 64, "10 bytes: smallest class");
    cr_assert_eq(cortex_pool_free(p, h), 0);
    cr_assert_eq(cortex_pool_free(p, h), -ESTALE);
    cr_assert_eq(cortex_pool_alloc(p, 65, &h), 0);
    cr_assert_not_null(cortex_pool_get(p, h, &cap));
    cr_assert_eq(cap, 4096);
    memset(cortex_pool_get(p, h, NULL), 1, 4096);
    cr_assert_eq(cortex_pool_free(p, h), 0);
    cr_assert_eq(cortex_pool_alloc(p, 65537, &h), -ERANGE);
    /* exhaust: 64-byte requests fill class 0, then spill into larger classes, then -ENOSPC */
    cortex_handle all[7];
    size_t caps[7];
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(cortex_pool_alloc(p, 64, &all[i]), 0, "alloc %d: %s", i, cortex_last_error()->message);
        cr_assert_not_null(cortex_pool_get(p, all[i], &caps[i]));
    }
    cr_assert_eq(caps[0], 64);
    cr_assert_eq(caps[4], 4096);
    cr_assert_eq(caps[6], 65536);
    cr_assert_eq(cortex_pool_alloc(p, 1, &h), -ENOSPC);
    cr_assert_eq(cortex_pool_alloc(p, 5000, &h), -ENOSPC);
    cr_assert_eq(cortex_pool_free(p, all[6]), 0);
    cr_assert_eq(cortex_pool_alloc(p, 5000, &h), 0);
    cr_assert_eq(cortex_pool_free(p, h), 0);
    cortex_handle none = UINT64_C(0x00000001ff000001);
    for (unsigned t = 0; t < 256; t++) { /* a tag none of the 3 classes has */
        none = (none & ~UINT64_C(0xff000000)) | ((uint64_t)t << 24);
        bool used = false;
        for (unsigned c = 0; c < 3; c++)
            used |= cortex_slab_tag(cortex_pool_class_slab(p, c)) == t;
        if (!used)
            break;
    }
    cr_assert_eq(cortex_pool_free(p, none), -ESTALE, "a tag of no class");
    cr_assert_null(cortex_pool_get(p, none, NULL));
    cr_assert(strstr(cortex_last_error()->message, "none of the pool's 3 classes") != NULL, "%s",
              cortex_last_error()->message);
    cr_assert_eq(cortex_pool_free(p, CORTEX_HANDLE_NULL), -EINVAL);

    cortex_pool *q;
    cr_assert_eq(cortex_pool_attach(&q, CORTEX_KEY_NAME(name), NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_pool_classes(q), 3);
    cr_assert_eq(cortex_pool_free(q, all[0]), 0, "a handle works in every view");
    cortex_slab_info info;
    cr_assert_eq(cortex_slab_inspect(cortex_pool_region(q), &info), 0);
    cr_assert_eq(info.kind, CORTEX_KIND_POOL);
    cr_assert_eq(info.classes, 3);
    cr_assert_eq(info.slots, 7);
    cr_assert_eq(info.free, 2);
    cr_assert_eq(info.allocated, 5);
    cr_assert(info.list_ok);
    cr_assert_eq(cortex_pool_close(q), 0);
    cr_assert_eq(cortex_pool_close(p), 0);

    cortex_pool_class bad[] = {{64, 4}, {64, 4}};
    cr_assert_eq(cortex_pool_create(&p, CORTEX_KEY_HEAP, bad, 2, NULL), -EINVAL);
}

/* Slab A's handle in slab B, both laid out the same way and used in the same order: refused everywhere. */
static void assert_foreign_refused(cortex_slab *b, cortex_handle foreign, cortex_handle own)
{
    void *mine = cortex_slab_get(b, own);
    cr_assert_not_null(mine);
    cr_assert_null(cortex_slab_get(b, foreign), "handle 0x%016llx of another slab resolves here",
                   (unsigned long long)foreign);
    cr_assert_eq(cortex_last_error()->code, -ESTALE, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_free(b, foreign), -ESTALE, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_send(b, foreign), -ESTALE);
    cortex_handle f = foreign;
    cr_assert_eq(cortex_slab_receive(b, &f), -ESTALE);
    cr_assert_eq(cortex_slab_get(b, own), mine, "the foreign handle did not touch B's slot");
}

Test(slab, foreign_handles_refused_raw)
{
    enum { PAIRS = 64, N = 4 };
    size_t len = cortex_slab_required_size(N, 16, 8);
    unsigned same_tag = 0;
    for (int k = 0; k < PAIRS; k++) {
        void *ma = aligned_mem(len, 8), *mb = aligned_mem(len, 8);
        cortex_slab *a, *b;
        cr_assert_eq(cortex_slab_init(&a, ma, len, N, 16, 8), 0);
        cr_assert_eq(cortex_slab_init(&b, mb, len, N, 16, 8), 0);
        same_tag += cortex_slab_tag(a) == cortex_slab_tag(b);
        cortex_handle ha[N], hb[N];
        for (int i = 0; i < N; i++) {
            cr_assert_eq(cortex_slab_alloc(a, &ha[i]), 0);
            cr_assert_eq(cortex_slab_alloc(b, &hb[i]), 0);
            cr_assert_eq(cortex_handle_index(ha[i]), cortex_handle_index(hb[i]), "same order, same slots");
            cr_assert_neq(ha[i], hb[i], "two fresh slabs issued the same handle 0x%016llx",
                          (unsigned long long)ha[i]);
            cr_assert_eq(cortex_handle_tag(ha[i]), cortex_slab_tag(a));
        }
        for (int i = 0; i < N; i++) {
            assert_foreign_refused(b, ha[i], hb[i]);
            assert_foreign_refused(a, hb[i], ha[i]);
        }
        /* after a free and a new allocation of the same slot in both, still apart */
        cr_assert_eq(cortex_slab_free(a, ha[0]), 0);
        cr_assert_eq(cortex_slab_free(b, hb[0]), 0);
        cr_assert_eq(cortex_slab_alloc(a, &ha[0]), 0);
        cr_assert_eq(cortex_slab_alloc(b, &hb[0]), 0);
        assert_foreign_refused(b, ha[0], hb[0]);
        for (int i = 0; i < N; i++) {
            cr_assert_eq(cortex_slab_free(a, ha[i]), 0);
            cr_assert_eq(cortex_slab_free(b, hb[i]), 0);
        }
        cortex_slab_close(a);
        cortex_slab_close(b);
        free(ma);
        free(mb);
    }
    cr_log_info("%u of %d pairs shared a tag (refused by generation)", same_tag, PAIRS);
    cr_assert_lt(same_tag, PAIRS / 4, "tags are not random: %u of %d pairs share one", same_tag, PAIRS);
}

/* The case: two fresh segments created the same way both used to issue 0x100000001. */
Test(slab, foreign_handles_refused_segments)
{
    msg_slab a, b;
    char na[64], nb[64];
    cr_assert_eq(msg_slab_create(&a, CORTEX_KEY_NAME(nct_name(na, "fa")), 8, NULL), 0, "%s",
                 cortex_last_error()->message);
    cr_assert_eq(msg_slab_create(&b, CORTEX_KEY_NAME(nct_name(nb, "fb")), 8, NULL), 0, "%s",
                 cortex_last_error()->message);
    cortex_handle ha, hb;
    cr_assert_eq(msg_slab_alloc(&a, &ha), 0);
    cr_assert_eq(msg_slab_alloc(&b, &hb), 0);
    cr_assert_neq(ha, hb);
    assert_foreign_refused(msg_slab_core(&b), ha, hb);
    assert_foreign_refused(msg_slab_core(&a), hb, ha);
    /* another view of A (attach) accepts A's handle: the tag is the slab's, not the view's */
    msg_slab a2;
    cr_assert_eq(msg_slab_attach(&a2, CORTEX_KEY_NAME(na), NULL), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_slab_tag(msg_slab_core(&a2)), cortex_slab_tag(msg_slab_core(&a)));
    cr_assert_eq(msg_slab_get(&a2, ha), msg_slab_get(&a2, ha));
    cr_assert_not_null(msg_slab_get(&a2, ha));
    cr_assert_eq(msg_slab_free(&a2, ha), 0);
    cr_assert_eq(msg_slab_close(&a2), 0);
    cr_assert_eq(msg_slab_free(&b, hb), 0);
    cr_assert_eq(msg_slab_close(&a), 0);
    cr_assert_eq(msg_slab_close(&b), 0);
}

/* Pools: another pool's handle, a slab's handle in a pool and a pool's handle in a slab are refused. */
Test(slab, foreign_handles_refused_pools)
{
    cortex_pool_class cls[] = {{64, 4}, {1024, 2}};
    size_t len = cortex_pool_required_size(cls, 2);
    void *ma = aligned_mem(len, 64), *mb = aligned_mem(len, 64);
    cortex_pool *a, *b;
    cr_assert_eq(cortex_pool_init(&a, ma, len, cls, 2), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_pool_init(&b, mb, len, cls, 2), 0);
    cr_assert_neq(cortex_slab_tag(cortex_pool_class_slab(a, 0)), cortex_slab_tag(cortex_pool_class_slab(a, 1)),
                  "the classes of one pool have different tags");
    cortex_handle ha, hb, hs;
    size_t cap = 0;
    cr_assert_eq(cortex_pool_alloc(a, 100, &ha), 0);
    cr_assert_eq(cortex_pool_alloc(b, 100, &hb), 0);
    cr_assert_neq(ha, hb);
    cr_assert_not_null(cortex_pool_get(a, ha, &cap));
    cr_assert_eq(cap, 1024, "the tag names the class");
    cr_assert_null(cortex_pool_get(b, ha, NULL));
    cr_assert_eq(cortex_pool_free(b, ha), -ESTALE, "%s", cortex_last_error()->message);
    cr_assert_eq(cortex_pool_send(b, ha), -ESTALE);
    cortex_handle f = ha;
    cr_assert_eq(cortex_pool_receive(b, &f), -ESTALE);
    cr_assert_not_null(cortex_pool_get(b, hb, NULL), "B's slot untouched");
    /* a plain slab and a pool: neither takes the other's handles */
    size_t sl = cortex_slab_required_size(4, 64, 8);
    void *ms = aligned_mem(sl, 64);
    cortex_slab *s;
    cr_assert_eq(cortex_slab_init(&s, ms, sl, 4, 64, 8), 0);
    cr_assert_eq(cortex_slab_alloc(s, &hs), 0);
    cr_assert_null(cortex_slab_get(s, ha));
    cr_assert_eq(cortex_slab_free(s, ha), -ESTALE);
    cr_assert_null(cortex_pool_get(a, hs, NULL));
    cr_assert_eq(cortex_pool_free(a, hs), -ESTALE);
    cr_assert_eq(cortex_slab_free(s, hs), 0);
    cr_assert_eq(cortex_pool_free(a, ha), 0);
    cr_assert_eq(cortex_pool_free(b, hb), 0);
    cortex_slab_close(s);
    cortex_pool_close(a);
    cortex_pool_close(b);
    free(ma);
    free(mb);
    free(ms);
}

/* Pool hand-over: the receiver's new handle keeps its class; the sender's copy is stale. */
Test(slab, pool_send_receive_new_handle)
{
    cortex_pool_class cls[] = {{64, 2}, {4096, 2}};
    size_t len = cortex_pool_required_size(cls, 2);
    void *mem = aligned_mem(len, 64);
    cortex_pool *p;
    cr_assert_eq(cortex_pool_init(&p, mem, len, cls, 2), 0);
    cortex_handle h, r;
    size_t cap = 0;
    cr_assert_eq(cortex_pool_alloc(p, 3000, &h), 0);
    cr_assert_eq(cortex_pool_send(p, h), 0);
    r = h;
    cr_assert_eq(cortex_pool_receive(p, &r), 0);
    cr_assert_neq(r, h);
    cr_assert_not_null(cortex_pool_get(p, r, &cap));
    cr_assert_eq(cap, 4096, "the new handle names the same class");
    cr_assert_null(cortex_pool_get(p, h, NULL));
    cr_assert_eq(cortex_pool_free(p, h), -ESTALE);
    cr_assert_eq(cortex_pool_free(p, r), 0);
    cr_assert_eq(cortex_pool_receive(p, NULL), -EINVAL);
    cortex_pool_close(p);
    free(mem);
}

/* A pool whose classes share a tag (only a hostile writer makes one) is refused at attach. */
Test(slab, pool_duplicate_tags_refused)
{
    cortex_pool_class cls[] = {{64, 2}, {128, 2}};
    cortex_pool *p, *q = NULL;
    char name[64];
    cr_assert_eq(cortex_pool_create(&p, CORTEX_KEY_NAME(nct_name(name, "dup")), cls, 2, NULL), 0, "%s",
                 cortex_last_error()->message);
    uint8_t *mem = cortex_region_payload(cortex_pool_region(p));
    uint64_t len = cortex_region_payload_size(cortex_pool_region(p));
    /* the class slabs' headers: slab magic at cache-line offsets */
    struct cortex__slab_hdr *hs[2] = {NULL, NULL};
    int n = 0;
    for (uint64_t off = 64; off + sizeof(struct cortex__slab_hdr) <= len && n < 2; off += 64) {
        struct cortex__slab_hdr *h = (struct cortex__slab_hdr *)(void *)(mem + off);
        if (h->magic == CORTEX__SLAB_MAGIC)
            hs[n++] = h;
    }
    cr_assert_eq(n, 2);
    hs[1]->id = (hs[1]->id & ~0xffu) | (hs[0]->id & 0xffu);
    hs[1]->check = cortex__fnv1a32(hs[1], offsetof(struct cortex__slab_hdr, check));
    cr_assert_eq(cortex_pool_attach(&q, CORTEX_KEY_NAME(name), NULL), -EBADMSG);
    cr_assert(strstr(cortex_last_error()->message, "share the handle tag") != NULL, "%s",
              cortex_last_error()->message);
    cr_assert_null(q);
    cr_assert_eq(cortex_pool_close(p), 0);
}

Test(slab, inspect_reads_without_writing)
{
    cortex_slab *s;
    char name[64];
    cr_assert_eq(cortex_slab_create(&s, CORTEX_KEY_NAME(nct_name(name, "insp")), 6, 32, 8, "blob", NULL), 0);
    cortex_handle h[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cortex_slab_alloc(s, &h[i]), 0);
    cr_assert_eq(cortex_slab_send(s, h[2]), 0);
    cortex_region *r = cortex_slab_region(s);
    size_t len = cortex_region_payload_size(r);
    uint8_t *before = malloc(len);
    memcpy(before, cortex_region_payload(r), len);
    cortex_slab_info info;
    cr_assert_eq(cortex_slab_inspect(r, &info), 0, "%s", cortex_last_error()->message);
    cr_assert_eq(memcmp(before, cortex_region_payload(r), len), 0, "inspect wrote to the segment");
    cr_assert_eq(info.kind, CORTEX_KIND_SLAB);
    cr_assert_eq(info.slots, 6);
    cr_assert_eq(info.slot_size, 32);
    cr_assert_eq(info.free, 3);
    cr_assert_eq(info.allocated, 2);
    cr_assert_eq(info.in_flight, 1);
    cr_assert_eq(info.high_water, 3);
    cr_assert_eq(info.dead_held, 0);
    cr_assert_eq(info.procs, 1);
    cr_assert(info.list_ok);
    /* a cycle in the free list: reported, not followed forever */
    struct cortex__slot_meta *m = meta_of(cortex_region_payload(r));
    atomic_store(&m[5].next, 4); /* slot 5 -> slot 3 -> 4 -> 5 */
    cr_assert_eq(cortex_slab_inspect(r, &info), 0);
    cr_assert_not(info.list_ok);
    memset(cortex_region_payload(r), 0xff, 64);
    cr_assert_eq(cortex_slab_inspect(r, &info), -EBADMSG);
    cr_assert_eq(cortex_slab_inspect(NULL, &info), -EINVAL);
    free(before);
    cortex_slab_close(s);
}
