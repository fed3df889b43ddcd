/* Error codes, their sentences, and the version, from <causeway/error.h>
 * alone: the contract's "Errors and version" block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <causeway/error.h>

static void test_codes_match_contract(void **state)
{
    (void)state;
    /* Values are part of the public contract. */
    assert_int_equal(CW_OK, 0);
    assert_int_equal(CW_EINVAL, -1);
    assert_int_equal(CW_ENOMEM, -2);
    assert_int_equal(CW_EPARSE, -3);
    assert_int_equal(CW_ETRUNC, -4);
    assert_int_equal(CW_ENOSPC, -5);
    assert_int_equal(CW_EOVERFLOW, -6);
    assert_int_equal(CW_ELIMIT, -7);
    assert_int_equal(CW_ENOTFOUND, -8);
    assert_int_equal(CW_ETIMEDOUT, -9);
    assert_int_equal(CW_ECLOSED, -10);
}

static void test_every_code_has_its_own_sentence(void **state)
{
    (void)state;
    const char *unknown = cw_strerror(12345);
    assert_non_null(unknown);
    for (int code = 0; code >= CW_ESIBLINGS; code--) {
        const char *s = cw_strerror(code);
        assert_non_null(s);
        assert_true(strlen(s) > 5);
        assert_string_not_equal(s, unknown);
        for (int other = code - 1; other >= CW_ESIBLINGS; other--)
            assert_string_not_equal(s, cw_strerror(other));
    }
    assert_non_null(cw_strerror(1));
    assert_non_null(cw_strerror(-1000));
}

static void test_version_matches_header(void **state)
{
    (void)state;
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", CW_VERSION_MAJOR, CW_VERSION_MINOR, CW_VERSION_PATCH);
    assert_string_equal(cw_version(), expect);
    assert_string_equal(cw_version(), CW_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_match_contract),
        cmocka_unit_test(test_every_code_has_its_own_sentence),
        cmocka_unit_test(test_version_matches_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
