/* The obvious C a user would write instead of calling Causeway: sorted
 * (id, counter) arrays walked with two pointers, and loops over dense
 * counters. Compiled with the library's flags, baseline x86-64, no SIMD by
 * hand, so the bench can show whether the library beats it at every n. */
#ifndef CW_BENCH_PLAIN_CLOCK_H
#define CW_BENCH_PLAIN_CLOCK_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Writes the union of (aid, ac)[0..na) and (bid, bc)[0..nb), both sorted by
 * id, into (oid, oc), the larger counter where an id is in both; returns the
 * number of entries written (the same output cw_vclock_merge gives). */
size_t plain_sparse_merge(const uint16_t *aid, const uint64_t *ac, size_t na, const uint16_t *bid,
                          const uint64_t *bc, size_t nb, uint16_t *oid, uint64_t *oc);
/* (some a < b) | (some a > b) << 1 over the union of ids (absent = 0), a
 * cw_order; returns as soon as both bits are set. */
unsigned plain_sparse_compare(const uint16_t *aid, const uint64_t *ac, size_t na, const uint16_t *bid,
                              const uint64_t *bc, size_t nb);
/* The dense loops are inline, as a user's own loops would be in their code
 * (the library's merge and compare of small dense clocks run inline in the
 * caller too, so both sides are compared without a call). */
/* dst[i] = max(dst[i], src[i]) for i < n. */
static inline void plain_dense_merge(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = dst[i] < src[i] ? src[i] : dst[i];
}
/* As plain_sparse_compare over a[0..n) and b[0..n). */
static inline unsigned plain_dense_compare(const uint64_t *a, const uint64_t *b, size_t n)
{
    unsigned lt = 0, gt = 0;
    for (size_t i = 0; i < n; i++) {
        lt |= a[i] < b[i];
        gt |= a[i] > b[i];
        if (lt & gt)
            return 3;
    }
    return lt | gt << 1;
}
#ifdef __cplusplus
}
#endif
#endif
