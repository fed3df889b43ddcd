/* Vectorised counter kernels with run-time instruction-set dispatch.
 *
 * Invariants:
 *  1. Every table computes exactly the same results; tests run each table the
 *     CPU supports against the scalar one.
 *  2. Code for an instruction set runs only after the CPU reported it
 *     (__builtin_cpu_supports); the library itself is built for baseline x86-64.
 *  3. Kernels read only a[0..n) and b[0..n) (AVX-512 tails use masked loads,
 *     AVX2 tails fall back to scalar code), so n need not be a multiple of a
 *     vector.
 */
#include "kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/dclock.h>
#include <causeway/error.h>

/* Crossovers (kernels.h): the smallest n at which each table's max_u64 and
 * order_u64 beat the inline loops, measured on a Xeon with AVX-512 (n = 1 to
 * 256, 2^18-counter pools and L1-resident ones, medians of 9 interleaved
 * rounds). The vector kernels need 4 counters for one AVX2 vector; from 4 on
 * they win (max: 3.4 ns against 5.6 at n = 4 in L1, 10.7 against 15.3 at
 * n = 16 from L2; order alike), below 4 the loop wins by 1-3 ns. The scalar
 * table's kernels are the inline loops plus a call (and, for order, an early
 * exit every 64 counters), so max never calls out and order does from 64. */
#define MAX_MIN_SCALAR SIZE_MAX
#define ORDER_MIN_SCALAR 64
#define MAX_MIN_AVX2 4
#define ORDER_MIN_AVX2 4
#define MAX_MIN_AVX512 4
#define ORDER_MIN_AVX512 4

/* ---- portable C ---- */

static void max_scalar(uint64_t *restrict dst, const uint64_t *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = dst[i] < src[i] ? src[i] : dst[i];
}

static unsigned order_scalar(const uint64_t *a, const uint64_t *b, size_t n)
{
    unsigned lt = 0, gt = 0;
    for (size_t i = 0; i < n;) {
        size_t end = n - i > 64 ? i + 64 : n;   /* check for early exit per 64 */
        for (; i < end; i++) {
            lt |= a[i] < b[i];
            gt |= a[i] > b[i];
        }
        if (lt & gt)
            break;
    }
    return lt | gt << 1;
}

static size_t first_gt_scalar(const uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] > b[i])
            return i;
    return n;
}

static const cw__kernel_table kernels_scalar = {max_scalar, order_scalar, first_gt_scalar, MAX_MIN_SCALAR, ORDER_MIN_SCALAR};

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CW_HAVE_X86_KERNELS 1

/* ---- AVX2: 4 counters a vector. AVX2 has only signed 64-bit compares, so
 * both sides are biased by 2^63 first (x ^ sign bit), which maps unsigned
 * order onto signed order. ---- */

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256i gt_u64_avx2(__m256i a, __m256i b)
{
    const __m256i bias = _mm256_set1_epi64x(INT64_MIN);
    return _mm256_cmpgt_epi64(_mm256_xor_si256(a, bias), _mm256_xor_si256(b, bias));
}

/* Unaligned: loadu and storeu take any address, so the cast goes through
 * void * (clang's -Wcast-align flags a direct one from uint64_t *). */
#define LOAD4(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define STORE4(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))

AVX2 static inline __m256i max_u64_avx2(__m256i d, __m256i s)
{
    return _mm256_blendv_epi8(d, s, gt_u64_avx2(s, d));
}

/* Small and odd n without masks or a scalar tail: vectors may overlap (at 0
 * and n - 4, say), because max and order give the same answer for a counter
 * seen twice. Every vector is loaded before any is stored, so no load waits
 * on a store it overlaps (a store-forwarding stall: ~12 cycles, more than a
 * 16-counter merge costs). Measured beside the scalar loop: max at n = 4-16
 * takes 2.5-4.5 ns where the loop took 3.9-15 ns. */
AVX2 static void max_avx2(uint64_t *restrict dst, const uint64_t *restrict src, size_t n)
{
    if (n < 4) {
        max_scalar(dst, src, n);
    } else if (n <= 8) {
        __m256i d0 = max_u64_avx2(LOAD4(dst), LOAD4(src));
        __m256i d1 = max_u64_avx2(LOAD4(dst + n - 4), LOAD4(src + n - 4));
        STORE4(dst, d0);
        STORE4(dst + n - 4, d1);
    } else if (n <= 16) { /* [0, 8) and [n - 8, n) */
        __m256i d0 = max_u64_avx2(LOAD4(dst), LOAD4(src));
        __m256i d1 = max_u64_avx2(LOAD4(dst + 4), LOAD4(src + 4));
        __m256i d2 = max_u64_avx2(LOAD4(dst + n - 8), LOAD4(src + n - 8));
        __m256i d3 = max_u64_avx2(LOAD4(dst + n - 4), LOAD4(src + n - 4));
        STORE4(dst, d0);
        STORE4(dst + 4, d1);
        STORE4(dst + n - 8, d2);
        STORE4(dst + n - 4, d3);
    } else { /* the last 8, computed before the loop stores over them */
        __m256i t0 = max_u64_avx2(LOAD4(dst + n - 8), LOAD4(src + n - 8));
        __m256i t1 = max_u64_avx2(LOAD4(dst + n - 4), LOAD4(src + n - 4));
        for (size_t i = 0; i + 8 <= n; i += 8) { /* unchanged lines unstored, as in max_avx512 */
            __m256i x0 = LOAD4(dst + i), y0 = LOAD4(src + i), x1 = LOAD4(dst + i + 4), y1 = LOAD4(src + i + 4);
            __m256i g0 = gt_u64_avx2(y0, x0), g1 = gt_u64_avx2(y1, x1), g = _mm256_or_si256(g0, g1);
            if (_mm256_testz_si256(g, g))
                continue;
            STORE4(dst + i, _mm256_blendv_epi8(x0, y0, g0));
            STORE4(dst + i + 4, _mm256_blendv_epi8(x1, y1, g1));
        }
        STORE4(dst + n - 8, t0);
        STORE4(dst + n - 4, t1);
    }
}

AVX2 static unsigned order_avx2(const uint64_t *a, const uint64_t *b, size_t n)
{
    if (n < 4)
        return order_scalar(a, b, n);
    __m256i lt = _mm256_setzero_si256(), gt = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (size_t k = 0; k < 16; k += 4) {
            __m256i x = LOAD4(a + i + k), y = LOAD4(b + i + k);
            lt = _mm256_or_si256(lt, gt_u64_avx2(y, x));
            gt = _mm256_or_si256(gt, gt_u64_avx2(x, y));
        }
        if (!_mm256_testz_si256(lt, lt) && !_mm256_testz_si256(gt, gt))
            return CW_CONCURRENT;
    }
    /* Fewer than 16 left: whole vectors, then one ending at n (overlapping). */
    for (; i + 4 <= n; i += 4) {
        __m256i x = LOAD4(a + i), y = LOAD4(b + i);
        lt = _mm256_or_si256(lt, gt_u64_avx2(y, x));
        gt = _mm256_or_si256(gt, gt_u64_avx2(x, y));
    }
    if (i < n) {
        __m256i x = LOAD4(a + n - 4), y = LOAD4(b + n - 4);
        lt = _mm256_or_si256(lt, gt_u64_avx2(y, x));
        gt = _mm256_or_si256(gt, gt_u64_avx2(x, y));
    }
    return (unsigned)!_mm256_testz_si256(lt, lt) | (unsigned)!_mm256_testz_si256(gt, gt) << 1;
}

AVX2 static size_t first_gt_avx2(const uint64_t *a, const uint64_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i x = LOAD4(a + i);
        __m256i y = LOAD4(b + i);
        int m = _mm256_movemask_pd(_mm256_castsi256_pd(gt_u64_avx2(x, y)));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
    }
    return i + first_gt_scalar(a + i, b + i, n - i);
}

static const cw__kernel_table kernels_avx2 = {max_avx2, order_avx2, first_gt_avx2, MAX_MIN_AVX2, ORDER_MIN_AVX2};

/* ---- AVX-512F: 8 counters a vector, native unsigned 64-bit max and compare,
 * masked loads for the tail. ---- */

#define AVX512 __attribute__((target("avx512f")))

/* Below this many counters the AVX-512 kernels hand over to the AVX2 ones
 * (every AVX-512 CPU has AVX2, and cw_isa_supported checks both): masked
 * heads and tails cost more than 512-bit lanes save, and a masked store
 * delays a later load of the same line (no store forwarding). Measured with
 * clocks in L1: at n = 32 max takes 4.6 ns against AVX2's 16.1, order 5.6
 * against 9.9; at n = 16 the two tie. From L2 they tie at every n. */
#define AVX512_MIN_N 32

/* Lanes [0, k) of a vector, k < 8. */
#define HEAD_MASK(k) ((__mmask8)((1u << (k)) - 1))

AVX512 static void max_avx512(uint64_t *restrict dst, const uint64_t *restrict src, size_t n)
{
    if (n < AVX512_MIN_N) {
        max_avx2(dst, src, n);
        return;
    }
    /* A masked head brings dst to a 64-byte boundary, so no store in the main
     * loop splits a cache line (a split costs a second access). */
    size_t i = (size_t)(-(uintptr_t)dst / 8 & 7);
    if (i > n)
        i = n;
    if (i) {
        __m512i d = _mm512_maskz_loadu_epi64(HEAD_MASK(i), dst), s = _mm512_maskz_loadu_epi64(HEAD_MASK(i), src);
        _mm512_mask_storeu_epi64(dst, HEAD_MASK(i), _mm512_max_epu64(d, s));
    }
    /* 32 counters (four cache lines) in which src beats dst nowhere are not
     * stored: a merge usually advances a few counters of a clock, and lines
     * left clean need no write-back (at n >= 1024 merge is bound by the
     * cache's bandwidth, where this is the difference from a plain loop). */
    for (; i + 32 <= n; i += 32) {
        __m512i d0 = _mm512_loadu_si512(dst + i), s0 = _mm512_loadu_si512(src + i);
        __m512i d1 = _mm512_loadu_si512(dst + i + 8), s1 = _mm512_loadu_si512(src + i + 8);
        __m512i d2 = _mm512_loadu_si512(dst + i + 16), s2 = _mm512_loadu_si512(src + i + 16);
        __m512i d3 = _mm512_loadu_si512(dst + i + 24), s3 = _mm512_loadu_si512(src + i + 24);
        unsigned changed = (unsigned)_mm512_cmpgt_epu64_mask(s0, d0) | (unsigned)_mm512_cmpgt_epu64_mask(s1, d1) |
                           (unsigned)_mm512_cmpgt_epu64_mask(s2, d2) | (unsigned)_mm512_cmpgt_epu64_mask(s3, d3);
        if (!changed)
            continue;
        _mm512_storeu_si512(dst + i, _mm512_max_epu64(d0, s0));
        _mm512_storeu_si512(dst + i + 8, _mm512_max_epu64(d1, s1));
        _mm512_storeu_si512(dst + i + 16, _mm512_max_epu64(d2, s2));
        _mm512_storeu_si512(dst + i + 24, _mm512_max_epu64(d3, s3));
    }
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : HEAD_MASK(n - i);
        __m512i d = _mm512_maskz_loadu_epi64(m, dst + i), s = _mm512_maskz_loadu_epi64(m, src + i);
        _mm512_mask_storeu_epi64(dst + i, m, _mm512_max_epu64(d, s));
    }
}

/* Keeps a loaded vector in a register: without it GCC folds the same load
 * again into each instruction that uses the value, doubling load traffic. */
#define IN_REGISTER(v) __asm__("" : "+v"(v))

/* acc | (x ^ y) in one instruction. Truth table index = acc<<2 | x<<1 | y:
 * 0xF0 where acc is set, plus 0x06 where exactly one of x, y is. */
#define OR_XOR(acc, x, y) _mm512_ternarylogic_epi64((acc), (x), (y), 0xF6)

/* Order without moving masks through general registers: with m = max(x, y),
 * m ^ x is non-zero exactly in lanes where y > x, and m ^ y where x > y.
 * Both are OR-accumulated in vectors and tested once per 32 counters. */
AVX512 static unsigned order_avx512(const uint64_t *a, const uint64_t *b, size_t n)
{
    if (n < AVX512_MIN_N)
        return order_avx2(a, b, n);
    __m512i lt = _mm512_setzero_si512(), gt = _mm512_setzero_si512();
    size_t i = (size_t)(-(uintptr_t)a / 8 & 7); /* align a's loads, as in max_avx512 */
    if (i > n)
        i = n;
    if (i) {
        __m512i x = _mm512_maskz_loadu_epi64(HEAD_MASK(i), a), y = _mm512_maskz_loadu_epi64(HEAD_MASK(i), b);
        __m512i m = _mm512_max_epu64(x, y);
        lt = OR_XOR(lt, m, x);
        gt = OR_XOR(gt, m, y);
    }
    /* Four accumulators a direction: one would chain every ternlog of the
     * clock into a single dependency (measured 1.5x slower in L1). */
    __m512i lt1 = lt, lt2 = lt, lt3 = lt, gt1 = gt, gt2 = gt, gt3 = gt;
    for (; i + 32 <= n; i += 32) {
        __m512i x0 = _mm512_loadu_si512(a + i), y0 = _mm512_loadu_si512(b + i);
        __m512i x1 = _mm512_loadu_si512(a + i + 8), y1 = _mm512_loadu_si512(b + i + 8);
        __m512i x2 = _mm512_loadu_si512(a + i + 16), y2 = _mm512_loadu_si512(b + i + 16);
        __m512i x3 = _mm512_loadu_si512(a + i + 24), y3 = _mm512_loadu_si512(b + i + 24);
        IN_REGISTER(x0); IN_REGISTER(y0); IN_REGISTER(x1); IN_REGISTER(y1);
        IN_REGISTER(x2); IN_REGISTER(y2); IN_REGISTER(x3); IN_REGISTER(y3);
        __m512i m0 = _mm512_max_epu64(x0, y0), m1 = _mm512_max_epu64(x1, y1);
        __m512i m2 = _mm512_max_epu64(x2, y2), m3 = _mm512_max_epu64(x3, y3);
        lt = OR_XOR(lt, m0, x0), gt = OR_XOR(gt, m0, y0);
        lt1 = OR_XOR(lt1, m1, x1), gt1 = OR_XOR(gt1, m1, y1);
        lt2 = OR_XOR(lt2, m2, x2), gt2 = OR_XOR(gt2, m2, y2);
        lt3 = OR_XOR(lt3, m3, x3), gt3 = OR_XOR(gt3, m3, y3);
        __m512i l = _mm512_or_si512(_mm512_ternarylogic_epi64(lt, lt1, lt2, 0xFE), lt3);
        __m512i g = _mm512_or_si512(_mm512_ternarylogic_epi64(gt, gt1, gt2, 0xFE), gt3);
        if (_mm512_test_epi64_mask(l, l) && _mm512_test_epi64_mask(g, g))
            return CW_CONCURRENT;
    }
    lt = _mm512_or_si512(_mm512_ternarylogic_epi64(lt, lt1, lt2, 0xFE), lt3); /* 0xFE: a | b | c */
    gt = _mm512_or_si512(_mm512_ternarylogic_epi64(gt, gt1, gt2, 0xFE), gt3);
    for (; i < n; i += 8) {
        __mmask8 mask = n - i >= 8 ? 0xff : HEAD_MASK(n - i);
        __m512i x = _mm512_maskz_loadu_epi64(mask, a + i), y = _mm512_maskz_loadu_epi64(mask, b + i);
        __m512i m = _mm512_max_epu64(x, y);
        lt = OR_XOR(lt, m, x);
        gt = OR_XOR(gt, m, y);
    }
    return (unsigned)(_mm512_test_epi64_mask(lt, lt) != 0) | (unsigned)(_mm512_test_epi64_mask(gt, gt) != 0) << 1;
}

AVX512 static size_t first_gt_avx512(const uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : HEAD_MASK(n - i);
        __m512i x = _mm512_maskz_loadu_epi64(m, a + i), y = _mm512_maskz_loadu_epi64(m, b + i);
        __mmask8 g = _mm512_cmpgt_epu64_mask(x, y);
        if (g)
            return i + (size_t)__builtin_ctz(g);
    }
    return n;
}

static const cw__kernel_table kernels_avx512 = {max_avx512, order_avx512, first_gt_avx512, MAX_MIN_AVX512, ORDER_MIN_AVX512};
#endif /* x86-64 */

/* ---- dispatch ---- */

static const cw__kernel_table *table_for(cw_isa isa)
{
#ifdef CW_HAVE_X86_KERNELS
    if (isa == CW_ISA_AVX512)
        return &kernels_avx512;
    if (isa == CW_ISA_AVX2)
        return &kernels_avx2;
#endif
    (void)isa;
    return &kernels_scalar;
}

static _Atomic int active_isa = -1;
static const cw__kernel_table kernels_resolve;
_Atomic(const cw__kernel_table *) cw__active_kernels = &kernels_resolve;

bool cw_isa_supported(cw_isa isa)
{
    switch (isa) {
    case CW_ISA_SCALAR:
        return true;
#ifdef CW_HAVE_X86_KERNELS
    case CW_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    case CW_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2");
#endif
    default:
        return false;
    }
}

static cw_isa best_isa(void)
{
    cw_isa cap = CW_ISA_AVX512;
    const char *env = getenv("CAUSEWAY_ISA");
    if (env) {
        if (strcmp(env, "scalar") == 0)
            cap = CW_ISA_SCALAR;
        else if (strcmp(env, "avx2") == 0)
            cap = CW_ISA_AVX2;
    }
    for (int isa = (int)cap; isa > CW_ISA_SCALAR; isa--)
        if (cw_isa_supported((cw_isa)isa))
            return (cw_isa)isa;
    return CW_ISA_SCALAR;
}

/* First use: every racing thread computes the same choice and stores it. */
static const cw__kernel_table *resolve(void)
{
    const cw__kernel_table *k = atomic_load_explicit(&cw__active_kernels, memory_order_relaxed);
    if (k != &kernels_resolve)
        return k;
    cw_isa isa = best_isa();
    atomic_store_explicit(&active_isa, (int)isa, memory_order_relaxed);
    k = table_for(isa);
    atomic_store_explicit(&cw__active_kernels, k, memory_order_relaxed);
    return k;
}

static void max_resolve(uint64_t *dst, const uint64_t *src, size_t n) { resolve()->max_u64(dst, src, n); }
static unsigned order_resolve(const uint64_t *a, const uint64_t *b, size_t n) { return resolve()->order_u64(a, b, n); }
static size_t first_gt_resolve(const uint64_t *a, const uint64_t *b, size_t n) { return resolve()->first_gt_u64(a, b, n); }
/* Crossovers of 0: the first call always reaches resolve(). */
static const cw__kernel_table kernels_resolve = {max_resolve, order_resolve, first_gt_resolve, 0, 0};

cw_isa cw_isa_active(void)
{
    (void)resolve();
    return (cw_isa)atomic_load_explicit(&active_isa, memory_order_relaxed);
}

const char *cw_isa_name(cw_isa isa)
{
    switch (isa) {
    case CW_ISA_SCALAR: return "scalar";
    case CW_ISA_AVX2:   return "avx2";
    case CW_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

int cw_isa_select(cw_isa isa)
{
    if (!cw_isa_supported(isa))
        return CW_EINVAL;
    atomic_store_explicit(&active_isa, (int)isa, memory_order_relaxed);
    atomic_store_explicit(&cw__active_kernels, table_for(isa), memory_order_relaxed);
    return CW_OK;
}
