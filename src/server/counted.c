/* Counted ZeroMQ messages (counted.h).
 *
 * Invariant: a count holds the bytes of every message made on it that
 * libzmq has not yet released, and its total those of every message made
 * on any count that names it. Each message's block carries its length
 * before its bytes, so the release takes off exactly what was added. */
#include "counted.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* libzmq is done with a block cw__counted_msg gave it (on its I/O thread,
 * its reaper thread for what a closed socket still held, or in
 * zmq_msg_close on ours). The acquire load comes before the block is
 * touched: it pairs with cw__counted_msg's release add, made after the
 * block was written and before the message could be sent (every later
 * change of the count is a read-modify-write, so the release sequence
 * holds), and orders the sender's writes before this read of the size and
 * the free. libzmq's own hand-off orders them for the machine too, but in
 * code ThreadSanitizer does not see: with the size read first, TSan found a
 * race, and even a suppressed report stopped the I/O thread, and so every
 * link of the node, for up to a second while it symbolized the stacks. */
static void released(void *data, void *hint)
{
    cw__count *count = hint;
    (void)atomic_load_explicit(&count->bytes, memory_order_acquire);
    size_t *block = (size_t *)data - 1;
    size_t len = *block;
    free(block);
    cw__count *total = count->total; /* read before the decrement: after it, count may be freed */
    /* Release: this thread's last touch of count comes before an owner's
     * acquire load that reads the 0 it leaves (counted.h). */
    atomic_fetch_sub_explicit(&count->bytes, len, memory_order_release);
    if (total)
        atomic_fetch_sub_explicit(&total->bytes, len, memory_order_relaxed); /* a count: orders nothing */
}

bool cw__counted_msg(zmq_msg_t *m, const void *b, size_t len, cw__count *count)
{
    if (len > SIZE_MAX - sizeof(size_t))
        return false;
    size_t *block = malloc(sizeof *block + len);
    if (!block)
        return false;
    *block = len;
    if (len)
        memcpy(block + 1, b, len);
    if (zmq_msg_init_data(m, block + 1, len, released, count) != 0) {
        free(block);
        return false;
    }
    if (count->total)
        atomic_fetch_add_explicit(&count->total->bytes, len, memory_order_relaxed); /* a count: orders nothing */
    /* Release: the block's bytes (and count->total) before released's
     * acquire reads them. */
    atomic_fetch_add_explicit(&count->bytes, len, memory_order_release);
    return true;
}
