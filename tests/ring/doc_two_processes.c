#include <neocortex.h>
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

struct sample {
    uint64_t seq;
    float value[6];
};
SPSC_RING_DECLARE(sample_ring, struct sample);

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/nct-%d-doc-ring", (int)getpid());
    sample_ring r;
    int rc = sample_ring_create(&r, CORTEX_KEY_NAME(name), 1024, CORTEX_CONSUMER, NULL);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", cortex_strerror(rc), cortex_last_error()->message);
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) { /* the producer */
        sample_ring p;
        if (sample_ring_attach(&p, CORTEX_KEY_NAME(name), CORTEX_PRODUCER, NULL) < 0)
            _exit(1);
        for (uint64_t i = 0; i < 1000; i++) {
            struct sample s = {.seq = i};
            if (sample_ring_push_wait(&p, s, -1) < 0) /* waits while the ring is full */
                _exit(1);
        }
        sample_ring_close(&p); /* the consumer drains what is left, then sees -EPIPE */
        _exit(0);
    }
    struct sample s;
    uint64_t n = 0;
    while ((rc = sample_ring_pop_wait(&r, &s, 5000000000)) == 0) /* 5 s timeout */
        if (s.seq == n)
            n++;
    int status;
    waitpid(pid, &status, 0);
    sample_ring_close(&r); /* the creator owns the segment: this removes it */
    printf("%llu samples, then %s\n", (unsigned long long)n, cortex_errname(rc));
    return rc == -EPIPE && n == 1000 ? 0 : 1;
}
