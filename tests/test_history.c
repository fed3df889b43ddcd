/* The ground-truth checker with contexts, deletes and sessions
 * (causeway/verify.h): real replicas (cw_node) make the writes and apply
 * them, clients tell the history what they read, and each planted
 * violation must be caught with a sentence that names it: a lost update,
 * a resurrected delete, too many siblings, each session guarantee broken,
 * a write that replaced what its node had not applied. Correct histories
 * (with LWW too, and LWW with no timestamps) must pass. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#include "physmem.h"

#include <causeway/verify.h>

enum { MAX_NODES = 3, MAX_SENT = 64 };

/* Replicas whose messages wait in one list until a test delivers them. */
typedef struct net net;
typedef struct peer {
    net *t;
    cw_node_id id;
} peer;
struct net {
    uint32_t nodes;
    cw_node *n[MAX_NODES];
    peer p[MAX_NODES];
    cw_msg *sent[MAX_SENT];
    size_t count;
    cw_history *h;
};

static int on_send(void *ctx, cw_msg *m)
{
    net *t = ((peer *)ctx)->t;
    assert_true(t->count < MAX_SENT);
    t->sent[t->count++] = cw_msg_ref(m);
    return 0;
}

static void on_apply(void *ctx, const cw_msg *m)
{
    peer *p = ctx;
    assert_true(cw_history_applied(p->t->h, p->id, m));
}

static void net_open(net *t, uint32_t nodes, cw_conflict_policy policy)
{
    *t = (net){.nodes = nodes};
    assert_int_equal(cw_history_create(&t->h, nodes, 32, policy), CW_OK);
    for (uint32_t i = 0; i < nodes; i++) {
        t->p[i] = (peer){t, (cw_node_id)i};
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = (cw_node_id)i;
        o.nodes = nodes;
        o.policy = policy;
        o.send = on_send;
        o.on_apply = on_apply;
        o.send_ctx = o.apply_ctx = &t->p[i];
        assert_int_equal(cw_node_create(&t->n[i], &o), CW_OK);
    }
}

/* Delivers message i to node `to` (a duplicate is dropped by the node). */
static void deliver(net *t, size_t i, cw_node_id to)
{
    if (cw_msg_origin(t->sent[i]) != to)
        assert_int_equal(cw_node_receive(t->n[to], t->sent[i], NULL, NULL), CW_OK);
}

/* Every message to every node, in the order sent. */
static void deliver_all(net *t)
{
    for (uint32_t to = 0; to < t->nodes; to++)
        for (size_t i = 0; i < t->count; i++)
            deliver(t, i, (cw_node_id)to);
}

/* Reports every node's final state and returns the verdict; *rep filled. */
static bool net_verdict(net *t, cw_history_report *rep)
{
    for (uint32_t i = 0; i < t->nodes; i++)
        assert_int_equal(cw_history_final_node(t->h, t->n[i]), CW_OK);
    return cw_history_verdict(t->h, rep);
}

static void net_close(net *t)
{
    for (size_t i = 0; i < t->count; i++)
        cw_msg_unref(t->sent[i]);
    for (uint32_t i = 0; i < t->nodes; i++)
        cw_node_destroy(t->n[i]);
    cw_history_destroy(t->h);
}

/* Client c reads key at node x, recorded with the history; r keeps what it
 * returned (and its context). */
static void client_read(net *t, uint32_t c, cw_node_id x, const char *key, cw_read *r)
{
    uint64_t counts[MAX_NODES];
    cw_history_applied_counts(t->h, x, counts);
    cw_read_destroy(r); /* a fresh read: see the report about a key never written */
    cw_read_init(r);
    int rc = cw_node_get(t->n[x], key, strlen(key), r);
    assert_true(rc == CW_OK || rc == CW_ENOTFOUND);
    assert_int_equal(cw_history_client_read(t->h, c, x, key, strlen(key), counts, counts, r), CW_OK);
}

/* The live versions of r as dots. */
static size_t dots_of(const cw_read *r, cw_history_dot *d)
{
    for (size_t i = 0; i < r->count; i++)
        d[i] = (cw_history_dot){r->versions[i].origin, r->versions[i].seq};
    return r->count;
}

/* Records a read of key at node x that returned, of the versions x holds,
 * only the one with seq (all of them with seq 0): what a replica that lost
 * a sibling would answer. r keeps every version, that one first. */
static void record_read_of(net *t, cw_node_id x, const char *key, uint64_t seq, cw_read *r)
{
    uint64_t counts[MAX_NODES];
    cw_history_applied_counts(t->h, x, counts);
    cw_read_destroy(r);
    cw_read_init(r);
    assert_int_equal(cw_node_get(t->n[x], key, strlen(key), r), CW_OK);
    size_t count = r->count;
    for (size_t i = 1; seq && i < count; i++)
        if (r->versions[i].seq == seq) {
            cw_value_version first = r->versions[0];
            r->versions[0] = r->versions[i];
            r->versions[i] = first;
        }
    r->count = seq ? 1 : count;
    assert_int_equal(cw_history_read(t->h, x, key, strlen(key), counts, counts, r), CW_OK);
    r->count = count;
}

/* Client c writes key at node x: a put or a delete, with ctx (NULL: plain),
 * and tells the history it read `told` (told_count dots; ignored for a
 * plain write). Returns the write's dot. */
static cw_history_dot client_write(net *t, uint32_t c, cw_node_id x, const char *key, bool del, const cw_vclock *ctx,
                                   const cw_history_dot *told, size_t told_count)
{
    int rc = del ? cw_node_delete(t->n[x], key, strlen(key), ctx, NULL)
                 : cw_node_put_ctx(t->n[x], key, strlen(key), "v", 1, ctx, NULL);
    assert_int_equal(rc, CW_OK);
    cw_history_dot d = {x, cw_node_counters(t->n[x])[x]};
    cw_history_write_info w = {c, del, ctx != NULL, told, told_count};
    assert_int_equal(cw_history_wrote(t->h, d.origin, d.seq, &w), CW_OK);
    return d;
}

/* Fails unless the verdict failed with a violation containing `want`. */
static void expect_violation(net *t, const char *want)
{
    cw_history_report rep;
    bool ok = net_verdict(t, &rep);
    const char *v = cw_history_violation(t->h);
    if (ok || !v || !strstr(v, want))
        fail_msg("expected a violation with \"%s\", got %s: %s", want, ok ? "PASS" : "FAIL", v ? v : "(none)");
    printf("# caught: %s\n", v);
}

/* A resolution made while a concurrent write is in flight keeps that write
 * (a sibling of the resolution), deletes stay deleted, a delete then a
 * recreate: every check passes, and the report counts what it saw. */
static void test_correct_history_passes(void **state)
{
    (void)state;
    for (int lww = 0; lww < 2; lww++) {
        net t;
        net_open(&t, 3, lww ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS);
        cw_read r;
        cw_read_init(&r);
        cw_history_dot d[8];
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0); /* 0.1 */
        deliver_all(&t);
        client_write(&t, 1, 0, "k", false, NULL, NULL, 0); /* 0.2, then 1.1 concurrent with it */
        client_write(&t, 2, 1, "k", false, NULL, NULL, 0);
        client_read(&t, 3, 0, "k", &r); /* 0.2 only: 1.1 is in flight */
        client_write(&t, 3, 0, "k", false, &r.context, d, dots_of(&r, d));
        deliver_all(&t);
        client_read(&t, 0, 2, "k", &r); /* the resolution and 1.1, siblings */
        if (!lww)
            assert_int_equal(r.count, 2);
        client_write(&t, 0, 2, "k", true, &r.context, d, dots_of(&r, d)); /* delete what was read */
        deliver_all(&t);
        client_read(&t, 1, 1, "k", &r);
        assert_int_equal(r.count, 0);
        client_write(&t, 1, 1, "k", false, &r.context, d, dots_of(&r, d)); /* recreate */
        client_write(&t, 2, 2, "j", true, NULL, NULL, 0);                   /* a plain delete of a new key */
        deliver_all(&t);
        client_read(&t, 2, 0, "k", &r);
        assert_int_equal(r.count, 1);
        cw_history_report rep;
        if (!net_verdict(&t, &rep))
            fail_msg("%s", cw_history_violation(t.h));
        assert_int_equal(rep.writes, 7);
        assert_int_equal(rep.context_writes, 3);
        assert_int_equal(rep.deletes, 2);
        assert_int_equal(rep.session_ops, 11);
        assert_int_equal(rep.max_siblings, lww ? 1 : 2);
        assert_true(rep.superseded >= 3);
        cw_read_destroy(&r);
        net_close(&t);
    }
}

/* Node 1 writes 1.1 concurrently; client 0 reads k at node 0 after both
 * 0.1 and 1.1 arrived there, but the history hears it read 0.1 only: its
 * context removed 1.1, which (as far as the truth goes) it never saw. */
/* Memory that runs out in the verdict's checks leaves a correct history
 * unjudged (cw_history_out_of_memory: no verdict), but a violation found
 * before it (a write node 1 never applied) stands: that run was judged. */
static void test_out_of_memory_after_a_violation(void **state)
{
    (void)state;
    for (int lost = 0; lost < 2; lost++) {
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
        if (!lost)
            deliver_all(&t);
        for (uint32_t i = 0; i < t.nodes; i++)
            assert_int_equal(cw_history_final_node(t.h, t.n[i]), CW_OK);
        cw_history_report rep;
        tu_fail_alloc_after(0);
        bool ok = cw_history_verdict(t.h, &rep);
        tu_fail_alloc_off();
        assert_false(ok);
        assert_int_equal(cw_history_out_of_memory(t.h), !lost);
        assert_non_null(strstr(cw_history_violation(t.h), lost ? "(lost writes)" : "out of memory checking"));
        net_close(&t);
    }
}

static void test_lost_update_is_caught(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    cw_history_dot d0 = client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    client_write(&t, 1, 1, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    client_read(&t, 0, 0, "k", &r);
    assert_int_equal(r.count, 2);
    client_write(&t, 0, 0, "k", false, &r.context, &d0, 1); /* a stale context that covers 1.1 */
    deliver_all(&t);
    expect_violation(&t, "write 1.1, which no write superseded, is missing (a lost update)");
    cw_read_destroy(&r);
    net_close(&t);
}

/* A node's own writes can be siblings of each other: a write with a
 * context that covers nothing (0.3) leaves 0.1 live. A read at that node
 * that returned 0.3 alone lost 0.1, though 0.3 is its origin's last write
 * to the key (the node's final state is right: only the read is wrong). */
static void test_a_read_without_an_earlier_sibling_is_caught(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    client_write(&t, 0, 0, "j", false, NULL, NULL, 0);
    cw_vclock empty;
    cw_vclock_init(&empty);
    cw_history_dot d3 = client_write(&t, 1, 0, "k", false, &empty, NULL, 0);
    assert_int_equal(d3.seq, 3);
    deliver_all(&t);
    client_read(&t, 2, 0, "k", &r); /* both, as the node holds them */
    assert_int_equal(r.count, 2);
    record_read_of(&t, 0, "k", 3, &r); /* as if it returned 0.3 alone */
    expect_violation(&t, "node 0 read a key (k) without write 0.1, which it had applied before the read began and "
                         "no write ever superseded (a lost update)");
    cw_vclock_destroy(&empty);
    cw_read_destroy(&r);
    net_close(&t);
}

/* The same read, but a later write (0.3, whose client read both) replaces
 * 0.1 and 0.2 after the read: 0.1 was live when the read began and ended,
 * so the read lost it, though it is no final version. Node 1's reads of
 * the key, before and after, are right either way. */
static void test_a_read_without_a_sibling_replaced_later_is_caught(void **state)
{
    (void)state;
    for (int wrong = 0; wrong < 2; wrong++) {
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        cw_read r;
        cw_read_init(&r);
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
        cw_vclock empty;
        cw_vclock_init(&empty);
        client_write(&t, 1, 0, "k", false, &empty, NULL, 0);
        deliver_all(&t);
        client_read(&t, 3, 1, "k", &r);
        assert_int_equal(r.count, 2);
        record_read_of(&t, 0, "k", wrong ? 2 : 0, &r); /* wrong: as if it returned 0.2 alone */
        assert_int_equal(r.count, 2);
        cw_history_dot d[2];
        client_write(&t, 2, 0, "k", false, &r.context, d, dots_of(&r, d)); /* replaces both */
        deliver_all(&t);
        client_read(&t, 3, 1, "k", &r);
        assert_int_equal(r.count, 1);
        if (wrong) {
            expect_violation(&t, "node 0 read a key (k) without write 0.1, which it had applied before the read "
                                 "began and no write it had applied by the read's end superseded (a lost update)");
        } else {
            cw_history_report rep;
            assert_true(net_verdict(&t, &rep));
            assert_int_equal(rep.reads, 3);
        }
        cw_vclock_destroy(&empty);
        cw_read_destroy(&r);
        net_close(&t);
    }
}

/* Client 0 deletes what it read (0.1) but the replica is given no context
 * that covers it: the delete does not replace 0.1, which stays live. */
static void test_resurrected_delete_is_caught(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    client_read(&t, 0, 1, "k", &r);
    cw_history_dot d[2];
    cw_vclock empty;
    cw_vclock_init(&empty);
    client_write(&t, 0, 1, "k", true, &empty, d, dots_of(&r, d));
    deliver_all(&t);
    expect_violation(&t, "version 0.1 was deleted by write 1.1 (a resurrected delete)");
    cw_vclock_destroy(&empty);
    cw_read_destroy(&r);
    net_close(&t);
}

/* Three clients resolve one key, each after reading what the one before
 * wrote; the last is given an empty context: the replicas keep two
 * versions where one write is truly concurrent. */
static void test_too_many_siblings_is_caught(void **state)
{
    (void)state;
    net t;
    net_open(&t, 3, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    cw_history_dot d[4];
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    client_read(&t, 1, 1, "k", &r);
    client_write(&t, 1, 1, "k", false, &r.context, d, dots_of(&r, d));
    deliver_all(&t);
    client_read(&t, 2, 2, "k", &r);
    cw_vclock empty;
    cw_vclock_init(&empty);
    client_write(&t, 2, 2, "k", false, &empty, d, dots_of(&r, d));
    deliver_all(&t);
    expect_violation(&t, "version 1.1 was superseded by write 2.1, whose client read it (too many siblings)");
    cw_vclock_destroy(&empty);
    cw_read_destroy(&r);
    net_close(&t);
}

/* Each session guarantee broken once: a client moves to a node that has
 * not applied what it wrote or read. */
static void test_session_violations_are_caught(void **state)
{
    (void)state;
    static const char *const want[] = {"(read-your-writes", "(monotonic reads", "(monotonic writes",
                                       "(writes-follow-reads"};
    for (int g = 0; g < 4; g++) {
        net t;
        net_open(&t, 3, CW_KEEP_SIBLINGS);
        cw_read r;
        cw_read_init(&r);
        bool wrote_first = g == 0 || g == 2;
        if (wrote_first) {
            client_write(&t, 7, 0, "k", false, NULL, NULL, 0); /* client 7's write at node 0 */
        } else {
            client_write(&t, 1, 0, "k", false, NULL, NULL, 0); /* another client's */
            client_read(&t, 7, 0, "k", &r);                    /* client 7 reads it at node 0 */
        }
        if (g == 0 || g == 1)
            client_read(&t, 7, 1, "k", &r); /* at node 1, which has not applied it */
        else
            client_write(&t, 7, 1, "j", false, NULL, NULL, 0);
        deliver_all(&t);
        expect_violation(&t, want[g]);
        cw_read_destroy(&r);
        net_close(&t);
    }
}

/* A read that found nothing still observed the deletes its context covers:
 * client 0 writes k at node 0, client 1 deletes it there (its tombstone
 * 0.2 covers 0.1); client 7 reads k at node 0 (not found, the context
 * covers 0.2), then at node 1, which has applied 0.1 but not the delete and
 * still shows 0.1: monotonic reads broken through a deleted key. The
 * correct variant (node 1 has applied the delete too; or client 7 writes
 * there after it has) passes; and a write at node 1 before it applied the
 * delete breaks writes-follow-reads. */
static void test_session_through_delete(void **state)
{
    (void)state;
    for (int v = 0; v < 4; v++) { /* 0: read at 1 too early, 1: write at 1 too early, 2, 3: correct */
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        cw_read r;
        cw_read_init(&r);
        cw_history_dot d[2];
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0); /* 0.1 */
        deliver(&t, 0, 1);                                 /* node 1 has 0.1 */
        client_read(&t, 1, 0, "k", &r);
        client_write(&t, 1, 0, "k", true, &r.context, d, dots_of(&r, d)); /* 0.2 deletes 0.1 */
        client_read(&t, 7, 0, "k", &r);
        assert_int_equal(r.count, 0);
        assert_int_equal(cw_vclock_get(&r.context, 0), 2); /* it covers the tombstone */
        if (v >= 2)
            deliver(&t, 1, 1); /* node 1 applies the delete first */
        if (v == 0 || v == 2) {
            client_read(&t, 7, 1, "k", &r);
            assert_int_equal(r.count, v == 0 ? 1 : 0); /* v 0: the deleted version, still shown */
        } else {
            client_write(&t, 7, 1, "j", false, NULL, NULL, 0);
        }
        deliver_all(&t);
        if (v == 0) {
            expect_violation(&t, "client 7 read a key (k) at node 1, which had not applied write 0.2 (monotonic reads");
        } else if (v == 1) {
            expect_violation(&t, "client 7 wrote 1.1 at node 1, which had not applied write 0.2 (writes-follow-reads");
        } else {
            cw_history_report rep;
            if (!net_verdict(&t, &rep))
                fail_msg("%s", cw_history_violation(t.h));
        }
        cw_read_destroy(&r);
        net_close(&t);
    }
}

/* A read that found nothing, told with a context covering a delete its node
 * had not applied (by the history's record): a violation now. */
static void test_context_ahead_of_node_is_caught(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    cw_history_dot d[2];
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    client_read(&t, 0, 0, "k", &r);
    client_write(&t, 0, 0, "k", true, &r.context, d, dots_of(&r, d)); /* 0.2 deletes 0.1 */
    client_read(&t, 0, 0, "k", &r); /* at node 0: not found, context 0:2 */
    assert_int_equal(r.count, 0);
    uint64_t counts[2];
    cw_history_applied_counts(t.h, 1, counts); /* told as a read at node 1, which has applied nothing */
    assert_int_equal(cw_history_client_read(t.h, 5, 1, "k", 1, counts, counts, &r), CW_OK);
    deliver_all(&t);
    expect_violation(&t, "node 1 read nothing of a key (k) with a context covering write 0.2, which it had not "
                         "applied by the read's end");
    cw_read_destroy(&r);
    net_close(&t);
}

/* Outcome, not only the counts: node 1 has applied client 0's write and
 * the client reads there, but the read is told to have returned nothing. */
static void test_read_missing_own_write_is_caught(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    uint64_t counts[2];
    cw_history_applied_counts(t.h, 1, counts);
    cw_read none;
    cw_read_init(&none);
    assert_int_equal(cw_history_client_read(t.h, 0, 1, "k", 1, counts, counts, &none), CW_OK);
    expect_violation(&t, "read nothing of a key (k) after applying write 0.1");
    net_close(&t);
}

/* A node judged from a trace: its clock reported, its keys only in part
 * (cw_history_final_clock_only), so no key it does not report is asked
 * for; and the first violation, a read's, names that read's index
 * (cw_history_violation_read). */
static void test_partial_final_state(void **state)
{
    (void)state;
    for (int bad = 0; bad < 2; bad++) {
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
        client_write(&t, 0, 0, "j", false, NULL, NULL, 0);
        deliver_all(&t);
        cw_read r;
        cw_read_init(&r);
        client_read(&t, 0, 1, "k", &r); /* read 0: right */
        uint64_t counts[2];
        cw_history_applied_counts(t.h, 1, counts);
        cw_read none;
        cw_read_init(&none);
        if (bad) /* read 1: nothing, after applying write 0.2 to j */
            assert_int_equal(cw_history_client_read(t.h, 0, 1, "j", 1, counts, counts, &none), CW_OK);
        else
            client_read(&t, 0, 1, "j", &r);
        assert_int_equal(cw_history_final_node(t.h, t.n[0]), CW_OK);
        assert_int_equal(cw_history_final_clock_only(t.h, 1, counts), CW_OK);
        assert_int_equal(cw_history_final_clock_only(t.h, 2, counts), CW_EINVAL);
        cw_history_report rep;
        assert_int_equal(cw_history_verdict(t.h, &rep), !bad);
        if (bad)
            assert_int_equal(cw_history_violation_read(t.h), 1);
        else
            assert_int_equal(cw_history_violation_read(t.h), SIZE_MAX);
        cw_read_destroy(&r);
        cw_read_destroy(&none);
        net_close(&t);
    }
}

/* What a client tells must fit the write: a version its node had not
 * applied, a put told as a delete, a dot of another key, told twice. */
/* NULL and out-of-range arguments are answered, not dereferenced: a node
 * the history does not have applied nothing. */
static void test_bad_arguments(void **state)
{
    (void)state;
    cw_history *h = NULL;
    assert_int_equal(cw_history_create(&h, 2, 10, CW_KEEP_SIBLINGS), CW_OK);
    uint64_t row[2] = {7, 7};
    cw_history_applied_counts(h, 2, row);
    assert_int_equal(row[0], 0);
    assert_int_equal(row[1], 0);
    cw_history_applied_counts(h, 0, NULL);
    cw_history_applied_counts(NULL, 0, row);
    cw_history_report rep;
    assert_false(cw_history_verdict(NULL, &rep));
    assert_false(cw_history_verdict(h, NULL));
    assert_non_null(cw_history_violation(NULL));
    assert_null(cw_history_violation(h));
    assert_int_equal(cw_history_violation_read(NULL), SIZE_MAX);
    /* A read's counts are two moments of its node: before not above after,
     * after not above what the node has applied (a forged after would let
     * a read of a write never applied pass). */
    cw_read r;
    cw_read_init(&r);
    uint64_t none[2] = {0, 0}, one[2] = {1, 0};
    assert_int_equal(cw_history_read(h, 1, "k", 1, one, none, &r), CW_EINVAL);
    assert_int_equal(cw_history_read(h, 1, "k", 1, none, one, &r), CW_EINVAL);
    assert_int_equal(cw_history_read(h, 1, "k", 1, none, none, &r), CW_OK);
    cw_read_destroy(&r);
    /* No message is a violation the history names, not a false without one. */
    assert_false(cw_history_applied(NULL, 0, NULL));
    assert_false(cw_history_applied(h, 1, NULL));
    assert_non_null(cw_history_violation(h));
    assert_non_null(strstr(cw_history_violation(h), "node 1 applied no write"));
    cw_history_destroy(h);
    /* 65,536 nodes: 64 GiB of counters, refused on a machine with less
     * (it used to be allocated and left to the kernel's overcommit). */
    h = NULL;
    if (cw__physical_bytes() < 65536.0 * 65536.0 * 16.0) {
        assert_int_equal(cw_history_create(&h, 65536, 10, CW_KEEP_SIBLINGS), CW_ELIMIT);
        assert_null(h);
    }
}

/* The apply callback of test_the_write_limit_is_named: keeps each write. */
static void keep_write(void *ctx, const cw_msg *m)
{
    cw_msg **kept = ctx;
    for (size_t i = 0; i < 2; i++)
        if (!kept[i]) {
            kept[i] = cw_msg_ref((cw_msg *)m);
            return;
        }
}

/* A write past the number a history was made for is named as that, with
 * the limit (a history for no writes says so at its first). */
static void test_the_write_limit_is_named(void **state)
{
    (void)state;
    cw_msg *kept[2] = {NULL, NULL};
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 1;
    o.on_apply = keep_write;
    o.apply_ctx = kept;
    cw_node *n = NULL;
    assert_int_equal(cw_node_create(&n, &o), CW_OK);
    assert_int_equal(cw_node_put(n, "k", 1, "1", 1, NULL), CW_OK);
    assert_int_equal(cw_node_put(n, "k", 1, "2", 1, NULL), CW_OK);
    assert_non_null(kept[1]);
    for (uint64_t limit = 0; limit < 2; limit++) {
        cw_history *h = NULL;
        assert_int_equal(cw_history_create(&h, 1, limit, CW_KEEP_SIBLINGS), CW_OK);
        for (uint64_t i = 0; i < limit; i++)
            assert_true(cw_history_applied(h, 0, kept[i]));
        assert_false(cw_history_applied(h, 0, kept[limit]));
        char want[96];
        snprintf(want, sizeof want, "node 0 made write %llu, past the history's limit of %llu writes a node",
                 (unsigned long long)limit + 1, (unsigned long long)limit);
        assert_string_equal(cw_history_violation(h), want);
        cw_history_destroy(h);
    }
    /* Out of order is named as that, without the limit. */
    cw_history *h = NULL;
    assert_int_equal(cw_history_create(&h, 1, 5, CW_KEEP_SIBLINGS), CW_OK);
    assert_false(cw_history_applied(h, 0, kept[1]));
    assert_string_equal(cw_history_violation(h), "node 0 made write 2, expected 1");
    cw_history_destroy(h);
    cw_msg_unref(kept[0]);
    cw_msg_unref(kept[1]);
    cw_node_destroy(n);
}

static void test_bad_tellings_are_caught(void **state)
{
    (void)state;
    for (int bad = 0; bad < 4; bad++) {
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        cw_vclock empty;
        cw_vclock_init(&empty);
        assert_int_equal(cw_node_put(t.n[0], "j", 1, "v", 1, NULL), CW_OK); /* 0.1, to j */
        deliver_all(&t);
        client_write(&t, 0, 1, "k", false, NULL, NULL, 0);                 /* 1.1 */
        assert_int_equal(cw_node_put_ctx(t.n[1], "k", 1, "v", 1, &empty, NULL), CW_OK); /* 1.2 */
        cw_history_dot unseen = {0, 2}, other_key = {0, 1}, same = {1, 1};
        cw_history_write_info w = {0, bad == 1, true, bad == 0 ? &unseen : bad == 2 ? &other_key : &same, 1};
        const char *want[] = {"which its node had not applied", "is a put, but its client made a delete",
                              "which is no write to its key", "told of write 1.2 twice"};
        assert_int_equal(cw_history_wrote(t.h, 1, 2, &w), CW_OK);
        if (bad == 3)
            assert_int_equal(cw_history_wrote(t.h, 1, 2, &w), CW_OK);
        deliver_all(&t);
        expect_violation(&t, want[bad]);
        cw_vclock_destroy(&empty);
        net_close(&t);
    }
    cw_history *h;
    assert_int_equal(cw_history_create(&h, 2, 4, CW_KEEP_SIBLINGS), CW_OK);
    assert_int_equal(cw_history_wrote(h, 0, 1, NULL), CW_EINVAL);
    cw_history_write_info w = {0, false, true, NULL, 1};
    assert_int_equal(cw_history_wrote(h, 0, 1, &w), CW_EINVAL);
    uint64_t zero[2] = {0, 0};
    cw_read no_versions = {.count = 1, .versions = NULL}; /* a count with nothing behind it */
    assert_int_equal(cw_history_read(h, 0, "k", 1, zero, zero, &no_versions), CW_EINVAL);
    w.read_count = 0;
    assert_int_equal(cw_history_wrote(h, 0, 1, &w), CW_OK); /* never made: a violation */
    assert_non_null(strstr(cw_history_violation(h), "never made"));
    cw_history_destroy(h);
}

/* A tombstone collected (absent from the final state) is as good as one
 * held; a live version absent is not, nor one version held twice. */
static void test_collected_tombstones(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    cw_history_dot d[2];
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    client_read(&t, 0, 0, "k", &r);
    client_write(&t, 0, 0, "k", true, &r.context, d, dots_of(&r, d)); /* 0.2 deletes 0.1 */
    deliver_all(&t);
    /* Node 0 reports the tombstone, node 1 reports nothing (collected). */
    cw_msg *tomb = t.sent[1];
    assert_true(cw_msg_tombstone(tomb));
    const cw_msg *held[1] = {tomb};
    assert_int_equal(cw_history_final_key(t.h, 0, held, 1), CW_OK);
    for (cw_node_id x = 0; x < 2; x++)
        assert_int_equal(cw_history_final_clock(t.h, x, cw_node_counters(t.n[x])), CW_OK);
    cw_history_report rep;
    if (!cw_history_verdict(t.h, &rep))
        fail_msg("%s", cw_history_violation(t.h));
    assert_int_equal(rep.deletes, 1);
    cw_read_destroy(&r);
    net_close(&t);
    /* But a live write reported absent is lost. */
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    for (cw_node_id x = 0; x < 2; x++)
        assert_int_equal(cw_history_final_clock(t.h, x, cw_node_counters(t.n[x])), CW_OK);
    assert_false(cw_history_verdict(t.h, &rep));
    assert_non_null(strstr(cw_history_violation(t.h), "holds 0 version(s) of a key (k)"));
    net_close(&t);
    /* And a version reported twice is said to be held twice. */
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    const cw_msg *twice[2] = {t.sent[0], t.sent[0]};
    /* Versions that cannot be this group's key are refused, nothing recorded. */
    uint64_t c3[3] = {1, 0, 0}, c2[2] = {1, 0};
    cw_hlc_timestamp ts = {1, 0, 0};
    cw_msg *wider, *other_key;
    assert_int_equal(cw_msg_create(&wider, 0, &ts, c3, 3, "k", 1, "v", 1), CW_OK);
    assert_int_equal(cw_msg_create(&other_key, 0, &ts, c2, 2, "j", 1, "v", 1), CW_OK);
    const cw_msg *refused[][2] = {{NULL, NULL}, {t.sent[0], NULL}, {wider, NULL}, {t.sent[0], wider},
                                  {t.sent[0], other_key}};
    size_t counts[] = {1, 2, 1, 2, 2};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        assert_int_equal(cw_history_final_key(t.h, 0, refused[i], counts[i]), CW_EINVAL);
    cw_msg_unref(wider);
    cw_msg_unref(other_key);
    assert_int_equal(cw_history_final_key(t.h, 0, twice, 2), CW_OK);
    assert_int_equal(cw_history_final_key(t.h, 1, twice, 1), CW_OK);
    for (cw_node_id x = 0; x < 2; x++)
        assert_int_equal(cw_history_final_clock(t.h, x, cw_node_counters(t.n[x])), CW_OK);
    assert_false(cw_history_verdict(t.h, &rep));
    assert_non_null(strstr(cw_history_violation(t.h), "version 0.1 is held twice"));
    net_close(&t);
}

/* A history is judged once: a second verdict gives the same report (a
 * second run of the checks would count each violation again), and final
 * states reported after it are refused, not silently left unjudged. */
static void test_a_history_is_judged_once(void **state)
{
    (void)state;
    for (int bad = 0; bad < 2; bad++) {
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
        deliver_all(&t);
        const cw_msg *held[1] = {t.sent[0]};
        for (cw_node_id x = 0; x < 2 - bad; x++) /* bad: node 1 reports the key missing */
            assert_int_equal(cw_history_final_key(t.h, x, held, 1), CW_OK);
        for (cw_node_id x = 0; x < 2; x++)
            assert_int_equal(cw_history_final_clock(t.h, x, cw_node_counters(t.n[x])), CW_OK);
        cw_history_report first, again;
        assert_int_equal(cw_history_verdict(t.h, &first), !bad);
        memset(&again, 0xa5, sizeof again);
        assert_int_equal(cw_history_verdict(t.h, &again), !bad);
        assert_int_equal(again.ok, first.ok);
        assert_int_equal(again.writes, first.writes);
        assert_int_equal(again.applications, first.applications);
        assert_int_equal(again.keys, first.keys);
        assert_int_equal(again.reads, first.reads);
        assert_int_equal(again.check_steps, first.check_steps);
        assert_int_equal(again.concurrent_pairs, first.concurrent_pairs);
        assert_int_equal(again.ordered_pairs, first.ordered_pairs);
        assert_int_equal(again.max_siblings, first.max_siblings);
        if (bad)
            assert_non_null(strstr(cw_history_violation(t.h), "holds 0 version(s) of a key (k)"));
        assert_int_equal(cw_history_final_key(t.h, 1, held, 1), CW_EINVAL);
        assert_int_equal(cw_history_final_clock(t.h, 1, cw_node_counters(t.n[1])), CW_EINVAL);
        assert_int_equal(cw_history_final_node(t.h, t.n[1]), CW_EINVAL);
        assert_int_equal(cw_history_verdict(t.h, &again), !bad);
        net_close(&t);
    }
}

/* A copy of node 0's write 0.1 (key "k", value "v"), changed as `what`
 * says: its value, key, kind, timestamp or clock. */
static cw_msg *changed_copy(const cw_msg *m, const char *what)
{
    cw_hlc_timestamp ts = cw_msg_timestamp(m);
    uint32_t nodes;
    uint64_t clock[MAX_NODES];
    const uint64_t *made = cw_msg_counters(m, &nodes);
    memcpy(clock, made, nodes * sizeof *clock);
    bool del = false;
    const char *key = "k", *value = "v";
    if (strcmp(what, "value") == 0)
        value = "w";
    else if (strcmp(what, "key") == 0)
        key = "j";
    else if (strcmp(what, "kind") == 0)
        del = true;
    else if (strcmp(what, "timestamp") == 0)
        ts.counter++;
    else if (strcmp(what, "timestamp's node") == 0)
        ts.node++;
    else if (strcmp(what, "timestamp's wall") == 0)
        ts.wall_ms++;
    else
        clock[1] = 5; /* "clock" */
    cw_msg *c;
    assert_int_equal(cw_msg_create_write(&c, cw_msg_origin(m), &ts, clock, nodes, NULL, del, key, 1,
                                         del ? NULL : value, del ? 0 : 1),
                     CW_OK);
    return c;
}

/* A transport that changes a write on its way (a flipped byte of the value,
 * another key, ...) is caught: the copy a node applies, and a version a
 * node holds at the end, must be the write its origin made, not only carry
 * its dot. */
static void test_a_write_changed_on_its_way_is_caught(void **state)
{
    (void)state;
    static const char *const what[] = {"value", "key", "kind", "timestamp", "timestamp's node", "timestamp's wall",
                                       "clock"};
    for (size_t i = 0; i < sizeof what / sizeof *what; i++) {
        char want[96];
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
        cw_msg *c = changed_copy(t.sent[0], what[i]);
        assert_false(cw_history_applied(t.h, 1, c));
        snprintf(want, sizeof want, "node 1 applied write 0.1 with another %.9s", what[i]);
        if (!strstr(cw_history_violation(t.h), want))
            fail_msg("%s: %s", what[i], cw_history_violation(t.h));
        cw_msg_unref(c);
        net_close(&t);
    }
    /* A write stamped with a clock that is not its past (a violation at its
     * origin): a copy carrying that same clock is no changed copy, one with
     * its true past is. */
    for (int honest = 0; honest < 2; honest++) {
        net t;
        net_open(&t, 2, CW_KEEP_SIBLINGS);
        uint64_t wrong[2] = {1, 3};
        cw_msg *w, *copy;
        assert_int_equal(cw_msg_create(&w, 0, &(cw_hlc_timestamp){1, 0, 0}, wrong, 2, "k", 1, "v", 1), CW_OK);
        assert_false(cw_history_applied(t.h, 0, w));
        uint64_t past[2] = {1, 0};
        assert_int_equal(cw_msg_create(&copy, 0, &(cw_hlc_timestamp){1, 0, 0}, honest ? wrong : past, 2, "k", 1,
                                       "v", 1),
                         CW_OK);
        assert_int_equal(cw_history_applied(t.h, 1, copy), honest);
        cw_msg_unref(copy);
        cw_msg_unref(w);
        net_close(&t);
    }
    /* Applied as made, and held changed. */
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    cw_msg *c = changed_copy(t.sent[0], "value");
    const cw_msg *held[1] = {c};
    assert_int_equal(cw_history_final_key(t.h, 1, held, 1), CW_OK);
    assert_non_null(strstr(cw_history_violation(t.h), "node 1 holds version 0.1 with another value"));
    cw_history_report rep;
    assert_false(cw_history_verdict(t.h, &rep));
    cw_msg_unref(c);
    net_close(&t);
}

/* What the progress callback below tries while the verdict runs. */
typedef struct meddler {
    net *t;
    int reads, wrote, finals, final_key, verdict; /* the calls' results: CW_EINVAL each, false for the verdict */
    bool applied;                                 /* false: an application then is a violation */
    bool tried;
} meddler;

static void meddle(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    meddler *m = ctx;
    if (m->tried || strcmp(phase, "checking reads") != 0)
        return;
    m->tried = true;
    uint64_t counts[MAX_NODES];
    cw_history_applied_counts(m->t->h, 1, counts);
    cw_read r;
    cw_read_init(&r);
    for (int i = 0; i < 300; i++) /* past the reads' room: a realloc under the verdict */
        m->reads |= cw_history_read(m->t->h, 1, "k", 1, counts, counts, &r) != CW_EINVAL;
    m->wrote = cw_history_wrote(m->t->h, 0, 1, &(cw_history_write_info){.client = 0});
    m->finals = cw_history_final_clock(m->t->h, 0, counts);
    const cw_msg *held[1] = {m->t->sent[0]};
    m->final_key = cw_history_final_key(m->t->h, 0, held, 1);
    m->applied = cw_history_applied(m->t->h, 1, m->t->sent[0]);
    cw_history_report rep;
    m->verdict = cw_history_verdict(m->t->h, &rep);
}

/* Nothing is recorded while the verdict runs (it walks the reads and the
 * client operations without the lock): a read, a telling or a final state
 * given from its progress callback is refused, an application there is a
 * violation, and the verdict itself called again from there returns false.
 * After it, reads are recorded again (and left out of its report). */
static void test_nothing_is_recorded_while_the_verdict_runs(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    client_write(&t, 0, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    cw_read r;
    cw_read_init(&r);
    for (int i = 0; i < 256; i++) /* the reads' room, full */
        client_read(&t, CW_HISTORY_NO_CLIENT, 1, "k", &r);
    meddler m = {.t = &t};
    cw_history_set_progress(t.h, meddle, &m);
    cw_history_report rep;
    assert_false(net_verdict(&t, &rep)); /* the application from the callback */
    assert_non_null(strstr(cw_history_violation(t.h), "node 1 applied write 0.1 while the verdict ran"));
    assert_true(m.tried);
    assert_false(m.applied);
    assert_false(m.reads);
    assert_int_equal(m.wrote, CW_EINVAL);
    assert_int_equal(m.finals, CW_EINVAL);
    assert_int_equal(m.final_key, CW_EINVAL);
    assert_false(m.verdict);
    assert_int_equal(rep.reads, 256);
    cw_history_set_progress(t.h, NULL, NULL);
    cw_history_set_progress(NULL, meddle, &m); /* no history: ignored */
    client_read(&t, CW_HISTORY_NO_CLIENT, 1, "k", &r);
    cw_read_destroy(&r);
    net_close(&t);
}

/* The history as text names how each told write was made. */
static void test_history_text(void **state)
{
    (void)state;
    net t;
    net_open(&t, 2, CW_KEEP_SIBLINGS);
    cw_read r;
    cw_read_init(&r);
    cw_history_dot d[2];
    client_write(&t, 4, 0, "k", false, NULL, NULL, 0);
    deliver_all(&t);
    client_read(&t, 4, 1, "k", &r);
    client_write(&t, 4, 1, "k", true, &r.context, d, dots_of(&r, d));
    assert_int_equal(cw_node_put(t.n[0], "j", 1, "v", 1, NULL), CW_OK); /* untold: no line */
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(cw_history_write(t.h, f), CW_OK);
    char buf[4096];
    size_t len = (rewind(f), fread(buf, 1, sizeof buf - 1, f));
    buf[len] = 0;
    fclose(f);
    assert_non_null(strstr(buf, "\nwrote 0 1 4 put plain\nwrote 1 1 4 delete 0.1\napplied"));
    cw_read_destroy(&r);
    net_close(&t);
}

/* Last-writer-wins with no timestamps (cw_history_set_untimed, as causeway
 * check --policy lww judges traces): nodes 0 and 1 write k at once, and
 * after both applied both, a read of either one passes (which wins is not
 * known), a read of both fails, and so does a read of nothing; a read of
 * nothing passes when a maximal version is a delete. Final keys and client
 * reads are refused; only a LWW history can be untimed. */
static void test_untimed_lww(void **state)
{
    (void)state;
    net s;
    net_open(&s, 2, CW_KEEP_SIBLINGS);
    assert_int_equal(cw_history_set_untimed(s.h), CW_EINVAL);
    assert_int_equal(cw_history_set_untimed(NULL), CW_EINVAL);
    net_close(&s);
    net w; /* a write already recorded was judged with its timestamp */
    net_open(&w, 2, CW_LAST_WRITER_WINS);
    client_write(&w, CW_HISTORY_NO_CLIENT, 0, "k", false, NULL, NULL, 0);
    assert_int_equal(cw_history_set_untimed(w.h), CW_EINVAL);
    net_close(&w);
    for (int bad = 0; bad < 3; bad++) {
        net t;
        net_open(&t, 2, CW_LAST_WRITER_WINS);
        assert_int_equal(cw_history_set_untimed(t.h), CW_OK);
        client_write(&t, CW_HISTORY_NO_CLIENT, 0, "k", false, NULL, NULL, 0);
        client_write(&t, CW_HISTORY_NO_CLIENT, 1, "k", false, NULL, NULL, 0);
        client_write(&t, CW_HISTORY_NO_CLIENT, 0, "j", false, NULL, NULL, 0);
        client_write(&t, CW_HISTORY_NO_CLIENT, 1, "j", true, NULL, NULL, 0);
        cw_read r[2];
        for (cw_node_id x = 0; x < 2; x++) { /* each node's own version of k, before the other's came */
            cw_read_init(&r[x]);
            assert_int_equal(cw_node_get(t.n[x], "k", 1, &r[x]), CW_OK);
            assert_int_equal(r[x].count, 1);
        }
        deliver_all(&t);
        uint64_t counts[2];
        cw_history_applied_counts(t.h, 0, counts);
        for (cw_node_id x = 0; x < 2; x++) /* either version, at either node */
            assert_int_equal(cw_history_read(t.h, x, "k", 1, counts, counts, &r[1 - x]), CW_OK);
        cw_read none;
        cw_read_init(&none);
        assert_int_equal(cw_history_read(t.h, 0, "j", 1, counts, counts, &none), CW_OK); /* the delete won */
        assert_int_equal(cw_history_client_read(t.h, 0, 0, "j", 1, counts, counts, &none), CW_EINVAL);
        cw_value_version both[2] = {r[0].versions[0], r[1].versions[0]}; /* borrowed */
        cw_read two = {2, both, {0}};
        if (bad == 1)
            assert_int_equal(cw_history_read(t.h, 1, "k", 1, counts, counts, &two), CW_OK);
        if (bad == 2)
            assert_int_equal(cw_history_read(t.h, 1, "k", 1, counts, counts, &none), CW_OK);
        assert_int_equal(cw_history_final_node(t.h, t.n[0]), CW_EINVAL);
        for (cw_node_id x = 0; x < 2; x++)
            assert_int_equal(cw_history_final_clock_only(t.h, x, counts), CW_OK);
        cw_history_report rep;
        bool ok = cw_history_verdict(t.h, &rep);
        const char *v = cw_history_violation(t.h);
        if (bad)
            printf("# caught: %s\n", v ? v : "(none)");
        assert_int_equal(ok, !bad);
        if (bad == 1)
            assert_non_null(strstr(v, "read 2 versions of a key (k); last-writer-wins keeps one"));
        if (bad == 2)
            assert_non_null(strstr(v, "read nothing of a key (k)"));
        assert_int_equal(rep.concurrent_pairs, 2);
        for (int x = 0; x < 2; x++)
            cw_read_destroy(&r[x]);
        net_close(&t);
    }
}

/* cw_history_applied_counts from another thread while node 0 applies: the
 * counts are the row as it stood at one moment, so the `before` counts of
 * reads at one node grow along one chain (the sweep of live versions
 * relies on it). Node 0 of 64 applies the writes of nodes 1 and 63 in
 * turn (1.1, 63.1, 1.2, 63.2, ...), so its row is always (k, k) or
 * (k + 1, k) there; a row read count by count while it moves could show
 * 63's count above 1's (entry 1 read before two applications, entry 63
 * after). */
enum { SNAP_NODES = 64, SNAP_A = 1, SNAP_B = 63, SNAP_WRITES = 16000 };

typedef struct snap_origin {
    cw_msg *m[SNAP_WRITES];
    size_t count;
    cw_history *h;
    cw_node_id id;
    atomic_bool refused; /* an application the history refused (asserted on the test's thread) */
} snap_origin;

static int snap_send(void *ctx, cw_msg *m)
{
    snap_origin *o = ctx;
    if (o && o->count < SNAP_WRITES)
        o->m[o->count++] = cw_msg_ref(m);
    return 0;
}

static void snap_apply(void *ctx, const cw_msg *m)
{
    snap_origin *o = ctx;
    if (!cw_history_applied(o->h, o->id, m))
        atomic_store(&o->refused, true);
}

typedef struct snap_run {
    cw_node *to;
    snap_origin *a, *b;
    int rc;           /* the first failed receive's, read after the join (cmocka asserts on one thread) */
    atomic_bool done; /* release: the applier's last application before it */
} snap_run;

static void *snap_applier(void *arg)
{
    snap_run *r = arg;
    for (size_t k = 0; k < SNAP_WRITES && r->rc == CW_OK; k++) {
        r->rc = cw_node_receive(r->to, r->a->m[k], NULL, NULL);
        if (r->rc == CW_OK)
            r->rc = cw_node_receive(r->to, r->b->m[k], NULL, NULL);
    }
    atomic_store_explicit(&r->done, true, memory_order_release);
    return NULL;
}

static void test_applied_counts_are_one_moment_of_a_moving_row(void **state)
{
    (void)state;
    cw_history *h;
    assert_int_equal(cw_history_create(&h, SNAP_NODES, SNAP_WRITES, CW_KEEP_SIBLINGS), CW_OK);
    snap_origin *of = calloc(3, sizeof *of); /* node 0, node SNAP_A, node SNAP_B */
    assert_non_null(of);
    cw_node *n[3];
    const cw_node_id ids[3] = {0, SNAP_A, SNAP_B};
    for (int i = 0; i < 3; i++) {
        of[i].h = h;
        of[i].id = ids[i];
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = ids[i];
        o.nodes = SNAP_NODES;
        o.send = snap_send;
        o.send_ctx = i ? &of[i] : NULL;
        o.on_apply = snap_apply;
        o.apply_ctx = &of[i];
        assert_int_equal(cw_node_create(&n[i], &o), CW_OK);
    }
    for (size_t k = 0; k < SNAP_WRITES; k++) /* 1's and 63's writes, concurrent with each other */
        for (int i = 1; i < 3; i++)
            assert_int_equal(cw_node_put(n[i], "k", 1, "v", 1, NULL), CW_OK);
    assert_int_equal(of[1].count, SNAP_WRITES);
    assert_int_equal(of[2].count, SNAP_WRITES);

    snap_run r = {.to = n[0], .a = &of[1], .b = &of[2]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, snap_applier, &r), 0);
    uint64_t counts[SNAP_NODES];
    size_t snapshots = 0, moving = 0, torn = 0;
    while (!atomic_load_explicit(&r.done, memory_order_acquire)) {
        cw_history_applied_counts(h, 0, counts);
        uint64_t a = counts[SNAP_A], b = counts[SNAP_B];
        torn += !(b <= a && a <= b + 1);
        moving += a > 0 && b < SNAP_WRITES;
        snapshots++;
    }
    pthread_join(t, NULL);
    printf("# %zu snapshots, %zu while the row moved, %zu not a moment of it\n", snapshots, moving, torn);
    assert_int_equal(r.rc, CW_OK);
    for (int i = 0; i < 3; i++)
        assert_false(atomic_load(&of[i].refused));
    assert_int_equal(torn, 0);
    cw_history_applied_counts(h, 0, counts);
    assert_int_equal(counts[SNAP_A], SNAP_WRITES);
    assert_int_equal(counts[SNAP_B], SNAP_WRITES);
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < of[i].count; k++)
            cw_msg_unref(of[i].m[k]);
        cw_node_destroy(n[i]);
    }
    free(of);
    cw_history_destroy(h);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_correct_history_passes),
        cmocka_unit_test(test_out_of_memory_after_a_violation),
        cmocka_unit_test(test_lost_update_is_caught),
        cmocka_unit_test(test_a_read_without_an_earlier_sibling_is_caught),
        cmocka_unit_test(test_a_read_without_a_sibling_replaced_later_is_caught),
        cmocka_unit_test(test_resurrected_delete_is_caught),
        cmocka_unit_test(test_too_many_siblings_is_caught),
        cmocka_unit_test(test_session_violations_are_caught),
        cmocka_unit_test(test_read_missing_own_write_is_caught),
        cmocka_unit_test(test_session_through_delete),
        cmocka_unit_test(test_context_ahead_of_node_is_caught),
        cmocka_unit_test(test_bad_tellings_are_caught),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_the_write_limit_is_named),
        cmocka_unit_test(test_collected_tombstones),
        cmocka_unit_test(test_a_history_is_judged_once),
        cmocka_unit_test(test_nothing_is_recorded_while_the_verdict_runs),
        cmocka_unit_test(test_a_write_changed_on_its_way_is_caught),
        cmocka_unit_test(test_history_text),
        cmocka_unit_test(test_partial_final_state),
        cmocka_unit_test(test_untimed_lww),
        cmocka_unit_test(test_applied_counts_are_one_moment_of_a_moving_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
