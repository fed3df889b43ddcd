/* Fuzz target: one replica driven by a sequence of operations, as a hostile
 * or broken peer and client could drive it: local puts and gets, messages
 * decoded from raw bytes, messages built with arbitrary clocks (counters
 * near 2^64 included), batches of them, statistics and the dump.
 *
 * After every call the replica's invariant checker must hold (causal
 * delivery, no deliverable write left buffered, every buffered write indexed
 * once, the clock equal to what was applied, the store's sibling rules), and
 * every call must return one of the codes its header documents. A call that
 * hangs is a failure too: scripts/fuzz.sh runs the target with a per-input
 * timeout.
 *
 * Input: a config byte (group size 2..5, self, policy), a buffer bound byte
 * (1..64), then operations (sends refused or taken, flushes among them,
 * context writes and deletes), each an opcode byte and its operands; an input that ends
 * mid-operation simply ends. */
#define _GNU_SOURCE /* open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "fuzz_node.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_HELD = 16 };

/* A counter: small values mostly (so causal chains form), any 64-bit value
 * behind an escape byte. */
static bool take_counter(input *in, uint64_t *c)
{
    uint8_t b;
    if (!take_byte(in, &b))
        return false;
    if (b < 0xf0) {
        *c = b & 0x0f;
        return true;
    }
    return take(in, c, sizeof *c);
}

/* Takes every message, or refuses it when the input says so (ctx: that
 * input's refusal switch), so refused sends and flushes are fuzzed too. */
static int on_send(void *ctx, cw_msg *m)
{
    (void)m;
    return *(const bool *)ctx ? CW_EFULL : CW_OK;
}

static void check(const cw_node *n, int rc, bool ok)
{
    if (!ok || !cw__node_check(n)) {
        fprintf(stderr, "fuzz_replica: rc %d (%s), invariants %s\n", rc, cw_strerror(rc),
                cw__node_check(n) ? "hold" : "broken");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    cw_node_options o;
    if (!fuzz_group(&in, &o))
        return 0;
    bool refuse = false;
    o.send = on_send;
    o.send_ctx = &refuse;
    const cw_msg_limits limits = {o.nodes, 8, 16};
    cw_node *n;
    if (cw_node_create(&n, &o) != CW_OK)
        abort();

    cw_msg *held[MAX_HELD] = {0};
    size_t nheld = 0;
    uint8_t op;
    while (take_byte(&in, &op)) {
        uint8_t klen = 0, vlen = 0, key[16] = {0}, value[32] = {0};
        int rc;
        switch (op % 10) {
        case 0: /* local put (lengths may pass the limits) */
            if (!take_byte(&in, &klen) || !take_byte(&in, &vlen))
                goto out;
            klen %= 10, vlen %= 20;
            if (!take(&in, key, klen) || !take(&in, value, vlen))
                goto out;
            rc = cw_node_put(n, klen ? key : NULL, klen, value, vlen, NULL);
            check(n, rc, rc == CW_OK || rc == CW_ELIMIT || rc == CW_EOVERFLOW || rc == CW_EFULL || rc == CW_EDRIFT ||
                             rc == CW_ENOMEM);
            break;
        case 1: { /* get */
            if (!take_byte(&in, &klen))
                goto out;
            klen %= 10;
            if (!take(&in, key, klen))
                goto out;
            cw_read r;
            cw_read_init(&r);
            rc = cw_node_get(n, klen ? key : NULL, klen, &r);
            check(n, rc, rc == CW_OK ? r.count >= 1 : rc == CW_ENOTFOUND || rc == CW_ENOMEM);
            cw_read_destroy(&r);
            break;
        }
        case 2: { /* a message decoded from raw bytes */
            uint8_t len;
            uint8_t raw[256];
            if (!take_byte(&in, &len) || !take(&in, raw, len))
                goto out;
            cw_msg *m = NULL;
            size_t used;
            if (cw_msg_decode(&m, raw, len, &limits, &used) == CW_OK) {
                rc = cw_node_receive(n, m, NULL, NULL);
                check(n, rc, receive_rc_ok(rc));
                cw_msg_unref(m);
            }
            break;
        }
        case 3: { /* a message built with any clock; kept for batches */
            uint8_t origin, vlen2;
            uint64_t clock[5] = {0};
            if (!take_byte(&in, &origin) || !take_byte(&in, &vlen2))
                goto out;
            for (uint32_t k = 0; k < o.nodes; k++)
                if (!take_counter(&in, &clock[k]))
                    goto out;
            origin %= o.nodes;
            if (clock[origin] == 0)
                clock[origin] = 1;
            cw_hlc_timestamp ts = {fixed_wall(NULL) + (vlen2 & 0x80 ? 3600000u : 0), vlen2, origin};
            cw_msg *m;
            if (cw_msg_create(&m, origin, &ts, clock, o.nodes, "k", 1, value, vlen2 % 20) != CW_OK)
                break;
            cw_receive_result res;
            rc = cw_node_receive(n, m, &res, NULL);
            check(n, rc, receive_rc_ok(rc) && (rc != CW_EINVAL || origin == o.self));
            if (nheld < MAX_HELD)
                held[nheld++] = m;
            else
                cw_msg_unref(m);
            break;
        }
        case 4: { /* the held messages again, as one batch */
            size_t taken = 0, delivered = 0;
            rc = cw_node_receive_many(n, held, nheld, &taken, &delivered);
            check(n, rc, receive_rc_ok(rc) && taken <= nheld && (rc != CW_OK || taken == nheld));
            break;
        }
        case 5: { /* statistics and the dump */
            cw_node_stats st;
            char *text = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&text, &len);
            rc = cw_node_get_stats(n, &st);
            check(n, rc, rc == CW_OK && st.buffered <= o.max_buffered);
            if (f) {
                rc = cw_node_dump(n, f);
                check(n, rc, rc == CW_OK || rc == CW_ENOMEM);
                fclose(f);
            }
            free(text);
            break;
        }
        case 6: /* the driver starts or stops refusing sends */
            refuse = !refuse;
            break;
        case 7: { /* flush what waits to be sent */
            size_t before = cw_node_unsent(n), sent = 0;
            rc = cw_node_flush(n, &sent);
            check(n, rc, (rc == CW_OK ? cw_node_unsent(n) == 0 : rc == CW_EFULL && refuse) &&
                             cw_node_unsent(n) + sent == before);
            break;
        }
        case 8:   /* a context write or a delete with a context: the last read's, or any */
        case 9: { /* (ids and counters from the input, ahead of the clock or out of range) */
            uint8_t how, id;
            uint64_t counter;
            if (!take_byte(&in, &how) || !take_byte(&in, &klen) || !take_byte(&in, &id) ||
                !take_counter(&in, &counter))
                goto out;
            klen %= 10;
            if (!take(&in, key, klen))
                goto out;
            cw_vclock ctx;
            cw_vclock_init(&ctx);
            if (how & 1) {
                cw_read r;
                cw_read_init(&r);
                if (cw_node_get(n, klen ? key : NULL, klen, &r) != CW_ENOMEM)
                    cw_vclock_copy(&ctx, &r.context);
                cw_read_destroy(&r);
            } else {
                cw_vclock_set(&ctx, id % 8, counter);
            }
            const cw_vclock *use = how & 2 ? NULL : &ctx;
            rc = op % 10 == 8 ? cw_node_put_ctx(n, klen ? key : NULL, klen, value, how % 20, use, NULL)
                              : cw_node_delete(n, klen ? key : NULL, klen, use, NULL);
            check(n, rc, rc == CW_OK || rc == CW_ELIMIT || rc == CW_EOVERFLOW || rc == CW_EFULL || rc == CW_EDRIFT ||
                             rc == CW_ENOMEM || rc == CW_EAHEAD || rc == CW_EINVAL);
            cw_vclock_destroy(&ctx);
            break;
        }
        }
    }
out:
    for (size_t i = 0; i < nheld; i++)
        cw_msg_unref(held[i]);
    cw_node_destroy(n);
    return 0;
}
