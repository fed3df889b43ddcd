/* SPSC queue over ck_ring.
 *
 * Invariants:
 *  1. One producer thread and one consumer thread per queue.
 *  2. ck_ring orders the slot write before the producer index that makes it
 *     visible (its own fences), and the consumer reads the slot only after
 *     seeing that index; so everything the producer wrote before pushing a
 *     message pointer is visible to the consumer after popping it.
 *  3. ThreadSanitizer cannot see ck's fences (volatile accesses and inline
 *     fences). In TSan builds push, pop and size are therefore out of line
 *     (CW_QUEUE_OUT_OF_LINE), this file is compiled without TSan
 *     instrumentation (CMake sets CW_TSAN_ANNOTATE), and the ordering of
 *     invariant 2 is told to TSan explicitly: a release on the queue before
 *     each push, an acquire after each successful pop. Elsewhere they are
 *     inline in queue.h, as raw ck_ring is.
 */
#include "queue.h"

#include <stdlib.h>

#include <ck_ring.h>

#ifdef CW_TSAN_ANNOTATE
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#else
#define __tsan_acquire(addr) ((void)(addr))
#define __tsan_release(addr) ((void)(addr))
#endif

cw__queue *cw__queue_create(uint32_t capacity)
{
    uint32_t size = 4;
    while (size < capacity && size < (1u << 30))
        size *= 2;
    cw__queue *q = aligned_alloc(64, (sizeof *q + 63) & ~(size_t)63);
    struct ck_ring_buffer *buffer = calloc(size, sizeof *buffer);
    if (!q || !buffer) {
        free(q);
        free(buffer);
        return NULL;
    }
    ck_ring_init(&q->ring, size);
    q->buffer = buffer;
    return q;
}

void cw__queue_destroy(cw__queue *q)
{
    if (!q)
        return;
    free(q->buffer);
    free(q);
}

#ifdef CW_QUEUE_OUT_OF_LINE
bool cw__queue_push(cw__queue *q, void *item)
{
    __tsan_release(q); /* pairs with the acquire after the matching pop */
    return ck_ring_enqueue_spsc(&q->ring, q->buffer, item);
}

bool cw__queue_pop(cw__queue *q, void **item)
{
    if (!ck_ring_dequeue_spsc(&q->ring, q->buffer, item))
        return false;
    __tsan_acquire(q);
    return true;
}

uint32_t cw__queue_size(const cw__queue *q)
{
    return ck_ring_size(&q->ring);
}
#endif
