/* Judging replicas from their traces (see trace_check.h; the format and
 * what is checked: docs/traces.md).
 *
 * Invariants:
 *  1. Every number a trace gives is checked before it sizes or indexes
 *     anything: node ids and dot origins below the node count (at most
 *     CLI_TRACE_MAX_NODES), sequence numbers from 1, write tables sized by
 *     the writes the traces hold (a dot above them is a skipped sequence
 *     number, a violation), clocks and contexts as arrays of the node count.
 *  2. The history is built from the traces, replayed in an order that keeps
 *     each node's own order and puts every write before any apply of it
 *     elsewhere (any such order gives the same verdict: the history judges
 *     each node by its own sequence and each write by its origin's).
 *  3. Each restart of a node x (stress --kill, or in a trace an "install"
 *     after x did anything but read nothing) begins a history node of its own: the dead
 *     incarnation keeps its history node; the new one (restart j: history
 *     node n + j) starts empty, installs a state ("install" CLOCK) and is a
 *     replica of its own that starts by applying, in causal order, every
 *     write at or below CLOCK. Its own writes (x, s), s > CLOCK[x], are
 *     (n + j, s - CLOCK[x]) to the history, in every trace and clock (up
 *     to the next incarnation's CLOCK[x]). A dead incarnation, having no
 *     final state, is brought up to every write at the end, so the final
 *     checks judge its successor. A write of the dead incarnation above the
 *     next one's CLOCK[x] reached no surviving node: lost with the process,
 *     counted, and left out of the history (so are the dead incarnation's
 *     reads that returned one). Its dot written again by the new
 *     incarnation is a violation when a read had returned the lost write.
 *  4. The first violation is kept twice: as the judge's own text
 *     (violation, for procs.c, which prints it as it always did) and, with
 *     the history's, located at a trace line (first, for causeway check).
 */
#include "trace_check.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "map.h"
#include "vec.h"

#define HMAX CLI_TRACE_HMAX

/* A message quotes a trace's bytes (a line, a key): control characters in
 * it become '?', so a hostile trace cannot drive the terminal it is read on:
 * C0 and DEL; C1 (U+0080 to U+009F, bytes C2 80 to C2 9F in UTF-8, among
 * them CSI and OSC) as "??"; and every byte that is not part of valid
 * UTF-8 (a lone 9B is CSI to a terminal not in UTF-8 mode; an overlong
 * form or a surrogate, which JSON refuses, too). */
void cli_printable(char *s)
{
    for (unsigned char *u = (unsigned char *)s; *u;) {
        if (*u < 0x80) {
            if (*u < 0x20 || *u == 0x7f)
                *u = '?';
            u++;
            continue;
        }
        size_t n = *u >= 0xc2 && *u <= 0xdf ? 2 : *u >= 0xe0 && *u <= 0xef ? 3 : *u >= 0xf0 && *u <= 0xf4 ? 4 : 0;
        /* The second byte's range: narrower after E0 (overlong), ED
         * (surrogates), F0 (overlong) and F4 (past U+10FFFF). */
        unsigned lo = *u == 0xe0 ? 0xa0 : *u == 0xf0 ? 0x90 : 0x80, hi = *u == 0xed ? 0x9f : *u == 0xf4 ? 0x8f : 0xbf;
        size_t ok = n && u[1] >= lo && u[1] <= hi ? 2 : 0;
        while (ok && ok < n && u[ok] >= 0x80 && u[ok] <= 0xbf) /* stops at the NUL */
            ok++;
        if (!n || ok < n) { /* not a character: that byte alone */
            *u++ = '?';
            continue;
        }
        if (u[0] == 0xc2 && u[1] <= 0x9f)
            u[0] = u[1] = '?';
        u += n;
    }
}

const char *cli_trace_key(const cli_trace_event *e, char *buf, size_t cap)
{
    size_t n = e->key_len < CLI_TRACE_KEY_SHOWN ? e->key_len : CLI_TRACE_KEY_SHOWN;
    while (n < e->key_len && n > 0 && ((unsigned char)e->key[n] & 0xc0) == 0x80) /* not inside a character */
        n--;
    char shown[CLI_TRACE_KEY_SHOWN + 1];
    for (size_t i = 0; i < n; i++)
        shown[i] = e->key[i] ? e->key[i] : '?';
    shown[n] = '\0';
    if (n < e->key_len)
        snprintf(buf, cap, "%s... (a key of %zu bytes)", shown, e->key_len);
    else
        snprintf(buf, cap, "%s", shown);
    return buf;
}

/* The first bytes of a line of len bytes, into q (cap bytes), a NUL among
 * them as '?' (a quote would otherwise end there; printable does the rest). */
static const char *quote_line(const char *text, size_t len, char *q, size_t cap)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        q[i] = text[i] ? text[i] : '?';
    q[n] = '\0';
    return q;
}

static void set_first(cli_trace_judge *J, const cli_trace_event *e, const char *rule, const char *text)
{
    if (J->first.rule)
        return;
    J->first.rule = rule;
    J->first.file = e ? e->file : 0;
    J->first.line = e ? e->line : 0;
    J->first.node = e ? e->node : 0;
    snprintf(J->first.text, sizeof J->first.text, "%s", text);
    cli_printable(J->first.text);
}

void cli_trace_violate(cli_trace_judge *J, const cli_trace_event *e, const char *rule, const char *fmt, ...)
{
    if (J->violation[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(J->violation, sizeof J->violation, fmt, ap);
    va_end(ap);
    cli_printable(J->violation);
    set_first(J, e, rule, J->violation);
}

/* After the history judged event e: its first violation, if this was it. */
static void history_judged(cli_trace_judge *J, const cli_trace_event *e, const char *rule)
{
    const char *v = cw_history_violation(J->h);
    if (v)
        set_first(J, e, rule, v);
}

void cli_trace_init(cli_trace_judge *J, uint32_t n)
{
    J->n = n;
    J->kx = -1;
    for (uint32_t x = 0; x < HMAX; x++)
        J->ev[x].boundary = SIZE_MAX;
}

/* ---- reading ---- */

static cli_trace_event *push(cli_trace_list *l)
{
    cli_trace_event *g = cw__vec_room(l->ev, l->n, &l->cap, sizeof *g);
    if (!g)
        return NULL;
    l->ev = g;
    cli_trace_event *e = &l->ev[l->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void event_free(cli_trace_event *e)
{
    free(e->key);
    free(e->clock);
    free(e->context);
    free(e->past);
    free(e->dots);
    if (e->own_read)
        free((void *)e->read);
}

/* An id below n: a JSON integer, or (clock keys) its decimal text. */
static bool id_of(json_int_t v, uint32_t n, uint32_t *out)
{
    if (v < 0 || (uint64_t)v >= n)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A CLOCK: an object of decimal ids below n to counters >= 0; missing ids
 * are 0. NULL with the reason in *why. */
static uint64_t *clock_json(json_t *o, uint32_t n, const char **why)
{
    if (!json_is_object(o)) {
        *why = "a clock is an object of node ids to counters";
        return NULL;
    }
    uint64_t *c = calloc(n, sizeof *c);
    if (!c) {
        *why = "out of memory";
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        /* A node id in decimal as the trace format writes it: digits only,
         * no leading zero (so no two keys name one node), not what strtoull
         * would also take (blanks, signs, "01"). */
        size_t digits = strspn(k, "0123456789");
        errno = 0;
        unsigned long long id = digits ? strtoull(k, NULL, 10) : 0;
        uint32_t x;
        if (!digits || k[digits] || (k[0] == '0' && digits > 1) || errno || id > (unsigned long long)INT64_MAX ||
            !id_of((json_int_t)id, n, &x)) {
            *why = "a clock's key is not a node id in range";
            free(c);
            return NULL;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            *why = "a clock's counter is not a whole number >= 0";
            free(c);
            return NULL;
        }
        c[x] = (uint64_t)json_integer_value(v);
    }
    return c;
}

static bool dot_json(json_t *d, uint32_t n, uint32_t *o, uint64_t *s)
{
    if (!json_is_array(d) || json_array_size(d) != 2 || !json_is_integer(json_array_get(d, 0)) ||
        !json_is_integer(json_array_get(d, 1)))
        return false;
    json_int_t b = json_integer_value(json_array_get(d, 1));
    if (!id_of(json_integer_value(json_array_get(d, 0)), n, o) || b < 1)
        return false;
    *s = (uint64_t)b;
    return true;
}

/* A JSON string's bytes, NUL bytes included, and a NUL after them. */
static char *key_copy(const json_t *s, size_t *len)
{
    *len = json_string_length(s);
    char *k = malloc(*len + 1);
    if (k) {
        memcpy(k, json_string_value(s), *len);
        k[*len] = '\0';
    }
    return k;
}

/* Orders keys as bytes (a NUL is a byte like any other). */
static int key_order(const cli_trace_event *x, const cli_trace_event *y)
{
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

bool cli_trace_same_key(const cli_trace_event *a, const cli_trace_event *b) { return key_order(a, b) == 0; }

/* One trace line into e (file and line set by the caller); NULL, or why it
 * is malformed. n bounds every id. */
static const char *parse_line(const char *line, size_t len, uint32_t n, cli_trace_event *e)
{
    json_error_t err;
    /* Keys are bytes ("\u0000" among them); a name given twice in one object
     * is refused rather than read as its last value. */
    json_t *j = json_loadb(line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
    if (!j) /* "not JSON" only for text a crash may have cut (see cli_trace_read's loop) */
        return json_error_code(&err) == json_error_duplicate_key      ? "a name given twice in one object"
               : json_error_code(&err) == json_error_numeric_overflow ? "a number out of range (integers from -2^63 to 2^63 - 1)"
                                                                       : "not JSON";
    const char *why = NULL;
    json_t *jop = json_object_get(j, "op");
    const char *op = json_string_value(jop);
    json_t *jn = json_object_get(j, "node");
    if (!json_is_object(j) || !op || strlen(op) != json_string_length(jop)) /* "write\u0000x" is no op */
        why = "no \"op\" string";
    else if (!json_is_integer(jn) || !id_of(json_integer_value(jn), n, &e->node))
        why = "no \"node\" id in range (an integer from 0, below 64 and the group's size)";
    else if (strcmp(op, "write") == 0) {
        e->kind = CLI_EV_WRITE;
        json_t *jk = json_object_get(j, "key");
        const char *k = json_string_value(jk);
        json_t *ctx = json_object_get(j, "context"), *del = json_object_get(j, "delete");
        e->del = json_is_true(del);
        if (!dot_json(json_object_get(j, "dot"), n, &e->origin, &e->seq) || e->origin != e->node)
            why = "a write's \"dot\" is not [its node, seq >= 1]";
        else if (!k)
            why = "a write has no \"key\" string";
        else if (del && !json_is_boolean(del))
            why = "\"delete\" is not true or false";
        else if (!(e->key = key_copy(jk, &e->key_len)))
            why = "out of memory";
        else if ((e->clock = clock_json(json_object_get(j, "clock"), n, &why)) && ctx)
            e->context = clock_json(ctx, n, &why);
    } else if (strcmp(op, "apply") == 0) {
        e->kind = CLI_EV_APPLY;
        if (!dot_json(json_object_get(j, "dot"), n, &e->origin, &e->seq) || e->origin == e->node)
            why = "an apply's \"dot\" is not [another node, seq >= 1]";
    } else if (strcmp(op, "read") == 0) {
        e->kind = CLI_EV_READ;
        json_t *jk = json_object_get(j, "key");
        const char *k = json_string_value(jk);
        json_t *ds = json_object_get(j, "dots");
        size_t nd = json_is_array(ds) ? json_array_size(ds) : 0;
        if (!k || !json_is_array(ds))
            why = "a read needs a \"key\" string and a \"dots\" array";
        else if (!(e->key = key_copy(jk, &e->key_len)) || (nd && !(e->dots = calloc(nd, sizeof *e->dots))))
            why = "out of memory";
        for (size_t i = 0; !why && i < nd; i++) {
            uint32_t origin = 0;
            if (!dot_json(json_array_get(ds, i), n, &origin, &e->dots[i].seq))
                why = "a read's dot is not [node, seq >= 1]";
            e->dots[i].origin = (cw_node_id)origin;
        }
        e->ndots = nd;
    } else if (strcmp(op, "install") == 0) {
        e->kind = CLI_EV_INSTALL;
        e->clock = clock_json(json_object_get(j, "clock"), n, &why);
    } else {
        why = "\"op\" is not write, apply, read or install";
    }
    json_decref(j);
    return why;
}

/* One line into an event of its node's list (node >= 0: that node's, and
 * the line must say so): the event, or NULL with why the line is malformed
 * ("out of memory" when it is not). */
static cli_trace_event *take_line(cli_trace_judge *J, const char *text, size_t len, uint32_t file, uint64_t line,
                                  int node, const char **why)
{
    cli_trace_event e;
    memset(&e, 0, sizeof e);
    *why = parse_line(text, len, node >= 0 ? J->n : CLI_TRACE_MAX_NODES, &e);
    e.file = file;
    e.line = line;
    if (!*why && node >= 0 && e.node != (uint32_t)node)
        *why = "another node's line";
    cli_trace_event *slot = *why ? NULL : push(&J->ev[e.node]);
    if (!*why && !slot)
        *why = "out of memory";
    if (slot)
        *slot = e;
    else
        event_free(&e);
    return slot;
}

/* Whether node x did anything but read nothing before its last event (so
 * that an install there is a restart: cli_trace_nodes). */
static bool acted_before(const cli_trace_judge *J, uint32_t x)
{
    for (size_t i = 0; i + 1 < J->ev[x].n; i++)
        if (!(J->ev[x].ev[i].kind == CLI_EV_READ && J->ev[x].ev[i].ndots == 0))
            return true;
    return false;
}

static void boundary_at(cli_trace_list *l, int *rc)
{
    cli_trace_event *b = push(l);
    if (!b) {
        *rc = CW_ENOMEM;
        return;
    }
    b->kind = CLI_EV_BOUNDARY;
    l->boundary = l->n - 1;
}

/* Lines of a file, each at most CLI_TRACE_MAX_LINE bytes, read through one
 * buffer: memory is the longest line, not the file. */
typedef struct line_reader {
    FILE *f;
    char *b;
    size_t start, fill, cap; /* unread bytes are b[start, fill) */
} line_reader;

/* The next line (without its newline, NUL-terminated in place) in *line and
 * *len, valid until the next call: CW_OK; CW_ENOTFOUND at the end;
 * CW_ELIMIT (a line longer than CLI_TRACE_MAX_LINE), CW_EIO, CW_ENOMEM. */
static int next_line(line_reader *r, char **line, size_t *len)
{
    for (size_t scanned = 0;;) {
        char *nl = r->fill > r->start + scanned ? memchr(r->b + r->start + scanned, '\n', r->fill - r->start - scanned)
                                                : NULL;
        if (nl) {
            *line = r->b + r->start;
            *len = (size_t)(nl - *line);
            if (*len > CLI_TRACE_MAX_LINE)
                return CW_ELIMIT;
            *nl = '\0';
            r->start += *len + 1;
            return CW_OK;
        }
        scanned = r->fill - r->start;
        if (scanned > CLI_TRACE_MAX_LINE)
            return CW_ELIMIT;
        if (r->start) { /* the line so far to the front */
            memmove(r->b, r->b + r->start, scanned);
            r->fill = scanned;
            r->start = 0;
        }
        if (r->cap - r->fill < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 131072;
            char *b = realloc(r->b, cap);
            if (!b)
                return CW_ENOMEM;
            r->b = b;
            r->cap = cap;
        }
        size_t got = fread(r->b + r->fill, 1, r->cap - r->fill - 1, r->f);
        if (got == 0) {
            if (ferror(r->f))
                return CW_EIO;
            if (!scanned)
                return CW_ENOTFOUND;
            *line = r->b; /* the last line, with no newline */
            *len = scanned;
            r->b[scanned] = '\0';
            r->start = r->fill = 0;
            return CW_OK;
        }
        r->fill += got;
    }
}

int cli_trace_read(cli_trace_judge *J, const char *path, int node, long boundary, bool truncated, char *err,
                   size_t cap)
{
    if (J->nfiles == CLI_TRACE_MAX_FILES) {
        snprintf(err, cap, "%s: more than %u trace files", path, CLI_TRACE_MAX_FILES);
        return CW_ELIMIT;
    }
    uint32_t file = J->nfiles;
    J->files[J->nfiles++] = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return CW_EIO;
    }
    /* Memory grows with the events (docs/traces.md), not with the file. */
    line_reader rd = {f, NULL, 0, 0, 0};
    cli_trace_list *l = node >= 0 ? &J->ev[node] : NULL;
    int rc = CW_OK;
    uint64_t line = 0, cut = 0; /* cut: check's malformed line, forgiven if a restart follows it */
    char *text;
    size_t len;
    for (size_t off = 0; rc == CW_OK; ) {
        int got = next_line(&rd, &text, &len);
        if (got == CW_ENOTFOUND)
            break;
        line++;
        if (got != CW_OK) {
            if (got == CW_ELIMIT)
                snprintf(err, cap, "%s:%llu: a line longer than %zu bytes: not a trace", path,
                         (unsigned long long)line, CLI_TRACE_MAX_LINE);
            else if (got == CW_EIO)
                snprintf(err, cap, "%s: cannot be read: %s", path, strerror(errno));
            rc = got == CW_ELIMIT ? CW_EINVAL : got;
            break;
        }
        size_t end = off + len;
        if (l && boundary >= 0 && off >= (size_t)boundary && l->boundary == SIZE_MAX)
            boundary_at(l, &rc);
        bool last_dead = boundary >= 0 && truncated && end + 1 == (size_t)boundary;
        const char *why = NULL;
        size_t lead = 0; /* a line of JSON's whitespace only (CRLF's last line) is empty too */
        while (lead < len && (text[lead] == ' ' || text[lead] == '\t' || text[lead] == '\r'))
            lead++;
        bool blank = lead == len;
        const cli_trace_event *e = !blank ? take_line(J, text, len, file, line, node, &why) : NULL;
        J->trace_lines += !blank;
        if (e && cut && !(e->kind == CLI_EV_READ && !e->ndots)) {
            /* A line a crash cut short is the last of its incarnation: the
             * restart's install follows it (after the empty reads the new
             * incarnation served while it joined). */
            if (e->kind == CLI_EV_INSTALL && acted_before(J, e->node))
                J->truncated++;
            else
                rc = CW_EINVAL;
            cut = rc == CW_OK ? 0 : cut;
        } else if (why && strcmp(why, "out of memory") == 0) {
            rc = CW_ENOMEM;
        } else if (why && node < 0) {
            if (cut) {
                rc = CW_EINVAL; /* the cut line's, in err */
            } else {
                char q[81];
                snprintf(err, cap, "%s:%llu: %s: %s", path, (unsigned long long)line, why,
                         quote_line(text, len, q, sizeof q));
                cli_printable(err);
                /* Only a line that is not JSON can be one a crash cut short
                 * (no strict prefix of a line's object is JSON): a whole
                 * object that is malformed waits for no restart. */
                if (strcmp(why, "not JSON") != 0)
                    rc = CW_EINVAL;
            }
            cut = line;
        } else if (why && last_dead) {
            J->truncated++;
        } else if (why) {
            char q[121];
            cli_trace_violate(J, NULL, "malformed line", "node %d's trace: a malformed line: %s", node,
                              quote_line(text, len, q, sizeof q));
        }
        off = end + 1;
    }
    free(rd.b);
    fclose(f);
    if (rc == CW_OK && cut)
        rc = CW_EINVAL;
    if (rc == CW_OK && l && boundary >= 0 && l->boundary == SIZE_MAX)
        boundary_at(l, &rc);
    if (rc == CW_ENOMEM)
        snprintf(err, cap, "%s: out of memory", path);
    return rc;
}

/* The highest id event e names (node, dot origins, clock entries set). */
static uint32_t top_id(const cli_trace_event *e, uint32_t bound)
{
    uint32_t top = e->node > e->origin ? e->node : e->origin;
    for (size_t d = 0; d < e->ndots; d++)
        if (e->dots[d].origin > top)
            top = e->dots[d].origin;
    for (uint32_t k = top + 1; k < bound; k++)
        if ((e->clock && e->clock[k]) || (e->context && e->context[k]))
            top = k;
    return top;
}

static bool shrink(uint64_t **c, uint32_t n)
{
    if (!*c)
        return true;
    uint64_t *s = realloc(*c, n * sizeof **c);
    if (!s)
        return false;
    *c = s;
    return true;
}

int cli_trace_nodes(cli_trace_judge *J, char *err, size_t cap)
{
    uint32_t top = 0;
    bool any = false;
    for (uint32_t x = 0; x < CLI_TRACE_MAX_NODES; x++)
        for (size_t i = 0; i < J->ev[x].n; i++) {
            uint32_t t = top_id(&J->ev[x].ev[i], CLI_TRACE_MAX_NODES);
            top = t > top ? t : top;
            any = true;
        }
    if (!any) {
        snprintf(err, cap, "the traces hold no event");
        return CW_EINVAL;
    }
    J->n = top + 1;
    for (uint32_t x = 0; x < J->n; x++)
        for (size_t i = 0; i < J->ev[x].n; i++)
            if (!shrink(&J->ev[x].ev[i].clock, J->n) || !shrink(&J->ev[x].ev[i].context, J->n)) {
                snprintf(err, cap, "out of memory");
                return CW_ENOMEM;
            }
    /* A restart: an install after the node did anything but read nothing
     * (an install that begins a node's trace is its start: it joined). The
     * empty reads just before it were served while the new incarnation
     * joined. */
    uint32_t restarts = 0;
    for (uint32_t x = 0; x < J->n; x++) {
        cli_trace_list *l = &J->ev[x];
        bool acted = false;
        for (size_t i = 0; i < l->n; i++) {
            bool was = acted;
            acted |= !(l->ev[i].kind == CLI_EV_READ && l->ev[i].ndots == 0);
            if (l->ev[i].kind != CLI_EV_INSTALL || !was)
                continue;
            if (restarts++ == CLI_TRACE_MAX_RESTARTS) {
                snprintf(err, cap, "%s:%llu: more than %u restarts in all", J->files[l->ev[i].file],
                         (unsigned long long)l->ev[i].line, CLI_TRACE_MAX_RESTARTS);
                return CW_ELIMIT;
            }
            size_t at = i;
            while (at > 0 && l->ev[at - 1].kind == CLI_EV_READ && l->ev[at - 1].ndots == 0)
                at--;
            cli_trace_event *g = cw__vec_room(l->ev, l->n, &l->cap, sizeof *g);
            if (!g) {
                snprintf(err, cap, "out of memory");
                return CW_ENOMEM;
            }
            l->ev = g;
            memmove(l->ev + at + 1, l->ev + at, (l->n - at) * sizeof *l->ev);
            memset(&l->ev[at], 0, sizeof l->ev[at]);
            l->ev[at].kind = CLI_EV_BOUNDARY;
            l->ev[at].node = x;
            l->n++;
            i++; /* the install, moved up by one */
        }
    }
    return CW_OK;
}

/* ---- restarted nodes (invariant 3) ---- */

/* Node x's incarnations are history nodes x, then n + j for each restart j
 * of x, in order (inc_node[j] == x); each owns its node's writes above its
 * low mark (the own writes it installed; 0 for the first). */
static uint64_t low(const cli_trace_judge *J, uint32_t h) { return h < J->n ? 0 : J->inc_bound[h - J->n]; }

uint32_t cli_trace_next(const cli_trace_judge *J, uint32_t h)
{
    uint32_t x = h < J->n ? h : J->inc_node[h - J->n];
    for (uint32_t j = h < J->n ? 0 : h - J->n + 1; j < J->restarts; j++)
        if (J->inc_node[j] == x)
            return J->n + j;
    return UINT32_MAX;
}

void cli_trace_map_dot(const cli_trace_judge *J, uint32_t *o, uint64_t *s)
{
    if (*o >= J->n)
        return; /* named already */
    uint32_t h = *o;
    for (uint32_t next = cli_trace_next(J, h); next != UINT32_MAX && *s > low(J, next);
         next = cli_trace_next(J, next))
        h = next;
    *s -= low(J, h);
    *o = h;
}

uint64_t *cli_trace_map_clock(const cli_trace_judge *J, const uint64_t *c)
{
    uint64_t *m = c ? calloc(J->hn, sizeof *m) : NULL;
    for (uint32_t x = 0; m && x < J->n; x++)
        for (uint32_t h = x; h != UINT32_MAX;) { /* each incarnation's share of c[x] */
            uint32_t next = cli_trace_next(J, h);
            uint64_t lo = low(J, h), hi = next == UINT32_MAX ? UINT64_MAX : low(J, next);
            m[h] = c[x] <= lo ? 0 : (c[x] < hi ? c[x] : hi) - lo;
            h = next;
        }
    return m;
}

static bool remap_clock(const cli_trace_judge *J, uint64_t **c)
{
    if (!*c)
        return true;
    uint64_t *m = cli_trace_map_clock(J, *c);
    if (!m)
        return false;
    free(*c);
    *c = m;
    return true;
}

static bool same_key(const void *item, const void *probe)
{
    const cli_trace_event *a = item, *b = probe;
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* Node x's incarnation l ended; nl, the next, installed its own writes up
 * to bound. The dead one's writes above bound: lost; its reads of them, and
 * its reads of a key after a lost write of its own to that key (a lost
 * delete or put changed what it held, which the history never had):
 * unjudged; the new one's writes of those dots: checked. *dead and
 * *observed carry, from one restart of x to the next, the highest dot any
 * dead incarnation of x wrote and the highest one a read returned of those
 * lost: a later incarnation must not write those again either, also after
 * one that wrote nothing. CW_ENOMEM. */
static int mark_lost(cli_trace_judge *J, uint32_t x, cli_trace_list *l, cli_trace_list *nl, uint64_t bound,
                     uint64_t *dead, uint64_t *observed)
{
    uint64_t dead_max = bound > *dead ? bound : *dead, observed_max = *observed;
    cw__map lost_keys; /* the first lost write to each key, by its key */
    cw__map_init(&lost_keys);
    int rc = CW_OK;
    size_t nlost = 0;
    for (size_t i = 0; i < l->n; i++)
        nlost += l->ev[i].kind == CLI_EV_WRITE && l->ev[i].seq > bound;
    /* The lost writes, in their order: bound + 1, bound + 2, ... (the
     * replay checks the dots below them, not these) */
    const cli_trace_event **lost = malloc((nlost ? nlost : 1) * sizeof *lost);
    if (!lost)
        return CW_ENOMEM;
    nlost = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->ev[i].kind == CLI_EV_WRITE && l->ev[i].seq > bound) {
            cli_trace_event *e = &l->ev[i];
            uint64_t hash = cw__hash_key(e->key, e->key_len);
            if (e->seq != bound + nlost + 1)
                cli_trace_violate(J, e, e->seq <= bound + nlost ? "sequence number reused" : "sequence number skipped",
                                  "node %u wrote dot (%u, %llu) after its write %llu (a sequence number %s)", x, x,
                                  (unsigned long long)e->seq, (unsigned long long)(bound + nlost),
                                  e->seq <= bound + nlost ? "reused" : "skipped");
            lost[nlost++] = e;
            if (rc == CW_OK && !cw__map_find(&lost_keys, hash, same_key, e))
                rc = cw__map_insert(&lost_keys, hash, e);
            e->kind = CLI_EV_SKIP;
            J->lost++;
            if (e->seq > dead_max)
                dead_max = e->seq;
        }
    /* A read by the dead process that returned one of its lost writes
     * cannot be judged (the history never had that write): left out,
     * counted, and the write counts as observed. That it was such a write
     * is judged: a write of the dead process made before the read, to the
     * read's key, not a delete. */
    for (size_t i = 0; i < l->n; i++) {
        cli_trace_event *e = &l->ev[i];
        bool skip = false;
        for (size_t d = 0; e->kind == CLI_EV_READ && d < e->ndots; d++) {
            uint64_t s = e->dots[d].seq;
            if (e->dots[d].origin != x || s <= bound)
                continue;
            const cli_trace_event *w = s - bound <= nlost && lost[s - bound - 1]->seq == s ? lost[s - bound - 1]
                                                                                           : NULL;
            char key[CLI_TRACE_KEY_SHOWN + 48];
            if (!w || w > e || !cli_trace_same_key(w, e) || w->del)
                cli_trace_violate(J, e, cli_trace_read_rule(J),
                                  "node %u read version %u.%llu of a key (%s), %s", x, x, (unsigned long long)s,
                                  cli_trace_key(e, key, sizeof key), !w || w > e ? "which it had not made by the read"
                                          : w->del    ? "which is a delete (reads hide them)"
                                                      : "which is no write to that key");
            skip = true;
            if (s > observed_max)
                observed_max = s;
        }
        if (skip) {
            e->kind = CLI_EV_SKIP;
            J->lost_reads++;
        }
        const cli_trace_event *w = e->kind == CLI_EV_READ && rc == CW_OK && lost_keys.count
                                       ? cw__map_find(&lost_keys, cw__hash_key(e->key, e->key_len), same_key, e)
                                       : NULL;
        if (w && w < e) { /* after a lost write of its own to the key */
            e->kind = CLI_EV_SKIP;
            J->lost_reads++;
        }
    }
    cw__map_destroy(&lost_keys);
    free(lost);
    *dead = dead_max;
    *observed = observed_max;
    for (size_t i = 0; i < nl->n; i++) {
        cli_trace_event *e = &nl->ev[i];
        if (e->kind != CLI_EV_WRITE)
            continue;
        if (e->seq <= bound) {
            cli_trace_violate(J, e, "sequence number reused",
                              "node %u's restarted process wrote (%u, %llu), which its killed process had "
                              "written (a sequence number reused)",
                              x, x, (unsigned long long)e->seq);
            e->kind = CLI_EV_SKIP;
        } else if (e->seq <= dead_max) {
            J->reused++;
            if (e->seq <= observed_max)
                cli_trace_violate(J, e, "sequence number reused",
                                  "node %u's restarted process wrote (%u, %llu) again: its killed process had "
                                  "written it, and a read had returned it",
                                  x, x, (unsigned long long)e->seq);
        }
    }
    return rc;
}

/* Node x's list cut at its boundaries: each later incarnation into a
 * history node of its own (restart j: n + j), its low mark from its first
 * install. CW_ENOMEM, CW_ELIMIT. */
static int split_node(cli_trace_judge *J, uint32_t x)
{
    cli_trace_list *l = &J->ev[x];
    size_t cut = l->n;
    uint64_t prev = 0;
    uint32_t first = J->restarts;
    for (size_t b = 0; b < l->n; b++) {
        if (l->ev[b].kind != CLI_EV_BOUNDARY)
            continue;
        if (J->restarts == CLI_TRACE_MAX_RESTARTS)
            return CW_ELIMIT;
        if (cut == l->n)
            cut = b;
        uint32_t j = J->restarts++;
        J->inc_node[j] = x;
        J->inc_bound[j] = prev;
        size_t e = b + 1;
        while (e < l->n && l->ev[e].kind != CLI_EV_BOUNDARY)
            e++;
        for (size_t i = b + 1; i < e; i++)
            if (l->ev[i].kind == CLI_EV_INSTALL) {
                if (l->ev[i].clock[x] < prev)
                    cli_trace_violate(J, &l->ev[i], "install", "node %u's new incarnation installed its own "
                                      "writes up to %llu, fewer than the %llu its last one had installed", x,
                                      (unsigned long long)l->ev[i].clock[x], (unsigned long long)prev);
                else
                    J->inc_bound[j] = prev = l->ev[i].clock[x];
                break;
            }
        cli_trace_list *nl = &J->ev[J->n + j];
        nl->cap = nl->n = e - b; /* its boundary first: the process starts joining */
        if (!(nl->ev = malloc(nl->cap * sizeof *nl->ev)))
            return CW_ENOMEM;
        memcpy(nl->ev, l->ev + b, nl->n * sizeof *nl->ev);
        nl->boundary = SIZE_MAX;
    }
    l->n = cut;
    l->boundary = SIZE_MAX;
    uint64_t dead = 0, observed = 0; /* over x's dead incarnations so far */
    for (uint32_t j = first; j < J->restarts; j++) { /* each incarnation against the next */
        int rc = mark_lost(J, x, j == first ? l : &J->ev[J->n + j - 1], &J->ev[J->n + j], J->inc_bound[j], &dead,
                           &observed);
        if (rc != CW_OK)
            return rc;
    }
    return CW_OK;
}

int cli_trace_split(cli_trace_judge *J)
{
    J->restarts = 0;
    for (uint32_t x = 0; x < J->n; x++) {
        int rc = split_node(J, x);
        if (rc != CW_OK)
            return rc;
    }
    J->hn = J->n + J->restarts;
    J->kx = J->restarts ? (int)J->inc_node[0] : -1;
    J->bound = J->restarts ? J->inc_bound[0] : 0;
    for (uint32_t x = 0; x < J->hn; x++)
        for (size_t i = 0; i < J->ev[x].n; i++) {
            cli_trace_event *e = &J->ev[x].ev[i];
            if (e->kind == CLI_EV_WRITE || e->kind == CLI_EV_APPLY || e->kind == CLI_EV_SKIP)
                cli_trace_map_dot(J, &e->origin, &e->seq);
            for (size_t d = 0; d < e->ndots; d++) {
                uint32_t o = e->dots[d].origin;
                cli_trace_map_dot(J, &o, &e->dots[d].seq);
                e->dots[d].origin = (cw_node_id)o;
            }
            if (!remap_clock(J, &e->clock) || !remap_clock(J, &e->context))
                return CW_ENOMEM;
        }
    return CW_OK;
}

/* ---- the write table ---- */

uint64_t cli_trace_max_writes(const cli_trace_judge *J)
{
    uint64_t most = 1;
    for (uint32_t x = 0; x < J->hn; x++) {
        uint64_t w = 0;
        for (size_t i = 0; i < J->ev[x].n; i++)
            w += J->ev[x].ev[i].kind == CLI_EV_WRITE;
        most = w > most ? w : most;
    }
    return most;
}

int cli_trace_by_key(const void *a, const void *b)
{
    const cli_trace_event *x = *(const cli_trace_event *const *)a, *y = *(const cli_trace_event *const *)b;
    int c = key_order(x, y);
    if (c)
        return c;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* The first index in [a, b) (one origin's writes to one key, by seq)
 * whose seq is above s. */
static size_t first_above(cli_trace_event *const *w, size_t a, size_t b, uint64_t s)
{
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (w[m]->seq <= s)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* What context write e replaced of origin o's writes to its key, the run
 * [a, b): the writes its context covers, as few as give the same closure.
 * The history takes replacement transitively (what a write replaced, its
 * replacer replaced too), so of the covered writes, walking down from the
 * last, one that a kept write replaces already is left out: every earlier
 * one, after a plain write (its past holds them), or those a kept context
 * write covers. Usually one dot an origin. */
static size_t covered_of(cli_trace_event *const *w, size_t a, size_t b, uint32_t o, const cli_trace_event *e,
                         cw_history_dot *out)
{
    size_t n = 0, i = first_above(w, a, b, e->context[o]);
    uint64_t cover = 0;
    while (i > a && w[i - 1]->seq > cover) {
        const cli_trace_event *u = w[--i];
        out[n++] = (cw_history_dot){(cw_node_id)o, u->seq};
        if (!u->context)
            break;
        cover = u->context[o] > cover ? u->context[o] : cover;
    }
    return n;
}

/* causeway check: a context write replaces the writes to its key that its
 * context covers (covered_of). The writes sorted by key (then origin and,
 * in a consistent trace, seq), O(W log W); then O(nodes log W) a context
 * write, plus what it keeps. */
static int derive_reads(cli_trace_judge *J)
{
    size_t w = 0, at = 0;
    for (uint32_t x = 0; x < J->hn; x++)
        for (uint64_t s = 1; s <= J->maxseq[x]; s++)
            w += J->wev[x][s] != NULL;
    cli_trace_event **all = malloc((w ? w : 1) * sizeof *all);
    cw_history_dot *scratch = malloc((w ? w : 1) * sizeof *scratch);
    if (!all || !scratch) {
        free(all);
        free(scratch);
        return CW_ENOMEM;
    }
    for (uint32_t x = 0; x < J->hn; x++)
        for (uint64_t s = 1; s <= J->maxseq[x]; s++)
            if (J->wev[x][s])
                all[at++] = J->wev[x][s];
    qsort(all, w, sizeof *all, cli_trace_by_key);
    J->by_key = all;
    J->nwrites = w;
    int rc = CW_OK;
    for (size_t lo = 0, hi; lo < w && rc == CW_OK; lo = hi) {
        /* Where each origin's writes to the key start: each origin's are
         * together, as their node's are (a restarted node's two
         * incarnations, one after the other), so there are at most hn. */
        size_t run[CLI_TRACE_HMAX + 1], runs = 0;
        for (hi = lo; hi < w && key_order(all[hi], all[lo]) == 0; hi++)
            if ((hi == lo || all[hi]->origin != all[hi - 1]->origin) && runs < CLI_TRACE_HMAX)
                run[runs++] = hi;
        run[runs] = hi;
        for (size_t i = lo; i < hi && rc == CW_OK; i++) {
            cli_trace_event *e = all[i];
            if (!e->context)
                continue;
            size_t nr = 0;
            for (size_t r = 0; r < runs; r++)
                nr += covered_of(all, run[r], run[r + 1], all[run[r]]->origin, e, scratch + nr);
            cw_history_dot *read = malloc((nr ? nr : 1) * sizeof *read);
            if (!read) {
                rc = CW_ENOMEM;
                break;
            }
            memcpy(read, scratch, nr * sizeof *read);
            e->told = true;
            e->own_read = true;
            e->read = read;
            e->nread = nr;
        }
    }
    free(scratch);
    return rc;
}

int cli_trace_table(cli_trace_judge *J, bool derive)
{
    uint32_t hn = J->hn;
    for (uint32_t x = 0; x < hn; x++) {
        cli_trace_list *l = &J->ev[x];
        uint64_t count = 0;
        for (size_t i = 0; i < l->n; i++)
            count += l->ev[i].kind == CLI_EV_WRITE;
        for (size_t i = 0; i < l->n; i++) { /* invariant 1: a dot above the writes held skips some */
            cli_trace_event *e = &l->ev[i];
            if (e->kind != CLI_EV_WRITE)
                continue;
            if (e->seq > count) {
                cli_trace_violate(J, e, "sequence number skipped",
                                  "node %u wrote dot (%u, %llu), but its traces hold %llu writes of it "
                                  "(a sequence number skipped)",
                                  x, x, (unsigned long long)e->seq, (unsigned long long)count);
                e->kind = CLI_EV_SKIP;
            } else if (e->seq > J->maxseq[x]) {
                J->maxseq[x] = e->seq;
            }
        }
        J->msgs[x] = calloc(J->maxseq[x] + 1, sizeof *J->msgs[x]);
        J->wev[x] = calloc(J->maxseq[x] + 1, sizeof *J->wev[x]);
        if (!J->msgs[x] || !J->wev[x])
            return CW_ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
            cli_trace_event *e = &l->ev[i];
            if (e->kind != CLI_EV_WRITE)
                continue;
            if (J->wev[x][e->seq]) {
                cli_trace_violate(J, e, "sequence number reused",
                                  "node %u wrote dot (%u, %llu) twice (a sequence number reused)", x, x,
                                  (unsigned long long)e->seq);
                e->kind = CLI_EV_SKIP;
                continue;
            }
            J->wev[x][e->seq] = e;
            uint64_t clock[HMAX];
            memcpy(clock, e->clock, hn * sizeof *clock);
            if (J->sabotage && x == 0 && hn > 1 && !J->sabotaged) {
                clock[1]++; /* the checker must notice: a clock that is not the write's past */
                J->sabotaged = true;
            }
            if (clock[x] != e->seq) { /* no message can carry it: its seq is its own entry */
                cli_trace_violate(J, e, "clock is not the causal past",
                                  "node %u wrote (%u, %llu) with a clock whose own entry is %llu, not its sequence "
                                  "number",
                                  x, x, (unsigned long long)e->seq, (unsigned long long)clock[x]);
                J->wev[x][e->seq] = NULL;
                e->kind = CLI_EV_SKIP;
                continue;
            }
            cw_hlc_timestamp ts;
            memset(&ts, 0, sizeof ts);
            int rc = cw_msg_create_write(&J->msgs[x][e->seq], (cw_node_id)x, &ts, clock, hn, e->context, e->del,
                                         e->key, e->key_len, NULL, 0);
            if (rc == CW_EINVAL) { /* a context ahead of its own clock: no message can carry it */
                cli_trace_violate(J, e, "context ahead of clock",
                                  "node %u wrote (%u, %llu) with a context its clock does not cover", x, x,
                                  (unsigned long long)e->seq);
                J->wev[x][e->seq] = NULL;
                e->kind = CLI_EV_SKIP;
                continue;
            }
            if (rc != CW_OK)
                return rc;
        }
    }
    return derive ? derive_reads(J) : CW_OK;
}

int cli_trace_history(cli_trace_judge *J)
{
    int rc = cw_history_create(&J->h, J->hn, cli_trace_max_writes(J), J->lww ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS);
    if (rc == CW_OK && J->lww)
        rc = cw_history_set_untimed(J->h);
    return rc;
}

const char *cli_trace_read_rule(const cli_trace_judge *J) { return J->lww ? "read lww" : "read siblings"; }

/* ---- replay (invariant 2) ---- */

enum { STEP_DONE, STEP_BLOCKED, STEP_STOP };

uint64_t cli_trace_known(const cli_trace_judge *J, uint32_t k)
{
    uint64_t c[HMAX];
    cw_history_applied_counts(J->h, k, c);
    return c[k];
}

/* History node x comes to hold every write at or below C, applying those
 * it lacks in causal order: a state installed (invariant 3). */
static int install(cli_trace_judge *J, uint32_t x, const uint64_t *C, const cli_trace_event *at)
{
    uint32_t hn = J->hn;
    uint64_t hc[HMAX];
    for (uint32_t k = 0; k < hn; k++)
        if (cli_trace_known(J, k) < C[k])
            return STEP_BLOCKED;
    cw_history_applied_counts(J->h, x, hc);
    for (uint32_t k = 0; k < hn; k++)
        if (k != x && C[k] < hc[k]) {
            cli_trace_violate(J, at, "install", "history node %u installed a state without %llu writes of node %u "
                              "it had applied", x, (unsigned long long)(hc[k] - C[k]), k);
            return STEP_STOP;
        }
    if (hc[x] != C[x]) {
        cli_trace_violate(J, at, "install", "history node %u installed its own writes up to %llu; its traces hold "
                          "%llu", x, (unsigned long long)C[x], (unsigned long long)hc[x]);
        return STEP_STOP;
    }
    for (bool progress = true; progress;) {
        progress = false;
        for (uint32_t k = 0; k < hn; k++)
            while (hc[k] < C[k]) {
                const cli_trace_event *w = J->wev[k][hc[k] + 1];
                bool ready = w != NULL;
                for (uint32_t j = 0; j < hn && ready; j++)
                    ready = j == k || w->clock[j] <= hc[j];
                if (!ready)
                    break;
                cw_history_applied(J->h, x, J->msgs[k][hc[k] + 1]);
                history_judged(J, at, "install");
                hc[k]++;
                progress = true;
            }
    }
    for (uint32_t k = 0; k < hn; k++)
        if (hc[k] < C[k]) {
            cli_trace_violate(J, at, "install", "history node %u installed a state (clock entry %u: %llu) that is "
                              "not causally closed", x, k, (unsigned long long)C[k]);
            return STEP_STOP;
        }
    return STEP_DONE;
}

static int step_write(cli_trace_judge *J, uint32_t x, cli_trace_event *e)
{
    uint64_t had = cli_trace_known(J, x);
    if (e->seq != had + 1) {
        cli_trace_violate(J, e, e->seq <= had ? "sequence number reused" : "sequence number skipped",
                          "history node %u wrote dot (%u, %llu) after its write %llu (a sequence number %s)", x, x,
                          (unsigned long long)e->seq, (unsigned long long)had, e->seq <= had ? "reused" : "skipped");
        return STEP_STOP;
    }
    uint64_t past[HMAX]; /* the true past, kept when the clock differs (for precision and recall) */
    cw_history_applied_counts(J->h, x, past);
    past[x] = e->seq;
    if (memcmp(past, e->clock, J->hn * sizeof *past) != 0 && (e->past = malloc(J->hn * sizeof *past)))
        memcpy(e->past, past, J->hn * sizeof *past);
    cw_history_applied(J->h, x, J->msgs[x][e->seq]);
    history_judged(J, e, "clock is not the causal past");
    if (!e->told)
        return STEP_DONE;
    cw_history_dot *dots = e->nread ? calloc(e->nread, sizeof *dots) : NULL;
    if (e->nread && !dots)
        return STEP_STOP;
    for (size_t d = 0; d < e->nread; d++) {
        uint32_t o = e->read[d].origin;
        uint64_t s = e->read[d].seq;
        cli_trace_map_dot(J, &o, &s);
        dots[d] = (cw_history_dot){(cw_node_id)o, s};
    }
    cw_history_write_info info = {CW_HISTORY_NO_CLIENT, e->del, true, dots, e->nread};
    int rc = cw_history_wrote(J->h, (cw_node_id)x, e->seq, &info);
    free(dots);
    history_judged(J, e, "context covers an unapplied write");
    return rc == CW_OK ? STEP_DONE : STEP_STOP;
}

static int step_read(cli_trace_judge *J, uint32_t x, cli_trace_event *e)
{
    uint32_t hn = J->hn;
    uint64_t c[HMAX];
    cw_history_applied_counts(J->h, x, c);
    cli_trace_event **g = cw__vec_room(J->reads, J->nreads, &J->reads_cap, sizeof *g);
    if (!g)
        return STEP_STOP;
    J->reads = g;
    cw_read rd;
    cw_read_init(&rd);
    cw_value_version *v = e->ndots ? calloc(e->ndots, sizeof *v) : NULL;
    if (e->ndots && !v)
        return STEP_STOP;
    int rc = CW_OK;
    for (size_t i = 0; i < e->ndots; i++) { /* each version's clock: its write's, from the traces */
        cw_history_dot d = e->dots[i];
        v[i].origin = d.origin;
        v[i].seq = d.seq;
        cw_vclock_init(&v[i].clock);
        cw_vclock_init(&v[i].context);
        const cli_trace_event *w = d.origin < hn && d.seq <= J->maxseq[d.origin] ? J->wev[d.origin][d.seq] : NULL;
        for (uint32_t k = 0; w && k < hn && rc == CW_OK; k++)
            if (w->clock[k])
                rc = cw_vclock_set(&v[i].clock, (cw_node_id)k, w->clock[k]);
        if (rc == CW_OK && (!w || cw_vclock_get(&v[i].clock, d.origin) != d.seq)) /* the dot, as it says */
            rc = cw_vclock_set(&v[i].clock, d.origin, d.seq);
    }
    rd.versions = v;
    rd.count = e->ndots;
    if (rc == CW_OK)
        rc = cw_history_read(J->h, (cw_node_id)x, e->key, e->key_len, c, c, &rd);
    if (rc == CW_OK)
        J->reads[J->nreads++] = e;
    for (size_t i = 0; i < e->ndots; i++)
        cw_vclock_destroy(&v[i].clock);
    free(v);
    history_judged(J, e, cli_trace_read_rule(J));
    return rc == CW_OK ? STEP_DONE : STEP_STOP;
}

static int step(cli_trace_judge *J, uint32_t x, cli_trace_event *e, bool *joining)
{
    switch (e->kind) {
    case CLI_EV_SKIP:
        return STEP_DONE;
    case CLI_EV_BOUNDARY:
        *joining = true;
        return STEP_DONE;
    case CLI_EV_INSTALL: {
        int rc = install(J, x, e->clock, e);
        if (rc == STEP_DONE)
            *joining = false;
        return rc;
    }
    case CLI_EV_WRITE:
        if (*joining) {
            cli_trace_violate(J, e, "write while joining",
                              "history node %u wrote (%u, %llu) before it installed its peers' state", x, x,
                              (unsigned long long)e->seq);
            return STEP_STOP;
        }
        return step_write(J, x, e);
    case CLI_EV_APPLY: {
        if (*joining) {
            cli_trace_violate(J, e, "apply while joining",
                              "history node %u applied (%u, %llu) before it installed its peers' state", x,
                              e->origin, (unsigned long long)e->seq);
            return STEP_STOP;
        }
        if (e->seq > cli_trace_known(J, e->origin))
            return STEP_BLOCKED;
        uint64_t c[HMAX];
        cw_history_applied_counts(J->h, x, c);
        cw_history_applied(J->h, x, J->msgs[e->origin][e->seq]);
        history_judged(J, e, c[e->origin] >= e->seq ? "applied twice" : "causal order");
        return STEP_DONE;
    }
    case CLI_EV_READ:
        if (*joining) { /* a joining node holds nothing */
            J->joining_reads++;
            char key[CLI_TRACE_KEY_SHOWN + 48];
            if (e->ndots)
                cli_trace_violate(J, e, "read while joining",
                                  "history node %u returned a version of %s while it held no state (joining)", x,
                                  cli_trace_key(e, key, sizeof key));
            return STEP_DONE;
        }
        return step_read(J, x, e);
    }
    return STEP_DONE;
}

void cli_trace_replay(cli_trace_judge *J)
{
    size_t pos[HMAX] = {0};
    bool joining[HMAX] = {0};
    for (;;) {
        bool progress = false, left = false;
        for (uint32_t x = 0; x < J->hn; x++) {
            cli_trace_list *l = &J->ev[x];
            while (pos[x] < l->n) {
                int rc = step(J, x, &l->ev[pos[x]], &joining[x]);
                if (rc == STEP_STOP)
                    return;
                if (rc == STEP_BLOCKED)
                    break;
                pos[x]++;
                progress = true;
            }
            left |= pos[x] < l->n;
        }
        if (!left)
            break;
        if (!progress) {
            for (uint32_t x = 0; x < J->hn; x++)
                if (pos[x] < J->ev[x].n) {
                    cli_trace_event *e = &J->ev[x].ev[pos[x]];
                    uint32_t o = e->origin;
                    uint64_t seq = e->seq;
                    if (e->kind == CLI_EV_INSTALL) /* the first write its clock covers that none made */
                        for (o = 0; o < J->hn; o++)
                            if ((seq = cli_trace_known(J, o)) < e->clock[o]) {
                                seq++;
                                break;
                            }
                    if (e->kind == CLI_EV_APPLY && o < J->hn && seq <= J->maxseq[o] && J->wev[o] &&
                        J->wev[o][seq]) { /* made, but only after what waits for it: the traces wait in a ring */
                        cli_trace_violate(J, e, "causal order",
                                          "history node %u applied (%u, %llu) before node %u made it (its trace "
                                          "makes it after events that wait for others: a causal cycle)",
                                          x, o, (unsigned long long)seq, o);
                        return;
                    }
                    bool untraced = o < J->n && J->ev[o].n == 0; /* its origin's trace was not given */
                    cli_trace_violate(J, e, "unknown write", "history node %u %s (%u, %llu), a write no trace holds%s",
                                      x, e->kind == CLI_EV_APPLY ? "applied" : "installed a state covering", o,
                                      (unsigned long long)seq,
                                      untraced ? " (no trace of its node was given: check every node's trace together)"
                                               : "");
                    return;
                }
        }
    }
    uint64_t all[HMAX];
    for (uint32_t k = 0; k < J->hn; k++)
        all[k] = cli_trace_known(J, k);
    for (uint32_t x = 0; x < J->hn; x++) /* every incarnation that did not run to the end */
        if (cli_trace_next(J, x) != UINT32_MAX)
            install(J, x, all, NULL);
}

void cli_trace_free(cli_trace_judge *J)
{
    for (uint32_t x = 0; x < HMAX; x++) {
        for (size_t i = 0; i < J->ev[x].n; i++)
            event_free(&J->ev[x].ev[i]);
        free(J->ev[x].ev);
        for (uint64_t s = 1; J->msgs[x] && s <= J->maxseq[x]; s++)
            cw_msg_unref(J->msgs[x][s]);
        free(J->msgs[x]);
        free(J->wev[x]);
    }
    free(J->reads);
    free(J->by_key);
    cw_history_destroy(J->h);
}
