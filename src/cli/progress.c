/* Progress lines for long phases (see progress.h).
 *
 * Invariants:
 *  1. On a terminal, a phase younger than a second draws nothing; after
 *     that one line is redrawn in place at most every 200 ms (a redraw
 *     costs a write(2); a caller may update as often as it likes), and it
 *     is cleared when the phase ends.
 *  2. Off a terminal (a log, a pipe), a phase younger than LOG_AFTER_S
 *     writes nothing, so a short run's stderr stays empty; a longer one
 *     writes a whole line every LOG_AFTER_S, so that a log shows a slow run
 *     (heavy loss, a long partition) is alive. Lines stay: nothing to clear.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define LOG_AFTER_S 10.0

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
    double now = cli_seconds();
    if (phase != p->phase) {
        cli_progress_end(p);
        p->phase = phase;
        p->start = p->last = now;
        return;
    }
    double first = p->tty ? 1.0 : LOG_AFTER_S, every = p->tty ? 0.2 : LOG_AFTER_S;
    if (now - p->start < first || now - p->last < every)
        return;
    p->last = now;
    p->shown = p->tty;
    if (done > total) /* a phase that runs past its end (a run that waits out a stall): the time says how far */
        done = total;
    fprintf(stderr, "%s  %s: %llu/%llu %s (%.0f%%), %.0f s%s", p->tty ? "\r" : "", phase, (unsigned long long)done,
            (unsigned long long)total, what, total ? 100.0 * (double)done / (double)total : 100.0, now - p->start,
            p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = false;
    p->phase = NULL;
}

void cli_progress_phase(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
    const char *unit = "writes"; /* making writes, grouping writes by key, checking keys */
    if (strcmp(phase, "comparing final states") == 0)
        unit = "nodes";
    else if (strncmp(phase, "checking reads", 14) == 0) /* and "checking reads' siblings" */
        unit = "reads";
    else if (strcmp(phase, "checking sessions") == 0)
        unit = "operations";
    else if (strcmp(phase, "delivering the rest") == 0 || strcmp(phase, "draining the logs") == 0)
        unit = "steps of its bound";
    cli_progress_update(ctx, phase, done, total, unit);
}
