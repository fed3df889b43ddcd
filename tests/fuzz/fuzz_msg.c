/* Fuzz target: the replicated-write message decoder. A decode either yields
 * a message that re-encodes to a form decoding to the same message, having
 * consumed no more than it was given, or fails with a precise code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cw_msg_limits limits = {16, 256, 1024};
    cw_msg *m = NULL, *again = NULL;
    size_t consumed = 0;
    int rc = cw_msg_decode(&m, data, size, &limits, &consumed);
    if (rc != CW_OK) {
        if ((rc != CW_ETRUNC && rc != CW_EBADMSG && rc != CW_ELIMIT) || m || consumed)
            abort();
        return 0;
    }
    if (consumed > size || cw_msg_seq(m) == 0 || cw_msg_origin(m) >= limits.nodes)
        abort();
    size_t len = cw_msg_encoded_size(m), used;
    uint8_t *buf = malloc(len);
    if (!buf || cw_msg_encode(m, buf, len, &used) != CW_OK || used != len ||
        cw_msg_decode(&again, buf, len, &limits, &consumed) != CW_OK || consumed != len)
        abort();
    size_t ka, kb, va, vb;
    const void *k1 = cw_msg_key(m, &ka), *k2 = cw_msg_key(again, &kb);
    const void *v1 = cw_msg_value(m, &va), *v2 = cw_msg_value(again, &vb);
    if (ka != kb || va != vb || memcmp(k1, k2, ka) || memcmp(v1, v2, va) ||
        memcmp(cw_msg_counters(m, NULL), cw_msg_counters(again, NULL), limits.nodes * 8))
        abort();
    free(buf);
    cw_msg_unref(m);
    cw_msg_unref(again);
    return 0;
}
