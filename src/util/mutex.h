/* A mutex for short critical sections that two threads meet often: a
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

#endif
