/* The address allow-list of a node's ZeroMQ endpoints (src/server/allow.c):
 * what `--allow` and `--client-allow` parse, what they refuse with a reason,
 * and which connection addresses they admit. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "allow.h"

static void expect_refused(const char *text, const char *reason)
{
    cw__allow a = {.count = 7};
    char err[160] = "";
    if (cw__allow_parse(&a, text, err, sizeof err) != CW_EINVAL)
        fail_msg("'%s' was taken", text);
    if (!strstr(err, reason))
        fail_msg("'%s': reason '%s', expected it to say '%s'", text, err, reason);
    assert_int_equal(a.count, 7); /* unchanged */
}

static void test_ranges_parse_and_admit(void **state)
{
    (void)state;
    cw__allow a;
    char err[160] = "";
    assert_int_equal(cw__allow_parse(&a, "10.0.0.0/8,192.168.1.7,fd00::/8,::1,172.16.0.0/12", err, sizeof err),
                     CW_OK);
    assert_int_equal(a.count, 5);
    assert_true(cw__allow_admits(&a, "10.0.0.0"));
    assert_true(cw__allow_admits(&a, "10.255.255.255"));
    assert_false(cw__allow_admits(&a, "11.0.0.0"));
    assert_false(cw__allow_admits(&a, "9.255.255.255"));
    assert_true(cw__allow_admits(&a, "192.168.1.7"));
    assert_false(cw__allow_admits(&a, "192.168.1.8"));
    assert_true(cw__allow_admits(&a, "172.31.255.1"));  /* /12: 172.16-172.31 */
    assert_false(cw__allow_admits(&a, "172.32.0.1"));
    assert_true(cw__allow_admits(&a, "fd12:3456::1"));
    assert_false(cw__allow_admits(&a, "fe80::1"));
    assert_true(cw__allow_admits(&a, "::1"));
    assert_false(cw__allow_admits(&a, "::2"));
    /* A link-local peer comes with its zone, which names no address. */
    assert_true(cw__allow_admits(&a, "fd12::1%eth0"));
    assert_false(cw__allow_admits(&a, "fe80::1%eth0"));
    assert_false(cw__allow_admits(&a, "%eth0"));
    /* What a dual-stack socket reports for an IPv4 peer. */
    assert_true(cw__allow_admits(&a, "::ffff:10.1.2.3"));
    assert_false(cw__allow_admits(&a, "::ffff:11.1.2.3"));
    /* Not an address: not admitted. */
    assert_false(cw__allow_admits(&a, ""));
    assert_false(cw__allow_admits(&a, "localhost"));
    assert_false(cw__allow_admits(&a, "10.0.0.1/8"));
    assert_false(cw__allow_admits(NULL, "10.0.0.1"));
    assert_false(cw__allow_admits(&a, NULL));
    /* 0.0.0.0/0 admits every IPv4 address, mapped too, and no IPv6 one. */
    assert_int_equal(cw__allow_parse(&a, "0.0.0.0/0", err, sizeof err), CW_OK);
    assert_true(cw__allow_admits(&a, "203.0.113.9"));
    assert_true(cw__allow_admits(&a, "::ffff:203.0.113.9"));
    assert_false(cw__allow_admits(&a, "2001:db8::1"));
    /* A range written in IPv6 counts its bits in IPv6 and admits the IPv4
     * addresses mapped into it. */
    assert_int_equal(cw__allow_parse(&a, "::ffff:127.0.0.0/104", err, sizeof err), CW_OK);
    assert_true(cw__allow_admits(&a, "127.0.0.1"));
    assert_true(cw__allow_admits(&a, "::ffff:127.255.0.9"));
    assert_false(cw__allow_admits(&a, "128.0.0.1"));
    assert_false(cw__allow_admits(&a, "::1"));
    assert_int_equal(cw__allow_parse(&a, "::ffff:127.0.0.1", err, sizeof err), CW_OK);
    assert_true(cw__allow_admits(&a, "127.0.0.1"));
    assert_false(cw__allow_admits(&a, "127.0.0.2"));
    assert_int_equal(cw__allow_parse(&a, "::ffff:0:0/96", err, sizeof err), CW_OK);
    assert_true(cw__allow_admits(&a, "198.51.100.1"));
    assert_false(cw__allow_admits(&a, "2001:db8::1"));
    assert_int_equal(cw__allow_parse(&a, "::/0", err, sizeof err), CW_OK);
    assert_true(cw__allow_admits(&a, "198.51.100.1"));
    assert_true(cw__allow_admits(&a, "::ffff:198.51.100.1"));
    assert_true(cw__allow_admits(&a, "2001:db8::1"));
}

static void test_bad_lists_are_refused_with_a_reason(void **state)
{
    (void)state;
    expect_refused("", "expected ADDRESS");
    expect_refused("10.0.0.0/8,", "expected ADDRESS");
    expect_refused(",10.0.0.0/8", "expected ADDRESS");
    expect_refused("localhost", "not an IPv4 or IPv6 address");
    expect_refused("10.0.0", "not an IPv4 or IPv6 address");
    expect_refused("10.0.0.1/8", "bits set beyond the /8 prefix");
    expect_refused("::ffff:10.0.0.0/8", "bits set beyond the /8 prefix"); /* IPv6 bits: /104 */
    expect_refused("10.0.0.0/33", "from 0 to 32");
    expect_refused("fd00::/129", "from 0 to 128");
    expect_refused("10.0.0.0/", "from 0 to 32");
    expect_refused("10.0.0.0/8x", "from 0 to 32");
    expect_refused("10.0.0.0/-1", "from 0 to 32");
    expect_refused("10.0.0.0/ 8", "from 0 to 32");
    char longer[200];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    expect_refused(longer, "expected ADDRESS");
    /* CW__ALLOW_MAX ranges are taken, one more is not. */
    char list[CW__ALLOW_MAX * 16 + 16] = "";
    size_t len = 0;
    for (unsigned i = 0; i < CW__ALLOW_MAX; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s10.0.%u.0/24", i ? "," : "", i);
    cw__allow a;
    char err[160];
    assert_int_equal(cw__allow_parse(&a, list, err, sizeof err), CW_OK);
    assert_int_equal(a.count, CW__ALLOW_MAX);
    assert_true(cw__allow_admits(&a, "10.0.63.200"));
    snprintf(list + len, sizeof list - len, ",10.1.0.0/16");
    expect_refused(list, "more than 64 ranges");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_parse_and_admit),
        cmocka_unit_test(test_bad_lists_are_refused_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
