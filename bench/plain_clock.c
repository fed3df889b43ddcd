/* The plain baseline (see plain_clock.h): written as a careful C programmer
 * would, without Causeway's tricks. Where the obvious form has a known
 * pitfall that costs more than it saves, the baseline avoids it, so the
 * library is compared with a fair opponent rather than a weak one (the dense
 * loops are in plain_clock.h, inline in the caller):
 *  - dense merge stores unconditionally (`dst = max`), which compiles to a
 *    conditional move; `if (src > dst) dst = src` mispredicts on random data.
 *  - compare accumulates both order bits without branching and stops once
 *    both are set, as the library's contract allows.
 * The sparse walk branches on how ids interleave, as the textbook merge does. */
#include "plain_clock.h"

size_t plain_sparse_merge(const uint16_t *aid, const uint64_t *ac, size_t na, const uint16_t *bid,
                          const uint64_t *bc, size_t nb, uint16_t *oid, uint64_t *oc)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (aid[i] < bid[j]) {
            oid[k] = aid[i];
            oc[k++] = ac[i++];
        } else if (bid[j] < aid[i]) {
            oid[k] = bid[j];
            oc[k++] = bc[j++];
        } else {
            oid[k] = aid[i];
            oc[k++] = ac[i] > bc[j] ? ac[i] : bc[j];
            i++;
            j++;
        }
    }
    for (; i < na; i++, k++) {
        oid[k] = aid[i];
        oc[k] = ac[i];
    }
    for (; j < nb; j++, k++) {
        oid[k] = bid[j];
        oc[k] = bc[j];
    }
    return k;
}

unsigned plain_sparse_compare(const uint16_t *aid, const uint64_t *ac, size_t na, const uint16_t *bid,
                              const uint64_t *bc, size_t nb)
{
    unsigned lt = 0, gt = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        if (aid[i] < bid[j]) {
            gt = 1; /* counters are never 0: a's entry beats b's implicit 0 */
            i++;
        } else if (bid[j] < aid[i]) {
            lt = 1;
            j++;
        } else {
            lt |= ac[i] < bc[j];
            gt |= ac[i] > bc[j];
            i++;
            j++;
        }
        if (lt & gt)
            return 3;
    }
    gt |= i < na;
    lt |= j < nb;
    return lt | gt << 1;
}
