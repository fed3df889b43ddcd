/* Deterministic simulator (see causeway/verify.h).
 *
 * A cw_sim is N replicas on a simulated clock, each applying into one
 * history, with a seeded workload; the embedder's loop (or cw_sim_run's
 * built-in network) carries their messages.
 *
 * Invariants:
 *  1. All randomness comes from one splitmix64 stream seeded by the options,
 *     and time is simulated (a millisecond per cw_sim_write, cw_sim_receive
 *     or cw_sim_tick, and per step of the built-in scheduler, whose own
 *     deliveries within a step take no time), so a seed replays a run.
 *  2. Every send goes through offer() or offer_to(): refused at random first
 *     (refuse_probability), then by the transport; either way all or
 *     nothing, and the replica keeps what was refused (a write until a
 *     flush; a recovery message it repeats as it sees fit). Each write's
 *     message must be taken by send exactly once, in its origin's order:
 *     offer() checks it for any transport. offer_to() checks that a
 *     recovery message is addressed to a peer or to every peer.
 *  3. s->applied counts every application recorded (local and remote);
 *     every node has applied every write made exactly when
 *     applied == made * nodes (the history catches a double application).
 *  4. Clients (cw_sim_write): client c's session is seen[c], nodes counters
 *     merged from its writes' clocks and its reads' contexts; with sessions
 *     it acts only at a node whose clock covers seen[c] (its last node
 *     always does: it applied all of it, even when the client's write there
 *     was refused after its read). Extra random numbers are drawn
 *     only for the options that ask for them, so runs without clients
 *     replay as before.
 *  5. Built-in network: a message sent on a link is either in flight on it
 *     or lost, and it is lost only by drop_probability or a cut link (both
 *     counted in `dropped`); held or refused (CW_EFULL) messages stay in
 *     flight. A link is cut while net->steps < cut_until[link]; cutting it
 *     loses what is in flight on it. After the writes every cut and hold is
 *     lifted (loss goes on) and the scheduler runs until every write is
 *     applied everywhere, then until every log is empty, every stable clock
 *     is the final clock and the network is quiet, each within a bound of
 *     steps; missing a bound is a violation, not a hang.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#include <causeway/verify.h>

#include "node_internal.h"
#include "physmem.h"
#include "splitmix.h"

typedef struct replica {
    cw_sim *s;
    cw_node_id id;
    cw_node *node;
} replica;

typedef struct flight {
    cw_msg *msg;
    cw_node_id from, to;
} flight;

/* cw_sim_run's own transport: messages in flight, links held or cut. */
typedef struct network {
    flight *flights;
    size_t len, cap;
    bool *held;                   /* [from * nodes + to] */
    uint64_t *cut_until;          /* [from * nodes + to]: cut while steps < it; NULL: no partitions */
    bool *side;                   /* scratch for a partition: nodes */
    uint64_t steps;               /* scheduler steps so far */
} network;

struct cw_sim {
    cw_sim_options o;
    uint64_t rng, now_ms, made;
    uint64_t applied;             /* applications recorded (invariant 3) */
    replica *r;
    uint64_t *taken;              /* per origin: the last seq the transport took */
    cw_history *h;
    network *net;                 /* cw_sim_run only */
    uint64_t *seen;               /* [client * nodes + k]: what client has seen (invariant 4) */
    cw_node_id *last;             /* [client]: the node it used last */
    cw_history_dot *dots;         /* scratch: a read's versions */
    unsigned in_send;             /* the embedder's send or send_to runs: no call may enter */
    int finished;                 /* cw_sim_finish called: 0 not yet, 1 done (rep final), -1 failed */
    uint64_t *row;                /* scratch: nodes counters */
    cw_sim_report rep;
};

static uint64_t next(cw_sim *s) { return cw__splitmix64(&s->rng); }

static uint64_t below(cw_sim *s, uint64_t n) { return n ? next(s) % n : 0; }
static bool chance(cw_sim *s, double p) { return (double)(next(s) >> 11) * 0x1p-53 < p; }

static uint64_t sim_ms(void *ctx) { return ((cw_sim *)ctx)->now_ms; }
static uint64_t now_ns(const cw_sim *s) { return s->now_ms * 1000000u; }
static uint64_t sim_ns(void *ctx) { return now_ns(ctx); }

/* Keeps the first violation the simulator itself finds, with the seed. */
static void violatef(cw_sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violatef(cw_sim *s, const char *fmt, ...)
{
    if (s->rep.violation[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(s->rep.violation, sizeof s->rep.violation, fmt, ap);
    va_end(ap);
    size_t at = len < 0 ? 0 : (size_t)len < sizeof s->rep.violation ? (size_t)len : sizeof s->rep.violation - 1;
    snprintf(s->rep.violation + at, sizeof s->rep.violation - at, " (seed %llu)", (unsigned long long)s->o.seed);
}

static void violate(cw_sim *s, const char *what, const cw_msg *m)
{
    violatef(s, "%s: write %u.%llu", what, cw_msg_origin(m), (unsigned long long)cw_msg_seq(m));
}

/* Every replica's send (invariant 2). */
static int offer(void *ctx, cw_msg *m)
{
    replica *r = ctx;
    cw_sim *s = r->s;
    int rc = CW_EFULL;
    if (!chance(s, s->o.refuse_probability)) {
        s->in_send++;
        rc = s->o.send(s->o.send_ctx, r->id, m);
        s->in_send--;
    }
    if (rc != 0) {
        s->rep.send_refusals++;
        return rc;
    }
    if (cw_msg_seq(m) != s->taken[r->id] + 1)
        violate(s, cw_msg_seq(m) <= s->taken[r->id] ? "message sent twice" : "message skipped", m);
    s->taken[r->id] = cw_msg_seq(m);
    return CW_OK;
}

/* Every replica's send_to (invariant 2). */
static int offer_to(void *ctx, uint32_t to, cw_msg *m)
{
    replica *r = ctx;
    cw_sim *s = r->s;
    if (to != CW_NODE_ALL && (to >= s->o.nodes || to == r->id)) {
        violatef(s, "node %u sent a recovery message (kind %d) to node %u", r->id, (int)cw_msg_kind_of(m), to);
        return CW_EINVAL;
    }
    int rc = CW_EFULL;
    if (!chance(s, s->o.refuse_probability)) {
        s->in_send++;
        rc = s->o.send_to(s->o.send_ctx, r->id, to, m);
        s->in_send--;
    }
    if (rc != 0)
        s->rep.send_refusals++;
    return rc;
}

static void on_apply(void *ctx, const cw_msg *m)
{
    replica *r = ctx;
    r->s->applied++;
    cw_history_applied(r->s->h, r->id, m);
}

void cw_sim_options_init(cw_sim_options *o)
{
    if (o)
        *o = (cw_sim_options){.nodes = 3, .writes = 50, .keys = 4, .seed = 1,
                              .policy = CW_KEEP_SIBLINGS, .max_buffered = CW_NODE_DEFAULT_MAX_BUFFERED,
                              .max_unsent = CW_NODE_DEFAULT_MAX_UNSENT,
                              .partition_steps = CW_SIM_DEFAULT_PARTITION_STEPS};
}

static bool probability(double p, double below_or_at, bool inclusive)
{
    return p >= 0 && (inclusive ? p <= below_or_at : p < below_or_at);
}

static bool options_valid(const cw_sim_options *o)
{
    return o && o->send && o->nodes > 0 && o->nodes <= CW_VCLOCK_MAX_ENTRIES && o->keys > 0 &&
           (o->policy == CW_KEEP_SIBLINGS || o->policy == CW_LAST_WRITER_WINS) && o->max_buffered > 0 &&
           o->max_unsent > 0 && probability(o->duplicate_probability, 1, false) &&
           probability(o->hold_probability, 1, true) && probability(o->refuse_probability, 1, false) &&
           probability(o->drop_probability, 1, false) && probability(o->partition_probability, 1, true) &&
           o->partition_steps > 0 && (o->recovery_timeout_ns == 0 || o->recovery_timeout_ns >= 1000000u) &&
           (o->report_interval_ns == 0 || o->report_interval_ns >= 1000000u) &&
           o->recovery_timeout_ns <= CW_NODE_MAX_INTERVAL_NS && o->report_interval_ns <= CW_NODE_MAX_INTERVAL_NS &&
           probability(o->rmw_probability, 1, true) && probability(o->delete_probability, 1, true) &&
           o->clients <= 4096 && (!o->sessions || o->clients > 0);
}

int cw_sim_create(cw_sim **out, const cw_sim_options *o)
{
    if (!out || !options_valid(o))
        return CW_EINVAL;
    /* The replicas' memory, quadratic in the group (each keeps state for
     * every sender): refused when it passes this machine's, as
     * cw_engine_open does. */
    double phys = cw__physical_bytes();
    if (phys > 0 && (double)o->nodes * (double)cw__node_footprint(o->nodes) > phys)
        return CW_ELIMIT;
    cw_sim *s = calloc(1, sizeof *s);
    if (!s)
        return CW_ENOMEM;
    s->o = *o;
    s->rng = o->seed;
    s->now_ms = 1700000000000u;
    s->r = calloc(o->nodes, sizeof *s->r);
    s->taken = calloc(o->nodes, sizeof *s->taken);
    s->seen = calloc((size_t)o->clients * o->nodes + 1, sizeof *s->seen);
    s->last = calloc(o->clients + 1, sizeof *s->last);
    s->row = calloc(o->nodes, sizeof *s->row);
    bool ok = s->r && s->taken && s->seen && s->last && s->row;
    int rc = ok ? cw_history_create(&s->h, o->nodes, o->writes, o->policy) : CW_ENOMEM;
    for (uint32_t i = 0; rc == CW_OK && i < o->nodes; i++) {
        cw_node_options no;
        cw_node_options_init(&no);
        no.self = (cw_node_id)i;
        no.nodes = o->nodes;
        no.policy = o->policy;
        no.max_buffered = o->max_buffered;
        no.max_unsent = o->max_unsent;
        no.send = offer;
        no.send_to = o->send_to ? offer_to : NULL;
        no.on_apply = on_apply;
        no.send_ctx = no.send_to_ctx = no.apply_ctx = &s->r[i];
        no.wall_clock = sim_ms;
        no.ns_clock = sim_ns;
        no.wall_ctx = no.ns_ctx = s;
        if (o->recovery_timeout_ns)
            no.recovery_timeout_ns = o->recovery_timeout_ns;
        if (o->report_interval_ns)
            no.report_interval_ns = o->report_interval_ns;
        s->r[i] = (replica){s, (cw_node_id)i, NULL};
        rc = cw_node_create(&s->r[i].node, &no);
        /* Time starts for the replica's recovery with the simulated clock. */
        if (rc == CW_OK)
            rc = cw_node_tick(s->r[i].node, now_ns(s), NULL);
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
    if (!s || s->in_send)
        return;
    for (uint32_t i = 0; s->r && i < s->o.nodes; i++)
        cw_node_destroy(s->r[i].node);
    cw_history_destroy(s->h);
    free(s->r);
    free(s->taken);
    free(s->seen);
    free(s->last);
    free(s->dots);
    free(s->row);
    free(s);
}

uint64_t cw_sim_random(cw_sim *s) { return s ? next(s) : 0; }

/* Whether node x has applied everything `seen` (nodes counters) covers. */
static bool covers(const cw_sim *s, cw_node_id x, const uint64_t *seen)
{
    const uint64_t *v = cw_node_counters(s->r[x].node);
    for (uint32_t k = 0; k < s->o.nodes; k++)
        if (v[k] < seen[k])
            return false;
    return true;
}

static void see(uint64_t *seen, const cw_vclock *c)
{
    for (size_t i = 0; i < c->size; i++)
        if (c->counters[i] > seen[c->ids[i]])
            seen[c->ids[i]] = c->counters[i];
}

/* Client c's read-modify-write, or delete, of key at node x (invariant 4):
 * the read recorded, then the write with its context (or a plain delete),
 * told to the history. */
static int client_write(cw_sim *s, uint32_t c, cw_node_id x, const uint8_t *key, size_t key_len,
                        const uint8_t *value, size_t len, bool rmw, bool del)
{
    uint32_t client = s->o.sessions ? c : CW_HISTORY_NO_CLIENT; /* session checks for sessions only */
    cw_node *n = s->r[x].node;
    cw_read r;
    cw_read_init(&r);
    int rc = CW_OK;
    size_t count = 0;
    if (rmw) {
        rc = cw_node_get(n, key, key_len, &r);
        if (rc == CW_ENOTFOUND) /* found nothing: a read too, and its context still counts */
            rc = CW_OK;
        if (rc == CW_OK) { /* single-threaded: before and after the read are the same counts */
            cw_history_applied_counts(s->h, x, s->row);
            rc = cw_history_client_read(s->h, client, x, key, key_len, s->row, s->row, &r);
        }
        if (rc == CW_OK && r.count) {
            cw_history_dot *grown = realloc(s->dots, r.count * sizeof *grown);
            if (grown)
                s->dots = grown;
            else
                rc = CW_ENOMEM;
        }
        for (size_t i = 0; rc == CW_OK && i < r.count; i++)
            s->dots[count++] = (cw_history_dot){r.versions[i].origin, r.versions[i].seq};
        if (rc == CW_OK && s->o.sessions)
            see(s->seen + (size_t)c * s->o.nodes, &r.context);
    }
    cw_vclock clock;
    cw_vclock_init(&clock);
    const cw_vclock *ctx = rmw ? &r.context : NULL;
    if (rc == CW_OK)
        rc = del ? cw_node_delete(n, key, key_len, ctx, &clock) : cw_node_put_ctx(n, key, key_len, value, len, ctx, &clock);
    if (rc == CW_OK) {
        cw_history_write_info w = {client, del, rmw, s->dots, count};
        rc = cw_history_wrote(s->h, x, cw_node_counters(n)[x], &w);
        if (s->o.sessions)
            see(s->seen + (size_t)c * s->o.nodes, &clock);
    }
    cw_vclock_destroy(&clock);
    cw_read_destroy(&r);
    return rc;
}

int cw_sim_write(cw_sim *s, uint32_t at, cw_node_id *made)
{
    if (!s || s->in_send || s->finished || (at != CW_SIM_ANY_NODE && at >= s->o.nodes))
        return CW_EINVAL;
    if (s->made >= s->o.writes)
        return CW_ELIMIT;
    s->now_ms++;
    cw_node_id x = (cw_node_id)(at == CW_SIM_ANY_NODE ? below(s, s->o.nodes) : at);
    uint32_t k = (uint32_t)below(s, s->o.keys);
    /* Binary keys and values: NUL bytes inside, and empty values. */
    uint8_t key[8] = {'k', (uint8_t)k, 0, (uint8_t)(k >> 8), 0, (uint8_t)(k >> 16), (uint8_t)(k >> 24), '!'};
    uint8_t value[16];
    size_t len = below(s, sizeof value + 1);
    for (size_t i = 0; i < len; i++)
        value[i] = (uint8_t)below(s, 4) ? (uint8_t)next(s) : 0;
    const cw_sim_options *o = &s->o;
    uint32_t c = o->clients ? (uint32_t)below(s, o->clients) : 0;
    bool rmw = o->rmw_probability > 0 && chance(s, o->rmw_probability);
    bool del = o->delete_probability > 0 && chance(s, o->delete_probability);
    if (o->sessions && !covers(s, x, s->seen + (size_t)c * o->nodes))
        x = s->last[c]; /* it has applied what the client has seen */
    /* x is the client's last node whatever the write's outcome: a put
     * refused (CW_EFULL) after its read leaves the read in seen[c], which
     * x covers and the node used before may not. */
    if (o->clients)
        s->last[c] = x;
    int rc;
    if (rmw || del || o->clients)
        rc = client_write(s, c, x, key, sizeof key, value, len, rmw, del);
    else
        rc = cw_node_put(s->r[x].node, key, sizeof key, value, len, NULL);
    if (rc == CW_EFULL || rc == CW_ESTALLED)
        s->rep.put_refusals++;
    if (rc != CW_OK)
        return rc;
    s->made++;
    if (made)
        *made = x;
    return CW_OK;
}

/* cw_sim_receive without moving time (the built-in network's deliveries
 * within a step). */
static int receive(cw_sim *s, cw_node_id to, cw_msg *m, cw_receive_result *result)
{
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

int cw_sim_receive(cw_sim *s, cw_node_id to, cw_msg *m, cw_receive_result *result)
{
    if (!s || s->in_send || s->finished || to >= s->o.nodes)
        return CW_EINVAL;
    s->now_ms++;
    return receive(s, to, m, result);
}

/* Ticks every node whose next tick is due at the simulated time. */
static int tick_due(cw_sim *s)
{
    uint64_t t = now_ns(s);
    for (uint32_t i = 0; i < s->o.nodes; i++)
        if (cw_node_next_tick(s->r[i].node) <= t) {
            int rc = cw_node_tick(s->r[i].node, t, NULL);
            if (rc != CW_OK)
                return rc;
        }
    return CW_OK;
}

int cw_sim_tick(cw_sim *s, uint32_t node, bool *pending)
{
    if (!s || s->in_send || s->finished || (node != CW_SIM_ANY_NODE && node >= s->o.nodes))
        return CW_EINVAL;
    s->now_ms++;
    int rc = node == CW_SIM_ANY_NODE ? tick_due(s) : cw_node_tick(s->r[node].node, now_ns(s), NULL);
    if (pending) {
        *pending = false;
        for (uint32_t i = node == CW_SIM_ANY_NODE ? 0 : node; i < s->o.nodes && !*pending; i++) {
            *pending = cw_node_next_tick(s->r[i].node) != UINT64_MAX;
            if (node != CW_SIM_ANY_NODE)
                break;
        }
    }
    return rc;
}

int cw_sim_flush(cw_sim *s, uint32_t node)
{
    if (!s || s->in_send || s->finished || (node != CW_SIM_ANY_NODE && node >= s->o.nodes))
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
    if (!s || !report || s->in_send || s->finished < 0)
        return CW_EINVAL;
    if (s->finished) { /* the replicas' final states are in the history once */
        *report = s->rep;
        return CW_OK;
    }
    s->finished = -1; /* a failure below leaves part of a final state recorded */
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
        rep.retransmitted += st.retransmitted;
        rep.recovered += st.recovered;
    }
    cw_history_set_progress(s->h, s->o.progress, s->o.progress_ctx);
    cw_history_verdict(s->h, &rep.truth);
    if (!rep.violation[0] && cw_history_out_of_memory(s->h))
        return CW_ENOMEM; /* not judged: no verdict, the report unchanged (finished stays -1) */
    const char *v = cw_history_violation(s->h);
    if (rep.violation[0])
        rep.truth.ok = false; /* found by the simulator: a message taken twice or skipped, no convergence */
    else if (v)
        snprintf(rep.violation, sizeof rep.violation, "%s (seed %llu)", v, (unsigned long long)s->o.seed);
    s->rep = rep;
    s->finished = 1;
    *report = rep;
    return CW_OK;
}

/* ---- cw_sim_run: the built-in network and scheduler ---- */

static size_t link_of(const cw_sim *s, cw_node_id from, cw_node_id to) { return (size_t)from * s->o.nodes + to; }

static bool cut(const cw_sim *s, cw_node_id from, cw_node_id to)
{
    const network *net = s->net;
    return net->cut_until && net->steps < net->cut_until[link_of(s, from, to)];
}

/* Room for `more` flights; false when the network cannot grow. */
static bool room(network *net, size_t more)
{
    size_t need = net->len + more;
    if (need <= net->cap)
        return true;
    size_t cap = net->cap ? net->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    flight *grown = realloc(net->flights, cap * sizeof *grown);
    if (!grown)
        return false;
    net->flights = grown;
    net->cap = cap;
    return true;
}

/* One copy of m onto link from -> to (room made): in flight, or lost to a
 * cut link or to drop_probability (invariant 5). */
static void carry(cw_sim *s, cw_node_id from, cw_node_id to, cw_msg *m)
{
    if (cut(s, from, to) || (s->o.drop_probability > 0 && chance(s, s->o.drop_probability))) {
        s->rep.dropped++;
        return;
    }
    s->net->flights[s->net->len++] = (flight){cw_msg_ref(m), from, to};
}

/* The built-in transport's send: to every other replica, all or nothing
 * (each copy then lost or not on its own); refused when the network cannot
 * grow. */
static int net_send(void *ctx, cw_node_id from, cw_msg *m)
{
    cw_sim *s = ctx;
    if (!room(s->net, s->o.nodes))
        return CW_ENOMEM;
    for (uint32_t to = 0; to < s->o.nodes; to++)
        if (to != from)
            carry(s, from, (cw_node_id)to, m);
    return CW_OK;
}

/* The built-in transport's send_to: to one node, or to every other one. */
static int net_send_to(void *ctx, cw_node_id from, uint32_t to, cw_msg *m)
{
    cw_sim *s = ctx;
    if (to == CW_NODE_ALL)
        return net_send(ctx, from, m);
    if (!room(s->net, 1))
        return CW_ENOMEM;
    carry(s, from, (cw_node_id)to, m);
    return CW_OK;
}

/* Loses in-flight message i (swapped with the last one). */
static void lose(cw_sim *s, size_t i)
{
    network *net = s->net;
    cw_msg_unref(net->flights[i].msg);
    net->flights[i] = net->flights[--net->len];
    s->rep.dropped++;
}

/* A partition: a random side (a random node on it, another off it, each
 * other node by a coin) cut from the rest for 1..partition_steps steps,
 * both ways, or only from the side, or only to it (a third each). What is
 * in flight on a link it cuts is lost. */
static void partition(cw_sim *s)
{
    network *net = s->net;
    uint32_t n = s->o.nodes;
    uint32_t in = (uint32_t)below(s, n), out = (in + 1 + (uint32_t)below(s, n - 1)) % n;
    for (uint32_t i = 0; i < n; i++)
        net->side[i] = i == in || (i != out && below(s, 2));
    uint64_t way = below(s, 3);
    uint64_t until = net->steps + 1 + below(s, s->o.partition_steps);
    for (uint32_t from = 0; from < n; from++)
        for (uint32_t to = 0; to < n; to++) {
            size_t l = link_of(s, from, to);
            if (net->side[from] != net->side[to] && (way == 0 || (way == 1) == net->side[from]) &&
                net->cut_until[l] < until)
                net->cut_until[l] = until;
        }
    for (size_t i = 0; i < net->len;) {
        if (cut(s, net->flights[i].from, net->flights[i].to))
            lose(s, i);
        else
            i++;
    }
    s->rep.partitions++;
}

/* Delivers in-flight message i: true if it moved (taken, or a duplicate
 * copy left in flight), false if the replica refused it (it stays). Other
 * errors end the run through *error. */
static bool deliver(cw_sim *s, size_t i, int *error)
{
    network *net = s->net;
    flight f = net->flights[i];
    cw_receive_result res;
    int rc = receive(s, f.to, f.msg, &res);
    if (rc == CW_EFULL)
        return false;
    if (rc != CW_OK) {
        *error = rc;
        return false;
    }
    if (res != CW_RECEIVE_DUPLICATE && chance(s, s->o.duplicate_probability)) {
        /* Delivered, and a copy stays in flight, unless that one is lost. */
        if (s->o.drop_probability > 0 && chance(s, s->o.drop_probability))
            lose(s, i);
        return true;
    }
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
        if (ignore_holds || !net->held[link_of(s, net->flights[i].from, net->flights[i].to)])
            return i;
    }
    return SIZE_MAX;
}

/* A step's deliveries are one, and one more for every NETWORK_SPREAD
 * messages in flight, so that a message waits about NETWORK_SPREAD steps
 * however many are in flight (a network whose throughput grows with its
 * load; time moves per step, not per message). This delivers `count`
 * random in-flight messages (holds respected unless ignored), fewer when
 * none can be picked. */
#define NETWORK_SPREAD 32u
static void deliver_some(cw_sim *s, size_t count, bool ignore_holds, int *error)
{
    for (size_t b = 0; b < count && *error == CW_OK; b++) {
        size_t i = pick(s, ignore_holds);
        if (i == SIZE_MAX)
            return;
        deliver(s, i, error);
    }
}

/* A step's start: time moves and replicas whose tick is due are ticked. */
static int step_start(cw_sim *s)
{
    s->now_ms++;
    s->net->steps++;
    return tick_due(s);
}

static bool converged(const cw_sim *s)
{
    return s->applied == s->made * s->o.nodes;
}

/* After convergence: every log empty, every stable clock the final clock. */
static bool logs_drained(const cw_sim *s, uint32_t *node)
{
    for (uint32_t i = 0; i < s->o.nodes; i++) {
        cw_node_stats st;
        cw_node_get_stats(s->r[i].node, &st);
        if (st.log_entries || st.unsent) {
            *node = i;
            return false;
        }
    }
    for (uint32_t i = 0; i < s->o.nodes; i++) {
        cw_vclock a, b;
        cw_vclock_init(&a);
        cw_vclock_init(&b);
        bool same = cw_node_stable(s->r[i].node, &a) == CW_OK && cw_node_clock(s->r[i].node, &b) == CW_OK &&
                    cw_vclock_compare(&a, &b) == CW_EQUAL;
        cw_vclock_destroy(&a);
        cw_vclock_destroy(&b);
        if (!same) {
            *node = i;
            return false;
        }
    }
    return true;
}

/* What node x is short of, for a violation: how many writes it lacks and
 * what its recovery says. */
static void describe(cw_sim *s, uint32_t x, char *buf, size_t cap)
{
    const uint64_t *v = cw_node_counters(s->r[x].node);
    uint64_t lacks = 0;
    for (uint32_t k = 0; k < s->o.nodes; k++) {
        uint64_t have = cw_node_counters(s->r[k].node)[k]; /* k's own writes */
        lacks += have > v[k] ? have - v[k] : 0;
    }
    cw_node_stats st;
    cw_node_get_stats(s->r[x].node, &st);
    char blocker[16] = "none";
    if (st.stability_blocker != CW_NODE_NONE)
        snprintf(blocker, sizeof blocker, "%u", st.stability_blocker);
    snprintf(buf, cap,
             "node %u lacks %llu writes (buffered %llu, missing origins %llu, pulls %llu, recovered %llu, "
             "log %llu, unsent %llu, reports %llu, stability blocker %s)",
             x, (unsigned long long)lacks, (unsigned long long)st.buffered, (unsigned long long)st.missing,
             (unsigned long long)st.pulls, (unsigned long long)st.recovered, (unsigned long long)st.log_entries,
             (unsigned long long)st.unsent, (unsigned long long)st.reports, blocker);
}

/* The steps a settling phase may take: room for every message in flight
 * and every write to reach every node many times over, and for many
 * rounds of the longest pull back-off and of reports.
 *
 * Loss and refusals stretch both parts: a lost write comes back only when
 * its pull and the answer both get through, each past a refusal and a
 * drop, so a pull succeeds with p = ((1 - refuse)(1 - drop))^2 and takes
 * 1/p tries on average, the later ones a whole back-off apart. (At refuse
 * and drop 0.3, p = 0.24: a two-node run of 390 writes with a one-write
 * buffer recovered at about two writes a second, one hole of each pulled
 * window at a time, and needed ~180,000 steps, past the unscaled bound of
 * 167,800. At drop 0.9, p = 0.01: three nodes and 5 writes needed more
 * than the 203,800 steps the back-off part gave unscaled, and every seed
 * tried was reported as not converging.) */
static uint64_t settle_budget(const cw_sim *s)
{
    uint64_t ms = 1000000u;
    uint64_t timeout = s->o.recovery_timeout_ns ? s->o.recovery_timeout_ns : CW_NODE_DEFAULT_RECOVERY_TIMEOUT_NS;
    uint64_t interval = s->o.report_interval_ns ? s->o.report_interval_ns : CW_NODE_DEFAULT_REPORT_INTERVAL_NS;
    uint64_t backoff = (timeout << 5) / ms, report = interval / ms;
    double hop = (1 - s->o.refuse_probability) * (1 - s->o.drop_probability); /* both < 1: options */
    double tries = 1 / (hop * hop);
    double per_writes = 50 * tries * (double)s->o.writes * (double)s->o.nodes;
    double rounds = 64 * tries * (double)(backoff + report);
    if (per_writes + rounds > 1e15) /* options near certain loss: a bound no run reaches, without overflow */
        return (uint64_t)1e15;
    return 20000 + 20 * (uint64_t)s->net->len + (uint64_t)per_writes + (uint64_t)rounds;
}

/* What settle steps until: every write applied after each write of a
 * sequential schedule (its progress is the writes made), or after the
 * writes (UNTIL_APPLIED), then also every log drained (UNTIL_QUIET). */
enum settle_goal { AFTER_A_WRITE, UNTIL_APPLIED, UNTIL_QUIET };

/* Steps between two calls of the options' progress callback. */
#define PROGRESS_EVERY 1024u

/* Steps the network (holds ignored, refused sends offered again every step)
 * until every node has applied every write made and nothing waits to be
 * sent, or, for UNTIL_QUIET, also every log has drained and nothing is in
 * flight. Missing the budget is a violation (*stuck set), not an error. */
static int settle(cw_sim *s, enum settle_goal goal, bool *stuck)
{
    uint64_t budget = settle_budget(s);
    int error = CW_OK;
    uint32_t x = 0;
    const char *phase = goal == UNTIL_QUIET ? "draining the logs" : "delivering the rest";
    for (uint64_t step = 0;; step++) {
        if (s->o.progress && step % PROGRESS_EVERY == 0) {
            if (goal == AFTER_A_WRITE) /* the schedule's phase goes on */
                s->o.progress(s->o.progress_ctx, "making writes", s->made, s->o.writes);
            else
                s->o.progress(s->o.progress_ctx, phase, step, budget);
        }
        bool unsent = cw_sim_flush(s, CW_SIM_ANY_NODE) != CW_OK;
        bool done = !unsent && converged(s);
        if (done && goal == UNTIL_QUIET) /* logs checked only once the network is quiet: it costs */
            done = !s->net->len && logs_drained(s, &x);
        if (done)
            return CW_OK;
        if (step >= budget) {
            char what[400];
            if (!converged(s) || unsent) {
                /* The first node that lacks a write. */
                for (x = 0; x < s->o.nodes; x++) {
                    const uint64_t *v = cw_node_counters(s->r[x].node);
                    bool lacks = cw_node_unsent(s->r[x].node) > 0;
                    for (uint32_t k = 0; k < s->o.nodes && !lacks; k++)
                        lacks = v[k] < cw_node_counters(s->r[k].node)[k];
                    if (lacks)
                        break;
                }
                describe(s, x < s->o.nodes ? x : 0, what, sizeof what);
                violatef(s, "did not converge in %llu steps: %s; %zu messages in flight",
                         (unsigned long long)budget, what, s->net->len);
            } else if (!logs_drained(s, &x)) {
                describe(s, x, what, sizeof what);
                violatef(s, "logs did not drain in %llu steps after convergence: %s", (unsigned long long)budget,
                         what);
            } else {
                violatef(s, "network not quiet %llu steps after convergence: %zu messages still in flight",
                         (unsigned long long)budget, s->net->len);
            }
            *stuck = true;
            return CW_OK;
        }
        int rc = step_start(s);
        if (rc != CW_OK)
            return rc;
        deliver_some(s, 1 + s->net->len / NETWORK_SPREAD, true, &error);
        if (error != CW_OK)
            return error;
    }
}

static int schedule(cw_sim *s)
{
    const cw_sim_options *o = &s->o;
    network *net = s->net;
    int rc = CW_OK;
    bool stuck = false;
    for (uint64_t step = 0; s->made < o->writes && rc == CW_OK && !stuck; step++) {
        if (o->progress && step % PROGRESS_EVERY == 0)
            o->progress(o->progress_ctx, "making writes", s->made, o->writes);
        rc = step_start(s);
        if (rc != CW_OK)
            break;
        if (o->partition_probability > 0 && o->nodes > 1 && chance(s, o->partition_probability))
            partition(s);
        if (o->hold_probability > 0 && chance(s, o->hold_probability)) {
            size_t link = below(s, (size_t)o->nodes * o->nodes);
            net->held[link] = !net->held[link];
        }
        if (chance(s, 0.2))
            cw_sim_flush(s, (uint32_t)below(s, o->nodes));
        size_t i = o->sequential ? SIZE_MAX : pick(s, false);
        if (i == SIZE_MAX || chance(s, 0.3)) {
            rc = cw_sim_write(s, CW_SIM_ANY_NODE, NULL);
            if (rc == CW_EFULL || rc == CW_ESTALLED) /* no write at that node now: go on */
                rc = CW_OK;
            if (rc == CW_OK && o->sequential)
                rc = settle(s, AFTER_A_WRITE, &stuck);
        } else {
            deliver(s, i, &rc);
            deliver_some(s, net->len / NETWORK_SPREAD, false, &rc);
        }
        if (step > 100000 + 1000 * o->writes)
            rc = CW_ETIMEDOUT; /* writes keep being refused: nothing moves */
    }
    memset(net->held, 0, (size_t)o->nodes * o->nodes * sizeof *net->held);
    if (net->cut_until)
        memset(net->cut_until, 0, (size_t)o->nodes * o->nodes * sizeof *net->cut_until);
    if (rc == CW_OK && !stuck)
        rc = settle(s, UNTIL_APPLIED, &stuck);
    if (rc == CW_OK && !stuck)
        rc = settle(s, UNTIL_QUIET, &stuck);
    return rc;
}

int cw_sim_run(const cw_sim_options *o, cw_sim_report *report)
{
    if (!o || !report || o->send || o->send_to)
        return CW_EINVAL;
    network net = {0};
    cw_sim_options with_net = *o;
    with_net.send = net_send;
    with_net.send_to = net_send_to;
    cw_sim *s = NULL;
    int rc = cw_sim_create(&s, &with_net);
    if (rc == CW_OK) {
        s->o.send_ctx = s;
        s->net = &net;
        size_t links = (size_t)o->nodes * o->nodes;
        net.held = calloc(links, sizeof *net.held);
        if (o->partition_probability > 0 && o->nodes > 1) {
            net.cut_until = calloc(links, sizeof *net.cut_until);
            net.side = calloc(o->nodes, sizeof *net.side);
        }
        bool ok = net.held && (!(o->partition_probability > 0 && o->nodes > 1) || (net.cut_until && net.side));
        rc = ok ? schedule(s) : CW_ENOMEM;
    }
    if (rc == CW_OK)
        rc = cw_sim_finish(s, report);
    for (size_t i = 0; i < net.len; i++)
        cw_msg_unref(net.flights[i].msg);
    free(net.flights);
    free(net.held);
    free(net.cut_until);
    free(net.side);
    cw_sim_destroy(s);
    return rc;
}
