/* Waiting for what the system must give back, memory above all, without
 * spinning for ever: a thread that cannot keep a message until an
 * allocation succeeds waits here between tries. The first waits yield the
 * CPU (memory freed by another thread comes back soon), the later ones
 * sleep, from 1 us doubling up to 1 ms, so a process whose memory ran out
 * for good does not keep its cores busy retrying (with more threads than
 * cores a yielding loop still takes the CPU from those that could free
 * memory). A host counts the threads waiting so (cw_engine_memory_waits). */
#ifndef CW_BACKOFF_H
#define CW_BACKOFF_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define CW__BACKOFF_YIELDS 8u
#define CW__BACKOFF_MAX_NS 1000000L

/* One wait; *tries counts the waits so far (start it at 0). The first one
 * counts the thread in *waiting (NULL: no count), a gauge of the threads
 * waiting now that cw__backoff_done takes it out of. Relaxed: a count for
 * a reader to show, ordering nothing. */
static inline void cw__backoff(unsigned *tries, _Atomic uint32_t *waiting)
{
    unsigned t = (*tries)++;
    if (t == 0 && waiting)
        atomic_fetch_add_explicit(waiting, 1, memory_order_relaxed);
    if (t < CW__BACKOFF_YIELDS) {
        sched_yield();
        return;
    }
    unsigned shift = t - CW__BACKOFF_YIELDS;
    long ns = shift < 10 ? 1000L << shift : CW__BACKOFF_MAX_NS; /* 1 us << 10 passes 1 ms */
    struct timespec ts = {0, ns < CW__BACKOFF_MAX_NS ? ns : CW__BACKOFF_MAX_NS};
    nanosleep(&ts, NULL);
}

/* The wait is over (memory came, or the host is closing): out of *waiting
 * if cw__backoff counted the thread in. */
static inline void cw__backoff_done(unsigned tries, _Atomic uint32_t *waiting)
{
    if (tries && waiting)
        atomic_fetch_sub_explicit(waiting, 1, memory_order_relaxed);
}

#endif
