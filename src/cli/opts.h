/* Command-line options, declared once per command: the same table parses
 * the arguments, checks every value against its range, and prints the help.
 *
 * Every error names the option, the value given and what is allowed, e.g.
 *   causeway stress: --nodes '4294967297': expected a whole number from 1 to 65536
 * and parsing returns CLI_USAGE (exit 2). Numbers are strict: decimal digits
 * only (no sign, no spaces, no empty string, no hex unless the option says
 * so), within the range, never wrapped or clamped. */
#ifndef CW_CLI_OPTS_H
#define CW_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cli_kind {
    CLI_UINT,    /* uint64_t *, within [min, max] */
    CLI_UINT32,  /* uint32_t *, within [min, max] (max <= UINT32_MAX) */
    CLI_REAL,    /* double *, finite, within [rmin, rmax] */
    CLI_TEXT,    /* const char **, non-empty */
    CLI_FLAG,    /* bool *, takes no value */
    CLI_CHOICE   /* int *: the index of the value in `choices` ("a|b|c") */
} cli_kind;

typedef struct cli_opt {
    const char *name;     /* "nodes" for --nodes */
    cli_kind kind;
    void *dest;           /* holds the default before parsing */
    const char *arg;      /* the value's name in the help, e.g. "N" */
    const char *help;     /* one line: what it is */
    uint64_t min, max;    /* CLI_UINT, CLI_UINT32 */
    double rmin, rmax;    /* CLI_REAL */
    const char *choices;  /* CLI_CHOICE */
    const char *default_text; /* the default as the help shows it; NULL: from dest */
    bool required;
    const char *required_unless; /* with required: another option's name that gives this one */
    bool output;          /* where results go, not what runs: left out of cli_command_line */
    bool conditional;     /* means something only with another option: left out of
                             cli_command_line unless given */
    bool seen;            /* set by cli_parse */
} cli_opt;

typedef struct cli_command {
    const char *path;     /* "stress", "clock merge" */
    const char *operands; /* what follows the options in the synopsis, or NULL */
    const char *summary;  /* one line */
    const char *details;  /* paragraphs after the option list, or NULL */
    cli_opt *opts;
    size_t count;
    int min_operands, max_operands; /* max -1: any number */
} cli_command;

/* Table entries, e.g. CLI_OPT_UINT32("nodes", &n, "N", "replicas", 1, 65536).
 * Further fields (required, default_text) follow as designated initializers. */
#define CLI_OPT_UINT(nm, d, a, h, lo, hi) \
    .name = (nm), .kind = CLI_UINT, .dest = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)
#define CLI_OPT_UINT32(nm, d, a, h, lo, hi) \
    .name = (nm), .kind = CLI_UINT32, .dest = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)
#define CLI_OPT_REAL(nm, d, a, h, lo, hi) \
    .name = (nm), .kind = CLI_REAL, .dest = (d), .arg = (a), .help = (h), .rmin = (lo), .rmax = (hi)
#define CLI_OPT_TEXT(nm, d, a, h) .name = (nm), .kind = CLI_TEXT, .dest = (d), .arg = (a), .help = (h)
#define CLI_OPT_FLAG(nm, d, h) .name = (nm), .kind = CLI_FLAG, .dest = (d), .help = (h)
#define CLI_OPT_CHOICE(nm, d, a, h, ch) \
    .name = (nm), .kind = CLI_CHOICE, .dest = (d), .arg = (a), .help = (h), .choices = (ch)

/* Extra exit code of cli_parse: help was asked for and printed (exit 0). */
enum { CLI_HELP = -1 };

/* Parses argv[0..argc) (the arguments after the command's name): options in
 * any order, then operands (`--` ends the options). Sets each option's dest
 * and `seen`; *operands (nullable) gets the index of the first operand.
 * Returns CLI_OK, CLI_HELP (--help or -h: the help went to stdout), or
 * CLI_USAGE (the reason went to stderr). */
int cli_parse(cli_command *c, int argc, char **argv, int *operands);

/* The command's help: synopsis, summary, every option with its range and
 * default, then the details. */
void cli_help(const cli_command *c, FILE *to);

/* An error about the command's use: "causeway PATH: ..." on stderr, then a
 * pointer to its help. Returns CLI_USAGE. */
int cli_usage_error(const cli_command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The command line that runs the command again with every option as it is
 * now (after cli_parse: as given, defaulted or set by the command), except
 * output options, options whose value is outside their range (a default
 * such as "none"), and conditional options not given; values shell-quoted
 * where needed, reals in the shortest text that reads back exactly. Malloc'd (the caller frees it), or NULL when out of memory. */
char *cli_command_line(const cli_command *c);

/* strtod for a number within an option's value (--partition START:LEN):
 * decimal only, as whole numbers are, finite and in range; nothing before
 * it (a blank, a newline) and no hex float. *end is s when no number was
 * taken; else the first character after it. */
double cli_strtod(const char *s, char **end);

/* Whether option --name was given (after cli_parse). */
bool cli_seen(const cli_command *c, const char *name);

/* Marks option --name conditional once the parse shows it means nothing in
 * this run: cli_command_line then leaves it out unless it was given. */
void cli_conditional(cli_command *c, const char *name);

/* Whether a file can be written at path: opened to append if it is there,
 * else made and removed again (the command writes it when it has something
 * to say); a link to nothing gets its target made. 0, or why not (errno). */
int cli_writable(const char *path);
/* cli_writable for option --opt's file, before a run: CLI_OK, or a usage
 * error naming the reason. */
int cli_check_writable(const cli_command *c, const char *opt, const char *path);
/* The --json file of a run, checked among the options: CLI_OK, or a usage
 * error naming the reason. "-" and a path to the same file or pipe as
 * standard output (which holds the report) are refused; the rest is
 * cli_check_writable. Nothing is changed. */
int cli_check_json(const cli_command *c, const char *path);
/* Once every option is accepted, before the run: a --json regular file (or
 * none yet) is made empty, so that no earlier run's verdict outlives a run
 * that ends without writing its own. CLI_OK, or a usage error. */
int cli_empty_json(const cli_command *c, const char *path);
/* Whether a and b are both there and one file (any names, links). */
bool cli_same_file(const char *a, const char *b);

/* Quotes user input for an error message: at most 40 characters of it, then
 * an ellipsis and its full length, so a huge argument is not echoed back. */
const char *cli_quote(const char *text, char *buf, size_t cap);

#endif
