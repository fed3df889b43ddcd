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
#include <string.h>

#include <ck_ring.h>

/* The ring's slots for a capacity: a power of two, at least 4. */
static uint32_t slots(uint32_t capacity)
{
    uint32_t size = 4;
    while (size < capacity && size < (1u << 30))
        size *= 2;
    return size;
}

/* The queue's header, its own lines; the slots follow it in one block. */
#define HEAD_BYTES ((sizeof(cw__queue) + 63) & ~(size_t)63)

static size_t block_bytes(uint32_t size)
{
    return (HEAD_BYTES + (size_t)size * sizeof(struct ck_ring_buffer) + 63) & ~(size_t)63;
}

size_t cw__queue_bytes(uint32_t capacity)
{
    /* glibc: a block's 16-byte header, and what aligning it leaves unused
     * around it (counted as two lines: an engine of 1,024 nodes opened with
     * 64 to 1,024 workers grew by ~1,290 bytes of resident memory for each
     * pair of workers, against 1,200 counted with one line). */
    return block_bytes(slots(capacity)) + 2 * 64 + 16;
}

cw__queue *cw__queue_create(uint32_t capacity)
{
    uint32_t size = slots(capacity);
    cw__queue *q = aligned_alloc(64, block_bytes(size));
    if (!q)
        return NULL;
    memset(q, 0, HEAD_BYTES); /* the slots are written before they are read: left untouched until used */
    ck_ring_init(&q->ring, size);
    q->buffer = (struct ck_ring_buffer *)(void *)((char *)q + HEAD_BYTES); /* HEAD_BYTES keeps the alignment */
    return q;
}

void cw__queue_destroy(cw__queue *q) { free(q); }
