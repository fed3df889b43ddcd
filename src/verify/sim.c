/* Deterministic simulator (see sim.h).
 *
 * Invariants:
 *  1. All randomness comes from one splitmix64 stream seeded by the options,
 *     and time is simulated (one millisecond a step), so a seed replays a run.
 *  2. Every message sent is eventually received by every other replica:
 *     refused (CW_EFULL) or held messages stay in flight; at the end every
 *     hold is released and the network drains.
 *  3. The network refuses sends at random (refuse_probability, or when it
 *     cannot grow): all or nothing, so a refused message reached no replica.
 *     The replicas keep what was refused and the scheduler flushes them; each
 *     write's message must be taken exactly once, in its origin's order.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

typedef struct flight {
    cw_msg *msg;
    cw_node_id to;
} flight;

typedef struct sim sim;

typedef struct replica {
    sim *s;
    cw_node_id id;
    cw_node *node;
} replica;

struct sim {
    const cw_sim_options *o;
    uint64_t rng, now_ms;
    replica *r;
    flight *net;
    size_t in_flight, cap;
    bool *held;                   /* [from * nodes + to] */
    uint64_t *taken;              /* per origin: the last seq the network took */
    cw_history *h;
    cw_sim_report *rep;
    int error;
};

static uint64_t next(sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t below(sim *s, uint64_t n) { return n ? next(s) % n : 0; }
static bool chance(sim *s, double p) { return (double)(next(s) >> 11) * 0x1p-53 < p; }

static uint64_t sim_ms(void *ctx) { return ((sim *)ctx)->now_ms; }
static uint64_t sim_ns(void *ctx) { return ((sim *)ctx)->now_ms * 1000000u; }

/* Room for one message to every other replica, so a send is all or nothing. */
static int reserve_flights(sim *s)
{
    size_t need = s->in_flight + s->o->nodes;
    if (need <= s->cap)
        return CW_OK;
    size_t cap = s->cap ? s->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    flight *grown = realloc(s->net, cap * sizeof *grown);
    if (!grown)
        return CW_ENOMEM;
    s->net = grown;
    s->cap = cap;
    return CW_OK;
}

static void violate(sim *s, const char *what, const cw_msg *m)
{
    if (!s->rep->violation[0])
        snprintf(s->rep->violation, sizeof s->rep->violation, "%s: write %u:%llu (seed %llu)", what,
                 cw_msg_origin(m), (unsigned long long)cw_msg_seq(m), (unsigned long long)s->o->seed);
}

static int on_send(void *ctx, cw_msg *m)
{
    replica *r = ctx;
    sim *s = r->s;
    if (chance(s, s->o->refuse_probability)) {
        s->rep->send_refusals++;
        return CW_EFULL;
    }
    int rc = reserve_flights(s);
    if (rc != CW_OK)
        return rc;
    if (cw_msg_seq(m) != s->taken[r->id] + 1)
        violate(s, cw_msg_seq(m) <= s->taken[r->id] ? "message sent twice" : "message skipped", m);
    s->taken[r->id] = cw_msg_seq(m);
    for (uint32_t to = 0; to < s->o->nodes; to++)
        if (to != r->id)
            s->net[s->in_flight++] = (flight){cw_msg_ref(m), (cw_node_id)to};
    return CW_OK;
}

/* Offers every replica's refused messages again; true if any is left. */
static bool flush_all(sim *s)
{
    bool left = false;
    for (uint32_t i = 0; i < s->o->nodes; i++) {
        cw_node_flush(s->r[i].node, NULL);
        left |= cw_node_unsent(s->r[i].node) > 0;
    }
    return left;
}

static void on_apply(void *ctx, const cw_msg *m)
{
    replica *r = ctx;
    cw_history_applied(r->s->h, r->id, m);
}

void cw_sim_options_init(cw_sim_options *o)
{
    *o = (cw_sim_options){.nodes = 3, .writes = 50, .keys = 4, .seed = 1,
                          .policy = CW_KEEP_SIBLINGS, .max_buffered = 1u << 20,
                          .max_unsent = CW_NODE_DEFAULT_MAX_UNSENT};
}

/* Delivers in-flight message i; false if the replica refused it (kept). */
static bool deliver(sim *s, size_t i)
{
    flight f = s->net[i];
    cw_receive_result res;
    int rc = cw_node_receive(s->r[f.to].node, f.msg, &res, NULL);
    if (rc == CW_EFULL) {
        s->rep->full_refusals++;
        return false;
    }
    if (rc != CW_OK) {
        s->error = rc;
        return false;
    }
    s->rep->deliveries++;
    s->rep->duplicates += res == CW_RECEIVE_DUPLICATE;
    if (res != CW_RECEIVE_DUPLICATE && chance(s, s->o->duplicate_probability))
        return true; /* delivered, and a copy stays in flight */
    cw_msg_unref(f.msg);
    s->net[i] = s->net[--s->in_flight];
    return true;
}

static void write_one(sim *s)
{
    cw_node_id at = (cw_node_id)below(s, s->o->nodes);
    uint32_t k = (uint32_t)below(s, s->o->keys);
    /* Binary keys and values: NUL bytes inside, and empty values. */
    uint8_t key[6] = {'k', (uint8_t)k, 0, (uint8_t)(k >> 8), 0, '!'};
    uint8_t value[16];
    size_t len = below(s, sizeof value + 1);
    for (size_t i = 0; i < len; i++)
        value[i] = (uint8_t)below(s, 4) ? (uint8_t)next(s) : 0;
    int rc = cw_node_put(s->r[at].node, key, sizeof key, value, len, NULL);
    if (rc == CW_EFULL) /* too many refused messages wait: the write is not made */
        s->rep->put_refusals++;
    else if (rc != CW_OK)
        s->error = rc;
}

/* A random message whose link is not held, or SIZE_MAX. */
static size_t pick(sim *s, bool ignore_holds)
{
    if (!s->in_flight)
        return SIZE_MAX;
    for (int tries = 0; tries < 8; tries++) {
        size_t i = below(s, s->in_flight);
        cw_node_id from = cw_msg_origin(s->net[i].msg);
        if (ignore_holds || !s->held[(size_t)from * s->o->nodes + s->net[i].to])
            return i;
    }
    return SIZE_MAX;
}

/* Delivers until nothing is in flight and nothing waits to be sent (holds
 * ignored), offering refused messages again at every step. */
static void drain(sim *s)
{
    size_t stuck = 0;
    while (!s->error) {
        bool unsent = flush_all(s);
        if (!s->in_flight && !unsent)
            return;
        s->now_ms++;
        stuck = s->in_flight && deliver(s, pick(s, true)) ? 0 : stuck + 1;
        if (stuck > 100000) {
            s->error = CW_ETIMEDOUT; /* nothing moves: a liveness failure */
            return;
        }
    }
}

static int setup(sim *s)
{
    const cw_sim_options *o = s->o;
    s->r = calloc(o->nodes, sizeof *s->r);
    s->held = calloc((size_t)o->nodes * o->nodes, sizeof *s->held);
    s->taken = calloc(o->nodes, sizeof *s->taken);
    if (!s->r || !s->held || !s->taken)
        return CW_ENOMEM;
    int rc = cw_history_create(&s->h, o->nodes, o->writes, o->policy);
    for (uint32_t i = 0; rc == CW_OK && i < o->nodes; i++) {
        cw_node_options no;
        cw_node_options_init(&no);
        no.self = (cw_node_id)i;
        no.nodes = o->nodes;
        no.policy = o->policy;
        no.max_buffered = o->max_buffered;
        no.max_unsent = o->max_unsent;
        no.send = on_send;
        no.on_apply = on_apply;
        no.send_ctx = no.apply_ctx = &s->r[i];
        no.wall_clock = sim_ms;
        no.ns_clock = sim_ns;
        no.wall_ctx = no.ns_ctx = s;
        s->r[i] = (replica){s, (cw_node_id)i, NULL};
        rc = cw_node_create(&s->r[i].node, &no);
    }
    return rc;
}

static void teardown(sim *s)
{
    for (size_t i = 0; i < s->in_flight; i++)
        cw_msg_unref(s->net[i].msg);
    for (uint32_t i = 0; s->r && i < s->o->nodes; i++)
        cw_node_destroy(s->r[i].node);
    cw_history_destroy(s->h);
    free(s->r);
    free(s->held);
    free(s->taken);
    free(s->net);
}

static void run(sim *s)
{
    const cw_sim_options *o = s->o;
    uint64_t made = 0;
    while (made < o->writes && !s->error) {
        s->now_ms++;
        if (o->hold_probability > 0 && chance(s, o->hold_probability)) {
            size_t link = below(s, (size_t)o->nodes * o->nodes);
            s->held[link] = !s->held[link];
        }
        if (chance(s, 0.2))
            cw_node_flush(s->r[below(s, o->nodes)].node, NULL);
        size_t i = o->sequential ? SIZE_MAX : pick(s, false);
        if (i == SIZE_MAX || chance(s, 0.3)) {
            write_one(s);
            made++;
            if (o->sequential)
                drain(s);
        } else {
            deliver(s, i);
        }
    }
    memset(s->held, 0, (size_t)o->nodes * o->nodes * sizeof *s->held);
    drain(s);
}

int cw_sim_run(const cw_sim_options *o, cw_sim_report *rep)
{
    if (!o || !rep || o->nodes == 0 || o->nodes > CW_VCLOCK_MAX_ENTRIES || o->keys == 0)
        return CW_EINVAL;
    *rep = (cw_sim_report){0};
    sim s = {.o = o, .rng = o->seed, .now_ms = 1700000000000u, .rep = rep, .error = CW_OK};
    int rc = setup(&s);
    if (rc == CW_OK) {
        run(&s);
        rc = s.error;
    }
    if (rc == CW_OK) {
        for (uint32_t i = 0; i < o->nodes; i++) {
            cw_node_stats st;
            cw_node_get_stats(s.r[i].node, &st);
            if (st.max_buffered > rep->max_buffered)
                rep->max_buffered = st.max_buffered;
            rep->conflicts += st.conflicts;
            cw_history_final_node(s.h, s.r[i].node);
        }
        cw_history_verdict(s.h, &rep->truth);
        const char *v = cw_history_violation(s.h);
        if (rep->violation[0])
            rep->truth.ok = false; /* the network saw a message taken twice or skipped */
        else if (v)
            snprintf(rep->violation, sizeof rep->violation, "%s (seed %llu)", v,
                     (unsigned long long)o->seed);
    }
    teardown(&s);
    return rc;
}
