/* Single-producer single-consumer queue of message pointers between two
 * worker threads: Concurrency Kit's ck_ring (SPSC), kept out of every public
 * header. Full and empty are not errors: push and pop return false. */
#ifndef CW_QUEUE_H
#define CW_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cw__queue cw__queue;

/* capacity is rounded up to a power of two; the queue holds capacity - 1. */
cw__queue *cw__queue_create(uint32_t capacity);
void cw__queue_destroy(cw__queue *q);

/* Producer thread only. */
bool cw__queue_push(cw__queue *q, void *item);
/* Consumer thread only. */
bool cw__queue_pop(cw__queue *q, void **item);
/* Either thread: an estimate, exact when the other side is idle. */
uint32_t cw__queue_size(const cw__queue *q);

#endif
