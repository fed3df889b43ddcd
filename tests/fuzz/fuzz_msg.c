/* Fuzz target: the replica message decoder (both formats, every kind). A
 * decode either yields a message that re-encodes to a form decoding to the
 * same message (kind, sender or origin, flags, a pull's range, a write's or
 * report's counters, a write's timestamp, key and value), having consumed no
 * more than it was given, or fails with a precise code and returns nothing.
 * The re-encoding is format 1 exactly when the message is a plain write.
 * (Not byte for byte the input: a clock's entries may come unsorted, repeated
 * or zero, and a format-2 write without flags is written as format 1.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "msg_internal.h" /* the flags byte: a report's has no accessor */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* What the public accessors say of a message. */
static void check_same(const cw_msg *a, const cw_msg *b, uint32_t nodes)
{
    cw_msg_kind kind = cw_msg_kind_of(a);
    check(kind == cw_msg_kind_of(b));
    check(cw_msg_origin(a) == cw_msg_origin(b));
    check(cw_msg_retransmitted(a) == cw_msg_retransmitted(b));
    check(cw_msg_tombstone(a) == cw_msg_tombstone(b));
    check(a->flags == b->flags);
    if (kind == CW_MSG_WRITE) { /* the same context, given or derived */
        cw_vclock xa, xb;
        cw_vclock_init(&xa);
        cw_vclock_init(&xb);
        check(cw_msg_context(a, &xa) == CW_OK && cw_msg_context(b, &xb) == CW_OK);
        check(cw_vclock_compare(&xa, &xb) == CW_EQUAL);
        cw_vclock_destroy(&xa);
        cw_vclock_destroy(&xb);
    } else {
        cw_vclock x;
        cw_vclock_init(&x);
        check(cw_msg_context(a, &x) == CW_EINVAL);
        cw_vclock_destroy(&x);
    }
    check(cw_msg_seq(a) == cw_msg_seq(b));
    cw_hlc_timestamp ta = cw_msg_timestamp(a), tb = cw_msg_timestamp(b);
    check(cw_hlc_compare(&ta, &tb) == 0);
    cw_node_id oa = 0, ob = 0;
    uint64_t fa = 0, fb = 0, ua = 0, ub = 0;
    int ra = cw_msg_pull_range(a, &oa, &fa, &ua), rb = cw_msg_pull_range(b, &ob, &fb, &ub);
    check(ra == rb && oa == ob && fa == fb && ua == ub);
    uint32_t na = 7, nb = 7;
    const uint64_t *ca = cw_msg_counters(a, &na), *cb = cw_msg_counters(b, &nb);
    check(na == nb);
    if (kind == CW_MSG_PULL) {
        check(ra == CW_OK && !ca && !cb && na == 0);
    } else {
        check(ra == CW_EINVAL && ca && cb && na == nodes && !memcmp(ca, cb, (size_t)nodes * 8));
    }
    size_t ka, kb, va, vb;
    const void *k1 = cw_msg_key(a, &ka), *k2 = cw_msg_key(b, &kb);
    const void *v1 = cw_msg_value(a, &va), *v2 = cw_msg_value(b, &vb);
    check(ka == kb && va == vb && !memcmp(k1, k2, ka) && !memcmp(v1, v2, va));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cw_msg_limits limits = {16, 256, 1024};
    cw_msg *m = NULL, *again = NULL;
    size_t consumed = 0;
    int rc = cw_msg_decode(&m, data, size, &limits, &consumed);
    if (rc != CW_OK) {
        check((rc == CW_ETRUNC || rc == CW_EBADMSG || rc == CW_ELIMIT) && !m && !consumed);
        return 0;
    }
    check(consumed > 0 && consumed <= size && cw_msg_origin(m) < limits.nodes);
    cw_msg_kind kind = cw_msg_kind_of(m);
    check(kind == CW_MSG_WRITE || kind == CW_MSG_PULL || kind == CW_MSG_REPORT);
    if (kind == CW_MSG_WRITE) {
        check(cw_msg_seq(m) >= 1);
    } else {
        size_t kl = 1, vl = 1;
        cw_msg_key(m, &kl);
        cw_msg_value(m, &vl);
        check(cw_msg_seq(m) == 0 && !cw_msg_retransmitted(m) && kl == 0 && vl == 0);
    }
    if (kind == CW_MSG_PULL) {
        cw_node_id origin;
        uint64_t from, to;
        check(cw_msg_pull_range(m, &origin, &from, &to) == CW_OK);
        check(origin < limits.nodes && from >= 1 && from <= to);
    }
    /* Each kind's flags, nothing else. */
    check((m->flags & ~(kind == CW_MSG_WRITE    ? CW__MSG_RETRANSMITTED | CW__MSG_TOMBSTONE | CW__MSG_CONTEXT
                        : kind == CW_MSG_REPORT ? CW__MSG_WANTS_REPORTS
                                                : 0u)) == 0);
    /* Format 1 is only ever a plain write; format 3 a write that deletes or
     * has its own context; a tombstone has no value. */
    bool v3 = kind == CW_MSG_WRITE && (m->flags & (CW__MSG_TOMBSTONE | CW__MSG_CONTEXT));
    if (data[0] == CW_MSG_FORMAT_VERSION)
        check(kind == CW_MSG_WRITE && m->flags == 0);
    check(v3 == (data[0] == CW_MSG_FORMAT_VERSION_3));
    if (cw_msg_tombstone(m)) {
        size_t vl = 1;
        cw_msg_value(m, &vl);
        check(vl == 0);
    }

    size_t len = cw_msg_encoded_size(m), used = 0;
    uint8_t *buf = malloc(len);
    check(buf != NULL);
    check(cw_msg_encode(m, buf, len, &used) == CW_OK && used == len);
    bool plain = kind == CW_MSG_WRITE && m->flags == 0;
    check(buf[0] == (plain ? CW_MSG_FORMAT_VERSION : v3 ? CW_MSG_FORMAT_VERSION_3 : CW_MSG_FORMAT_VERSION_2));
    check(cw_msg_decode(&again, buf, len, &limits, &consumed) == CW_OK && consumed == len);
    check_same(m, again, limits.nodes);
    free(buf);
    cw_msg_unref(m);
    cw_msg_unref(again);
    return 0;
}
