/* The checksum that seals a durable node's records (src/server/crc32c.c):
 * the standard CRC-32C, the same on the fast and the portable path, and
 * chainable, since a seal covers a record's key and then its bytes. */
#include <stdint.h>
#include <string.h>

#include "testutil.h"

#include "crc32c.h"

static void test_known_values(void **state)
{
    (void)state;
    /* The check value of CRC-32C (RFC 3720, B.4; the "123456789" test). */
    assert_int_equal(cw__crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(cw__crc32c_portable(0, "123456789", 9), 0xe3069283u);
    uint8_t zeros[32] = {0};
    assert_int_equal(cw__crc32c(0, zeros, sizeof zeros), 0x8a9136aau); /* RFC 3720, B.4: 32 bytes of 0 */
    assert_int_equal(cw__crc32c(0, NULL, 0), 0);
}

static void test_fast_path_agrees_and_chains(void **state)
{
    (void)state;
    uint8_t buf[300];
    uint64_t rng = 12345;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)cw__splitmix64(&rng);
    /* Every length and start (alignment) up to a few words, and a long one. */
    for (size_t at = 0; at < 9; at++)
        for (size_t len = 0; len + at <= 40; len++)
            assert_int_equal(cw__crc32c(0, buf + at, len), cw__crc32c_portable(0, buf + at, len));
    uint32_t whole = cw__crc32c(0, buf, sizeof buf);
    assert_int_equal(whole, cw__crc32c_portable(0, buf, sizeof buf));
    for (size_t cut = 0; cut <= sizeof buf; cut += 37)
        assert_int_equal(cw__crc32c(cw__crc32c(0, buf, cut), buf + cut, sizeof buf - cut), whole);
    buf[150] ^= 4; /* one bit flipped is seen */
    assert_int_not_equal(cw__crc32c(0, buf, sizeof buf), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_fast_path_agrees_and_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
