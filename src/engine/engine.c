/* The engine: replicas on worker threads, queues between workers, the fault
 * layer, link holds, quiescence.
 *
 * Invariants:
 *  1. A node's cw_node is touched only under its lock: by its worker
 *     delivering, or by a client's put/get/stats.
 *  2. Queue w->in[src] has one producer (worker src) and one consumer
 *     (worker w). A write crosses one queue per destination worker, carrying
 *     one reference; that worker fans it out to its nodes.
 *  3. Nothing accepted is lost: a full queue keeps the rest of a fan-out on
 *     the producing worker (pending_out), which keeps consuming meanwhile, so
 *     two workers full towards each other still drain each other; a write a
 *     replica refuses with CW_EFULL waits on its worker's retry list; a put
 *     blocks while its node has inbox_capacity writes not yet sent.
 *  4. produced counts deliveries owed (nodes - 1 per put, +1 per injected
 *     duplicate, +k when a hold releases k messages); each worker's consumed
 *     counts deliveries done and messages parked on held links. Quiescence
 *     reads every consumed before produced, so equality cannot be a false
 *     positive (a delivery is always produced before it is consumed).
 *  5. Fault decisions hash (seed, from, to, seq, copy): the same seed makes
 *     the same decisions whatever the thread timing.
 *  6. Idle workers spin briefly, then park on a futex; publishing work wakes
 *     the worker it is for (park.h).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <causeway/engine.h>
#include <causeway/error.h>

#include "histogram.h"
#include "map.h"
#include "msg_internal.h"
#include "node_internal.h"
#include "park.h"
#include "queue.h"

/* How long an idle worker spins before it yields and then parks. A time, not
 * a count of pauses: one pause takes ~25 ns on this machine's CPU and a few
 * ns on others. Measured here (engine_e2e, 2 cores): 5 us delivers ~15% more
 * than 50 us at 8 nodes and ~40% more at 64, where spinning workers take the
 * cores from those with work; 1 us parks too soon and wakes cost more. */
#define SPIN_NS 5000u

/* Inbound messages are taken from a queue, and handed to each node, this
 * many at a time. */
#define INBOUND_BATCH 64

typedef struct route {
    cw_msg *msg;          /* one reference, owned by the route */
    cw_node_id to;
    uint32_t copy;        /* 0: the original; 1: an injected duplicate */
} route;

typedef struct timed {
    uint64_t due_ns;
    route r;
} timed;

typedef struct vec {      /* a growable array of routes */
    route *r;
    size_t len, cap;
} vec;

typedef struct outgoing {
    cw_msg *msg;
    uint32_t worker;
} outgoing;

typedef struct worker worker;

typedef struct enode {
    pthread_mutex_t lock;
    pthread_cond_t space;           /* the outbox drained (put backpressure) */
    cw_node *node;
    cw_msg **outbox;                /* written, not yet fanned out; under lock */
    size_t out_len, out_cap;
    cw_engine *e;
    cw_node_id id;
    worker *w;
    cw__histogram replication;      /* atomic adds from any worker */
} enode;

struct worker {
    cw_engine *e;
    uint32_t id;
    pthread_t thread;
    bool started;
    cw__parker park;
    cw__queue **in;                 /* in[src], NULL for src == id */
    _Atomic uint32_t outbox_dirty;  /* a local node has writes to send */
    cw_msg **taken;                 /* a node's outbox, taken whole (outbox_limit entries) */
    outgoing *pending_out;          /* fan-out a full queue refused, in order */
    size_t pout_len, pout_cap;
    timed *delayed;                 /* min-heap by due_ns */
    size_t dlen, dcap;
    vec retry;                      /* refused with CW_EFULL */
    pthread_mutex_t control_lock;   /* released holds, from client threads */
    vec control;
    _Atomic uint32_t control_len;
    _Atomic uint64_t consumed;
};

typedef struct hold {
    cw_node_id from, to;
    bool held;
    vec q;                          /* messages kept while held, in order */
} hold;

struct cw_engine {
    cw_engine_options o;
    uint32_t nodes, workers, ring_capacity, outbox_limit;
    enode *node;
    worker *w;
    _Atomic uint64_t produced;
    _Atomic bool closed;
    _Atomic uint32_t active;
    _Atomic bool stop;
    pthread_mutex_t shutdown_lock;  /* one shutdown at a time */
    bool down;
    pthread_mutex_t holds_lock;
    _Atomic uint32_t holds_active;  /* links held now; 0 skips the hold table */
    cw__map holds;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* For an array of `len` elements in `cap` slots: the array with room for one
 * more (doubling, from 64), or NULL if memory ran out (array unchanged). */
static void *room_for_one(void *array, size_t len, size_t *cap, size_t elem)
{
    if (len < *cap)
        return array;
    size_t grown_cap = *cap ? *cap * 2 : 64;
    void *grown = realloc(array, grown_cap * elem);
    if (grown)
        *cap = grown_cap;
    return grown;
}

static bool vec_push(vec *v, route r)
{
    route *room = room_for_one(v->r, v->len, &v->cap, sizeof *room);
    if (!room)
        return false;
    v->r = room;
    v->r[v->len++] = r;
    return true;
}

static void vec_release(vec *v)
{
    for (size_t i = 0; i < v->len; i++)
        cw__msg_unref(v->r[i].msg);
    free(v->r);
    *v = (vec){0};
}

/* ---- fault layer ---- */

static double fault_draw(const cw_engine *e, const cw_msg *m, cw_node_id to, uint32_t copy, uint32_t what)
{
    uint64_t x = e->o.seed ^ cw__hash_u64(((uint64_t)m->origin << 48) ^ ((uint64_t)to << 32) ^
                                          ((uint64_t)copy << 8) ^ what);
    x = cw__hash_u64(x ^ m->seq * 0x9e3779b97f4a7c15u);
    return (double)(x >> 11) * 0x1p-53;
}

/* ---- delivery ---- */

static void deliver_owned(worker *w, route r);

static void heap_push(worker *w, timed t)
{
    timed *room = room_for_one(w->delayed, w->dlen, &w->dcap, sizeof *room);
    if (!room) { /* cannot delay: deliver now rather than lose it */
        deliver_owned(w, t.r);
        return;
    }
    w->delayed = room;
    size_t i = w->dlen++;
    while (i && w->delayed[(i - 1) / 2].due_ns > t.due_ns) {
        w->delayed[i] = w->delayed[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->delayed[i] = t;
}

static timed heap_pop(worker *w)
{
    timed top = w->delayed[0], last = w->delayed[--w->dlen];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->dlen)
            break;
        if (c + 1 < w->dlen && w->delayed[c + 1].due_ns < w->delayed[c].due_ns)
            c++;
        if (w->delayed[c].due_ns >= last.due_ns)
            break;
        w->delayed[i] = w->delayed[c];
        i = c;
    }
    if (w->dlen)
        w->delayed[i] = last;
    return top;
}

/* A write its replica refused for now (CW_EFULL, CW_ENOMEM): kept, with its
 * own reference, on the worker's retry list. r.msg is borrowed. */
static void keep_for_retry(worker *w, route r)
{
    while (!vec_push(&w->retry, r)) /* out of memory: wait rather than lose the write */
        sched_yield();
    cw__msg_ref(r.msg);
}

/* Hands r to its replica. r.msg is borrowed: a reference is taken only if
 * the write must wait (refused for now: kept for retry). */
static void deliver(worker *w, route r)
{
    enode *en = &w->e->node[r.to];
    pthread_mutex_lock(&en->lock);
    int rc = cw_node_receive(en->node, r.msg, NULL, NULL);
    pthread_mutex_unlock(&en->lock);
    if (rc == CW_EFULL || rc == CW_ENOMEM) {
        keep_for_retry(w, r);
        return;
    }
    /* Release: this delivery's effects come before it is counted, for quiesce. */
    atomic_fetch_add_explicit(&w->consumed, 1, memory_order_release);
}

/* Delivers a route that owns its reference (delayed, held, retried). */
static void deliver_owned(worker *w, route r)
{
    deliver(w, r);
    cw__msg_unref(r.msg);
}

static bool hold_eq(const void *item, const void *key)
{
    const hold *h = item;
    return ((uint64_t)h->from << 16 | h->to) == *(const uint64_t *)key;
}

/* Routes one delivery through holds and faults to its replica. r.msg is
 * borrowed; a reference is taken whenever the route is kept for later. */
static void route_one(worker *w, route r, bool faults)
{
    cw_engine *e = w->e;
    if (atomic_load_explicit(&e->holds_active, memory_order_acquire)) {
        pthread_mutex_lock(&e->holds_lock);
        uint64_t key = (uint64_t)r.msg->origin << 16 | r.to;
        hold *h = cw__map_find(&e->holds, cw__hash_u64(key), hold_eq, &key);
        bool kept = h && h->held;
        while (kept && !vec_push(&h->q, r)) /* out of memory: wait rather than drop the hold */
            sched_yield();
        if (kept)
            cw__msg_ref(r.msg); /* the hold queue's own reference */
        pthread_mutex_unlock(&e->holds_lock);
        if (kept) { /* out of flight until released (invariant 4) */
            atomic_fetch_add_explicit(&w->consumed, 1, memory_order_release);
            return;
        }
    }
    if (faults && r.copy == 0 && e->o.duplicate_probability > 0 &&
        fault_draw(e, r.msg, r.to, 0, 1) < e->o.duplicate_probability) {
        atomic_fetch_add_explicit(&e->produced, 1, memory_order_relaxed);
        route_one(w, (route){r.msg, r.to, 1}, true);
    }
    if (faults && e->o.delay_probability > 0 && e->o.max_delay_us &&
        fault_draw(e, r.msg, r.to, r.copy, 2) < e->o.delay_probability) {
        uint64_t delay = (uint64_t)(fault_draw(e, r.msg, r.to, r.copy, 3) * e->o.max_delay_us * 1000.0);
        heap_push(w, (timed){now_ns() + delay, (route){cw__msg_ref(r.msg), r.to, r.copy}});
        return;
    }
    deliver(w, r);
}

/* A message for this worker's nodes: one route per local node but the origin,
 * all borrowing the one reference the message arrived with. */
static void fan_in(worker *w, cw_msg *m)
{
    cw_engine *e = w->e;
    for (uint32_t j = w->id; j < e->nodes; j += e->workers)
        if (j != m->origin)
            route_one(w, (route){m, (cw_node_id)j, 0}, true);
    cw__msg_unref(m);
}

static bool push_out(worker *w, cw_msg *m, uint32_t v)
{
    if (w->pout_len == 0 && cw__queue_push(w->e->w[v].in[w->id], m))
        return true;
    outgoing *room = room_for_one(w->pending_out, w->pout_len, &w->pout_cap, sizeof *room);
    if (!room)
        return false;
    w->pending_out = room;
    w->pending_out[w->pout_len++] = (outgoing){m, v};
    return true;
}

/* Sends one write to every other worker (one reference each); the caller
 * wakes them. */
static void fan_out(worker *w, cw_msg *m)
{
    cw_engine *e = w->e;
    for (uint32_t v = 0; v < e->workers; v++) {
        if (v == w->id)
            continue;
        cw__msg_ref(m);
        while (!push_out(w, m, v)) /* out of memory: wait for it rather than lose the write */
            sched_yield();
    }
}

/* Retries the fan-out a full queue refused, in order. */
static bool flush_pending_out(worker *w)
{
    size_t done = 0;
    while (done < w->pout_len) {
        outgoing o = w->pending_out[done];
        if (!cw__queue_push(w->e->w[o.worker].in[w->id], o.msg))
            break;
        cw__park_wake(&w->e->w[o.worker].park);
        done++;
    }
    memmove(w->pending_out, w->pending_out + done, (w->pout_len - done) * sizeof *w->pending_out);
    w->pout_len -= done;
    return done > 0;
}

/* Whether inbound messages may skip route_one: no link is held and the fault
 * layer is off. Acquire: pairs with cw_engine_hold_link's release, as in
 * route_one; a hold placed meanwhile applies from the next batch on. */
static bool direct_routes(const cw_engine *e)
{
    return !atomic_load_explicit(&e->holds_active, memory_order_acquire) &&
           !(e->o.duplicate_probability > 0) && !(e->o.delay_probability > 0 && e->o.max_delay_us);
}

/* Delivers a batch of inbound messages (each holding one reference, which
 * this consumes) to every local node but each message's origin: one lock and
 * one cw_node_receive_many a node, one count of consumed deliveries a node.
 * A write the node refuses for now (CW_EFULL, CW_ENOMEM) goes on the retry
 * list with its own reference; the rest of the batch goes on. */
static void deliver_batch(worker *w, cw_msg **batch, size_t count)
{
    cw_engine *e = w->e;
    cw_msg *mine[INBOUND_BATCH];
    for (uint32_t j = w->id; j < e->nodes; j += e->workers) {
        size_t k = 0;
        for (size_t i = 0; i < count; i++)
            if (batch[i]->origin != j)
                mine[k++] = batch[i];
        enode *en = &e->node[j];
        for (size_t at = 0; at < k;) {
            size_t taken = 0;
            pthread_mutex_lock(&en->lock);
            int rc = cw_node_receive_many(en->node, mine + at, k - at, &taken, NULL);
            pthread_mutex_unlock(&en->lock);
            at += taken;
            if (rc == CW_EFULL || rc == CW_ENOMEM) {
                keep_for_retry(w, (route){mine[at++], (cw_node_id)j, 0});
            } else if (rc != CW_OK) {
                at++;    /* refused for good (as deliver does): */
                taken++; /* counted, not retried */
            }
            /* Release: these deliveries' effects come before they are
             * counted, for quiesce. */
            if (taken)
                atomic_fetch_add_explicit(&w->consumed, taken, memory_order_release);
        }
    }
    for (size_t i = 0; i < count; i++)
        cw__msg_unref(batch[i]);
}

/* Hands messages (one reference each, consumed) to this worker's nodes:
 * in batches when routes are direct, else one route at a time. */
static void take_in(worker *w, cw_msg **msgs, size_t count)
{
    if (!direct_routes(w->e)) {
        for (size_t i = 0; i < count; i++)
            fan_in(w, msgs[i]);
        return;
    }
    for (size_t i = 0; i < count; i += INBOUND_BATCH)
        deliver_batch(w, msgs + i, count - i < INBOUND_BATCH ? count - i : INBOUND_BATCH);
}

/* Takes the writes this worker's nodes made and sends them on. */
static bool send_outboxes(worker *w)
{
    if (!atomic_exchange_explicit(&w->outbox_dirty, 0, memory_order_acquire))
        return false;
    cw_engine *e = w->e;
    for (uint32_t j = w->id; j < e->nodes; j += e->workers) {
        enode *en = &e->node[j];
        pthread_mutex_lock(&en->lock);
        size_t n = en->out_len; /* take it whole: O(1) a write */
        memcpy(w->taken, en->outbox, n * sizeof *w->taken);
        en->out_len = 0;
        if (n)
            pthread_cond_broadcast(&en->space);
        pthread_mutex_unlock(&en->lock);
        if (!n)
            continue;
        for (size_t i = 0; i < n; i++)
            fan_out(w, w->taken[i]);
        for (uint32_t v = 0; v < e->workers; v++) /* once per batch, not per write */
            if (v != w->id)
                cw__park_wake(&e->w[v].park);
        take_in(w, w->taken, n); /* this worker's own nodes; consumes the outbox's references */
    }
    return true;
}

static bool drain_inbound(worker *w)
{
    bool did = false;
    for (uint32_t src = 0; src < w->e->workers; src++) {
        cw__queue *q = w->in[src];
        for (int round = 0; q && round < 4; round++) {
            cw_msg *batch[INBOUND_BATCH];
            size_t count = 0;
            void *m;
            while (count < INBOUND_BATCH && cw__queue_pop(q, &m))
                batch[count++] = m;
            if (!count)
                break;
            did = true;
            take_in(w, batch, count);
        }
    }
    return did;
}

static bool release_due(worker *w)
{
    if (!w->dlen)
        return false;
    uint64_t now = now_ns();
    bool did = false;
    while (w->dlen && w->delayed[0].due_ns <= now) {
        route r = heap_pop(w).r;
        route_one(w, r, false); /* a link held meanwhile keeps it */
        cw__msg_unref(r.msg);
        did = true;
    }
    return did;
}

static bool drain_control(worker *w)
{
    if (!atomic_load_explicit(&w->control_len, memory_order_acquire))
        return false;
    pthread_mutex_lock(&w->control_lock);
    vec v = w->control;
    w->control = (vec){0};
    atomic_store_explicit(&w->control_len, 0, memory_order_relaxed);
    pthread_mutex_unlock(&w->control_lock);
    for (size_t i = 0; i < v.len; i++) {
        route_one(w, v.r[i], false);
        cw__msg_unref(v.r[i].msg);
    }
    free(v.r);
    return true;
}

static void retry_refused(worker *w)
{
    vec v = w->retry;
    w->retry = (vec){0};
    for (size_t i = 0; i < v.len; i++)
        deliver_owned(w, v.r[i]); /* a refusal goes back on w->retry with its own reference */
    free(v.r);
}

static bool has_work(worker *w)
{
    if (atomic_load_explicit(&w->outbox_dirty, memory_order_relaxed) ||
        atomic_load_explicit(&w->control_len, memory_order_relaxed) ||
        atomic_load_explicit(&w->e->stop, memory_order_relaxed))
        return true;
    for (uint32_t src = 0; src < w->e->workers; src++)
        if (w->in[src] && cw__queue_size(w->in[src]))
            return true;
    return w->dlen && w->delayed[0].due_ns <= now_ns();
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    unsigned yields = 0;
    uint64_t idle_since = 0; /* 0: the last pass did work */
    uint64_t backoff_ns = 20000;
    while (!atomic_load_explicit(&w->e->stop, memory_order_acquire)) {
        bool did = drain_control(w);
        did |= send_outboxes(w);
        if (w->pout_len)
            did |= flush_pending_out(w);
        did |= drain_inbound(w);
        did |= release_due(w);
        if (did) {
            if (w->retry.len)
                retry_refused(w);
            idle_since = 0;
            yields = 0;
            backoff_ns = 20000;
            continue;
        }
        /* Spin briefly (SPIN_NS of pauses), yield a little, then park: on
         * a machine with fewer cores than workers, spinning longer only
         * takes the CPU from the threads that have work. */
        uint64_t t = now_ns();
        if (!idle_since)
            idle_since = t;
        if (t - idle_since < SPIN_NS) {
            for (int i = 0; i < 8; i++)
                __builtin_ia32_pause();
            continue;
        }
        if (yields++ < 8) {
            sched_yield();
            continue;
        }
        uint32_t epoch = cw__park_prepare(&w->park);
        if (has_work(w)) {
            cw__park_cancel(&w->park);
            continue;
        }
        /* Park: until woken, the next delayed delivery is due, or (with a
         * full queue or refused writes waiting) a growing back-off. */
        uint64_t timeout = 0;
        if (w->dlen) {
            uint64_t now = now_ns();
            timeout = w->delayed[0].due_ns > now ? w->delayed[0].due_ns - now : 1;
        }
        if (w->pout_len || w->retry.len) {
            timeout = timeout && timeout < backoff_ns ? timeout : backoff_ns;
            backoff_ns = backoff_ns < 1000000 ? backoff_ns * 2 : 1000000;
            if (w->retry.len)
                retry_refused(w);
        }
        cw__park_wait(&w->park, epoch, timeout);
    }
    return NULL;
}

/* ---- callbacks from the replicas (under the node's lock) ---- */

static int on_send(void *ctx, cw_msg *m)
{
    enode *en = ctx;
    cw_engine *e = en->e;
    if (e->nodes == 1) /* nobody to send to: nothing to keep */
        return CW_OK;
    m->born_ns = now_ns();
    atomic_store_explicit(&m->unapplied, e->nodes - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->produced, e->nodes - 1, memory_order_relaxed);
    en->outbox[en->out_len++] = cw__msg_ref(m); /* room reserved by put */
    return CW_OK; /* never refuses: put reserved the room */
}

static void on_apply(void *ctx, const cw_msg *m)
{
    enode *en = ctx;
    cw_engine *e = en->e;
    if (m->origin != en->id &&
        atomic_fetch_sub_explicit(&((cw_msg *)(uintptr_t)m)->unapplied, 1, memory_order_relaxed) == 1) {
        uint64_t now = now_ns();
        cw__hist_add_atomic(&e->node[m->origin].replication, now > m->born_ns ? now - m->born_ns : 0);
    }
    if (e->o.on_apply)
        e->o.on_apply(e->o.apply_ctx, en->id, m);
}

/* ---- lifecycle ---- */

void cw_engine_options_init(cw_engine_options *o)
{
    if (o) {
        *o = (cw_engine_options){0};
        o->nodes = 1;
    }
}

static void free_hold(void *item, void *ctx)
{
    (void)ctx;
    hold *h = item;
    vec_release(&h->q);
    free(h);
}

static void destroy(cw_engine *e)
{
    for (uint32_t v = 0; e->w && v < e->workers; v++) {
        worker *w = &e->w[v];
        for (uint32_t src = 0; w->in && src < e->workers; src++) {
            void *m;
            while (w->in[src] && cw__queue_pop(w->in[src], &m))
                cw__msg_unref(m);
            cw__queue_destroy(w->in[src]);
        }
        free(w->in);
        free(w->taken);
        for (size_t i = 0; i < w->pout_len; i++)
            cw__msg_unref(w->pending_out[i].msg);
        free(w->pending_out);
        for (size_t i = 0; i < w->dlen; i++)
            cw__msg_unref(w->delayed[i].r.msg);
        free(w->delayed);
        vec_release(&w->retry);
        vec_release(&w->control);
        pthread_mutex_destroy(&w->control_lock);
    }
    for (uint32_t j = 0; e->node && j < e->nodes; j++) {
        enode *en = &e->node[j];
        for (size_t i = 0; i < en->out_len; i++)
            cw__msg_unref(en->outbox[i]);
        free(en->outbox);
        cw_node_destroy(en->node);
        pthread_mutex_destroy(&en->lock);
        pthread_cond_destroy(&en->space);
    }
    cw__map_each(&e->holds, free_hold, NULL);
    cw__map_destroy(&e->holds);
    pthread_mutex_destroy(&e->holds_lock);
    pthread_mutex_destroy(&e->shutdown_lock);
    free(e->node);
    free(e->w);
    free(e);
}

static int open_node(cw_engine *e, uint32_t j)
{
    enode *en = &e->node[j];
    en->e = e;
    en->id = (cw_node_id)j;
    en->w = &e->w[j % e->workers];
    pthread_mutex_init(&en->lock, NULL);
    pthread_cond_init(&en->space, NULL);
    en->out_cap = e->outbox_limit + 1;
    en->outbox = malloc(en->out_cap * sizeof *en->outbox);
    cw_node_options no;
    cw_node_options_init(&no);
    no.self = (cw_node_id)j;
    no.nodes = e->nodes;
    no.policy = e->o.policy;
    no.merge = e->o.merge;
    no.merge_ctx = e->o.merge_ctx;
    if (e->o.max_key_len)
        no.max_key_len = e->o.max_key_len;
    if (e->o.max_value_len)
        no.max_value_len = e->o.max_value_len;
    if (e->o.max_buffered)
        no.max_buffered = e->o.max_buffered;
    no.send = on_send;
    no.send_ctx = en;
    no.on_apply = on_apply;
    no.apply_ctx = en;
    if (!en->outbox)
        return CW_ENOMEM;
    return cw_node_create(&en->node, &no);
}

int cw_engine_open(cw_engine **out, const cw_engine_options *o)
{
    if (!out || !o || o->nodes == 0 || o->nodes > CW_VCLOCK_MAX_ENTRIES || o->workers > o->nodes ||
        !(o->delay_probability >= 0 && o->delay_probability <= 1) ||
        !(o->duplicate_probability >= 0 && o->duplicate_probability <= 1) ||
        (unsigned)o->policy > CW_MERGE_CALLBACK || (o->policy == CW_MERGE_CALLBACK && !o->merge))
        return CW_EINVAL;
    cw_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CW_ENOMEM;
    e->o = *o;
    e->nodes = o->nodes;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    e->workers = o->workers ? o->workers : o->nodes <= 64 ? o->nodes : (uint32_t)(cpus > 0 ? cpus : 1);
    uint32_t capacity = o->inbox_capacity ? o->inbox_capacity : 4096;
    e->outbox_limit = capacity;
    e->ring_capacity = capacity / e->workers > 64 ? capacity / e->workers : 64;
    pthread_mutex_init(&e->holds_lock, NULL);
    pthread_mutex_init(&e->shutdown_lock, NULL);
    cw__map_init(&e->holds);
    e->node = calloc(e->nodes, sizeof *e->node);
    e->w = calloc(e->workers, sizeof *e->w);
    int rc = e->node && e->w ? CW_OK : CW_ENOMEM;
    for (uint32_t v = 0; rc == CW_OK && v < e->workers; v++) {
        worker *w = &e->w[v];
        w->e = e;
        w->id = v;
        pthread_mutex_init(&w->control_lock, NULL);
        w->in = calloc(e->workers, sizeof *w->in);
        w->taken = malloc((e->outbox_limit + 1) * sizeof *w->taken);
        if (!w->in || !w->taken)
            rc = CW_ENOMEM;
        for (uint32_t src = 0; rc == CW_OK && src < e->workers; src++)
            if (src != v && !(w->in[src] = cw__queue_create(e->ring_capacity)))
                rc = CW_ENOMEM;
    }
    for (uint32_t j = 0; rc == CW_OK && j < e->nodes; j++)
        rc = open_node(e, j);
    for (uint32_t v = 0; rc == CW_OK && v < e->workers; v++) {
        if (pthread_create(&e->w[v].thread, NULL, worker_main, &e->w[v]) != 0)
            rc = CW_ELIMIT;
        else
            e->w[v].started = true;
    }
    if (rc != CW_OK) {
        atomic_store(&e->stop, true);
        for (uint32_t v = 0; e->w && v < e->workers; v++)
            if (e->w[v].started) {
                cw__park_wake(&e->w[v].park);
                pthread_join(e->w[v].thread, NULL);
            }
        destroy(e);
        return rc;
    }
    *out = e;
    return CW_OK;
}

/* Every API call runs between enter and leave, so close can wait for them. */
static int enter(cw_engine *e)
{
    atomic_fetch_add_explicit(&e->active, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&e->closed, memory_order_seq_cst)) {
        atomic_fetch_sub_explicit(&e->active, 1, memory_order_release);
        return CW_ECLOSED;
    }
    return CW_OK;
}

static void leave(cw_engine *e)
{
    atomic_fetch_sub_explicit(&e->active, 1, memory_order_release);
}

void cw_engine_shutdown(cw_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->shutdown_lock);
    if (e->down) {
        pthread_mutex_unlock(&e->shutdown_lock);
        return;
    }
    /* seq_cst with enter's increment-then-check: a call either sees closed,
     * or is counted in active before this waits for active to reach 0. */
    atomic_store_explicit(&e->closed, true, memory_order_seq_cst);
    for (uint32_t j = 0; j < e->nodes; j++) { /* puts blocked on backpressure */
        pthread_mutex_lock(&e->node[j].lock);
        pthread_cond_broadcast(&e->node[j].space);
        pthread_mutex_unlock(&e->node[j].lock);
    }
    while (atomic_load_explicit(&e->active, memory_order_acquire))
        sched_yield();
    atomic_store_explicit(&e->stop, true, memory_order_release);
    for (uint32_t v = 0; v < e->workers; v++) {
        cw__park_wake(&e->w[v].park);
        pthread_join(e->w[v].thread, NULL);
    }
    e->down = true;
    pthread_mutex_unlock(&e->shutdown_lock);
}

void cw_engine_close(cw_engine *e)
{
    if (!e)
        return;
    cw_engine_shutdown(e);
    destroy(e);
}

uint32_t cw_engine_workers(const cw_engine *e) { return e ? e->workers : 0; }

/* ---- API ---- */

int cw_engine_put(cw_engine *e, cw_node_id node, const void *key, size_t key_len, const void *value,
                  size_t value_len, cw_vclock *clock_out)
{
    if (!e || node >= e->nodes || (!key && key_len) || (!value && value_len))
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    enode *en = &e->node[node];
    pthread_mutex_lock(&en->lock);
    while (en->out_len >= e->outbox_limit && !atomic_load(&e->closed))
        pthread_cond_wait(&en->space, &en->lock);
    rc = atomic_load(&e->closed) ? CW_ECLOSED
                                 : cw_node_put(en->node, key, key_len, value, value_len, clock_out);
    pthread_mutex_unlock(&en->lock);
    if (rc == CW_OK && e->nodes > 1) {
        /* Release: the outbox entry (under the lock) is visible to the worker
         * that sees the flag. */
        atomic_store_explicit(&en->w->outbox_dirty, 1, memory_order_release);
        cw__park_wake(&en->w->park);
    }
    leave(e);
    return rc;
}

int cw_engine_get(cw_engine *e, cw_node_id node, const void *key, size_t key_len, cw_read *out)
{
    if (!e || node >= e->nodes || !out || (!key && key_len))
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    pthread_mutex_lock(&e->node[node].lock);
    rc = cw_node_get(e->node[node].node, key, key_len, out);
    pthread_mutex_unlock(&e->node[node].lock);
    leave(e);
    return rc;
}

int cw_engine_hold_link(cw_engine *e, cw_node_id from, cw_node_id to, bool hold_it)
{
    if (!e || from >= e->nodes || to >= e->nodes || from == to)
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    uint64_t key = (uint64_t)from << 16 | to;
    pthread_mutex_lock(&e->holds_lock);
    hold *h = cw__map_find(&e->holds, cw__hash_u64(key), hold_eq, &key);
    if (!h && hold_it) {
        h = calloc(1, sizeof *h);
        if (!h || cw__map_insert(&e->holds, cw__hash_u64(key), h) != CW_OK) {
            free(h);
            rc = CW_ENOMEM;
        } else {
            h->from = from;
            h->to = to;
        }
    }
    vec released = {0};
    if (rc == CW_OK && h && h->held != hold_it) {
        h->held = hold_it;
        /* Release: pairs with route_one's acquire load of holds_active. */
        if (hold_it)
            atomic_fetch_add_explicit(&e->holds_active, 1, memory_order_release);
        else {
            atomic_fetch_sub_explicit(&e->holds_active, 1, memory_order_release);
            released = h->q;
            h->q = (vec){0};
        }
    }
    pthread_mutex_unlock(&e->holds_lock);
    if (released.len) { /* back in flight, in order, through the destination's worker */
        worker *w = e->node[to].w;
        atomic_fetch_add_explicit(&e->produced, released.len, memory_order_relaxed);
        pthread_mutex_lock(&w->control_lock);
        for (size_t i = 0; i < released.len; i++)
            while (!vec_push(&w->control, released.r[i]))
                sched_yield();
        atomic_store_explicit(&w->control_len, (uint32_t)w->control.len, memory_order_release);
        pthread_mutex_unlock(&w->control_lock);
        cw__park_wake(&w->park);
    }
    free(released.r);
    leave(e);
    return rc;
}

int cw_engine_quiesce(cw_engine *e, uint32_t timeout_ms)
{
    if (!e)
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t consumed = 0;
        for (uint32_t v = 0; v < e->workers; v++) /* acquire: pairs with deliver's release */
            consumed += atomic_load_explicit(&e->w[v].consumed, memory_order_acquire);
        uint64_t produced = atomic_load_explicit(&e->produced, memory_order_acquire);
        if (produced == consumed) /* invariant 4: read consumed first */
            break;
        if (now_ns() >= deadline) {
            rc = CW_ETIMEDOUT;
            break;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    leave(e);
    return rc;
}

/* Runs fn on node's replica under its lock. */
static int with_node(cw_engine *e, cw_node_id node, int (*fn)(cw_node *, void *), void *arg)
{
    if (!e || node >= e->nodes)
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    pthread_mutex_lock(&e->node[node].lock);
    rc = fn(e->node[node].node, arg);
    pthread_mutex_unlock(&e->node[node].lock);
    leave(e);
    return rc;
}

static int clock_of(cw_node *n, void *out) { return cw_node_clock(n, out); }

int cw_engine_clock(cw_engine *e, cw_node_id node, cw_vclock *out)
{
    return out ? with_node(e, node, clock_of, out) : CW_EINVAL;
}

static int stats_of(cw_node *n, void *out) { return cw_node_get_stats(n, out); }

int cw_engine_stats(cw_engine *e, cw_node_id node, cw_node_stats *out)
{
    if (!out)
        return CW_EINVAL;
    int rc = with_node(e, node, stats_of, out);
    if (rc == CW_OK) {
        cw__histogram *h = malloc(sizeof *h);
        if (!h)
            return CW_ENOMEM;
        cw__hist_snapshot(&e->node[node].replication, h);
        cw__hist_latency(h, &out->replication);
        free(h);
    }
    return rc;
}

static int add_buffering(cw_node *n, void *into)
{
    cw__node_add_buffering(n, into);
    return CW_OK;
}

int cw_engine_latency(cw_engine *e, cw_latency *replication, cw_latency *buffering)
{
    if (!e)
        return CW_EINVAL;
    cw__histogram *total = calloc(1, sizeof *total), *one = malloc(sizeof *one);
    int rc = total && one ? CW_OK : CW_ENOMEM;
    for (uint32_t j = 0; rc == CW_OK && replication && j < e->nodes; j++) {
        cw__hist_snapshot(&e->node[j].replication, one);
        cw__hist_merge(total, one);
    }
    if (rc == CW_OK && replication)
        cw__hist_latency(total, replication);
    if (rc == CW_OK && buffering) {
        memset(total, 0, sizeof *total);
        for (uint32_t j = 0; rc == CW_OK && j < e->nodes; j++)
            rc = with_node(e, (cw_node_id)j, add_buffering, total);
        if (rc == CW_OK)
            cw__hist_latency(total, buffering);
    }
    free(total);
    free(one);
    return rc;
}

static int dump_of(cw_node *n, void *out) { return cw_node_dump(n, out); }

int cw_engine_dump(cw_engine *e, FILE *out)
{
    if (!e || !out)
        return CW_EINVAL;
    fputs("=== System State ===\n", out);
    for (uint32_t j = 0; j < e->nodes; j++) {
        int rc = with_node(e, (cw_node_id)j, dump_of, out);
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

typedef struct each_arg {
    cw_key_fn fn;
    void *ctx;
} each_arg;

static int each_of(cw_node *n, void *arg)
{
    each_arg *a = arg;
    cw_node_each_key(n, a->fn, a->ctx);
    return CW_OK;
}

int cw_engine_each_key(cw_engine *e, cw_node_id node, cw_key_fn fn, void *ctx)
{
    if (!fn)
        return CW_EINVAL;
    each_arg a = {fn, ctx};
    return with_node(e, node, each_of, &a);
}
