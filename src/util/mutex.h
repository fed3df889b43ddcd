/* Locks and condition variables made with the attributes the project needs.
 *
 * A mutex for short critical sections that two threads meet often: a
 * client's call and the thread that applies arrivals under the same lock
 * (the engine's node lock).
 *
 * A default glibc mutex sleeps in the kernel at the first failed try, so
 * every meeting costs a futex wait, a futex wake on the holder's unlock and
 * a reschedule. Where glibc offers it, this one is adaptive: a contended
 * locker first spins a bounded number of tries (glibc's max_adaptive_count,
 * 100 by default), never without bound, then sleeps. Elsewhere it is a
 * default mutex. glibc declares the adaptive type only under _GNU_SOURCE:
 * a file including this defines it first, or gets the default mutex.
 * Measured in docs/performance.md ("Locks that sleep"). */
#ifndef CW_MUTEX_H
#define CW_MUTEX_H

#include <pthread.h>
#include <time.h>

static inline int cw__mutex_init_adaptive(pthread_mutex_t *m)
{
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0)
        return pthread_mutex_init(m, NULL);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
#else
    return pthread_mutex_init(m, NULL);
#endif
}

/* A condition variable whose timed waits run on the monotonic clock, so a
 * step of the wall clock neither stretches nor cuts a wait: deadlines are
 * then clock_gettime(CLOCK_MONOTONIC) (or cw__now_ns) plus the wait. */
static inline int cw__cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return pthread_cond_init(c, NULL);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

#endif
