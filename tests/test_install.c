/* A replica adopting a peer's state (cw_node_install, src/replica/install.c):
 * what a node restarted without its state does before it writes again. */
#include "testutil.h"

#include "node_internal.h"

typedef struct outbox {
    cw_msg *m[64];
    size_t len;
} outbox;

static int keep(void *ctx, cw_msg *m)
{
    outbox *o = ctx;
    if (o->len == 64)
        return CW_EFULL;
    o->m[o->len++] = cw_msg_ref(m);
    return 0;
}

static int drop_to(void *ctx, uint32_t to, cw_msg *m)
{
    (void)ctx;
    (void)to;
    (void)m;
    return 0;
}

static cw_node *make(cw_node_id self, outbox *box)
{
    cw_node_options o;
    cw_node_options_init(&o);
    o.self = self;
    o.nodes = 3;
    o.send = keep;
    o.send_ctx = box;
    o.send_to = drop_to;
    cw_node *n;
    assert_int_equal(cw_node_create(&n, &o), CW_OK);
    return n;
}

typedef struct state {
    cw_msg *v[64];
    size_t len;
} state;

static void collect(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions, size_t count)
{
    (void)key;
    (void)key_len;
    state *s = ctx;
    for (size_t i = 0; i < count; i++)
        s->v[s->len++] = cw_msg_ref((cw_msg *)versions[i]);
}

static void state_release(state *s)
{
    for (size_t i = 0; i < s->len; i++)
        cw_msg_unref(s->v[i]);
    s->len = 0;
}

static void release(outbox *b)
{
    for (size_t i = 0; i < b->len; i++)
        cw_msg_unref(b->m[i]);
    b->len = 0;
}

static void test_install_takes_a_peers_state(void **unused)
{
    (void)unused;
    outbox b0 = {0}, b1 = {0}, b2 = {0};
    cw_node *a = make(0, &b0), *b = make(1, &b1);
    /* Node 1 wrote twice; node 0 applied both, wrote, deleted, and made a
     * sibling of node 1's second write. */
    assert_int_equal(cw_node_put(b, "k", 1, "b1", 2, NULL), CW_OK);
    assert_int_equal(cw_node_put(a, "s", 1, "a-sib", 5, NULL), CW_OK); /* concurrent with b's "s" */
    assert_int_equal(cw_node_put(b, "s", 1, "b-sib", 5, NULL), CW_OK);
    for (size_t i = 0; i < b1.len; i++)
        assert_int_equal(cw_node_receive(a, b1.m[i], NULL, NULL), CW_OK);
    assert_int_equal(cw_node_put(a, "d", 1, "gone", 4, NULL), CW_OK);
    assert_int_equal(cw_node_delete(a, "d", 1, NULL, NULL), CW_OK);
    state st = {0};
    cw_node_each_key(a, collect, &st);

    cw_node *c = make(2, &b2);
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, st.v, st.len), CW_OK);
    assert_true(cw__node_check(c));
    for (uint32_t k = 0; k < 3; k++)
        assert_int_equal(cw_node_counters(c)[k], cw_node_counters(a)[k]);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(c, "s", 1, &r), CW_OK);
    assert_int_equal(r.count, 2); /* the siblings, as node 0 held them */
    assert_int_equal(cw_node_get(c, "k", 1, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_memory_equal(r.versions[0].value, "b1", 2);
    assert_int_equal(cw_node_get(c, "d", 1, &r), CW_ENOTFOUND); /* the tombstone came too */
    cw_read_destroy(&r);
    /* The next write continues from the installed clock. */
    cw_vclock clock;
    cw_vclock_init(&clock);
    assert_int_equal(cw_node_put(c, "k", 1, "c1", 2, &clock), CW_OK);
    assert_int_equal(cw_vclock_get(&clock, 0), cw_node_counters(a)[0]);
    assert_int_equal(cw_vclock_get(&clock, 2), 1);
    cw_vclock_destroy(&clock);
    /* A second install on a node that is no longer empty is refused. */
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, st.v, st.len), CW_EINVAL);
    assert_true(cw__node_check(c));

    state_release(&st);
    release(&b0);
    release(&b1);
    release(&b2);
    cw_node_destroy(a);
    cw_node_destroy(b);
    cw_node_destroy(c);
}

static void test_install_refuses_an_inconsistent_state(void **unused)
{
    (void)unused;
    outbox b0 = {0}, b1 = {0};
    cw_node *a = make(0, &b0);
    assert_int_equal(cw_node_put(a, "k", 1, "v", 1, NULL), CW_OK);
    state st = {0};
    cw_node_each_key(a, collect, &st);
    cw_node *c = make(1, &b1);
    uint64_t below[3] = {0, 0, 0}; /* the version is above this clock */
    assert_int_equal(cw_node_install(c, below, 3, st.v, st.len), CW_EINVAL);
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 2, st.v, st.len), CW_EINVAL);
    assert_int_equal(cw_node_install(c, NULL, 3, st.v, st.len), CW_EINVAL);
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, NULL, 1), CW_EINVAL);
    /* The same write twice (a dot is one version of one key): it used to
     * be kept as two siblings with one dot, breaking the store. */
    cw_msg *twice[2] = {st.v[0], st.v[0]};
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, twice, 2), CW_EINVAL);
    /* A version beside one that covers it (no replica holds both), given
     * newest first and oldest first: the store cannot see it either way. */
    assert_int_equal(cw_node_put(a, "k", 1, "w", 1, NULL), CW_OK);
    state both = {0};
    cw_node_each_key(a, collect, &both);
    assert_int_equal(both.len, 1);
    both.v[1] = cw_msg_ref(st.v[0]); /* k = v (0:1), which k = w (0:2) replaced */
    both.len = 2;
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, both.v, 2), CW_EINVAL);
    cw_msg *older_first[2] = {both.v[1], both.v[0]};
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, older_first, 2), CW_EINVAL);
    state_release(&both);
    assert_true(cw__node_check(c));
    /* Nothing changed: the node is still empty and installs a good one. */
    assert_int_equal(cw_node_counters(c)[0], 0);
    assert_int_equal(cw_node_install(c, cw_node_counters(a), 3, st.v, st.len), CW_OK);
    assert_int_equal(cw_node_counters(c)[0], 2);
    /* Installing nothing at a zero clock is allowed (a peer that has nothing). */
    cw_node *e = make(2, &b1);
    assert_int_equal(cw_node_install(e, below, 3, NULL, 0), CW_OK);
    assert_true(cw__node_check(e));
    state_release(&st);
    release(&b0);
    release(&b1);
    cw_node_destroy(a);
    cw_node_destroy(c);
    cw_node_destroy(e);
}

static void test_install_out_of_memory_leaves_the_node_empty(void **unused)
{
    (void)unused;
    outbox b0 = {0}, b1 = {0};
    cw_node *a = make(0, &b0);
    char key[8];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(cw_node_put(a, key, strlen(key), "v", 1, NULL), CW_OK);
    }
    state st = {0};
    cw_node_each_key(a, collect, &st);
    cw_node *c = make(1, &b1);
    int rc = CW_ENOMEM;
    for (int fail_at = 0; rc == CW_ENOMEM && fail_at < 200; fail_at++) {
        tu_fail_alloc_after(fail_at);
        rc = cw_node_install(c, cw_node_counters(a), 3, st.v, st.len);
        tu_fail_alloc_off();
        if (rc == CW_ENOMEM) {
            assert_int_equal(cw_node_counters(c)[0], 0);
            cw_node_stats s;
            assert_int_equal(cw_node_get_stats(c, &s), CW_OK);
            assert_int_equal(s.keys, 0);
        }
    }
    assert_int_equal(rc, CW_OK);
    assert_true(cw__node_check(c));
    state_release(&st);
    release(&b0);
    release(&b1);
    cw_node_destroy(a);
    cw_node_destroy(c);
}

typedef struct applied {
    cw_msg *m[64];
    size_t len;
} applied;

static void keep_applied(void *ctx, const cw_msg *m)
{
    applied *a = ctx;
    a->m[a->len++] = cw_msg_ref((cw_msg *)m);
}

/* Node 0 of 3, with recovery on, keeping what it sends in *out and every
 * write it applies in *log (what a driver saves as its log). */
static cw_node_options logging_options(outbox *out, applied *log)
{
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = 3;
    o.send = keep;
    o.send_ctx = out;
    o.send_to = drop_to;
    o.on_apply = keep_applied;
    o.apply_ctx = log;
    return o;
}

/* A new node with o's options but sending to *out and keeping no log of
 * its own: the node a saved state is taken back on. */
static cw_node *empty_like(cw_node_options o, outbox *out)
{
    o.send_ctx = out;
    o.on_apply = NULL;
    cw_node *c;
    assert_int_equal(cw_node_create(&c, &o), CW_OK);
    return c;
}

/* A node's saved state (node.h "Persisting a replica": its clock, its
 * versions, every applied write not yet stable) taken back by a node
 * created anew under the same id: the same data, the same log, and its own
 * counter going on where it stopped. A log with a gap, or above the clock,
 * is refused. */
static void test_restore_takes_back_a_saved_state(void **unused)
{
    (void)unused;
    outbox b0 = {0}, b1 = {0}, b2 = {0};
    applied log = {0};
    cw_node_options o = logging_options(&b0, &log);
    cw_node *a, *b = make(1, &b1);
    assert_int_equal(cw_node_create(&a, &o), CW_OK);
    assert_int_equal(cw_node_put(a, "k", 1, "a1", 2, NULL), CW_OK);
    assert_int_equal(cw_node_put(b, "k", 1, "b1", 2, NULL), CW_OK); /* concurrent: siblings */
    assert_int_equal(cw_node_put(b, "j", 1, "b2", 2, NULL), CW_OK);
    for (size_t i = 0; i < b1.len; i++)
        assert_int_equal(cw_node_receive(a, b1.m[i], NULL, NULL), CW_OK);
    assert_int_equal(cw_node_put(a, "k", 1, "a2", 2, NULL), CW_OK); /* replaces both */
    assert_int_equal(cw_node_delete(a, "j", 1, NULL, NULL), CW_OK);
    assert_int_equal(log.len, 5);
    state st = {0};
    cw_node_each_key(a, collect, &st);

    cw_node *c = empty_like(o, &b2);
    /* Refused, node unchanged: a gap in node 0's seqs, a write above the
     * clock, a log that is not all writes. */
    cw_msg *gap[] = {log.m[0], log.m[1], log.m[2], log.m[4]}; /* node 0's 1 and 3, not 2 */
    assert_int_equal(cw_node_restore(c, cw_node_counters(a), 3, st.v, st.len, gap, 4), CW_EINVAL);
    uint64_t low[3] = {1, 2, 0};
    assert_int_equal(cw_node_restore(c, low, 3, NULL, 0, log.m, log.len), CW_EINVAL);
    assert_int_equal(cw_node_counters(c)[0], 0);
    /* Taken back, in any order. */
    cw_msg *shuffled[] = {log.m[4], log.m[1], log.m[3], log.m[0], log.m[2]};
    assert_int_equal(cw_node_restore(c, cw_node_counters(a), 3, st.v, st.len, shuffled, 5), CW_OK);
    assert_true(cw__node_check(c));
    cw_node_stats sa, sc;
    assert_int_equal(cw_node_get_stats(a, &sa), CW_OK);
    assert_int_equal(cw_node_get_stats(c, &sc), CW_OK);
    assert_int_equal(sc.log_entries, sa.log_entries);
    assert_int_equal(sc.keys, sa.keys);
    cw_read r;
    cw_read_init(&r);
    assert_int_equal(cw_node_get(c, "k", 1, &r), CW_OK);
    assert_int_equal(r.count, 1);
    assert_memory_equal(r.versions[0].value, "a2", 2);
    assert_int_equal(cw_node_get(c, "j", 1, &r), CW_ENOTFOUND);
    cw_read_destroy(&r);
    cw_vclock clock;
    cw_vclock_init(&clock);
    assert_int_equal(cw_node_put(c, "k", 1, "a3", 2, &clock), CW_OK);
    assert_int_equal(cw_vclock_get(&clock, 0), 4); /* a made 3: no seq reused */
    /* A log that starts after node 0's first write: that one was stable,
     * and stability goes on from there (node 2's, with nothing logged, is
     * its whole clock). */
    cw_node *d;
    assert_int_equal(cw_node_create(&d, &o), CW_OK);
    cw_msg *later[] = {log.m[1], log.m[2], log.m[3], log.m[4]}; /* node 0's 2 and 3, node 1's 1 and 2 */
    assert_int_equal(cw_node_restore(d, cw_node_counters(a), 3, st.v, st.len, later, 4), CW_OK);
    assert_int_equal(cw_node_stable(d, &clock), CW_OK);
    assert_int_equal(cw_vclock_get(&clock, 0), 1);
    assert_int_equal(cw_vclock_get(&clock, 1), 0);
    assert_int_equal(cw_vclock_get(&clock, 2), 0);
    assert_true(cw__node_check(d));
    cw_node_destroy(d);
    cw_vclock_destroy(&clock);

    state_release(&st);
    for (size_t i = 0; i < log.len; i++)
        cw_msg_unref(log.m[i]);
    release(&b0);
    release(&b1);
    release(&b2);
    cw_node_destroy(a);
    cw_node_destroy(b);
    cw_node_destroy(c);
}

static void count_forgotten(void *ctx, const cw_msg *m)
{
    assert_true(cw_msg_tombstone(m));
    ++*(int *)ctx;
}

static void versions_count(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions, size_t count)
{
    (void)key;
    (void)key_len;
    (void)versions;
    *(size_t *)ctx = count;
}

/* on_forget hears of a tombstone leaving the store (on a single node, at
 * once), and cw_node_key_versions then finds the key empty. */
static void test_forget_hook_and_key_versions(void **unused)
{
    (void)unused;
    int forgotten = 0;
    cw_node_options o;
    cw_node_options_init(&o);
    o.on_forget = count_forgotten;
    o.forget_ctx = &forgotten;
    cw_node *n;
    assert_int_equal(cw_node_create(&n, &o), CW_OK);
    size_t count = 99;
    assert_int_equal(cw_node_put(n, "k", 1, "v", 1, NULL), CW_OK);
    assert_int_equal(cw_node_key_versions(n, "k", 1, versions_count, &count), CW_OK);
    assert_int_equal(count, 1);
    assert_int_equal(cw_node_delete(n, "k", 1, NULL, NULL), CW_OK);
    assert_int_equal(forgotten, 1);
    assert_int_equal(cw_node_key_versions(n, "k", 1, versions_count, &count), CW_OK);
    assert_int_equal(count, 0);
    assert_int_equal(cw_node_key_versions(n, NULL, 1, versions_count, &count), CW_EINVAL);
    assert_int_equal(cw_node_key_versions(n, "k", 1, NULL, &count), CW_EINVAL);
    cw_node_destroy(n);
}

/* A restore that runs out of memory anywhere leaves the node empty, so the
 * same node can take the state again (a node restarted without state asks
 * its peers again). Before, the log's rings grew after the install: a
 * failure there left the node holding the clock, and every later try was
 * refused as a node that is not empty. */
static void test_restore_out_of_memory_leaves_the_node_empty(void **unused)
{
    (void)unused;
    outbox b0 = {0}, b2 = {0};
    applied log = {0};
    cw_node_options o = logging_options(&b0, &log);
    cw_node *a;
    assert_int_equal(cw_node_create(&a, &o), CW_OK);
    char key[8];
    for (int i = 0; i < 40; i++) { /* past a ring's first 16 slots */
        snprintf(key, sizeof key, "k%d", i % 5);
        assert_int_equal(cw_node_put(a, key, strlen(key), "v", 1, NULL), CW_OK);
    }
    state st = {0};
    cw_node_each_key(a, collect, &st);
    cw_node *c = empty_like(o, &b2);
    int rc = CW_ENOMEM, failures = 0;
    for (int fail_at = 0; rc == CW_ENOMEM && fail_at < 200; fail_at++) {
        tu_fail_alloc_after(fail_at);
        rc = cw_node_restore(c, cw_node_counters(a), 3, st.v, st.len, log.m, log.len);
        tu_fail_alloc_off();
        if (rc == CW_ENOMEM) {
            failures++;
            assert_int_equal(cw_node_counters(c)[0], 0);
            cw_node_stats s;
            assert_int_equal(cw_node_get_stats(c, &s), CW_OK);
            assert_int_equal(s.keys, 0);
            assert_int_equal(s.log_entries, 0);
        }
    }
    assert_int_equal(rc, CW_OK);
    assert_true(failures > 2); /* the sort's copy, the ring, the store */
    assert_true(cw__node_check(c));
    cw_node_stats sa, sc;
    assert_int_equal(cw_node_get_stats(a, &sa), CW_OK);
    assert_int_equal(cw_node_get_stats(c, &sc), CW_OK);
    assert_int_equal(sc.log_entries, sa.log_entries);
    state_release(&st);
    for (size_t i = 0; i < log.len; i++)
        cw_msg_unref(log.m[i]);
    release(&b0);
    release(&b2);
    cw_node_destroy(a);
    cw_node_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_takes_a_peers_state),
        cmocka_unit_test(test_install_refuses_an_inconsistent_state),
        cmocka_unit_test(test_install_out_of_memory_leaves_the_node_empty),
        cmocka_unit_test(test_restore_takes_back_a_saved_state),
        cmocka_unit_test(test_restore_out_of_memory_leaves_the_node_empty),
        cmocka_unit_test(test_forget_hook_and_key_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
