/* CRC-32C (Castagnoli, the polynomial iSCSI, ext4 and LevelDB use): the
 * checksum that seals every record a durable node saves (durable.c).
 * Chained: cw__crc32c(cw__crc32c(0, a, n), b, m) is the CRC of a then b.
 * The SSE4.2 instruction where the CPU has it (asked at run time: 5-8 GB/s
 * here), else a byte-table loop (~0.4 GB/s); both give the same value. */
#ifndef CW_CRC32C_H
#define CW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t cw__crc32c(uint32_t crc, const void *data, size_t len);
/* The portable loop alone (the tests hold the fast path to it). */
uint32_t cw__crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
