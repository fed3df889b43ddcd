/* The causal delivery buffer's indexes. A buffered write is in exactly one:
 *   rings[origin]   writes that are not their sender's next (seq > V[origin] + 1),
 *                   at slot seq mod cap: each waits, implicitly, for V[origin]
 *                   to reach seq - 1, and is found by direct indexing when it does;
 *   waiting[node]   the sender's-next writes (heads) of some senders, blocked on
 *                   another node's entry: V[node] must reach each one's counter.
 *                   A sender has at most one head, so heads live in a
 *                   preallocated array (one per sender), and each node's list
 *                   links the heads blocked on it, in counter order.
 * No buffered write costs an allocation of its own; ring slots are the only
 * memory that grows, bounded in total (see node.c).
 *
 * Why lists and not a table keyed by (node, counter): after one lost write
 * every sender's head waits for that same write, so all of them share one
 * key. In an open-addressing table they made one probe run, and each take
 * shifted the rest of it back: n^2 / 2 slot moves to release n heads (at 64
 * nodes and 1% loss, 16% of a replica's time; docs/performance.md, "Loss on
 * one thread, and heads that wait for the same write"). A list takes each
 * from its front. */
#ifndef CW_BUFFER_H
#define CW_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <causeway/msg.h>

typedef struct cw__slot {
    cw_msg *msg;          /* NULL when empty */
    uint64_t arrived_ns;
} cw__slot;

/* Writes of one sender that wait for earlier ones, by sequence number. */
typedef struct cw__ring {
    cw__slot *slots;
    uint64_t cap;         /* 0 or a power of two */
    size_t count;
} cw__ring;

typedef struct cw__head {
    cw_msg *msg;          /* NULL when the sender's head is not waiting */
    uint64_t arrived_ns;
    cw_node_id node;      /* blocked on V[node] reaching counter */
    uint64_t counter;
    uint32_t scan_from;   /* dependencies below this index are known met */
    uint32_t prev, next;  /* senders of the heads before and after it in waiting[node] */
} cw__head;

/* No head: the end of a list. */
#define CW__NO_HEAD UINT32_MAX

/* The heads blocked on one node, by counter (ties in the order filed). */
typedef struct cw__waitlist {
    uint32_t first, last; /* senders; CW__NO_HEAD when empty */
} cw__waitlist;

typedef struct cw__buffer {
    cw__ring *rings;      /* per sender */
    cw__head *heads;      /* per sender */
    cw__waitlist *waiting; /* per node */
    size_t count;         /* buffered writes */
    size_t bytes;         /* their cw__msg_bytes */
    size_t high_water;
    uint64_t ring_slots;  /* slots allocated over all rings */
} cw__buffer;

int  cw__buffer_init(cw__buffer *b, uint32_t nodes);
void cw__buffer_destroy(cw__buffer *b, uint32_t nodes);

/* The ring slot for seq, or NULL if seq lies beyond the ring's span. */
cw__slot *cw__ring_at(cw__ring *r, uint64_t seq);
/* The largest ring: 2^40 slots (16 TiB of them). A span beyond it is refused
 * before any size is computed, so a sequence number from the wire (up to
 * 2^64 - 1) can never wrap a capacity or an allocation size. */
#define CW__RING_MAX_CAP ((uint64_t)1 << 40)

/* The capacity r needs to hold a span of `span` seqs: r->cap if it already
 * does, else the next power of two (at least 16); 0 if span passes
 * CW__RING_MAX_CAP. */
uint64_t cw__ring_cap_for(const cw__ring *r, uint64_t span);
/* Grows r so seqs up to first + span - 1 fit (first: the lowest seq it may
 * hold, V[origin] + 2). CW_ELIMIT (span beyond CW__RING_MAX_CAP) and
 * CW_ENOMEM leave r unchanged. */
int cw__ring_fit(cw__buffer *b, cw__ring *r, uint64_t first, uint64_t span);

/* The highest seq of origin's writes buffered (its ring and its head), or 0.
 * A walk over the ring: for rare questions (a join answer), not deliveries. */
uint64_t cw__buffer_last_seq(const cw__buffer *b, cw_node_id origin);

/* Waiting lists: file a head (one of b->heads) under head->node by
 * head->counter; take one filed under node with a counter at or below
 * `counter` (V[node] has reached it), or NULL. Filing walks back from the
 * list's end past the heads with larger counters (usually none: counters a
 * node is waited at grow), or goes first at once when every head there has
 * a larger one (falling order); only a counter between the list's ends
 * walks. Taking is O(1). Neither allocates. */
void cw__waiting_put(cw__buffer *b, cw__head *h);
cw__head *cw__waiting_take(cw__buffer *b, cw_node_id node, uint64_t counter);

#endif
