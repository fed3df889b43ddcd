/* Notes said on stderr now and then about something counted (refused
 * connections, failed handshakes): at most one every CW__NOTE_EVERY_NS, each
 * after the first saying how many came since the last. A peer left out of a
 * list by mistake, or speaking the wrong mechanism, is then seen without
 * flooding the log. Not thread-safe: one thread, or a lock, per note. */
#ifndef CW_NOTE_H
#define CW_NOTE_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "now.h"

#define CW__NOTE_EVERY_NS (10ull * 1000000000u)

typedef struct cw__note {
    uint64_t said_ns;    /* when the last note was said (0: never) */
    uint64_t said_count; /* the count then */
} cw__note;

/* Whether a note is due now that `count` have come in all; if so it is
 * marked said, and more (cap bytes) gets " (N <what> since the last note)",
 * or "" for the first note. */
static inline bool cw__note_due(cw__note *n, uint64_t count, const char *what, char *more, size_t cap)
{
    uint64_t now = cw__now_ns();
    if (n->said_ns && now - n->said_ns < CW__NOTE_EVERY_NS)
        return false;
    more[0] = '\0';
    if (n->said_ns)
        snprintf(more, cap, " (%" PRIu64 " %s since the last note)", count - n->said_count, what);
    n->said_ns = now;
    n->said_count = count;
    return true;
}

#endif
