/* The causal delivery buffer's indexes. A buffered write is in exactly one:
 *   pending  (origin, seq) -> item   writes that are not their sender's next
 *                                    (seq > V[origin] + 1); each waits, implicitly,
 *                                    for V[origin] to reach seq - 1
 *   waiting  (node, counter) -> items  sender's-next writes (heads) blocked on
 *                                    another node's entry: V[node] must reach counter
 * plus heads[origin], the head of each sender when it waits (for duplicate
 * detection; it is also in `waiting`). */
#ifndef CW_BUFFER_H
#define CW_BUFFER_H

#include <stddef.h>
#include <stdint.h>
#include <causeway/msg.h>

#include "map.h"

typedef struct cw__item {
    cw_msg *msg;
    cw_node_id node;      /* index key: (node, counter) */
    uint64_t counter;
    uint32_t scan_from;   /* dependencies below this index are known met */
    uint64_t arrived_ns;
} cw__item;

typedef struct cw__buffer {
    cw__map pending;      /* unique keys */
    cw__map waiting;      /* several items may share a key */
    cw__item **heads;     /* nodes entries; NULL when the sender's head is not waiting */
    size_t count;
    size_t high_water;
} cw__buffer;

int  cw__buffer_init(cw__buffer *b, uint32_t nodes);
void cw__buffer_destroy(cw__buffer *b);

uint64_t cw__key_hash(cw_node_id node, uint64_t counter);
/* Removes and returns one item with key (node, counter) from map, or NULL. */
cw__item *cw__buffer_take(cw__map *map, cw_node_id node, uint64_t counter);
cw__item *cw__buffer_find(const cw__map *map, cw_node_id node, uint64_t counter);
/* Files item under (item->node, item->counter); the caller has reserved room. */
void cw__buffer_put(cw__map *map, cw__item *item);

#endif
