/* The replica's "system state" as text: data with clocks, pending writes,
 * vector clock. Keys are sorted so dumps of converged replicas are
 * identical. Built on the public accessors only. */
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
    fputs(" = ", out);
    const void *value = cw_msg_value(m, &len);
    print_bytes(out, value, len);
    fputc(' ', out);
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
    cw_vclock clock;
    cw_vclock_init(&clock);
    int rc = cw_node_clock(n, &clock);
    if (rc == CW_OK) {
        size_t len;
        cw_vclock_format(&clock, NULL, 0, &len);
        char *text = malloc(len + 1);
        if (text && cw_vclock_format(&clock, text, len + 1, &len) == CW_OK)
            fprintf(out, "  Vector clock: %s\n", text);
        else
            rc = CW_ENOMEM;
        free(text);
    }
    cw_vclock_destroy(&clock);
    cw_node_stats st;
    if (rc == CW_OK && cw_node_get_stats(n, &st) == CW_OK && st.clock_anomalies)
        fprintf(out, "  Clock anomalies: %llu (writes applied whose timestamp was beyond the drift bound)\n",
                (unsigned long long)st.clock_anomalies);
    return ferror(out) ? CW_EINVAL : rc;
}
