/* X-VectorClock header form with correlation and causation ids. */
#include "testutil.h"

#define GA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define GB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void parse_ok(const char *in, const char *clock, const char *corr, const char *caus)
{
    cw_header h;
    cw_header_init(&h);
    int rc = cw_header_parse(&h, in, strlen(in));
    if (rc != CW_OK)
        fail_msg("'%s' refused: %s", in, cw_strerror(rc));
    tu_assert_clock(&h.clock, clock);
    char id[33];
    assert_int_equal(h.has_correlation, corr != NULL);
    assert_int_equal(h.has_causation, caus != NULL);
    if (corr) {
        assert_int_equal(cw_uuid_format(&h.correlation, id, sizeof id), CW_OK);
        assert_string_equal(id, corr);
    }
    if (caus) {
        assert_int_equal(cw_uuid_format(&h.causation, id, sizeof id), CW_OK);
        assert_string_equal(id, caus);
    }
    cw_header_destroy(&h);
}

static void test_parse_valid(void **state)
{
    (void)state;
    parse_ok("1:3,5:2,10:1;" GA ";" GB, "1:3,5:2,10:1", GA, GB);
    parse_ok("1:3", "1:3", NULL, NULL);
    parse_ok("", "", NULL, NULL);
    parse_ok(";" GA, "", GA, NULL);
    parse_ok(";" GA ";" GB, "", GA, GB);
    parse_ok("2:1,1:1;" GA, "1:1,2:1", GA, NULL);
    /* GUID spellings: upper case, hyphenated, braces. */
    parse_ok("1:1;AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1:1", GA, NULL);
    parse_ok("1:1;01234567-89ab-CDEF-0123-456789abcdef", "1:1", "0123456789abcdef0123456789abcdef", NULL);
    parse_ok("1:1;{01234567-89ab-cdef-0123-456789abcdef};{" GB "}", "1:1",
             "0123456789abcdef0123456789abcdef", GB);
}

static void parse_bad(const char *in)
{
    cw_header h;
    cw_header_init(&h);
    const char *prior = "9:9;" GB ";" GA;
    assert_int_equal(cw_header_parse(&h, prior, strlen(prior)), CW_OK);
    int rc = cw_header_parse(&h, in, strlen(in));
    if (rc != CW_EPARSE)
        fail_msg("'%s' gave %d, expected CW_EPARSE", in, rc);
    /* unchanged */
    tu_assert_clock(&h.clock, "9:9");
    assert_true(h.has_correlation && h.has_causation);
    assert_int_equal(h.correlation.bytes[0], 0xbb);
    assert_int_equal(h.causation.bytes[15], 0xaa);
    cw_header_destroy(&h);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    parse_bad("1:1;");
    parse_bad("1:1;;" GA);
    parse_bad(";");
    parse_bad(";;");
    parse_bad("1:1;" GA ";" GB ";" GA); /* a fourth segment */
    parse_bad("1:1;" GA ";");
    parse_bad("1:1;xyz");
    parse_bad("1:1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");    /* 31 digits */
    parse_bad("1:1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");  /* 33 digits */
    parse_bad("1:1;gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");   /* not hex */
    parse_bad("1:1;01234567-89ab-cdef-0123-456789abcdeg");
    parse_bad("1:1;0123456789-ab-cdef-0123-456789abcdef");  /* hyphens misplaced */
    parse_bad("1:1;{" GA);
    parse_bad("1:1;" GA "}");
    parse_bad("1:1; " GA);
    parse_bad("x:1;" GA);
    parse_bad("1:2, 3:4");
}

static void test_format(void **state)
{
    (void)state;
    cw_header h;
    cw_header_init(&h);
    tu_parse(&h.clock, "1:3,5:2,10:1");
    char buf[128];
    size_t len;
    assert_int_equal(cw_header_format(&h, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "1:3,5:2,10:1");
    memset(h.correlation.bytes, 0xaa, 16);
    memset(h.causation.bytes, 0xbb, 16);
    h.has_correlation = true;
    assert_int_equal(cw_header_format(&h, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "1:3,5:2,10:1;" GA);
    h.has_causation = true;
    assert_int_equal(cw_header_format(&h, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, "1:3,5:2,10:1;" GA ";" GB);
    assert_int_equal(len, strlen(buf));
    /* Too small at every size: nothing written, needed size reported. */
    for (size_t cap = 0; cap <= len; cap++) {
        char small[128];
        memset(small, '#', sizeof small);
        size_t need = 0;
        assert_int_equal(cw_header_format(&h, small, cap, &need), CW_ENOSPC);
        assert_int_equal(need, len);
        assert_int_equal(small[0], '#');
    }
    /* Causation without correlation is refused (Clockworks drops it). */
    h.has_correlation = false;
    assert_int_equal(cw_header_format(&h, buf, sizeof buf, &len), CW_EINVAL);
    /* Empty clock with an id round-trips. */
    cw_vclock_clear(&h.clock);
    h.has_correlation = true;
    h.has_causation = false;
    assert_int_equal(cw_header_format(&h, buf, sizeof buf, &len), CW_OK);
    assert_string_equal(buf, ";" GA);
    cw_header_destroy(&h);
}

static void test_property_round_trip(void **state)
{
    (void)state;
    cw_header a, b;
    cw_header_init(&a);
    cw_header_init(&b);
    char buf[4096];
    for (int iter = 0; iter < 2000; iter++) {
        tu_random_clock(&a.clock, 50, (double)tu_below(50) / 100, false);
        a.has_correlation = tu_below(2);
        a.has_causation = a.has_correlation && tu_below(2);
        for (int i = 0; i < 16; i++) {
            a.correlation.bytes[i] = a.has_correlation ? (uint8_t)tu_rand() : 0;
            a.causation.bytes[i] = a.has_causation ? (uint8_t)tu_rand() : 0;
        }
        size_t len;
        TU_CHECK(cw_header_format(&a, buf, sizeof buf, &len) == CW_OK);
        TU_CHECK(cw_header_parse(&b, buf, len) == CW_OK);
        TU_CHECK(tu_clock_equal(&a.clock, &b.clock));
        TU_CHECK(a.has_correlation == b.has_correlation && a.has_causation == b.has_causation);
        TU_CHECK(memcmp(&a.correlation, &b.correlation, 16) == 0);
        TU_CHECK(memcmp(&a.causation, &b.causation, 16) == 0);
    }
    cw_header_destroy(&a);
    cw_header_destroy(&b);
}

static void test_uuid_api(void **state)
{
    (void)state;
    cw_uuid u;
    char buf[33];
    assert_int_equal(cw_uuid_parse(&u, "00112233445566778899aabbccddeeff", 32), CW_OK);
    assert_int_equal(u.bytes[0], 0x00);
    assert_int_equal(u.bytes[1], 0x11);
    assert_int_equal(u.bytes[15], 0xff);
    assert_int_equal(cw_uuid_format(&u, buf, 32), CW_ENOSPC);
    assert_int_equal(cw_uuid_format(&u, buf, 33), CW_OK);
    assert_string_equal(buf, "00112233445566778899aabbccddeeff");
    assert_int_equal(cw_uuid_parse(&u, "{}", 2), CW_EPARSE);
    assert_int_equal(cw_uuid_parse(NULL, "x", 1), CW_EINVAL);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_property_round_trip),
        cmocka_unit_test(test_uuid_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
