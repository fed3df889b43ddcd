/* Memory given back after a burst (see trim.h).
 *
 * glibc's malloc keeps what a thread frees in that thread's heap (its
 * arena), for the thread's next allocations, and gives a heap's pages back
 * only from its top. The node's HTTP threads each parse large JSON in their
 * own arena (Jansson takes up to ~86 bytes a unit: ~80 MB for a 1 MiB value
 * of [{},{},...]), so after a burst of such reads every arena keeps its own
 * high-water mark, scattered among what it still holds: 32 readers of one
 * such value left a node at 1.09 GB resident, idle, where it had served
 * from 91 MB, and malloc_trim(0) took it to 35 MB.
 *
 * malloc_trim walks every arena's free chunks and gives back their whole
 * pages (madvise), each arena under its lock: about 0.5 ms a MB freed on
 * this project's machine (406 ms for ~800 MB of small chunks freed by 32
 * threads), and the pages given back fault in again when they are used.
 * Trimming at each request's completion that found little held made a
 * client's heavy reads, one at a time, 1.7x slower (a review's measurement:
 * each completion was such a moment). So a thread of its own trims, once
 * CW__TRIM_AFTER bytes of large frees were counted and then none came for
 * CW__TRIM_QUIET_NS: after a burst, not during one, and no request waits
 * for it but on a heap's lock. (With 200 ms, 30 such reads of a 300 KB
 * value, one every 150-250 ms on a loaded host, still met 18-19 trims;
 * with 1 s, none until they ended, then one.) The thread
 * starts at the first such burst (a node that never has one never has it);
 * from then on it trims after any quiet that follows CW__TRIM_AGAIN bytes,
 * so a burst that a pause cut in two is given back whole (a trim of little
 * costs little: the walk of the free chunks).
 *
 * Invariants:
 *  1. The thread looks at `freed` and waits on `wake` under `lock`;
 *     cw__trim_freed signals it under `lock` after its add takes `freed` to
 *     CW__TRIM_AGAIN (or, starting it, to CW__TRIM_AFTER), and destroy
 *     after it sets `stop`, so neither wake-up falls between the look and
 *     the wait. A burst still going on is waited out with a timed wait.
 *  2. state goes 0 -> 3 (starting) -> 1 (started) or 2 (could not start),
 *     once: a compare-exchange picks the caller that starts the thread;
 *     destroy joins it when state is 1.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <time.h>

#include "mutex.h"
#include "now.h"
#include "trim.h"

void cw__trim_init(cw__trim *t)
{
    atomic_init(&t->freed, 0);
    atomic_init(&t->last_ns, 0);
    atomic_init(&t->trims, 0);
    atomic_init(&t->state, 0);
    pthread_mutex_init(&t->lock, NULL);
    cw__cond_init_monotonic(&t->wake); /* trim_main's deadlines are cw__now_ns */
    t->stop = false;
}

static void *trim_main(void *arg)
{
    cw__trim *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        /* Relaxed: counts and a time, read under the lock that orders the
         * wake-ups (invariant 1); nothing else is published through them. */
        if (atomic_load_explicit(&t->freed, memory_order_relaxed) < CW__TRIM_AGAIN) {
            pthread_cond_wait(&t->wake, &t->lock);
            continue;
        }
        uint64_t until = atomic_load_explicit(&t->last_ns, memory_order_relaxed) + CW__TRIM_QUIET_NS;
        if (cw__now_ns() < until) { /* the burst goes on: wait until it has been quiet */
            struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
            pthread_cond_timedwait(&t->wake, &t->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&t->lock);
        atomic_store_explicit(&t->freed, 0, memory_order_relaxed); /* frees from now count for the next */
#ifdef __GLIBC__
        malloc_trim(0);
#endif
        atomic_fetch_add_explicit(&t->trims, 1, memory_order_relaxed); /* a count */
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Starts the thread, every signal blocked in it (the node's main thread
 * takes them). State 1, or 2 when it could not start. */
static void start(cw__trim *t)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, trim_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Release: the thread's handle comes before destroy, which reads it
     * after an acquire load of state 1. */
    atomic_store_explicit(&t->state, rc == 0 ? 1 : 2, memory_order_release);
}

void cw__trim_freed(cw__trim *t, uint64_t bytes)
{
    if (bytes < CW__TRIM_LARGE)
        return;
    /* Relaxed: a time and a count; the wake-up's order is the lock's. */
    atomic_store_explicit(&t->last_ns, cw__now_ns(), memory_order_relaxed);
    uint64_t had = atomic_fetch_add_explicit(&t->freed, bytes, memory_order_relaxed);
    int state = atomic_load_explicit(&t->state, memory_order_relaxed), none = 0;
    if (state == 0) { /* no thread yet: the first to reach CW__TRIM_AFTER starts it (invariant 2) */
        if (had + bytes < CW__TRIM_AFTER ||
            !atomic_compare_exchange_strong_explicit(&t->state, &none, 3, memory_order_relaxed,
                                                     memory_order_relaxed))
            return;
        start(t);
    } else if (state == 2 || had >= CW__TRIM_AGAIN || had + bytes < CW__TRIM_AGAIN) {
        return; /* no thread, or no new reason to wake it */
    }
    pthread_mutex_lock(&t->lock);
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

uint64_t cw__trim_count(const cw__trim *t)
{
    return atomic_load_explicit(&t->trims, memory_order_relaxed); /* a count */
}

void cw__trim_destroy(cw__trim *t)
{
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    /* Acquire: pairs with start's release store (invariant 2). */
    if (atomic_load_explicit(&t->state, memory_order_acquire) == 1)
        pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
}
