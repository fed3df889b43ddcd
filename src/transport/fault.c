/* The fault layer (see fault.h): seeded delay and duplication, the delay
 * heap, link holds.
 *
 * Invariants:
 *  1. Fault decisions hash (seed, from, to, seq, copy, what): the same seed
 *     makes the same decisions whatever the thread timing.
 *  2. Nothing is lost: a route that cannot be delayed (out of memory) is
 *     delivered at once; a held route waits for memory rather than be
 *     dropped; a released hold goes back, in order, through its lane.
 *  3. Counting, for the host's quiescence: an injected duplicate and every
 *     route a hold releases add to `injected` before they are delivered; a
 *     route kept on a held link adds to `parked` (it is out of flight). So
 *     deliveries owed = the host's + injected, deliveries done = the host's +
 *     parked, and a delivery is always owed before it is done.
 *  4. A lane's delay heap is touched by that lane's thread only; its released
 *     list under its lock, signalled by released_len.
 */
#include <sched.h>
#include <stdlib.h>

#include <causeway/error.h>

#include "fault.h"
#include "transport.h"
#include "msg_internal.h"
#include "now.h"
#include "vec.h"

typedef struct hold {
    cw_node_id from, to;
    bool held;
    cw__routes q;                   /* messages kept while held, in order */
} hold;

/* Decisions: which draw a fault uses. */
enum { DRAW_DUPLICATE = 1, DRAW_DELAY = 2, DRAW_DELAY_LENGTH = 3 };

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

static double fault_draw(const cw__faults *f, const cw_msg *m, cw_node_id to, uint32_t copy, uint32_t what)
{
    uint64_t x = f->o.seed ^ cw__hash_u64(((uint64_t)m->origin << 48) ^ ((uint64_t)to << 32) ^
                                          ((uint64_t)copy << 8) ^ what);
    x = cw__hash_u64(x ^ m->seq * 0x9e3779b97f4a7c15u);
    return (double)(x >> 11) * 0x1p-53;
}

int cw__faults_init(cw__faults *f, const cw__fault_options *o, uint32_t lanes, cw__deliver_fn *deliver,
                    void *host)
{
    if (!(o->delay_probability >= 0 && o->delay_probability <= 1) ||
        !(o->duplicate_probability >= 0 && o->duplicate_probability <= 1))
        return CW_EINVAL;
    *f = (cw__faults){.o = *o, .lanes = lanes, .deliver = deliver, .host = host};
    f->on = o->duplicate_probability > 0 || (o->delay_probability > 0 && o->max_delay_us);
    f->lane = calloc(lanes, sizeof *f->lane);
    if (!f->lane)
        return CW_ENOMEM;
    for (uint32_t l = 0; l < lanes; l++)
        pthread_mutex_init(&f->lane[l].released_lock, NULL);
    pthread_mutex_init(&f->holds_lock, NULL);
    cw__map_init(&f->holds);
    return CW_OK;
}

static void free_hold(void *item, void *ctx)
{
    (void)ctx;
    hold *h = item;
    cw__routes_release(&h->q);
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
        cw__routes_release(&ln->released);
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

static cw__timed heap_pop(cw__fault_lane *ln)
{
    cw__timed top = ln->delayed[0], last = ln->delayed[--ln->dlen];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ln->dlen)
            break;
        if (c + 1 < ln->dlen && ln->delayed[c + 1].due_ns < ln->delayed[c].due_ns)
            c++;
        if (ln->delayed[c].due_ns >= last.due_ns)
            break;
        ln->delayed[i] = ln->delayed[c];
        i = c;
    }
    if (ln->dlen)
        ln->delayed[i] = last;
    return top;
}

/* ---- routing ---- */

static bool hold_eq(const void *item, const void *key)
{
    const hold *h = item;
    return ((uint64_t)h->from << 16 | h->to) == *(const uint64_t *)key;
}

void cw__faults_route(cw__faults *f, uint32_t lane, cw__route r, bool faults)
{
    if (atomic_load_explicit(&f->holds_active, memory_order_acquire)) {
        pthread_mutex_lock(&f->holds_lock);
        uint64_t key = (uint64_t)r.msg->origin << 16 | r.to;
        hold *h = cw__map_find(&f->holds, cw__hash_u64(key), hold_eq, &key);
        bool kept = h && h->held;
        while (kept && !cw__routes_push(&h->q, r)) { /* out of memory: wait rather than drop the hold */
            if (cw__closing(f->closing)) { /* the host is closing: deliver it now instead */
                kept = false;
                break;
            }
            sched_yield();
        }
        if (kept)
            cw__msg_ref(r.msg); /* the hold queue's own reference */
        pthread_mutex_unlock(&f->holds_lock);
        if (kept) { /* out of flight until released (invariant 3). Release:
                     * pairs with cw__faults_parked's acquire. */
            atomic_fetch_add_explicit(&f->parked, 1, memory_order_release);
            return;
        }
    }
    if (faults && r.copy == 0 && f->o.duplicate_probability > 0 &&
        fault_draw(f, r.msg, r.to, 0, DRAW_DUPLICATE) < f->o.duplicate_probability) {
        /* Relaxed: the duplicate's delivery is counted with a release after
         * this, which quiescence reads first (invariant 3). */
        atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed);
        cw__faults_route(f, lane, (cw__route){r.msg, r.to, 1}, true);
    }
    if (faults && f->o.delay_probability > 0 && f->o.max_delay_us &&
        fault_draw(f, r.msg, r.to, r.copy, DRAW_DELAY) < f->o.delay_probability) {
        uint64_t delay =
            (uint64_t)(fault_draw(f, r.msg, r.to, r.copy, DRAW_DELAY_LENGTH) * f->o.max_delay_us * 1000.0);
        heap_push(f, lane, (cw__timed){cw__now_ns() + delay, (cw__route){cw__msg_ref(r.msg), r.to, r.copy}});
        return;
    }
    f->deliver(f->host, lane, r);
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
    /* Acquire: pairs with cw__faults_hold's release store of released_len
     * (the list itself is read under the lock). */
    if (!atomic_load_explicit(&ln->released_len, memory_order_acquire))
        return false;
    pthread_mutex_lock(&ln->released_lock);
    cw__routes v = ln->released;
    ln->released = (cw__routes){0};
    atomic_store_explicit(&ln->released_len, 0, memory_order_relaxed); /* under the lock */
    pthread_mutex_unlock(&ln->released_lock);
    for (size_t i = 0; i < v.len; i++) {
        cw__faults_route(f, lane, v.r[i], false);
        cw__msg_unref(v.r[i].msg);
    }
    free(v.r);
    return true;
}

bool cw__faults_pending(cw__faults *f, uint32_t lane, uint64_t now)
{
    cw__fault_lane *ln = &f->lane[lane];
    /* Relaxed: a hint for the idle check; the list is taken under its lock. */
    return atomic_load_explicit(&ln->released_len, memory_order_relaxed) ||
           (ln->dlen && ln->delayed[0].due_ns <= now);
}

uint64_t cw__faults_next_due(const cw__faults *f, uint32_t lane)
{
    const cw__fault_lane *ln = &f->lane[lane];
    return ln->dlen ? ln->delayed[0].due_ns : 0;
}

int cw__faults_hold(cw__faults *f, cw_node_id from, cw_node_id to, bool hold_it, uint32_t lane, bool *released)
{
    int rc = CW_OK;
    uint64_t key = (uint64_t)from << 16 | to;
    pthread_mutex_lock(&f->holds_lock);
    hold *h = cw__map_find(&f->holds, cw__hash_u64(key), hold_eq, &key);
    if (!h && hold_it) {
        h = calloc(1, sizeof *h);
        if (!h || cw__map_insert(&f->holds, cw__hash_u64(key), h) != CW_OK) {
            free(h);
            rc = CW_ENOMEM;
        } else {
            h->from = from;
            h->to = to;
        }
    }
    cw__routes out = {0};
    if (rc == CW_OK && h && h->held != hold_it) {
        h->held = hold_it;
        /* Release: pairs with cw__faults_route's acquire load of holds_active. */
        if (hold_it)
            atomic_fetch_add_explicit(&f->holds_active, 1, memory_order_release);
        else {
            atomic_fetch_sub_explicit(&f->holds_active, 1, memory_order_release);
            out = h->q;
            h->q = (cw__routes){0};
        }
    }
    pthread_mutex_unlock(&f->holds_lock);
    *released = out.len > 0;
    if (out.len) { /* back in flight, in order, through the destination's lane */
        cw__fault_lane *ln = &f->lane[lane];
        /* Relaxed: ordered before the deliveries by the lane's acquire of
         * released_len below (invariant 3). */
        atomic_fetch_add_explicit(&f->injected, out.len, memory_order_relaxed);
        pthread_mutex_lock(&ln->released_lock);
        for (size_t i = 0; i < out.len; i++)
            while (!cw__routes_push(&ln->released, out.r[i])) { /* out of memory: wait rather than lose it */
                if (cw__closing(f->closing)) { /* the host is closing: drop it (its reference) */
                    cw__msg_unref(out.r[i].msg);
                    break;
                }
                sched_yield();
            }
        /* Release: pairs with cw__faults_take_released's acquire. */
        atomic_store_explicit(&ln->released_len, (uint32_t)ln->released.len, memory_order_release);
        pthread_mutex_unlock(&ln->released_lock);
    }
    free(out.r);
    return rc;
}

uint64_t cw__faults_parked(const cw__faults *f)
{
    return atomic_load_explicit(&f->parked, memory_order_acquire);
}

uint64_t cw__faults_injected(const cw__faults *f)
{
    return atomic_load_explicit(&f->injected, memory_order_acquire);
}
