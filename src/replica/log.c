/* The retransmission log (see log.h).
 *
 * Invariants:
 *  1. ring[o] holds exactly o's writes base + 1 .. base + len, each at slot
 *     seq & (cap - 1), each holding one reference; entries = sum of len.
 *  2. len <= cap; a full ring doubles before the append that needs it.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "log.h"
#include "msg_internal.h"

int cw__log_init(cw__log *l, uint32_t nodes)
{
    *l = (cw__log){calloc(nodes, sizeof(cw__log_ring)), nodes, 0};
    return l->ring ? CW_OK : CW_ENOMEM;
}

void cw__log_destroy(cw__log *l)
{
    for (uint32_t o = 0; l->ring && o < l->nodes; o++) {
        cw__log_trim(l, (cw_node_id)o, l->ring[o].base + l->ring[o].len);
        free(l->ring[o].slot);
    }
    free(l->ring);
    *l = (cw__log){0};
}

int cw__log_reserve(cw__log *l, cw_node_id origin) { return cw__log_reserve_n(l, origin, 1); }

int cw__log_reserve_n(cw__log *l, cw_node_id origin, uint64_t n)
{
    cw__log_ring *r = &l->ring[origin];
    if (n <= r->cap - r->len)
        return CW_OK;
    uint64_t cap = r->cap ? r->cap * 2 : 16;
    while (cap - r->len < n && cap <= SIZE_MAX / sizeof(cw_msg *))
        cap *= 2;
    if (cap - r->len < n || cap > SIZE_MAX / sizeof(cw_msg *))
        return CW_ENOMEM;
    cw_msg **slot = calloc((size_t)cap, sizeof *slot);
    if (!slot)
        return CW_ENOMEM;
    for (uint64_t s = r->base + 1; s <= r->base + r->len; s++)
        slot[s & (cap - 1)] = r->slot[s & (r->cap - 1)];
    free(r->slot);
    r->slot = slot;
    r->cap = cap;
    return CW_OK;
}

void cw__log_append(cw__log *l, cw_msg *m)
{
    cw__log_ring *r = &l->ring[m->origin];
    r->slot[m->seq & (r->cap - 1)] = cw__msg_ref(m);
    r->len++;
    l->entries++;
}

cw_msg *cw__log_at(const cw__log *l, cw_node_id origin, uint64_t seq)
{
    const cw__log_ring *r = &l->ring[origin];
    if (seq <= r->base || seq - r->base > r->len)
        return NULL;
    return r->slot[seq & (r->cap - 1)];
}

void cw__log_trim(cw__log *l, cw_node_id origin, uint64_t seq)
{
    cw__log_ring *r = &l->ring[origin];
    while (r->len && r->base < seq) {
        r->base++;
        cw_msg **s = &r->slot[r->base & (r->cap - 1)];
        cw__msg_unref(*s);
        *s = NULL;
        r->len--;
        l->entries--;
    }
    if (r->base < seq) /* nothing held up to seq (e.g. a log that starts late) */
        r->base = seq;
}

void cw__log_rebase(cw__log *l, cw_node_id origin, uint64_t seq)
{
    assert(l->ring[origin].len == 0);
    l->ring[origin].base = seq;
}
