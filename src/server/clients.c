/* The node's client endpoint (clients.h): a ROUTER that serves the client
 * protocol (src/client/proto.h) to libcauseway-client, on a thread of its
 * own.
 *
 * Invariants:
 *  1. Every request gets exactly one answer, to the client that sent it:
 *     a malformed one too (CW_EBADMSG, with the id when its head was
 *     readable), so a client never waits out its timeout for a reason the
 *     node knew. A write is made only once its answer has room, so an
 *     answer never runs out of memory after a write was made: a write is
 *     answered made, with its clock, or CW_ENOMEM and not made.
 *  2. A request is bounded before it is read: the socket refuses frames
 *     above max_frame (ZMQ_MAXMSGSIZE drops the connection that sends one),
 *     and the key and value are checked against the node's limits by the
 *     replica itself (CW_ELIMIT).
 *  3. The thread holds no lock of its own: each request is one call into
 *     the server, which takes the server's lock.
 *  4. The requests waiting together (up to BURST, and until they made
 *     BURST_WRITES writes) are served as one burst
 *     (cw__server_hold_sends), and so is a batch request: the writes reach
 *     each peer in a few link messages, not one message each.
 *  5. A burst's answers go out at its end, after one save of its writes
 *     (durable state: cw__server_save): many clients' writes share a disk
 *     flush (a group commit). If that save fails, every write an answer
 *     reported made becomes CW_EUNSAVED (made, not saved: its outcome is
 *     unknown); a write it reported refused keeps its code.
 *  6. A client that does not read its answers is not served: at most
 *     ANSWERS_QUEUED answers wait for a connection, and those of a burst
 *     that find them full are parked here until they go; meanwhile that
 *     client's requests are dropped unserved (nothing made). So a
 *     connection holds at most ANSWERS_QUEUED + BURST answers, and every
 *     request served is answered. (Invariant 1 holds for a client that
 *     reads; a parked answer may reach it after a later one: answers are
 *     matched by id.)
 *  7. Every answer counts in `held`, and in its connection's share of it
 *     (conn: by routing id), from when it is made until libzmq has written
 *     it out (or dropped it with its connection), parked ones too. While
 *     held is CW__CLIENTS_ANSWERS_HELD or more, or the asking connection's
 *     share is CW__CLIENTS_CONNECTION_HELD or more, a read whose answer is
 *     over SMALL_ANSWER bytes (a key's versions: its siblings can make it
 *     as large as the store) is answered CW_EFULL instead (before its
 *     values are copied when they alone are over SMALL_ANSWER), so clients that
 *     do not read cannot make the node keep up to ANSWERS_QUEUED + BURST
 *     copies of such a key each: reads hold at most that many bytes and
 *     one answer more, besides the small ones, which invariant 6 bounds per
 *     connection (ANSWERS_QUEUED + BURST of at most SMALL_ANSWER). One
 *     client that stops reading holds at most its share and one answer
 *     more, so the others' large reads go on. Answers that report writes
 *     made are always sent. A connection's entry lives while its answers
 *     hold bytes (counted.h says when it may be freed), and entries with
 *     none are swept as new connections come.
 *  8. Memory the C library keeps after a burst of answers is given back
 *     (trim.c): each turn of the thread counts the answers' bytes let go
 *     since the last (note_released), so once 64 MiB of answers were let
 *     go and then none for 1 s the process is trimmed, as after the HTTP
 *     API's bursts, and after that whenever 4 MiB more were let go
 *     (answers of any size, small ones too) and a quiet second followed.
 *     2,000 connections that did not read their answers (~250 KB each)
 *     left the node at ~500 MB once they closed.
 */
#include "clients.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include <causeway/client.h>
#include <causeway/error.h>

#include "auth.h"
#include "bytes.h"
#include "counted.h"
#include "endpoint.h"
#include "map.h"
#include "proto.h"
#include "thread_room.h"
#include "trim.h"
#include "vec.h"

#define POLL_MS 50
/* Requests served in one burst, at most, before peers get what they made. */
#define BURST 128u
/* A burst ends once its requests made this many writes: a pipelined client
 * (cw_client_write_many keeps 32 batch requests of up to 1,024 writes
 * ahead) gets answers, and a durable node saves, every few thousand writes,
 * not once per 32,768 (which a slow node took longer than the client's
 * timeout to make). */
#define BURST_WRITES 4096u
/* Answers queued per client connection (ZMQ_SNDHWM): cw_client_write_many
 * keeps 32 requests ahead of their answers, a plain call one. */
#define ANSWERS_QUEUED 64
/* Request bytes queued per client connection, at most: ZMQ_RCVHWM counts
 * frames, so it is this over the largest frame (max_frame), from
 * REQUESTS_QUEUED_MIN to REQUESTS_QUEUED_MAX. 1,000 frames of the default
 * limits' 1 MiB value let one client pin a gigabyte at the node. */
#define REQUEST_BYTES_QUEUED ((size_t)64 << 20)
#define REQUESTS_QUEUED_MIN 2
#define REQUESTS_QUEUED_MAX 1000
/* Invariant 7 (with CW__CLIENTS_ANSWERS_HELD; the node's HTTP answers
 * have a budget of their own). */
#define SMALL_ANSWER ((size_t)4 << 10)
/* How often parked answers are tried again while the socket is quiet. */
#define PARKED_POLL_MS 5
/* A connection that has not finished ZeroMQ's handshake this long after it
 * was accepted is closed (ZMQ_HANDSHAKE_IVL; ZeroMQ's default, 30 s, let a
 * connection that never speaks hold one of the node's descriptors that
 * long). libcauseway-client's handshake is one round trip. */
#define HANDSHAKE_MS 5000

/* A client connection's share of the answers held (invariant 7). */
typedef struct conn {
    cw__count held;            /* total: the endpoint's held */
    uint64_t hash;             /* of its routing id (cw__hash_key) */
    size_t id_len;
    uint8_t id[];              /* its routing id */
} conn;

/* One request of a burst, answered at its end (invariant 5). */
typedef struct pending {
    conn *conn;                /* whose share its answer counts in; NULL: the total alone */
    zmq_msg_t id, answer;
    uint8_t op;
    uint64_t rid;
    bool wrote;                /* the answer reports writes made: it waits for the save */
    bool has_answer;           /* there is an answer to send */
} pending;

/* An answer waiting for its client to read (invariant 6). */
typedef struct parked {
    zmq_msg_t id, answer;
} parked;

struct cw__clients {
    cw__server *s;
    void *ctx;
    void *sock;
    char bound[CW__ENDPOINT_MAX]; /* the endpoint bound (a port 0 made real); written before the thread */
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    cw__out out;
    size_t made;               /* writes the request served last made (serve_one zeroes it) */
    pending burst[BURST];
    parked **parked;           /* [n_parked], each its own allocation: zmq_msg_t is not moved by copy */
    size_t n_parked, parked_cap;
    _Atomic uint64_t unserved; /* requests dropped: their client had an answer parked */
    cw__count held;            /* bytes of answers libzmq has not yet released (invariant 7) */
    cw__map conns;             /* routing id -> conn, the clients thread's */
    conn *asking;              /* the entry of the request being served (NULL: none) */
    conn **conn_list;          /* [n_conns]: the same entries, for the sweep */
    size_t n_conns, conns_cap, sweep_at;
    _Atomic size_t tracked;    /* n_conns, for other threads (a count: orders nothing) */
    cw__auth *auth;            /* the address allow-list's handler, or NULL */
    _Atomic uint64_t refused_large; /* reads answered CW_EFULL (invariant 7) */
    /* Invariant 8: what the answers' count let go of, as the clients thread
     * saw it, and the trim it feeds. */
    uint64_t answered;         /* bytes of every answer made (counted_answer), the clients thread's */
    uint64_t released_noted;   /* of those, let go and counted for trim (note_released) */
    cw__trim trim;
};

/* The parked answer of the client named by id, or NULL. */
static parked *parked_of(cw__clients *cl, zmq_msg_t *id)
{
    for (size_t k = 0; k < cl->n_parked; k++)
        if (zmq_msg_size(&cl->parked[k]->id) == zmq_msg_size(id) &&
            memcmp(zmq_msg_data(&cl->parked[k]->id), zmq_msg_data(id), zmq_msg_size(id)) == 0)
            return cl->parked[k];
    return NULL;
}

/* Sends an answer to its client: false if the client's queue is full
 * (nothing sent); true if it went or the client is gone. The caller closes
 * both messages either way. */
static bool send_answer(cw__clients *cl, zmq_msg_t *id, zmq_msg_t *answer)
{
    if (zmq_msg_send(id, cl->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return zmq_errno() != EAGAIN; /* EHOSTUNREACH: gone */
    (void)zmq_msg_send(answer, cl->sock, ZMQ_DONTWAIT); /* the routing frame took the room */
    return true;
}

static void parked_free(parked *pk)
{
    zmq_msg_close(&pk->id);
    zmq_msg_close(&pk->answer);
    free(pk);
}

/* Parks the answer in p (invariant 6); the messages are moved out of p.
 * Out of memory: the answer is dropped (its client times out). */
static void park(cw__clients *cl, pending *p)
{
    parked **grown = cw__vec_room(cl->parked, cl->n_parked, &cl->parked_cap, sizeof *cl->parked);
    parked *pk = grown ? malloc(sizeof *pk) : NULL;
    if (grown)
        cl->parked = grown;
    if (!pk)
        return;
    zmq_msg_init(&pk->id);
    zmq_msg_init(&pk->answer);
    zmq_msg_move(&pk->id, &p->id);
    zmq_msg_move(&pk->answer, &p->answer);
    cl->parked[cl->n_parked++] = pk;
}

/* Tries every parked answer again; those sent (or whose client is gone)
 * leave the list, in order. */
static void send_parked(cw__clients *cl)
{
    size_t kept = 0;
    for (size_t k = 0; k < cl->n_parked; k++)
        if (send_answer(cl, &cl->parked[k]->id, &cl->parked[k]->answer))
            parked_free(cl->parked[k]);
        else
            cl->parked[kept++] = cl->parked[k];
    cl->n_parked = kept;
}

typedef struct id_key {
    const void *b;
    size_t len;
} id_key;

static bool conn_eq(const void *item, const void *key)
{
    const conn *c = item;
    const id_key *k = key;
    return c->id_len == k->len && memcmp(c->id, k->b, k->len) == 0;
}

/* Frees the entries whose answers hold nothing (invariant 7). */
static void sweep_conns(cw__clients *cl)
{
    size_t kept = 0;
    for (size_t k = 0; k < cl->n_conns; k++) {
        conn *c = cl->conn_list[k];
        /* Acquire: pairs with the release decrement that left 0, the last
         * touch of c by the thread that released its last answer. */
        if (atomic_load_explicit(&c->held.bytes, memory_order_acquire) == 0) {
            id_key key = {c->id, c->id_len};
            (void)cw__map_remove(&cl->conns, c->hash, conn_eq, &key);
            free(c);
        } else {
            cl->conn_list[kept++] = c;
        }
    }
    cl->n_conns = kept;
    atomic_store_explicit(&cl->tracked, kept, memory_order_relaxed);
    cl->sweep_at = kept < CW__CLIENTS_CONNS_SWEEP_MIN / 2 ? CW__CLIENTS_CONNS_SWEEP_MIN : 2 * kept;
}

/* The entry of the connection named by id, made if it has none; NULL if
 * memory is short (its answers then count in the total alone). */
static conn *conn_of(cw__clients *cl, zmq_msg_t *id)
{
    id_key key = {zmq_msg_data(id), zmq_msg_size(id)};
    uint64_t hash = cw__hash_key(key.b, key.len);
    conn *c = cw__map_find(&cl->conns, hash, conn_eq, &key);
    if (c)
        return c;
    if (cl->n_conns >= cl->sweep_at)
        sweep_conns(cl);
    conn **grown = cw__vec_room(cl->conn_list, cl->n_conns, &cl->conns_cap, sizeof *grown);
    if (!grown)
        return NULL;
    cl->conn_list = grown;
    if (!(c = malloc(sizeof *c + key.len)))
        return NULL;
    atomic_init(&c->held.bytes, 0);
    c->held.total = &cl->held;
    c->hash = hash;
    c->id_len = key.len;
    memcpy(c->id, key.b, key.len);
    if (cw__map_insert(&cl->conns, hash, c) != CW_OK) {
        free(c);
        return NULL;
    }
    cl->conn_list[cl->n_conns++] = c;
    atomic_store_explicit(&cl->tracked, cl->n_conns, memory_order_relaxed);
    return c;
}

/* Where an answer for p counts. */
static cw__count *count_of(cw__clients *cl, pending *p) { return p->conn ? &p->conn->held : &cl->held; }

typedef struct status_ctx {
    cw_client_status *st;
    int rc;
} status_ctx;

static void fill_status(void *ctx, cw_node *n)
{
    status_ctx *c = ctx;
    cw_node_stats ns;
    cw_node_get_stats(n, &ns);
    c->st->writes = ns.writes;
    c->st->delivered = ns.delivered;
    c->st->buffered = ns.buffered;
    c->st->keys = ns.keys;
    c->st->retransmitted = ns.retransmitted;
    c->st->recovered = ns.recovered;
    c->rc = cw_node_clock(n, &c->st->clock);
    if (c->rc == CW_OK)
        c->rc = cw_node_stable(n, &c->st->stable);
}

/* A batch of writes (proto.h): read whole first, once, so a malformed one
 * (CW_EBADMSG) or one whose contexts do not fit in memory (CW_ENOMEM)
 * changes nothing; then each write made in order, its status and clock
 * answered. Each write is made only once its answer has room (with room
 * for every later status): a write made whose answer could not be written
 * would be neither reported made nor not; one without room is CW_ENOMEM,
 * not made, and so is every write after it. */
static void serve_batch(cw__clients *cl, uint64_t id, const uint8_t *b, size_t len)
{
    cw__out *o = &cl->out;
    uint32_t count, read = 0;
    cw__in in;
    cw__request *w = NULL;
    int rc = cw__batch_open(b, len, &count, &in);
    if (rc == CW_OK && !(w = calloc(count, sizeof *w))) /* count <= CW__BATCH_MAX */
        rc = CW_ENOMEM;
    while (rc == CW_OK && read < count)
        if ((rc = cw__batch_next(&in, &w[read++])) != CW_OK)
            break;
    if (rc == CW_OK && in.pos != len)
        rc = CW_EBADMSG;
    if (rc == CW_OK && !cw__out_reserve(o, CW__ANSWER_HEAD + 4 + 4 * (size_t)count))
        rc = CW_ENOMEM;
    cw__answer_head(o, CW__OP_BATCH, id, rc);
    if (rc == CW_OK) {
        cw__out_u32(o, count);
        size_t clock_room = cw__clock_room(cw__server_nodes(cl->s));
        cw_vclock clock;
        cw_vclock_init(&clock);
        bool room = true;
        for (uint32_t i = 0; i < count; i++) {
            /* The room reserved before holds this status in any case. Once
             * a write had none, neither do those after it, so the writes
             * made are the batch's first ones, in order. */
            room = room && cw__out_reserve(o, 4 + clock_room + 4 * (size_t)(count - i - 1));
            int wrc = !room ? CW_ENOMEM
                            : cw__server_write_now(cl->s, w[i].key, w[i].key_len, w[i].value, w[i].value_len,
                                                   w[i].has_context ? &w[i].context : NULL,
                                                   w[i].op == CW__OP_DELETE, &clock);
            cw__out_u32(o, (uint32_t)(int32_t)wrc);
            if (wrc == CW_OK)
                cw__out_clock(o, &clock);
            cl->made += wrc == CW_OK;
        }
        cw_vclock_destroy(&clock);
        assert(!o->failed); /* every put above had its room */
    }
    for (uint32_t i = 0; i < read; i++) /* each one read was initialized, a failed one too */
        cw__request_destroy(&w[i]);
    free(w);
}

/* Whether a large answer now would pass invariant 7's bounds: the total,
 * or the asking connection's share (relaxed: a bound, not an order). */
static bool answers_full(cw__clients *cl)
{
    return atomic_load_explicit(&cl->held.bytes, memory_order_relaxed) >= CW__CLIENTS_ANSWERS_HELD ||
           (cl->asking &&
            atomic_load_explicit(&cl->asking->held.bytes, memory_order_relaxed) >= CW__CLIENTS_CONNECTION_HELD);
}

/* One request's answer into cl->out; more_frames: it came with frames
 * after it (a request is one frame: malformed, nothing made). */
static void serve(cw__clients *cl, const uint8_t *b, size_t len, bool more_frames)
{
    cw__out *o = &cl->out;
    o->len = 0;
    o->failed = false;
    cw__request r;
    int rc = cw__request_decode(&r, b, len);
    if (rc == CW_OK && more_frames)
        rc = CW_EBADMSG;
    if (rc != CW_OK) {
        uint64_t id = len >= 10 ? cw__load_be(b + 2, 8) : 0; /* the head, where readable */
        cw__answer_head(o, len >= 2 ? b[1] : 0, id, rc);
        cw__request_destroy(&r);
        return;
    }
    const cw_vclock *ctx = r.has_context ? &r.context : NULL;
    switch (r.op) {
    case CW__OP_BATCH:
        serve_batch(cl, r.id, b, len); /* counts its writes made; its answer never runs out of memory after one */
        break;
    case CW__OP_PUT:
    case CW__OP_DELETE: {
        cw_vclock clock;
        cw_vclock_init(&clock);
        /* Never waits for an ahead context: one client must not stall the
         * others this thread serves. The client waits and retries. Made
         * only once its answer has room (see serve_batch): CW_ENOMEM from
         * here means not made. */
        rc = !cw__out_reserve(o, CW__ANSWER_HEAD + cw__clock_room(cw__server_nodes(cl->s)))
                 ? CW_ENOMEM
                 : cw__server_write_now(cl->s, r.key, r.key_len, r.value, r.value_len, ctx,
                                        r.op == CW__OP_DELETE, &clock);
        cw__answer_head(o, r.op, r.id, rc);
        if (rc == CW_OK)
            cw__out_clock(o, &clock);
        cw_vclock_destroy(&clock);
        cl->made = rc == CW_OK;
        break;
    }
    case CW__OP_GET: {
        cw_read rd;
        cw_read_init(&rd);
        /* The answer's code: CW_ELIMIT when larger than a client takes
         * (CW_CLIENT_MAX_ANSWER: its socket would refuse the frame, and the
         * call time out), CW_EFULL when large and the answers' budget is
         * spent; judged by its values before they are copied (a key's
         * siblings can make each such refusal a copy of megabytes), then
         * by its text (large by its clocks). */
        size_t values = 0;
        bool full = answers_full(cl);
        int answer;
        if (r.key_len > cw__server_max_key_len(cl->s))
            answer = CW_ELIMIT; /* as a put or delete of it is: no such key can be (it was CW_ENOTFOUND) */
        else {
            rc = cw__server_read_at_most(cl->s, r.key, r.key_len, full ? SMALL_ANSWER : CW_CLIENT_MAX_ANSWER,
                                         &values, &rd);
            answer = rc != CW_ELIMIT ? rc : values > (size_t)CW_CLIENT_MAX_ANSWER ? CW_ELIMIT : CW_EFULL;
        }
        if (answer == CW_OK || answer == CW_ENOTFOUND) {
            cw__answer_head(o, r.op, r.id, answer);
            cw__answer_read(o, &rd);
            if (o->len > SMALL_ANSWER)
                answer = o->len > (size_t)CW_CLIENT_MAX_ANSWER ? CW_ELIMIT : answers_full(cl) ? CW_EFULL : answer;
        }
        cw_read_destroy(&rd);
        if (answer != CW_OK && answer != CW_ENOTFOUND) { /* refused, or failed: the head alone */
            o->len = 0;
            cw__answer_head(o, r.op, r.id, answer);
        }
        if (answer == CW_EFULL) /* only the answers' budget gives it */
            atomic_fetch_add_explicit(&cl->refused_large, 1, memory_order_relaxed); /* a count, orders nothing */
        break;
    }
    default: { /* CW__OP_STATUS */
        cw_client_status st;
        cw_client_status_init(&st);
        cw__server_stats ss;
        cw__server_get_stats(cl->s, &ss);
        st.node = cw__server_self(cl->s);
        st.nodes = cw__server_nodes(cl->s);
        st.joining = ss.joining || ss.verifying; /* writes refused until then, either way */
        status_ctx sc = {&st, CW_OK};
        int src = cw__server_with_saved_node(cl->s, fill_status, &sc);
        if (src != CW_OK)
            sc.rc = src;
        cw__answer_head(o, r.op, r.id, sc.rc);
        if (sc.rc == CW_OK)
            cw__answer_status(o, &st);
        cw_client_status_destroy(&st);
        break;
    }
    }
    cw__request_destroy(&r);
    if (o->failed) { /* out of memory: say so, in the smallest answer */
        o->len = 0;
        o->failed = false;
        cw__answer_head(o, r.op, r.id, CW_ENOMEM);
    }
}

/* p's answer, the bytes of cl->out, as a message counted until libzmq lets
 * it go (invariant 7), and in cl->answered (invariant 8). False if memory
 * is short. */
static bool counted_answer(cw__clients *cl, pending *p)
{
    if (!cw__counted_msg(&p->answer, cl->out.b, cl->out.len, count_of(cl, p)))
        return false;
    cl->answered += cl->out.len;
    return true;
}

/* Serves one request that waits at the socket into p (its answer kept for
 * the burst's end); false if none did (p then holds nothing). */
static bool serve_one(cw__clients *cl, pending *p)
{
    zmq_msg_t req;
    zmq_msg_init(&p->id);
    zmq_msg_init(&p->answer);
    zmq_msg_init(&req);
    p->wrote = false;
    p->has_answer = false;
    p->conn = NULL;
    cl->made = 0;
    if (zmq_msg_recv(&p->id, cl->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&p->id);
        zmq_msg_close(&p->answer);
        zmq_msg_close(&req);
        return false;
    }
    if (!zmq_msg_more(&p->id) || zmq_msg_recv(&req, cl->sock, 0) < 0) {
        zmq_msg_close(&req);
        return true; /* nothing to answer */
    }
    bool more_frames = zmq_msg_more(&req), extra = more_frames;
    while (extra) { /* a request is one frame: the rest is dropped, and it is malformed */
        zmq_msg_t part;
        zmq_msg_init(&part);
        extra = zmq_msg_recv(&part, cl->sock, 0) >= 0 && zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    if (parked_of(cl, &p->id)) { /* invariant 6: not served */
        atomic_fetch_add_explicit(&cl->unserved, 1, memory_order_relaxed); /* a count, orders nothing */
        zmq_msg_close(&req);
        return true;
    }
    const uint8_t *b = zmq_msg_data(&req);
    size_t len = zmq_msg_size(&req);
    cl->asking = p->conn = conn_of(cl, &p->id);
    serve(cl, b, len, more_frames);
    cl->asking = NULL;
    /* The answer's head names the op and the id: kept to answer CW_EUNSAVED. */
    cw__in head = {cl->out.b, cl->out.len, 0};
    int status;
    if (cw__answer_take_head(&head, &p->op, &p->rid, &status) != CW_OK) { /* not reached: serve writes one */
        p->op = 0;
        p->rid = 0;
    }
    p->wrote = cl->made > 0;
    zmq_msg_close(&req);
    if (!counted_answer(cl, p)) {
        zmq_msg_init(&p->answer);
        return true; /* out of memory: the client times out */
    }
    p->has_answer = true;
    return true;
}

/* An answer whose writes were made but not saved (invariant 5), into o:
 * each write it reported made (CW_OK, with its clock) is CW_EUNSAVED
 * instead; a write it reported refused keeps its code. False if the answer
 * does not read as one this endpoint wrote. */
static bool unsaved_answer(cw__out *o, const uint8_t *b, size_t len)
{
    cw__in in = {b, len, 0};
    uint8_t op;
    uint64_t id;
    int status;
    o->len = 0;
    o->failed = false;
    if (cw__answer_take_head(&in, &op, &id, &status) != CW_OK)
        return false;
    if (op != CW__OP_BATCH || status != CW_OK) { /* a put or delete: made, or the answer stays */
        cw__answer_head(o, op, id, status == CW_OK ? CW_EUNSAVED : status);
        return !o->failed;
    }
    uint32_t count;
    if (!cw__in_u32(&in, &count))
        return false;
    cw__answer_head(o, op, id, CW_OK);
    cw__out_u32(o, count);
    cw_vclock clock;
    cw_vclock_init(&clock);
    bool ok = true;
    for (uint32_t i = 0; ok && i < count; i++) {
        uint32_t rc;
        ok = cw__in_u32(&in, &rc) && ((int32_t)rc != CW_OK || cw__in_clock(&in, &clock) == CW_OK);
        cw__out_u32(o, (int32_t)rc == CW_OK ? (uint32_t)(int32_t)CW_EUNSAVED : rc);
    }
    cw_vclock_destroy(&clock);
    return ok && !o->failed;
}

/* The burst's answers, each to the client that asked (invariants 1 and 5);
 * a client gone meanwhile is dropped by the ROUTER. */
static void answer_burst(cw__clients *cl, unsigned n, bool saved)
{
    for (unsigned k = 0; k < n; k++) {
        pending *p = &cl->burst[k];
        if (p->has_answer && p->wrote && !saved) {
            if (!unsaved_answer(&cl->out, zmq_msg_data(&p->answer), zmq_msg_size(&p->answer))) {
                cl->out.len = 0; /* out of memory (the answer is this endpoint's own): the head alone */
                cl->out.failed = false;
                cw__answer_head(&cl->out, p->op, p->rid, CW_EUNSAVED);
            }
            zmq_msg_close(&p->answer);
            if (!counted_answer(cl, p)) {
                zmq_msg_init(&p->answer);
                p->has_answer = false;
            }
        }
        /* A client with an answer parked gets the rest of the burst's
         * parked behind it, even if its queue has room by now. */
        if (p->has_answer && (parked_of(cl, &p->id) || !send_answer(cl, &p->id, &p->answer)))
            park(cl, p); /* its queue is full (invariant 6) */
        zmq_msg_close(&p->id);
        zmq_msg_close(&p->answer);
    }
}

/* Invariant 8: the bytes of answers let go since the last note (every
 * answer made, less those libzmq still holds: it lets them go on its own
 * threads, as they are written out or dropped with their connections),
 * counted for trim.c once they make a large free's worth. */
static void note_released(cw__clients *cl)
{
    size_t held = atomic_load_explicit(&cl->held.bytes, memory_order_relaxed); /* a count: orders nothing */
    uint64_t released = cl->answered > held ? cl->answered - held : 0;
    if (released - cl->released_noted >= CW__TRIM_LARGE) {
        cw__trim_freed(&cl->trim, released - cl->released_noted);
        cl->released_noted = released;
    }
}

static void *clients_main(void *arg)
{
    cw__clients *cl = arg;
    while (!atomic_load_explicit(&cl->stop, memory_order_acquire)) { /* pairs with cw__clients_stop */
        note_released(cl);
        if (cl->n_parked)
            send_parked(cl);
        zmq_pollitem_t item = {cl->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, cl->n_parked ? PARKED_POLL_MS : POLL_MS) <= 0)
            continue;
        /* Every request waiting now is one burst (invariant 4): what their
         * writes send to peers leaves together at the end. */
        cw__server_hold_sends(cl->s);
        unsigned n = 0;
        size_t made = 0;
        /* A stop ends the burst too: its answers can be large (a key's
         * siblings), and 128 of them took seconds. (Relaxed: it only ends the
         * burst early; the loop's acquire load above orders the stop.) */
        while (n < BURST && made < BURST_WRITES && !atomic_load_explicit(&cl->stop, memory_order_relaxed) &&
               serve_one(cl, &cl->burst[n])) {
            n++;
            made += cl->made;
        }
        bool saved = !made || cw__server_save(cl->s) == CW_OK;
        cw__server_release_sends(cl->s);
        answer_burst(cl, n, saved);
    }
    return NULL;
}

int cw__clients_start(cw__clients **out, cw__server *s, const char *endpoint, size_t max_frame,
                      const cw__allow *allow, char *err, size_t errlen)
{
    if (!out || !s || !endpoint || !*endpoint || max_frame == 0 || max_frame > INT64_MAX) {
        cw__server_err(err, errlen, "no client endpoint");
        return CW_EINVAL;
    }
    char bind_to[CW__ENDPOINT_MAX], why[CW__ENDPOINT_MAX + 64];
    if (cw__endpoint_to_bind(endpoint, bind_to, why, sizeof why) != CW_OK) {
        cw__server_err(err, errlen, "cannot listen for clients on %.200s: %s", endpoint, why);
        return CW_EIO;
    }
    cw__clients *cl = calloc(1, sizeof *cl);
    if (!cl)
        return CW_ENOMEM;
    cl->s = s;
    cw__trim_init(&cl->trim);
    cw__map_init(&cl->conns);
    cl->sweep_at = CW__CLIENTS_CONNS_SWEEP_MIN;
    int64_t maxmsg = (int64_t)max_frame;
    /* Per client connection, at most rcv_hwm requests wait to be served
     * (beyond, ZeroMQ stops reading that connection: REQUEST_BYTES_QUEUED)
     * and ANSWERS_QUEUED answers wait to be sent; an answer beyond it is
     * parked and its client not served (invariant 6: ZMQ_ROUTER_MANDATORY
     * makes the send say so instead of dropping the answer). */
    size_t by_bytes = REQUEST_BYTES_QUEUED / max_frame;
    int rcv_hwm = by_bytes < REQUESTS_QUEUED_MIN   ? REQUESTS_QUEUED_MIN
                  : by_bytes > REQUESTS_QUEUED_MAX ? REQUESTS_QUEUED_MAX
                                                   : (int)by_bytes;
    int linger = 0, snd_hwm = ANSWERS_QUEUED, mandatory = 1, handshake = HANDSHAKE_MS,
        ipv6 = cw__endpoint_ipv6(bind_to);
    cl->ctx = zmq_ctx_new();
    int no_room = cl->ctx ? cw__thread_room(CW__ZMQ_CONTEXT_THREADS) : 0; /* libzmq aborts where they cannot start */
    if (no_room) {
        cw__server_err(err, errlen, "cannot start ZeroMQ's threads: %s (%s)", strerror(no_room), CW__THREADS_WHY);
        cw__clients_stop(cl);
        return CW_EIO;
    }
    int rc = !cl->ctx ? CW_EIO : allow ? cw__auth_start(&cl->auth, cl->ctx, NULL, 0, allow) : CW_OK;
    if (rc != CW_OK) {
        int e = errno;
        bool sys = rc == CW_EIO && cl->ctx;
        cw__server_err(err, errlen, "client socket's address check: %s%s", sys ? zmq_strerror(e) : cw_strerror(rc),
                       sys ? cw__thread_hint(e) : "");
        cw__clients_stop(cl);
        return rc;
    }
    if (!(cl->sock = zmq_socket(cl->ctx, ZMQ_ROUTER)) ||
        (allow && zmq_setsockopt(cl->sock, ZMQ_ZAP_DOMAIN, "causeway-clients", 16) != 0) ||
        zmq_setsockopt(cl->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) != 0 ||
        zmq_setsockopt(cl->sock, ZMQ_IPV6, &ipv6, sizeof ipv6) != 0 ||
        zmq_setsockopt(cl->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(cl->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(cl->sock, ZMQ_SNDHWM, &snd_hwm, sizeof snd_hwm) != 0 ||
        zmq_setsockopt(cl->sock, ZMQ_RCVHWM, &rcv_hwm, sizeof rcv_hwm) != 0 ||
        zmq_setsockopt(cl->sock, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake) != 0) {
        cw__server_err(err, errlen, "client socket: %s", zmq_strerror(zmq_errno()));
        cw__clients_stop(cl);
        return CW_EIO;
    }
    if (cw__endpoint_in_use(endpoint)) {
        cw__server_err(err, errlen, "cannot listen for clients on %s: another process serves it", endpoint);
        cw__clients_stop(cl);
        return CW_EIO;
    }
    if (zmq_bind(cl->sock, bind_to) != 0) {
        cw__server_err(err, errlen, "cannot listen for clients on %s: %s", endpoint, zmq_strerror(zmq_errno()));
        cw__clients_stop(cl);
        return CW_EIO;
    }
    cw__endpoint_bound(cl->sock, endpoint, cl->bound);
    int not_started = pthread_create(&cl->thread, NULL, clients_main, cl);
    if (not_started) {
        cw__server_err(err, errlen, "cannot start the client thread: %s (%s)", strerror(not_started), CW__THREADS_WHY);
        cw__clients_stop(cl);
        return CW_EIO;
    }
    cl->started = true;
    *out = cl;
    return CW_OK;
}

uint64_t cw__clients_unserved(const cw__clients *cl)
{
    return atomic_load_explicit(&cl->unserved, memory_order_relaxed);
}

uint64_t cw__clients_refused_large(const cw__clients *cl)
{
    return atomic_load_explicit(&cl->refused_large, memory_order_relaxed);
}

const char *cw__clients_bound(const cw__clients *cl) { return cl->bound; }

uint64_t cw__clients_refused(const cw__clients *cl)
{
    return cw__auth_refused(cl->auth);
}

size_t cw__clients_held(const cw__clients *cl)
{
    return atomic_load_explicit(&cl->held.bytes, memory_order_relaxed); /* a count, orders nothing */
}

uint64_t cw__clients_trims(const cw__clients *cl) { return cw__trim_count(&cl->trim); }

size_t cw__clients_tracked(const cw__clients *cl)
{
    return atomic_load_explicit(&cl->tracked, memory_order_relaxed); /* a count, orders nothing */
}

void cw__clients_stop(cw__clients *cl)
{
    if (!cl)
        return;
    atomic_store_explicit(&cl->stop, true, memory_order_release); /* pairs with clients_main's acquire */
    if (cl->started)
        pthread_join(cl->thread, NULL);
    for (size_t k = 0; k < cl->n_parked; k++)
        parked_free(cl->parked[k]);
    free(cl->parked);
    if (cl->sock)
        zmq_close(cl->sock);
    cw__auth_stop(cl->auth); /* its socket too must be closed before the context ends */
    /* Only once the context is gone has libzmq released every answer
     * (counted.c writes into cl->held): retried if a signal interrupts it. */
    while (cl->ctx && zmq_ctx_term(cl->ctx) != 0 && zmq_errno() == EINTR) {
    }
    cw__trim_destroy(&cl->trim); /* its thread: nothing counts any more */
    for (size_t k = 0; k < cl->n_conns; k++)
        free(cl->conn_list[k]);
    free(cl->conn_list);
    cw__map_destroy(&cl->conns);
    free(cl->out.b);
    free(cl);
}
