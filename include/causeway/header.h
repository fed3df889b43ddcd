/* The X-VectorClock message header: CLOCK[;CORRELATION[;CAUSATION]], where
 * each id is a 128-bit GUID written as 32 lowercase hex digits. Compatible with
 * Clockworks' VectorClockMessageHeader, but exact: a fourth segment is refused
 * (Clockworks ignores it) and a causation id without a correlation id cannot be
 * formatted (Clockworks drops it). Accepted id forms and examples:
 * docs/formats.md, "Header form with message ids". */
#ifndef CAUSEWAY_HEADER_H
#define CAUSEWAY_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <causeway/export.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A GUID; bytes in text order (bytes[0] is the first two hex digits). */
typedef struct cw_uuid { uint8_t bytes[16]; } cw_uuid;

typedef struct cw_header {
    cw_vclock clock;
    bool has_correlation; cw_uuid correlation;
    bool has_causation;   cw_uuid causation;
} cw_header;

/* Empty clock, no ids; allocates nothing. */
CW_API void cw_header_init(cw_header *h);
/* Frees the clock; h is then as after init. */
CW_API void cw_header_destroy(cw_header *h);

/* Parses text[0..len) into out (reusing out's clock memory). A GUID may be 32
 * hex digits or hyphenated 8-4-4-4-12, either case, optionally in braces.
 * CW_EPARSE on a bad clock, an empty or malformed id segment, or a fourth
 * segment; out is then unchanged. */
CW_API int cw_header_parse(cw_header *out, const char *text, size_t len);

/* Writes the canonical header and a NUL into buf[0..cap), ids as 32 lowercase
 * hex digits. *len_out: length without the NUL, or on CW_ENOSPC the length
 * needed. CW_EINVAL if has_causation without has_correlation. */
CW_API int cw_header_format(const cw_header *h, char *buf, size_t cap, size_t *len_out);

/* One GUID alone, in any accepted spelling / as 32 lowercase hex digits + NUL
 * (cap >= 33). */
CW_API int cw_uuid_parse(cw_uuid *out, const char *text, size_t len);
CW_API int cw_uuid_format(const cw_uuid *u, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
