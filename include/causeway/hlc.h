/* Hybrid logical clock (Kulkarni et al. 2014; as Clockworks' HLC and
 * CockroachDB). A timestamp is (wall ms: 48 bits, logical counter: 16 bits,
 * node id: 16 bits), ordered lexicographically: a total order consistent with
 * causality and close to real time. Causeway's last-writer-wins policy orders
 * writes by it.
 *
 * Text form "WWWWWWWWWWWWW.CCCC@N" (wall ms at least 13 digits, counter at
 * least 4, node id; decimal, as Clockworks); binary form 10 bytes big-endian:
 * 48-bit wall, u16 counter, u16 node. Examples: docs/formats.md, "Hybrid
 * logical clock".
 *
 * Threads: a cw_hlc is not thread-safe; one per node, or guard it.
 */
#ifndef CAUSEWAY_HLC_H
#define CAUSEWAY_HLC_H

#include <stddef.h>
#include <stdint.h>
#include <causeway/export.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CW_HLC_MAX_WALL ((UINT64_C(1) << 48) - 1)
#define CW_HLC_TEXT_MAX 27u   /* longest text form, without the NUL */
#define CW_HLC_BINARY_SIZE 10u

typedef struct cw_hlc_timestamp {
    uint64_t wall_ms;   /* < 2^48 */
    uint16_t counter;
    cw_node_id node;
} cw_hlc_timestamp;

/* Reads a wall clock in milliseconds since the Unix epoch. */
typedef uint64_t (*cw_wall_clock_fn)(void *ctx);

typedef struct cw_hlc {
    cw_hlc_timestamp last;     /* the latest timestamp issued or adopted */
    cw_wall_clock_fn now;
    void *now_ctx;
    uint64_t max_drift_ms;
} cw_hlc;

/* Default drift bound: a remote timestamp more than this ahead is refused. */
#define CW_HLC_DEFAULT_MAX_DRIFT_MS UINT64_C(60000)

/* now == NULL reads CLOCK_REALTIME. max_drift_ms == 0 means the default.
 * CW_EINVAL on NULL h. */
CW_API int cw_hlc_init(cw_hlc *h, cw_node_id node, cw_wall_clock_fn now, void *now_ctx,
                       uint64_t max_drift_ms);

/* A timestamp for a local event or send: greater than every one issued or
 * adopted before. CW_EOVERFLOW if the wall part would pass 2^48-1. When the
 * counter is exhausted within one millisecond the wall part advances by one. */
CW_API int cw_hlc_now(cw_hlc *h, cw_hlc_timestamp *out);

/* Adopts a received timestamp and returns one greater than both it and every
 * earlier local one. CW_EDRIFT if remote->wall_ms is more than max_drift_ms
 * ahead of the wall clock (h unchanged); CW_EOVERFLOW as cw_hlc_now. */
CW_API int cw_hlc_update(cw_hlc *h, const cw_hlc_timestamp *remote, cw_hlc_timestamp *out);

/* Adopts a timestamp seen without an event of its own (e.g. a replicated
 * write being applied): later timestamps from h are greater than it. Reads no
 * clock and checks no drift; the caller checked it on arrival. A NULL h or
 * seen does nothing. */
CW_API void cw_hlc_observe(cw_hlc *h, const cw_hlc_timestamp *seen);

/* -1, 0 or 1 by (wall, counter, node). a and b must not be NULL. */
CW_API int cw_hlc_compare(const cw_hlc_timestamp *a, const cw_hlc_timestamp *b);

/* Text: writes the form and a NUL; *len_out as cw_vclock_format (CW_ENOSPC).
 * CW_EINVAL if wall_ms >= 2^48 (no such timestamp), as cw_hlc_encode. */
CW_API int cw_hlc_format(const cw_hlc_timestamp *t, char *buf, size_t cap, size_t *len_out);
/* Parses DIGITS.DIGITS@DIGITS (any number of leading zeros). CW_EPARSE on
 * anything else or a part out of range. */
CW_API int cw_hlc_parse(cw_hlc_timestamp *out, const char *text, size_t len);

/* Binary: exactly CW_HLC_BINARY_SIZE bytes. encode: CW_ENOSPC if cap < 10,
 * CW_EINVAL if wall_ms >= 2^48. decode: CW_ETRUNC if len < 10. */
CW_API int cw_hlc_encode(const cw_hlc_timestamp *t, uint8_t *buf, size_t cap);
CW_API int cw_hlc_decode(cw_hlc_timestamp *out, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
