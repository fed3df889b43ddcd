/* One replica: clock, store, causal delivery buffer, statistics.
 *
 * Invariants (checked by cw__node_check):
 *  1. Delivery rule (Birman-Schiper-Stephenson): a write m from j is applied
 *     only when m[j] == V[j] + 1 and m[k] <= V[k] for every k != j.
 *  2. No buffered write is deliverable: a pending write is not its sender's
 *     next (seq > V[j] + 1); a waiting head has a registered blocker k with
 *     m[k] > V[k], and every entry below k is met.
 *  3. Every buffered write is reachable from exactly one index entry:
 *     pending (origin, seq), or waiting (blocker, counter) plus heads[origin].
 *  4. The node clock equals the merge of all applied writes: V[k] is the
 *     number of writes from k applied here (each origin's writes apply in
 *     sequence order, and invariant 1 puts every other entry of a write's
 *     clock at or below V).
 *  5. The buffer never rescans: after a write from o reaches V[o] = c, only
 *     waiting(o, c) and pending(o, c + 1) are looked at, and a re-examined head
 *     resumes its scan at its blocker (V only grows, so entries below stay
 *     met). Work per delivered write is O(nodes) vector work plus O(1) table
 *     operations, whatever the number of buffered writes.
 *  6. A failed call changes nothing: the memory any step could need (index
 *     slots, the work stack) is reserved when a write enters the buffer.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <causeway/dclock.h>
#include <causeway/error.h>
#include <causeway/node.h>

#include "buffer.h"
#include "histogram.h"
#include "kernels.h"
#include "node_internal.h"
#include "store.h"
#include "vclock_internal.h"

/* A write released for application; arrived_ns is 0 for one that never waited. */
typedef struct ready {
    cw_msg *msg;
    uint64_t arrived_ns;
} ready;

struct cw_node {
    cw_node_options opt;
    uint32_t n;
    cw_dclock clock;          /* V */
    uint64_t *applied_from;   /* writes applied per origin (invariant 4) */
    cw_hlc hlc;
    cw__store store;
    cw__buffer buf;
    ready *work;              /* released writes being applied (a stack) */
    size_t work_count, work_cap;
    uint64_t writes, delivered, duplicates, conflicts, rejected_full;
    cw__histogram buffering;
};

static uint64_t monotonic_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cw_node_options_init(cw_node_options *o)
{
    if (!o)
        return;
    *o = (cw_node_options){0};
    o->nodes = 1;
    o->policy = CW_KEEP_SIBLINGS;
    o->max_key_len = CW_NODE_DEFAULT_MAX_KEY_LEN;
    o->max_value_len = CW_NODE_DEFAULT_MAX_VALUE_LEN;
    o->max_buffered = CW_NODE_DEFAULT_MAX_BUFFERED;
}

int cw_node_create(cw_node **out, const cw_node_options *o)
{
    if (!out || !o || o->nodes == 0 || o->nodes > CW_VCLOCK_MAX_ENTRIES || o->self >= o->nodes ||
        (o->nodes > 1 && !o->send) || (unsigned)o->policy > CW_MERGE_CALLBACK ||
        (o->policy == CW_MERGE_CALLBACK && !o->merge) || o->max_buffered == 0)
        return CW_EINVAL;
    cw_node *n = calloc(1, sizeof *n);
    if (!n)
        return CW_ENOMEM;
    n->opt = *o;
    n->n = o->nodes;
    if (!n->opt.ns_clock)
        n->opt.ns_clock = monotonic_ns;
    n->applied_from = calloc(o->nodes, sizeof *n->applied_from);
    n->work_cap = 16;
    n->work = malloc(n->work_cap * sizeof *n->work);
    if (!n->applied_from || !n->work || cw_dclock_init(&n->clock, o->nodes) != CW_OK ||
        cw__buffer_init(&n->buf, o->nodes) != CW_OK) {
        free(n->applied_from);
        free(n->work);
        cw_dclock_destroy(&n->clock);
        free(n);
        return CW_ENOMEM;
    }
    cw_hlc_init(&n->hlc, o->self, o->wall_clock, o->wall_ctx, o->max_drift_ms);
    cw__store_init(&n->store);
    *out = n;
    return CW_OK;
}

void cw_node_destroy(cw_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->work_count; i++)
        cw_msg_unref(n->work[i].msg);
    cw__buffer_destroy(&n->buf);
    cw__store_destroy(&n->store);
    cw_dclock_destroy(&n->clock);
    free(n->applied_from);
    free(n->work);
    free(n);
}

cw_node_id cw_node_self(const cw_node *n) { return n->opt.self; }
const uint64_t *cw_node_counters(const cw_node *n) { return n->clock.counters; }

int cw_node_clock(const cw_node *n, cw_vclock *out)
{
    if (!n || !out)
        return CW_EINVAL;
    return cw_dclock_to_sparse(&n->clock, out);
}

/* ---- applying writes ---- */

/* Applies one write (local or remote) to the store and the clock. Remote
 * writes merge their clock into V; a local write already ticked V. */
static int apply(cw_node *n, cw_msg *m, bool remote, uint64_t arrived_ns, uint64_t now_ns)
{
    bool conflict;
    int rc = cw__store_apply(&n->store, m, n->opt.policy, &conflict);
    if (rc != CW_OK)
        return rc;
    cw_node_id o = cw_msg_origin(m);
    n->applied_from[o]++;
    n->conflicts += conflict;
    if (remote) {
        cw__kernels()->max_u64(n->clock.counters, cw_msg_counters(m, NULL), n->n);
        cw_hlc_timestamp ts = cw_msg_timestamp(m);
        /* Keeps local timestamps above every applied write's, so last-writer-
         * wins extends causality. Drift was checked on arrival; a failure
         * here (wall past 2^48 ms) only leaves the HLC where it was. */
        cw_hlc_update(&n->hlc, &ts, NULL);
        n->delivered++;
        cw__hist_add(&n->buffering, arrived_ns && now_ns > arrived_ns ? now_ns - arrived_ns : 0);
    }
    if (n->opt.on_apply)
        n->opt.on_apply(n->opt.apply_ctx, m);
    return CW_OK;
}

/* The first k >= from, k != origin, with m[k] > V[k]; n->n if none. */
static uint32_t next_blocker(const cw_node *n, const cw_msg *m, uint32_t from)
{
    const cw__kernel_table *k = cw__kernels();
    const uint64_t *mc = cw_msg_counters(m, NULL), *v = n->clock.counters;
    uint32_t o = cw_msg_origin(m);
    if (from <= o) {
        size_t at = from + k->first_gt_u64(mc + from, v + from, o - from);
        if (at < o)
            return (uint32_t)at;
        from = o + 1;
    }
    return from + (uint32_t)k->first_gt_u64(mc + from, v + from, n->n - from);
}

/* A head (its sender's next write): release it, or file it under its blocker. */
static void file_head(cw_node *n, cw__item *item, uint32_t from)
{
    uint32_t k = next_blocker(n, item->msg, from);
    cw_node_id o = cw_msg_origin(item->msg);
    if (k == n->n) {
        n->buf.heads[o] = NULL;
        n->buf.count--;
        n->work[n->work_count++] = (ready){item->msg, item->arrived_ns};
        free(item);
        return;
    }
    item->node = (cw_node_id)k;
    item->counter = cw_msg_counters(item->msg, NULL)[k];
    item->scan_from = k;
    n->buf.heads[o] = item;
    cw__buffer_put(&n->buf.waiting, item); /* room reserved on entry (invariant 6) */
}

/* V[o] has just reached c: look at exactly what that can release. */
static void release(cw_node *n, cw_node_id o, uint64_t c)
{
    cw__item *item;
    while ((item = cw__buffer_take(&n->buf.waiting, o, c)) != NULL)
        file_head(n, item, item->scan_from);
    if ((item = cw__buffer_take(&n->buf.pending, o, c + 1)) != NULL)
        file_head(n, item, 0);
}

/* Applies released writes until none is left. On CW_ENOMEM the write stays
 * on the stack and the next call resumes. */
static int drain(cw_node *n, size_t *delivered)
{
    uint64_t now = 0;
    while (n->work_count) {
        ready r = n->work[n->work_count - 1];
        if (r.arrived_ns && !now)
            now = n->opt.ns_clock(n->opt.ns_ctx);
        int rc = apply(n, r.msg, true, r.arrived_ns, now);
        if (rc != CW_OK)
            return rc;
        n->work_count--;
        if (delivered)
            (*delivered)++;
        cw_node_id o = cw_msg_origin(r.msg);
        release(n, o, n->clock.counters[o]);
        cw_msg_unref(r.msg);
    }
    assert(cw__node_check(n));
    return CW_OK;
}

/* Room for one more buffered write and for everything to be released at once. */
static int reserve_for_one_more(cw_node *n)
{
    size_t need = n->buf.count + 2;
    if (need > n->work_cap) {
        size_t cap = n->work_cap * 2 > need ? n->work_cap * 2 : need;
        ready *w = realloc(n->work, cap * sizeof *w);
        if (!w)
            return CW_ENOMEM;
        n->work = w;
        n->work_cap = cap;
    }
    if (cw__map_reserve(&n->buf.pending, 1) != CW_OK || cw__map_reserve(&n->buf.waiting, 1) != CW_OK)
        return CW_ENOMEM;
    return CW_OK;
}

int cw_node_receive(cw_node *n, cw_msg *m, cw_receive_result *result, size_t *delivered)
{
    uint32_t width;
    size_t key_len, value_len;
    if (!n || !m)
        return CW_EINVAL;
    cw_msg_counters(m, &width);
    cw_msg_key(m, &key_len);
    cw_msg_value(m, &value_len);
    cw_node_id o = cw_msg_origin(m);
    if (width != n->n || o == n->opt.self)
        return CW_EINVAL;
    if (key_len > n->opt.max_key_len || value_len > n->opt.max_value_len)
        return CW_ELIMIT;
    if (delivered)
        *delivered = 0;
    int rc = drain(n, delivered); /* finish anything an earlier call left */
    if (rc != CW_OK)
        return rc;

    uint64_t seq = cw_msg_seq(m), have = n->clock.counters[o];
    bool head = seq == have + 1;
    if (seq <= have || (head && n->buf.heads[o]) ||
        (!head && cw__buffer_find(&n->buf.pending, o, seq))) {
        n->duplicates++;
        if (result)
            *result = CW_RECEIVE_DUPLICATE;
        return CW_OK;
    }
    cw_hlc_timestamp ts = cw_msg_timestamp(m);
    uint64_t wall = n->hlc.now(n->hlc.now_ctx);
    if (ts.wall_ms > wall && ts.wall_ms - wall > n->hlc.max_drift_ms)
        return CW_EDRIFT;

    uint32_t blocker = head ? next_blocker(n, m, 0) : n->n;
    if (head && blocker == n->n) { /* deliverable now: apply, then what it releases */
        if ((rc = reserve_for_one_more(n)) != CW_OK || (rc = apply(n, m, true, 0, 0)) != CW_OK)
            return rc;
        if (delivered)
            (*delivered)++;
        if (result)
            *result = CW_RECEIVE_DELIVERED;
        release(n, o, seq);
        /* m is applied whatever happens next; a released write that runs out
         * of memory stays on the work stack for the next call. */
        drain(n, delivered);
        return CW_OK;
    }
    if (n->buf.count >= n->opt.max_buffered) {
        n->rejected_full++;
        return CW_EFULL;
    }
    cw__item *item = malloc(sizeof *item);
    if (!item || (rc = reserve_for_one_more(n)) != CW_OK) {
        free(item);
        return CW_ENOMEM;
    }
    *item = (cw__item){cw_msg_ref(m), o, seq, 0, n->opt.ns_clock(n->opt.ns_ctx)};
    n->buf.count++;
    if (n->buf.count > n->buf.high_water)
        n->buf.high_water = n->buf.count;
    if (head)
        file_head(n, item, blocker);
    else
        cw__buffer_put(&n->buf.pending, item);
    if (result)
        *result = CW_RECEIVE_BUFFERED;
    assert(cw__node_check(n));
    return CW_OK;
}

int cw_node_put(cw_node *n, const void *key, size_t key_len, const void *value, size_t value_len,
                cw_vclock *clock_out)
{
    if (!n || (!key && key_len) || (!value && value_len))
        return CW_EINVAL;
    if (key_len > n->opt.max_key_len || value_len > n->opt.max_value_len)
        return CW_ELIMIT;
    int rc = drain(n, NULL);
    if (rc != CW_OK)
        return rc;
    uint64_t *v = n->clock.counters;
    cw_node_id self = n->opt.self;
    if (v[self] == UINT64_MAX)
        return CW_EOVERFLOW;
    if (clock_out && (rc = cw__vclock_reserve(clock_out, n->n, false)) != CW_OK)
        return rc;
    cw_hlc saved = n->hlc;
    cw_hlc_timestamp ts;
    if ((rc = cw_hlc_now(&n->hlc, &ts)) != CW_OK)
        return rc;
    v[self]++;
    cw_msg *m;
    rc = cw_msg_create(&m, self, &ts, v, n->n, key, key_len, value, value_len);
    if (rc == CW_OK && (rc = apply(n, m, false, 0, 0)) != CW_OK)
        cw_msg_unref(m);
    if (rc != CW_OK) {
        v[self]--;
        n->hlc = saved;
        return rc;
    }
    n->writes++;
    if (clock_out)
        cw_dclock_to_sparse(&n->clock, clock_out); /* cannot fail: reserved */
    if (n->opt.send)
        n->opt.send(n->opt.send_ctx, m);
    cw_msg_unref(m);
    assert(cw__node_check(n));
    return CW_OK;
}

/* ---- reads ---- */

void cw_read_init(cw_read *r)
{
    if (r)
        *r = (cw_read){0};
}

void cw_read_destroy(cw_read *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++) {
        free(r->versions[i].value);
        cw_vclock_destroy(&r->versions[i].clock);
    }
    free(r->versions);
    *r = (cw_read){0};
}

/* Copies a version out of a message. */
static int copy_version(cw_value_version *v, const cw_msg *m)
{
    size_t len;
    const void *value = cw_msg_value(m, &len);
    *v = (cw_value_version){NULL, len, {0}, cw_msg_timestamp(m), cw_msg_origin(m)};
    v->value = malloc(len ? len : 1);
    if (!v->value)
        return CW_ENOMEM;
    memcpy(v->value, value, len);
    int rc = cw_msg_clock(m, &v->clock);
    if (rc != CW_OK) {
        free(v->value);
        v->value = NULL;
    }
    return rc;
}

/* Replaces siblings by the merge callback's value, with the merged clock and
 * the greatest (timestamp, origin). */
static int merge_siblings(const cw_node *n, cw_read *r)
{
    void *value = NULL;
    size_t len = 0;
    int rc = n->opt.merge(n->opt.merge_ctx, r->versions, r->count, &value, &len);
    if (rc != CW_OK)
        return rc;
    cw_value_version *last = &r->versions[r->count - 1];
    for (size_t i = 0; i + 1 < r->count; i++)
        if ((rc = cw_vclock_merge(&last->clock, &r->versions[i].clock)) != CW_OK) {
            free(value);
            return rc;
        }
    for (size_t i = 0; i + 1 < r->count; i++) {
        free(r->versions[i].value);
        cw_vclock_destroy(&r->versions[i].clock);
    }
    free(last->value);
    last->value = value;
    last->value_len = len;
    r->versions[0] = *last;
    r->count = 1;
    return CW_OK;
}

int cw_node_get(cw_node *n, const void *key, size_t key_len, cw_read *out)
{
    if (!n || !out || (!key && key_len))
        return CW_EINVAL;
    const cw__key *e = cw__store_find(&n->store, key, key_len);
    if (!e)
        return CW_ENOTFOUND;
    cw_read r = {0, calloc(e->count, sizeof(cw_value_version))};
    if (!r.versions)
        return CW_ENOMEM;
    int rc = CW_OK;
    for (uint32_t i = 0; i < e->count && rc == CW_OK; i++)
        if ((rc = copy_version(&r.versions[i], e->versions[i])) == CW_OK)
            r.count++;
    if (rc == CW_OK && r.count > 1 && n->opt.policy == CW_MERGE_CALLBACK)
        rc = merge_siblings(n, &r);
    if (rc != CW_OK) {
        cw_read_destroy(&r);
        return rc;
    }
    cw_read_destroy(out);
    *out = r;
    return CW_OK;
}

/* ---- statistics, iteration, dump ---- */

int cw_node_get_stats(const cw_node *n, cw_node_stats *out)
{
    if (!n || !out)
        return CW_EINVAL;
    *out = (cw_node_stats){
        .writes = n->writes,
        .delivered = n->delivered,
        .buffered = n->buf.count + n->work_count,
        .max_buffered = n->buf.high_water,
        .duplicates = n->duplicates,
        .conflicts = n->conflicts,
        .keys = n->store.keys.count,
        .rejected_full = n->rejected_full,
    };
    cw__hist_latency(&n->buffering, &out->buffering);
    return CW_OK;
}

typedef struct each_key_ctx {
    cw_key_fn fn;
    void *ctx;
} each_key_ctx;

static void visit_key(void *item, void *ctx)
{
    const cw__key *e = item;
    each_key_ctx *c = ctx;
    c->fn(c->ctx, e->key, e->key_len, (const cw_msg *const *)e->versions, e->count);
}

void cw_node_each_key(const cw_node *n, cw_key_fn fn, void *ctx)
{
    each_key_ctx c = {fn, ctx};
    cw__map_each(&n->store.keys, visit_key, &c);
}

typedef struct each_pending_ctx {
    void (*fn)(void *ctx, const cw_msg *msg);
    void *ctx;
} each_pending_ctx;

static void visit_item(void *item, void *ctx)
{
    each_pending_ctx *c = ctx;
    c->fn(c->ctx, ((cw__item *)item)->msg);
}

void cw_node_each_pending(const cw_node *n, void (*fn)(void *ctx, const cw_msg *msg), void *ctx)
{
    each_pending_ctx c = {fn, ctx};
    cw__map_each(&n->buf.pending, visit_item, &c);
    cw__map_each(&n->buf.waiting, visit_item, &c);
    for (size_t i = 0; i < n->work_count; i++)
        fn(ctx, n->work[i].msg);
}

/* ---- invariant checker (invariants 2-4, and the store's) ---- */

typedef struct check_ctx {
    const cw_node *n;
    bool ok;
    size_t heads;
} check_ctx;

static void check_pending(void *item, void *ctx)
{
    const cw__item *i = item;
    check_ctx *c = ctx;
    cw_node_id o = cw_msg_origin(i->msg);
    c->ok &= i->node == o && i->counter == cw_msg_seq(i->msg) &&
             i->counter > c->n->clock.counters[o] + 1;
}

static void check_waiting(void *item, void *ctx)
{
    const cw__item *i = item;
    check_ctx *c = ctx;
    const cw_node *n = c->n;
    cw_node_id o = cw_msg_origin(i->msg);
    const uint64_t *m = cw_msg_counters(i->msg, NULL);
    c->ok &= cw_msg_seq(i->msg) == n->clock.counters[o] + 1 && n->buf.heads[o] == i &&
             i->node != o && i->counter == m[i->node] && m[i->node] > n->clock.counters[i->node] &&
             next_blocker(n, i->msg, 0) == i->node;
    c->heads++;
}

static void check_key(void *item, void *ctx)
{
    const cw__key *e = item;
    check_ctx *c = ctx;
    const uint64_t *v = c->n->clock.counters;
    c->ok &= e->count >= 1 && (c->n->opt.policy != CW_LAST_WRITER_WINS || e->count == 1);
    for (uint32_t i = 0; i < e->count; i++) {
        const uint64_t *m = cw_msg_counters(e->versions[i], NULL);
        unsigned o = cw__kernels()->order_u64(m, v, c->n->n);
        c->ok &= (o & CW_AFTER) == 0; /* applied writes are at or below V */
        for (uint32_t j = i + 1; j < e->count; j++) {
            c->ok &= cw__kernels()->order_u64(m, cw_msg_counters(e->versions[j], NULL), c->n->n) ==
                     CW_CONCURRENT;
            c->ok &= cw__msg_ts_order(e->versions[i], e->versions[j]) < 0;
        }
    }
}

bool cw__node_check(const cw_node *n)
{
    check_ctx c = {n, true, 0};
    for (uint32_t k = 0; k < n->n; k++)
        c.ok &= n->clock.counters[k] == n->applied_from[k];
    cw__map_each(&n->buf.pending, check_pending, &c);
    cw__map_each(&n->buf.waiting, check_waiting, &c);
    size_t heads = 0;
    for (uint32_t k = 0; k < n->n; k++)
        heads += n->buf.heads[k] != NULL;
    c.ok &= heads == c.heads && n->buf.count == n->buf.pending.count + n->buf.waiting.count;
    cw__map_each(&n->store.keys, check_key, &c);
    return c.ok;
}
