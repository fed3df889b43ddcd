/* A client of a `causeway node` process, for other processes: put, delete,
 * get and status over the node's client endpoint (`causeway node --client
 * ENDPOINT`, a ZeroMQ endpoint such as tcp://127.0.0.1:7201). Keys and values
 * are any bytes, carried exactly (the HTTP API carries JSON values instead).
 * The protocol is in docs/formats.md, "Client protocol".
 *
 * Library: libcauseway-client (it links libzmq and libcauseway).
 *
 * Every call is synchronous: it sends its request (or, for
 * cw_client_write_many, its batch) and waits for the answers up to the
 * handle's timeout. A handle is one connection, for one thread at
 * a time; open one per thread for parallel requests. Answers are matched to
 * requests by an id, so an answer that comes after its call timed out is
 * dropped, never taken for a later call's, and so is anything else that
 * arrives and is no answer of the call's. A handle keeps one connection,
 * and the node makes its requests in the order sent: a request that timed
 * out is never made after a later call's. Answers that came but were not
 * yet read when the connection ends (the node stopped or died) are lost
 * with it (libzmq drops them): those calls time out, and their writes may
 * or may not have been made, as for any timeout.
 *
 * A handle does not survive fork: in the child, a call on the parent's
 * handle times out (ZeroMQ's threads stay in the parent). The child may
 * close it, which leaves the parent's connection as it was, and open its
 * own.
 *
 * Memory: at most 34 whole answers of up to CW_CLIENT_MAX_ANSWER wait in a
 * handle (a call lets go of its own before it returns), and a get's answer
 * takes its bytes and about 180 bytes a version once decoded (measured
 * with one-entry clocks; each entry more adds its id and counter to each
 * of a version's two clocks). An endpoint that is not a node can do more: a message
 * of many parts that never ends is held by libzmq whole, and a ZeroMQ
 * protocol error (an endpoint of another service) ends the connection for
 * good, so every call on that handle then times out. Connect only to
 * endpoints you trust.
 */
#ifndef CAUSEWAY_CLIENT_H
#define CAUSEWAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/export.h>
#include <causeway/node.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_client cw_client;

/* The largest answer a handle takes, in bytes. A node answers a get whose
 * answer would pass it with CW_ELIMIT. A larger answer from an endpoint
 * that is not a node is refused as it arrives: libzmq ends the connection
 * for good, so that call and every later one on the handle get
 * CW_ETIMEDOUT; open a new handle. */
#define CW_CLIENT_MAX_ANSWER ((int64_t)256 << 20)

/* Connects to a node's client endpoint (tcp://HOST:PORT, an IPv6 host in
 * brackets: tcp://[::1]:7002; or ipc://PATH). ZeroMQ connects in the background,
 * so an unreachable node shows up as CW_ETIMEDOUT from the first call.
 * timeout_ms: how long each call waits for its answer (0: 5000).
 * CW_OK; CW_EINVAL (NULL, empty endpoint), CW_EIO (a malformed endpoint,
 * a tcp:// one's port not 1 to 65535 among them, a socket error, or no
 * room for the handle's two ZeroMQ threads: a thread counts toward the
 * user's ulimit -u), CW_ENOMEM. Close with cw_client_close.
 * Each handle has a ZeroMQ context of its own and holds about 7 open
 * files (its threads' polling and wake-up descriptors, its socket's, and
 * the connection; measured with libzmq 4.3.4). libzmq aborts the process
 * when it cannot make a descriptor it needs, so leave room for them under
 * the open-files limit (ulimit -n): `causeway stress --processes` counts 8
 * a handle. */
CW_API int cw_client_open(cw_client **out, const char *endpoint, uint32_t timeout_ms);
/* Closes the connection (requests not answered are dropped) and frees c.
 * NULL is ignored. */
CW_API void cw_client_close(cw_client *c);

/* A put at the node: as cw_node_put_ctx there (context NULL: a plain put over
 * everything the node has). *clock_out (nullable, initialized) gets the
 * write's clock. Returns the node's answer: CW_OK, or its error (CW_EJOINING,
 * CW_ESTALLED, CW_EFULL: retry later; CW_EAHEAD: the context covers writes
 * that node has not applied yet: retry in a moment (the node does not wait,
 * so one client never holds up the others); CW_ECLOSED: the node is
 * stopping; CW_ESIBLINGS: the context covers too few of the key's versions
 * and the key would pass the node's --max-siblings: read the key and write
 * with the read's context; CW_EIO: a node with --data cannot save, and took nothing;
 * CW_EUNSAVED: it made the write but could not save it, so the write takes
 * effect if a later save succeeds and is gone if the node stops first (do
 * not simply retry: that may write twice); CW_ELIMIT, CW_EINVAL,
 * CW_ENOMEM: the node ran out of memory and made nothing; but this library
 * gives the same code when it runs out while reading an answer, when the
 * write may have been made (below), so a caller cannot tell the two apart
 * and should take CW_ENOMEM as "may have been made"); or this call's:
 * CW_ELIMIT (a key above
 * CW_NODE_DEFAULT_MAX_KEY_LEN or a value above CW_NODE_DEFAULT_MAX_VALUE_LEN,
 * more than a node takes: refused before it is sent, as the node would drop
 * the request unanswered), CW_ETIMEDOUT
 * (no answer in time, or no connection to send on: the write may or may not
 * have been made, but a request never waits queued for a node that is away),
 * CW_EIO (a socket error), CW_EBADMSG (an answer that does not decode, or
 * whose code error.h does not have: a node newer than this library may),
 * CW_ENOMEM (out of memory here: before the request was sent, nothing was
 * made; while reading the answer, the write may have been made). */
CW_API int cw_client_put(cw_client *c, const void *key, size_t key_len, const void *value, size_t value_len,
                         const cw_vclock *context, cw_vclock *clock_out);
/* One write of a pipelined batch (cw_client_write_many). */
typedef struct cw_client_write {
    const void *key;
    size_t key_len;
    const void *value;          /* ignored for a delete */
    size_t value_len;
    bool tombstone;             /* a delete */
    const cw_vclock *context;   /* NULL: a plain write */
    cw_vclock *clock_out;       /* nullable, initialized: the write's clock */
    int result;                 /* out: as cw_client_put's return */
} cw_client_write;

/* Batched writes: sends them as batch requests (up to 1,024 writes or
 * 256 KiB each; a larger write goes alone), up to 32 requests ahead of
 * their answers, so `count` writes cost about one round trip and a few
 * messages, not `count` of each. The node makes them in order, and reads
 * each batch whole before it makes any write of it. Each write's own
 * answer goes to writes[i].result (and clock_out). The handle's timeout
 * runs from the last request sent or answer read: when it passes, a write
 * sent and not answered gets CW_ETIMEDOUT (it may or may not have been
 * made), and so does a write not yet sent (not made). A write whose key or
 * value is larger than a node takes gets CW_ELIMIT and is not sent; the
 * others go on. A batch answer that does not decode whole gives each write
 * of its batch CW_EBADMSG (made or not, unknown; its clock_out may have
 * changed); out of memory while reading a write's result gives it and the
 * writes after it in its batch CW_ENOMEM (made or not, unknown).
 * Returns CW_OK when every write was answered (look at each result),
 * CW_ETIMEDOUT if some were not, CW_EINVAL (NULL, or a key or value NULL
 * with a length); or CW_ETIMEDOUT, CW_EIO or CW_ENOMEM from sending: then
 * only the writes before the one that could not be sent were sent, and the
 * rest have that code as their result (or CW_ELIMIT, those too large). */
CW_API int cw_client_write_many(cw_client *c, cw_client_write *writes, size_t count);

/* A delete at the node (a tombstone; cw_node_delete). As cw_client_put. */
CW_API int cw_client_delete(cw_client *c, const void *key, size_t key_len, const cw_vclock *context,
                            cw_vclock *clock_out);
/* The key's versions at the node, as cw_node_get there: out (initialized
 * with cw_read_init) is replaced on CW_OK and on CW_ENOTFOUND, untouched on
 * any other code. Errors as cw_client_put, and CW_ELIMIT from the node: the
 * key's versions with their clocks pass CW_CLIENT_MAX_ANSWER (a key holds
 * up to nodes x --max-siblings versions: node.h, max_siblings). */
CW_API int cw_client_get(cw_client *c, const void *key, size_t key_len, cw_read *out);

/* What a node says of itself. */
typedef struct cw_client_status {
    cw_node_id node;
    uint32_t nodes;
    bool joining;               /* writes refused until its peers answered */
    uint64_t writes, delivered, buffered, keys, retransmitted, recovered;
    cw_vclock clock;            /* the node's clock */
    cw_vclock stable;           /* writes every node has applied */
} cw_client_status;

/* Empty; allocates nothing. NULL is ignored (by both). */
CW_API void cw_client_status_init(cw_client_status *s);
CW_API void cw_client_status_destroy(cw_client_status *s);
/* The node's status into *out (initialized; replaced on CW_OK). Errors as
 * cw_client_put. */
CW_API int cw_client_get_status(cw_client *c, cw_client_status *out);

#ifdef __cplusplus
}
#endif
#endif
