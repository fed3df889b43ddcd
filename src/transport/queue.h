/* Single-producer single-consumer queue of message pointers between two
 * worker threads: Concurrency Kit's ck_ring (SPSC), kept out of every public
 * header (ck_ring.h is C only; this header is included by C files only).
 * Full and empty are not errors: push and pop return false.
 *
 * Push, pop and size are inline (as raw ck_ring is) except in ThreadSanitizer
 * builds (CW_QUEUE_OUT_OF_LINE), where queue.c provides them uninstrumented
 * with explicit annotations; see queue.c. */
#ifndef CW_QUEUE_H
#define CW_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <ck_ring.h>

typedef struct cw__queue {
    struct ck_ring ring;              /* producer and consumer indexes on separate lines */
    struct ck_ring_buffer *buffer;
} cw__queue;

/* capacity is rounded up to a power of two; the queue holds capacity - 1. */
cw__queue *cw__queue_create(uint32_t capacity);
void cw__queue_destroy(cw__queue *q);

#ifdef CW_QUEUE_OUT_OF_LINE
bool cw__queue_push(cw__queue *q, void *item);
bool cw__queue_pop(cw__queue *q, void **item);
uint32_t cw__queue_size(const cw__queue *q);
#else
/* Producer thread only. ck_ring orders the slot write before publishing the
 * new producer index (its own store fence), pairing with the consumer's load
 * of that index before it reads the slot. */
static inline bool cw__queue_push(cw__queue *q, void *item)
{
    return ck_ring_enqueue_spsc(&q->ring, q->buffer, item);
}

/* Consumer thread only. */
static inline bool cw__queue_pop(cw__queue *q, void **item)
{
    return ck_ring_dequeue_spsc(&q->ring, q->buffer, item);
}

/* Either thread: an estimate, exact when the other side is idle. */
static inline uint32_t cw__queue_size(const cw__queue *q)
{
    return ck_ring_size(&q->ring);
}
#endif

#endif
