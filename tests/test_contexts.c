/* One replica's contexts, deletes and their garbage: a context write replaces
 * exactly what its read covered (no lost update, siblings from one read),
 * deletes are tombstones that reads hide (add-wins, delete then recreate),
 * last-writer-wins and the merge callback with tombstones, the codec's
 * format 3, and tombstones leaving the store once stable. */
#include "testutil.h"
#include "msg_internal.h"
#include "node_internal.h"

/* A small network of replicas with loss recovery on: every message (writes,
 * reports, pulls, answers) queued per destination, delivered on demand. */
enum { MAXN = 4, MAXQ = 4096 };
typedef struct net {
    uint32_t nodes;
    cw_node *node[MAXN];
    cw_msg *q[MAXN][MAXQ];
    size_t len[MAXN];
    uint64_t ns;
} net;

typedef struct peer {
    net *n;
    cw_node_id id;
} peer;

static peer peers[MAXN];

static void enqueue(net *n, uint32_t to, cw_msg *m)
{
    assert_true(n->len[to] < MAXQ);
    n->q[to][n->len[to]++] = cw_msg_ref(m);
}

static int on_send(void *ctx, cw_msg *m)
{
    peer *p = ctx;
    for (uint32_t to = 0; to < p->n->nodes; to++)
        if (to != p->id)
            enqueue(p->n, to, m);
    return CW_OK;
}

static int on_send_to(void *ctx, uint32_t to, cw_msg *m)
{
    peer *p = ctx;
    if (to != CW_NODE_ALL) {
        enqueue(p->n, to, m);
        return CW_OK;
    }
    return on_send(ctx, m);
}

static uint64_t net_ns(void *ctx) { return ((net *)ctx)->ns; }

/* max_siblings 0: the default. */
static void net_open_bounded(net *n, uint32_t nodes, cw_conflict_policy policy, cw_merge_fn merge,
                             size_t max_siblings)
{
    memset(n, 0, sizeof *n);
    n->nodes = nodes;
    for (uint32_t i = 0; i < nodes; i++) {
        peers[i] = (peer){n, (cw_node_id)i};
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = (cw_node_id)i;
        o.nodes = nodes;
        o.policy = policy;
        o.merge = merge;
        o.send = on_send;
        o.send_to = on_send_to;
        o.send_ctx = o.send_to_ctx = &peers[i];
        o.ns_clock = net_ns;
        o.ns_ctx = n;
        o.report_interval_ns = 1000000;
        o.max_siblings = max_siblings;
        assert_int_equal(cw_node_create(&n->node[i], &o), CW_OK);
    }
}

static void net_open(net *n, uint32_t nodes, cw_conflict_policy policy, cw_merge_fn merge)
{
    net_open_bounded(n, nodes, policy, merge, 0);
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

/* Delivers everything queued for node `to`, in order. */
static void deliver_all(net *n, uint32_t to)
{
    while (n->len[to]) {
        size_t len = n->len[to];
        cw_msg *batch[MAXQ];
        memcpy(batch, n->q[to], len * sizeof *batch);
        n->len[to] = 0; /* what these deliveries send queues anew */
        for (size_t k = 0; k < len; k++) {
            assert_int_equal(cw_node_receive(n->node[to], batch[k], NULL, NULL), CW_OK);
            cw_msg_unref(batch[k]);
        }
        assert_true(cw__node_check(n->node[to]));
    }
}

static void settle(net *n)
{
    for (int round = 0; round < 4; round++)
        for (uint32_t i = 0; i < n->nodes; i++)
            deliver_all(n, i);
}

/* Time passes: every node ticks (reports, stability rounds), then every
 * message is delivered. */
static void run_for(net *n, uint64_t ns)
{
    for (uint64_t end = n->ns + ns; n->ns < end; n->ns += 1000000) {
        for (uint32_t i = 0; i < n->nodes; i++)
            assert_int_equal(cw_node_tick(n->node[i], n->ns, NULL), CW_OK);
        settle(n);
    }
}

static void put_ctx(net *n, cw_node_id at, const char *key, const char *value, const cw_vclock *ctx)
{
    assert_int_equal(cw_node_put_ctx(n->node[at], key, strlen(key), value, strlen(value), ctx, NULL), CW_OK);
}

/* Reads key at `at` into r (CW_OK or CW_ENOTFOUND expected as rc). */
static void read_key(net *n, cw_node_id at, const char *key, cw_read *r, int rc)
{
    assert_int_equal(cw_node_get(n->node[at], key, strlen(key), r), rc);
}

/* Whether a sorts after b, bytewise (a prefix first). */
static bool bytes_after(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c > 0 || (c == 0 && alen > blen);
}

/* The read's values, sorted and joined by '|', as text. */
static void values_of(const cw_read *r, char *out, size_t cap)
{
    const char *v[16];
    size_t len[16];
    assert_true(r->count <= 16);
    for (size_t i = 0; i < r->count; i++) {
        v[i] = r->versions[i].value;
        len[i] = r->versions[i].value_len;
    }
    for (size_t i = 0; i < r->count; i++) /* insertion sort, few values */
        for (size_t j = i; j > 0 && bytes_after(v[j - 1], len[j - 1], v[j], len[j]); j--) {
            const char *t = v[j];
            size_t tl = len[j];
            v[j] = v[j - 1];
            len[j] = len[j - 1];
            v[j - 1] = t;
            len[j - 1] = tl;
        }
    size_t at = 0;
    out[0] = 0;
    for (size_t i = 0; i < r->count; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%.*s", i ? "|" : "", (int)len[i], v[i]);
}

static void expect_values(net *n, cw_node_id at, const char *key, const char *want)
{
    cw_read r;
    cw_read_init(&r);
    int rc = cw_node_get(n->node[at], key, strlen(key), &r);
    char got[256];
    if (rc == CW_ENOTFOUND)
        strcpy(got, "");
    else {
        assert_int_equal(rc, CW_OK);
        values_of(&r, got, sizeof got);
    }
    if (strcmp(got, want) != 0)
        fail_msg("node %u, key %s: values '%s', expected '%s'", at, key, got, want);
    cw_read_destroy(&r);
}

/* A client resolves siblings it read while a new concurrent write arrives:
 * the resolution replaces what it read and nothing else, everywhere. */
static void test_resolution_keeps_an_unseen_concurrent_write(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_KEEP_SIBLINGS, NULL);
    put_ctx(&n, 0, "k", "a", NULL);
    put_ctx(&n, 1, "k", "b", NULL);
    deliver_all(&n, 0);
    expect_values(&n, 0, "k", "a|b");
    cw_read r;
    cw_read_init(&r);
    read_key(&n, 0, "k", &r, CW_OK); /* the client reads a and b at node 0 */
    put_ctx(&n, 2, "k", "c", NULL);  /* meanwhile c, concurrent (node 2 has seen neither), reaches node 0 */
    deliver_all(&n, 0);
    expect_values(&n, 0, "k", "a|b|c");
    put_ctx(&n, 0, "k", "ab", &r.context); /* the resolution of what it read */
    expect_values(&n, 0, "k", "ab|c");
    settle(&n);
    for (cw_node_id i = 0; i < 3; i++)
        expect_values(&n, i, "k", "ab|c");
    cw_read_destroy(&r);
    net_close(&n);
}

/* Two writes from one read at one node are siblings, though the node's
 * clock orders them; a plain put replaces both; cw_version_compare says so. */
static void test_two_writes_from_one_read_are_siblings(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, NULL);
    put_ctx(&n, 0, "k", "v", NULL);
    cw_read r;
    cw_read_init(&r);
    read_key(&n, 0, "k", &r, CW_OK);
    put_ctx(&n, 0, "k", "x", &r.context);
    put_ctx(&n, 0, "k", "y", &r.context);
    expect_values(&n, 0, "k", "x|y");
    settle(&n);
    expect_values(&n, 1, "k", "x|y");
    cw_read both;
    cw_read_init(&both);
    read_key(&n, 1, "k", &both, CW_OK);
    assert_int_equal(both.count, 2);
    assert_int_equal(cw_version_compare(&both.versions[0], &both.versions[1]), CW_CONCURRENT);
    assert_int_equal(cw_version_compare(&both.versions[0], &both.versions[0]), CW_EQUAL);
    /* The clocks alone order them: that is what contexts fix. */
    assert_int_not_equal(cw_vclock_compare(&both.versions[0].clock, &both.versions[1].clock), CW_CONCURRENT);
    assert_int_equal(cw_vclock_compare(&r.context, &both.versions[0].context), CW_EQUAL); /* what it replaced */
    assert_int_equal(cw_version_compare(&r.versions[0], &both.versions[0]), CW_BEFORE);
    assert_int_equal(cw_version_compare(&both.versions[1], &r.versions[0]), CW_AFTER);
    /* NULL is no version, as a NULL clock is an empty one. */
    assert_int_equal(cw_version_compare(NULL, &r.versions[0]), CW_BEFORE);
    assert_int_equal(cw_version_compare(&r.versions[0], NULL), CW_AFTER);
    assert_int_equal(cw_version_compare(NULL, NULL), CW_EQUAL);
    put_ctx(&n, 1, "k", "z", NULL);
    settle(&n);
    expect_values(&n, 0, "k", "z");
    cw_read_destroy(&r);
    cw_read_destroy(&both);
    net_close(&n);
}

/* Delete, then recreate; a delete concurrent with a put loses to it
 * (add-wins); a read of a deleted key still has a context. */
static void test_delete_recreate_and_add_wins(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, NULL);
    put_ctx(&n, 0, "k", "v", NULL);
    settle(&n);
    cw_read r;
    cw_read_init(&r);
    read_key(&n, 1, "k", &r, CW_OK);
    assert_int_equal(cw_node_delete(n.node[1], "k", 1, &r.context, NULL), CW_OK);
    read_key(&n, 1, "k", &r, CW_ENOTFOUND);
    assert_int_equal(cw_vclock_get(&r.context, 1), 1); /* it covers the tombstone (1:1) */
    settle(&n);
    expect_values(&n, 0, "k", "");
    put_ctx(&n, 0, "k", "again", &r.context); /* recreate */
    settle(&n);
    expect_values(&n, 1, "k", "again");

    /* A delete and a put made concurrently: the put survives everywhere. */
    read_key(&n, 0, "k", &r, CW_OK);
    assert_int_equal(cw_node_delete(n.node[0], "k", 1, &r.context, NULL), CW_OK);
    put_ctx(&n, 1, "k", "mine", NULL); /* node 1 has not seen the delete */
    settle(&n);
    expect_values(&n, 0, "k", "mine");
    expect_values(&n, 1, "k", "mine");
    /* A plain delete (the node's clock) removes it. */
    assert_int_equal(cw_node_delete(n.node[1], "k", 1, NULL, NULL), CW_OK);
    settle(&n);
    expect_values(&n, 0, "k", "");
    /* Deleting a key never written is a tombstone too, and harmless. */
    assert_int_equal(cw_node_delete(n.node[0], "none", 4, NULL, NULL), CW_OK);
    read_key(&n, 0, "none", &r, CW_ENOTFOUND);
    cw_read_destroy(&r);
    net_close(&n);
}

/* Last-writer-wins: a tombstone competes like any write. */
static void test_lww_tombstone_competes(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_LAST_WRITER_WINS, NULL);
    put_ctx(&n, 0, "k", "v", NULL);
    settle(&n);
    assert_int_equal(cw_node_delete(n.node[1], "k", 1, NULL, NULL), CW_OK); /* later: wins */
    settle(&n);
    expect_values(&n, 0, "k", "");
    expect_values(&n, 1, "k", "");
    put_ctx(&n, 0, "k", "w", NULL);
    settle(&n);
    expect_values(&n, 1, "k", "w");
    net_close(&n);
}

static int join_merge(void *ctx, const cw_value_version *v, size_t count, void **out, size_t *len)
{
    (void)ctx;
    char buf[64] = "";
    for (size_t i = 0; i < count; i++) {
        assert_true(v[i].value_len > 0); /* never a tombstone */
        strncat(buf, v[i].value, v[i].value_len);
    }
    *len = strlen(buf);
    *out = malloc(*len);
    memcpy(*out, buf, *len);
    return CW_OK;
}

/* The merge callback never sees a tombstone: a delete concurrent with two
 * siblings leaves them, merged. */
static void test_merge_skips_tombstones(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_MERGE_CALLBACK, join_merge);
    put_ctx(&n, 0, "k", "a", NULL);
    put_ctx(&n, 1, "k", "b", NULL);
    assert_int_equal(cw_node_delete(n.node[2], "k", 1, NULL, NULL), CW_OK);
    settle(&n);
    for (cw_node_id i = 0; i < 3; i++)
        expect_values(&n, i, "k", "ab");
    net_close(&n);
}

/* A context must be what this node has seen: one that covers a write not
 * applied here is refused (CW_EAHEAD), an id out of range is CW_EINVAL
 * (also beside an entry ahead: waiting would not mend it), and neither
 * changes anything. */
static void test_context_ahead_is_refused(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, NULL);
    put_ctx(&n, 0, "k", "a", NULL);
    cw_read r;
    cw_read_init(&r);
    read_key(&n, 0, "k", &r, CW_OK);
    assert_int_equal(cw_node_put_ctx(n.node[1], "k", 1, "b", 1, &r.context, NULL), CW_EAHEAD);
    assert_int_equal(cw_node_delete(n.node[1], "k", 1, &r.context, NULL), CW_EAHEAD);
    cw_vclock bad;
    cw_vclock_init(&bad);
    assert_int_equal(cw_vclock_set(&bad, 7, 1), CW_OK);
    assert_int_equal(cw_node_put_ctx(n.node[1], "k", 1, "b", 1, &bad, NULL), CW_EINVAL);
    assert_int_equal(cw_vclock_set(&bad, 0, 1), CW_OK); /* ahead here, listed before the bad id */
    assert_int_equal(cw_node_put_ctx(n.node[1], "k", 1, "b", 1, &bad, NULL), CW_EINVAL);
    assert_int_equal(cw_node_delete(n.node[1], "k", 1, &bad, NULL), CW_EINVAL);
    cw_vclock_destroy(&bad);
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_node_clock(n.node[1], &c), CW_OK);
    assert_int_equal(cw_vclock_size(&c), 0);
    settle(&n);
    put_ctx(&n, 1, "k", "b", &r.context); /* now it has seen a */
    settle(&n);
    expect_values(&n, 0, "k", "b");
    cw_vclock_destroy(&c);
    cw_read_destroy(&r);
    net_close(&n);
}

/* How many versions node `at` holds live for key. */
static size_t live_count(net *n, cw_node_id at, const char *key)
{
    cw_read r;
    cw_read_init(&r);
    int rc = cw_node_get(n->node[at], key, strlen(key), &r);
    assert_true(rc == CW_OK || rc == CW_ENOTFOUND);
    size_t count = r.count;
    cw_read_destroy(&r);
    return count;
}

/* A client that writes with a context covering too few of a key's versions
 * (an empty one: it never reads) is refused once the key would hold more
 * than max_siblings live versions, and the refusal changes nothing. A write
 * that covers enough, a plain put, a delete and every write from a peer
 * still go, and a read's context resolves any number. */
static void test_siblings_are_bounded(void **state)
{
    (void)state;
    net n;
    net_open_bounded(&n, 2, CW_KEEP_SIBLINGS, NULL, 3);
    cw_vclock none, clock, after;
    cw_vclock_init(&none);
    cw_vclock_init(&clock);
    cw_vclock_init(&after);
    put_ctx(&n, 0, "k", "a", &none);
    put_ctx(&n, 0, "k", "b", &none);
    put_ctx(&n, 0, "k", "c", &none);
    assert_int_equal(cw_node_clock(n.node[0], &clock), CW_OK);
    size_t queued = n.len[1];
    assert_int_equal(cw_node_put_ctx(n.node[0], "k", 1, "d", 1, &none, NULL), CW_ESIBLINGS);
    assert_int_equal(cw_node_clock(n.node[0], &after), CW_OK);
    assert_int_equal(cw_vclock_compare(&clock, &after), CW_EQUAL);
    assert_int_equal(n.len[1], queued);
    expect_values(&n, 0, "k", "a|b|c");
    /* Other keys are not held back. A delete that covers nothing would
     * leave a fourth version, a tombstone: tombstones count, or deletes
     * with an empty context would pile them up until stable. */
    put_ctx(&n, 0, "other", "x", &none);
    assert_int_equal(cw_node_delete(n.node[0], "k", 1, &none, NULL), CW_ESIBLINGS);
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n.node[0], &st), CW_OK);
    assert_int_equal(st.siblings_refused, 2);
    expect_values(&n, 0, "k", "a|b|c");
    /* A context that covers one version (a's dot) leaves two and itself. */
    cw_vclock one;
    cw_vclock_init(&one);
    assert_int_equal(cw_vclock_set(&one, 0, 1), CW_OK);
    put_ctx(&n, 0, "k", "d", &one);
    expect_values(&n, 0, "k", "b|c|d");
    /* Node 1, not having heard of them, writes three of its own: from node
     * 0 they are a peer's writes, never refused, and both nodes then hold
     * six. */
    put_ctx(&n, 1, "k", "x", &none);
    put_ctx(&n, 1, "k", "y", &none);
    put_ctx(&n, 1, "k", "z", &none);
    settle(&n);
    for (cw_node_id i = 0; i < 2; i++)
        expect_values(&n, i, "k", "b|c|d|x|y|z");
    assert_int_equal(cw_node_put_ctx(n.node[0], "k", 1, "e", 1, &one, NULL), CW_ESIBLINGS);
    /* A read's context covers them all. */
    cw_read r;
    cw_read_init(&r);
    read_key(&n, 1, "k", &r, CW_OK);
    put_ctx(&n, 1, "k", "e", &r.context);
    settle(&n);
    for (cw_node_id i = 0; i < 2; i++)
        expect_values(&n, i, "k", "e");
    /* So does a plain put, whatever the key holds. */
    put_ctx(&n, 0, "k", "f", &none);
    put_ctx(&n, 0, "k", "g", &none);
    assert_int_equal(live_count(&n, 0, "k"), 3);
    put_ctx(&n, 0, "k", "h", NULL);
    expect_values(&n, 0, "k", "h");
    /* A tombstone its context does not cover counts like a sibling: h, a
     * tombstone and i leave no room for j, though two are live; a read's
     * context covers the tombstone too. */
    assert_int_equal(cw_node_delete(n.node[0], "k", 1, &none, NULL), CW_OK);
    put_ctx(&n, 0, "k", "i", &none);
    expect_values(&n, 0, "k", "h|i");
    assert_int_equal(cw_node_put_ctx(n.node[0], "k", 1, "j", 1, &none, NULL), CW_ESIBLINGS);
    cw_read_destroy(&r);
    cw_read_init(&r);
    read_key(&n, 0, "k", &r, CW_OK);
    assert_int_equal(cw_node_delete(n.node[0], "k", 1, &r.context, NULL), CW_OK);
    expect_values(&n, 0, "k", "");
    cw_read_destroy(&r);
    cw_vclock_destroy(&one);
    cw_vclock_destroy(&none);
    cw_vclock_destroy(&clock);
    cw_vclock_destroy(&after);
    net_close(&n);
    /* Last-writer-wins keeps one version: nothing to bound. */
    net_open_bounded(&n, 1, CW_LAST_WRITER_WINS, NULL, 1);
    cw_vclock_init(&none);
    put_ctx(&n, 0, "k", "a", &none);
    put_ctx(&n, 0, "k", "b", &none);
    assert_int_equal(live_count(&n, 0, "k"), 1);
    cw_vclock_destroy(&none);
    net_close(&n);
}

/* Context writes and tombstones cross the codec (format 3) intact, and
 * plain writes keep format 1. */
static void test_codec_format_3(void **state)
{
    (void)state;
    net n;
    net_open(&n, 2, CW_KEEP_SIBLINGS, NULL);
    put_ctx(&n, 0, "k", "a", NULL);
    cw_read r;
    cw_read_init(&r);
    read_key(&n, 0, "k", &r, CW_OK);
    put_ctx(&n, 0, "k", "b", &r.context);
    assert_int_equal(cw_node_delete(n.node[0], "k", 1, NULL, NULL), CW_OK);
    assert_int_equal(n.len[1], 3);
    cw_msg_limits lim = {2, 64, 64};
    for (size_t k = 0; k < 3; k++) {
        cw_msg *m = n.q[1][k], *back;
        uint8_t buf[256];
        size_t len, used;
        assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
        assert_int_equal(len, cw_msg_encoded_size(m));
        assert_int_equal(buf[0], k == 0 ? CW_MSG_FORMAT_VERSION : CW_MSG_FORMAT_VERSION_3);
        assert_int_equal(cw_msg_decode(&back, buf, len, &lim, &used), CW_OK);
        assert_int_equal(used, len);
        assert_int_equal(cw_msg_tombstone(back), k == 2);
        cw_vclock a, b;
        cw_vclock_init(&a);
        cw_vclock_init(&b);
        assert_int_equal(cw_msg_context(m, &a), CW_OK);
        assert_int_equal(cw_msg_context(back, &b), CW_OK);
        assert_int_equal(cw_vclock_compare(&a, &b), CW_EQUAL);
        cw_vclock_destroy(&a);
        cw_vclock_destroy(&b);
        /* The copy goes where the original would, with the same result. */
        cw_msg_unref(m);
        n.q[1][k] = back;
        /* A format 3 header on anything else, or a tombstone with a value,
         * is refused. */
        if (k == 2) {
            buf[1] = CW_MSG_REPORT;
            assert_int_equal(cw_msg_decode(&back, buf, len, &lim, NULL), CW_EBADMSG);
        }
    }
    settle(&n);
    expect_values(&n, 1, "k", "");
    /* From the wire, a context above its write's clock, or covering the
     * write's own dot, is refused: replicas applying it before or after a
     * version it covers would disagree. */
    cw_hlc_timestamp ts = {1700000000000u, 0, 0};
    uint64_t clock[2] = {2, 0}, ahead[2] = {1, 1}, own[2] = {2, 0};
    const uint64_t *bad[2] = {ahead, own};
    for (int b = 0; b < 2; b++) {
        cw_msg *m, *back = NULL;
        uint8_t buf[256];
        size_t len;
        assert_int_equal(cw__msg_write(&m, 0, &ts, clock, 2, bad[b], false, "k", 1, "v", 1), CW_OK);
        assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
        assert_int_equal(cw_msg_decode(&back, buf, len, &lim, NULL), CW_EBADMSG);
        assert_null(back);
        cw_msg_unref(m);
    }
    cw_read_destroy(&r);
    net_close(&n);
}

static uint64_t stat_keys(net *n, cw_node_id at)
{
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(n->node[at], &st), CW_OK);
    return st.keys;
}

/* Tombstones leave the store once stable and past every write that could
 * still be concurrent with them: a delete-heavy run ends with no key left
 * at any node, and memory held does not grow with the deletes. */
static void test_tombstones_collected_once_stable(void **state)
{
    (void)state;
    net n;
    net_open(&n, 3, CW_LAST_WRITER_WINS, NULL);
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 50);
        put_ctx(&n, (cw_node_id)(i % 3), key, "v", NULL);
        settle(&n); /* the delete follows the put: it covers it */
        assert_int_equal(cw_node_delete(n.node[(i + 1) % 3], key, strlen(key), NULL, NULL), CW_OK);
        run_for(&n, 1000000);
    }
    run_for(&n, 50000000);
    for (cw_node_id i = 0; i < 3; i++) {
        assert_int_equal(stat_keys(&n, i), 0);
        cw_node_stats st;
        assert_int_equal(cw_node_get_stats(n.node[i], &st), CW_OK);
        assert_int_equal(st.log_entries, 0);
    }
    /* A delete and a put made concurrently, delivered in different orders:
     * whichever (timestamp, origin) wins, it wins everywhere, before and
     * after the tombstone is collected. */
    for (int round = 0; round < 20; round++) {
        char key[16], won[8];
        snprintf(key, sizeof key, "x%d", round);
        put_ctx(&n, 0, key, "1", NULL);
        settle(&n);
        assert_int_equal(cw_node_delete(n.node[1 + round % 2], key, strlen(key), NULL, NULL), CW_OK);
        put_ctx(&n, 2 - round % 2, key, "2", NULL); /* has not seen the delete */
        deliver_all(&n, 0);
        cw_read r;
        cw_read_init(&r);
        int rc = cw_node_get(n.node[0], key, strlen(key), &r);
        strcpy(won, rc == CW_OK ? "2" : "");
        cw_read_destroy(&r);
        settle(&n);
        for (cw_node_id i = 0; i < 3; i++)
            expect_values(&n, i, key, won);
        run_for(&n, 20000000);
        for (cw_node_id i = 0; i < 3; i++)
            expect_values(&n, i, key, won);
    }
    /* A single node forgets its tombstones at once. */
    cw_node_options o;
    cw_node_options_init(&o);
    cw_node *one;
    assert_int_equal(cw_node_create(&one, &o), CW_OK);
    assert_int_equal(cw_node_put(one, "k", 1, "v", 1, NULL), CW_OK);
    assert_int_equal(cw_node_delete(one, "k", 1, NULL, NULL), CW_OK);
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(one, &st), CW_OK);
    assert_int_equal(st.keys, 0);
    cw_node_destroy(one);
    net_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolution_keeps_an_unseen_concurrent_write),
        cmocka_unit_test(test_two_writes_from_one_read_are_siblings),
        cmocka_unit_test(test_delete_recreate_and_add_wins),
        cmocka_unit_test(test_lww_tombstone_competes),
        cmocka_unit_test(test_merge_skips_tombstones),
        cmocka_unit_test(test_context_ahead_is_refused),
        cmocka_unit_test(test_siblings_are_bounded),
        cmocka_unit_test(test_codec_format_3),
        cmocka_unit_test(test_tombstones_collected_once_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
