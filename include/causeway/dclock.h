/* Dense vector clock: n counters for a known membership 0..n-1, the engine's
 * hot-path form. Merge, compare and the causal-delivery check are vectorised
 * (AVX-512 or AVX2 where the CPU has them, chosen at run time; portable C
 * otherwise), so the library runs on any x86-64 and elsewhere; merge and
 * compare of small clocks run inline in the caller (end of this header).
 *
 * Ownership: cw_dclock_init allocates n zeroed counters; cw_dclock_destroy
 * frees them. A cw_dclock may also be a view over caller memory (set the two
 * fields yourself and never call destroy on it).
 * Threads: plain values, like cw_vclock.
 */
#ifndef CAUSEWAY_DCLOCK_H
#define CAUSEWAY_DCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <causeway/export.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_dclock {
    uint64_t *counters;  /* counters[id] for id < n */
    uint32_t n;
} cw_dclock;

/* n zeroed counters, 1 <= n <= 65536: CW_EINVAL otherwise, CW_ENOMEM. */
CW_API int  cw_dclock_init(cw_dclock *c, uint32_t n);
CW_API void cw_dclock_destroy(cw_dclock *c);
/* dst = src; both must have the same n (CW_EINVAL). */
CW_API int  cw_dclock_copy(cw_dclock *dst, const cw_dclock *src);
/* Zeroes every counter. */
CW_API void cw_dclock_clear(cw_dclock *c);

/* dst = pointwise max(dst, src). CW_EINVAL if src->n > dst->n. O(n), vectorised;
 * inline below 8 counters (below). */
CW_API int cw_dclock_merge(cw_dclock *dst, const cw_dclock *src);
/* 4-way comparison; a shorter clock reads as zeros past its end. O(n),
 * vectorised, stopping early once the pair is concurrent; inline for two
 * clocks of the same n below 5 (below). */
CW_API cw_order cw_dclock_compare(const cw_dclock *a, const cw_dclock *b);

/* Causal delivery (Birman-Schiper-Stephenson). A write from `sender` stamped
 * `msg` is deliverable at a node whose clock is `local` when
 *   msg[sender] == local[sender] + 1  and  msg[k] <= local[k] for every k != sender. */
typedef enum cw_delivery {
    CW_DELIVER_INVALID = -1,   /* the call's arguments are wrong (below) */
    CW_DELIVER_READY = 0,      /* deliverable now */
    CW_DELIVER_WAIT = 1,       /* a dependency is missing: see *wait_for */
    CW_DELIVER_DUPLICATE = 2   /* msg[sender] <= local[sender]: already delivered */
} cw_delivery;

/* The one entry a waiting write needs next: local[node] must reach counter. */
typedef struct cw_dependency {
    cw_node_id node;
    uint64_t counter;
} cw_dependency;

/* Classifies msg against local. On CW_DELIVER_WAIT, *wait_for (nullable)
 * names the first unmet dependency: the sender itself (counter msg[sender]-1)
 * when earlier writes from it are missing, else the lowest k != sender with
 * msg[k] > local[k] (counter msg[k]). CW_DELIVER_INVALID, *wait_for untouched,
 * when local or msg is NULL, their n differ, or sender >= n (a sender read
 * from the wire is checked here, not trusted). O(n), vectorised. */
CW_API cw_delivery cw_dclock_deliverable(const cw_dclock *local, const cw_dclock *msg,
                                         cw_node_id sender, cw_dependency *wait_for);

/* Conversions. to_sparse replaces out (zeros omitted); CW_EINVAL for a view
 * of more than 65,536 counters (ids are 16 bits). from_sparse needs every
 * id of s below d->n (CW_EINVAL otherwise) and overwrites all of d. */
CW_API int cw_dclock_to_sparse(const cw_dclock *d, cw_vclock *out);
CW_API int cw_dclock_from_sparse(cw_dclock *d, const cw_vclock *s);

/* ---- Instruction-set dispatch for the vectorised kernels ----
 * The best set the CPU supports is chosen at first use. The environment
 * variable CAUSEWAY_ISA=scalar|avx2|avx512 caps that choice (e.g. to run under
 * valgrind, which lacks AVX-512). */
typedef enum cw_isa { CW_ISA_SCALAR = 0, CW_ISA_AVX2 = 1, CW_ISA_AVX512 = 2 } cw_isa;

CW_API cw_isa      cw_isa_active(void);
CW_API const char *cw_isa_name(cw_isa isa);            /* "scalar", "avx2", "avx512" */
CW_API bool        cw_isa_supported(cw_isa isa);       /* by this CPU */
/* Switches every kernel to isa, for tests and benchmarks that compare paths.
 * CW_EINVAL if this CPU lacks it. Safe while other threads run clock code. */
CW_API int         cw_isa_select(cw_isa isa);

/* ---- Inline merge and compare of small clocks ----
 * Most groups are small, and there a call costs more than the work. Under
 * GCC and clang, merge of up to 7 counters and compare of two clocks of up
 * to 4 run in the caller as the plain loop a user would write; anything
 * else, errors included, calls the library's general entry points below,
 * which only these two call. The limits count the call the general path
 * costs: on an AVX-512 host (whose table runs the AVX2 kernels below 32
 * counters) the kernels through a call were slower than this loop up to 7
 * counters for merge and faster from 5 for compare (docs/performance.md,
 * "Clocks beside plain C"). Callers compile the limits and the two entry
 * points into their code, so changing either is an ABI change. The library
 * defines both functions out of line too (CW__DCLOCK_DEFINE, set by dclock.c
 * alone): a call through a pointer, from an unoptimised build or from
 * another compiler runs the same code. */
CW_API int cw__dclock_merge_general(cw_dclock *dst, const cw_dclock *src);
CW_API cw_order cw__dclock_compare_general(const cw_dclock *a, const cw_dclock *b);

#if defined(CW__DCLOCK_DEFINE) || defined(__GNUC__)
#if defined(CW__DCLOCK_DEFINE)
#  define CW__DCLOCK_INLINE CW_API
#else
/* GNU inline: a definition for inlining only, never emitted by the caller
 * (__inline__, which -std=c89 accepts too). */
#  define CW__DCLOCK_INLINE extern __inline__ __attribute__((gnu_inline))
#endif

CW__DCLOCK_INLINE int cw_dclock_merge(cw_dclock *dst, const cw_dclock *src)
{
    if (dst && src && src->n < 8 && src->n <= dst->n) {
        uint64_t *d = dst->counters;
        const uint64_t *s = src->counters;
        uint32_t i; /* declared apart: the header also builds in C89 mode */
        for (i = 0; i < src->n; i++)
            d[i] = d[i] < s[i] ? s[i] : d[i];
        return 0; /* CW_OK */
    }
    return cw__dclock_merge_general(dst, src);
}

CW__DCLOCK_INLINE cw_order cw_dclock_compare(const cw_dclock *a, const cw_dclock *b)
{
    if (a->n == b->n && a->n < 5) {
        const uint64_t *x = a->counters, *y = b->counters;
        unsigned lt = 0, gt = 0;
        uint32_t i;
        for (i = 0; i < a->n; i++) {
            lt |= x[i] < y[i];
            gt |= x[i] > y[i];
        }
        /* The order's bits as a value, not a branch on them: a branch would
         * mispredict whenever the order of successive pairs varies. */
#ifdef __cplusplus
        return static_cast<cw_order>(lt | gt << 1);
#else
        return (cw_order)(lt | gt << 1);
#endif
    }
    return cw__dclock_compare_general(a, b);
}
#endif

#ifdef __cplusplus
}
#endif
#endif
