/* Whether a few more threads can start in this process now: asked before
 * calling a library that aborts the process when it cannot start one.
 * libzmq 4.3.4 starts a context's reaper and I/O threads at the context's
 * first socket and asserts that pthread_create worked, so a process at its
 * thread limit (ulimit -u, which counts every thread of the user) or out of
 * memory for a stack ends in an abort, with a core, instead of an error.
 *
 * cw__thread_room(n) starts n threads (at most CW__THREAD_ROOM_MAX) with
 * the default attributes, as the library's own get, which wait until all
 * have started, then ends them: 0, or the error of the one that could not
 * start (EAGAIN: the limit, or memory). The room can be taken by another
 * process of the user between this look and the library's threads, so
 * this turns the usual case (a limit already reached) into an error the
 * caller reports, not every case. Header-only: libcauseway-client needs
 * it too. */
#ifndef CW_THREAD_ROOM_H
#define CW_THREAD_ROOM_H

#include <pthread.h>

/* The threads a ZeroMQ context starts with its first socket (libzmq
 * 4.3.4): the reaper and one I/O thread (ZMQ_IO_THREADS, default 1). */
#define CW__ZMQ_CONTEXT_THREADS 2u
#define CW__THREAD_ROOM_MAX 8u
/* What an error about a thread that could not start says of its causes. */
#define CW__THREADS_WHY "a thread counts toward the user's ulimit -u, and needs memory for its stack"

static void *cw__thread_room_wait(void *arg)
{
    pthread_mutex_t *gate = arg;
    pthread_mutex_lock(gate); /* until every thread has started */
    pthread_mutex_unlock(gate);
    return NULL;
}

static inline int cw__thread_room(unsigned n)
{
    pthread_t t[CW__THREAD_ROOM_MAX];
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    if (n > CW__THREAD_ROOM_MAX)
        n = CW__THREAD_ROOM_MAX;
    pthread_mutex_lock(&gate);
    unsigned made = 0;
    int rc = 0;
    while (made < n && (rc = pthread_create(&t[made], NULL, cw__thread_room_wait, &gate)) == 0)
        made++;
    pthread_mutex_unlock(&gate);
    for (unsigned i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&gate);
    return rc;
}

#endif
