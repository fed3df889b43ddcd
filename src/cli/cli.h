/* The causeway command: one function per top-level subcommand. */
#ifndef CW_CLI_H
#define CW_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses. CLI_ERROR: a command whose 1 means a verdict (check) could
 * not reach one (out of memory, its report not written). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_ERROR = 3 };

int cli_clock(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_stress(int argc, char **argv);
int cli_sim(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_node(int argc, char **argv);
int cli_keygen(int argc, char **argv);
int cli_cluster(int argc, char **argv);
int cli_check(int argc, char **argv);

/* Everything f holds from its position on, NUL-terminated (the text may hold
 * NULs of its own: *len_out counts them). NULL on a read error, out of
 * memory, or past max bytes (errno EFBIG). Free the result. */
char *cli_read_all(FILE *f, size_t max, size_t *len_out);

/* Makes room for `need` open files: when the hard limit (into *hard)
 * allows them, raises the soft limit to it, so the process takes all the
 * room there is. 0; 1 when the hard limit is below need; -1 when getrlimit
 * failed, -2 when raising the soft limit did (errno). */
int cli_open_files(uint64_t need, uint64_t *hard);

#endif
