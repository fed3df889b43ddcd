/* Big-endian integers in byte buffers, for the wire codecs (clock, HLC,
 * message). `bytes` is 1..8; callers pass constants, so these unroll. */
#ifndef CW_BYTES_H
#define CW_BYTES_H

#include <stdint.h>

static inline uint64_t cw__load_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Writes v's low `bytes` bytes; returns the position after them. */
static inline uint8_t *cw__store_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

#endif
