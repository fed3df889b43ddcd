/* Log-linear latency histogram: 16 sub-buckets per power of two, so a
 * percentile is within ~6% of the true value; fixed size, no allocation. */
#ifndef CW_HISTOGRAM_H
#define CW_HISTOGRAM_H

#include <stdint.h>
#include <causeway/node.h>

#define CW__HIST_SUB_BITS 4
#define CW__HIST_BUCKETS ((64 - CW__HIST_SUB_BITS + 1) << CW__HIST_SUB_BITS)

typedef struct cw__histogram {
    uint64_t count, max;
    uint64_t buckets[CW__HIST_BUCKETS];
} cw__histogram;

void cw__hist_add(cw__histogram *h, uint64_t v);
/* dst += src */
void cw__hist_merge(cw__histogram *dst, const cw__histogram *src);
/* The value at quantile q (0..1): the midpoint of its bucket. */
uint64_t cw__hist_quantile(const cw__histogram *h, double q);
void cw__hist_latency(const cw__histogram *h, cw_latency *out);

/* For a histogram that several threads add to at once: atomic (relaxed) adds,
 * and a snapshot read with atomic loads. The counts are statistics: no other
 * data is published through them. */
void cw__hist_add_atomic(cw__histogram *h, uint64_t v);
void cw__hist_snapshot(const cw__histogram *h, cw__histogram *out);

#endif
