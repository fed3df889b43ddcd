/* Single-producer single-consumer queue of message pointers between two
 * threads: Concurrency Kit's ck_ring (SPSC), kept out of every public header
 * (ck_ring.h is C only; this header is included by C files only). Full and
 * empty are not errors: push and pop return false.
 *
 * Push, pop and size are inline, as raw ck_ring is. ThreadSanitizer cannot
 * see ck_ring's ordering (inline assembly loads and stores, its own fences),
 * so in TSan builds (tsan.h: detected from the compiler, whatever the build
 * options) each push releases the queue before publishing and each pop
 * acquires it after taking, and the ring's own slot accesses are hidden from
 * TSan; everything else (the messages, the engine) stays instrumented. */
#ifndef CW_QUEUE_H
#define CW_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <ck_ring.h>

#include "tsan.h"

typedef struct cw__queue {
    struct ck_ring ring;              /* producer and consumer indexes on separate lines */
    struct ck_ring_buffer *buffer;
} cw__queue;

/* capacity is rounded up to a power of two; the queue holds capacity - 1. */
cw__queue *cw__queue_create(uint32_t capacity);
/* What cw__queue_create(capacity) takes from the allocator, its headers
 * and alignment counted: for estimates of an engine's fixed memory. */
size_t cw__queue_bytes(uint32_t capacity);
void cw__queue_destroy(cw__queue *q);

/* Producer thread only. ck_ring orders the slot write before publishing the
 * new producer index (its own store fence), pairing with the consumer's load
 * of that index before it reads the slot. For TSan: the release comes before
 * the publication, so a pop that sees the item acquires after it. */
static inline bool cw__queue_push(cw__queue *q, void *item)
{
    CW_TSAN_RELEASE(q);
    CW_TSAN_IGNORE_BEGIN();
    bool pushed = ck_ring_enqueue_spsc(&q->ring, q->buffer, item);
    CW_TSAN_IGNORE_END();
    return pushed;
}

/* Consumer thread only. For TSan: acquires what the matching push released
 * (the producer's writes before it). */
static inline bool cw__queue_pop(cw__queue *q, void **item)
{
    CW_TSAN_IGNORE_BEGIN();
    bool popped = ck_ring_dequeue_spsc(&q->ring, q->buffer, item);
    CW_TSAN_IGNORE_END();
    if (popped)
        CW_TSAN_ACQUIRE(q);
    return popped;
}

/* Either thread: an estimate, exact when the other side is idle. */
static inline uint32_t cw__queue_size(const cw__queue *q)
{
    return ck_ring_size(&q->ring);
}

/* Producer thread only: pushes that will succeed now, at least (the
 * consumer only frees slots; a stale look at how far it took counts fewer,
 * never more). */
static inline uint32_t cw__queue_room(const cw__queue *q)
{
    return ck_ring_capacity(&q->ring) - 1 - ck_ring_size(&q->ring);
}

#endif
