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
} cw__kernel_table;

#include <stdatomic.h>

/* The active table. It starts as a table that picks the best instruction set
 * on its first call and then forwards, so readers never see NULL and the hot
 * path is one relaxed load (the tables are compile-time constants: the pointer
 * publishes no data that needs ordering). */
extern _Atomic(const cw__kernel_table *) cw__active_kernels;

static inline const cw__kernel_table *cw__kernels(void)
{
    return atomic_load_explicit(&cw__active_kernels, memory_order_relaxed);
}

#endif
