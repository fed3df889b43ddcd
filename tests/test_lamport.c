/* Lamport clock: IR1 tick, IR2 receive = max + 1, overflow refused. */
#include "testutil.h"

static void test_tick_and_receive(void **state)
{
    (void)state;
    cw_lamport l;
    cw_lamport_init(&l);
    uint64_t s = 0;
    assert_int_equal(l.time, 0);
    assert_int_equal(cw_lamport_tick(&l, &s), CW_OK);
    assert_int_equal(s, 1);
    assert_int_equal(cw_lamport_receive(&l, 5, &s), CW_OK);
    assert_int_equal(s, 6); /* max(1, 5) + 1 */
    assert_int_equal(cw_lamport_receive(&l, 2, &s), CW_OK);
    assert_int_equal(s, 7); /* max(6, 2) + 1 */
    assert_int_equal(cw_lamport_tick(&l, NULL), CW_OK);
    assert_int_equal(l.time, 8);
}

static void test_clock_condition_across_processes(void **state)
{
    (void)state;
    /* Four processes exchange messages (seed 001's servers): every receive is
     * stamped after the send it answers. */
    cw_lamport p[4];
    for (int i = 0; i < 4; i++)
        cw_lamport_init(&p[i]);
    for (int round = 0; round < 200; round++) {
        int from = (int)tu_below(4), to = (int)tu_below(4);
        uint64_t sent, got;
        assert_int_equal(cw_lamport_tick(&p[from], &sent), CW_OK);
        if (to == from)
            continue;
        assert_int_equal(cw_lamport_receive(&p[to], sent, &got), CW_OK);
        TU_CHECK(got > sent);
    }
}

static void test_overflow_refused_unchanged(void **state)
{
    (void)state;
    cw_lamport l = {UINT64_MAX};
    uint64_t s = 42;
    assert_int_equal(cw_lamport_tick(&l, &s), CW_EOVERFLOW);
    assert_int_equal(l.time, UINT64_MAX);
    assert_int_equal(s, 42);
    l.time = 3;
    assert_int_equal(cw_lamport_receive(&l, UINT64_MAX, &s), CW_EOVERFLOW);
    assert_int_equal(l.time, 3);
    assert_int_equal(s, 42);
    assert_int_equal(cw_lamport_receive(&l, UINT64_MAX - 1, &s), CW_OK);
    assert_int_equal(s, UINT64_MAX);
    assert_int_equal(cw_lamport_tick(NULL, NULL), CW_EINVAL);
    assert_int_equal(cw_lamport_receive(NULL, 1, NULL), CW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tick_and_receive),
        cmocka_unit_test(test_clock_condition_across_processes),
        cmocka_unit_test(test_overflow_refused_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
