/* The client of a node process (causeway/client.h): one ZeroMQ DEALER per
 * handle, connected to the node's client ROUTER.
 *
 * Invariants:
 *  1. One request in flight per handle: a call sends its request and takes
 *     answers until the one with its id comes, dropping any other (an answer
 *     to an earlier call that timed out), or the timeout passes.
 *  2. Ids grow by one per request and are never reused by a handle.
 */
#include <causeway/client.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include <causeway/error.h>

#include "proto.h"

#define DEFAULT_TIMEOUT_MS 5000u

struct cw_client {
    void *ctx;
    void *sock;
    uint64_t next_id;
    uint32_t timeout_ms;
    cw__out out;
    zmq_msg_t answer;          /* the last answer taken; valid until the next call */
    bool have_answer;
};

void cw_client_status_init(cw_client_status *s)
{
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

int cw_client_open(cw_client **out, const char *endpoint, uint32_t timeout_ms)
{
    if (!out || !endpoint || !*endpoint)
        return CW_EINVAL;
    cw_client *c = calloc(1, sizeof *c);
    if (!c)
        return CW_ENOMEM;
    c->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    c->next_id = 1;
    c->ctx = zmq_ctx_new();
    /* Requests go only to a connected node (ZMQ_IMMEDIATE): one that is
     * away does not collect requests to make minutes later, and a send
     * that finds no connection gives up at the call's deadline. */
    int linger = 0, immediate = 1;
    if (!c->ctx || !(c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        zmq_connect(c->sock, endpoint) != 0) {
        int rc = c->ctx && zmq_errno() != ENOMEM ? CW_EIO : CW_ENOMEM;
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
    if (c->have_answer)
        zmq_msg_close(&c->answer);
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

/* Sends a request and waits for its answer (invariant 1). On CW_OK, *in
 * reads the answer's body and *status is the node's code. */
static int call(cw_client *c, uint8_t op, const void *key, size_t key_len, const void *value, size_t value_len,
                const cw_vclock *context, cw__in *in, int *status)
{
    if (c->have_answer) {
        zmq_msg_close(&c->answer);
        c->have_answer = false;
    }
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
        if (n == 0)
            continue;
        zmq_msg_init(&c->answer);
        if (zmq_msg_recv(&c->answer, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&c->answer);
            continue;
        }
        c->have_answer = true;
        *in = (cw__in){zmq_msg_data(&c->answer), zmq_msg_size(&c->answer), 0};
        uint8_t aop;
        uint64_t aid;
        if (zmq_msg_more(&c->answer) || cw__answer_take_head(in, &aop, &aid, status) != CW_OK)
            return CW_EBADMSG;
        if (aid == id && aop == op)
            return CW_OK;
        zmq_msg_close(&c->answer); /* an answer to a call that gave up */
        c->have_answer = false;
    }
}

/* The body of a write's answer: its clock into clock_out (nullable). */
static int take_write_answer(cw__in *in, cw_vclock *clock_out)
{
    cw_vclock clock;
    cw_vclock_init(&clock);
    if (!cw__in_clock(in, &clock) || in->pos != in->len) {
        cw_vclock_destroy(&clock);
        return CW_EBADMSG;
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
    cw__in in;
    int status;
    int rc = call(c, op, key, key_len, value, value_len, context, &in, &status);
    if (rc != CW_OK)
        return rc;
    if (status != CW_OK)
        return status > 0 ? CW_EBADMSG : status;
    return take_write_answer(&in, clock_out);
}

int cw_client_write_many(cw_client *c, cw_client_write *w, size_t count)
{
    if (!c || (count && !w))
        return CW_EINVAL;
    for (size_t i = 0; i < count; i++)
        if ((!w[i].key && w[i].key_len) || (!w[i].tombstone && !w[i].value && w[i].value_len))
            return CW_EINVAL;
    if (c->have_answer) {
        zmq_msg_close(&c->answer);
        c->have_answer = false;
    }
    uint64_t first = c->next_id;
    size_t sent = 0;
    int rc = CW_OK;
    uint64_t send_by = now_ms() + c->timeout_ms;
    for (; sent < count; sent++) {
        cw_client_write *x = &w[sent];
        x->result = CW_ETIMEDOUT;
        c->out.len = 0;
        c->out.failed = false;
        uint8_t op = x->tombstone ? CW__OP_DELETE : CW__OP_PUT;
        rc = cw__request_encode(&c->out, op, c->next_id, x->key, x->key_len, x->tombstone ? NULL : x->value,
                                x->tombstone ? 0 : x->value_len, x->context);
        if (rc == CW_OK)
            rc = send_request(c, send_by);
        if (rc != CW_OK)
            break;
        c->next_id++; /* invariant 2: one id per request sent */
    }
    for (size_t i = sent; i < count; i++)
        w[i].result = rc;
    size_t left = sent;
    uint64_t deadline = now_ms() + c->timeout_ms;
    while (left) {
        uint64_t now = now_ms();
        if (now >= deadline)
            break;
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, (long)(deadline - now));
        if (n < 0 && zmq_errno() != EINTR)
            return CW_EIO;
        if (n <= 0)
            continue;
        zmq_msg_t a;
        zmq_msg_init(&a);
        if (zmq_msg_recv(&a, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&a);
            continue;
        }
        cw__in in = {zmq_msg_data(&a), zmq_msg_size(&a), 0};
        uint8_t op;
        uint64_t id;
        int status;
        /* Answers to this batch have ids first .. first + sent - 1; any
         * other is a late answer to an earlier call (invariant 1). */
        if (!zmq_msg_more(&a) && cw__answer_take_head(&in, &op, &id, &status) == CW_OK && id >= first &&
            id - first < sent && w[id - first].result == CW_ETIMEDOUT &&
            op == (w[id - first].tombstone ? CW__OP_DELETE : CW__OP_PUT)) {
            cw_client_write *x = &w[id - first];
            x->result = status != CW_OK ? (status > 0 ? CW_EBADMSG : status) : take_write_answer(&in, x->clock_out);
            left--;
        }
        zmq_msg_close(&a);
    }
    if (rc != CW_OK)
        return rc;
    return left ? CW_ETIMEDOUT : CW_OK;
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
    cw__in in;
    int status;
    int rc = call(c, CW__OP_GET, key, key_len, NULL, 0, NULL, &in, &status);
    if (rc != CW_OK)
        return rc;
    if (status != CW_OK && status != CW_ENOTFOUND)
        return status > 0 ? CW_EBADMSG : status;
    rc = cw__answer_take_read(&in, out);
    return rc == CW_OK ? status : rc;
}

int cw_client_get_status(cw_client *c, cw_client_status *out)
{
    if (!c || !out)
        return CW_EINVAL;
    cw__in in;
    int status;
    int rc = call(c, CW__OP_STATUS, NULL, 0, NULL, 0, NULL, &in, &status);
    if (rc != CW_OK)
        return rc;
    if (status != CW_OK)
        return status > 0 ? CW_EBADMSG : status;
    return cw__answer_take_status(&in, out);
}
