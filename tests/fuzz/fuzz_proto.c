/* Fuzz target: the client protocol (src/client/proto.c), both ends. A node
 * decodes requests from any client that reaches its endpoint; a client
 * decodes answers from whatever listens at the endpoint it was given. The
 * first byte picks which decoder reads the rest:
 *   0: a request, and for a batch each of its writes, as the node's client
 *      endpoint reads them (clients.c);
 *   1: an answer's head, then a get's answer;
 *   2: an answer's head, then a status answer.
 * Each decoder returns CW_OK, CW_EBADMSG or CW_ENOMEM and nothing else. What
 * decodes re-encodes with the encoder of the other end to bytes that decode
 * to the same fields (a clock may have several encodings, so the bytes
 * themselves may differ). An answer that does not decode leaves the
 * caller's value as it was. Never reads outside the frame, never leaks
 * (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>
#include <causeway/client.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static int decoded(int rc) { return rc == CW_OK || rc == CW_EBADMSG || rc == CW_ENOMEM; }

static int same_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static int same_clock(const cw_vclock *a, const cw_vclock *b) { return cw_vclock_compare(a, b) == CW_EQUAL; }

/* The fields of two decoded writes agree (the op as given: a batch's writes
 * carry their own). */
static int same_write(const cw__request *a, const cw__request *b)
{
    return a->op == b->op && same_bytes(a->key, a->key_len, b->key, b->key_len) &&
           same_bytes(a->value, a->value_len, b->value, b->value_len) && a->has_context == b->has_context &&
           same_clock(&a->context, &b->context);
}

/* A request that is not a batch: encoded again, it decodes to the same. */
static void request_again(const cw__request *r)
{
    cw__out o = {0};
    if (cw__request_encode(&o, r->op, r->id, r->key, r->key_len, r->value, r->value_len,
                           r->has_context ? &r->context : NULL) == CW_OK) {
        cw__request again;
        int rc = cw__request_decode(&again, o.b, o.len);
        check(rc == CW_ENOMEM || (rc == CW_OK && again.id == r->id && same_write(r, &again)));
        cw__request_destroy(&again);
    }
    free(o.b);
}

/* A batch, read as the node reads it: its count, each write, nothing after
 * them. When every write decodes, the writes make a batch again that reads
 * back the same. */
static void batch(const uint8_t *b, size_t len)
{
    uint32_t count;
    cw__in in;
    int rc = cw__batch_open(b, len, &count, &in);
    check(rc == CW_OK || rc == CW_EBADMSG);
    if (rc != CW_OK)
        return;
    check(count >= 1 && count <= CW__BATCH_MAX && count <= (len - 14) / 10);
    cw__request *w = calloc(count, sizeof *w);
    if (!w)
        return;
    uint32_t read = 0;
    while (rc == CW_OK && read < count)
        rc = cw__batch_next(&in, &w[read++]);
    check(decoded(rc) && in.pos <= len);
    if (rc == CW_OK && in.pos == len) {
        cw__out o = {0};
        cw__batch_begin(&o, 42);
        for (uint32_t i = 0; i < count; i++)
            cw__batch_add(&o, w[i].op == CW__OP_DELETE, w[i].key, w[i].key_len, w[i].value, w[i].value_len,
                          w[i].has_context ? &w[i].context : NULL);
        uint32_t again_count;
        cw__in again_in;
        if (cw__batch_end(&o, count) == CW_OK) {
            check(cw__batch_open(o.b, o.len, &again_count, &again_in) == CW_OK && again_count == count);
            for (uint32_t i = 0; i < count; i++) {
                cw__request again;
                int arc = cw__batch_next(&again_in, &again);
                check(arc == CW_ENOMEM || (arc == CW_OK && same_write(&w[i], &again)));
                cw__request_destroy(&again);
                if (arc != CW_OK)
                    break;
            }
        }
        free(o.b);
    }
    for (uint32_t i = 0; i < read; i++)
        cw__request_destroy(&w[i]);
    free(w);
}

static void request(const uint8_t *b, size_t len)
{
    cw__request r;
    int rc = cw__request_decode(&r, b, len);
    check(decoded(rc));
    if (rc == CW_OK) {
        check(r.op >= CW__OP_PUT && r.op <= CW__OP_BATCH);
        if (r.op == CW__OP_BATCH)
            batch(b, len);
        else
            request_again(&r);
    }
    cw__request_destroy(&r);
}

static int same_read(const cw_read *a, const cw_read *b)
{
    if (a->count != b->count || !same_clock(&a->context, &b->context))
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        const cw_value_version *x = &a->versions[i], *y = &b->versions[i];
        if (x->origin != y->origin || x->seq != y->seq || x->timestamp.wall_ms != y->timestamp.wall_ms ||
            x->timestamp.counter != y->timestamp.counter || x->timestamp.node != y->timestamp.node ||
            !same_bytes(x->value, x->value_len, y->value, y->value_len) || !same_clock(&x->clock, &y->clock) ||
            !same_clock(&x->context, &y->context))
            return 0;
    }
    return 1;
}

static int same_status(const cw_client_status *a, const cw_client_status *b)
{
    return a->node == b->node && a->nodes == b->nodes && a->joining == b->joining && a->writes == b->writes &&
           a->delivered == b->delivered && a->buffered == b->buffered && a->keys == b->keys &&
           a->retransmitted == b->retransmitted && a->recovered == b->recovered && same_clock(&a->clock, &b->clock) &&
           same_clock(&a->stable, &b->stable);
}

/* A value the caller holds before a decode: one version with a clock, so
 * that a decode that wrote into it on failure, or freed it, shows. */
static void sentinel_read(cw_read *r)
{
    cw_read_init(r);
    r->versions = calloc(1, sizeof *r->versions);
    if (!r->versions)
        return;
    r->count = 1;
    cw_vclock_init(&r->versions[0].clock);
    cw_vclock_init(&r->versions[0].context);
    r->versions[0].seq = 7;
    r->versions[0].value = malloc(1);
    cw_vclock_set(&r->versions[0].clock, 3, 7);
}

static int is_sentinel_read(const cw_read *r)
{
    return !r->versions || (r->count == 1 && r->versions[0].seq == 7 && r->versions[0].value_len == 0 &&
                            cw_vclock_get(&r->versions[0].clock, 3) == 7 && r->context.size == 0);
}

static void answer(const uint8_t *b, size_t len, int status_answer)
{
    cw__in in = {b, len, 0};
    uint8_t op;
    uint64_t id;
    int status;
    int rc = cw__answer_take_head(&in, &op, &id, &status);
    check(rc == CW_OK || rc == CW_EBADMSG);
    if (rc != CW_OK)
        return;
    check(cw__code_known(status) && in.pos == CW__ANSWER_HEAD);
    if (!status_answer) {
        cw_read r;
        sentinel_read(&r);
        rc = cw__answer_take_read(&in, &r);
        check(decoded(rc) && (rc == CW_OK || is_sentinel_read(&r)));
        if (rc == CW_OK) {
            cw__out o = {0};
            cw__answer_head(&o, op, id, status);
            cw__answer_read(&o, &r);
            cw__in again_in = {o.b, o.len, 0};
            cw_read again;
            cw_read_init(&again);
            if (!o.failed) {
                check(cw__answer_take_head(&again_in, &op, &id, &status) == CW_OK);
                int arc = cw__answer_take_read(&again_in, &again);
                check(arc == CW_ENOMEM || (arc == CW_OK && same_read(&r, &again)));
            }
            cw_read_destroy(&again);
            free(o.b);
        }
        cw_read_destroy(&r);
    } else {
        cw_client_status s;
        cw_client_status_init(&s);
        s.writes = 7;
        rc = cw__answer_take_status(&in, &s);
        check(decoded(rc) && (rc == CW_OK || (s.writes == 7 && s.clock.size == 0)));
        if (rc == CW_OK) {
            check(s.node < s.nodes);
            cw__out o = {0};
            cw__answer_head(&o, op, id, status);
            cw__answer_status(&o, &s);
            cw__in again_in = {o.b, o.len, 0};
            cw_client_status again;
            cw_client_status_init(&again);
            if (!o.failed) {
                check(cw__answer_take_head(&again_in, &op, &id, &status) == CW_OK);
                int arc = cw__answer_take_status(&again_in, &again);
                check(arc == CW_ENOMEM || (arc == CW_OK && same_status(&s, &again)));
            }
            cw_client_status_destroy(&again);
            free(o.b);
        }
        cw_client_status_destroy(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        request(data + 1, size - 1);
        break;
    case 1:
        answer(data + 1, size - 1, 0);
        break;
    default:
        answer(data + 1, size - 1, 1);
        break;
    }
    return 0;
}
