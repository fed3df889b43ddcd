/* Deterministic simulator (see causeway/verify.h).
 *
 * A cw_sim is N replicas on a simulated clock, each applying into one
 * history, with a seeded workload; the embedder's loop (or cw_sim_run's
 * built-in network) carries their messages.
 *
 * Invariants:
 *  1. All randomness comes from one splitmix64 stream seeded by the options,
 *     and time is simulated (a millisecond per write or receive, and per step
 *     of the built-in scheduler), so a seed replays a run.
 *  2. Every send goes through offer(): refused at random first
 *     (refuse_probability), then by the transport; either way all or nothing,
 *     and the replica keeps what was refused until a flush. Each write's
 *     message must be taken exactly once, in its origin's order: offer()
 *     checks it for any transport.
 *  3. Built-in network: every message sent is eventually received by every
 *     other replica. Refused (CW_EFULL) or held messages stay in flight; at
 *     the end every hold is lifted, refused sends are flushed, and the
 *     network drains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#include <causeway/verify.h>

#include "splitmix.h"

typedef struct replica {
    cw_sim *s;
    cw_node_id id;
    cw_node *node;
} replica;

typedef struct flight {
    cw_msg *msg;
    cw_node_id to;
} flight;

/* cw_sim_run's own transport: messages in flight, links held. */
typedef struct network {
    flight *flights;
    size_t len, cap;
    bool *held;                   /* [from * nodes + to] */
} network;

struct cw_sim {
    cw_sim_options o;
    uint64_t rng, now_ms, made;
    replica *r;
    uint64_t *taken;              /* per origin: the last seq the transport took */
    cw_history *h;
    network *net;                 /* cw_sim_run only */
    cw_sim_report rep;
};

static uint64_t next(cw_sim *s) { return cw__splitmix64(&s->rng); }

static uint64_t below(cw_sim *s, uint64_t n) { return n ? next(s) % n : 0; }
static bool chance(cw_sim *s, double p) { return (double)(next(s) >> 11) * 0x1p-53 < p; }

static uint64_t sim_ms(void *ctx) { return ((cw_sim *)ctx)->now_ms; }
static uint64_t sim_ns(void *ctx) { return ((cw_sim *)ctx)->now_ms * 1000000u; }

static void violate(cw_sim *s, const char *what, const cw_msg *m)
{
    if (!s->rep.violation[0])
        snprintf(s->rep.violation, sizeof s->rep.violation, "%s: write %u.%llu (seed %llu)", what,
                 cw_msg_origin(m), (unsigned long long)cw_msg_seq(m), (unsigned long long)s->o.seed);
}

/* Every replica's send (invariant 2). */
static int offer(void *ctx, cw_msg *m)
{
    replica *r = ctx;
    cw_sim *s = r->s;
    int rc = chance(s, s->o.refuse_probability) ? CW_EFULL : s->o.send(s->o.send_ctx, r->id, m);
    if (rc != 0) {
        s->rep.send_refusals++;
        return rc;
    }
    if (cw_msg_seq(m) != s->taken[r->id] + 1)
        violate(s, cw_msg_seq(m) <= s->taken[r->id] ? "message sent twice" : "message skipped", m);
    s->taken[r->id] = cw_msg_seq(m);
    return CW_OK;
}

static void on_apply(void *ctx, const cw_msg *m)
{
    replica *r = ctx;
    cw_history_applied(r->s->h, r->id, m);
}

void cw_sim_options_init(cw_sim_options *o)
{
    if (o)
        *o = (cw_sim_options){.nodes = 3, .writes = 50, .keys = 4, .seed = 1,
                              .policy = CW_KEEP_SIBLINGS, .max_buffered = CW_NODE_DEFAULT_MAX_BUFFERED,
                              .max_unsent = CW_NODE_DEFAULT_MAX_UNSENT};
}

static bool options_valid(const cw_sim_options *o)
{
    return o && o->send && o->nodes > 0 && o->nodes <= CW_VCLOCK_MAX_ENTRIES && o->keys > 0 &&
           (o->policy == CW_KEEP_SIBLINGS || o->policy == CW_LAST_WRITER_WINS) && o->max_buffered > 0 &&
           o->max_unsent > 0;
}

int cw_sim_create(cw_sim **out, const cw_sim_options *o)
{
    if (!out || !options_valid(o))
        return CW_EINVAL;
    cw_sim *s = calloc(1, sizeof *s);
    if (!s)
        return CW_ENOMEM;
    s->o = *o;
    s->rng = o->seed;
    s->now_ms = 1700000000000u;
    s->r = calloc(o->nodes, sizeof *s->r);
    s->taken = calloc(o->nodes, sizeof *s->taken);
    int rc = s->r && s->taken ? cw_history_create(&s->h, o->nodes, o->writes, o->policy) : CW_ENOMEM;
    for (uint32_t i = 0; rc == CW_OK && i < o->nodes; i++) {
        cw_node_options no;
        cw_node_options_init(&no);
        no.self = (cw_node_id)i;
        no.nodes = o->nodes;
        no.policy = o->policy;
        no.max_buffered = o->max_buffered;
        no.max_unsent = o->max_unsent;
        no.send = offer;
        no.on_apply = on_apply;
        no.send_ctx = no.apply_ctx = &s->r[i];
        no.wall_clock = sim_ms;
        no.ns_clock = sim_ns;
        no.wall_ctx = no.ns_ctx = s;
        s->r[i] = (replica){s, (cw_node_id)i, NULL};
        rc = cw_node_create(&s->r[i].node, &no);
    }
    if (rc != CW_OK) {
        cw_sim_destroy(s);
        return rc;
    }
    *out = s;
    return CW_OK;
}

void cw_sim_destroy(cw_sim *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; s->r && i < s->o.nodes; i++)
        cw_node_destroy(s->r[i].node);
    cw_history_destroy(s->h);
    free(s->r);
    free(s->taken);
    free(s);
}

uint64_t cw_sim_random(cw_sim *s) { return next(s); }

int cw_sim_write(cw_sim *s, uint32_t at, cw_node_id *made)
{
    if (!s || (at != CW_SIM_ANY_NODE && at >= s->o.nodes))
        return CW_EINVAL;
    if (s->made >= s->o.writes)
        return CW_ELIMIT;
    s->now_ms++;
    cw_node_id x = (cw_node_id)(at == CW_SIM_ANY_NODE ? below(s, s->o.nodes) : at);
    uint32_t k = (uint32_t)below(s, s->o.keys);
    /* Binary keys and values: NUL bytes inside, and empty values. */
    uint8_t key[6] = {'k', (uint8_t)k, 0, (uint8_t)(k >> 8), 0, '!'};
    uint8_t value[16];
    size_t len = below(s, sizeof value + 1);
    for (size_t i = 0; i < len; i++)
        value[i] = (uint8_t)below(s, 4) ? (uint8_t)next(s) : 0;
    int rc = cw_node_put(s->r[x].node, key, sizeof key, value, len, NULL);
    if (rc == CW_EFULL)
        s->rep.put_refusals++;
    if (rc != CW_OK)
        return rc;
    s->made++;
    if (made)
        *made = x;
    return CW_OK;
}

int cw_sim_receive(cw_sim *s, cw_node_id to, cw_msg *m, cw_receive_result *result)
{
    if (!s || to >= s->o.nodes)
        return CW_EINVAL;
    s->now_ms++;
    cw_receive_result res;
    int rc = cw_node_receive(s->r[to].node, m, &res, NULL);
    if (rc == CW_EFULL)
        s->rep.full_refusals++;
    if (rc != CW_OK)
        return rc;
    s->rep.deliveries++;
    s->rep.duplicates += res == CW_RECEIVE_DUPLICATE;
    if (result)
        *result = res;
    return CW_OK;
}

int cw_sim_flush(cw_sim *s, uint32_t node)
{
    if (!s || (node != CW_SIM_ANY_NODE && node >= s->o.nodes))
        return CW_EINVAL;
    if (node != CW_SIM_ANY_NODE)
        return cw_node_flush(s->r[node].node, NULL);
    int first = CW_OK;
    for (uint32_t i = 0; i < s->o.nodes; i++) {
        int rc = cw_node_flush(s->r[i].node, NULL);
        if (first == CW_OK)
            first = rc;
    }
    return first;
}

int cw_sim_finish(cw_sim *s, cw_sim_report *report)
{
    if (!s || !report)
        return CW_EINVAL;
    for (uint32_t i = 0; i < s->o.nodes; i++) {
        int rc = cw_history_final_node(s->h, s->r[i].node);
        if (rc != CW_OK)
            return rc;
    }
    cw_sim_report rep = s->rep;
    for (uint32_t i = 0; i < s->o.nodes; i++) {
        cw_node_stats st;
        cw_node_get_stats(s->r[i].node, &st);
        if (st.max_buffered > rep.max_buffered)
            rep.max_buffered = st.max_buffered;
        rep.conflicts += st.conflicts;
    }
    cw_history_verdict(s->h, &rep.truth);
    const char *v = cw_history_violation(s->h);
    if (rep.violation[0])
        rep.truth.ok = false; /* a message taken twice or skipped */
    else if (v)
        snprintf(rep.violation, sizeof rep.violation, "%s (seed %llu)", v, (unsigned long long)s->o.seed);
    *report = rep;
    return CW_OK;
}

/* ---- cw_sim_run: the built-in network and scheduler ---- */

/* The built-in transport's send: to every other replica, all or nothing;
 * refused when the network cannot grow. */
static int net_send(void *ctx, cw_node_id from, cw_msg *m)
{
    cw_sim *s = ctx;
    network *net = s->net;
    size_t need = net->len + s->o.nodes;
    if (need > net->cap) {
        size_t cap = net->cap ? net->cap * 2 : 64;
        while (cap < need)
            cap *= 2;
        flight *grown = realloc(net->flights, cap * sizeof *grown);
        if (!grown)
            return CW_ENOMEM;
        net->flights = grown;
        net->cap = cap;
    }
    for (uint32_t to = 0; to < s->o.nodes; to++)
        if (to != from)
            net->flights[net->len++] = (flight){cw_msg_ref(m), (cw_node_id)to};
    return CW_OK;
}

/* Delivers in-flight message i: true if it moved (taken, or a duplicate
 * copy left in flight), false if the replica refused it (it stays). Other
 * errors end the run through *error. */
static bool deliver(cw_sim *s, size_t i, int *error)
{
    network *net = s->net;
    flight f = net->flights[i];
    cw_receive_result res;
    int rc = cw_sim_receive(s, f.to, f.msg, &res);
    if (rc == CW_EFULL)
        return false;
    if (rc != CW_OK) {
        *error = rc;
        return false;
    }
    if (res != CW_RECEIVE_DUPLICATE && chance(s, s->o.duplicate_probability))
        return true; /* delivered, and a copy stays in flight */
    cw_msg_unref(f.msg);
    net->flights[i] = net->flights[--net->len];
    return true;
}

/* A random message whose link is not held, or SIZE_MAX. */
static size_t pick(cw_sim *s, bool ignore_holds)
{
    network *net = s->net;
    if (!net->len)
        return SIZE_MAX;
    for (int tries = 0; tries < 8; tries++) {
        size_t i = below(s, net->len);
        cw_node_id from = cw_msg_origin(net->flights[i].msg);
        if (ignore_holds || !net->held[(size_t)from * s->o.nodes + net->flights[i].to])
            return i;
    }
    return SIZE_MAX;
}

/* Delivers until nothing is in flight and nothing waits to be sent (holds
 * ignored), offering refused sends again at every step. */
static int drain(cw_sim *s)
{
    size_t stuck = 0;
    int error = CW_OK;
    for (;;) {
        bool unsent = cw_sim_flush(s, CW_SIM_ANY_NODE) != CW_OK;
        if (!s->net->len && !unsent)
            return CW_OK;
        s->now_ms++;
        stuck = s->net->len && deliver(s, pick(s, true), &error) ? 0 : stuck + 1;
        if (error != CW_OK)
            return error;
        if (stuck > 100000)
            return CW_ETIMEDOUT; /* nothing moves: a liveness failure */
    }
}

static int schedule(cw_sim *s)
{
    const cw_sim_options *o = &s->o;
    network *net = s->net;
    int rc = CW_OK;
    for (uint64_t step = 0; s->made < o->writes && rc == CW_OK; step++) {
        s->now_ms++;
        if (o->hold_probability > 0 && chance(s, o->hold_probability)) {
            size_t link = below(s, (size_t)o->nodes * o->nodes);
            net->held[link] = !net->held[link];
        }
        if (chance(s, 0.2))
            cw_sim_flush(s, (uint32_t)below(s, o->nodes));
        size_t i = o->sequential ? SIZE_MAX : pick(s, false);
        if (i == SIZE_MAX || chance(s, 0.3)) {
            rc = cw_sim_write(s, CW_SIM_ANY_NODE, NULL);
            if (rc == CW_EFULL) /* too many unsent at that node: no write, go on */
                rc = CW_OK;
            if (rc == CW_OK && o->sequential)
                rc = drain(s);
        } else {
            deliver(s, i, &rc);
        }
        if (step > 100000 + 1000 * o->writes)
            rc = CW_ETIMEDOUT; /* writes keep being refused: nothing moves */
    }
    memset(net->held, 0, (size_t)o->nodes * o->nodes * sizeof *net->held);
    return rc == CW_OK ? drain(s) : rc;
}

int cw_sim_run(const cw_sim_options *o, cw_sim_report *report)
{
    if (!o || !report || o->send)
        return CW_EINVAL;
    network net = {0};
    cw_sim_options with_net = *o;
    with_net.send = net_send;
    cw_sim *s = NULL;
    int rc = cw_sim_create(&s, &with_net);
    if (rc == CW_OK) {
        s->o.send_ctx = s;
        s->net = &net;
        net.held = calloc((size_t)o->nodes * o->nodes, sizeof *net.held);
        rc = net.held ? schedule(s) : CW_ENOMEM;
    }
    if (rc == CW_OK)
        rc = cw_sim_finish(s, report);
    for (size_t i = 0; i < net.len; i++)
        cw_msg_unref(net.flights[i].msg);
    free(net.flights);
    free(net.held);
    cw_sim_destroy(s);
    return rc;
}
