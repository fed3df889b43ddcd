/* Memory the C library keeps after a burst of large allocations, given back
 * to the system once the burst is over (see trim.c). */
#ifndef CW_TRIM_H
#define CW_TRIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Bytes of large frees after which memory is given back: 64 MiB. */
#define CW__TRIM_AFTER (UINT64_C(64) << 20)
/* Once the thread runs, bytes of large frees after which the next quiet
 * trims again: 4 MiB. */
#define CW__TRIM_AGAIN (UINT64_C(4) << 20)
/* A free this large or larger counts (a body, a parse, a large answer). */
#define CW__TRIM_LARGE (UINT64_C(64) << 10)
/* How long no large free must come before the trim: 1 s. */
#define CW__TRIM_QUIET_NS UINT64_C(1000000000)

typedef struct cw__trim {
    _Atomic uint64_t freed;   /* bytes of large frees since the last trim */
    _Atomic uint64_t last_ns; /* when the last large free was counted */
    _Atomic uint64_t trims;   /* trims made */
    _Atomic int state;        /* the trimming thread: 0 not started, 3 starting, 1 started, 2 could not start */
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* monotonic clock */
    bool stop;                /* under lock */
    pthread_t thread;
} cw__trim;

/* Readies t. */
void cw__trim_init(cw__trim *t);
/* Counts a free of `bytes` (those under CW__TRIM_LARGE are not counted).
 * The first time CW__TRIM_AFTER bytes are counted it starts the thread that
 * trims (if it cannot start, nothing is ever trimmed); the thread trims
 * once CW__TRIM_AGAIN bytes were counted since its last trim and none for
 * CW__TRIM_QUIET_NS. Any thread. */
void cw__trim_freed(cw__trim *t, uint64_t bytes);
/* Trims made so far. Any thread. */
uint64_t cw__trim_count(const cw__trim *t);
/* Stops and joins the thread, once nothing calls cw__trim_freed any more. */
void cw__trim_destroy(cw__trim *t);

#endif
