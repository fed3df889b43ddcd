/* Text form of the sparse clock: "1:2,2:3,5:1" (Clockworks' X-VectorClock).
 *
 * Invariants:
 *  1. The accepted language is exactly reference/clock-formats.md: input of
 *     only ASCII whitespace is the empty clock; empty entries are skipped;
 *     every other entry is DIGITS ':' DIGITS with id <= 65535 and
 *     counter <= 2^64-1; nothing else (no signs, spaces or other digits).
 *  2. Parsing writes nothing to `out` until the whole input is valid: entries
 *     are staged in a scratch array (on the stack for up to 64), then copied
 *     in, or sorted and canonicalised first when the input was not canonical.
 *  3. Formatting writes the canonical form and never a zero counter.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#include <causeway/vclock.h>

#include "decimal.h"
#include "vclock_internal.h"

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Parses one entry s[0..n) (n > 0). */
static bool parse_entry(const char *s, size_t n, cw_node_id *id, uint64_t *counter)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return false;
    size_t id_len = (size_t)(colon - s);
    uint64_t v;
    if (!cw__decimal_parse(s, id_len, UINT16_MAX, &v))
        return false;
    *id = (cw_node_id)v;
    return cw__decimal_parse(colon + 1, n - id_len - 1, UINT64_MAX, counter);
}

int cw_vclock_parse(cw_vclock *out, const char *text, size_t len)
{
    if (!out || (!text && len))
        return CW_EINVAL;
    size_t k = 0;
    while (k < len && is_space(text[k]))
        k++;
    if (k == len) {
        out->size = 0;
        return CW_OK;
    }

    /* Stage entries; each takes at least 3 characters plus a separator. */
    cw__entry local[64];
    size_t bound = (len + 1) / 4;
    cw__entry *staged = bound <= 64 ? local : malloc(bound * sizeof *staged);
    if (!staged)
        return CW_ENOMEM;
    size_t n = 0;
    bool canonical = true;
    int rc = CW_OK;
    for (size_t pos = 0; pos <= len;) {
        const char *comma = memchr(text + pos, ',', len - pos);
        size_t end = comma ? (size_t)(comma - text) : len;
        if (end > pos) {
            cw__entry *e = &staged[n];
            if (n == bound || !parse_entry(text + pos, end - pos, &e->id, &e->counter)) {
                rc = CW_EPARSE;
                break;
            }
            canonical &= e->counter != 0 && (n == 0 || staged[n - 1].id < e->id);
            n++;
        }
        pos = end + 1;
    }
    if (rc == CW_OK)
        rc = canonical ? cw__vclock_assign_canonical(out, staged, n)
                       : cw__vclock_assign_entries(out, staged, n);
    if (staged != local)
        free(staged);
    return rc;
}

int cw_vclock_format(const cw_vclock *c, char *buf, size_t cap, size_t *len_out)
{
    if (!c || !len_out || (!buf && cap))
        return CW_EINVAL;
    size_t need = c->size ? c->size * 2u - 1u : 0; /* ':' per entry, ',' between */
    for (uint32_t i = 0; i < c->size; i++)
        need += cw__decimal_len(c->ids[i]) + cw__decimal_len(c->counters[i]);
    if (need + 1 > cap) {
        *len_out = need;
        return CW_ENOSPC;
    }
    char *p = buf;
    for (uint32_t i = 0; i < c->size; i++) {
        unsigned w = cw__decimal_len(c->ids[i]);
        cw__decimal_write(p, w, c->ids[i]);
        p += w;
        *p++ = ':';
        w = cw__decimal_len(c->counters[i]);
        cw__decimal_write(p, w, c->counters[i]);
        p += w;
        *p++ = ',';
    }
    if (c->size)
        p--;
    *p = '\0';
    *len_out = need;
    return CW_OK;
}
