/* The client of a node process (causeway/client.h): one ZeroMQ DEALER per
 * handle, connected to the node's client ROUTER.
 *
 * Invariants:
 *  1. One request in flight per handle: a call sends its request and takes
 *     answers until the one with its id comes, dropping any other (an answer
 *     to an earlier call that timed out, or a frame that is no answer of
 *     this call's, all its parts), or the timeout passes.
 *  2. Ids grow by one per request and are never reused by a handle.
 *  3. One connection for the handle's life, never a new one after a
 *     timeout: the node serves a connection's requests in order, so a
 *     request that timed out is never made after a later call's (requests
 *     already sent on an old connection are still served, beside a new
 *     one's). libzmq ends the connection for good on an answer over
 *     CW_CLIENT_MAX_ANSWER; no node sends one (it answers such a get
 *     CW_ELIMIT), and after one from whatever else answers, every call
 *     times out: only a new handle helps.
 */
#include <causeway/client.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include <causeway/error.h>

#include "proto.h"
#include "thread_room.h"

/* Whether a node can take this key and value: a node takes keys and values
 * up to the replica's default limits (causeway node sets no others), and its
 * socket drops a larger request unanswered, which would leave the caller to
 * time out (and wonder whether it was made) for a request that cannot be. */
static bool within_limits(size_t key_len, size_t value_len)
{
    return key_len <= CW_NODE_DEFAULT_MAX_KEY_LEN && value_len <= CW_NODE_DEFAULT_MAX_VALUE_LEN;
}

#define DEFAULT_TIMEOUT_MS 5000u

struct cw_client {
    void *ctx;
    void *sock;
    uint64_t next_id;
    uint32_t timeout_ms;
    cw__out out;
};

void cw_client_status_init(cw_client_status *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    cw_vclock_init(&s->clock);
    cw_vclock_init(&s->stable);
}

void cw_client_status_destroy(cw_client_status *s)
{
    if (!s)
        return;
    cw_vclock_destroy(&s->clock);
    cw_vclock_destroy(&s->stable);
}

/* Batch requests in flight at once, at most. The node queues 64 answers
 * per connection, and stops serving a client whose answers pass that
 * (clients.c, invariant 6), so a call that sent every frame before reading
 * any would have its later frames dropped unserved; and each answer read
 * restarts the timeout, so a call that the node serves steadily never
 * times out for being long. 32 frames keep the link busy: a burst at the
 * node serves up to 128 requests of all its clients. */
#define BATCH_WINDOW 32u

/* Answers queued in the socket, at most (ZMQ_RCVHWM): cw_client_write_many
 * has BATCH_WINDOW requests in flight, a plain call one. */
#define ANSWERS_QUEUED (BATCH_WINDOW + 2)

/* Opens c->sock, connected to endpoint: CW_OK, CW_EIO (a malformed
 * endpoint or a socket error; c->sock NULL), CW_ENOMEM. */
static int open_socket(cw_client *c, const char *endpoint)
{
    /* Requests go only to a connected node (ZMQ_IMMEDIATE): one that is
     * away does not collect requests to make minutes later, and a send
     * that finds no connection gives up at the call's deadline. An answer
     * larger than CW_CLIENT_MAX_ANSWER is refused by the socket (ZeroMQ
     * drops the connection as the frame's size arrives, for good:
     * invariant 3), and at most ANSWERS_QUEUED whole answers wait in it.
     * IPv6 only for an IPv6 literal (tcp://[::1]:PORT): with it on, a host
     * name such as localhost could resolve to ::1 and miss a node bound on
     * 127.0.0.1. */
    int linger = 0, immediate = 1, queued = ANSWERS_QUEUED, ipv6 = strncmp(endpoint, "tcp://[", 7) == 0;
    int64_t max_answer = CW_CLIENT_MAX_ANSWER;
    if (!(c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_IPV6, &ipv6, sizeof ipv6) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &max_answer, sizeof max_answer) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_RCVHWM, &queued, sizeof queued) != 0 ||
        zmq_connect(c->sock, endpoint) != 0) {
        int rc = zmq_errno() == ENOMEM ? CW_ENOMEM : CW_EIO;
        if (c->sock)
            zmq_close(c->sock);
        c->sock = NULL;
        return rc;
    }
    return CW_OK;
}

/* Whether a tcp:// endpoint's port (after its last ':') is a port to
 * connect to, 1 to 65535 in digits; other transports pass. ZeroMQ reads the
 * port with atoi and keeps 16 bits, so tcp://HOST:99999 would connect to
 * port 34463 and tcp://HOST:7201x to 7201: another service, without a word. */
static bool port_ok(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return true;
    const char *port = strrchr(endpoint + 6, ':');
    if (!port)
        return false;
    size_t n = strlen(++port);
    unsigned long p = strtoul(port, NULL, 10);
    return n >= 1 && n <= 5 && strspn(port, "0123456789") == n && p >= 1 && p <= 65535;
}

int cw_client_open(cw_client **out, const char *endpoint, uint32_t timeout_ms)
{
    if (!out || !endpoint || !*endpoint)
        return CW_EINVAL;
    if (!port_ok(endpoint))
        return CW_EIO;
    cw_client *c = calloc(1, sizeof *c);
    if (!c)
        return CW_ENOMEM;
    c->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    c->next_id = 1;
    c->ctx = zmq_ctx_new();
    /* libzmq aborts where its threads cannot start: refuse here instead. */
    int rc = !c->ctx ? CW_ENOMEM : cw__thread_room(CW__ZMQ_CONTEXT_THREADS) ? CW_EIO : open_socket(c, endpoint);
    if (rc != CW_OK) {
        cw_client_close(c);
        return rc;
    }
    *out = c;
    return CW_OK;
}

void cw_client_close(cw_client *c)
{
    if (!c)
        return;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c->out.b);
    free(c);
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Sends the request in c->out without blocking past the deadline: CW_OK,
 * CW_ETIMEDOUT (no connection, or the queue to the node full, until then),
 * CW_EIO, CW_ENOMEM. */
static int send_request(cw_client *c, uint64_t deadline)
{
    for (;;) {
        if (zmq_send(c->sock, c->out.b, c->out.len, ZMQ_DONTWAIT) >= 0)
            return CW_OK;
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
            return zmq_errno() == ENOMEM ? CW_ENOMEM : CW_EIO;
        uint64_t now = now_ms();
        if (now >= deadline)
            return CW_ETIMEDOUT;
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll(&item, 1, (long)(deadline - now)) < 0 && zmq_errno() != EINTR)
            return CW_EIO;
    }
}

/* Takes the next message from the socket into *a (initialized by this):
 * true when it is one frame, false when there was none or it had more
 * parts (all of them dropped: no answer has more than one). */
static bool take_frame(cw_client *c, zmq_msg_t *a)
{
    zmq_msg_init(a);
    if (zmq_msg_recv(a, c->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(a);
        return false;
    }
    bool several = zmq_msg_more(a), more = several;
    while (more) { /* a message's parts come together: the rest is there */
        zmq_msg_close(a);
        zmq_msg_init(a);
        more = zmq_msg_recv(a, c->sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(a);
    }
    if (several)
        zmq_msg_close(a);
    return !several;
}

/* Sends a request and waits for its answer (invariant 1). On CW_OK, *a
 * holds the answer (the caller closes it once read: an answer can be
 * CW_CLIENT_MAX_ANSWER bytes, not to be held between calls), *in reads its
 * body and *status is the node's code. */
static int call(cw_client *c, uint8_t op, const void *key, size_t key_len, const void *value, size_t value_len,
                const cw_vclock *context, zmq_msg_t *a, cw__in *in, int *status)
{
    uint64_t id = c->next_id++;
    c->out.len = 0;
    c->out.failed = false;
    int rc = cw__request_encode(&c->out, op, id, key, key_len, value, value_len, context);
    if (rc != CW_OK)
        return rc;
    uint64_t deadline = now_ms() + c->timeout_ms;
    if ((rc = send_request(c, deadline)) != CW_OK)
        return rc;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return CW_ETIMEDOUT;
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, (long)(deadline - now));
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return CW_EIO;
        }
        if (n == 0 || !take_frame(c, a))
            continue;
        /* Only a frame whose op and id are this call's answers it; a status
         * that does not decode then makes it CW_EBADMSG. Any other frame is
         * dropped (invariant 1). */
        *in = (cw__in){zmq_msg_data(a), zmq_msg_size(a), 0};
        uint8_t aop = 0;
        uint64_t aid = 0;
        int head = cw__answer_take_head(in, &aop, &aid, status);
        if (aid == id && aop == op && head == CW_OK)
            return CW_OK;
        zmq_msg_close(a);
        if (aid == id && aop == op && head == CW_EBADMSG)
            return CW_EBADMSG;
    }
}

/* The body of a write's answer: its clock into clock_out (nullable). */
static int take_write_answer(cw__in *in, cw_vclock *clock_out)
{
    cw_vclock clock;
    cw_vclock_init(&clock);
    int rc = cw__in_clock(in, &clock);
    if (rc == CW_OK && in->pos != in->len)
        rc = CW_EBADMSG;
    if (rc != CW_OK) {
        cw_vclock_destroy(&clock);
        return rc; /* CW_ENOMEM: the node made the write; its clock could not be kept */
    }
    if (clock_out) {
        cw_vclock_destroy(clock_out);
        *clock_out = clock;
    } else {
        cw_vclock_destroy(&clock);
    }
    return CW_OK;
}

static int write_call(cw_client *c, uint8_t op, const void *key, size_t key_len, const void *value,
                      size_t value_len, const cw_vclock *context, cw_vclock *clock_out)
{
    if (!c || (!key && key_len) || (!value && value_len))
        return CW_EINVAL;
    if (!within_limits(key_len, value_len))
        return CW_ELIMIT;
    zmq_msg_t a;
    cw__in in;
    int status;
    int rc = call(c, op, key, key_len, value, value_len, context, &a, &in, &status);
    if (rc != CW_OK)
        return rc;
    /* The node's code is one error.h knows (cw__answer_take_head). */
    rc = status != CW_OK ? status : take_write_answer(&in, clock_out);
    zmq_msg_close(&a);
    return rc;
}

/* A batch frame holds writes up to this many bytes (a write that would pass
 * it starts a frame of its own), so every frame stays below what a node
 * accepts: a frame of several writes is under this, a frame of one write is
 * no larger than that write's put. */
#define BATCH_FRAME_BYTES (256u * 1024u)
#define BATCH_FRAME_WRITES 1024u

/* The answer to batch frame [first, first + n) of w: each write's result.
 * An answer that does not decode whole gives every write of the frame
 * CW_EBADMSG (made or not, unknown; a clock_out may have changed): once one
 * result is misread, the bytes after it cannot be trusted. Out of memory
 * for a write's clock gives it and the writes after it CW_ENOMEM (made or
 * not, unknown to this process: their results could not be read). */
static void take_batch_answer(cw__in *in, int status, cw_client_write *w, size_t n)
{
    uint32_t count;
    if (status != CW_OK || !cw__in_u32(in, &count) || count != n) {
        int rc = status != CW_OK ? status : CW_EBADMSG;
        for (size_t i = 0; i < n; i++)
            w[i].result = rc;
        return;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t st = 0;
        ok = cw__in_u32(in, &st) && cw__code_known((int32_t)st);
        if (!ok || st != 0) {
            w[i].result = (int)(int32_t)st;
            continue;
        }
        cw_vclock clock;
        cw_vclock_init(&clock);
        int rc = cw__in_clock(in, &clock);
        if (rc == CW_ENOMEM) {
            for (size_t k = i; k < n; k++)
                w[k].result = CW_ENOMEM;
            return;
        }
        ok = rc == CW_OK;
        if (ok && w[i].clock_out) {
            cw_vclock_destroy(w[i].clock_out);
            *w[i].clock_out = clock;
        } else {
            cw_vclock_destroy(&clock);
        }
        w[i].result = CW_OK;
    }
    if (!ok || in->pos != in->len)
        for (size_t i = 0; i < n; i++)
            w[i].result = CW_EBADMSG;
}

/* A write the node would refuse unread (its socket drops the request):
 * never sent, answered CW_ELIMIT here as a single put would be. */
static bool write_fits(const cw_client_write *x)
{
    return within_limits(x->key_len, x->tombstone ? 0 : x->value_len);
}

/* The next frame of writes w[*i ..] into c->out: up to BATCH_FRAME_WRITES
 * writes and BATCH_FRAME_BYTES (a larger write alone), ending before a
 * write that does not fit; *i moves past them. Each gets CW_ETIMEDOUT until
 * its answer comes. */
static int batch_frame(cw_client *c, cw_client_write *w, size_t count, size_t *i)
{
    cw__batch_begin(&c->out, c->next_id);
    size_t n = 0;
    for (; *i < count && n < BATCH_FRAME_WRITES && write_fits(&w[*i]); ++*i, n++) {
        cw_client_write *x = &w[*i];
        /* A frame never passes BATCH_FRAME_BYTES by a write added to it:
         * a large write goes in a frame of its own, as large as a single
         * put (which the node takes), never on top of others. */
        size_t size = 14 + x->key_len + (x->tombstone ? 0 : x->value_len) +
                      (x->context ? cw_vclock_encoded_size(x->context) : 0);
        if (n && c->out.len + size > BATCH_FRAME_BYTES)
            break;
        x->result = CW_ETIMEDOUT;
        cw__batch_add(&c->out, x->tombstone, x->key, x->key_len, x->value, x->value_len, x->context);
    }
    return cw__batch_end(&c->out, (uint32_t)n);
}

int cw_client_write_many(cw_client *c, cw_client_write *w, size_t count)
{
    if (!c || (count && !w))
        return CW_EINVAL;
    for (size_t i = 0; i < count; i++)
        if ((!w[i].key && w[i].key_len) || (!w[i].tombstone && !w[i].value && w[i].value_len))
            return CW_EINVAL;
    /* Frames of consecutive writes, each one request (one id): frame k
     * holds w[start[k] .. end[k]). At most one frame a write. */
    size_t *start = malloc((count ? count : 1) * 2 * sizeof *start);
    uint8_t *done = calloc(count ? count : 1, 1);
    if (!start || !done) {
        free(start);
        free(done);
        for (size_t k = 0; k < count; k++) /* none sent */
            w[k].result = !write_fits(&w[k]) ? CW_ELIMIT : CW_ENOMEM;
        return CW_ENOMEM;
    }
    size_t *end = start + (count ? count : 1);
    uint64_t first = c->next_id;
    int rc = CW_OK;                  /* from sending: no frame goes after it */
    size_t i = 0, frames = 0, left = 0;
    uint64_t deadline = now_ms() + c->timeout_ms; /* restarted by each frame sent and each answer read */
    for (;;) {
        while (rc == CW_OK && i < count && !write_fits(&w[i]))
            w[i++].result = CW_ELIMIT;
        if (rc == CW_OK && i < count && left < BATCH_WINDOW) {
            size_t from = i;
            rc = batch_frame(c, w, count, &i);
            if (rc == CW_OK)
                rc = send_request(c, now_ms() + c->timeout_ms);
            if (rc != CW_OK) {
                i = from; /* this frame did not go */
                continue;
            }
            start[frames] = from;
            end[frames++] = i;
            c->next_id++; /* invariant 2: one id per request sent */
            left++;
            deadline = now_ms() + c->timeout_ms;
            continue;
        }
        if (!left)
            break;
        uint64_t now = now_ms();
        if (now >= deadline)
            break;
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, (long)(deadline - now));
        if (n < 0 && zmq_errno() != EINTR) {
            rc = rc == CW_OK ? CW_EIO : rc;
            break;
        }
        if (n <= 0)
            continue;
        zmq_msg_t a;
        if (!take_frame(c, &a))
            continue;
        cw__in in = {zmq_msg_data(&a), zmq_msg_size(&a), 0};
        uint8_t op = 0;
        uint64_t id = 0;
        int status = CW_OK;
        /* Answers to this call have ids first .. first + frames - 1; any
         * other is a late answer to an earlier call (invariant 1). A head
         * whose op and id name a frame of this call but whose status does
         * not decode answers that frame CW_EBADMSG, as a single call's. */
        int head = cw__answer_take_head(&in, &op, &id, &status);
        if ((head == CW_OK || head == CW_EBADMSG) && op == CW__OP_BATCH && id >= first && id - first < frames &&
            !done[id - first]) {
            size_t k = (size_t)(id - first);
            take_batch_answer(&in, head == CW_OK ? status : CW_EBADMSG, w + start[k], end[k] - start[k]);
            done[k] = 1;
            left--;
            deadline = now_ms() + c->timeout_ms;
        }
        zmq_msg_close(&a);
    }
    /* Writes never sent: the sending error, or (the node stopped answering
     * while the window was full) CW_ETIMEDOUT; either way not made. */
    for (size_t k = i; k < count; k++)
        w[k].result = !write_fits(&w[k]) ? CW_ELIMIT : rc != CW_OK ? rc : CW_ETIMEDOUT;
    free(done);
    free(start);
    if (rc != CW_OK)
        return rc;
    return left || i < count ? CW_ETIMEDOUT : CW_OK;
}

int cw_client_put(cw_client *c, const void *key, size_t key_len, const void *value, size_t value_len,
                  const cw_vclock *context, cw_vclock *clock_out)
{
    return write_call(c, CW__OP_PUT, key, key_len, value, value_len, context, clock_out);
}

int cw_client_delete(cw_client *c, const void *key, size_t key_len, const cw_vclock *context, cw_vclock *clock_out)
{
    return write_call(c, CW__OP_DELETE, key, key_len, NULL, 0, context, clock_out);
}

int cw_client_get(cw_client *c, const void *key, size_t key_len, cw_read *out)
{
    if (!c || !out || (!key && key_len))
        return CW_EINVAL;
    if (!within_limits(key_len, 0))
        return CW_ELIMIT;
    zmq_msg_t a;
    cw__in in;
    int status;
    int rc = call(c, CW__OP_GET, key, key_len, NULL, 0, NULL, &a, &in, &status);
    if (rc != CW_OK)
        return rc;
    /* The node's code is one error.h knows (cw__answer_take_head). */
    rc = status != CW_OK && status != CW_ENOTFOUND ? status : cw__answer_take_read(&in, out);
    zmq_msg_close(&a);
    return rc == CW_OK ? status : rc;
}

int cw_client_get_status(cw_client *c, cw_client_status *out)
{
    if (!c || !out)
        return CW_EINVAL;
    zmq_msg_t a;
    cw__in in;
    int status;
    int rc = call(c, CW__OP_STATUS, NULL, 0, NULL, 0, NULL, &a, &in, &status);
    if (rc != CW_OK)
        return rc;
    /* The node's code is one error.h knows (cw__answer_take_head). */
    rc = status != CW_OK ? status : cw__answer_take_status(&in, out);
    zmq_msg_close(&a);
    return rc;
}
