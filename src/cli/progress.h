/* A progress line on stderr for the command's long phases.
 *
 * On a terminal: shown once a phase has lasted a second, redrawn in place
 * at most every 200 ms, and cleared when the phase ends, so that what stays
 * on the screen is the command's report. Off a terminal: a whole line every
 * ten seconds of a phase that lasts that long, so that a log shows a slow
 * run is alive. Not thread-safe: the thread that runs the phases updates
 * it. */
#ifndef CW_CLI_PROGRESS_H
#define CW_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cli_progress {
    bool tty;             /* stderr is a terminal */
    bool shown;           /* a line is on the screen */
    const char *phase;    /* the phase being timed (a static string) */
    double start, last;   /* when it began, when the line was last drawn */
} cli_progress;

/* Seconds on a monotonic clock. */
double cli_seconds(void);

void cli_progress_init(cli_progress *p);
/* Reports `done` of `total` units of `what` in phase `phase` (a static
 * string; a new pointer starts a new phase, drawn nothing for its first
 * second on a terminal, its first ten seconds off one). */
void cli_progress_update(cli_progress *p, const char *phase, uint64_t done, uint64_t total,
                         const char *what);
/* Ends the phase: clears the line if one is shown. */
void cli_progress_end(cli_progress *p);
/* A cw_history_progress_fn, also the simulator's (ctx: a cli_progress):
 * cli_progress_update with the unit each phase counts. */
void cli_progress_phase(void *ctx, const char *phase, uint64_t done, uint64_t total);

#endif
