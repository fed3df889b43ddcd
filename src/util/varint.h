/* Varints: LEB128, 7 bits a byte, low bits first, for the link frames (a
 * compact clock's entries, a batch's frame lengths). */
#ifndef CW_VARINT_H
#define CW_VARINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes one varint takes. */
#define CW__VARINT_MAX 10u

/* Writes v at p (room for CW__VARINT_MAX bytes); the position after it. */
static inline uint8_t *cw__varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads one varint from b[*pos..len) into *out, moving *pos past it. False
 * (nothing read past len) when it is cut short or holds more than 64 bits. */
static inline bool cw__varint_take(const uint8_t *b, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t c = b[(*pos)++];
        if (shift == 63 && c > 1)
            return false;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

#endif
