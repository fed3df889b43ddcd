/* The replica's key-value store (src/replica/store.h): a write replaces the
 * versions it follows and joins those it is concurrent with (siblings, in
 * (timestamp, origin) order); last-writer-wins keeps one; the store holds
 * one reference per kept version; a failed apply changes nothing. Writes are
 * applied in causal order, as the replica's delivery rule guarantees. */
#include "testutil.h"

#include "msg_internal.h"
#include "store.h"

enum { N = 6 };

/* A write to key from origin with the given clock ("0:1,2:3" text, over N
 * nodes) and HLC timestamp. */
static cw_msg *mk_ts(const char *key, size_t key_len, cw_node_id origin, const char *clock,
                     cw_hlc_timestamp ts)
{
    cw_vclock c;
    cw_vclock_init(&c);
    tu_parse(&c, clock);
    uint64_t dense[N] = {0};
    for (uint32_t i = 0; i < c.size; i++)
        dense[c.ids[i]] = c.counters[i];
    cw_vclock_destroy(&c);
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, origin, &ts, dense, N, key, key_len, "v", 1), CW_OK);
    return m;
}

/* The same, stamped by origin's HLC at wall time `wall`. */
static cw_msg *mk(const char *key, size_t key_len, cw_node_id origin, const char *clock, uint64_t wall)
{
    return mk_ts(key, key_len, origin, clock, (cw_hlc_timestamp){wall, 0, origin});
}

static uint32_t refs(const cw_msg *m) { return atomic_load(&m->refs); }

static void apply(cw__store *s, cw_msg *m, cw_conflict_policy policy, bool want_conflict)
{
    bool conflict = !want_conflict;
    assert_int_equal(cw__store_apply(s, m, policy, &conflict), CW_OK);
    assert_int_equal(conflict, want_conflict);
}

/* The key's versions are exactly want[0..n), in that order, and consistent. */
static void expect_versions(const cw__store *s, const char *key, cw_msg *const *want, uint32_t n)
{
    const cw__key *e = cw__store_find(s, key, strlen(key));
    assert_non_null(e);
    assert_int_equal(e->count, n);
    for (uint32_t i = 0; i < n; i++) {
        assert_ptr_equal(e->msgs[i], want[i]);
        assert_int_equal(e->meta[i].origin, cw_msg_origin(want[i]));
        assert_int_equal(e->meta[i].seq, cw_msg_seq(want[i]));
        if (i)
            assert_true(cw__version_order(&e->meta[i - 1], &e->meta[i]) < 0);
    }
}

static void test_replacement(void **state)
{
    (void)state;
    cw__store s;
    cw__store_init(&s);
    assert_null(cw__store_find(&s, "k", 1));
    cw_msg *a1 = mk("k", 1, 0, "0:1", 100), *a2 = mk("k", 1, 0, "0:2", 101);
    apply(&s, a1, CW_KEEP_SIBLINGS, false);
    expect_versions(&s, "k", &a1, 1);
    assert_int_equal(refs(a1), 2); /* ours and the store's */
    apply(&s, a2, CW_KEEP_SIBLINGS, false);
    expect_versions(&s, "k", &a2, 1);
    assert_int_equal(refs(a1), 1); /* replaced: the store let go */
    /* A write from another node that saw a2 replaces it too, whatever its timestamp. */
    cw_msg *b1 = mk("k", 1, 1, "0:2,1:1", 50);
    apply(&s, b1, CW_KEEP_SIBLINGS, false);
    expect_versions(&s, "k", &b1, 1);
    cw__store_destroy(&s);
    assert_int_equal(refs(a2), 1);
    assert_int_equal(refs(b1), 1);
    cw_msg_unref(a1);
    cw_msg_unref(a2);
    cw_msg_unref(b1);
}

/* Concurrent writes are all kept, ordered by (timestamp, origin) whatever
 * their arrival order; a write concurrent with some and following others
 * replaces exactly those it follows; one that follows all leaves one. */
static void test_siblings(void **state)
{
    (void)state;
    cw__store s;
    cw__store_init(&s);
    /* Five first writes of five nodes: pairwise concurrent. Timestamps tie
     * for nodes 3 and 4, so origin decides. */
    cw_msg *w[5] = {mk("k", 1, 0, "0:1", 300), mk("k", 1, 1, "1:1", 100), mk("k", 1, 2, "2:1", 200),
                    mk("k", 1, 3, "3:1", 400), mk("k", 1, 4, "4:1", 400)};
    apply(&s, w[2], CW_KEEP_SIBLINGS, false);
    apply(&s, w[4], CW_KEEP_SIBLINGS, true);
    apply(&s, w[0], CW_KEEP_SIBLINGS, true);
    apply(&s, w[3], CW_KEEP_SIBLINGS, true);
    apply(&s, w[1], CW_KEEP_SIBLINGS, true);
    cw_msg *sorted[5] = {w[1], w[2], w[0], w[3], w[4]};
    expect_versions(&s, "k", sorted, 5);
    /* Follows nodes 0 and 1 only: replaces those two, joins the rest. */
    cw_msg *x = mk("k", 1, 5, "0:1,1:1,5:1", 250);
    apply(&s, x, CW_KEEP_SIBLINGS, true);
    cw_msg *after_x[4] = {w[2], x, w[3], w[4]};
    expect_versions(&s, "k", after_x, 4);
    assert_int_equal(refs(w[0]), 1);
    assert_int_equal(refs(w[1]), 1);
    /* Follows everything: one version. */
    cw_msg *y = mk("k", 1, 0, "0:2,1:1,2:1,3:1,4:1,5:1", 10);
    apply(&s, y, CW_KEEP_SIBLINGS, false);
    expect_versions(&s, "k", &y, 1);
    cw__store_destroy(&s);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(refs(w[i]), 1);
        cw_msg_unref(w[i]);
    }
    cw_msg_unref(x);
    cw_msg_unref(y);
}

/* Last-writer-wins keeps the greatest (timestamp, origin) among concurrent
 * writes, and a write that follows the kept one replaces it even with a
 * smaller timestamp (HLC order extends causality on real replicas). */
static void test_last_writer_wins(void **state)
{
    (void)state;
    cw__store s;
    cw__store_init(&s);
    cw_msg *a = mk("k", 1, 0, "0:1", 100), *b = mk("k", 1, 1, "1:1", 200), *c = mk("k", 1, 2, "2:1", 150),
           *d = mk("k", 1, 3, "3:1", 200), *e = mk("k", 1, 4, "0:1,1:1,2:1,3:1,4:1", 50);
    apply(&s, a, CW_LAST_WRITER_WINS, false);
    apply(&s, b, CW_LAST_WRITER_WINS, true);  /* later timestamp: wins */
    expect_versions(&s, "k", &b, 1);
    assert_int_equal(refs(a), 1);
    apply(&s, c, CW_LAST_WRITER_WINS, true);  /* earlier: loses, not kept */
    expect_versions(&s, "k", &b, 1);
    assert_int_equal(refs(c), 1);
    apply(&s, d, CW_LAST_WRITER_WINS, true);  /* same timestamp, greater origin: wins */
    expect_versions(&s, "k", &d, 1);
    apply(&s, e, CW_LAST_WRITER_WINS, false); /* follows everything */
    expect_versions(&s, "k", &e, 1);
    /* Equal timestamps (the same HLC reading): the greater origin wins. */
    cw_hlc_timestamp same = {500, 0, 9};
    cw_msg *f = mk_ts("j", 1, 1, "1:2", same), *g = mk_ts("j", 1, 0, "0:2", same);
    apply(&s, f, CW_LAST_WRITER_WINS, false);
    apply(&s, g, CW_LAST_WRITER_WINS, true);
    expect_versions(&s, "j", &f, 1);
    cw__store_destroy(&s);
    cw_msg *all[7] = {a, b, c, d, e, f, g};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(refs(all[i]), 1);
        cw_msg_unref(all[i]);
    }
}

/* Keys are any bytes: NULs inside, prefixes and the empty key are distinct. */
static void test_binary_keys(void **state)
{
    (void)state;
    cw__store s;
    cw__store_init(&s);
    static const char *keys[] = {"a\0b", "a\0c", "a", ""};
    static const size_t lens[] = {3, 3, 1, 0};
    cw_msg *m[4];
    for (int i = 0; i < 4; i++) {
        char clock[8];
        snprintf(clock, sizeof clock, "0:%d", i + 1);
        m[i] = mk(keys[i], lens[i], 0, clock, 100 + (uint64_t)i);
        apply(&s, m[i], CW_KEEP_SIBLINGS, false);
    }
    for (int i = 0; i < 4; i++) {
        const cw__key *e = cw__store_find(&s, keys[i], lens[i]);
        assert_non_null(e);
        assert_int_equal(e->count, 1);
        assert_ptr_equal(e->msgs[0], m[i]);
    }
    assert_null(cw__store_find(&s, "a\0", 2));
    assert_int_equal(s.keys.count, 4);
    cw__store_destroy(&s);
    for (int i = 0; i < 4; i++)
        cw_msg_unref(m[i]);
}

/* A failed apply (a new key, or a key's room for one more sibling) leaves
 * the store and every reference as they were; retried, it succeeds. */
static void test_allocation_failure_changes_nothing(void **state)
{
    (void)state;
    cw__store s;
    cw__store_init(&s);
    cw_msg *a = mk("k", 1, 0, "0:1", 100), *b = mk("k", 1, 1, "1:1", 200), *c = mk("k", 1, 2, "2:1", 300),
           *n = mk("new", 3, 3, "3:1", 400);
    apply(&s, a, CW_KEEP_SIBLINGS, false);
    apply(&s, b, CW_KEEP_SIBLINGS, true); /* two versions: the inline room is full */
    cw_msg *before[3] = {a, b, c};
    for (int op = 0; op < 2; op++) {
        cw_msg *m = op == 0 ? c : n;
        long k = 0;
        for (;; k++) {
            bool conflict = false;
            tu_fail_alloc_after(k);
            int rc = cw__store_apply(&s, m, CW_KEEP_SIBLINGS, &conflict);
            tu_fail_alloc_off();
            if (rc == CW_OK)
                break;
            assert_int_equal(rc, CW_ENOMEM);
            expect_versions(&s, "k", before, op == 0 ? 2 : 3);
            assert_null(cw__store_find(&s, "new", 3));
            assert_int_equal(refs(m), 1);
            assert_int_equal(refs(a), 2);
            assert_int_equal(refs(b), 2);
            assert_int_equal(refs(c), op == 0 ? 1 : 2);
        }
        assert_true(k > 0); /* the failure path was taken */
    }
    expect_versions(&s, "k", before, 3);
    expect_versions(&s, "new", &n, 1);
    cw__store_destroy(&s);
    cw_msg_unref(a);
    cw_msg_unref(b);
    cw_msg_unref(c);
    cw_msg_unref(n);
}

/* A key's own room holds two versions: overwriting a key's one version, or
 * a first conflict on it, needs no memory at all (so cannot fail for want
 * of it). */
static void test_overwrite_needs_no_memory(void **state)
{
    (void)state;
    cw__store s;
    cw__store_init(&s);
    cw_msg *w[40];
    char clock[32];
    for (int i = 0; i < 40; i++) {
        snprintf(clock, sizeof clock, "0:%d", i + 1);
        w[i] = mk("k", 1, 0, clock, 100 + (uint64_t)i);
        bool conflict = true;
        if (i) /* the key exists: every allocation fails from here */
            tu_fail_alloc_after(0);
        int rc = cw__store_apply(&s, w[i], CW_KEEP_SIBLINGS, &conflict);
        tu_fail_alloc_off();
        assert_int_equal(rc, CW_OK);
        assert_false(conflict);
        expect_versions(&s, "k", &w[i], 1);
    }
    /* A write concurrent with the last one: two siblings, still no memory. */
    cw_msg *b = mk("k", 1, 1, "0:39,1:1", 500);
    bool conflict = false;
    tu_fail_alloc_after(0);
    int rc = cw__store_apply(&s, b, CW_KEEP_SIBLINGS, &conflict);
    tu_fail_alloc_off();
    assert_int_equal(rc, CW_OK);
    assert_true(conflict);
    cw_msg *both[2] = {w[39], b};
    expect_versions(&s, "k", both, 2);
    /* One that follows both: one version again, in the same room. */
    cw_msg *c = mk("k", 1, 2, "0:40,1:1,2:1", 600);
    tu_fail_alloc_after(0);
    rc = cw__store_apply(&s, c, CW_KEEP_SIBLINGS, &conflict);
    tu_fail_alloc_off();
    assert_int_equal(rc, CW_OK);
    assert_false(conflict);
    expect_versions(&s, "k", &c, 1);
    /* Three siblings outgrow the room; once one write follows them all, the
     * key is back in its own room: the next overwrite needs no memory. */
    cw_msg *d = mk("k", 1, 3, "0:40,1:1,2:1,3:1", 700), *e = mk("k", 1, 4, "0:40,1:1,2:1,4:1", 710),
           *f = mk("k", 1, 5, "0:40,1:1,2:1,5:1", 720);
    apply(&s, d, CW_KEEP_SIBLINGS, false);
    apply(&s, e, CW_KEEP_SIBLINGS, true);
    apply(&s, f, CW_KEEP_SIBLINGS, true);
    cw_msg *three[3] = {d, e, f};
    expect_versions(&s, "k", three, 3);
    const cw__key *ke = cw__store_find(&s, "k", 1);
    assert_ptr_not_equal(ke->meta, ke->meta_in);
    cw_msg *g = mk("k", 1, 0, "0:41,1:1,2:1,3:1,4:1,5:1", 800), *h = mk("k", 1, 0, "0:42,1:1,2:1,3:1,4:1,5:1", 810);
    apply(&s, g, CW_KEEP_SIBLINGS, false);
    expect_versions(&s, "k", &g, 1);
    assert_ptr_equal(ke->meta, ke->meta_in); /* the same key: only its versions moved */
    assert_ptr_equal(ke->msgs, ke->msg_in);
    tu_fail_alloc_after(0);
    rc = cw__store_apply(&s, h, CW_KEEP_SIBLINGS, &conflict);
    tu_fail_alloc_off();
    assert_int_equal(rc, CW_OK);
    expect_versions(&s, "k", &h, 1);
    cw_msg *later[5] = {d, e, f, g, h};
    cw__store_destroy(&s);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(refs(later[i]), 1);
        cw_msg_unref(later[i]);
    }
    for (int i = 0; i < 40; i++) {
        assert_int_equal(refs(w[i]), 1);
        cw_msg_unref(w[i]);
    }
    cw_msg_unref(b);
    cw_msg_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replacement),
        cmocka_unit_test(test_siblings),
        cmocka_unit_test(test_last_writer_wins),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_allocation_failure_changes_nothing),
        cmocka_unit_test(test_overwrite_needs_no_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
