/* Report lines shared by causeway stress and causeway sim (see report.h).
 *
 * Invariants:
 *  1. A failure always prints a replay command, whole: every option that
 *     shaped the run, never an ellipsis (cli_command_line makes it).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "report.h"

const char *cli_duration(double ns, char *buf, size_t cap)
{
    /* Each unit up to what rounds below 1000 in it: %.3g prints 999.5 as
     * "1e+03", so that goes to the next unit as "1". */
    if (ns < 999.5)
        snprintf(buf, cap, "%.0f ns", ns);
    else if (ns < 999.5e3)
        snprintf(buf, cap, "%.3g us", ns / 1e3);
    else if (ns < 999.5e6)
        snprintf(buf, cap, "%.3g ms", ns / 1e6);
    else if (ns < 999.5e9)
        snprintf(buf, cap, "%.3g s", ns / 1e9);
    else
        snprintf(buf, cap, "%.0f s", ns / 1e9);
    return buf;
}

char *cli_clock_text(const cw_vclock *c)
{
    size_t len = 0;
    (void)cw_vclock_format(c, NULL, 0, &len); /* measure only */
    char *text = malloc(len + 1);
    if (text && cw_vclock_format(c, text, len + 1, &len) != CW_OK) {
        free(text);
        text = NULL;
    }
    return text;
}

void cli_print_pairs(const cw_history_report *rep)
{
    printf("  concurrent pairs     %llu of %llu same-key pairs (ground truth)\n",
           (unsigned long long)rep->concurrent_pairs,
           (unsigned long long)(rep->concurrent_pairs + rep->ordered_pairs));
}

void cli_print_clients(const cw_history_report *rep, uint32_t clients, bool sessions)
{
    printf("  contexts             %llu context writes, %llu deletes; %llu writes superseded (ground truth: "
           "what each client read)\n",
           (unsigned long long)rep->context_writes, (unsigned long long)rep->deletes,
           (unsigned long long)rep->superseded);
    char who[32]; /* clients 0: no clients of their own (sim's default) */
    if (clients)
        snprintf(who, sizeof who, "%u client%s", clients, clients == 1 ? "" : "s");
    else
        snprintf(who, sizeof who, "each node writes");
    printf("  siblings             at most %llu live version%s of a key (%s; at most %llu truly concurrent write%s "
           "left)\n",
           (unsigned long long)rep->max_siblings, rep->max_siblings == 1 ? "" : "s", who,
           (unsigned long long)rep->max_concurrent, rep->max_concurrent == 1 ? "" : "s");
    if (sessions)
        printf("  sessions             %llu client operations checked: read-your-writes, monotonic reads, "
               "monotonic writes, writes-follow-reads\n", (unsigned long long)rep->session_ops);
}

bool cli_clients_json(const cw_history_report *rep, void *root)
{
    json_t *f = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "context_writes", (json_int_t)rep->context_writes, "deletes",
                          (json_int_t)rep->deletes, "superseded", (json_int_t)rep->superseded, "session_ops",
                          (json_int_t)rep->session_ops, "max_siblings", (json_int_t)rep->max_siblings,
                          "max_concurrent", (json_int_t)rep->max_concurrent);
    bool ok = f && json_object_update(root, f) == 0;
    json_decref(f);
    return ok;
}

/* The lines under a verdict that is no pass: the violation (or what
 * stopped the run) under `label`, the replay command, and what a replay
 * repeats (note). */
static void print_violation(const char *label, const char *violation, const char *replay, const char *note)
{
    printf("  %-20s %s\n  replay               %s\n%s%s%s", label, violation ? violation : "(none recorded)",
           replay ? replay : "(out of memory)", note ? "                       (" : "", note ? note : "",
           note ? ")\n" : "");
}

void cli_print_verdict(bool ok, const char *violation, const char *replay, const char *note)
{
    printf("  verdict              %s: causal order, exact concurrency, convergence, no loss%s\n",
           ok ? "PASS" : "FAIL: the violation below (checked", ok ? "" : ")");
    if (!ok)
        print_violation("violation", violation, replay, note);
}

json_t *cli_stopped_json(json_t *options, double seconds, cli_stop why, const char *failure, json_t *extra)
{
    bool none = why == CLI_STOP_NO_MEMORY;
    json_t *root = json_pack("{s:o,s:f,s:s,s:s,s:b}", "options", options, "seconds", seconds, "verdict",
                             none ? "none" : "fail", none ? "stopped" : "violation", failure, "checked", false);
    bool built = root && (!extra || json_object_update(root, extra) == 0);
    json_decref(extra);
    if (!built) {
        json_decref(root);
        return NULL;
    }
    return root;
}

void cli_report_stopped(cli_stop why, const char *failure, const char *kept, uint64_t seed, const char *replay,
                        const char *note, const char *json, json_t *doc)
{
    fprintf(stderr, "causeway stress: %s (seed %llu%s%s)\n", failure, (unsigned long long)seed, kept ? "; " : "",
            kept ? kept : "");
    if (why == CLI_STOP_NO_MEMORY) {
        printf("  verdict              NONE: the run stopped before its check, for this machine's memory or limits\n"
               "                       (or a program it could not run), not for anything the nodes did\n");
        print_violation("stopped", failure, replay, note);
    } else {
        printf("  verdict              FAIL: the run stopped before its check\n");
        print_violation("violation", failure, replay, note);
    }
    if (json && (!doc || json_dump_file(doc, json, JSON_INDENT(2)) != 0))
        fprintf(stderr, "causeway stress: cannot write %s%s\n", json, doc ? "" : ": out of memory");
    json_decref(doc);
}

void cli_default_history(char *out, size_t cap, uint64_t seed)
{
    snprintf(out, cap, "causeway-stress-%llu.history", (unsigned long long)seed);
}

void cli_write_history(const char *path, uint64_t seed, const cw_history *h)
{
    char name[64];
    if (!path) {
        cli_default_history(name, sizeof name, seed);
        path = name;
    }
    errno = 0;
    FILE *f = fopen(path, "w");
    bool written = f && cw_history_write(h, f) == CW_OK && !ferror(f);
    int err = errno; /* set by the call that failed, fopen's or a write's */
    if (f && fclose(f) != 0 && written) {
        written = false;
        err = errno;
    }
    if (written)
        printf("  history              %s (what was checked; format: docs/formats.md)\n", path);
    else
        printf("  history              not written: %s: %s\n", path, strerror(err ? err : EIO));
}
