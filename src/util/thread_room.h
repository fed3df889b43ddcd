/* Whether a few more threads can start in this process now: asked before
 * calling a library that aborts the process when it cannot start one.
 * libzmq 4.3.4 starts a context's reaper and I/O threads at the context's
 * first socket and asserts that pthread_create worked, so a process at its
 * thread limit (ulimit -u, which counts every thread of the user) or out of
 * memory for a stack ends in an abort, with a core, instead of an error.
 *
 * cw__thread_room(n) starts n threads (at most CW__THREAD_ROOM_MAX) with
 * the default attributes, as the library's own get, and every signal
 * blocked, which wait until all have started; then ends them, and waits
 * (up to 100 ms) until the kernel has let go of each: a thread still counts
 * toward the limit for a moment after pthread_join returns, and the
 * library's threads would meet it. 0, or the error of the one that could
 * not start (EAGAIN: the limit, or memory). The room can be taken by
 * another process of the user between this look and the library's
 * threads, so this turns the usual case (a limit already reached) into an
 * error the caller reports, not every case. Header-only: libcauseway-client
 * needs it too. */
#ifndef CW_THREAD_ROOM_H
#define CW_THREAD_ROOM_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* The threads a ZeroMQ context starts with its first socket (libzmq
 * 4.3.4): the reaper and one I/O thread (ZMQ_IO_THREADS, default 1). */
#define CW__ZMQ_CONTEXT_THREADS 2u
#define CW__THREAD_ROOM_MAX 8u
/* What an error about a thread that could not start says of its causes. */
#define CW__THREADS_WHY "a thread counts toward the user's ulimit -u, and needs memory for its stack"

/* What to add to an error e of a start that makes a socket and a thread:
 * EAGAIN is the thread's. */
static inline const char *cw__thread_hint(int e)
{
    return e == EAGAIN ? " (its thread: " CW__THREADS_WHY ")" : "";
}

typedef struct cw__thread_room_slot {
    pthread_mutex_t *gate;
    char task[64]; /* the thread's /proc/PID/task/TID; "" without /proc */
} cw__thread_room_slot;

static void *cw__thread_room_wait(void *arg)
{
    cw__thread_room_slot *s = arg;
    char self[40]; /* "PID/task/TID" */
    ssize_t len = readlink("/proc/thread-self", self, sizeof self - 1);
    if (len > 0 && (size_t)len < sizeof self - 1) {
        self[len] = '\0';
        snprintf(s->task, sizeof s->task, "/proc/%s", self);
    }
    pthread_mutex_lock(s->gate); /* until every thread has started */
    pthread_mutex_unlock(s->gate);
    return NULL;
}

static inline int cw__thread_room(unsigned n)
{
    pthread_t t[CW__THREAD_ROOM_MAX];
    cw__thread_room_slot slot[CW__THREAD_ROOM_MAX];
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    sigset_t all, was;
    if (n > CW__THREAD_ROOM_MAX)
        n = CW__THREAD_ROOM_MAX;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was); /* no signal of the process lands on them */
    pthread_mutex_lock(&gate);
    unsigned made = 0;
    int rc = 0;
    for (; made < n; made++) {
        slot[made] = (cw__thread_room_slot){.gate = &gate};
        if ((rc = pthread_create(&t[made], NULL, cw__thread_room_wait, &slot[made])) != 0)
            break;
    }
    pthread_mutex_unlock(&gate);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    for (unsigned i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&gate);
    /* Gone from /proc once the kernel released it, and with it its count
     * toward the limit (a reused id only makes the wait longer). */
    for (unsigned i = 0; i < made; i++)
        for (int tries = 0; slot[i].task[0] && tries < 2000 && access(slot[i].task, F_OK) == 0; tries++)
            nanosleep(&(struct timespec){0, 50000}, NULL);
    return rc;
}

#endif
