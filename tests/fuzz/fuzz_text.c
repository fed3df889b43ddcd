/* Fuzz target: the clock text parser. Any input either parses to a canonical
 * clock whose text form parses back to the same clock, or is refused with
 * CW_EPARSE leaving the clock untouched. */
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
    cw_vclock_set(&c, 3, 3);
    int rc = cw_vclock_parse(&c, (const char *)data, size);
    if (rc != CW_OK) {
        if (rc != CW_EPARSE || c.size != 1 || cw_vclock_get(&c, 3) != 3)
            abort();
    } else {
        if (!cw__vclock_is_canonical(&c))
            abort();
        size_t len;
        cw_vclock_format(&c, NULL, 0, &len);
        char *buf = malloc(len + 1);
        if (!buf || cw_vclock_format(&c, buf, len + 1, &len) != CW_OK ||
            cw_vclock_parse(&again, buf, len) != CW_OK || cw_vclock_compare(&c, &again) != CW_EQUAL)
            abort();
        free(buf);
    }
    cw_vclock_destroy(&c);
    cw_vclock_destroy(&again);
    return 0;
}
