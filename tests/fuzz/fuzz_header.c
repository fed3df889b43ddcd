/* Fuzz target: the X-VectorClock header parser. Parsed headers format and
 * parse back identically; refusals are CW_EPARSE and leave the header as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "vclock_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_header h, again;
    cw_header_init(&h);
    cw_header_init(&again);
    int rc = cw_header_parse(&h, (const char *)data, size);
    if (rc != CW_OK) {
        if (rc != CW_EPARSE || h.clock.size || h.has_correlation || h.has_causation)
            abort();
    } else {
        if (!cw__vclock_is_canonical(&h.clock) || (h.has_causation && !h.has_correlation))
            abort();
        size_t len;
        cw_header_format(&h, NULL, 0, &len);
        char *buf = malloc(len + 1);
        if (!buf || cw_header_format(&h, buf, len + 1, &len) != CW_OK ||
            cw_header_parse(&again, buf, len) != CW_OK ||
            cw_vclock_compare(&h.clock, &again.clock) != CW_EQUAL ||
            again.has_correlation != h.has_correlation || again.has_causation != h.has_causation ||
            memcmp(&again.correlation, &h.correlation, 16) || memcmp(&again.causation, &h.causation, 16))
            abort();
        free(buf);
    }
    cw_header_destroy(&h);
    cw_header_destroy(&again);
    return 0;
}
