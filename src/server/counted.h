/* ZeroMQ messages whose bytes are counted until libzmq is done with them.
 * libzmq frees a message's bytes once they are written to the connection
 * (or dropped with it), on its own threads: a count that goes down then is
 * the only way to know how much a slow or absent receiver holds at this
 * process. The links bound what each peer holds with it (net.c), the
 * client endpoint what its clients hold (clients.c). */
#ifndef CW_COUNTED_H
#define CW_COUNTED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <zmq.h>

/* A count of bytes libzmq holds. With a total, every message counted here
 * is counted there too (a connection's share of what all connections
 * hold). */
typedef struct cw__count {
    _Atomic size_t bytes;
    struct cw__count *total; /* NULL, or a count that outlives every message of this one */
} cw__count;

/* Makes *m (not initialized) a message of a copy of len bytes at b, counted
 * in count (and its total) from now until libzmq releases it (sent,
 * dropped, or closed unsent by zmq_msg_close). False if memory is short
 * (*m not initialized, nothing counted). A count without a total may be
 * freed once an acquire load of its bytes reads 0: the release of its last
 * message touches it no more after the decrement that load reads. */
bool cw__counted_msg(zmq_msg_t *m, const void *b, size_t len, cw__count *count);

#endif
