/* Bitmaps as arrays of 64-bit words, bit i in word i / 64. C and C++. */
#ifndef CW_BITS_H
#define CW_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Words for a bitmap of n bits. */
static inline size_t cw__bits_words(size_t n) { return (n + 63) / 64; }

static inline void cw__bit_set(uint64_t *b, size_t i) { b[i >> 6] |= (uint64_t)1 << (i & 63); }

static inline bool cw__bit_get(const uint64_t *b, size_t i) { return b[i >> 6] >> (i & 63) & 1; }

/* Clears bit i; whether it was set. */
static inline bool cw__bit_take(uint64_t *b, size_t i)
{
    uint64_t bit = (uint64_t)1 << (i & 63);
    bool was = (b[i >> 6] & bit) != 0;
    b[i >> 6] &= ~bit;
    return was;
}

#endif
