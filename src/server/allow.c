/* An address allow-list (allow.h).
 *
 * Invariants:
 *  1. A range is kept as its address with every bit beyond its prefix
 *     zero, so an address lies in it when the two agree on the prefix.
 *  2. A connection's address mapped into IPv6 (::ffff:a.b.c.d, what a
 *     dual-stack socket reports for an IPv4 peer) is the IPv4 address it
 *     carries. An IPv4 address lies in an IPv4 range by its 32 bits, and in
 *     an IPv6 range as the address mapped into IPv6 (::ffff:10.0.0.0/104 is
 *     10.0.0.0/8; ::/0 is every address of both families).
 */
#include "allow.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

/* The longest range text taken: an IPv6 address in full (45 characters
 * with an IPv4 tail), '/' and three digits. */
#define RANGE_TEXT_MAX 50u

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses an address into r, in the family it is written in: false if it is
 * neither form. */
static bool parse_address(const char *text, cw__allow_range *r)
{
    memset(r->addr, 0, sizeof r->addr);
    r->v6 = false;
    if (inet_pton(AF_INET, text, r->addr) == 1)
        return true;
    r->v6 = true;
    return inet_pton(AF_INET6, text, r->addr) == 1;
}

/* Whether a and b agree on their first `bits` bits. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return !rest || ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Parses the range of len bytes at at (an item of a list) into r. */
static int parse_range(const char *at, size_t len, cw__allow_range *r, char *err, size_t errlen)
{
    if (len == 0 || len > RANGE_TEXT_MAX) {
        snprintf(err, errlen, "'%.*s%s': expected ADDRESS or ADDRESS/BITS", (int)(len < 60 ? len : 60), at,
                 len > 60 ? "..." : "");
        return CW_EINVAL;
    }
    char text[RANGE_TEXT_MAX + 1], buf[RANGE_TEXT_MAX + 1];
    memcpy(text, at, len);
    text[len] = '\0';
    memcpy(buf, text, len + 1);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (!parse_address(buf, r)) {
        snprintf(err, errlen, "'%s': not an IPv4 or IPv6 address", buf);
        return CW_EINVAL;
    }
    unsigned max = r->v6 ? 128 : 32, bits = max;
    if (slash) {
        char *end = slash + 1;
        unsigned long b = slash[1] >= '0' && slash[1] <= '9' ? strtoul(slash + 1, &end, 10) : max + 1;
        if (b > max || *end) {
            snprintf(err, errlen, "'%s': the prefix after '/' must be a number from 0 to %u", text, max);
            return CW_EINVAL;
        }
        bits = (unsigned)b;
    }
    cw__allow_range masked = *r;
    for (unsigned i = bits; i < max; i++)
        masked.addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    if (memcmp(masked.addr, r->addr, sizeof r->addr) != 0) {
        snprintf(err, errlen, "'%s': bits set beyond the /%u prefix (a typo for another range?)", text, bits);
        return CW_EINVAL;
    }
    r->bits = (uint8_t)bits;
    return CW_OK;
}

int cw__allow_parse(cw__allow *a, const char *list, char *err, size_t errlen)
{
    if (!a || !list)
        return CW_EINVAL;
    cw__allow next = {0};
    const char *at = list;
    for (;;) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t)(comma - at) : strlen(at);
        if (next.count == CW__ALLOW_MAX) {
            snprintf(err, errlen, "more than %u ranges", CW__ALLOW_MAX);
            return CW_EINVAL;
        }
        int rc = parse_range(at, len, &next.range[next.count], err, errlen);
        if (rc != CW_OK)
            return rc;
        next.count++;
        if (!comma)
            break;
        at = comma + 1;
    }
    *a = next;
    return CW_OK;
}

bool cw__allow_admits(const cw__allow *a, const char *address)
{
    cw__allow_range r;
    char bare[64];
    size_t len = address ? strcspn(address, "%") : 0; /* fe80::1%eth0: the zone names no address */
    if (!a || !address || len >= sizeof bare)
        return false;
    memcpy(bare, address, len);
    bare[len] = '\0';
    if (!parse_address(bare, &r))
        return false;
    uint8_t as_v6[16]; /* invariant 2: as IPv6, an IPv4 address mapped; its last 4 bytes then as IPv4 */
    memcpy(as_v6, r.v6 ? r.addr : V4_MAPPED, r.v6 ? sizeof as_v6 : sizeof V4_MAPPED);
    if (!r.v6)
        memcpy(as_v6 + sizeof V4_MAPPED, r.addr, 4);
    bool ipv4 = memcmp(as_v6, V4_MAPPED, sizeof V4_MAPPED) == 0;
    for (uint32_t i = 0; i < a->count; i++) {
        const cw__allow_range *g = &a->range[i];
        if (g->v6 ? same_prefix(g->addr, as_v6, g->bits) : ipv4 && same_prefix(g->addr, as_v6 + 12, g->bits))
            return true;
    }
    return false;
}
