/* One node's writes its replica refused for now (CW_EFULL: its causal buffer
 * is full; CW_ENOMEM), kept by origin, each origin's in sequence order, until
 * the replica takes them.
 *
 * Only the lowest seq of each origin can be taken next: a replica refuses a
 * write only when it must buffer it and has no room, and a later write from
 * the same origin needs no less room and is not deliverable before it. So a
 * retry tries one write an origin until one is refused: its cost follows the
 * origins waiting and the writes taken, never the writes waiting (retrying
 * the whole list was quadratic: 48k writes took 14 s to quiesce).
 *
 * Threads: the node's worker only.
 */
#ifndef CW_RETRY_H
#define CW_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_internal.h"

typedef struct cw__retry_queue {
    cw_msg **m;                 /* m[head .. len), ascending seq, one reference each */
    size_t head, len, cap;
} cw__retry_queue;

typedef struct cw__retry {
    cw__retry_queue *from;      /* by origin; NULL until the first refusal */
    uint32_t *busy;             /* origins whose queue is not empty */
    uint32_t busy_len;
    size_t count;               /* writes waiting */
} cw__retry;

/* Keeps m (its reference moves in) among a node of `nodes` nodes' refused
 * writes. False if memory ran out (r unchanged, the reference still the
 * caller's). */
bool cw__retry_push(cw__retry *r, uint32_t nodes, cw_msg *m);

/* Offers each origin's waiting writes, lowest seq first, to take(ctx, m)
 * until it refuses one (returns false) or none is left. A write taken
 * leaves r and its reference is dropped. Returns how many were taken. */
size_t cw__retry_offer(cw__retry *r, bool (*take)(void *ctx, cw_msg *m), void *ctx);

/* Drops every waiting write's reference and frees r; leaves it empty. */
void cw__retry_release(cw__retry *r, uint32_t nodes);

#endif
