/* Replicated-write messages: construction, sharing, and the wire codec. */
#include "testutil.h"

static const cw_hlc_timestamp TS = {1700000000123u, 7, 2};

static cw_msg *make(uint32_t nodes, cw_node_id origin, const char *key, const char *value)
{
    uint64_t clock[8] = {0};
    for (uint32_t i = 0; i < nodes && i < 8; i++)
        clock[i] = i + 1;
    cw_msg *m = NULL;
    assert_int_equal(cw_msg_create(&m, origin, &TS, clock, nodes, key, strlen(key), value,
                                   strlen(value)), CW_OK);
    return m;
}

static void test_create_and_access(void **state)
{
    (void)state;
    cw_msg *m = make(3, 2, "key", "value");
    assert_int_equal(cw_msg_origin(m), 2);
    assert_int_equal(cw_msg_seq(m), 3);
    cw_hlc_timestamp ts = cw_msg_timestamp(m);
    assert_int_equal(ts.wall_ms, TS.wall_ms);
    uint32_t n;
    const uint64_t *c = cw_msg_counters(m, &n);
    assert_int_equal(n, 3);
    assert_int_equal(c[0], 1);
    size_t len;
    assert_memory_equal(cw_msg_key(m, &len), "key", 3);
    assert_int_equal(len, 3);
    assert_memory_equal(cw_msg_value(m, &len), "value", 5);
    cw_vclock v;
    cw_vclock_init(&v);
    assert_int_equal(cw_msg_clock(m, &v), CW_OK);
    tu_assert_clock(&v, "0:1,1:2,2:3");
    cw_vclock_destroy(&v);
    /* Shared: each holder releases its own reference. */
    cw_msg *again = cw_msg_ref(m);
    assert_ptr_equal(again, m);
    cw_msg_unref(m);
    assert_int_equal(cw_msg_origin(again), 2); /* still alive */
    cw_msg_unref(again);
    cw_msg_unref(NULL);
}

static void test_create_rejects_bad_arguments(void **state)
{
    (void)state;
    uint64_t clock[2] = {0, 1};
    cw_msg *m = (cw_msg *)0x1;
    assert_int_equal(cw_msg_create(&m, 0, &TS, clock, 2, "k", 1, "v", 1), CW_EINVAL); /* clock[origin] 0 */
    assert_int_equal(cw_msg_create(&m, 2, &TS, clock, 2, "k", 1, "v", 1), CW_EINVAL); /* origin >= nodes */
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 0, "k", 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 2, NULL, 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create(&m, 1, NULL, clock, 2, "k", 1, "v", 1), CW_EINVAL);
    /* The codec carries 48 bits of wall time: more would encode as garbage. */
    cw_hlc_timestamp wide = TS;
    wide.wall_ms = CW_HLC_MAX_WALL + 1;
    assert_int_equal(cw_msg_create(&m, 1, &wide, clock, 2, "k", 1, "v", 1), CW_EINVAL);
    assert_ptr_equal(m, (cw_msg *)0x1);
    /* Empty key and value are fine, NULL with length 0 too. */
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 2, NULL, 0, NULL, 0), CW_OK);
    size_t len = 9;
    cw_msg_key(m, &len);
    assert_int_equal(len, 0);
    cw_msg_unref(m);
}

static const cw_msg_limits LIMITS = {8, 64, 64};

static void test_round_trip_binary_safe(void **state)
{
    (void)state;
    uint64_t clock[5] = {0, 4, 0, 9, 1};
    const uint8_t key[] = {0, 'a', 0, 0xff}, value[] = {0, 0, 1};
    cw_msg *m, *d;
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 5, key, sizeof key, value, sizeof value), CW_OK);
    uint8_t buf[256];
    size_t len, consumed;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    assert_int_equal(len, cw_msg_encoded_size(m));
    /* Layout: version, origin, 10-byte HLC, clock (3 non-zero entries). */
    assert_int_equal(buf[0], CW_MSG_FORMAT_VERSION);
    assert_int_equal(buf[2], 1);
    assert_int_equal(len, 1 + 2 + 10 + 4 + 3 * 10 + 4 + 4 + 4 + 3);
    cw_msg_limits lim = {5, 64, 64};
    assert_int_equal(cw_msg_decode(&d, buf, len, &lim, &consumed), CW_OK);
    assert_int_equal(consumed, len);
    assert_int_equal(cw_msg_origin(d), 1);
    assert_int_equal(cw_msg_seq(d), 4);
    uint32_t n;
    assert_memory_equal(cw_msg_counters(d, &n), clock, sizeof clock);
    assert_int_equal(n, 5);
    size_t kl, vl;
    assert_memory_equal(cw_msg_key(d, &kl), key, sizeof key);
    assert_memory_equal(cw_msg_value(d, &vl), value, sizeof value);
    assert_int_equal(kl + vl, 7);
    cw_hlc_timestamp ts = cw_msg_timestamp(d);
    assert_true(cw_hlc_compare(&ts, &TS) == 0);
    cw_msg_unref(d);
    /* Too small a buffer: the needed size, nothing else. */
    assert_int_equal(cw_msg_encode(m, buf, len - 1, &consumed), CW_ENOSPC);
    assert_int_equal(consumed, len);
    cw_msg_unref(m);
}

static void expect_decode_error(const uint8_t *buf, size_t len, const cw_msg_limits *lim, int want)
{
    cw_msg *d = (cw_msg *)0x1;
    size_t consumed = 77;
    int rc = cw_msg_decode(&d, buf, len, lim, &consumed);
    if (rc != want)
        fail_msg("decode of %zu bytes gave %d, expected %d", len, rc, want);
    assert_ptr_equal(d, (cw_msg *)0x1);
    assert_int_equal(consumed, 77);
}

static void test_decode_errors(void **state)
{
    (void)state;
    cw_msg *m = make(4, 3, "kk", "vvv");
    uint8_t buf[256], bad[256];
    size_t len;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    for (size_t cut = 0; cut < len; cut++)
        expect_decode_error(buf, cut, &LIMITS, CW_ETRUNC);
    memcpy(bad, buf, len);
    bad[0] = 2; /* unknown version */
    expect_decode_error(bad, len, &LIMITS, CW_EBADMSG);
    cw_msg_limits few = {3, 64, 64}; /* origin 3 is not below 3 */
    expect_decode_error(buf, len, &few, CW_EBADMSG);
    cw_msg_limits tight_key = {8, 1, 64}, tight_value = {8, 64, 2};
    expect_decode_error(buf, len, &tight_key, CW_ELIMIT);
    expect_decode_error(buf, len, &tight_value, CW_ELIMIT);
    memcpy(bad, buf, len);
    bad[13] = 0x00, bad[14] = 0x01, bad[15] = 0x00, bad[16] = 0x01; /* 65,537 clock entries */
    expect_decode_error(bad, len, &LIMITS, CW_ELIMIT);
    memcpy(bad, buf, len);
    bad[17] = 0, bad[18] = 9; /* first clock id 9 >= nodes 8 */
    expect_decode_error(bad, len, &LIMITS, CW_EBADMSG);
    memcpy(bad, buf, len);
    memset(bad + 17 + 3 * 10 + 2, 0, 8); /* origin's (id 3, 4th entry) counter -> 0 */
    expect_decode_error(bad, len, &LIMITS, CW_EBADMSG);
    expect_decode_error(buf, len, NULL, CW_EINVAL);
    cw_msg_unref(m);
}

static void test_trailing_bytes_and_random_input(void **state)
{
    (void)state;
    cw_msg *m = make(4, 0, "a", "b"), *d;
    uint8_t buf[512];
    size_t len, consumed;
    cw_msg_encode(m, buf, sizeof buf, &len);
    memcpy(buf + len, buf, len); /* two back to back */
    assert_int_equal(cw_msg_decode(&d, buf, 2 * len, &LIMITS, &consumed), CW_OK);
    assert_int_equal(consumed, len);
    cw_msg_unref(d);
    cw_msg_unref(m);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = tu_below(80);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tu_rand();
        if (n > 20 && tu_below(2)) { /* plausible header, random rest */
            buf[0] = 1, buf[1] = 0, buf[2] = (uint8_t)tu_below(8);
            buf[13] = buf[14] = buf[15] = 0, buf[16] = (uint8_t)tu_below(3);
        }
        int rc = cw_msg_decode(&d, buf, n, &LIMITS, &consumed);
        TU_CHECK(rc == CW_OK || rc == CW_ETRUNC || rc == CW_EBADMSG || rc == CW_ELIMIT);
        if (rc == CW_OK) {
            TU_CHECK(consumed <= n && cw_msg_seq(d) >= 1);
            cw_msg_unref(d);
        }
    }
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_access),
        cmocka_unit_test(test_create_rejects_bad_arguments),
        cmocka_unit_test(test_round_trip_binary_safe),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_trailing_bytes_and_random_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
