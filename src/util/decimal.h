/* Unsigned decimal digits, shared by the text codecs. */
#ifndef CW_DECIMAL_H
#define CW_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of decimal digits of v (1 for 0). */
static inline unsigned cw__decimal_len(uint64_t v)
{
    unsigned n = 1;
    while (v >= 10000) {
        v /= 10000;
        n += 4;
    }
    return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* Writes v as exactly width digits ending at out + width (zero-padded);
 * width must be >= cw__decimal_len(v). */
static inline void cw__decimal_write(char *out, unsigned width, uint64_t v)
{
    for (char *p = out + width; p > out; v /= 10)
        *--p = (char)('0' + v % 10);
}

/* Parses the digits of s[0..n) into *out. False on an empty run, a non-digit,
 * or a value above max. Leading zeros are allowed. */
static inline bool cw__decimal_parse(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

#endif
