/* causeway: the command-line front end. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <causeway/causeway.h>

#include "cli.h"

static void usage(FILE *to)
{
    fputs("usage: causeway <command> [options] [args]\n"
          "\n"
          "commands:\n"
          "  demo          a causal key-value store on 3 replicas, step by step\n"
          "  stress        concurrent writers under faults, verified against ground truth\n"
          "  sim           one seeded schedule of the deterministic simulator, verified\n"
          "  bench         run the benchmark suite: JSON, CSV and gnuplot tables, plots\n"
          "  clock         compare, merge, encode and decode clocks and X-VectorClock headers\n"
          "  node          one replica as a process: ZeroMQ replication, the HTTP API\n"
          "  cluster       N node processes on 127.0.0.1, and the causal key-value scenario\n"
          "  check         judge replicas (any system's) from their JSON Lines traces\n"
          "  keygen        a CURVE key pair for encrypted, authenticated links\n"
          "  version       library version and the active SIMD path\n"
          "  help [CMD]    this list, or a command's options with their ranges and defaults\n"
          "\n"
          "'causeway CMD --help' is the same as 'causeway help CMD'.\n",
          to);
}

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static int version(int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        puts("usage: causeway version\n\nThe library version and the active SIMD path.");
        return CLI_OK;
    }
    if (argc > 0) {
        fprintf(stderr, "causeway version: unexpected argument '%.40s'\n", argv[0]);
        return CLI_USAGE;
    }
    printf("causeway %s (simd: %s)\n", cw_version(), cw_isa_name(cw_isa_active()));
    return CLI_OK;
}

static const command commands[] = {
    {"demo", cli_demo}, {"stress", cli_stress}, {"sim", cli_sim}, {"bench", cli_bench},
    {"clock", cli_clock}, {"node", cli_node}, {"cluster", cli_cluster}, {"check", cli_check}, {"keygen", cli_keygen}, {"version", version},
};

static const command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* What the command wrote must have reached its output: a full disk, or a
 * closed stream, is a failure (exit 1; 3 for check, sim and stress, whose
 * 1 is a violation), not a success with the output lost. (A closed pipe
 * ends other commands by SIGPIPE, as a pipeline's `| head` expects; check,
 * sim and stress ignore it, so that their exit status still says there was
 * no verdict. stress's node processes get SIGPIPE's default back as they
 * start.) */
static int finish(int status, bool verdict_is_one, bool stdout_closed)
{
    /* A write that failed before this flush left only the stream's error
     * flag: its reason (ENOSPC, EPIPE) is gone by now, so none is guessed. */
    bool flushed = fflush(stdout) == 0;
    int err = errno;
    const char *why = stdout_closed ? "standard output is closed"
                      : !flushed    ? strerror(err)
                      : ferror(stdout) ? "part of it could not be written (a full disk or a closed pipe?)"
                                       : NULL;
    if (why) {
        fprintf(stderr, "causeway: cannot write the output: %s\n", why);
        return status != CLI_OK ? status : verdict_is_one ? CLI_ERROR : CLI_FAIL;
    }
    return status;
}

/* Descriptors 0, 1 and 2 that were closed are opened on /dev/null: the
 * next file opened would take one, and what goes to standard output (a
 * node's banner) would go into it (a trace, the data directory's lock).
 * Returns whether standard output was closed (its output lost: finish). */
static bool hold_std_fds(void)
{
    bool stdout_closed = false;
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY); /* the lowest free: fd itself */
        if (got >= 0 && got != fd) {
            dup2(got, fd);
            close(got);
        }
        stdout_closed |= fd == 1;
    }
    return stdout_closed;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    bool verdict = argc > 1 && (strcmp(argv[1], "check") == 0 || strcmp(argv[1], "sim") == 0 ||
                                strcmp(argv[1], "stress") == 0); /* 1: a violation */
    if (verdict)
        signal(SIGPIPE, SIG_IGN);
    bool stdout_closed = hold_std_fds();
    /* A node's standard output is its banner alone (what it says goes to
     * stderr): a server started with it closed has lost nothing. */
    if (argc > 1 && strcmp(argv[1], "node") == 0)
        stdout_closed = false;
    int status = dispatch(argc, argv);
    return finish(status, verdict, stdout_closed);
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0 ||
            strcmp(argv[2], "help") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        /* help CMD [SUB]: the command's own --help */
        const command *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "causeway help: unknown command '%.40s'\n", argv[2]);
            usage(stderr);
            return CLI_USAGE;
        }
        /* Only clock has subcommands: anything more was taken for the
         * command's own arguments ('help sim x': "--seed is required"). */
        int most = strcmp(argv[2], "clock") == 0 ? 4 : 3;
        if (argc > most) {
            fprintf(stderr, "causeway help: unexpected argument '%.40s' (help takes one command, and for clock "
                    "a subcommand: 'causeway help clock merge')\n", argv[most]);
            return CLI_USAGE;
        }
        char *args[3] = {argc > 3 ? argv[3] : "--help", "--help", NULL};
        return c->run(argc > 3 ? 2 : 1, args);
    }
    const command *c = find(cmd);
    if (c)
        return c->run(argc - 2, argv + 2);
    fprintf(stderr, "causeway: unknown command '%.40s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
