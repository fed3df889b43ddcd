/* Binary form of the sparse clock:
 *   [count: u32 BE] then count x [id: u16 BE][counter: u64 BE]
 *
 * Invariants:
 *  1. Decode checks count <= 65,536 before the length, and the length before
 *     reading or allocating anything, so a short buffer claiming a huge count
 *     fails at once.
 *  2. Decode writes nothing to `out` unless it succeeds; canonical input (the
 *     form encode writes) is copied straight in, anything else goes through a
 *     scratch array and is canonicalised (sorted, duplicates keep the max,
 *     zeros dropped).
 *  3. Encode writes exactly 4 + 10 * size bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#include <causeway/vclock.h>

#include "vclock_internal.h"

static uint16_t load_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t load_be64(const uint8_t *p)
{
    return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static void store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void store_be32(uint8_t *p, uint32_t v)
{
    store_be16(p, (uint16_t)(v >> 16));
    store_be16(p + 2, (uint16_t)v);
}

static void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

size_t cw_vclock_encoded_size(const cw_vclock *c)
{
    return 4u + 10u * (c ? c->size : 0);
}

int cw_vclock_encode(const cw_vclock *c, uint8_t *buf, size_t cap, size_t *len_out)
{
    if (!c || !len_out || (!buf && cap))
        return CW_EINVAL;
    size_t need = cw_vclock_encoded_size(c);
    if (cap < need) {
        *len_out = need;
        return CW_ENOSPC;
    }
    store_be32(buf, c->size);
    uint8_t *p = buf + 4;
    for (uint32_t i = 0; i < c->size; i++, p += 10) {
        store_be16(p, c->ids[i]);
        store_be64(p + 2, c->counters[i]);
    }
    *len_out = need;
    return CW_OK;
}

int cw_vclock_decode(cw_vclock *out, const uint8_t *buf, size_t len, size_t *consumed)
{
    if (!out || (!buf && len))
        return CW_EINVAL;
    if (len < 4)
        return CW_ETRUNC;
    uint32_t count = load_be32(buf);
    if (count > CW_VCLOCK_MAX_ENTRIES)
        return CW_ELIMIT;
    size_t need = 4u + 10u * (size_t)count;
    if (len < need)
        return CW_ETRUNC;

    const uint8_t *p = buf + 4;
    bool canonical = true;
    for (uint32_t i = 0; i < count && canonical; i++) {
        const uint8_t *e = p + 10u * i;
        canonical = load_be64(e + 2) != 0 && (i == 0 || load_be16(e - 10) < load_be16(e));
    }

    int rc;
    if (canonical) {
        rc = cw__vclock_reserve(out, count, false);
        if (rc != CW_OK)
            return rc;
        for (uint32_t i = 0; i < count; i++, p += 10) {
            out->ids[i] = load_be16(p);
            out->counters[i] = load_be64(p + 2);
        }
        out->size = count;
    } else {
        cw__entry *scratch = malloc(count * sizeof *scratch);
        if (!scratch)
            return CW_ENOMEM;
        for (uint32_t i = 0; i < count; i++, p += 10)
            scratch[i] = (cw__entry){load_be64(p + 2), load_be16(p)};
        rc = cw__vclock_assign_entries(out, scratch, count);
        free(scratch);
        if (rc != CW_OK)
            return rc;
    }
    if (consumed)
        *consumed = need;
    return CW_OK;
}
