/* The deterministic simulator over many seeded schedules, and the
 * ground-truth checker itself (it must catch each kind of violation).
 * `test_sim --long` runs the long, labelled variant. */
#include "testutil.h"
#include "history.h"
#include "sim.h"

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
    cw_history_final_key(h, 0, only_b, 1);
    cw_history_final_key(h, 1, only_b, 1);
    const uint64_t both[2] = {1, 1};
    cw_history_final_clock(h, 0, both);
    cw_history_final_clock(h, 1, bad);
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
    cw_history_final_key(h, 0, siblings, 2);
    cw_history_final_key(h, 1, siblings, 2);
    cw_history_final_clock(h, 0, both);
    cw_history_final_clock(h, 1, both);
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
        cmocka_unit_test(test_checker_catches_violations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
