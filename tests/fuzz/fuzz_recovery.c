/* Fuzz target: one replica with loss recovery on (a send_to callback), driven
 * as a hostile or broken peer, client and host could drive it: ticks at any
 * time (forward, back, far ahead, past CW_NODE_MAX_TIME_NS), pulls from any
 * peer for any range (1 .. 2^64 - 1, from > to, an origin out of range),
 * reports with any clock (counters near 2^64, this node's own above what it
 * wrote, the flag asking for reports or not), writes from peers with any
 * clock, first copies and retransmitted ones, the node's own answers fed back
 * to it, batches, local writes under max_log, a send and a send_to that
 * refuse or take, the host's hints (a lost message, a lost answer, a report
 * wanted now, the time at a put), a peer restarted, and restarts of the node
 * itself from its own saved state (cw_node_restore) or from a peer's clock
 * (cw_node_install), statistics and the dump.
 *
 * After every call the replica's invariant checker must hold, every call must
 * return one of the codes its header documents, and what the API shows of
 * recovery must agree with node.h and docs/recovery.md:
 *  - the stable clock is pointwise at or below the node's clock, and only
 *    grows (between restarts);
 *  - this node's own writes not yet stable are at most max_log (or what a
 *    restore brought back), and a put refused with CW_ESTALLED is at the
 *    bound; the log holds no more than the writes not yet stable;
 *  - the statistics count what send_to took (pulls, reports, answers), the
 *    log's entries as cw__node_each_logged walks them, missing origins
 *    among the peers, a stability blocker that is a peer or none;
 *  - send_to is called only from a tick or a receive, never re-entered (a
 *    call that would change the node from inside it returns CW_EINVAL): a
 *    report goes to CW_NODE_ALL with the node's clock, a pull to one peer
 *    for a missing run past V[origin] of another origin, an answer to the
 *    asker only, the asked origin's writes in seq order within the range
 *    and at most 256 of them;
 *  - a tick's *next_ns is cw_node_next_tick, and a host that ticks again at
 *    the same time while a tick is due there gets to a tick with nothing due
 *    now (no tick wants itself again and again at one time).
 *
 * Input: a config byte (group size 2..5, self, policy), a buffer bound byte,
 * a recovery byte (max_log 1..16, the timeout and intervals), then
 * operations, each an opcode byte and its operands; an input that ends
 * mid-operation simply ends. */
#define _GNU_SOURCE /* open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "fuzz_node.h"
#include "msg_internal.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_HELD = 16, MAX_NODES = 5, PULL_ANSWERS = 256 };

/* A counter: small values mostly (so causal chains form), near 2^64 or any
 * 64-bit value behind escape bytes. */
static bool take_counter(input *in, uint64_t *c)
{
    uint8_t b;
    if (!take_byte(in, &b))
        return false;
    if (b < 0xe0) {
        *c = b & 0x1f;
        return true;
    }
    if (b < 0xf0) {
        *c = UINT64_MAX - (b & 0x0f);
        return true;
    }
    return take(in, c, sizeof *c);
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_recovery: %s\n", what);
    abort();
}

/* Which call is running, for the callbacks' checks. */
typedef enum call { IN_NONE, IN_PUT, IN_TICK, IN_RECEIVE, IN_FLUSH, IN_OTHER } call;

/* The driver: what its callbacks took and what the current call allows. */
typedef struct driver {
    cw_node *node;
    uint32_t nodes;
    cw_node_id self;
    call in;
    bool refuse_send, refuse_send_to, probe;
    /* What send_to took since the node was created. */
    uint64_t pulls, reports, answers;
    /* The pull being received (IN_RECEIVE of a pull): its asker, origin and
     * range, and the answers sent to it so far. */
    bool pulling;
    cw_node_id asker, pull_origin;
    uint64_t pull_from, pull_to, answered, last_answer;
    /* Answers taken, kept to be fed back (retransmitted copies). */
    cw_msg *copies[MAX_HELD];
    size_t ncopies;
} driver;

/* From inside a callback, every call that would change the node returns
 * CW_EINVAL (node.h, "Callbacks"); reads are allowed. */
static void probe(driver *d)
{
    if (!d->probe)
        return;
    cw_node *n = d->node;
    cw_msg *m = NULL;
    uint64_t clock[MAX_NODES] = {0};
    cw_node_id peer = (d->self + 1) % d->nodes;
    clock[peer] = 1;
    cw_hlc_timestamp ts = {1700000000000u, 0, peer};
    if (cw_msg_create(&m, peer, &ts, clock, d->nodes, "k", 1, "v", 1) != CW_OK)
        return;
    if (cw_node_tick(n, 1, NULL) != CW_EINVAL || cw_node_put(n, "k", 1, "v", 1, NULL) != CW_EINVAL ||
        cw_node_receive(n, m, NULL, NULL) != CW_EINVAL || cw_node_flush(n, NULL) != CW_EINVAL)
        fail("a call from inside a callback was not refused");
    cw_node_stats st;
    if (cw_node_get_stats(n, &st) != CW_OK)
        fail("stats from inside a callback");
    cw_msg_unref(m);
}

static int on_send(void *ctx, cw_msg *m)
{
    driver *d = ctx;
    if (d->in != IN_PUT && d->in != IN_FLUSH)
        fail("send called outside a put or a flush");
    if (cw_msg_kind_of(m) != CW_MSG_WRITE || cw_msg_retransmitted(m) || cw_msg_origin(m) != d->self)
        fail("send offered something other than a local write's first copy");
    probe(d);
    return d->refuse_send ? CW_EFULL : CW_OK;
}

static int on_send_to(void *ctx, uint32_t to, cw_msg *m)
{
    driver *d = ctx;
    const uint64_t *v = cw_node_counters(d->node);
    if (d->in != IN_TICK && d->in != IN_RECEIVE)
        fail("send_to called outside a tick or a receive");
    switch (cw_msg_kind_of(m)) {
    case CW_MSG_REPORT: {
        uint32_t w;
        const uint64_t *c = cw_msg_counters(m, &w);
        if (to != CW_NODE_ALL || cw_msg_origin(m) != d->self || w != d->nodes ||
            memcmp(c, v, (size_t)w * sizeof *c) != 0)
            fail("a report that is not this node's clock to every peer");
        break;
    }
    case CW_MSG_PULL: {
        cw_node_id origin;
        uint64_t from, upto;
        if (cw_msg_pull_range(m, &origin, &from, &upto) != CW_OK || to >= d->nodes || to == d->self ||
            cw_msg_origin(m) != d->self || origin >= d->nodes || origin == d->self || from > upto ||
            from <= v[origin] || upto - v[origin] > PULL_ANSWERS)
            fail("a pull that is not for a missing run past V, to a peer");
        if (d->in != IN_TICK)
            fail("a pull sent outside a tick");
        break;
    }
    case CW_MSG_WRITE: {
        uint64_t s = cw_msg_seq(m);
        if (!d->pulling || to != d->asker || !cw_msg_retransmitted(m) || cw_msg_origin(m) != d->pull_origin ||
            s < d->pull_from || s > d->pull_to || s > v[d->pull_origin] ||
            (d->answered && s != d->last_answer + 1) || d->answered >= PULL_ANSWERS)
            fail("an answer that is not the asked writes, in order, to the asker");
        break;
    }
    default:
        fail("send_to offered an unknown kind");
    }
    probe(d);
    if (d->refuse_send_to)
        return CW_EFULL;
    switch (cw_msg_kind_of(m)) {
    case CW_MSG_REPORT:
        d->reports++;
        break;
    case CW_MSG_PULL:
        d->pulls++;
        break;
    default:
        d->answers++;
        d->answered++;
        d->last_answer = cw_msg_seq(m);
        if (d->ncopies < MAX_HELD)
            d->copies[d->ncopies++] = cw_msg_ref(m);
    }
    return CW_OK;
}

/* What the checks carry from one call to the next. */
typedef struct tracked {
    uint64_t stable[MAX_NODES]; /* the last stable clock seen */
    uint64_t own_bound;         /* own writes not yet stable may reach this */
} tracked;

static void count_logged(void *ctx, const cw_msg *m)
{
    uint64_t *c = ctx;
    c[0]++;
    c[1] += cw_msg_origin(m) == (cw_node_id)c[2];
}

/* The recovery invariants the API exposes (see the top). */
static void check_recovery(driver *d, const cw_node_options *o, tracked *t)
{
    cw_node *n = d->node;
    const uint64_t *v = cw_node_counters(n);
    cw_vclock stable;
    cw_vclock_init(&stable);
    if (cw_node_stable(n, &stable) != CW_OK) {
        cw_vclock_destroy(&stable);
        return; /* out of memory for the copy */
    }
    uint64_t unstable = 0;
    for (uint32_t k = 0; k < d->nodes; k++) {
        uint64_t s = cw_vclock_get(&stable, k);
        if (s > v[k])
            fail("stable above the node's clock");
        if (s < t->stable[k])
            fail("stable went back");
        t->stable[k] = s;
        unstable = v[k] - s > UINT64_MAX - unstable ? UINT64_MAX : unstable + (v[k] - s);
    }
    cw_vclock_destroy(&stable);
    if (v[d->self] - t->stable[d->self] > t->own_bound)
        fail("more of this node's own writes unstable than max_log");
    cw_node_stats st;
    if (cw_node_get_stats(n, &st) != CW_OK)
        fail("stats");
    uint64_t logged[3] = {0, 0, d->self};
    cw__node_each_logged(n, count_logged, logged);
    if (st.log_entries != logged[0] || st.log_entries > unstable || logged[1] > t->own_bound)
        fail("log entries: not what the log holds, or more than the writes not yet stable");
    if (st.pulls != d->pulls || st.reports != d->reports || st.retransmitted != d->answers)
        fail("statistics: pulls, reports or answers other than what send_to took");
    if (st.missing >= d->nodes || st.recovered > st.delivered || st.buffered > o->max_buffered ||
        st.unsent != cw_node_unsent(n) ||
        (st.stability_blocker != CW_NODE_NONE && (st.stability_blocker >= d->nodes || st.stability_blocker == d->self)))
        fail("statistics inconsistent");
}

static void check(driver *d, const cw_node_options *o, tracked *t, int rc, bool ok)
{
    d->in = IN_NONE;
    if (!ok || !cw__node_check(d->node)) {
        fprintf(stderr, "fuzz_recovery: rc %d (%s), invariants %s\n", rc, cw_strerror(rc),
                cw__node_check(d->node) ? "hold" : "broken");
        abort();
    }
    check_recovery(d, o, t);
}

/* Receives m as the driver: a pull's answers are checked against it. */
static int deliver(driver *d, cw_msg *m, cw_receive_result *res)
{
    d->in = IN_RECEIVE;
    d->pulling = cw_msg_kind_of(m) == CW_MSG_PULL;
    if (d->pulling) {
        cw_msg_pull_range(m, &d->pull_origin, &d->pull_from, &d->pull_to);
        d->asker = cw_msg_origin(m);
        d->answered = 0;
    }
    int rc = cw_node_receive(d->node, m, res, NULL);
    d->pulling = false;
    return rc;
}

static void keep(cw_msg **held, size_t *nheld, cw_msg *m)
{
    if (*nheld < MAX_HELD)
        held[(*nheld)++] = m;
    else
        cw_msg_unref(m);
}

/* The node's saved state (node.h, "Persisting a replica"). */
typedef struct saved {
    cw_msg **v;
    size_t len, cap;
    bool failed;
} saved;

static void save_one(saved *s, const cw_msg *m)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        cw_msg **g = realloc(s->v, cap * sizeof *g);
        if (!g) {
            s->failed = true;
            return;
        }
        s->v = g;
        s->cap = cap;
    }
    s->v[s->len++] = cw_msg_ref((cw_msg *)(uintptr_t)m);
}

static void save_key(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions, size_t count)
{
    (void)key, (void)key_len;
    for (size_t i = 0; i < count; i++)
        save_one(ctx, versions[i]);
}

static void save_logged(void *ctx, const cw_msg *m) { save_one(ctx, m); }

static void drop_saved(saved *s)
{
    for (size_t i = 0; i < s->len; i++)
        cw_msg_unref(s->v[i]);
    free(s->v);
}

/* Restarts the node: a new one takes the old one's saved state (how == 0),
 * or installs a clock from the input as a peer's state with no versions
 * (how == 1), or restores that clock with no log (how == 2). False when the
 * input ended. */
static bool restart(driver *d, const cw_node_options *o, tracked *t, input *in, uint8_t how)
{
    uint64_t clock[MAX_NODES] = {0};
    saved versions = {0}, log = {0};
    how %= 3;
    if (how == 0) {
        memcpy(clock, cw_node_counters(d->node), (size_t)d->nodes * sizeof *clock);
        cw_node_each_key(d->node, save_key, &versions);
        cw__node_each_logged(d->node, save_logged, &log);
    } else {
        for (uint32_t k = 0; k < d->nodes; k++)
            if (!take_counter(in, &clock[k]))
                return false;
    }
    if (versions.failed || log.failed) {
        drop_saved(&versions);
        drop_saved(&log);
        return true;
    }
    cw_node *fresh;
    if (cw_node_create(&fresh, o) != CW_OK)
        fail("create");
    d->in = IN_OTHER;
    int rc = how == 1 ? cw_node_install(fresh, clock, d->nodes, versions.v, versions.len)
                      : cw_node_restore(fresh, clock, d->nodes, versions.v, versions.len, log.v, log.len);
    d->in = IN_NONE;
    /* Own writes not yet stable after it: as many as the saved log held
     * (a restore takes what the log starts after as stable); all of them
     * after an install, which takes nothing as stable (install.c,
     * invariant 3; server.c, finish_join). */
    uint64_t own = how == 1 ? clock[d->self] : 0;
    for (size_t i = 0; i < log.len; i++)
        own += cw_msg_origin(log.v[i]) == d->self;
    drop_saved(&versions);
    drop_saved(&log);
    if (rc == CW_ENOMEM) {
        cw_node_destroy(fresh);
        return true;
    }
    if (rc != CW_OK) {
        fprintf(stderr, "fuzz_recovery: restart %u: rc %d (%s)\n", how, rc, cw_strerror(rc));
        abort();
    }
    cw_node_destroy(d->node);
    d->node = fresh;
    d->pulls = d->reports = d->answers = 0;
    memset(t->stable, 0, sizeof t->stable);
    t->own_bound = own > o->max_log ? own : o->max_log;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    cw_node_options o;
    uint8_t rec;
    if (!fuzz_group(&in, &o) || !take_byte(&in, &rec))
        return 0;
    static const uint64_t timeouts[4] = {0, 1000000u, 10000000u, CW_NODE_MAX_INTERVAL_NS};
    driver d = {0};
    o.send = on_send;
    o.send_ctx = &d;
    o.send_to = on_send_to;
    o.send_to_ctx = &d;
    o.max_log = 1 + rec % 16;
    o.recovery_timeout_ns = timeouts[(rec >> 4) & 3];
    o.report_interval_ns = (rec >> 6) & 1 ? 2000000u : 0;
    o.stability_interval_ns = (rec >> 7) & 1 ? 1 : 0;
    d.nodes = o.nodes;
    d.self = o.self;
    const cw_msg_limits limits = {o.nodes, 8, 16};
    if (cw_node_create(&d.node, &o) != CW_OK)
        abort();
    tracked t = {.own_bound = o.max_log};

    cw_msg *held[MAX_HELD] = {0};
    size_t nheld = 0;
    uint64_t now = 0;
    uint8_t op;
    while (take_byte(&in, &op)) {
        uint8_t a, b, klen, key[16] = {0}, value[32] = {0};
        int rc;
        switch (op % 14) {
        case 0: { /* local put, under max_log */
            if (!take_byte(&in, &klen) || !take_byte(&in, &b))
                goto out;
            klen %= 10;
            if (!take(&in, key, klen))
                goto out;
            const uint64_t *v = cw_node_counters(d.node);
            uint64_t own = v[d.self] - cw__node_stable_counters(d.node)[d.self];
            d.in = IN_PUT;
            rc = (b & 0x80) ? cw_node_delete(d.node, klen ? key : NULL, klen, NULL, NULL)
                            : cw_node_put(d.node, klen ? key : NULL, klen, value, b % 20, NULL);
            check(&d, &o, &t, rc,
                  rc == CW_OK || rc == CW_ELIMIT || rc == CW_EOVERFLOW || rc == CW_EFULL || rc == CW_EDRIFT ||
                      rc == CW_ENOMEM || (rc == CW_ESTALLED && own >= o.max_log));
            break;
        }
        case 1: { /* a tick at any time */
            uint64_t next = 0;
            if (!take_byte(&in, &a) || !take_byte(&in, &b))
                goto out;
            switch (a % 6) {
            case 0: now += (uint64_t)b * 1000000u; break;
            case 1: now += (uint64_t)b * 37000000u; break;
            case 2: if (!take(&in, &now, sizeof now)) goto out; break;
            case 3: now = now > (uint64_t)b * 1000000u ? now - (uint64_t)b * 1000000u : 0; break;
            case 4: now = CW_NODE_MAX_TIME_NS + (b & 1); break;
            default: now += 1; break;
            }
            d.in = IN_TICK;
            rc = cw_node_tick(d.node, now, &next);
            check(&d, &o, &t, rc,
                  now > CW_NODE_MAX_TIME_NS ? rc == CW_EINVAL : rc == CW_OK && next == cw_node_next_tick(d.node));
            /* A host that ticks again while a tick is due at this time
             * comes to one with nothing due now. */
            for (int i = 0; rc == CW_OK && next <= now; i++) {
                if (i == 8)
                    fail("a tick stays due at one time");
                d.in = IN_TICK;
                rc = cw_node_tick(d.node, now, &next);
                check(&d, &o, &t, rc, rc == CW_OK);
            }
            break;
        }
        case 2:   /* a write from a peer with any clock: its first copy */
        case 3: { /* ... or a retransmitted copy */
            uint8_t origin, vlen;
            uint64_t clock[MAX_NODES] = {0};
            if (!take_byte(&in, &origin) || !take_byte(&in, &vlen))
                goto out;
            for (uint32_t k = 0; k < o.nodes; k++)
                if (!take_counter(&in, &clock[k]))
                    goto out;
            origin %= o.nodes;
            if (clock[origin] == 0)
                clock[origin] = 1;
            cw_hlc_timestamp ts = {fixed_wall(NULL), vlen, origin};
            cw_msg *m;
            if (cw_msg_create_write(&m, origin, &ts, clock, o.nodes, NULL, vlen & 0x80, "k", 1, value,
                                    vlen & 0x80 ? 0 : vlen % 20) != CW_OK)
                break;
            if (op % 14 == 3) {
                cw_msg *copy;
                rc = cw__msg_retransmission(&copy, m, d.self);
                cw_msg_unref(m);
                if (rc != CW_OK)
                    break;
                m = copy;
            }
            rc = deliver(&d, m, NULL);
            check(&d, &o, &t, rc, receive_rc_ok(rc) && (rc != CW_EINVAL || origin == o.self));
            keep(held, &nheld, m);
            break;
        }
        case 4: { /* a pull from any peer for any range */
            uint8_t asker, origin;
            uint64_t from, to;
            if (!take_byte(&in, &asker) || !take_byte(&in, &origin) || !take_byte(&in, &a) ||
                !take_counter(&in, &from) || !take_counter(&in, &to))
                goto out;
            if (a % 4 == 0)
                from = 1, to = UINT64_MAX;
            else if (a % 4 == 1 && from < to)
                from ^= to, to ^= from, from ^= to; /* from > to */
            asker %= a & 4 ? 8 : o.nodes;
            origin %= a & 8 ? 8 : o.nodes;
            cw_msg *m;
            rc = cw__msg_pull(&m, o.nodes, asker, d.self, origin, from, to);
            if (rc != CW_OK) { /* refused where it is made, as the decoder refuses it */
                if (rc != CW_ENOMEM && (rc != CW_EINVAL || (asker < o.nodes && origin < o.nodes && from &&
                                                            from <= to)))
                    fail("a pull refused for nothing");
                break;
            }
            cw_receive_result res;
            rc = deliver(&d, m, &res);
            check(&d, &o, &t, rc,
                  asker == d.self ? rc == CW_EINVAL : rc == CW_OK && res == CW_RECEIVE_DELIVERED);
            cw_msg_unref(m);
            break;
        }
        case 5: { /* a report with any clock */
            uint8_t from;
            uint64_t clock[MAX_NODES] = {0};
            if (!take_byte(&in, &from))
                goto out;
            for (uint32_t k = 0; k < o.nodes; k++)
                if (!take_counter(&in, &clock[k]))
                    goto out;
            cw_msg *m;
            if (cw__msg_report(&m, o.nodes, from % o.nodes, clock, from & 0x80 ? CW__MSG_WANTS_REPORTS : 0) !=
                CW_OK)
                break;
            cw_receive_result res;
            rc = deliver(&d, m, &res);
            check(&d, &o, &t, rc,
                  from % o.nodes == d.self ? rc == CW_EINVAL : rc == CW_OK && res == CW_RECEIVE_DELIVERED);
            keep(held, &nheld, m);
            break;
        }
        case 6: { /* a message decoded from raw bytes (pulls and reports among them) */
            uint8_t len;
            uint8_t raw[256];
            if (!take_byte(&in, &len) || !take(&in, raw, len))
                goto out;
            cw_msg *m = NULL;
            size_t used;
            if (cw_msg_decode(&m, raw, len, &limits, &used) == CW_OK) {
                rc = deliver(&d, m, NULL);
                check(&d, &o, &t, rc, receive_rc_ok(rc));
                if (cw_msg_kind_of(m) == CW_MSG_PULL) /* a batch's answers have no pull to check them by */
                    cw_msg_unref(m);
                else
                    keep(held, &nheld, m);
            }
            break;
        }
        case 7: { /* the held messages again, one by one or as one batch; or the answers fed back */
            size_t taken = 0;
            if (!take_byte(&in, &a))
                goto out;
            if (a & 1) {
                for (size_t i = 0; i < d.ncopies; i++) {
                    rc = deliver(&d, d.copies[i], NULL);
                    check(&d, &o, &t, rc, receive_rc_ok(rc));
                }
                break;
            }
            d.in = IN_RECEIVE;
            rc = cw_node_receive_many(d.node, held, nheld, &taken, NULL);
            check(&d, &o, &t, rc, receive_rc_ok(rc) && taken <= nheld && (rc != CW_OK || taken == nheld));
            break;
        }
        case 8: /* the driver's send and send_to start or stop refusing; probing from callbacks */
            if (!take_byte(&in, &a))
                goto out;
            d.refuse_send = a & 1;
            d.refuse_send_to = a & 2;
            d.probe = a & 4;
            break;
        case 9: { /* flush what waits to be sent */
            size_t before = cw_node_unsent(d.node), sent = 0;
            d.in = IN_FLUSH;
            rc = cw_node_flush(d.node, &sent);
            check(&d, &o, &t, rc,
                  (rc == CW_OK ? cw_node_unsent(d.node) == 0 : rc == CW_EFULL && d.refuse_send) &&
                      cw_node_unsent(d.node) + sent == before);
            break;
        }
        case 10: { /* statistics and the dump */
            char *text = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&text, &len);
            if (f) {
                rc = cw_node_dump(d.node, f);
                check(&d, &o, &t, rc, rc == CW_OK || rc == CW_ENOMEM);
                fclose(f);
            }
            free(text);
            break;
        }
        case 11: { /* the host's hints: a lost message, a lost answer, a report now, the time */
            uint8_t from, origin;
            uint64_t seq;
            if (!take_byte(&in, &a) || !take_byte(&in, &from) || !take_byte(&in, &origin) ||
                !take_counter(&in, &seq))
                goto out;
            from %= a & 8 ? 8 : o.nodes;
            origin %= a & 8 ? 8 : o.nodes;
            d.in = IN_OTHER;
            switch (a % 6) {
            case 0: cw__node_link_lost(d.node, from); break;
            case 1: cw__node_answer_lost(d.node, from, origin, seq); break;
            case 2: cw__node_report_now(d.node); break;
            case 3: cw__node_ask_reports(d.node); break;
            case 4: cw__node_note_time(d.node, seq); break;
            default: cw_node_peer_restarted(d.node, from); break;
            }
            check(&d, &o, &t, CW_OK, true);
            break;
        }
        case 12: /* the node restarts: from its own saved state, or a peer's clock */
            if (!take_byte(&in, &a) || !restart(&d, &o, &t, &in, a))
                goto out;
            check(&d, &o, &t, CW_OK, true);
            break;
        case 13: { /* a get */
            if (!take_byte(&in, &klen))
                goto out;
            klen %= 10;
            if (!take(&in, key, klen))
                goto out;
            cw_read r;
            cw_read_init(&r);
            d.in = IN_OTHER;
            rc = cw_node_get(d.node, klen ? key : NULL, klen, &r);
            check(&d, &o, &t, rc, rc == CW_OK ? r.count >= 1 : rc == CW_ENOTFOUND || rc == CW_ENOMEM);
            cw_read_destroy(&r);
            break;
        }
        }
    }
out:
    for (size_t i = 0; i < nheld; i++)
        cw_msg_unref(held[i]);
    for (size_t i = 0; i < d.ncopies; i++)
        cw_msg_unref(d.copies[i]);
    cw_node_destroy(d.node);
    return 0;
}
