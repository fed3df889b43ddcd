/* Indexes of the causal delivery buffer (see buffer.h; node.c owns the
 * delivery rule and when writes move between indexes).
 *
 * Invariants:
 *  1. A ring's occupied slots hold seqs in [first, first + cap) for the
 *     sender's current first = V[origin] + 2, each at slot seq & (cap - 1).
 *  2. waiting[k] links, first to last by counter (ties in the order filed),
 *     exactly the heads filed under k and not yet taken; each head's prev
 *     and next name its neighbours there (CW__NO_HEAD at the ends).
 */
#include "buffer.h"

#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "msg_internal.h"

int cw__buffer_init(cw__buffer *b, uint32_t nodes)
{
    *b = (cw__buffer){0};
    b->rings = calloc(nodes, sizeof *b->rings);
    b->heads = calloc(nodes, sizeof *b->heads);
    b->waiting = malloc(nodes * sizeof *b->waiting);
    if (!b->rings || !b->heads || !b->waiting) {
        cw__buffer_destroy(b, 0);
        return CW_ENOMEM;
    }
    for (uint32_t k = 0; k < nodes; k++)
        b->waiting[k] = (cw__waitlist){CW__NO_HEAD, CW__NO_HEAD};
    return CW_OK;
}

void cw__buffer_destroy(cw__buffer *b, uint32_t nodes)
{
    for (uint32_t o = 0; b->rings && o < nodes; o++) {
        cw__ring *r = &b->rings[o];
        for (uint64_t i = 0; i < r->cap; i++)
            cw__msg_unref(r->slots[i].msg);
        free(r->slots);
    }
    for (uint32_t o = 0; b->heads && o < nodes; o++)
        cw__msg_unref(b->heads[o].msg);
    free(b->rings);
    free(b->heads);
    free(b->waiting);
    *b = (cw__buffer){0};
}

cw__slot *cw__ring_at(cw__ring *r, uint64_t seq)
{
    return r->cap ? &r->slots[seq & (r->cap - 1)] : NULL;
}

uint64_t cw__ring_cap_for(const cw__ring *r, uint64_t span)
{
    if (span <= r->cap)
        return r->cap;
    if (span > CW__RING_MAX_CAP)
        return 0;
    uint64_t cap = r->cap ? r->cap : 16;
    while (cap < span) /* ends: span <= CW__RING_MAX_CAP, a power of two */
        cap *= 2;
    return cap;
}

int cw__ring_fit(cw__buffer *b, cw__ring *r, uint64_t first, uint64_t span)
{
    if (span <= r->cap)
        return CW_OK;
    uint64_t cap = cw__ring_cap_for(r, span);
    if (!cap || cap > SIZE_MAX / sizeof(cw__slot))
        return CW_ELIMIT;
    /* Grown in place: realloc keeps the pages already touched (large blocks
     * are remapped, not copied), so a deep buffer pays each page fault once. */
    cw__slot *slots = realloc(r->slots, cap * sizeof *slots);
    if (!slots)
        return CW_ENOMEM;
    memset(slots + r->cap, 0, (cap - r->cap) * sizeof *slots);
    /* Re-place each held seq s in [first, first + old cap) from s mod old to
     * s mod cap. The two are congruent mod old, so a slot that moves goes to
     * the new part, which nothing else moves to: no move overwrites another. */
    for (uint64_t s = first; s < first + r->cap; s++) {
        cw__slot *old = &slots[s & (r->cap - 1)], *now = &slots[s & (cap - 1)];
        if (old != now && old->msg) {
            *now = *old;
            *old = (cw__slot){NULL, 0};
        }
    }
    b->ring_slots += cap - r->cap;
    r->slots = slots;
    r->cap = cap;
    return CW_OK;
}

void cw__waiting_put(cw__buffer *b, cw__head *h)
{
    uint32_t self = (uint32_t)(h - b->heads);
    cw__waitlist *l = &b->waiting[h->node];
    uint32_t before = l->last;
    if (l->first != CW__NO_HEAD && b->heads[l->first].counter > h->counter)
        before = CW__NO_HEAD; /* below every head: first (falling order, O(1)) */
    else
        while (before != CW__NO_HEAD && b->heads[before].counter > h->counter)
            before = b->heads[before].prev;
    uint32_t after = before == CW__NO_HEAD ? l->first : b->heads[before].next;
    h->prev = before;
    h->next = after;
    *(before == CW__NO_HEAD ? &l->first : &b->heads[before].next) = self;
    *(after == CW__NO_HEAD ? &l->last : &b->heads[after].prev) = self;
}

cw__head *cw__waiting_take(cw__buffer *b, cw_node_id node, uint64_t counter)
{
    cw__waitlist *l = &b->waiting[node];
    if (l->first == CW__NO_HEAD || b->heads[l->first].counter > counter)
        return NULL; /* the common case: nobody waits on this node */
    cw__head *h = &b->heads[l->first];
    l->first = h->next;
    *(h->next == CW__NO_HEAD ? &l->last : &b->heads[h->next].prev) = CW__NO_HEAD;
    return h;
}

uint64_t cw__buffer_last_seq(const cw__buffer *b, cw_node_id origin)
{
    uint64_t last = 0;
    const cw__ring *r = &b->rings[origin];
    for (uint64_t i = 0; r->count && i < r->cap; i++)
        if (r->slots[i].msg && r->slots[i].msg->seq > last)
            last = r->slots[i].msg->seq;
    const cw_msg *head = b->heads[origin].msg;
    return head && head->seq > last ? head->seq : last;
}
