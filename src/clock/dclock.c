/* Dense vector clock: n counters indexed by node id, for a known membership.
 *
 * Invariants:
 *  1. counters has n entries, 1 <= n <= 65,536 (after a successful init).
 *  2. Merge, compare and the delivery check run through the active kernel
 *     table (kernels.c), so every instruction-set path gives the same answer;
 *     merge and compare take inline scalar loops below the table's measured
 *     crossover (kernels.h), where a call and vector set-up cost more.
 *  3. cw_dclock_merge and cw_dclock_compare are defined in the public header,
 *     inline in the caller for small clocks; this file emits their
 *     out-of-line definitions (CW__DCLOCK_DEFINE) and the general paths
 *     they call for everything else.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define CW__DCLOCK_DEFINE /* the out-of-line cw_dclock_merge and cw_dclock_compare */
#include <causeway/dclock.h>
#include <causeway/error.h>

#include "kernels.h"
#include "vclock_internal.h"

int cw_dclock_init(cw_dclock *c, uint32_t n)
{
    if (!c || n == 0 || n > CW_VCLOCK_MAX_ENTRIES)
        return CW_EINVAL;
    /* 64-byte aligned, a whole number of cache lines: vector loads and
     * stores never split a line. */
    size_t bytes = ((size_t)n * sizeof(uint64_t) + 63) & ~(size_t)63;
    uint64_t *counters = aligned_alloc(64, bytes);
    if (!counters)
        return CW_ENOMEM;
    memset(counters, 0, bytes);
    c->counters = counters;
    c->n = n;
    return CW_OK;
}

void cw_dclock_destroy(cw_dclock *c)
{
    if (!c)
        return;
    free(c->counters);
    c->counters = NULL;
    c->n = 0;
}

int cw_dclock_copy(cw_dclock *dst, const cw_dclock *src)
{
    if (!dst || !src || dst->n != src->n)
        return CW_EINVAL;
    if (dst != src)
        memcpy(dst->counters, src->counters, (size_t)src->n * sizeof *src->counters);
    return CW_OK;
}

void cw_dclock_clear(cw_dclock *c)
{
    if (c && c->n)
        memset(c->counters, 0, (size_t)c->n * sizeof *c->counters);
}

int cw__dclock_merge_general(cw_dclock *dst, const cw_dclock *src)
{
    if (!dst || !src || src->n > dst->n)
        return CW_EINVAL;
    cw__max_u64(dst->counters, src->counters, src->n);
    return CW_OK;
}

/* Order bits for a tail present on one side only: any non-zero counter there
 * is greater than the other side's implicit zero. */
static unsigned tail_order(const uint64_t *c, size_t n, unsigned bit)
{
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return bit;
    return 0;
}

/* Clocks of different n: the common prefix, then the longer one's tail.
 * Out of line, so the common equal-n call saves no registers. */
__attribute__((noinline)) static cw_order compare_unequal(const cw_dclock *a, const cw_dclock *b)
{
    size_t common = a->n < b->n ? a->n : b->n;
    unsigned o = cw__order_u64(a->counters, b->counters, common);
    if (o != CW_CONCURRENT) {
        if (a->n > b->n)
            o |= tail_order(a->counters + common, a->n - common, CW_AFTER);
        else
            o |= tail_order(b->counters + common, b->n - common, CW_BEFORE);
    }
    return (cw_order)o;
}

cw_order cw__dclock_compare_general(const cw_dclock *a, const cw_dclock *b)
{
    assert(a && b);
    if (a->n != b->n)
        return compare_unequal(a, b);
    return (cw_order)cw__order_u64(a->counters, b->counters, a->n);
}

cw_delivery cw_dclock_deliverable(const cw_dclock *local, const cw_dclock *msg,
                                  cw_node_id sender, cw_dependency *wait_for)
{
    if (!local || !msg || local->n != msg->n || sender >= local->n)
        return CW_DELIVER_INVALID;
    const uint64_t *m = msg->counters, *l = local->counters;
    if (m[sender] <= l[sender])
        return CW_DELIVER_DUPLICATE;
    if (m[sender] != l[sender] + 1) { /* earlier writes from the sender are missing */
        if (wait_for)
            *wait_for = (cw_dependency){sender, m[sender] - 1};
        return CW_DELIVER_WAIT;
    }
    /* Everything the sender had seen must be here: m[k] <= l[k] for k != sender.
     * Search around the sender's entry, which is known to be ahead by one. */
    const cw__kernel_table *k = cw__kernels();
    size_t n = msg->n, s = sender;
    size_t at = k->first_gt_u64(m, l, s);
    if (at == s) {
        at = s + 1 + k->first_gt_u64(m + s + 1, l + s + 1, n - s - 1);
        if (at == n)
            return CW_DELIVER_READY;
    }
    if (wait_for)
        *wait_for = (cw_dependency){(cw_node_id)at, m[at]};
    return CW_DELIVER_WAIT;
}

int cw_dclock_to_sparse(const cw_dclock *d, cw_vclock *out)
{
    /* A view may be wider than any clock: its ids past 65,535 have no
     * sparse form (they would wrap onto the low ids). */
    if (!d || !out || d->n > CW_VCLOCK_MAX_ENTRIES)
        return CW_EINVAL;
    return cw__vclock_assign_dense(out, d->counters, d->n);
}

int cw_dclock_from_sparse(cw_dclock *d, const cw_vclock *s)
{
    if (!d || !s || (s->size && s->ids[s->size - 1] >= d->n))
        return CW_EINVAL;
    cw_dclock_clear(d);
    for (uint32_t i = 0; i < s->size; i++)
        d->counters[s->ids[i]] = s->counters[i];
    return CW_OK;
}
