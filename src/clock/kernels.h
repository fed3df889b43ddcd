/* Vectorised kernels over arrays of uint64_t counters, shared by the dense
 * clock and the sparse clock's identical-membership fast path. One table per
 * instruction set; cw__kernels() returns the active one (see dclock.h). */
#ifndef CW_KERNELS_H
#define CW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cw__kernel_table {
    /* dst[i] = max(dst[i], src[i]) for i < n. */
    void (*max_u64)(uint64_t *dst, const uint64_t *src, size_t n);
    /* (some a[i] < b[i]) | (some a[i] > b[i]) << 1, i.e. a cw_order;
     * may stop as soon as both bits are known. */
    unsigned (*order_u64)(const uint64_t *a, const uint64_t *b, size_t n);
    /* The first i < n with a[i] > b[i], or n if there is none. */
    size_t (*first_gt_u64)(const uint64_t *a, const uint64_t *b, size_t n);
    /* The smallest n at which max_u64 and order_u64 beat the inline loops
     * below (cw__max_u64_inline, cw__order_u64_inline), measured per
     * instruction set (kernels.c says how): under it, an indirect call and
     * a vector set-up cost more than the whole loop. */
    size_t max_min_n, order_min_n;
} cw__kernel_table;

#include <stdatomic.h>

/* The active table. It starts as a table that picks the best instruction set
 * on its first call and then forwards, so readers never see NULL and the hot
 * path is one relaxed load (the tables are compile-time constants: the pointer
 * publishes no data that needs ordering). */
/* Hidden: the library reaches it PC-relative, not through the GOT. */
__attribute__((visibility("hidden"))) extern _Atomic(const cw__kernel_table *) cw__active_kernels;

static inline const cw__kernel_table *cw__kernels(void)
{
    return atomic_load_explicit(&cw__active_kernels, memory_order_relaxed);
}

/* dst[i] = max(dst[i], src[i]) for i < n, as plain scalar code that the
 * compiler inlines into the caller: a conditional move a counter, no call. */
static inline void cw__max_u64_inline(uint64_t *dst, const uint64_t *src, size_t n)
{
    /* Two a step, after one for odd n: below the crossover n is 1 to 3
     * (8 for sparse clocks), where the loop's own count, test and branch
     * are a third of the work. */
    size_t i = n & 1;
    if (i)
        dst[0] = dst[0] < src[0] ? src[0] : dst[0];
    for (; i < n; i += 2) {
        uint64_t d0 = dst[i], d1 = dst[i + 1], s0 = src[i], s1 = src[i + 1];
        dst[i] = d0 < s0 ? s0 : d0;
        dst[i + 1] = d1 < s1 ? s1 : d1;
    }
}

/* order_u64 as inline scalar code, without an early exit: below the
 * crossover a test per counter costs more than finishing the loop. */
static inline unsigned cw__order_u64_inline(const uint64_t *a, const uint64_t *b, size_t n)
{
    unsigned lt = 0, gt = 0;
    size_t i = n & 1; /* two a step, as cw__max_u64_inline */
    if (i)
        lt = a[0] < b[0], gt = a[0] > b[0];
    for (; i < n; i += 2) {
        lt |= (a[i] < b[i]) | (a[i + 1] < b[i + 1]);
        gt |= (a[i] > b[i]) | (a[i + 1] > b[i + 1]);
    }
    return lt | gt << 1;
}

/* The active table's max_u64, or the inline loop below its crossover. */
static inline void cw__max_u64(uint64_t *dst, const uint64_t *src, size_t n)
{
    const cw__kernel_table *k = cw__kernels();
    if (n < k->max_min_n)
        cw__max_u64_inline(dst, src, n);
    else
        k->max_u64(dst, src, n);
}

/* The active table's order_u64, or the inline loop below its crossover. */
static inline unsigned cw__order_u64(const uint64_t *a, const uint64_t *b, size_t n)
{
    const cw__kernel_table *k = cw__kernels();
    return n < k->order_min_n ? cw__order_u64_inline(a, b, n) : k->order_u64(a, b, n);
}

#endif
