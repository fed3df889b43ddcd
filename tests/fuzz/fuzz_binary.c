/* Fuzz target: the binary clock decoder. A decode either yields a canonical
 * clock that re-encodes to a form decoding to the same clock, having consumed
 * no more than it was given, or fails with CW_ETRUNC / CW_ELIMIT untouched. */
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
        size_t len = cw_vclock_encoded_size(&c);
        uint8_t *buf = malloc(len);
        size_t used;
        if (!buf || cw_vclock_encode(&c, buf, len, &used) != CW_OK || used != len ||
            cw_vclock_decode(&again, buf, len, &consumed) != CW_OK || consumed != len ||
            cw_vclock_compare(&c, &again) != CW_EQUAL)
            abort();
        free(buf);
    }
    cw_vclock_destroy(&c);
    cw_vclock_destroy(&again);
    return 0;
}
