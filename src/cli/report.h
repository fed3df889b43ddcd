/* What the checking commands (stress, sim) print alike. */
#ifndef CW_CLI_REPORT_H
#define CW_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct json_t;

/* Why a run stopped before its check: the system under test (a stall,
 * nodes that did not converge in time: a failure, exit 1), or this
 * machine's memory (refused before the run, or starved in it: no verdict on
 * the replicas, exit 3, as causeway sim says). */
typedef enum cli_stop { CLI_STOP_FAILED, CLI_STOP_NO_MEMORY } cli_stop;

/* The JSON of a run that stopped before its check: {"options": options,
 * "seconds", "verdict": "fail", "violation": failure, "checked": false}
 * ("verdict": "none", "stopped": failure for CLI_STOP_NO_MEMORY) and
 * extra's fields (options and extra stolen; extra may be NULL); NULL when
 * out of memory. */
struct json_t *cli_stopped_json(struct json_t *options, double seconds, cli_stop why, const char *failure,
                                struct json_t *extra);

/* The end of a run that stopped before its check: what stopped it on
 * stderr (with the seed and `kept`, if given), then the verdict (FAIL with
 * it as the violation, or NONE for CLI_STOP_NO_MEMORY) and the command that
 * replays the run, as cli_print_verdict; and, with a `json` path, doc
 * written there (stolen; NULL: out of memory), or a line on stderr saying
 * it could not be. */
void cli_report_stopped(cli_stop why, const char *failure, const char *kept, uint64_t seed, const char *replay,
                        const char *note, const char *json, struct json_t *doc);

#endif
