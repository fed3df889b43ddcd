/* What stress and sim print alike (src/cli/report.h): durations in the unit
 * that fits, never in exponent form, which a reader or a script matching
 * "converged 999 ms" would not expect. */
#include "testutil.h"
#include "report.h"

static void expect(double ns, const char *text)
{
    char buf[32];
    assert_string_equal(cli_duration(ns, buf, sizeof buf), text);
}

static void test_durations_in_the_unit_that_fits(void **state)
{
    (void)state;
    expect(0, "0 ns");
    expect(812, "812 ns");
    expect(999.4, "999 ns");
    expect(999.6, "1 us");
    expect(140e3, "140 us");
    expect(999.4e3, "999 us");
    expect(999.7e3, "1 ms");
    expect(27.4e6, "27.4 ms");
    expect(999.7e6, "1 s");
    expect(3.21e9, "3.21 s");
    expect(999.4e9, "999 s");
    expect(999.7e9, "1000 s");
    expect(12345e9, "12345 s");
}

/* Every duration from 1 ns to a day, a thousandth of a decade apart,
 * prints without an exponent. */
static void test_no_exponent(void **state)
{
    (void)state;
    char buf[32];
    for (double ns = 1; ns < 864e11; ns *= 1.0023)
        assert_null(strchr(cli_duration(ns, buf, sizeof buf), 'e'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations_in_the_unit_that_fits),
        cmocka_unit_test(test_no_exponent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
