/* The fault layer (see fault.h): seeded drop, delay and duplication, the
 * delay heap, link holds and cuts.
 *
 * Invariants:
 *  1. Fault decisions for counted messages hash (seed, from, to, seq, copy,
 *     what): the same seed makes the same decisions whatever the thread
 *     timing. Recovery traffic (whose timing is the threads') draws from
 *     its lane's generator, seeded from the seed and the lane.
 *  2. Nothing counted is lost but by a drop or a cut: a route that cannot be
 *     delayed (out of memory) is delivered at once; a held route waits for
 *     memory rather than be dropped (unless the host said its replicas
 *     recover losses, lose_unkept: then it is lost as if cut, and does not
 *     wait); a released hold goes back, in order, through its lane, needing
 *     no memory: a link is held only once its release's entry on the lane's
 *     list is made (hold.back), so a release never waits, and a hold that
 *     cannot make it fails and holds nothing. No wait for memory holds a
 *     lock of this layer: the other lanes and the host's hold and cut calls
 *     go on meanwhile.
 *  3. Counting, for the host's quiescence (counted messages only): an
 *     injected duplicate and every route a hold releases add to `injected`
 *     before they are delivered; a route kept on a held link adds to
 *     `parked` (it is out of flight), a route dropped or cut to `lost`. So
 *     deliveries owed = the host's + injected, deliveries done = the host's
 *     + parked + lost, and a delivery is always owed before it is done.
 *  4. A lane's delay heap is touched by that lane's thread only; its released
 *     list under its lock, signalled by released_waiting (nonzero while any
 *     release waits there).
 *  5. Releases reach a lane in the order they were made: a release appends
 *     its queue to the lane's list under holds_lock (then released_lock;
 *     nothing takes them the other way round), so a hold's routes are
 *     always on the link or on the list, and two releases of one link are
 *     listed in order. A released route is not kept by a hold placed after
 *     its release: it would then arrive after routes held later.
 */
#include <stdlib.h>

#include <causeway/error.h>

#include "backoff.h"
#include "fault.h"
#include "transport.h"
#include "msg_internal.h"
#include "now.h"
#include "splitmix.h"
#include "vec.h"

typedef struct hold {
    cw_node_id from, to;
    bool held, cut;
    cw__routes q;                   /* messages kept while held, in order */
    cw__released *back;             /* while held: the release's entry (invariant 2) */
} hold;

/* Decisions: which draw a fault uses. */
enum { DRAW_DUPLICATE = 1, DRAW_DELAY = 2, DRAW_DELAY_LENGTH = 3, DRAW_DROP = 4 };

bool cw__routes_push(cw__routes *v, cw__route r)
{
    cw__route *room = cw__vec_room(v->r, v->len, &v->cap, sizeof *room);
    if (!room)
        return false;
    v->r = room;
    v->r[v->len++] = r;
    return true;
}

void cw__routes_release(cw__routes *v)
{
    for (size_t i = 0; i < v->len; i++)
        cw__msg_unref(v->r[i].msg);
    free(v->r);
    *v = (cw__routes){0};
}

/* 64 random bits as a uniform draw in [0, 1). */
static double unit(uint64_t x) { return (double)(x >> 11) * 0x1p-53; }

/* A uniform draw in [0, 1) for a decision about m: from the hash (counted
 * messages) or from the lane's generator (recovery traffic). */
static double fault_draw(cw__faults *f, uint32_t lane, const cw_msg *m, cw_node_id to, uint32_t copy,
                         uint32_t what)
{
    if (!cw__msg_counted(m))
        return unit(cw__splitmix64(&f->lane[lane].rng));
    uint64_t x = f->o.seed ^ cw__hash_u64(((uint64_t)m->origin << 48) ^ ((uint64_t)to << 32) ^
                                          ((uint64_t)copy << 8) ^ what);
    x = cw__hash_u64(x ^ m->seq * 0x9e3779b97f4a7c15u);
    return unit(x);
}

int cw__faults_init(cw__faults *f, const cw__fault_options *o, uint32_t lanes, cw__deliver_fn *deliver,
                    void *host)
{
    if (!(o->delay_probability >= 0 && o->delay_probability <= 1) ||
        !(o->duplicate_probability >= 0 && o->duplicate_probability <= 1) ||
        !(o->drop_probability >= 0 && o->drop_probability <= 1))
        return CW_EINVAL;
    *f = (cw__faults){.o = *o, .lanes = lanes, .deliver = deliver, .host = host};
    f->on = o->duplicate_probability > 0 || o->drop_probability > 0 ||
            (o->delay_probability > 0 && o->max_delay_us);
    f->lane = calloc(lanes, sizeof *f->lane);
    if (!f->lane)
        return CW_ENOMEM;
    for (uint32_t l = 0; l < lanes; l++) {
        pthread_mutex_init(&f->lane[l].released_lock, NULL);
        f->lane[l].released_tail = &f->lane[l].released;
        f->lane[l].rng = cw__hash_u64(o->seed ^ (0x6c616e65ull << 32 | l));
    }
    pthread_mutex_init(&f->holds_lock, NULL);
    cw__map_init(&f->holds);
    return CW_OK;
}

static void free_hold(void *item, void *ctx)
{
    (void)ctx;
    hold *h = item;
    cw__routes_release(&h->q);
    free(h->back);
    free(h);
}

void cw__faults_destroy(cw__faults *f)
{
    if (!f->lane)
        return;
    for (uint32_t l = 0; l < f->lanes; l++) {
        cw__fault_lane *ln = &f->lane[l];
        for (size_t i = 0; i < ln->dlen; i++)
            cw__msg_unref(ln->delayed[i].r.msg);
        free(ln->delayed);
        for (cw__released *b = ln->released, *next; b; b = next) {
            next = b->next;
            cw__routes_release(&b->q);
            free(b);
        }
        pthread_mutex_destroy(&ln->released_lock);
    }
    free(f->lane);
    cw__map_each(&f->holds, free_hold, NULL);
    cw__map_destroy(&f->holds);
    pthread_mutex_destroy(&f->holds_lock);
    *f = (cw__faults){0};
}

/* Acquire: pairs with cw__faults_hold's release, as in cw__faults_route. */
bool cw__faults_direct(const cw__faults *f)
{
    return !atomic_load_explicit(&f->holds_active, memory_order_acquire) && !f->on;
}

/* ---- the delay heap ---- */

static void heap_push(cw__faults *f, uint32_t lane, cw__timed t)
{
    cw__fault_lane *ln = &f->lane[lane];
    cw__timed *room = cw__vec_room(ln->delayed, ln->dlen, &ln->dcap, sizeof *room);
    if (!room) { /* cannot delay: deliver now rather than lose it */
        f->deliver(f->host, lane, t.r);
        cw__msg_unref(t.r.msg);
        return;
    }
    ln->delayed = room;
    size_t i = ln->dlen++;
    while (i && ln->delayed[(i - 1) / 2].due_ns > t.due_ns) {
        ln->delayed[i] = ln->delayed[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    ln->delayed[i] = t;
}

/* Puts t at i or below, where the heap below i is in order. */
static void sift_down(cw__fault_lane *ln, size_t i, cw__timed t)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ln->dlen)
            break;
        if (c + 1 < ln->dlen && ln->delayed[c + 1].due_ns < ln->delayed[c].due_ns)
            c++;
        if (ln->delayed[c].due_ns >= t.due_ns)
            break;
        ln->delayed[i] = ln->delayed[c];
        i = c;
    }
    ln->delayed[i] = t;
}

static cw__timed heap_pop(cw__fault_lane *ln)
{
    cw__timed top = ln->delayed[0], last = ln->delayed[--ln->dlen];
    if (ln->dlen)
        sift_down(ln, 0, last);
    return top;
}

size_t cw__faults_forget_reports_of(cw__faults *f, uint32_t lane, cw_node_id origin)
{
    cw__fault_lane *ln = &f->lane[lane];
    size_t kept = 0;
    for (size_t i = 0; i < ln->dlen; i++) { /* the heap: this thread's (invariant 4) */
        const cw_msg *m = ln->delayed[i].r.msg;
        if (m->origin == origin && m->kind != CW_MSG_WRITE)
            cw__msg_unref(ln->delayed[i].r.msg);
        else
            ln->delayed[kept++] = ln->delayed[i];
    }
    size_t gone = ln->dlen - kept;
    ln->dlen = kept;
    /* Relaxed: a statistic, as lose()'s (dropped counts every message lost). */
    atomic_fetch_add_explicit(&f->dropped, gone, memory_order_relaxed);
    for (size_t i = kept / 2; gone && i-- > 0;) /* in heap order again */
        sift_down(ln, i, ln->delayed[i]);
    return gone;
}

/* ---- routing ---- */

static bool hold_eq(const void *item, const void *key)
{
    const hold *h = item;
    return ((uint64_t)h->from << 16 | h->to) == *(const uint64_t *)key;
}

/* The link from -> to's entry, or NULL. Under holds_lock. */
static hold *link_find(const cw__faults *f, cw_node_id from, cw_node_id to)
{
    uint64_t key = (uint64_t)from << 16 | to;
    return cw__map_find(&f->holds, cw__hash_u64(key), hold_eq, &key);
}

/* A message lost on its way (dropped or cut). Release: a counted loss is a
 * delivery done, after which quiesce (acquire) may see the counts meet. */
static void lose(cw__faults *f, const cw_msg *m)
{
    if (cw__msg_counted(m))
        atomic_fetch_add_explicit(&f->lost, 1, memory_order_release);
    atomic_fetch_add_explicit(&f->dropped, 1, memory_order_relaxed);
}

/* The link whose cut decides r's fate, given h, its origin's: that one, or
 * for a retransmitted copy its sender's if the route names it; NULL if the
 * host decided where the copy was sent (fault.h). Under holds_lock. */
static const hold *cut_by(const cw__faults *f, cw__route r, const hold *h)
{
    if (!(r.msg->flags & CW__MSG_RETRANSMITTED))
        return h;
    if (!r.sender_known)
        return NULL;
    return r.sender == r.msg->origin ? h : link_find(f, r.sender, r.to);
}

/* The link's hold and cut, for a route arriving: true if the route was kept
 * (parked on a held link) or lost; r.msg is borrowed. A route a release
 * sent back (released) meets only the cut (invariant 5). */
static bool link_takes(cw__faults *f, cw__route r, bool released)
{
    bool counted = cw__msg_counted(r.msg), kept, lost;
    cw__memory_wait mw = {.closing = f->closing, .waiting = f->memory_waits};
    for (;;) {
        pthread_mutex_lock(&f->holds_lock);
        hold *h = link_find(f, r.msg->origin, r.to);
        const hold *by = cut_by(f, r, h);
        bool cut = by && by->cut;
        bool held = !released && h && h->held;
        kept = !cut && held && counted; /* recovery traffic is not kept: lost */
        lost = cut || (held && !counted);
        if (!kept || cw__routes_push(&h->q, r))
            break;
        if (f->lose_unkept) { /* the replicas recover it (fault.h) */
            kept = false;
            lost = true;
            break;
        }
        /* Out of memory: wait rather than drop the hold, and without the
         * lock, which the other lanes and the host's hold and cut calls
         * need; then decide again (the link may have been released). The
         * route may so come after a route its hold released, as with a
         * delay: the replicas keep no order of arrival ... */
        pthread_mutex_unlock(&f->holds_lock);
        if (!cw__memory_wait_more(&mw)) { /* ... unless the host is closing: deliver it now instead */
            cw__memory_wait_end(&mw);
            return false;
        }
    }
    cw__memory_wait_end(&mw);
    if (kept)
        cw__msg_ref(r.msg); /* the hold queue's own reference */
    pthread_mutex_unlock(&f->holds_lock);
    if (kept) /* out of flight until released (invariant 3). Release:
               * pairs with cw__faults_parked's acquire. */
        atomic_fetch_add_explicit(&f->parked, 1, memory_order_release);
    if (lost)
        lose(f, r.msg);
    return kept || lost;
}

bool cw__faults_drop_first(const cw__faults *f)
{
    /* Acquire: pairs with set_link's release, as in cw__faults_direct. */
    return !atomic_load_explicit(&f->holds_active, memory_order_acquire) && f->o.drop_probability > 0;
}

bool cw__faults_drop_only(const cw__faults *f)
{
    return cw__faults_drop_first(f) && f->o.duplicate_probability == 0 &&
           !(f->o.delay_probability > 0 && f->o.max_delay_us);
}

bool cw__faults_dropped_here(cw__faults *f, uint32_t lane, cw__route r)
{
    /* A retransmitted copy's drop was decided where it was sent, unless
     * the route names its sender (fault.h). */
    if (f->o.drop_probability == 0 || ((r.msg->flags & CW__MSG_RETRANSMITTED) && !r.sender_known) ||
        fault_draw(f, lane, r.msg, r.to, r.copy, DRAW_DROP) >= f->o.drop_probability)
        return false;
    lose(f, r.msg);
    return true;
}

/* cw__faults_route, for a route a release sent back or not (released). */
static void route(cw__faults *f, uint32_t lane, cw__route r, bool faults, bool released)
{
    if (atomic_load_explicit(&f->holds_active, memory_order_acquire) && link_takes(f, r, released))
        return;
    if (faults && !r.drop_drawn && cw__faults_dropped_here(f, lane, r))
        return;
    if (faults && r.copy == 0 && f->o.duplicate_probability > 0 && cw__msg_counted(r.msg) &&
        fault_draw(f, lane, r.msg, r.to, 0, DRAW_DUPLICATE) < f->o.duplicate_probability) {
        /* Relaxed: the duplicate's delivery is counted with a release after
         * this, which quiescence reads first (invariant 3). */
        atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed);
        cw__route dup = r;
        dup.copy = 1;
        dup.drop_drawn = false;
        cw__faults_route(f, lane, dup, true);
    }
    if (faults && f->o.delay_probability > 0 && f->o.max_delay_us &&
        fault_draw(f, lane, r.msg, r.to, r.copy, DRAW_DELAY) < f->o.delay_probability) {
        uint64_t delay =
            (uint64_t)(fault_draw(f, lane, r.msg, r.to, r.copy, DRAW_DELAY_LENGTH) * f->o.max_delay_us * 1000.0);
        cw__route later = r;
        later.msg = cw__msg_ref(r.msg);
        heap_push(f, lane, (cw__timed){cw__now_ns() + delay, later});
        return;
    }
    f->deliver(f->host, lane, r);
}

void cw__faults_route(cw__faults *f, uint32_t lane, cw__route r, bool faults)
{
    route(f, lane, r, faults, false);
}

bool cw__faults_send_lost(cw__faults *f, uint32_t lane, cw_node_id from, cw_node_id to)
{
    bool lost = false;
    if (atomic_load_explicit(&f->cuts_active, memory_order_acquire)) { /* pairs with cw__faults_cut's release */
        pthread_mutex_lock(&f->holds_lock);
        hold *h = link_find(f, from, to);
        lost = h && h->cut;
        pthread_mutex_unlock(&f->holds_lock);
    }
    if (!lost && f->o.drop_probability > 0)
        lost = unit(cw__splitmix64(&f->lane[lane].rng)) < f->o.drop_probability;
    if (lost)
        atomic_fetch_add_explicit(&f->dropped, 1, memory_order_relaxed);
    return lost;
}

bool cw__faults_release_due(cw__faults *f, uint32_t lane)
{
    cw__fault_lane *ln = &f->lane[lane];
    if (!ln->dlen)
        return false;
    uint64_t now = cw__now_ns();
    bool did = false;
    while (ln->dlen && ln->delayed[0].due_ns <= now) {
        cw__route r = heap_pop(ln).r;
        cw__faults_route(f, lane, r, false); /* a link held meanwhile keeps it */
        cw__msg_unref(r.msg);
        did = true;
    }
    return did;
}

bool cw__faults_take_released(cw__faults *f, uint32_t lane)
{
    cw__fault_lane *ln = &f->lane[lane];
    /* Acquire: pairs with release_link's release store of released_waiting
     * (the list itself is read under the lock). */
    if (!atomic_load_explicit(&ln->released_waiting, memory_order_acquire))
        return false;
    pthread_mutex_lock(&ln->released_lock);
    cw__released *b = ln->released;
    ln->released = NULL;
    ln->released_tail = &ln->released;
    atomic_store_explicit(&ln->released_waiting, 0, memory_order_relaxed); /* under the lock */
    pthread_mutex_unlock(&ln->released_lock);
    while (b) {
        for (size_t i = 0; i < b->q.len; i++) {
            route(f, lane, b->q.r[i], false, true);
            cw__msg_unref(b->q.r[i].msg);
        }
        cw__released *next = b->next;
        free(b->q.r);
        free(b);
        b = next;
    }
    return true;
}

bool cw__faults_pending(cw__faults *f, uint32_t lane, uint64_t now)
{
    cw__fault_lane *ln = &f->lane[lane];
    /* Relaxed: a hint for the idle check; the list is taken under its lock. */
    return atomic_load_explicit(&ln->released_waiting, memory_order_relaxed) ||
           (ln->dlen && ln->delayed[0].due_ns <= now);
}

uint64_t cw__faults_next_due(const cw__faults *f, uint32_t lane)
{
    const cw__fault_lane *ln = &f->lane[lane];
    return ln->dlen ? ln->delayed[0].due_ns : 0;
}

/* The link from -> to's entry, made if absent (NULL: out of memory). Under
 * holds_lock. */
static hold *link_entry(cw__faults *f, cw_node_id from, cw_node_id to)
{
    hold *h = link_find(f, from, to);
    if (h)
        return h;
    uint64_t key = (uint64_t)from << 16 | to;
    h = calloc(1, sizeof *h);
    if (!h || cw__map_insert(&f->holds, cw__hash_u64(key), h) != CW_OK) {
        free(h);
        return NULL;
    }
    h->from = from;
    h->to = to;
    return h;
}

/* Sets a link's held and cut, keeping holds_active (links held or cut) and
 * cuts_active. Under holds_lock. Release: pairs with the acquire loads of
 * the routes, which then look the link up under the lock. */
static void set_link(cw__faults *f, hold *h, bool held, bool cut)
{
    bool was = h->held || h->cut, is = held || cut;
    if (is && !was)
        atomic_fetch_add_explicit(&f->holds_active, 1, memory_order_release);
    else if (was && !is)
        atomic_fetch_sub_explicit(&f->holds_active, 1, memory_order_release);
    if (cut && !h->cut)
        atomic_fetch_add_explicit(&f->cuts_active, 1, memory_order_release);
    else if (!cut && h->cut)
        atomic_fetch_sub_explicit(&f->cuts_active, 1, memory_order_release);
    h->held = held;
    h->cut = cut;
}

int cw__faults_cut(cw__faults *f, cw_node_id from, cw_node_id to, bool cut_it)
{
    pthread_mutex_lock(&f->holds_lock);
    hold *h = link_entry(f, from, to);
    if (h)
        set_link(f, h, h->held, cut_it);
    pthread_mutex_unlock(&f->holds_lock);
    return h ? CW_OK : CW_ENOMEM;
}

/* Holds link h (invariant 2: its release's entry made first). Under
 * holds_lock. CW_OK or CW_ENOMEM (not held). */
static int hold_link(cw__faults *f, hold *h)
{
    if (!(h->back = calloc(1, sizeof *h->back)))
        return CW_ENOMEM;
    set_link(f, h, true, h->cut);
    return CW_OK;
}

/* Releases held link h: what it kept goes to lane's list, in its entry,
 * after earlier releases (invariant 5). Under holds_lock. Whether anything
 * was kept. */
static bool release_link(cw__faults *f, hold *h, uint32_t lane)
{
    set_link(f, h, false, h->cut);
    cw__released *back = h->back;
    h->back = NULL;
    if (!h->q.len) {
        free(back);
        return false;
    }
    back->q = h->q;
    h->q = (cw__routes){0};
    /* Relaxed: ordered before the deliveries by the lane's acquire of
     * released_waiting below (invariant 3). */
    atomic_fetch_add_explicit(&f->injected, back->q.len, memory_order_relaxed);
    cw__fault_lane *ln = &f->lane[lane];
    pthread_mutex_lock(&ln->released_lock); /* under holds_lock (invariant 5) */
    *ln->released_tail = back;
    ln->released_tail = &back->next;
    /* Release: pairs with cw__faults_take_released's acquire. */
    atomic_store_explicit(&ln->released_waiting, 1, memory_order_release);
    pthread_mutex_unlock(&ln->released_lock);
    return true;
}

int cw__faults_hold(cw__faults *f, cw_node_id from, cw_node_id to, bool hold_it, uint32_t lane, bool *released)
{
    int rc = CW_OK;
    *released = false;
    pthread_mutex_lock(&f->holds_lock);
    hold *h = hold_it ? link_entry(f, from, to) : link_find(f, from, to); /* a release makes no entry */
    if (hold_it)
        rc = !h ? CW_ENOMEM : h->held ? CW_OK : hold_link(f, h);
    else if (h && h->held)
        *released = release_link(f, h, lane);
    pthread_mutex_unlock(&f->holds_lock);
    return rc;
}

typedef struct each_link {
    void (*fn)(void *ctx, cw_node_id from, cw_node_id to, bool held, bool cut);
    void *ctx;
} each_link;

static void visit_link(void *item, void *ctx)
{
    hold *h = item;
    each_link *a = ctx;
    if (h->held || h->cut)
        a->fn(a->ctx, h->from, h->to, h->held, h->cut);
}

void cw__faults_each_link(cw__faults *f, void (*fn)(void *ctx, cw_node_id from, cw_node_id to, bool held, bool cut),
                          void *ctx)
{
    each_link a = {fn, ctx};
    pthread_mutex_lock(&f->holds_lock);
    cw__map_each(&f->holds, visit_link, &a);
    pthread_mutex_unlock(&f->holds_lock);
}

uint64_t cw__faults_parked(const cw__faults *f)
{
    return atomic_load_explicit(&f->parked, memory_order_acquire);
}

uint64_t cw__faults_lost(const cw__faults *f)
{
    return atomic_load_explicit(&f->lost, memory_order_acquire);
}

uint64_t cw__faults_injected(const cw__faults *f)
{
    return atomic_load_explicit(&f->injected, memory_order_acquire);
}

uint64_t cw__faults_dropped(const cw__faults *f)
{
    return atomic_load_explicit(&f->dropped, memory_order_relaxed);
}

/* The highest seq above v of origin's writes for `to` among n routes. */
static uint64_t highest_write(const cw__route *r, size_t n, cw_node_id origin, cw_node_id to, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].to == to && r[i].msg->kind == CW_MSG_WRITE && r[i].msg->origin == origin && r[i].msg->seq > v)
            v = r[i].msg->seq;
    return v;
}

uint64_t cw__faults_parked_seq(cw__faults *f, uint32_t lane, cw_node_id origin, cw_node_id to)
{
    cw__fault_lane *ln = &f->lane[lane];
    uint64_t v = 0;
    for (size_t i = 0; i < ln->dlen; i++) /* the heap: this thread's (invariant 4) */
        v = highest_write(&ln->delayed[i].r, 1, origin, to, v);
    pthread_mutex_lock(&ln->released_lock);
    for (const cw__released *b = ln->released; b; b = b->next)
        v = highest_write(b->q.r, b->q.len, origin, to, v);
    pthread_mutex_unlock(&ln->released_lock);
    pthread_mutex_lock(&f->holds_lock);
    hold *h = link_find(f, origin, to); /* links are keyed by the writes' origin (link_takes) */
    if (h)
        v = highest_write(h->q.r, h->q.len, origin, to, v);
    pthread_mutex_unlock(&f->holds_lock);
    return v;
}
