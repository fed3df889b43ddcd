/* A replica adopting a peer's state (cw_node_install), for a node that lost
 * its own: restarted without durable state, it takes a peer's clock and
 * store as if it had applied every write at or below that clock.
 *
 * Invariants:
 *  1. Only a node that has applied nothing and made no write installs: its
 *     store, buffer, log and unsent queue are empty and its clock is zero,
 *     so the installed state is the whole state.
 *  2. What is installed is a consistent cut: every version is a write at or
 *     below the clock, with its clock and context at or below it; versions
 *     of one key are installed as the peer held them (no one of them covers
 *     another, so applying them in any order keeps them all).
 *  3. An install alone starts the retransmission log above the clock for
 *     every origin: this node never claims to hold, for a pull, a write
 *     that came without its log. Tombstones installed wait for stability
 *     as applied ones do.
 *  4. A restore (cw_node_restore) is an install plus a log: the node's own
 *     saved one, or the log of the peer whose state it installs (a node
 *     restarted without state). Per origin, seqs contiguous up to the
 *     clock's entry, so the log's invariant (log.c 1) holds after it.
 *  5. Both change nothing unless they succeed: every check and allocation
 *     comes first (a failed store apply is undone), so a node that could
 *     not take a state stays empty and may try again.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "log.h"
#include "msg_internal.h"
#include "node_state.h"
#include "store.h"

static bool fresh(const cw_node *n)
{
    for (uint32_t k = 0; k < n->n; k++)
        if (n->clock.counters[k])
            return false;
    return n->store.keys.count == 0 && n->buf.count == 0 && n->unsent_len == 0 && n->log.entries == 0 &&
           n->st.tombs_len == 0 && n->in_callback == 0;
}

static bool within(const cw_node *n, const cw_msg *m, const uint64_t *clock)
{
    if (m->kind != CW_MSG_WRITE || m->nodes != n->n || m->seq == 0 || m->seq > clock[m->origin])
        return false;
    for (uint32_t k = 0; k < n->n; k++)
        if (m->counters[k] > clock[k])
            return false;
    const uint64_t *c = cw__msg_context(m);
    for (uint32_t k = 0; c && k < n->n; k++)
        if (c[k] > clock[k])
            return false;
    return true;
}

static int by_dot(const void *a, const void *b)
{
    const cw_msg *x = *(cw_msg *const *)a, *y = *(cw_msg *const *)b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Whether two versions are one write: the same dot (origin, seq). A dot is
 * one write, so it is at most one version of one key (invariant 2).
 * CW_ENOMEM if the sort's copy cannot be had. */
static int dots_repeat(cw_msg *const *versions, size_t count, bool *repeat)
{
    *repeat = false;
    if (count < 2)
        return CW_OK;
    cw_msg **sorted = malloc(count * sizeof *sorted);
    if (!sorted)
        return CW_ENOMEM;
    memcpy(sorted, versions, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, by_dot);
    for (size_t i = 1; i < count && !*repeat; i++)
        *repeat = by_dot(&sorted[i - 1], &sorted[i]) == 0;
    free(sorted);
    return CW_OK;
}

/* A look over the installed store for invariant 2: how many versions it
 * kept, and whether a key kept one that another of its versions covers
 * (applied before the version covering it, the store could not tell). */
typedef struct cover_check {
    uint32_t n;
    size_t kept;
    bool covered;
    uint64_t *best, *second; /* [n]: per origin, the two greatest seqs a version covers */
    uint32_t *who;           /* [n]: the version that covers best */
} cover_check;

/* The greatest seq of `origin` that version m covers (cw__msg_covers). */
static uint64_t covers_up_to(const cw_msg *m, cw_node_id origin)
{
    const uint64_t *c = cw__msg_context(m);
    return c ? c[origin] : origin == m->origin ? m->seq - 1 : m->counters[origin];
}

/* O(versions x nodes): linear in the counters the versions carry. */
static void check_key(void *item, void *ctx)
{
    const cw__key *e = item;
    cover_check *c = ctx;
    c->kept += e->count;
    if (e->count < 2 || c->covered)
        return;
    for (uint32_t o = 0; o < c->n; o++) {
        c->best[o] = c->second[o] = 0;
        c->who[o] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < e->count; i++)
        for (uint32_t o = 0; o < c->n; o++) {
            uint64_t up = covers_up_to(e->msgs[i], (cw_node_id)o);
            if (up > c->best[o]) {
                c->second[o] = c->best[o];
                c->best[o] = up;
                c->who[o] = i;
            } else if (up > c->second[o]) {
                c->second[o] = up;
            }
        }
    for (uint32_t i = 0; i < e->count && !c->covered; i++) {
        cw_node_id o = e->msgs[i]->origin;
        c->covered = (c->who[o] == i ? c->second[o] : c->best[o]) >= e->msgs[i]->seq;
    }
}

int cw_node_install(cw_node *n, const uint64_t *clock, uint32_t nodes, cw_msg *const *versions, size_t count)
{
    if (!n || !clock || nodes != n->n || (count && !versions) || !fresh(n))
        return CW_EINVAL;
    size_t tombs = 0;
    for (size_t i = 0; i < count; i++) {
        if (!versions[i] || !within(n, versions[i], clock))
            return CW_EINVAL;
        tombs += (versions[i]->flags & CW__MSG_TOMBSTONE) != 0;
    }
    bool repeat;
    int rc = dots_repeat(versions, count, &repeat);
    if (rc != CW_OK)
        return rc;
    if (repeat)
        return CW_EINVAL;
    if (tombs && n->n > 1) {
        cw_msg **t = realloc(n->st.tombs, tombs * sizeof *t);
        if (!t)
            return CW_ENOMEM;
        n->st.tombs = t;
        n->st.tombs_cap = tombs;
    }
    for (size_t i = 0; i < count && rc == CW_OK; i++) {
        bool conflict;
        rc = cw__store_apply(&n->store, versions[i], n->opt.policy, &conflict);
    }
    /* Every version kept, and none covering another, as the peer held them
     * (invariant 2): a version another replaced, a second version of a
     * last-writer-wins key, or one a version beside it covers is not a
     * state any replica held. */
    cover_check c = {.n = n->n};
    if (rc == CW_OK && count > 1) { /* best, second, then who: one block */
        if (!(c.best = malloc((size_t)n->n * (2 * sizeof *c.best + sizeof *c.who))))
            rc = CW_ENOMEM;
        else {
            c.second = c.best + n->n;
            c.who = (uint32_t *)(c.second + n->n);
        }
    }
    if (rc == CW_OK)
        cw__map_each(&n->store.keys, check_key, &c);
    free(c.best);
    if (rc == CW_OK && (c.kept != count || c.covered))
        rc = CW_EINVAL;
    if (rc != CW_OK) {
        cw__store_destroy(&n->store); /* back to empty (invariant 1) */
        cw__store_init(&n->store);
        return rc;
    }
    for (size_t i = 0; i < count; i++) {
        cw_msg *m = versions[i];
        cw__node_follow(n, &m->ts);
        if ((m->flags & CW__MSG_TOMBSTONE) && n->n > 1)
            n->st.tombs[n->st.tombs_len++] = cw__msg_ref(m);
    }
    memcpy(n->clock.counters, clock, (size_t)n->n * sizeof *clock);
    /* As if applied (node.c invariant 4: V counts what was applied). */
    memcpy(n->applied_from, clock, (size_t)n->n * sizeof *clock);
    for (uint32_t k = 0; n->recovering && k < n->n; k++)
        cw__log_trim(&n->log, (cw_node_id)k, clock[k]); /* invariant 3 */
    return CW_OK;
}

/* Each origin's logged seqs run without a gap or a repeat up to clock. */
static bool log_consistent(const cw_node *n, const uint64_t *clock, cw_msg **sorted, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const cw_msg *m = sorted[i];
        if (!m || !within(n, m, clock))
            return false;
        bool last = i + 1 == count || sorted[i + 1]->origin != m->origin;
        if (last ? m->seq != clock[m->origin] : sorted[i + 1]->seq != m->seq + 1)
            return false;
    }
    return true;
}

int cw_node_restore(cw_node *n, const uint64_t *clock, uint32_t nodes, cw_msg *const *versions,
                    size_t count, cw_msg *const *log, size_t log_count)
{
    if (!n || !clock || nodes != n->n || (log_count && !log))
        return CW_EINVAL;
    for (size_t i = 0; i < log_count; i++)
        if (!log[i] || log[i]->kind != CW_MSG_WRITE || log[i]->nodes != n->n)
            return CW_EINVAL;
    cw_msg **sorted = log_count ? malloc(log_count * sizeof *sorted) : NULL;
    if (log_count && !sorted)
        return CW_ENOMEM;
    if (log_count)
        memcpy(sorted, log, log_count * sizeof *sorted);
    if (log_count)
        qsort(sorted, log_count, sizeof *sorted, by_dot);
    int rc = log_consistent(n, clock, sorted, log_count) ? CW_OK : CW_EINVAL;
    /* Room for every origin's run first, so that nothing fails once the
     * install has changed the node (invariant 5). */
    for (size_t i = 0, run = 1; rc == CW_OK && n->recovering && i < log_count; i++, run++)
        if (i + 1 == log_count || sorted[i + 1]->origin != sorted[i]->origin) {
            rc = cw__log_reserve_n(&n->log, sorted[i]->origin, run);
            run = 0;
        }
    if (rc == CW_OK)
        rc = cw_node_install(n, clock, nodes, versions, count);
    /* The log held every applied write not yet stable: what it starts
     * after, per origin, was the stable clock (all of the clock where it
     * holds nothing), and stability goes on from there, not from zero (a
     * node whose own writes passed max_log would refuse writes until
     * every peer reported again). */
    for (uint32_t k = 0; rc == CW_OK && n->recovering && k < n->n; k++)
        n->st.stable[k] = clock[k];
    for (size_t i = 0; rc == CW_OK && i < log_count; i++) {
        cw_msg *m = sorted[i];
        cw__node_follow(n, &m->ts); /* a superseded write of its own may be the latest */
        if (!n->recovering)
            continue; /* no log kept: nothing to serve */
        if (i == 0 || sorted[i - 1]->origin != m->origin) {
            cw__log_rebase(&n->log, m->origin, m->seq - 1);
            n->st.stable[m->origin] = m->seq - 1;
        }
        if ((rc = cw__log_reserve(&n->log, m->origin)) == CW_OK)
            cw__log_append(&n->log, m);
    }
    free(sorted);
    return rc;
}
