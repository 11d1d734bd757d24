// SPDX-License-Identifier: MIT
// Boost.Lockfree spsc_queue side of bench_ring.c: thread pair, capacity 1024,
// single push/pop and batch-32 push(arr, n)/pop(arr, n); the consumer checks
// every sequence number.  Returns messages/s (or -1 on a wrong number).
#include <boost/lockfree/spsc_queue.hpp>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

extern "C" double boost_spsc_run(int elem64, int batch, uint64_t n);
extern "C" void bench_pin(int cpu);
extern "C" int64_t bench_now_ns(void);
extern "C" void bench_share_begin(int64_t *wall, int64_t *cpu);
extern "C" double bench_share_end(int64_t wall, int64_t cpu);
extern "C" double bench_share_p, bench_share_c;

namespace {
struct e64 {
    uint64_t seq;
    uint64_t pad[7];
};
inline uint64_t seq_of(uint64_t v) { return v; }
inline uint64_t seq_of(const e64 &v) { return v.seq; }
inline void set_seq(uint64_t &v, uint64_t s) { v = s; }
inline void set_seq(e64 &v, uint64_t s) { v.seq = s; }

template <class T> struct job {
    boost::lockfree::spsc_queue<T, boost::lockfree::capacity<1024>> q;
    uint64_t n;
    int batch;
};

template <class T> void *producer(void *arg)
{
    job<T> *j = static_cast<job<T> *>(arg);
    bench_pin(0);
    int64_t w, c;
    bench_share_begin(&w, &c);
    T buf[32] = {};
    uint64_t next = 0;
    while (next < j->n) {
        if (j->batch) {
            size_t want = j->n - next < 32 ? (size_t)(j->n - next) : 32;
            for (size_t i = 0; i < want; i++)
                set_seq(buf[i], next + i);
            next += j->q.push(buf, want);
        } else {
            T v{};
            set_seq(v, next);
            if (j->q.push(v))
                next++;
        }
    }
    bench_share_p = bench_share_end(w, c);
    return nullptr;
}

template <class T> double run(int batch, uint64_t n)
{
    job<T> *j = new job<T>();
    j->n = n;
    j->batch = batch;
    pthread_t t;
    pthread_create(&t, nullptr, producer<T>, j);
    bench_pin(1);
    uint64_t expect = 0, bad = 0;
    int64_t t0 = 0, sw, sc;
    bench_share_begin(&sw, &sc);
    T buf[32];
    while (expect < n) {
        size_t k = batch ? j->q.pop(buf, 32) : (j->q.pop(buf[0]) ? 1 : 0);
        if (k && !t0)
            t0 = bench_now_ns();
        for (size_t i = 0; i < k; i++, expect++)
            bad += seq_of(buf[i]) != expect;
    }
    int64_t t1 = bench_now_ns();
    bench_share_c = bench_share_end(sw, sc);
    pthread_join(t, nullptr);
    delete j;
    return bad ? -1.0 : (double)(n - 1) * 1e9 / (double)(t1 - t0);
}
} // namespace

extern "C" double boost_spsc_run(int elem64, int batch, uint64_t n)
{
    return elem64 ? run<e64>(batch, n) : run<uint64_t>(batch, n);
}
