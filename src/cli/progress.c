/* Progress lines for long phases (see progress.h).
 *
 * Invariants:
 *  1. Nothing is written unless stderr is a terminal: piped and logged
 *     output carries the report only.
 *  2. A phase younger than a second draws nothing; after that a line is
 *     drawn at most every 200 ms (a redraw costs a write(2); a caller may
 *     update as often as it likes).
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

double cli_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p)
{
    *p = (cli_progress){.tty = isatty(2) == 1};
}

void cli_progress_update(cli_progress *p, const char *phase, uint64_t done, uint64_t total,
                         const char *what)
{
    if (!p->tty)
        return;
    double now = cli_seconds();
    if (phase != p->phase) {
        cli_progress_end(p);
        p->phase = phase;
        p->start = now;
        return;
    }
    if (now - p->start < 1.0 || now - p->last < 0.2)
        return;
    p->last = now;
    p->shown = true;
    fprintf(stderr, "\r  %s: %llu/%llu %s (%.0f%%), %.0f s\033[K", phase, (unsigned long long)done,
            (unsigned long long)total, what, total ? 100.0 * (double)done / (double)total : 100.0,
            now - p->start);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = false;
    p->phase = NULL;
}
