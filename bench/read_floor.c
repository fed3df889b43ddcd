/* The read floor for dense clock operations: merge and compare must load both
 * clocks (16n bytes), whatever they compute. Timing these loads alone, beside
 * memcpy of 8n bytes in the same run, separates what the kernels cost from
 * what the memory system charges for reading two clocks. The loop has the
 * shape of the library's AVX-512 kernels (four independent accumulators, 32
 * counters an iteration, a masked tail) minus their arithmetic. */
#include "read_floor.h"

#include <causeway/dclock.h>

static uint64_t read_both_scalar(const uint64_t *a, const uint64_t *b, size_t n)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= a[i] | b[i];
    return acc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static uint64_t read_both_avx512(const uint64_t *a, const uint64_t *b,
                                                                    size_t n)
{
    __m512i x0 = _mm512_setzero_si512(), x1 = x0, x2 = x0, x3 = x0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        x0 = _mm512_ternarylogic_epi64(x0, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i), 0xFE);
        x1 = _mm512_ternarylogic_epi64(x1, _mm512_loadu_si512(a + i + 8), _mm512_loadu_si512(b + i + 8), 0xFE);
        x2 = _mm512_ternarylogic_epi64(x2, _mm512_loadu_si512(a + i + 16), _mm512_loadu_si512(b + i + 16), 0xFE);
        x3 = _mm512_ternarylogic_epi64(x3, _mm512_loadu_si512(a + i + 24), _mm512_loadu_si512(b + i + 24), 0xFE);
    }
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        x0 = _mm512_ternarylogic_epi64(x0, _mm512_maskz_loadu_epi64(m, a + i), _mm512_maskz_loadu_epi64(m, b + i),
                                       0xFE);
    }
    return (uint64_t)_mm512_reduce_or_epi64(_mm512_or_si512(_mm512_or_si512(x0, x1), _mm512_or_si512(x2, x3)));
}

__attribute__((target("avx2"))) static uint64_t read_both_avx2(const uint64_t *a, const uint64_t *b, size_t n)
{
    __m256i x0 = _mm256_setzero_si256(), x1 = x0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x0 = _mm256_or_si256(x0, _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                                 _mm256_loadu_si256((const __m256i *)(b + i))));
        x1 = _mm256_or_si256(x1, _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(a + i + 4)),
                                                 _mm256_loadu_si256((const __m256i *)(b + i + 4))));
    }
    __m256i x = _mm256_or_si256(x0, x1);
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, x);
    return lanes[0] | lanes[1] | lanes[2] | lanes[3] | read_both_scalar(a + i, b + i, n - i);
}
#endif

uint64_t cwb_read_both(const uint64_t *a, const uint64_t *b, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    switch (cw_isa_active()) {
    case CW_ISA_AVX512:
        return read_both_avx512(a, b, n);
    case CW_ISA_AVX2:
        return read_both_avx2(a, b, n);
    default:
        break;
    }
#endif
    return read_both_scalar(a, b, n);
}
