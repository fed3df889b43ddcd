/* The retransmission log: every write a replica has applied, by origin and
 * sequence number, kept until it is causally stable (applied at every node),
 * so that the replica can send it again to a peer that lost it.
 *
 * Per origin, a ring of message references holding seqs base + 1 ..
 * base + len: writes of one origin are applied in sequence order, so an
 * append always goes at the end, and stability trims from the front. Each
 * entry is one pointer; the message is shared with the store and every
 * other holder, so the log keeps superseded versions alive, not copies.
 */
#ifndef CW_LOG_H
#define CW_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <causeway/msg.h>

typedef struct cw__log_ring {
    cw_msg **slot;        /* cap entries; seq s at slot[s & (cap - 1)] */
    uint64_t base;        /* every seq <= base is trimmed (stable) */
    uint64_t len;         /* seqs base + 1 .. base + len are held */
    uint64_t cap;         /* 0 or a power of two */
} cw__log_ring;

typedef struct cw__log {
    cw__log_ring *ring;   /* per origin */
    uint32_t nodes;
    size_t entries;       /* over all origins */
} cw__log;

int  cw__log_init(cw__log *l, uint32_t nodes);
/* Drops every reference and frees the log. */
void cw__log_destroy(cw__log *l);
/* Room for origin's next append. CW_OK, CW_ENOMEM (unchanged). */
int  cw__log_reserve(cw__log *l, cw_node_id origin);
/* Room for origin's next n appends. CW_OK, CW_ENOMEM (unchanged). */
int  cw__log_reserve_n(cw__log *l, cw_node_id origin, uint64_t n);
/* Appends m (origin's seq base + len + 1, room reserved), taking a reference. */
void cw__log_append(cw__log *l, cw_msg *m);
/* origin's write seq, or NULL if not held (trimmed, or not applied yet). */
cw_msg *cw__log_at(const cw__log *l, cw_node_id origin, uint64_t seq);
/* Drops origin's writes up to and including seq (they are stable). */
void cw__log_trim(cw__log *l, cw_node_id origin, uint64_t seq);
/* Origin's log, empty, starts after seq: its next append is seq + 1 (a
 * restored log that starts below the clock). Precondition: empty. */
void cw__log_rebase(cw__log *l, cw_node_id origin, uint64_t seq);

#endif
