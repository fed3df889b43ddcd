/* causeway check TRACE...: judges any system's replicas from their traces
 * (docs/traces.md) with the ground-truth history, through trace_check.c,
 * and adds what only a trace-only check needs: convergence at the traces'
 * end and the precision and recall of the clocks' concurrency verdicts.
 *
 * Invariants:
 *  1. Exit 0: no violation; 1: a violation, the first one printed with its
 *     rule and, where it has one, its trace's file and line; 2: bad usage,
 *     or a trace that cannot be read or is malformed (FILE:LINE and why);
 *     3: no verdict could be given, or a pass could not be written (out
 *     of memory, --json or the report not written), so that 1 always
 *     means a violation, and a violation is 1 even when its --json could
 *     not be written (as in sim and stress).
 *  2. The first violation is the first found in this order: while the
 *     traces are replayed (each node in its own order, every write before
 *     its applications), then lost writes, then divergent final reads, then
 *     the history's verdict (reads judged against what their node had
 *     applied).
 *  3. Precision and recall compare each same-key pair's verdict by the
 *     traced clocks with the true happens-before (the true pasts). A pair
 *     can differ only when one of its writes has a clock other than its
 *     true past, so only those writes' pairs are compared: O(bad writes x
 *     writes to their key x nodes).
 *  4. --policy lww changes only how reads are judged, by the history itself
 *     (cli_trace_history: an untimed LWW history): one maximal version, or
 *     nothing when one is a delete. Divergence is the same rule: final
 *     reads of one version each must name the same one.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"
#include "trace_check.h"

typedef struct pairs {
    uint64_t wrong_writes;       /* writes whose clock is not their true past */
    uint64_t false_concurrent;   /* pairs the clocks call concurrent, truly ordered */
    uint64_t missed_concurrent;  /* pairs truly concurrent the clocks order */
    bool measured;               /* false: over PAIR_BUDGET pairs to compare */
    double precision, recall;
} pairs;

/* The most pairs count_pairs compares. Each wrong clock is compared with
 * every write to its key, so a trace whose writes to one key nearly all
 * carry wrong clocks costs the square of them (80,000 such lines: 40 s);
 * past this, precision and recall are said not measured (under a second of
 * comparisons here). The verdict does not depend on them. */
#define PAIR_BUDGET UINT64_C(10000000)

/* a <= b in every entry */
static bool leq(const uint64_t *a, const uint64_t *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (a[k] > b[k])
            return false;
    return true;
}

static bool concurrent(const uint64_t *a, const uint64_t *b, uint32_t n) { return !leq(a, b, n) && !leq(b, a, n); }

static const uint64_t *true_past(const cli_trace_event *e) { return e->past ? e->past : e->clock; }

/* Invariant 3; true_pairs: the history's truly concurrent pairs. */
static void count_pairs(const cli_trace_judge *J, uint64_t true_pairs, pairs *p)
{
    cli_trace_event **w = J->by_key;
    uint64_t budget = PAIR_BUDGET;
    p->measured = true;
    for (size_t lo = 0, hi; lo < J->nwrites; lo = hi) {
        for (hi = lo + 1; hi < J->nwrites && cli_trace_same_key(w[hi], w[lo]);)
            hi++;
        for (size_t i = lo; i < hi; i++) {
            if (!w[i]->past)
                continue;
            p->wrong_writes++;
            if (!p->measured || hi - lo > budget) {
                p->measured = false; /* wrong_writes goes on counting */
                continue;
            }
            budget -= hi - lo;
            for (size_t j = lo; j < hi; j++) {
                if (j == i || (w[j]->past && j < i)) /* a pair of two wrong ones: counted once */
                    continue;
                bool truth = concurrent(true_past(w[i]), true_past(w[j]), J->hn);
                bool said = concurrent(w[i]->clock, w[j]->clock, J->hn);
                p->false_concurrent += said && !truth;
                p->missed_concurrent += truth && !said;
            }
        }
    }
    uint64_t found = true_pairs >= p->missed_concurrent ? true_pairs - p->missed_concurrent : 0;
    p->precision = found + p->false_concurrent ? (double)found / (double)(found + p->false_concurrent) : 1.0;
    p->recall = true_pairs ? (double)found / (double)true_pairs : 1.0;
}

/* Whether history node x ran to the end (a killed incarnation did not). */
static bool ran_to_end(const cli_trace_judge *J, uint32_t x) { return cli_trace_next(J, x) == UINT32_MAX; }

/* The last event of node x's trace that is not a read, or NULL. */
static const cli_trace_event *last_change(const cli_trace_judge *J, uint32_t x, size_t *after)
{
    const cli_trace_list *l = &J->ev[x];
    size_t i = l->n;
    while (i > 0 && (l->ev[i - 1].kind == CLI_EV_READ || l->ev[i - 1].kind == CLI_EV_SKIP))
        i--;
    *after = i;
    return i ? &l->ev[i - 1] : NULL;
}

/* Lost writes: every node that ran to the end applied (or made) every
 * write; the first one missing, named where the node's trace ends. */
static void check_lost(cli_trace_judge *J)
{
    uint64_t made[CLI_TRACE_HMAX];
    for (uint32_t k = 0; k < J->hn; k++)
        made[k] = cli_trace_known(J, k);
    for (uint32_t x = 0; x < J->hn && !J->first.rule; x++) {
        uint64_t have[CLI_TRACE_HMAX];
        cw_history_applied_counts(J->h, x, have);
        const cli_trace_list *l = &J->ev[x];
        const cli_trace_event *end = l->n ? &l->ev[l->n - 1] : NULL;
        for (uint32_t k = 0; k < J->hn && ran_to_end(J, x); k++)
            if (have[k] < made[k]) {
                const cli_trace_event *w = J->wev[k][have[k] + 1];
                cli_trace_violate(J, end, "lost write",
                                  "node %u's trace ends without write (%u, %llu) (written at %s:%llu): "
                                  "it applied %llu of node %u's %llu writes",
                                  x, k, (unsigned long long)(have[k] + 1), w ? J->files[w->file] : "?",
                                  (unsigned long long)(w ? w->line : 0), (unsigned long long)have[k], k,
                                  (unsigned long long)made[k]);
                break;
            }
    }
}

static int by_dot(const void *a, const void *b)
{
    const cw_history_dot *p = a, *q = b;
    if (p->origin != q->origin)
        return p->origin < q->origin ? -1 : 1;
    return (p->seq > q->seq) - (p->seq < q->seq);
}

/* Whether two reads returned the same versions, in any order: 1 or 0, or
 * CW_ENOMEM. Sorted copies, so that a trace's long reads (a line holds up
 * to ~100,000 dots) cost O(n log n), not O(n^2). */
static int same_dots(const cli_trace_event *a, const cli_trace_event *b)
{
    size_t n = a->ndots;
    if (n != b->ndots)
        return 0;
    if (n == 0)
        return 1;
    cw_history_dot *s = malloc(2 * n * sizeof *s);
    if (!s)
        return CW_ENOMEM;
    memcpy(s, a->dots, n * sizeof *s);
    memcpy(s + n, b->dots, n * sizeof *s);
    qsort(s, n, sizeof *s, by_dot);
    qsort(s + n, n, sizeof *s, by_dot);
    int same = 1;
    for (size_t i = 0; i < n && same; i++)
        same = s[i].origin == s[n + i].origin && s[i].seq == s[n + i].seq;
    free(s);
    return same;
}

/* Divergence: the reads that end the traces (after a node's last write,
 * apply or install), of one key at different nodes, returned the same
 * versions. *finals gets how many keys were compared. CW_ENOMEM. */
static int check_finals(cli_trace_judge *J, uint64_t *finals)
{
    size_t count = 0, at = 0;
    for (uint32_t x = 0; x < J->hn; x++) {
        size_t after;
        last_change(J, x, &after);
        count += ran_to_end(J, x) ? J->ev[x].n - after : 0;
    }
    const cli_trace_event **r = malloc((count ? count : 1) * sizeof *r);
    if (!r)
        return CW_ENOMEM;
    for (uint32_t x = 0; x < J->hn; x++) {
        size_t after;
        last_change(J, x, &after);
        for (size_t i = after; ran_to_end(J, x) && i < J->ev[x].n; i++)
            if (J->ev[x].ev[i].kind == CLI_EV_READ)
                r[at++] = &J->ev[x].ev[i];
    }
    qsort(r, at, sizeof *r, cli_trace_by_key);
    for (size_t lo = 0, hi; lo < at; lo = hi) {
        for (hi = lo + 1; hi < at && cli_trace_same_key(r[hi], r[lo]);)
            hi++;
        const cli_trace_event *ref = NULL;
        bool compared = false;
        for (size_t i = lo; i < hi; i++) {
            if (i + 1 < hi && r[i + 1]->node == r[i]->node) /* a node's last read of the key */
                continue;
            int same = ref ? same_dots(ref, r[i]) : 1;
            if (same < 0) {
                free(r);
                return same;
            }
            char key[CLI_TRACE_KEY_SHOWN + 48];
            if (!same)
                cli_trace_violate(J, r[i], "divergence",
                                  "nodes %u and %u end with different versions of %s: %zu at %s:%llu, %zu here",
                                  ref->node, r[i]->node, cli_trace_key(r[i], key, sizeof key), ref->ndots,
                                  J->files[ref->file], (unsigned long long)ref->line, r[i]->ndots);
            compared |= ref != NULL;
            ref = ref ? ref : r[i];
        }
        *finals += compared;
    }
    free(r);
    return CW_OK;
}

/* Every history node's final clock: what it applied (its keys: only its
 * final reads tell them, judged as reads). */
static int final_clocks(cli_trace_judge *J)
{
    for (uint32_t x = 0; x < J->hn; x++) {
        uint64_t have[CLI_TRACE_HMAX];
        cw_history_applied_counts(J->h, x, have);
        int rc = cw_history_final_clock_only(J->h, (cw_node_id)x, have);
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

typedef struct tally {
    uint64_t writes, applies, reads, installs, deletes, contexts;
} tally;

static tally count_events(const cli_trace_judge *J)
{
    tally t = {0};
    for (uint32_t x = 0; x < J->hn; x++)
        for (size_t i = 0; i < J->ev[x].n; i++) {
            const cli_trace_event *e = &J->ev[x].ev[i];
            t.writes += e->kind == CLI_EV_WRITE;
            t.deletes += e->kind == CLI_EV_WRITE && e->del;
            t.contexts += e->kind == CLI_EV_WRITE && e->context;
            t.applies += e->kind == CLI_EV_APPLY;
            t.reads += e->kind == CLI_EV_READ;
            t.installs += e->kind == CLI_EV_INSTALL;
        }
    return t;
}

static const char *where(const cli_trace_judge *J, char *buf, size_t cap)
{
    const cli_trace_fault *f = &J->first;
    if (f->line)
        snprintf(buf, cap, "%s:%llu: node %u: ", J->files[f->file], (unsigned long long)f->line, f->node);
    else
        buf[0] = 0;
    return buf;
}

static int write_json(const char *path, const cli_trace_judge *J, const cw_history_report *rep, const tally *t,
                      const pairs *p, uint64_t finals, bool ok)
{
    const cli_trace_fault *f = &J->first;
    json_t *root = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:I}",
                             "verdict", ok ? "pass" : "fail", "nodes", (json_int_t)J->n, "trace_lines",
                             (json_int_t)J->trace_lines, "writes", (json_int_t)t->writes, "applies",
                             (json_int_t)t->applies, "reads", (json_int_t)t->reads, "reads_checked",
                             (json_int_t)rep->reads, "joining_reads", (json_int_t)J->joining_reads, "keys",
                             (json_int_t)rep->keys,
                             "concurrent_pairs", (json_int_t)rep->concurrent_pairs, "ordered_pairs",
                             (json_int_t)rep->ordered_pairs, "wrong_clocks", (json_int_t)p->wrong_writes,
                             "precision", p->precision, "recall", p->recall, "false_concurrent",
                             (json_int_t)p->false_concurrent, "missed_concurrent", (json_int_t)p->missed_concurrent,
                             "final_keys_compared", (json_int_t)finals, "lost_with_process", (json_int_t)J->lost,
                             "restarts", (json_int_t)J->restarts);
    if (root)
        json_object_set_new(root, "policy", json_string(J->lww ? "lww" : "siblings"));
    if (root && !p->measured) { /* not measured: null, not a number */
        json_object_set_new(root, "precision", json_null());
        json_object_set_new(root, "recall", json_null());
        json_object_set_new(root, "false_concurrent", json_null());
        json_object_set_new(root, "missed_concurrent", json_null());
    }
    if (root && f->rule) {
        json_object_set_new(root, "rule", json_string(f->rule));
        json_object_set_new(root, "violation", json_string(f->text));
        if (f->line) {
            char *file = strdup(J->files[f->file]);
            if (file)
                cli_printable(file); /* a path is bytes: JSON takes only valid UTF-8 */
            json_object_set_new(root, "file", file ? json_string(file) : NULL);
            free(file);
            json_object_set_new(root, "line", json_integer((json_int_t)f->line));
            json_object_set_new(root, "node", json_integer((json_int_t)f->node));
        }
    }
    if (!root)
        return CW_ENOMEM;
    int rc = json_dump_file(root, path, JSON_INDENT(2)) == 0 ? CW_OK : CW_EIO;
    json_decref(root);
    return rc;
}

/* The history's verdict's first violation, located when it is a read's. */
static void verdict_violation(cli_trace_judge *J)
{
    const char *v = cw_history_violation(J->h);
    size_t r = cw_history_violation_read(J->h);
    if (!v || J->first.rule)
        return;
    if (r < J->nreads)
        cli_trace_violate(J, J->reads[r], cli_trace_read_rule(J), "%s", v);
    else
        cli_trace_violate(J, NULL, "final state", "%s", v);
}

static void print(const cli_trace_judge *J, const cw_history_report *rep, const tally *t, const pairs *p,
                  uint64_t finals, bool ok)
{
    printf("  writes               %llu (%llu keys; %llu deletes, %llu with a context of their own)\n",
           (unsigned long long)t->writes, (unsigned long long)rep->keys, (unsigned long long)t->deletes,
           (unsigned long long)t->contexts);
    printf("  applies              %llu (and %llu installs)\n", (unsigned long long)t->applies,
           (unsigned long long)t->installs);
    printf("  reads                %llu checked (%llu while joining, not judged)\n",
           (unsigned long long)rep->reads, (unsigned long long)J->joining_reads);
    printf("  concurrent pairs     %llu of %llu same-key pairs (ground truth)\n",
           (unsigned long long)rep->concurrent_pairs,
           (unsigned long long)(rep->concurrent_pairs + rep->ordered_pairs));
    if (p->measured)
        printf("  concurrency          precision %.4f, recall %.4f (the clocks' verdicts: %llu pairs called "
               "concurrent that are ordered, %llu concurrent pairs missed; %llu clocks not their causal past)\n",
               p->precision, p->recall, (unsigned long long)p->false_concurrent,
               (unsigned long long)p->missed_concurrent, (unsigned long long)p->wrong_writes);
    else
        printf("  concurrency          precision and recall not measured: %llu clocks not their causal past, "
               "over %llu pairs to compare\n",
               (unsigned long long)p->wrong_writes, (unsigned long long)PAIR_BUDGET);
    printf("  convergence          every write applied once at each of %u nodes%s; %llu keys' final reads "
           "compared\n", J->n, ok ? "" : " (unless a violation says otherwise)", (unsigned long long)finals);
    for (uint32_t j = 0; j < J->restarts; j++)
        printf("  restart              node %u restarted: history node %u is its new incarnation (it installed "
               "node %u's writes up to %llu)\n",
               J->inc_node[j], J->n + j, J->inc_node[j], (unsigned long long)J->inc_bound[j]);
    if (J->restarts)
        printf("  lost with processes  %llu writes reached no node that ran on; %llu of their dots written again%s\n",
               (unsigned long long)J->lost, (unsigned long long)J->reused,
               J->truncated ? "; a last line cut by a crash, dropped" : "");
    printf("  verdict              %s: causal order, exact concurrency, %s, convergence, no loss or "
           "double application%s\n", ok ? "PASS" : "FAIL: the violation below (checked",
           J->lww ? "reads (last-writer-wins: one maximal version)" : "read siblings", ok ? "" : ")");
    if (!ok) {
        char at[600];
        printf("  violation            [%s] %s%s\n", J->first.rule ? J->first.rule : "unknown",
               where(J, at, sizeof at), J->first.text);
    }
}

/* Reads and judges the traces: CLI_OK, CLI_FAIL (a violation), CLI_USAGE
 * (err), or CLI_ERROR. */
/* Whether two of the files are one (the same device and inode, whatever
 * their names): its lines would read as a second node's, or as a restart.
 * A file that cannot be looked at is left to the reader to name. */
static bool given_twice(char **files, int count)
{
    struct stat seen[CLI_TRACE_MAX_FILES];
    bool known[CLI_TRACE_MAX_FILES];
    for (int i = 0; i < count && i < (int)CLI_TRACE_MAX_FILES; i++) {
        known[i] = stat(files[i], &seen[i]) == 0;
        for (int j = 0; known[i] && j < i; j++)
            if (known[j] && seen[j].st_dev == seen[i].st_dev && seen[j].st_ino == seen[i].st_ino) {
                fprintf(stderr, "causeway check: %s and %s are one file: give each trace once\n", files[j],
                        files[i]);
                return true;
            }
    }
    return false;
}

/* The trace that --json names (the same device and inode), or NULL: the
 * verdict would be written over a trace it was read from. */
static const char *json_is_trace(const char *json, char **files, int count)
{
    struct stat out, in;
    if (stat(json, &out) != 0)
        return NULL;
    for (int i = 0; i < count; i++)
        if (stat(files[i], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
            return files[i];
    return NULL;
}

static int judge(cli_trace_judge *J, char **files, int count, const char *json)
{
    char err[512] = "";
    int rc = CW_OK;
    if (given_twice(files, count))
        return CLI_USAGE;
    for (int i = 0; i < count && rc == CW_OK; i++)
        rc = cli_trace_read(J, files[i], -1, -1, false, err, sizeof err);
    if (rc == CW_OK)
        rc = cli_trace_nodes(J, err, sizeof err);
    if (rc != CW_OK) {
        fprintf(stderr, "causeway check: %s\n", err);
        return rc == CW_ENOMEM ? CLI_ERROR : CLI_USAGE;
    }
    printf("causeway check: %d trace file%s, %u nodes, %llu lines\n", count, count == 1 ? "" : "s", J->n,
           (unsigned long long)J->trace_lines);
    rc = cli_trace_split(J);
    if (rc == CW_OK)
        rc = cli_trace_history(J);
    if (rc == CW_OK)
        rc = cli_trace_table(J, true);
    uint64_t finals = 0;
    if (rc == CW_OK) {
        cli_trace_replay(J);
        check_lost(J);
        rc = check_finals(J, &finals);
    }
    if (rc == CW_OK)
        rc = final_clocks(J);
    if (rc != CW_OK) {
        fprintf(stderr, "causeway check: %s\n", cw_strerror(rc));
        return CLI_ERROR;
    }
    cw_history_report rep;
    cw_history_verdict(J->h, &rep);
    if (!J->first.rule && cw_history_out_of_memory(J->h)) { /* no verdict: the history could not judge them */
        fprintf(stderr, "causeway check: %s\n", cw_history_violation(J->h));
        return CLI_ERROR;
    }
    verdict_violation(J);
    pairs p = {0};
    count_pairs(J, rep.concurrent_pairs, &p);
    tally t = count_events(J);
    bool ok = !J->first.rule;
    print(J, &rep, &t, &p, finals, ok);
    if (json && write_json(json, J, &rep, &t, &p, finals, ok) != CW_OK) {
        fprintf(stderr, "causeway check: cannot write %s\n", json);
        return ok ? CLI_ERROR : CLI_FAIL; /* a violation stays 1, as in sim and stress */
    }
    return ok ? CLI_OK : CLI_FAIL;
}

int cli_check(int argc, char **argv)
{
    const char *json = NULL;
    int policy = 0;
    cli_opt opts[] = {
        {CLI_OPT_TEXT("json", &json, "FILE", "the verdict and the counts as JSON"), .output = true},
        {CLI_OPT_CHOICE("policy", &policy, "NAME",
                        "the nodes' conflict policy: siblings (reads return every maximal version) or lww (one)",
                        "siblings|lww")},
    };
    cli_command c = {"check", "TRACE.jsonl...",
                     "judge replicas from their traces: causal order, exact concurrency (precision and recall), "
                     "read siblings (--policy lww: one maximal version), convergence, no loss",
                     "Each TRACE is JSON Lines, one event a line (docs/traces.md): write, apply, read and\n"
                     "install events, each naming its node; a node's events are taken in the order given\n"
                     "(files in argument order, lines in file order). Exit 0: every check holds; 1: a\n"
                     "violation, the first printed with its rule, file and line; 2: bad usage, or a trace\n"
                     "that cannot be read or is malformed (FILE:LINE); 3: no verdict could be given, or\n"
                     "a pass could not be written (out of memory, --json not written; a violation\n"
                     "stays 1). --policy lww: a read returns one of the maximal versions, or nothing\n"
                     "when one is a delete (which one wins is not checked: traces carry no\n"
                     "timestamps).\n",
                     opts, sizeof opts / sizeof *opts, 1, -1};
    int first = 0;
    int rc = cli_parse(&c, argc, argv, &first);
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    const char *trace = json ? json_is_trace(json, argv + first, argc - first) : NULL;
    char q[96];
    if (trace)
        return cli_usage_error(&c, "--json %s is the trace %s: the verdict would be written over it",
                               cli_quote(json, q, sizeof q), trace);
    if (json && ((rc = cli_check_json(&c, json)) != CLI_OK || (rc = cli_empty_json(&c, json)) != CLI_OK))
        return rc;
    static cli_trace_judge J; /* large (per-node tables); one check per process */
    memset(&J, 0, sizeof J);
    cli_trace_init(&J, 0);
    J.lww = policy == 1;
    int status = judge(&J, argv + first, argc - first, json);
    cli_trace_free(&J);
    return status;
}
