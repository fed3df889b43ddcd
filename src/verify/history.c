/* Ground-truth history of a replication run (see causeway/verify.h).
 *
 * Invariants:
 *  1. writes[o][s-1] is written once, by origin o's thread, before the
 *     write's message leaves o; readers reach it only through that message.
 *  2. applied[x][k] counts the writes from k that node x applied; only x's
 *     events change row x.
 *  3. The first violation is kept (under a lock, as several nodes' threads
 *     may find one at once); later ones are counted.
 *  4. Reporting a final state either records it whole or changes nothing:
 *     the rows for final clocks are allocated with the history.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/dclock.h>
#include <causeway/error.h>
#include <causeway/verify.h>

typedef struct record {
    uint64_t *past;          /* nodes counters; NULL until made */
    cw_hlc_timestamp ts;
    uint8_t *key;
    size_t key_len;
} record;

typedef struct final_version {
    cw_node_id origin;
    uint64_t seq;
} final_version;

typedef struct final_key {
    uint8_t *key;
    size_t key_len;
    size_t count;
    final_version *versions;  /* sorted by (origin, seq) */
} final_key;

struct cw_history {
    uint32_t nodes;
    uint64_t max_writes;
    cw_conflict_policy policy;
    record **writes;          /* [origin][seq - 1] */
    uint64_t **applied;       /* [x][k] */
    uint64_t *applications;   /* per x */
    final_key **finals;       /* [x] -> array of keys */
    size_t *final_count, *final_cap;
    uint64_t **final_clock;   /* [x] */
    bool *has_final_clock;    /* [x] */
    pthread_mutex_t lock;
    char violation[512];
    uint64_t violations;
};

static void violate(cw_history *h, const char *fmt, ...)
{
    pthread_mutex_lock(&h->lock);
    if (!h->violations++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(h->violation, sizeof h->violation, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&h->lock);
}

int cw_history_create(cw_history **out, uint32_t nodes, uint64_t max_writes, cw_conflict_policy policy)
{
    if (!out || nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES || (unsigned)policy > CW_MERGE_CALLBACK)
        return CW_EINVAL;
    cw_history *h = calloc(1, sizeof *h);
    if (!h)
        return CW_ENOMEM;
    h->nodes = nodes;
    h->max_writes = max_writes;
    h->policy = policy;
    pthread_mutex_init(&h->lock, NULL);
    h->writes = calloc(nodes, sizeof *h->writes);
    h->applied = calloc(nodes, sizeof *h->applied);
    h->applications = calloc(nodes, sizeof *h->applications);
    h->finals = calloc(nodes, sizeof *h->finals);
    h->final_count = calloc(nodes, sizeof *h->final_count);
    h->final_cap = calloc(nodes, sizeof *h->final_cap);
    h->final_clock = calloc(nodes, sizeof *h->final_clock);
    h->has_final_clock = calloc(nodes, sizeof *h->has_final_clock);
    bool ok = h->writes && h->applied && h->applications && h->finals &&
              h->final_count && h->final_cap && h->final_clock && h->has_final_clock;
    for (uint32_t i = 0; ok && i < nodes; i++) {
        h->writes[i] = calloc(max_writes ? max_writes : 1, sizeof **h->writes);
        h->applied[i] = calloc(nodes, sizeof **h->applied);
        h->final_clock[i] = calloc(nodes, sizeof **h->final_clock);
        ok = h->writes[i] && h->applied[i] && h->final_clock[i];
    }
    if (!ok) {
        cw_history_destroy(h);
        return CW_ENOMEM;
    }
    *out = h;
    return CW_OK;
}

void cw_history_destroy(cw_history *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->nodes; i++) {
        if (h->writes && h->writes[i]) {
            for (uint64_t s = 0; s < h->max_writes; s++) {
                free(h->writes[i][s].past);
                free(h->writes[i][s].key);
            }
            free(h->writes[i]);
        }
        if (h->applied)
            free(h->applied[i]);
        if (h->finals && h->finals[i]) {
            for (size_t k = 0; k < h->final_count[i]; k++) {
                free(h->finals[i][k].key);
                free(h->finals[i][k].versions);
            }
            free(h->finals[i]);
        }
        if (h->final_clock)
            free(h->final_clock[i]);
    }
    free(h->writes);
    free(h->applied);
    free(h->applications);
    free(h->finals);
    free(h->final_count);
    free(h->final_cap);
    free(h->final_clock);
    free(h->has_final_clock);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

const char *cw_history_violation(const cw_history *h)
{
    return h->violations ? h->violation : NULL;
}

/* Writes node o has made: a node applies each of its writes as it makes it. */
static uint64_t made(const cw_history *h, uint32_t o)
{
    return h->applied[o][o];
}

/* A new write at its origin x: its true past is what x has applied. */
static bool record_write(cw_history *h, cw_node_id x, const cw_msg *m)
{
    uint64_t seq = cw_msg_seq(m);
    if (seq != made(h, x) + 1 || seq > h->max_writes) {
        violate(h, "node %u made write %llu, expected %llu (limit %llu)", x,
                (unsigned long long)seq, (unsigned long long)made(h, x) + 1,
                (unsigned long long)h->max_writes);
        return false;
    }
    record *r = &h->writes[x][seq - 1];
    size_t key_len;
    const void *key = cw_msg_key(m, &key_len);
    r->past = malloc(h->nodes * sizeof *r->past);
    r->key = malloc(key_len ? key_len : 1);
    if (!r->past || !r->key) {
        violate(h, "out of memory recording a write");
        return false;
    }
    memcpy(r->past, h->applied[x], h->nodes * sizeof *r->past);
    r->past[x] = seq;
    memcpy(r->key, key, key_len);
    r->key_len = key_len;
    r->ts = cw_msg_timestamp(m);
    h->applied[x][x] = seq;
    const uint64_t *clock = cw_msg_counters(m, NULL);
    if (memcmp(clock, r->past, h->nodes * sizeof *clock) != 0) {
        violate(h, "write %u.%llu was stamped with a clock that is not its causal past", x,
                (unsigned long long)seq);
        return false;
    }
    return true;
}

bool cw_history_applied(cw_history *h, cw_node_id x, const cw_msg *m)
{
    cw_node_id o = cw_msg_origin(m);
    uint64_t seq = cw_msg_seq(m);
    h->applications[x]++;
    if (o == x)
        return record_write(h, x, m);
    if (seq == 0 || seq > h->max_writes || !h->writes[o][seq - 1].past) {
        violate(h, "node %u applied write %u.%llu, which was never made", x, o, (unsigned long long)seq);
        return false;
    }
    const record *r = &h->writes[o][seq - 1];
    uint64_t *have = h->applied[x];
    if (have[o] != seq - 1) {
        violate(h, "node %u applied write %u.%llu after %llu writes of node %u (%s)", x, o,
                (unsigned long long)seq, (unsigned long long)have[o], o,
                have[o] >= seq ? "applied twice" : "out of order");
        return false;
    }
    for (uint32_t k = 0; k < h->nodes; k++) {
        if (k != o && have[k] < r->past[k]) {
            violate(h, "node %u applied write %u.%llu before write %u.%llu it depends on", x, o,
                    (unsigned long long)seq, k, (unsigned long long)r->past[k]);
            return false;
        }
    }
    have[o] = seq;
    return true;
}

static int cmp_version(const void *a, const void *b)
{
    const final_version *x = a, *y = b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int cw_history_final_key(cw_history *h, cw_node_id x, const cw_msg *const *versions, size_t count)
{
    if (!h || x >= h->nodes || !versions || count == 0)
        return CW_EINVAL;
    if (h->final_count[x] == h->final_cap[x]) {
        size_t cap = h->final_cap[x] ? h->final_cap[x] * 2 : 16;
        final_key *grown = realloc(h->finals[x], cap * sizeof *grown);
        if (!grown)
            return CW_ENOMEM;
        h->finals[x] = grown;
        h->final_cap[x] = cap;
    }
    final_key *f = &h->finals[x][h->final_count[x]];
    size_t key_len;
    const void *key = cw_msg_key(versions[0], &key_len);
    f->key = malloc(key_len ? key_len : 1);
    f->versions = malloc(count * sizeof *f->versions);
    if (!f->key || !f->versions) {
        free(f->key);
        free(f->versions);
        return CW_ENOMEM;
    }
    memcpy(f->key, key, key_len);
    f->key_len = key_len;
    f->count = count;
    for (size_t i = 0; i < count; i++)
        f->versions[i] = (final_version){cw_msg_origin(versions[i]), cw_msg_seq(versions[i])};
    qsort(f->versions, count, sizeof *f->versions, cmp_version);
    h->final_count[x]++;
    return CW_OK;
}

int cw_history_final_clock(cw_history *h, cw_node_id x, const uint64_t *clock)
{
    if (!h || x >= h->nodes || !clock)
        return CW_EINVAL;
    memcpy(h->final_clock[x], clock, h->nodes * sizeof *clock);
    h->has_final_clock[x] = true;
    return CW_OK;
}

typedef struct final_ctx {
    cw_history *h;
    cw_node_id x;
    int rc;               /* the first error */
} final_ctx;

static void final_key_cb(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                         size_t count)
{
    (void)key;
    (void)key_len;
    final_ctx *c = ctx;
    if (c->rc == CW_OK)
        c->rc = cw_history_final_key(c->h, c->x, versions, count);
}

/* Reports node x's final state: each key through `each`, then the clock. */
static int final_state(cw_history *h, cw_node_id x, const cw_vclock *clock,
                       int (*each)(void *src, cw_node_id x, cw_key_fn fn, void *ctx), void *src)
{
    cw_dclock dense;
    int rc = cw_dclock_init(&dense, h->nodes);
    if (rc != CW_OK)
        return rc;
    /* A clock with an id beyond the group is not this group's node. */
    if ((rc = cw_dclock_from_sparse(&dense, clock)) == CW_OK) {
        final_ctx ctx = {h, x, CW_OK};
        rc = each(src, x, final_key_cb, &ctx);
        if (rc == CW_OK)
            rc = ctx.rc;
    }
    if (rc == CW_OK)
        rc = cw_history_final_clock(h, x, dense.counters);
    cw_dclock_destroy(&dense);
    return rc;
}

static int each_node_key(void *src, cw_node_id x, cw_key_fn fn, void *ctx)
{
    (void)x;
    cw_node_each_key(src, fn, ctx);
    return CW_OK;
}

static int each_engine_key(void *src, cw_node_id x, cw_key_fn fn, void *ctx)
{
    return cw_engine_each_key(src, x, fn, ctx);
}

int cw_history_final_node(cw_history *h, const cw_node *node)
{
    if (!h || !node || cw_node_self(node) >= h->nodes)
        return CW_EINVAL;
    cw_vclock c;
    cw_vclock_init(&c);
    int rc = cw_node_clock(node, &c);
    if (rc == CW_OK)
        rc = final_state(h, cw_node_self(node), &c, each_node_key, (void *)(uintptr_t)node);
    cw_vclock_destroy(&c);
    return rc;
}

int cw_history_final_engine_node(cw_history *h, cw_engine *e, cw_node_id x)
{
    if (!h || !e || x >= h->nodes)
        return CW_EINVAL;
    cw_vclock c;
    cw_vclock_init(&c);
    int rc = cw_engine_clock(e, x, &c);
    if (rc == CW_OK)
        rc = final_state(h, x, &c, each_engine_key, e);
    cw_vclock_destroy(&c);
    return rc;
}

/* ---- final verdict ---- */

typedef struct write_ref {
    cw_node_id origin;
    uint64_t seq;
} write_ref;

typedef struct key_group {
    const uint8_t *key;
    size_t key_len;
    size_t count, cap;
    write_ref *writes;
} key_group;

static bool same_key(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

/* a happened before b. Pasts are per-origin prefixes (checked as writes were
 * applied), so a is in b's past exactly when b's past covers a's sequence
 * number: an O(1) test. */
static bool before(const cw_history *h, write_ref a, write_ref b)
{
    return !(a.origin == b.origin && a.seq == b.seq) &&
           h->writes[b.origin][b.seq - 1].past[a.origin] >= a.seq;
}

static int ts_order(const cw_history *h, write_ref a, write_ref b)
{
    const record *ra = &h->writes[a.origin][a.seq - 1], *rb = &h->writes[b.origin][b.seq - 1];
    int c = cw_hlc_compare(&ra->ts, &rb->ts);
    return c ? c : (a.origin > b.origin) - (a.origin < b.origin);
}

/* Groups every write by key (linear scan per write over the groups found;
 * keys are few in every workload here). */
static key_group *group_by_key(const cw_history *h, size_t *groups_out)
{
    size_t groups = 0, cap = 16;
    key_group *g = calloc(cap, sizeof *g);
    for (uint32_t o = 0; g && o < h->nodes; o++) {
        for (uint64_t s = 1; s <= made(h, o); s++) {
            const record *r = &h->writes[o][s - 1];
            size_t i = 0;
            while (i < groups && !same_key(g[i].key, g[i].key_len, r->key, r->key_len))
                i++;
            if (i == groups) {
                if (groups == cap) {
                    key_group *grown = realloc(g, 2 * cap * sizeof *g);
                    if (!grown)
                        goto fail;
                    g = grown;
                    memset(g + cap, 0, cap * sizeof *g);
                    cap *= 2;
                }
                g[groups++] = (key_group){r->key, r->key_len, 0, 0, NULL};
            }
            if (g[i].count == g[i].cap) {
                size_t c = g[i].cap ? g[i].cap * 2 : 8;
                write_ref *grown = realloc(g[i].writes, c * sizeof *grown);
                if (!grown)
                    goto fail;
                g[i].writes = grown;
                g[i].cap = c;
            }
            g[i].writes[g[i].count++] = (write_ref){(cw_node_id)o, s};
        }
    }
    *groups_out = groups;
    return g;
fail:
    for (size_t i = 0; i < groups; i++)
        free(g[i].writes);
    free(g);
    return NULL;
}

/* The versions key group g must end with: its maximal writes, or the LWW winner. */
static size_t expected_versions(const cw_history *h, const key_group *g, final_version *out,
                                cw_history_report *rep)
{
    size_t n = 0;
    for (size_t i = 0; i < g->count; i++) {
        bool maximal = true;
        for (size_t j = 0; j < g->count; j++) {
            if (j == i)
                continue;
            bool ij = before(h, g->writes[i], g->writes[j]);
            maximal &= !ij;
            if (j > i) {
                bool related = ij || before(h, g->writes[j], g->writes[i]);
                rep->ordered_pairs += related;
                rep->concurrent_pairs += !related;
            }
        }
        if (maximal)
            out[n++] = (final_version){g->writes[i].origin, g->writes[i].seq};
    }
    if (h->policy == CW_LAST_WRITER_WINS && n > 1) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (ts_order(h, (write_ref){out[i].origin, out[i].seq},
                         (write_ref){out[best].origin, out[best].seq}) > 0)
                best = i;
        out[0] = out[best];
        n = 1;
    }
    qsort(out, n, sizeof *out, cmp_version);
    return n;
}

/* Field by field: the struct has padding. */
static bool same_versions(const final_version *a, const final_version *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].origin != b[i].origin || a[i].seq != b[i].seq)
            return false;
    return true;
}

static const final_key *find_final(const cw_history *h, cw_node_id x, const key_group *g)
{
    for (size_t i = 0; i < h->final_count[x]; i++)
        if (same_key(h->finals[x][i].key, h->finals[x][i].key_len, g->key, g->key_len))
            return &h->finals[x][i];
    return NULL;
}

bool cw_history_verdict(cw_history *h, cw_history_report *rep)
{
    *rep = (cw_history_report){0};
    for (uint32_t x = 0; x < h->nodes; x++) {
        rep->writes += made(h, x);
        rep->applications += h->applications[x];
        for (uint32_t o = 0; o < h->nodes; o++)
            if (h->applied[x][o] != made(h, o))
                violate(h, "node %u applied %llu of the %llu writes of node %u (lost writes)", x,
                        (unsigned long long)h->applied[x][o], (unsigned long long)made(h, o), o);
        if (!h->has_final_clock[x])
            violate(h, "node %u reported no final clock", x);
        else
            for (uint32_t k = 0; k < h->nodes; k++)
                if (h->final_clock[x][k] != made(h, k)) {
                    violate(h, "node %u ended with a clock other than the writes made", x);
                    break;
                }
    }
    size_t groups = 0;
    key_group *g = group_by_key(h, &groups);
    if (!g) {
        violate(h, "out of memory checking the final state");
        groups = 0;
    }
    rep->keys = groups;
    for (size_t i = 0; i < groups; i++) {
        final_version *want = malloc(g[i].count * sizeof *want);
        if (!want) {
            violate(h, "out of memory checking the final state");
            break;
        }
        size_t n = expected_versions(h, &g[i], want, rep);
        for (uint32_t x = 0; x < h->nodes; x++) {
            const final_key *f = find_final(h, (cw_node_id)x, &g[i]);
            if (!f || f->count != n || !same_versions(f->versions, want, n))
                violate(h, "node %u holds %zu version(s) of a key (%.*s%s) where %zu are the "
                           "writes no other write to it follows%s",
                        x, f ? f->count : 0, (int)(g[i].key_len < 24 ? g[i].key_len : 24),
                        (const char *)g[i].key, g[i].key_len > 24 ? "..." : "", n,
                        h->policy == CW_LAST_WRITER_WINS ? " (last-writer-wins: 1)" : "");
        }
        free(want);
    }
    for (uint32_t x = 0; x < h->nodes; x++)
        if (h->final_count[x] != groups)
            violate(h, "node %u holds %zu keys, %zu were written", x, h->final_count[x], groups);
    for (size_t i = 0; i < groups; i++)
        free(g[i].writes);
    free(g);
    rep->ok = h->violations == 0;
    return rep->ok;
}
