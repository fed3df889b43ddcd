/* causeway: the command-line front end. */
#include <stdio.h>
#include <string.h>

#include <causeway/causeway.h>

#include "cli.h"

static void usage(FILE *to)
{
    fputs("usage: causeway <command> [args]\n"
          "\n"
          "commands:\n"
          "  demo                   seed 003's causal key-value store on 3 replicas, step by step\n"
          "  stress --nodes N --writes W --keys K [--workers T] [--clients C] [--delay P]\n"
          "         [--max-delay-us U] [--dup P] [--policy siblings|lww] [--sequential]\n"
          "         [--seed S] [--json FILE]\n"
          "                         concurrent writers under faults, verified against ground truth\n"
          "  bench [--filter REGEX] [--out DIR] [--min-time S] [--repetitions N]\n"
          "                         run the benchmark suite, write JSON and PNG plots\n"
          "  clock compare A B      order of two clocks: EQUAL, BEFORE, AFTER or CONCURRENT\n"
          "  clock merge A B...     pointwise max of clocks, in canonical text form\n"
          "  clock encode A         binary wire form of a clock, as hex\n"
          "  clock decode HEX       text form of a binary-encoded clock\n"
          "  clock header H         parse an X-VectorClock header (clock;correlation;causation)\n"
          "  version                library version and the active SIMD path\n"
          "\n"
          "Clocks are in text form, e.g. \"1:2,2:3\"; \"\" is the empty clock.\n",
          to);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "clock") == 0)
        return cli_clock(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0)
        return cli_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "stress") == 0)
        return cli_stress(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0)
        return cli_bench(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("causeway %s (simd: %s)\n", cw_version(), cw_isa_name(cw_isa_active()));
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    fprintf(stderr, "causeway: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
