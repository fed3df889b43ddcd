/* The replica: causal delivery, duplicates, backpressure, the store and its
 * policies, limits, failure atomicity, and the invariant checker. */
#define _GNU_SOURCE /* open_memstream */
#include "testutil.h"
#include "node_internal.h"
#include "msg_internal.h"

/* A tiny network: every sent message, per destination, in send order. */
enum { MAXN = 8, MAXQ = 64 };
typedef struct net {
    uint32_t nodes;
    cw_node *node[MAXN];
    cw_msg *q[MAXN][MAXQ];
    size_t len[MAXN];
    uint64_t ns;                 /* injected latency clock */
    uint64_t wall;               /* injected wall clock (ms) */
    int refuse[MAXN];            /* what node i's sends answer now: 0 takes, else refuses */
    uint64_t taken[MAXN];        /* the last seq of node i's writes the net took */
    uint64_t offers[MAXN];       /* send calls from node i */
} net;

typedef struct peer {
    net *n;
    cw_node_id id;
} peer;

static peer peers[MAXN];

/* Takes a message to every other node, all or nothing, or refuses it with
 * n->refuse[from]. Every write must be taken exactly once, in order. */
static int on_send(void *ctx, cw_msg *m)
{
    peer *p = ctx;
    p->n->offers[p->id]++;
    if (p->n->refuse[p->id])
        return p->n->refuse[p->id];
    assert_int_equal(cw_msg_origin(m), p->id);
    assert_int_equal(cw_msg_seq(m), p->n->taken[p->id] + 1);
    p->n->taken[p->id]++;
    for (uint32_t to = 0; to < p->n->nodes; to++)
        if (to != p->id) {
            assert_true(p->n->len[to] < MAXQ);
            p->n->q[to][p->n->len[to]++] = cw_msg_ref(m);
        }
    return CW_OK;
}

static uint64_t net_ns(void *ctx) { return ((net *)ctx)->ns; }
static uint64_t net_wall(void *ctx) { return ((net *)ctx)->wall; }

static void net_open(net *n, uint32_t nodes, cw_conflict_policy policy, size_t max_buffered,
                     cw_merge_fn merge)
{
    assert_true(nodes <= MAXN);
    memset(n, 0, sizeof *n);
    n->nodes = nodes;
    n->wall = 1700000000000u;
    for (uint32_t i = 0; i < nodes; i++) {
        peers[i] = (peer){n, (cw_node_id)i};
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = (cw_node_id)i;
        o.nodes = nodes;
        o.policy = policy;
        o.merge = merge;
        o.send = on_send;
        o.send_ctx = &peers[i];
        o.ns_clock = net_ns;
        o.ns_ctx = n;
        o.wall_clock = net_wall;
        o.wall_ctx = n;
        if (max_buffered)
            o.max_buffered = max_buffered;
        assert_int_equal(cw_node_create(&n->node[i], &o), CW_OK);
    }
}

static void net_close(net *n)
{
    for (uint32_t i = 0; i < n->nodes; i++) {
        assert_true(cw__node_check(n->node[i]));
        for (size_t k = 0; k < n->len[i]; k++)
            cw_msg_unref(n->q[i][k]);
        cw_node_destroy(n->node[i]);
    }
}

/* The message at index k of node to's queue (not removed). */
static cw_msg *queued(net *n, cw_node_id to, size_t k)
{
    assert_true(k < n->len[to]);
    return n->q[to][k];
}

/* Delivers queued message k to node `to`; returns the outcome. */
static cw_receive_result deliver(net *n, cw_node_id to, size_t k, size_t *delivered)
{
    cw_receive_result r;
    assert_int_equal(cw_node_receive(n->node[to], queued(n, to, k), &r, delivered), CW_OK);
    assert_true(cw__node_check(n->node[to]));
    return r;
}

static void put(net *n, cw_node_id at, const char *key, const char *value, const char *clock)
{
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_node_put(n->node[at], key, strlen(key), value, strlen(value), &c), CW_OK);
    tu_assert_clock(&c, clock);
    cw_vclock_destroy(&c);
}

static void expect_read(net *n, cw_node_id at, const char *key, const char *value, const char *clock)
{
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n->node[at], key, strlen(key), &r), CW_OK);
    tu_assert_one_version(&r, value, clock);
    cw_read_destroy(&r);
}

static void expect_read_at(cw_node *node, const char *key, const char *value)
{
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(node, key, strlen(key), &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.versions[0].value_len, strlen(value));
    assert_memory_equal(r.versions[0].value, value, strlen(value));
    cw_read_destroy(&r);
}

static void expect_clock(net *n, cw_node_id at, const char *clock)
{
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_node_clock(n->node[at], &c), CW_OK);
    tu_assert_clock(&c, clock);
    cw_vclock_destroy(&c);
}

static uint64_t stat_buffered(net *n, cw_node_id at)
{
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n->node[at], &st), CW_OK);
    return st.buffered;
}

/* Seed 003: node0's write x reaches node2 after node1's dependent write y. */
static void test_seed_003_scenario(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "x", "1", "0:1");                      /* 1 */
    assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DELIVERED);
    expect_read(&n, 1, "x", "1", "0:1");              /* 2 */
    put(&n, 1, "y", "2", "0:1,1:1");                  /* 3 */
    /* node2's queue: [x from node0, y from node1]; y arrives first. */
    n.ns = 100;
    assert_int_equal(deliver(&n, 2, 1, NULL), CW_RECEIVE_BUFFERED);  /* 4 */
    assert_int_equal(stat_buffered(&n, 2), 1);
    assert_int_equal(cw_node_get(n.node[2], "y", 1, &(cw_read){0}), CW_ENOTFOUND);
    n.ns = 250;
    size_t delivered = 0;
    assert_int_equal(deliver(&n, 2, 0, &delivered), CW_RECEIVE_DELIVERED); /* 5: x, then y */
    assert_int_equal(delivered, 2);
    assert_int_equal(stat_buffered(&n, 2), 0);
    expect_read(&n, 2, "y", "2", "0:1,1:1");          /* 6 */
    assert_int_equal(deliver(&n, 0, 0, NULL), CW_RECEIVE_DELIVERED);
    for (cw_node_id i = 0; i < 3; i++) {
        expect_read(&n, i, "x", "1", "0:1");
        expect_read(&n, i, "y", "2", "0:1,1:1");
        expect_clock(&n, i, "0:1,1:1");
        assert_int_equal(stat_buffered(&n, i), 0);
    }
    cw_node_stats st;
    cw_node_get_stats(n.node[2], &st);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.max_buffered, 1);
    assert_int_equal(st.buffering.count, 2);       /* x waited 0, y waited 150 ns */
    assert_true(st.buffering.max_ns == 150);
    assert_true(st.buffering.p99_ns >= 140 && st.buffering.p99_ns <= 150);
    /* The system state, in the seed's shape. */
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_int_equal(cw_node_dump(n.node[2], f), CW_OK);
    fclose(f);
    assert_non_null(strstr(text, "Node 2"));
    assert_non_null(strstr(text, "x = 1 {0:1}"));
    assert_non_null(strstr(text, "y = 2 {0:1,1:1}"));
    assert_non_null(strstr(text, "Pending writes: 0"));
    assert_non_null(strstr(text, "Vector clock: 0:1,1:1"));
    free(text);
    /* A write error on the stream is CW_EINVAL, also when the whole dump
     * fits in the stream's buffer (the error shows only as it goes out). */
    f = fopen("/dev/full", "w");
    if (f) {
        assert_int_equal(cw_node_dump(n.node[2], f), CW_EINVAL);
        fclose(f);
    }
    net_close(&n);
}

static int drop(void *ctx, cw_msg *m)
{
    (void)ctx;
    (void)m;
    return CW_OK;
}

static char *dump_of(const cw_node *node)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_int_equal(cw_node_dump(node, f), CW_OK);
    fclose(f);
    return text;
}

/* Batches through cw_node_receive_many leave a replica exactly as one
 * cw_node_receive per message does: node 2 takes its queue newest first (so
 * most writes wait and arrive in cascades) in batches of 1..7, a twin of
 * node 2 takes the same messages one call each. */
/* A replica with node 2's id in a 3-node net, outside it (it sends nowhere),
 * reading time from ns_clock(ns_ctx): the net's messages to node 2 can be fed
 * to it in any order. */
static cw_node *outsider(net *n, cw_ns_clock_fn ns_clock, void *ns_ctx)
{
    cw_node_options o;
    cw_node_options_init(&o);
    o.self = 2;
    o.nodes = 3;
    o.send = drop;
    o.ns_clock = ns_clock;
    o.ns_ctx = ns_ctx;
    o.wall_clock = net_wall;
    o.wall_ctx = n;
    cw_node *node;
    assert_int_equal(cw_node_create(&node, &o), CW_OK);
    return node;
}

static void test_receive_many_matches_single_receives(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    char key[8], value[8];
    for (int i = 0; i < 24; i++) {
        cw_node_id at = (cw_node_id)(i % 3 == 2 ? 1 : 0);
        snprintf(key, sizeof key, "k%d", i % 5);
        snprintf(value, sizeof value, "v%d", i);
        assert_int_equal(cw_node_put(n.node[at], key, strlen(key), value, strlen(value), NULL), CW_OK);
        if (i % 4 == 3) /* node 1 catches up with node 0 now and then */
            for (size_t k = 0; k < n.len[1]; k++)
                cw_node_receive(n.node[1], queued(&n, 1, k), NULL, NULL);
    }
    cw_node *twin = outsider(&n, net_ns, &n);

    size_t len = n.len[2], total = 0, twin_total = 0;
    cw_msg *order[MAXQ];
    for (size_t k = 0; k < len; k++)
        order[k] = queued(&n, 2, len - 1 - k);
    for (size_t at = 0, batch = 1; at < len; at += batch, batch = batch % 7 + 1) {
        size_t count = len - at < batch ? len - at : batch, taken = 99, delivered = 99;
        assert_int_equal(cw_node_receive_many(n.node[2], order + at, count, &taken, &delivered), CW_OK);
        assert_int_equal(taken, count);
        total += delivered;
        for (size_t k = at; k < at + count; k++) {
            size_t d = 0;
            assert_int_equal(cw_node_receive(twin, order[k], NULL, &d), CW_OK);
            twin_total += d;
        }
        assert_true(cw__node_check(n.node[2]));
    }
    assert_int_equal(total, len);
    assert_int_equal(twin_total, len);
    char *a = dump_of(n.node[2]), *b = dump_of(twin);
    assert_string_equal(a, b);
    free(a);
    free(b);
    cw_node_stats sa, sb;
    cw_node_get_stats(n.node[2], &sa);
    cw_node_get_stats(twin, &sb);
    assert_int_equal(sa.delivered, sb.delivered);
    assert_int_equal(sa.max_buffered, sb.max_buffered);
    assert_true(sa.max_buffered > len / 2);
    cw_node_destroy(twin);
    net_close(&n);
}

/* A batch stops at the first message that fails: the ones before it are
 * taken, it and the ones after are not. */
static void test_receive_many_stops_at_first_error(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "x", "1", "0:1");
    put(&n, 0, "y", "2", "0:2");
    cw_msg *own; /* a message from node 2 itself: CW_EINVAL at node 2 */
    uint64_t clock[3] = {0, 0, 1};
    cw_hlc_timestamp ts = {n.wall, 0, 2};
    assert_int_equal(cw_msg_create(&own, 2, &ts, clock, 3, "z", 1, "3", 1), CW_OK);
    cw_msg *batch[3] = {queued(&n, 2, 0), own, queued(&n, 2, 1)};
    size_t taken = 99, delivered = 99;
    assert_int_equal(cw_node_receive_many(n.node[2], batch, 3, &taken, &delivered), CW_EINVAL);
    assert_int_equal(taken, 1);
    assert_int_equal(delivered, 1);
    expect_clock(&n, 2, "0:1");
    assert_int_equal(cw_node_receive_many(n.node[2], batch + 2, 1, &taken, &delivered), CW_OK);
    assert_int_equal(taken, 1);
    expect_clock(&n, 2, "0:2");
    /* Bad arguments; an empty batch is fine. */
    assert_int_equal(cw_node_receive_many(NULL, batch, 1, &taken, NULL), CW_EINVAL);
    assert_int_equal(taken, 0);
    assert_int_equal(cw_node_receive_many(n.node[2], NULL, 1, NULL, NULL), CW_EINVAL);
    assert_int_equal(cw_node_receive_many(n.node[2], NULL, 0, &taken, &delivered), CW_OK);
    assert_int_equal(taken, 0);
    assert_int_equal(delivered, 0);
    cw_msg_unref(own);
    net_close(&n);
}

/* A pause that says yes while *ctx is set, counting how often it was asked. */
typedef struct pauser {
    bool yes;
    unsigned asked;
} pauser;

static bool pause_when(void *ctx)
{
    pauser *p = ctx;
    p->asked++;
    return p->yes;
}

/* The writes of the drain tests: W writes at node 0, each to a new key
 * (applying one allocates), queued for nodes 1 and 2. */
enum { W = 40 };

static void open_with_drain_writes(net *n)
{
    net_open(n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    char key[8];
    for (int i = 0; i < W; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(cw_node_put(n->node[0], key, strlen(key), "v", 1, NULL), CW_OK);
    }
}

/* One write recovered can release every write buffered behind it. A host
 * whose client waits for the node (the engine's combining) gets a pause
 * within that drain: the node stops after 16 writes, takes no arrival
 * until it has applied the rest (a copy of a released write would not be
 * seen as a duplicate), lets a local write in meanwhile, and a call with
 * no messages finishes it, with the same end as without pauses. */
static void test_a_long_drain_pauses_for_the_host(void **state)
{
    (void)state;
    net n;
    open_with_drain_writes(&n);
    char key[8];
    cw_node *r = n.node[2];
    for (size_t k = 1; k < W; k++) /* writes 2..W wait for write 1 */
        assert_int_equal(deliver(&n, 2, k, NULL), CW_RECEIVE_BUFFERED);
    assert_int_equal(stat_buffered(&n, 2), W - 1);

    pauser p = {true, 0};
    cw_msg *first = queued(&n, 2, 0);
    size_t taken = 99, delivered = 99;
    assert_int_equal(cw__node_receive_many_pausable(r, &first, 1, &taken, &delivered, pause_when, &p), CW_OK);
    assert_int_equal(taken, 1);
    assert_int_equal(delivered, 16); /* write 1 and 15 it released */
    assert_true(cw__node_paused(r));
    assert_int_equal(p.asked, 1);
    assert_int_equal(stat_buffered(&n, 2), W - 16); /* the rest still count as buffered */

    /* Out of memory, what it left stays for the next call: an arrival is
     * refused with the error (its host keeps it), a call without one is not. */
    cw_msg *copy = queued(&n, 2, W - 1);
    assert_true(cw__node_check(r));
    p.yes = false;
    tu_fail_alloc_after(0);
    assert_int_equal(cw__node_receive_many_pausable(r, &copy, 1, &taken, &delivered, pause_when, &p), CW_ENOMEM);
    assert_int_equal(taken, 0);
    assert_int_equal(delivered, 0);
    assert_int_equal(cw__node_receive_many_pausable(r, NULL, 0, &taken, &delivered, pause_when, &p), CW_OK);
    assert_int_equal(delivered, 0);
    tu_fail_alloc_off();
    cw_node_stats st;
    cw_node_get_stats(r, &st);
    assert_int_equal(st.rejected_memory, 1); /* the arrival refused; the call without one not */
    assert_int_equal(stat_buffered(&n, 2), W - 16);
    assert_true(cw__node_check(r));

    /* While paused no arrival is taken, not even a copy of the write the
     * drain stopped before (write 32: released, so neither applied nor
     * buffered). */
    p.yes = true;
    copy = queued(&n, 2, 31);
    assert_int_equal(cw__node_receive_many_pausable(r, &copy, 1, &taken, &delivered, pause_when, &p), CW_OK);
    assert_int_equal(taken, 0);
    assert_int_equal(delivered, 15);
    assert_true(cw__node_paused(r));
    expect_clock(&n, 2, "0:31");

    /* A local write gets in; its clock has what was applied so far. */
    put(&n, 2, "mine", "m", "0:31,2:1");
    assert_true(cw__node_paused(r));
    p.yes = false; /* 15 more, with no message */
    p.asked = 0;
    assert_int_equal(cw__node_receive_many_pausable(r, NULL, 0, &taken, &delivered, pause_when, &p), CW_OK);
    assert_int_equal(taken, 0);
    assert_int_equal(delivered, W - 31);
    assert_int_equal(p.asked, 0); /* 9 left: never asked */
    assert_false(cw__node_paused(r));
    assert_int_equal(stat_buffered(&n, 2), 0);
    expect_clock(&n, 2, "0:40,2:1");
    /* The copy now is a duplicate. */
    assert_int_equal(deliver(&n, 2, 31, NULL), CW_RECEIVE_DUPLICATE);
    assert_int_equal(cw_node_get_stats(r, &st), CW_OK);
    assert_int_equal(st.delivered, W);
    assert_int_equal(st.duplicates, 1);

    /* A write with a context that covers writes a paused drain left is
     * made after them, not refused as ahead of the node. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(cw_node_put(n.node[0], "c", 1, "v", 1, NULL), CW_OK);
    for (size_t k = W + 1; k < W + 20; k++)
        assert_int_equal(deliver(&n, 2, k, NULL), CW_RECEIVE_BUFFERED);
    cw_msg *next = queued(&n, 2, W);
    p.yes = true;
    assert_int_equal(cw__node_receive_many_pausable(r, &next, 1, &taken, &delivered, pause_when, &p), CW_OK);
    assert_true(cw__node_paused(r));
    cw_vclock ctx, out;
    cw_vclock_init(&ctx);
    cw_vclock_init(&out);
    assert_int_equal(cw_vclock_set(&ctx, 0, W + 20), CW_OK);
    assert_int_equal(cw_node_put_ctx(r, "c", 1, "w", 1, &ctx, &out), CW_OK);
    assert_false(cw__node_paused(r));
    tu_assert_clock(&out, "0:60,2:2");
    cw_vclock_destroy(&ctx);
    cw_vclock_destroy(&out);

    /* The same writes at node 1 without a pause end in the same store. */
    size_t all = 0;
    for (size_t k = W; k-- > 0;) {
        size_t d = 0;
        deliver(&n, 1, k, &d);
        all += d;
    }
    assert_int_equal(all, W);
    for (int i = 0; i < W; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cw_read a, b;
        cw_read_init(&a);
        cw_read_init(&b);
        assert_int_equal(cw_node_get(n.node[1], key, strlen(key), &a), CW_OK);
        assert_int_equal(cw_node_get(r, key, strlen(key), &b), CW_OK);
        assert_int_equal(a.count, 1);
        assert_int_equal(b.count, 1);
        assert_int_equal(cw_vclock_compare(&a.versions[0].clock, &b.versions[0].clock), CW_EQUAL);
        cw_read_destroy(&a);
        cw_read_destroy(&b);
    }
    net_close(&n);
}

/* The clock of test_a_drain_out_of_memory_takes_no_arrival: its first
 * reading (a drain's) makes every allocation fail, its second lets them
 * succeed again. */
static uint64_t failing_then_not_ns(void *ctx)
{
    unsigned *readings = ctx;
    if (*readings == 1)
        tu_fail_alloc_after(0);
    else if (*readings == 2)
        tu_fail_alloc_off();
    ++*readings;
    return 1000;
}

/* A drain that ran out of memory leaves released writes on the work stack;
 * the next arrival of the same batch waits for them, even when the drain
 * that applies them stops for the host's pause, so a copy of one of them is
 * never applied twice. */
static void test_a_drain_out_of_memory_takes_no_arrival(void **state)
{
    (void)state;
    net n;
    open_with_drain_writes(&n);
    unsigned readings = 99;
    cw_node *r = outsider(&n, failing_then_not_ns, &readings);
    for (size_t k = 1; k < W; k++)
        assert_int_equal(cw_node_receive(r, queued(&n, 2, k), NULL, NULL), CW_OK);
    /* Write 1 is applied; the drain after it fails at once (write 2 stays
     * on the stack); the next drain applies 2..16 and stops for the pause,
     * with write 17 on the stack: the copy of 17 must wait. */
    cw_msg *batch[2] = {queued(&n, 2, 0), queued(&n, 2, 16)};
    pauser p = {true, 0};
    size_t taken = 99, delivered = 99;
    readings = 1;
    assert_int_equal(cw__node_receive_many_pausable(r, batch, 2, &taken, &delivered, pause_when, &p), CW_OK);
    tu_fail_alloc_off();
    assert_int_equal(readings, 3);
    assert_int_equal(taken, 1);
    assert_int_equal(delivered, 16);
    assert_true(cw__node_paused(r));
    assert_true(cw__node_check(r));
    p.yes = false;
    assert_int_equal(cw__node_receive_many_pausable(r, batch + 1, 1, &taken, &delivered, pause_when, &p), CW_OK);
    assert_int_equal(taken, 1); /* a duplicate now */
    assert_int_equal(delivered, W - 16);
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(r, &st), CW_OK);
    assert_int_equal(st.delivered, W);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.buffered, 0);
    assert_true(cw__node_check(r));
    cw_node_destroy(r);
    net_close(&n);
}

static uint64_t ticking_ns(void *ctx)
{
    uint64_t *t = ctx;
    return *t += 100; /* every reading is 100 ns after the one before */
}

/* A batch arrives at once: its buffered writes share one clock reading, so
 * their buffering latency counts from the batch's hand-off. */
static void test_receive_many_batch_shares_arrival_time(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "x", "1", "0:1");
    put(&n, 0, "y", "2", "0:2");
    put(&n, 0, "z", "3", "0:3");
    uint64_t t = 0;
    cw_node *r = outsider(&n, ticking_ns, &t);
    cw_msg *later[2] = {queued(&n, 2, 2), queued(&n, 2, 1)};
    assert_int_equal(cw_node_receive_many(r, later, 2, NULL, NULL), CW_OK);
    assert_int_equal(t, 100); /* one reading for both buffered writes */
    size_t delivered = 0;
    assert_int_equal(cw_node_receive(r, queued(&n, 2, 0), NULL, &delivered), CW_OK);
    assert_int_equal(delivered, 3);
    assert_int_equal(t, 200); /* one reading for the cascade */
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(r, &st), CW_OK);
    assert_int_equal(st.buffering.count, 3);    /* x waited 0 */
    assert_int_equal(st.buffering.max_ns, 100); /* y and z waited from t=100 to t=200 */
    cw_node_destroy(r);
    net_close(&n);
}

static void test_duplicates_are_dropped_and_counted(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "a", "1", "0:1");
    put(&n, 0, "a", "2", "0:2");
    put(&n, 0, "a", "3", "0:3");
    /* node1 gets 0:3 (pending), 0:3 again (duplicate of a pending write) */
    assert_int_equal(deliver(&n, 1, 2, NULL), CW_RECEIVE_BUFFERED);
    assert_int_equal(deliver(&n, 1, 2, NULL), CW_RECEIVE_DUPLICATE);
    /* then a head that waits on node2: y from node2 depends on nothing it lacks... make one */
    assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DELIVERED);
    assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DUPLICATE); /* already delivered */
    size_t delivered;
    assert_int_equal(deliver(&n, 1, 1, &delivered), CW_RECEIVE_DELIVERED);
    assert_int_equal(delivered, 2); /* 0:2 then the buffered 0:3 */
    assert_int_equal(deliver(&n, 1, 2, NULL), CW_RECEIVE_DUPLICATE);
    expect_read(&n, 1, "a", "3", "0:3");
    cw_node_stats st;
    cw_node_get_stats(n.node[1], &st);
    assert_int_equal(st.duplicates, 3);
    assert_int_equal(st.delivered, 3); /* each applied once */

    /* A waiting head delivered twice is a duplicate too. */
    assert_int_equal(deliver(&n, 2, 0, NULL), CW_RECEIVE_DELIVERED); /* node2 gets 0:1 only */
    put(&n, 1, "b", "1", "0:3,1:1");                                   /* needs 0:2, 0:3 at node2 */
    size_t last = n.len[2] - 1;
    assert_int_equal(deliver(&n, 2, last, NULL), CW_RECEIVE_BUFFERED);
    assert_int_equal(deliver(&n, 2, last, NULL), CW_RECEIVE_DUPLICATE);
    assert_int_equal(deliver(&n, 2, 2, NULL), CW_RECEIVE_BUFFERED);   /* 0:3 before 0:2 */
    assert_int_equal(deliver(&n, 2, 1, &delivered), CW_RECEIVE_DELIVERED);
    assert_int_equal(delivered, 3); /* 0:2, 0:3, then 1:1 */
    expect_clock(&n, 2, "0:3,1:1");
    net_close(&n);
}

static void test_backpressure_when_full(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 1, NULL);
    put(&n, 0, "k", "1", "0:1");
    put(&n, 0, "k", "2", "0:2");
    put(&n, 0, "k", "3", "0:3");
    assert_int_equal(deliver(&n, 1, 2, NULL), CW_RECEIVE_BUFFERED);   /* 0:3 waits: buffer full */
    cw_receive_result r = 99;
    assert_int_equal(cw_node_receive(n.node[1], queued(&n, 1, 1), &r, NULL), CW_EFULL);
    assert_int_equal(r, 99);
    assert_int_equal(stat_buffered(&n, 1), 1);
    expect_clock(&n, 1, "");
    /* A deliverable write is never refused, and it releases the buffer. */
    size_t delivered;
    assert_int_equal(deliver(&n, 1, 0, &delivered), CW_RECEIVE_DELIVERED);
    assert_int_equal(delivered, 1);
    assert_int_equal(deliver(&n, 1, 1, &delivered), CW_RECEIVE_DELIVERED); /* the retry */
    assert_int_equal(delivered, 2);
    expect_read(&n, 1, "k", "3", "0:3");
    cw_node_stats st;
    cw_node_get_stats(n.node[1], &st);
    assert_int_equal(st.rejected_full, 1);
    net_close(&n);
}

static int send_nowhere(void *ctx, cw_msg *m)
{
    (void)ctx;
    (void)m;
    return CW_OK;
}

/* Writes that wait hold memory: past max_buffered_bytes a write that would
 * wait is refused (CW_EFULL, counted), however few writes wait, so a peer
 * sending large writes that can never be delivered cannot fill memory up to
 * max_buffered of them. One write larger than the budget still waits in an
 * empty buffer, and a deliverable write is never refused. */
static void test_backpressure_by_bytes(void **state)
{
    (void)state;
    enum { VALUE = 64 * 1024 };
    static char value[VALUE];
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 2;
    o.self = 1;
    o.send = send_nowhere;
    cw_hlc_timestamp ts = {1700000000000u, 0, 0};
    cw_msg *w[8];
    for (uint64_t i = 0; i < 8; i++) { /* node 0's writes 1..8 */
        uint64_t clock[2] = {i + 1, 0};
        assert_int_equal(cw_msg_create(&w[i], 0, &ts, clock, 2, "k", 1, value, VALUE), CW_OK);
    }
    size_t one = cw__msg_bytes(w[1]);
    o.max_buffered_bytes = 3 * one; /* three of them wait, not four */
    cw_node *n;
    assert_int_equal(cw_node_create(&n, &o), CW_OK);
    cw_receive_result r;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(cw_node_receive(n, w[i], &r, NULL), CW_OK);
        assert_int_equal(r, CW_RECEIVE_BUFFERED);
    }
    assert_int_equal(cw_node_receive(n, w[4], &r, NULL), CW_EFULL);
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n, &st), CW_OK);
    assert_int_equal(st.buffered, 3);
    assert_int_equal(st.buffered_bytes, 3 * one);
    assert_int_equal(st.rejected_full, 1);
    assert_true(cw__node_check(n));
    size_t delivered;
    assert_int_equal(cw_node_receive(n, w[0], &r, &delivered), CW_OK); /* deliverable: never refused */
    assert_int_equal(delivered, 4);
    assert_int_equal(cw_node_get_stats(n, &st), CW_OK);
    assert_int_equal(st.buffered_bytes, 0);
    assert_int_equal(cw_node_receive(n, w[5], &r, NULL), CW_OK); /* the budget is free again */
    assert_int_equal(r, CW_RECEIVE_BUFFERED);
    cw_node_destroy(n);
    /* A budget below one write: the first that waits is held, the next not. */
    o.max_buffered_bytes = one / 2;
    assert_int_equal(cw_node_create(&n, &o), CW_OK);
    assert_int_equal(cw_node_receive(n, w[1], &r, NULL), CW_OK);
    assert_int_equal(r, CW_RECEIVE_BUFFERED);
    assert_int_equal(cw_node_receive(n, w[2], &r, NULL), CW_EFULL);
    assert_int_equal(cw_node_receive(n, w[0], &r, &delivered), CW_OK);
    assert_int_equal(delivered, 2);
    assert_true(cw__node_check(n));
    cw_node_destroy(n);
    for (int i = 0; i < 8; i++)
        cw_msg_unref(w[i]);
}

static uint64_t stat_unsent(net *n, cw_node_id at, uint64_t *refusals)
{
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n->node[at], &st), CW_OK);
    assert_int_equal(st.unsent, cw_node_unsent(n->node[at]));
    if (refusals)
        *refusals = st.send_refusals;
    return st.unsent;
}

/* A driver that refuses, then accepts: the writes are made and applied
 * locally at once, kept while refused, offered again only by a flush, taken
 * exactly once and in order (on_send asserts it), and replicate. */
static void test_send_refused_then_flushed(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    n.refuse[0] = CW_EFULL;
    put(&n, 0, "x", "1", "0:1");
    expect_read(&n, 0, "x", "1", "0:1");  /* made locally although not sent */
    assert_int_equal(n.len[1] + n.len[2], 0);
    uint64_t refusals;
    assert_int_equal(stat_unsent(&n, 0, &refusals), 1);
    assert_int_equal(refusals, 1);
    /* A later write queues behind the refused one: send is not called. */
    put(&n, 0, "x", "2", "0:2");
    put(&n, 0, "y", "3", "0:3");
    assert_int_equal(n.offers[0], 1);
    assert_int_equal(stat_unsent(&n, 0, NULL), 3);
    /* A flush the driver still refuses: nothing taken, nothing lost. */
    size_t sent = 99;
    assert_int_equal(cw_node_flush(n.node[0], &sent), CW_EFULL);
    assert_int_equal(sent, 0);
    assert_int_equal(stat_unsent(&n, 0, &refusals), 3);
    assert_int_equal(refusals, 2);
    assert_true(cw__node_check(n.node[0]));
    /* Refusal codes are passed on; a positive answer is a refusal too. */
    n.refuse[0] = CW_ENOMEM;
    assert_int_equal(cw_node_flush(n.node[0], NULL), CW_ENOMEM);
    n.refuse[0] = 1;
    assert_int_equal(cw_node_flush(n.node[0], NULL), CW_EFULL);
    /* The driver takes messages again: all three leave, oldest first. */
    n.refuse[0] = 0;
    assert_int_equal(cw_node_flush(n.node[0], &sent), CW_OK);
    assert_int_equal(sent, 3);
    assert_int_equal(stat_unsent(&n, 0, NULL), 0);
    assert_int_equal(n.taken[0], 3);
    assert_int_equal(n.len[1], 3);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(cw_msg_seq(queued(&n, 1, k)), k + 1);
    /* Nothing is sent twice: another flush offers nothing. */
    uint64_t offers = n.offers[0];
    assert_int_equal(cw_node_flush(n.node[0], &sent), CW_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(n.offers[0], offers);
    /* A put with nothing waiting sends at once. */
    put(&n, 0, "y", "4", "0:4");
    assert_int_equal(n.len[1], 4);
    for (cw_node_id to = 1; to < 3; to++)
        for (size_t k = 0; k < n.len[to]; k++)
            assert_int_equal(deliver(&n, to, k, NULL), CW_RECEIVE_DELIVERED);
    for (cw_node_id i = 0; i < 3; i++) {
        expect_read(&n, i, "x", "2", "0:2");
        expect_read(&n, i, "y", "4", "0:4");
        expect_clock(&n, i, "0:4");
    }
    net_close(&n);
}

/* max_unsent bounds what a refusing driver leaves with the node: the next
 * put fails with CW_EFULL and changes nothing; after a flush it succeeds. */
static void test_put_full_when_unsent_at_limit(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 0, NULL);
    cw_node_destroy(n.node[0]); /* again, with max_unsent = 2 */
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 2;
    o.max_unsent = 2;
    o.send = on_send;
    o.send_ctx = &peers[0];
    o.wall_clock = net_wall;
    o.wall_ctx = &n;
    assert_int_equal(cw_node_create(&n.node[0], &o), CW_OK);
    n.refuse[0] = CW_EFULL;
    put(&n, 0, "k", "1", "0:1");
    put(&n, 0, "k", "2", "0:2");
    cw_node_stats before, after;
    cw_node_get_stats(n.node[0], &before);
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_node_put(n.node[0], "k", 1, "3", 1, &c), CW_EFULL);
    assert_int_equal(cw_vclock_size(&c), 0);
    cw_node_get_stats(n.node[0], &after);
    assert_memory_equal(&before, &after, sizeof before);
    expect_read(&n, 0, "k", "2", "0:2");
    n.refuse[0] = 0;
    assert_int_equal(cw_node_flush(n.node[0], NULL), CW_OK);
    put(&n, 0, "k", "3", "0:3");
    for (size_t k = 0; k < n.len[1]; k++)
        deliver(&n, 1, k, NULL);
    expect_read(&n, 1, "k", "3", "0:3");
    /* A node destroyed with writes still unsent releases them (ASan checks). */
    n.refuse[0] = CW_EFULL;
    put(&n, 0, "k", "4", "0:4");
    cw_vclock_destroy(&c);
    net_close(&n);
}

static void test_siblings_then_resolving_write(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "cart", "apple", "0:1");
    put(&n, 1, "cart", "pear", "1:1");
    for (cw_node_id i = 0; i < 3; i++)
        for (size_t k = 0; k < n.len[i]; k++)
            deliver(&n, i, k, NULL);
    for (cw_node_id i = 0; i < 3; i++) {
        cw_read r;
        cw_read_init(&r);
        assert_int_equal(cw_node_get(n.node[i], "cart", 4, &r), CW_OK);
        assert_int_equal(r.count, 2);
        assert_int_equal(cw_vclock_compare(&r.versions[0].clock, &r.versions[1].clock), CW_CONCURRENT);
        cw_read_destroy(&r);
    }
    cw_node_stats st;
    cw_node_get_stats(n.node[2], &st);
    assert_int_equal(st.conflicts, 1);
    /* A write after reading both replaces them everywhere. */
    size_t before = n.len[1];
    put(&n, 2, "cart", "apple+pear", "0:1,1:1,2:1");
    deliver(&n, 0, n.len[0] - 1, NULL);
    deliver(&n, 1, before, NULL);
    for (cw_node_id i = 0; i < 3; i++)
        expect_read(&n, i, "cart", "apple+pear", "0:1,1:1,2:1");
    net_close(&n);
}

static void converge_concurrent(cw_conflict_policy policy, cw_merge_fn merge, const char *expect,
                                const char *expect_clock_text)
{
    net n;
    net_open(&n, 2, policy, 0, merge);
    n.wall += 5;
    put(&n, 0, "k", "from0", "0:1");
    n.wall -= 5; /* node1's write is older by wall time */
    put(&n, 1, "k", "from1", "1:1");
    deliver(&n, 0, 0, NULL);
    deliver(&n, 1, 0, NULL);
    for (cw_node_id i = 0; i < 2; i++)
        expect_read(&n, i, "k", expect, expect_clock_text);
    cw_node_stats st;
    cw_node_get_stats(n.node[0], &st);
    assert_int_equal(st.conflicts, 1);
    net_close(&n);
}

static int concat_merge(void *ctx, const cw_value_version *v, size_t count, void **out, size_t *len)
{
    (void)ctx;
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += v[i].value_len + 1;
    char *s = malloc(total);
    if (!s)
        return CW_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        memcpy(s + at, v[i].value, v[i].value_len);
        at += v[i].value_len;
        s[at++] = '|';
    }
    *out = s;
    *len = at - 1;
    return CW_OK;
}

static void test_policies_converge(void **state)
{
    (void)state;
    /* Last writer wins: the greater HLC timestamp, node0's, on both nodes. */
    converge_concurrent(CW_LAST_WRITER_WINS, NULL, "from0", "0:1");
    /* Merge callback: siblings in (timestamp, origin) order, merged clock. */
    converge_concurrent(CW_MERGE_CALLBACK, concat_merge, "from1|from0", "0:1,1:1");
}

/* What merge_results' callback answers, by the test's choice. */
static enum {
    MERGE_PICK_FIRST, MERGE_PICK_LAST, MERGE_PICK_PREFIX, MERGE_POSITIVE, MERGE_NULL_WITH_LENGTH,
    MERGE_PAST_SIBLING, MERGE_INTO_SIBLING, MERGE_ERROR, MERGE_EMPTY
} merge_mode;

static int mode_merge(void *ctx, const cw_value_version *v, size_t count, void **out, size_t *len)
{
    (void)ctx;
    switch (merge_mode) {
    case MERGE_PICK_FIRST: *out = v[0].value; *len = v[0].value_len; return CW_OK;
    case MERGE_PICK_LAST: *out = v[count - 1].value; *len = v[count - 1].value_len; return CW_OK;
    case MERGE_PICK_PREFIX: *out = v[0].value; *len = 3; return CW_OK;
    case MERGE_POSITIVE: return 7;
    case MERGE_NULL_WITH_LENGTH: *out = NULL; *len = 5; return CW_OK;
    case MERGE_PAST_SIBLING: *out = v[0].value; *len = v[0].value_len + 1; return CW_OK;
    case MERGE_INTO_SIBLING: *out = (char *)v[0].value + 1; *len = 2; return CW_OK;
    case MERGE_ERROR: *out = v[0].value; *len = 1; return CW_ENOMEM; /* left in *out: not taken */
    case MERGE_EMPTY: *out = NULL; *len = 0; return CW_OK;
    }
    return CW_EINVAL;
}

/* A merge that picks a sibling hands back the read's own copy of its value:
 * the read keeps it (no double free); a result that breaks the callback's
 * contract fails the read with CW_EINVAL, leaves the caller's read as it
 * was, and changes nothing at the node. */
static void test_merge_callback_results(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_MERGE_CALLBACK, 0, mode_merge);
    n.wall += 5;
    put(&n, 0, "k", "from0", "0:1");
    n.wall -= 5;
    put(&n, 1, "k", "from1", "1:1");
    deliver(&n, 0, 0, NULL);
    deliver(&n, 1, 0, NULL);
    merge_mode = MERGE_PICK_FIRST;
    expect_read(&n, 0, "k", "from1", "0:1,1:1"); /* siblings in (timestamp, origin) order */
    merge_mode = MERGE_PICK_LAST;
    expect_read(&n, 1, "k", "from0", "0:1,1:1");
    merge_mode = MERGE_PICK_PREFIX;
    expect_read(&n, 0, "k", "fro", "0:1,1:1");
    merge_mode = MERGE_EMPTY;
    expect_read(&n, 0, "k", "", "0:1,1:1");

    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_put(n.node[0], "other", 5, "v", 1, NULL), CW_OK);
    assert_int_equal(cw_node_get(n.node[0], "other", 5, &r), CW_OK);
    int bad[] = {MERGE_POSITIVE, MERGE_NULL_WITH_LENGTH, MERGE_PAST_SIBLING, MERGE_INTO_SIBLING, MERGE_ERROR};
    int want[] = {CW_EINVAL, CW_EINVAL, CW_EINVAL, CW_EINVAL, CW_ENOMEM};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        merge_mode = bad[i];
        assert_int_equal(cw_node_get(n.node[0], "k", 1, &r), want[i]);
        assert_int_equal(r.count, 1); /* the read of "other", untouched */
        assert_int_equal(r.versions[0].value_len, 1);
        assert_memory_equal(r.versions[0].value, "v", 1);
    }
    cw_read_destroy(&r);
    merge_mode = MERGE_PICK_LAST;
    expect_read(&n, 0, "k", "from0", "0:1,1:1"); /* the node's siblings as they were */
    net_close(&n);
}

static void test_binary_keys_limits_and_bad_arguments(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 0, NULL);
    const char key[] = {'a', 0, 'b'};
    assert_int_equal(cw_node_put(n.node[0], key, 3, "", 0, NULL), CW_OK); /* empty value */
    assert_int_equal(cw_node_put(n.node[0], "a", 1, "\0\0", 2, NULL), CW_OK);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n.node[0], key, 3, &r), CW_OK);
    assert_int_equal(r.versions[0].value_len, 0);
    assert_int_equal(cw_node_get(n.node[0], "a", 1, &r), CW_OK);
    assert_int_equal(r.versions[0].value_len, 2);
    assert_int_equal(cw_node_get(n.node[0], "ab", 2, &r), CW_ENOTFOUND);
    /* Not found is an answer, not a failure: no version, and an empty
     * context (a write with it replaces nothing). */
    assert_int_equal(r.count, 0);
    assert_int_equal(cw_vclock_size(&r.context), 0);
    cw_read_destroy(&r);

    char *big = calloc(1, CW_NODE_DEFAULT_MAX_VALUE_LEN + 1);
    assert_int_equal(cw_node_put(n.node[0], big, CW_NODE_DEFAULT_MAX_KEY_LEN + 1, "v", 1, NULL), CW_ELIMIT);
    assert_int_equal(cw_node_put(n.node[0], "k", 1, big, CW_NODE_DEFAULT_MAX_VALUE_LEN + 1, NULL), CW_ELIMIT);
    free(big);
    assert_int_equal(cw_node_put(n.node[0], NULL, 1, "v", 1, NULL), CW_EINVAL);
    expect_clock(&n, 0, "0:2");
    /* A node does not take its own messages, nor other group sizes. */
    assert_int_equal(cw_node_receive(n.node[0], queued(&n, 1, 0), NULL, NULL), CW_EINVAL);
    uint64_t c3[3] = {1, 0, 0};
    cw_msg *m;
    cw_hlc_timestamp ts = {1, 0, 0};
    assert_int_equal(cw_msg_create(&m, 0, &ts, c3, 3, "k", 1, "v", 1), CW_OK);
    assert_int_equal(cw_node_receive(n.node[1], m, NULL, NULL), CW_EINVAL);
    cw_msg_unref(m);
    uint64_t c2[2] = {0, 1};
    assert_int_equal(cw_msg_create(&m, 1, &ts, c2, 2, "k", 1, "v", 1), CW_OK);
    assert_int_equal(cw_node_receive(n.node[1], m, NULL, NULL), CW_EINVAL); /* from itself */
    cw_msg_unref(m);
    net_close(&n);

    cw_node *node;
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 2; /* no send callback */
    assert_int_equal(cw_node_create(&node, &o), CW_EINVAL);
    o.nodes = 1;
    o.self = 1;
    assert_int_equal(cw_node_create(&node, &o), CW_EINVAL);
    o.self = 0;
    o.policy = CW_MERGE_CALLBACK; /* no merge callback */
    assert_int_equal(cw_node_create(&node, &o), CW_EINVAL);
    o.policy = (cw_conflict_policy)7;
    assert_int_equal(cw_node_create(&node, &o), CW_EINVAL);
    o.policy = CW_KEEP_SIBLINGS;
    assert_int_equal(cw_node_create(&node, &o), CW_OK); /* one node needs no network */
    assert_int_equal(cw_node_put(node, "k", 1, "v", 1, NULL), CW_OK);
    cw_node_destroy(node);
    assert_null(cw_node_counters(NULL));
    o.max_unsent = 0; /* a refused write must be kept */
    assert_int_equal(cw_node_create(&node, &o), CW_EINVAL);
    cw_node_destroy(NULL);
}

/* A write whose timestamp is beyond the receiver's drift bound (its origin's
 * wall clock jumped ahead and came back) was accepted at its origin: it is
 * applied and counted, and the receiver's HLC follows it, as last-writer-wins
 * needs (a write made after it must beat it everywhere). The bound holds
 * where writes are made: a put whose timestamp would run more than the bound
 * ahead of its node's wall clock is refused with CW_EDRIFT and changes
 * nothing, at the origin after its wall clock came back and at a receiver
 * whose HLC followed the anomaly, until their wall clocks catch up. */
static void test_drift_applied_and_bounded_at_origin(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_LAST_WRITER_WINS, 0, NULL);
    uint64_t base = n.wall, ahead = CW_HLC_DEFAULT_MAX_DRIFT_MS + 1000;
    n.wall = base + ahead; /* node0's clock runs far ahead */
    put(&n, 0, "k", "v", "0:1");
    n.wall = base;
    assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DELIVERED);
    expect_clock(&n, 1, "0:1");
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n.node[1], &st), CW_OK);
    assert_int_equal(st.clock_anomalies, 1);
    assert_int_equal(st.delivered, 1);
    /* Both HLCs are `ahead` past the wall clock: no write may be made. */
    assert_int_equal(cw_node_put(n.node[1], "k", 1, "y", 1, NULL), CW_EDRIFT);
    assert_int_equal(cw_node_put(n.node[0], "k", 1, "x", 1, NULL), CW_EDRIFT);
    expect_clock(&n, 0, "0:1");
    expect_clock(&n, 1, "0:1");
    assert_int_equal(n.len[1], 1); /* nothing sent */
    assert_int_equal(n.len[0], 0);
    n.wall = base + ahead - CW_HLC_DEFAULT_MAX_DRIFT_MS; /* within the bound again */
    put(&n, 1, "k", "y", "0:1,1:1");
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n.node[1], "k", 1, &r), CW_OK);
    assert_true(r.versions[0].timestamp.wall_ms >= base + ahead); /* after the write it follows */
    cw_read_destroy(&r);
    put(&n, 0, "k", "x", "0:2");
    assert_int_equal(deliver(&n, 1, 1, NULL), CW_RECEIVE_DELIVERED);
    assert_int_equal(deliver(&n, 0, 0, NULL), CW_RECEIVE_DELIVERED);
    net_close(&n);
}

/* With siblings nothing converges by timestamps, so one write stamped far
 * ahead (its origin's clock is years wrong) must not stop every other node's
 * writes: a receiver applies it and counts it, and its HLC follows it only up
 * to the drift bound, so its own puts go on at once, stamped within the
 * bound. A later write still replaces it everywhere by its clock, and a node
 * that installs a state holding it treats it the same way. */
static void test_drift_with_siblings_stops_no_put(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    uint64_t base = n.wall, ahead = UINT64_C(1000) * 3600 * 24 * 365 * 100; /* a century */
    n.wall = base + ahead;
    put(&n, 0, "k", "v", "0:1");
    n.wall = base;
    cw_msg *w0 = cw_msg_ref(queued(&n, 1, 0));
    assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DELIVERED);
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n.node[1], &st), CW_OK);
    assert_int_equal(st.clock_anomalies, 1);
    put(&n, 1, "k", "y", "0:1,1:1");
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n.node[1], "k", 1, &r), CW_OK);
    assert_int_equal(r.count, 1); /* y replaced v: its clock covers it */
    assert_true(r.versions[0].timestamp.wall_ms <= base + CW_HLC_DEFAULT_MAX_DRIFT_MS);
    assert_true(r.versions[0].timestamp.wall_ms >= base);
    cw_read_destroy(&r);
    /* The origin, its clock back, is where the bound holds: its HLC is its
     * own, a century ahead. */
    assert_int_equal(cw_node_put(n.node[0], "k", 1, "x", 1, NULL), CW_EDRIFT);
    assert_int_equal(deliver(&n, 0, 0, NULL), CW_RECEIVE_DELIVERED); /* y */
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n.node[0], "k", 1, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_memory_equal(r.versions[0].value, "y", 1);
    cw_read_destroy(&r);
    /* Node 2 takes node 0's first state instead of applying the write. */
    uint64_t clock[3] = {1, 0, 0};
    assert_int_equal(cw_node_install(n.node[2], clock, 3, &w0, 1), CW_OK);
    assert_int_equal(cw_node_get_stats(n.node[2], &st), CW_OK);
    assert_int_equal(st.clock_anomalies, 1);
    put(&n, 2, "k", "z", "0:1,2:1");
    cw_msg_unref(w0);
    net_close(&n);
}

/* Skewed clocks under last-writer-wins: node1 runs 100 s ahead (beyond the
 * bound), node2 50 ms ahead. node1's w1 is applied at node0, whose later
 * overwrite w2 must beat w1 everywhere; node2's w3 is concurrent with both.
 * Two replicas that receive the three writes in two different causal orders
 * end with the same winner (they diverged when receivers did not follow an
 * anomalous timestamp). */
static uint64_t skew[4];
static uint64_t skewed_wall(void *ctx) { return 1700000000000u + *(const uint64_t *)ctx; }
static cw_msg *sent_last[4];
static int keep_last(void *ctx, cw_msg *m)
{
    cw_msg **slot = ctx;
    if (*slot)
        cw_msg_unref(*slot);
    *slot = cw_msg_ref(m);
    return CW_OK;
}

static void test_lww_converges_with_skewed_clocks(void **state)
{
    (void)state;
    cw_node *node[5];
    for (int i = 0; i < 5; i++) {
        int self = i < 4 ? i : 3; /* node[4]: a second copy of node 3 */
        cw_node_options o;
        cw_node_options_init(&o);
        o.nodes = 4;
        o.self = (cw_node_id)self;
        o.policy = CW_LAST_WRITER_WINS;
        o.send = keep_last;
        o.send_ctx = &sent_last[self];
        o.wall_clock = skewed_wall;
        o.wall_ctx = &skew[self];
        assert_int_equal(cw_node_create(&node[i], &o), CW_OK);
    }
    skew[1] = 100000;
    skew[2] = 50;
    assert_int_equal(cw_node_put(node[1], "k", 1, "w1", 2, NULL), CW_OK);
    cw_msg *w1 = cw_msg_ref(sent_last[1]);
    assert_int_equal(cw_node_receive(node[0], w1, NULL, NULL), CW_OK);
    /* node0 followed w1's timestamp: it writes once its wall clock allows. */
    assert_int_equal(cw_node_put(node[0], "k", 1, "w2", 2, NULL), CW_EDRIFT);
    skew[0] = 100000 - CW_HLC_DEFAULT_MAX_DRIFT_MS;
    assert_int_equal(cw_node_put(node[0], "k", 1, "w2", 2, NULL), CW_OK);
    cw_msg *w2 = cw_msg_ref(sent_last[0]);
    assert_int_equal(cw_node_put(node[2], "k", 1, "w3", 2, NULL), CW_OK);
    cw_msg *w3 = cw_msg_ref(sent_last[2]);
    cw_msg *order_a[3] = {w1, w3, w2}, *order_b[3] = {w1, w2, w3};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cw_node_receive(node[3], order_a[i], NULL, NULL), CW_OK);
        assert_int_equal(cw_node_receive(node[4], order_b[i], NULL, NULL), CW_OK);
    }
    assert_int_equal(cw_node_receive(node[0], w3, NULL, NULL), CW_OK);
    assert_int_equal(cw_node_receive(node[1], w2, NULL, NULL), CW_OK);
    assert_int_equal(cw_node_receive(node[1], w3, NULL, NULL), CW_OK);
    assert_int_equal(cw_node_receive(node[2], w1, NULL, NULL), CW_OK);
    assert_int_equal(cw_node_receive(node[2], w2, NULL, NULL), CW_OK);
    for (int i = 0; i < 5; i++)
        expect_read_at(node[i], "k", "w2"); /* w2 beats w1 (after it) and w3 (later stamp) */
    cw_msg_unref(w1);
    cw_msg_unref(w2);
    cw_msg_unref(w3);
    for (int i = 0; i < 5; i++) {
        assert_true(cw__node_check(node[i]));
        cw_node_destroy(node[i]);
    }
    for (int i = 0; i < 4; i++) {
        cw_msg_unref(sent_last[i]);
        sent_last[i] = NULL;
        skew[i] = 0;
    }
}

/* on_apply and send must not change the node they are called from: such a
 * call returns CW_EINVAL and changes nothing (a put from on_apply used to
 * apply a released write twice and overrun the node's work stack). */
static cw_node *reentered;
static int reentry_rc = 1;
static void put_from_apply(void *ctx, const cw_msg *m)
{
    (void)ctx;
    (void)m;
    if (reentered)
        reentry_rc = cw_node_put(reentered, "t", 1, "x", 1, NULL);
}

static void test_callbacks_cannot_reenter(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "k", "v", "0:1");
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 2;
    o.self = 1;
    o.send = keep_last;
    o.send_ctx = &sent_last[1];
    o.on_apply = put_from_apply;
    cw_node *b;
    assert_int_equal(cw_node_create(&b, &o), CW_OK);
    reentered = b;
    assert_int_equal(cw_node_receive(b, queued(&n, 1, 0), NULL, NULL), CW_OK);
    assert_int_equal(reentry_rc, CW_EINVAL);
    reentered = NULL;
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(b, &st), CW_OK);
    assert_int_equal(st.writes, 0);
    assert_int_equal(st.delivered, 1);
    assert_true(cw__node_check(b));
    cw_node_destroy(b);
    cw_msg_unref(sent_last[1]);
    sent_last[1] = NULL;
    net_close(&n);
}

/* The walks lend the caller's function what the node holds; a call from it
 * that would change the node returns CW_EINVAL, so the walk neither reads
 * freed versions nor skips keys (a delete inside each_key used to free the
 * versions it was handing out, and a delete of every visited key left 17 of
 * 100 keys unvisited). */
typedef struct walker {
    cw_node *node;
    cw_msg *missing; /* for each_pending: the write the buffered one waits on */
    size_t visited;
    int rc[4];
} walker;

static void change_from_walk(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions, size_t count)
{
    walker *w = ctx;
    w->visited++;
    w->rc[0] = cw_node_delete(w->node, key, key_len, NULL, NULL);
    w->rc[1] = cw_node_put(w->node, key, key_len, "new", 3, NULL);
    w->rc[2] = cw_node_tick(w->node, 1, NULL);
    cw_node_destroy(w->node); /* does nothing here */
    for (size_t i = 0; i < count; i++) { /* still what the node holds */
        size_t len = 0;
        assert_memory_equal(cw_msg_value(versions[i], &len), "v", 1);
        assert_int_equal(len, 1);
    }
}

static void receive_from_walk(void *ctx, const cw_msg *m)
{
    (void)m;
    walker *w = ctx;
    w->visited++;
    w->rc[3] = cw_node_receive(w->node, w->missing, NULL, NULL);
}

static int merge_changing(void *ctx, const cw_value_version *siblings, size_t count, void **value_out,
                          size_t *len_out)
{
    (void)siblings, (void)count;
    walker *w = ctx;
    w->rc[1] = cw_node_put(w->node, "other", 5, "v", 1, NULL);
    return tu_merged_m(value_out, len_out);
}

static void test_walks_cannot_change_the_node(void **state)
{
    (void)state;
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 1;
    cw_node *a;
    assert_int_equal(cw_node_create(&a, &o), CW_OK);
    char key[8];
    for (int i = 0; i < 100; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(cw_node_put(a, key, (size_t)len, "v", 1, NULL), CW_OK);
    }
    walker w = {.node = a};
    cw_node_each_key(a, change_from_walk, &w);
    assert_int_equal(w.visited, 100);
    assert_int_equal(w.rc[0], CW_EINVAL);
    assert_int_equal(w.rc[1], CW_EINVAL);
    assert_int_equal(w.rc[2], CW_EINVAL);
    w = (walker){.node = a};
    assert_int_equal(cw_node_key_versions(a, "k7", 2, change_from_walk, &w), CW_OK);
    assert_int_equal(w.visited, 1);
    assert_int_equal(w.rc[1], CW_EINVAL);
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(a, &st), CW_OK);
    assert_int_equal(st.writes, 100); /* nothing the walks tried was made */
    assert_true(cw__node_check(a));
    cw_node_each_key(NULL, change_from_walk, &w); /* ignored */
    cw_node_each_key(a, NULL, &w);
    cw_node_each_pending(NULL, receive_from_walk, &w);
    cw_node_destroy(a);

    /* each_pending: node 1 holds node 0's second write, waiting on the first. */
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "x", "1", "0:1");
    put(&n, 0, "x", "2", "0:2");
    deliver(&n, 1, 1, NULL);
    w = (walker){.node = n.node[1], .missing = queued(&n, 1, 0)};
    cw_node_each_pending(n.node[1], receive_from_walk, &w);
    assert_int_equal(w.visited, 1);
    assert_int_equal(w.rc[3], CW_EINVAL);
    deliver(&n, 1, 0, NULL); /* outside the walk: both apply */
    expect_read(&n, 1, "x", "2", "0:2");
    net_close(&n);

    /* A read's merge function. */
    cw_node_options_init(&o);
    o.nodes = 1;
    o.policy = CW_MERGE_CALLBACK;
    o.merge = merge_changing;
    o.merge_ctx = &w;
    assert_int_equal(cw_node_create(&a, &o), CW_OK);
    w = (walker){.node = a};
    cw_vclock none;
    cw_vclock_init(&none);
    assert_int_equal(cw_node_put_ctx(a, "k", 1, "a", 1, &none, NULL), CW_OK);
    assert_int_equal(cw_node_put_ctx(a, "k", 1, "b", 1, &none, NULL), CW_OK);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(a, "k", 1, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(w.rc[1], CW_EINVAL);
    cw_read_destroy(&r);
    cw_vclock_destroy(&none);
    cw_node_destroy(a);
}

/* Times near 2^64 are refused, not wrapped: a tick at 2^64 - 16 used to
 * make every next tick due at once (a pull and a report on every tick). */
static int count_sent_to(void *ctx, uint32_t to, cw_msg *m)
{
    (void)to, (void)m;
    ++*(uint64_t *)ctx;
    return 0;
}

static void test_times_that_would_wrap_are_refused(void **state)
{
    (void)state;
    uint64_t sent = 0;
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 2;
    o.send = keep_last;
    o.send_ctx = &sent_last[0];
    o.send_to = count_sent_to;
    o.send_to_ctx = &sent;
    cw_node *a = NULL;
    o.recovery_timeout_ns = CW_NODE_MAX_INTERVAL_NS + 1;
    assert_int_equal(cw_node_create(&a, &o), CW_EINVAL);
    o.recovery_timeout_ns = 0;
    o.report_interval_ns = UINT64_MAX;
    assert_int_equal(cw_node_create(&a, &o), CW_EINVAL);
    o.report_interval_ns = 0;
    o.stability_interval_ns = CW_NODE_MAX_INTERVAL_NS + 1;
    assert_int_equal(cw_node_create(&a, &o), CW_EINVAL);
    o.stability_interval_ns = CW_NODE_MAX_INTERVAL_NS;
    o.recovery_timeout_ns = CW_NODE_MAX_INTERVAL_NS;
    o.report_interval_ns = CW_NODE_MAX_INTERVAL_NS;
    assert_int_equal(cw_node_create(&a, &o), CW_OK);
    uint64_t next = 0;
    assert_int_equal(cw_node_tick(a, UINT64_MAX - 16, &next), CW_EINVAL);
    assert_int_equal(cw_node_tick(a, CW_NODE_MAX_TIME_NS + 1, &next), CW_EINVAL);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cw_node_tick(a, CW_NODE_MAX_TIME_NS, &next), CW_OK);
        assert_true(next > CW_NODE_MAX_TIME_NS); /* later, not wrapped to the past */
    }
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(a, &st), CW_OK);
    assert_true(st.reports <= 1);
    assert_true(sent <= 1);
    cw_node_destroy(a);
}

/* A message built by hand, as a hostile or broken peer could send it. */
static cw_msg *forged(cw_node_id origin, const uint64_t *clock, uint32_t nodes)
{
    cw_hlc_timestamp ts = {1700000000000u, 0, origin};
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, origin, &ts, clock, nodes, "k", 1, "v", 1), CW_OK);
    return m;
}

/* Sequence numbers from the wire far ahead of the receiver (up to 2^64 - 1)
 * are refused as backpressure at once, whatever max_buffered is: no ring
 * capacity or allocation size is computed from them (a doubling loop used
 * to wrap to 0 and spin forever). */
static void test_far_ahead_seq_is_refused_at_once(void **state)
{
    (void)state;
    const uint64_t seqs[] = {UINT64_MAX, UINT64_MAX - 1, (UINT64_C(1) << 63) + 1, UINT64_C(1) << 63,
                             UINT64_C(1) << 41, 4u * CW_NODE_DEFAULT_MAX_BUFFERED + 64};
    const size_t limits[] = {1, CW_NODE_DEFAULT_MAX_BUFFERED, CW_NODE_MAX_BUFFERED_LIMIT};
    for (size_t l = 0; l < sizeof limits / sizeof *limits; l++) {
        net n;
        net_open(&n, 2, CW_KEEP_SIBLINGS, limits[l], NULL);
        for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++) {
            if (limits[l] == CW_NODE_MAX_BUFFERED_LIMIT && seqs[i] < (UINT64_C(1) << 40))
                continue; /* within that budget: it would really allocate */
            uint64_t clock[2] = {seqs[i], 0};
            cw_msg *m = forged(0, clock, 2);
            cw_receive_result res = CW_RECEIVE_DUPLICATE;
            assert_int_equal(cw_node_receive(n.node[1], m, &res, NULL), CW_EFULL);
            assert_int_equal(res, CW_RECEIVE_DUPLICATE); /* untouched */
            cw_msg_unref(m);
        }
        assert_int_equal(stat_buffered(&n, 1), 0);
        put(&n, 0, "k", "v", "0:1"); /* the real write 1 still delivers */
        assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DELIVERED);
        net_close(&n);
    }
    cw_node_options o;
    cw_node_options_init(&o);
    o.max_buffered = CW_NODE_MAX_BUFFERED_LIMIT + 1;
    cw_node *node;
    assert_int_equal(cw_node_create(&node, &o), CW_EINVAL);
}

/* A peer's write that depends on a write of ours we have not made yet (the
 * peer knew more of us than we do, as after we lost our state) waits on our
 * own counter; our own put moves that counter and must release it, exactly
 * as a delivery would. */
static void test_write_waiting_on_own_counter_is_released(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    uint64_t clock[3] = {1, 2, 0}; /* node0's write 1, after node1's writes 1 and 2 */
    cw_msg *m = forged(0, clock, 3);
    cw_receive_result res;
    assert_int_equal(cw_node_receive(n.node[1], m, &res, NULL), CW_OK);
    assert_int_equal(res, CW_RECEIVE_BUFFERED);
    put(&n, 1, "a", "1", "1:1");
    assert_int_equal(stat_buffered(&n, 1), 1); /* still waits for 1:2 */
    put(&n, 1, "b", "2", "1:2");               /* its own put releases it */
    assert_int_equal(stat_buffered(&n, 1), 0);
    expect_clock(&n, 1, "0:1,1:2");
    expect_read(&n, 1, "k", "v", "0:1,1:2");
    assert_true(cw__node_check(n.node[1]));
    cw_msg_unref(m);
    net_close(&n);
}

/* cw_node_seen counts what the node holds of an origin: applied, or
 * waiting in its buffer; not a seq another write's clock only names. */
static void test_seen_counts_what_is_held(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
    uint64_t c3[3] = {3, 0, 0}, c1[3] = {0, 0, 1}, named[3] = {7, 0, 2};
    cw_msg *third = forged(0, c3, 3), *first = forged(2, c1, 3), *after = forged(2, named, 3);
    cw_receive_result res;
    assert_int_equal(cw_node_receive(n.node[1], third, &res, NULL), CW_OK);
    assert_int_equal(res, CW_RECEIVE_BUFFERED);
    assert_int_equal(cw_node_seen(n.node[1], 0), 3);
    assert_int_equal(cw_node_receive(n.node[1], first, &res, NULL), CW_OK);
    assert_int_equal(cw_node_receive(n.node[1], after, &res, NULL), CW_OK); /* waits on 0:7 */
    assert_int_equal(res, CW_RECEIVE_BUFFERED);
    assert_int_equal(cw_node_seen(n.node[1], 0), 3); /* 0:7 is only named */
    assert_int_equal(cw_node_seen(n.node[1], 2), 2);
    cw_msg_unref(third);
    cw_msg_unref(first);
    cw_msg_unref(after);
    net_close(&n);
}

/* The empty key may be passed as NULL (key_len 0), as the docs allow. */
static void test_empty_key_as_null(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 0, NULL);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n.node[0], NULL, 0, &r), CW_ENOTFOUND);
    assert_int_equal(cw_node_put(n.node[0], NULL, 0, "v", 1, NULL), CW_OK);
    assert_int_equal(cw_node_put(n.node[0], NULL, 0, NULL, 0, NULL), CW_OK);
    assert_int_equal(cw_node_get(n.node[0], NULL, 0, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.versions[0].value_len, 0);
    assert_int_equal(cw_node_get(n.node[0], "", 0, &r), CW_OK);
    assert_int_equal(deliver(&n, 1, 0, NULL), CW_RECEIVE_DELIVERED);
    assert_int_equal(deliver(&n, 1, 1, NULL), CW_RECEIVE_DELIVERED);
    assert_int_equal(cw_node_get(n.node[1], NULL, 0, &r), CW_OK);
    assert_int_equal(r.count, 1);
    cw_read_destroy(&r);
    net_close(&n);
}

/* Every allocation of put and receive is made to fail in turn: the node must
 * answer CW_ENOMEM and be exactly as it was. */
static void test_enomem_changes_nothing(void **state)
{
    (void)state;
    for (int op = 0; op < 3; op++) {
        for (long k = 0;; k++) {
            net n;
            net_open(&n, 3, CW_KEEP_SIBLINGS, 0, NULL);
            put(&n, 0, "x", "1", "0:1");
            put(&n, 1, "y", "1", "1:1");
            put(&n, 0, "x", "2", "0:2");
            cw_node_stats before, after;
            cw_node_get_stats(n.node[2], &before);
            int rc;
            tu_fail_alloc_after(k);
            if (op == 0)
                rc = cw_node_put(n.node[2], "z", 1, "v", 1, NULL);
            else if (op == 1)
                rc = cw_node_receive(n.node[2], queued(&n, 2, 0), NULL, NULL); /* deliverable */
            else
                rc = cw_node_receive(n.node[2], queued(&n, 2, 2), NULL, NULL); /* must wait */
            tu_fail_alloc_off();
            cw_node_get_stats(n.node[2], &after);
            if (rc == CW_OK) {
                net_close(&n);
                break;
            }
            assert_int_equal(rc, CW_ENOMEM);
            /* A refused receive is counted, and changes nothing else. */
            assert_int_equal(after.rejected_memory, before.rejected_memory + (op > 0));
            before.rejected_memory = after.rejected_memory;
            assert_memory_equal(&before, &after, sizeof before);
            expect_clock(&n, 2, "");
            assert_true(cw__node_check(n.node[2]));
            net_close(&n);
            assert_true(k < 20);
        }
    }
}

/* A put that fails after it has made room in clock_out (its HLC too far
 * ahead, or no memory for its message) leaves clock_out as the caller gave
 * it: it had grown the clock's block without keeping its entries, so a
 * one-entry clock came back with its size and a garbage id and counter. */
static void test_failed_put_leaves_clock_out_unchanged(void **state)
{
    (void)state;
    net n;
    net_open(&n, 8, CW_KEEP_SIBLINGS, 0, NULL);
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_vclock_set(&c, 3, 42), CW_OK); /* room for 4 entries, fewer than 8 nodes */
    for (long k = 0;; k++) {
        tu_fail_alloc_after(k);
        int rc = cw_node_put(n.node[0], "k", 1, "v", 1, &c);
        tu_fail_alloc_off();
        if (rc == CW_OK)
            break;
        assert_int_equal(rc, CW_ENOMEM);
        assert_int_equal(c.size, 1);
        assert_int_equal(cw_vclock_get(&c, 3), 42);
        assert_true(k < 20);
    }
    cw_vclock_destroy(&c);
    assert_int_equal(cw_vclock_set(&c, 3, 42), CW_OK);
    n.wall -= CW_HLC_DEFAULT_MAX_DRIFT_MS + 1000; /* the wall clock steps back */
    assert_int_equal(cw_node_put(n.node[0], "k", 1, "v", 1, &c), CW_EDRIFT);
    assert_int_equal(c.size, 1);
    assert_int_equal(cw_vclock_get(&c, 3), 42);
    cw_vclock_destroy(&c);
    net_close(&n);
}

/* Six concurrent writes to one key: every replica keeps all six (its own and
 * five received, so the key's room grows past the one version a key holds
 * inline, twice), in (timestamp, origin) order, then one write that follows
 * them all leaves exactly one version everywhere. */
static void test_many_siblings_then_resolving_write(void **state)
{
    (void)state;
    net n;
    enum { N = 6 };
    net_open(&n, N, CW_KEEP_SIBLINGS, 0, NULL);
    for (cw_node_id i = 0; i < N; i++) {
        char value[2] = {(char)('a' + i), 0}, clock[8];
        snprintf(clock, sizeof clock, "%u:1", (unsigned)i);
        put(&n, i, "k", value, clock);
    }
    for (cw_node_id i = 0; i < N; i++)
        for (size_t k = 0; k < n.len[i]; k++)
            deliver(&n, i, k, NULL);
    for (cw_node_id i = 0; i < N; i++) {
        cw_read r;
        cw_read_init(&r);
        assert_int_equal(cw_node_get(n.node[i], "k", 1, &r), CW_OK);
        assert_int_equal(r.count, N);
        for (size_t a = 0; a < N; a++) {
            assert_int_equal(r.versions[a].value_len, 1);
            for (size_t b = a + 1; b < N; b++) {
                assert_int_equal(cw_vclock_compare(&r.versions[a].clock, &r.versions[b].clock), CW_CONCURRENT);
                int c = cw_hlc_compare(&r.versions[a].timestamp, &r.versions[b].timestamp);
                assert_true(c < 0 || (c == 0 && r.versions[a].origin < r.versions[b].origin));
            }
        }
        cw_read_destroy(&r);
        cw_node_stats st;
        cw_node_get_stats(n.node[i], &st);
        assert_int_equal(st.conflicts, N - 1);
    }
    size_t before[N];
    for (cw_node_id i = 0; i < N; i++)
        before[i] = n.len[i];
    put(&n, 3, "k", "all", "0:1,1:1,2:1,3:2,4:1,5:1");
    for (cw_node_id i = 0; i < N; i++)
        if (i != 3)
            deliver(&n, i, before[i], NULL);
    for (cw_node_id i = 0; i < N; i++)
        expect_read(&n, i, "k", "all", "0:1,1:1,2:1,3:2,4:1,5:1");
    net_close(&n);
}

/* Key x at node `at` holds exactly the first `count` of the siblings a
 * (0:1), b (1:1) and c (2:1). */
static void expect_siblings(net *n, cw_node_id at, size_t count)
{
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(n->node[at], "x", 1, &r), CW_OK);
    assert_int_equal(r.count, count);
    const char *want[3] = {"a", "b", "c"}, *clock[3] = {"0:1", "1:1", "2:1"};
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(r.versions[i].value_len, 1);
        assert_memory_equal(r.versions[i].value, want[i], 1);
        tu_assert_clock(&r.versions[i].clock, clock[i]);
    }
    cw_read_destroy(&r);
}

/* A key that holds two siblings (all the room a key has inside itself)
 * receives a third, concurrent one and must allocate room for it: when that
 * allocation fails the write is refused with CW_ENOMEM and the replica is
 * exactly as it was; the retry succeeds. */
static void test_enomem_growing_siblings(void **state)
{
    (void)state;
    for (long k = 0;; k++) {
        net n;
        net_open(&n, 4, CW_KEEP_SIBLINGS, 0, NULL);
        put(&n, 0, "x", "a", "0:1");
        put(&n, 1, "x", "b", "1:1");
        put(&n, 2, "x", "c", "2:1");
        deliver(&n, 3, 0, NULL);
        deliver(&n, 3, 1, NULL); /* node 3 holds x = a, b */
        expect_siblings(&n, 3, 2);
        cw_node_stats before, after;
        cw_node_get_stats(n.node[3], &before);
        tu_fail_alloc_after(k);
        int rc = cw_node_receive(n.node[3], queued(&n, 3, 2), NULL, NULL); /* x = c, concurrent */
        tu_fail_alloc_off();
        if (rc == CW_OK) {
            expect_siblings(&n, 3, 3);
            net_close(&n);
            assert_true(k > 0); /* growing the key allocated, and its failure was seen */
            break;
        }
        assert_int_equal(rc, CW_ENOMEM);
        cw_node_get_stats(n.node[3], &after);
        assert_int_equal(after.rejected_memory, before.rejected_memory + 1);
        before.rejected_memory = after.rejected_memory;
        assert_memory_equal(&before, &after, sizeof before);
        expect_clock(&n, 3, "0:1,1:1");
        expect_siblings(&n, 3, 2);
        assert_true(cw__node_check(n.node[3]));
        assert_int_equal(cw_node_receive(n.node[3], queued(&n, 3, 2), NULL, NULL), CW_OK); /* the retry */
        expect_clock(&n, 3, "0:1,1:1,2:1");
        expect_siblings(&n, 3, 3);
        net_close(&n);
        assert_true(k < 20);
    }
}

/* The checker notices a broken invariant (here: a clock that no longer counts
 * the applied writes). */
static void test_checker_detects_corruption(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, 0, NULL);
    put(&n, 0, "x", "1", "0:1");
    put(&n, 0, "x", "2", "0:2");
    deliver(&n, 1, 1, NULL); /* buffered */
    assert_true(cw__node_check(n.node[1]));
    uint64_t *v = (uint64_t *)(uintptr_t)cw_node_counters(n.node[1]);
    v[0] = 1; /* as if 0:1 were applied without applying it: 0:2 would be deliverable */
    assert_false(cw__node_check(n.node[1]));
    v[0] = 0;
    assert_true(cw__node_check(n.node[1]));
    net_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_003_scenario),
        cmocka_unit_test(test_receive_many_matches_single_receives),
        cmocka_unit_test(test_receive_many_stops_at_first_error),
        cmocka_unit_test(test_receive_many_batch_shares_arrival_time),
        cmocka_unit_test(test_a_long_drain_pauses_for_the_host),
        cmocka_unit_test(test_a_drain_out_of_memory_takes_no_arrival),
        cmocka_unit_test(test_duplicates_are_dropped_and_counted),
        cmocka_unit_test(test_backpressure_when_full),
        cmocka_unit_test(test_backpressure_by_bytes),
        cmocka_unit_test(test_send_refused_then_flushed),
        cmocka_unit_test(test_put_full_when_unsent_at_limit),
        cmocka_unit_test(test_siblings_then_resolving_write),
        cmocka_unit_test(test_many_siblings_then_resolving_write),
        cmocka_unit_test(test_enomem_growing_siblings),
        cmocka_unit_test(test_policies_converge),
        cmocka_unit_test(test_merge_callback_results),
        cmocka_unit_test(test_binary_keys_limits_and_bad_arguments),
        cmocka_unit_test(test_drift_applied_and_bounded_at_origin),
        cmocka_unit_test(test_drift_with_siblings_stops_no_put),
        cmocka_unit_test(test_lww_converges_with_skewed_clocks),
        cmocka_unit_test(test_callbacks_cannot_reenter),
        cmocka_unit_test(test_walks_cannot_change_the_node),
        cmocka_unit_test(test_times_that_would_wrap_are_refused),
        cmocka_unit_test(test_far_ahead_seq_is_refused_at_once),
        cmocka_unit_test(test_write_waiting_on_own_counter_is_released),
        cmocka_unit_test(test_seen_counts_what_is_held),
        cmocka_unit_test(test_empty_key_as_null),
        cmocka_unit_test(test_enomem_changes_nothing),
        cmocka_unit_test(test_failed_put_leaves_clock_out_unchanged),
        cmocka_unit_test(test_checker_detects_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
