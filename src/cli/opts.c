/* Command-line options from one table per command (see opts.h).
 *
 * Invariants:
 *  1. A value is stored only once it has been checked whole: a number that
 *     fails any check leaves the option's default in place and fails parsing.
 *  2. Every message that repeats user input goes through cli_quote, so no
 *     argument is echoed back longer than 40 characters.
 */
#include "opts.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *cli_quote(const char *text, char *buf, size_t cap)
{
    size_t len = strlen(text);
    if (len <= 40)
        snprintf(buf, cap, "'%s'", text);
    else
        snprintf(buf, cap, "'%.40s...' (%zu characters)", text, len);
    return buf;
}

int cli_usage_error(const cli_command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "causeway %s: ", c->path);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'causeway help %s')\n", c->path);
    return CLI_USAGE;
}

static void range_text(const cli_opt *o, char *buf, size_t cap)
{
    switch (o->kind) {
    case CLI_UINT:
    case CLI_UINT32:
        if (o->max == UINT64_MAX || o->max == INT64_MAX)
            snprintf(buf, cap, "a whole number from %llu to 2^%d-1", (unsigned long long)o->min,
                     o->max == UINT64_MAX ? 64 : 63);
        else
            snprintf(buf, cap, "a whole number from %llu to %llu", (unsigned long long)o->min,
                     (unsigned long long)o->max);
        break;
    case CLI_REAL:
        snprintf(buf, cap, "a number from %g to %g", o->rmin, o->rmax);
        break;
    case CLI_CHOICE:
        snprintf(buf, cap, "one of %s", o->choices);
        break;
    case CLI_TEXT:
        snprintf(buf, cap, "a non-empty value");
        break;
    case CLI_FLAG:
        buf[0] = '\0';
        break;
    }
}

double cli_strtod(const char *s, char **end)
{
    *end = (char *)s;
    if (!*s || !strchr("0123456789.+-", *s)) /* strtod would skip any blank (a newline too) */
        return NAN;
    errno = 0;
    char *stop;
    double x = strtod(s, &stop);
    /* decimal only, as the whole numbers: no hex float, nothing out of range */
    if (stop == s || errno == ERANGE || !isfinite(x) || memchr(s, 'x', (size_t)(stop - s)) ||
        memchr(s, 'X', (size_t)(stop - s)))
        return NAN;
    *end = stop;
    return x;
}

static bool parse_uint(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9') /* strtoull would take a sign or spaces */
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* The index of s among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *s)
{
    size_t len = strlen(s);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && len && strncmp(p, s, n) == 0)
            return i;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

static int set_value(const cli_command *c, cli_opt *o, const char *v)
{
    char q[96], range[96];
    range_text(o, range, sizeof range);
    switch (o->kind) {
    case CLI_UINT:
    case CLI_UINT32: {
        uint64_t x;
        if (!parse_uint(v, &x) || x < o->min || x > o->max)
            return cli_usage_error(c, "--%s %s: expected %s", o->name, cli_quote(v, q, sizeof q), range);
        if (o->kind == CLI_UINT)
            *(uint64_t *)o->dest = x;
        else
            *(uint32_t *)o->dest = (uint32_t)x;
        break;
    }
    case CLI_REAL: {
        char *end;
        double x = cli_strtod(v, &end);
        if (end == v || *end || x < o->rmin || x > o->rmax)
            return cli_usage_error(c, "--%s %s: expected %s", o->name, cli_quote(v, q, sizeof q), range);
        *(double *)o->dest = x;
        break;
    }
    case CLI_TEXT:
        if (!*v)
            return cli_usage_error(c, "--%s: expected %s", o->name, range);
        *(const char **)o->dest = v;
        break;
    case CLI_CHOICE: {
        int i = choice_index(o->choices, v);
        if (i < 0)
            return cli_usage_error(c, "--%s %s: expected %s", o->name, cli_quote(v, q, sizeof q), range);
        *(int *)o->dest = i;
        break;
    }
    case CLI_FLAG:
        *(bool *)o->dest = true;
        break;
    }
    o->seen = true;
    return CLI_OK;
}

static cli_opt *find(cli_command *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->count; i++)
        if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, name, len) == 0)
            return &c->opts[i];
    return NULL;
}

int cli_parse(cli_command *c, int argc, char **argv, int *operands)
{
    char q[96];
    int i = 0;
    bool ended = false; /* "--": what follows is operands, whatever it looks like */
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            ended = true;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_help(c, stdout);
            return CLI_HELP;
        }
        if (a[0] != '-' || a[1] == '\0') /* "-" is an operand (standard input) */
            break;
        if (a[1] != '-')
            return cli_usage_error(c, "unknown option %s (options are spelled --name)",
                                   cli_quote(a, q, sizeof q));
        const char *name = a + 2, *eq = strchr(name, '=');
        cli_opt *o = find(c, name, eq ? (size_t)(eq - name) : strlen(name));
        if (!o)
            return cli_usage_error(c, "unknown option %s", cli_quote(a, q, sizeof q));
        if (o->seen) /* the last would win: a second --kill would be dropped unsaid */
            return cli_usage_error(c, "--%s given twice", o->name);
        if (o->kind == CLI_FLAG) {
            if (eq)
                return cli_usage_error(c, "--%s takes no value", o->name);
            set_value(c, o, "");
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            char range[96];
            range_text(o, range, sizeof range);
            return cli_usage_error(c, "--%s needs a value (%s: %s)", o->name, o->arg, range);
        }
        if (set_value(c, o, v) != CLI_OK)
            return CLI_USAGE;
    }
    for (size_t k = 0; k < c->count; k++) {
        const cli_opt *o = &c->opts[k];
        if (!o->required || o->seen)
            continue;
        if (!o->required_unless)
            return cli_usage_error(c, "--%s is required", o->name);
        if (!cli_seen(c, o->required_unless))
            return cli_usage_error(c, "--%s is required (or --%s)", o->name, o->required_unless);
    }
    /* An option after the operands would be taken for one (a trace file
     * named --policy): say where it goes instead. */
    for (int k = i; !ended && k < argc; k++) {
        const char *a = argv[k], *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && a[2] && find(c, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2)))
            return cli_usage_error(c, "%s after %s: options go before %s", cli_quote(a, q, sizeof q),
                                   argv[i], c->operands ? c->operands : "the arguments");
    }
    int n = argc - i;
    if (n < c->min_operands || (c->max_operands >= 0 && n > c->max_operands)) {
        if (n > 0 && c->max_operands == 0)
            return cli_usage_error(c, "unexpected argument %s", cli_quote(argv[i], q, sizeof q));
        return cli_usage_error(c, "expected %s", c->operands ? c->operands : "no arguments");
    }
    if (operands)
        *operands = i;
    return CLI_OK;
}

/* The shortest text that reads back as exactly x. */
static void real_text(double x, char *buf, size_t cap)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* The option's value now: the default before parsing, the value after. */
static void value_text(const cli_opt *o, char *buf, size_t cap)
{
    switch (o->kind) {
    case CLI_UINT: snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)o->dest); break;
    case CLI_UINT32: snprintf(buf, cap, "%u", *(const uint32_t *)o->dest); break;
    case CLI_REAL: real_text(*(const double *)o->dest, buf, cap); break;
    case CLI_TEXT: {
        const char *s = *(const char *const *)o->dest;
        snprintf(buf, cap, "%s", s ? s : "none");
        break;
    }
    case CLI_FLAG: snprintf(buf, cap, "%s", *(const bool *)o->dest ? "on" : "off"); break;
    case CLI_CHOICE: {
        int idx = *(const int *)o->dest;
        const char *p = o->choices;
        for (int k = 0; k < idx && p; k++)
            if ((p = strchr(p, '|')) != NULL)
                p++;
        size_t n = p ? strcspn(p, "|") : 0;
        snprintf(buf, cap, "%.*s", (int)n, p ? p : "");
        break;
    }
    }
}

static void default_text(const cli_opt *o, char *buf, size_t cap)
{
    if (o->default_text)
        snprintf(buf, cap, "%s", o->default_text);
    else
        value_text(o, buf, cap);
}

/* Appends text to the growing string *s (length *len), shell-quoted if
 * `quote` and it holds anything but [A-Za-z0-9_./:=,+-]. False when out of memory. */
static bool append(char **s, size_t *len, const char *text, bool quote)
{
    bool plain = !quote || (*text && strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                  "0123456789_./:=,+-") == strlen(text));
    size_t need = *len + 4 * strlen(text) + 3;
    char *grown = realloc(*s, need);
    if (!grown)
        return false;
    *s = grown;
    char *p = grown + *len;
    if (plain) {
        p += sprintf(p, "%s", text);
    } else { /* 'it'\''s' */
        *p++ = '\'';
        for (const char *t = text; *t; t++) {
            if (*t == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *t;
            }
        }
        *p++ = '\'';
        *p = '\0';
    }
    *len = (size_t)(p - grown);
    return true;
}

/* The option's value is one it accepts (a default may be outside the
 * range: "none", or computed after parsing). */
static bool value_in_range(const cli_opt *o)
{
    switch (o->kind) {
    case CLI_UINT: {
        uint64_t v = *(const uint64_t *)o->dest;
        return v >= o->min && v <= o->max;
    }
    case CLI_UINT32: {
        uint32_t v = *(const uint32_t *)o->dest;
        return v >= o->min && v <= o->max;
    }
    case CLI_REAL: {
        double v = *(const double *)o->dest;
        return v >= o->rmin && v <= o->rmax;
    }
    case CLI_TEXT: return *(const char *const *)o->dest != NULL;
    case CLI_FLAG: return *(const bool *)o->dest;
    case CLI_CHOICE: return true;
    }
    return false;
}

char *cli_command_line(const cli_command *c)
{
    char *s = NULL, buf[64];
    size_t len = 0;
    bool ok = append(&s, &len, "causeway ", false) && append(&s, &len, c->path, false);
    for (size_t i = 0; ok && i < c->count; i++) {
        const cli_opt *o = &c->opts[i];
        if (o->output || !value_in_range(o) || (o->conditional && !o->seen))
            continue;
        ok = append(&s, &len, " --", false) && append(&s, &len, o->name, false);
        if (ok && o->kind != CLI_FLAG) {
            const char *v = buf;
            if (o->kind == CLI_TEXT)
                v = *(const char *const *)o->dest;
            else
                value_text(o, buf, sizeof buf);
            ok = append(&s, &len, " ", false) && append(&s, &len, v, true);
        }
    }
    if (!ok) {
        free(s);
        return NULL;
    }
    return s;
}

void cli_help(const cli_command *c, FILE *to)
{
    fprintf(to, "usage: causeway %s%s%s%s\n\n%s\n", c->path, c->count ? " [options]" : "",
            c->operands ? " " : "", c->operands ? c->operands : "", c->summary);
    if (c->count)
        fputs("\noptions:\n", to);
    for (size_t i = 0; i < c->count; i++) {
        const cli_opt *o = &c->opts[i];
        char head[64], range[96], def[96];
        snprintf(head, sizeof head, "--%s%s%s", o->name, o->kind == CLI_FLAG ? "" : " ",
                 o->kind == CLI_FLAG ? "" : o->arg);
        if (strlen(head) > 22) /* too long for the column: the help starts under it */
            fprintf(to, "  %s\n  %-22s ", head, "");
        else
            fprintf(to, "  %-22s ", head);
        for (const char *h = o->help; *h; h++) { /* a help of several lines: each under the first */
            if (*h == '\n' && h[1])
                fprintf(to, "\n  %-22s ", "");
            else
                fputc(*h, to);
        }
        fputc('\n', to);
        range_text(o, range, sizeof range);
        default_text(o, def, sizeof def);
        if (o->kind != CLI_FLAG && o->required)
            fprintf(to, "  %-22s %s; required%s%s\n", "", range, o->required_unless ? " unless --" : "",
                    o->required_unless ? o->required_unless : "");
        else if (o->kind != CLI_FLAG)
            fprintf(to, "  %-22s %s; default %s\n", "", range, def);
    }
    fputs("  --help                 this help\n", to);
    if (c->details)
        fprintf(to, "\n%s", c->details);
}

int cli_writable(const char *path)
{
    /* O_EXCL makes a file only where nothing is, and follows no link: a
     * file made here is a regular file this call made, and it goes again
     * (the command writes it when it has something to say). What is there
     * already is opened to append, nothing more; a link to nothing gets its
     * target made, and kept. A FIFO is not opened: its reader would take
     * this call's close for the end of its input and go, and the command's
     * write would then wait for a reader for ever. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
        close(fd);
        unlink(path);
        return 0;
    }
    int made = errno;
    struct stat st;
    if (made == EEXIST && stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
        return access(path, W_OK) == 0 ? 0 : errno; /* its permission, without opening it */
    errno = made;
    if (errno == EEXIST) {
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    }
    if (fd < 0)
        return errno ? errno : EIO;
    close(fd);
    return 0;
}

int cli_check_writable(const cli_command *c, const char *opt, const char *path)
{
    int err = cli_writable(path);
    if (err) {
        char q[96];
        return cli_usage_error(c, "--%s %s: cannot write it: %s", opt, cli_quote(path, q, sizeof q), strerror(err));
    }
    return CLI_OK;
}

int cli_check_json(const cli_command *c, const char *path)
{
    char q[96];
    if (strcmp(path, "-") == 0)
        return cli_usage_error(c, "--json -: standard output holds the report: give a file");
    struct stat st, out;
    bool there = stat(path, &st) == 0;
    /* The same file as standard output (--json /dev/stdout): the report
     * would be written over the JSON, or mixed into what a pipe reads. A
     * terminal or /dev/null takes both unharmed. */
    if (there && fstat(STDOUT_FILENO, &out) == 0 && st.st_dev == out.st_dev && st.st_ino == out.st_ino &&
        (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)))
        return cli_usage_error(c, "--json %s is standard output, which holds the report: give another file",
                               cli_quote(path, q, sizeof q));
    return cli_check_writable(c, "json", path);
}

int cli_empty_json(const cli_command *c, const char *path)
{
    /* A regular file, or none yet: made empty now, so that an earlier run's
     * verdict never outlives a run that ends without its own (no verdict, a
     * signal, a full disk). A FIFO or a device is left alone. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return CLI_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        char q[96];
        return cli_usage_error(c, "--json %s: cannot write it: %s", cli_quote(path, q, sizeof q), strerror(errno));
    }
    close(fd);
    return CLI_OK;
}

bool cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool cli_seen(const cli_command *c, const char *name)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            return c->opts[i].seen;
    return false;
}

void cli_conditional(cli_command *c, const char *name)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            c->opts[i].conditional = true;
}
