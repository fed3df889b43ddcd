/* The engine's worker loop: what each worker thread does, and how it idles.
 * A pass takes released holds, sends its nodes' new writes, flushes what a
 * full link kept, takes a bounded number of arrival batches, releases due
 * delays, and offers refused writes again where room may have come; a pass
 * that did nothing spins, yields, then parks. Recovery traffic (pulls,
 * their answers) is also handed over between two nodes' shares of a batch:
 * from other workers through the transport's recovery lane, between its own
 * nodes through the worker's fast list.
 *
 * Invariants:
 *  1. Worker w is transport endpoint w and fault lane w; it runs nodes
 *     w, w + workers, ... and touches each only under the node's lock.
 *     While delivering under a node's lock it also makes the put a client
 *     offered there (engine.c, "Combining"), pausing the batch, or the
 *     drain of the writes one arrival released, for it; it applies what a
 *     paused drain left before it lets go of the lock (what a drain out of
 *     memory left waits for the node's next delivery, as before).
 *  2. A write crosses the transport once per destination worker, carrying
 *     one reference; that worker fans it out to its nodes (all but the
 *     write's origin), and delivers its own nodes' writes to its other nodes
 *     directly.
 *  3. Nothing accepted is lost: the transport keeps what a full link refuses
 *     (transport.h) while the worker keeps consuming, so two workers full
 *     towards each other still drain each other; a node's writes stay in its
 *     outbox when the worker's local list or the transport cannot grow for
 *     them (its send is refused instead: send_outbox_first, so no worker
 *     waits for memory under a node's lock); a write a replica refuses
 *     for now (CW_EFULL, CW_ENOMEM) waits among its node's refused writes
 *     (retry.h), which hold writes in flight only, so engine.c invariant 2
 *     bounds them too. They are offered again only after their node applied
 *     a write (its buffer can have room only then), or, after a refusal
 *     for memory, on every pass and with a growing back-off while parked: so
 *     a full buffer behind a held link leaves the worker parked.
 *  4. Each delivery done is counted in the worker's consumed, with a release
 *     after its effects (for cw_engine_quiesce, engine.c invariant 3).
 *  5. Idle workers spin briefly, yield, then park on their endpoint, with a
 *     timeout when a delay falls due or sends or writes refused for memory
 *     wait (a growing back-off); publishing work wakes the worker it is for
 *     (a put only when it sets outbox_dirty 0 -> 1: later puts ride on that
 *     wake). A pass is bounded (INBOUND_ROUNDS batches per other worker), so
 *     no work source starves.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <ck_pr.h>

#include <causeway/error.h>

#include "backoff.h"
#include "bits.h"
#include "engine_internal.h"
#include "msg_internal.h"
#include "vec.h"

/* How long an idle worker spins before it yields and then parks. A time, not
 * a count of pauses: one pause takes ~25 ns on this machine's CPU and a few
 * ns on others. Measured here (engine_e2e, 2 cores): 5 us delivers ~15% more
 * than 50 us at 8 nodes and ~40% more at 64, where spinning workers take the
 * cores from those with work; 1 us parks too soon and wakes cost more. */
#define SPIN_NS 5000u

/* How long a worker with refused writes waiting (and nothing else to do)
 * parks before it looks at its nodes' applied counts again (see the park). */
#define REFUSED_CHECK_NS 1000000000u

/* Inbound messages are taken from the transport, and handed to each node,
 * this many at a time. */
#define INBOUND_BATCH 64

/* Batches a worker takes in one pass, per worker sending to it, before it
 * looks at its other work. */
#define INBOUND_ROUNDS 4

/* ---- delivery ---- */

/* Whether a client's put waits for en's lock (engine.c, "Combining").
 * Relaxed: a look; cw__engine_serve_put's exchange orders the call. */
static bool put_waits(void *ctx)
{
    enode *en = ctx;
    return atomic_load_explicit(&en->combine, memory_order_relaxed) != NULL;
}

/* A write its replica refused for now (rc: CW_EFULL, CW_ENOMEM): kept, with
 * its own reference, among the node's refused writes. r.msg is borrowed. */
static void keep_for_retry(worker *w, cw__route r, int rc)
{
    enode *en = &w->e->node[r.to];
    assert(en->w == w); /* the node's worker keeps its refusals (invariant 1) */
    /* Out of memory: wait rather than lose the write ... */
    cw__memory_wait mw = {.closing = &w->e->closed, .waiting = &w->e->memory_waits};
    while (!cw__retry_push(&en->refused, w->e->nodes, r.msg) && cw__memory_wait_more(&mw)) {
    }
    if (cw__memory_wait_end(&mw)) /* ... unless the engine is closing: nothing is delivered then */
        return;
    cw__msg_ref(r.msg);
    w->refused++;
    w->nomem |= rc == CW_ENOMEM;
}

/* A replica refused a message for good (see cw_engine.refused_rc): the
 * first such error is kept for quiesce to return; nothing is counted. */
static void refused_for_good(cw_engine *e, int rc)
{
    assert(!"a replica refused a message for good"); /* debug builds stop here */
    int none = 0;
    /* seq_cst, as quiesce's load: the error is seen by every later quiesce. */
    atomic_compare_exchange_strong(&e->refused_rc, &none, rc);
}

/* Hands r to its replica: the fault layer's cw__deliver_fn. r.msg is
 * borrowed: a reference is taken only if the write must wait (refused for
 * now: kept for retry). */
void cw__engine_deliver(void *host, uint32_t lane, cw__route r)
{
    cw_engine *e = host;
    worker *w = &e->w[lane];
    enode *en = &e->node[r.to];
    pthread_mutex_lock(&en->lock);
    int rc = cw_node_receive(en->node, r.msg, NULL, NULL);
    uint64_t tick = e->recovery ? cw_node_next_tick(en->node) : UINT64_MAX;
    cw__engine_unlock_serving(en);
    cw__worker_want_tick(w, tick);
    bool counted = cw__msg_counted(r.msg);
    if ((rc == CW_EFULL || rc == CW_ENOMEM) && counted) {
        keep_for_retry(w, r, rc);
        return;
    }
    if (!counted) /* recovery traffic: best effort, repeated by the replicas */
        return;
    if (rc != CW_OK) {
        refused_for_good(e, rc);
        return;
    }
    /* Release: this delivery's effects come before it is counted, for quiesce. */
    atomic_fetch_add_explicit(&w->consumed, 1, memory_order_release);
}

/* Whether node j takes m: every node but its origin takes a write or a
 * report; a pull or a retransmitted copy goes to its one destination. */
static inline bool is_for(const cw_msg *m, uint32_t j)
{
    return j != m->origin && (m->dest == CW__MSG_ALL || m->dest == j);
}

/* A message for this worker's nodes: one route per local node but the origin,
 * all borrowing the one reference the message arrived with. */
static void fan_in(worker *w, cw_msg *m)
{
    cw_engine *e = w->e;
    if (m->dest != CW__MSG_ALL) {
        if (m->dest < e->nodes && m->dest % e->workers == w->id && is_for(m, m->dest))
            cw__faults_route(&e->faults, w->id, (cw__route){.msg = m, .to = (cw_node_id)m->dest}, true);
    } else {
        for (uint32_t j = w->id; j < e->nodes; j += e->workers)
            if (j != m->origin)
                cw__faults_route(&e->faults, w->id, (cw__route){.msg = m, .to = (cw_node_id)j}, true);
    }
    cw__msg_unref(m);
}

static void recovery_between(worker *w);

/* A loss a message in a batch shows: its origin, and the message's place
 * among what the node is handed. */
typedef struct shown_loss {
    cw_node_id origin;
    size_t at;
} shown_loss;

/* Whether the engine is stopping: a pass ends early then, leaving what it
 * has not delivered (close drops it). Out of memory, every delivery and
 * every retry may cost failed allocations that each try the kernel (glibc
 * asks for a new heap under ulimit -v): finishing the pass took seconds.
 * Relaxed: a way out of the pass only; the loop's acquire of stop orders
 * the worker's exit. */
static bool stopping(const cw_engine *e) { return atomic_load_explicit(&e->stop, memory_order_relaxed); }

/* Delivers a batch of inbound messages (each holding one reference, which
 * this consumes) to every local node but each message's origin: one lock and
 * one cw_node_receive_many a node, one count of consumed deliveries a node.
 * A write the node refuses for now (CW_EFULL, CW_ENOMEM) goes on the retry
 * list with its own reference; the rest of the batch goes on. */
static void deliver_batch(worker *w, cw_msg **batch, size_t count, bool drops)
{
    cw_engine *e = w->e;
    cw_msg *mine[INBOUND_BATCH];
    for (uint32_t j = w->id; j < e->nodes && !stopping(e); j += e->workers) {
        if (e->recovery && !w->nested)
            recovery_between(w);
        enode *en = &e->node[j];
        size_t k = 0;
        shown_loss told[INBOUND_BATCH]; /* losses this batch shows */
        size_t tell = 0, told_done = 0;
        for (size_t i = 0; i < count; i++) {
            cw_msg *m = batch[i];
            if (!is_for(m, j))
                continue;
            if (drops && cw__faults_dropped_here(&e->faults, w->id, (cw__route){.msg = m, .to = (cw_node_id)j})) {
                if (en->lost_from && cw__msg_counted(m))
                    cw__bit_set(en->lost_from, m->origin);
                continue;
            }
            /* The origin's next write or report after one that was lost. */
            if (en->lost_from && cw__msg_vouches(m) && cw__bit_take(en->lost_from, m->origin))
                told[tell++] = (shown_loss){m->origin, k};
            mine[k++] = m;
        }
        for (size_t at = 0; at < k;) {
            size_t taken = 0;
            int rc = CW_OK;
            pthread_mutex_lock(&en->lock);
            /* The replica pauses when a client's put waits for the lock,
             * which is made then (engine.c, "Combining"), also within the
             * writes one arrival releases; what a pause left is applied
             * before the lock goes (node_internal.h). */
            while (rc == CW_OK && (taken < k - at || cw__node_paused(en->node))) {
                size_t got = 0;
                rc = cw__node_receive_many_pausable(en->node, mine + at + taken, k - at - taken, &got, NULL,
                                                    e->combine ? put_waits : NULL, en);
                taken += got;
                cw__engine_serve_put(en);
            }
            assert(!cw__node_paused(en->node)); /* an error comes with no pause */
            /* A link that numbers its messages would see each loss when the
             * origin's next message came: tell the replica, once it has
             * taken the origin's next write or report, which shows the gap
             * (cw__node_link_lost). */
            for (; told_done < tell && told[told_done].at < at + taken; told_done++)
                cw__node_link_lost(en->node, told[told_done].origin);
            uint64_t tick = e->recovery ? cw_node_next_tick(en->node) : UINT64_MAX;
            cw__engine_unlock_serving(en);
            cw__worker_want_tick(w, tick);
            size_t done = 0; /* deliveries owed among those taken (invariant 4) */
            for (size_t i = at; i < at + taken; i++)
                done += cw__msg_counted(mine[i]);
            at += taken;
            if (rc != CW_OK && !cw__msg_counted(mine[at])) {
                at++; /* recovery traffic refused: best effort, repeated by the replicas */
            } else if (rc == CW_EFULL || rc == CW_ENOMEM) {
                keep_for_retry(w, (cw__route){.msg = mine[at++], .to = (cw_node_id)j}, rc);
            } else if (rc != CW_OK) {
                refused_for_good(e, rc); /* not delivered: neither counted nor retried */
                at++;
            }
            /* The message the node did not take (kept for a retry, or
             * refused) tells of no loss: the next one from its origin will. */
            for (; told_done < tell && told[told_done].at < at; told_done++)
                cw__bit_set(en->lost_from, told[told_done].origin);
            /* Release: these deliveries' effects come before they are
             * counted, for quiesce. */
            if (done)
                atomic_fetch_add_explicit(&w->consumed, done, memory_order_release);
        }
    }
    for (size_t i = 0; i < count; i++)
        cw__msg_unref(batch[i]);
}

/* Hands messages (one reference each, consumed) to this worker's nodes:
 * in batches when routes are direct or only drops are decided, else one
 * route at a time through the fault layer. */
static void take_in(worker *w, cw_msg **msgs, size_t count)
{
    /* Drop alone decides per route without keeping anything: batches stay. */
    bool drops = cw__faults_drop_only(&w->e->faults);
    if (!drops && !cw__faults_direct(&w->e->faults)) {
        for (size_t i = 0; i < count; i++) {
            if (stopping(w->e))
                cw__msg_unref(msgs[i]);
            else
                fan_in(w, msgs[i]);
        }
        return;
    }
    for (size_t i = 0; i < count; i += INBOUND_BATCH)
        deliver_batch(w, msgs + i, count - i < INBOUND_BATCH ? count - i : INBOUND_BATCH, drops);
}

/* ---- recovery traffic and ticks ---- */

bool cw__worker_want_tick(worker *w, uint64_t at)
{
    /* Relaxed: a time, not a publication; the node state it is about is
     * read under the node's lock when the tick runs. */
    uint64_t cur = atomic_load_explicit(&w->tick_due, memory_order_relaxed);
    while (at < cur)
        if (atomic_compare_exchange_weak_explicit(&w->tick_due, &cur, at, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    return false;
}

/* Wakes every other worker: after sends to all of them. */
static void wake_others(worker *w)
{
    for (uint32_t v = 0; v < w->e->workers; v++)
        if (v != w->id)
            cw__transport_wake(w->e->t, v);
}

/* Room on l for n more messages, or false out of memory (l unchanged). */
static bool local_room(cw__local_list *l, size_t n)
{
    if (n <= l->cap - l->len)
        return true;
    cw_msg **room = cw__vec_reserve(l->msgs, l->len, &l->cap, n, sizeof *room);
    if (room)
        l->msgs = room;
    return room != NULL;
}

/* Keeps m (one reference, moved in) for this worker's own nodes: pulls and
 * retransmitted copies on the fast list, reports on the ordered one. Out of
 * memory it is lost: these are recovery traffic and reports, which the
 * replicas send again. (Writes come through send_outbox_first, which never
 * loses one.) */
static void send_local(worker *w, cw_msg *m)
{
    assert(!cw__msg_counted(m));
    cw__local_list *l = cw__msg_unordered(m) ? &w->fast : &w->local;
    if (!local_room(l, 1)) {
        cw__msg_unref(m);
        return;
    }
    l->msgs[l->len++] = m;
}

/* Sends the writes waiting in en's outbox (under en's lock, on its worker):
 * before anything else en sends, so its messages leave in the order it made
 * them. A report that overtook the writes it counts would make every peer
 * pull them as lost. This worker's own nodes get them through the local
 * list, ahead of what follows. `then` more sends follow on the transport
 * (the caller's own message). False, with nothing sent, when the local list
 * or the transport has no room for them all (out of memory): the writes
 * stay in the outbox, and the caller refuses what it was to send after them.
 * So the worker never waits for memory here, holding a lock that puts, the
 * statistics and the host's other calls at en need. A pass takes them:
 * each put sets the worker's flag after its write is in the outbox, and the
 * flag is cleared only by send_outboxes, which then takes every outbox. */
static bool send_outbox_first(enode *en, size_t then)
{
    cw_engine *e = en->e;
    worker *w = en->w;
    /* At most inbox_capacity writes, times the workers: no overflow. */
    size_t sends = en->out_len * (e->workers - 1) + then;
    /* Each other worker gets every outbox write, and at most one of the
     * `then` sends (a report goes to each, a pull or answer to one). */
    if (!cw__transport_reserve(e->t, w->id, sends, en->out_len + (then > 0)) || !local_room(&w->local, en->out_len))
        return false;
    if (!en->out_len)
        return true;
    for (size_t i = 0; i < en->out_len; i++) {
        cw__transport_send_all(e->t, w->id, en->outbox[i]);
        w->local.msgs[w->local.len++] = en->outbox[i]; /* the outbox's reference moves */
    }
    en->out_len = 0;
    wake_others(w);
    return true;
}

int cw__engine_send_to(void *ctx, uint32_t to, cw_msg *m)
{
    enode *en = ctx;
    cw_engine *e = en->e;
    worker *w = en->w;
    bool remote = to < e->nodes && e->node[to].w != w;
    if (!send_outbox_first(en, to == CW_NODE_ALL ? e->workers - 1 : remote))
        return CW_ENOMEM; /* refused: the replica sends m again */
    if (to == CW_NODE_ALL) {
        /* A report is refused while this worker's links are full (sends wait
         * on its pending list): the replica reports again an interval later.
         * The list holds writes bounded by inbox_capacity and the pulls and
         * answers that gaps ask for (backing off), but reports come every
         * interval from every node whatever the cores deliver: at 1000 nodes
         * they grew the list by ~90 MB/s after a single write. */
        if (cw__transport_sending(e->t, w->id))
            return CW_EFULL;
        cw__transport_send_all(e->t, w->id, m);
        wake_others(w);
        send_local(w, cw__msg_ref(m));
        return 0;
    }
    if (to >= e->nodes || to == en->id)
        return CW_EINVAL;
    /* A retransmitted copy's link is its sender's: decided here (fault.h). */
    if ((m->flags & CW__MSG_RETRANSMITTED) && cw__faults_send_lost(&e->faults, w->id, en->id, (cw_node_id)to))
        return 0; /* sent, and lost on the way */
    worker *tw = e->node[to].w;
    if (tw == w) {
        send_local(w, cw__msg_ref(m));
    } else {
        cw__transport_send(e->t, w->id, tw->id, m);
        cw__transport_wake(e->t, tw->id);
    }
    return 0;
}

/* Hands the messages on l to this worker's nodes, oldest first; what those
 * deliveries send waits for the next take. A take of l within its own
 * hand-over (a nested recovery_between) does nothing (in_hand). */
static bool take_list(worker *w, cw__local_list *l)
{
    if (!l->len || l->in_hand)
        return false;
    cw_msg **batch = l->msgs;
    size_t n = l->len, cap = l->cap;
    l->msgs = l->spare;
    l->cap = l->spare_cap;
    l->len = 0;
    l->in_hand = true;
    take_in(w, batch, n); /* in batches, as arrivals are */
    l->in_hand = false;
    l->spare = batch;
    l->spare_cap = cap;
    return true;
}

/* Hands what this worker's nodes sent each other to them: recovery traffic
 * (the fast list), then the ordered list, which waits while a batch in hand
 * holds its nodes' writes (holds_own: recovery_between). Within a hand-over
 * of either, that list's own take does nothing (in_hand). */
static bool take_local(worker *w)
{
    bool did = take_list(w, &w->fast);
    if (w->holds_own || !w->local.len)
        return did;
    w->holds_own = true; /* the list may hold its nodes' writes */
    did |= take_list(w, &w->local);
    w->holds_own = false;
    return did;
}

/* Hands its nodes the recovery traffic that came while this worker delivers
 * a batch: pulls and answers from other workers (the transport's lane) and
 * from its own nodes (the fast list), then the rest its own nodes sent each
 * other (the local list). Called between two nodes' shares of a batch,
 * with no node's lock held, and not within itself: a pull and its answer
 * each wait for one node's share of a batch, not for whole batches (at 64
 * nodes a batch is ~2,000 deliveries). The local list waits while the
 * batch holds writes of this worker's own nodes (holds_own): an answer
 * sends its node's newer writes ahead of itself (send_outbox_first),
 * through that list, and they must not reach their node's siblings before
 * the older ones in hand. The fast list need not: a pull or a
 * retransmitted copy keeps no order with writes (with one worker its
 * answers waited for the end of every pass; docs/performance.md, "A drain
 * that lets the client in"). */
static void recovery_between(worker *w)
{
    cw_msg *batch[INBOUND_BATCH];
    size_t n = cw__transport_take_recovery(w->e->t, w->id, batch, INBOUND_BATCH);
    if (!n && !w->fast.len && (!w->local.len || w->holds_own))
        return;
    w->nested = true;
    take_in(w, batch, n);
    take_local(w); /* the fast list even while holds_own: it keeps no order */
    w->nested = false;
}

/* Ticks this worker's nodes whose tick is due: pulls, reports, stability
 * rounds. Whether any tick ran. */
static bool tick_nodes(worker *w, uint64_t now)
{
    cw_engine *e = w->e;
    /* Relaxed: see cw__worker_want_tick. Taken whole: a put lowering it
     * meanwhile keeps its value, min'ed with what the scan finds. */
    if (atomic_load_explicit(&w->tick_due, memory_order_relaxed) > now)
        return false;
    atomic_store_explicit(&w->tick_due, UINT64_MAX, memory_order_relaxed);
    uint64_t next = UINT64_MAX;
    bool did = false;
    for (uint32_t j = w->id; j < e->nodes; j += e->workers) {
        enode *en = &e->node[j];
        pthread_mutex_lock(&en->lock);
        uint64_t at = cw_node_next_tick(en->node);
        if (at <= now) {
            cw_node_tick(en->node, now, &at);
            did = true;
        }
        cw__engine_unlock_serving(en);
        next = at < next ? at : next;
    }
    cw__worker_want_tick(w, next);
    return did;
}

/* Takes the writes this worker's nodes made and sends them on. */
static bool send_outboxes(worker *w)
{
    /* Acquire: pairs with cw_engine_put's release exchange of the flag; as
     * an RMW this reads the end of the chain of puts' exchanges, so it
     * synchronises with every put that found the flag set, too. */
    if (!atomic_exchange_explicit(&w->outbox_dirty, 0, memory_order_acquire))
        return false;
    cw_engine *e = w->e;
    for (uint32_t j = w->id; j < e->nodes; j += e->workers) {
        enode *en = &e->node[j];
        /* Older writes of this node that a send took from its outbox
         * (send_outbox_first, from a tick or an answer) may wait on the
         * local list: they reach its siblings before the newer ones taken
         * here, which would otherwise wait in their buffers for them. */
        take_local(w);
        pthread_mutex_lock(&en->lock);
        size_t n = en->out_len; /* take it whole: O(1) a write */
        memcpy(w->taken, en->outbox, n * sizeof *w->taken);
        en->out_len = 0;
        cw__engine_unlock_serving(en); /* a put made here leaves at the next pass */
        if (!n)
            continue;
        for (size_t i = 0; i < n; i++)
            cw__transport_send_all(e->t, w->id, w->taken[i]);
        wake_others(w); /* once per batch, not per write */
        w->holds_own = true;
        take_in(w, w->taken, n); /* this worker's own nodes; consumes the outbox's references */
        w->holds_own = false;
    }
    return true;
}

static bool drain_inbound(worker *w)
{
    bool did = false;
    for (uint32_t round = 0; round < INBOUND_ROUNDS * (w->e->workers - 1) && !stopping(w->e);
         round++) { /* the other workers send */
        cw_msg *batch[INBOUND_BATCH];
        size_t count = cw__transport_take(w->e->t, w->id, batch, INBOUND_BATCH);
        if (!count)
            break;
        did = true;
        take_in(w, batch, count);
        /* Recovery traffic between this worker's own nodes (a pull, its
         * answer) goes between batches too, not once a pass: at 64 nodes a
         * pass of full batches outlasted the pull's timeout, and pulls
         * repeated (docs/performance.md, "A lane for recovery traffic"). */
        if (w->e->recovery)
            take_local(w);
    }
    return did;
}

typedef struct offer {
    worker *w;
    enode *en;
    bool nomem;                     /* a write was refused for memory */
} offer;

/* Offers one refused write to its replica again (cw__retry_offer's take):
 * true if it took it (delivered, buffered, or a duplicate), counted done. */
static bool take_refused(void *ctx, cw_msg *m)
{
    offer *o = ctx;
    pthread_mutex_lock(&o->en->lock);
    int rc = cw_node_receive(o->en->node, m, NULL, NULL);
    pthread_mutex_unlock(&o->en->lock);
    if (rc == CW_EFULL || rc == CW_ENOMEM) {
        o->nomem |= rc == CW_ENOMEM;
        return false;
    }
    if (rc != CW_OK) {
        refused_for_good(o->w->e, rc);
        return true; /* out of the retry list, not counted */
    }
    /* Release: this delivery's effects come before it is counted, for quiesce. */
    atomic_fetch_add_explicit(&o->w->consumed, 1, memory_order_release);
    return true;
}

/* Offers the writes this worker's nodes refused again: at each node that
 * applied a write since its last offer (its buffer may have room now), or at
 * every node with some when `all` (after a refusal for memory, which may
 * come back at any time). Whether any was taken. */
static bool retry_refused(worker *w, bool all)
{
    cw_engine *e = w->e;
    bool took = false, nomem = false;
    for (uint32_t j = w->id; j < e->nodes && w->refused && !stopping(e); j += e->workers) {
        enode *en = &e->node[j];
        /* Relaxed: a hint (on_apply's increment); the offer itself runs
         * under the node's lock. */
        uint64_t applied = atomic_load_explicit(&en->applied, memory_order_relaxed);
        if (!en->refused.count || (!all && applied == en->retried_at))
            continue;
        en->retried_at = applied;
        offer o = {w, en, false};
        size_t taken = cw__retry_offer(&en->refused, take_refused, &o);
        w->refused -= taken;
        took |= taken > 0;
        nomem |= o.nomem;
    }
    /* After offering every node's, nomem is what this pass met; otherwise
     * the nodes not offered keep theirs. */
    w->nomem = w->refused && (all ? nomem : w->nomem || nomem);
    return took;
}

/* Asks each of this worker's nodes for its report now, when quiesce asked
 * (cw__node_report_now); tick_nodes sends them. Whether it was asked. */
static bool ask_reports(worker *w)
{
    cw_engine *e = w->e;
    /* Relaxed: a hint (engine_internal.h); the nodes are read under their locks. */
    uint64_t asked = atomic_load_explicit(&e->reports_asked_ns, memory_order_relaxed);
    if (asked == w->reports_seen)
        return false;
    w->reports_seen = asked;
    for (uint32_t j = w->id; j < e->nodes; j += e->workers) {
        enode *en = &e->node[j];
        pthread_mutex_lock(&en->lock);
        cw__node_report_now(en->node);
        uint64_t tick = cw_node_next_tick(en->node);
        cw__engine_unlock_serving(en);
        cw__worker_want_tick(w, tick);
    }
    return true;
}

static bool has_work(worker *w)
{
    /* Relaxed: hints; the work itself is taken with its own ordering. */
    if (atomic_load_explicit(&w->outbox_dirty, memory_order_relaxed) ||
        atomic_load_explicit(&w->e->reports_asked_ns, memory_order_relaxed) != w->reports_seen ||
        atomic_load_explicit(&w->e->stop, memory_order_relaxed) || w->local.len || w->fast.len ||
        atomic_load_explicit(&w->tick_due, memory_order_relaxed) <= cw__now_ns())
        return true;
    return cw__transport_arrived(w->e->t, w->id) || cw__faults_pending(&w->e->faults, w->id, cw__now_ns());
}

void *cw__worker_main(void *arg)
{
    worker *w = arg;
    cw_engine *e = w->e;
    unsigned yields = 0;
    uint64_t idle_since = 0; /* 0: the last pass did work */
    uint64_t backoff_ns = 20000;
    /* Acquire: pairs with the release store of stop in shutdown. */
    while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
        bool did = cw__faults_take_released(&e->faults, w->id);
        did |= send_outboxes(w);
        if (cw__transport_sending(e->t, w->id))
            did |= cw__transport_flush(e->t, w->id);
        did |= drain_inbound(w);
        did |= cw__faults_release_due(&e->faults, w->id);
        if (w->refused)
            did |= retry_refused(w, w->nomem);
        if (e->recovery) {
            did |= take_local(w);
            did |= ask_reports(w);
            did |= tick_nodes(w, cw__now_ns());
        }
        if (did) {
            idle_since = 0;
            yields = 0;
            backoff_ns = 20000;
            continue;
        }
        /* Spin briefly (SPIN_NS of pauses), yield a little, then park: on
         * a machine with fewer cores than workers, spinning longer only
         * takes the CPU from the threads that have work. */
        uint64_t t = cw__now_ns();
        if (!idle_since)
            idle_since = t;
        if (t - idle_since < SPIN_NS) {
            for (int i = 0; i < 8; i++)
                ck_pr_stall(); /* the CPU's spin-wait hint (pause on x86, yield on arm) */
            continue;
        }
        if (yields++ < 8) {
            sched_yield();
            continue;
        }
        uint32_t ticket = cw__transport_park_prepare(e->t, w->id);
        if (has_work(w)) {
            cw__transport_park_cancel(e->t, w->id);
            continue;
        }
        /* Park: until woken, the next delayed delivery is due, or (with a
         * full link or writes refused for memory waiting) a growing
         * back-off. Writes refused for a full buffer need no timer: only
         * an application at their node makes room, and this worker makes
         * those after it is woken; but for one a put finishes (a delivery
         * that ran out of memory), a pass a second while any wait. */
        uint64_t timeout = 0, due = cw__faults_next_due(&e->faults, w->id);
        /* Relaxed: see cw__worker_want_tick; a put that lowers it after
         * this read wakes the worker. */
        uint64_t tick = atomic_load_explicit(&w->tick_due, memory_order_relaxed);
        if (tick != UINT64_MAX && (!due || tick < due))
            due = tick;
        if (due) {
            uint64_t now = cw__now_ns();
            timeout = due > now ? due - now : 1;
        }
        if (cw__transport_sending(e->t, w->id) || w->nomem) {
            timeout = timeout && timeout < backoff_ns ? timeout : backoff_ns;
            backoff_ns = backoff_ns < 1000000 ? backoff_ns * 2 : 1000000;
        } else if (w->refused && (!timeout || timeout > REFUSED_CHECK_NS)) {
            timeout = REFUSED_CHECK_NS;
        }
        cw__transport_park_wait(e->t, w->id, ticket, timeout);
    }
    return NULL;
}
