/* causeway bench: runs the benchmark suite (causeway-bench, installed beside
 * this command), keeps Google Benchmark's JSON (its NaN and Infinity made
 * null), and renders PNG plots from it
 * with gnuplot: clock operations against memcpy by n and against plain C
 * (bench/plain_clock.c) on the same inputs, the engine's queue
 * against raw ck_ring, buffer cost against depth beside the naive buffer,
 * replication throughput and latency against the number of nodes. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"

/* The benchmark binary: $CAUSEWAY_BENCH, else causeway-bench beside this
 * executable, else bench/causeway_bench of a build tree. */
static bool find_bench(char *out, size_t cap)
{
    const char *env = getenv("CAUSEWAY_BENCH");
    if (env) {
        snprintf(out, cap, "%s", env);
        return access(out, X_OK) == 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *dir = dirname(self);
    const char *tries[] = {"causeway-bench", "bench/causeway_bench"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(out, cap, "%s/%s", dir, tries[i]);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

/* Closes a file written: false if any write to it failed (a full disk). */
static bool closed(FILE *f)
{
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

/* Google Benchmark's JSON made JSON: it writes a counter it cannot compute
 * (the cv of one that was 0 in every repetition) as a bare NaN or Infinity,
 * either signed (older versions nan, inf), which strict parsers (jansson,
 * JSON.parse) refuse. Each such token outside a string becomes null; the
 * rest is kept byte for byte. Returns the text (to free) and its length in
 * *out_len, the tokens replaced in *replaced; NULL without memory. */
static char *strict_json(const char *text, size_t len, size_t *out_len, size_t *replaced)
{
    static const char *const bad[] = {"-Infinity", "Infinity", "-NaN", "NaN", "-nan", "nan", "-inf", "inf"};
    char *out = malloc(len + len / 3 + 1); /* "NaN" or "inf" (3 bytes) to "null" grows most */
    if (!out)
        return NULL;
    size_t o = 0;
    bool in_string = false;
    *replaced = 0;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (in_string) {
            out[o++] = text[i++];
            if (c == '\\' && i < len)
                out[o++] = text[i++];
            else if (c == '"')
                in_string = false;
            continue;
        }
        in_string = c == '"';
        size_t bl = 0; /* the length of a bad token at i, a whole word */
        bool word_start = i == 0 || !isalnum((unsigned char)text[i - 1]);
        for (size_t b = 0; word_start && !bl && b < sizeof bad / sizeof bad[0]; b++) {
            size_t l = strlen(bad[b]);
            if (l <= len - i && memcmp(text + i, bad[b], l) == 0 &&
                (i + l == len || !isalnum((unsigned char)text[i + l])))
                bl = l;
        }
        if (bl) {
            memcpy(out + o, "null", 4);
            o += 4;
            i += bl;
            ++*replaced;
        } else {
            out[o++] = text[i++];
        }
    }
    *out_len = o;
    return out;
}

/* Replaces path with len bytes of text: they go to a file beside it, which
 * is renamed over it once written whole, so a failed write (a full disk)
 * leaves path as it was and no part of the new text. false with errno. */
static bool replace_file(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return false;
    }
    int fd = mkstemp(tmp);
    if (fd < 0)
        return false;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return false;
    }
    /* mkstemp's file is the owner's alone: keep the mode the file had */
    bool ok = (stat(path, &st) != 0 || fchmod(fd, st.st_mode & 07777) == 0) && fwrite(text, 1, len, f) == len &&
              fflush(f) == 0 && fsync(fd) == 0;
    int e = errno;
    ok = closed(f) && ok;
    if (ok && rename(tmp, path) == 0)
        return true;
    e = ok ? errno : e;
    unlink(tmp);
    errno = e;
    return false;
}

/* Loads Google Benchmark's JSON at path (strict_json), and writes it back
 * with null for its NaN and Infinity, if it has any, so the kept file is
 * JSON too. NULL with err's text set if it cannot be read, parsed, or
 * written back (*unwritten then true). */
static json_t *load_bench_json(const char *path, json_error_t *err, bool *unwritten)
{
    *unwritten = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->text, sizeof err->text, "%s", strerror(errno));
        return NULL;
    }
    size_t len = 0, strict_len = 0, replaced = 0;
    errno = 0;
    char *text = cli_read_all(f, SIZE_MAX, &len);
    int read_err = errno;
    fclose(f);
    if (!text) {
        snprintf(err->text, sizeof err->text, "%s", read_err ? strerror(read_err) : "read error");
        return NULL;
    }
    char *strict = strict_json(text, len, &strict_len, &replaced);
    free(text);
    if (!strict) {
        snprintf(err->text, sizeof err->text, "%s", strerror(ENOMEM));
        return NULL;
    }
    json_t *root = json_loadb(strict, strict_len, 0, err);
    if (root && replaced > 0 && !replace_file(path, strict, strict_len)) {
        snprintf(err->text, sizeof err->text, "%s", strerror(errno));
        *unwritten = true;
        json_decref(root);
        root = NULL;
    }
    free(strict);
    return root;
}

/* Runs argv, returns its exit status (or -1). quiet: discard its stderr;
 * lines_out (nullable): its standard output is read and its lines counted
 * instead of shown. */
static int run_counting(char *const argv[], bool quiet, size_t *lines_out)
{
    int fds[2];
    if (lines_out && pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (quiet && !freopen("/dev/null", "w", stderr))
            _exit(127);
        if (lines_out && (dup2(fds[1], 1) < 0 || close(fds[0]) != 0))
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (lines_out) {
        close(fds[1]);
        *lines_out = 0;
        char buf[4096];
        ssize_t n;
        while (pid > 0 && (n = read(fds[0], buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n; i++)
                *lines_out += buf[i] == '\n';
        close(fds[0]);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run(char *const argv[], bool quiet) { return run_counting(argv, quiet, NULL); }

/* The value of a run (median aggregate if present) by exact name; -1 when
 * it has none, or a figure that is no number (null: the NaN or Infinity of
 * Google Benchmark's JSON, made null when it is kept), never 0. */
static double value_of(json_t *benches, const char *name, const char *field)
{
    double best = -1;
    size_t i;
    json_t *b;
    json_array_foreach(benches, i, b) {
        const char *run_name = json_string_value(json_object_get(b, "run_name"));
        const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
        if (!run_name || strcmp(run_name, name) != 0 || (agg && strcmp(agg, "median") != 0))
            continue;
        json_t *v = json_object_get(b, field);
        if (!v)
            continue;
        if (!json_is_number(v)) {
            best = -1;
            if (agg)
                break;
            continue;
        }
        double x = json_number_value(v);
        const char *unit = json_string_value(json_object_get(b, "time_unit"));
        if ((!strcmp(field, "real_time") || !strcmp(field, "cpu_time")) && unit)
            x *= !strcmp(unit, "ms") ? 1e6 : !strcmp(unit, "us") ? 1e3 : !strcmp(unit, "s") ? 1e9 : 1;
        best = x;
        if (agg)
            break;
    }
    return best;
}

/* v as the tables give it: a whole number whole (1651783, where %g wrote
 * 1.65178e+06), any other with the fewest significant digits that read back
 * as v (at most 17). gnuplot and CSV readers take both. */
static const char *number_text(double v, char *buf, size_t cap)
{
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v) /* within 2^53: exact */
        snprintf(buf, cap, "%lld", (long long)v);
    else
        for (int digits = 1; digits <= 17; digits++) {
            snprintf(buf, cap, "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    return buf;
}

static void put_value(FILE *f, double v)
{
    char text[32];
    if (v < 0)
        fputs(" NaN", f);
    else
        fprintf(f, " %s", number_text(v, text, sizeof text));
}

/* The engine_e2e runs of the JSON (median aggregates, or the runs
 * themselves): their (nodes, faults, workers) from the name. */
typedef struct e2e_run {
    long nodes, faults, workers;
    const char *name;
} e2e_run;

static size_t e2e_runs(json_t *benches, e2e_run *out, size_t cap)
{
    size_t n = 0, i;
    json_t *b;
    json_array_foreach(benches, i, b) {
        const char *name = json_string_value(json_object_get(b, "run_name"));
        const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
        e2e_run r = {0, 0, 0, name};
        if (!name || (agg && strcmp(agg, "median") != 0) ||
            sscanf(name, "engine_e2e/nodes:%ld/faults:%ld/workers:%ld/", &r.nodes, &r.faults, &r.workers) != 3)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(out[k].name, name) == 0;
        if (!seen && n < cap)
            out[n++] = r;
    }
    return n;
}

static int by_nodes(const void *a, const void *b)
{
    const e2e_run *x = a, *y = b;
    if (x->nodes != y->nodes)
        return x->nodes < y->nodes ? -1 : 1;
    if (x->workers != y->workers)
        return x->workers < y->workers ? -1 : 1;
    return (x->faults > y->faults) - (x->faults < y->faults);
}

/* engine.dat (the plots: one row per node count, at `workers`) and
 * e2e.csv (every end-to-end run of the JSON, one row each). */
static int write_engine_tables(json_t *benches, const char *dir, long workers)
{
    enum { MAX_RUNS = 1024 };
    e2e_run *runs = malloc(MAX_RUNS * sizeof *runs);
    if (!runs)
        return -1;
    size_t count = e2e_runs(benches, runs, MAX_RUNS);
    qsort(runs, count, sizeof *runs, by_nodes);
    char path[PATH_MAX], name[256];
    snprintf(path, sizeof path, "%s/engine.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(runs);
        return -1;
    }
    fputs("# nodes deliveries_per_s deliveries_per_s_faults repl_p50_us repl_p99_us repl_p999_us "
          "deliveries_per_s_one_thread\n", f);
    for (size_t i = 0; i < count; i++) {
        if (runs[i].workers != workers || (i > 0 && runs[i - 1].nodes == runs[i].nodes &&
                                           runs[i - 1].workers == workers))
            continue; /* one row per node count */
        fprintf(f, "%ld", runs[i].nodes);
        for (int faults = 0; faults < 2; faults++) {
            snprintf(name, sizeof name, "engine_e2e/nodes:%ld/faults:%d/workers:%ld/iterations:1/manual_time",
                     runs[i].nodes, faults, workers);
            put_value(f, value_of(benches, name, "deliveries_per_s"));
        }
        snprintf(name, sizeof name, "engine_e2e/nodes:%ld/faults:0/workers:%ld/iterations:1/manual_time",
                 runs[i].nodes, workers);
        put_value(f, value_of(benches, name, "repl_p50_us"));
        put_value(f, value_of(benches, name, "repl_p99_us"));
        put_value(f, value_of(benches, name, "repl_p999_us"));
        /* The same workload with every replica on one thread, no engine. */
        snprintf(name, sizeof name, "replicas_one_thread/nodes:%ld/iterations:1/manual_time", runs[i].nodes);
        put_value(f, value_of(benches, name, "deliveries_per_s"));
        fputc('\n', f);
    }
    if (!closed(f)) {
        free(runs);
        return -1;
    }
    snprintf(path, sizeof path, "%s/e2e.csv", dir);
    if (!(f = fopen(path, "w"))) {
        free(runs);
        return -1;
    }
    fputs("nodes,faults,workers,deliveries_per_s,repl_p50_us,repl_p99_us,repl_p999_us,line_transfer_ns\n", f);
    static const char *const cols[] = {"deliveries_per_s", "repl_p50_us", "repl_p99_us", "repl_p999_us",
                                       "line_transfer_ns"};
    for (size_t i = 0; i < count; i++) {
        fprintf(f, "%ld,%ld,%ld", runs[i].nodes, runs[i].faults, runs[i].workers);
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
            double v = value_of(benches, runs[i].name, cols[c]);
            char text[32];
            fprintf(f, ",%s", v < 0 ? "" : number_text(v, text, sizeof text));
        }
        fputc('\n', f);
    }
    free(runs);
    return closed(f) ? 0 : -1;
}

/* name.csv beside name.dat: the same table, its '#' header as the column
 * names, commas between fields, and an empty field where the .dat has NaN. */
static int dat_to_csv(const char *dir, const char *table)
{
    char in_path[PATH_MAX], out_path[PATH_MAX], line[4096];
    snprintf(in_path, sizeof in_path, "%s/%s.dat", dir, table);
    snprintf(out_path, sizeof out_path, "%s/%s.csv", dir, table);
    FILE *in = fopen(in_path, "r"), *out = in ? fopen(out_path, "w") : NULL;
    while (out && fgets(line, sizeof line, in)) {
        char *p = line + (line[0] == '#' ? 1 : 0), *end = strchr(p, '(');
        if (line[0] == '#' && end) /* "(ns)": the unit, not a column */
            *end = '\0';
        bool first = true;
        for (char *tok = strtok(p, " \t\n"); tok; tok = strtok(NULL, " \t\n"), first = false)
            fprintf(out, "%s%s", first ? "" : ",", strcmp(tok, "NaN") == 0 ? "" : tok);
        fputc('\n', out);
    }
    int rc = in && out && !ferror(in) ? 0 : -1;
    if (in)
        fclose(in);
    if (out && !closed(out))
        rc = -1;
    return rc;
}

static int write_tables(json_t *benches, const char *dir, long workers)
{
    char path[PATH_MAX], name[256];
    static const int sizes[] = {4, 16, 64, 256, 1024, 4096, 65536};
    snprintf(path, sizeof path, "%s/clocks.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("# n dense_merge dense_compare sparse_identical_merge sparse_overlap_merge memcpy_8n read_floor_16n (ns)\n", f);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fprintf(f, "%d", sizes[i]);
        const char *ops[] = {"dense_merge", "dense_compare", "sparse_identical_merge", "sparse_overlap_merge",
                             "memcpy:dense_merge", "dense_read_floor"};
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            snprintf(name, sizeof name, "%s/%d", ops[k], sizes[i]);
            put_value(f, value_of(benches, name, "real_time"));
        }
        fputc('\n', f);
    }
    if (!closed(f))
        return -1;

    /* The library beside the plain C of bench/plain_clock.c, same inputs:
     * library ns and plain ns for each operation, by n. CPU time: on a
     * shared machine wall-clock medians of one run swing by up to 30%,
     * CPU-time medians by ~1%. */
    snprintf(path, sizeof path, "%s/plain.dat", dir);
    if (!(f = fopen(path, "w")))
        return -1;
    static const char *const vs_plain[] = {"dclock_merge", "dclock_compare", "vclock_merge", "vclock_merge_half",
                                           "vclock_compare", "vclock_compare_half", "vclock_join",
                                           "vclock_join_half"};
    fputs("# n", f);
    for (size_t k = 0; k < sizeof vs_plain / sizeof vs_plain[0]; k++)
        fprintf(f, " %s plain:%s", vs_plain[k], vs_plain[k]);
    fputs(" (CPU ns)\n", f);
    static const int plain_sizes[] = {1, 2, 3, 4, 6, 8, 16, 64, 256, 1024, 4096, 65536}; /* bench_vclock.cc's kPlainSizes */
    for (size_t i = 0; i < sizeof plain_sizes / sizeof plain_sizes[0]; i++) {
        fprintf(f, "%d", plain_sizes[i]);
        for (size_t k = 0; k < sizeof vs_plain / sizeof vs_plain[0]; k++) {
            snprintf(name, sizeof name, "%s/%d", vs_plain[k], plain_sizes[i]);
            put_value(f, value_of(benches, name, "cpu_time"));
            snprintf(name, sizeof name, "plain:%s/%d", vs_plain[k], plain_sizes[i]);
            put_value(f, value_of(benches, name, "cpu_time"));
        }
        fputc('\n', f);
    }
    if (!closed(f))
        return -1;

    snprintf(path, sizeof path, "%s/buffer.dat", dir);
    if (!(f = fopen(path, "w")))
        return -1;
    fputs("# P causeway_ns_per_write naive_ns_per_write causeway_one_call_ns_per_write\n", f);
    /* An iteration delivers a whole stream (more writes than P), so the
     * cost per write is the benchmark's time_per_entry (seconds), not its
     * time divided by P. */
    static const char *const drains[] = {"buffer_drain", "naive:buffer_drain", "buffer_drain_single"};
    for (long p = 100; p <= 1000000; p *= 10) {
        fprintf(f, "%ld", p);
        for (size_t k = 0; k < sizeof drains / sizeof drains[0]; k++) {
            snprintf(name, sizeof name, "%s/%ld/manual_time", drains[k], p);
            double s = value_of(benches, name, "time_per_entry");
            put_value(f, s < 0 ? s : s * 1e9);
        }
        fputc('\n', f);
    }
    if (!closed(f))
        return -1;

    if (write_engine_tables(benches, dir, workers) != 0)
        return -1;

    snprintf(path, sizeof path, "%s/queue.dat", dir);
    if (!(f = fopen(path, "w")))
        return -1;
    fputs("# queue messages_per_s\n", f);
    fputs("\"engine queue\"", f);
    put_value(f, value_of(benches, "queue_handoff/4096/manual_time", "items_per_second"));
    fputs("\n\"raw ck_ring\"", f);
    put_value(f, value_of(benches, "ck_ring:queue_handoff/4096/manual_time", "items_per_second"));
    fputc('\n', f);
    if (!closed(f))
        return -1;
    static const char *const tables[] = {"clocks", "plain", "buffer", "engine", "queue"};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        if (dat_to_csv(dir, tables[i]) != 0)
            return -1;
    return 0;
}

/* One gnuplot script per plot, so a plot whose benchmarks were filtered out
 * is skipped without stopping the others. */
/* Every plot: lines told apart by colour, point shape and dash (so lines that
 * overlap stay visible), axes fitted to the data (no empty decades), tick
 * labels in SI form (10M, not 1e+07), and a caption naming the machine. */
static const char plot_common[] =
    "set terminal pngcairo noenhanced size 900,580 font ',11'\nset grid\nset key top left\n"
    "set linetype 1 lc rgb '#1b6ac9' pt 7 ps 0.9 dt 1 lw 1.5\n"
    "set linetype 2 lc rgb '#d9480f' pt 5 ps 0.9 dt 2 lw 1.5\n"
    "set linetype 3 lc rgb '#2b8a3e' pt 9 ps 1.1 dt 4 lw 1.5\n"
    "set linetype 4 lc rgb '#862e9c' pt 13 ps 1.1 dt 5 lw 1.5\n"
    "set linetype 5 lc rgb '#495057' pt 1 ps 1.0 dt 3 lw 2\n"
    "set linetype 6 lc rgb '#e67700' pt 2 ps 1.0 dt 6 lw 2\n"
    "set linetype 7 lc rgb '#0b7285' pt 11 ps 1.1 dt 1 lw 2.5\n"
    "set linetype 8 lc rgb '#c2255c' pt 3 ps 1.0 dt 2 lw 2.5\n"
    "set linetype cycle 8\n"
    "set autoscale xfix\nset offsets graph 0.03, graph 0.03, 0, 0\n"
    "set format y '%.0s%c'\nset bmargin 5\n";

/* "AMD EPYC 7B13, 2 cores": the CPU model and online cores of this machine. */
static void machine_caption(char *out, size_t cap)
{
    char model[128] = "unknown CPU", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    for (char *p = model; *p; p++) /* a quote would end gnuplot's string */
        if (*p == '\'' || *p == '"')
            *p = ' ';
    snprintf(out, cap, "%s, %ld cores", model, sysconf(_SC_NPROCESSORS_ONLN));
}

static const struct plot {
    const char *png, *script;
} plots[] = {
    {"clocks.png",
     "set title 'Clock operations beside memcpy of the same bytes (lower is faster)'\n"
     "set logscale xy\nset xlabel 'entries n'\nset ylabel 'ns per operation'\n"
     "plot 'clocks.dat' u 1:2 w lp t 'dense merge', '' u 1:3 w lp t 'dense compare',"
     " '' u 1:4 w lp t 'sparse merge, same ids', '' u 1:5 w lp t 'sparse copy+merge, ~50% overlap',"
     " '' u 1:6 w lp lt 5 t 'memcpy of 8n bytes',"
     " '' u 1:7 w lp lt 6 t 'loads alone: both clocks, 16n bytes'\n"},
    {"plain.png",
     "set title 'Library beside plain C on the same inputs: plain ns / library ns (above 1: library faster)'\n"
     "set logscale x\nset xlabel 'entries n'\nset ylabel 'speed-up over plain C'\nset format y '%g'\n"
     "set key bottom right\n"
     "plot 'plain.dat' u 1:($3/$2) w lp t 'dense merge', '' u 1:($5/$4) w lp t 'dense compare',"
     " '' u 1:($7/$6) w lp t 'sparse copy+merge, same ids', '' u 1:($9/$8) w lp t 'sparse copy+merge, ~50% overlap',"
     " '' u 1:($11/$10) w lp t 'sparse compare, same ids', '' u 1:($13/$12) w lp t 'sparse compare, ~50% overlap',"
     " '' u 1:($15/$14) w lp t 'sparse join, same ids', '' u 1:($17/$16) w lp t 'sparse join, ~50% overlap',"
     " 1 w l lc rgb 'black' dt 1 lw 1 t 'level with plain C'\n"},
    {"buffer.png",
     "set title 'Causal buffer: ns per delivered write, blocks of P writes in random order'\n"
     "set logscale xy\nset xlabel 'buffer depth P (writes per shuffled block)'\nset ylabel 'ns per delivered write'\n"
     "plot 'buffer.dat' u 1:2 w lp t 'Causeway, batches of 64', '' u 1:4 w lp t 'Causeway, one call a write', "
     "'' u 1:3 w lp t 'naive rescanning buffer'\n"},
    {"engine.png",
     "set title 'End-to-end replication: deliveries per second'\n"
     "set logscale x\nset xlabel 'nodes'\nset ylabel 'deliveries/s'\nset format y '%.1s%c'\nset yrange [0:*]\n"
     "set key top right\n"
     "plot 'engine.dat' u 1:2:xtic(1) w lp t 'engine, no faults', '' u 1:3 w lp t 'engine, delay 10% + duplicates 5%', "
     "'' u 1:7 w lp t 'one thread driving every replica (no engine)'\n"},
    {"latency.png",
     "set title 'Replication latency (put to applied at every node)'\n"
     "set logscale xy\nset xlabel 'nodes'\nset ylabel 'microseconds'\n"
     "plot 'engine.dat' u 1:4:xtic(1) w lp t 'p50', '' u 1:5 w lp t 'p99', '' u 1:6 w lp t 'p99.9'\n"},
    {"queue.png",
     "set title 'Worker-to-worker queue hand-off, same run'\n"
     "set style fill solid 0.6\nset boxwidth 0.5\nset ylabel 'messages/s'\nset yrange [0:*]\n"
     "set format y '%.1s%c'\nset offsets 0.5, 0.5, 0, 0\n"
     "plot 'queue.dat' u 0:2:xtic(1) w boxes t ''\n"},
};

/* Writes and runs each plot's script in dir; returns how many were drawn,
 * or -1 when a script or a plot could not be written (a full disk). */
static int draw_plots(void)
{
    int drawn = 0;
    char machine[192];
    machine_caption(machine, sizeof machine);
    for (size_t i = 0; i < sizeof plots / sizeof plots[0]; i++) {
        FILE *f = fopen("plot.gp", "w");
        if (!f)
            return -1;
        fprintf(f, "%sset label 99 'Measured on %s' at screen 0.01, screen 0.025 font ',9'\n"
                "set datafile missing 'NaN'\nset output '%s'\n%s",
                plot_common, machine, plots[i].png, plots[i].script);
        if (!closed(f)) { /* an empty script draws nothing, and gnuplot says nothing of it */
            remove("plot.gp");
            return -1;
        }
        char *gp[] = {"gnuplot", "plot.gp", NULL};
        struct stat png;
        int drew = run(gp, true);
        if (drew == 0 && (stat(plots[i].png, &png) != 0 || png.st_size == 0)) { /* gnuplot could not write it */
            remove(plots[i].png);
            remove("plot.gp");
            return -1;
        }
        if (drew == 0) { /* a plot without data fails; reported below */
            printf("  plot %s\n", plots[i].png);
            drawn++;
        } else {
            remove(plots[i].png);
            printf("  plot %s skipped: no data for it in this run\n", plots[i].png);
        }
    }
    remove("plot.gp");
    return drawn;
}

/* Checks a list "8,16,64" of whole numbers within [lo, hi] (at most 32 of
 * them); the first goes to *first, the largest to *most. */
static bool list_ok(const char *text, long lo, long hi, long *first, long *most)
{
    int count = 0;
    *most = lo;
    for (const char *p = text; *p; count++) {
        char *end;
        if (*p < '0' || *p > '9' || count == 32)
            return false;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || v < lo || v > hi || (*end && *end != ','))
            return false;
        if (count == 0)
            *first = v;
        *most = v > *most ? v : *most;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p)
            return false;
    }
    return count > 0;
}

int cli_bench(int argc, char **argv)
{
    const char *filter = ".", *dir = "causeway-bench-out";
    const char *nodes = "2,4,8,16,64,256,1024", *workers = "0";
    int faults = 2;
    double min_time = 0.05;
    uint32_t reps = 3;
    bool list = false;
    cli_opt t[] = {
        {CLI_OPT_TEXT("filter", &filter, "REGEX", "run only the benchmarks whose names match"),
         .default_text = "all, or ^(engine_e2e|replicas_one_thread)/ with --nodes, --workers or --faults"},
        {CLI_OPT_TEXT("out", &dir, "DIR", "where the JSON, tables (*.dat, *.csv) and plots go")},
        {CLI_OPT_REAL("min-time", &min_time, "S", "least time each benchmark runs, seconds", 0.001, 3600)},
        {CLI_OPT_UINT32("repetitions", &reps, "N", "runs of each benchmark; tables show the median", 1, 1000)},
        {CLI_OPT_TEXT("nodes", &nodes, "LIST", "end to end: node counts, e.g. 8,16,64 (each 2 to 4096)")},
        {CLI_OPT_TEXT("workers", &workers, "LIST",
                      "end to end: worker threads, e.g. 0,2 (0: the engine's default; each <= nodes)")},
        {CLI_OPT_CHOICE("faults", &faults, "WHICH",
                        "end to end: without faults, with them (delay 10% + duplicates 5%), or both",
                        "off|on|both")},
        {CLI_OPT_FLAG("list", &list, "list the benchmarks (with --filter, those it matches) and stop")},
    };
    cli_command c = {.path = "bench", .opts = t, .count = sizeof t / sizeof *t,
                     .summary = "Runs the benchmark suite (causeway-bench), keeps Google Benchmark's JSON, writes\n"
                                "its tables (*.dat for gnuplot, *.csv beside them, e2e.csv with every end-to-end\n"
                                "run) and draws the plots with gnuplot.",
                     .details = "--nodes, --workers and --faults choose the end-to-end runs (engine_e2e: one\n"
                                "client writes at every node in turn, then waits for quiescence) instead of\n"
                                "the default grid, beside the same workload with every replica driven by one\n"
                                "thread (replicas_one_thread). The benchmark binary is $CAUSEWAY_BENCH, else\n"
                                "causeway-bench beside this command, else bench/causeway_bench of a build tree.\n"};
    int rc = cli_parse(&c, argc, argv, NULL);
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    char quoted[96];
    long first_nodes = 0, first_workers = 0, most_nodes = 0, most_workers = 0;
    if (!list_ok(nodes, 2, 4096, &first_nodes, &most_nodes))
        return cli_usage_error(&c, "--nodes %s: expected whole numbers from 2 to 4096, joined by commas",
                               cli_quote(nodes, quoted, sizeof quoted));
    if (!list_ok(workers, 0, 4096, &first_workers, &most_workers))
        return cli_usage_error(&c, "--workers %s: expected whole numbers from 0 to 4096, joined by commas",
                               cli_quote(workers, quoted, sizeof quoted));
    if (most_workers > most_nodes) /* a run has at most a worker a node: it would run nowhere */
        return cli_usage_error(&c, "--workers %ld: above every --nodes value (at most %ld)", most_workers,
                               most_nodes);
    bool e2e = c.opts[4].seen || c.opts[5].seen || c.opts[6].seen;
    if (e2e) {
        static const char *const fault_lists[] = {"0", "1", "0,1"};
        char grid[512];
        snprintf(grid, sizeof grid, "%s;%s;%s", nodes, workers, fault_lists[faults]);
        if (setenv("CAUSEWAY_BENCH_E2E", grid, 1) != 0)
            return CLI_FAIL;
        if (!c.opts[0].seen)
            filter = "^(engine_e2e|replicas_one_thread)/";
    }
    char bench[PATH_MAX];
    if (!find_bench(bench, sizeof bench)) {
        const char *env = getenv("CAUSEWAY_BENCH");
        if (env)
            fprintf(stderr, "causeway bench: CAUSEWAY_BENCH=%s: not an executable file\n",
                    cli_quote(env, quoted, sizeof quoted));
        else
            fputs("causeway bench: the benchmark program is not built: neither causeway-bench beside this program nor "
                  "bench/causeway_bench in its build tree. Build it (cmake -DCAUSEWAY_BUILD_BENCH=ON, or the release "
                  "preset; scripts/run.sh does both) or set CAUSEWAY_BENCH to it\n", stderr);
        return CLI_FAIL;
    }
    char a_filter[512], a_out[PATH_MAX + 32], a_min[64], a_reps[64], json_path[PATH_MAX];
    if ((size_t)snprintf(a_filter, sizeof a_filter, "--benchmark_filter=%s", filter) >= sizeof a_filter)
        return cli_usage_error(&c, "--filter: longer than %zu characters", sizeof a_filter - 20);
    /* A filter that matches nothing is the user's mistake: say so before the
     * harness calls it "wrong arguments" (or, listing, exits 0). */
    size_t matched = 0;
    char *largs[] = {bench, a_filter, "--benchmark_list_tests=true", NULL};
    if (run_counting(largs, true, &matched) != 0 || matched == 0) {
        char q[96];
        return cli_usage_error(&c, "--filter %s matches no benchmark (or is not a valid regex); "
                               "'causeway bench --list' shows them", cli_quote(filter, q, sizeof q));
    }
    if (list)
        return run(largs, false) == 0 ? CLI_OK : CLI_FAIL;
    struct stat st;
    bool made = mkdir(dir, 0755) == 0 || errno == EEXIST;
    if (!made || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        char q[96];
        return cli_usage_error(&c, "--out %s: cannot create it as a directory: %s", cli_quote(dir, q, sizeof q),
                               made ? "a file of that name exists" : strerror(errno));
    }
    snprintf(json_path, sizeof json_path, "%s/bench.json", dir);
    snprintf(a_out, sizeof a_out, "--benchmark_out=%s", json_path);
    snprintf(a_min, sizeof a_min, "--benchmark_min_time=%g", min_time);
    snprintf(a_reps, sizeof a_reps, "--benchmark_repetitions=%u", reps);
    char *args[] = {bench, a_filter, a_out, "--benchmark_out_format=json", a_min, a_reps,
                    "--benchmark_report_aggregates_only=true", NULL};
    if (!getenv("CAUSEWAY_BENCH_REUSE") && run(args, false) != 0) { /* REUSE: re-plot an existing run */
        fputs("causeway bench: the benchmark run failed\n", stderr);
        return CLI_FAIL;
    }
    json_error_t err;
    bool unwritten;
    json_t *root = load_bench_json(json_path, &err, &unwritten);
    json_t *benches = root ? json_object_get(root, "benchmarks") : NULL;
    if (!benches) {
        fprintf(stderr, "causeway bench: cannot %s %s: %s\n", unwritten ? "write" : "read", json_path,
                root ? "bad layout" : err.text);
        json_decref(root);
        return CLI_FAIL;
    }
    if (write_tables(benches, dir, first_workers) != 0) {
        fprintf(stderr, "causeway bench: cannot write the tables (*.dat, *.csv) in %s\n", dir);
        json_decref(root);
        return CLI_FAIL;
    }
    json_decref(root);
    if (chdir(dir) != 0)
        return CLI_FAIL;
    printf("\n");
    char *probe[] = {"gnuplot", "-e", "set terminal pngcairo", NULL}; /* the plots' terminal (plot_common) */
    int drawn = draw_plots();
    if (drawn < 0) {
        fprintf(stderr, "causeway bench: cannot write the plots in %s\n", dir);
        return CLI_FAIL;
    }
    if (drawn == 0 && run(probe, true) != 0) { /* without data for any plot, none is drawn either */
        fputs("causeway bench: no plot drawn: gnuplot did not run, or has no pngcairo terminal "
              "(apt-get install gnuplot-nox)\n", stderr);
        return CLI_FAIL;
    }
    printf("wrote %s/bench.json, its tables (*.dat, *.csv, e2e.csv)%s\n", dir,
           drawn ? " and the plots above" : "; the benchmarks run feed no plot");
    return CLI_OK;
}
