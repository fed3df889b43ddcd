/* Replica messages: one allocation holding the header, the dense clock, the
 * key and the value (a write), the applied clock (a report) or the request
 * (a pull); shared by reference count.
 *
 * Invariants:
 *  1. A message never changes after it is made or decoded.
 *  2. origin < nodes; a write's counters[origin] >= 1; a pull's range is
 *     1 <= from <= to with its origin < nodes.
 *  3. refs counts the holders; the release that drops it to zero frees.
 *  4. Decoding validates every length against the bytes remaining before it
 *     reads, so it never reads outside the buffer it was given.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#include <causeway/msg.h>

#include "bytes.h"
#include "map.h"
#include "msg_internal.h"
#include "vclock_internal.h"


static cw_msg *alloc_msg(uint32_t nodes, size_t key_len, size_t value_len)
{
    size_t head = sizeof(cw_msg) + (size_t)nodes * sizeof(uint64_t);
    if (key_len > SIZE_MAX - 16 - head || value_len > SIZE_MAX - 16 - head - key_len) /* 16: the slot, padded */
        return NULL;
    size_t slot = (head + key_len + value_len + 7u) & ~(size_t)7u; /* the value hash's (msg_internal.h) */
    cw_msg *m = malloc(slot + sizeof(uint64_t));
    if (!m)
        return NULL;
    atomic_init((_Atomic uint64_t *)(void *)((char *)m + slot), 0);
    atomic_init(&m->refs, 1);
    m->kind = CW_MSG_WRITE;
    m->flags = 0;
    m->dest = CW__MSG_ALL;
    m->nodes = nodes;
    m->seq = 0;
    m->ts = (cw_hlc_timestamp){0};
    m->key_len = key_len;
    m->value_len = value_len;
    m->key_hash = 0; /* set once the key is in */
    return m;
}

/* A message of `kind` from `sender` with `slots` counters' room (a report's
 * clock, a pull's request) and no key or value. */
static cw_msg *alloc_control(uint32_t nodes, uint32_t slots, cw_node_id sender, uint8_t kind, uint32_t dest)
{
    cw_msg *m = alloc_msg(slots, 0, 0);
    if (!m)
        return NULL;
    m->nodes = nodes;
    m->origin = sender;
    m->kind = kind;
    m->dest = dest;
    return m;
}

int cw__msg_pull(cw_msg **out, uint32_t nodes, cw_node_id sender, uint32_t dest, cw_node_id origin,
                 uint64_t from, uint64_t to)
{
    if (!out || nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES || sender >= nodes || origin >= nodes ||
        from == 0 || from > to)
        return CW_EINVAL;
    cw_msg *m = alloc_control(nodes, 3, sender, CW_MSG_PULL, dest);
    if (!m)
        return CW_ENOMEM;
    m->counters[0] = origin;
    m->counters[1] = from;
    m->counters[2] = to;
    *out = m;
    return CW_OK;
}

int cw__msg_report(cw_msg **out, uint32_t nodes, cw_node_id sender, const uint64_t *applied, uint8_t flags)
{
    if (!out || !applied || nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES || sender >= nodes ||
        (flags & ~CW__MSG_WANTS_REPORTS))
        return CW_EINVAL;
    cw_msg *m = alloc_control(nodes, nodes, sender, CW_MSG_REPORT, CW__MSG_ALL);
    if (!m)
        return CW_ENOMEM;
    m->flags = flags;
    memcpy(m->counters, applied, (size_t)nodes * sizeof *applied);
    *out = m;
    return CW_OK;
}

int cw__msg_retransmission(cw_msg **out, const cw_msg *m, uint32_t dest)
{
    if (!out || !m || m->kind != CW_MSG_WRITE)
        return CW_EINVAL;
    cw_msg *c = alloc_msg((uint32_t)cw__msg_write_slots(m), m->key_len, m->value_len);
    if (!c)
        return CW_ENOMEM;
    size_t body = cw__msg_write_slots(m) * sizeof(uint64_t) + m->key_len + m->value_len;
    c->nodes = m->nodes;
    c->origin = m->origin;
    c->flags = (uint8_t)(CW__MSG_RETRANSMITTED | (m->flags & (CW__MSG_TOMBSTONE | CW__MSG_CONTEXT)));
    c->dest = dest;
    c->seq = m->seq;
    c->ts = m->ts;
    c->key_hash = m->key_hash;
    memcpy(c->counters, m->counters, body);
    *out = c;
    return CW_OK;
}

int cw__msg_write(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts, const uint64_t *clock,
                  uint32_t nodes, const uint64_t *context, bool tombstone, const void *key, size_t key_len,
                  const void *value, size_t value_len)
{
    if (!out || !ts || !clock || nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES || origin >= nodes ||
        clock[origin] == 0 || (!key && key_len) || (!value && value_len) || (tombstone && value_len) ||
        ts->wall_ms > CW_HLC_MAX_WALL) /* the codec carries 48 bits of it */
        return CW_EINVAL;
    cw_msg *m = alloc_msg(context ? 2 * nodes : nodes, key_len, value_len);
    if (!m)
        return CW_ENOMEM;
    m->nodes = nodes;
    m->origin = origin;
    m->seq = clock[origin];
    m->ts = *ts;
    m->flags = (uint8_t)((context ? CW__MSG_CONTEXT : 0) | (tombstone ? CW__MSG_TOMBSTONE : 0));
    memcpy(m->counters, clock, (size_t)nodes * sizeof *clock);
    if (context)
        memcpy(m->counters + nodes, context, (size_t)nodes * sizeof *context);
    if (key_len)
        memcpy(cw__msg_key_ptr(m), key, key_len);
    m->key_hash = cw__hash_key(cw__msg_key_ptr(m), key_len);
    if (value_len)
        memcpy(cw__msg_value_ptr(m), value, value_len);
    *out = m;
    return CW_OK;
}

int cw_msg_create(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts,
                  const uint64_t *clock, uint32_t nodes, const void *key, size_t key_len,
                  const void *value, size_t value_len)
{
    return cw__msg_write(out, origin, ts, clock, nodes, NULL, false, key, key_len, value, value_len);
}

int cw_msg_create_write(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts, const uint64_t *clock,
                        uint32_t nodes, const uint64_t *context, bool tombstone, const void *key, size_t key_len,
                        const void *value, size_t value_len)
{
    if (!clock || origin >= nodes || (tombstone && value_len))
        return CW_EINVAL;
    for (uint32_t k = 0; context && k < nodes; k++)
        if (context[k] > clock[k] || (k == origin && context[k] >= clock[k]))
            return CW_EINVAL;
    return cw__msg_write(out, origin, ts, clock, nodes, context, tombstone, key, key_len, value, value_len);
}

uint64_t cw__msg_value_hash(const cw_msg *m)
{
    _Atomic uint64_t *slot = cw__msg_value_hash_slot(m);
    /* Relaxed: the value's bytes came with the message, and every thread
     * that fills the slot stores the same number. */
    uint64_t h = atomic_load_explicit(slot, memory_order_relaxed);
    if (!h) {
        h = (cw__hash_key(cw__msg_value_ptr(m), m->value_len) ^ (uint64_t)m->value_len) | 1u;
        atomic_store_explicit(slot, h, memory_order_relaxed);
    }
    return h;
}

cw_msg *cw_msg_ref(cw_msg *m) { return m ? cw__msg_ref(m) : NULL; }

void cw_msg_unref(cw_msg *m) { cw__msg_unref(m); }

cw_node_id cw_msg_origin(const cw_msg *m) { return m->origin; }
uint64_t cw_msg_seq(const cw_msg *m) { return m->seq; }
cw_hlc_timestamp cw_msg_timestamp(const cw_msg *m) { return m->ts; }
cw_msg_kind cw_msg_kind_of(const cw_msg *m) { return (cw_msg_kind)m->kind; }
bool cw_msg_retransmitted(const cw_msg *m) { return (m->flags & CW__MSG_RETRANSMITTED) != 0; }
bool cw_msg_tombstone(const cw_msg *m) { return (m->flags & CW__MSG_TOMBSTONE) != 0; }

int cw_msg_context(const cw_msg *m, cw_vclock *out)
{
    if (!m || !out || m->kind != CW_MSG_WRITE)
        return CW_EINVAL;
    const uint64_t *c = cw__msg_context(m);
    if (c)
        return cw__vclock_assign_dense(out, c, m->nodes);
    /* Its clock without its own dot: what the node had applied before. */
    int rc = cw__vclock_assign_dense(out, m->counters, m->nodes);
    if (rc == CW_OK)
        rc = cw_vclock_set(out, m->origin, m->seq - 1);
    return rc;
}

const uint64_t *cw_msg_counters(const cw_msg *m, uint32_t *nodes_out)
{
    if (nodes_out)
        *nodes_out = m->kind == CW_MSG_PULL ? 0 : m->nodes;
    return m->kind == CW_MSG_PULL ? NULL : m->counters;
}

int cw_msg_clock(const cw_msg *m, cw_vclock *out)
{
    if (!m || !out || m->kind == CW_MSG_PULL)
        return CW_EINVAL;
    return cw__vclock_assign_dense(out, m->counters, m->nodes);
}

int cw_msg_pull_range(const cw_msg *m, cw_node_id *origin, uint64_t *from, uint64_t *to)
{
    if (!m || m->kind != CW_MSG_PULL)
        return CW_EINVAL;
    if (origin)
        *origin = (cw_node_id)m->counters[0];
    if (from)
        *from = m->counters[1];
    if (to)
        *to = m->counters[2];
    return CW_OK;
}

/* (Only a write has a key and value; the others' lengths are 0 and their
 * pointer is the start of the message's data, which a pull's short counter
 * array ends before counters + nodes would.) */
const void *cw_msg_key(const cw_msg *m, size_t *len_out)
{
    if (len_out)
        *len_out = m->key_len;
    return m->kind == CW_MSG_WRITE ? cw__msg_key_ptr(m) : (const void *)m->counters;
}

const void *cw_msg_value(const cw_msg *m, size_t *len_out)
{
    if (len_out)
        *len_out = m->value_len;
    return m->kind == CW_MSG_WRITE ? cw__msg_value_ptr(m) : (const void *)m->counters;
}

/* ---- codec ---- */

static size_t clock_entries(const cw_msg *m) { return cw__dense_entries(m->counters, m->nodes); }
static size_t context_entries(const cw_msg *m)
{
    const uint64_t *c = cw__msg_context(m);
    return c ? cw__dense_entries(c, m->nodes) : 0;
}

/* Format 1 is a plain write: version, origin, timestamp, then the body.
 * Format 2 is version, kind, flags, sender, then the kind's body. */
#define HEAD_V1 (1u + 2u)
#define HEAD_V2 (1u + 1u + 1u + 2u)
/* A write's body: timestamp, clock count, key length, value length. */
#define WRITE_FIXED (CW_HLC_BINARY_SIZE + 4u + 4u + 4u)
#define PULL_BODY (2u + 8u + 8u)

static bool is_v1(const cw_msg *m) { return m->kind == CW_MSG_WRITE && m->flags == 0; }
/* Format 3: a write that deletes or has its own context (format 2's layout,
 * with the context's clock after the write's clock). */
static bool is_v3(const cw_msg *m) { return m->kind == CW_MSG_WRITE && (m->flags & (CW__MSG_TOMBSTONE | CW__MSG_CONTEXT)); }

size_t cw_msg_encoded_size(const cw_msg *m)
{
    switch (m->kind) {
    case CW_MSG_PULL:
        return HEAD_V2 + PULL_BODY;
    case CW_MSG_REPORT:
        return HEAD_V2 + 4u + 10u * clock_entries(m);
    default:
        return (is_v1(m) ? HEAD_V1 : HEAD_V2) + WRITE_FIXED + 10u * clock_entries(m) + m->key_len +
               m->value_len + (cw__msg_context(m) ? 4u + 10u * context_entries(m) : 0);
    }
}

static uint8_t *put_counters(uint8_t *p, const uint64_t *c, uint32_t nodes)
{
    p = cw__store_be(p, cw__dense_entries(c, nodes), 4);
    for (uint32_t i = 0; i < nodes; i++)
        if (c[i]) {
            p = cw__store_be(p, i, 2);
            p = cw__store_be(p, c[i], 8);
        }
    return p;
}

static uint8_t *put_clock(uint8_t *p, const cw_msg *m) { return put_counters(p, m->counters, m->nodes); }

int cw_msg_encode(const cw_msg *m, uint8_t *buf, size_t cap, size_t *len_out)
{
    if (!m || !len_out || (!buf && cap))
        return CW_EINVAL;
    if (m->key_len > UINT32_MAX || m->value_len > UINT32_MAX)
        return CW_ELIMIT;
    size_t need = cw_msg_encoded_size(m);
    if (cap < need) {
        *len_out = need;
        return CW_ENOSPC;
    }
    uint8_t *p = buf;
    if (is_v1(m)) {
        *p++ = CW_MSG_FORMAT_VERSION;
    } else {
        *p++ = is_v3(m) ? CW_MSG_FORMAT_VERSION_3 : CW_MSG_FORMAT_VERSION_2;
        *p++ = m->kind;
        *p++ = m->flags;
    }
    p = cw__store_be(p, m->origin, 2);
    if (m->kind == CW_MSG_PULL) {
        p = cw__store_be(p, m->counters[0], 2);
        p = cw__store_be(p, m->counters[1], 8);
        p = cw__store_be(p, m->counters[2], 8);
    } else if (m->kind == CW_MSG_REPORT) {
        p = put_clock(p, m);
    } else {
        (void)cw_hlc_encode(&m->ts, p, CW_HLC_BINARY_SIZE); /* cannot fail: create checked the wall */
        p += CW_HLC_BINARY_SIZE;
        p = put_clock(p, m);
        if (cw__msg_context(m))
            p = put_counters(p, cw__msg_context(m), m->nodes);
        p = cw__store_be(p, m->key_len, 4);
        memcpy(p, cw__msg_key_ptr(m), m->key_len);
        p += m->key_len;
        p = cw__store_be(p, m->value_len, 4);
        memcpy(p, cw__msg_value_ptr(m), m->value_len);
        p += m->value_len;
    }
    *len_out = (size_t)(p - buf);
    return CW_OK;
}

/* A u32 length then that many bytes, at *pos: the bytes start at *at. */
static int take_field(const uint8_t *buf, size_t len, size_t *pos, size_t max, size_t *at, uint64_t *n)
{
    if (len - *pos < 4)
        return CW_ETRUNC;
    *n = cw__load_be(buf + *pos, 4);
    *pos += 4;
    if (*n > max)
        return CW_ELIMIT;
    if (len - *pos < *n)
        return CW_ETRUNC;
    *at = *pos;
    *pos += *n;
    return CW_OK;
}

/* A clock at *pos (u32 count, then (u16 id, u64 counter) entries): checks
 * it fits and its ids are below nodes; *at is its first entry. */
static int take_clock(const uint8_t *buf, size_t len, size_t *pos, uint32_t nodes, size_t *at,
                      uint64_t *entries)
{
    if (len - *pos < 4)
        return CW_ETRUNC;
    *entries = cw__load_be(buf + *pos, 4);
    *pos += 4;
    if (*entries > CW_VCLOCK_MAX_ENTRIES)
        return CW_ELIMIT;
    if (len - *pos < 10 * *entries)
        return CW_ETRUNC;
    *at = *pos;
    *pos += 10 * *entries;
    for (uint64_t i = 0; i < *entries; i++)
        if (cw__load_be(buf + *at + 10 * i, 2) >= nodes)
            return CW_EBADMSG;
    return CW_OK;
}

/* Fills nodes counters from a checked clock; duplicate ids keep the max, as
 * the clock codec does. */
static void fill_counters(uint64_t *counters, uint32_t nodes, const uint8_t *at, uint64_t entries)
{
    memset(counters, 0, (size_t)nodes * sizeof(uint64_t));
    for (uint64_t i = 0; i < entries; i++) {
        const uint8_t *e = at + 10 * i;
        uint16_t id = (uint16_t)cw__load_be(e, 2);
        uint64_t c = cw__load_be(e + 2, 8);
        if (c > counters[id])
            counters[id] = c;
    }
}

static void fill_clock(cw_msg *m, const uint8_t *at, uint64_t entries)
{
    fill_counters(m->counters, m->nodes, at, entries);
}

static int decode_pull(cw_msg **out, const uint8_t *buf, size_t len, size_t pos, uint32_t nodes,
                       cw_node_id sender, uint8_t flags, size_t *consumed)
{
    if (len - pos < PULL_BODY)
        return CW_ETRUNC;
    uint64_t origin = cw__load_be(buf + pos, 2), from = cw__load_be(buf + pos + 2, 8),
             to = cw__load_be(buf + pos + 10, 8);
    if (flags || origin >= nodes || from == 0 || from > to)
        return CW_EBADMSG;
    int rc = cw__msg_pull(out, nodes, sender, CW__MSG_ALL, (cw_node_id)origin, from, to);
    if (rc == CW_OK && consumed)
        *consumed = pos + PULL_BODY;
    return rc;
}

static int decode_report(cw_msg **out, const uint8_t *buf, size_t len, size_t pos, uint32_t nodes,
                         cw_node_id sender, uint8_t flags, size_t *consumed)
{
    if (flags & ~CW__MSG_WANTS_REPORTS)
        return CW_EBADMSG;
    size_t at;
    uint64_t entries;
    int rc = take_clock(buf, len, &pos, nodes, &at, &entries);
    if (rc != CW_OK)
        return rc;
    cw_msg *m = alloc_control(nodes, nodes, sender, CW_MSG_REPORT, CW__MSG_ALL);
    if (!m)
        return CW_ENOMEM;
    m->flags = flags;
    fill_clock(m, buf + at, entries);
    *out = m;
    if (consumed)
        *consumed = pos;
    return CW_OK;
}

static int decode_write(cw_msg **out, const uint8_t *buf, size_t len, size_t pos, const cw_msg_limits *limits,
                        cw_node_id origin, uint8_t version, uint8_t flags, size_t *consumed)
{
    uint8_t allowed = CW__MSG_RETRANSMITTED |
                      (version == CW_MSG_FORMAT_VERSION_3 ? CW__MSG_TOMBSTONE | CW__MSG_CONTEXT : 0);
    if ((flags & ~allowed) ||
        (version == CW_MSG_FORMAT_VERSION_3 && !(flags & (CW__MSG_TOMBSTONE | CW__MSG_CONTEXT))))
        return CW_EBADMSG;
    if (len - pos < CW_HLC_BINARY_SIZE)
        return CW_ETRUNC;
    size_t ts_at = pos;
    pos += CW_HLC_BINARY_SIZE;
    size_t clock_at, context_at = 0, key_at, value_at;
    uint64_t entries, context_n = 0, key_len, value_len;
    bool has_context = (flags & CW__MSG_CONTEXT) != 0;
    int rc = take_clock(buf, len, &pos, limits->nodes, &clock_at, &entries);
    if (rc == CW_OK && has_context)
        rc = take_clock(buf, len, &pos, limits->nodes, &context_at, &context_n);
    if (rc == CW_OK)
        rc = take_field(buf, len, &pos, limits->max_key_len, &key_at, &key_len);
    if (rc == CW_OK)
        rc = take_field(buf, len, &pos, limits->max_value_len, &value_at, &value_len);
    if (rc != CW_OK)
        return rc;
    if ((flags & CW__MSG_TOMBSTONE) && value_len)
        return CW_EBADMSG; /* a tombstone has no value */
    cw_msg *m = alloc_msg(has_context ? 2 * limits->nodes : limits->nodes, key_len, value_len);
    if (!m)
        return CW_ENOMEM;
    m->nodes = limits->nodes;
    m->flags = flags;
    fill_clock(m, buf + clock_at, entries);
    if (has_context)
        fill_counters(m->counters + m->nodes, m->nodes, buf + context_at, context_n);
    bool bad = m->counters[origin] == 0;
    /* A context replaces only what its write's node had applied: at or below
     * the clock, and never the write's own dot (else replicas that apply the
     * write before or after a version it covers would disagree). */
    for (uint32_t k = 0; has_context && !bad && k < m->nodes; k++)
        bad = m->counters[m->nodes + k] > m->counters[k] - (k == origin);
    if (bad) {
        free(m);
        return CW_EBADMSG;
    }
    m->origin = origin;
    m->seq = m->counters[origin];
    cw_hlc_decode(&m->ts, buf + ts_at, CW_HLC_BINARY_SIZE);
    memcpy(cw__msg_key_ptr(m), buf + key_at, key_len);
    m->key_hash = cw__hash_key(cw__msg_key_ptr(m), key_len);
    memcpy(cw__msg_value_ptr(m), buf + value_at, value_len);
    *out = m;
    if (consumed)
        *consumed = pos;
    return CW_OK;
}

int cw_msg_decode(cw_msg **out, const uint8_t *buf, size_t len, const cw_msg_limits *limits,
                  size_t *consumed)
{
    if (!out || !limits || (!buf && len) || limits->nodes == 0 ||
        limits->nodes > CW_VCLOCK_MAX_ENTRIES)
        return CW_EINVAL;
    if (len < 1)
        return CW_ETRUNC;
    uint8_t version = buf[0], kind = CW_MSG_WRITE, flags = 0;
    size_t pos = 1;
    if (version == CW_MSG_FORMAT_VERSION_2 || version == CW_MSG_FORMAT_VERSION_3) {
        if (len < HEAD_V2)
            return CW_ETRUNC;
        kind = buf[1];
        flags = buf[2];
        pos = 3;
    } else if (version != CW_MSG_FORMAT_VERSION) {
        return CW_EBADMSG;
    }
    if (len - pos < 2)
        return CW_ETRUNC;
    cw_node_id sender = (cw_node_id)cw__load_be(buf + pos, 2);
    pos += 2;
    if (sender >= limits->nodes)
        return CW_EBADMSG;
    if (version == CW_MSG_FORMAT_VERSION_3 && kind != CW_MSG_WRITE)
        return CW_EBADMSG; /* format 3 is a write's */
    switch (kind) {
    case CW_MSG_WRITE:
        return decode_write(out, buf, len, pos, limits, sender, version, flags, consumed);
    case CW_MSG_PULL:
        return decode_pull(out, buf, len, pos, limits->nodes, sender, flags, consumed);
    case CW_MSG_REPORT:
        return decode_report(out, buf, len, pos, limits->nodes, sender, flags, consumed);
    default:
        return CW_EBADMSG;
    }
}
