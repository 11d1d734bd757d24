/* docs/slab.md, "Variable sizes: a pool": compiled and run by the unit suite (plain test slab-doc-pool). */
#include <errno.h>
#include <neocortex.h>
#include <string.h>

int main(void)
{
    static const cortex_pool_class classes[] = {
        {64, 256}, {1024, 64}, {4096, 16}, {65536, 4},
    };
    cortex_pool *p;
    if (cortex_pool_create(&p, CORTEX_KEY_MEMFD("msgs"), classes, 4, NULL) < 0)
        return 1;
    cortex_handle h;
    size_t cap;
    if (cortex_pool_alloc(p, 3000, &h) < 0) /* smallest class that fits: 4096 */
        return 1;
    char *buf = cortex_pool_get(p, h, &cap);
    memset(buf, 'x', 3000);
    int ok = cap == 4096 && cortex_pool_alloc(p, 100000, &h) == -ERANGE && cortex_pool_free(p, h) == 0;
    cortex_pool_close(p);
    return ok ? 0 : 1;
}
