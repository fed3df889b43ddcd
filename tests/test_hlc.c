/* Hybrid logical clock with an injected wall clock. */
#include "testutil.h"

static uint64_t fake_now(void *ctx) { return *(uint64_t *)ctx; }

/* Field by field: the struct has padding. */
#define assert_ts_equal(a, b)                                                 \
    do {                                                                      \
        assert_int_equal((a).wall_ms, (b).wall_ms);                           \
        assert_int_equal((a).counter, (b).counter);                           \
        assert_int_equal((a).node, (b).node);                                 \
    } while (0)

static void test_now_is_monotonic_and_tracks_wall(void **state)
{
    (void)state;
    uint64_t wall = 1700000000000;
    cw_hlc h;
    assert_int_equal(cw_hlc_init(&h, 4, fake_now, &wall, 0), CW_OK);
    cw_hlc_timestamp t;
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    assert_int_equal(t.wall_ms, wall);
    assert_int_equal(t.counter, 0);
    assert_int_equal(t.node, 4);
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK); /* same ms: counter */
    assert_int_equal(t.counter, 1);
    wall -= 500; /* wall clock steps back: the HLC does not */
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    assert_int_equal(t.wall_ms, 1700000000000);
    assert_int_equal(t.counter, 2);
    wall += 1000; /* and forward: counter resets */
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    assert_int_equal(t.wall_ms, 1700000000500);
    assert_int_equal(t.counter, 0);
}

static void test_update_rules(void **state)
{
    (void)state;
    uint64_t wall = 1000;
    cw_hlc h;
    cw_hlc_init(&h, 1, fake_now, &wall, 5000);
    cw_hlc_timestamp t, r = {1200, 7, 2};
    assert_int_equal(cw_hlc_update(&h, &r, &t), CW_OK); /* remote ahead: adopt + 1 */
    assert_int_equal(t.wall_ms, 1200);
    assert_int_equal(t.counter, 8);
    assert_int_equal(t.node, 1);
    assert_true(cw_hlc_compare(&t, &r) > 0);
    r = (cw_hlc_timestamp){900, 50, 2}; /* remote behind: local + 1 */
    assert_int_equal(cw_hlc_update(&h, &r, &t), CW_OK);
    assert_int_equal(t.wall_ms, 1200);
    assert_int_equal(t.counter, 9);
    wall = 2000; /* wall clock ahead of both: counter resets */
    r = (cw_hlc_timestamp){1500, 3, 2};
    assert_int_equal(cw_hlc_update(&h, &r, &t), CW_OK);
    assert_int_equal(t.wall_ms, 2000);
    assert_int_equal(t.counter, 0);
    /* Beyond the drift bound: refused, clock unchanged. */
    r = (cw_hlc_timestamp){2000 + 5001, 0, 2};
    cw_hlc_timestamp before = h.last;
    assert_int_equal(cw_hlc_update(&h, &r, &t), CW_EDRIFT);
    assert_ts_equal(h.last, before);
    r.wall_ms = 2000 + 5000; /* exactly at the bound: accepted */
    assert_int_equal(cw_hlc_update(&h, &r, &t), CW_OK);
    assert_int_equal(t.wall_ms, 7000);
}

/* observe adopts a seen timestamp without an event: the next one is later
 * than it, an older one changes nothing, and NULL arguments do nothing. */
static void test_observe(void **state)
{
    (void)state;
    uint64_t wall = 1000;
    cw_hlc h;
    assert_int_equal(cw_hlc_init(&h, 1, fake_now, &wall, 0), CW_OK);
    cw_hlc_timestamp seen = {1500, 4, 2}, t;
    cw_hlc_observe(&h, &seen);
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    assert_int_equal(t.wall_ms, 1500);
    assert_int_equal(t.counter, 5);
    cw_hlc_timestamp older = {1200, 9, 2}, before = h.last;
    cw_hlc_observe(&h, &older);
    assert_ts_equal(h.last, before);
    cw_hlc_observe(&h, NULL);
    cw_hlc_observe(NULL, &seen);
    assert_ts_equal(h.last, before);
}

static void test_counter_exhaustion_and_overflow(void **state)
{
    (void)state;
    uint64_t wall = 10;
    cw_hlc h;
    cw_hlc_init(&h, 0, fake_now, &wall, 0);
    cw_hlc_timestamp t, r = {10, UINT16_MAX, 3};
    assert_int_equal(cw_hlc_update(&h, &r, &t), CW_OK);
    assert_int_equal(t.wall_ms, 11); /* counter exhausted: next millisecond */
    assert_int_equal(t.counter, 0);
    wall = CW_HLC_MAX_WALL;
    h.max_drift_ms = UINT64_MAX;
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    h.last.counter = UINT16_MAX;
    cw_hlc_timestamp before = h.last;
    assert_int_equal(cw_hlc_now(&h, &t), CW_EOVERFLOW);
    assert_ts_equal(h.last, before);
    /* A remote wall past the range with its counter full, let through by
     * an unbounded drift: an overflow, never a wrap to wall 0. */
    wall = 1000;
    cw_hlc_init(&h, 0, fake_now, &wall, UINT64_MAX);
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    before = h.last;
    cw_hlc_timestamp far = {UINT64_MAX, UINT16_MAX, 3}, out = {7, 7, 7};
    assert_int_equal(cw_hlc_update(&h, &far, &out), CW_EOVERFLOW);
    assert_ts_equal(h.last, before);
    assert_int_equal(out.wall_ms, 7);
    /* The same timestamp observed: later timestamps overflow, never wrap. */
    cw_hlc_observe(&h, &far);
    assert_int_equal(cw_hlc_now(&h, &t), CW_EOVERFLOW);
}

static void test_causality_property(void **state)
{
    (void)state;
    /* Random sends and receives among 4 nodes with skewed wall clocks: every
     * receive is stamped after the send it answers, and every node's stamps
     * strictly increase. */
    uint64_t walls[4] = {5000, 4990, 5020, 4800};
    cw_hlc h[4];
    cw_hlc_timestamp last[4] = {{0, 0, 0}};
    for (int i = 0; i < 4; i++)
        cw_hlc_init(&h[i], (cw_node_id)i, fake_now, &walls[i], 0);
    for (int iter = 0; iter < 5000; iter++) {
        int from = (int)tu_below(4), to = (int)tu_below(4);
        walls[tu_below(4)] += tu_below(3);
        cw_hlc_timestamp s, r;
        TU_CHECK(cw_hlc_now(&h[from], &s) == CW_OK);
        TU_CHECK(cw_hlc_compare(&s, &last[from]) > 0);
        last[from] = s;
        TU_CHECK(cw_hlc_update(&h[to], &s, &r) == CW_OK);
        TU_CHECK(cw_hlc_compare(&r, &s) > 0);
        TU_CHECK(cw_hlc_compare(&r, &last[to]) > 0);
        last[to] = r;
    }
}

static void test_text_form(void **state)
{
    (void)state;
    cw_hlc_timestamp t = {1700000000123, 5, 42}, u;
    char buf[64];
    size_t len;
    assert_int_equal(cw_hlc_format(&t, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "1700000000123.0005@42");
    assert_int_equal(cw_hlc_parse(&u, buf, len), CW_OK);
    assert_ts_equal(t, u);
    t = (cw_hlc_timestamp){7, 0, 0};
    assert_int_equal(cw_hlc_format(&t, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "0000000000007.0000@0");
    t = (cw_hlc_timestamp){CW_HLC_MAX_WALL, UINT16_MAX, UINT16_MAX};
    assert_int_equal(cw_hlc_format(&t, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "281474976710655.65535@65535");
    assert_int_equal(len, CW_HLC_TEXT_MAX);
    assert_int_equal(cw_hlc_format(&t, buf, len, &len), CW_ENOSPC);
    assert_int_equal(len, CW_HLC_TEXT_MAX);
    t.wall_ms = CW_HLC_MAX_WALL + 1; /* no such timestamp: its text would not parse back */
    assert_int_equal(cw_hlc_format(&t, buf, sizeof buf, &len), CW_EINVAL);
    const char *bad[] = {"", "1.2", "1@2", ".1@2", "1.@2", "1.2@", "a.1@2", "1.2@3@4", "1.65536@0",
                         "1.1@65536", "281474976710656.0@0", "-1.0@0", "1. 2@3", "1.2.3@4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        u = (cw_hlc_timestamp){9, 9, 9};
        if (cw_hlc_parse(&u, bad[i], strlen(bad[i])) != CW_EPARSE)
            fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(u.wall_ms, 9);
    }
}

static void test_binary_form(void **state)
{
    (void)state;
    cw_hlc_timestamp t = {0x010203040506ULL, 0x0708, 0x090a}, u;
    uint8_t buf[10];
    assert_int_equal(cw_hlc_encode(&t, buf, sizeof buf), CW_OK);


    const uint8_t expect[10] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
    assert_memory_equal(buf, expect, 10);
    assert_int_equal(cw_hlc_decode(&u, buf, 10), CW_OK);
    assert_ts_equal(t, u);
    for (size_t len = 0; len < 10; len++)
        assert_int_equal(cw_hlc_decode(&u, buf, len), CW_ETRUNC);
    assert_int_equal(cw_hlc_encode(&t, buf, 9), CW_ENOSPC);
    t.wall_ms = CW_HLC_MAX_WALL + 1;
    assert_int_equal(cw_hlc_encode(&t, buf, 10), CW_EINVAL);
    /* Big-endian bytes sort as the timestamps do. */
    cw_hlc_timestamp a = {5, 65535, 1}, b = {6, 0, 0};
    uint8_t ea[10], eb[10];
    cw_hlc_encode(&a, ea, 10);
    cw_hlc_encode(&b, eb, 10);
    assert_true(memcmp(ea, eb, 10) < 0 && cw_hlc_compare(&a, &b) < 0);
}

static void test_real_clock(void **state)
{
    (void)state;
    cw_hlc h;
    assert_int_equal(cw_hlc_init(&h, 1, NULL, NULL, 0), CW_OK);
    cw_hlc_timestamp t;
    assert_int_equal(cw_hlc_now(&h, &t), CW_OK);
    assert_true(t.wall_ms > 1600000000000ULL); /* after 2020 */
    assert_int_equal(cw_hlc_init(NULL, 1, NULL, NULL, 0), CW_EINVAL);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_is_monotonic_and_tracks_wall),
        cmocka_unit_test(test_update_rules),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_counter_exhaustion_and_overflow),
        cmocka_unit_test(test_causality_property),
        cmocka_unit_test(test_text_form),
        cmocka_unit_test(test_binary_form),
        cmocka_unit_test(test_real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
