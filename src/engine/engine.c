/* The engine: its lifecycle (open, shutdown, close) and the public API
 * (engine.h) over replicas that worker threads (worker.c) drive.
 *
 * Invariants:
 *  1. A node's cw_node is touched only under its lock: by its worker
 *     delivering, or by a client's put/get/stats (a put that found the lock
 *     taken may be made by the lock's holder for it: "Combining" below).
 *  2. A node has at most inbox_capacity writes in flight: made, not yet
 *     applied at every other node. A put takes a write's room before it
 *     makes the write (take_room) and the write's last application gives it
 *     back (give_room); a put that finds none waits, without spinning, until
 *     in flight falls to the low water (give_room wakes it there) or the
 *     engine shuts down. Wherever a write is between (outbox, pending sends,
 *     rings, delay heap, held link, retry list) it is in flight, so this one
 *     count bounds them all: at most nodes x inbox_capacity messages, and
 *     nodes x inbox_capacity x (nodes - 1) deliveries, are owed at once. The
 *     engine's own messages are never refused for good (every replica has
 *     the same limits), so every write is applied everywhere in the end.
 *  3. produced counts deliveries owed (nodes - 1 per put) and each worker's
 *     consumed counts deliveries done; the fault layer adds its own
 *     (injected duplicates and released holds owed, held messages parked:
 *     fault.c invariant 3). Quiescence reads every consumed and parked
 *     before produced and injected, so equality cannot be a false positive
 *     (a delivery is always owed before it is done).
 *  4. Fault decisions are the fault layer's, seeded (fault.c invariant 1).
 *  5. Every API call runs between enter and leave; shutdown sets closed,
 *     waits for the calls in flight, then stops and joins the workers.
 *  6. Loss (a drop, a cut) counts a delivery done that never happened;
 *     the write stays in flight (its room taken) until recovery applies it
 *     everywhere. So once anything was lost, quiesce also checks the clocks
 *     (quiesce.c): every node has what any node it can reach has.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ck_pr.h>

#include <causeway/engine.h>
#include <causeway/error.h>

#include "bits.h"
#include "engine_internal.h"
#include "msg_internal.h"
#include "mutex.h"
#include "physmem.h"
#include "replica_options.h"

/* Combining moves a put's work onto the lock's holder, most often the
 * node's worker. With many nodes the workers bound the run (nodes - 1
 * deliveries a put) and a put seldom finds its node's lock taken: there it
 * measured no better, once worse (64 nodes: -17% in one phase of the host,
 * equal in another), against +11-30% at 4-16 (docs/performance.md,
 * "Combining"). Engines of more nodes than this lock as before. */
#define COMBINE_MAX_NODES 16u

/* ---- callbacks from the replicas (under the node's lock) ---- */

static int on_send(void *ctx, cw_msg *m)
{
    enode *en = ctx;
    cw_engine *e = en->e;
    if (e->nodes == 1) /* nobody to send to: nothing to keep */
        return CW_OK;
    /* Called only inside a put (this never refuses, so no write waits to be
     * sent later): the put's time is the write's birth. */
    cw__writes_start(&en->writes, m->seq, en->put_ns, e->nodes - 1);
    /* Relaxed: each of these deliveries is counted done with a release after
     * the message crossed the transport; quiesce acquires that count before
     * it reads this one (invariant 3). */
    atomic_fetch_add_explicit(&e->produced, e->nodes - 1, memory_order_relaxed);
    assert(en->out_len < en->out_cap); /* it holds writes in flight only (invariant 2) */
    en->outbox[en->out_len++] = cw__msg_ref(m); /* room for both reserved by put */
    return CW_OK; /* never refuses: put reserved the room */
}

/* The low water of a node's writes in flight: a put that found them at
 * inbox_capacity waits until they fall to this. Waking writers an eighth of
 * the capacity at a time, not at every write applied, takes a lock and a
 * wake-up per batch instead of per write on the applying workers. */
static uint32_t low_water(const cw_engine *e)
{
    return e->outbox_limit - (e->outbox_limit / 8 ? e->outbox_limit / 8 : 1);
}

/* Takes room for one write in flight at en, waiting while there is none
 * (invariant 2), at most the stall timeout. CW_OK, CW_ESTALLED (no room came:
 * a node cannot apply this one's writes, behind a cut or a held link), or
 * CW_ECLOSED once the engine shuts down. */
static int take_room(cw_engine *e, enode *en)
{
    pthread_mutex_lock(&en->room);
    int rc = CW_OK;
    /* seq_cst, with the increment of waiting, pairing with give_room's
     * seq_cst decrement then load of waiting: either give_room sees this
     * waiter, or the load of in_flight sees its decrement, so a wake-up is
     * never lost. Takers are serialised by room, so none slips in between. */
    if (atomic_load(&en->in_flight) >= e->outbox_limit) {
        atomic_fetch_add(&en->waiting, 1);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline); /* space waits on the monotonic clock */
        uint64_t ns = (uint64_t)deadline.tv_nsec + e->stall_timeout_ns;
        deadline.tv_sec += (time_t)(ns / 1000000000u);
        deadline.tv_nsec = (long)(ns % 1000000000u);
        /* closed: seq_cst, stored by shutdown before it broadcasts space
         * under room, so a waiting put wakes and sees it. */
        while (atomic_load(&en->in_flight) > low_water(e) && !atomic_load(&e->closed))
            if (pthread_cond_timedwait(&en->space, &en->room, &deadline) == ETIMEDOUT) {
                /* Out of time: go on if there is room at all (the low water
                 * only batches wake-ups), else say so. Never wait again:
                 * a timed-out wait returns at once. */
                if (atomic_load(&en->in_flight) >= e->outbox_limit)
                    rc = CW_ESTALLED;
                break;
            }
        atomic_fetch_sub(&en->waiting, 1);
    }
    if (atomic_load(&e->closed))
        rc = CW_ECLOSED;
    if (rc == CW_OK)
        atomic_fetch_add(&en->in_flight, 1);
    pthread_mutex_unlock(&en->room);
    return rc;
}

/* Gives back one write's room in flight at en: its last application, or a
 * put that made no write. Wakes the waiting puts when in flight reaches the
 * low water: decrements go one at a time, so a fall past it always lands on
 * it. Any thread; room is a leaf lock, so callers may hold a node's lock. */
static void give_room(cw_engine *e, enode *en)
{
    /* seq_cst: pairs with take_room's increment of waiting then load of
     * in_flight (see there). */
    if (atomic_fetch_sub(&en->in_flight, 1) - 1 == low_water(e) && atomic_load(&en->waiting)) {
        pthread_mutex_lock(&en->room);
        pthread_cond_broadcast(&en->space);
        pthread_mutex_unlock(&en->room);
    }
}

/* How many engine callbacks (on_apply, the merge function, each_key's fn)
 * this thread is running, of any engine. Such a callback runs under a node's
 * lock, on a worker or inside a caller's call, so a call back into its own
 * engine would wait for the lock it holds or for the worker it runs on, and
 * a call into another engine whose callbacks call back (on another worker)
 * would wait on that engine's lock while it waits on this one's: every call
 * from inside any engine's callback returns CW_EINVAL instead (engine.h). */
static _Thread_local unsigned tl_in_callbacks;

/* Runs one of the user's callbacks (or a call that runs one) with this
 * thread marked as inside it. */
#define IN_CALLBACK(call)      \
    do {                       \
        tl_in_callbacks++;     \
        call;                  \
        tl_in_callbacks--;     \
    } while (0)

static void on_apply(void *ctx, const cw_msg *m)
{
    enode *en = ctx;
    cw_engine *e = en->e;
    uint64_t born;
    if (e->o.on_apply) /* first: a write's room comes back after its last callback returned */
        IN_CALLBACK(e->o.on_apply(e->o.apply_ctx, en->id, m));
    if (m->origin != en->id)
        /* Relaxed: a hint to en's worker that its buffer may have room for
         * the writes it refused (worker.c invariant 3); the retry itself
         * runs under en's lock, as this does. */
        atomic_fetch_add_explicit(&en->applied, 1, memory_order_relaxed);
    if (m->origin != en->id && cw__writes_applied(&e->node[m->origin].writes, m->seq, &born)) {
        uint64_t now = cw__now_ns();
        cw__hist_add_atomic(&e->node[m->origin].replication, now > born ? now - born : 0);
        give_room(e, &e->node[m->origin]); /* applied everywhere */
    }
}

/* ---- lifecycle ---- */

void cw_engine_options_init(cw_engine_options *o)
{
    if (o) {
        *o = (cw_engine_options){0};
        o->nodes = 1;
    }
}

static void destroy(cw_engine *e)
{
    for (uint32_t v = 0; e->w && v < e->workers; v++) {
        free(e->w[v].taken);
        cw__local_list *lists[] = {&e->w[v].local, &e->w[v].fast};
        for (size_t l = 0; l < 2; l++) {
            for (size_t i = 0; i < lists[l]->len; i++)
                cw__msg_unref(lists[l]->msgs[i]);
            free(lists[l]->msgs);
            free(lists[l]->spare);
        }
    }
    cw__transport_destroy(e->t);
    for (uint32_t j = 0; e->node && j < e->nodes; j++) {
        enode *en = &e->node[j];
        for (size_t i = 0; i < en->out_len; i++)
            cw__msg_unref(en->outbox[i]);
        free(en->outbox);
        free(en->lost_from);
        cw__writes_destroy(&en->writes);
        cw__retry_release(&en->refused, e->nodes);
        cw_node_destroy(en->node);
        pthread_mutex_destroy(&en->lock);
        pthread_mutex_destroy(&en->room);
        pthread_cond_destroy(&en->space);
    }
    cw__faults_destroy(&e->faults);
    pthread_mutex_destroy(&e->shutdown_lock);
    free(e->node);
    free(e->w);
    free(e);
}

/* The options of the engine's node `self` (replica_options.h) with the
 * engine's callbacks, but their contexts. */
static void node_options(const cw_engine_options *o, cw_node_id self, cw_node_options *no)
{
    cw__engine_replica_options(o, self, no);
    no->send = on_send;
    no->on_apply = on_apply;
    if (cw__engine_recovers(o))
        no->send_to = cw__engine_send_to;
}

static int open_node(cw_engine *e, uint32_t j)
{
    enode *en = &e->node[j];
    en->e = e;
    en->id = (cw_node_id)j;
    en->w = &e->w[j % e->workers];
    /* Adaptive (mutex.h): a put meets its worker's batch of deliveries
     * often (docs/performance.md, "Locks that sleep"). */
    cw__mutex_init_adaptive(&en->lock);
    pthread_mutex_init(&en->room, NULL);
    cw__cond_init_monotonic(&en->space); /* space waits on the monotonic clock */
    en->out_cap = e->outbox_limit + 1;
    en->outbox = malloc(en->out_cap * sizeof *en->outbox);
    cw_node_options no;
    node_options(&e->o, (cw_node_id)j, &no);
    no.send_ctx = en;
    no.send_to_ctx = en;
    no.apply_ctx = en;
    if (!en->outbox)
        return CW_ENOMEM;
    if (e->recovery && e->o.drop_probability > 0 &&
        !(en->lost_from = calloc(cw__bits_words(e->nodes), sizeof *en->lost_from)))
        return CW_ENOMEM;
    return cw_node_create(&en->node, &no);
}

/* The memory an engine takes before any write, in bytes: every replica's
 * footprint (quadratic in the node count: each replica keeps per-sender
 * state), every node's outbox, and the rings (both lanes) between every
 * pair of workers. Double arithmetic: nothing here can wrap, and a rough
 * figure is enough. */
static double fixed_bytes(uint32_t nodes, uint32_t workers, uint32_t capacity, uint32_t ring_capacity)
{
    double per_node = (double)cw__node_footprint(nodes) + sizeof(enode) + 8.0 * ((double)capacity + 1) +
                      8.0 * (double)cw__bits_words(nodes); /* lost_from */
    return nodes * per_node + workers * (sizeof(worker) + 8.0 * ((double)capacity + 1)) +
           (double)workers * workers * (double)cw__inproc_pair_bytes(ring_capacity);
}

/* The workers, inbox capacity and ring capacity of an engine opened with o
 * (valid options). */
static void shape(const cw_engine_options *o, uint32_t *workers, uint32_t *capacity, uint32_t *ring)
{
    /* Default: one worker per online CPU, at most one per node. More workers
     * than cores only add threads that take a core from one with work and
     * must be woken: on 2 cores, quiet, the same engine with 2 workers
     * against one per node delivered 4.2M vs 3.6M/s at 8 nodes and 8.7M vs
     * 4.2M/s at 64 (engine_e2e; docs/performance.md). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t ncpu = cpus > 0 ? (uint32_t)cpus : 1;
    *workers = o->workers ? o->workers : o->nodes < ncpu ? o->nodes : ncpu;
    *capacity = cw__engine_inbox_capacity(o);
    *ring = *capacity / *workers > 64 ? *capacity / *workers : 64;
}

double cw__engine_fixed_bytes(const cw_engine_options *o)
{
    uint32_t workers, capacity, ring;
    shape(o, &workers, &capacity, &ring);
    return fixed_bytes(o->nodes, workers, capacity, ring);
}

int cw_engine_open(cw_engine **out, const cw_engine_options *o)
{
    /* drop_probability 1 loses everything: quiesce could never return. (The
     * fault layer itself takes 1, for tests that lose every route.) */
    if (!out || !o || o->workers > o->nodes || o->inbox_capacity > CW_ENGINE_MAX_INBOX_CAPACITY ||
        (o->no_recovery && o->drop_probability != 0) || o->drop_probability == 1)
        return CW_EINVAL;
    cw_node_options no; /* the node's own checks: nodes, policy, merge, limits */
    node_options(o, 0, &no);
    if (!cw__node_options_valid(&no))
        return CW_EINVAL;
    uint32_t workers, capacity, ring;
    shape(o, &workers, &capacity, &ring);
    double have = cw__physical_bytes();
    if (have > 0 && fixed_bytes(o->nodes, workers, capacity, ring) > have)
        return CW_ELIMIT; /* could never work here: say so now, not after swapping */
    cw_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CW_ENOMEM;
    e->o = *o;
    e->nodes = o->nodes;
    e->workers = workers;
    e->outbox_limit = capacity;
    e->ring_capacity = ring;
    e->recovery = cw__engine_recovers(o);
    e->combine = o->nodes <= COMBINE_MAX_NODES;
    e->stall_timeout_ns = (uint64_t)(o->stall_timeout_ms ? o->stall_timeout_ms : 10000u) * 1000000u;
    pthread_mutex_init(&e->shutdown_lock, NULL);
    cw__fault_options fo = {o->seed, o->drop_probability, o->delay_probability, o->max_delay_us,
                            o->duplicate_probability};
    int rc = cw__faults_init(&e->faults, &fo, e->workers, cw__engine_deliver, e);
    if (rc == CW_OK)
        rc = cw__transport_inproc(&e->t, e->workers, e->ring_capacity);
    if (rc == CW_OK) { /* out of memory never keeps a closing engine from stopping */
        e->t->closing = &e->closed;
        e->faults.closing = &e->closed;
        e->t->memory_waits = &e->memory_waits;
        e->faults.memory_waits = &e->memory_waits;
    }
    if (rc == CW_OK) {
        /* Aligned as enode asks (its backpressure fields' own lines); its
         * size is a multiple of the alignment, as aligned_alloc needs. */
        e->node = aligned_alloc(_Alignof(enode), e->nodes * sizeof *e->node);
        if (e->node)
            memset(e->node, 0, e->nodes * sizeof *e->node);
        e->w = calloc(e->workers, sizeof *e->w);
        rc = e->node && e->w ? CW_OK : CW_ENOMEM;
    }
    for (uint32_t v = 0; rc == CW_OK && v < e->workers; v++) {
        worker *w = &e->w[v];
        w->e = e;
        w->id = v;
        w->taken = malloc((e->outbox_limit + 1) * sizeof *w->taken);
        atomic_init(&w->tick_due, UINT64_MAX);
        if (!w->taken)
            rc = CW_ENOMEM;
    }
    for (uint32_t j = 0; rc == CW_OK && j < e->nodes; j++)
        rc = open_node(e, j);
    for (uint32_t v = 0; rc == CW_OK && v < e->workers; v++) {
        if (pthread_create(&e->w[v].thread, NULL, cw__worker_main, &e->w[v]) != 0)
            rc = CW_ELIMIT;
        else
            e->w[v].started = true;
    }
    if (rc != CW_OK) {
        atomic_store(&e->stop, true); /* seq_cst; the joins below order the rest */
        for (uint32_t v = 0; e->w && v < e->workers; v++)
            if (e->w[v].started) {
                cw__transport_wake(e->t, v);
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
    if (tl_in_callbacks)
        return CW_EINVAL; /* a call from inside an engine's callback */
    atomic_fetch_add_explicit(&e->active, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&e->closed, memory_order_seq_cst)) {
        atomic_fetch_sub_explicit(&e->active, 1, memory_order_release); /* as leave */
        return CW_ECLOSED;
    }
    return CW_OK;
}

static void leave(cw_engine *e)
{
    /* Release: this call's accesses come before shutdown sees active reach 0
     * (pairs with its acquire load). */
    atomic_fetch_sub_explicit(&e->active, 1, memory_order_release);
}

void cw_engine_shutdown(cw_engine *e)
{
    if (!e || tl_in_callbacks) /* it would wait for the call or worker it runs on */
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
        pthread_mutex_lock(&e->node[j].room);
        pthread_cond_broadcast(&e->node[j].space);
        pthread_mutex_unlock(&e->node[j].room);
    }
    while (atomic_load_explicit(&e->active, memory_order_acquire)) /* pairs with leave's release */
        sched_yield();
    /* Release: pairs with the workers' acquire load of stop. */
    atomic_store_explicit(&e->stop, true, memory_order_release);
    for (uint32_t v = 0; v < e->workers; v++) {
        cw__transport_wake(e->t, v);
        pthread_join(e->w[v].thread, NULL);
    }
    e->down = true;
    pthread_mutex_unlock(&e->shutdown_lock);
}

void cw_engine_close(cw_engine *e)
{
    if (!e || tl_in_callbacks) /* as shutdown */
        return;
    cw_engine_shutdown(e);
    destroy(e);
}

uint32_t cw_engine_workers(const cw_engine *e) { return e ? e->workers : 0; }

uint32_t cw_engine_memory_waits(cw_engine *e)
{
    /* Relaxed: a gauge (backoff.h), ordering nothing. */
    return e ? atomic_load_explicit(&e->memory_waits, memory_order_relaxed) : 0;
}

/* ---- API ---- */

/* A write a client asks for: a put (value), with a context or not, or a
 * delete (tombstone). */
typedef struct write_req {
    const void *key, *value;
    size_t key_len, value_len;
    const cw_vclock *context;       /* NULL: the node's clock */
    bool tombstone;
    cw_vclock *clock_out;
} write_req;

/* The write itself, under en's lock: CW_ESTALLED if the node's own writes
 * wait for stability. *tick: the node's next tick after it. */
static int put_locked(cw_engine *e, enode *en, const write_req *w, uint64_t *tick)
{
    int rc = CW_OK;
    if (atomic_load(&e->closed)) { /* seq_cst: as in take_room */
        rc = CW_ECLOSED;
    } else if (e->nodes > 1) { /* room for the record on_send starts, dated now */
        rc = cw__writes_reserve(&en->writes, cw_node_counters(en->node)[en->id] + 1);
        en->put_ns = cw__now_ns();
        if (e->recovery) /* the write's clock is a report: dated now too */
            cw__node_note_time(en->node, en->put_ns);
    }
    if (rc == CW_OK)
        rc = w->tombstone ? cw_node_delete(en->node, w->key, w->key_len, w->context, w->clock_out)
                          : cw_node_put_ctx(en->node, w->key, w->key_len, w->value, w->value_len, w->context,
                                            w->clock_out);
    *tick = e->recovery ? cw_node_next_tick(en->node) : UINT64_MAX;
    return rc;
}

/* Combining. A put that finds its node's lock taken (most often by the
 * node's worker, delivering a batch) offers itself in en->combine, and the
 * holder makes it before letting go (cw__engine_unlock_serving: the
 * worker's holds and other puts; a read lets go plainly):
 * the worker makes the write with the node's state in its own cache, and
 * the client neither sleeps on the lock nor costs the worker a wake-up.
 * The offer is one slot: a put that finds it taken waits on the lock.
 * While offered, the client spins on done, trying the lock now and then;
 * past COMBINE_SPIN_NS (a preempted holder) it sleeps on the lock. Once it
 * holds the lock, no holder is making its put: it was made (done), or it
 * is still in the slot, and the client takes it back and makes it itself.
 * The holder writes nothing of the call after done: the caller may return
 * at once. */
#define COMBINE_SPIN_NS 20000u

struct cw__put_call {
    const write_req *w;
    int rc;
    uint64_t tick;
    _Atomic uint32_t done;
};

void cw__engine_serve_put(enode *en)
{
    /* Relaxed: a look before the exchange, which orders what matters. */
    if (!atomic_load_explicit(&en->combine, memory_order_relaxed))
        return;
    /* Acquire: pairs with the offering put's release compare-exchange: the
     * call, its request and the buffers those point to are visible here. */
    struct cw__put_call *c = atomic_exchange_explicit(&en->combine, NULL, memory_order_acquire);
    if (!c)
        return;
    c->rc = put_locked(en->e, en, c->w, &c->tick);
    /* Release: the put's results (rc, tick, its clock_out) come before done,
     * which the caller reads with acquire. */
    atomic_store_explicit(&c->done, 1, memory_order_release);
}

/* Waits for the put offered in c to be made, or for en's lock: true when
 * made (the lock not held), false with the lock held and c taken back. */
static bool await_combined(enode *en, struct cw__put_call *c)
{
    uint64_t since = 0;
    bool locked = false;
    for (unsigned i = 1; !locked; i++) {
        /* Acquire: pairs with cw__engine_serve_put's release of done. */
        if (atomic_load_explicit(&c->done, memory_order_acquire))
            return true;
        ck_pr_stall();
        if (i % 16)
            continue;
        locked = pthread_mutex_trylock(&en->lock) == 0;
        uint64_t now = cw__now_ns();
        if (!since)
            since = now;
        else if (!locked && now - since > COMBINE_SPIN_NS) {
            pthread_mutex_lock(&en->lock);
            locked = true;
        }
    }
    /* Acquire: as above; a holder that made the put did so before it let
     * the lock go. */
    if (atomic_load_explicit(&c->done, memory_order_acquire)) {
        cw__engine_unlock_serving(en);
        return true;
    }
    /* Still offered: only a holder of the lock takes from the slot, and
     * other puts cannot replace a call in it. Relaxed: the lock orders it. */
    atomic_store_explicit(&en->combine, NULL, memory_order_relaxed);
    return false;
}

/* One attempt at a write (its room taken): CW_ESTALLED if the node's own
 * writes wait for stability. */
static int write_once(cw_engine *e, enode *en, const write_req *w)
{
    struct cw__put_call c = {w, CW_OK, UINT64_MAX, 0};
    bool made = false;
    if (!e->combine) {
        pthread_mutex_lock(&en->lock);
    } else if (pthread_mutex_trylock(&en->lock) != 0) {
        struct cw__put_call *none = NULL;
        /* Release: the call and its request, for the holder's acquire exchange. */
        if (atomic_compare_exchange_strong_explicit(&en->combine, &none, &c, memory_order_release,
                                                    memory_order_relaxed))
            made = await_combined(en, &c);
        else
            pthread_mutex_lock(&en->lock);
    }
    if (!made) {
        c.rc = put_locked(e, en, w, &c.tick);
        cw__engine_unlock_serving(en); /* another client's put, offered meanwhile */
    }
    /* A tick brought forward (a stalled put wants a report out): the worker
     * may be parked past it. */
    if (e->recovery && cw__worker_want_tick(en->w, c.tick))
        cw__transport_wake(e->t, en->w->id);
    return c.rc;
}

/* What the replica would refuse w for however long it waited for room
 * (cw__node_write_refused), checked before it waits (invariant 2), so that
 * a bad write is answered at once, not after the stall timeout. Whether the
 * context is ahead, or leaves too many siblings, is asked only when there
 * is no room now, under the node's lock; with room the put itself finds
 * it. */
static int refused_now(cw_engine *e, enode *en, const write_req *w)
{
    int rc = cw__node_write_refused(en->node, w->key_len, w->value_len, w->context, false);
    /* Relaxed: a hint only; take_room decides under its own lock. */
    if (rc != CW_OK || !w->context || atomic_load_explicit(&en->in_flight, memory_order_relaxed) < e->outbox_limit)
        return rc;
    pthread_mutex_lock(&en->lock);
    rc = cw__node_write_refused(en->node, 0, 0, w->context, true);
    if (rc == CW_OK && cw__node_too_many_siblings(en->node, w->key, w->key_len, w->context))
        rc = CW_ESIBLINGS;
    pthread_mutex_unlock(&en->lock);
    return rc;
}

static int engine_write(cw_engine *e, cw_node_id node, const write_req *w)
{
    if (!e || node >= e->nodes || (!w->key && w->key_len) || (!w->value && w->value_len))
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    enode *en = &e->node[node];
    if (e->nodes > 1 && ((rc = refused_now(e, en, w)) != CW_OK || (rc = take_room(e, en)) != CW_OK)) {
        /* backpressure (invariant 2) */
        leave(e);
        return rc;
    }
    rc = write_once(e, en, w);
    /* Stability backpressure: the node's own writes not yet stable reached
     * max_log. Its worker's ticks and deliveries move stability; this put
     * sleeps between looks (it cannot know when), up to stall_timeout. */
    for (uint64_t deadline = 0, wait_ns = 50000; rc == CW_ESTALLED;) {
        uint64_t now = cw__now_ns();
        if (!deadline)
            deadline = now + e->stall_timeout_ns;
        if (atomic_load(&e->closed)) { /* seq_cst: as in take_room */
            rc = CW_ECLOSED;
            break;
        }
        if (now >= deadline)
            break;
        struct timespec ts = {0, (long)wait_ns};
        nanosleep(&ts, NULL);
        wait_ns = wait_ns < 1000000 ? wait_ns * 2 : 1000000;
        rc = write_once(e, en, w);
    }
    if (rc != CW_OK && e->nodes > 1)
        give_room(e, en); /* no write made (room is a leaf lock) */
    /* Release: the outbox entry (written under the node's lock) is visible
     * to the worker whose acquire exchange in send_outboxes reads this value
     * or a later one of the same RMW chain. Only the put that moves the flag
     * 0 -> 1 wakes the worker: one that finds it set is batched behind the
     * put that set it (the worker has not taken the outboxes since, will take
     * this entry with them, and that put's wake covers both). */
    if (rc == CW_OK && e->nodes > 1 && !atomic_exchange_explicit(&en->w->outbox_dirty, 1, memory_order_release))
        cw__transport_wake(e->t, en->w->id); /* a syscall only if the worker parked (park.c) */
    leave(e);
    return rc;
}

int cw_engine_put(cw_engine *e, cw_node_id node, const void *key, size_t key_len, const void *value,
                  size_t value_len, cw_vclock *clock_out)
{
    return engine_write(e, node, &(write_req){key, value, key_len, value_len, NULL, false, clock_out});
}

int cw_engine_put_ctx(cw_engine *e, cw_node_id node, const void *key, size_t key_len, const void *value,
                      size_t value_len, const cw_vclock *context, cw_vclock *clock_out)
{
    return engine_write(e, node, &(write_req){key, value, key_len, value_len, context, false, clock_out});
}

int cw_engine_delete(cw_engine *e, cw_node_id node, const void *key, size_t key_len, const cw_vclock *context,
                     cw_vclock *clock_out)
{
    if (e && e->nodes > 1 && !e->recovery)
        return CW_EINVAL; /* tombstones are collected by stability, which no_recovery turns off */
    return engine_write(e, node, &(write_req){key, NULL, key_len, 0, context, true, clock_out});
}

/* Whether node's clock covers seen (under its lock); CW_EINVAL for an id
 * out of range. */
static int covers(cw_engine *e, cw_node_id node, const cw_vclock *seen, bool *yes)
{
    pthread_mutex_lock(&e->node[node].lock);
    const uint64_t *v = cw_node_counters(e->node[node].node);
    int rc = CW_OK;
    *yes = true;
    for (uint32_t i = 0; i < seen->size && rc == CW_OK; i++) {
        if (seen->ids[i] >= e->nodes)
            rc = CW_EINVAL;
        else if (seen->counters[i] > v[seen->ids[i]])
            *yes = false;
    }
    pthread_mutex_unlock(&e->node[node].lock);
    return rc;
}

int cw_engine_wait_for(cw_engine *e, cw_node_id node, const cw_vclock *seen, uint32_t timeout_ms)
{
    if (!e || node >= e->nodes || !seen)
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    uint64_t deadline = cw__now_ns() + (uint64_t)timeout_ms * 1000000u;
    /* The node's worker applies what it waits for; nothing signals a
     * particular clock, so it looks, sleeping between looks (20 us, doubling
     * to 1 ms): a session's wait is usually short (a write in flight). */
    for (uint64_t wait_ns = 20000;;) {
        bool yes;
        if ((rc = covers(e, node, seen, &yes)) != CW_OK || yes)
            break;
        if (atomic_load_explicit(&e->closed, memory_order_seq_cst)) { /* a shutdown waits for this call */
            rc = CW_ECLOSED;
            break;
        }
        if (cw__now_ns() >= deadline) {
            rc = CW_ETIMEDOUT;
            break;
        }
        struct timespec ts = {0, (long)wait_ns};
        nanosleep(&ts, NULL);
        wait_ns = wait_ns < 1000000 ? wait_ns * 2 : 1000000;
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
    IN_CALLBACK(rc = cw_node_get(e->node[node].node, key, key_len, out)); /* the merge function's */
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
    bool released = false;
    rc = cw__faults_hold(&e->faults, from, to, hold_it, e->node[to].w->id, &released);
    if (released)
        cw__transport_wake(e->t, e->node[to].w->id);
    leave(e);
    return rc;
}

int cw_engine_cut_link(cw_engine *e, cw_node_id from, cw_node_id to, bool cut)
{
    if (!e || from >= e->nodes || to >= e->nodes || from == to || !e->recovery)
        return CW_EINVAL;
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    rc = cw__faults_cut(&e->faults, from, to, cut);
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
    uint64_t deadline = cw__now_ns() + (uint64_t)timeout_ms * 1000000u;
    bool asked = false;
    for (;;) {
        uint64_t consumed = 0;
        for (uint32_t v = 0; v < e->workers; v++) /* acquire: pairs with deliver's release */
            consumed += atomic_load_explicit(&e->w[v].consumed, memory_order_acquire);
        consumed += cw__faults_parked(&e->faults) + cw__faults_lost(&e->faults);
        /* Acquire: with the loads above, every delivery counted done has its
         * owing counted before (invariant 3). */
        uint64_t produced = atomic_load_explicit(&e->produced, memory_order_acquire);
        produced += cw__faults_injected(&e->faults);
        /* invariant 3: read consumed first. With losses, a node may still
         * miss writes that recovery will bring (invariant 6). */
        if (produced == consumed && (!cw__faults_dropped(&e->faults) || cw__engine_recovered(e, &rc)))
            break;
        /* Every delivery owed is done but a loss is not yet repaired: have
         * every node report now, so a peer that lost a node's last writes
         * learns of them without waiting for its report interval. */
        uint64_t now = cw__now_ns();
        if (produced == consumed && !asked && e->recovery &&
            now - atomic_load_explicit(&e->reports_asked_ns, memory_order_relaxed) >=
                cw__engine_report_interval_ns(&e->o)) {
            /* Relaxed: callers looping on short quiesces ask at most once
             * a report interval (an ask is a message from every node to
             * every other), a hint if two race; and the wakes' fence
             * orders it before their look at sleeping, as a parking
             * worker's fence orders its has_work look after (park.c,
             * invariant 1). */
            atomic_store_explicit(&e->reports_asked_ns, now, memory_order_relaxed);
            for (uint32_t v = 0; v < e->workers; v++)
                cw__transport_wake(e->t, v);
            asked = true;
        }
        int refused = atomic_load(&e->refused_rc); /* seq_cst: see worker.c refused_for_good */
        if (refused) { /* a message that will never be delivered: say so, do not wait */
            rc = refused;
            break;
        }
        /* A shutdown waits for this call to leave: notice it rather than
         * hold it up for the rest of the timeout. */
        if (atomic_load_explicit(&e->closed, memory_order_seq_cst)) {
            rc = CW_ECLOSED;
            break;
        }
        if (cw__now_ns() >= deadline) {
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

static int stable_of(cw_node *n, void *out) { return cw_node_stable(n, out); }

int cw_engine_stable(cw_engine *e, cw_node_id node, cw_vclock *out)
{
    return out ? with_node(e, node, stable_of, out) : CW_EINVAL;
}

int cw_engine_clock(cw_engine *e, cw_node_id node, cw_vclock *out)
{
    return out ? with_node(e, node, clock_of, out) : CW_EINVAL;
}

static int stats_of(cw_node *n, void *out) { return cw_node_get_stats(n, out); }

int cw_engine_stats(cw_engine *e, cw_node_id node, cw_node_stats *out)
{
    if (!out)
        return CW_EINVAL;
    cw__histogram *h = malloc(sizeof *h);
    if (!h)
        return CW_ENOMEM;
    cw_node_stats st;
    int rc = with_node(e, node, stats_of, &st);
    if (rc == CW_OK) {
        cw__hist_snapshot(&e->node[node].replication, h);
        cw__hist_latency(h, &st.replication);
        *out = st; /* only now: a failed call leaves *out unchanged */
    }
    free(h);
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
    int rc = enter(e);
    if (rc != CW_OK)
        return rc;
    leave(e); /* with_node below enters again for each node */
    cw__histogram *total = calloc(1, sizeof *total), *one = malloc(sizeof *one);
    rc = total && one ? CW_OK : CW_ENOMEM;
    /* Both figures are written only once both are had: a shutdown met
     * while the buffering is summed (CW_ECLOSED) leaves *replication as
     * the caller gave it (error.h). */
    cw_latency rep = {0}, buf = {0};
    for (uint32_t j = 0; rc == CW_OK && replication && j < e->nodes; j++) {
        cw__hist_snapshot(&e->node[j].replication, one);
        cw__hist_merge(total, one);
    }
    if (rc == CW_OK && replication)
        cw__hist_latency(total, &rep);
    if (rc == CW_OK && buffering) {
        memset(total, 0, sizeof *total);
        for (uint32_t j = 0; rc == CW_OK && j < e->nodes; j++)
            rc = with_node(e, (cw_node_id)j, add_buffering, total);
        if (rc == CW_OK)
            cw__hist_latency(total, &buf);
    }
    if (rc == CW_OK && replication)
        *replication = rep;
    if (rc == CW_OK && buffering)
        *buffering = buf;
    free(total);
    free(one);
    return rc;
}

static int dump_of(cw_node *n, void *out) { return cw_node_dump(n, out); }

int cw_engine_dump(cw_engine *e, FILE *out)
{
    if (!e || !out)
        return CW_EINVAL;
    int rc = enter(e); /* nothing printed for an engine already shut down */
    if (rc != CW_OK)
        return rc;
    leave(e);
    fputs("=== System State ===\n", out);
    for (uint32_t j = 0; j < e->nodes; j++)
        if ((rc = with_node(e, (cw_node_id)j, dump_of, out)) != CW_OK)
            return rc;
    return CW_OK;
}

typedef struct each_arg {
    cw_key_fn fn;
    void *ctx;
} each_arg;

static int each_of(cw_node *n, void *arg)
{
    each_arg *a = arg;
    IN_CALLBACK(cw_node_each_key(n, a->fn, a->ctx));
    return CW_OK;
}

int cw_engine_each_key(cw_engine *e, cw_node_id node, cw_key_fn fn, void *ctx)
{
    if (!fn)
        return CW_EINVAL;
    each_arg a = {fn, ctx};
    return with_node(e, node, each_of, &a);
}
