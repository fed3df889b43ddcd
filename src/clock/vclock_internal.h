/* Private helpers shared by the sparse clock's modules. */
#ifndef CW_VCLOCK_INTERNAL_H
#define CW_VCLOCK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <causeway/vclock.h>

/* One (id, counter) entry outside a clock, for inputs in arbitrary order. */
typedef struct cw__entry {
    uint64_t counter;
    cw_node_id id;
} cw__entry;

/* Grows c's capacity to at least need entries; keep says whether its current
 * entries must survive (if not, they are undefined after a grow).
 * CW_ENOMEM / CW_ELIMIT leave c unchanged. */
int cw__vclock_reserve(cw_vclock *c, size_t need, bool keep);

/* Replaces c's contents with entries[0..n), already canonical. CW_ENOMEM
 * leaves c unchanged. */
int cw__vclock_assign_canonical(cw_vclock *c, const cw__entry *entries, size_t n);

/* Replaces c's contents with entries[0..n) in canonical form: sorted by id,
 * duplicates keep the larger counter, zeros dropped. Sorts `entries` in place.
 * CW_ENOMEM leaves c unchanged. */
int cw__vclock_assign_entries(cw_vclock *c, cw__entry *entries, size_t n);

/* Non-zero counters among counters[0..n): the entries of that dense clock. */
size_t cw__dense_entries(const uint64_t *counters, uint32_t n);

/* Replaces c's contents with the dense clock counters[0..n) (counter i is
 * node i's; zeros omitted). The one dense-to-sparse conversion, for
 * cw_dclock and for messages. CW_ENOMEM / CW_ELIMIT leave c unchanged. */
int cw__vclock_assign_dense(cw_vclock *c, const uint64_t *counters, uint32_t n);

/* True when c is canonical: ids strictly ascending, no zero counter,
 * size <= cap, size <= 65,536. For assert(). */
bool cw__vclock_is_canonical(const cw_vclock *c);

#endif
