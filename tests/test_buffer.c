/* The causal delivery buffer (src/replica/buffer.h): its rings keep every
 * held write at its seq's slot across growth, a failed growth changes
 * nothing, the waiting lists file and take heads by node and counter, and
 * destroying it releases what it holds. Then the rule the replica builds on
 * it: whatever the arrival order, no buffered write is ever deliverable, and
 * everything is delivered in the end. */
#include "testutil.h"

#include "buffer.h"
#include "msg_internal.h"
#include "node_internal.h"

/* A message from `origin` with sequence number seq in a group of `nodes`. */
static cw_msg *msg_seq(uint32_t nodes, cw_node_id origin, uint64_t seq)
{
    uint64_t clock[8] = {0};
    clock[origin] = seq;
    cw_hlc_timestamp ts = {1000 + seq, 0, origin};
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, origin, &ts, clock, nodes, "k", 1, "v", 1), CW_OK);
    return m;
}

/* Holds a random subset of seqs [first, first + span) in ring 0, grows the
 * ring to `grow_to` seqs, and checks every held seq is still at its slot. */
static void fit_and_check(uint64_t first, uint64_t span, uint64_t grow_to)
{
    cw__buffer b;
    assert_int_equal(cw__buffer_init(&b, 2), CW_OK);
    cw__ring *r = &b.rings[0];
    assert_null(cw__ring_at(r, first)); /* no slots yet */
    assert_int_equal(cw__ring_fit(&b, r, first, span), CW_OK);
    assert_true(r->cap >= span && (r->cap & (r->cap - 1)) == 0);
    assert_int_equal(b.ring_slots, r->cap);
    bool held[256] = {false};
    for (uint64_t s = first; s < first + span; s++)
        if (tu_below(2)) {
            *cw__ring_at(r, s) = (cw__slot){msg_seq(2, 0, s), s};
            r->count++;
            held[s - first] = true;
        }
    assert_int_equal(cw__ring_fit(&b, r, first, grow_to), CW_OK);
    assert_true(r->cap >= grow_to);
    assert_int_equal(b.ring_slots, r->cap);
    size_t found = 0;
    for (uint64_t s = first; s < first + grow_to; s++) {
        const cw__slot *slot = cw__ring_at(r, s);
        if (s < first + span && held[s - first]) {
            TU_CHECK(slot->msg && cw_msg_seq(slot->msg) == s && slot->arrived_ns == s);
            found++;
        } else {
            TU_CHECK(slot->msg == NULL);
        }
    }
    assert_int_equal(found, r->count);
    cw__buffer_destroy(&b, 2); /* releases the held messages (ASan checks) */
}

static void test_ring_growth_keeps_writes(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        uint64_t span = 1 + tu_below(64);
        fit_and_check(2 + tu_below(1000), span, span + 1 + tu_below(190));
    }
}

static void test_ring_growth_failure_changes_nothing(void **state)
{
    (void)state;
    cw__buffer b;
    assert_int_equal(cw__buffer_init(&b, 2), CW_OK);
    cw__ring *r = &b.rings[1];
    assert_int_equal(cw__ring_fit(&b, r, 5, 16), CW_OK);
    cw_msg *m = msg_seq(2, 1, 9);
    *cw__ring_at(r, 9) = (cw__slot){m, 1};
    r->count++;
    cw__ring before = *r;
    uint64_t slots_before = b.ring_slots;
    tu_fail_alloc_after(0);
    assert_int_equal(cw__ring_fit(&b, r, 5, 17), CW_ENOMEM);
    tu_fail_alloc_off();
    assert_memory_equal(&before, r, sizeof before);
    assert_int_equal(b.ring_slots, slots_before);
    assert_ptr_equal(cw__ring_at(r, 9)->msg, m);
    assert_int_equal(cw__ring_fit(&b, r, 5, 16), CW_OK); /* already fits: nothing to do */
    cw__buffer_destroy(&b, 2);
}

static void test_init_allocation_failure(void **state)
{
    (void)state;
    for (long k = 0;; k++) {
        cw__buffer b;
        tu_fail_alloc_after(k);
        int rc = cw__buffer_init(&b, 64);
        tu_fail_alloc_off();
        if (rc == CW_OK) {
            cw__buffer_destroy(&b, 64);
            break;
        }
        assert_int_equal(rc, CW_ENOMEM);
        assert_true(k < 10);
    }
}

/* Heads filed under one node come back by counter, those of one counter in
 * the order filed, whatever order they were filed in; none comes back
 * before V[node] reaches its counter. Filing never allocates (one head per
 * sender is preallocated at init). */
static void test_waiting_lists(void **state)
{
    (void)state;
    enum { N = 8 };
    cw__buffer b;
    assert_int_equal(cw__buffer_init(&b, N), CW_OK);
    tu_fail_alloc_after(0);
    /* Senders 0..6 wait on node 7 at counters 6, 5, 9, 5, 6, 5, 7: filed
     * from the end, later and earlier than those already there. */
    static const uint64_t at[N - 1] = {6, 5, 9, 5, 6, 5, 7};
    for (cw_node_id o = 0; o < N - 1; o++) {
        b.heads[o] = (cw__head){NULL, o, N - 1, at[o], 0, 0, 0};
        cw__waiting_put(&b, &b.heads[o]);
    }
    tu_fail_alloc_off();
    assert_null(cw__waiting_take(&b, 0, 100));    /* nobody waits on node 0 */
    assert_null(cw__waiting_take(&b, N - 1, 4));  /* nor on node 7 below 5 */
    static const uint32_t order[N - 1] = {1, 3, 5, 0, 4, 6, 2};
    for (int i = 0; i < 6; i++) {
        cw__head *h = cw__waiting_take(&b, N - 1, at[order[i]]);
        assert_non_null(h);
        assert_int_equal(h - b.heads, order[i]);
        if (i == 2 || i == 4)                     /* counter 5 and 6 done */
            assert_null(cw__waiting_take(&b, N - 1, at[order[i]]));
    }
    assert_null(cw__waiting_take(&b, N - 1, 8));
    /* A node's entry that jumped (more than one write applied at once)
     * releases what waited below it too. */
    assert_int_equal(cw__waiting_take(&b, N - 1, 20) - b.heads, 2);
    assert_null(cw__waiting_take(&b, N - 1, 20));
    /* Emptied, the list takes heads again. */
    b.heads[3].counter = 11;
    cw__waiting_put(&b, &b.heads[3]);
    assert_int_equal(cw__waiting_take(&b, N - 1, 11) - b.heads, 3);
    assert_int_equal(b.waiting[N - 1].first, CW__NO_HEAD);
    assert_int_equal(b.waiting[N - 1].last, CW__NO_HEAD);
    /* Falling counters go first one by one; a tie with the first goes
     * after it (filing order among equals). */
    static const uint64_t fall[5] = {9, 8, 7, 7, 6};
    for (cw_node_id o = 0; o < 5; o++) {
        b.heads[o].counter = fall[o];
        cw__waiting_put(&b, &b.heads[o]);
    }
    static const uint32_t fall_order[5] = {4, 2, 3, 1, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(cw__waiting_take(&b, N - 1, 9) - b.heads, fall_order[i]);
    assert_null(cw__waiting_take(&b, N - 1, 9));
    /* A head holding a message is released by destroy. */
    cw_msg *held = msg_seq(N, 2, 1);
    b.heads[2] = (cw__head){cw_msg_ref(held), 0, 0, 1, 0, 0, 0};
    cw__buffer_destroy(&b, N);
    assert_int_equal(atomic_load(&held->refs), 1);
    cw_msg_unref(held);
}

/* ---- the delivery rule, through the replica that owns the buffer ---- */

enum { G = 4, WRITERS = 3, MAXW = 400 };

typedef struct world {
    cw_node *node[G];
    cw_msg *all[MAXW];      /* every write, in the order made */
    size_t n_all;
    cw_msg *inbox[WRITERS][MAXW];
    size_t n_in[WRITERS];
} world;

typedef struct writer {
    world *w;
    cw_node_id id;
} writer;

static int collect(void *ctx, cw_msg *m)
{
    writer *wr = ctx;
    world *w = wr->w;
    assert_true(w->n_all < MAXW);
    w->all[w->n_all++] = cw_msg_ref(m);
    for (cw_node_id to = 0; to < WRITERS; to++)
        if (to != wr->id)
            w->inbox[to][w->n_in[to]++] = cw_msg_ref(m);
    return CW_OK;
}

/* Whether m could be applied at a node whose clock is v (the BSS rule). */
static bool deliverable(const cw_msg *m, const uint64_t *v)
{
    uint32_t n;
    const uint64_t *c = cw_msg_counters(m, &n);
    cw_node_id o = cw_msg_origin(m);
    for (uint32_t k = 0; k < n; k++)
        if (k == o ? c[k] != v[k] + 1 : c[k] > v[k])
            return false;
    return true;
}

typedef struct pending_check {
    const uint64_t *v;
    size_t count;
    bool any_deliverable;
} pending_check;

static void check_pending(void *ctx, const cw_msg *m)
{
    pending_check *p = ctx;
    p->count++;
    p->any_deliverable |= deliverable(m, p->v);
}

/* Writers 0..2 write and exchange messages in random order, so writes
 * depend on each other across nodes; node 3 then receives every write in a
 * random order, some twice. After each arrival, no write it buffers is
 * deliverable; at the end it has applied all of them. */
static void test_no_deliverable_write_left_buffered(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) {
        static world w;
        memset(&w, 0, sizeof w);
        writer wr[WRITERS];
        for (cw_node_id i = 0; i < G; i++) {
            cw_node_options o;
            cw_node_options_init(&o);
            o.self = i;
            o.nodes = G;
            o.max_buffered = tu_below(4) == 0 ? 4 : 1u << 20; /* small: CW_EFULL */
            if (i < WRITERS) {
                wr[i] = (writer){&w, i};
                o.send = collect;
                o.send_ctx = &wr[i];
            } else {
                o.send = collect; /* never called: node 3 makes no write */
                o.send_ctx = NULL;
            }
            assert_int_equal(cw_node_create(&w.node[i], &o), CW_OK);
        }
        size_t writes = 20 + tu_below(100);
        for (size_t made = 0; made < writes;) {
            cw_node_id at = (cw_node_id)tu_below(WRITERS);
            if (tu_below(2)) {
                assert_int_equal(cw_node_put(w.node[at], "k", 1, "v", 1, NULL), CW_OK);
                made++;
            } else if (w.n_in[at]) { /* deliver one random waiting message */
                size_t k = tu_below(w.n_in[at]);
                cw_msg *m = w.inbox[at][k];
                if (cw_node_receive(w.node[at], m, NULL, NULL) == CW_OK) {
                    w.inbox[at][k] = w.inbox[at][--w.n_in[at]];
                    cw_msg_unref(m);
                }
            }
        }
        /* Node 3: a random order with duplicates; CW_EFULL arrivals retried later. */
        cw_msg *order[2 * MAXW];
        size_t n = 0;
        for (size_t i = 0; i < w.n_all; i++) {
            order[n++] = w.all[i];
            if (tu_below(5) == 0)
                order[n++] = w.all[i];
        }
        cw_node *r = w.node[G - 1];
        size_t left = n;
        while (left) {
            size_t k = tu_below(left);
            int rc = cw_node_receive(r, order[k], NULL, NULL);
            TU_CHECK(rc == CW_OK || rc == CW_EFULL);
            if (rc == CW_OK)
                order[k] = order[--left];
            pending_check p = {cw_node_counters(r), 0, false};
            cw_node_each_pending(r, check_pending, &p);
            TU_CHECK(!p.any_deliverable);
            TU_CHECK(cw__node_check(r));
        }
        cw_node_stats st;
        cw_node_get_stats(r, &st);
        TU_CHECK(st.buffered == 0 && st.delivered == w.n_all);
        for (cw_node_id k = 0; k < WRITERS; k++) {
            cw_node_stats ws;
            cw_node_get_stats(w.node[k], &ws);
            TU_CHECK(cw_node_counters(r)[k] == ws.writes);
        }
        for (size_t i = 0; i < w.n_all; i++)
            cw_msg_unref(w.all[i]);
        for (cw_node_id k = 0; k < WRITERS; k++)
            for (size_t i = 0; i < w.n_in[k]; i++)
                cw_msg_unref(w.inbox[k][i]);
        for (cw_node_id i = 0; i < G; i++)
            cw_node_destroy(w.node[i]);
    }
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_growth_keeps_writes),
        cmocka_unit_test(test_ring_growth_failure_changes_nothing),
        cmocka_unit_test(test_init_allocation_failure),
        cmocka_unit_test(test_waiting_lists),
        cmocka_unit_test(test_no_deliverable_write_left_buffered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
