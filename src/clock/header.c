/* X-VectorClock header: CLOCK[;CORRELATION[;CAUSATION]].
 *
 * Invariants:
 *  1. Parsing validates both ids before touching `out`, and the clock parse is
 *     itself all-or-nothing, so a failed parse leaves `out` unchanged.
 *  2. At most three segments; an id segment is never empty.
 *  3. Formatting writes ids as 32 lowercase hex digits and refuses a causation
 *     id without a correlation id.
 */
#include <string.h>

#include <causeway/error.h>
#include <causeway/header.h>

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int cw_uuid_parse(cw_uuid *out, const char *text, size_t len)
{
    if (!out || (!text && len))
        return CW_EINVAL;
    if (len >= 2 && text[0] == '{' && text[len - 1] == '}') {
        text++;
        len -= 2;
    }
    /* 32 digits, or 8-4-4-4-12 with hyphens at 8, 13, 18 and 23. */
    bool hyphenated = len == 36;
    if (len != 32 && !hyphenated)
        return CW_EPARSE;
    cw_uuid u;
    size_t digit = 0;
    for (size_t i = 0; i < len; i++) {
        if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i] != '-')
                return CW_EPARSE;
            continue;
        }
        int v = hex_value(text[i]);
        if (v < 0)
            return CW_EPARSE;
        if (digit % 2 == 0)
            u.bytes[digit / 2] = (uint8_t)(v << 4);
        else
            u.bytes[digit / 2] |= (uint8_t)v;
        digit++;
    }
    *out = u;
    return CW_OK;
}

int cw_uuid_format(const cw_uuid *u, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    if (!u || !buf)
        return CW_EINVAL;
    if (cap < 33)
        return CW_ENOSPC;
    for (size_t i = 0; i < 16; i++) {
        buf[2 * i] = hex[u->bytes[i] >> 4];
        buf[2 * i + 1] = hex[u->bytes[i] & 15];
    }
    buf[32] = '\0';
    return CW_OK;
}

void cw_header_init(cw_header *h)
{
    if (h)
        *h = (cw_header){0};
}

void cw_header_destroy(cw_header *h)
{
    if (!h)
        return;
    cw_vclock_destroy(&h->clock);
    *h = (cw_header){0};
}

int cw_header_parse(cw_header *out, const char *text, size_t len)
{
    if (!out || (!text && len))
        return CW_EINVAL;
    /* Split into up to three segments on ';'. */
    const char *seg[3] = {text, NULL, NULL};
    size_t seg_len[3] = {0, 0, 0};
    size_t segments = 1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != ';') {
            seg_len[segments - 1]++;
        } else if (segments == 3) {
            return CW_EPARSE;
        } else {
            seg[segments++] = text + i + 1;
        }
    }
    cw_uuid ids[2];
    for (size_t i = 1; i < segments; i++) {
        if (seg_len[i] == 0 || cw_uuid_parse(&ids[i - 1], seg[i], seg_len[i]) != CW_OK)
            return CW_EPARSE;
    }
    int rc = cw_vclock_parse(&out->clock, seg[0], seg_len[0]);
    if (rc != CW_OK)
        return rc;
    out->has_correlation = segments >= 2;
    out->has_causation = segments == 3;
    memset(&out->correlation, 0, sizeof out->correlation);
    memset(&out->causation, 0, sizeof out->causation);
    if (out->has_correlation)
        out->correlation = ids[0];
    if (out->has_causation)
        out->causation = ids[1];
    return CW_OK;
}

int cw_header_format(const cw_header *h, char *buf, size_t cap, size_t *len_out)
{
    if (!h || !len_out || (!buf && cap))
        return CW_EINVAL;
    if (h->has_causation && !h->has_correlation)
        return CW_EINVAL;
    size_t ids = (size_t)h->has_correlation + h->has_causation;
    size_t clock_len;
    int rc = cw_vclock_format(&h->clock, NULL, 0, &clock_len); /* measure only */
    if (rc != CW_ENOSPC)
        return rc == CW_OK ? CW_EINVAL : rc;
    size_t need = clock_len + 33 * ids;
    if (need + 1 > cap) {
        *len_out = need;
        return CW_ENOSPC;
    }
    rc = cw_vclock_format(&h->clock, buf, cap, &clock_len);
    if (rc != CW_OK)
        return rc;
    char *p = buf + clock_len;
    const cw_uuid *list[2] = {&h->correlation, &h->causation};
    for (size_t i = 0; i < ids; i++) {
        *p++ = ';';
        cw_uuid_format(list[i], p, 33);
        p += 32;
    }
    *p = '\0';
    *len_out = need;
    return CW_OK;
}
