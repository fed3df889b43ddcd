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

#include "bytes.h"
#include "vclock_internal.h"

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
    cw__store_be(buf, c->size, 4);
    uint8_t *p = buf + 4;
    for (uint32_t i = 0; i < c->size; i++, p += 10) {
        cw__store_be(p, c->ids[i], 2);
        cw__store_be(p + 2, c->counters[i], 8);
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
    uint32_t count = (uint32_t)cw__load_be(buf, 4);
    if (count > CW_VCLOCK_MAX_ENTRIES)
        return CW_ELIMIT;
    size_t need = 4u + 10u * (size_t)count;
    if (len < need)
        return CW_ETRUNC;

    const uint8_t *p = buf + 4;
    bool canonical = true;
    for (uint32_t i = 0; i < count && canonical; i++) {
        const uint8_t *e = p + 10u * i;
        canonical = cw__load_be(e + 2, 8) != 0 && (i == 0 || cw__load_be(e - 10, 2) < cw__load_be(e, 2));
    }

    int rc;
    if (canonical) {
        rc = cw__vclock_reserve(out, count, false);
        if (rc != CW_OK)
            return rc;
        for (uint32_t i = 0; i < count; i++, p += 10) {
            out->ids[i] = (uint16_t)cw__load_be(p, 2);
            out->counters[i] = cw__load_be(p + 2, 8);
        }
        out->size = count;
    } else {
        cw__entry *scratch = malloc(count * sizeof *scratch);
        if (!scratch)
            return CW_ENOMEM;
        for (uint32_t i = 0; i < count; i++, p += 10)
            scratch[i] = (cw__entry){cw__load_be(p + 2, 8), (uint16_t)cw__load_be(p, 2)};
        rc = cw__vclock_assign_entries(out, scratch, count);
        free(scratch);
        if (rc != CW_OK)
            return rc;
    }
    if (consumed)
        *consumed = need;
    return CW_OK;
}
