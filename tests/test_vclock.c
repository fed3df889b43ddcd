/* Sparse vector clock: storage, order, merge, increment; failure atomicity;
 * properties against a dense reference model. */
#include "testutil.h"
#include "vclock_internal.h"

/* ---- examples from clock-formats.md ---- */

static cw_order order_of(const char *a, const char *b)
{
    cw_vclock x, y;
    cw_vclock_init(&x);
    cw_vclock_init(&y);
    tu_parse(&x, a);
    tu_parse(&y, b);
    cw_order o = cw_vclock_compare(&x, &y);
    cw_vclock_destroy(&x);
    cw_vclock_destroy(&y);
    return o;
}

static void test_compare_examples(void **state)
{
    (void)state;
    assert_int_equal(order_of("", ""), CW_EQUAL);
    assert_int_equal(order_of("", "1:1"), CW_BEFORE);
    assert_int_equal(order_of("1:1", ""), CW_AFTER);
    assert_int_equal(order_of("1:1,2:1", "1:2,2:1"), CW_BEFORE);
    assert_int_equal(order_of("1:2,2:1", "1:1,2:1"), CW_AFTER);
    assert_int_equal(order_of("1:1", "2:1"), CW_CONCURRENT);
    assert_int_equal(order_of("2:1", "1:1"), CW_CONCURRENT);
    assert_int_equal(order_of("1:2,2:1", "1:1,2:2"), CW_CONCURRENT);
    assert_int_equal(order_of("1:2,2:3", "1:2,2:3"), CW_EQUAL);
    /* Explicit zeros are dropped, so {1:0} and {2:0} are both {} (Clockworks 1.3 bug). */
    assert_int_equal(order_of("1:0", "2:0"), CW_EQUAL);
    /* The numeric encoding of the contract. */
    assert_int_equal(CW_EQUAL, 0);
    assert_int_equal(CW_BEFORE, 1);
    assert_int_equal(CW_AFTER, 2);
    assert_int_equal(CW_CONCURRENT, 3);
    assert_string_equal(cw_order_name(CW_CONCURRENT), "CONCURRENT");
    assert_int_equal(cw_vclock_compare(NULL, NULL), CW_EQUAL);
}

static void merge_case(const char *a, const char *b, const char *expect)
{
    cw_vclock x, y;
    cw_vclock_init(&x);
    cw_vclock_init(&y);
    tu_parse(&x, a);
    tu_parse(&y, b);
    assert_int_equal(cw_vclock_merge(&x, &y), CW_OK);
    tu_assert_clock(&x, expect);
    assert_true(cw__vclock_is_canonical(&x));
    cw_vclock_destroy(&x);
    cw_vclock_destroy(&y);
}

static void test_merge_examples(void **state)
{
    (void)state;
    merge_case("1:2", "2:3", "1:2,2:3");
    merge_case("1:2,2:1", "1:1,2:2", "1:2,2:2");
    merge_case("", "1:1", "1:1");
    merge_case("1:1", "", "1:1");
    merge_case("5:1", "1:1,2:2,3:3", "1:1,2:2,3:3,5:1");
    merge_case("1:9,7:1", "3:3,9:9", "1:9,3:3,7:1,9:9");
    merge_case("1:1,2:2", "1:3,2:1", "1:3,2:2"); /* identical membership path */
    cw_vclock x;
    cw_vclock_init(&x);
    tu_parse(&x, "1:1,3:3");
    assert_int_equal(cw_vclock_merge(&x, &x), CW_OK); /* self-merge */
    tu_assert_clock(&x, "1:1,3:3");
    assert_int_equal(cw_vclock_merge(NULL, &x), CW_EINVAL);
    assert_int_equal(cw_vclock_merge(&x, NULL), CW_EINVAL);
    cw_vclock_destroy(&x);
}

/* Join: out = max(a, b), with out a third clock or either input. */
static void test_join_examples_and_aliases(void **state)
{
    (void)state;
    cw_vclock a, b, out;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    cw_vclock_init(&out);
    tu_parse(&a, "1:5,3:1,9:2");
    tu_parse(&b, "0:1,3:4,9:2,12:7");
    tu_parse(&out, "2:9,4:9,6:9,8:9,10:9,11:9,13:9"); /* replaced, not merged into */
    assert_int_equal(cw_vclock_join(&out, &a, &b), CW_OK);
    tu_assert_clock(&out, "0:1,1:5,3:4,9:2,12:7");
    assert_int_equal(cw_vclock_join(&out, &b, &a), CW_OK);
    tu_assert_clock(&out, "0:1,1:5,3:4,9:2,12:7");
    assert_int_equal(cw_vclock_join(&out, &a, &a), CW_OK);
    tu_assert_clock(&out, "1:5,3:1,9:2");
    cw_vclock_clear(&b);
    assert_int_equal(cw_vclock_join(&out, &b, &b), CW_OK); /* two empty clocks */
    assert_int_equal(cw_vclock_size(&out), 0);
    tu_parse(&b, "0:1,3:4,9:2,12:7");
    /* out may be either input: then it is a merge into it */
    assert_int_equal(cw_vclock_join(&a, &a, &b), CW_OK);
    tu_assert_clock(&a, "0:1,1:5,3:4,9:2,12:7");
    tu_parse(&a, "1:5,3:1,9:2");
    assert_int_equal(cw_vclock_join(&b, &a, &b), CW_OK);
    tu_assert_clock(&b, "0:1,1:5,3:4,9:2,12:7");
    assert_int_equal(cw_vclock_join(NULL, &a, &b), CW_EINVAL);
    assert_int_equal(cw_vclock_join(&out, NULL, &b), CW_EINVAL);
    assert_int_equal(cw_vclock_join(&out, &a, NULL), CW_EINVAL);
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
    cw_vclock_destroy(&out);
}

static void test_get_set_increment(void **state)
{
    (void)state;
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_vclock_size(&c), 0);
    assert_int_equal(cw_vclock_get(&c, 7), 0);
    assert_int_equal(cw_vclock_increment(&c, 7), CW_OK); /* new entry starts at 1 */
    assert_int_equal(cw_vclock_get(&c, 7), 1);
    assert_int_equal(cw_vclock_set(&c, 3, 10), CW_OK);
    assert_int_equal(cw_vclock_set(&c, 65535, 2), CW_OK);
    assert_int_equal(cw_vclock_set(&c, 0, 4), CW_OK);
    tu_assert_clock(&c, "0:4,3:10,7:1,65535:2");
    assert_int_equal(cw_vclock_set(&c, 3, 0), CW_OK); /* 0 removes */
    assert_int_equal(cw_vclock_set(&c, 4, 0), CW_OK); /* removing an absent id is a no-op */
    tu_assert_clock(&c, "0:4,7:1,65535:2");
    assert_int_equal(cw_vclock_size(&c), 3);
    cw_node_id id;
    uint64_t v;
    assert_int_equal(cw_vclock_entry(&c, 1, &id, &v), CW_OK);
    assert_int_equal(id, 7);
    assert_int_equal(v, 1);
    assert_int_equal(cw_vclock_entry(&c, 3, &id, &v), CW_EINVAL);
    cw_vclock_clear(&c);
    assert_int_equal(cw_vclock_size(&c), 0);
    assert_int_equal(cw_vclock_set(NULL, 1, 1), CW_EINVAL);
    assert_int_equal(cw_vclock_increment(NULL, 1), CW_EINVAL);
    cw_vclock_destroy(&c);
    cw_vclock_destroy(&c); /* destroy twice is safe */
}

static void test_increment_overflow_refused(void **state)
{
    (void)state;
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_vclock_set(&c, 1, UINT64_MAX - 1), CW_OK);
    assert_int_equal(cw_vclock_increment(&c, 1), CW_OK);
    assert_int_equal(cw_vclock_get(&c, 1), UINT64_MAX);
    assert_int_equal(cw_vclock_increment(&c, 1), CW_EOVERFLOW);
    assert_int_equal(cw_vclock_get(&c, 1), UINT64_MAX); /* not wrapped to 0 */
    assert_int_equal(cw_vclock_size(&c), 1);
    cw_vclock_destroy(&c);
}

static void test_all_65536_ids(void **state)
{
    (void)state;
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    for (uint32_t id = 0; id < 65536; id += 2)
        assert_int_equal(cw_vclock_set(&a, (cw_node_id)id, id + 1), CW_OK);
    for (uint32_t id = 1; id < 65536; id += 2)
        assert_int_equal(cw_vclock_set(&b, (cw_node_id)id, id + 1), CW_OK);
    assert_int_equal(cw_vclock_compare(&a, &b), CW_CONCURRENT);
    /* join of the two halves into a third clock: every id, room for no more */
    cw_vclock j;
    cw_vclock_init(&j);
    assert_int_equal(cw_vclock_join(&j, &a, &b), CW_OK);
    assert_int_equal(cw_vclock_size(&j), 65536);
    assert_true(j.cap <= CW_VCLOCK_MAX_ENTRIES);
    assert_true(cw__vclock_is_canonical(&j));
    assert_int_equal(cw_vclock_merge(&a, &b), CW_OK);
    assert_true(tu_clock_equal(&j, &a));
    assert_int_equal(cw_vclock_join(&j, &a, &a), CW_OK); /* two full clocks, the same ids */
    assert_true(tu_clock_equal(&j, &a));
    assert_int_equal(cw_vclock_join(&j, &b, &a), CW_OK); /* half and full */
    assert_true(tu_clock_equal(&j, &a));
    cw_vclock_destroy(&j);
    assert_int_equal(cw_vclock_size(&a), 65536);
    assert_true(cw__vclock_is_canonical(&a));
    for (uint32_t id = 0; id < 65536; id++)
        assert_int_equal(cw_vclock_get(&a, (cw_node_id)id), id + 1);
    assert_int_equal(cw_vclock_compare(&a, &b), CW_AFTER);
    assert_int_equal(cw_vclock_increment(&a, 65535), CW_OK);
    assert_int_equal(cw_vclock_get(&a, 65535), 65537);
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
}

static void test_copy_reuses_and_replaces(void **state)
{
    (void)state;
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    tu_parse(&a, "1:1,2:2,3:3");
    tu_parse(&b, "9:9");
    assert_int_equal(cw_vclock_copy(&a, &b), CW_OK);
    tu_assert_clock(&a, "9:9");
    assert_int_equal(cw_vclock_copy(&a, &a), CW_OK);
    tu_assert_clock(&a, "9:9");
    assert_int_equal(cw_vclock_copy(NULL, &a), CW_EINVAL);
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
}

/* Every allocation an operation makes is made to fail in turn; each failure
 * must return CW_ENOMEM and leave the target exactly as it was. */
static void test_enomem_changes_nothing(void **state)
{
    (void)state;
    cw_vclock small, big, work, before;
    cw_vclock_init(&small);
    cw_vclock_init(&big);
    cw_vclock_init(&work);
    cw_vclock_init(&before);
    tu_parse(&small, "1:5,4:4");
    for (uint32_t id = 0; id < 200; id += 3)
        assert_int_equal(cw_vclock_set(&big, (cw_node_id)id, id + 2), CW_OK);

    enum { MERGE, JOIN, COPY, SET, INCREMENT, PARSE, DECODE, DECODE_UNSORTED, PARSE_UNSORTED, OPS };
    uint8_t enc[4096], unsorted[34] = {0, 0, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0, 0,
                                       0, 0, 0, 7, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5};
    size_t enc_len;
    assert_int_equal(cw_vclock_encode(&big, enc, sizeof enc, &enc_len), CW_OK);
    for (int op = 0; op < OPS; op++) {
        for (long k = 0;; k++) {
            assert_int_equal(cw_vclock_copy(&work, &small), CW_OK);
            assert_int_equal(cw_vclock_copy(&before, &work), CW_OK);
            tu_fail_alloc_after(k);
            int rc;
            switch (op) {
            case MERGE: rc = cw_vclock_merge(&work, &big); break;
            case JOIN: rc = cw_vclock_join(&work, &small, &big); break;
            case COPY: rc = cw_vclock_copy(&work, &big); break;
            case SET: rc = cw_vclock_set(&work, 2, 1) | cw_vclock_set(&work, 3, 1) |
                           cw_vclock_set(&work, 5, 1); break;
            case INCREMENT: rc = cw_vclock_increment(&work, 0) | cw_vclock_increment(&work, 9); break;
            case PARSE: rc = cw_vclock_parse(&work, "1:1,2:2,3:3,4:4,5:5", 19); break;
            case PARSE_UNSORTED: rc = cw_vclock_parse(&work, "5:1,2:3,1:2,9:9", 15); break;
            case DECODE: rc = cw_vclock_decode(&work, enc, enc_len, NULL); break;
            default: rc = cw_vclock_decode(&work, unsorted, sizeof unsorted, NULL); break;
            }
            tu_fail_alloc_off();
            if (rc == CW_OK)
                break; /* every allocation the operation makes has now been failed once */
            if (op == SET || op == INCREMENT) {
                /* two/three calls: a later one may fail after an earlier succeeded;
                 * the failing call itself must not have corrupted the clock */
                assert_true(cw__vclock_is_canonical(&work));
                continue;
            }
            assert_int_equal(rc, CW_ENOMEM);
            assert_true(tu_clock_equal(&work, &before));
            assert_true(k < 10);
        }
    }
    cw_vclock_destroy(&small);
    cw_vclock_destroy(&big);
    cw_vclock_destroy(&work);
    cw_vclock_destroy(&before);
}

/* ---- properties against a dense reference model ---- */

#define UNIVERSE 96

static void to_dense(const cw_vclock *c, uint64_t *d)
{
    memset(d, 0, UNIVERSE * sizeof *d);
    for (uint32_t i = 0; i < c->size; i++)
        d[c->ids[i]] = c->counters[i];
}

static cw_order reference_order(const uint64_t *a, const uint64_t *b)
{
    unsigned lt = 0, gt = 0;
    for (int i = 0; i < UNIVERSE; i++) {
        lt |= a[i] < b[i];
        gt |= a[i] > b[i];
    }
    return (cw_order)(lt | gt << 1);
}

/* x is canonical and the pointwise max of the models da and db. */
static void check_is_max(const cw_vclock *x, const uint64_t *da, const uint64_t *db)
{
    uint64_t dx[UNIVERSE];
    TU_CHECK(cw__vclock_is_canonical(x));
    to_dense(x, dx);
    for (int i = 0; i < UNIVERSE; i++)
        TU_CHECK(dx[i] == (da[i] > db[i] ? da[i] : db[i]));
}

static void random_pair(cw_vclock *a, cw_vclock *b)
{
    static const double densities[] = {0.0, 0.05, 0.3, 0.7, 1.0};
    double da = densities[tu_below(5)], db = densities[tu_below(5)];
    bool small = tu_below(4) != 0;
    tu_random_clock(a, UNIVERSE, da, small);
    if (tu_below(4) == 0) { /* same membership, values perturbed: the fast path */
        cw_vclock_copy(b, a);
        for (uint32_t i = 0; i < b->size; i++)
            if (tu_below(3) == 0)
                b->counters[i] = 1 + tu_below(5);
    } else if (tu_below(5) == 0) { /* ordered pair */
        cw_vclock_copy(b, a);
        cw_vclock_increment(b, (cw_node_id)tu_below(UNIVERSE));
    } else {
        tu_random_clock(b, UNIVERSE, db, small);
    }
}

/* Merge, join and compare at every size from 0 to 70 (inline moves of 1, 2-4 and
 * 5-8 entries, inline id comparison up to 32, memcmp above), on every
 * instruction-set path: same ids, same size with different ids, and
 * different sizes; merging into a clock with room (in place) and without
 * (a new block). Checked against the dense model. */
static void test_every_small_n_on_every_path(void **state)
{
    (void)state;
    static const cw_isa isas[] = {CW_ISA_SCALAR, CW_ISA_AVX2, CW_ISA_AVX512};
    cw_vclock a, b, x;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    cw_vclock_init(&x);
    uint64_t da[UNIVERSE], db[UNIVERSE];
    for (size_t p = 0; p < 3; p++) {
        if (!cw_isa_supported(isas[p]))
            continue;
        assert_int_equal(cw_isa_select(isas[p]), CW_OK);
        for (uint32_t n = 0; n <= 70; n++) {
            for (int rep = 0; rep < 12; rep++) {
                int shape = rep % 3; /* 0 same ids, 1 same size other ids, 2 other size */
                cw_vclock_clear(&a);
                cw_vclock_clear(&b);
                for (uint32_t i = 0; i < n; i++) /* distinct ids spread over the universe */
                    cw_vclock_set(&a, (cw_node_id)(i * UNIVERSE / 71), 1 + tu_below(4));
                assert_int_equal(a.size, n);
                if (shape == 0) {
                    cw_vclock_copy(&b, &a);
                    for (uint32_t i = 0; i < b.size; i++)
                        b.counters[i] = 1 + tu_below(4);
                } else {
                    while (b.size < n + (shape == 2 ? tu_below(3) : 0))
                        cw_vclock_set(&b, (cw_node_id)tu_below(UNIVERSE), 1 + tu_below(4));
                }
                to_dense(&a, da);
                to_dense(&b, db);
                TU_CHECK(cw_vclock_compare(&a, &b) == reference_order(da, db));
                TU_CHECK(cw_vclock_compare(&b, &a) == reference_order(db, da));
                bool in_place = rep & 1;
                if (in_place) { /* room for both: the merge lifts and merges in place */
                    assert_int_equal(cw__vclock_reserve(&x, a.size + b.size, false), CW_OK);
                    cw_vclock_copy(&x, &a);
                } else {
                    cw_vclock_destroy(&x);
                    cw_vclock_copy(&x, &a);
                }
                TU_CHECK(cw_vclock_merge(&x, &b) == CW_OK);
                check_is_max(&x, da, db);
                /* join into a fresh clock, or into one that holds other
                 * entries (odd ids, more than the result has while the
                 * universe allows), both ways round */
                for (int way = 0; way < 2; way++) {
                    if (in_place) {
                        cw_vclock_clear(&x);
                        for (uint32_t id = 1; id < UNIVERSE && x.size <= a.size + b.size; id += 2)
                            cw_vclock_set(&x, (cw_node_id)id, 7);
                    } else {
                        cw_vclock_destroy(&x);
                    }
                    TU_CHECK(cw_vclock_join(&x, way ? &b : &a, way ? &a : &b) == CW_OK);
                    check_is_max(&x, da, db);
                }
            }
        }
    }
    cw_isa_select(CW_ISA_SCALAR);
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
    cw_vclock_destroy(&x);
}

static void test_property_compare_matches_model(void **state)
{
    (void)state;
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    uint64_t da[UNIVERSE], db[UNIVERSE];
    for (int iter = 0; iter < 3000; iter++) {
        random_pair(&a, &b);
        to_dense(&a, da);
        to_dense(&b, db);
        cw_order o = cw_vclock_compare(&a, &b);
        TU_CHECK(o == reference_order(da, db));
        /* Antisymmetry: swapping the arguments swaps BEFORE and AFTER. */
        cw_order r = cw_vclock_compare(&b, &a);
        TU_CHECK(r == (cw_order)(((o & 1) << 1) | ((o >> 1) & 1)));
    }
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
}

static void test_property_merge_laws(void **state)
{
    (void)state;
    cw_vclock a, b, c, x, y;
    cw_vclock *all[] = {&a, &b, &c, &x, &y};
    for (int i = 0; i < 5; i++)
        cw_vclock_init(all[i]);
    uint64_t da[UNIVERSE], db[UNIVERSE];
    for (int iter = 0; iter < 2000; iter++) {
        random_pair(&a, &b);
        tu_random_clock(&c, UNIVERSE, 0.2, true);
        to_dense(&a, da);
        to_dense(&b, db);
        /* a merge b equals the pointwise max of the model, and is canonical */
        cw_vclock_copy(&x, &a);
        TU_CHECK(cw_vclock_merge(&x, &b) == CW_OK);
        check_is_max(&x, da, db);
        /* join gives the same clock, into a clock that held anything */
        cw_vclock_copy(&y, &c);
        TU_CHECK(cw_vclock_join(&y, &a, &b) == CW_OK);
        TU_CHECK(tu_clock_equal(&x, &y));
        /* an upper bound of both inputs */
        TU_CHECK((cw_vclock_compare(&x, &a) & CW_BEFORE) == 0);
        TU_CHECK((cw_vclock_compare(&x, &b) & CW_BEFORE) == 0);
        /* commutative */
        cw_vclock_copy(&y, &b);
        cw_vclock_merge(&y, &a);
        TU_CHECK(tu_clock_equal(&x, &y));
        /* idempotent */
        cw_vclock_merge(&y, &a);
        TU_CHECK(tu_clock_equal(&x, &y));
        /* associative: (a+b)+c == a+(b+c) */
        cw_vclock_merge(&x, &c);
        cw_vclock_copy(&y, &b);
        cw_vclock_merge(&y, &c);
        cw_vclock tmp;
        cw_vclock_init(&tmp);
        cw_vclock_copy(&tmp, &a);
        cw_vclock_merge(&tmp, &y);
        TU_CHECK(tu_clock_equal(&x, &tmp));
        cw_vclock_destroy(&tmp);
        /* {} is the identity */
        cw_vclock_clear(&y);
        cw_vclock_merge(&y, &a);
        TU_CHECK(tu_clock_equal(&y, &a));
    }
    for (int i = 0; i < 5; i++)
        cw_vclock_destroy(all[i]);
}

int main(void)
{
    printf("# seed %llu (replay with CAUSEWAY_SEED=...)\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_examples),
        cmocka_unit_test(test_merge_examples),
        cmocka_unit_test(test_join_examples_and_aliases),
        cmocka_unit_test(test_get_set_increment),
        cmocka_unit_test(test_increment_overflow_refused),
        cmocka_unit_test(test_all_65536_ids),
        cmocka_unit_test(test_copy_reuses_and_replaces),
        cmocka_unit_test(test_enomem_changes_nothing),
        cmocka_unit_test(test_every_small_n_on_every_path),
        cmocka_unit_test(test_property_compare_matches_model),
        cmocka_unit_test(test_property_merge_laws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
