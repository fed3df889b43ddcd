/* Memory given back after a burst (see trim.h).
 *
 * glibc's malloc keeps what a thread frees in that thread's heap (its
 * arena), for the thread's next allocations, and gives a heap's pages back
 * only from its top. The node's HTTP threads each parse large JSON in their
 * own arena (Jansson takes up to ~86 bytes a unit: ~80 MB for a 1 MiB value
 * of [{},{},...]), so after a burst of such reads every arena keeps its own
 * high-water mark, scattered among what it still holds: 32 readers of one
 * such value left a node at 1.09 GB resident, idle, where it had served
 * from 91 MB, and malloc_trim(0) took it to 35 MB.
 *
 * malloc_trim walks every arena's free chunks and gives back their whole
 * pages (madvise), each arena under its lock: about 0.5 ms a MB freed on
 * this project's machine (406 ms for ~800 MB of small chunks freed by 32
 * threads). So it runs only once CW__TRIM_AFTER bytes were freed since the
 * last, and only at a quiet moment (the caller's: for the HTTP API, no body,
 * parse or large answer held), so that a burst pays it once, at its end, and
 * its cost stays a fraction of the work that allocated what it gives back.
 * A steady load of heavy requests is never quiet: it keeps its memory, which
 * the bounds on what is held at once limit anyway.
 */
#include <malloc.h>

#include "trim.h"

void cw__trim_freed(cw__trim *t, uint64_t bytes)
{
    /* Relaxed: a count, which orders nothing. */
    atomic_fetch_add_explicit(&t->freed, bytes, memory_order_relaxed);
}

bool cw__trim_if_due(cw__trim *t, bool quiet)
{
    /* Relaxed: a count; the compare-exchange picks the one caller that
     * trims, and orders nothing else. */
#ifndef __GLIBC__
    (void)t;
    (void)quiet;
    return false; /* no malloc_trim */
#else
    uint64_t freed = atomic_load_explicit(&t->freed, memory_order_relaxed);
    if (!quiet)
        return false;
    while (freed >= CW__TRIM_AFTER &&
           !atomic_compare_exchange_weak_explicit(&t->freed, &freed, 0, memory_order_relaxed, memory_order_relaxed))
        ;
    if (freed < CW__TRIM_AFTER)
        return false;
    malloc_trim(0);
    atomic_fetch_add_explicit(&t->trims, 1, memory_order_relaxed); /* a count */
    return true;
#endif
}

uint64_t cw__trim_count(const cw__trim *t)
{
    return atomic_load_explicit(&t->trims, memory_order_relaxed); /* a count */
}
