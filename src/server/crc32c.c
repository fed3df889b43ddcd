/* CRC-32C (crc32c.h). */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u /* 0x1edc6f41 reflected */

static uint32_t table[256]; /* the CRC of each byte value, one byte at a time */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_fill(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        table[b] = c;
    }
}

uint32_t cw__crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, table_fill); /* orders the table's writes before every read */
    const uint8_t *p = data;
    crc = ~crc;
    while (len--)
        crc = (crc >> 8) ^ table[(crc ^ *p++) & 0xffu];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* unaligned; little-endian, as the reflected CRC reads bytes */
        c = _mm_crc32_u64(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static uint32_t (*crc32c_fn)(uint32_t, const void *, size_t);
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void crc32c_choose(void)
{
    __builtin_cpu_init();
    crc32c_fn = __builtin_cpu_supports("sse4.2") ? crc32c_sse42 : cw__crc32c_portable;
}

uint32_t cw__crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&choose_once, crc32c_choose); /* orders crc32c_fn's write before every read */
    return crc32c_fn(crc, data, len);
}
#else
uint32_t cw__crc32c(uint32_t crc, const void *data, size_t len) { return cw__crc32c_portable(crc, data, len); }
#endif
