/* Two-thread queue measurements in C (ck_ring.h does not compile as C++):
 * the engine's worker-to-worker queue (src/transport/queue.h) beside raw ck_ring SPSC,
 * the same buffer size, the same items, in the same run. The one file of the
 * harness that reaches an internal header: the queue has no public API. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <ck_ring.h>

#include "queue.h"
#include "queue_pair.h"

typedef struct raw {
    struct ck_ring ring;
    struct ck_ring_buffer *buf;
} raw;

typedef struct pair {
    int which;              /* 0: raw ck_ring; 1: cw__queue */
    raw r[2];
    cw__queue *q[2];
    uint64_t n;
} pair;

static bool push(pair *p, int i, void *v)
{
    return p->which ? cw__queue_push(p->q[i], v) : ck_ring_enqueue_spsc(&p->r[i].ring, p->r[i].buf, v);
}

static bool pop(pair *p, int i, void **v)
{
    return p->which ? cw__queue_pop(p->q[i], v) : ck_ring_dequeue_spsc(&p->r[i].ring, p->r[i].buf, v);
}

/* Producer on CPU 0, consumer on CPU 1 (when there are two): both queues are
 * measured with the same placement, which otherwise varies run to run. */
static void pin(int cpu)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void unpin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (long i = 0; i < sysconf(_SC_NPROCESSORS_ONLN) && i < CPU_SETSIZE; i++)
        CPU_SET(i, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *consume(void *arg)
{
    pair *p = arg;
    pin(1);
    void *v;
    for (uint64_t got = 0; got < p->n;)
        if (pop(p, 0, &v))
            got++;
        else
            ck_pr_stall();
    return NULL;
}

static void *echo(void *arg)
{
    pair *p = arg;
    pin(1);
    void *v;
    for (uint64_t i = 0; i < p->n; i++) {
        while (!pop(p, 0, &v))
            ck_pr_stall();
        while (!push(p, 1, v))
            ck_pr_stall();
    }
    return NULL;
}

static int open_pair(pair *p, int which, uint32_t capacity)
{
    p->which = which;
    for (int i = 0; i < 2; i++) {
        if (which) {
            if (!(p->q[i] = cw__queue_create(capacity)))
                return -1;
        } else {
            p->r[i].buf = calloc(capacity, sizeof *p->r[i].buf);
            if (!p->r[i].buf)
                return -1;
            ck_ring_init(&p->r[i].ring, capacity);
        }
    }
    return 0;
}

static void close_pair(pair *p)
{
    for (int i = 0; i < 2; i++) {
        cw__queue_destroy(p->q[i]);
        free(p->r[i].buf);
    }
}

double cwb_queue_throughput(int which, uint64_t messages, uint32_t capacity)
{
    pair p = {0};
    p.n = messages;
    if (open_pair(&p, which, capacity) != 0)
        return -1;
    pthread_t t;
    pin(0);
    double t0 = seconds();
    pthread_create(&t, NULL, consume, &p);
    for (uint64_t i = 0; i < messages; i++)
        while (!push(&p, 0, (void *)(uintptr_t)(i + 1)))
            ck_pr_stall();
    pthread_join(t, NULL);
    double dt = seconds() - t0;
    unpin();
    close_pair(&p);
    return dt;
}

double cwb_queue_round_trips(int which, uint64_t rounds)
{
    pair p = {0};
    p.n = rounds;
    if (open_pair(&p, which, 64) != 0)
        return -1;
    pthread_t t;
    pin(0);
    pthread_create(&t, NULL, echo, &p);
    void *v;
    double t0 = seconds();
    for (uint64_t i = 0; i < rounds; i++) {
        while (!push(&p, 0, (void *)(uintptr_t)(i + 1)))
            ck_pr_stall();
        while (!pop(&p, 1, &v))
            ck_pr_stall();
    }
    double dt = seconds() - t0;
    pthread_join(t, NULL);
    unpin();
    close_pair(&p);
    return dt;
}

/* ---- fan-in: P producers, one consumer ----
 * design 0: one MPSC ck_ring all producers share (ck_ring_enqueue_mpsc);
 * design 1: one SPSC ck_ring per producer, the consumer polling each in turn
 * (the engine's design). A run that takes longer than 10 s is stopped and
 * reported as -1: MPSC enqueue waits for earlier producers to commit, and a
 * preempted producer stalls the others when threads outnumber cores. */

#define FANIN_MAX 16

typedef struct fanin {
    int design, producers;
    uint64_t per_producer;
    struct ck_ring shared;
    struct ck_ring_buffer *shared_buf;
    struct ck_ring own[FANIN_MAX];
    struct ck_ring_buffer *own_buf[FANIN_MAX];
    _Atomic int stop;
    int index[FANIN_MAX];
} fanin;

typedef struct fanin_arg {
    fanin *f;
    int id;
} fanin_arg;

static void *fanin_produce(void *arg)
{
    fanin_arg *a = arg;
    fanin *f = a->f;
    for (uint64_t i = 0; i < f->per_producer && !atomic_load_explicit(&f->stop, memory_order_relaxed); i++) {
        void *v = (void *)(uintptr_t)(i + 1);
        while (!(f->design == 0 ? ck_ring_enqueue_mpsc(&f->shared, f->shared_buf, v)
                                : ck_ring_enqueue_spsc(&f->own[a->id], f->own_buf[a->id], v))) {
            if (atomic_load_explicit(&f->stop, memory_order_relaxed))
                return NULL;
            ck_pr_stall();
        }
    }
    return NULL;
}

double cwb_fanin_seconds(int design, int producers, uint64_t per_producer)
{
    if (producers < 1 || producers > FANIN_MAX)
        return -1;
    fanin *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->design = design;
    f->producers = producers;
    f->per_producer = per_producer;
    uint32_t size = 4096;
    f->shared_buf = calloc(size, sizeof *f->shared_buf);
    ck_ring_init(&f->shared, size);
    for (int p = 0; p < producers; p++) {
        f->own_buf[p] = calloc(size, sizeof *f->own_buf[p]);
        ck_ring_init(&f->own[p], size);
    }
    pthread_t th[FANIN_MAX];
    fanin_arg args[FANIN_MAX];
    double t0 = seconds();
    for (int p = 0; p < producers; p++) {
        args[p] = (fanin_arg){f, p};
        pthread_create(&th[p], NULL, fanin_produce, &args[p]);
    }
    uint64_t want = per_producer * (uint64_t)producers, got = 0, spins = 0;
    void *v;
    double result = 0;
    while (got < want) {
        bool any = false;
        if (design == 0) {
            while (ck_ring_dequeue_mpsc(&f->shared, f->shared_buf, &v))
                got++, any = true;
        } else {
            for (int p = 0; p < producers; p++)
                while (ck_ring_dequeue_spsc(&f->own[p], f->own_buf[p], &v))
                    got++, any = true;
        }
        if (!any && (++spins & 0xffff) == 0 && seconds() - t0 > 10.0) {
            atomic_store(&f->stop, 1);
            result = -1;
            break;
        }
    }
    if (result == 0)
        result = seconds() - t0;
    atomic_store(&f->stop, 1);
    for (int p = 0; p < producers; p++) {
        pthread_join(th[p], NULL);
        free(f->own_buf[p]);
    }
    free(f->shared_buf);
    free(f);
    return result;
}
