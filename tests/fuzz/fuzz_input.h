/* A fuzz input read front to back, shared by the harnesses that drive a
 * replica with it (fuzz_replica.c, fuzz_recovery.c). */
#ifndef CAUSEWAY_FUZZ_INPUT_H
#define CAUSEWAY_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

/* The next n bytes into out; false (nothing taken) when fewer are left. */
static inline bool take(input *in, void *out, size_t n)
{
    if (in->left < n)
        return false;
    memcpy(out, in->p, n);
    in->p += n;
    in->left -= n;
    return true;
}

static inline bool take_byte(input *in, uint8_t *b) { return take(in, b, 1); }

#endif
