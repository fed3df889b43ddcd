/* causeway stress: concurrent client threads write through the engine under
 * the given faults while the run's true happens-before is recorded; then every
 * check of causeway/verify.h is made. Exit status 1 on any violation, with the seed. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"

typedef struct opts {
    uint32_t nodes, workers, keys, clients;
    uint64_t writes, seed;
    double delay, dup;
    uint32_t max_delay_us;
    cw_conflict_policy policy;
    bool sequential;
    const char *json;
} opts;

typedef struct run {
    const opts *o;
    cw_engine *e;
    cw_history *h;
    _Atomic uint64_t done;
    _Atomic int failed;
} run;

typedef struct client {
    run *r;
    uint32_t id;
    uint64_t writes;
} client;

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_apply(void *ctx, cw_node_id node, const cw_msg *m)
{
    cw_history_applied(ctx, node, m);
}

static int put_one(run *r, uint64_t *rng, uint64_t i)
{
    *rng = *rng * 6364136223846793005u + 1442695040888963407u;
    cw_node_id at = (cw_node_id)((*rng >> 33) % r->o->nodes);
    char key[24], value[48];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)((*rng >> 11) % r->o->keys));
    int len = snprintf(value, sizeof value, "w%llu@%u", (unsigned long long)i, at);
    int rc = cw_engine_put(r->e, at, key, strlen(key), value, (size_t)len, NULL);
    atomic_fetch_add(&r->done, 1);
    return rc;
}

static void *client_main(void *arg)
{
    client *c = arg;
    uint64_t rng = c->r->o->seed ^ (0x9e3779b97f4a7c15u * (c->id + 1));
    for (uint64_t i = 0; i < c->writes; i++)
        if (put_one(c->r, &rng, i) != CW_OK) {
            atomic_store(&c->r->failed, 1);
            break;
        }
    return NULL;
}

static const char stress_details[] =
    "Client threads write through the engine under the given faults while the run's\n"
    "true happens-before is recorded; then causal order at every replica, exact\n"
    "concurrency (every write's clock is its true causal past), the versions every\n"
    "key holds, convergence, and no loss or double application are checked.\n"
    "Exit status: 0 pass, 1 a violation (the seed that replays it is printed),\n"
    "2 a bad option.\n";

/* Parses the options into o; CLI_OK, CLI_HELP or CLI_USAGE. */
static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.keys = 8, .clients = 4, .max_delay_us = 200, .seed = (uint64_t)time(NULL)};
    int policy = 0;
    const char *json = NULL;
    cli_opt t[] = {
        {CLI_OPT_UINT32("nodes", &o->nodes, "N", "replicas", 1, 65536), .required = true},
        {CLI_OPT_UINT("writes", &o->writes, "W", "writes in all, spread over the clients", 1, 1000000000),
         .required = true},
        {CLI_OPT_UINT32("keys", &o->keys, "K", "distinct keys, chosen uniformly", 1, 1000000000)},
        {CLI_OPT_UINT32("workers", &o->workers, "T", "worker threads (at most N)", 0, 65536),
         .default_text = "0, one per online CPU, at most N"},
        {CLI_OPT_UINT32("clients", &o->clients, "C", "client threads writing concurrently", 1, 256)},
        {CLI_OPT_REAL("delay", &o->delay, "P", "probability that a message is delayed (reorders)", 0, 1)},
        {CLI_OPT_UINT32("max-delay-us", &o->max_delay_us, "U", "longest delay, microseconds", 0, 10000000)},
        {CLI_OPT_REAL("dup", &o->dup, "P", "probability that a message is delivered twice", 0, 1)},
        {CLI_OPT_CHOICE("policy", &policy, "NAME", "what a key keeps of concurrent writes", "siblings|lww")},
        {CLI_OPT_FLAG("sequential", &o->sequential,
                      "one write at a time, each delivered everywhere before the next")},
        {CLI_OPT_UINT("seed", &o->seed, "S", "fixes the workload and every fault decision", 0, UINT64_MAX),
         .default_text = "the current time"},
        {CLI_OPT_TEXT("json", &json, "FILE", "also write the results as JSON to FILE")},
    };
    cli_command c = {.path = "stress", .summary = "Concurrent writers under faults, verified against ground truth.",
                     .details = stress_details, .opts = t, .count = sizeof t / sizeof *t};
    int rc = cli_parse(&c, argc, argv, NULL);
    if (rc != CLI_OK)
        return rc;
    o->policy = policy ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS;
    o->json = json;
    if (o->workers > o->nodes)
        return cli_usage_error(&c, "--workers %u: expected at most --nodes (%u)", o->workers, o->nodes);
    if (o->json) { /* found now, not after the run */
        FILE *f = fopen(o->json, "a");
        if (!f) {
            char q[96];
            return cli_usage_error(&c, "--json %s: cannot write it: %s", cli_quote(o->json, q, sizeof q),
                                   strerror(errno));
        }
        fclose(f);
    }
    return CLI_OK;
}

typedef struct totals {
    uint64_t conflicts, duplicates, max_buffered, delivered;
    cw_latency replication, buffering;
} totals;

/* Reports every node's final state to the history and sums the statistics. */
static int collect(run *r, totals *t)
{
    *t = (totals){0};
    for (uint32_t i = 0; i < r->o->nodes; i++) {
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
    }
    return cw_engine_latency(r->e, &t->replication, &t->buffering);
}

static json_t *latency_json(const cw_latency *l)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f}", "count", (json_int_t)l->count, "p50_us", l->p50_ns / 1e3,
                     "p99_us", l->p99_ns / 1e3, "p999_us", l->p999_ns / 1e3, "max_us", l->max_ns / 1e3);
}

static int write_json(const opts *o, const cw_history_report *rep, const totals *t, double secs,
                      double check_secs, const char *violation)
{
    json_t *root = json_pack(
        "{s:{s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:f,s:s,s:b,s:I},"
        "s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:s,s:s*}",
        "options", "nodes", (json_int_t)o->nodes, "writes", (json_int_t)o->writes, "keys",
        (json_int_t)o->keys, "workers", (json_int_t)o->workers, "clients", (json_int_t)o->clients,
        "delay", o->delay, "max_delay_us", (json_int_t)o->max_delay_us, "dup", o->dup, "policy",
        o->policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", "sequential", o->sequential, "seed",
        (json_int_t)o->seed, "seconds", secs, "check_seconds", check_secs, "writes_per_s",
        rep->writes / secs, "deliveries_per_s",
        t->delivered / secs, "deliveries", (json_int_t)t->delivered, "conflicts", (json_int_t)t->conflicts,
        "duplicates", (json_int_t)t->duplicates, "max_buffered", (json_int_t)t->max_buffered,
        "concurrent_pairs", (json_int_t)rep->concurrent_pairs, "ordered_pairs",
        (json_int_t)rep->ordered_pairs, "replication_latency", latency_json(&t->replication),
        "buffering_latency", latency_json(&t->buffering), "verdict", rep->ok ? "pass" : "fail",
        "violation", violation);
    if (!root)
        return CW_ENOMEM;
    int rc = json_dump_file(root, o->json, JSON_INDENT(2)) == 0 ? CW_OK : CW_EINVAL;
    json_decref(root);
    return rc;
}

/* A duration in the unit that fits: "812 ns", "140 us", "27.4 ms", "3.21 s". */
static const char *duration(double ns, char *buf, size_t cap)
{
    if (ns < 1e3)
        snprintf(buf, cap, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, cap, "%.3g us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, cap, "%.3g ms", ns / 1e6);
    else
        snprintf(buf, cap, "%.3g s", ns / 1e9);
    return buf;
}

static void print_latency(const char *name, const cw_latency *l)
{
    char a[32], b[32], c[32];
    printf("  %-20s p50 %-9s p99 %-9s p999 %-9s (%llu samples)\n", name,
           duration((double)l->p50_ns, a, sizeof a), duration((double)l->p99_ns, b, sizeof b),
           duration((double)l->p999_ns, c, sizeof c), (unsigned long long)l->count);
}

/* Drives the writes; a progress line on stderr while it runs, if a terminal. */
static int drive(run *r)
{
    const opts *o = r->o;
    bool tty = isatty(2);
    if (o->sequential) { /* one writer; each write reaches every node before the next */
        uint64_t rng = o->seed;
        for (uint64_t i = 0; i < o->writes; i++) {
            int rc = put_one(r, &rng, i);
            if (rc == CW_OK)
                rc = cw_engine_quiesce(r->e, 600000);
            if (rc != CW_OK)
                return rc;
            if (tty && i % 64 == 0)
                fprintf(stderr, "\r  writes %llu/%llu", (unsigned long long)i, (unsigned long long)o->writes);
        }
    } else {
        pthread_t *th = calloc(o->clients, sizeof *th);
        client *c = calloc(o->clients, sizeof *c);
        if (!th || !c) {
            free(th);
            free(c);
            return CW_ENOMEM;
        }
        for (uint32_t i = 0; i < o->clients; i++) {
            c[i] = (client){r, i, o->writes / o->clients + (i < o->writes % o->clients)};
            pthread_create(&th[i], NULL, client_main, &c[i]);
        }
        while (tty && atomic_load(&r->done) < o->writes && !atomic_load(&r->failed)) {
            fprintf(stderr, "\r  writes %llu/%llu", (unsigned long long)atomic_load(&r->done),
                    (unsigned long long)o->writes);
            struct timespec ts = {0, 200000000};
            nanosleep(&ts, NULL);
        }
        for (uint32_t i = 0; i < o->clients; i++)
            pthread_join(th[i], NULL);
        free(th);
        free(c);
        if (atomic_load(&r->failed))
            return CW_EINVAL;
    }
    if (tty)
        fprintf(stderr, "\r  writes %llu/%llu, waiting for replication...\n",
                (unsigned long long)o->writes, (unsigned long long)o->writes);
    return cw_engine_quiesce(r->e, 600000);
}

int cli_stress(int argc, char **argv)
{
    opts o;
    int prc = parse(argc, argv, &o);
    if (prc != CLI_OK)
        return prc == CLI_HELP ? CLI_OK : prc;
    run r = {.o = &o};
    int rc = cw_history_create(&r.h, o.nodes, o.writes, o.policy);
    cw_engine_options eo;
    cw_engine_options_init(&eo);
    eo.nodes = o.nodes;
    eo.workers = o.workers;
    eo.policy = o.policy;
    eo.seed = o.seed;
    eo.delay_probability = o.delay;
    eo.max_delay_us = o.max_delay_us;
    eo.duplicate_probability = o.dup;
    eo.on_apply = on_apply;
    eo.apply_ctx = r.h;
    if (rc == CW_OK)
        rc = cw_engine_open(&r.e, &eo);
    if (rc != CW_OK) {
        fprintf(stderr, "causeway stress: %s\n", cw_strerror(rc));
        cw_history_destroy(r.h);
        return CLI_FAIL;
    }
    o.workers = cw_engine_workers(r.e); /* what the engine chose, for the report and the JSON */
    printf("causeway stress: %u nodes on %u workers, %llu writes over %u keys, %s, policy %s, seed %llu\n",
           o.nodes, o.workers, (unsigned long long)o.writes, o.keys,
           o.sequential ? "one writer at a time" : "concurrent writers",
           o.policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", (unsigned long long)o.seed);
    double t0 = seconds();
    rc = drive(&r);
    double secs = seconds() - t0;
    totals t;
    double collect_secs = seconds();
    if (rc == CW_OK)
        rc = collect(&r, &t);
    collect_secs = seconds() - collect_secs;
    cw_engine_close(r.e);
    if (rc != CW_OK) {
        fprintf(stderr, "causeway stress: %s (seed %llu)\n", cw_strerror(rc), (unsigned long long)o.seed);
        cw_history_destroy(r.h);
        return CLI_FAIL;
    }
    double c0 = seconds();
    cw_history_report rep;
    bool ok = cw_history_verdict(r.h, &rep);
    double check_secs = seconds() - c0 + collect_secs;
    const char *violation = cw_history_violation(r.h);
    printf("  writes               %llu in %.3f s: %.0f writes/s, %.0f deliveries/s\n",
           (unsigned long long)rep.writes, secs, rep.writes / secs, t.delivered / secs);
    print_latency("replication", &t.replication);
    print_latency("buffering", &t.buffering);
    printf("  conflicts            %llu (%s, summed over nodes)\n", (unsigned long long)t.conflicts,
           o.policy == CW_LAST_WRITER_WINS ? "writes concurrent with the version they met; one was kept"
                                           : "writes that created or joined siblings");
    printf("  concurrent pairs     %llu of %llu same-key pairs (ground truth)\n",
           (unsigned long long)rep.concurrent_pairs, (unsigned long long)(rep.concurrent_pairs + rep.ordered_pairs));
    printf("  duplicates dropped   %llu\n", (unsigned long long)t.duplicates);
    printf("  buffered high-water  %llu\n", (unsigned long long)t.max_buffered);
    char took[32];
    printf("  check                %s (ground truth over %llu writes at %u nodes)\n",
           duration(check_secs * 1e9, took, sizeof took), (unsigned long long)rep.writes, o.nodes);
    printf("  verdict              %s: causal order, exact concurrency, convergence, no loss%s\n",
           ok ? "PASS" : "FAIL", ok ? "" : " violated");
    if (!ok)
        printf("  violation            %s\n  replay               causeway stress ... --seed %llu\n",
               violation, (unsigned long long)o.seed);
    if (o.json && write_json(&o, &rep, &t, secs, check_secs, violation) != CW_OK) {
        fprintf(stderr, "causeway stress: cannot write %s\n", o.json);
        ok = false;
    }
    cw_history_destroy(r.h);
    return ok ? CLI_OK : CLI_FAIL;
}
