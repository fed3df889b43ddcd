/* Indexes of the causal delivery buffer (see buffer.h and node.c, which owns
 * the delivery rule). */
#include "buffer.h"

#include <stdlib.h>

#include <causeway/error.h>

typedef struct key {
    cw_node_id node;
    uint64_t counter;
} key;

static bool item_eq(const void *item, const void *k)
{
    const cw__item *i = item;
    const key *want = k;
    return i->node == want->node && i->counter == want->counter;
}

uint64_t cw__key_hash(cw_node_id node, uint64_t counter)
{
    return cw__hash_u64(counter * 0x9e3779b97f4a7c15u ^ node);
}

int cw__buffer_init(cw__buffer *b, uint32_t nodes)
{
    *b = (cw__buffer){0};
    b->heads = calloc(nodes, sizeof *b->heads);
    if (!b->heads)
        return CW_ENOMEM;
    cw__map_init(&b->pending);
    cw__map_init(&b->waiting);
    return CW_OK;
}

static void free_item(void *item, void *ctx)
{
    (void)ctx;
    cw__item *i = item;
    cw_msg_unref(i->msg);
    free(i);
}

void cw__buffer_destroy(cw__buffer *b)
{
    cw__map_each(&b->pending, free_item, NULL);
    cw__map_each(&b->waiting, free_item, NULL);
    cw__map_destroy(&b->pending);
    cw__map_destroy(&b->waiting);
    free(b->heads);
    *b = (cw__buffer){0};
}

cw__item *cw__buffer_take(cw__map *map, cw_node_id node, uint64_t counter)
{
    key k = {node, counter};
    return cw__map_remove(map, cw__key_hash(node, counter), item_eq, &k);
}

cw__item *cw__buffer_find(const cw__map *map, cw_node_id node, uint64_t counter)
{
    key k = {node, counter};
    return cw__map_find(map, cw__key_hash(node, counter), item_eq, &k);
}

void cw__buffer_put(cw__map *map, cw__item *item)
{
    cw__map_insert(map, cw__key_hash(item->node, item->counter), item);
}
