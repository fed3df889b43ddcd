/* Text form: every vector and every rejected input of clock-formats.md. */
#include "testutil.h"
#include "vclock_internal.h"

static void accepts(const char *in, const char *canonical)
{
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, "77:7"); /* prior contents must be replaced */
    int rc = cw_vclock_parse(&c, in, strlen(in));
    if (rc != CW_OK)
        fail_msg("'%s' was refused: %s", in, cw_strerror(rc));
    tu_assert_clock(&c, canonical);
    assert_true(cw__vclock_is_canonical(&c));
    cw_vclock_destroy(&c);
}

static void test_valid_inputs(void **state)
{
    (void)state;
    accepts("", "");
    accepts(" ", "");
    accepts(" \t\r\n ", "");
    accepts(",,,", "");
    accepts("1:2,", "1:2");
    accepts(",1:2", "1:2");
    accepts("1:2,,3:4", "1:2,3:4");
    accepts("1:2,3:4", "1:2,3:4");
    accepts("007:01", "7:1");
    accepts("0:5", "0:5");
    accepts("5:1,2:3,1:2", "1:2,2:3,5:1");
    accepts("2:1,1:4,2:3,1:2", "1:4,2:3");
    accepts("1:0", "");
    accepts("1:0,2:1", "2:1");
    accepts("65535:18446744073709551615", "65535:18446744073709551615");
    accepts("1:3,5:2,10:1", "1:3,5:2,10:1");
    accepts("00000000000000000000001:000000000000000000000000002", "1:2");
}

static void rejects(const char *in)
{
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, "1:1,9:9");
    int rc = cw_vclock_parse(&c, in, strlen(in));
    if (rc != CW_EPARSE)
        fail_msg("'%s' gave %d, expected CW_EPARSE", in, rc);
    tu_assert_clock(&c, "1:1,9:9"); /* untouched */
    cw_vclock_destroy(&c);
}

static void test_rejected_inputs(void **state)
{
    (void)state;
    const char *bad[] = {
        "invalid", "1", "1:", ":1", "1:2:3", "a:1", "-1:1", "+1:1", "1:-1", " 1:2", "1:2 ",
        "1: 2", "1:2, 3:4", "0x1:1", "1.0:2", "65536:1", "1:18446744073709551616",
        "99999999999999999999:1", "1:99999999999999999999999", ":", "1:2,:", "1:2,x",
        "\xd9\xa1:1",          /* ARABIC-INDIC DIGIT ONE */
        "1:\xef\xbc\x92",      /* FULLWIDTH DIGIT TWO */
        "1:2;3:4", "1:2\n", "\t1:2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        rejects(bad[i]);
}

static void test_length_bounds_input(void **state)
{
    (void)state;
    cw_vclock c;
    cw_vclock_init(&c);
    /* Only len bytes are read: no NUL needed, and what follows is ignored. */
    const char text[] = {'1', ':', '2', ',', '3', ':', '4', 'x'};
    assert_int_equal(cw_vclock_parse(&c, text, 7), CW_OK);
    tu_assert_clock(&c, "1:2,3:4");
    assert_int_equal(cw_vclock_parse(&c, text, 8), CW_EPARSE);
    assert_int_equal(cw_vclock_parse(&c, NULL, 0), CW_OK); /* empty */
    assert_int_equal(cw_vclock_size(&c), 0);
    assert_int_equal(cw_vclock_parse(&c, NULL, 3), CW_EINVAL);
    assert_int_equal(cw_vclock_parse(NULL, "1:1", 3), CW_EINVAL);
    cw_vclock_destroy(&c);
}

static void test_format(void **state)
{
    (void)state;
    cw_vclock c;
    cw_vclock_init(&c);
    char buf[64];
    size_t len = 99;
    assert_int_equal(cw_vclock_format(&c, buf, sizeof buf, &len), CW_OK);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    /* The empty clock still needs room for the NUL. */
    assert_int_equal(cw_vclock_format(&c, buf, 0, &len), CW_ENOSPC);
    assert_int_equal(len, 0);

    tu_parse(&c, "1:2,2:3,5:1");
    assert_int_equal(cw_vclock_format(&c, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "1:2,2:3,5:1");
    assert_int_equal(len, 11);
    /* Too small: nothing written, needed length reported; len + 1 suffices. */
    memset(buf, '#', sizeof buf);
    assert_int_equal(cw_vclock_format(&c, buf, 11, &len), CW_ENOSPC);
    assert_int_equal(len, 11);
    assert_int_equal(buf[0], '#');
    assert_int_equal(cw_vclock_format(&c, buf, 12, &len), CW_OK);
    assert_string_equal(buf, "1:2,2:3,5:1");
    assert_int_equal(cw_vclock_format(&c, NULL, 0, &len), CW_ENOSPC);
    assert_int_equal(len, 11);
    assert_int_equal(cw_vclock_format(&c, buf, sizeof buf, NULL), CW_EINVAL);
    assert_int_equal(cw_vclock_format(NULL, buf, sizeof buf, &len), CW_EINVAL);

    assert_int_equal(cw_vclock_set(&c, 65535, UINT64_MAX), CW_OK);
    assert_int_equal(cw_vclock_set(&c, 0, 10), CW_OK);
    assert_int_equal(cw_vclock_format(&c, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "0:10,1:2,2:3,5:1,65535:18446744073709551615");
    cw_vclock_destroy(&c);
}

static void test_property_round_trip(void **state)
{
    (void)state;
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    char buf[16384];
    for (int iter = 0; iter < 2000; iter++) {
        cw_vclock_clear(&a);
        size_t n = tu_below(40);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = tu_below(3) ? tu_below(1000) : tu_rand();
            cw_vclock_set(&a, (cw_node_id)tu_rand(), v);
        }
        size_t len;
        TU_CHECK(cw_vclock_format(&a, buf, sizeof buf, &len) == CW_OK);
        TU_CHECK(strlen(buf) == len);
        TU_CHECK(cw_vclock_parse(&b, buf, len) == CW_OK);
        TU_CHECK(tu_clock_equal(&a, &b));
    }
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
}

static void test_property_random_text_never_breaks_clock(void **state)
{
    (void)state;
    /* Random strings over the text alphabet: each either parses to a
     * canonical clock whose text parses back to itself, or is refused with
     * CW_EPARSE and leaves the clock unchanged. */
    static const char alphabet[] = "0123456789::,, \t-+x";
    cw_vclock c, again, keep;
    cw_vclock_init(&c);
    cw_vclock_init(&again);
    cw_vclock_init(&keep);
    tu_parse(&keep, "3:3");
    char in[48], out[2048];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = tu_below(sizeof in);
        for (size_t i = 0; i < n; i++)
            in[i] = alphabet[tu_below(sizeof alphabet - 1)];
        cw_vclock_copy(&c, &keep);
        int rc = cw_vclock_parse(&c, in, n);
        if (rc != CW_OK) {
            TU_CHECK(rc == CW_EPARSE);
            TU_CHECK(tu_clock_equal(&c, &keep));
            continue;
        }
        TU_CHECK(cw__vclock_is_canonical(&c));
        size_t len;
        TU_CHECK(cw_vclock_format(&c, out, sizeof out, &len) == CW_OK);
        TU_CHECK(cw_vclock_parse(&again, out, len) == CW_OK);
        TU_CHECK(tu_clock_equal(&c, &again));
    }
    cw_vclock_destroy(&c);
    cw_vclock_destroy(&again);
    cw_vclock_destroy(&keep);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_inputs),
        cmocka_unit_test(test_rejected_inputs),
        cmocka_unit_test(test_length_bounds_input),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_property_round_trip),
        cmocka_unit_test(test_property_random_text_never_breaks_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
