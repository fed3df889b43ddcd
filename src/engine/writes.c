/* The engine's per-write records (see writes.h).
 *
 * Invariants:
 *  1. Record i holds seq i + 1 (sequence numbers start at 1), so every
 *     record of a chunk belongs to a write and a chunk can finish. The
 *     newest directory holds every chunk ever allocated, at slot
 *     (first / CW__WRITES_CHUNK) & (cap - 1); older directories are only
 *     read (by workers that loaded them earlier) and freed at destroy.
 *  2. A chunk is live while some record in it has unapplied > 0, or its
 *     done count is below CW__WRITES_CHUNK. Only the writer reuses a chunk,
 *     and only once done == CW__WRITES_CHUNK: every worker has then made its
 *     last access to it (its increment of done comes after its reads).
 *  3. A worker looks up seq only after receiving seq's message, so after
 *     start(seq): the chunk is in every directory it can load.
 *  4. Growth doubles the directory when seq's slot holds a live chunk; live
 *     chunks have distinct indexes modulo cap, hence modulo 2 cap.
 */
#include <assert.h>
#include <stdlib.h>

#include <causeway/error.h>

#include "writes.h"

/* The record index of seq (invariant 1). */
static uint64_t index_of(uint64_t seq)
{
    assert(seq > 0);
    return seq - 1;
}

/* The slot of the chunk holding record i. */
static cw__writes_chunk **slot(cw__writes_dir *d, uint64_t i)
{
    return &d->chunk[(i / CW__WRITES_CHUNK) & (d->cap - 1)];
}

/* A directory of cap slots holding every chunk of d (d may be NULL). */
static cw__writes_dir *regrow(cw__writes_dir *d, uint64_t cap)
{
    cw__writes_dir *g = calloc(1, sizeof *g + cap * sizeof g->chunk[0]);
    if (!g)
        return NULL;
    g->cap = cap;
    g->older = d;
    for (uint64_t i = 0; d && i < d->cap; i++)
        if (d->chunk[i])
            *slot(g, d->chunk[i]->first) = d->chunk[i];
    return g;
}

/* Frees the directories from d down to (not including) published. */
static void drop_unpublished(cw__writes_dir *d, const cw__writes_dir *published)
{
    while (d != published) {
        cw__writes_dir *older = d->older;
        free(d);
        d = older;
    }
}

int cw__writes_reserve(cw__writes *w, uint64_t seq)
{
    /* Relaxed: the writer is the only one that stores dir. */
    cw__writes_dir *d = atomic_load_explicit(&w->dir, memory_order_relaxed), *grown = d;
    uint64_t i = index_of(seq), first = i - i % CW__WRITES_CHUNK;
    if (!d && !(grown = regrow(NULL, 64)))
        return CW_ENOMEM;
    cw__writes_chunk *c = *slot(grown, i);
    /* Acquire: pairs with applied's release increment of done, so every
     * worker's last access to a finished chunk comes before its reuse. */
    while (c && c->first != first &&
           atomic_load_explicit(&c->done, memory_order_acquire) < CW__WRITES_CHUNK) {
        cw__writes_dir *g = regrow(grown, grown->cap * 2); /* the slot is live: grow (invariant 4) */
        if (!g) {
            drop_unpublished(grown, d);
            return CW_ENOMEM;
        }
        grown = g;
        c = *slot(grown, i);
    }
    if (!c) {
        if (!(c = malloc(sizeof *c))) {
            drop_unpublished(grown, d);
            return CW_ENOMEM;
        }
        c->first = first;
        atomic_init(&c->done, 0);
        *slot(grown, i) = c;
    } else if (c->first != first) { /* finished: reused (invariant 2) */
        c->first = first;
        atomic_store_explicit(&c->done, 0, memory_order_relaxed);
    }
    if (grown != d)
        /* Release: the directory's slots come before a worker that loads it
         * reads them (pairs with applied's acquire load). */
        atomic_store_explicit(&w->dir, grown, memory_order_release);
    return CW_OK;
}

void cw__writes_start(cw__writes *w, uint64_t seq, uint64_t born_ns, uint32_t appliers)
{
    cw__writes_dir *d = atomic_load_explicit(&w->dir, memory_order_relaxed);
    uint64_t i = index_of(seq);
    cw__write_record *r = &(*slot(d, i))->rec[i % CW__WRITES_CHUNK];
    r->born_ns = born_ns;
    /* Relaxed: published to the workers with the message (invariant 3). */
    atomic_store_explicit(&r->unapplied, appliers, memory_order_relaxed);
}

bool cw__writes_applied(cw__writes *w, uint64_t seq, uint64_t *born_ns)
{
    /* Acquire: pairs with reserve's release store of a grown directory. */
    cw__writes_dir *d = atomic_load_explicit(&w->dir, memory_order_acquire);
    uint64_t i = index_of(seq);
    cw__writes_chunk *c = *slot(d, i);
    cw__write_record *r = &c->rec[i % CW__WRITES_CHUNK];
    /* Relaxed: a count; the record's fields were published with the message. */
    if (atomic_fetch_sub_explicit(&r->unapplied, 1, memory_order_relaxed) != 1)
        return false;
    *born_ns = r->born_ns;
    /* Release: this worker's reads of the chunk come before the writer
     * reuses it (pairs with reserve's acquire load of done). */
    atomic_fetch_add_explicit(&c->done, 1, memory_order_release);
    return true;
}

void cw__writes_destroy(cw__writes *w)
{
    cw__writes_dir *d = atomic_load_explicit(&w->dir, memory_order_relaxed);
    for (uint64_t i = 0; d && i < d->cap; i++)
        free(d->chunk[i]);
    while (d) {
        cw__writes_dir *older = d->older;
        free(d);
        d = older;
    }
    atomic_store_explicit(&w->dir, NULL, memory_order_relaxed);
}
