/* The node's client endpoint: the client protocol (docs/formats.md, "Client
 * protocol"; the other end is libcauseway-client, causeway/client.h) on a
 * ZeroMQ ROUTER bound at `causeway node --client ENDPOINT`, served by one
 * thread that calls the server (server.h) for each request.
 */
#ifndef CW_CLIENTS_H
#define CW_CLIENTS_H

#include <stddef.h>

#include <causeway/node.h>
#include <causeway/vclock.h>

#include "allow.h"
#include "server.h"

/* The largest request a node must take to answer every well-formed one: a
 * key and a value at the node's default limits, a context as large as any
 * clock (CW_VCLOCK_MAX_ENTRIES entries of 10 bytes: one wider than the group
 * is answered CW_EINVAL, not dropped by the socket), and the rest. */
#define CW__CLIENTS_MAX_FRAME                                                                                  \
    ((size_t)CW_NODE_DEFAULT_MAX_KEY_LEN + CW_NODE_DEFAULT_MAX_VALUE_LEN + 4u + 10u * CW_VCLOCK_MAX_ENTRIES + 4096u)

/* Bytes of answers not yet written out that stop large reads (clients.c,
 * invariant 7). */
#define CW__CLIENTS_ANSWERS_HELD ((size_t)64 << 20)
/* A connection's share of it: past this, that connection's large reads
 * are refused while others' go on (clients.c, invariant 7). */
#define CW__CLIENTS_CONNECTION_HELD ((size_t)16 << 20)
/* Connections whose answers hold nothing are forgotten once this many
 * are kept track of (or twice those that hold some). */
#define CW__CLIENTS_CONNS_SWEEP_MIN 64u

typedef struct cw__clients cw__clients;

/* Binds endpoint and starts serving s. max_frame: the largest request
 * accepted (a client that sends more is disconnected by ZeroMQ). allow:
 * NULL, or the only addresses client connections are taken from (others
 * are refused at their handshake, auth.h; copied). s must outlive the
 * handle. CW_OK; CW_EINVAL; CW_EIO (err says which endpoint and why);
 * CW_ENOMEM. Stop with cw__clients_stop, before the server. */
int  cw__clients_start(cw__clients **out, cw__server *s, const char *endpoint, size_t max_frame,
                       const cw__allow *allow, char *err, size_t errlen);
/* The endpoint bound, as libzmq says it (a port 0 made real). Any thread:
 * written before the client thread starts, never after. */
const char *cw__clients_bound(const cw__clients *cl);
/* Connections refused for their address so far. Any thread. */
uint64_t cw__clients_refused(const cw__clients *cl);
/* Stops serving (within ~50 ms) and frees the handle. NULL is ignored. */
void cw__clients_stop(cw__clients *cl);
/* Requests dropped unserved because their client did not read its answers
 * (clients.c, invariant 6). Any thread. */
uint64_t cw__clients_unserved(const cw__clients *cl);
/* Reads answered CW_EFULL because the answers not yet written out to their
 * clients held CW__CLIENTS_ANSWERS_HELD, or the asking connection's held
 * CW__CLIENTS_CONNECTION_HELD (clients.c, invariant 7). Any thread. */
uint64_t cw__clients_refused_large(const cw__clients *cl);
/* Bytes of answers made and not yet written out to their clients (or
 * dropped with their connections; clients.c, invariant 7). Any thread. */
size_t cw__clients_held(const cw__clients *cl);
/* Times the process's free memory was given back after a burst of answers
 * (clients.c, invariant 8). Any thread. */
uint64_t cw__clients_trims(const cw__clients *cl);
/* Connections whose share of that is kept track of (clients.c, invariant
 * 7): those with answers held, and at most CW__CLIENTS_CONNS_SWEEP_MIN or
 * as many again besides. Any thread. */
size_t cw__clients_tracked(const cw__clients *cl);

#endif
