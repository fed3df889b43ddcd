/* Counted ZeroMQ messages (counted.h).
 *
 * Invariant: *count holds the bytes of every message made on it that
 * libzmq has not yet released. Each message's block carries its length
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
    _Atomic size_t *count = hint;
    (void)atomic_load_explicit(count, memory_order_acquire);
    size_t *block = (size_t *)data - 1;
    atomic_fetch_sub_explicit(count, *block, memory_order_relaxed); /* a count: the acquire above orders */
    free(block);
}

bool cw__counted_msg(zmq_msg_t *m, const void *b, size_t len, _Atomic size_t *count)
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
    /* Release: the block's bytes before released's acquire frees it. */
    atomic_fetch_add_explicit(count, len, memory_order_release);
    return true;
}
