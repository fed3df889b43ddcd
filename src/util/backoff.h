/* Waiting for memory, without spinning for ever: a thread that cannot keep
 * a message until an allocation succeeds waits here between tries, rather
 * than lose the message. The first waits yield the CPU (memory freed by
 * another thread comes back soon), the later ones sleep, from 1 us doubling
 * up to 1 ms, so a process whose memory ran out for good does not keep its
 * cores busy retrying (with more threads than cores a yielding loop still
 * takes the CPU from those that could free memory). The host's threads
 * waiting so are counted in its gauge (cw_engine_memory_waits), and a
 * closing host ends every wait: out of memory never keeps it from
 * stopping. Use:
 *
 *     cw__memory_wait mw = {.closing = host_closing, .waiting = host_gauge};
 *     while (!try_to_keep(m) && cw__memory_wait_more(&mw)) {
 *     }
 *     if (cw__memory_wait_end(&mw)) ... the host is closing: not kept
 */
#ifndef CW_BACKOFF_H
#define CW_BACKOFF_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CW__BACKOFF_YIELDS 8u
#define CW__BACKOFF_MAX_NS 1000000L

typedef struct cw__memory_wait {
    const _Atomic bool *closing; /* the host's (NULL: never): set, the wait gives up */
    _Atomic uint32_t *waiting;   /* the host's gauge (NULL: not counted) */
    unsigned tries;              /* waits so far */
    bool gave_up;
} cw__memory_wait;

/* One wait before the next try. False, without waiting, once the host is
 * closing (read with acquire: the host sets it before it stops its
 * threads). The first wait counts the thread in the gauge. Relaxed: the
 * gauge is a count for a reader to show, ordering nothing. */
static inline bool cw__memory_wait_more(cw__memory_wait *w)
{
    if (w->closing && atomic_load_explicit(w->closing, memory_order_acquire)) {
        w->gave_up = true;
        return false;
    }
    unsigned t = w->tries++;
    if (t == 0 && w->waiting)
        atomic_fetch_add_explicit(w->waiting, 1, memory_order_relaxed);
    if (t < CW__BACKOFF_YIELDS) {
        sched_yield();
        return true;
    }
    unsigned shift = t - CW__BACKOFF_YIELDS;
    struct timespec ts = {0, shift < 10 ? 1000L << shift : CW__BACKOFF_MAX_NS}; /* 1 us << 10 passes 1 ms */
    nanosleep(&ts, NULL);
    return true;
}

/* The wait is over: out of the gauge if it was counted in. Whether it gave
 * up (the host is closing: what was to be kept was not). */
static inline bool cw__memory_wait_end(cw__memory_wait *w)
{
    if (w->tries && w->waiting)
        atomic_fetch_sub_explicit(w->waiting, 1, memory_order_relaxed);
    w->tries = 0;
    return w->gave_up;
}

#endif
