/* causeway stress: concurrent client threads write through the engine under
 * the given faults while the run's true happens-before is recorded; then every
 * check of causeway/verify.h is made. Exit status 1 on any violation, with the seed. */
#include <getopt.h>
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

static void usage(void)
{
    fputs("usage: causeway stress --nodes N --writes W --keys K [--workers T] [--clients C]\n"
          "         [--delay P] [--max-delay-us U] [--dup P] [--policy siblings|lww]\n"
          "         [--sequential] [--seed S] [--json FILE]\n",
          stderr);
}

static bool parse(int argc, char **argv, opts *o)
{
    static const struct option longs[] = {
        {"nodes", 1, 0, 'n'}, {"writes", 1, 0, 'w'}, {"keys", 1, 0, 'k'}, {"workers", 1, 0, 't'},
        {"clients", 1, 0, 'c'}, {"delay", 1, 0, 'd'}, {"max-delay-us", 1, 0, 'u'}, {"dup", 1, 0, 'p'},
        {"policy", 1, 0, 'P'}, {"seed", 1, 0, 's'}, {"json", 1, 0, 'j'}, {"sequential", 0, 0, 'S'},
        {0, 0, 0, 0}};
    *o = (opts){.nodes = 0, .keys = 8, .clients = 4, .max_delay_us = 200, .seed = (uint64_t)time(NULL)};
    optind = 0;
    int ch;
    char *end;
    while ((ch = getopt_long(argc + 1, argv - 1, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'n': o->nodes = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'w': o->writes = strtoull(optarg, &end, 10); break;
        case 'k': o->keys = (uint32_t)strtoul(optarg, &end, 10); break;
        case 't': o->workers = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'c': o->clients = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'd': o->delay = strtod(optarg, &end); break;
        case 'u': o->max_delay_us = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'p': o->dup = strtod(optarg, &end); break;
        case 's': o->seed = strtoull(optarg, &end, 0); break;
        case 'j': o->json = optarg; end = optarg + strlen(optarg); break;
        case 'S': o->sequential = true; end = (char *)""; break;
        case 'P':
            if (strcmp(optarg, "siblings") == 0)
                o->policy = CW_KEEP_SIBLINGS;
            else if (strcmp(optarg, "lww") == 0)
                o->policy = CW_LAST_WRITER_WINS;
            else
                return false;
            end = optarg + strlen(optarg);
            break;
        default: return false;
        }
        if (*end)
            return false;
    }
    return optind == argc + 1 && o->nodes >= 1 && o->nodes <= 65536 && o->writes >= 1 && o->keys >= 1 &&
           o->clients >= 1 && o->clients <= 256 && o->delay >= 0 && o->delay <= 1 && o->dup >= 0 &&
           o->dup <= 1 && o->workers <= o->nodes;
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
                      const char *violation)
{
    json_t *root = json_pack(
        "{s:{s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:f,s:s,s:b,s:I},"
        "s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:s,s:s*}",
        "options", "nodes", (json_int_t)o->nodes, "writes", (json_int_t)o->writes, "keys",
        (json_int_t)o->keys, "workers", (json_int_t)o->workers, "clients", (json_int_t)o->clients,
        "delay", o->delay, "max_delay_us", (json_int_t)o->max_delay_us, "dup", o->dup, "policy",
        o->policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", "sequential", o->sequential, "seed",
        (json_int_t)o->seed, "seconds", secs, "writes_per_s", rep->writes / secs, "deliveries_per_s",
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

static void print_latency(const char *name, const cw_latency *l)
{
    printf("  %-20s p50 %9.1f us   p99 %9.1f us   p999 %9.1f us   (%llu samples)\n", name,
           l->p50_ns / 1e3, l->p99_ns / 1e3, l->p999_ns / 1e3, (unsigned long long)l->count);
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
    if (!parse(argc, argv, &o)) {
        usage();
        return CLI_USAGE;
    }
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
    printf("causeway stress: %u nodes on %u workers, %llu writes over %u keys, %s, seed %llu\n", o.nodes,
           cw_engine_workers(r.e), (unsigned long long)o.writes, o.keys,
           o.sequential ? "one writer at a time" : "concurrent writers", (unsigned long long)o.seed);
    double t0 = seconds();
    rc = drive(&r);
    double secs = seconds() - t0;
    totals t;
    if (rc == CW_OK)
        rc = collect(&r, &t);
    cw_engine_close(r.e);
    if (rc != CW_OK) {
        fprintf(stderr, "causeway stress: %s (seed %llu)\n", cw_strerror(rc), (unsigned long long)o.seed);
        cw_history_destroy(r.h);
        return CLI_FAIL;
    }
    cw_history_report rep;
    bool ok = cw_history_verdict(r.h, &rep);
    const char *violation = cw_history_violation(r.h);
    printf("  writes               %llu in %.3f s: %.0f writes/s, %.0f deliveries/s\n",
           (unsigned long long)rep.writes, secs, rep.writes / secs, t.delivered / secs);
    print_latency("replication", &t.replication);
    print_latency("buffering", &t.buffering);
    printf("  conflicts            %llu (sibling-creating writes, summed over nodes)\n",
           (unsigned long long)t.conflicts);
    printf("  concurrent pairs     %llu of %llu same-key pairs (ground truth)\n",
           (unsigned long long)rep.concurrent_pairs, (unsigned long long)(rep.concurrent_pairs + rep.ordered_pairs));
    printf("  duplicates dropped   %llu\n", (unsigned long long)t.duplicates);
    printf("  buffered high-water  %llu\n", (unsigned long long)t.max_buffered);
    printf("  verdict              %s: causal order, exact concurrency, convergence, no loss%s\n",
           ok ? "PASS" : "FAIL", ok ? "" : " violated");
    if (!ok)
        printf("  violation            %s\n  replay               causeway stress ... --seed %llu\n",
               violation, (unsigned long long)o.seed);
    if (o.json && write_json(&o, &rep, &t, secs, violation) != CW_OK) {
        fprintf(stderr, "causeway stress: cannot write %s\n", o.json);
        ok = false;
    }
    cw_history_destroy(r.h);
    return ok ? CLI_OK : CLI_FAIL;
}
