/* Reports and their timing (recovery.c, "Reports"), on two replicas in
 * virtual time, ticked as the engine ticks them: only when their next tick
 * is due. A node whose writes carry its clock sends no report; a node that
 * stops writing, or only applies, reports within an interval. */
#include <unistd.h>

#include "testutil.h"
#include "msg_internal.h"
#include "node_internal.h"
#include "node_state.h"

enum { NODES = 2, MAX_NODES = 3, MAXQ = 1024 };
#define MS 1000000u
#define INTERVAL (10 * MS)

typedef struct pair {
    uint32_t nodes;            /* NODES, or up to MAX_NODES (group_open) */
    cw_node *node[MAX_NODES];
    cw_msg *q[MAX_NODES][MAXQ]; /* what each node has yet to receive */
    size_t len[MAX_NODES];
    bool cut[MAX_NODES][MAX_NODES]; /* [from][to]: everything sent is lost */
    bool lose_pulls[MAX_NODES][MAX_NODES]; /* [from][to]: pulls sent are lost */
    bool lose_pulls_of[MAX_NODES]; /* [origin]: pulls for its writes are lost, on every link */
    uint64_t pulls[MAX_NODES][MAX_NODES];  /* [from][to]: pulls sent, lost or not */
    uint64_t ns;
    bool note_time;            /* the host tells the replica the time at a put */
} pair;

typedef struct end {
    pair *p;
    cw_node_id id;
} end;

static end ends[MAX_NODES];
static size_t max_buffered_option; /* 0: the default; pair_open's nodes take it */
static uint64_t recovery_timeout_option; /* 0: the default (50 ms); as max_buffered_option */
static size_t max_log_option;           /* 0: the default; as max_buffered_option */
static uint64_t stability_interval_option; /* 0: the report interval; as max_buffered_option */

static int to_peer(void *ctx, uint32_t to, cw_msg *m)
{
    end *e = ctx;
    pair *p = e->p;
    cw_node_id pulled = MAX_NODES;
    uint64_t from, upto;
    if (cw_msg_kind_of(m) == CW_MSG_PULL)
        assert_int_equal(cw_msg_pull_range(m, &pulled, &from, &upto), CW_OK);
    for (uint32_t peer = 0; peer < p->nodes; peer++) {
        if (peer != e->id && (to == CW_NODE_ALL || to == peer) && cw_msg_kind_of(m) == CW_MSG_PULL)
            p->pulls[e->id][peer]++;
        if (peer == e->id || (to != CW_NODE_ALL && to != peer) || p->cut[e->id][peer] ||
            (p->lose_pulls[e->id][peer] && cw_msg_kind_of(m) == CW_MSG_PULL) ||
            (pulled < MAX_NODES && p->lose_pulls_of[pulled]))
            continue;
        assert_true(p->len[peer] < MAXQ);
        p->q[peer][p->len[peer]++] = cw_msg_ref(m);
    }
    return CW_OK;
}

static int send_write(void *ctx, cw_msg *m) { return to_peer(ctx, CW_NODE_ALL, m); }

static uint64_t pair_ns(void *ctx) { return ((pair *)ctx)->ns; }

static void group_open(pair *p, bool note_time, uint32_t nodes)
{
    memset(p, 0, sizeof *p);
    p->nodes = nodes;
    p->note_time = note_time;
    for (uint32_t i = 0; i < nodes; i++) {
        ends[i] = (end){p, (cw_node_id)i};
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = (cw_node_id)i;
        o.nodes = nodes;
        o.send = send_write;
        o.send_to = to_peer;
        o.send_ctx = o.send_to_ctx = &ends[i];
        o.ns_clock = pair_ns;
        o.ns_ctx = p;
        o.report_interval_ns = INTERVAL;
        if (max_buffered_option)
            o.max_buffered = max_buffered_option;
        if (recovery_timeout_option)
            o.recovery_timeout_ns = recovery_timeout_option;
        if (max_log_option)
            o.max_log = max_log_option;
        o.stability_interval_ns = stability_interval_option;
        assert_int_equal(cw_node_create(&p->node[i], &o), CW_OK);
    }
}

static void pair_open(pair *p, bool note_time) { group_open(p, note_time, NODES); }

/* A group whose nodes pull after 2 ms, not the default 50 ms, so that a
 * test sees many windows in a short run. */
static void group_open_quick(pair *p, uint32_t nodes)
{
    recovery_timeout_option = 2 * MS;
    group_open(p, true, nodes);
    recovery_timeout_option = 0;
}

static void pair_close(pair *p)
{
    for (uint32_t i = 0; i < p->nodes; i++) {
        assert_true(cw__node_check(p->node[i]));
        for (size_t k = 0; k < p->len[i]; k++)
            cw_msg_unref(p->q[i][k]);
        cw_node_destroy(p->node[i]);
    }
}

/* Every node receives what waits for it. */
static void deliver_queued(pair *p)
{
    for (uint32_t i = 0; i < p->nodes; i++) {
        size_t len = p->len[i];
        p->len[i] = 0;
        for (size_t k = 0; k < len; k++) {
            assert_int_equal(cw_node_receive(p->node[i], p->q[i][k], NULL, NULL), CW_OK);
            cw_msg_unref(p->q[i][k]);
        }
    }
}

/* One millisecond of the host's loop: deliveries, then the ticks that are
 * due (and nothing else ticks a node). */
static void step(pair *p)
{
    deliver_queued(p);
    for (uint32_t i = 0; i < p->nodes; i++)
        if (cw_node_next_tick(p->node[i]) <= p->ns)
            assert_int_equal(cw_node_tick(p->node[i], p->ns, NULL), CW_OK);
    p->ns += MS;
}

static void write_at(pair *p, cw_node_id at, uint64_t k)
{
    char key[16];
    int len = snprintf(key, sizeof key, "k%llu", (unsigned long long)(k % 4));
    if (p->note_time)
        cw__node_note_time(p->node[at], p->ns);
    assert_int_equal(cw_node_put(p->node[at], key, (size_t)len, "v", 1, NULL), CW_OK);
}

static void write_at_0(pair *p, uint64_t k) { write_at(p, 0, k); }

/* Node 0 writes, then a millisecond passes, `ms` times. */
static void write_for(pair *p, uint64_t ms)
{
    for (uint64_t k = 0; k < ms; k++) {
        write_at_0(p, k);
        step(p);
    }
}

static cw_node_stats stats(pair *p, cw_node_id at)
{
    cw_node_stats st;
    assert_int_equal(cw_node_get_stats(p->node[at], &st), CW_OK);
    return st;
}

static uint64_t reports(pair *p, cw_node_id at) { return stats(p, at).reports; }

/* Node 0 writes every millisecond for 200 ms: each write carries its clock,
 * so it never reports; node 1 only applies, so it reports about once an
 * interval. Once node 0 stops, it reports within two intervals (its last
 * clock may be the only word of a lost last write). */
static void test_writes_are_reports(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    write_for(&p, 200);
    assert_int_equal(reports(&p, 0), 0);
    uint64_t r1 = reports(&p, 1);
    assert_true(r1 >= 200 / 10 - 2 && r1 <= 200 / 10 + 1);
    for (int i = 0; i < 20 && reports(&p, 0) == 0; i++)
        step(&p);
    assert_int_equal(reports(&p, 0), 1);
    /* Everything is stable in the end: the logs empty. */
    for (int i = 0; i < 100; i++)
        step(&p);
    assert_int_equal(stats(&p, 0).log_entries, 0);
    pair_close(&p);
}

/* The same writes, with the host not telling the time at a put: the
 * replica's time is then its last tick's, so its writes look older than
 * they are and it reports though it writes without pause. (What a host that
 * ticks a node only when due, as the engine does, must avoid: at 64 nodes
 * these reports were 0.05-0.08 a write, each sent to 63 peers like a write:
 * some 5-8% of all deliveries.) */
static void test_without_the_time_writes_look_old(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, false);
    write_for(&p, 200);
    assert_true(reports(&p, 0) >= 200 / 10 - 2);
    pair_close(&p);
}

/* A replica learns the time only from its host. Its first stability round
 * opened before that (at create), and counts as opened at the first time it
 * learns: neither the first put nor the first tick, at whatever clock
 * reading, takes that round for stalled and names a peer as the blocker. */
static void test_no_blocker_at_start(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    p.ns = 3600ull * 1000 * MS; /* a host's monotonic clock an hour after boot */
    write_at_0(&p, 0);
    assert_int_equal(stats(&p, 0).stability_blocker, CW_NODE_NONE);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 1).stability_blocker, CW_NODE_NONE);
    /* A peer that stays silent is named once the round waited two
     * intervals: node 0 holds its write unstable and never hears from
     * node 1 (nothing is delivered). */
    p.ns += 3 * INTERVAL;
    assert_int_equal(cw_node_tick(p.node[0], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 0).stability_blocker, 1);
    pair_close(&p);
}

/* Node 0 makes three writes, and node 1's copy of the second leaves its
 * queue: into *held (held back), or lost (held NULL). */
static void three_writes_second_missing(pair *p, cw_msg **held)
{
    for (uint64_t k = 0; k < 3; k++)
        write_at_0(p, k);
    size_t at = p->len[1] - 2; /* the second of the three */
    if (held)
        *held = p->q[1][at];
    else
        cw_msg_unref(p->q[1][at]);
    p->q[1][at] = p->q[1][at + 1];
    p->len[1]--;
}

/* Node 0 makes three writes; node 1 gets the first and the third now and
 * the second only later (held back) or never (lost), as the test says.
 * Returns the milliseconds until node 1 pulled the second (it runs until
 * node 1 has all three), and the held-back write in *held (NULL: lost). */
static uint64_t gap_then_pull(pair *p, bool hold, cw_msg **held)
{
    uint64_t pulls = stats(p, 1).pulls, start = p->ns;
    three_writes_second_missing(p, hold ? held : NULL);
    uint64_t waited = 0;
    for (int i = 0; i < 1000 && (stats(p, 1).pulls == pulls || stats(p, 1).delivered < stats(p, 0).writes); i++) {
        step(p);
        if (!waited && stats(p, 1).pulls > pulls)
            waited = (p->ns - start) / MS;
    }
    assert_int_equal(stats(p, 1).delivered, stats(p, 0).writes);
    return waited;
}

/* An answer may overtake its write (transport.h: recovery traffic may go
 * ahead of a link's backlog). The write then comes second, a duplicate,
 * and says the pull was needless: the write was late, not lost. Node 1's
 * timeout for node 0 grows, so node 0's next gap, a real loss, waits four
 * times as long before it is pulled. */
static void test_a_write_after_its_answer_slows_pulls(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    cw_msg *late = NULL;
    uint64_t first = gap_then_pull(&p, true, &late);
    assert_true(first > 0);
    assert_int_equal(stats(&p, 1).recovered, 1);
    uint64_t dups = stats(&p, 1).duplicates;
    assert_int_equal(cw_node_receive(p.node[1], late, NULL, NULL), CW_OK); /* the write itself, after its answer */
    cw_msg_unref(late);
    assert_int_equal(stats(&p, 1).duplicates, dups + 1);
    uint64_t second = gap_then_pull(&p, false, NULL);
    assert_true(second >= 3 * first);
    pair_close(&p);
}

/* Node `at` takes what waits for it, with no tick. */
static void receive_all(pair *p, cw_node_id at)
{
    for (size_t k = 0; k < p->len[at]; k++) {
        assert_int_equal(cw_node_receive(p->node[at], p->q[at][k], NULL, NULL), CW_OK);
        cw_msg_unref(p->q[at][k]);
    }
    p->len[at] = 0;
}

/* Three milliseconds more: node 1 then has every write of node 0's, and
 * nothing waits in its buffer. */
static void caught_up(pair *p)
{
    for (int i = 0; i < 3; i++)
        step(p);
    assert_int_equal(stats(p, 1).delivered, stats(p, 0).writes);
    assert_int_equal(stats(p, 1).buffered, 0);
}

/* Steps until node `at` has applied `writes` in all, which it must within
 * `ms` milliseconds. */
static void delivered_within(pair *p, cw_node_id at, uint64_t writes, int ms)
{
    for (int i = 0; i < ms && stats(p, at).delivered < writes; i++)
        step(p);
    assert_int_equal(stats(p, at).delivered, writes);
}

/* The host's transport says a message from node 0 to node 1 was lost (a
 * link that numbers its messages sees that when the next one comes): the
 * gap node 0's next write shows is then pulled at node 1's next tick, not
 * after the timeout. The same word with no gap (a lost report) changes
 * nothing. */
static void test_a_loss_the_host_reports_is_pulled_at_once(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    write_for(&p, 3);
    uint64_t tick = cw_node_next_tick(p.node[1]);
    cw__node_link_lost(p.node[1], 0);
    assert_int_equal(cw_node_next_tick(p.node[1]), tick);
    uint64_t timed = gap_then_pull(&p, false, NULL); /* no word: the timeout */
    assert_true(timed >= 2);

    uint64_t pulls = stats(&p, 1).pulls;
    three_writes_second_missing(&p, NULL); /* the second is lost */
    receive_all(&p, 1);
    assert_int_equal(stats(&p, 1).buffered, 1);
    assert_true(cw_node_next_tick(p.node[1]) > p.ns); /* the gap waits its timeout */
    cw__node_link_lost(p.node[1], 0);
    assert_true(cw_node_next_tick(p.node[1]) <= p.ns);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 1).pulls, pulls + 1);
    caught_up(&p);
    pair_close(&p);
}

/* Node 1 pulls node 0's lost write 5 at once (the host said a message was
 * lost), and node 0's answer is lost too. The host's word of that (node 0's
 * next message on the link shows it) has node 1 ask node 0 again at its
 * next tick, not after the window's timeout, which stays where it was. The
 * word changes nothing for an origin without a gap, before a window is out,
 * from a peer the window did not ask, for a write node 1 holds, or for one
 * past the window. */
static void test_a_lost_answer_is_asked_again_at_once(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    write_for(&p, 3);
    uint64_t tick = cw_node_next_tick(p.node[1]);
    cw__node_answer_lost(p.node[1], 0, 0, 3); /* no gap */
    assert_int_equal(cw_node_next_tick(p.node[1]), tick);

    uint64_t pulls = stats(&p, 1).pulls;
    three_writes_second_missing(&p, NULL); /* 4 and 6 come, 5 is lost */
    receive_all(&p, 1);
    tick = cw_node_next_tick(p.node[1]);
    cw__node_answer_lost(p.node[1], 0, 0, 5); /* no window out yet */
    assert_int_equal(cw_node_next_tick(p.node[1]), tick);
    cw__node_link_lost(p.node[1], 0);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 1).pulls, pulls + 1);
    receive_all(&p, 0); /* the pull: node 0 answers */
    assert_int_equal(p.len[1], 1);
    assert_true(cw_msg_retransmitted(p.q[1][0]));
    cw_msg_unref(p.q[1][0]); /* the answer is lost */
    p.len[1] = 0;
    p.ns += MS;
    tick = cw_node_next_tick(p.node[1]);
    assert_true(tick > p.ns); /* the window waits its timeout */
    cw__node_answer_lost(p.node[1], 1, 0, 5); /* not the window's peer */
    cw__node_answer_lost(p.node[1], 0, 0, 6); /* held */
    cw__node_answer_lost(p.node[1], 0, 0, 7); /* past the window */
    assert_int_equal(cw_node_next_tick(p.node[1]), tick);
    cw__node_answer_lost(p.node[1], 0, 0, 5);
    assert_true(cw_node_next_tick(p.node[1]) <= p.ns);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 1).pulls, pulls + 2);
    assert_int_equal(cw_node_next_tick(p.node[1]), tick); /* no back-off, no new timeout */
    caught_up(&p);
    pair_close(&p);
}

/* Node 2 misses node 0's write 4, which only node 1 vouches for (its write
 * 1:1 depends on it): node 0's last word at node 2 came before it, and
 * everything node 0 sends node 2 is lost from then on. Node 2 waits for
 * node 0 to fall silent, then pulls from node 1; the answer is lost. An old copy of
 * node 0's write 3 then arrives (a late duplicate), so node 0 talks again
 * without vouching for write 4, and a gap only others vouch for would wait
 * two report intervals for the origin's own word. When the host says the
 * answer was lost, the write is asked for again at once all the same: the
 * peer that answered holds it. */
static void test_a_lost_answer_is_asked_again_though_the_origin_talks(void **state)
{
    (void)state;
    pair p;
    group_open(&p, true, 3);
    write_for(&p, 2);
    write_at_0(&p, 2);
    cw_msg *old = cw_msg_ref(p.q[2][p.len[2] - 1]); /* 0:3 as it reached node 2 */
    step(&p);
    p.cut[0][2] = true;
    write_at_0(&p, 3); /* 0:4 reaches node 1 only */
    step(&p);
    write_at(&p, 1, 0); /* 1:1 depends on 0:4 */
    step(&p);
    assert_int_equal(stats(&p, 2).buffered, 1);
    uint64_t pulls = stats(&p, 2).pulls;
    for (int ms = 0; ms < 200 && stats(&p, 2).pulls == pulls; ms++)
        step(&p);
    assert_int_equal(stats(&p, 2).pulls, pulls + 1);
    assert_int_equal(p.pulls[2][1], 1); /* the holder: the origin is silent */
    receive_all(&p, 1); /* node 1 answers; the answer is lost */
    size_t kept = 0;
    for (size_t k = 0; k < p.len[2]; k++) {
        if (cw_msg_retransmitted(p.q[2][k]))
            cw_msg_unref(p.q[2][k]);
        else
            p.q[2][kept++] = p.q[2][k];
    }
    assert_int_equal(p.len[2] - kept, 1);
    p.len[2] = kept;
    step(&p);
    cw_receive_result res;
    assert_int_equal(cw_node_receive(p.node[2], old, &res, NULL), CW_OK);
    assert_int_equal(res, CW_RECEIVE_DUPLICATE);
    cw_msg_unref(old);
    uint64_t tick = cw_node_next_tick(p.node[2]);
    assert_true(tick > p.ns); /* without the host's word, the window waits */
    cw__node_answer_lost(p.node[2], 1, 0, 4);
    assert_true(cw_node_next_tick(p.node[2]) <= p.ns);
    assert_int_equal(cw_node_tick(p.node[2], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 2).pulls, pulls + 2);
    assert_int_equal(p.pulls[2][1], 2); /* of the same peer */
    p.cut[0][2] = false;
    delivered_within(&p, 2, 5, 2000);
    pair_close(&p);
}

/* Whether a pull waiting for node 0 asks for node 0's write seq. */
static bool asked(const pair *p, uint64_t seq)
{
    for (size_t k = 0; k < p->len[0]; k++) {
        cw_node_id origin;
        uint64_t from, to;
        if (cw_msg_pull_range(p->q[0][k], &origin, &from, &to) == CW_OK && origin == 0 && from <= seq &&
            seq <= to)
            return true;
    }
    return false;
}

/* Takes what waits for node 1: of the answers, keeps the one for node 0's
 * write `keep` (0: none) and loses the others; keeps everything else (node
 * 0's reports). */
static void lose_answers_but(pair *p, uint64_t keep)
{
    size_t kept = 0;
    for (size_t k = 0; k < p->len[1]; k++) {
        if (!cw_msg_retransmitted(p->q[1][k]) || cw_msg_seq(p->q[1][k]) == keep)
            p->q[1][kept++] = p->q[1][k];
        else
            cw_msg_unref(p->q[1][k]);
    }
    p->len[1] = kept;
}

/* Node 1 misses node 0's writes 5, 10 and 30; its first window (16 seqs)
 * asks for 5 and 10. If 5's answer comes (V moves) and the host says 10's
 * was lost, 10 is asked again at once; if that answer is lost too, the
 * window that follows the timeout is twice as wide and asks for 30 as well:
 * over a lossy link few windows are answered whole. Without the host's word,
 * or if neither answer comes, the next window starts again at 16 seqs. */
static void window_after_timeout(bool five_answered, bool told)
{
    pair p;
    pair_open(&p, true);
    write_for(&p, 3);
    for (uint64_t seq = 4; seq <= 43; seq++) {
        write_at_0(&p, seq);
        if (seq == 5 || seq == 10 || seq == 30)
            cw_msg_unref(p.q[1][--p.len[1]]);
    }
    receive_all(&p, 1);
    uint64_t pulls = stats(&p, 1).pulls;
    cw__node_link_lost(p.node[1], 0);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_int_equal(stats(&p, 1).pulls, pulls += 2);
    assert_true(asked(&p, 5) && asked(&p, 10) && !asked(&p, 30));
    receive_all(&p, 0);
    assert_int_equal(p.len[1], 2); /* the answers, 5 then 10 */
    lose_answers_but(&p, five_answered ? 5 : 0);
    receive_all(&p, 1);
    assert_int_equal(stats(&p, 1).delivered, five_answered ? 9 : 4); /* up to 9, or to 4 */
    if (told) {
        cw__node_answer_lost(p.node[1], 0, 0, 10);
        assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
        assert_int_equal(stats(&p, 1).pulls, pulls += five_answered ? 1 : 2); /* up to 10 */
        assert_false(asked(&p, 30));
        receive_all(&p, 0);
        lose_answers_but(&p, 0); /* lost again, unseen */
    }
    for (int i = 0; i < 1000 && stats(&p, 1).pulls == pulls; i++)
        step(&p);
    bool grown = five_answered && told;
    assert_int_equal(stats(&p, 1).pulls, pulls + (grown || !five_answered ? 2 : 1)); /* at the timeout */
    assert_true(asked(&p, 10));
    assert_int_equal(asked(&p, 5), !five_answered);
    assert_int_equal(asked(&p, 30), grown);
    pair_close(&p);
}

static void test_a_window_partly_answered_grows(void **state)
{
    (void)state;
    window_after_timeout(true, true);
    window_after_timeout(true, false);
    window_after_timeout(false, true);
    window_after_timeout(false, false);
}

/* Node 1 takes what waits for it but the answer for node 0's write `lose`
 * (lost); its buffer may refuse answers (CW_EFULL). How many it refused. */
static uint64_t take_answers(pair *p, uint64_t lose)
{
    uint64_t refused = 0;
    for (size_t k = 0; k < p->len[1]; k++) {
        cw_msg *m = p->q[1][k];
        if (!cw_msg_retransmitted(m) || cw_msg_seq(m) != lose) {
            int rc = cw_node_receive(p->node[1], m, NULL, NULL);
            assert_true(rc == CW_OK || rc == CW_EFULL);
            refused += rc == CW_EFULL;
        }
        cw_msg_unref(m);
    }
    p->len[1] = 0;
    return refused;
}

/* Node 1, whose buffer holds one write (node 0's 36), misses node 0's
 * writes 4 to 35; its first window (16 seqs) asks for 4 to 19. 4's answer
 * applies, 5's is lost, and the buffer refuses 6 to 19. Such a window met a
 * full buffer, not a lossy link: while V has not moved since, the window
 * after its timeout asks for one seq (5), also when the host said an
 * answer of it was lost, which grows a window answered in part
 * (test_a_window_partly_answered_grows). */
static void window_after_refusal(bool told, bool moved)
{
    pair p;
    max_buffered_option = 1;
    pair_open(&p, true);
    max_buffered_option = 0;
    write_for(&p, 3);
    for (uint64_t seq = 4; seq <= 36; seq++) {
        write_at_0(&p, seq);
        if (seq != 36)
            cw_msg_unref(p.q[1][--p.len[1]]);
    }
    receive_all(&p, 1);
    assert_int_equal(stats(&p, 1).buffered, 1);
    cw__node_link_lost(p.node[1], 0);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_true(asked(&p, 4) && asked(&p, 19) && !asked(&p, 20));
    receive_all(&p, 0);
    assert_int_equal(take_answers(&p, 5), 14); /* 6 to 19 refused */
    assert_int_equal(stats(&p, 1).delivered, 4);
    if (told) /* 5 is asked again at once, and the window slides on to 20 */
        cw__node_answer_lost(p.node[1], 0, 0, 5);
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    assert_int_equal(asked(&p, 5), told);
    receive_all(&p, 0);
    /* 5 lost again and 20 refused; or 5 applied (V moves) and 20 lost,
     * so that no answer is refused after V moved. */
    take_answers(&p, moved ? 20 : 5);
    assert_int_equal(stats(&p, 1).delivered, moved ? 5 : 4);
    /* Steps until the window times out and V + 1 is asked for again;
     * pulls sent meanwhile (the window sliding on) are lost. */
    uint64_t first = moved ? 6 : 5; /* V + 1 */
    for (int ms = 0; ms < 1000 && !asked(&p, first); ms++) {
        size_t kept = 0;
        for (size_t k = 0; k < p.len[0]; k++) {
            if (cw_msg_kind_of(p.q[0][k]) == CW_MSG_PULL)
                cw_msg_unref(p.q[0][k]);
            else
                p.q[0][kept++] = p.q[0][k];
        }
        p.len[0] = kept;
        step(&p);
    }
    assert_true(asked(&p, first));
    /* Refused while V stood still: one seq. V moved since the refusal:
     * room may have come, and the window starts at 16 seqs. */
    uint64_t upto = moved ? first + 15 : first;
    assert_true(asked(&p, upto));
    assert_false(asked(&p, upto + 1));
    pair_close(&p);
}

static void test_a_window_refused_for_a_full_buffer_does_not_grow(void **state)
{
    (void)state;
    window_after_refusal(true, false);
    window_after_refusal(false, false);
}

/* As above, but 5's second answer applies (and 20's is lost): V moves
 * after the refusals, and the window slides on past 20 (which hides the
 * move from the window's own record of V). The window after the timeout
 * starts at 16 seqs, as any window does once V moved since its refusals
 * (docs/recovery.md), not at one. */
static void test_a_refused_window_after_v_moved_starts_at_16(void **state)
{
    (void)state;
    window_after_refusal(true, true);
}

/* Node 2 misses node 1's only write (cut off from node 1, and every pull
 * for it lost), which node 0's writes 1 to 40 all follow, and node 0's
 * writes 2 and 30. Node 0's first write waits in node 2's buffer for node
 * 1's: V[0] cannot move whatever node 0's window brings. Its first window
 * (16 seqs) asks for 2, whose answer comes and waits too. That window is
 * not one answered in part over a lossy path (its first write is here):
 * it starts again at 16 seqs, so 30 is not asked for while nothing of node
 * 0's can apply (a window grown to 32 would ask for it). Once node 1's
 * write gets through, node 2 catches up. */
static void test_a_window_whose_first_write_waits_elsewhere_does_not_grow(void **state)
{
    (void)state;
    pair p;
    group_open_quick(&p, 3);
    p.cut[1][2] = p.cut[2][1] = true;
    p.lose_pulls_of[1] = true;
    write_at(&p, 1, 0);
    step(&p); /* node 0 applies it */
    for (uint64_t seq = 1; seq <= 40; seq++) {
        write_at_0(&p, seq);
        if (seq == 2 || seq == 30)
            cw_msg_unref(p.q[2][--p.len[2]]);
    }
    receive_all(&p, 2);
    assert_int_equal(stats(&p, 2).buffered, 38);
    bool first = false;
    for (int ms = 0; ms < 100; ms++) {
        step(&p);
        first |= asked(&p, 2);
        assert_false(asked(&p, 30));
    }
    assert_true(first);
    assert_int_equal(stats(&p, 2).buffered, 39); /* 2's answer came, and waits */
    p.cut[1][2] = p.cut[2][1] = false;
    p.lose_pulls_of[1] = false;
    delivered_within(&p, 2, 41, 200);
    pair_close(&p);
}

/* Node 1 misses node 0's write 5 and writes 11 to 40, with a 2 ms timeout.
 * Of each window's answers only one comes, never 5's, so V stays at 4:
 * each window is answered in part, as over a lossy link, where a lost
 * first answer holds V back. Such a window is not one that nobody
 * answers: the one after it comes one timeout later, not a backed-off one
 * (the wait would double after 8 windows, as for any window that times
 * out at a peer that talks), and its span grows as for a window answered
 * whole, so the second window asks for 30 to 40 too (after a 16-seq
 * window that stopped at 19). Once 5's answer comes, node 1 catches up. */
static void test_a_window_answered_in_part_keeps_asking(void **state)
{
    (void)state;
    pair p;
    group_open_quick(&p, NODES);
    write_for(&p, 3);
    for (uint64_t seq = 4; seq <= 43; seq++) {
        write_at_0(&p, seq);
        if (seq == 5 || (seq >= 11 && seq <= 40))
            cw_msg_unref(p.q[1][--p.len[1]]);
    }
    receive_all(&p, 1);
    cw__node_link_lost(p.node[1], 0);
    uint64_t last = 0;
    for (uint64_t window = 0, keep = 11; window < 12; window++, keep++) {
        uint64_t pulls = stats(&p, 1).pulls;
        for (int ms = 0; ms < 100 && stats(&p, 1).pulls == pulls; ms++)
            step(&p);
        assert_true(stats(&p, 1).pulls > pulls);
        if (window)
            assert_int_equal(p.ns - last, 2 * MS); /* one timeout: step ends a millisecond past it */
        last = p.ns;
        assert_true(asked(&p, 5) && asked(&p, keep));
        assert_int_equal(asked(&p, 30), window > 0);
        receive_all(&p, 0);
        lose_answers_but(&p, keep);
        receive_all(&p, 1);
        assert_int_equal(stats(&p, 1).delivered, 4);
    }
    delivered_within(&p, 1, 43, 100);
    pair_close(&p);
}

/* What node 0 says to node 1 while node 1's pulls are lost: nothing (cut
 * off), its writes, or only pulls of its own (a peer that misses writes
 * asks every timeout; over a lossy link that may be all that comes), a
 * word only every three report intervals (a link that loses most of what
 * the peer sends), nothing after writes 50 ms apart, or nothing after such
 * a lossy spell and then 40 ms of a word every millisecond. */
typedef enum peer_word {
    SAYS_NOTHING, WRITES, ONLY_PULLS, SELDOM, NOTHING_AFTER_SPARSE_WRITES, NOTHING_AFTER_A_LOSSY_SPELL
} peer_word;

/* Node 0 pulls from node 1 a write node 1 has not made: a word of node 0's
 * own that asks node 1 for nothing it can give. */
static void pull_from_0(pair *p)
{
    cw_msg *pull;
    assert_int_equal(cw__msg_pull(&pull, NODES, 0, 1, 1, 1, 1), CW_OK);
    assert_int_equal(cw_node_receive(p->node[1], pull, NULL, NULL), CW_OK);
    cw_msg_unref(pull);
}

/* For 90 ms one word of node 0's in every 30 ms reaches node 1 (the link
 * loses the rest), while node 1 misses a write (held back, then
 * delivered); then, for `often_ms`, a word every millisecond. */
static void lossy_spell(pair *p, int often_ms)
{
    cw_msg *held;
    three_writes_second_missing(p, &held);
    receive_all(p, 1);
    p->cut[0][1] = true;
    for (int ms = 0; ms < 90 + often_ms; ms++) {
        if (ms >= 90 || ms % 30 == 0)
            pull_from_0(p);
        step(p);
    }
    p->cut[0][1] = false;
    assert_int_equal(cw_node_receive(p->node[1], held, NULL, NULL), CW_OK);
    cw_msg_unref(held);
    assert_int_equal(stats(p, 1).buffered, 0);
}

/* Node 1 misses a write of node 0's, and for 320 ms every pull it sends is
 * lost; node 0 says `word` to it meanwhile (with ONLY_PULLS, a pull every
 * 2 ms; with SELDOM, one every 30 ms, from 90 ms before, while node 1
 * missed another write). The pulls sent in that time. */
static uint64_t pulls_while_lost(peer_word word)
{
    pair p;
    group_open_quick(&p, NODES);
    write_for(&p, 3);
    if (word == SELDOM)
        lossy_spell(&p, 0);
    if (word == NOTHING_AFTER_A_LOSSY_SPELL)
        lossy_spell(&p, 40);
    for (int ms = 0; word == NOTHING_AFTER_SPARSE_WRITES && ms < 200; ms++) { /* a write every 50 ms, none lost */
        if (ms % 50 == 0)
            write_at_0(&p, (uint64_t)ms);
        step(&p);
    }
    three_writes_second_missing(&p, NULL); /* of three, the second is lost */
    receive_all(&p, 1);
    cw__node_link_lost(p.node[1], 0);
    p.lose_pulls[1][0] = true;
    p.cut[0][1] = word != WRITES; /* SELDOM's words come past the cut */
    uint64_t before = p.pulls[1][0];
    for (int ms = 0; ms < 320; ms++) {
        if (word == WRITES)
            write_at_0(&p, (uint64_t)ms);
        if ((word == ONLY_PULLS && ms % 2 == 0) || (word == SELDOM && ms % 30 == 0))
            pull_from_0(&p);
        step(&p);
    }
    uint64_t pulls = p.pulls[1][0] - before;
    pair_close(&p);
    return pulls;
}

/* A write whose pulls keep being lost is asked for again with a wait that
 * doubles only every eighth window while its holder still talks to the
 * node (a lossy link: backing off at each lost pull would slow the repair),
 * and at each window once the holder is silent (cut off or gone: the pulls
 * would be lost anyway); up to 32 timeouts either way. With a 2 ms
 * timeout, 320 ms: node 0 talking, 8 windows each at 2, 4, 8 and 16 ms,
 * then 32 ms: 35 pulls; node 0 silent (after its word of two report
 * intervals, 20 ms, lapses), 17. (A back-off grown at each window would
 * send 10 in both cases; none at all for a talking peer, 160.) A peer
 * whose only word is its pulls talks as much as one that writes: 35 (17
 * if pulls did not count). So does one heard only every 30 ms on a link
 * that lost most of its words before, while node 1 missed a write: its gaps
 * say so, and silent is then twice its longest gap lately, not two report
 * intervals (which would have it silent a third of the time: 21). Gaps
 * while nothing is missed say nothing of loss: a peer that wrote every
 * 50 ms on a link that lost none is silent two intervals after its last
 * word, and asked 10 times (19 if those gaps counted). A lossy spell is
 * forgotten once the peer is heard often: after 40 ms of a word every
 * millisecond it is silent two intervals after its last, asked 18 times
 * (25 if the gap never lost its eighths). */
static void test_pulls_back_off_slower_from_a_peer_that_talks(void **state)
{
    (void)state;
    uint64_t talking = pulls_while_lost(WRITES), pulling = pulls_while_lost(ONLY_PULLS),
             seldom = pulls_while_lost(SELDOM), silent = pulls_while_lost(SAYS_NOTHING),
             sparse = pulls_while_lost(NOTHING_AFTER_SPARSE_WRITES),
             recovered = pulls_while_lost(NOTHING_AFTER_A_LOSSY_SPELL);
    assert_true(talking >= 30 && talking <= 48);
    assert_true(pulling >= 30 && pulling <= 48);
    assert_true(seldom >= 30 && seldom <= 48);
    assert_true(silent >= 12 && silent <= 24);
    assert_true(sparse >= 6 && sparse <= 14);
    assert_true(recovered >= 12 && recovered <= 21);
}

/* For 2 s nothing of node 0's reaches node 1, which misses no write
 * meanwhile: to node 1, node 0 is a peer with nothing to say. Node 0's next
 * write depends on one of node 2's that node 1 lost, so it opens a gap at
 * node 1 as it comes; then everything node 0 and node 2 send to node 1 is
 * lost. The spell before the gap opened does not count as a gap between
 * node 0's words, so node 0 is silent two intervals after its write, as
 * node 2 is, and node 1's windows (50 ms timeout) back off at each one: 6
 * pulls in 1.6 s; 18 if the spell counted, taking node 0 for talking for
 * the full back-off. */
static void test_a_quiet_spell_is_not_a_lossy_link(void **state)
{
    (void)state;
    pair p;
    group_open(&p, true, 3);
    write_for(&p, 3);
    p.cut[0][1] = true; /* its reports are lost, but node 1 misses no write */
    for (int ms = 0; ms < 2000; ms++)
        step(&p);
    p.cut[0][1] = false;
    p.cut[2][1] = true;
    write_at(&p, 2, 0); /* 2:1 reaches node 0 only */
    step(&p);
    write_at_0(&p, 3); /* 0:4 depends on 2:1 */
    step(&p);
    p.cut[0][1] = true;
    assert_int_equal(stats(&p, 1).buffered, 1);
    uint64_t before = p.pulls[1][0] + p.pulls[1][2];
    for (int ms = 0; ms < 1600; ms++)
        step(&p);
    uint64_t pulls = p.pulls[1][0] + p.pulls[1][2] - before;
    assert_true(pulls >= 3 && pulls <= 10);
    p.cut[0][1] = p.cut[2][1] = false;
    delivered_within(&p, 1, 5, 2000);
    pair_close(&p);
}

/* Node 2 misses node 0's writes and is cut off from node 0 both ways, so
 * node 0 is silent to it; node 1 holds the writes and talks to node 2 (its
 * reports), but for 320 ms every pull node 2 sends it is lost. Node 2
 * passes over the silent origin for node 1 in the rotation of peers it
 * asks, so its wait doubles only every eighth window, as for any peer that
 * talks (a 2 ms timeout: 35 pulls; 5 if the origin's turns grew the
 * back-off at each window). Once its pulls get through, node 2 catches up
 * from node 1. */
static void test_a_talking_holder_is_asked_past_a_silent_origin(void **state)
{
    (void)state;
    pair p;
    group_open_quick(&p, 3);
    p.cut[0][2] = p.cut[2][0] = true;
    p.lose_pulls[2][1] = true;
    write_for(&p, 10);
    uint64_t before = p.pulls[2][1];
    for (int ms = 0; ms < 320; ms++)
        step(&p);
    assert_true(p.pulls[2][1] - before >= 30);
    assert_int_equal(stats(&p, 2).delivered, 0);
    p.lose_pulls[2][1] = false;
    delivered_within(&p, 2, 10, 100);
    pair_close(&p);
}

/* A host waiting for the replicas to agree (the engine's quiesce) asks a
 * node for its report now: it goes at the next tick, though the node
 * reported a moment ago; without the request the next one waits for its
 * interval. */
static void test_a_report_asked_for_goes_at_once(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    write_for(&p, 3);
    while (reports(&p, 1) == 0) /* node 1 only applies: it reports within an interval */
        step(&p);
    uint64_t sent = reports(&p, 1);
    step(&p);
    assert_int_equal(reports(&p, 1), sent);
    assert_true(cw_node_next_tick(p.node[1]) > p.ns);
    cw__node_report_now(p.node[1]);
    assert_true(cw_node_next_tick(p.node[1]) <= p.ns);
    step(&p);
    assert_int_equal(reports(&p, 1), sent + 1);
    step(&p);
    assert_int_equal(reports(&p, 1), sent + 1); /* once, then the interval again */
    pair_close(&p);
}

static void expect_stable(pair *p, cw_node_id at, const char *text)
{
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_node_stable(p->node[at], &c), CW_OK);
    tu_assert_clock(&c, text);
    cw_vclock_destroy(&c);
}

/* A receive refused for want of room (CW_EFULL) changes nothing, as
 * node.h says: the write it refused is not heard either. Its clock would
 * close the stability round it arrives in (node 0 is node 1's one peer),
 * make node 1's own write stable and trim it from node 1's log. Once the
 * write is taken on a retry, it does. */
static void test_a_refused_write_is_not_heard(void **state)
{
    (void)state;
    pair p;
    max_buffered_option = 1;
    pair_open(&p, true);
    max_buffered_option = 0;
    assert_int_equal(cw_node_put(p.node[1], "a", 1, "1", 1, NULL), CW_OK); /* 1:1 */
    assert_int_equal(p.len[0], 1);
    assert_int_equal(cw_node_receive(p.node[0], p.q[0][0], NULL, NULL), CW_OK);
    cw_msg_unref(p.q[0][0]);
    p.len[0] = 0;
    for (int i = 0; i < 3; i++) /* 0:1 to 0:3, each after 1:1 */
        assert_int_equal(cw_node_put(p.node[0], "b", 1, "x", 1, NULL), CW_OK);
    assert_int_equal(p.len[1], 3);
    cw_msg **w = p.q[1];
    assert_int_equal(cw_node_receive(p.node[1], w[1], NULL, NULL), CW_OK); /* 0:2 waits for 0:1 */
    p.ns += 3 * INTERVAL; /* a stability round opens at node 1 */
    assert_int_equal(cw_node_tick(p.node[1], p.ns, NULL), CW_OK);
    expect_stable(&p, 1, "");
    assert_int_equal(stats(&p, 1).log_entries, 1);

    cw_receive_result r = 99;
    assert_int_equal(cw_node_receive(p.node[1], w[2], &r, NULL), CW_EFULL); /* 0:3: no room */
    assert_int_equal(r, 99);
    expect_stable(&p, 1, "");
    assert_int_equal(stats(&p, 1).log_entries, 1);
    assert_int_equal(stats(&p, 1).rejected_full, 1);

    assert_int_equal(cw_node_receive(p.node[1], w[0], NULL, NULL), CW_OK); /* 0:1, then 0:2 */
    assert_int_equal(cw_node_receive(p.node[1], w[2], &r, NULL), CW_OK);   /* the retry */
    assert_int_equal(r, CW_RECEIVE_DELIVERED);
    expect_stable(&p, 1, "1:1");
    assert_int_equal(stats(&p, 1).log_entries, 3); /* 1:1 trimmed; 0:1 to 0:3 not yet stable */
    for (int i = 0; i < 3; i++)
        cw_msg_unref(w[i]);
    p.len[1] = 0;
    pair_close(&p);
}

static void put_then_delete(pair *p, const char *key)
{
    cw__node_note_time(p->node[0], p->ns);
    assert_int_equal(cw_node_put(p->node[0], key, strlen(key), "v", 1, NULL), CW_OK);
    assert_int_equal(cw_node_delete(p->node[0], key, strlen(key), NULL, NULL), CW_OK);
}

/* Half of node n's max_log or more of its own writes are not yet stable,
 * and no round is open. */
static bool round_wanted(const cw_node *n)
{
    cw_node_id self = n->opt.self;
    return !n->st.open && n->clock.counters[self] - n->st.stable[self] >= n->opt.max_log - n->opt.max_log / 2;
}

/* Stability rounds are paced (here one a second, 100 report intervals),
 * but a node whose own writes not yet stable reach half of max_log opens
 * its next round at once (recovery.c, round_due): its puts wait only as
 * long as a round takes, not for the pace. Node 0 of three writes once a
 * millisecond with max_log 8 for 500 ms: rounds at the pace alone let it
 * make a few writes a second, refusing the rest with CW_ESTALLED (a host's
 * put then waited for the pace, past its stall timeout: at 1,024 nodes the
 * engine paces rounds at 21 s). A node that writes less keeps the pace: its
 * stable clock does not move between paced rounds. */
static void test_a_full_log_does_not_wait_for_the_pace(void **state)
{
    (void)state;
    pair p;
    max_log_option = 8;
    stability_interval_option = 100 * INTERVAL;
    group_open(&p, true, 3);
    max_log_option = 0;
    stability_interval_option = 0;
    /* Three writes (under half of max_log), then quiet for a quarter of
     * the pace: the first round, opened at create, took none of them (its
     * minimum starts at node 0's clock then), and no other opens. */
    for (uint64_t k = 0; k < 3; k++)
        write_at_0(&p, k);
    for (uint64_t i = 0; i < 25 * INTERVAL / MS; i++)
        step(&p);
    cw_vclock stable;
    cw_vclock_init(&stable);
    assert_int_equal(cw_node_stable(p.node[0], &stable), CW_OK);
    assert_int_equal(cw_vclock_get(&stable, 0), 0);
    assert_int_equal(stats(&p, 0).log_entries, 3);
    /* Now a write every millisecond. Whenever half of max_log or more of
     * node 0's writes are unstable and no round is open, its next tick is
     * due at once: the put that made them so asks for it, and so does a
     * round that closes leaving them so (a host ticks a node only when
     * due; the next report could be an interval away). */
    uint64_t made = 0, refused = 0, reopened = 0;
    for (uint64_t k = 0; k < 500; k++) {
        cw__node_note_time(p.node[0], p.ns);
        int rc = cw_node_put(p.node[0], "w", 1, "v", 1, NULL);
        assert_true(rc == CW_OK || rc == CW_ESTALLED);
        made += rc == CW_OK;
        refused += rc == CW_ESTALLED;
        assert_true(!round_wanted(p.node[0]) || cw_node_next_tick(p.node[0]) <= p.ns);
        deliver_queued(&p); /* step's deliveries first ... */
        if (round_wanted(p.node[0])) { /* a round closed, leaving half or more unstable */
            assert_true(cw_node_next_tick(p.node[0]) <= p.ns);
            reopened++;
        }
        step(&p); /* ... then its ticks (nothing is queued now) */
    }
    assert_true(reopened > 0);
    print_message("# 500 puts in 500 ms: %llu made, %llu refused (max_log 8)\n", (unsigned long long)made,
                  (unsigned long long)refused);
    assert_true(made >= 100); /* 205 here; 5 at the pace alone */
    for (uint64_t i = 0; i < 300 * INTERVAL / MS && stats(&p, 0).log_entries; i++)
        step(&p);
    assert_int_equal(stats(&p, 0).log_entries, 0);
    cw_vclock_destroy(&stable);
    pair_close(&p);
}

/* A report of writes no node made (here node 1 says it applied 2^62 of its
 * own: a peer whose state is wrong) raises the tombstone bar of each round
 * it is heard in beyond reach, so the deletes made stable in those rounds
 * stay in the store. The deletes made after it, once honest rounds follow,
 * must still leave: one unreachable bar may not hold back every later one. */
static void test_an_unreachable_bar_holds_back_only_its_own_deletes(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    put_then_delete(&p, "d");
    for (int ms = 0; ms < 100; ms++) {
        cw_vclock c;
        cw_vclock_init(&c);
        assert_int_equal(cw_node_clock(p.node[1], &c), CW_OK);
        uint64_t applied[NODES] = {cw_vclock_get(&c, 0), UINT64_C(1) << 62};
        cw_vclock_destroy(&c);
        cw_msg *forged;
        assert_int_equal(cw__msg_report(&forged, NODES, 1, applied, 0), CW_OK);
        assert_int_equal(cw_node_receive(p.node[0], forged, NULL, NULL), CW_OK);
        cw_msg_unref(forged);
        step(&p);
    }
    assert_int_equal(stats(&p, 0).keys, 1); /* d waits for a bar never reached */
    for (int ms = 0; ms < 100; ms++)
        step(&p);
    put_then_delete(&p, "e");
    put_then_delete(&p, "f");
    for (int ms = 0; ms < 200; ms++)
        step(&p);
    assert_int_equal(stats(&p, 1).keys, 0); /* it heard no forged report */
    assert_int_equal(stats(&p, 0).keys, 1); /* only d */
    pair_close(&p);
}

static void no_log_entry(void *ctx, const cw_msg *m)
{
    (void)ctx;
    fail_msg("a log entry (%p) where the log is empty", (const void *)m);
}

/* A peer's state with a counter at UINT64_MAX (no honest peer has one, but
 * install takes it) leaves that origin's log empty above it: walking the
 * log finds nothing, where it took base + 1 (0) as its first seq and gave
 * 2^64 NULL entries to its caller (a node saving its state). */
static void test_a_log_at_the_top_of_the_counters_walks_empty(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    uint64_t clock[NODES] = {UINT64_MAX, 0};
    assert_int_equal(cw_node_install(p.node[1], clock, NODES, NULL, 0), CW_OK);
    cw__node_each_logged(p.node[1], no_log_entry, NULL);
    assert_int_equal(stats(&p, 1).log_entries, 0);
    pair_close(&p);
}

/* A peer's state with a counter near UINT64_MAX installed, and a report of
 * the writes above it: they are pulled, up to UINT64_MAX. Node 1's window
 * ends at UINT64_MAX, where the next run's start wrapped to 0 and the tick
 * walked every seq below V (a hang); node 0's V + 16 wrapped, so that it
 * never pulled. */
static void test_writes_at_the_top_of_the_counters_are_pulled(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, true);
    uint64_t clock1[NODES] = {UINT64_MAX - 16, 0}, clock0[NODES] = {0, UINT64_MAX - 8};
    assert_int_equal(cw_node_install(p.node[1], clock1, NODES, NULL, 0), CW_OK);
    assert_int_equal(cw_node_install(p.node[0], clock0, NODES, NULL, 0), CW_OK);
    for (cw_node_id at = 0; at < NODES; at++) {
        uint64_t applied[NODES] = {UINT64_MAX, UINT64_MAX};
        cw_msg *r;
        assert_int_equal(cw__msg_report(&r, NODES, 1 - at, applied, 0), CW_OK);
        assert_int_equal(cw_node_receive(p.node[at], r, NULL, NULL), CW_OK);
        cw_msg_unref(r);
    }
    alarm(20); /* the watchdog: the tick that hung would never return */
    for (int ms = 0; ms < 200; ms++, p.ns += MS)
        for (cw_node_id at = 0; at < NODES; at++)
            assert_int_equal(cw_node_tick(p.node[at], p.ns, NULL), CW_OK);
    alarm(0);
    assert_true(p.pulls[1][0] >= 1 && p.pulls[0][1] >= 1);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_blocker_at_start),
        cmocka_unit_test(test_writes_are_reports),
        cmocka_unit_test(test_without_the_time_writes_look_old),
        cmocka_unit_test(test_a_write_after_its_answer_slows_pulls),
        cmocka_unit_test(test_a_loss_the_host_reports_is_pulled_at_once),
        cmocka_unit_test(test_a_lost_answer_is_asked_again_at_once),
        cmocka_unit_test(test_a_lost_answer_is_asked_again_though_the_origin_talks),
        cmocka_unit_test(test_a_window_partly_answered_grows),
        cmocka_unit_test(test_a_window_answered_in_part_keeps_asking),
        cmocka_unit_test(test_a_window_whose_first_write_waits_elsewhere_does_not_grow),
        cmocka_unit_test(test_a_window_refused_for_a_full_buffer_does_not_grow),
        cmocka_unit_test(test_a_refused_window_after_v_moved_starts_at_16),
        cmocka_unit_test(test_pulls_back_off_slower_from_a_peer_that_talks),
        cmocka_unit_test(test_a_talking_holder_is_asked_past_a_silent_origin),
        cmocka_unit_test(test_a_quiet_spell_is_not_a_lossy_link),
        cmocka_unit_test(test_a_report_asked_for_goes_at_once),
        cmocka_unit_test(test_a_refused_write_is_not_heard),
        cmocka_unit_test(test_an_unreachable_bar_holds_back_only_its_own_deletes),
        cmocka_unit_test(test_a_full_log_does_not_wait_for_the_pace),
        cmocka_unit_test(test_a_log_at_the_top_of_the_counters_walks_empty),
        cmocka_unit_test(test_writes_at_the_top_of_the_counters_are_pulled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
