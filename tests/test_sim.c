/* The deterministic simulator over many seeded schedules, and the
 * ground-truth checker itself (it must catch each kind of violation).
 * `test_sim --long` runs the long, labelled variant. */
#include "testutil.h"

#include <causeway/verify.h>

static bool long_run;

static void run_many(uint64_t schedules, uint32_t max_nodes, uint64_t max_writes)
{
    static const cw_conflict_policy policies[] = {CW_KEEP_SIBLINGS, CW_LAST_WRITER_WINS};
    uint64_t concurrent = 0, full = 0, dups = 0, refused = 0, put_full = 0;
    for (uint64_t i = 0; i < schedules; i++) {
        cw_sim_options o;
        cw_sim_options_init(&o);
        o.seed = tu_rand();
        o.nodes = 1 + (uint32_t)tu_below(max_nodes);
        o.writes = 1 + tu_below(max_writes);
        o.keys = 1 + (uint32_t)tu_below(5);
        o.policy = policies[tu_below(2)];
        o.duplicate_probability = tu_below(2) ? 0.2 : 0.0;
        o.hold_probability = tu_below(3) == 0 ? 0.05 : 0.0;
        o.max_buffered = tu_below(4) == 0 ? 1 + tu_below(3) : 1u << 20;
        o.refuse_probability = tu_below(3) == 0 ? 0.3 : 0.0;
        if (tu_below(4) == 0)
            o.max_unsent = 1 + tu_below(2);
        cw_sim_report r;
        int rc = cw_sim_run(&o, &r);
        if (rc != CW_OK || !r.truth.ok)
            fail_msg("schedule %llu failed (%s): %s  [nodes %u writes %llu keys %u policy %d dup %.1f "
                     "holds %.2f buffer %zu refuse %.1f unsent %zu]",
                     (unsigned long long)i, cw_strerror(rc), r.violation, o.nodes,
                     (unsigned long long)o.writes, o.keys, o.policy, o.duplicate_probability,
                     o.hold_probability, o.max_buffered, o.refuse_probability, o.max_unsent);
        concurrent += r.truth.concurrent_pairs;
        full += r.full_refusals;
        dups += r.duplicates;
        refused += r.send_refusals;
        put_full += r.put_refusals;
    }
    printf("# %llu schedules: %llu concurrent pairs, %llu duplicate arrivals, %llu CW_EFULL retries, "
           "%llu refused sends, %llu puts refused\n",
           (unsigned long long)schedules, (unsigned long long)concurrent, (unsigned long long)dups,
           (unsigned long long)full, (unsigned long long)refused, (unsigned long long)put_full);
    /* The schedules must actually exercise what they claim to. */
    assert_true(concurrent > 0 && dups > 0 && full > 0 && refused > 0 && put_full > 0);
}

static void test_many_seeded_schedules(void **state)
{
    (void)state;
    if (long_run)
        run_many(20000, 12, 400);
    else
        run_many(2000, 6, 60);
}

static void test_sequential_writers_have_no_concurrency(void **state)
{
    (void)state;
    /* Seed 001's synchronous client: each write reaches every node first. */
    for (int i = 0; i < 50; i++) {
        cw_sim_options o;
        cw_sim_options_init(&o);
        o.seed = tu_rand();
        o.nodes = 4;
        o.writes = 40;
        o.keys = 2;
        o.sequential = true;
        o.duplicate_probability = 0.1;
        cw_sim_report r;
        assert_int_equal(cw_sim_run(&o, &r), CW_OK);
        if (!r.truth.ok)
            fail_msg("%s", r.violation);
        assert_int_equal(r.truth.concurrent_pairs, 0);
        assert_int_equal(r.conflicts, 0);
        assert_true(r.truth.ordered_pairs > 0);
    }
}

static void test_same_seed_same_run(void **state)
{
    (void)state;
    cw_sim_options o;
    cw_sim_options_init(&o);
    o.nodes = 5;
    o.writes = 80;
    o.seed = 42;
    o.duplicate_probability = 0.3;
    o.hold_probability = 0.05;
    cw_sim_report a, b;
    assert_int_equal(cw_sim_run(&o, &a), CW_OK);
    assert_int_equal(cw_sim_run(&o, &b), CW_OK);
    assert_true(a.truth.ok && b.truth.ok);
    assert_int_equal(a.deliveries, b.deliveries);
    assert_int_equal(a.duplicates, b.duplicates);
    assert_int_equal(a.truth.concurrent_pairs, b.truth.concurrent_pairs);
    assert_int_equal(a.max_buffered, b.max_buffered);
}

/* ---- an embedder's own transport in the simulator ---- */

/* A byte transport: every message encoded once and queued as bytes on a
 * bounded FIFO link per (from, to) pair, as over TCP; a send is refused
 * unless every link from its sender has room. A faulty one loses the first
 * frame from node 0 to node 1 and says it sent it. */
enum { LINK_FRAMES = 3, MAX_NODES = 6 };
typedef struct link {
    uint8_t *frame[LINK_FRAMES];
    size_t len[LINK_FRAMES];
    size_t head, count;
} link;
typedef struct byte_net {
    uint32_t nodes;
    link links[MAX_NODES * MAX_NODES];   /* [from * nodes + to] */
    bool lossy;
    uint64_t refused;
} byte_net;

static int bytes_send(void *ctx, cw_node_id from, cw_msg *m)
{
    byte_net *bn = ctx;
    for (uint32_t to = 0; to < bn->nodes; to++)
        if (to != from && bn->links[from * bn->nodes + to].count == LINK_FRAMES) {
            bn->refused++;
            return CW_EFULL; /* nothing queued anywhere: all or nothing */
        }
    size_t len = cw_msg_encoded_size(m);
    for (uint32_t to = 0; to < bn->nodes; to++) {
        if (to == from || (bn->lossy && from == 0 && to == 1 && cw_msg_seq(m) == 1))
            continue;
        link *l = &bn->links[from * bn->nodes + to];
        size_t at = (l->head + l->count) % LINK_FRAMES;
        l->frame[at] = malloc(len);
        assert_non_null(l->frame[at]);
        assert_int_equal(cw_msg_encode(m, l->frame[at], len, &l->len[at]), CW_OK);
        l->count++;
    }
    return CW_OK;
}

/* Hands the head frame of one non-empty link, chosen by the run's seeded
 * stream, to its node; false when every link is empty. */
static bool bytes_deliver(cw_sim *s, byte_net *bn)
{
    uint32_t links = bn->nodes * bn->nodes, start = (uint32_t)(cw_sim_random(s) % links);
    for (uint32_t i = 0; i < links; i++) {
        uint32_t at = (start + i) % links;
        link *l = &bn->links[at];
        if (!l->count)
            continue;
        cw_msg_limits lim = {bn->nodes, CW_NODE_DEFAULT_MAX_KEY_LEN, CW_NODE_DEFAULT_MAX_VALUE_LEN};
        cw_msg *m;
        assert_int_equal(cw_msg_decode(&m, l->frame[l->head], l->len[l->head], &lim, NULL), CW_OK);
        int rc = cw_sim_receive(s, (cw_node_id)(at % bn->nodes), m, NULL);
        cw_msg_unref(m);
        if (rc == CW_EFULL)
            continue; /* the replica cannot hold it yet: it stays at the head */
        assert_int_equal(rc, CW_OK);
        free(l->frame[l->head]);
        l->head = (l->head + 1) % LINK_FRAMES;
        l->count--;
        return true;
    }
    return false;
}

static bool links_empty(const byte_net *bn)
{
    for (uint32_t i = 0; i < bn->nodes * bn->nodes; i++)
        if (bn->links[i].count)
            return false;
    return true;
}

/* The embedder's loop: seeded writes and deliveries, refused sends flushed,
 * until every write is made and every link and replica is empty. */
static void run_byte_transport(uint64_t seed, uint32_t nodes, bool lossy, cw_sim_report *rep)
{
    byte_net bn = {.nodes = nodes, .lossy = lossy};
    cw_sim_options o;
    cw_sim_options_init(&o);
    o.nodes = nodes;
    o.writes = 120;
    o.keys = 3;
    o.seed = seed;
    /* Each replica can buffer every frame its links hold, so receives are
     * never refused and the bounded links cannot deadlock: only the
     * transport's own backpressure (refused sends) is exercised here. */
    o.max_buffered = LINK_FRAMES * (MAX_NODES - 1);
    o.max_unsent = 3;
    o.send = bytes_send;
    o.send_ctx = &bn;
    cw_sim *s;
    assert_int_equal(cw_sim_create(&s, &o), CW_OK);
    /* Ends when every write is made and nothing moves any more (a lossy
     * transport can leave replicas waiting for ever: the verdict says so). */
    bool writing = true;
    for (int idle = 0; idle < 1000;) {
        bool unsent = cw_sim_flush(s, CW_SIM_ANY_NODE) != CW_OK, moved = false;
        if (writing && cw_sim_random(s) % 2 == 0) {
            int rc = cw_sim_write(s, CW_SIM_ANY_NODE, NULL);
            assert_true(rc == CW_OK || rc == CW_EFULL || rc == CW_ELIMIT);
            writing = rc != CW_ELIMIT;
            moved = rc == CW_OK;
        } else {
            moved = bytes_deliver(s, &bn);
        }
        if (!writing && !moved && !unsent && links_empty(&bn))
            break;
        idle = moved ? 0 : idle + 1;
    }
    assert_int_equal(cw_sim_finish(s, rep), CW_OK);
    cw_sim_destroy(s);
    for (uint32_t i = 0; i < nodes * nodes; i++) /* what a lossy run left stuck */
        for (link *l = &bn.links[i]; l->count; l->count--, l->head = (l->head + 1) % LINK_FRAMES)
            free(l->frame[l->head]);
    assert_int_equal(rep->send_refusals, bn.refused); /* nothing else refused */
}

static void test_embedder_transport(void **state)
{
    (void)state;
    uint64_t refused = 0;
    for (int i = 0; i < 20; i++) {
        cw_sim_report r;
        uint64_t seed = tu_rand();
        run_byte_transport(seed, 2 + (uint32_t)tu_below(MAX_NODES - 1), false, &r);
        if (!r.truth.ok)
            fail_msg("%s", r.violation);
        assert_int_equal(r.truth.writes, 120);
        refused += r.send_refusals;
    }
    assert_true(refused > 0); /* the links were small enough to push back */
    /* A transport that loses one message is caught. */
    cw_sim_report r;
    run_byte_transport(tu_rand(), 3, true, &r);
    assert_false(r.truth.ok);
    assert_non_null(strstr(r.violation, "lost writes"));
}

static void test_sim_bad_options(void **state)
{
    (void)state;
    cw_sim_options o;
    cw_sim_options_init(&o);
    cw_sim *s = (cw_sim *)&o;
    assert_int_equal(cw_sim_create(&s, &o), CW_EINVAL); /* no transport */
    assert_ptr_equal(s, (cw_sim *)&o);
    o.send = bytes_send;
    o.keys = 0;
    assert_int_equal(cw_sim_create(&s, &o), CW_EINVAL);
    cw_sim_report r;
    assert_int_equal(cw_sim_run(&o, &r), CW_EINVAL);    /* a transport of its own */
    o.send = NULL;
    o.keys = 1;
    o.nodes = 0;
    assert_int_equal(cw_sim_run(&o, &r), CW_EINVAL);
    cw_history *h = NULL;
    assert_int_equal(cw_history_create(&h, 0, 1, CW_KEEP_SIBLINGS), CW_EINVAL);
    assert_null(h);
}

/* ---- the checker catches violations ---- */

static cw_msg *msg(uint32_t nodes, cw_node_id origin, const uint64_t *clock, const char *key)
{
    cw_msg *m;
    cw_hlc_timestamp ts = {1000 + clock[origin], 0, origin};
    assert_int_equal(cw_msg_create(&m, origin, &ts, clock, nodes, key, strlen(key), "v", 1), CW_OK);
    return m;
}

static void test_checker_catches_violations(void **state)
{
    (void)state;
    const uint64_t a1[2] = {1, 0}, a2[2] = {2, 0}, b1[2] = {1, 1}, bad[2] = {0, 1};
    cw_history *h;

    /* Out of order: node1 applies 0:2 before 0:1. */
    assert_int_equal(cw_history_create(&h, 2, 4, CW_KEEP_SIBLINGS), CW_OK);
    cw_msg *m1 = msg(2, 0, a1, "k"), *m2 = msg(2, 0, a2, "k"), *mb = msg(2, 1, b1, "k");
    assert_true(cw_history_applied(h, 0, m1));
    assert_true(cw_history_applied(h, 0, m2));
    assert_false(cw_history_applied(h, 1, m2));
    assert_non_null(strstr(cw_history_violation(h), "out of order"));
    cw_history_destroy(h);

    /* Missing dependency: node1 makes 1:1 claiming 0:1, which it never applied. */
    assert_int_equal(cw_history_create(&h, 2, 4, CW_KEEP_SIBLINGS), CW_OK);
    assert_true(cw_history_applied(h, 0, m1));
    assert_false(cw_history_applied(h, 1, mb)); /* node1 never applied 0:1, yet made b1 claiming it */
    assert_non_null(strstr(cw_history_violation(h), "not its causal past"));
    cw_history_destroy(h);

    /* Applied twice. */
    assert_int_equal(cw_history_create(&h, 2, 4, CW_KEEP_SIBLINGS), CW_OK);
    assert_true(cw_history_applied(h, 0, m1));
    assert_true(cw_history_applied(h, 1, m1));
    assert_false(cw_history_applied(h, 1, m1));
    assert_non_null(strstr(cw_history_violation(h), "applied twice"));
    cw_history_destroy(h);

    /* Lost write and wrong final state. */
    assert_int_equal(cw_history_create(&h, 2, 4, CW_KEEP_SIBLINGS), CW_OK);
    cw_msg *b0 = msg(2, 1, bad, "k"); /* 1:1 made without seeing 0:1: concurrent with it */
    assert_true(cw_history_applied(h, 0, m1));
    assert_true(cw_history_applied(h, 1, b0));
    assert_true(cw_history_applied(h, 0, b0));
    /* node1 never applies m1: lost. node0 keeps only b0, dropping a concurrent sibling. */
    const cw_msg *only_b[1] = {b0};
    assert_int_equal(cw_history_final_key(h, 0, only_b, 1), CW_OK);
    assert_int_equal(cw_history_final_key(h, 1, only_b, 1), CW_OK);
    const uint64_t both[2] = {1, 1};
    assert_int_equal(cw_history_final_clock(h, 0, both), CW_OK);
    assert_int_equal(cw_history_final_clock(h, 1, bad), CW_OK);
    cw_history_report rep;
    assert_false(cw_history_verdict(h, &rep));
    assert_int_equal(rep.concurrent_pairs, 1);
    assert_non_null(cw_history_violation(h));
    cw_history_destroy(h);

    /* And a correct run passes. */
    assert_int_equal(cw_history_create(&h, 2, 4, CW_KEEP_SIBLINGS), CW_OK);
    assert_true(cw_history_applied(h, 0, m1));
    assert_true(cw_history_applied(h, 1, b0));
    assert_true(cw_history_applied(h, 0, b0));
    assert_true(cw_history_applied(h, 1, m1));
    const cw_msg *siblings[2] = {m1, b0};
    assert_int_equal(cw_history_final_key(h, 0, siblings, 2), CW_OK);
    assert_int_equal(cw_history_final_key(h, 1, siblings, 2), CW_OK);
    assert_int_equal(cw_history_final_clock(h, 0, both), CW_OK);
    assert_int_equal(cw_history_final_clock(h, 1, both), CW_OK);
    assert_true(cw_history_verdict(h, &rep));
    assert_int_equal(rep.concurrent_pairs, 1);
    assert_null(cw_history_violation(h));
    cw_history_destroy(h);

    cw_msg_unref(m1);
    cw_msg_unref(m2);
    cw_msg_unref(mb);
    cw_msg_unref(b0);
}

int main(int argc, char **argv)
{
    long_run = argc > 1 && strcmp(argv[1], "--long") == 0;
    printf("# seed %llu%s\n", (unsigned long long)tu_seed(), long_run ? " (long run)" : "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_seeded_schedules),
        cmocka_unit_test(test_sequential_writers_have_no_concurrency),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_embedder_transport),
        cmocka_unit_test(test_sim_bad_options),
        cmocka_unit_test(test_checker_catches_violations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
