/* The replica's "system state" as text: data with clocks, pending writes,
 * vector clock, then loss recovery's statistics and the stable clock. Keys
 * are sorted so dumps of converged replicas are identical (up to the
 * statistics, which are the node's own). Built on the public accessors only.
 *
 * Invariants:
 *  1. The lines up to the vector clock (and the clock anomalies line) keep
 *     their text: tests and scripts grep them. New lines go after them.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>
#include <causeway/node.h>

typedef struct entry {
    const void *key;
    size_t key_len;
    const cw_msg *const *versions;
    size_t count;
} entry;

typedef struct collect {
    entry *e;
    size_t n, cap;
    bool failed;
} collect;

static void add_key(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                    size_t count)
{
    collect *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        entry *grown = realloc(c->e, cap * sizeof *grown);
        if (!grown) {
            c->failed = true;
            return;
        }
        c->e = grown;
        c->cap = cap;
    }
    c->e[c->n++] = (entry){key, key_len, versions, count};
}

static int by_key(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Printable ASCII as is; anything else as 0x-prefixed hex. */
static void print_bytes(FILE *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    bool text = true;
    for (size_t i = 0; i < len; i++)
        text &= p[i] >= 0x20 && p[i] < 0x7f;
    if (text) {
        fwrite(p, 1, len, out);
        return;
    }
    fputs("0x", out);
    for (size_t i = 0; i < len; i++)
        fprintf(out, "%02x", p[i]);
}

static void print_clock(FILE *out, const cw_msg *m)
{
    uint32_t n;
    const uint64_t *c = cw_msg_counters(m, &n);
    const char *sep = "";
    fputc('{', out);
    for (uint32_t i = 0; i < n; i++)
        if (c[i]) {
            fprintf(out, "%s%u:%llu", sep, i, (unsigned long long)c[i]);
            sep = ",";
        }
    fputc('}', out);
}

static void print_write(FILE *out, const cw_msg *m)
{
    size_t len;
    const void *key = cw_msg_key(m, &len);
    print_bytes(out, key, len);
    if (cw_msg_tombstone(m)) { /* a delete, kept until stable */
        fputs(" deleted ", out);
    } else {
        fputs(" = ", out);
        const void *value = cw_msg_value(m, &len);
        print_bytes(out, value, len);
        fputc(' ', out);
    }
    print_clock(out, m);
}

typedef struct pending_ctx {
    FILE *out;
    size_t count;
    bool print;
} pending_ctx;

static void each_pending(void *ctx, const cw_msg *m)
{
    pending_ctx *p = ctx;
    p->count++;
    if (p->print) {
        fputs("    ", p->out);
        print_write(p->out, m);
        fprintf(p->out, " from node %u\n", cw_msg_origin(m));
    }
}

/* "  LABEL: 0:1,1:1", the clock that get (cw_node_clock, cw_node_stable)
 * copies, in cw_vclock_format's text; `empty` (nullable) instead of an
 * empty text. */
static int print_vclock(FILE *out, const char *label, const char *empty, const cw_node *n,
                        int (*get)(const cw_node *, cw_vclock *))
{
    cw_vclock clock;
    cw_vclock_init(&clock);
    int rc = get(n, &clock);
    if (rc == CW_OK) {
        size_t len;
        cw_vclock_format(&clock, NULL, 0, &len);
        char *text = malloc(len + 1);
        if (text && cw_vclock_format(&clock, text, len + 1, &len) == CW_OK)
            fprintf(out, "  %s: %s\n", label, len == 0 && empty ? empty : text);
        else
            rc = CW_ENOMEM;
        free(text);
    }
    cw_vclock_destroy(&clock);
    return rc;
}

int cw_node_dump(const cw_node *n, FILE *out)
{
    if (!n || !out)
        return CW_EINVAL;
    collect c = {0};
    cw_node_each_key(n, add_key, &c);
    if (c.failed) {
        free(c.e);
        return CW_ENOMEM;
    }
    if (c.n) /* qsort wants a valid pointer even for no elements */
        qsort(c.e, c.n, sizeof *c.e, by_key);
    fprintf(out, "Node %u:\n  Data:\n", cw_node_self(n));
    for (size_t i = 0; i < c.n; i++) {
        for (size_t v = 0; v < c.e[i].count; v++) {
            fputs("    ", out);
            print_write(out, c.e[i].versions[v]);
            if (c.e[i].count > 1)
                fprintf(out, "  (sibling %zu of %zu)", v + 1, c.e[i].count);
            fputc('\n', out);
        }
    }
    free(c.e);
    pending_ctx p = {out, 0, false};
    cw_node_each_pending(n, each_pending, &p);
    fprintf(out, "  Pending writes: %zu\n", p.count);
    p.print = true;
    cw_node_each_pending(n, each_pending, &p);
    int rc = print_vclock(out, "Vector clock", NULL, n, cw_node_clock);
    cw_node_stats st;
    if (rc == CW_OK)
        rc = cw_node_get_stats(n, &st);
    if (rc == CW_OK && st.clock_anomalies)
        fprintf(out, "  Clock anomalies: %llu (writes applied whose timestamp was beyond the drift bound)\n",
                (unsigned long long)st.clock_anomalies);
    if (rc == CW_OK) {
        fprintf(out, "  Recovery: retransmitted %llu, recovered %llu, log entries %llu, pulls %llu, reports %llu, "
                     "missing %llu\n",
                (unsigned long long)st.retransmitted, (unsigned long long)st.recovered,
                (unsigned long long)st.log_entries, (unsigned long long)st.pulls, (unsigned long long)st.reports,
                (unsigned long long)st.missing);
        rc = print_vclock(out, "Stable clock", "none", n, cw_node_stable);
    }
    if (rc == CW_OK && st.stability_blocker != CW_NODE_NONE)
        fprintf(out, "  Stability blocker: node %u\n", st.stability_blocker);
    /* Flushed: a write error on a buffered stream shows only once the
     * buffer goes out. */
    return fflush(out) != 0 || ferror(out) ? CW_EINVAL : rc;
}
