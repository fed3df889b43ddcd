/* The latency histogram (src/util/histogram.h): percentiles within the
 * stated error of the exact nearest-rank value, exact small values, the
 * maximum, merging, the latency summary, and concurrent atomic adds. */
#include <pthread.h>

#include "testutil.h"

#include "histogram.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The exact nearest-rank quantile of sorted v[0..n). */
static uint64_t exact_quantile(const uint64_t *v, size_t n, double q)
{
    double r = q * (double)n;
    size_t rank = (size_t)r + ((double)(size_t)r < r);
    return v[(rank ? rank : 1) - 1];
}

/* histogram.h: "a percentile is within ~6% of the true value", and a
 * quantile is "the midpoint of its bucket": a bucket spans 1/16 of its lower
 * bound (16 sub-buckets per power of two), so the midpoint is within 1/32
 * of any value in the bucket. */
static void check_quantiles(const cw__histogram *h, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    static const double qs[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        uint64_t want = exact_quantile(v, n, qs[i]), got = cw__hist_quantile(h, qs[i]);
        double err = want ? ((double)got - (double)want) / (double)want : (double)got;
        if (err < -0.03125 || err > 0.03125)
            fail_msg("q %.3f: %llu, exact %llu (replay with CAUSEWAY_SEED=%llu)", qs[i],
                     (unsigned long long)got, (unsigned long long)want, (unsigned long long)tu_seed());
    }
    TU_CHECK(h->max == v[n - 1]);
    TU_CHECK(h->count == n);
}

static void test_quantiles_within_error(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint64_t v[N];
    for (int dist = 0; dist < 4; dist++) {
        cw__histogram h = {0};
        for (size_t i = 0; i < N; i++) {
            uint64_t x;
            switch (dist) {
            case 0: x = tu_below(100); break;                           /* small, exact */
            case 1: x = 1000 + tu_below(100000); break;                 /* uniform */
            case 2: x = tu_rand() >> tu_below(64); break;               /* every magnitude */
            default: x = tu_below(100) < 99 ? 200 + tu_below(50) : 1000000 + tu_below(1000000);
            }
            v[i] = x;
            cw__hist_add(&h, x);
        }
        check_quantiles(&h, v, N);
    }
}

static void test_small_values_are_exact(void **state)
{
    (void)state;
    cw__histogram h = {0};
    assert_int_equal(cw__hist_quantile(&h, 0.5), 0); /* empty */
    for (uint64_t x = 0; x < 16; x++)
        cw__hist_add(&h, x);
    for (uint64_t x = 0; x < 16; x++)
        assert_int_equal(cw__hist_quantile(&h, (double)(x + 1) / 16), x);
    /* The largest values do not overflow, and the quantile never passes max. */
    cw__histogram big = {0};
    cw__hist_add(&big, UINT64_MAX);
    cw__hist_add(&big, UINT64_MAX - 1);
    assert_true(cw__hist_quantile(&big, 1.0) <= UINT64_MAX);
    assert_true(cw__hist_quantile(&big, 1.0) >= UINT64_MAX - UINT64_MAX / 16);
    assert_int_equal(big.max, UINT64_MAX);
    cw__histogram one = {0};
    cw__hist_add(&one, 1000);
    assert_int_equal(cw__hist_quantile(&one, 0.5), 1000); /* the bucket's midpoint capped at max */
    /* Bucket [1024, 1088): a quantile that falls in it is its midpoint. */
    cw__histogram mid = {0};
    for (int i = 0; i < 99; i++)
        cw__hist_add(&mid, 1024 + (uint64_t)i % 64);
    cw__hist_add(&mid, 1u << 20);
    assert_int_equal(cw__hist_quantile(&mid, 0.01), 1056);
    assert_int_equal(cw__hist_quantile(&mid, 0.99), 1056);
    assert_int_equal(cw__hist_quantile(&mid, 1.0), 1u << 20);
}

static void test_merge_and_latency(void **state)
{
    (void)state;
    enum { N = 5000 };
    static uint64_t v[2 * N];
    cw__histogram a = {0}, b = {0}, all = {0};
    for (size_t i = 0; i < 2 * N; i++) {
        v[i] = 1 + tu_below(1u << 20);
        cw__hist_add(i < N ? &a : &b, v[i]);
        cw__hist_add(&all, v[i]);
    }
    cw__hist_merge(&a, &b);
    assert_memory_equal(&a, &all, sizeof a);
    cw_latency l;
    cw__hist_latency(&a, &l);
    assert_int_equal(l.count, 2 * N);
    assert_int_equal(l.p50_ns, cw__hist_quantile(&a, 0.5));
    assert_int_equal(l.p99_ns, cw__hist_quantile(&a, 0.99));
    assert_int_equal(l.p999_ns, cw__hist_quantile(&a, 0.999));
    assert_true(l.p50_ns <= l.p99_ns && l.p99_ns <= l.p999_ns && l.p999_ns <= l.max_ns);
    check_quantiles(&a, v, 2 * N);
}

typedef struct adder {
    cw__histogram *h;
    uint64_t base;
} adder;

static void *add_many(void *p)
{
    adder *a = p;
    for (uint64_t i = 0; i < 20000; i++)
        cw__hist_add_atomic(a->h, a->base + i % 1000);
    return NULL;
}

/* Concurrent adders lose no sample, and the maximum is the largest value. */
static void test_atomic_adds(void **state)
{
    (void)state;
    static cw__histogram h;
    pthread_t th[4];
    adder args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (adder){&h, (uint64_t)i * 100000};
        pthread_create(&th[i], NULL, add_many, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cw__histogram snap;
    cw__hist_snapshot(&h, &snap);
    assert_int_equal(snap.count, 80000);
    assert_int_equal(snap.max, 300999);
    uint64_t sum = 0;
    for (unsigned b = 0; b < CW__HIST_BUCKETS; b++)
        sum += snap.buckets[b];
    assert_int_equal(sum, 80000);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles_within_error),
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_merge_and_latency),
        cmocka_unit_test(test_atomic_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
