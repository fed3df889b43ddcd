/* The network transport (src/server/net.c) on its own: two transports in
 * one process, nodes 0 and 1, on ipc:// endpoints in a temporary directory.
 * What one sends (alone, or coalesced into batches) the other takes in
 * order; a sender that is not a peer is refused and counted; the control
 * messages reach their handlers; park_wait returns on a wake and on its
 * timeout. */
#include "testutil.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bytes.h"
#include "msg_internal.h"
#include "net.h"
#include "now.h"

static const cw_hlc_timestamp TS = {1700000000123u, 7, 2};

typedef struct heard {
    uint32_t joins, heads, resets, snapshots;
    uint32_t from;
    uint64_t nonce;
    cw__net_snapshot sn;
} heard;

typedef struct pair {
    char dir[64];
    char ep[2][96];
    const char *peers[2];
    cw__transport *t[2];
    heard heard[2];
    uint64_t refused;          /* node 1's refused count, across takes */
} pair;

static void on_join(void *ctx, uint32_t from, uint64_t nonce, bool head_only)
{
    heard *h = ctx;
    h->joins += !head_only;
    h->heads += head_only;
    h->from = from;
    h->nonce = nonce;
}

static void on_reset(void *ctx, uint32_t from)
{
    heard *h = ctx;
    h->resets++;
    h->from = from;
}

static void on_snapshot(void *ctx, uint32_t from, cw__net_snapshot *sn)
{
    heard *h = ctx;
    h->snapshots++;
    h->from = from;
    cw__net_snapshot_clear(&h->sn);
    h->sn = *sn; /* taken */
    memset(sn, 0, sizeof *sn);
}

static void open_pair(pair *p, bool hold)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/cw-test-net-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    for (uint32_t i = 0; i < 2; i++) {
        snprintf(p->ep[i], sizeof p->ep[i], "ipc://%s/node%u", p->dir, i);
        p->peers[i] = p->ep[i];
    }
    for (uint32_t i = 0; i < 2; i++) {
        cw__net_options o = {
            .self = i,
            .nodes = 2,
            .listen = p->ep[i],
            .peers = p->peers,
            .hwm = 10000,
            .heartbeat_ms = 1000,
            .lim = {2, 1024, 1 << 16},
            .hold = hold,
            .control = {&p->heard[i], on_join, on_reset, on_snapshot},
        };
        char err[256] = "";
        assert_int_equal(cw__transport_net(&p->t[i], &o, err, sizeof err), CW_OK);
        assert_int_equal(p->t[i]->endpoints, 2);
    }
}

static void close_pair(pair *p)
{
    for (uint32_t i = 0; i < 2; i++) {
        if (p->t[i])
            cw__transport_destroy(p->t[i]);
        cw__net_snapshot_clear(&p->heard[i].sn);
    }
    char path[160];
    for (uint32_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/node%u", p->dir, i);
        unlink(path);
    }
    rmdir(p->dir);
}

/* Node origin's write number seq (its clock: seq at origin, 0 elsewhere). */
static cw_msg *write_msg(cw_node_id origin, uint64_t seq)
{
    uint64_t clock[2] = {0, 0};
    clock[origin] = seq;
    char key[32], value[32];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)seq);
    snprintf(value, sizeof value, "v%llu", (unsigned long long)seq);
    cw_msg *m = NULL;
    assert_int_equal(cw__msg_write(&m, origin, &TS, clock, 2, NULL, false, key, strlen(key), value, strlen(value)),
                     CW_OK);
    return m;
}

/* Takes at node `at` until `want` messages came or 60 s passed, parking
 * between takes; small takes, so a batch is handed over in pieces. (64 MiB
 * of held frames took more than 10 s to arrive under ThreadSanitizer on a
 * loaded machine: 924 of 1,364 had come.) */
static size_t take_until(pair *p, uint32_t at, cw_msg **got, size_t want)
{
    size_t n = 0;
    uint64_t until = cw__now_ns() + 60000000000u;
    while (n < want && cw__now_ns() < until) {
        size_t k = cw__transport_take(p->t[at], at, got + n, want - n < 7 ? want - n : 7);
        n += k;
        if (k == 0) {
            uint32_t ticket = cw__transport_park_prepare(p->t[at], at);
            if (cw__transport_arrived(p->t[at], at))
                cw__transport_park_cancel(p->t[at], at);
            else
                cw__transport_park_wait(p->t[at], at, ticket, 100000000u);
        }
    }
    return n;
}

/* Parks at node `at` for up to 10 s, taking, until pred holds. */
static void turn_until(pair *p, uint32_t at, bool (*pred)(pair *p))
{
    uint64_t until = cw__now_ns() + 10000000000u;
    cw_msg *m[8];
    while (!pred(p) && cw__now_ns() < until) {
        size_t k = cw__transport_take(p->t[at], at, m, 8);
        for (size_t i = 0; i < k; i++)
            cw_msg_unref(m[i]);
        if (k == 0)
            cw__transport_park_wait(p->t[at], at, cw__transport_park_prepare(p->t[at], at), 20000000u);
    }
}

static void test_net_messages_arrive_in_order(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    enum { COALESCED = 600, N = COALESCED + 2 * CW__NET_BATCH_FRAMES + 100 };
    cw_msg *got[N];
    /* Alone, then coalesced: a flush after every 50 sends, then many sends
     * (batches that reach CW__NET_BATCH_FRAMES and go at once) before one
     * flush. */
    uint64_t seq = 0;
    for (int i = 0; i < 5; i++) {
        cw_msg *m = write_msg(0, ++seq);
        cw__transport_send_all(p.t[0], 0, m);
        cw_msg_unref(m); /* the transport keeps no reference: the bytes are encoded */
        assert_true(cw__transport_flush(p.t[0], 0));
    }
    assert_false(cw__transport_flush(p.t[0], 0)); /* nothing waits */
    while (seq < N) {
        cw_msg *m = write_msg(0, ++seq);
        if (seq % 2)
            cw__transport_send_all(p.t[0], 0, m);
        else
            cw__transport_send(p.t[0], 0, 1, m);
        cw_msg_unref(m);
        if (seq % 50 == 0 && seq <= COALESCED)
            (void)cw__transport_flush(p.t[0], 0);
    }
    (void)cw__transport_flush(p.t[0], 0);
    assert_false(cw__transport_sending(p.t[0], 0));

    size_t n = take_until(&p, 1, got, N);
    assert_int_equal(n, N);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cw_msg_origin(got[i]), 0);
        assert_int_equal(cw_msg_seq(got[i]), i + 1);
        size_t klen = 0;
        const uint8_t *key = cw_msg_key(got[i], &klen);
        char want[32];
        snprintf(want, sizeof want, "k%zu", i + 1);
        assert_int_equal(klen, strlen(want));
        assert_memory_equal(key, want, klen);
        cw_msg_unref(got[i]);
    }
    cw__net_counts c = {0};
    cw__net_tx_counts(p.t[0], &c);
    assert_int_equal(c.sent, N);
    assert_int_equal(c.link_full, 0);
    assert_true(c.bytes_out > 0);
    cw__net_take_rx_counts(p.t[1], &c);
    assert_int_equal(c.received, N);
    assert_int_equal(c.malformed, 0);
    assert_int_equal(c.refused, 0);
    assert_true(c.bytes_in > 0);
    cw__net_counts again = {0};
    cw__net_take_rx_counts(p.t[1], &again); /* taken: they start again */
    assert_int_equal(again.received, 0);
    close_pair(&p);
}

/* A link holds at most 64 MiB in ZeroMQ's queue, whatever its high-water
 * mark in messages: 80 writes of 1 MiB for a peer that is gone, each flushed
 * alone, queue up to the bound and the rest are lost as on a full link
 * (the peer pulls them once back). Before, all 80 queued (10,000 would
 * have: 10 GB for one absent peer). */
static void test_net_link_bytes_are_bounded(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    cw__transport_destroy(p.t[1]); /* the peer is gone: nothing leaves the queue */
    p.t[1] = NULL;
    /* Time for node 0's connection to see its peer close: a write that
     * still went out before it did would give bytes back to the bound. */
    nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    enum { WRITES = 80, VALUE = 1 << 20 };
    char *value = calloc(1, VALUE);
    assert_non_null(value);
    for (uint64_t seq = 1; seq <= WRITES; seq++) {
        uint64_t clock[2] = {seq, 0};
        cw_msg *m = NULL;
        assert_int_equal(cw__msg_write(&m, 0, &TS, clock, 2, NULL, false, "k", 1, value, VALUE), CW_OK);
        cw__transport_send(p.t[0], 0, 1, m);
        cw_msg_unref(m);
        (void)cw__transport_flush(p.t[0], 0);
    }
    free(value);
    cw__net_counts c = {0};
    cw__net_tx_counts(p.t[0], &c);
    assert_int_equal(c.sent + c.link_full, WRITES);
    assert_in_range(c.sent, 60, 64); /* 64 MiB of 1 MiB writes and their headers */
    close_pair(&p);
}

/* Held frames count toward the link's 64 MiB as well: 1,600 writes of 48
 * KiB for a peer (75 MiB), held until flush, keep at most the bound in the
 * batch, and the rest are lost as on a full link, before any flush. (A
 * durable node holds its frames until its turn's flush, and a turn's pulls
 * from the wire ask for up to 512 x 256 writes.) The link's next frame
 * after the flush still decodes, and shows the loss. */
static void test_net_held_bytes_are_bounded(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, true);
    enum { WRITES = 1600, VALUE = 48 << 10 };
    char *value = calloc(1, VALUE);
    assert_non_null(value);
    uint64_t clock[2] = {0, 0};
    for (uint64_t seq = 1; seq <= WRITES; seq++) {
        clock[0] = seq;
        cw_msg *m = NULL;
        assert_int_equal(cw__msg_write(&m, 0, &TS, clock, 2, NULL, false, "k", 1, value, VALUE), CW_OK);
        cw__transport_send(p.t[0], 0, 1, m);
        cw_msg_unref(m);
    }
    free(value);
    cw__net_counts c = {0};
    cw__net_tx_counts(p.t[0], &c);
    assert_int_equal(c.sent, 0); /* nothing handed over before flush */
    assert_in_range(c.link_full, WRITES - 1366, WRITES - 1360); /* 64 MiB of 48 KiB writes held */
    assert_true(cw__transport_flush(p.t[0], 0));
    cw_msg *m = write_msg(0, WRITES + 1);
    cw__transport_send(p.t[0], 0, 1, m);
    cw_msg_unref(m);
    assert_true(cw__transport_flush(p.t[0], 0));
    static cw_msg *got[WRITES + 1];
    size_t kept = WRITES - c.link_full;
    assert_int_equal(take_until(&p, 1, got, kept), kept);
    assert_int_equal(take_until(&p, 1, got + kept, 1), 1); /* alone: the flags are the last take's */
    assert_int_equal(cw_msg_seq(got[kept]), WRITES + 1);
    assert_true(cw__net_losses_shown(p.t[1])[0]); /* the held frames lost before it */
    for (size_t i = 0; i <= kept; i++)
        cw_msg_unref(got[i]);
    close_pair(&p);
}

/* A frame larger than the bound goes on an empty link (as a message of any
 * size does), held alone: the link is then full, and the frames after it
 * are lost until the flush, where the batch's length past the bound had
 * the room left wrap around and every later frame was held. */
static void test_net_a_held_frame_past_the_bound_fills_the_link(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, true);
    enum { VALUE = (64 << 20) + 4096, AFTER = 10 };
    char *value = calloc(1, VALUE);
    assert_non_null(value);
    uint64_t clock[2] = {1, 0};
    cw_msg *m = NULL;
    assert_int_equal(cw__msg_write(&m, 0, &TS, clock, 2, NULL, false, "k", 1, value, VALUE), CW_OK);
    free(value);
    cw__transport_send(p.t[0], 0, 1, m);
    cw_msg_unref(m);
    for (uint64_t seq = 2; seq < 2 + AFTER; seq++) {
        m = write_msg(0, seq);
        cw__transport_send(p.t[0], 0, 1, m);
        cw_msg_unref(m);
    }
    cw__net_counts c = {0};
    cw__net_tx_counts(p.t[0], &c);
    assert_int_equal(c.link_full, AFTER);
    close_pair(&p);
}

/* Held frames wait for flush; a drop loses them (counted, as
 * a full link does), the link's next frame still decodes, and the receiver
 * sees the loss when it comes (cw__net_losses_shown). */
static void test_net_hold_and_drop(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, true);
    uint64_t seq = 0;
    cw_msg *got[1];
    for (int i = 0; i < 4; i++) {
        cw_msg *m = write_msg(0, ++seq);
        cw__transport_send_all(p.t[0], 0, m);
        cw_msg_unref(m);
    }
    assert_true(cw__transport_flush(p.t[0], 0));
    for (int i = 0; i < 4; i++) { /* one a take: the flags are the last take's */
        assert_int_equal(take_until(&p, 1, got, 1), 1);
        assert_false(cw__net_losses_shown(p.t[1])[0]);
        cw_msg_unref(got[0]);
    }
    cw__net_counts c = {0};
    cw__net_tx_counts(p.t[0], &c);
    uint64_t sent = c.sent;
    for (int i = 0; i < 300; i++) {
        cw_msg *m = write_msg(0, ++seq);
        cw__transport_send_all(p.t[0], 0, m);
        cw_msg_unref(m);
    }
    memset(&c, 0, sizeof c);
    cw__net_tx_counts(p.t[0], &c);
    assert_int_equal(c.sent, sent); /* nothing handed over before flush */
    cw__net_drop(p.t[0], 1);
    cw__net_tx_counts(p.t[0], &c);
    assert_int_equal(c.link_full, 300);
    cw_msg *m = write_msg(0, ++seq);
    cw__transport_send_all(p.t[0], 0, m);
    cw_msg_unref(m);
    assert_true(cw__transport_flush(p.t[0], 0));
    assert_int_equal(take_until(&p, 1, got, 1), 1);
    assert_int_equal(cw_msg_seq(got[0]), seq);
    assert_true(cw__net_losses_shown(p.t[1])[0]); /* 300 frames before it were lost */
    cw_msg_unref(got[0]);
    close_pair(&p);
}

/* Held frames past a batch's bounds leave, at flush, as several batches,
 * each within CW__NET_BATCH_FRAMES (what a receiver takes), all in order. */
static void test_net_held_frames_split_into_batches(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, true);
    enum { N = 2 * CW__NET_BATCH_FRAMES + 7 };
    cw_msg *got[N];
    for (uint64_t seq = 1; seq <= N; seq++) {
        cw_msg *m = write_msg(0, seq);
        cw__transport_send(p.t[0], 0, 1, m);
        cw_msg_unref(m);
    }
    assert_true(cw__transport_flush(p.t[0], 0));
    assert_int_equal(take_until(&p, 1, got, N), N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(cw_msg_seq(got[i]), i + 1);
        cw_msg_unref(got[i]);
    }
    cw__net_counts c = {0};
    cw__net_take_rx_counts(p.t[1], &c);
    assert_int_equal(c.received, N);
    assert_int_equal(c.malformed, 0);
    close_pair(&p);
}

static bool three_refused(pair *p)
{
    cw__net_counts c = {0};
    cw__net_take_rx_counts(p->t[1], &c);
    p->refused += c.refused;
    return p->refused >= 3;
}

/* A process that is not a configured peer (another routing id, a peer's
 * id out of range or its own, or a peer's id with an empty group after
 * '@') is refused and counted; nothing is taken. */
static void test_net_refuses_a_stranger(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    void *ctx = zmq_ctx_new();
    const char *ids[] = {"stranger", "cw-node-7", "cw-node-0@"};
    void *d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = zmq_socket(ctx, ZMQ_DEALER);
        assert_non_null(d[i]);
        assert_int_equal(zmq_setsockopt(d[i], ZMQ_ROUTING_ID, ids[i], strlen(ids[i])), 0);
        assert_int_equal(zmq_connect(d[i], p.ep[1]), 0);
        cw_msg *m = write_msg(0, 1);
        uint8_t buf[256];
        size_t len = 0;
        assert_int_equal(cw_msg_encode(m, buf + 1, sizeof buf - 1, &len), CW_OK);
        buf[0] = 0; /* a whole frame: tag 0, the codec's bytes */
        cw_msg_unref(m);
        assert_int_equal(zmq_send(d[i], buf, len + 1, 0), (int)len + 1);
    }
    turn_until(&p, 1, three_refused);
    assert_int_equal(p.refused, 3);
    cw_msg *got[1];
    assert_int_equal(cw__transport_take(p.t[1], 1, got, 1), 0);
    for (int i = 0; i < 3; i++) {
        int linger = 0;
        zmq_setsockopt(d[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(d[i]);
    }
    zmq_ctx_term(ctx);
    close_pair(&p);
}

static bool heard_all(pair *p)
{
    heard *h = &p->heard[1];
    return h->joins && h->resets && h->snapshots;
}

/* A join request, a reset and a snapshot answer reach node 1's handlers. */
static void test_net_control_messages(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    cw__net_send_reset(p.t[0], 1);
    cw__net_snapshot_out so;
    uint64_t clock[2] = {3, 2};
    assert_true(cw__net_snapshot_start(p.t[0], &so, 1, clock, 5, 42, 2, 1));
    cw_msg *v[3] = {write_msg(0, 3), write_msg(1, 2), write_msg(0, 2)};
    for (int i = 0; i < 3; i++) /* two versions, then one log write */
        cw__net_snapshot_add(p.t[0], &so, v[i]);
    cw__net_snapshot_end(p.t[0], &so);
    cw__net_send_join(p.t[0], 1, 0x1122334455667788u, false);
    turn_until(&p, 1, heard_all);
    heard *h = &p.heard[1];
    assert_int_equal(h->joins, 1);
    assert_int_equal(h->resets, 1);
    assert_int_equal(h->snapshots, 1);
    assert_int_equal(h->from, 0);
    assert_int_equal(h->nonce, 0x1122334455667788u);
    assert_int_equal(h->sn.nonce, 42);
    assert_int_equal(h->sn.seen, 5);
    assert_int_equal(h->sn.clock[0], 3);
    assert_int_equal(h->sn.clock[1], 2);
    assert_int_equal(h->sn.count, 2);
    assert_int_equal(cw_msg_seq(h->sn.versions[0]), 3);
    assert_int_equal(cw_msg_origin(h->sn.versions[1]), 1);
    assert_int_equal(h->sn.log_count, 1);
    assert_int_equal(cw_msg_seq(h->sn.log[0]), 2);
    for (int i = 0; i < 3; i++)
        cw_msg_unref(v[i]);
    close_pair(&p);
}

static void send_writes(cw__transport *from, uint64_t first, uint64_t last);

static bool snapshot_or_malformed(pair *p)
{
    cw__net_counts c = {0};
    cw__net_take_rx_counts(p->t[1], &c);
    p->refused += c.malformed; /* here: the malformed count */
    return p->heard[1].snapshots || p->refused;
}

/* Node 1 takes one snapshot answer sent raw in node 0's name: the head
 * (head_len bytes: clock {3, 2}, seen 5, nonce 42, then `declared` versions
 * and `flags` if head_len has room), then `parts` copies of node 0's write
 * 3. Returns whether it reached the handler (else it was counted
 * malformed). */
static bool raw_snapshot(size_t head_len, uint64_t declared, uint64_t flags, int parts, heard *out)
{
    pair p;
    open_pair(&p, false);
    /* Node 0's own connection first: connected later, it would take the
     * name over from the raw one (ZMQ_ROUTER_HANDOVER), and what came on
     * the raw one would count as a stranger's. */
    send_writes(p.t[0], 1, 1);
    cw_msg *got[1];
    assert_int_equal(take_until(&p, 1, got, 1), 1);
    cw_msg_unref(got[0]);
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(zmq_setsockopt(d, ZMQ_ROUTING_ID, "cw-node-0", 9), 0);
    assert_int_equal(zmq_connect(d, p.ep[1]), 0);
    uint8_t head[48];
    const uint64_t fields[6] = {3, 2, 5, 42, declared, flags};
    for (int k = 0; k < 6; k++)
        cw__store_be(head + 8 * k, fields[k], 8);
    cw_msg *m = write_msg(0, 3);
    uint8_t buf[256];
    size_t len = 0;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    cw_msg_unref(m);
    assert_int_equal(zmq_send(d, "S", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(d, head, head_len, parts ? ZMQ_SNDMORE : 0), (int)head_len);
    for (int i = 0; i < parts; i++)
        assert_int_equal(zmq_send(d, buf, len, i + 1 < parts ? ZMQ_SNDMORE : 0), (int)len);
    turn_until(&p, 1, snapshot_or_malformed);
    bool taken = p.heard[1].snapshots == 1;
    *out = p.heard[1];
    memset(&p.heard[1].sn, 0, sizeof p.heard[1].sn); /* now the caller's */
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(d);
    zmq_ctx_term(ctx);
    close_pair(&p);
    return taken;
}

/* A snapshot's head says how many of its parts are versions; the rest are
 * log writes. A head without that field (a node of an earlier release) is
 * versions only; one that declares more versions than come is refused. */
static void test_net_snapshot_versions_and_log(void **state)
{
    (void)state;
    heard h;
    assert_true(raw_snapshot(40, 1, 0, 3, &h));
    assert_int_equal(h.sn.count, 1);
    assert_int_equal(h.sn.log_count, 2);
    assert_true(h.sn.with_log);
    cw__net_snapshot_clear(&h.sn);
    assert_true(raw_snapshot(32, 0, 0, 2, &h));
    assert_int_equal(h.sn.count, 2);
    assert_int_equal(h.sn.log_count, 0);
    assert_false(h.sn.with_log); /* an earlier release's: installed without a log */
    cw__net_snapshot_clear(&h.sn);
    assert_true(raw_snapshot(40, 0, 0, 0, &h)); /* a log, empty: everything it held was stable */
    assert_true(h.sn.with_log);
    assert_false(h.sn.head_only);
    cw__net_snapshot_clear(&h.sn);
    assert_false(raw_snapshot(40, 3, 0, 2, &h));
    assert_false(raw_snapshot(40, ((uint64_t)1 << 24) + 1, 0, 0, &h));
    /* The answer to a head request: the head alone, flagged. */
    assert_true(raw_snapshot(48, 0, 1, 0, &h));
    assert_true(h.sn.head_only);
    assert_int_equal(h.sn.count + h.sn.log_count, 0);
    assert_int_equal(h.sn.clock[0], 3);
    assert_int_equal(h.sn.seen, 5);
    cw__net_snapshot_clear(&h.sn);
    assert_false(raw_snapshot(48, 0, 1, 1, &h)); /* a head alone with a part after it */
    assert_false(raw_snapshot(48, 1, 1, 0, &h)); /* ... declaring a version */
    assert_false(raw_snapshot(48, 0, 2, 0, &h)); /* flags this release does not know */
}

static bool heard_head(pair *p) { return p->heard[1].heads && p->heard[1].snapshots; }

/* A head request reaches node 1's join handler as one; the head answer
 * reaches its snapshot handler with no versions and no log. */
static void test_net_head_request_and_answer(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    uint64_t clock[2] = {7, 4};
    assert_true(cw__net_send_join(p.t[0], 1, 99, true));
    assert_true(cw__net_send_head(p.t[0], 1, clock, 9, 99));
    turn_until(&p, 1, heard_head);
    heard *h = &p.heard[1];
    assert_int_equal(h->heads, 1);
    assert_int_equal(h->joins, 0);
    assert_int_equal(h->nonce, 99);
    assert_true(h->sn.head_only);
    assert_true(h->sn.with_log);
    assert_int_equal(h->sn.count + h->sn.log_count, 0);
    assert_int_equal(h->sn.clock[0], 7);
    assert_int_equal(h->sn.clock[1], 4);
    assert_int_equal(h->sn.seen, 9);
    assert_int_equal(h->sn.nonce, 99);
    /* A lent link sends neither. */
    cw__net_lend(p.t[0], 1);
    assert_false(cw__net_send_join(p.t[0], 1, 100, true));
    assert_false(cw__net_send_head(p.t[0], 1, clock, 9, 100));
    cw__net_return(p.t[0], 1);
    close_pair(&p);
}

/* Sends node 0's writes first..last to every endpoint, and flushes. */
static void send_writes(cw__transport *from, uint64_t first, uint64_t last)
{
    for (uint64_t seq = first; seq <= last; seq++) {
        cw_msg *m = write_msg(0, seq);
        cw__transport_send_all(from, 0, m);
        cw_msg_unref(m);
    }
    (void)cw__transport_flush(from, 0);
}

/* Parks node 1's loop on t (prepare, then wait up to timeout_ns) and
 * returns how long it waited, in ns. */
static uint64_t park_for(cw__transport *t, uint64_t timeout_ns)
{
    uint64_t t0 = cw__now_ns();
    cw__transport_park_wait(t, 1, cw__transport_park_prepare(t, 1), timeout_ns);
    return cw__now_ns() - t0;
}

/* 50 ms: what a helper thread sleeps, so that its action comes while the
 * test is parked. */
static void nap(void)
{
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
}

static void *wake_later(void *arg)
{
    nap();
    cw__transport_wake(arg, 1);
    return NULL;
}

/* park_wait returns at once after a wake (before or during the wait), and
 * after its timeout when nothing comes. */
static void test_net_park_wakes_and_times_out(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    cw__transport *t = p.t[1];
    assert_false(cw__transport_arrived(t, 1));

    /* A wake between prepare and wait: the wait returns at once. */
    uint32_t ticket = cw__transport_park_prepare(t, 1);
    cw__transport_wake(t, 1);
    uint64_t t0 = cw__now_ns();
    cw__transport_park_wait(t, 1, ticket, 5000000000u);
    assert_true(cw__now_ns() - t0 < 1000000000u);

    /* A wake from another thread during the wait. */
    pthread_t th;
    t0 = cw__now_ns();
    ticket = cw__transport_park_prepare(t, 1);
    assert_int_equal(pthread_create(&th, NULL, wake_later, t), 0);
    cw__transport_park_wait(t, 1, ticket, 10000000000u);
    uint64_t waited = cw__now_ns() - t0;
    pthread_join(th, NULL);
    assert_true(waited >= 40000000u);
    assert_true(waited < 5000000000u);

    /* Nothing comes: the timeout. */
    waited = park_for(t, 50000000u);
    assert_true(waited >= 45000000u);
    assert_true(waited < 2000000000u);

    /* Something arrives: the wait ends, and arrived says so. */
    send_writes(p.t[0], 1, 1);
    assert_true(park_for(t, 10000000000u) < 5000000000u);
    assert_true(cw__transport_arrived(t, 1));
    cw_msg *got[1];
    assert_int_equal(cw__transport_take(t, 1, got, 1), 1);
    cw_msg_unref(got[0]);
    close_pair(&p);
}

static void *send_later(void *arg)
{
    nap();
    send_writes(arg, 1, 3);
    return NULL;
}

/* The loop's parking without a look first (net.h): after a take that
 * emptied the ROUTER, a message that comes during park_wait ends it at once;
 * a take that stopped at max leaves the rest, and park_wait does not sleep
 * on it. */
static void test_net_park_after_a_take(void **state)
{
    (void)state;
    pair p;
    open_pair(&p, false);
    cw__transport *t = p.t[1];
    cw_msg *got[4];
    assert_int_equal(cw__transport_take(t, 1, got, 4), 0); /* empties it */

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_later, p.t[0]), 0);
    uint64_t t0 = cw__now_ns();
    size_t n = 0;
    /* The three may come in more than one wake: each park ends at once. */
    while (n < 3 && cw__now_ns() - t0 < 5000000000u) {
        (void)park_for(t, 10000000000u);
        n += cw__transport_take(t, 1, got + n, 1); /* one at a time: may leave the rest */
    }
    pthread_join(th, NULL);
    assert_int_equal(n, 3);
    assert_true(cw__now_ns() - t0 < 5000000000u);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cw_msg_seq(got[i]), i + 1);
        cw_msg_unref(got[i]);
    }

    /* Two waiting, one taken: park returns at once for the other. */
    send_writes(p.t[0], 4, 5);
    n = 0;
    t0 = cw__now_ns();
    while (n < 1 && cw__now_ns() - t0 < 5000000000u) {
        (void)park_for(t, 10000000000u);
        n += cw__transport_take(t, 1, got, 1);
    }
    assert_int_equal(n, 1);
    assert_true(park_for(t, 10000000000u) < 1000000000u);
    assert_int_equal(cw__transport_take(t, 1, got + 1, 1), 1);
    assert_int_equal(cw_msg_seq(got[0]), 4);
    assert_int_equal(cw_msg_seq(got[1]), 5);
    cw_msg_unref(got[0]);
    cw_msg_unref(got[1]);
    close_pair(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_messages_arrive_in_order),
        cmocka_unit_test(test_net_link_bytes_are_bounded),
        cmocka_unit_test(test_net_held_bytes_are_bounded),
        cmocka_unit_test(test_net_a_held_frame_past_the_bound_fills_the_link),
        cmocka_unit_test(test_net_hold_and_drop),
        cmocka_unit_test(test_net_held_frames_split_into_batches),
        cmocka_unit_test(test_net_refuses_a_stranger),
        cmocka_unit_test(test_net_control_messages),
        cmocka_unit_test(test_net_snapshot_versions_and_log),
        cmocka_unit_test(test_net_head_request_and_answer),
        cmocka_unit_test(test_net_park_wakes_and_times_out),
        cmocka_unit_test(test_net_park_after_a_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
