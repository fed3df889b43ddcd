/* A node's refused writes, by origin (see retry.h).
 *
 * Invariants:
 *  1. from[o].m[head .. len) holds o's refused writes in ascending seq (equal
 *     seqs, an injected duplicate, in arrival order); head == len only when
 *     empty, and then head == len == 0.
 *  2. busy lists each origin whose queue is not empty exactly once; count is
 *     the sum of the queues' lengths.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "retry.h"

/* Room for one more entry at the end of q: the taken front reclaimed first,
 * else the array doubled. */
static bool make_room(cw__retry_queue *q)
{
    if (q->len < q->cap)
        return true;
    if (q->head) {
        memmove(q->m, q->m + q->head, (q->len - q->head) * sizeof *q->m);
        q->len -= q->head;
        q->head = 0;
        return true;
    }
    size_t cap = q->cap ? q->cap * 2 : 16;
    cw_msg **m = realloc(q->m, cap * sizeof *m);
    if (!m)
        return false;
    q->m = m;
    q->cap = cap;
    return true;
}

bool cw__retry_push(cw__retry *r, uint32_t nodes, cw_msg *m)
{
    assert(m->origin < nodes);
    if (!r->from) {
        cw__retry_queue *from = calloc(nodes, sizeof *from);
        uint32_t *busy = malloc(nodes * sizeof *busy);
        if (!from || !busy) {
            free(from);
            free(busy);
            return false;
        }
        r->from = from;
        r->busy = busy;
    }
    cw__retry_queue *q = &r->from[m->origin];
    if (!make_room(q))
        return false;
    if (q->head == q->len)
        r->busy[r->busy_len++] = m->origin;
    /* Arrivals from one origin come in seq order unless the fault layer
     * delayed some: the place is nearly always the end. */
    size_t at = q->len;
    while (at > q->head && q->m[at - 1]->seq > m->seq)
        at--;
    memmove(q->m + at + 1, q->m + at, (q->len - at) * sizeof *q->m);
    q->m[at] = m;
    q->len++;
    r->count++;
    return true;
}

size_t cw__retry_offer(cw__retry *r, bool (*take)(void *ctx, cw_msg *m), void *ctx)
{
    size_t taken = 0;
    for (uint32_t i = 0; i < r->busy_len;) {
        cw__retry_queue *q = &r->from[r->busy[i]];
        while (q->head < q->len && take(ctx, q->m[q->head])) {
            cw__msg_unref(q->m[q->head++]);
            taken++;
            r->count--;
        }
        if (q->head < q->len) {
            i++;
            continue;
        }
        q->head = q->len = 0; /* empty: off the busy list (invariant 2) */
        r->busy[i] = r->busy[--r->busy_len];
    }
    return taken;
}

void cw__retry_release(cw__retry *r, uint32_t nodes)
{
    for (uint32_t o = 0; r->from && o < nodes; o++) {
        cw__retry_queue *q = &r->from[o];
        for (size_t i = q->head; i < q->len; i++)
            cw__msg_unref(q->m[i]);
        free(q->m);
    }
    free(r->from);
    free(r->busy);
    *r = (cw__retry){0};
}
