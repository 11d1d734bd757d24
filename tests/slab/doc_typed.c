/* docs/slab.md, "A typed slab": compiled and run by the unit suite (plain test slab-doc-typed). */
#include <errno.h>
#include <neocortex.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct order {
    uint64_t id;
    char symbol[16];
    double price;
};

SLAB_DECLARE(orders, struct order);

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/nct-doc-orders-%d", (int)getpid());
    orders s;
    int rc = orders_create(&s, CORTEX_KEY_NAME(name), 1024, NULL);
    if (rc < 0) {
        fprintf(stderr, "create: %s\n", cortex_last_error()->message);
        return 1;
    }
    cortex_handle h;
    if (orders_alloc(&s, &h) < 0) /* -ENOSPC when all 1024 are taken */
        return 1;
    struct order *o = orders_get(&s, h);
    o->id = 7;
    strcpy(o->symbol, "ACME");
    o->price = 12.5;

    pid_t pid = fork();
    if (pid == 0) { /* another process: same segment, same handle */
        orders c;
        if (orders_attach(&c, CORTEX_KEY_NAME(name), NULL) < 0)
            _exit(1);
        struct order *seen = orders_get(&c, h);
        int ok = seen && seen->id == 7 && orders_free(&c, h) == 0;
        orders_close(&c);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    /* The child freed it: our handle is stale now. */
    if (orders_get(&s, h) != NULL || orders_free(&s, h) != -ESTALE)
        return 1;
    return orders_close(&s) == 0 ? 0 : 1; /* the creator's close removes the segment */
}
