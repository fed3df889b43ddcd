/* Binary form: the vectors of clock-formats.md, every truncation, limits,
 * trailing bytes, random bytes, round trips. */
#include "testutil.h"
#include "vclock_internal.h"

/* Hex with optional spaces and '|' -> bytes; returns the length. */
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    int half = -1;
    for (; *hex; hex++) {
        if (*hex == ' ' || *hex == '|')
            continue;
        int d = *hex <= '9' ? *hex - '0' : (*hex | 0x20) - 'a' + 10;
        if (half < 0) {
            half = d;
        } else {
            out[n++] = (uint8_t)(half << 4 | d);
            half = -1;
        }
    }
    return n;
}

static void encodes_to(const char *text, const char *hex)
{
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, text);
    uint8_t expect[256], got[256];
    size_t n = unhex(hex, expect), len;
    assert_int_equal(cw_vclock_encoded_size(&c), n);
    assert_int_equal(cw_vclock_encode(&c, got, sizeof got, &len), CW_OK);
    assert_int_equal(len, n);
    assert_memory_equal(got, expect, n);
    /* and back */
    cw_vclock d;
    cw_vclock_init(&d);
    size_t consumed = 0;
    assert_int_equal(cw_vclock_decode(&d, expect, n, &consumed), CW_OK);
    assert_int_equal(consumed, n);
    assert_true(tu_clock_equal(&c, &d));
    cw_vclock_destroy(&c);
    cw_vclock_destroy(&d);
}

static void test_vectors(void **state)
{
    (void)state;
    encodes_to("", "00000000");
    encodes_to("42:1", "00000001 002A 0000000000000001");
    encodes_to("1:2,2:3,5:1",
               "00000003 0001 0000000000000002 0002 0000000000000003 0005 0000000000000001");
    encodes_to("65535:18446744073709551615", "00000001 FFFF FFFFFFFFFFFFFFFF");
}

static void decodes_to(const char *hex, const char *text)
{
    uint8_t buf[256];
    size_t n = unhex(hex, buf), consumed = 0;
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, "88:8");
    assert_int_equal(cw_vclock_decode(&c, buf, n, &consumed), CW_OK);
    assert_int_equal(consumed, n);
    tu_assert_clock(&c, text);
    assert_true(cw__vclock_is_canonical(&c));
    cw_vclock_destroy(&c);
}

static void test_decode_canonicalises(void **state)
{
    (void)state;
    decodes_to("00000003 | 0002 0000000000000004 | 0001 0000000000000007 | 0002 0000000000000005",
               "1:7,2:5");
    decodes_to("00000002 0005 0000000000000001 0001 0000000000000002", "1:2,5:1");
    decodes_to("00000002 0001 0000000000000000 0002 0000000000000003", "2:3");
    decodes_to("00000001 0001 0000000000000000", "");
}

/* no_alloc: every allocation fails during the decode, proving it makes none. */
static void fails_unchanged_opt(const uint8_t *buf, size_t len, int expect, bool no_alloc)
{
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, "4:4");
    size_t consumed = 12345;
    if (no_alloc)
        tu_fail_alloc_after(0);
    int rc = cw_vclock_decode(&c, buf, len, &consumed);
    tu_fail_alloc_off();
    if (rc != expect)
        fail_msg("decode of %zu bytes gave %d, expected %d", len, rc, expect);
    tu_assert_clock(&c, "4:4");
    assert_int_equal(consumed, 12345);
    cw_vclock_destroy(&c);
}

static void fails_unchanged(const uint8_t *buf, size_t len, int expect)
{
    fails_unchanged_opt(buf, len, expect, false);
}

static void test_every_truncation(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = unhex("00000003 0001 0000000000000002 0002 0000000000000003 0005 0000000000000001", buf);
    assert_int_equal(n, 34);
    for (size_t len = 0; len < n; len++)
        fails_unchanged(buf, len, CW_ETRUNC);
    fails_unchanged(NULL, 0, CW_ETRUNC);
}

static void test_limit_checked_before_length(void **state)
{
    (void)state;
    uint8_t b65537[4] = {0x00, 0x01, 0x00, 0x01};
    uint8_t huge[4] = {0x80, 0x00, 0x00, 0x00};
    uint8_t ones[4] = {0xff, 0xff, 0xff, 0xff};
    fails_unchanged_opt(b65537, 4, CW_ELIMIT, true);
    fails_unchanged_opt(huge, 4, CW_ELIMIT, true);
    fails_unchanged_opt(ones, 4, CW_ELIMIT, true);
    /* Exactly 65,536 entries is allowed. */
    size_t len = 4 + 10 * 65536u;
    uint8_t *big = malloc(len);
    assert_non_null(big);
    big[0] = 0, big[1] = 1, big[2] = 0, big[3] = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint8_t *e = big + 4 + 10 * i;
        e[0] = (uint8_t)(i >> 8), e[1] = (uint8_t)i;
        memset(e + 2, 0, 7);
        e[9] = 1;
    }
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_vclock_decode(&c, big, len, NULL), CW_OK);
    assert_int_equal(cw_vclock_size(&c), 65536);
    fails_unchanged(big, len - 1, CW_ETRUNC);
    free(big);
    cw_vclock_destroy(&c);
}

static void test_trailing_bytes_and_embedding(void **state)
{
    (void)state;
    /* Two clocks back to back in one message, then a payload. */
    uint8_t buf[128];
    size_t n = unhex("00000001 002A 0000000000000001 00000000 DEADBEEF", buf), consumed;
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_vclock_decode(&c, buf, n, &consumed), CW_OK);
    assert_int_equal(consumed, 14);
    tu_assert_clock(&c, "42:1");
    assert_int_equal(cw_vclock_decode(&c, buf + consumed, n - consumed, &consumed), CW_OK);
    assert_int_equal(consumed, 4);
    tu_assert_clock(&c, "");
    cw_vclock_destroy(&c);
}

static void test_encode_enospc(void **state)
{
    (void)state;
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, "1:2,2:3,5:1");
    uint8_t buf[64];
    memset(buf, 0xee, sizeof buf);
    size_t len = 0;
    for (size_t cap = 0; cap < 34; cap++) {
        assert_int_equal(cw_vclock_encode(&c, buf, cap, &len), CW_ENOSPC);
        assert_int_equal(len, 34);
        assert_int_equal(buf[0], 0xee);
    }
    assert_int_equal(cw_vclock_encode(&c, NULL, 0, &len), CW_ENOSPC);
    assert_int_equal(cw_vclock_encode(&c, buf, 34, NULL), CW_EINVAL);
    assert_int_equal(cw_vclock_encode(NULL, buf, 34, &len), CW_EINVAL);
    assert_int_equal(cw_vclock_decode(NULL, buf, 34, NULL), CW_EINVAL);
    cw_vclock_destroy(&c);
}

static void test_property_round_trip_and_random_bytes(void **state)
{
    (void)state;
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    uint8_t buf[1024];
    for (int iter = 0; iter < 3000; iter++) {
        cw_vclock_clear(&a);
        size_t n = tu_below(60);
        for (size_t i = 0; i < n; i++)
            cw_vclock_set(&a, (cw_node_id)tu_rand(), tu_below(2) ? tu_rand() : 1 + tu_below(9));
        size_t len, consumed;
        TU_CHECK(cw_vclock_encode(&a, buf, sizeof buf, &len) == CW_OK);
        TU_CHECK(len == cw_vclock_encoded_size(&a));
        TU_CHECK(cw_vclock_decode(&b, buf, len, &consumed) == CW_OK);
        TU_CHECK(consumed == len && tu_clock_equal(&a, &b));
    }
    /* Random bytes with a small declared count: decode either succeeds with a
     * canonical clock or fails with a precise code, never anything else. */
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = tu_below(80);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)tu_rand();
        if (len >= 4 && tu_below(2)) {
            buf[0] = buf[1] = buf[2] = 0;
            buf[3] = (uint8_t)tu_below(9);
        }
        size_t consumed = 0;
        int rc = cw_vclock_decode(&b, buf, len, &consumed);
        TU_CHECK(rc == CW_OK || rc == CW_ETRUNC || rc == CW_ELIMIT);
        if (rc == CW_OK)
            TU_CHECK(cw__vclock_is_canonical(&b) && consumed <= len);
    }
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_decode_canonicalises),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_limit_checked_before_length),
        cmocka_unit_test(test_trailing_bytes_and_embedding),
        cmocka_unit_test(test_encode_enospc),
        cmocka_unit_test(test_property_round_trip_and_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
