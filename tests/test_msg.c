/* Replica messages (writes, pulls, reports): construction, sharing, and the
 * wire codec in both formats. */
#include "testutil.h"

#include "msg_internal.h"

static const cw_hlc_timestamp TS = {1700000000123u, 7, 2};

static cw_msg *make(uint32_t nodes, cw_node_id origin, const char *key, const char *value)
{
    uint64_t clock[8] = {0};
    for (uint32_t i = 0; i < nodes && i < 8; i++)
        clock[i] = i + 1;
    cw_msg *m = NULL;
    assert_int_equal(cw_msg_create(&m, origin, &TS, clock, nodes, key, strlen(key), value,
                                   strlen(value)), CW_OK);
    return m;
}

static void test_create_and_access(void **state)
{
    (void)state;
    cw_msg *m = make(3, 2, "key", "value");
    assert_int_equal(cw_msg_origin(m), 2);
    assert_int_equal(cw_msg_seq(m), 3);
    cw_hlc_timestamp ts = cw_msg_timestamp(m);
    assert_int_equal(ts.wall_ms, TS.wall_ms);
    uint32_t n;
    const uint64_t *c = cw_msg_counters(m, &n);
    assert_int_equal(n, 3);
    assert_int_equal(c[0], 1);
    size_t len;
    assert_memory_equal(cw_msg_key(m, &len), "key", 3);
    assert_int_equal(len, 3);
    assert_memory_equal(cw_msg_value(m, &len), "value", 5);
    cw_vclock v;
    cw_vclock_init(&v);
    assert_int_equal(cw_msg_clock(m, &v), CW_OK);
    tu_assert_clock(&v, "0:1,1:2,2:3");
    cw_vclock_destroy(&v);
    /* Shared: each holder releases its own reference. */
    cw_msg *again = cw_msg_ref(m);
    assert_ptr_equal(again, m);
    cw_msg_unref(m);
    assert_int_equal(cw_msg_origin(again), 2); /* still alive */
    cw_msg_unref(again);
    cw_msg_unref(NULL);
    assert_null(cw_msg_ref(NULL));
}

static void test_create_rejects_bad_arguments(void **state)
{
    (void)state;
    uint64_t clock[2] = {0, 1};
    cw_msg *m = (cw_msg *)0x1;
    assert_int_equal(cw_msg_create(&m, 0, &TS, clock, 2, "k", 1, "v", 1), CW_EINVAL); /* clock[origin] 0 */
    assert_int_equal(cw_msg_create(&m, 2, &TS, clock, 2, "k", 1, "v", 1), CW_EINVAL); /* origin >= nodes */
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 0, "k", 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 2, NULL, 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create(&m, 1, NULL, clock, 2, "k", 1, "v", 1), CW_EINVAL);
    /* The codec carries 48 bits of wall time: more would encode as garbage. */
    cw_hlc_timestamp wide = TS;
    wide.wall_ms = CW_HLC_MAX_WALL + 1;
    assert_int_equal(cw_msg_create(&m, 1, &wide, clock, 2, "k", 1, "v", 1), CW_EINVAL);
    assert_ptr_equal(m, (cw_msg *)0x1);
    /* Empty key and value are fine, NULL with length 0 too. */
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 2, NULL, 0, NULL, 0), CW_OK);
    size_t len = 9;
    cw_msg_key(m, &len);
    assert_int_equal(len, 0);
    cw_msg_unref(m);
}

static const cw_msg_limits LIMITS = {8, 64, 64};

/* a and b are the same message: kind, sender or origin, flags, and the
 * kind's contents (a pull's range; a write's or report's counters; a
 * write's sequence number, timestamp, key and value). */
static void assert_same_msg(const cw_msg *a, const cw_msg *b)
{
    assert_int_equal(cw_msg_kind_of(a), cw_msg_kind_of(b));
    assert_int_equal(cw_msg_origin(a), cw_msg_origin(b));
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(cw_msg_retransmitted(a), cw_msg_retransmitted(b));
    assert_int_equal(cw_msg_seq(a), cw_msg_seq(b));
    cw_hlc_timestamp ta = cw_msg_timestamp(a), tb = cw_msg_timestamp(b);
    assert_true(cw_hlc_compare(&ta, &tb) == 0);
    if (cw_msg_kind_of(a) == CW_MSG_PULL) {
        cw_node_id oa, ob;
        uint64_t fa, fb, ua, ub;
        assert_int_equal(cw_msg_pull_range(a, &oa, &fa, &ua), CW_OK);
        assert_int_equal(cw_msg_pull_range(b, &ob, &fb, &ub), CW_OK);
        assert_int_equal(oa, ob);
        assert_int_equal(fa, fb);
        assert_int_equal(ua, ub);
        assert_null(cw_msg_counters(b, NULL));
        return;
    }
    uint32_t na, nb;
    const uint64_t *ca = cw_msg_counters(a, &na), *cb = cw_msg_counters(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ca, cb, (size_t)na * sizeof *ca);
    size_t ka, kb, va, vb;
    const void *k1 = cw_msg_key(a, &ka), *k2 = cw_msg_key(b, &kb);
    const void *v1 = cw_msg_value(a, &va), *v2 = cw_msg_value(b, &vb);
    assert_int_equal(ka, kb);
    assert_int_equal(va, vb);
    if (ka)
        assert_memory_equal(k1, k2, ka);
    if (va)
        assert_memory_equal(v1, v2, va);
}

/* A write with its own context, or a delete, made through the public API:
 * what the replica would make, and the codec carries it through. */
static void test_create_write_with_context_and_tombstone(void **state)
{
    (void)state;
    uint64_t clock[3] = {2, 5, 0}, ctx[3] = {1, 4, 0};
    cw_msg *m = NULL, *back = NULL;
    assert_int_equal(cw_msg_create_write(&m, 1, &TS, clock, 3, ctx, true, "k", 1, NULL, 0), CW_OK);
    assert_true(cw_msg_tombstone(m));
    cw_vclock c;
    cw_vclock_init(&c);
    assert_int_equal(cw_msg_context(m, &c), CW_OK);
    assert_int_equal(cw_vclock_get(&c, 0), 1);
    assert_int_equal(cw_vclock_get(&c, 1), 4);
    uint8_t buf[256];
    size_t len;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    cw_msg_limits lim = {3, 16, 16};
    assert_int_equal(cw_msg_decode(&back, buf, len, &lim, NULL), CW_OK);
    assert_true(cw_msg_tombstone(back));
    cw_vclock_clear(&c);
    assert_int_equal(cw_msg_context(back, &c), CW_OK);
    assert_int_equal(cw_vclock_get(&c, 1), 4);
    cw_vclock_destroy(&c);
    cw_msg_unref(back);
    cw_msg_unref(m);
    /* Refused as the decoder refuses them: a context above the clock, one
     * that covers the write's own dot; and a delete with a value. */
    uint64_t above[3] = {3, 4, 0}, own[3] = {1, 5, 0};
    m = (cw_msg *)0x1;
    assert_int_equal(cw_msg_create_write(&m, 1, &TS, clock, 3, above, false, "k", 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create_write(&m, 1, &TS, clock, 3, own, false, "k", 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create_write(&m, 1, &TS, clock, 3, NULL, true, "k", 1, "v", 1), CW_EINVAL);
    assert_int_equal(cw_msg_create_write(&m, 3, &TS, clock, 3, NULL, false, "k", 1, "v", 1), CW_EINVAL);
    assert_ptr_equal(m, (cw_msg *)0x1);
}

static void test_round_trip_binary_safe(void **state)
{
    (void)state;
    uint64_t clock[5] = {0, 4, 0, 9, 1};
    const uint8_t key[] = {0, 'a', 0, 0xff}, value[] = {0, 0, 1};
    cw_msg *m, *d;
    assert_int_equal(cw_msg_create(&m, 1, &TS, clock, 5, key, sizeof key, value, sizeof value), CW_OK);
    uint8_t buf[256];
    size_t len, consumed;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    assert_int_equal(len, cw_msg_encoded_size(m));
    /* Layout: version, origin, 10-byte HLC, clock (3 non-zero entries). */
    assert_int_equal(buf[0], CW_MSG_FORMAT_VERSION);
    assert_int_equal(buf[2], 1);
    assert_int_equal(len, 1 + 2 + 10 + 4 + 3 * 10 + 4 + 4 + 4 + 3);
    cw_msg_limits lim = {5, 64, 64};
    assert_int_equal(cw_msg_decode(&d, buf, len, &lim, &consumed), CW_OK);
    assert_int_equal(consumed, len);
    assert_int_equal(cw_msg_origin(d), 1);
    assert_int_equal(cw_msg_seq(d), 4);
    uint32_t n;
    assert_memory_equal(cw_msg_counters(d, &n), clock, sizeof clock);
    assert_int_equal(n, 5);
    size_t kl, vl;
    assert_memory_equal(cw_msg_key(d, &kl), key, sizeof key);
    assert_memory_equal(cw_msg_value(d, &vl), value, sizeof value);
    assert_int_equal(kl + vl, 7);
    cw_hlc_timestamp ts = cw_msg_timestamp(d);
    assert_true(cw_hlc_compare(&ts, &TS) == 0);
    cw_msg_unref(d);
    /* Too small a buffer: the needed size, nothing else. */
    assert_int_equal(cw_msg_encode(m, buf, len - 1, &consumed), CW_ENOSPC);
    assert_int_equal(consumed, len);
    cw_msg_unref(m);
}

static void expect_decode_error(const uint8_t *buf, size_t len, const cw_msg_limits *lim, int want)
{
    cw_msg *d = (cw_msg *)0x1;
    size_t consumed = 77;
    int rc = cw_msg_decode(&d, buf, len, lim, &consumed);
    if (rc != want)
        fail_msg("decode of %zu bytes gave %d, expected %d", len, rc, want);
    assert_ptr_equal(d, (cw_msg *)0x1);
    assert_int_equal(consumed, 77);
}

/* Every proper prefix of buf[0..len) is CW_ETRUNC. Each prefix is copied to
 * an allocation of exactly its size, so a read past it is an ASan error. */
static void expect_truncated_everywhere(const uint8_t *buf, size_t len, const cw_msg_limits *lim)
{
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *exact = NULL;
        if (cut) {
            exact = malloc(cut);
            assert_non_null(exact);
            memcpy(exact, buf, cut);
        }
        expect_decode_error(exact, cut, lim, CW_ETRUNC);
        free(exact);
    }
}

static void test_decode_errors(void **state)
{
    (void)state;
    cw_msg *m = make(4, 3, "kk", "vvv");
    uint8_t buf[256], bad[256];
    size_t len;
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    expect_truncated_everywhere(buf, len, &LIMITS);
    /* Unknown versions (2 is known now: format 2 is tested below). */
    static const uint8_t versions[] = {0, 3, 4, 0x80, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        memcpy(bad, buf, len);
        bad[0] = versions[i];
        expect_decode_error(bad, len, &LIMITS, CW_EBADMSG);
    }
    cw_msg_limits few = {3, 64, 64}; /* origin 3 is not below 3 */
    expect_decode_error(buf, len, &few, CW_EBADMSG);
    cw_msg_limits tight_key = {8, 1, 64}, tight_value = {8, 64, 2};
    expect_decode_error(buf, len, &tight_key, CW_ELIMIT);
    expect_decode_error(buf, len, &tight_value, CW_ELIMIT);
    memcpy(bad, buf, len);
    bad[13] = 0x00, bad[14] = 0x01, bad[15] = 0x00, bad[16] = 0x01; /* 65,537 clock entries */
    expect_decode_error(bad, len, &LIMITS, CW_ELIMIT);
    memcpy(bad, buf, len);
    bad[17] = 0, bad[18] = 9; /* first clock id 9 >= nodes 8 */
    expect_decode_error(bad, len, &LIMITS, CW_EBADMSG);
    memcpy(bad, buf, len);
    memset(bad + 17 + 3 * 10 + 2, 0, 8); /* origin's (id 3, 4th entry) counter -> 0 */
    expect_decode_error(bad, len, &LIMITS, CW_EBADMSG);
    expect_decode_error(buf, len, NULL, CW_EINVAL);
    cw_msg_unref(m);
}

static void test_trailing_bytes_and_random_input(void **state)
{
    (void)state;
    cw_msg *m = make(4, 0, "a", "b"), *d;
    uint8_t buf[512];
    size_t len, consumed;
    cw_msg_encode(m, buf, sizeof buf, &len);
    memcpy(buf + len, buf, len); /* two back to back */
    assert_int_equal(cw_msg_decode(&d, buf, 2 * len, &LIMITS, &consumed), CW_OK);
    assert_int_equal(consumed, len);
    cw_msg_unref(d);
    cw_msg_unref(m);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = tu_below(80);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tu_rand();
        uint64_t shape = tu_below(4);
        if (n > 20 && shape == 1) { /* plausible format-1 header, random rest */
            buf[0] = 1, buf[1] = 0, buf[2] = (uint8_t)tu_below(8);
            buf[13] = buf[14] = buf[15] = 0, buf[16] = (uint8_t)tu_below(3);
        } else if (n > 20 && shape >= 2) { /* plausible format-2 header */
            buf[0] = 2, buf[1] = (uint8_t)tu_below(4), buf[2] = (uint8_t)tu_below(4);
            buf[3] = 0, buf[4] = (uint8_t)tu_below(9);
            if (buf[1] == CW_MSG_PULL) { /* origin, small from and to */
                buf[5] = 0, buf[6] = (uint8_t)tu_below(9);
                memset(buf + 7, 0, 6);
                memset(buf + 15, 0, 6);
            } else if (buf[1] == CW_MSG_REPORT)
                buf[5] = buf[6] = buf[7] = 0, buf[8] = (uint8_t)tu_below(3);
            else
                buf[15] = buf[16] = buf[17] = 0, buf[18] = (uint8_t)tu_below(3);
        }
        int rc = cw_msg_decode(&d, buf, n, &LIMITS, &consumed);
        TU_CHECK(rc == CW_OK || rc == CW_ETRUNC || rc == CW_EBADMSG || rc == CW_ELIMIT);
        if (rc == CW_OK) {
            TU_CHECK(consumed <= n);
            TU_CHECK(cw_msg_kind_of(d) != CW_MSG_WRITE || cw_msg_seq(d) >= 1);
            /* Whatever decodes re-encodes to the same message. */
            uint8_t again[512];
            size_t alen, aconsumed;
            cw_msg *d2 = NULL;
            TU_CHECK(cw_msg_encode(d, again, sizeof again, &alen) == CW_OK);
            TU_CHECK(cw_msg_decode(&d2, again, alen, &LIMITS, &aconsumed) == CW_OK && aconsumed == alen);
            assert_same_msg(d, d2);
            cw_msg_unref(d2);
            cw_msg_unref(d);
        }
    }
}

/* ---- format 2: pulls, reports, retransmitted writes ---- */

static const cw_msg_limits LIMITS2 = {2, 64, 64}, LIMITS4 = {4, 64, 64};

/* docs/formats.md's write: node 1's k = v at 1700000000123.0005@1 with clock
 * {0:2,1:1} in a group of 2, in format 1 as it was before format 2 existed. */
static const cw_hlc_timestamp DOC_TS = {1700000000123u, 5, 1};
static const uint8_t WRITE_V1[] = {
    0x01,                                                       /* version 1 */
    0x00, 0x01,                                                 /* origin 1 */
    0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, 0x00, 0x05, 0x00, 0x01, /* HLC */
    0x00, 0x00, 0x00, 0x02,                                     /* 2 entries */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* 0:2 */
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* 1:1 */
    0x00, 0x00, 0x00, 0x01, 'k',                                /* key */
    0x00, 0x00, 0x00, 0x01, 'v',                                /* value */
};

/* docs/formats.md's pull: node 2 asks for origin 3's writes 5..9. */
static const uint8_t PULL_BYTES[] = {
    0x02, 0x01, 0x00,                               /* version 2, pull, no flags */
    0x00, 0x02,                                     /* sender 2 */
    0x00, 0x03,                                     /* origin 3 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* from 5 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, /* to 9 */
};

/* docs/formats.md's report: node 1 has applied {0:3,2:7} (group of 4) and
 * wants reports. */
static const uint64_t APPLIED[4] = {3, 0, 7, 0};
static const uint8_t REPORT_BYTES[] = {
    0x02, 0x02, 0x02,                                           /* version 2, report, wants reports */
    0x00, 0x01,                                                 /* sender 1 */
    0x00, 0x00, 0x00, 0x02,                                     /* 2 entries */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, /* 0:3 */
    0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, /* 2:7 */
};

static cw_msg *doc_write(void)
{
    uint64_t clock[2] = {2, 1};
    cw_msg *m = NULL;
    assert_int_equal(cw_msg_create(&m, 1, &DOC_TS, clock, 2, "k", 1, "v", 1), CW_OK);
    return m;
}

/* Encodes m and checks it is exactly want[0..len). */
static void expect_encoding(const cw_msg *m, const uint8_t *want, size_t len)
{
    uint8_t buf[256];
    size_t got = 0;
    assert_int_equal(cw_msg_encoded_size(m), len);
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &got), CW_OK);
    assert_int_equal(got, len);
    assert_memory_equal(buf, want, len);
    /* One byte short: CW_ENOSPC and the size needed. */
    got = 0;
    assert_int_equal(cw_msg_encode(m, buf, len - 1, &got), CW_ENOSPC);
    assert_int_equal(got, len);
}

/* Decodes buf[0..len) (followed by junk, which must not be consumed),
 * checks it is the same message as m, and returns it. */
static cw_msg *expect_decodes_to(const uint8_t *buf, size_t len, const cw_msg_limits *lim, const cw_msg *m)
{
    uint8_t padded[300];
    assert_true(len + 7 <= sizeof padded);
    memcpy(padded, buf, len);
    memset(padded + len, 0xA5, 7);
    cw_msg *d = NULL;
    size_t consumed = 0;
    assert_int_equal(cw_msg_decode(&d, padded, len + 7, lim, &consumed), CW_OK);
    assert_int_equal(consumed, len);
    assert_same_msg(d, m);
    return d;
}

static void test_plain_write_stays_format_1(void **state)
{
    (void)state;
    cw_msg *m = doc_write();
    assert_int_equal(cw_msg_kind_of(m), CW_MSG_WRITE);
    assert_false(cw_msg_retransmitted(m));
    expect_encoding(m, WRITE_V1, sizeof WRITE_V1);
    /* Format-1 bytes still decode, to a plain write that encodes back to
     * the same bytes. */
    cw_msg *d = expect_decodes_to(WRITE_V1, sizeof WRITE_V1, &LIMITS2, m);
    assert_int_equal(cw_msg_kind_of(d), CW_MSG_WRITE);
    assert_false(cw_msg_retransmitted(d));
    assert_int_equal(cw_msg_origin(d), 1);
    assert_int_equal(cw_msg_seq(d), 1);
    assert_int_equal(cw_msg_pull_range(d, NULL, NULL, NULL), CW_EINVAL);
    expect_encoding(d, WRITE_V1, sizeof WRITE_V1);
    cw_msg_unref(d);
    cw_msg_unref(m);
}

static void test_pull_round_trip_and_bytes(void **state)
{
    (void)state;
    cw_msg *m = NULL;
    assert_int_equal(cw__msg_pull(&m, 4, 2, 1, 3, 5, 9), CW_OK);
    assert_int_equal(cw_msg_kind_of(m), CW_MSG_PULL);
    assert_int_equal(cw_msg_origin(m), 2); /* the sender */
    assert_false(cw_msg_retransmitted(m));
    assert_int_equal(cw_msg_seq(m), 0);
    cw_node_id origin = 99;
    uint64_t from = 99, to = 99;
    assert_int_equal(cw_msg_pull_range(m, &origin, &from, &to), CW_OK);
    assert_int_equal(origin, 3);
    assert_int_equal(from, 5);
    assert_int_equal(to, 9);
    uint32_t n = 99;
    assert_null(cw_msg_counters(m, &n));
    assert_int_equal(n, 0);
    cw_vclock v;
    cw_vclock_init(&v);
    assert_int_equal(cw_msg_clock(m, &v), CW_EINVAL);
    cw_vclock_destroy(&v);
    size_t kl = 99, vl = 99;
    cw_msg_key(m, &kl);
    cw_msg_value(m, &vl);
    assert_int_equal(kl + vl, 0);
    expect_encoding(m, PULL_BYTES, sizeof PULL_BYTES);
    cw_msg *d = expect_decodes_to(PULL_BYTES, sizeof PULL_BYTES, &LIMITS4, m);
    cw_msg_unref(d);
    cw_msg_unref(m);

    /* Wide counters (all 8 bytes of from and to) and a one-write range. */
    uint8_t buf[64];
    size_t len;
    assert_int_equal(cw__msg_pull(&m, 4, 3, 0, 0, UINT64_C(0x0102030405060708), UINT64_MAX), CW_OK);
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    static const uint8_t wide_tail[] = {0x00, 0x03, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(len, 3 + sizeof wide_tail);
    assert_memory_equal(buf + 3, wide_tail, sizeof wide_tail);
    d = expect_decodes_to(buf, len, &LIMITS4, m);
    cw_msg_unref(d);
    cw_msg_unref(m);
    assert_int_equal(cw__msg_pull(&m, 4, 0, 1, 1, 7, 7), CW_OK);
    assert_int_equal(cw_msg_encode(m, buf, sizeof buf, &len), CW_OK);
    d = expect_decodes_to(buf, len, &LIMITS4, m);
    assert_int_equal(cw_msg_pull_range(d, NULL, &from, &to), CW_OK);
    assert_true(from == 7 && to == 7);
    cw_msg_unref(d);
    cw_msg_unref(m);

    /* The constructor refuses what the decoder refuses. */
    m = (cw_msg *)0x1;
    assert_int_equal(cw__msg_pull(&m, 4, 2, 1, 3, 0, 9), CW_EINVAL); /* from 0 */
    assert_int_equal(cw__msg_pull(&m, 4, 2, 1, 3, 10, 9), CW_EINVAL); /* from > to */
    assert_int_equal(cw__msg_pull(&m, 4, 2, 1, 4, 5, 9), CW_EINVAL); /* origin >= nodes */
    assert_int_equal(cw__msg_pull(&m, 4, 4, 1, 3, 5, 9), CW_EINVAL); /* sender >= nodes */
    assert_ptr_equal(m, (cw_msg *)0x1);
}

static void test_report_round_trip_and_bytes(void **state)
{
    (void)state;
    cw_msg *m = NULL, *d;
    assert_int_equal(cw__msg_report(&m, 4, 1, APPLIED, CW__MSG_WANTS_REPORTS), CW_OK);
    assert_int_equal(cw_msg_kind_of(m), CW_MSG_REPORT);
    assert_int_equal(cw_msg_origin(m), 1);
    assert_int_equal(m->flags, CW__MSG_WANTS_REPORTS);
    assert_false(cw_msg_retransmitted(m));
    assert_int_equal(cw_msg_seq(m), 0);
    assert_int_equal(cw_msg_pull_range(m, NULL, NULL, NULL), CW_EINVAL);
    uint32_t n = 0;
    assert_memory_equal(cw_msg_counters(m, &n), APPLIED, sizeof APPLIED);
    assert_int_equal(n, 4);
    cw_vclock v;
    cw_vclock_init(&v);
    assert_int_equal(cw_msg_clock(m, &v), CW_OK);
    tu_assert_clock(&v, "0:3,2:7");
    expect_encoding(m, REPORT_BYTES, sizeof REPORT_BYTES);
    d = expect_decodes_to(REPORT_BYTES, sizeof REPORT_BYTES, &LIMITS4, m);
    assert_int_equal(d->flags, CW__MSG_WANTS_REPORTS);
    assert_memory_equal(cw_msg_counters(d, NULL), APPLIED, sizeof APPLIED);
    cw_msg_unref(d);
    cw_msg_unref(m);

    /* Without the flag: the same bytes but the flags byte. */
    uint8_t plain[sizeof REPORT_BYTES];
    memcpy(plain, REPORT_BYTES, sizeof plain);
    plain[2] = 0;
    assert_int_equal(cw__msg_report(&m, 4, 1, APPLIED, 0), CW_OK);
    assert_int_equal(m->flags, 0);
    expect_encoding(m, plain, sizeof plain);
    d = expect_decodes_to(plain, sizeof plain, &LIMITS4, m);
    assert_int_equal(d->flags, 0);
    cw_msg_unref(d);
    cw_msg_unref(m);

    /* Nothing applied: no entries. A receiver's wider group reads it too. */
    static const uint64_t zeros[4] = {0};
    static const uint8_t empty[] = {0x02, 0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(cw__msg_report(&m, 4, 3, zeros, 0), CW_OK);
    expect_encoding(m, empty, sizeof empty);
    d = expect_decodes_to(empty, sizeof empty, &LIMITS4, m);
    cw_msg_unref(d);
    cw_msg_unref(m);
    cw_msg_limits eight = {8, 0, 0};
    assert_int_equal(cw_msg_decode(&d, REPORT_BYTES, sizeof REPORT_BYTES, &eight, NULL), CW_OK);
    assert_memory_equal(cw_msg_counters(d, &n), ((const uint64_t[8]){3, 0, 7, 0, 0, 0, 0, 0}), 64);
    assert_int_equal(n, 8);
    cw_msg_unref(d);

    /* Only CW__MSG_WANTS_REPORTS is a report's flag. */
    m = (cw_msg *)0x1;
    assert_int_equal(cw__msg_report(&m, 4, 1, APPLIED, CW__MSG_RETRANSMITTED), CW_EINVAL);
    assert_int_equal(cw__msg_report(&m, 4, 1, APPLIED, 0x04), CW_EINVAL);
    assert_int_equal(cw__msg_report(&m, 4, 4, APPLIED, 0), CW_EINVAL); /* sender >= nodes */
    assert_ptr_equal(m, (cw_msg *)0x1);
    cw_vclock_destroy(&v);
}

/* The doc write sent again: format 2, kind write, flag retransmitted, then
 * format 1 from the origin on. */
static void retransmitted_bytes(uint8_t *out)
{
    out[0] = 0x02, out[1] = 0x00, out[2] = 0x01;
    memcpy(out + 3, WRITE_V1 + 1, sizeof WRITE_V1 - 1);
}
#define RETX_LEN (sizeof WRITE_V1 + 2)

static void test_retransmitted_write(void **state)
{
    (void)state;
    cw_msg *m = doc_write(), *r = NULL, *d;
    assert_int_equal(cw__msg_retransmission(&r, m, 0), CW_OK);
    assert_int_equal(cw_msg_kind_of(r), CW_MSG_WRITE);
    assert_true(cw_msg_retransmitted(r));
    assert_false(cw_msg_retransmitted(m)); /* the original is untouched */
    assert_int_equal(cw_msg_seq(r), 1);
    uint8_t want[RETX_LEN];
    retransmitted_bytes(want);
    expect_encoding(r, want, sizeof want);
    d = expect_decodes_to(want, sizeof want, &LIMITS2, r);
    assert_true(cw_msg_retransmitted(d));
    assert_int_equal(cw_msg_kind_of(d), CW_MSG_WRITE);
    /* Apart from the flag it is the original write. */
    assert_int_equal(cw_msg_origin(d), cw_msg_origin(m));
    assert_int_equal(cw_msg_seq(d), cw_msg_seq(m));
    assert_memory_equal(cw_msg_counters(d, NULL), cw_msg_counters(m, NULL), 2 * sizeof(uint64_t));
    cw_hlc_timestamp td = cw_msg_timestamp(d);
    assert_true(cw_hlc_compare(&td, &DOC_TS) == 0);
    size_t kl, vl;
    assert_memory_equal(cw_msg_key(d, &kl), "k", 1);
    assert_memory_equal(cw_msg_value(d, &vl), "v", 1);
    assert_int_equal(kl + vl, 2);
    cw_msg_unref(d);
    expect_encoding(m, WRITE_V1, sizeof WRITE_V1); /* the original is still format 1 */

    /* A format-2 write without flags is read as the plain write it is, and
     * encodes back to format 1. */
    want[2] = 0;
    d = expect_decodes_to(want, sizeof want, &LIMITS2, m);
    assert_false(cw_msg_retransmitted(d));
    expect_encoding(d, WRITE_V1, sizeof WRITE_V1);
    cw_msg_unref(d);

    /* Only writes are retransmitted. */
    cw_msg *p, *x = (cw_msg *)0x1;
    assert_int_equal(cw__msg_pull(&p, 4, 2, 1, 3, 5, 9), CW_OK);
    assert_int_equal(cw__msg_retransmission(&x, p, 0), CW_EINVAL);
    assert_ptr_equal(x, (cw_msg *)0x1);
    cw_msg_unref(p);
    cw_msg_unref(r);
    cw_msg_unref(m);
}

/* Sets bytes [at, at + width) of a copy of src to v, big-endian, and expects
 * decoding it to fail with want. */
static void expect_patched_error(const uint8_t *src, size_t len, size_t at, size_t width, uint64_t v,
                                 const cw_msg_limits *lim, int want)
{
    uint8_t bad[256];
    assert_true(len <= sizeof bad && at + width <= len);
    memcpy(bad, src, len);
    for (size_t i = 0; i < width; i++)
        bad[at + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    expect_decode_error(bad, len, lim, want);
}

static void test_format_2_decode_errors(void **state)
{
    (void)state;
    uint8_t retx[RETX_LEN];
    retransmitted_bytes(retx);
    const struct {
        const uint8_t *bytes;
        size_t len;
        const cw_msg_limits *lim;
    } kinds[] = {
        {PULL_BYTES, sizeof PULL_BYTES, &LIMITS4},
        {REPORT_BYTES, sizeof REPORT_BYTES, &LIMITS4},
        {retx, sizeof retx, &LIMITS2},
    };
    for (size_t k = 0; k < 3; k++) {
        const uint8_t *b = kinds[k].bytes;
        size_t len = kinds[k].len;
        const cw_msg_limits *lim = kinds[k].lim;
        cw_msg *d;
        /* The unpatched bytes decode (so each error below is the patch's). */
        assert_int_equal(cw_msg_decode(&d, b, len, lim, NULL), CW_OK);
        cw_msg_unref(d);
        /* Unknown version, unknown kind. */
        expect_patched_error(b, len, 0, 1, 0, lim, CW_EBADMSG);
        expect_patched_error(b, len, 0, 1, 3, lim, CW_EBADMSG);
        expect_patched_error(b, len, 0, 1, 255, lim, CW_EBADMSG);
        expect_patched_error(b, len, 1, 1, 3, lim, CW_EBADMSG);
        expect_patched_error(b, len, 1, 1, 255, lim, CW_EBADMSG);
        /* Sender not below the group size (low and high byte). */
        expect_patched_error(b, len, 3, 2, lim->nodes, lim, CW_EBADMSG);
        expect_patched_error(b, len, 3, 2, 0x0100, lim, CW_EBADMSG);
        /* Flags no kind has, in any kind. */
        expect_patched_error(b, len, 2, 1, 0x04, lim, CW_EBADMSG);
        expect_patched_error(b, len, 2, 1, 0x80, lim, CW_EBADMSG);
        /* Cut anywhere: CW_ETRUNC, never a read past the end. */
        expect_truncated_everywhere(b, len, lim);
        /* No memory: CW_ENOMEM, nothing returned. */
        tu_fail_alloc_after(0);
        expect_decode_error(b, len, lim, CW_ENOMEM);
        tu_fail_alloc_off();
    }

    /* A flag of another kind. */
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 2, 1, CW__MSG_RETRANSMITTED, &LIMITS4, CW_EBADMSG);
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 2, 1, CW__MSG_WANTS_REPORTS, &LIMITS4, CW_EBADMSG);
    expect_patched_error(REPORT_BYTES, sizeof REPORT_BYTES, 2, 1, CW__MSG_RETRANSMITTED, &LIMITS4, CW_EBADMSG);
    expect_patched_error(REPORT_BYTES, sizeof REPORT_BYTES, 2, 1, CW__MSG_FLAGS, &LIMITS4, CW_EBADMSG);
    expect_patched_error(retx, sizeof retx, 2, 1, CW__MSG_WANTS_REPORTS, &LIMITS2, CW_EBADMSG);
    expect_patched_error(retx, sizeof retx, 2, 1, CW__MSG_FLAGS, &LIMITS2, CW_EBADMSG);

    /* A pull's range: from 0, from > to (also in the high bytes), origin
     * not below the group size. */
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 7, 8, 0, &LIMITS4, CW_EBADMSG);
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 7, 8, 10, &LIMITS4, CW_EBADMSG);
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 7, 8, UINT64_C(0x0100000000000005), &LIMITS4,
                         CW_EBADMSG);
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 15, 8, 4, &LIMITS4, CW_EBADMSG);
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 5, 2, 4, &LIMITS4, CW_EBADMSG);
    expect_patched_error(PULL_BYTES, sizeof PULL_BYTES, 5, 2, 0x0103, &LIMITS4, CW_EBADMSG);
    cw_msg_limits three = {3, 64, 64}; /* origin 3 is not below 3; sender 2 is */
    expect_decode_error(PULL_BYTES, sizeof PULL_BYTES, &three, CW_EBADMSG);

    /* A report's clock: an id not below the group size; more than 65,536
     * entries (CW_ELIMIT before any entry is read). */
    expect_patched_error(REPORT_BYTES, sizeof REPORT_BYTES, 19, 2, 4, &LIMITS4, CW_EBADMSG);
    expect_patched_error(REPORT_BYTES, sizeof REPORT_BYTES, 5, 4, 65537, &LIMITS4, CW_ELIMIT);
    expect_patched_error(REPORT_BYTES, sizeof REPORT_BYTES, 5, 4, UINT32_MAX, &LIMITS4, CW_ELIMIT);
    /* A retransmitted write's clock likewise (count at 3 + 2 + 10). */
    expect_patched_error(retx, sizeof retx, 15, 4, 65537, &LIMITS2, CW_ELIMIT);

    /* Exactly 65,536 entries is the limit, not beyond it: decodes (the ids
     * repeat, the larger counter stays); one byte short is CW_ETRUNC. */
    size_t big_len = 9 + 10 * (size_t)65536;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    memcpy(big, REPORT_BYTES, 5);
    big[5] = 0x00, big[6] = 0x01, big[7] = 0x00, big[8] = 0x00;
    for (size_t i = 0; i < 65536; i++) {
        uint8_t *e = big + 9 + 10 * i;
        e[0] = 0, e[1] = (uint8_t)(i % 4);
        memset(e + 2, 0, 6);
        e[8] = (uint8_t)(i >> 8), e[9] = (uint8_t)i;
    }
    cw_msg *d = NULL;
    size_t consumed = 0;
    assert_int_equal(cw_msg_decode(&d, big, big_len, &LIMITS4, &consumed), CW_OK);
    assert_int_equal(consumed, big_len);
    const uint64_t *c = cw_msg_counters(d, NULL);
    assert_int_equal(c[0], 65532);
    assert_int_equal(c[3], 65535);
    cw_msg_unref(d);
    expect_decode_error(big, big_len - 1, &LIMITS4, CW_ETRUNC);
    free(big);
}

int main(void)
{
    printf("# seed %llu\n", (unsigned long long)tu_seed());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_access),
        cmocka_unit_test(test_create_rejects_bad_arguments),
        cmocka_unit_test(test_create_write_with_context_and_tombstone),
        cmocka_unit_test(test_round_trip_binary_safe),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_trailing_bytes_and_random_input),
        cmocka_unit_test(test_plain_write_stays_format_1),
        cmocka_unit_test(test_pull_round_trip_and_bytes),
        cmocka_unit_test(test_report_round_trip_and_bytes),
        cmocka_unit_test(test_retransmitted_write),
        cmocka_unit_test(test_format_2_decode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
