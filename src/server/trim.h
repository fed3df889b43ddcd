/* Memory the C library keeps after a burst of large allocations, given back
 * to the system at a quiet moment (see trim.c). */
#ifndef CW_TRIM_H
#define CW_TRIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Bytes freed after which a quiet moment gives memory back: 64 MiB. */
#define CW__TRIM_AFTER (UINT64_C(64) << 20)

typedef struct cw__trim {
    _Atomic uint64_t freed; /* bytes of large allocations freed since the last trim (estimated) */
    _Atomic uint64_t trims; /* trims made */
} cw__trim;

/* Counts `bytes` of large allocations let go. Any thread. */
void cw__trim_freed(cw__trim *t, uint64_t bytes);
/* When quiet (the caller holds nothing large in flight) and at least
 * CW__TRIM_AFTER bytes were freed since the last trim, gives the C library's
 * free memory back to the system: one caller of those that find it due does
 * it, the others return at once. True when this call trimmed. Any thread. */
bool cw__trim_if_due(cw__trim *t, bool quiet);
/* Trims made so far. */
uint64_t cw__trim_count(const cw__trim *t);

#endif
