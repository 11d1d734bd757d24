/* docs/slab.md, "Crash recovery": compiled and run by the unit suite (plain test slab-doc-reclaim). */
#include <neocortex.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    cortex_slab *s;
    if (cortex_slab_create(&s, CORTEX_KEY_MEMFD("jobs"), 64, 256, 8, "job", NULL) < 0)
        return 1;
    int ready[2];
    if (pipe(ready) != 0)
        return 1;
    pid_t worker = fork();
    if (worker == 0) { /* inherits the mapping; takes 3 slots, then is killed */
        cortex_handle h;
        for (int i = 0; i < 3; i++)
            if (cortex_slab_alloc(s, &h) < 0)
                _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 1;
    kill(worker, SIGKILL);
    waitpid(worker, NULL, 0);
    int n = cortex_slab_reclaim(s, 0); /* frees what the dead worker held */
    printf("reclaimed %d slots\n", n);
    cortex_slab_close(s);
    return n == 3 ? 0 : 1;
}
