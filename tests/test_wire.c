/* Link frames (src/server/wire.c): whole, key and delta frames decode to
 * exactly what the codec makes of the message's bytes; a lost frame is
 * refused until the next key frame; hostile frames fail cleanly.
 * `test_wire --bytes` prints the bytes-per-message table of
 * docs/formats.md, "Link frames". */
#include "testutil.h"

#include "msg_internal.h"
#include "wire.h"

static const cw_hlc_timestamp TS = {1700000000123u, 7, 2};
static const size_t MAX_KEY = 1 << 16, MAX_VALUE = 1 << 20;

static cw_msg_limits limits(uint32_t nodes) { return (cw_msg_limits){nodes, MAX_KEY, MAX_VALUE}; }

/* ---- comparing messages ---- */

static void assert_same_clock(const cw_msg *a, const cw_msg *b, int (*get)(const cw_msg *, cw_vclock *))
{
    cw_vclock x, y;
    cw_vclock_init(&x);
    cw_vclock_init(&y);
    int ra = get(a, &x), rb = get(b, &y);
    assert_int_equal(ra, rb);
    if (ra == CW_OK)
        assert_int_equal(cw_vclock_compare(&x, &y), CW_EQUAL);
    cw_vclock_destroy(&x);
    cw_vclock_destroy(&y);
}

/* Every field a receiver can see. */
static void assert_same(const cw_msg *a, const cw_msg *b)
{
    assert_int_equal(cw_msg_kind_of(a), cw_msg_kind_of(b));
    assert_int_equal(cw_msg_origin(a), cw_msg_origin(b));
    assert_int_equal(cw_msg_seq(a), cw_msg_seq(b));
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(cw_msg_retransmitted(a), cw_msg_retransmitted(b));
    assert_int_equal(cw_msg_tombstone(a), cw_msg_tombstone(b));
    assert_int_equal(a->nodes, b->nodes);
    cw_hlc_timestamp ta = cw_msg_timestamp(a), tb = cw_msg_timestamp(b);
    assert_int_equal(cw_hlc_compare(&ta, &tb), 0);
    uint32_t na = 0, nb = 0;
    const uint64_t *ca = cw_msg_counters(a, &na), *cb = cw_msg_counters(b, &nb);
    assert_int_equal(na, nb);
    assert_true((ca == NULL) == (cb == NULL));
    if (ca)
        assert_memory_equal(ca, cb, (size_t)na * 8);
    size_t ka, kb, va, vb;
    const void *k1 = cw_msg_key(a, &ka), *k2 = cw_msg_key(b, &kb);
    const void *v1 = cw_msg_value(a, &va), *v2 = cw_msg_value(b, &vb);
    assert_int_equal(ka, kb);
    assert_int_equal(va, vb);
    assert_memory_equal(k1, k2, ka);
    assert_memory_equal(v1, v2, va);
    assert_same_clock(a, b, cw_msg_context);
    assert_same_clock(a, b, cw_msg_clock);
    cw_node_id oa = 0, ob = 0;
    uint64_t fa = 0, fb = 0, ua = 0, ub = 0;
    assert_int_equal(cw_msg_pull_range(a, &oa, &fa, &ua), cw_msg_pull_range(b, &ob, &fb, &ub));
    assert_int_equal(oa, ob);
    assert_int_equal(fa, fb);
    assert_int_equal(ua, ub);
}

/* What cw_msg_decode makes of m's codec bytes. */
static cw_msg *codec_copy(const cw_msg *m)
{
    size_t n = cw_msg_encoded_size(m), used = 0;
    uint8_t *b = malloc(n);
    assert_non_null(b);
    assert_int_equal(cw_msg_encode(m, b, n, &used), CW_OK);
    cw_msg_limits lim = limits(m->nodes);
    cw_msg *c = NULL;
    assert_int_equal(cw_msg_decode(&c, b, n, &lim, &used), CW_OK);
    free(b);
    return c;
}

/* Encodes, commits and decodes m on a link; checks the result is the codec's
 * message and returns the frame's tag. */
static int send_one(cw__wire_tx *tx, cw__wire_rx *rx, const cw_msg *m, size_t *len_out)
{
    const uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(cw__wire_encode(tx, m, &bytes, &len), CW_OK);
    cw__wire_commit(tx);
    cw_msg_limits lim = limits(m->nodes);
    cw_msg *got = NULL, *want = codec_copy(m);
    assert_int_equal(cw__wire_decode(rx, bytes, len, &lim, &got), CW_OK);
    assert_same(got, want);
    assert_same(got, m);
    cw_msg_unref(got);
    cw_msg_unref(want);
    if (len_out)
        *len_out = len;
    return bytes[0];
}

/* ---- messages ---- */

static cw_msg *write_msg(uint32_t nodes, cw_node_id origin, const uint64_t *clock, const uint64_t *context,
                         bool tombstone, const char *key, const char *value)
{
    cw_msg *m = NULL;
    assert_int_equal(cw__msg_write(&m, origin, &TS, clock, nodes, context, tombstone, key, strlen(key), value,
                                   strlen(value)),
                     CW_OK);
    return m;
}

/* Every kind and flag of message at `nodes`, clocks from c (c[origin] >= 1). */
static size_t all_kinds(cw_msg **out, uint32_t nodes, const uint64_t *c)
{
    cw_node_id o = (cw_node_id)(nodes - 1);
    uint64_t *ctx = calloc(nodes, 8);
    assert_non_null(ctx);
    for (uint32_t i = 0; i < nodes; i++)
        ctx[i] = i == o ? c[i] - 1 : c[i] / 2;
    size_t k = 0;
    out[k++] = write_msg(nodes, o, c, NULL, false, "k", "v");
    out[k++] = write_msg(nodes, o, c, NULL, false, "", "");
    out[k++] = write_msg(nodes, o, c, NULL, true, "key", "");
    out[k++] = write_msg(nodes, o, c, ctx, false, "key", "value");
    out[k++] = write_msg(nodes, o, c, ctx, true, "key", "");
    assert_int_equal(cw__msg_retransmission(&out[k], out[0], 0), CW_OK), k++;
    assert_int_equal(cw__msg_retransmission(&out[k], out[3], 0), CW_OK), k++;
    assert_int_equal(cw__msg_retransmission(&out[k], out[2], 0), CW_OK), k++;
    assert_int_equal(cw__msg_pull(&out[k], nodes, o, 0, 0, 5, 9), CW_OK), k++;
    assert_int_equal(cw__msg_report(&out[k], nodes, o, c, 0), CW_OK), k++;
    assert_int_equal(cw__msg_report(&out[k], nodes, o, c, CW__MSG_WANTS_REPORTS), CW_OK), k++;
    free(ctx);
    return k;
}

#define KINDS 11

/* ---- round trips ---- */

static void test_round_trips(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {1, 3, 64, 1024};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint32_t nodes = sizes[s];
        uint64_t *c = calloc(nodes, 8);
        assert_non_null(c);
        cw__wire_tx tx;
        cw__wire_rx rx;
        assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
        assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
        for (int round = 0; round < 3; round++) {
            /* Sparse, dense, and large counters (10-byte varints). */
            for (uint32_t i = 0; i < nodes; i++)
                c[i] = round == 0 ? (i % 5 == 0) * (i + 1) : round == 1 ? i * 3 + 1 : UINT64_MAX - i;
            c[nodes - 1] += c[nodes - 1] == 0;
            cw_msg *ms[KINDS];
            size_t k = all_kinds(ms, nodes, c);
            assert_int_equal(k, KINDS);
            for (size_t i = 0; i < k; i++) {
                size_t len;
                int tag = send_one(&tx, &rx, ms[i], &len);
                if (cw_msg_kind_of(ms[i]) == CW_MSG_PULL)
                    assert_int_equal(tag, 0);
                else
                    assert_true(len <= 1 + cw_msg_encoded_size(ms[i]));
                cw_msg_unref(ms[i]);
            }
        }
        assert_int_equal(rx.gaps, 0);
        cw__wire_tx_destroy(&tx);
        cw__wire_rx_destroy(&rx);
        free(c);
    }
}

static void test_init_rejects(void **state)
{
    (void)state;
    cw__wire_tx tx;
    cw__wire_rx rx;
    assert_int_equal(cw__wire_tx_init(&tx, 0), CW_EINVAL);
    assert_int_equal(cw__wire_rx_init(&rx, 0), CW_EINVAL);
    assert_int_equal(cw__wire_tx_init(&tx, CW_VCLOCK_MAX_ENTRIES + 1), CW_EINVAL);
    assert_int_equal(cw__wire_rx_init(&rx, CW_VCLOCK_MAX_ENTRIES + 1), CW_EINVAL);
    assert_int_equal(cw__wire_tx_init(&tx, 3), CW_OK);
    uint64_t c[4] = {1, 1, 1, 1};
    cw_msg *m = write_msg(4, 0, c, NULL, false, "k", "v");
    const uint8_t *b;
    size_t len;
    assert_int_equal(cw__wire_encode(&tx, m, &b, &len), CW_EINVAL); /* another group size */
    cw_msg_unref(m);
    cw__wire_tx_destroy(&tx);
}

/* ---- a stream with changing clocks ---- */

/* A random stream of writes, reports, retransmissions and pulls from node 0
 * of a group of `nodes`, whose clock moves a few entries at a time. */
static void stream(uint32_t nodes, int messages, int *tags)
{
    uint64_t *c = calloc(nodes, 8), *old = calloc(nodes, 8);
    assert_non_null(c);
    assert_non_null(old);
    cw__wire_tx tx;
    cw__wire_rx rx;
    assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    for (int i = 0; i < messages; i++) {
        int moves = (int)tu_below(4);
        for (int j = 0; j < moves; j++)
            c[tu_below(nodes)] += 1 + tu_below(tu_below(2) ? 3 : 100000);
        c[0]++;
        if (i == messages / 2)
            memcpy(old, c, nodes * 8);
        uint64_t r = tu_below(10);
        cw_msg *m = NULL;
        if (r < 6) {
            m = write_msg(nodes, 0, c, NULL, r == 5, "key", r == 5 ? "" : "value");
        } else if (r == 6) {
            assert_int_equal(cw__msg_report(&m, nodes, 0, c, 0), CW_OK);
        } else if (r == 7) {
            assert_int_equal(cw__msg_pull(&m, nodes, 0, 1, (cw_node_id)tu_below(nodes), 1, 2), CW_OK);
        } else if (r == 8) {
            /* An old clock: a retransmitted copy. */
            cw_msg *w = write_msg(nodes, 0, old[0] ? old : c, NULL, false, "k", "");
            assert_int_equal(cw__msg_retransmission(&m, w, 1), CW_OK);
            cw_msg_unref(w);
        } else {
            uint64_t *ctx = calloc(nodes, 8);
            assert_non_null(ctx);
            for (uint32_t k = 1; k < nodes; k++)
                ctx[k] = tu_below(c[k] + 1);
            m = write_msg(nodes, 0, c, ctx, tu_below(2), "k", "");
            free(ctx);
        }
        tags[send_one(&tx, &rx, m, NULL)]++;
        cw_msg_unref(m);
    }
    assert_int_equal(rx.gaps, 0);
    assert_int_equal(rx.link_seq, tx.link_seq);
    assert_memory_equal(rx.base, tx.base, nodes * 8);
    cw__wire_tx_destroy(&tx);
    cw__wire_rx_destroy(&rx);
    free(c);
    free(old);
}

static void test_delta_stream(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {1, 3, 64, 1024};
    for (size_t s = 0; s < 4; s++) {
        int tags[3] = {0};
        stream(sizes[s], 400, tags);
        if (sizes[s] >= 64) { /* deltas most of the time, a key frame now and then */
            assert_true(tags[2] > 200);
            assert_true(tags[1] >= 1);
        }
    }
}

/* ---- loss ---- */

static cw_msg *moving_write(uint32_t nodes, uint64_t *c, cw_node_id origin)
{
    c[origin]++;
    c[(origin + 1) % nodes]++;
    return write_msg(nodes, origin, c, NULL, false, "k", "v");
}

/* Encodes and commits m; the frame is copied to *frame. */
static size_t put_frame(cw__wire_tx *tx, const cw_msg *m, uint8_t **frame)
{
    const uint8_t *b;
    size_t len;
    assert_int_equal(cw__wire_encode(tx, m, &b, &len), CW_OK);
    cw__wire_commit(tx);
    free(*frame);
    *frame = malloc(len);
    assert_non_null(*frame);
    memcpy(*frame, b, len);
    return len;
}

static void test_lost_frame_until_key(void **state)
{
    (void)state;
    const uint32_t nodes = 16;
    uint64_t c[16] = {0};
    cw__wire_tx tx;
    cw__wire_rx rx;
    assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    cw_msg_limits lim = limits(nodes);
    uint8_t *frame = NULL;
    cw_msg *got;
    for (int i = 0; i < 10; i++) {
        cw_msg *m = moving_write(nodes, c, 3);
        assert_int_equal(send_one(&tx, &rx, m, NULL), i == 0 ? 1 : 2);
        cw_msg_unref(m);
    }
    assert_false(cw__wire_take_lost(&rx)); /* nothing lost so far */
    /* Frame 11 is lost; 12 .. 64 are refused; 65 is a key frame. */
    cw_msg *m = moving_write(nodes, c, 3);
    put_frame(&tx, m, &frame);
    cw_msg_unref(m);
    uint64_t refused = 0;
    for (uint64_t seq = 12; seq <= 2 * CW__WIRE_KEY_EVERY + 3; seq++) {
        m = moving_write(nodes, c, 3);
        size_t len = put_frame(&tx, m, &frame);
        got = NULL;
        int rc = cw__wire_decode(&rx, frame, len, &lim, &got);
        if (seq < CW__WIRE_KEY_EVERY + 1) {
            assert_int_equal(frame[0], 2);
            assert_int_equal(rc, CW_ENOTFOUND);
            assert_null(got);
            refused++;
            assert_int_equal(rx.gaps, refused);
            assert_int_equal(rx.link_seq, 10); /* nothing changed */
            if (seq == 12)
                assert_true(cw__wire_take_lost(&rx)); /* the refusal shows the loss */
        } else {
            assert_int_equal(frame[0], seq % CW__WIRE_KEY_EVERY == 1 ? 1 : 2);
            assert_int_equal(rc, CW_OK);
            assert_same(got, m);
            cw_msg_unref(got);
            assert_int_equal(rx.link_seq, seq);
            /* The refusals after the first look showed a loss; then none. */
            assert_int_equal(cw__wire_take_lost(&rx), seq == CW__WIRE_KEY_EVERY + 1);
        }
        cw_msg_unref(m);
    }
    assert_int_equal(refused, CW__WIRE_KEY_EVERY + 1 - 12);
    /* Whole frames pass regardless, and keep the chain: a pull in between. */
    cw_msg *pull;
    assert_int_equal(cw__msg_pull(&pull, nodes, 3, 1, 2, 1, 4), CW_OK);
    size_t len = put_frame(&tx, pull, &frame);
    assert_int_equal(frame[0], 0);
    assert_int_equal(cw__wire_decode(&rx, frame, len, &lim, &got), CW_OK);
    assert_same(got, pull);
    assert_false(cw__wire_take_lost(&rx));
    cw_msg_unref(got);
    cw_msg_unref(pull);
    m = moving_write(nodes, c, 3);
    assert_int_equal(send_one(&tx, &rx, m, NULL), 2);
    cw_msg_unref(m);
    free(frame);
    cw__wire_tx_destroy(&tx);
    cw__wire_rx_destroy(&rx);
}

static void test_encode_without_commit(void **state)
{
    (void)state;
    const uint32_t nodes = 8;
    uint64_t c[8] = {0};
    cw__wire_tx tx;
    cw__wire_rx rx;
    assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    for (int i = 0; i < 3; i++) {
        cw_msg *m = moving_write(nodes, c, 1);
        send_one(&tx, &rx, m, NULL);
        cw_msg_unref(m);
    }
    uint64_t base[8];
    memcpy(base, tx.base, sizeof base);
    /* Refused by the socket: encoded, never committed, never sent. */
    cw_msg *skipped = moving_write(nodes, c, 1);
    const uint8_t *b;
    size_t len, len2;
    assert_int_equal(cw__wire_encode(&tx, skipped, &b, &len), CW_OK);
    assert_int_equal(tx.link_seq, 3);
    assert_memory_equal(tx.base, base, sizeof base);
    /* The same message encodes the same again. */
    uint8_t *first = malloc(len);
    assert_non_null(first);
    memcpy(first, b, len);
    assert_int_equal(cw__wire_encode(&tx, skipped, &b, &len2), CW_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(first, b, len);
    free(first);
    cw_msg_unref(skipped);
    /* The next one decodes against the committed base. */
    for (int i = 0; i < 3; i++) {
        cw_msg *m = moving_write(nodes, c, 1);
        assert_int_equal(send_one(&tx, &rx, m, NULL), 2);
        cw_msg_unref(m);
    }
    /* A second commit commits nothing. */
    cw__wire_commit(&tx);
    assert_int_equal(tx.link_seq, 6);
    assert_int_equal(rx.gaps, 0);
    assert_false(cw__wire_take_lost(&rx)); /* a frame never committed was never sent */
    cw__wire_tx_destroy(&tx);
    cw__wire_rx_destroy(&rx);
}

static void test_reset_and_restarts(void **state)
{
    (void)state;
    const uint32_t nodes = 8;
    uint64_t c[8] = {0};
    cw__wire_tx tx;
    cw__wire_rx rx;
    cw_msg_limits lim = limits(nodes);
    assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    uint8_t *frame = NULL;
    cw_msg *got = NULL, *m;
    for (int i = 0; i < 5; i++) {
        m = moving_write(nodes, c, 2);
        send_one(&tx, &rx, m, NULL);
        cw_msg_unref(m);
    }
    /* The peer reconnected and lost two frames: reset makes the next a key frame. */
    for (int i = 0; i < 2; i++) {
        m = moving_write(nodes, c, 2);
        put_frame(&tx, m, &frame);
        cw_msg_unref(m);
    }
    assert_false(cw__wire_take_lost(&rx));
    cw__wire_tx_reset(&tx);
    m = moving_write(nodes, c, 2);
    assert_int_equal(send_one(&tx, &rx, m, NULL), 1);
    cw_msg_unref(m);
    assert_int_equal(rx.link_seq, 8); /* the seq goes on */
    assert_true(cw__wire_take_lost(&rx)); /* 6 and 7 never came */
    m = moving_write(nodes, c, 2);
    assert_int_equal(send_one(&tx, &rx, m, NULL), 2);
    cw_msg_unref(m);
    assert_false(cw__wire_take_lost(&rx));

    /* The receiver restarted: no base, deltas refused until a key frame. */
    cw__wire_rx_destroy(&rx);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    m = moving_write(nodes, c, 2);
    size_t len = put_frame(&tx, m, &frame);
    cw_msg_unref(m);
    assert_int_equal(cw__wire_decode(&rx, frame, len, &lim, &got), CW_ENOTFOUND);
    assert_int_equal(rx.gaps, 1);
    cw__wire_tx_reset(&tx);
    m = moving_write(nodes, c, 2);
    assert_int_equal(send_one(&tx, &rx, m, NULL), 1);
    cw_msg_unref(m);

    /* The sender restarted (a new state numbers from 1 again) and its first
     * frame was lost: its second must not decode against the old state's
     * frame 1, which the receiver holds. */
    cw__wire_rx_destroy(&rx);
    cw__wire_tx_destroy(&tx);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
    m = moving_write(nodes, c, 2);
    send_one(&tx, &rx, m, NULL);
    cw_msg_unref(m);
    assert_int_equal(rx.link_seq, 1);
    cw__wire_tx tx2;
    assert_int_equal(cw__wire_tx_init(&tx2, nodes), CW_OK);
    assert_int_not_equal(tx2.epoch, tx.epoch);
    memset(c, 0, sizeof c);
    m = moving_write(nodes, c, 2);
    put_frame(&tx2, m, &frame); /* lost */
    cw_msg_unref(m);
    m = moving_write(nodes, c, 2);
    len = put_frame(&tx2, m, &frame);
    cw_msg_unref(m);
    assert_int_equal(frame[0], 2);
    assert_false(cw__wire_take_lost(&rx));
    assert_int_equal(cw__wire_decode(&rx, frame, len, &lim, &got), CW_ENOTFOUND);
    assert_true(cw__wire_take_lost(&rx));
    free(frame);
    cw__wire_tx_destroy(&tx2);
    cw__wire_tx_destroy(&tx);
    cw__wire_rx_destroy(&rx);
}

/* ---- hostile frames ---- */

/* rx after decoding `key` (a key frame); the frames are then decoded as
 * given and must fail cleanly or decode to a valid message. */
static int try_frame(uint32_t nodes, const uint8_t *key, size_t key_len, const uint8_t *f, size_t len)
{
    cw__wire_rx rx;
    cw_msg_limits lim = limits(nodes);
    assert_int_equal(cw__wire_rx_init(&rx, nodes), CW_OK);
    cw_msg *got = NULL;
    if (key) {
        assert_int_equal(cw__wire_decode(&rx, key, key_len, &lim, &got), CW_OK);
        cw_msg_unref(got);
        got = NULL;
    }
    uint64_t seq = rx.link_seq;
    uint64_t *base = malloc(nodes * 8);
    assert_non_null(base);
    memcpy(base, rx.base, nodes * 8);
    int rc = cw__wire_decode(&rx, f, len, &lim, &got);
    if (rc == CW_OK) {
        assert_non_null(got);
        assert_true(cw_msg_origin(got) < nodes);
        if (cw_msg_kind_of(got) == CW_MSG_WRITE)
            assert_true(cw_msg_seq(got) >= 1);
        cw_msg_unref(got);
    } else {
        assert_true(rc == CW_EBADMSG || rc == CW_ENOTFOUND);
        assert_null(got);
        assert_int_equal(rx.link_seq, seq); /* nothing changed */
        assert_memory_equal(rx.base, base, nodes * 8);
    }
    free(base);
    cw__wire_rx_destroy(&rx);
    return rc;
}

/* Every cut, every flipped bit and a trailing byte of frame f, decoded by a
 * receiver that holds `key` (NULL: none). */
static void mangle(uint32_t nodes, const uint8_t *key, size_t key_len, uint8_t *f, size_t len)
{
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(try_frame(nodes, key, key_len, f, cut), CW_OK);
    for (size_t at = 0; at < len; at++)
        for (int bit = 0; bit < 8; bit++) {
            f[at] ^= (uint8_t)(1u << bit);
            try_frame(nodes, key, key_len, f, len);
            f[at] ^= (uint8_t)(1u << bit);
        }
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, f, len);
    longer[len] = 0;
    assert_int_equal(try_frame(nodes, key, key_len, longer, len + 1), CW_EBADMSG);
    free(longer);
    assert_int_equal(try_frame(nodes, key, key_len, f, len), CW_OK);
}

static void test_hostile_frames(void **state)
{
    (void)state;
    const uint32_t nodes = 8;
    uint64_t c[8] = {3, 0, 7, 1, 0, 0, 200, 9};
    cw__wire_tx tx;
    cw_msg *ms[KINDS];
    size_t k = all_kinds(ms, nodes, c);
    uint8_t *key = NULL, *f = NULL;
    size_t key_len = 0;
    for (size_t i = 0; i < k; i++) {
        /* As a key frame (or whole, a pull), then as a delta after ms[0]. */
        assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
        size_t len = put_frame(&tx, ms[i], &f);
        assert_int_equal(f[0], cw_msg_kind_of(ms[i]) == CW_MSG_PULL ? 0 : 1);
        mangle(nodes, NULL, 0, f, len);
        cw__wire_tx_destroy(&tx);
        assert_int_equal(cw__wire_tx_init(&tx, nodes), CW_OK);
        key_len = put_frame(&tx, ms[0], &key);
        len = put_frame(&tx, ms[i], &f);
        assert_int_equal(f[0], cw_msg_kind_of(ms[i]) == CW_MSG_PULL ? 0 : 2);
        mangle(nodes, key, key_len, f, len);
        cw__wire_tx_destroy(&tx);
    }
    for (size_t i = 0; i < k; i++)
        cw_msg_unref(ms[i]);
    free(f);

    /* Made by hand, against the key frame (epoch e, seq 1). */
    uint8_t e[4];
    memcpy(e, key + 1, 4);
#define FRAME(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
#define HEAD1(tag, seq) tag, e[0], e[1], e[2], e[3], seq, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    /* A good one first: origin 1, clock {1:5}, key "k", value "v". */
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 1, 1, 10, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_OK);
    /* Unknown tags, seq 0, truncated epoch, a compact pull, a v3 report. */
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(3, 0, 0, 0, 0, 1)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(255)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(1, 0, 0)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 0), 1, 1, 10, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(1, 0, 0, 0, 0, 1, 2, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(1, 0, 0, 0, 0, 1, 3, 2, 0, 0, 1, 0)), CW_EBADMSG);
    /* Varint overflow: the seq, a run's length, a counter. */
    assert_int_equal(try_frame(nodes, NULL, 0,
                               FRAME(1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)),
                     CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0,
                               FRAME(HEAD1(1, 1), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
                     CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0,
                               FRAME(HEAD1(1, 1), 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     CW_EBADMSG);
    /* The longest varint: 10 bytes, the last 0x01 (2^64 - 1). */
    assert_int_equal(try_frame(nodes, NULL, 0,
                               FRAME(HEAD1(1, 1), 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     CW_OK);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 1, 1, 1, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_OK);
    /* Entries at or past the group size; more entries than nodes. */
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 1, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 9, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 2, 7, 2, 2, 0)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 1, 1, 2, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 2, 0)),
                     CW_EBADMSG);
    /* The origin's entry 0: a key frame without it, a delta taking it back. */
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(HEAD1(1, 1), 1, 0, 2, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_EBADMSG);
    uint8_t k1[] = {HEAD1(1, 1), 1, 1, 10, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'};
    assert_int_equal(try_frame(nodes, k1, sizeof k1, FRAME(HEAD1(2, 2), 1, 1, 9, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_EBADMSG);
    assert_int_equal(try_frame(nodes, k1, sizeof k1, FRAME(HEAD1(2, 2), 1, 1, 1, 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_OK);
    /* A delta for another epoch or seq. */
    assert_int_equal(try_frame(nodes, k1, sizeof k1, FRAME(HEAD1(2, 3), 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_ENOTFOUND);
    k1[1] ^= 1;
    assert_int_equal(try_frame(nodes, k1, sizeof k1, FRAME(HEAD1(2, 2), 0, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')),
                     CW_ENOTFOUND);
    /* A whole frame with trailing bytes, or empty. */
    assert_int_equal(try_frame(nodes, NULL, 0, FRAME(0)), CW_EBADMSG);
    assert_int_equal(try_frame(nodes, NULL, 0, NULL, 0), CW_EBADMSG);
#undef HEAD1
#undef FRAME
    free(key);
}

/* Random bytes behind each tag. */
static void test_random_frames(void **state)
{
    (void)state;
    const uint32_t nodes = 5;
    uint8_t f[64];
    for (int i = 0; i < 20000; i++) {
        size_t len = 1 + tu_below(sizeof f);
        for (size_t j = 0; j < len; j++)
            f[j] = (uint8_t)tu_below(j < 12 ? 4 : 256);
        try_frame(nodes, NULL, 0, f, len);
    }
}

/* ---- allocation failure ---- */

static void test_allocation_failure(void **state)
{
    (void)state;
    const uint32_t nodes = 64;
    uint64_t c[64] = {0};
    cw_msg_limits lim = limits(nodes);
    for (long k = 0;; k++) {
        cw__wire_tx tx;
        cw__wire_rx rx;
        tu_fail_alloc_after(k);
        int rt = cw__wire_tx_init(&tx, nodes), rr = cw__wire_rx_init(&rx, nodes);
        tu_fail_alloc_off();
        assert_true(rt == CW_OK || rt == CW_ENOMEM);
        assert_true(rr == CW_OK || rr == CW_ENOMEM);
        if (rt != CW_OK || rr != CW_OK) {
            if (rt == CW_OK)
                cw__wire_tx_destroy(&tx);
            if (rr == CW_OK)
                cw__wire_rx_destroy(&rx);
            continue;
        }
        bool done = true;
        for (int i = 0; i < 4; i++) {
            cw_msg *m = moving_write(nodes, c, 5);
            const uint8_t *b;
            size_t len;
            tu_fail_alloc_after(k);
            int rc = cw__wire_encode(&tx, m, &b, &len);
            tu_fail_alloc_off();
            if (rc == CW_ENOMEM) {
                done = false;
                uint64_t seq = tx.link_seq;
                cw__wire_commit(&tx); /* commits nothing */
                assert_int_equal(tx.link_seq, seq);
                rc = cw__wire_encode(&tx, m, &b, &len);
            }
            assert_int_equal(rc, CW_OK);
            cw__wire_commit(&tx);
            cw_msg *got = NULL;
            uint64_t seq = rx.link_seq;
            tu_fail_alloc_after(k);
            rc = cw__wire_decode(&rx, b, len, &lim, &got);
            tu_fail_alloc_off();
            if (rc == CW_ENOMEM) {
                done = false;
                assert_null(got);
                assert_int_equal(rx.link_seq, seq);
                rc = cw__wire_decode(&rx, b, len, &lim, &got);
            }
            assert_int_equal(rc, CW_OK);
            assert_same(got, m);
            cw_msg_unref(got);
            cw_msg_unref(m);
        }
        cw__wire_tx_destroy(&tx);
        cw__wire_rx_destroy(&rx);
        if (done)
            break;
    }
}

/* ---- bytes per message ---- */

typedef struct {
    double whole, compact; /* mean bytes per message */
} wire_bytes;

/* `writers` of `nodes` write in turn (writer w is node w * nodes / writers),
 * each to every other node, for `rounds` rounds; a write's clock is its
 * node's clock, which has applied every earlier write (delivery within a
 * round). One link per writer is measured: every link from a node carries
 * the same messages. 1-byte key and value. */
static wire_bytes measure(uint32_t nodes, uint32_t writers, int rounds)
{
    uint64_t *c = calloc(nodes, 8);
    cw__wire_tx *tx = calloc(writers, sizeof *tx);
    cw__wire_rx *rx = calloc(writers, sizeof *rx);
    assert_true(c && tx && rx);
    cw_msg_limits lim = limits(nodes);
    for (uint32_t w = 0; w < writers; w++) {
        assert_int_equal(cw__wire_tx_init(&tx[w], nodes), CW_OK);
        assert_int_equal(cw__wire_rx_init(&rx[w], nodes), CW_OK);
    }
    double whole = 0, compact = 0, n = 0;
    for (int r = 0; r < rounds; r++)
        for (uint32_t w = 0; w < writers; w++) {
            cw_node_id o = (cw_node_id)((uint64_t)w * nodes / writers);
            c[o]++;
            cw_msg *m = write_msg(nodes, o, c, NULL, false, "k", "v");
            const uint8_t *b;
            size_t len;
            assert_int_equal(cw__wire_encode(&tx[w], m, &b, &len), CW_OK);
            cw__wire_commit(&tx[w]);
            cw_msg *got = NULL;
            assert_int_equal(cw__wire_decode(&rx[w], b, len, &lim, &got), CW_OK);
            assert_memory_equal(cw_msg_counters(got, NULL), c, nodes * 8);
            cw_msg_unref(got);
            whole += 1 + (double)cw_msg_encoded_size(m);
            compact += (double)len;
            n++;
            cw_msg_unref(m);
        }
    for (uint32_t w = 0; w < writers; w++) {
        cw__wire_tx_destroy(&tx[w]);
        cw__wire_rx_destroy(&rx[w]);
    }
    free(c);
    free(tx);
    free(rx);
    return (wire_bytes){whole / n, compact / n};
}

static int rounds_for(uint32_t nodes) { return nodes >= 1024 ? 130 : 200; }

static void test_compact_is_smaller(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {3, 64, 1024};
    for (size_t s = 0; s < 3; s++) {
        /* Past the first key period: the table's streams, shorter. */
        int rounds = CW__WIRE_KEY_EVERY + 2;
        wire_bytes all = measure(sizes[s], sizes[s], rounds), few = measure(sizes[s], 3, rounds);
        assert_true(all.compact < all.whole);
        assert_true(few.compact < few.whole);
        if (sizes[s] >= 64) { /* a clock in about a byte an entry, or a few entries */
            assert_true(all.compact < all.whole / 4);
            assert_true(few.compact < 64);
        }
    }
}

static void print_table(void)
{
    static const uint32_t sizes[] = {3, 64, 1024};
    printf("bytes per message on a link (1-byte key and value; mean over %d rounds, %d at 1024 nodes)\n",
           rounds_for(3), rounds_for(1024));
    printf("%-6s %-22s %12s %12s %8s\n", "nodes", "stream", "whole (B)", "compact (B)", "ratio");
    for (size_t s = 0; s < 3; s++) {
        uint32_t n = sizes[s];
        wire_bytes all = measure(n, n, rounds_for(n)), few = measure(n, 3, rounds_for(n));
        printf("%-6u %-22s %12.1f %12.1f %8.2f\n", n, "every node in turn", all.whole, all.compact,
               all.whole / all.compact);
        printf("%-6u %-22s %12.1f %12.1f %8.2f\n", n, "3 writers in turn", few.whole, few.compact,
               few.whole / few.compact);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--bytes")) {
        print_table();
        return 0;
    }
    printf("seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_delta_stream),
        cmocka_unit_test(test_lost_frame_until_key),
        cmocka_unit_test(test_encode_without_commit),
        cmocka_unit_test(test_reset_and_restarts),
        cmocka_unit_test(test_hostile_frames),
        cmocka_unit_test(test_random_frames),
        cmocka_unit_test(test_allocation_failure),
        cmocka_unit_test(test_compact_is_smaller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
