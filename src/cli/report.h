/* What the checking commands (stress, sim) print alike. */
#ifndef CW_CLI_REPORT_H
#define CW_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <causeway/vclock.h>
#include <causeway/verify.h>

/* A duration in the unit that fits: "812 ns", "140 us", "27.4 ms", "3.21 s". */
const char *cli_duration(double ns, char *buf, size_t cap);

/* The clock as text (cw_vclock_format), of any length: malloc'd, NULL when
 * out of memory. */
char *cli_clock_text(const cw_vclock *c);

/* The ground truth's pair counts, one line. */
void cli_print_pairs(const cw_history_report *rep);

/* Contexts, deletes and sessions against the ground truth (what each
 * client read), for a run whose clients used them: up to three lines. */
void cli_print_clients(const cw_history_report *rep, uint32_t clients, bool sessions);

/* The same as JSON fields of root (context_writes, deletes, superseded,
 * session_ops, max_siblings, max_concurrent); false when out of memory. */
bool cli_clients_json(const cw_history_report *rep, void *root);

/* A failed run's history (what was checked; format: docs/formats.md) to
 * `path`, or to causeway-stress-SEED.history when path is NULL, and a report
 * line saying where, or why it could not be written. */
void cli_write_history(const char *path, uint64_t seed, const cw_history *h);
/* The name cli_write_history writes to when it is given none, into out. */
void cli_default_history(char *out, size_t cap, uint64_t seed);

/* The verdict line; on a failure, the violation and the command that
 * replays the run (`replay`, with `note` after it: what a replay repeats). */
void cli_print_verdict(bool ok, const char *violation, const char *replay, const char *note);

/* The verdict of a run that stopped before its check (a stall, nodes that did
 * not converge in time, no memory): FAIL with what stopped it, and the
 * command that replays the run, as cli_print_verdict. */
void cli_print_stopped(const char *failure, const char *replay, const char *note);

/* Writes to path the JSON of such a run: {"options": options (stolen),
 * "seconds", "verdict": "fail", "violation": failure, "checked": false} and
 * extra's fields (stolen; may be NULL). CW_OK, CW_ENOMEM, or CW_EINVAL when
 * the file cannot be written. */
int cli_write_stopped_json(const char *path, void *options, double seconds, const char *failure, void *extra);

#endif
