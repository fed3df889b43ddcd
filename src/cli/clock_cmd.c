/* causeway clock ...: inspect and convert clocks and X-VectorClock headers,
 * e.g. to debug what a .NET (Clockworks) service sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "cli.h"

static int fail(const char *what, const char *input, int rc)
{
    fprintf(stderr, "causeway clock: %s '%s': %s\n", what, input, cw_strerror(rc));
    return CLI_FAIL;
}

static int parse_arg(cw_vclock *c, const char *text)
{
    int rc = cw_vclock_parse(c, text, strlen(text));
    return rc == CW_OK ? CLI_OK : fail("cannot parse clock", text, rc);
}

static int print_clock(const cw_vclock *c)
{
    size_t len;
    char small[256];
    if (cw_vclock_format(c, small, sizeof small, &len) == CW_OK) {
        puts(small);
        return CLI_OK;
    }
    char *buf = malloc(len + 1);
    if (!buf || cw_vclock_format(c, buf, len + 1, &len) != CW_OK) {
        free(buf);
        return fail("cannot format clock", "", CW_ENOMEM);
    }
    puts(buf);
    free(buf);
    return CLI_OK;
}

static int cmd_compare(int argc, char **argv)
{
    if (argc != 2)
        return CLI_USAGE;
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
    if (argc < 1)
        return CLI_USAGE;
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
    if (argc != 1)
        return CLI_USAGE;
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
    if (argc != 1)
        return CLI_USAGE;
    /* Hex digits, optionally grouped with spaces, as clock-formats.md writes them. */
    const char *hex = argv[0];
    size_t n = strlen(hex);
    uint8_t *buf = malloc(n / 2 + 1);
    if (!buf)
        return fail("cannot decode", hex, CW_ENOMEM);
    size_t len = 0;
    int half = -1;
    for (size_t i = 0; i < n; i++) {
        if (hex[i] == ' ' || hex[i] == '|')
            continue;
        int d = hex_digit(hex[i]);
        if (d < 0) {
            free(buf);
            return fail("not hex", hex, CW_EPARSE);
        }
        if (half < 0) {
            half = d;
        } else {
            buf[len++] = (uint8_t)(half << 4 | d);
            half = -1;
        }
    }
    if (half >= 0) {
        free(buf);
        return fail("odd number of hex digits", hex, CW_EPARSE);
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
    return rc;
}

static int cmd_header(int argc, char **argv)
{
    if (argc != 1)
        return CLI_USAGE;
    cw_header h;
    cw_header_init(&h);
    int err = cw_header_parse(&h, argv[0], strlen(argv[0]));
    if (err != CW_OK)
        return fail("cannot parse header", argv[0], err);
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

int cli_clock(int argc, char **argv)
{
    static const struct {
        const char *name, *args;
        int (*run)(int, char **);
    } cmds[] = {
        {"compare", "A B", cmd_compare}, {"merge", "A B...", cmd_merge},
        {"encode", "A", cmd_encode},     {"decode", "HEX", cmd_decode},
        {"header", "H", cmd_header},
    };
    for (size_t i = 0; argc > 0 && i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[0], cmds[i].name) != 0)
            continue;
        int rc = cmds[i].run(argc - 1, argv + 1);
        if (rc == CLI_USAGE)
            fprintf(stderr, "usage: causeway clock %s %s\n", cmds[i].name, cmds[i].args);
        return rc;
    }
    fputs("usage: causeway clock compare|merge|encode|decode|header ...\n", stderr);
    return CLI_USAGE;
}
