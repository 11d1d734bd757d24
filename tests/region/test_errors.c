/* SPDX-License-Identifier: MIT */
/* The error model: names, strings, thread-local detail, the log hook. */
#include <criterion/criterion.h>
#include <errno.h>
#include <neocortex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "nctest.h"

TestSuite(errors, .fini = nct_cleanup, .timeout = 30);

Test(errors, strerror_and_names)
{
    cr_assert_str_eq(cortex_strerror(0), "success");
    cr_assert_str_eq(cortex_strerror(-EEXIST), "segment exists");
    cr_assert_str_eq(cortex_strerror(EEXIST), "segment exists", "positive codes work too");
    cr_assert_str_eq(cortex_errname(-EPROTO), "EPROTO");
    cr_assert_str_eq(cortex_errname(-EOWNERDEAD), "EOWNERDEAD");
    cr_assert_str_eq(cortex_errname(-99999), "E?");
    cr_assert_str_eq(cortex_strerror(-99999), "unknown error");
    int codes[] = {EEXIST, ENOENT, EACCES, EINVAL, ETIMEDOUT, EAGAIN, ENOSPC, ESTALE, EPIPE,
                   EOWNERDEAD, ENOTRECOVERABLE, EPROTO, EBADMSG, EBUSY, ENOTSUP};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        cr_assert_str_neq(cortex_strerror(-codes[i]), "unknown error", "%d", codes[i]);
        cr_assert_str_neq(cortex_errname(-codes[i]), "E?", "%d", codes[i]);
    }
}

Test(errors, detail_names_the_syscall_and_key)
{
    cortex_clear_error();
    cr_assert_eq(cortex_last_error()->code, 0);
    int key = nct_sysv_key();
    cortex_region *r = NULL;
    cortex_layout raw = {.kind = CORTEX_KIND_RAW, .payload_size = 8};
    cr_assert_eq(cortex_region_attach(&r, CORTEX_KEY_SYSV(key), &raw, NULL), -ENOENT);
    const cortex_error *e = cortex_last_error();
    cr_assert_eq(e->code, -ENOENT);
    cr_assert_eq(e->sys_errno, ENOENT);
    cr_assert_str_eq(e->syscall, "shmget");
    cr_assert(!e->dirty);
    char want[64];
    snprintf(want, sizeof want, "0x%08x", (unsigned)key);
    cr_assert(strstr(e->message, want), "message names the key: %s", e->message);
}

static void *other_thread(void *arg)
{
    cortex_region *r = NULL;
    cortex_layout raw = {.kind = CORTEX_KIND_RAW, .payload_size = 8};
    int rc = cortex_region_attach(&r, CORTEX_KEY_NAME("/nct-never-exists-here"), &raw, NULL);
    (void)rc;
    *(int *)arg = cortex_last_error()->code;
    return NULL;
}

Test(errors, detail_is_thread_local)
{
    cortex_clear_error();
    int code = 0;
    pthread_t t;
    pthread_create(&t, NULL, other_thread, &code);
    pthread_join(t, NULL);
    cr_assert_eq(code, -ENOENT);
    cr_assert_eq(cortex_last_error()->code, 0, "another thread's failure is not ours");
}

static int hook_calls;
static void hook(const cortex_error *e, void *ctx)
{
    hook_calls++;
    *(int *)ctx = e->code;
}

Test(errors, key_describe)
{
    char buf[128];
    cr_assert_str_eq(cortex_key_describe(CORTEX_KEY_SYSV(0x1234), buf, sizeof buf), "SysV key 0x00001234");
    cr_assert_str_eq(cortex_key_describe(CORTEX_KEY_NAME("/x"), buf, sizeof buf), "POSIX name /x");
    cr_assert_str_eq(cortex_key_describe(CORTEX_KEY_FD(5), buf, sizeof buf), "fd 5");
    cr_assert_str_eq(cortex_key_describe(CORTEX_KEY_FILE("/tmp/f"), buf, sizeof buf), "file /tmp/f");
    cortex_key bad = {0};
    cr_assert(strstr(cortex_key_describe(bad, buf, sizeof buf), "invalid key"));
    int code = 0;
    cortex_set_log_hook(hook, &code);
    cortex_set_log_hook(NULL, NULL);
    cr_assert_eq(hook_calls, 0, "installing a hook calls nothing");
}

Test(errors, dirty_close_goes_to_the_log_hook)
{
    /* The owner's close cannot remove its file: someone put a directory in its place. */
    char path[96];
    nct_path(path, "dirty");
    cortex_layout raw = {.kind = CORTEX_KIND_RAW, .payload_size = 8};
    cortex_region *r = NULL;
    cr_assert_eq(cortex_region_create(&r, CORTEX_KEY_FILE(path), &raw, NULL, NULL, NULL), 0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkdir(path, 0700), 0);
    int code = 0;
    hook_calls = 0;
    cortex_set_log_hook(hook, &code);
    int rc = cortex_region_close(r);
    cortex_set_log_hook(NULL, NULL);
    rmdir(path);
    cr_assert(rc < 0, "close reports the failed removal");
    cr_assert_eq(hook_calls, 1, "and passes it to the log hook");
    cr_assert_eq(code, rc);
    const cortex_error *e = cortex_last_error();
    cr_assert(e->dirty);
    cr_assert(strstr(e->leftover, path), "leftover names the file: %s", e->leftover);
    cr_assert_str_eq(e->syscall, "unlink");
}
