/* Fuzz target: the binary clock decoder. A decode either yields a canonical
 * clock that re-encodes to a form decoding to the same clock, having consumed
 * no more than it was given, or fails with CW_ETRUNC / CW_ELIMIT untouched.
 * When the bytes after the first clock decode to a second one, the two are
 * merged both ways (copy + merge, and join into a third clock, fresh and
 * then with room unless both are empty): the same canonical clock, AFTER
 * or EQUAL to each input, each entry the larger of the two. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "vclock_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_vclock c, again;
    cw_vclock_init(&c);
    cw_vclock_init(&again);
    size_t consumed = 0;
    int rc = cw_vclock_decode(&c, data, size, &consumed);
    if (rc != CW_OK) {
        if ((rc != CW_ETRUNC && rc != CW_ELIMIT) || c.size || consumed)
            abort();
    } else {
        if (!cw__vclock_is_canonical(&c) || consumed > size || consumed < 4)
            abort();
        size_t first = consumed; /* where a second clock may start */
        size_t len = cw_vclock_encoded_size(&c);
        uint8_t *buf = malloc(len);
        size_t used;
        if (!buf || cw_vclock_encode(&c, buf, len, &used) != CW_OK || used != len ||
            cw_vclock_decode(&again, buf, len, &consumed) != CW_OK || consumed != len ||
            cw_vclock_compare(&c, &again) != CW_EQUAL)
            abort();
        free(buf);
        cw_vclock d, merged, joined;
        cw_vclock_init(&d);
        cw_vclock_init(&merged);
        cw_vclock_init(&joined);
        if (cw_vclock_decode(&d, data + first, size - first, NULL) == CW_OK) {
            if (cw_vclock_copy(&merged, &c) != CW_OK || cw_vclock_merge(&merged, &d) != CW_OK)
                abort();
            /* into a fresh clock, then into the same one, which now has room */
            for (int again_into = 0; again_into < 2; again_into++) {
                if (cw_vclock_join(&joined, &c, &d) != CW_OK || !cw__vclock_is_canonical(&joined) ||
                    cw_vclock_compare(&joined, &merged) != CW_EQUAL ||
                    (cw_vclock_compare(&joined, &c) & CW_BEFORE) || (cw_vclock_compare(&joined, &d) & CW_BEFORE))
                    abort();
                for (uint32_t i = 0; i < joined.size; i++) { /* the least such clock */
                    uint64_t x = cw_vclock_get(&c, joined.ids[i]), y = cw_vclock_get(&d, joined.ids[i]);
                    if (joined.counters[i] != (x > y ? x : y))
                        abort();
                }
            }
        }
        cw_vclock_destroy(&d);
        cw_vclock_destroy(&merged);
        cw_vclock_destroy(&joined);
    }
    cw_vclock_destroy(&c);
    cw_vclock_destroy(&again);
    return 0;
}
