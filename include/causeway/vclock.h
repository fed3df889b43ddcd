/* Sparse vector clock: the canonical, wire-compatible form.
 *
 * A clock maps node ids (0..65535) to counters (uint64_t); a missing entry is 0.
 * The canonical form stores entries sorted by ascending id, each id once, and
 * never a zero counter. Every function keeps a clock canonical. Semantics and
 * wire formats, with examples: docs/formats.md (installed in the package's
 * documentation directory; compatible with .NET Clockworks).
 *
 * Ownership: a cw_vclock is a small value the caller owns (it may live on the
 * stack). cw_vclock_init makes it empty without allocating; cw_vclock_destroy
 * frees it. Every function that writes a clock into an `out`/`dst` parameter
 * takes an initialised clock and replaces its contents, reusing its memory.
 * A failed call leaves every output unchanged.
 *
 * Threads: a clock is a plain value. Concurrent reads are safe; a write needs
 * exclusive access (see cw_coordinator for a shared, locked clock).
 */
#ifndef CAUSEWAY_VCLOCK_H
#define CAUSEWAY_VCLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <causeway/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t cw_node_id;

/* The most entries a clock can hold: one per possible node id. */
#define CW_VCLOCK_MAX_ENTRIES 65536u

/* Result of a 4-way comparison. order = (some a<b) | (some a>b) << 1. */
typedef enum cw_order {
    CW_EQUAL = 0,      /* every counter equal */
    CW_BEFORE = 1,     /* a <= b pointwise and a != b: a happened before b */
    CW_AFTER = 2,      /* b <= a pointwise and a != b */
    CW_CONCURRENT = 3  /* some a[i] < b[i] and some a[j] > b[j] */
} cw_order;

/* Fields are visible so the type can live on the stack; treat them as
 * read-only. counters[i] belongs to ids[i], for i < size, ids ascending. */
typedef struct cw_vclock {
    uint64_t *counters;
    cw_node_id *ids;
    uint32_t size;
    uint32_t cap;
} cw_vclock;

/* Makes c empty. Allocates nothing; cannot fail. */
CW_API void cw_vclock_init(cw_vclock *c);
/* Frees c's memory; c is then empty and may be reused or destroyed again. */
CW_API void cw_vclock_destroy(cw_vclock *c);
/* Makes c empty, keeping its memory for reuse. */
CW_API void cw_vclock_clear(cw_vclock *c);

/* dst = src. CW_EINVAL on NULL, CW_ENOMEM. O(size). */
CW_API int cw_vclock_copy(cw_vclock *dst, const cw_vclock *src);

/* Number of entries (all non-zero). */
CW_API size_t cw_vclock_size(const cw_vclock *c);
/* The counter of id, or 0 if absent. O(log size). */
CW_API uint64_t cw_vclock_get(const cw_vclock *c, cw_node_id id);
/* The index-th entry in ascending id order: CW_EINVAL if index >= size. */
CW_API int cw_vclock_entry(const cw_vclock *c, size_t index, cw_node_id *id_out,
                           uint64_t *counter_out);

/* Sets id's counter; 0 removes the entry. CW_ENOMEM. O(size) when the entry is new. */
CW_API int cw_vclock_set(cw_vclock *c, cw_node_id id, uint64_t counter);
/* Adds 1 to id's counter (a new entry starts at 1). CW_EOVERFLOW at 2^64-1,
 * leaving c unchanged (Clockworks wraps to 0, silently reversing causality). */
CW_API int cw_vclock_increment(cw_vclock *c, cw_node_id id);

/* dst = pointwise max(dst, src) over the union of ids. CW_EINVAL, CW_ENOMEM.
 * O(size(dst) + size(src)); identical membership takes a vectorised path. */
CW_API int cw_vclock_merge(cw_vclock *dst, const cw_vclock *src);

/* out = pointwise max(a, b) over the union of ids: a fresh merge of two
 * clocks in one walk, without copying a first (cw_vclock_copy then
 * cw_vclock_merge gives the same clock). out's old entries are replaced; it
 * grows to size(a) + size(b) entries at most (never past 65,536). out may be
 * a or b (then it is cw_vclock_merge). CW_EINVAL on NULL, CW_ENOMEM; out is
 * unchanged on failure. O(size(a) + size(b)); identical membership takes a
 * vectorised path. */
CW_API int cw_vclock_join(cw_vclock *out, const cw_vclock *a, const cw_vclock *b);

/* 4-way comparison of a and b (see cw_order). O(size(a) + size(b)); stops
 * early once the pair is known to be concurrent. NULL counts as empty. */
CW_API cw_order cw_vclock_compare(const cw_vclock *a, const cw_vclock *b);
/* Name of an order: "EQUAL", "BEFORE", "AFTER", "CONCURRENT" (static string). */
CW_API const char *cw_order_name(cw_order o);

/* ---- Text form, "1:2,2:3" (the X-VectorClock header's clock) ---- */

/* Parses text[0..len) (need not be NUL-terminated) into out. Accepts exactly
 * Clockworks' language: whitespace-only is empty, empty entries are skipped,
 * entries are DIGITS:DIGITS in any order, duplicates keep the larger counter,
 * zeros are dropped. CW_EPARSE on anything else or an id/counter out of range;
 * CW_ELIMIT past 65,536 distinct ids is impossible, so never returned. */
CW_API int cw_vclock_parse(cw_vclock *out, const char *text, size_t len);

/* Writes the canonical text form and a NUL into buf[0..cap). *len_out gets the
 * length without the NUL; on CW_ENOSPC it gets the length needed (without the
 * NUL), so a buffer of *len_out + 1 bytes suffices. len_out may not be NULL. */
CW_API int cw_vclock_format(const cw_vclock *c, char *buf, size_t cap, size_t *len_out);

/* ---- Binary form, [count u32 BE][(id u16 BE, counter u64 BE)]* ---- */

/* Bytes cw_vclock_encode writes: 4 + 10 * size. */
CW_API size_t cw_vclock_encoded_size(const cw_vclock *c);
/* Encodes into buf[0..cap). *len_out gets the bytes written, or on CW_ENOSPC
 * the bytes needed. len_out may not be NULL. */
CW_API int cw_vclock_encode(const cw_vclock *c, uint8_t *buf, size_t cap, size_t *len_out);
/* Decodes one clock from the front of buf[0..len) into out, canonicalising
 * (unsorted or duplicate ids accepted, duplicates keep the max, zeros dropped).
 * *consumed (nullable) gets the bytes read; trailing bytes are not an error.
 * CW_ETRUNC if buf is shorter than 4 or than its declared count needs;
 * CW_ELIMIT if count > 65,536 (checked first, before allocating anything). */
CW_API int cw_vclock_decode(cw_vclock *out, const uint8_t *buf, size_t len, size_t *consumed);

#ifdef __cplusplus
}
#endif
#endif
