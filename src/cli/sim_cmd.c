/* causeway sim: one seeded schedule of the deterministic simulator
 * (cw_sim_run in causeway/verify.h) on a single thread, checked against its
 * ground truth. Unlike causeway stress, the seed fixes everything, the order
 * of every delivery included, so the same command replays a run exactly.
 * Exit status 1 on any violation, with the command that replays it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"
#include "progress.h"
#include "report.h"

typedef struct sim_opts {
    cw_sim_options sim;
    uint32_t max_unsent;
    uint64_t max_buffered;
    const char *json;
    char *replay;            /* malloc'd */
} sim_opts;

static const char sim_details[] =
    "The replicas run on one thread under a seeded schedule: writes at random nodes,\n"
    "deliveries in random order, duplicates, held links, lost messages, partitions\n"
    "(cut links) and refused sends as asked, with the replicas' loss recovery on.\n"
    "Then every hold and cut is lifted and the network runs until every replica has\n"
    "applied every write and every retransmission log has drained; causal order at\n"
    "every replica, exact concurrency, the versions every key holds, convergence,\n"
    "and no loss or double application are checked. The same options replay the\n"
    "same run, delivery for delivery.\n"
    "Clients (--rmw, --deletes, --clients, --sessions): writes that read their key and\n"
    "write with the read's context, deletes, and sessions; the history takes what\n"
    "each client read as the truth: every key ends with exactly the writes no write\n"
    "superseded (no lost update, no resurrected delete, no extra sibling), and every\n"
    "session guarantee holds for every client operation.\n"
    "Exit status: 0 pass, 1 a violation or a stuck run (the replay command is\n"
    "printed, even when --json could not be written), 2 a bad option, 3 no\n"
    "verdict (the run refused for memory, or a pass whose output or --json was\n"
    "not written).\n";

/* Parses the options into o; CLI_OK, CLI_HELP, CLI_USAGE or CLI_FAIL. */
static int parse(int argc, char **argv, sim_opts *o)
{
    *o = (sim_opts){0};
    cw_sim_options_init(&o->sim);
    o->max_unsent = (uint32_t)o->sim.max_unsent;
    o->max_buffered = o->sim.max_buffered;
    int policy = 0;
    cw_sim_options *s = &o->sim;
    cli_opt t[] = {
        {CLI_OPT_UINT("seed", &s->seed, "S", "fixes the whole schedule", 0, INT64_MAX), .required = true},
        {CLI_OPT_UINT32("nodes", &s->nodes, "N", "replicas", 1, 65536)},
        {CLI_OPT_UINT("writes", &s->writes, "W", "writes in all, at random nodes", 1, 100000000)},
        {CLI_OPT_UINT32("keys", &s->keys, "K", "distinct keys, chosen uniformly", 1, 1000000000)},
        {CLI_OPT_CHOICE("policy", &policy, "NAME", "what a key keeps of concurrent writes", "siblings|lww")},
        {CLI_OPT_REAL("dup", &s->duplicate_probability, "P",
                      "probability that a delivered message stays in flight once more", 0, 0.99)},
        {CLI_OPT_REAL("hold", &s->hold_probability, "P",
                      "probability, each step, of holding or releasing a random link", 0, 1)},
        {CLI_OPT_REAL("refuse", &s->refuse_probability, "P", "probability that a send is refused (retried)",
                      0, 0.99)},
        {CLI_OPT_REAL("drop", &s->drop_probability, "P",
                      "probability that a message (any kind) is lost on its way to a node", 0, 0.9)},
        {CLI_OPT_REAL("partitions", &s->partition_probability, "P",
                      "probability, each step while writing, that a partition cuts a random side off", 0, 1)},
        {CLI_OPT_UINT32("partition-steps", &s->partition_steps, "N",
                        "the longest a partition lasts, in steps (with --partitions)", 1, 100000000),
         .conditional = true},
        {CLI_OPT_UINT("max-buffered", &o->max_buffered, "B",
                      "writes each replica's causal buffer holds (small: receives refused)", 1,
                      CW_NODE_MAX_BUFFERED_LIMIT)},
        {CLI_OPT_UINT32("max-unsent", &o->max_unsent, "U", "refused writes each replica keeps to send again",
                        1, 1u << 30)},
        {CLI_OPT_FLAG("sequential", &s->sequential, "each write reaches every node before the next")},
        {CLI_OPT_REAL("rmw", &s->rmw_probability, "FRACTION",
                      "the share of writes that read their key first and write with its context", 0, 1),
         .conditional = true},
        {CLI_OPT_REAL("deletes", &s->delete_probability, "FRACTION",
                      "the share of writes that delete (with the read's context after a read)", 0, 1),
         .conditional = true},
        {CLI_OPT_UINT32("clients", &s->clients, "C", "clients making the writes, each write by a random one", 1,
                        4096),
         .conditional = true, .default_text = "none (each node writes), 4 with --sessions"},
        {CLI_OPT_FLAG("sessions", &s->sessions,
                      "clients keep sessions: each acts at a node that has applied what it has seen")},
        {CLI_OPT_TEXT("json", &o->json, "FILE", "also write the results as JSON to FILE"), .output = true},
    };
    cli_command c = {.path = "sim", .summary = "One seeded schedule of the deterministic simulator, verified.",
                     .details = sim_details, .opts = t, .count = sizeof t / sizeof *t};
    int rc = cli_parse(&c, argc, argv, NULL);
    if (rc != CLI_OK)
        return rc;
    s->policy = policy ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS;
    if (s->sessions && !cli_seen(&c, "clients"))
        s->clients = 4;
    if (s->sessions && s->sequential)
        return cli_usage_error(&c, "--sessions: not with --sequential (one write at a time, each delivered)");
    if (cli_seen(&c, "partition-steps") && !(s->partition_probability > 0))
        return cli_usage_error(&c, "--partition-steps: applies to --partitions only");
    s->max_buffered = (size_t)o->max_buffered;
    s->max_unsent = o->max_unsent;
    /* --json is made empty last, once nothing can be refused. */
    if (o->json && ((rc = cli_check_json(&c, o->json)) != CLI_OK || (rc = cli_empty_json(&c, o->json)) != CLI_OK))
        return rc;
    if (!(o->replay = cli_command_line(&c))) {
        fprintf(stderr, "causeway sim: %s\n", cw_strerror(CW_ENOMEM));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* The run's options as --json records them; NULL when out of memory. */
static json_t *options_json(const cw_sim_options *s)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:b,s:f,s:f,s:I,s:b}", "seed",
                     (json_int_t)s->seed, "nodes", (json_int_t)s->nodes, "writes", (json_int_t)s->writes, "keys",
                     (json_int_t)s->keys, "policy", s->policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", "dup",
                     s->duplicate_probability, "hold", s->hold_probability, "refuse", s->refuse_probability, "drop",
                     s->drop_probability, "partitions", s->partition_probability, "partition_steps",
                     (json_int_t)s->partition_steps, "max_buffered", (json_int_t)s->max_buffered, "max_unsent",
                     (json_int_t)s->max_unsent, "sequential", s->sequential, "rmw", s->rmw_probability, "deletes",
                     s->delete_probability, "clients", (json_int_t)s->clients, "sessions", s->sessions);
}

static int write_json(const sim_opts *o, const cw_sim_report *r, double secs)
{
    json_t *root = json_pack(
        "{s:o,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s*,s:s,s:b}", "options",
        options_json(&o->sim), "seconds", secs, "writes_made", (json_int_t)r->truth.writes, "deliveries",
        (json_int_t)r->deliveries, "duplicates", (json_int_t)r->duplicates, "full_refusals",
        (json_int_t)r->full_refusals, "send_refusals", (json_int_t)r->send_refusals, "write_refusals",
        (json_int_t)r->put_refusals, "conflicts", (json_int_t)r->conflicts, "max_buffered",
        (json_int_t)r->max_buffered, "dropped", (json_int_t)r->dropped, "partitions", (json_int_t)r->partitions,
        "retransmitted", (json_int_t)r->retransmitted, "recovered", (json_int_t)r->recovered,
        "concurrent_pairs", (json_int_t)r->truth.concurrent_pairs, "ordered_pairs",
        (json_int_t)r->truth.ordered_pairs, "verdict", r->truth.ok ? "pass" : "fail", "violation",
        r->violation[0] ? r->violation : NULL, "replay", o->replay, "checked", true);
    if (!root || !cli_clients_json(&r->truth, root)) {
        json_decref(root);
        return CW_ENOMEM;
    }
    int rc = json_dump_file(root, o->json, JSON_INDENT(2)) == 0 ? CW_OK : CW_EINVAL;
    json_decref(root);
    return rc;
}

/* The --json of a run that stopped before its verdict (why, the failure's
 * text), as causeway stress writes one: the options, "checked": false, and
 * the replay line. CW_OK, CW_ENOMEM or CW_EINVAL (not written). */
static int write_stopped_json(const sim_opts *o, double secs, cli_stop why, const char *failure)
{
    json_t *extra = json_pack("{s:s}", "replay", o->replay);
    json_t *root = extra ? cli_stopped_json(options_json(&o->sim), secs, why, failure, extra) : NULL;
    if (!root)
        return CW_ENOMEM;
    int rc = json_dump_file(root, o->json, JSON_INDENT(2)) == 0 ? CW_OK : CW_EINVAL;
    json_decref(root);
    return rc;
}

static int sim(const sim_opts *o)
{
    const cw_sim_options *s = &o->sim;
    printf("causeway sim: %u nodes, %llu writes over %u key%s, %s, policy %s, seed %llu\n", s->nodes,
           (unsigned long long)s->writes, s->keys, s->keys == 1 ? "" : "s",
           s->sequential ? "one write at a time" : "seeded schedule",
           s->policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", (unsigned long long)s->seed);
    double t0 = cli_seconds();
    cw_sim_report r;
    cli_progress progress;
    cli_progress_init(&progress);
    cw_sim_options shown = *s;
    shown.progress = cli_progress_phase;
    shown.progress_ctx = &progress;
    int rc = cw_sim_run(&shown, &r);
    cli_progress_end(&progress);
    double secs = cli_seconds() - t0;
    if (rc == CW_ELIMIT || rc == CW_ENOMEM) { /* a limit or memory, not a verdict on the replicas */
        const char *why = rc == CW_ELIMIT ? "the group's memory, quadratic in --nodes, would pass this machine's "
                                            "(refused before it starts)"
                                          : cw_strerror(rc);
        fprintf(stderr, "causeway sim: the run stopped: %s\n", why);
        if (o->json && write_stopped_json(o, secs, CLI_STOP_NO_MEMORY, why) != CW_OK)
            fprintf(stderr, "causeway sim: cannot write %s\n", o->json);
        return CLI_ERROR;
    }
    if (rc != CW_OK) {
        /* A stuck schedule is the simulator's liveness verdict: a failure to replay. */
        printf("  verdict              FAIL: %s\n  replay               %s\n", cw_strerror(rc), o->replay);
        if (o->json && write_stopped_json(o, secs, CLI_STOP_FAILED, cw_strerror(rc)) != CW_OK)
            fprintf(stderr, "causeway sim: cannot write %s\n", o->json);
        return CLI_FAIL;
    }
    char took[32];
    printf("  writes               %llu, %llu messages received (writes, pulls and reports), simulated in %s\n",
           (unsigned long long)r.truth.writes, (unsigned long long)r.deliveries,
           cli_duration(secs * 1e9, took, sizeof took));
    printf("  conflicts            %llu (%s, summed over nodes)\n", (unsigned long long)r.conflicts,
           s->policy == CW_LAST_WRITER_WINS ? "writes concurrent with the version they met; one was kept"
                                            : "writes that created or joined siblings");
    cli_print_pairs(&r.truth);
    printf("  duplicates dropped   %llu\n", (unsigned long long)r.duplicates);
    printf("  refused              %llu receives (buffer full), %llu sends, %llu writes\n",
           (unsigned long long)r.full_refusals, (unsigned long long)r.send_refusals,
           (unsigned long long)r.put_refusals);
    printf("  buffered high-water  %llu\n", (unsigned long long)r.max_buffered);
    printf("  lost                 %llu messages, %llu partitions\n", (unsigned long long)r.dropped,
           (unsigned long long)r.partitions);
    printf("  recovered            %llu writes (by pulls; %llu sent again)\n", (unsigned long long)r.recovered,
           (unsigned long long)r.retransmitted);
    if (s->rmw_probability > 0 || s->delete_probability > 0 || s->clients)
        cli_print_clients(&r.truth, s->clients, s->sessions);
    cli_print_verdict(r.truth.ok, r.violation, o->replay, "exactly the same run");
    bool ok = r.truth.ok;
    if (o->json && write_json(o, &r, secs) != CW_OK) {
        fprintf(stderr, "causeway sim: cannot write %s\n", o->json);
        return ok ? CLI_ERROR : CLI_FAIL; /* a violation stays 1; a pass not written is no verdict */
    }
    return ok ? CLI_OK : CLI_FAIL;
}

int cli_sim(int argc, char **argv)
{
    sim_opts o;
    int prc = parse(argc, argv, &o);
    if (prc != CLI_OK)
        return prc == CLI_HELP ? CLI_OK : prc;
    int status = sim(&o);
    free(o.replay);
    return status;
}
