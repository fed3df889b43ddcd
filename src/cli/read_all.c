/* Whole files into memory, for the commands that read one (a clock or
 * header operand, Google Benchmark's JSON). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

char *cli_read_all(FILE *f, size_t max, size_t *len_out)
{
    size_t len = 0, cap = 4096, n;
    char *text = malloc(cap);
    /* One byte is always kept free for the terminating NUL. */
    while (text && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len > max) { /* an endless pipe, /dev/zero: not a file to hold */
            free(text);
            errno = EFBIG;
            return NULL;
        }
        if (cap - len - 1 > 0)
            continue;
        char *grown = cap < SIZE_MAX / 2 ? realloc(text, cap * 2) : NULL;
        if (!grown) {
            free(text);
            return NULL;
        }
        text = grown;
        cap *= 2;
    }
    if (!text || ferror(f)) {
        free(text);
        return NULL;
    }
    text[len] = '\0';
    *len_out = len;
    return text;
}
