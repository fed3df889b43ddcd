/* Replicated-write messages: one allocation holding the header, the dense
 * clock, the key and the value; shared by reference count.
 *
 * Invariants:
 *  1. A message never changes after cw_msg_create / cw_msg_decode returns.
 *  2. counters[origin] >= 1 and origin < nodes.
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
#include "msg_internal.h"
#include "vclock_internal.h"


static cw_msg *alloc_msg(uint32_t nodes, size_t key_len, size_t value_len)
{
    size_t head = sizeof(cw_msg) + (size_t)nodes * sizeof(uint64_t);
    if (key_len > SIZE_MAX - head - 64 || value_len > SIZE_MAX - head - 64 - key_len)
        return NULL;
    size_t size = (head + key_len + value_len + 63) & ~(size_t)63;
    cw_msg *m = aligned_alloc(64, size);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->nodes = nodes;
    m->key_len = key_len;
    m->value_len = value_len;
    return m;
}

int cw_msg_create(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts,
                  const uint64_t *clock, uint32_t nodes, const void *key, size_t key_len,
                  const void *value, size_t value_len)
{
    if (!out || !ts || !clock || nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES || origin >= nodes ||
        clock[origin] == 0 || (!key && key_len) || (!value && value_len) ||
        ts->wall_ms > CW_HLC_MAX_WALL) /* the codec carries 48 bits of it */
        return CW_EINVAL;
    cw_msg *m = alloc_msg(nodes, key_len, value_len);
    if (!m)
        return CW_ENOMEM;
    m->origin = origin;
    m->seq = clock[origin];
    m->ts = *ts;
    memcpy(m->counters, clock, (size_t)nodes * sizeof *clock);
    if (key_len)
        memcpy(cw__msg_key_ptr(m), key, key_len);
    if (value_len)
        memcpy(cw__msg_value_ptr(m), value, value_len);
    *out = m;
    return CW_OK;
}

cw_msg *cw_msg_ref(cw_msg *m) { return cw__msg_ref(m); }

void cw_msg_unref(cw_msg *m) { cw__msg_unref(m); }

cw_node_id cw_msg_origin(const cw_msg *m) { return m->origin; }
uint64_t cw_msg_seq(const cw_msg *m) { return m->seq; }
cw_hlc_timestamp cw_msg_timestamp(const cw_msg *m) { return m->ts; }

const uint64_t *cw_msg_counters(const cw_msg *m, uint32_t *nodes_out)
{
    if (nodes_out)
        *nodes_out = m->nodes;
    return m->counters;
}

int cw_msg_clock(const cw_msg *m, cw_vclock *out)
{
    if (!m || !out)
        return CW_EINVAL;
    return cw__vclock_assign_dense(out, m->counters, m->nodes);
}

const void *cw_msg_key(const cw_msg *m, size_t *len_out)
{
    if (len_out)
        *len_out = m->key_len;
    return cw__msg_key_ptr(m);
}

const void *cw_msg_value(const cw_msg *m, size_t *len_out)
{
    if (len_out)
        *len_out = m->value_len;
    return cw__msg_value_ptr(m);
}

/* ---- codec ---- */

static size_t clock_entries(const cw_msg *m) { return cw__dense_entries(m->counters, m->nodes); }

/* version, origin, timestamp, clock count, key length, value length */
#define FIXED_BYTES (1u + 2u + CW_HLC_BINARY_SIZE + 4u + 4u + 4u)

size_t cw_msg_encoded_size(const cw_msg *m)
{
    return FIXED_BYTES + 10u * clock_entries(m) + m->key_len + m->value_len;
}

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
    *p++ = CW_MSG_FORMAT_VERSION;
    p = cw__store_be(p, m->origin, 2);
    (void)cw_hlc_encode(&m->ts, p, CW_HLC_BINARY_SIZE); /* cannot fail: create checked the wall */
    p += CW_HLC_BINARY_SIZE;
    p = cw__store_be(p, clock_entries(m), 4);
    for (uint32_t i = 0; i < m->nodes; i++)
        if (m->counters[i]) {
            p = cw__store_be(p, i, 2);
            p = cw__store_be(p, m->counters[i], 8);
        }
    p = cw__store_be(p, m->key_len, 4);
    memcpy(p, cw__msg_key_ptr(m), m->key_len);
    p += m->key_len;
    p = cw__store_be(p, m->value_len, 4);
    memcpy(p, cw__msg_value_ptr(m), m->value_len);
    p += m->value_len;
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

int cw_msg_decode(cw_msg **out, const uint8_t *buf, size_t len, const cw_msg_limits *limits,
                  size_t *consumed)
{
    if (!out || !limits || (!buf && len) || limits->nodes == 0 ||
        limits->nodes > CW_VCLOCK_MAX_ENTRIES)
        return CW_EINVAL;
    /* Walk the layout first, checking each length against what remains. */
    size_t pos = 0;
    if (len < 1 + 2 + CW_HLC_BINARY_SIZE + 4)
        return CW_ETRUNC;
    if (buf[0] != CW_MSG_FORMAT_VERSION)
        return CW_EBADMSG;
    cw_node_id origin = (cw_node_id)cw__load_be(buf + 1, 2);
    if (origin >= limits->nodes)
        return CW_EBADMSG;
    pos = 1 + 2 + CW_HLC_BINARY_SIZE;
    uint64_t entries = cw__load_be(buf + pos, 4);
    pos += 4;
    if (entries > CW_VCLOCK_MAX_ENTRIES)
        return CW_ELIMIT;
    if (len - pos < 10 * entries)
        return CW_ETRUNC;
    size_t clock_at = pos;
    pos += 10 * entries;
    size_t key_at, value_at;
    uint64_t key_len, value_len;
    int rc = take_field(buf, len, &pos, limits->max_key_len, &key_at, &key_len);
    if (rc == CW_OK)
        rc = take_field(buf, len, &pos, limits->max_value_len, &value_at, &value_len);
    if (rc != CW_OK)
        return rc;

    /* Clock ids in range; duplicates keep the max, as the clock codec does. */
    for (uint64_t i = 0; i < entries; i++)
        if (cw__load_be(buf + clock_at + 10 * i, 2) >= limits->nodes)
            return CW_EBADMSG;
    cw_msg *m = alloc_msg(limits->nodes, key_len, value_len);
    if (!m)
        return CW_ENOMEM;
    memset(m->counters, 0, (size_t)limits->nodes * sizeof(uint64_t));
    for (uint64_t i = 0; i < entries; i++) {
        const uint8_t *e = buf + clock_at + 10 * i;
        uint16_t id = (uint16_t)cw__load_be(e, 2);
        uint64_t c = cw__load_be(e + 2, 8);
        if (c > m->counters[id])
            m->counters[id] = c;
    }
    if (m->counters[origin] == 0) {
        free(m);
        return CW_EBADMSG;
    }
    m->origin = origin;
    m->seq = m->counters[origin];
    cw_hlc_decode(&m->ts, buf + 1 + 2, CW_HLC_BINARY_SIZE);
    memcpy(cw__msg_key_ptr(m), buf + key_at, key_len);
    memcpy(cw__msg_value_ptr(m), buf + value_at, value_len);
    *out = m;
    if (consumed)
        *consumed = pos;
    return CW_OK;
}
