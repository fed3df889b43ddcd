/* Log-linear histogram (see histogram.h). Values below 16 have a bucket each;
 * above, bucket = (exponent - 3) * 16 + the 4 bits after the leading one. */
#include "histogram.h"

static unsigned bucket_of(uint64_t v)
{
    if (v < (1u << CW__HIST_SUB_BITS))
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (e - CW__HIST_SUB_BITS)) & ((1u << CW__HIST_SUB_BITS) - 1);
    return ((e - CW__HIST_SUB_BITS + 1) << CW__HIST_SUB_BITS) + sub;
}

static uint64_t bucket_low(unsigned b)
{
    if (b < (1u << CW__HIST_SUB_BITS))
        return b;
    unsigned e = (b >> CW__HIST_SUB_BITS) + CW__HIST_SUB_BITS - 1;
    uint64_t sub = b & ((1u << CW__HIST_SUB_BITS) - 1);
    return (UINT64_C(1) << e) | sub << (e - CW__HIST_SUB_BITS);
}

void cw__hist_add(cw__histogram *h, uint64_t v)
{
    h->buckets[bucket_of(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

void cw__hist_merge(cw__histogram *dst, const cw__histogram *src)
{
    for (unsigned i = 0; i < CW__HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t cw__hist_quantile(const cw__histogram *h, double q)
{
    if (!h->count)
        return 0;
    /* Nearest rank: the smallest value with at least q of the samples at or below it. */
    double exact = q * (double)h->count;
    uint64_t rank = (uint64_t)exact + ((double)(uint64_t)exact < exact), seen = 0;
    if (rank == 0)
        rank = 1;
    for (unsigned b = 0; b < CW__HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t lo = bucket_low(b);
            uint64_t hi = b + 1 < CW__HIST_BUCKETS ? bucket_low(b + 1) : h->max;
            uint64_t mid = lo + (hi - lo) / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

void cw__hist_latency(const cw__histogram *h, cw_latency *out)
{
    out->count = h->count;
    out->p50_ns = cw__hist_quantile(h, 0.50);
    out->p99_ns = cw__hist_quantile(h, 0.99);
    out->p999_ns = cw__hist_quantile(h, 0.999);
    out->max_ns = h->max;
}

void cw__hist_add_atomic(cw__histogram *h, uint64_t v)
{
    __atomic_fetch_add(&h->buckets[bucket_of(v)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
    uint64_t max = __atomic_load_n(&h->max, __ATOMIC_RELAXED);
    while (v > max && !__atomic_compare_exchange_n(&h->max, &max, v, true, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED)) {
    }
}

void cw__hist_snapshot(const cw__histogram *h, cw__histogram *out)
{
    for (unsigned i = 0; i < CW__HIST_BUCKETS; i++)
        out->buckets[i] = __atomic_load_n(&h->buckets[i], __ATOMIC_RELAXED);
    out->count = __atomic_load_n(&h->count, __ATOMIC_RELAXED);
    out->max = __atomic_load_n(&h->max, __ATOMIC_RELAXED);
}
