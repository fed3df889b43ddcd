/* Dense clock: every instruction-set path this CPU can run agrees with a
 * scalar reference; the delivery rule; sparse and dense forms agree. */
#include "testutil.h"
#include "kernels.h"

static const cw_isa all_isas[] = {CW_ISA_SCALAR, CW_ISA_AVX2, CW_ISA_AVX512};

/* Random counters where equal values are common, so every lane outcome
 * (less, equal, greater) appears in each vector. */
static void fill(uint64_t *v, size_t n, int style)
{
    for (size_t i = 0; i < n; i++)
        v[i] = style == 0 ? tu_below(3) : style == 1 ? tu_rand() : (tu_below(2) ? UINT64_MAX - tu_below(2) : tu_below(2));
}

static cw_order ref_order(const uint64_t *a, const uint64_t *b, size_t n)
{
    unsigned lt = 0, gt = 0;
    for (size_t i = 0; i < n; i++)
        lt |= a[i] < b[i], gt |= a[i] > b[i];
    return (cw_order)(lt | gt << 1);
}

static void test_kernels_agree_on_every_path(void **state)
{
    (void)state;
    enum { MAXN = 300 };
    uint64_t a[MAXN + 1], b[MAXN + 1], d[MAXN + 1], expect[MAXN + 1];
    int tested = 0;
    for (size_t p = 0; p < 3; p++) {
        if (!cw_isa_supported(all_isas[p]))
            continue;
        assert_int_equal(cw_isa_select(all_isas[p]), CW_OK);
        assert_int_equal(cw_isa_active(), all_isas[p]);
        const cw__kernel_table *k = cw__kernels();
        tested++;
        for (int iter = 0; iter < 3000; iter++) {
            size_t n = tu_below(MAXN + 1);
            int style = (int)tu_below(3);
            fill(a, n, style);
            fill(b, n, style);
            if (tu_below(3) == 0) /* ordered pair: no early exit */
                for (size_t i = 0; i < n; i++)
                    b[i] = a[i] > b[i] ? a[i] : b[i];
            a[n] = b[n] = d[n] = 0xabcdef; /* guard: must not be read or written */
            memcpy(d, a, n * 8);
            for (size_t i = 0; i < n; i++)
                expect[i] = a[i] > b[i] ? a[i] : b[i];
            k->max_u64(d, b, n);
            TU_CHECK(memcmp(d, expect, n * 8) == 0);
            TU_CHECK(d[n] == 0xabcdef);
            TU_CHECK(k->order_u64(a, b, n) == (unsigned)ref_order(a, b, n));
            size_t first = n;
            for (size_t i = 0; i < n; i++)
                if (a[i] > b[i]) {
                    first = i;
                    break;
                }
            TU_CHECK(k->first_gt_u64(a, b, n) == first);
        }
    }
    printf("# kernel paths tested on this CPU: %d of 3\n", tested);
    assert_true(tested >= 1);
    cw_isa_select(CW_ISA_SCALAR);
}

/* Every n from 0 to 80 (the inline loops below each table's crossover, the
 * AVX2 overlapping vectors at 4-8 and 8-16, the loop from 17, AVX-512 from
 * 32) on every path, through the public calls and the kernels, with guards
 * on both sides of the clocks so a vector touching a counter outside
 * [0, n) is caught. Dense clocks here are views at every offset mod 8, as
 * the sparse clock's counters (16-byte aligned) and caller memory are. */
static void test_every_small_n_on_every_path(void **state)
{
    (void)state;
    enum { MAXN = 80, PAD = 8 };
    uint64_t a[MAXN + 2 * PAD], b[MAXN + 2 * PAD], d[MAXN + 2 * PAD], expect[MAXN];
    for (size_t p = 0; p < 3; p++) {
        if (!cw_isa_supported(all_isas[p]))
            continue;
        assert_int_equal(cw_isa_select(all_isas[p]), CW_OK);
        const cw__kernel_table *k = cw__kernels();
        assert_true(k->max_min_n >= 1 && k->order_min_n >= 1);
        for (size_t n = 0; n <= MAXN; n++) {
            for (int rep = 0; rep < 24; rep++) {
                size_t off = 1 + tu_below(PAD - 1); /* counters start off entries in */
                for (size_t i = 0; i < MAXN + 2 * PAD; i++)
                    a[i] = b[i] = d[i] = 0xabcdef00 + i; /* guards */
                int style = (int)tu_below(3);
                fill(a + off, n, style);
                fill(b + off, n, style);
                if (rep % 3 == 0) /* ordered pair: no early exit */
                    for (size_t i = 0; i < n; i++)
                        b[off + i] = a[off + i] > b[off + i] ? a[off + i] : b[off + i];
                for (size_t i = 0; i < n; i++)
                    expect[i] = a[off + i] > b[off + i] ? a[off + i] : b[off + i];
                cw_order want = ref_order(a + off, b + off, n);
                TU_CHECK(k->order_u64(a + off, b + off, n) == (unsigned)want);
                memcpy(d + off, a + off, n * 8);
                k->max_u64(d + off, b + off, n);
                TU_CHECK(memcmp(d + off, expect, n * 8) == 0);
                if (n == 0)
                    continue;
                cw_dclock ca = {a + off, (uint32_t)n}, cb = {b + off, (uint32_t)n}, cd = {d + off, (uint32_t)n};
                TU_CHECK(cw_dclock_compare(&ca, &cb) == want);
                memcpy(d + off, a + off, n * 8);
                TU_CHECK(cw_dclock_merge(&cd, &cb) == CW_OK);
                TU_CHECK(memcmp(d + off, expect, n * 8) == 0);
                /* Again, and with a: nothing changes (blocks left unstored). */
                TU_CHECK(cw_dclock_merge(&cd, &cb) == CW_OK && cw_dclock_merge(&cd, &ca) == CW_OK);
                TU_CHECK(memcmp(d + off, expect, n * 8) == 0);
                /* One counter behind: only it changes. */
                size_t lane = off + tu_below(n);
                uint64_t was = d[lane];
                d[lane] = was ? was - 1 : 0;
                TU_CHECK(cw_dclock_merge(&cd, &cb) == CW_OK && cw_dclock_merge(&cd, &ca) == CW_OK);
                TU_CHECK(memcmp(d + off, expect, n * 8) == 0);
                for (size_t i = 0; i < off; i++)
                    TU_CHECK(d[i] == 0xabcdef00 + i);
                for (size_t i = off + n; i < MAXN + 2 * PAD; i++)
                    TU_CHECK(d[i] == 0xabcdef00 + i);
            }
        }
    }
    cw_isa_select(CW_ISA_SCALAR);
}

/* What a call through a pointer or an unoptimised build reaches: the
 * library's out-of-line cw_dclock_merge and cw_dclock_compare. */
static int (*volatile merge_out_of_line)(cw_dclock *, const cw_dclock *) = cw_dclock_merge;
static cw_order (*volatile compare_out_of_line)(const cw_dclock *, const cw_dclock *) = cw_dclock_compare;

/* The inline small-clock paths (dclock.h) and the library's definitions give
 * the same answers, and both refuse what the contract refuses: clocks of 0 to
 * 12 counters, of equal and unequal n, NULL arguments. */
static void test_inline_and_out_of_line_agree(void **state)
{
    (void)state;
    enum { MAXN = 12 };
    uint64_t a[MAXN], b[MAXN], d1[MAXN], d2[MAXN], padded[MAXN];
    for (size_t na = 0; na <= MAXN; na++) {
        for (size_t nb = 0; nb <= MAXN; nb++) {
            for (int rep = 0; rep < 20; rep++) {
                int style = (int)tu_below(3);
                fill(a, na, style);
                fill(b, nb, style);
                cw_dclock ca = {a, (uint32_t)na}, cb = {b, (uint32_t)nb};
                /* Compare: the shorter clock reads as zeros past its end. */
                size_t n = na > nb ? na : nb;
                memset(d1, 0, sizeof d1), memset(padded, 0, sizeof padded);
                memcpy(d1, a, na * 8), memcpy(padded, b, nb * 8);
                cw_order want = ref_order(d1, padded, n);
                TU_CHECK(cw_dclock_compare(&ca, &cb) == want);
                TU_CHECK(compare_out_of_line(&ca, &cb) == want);
                /* Merge: CW_EINVAL, nothing written, when b is wider. */
                memcpy(d1, a, na * 8), memcpy(d2, a, na * 8);
                cw_dclock v1 = {d1, (uint32_t)na}, v2 = {d2, (uint32_t)na};
                int rc = cw_dclock_merge(&v1, &cb);
                TU_CHECK(rc == (nb > na ? CW_EINVAL : CW_OK));
                TU_CHECK(merge_out_of_line(&v2, &cb) == rc);
                for (size_t i = 0; i < na; i++) {
                    uint64_t expect = rc == CW_OK && i < nb && b[i] > a[i] ? b[i] : a[i];
                    TU_CHECK(d1[i] == expect && d2[i] == expect);
                }
            }
        }
    }
    cw_dclock one = {a, 1};
    assert_int_equal(cw_dclock_merge(NULL, &one), CW_EINVAL);
    assert_int_equal(cw_dclock_merge(&one, NULL), CW_EINVAL);
    assert_int_equal(merge_out_of_line(NULL, &one), CW_EINVAL);
    assert_int_equal(merge_out_of_line(&one, NULL), CW_EINVAL);
}

static void test_isa_api(void **state)
{
    (void)state;
    assert_true(cw_isa_supported(CW_ISA_SCALAR));
    assert_int_equal(cw_isa_select((cw_isa)7), CW_EINVAL);
    assert_string_equal(cw_isa_name(CW_ISA_AVX512), "avx512");
    assert_string_equal(cw_isa_name(CW_ISA_AVX2), "avx2");
    assert_string_equal(cw_isa_name(CW_ISA_SCALAR), "scalar");
}

static void test_init_merge_compare(void **state)
{
    (void)state;
    cw_dclock a, b, c;
    assert_int_equal(cw_dclock_init(&a, 0), CW_EINVAL);
    assert_int_equal(cw_dclock_init(&a, 65537), CW_EINVAL);
    assert_int_equal(cw_dclock_init(&a, 4), CW_OK);
    assert_int_equal(cw_dclock_init(&b, 4), CW_OK);
    assert_int_equal(cw_dclock_init(&c, 6), CW_OK);
    assert_int_equal(cw_dclock_compare(&a, &b), CW_EQUAL);
    a.counters[1] = 2, a.counters[2] = 1;
    b.counters[1] = 1, b.counters[2] = 2;
    assert_int_equal(cw_dclock_compare(&a, &b), CW_CONCURRENT);
    assert_int_equal(cw_dclock_merge(&a, &b), CW_OK);
    assert_int_equal(a.counters[1], 2);
    assert_int_equal(a.counters[2], 2);
    assert_int_equal(cw_dclock_compare(&a, &b), CW_AFTER);
    assert_int_equal(cw_dclock_compare(&b, &a), CW_BEFORE);
    /* Different widths: the shorter reads as zeros past its end. */
    assert_int_equal(cw_dclock_merge(&c, &a), CW_OK);
    assert_int_equal(cw_dclock_compare(&c, &a), CW_EQUAL);
    c.counters[5] = 1;
    assert_int_equal(cw_dclock_compare(&c, &a), CW_AFTER);
    assert_int_equal(cw_dclock_compare(&a, &c), CW_BEFORE);
    assert_int_equal(cw_dclock_merge(&a, &c), CW_EINVAL); /* src wider than dst */
    assert_int_equal(cw_dclock_copy(&a, &c), CW_EINVAL);
    assert_int_equal(cw_dclock_copy(&b, &a), CW_OK);
    assert_int_equal(cw_dclock_compare(&a, &b), CW_EQUAL);
    cw_dclock_clear(&b);
    assert_int_equal(b.counters[1], 0);
    cw_dclock_destroy(&a);
    cw_dclock_destroy(&b);
    cw_dclock_destroy(&c);
}

static void test_deliverable_rule(void **state)
{
    (void)state;
    /* The seed-003 scenario: node2 (clock {}) receives y from node1 stamped
     * {0:1,1:1} before x from node0 stamped {0:1}. */
    cw_dclock local, y, x;
    cw_dclock_init(&local, 3);
    cw_dclock_init(&y, 3);
    cw_dclock_init(&x, 3);
    y.counters[0] = 1, y.counters[1] = 1;
    x.counters[0] = 1;
    cw_dependency dep = {0, 0};
    assert_int_equal(cw_dclock_deliverable(&local, &y, 1, &dep), CW_DELIVER_WAIT);
    assert_int_equal(dep.node, 0);
    assert_int_equal(dep.counter, 1);
    assert_int_equal(cw_dclock_deliverable(&local, &x, 0, NULL), CW_DELIVER_READY);
    cw_dclock_merge(&local, &x);
    assert_int_equal(cw_dclock_deliverable(&local, &y, 1, &dep), CW_DELIVER_READY);
    cw_dclock_merge(&local, &y);
    /* Both again: duplicates. */
    assert_int_equal(cw_dclock_deliverable(&local, &x, 0, NULL), CW_DELIVER_DUPLICATE);
    assert_int_equal(cw_dclock_deliverable(&local, &y, 1, NULL), CW_DELIVER_DUPLICATE);
    /* A gap in the sender's own sequence waits on the sender. */
    y.counters[1] = 3;
    assert_int_equal(cw_dclock_deliverable(&local, &y, 1, &dep), CW_DELIVER_WAIT);
    assert_int_equal(dep.node, 1);
    assert_int_equal(dep.counter, 2);
    /* Wrong arguments are refused, *wait_for untouched: a sender past the
     * group (as a message from the wire may name), clocks of two sizes, NULL. */
    cw_dclock wide;
    assert_int_equal(cw_dclock_init(&wide, 4), CW_OK);
    wide.counters[3] = 1;
    assert_int_equal(cw_dclock_deliverable(&local, &y, 3, &dep), CW_DELIVER_INVALID);
    assert_int_equal(cw_dclock_deliverable(&local, &y, UINT16_MAX, &dep), CW_DELIVER_INVALID);
    assert_int_equal(cw_dclock_deliverable(&local, &wide, 3, &dep), CW_DELIVER_INVALID);
    assert_int_equal(cw_dclock_deliverable(&wide, &local, 0, &dep), CW_DELIVER_INVALID);
    assert_int_equal(cw_dclock_deliverable(NULL, &y, 1, &dep), CW_DELIVER_INVALID);
    assert_int_equal(cw_dclock_deliverable(&local, NULL, 1, &dep), CW_DELIVER_INVALID);
    assert_int_equal(dep.node, 1);
    assert_int_equal(dep.counter, 2);
    cw_dclock_destroy(&wide);
    cw_dclock_destroy(&local);
    cw_dclock_destroy(&y);
    cw_dclock_destroy(&x);
}

/* The delivery check on every path agrees with the rule written out. */
static void test_property_deliverable(void **state)
{
    (void)state;
    enum { N = 70 };
    cw_dclock l, m;
    cw_dclock_init(&l, N);
    cw_dclock_init(&m, N);
    for (size_t p = 0; p < 3; p++) {
        if (!cw_isa_supported(all_isas[p]))
            continue;
        cw_isa_select(all_isas[p]);
        for (int iter = 0; iter < 20000; iter++) {
            cw_node_id s = (cw_node_id)tu_below(N);
            for (int i = 0; i < N; i++)
                l.counters[i] = tu_below(4);
            memcpy(m.counters, l.counters, sizeof(uint64_t) * N);
            m.counters[s] = l.counters[s] + tu_below(3);  /* dup, next, or gap */
            size_t bumps = tu_below(3);
            for (size_t b = 0; b < bumps; b++)
                m.counters[tu_below(N)] += tu_below(2);
            if (tu_below(2)) /* lower some entries: never blocks */
                m.counters[tu_below(N)] = 0;
            cw_delivery expect;
            cw_dependency want = {0, 0};
            if (m.counters[s] <= l.counters[s]) {
                expect = CW_DELIVER_DUPLICATE;
            } else if (m.counters[s] != l.counters[s] + 1) {
                expect = CW_DELIVER_WAIT;
                want = (cw_dependency){s, m.counters[s] - 1};
            } else {
                expect = CW_DELIVER_READY;
                for (int k = 0; k < N; k++) {
                    if (k != s && m.counters[k] > l.counters[k]) {
                        expect = CW_DELIVER_WAIT;
                        want = (cw_dependency){(cw_node_id)k, m.counters[k]};
                        break;
                    }
                }
            }
            cw_dependency got = {0, 0};
            TU_CHECK(cw_dclock_deliverable(&l, &m, s, &got) == expect);
            if (expect == CW_DELIVER_WAIT)
                TU_CHECK(got.node == want.node && got.counter == want.counter);
        }
    }
    cw_isa_select(CW_ISA_SCALAR);
    cw_dclock_destroy(&l);
    cw_dclock_destroy(&m);
}

static void test_property_sparse_and_dense_agree(void **state)
{
    (void)state;
    enum { N = 100 };
    cw_vclock sa, sb, back;
    cw_vclock_init(&sa);
    cw_vclock_init(&sb);
    cw_vclock_init(&back);
    cw_dclock da, db;
    cw_dclock_init(&da, N);
    cw_dclock_init(&db, N);
    for (int iter = 0; iter < 3000; iter++) {
        tu_random_clock(&sa, N, (double)tu_below(100) / 100, true);
        tu_random_clock(&sb, N, (double)tu_below(100) / 100, true);
        TU_CHECK(cw_dclock_from_sparse(&da, &sa) == CW_OK);
        TU_CHECK(cw_dclock_from_sparse(&db, &sb) == CW_OK);
        TU_CHECK(cw_dclock_compare(&da, &db) == cw_vclock_compare(&sa, &sb));
        cw_vclock_merge(&sa, &sb);
        cw_dclock_merge(&da, &db);
        TU_CHECK(cw_dclock_to_sparse(&da, &back) == CW_OK);
        TU_CHECK(tu_clock_equal(&back, &sa));
    }
    cw_vclock_clear(&sa);
    cw_vclock_set(&sa, N, 1); /* id beyond the dense width */
    assert_int_equal(cw_dclock_from_sparse(&da, &sa), CW_EINVAL);
    /* A view over more counters than ids exist: refused, out unchanged
     * (its id 65,536 would have wrapped onto id 0 beside id 0's own). */
    uint64_t *wide = calloc(CW_VCLOCK_MAX_ENTRIES + 1, sizeof *wide);
    assert_non_null(wide);
    wide[0] = 1;
    wide[CW_VCLOCK_MAX_ENTRIES] = 7;
    cw_dclock view = {wide, CW_VCLOCK_MAX_ENTRIES + 1};
    cw_vclock_set(&sa, 3, 3);
    assert_int_equal(cw_dclock_to_sparse(&view, &sa), CW_EINVAL);
    tu_assert_clock(&sa, "3:3,100:1");
    free(wide);
    cw_vclock_destroy(&sa);
    cw_vclock_destroy(&sb);
    cw_vclock_destroy(&back);
    cw_dclock_destroy(&da);
    cw_dclock_destroy(&db);
}

int main(void)
{
    printf("# seed %llu, best isa %s\n", (unsigned long long)tu_seed(), cw_isa_name(cw_isa_active()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_agree_on_every_path),
        cmocka_unit_test(test_every_small_n_on_every_path),
        cmocka_unit_test(test_inline_and_out_of_line_agree),
        cmocka_unit_test(test_isa_api),
        cmocka_unit_test(test_init_merge_compare),
        cmocka_unit_test(test_deliverable_rule),
        cmocka_unit_test(test_property_deliverable),
        cmocka_unit_test(test_property_sparse_and_dense_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
