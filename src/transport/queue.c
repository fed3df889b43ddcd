/* SPSC queue over ck_ring.
 *
 * Invariants:
 *  1. One producer thread and one consumer thread per queue.
 *  2. ck_ring orders the slot write before the producer index that makes it
 *     visible (its own fences), and the consumer reads the slot only after
 *     seeing that index; so everything the producer wrote before pushing a
 *     message pointer is visible to the consumer after popping it.
 *  3. ThreadSanitizer is told the ordering of invariant 2 explicitly, in
 *     TSan builds however configured (queue.h, tsan.h).
 */
#include "queue.h"

#include <stdlib.h>

#include <ck_ring.h>

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
