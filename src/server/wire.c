/* Link frames (wire.h): the codec's bytes of one message, whole or with its
 * clock sent compactly, per link. Layouts and a worked example:
 * docs/formats.md, "Link frames".
 *
 *   tag 0  whole:  the codec's bytes (cw_msg_encode), nothing else.
 *   tag 1  key:    u32 epoch, varint link seq, the codec's bytes with the
 *                  clock written as runs against the all-zero clock.
 *   tag 2  delta:  the same, the clock's runs against the clock of the
 *                  previous compact frame of the link (Singhal and
 *                  Kshemkalyani: only the entries that changed).
 * In both compact tags a format-3 context is written as runs against the
 * message's own clock, so it costs only where it differs from the clock.
 *
 * Invariants:
 *  1. A frame decodes to exactly the message cw_msg_decode makes of the
 *     codec's bytes: a compact frame is decoded by rebuilding those bytes
 *     (prefix, binary clock and context, suffix) and decoding them, so every
 *     check of the codec applies to it too.
 *  2. Whole frames never touch a link's state at either end; pulls (no
 *     clock) and messages whose compact frame would not be shorter go whole.
 *  3. The sender's base is the clock of the last compact frame committed on
 *     the link, and link_seq counts those frames; the receiver's base is the
 *     clock of the last compact frame it decoded, numbered rx->link_seq. A
 *     delta frame numbered s is decoded only when the receiver's base is the
 *     same sender state's (epoch) frame s - 1, which is then the sender's
 *     base, as the link is FIFO; any other delta is refused (CW_ENOTFOUND,
 *     rx->gaps) and its write comes back through loss recovery.
 *  4. A key frame needs no base and is always decoded. The first compact
 *     frame after init or cw__wire_tx_reset is one, and so is every
 *     CW__WIRE_KEY_EVERY-th: a receiver that lost a frame, or restarted,
 *     decodes again within CW__WIRE_KEY_EVERY compact frames.
 *  5. Encoding does not move the sender's state; cw__wire_commit does, for
 *     the last encoded frame only. A decode that fails changes nothing but
 *     rx->gaps and rx->lost.
 *  6. The epoch tells two states of one sender apart (a restarted process
 *     numbers its frames from 1 again): a delta never decodes against a
 *     base from another epoch. Epochs are 32 random bits, so a restarted
 *     sender whose first key frame was lost is misread only if it drew its
 *     predecessor's epoch and reached the receiver's seq (about 2^-32).
 *  7. Decoding reads only bytes[0..len): every varint, run and length is
 *     checked against the bytes and the group size before it is used.
 *  8. Compact frames are numbered without a hole at the sender (link_seq
 *     counts every one committed, also those a full link then dropped:
 *     cw__wire_tx_reset keeps the count), so a receiver that decodes one
 *     numbered past the one it expects, or refuses a delta, knows the link
 *     lost a frame (rx->lost, cw__wire_take_lost). A receiver with no base
 *     from that sender state expects its frame 1, so its first frames from
 *     a sender that numbered on before it started show a loss that may not
 *     be its own: harmless, as a host only pulls sooner what it misses.
 *
 * Cost: an encode is one codec encode plus O(nodes) to write the runs and
 * copy the clock; a compact decode is O(nodes) plus one codec decode of the
 * rebuilt bytes. Memory: the sender keeps 2, the receiver 3, clocks of nodes
 * counters per link.
 */
#include "wire.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <causeway/error.h>
#include <causeway/vclock.h>

#include "bytes.h"
#include "msg_internal.h"
#include "splitmix.h"
#include "varint.h"

enum { TAG_WHOLE = 0, TAG_KEY = 1, TAG_DELTA = 2, NO_FRAME = -1 };

/* Tag, epoch and the longest link seq (10 varint bytes). */
#define COMPACT_HEAD (1u + 4u + 10u)

/* ---- zigzag (varints: varint.h) ---- */

/* A counter's change, modulo 2^64 (so every value is reachable from every
 * base), small either way: 0, -1, 1, -2, ... become 0, 1, 2, 3, ... */
static uint64_t zigzag(uint64_t d) { return (d << 1) ^ (0 - (d >> 63)); }
static uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

/* ---- runs: a clock x against a reference r (NULL: all zero) ----
 * Each run: varint length (0 ends the list), varint skip (entries equal to r
 * since the previous run), then length zigzag varints x[i] - r[i]. */

static uint64_t ref_at(const uint64_t *r, uint32_t i) { return r ? r[i] : 0; }

/* Bytes the runs of n entries can take at most: per run 2 varints of at most
 * 3 bytes (n <= 65,536), per entry 10, and the end. */
static size_t runs_bound(uint32_t n) { return 16u * (size_t)n + 1u; }

static uint8_t *put_runs(uint8_t *p, const uint64_t *x, const uint64_t *r, uint32_t n)
{
    uint32_t i = 0, prev_end = 0;
    for (;;) {
        while (i < n && x[i] == ref_at(r, i))
            i++;
        if (i == n)
            break;
        /* One equal entry inside a run costs a byte; a new run costs at
         * least two (its length and skip), so a run spans one. */
        uint32_t end = i + 1;
        for (;;) {
            if (end < n && x[end] != ref_at(r, end))
                end++;
            else if (end + 1 < n && x[end + 1] != ref_at(r, end + 1))
                end += 2;
            else
                break;
        }
        p = cw__varint_put(p, end - i);
        p = cw__varint_put(p, i - prev_end);
        for (uint32_t k = i; k < end; k++)
            p = cw__varint_put(p, zigzag(x[k] - ref_at(r, k)));
        i = prev_end = end;
    }
    return cw__varint_put(p, 0);
}

/* Fills x (n counters) from runs against r; false: malformed. */
static bool take_runs(const uint8_t *b, size_t len, size_t *pos, uint64_t *x, const uint64_t *r, uint32_t n)
{
    if (r)
        memcpy(x, r, (size_t)n * sizeof *x);
    else
        memset(x, 0, (size_t)n * sizeof *x);
    uint64_t i = 0; /* <= n */
    for (;;) {
        uint64_t run, skip, z;
        if (!cw__varint_take(b, len, pos, &run))
            return false;
        if (run == 0)
            return true;
        if (!cw__varint_take(b, len, pos, &skip) || skip > n - i || run > n - i - skip)
            return false;
        for (i += skip; run; run--, i++) {
            if (!cw__varint_take(b, len, pos, &z))
                return false;
            x[i] += unzigzag(z);
        }
    }
}

/* ---- the codec's bytes around the clock ---- */

/* Bytes before the clock in the codec's bytes w[0..len) of a message: 0 for
 * one without a clock (a pull) or not a known layout. */
static size_t prefix_len(const uint8_t *w, size_t len)
{
    if (len >= 1 && w[0] == CW_MSG_FORMAT_VERSION)
        return 3u + CW_HLC_BINARY_SIZE;
    if (len < 2 || (w[0] != CW_MSG_FORMAT_VERSION_2 && w[0] != CW_MSG_FORMAT_VERSION_3))
        return 0;
    if (w[1] == CW_MSG_WRITE)
        return 5u + CW_HLC_BINARY_SIZE;
    return w[1] == CW_MSG_REPORT && w[0] == CW_MSG_FORMAT_VERSION_2 ? 5u : 0;
}

/* Whether a message with this prefix carries a context after its clock. */
static bool prefix_has_context(const uint8_t *w)
{
    return w[0] == CW_MSG_FORMAT_VERSION_3 && (w[2] & CW__MSG_CONTEXT);
}

/* Writes the nonzero counters of c in the binary clock form. */
static uint8_t *put_clock(uint8_t *p, const uint64_t *c, uint32_t n)
{
    uint8_t *count = p;
    p += 4;
    uint32_t entries = 0;
    for (uint32_t i = 0; i < n; i++)
        if (c[i]) {
            p = cw__store_be(p, i, 2);
            p = cw__store_be(p, c[i], 8);
            entries++;
        }
    cw__store_be(count, entries, 4);
    return p;
}

static size_t clock_size(const uint64_t *c, uint32_t n)
{
    size_t entries = 0;
    for (uint32_t i = 0; i < n; i++)
        entries += c[i] != 0;
    return 4u + 10u * entries;
}

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    uint8_t *b = realloc(*buf, need);
    if (!b)
        return false;
    *buf = b;
    *cap = need;
    return true;
}

/* ---- states ---- */

/* 32 bits unlikely to repeat across processes and states (invariant 6). */
static uint32_t new_epoch(void)
{
    static _Atomic uint64_t made; /* relaxed: only makes successive states differ */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 40) ^
                 (atomic_fetch_add_explicit(&made, 1, memory_order_relaxed) << 20);
    return (uint32_t)cw__splitmix64(&s);
}

int cw__wire_tx_init(cw__wire_tx *tx, uint32_t nodes)
{
    if (nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES)
        return CW_EINVAL;
    uint64_t *base = calloc(nodes, sizeof *base), *next = calloc(nodes, sizeof *next);
    if (!base || !next) {
        free(base);
        free(next);
        return CW_ENOMEM;
    }
    memset(tx, 0, sizeof *tx);
    tx->nodes = nodes;
    tx->epoch = new_epoch();
    tx->base = base;
    tx->next = next;
    tx->since_key = CW__WIRE_KEY_EVERY; /* the first compact frame is a key frame */
    tx->pending = NO_FRAME;
    return CW_OK;
}

void cw__wire_tx_destroy(cw__wire_tx *tx)
{
    free(tx->whole);
    free(tx->frame);
    free(tx->base);
    free(tx->next);
    memset(tx, 0, sizeof *tx);
}

int cw__wire_rx_init(cw__wire_rx *rx, uint32_t nodes)
{
    if (nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES)
        return CW_EINVAL;
    uint64_t *base = calloc(3 * (size_t)nodes, sizeof *base);
    if (!base)
        return CW_ENOMEM;
    memset(rx, 0, sizeof *rx);
    rx->nodes = nodes;
    rx->base = base;
    return CW_OK;
}

void cw__wire_rx_destroy(cw__wire_rx *rx)
{
    free(rx->base);
    free(rx->buf);
    memset(rx, 0, sizeof *rx);
}

/* ---- sender ---- */

int cw__wire_encode(cw__wire_tx *tx, const cw_msg *m, const uint8_t **bytes, size_t *len)
{
    assert(tx->base && m && bytes && len);
    tx->pending = NO_FRAME;
    if (m->nodes != tx->nodes)
        return CW_EINVAL;
    size_t wlen = 1 + cw_msg_encoded_size(m), n = 0;
    if (!grow(&tx->whole, &tx->whole_cap, wlen))
        return CW_ENOMEM;
    tx->whole[0] = TAG_WHOLE;
    int rc = cw_msg_encode(m, tx->whole + 1, wlen - 1, &n);
    if (rc != CW_OK)
        return rc;
    const uint8_t *w = tx->whole + 1;
    size_t plen = prefix_len(w, n);
    if (!plen) { /* a pull: no clock to compact */
        tx->pending = TAG_WHOLE;
        *bytes = tx->whole;
        *len = wlen;
        return CW_OK;
    }
    /* The codec's bytes after the clock and context: key and value. */
    const uint64_t *context = m->kind == CW_MSG_WRITE ? cw__msg_context(m) : NULL;
    size_t after = plen + 4u + 10u * (size_t)cw__load_be(w + plen, 4);
    if (context)
        after += 4u + 10u * (size_t)cw__load_be(w + after, 4);
    if (!grow(&tx->frame, &tx->frame_cap, COMPACT_HEAD + plen + 2 * runs_bound(tx->nodes) + (n - after)))
        return CW_ENOMEM;
    bool key = tx->since_key >= CW__WIRE_KEY_EVERY - 1;
    uint8_t *p = tx->frame;
    *p++ = key ? TAG_KEY : TAG_DELTA;
    p = cw__store_be(p, tx->epoch, 4);
    p = cw__varint_put(p, tx->link_seq + 1);
    memcpy(p, w, plen);
    p += plen;
    p = put_runs(p, m->counters, key ? NULL : tx->base, tx->nodes);
    if (context)
        p = put_runs(p, context, m->counters, tx->nodes);
    memcpy(p, w + after, n - after);
    p += n - after;
    size_t clen = (size_t)(p - tx->frame);
    if (clen >= wlen) { /* invariant 2: whole, the link's state untouched */
        tx->pending = TAG_WHOLE;
        *bytes = tx->whole;
        *len = wlen;
        return CW_OK;
    }
    memcpy(tx->next, m->counters, (size_t)tx->nodes * sizeof *tx->next);
    tx->pending = key ? TAG_KEY : TAG_DELTA;
    *bytes = tx->frame;
    *len = clen;
    return CW_OK;
}

void cw__wire_commit(cw__wire_tx *tx)
{
    if (tx->pending == TAG_KEY || tx->pending == TAG_DELTA) {
        uint64_t *t = tx->base;
        tx->base = tx->next;
        tx->next = t;
        tx->link_seq++;
        tx->since_key = tx->pending == TAG_KEY ? 0 : tx->since_key + 1;
    }
    tx->pending = NO_FRAME; /* a second commit commits nothing */
}

void cw__wire_tx_reset(cw__wire_tx *tx)
{
    tx->since_key = CW__WIRE_KEY_EVERY;
    tx->pending = NO_FRAME;
}

/* ---- receiver ---- */

static int decode_whole(const uint8_t *bytes, size_t len, const cw_msg_limits *lim, cw_msg **out)
{
    size_t used = 0;
    cw_msg *m = NULL;
    int rc = cw_msg_decode(&m, bytes, len, lim, &used);
    if (rc == CW_ENOMEM)
        return rc;
    if (rc != CW_OK)
        return CW_EBADMSG;
    if (used != len) {
        cw_msg_unref(m);
        return CW_EBADMSG;
    }
    *out = m;
    return CW_OK;
}

int cw__wire_decode(cw__wire_rx *rx, const uint8_t *bytes, size_t len, const cw_msg_limits *lim,
                    cw_msg **out)
{
    assert(rx->base && lim && out);
    if (len < 1 || (!bytes && len))
        return CW_EBADMSG;
    uint8_t tag = bytes[0];
    if (tag == TAG_WHOLE)
        return decode_whole(bytes + 1, len - 1, lim, out); /* invariant 2 */
    if ((tag != TAG_KEY && tag != TAG_DELTA) || len < 5 || lim->nodes != rx->nodes)
        return CW_EBADMSG;
    uint32_t epoch = (uint32_t)cw__load_be(bytes + 1, 4);
    size_t pos = 5;
    uint64_t seq;
    if (!cw__varint_take(bytes, len, &pos, &seq) || seq == 0)
        return CW_EBADMSG;
    if (tag == TAG_DELTA && (rx->link_seq == 0 || epoch != rx->epoch || seq != rx->link_seq + 1)) {
        rx->gaps++; /* invariant 3: not the base this delta was made against */
        rx->lost = true;
        return CW_ENOTFOUND;
    }
    const uint8_t *prefix = bytes + pos;
    size_t plen = prefix_len(prefix, len - pos);
    if (!plen || len - pos < plen)
        return CW_EBADMSG;
    bool has_context = prefix_has_context(prefix);
    pos += plen;
    uint32_t nodes = rx->nodes;
    uint64_t *clock = rx->base + nodes, *context = rx->base + 2 * (size_t)nodes;
    if (!take_runs(bytes, len, &pos, clock, tag == TAG_KEY ? NULL : rx->base, nodes) ||
        (has_context && !take_runs(bytes, len, &pos, context, clock, nodes)))
        return CW_EBADMSG;
    /* Invariant 1: the codec's bytes, decoded by the codec. */
    size_t suffix = len - pos;
    size_t clen = plen + clock_size(clock, nodes) + (has_context ? clock_size(context, nodes) : 0) + suffix;
    if (!grow(&rx->buf, &rx->cap, clen))
        return CW_ENOMEM;
    uint8_t *p = rx->buf;
    memcpy(p, prefix, plen);
    p = put_clock(p + plen, clock, nodes);
    if (has_context)
        p = put_clock(p, context, nodes);
    memcpy(p, bytes + pos, suffix);
    int rc = decode_whole(rx->buf, clen, lim, out);
    if (rc != CW_OK)
        return rc;
    /* Invariant 8: the frame this link should have brought next. */
    uint64_t expected = rx->link_seq && epoch == rx->epoch ? rx->link_seq + 1 : 1;
    rx->lost |= seq > expected;
    memcpy(rx->base, clock, (size_t)nodes * sizeof *clock);
    rx->link_seq = seq;
    rx->epoch = epoch;
    return CW_OK;
}

bool cw__wire_take_lost(cw__wire_rx *rx)
{
    bool lost = rx->lost;
    rx->lost = false;
    return lost;
}
