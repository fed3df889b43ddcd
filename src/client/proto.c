/* The client protocol's bytes (proto.h).
 *
 * Invariants:
 *  1. A reader never reads past its frame: every take checks the bytes left
 *     first, and a failed take leaves the reader where it was.
 *  2. A decoder allocates only what the frame's bytes stand for: a count is
 *     checked against the least bytes each item needs before any array of
 *     that count is made.
 *  3. An output buffer that ran out of memory stays failed: the encoder
 *     finishes without writing and the caller sees CW_ENOMEM once. A
 *     reservation that fails (cw__out_reserve) writes nothing and leaves
 *     the buffer as it was, not failed; one that succeeds makes the puts
 *     it covers unable to fail.
 */
#include "proto.h"

#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "bytes.h"

/* ---- output ---- */

static uint8_t *room(cw__out *o, size_t n)
{
    if (o->failed)
        return NULL;
    if (n > SIZE_MAX - o->len) {
        o->failed = true;
        return NULL;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap = cap > SIZE_MAX / 2 ? o->len + n : cap * 2;
        uint8_t *b = realloc(o->b, cap);
        if (!b) {
            o->failed = true;
            return NULL;
        }
        o->b = b;
        o->cap = cap;
    }
    uint8_t *p = o->b + o->len;
    o->len += n;
    return p;
}

static void out_be(cw__out *o, uint64_t v, int bytes)
{
    uint8_t *p = room(o, (size_t)bytes);
    if (p)
        cw__store_be(p, v, bytes);
}

void cw__out_u8(cw__out *o, uint8_t v) { out_be(o, v, 1); }
void cw__out_u16(cw__out *o, uint16_t v) { out_be(o, v, 2); }
void cw__out_u32(cw__out *o, uint32_t v) { out_be(o, v, 4); }
void cw__out_u64(cw__out *o, uint64_t v) { out_be(o, v, 8); }

void cw__out_bytes(cw__out *o, const void *p, size_t n)
{
    uint8_t *d = room(o, n);
    if (d && n)
        memcpy(d, p, n);
}

void cw__out_blob(cw__out *o, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        o->failed = true;
        return;
    }
    cw__out_u32(o, (uint32_t)n);
    cw__out_bytes(o, p, n);
}

void cw__out_clock(cw__out *o, const cw_vclock *c)
{
    size_t need = cw_vclock_encoded_size(c), len = 0;
    uint8_t *p = room(o, need);
    if (p && cw_vclock_encode(c, p, need, &len) != CW_OK)
        o->failed = true;
}

bool cw__out_reserve(cw__out *o, size_t n)
{
    if (o->failed)
        return false;
    size_t len = o->len;
    if (!room(o, n)) {
        o->failed = false; /* nothing was written: o is as it was */
        return false;
    }
    o->len = len;
    return true;
}

size_t cw__clock_room(uint32_t nodes) { return 4 + 10 * (size_t)nodes; }

/* ---- input (invariant 1) ---- */

static bool in_be(cw__in *in, uint64_t *v, int bytes)
{
    if (in->len - in->pos < (size_t)bytes)
        return false;
    *v = cw__load_be(in->b + in->pos, bytes);
    in->pos += (size_t)bytes;
    return true;
}

bool cw__in_u8(cw__in *in, uint8_t *v)
{
    uint64_t x;
    return in_be(in, &x, 1) ? (*v = (uint8_t)x, true) : false;
}

bool cw__in_u16(cw__in *in, uint16_t *v)
{
    uint64_t x;
    return in_be(in, &x, 2) ? (*v = (uint16_t)x, true) : false;
}

bool cw__in_u32(cw__in *in, uint32_t *v)
{
    uint64_t x;
    return in_be(in, &x, 4) ? (*v = (uint32_t)x, true) : false;
}

bool cw__in_u64(cw__in *in, uint64_t *v) { return in_be(in, v, 8); }

bool cw__in_blob(cw__in *in, const uint8_t **p, size_t *n)
{
    size_t at = in->pos;
    uint32_t len;
    if (!cw__in_u32(in, &len) || in->len - in->pos < len) {
        in->pos = at;
        return false;
    }
    *p = in->b + in->pos;
    *n = len;
    in->pos += len;
    return true;
}

int cw__in_clock(cw__in *in, cw_vclock *out)
{
    size_t used = 0;
    cw_vclock c;
    cw_vclock_init(&c);
    int rc = cw_vclock_decode(&c, in->b + in->pos, in->len - in->pos, &used);
    if (rc != CW_OK) {
        cw_vclock_destroy(&c);
        return rc == CW_ENOMEM ? CW_ENOMEM : CW_EBADMSG;
    }
    in->pos += used;
    cw_vclock_destroy(out);
    *out = c;
    return CW_OK;
}

/* ---- requests ---- */

int cw__request_encode(cw__out *o, uint8_t op, uint64_t id, const void *key, size_t key_len, const void *value,
                       size_t value_len, const cw_vclock *context)
{
    cw__out_u8(o, CW__PROTO_VERSION);
    cw__out_u8(o, op);
    cw__out_u64(o, id);
    cw__out_blob(o, key, key_len);
    cw__out_blob(o, value, value_len);
    cw__out_u8(o, context != NULL);
    if (context)
        cw__out_clock(o, context);
    return o->failed ? CW_ENOMEM : CW_OK;
}

/* [key blob][value blob][has_context u8][context]: a request's body. Only a
 * put carries a value, only a put or a delete a context, and a status no
 * key: a request with more is malformed, not one whose extra is dropped
 * without a word. */
static int take_body(cw__in *in, cw__request *r)
{
    uint8_t has;
    if (!cw__in_blob(in, &r->key, &r->key_len) || !cw__in_blob(in, &r->value, &r->value_len) ||
        (r->op != CW__OP_PUT && r->value_len) || (r->op == CW__OP_STATUS && r->key_len) ||
        !cw__in_u8(in, &has) || has > 1 || (has && r->op != CW__OP_PUT && r->op != CW__OP_DELETE))
        return CW_EBADMSG;
    r->has_context = has;
    return has ? cw__in_clock(in, &r->context) : CW_OK; /* CW_ENOMEM passes through */
}

int cw__request_decode(cw__request *r, const uint8_t *b, size_t len)
{
    memset(r, 0, sizeof *r);
    cw_vclock_init(&r->context);
    cw__in in = {b, len, 0};
    uint8_t version;
    if (!cw__in_u8(&in, &version) || version != CW__PROTO_VERSION || !cw__in_u8(&in, &r->op) ||
        r->op < CW__OP_PUT || r->op > CW__OP_BATCH || !cw__in_u64(&in, &r->id))
        return CW_EBADMSG;
    if (r->op == CW__OP_BATCH) /* its writes are read by cw__batch_open/next */
        return CW_OK;
    int rc = take_body(&in, r);
    if (rc != CW_OK)
        return rc;
    return in.pos == len ? CW_OK : CW_EBADMSG;
}

/* The head of a batch is 14 bytes: version, op, id, count. */
#define BATCH_HEAD 14u

void cw__batch_begin(cw__out *o, uint64_t id)
{
    o->len = 0;
    o->failed = false;
    cw__out_u8(o, CW__PROTO_VERSION);
    cw__out_u8(o, CW__OP_BATCH);
    cw__out_u64(o, id);
    cw__out_u32(o, 0); /* the count, set by cw__batch_end */
}

void cw__batch_add(cw__out *o, bool tombstone, const void *key, size_t key_len, const void *value,
                   size_t value_len, const cw_vclock *context)
{
    cw__out_u8(o, tombstone ? CW__OP_DELETE : CW__OP_PUT);
    cw__out_blob(o, key, key_len);
    cw__out_blob(o, tombstone ? NULL : value, tombstone ? 0 : value_len);
    cw__out_u8(o, context != NULL);
    if (context)
        cw__out_clock(o, context);
}

int cw__batch_end(cw__out *o, uint32_t count)
{
    if (o->failed || o->len < BATCH_HEAD)
        return CW_ENOMEM;
    for (int i = 0; i < 4; i++)
        o->b[10 + i] = (uint8_t)(count >> (8 * (3 - i)));
    return CW_OK;
}

int cw__batch_open(const uint8_t *b, size_t len, uint32_t *count, cw__in *in)
{
    *in = (cw__in){b, len, 10};
    /* The smallest write is 10 bytes (op, two empty blobs, no context): a
     * count the frame cannot hold is refused before anything is sized by it. */
    if (len < BATCH_HEAD || b[1] != CW__OP_BATCH || !cw__in_u32(in, count) || *count == 0 ||
        *count > CW__BATCH_MAX || *count > (len - BATCH_HEAD) / 10)
        return CW_EBADMSG;
    return CW_OK;
}

int cw__batch_next(cw__in *in, cw__request *r)
{
    memset(r, 0, sizeof *r);
    cw_vclock_init(&r->context);
    if (!cw__in_u8(in, &r->op) || (r->op != CW__OP_PUT && r->op != CW__OP_DELETE))
        return CW_EBADMSG;
    return take_body(in, r);
}

void cw__request_destroy(cw__request *r) { cw_vclock_destroy(&r->context); }

/* ---- answers ---- */

void cw__answer_head(cw__out *o, uint8_t op, uint64_t id, int status)
{
    cw__out_u8(o, CW__PROTO_VERSION);
    cw__out_u8(o, op);
    cw__out_u64(o, id);
    cw__out_u32(o, (uint32_t)(int32_t)status);
}

void cw__answer_read(cw__out *o, const cw_read *r)
{
    cw__out_u32(o, (uint32_t)r->count);
    for (size_t i = 0; i < r->count; i++) {
        const cw_value_version *v = &r->versions[i];
        cw__out_u32(o, v->origin);
        cw__out_u64(o, v->seq);
        cw__out_u64(o, v->timestamp.wall_ms);
        cw__out_u16(o, v->timestamp.counter);
        cw__out_blob(o, v->value, v->value_len);
        cw__out_clock(o, &v->clock);
        cw__out_clock(o, &v->context);
    }
    cw__out_clock(o, &r->context);
}

void cw__answer_status(cw__out *o, const cw_client_status *s)
{
    cw__out_u32(o, s->node);
    cw__out_u32(o, s->nodes);
    cw__out_u8(o, s->joining);
    const uint64_t v[6] = {s->writes, s->delivered, s->buffered, s->keys, s->retransmitted, s->recovered};
    for (int i = 0; i < 6; i++)
        cw__out_u64(o, v[i]);
    cw__out_clock(o, &s->clock);
    cw__out_clock(o, &s->stable);
}

bool cw__code_known(int32_t s)
{
    switch (s) {
#define CW_KNOWN_(name, code, text) case CW_##name:
        CW_ERROR_MAP(CW_KNOWN_)
#undef CW_KNOWN_
        return true;
    }
    return false;
}

int cw__answer_take_head(cw__in *in, uint8_t *op, uint64_t *id, int *status)
{
    uint8_t version;
    uint32_t st;
    if (!cw__in_u8(in, &version) || version != CW__PROTO_VERSION || !cw__in_u8(in, op) || !cw__in_u64(in, id) ||
        !cw__in_u32(in, &st) || !cw__code_known((int32_t)st))
        return CW_EBADMSG;
    *status = (int)(int32_t)st;
    return CW_OK;
}

/* The least bytes one version of a get's answer takes (invariant 2). */
#define VERSION_MIN_BYTES (4 + 8 + 8 + 2 + 4 + 4 + 4)

int cw__answer_take_read(cw__in *in, cw_read *out)
{
    uint32_t count;
    if (!cw__in_u32(in, &count) || count > (in->len - in->pos) / VERSION_MIN_BYTES)
        return CW_EBADMSG;
    cw_read r;
    cw_read_init(&r);
    if (count) {
        r.versions = calloc(count, sizeof *r.versions);
        if (!r.versions)
            return CW_ENOMEM;
    }
    int rc = CW_OK;
    for (uint32_t i = 0; i < count && rc == CW_OK; i++) {
        cw_value_version *v = &r.versions[i];
        cw_vclock_init(&v->clock);
        cw_vclock_init(&v->context);
        r.count++;
        uint32_t origin;
        const uint8_t *value;
        size_t vlen;
        if (!cw__in_u32(in, &origin) || !cw__in_u64(in, &v->seq) || !cw__in_u64(in, &v->timestamp.wall_ms) ||
            !cw__in_u16(in, &v->timestamp.counter) || !cw__in_blob(in, &value, &vlen)) {
            rc = CW_EBADMSG;
            break;
        }
        if ((rc = cw__in_clock(in, &v->clock)) != CW_OK || (rc = cw__in_clock(in, &v->context)) != CW_OK)
            break;
        if (origin > UINT16_MAX) { /* ids are 16 bits (vclock.h) */
            rc = CW_EBADMSG;
            break;
        }
        v->origin = (cw_node_id)origin;
        v->timestamp.node = v->origin;
        v->value = malloc(vlen ? vlen : 1);
        if (!v->value) {
            rc = CW_ENOMEM;
            break;
        }
        if (vlen)
            memcpy(v->value, value, vlen);
        v->value_len = vlen;
    }
    if (rc == CW_OK)
        rc = cw__in_clock(in, &r.context);
    if (rc == CW_OK && in->pos != in->len)
        rc = CW_EBADMSG;
    if (rc != CW_OK) {
        cw_read_destroy(&r);
        return rc;
    }
    cw_read_destroy(out);
    *out = r;
    return CW_OK;
}

int cw__answer_take_status(cw__in *in, cw_client_status *out)
{
    cw_client_status s;
    cw_client_status_init(&s);
    uint8_t joining;
    uint32_t node = 0;
    uint64_t v[6];
    bool ok = cw__in_u32(in, &node) && cw__in_u32(in, &s.nodes) && s.nodes <= CW_VCLOCK_MAX_ENTRIES &&
              node < s.nodes && cw__in_u8(in, &joining) && joining <= 1;
    s.node = (cw_node_id)node;
    for (int i = 0; ok && i < 6; i++)
        ok = cw__in_u64(in, &v[i]);
    int rc = ok ? cw__in_clock(in, &s.clock) : CW_EBADMSG;
    if (rc == CW_OK)
        rc = cw__in_clock(in, &s.stable);
    if (rc == CW_OK && in->pos != in->len)
        rc = CW_EBADMSG;
    if (rc != CW_OK) {
        cw_client_status_destroy(&s);
        return rc;
    }
    s.joining = joining;
    s.writes = v[0];
    s.delivered = v[1];
    s.buffered = v[2];
    s.keys = v[3];
    s.retransmitted = v[4];
    s.recovered = v[5];
    cw_client_status_destroy(out);
    *out = s;
    return CW_OK;
}
