/* causeway stress: concurrent client threads write through the engine under
 * the given faults while the run's true happens-before is recorded; then every
 * check of causeway/verify.h is made. Exit status 1 on any violation, with the seed. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "histogram.h"
#include "opts.h"
#include "physmem.h"
#include "procs.h"
#include "progress.h"
#include "report.h"
#include "workload.h"

enum { PART_CUT, PART_HOLD }; /* --partition-kind, in the order of its choices */

/* How long, after quiescence, the run waits for every retransmission log to
 * drain (settle). */
#define SETTLE_S 5.0

typedef struct opts {
    uint32_t nodes, workers, keys, clients;
    uint64_t writes, seed;       /* writes: in all, or at most with --duration */
    bool writes_given;           /* --writes given (else a --duration run's default bound) */
    uint32_t value_size;         /* 0: the write's tag alone */
    int key_dist;                /* 0 uniform, 1 zipfian */
    double zipf_theta, duration; /* duration 0: until --writes are made */
    double reads;                /* the fraction of operations that are reads */
    double rmw, deletes;         /* the fractions of writes that read first (context), that delete */
    bool sessions;               /* clients wait_for what they have seen before each operation */
    double rate, warmup;         /* rate 0: closed loop */
    double part_start, part_len; /* --partition START:LEN; part_len 0: none */
    const char *partition;
    int part_kind;               /* --partition-kind: PART_CUT or PART_HOLD */
    double delay, dup, drop;
    uint32_t max_delay_us;
    cw_conflict_policy policy;
    bool sequential, sabotage, sabotage_context, keep_traces, data;
    const char *json, *history;
    char *replay;            /* the command line that replays the run (malloc'd) */
    uint32_t processes;      /* --processes: node processes (procs.c), 0: in-process */
    const char *stop, *kill; /* --processes: --stop I:A:B, --kill I:A */
    double converge_within;  /* --processes: seconds the nodes may take to agree after the clients */
} opts;

/* Applications at one node, for the progress line: written by that node's
 * worker only and read by the main thread, so a relaxed load and store
 * suffice (the count orders nothing); a cache line each, so that workers
 * do not write to one line. */
typedef struct applied_count {
    _Alignas(64) _Atomic uint64_t n;
} applied_count;

typedef struct run {
    const opts *o;
    cw_engine *e;
    cw_history *h;
    applied_count *applied;  /* [node] */
    cli_keys keys;
    double start;            /* when the clients begin (cli_seconds) */
    double end;              /* --duration: when clients stop (cli_seconds), else 0 */
    cw__histogram latency;   /* operations after --warmup, merged from the clients at the end */
    uint64_t measured;       /* operations in latency */
    double last_op;          /* when the last client finished */
    cli_progress progress;
    uint64_t max_log;        /* the most log entries seen at one node (sample_logs, collect) */
    uint32_t next_sample;    /* the node sample_logs looks at next */
    double settled;          /* seconds from quiescence until every log drained, or -1: not in SETTLE_S */
    bool parted;             /* --partition: its window began before the writes ended (false without one) */
    bool sabotaged;          /* --sabotage-history: the application left out (node N-1's thread) */
    _Atomic uint64_t done;       /* writes made */
    _Atomic uint64_t reads;      /* reads made (and recorded) */
    _Atomic uint32_t running;    /* client threads not yet finished */
    _Atomic int failed;       /* 0, or the first error a client's operation met */
    char why[160];            /* what stopped the run, when its error code alone does not say */
} run;

typedef struct client {
    run *r;
    uint32_t id;
    uint64_t writes;         /* this client's share (at most, with --duration) */
    char *value;             /* --value-size bytes, or NULL: the tag alone */
    uint64_t *before, *after; /* --reads, --rmw, --deletes: nodes counters each, or NULL */
    cw__histogram *latency;  /* this client's operations after --warmup */
    double done_at;          /* when it finished */
    cw_vclock seen;          /* --sessions: its writes' clocks and its reads' contexts, merged */
    cw_history_dot *dots;    /* what its last read returned, as dots */
    size_t dots_cap;
} client;

/* How long a session's client waits for a node to catch up (a cut
 * partition's window on top of it: see stress()). */
static uint32_t session_wait_ms(const opts *o)
{
    double ms = 60000 + o->part_len * 1000;
    return ms < UINT32_MAX ? (uint32_t)ms : UINT32_MAX;
}

static void on_apply(void *ctx, cw_node_id node, const cw_msg *m)
{
    run *r = ctx;
    if (r->o->sabotage && node == r->o->nodes - 1 && !r->sabotaged)
        r->sabotaged = true; /* the checker must notice */
    else
        cw_history_applied(r->h, node, m);
    _Atomic uint64_t *n = &r->applied[node].n;
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1, memory_order_relaxed);
}

static uint64_t applications(const run *r)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < r->o->nodes; i++)
        sum += atomic_load_explicit(&r->applied[i].n, memory_order_relaxed);
    return sum;
}

static void client_free(client *c)
{
    cw_vclock_destroy(&c->seen);
    free(c->dots);
    free(c->latency);
    free(c->value);
    free(c->before);
    free(c->after);
}

/* Client id with its share of the writes and its buffers; false when out of
 * memory (nothing to free then). */
static bool client_init(client *c, run *r, uint32_t id, uint64_t writes)
{
    const opts *o = r->o;
    *c = (client){r, id, writes, NULL, NULL, NULL, calloc(1, sizeof *c->latency), 0, {0}, NULL, 0};
    cw_vclock_init(&c->seen);
    bool ok = c->latency != NULL;
    if (ok && o->value_size && (ok = (c->value = malloc(o->value_size)) != NULL))
        memset(c->value, 'x', o->value_size);
    if (ok && (o->reads > 0 || o->rmw > 0 || o->deletes > 0)) {
        c->before = malloc(o->nodes * sizeof *c->before);
        c->after = malloc(o->nodes * sizeof *c->after);
        ok = c->before && c->after;
    }
    if (!ok) {
        client_free(c);
        *c = (client){0};
    }
    return ok;
}

/* The client's id for the history: its own with --sessions (its
 * operations are then checked for the session guarantees), else none. */
static uint32_t client_of(const client *c)
{
    return c->r->o->sessions ? c->id : CW_HISTORY_NO_CLIENT;
}

/* --sessions: waits until node `at` has applied what client c has seen. */
static int session_wait(client *c, cw_node_id at)
{
    return c->r->o->sessions ? cw_engine_wait_for(c->r->e, at, &c->seen, session_wait_ms(c->r->o)) : CW_OK;
}

/* Client c reads key at node `at`, recorded with what the node had applied
 * just before and just after it, for the verdict (cw_history_client_read);
 * *got keeps what it returned, c->dots its versions as dots. */
static int read_at(client *c, cw_node_id at, const char *key, cw_read *got)
{
    run *r = c->r;
    cw_history_applied_counts(r->h, at, c->before);
    int rc = cw_engine_get(r->e, at, key, strlen(key), got);
    cw_history_applied_counts(r->h, at, c->after);
    if (rc == CW_ENOTFOUND) /* found nothing: a read too, and checked */
        rc = CW_OK;
    if (rc == CW_OK && got->count > c->dots_cap) {
        cw_history_dot *grown = realloc(c->dots, got->count * sizeof *grown);
        if (!grown)
            rc = CW_ENOMEM;
        else
            c->dots = grown, c->dots_cap = got->count;
    }
    for (size_t v = 0; rc == CW_OK && v < got->count; v++)
        c->dots[v] = (cw_history_dot){got->versions[v].origin, got->versions[v].seq};
    if (rc == CW_OK)
        rc = cw_history_client_read(r->h, client_of(c), at, key, strlen(key), c->before, c->after, got);
    if (rc == CW_OK && r->o->sessions)
        rc = cw_vclock_merge(&c->seen, &got->context);
    atomic_fetch_add(&r->reads, 1);
    return rc;
}

/* A uniform draw in [0, 1) from the client's generator. */
static double draw(uint64_t *rng)
{
    *rng = *rng * 6364136223846793005u + 1442695040888963407u;
    return (double)(*rng >> 11) * 0x1p-53;
}

/* Client c's write i: a seeded node and key; the value is the write's tag,
 * "w<i>@<node>", padded to --value-size (or cut to it). With --rmw it reads
 * the key at that node first and writes with the read's context; with
 * --deletes it may delete instead (with the context after a read); with
 * --sessions it waits for the node to apply what the client has seen. Such
 * writes are told to the history (cw_history_wrote). */
static int put_one(client *c, uint64_t *rng, uint64_t i)
{
    run *r = c->r;
    const opts *o = r->o;
    *rng = *rng * 6364136223846793005u + 1442695040888963407u;
    cw_node_id at = (cw_node_id)((*rng >> 33) % r->o->nodes);
    char key[24], tag[48];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)cli_keys_next(&r->keys, *rng));
    int len = snprintf(tag, sizeof tag, "w%llu@%u", (unsigned long long)i, at);
    const char *value = tag;
    size_t value_len = (size_t)len;
    if (c->value) {
        memcpy(c->value, tag, value_len < r->o->value_size ? value_len : r->o->value_size);
        value = c->value;
        value_len = r->o->value_size;
    }
    bool rmw = o->rmw > 0 && draw(rng) < o->rmw, del = o->deletes > 0 && draw(rng) < o->deletes;
    if (!rmw && !del && !o->sessions) { /* a plain put, as ever */
        int rc = cw_engine_put(r->e, at, key, strlen(key), value, value_len, NULL);
        atomic_fetch_add(&r->done, 1);
        return rc;
    }
    cw_read got;
    cw_read_init(&got);
    cw_vclock clock;
    cw_vclock_init(&clock);
    int rc = session_wait(c, at);
    if (rc == CW_OK && rmw)
        rc = read_at(c, at, key, &got);
    const cw_vclock *ctx = rmw ? &got.context : NULL;
    if (rc == CW_OK)
        rc = del ? cw_engine_delete(r->e, at, key, strlen(key), ctx, &clock)
                 : cw_engine_put_ctx(r->e, at, key, strlen(key), value, value_len, ctx, &clock);
    if (rc == CW_OK) {
        cw_history_write_info w = {client_of(c), del, rmw, c->dots, rmw ? got.count : 0};
        /* The checker must notice: what the context removed, the client
         * never saw. Every such write of one client lies, not just one: a
         * version one lie hides may also be read and replaced by an honest
         * client meanwhile, which explains its end. */
        if (o->sabotage_context && rmw && got.count && c->id == 0)
            w.read_count = 0;
        rc = cw_history_wrote(r->h, at, cw_vclock_get(&clock, at), &w);
    }
    if (rc == CW_OK && o->sessions)
        rc = cw_vclock_merge(&c->seen, &clock);
    cw_vclock_destroy(&clock);
    cw_read_destroy(&got);
    atomic_fetch_add(&r->done, 1);
    return rc;
}

/* A seeded read at a random node (after --sessions' wait), recorded for
 * the verdict. */
static int read_one(client *c, uint64_t *rng)
{
    run *r = c->r;
    *rng = *rng * 6364136223846793005u + 1442695040888963407u;
    cw_node_id at = (cw_node_id)((*rng >> 33) % r->o->nodes);
    char key[24];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)cli_keys_next(&r->keys, *rng));
    cw_read got;
    cw_read_init(&got);
    int rc = session_wait(c, at);
    if (rc == CW_OK)
        rc = read_at(c, at, key, &got);
    cw_read_destroy(&got);
    return rc;
}

/* One operation of client c: a read (--reads of them), or its write *i. */
static int step(client *c, uint64_t *rng, uint64_t *i)
{
    if (c->r->o->reads > 0) {
        *rng = *rng * 6364136223846793005u + 1442695040888963407u;
        if ((double)(*rng >> 11) * 0x1p-53 < c->r->o->reads)
            return read_one(c, rng);
    }
    return put_one(c, rng, (*i)++);
}

/* --duration is over at time now (cli_seconds). */
static bool time_up(const run *r, double now)
{
    return r->end > 0 && now >= r->end;
}

/* Sleeps until cli_seconds() reaches t (at once if it has). */
static void wait_until(double t)
{
    double left = t - cli_seconds();
    if (left > 0) {
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* Closed loop: each operation starts when the last one ends. Open loop
 * (--rate): client c's k-th operation is due at start + (k + c / C) * C / rate
 * and its latency counts from then, not from when it began, so that a stall
 * is charged to every operation it delays (no coordinated omission); a late
 * client does not skip operations to catch up, it runs them at once. */
static void *client_main(void *arg)
{
    client *c = arg;
    run *r = c->r;
    const opts *o = r->o;
    uint64_t rng = o->seed ^ (0x9e3779b97f4a7c15u * (c->id + 1));
    double interval = o->rate > 0 ? o->clients / o->rate : 0, due = r->start + interval * c->id / o->clients;
    double warm = r->start + o->warmup;
    for (uint64_t i = 0; i < c->writes && !atomic_load(&r->failed);) {
        double began = cli_seconds();
        /* None due after the end, and none begun after it by a client behind schedule. */
        if (time_up(r, interval > 0 && due > began ? due : began)) {
            wait_until(r->end);
            break;
        }
        if (interval > 0) {
            wait_until(due);
            began = due;
            due += interval;
        }
        int rc = step(c, &rng, &i);
        if (rc != CW_OK) { /* the first client's error is the run's */
            int none = 0;
            if (atomic_compare_exchange_strong(&r->failed, &none, rc)) /* read after the join */
                snprintf(r->why, sizeof r->why, "an operation of client %u failed: %s", c->id + 1, cw_strerror(rc));
            break;
        }
        if (began >= warm)
            cw__hist_add(c->latency, (uint64_t)((cli_seconds() - began) * 1e9));
    }
    c->done_at = cli_seconds();
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

static const char stress_details[] =
    "Client threads write through the engine under the given faults while the run's\n"
    "true happens-before is recorded; then causal order at every replica, exact\n"
    "concurrency (every write's clock is its true causal past), the versions every\n"
    "key holds, convergence, and no loss or double application are checked.\n"
    "With --reads, every read too: each version it returned is a write to that key\n"
    "that its node had applied by the read's end; none is causally before a write to\n"
    "the key that the node had applied before the read began; and a read that found\n"
    "nothing came before the node applied any write to the key.\n"
    "Contexts, deletes and sessions (--rmw, --deletes, --sessions): each client tells\n"
    "the history the versions its read returned; a write supersedes what its client\n"
    "read (plain writes: what their node had applied). Every key ends with exactly\n"
    "the writes no write superseded (no lost update, no resurrected delete, never\n"
    "more siblings than truly concurrent writes), and with --sessions every client\n"
    "operation keeps read-your-writes, monotonic reads, monotonic writes and\n"
    "writes-follow-reads.\n"
    "Loss: with --drop, or a cut partition (--partition-kind cut, the default),\n"
    "messages are lost and the replicas recover them (pulls, retransmissions); the\n"
    "report gives the totals over nodes, the largest retransmission log seen, how\n"
    "long after quiescence every log drained (waited for up to 5 s), and any node\n"
    "whose stability round still waits for a peer.\n"
    "On a violation the command that replays the run is printed (the same workload\n"
    "and faults; thread interleavings vary: 'causeway sim' replays those too), and\n"
    "the history checked is written to a file (docs/formats.md).\n"
    "Exit status: 0 pass; 1 a violation, or a run stopped before its check by what it\n"
    "tests (a stall, nodes that did not agree in time: what stopped it is named); 2 a\n"
    "bad option; 3 no verdict: an in-process run refused or starved for this machine's\n"
    "memory (or threads), a run whose own records or check ran out of memory (with\n"
    "--processes too), a --processes run stopped by this process's limits (open files,\n"
    "threads), or a pass whose report or --json could not be written. A --json file is\n"
    "made empty first: an empty one is a run that gave no verdict (docs/json.md).\n";

/* Parses the options into o; CLI_OK, CLI_HELP or CLI_USAGE. */
static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.keys = 8, .clients = 4, .max_delay_us = 200, .zipf_theta = 0.99, .seed = (uint64_t)time(NULL),
                .converge_within = 30};
    int policy = 0;
    const char *json = NULL;
    cli_opt t[] = {
        {CLI_OPT_UINT32("nodes", &o->nodes, "N", "replicas", 1, 65536), .required = true,
         .required_unless = "processes"},
        {CLI_OPT_UINT32("processes", &o->processes, "N",
                        "run the replicas as N `causeway node` processes (ipc endpoints, traces checked); "
                        "gives --nodes; not with --workers, --sessions, --policy lww, --sequential, --rate, "
                        "--warmup, --value-size, --sabotage-context", 2, 64),
         .default_text = "none, one process"},
        {CLI_OPT_TEXT("stop", &o->stop, "I:A:B", "with --processes: SIGSTOP node I at A s, SIGCONT at B s")},
        {CLI_OPT_TEXT("kill", &o->kill, "I:A",
                      "with --processes: SIGKILL node I at A s and restart it at once (with --drop, --data too)")},
        {CLI_OPT_FLAG("data", &o->data,
                      "with --processes: durable nodes, each keeping its state in the run's directory\n"
                      "(causeway node --data); --kill then restarts the node on it under load, and an\n"
                      "acknowledged write lost at any age is a violation")},
        {CLI_OPT_FLAG("keep-traces", &o->keep_traces,
                      "with --processes: keep the nodes' traces (trace-I.jsonl, for `causeway check`) after a "
                      "passing run too, and print their directory"),
         .output = true},
        {CLI_OPT_REAL("converge-within", &o->converge_within, "SECONDS",
                      "with --processes: how long the nodes may take, once the clients stop, to agree (the same\n"
                      "clock everywhere, nothing buffered) before the run fails; loss near --drop's limit can\n"
                      "need more than the default", 0.001, 86400),
         .default_text = "30", .conditional = true},
        {CLI_OPT_UINT("writes", &o->writes, "W", "writes in all, spread over the clients (with --duration: at most)",
                      1, 1000000000),
         .default_text = "required without --duration; with it 10000000"},
        {CLI_OPT_REAL("duration", &o->duration, "SECONDS", "write for this long instead of until --writes", 0.001,
                      86400),
         .default_text = "none"},
        {CLI_OPT_UINT32("keys", &o->keys, "K", "distinct keys (with --processes N: K x N at most 2^20)", 1,
                        1000000000)},
        {CLI_OPT_CHOICE("key-dist", &o->key_dist, "NAME",
                        "how keys are chosen (zipfian: YCSB's generator, key k0 the most popular)",
                        "uniform|zipfian")},
        {CLI_OPT_REAL("zipf-theta", &o->zipf_theta, "T", "skew of --key-dist zipfian", 0.01, 0.999),
         .conditional = true},
        {CLI_OPT_REAL("reads", &o->reads, "FRACTION",
                      "the share of operations that are reads, each checked against ground truth", 0, 0.99)},
        {CLI_OPT_REAL("rmw", &o->rmw, "FRACTION",
                      "the share of writes that read their key at their node first and write with the read's "
                      "context (read-modify-write)", 0, 1),
         .conditional = true},
        {CLI_OPT_REAL("deletes", &o->deletes, "FRACTION",
                      "the share of writes that delete (with the read's context after a read)", 0, 1),
         .conditional = true},
        {CLI_OPT_FLAG("sessions", &o->sessions,
                      "clients move between nodes and wait (cw_engine_wait_for) for what they have seen")},
        {CLI_OPT_REAL("rate", &o->rate, "OPS_PER_S",
                      "open loop: operations per second over all clients, latency from the intended send time",
                      1, 1e9),
         .default_text = "none, closed loop"},
        {CLI_OPT_REAL("warmup", &o->warmup, "SECONDS", "operations in the first SECONDS are not measured", 0.001,
                      86400),
         .default_text = "none"},
        {CLI_OPT_TEXT("partition", &o->partition, "START:LEN",
                      "partition the two halves of the nodes from START for LEN seconds")},
        {CLI_OPT_CHOICE("partition-kind", &o->part_kind, "KIND",
                        "cut: the links lose every message (recovered after the window); hold: they wait",
                        "cut|hold"),
         .conditional = true},
        {CLI_OPT_UINT32("value-size", &o->value_size, "BYTES", "bytes in each value (the write's tag, padded)", 1,
                        CW_NODE_DEFAULT_MAX_VALUE_LEN),
         .default_text = "the tag alone, w<i>@<node>"},
        {CLI_OPT_UINT32("workers", &o->workers, "T", "worker threads (at most N; not with --processes)", 0, 65536),
         .default_text = "0, one per online CPU, at most N"},
        {CLI_OPT_UINT32("clients", &o->clients, "C", "client threads writing concurrently", 1, 256)},
        {CLI_OPT_REAL("delay", &o->delay, "P", "probability that a message is delayed (reorders)", 0, 1)},
        {CLI_OPT_UINT32("max-delay-us", &o->max_delay_us, "U", "longest delay, microseconds (with --delay)", 0,
                        10000000)},
        {CLI_OPT_REAL("dup", &o->dup, "P", "probability that a message is delivered twice", 0, 1)},
        {CLI_OPT_REAL("drop", &o->drop, "P",
                      "probability that a message copy is lost (the replicas recover it)", 0, 0.9)},
        {CLI_OPT_CHOICE("policy", &policy, "NAME", "what a key keeps of concurrent writes", "siblings|lww")},
        {CLI_OPT_FLAG("sequential", &o->sequential,
                      "one write at a time, each delivered everywhere before the next")},
        {CLI_OPT_UINT("seed", &o->seed, "S", "fixes the workload and every fault decision", 0, INT64_MAX),
         .default_text = "the current time"},
        {CLI_OPT_TEXT("json", &json, "FILE", "also write the results as JSON to FILE"), .output = true},
        {CLI_OPT_TEXT("history", &o->history, "FILE", "on a violation, write the history checked to FILE"),
         .default_text = "causeway-stress-SEED.history", .output = true},
        {CLI_OPT_FLAG("sabotage-history", &o->sabotage,
                      "test the checker: leave one application out of the history (--processes: tamper with one "
                      "write's clock as read from its trace; must FAIL)")},
        {CLI_OPT_FLAG("sabotage-context", &o->sabotage_context,
                      "test the checker: client 0's read-modify-writes tell the history they read nothing "
                      "(with --rmw; must FAIL: lost updates)")},
    };
    cli_command c = {.path = "stress", .summary = "Concurrent writers under faults, verified against ground truth.",
                     .details = stress_details, .opts = t, .count = sizeof t / sizeof *t};
    int rc = cli_parse(&c, argc, argv, NULL);
    if (rc != CLI_OK)
        return rc;
    o->policy = policy ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS;
    o->json = json;

    if (o->processes) {
        if (cli_seen(&c, "nodes") && o->nodes != o->processes)
            return cli_usage_error(&c, "--nodes %u: --processes gives %u", o->nodes, o->processes);
        o->nodes = o->processes;
        const char *bad = o->sessions ? "sessions" : o->policy == CW_LAST_WRITER_WINS ? "policy lww"
                          : o->sequential ? "sequential" : o->rate > 0 ? "rate"
                          : o->warmup > 0 ? "warmup" : o->sabotage_context ? "sabotage-context"
                          : o->value_size ? "value-size" : cli_seen(&c, "workers") ? "workers" : NULL;
        if (bad)
            return cli_usage_error(&c, "--%s: not with --processes", bad);
        cli_conditional(&c, "workers"); /* nor in the command that replays the run */
        /* Every key is read at every node at the end (procs.c, final_reads):
         * nodes x keys reads and results, whatever --writes is. */
        if ((uint64_t)o->keys * o->nodes > CLI_PROCS_MAX_READS)
            return cli_usage_error(&c, "--keys %u: expected at most %u with --processes %u (every key is read at "
                                       "every node at the end)", o->keys, CLI_PROCS_MAX_READS / o->nodes, o->nodes);
    } else {
        static const char *const procs_only[] = {"stop", "kill", "keep-traces", "data", "converge-within"};
        for (size_t i = 0; i < sizeof procs_only / sizeof *procs_only; i++)
            if (cli_seen(&c, procs_only[i]))
                return cli_usage_error(&c, "--%s: applies to --processes only", procs_only[i]);
    }

    if (o->delay > 0 && o->max_delay_us == 0) /* a delay of 0 us delays nothing */
        return cli_usage_error(&c, "--delay %g: --max-delay-us 0 delays nothing", o->delay);
    if (o->delay == 0 && cli_seen(&c, "max-delay-us"))
        return cli_usage_error(&c, "--max-delay-us: applies to --delay only");
    if (o->delay == 0) /* and the replay line carries it only with --delay */
        cli_conditional(&c, "max-delay-us");
    if (o->sabotage_context && o->rmw <= 0)
        return cli_usage_error(&c, "--sabotage-context: applies to --rmw only");
    if (o->workers > o->nodes)
        return cli_usage_error(&c, "--workers %u: expected at most --nodes (%u)", o->workers, o->nodes);
    if (!cli_seen(&c, "writes") && !cli_seen(&c, "duration"))
        return cli_usage_error(&c, "--writes or --duration is required");
    o->writes_given = cli_seen(&c, "writes");
    if (!o->writes_given)
        o->writes = 10000000;
    if (cli_seen(&c, "zipf-theta") && o->key_dist == 0)
        return cli_usage_error(&c, "--zipf-theta: applies to --key-dist zipfian only");
    if (cli_seen(&c, "partition-kind") && !o->partition)
        return cli_usage_error(&c, "--partition-kind: applies to --partition only");
    if (o->partition) {
        char q[96], *end;
        const char *p = o->partition;
        o->part_start = cli_strtod(p, &end);
        bool good = end != p && *end == ':' && (p = end + 1, o->part_len = cli_strtod(p, &end), end != p && !*end) &&
                    o->part_start >= 0 && o->part_start <= 86400 && o->part_len > 0 && o->part_len <= 86400;
        if (!good)
            return cli_usage_error(&c, "--partition %s: expected START:LEN, seconds (START 0 to 86400, LEN above 0 "
                                       "up to 86400), e.g. 0.5:1", cli_quote(o->partition, q, sizeof q));
        if (o->nodes < 2)
            return cli_usage_error(&c, "--partition: needs at least 2 nodes");
    }
    if (o->sequential && (o->partition || o->rate > 0))
        return cli_usage_error(&c, "--%s: not with --sequential (one write at a time, each delivered)",
                               o->partition ? "partition" : "rate");
    if (o->duration > 0 && o->warmup >= o->duration)
        return cli_usage_error(&c, "--warmup %g: expected less than --duration (%g)", o->warmup, o->duration);
    if (o->key_dist == 1 && o->keys > CLI_ZIPFIAN_MAX_KEYS)
        return cli_usage_error(&c, "--keys %u: expected at most %u with --key-dist zipfian", o->keys,
                               CLI_ZIPFIAN_MAX_KEYS);
    if (o->json && (rc = cli_check_json(&c, o->json)) != CLI_OK) /* now, not after the run */
        return rc;
    /* The evidence of a failure: a --history that cannot be written is
     * refused; the default one here is only warned of (a run from a
     * directory it cannot write in still runs). */
    char default_history[64];
    cli_default_history(default_history, sizeof default_history, o->seed);
    int cannot;
    if (o->history && (rc = cli_check_writable(&c, "history", o->history)) != CLI_OK)
        return rc;
    if (!o->history && (cannot = cli_writable(default_history)) != 0)
        fprintf(stderr, "causeway stress: a failed run could not write its history to %s here (%s): give --history FILE\n",
                default_history, strerror(cannot));
    if (o->partition && o->duration > 0 && o->part_start >= o->duration)
        return cli_usage_error(&c, "--partition %s: starts at or after the run's end (--duration %g)", o->partition,
                               o->duration);
    /* --json is made empty last, once nothing can be refused, and never
     * when it is --history's file (both there, or one made just now). */
    const char *one = "--json and --history name one file: the history would be written over";
    if (o->json && o->history && cli_same_file(o->json, o->history))
        return cli_usage_error(&c, "%s", one);
    struct stat st;
    bool made = o->json && stat(o->json, &st) != 0;
    if (o->json && (rc = cli_empty_json(&c, o->json)) != CLI_OK)
        return rc;
    if (o->json && o->history && cli_same_file(o->json, o->history)) {
        if (made)
            unlink(o->json);
        return cli_usage_error(&c, "%s", one);
    }
    if (!(o->replay = cli_command_line(&c))) {
        fprintf(stderr, "causeway stress: %s\n", cw_strerror(CW_ENOMEM));
        return CLI_FAIL;
    }
    return CLI_OK;
}

typedef struct totals {
    uint64_t conflicts, duplicates, max_buffered, delivered;
    uint64_t retransmitted, recovered, pulls, reports, missing, log_entries; /* loss recovery */
    uint64_t max_log;        /* the most log entries seen at one node, during the run or at its end */
    double settled;          /* run.settled */
    uint32_t blocked;        /* nodes whose stability round waits for a peer at the end */
    uint32_t blocked_at, blocker; /* the first of them, and the peer it waits for */
    cw_latency replication, buffering;
} totals;

/* Reports every node's final state to the history and sums the statistics. */
static int collect(run *r, totals *t)
{
    *t = (totals){.max_log = r->max_log, .settled = r->settled, .blocker = CW_NODE_NONE};
    for (uint32_t i = 0; i < r->o->nodes; i++) {
        cli_progress_update(&r->progress, "reporting final states", i, r->o->nodes, "nodes");
        int rc = cw_history_final_engine_node(r->h, r->e, (cw_node_id)i);
        if (rc != CW_OK)
            return rc;
        cw_node_stats st;
        cw_engine_stats(r->e, (cw_node_id)i, &st);
        t->conflicts += st.conflicts;
        t->duplicates += st.duplicates;
        t->delivered += st.delivered;
        if (st.max_buffered > t->max_buffered)
            t->max_buffered = st.max_buffered;
        t->retransmitted += st.retransmitted;
        t->recovered += st.recovered;
        t->pulls += st.pulls;
        t->reports += st.reports;
        t->missing += st.missing;
        t->log_entries += st.log_entries;
        if (st.log_entries > t->max_log)
            t->max_log = st.log_entries;
        if (st.stability_blocker != CW_NODE_NONE && t->blocked++ == 0) {
            t->blocked_at = i;
            t->blocker = st.stability_blocker;
        }
    }
    cli_progress_end(&r->progress);
    return cw_engine_latency(r->e, &t->replication, &t->buffering);
}

static json_t *latency_json(const cw_latency *l)
{
    if (l->count == 0) /* no sample: no figure, rather than a 0 a script would take for one */
        return json_pack("{s:I,s:n,s:n,s:n,s:n}", "count", (json_int_t)0, "p50_us", "p99_us", "p999_us", "max_us");
    return json_pack("{s:I,s:f,s:f,s:f,s:f}", "count", (json_int_t)l->count, "p50_us", l->p50_ns / 1e3,
                     "p99_us", l->p99_ns / 1e3, "p999_us", l->p999_ns / 1e3, "max_us", l->max_ns / 1e3);
}

/* The run's options as --json records them, whether or not it reached its
 * check; NULL when out of memory. */
static json_t *options_json(const opts *o)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:f,s:s,s:b,s:I,s:I,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:s,s:f,"
                     "s:f,s:b}",
                     "nodes", (json_int_t)o->nodes, "writes", (json_int_t)o->writes, "keys", (json_int_t)o->keys,
                     "workers", (json_int_t)o->workers, "clients", (json_int_t)o->clients, "delay", o->delay,
                     "max_delay_us", (json_int_t)o->max_delay_us, "dup", o->dup, "policy",
                     o->policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", "sequential", o->sequential, "seed",
                     (json_int_t)o->seed, "value_size", (json_int_t)o->value_size, "key_dist",
                     o->key_dist ? "zipfian" : "uniform", "zipf_theta", o->zipf_theta, "duration", o->duration,
                     "reads", o->reads, "rate", o->rate, "warmup", o->warmup, "partition_start", o->part_start,
                     "partition_seconds", o->part_len, "drop", o->drop, "partition_kind",
                     o->part_kind == PART_HOLD ? "hold" : "cut", "rmw", o->rmw, "deletes", o->deletes, "sessions",
                     o->sessions);
}

static int write_json(const opts *o, const cw_history_report *rep, const totals *t, const cw_latency *ops,
                      uint64_t made, double secs, double check_secs, const char *violation, bool parted)
{
    json_t *root = json_pack(
        "{s:o,s:I,s:f,s:f,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:s,s:s*,s:o,s:b}", "options",
        options_json(o), "reads_checked", (json_int_t)rep->reads, "seconds", secs, "check_seconds", check_secs,
        "writes_made", (json_int_t)made, "writes_per_s", made / secs, "deliveries_per_s", t->delivered / secs,
        "deliveries", (json_int_t)t->delivered, "conflicts", (json_int_t)t->conflicts,
        "duplicates", (json_int_t)t->duplicates, "max_buffered", (json_int_t)t->max_buffered,
        "concurrent_pairs", (json_int_t)rep->concurrent_pairs, "ordered_pairs",
        (json_int_t)rep->ordered_pairs, "operation_latency", latency_json(ops),
        "replication_latency", latency_json(&t->replication),
        "buffering_latency", latency_json(&t->buffering), "verdict", rep->ok ? "pass" : "fail",
        "violation", violation, "partition_made", o->partition ? json_boolean(parted) : json_null(), "checked",
        true);
    if (root && json_object_set_new(root, "replay", o->replay ? json_string(o->replay) : json_null()) != 0) {
        json_decref(root);
        root = NULL;
    }
    json_t *blocker = t->blocked == 0 ? json_null()
                                      : json_pack("{s:I,s:I,s:I}", "node", (json_int_t)t->blocked_at, "waits_for",
                                                  (json_int_t)t->blocker, "nodes", (json_int_t)t->blocked);
    bool built = root && blocker && cli_clients_json(rep, root);
    /* Loss recovery: the totals over nodes. */
    json_t *rec = built ? json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "retransmitted", (json_int_t)t->retransmitted,
                                    "recovered", (json_int_t)t->recovered, "pulls", (json_int_t)t->pulls, "reports",
                                    (json_int_t)t->reports, "missing", (json_int_t)t->missing, "log_entries",
                                    (json_int_t)t->log_entries, "max_log_entries", (json_int_t)t->max_log)
                        : NULL;
    built = rec && json_object_update(root, rec) == 0 && json_object_set(root, "stability_blocker", blocker) == 0 &&
            json_object_set_new(root, "settle_seconds", t->settled >= 0 ? json_real(t->settled) : json_null()) == 0;
    json_decref(rec);
    json_decref(blocker);
    if (!built) {
        json_decref(root);
        return CW_ENOMEM;
    }
    int rc = json_dump_file(root, o->json, JSON_INDENT(2)) == 0 ? CW_OK : CW_EINVAL;
    json_decref(root);
    return rc;
}

static void print_latency(const char *name, const cw_latency *l)
{
    char a[32], b[32], c[32];
    printf("  %-20s p50 %-9s p99 %-9s p999 %-9s (%llu samples)\n", name,
           cli_duration((double)l->p50_ns, a, sizeof a), cli_duration((double)l->p99_ns, b, sizeof b),
           cli_duration((double)l->p999_ns, c, sizeof c), (unsigned long long)l->count);
}

/* Loss recovery's lines: what was lost, what was recovered, what the logs
 * and stability came to. */
static void print_recovery(const opts *o, const totals *t, bool parted)
{
    char buf[32];
    char lost[64] = "no message lost";
    bool cut = parted && o->part_kind == PART_CUT;
    if (o->drop > 0 && cut)
        snprintf(lost, sizeof lost, "drop %g and a cut partition", o->drop);
    else if (o->drop > 0)
        snprintf(lost, sizeof lost, "drop %g", o->drop);
    else if (cut)
        snprintf(lost, sizeof lost, "a cut partition");
    printf("  recovery             %s: %llu writes recovered, %llu retransmitted, %llu pulls, %llu reports\n",
           lost, (unsigned long long)t->recovered, (unsigned long long)t->retransmitted,
           (unsigned long long)t->pulls, (unsigned long long)t->reports);
    char drained[96];
    if (t->settled >= 0)
        snprintf(drained, sizeof drained, "every log drained %s after quiescence",
                 cli_duration(t->settled * 1e9, buf, sizeof buf));
    else
        snprintf(drained, sizeof drained, "%llu left, %llu origins missing, %g s after quiescence",
                 (unsigned long long)t->log_entries, (unsigned long long)t->missing, SETTLE_S);
    printf("  retransmission log   at most %llu writes at a node; %s\n", (unsigned long long)t->max_log, drained);
    if (t->blocked)
        printf("  stability blocker    node %u waits for node %u (%u nodes wait at the end)\n", t->blocked_at,
               t->blocker, t->blocked);
}

/* How long replication may apply nothing, with engine threads waiting for
 * memory (cw_engine_memory_waits), before the run stops: out of memory.
 * The engine waits for memory rather than lose a message; with memory gone
 * for good (the run's own history and logs hold it) nothing moves again,
 * and without this the run waited for the deadline below. A stall with no
 * thread waiting for memory (a repair after heavy loss) is waited for. */
#define STARVED_S 10.0

/* A run's watch for starvation: its progress (any count that grows while
 * the run moves), and since when it has stood still with engine threads
 * waiting for memory. */
typedef struct starving {
    uint64_t progress;
    double since;
} starving;

/* Whether the run is starved of memory at this look: `progress` has not
 * moved for STARVED_S while engine threads waited for memory (`waits` of
 * them now, cw_engine_memory_waits). */
static bool starved(starving *s, uint64_t progress, uint32_t waits)
{
    if (progress != s->progress || !waits) {
        s->progress = progress;
        s->since = cli_seconds();
        return false;
    }
    return cli_seconds() - s->since >= STARVED_S;
}

/* Says in r->why that the run starved of memory: no write `stood` (made,
 * applied) for STARVED_S while `waits` engine threads waited for memory.
 * The length written. */
static int say_starved(run *r, const char *stood, uint32_t waits)
{
    int n = snprintf(r->why, sizeof r->why,
                     "out of memory: no write %s for %g s while %u engine thread%s waited for memory", stood,
                     STARVED_S, waits, waits == 1 ? "" : "s");
    return n < 0 ? 0 : n < (int)sizeof r->why ? n : (int)sizeof r->why - 1;
}

/* Waits until every write is applied everywhere, showing how far
 * replication has come when `show`. CW_ETIMEDOUT after 10 minutes without
 * quiescence; CW_ENOMEM (r->why says so) once nothing was applied for
 * STARVED_S while engine threads waited for memory. */
static int replicate(run *r, bool show)
{
    uint64_t total = atomic_load(&r->done) * r->o->nodes;
    starving watch = {applications(r), cli_seconds()};
    double deadline = cli_seconds() + 600;
    int rc;
    while ((rc = cw_engine_quiesce(r->e, 200)) == CW_ETIMEDOUT && cli_seconds() < deadline) {
        uint64_t now = applications(r);
        if (show)
            cli_progress_update(&r->progress, "waiting for replication", now, total, "applications");
        uint32_t waits = cw_engine_memory_waits(r->e);
        if (starved(&watch, now, waits)) {
            int n = say_starved(r, "applied", waits);
            snprintf(r->why + n, sizeof r->why - (size_t)n, " (%llu of %llu applications made)",
                     (unsigned long long)now, (unsigned long long)total);
            rc = CW_ENOMEM;
            break;
        }
    }
    if (show)
        cli_progress_end(&r->progress);
    return rc;
}

/* Cuts or holds (on) every link between the halves [0, N/2) and [N/2, N)
 * of the nodes, both ways, or heals or releases them (!on): the
 * --partition window, of --partition-kind. O(N^2) calls. */
static int partition(run *r, bool on)
{
    int (*link)(cw_engine *, cw_node_id, cw_node_id, bool) =
        r->o->part_kind == PART_HOLD ? cw_engine_hold_link : cw_engine_cut_link;
    uint32_t n = r->o->nodes, half = n / 2;
    int rc = CW_OK;
    for (uint32_t a = 0; a < half && rc == CW_OK; a++)
        for (uint32_t b = half; b < n && rc == CW_OK; b++)
            if ((rc = link(r->e, a, b, on)) == CW_OK)
                rc = link(r->e, b, a, on);
    return rc;
}

/* Samples the retransmission logs for the run's high-water mark: 16 nodes
 * each call, in turn, so that a call costs the same at any node count (the
 * drive loop calls it every 10 ms; at N nodes each is seen every N/16 calls). */
static void sample_logs(run *r)
{
    uint32_t n = r->o->nodes;
    for (uint32_t k = 0; k < 16 && k < n; k++, r->next_sample = (r->next_sample + 1) % n) {
        cw_node_stats st;
        if (cw_engine_stats(r->e, r->next_sample, &st) == CW_OK && st.log_entries > r->max_log)
            r->max_log = st.log_entries;
    }
}

/* After quiescence, waits (up to SETTLE_S) until every node has heard that
 * every write is stable, so that its retransmission log is empty and it
 * lists no origin as missing (gaps leave the list at a node's next tick):
 * r->settled. Stability trails the clocks by a report interval or a few,
 * so this is quick; one that does not come is reported, with the node
 * holding it back. It polls every node every 10 ms. */
static void settle(run *r)
{
    double t0 = cli_seconds();
    r->settled = -1;
    do {
        bool drained = true;
        for (uint32_t i = 0; i < r->o->nodes && drained; i++) {
            cw_node_stats st;
            drained = cw_engine_stats(r->e, i, &st) == CW_OK && st.log_entries == 0 && st.missing == 0;
        }
        if (drained) {
            r->settled = cli_seconds() - t0;
            return;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        cli_progress_update(&r->progress, "waiting for stability", (uint64_t)((cli_seconds() - t0) * 1e3),
                            (uint64_t)(SETTLE_S * 1e3), "ms");
    } while (cli_seconds() - t0 < SETTLE_S);
    cli_progress_end(&r->progress);
}

/* Drives the writes, with a progress line (progress.h). */
static int drive(run *r)
{
    const opts *o = r->o;
    if (o->sequential) { /* one writer; each write reaches every node before the next */
        uint64_t rng = o->seed;
        client c;
        if (!client_init(&c, r, 0, o->writes))
            return CW_ENOMEM;
        double warm = r->start + o->warmup;
        for (uint64_t i = 0; i < o->writes;) {
            double began = cli_seconds();
            if (time_up(r, began))
                break;
            int rc = step(&c, &rng, &i);
            if (rc == CW_OK && began >= warm) /* the operation, as the clients time theirs */
                cw__hist_add(c.latency, (uint64_t)((cli_seconds() - began) * 1e9));
            if (rc == CW_OK)
                rc = replicate(r, false);
            if (rc != CW_OK) {
                client_free(&c);
                return rc;
            }
            cli_progress_update(&r->progress, "writing", i, o->writes, "writes");
        }
        r->last_op = cli_seconds();
        if (c.latency)
            cw__hist_merge(&r->latency, c.latency);
        client_free(&c);
    } else {
        pthread_t *th = calloc(o->clients, sizeof *th);
        client *c = calloc(o->clients, sizeof *c);
        if (!th || !c) {
            free(th);
            free(c);
            return CW_ENOMEM;
        }
        bool ok = true;
        for (uint32_t i = 0; i < o->clients && ok; i++)
            ok = client_init(&c[i], r, i, o->writes / o->clients + (i < o->writes % o->clients));
        /* A thread that cannot start (no memory for its stack) fails the
         * run: the clients already running stop at their next operation,
         * and only they are waited for and joined. */
        uint32_t started = 0;
        int err;
        atomic_store(&r->running, ok ? o->clients : 0);
        for (; started < o->clients && ok; started++)
            if ((err = pthread_create(&th[started], NULL, client_main, &c[started])) != 0) {
                int none = 0;
                if (atomic_compare_exchange_strong(&r->failed, &none, CW_ENOMEM)) /* the first failure */
                    snprintf(r->why, sizeof r->why,
                             "cannot start client thread %u of %u: %s (a thread needs memory for its stack, "
                             "and counts toward ulimit -u)",
                             started + 1, o->clients, strerror(err));
                atomic_fetch_sub(&r->running, o->clients - started);
                break;
            }
        bool parted = false;
        starving watch = {0, cli_seconds()};
        while (atomic_load(&r->running) > 0) {
            double now = cli_seconds() - r->start;
            bool part = o->part_len > 0 && now >= o->part_start && now < o->part_start + o->part_len;
            if (part != parted && ok && partition(r, part) == CW_OK)
                parted = part;
            r->parted |= parted;
            /* Out of memory for good (see replicate): the clients wait in
             * their puts for room for writes that nodes whose workers wait
             * for memory cannot apply. Shutting the engine down ends both
             * waits: the puts return CW_ECLOSED. */
            uint32_t waits = cw_engine_memory_waits(r->e);
            if (starved(&watch, atomic_load(&r->done) + applications(r), waits)) {
                int none = 0;
                if (atomic_compare_exchange_strong(&r->failed, &none, CW_ENOMEM))
                    say_starved(r, "made or applied", waits);
                cw_engine_shutdown(r->e);
            }
            sample_logs(r);
            if (r->end > 0)
                cli_progress_update(&r->progress, "writing", (uint64_t)(o->duration - (r->end - cli_seconds())),
                                    (uint64_t)o->duration, "seconds");
            else
                cli_progress_update(&r->progress, "writing", atomic_load(&r->done), o->writes, "writes");
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        if (parted) /* the run ended inside the window: let replication finish */
            partition(r, false);
        for (uint32_t i = 0; i < o->clients; i++) {
            if (i < started)
                pthread_join(th[i], NULL);
            if (c[i].latency)
                cw__hist_merge(&r->latency, c[i].latency);
            if (c[i].done_at > r->last_op)
                r->last_op = c[i].done_at;
            client_free(&c[i]);
        }
        free(th);
        free(c);
        if (!ok)
            return CW_ENOMEM;
        if (atomic_load(&r->failed))
            return atomic_load(&r->failed);
    }
    cli_progress_end(&r->progress);
    return replicate(r, true);
}

/* The end of a run that stopped before its verdict, after `secs` of
 * writes: what (fmt), the replay line and --json unjudged; frees the
 * history and the counts. CLI_FAIL, or CLI_ERROR (no verdict) when memory
 * stopped it. */
static int stopped(run *r, double secs, cli_stop why, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int stopped(run *r, double secs, cli_stop why, const char *fmt, ...)
{
    const opts *o = r->o;
    char failure[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failure, sizeof failure, fmt, ap);
    va_end(ap);
    cli_report_stopped(why, failure, NULL, o->seed, o->replay,
                       "the same workload and faults; thread interleavings vary", o->json,
                       o->json ? cli_stopped_json(options_json(o), secs, why, failure,
                                                  json_pack("{s:s?}", "replay", o->replay))
                               : NULL);
    cw_history_destroy(r->h);
    free(r->applied);
    return why == CLI_STOP_NO_MEMORY ? CLI_ERROR : CLI_FAIL;
}

/* One run with the parsed options: the exit status. */
static int stress(opts o)
{
    run r = {.o = &o};
    cli_progress_init(&r.progress);
    /* The history keeps each write's past, 8 bytes a node: refused now when
     * the writes asked for would take more than it may hold (three quarters
     * of physical memory; verify.h), where the run stopped only once it had
     * (a --duration run's writes are not known, --writes its cap alone: it
     * stops then). */
    double phys = cw__physical_bytes();
    int rc = o.writes_given && o.duration == 0 && phys > 0 && (double)o.writes * (8.0 * o.nodes + 64.0) > phys / 4 * 3
                 ? CW_ELIMIT
                 : cw_history_create(&r.h, o.nodes, o.writes, o.policy);
    r.applied = aligned_alloc(_Alignof(applied_count), o.nodes * sizeof *r.applied);
    if (rc == CW_OK && !r.applied)
        rc = CW_ENOMEM;
    else if (r.applied)
        memset(r.applied, 0, o.nodes * sizeof *r.applied);
    cw_engine_options eo;
    cw_engine_options_init(&eo);
    eo.nodes = o.nodes;
    eo.workers = o.workers;
    eo.policy = o.policy;
    eo.seed = o.seed;
    eo.delay_probability = o.delay;
    eo.max_delay_us = o.max_delay_us;
    eo.duplicate_probability = o.dup;
    eo.drop_probability = o.drop;
    if (o.part_len > 0 && o.part_kind == PART_CUT) {
        /* A cut keeps every node's writes from becoming stable until it
         * heals, so puts may wait for stability for the whole window: give
         * them the window on top of the engine's default 10 s. */
        double ms = 10000 + o.part_len * 1000;
        eo.stall_timeout_ms = ms < UINT32_MAX ? (uint32_t)ms : UINT32_MAX;
    }
    eo.on_apply = on_apply;
    eo.apply_ctx = &r;
    bool engine = rc == CW_OK;
    const char *step = engine ? "cannot start the engine" : "cannot make the ground-truth history";
    if (rc == CW_OK)
        rc = cw_engine_open(&r.e, &eo);
    if (rc != CW_OK) {
        /* Out of memory (an address-space limit, say) or no more threads:
         * name the step and the sizes, then the reason. */
        const char *why = rc != CW_ELIMIT ? cw_strerror(rc)
                          : engine ? "too little memory for the engine, or its threads could not start"
                                   : "it would pass this machine's physical memory (it grows with nodes^2 "
                                     "and with writes x nodes)";
        return stopped(&r, 0, rc == CW_ELIMIT || rc == CW_ENOMEM ? CLI_STOP_NO_MEMORY : CLI_STOP_FAILED,
                       "%s for %u nodes and %llu writes: %s", step, o.nodes, (unsigned long long)o.writes, why);
    }
    o.workers = cw_engine_workers(r.e); /* what the engine chose, for the report and the JSON */
    if (o.key_dist == 1)
        cli_keys_zipfian(&r.keys, o.keys, o.zipf_theta);
    else
        cli_keys_uniform(&r.keys, o.keys);
    char amount[64], dist[48] = "", size[48] = "";
    if (o.duration > 0)
        snprintf(amount, sizeof amount, "writes for %g s (at most %llu)", o.duration, (unsigned long long)o.writes);
    else
        snprintf(amount, sizeof amount, "%llu writes", (unsigned long long)o.writes);
    if (o.key_dist == 1)
        snprintf(dist, sizeof dist, " (zipfian, theta %g)", o.zipf_theta);
    if (o.value_size)
        snprintf(size, sizeof size, ", values of %u bytes", o.value_size);
    printf("causeway stress: %u nodes on %u workers, %s over %u key%s%s%s, %s, policy %s, seed %llu\n", o.nodes,
           o.workers, amount, o.keys, o.keys == 1 ? "" : "s", dist, size, o.sequential ? "one writer at a time" : "concurrent writers",
           o.policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", (unsigned long long)o.seed);
    double t0 = cli_seconds();
    r.start = t0;
    r.end = o.duration > 0 ? t0 + o.duration : 0;
    rc = drive(&r);
    double secs = cli_seconds() - t0;
    if (rc == CW_OK)
        settle(&r);
    totals t;
    double collect_secs = cli_seconds();
    if (rc == CW_OK)
        rc = collect(&r, &t);
    collect_secs = cli_seconds() - collect_secs;
    cw_engine_close(r.e);
    if (rc != CW_OK)
        return stopped(&r, secs, rc == CW_ENOMEM ? CLI_STOP_NO_MEMORY : CLI_STOP_FAILED,
                       "the run stopped after %.3f s: %s", secs, r.why[0] ? r.why : cw_strerror(rc));
    double c0 = cli_seconds();
    cw_history_report rep;
    cw_history_set_progress(r.h, cli_progress_phase, &r.progress);
    bool ok = cw_history_verdict(r.h, &rep);
    cli_progress_end(&r.progress);
    if (cw_history_out_of_memory(r.h)) /* the history could not judge the run: no verdict */
        return stopped(&r, secs, CLI_STOP_NO_MEMORY, "the run stopped after %.3f s: %s", secs,
                       cw_history_violation(r.h));
    double check_secs = cli_seconds() - c0 + collect_secs;
    const char *violation = cw_history_violation(r.h);
    uint64_t made = atomic_load(&r.done); /* rep.writes: those the history recorded (see below) */
    printf("  writes               %llu in %.3f s: %.0f writes/s, %.0f deliveries/s\n", (unsigned long long)made,
           secs, made / secs, t.delivered / secs);
    printf("  keys written         %llu of %u\n", (unsigned long long)rep.keys, o.keys);
    if (o.reads > 0)
        printf("  reads                %llu checked: each saw only writes its node had applied, none it had\n"
               "                       overwritten before the read began, and nothing lost\n",
               (unsigned long long)rep.reads);
    cw_latency ops;
    cw__hist_latency(&r.latency, &ops);
    char window[96] = "";
    if (o.warmup > 0 && ops.count == 0)
        snprintf(window, sizeof window, "; no operation began after the %g s warmup", o.warmup);
    else if (o.warmup > 0)
        snprintf(window, sizeof window, " after a %g s warmup, %.0f ops/s", o.warmup,
                 ops.count / (r.last_op - r.start - o.warmup > 0 ? r.last_op - r.start - o.warmup : 1e-9));
    char loop[64];
    if (o.rate > 0)
        snprintf(loop, sizeof loop, "open loop at %g ops/s, from each intended send time", o.rate);
    else
        snprintf(loop, sizeof loop, "closed loop, from each start");
    print_latency("operations", &ops);
    printf("                       (%s%s)\n", loop, window);
    if (o.part_len > 0 && r.parted)
        printf("  partition            links between nodes 0-%u and %u-%u %s from %g s for %g s\n",
               o.nodes / 2 - 1, o.nodes / 2, o.nodes - 1, o.part_kind == PART_HOLD ? "held" : "cut",
               o.part_start, o.part_len);
    else if (o.part_len > 0)
        printf("  partition            none: the writes ended (at %.3f s) before it was made (its window from %g s)\n",
               r.last_op - r.start, o.part_start);
    print_latency("replication", &t.replication);
    print_latency("buffering", &t.buffering);
    printf("  conflicts            %llu (%s, summed over nodes)\n", (unsigned long long)t.conflicts,
           o.policy == CW_LAST_WRITER_WINS ? "writes concurrent with the version they met; one was kept"
                                           : "writes that created or joined siblings");
    cli_print_pairs(&rep);
    if (o.rmw > 0 || o.deletes > 0 || o.sessions)
        cli_print_clients(&rep, o.sequential ? 1 : o.clients, o.sessions);
    printf("  duplicates dropped   %llu\n", (unsigned long long)t.duplicates);
    printf("  buffered high-water  %llu\n", (unsigned long long)t.max_buffered);
    print_recovery(&o, &t, r.parted);
    char took[32];
    char ran[32];
    char over[128];
    if (rep.writes < made) /* the history records none of a node's writes after its violation */
        snprintf(over, sizeof over, "%llu of the %llu writes (none of a node's after its violation)",
                 (unsigned long long)rep.writes, (unsigned long long)made);
    else
        snprintf(over, sizeof over, "%llu writes", (unsigned long long)rep.writes);
    printf("  check                %s (ground truth at %u nodes over %s; the run: %s)\n",
           cli_duration(check_secs * 1e9, took, sizeof took), o.nodes, over, cli_duration(secs * 1e9, ran, sizeof ran));
    if (!ok)
        cli_write_history(o.history, o.seed, r.h);
    cli_print_verdict(ok, violation, o.replay, "the same workload and faults; thread interleavings vary");
    bool written = true;
    if (o.json && write_json(&o, &rep, &t, &ops, made, secs, check_secs, violation, r.parted) != CW_OK) {
        fprintf(stderr, "causeway stress: cannot write %s\n", o.json);
        written = false;
    }
    cw_history_destroy(r.h);
    free(r.applied);
    return !ok ? CLI_FAIL : written ? CLI_OK : CLI_ERROR; /* a pass not written is no verdict given */
}

/* --processes: the options procs.c takes; CLI_USAGE on a bad --stop or --kill. */
static int processes(const opts *o)
{
    cli_procs_options p = {.nodes = o->nodes, .keys = o->keys, .clients = o->clients, .writes = o->writes,
                           .seed = o->seed, .duration = o->duration, .key_dist = o->key_dist,
                           .zipf_theta = o->zipf_theta, .reads = o->reads, .rmw = o->rmw, .deletes = o->deletes,
                           .drop = o->drop, .delay = o->delay, .dup = o->dup, .max_delay_us = o->max_delay_us,
                           .stop_node = -1, .kill_node = -1, .part_start = o->part_start,
                           .part_len = o->partition ? o->part_len : 0, .part_hold = o->part_kind == PART_HOLD,
                           .sabotage = o->sabotage, .keep_traces = o->keep_traces, .data = o->data, .json = o->json,
                           .history = o->history, .replay = o->replay, .converge_within = o->converge_within};
    if (o->stop && !cli_procs_parse_stop(&p, o->stop)) {
        fprintf(stderr,
                "causeway stress: --stop '%.80s': expected I:A:B, node I below %u, seconds 0 <= A < B <= 3600\n",
                o->stop, o->nodes);
        return CLI_USAGE;
    }
    if (o->kill && !cli_procs_parse_kill(&p, o->kill)) {
        fprintf(stderr, "causeway stress: --kill '%.80s': expected I:A, node I below %u, seconds 0 <= A <= 3600\n",
                o->kill, o->nodes);
        return CLI_USAGE;
    }
    if (p.stop_node >= 0 && o->duration > 0 && p.stop_at >= o->duration) { /* as --partition */
        fprintf(stderr, "causeway stress: --stop %s: starts at or after the run's end (--duration %g)\n", o->stop,
                o->duration);
        return CLI_USAGE;
    }
    if (p.stop_node >= 0 && p.stop_node == p.kill_node) { /* stopped while killed and restarted: not one fault */
        fprintf(stderr, "causeway stress: --stop and --kill name the same node %d: give them two nodes\n",
                p.kill_node);
        return CLI_USAGE;
    }
    uint32_t half = o->nodes / 2, k = (uint32_t)p.kill_node;
    bool alone = p.kill_node >= 0 && (k < half ? half == 1 : o->nodes - half == 1);
    bool in_partition = p.part_len > 0 && p.kill_at >= p.part_start &&
                        p.kill_at - CLI_PROCS_KILL_QUIET_S < p.part_start + p.part_len;
    if (alone && !o->data && in_partition) {
        /* its writes meanwhile reach no peer, die with it, and its restart
         * numbers new writes with their dots, which reads had returned */
        fprintf(stderr, "causeway stress: --kill %d:%g: node %d is alone in its half of --partition then, so "
                        "without --data its writes reach no peer and are lost with it, and its restart gives their "
                        "sequence numbers to new writes (a violation by design, node-server.md \"Known limits\"): "
                        "give --data, or kill it outside the partition\n",
                p.kill_node, p.kill_at, p.kill_node);
        return CLI_USAGE;
    }
    if (p.kill_node >= 0 && !o->data && o->drop > 0) {
        /* a write of the killed node lost on every link dies with it, and
         * its later writes that reached a peer wait there for it for good */
        fprintf(stderr, "causeway stress: --kill %d:%g with --drop %g: without --data a write of node %d that is "
                        "lost on every link dies with it, and its later writes that reached a peer wait there for "
                        "it for good, so the node never joins again (node-server.md \"Known limits\"): give --data, "
                        "or no --drop\n",
                p.kill_node, p.kill_at, o->drop, p.kill_node);
        return CLI_USAGE;
    }
    return cli_procs_stress(&p);
}

int cli_stress(int argc, char **argv)
{
    opts o;
    int prc = parse(argc, argv, &o);
    if (prc != CLI_OK)
        return prc == CLI_HELP ? CLI_OK : prc;
    int status = o.processes ? processes(&o) : stress(o);
    free(o.replay);
    return status;
}
