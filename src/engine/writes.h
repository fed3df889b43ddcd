/* The engine's record of each write a node made: when it was made, and how
 * many nodes have yet to apply it, for the replication latency (put to
 * applied everywhere). Kept here, by (origin, seq), so that a message stays
 * immutable once created (causeway/msg.h).
 *
 * One cw__writes per origin node. Records sit in chunks of CW__WRITES_CHUNK,
 * found through a directory indexed by (seq - 1) / CW__WRITES_CHUNK modulo
 * its size; a chunk whose writes every node applied is reused in place, so
 * memory follows the writes in flight, not the writes made: 64 chunks
 * (16,384 writes) until more than that are in flight at once. A write not
 * yet applied everywhere (one a held link keeps) pins its chunk: while it
 * does, the directory doubles each time the writes made since lap onto that
 * chunk's slot, as the held messages themselves grow the hold's queue.
 *
 * Threads: reserve and start are the origin's writer's (under the origin
 * node's lock); applied may run on any worker, for a write whose message it
 * holds (so after start, through the transport's ordering).
 */
#ifndef CW_WRITES_H
#define CW_WRITES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CW__WRITES_CHUNK 256u

typedef struct cw__write_record {
    uint64_t born_ns;
    _Atomic uint32_t unapplied;   /* nodes that have yet to apply the write */
} cw__write_record;

typedef struct cw__writes_chunk {
    uint64_t first;               /* record index (seq - 1) of rec[0], a multiple of CW__WRITES_CHUNK */
    _Atomic uint32_t done;        /* records whose every node applied them */
    cw__write_record rec[CW__WRITES_CHUNK];
} cw__writes_chunk;

typedef struct cw__writes_dir {
    struct cw__writes_dir *older; /* the directories this one replaced, freed at destroy */
    uint64_t cap;                 /* a power of two */
    cw__writes_chunk *chunk[];    /* chunk[((seq - 1) / CW__WRITES_CHUNK) & (cap - 1)] */
} cw__writes_dir;

typedef struct cw__writes {
    _Atomic(cw__writes_dir *) dir; /* NULL until the first reserve */
} cw__writes;

/* Makes room for seq's record (seq >= 1). CW_OK or CW_ENOMEM (nothing
 * changed). */
int cw__writes_reserve(cw__writes *w, uint64_t seq);
/* Starts seq's record (room reserved): made at born_ns, to be applied by
 * `appliers` nodes. */
void cw__writes_start(cw__writes *w, uint64_t seq, uint64_t born_ns, uint32_t appliers);
/* Counts one node's application of seq. True when it was the last, with
 * *born_ns the write's birth time. */
bool cw__writes_applied(cw__writes *w, uint64_t seq, uint64_t *born_ns);
/* Frees every record; no thread may use w any more. */
void cw__writes_destroy(cw__writes *w);

#endif
