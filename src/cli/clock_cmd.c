/* causeway clock ...: inspect and convert clocks and X-VectorClock headers,
 * e.g. to debug what a .NET (Clockworks) service sent. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"
#include "report.h"

/* The most an operand read from a file or standard input may hold: the
 * longest clock text (65,536 entries of "65535:18446744073709551615,", about
 * 1.8 MB) or header, with room to spare; an endless input (/dev/zero, a pipe
 * that never closes) is refused rather than read until memory runs out. */
#define CLOCK_TEXT_MAX ((size_t)64 << 20)

/* The subcommand being run, for its messages. */
static const char *current = "clock";

static int fail(const char *what, const char *input, int rc)
{
    char q[96];
    fprintf(stderr, "causeway %s: %s %s: %s\n", current, what, cli_quote(input, q, sizeof q),
            cw_strerror(rc));
    return CLI_FAIL;
}

static const char clock_form[] =
    "a clock is ID:COUNTER pairs joined by commas, e.g. 1:2,5:1; ids 0 to 65535, counters\n"
    "0 to 2^64-1 (a counter of 0 is the same as none); \"\" is the empty clock";

/* Set when an operand was refused as a usage error (exit 2), not for what
 * it held. */
static bool operand_misused;

/* An operand's text: itself, or all of standard input for "-", or a file's
 * contents for "@FILE" (a large clock does not fit on a command line).
 * Trailing white space (space, tab, CR, LF: the newline of a file) is
 * dropped. The result is the operand itself or *owned (free it). */
static const char *operand_text(const char *arg, char **owned)
{
    *owned = NULL;
    if (strcmp(arg, "-") != 0 && arg[0] != '@')
        return arg;
    static bool stdin_read; /* a second "-" would read nothing: the empty clock, silently */
    if (strcmp(arg, "-") == 0 && stdin_read) {
        fprintf(stderr, "causeway %s: '-' given twice: standard input holds one operand\n", current);
        operand_misused = true;
        return NULL;
    }
    stdin_read |= strcmp(arg, "-") == 0;
    FILE *f = strcmp(arg, "-") == 0 ? stdin : fopen(arg + 1, "rb");
    if (!f) {
        char q[96];
        fprintf(stderr, "causeway %s: cannot read %s: %s\n", current, cli_quote(arg + 1, q, sizeof q),
                strerror(errno)); /* only a file can fail to open */
        return NULL;
    }
    size_t len = 0;
    errno = 0;
    char *text = cli_read_all(f, CLOCK_TEXT_MAX, &len);
    int err = text ? 0 : errno;
    if (f != stdin)
        fclose(f);
    if (!text) {
        fprintf(stderr, "causeway %s: cannot read %s: %s\n", current,
                strcmp(arg, "-") == 0 ? "standard input" : arg + 1,
                err == EFBIG ? "more than 64 MiB, longer than any clock or header"
                             : err ? strerror(err) : "read error");
        return NULL;
    }
    while (len && text[len - 1] && strchr(" \t\r\n", text[len - 1]))
        len--;
    text[len] = '\0';
    if (strlen(text) != len) { /* the text would end at its first NUL, silently */
        fprintf(stderr, "causeway %s: %s holds a NUL byte: not a clock or header in text form\n", current,
                strcmp(arg, "-") == 0 ? "standard input" : arg + 1);
        free(text);
        return NULL;
    }
    return *owned = text;
}

static int parse_arg(cw_vclock *c, const char *arg)
{
    char *owned;
    const char *text = operand_text(arg, &owned);
    if (!text)
        return operand_misused ? CLI_USAGE : CLI_FAIL;
    int rc = cw_vclock_parse(c, text, strlen(text));
    if (rc != CW_OK) {
        fail("cannot parse clock", text, rc);
        fprintf(stderr, "(%s)\n", clock_form);
    }
    free(owned);
    return rc == CW_OK ? CLI_OK : CLI_FAIL;
}

static int print_clock(const cw_vclock *c)
{
    char *text = cli_clock_text(c);
    if (!text)
        return fail("cannot format clock", "", CW_ENOMEM);
    puts(text);
    free(text);
    return CLI_OK;
}

static int cmd_compare(int argc, char **argv)
{
    (void)argc;
    cw_vclock a, b;
    cw_vclock_init(&a);
    cw_vclock_init(&b);
    int rc = parse_arg(&a, argv[0]);
    if (rc == CLI_OK)
        rc = parse_arg(&b, argv[1]);
    if (rc == CLI_OK)
        puts(cw_order_name(cw_vclock_compare(&a, &b)));
    cw_vclock_destroy(&a);
    cw_vclock_destroy(&b);
    return rc;
}

static int cmd_merge(int argc, char **argv)
{
    cw_vclock acc, next;
    cw_vclock_init(&acc);
    cw_vclock_init(&next);
    int rc = CLI_OK;
    for (int i = 0; i < argc && rc == CLI_OK; i++) {
        rc = parse_arg(&next, argv[i]);
        int err;
        if (rc == CLI_OK && (err = cw_vclock_merge(&acc, &next)) != CW_OK)
            rc = fail("cannot merge", argv[i], err);
    }
    if (rc == CLI_OK)
        rc = print_clock(&acc);
    cw_vclock_destroy(&acc);
    cw_vclock_destroy(&next);
    return rc;
}

static int cmd_encode(int argc, char **argv)
{
    (void)argc;
    cw_vclock c;
    cw_vclock_init(&c);
    int rc = parse_arg(&c, argv[0]);
    if (rc == CLI_OK) {
        size_t len = cw_vclock_encoded_size(&c);
        uint8_t *buf = malloc(len);
        if (!buf || cw_vclock_encode(&c, buf, len, &len) != CW_OK) {
            rc = fail("cannot encode", argv[0], CW_ENOMEM);
        } else {
            for (size_t i = 0; i < len; i++)
                printf("%02x", buf[i]);
            putchar('\n');
        }
        free(buf);
    }
    cw_vclock_destroy(&c);
    return rc;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

static int cmd_decode(int argc, char **argv)
{
    (void)argc;
    /* Hex digits, optionally grouped with spaces, as docs/formats.md writes them. */
    char *owned;
    const char *hex = operand_text(argv[0], &owned);
    if (!hex)
        return CLI_FAIL;
    size_t n = strlen(hex);
    uint8_t *buf = malloc(n / 2 + 1);
    if (!buf) {
        int rc = fail("cannot decode", hex, CW_ENOMEM);
        free(owned);
        return rc;
    }
    size_t len = 0;
    int half = -1;
    for (size_t i = 0; i < n; i++) {
        if (hex[i] == ' ' || hex[i] == '|' || hex[i] == '\n')
            continue;
        int d = hex_digit(hex[i]);
        if (d < 0) {
            int rc = fail("not hex", hex, CW_EPARSE);
            free(buf);
            free(owned);
            return rc;
        }
        if (half < 0) {
            half = d;
        } else {
            buf[len++] = (uint8_t)(half << 4 | d);
            half = -1;
        }
    }
    if (half >= 0) {
        int rc = fail("odd number of hex digits", hex, CW_EPARSE);
        free(buf);
        free(owned);
        return rc;
    }
    cw_vclock c;
    cw_vclock_init(&c);
    size_t consumed = 0;
    int err = cw_vclock_decode(&c, buf, len, &consumed);
    int rc = err == CW_OK ? print_clock(&c) : fail("cannot decode", hex, err);
    if (rc == CLI_OK && consumed < len)
        fprintf(stderr, "causeway clock: %zu trailing byte(s) after the clock\n", len - consumed);
    cw_vclock_destroy(&c);
    free(buf);
    free(owned);
    return rc;
}

static int cmd_header(int argc, char **argv)
{
    (void)argc;
    char *owned;
    const char *text = operand_text(argv[0], &owned);
    if (!text)
        return CLI_FAIL;
    cw_header h;
    cw_header_init(&h);
    int err = cw_header_parse(&h, text, strlen(text));
    if (err != CW_OK) {
        int rc = fail("cannot parse header", text, err);
        fputs("(a header is CLOCK[;CORRELATION[;CAUSATION]], ids as 32 hex digits or GUIDs)\n", stderr);
        free(owned);
        return rc;
    }
    free(owned);
    char id[33];
    fputs("clock: ", stdout);
    int rc = print_clock(&h.clock);
    if (h.has_correlation && cw_uuid_format(&h.correlation, id, sizeof id) == CW_OK)
        printf("correlation: %s\n", id);
    if (h.has_causation && cw_uuid_format(&h.causation, id, sizeof id) == CW_OK)
        printf("causation: %s\n", id);
    cw_header_destroy(&h);
    return rc;
}

static const char operand_note[] =
    "Any clock or header operand may be \"-\" to read it from standard input, or @FILE to\n"
    "read it from FILE (a large clock does not fit on a command line).\n";

int cli_clock(int argc, char **argv)
{
    static const struct {
        const char *name, *operands, *summary;
        int min, max;
        int (*run)(int, char **);
    } cmds[] = {
        {"compare", "A B", "The order of two clocks: EQUAL, BEFORE, AFTER or CONCURRENT.", 2, 2, cmd_compare},
        {"merge", "A [B...]", "The pointwise maximum of the clocks, in canonical text form.", 1, -1, cmd_merge},
        {"encode", "A", "The binary wire form of a clock, as hex.", 1, 1, cmd_encode},
        {"decode", "HEX", "The text form of a binary-encoded clock (hex, spaces allowed).", 1, 1, cmd_decode},
        {"header", "H", "Parses an X-VectorClock header: clock;correlation;causation.", 1, 1, cmd_header},
    };
    cli_command top = {.path = "clock", .operands = "compare|merge|encode|decode|header ...",
                       .summary = "Inspect and convert clocks and X-VectorClock headers:\n"
                                  "  compare A B, merge A [B...], encode A, decode HEX, header H",
                       .details = operand_note, .min_operands = 1, .max_operands = -1};
    if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        cli_help(&top, argc ? stdout : stderr);
        return argc ? CLI_OK : CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[0], cmds[i].name) != 0)
            continue;
        char path[32];
        snprintf(path, sizeof path, "clock %s", cmds[i].name);
        current = path;
        cli_command c = {.path = path, .operands = cmds[i].operands, .summary = cmds[i].summary,
                         .details = operand_note, .min_operands = cmds[i].min, .max_operands = cmds[i].max};
        int first, rc = cli_parse(&c, argc - 1, argv + 1, &first);
        if (rc != CLI_OK)
            return rc == CLI_HELP ? CLI_OK : rc;
        return cmds[i].run(argc - 1 - first, argv + 1 + first);
    }
    char q[96];
    return cli_usage_error(&top, "unknown subcommand %s", cli_quote(argv[0], q, sizeof q));
}
