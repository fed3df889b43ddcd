/* Fuzz target: link frames (src/server/wire.c). The input is a sequence of
 * frames, each a u16 big-endian length then that many bytes (the last one
 * takes what is left), decoded in order by one receiver of a group of 16. A
 * frame either decodes to a valid message, which a sender's encoding and a
 * second receiver's decoding give back field for field, or fails with
 * CW_EBADMSG or CW_ENOTFOUND and leaves the receiver's base and seq as they
 * were. Never reads outside a frame (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "msg_internal.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NODES = 16 };

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_same(const cw_msg *a, const cw_msg *b)
{
    check(cw_msg_kind_of(a) == cw_msg_kind_of(b) && cw_msg_origin(a) == cw_msg_origin(b));
    check(a->flags == b->flags && cw_msg_seq(a) == cw_msg_seq(b));
    cw_hlc_timestamp ta = cw_msg_timestamp(a), tb = cw_msg_timestamp(b);
    check(cw_hlc_compare(&ta, &tb) == 0);
    uint32_t na = 0, nb = 0;
    const uint64_t *ca = cw_msg_counters(a, &na), *cb = cw_msg_counters(b, &nb);
    check(na == nb && (ca == NULL) == (cb == NULL) && (!ca || !memcmp(ca, cb, (size_t)na * 8)));
    cw_node_id oa = 0, ob = 0;
    uint64_t fa = 0, fb = 0, ua = 0, ub = 0;
    check(cw_msg_pull_range(a, &oa, &fa, &ua) == cw_msg_pull_range(b, &ob, &fb, &ub));
    check(oa == ob && fa == fb && ua == ub);
    if (cw_msg_kind_of(a) == CW_MSG_WRITE) {
        cw_vclock xa, xb;
        cw_vclock_init(&xa);
        cw_vclock_init(&xb);
        check(cw_msg_context(a, &xa) == CW_OK && cw_msg_context(b, &xb) == CW_OK);
        check(cw_vclock_compare(&xa, &xb) == CW_EQUAL);
        cw_vclock_destroy(&xa);
        cw_vclock_destroy(&xb);
    }
    size_t ka, kb, va, vb;
    const void *k1 = cw_msg_key(a, &ka), *k2 = cw_msg_key(b, &kb);
    const void *v1 = cw_msg_value(a, &va), *v2 = cw_msg_value(b, &vb);
    check(ka == kb && va == vb && !memcmp(k1, k2, ka) && !memcmp(v1, v2, va));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cw_msg_limits lim = {NODES, 256, 1024};
    cw__wire_rx rx, rx2;
    cw__wire_tx tx;
    check(cw__wire_rx_init(&rx, NODES) == CW_OK && cw__wire_rx_init(&rx2, NODES) == CW_OK);
    check(cw__wire_tx_init(&tx, NODES) == CW_OK);
    uint64_t base[NODES];
    size_t pos = 0;
    for (int frames = 0; pos < size && frames < 64; frames++) {
        size_t len = size - pos;
        if (len >= 2) {
            len = (size_t)data[pos] << 8 | data[pos + 1];
            pos += 2;
            if (len > size - pos)
                len = size - pos;
        }
        /* A copy of exactly the frame, so ASan sees any read past it. */
        uint8_t *copy = malloc(len ? len : 1);
        check(copy != NULL);
        memcpy(copy, data + pos, len);
        pos += len;
        memcpy(base, rx.base, sizeof base);
        uint64_t seq = rx.link_seq, gaps = rx.gaps;
        cw_msg *m = NULL;
        int rc = cw__wire_decode(&rx, copy, len, &lim, &m);
        free(copy);
        if (rc != CW_OK) {
            check((rc == CW_EBADMSG || rc == CW_ENOTFOUND) && !m);
            check(rx.link_seq == seq && !memcmp(rx.base, base, sizeof base));
            check(rx.gaps == gaps + (rc == CW_ENOTFOUND));
            continue;
        }
        check(m && cw_msg_origin(m) < NODES);
        if (cw_msg_kind_of(m) == CW_MSG_WRITE)
            check(cw_msg_seq(m) >= 1 && m->counters[m->origin] == m->seq);
        /* Sent on again: the same message. */
        const uint8_t *b;
        size_t blen;
        cw_msg *again = NULL;
        check(cw__wire_encode(&tx, m, &b, &blen) == CW_OK);
        cw__wire_commit(&tx);
        check(blen <= 1 + cw_msg_encoded_size(m));
        check(cw__wire_decode(&rx2, b, blen, &lim, &again) == CW_OK);
        check_same(m, again);
        cw_msg_unref(again);
        cw_msg_unref(m);
    }
    cw__wire_tx_destroy(&tx);
    cw__wire_rx_destroy(&rx);
    cw__wire_rx_destroy(&rx2);
    return 0;
}
