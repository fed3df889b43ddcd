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
#include <string.h>
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

/* ---- Inline front of cw_vclock_join ----
 *
 * The small joins run in the caller, as the obvious loop would: two clocks
 * of the same 1 to 8 ids (a small group's usual pair: the ids compared as
 * two words, then each id and the larger counter written), and two clocks
 * of at most one entry each (no branch on their sizes or ids). A call, its
 * argument checks and the library's size dispatch cost more than that work
 * (docs/performance.md, "Small joins in the caller"; GCC inlines this,
 * clang does not). Everything else, errors included, calls
 * cw__vclock_join_general, which gives the same clock. These limits are compiled into callers: changing them is an ABI
 * change. The library defines cw_vclock_join out of line too
 * (CW__VCLOCK_DEFINE, set by vclock.c alone), so a call through a pointer,
 * from an unoptimised build or from another compiler runs the same code. */
CW_API int cw__vclock_join_general(cw_vclock *out, const cw_vclock *a, const cw_vclock *b);
/* What the front's one-entry path reads for an empty side: zeros, defined
 * once in the library (a static object in an inline function would get a
 * unique symbol from g++, which keeps a shared object from being unloaded). */
typedef struct cw__vclock_empty {
    uint64_t counter;
    cw_node_id id;
} cw__vclock_empty;
CW_API extern const cw__vclock_empty cw__vclock_no_entry;

#if defined(CW__VCLOCK_DEFINE) || defined(__GNUC__)
#if defined(CW__VCLOCK_DEFINE)
#  define CW__VCLOCK_INLINE CW_API
#else
/* GNU inline: a definition for inlining only, never emitted by the caller. */
#  define CW__VCLOCK_INLINE extern __inline__ __attribute__((gnu_inline))
#endif
#ifdef __cplusplus /* C-style casts warn under -Wold-style-cast */
#  define CW__VCLOCK_AS(T, v) static_cast<T>(v)
#  define CW__VCLOCK_BITS(p) reinterpret_cast<uintptr_t>(p)
#  define CW__VCLOCK_PTR(T, u) reinterpret_cast<T>(u)
#else
#  define CW__VCLOCK_AS(T, v) ((T)(v))
#  define CW__VCLOCK_BITS(p) ((uintptr_t)(p))
#  define CW__VCLOCK_PTR(T, u) ((T)(u))
#endif

CW__VCLOCK_INLINE int cw_vclock_join(cw_vclock *out, const cw_vclock *a, const cw_vclock *b)
{
    if (out && a && b && out != a && out != b) {
        uint32_t na = a->size, nb = b->size;
        const cw_node_id *ai = a->ids, *bi = b->ids;
        if (((na ^ 1u) | (nb ^ 1u)) == 0 && ai[0] == bi[0] && out->cap >= 1u) {
            /* One entry each, the same id. */
            uint64_t ca = a->counters[0], cb = b->counters[0];
            out->ids[0] = ai[0];
            out->counters[0] = ca < cb ? cb : ca;
            out->size = 1;
            return 0; /* CW_OK */
        }
        if ((na | nb) <= 1u && out->cap >= 2u) {
            /* At most one entry a side, with no branch on the sizes or ids,
             * which in a small group are a coin flip. An empty side reads
             * cw__vclock_no_entry's zeros, its id marked above every id
             * (bit 16); the pointers are chosen by masks, as the compiler
             * makes a conditional expression a branch on each size. */
            /* all ones for one entry, 0 for none */
            uintptr_t has_a = 0 - CW__VCLOCK_AS(uintptr_t, na), has_b = 0 - CW__VCLOCK_AS(uintptr_t, nb);
            uintptr_t no_id = CW__VCLOCK_BITS(&cw__vclock_no_entry.id);
            uintptr_t no_counter = CW__VCLOCK_BITS(&cw__vclock_no_entry.counter);
            const cw_node_id *pa = CW__VCLOCK_PTR(const cw_node_id *, (CW__VCLOCK_BITS(ai) & has_a) | (no_id & ~has_a));
            const cw_node_id *pb = CW__VCLOCK_PTR(const cw_node_id *, (CW__VCLOCK_BITS(bi) & has_b) | (no_id & ~has_b));
            const uint64_t *qa =
                CW__VCLOCK_PTR(const uint64_t *, (CW__VCLOCK_BITS(a->counters) & has_a) | (no_counter & ~has_a));
            const uint64_t *qb =
                CW__VCLOCK_PTR(const uint64_t *, (CW__VCLOCK_BITS(b->counters) & has_b) | (no_counter & ~has_b));
            uint32_t x = *pa | (na ^ 1u) << 16, y = *pb | (nb ^ 1u) << 16;
            uint64_t ca = *qa, cb = *qb;
            uint64_t a_first = 0 - CW__VCLOCK_AS(uint64_t, x < y), b_first = 0 - CW__VCLOCK_AS(uint64_t, y < x);
            uint64_t same = ~(a_first | b_first), larger = ca < cb ? cb : ca;
            out->ids[0] = CW__VCLOCK_AS(cw_node_id, x < y ? x : y);
            out->counters[0] = (ca & a_first) | (cb & b_first) | (larger & same);
            out->ids[1] = CW__VCLOCK_AS(cw_node_id, x < y ? y : x);
            out->counters[1] = (cb & a_first) | (ca & b_first);
            out->size = na + nb - CW__VCLOCK_AS(uint32_t, (x == y) & (x < 0x10000u));
            return 0;
        }
        if (na == nb && na - 2u <= 6u && na <= out->cap) { /* 2 to 8 entries each */
            /* The ids as two words, which overlap unless n is 4 or 8: no
             * loop and no early exit. */
            uint32_t k = na > 4u ? na - 4u : na - 2u; /* the second word's first id */
            uint64_t a0, a1, b0, b1;
            if (na > 4u) {
                memcpy(&a0, ai, 8);
                memcpy(&a1, ai + k, 8);
                memcpy(&b0, bi, 8);
                memcpy(&b1, bi + k, 8);
            } else {
                uint32_t w[4];
                memcpy(&w[0], ai, 4);
                memcpy(&w[1], ai + k, 4);
                memcpy(&w[2], bi, 4);
                memcpy(&w[3], bi + k, 4);
                a0 = w[0];
                a1 = w[1];
                b0 = w[2];
                b1 = w[3];
            }
            if (((a0 ^ b0) | (a1 ^ b1)) == 0) {
                const uint64_t *ac = a->counters, *bc = b->counters;
                uint64_t *oc = out->counters;
                uint32_t i;
                if (na > 4u) {
                    memcpy(out->ids, &a0, 8);
                    memcpy(out->ids + k, &a1, 8);
                } else {
                    uint32_t w0 = CW__VCLOCK_AS(uint32_t, a0), w1 = CW__VCLOCK_AS(uint32_t, a1);
                    memcpy(out->ids, &w0, 4);
                    memcpy(out->ids + k, &w1, 4);
                }
                for (i = 0; i < na; i++)
                    oc[i] = ac[i] < bc[i] ? bc[i] : ac[i];
                out->size = na;
                return 0;
            }
        }
    }
    return cw__vclock_join_general(out, a, b);
}
#endif

#ifdef __cplusplus
}
#endif
#endif
