/* Whether loss recovery has finished, for cw_engine_quiesce (engine.c
 * invariant 6): every node has applied every write that a node it can reach
 * has applied. Reach: two nodes whose links are not cut either way can pull
 * from each other, directly or through nodes reached the same way, so the
 * nodes fall into components (union-find over the uncut pairs), and within
 * one every node must have, of every origin, the most any of them has;
 * except a node with a held link into it: the held origin's writes wait for
 * the release (by whatever path: fault.h), and so do the writes that depend
 * on them, whatever their origin.
 *
 * Cost: O(nodes^2) counters copied under each node's lock in turn, and,
 * with cuts, O(nodes^2) pairs; quiesce calls it only once the delivery
 * counts meet after a loss. The copies are not one snapshot, but clocks
 * only grow, and the check compares each node with the largest copy, so a
 * node behind fails it whenever it was taken.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "bits.h"
#include "engine_internal.h"

typedef struct links {
    uint32_t nodes;
    uint64_t *cut;                  /* bitmap, nodes x nodes: [from * nodes + to] */
    bool *held_into;                /* per node: a link into it is held */
    bool any_cut;
} links;

static void note_link(void *ctx, cw_node_id from, cw_node_id to, bool held, bool cut)
{
    links *l = ctx;
    size_t i = (size_t)from * l->nodes + to;
    if (cut) {
        cw__bit_set(l->cut, i);
        l->any_cut = true;
    }
    if (held)
        l->held_into[to] = true;
}

static uint32_t find(uint32_t *parent, uint32_t a)
{
    while (parent[a] != a)
        a = parent[a] = parent[parent[a]];
    return a;
}

bool cw__engine_recovered(cw_engine *e, int *rc)
{
    uint32_t n = e->nodes;
    size_t cells = (size_t)n * n, words = cw__bits_words(cells);
    uint64_t *v = malloc(cells * sizeof *v), *most = malloc(n * sizeof *most);
    uint32_t *parent = malloc(n * sizeof *parent);
    links l = {n, calloc(words, sizeof *l.cut), calloc(n, sizeof *l.held_into), false};
    bool done = false;
    if (!v || !most || !parent || !l.cut || !l.held_into) {
        *rc = CW_ENOMEM; /* cannot tell: quiesce says so rather than wait */
        done = true;
        goto out;
    }
    cw__faults_each_link(&e->faults, note_link, &l);
    for (uint32_t j = 0; j < n; j++) {
        pthread_mutex_lock(&e->node[j].lock);
        memcpy(v + (size_t)j * n, cw_node_counters(e->node[j].node), n * sizeof *v);
        pthread_mutex_unlock(&e->node[j].lock);
        parent[j] = l.any_cut ? j : 0;
    }
    for (uint32_t a = 0; l.any_cut && a < n; a++)
        for (uint32_t b = a + 1; b < n; b++)
            if (!cw__bit_get(l.cut, (size_t)a * n + b) && !cw__bit_get(l.cut, (size_t)b * n + a)) {
                uint32_t ra = find(parent, a), rb = find(parent, b);
                if (ra != rb)
                    parent[ra] = rb;
            }
    for (uint32_t j = 0; j < n; j++)
        parent[j] = find(parent, j);
    done = true;
    for (uint32_t o = 0; done && o < n; o++) {
        for (uint32_t j = 0; j < n; j++)
            most[j] = 0;
        for (uint32_t j = 0; j < n; j++) {
            uint64_t c = v[(size_t)j * n + o];
            if (c > most[parent[j]])
                most[parent[j]] = c;
        }
        for (uint32_t j = 0; done && j < n; j++)
            if (v[(size_t)j * n + o] < most[parent[j]] && !l.held_into[j])
                done = false;
    }
out:
    free(v);
    free(most);
    free(parent);
    free(l.cut);
    free(l.held_into);
    return done;
}
