/* The causeway command: one function per top-level subcommand. */
#ifndef CW_CLI_H
#define CW_CLI_H

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cli_clock(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_stress(int argc, char **argv);
int cli_sim(int argc, char **argv);
int cli_bench(int argc, char **argv);

#endif
