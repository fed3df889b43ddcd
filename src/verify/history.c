/* Ground-truth history of a replication run (see causeway/verify.h).
 *
 * Invariants:
 *  1. The record of write s of origin o (at(h, o, s)) is written once, by
 *     o's thread, before the write's message leaves o; readers reach it only
 *     through that message. Records come in chunks that o's thread
 *     allocates as it needs them, so that a history sized for many writes
 *     costs memory only for the writes made; a chunk's pointer is published
 *     with the first record in it, by the same message.
 *  2. applied[x][k] counts the writes from k that node x applied; only x's
 *     events change row x. Other threads may read a row during the run
 *     (cw_history_applied_counts): x publishes each count with a release
 *     store after the application is recorded, so a count read covers only
 *     applications that happened; and the row is read as it stood at one
 *     moment (a double collect), so the counts of reads at one node grow
 *     along one chain, as the sweep of live versions needs.
 *  3. The first violation is kept (under a lock, as several nodes' threads
 *     may find one at once); later ones are counted.
 *  4. Reporting a final state either records it whole or changes nothing:
 *     the rows for final clocks are allocated with the history.
 *  5. The verdict is linear in writes x nodes: it never compares two writes
 *     directly (how, in "final verdict" below), and cw_history_report's
 *     check_steps counts its steps so that tests can hold it to that.
 *  6. What a client tells of a write (cw_history_wrote) is written into the
 *     write's record by the client's thread, after the write was made (so
 *     after record_write, on that same thread: the engine and the
 *     simulator apply a local write on the caller's thread) and read only
 *     by the verdict; the fields it writes are none that other nodes'
 *     applications read. Client operations are logged, under the lock, in
 *     the order each client makes them.
 *  7. While the verdict runs (judging, set under the lock before it reads
 *     anything) nothing is recorded: it walks the reads, the client
 *     operations, the records and the final states without the lock, and a
 *     record made meanwhile could grow an array under it. Reads and client
 *     operations test the flag under the lock, where they append, so they
 *     are refused from any thread. Applications and final states test it
 *     when they start, without the lock: that refuses them from the
 *     verdict's progress callback, but one another thread began before the
 *     verdict can still run beside it, so the caller must not overlap them
 *     (verify.h: the verdict comes once the run is over).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <causeway/dclock.h>
#include <causeway/error.h>
#include <causeway/verify.h>

#include "map.h"
#include "msg_internal.h"
#include "physmem.h"
#include "vec.h"

typedef struct record {
    uint64_t *past;          /* nodes counters; NULL until made */
    cw_hlc_timestamp ts;
    uint8_t *key;
    size_t key_len;
    uint64_t hash;           /* the key's, for grouping writes by key */
    uint64_t value_hash;     /* the value's, to tell a copy changed on its way */
    uint64_t clock_hash;     /* STAMP_WRONG: the hash of the clock it was stamped with */
    cw_history_dot *read;    /* CONTEXT: the versions its client read (invariant 6) */
    uint32_t read_count;
    uint32_t client;         /* TOLD: its client, or CW_HISTORY_NO_CLIENT */
    uint8_t as_made;         /* TOMBSTONE, STAMP_WRONG: set as it is made, never again
                                (invariant 1), so other nodes' threads read it
                                (copy_differs) while cw_history_wrote sets told */
    uint8_t told;            /* TOLD, CONTEXT: set by cw_history_wrote (invariant 6) */
} record;

enum {                       /* as_made */
    TOMBSTONE = 1,           /* its message deletes */
    STAMP_WRONG = 2          /* stamped with a clock other than its past (a violation) */
};
enum {                       /* told */
    CONTEXT = 1,             /* made with a context: it supersedes `read` (and what they superseded) */
    TOLD = 2                 /* cw_history_wrote was called for it */
};

enum { CHUNK = 4096 };     /* records per chunk */

typedef struct final_version {
    cw_node_id origin;
    uint64_t seq;
} final_version;

/* One key a node holds at the end; its versions (sorted by (origin, seq))
 * then its bytes sit in the node's arena at offset `at` (final_versions,
 * final_key_bytes): one growing block per node, not a malloc per key. */
typedef struct final_key {
    uint64_t hash;            /* the key's */
    size_t at;                /* in the arena; a multiple of _Alignof(final_version) */
    size_t key_len;
    size_t count;
} final_key;

/* A read recorded during the run, judged by the verdict. */
typedef struct read_rec {
    cw_node_id x;
    uint64_t hash;            /* the key's */
    uint8_t *key;
    size_t key_len;
    uint64_t *before;         /* 2 x nodes counters: applied at x before the read began, */
    uint64_t *after;          /* and by its end (in the same block) */
    uint64_t *ctx;            /* a read that found nothing: its context as nodes counters (each
                                 origin's highest seq it covers; in the same block), else NULL */
    size_t count;
    final_version *found;     /* the versions returned, as dots */
} read_rec;

/* One operation of a client, in its order (invariant 6). */
typedef struct client_op {
    uint32_t client;
    bool is_write;
    cw_node_id origin;        /* a write: its dot */
    uint64_t seq;
    size_t read;              /* a read: its index in reads */
} client_op;

struct cw_history {
    uint32_t nodes;
    uint64_t max_writes;
    cw_conflict_policy policy;
    bool untimed;             /* cw_history_set_untimed: LWW, which maximal version wins unknown */
    record ***writes;         /* [origin][(seq - 1) / CHUNK][(seq - 1) % CHUNK], chunks NULL until used */
    _Atomic uint64_t **applied; /* [x][k] (invariant 2) */
    uint64_t *applications;   /* per x */
    final_key **finals;       /* [x] -> array of keys */
    size_t *final_count, *final_cap;
    uint8_t **arena;          /* [x]: the final keys' versions and bytes */
    size_t *arena_len, *arena_cap;
    uint64_t **final_clock;   /* [x] */
    bool *has_final_clock;    /* [x] */
    bool *keys_unknown;       /* [x]: its final keys were not reported (cw_history_final_clock_only) */
    read_rec *reads;          /* under lock */
    size_t read_count, read_cap;
    client_op *ops;           /* under lock */
    size_t op_count, op_cap;
    cw_history_progress_fn progress;
    void *progress_ctx;
    pthread_mutex_t lock;
    char violation[512];
    uint64_t violations;
    size_t violation_read;    /* the read the first violation is about, or SIZE_MAX */
    bool judged;              /* cw_history_verdict ran: its report is kept, final states refused */
    _Atomic bool judging;     /* cw_history_verdict is running (set under lock; invariant 7) */
    /* The first violation kept is memory running out where it could not be
     * handed back (an application, the verdict's checks): the history
     * cannot judge the run. (A violation found before it stands: what the
     * missing memory takes away comes after it.) A flag alone, read by
     * cw_history_out_of_memory; orders nothing. */
    _Atomic bool no_memory;
    /* Bytes the writes' records hold (their pasts and keys, and their
     * chunks), and the most they may: three quarters of this machine's
     * physical memory (0: unknown, no bound). A record past it is memory
     * running out, before the kernel's out-of-memory killer would end the
     * process: a run that outgrows the machine gives no verdict rather than
     * dying. A count; relaxed, it orders nothing. */
    _Atomic uint64_t held;
    uint64_t held_max;
    cw_history_report judgement;
};

/* Returns whether this was the first violation (the one kept). */
static bool violate(cw_history *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool violate(cw_history *h, const char *fmt, ...)
{
    pthread_mutex_lock(&h->lock);
    bool first = !h->violations++;
    if (first) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(h->violation, sizeof h->violation, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&h->lock);
    return first;
}

/* A violation that is no verdict on the run: memory ran out (`what` was
 * being done). Returns false, as the call that met it does. */
static bool out_of_memory(cw_history *h, const char *what)
{
    if (violate(h, "out of memory %s", what))
        atomic_store_explicit(&h->no_memory, true, memory_order_relaxed);
    return false;
}

/* Writes node o has made: a node applies each of its writes as it makes it. */
static uint64_t made(const cw_history *h, uint32_t o)
{
    return atomic_load_explicit(&h->applied[o][o], memory_order_relaxed);
}

/* The record of write s (>= 1, <= max_writes) of node o, or NULL if its
 * chunk was never needed. */
static record *at(const cw_history *h, uint32_t o, uint64_t s)
{
    record *chunk = h->writes[o][(s - 1) / CHUNK];
    return chunk ? &chunk[(s - 1) % CHUNK] : NULL;
}

int cw_history_create(cw_history **out, uint32_t nodes, uint64_t max_writes, cw_conflict_policy policy)
{
    if (!out || nodes == 0 || nodes > CW_VCLOCK_MAX_ENTRIES || (unsigned)policy > CW_MERGE_CALLBACK)
        return CW_EINVAL;
    /* Two nodes x nodes tables of counters, and the chunk pointers: refused
     * when they pass this machine's memory (65,536 nodes: 64 GiB). */
    double phys = cw__physical_bytes(), n = nodes;
    if (phys > 0 && n * n * 16.0 + n * ((double)max_writes / CHUNK + 1) * 8.0 > phys)
        return CW_ELIMIT;
    cw_history *h = calloc(1, sizeof *h);
    if (!h)
        return CW_ENOMEM;
    h->nodes = nodes;
    h->max_writes = max_writes;
    h->policy = policy;
    h->violation_read = SIZE_MAX;
    h->held_max = phys > 0 ? (uint64_t)(phys / 4 * 3) : 0;
    pthread_mutex_init(&h->lock, NULL);
    h->writes = calloc(nodes, sizeof *h->writes);
    h->applied = calloc(nodes, sizeof *h->applied);
    h->applications = calloc(nodes, sizeof *h->applications);
    h->finals = calloc(nodes, sizeof *h->finals);
    h->arena = calloc(nodes, sizeof *h->arena);
    h->arena_len = calloc(nodes, sizeof *h->arena_len);
    h->arena_cap = calloc(nodes, sizeof *h->arena_cap);
    h->final_count = calloc(nodes, sizeof *h->final_count);
    h->final_cap = calloc(nodes, sizeof *h->final_cap);
    h->final_clock = calloc(nodes, sizeof *h->final_clock);
    h->has_final_clock = calloc(nodes, sizeof *h->has_final_clock);
    h->keys_unknown = calloc(nodes, sizeof *h->keys_unknown);
    bool ok = h->writes && h->applied && h->applications && h->finals && h->arena && h->arena_len &&
              h->arena_cap && h->final_count && h->final_cap && h->final_clock && h->has_final_clock &&
              h->keys_unknown;
    for (uint32_t i = 0; ok && i < nodes; i++) {
        h->writes[i] = calloc(max_writes / CHUNK + 1, sizeof **h->writes);
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
            for (uint64_t c = 0; c <= h->max_writes / CHUNK; c++) {
                for (size_t k = 0; h->writes[i][c] && k < CHUNK; k++) {
                    free(h->writes[i][c][k].past);
                    free(h->writes[i][c][k].key);
                    free(h->writes[i][c][k].read);
                }
                free(h->writes[i][c]);
            }
            free(h->writes[i]);
        }
        if (h->applied)
            free(h->applied[i]);
        if (h->finals)
            free(h->finals[i]);
        if (h->arena)
            free(h->arena[i]);
        if (h->final_clock)
            free(h->final_clock[i]);
    }
    for (size_t i = 0; i < h->read_count; i++) {
        free(h->reads[i].key);
        free(h->reads[i].before);
        free(h->reads[i].found);
    }
    free(h->reads);
    free(h->ops);
    free(h->writes);
    free(h->applied);
    free(h->applications);
    free(h->finals);
    free(h->arena);
    free(h->arena_len);
    free(h->arena_cap);
    free(h->final_count);
    free(h->final_cap);
    free(h->final_clock);
    free(h->has_final_clock);
    free(h->keys_unknown);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Whether anything was recorded: a write made, a read, a final state, or a
 * violation (an application of a write never made is one). */
static bool recorded(cw_history *h)
{
    pthread_mutex_lock(&h->lock);
    bool any = h->read_count || h->op_count || h->violations;
    pthread_mutex_unlock(&h->lock);
    for (uint32_t x = 0; x < h->nodes && !any; x++)
        any = made(h, x) || h->final_count[x] || h->has_final_clock[x];
    return any;
}

int cw_history_set_untimed(cw_history *h)
{
    /* Records already made were judged as timed: the history would mix both. */
    if (!h || h->policy != CW_LAST_WRITER_WINS || (!h->untimed && recorded(h)))
        return CW_EINVAL;
    h->untimed = true;
    return CW_OK;
}

void cw_history_set_progress(cw_history *h, cw_history_progress_fn fn, void *ctx)
{
    if (!h)
        return;
    h->progress = fn;
    h->progress_ctx = ctx;
}

const char *cw_history_violation(const cw_history *h)
{
    if (!h)
        return "no history (NULL)";
    return h->violations ? h->violation : NULL;
}

bool cw_history_out_of_memory(const cw_history *h)
{
    return h && atomic_load_explicit(&h->no_memory, memory_order_relaxed);
}

size_t cw_history_violation_read(const cw_history *h)
{
    return h ? h->violation_read : SIZE_MAX;
}

/* The hash of the clock m is stamped with. */
static uint64_t clock_hash(const cw_msg *m)
{
    uint32_t nodes;
    const uint64_t *c = cw_msg_counters(m, &nodes);
    return cw__hash_key(c, nodes * sizeof *c);
}

/* What of m, a copy of the write r records (its dot), differs from what
 * its origin made: "key", "value", ...; NULL when nothing does. Cost:
 * O(nodes + the key + the value). */
static const char *copy_differs(const cw_history *h, const record *r, const cw_msg *m)
{
    size_t key_len;
    const void *key = cw_msg_key(m, &key_len);
    if (key_len != r->key_len || (key_len && memcmp(key, r->key, key_len) != 0))
        return "key";
    if (cw_msg_tombstone(m) != ((r->as_made & TOMBSTONE) != 0))
        return "kind (put or delete)";
    cw_hlc_timestamp ts = cw_msg_timestamp(m);
    if (ts.wall_ms != r->ts.wall_ms || ts.counter != r->ts.counter || ts.node != r->ts.node)
        return "timestamp";
    if (r->as_made & STAMP_WRONG ? clock_hash(m) != r->clock_hash
                       : memcmp(cw_msg_counters(m, NULL), r->past, h->nodes * sizeof *r->past) != 0)
        return "clock";
    /* Made once a message object (msg_internal.h): the engine's and the
     * simulator's nodes apply the origin's own object, so a large value is
     * hashed once a write, not at every node. */
    if (cw__msg_value_hash(m) != r->value_hash)
        return "value";
    return NULL;
}

/* Whether the verdict is running (invariant 7). */
static bool judging(const cw_history *h) { return atomic_load(&h->judging); }

/* A new write at its origin x: its true past is what x has applied. */
static bool record_write(cw_history *h, cw_node_id x, const cw_msg *m)
{
    uint64_t seq = cw_msg_seq(m);
    if (seq != made(h, x) + 1) {
        violate(h, "node %u made write %llu, expected %llu", x, (unsigned long long)seq,
                (unsigned long long)made(h, x) + 1);
        return false;
    }
    if (seq > h->max_writes) {
        violate(h, "node %u made write %llu, past the history's limit of %llu writes a node", x,
                (unsigned long long)seq, (unsigned long long)h->max_writes);
        return false;
    }
    record **chunk = &h->writes[x][(seq - 1) / CHUNK];
    size_t key_len;
    const void *key = cw_msg_key(m, &key_len);
    uint64_t more = h->nodes * sizeof(uint64_t) + key_len + (*chunk ? 0 : CHUNK * sizeof **chunk);
    if (h->held_max && atomic_fetch_add_explicit(&h->held, more, memory_order_relaxed) + more > h->held_max)
        return out_of_memory(h, "recording a write (the history's records would pass three quarters of this "
                                "machine's physical memory)");
    if (!*chunk && !(*chunk = calloc(CHUNK, sizeof **chunk)))
        return out_of_memory(h, "recording a write");
    record *r = at(h, x, seq);
    r->past = malloc(h->nodes * sizeof *r->past);
    r->key = malloc(key_len ? key_len : 1);
    if (!r->past || !r->key) { /* not recorded: a later application finds no past, not garbage */
        free(r->past);
        free(r->key);
        r->past = NULL;
        r->key = NULL;
        return out_of_memory(h, "recording a write");
    }
    for (uint32_t k = 0; k < h->nodes; k++) /* x's own row: relaxed */
        r->past[k] = atomic_load_explicit(&h->applied[x][k], memory_order_relaxed);
    r->past[x] = seq;
    memcpy(r->key, key, key_len);
    r->key_len = key_len;
    r->hash = m->key_hash; /* cw__hash_key of the key, made with the write */
    r->value_hash = cw__msg_value_hash(m);
    r->ts = cw_msg_timestamp(m);
    r->client = CW_HISTORY_NO_CLIENT;
    r->as_made = cw_msg_tombstone(m) ? TOMBSTONE : 0;
    atomic_store_explicit(&h->applied[x][x], seq, memory_order_release);
    const uint64_t *clock = cw_msg_counters(m, NULL);
    if (memcmp(clock, r->past, h->nodes * sizeof *clock) != 0) {
        r->as_made |= STAMP_WRONG; /* its copies carry that clock: copy_differs */
        r->clock_hash = clock_hash(m);
        violate(h, "write %u.%llu was stamped with a clock that is not its causal past", x,
                (unsigned long long)seq);
        return false;
    }
    return true;
}

bool cw_history_applied(cw_history *h, cw_node_id x, const cw_msg *m)
{
    if (!h)
        return false;
    if (!m) {
        violate(h, "node %u applied no write (a NULL message)", x);
        return false;
    }
    uint32_t group;
    cw_msg_counters(m, &group);
    cw_node_id o = cw_msg_origin(m);
    uint64_t seq = cw_msg_seq(m);
    if (x >= h->nodes || group != h->nodes || o >= h->nodes) { /* nothing below may index with them */
        violate(h, "node %u applied a write of node %u for a group of %u nodes, in a history of %u nodes", x, o,
                group, h->nodes);
        return false;
    }
    if (judging(h)) {
        violate(h, "node %u applied write %u.%llu while the verdict ran", x, o, (unsigned long long)seq);
        return false;
    }
    h->applications[x]++;
    if (o == x)
        return record_write(h, x, m);
    if (seq == 0 || seq > h->max_writes || !at(h, o, seq) || !at(h, o, seq)->past) {
        violate(h, "node %u applied write %u.%llu, which was never made", x, o, (unsigned long long)seq);
        return false;
    }
    const record *r = at(h, o, seq);
    /* A copy changed on its way is a violation; it is still counted as the
     * write's application, so that what follows is judged as before. */
    const char *changed = copy_differs(h, r, m);
    if (changed)
        violate(h, "node %u applied write %u.%llu with another %s than its origin made", x, o,
                (unsigned long long)seq, changed);
    _Atomic uint64_t *have = h->applied[x];
    uint64_t had = atomic_load_explicit(&have[o], memory_order_relaxed);
    if (had != seq - 1) {
        violate(h, "node %u applied write %u.%llu after %llu writes of node %u (%s)", x, o,
                (unsigned long long)seq, (unsigned long long)had, o, had >= seq ? "applied twice" : "out of order");
        return false;
    }
    for (uint32_t k = 0; k < h->nodes; k++) {
        if (k != o && atomic_load_explicit(&have[k], memory_order_relaxed) < r->past[k]) {
            violate(h, "node %u applied write %u.%llu before write %u.%llu it depends on", x, o,
                    (unsigned long long)seq, k, (unsigned long long)r->past[k]);
            return false;
        }
    }
    atomic_store_explicit(&have[o], seq, memory_order_release);
    return !changed;
}

/* Collects of a row that cw_history_applied_counts makes at most. */
#define COLLECTS_MAX 64u

void cw_history_applied_counts(const cw_history *h, cw_node_id x, uint64_t *out)
{
    if (!h || !out)
        return;
    if (x >= h->nodes) { /* a node the history does not have applied nothing */
        memset(out, 0, (size_t)h->nodes * sizeof *out);
        return;
    }
    /* Invariant 2: the row as it stood at one moment, by a double collect.
     * x's applications are one after another (one thread at a time, under
     * its host's lock), so the row goes through states s_0, s_1, ... Let a
     * collect's loads have read, at the latest, the store that made s_t:
     * each count it read is at most s_t's (counts only grow). The acquire
     * load of that store (pairs with the application's release) makes
     * every store up to s_t visible to the next collect, so each count it
     * reads is at least s_t's; when it finds the same counts, they are
     * s_t's. A row that keeps changing faster than it is read ends the
     * loop after COLLECTS_MAX collects with the last one, each count of
     * which lies between the row's states at the call's start and end (no
     * such call in 1.8 million of `causeway stress` at 8 and 64 nodes). */
    const _Atomic uint64_t *row = h->applied[x];
    for (uint32_t k = 0; k < h->nodes; k++)
        out[k] = atomic_load_explicit(&row[k], memory_order_acquire);
    for (unsigned collects = 1; collects < COLLECTS_MAX; collects++) {
        bool moved = false;
        for (uint32_t k = 0; k < h->nodes; k++) {
            uint64_t c = atomic_load_explicit(&row[k], memory_order_acquire);
            moved |= c != out[k];
            out[k] = c;
        }
        if (!moved)
            return;
    }
}

/* Appends a client's operation to the log; call with the lock held. */
static int log_op(cw_history *h, client_op op)
{
    client_op *room = cw__vec_room(h->ops, h->op_count, &h->op_cap, sizeof *room);
    if (!room)
        return CW_ENOMEM;
    h->ops = room;
    h->ops[h->op_count++] = op;
    return CW_OK;
}

/* Orders versions by (origin, seq). */
static int by_version(const void *a, const void *b)
{
    const final_version *x = a, *y = b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int cw_history_client_read(cw_history *h, uint32_t client, cw_node_id x, const void *key, size_t key_len,
                           const uint64_t *before, const uint64_t *after, const cw_read *r)
{
    if (!h || x >= h->nodes || (!key && key_len) || !before || !after || !r || (r->count && !r->versions) ||
        (h->untimed && client != CW_HISTORY_NO_CLIENT) || judging(h))
        return CW_EINVAL;
    for (uint32_t k = 0; k < h->nodes; k++) /* counts of x at two moments, the later not ahead of now */
        if (before[k] > after[k] || after[k] > atomic_load_explicit(&h->applied[x][k], memory_order_acquire))
            return CW_EINVAL;
    read_rec rd = {x, cw__hash_key(key, key_len), malloc(key_len ? key_len : 1), key_len,
                   malloc((r->count ? 2 : 3) * h->nodes * sizeof *before), NULL, NULL, r->count,
                   malloc((r->count ? r->count : 1) * sizeof *rd.found)};
    if (!rd.key || !rd.before || !rd.found) {
        free(rd.key);
        free(rd.before);
        free(rd.found);
        return CW_ENOMEM;
    }
    rd.after = rd.before + h->nodes;
    memcpy(rd.key, key, key_len);
    memcpy(rd.before, before, h->nodes * sizeof *before);
    memcpy(rd.after, after, h->nodes * sizeof *after);
    bool first = false; /* this read's violation is the history's first (cw_history_violation_read) */
    if (!r->count) { /* what it found is the tombstones its context covers (the sessions use them) */
        rd.ctx = rd.after + h->nodes;
        memset(rd.ctx, 0, h->nodes * sizeof *rd.ctx);
        for (size_t i = 0; i < cw_vclock_size(&r->context); i++) {
            cw_node_id o;
            uint64_t seq;
            if (cw_vclock_entry(&r->context, i, &o, &seq) != CW_OK)
                break;
            if (o < h->nodes)
                rd.ctx[o] = seq;
            if (o >= h->nodes || seq > after[o]) /* the history's record, not the engine's word */
                first |= violate(h, "node %u read nothing of a key (%.*s%s) with a context covering write %u.%llu, "
                           "which it had not applied by the read's end",
                        x, (int)(key_len < 24 ? key_len : 24), (const char *)key, key_len > 24 ? "..." : "", o,
                        (unsigned long long)seq);
        }
    }
    for (size_t i = 0; i < r->count; i++) {
        cw_node_id o = r->versions[i].origin;
        uint64_t seq = o < h->nodes ? cw_vclock_get(&r->versions[i].clock, o) : 0;
        rd.found[i] = (final_version){o, seq};
        if (o >= h->nodes || seq == 0 || seq > after[o])
            first |= violate(h,
                             "node %u read version %u.%llu of a key (%.*s%s), which it had not applied by the "
                             "read's end",
                             x, o, (unsigned long long)seq, (int)(key_len < 24 ? key_len : 24), (const char *)key,
                             key_len > 24 ? "..." : "");
    }
    if (r->count > 1) { /* a version is one write: a read that returns it twice is wrong */
        final_version *sorted = malloc(r->count * sizeof *sorted);
        if (!sorted) {
            free(rd.key);
            free(rd.before);
            free(rd.found);
            return CW_ENOMEM;
        }
        memcpy(sorted, rd.found, r->count * sizeof *sorted);
        qsort(sorted, r->count, sizeof *sorted, by_version);
        for (size_t i = 1; i < r->count; i++)
            if (by_version(&sorted[i - 1], &sorted[i]) == 0) {
                first |= violate(h, "node %u read version %u.%llu of a key (%.*s%s) twice", x, sorted[i].origin,
                                 (unsigned long long)sorted[i].seq, (int)(key_len < 24 ? key_len : 24),
                                 (const char *)key, key_len > 24 ? "..." : "");
                break;
            }
        free(sorted);
    }
    pthread_mutex_lock(&h->lock);
    int rc = h->judging ? CW_EINVAL : CW_OK; /* the verdict began meanwhile */
    if (rc == CW_OK && h->read_count == h->read_cap) {
        size_t cap = h->read_cap ? 2 * h->read_cap : 256;
        read_rec *grown = realloc(h->reads, cap * sizeof *grown);
        if (grown) {
            h->reads = grown;
            h->read_cap = cap;
        } else {
            rc = CW_ENOMEM;
        }
    }
    if (rc == CW_OK && client != CW_HISTORY_NO_CLIENT)
        rc = log_op(h, (client_op){.client = client, .read = h->read_count});
    if (rc == CW_OK) {
        if (first)
            h->violation_read = h->read_count;
        h->reads[h->read_count++] = rd;
    }
    pthread_mutex_unlock(&h->lock);
    if (rc != CW_OK) {
        free(rd.key);
        free(rd.before);
        free(rd.found);
    }
    return rc;
}

int cw_history_read(cw_history *h, cw_node_id x, const void *key, size_t key_len, const uint64_t *before,
                    const uint64_t *after, const cw_read *r)
{
    return cw_history_client_read(h, CW_HISTORY_NO_CLIENT, x, key, key_len, before, after, r);
}

int cw_history_wrote(cw_history *h, cw_node_id origin, uint64_t seq, const cw_history_write_info *w)
{
    if (!h || !w || (!w->read && w->read_count) || judging(h))
        return CW_EINVAL;
    if (origin >= h->nodes || seq == 0 || seq > made(h, origin)) {
        violate(h, "a client told of write %u.%llu, which was never made", origin, (unsigned long long)seq);
        return CW_OK;
    }
    record *r = at(h, origin, seq);
    if (r->told & TOLD) {
        violate(h, "a client told of write %u.%llu twice", origin, (unsigned long long)seq);
        return CW_OK;
    }
    cw_history_dot *read = NULL;
    if (w->context && w->read_count) {
        if (w->read_count > UINT32_MAX || !(read = malloc(w->read_count * sizeof *read)))
            return CW_ENOMEM;
        memcpy(read, w->read, w->read_count * sizeof *read);
    }
    pthread_mutex_lock(&h->lock); /* the record and the log change together, not while judging */
    int rc = h->judging ? CW_EINVAL : CW_OK;
    if (rc == CW_OK && w->client != CW_HISTORY_NO_CLIENT)
        rc = log_op(h, (client_op){.client = w->client, .is_write = true, .origin = origin, .seq = seq});
    if (rc == CW_OK) {
        r->read = read;
        r->read_count = w->context ? (uint32_t)w->read_count : 0;
        r->client = w->client;
        r->told = TOLD | (w->context ? CONTEXT : 0);
    }
    pthread_mutex_unlock(&h->lock);
    if (rc != CW_OK) {
        free(read);
        return rc;
    }
    if (w->tombstone != ((r->as_made & TOMBSTONE) != 0))
        violate(h, "write %u.%llu is a %s, but its client made a %s", origin, (unsigned long long)seq,
                r->as_made & TOMBSTONE ? "delete" : "put", w->tombstone ? "delete" : "put");
    for (size_t i = 0; i < r->read_count; i++) {
        cw_history_dot d = read[i];
        /* A write may replace only what its node had applied: its own
         * earlier writes and what its past covers (never itself). */
        if (d.origin >= h->nodes || d.seq == 0 || (d.origin == origin ? d.seq >= seq : d.seq > r->past[d.origin])) {
            violate(h, "write %u.%llu replaced version %u.%llu, which its node had not applied", origin,
                    (unsigned long long)seq, d.origin, (unsigned long long)d.seq);
            break;
        }
    }
    return CW_OK;
}

static int cmp_version(const void *a, const void *b)
{
    const final_version *x = a, *y = b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static final_version *final_versions(const cw_history *h, cw_node_id x, const final_key *f)
{
    return (final_version *)(void *)(h->arena[x] + f->at);
}

static uint8_t *final_key_bytes(const cw_history *h, cw_node_id x, const final_key *f)
{
    return h->arena[x] + f->at + f->count * sizeof(final_version);
}

/* Records that node x holds `key` with these versions (count >= 1). */
static int add_final(cw_history *h, cw_node_id x, const void *key, size_t key_len, const cw_msg *const *versions,
                     size_t count)
{
    if (h->untimed || h->judged || judging(h)) /* which version a key ends with is not known; or judged */
        return CW_EINVAL;
    if (h->final_count[x] == h->final_cap[x]) {
        size_t cap = h->final_cap[x] ? h->final_cap[x] * 2 : 16;
        final_key *grown = realloc(h->finals[x], cap * sizeof *grown);
        if (!grown)
            return CW_ENOMEM;
        h->finals[x] = grown;
        h->final_cap[x] = cap;
    }
    size_t off = (h->arena_len[x] + _Alignof(final_version) - 1) & ~(_Alignof(final_version) - 1);
    size_t need = off + count * sizeof(final_version) + key_len;
    if (need > h->arena_cap[x]) {
        size_t cap = h->arena_cap[x] ? h->arena_cap[x] : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *grown = realloc(h->arena[x], cap);
        if (!grown)
            return CW_ENOMEM;
        h->arena[x] = grown;
        h->arena_cap[x] = cap;
    }
    /* Once nothing can fail (the history stays as it was on an error). */
    for (size_t i = 0; i < count; i++) { /* a version held is its write as made */
        cw_node_id o = cw_msg_origin(versions[i]);
        uint64_t seq = cw_msg_seq(versions[i]);
        const record *r = o < h->nodes && seq && seq <= made(h, o) ? at(h, o, seq) : NULL;
        const char *changed = r && r->past ? copy_differs(h, r, versions[i]) : NULL;
        if (changed)
            violate(h, "node %u holds version %u.%llu with another %s than its origin made", x, o,
                    (unsigned long long)seq, changed);
    }
    final_key *f = &h->finals[x][h->final_count[x]];
    *f = (final_key){cw__hash_key(key, key_len), off, key_len, count};
    final_version *v = final_versions(h, x, f);
    for (size_t i = 0; i < count; i++)
        v[i] = (final_version){cw_msg_origin(versions[i]), cw_msg_seq(versions[i])};
    if (count > 1)
        qsort(v, count, sizeof *v, cmp_version);
    memcpy(final_key_bytes(h, x, f), key, key_len);
    h->arena_len[x] = need;
    h->final_count[x]++;
    return CW_OK;
}

int cw_history_final_key(cw_history *h, cw_node_id x, const cw_msg *const *versions, size_t count)
{
    if (!h || x >= h->nodes || !versions || count == 0 || !versions[0])
        return CW_EINVAL;
    size_t key_len, other_len;
    const void *key = cw_msg_key(versions[0], &key_len);
    for (size_t i = 0; i < count; i++) { /* writes of this group, all of one key */
        uint32_t nodes;
        if (!versions[i] || cw_msg_kind_of(versions[i]) != CW_MSG_WRITE)
            return CW_EINVAL;
        const void *other = cw_msg_key(versions[i], &other_len);
        if (!cw_msg_counters(versions[i], &nodes) || nodes != h->nodes || other_len != key_len ||
            (key_len && memcmp(other, key, key_len) != 0))
            return CW_EINVAL;
    }
    return add_final(h, x, key, key_len, versions, count);
}

int cw_history_final_clock(cw_history *h, cw_node_id x, const uint64_t *clock)
{
    if (!h || x >= h->nodes || !clock || h->judged || judging(h))
        return CW_EINVAL;
    memcpy(h->final_clock[x], clock, h->nodes * sizeof *clock);
    h->has_final_clock[x] = true;
    return CW_OK;
}

int cw_history_final_clock_only(cw_history *h, cw_node_id x, const uint64_t *clock)
{
    int rc = cw_history_final_clock(h, x, clock);
    if (rc == CW_OK)
        h->keys_unknown[x] = true;
    return rc;
}

typedef struct final_ctx {
    cw_history *h;
    cw_node_id x;
    int rc;               /* the first error */
} final_ctx;

static void final_key_cb(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                         size_t count)
{
    final_ctx *c = ctx; /* the store's key: its versions' messages stay out of the cache */
    if (c->rc == CW_OK)
        c->rc = count ? add_final(c->h, c->x, key, key_len, versions, count) : CW_EINVAL;
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

/* ---- final verdict ----
 *
 * Cost, for W writes made by N nodes to K distinct keys, key k written w_k
 * times by d_k <= min(N, w_k) distinct nodes (hash-table operations counted
 * as O(1), expected):
 *   grouping   each write's key looked up in a table of the keys, then the
 *              writes placed by key, keeping (origin, seq) order: O(W);
 *   per key    its maximal writes and its ordered pairs: O(w_k * d_k)
 *              (check_key), O(W * N) in all;
 *   finals     each key each node holds looked up in the table: O(N * K);
 * in all O(W * N + N * K), with K <= W: linear in writes x nodes. No pair of
 * writes is ever compared directly. What replaces the pairs: a true past is
 * a clock (per origin, a prefix of its writes), so "a is before b" is
 * past_b[a.origin] >= a.seq, and the writes to a key in b's past are, per
 * origin, a prefix of that origin's writes to the key.
 *
 * Contexts and deletes. v is superseded by some write exactly when some
 * write read it directly (a chain of supersession starts with one), so the
 * verdict needs only the direct readers of each write: a plain write reads
 * every write to its key in its past (per origin a prefix: for each origin,
 * the highest past entry among the key's plain writes from other origins,
 * and its own later plain writes), and a context write reads the dots its
 * client told, indexed from each version to its readers (O(log w) a dot).
 * At a node whose applied counts are c, the writes applied form a causally
 * closed set (a write is applied after its past, and what a write read is
 * in its past), so a write applied there is superseded there exactly when
 * a direct reader of it is applied: for plain readers, the last plain write
 * of each origin within c (pasts grow along an origin's writes), else one
 * of its context readers within c: O(N log w + readers) a question. */

typedef struct write_ref {
    cw_node_id origin;
    uint64_t seq;
} write_ref;

/* The writes of one origin to one key, refs[lo..hi) in seq order, and the
 * highest past[origin] among the key's writes from other origins: the key's
 * last write from this origin is maximal exactly when that is below its seq
 * (its earlier ones are before it). covered_plain is the same among plain
 * writes only (those read what their past covers), last_plain this
 * origin's last plain write to the key (it read every earlier one). */
typedef struct origin_run {
    cw_node_id origin;
    size_t lo, hi;
    uint64_t covered, covered_plain, last_plain;
} origin_run;

/* One key: its writes refs[lo..hi), its plain writes and its tombstones in
 * the verdict's arrays of those, the versions it must end with. */
typedef struct key_group {
    const record *first;      /* a write to it */
    const uint8_t *key;       /* first's key, here to save a load per lookup */
    size_t key_len;
    size_t lo, hi;
    size_t plo, phi;          /* plain writes (plain[plo .. phi)) */
    size_t tlo, thi;          /* tombstones (tombs[tlo .. thi)) */
    size_t want, n;           /* want[want .. want + n) in the verdict's array */
    size_t live;              /* of those, not tombstones: a node holding none may lack the key */
    uint32_t held_by;         /* the last node x + 1 found holding it */
} key_group;

/* The keys written, each once, and how to find a key's group. */
typedef struct key_index {
    cw__map map;              /* items: group index + 1 */
    key_group *g;
    size_t count, cap;
} key_index;

/* What the verdict computes once, for every check. */
typedef struct judge {
    key_index ix;
    write_ref *refs;          /* every write, by key group, in (origin, seq) order */
    write_ref *plain, *tombs; /* the plain writes and the tombstones, likewise */
    size_t *rd_at;            /* refs[i]'s context readers: rd[rd_at[i] .. rd_at[i + 1]) */
    write_ref *rd;
    bool *dead;               /* refs[i] was superseded */
    final_version *want;      /* each key's expected versions (key_group.want) */
    uint64_t *all;            /* writes each node made: counts that cover every write */
} judge;

typedef struct key_probe {
    const key_index *ix;
    const uint8_t *key;
    size_t key_len;
} key_probe;

static bool group_has_key(const void *item, const void *probe)
{
    const key_probe *p = probe;
    const key_group *g = &p->ix->g[(uintptr_t)item - 1];
    return g->key_len == p->key_len && memcmp(g->key, p->key, p->key_len) == 0;
}

/* The group of a key, or NULL. */
static key_group *find_group(const key_index *ix, uint64_t hash, const uint8_t *key, size_t key_len)
{
    key_probe p = {ix, key, key_len};
    uintptr_t item = (uintptr_t)cw__map_find(&ix->map, hash, group_has_key, &p);
    return item ? &ix->g[item - 1] : NULL;
}

static int ts_order(const record *a, cw_node_id ao, const record *b, cw_node_id bo)
{
    int c = cw_hlc_compare(&a->ts, &b->ts);
    return c ? c : (ao > bo) - (ao < bo);
}

static void progress(const cw_history *h, const char *phase, uint64_t done, uint64_t total)
{
    if (h->progress)
        h->progress(h->progress_ctx, phase, done, total);
}

static const record *rec(const cw_history *h, write_ref w)
{
    return at(h, w.origin, w.seq);
}

/* The record of a dot, or NULL when no such write was made. */
static const record *rec_of(const cw_history *h, cw_node_id o, uint64_t s)
{
    return o < h->nodes && s >= 1 && s <= made(h, o) ? at(h, o, s) : NULL;
}

static bool is_tombstone(const cw_history *h, cw_node_id o, uint64_t s)
{
    const record *r = rec_of(h, o, s);
    return r && (r->as_made & TOMBSTONE);
}

/* In arr[lo..hi) (sorted by (origin, seq)), the last of origin o with
 * seq <= s, or NULL. O(log w). */
static const write_ref *last_upto(const write_ref *arr, size_t lo, size_t hi, cw_node_id o, uint64_t s)
{
    size_t first = lo; /* first ref after (o, s) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (arr[mid].origin < o || (arr[mid].origin == o && arr[mid].seq <= s))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > first && arr[lo - 1].origin == o ? &arr[lo - 1] : NULL;
}

/* The index of (o, s) in arr[lo..hi), or SIZE_MAX. */
static size_t find_ref(const write_ref *arr, size_t lo, size_t hi, cw_node_id o, uint64_t s)
{
    const write_ref *w = last_upto(arr, lo, hi, o, s);
    return w && w->seq == s ? (size_t)(w - arr) : SIZE_MAX;
}

/* Whether refs[i], a write of group g, was superseded by a write to its key
 * that counts c cover (see above); *by (nullable) gets such a write. */
static bool superseded_within(const cw_history *h, const judge *J, const key_group *g, size_t i,
                              const uint64_t *c, write_ref *by)
{
    write_ref v = J->refs[i];
    for (uint32_t p = 0; p < h->nodes; p++) {
        const write_ref *u = last_upto(J->plain, g->plo, g->phi, (cw_node_id)p, c[p]);
        if (u && !(u->origin == v.origin && u->seq == v.seq) && rec(h, *u)->past[v.origin] >= v.seq) {
            if (by)
                *by = *u;
            return true;
        }
    }
    for (size_t k = J->rd_at[i]; k < J->rd_at[i + 1]; k++)
        if (J->rd[k].seq <= c[J->rd[k].origin]) {
            if (by)
                *by = J->rd[k];
            return true;
        }
    return false;
}

/* A tombstone of group g within counts c: any (beats NULL), or one greater
 * under last-writer-wins than write w (an origin's timestamps grow along
 * its writes, so its last tombstone within c is its greatest). */
static bool tombstone_within(const cw_history *h, const judge *J, const key_group *g, const uint64_t *c,
                             const write_ref *beats)
{
    for (uint32_t p = 0; p < h->nodes; p++) {
        const write_ref *t = last_upto(J->tombs, g->tlo, g->thi, (cw_node_id)p, c[p]);
        if (t && (!beats || ts_order(rec(h, *t), t->origin, rec(h, *beats), beats->origin) > 0))
            return true;
    }
    return false;
}

/* Whether some tombstone of group g within counts c is maximal there: no
 * write within c superseded it. Of each origin's tombstones, only those
 * from its last plain write to the key on can be (a plain write follows
 * its node's earlier writes): O(nodes * (1 + t) * log w), t the context
 * tombstones an origin wrote after its last plain write to the key. */
static bool maximal_tombstone_within(const cw_history *h, const judge *J, const key_group *g, const uint64_t *c)
{
    for (uint32_t p = 0; p < h->nodes; p++) {
        const write_ref *t = last_upto(J->tombs, g->tlo, g->thi, (cw_node_id)p, c[p]);
        const write_ref *lp = last_upto(J->plain, g->plo, g->phi, (cw_node_id)p, c[p]);
        for (size_t i = t ? (size_t)(t - J->tombs) + 1 : g->tlo;
             i > g->tlo && J->tombs[i - 1].origin == p && (!lp || J->tombs[i - 1].seq >= lp->seq); i--) {
            size_t at_i = find_ref(J->refs, g->lo, g->hi, (cw_node_id)p, J->tombs[i - 1].seq);
            if (!superseded_within(h, J, g, at_i, c, NULL))
                return true;
        }
    }
    return false;
}

/* The versions key g must end with, into want[g->want ..]: the writes no
 * write superseded (in (origin, seq) order), or under LWW the greatest of
 * them; each write's dead flag; and its pairs, counted. runs and upto have
 * room for N origins. O(w * d) for w writes from d origins: for a fixed
 * origin o', a write's past[o] never decreases along o''s writes (a node's
 * past only grows), so one cursor per origin o sweeps o's writes once per
 * o'. */
static void check_key(const cw_history *h, judge *J, key_group *g, origin_run *runs, size_t *upto,
                      cw_history_report *rep)
{
    const write_ref *refs = J->refs;
    size_t d = 0;
    for (size_t i = g->lo; i < g->hi; i++) {
        if (i == g->lo || refs[i].origin != refs[i - 1].origin)
            runs[d++] = (origin_run){refs[i].origin, i, i, 0, 0, 0};
        runs[d - 1].hi = i + 1;
    }
    uint64_t ordered = 0; /* pairs (a, b), a before b: for each b, the writes in its past */
    uint64_t steps = 0;   /* origin tests and cursor moves: at most 2 w d */
    for (size_t jb = 0; jb < d; jb++) {
        for (size_t j = 0; j < d; j++)
            upto[j] = runs[j].lo;
        for (size_t i = runs[jb].lo; i < runs[jb].hi; i++) {
            const record *r = rec(h, refs[i]);
            const uint64_t *past = r->past;
            bool plain = !(r->told & CONTEXT);
            if (plain)
                runs[jb].last_plain = refs[i].seq;
            for (size_t j = 0; j < d; j++) {
                origin_run *o = &runs[j];
                uint64_t p = past[o->origin];
                if (j != jb && p > o->covered)
                    o->covered = p;
                if (j != jb && plain && p > o->covered_plain)
                    o->covered_plain = p;
                while (upto[j] < o->hi && refs[upto[j]].seq <= p) {
                    upto[j]++;
                    steps++;
                }
                ordered += upto[j] - o->lo; /* b itself among them, once */
            }
            ordered--;
            steps += d;
        }
    }
    uint64_t w = g->hi - g->lo;
    rep->ordered_pairs += ordered;
    rep->concurrent_pairs += w * (w - 1) / 2 - ordered;
    rep->check_steps += steps;
    final_version *out = J->want + g->want;
    size_t n = 0, live = 0;
    for (size_t j = 0; j < d; j++)
        for (size_t i = runs[j].lo; i < runs[j].hi; i++) {
            const record *r = rec(h, refs[i]);
            rep->context_writes += (r->told & CONTEXT) != 0;
            rep->deletes += (r->as_made & TOMBSTONE) != 0;
            J->dead[i] = refs[i].seq < runs[j].last_plain || refs[i].seq <= runs[j].covered_plain ||
                         J->rd_at[i + 1] > J->rd_at[i];
            if (J->dead[i]) {
                rep->superseded++;
                continue;
            }
            out[n++] = (final_version){refs[i].origin, refs[i].seq};
            live += !(r->as_made & TOMBSTONE);
        }
    if (live > rep->max_concurrent)
        rep->max_concurrent = live;
    if (h->policy == CW_LAST_WRITER_WINS && !h->untimed && n > 1) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (ts_order(rec(h, (write_ref){out[i].origin, out[i].seq}), out[i].origin,
                         rec(h, (write_ref){out[best].origin, out[best].seq}), out[best].origin) > 0)
                best = i;
        out[0] = out[best];
        n = 1;
        live = !is_tombstone(h, out[0].origin, out[0].seq);
    }
    g->n = n;
    g->live = live;
}

/* Finds or adds the group of r's key; its index into *id. CW_ENOMEM. */
static int group_of(key_index *ix, const record *r, uint32_t *id)
{
    key_group *g = find_group(ix, r->hash, r->key, r->key_len);
    if (g) {
        *id = (uint32_t)(g - ix->g);
        return CW_OK;
    }
    key_group *room = cw__vec_room(ix->g, ix->count, &ix->cap, sizeof *room);
    if (!room)
        return CW_ENOMEM;
    ix->g = room;
    int rc = cw__map_insert(&ix->map, r->hash, (void *)(uintptr_t)(ix->count + 1));
    if (rc != CW_OK)
        return rc;
    ix->g[ix->count] = (key_group){.first = r, .key = r->key, .key_len = r->key_len};
    *id = (uint32_t)ix->count++;
    return CW_OK;
}

/* Every write, placed by key: refs[g.lo .. g.hi) are group g's writes in
 * (origin, seq) order (a counting sort, stable); then its plain writes and
 * its tombstones into their arrays the same way. False when out of memory. */
static bool group_writes(const cw_history *h, uint64_t total, judge *J)
{
    key_index *ix = &J->ix;
    size_t room = total ? total : 1;
    write_ref *refs = J->refs = malloc(room * sizeof *refs);
    J->plain = malloc(room * sizeof *J->plain);
    J->tombs = malloc(room * sizeof *J->tombs);
    uint32_t *id = malloc(room * sizeof *id);
    bool ok = refs && J->plain && J->tombs && id;
    size_t n = 0;
    for (uint32_t o = 0; ok && o < h->nodes; o++)
        for (uint64_t s = 1; ok && s <= made(h, o); s++)
            ok = group_of(ix, at(h, o, s), &id[n++]) == CW_OK;
    if (ok) {
        for (size_t i = 0; i < n; i++) /* sizes, then starts */
            ix->g[id[i]].hi++;
        for (size_t k = 0, at = 0; k < ix->count; k++) {
            ix->g[k].lo = at;
            at += ix->g[k].hi;
            ix->g[k].hi = ix->g[k].lo;
        }
        n = 0;
        for (uint32_t o = 0; o < h->nodes; o++)
            for (uint64_t s = 1; s <= made(h, o); s++)
                refs[ix->g[id[n++]].hi++] = (write_ref){(cw_node_id)o, s};
        size_t p = 0, t = 0;
        for (size_t k = 0; k < ix->count; k++) {
            key_group *g = &ix->g[k];
            g->plo = p;
            g->tlo = t;
            for (size_t i = g->lo; i < g->hi; i++) {
                const record *r = rec(h, refs[i]);
                if (!(r->told & CONTEXT))
                    J->plain[p++] = refs[i];
                if (r->as_made & TOMBSTONE)
                    J->tombs[t++] = refs[i];
            }
            g->phi = p;
            g->thi = t;
        }
    }
    free(id);
    return ok;
}

/* The context readers of every write (judge.rd_at, judge.rd): for each
 * context write, each dot its client read, found among its key's writes
 * (one that is not is a violation). False when out of memory. */
static bool index_readers(cw_history *h, uint64_t total, judge *J)
{
    size_t *rd_at = J->rd_at = calloc(total + 1, sizeof *rd_at);
    if (!rd_at)
        return false;
    for (int pass = 0; pass < 2; pass++) { /* count, then place */
        for (size_t k = 0; k < J->ix.count; k++) {
            const key_group *g = &J->ix.g[k];
            for (size_t i = g->lo; i < g->hi; i++) {
                const record *r = rec(h, J->refs[i]);
                for (uint32_t d = 0; d < r->read_count; d++) {
                    size_t v = find_ref(J->refs, g->lo, g->hi, r->read[d].origin, r->read[d].seq);
                    if (v == SIZE_MAX && pass == 0)
                        violate(h, "write %u.%llu replaced version %u.%llu, which is no write to its key",
                                J->refs[i].origin, (unsigned long long)J->refs[i].seq, r->read[d].origin,
                                (unsigned long long)r->read[d].seq);
                    else if (v != SIZE_MAX && pass == 0)
                        rd_at[v + 1]++;
                    else if (v != SIZE_MAX)
                        J->rd[rd_at[v]++] = J->refs[i];
                }
            }
        }
        if (pass == 0) {
            for (size_t i = 1; i <= total; i++) /* rd_at[i]: where refs[i]'s readers start */
                rd_at[i] += rd_at[i - 1];
            if (!(J->rd = malloc((rd_at[total] ? rd_at[total] : 1) * sizeof *J->rd)))
                return false;
        }
    }
    for (size_t i = total; i > 0; i--) /* placing moved each start to the next one's */
        rd_at[i] = rd_at[i - 1];
    rd_at[0] = 0;
    return true;
}

/* Finds each key's expected versions. False when out of memory. */
static bool check_keys(cw_history *h, uint64_t total, judge *J, cw_history_report *rep)
{
    key_index *ix = &J->ix;
    J->want = malloc((total ? total : 1) * sizeof *J->want);
    J->dead = malloc((total ? total : 1) * sizeof *J->dead);
    origin_run *runs = malloc(h->nodes * sizeof *runs);
    size_t *upto = malloc(h->nodes * sizeof *upto);
    bool ok = J->want && J->dead && runs && upto;
    size_t wanted = 0;
    uint64_t done = 0, reported = 0;
    for (size_t k = 0; ok && k < ix->count; k++) {
        key_group *g = &ix->g[k];
        g->want = wanted;
        check_key(h, J, g, runs, upto, rep);
        wanted += g->n;
        done += g->hi - g->lo;
        if (done - reported >= 65536 || k + 1 == ix->count) {
            progress(h, "checking keys", done, total);
            reported = done;
        }
    }
    free(runs);
    free(upto);
    return ok;
}

static bool found_in(const read_rec *rd, write_ref w)
{
    for (size_t i = 0; i < rd->count; i++)
        if (rd->found[i].origin == w.origin && rd->found[i].seq == w.seq)
            return true;
    return false;
}

/* One read: each version it returned is a live write to its key, and none
 * was superseded by a write to the key that its node had applied when the
 * read began; the last write of each node to the key that its node had
 * applied when the read began is among them, unless a write applied by the
 * read's end superseded it (LWW: the version returned is at least as
 * great); a read that found nothing found a key no live write it had
 * applied was left in, or a delete covered it. O(nodes * log w) a version
 * for a key written w times. (Keeping siblings, an origin's earlier write
 * can be live too: check_live_versions looks for those.) */
static void check_read(cw_history *h, const judge *J, const read_rec *rd, cw_history_report *rep)
{
    const key_group *g = find_group(&J->ix, rd->hash, rd->key, rd->key_len);
    int shown = (int)(rd->key_len < 24 ? rd->key_len : 24);
    const char *more = rd->key_len > 24 ? "..." : "";
    if (rd->count > rep->max_siblings)
        rep->max_siblings = rd->count;
    for (size_t i = 0; i < rd->count; i++) {
        final_version v = rd->found[i];
        const record *r = rec_of(h, v.origin, v.seq);
        if (!r || !g || r->key_len != rd->key_len || memcmp(r->key, rd->key, rd->key_len) != 0) {
            violate(h, "node %u read version %u.%llu of a key (%.*s%s), which is no write to that key", rd->x,
                    v.origin, (unsigned long long)v.seq, shown, (const char *)rd->key, more);
            continue;
        }
        if (r->as_made & TOMBSTONE)
            violate(h, "node %u read version %u.%llu of a key (%.*s%s), which is a delete (reads hide them)",
                    rd->x, v.origin, (unsigned long long)v.seq, shown, (const char *)rd->key, more);
        size_t at_i = find_ref(J->refs, g->lo, g->hi, v.origin, v.seq);
        write_ref by;
        if (superseded_within(h, J, g, at_i, rd->before, &by)) {
            const record *b = rec(h, by);
            violate(h, "node %u read version %u.%llu of a key (%.*s%s) after applying write %u.%llu, %s", rd->x,
                    v.origin, (unsigned long long)v.seq, shown, (const char *)rd->key, more, by.origin,
                    (unsigned long long)by.seq,
                    !(b->told & CONTEXT)    ? "which follows it"
                    : b->as_made & TOMBSTONE ? "which deleted it (its client read it)"
                                           : "which replaced it (its client read it)");
        }
    }
    if (!g || h->policy == CW_MERGE_CALLBACK)
        return;
    if (h->untimed) { /* one of the maximal versions, or nothing when one is a delete */
        if (rd->count > 1)
            violate(h, "node %u read %zu versions of a key (%.*s%s); last-writer-wins keeps one", rd->x, rd->count,
                    shown, (const char *)rd->key, more);
        if (rd->count || maximal_tombstone_within(h, J, g, rd->after))
            return;
    }
    bool tomb_seen = rd->count == 0 && tombstone_within(h, J, g, rd->after, NULL);
    for (uint32_t o = 0; o < h->nodes; o++) {
        const write_ref *w = last_upto(J->refs, g->lo, g->hi, (cw_node_id)o, rd->before[o]);
        if (!w || is_tombstone(h, w->origin, w->seq) || found_in(rd, *w))
            continue;
        bool gone = superseded_within(h, J, g, (size_t)(w - J->refs), rd->after, NULL);
        if (rd->count == 0) {
            if (tomb_seen && (gone || (h->policy == CW_LAST_WRITER_WINS && !h->untimed &&
                                       tombstone_within(h, J, g, rd->after, w))))
                continue;
            violate(h, "node %u read nothing of a key (%.*s%s) after applying write %u.%llu to it", rd->x, shown,
                    (const char *)rd->key, more, o, (unsigned long long)w->seq);
            return;
        }
        if (gone)
            continue;
        if (h->policy == CW_LAST_WRITER_WINS) {
            const record *r0 = rec_of(h, rd->found[0].origin, rd->found[0].seq);
            if (!r0 || ts_order(r0, rd->found[0].origin, rec(h, *w), w->origin) >= 0)
                continue;
            violate(h, "node %u read version %u.%llu of a key (%.*s%s), which loses to write %u.%llu that it had "
                       "applied (last-writer-wins)", rd->x, rd->found[0].origin,
                    (unsigned long long)rd->found[0].seq, shown, (const char *)rd->key, more, o,
                    (unsigned long long)w->seq);
            return;
        }
        violate(h, "node %u read a key (%.*s%s) without write %u.%llu, which it had applied before the read "
                   "began and no write it applied superseded (a lost update)", rd->x, shown, (const char *)rd->key, more, o,
                (unsigned long long)w->seq);
        return;
    }
}

/* ---- every live version read ----
 *
 * Keeping siblings, a read must return every write its node had applied
 * before it began that no write applied by its end superseded: not only
 * each origin's last (check_read), since an origin's later write whose
 * context did not cover its earlier one leaves both live. Asking that of
 * each read alone would walk its key's history each time. Instead the
 * reads of one key at one node are taken in the order of their `before`
 * counts (a node applies one write at a time, so its counts grow along one
 * chain, and their sum orders them), and a sweep keeps the live set of the
 * counts S seen so far (their pointwise maximum): each write joins it once,
 * when S first covers it (of an origin's writes passed at once, only those
 * from the last plain one on: a plain write supersedes its origin's
 * earlier ones), and leaves it once superseded within S. A read is then
 * judged against the live set alone: O(its size) supersession questions.
 * cw_history_applied_counts gives counts that are a chain (invariant 2).
 * Where a caller's are not (counts it made up, or a row that changed
 * through every collect of one call), S may run ahead of a read's
 * `before`, and a write superseded within S but not within that read's
 * counts is not looked for there: a missed violation, never a false one,
 * as every write judged missing was applied by the read's start and not
 * superseded by its end. */

typedef struct read_order {
    uint32_t x, group;
    uint64_t sum;             /* of the read's `before` */
    size_t i;                 /* in h->reads */
} read_order;

static int by_key_node_counts(const void *a, const void *b)
{
    const read_order *p = a, *q = b;
    if (p->group != q->group)
        return p->group < q->group ? -1 : 1;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->sum != q->sum)
        return p->sum < q->sum ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* One origin's writes to the sweep's key, with a cursor into each of the
 * verdict's arrays of them (all, plain, tombstones): its first write there
 * that S does not cover. */
typedef struct sweep_run {
    cw_node_id origin;
    size_t ref, ref_end;      /* J->refs */
    size_t plain, plain_end;  /* J->plain */
    size_t tomb, tomb_end;    /* J->tombs */
} sweep_run;

/* The sweep's state for one key at one node: its origins' runs, S, what
 * the plain writes within S supersede, and the live set. */
typedef struct live_sweep {
    sweep_run *first;         /* [d], by origin: the key's runs, cursors at their first writes */
    sweep_run *runs;          /* [d]: the same, cursors where this node's sweep is */
    size_t d;
    uint64_t *seen;           /* S, nodes counters (only the key's origins' entries used) */
    uint64_t *cover;          /* [o]: o's writes up to this seq are superseded by a plain write within S */
    size_t *live;             /* refs indexes */
    size_t n_live, live_cap;
} live_sweep;

/* Finds key g's runs, once for all the nodes that read it. */
static void sweep_key(const judge *J, const key_group *g, live_sweep *sw)
{
    sweep_run *runs = sw->first;
    sw->d = 0;
    for (size_t i = g->lo; i < g->hi; i++) {
        if (i == g->lo || J->refs[i].origin != J->refs[i - 1].origin)
            runs[sw->d++] = (sweep_run){J->refs[i].origin, i, i, g->phi, g->phi, g->thi, g->thi};
        runs[sw->d - 1].ref_end = i + 1;
    }
    /* Both arrays are in (origin, seq) order too, their origins among the runs'. */
    size_t j = 0;
    for (size_t i = g->plo; i < g->phi; i++) {
        while (runs[j].origin != J->plain[i].origin)
            j++;
        if (runs[j].plain == g->phi)
            runs[j].plain = i;
        runs[j].plain_end = i + 1;
    }
    j = 0;
    for (size_t i = g->tlo; i < g->thi; i++) {
        while (runs[j].origin != J->tombs[i].origin)
            j++;
        if (runs[j].tomb == g->thi)
            runs[j].tomb = i;
        runs[j].tomb_end = i + 1;
    }
}

/* Starts a node's sweep of the key: S empty, nothing live. */
static void sweep_node(live_sweep *sw)
{
    memcpy(sw->runs, sw->first, sw->d * sizeof *sw->runs);
    for (size_t j = 0; j < sw->d; j++)
        sw->seen[sw->runs[j].origin] = sw->cover[sw->runs[j].origin] = 0;
    sw->n_live = 0;
}

/* Whether refs[i] was superseded within S: superseded_within(S) in O(its
 * context readers). A plain write supersedes the writes its past covers
 * (its origin's earlier ones among them) and pasts grow along an origin's
 * writes, so the plain writes within S supersede exactly cover[o] of o's. */
static bool superseded_in_sweep(const judge *J, const live_sweep *sw, size_t i)
{
    write_ref v = J->refs[i];
    if (v.seq <= sw->cover[v.origin])
        return true;
    for (size_t k = J->rd_at[i]; k < J->rd_at[i + 1]; k++)
        if (J->rd[k].seq <= sw->seen[J->rd[k].origin])
            return true;
    return false;
}

/* Moves S up to the read's `before` and adds what that applied to the live
 * set: of an origin's writes passed at once, those from the last plain one
 * on (it supersedes the others), but deletes (reads hide them). The
 * cursors only move forward, so a key's sweep at a node passes each of its
 * writes once. False when out of memory. */
static bool sweep_to(const cw_history *h, const judge *J, live_sweep *sw, const uint64_t *before)
{
    const write_ref *refs = J->refs;
    for (size_t j = 0; j < sw->d; j++) {
        sweep_run *r = &sw->runs[j];
        cw_node_id o = r->origin;
        uint64_t b = before[o];
        if (b <= sw->seen[o])
            continue;
        sw->seen[o] = b;
        size_t start = r->ref;
        while (r->ref < r->ref_end && refs[r->ref].seq <= b)
            r->ref++;
        uint64_t last_plain = 0;
        while (r->plain < r->plain_end && J->plain[r->plain].seq <= b)
            last_plain = J->plain[r->plain++].seq;
        if (last_plain) {
            while (refs[start].seq != last_plain)
                start++;
            const uint64_t *past = rec(h, refs[start])->past;
            for (size_t k = 0; k < sw->d; k++) {
                cw_node_id p = sw->runs[k].origin;
                uint64_t c = p == o ? last_plain - 1 : past[p];
                if (c > sw->cover[p])
                    sw->cover[p] = c;
            }
        }
        for (size_t i = start; i < r->ref; i++) {
            while (r->tomb < r->tomb_end && J->tombs[r->tomb].seq < refs[i].seq)
                r->tomb++;
            if (r->tomb < r->tomb_end && J->tombs[r->tomb].seq == refs[i].seq)
                continue;
            size_t *grown = cw__vec_room(sw->live, sw->n_live, &sw->live_cap, sizeof *grown);
            if (!grown)
                return false;
            sw->live = grown;
            sw->live[sw->n_live++] = i;
        }
    }
    return true;
}

/* Drops from the live set what S superseded, and judges read rd (i in
 * h->reads) against the rest: each write applied before it began and not
 * superseded by its end is among its versions. */
static void judge_live(cw_history *h, const judge *J, const key_group *g, live_sweep *sw, const read_rec *rd,
                       size_t i, bool judged)
{
    size_t kept = 0;
    for (size_t k = 0; k < sw->n_live; k++) {
        size_t at_i = sw->live[k];
        if (superseded_in_sweep(J, sw, at_i))
            continue;
        sw->live[kept++] = at_i;
        write_ref w = J->refs[at_i];
        if (judged || w.seq > rd->before[w.origin] || found_in(rd, w) ||
            superseded_within(h, J, g, at_i, rd->after, NULL))
            continue;
        int shown = (int)(rd->key_len < 24 ? rd->key_len : 24);
        if (violate(h, "node %u read a key (%.*s%s) without write %u.%llu, which it had applied before the read "
                       "began and %s superseded (a lost update)", rd->x, shown, (const char *)rd->key,
                    rd->key_len > 24 ? "..." : "", w.origin, (unsigned long long)w.seq,
                    J->dead[at_i] ? "no write it had applied by the read's end" : "no write ever"))
            h->violation_read = i;
        judged = true; /* one violation a read */
    }
    sw->n_live = kept;
}

/* Every live version read (above), for reads not already found wrong
 * (judged[i]). False when out of memory. */
static bool check_live_versions(cw_history *h, const judge *J, const bool *judged)
{
    if (h->policy != CW_KEEP_SIBLINGS || !h->read_count)
        return true;
    read_order *order = malloc(h->read_count * sizeof *order);
    live_sweep sw = {malloc(h->nodes * sizeof *sw.first), malloc(h->nodes * sizeof *sw.runs), 0,
                     calloc(h->nodes, sizeof *sw.seen), calloc(h->nodes, sizeof *sw.cover), NULL, 0, 0};
    bool ok = order && sw.first && sw.runs && sw.seen && sw.cover;
    size_t n = 0;
    for (size_t i = 0; ok && i < h->read_count; i++) {
        const read_rec *rd = &h->reads[i];
        const key_group *g = find_group(&J->ix, rd->hash, rd->key, rd->key_len);
        if (!g || g->phi - g->plo == g->hi - g->lo)
            continue; /* no write to it had a context: only each origin's last can be live (check_read) */
        uint64_t sum = 0;
        for (uint32_t o = 0; o < h->nodes; o++)
            sum += rd->before[o];
        order[n++] = (read_order){rd->x, (uint32_t)(g - J->ix.g), sum, i};
    }
    if (ok)
        qsort(order, n, sizeof *order, by_key_node_counts);
    for (size_t k = 0; ok && k < n; k++) {
        /* The reads are taken out of their order in memory: start loading a
         * later one's record, and a nearer one's counts, ahead of use. */
        if (k + 8 < n)
            __builtin_prefetch(&h->reads[order[k + 8].i]);
        if (k + 4 < n)
            __builtin_prefetch(h->reads[order[k + 4].i].before);
        const key_group *g = &J->ix.g[order[k].group];
        bool new_key = k == 0 || order[k].group != order[k - 1].group;
        if (new_key)
            sweep_key(J, g, &sw);
        if (new_key || order[k].x != order[k - 1].x)
            sweep_node(&sw);
        const read_rec *rd = &h->reads[order[k].i];
        ok = sweep_to(h, J, &sw, rd->before);
        if (ok)
            judge_live(h, J, g, &sw, rd, order[k].i, judged[order[k].i]);
        if ((k + 1) % 65536 == 0 || k + 1 == n)
            progress(h, "checking reads' siblings", k + 1, n);
    }
    free(order);
    free(sw.first);
    free(sw.runs);
    free(sw.seen);
    free(sw.cover);
    free(sw.live);
    return ok;
}

/* Why node x's version v of key g is not one it should hold, into why. */
static void explain_extra(const cw_history *h, const judge *J, const key_group *g, final_version v, char *why,
                          size_t cap)
{
    const record *r = rec_of(h, v.origin, v.seq);
    size_t i = r ? find_ref(J->refs, g->lo, g->hi, v.origin, v.seq) : SIZE_MAX;
    write_ref by;
    if (i == SIZE_MAX) {
        snprintf(why, cap, "version %u.%llu is no write to it", v.origin, (unsigned long long)v.seq);
    } else if (J->dead[i] && superseded_within(h, J, g, i, J->all, &by)) {
        const record *b = rec(h, by);
        if ((b->as_made & TOMBSTONE) && !(r->as_made & TOMBSTONE))
            snprintf(why, cap, "version %u.%llu was deleted by write %u.%llu (a resurrected delete)", v.origin,
                     (unsigned long long)v.seq, by.origin, (unsigned long long)by.seq);
        else
            snprintf(why, cap, "version %u.%llu was superseded by write %u.%llu, %s (too many siblings)", v.origin,
                     (unsigned long long)v.seq, by.origin, (unsigned long long)by.seq,
                     b->told & CONTEXT ? "whose client read it" : "which follows it");
    } else if (g->n && h->policy == CW_LAST_WRITER_WINS) {
        const final_version *w = J->want + g->want;
        snprintf(why, cap, "version %u.%llu loses to write %u.%llu (last-writer-wins)", v.origin,
                 (unsigned long long)v.seq, w->origin, (unsigned long long)w->seq);
    } else {
        snprintf(why, cap, "version %u.%llu is not one of the versions it should hold", v.origin,
                 (unsigned long long)v.seq);
    }
}

/* Node x's versions of key g against the expected ones: each held version
 * expected, each live one expected held (a tombstone may be collected). */
static void check_final_key(cw_history *h, const judge *J, uint32_t x, const key_group *g, const final_key *f,
                            cw_history_report *rep)
{
    const final_version *held = final_versions(h, x, f), *want = J->want + g->want;
    char why[256] = "";
    uint64_t live = 0;
    for (size_t i = 0, j = 0; (i < f->count || j < g->n) && !why[0];) {
        int c = i == f->count ? 1 : j == g->n ? -1 : cmp_version(&held[i], &want[j]);
        if (c <= 0)
            live += rec_of(h, held[i].origin, held[i].seq) && !is_tombstone(h, held[i].origin, held[i].seq);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0 && i && cmp_version(&held[i], &held[i - 1]) == 0) {
            snprintf(why, sizeof why, "version %u.%llu is held twice", held[i].origin,
                     (unsigned long long)held[i].seq);
            i++;
        } else if (c < 0) {
            explain_extra(h, J, g, held[i++], why, sizeof why);
        } else {
            if (!is_tombstone(h, want[j].origin, want[j].seq))
                snprintf(why, sizeof why, "write %u.%llu, which no write superseded, is missing (a lost update)",
                         want[j].origin, (unsigned long long)want[j].seq);
            j++;
        }
    }
    if (live > rep->max_siblings)
        rep->max_siblings = live;
    if (why[0]) {
        const uint8_t *key = final_key_bytes(h, x, f);
        violate(h, "node %u holds %zu version(s) of a key (%.*s%s) where %zu are the writes no other write to it "
                   "follows%s: %s",
                x, f->count, (int)(f->key_len < 24 ? f->key_len : 24), (const char *)key,
                f->key_len > 24 ? "..." : "", g->n, h->policy == CW_LAST_WRITER_WINS ? " (last-writer-wins: 1)" : "",
                why);
    }
}

/* Node x's final keys: each must be a key written, once, holding exactly
 * its expected versions; and every key written with a live version
 * expected must be held. O(K). */
static void check_finals(cw_history *h, uint32_t x, judge *J, cw_history_report *rep)
{
    key_index *ix = &J->ix;
    const final_key *f = h->finals[x];
    size_t n = h->final_count[x], held = 0;
    rep->check_steps += n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *key = final_key_bytes(h, x, &f[i]);
        key_group *g = find_group(ix, f[i].hash, key, f[i].key_len);
        if (g && g->held_by != x + 1) {
            g->held_by = x + 1;
            held++;
        }
        if (g)
            check_final_key(h, J, x, g, &f[i], rep);
    }
    if (h->keys_unknown[x]) /* only the keys reported are judged, above */
        return;
    if (held < ix->count) /* the first key not held that must be, by name */
        for (size_t k = 0; k < ix->count; k++, rep->check_steps++)
            if (ix->g[k].held_by != x + 1 && ix->g[k].live) {
                const record *r = ix->g[k].first;
                violate(h, "node %u holds 0 version(s) of a key (%.*s%s) where %zu are the "
                           "writes no other write to it follows",
                        x, (int)(r->key_len < 24 ? r->key_len : 24), (const char *)r->key,
                        r->key_len > 24 ? "..." : "", ix->g[k].n);
                break;
            }
    if (held != n) /* keys never written, or one held twice */
        violate(h, "node %u holds %zu keys, %zu were written", x, n, ix->count);
}

/* ---- sessions ---- */

typedef struct op_order {
    uint32_t client;
    uint32_t group;           /* the key's group (UINT32_MAX: a key never written) */
    size_t at;                /* index in the log: the client's order */
} op_order;

static int by_client(const void *a, const void *b)
{
    const op_order *x = a, *y = b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

static int by_group(const void *a, const void *b)
{
    const op_order *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* The first node whose writes `have` counts fewer of than `need`, or UINT32_MAX. */
static uint32_t first_gap(uint32_t nodes, const uint64_t *have, const uint64_t *need)
{
    for (uint32_t k = 0; k < nodes; k++)
        if (have[k] < need[k])
            return k;
    return UINT32_MAX;
}

static void merge_max(uint32_t nodes, uint64_t *into, const uint64_t *c)
{
    for (uint32_t k = 0; k < nodes; k++)
        if (c[k] > into[k])
            into[k] = c[k];
}

/* What a read that found nothing observed, merged into `read`: the
 * deletes of its key whose dots its context covers and that its node had
 * applied by the read's end (after: the history's record, not the
 * replica's), each origin's last such delete standing for its earlier ones
 * (an origin's pasts grow along its writes). O(N log w) per origin with
 * deletes of the key, plus O(N) per such origin. */
static void merge_observed_tombstones(const cw_history *h, const judge *J, const key_group *g, const read_rec *rd,
                                      uint64_t *read)
{
    for (uint32_t o = 0; o < h->nodes; o++) {
        uint64_t upto = rd->ctx[o] < rd->after[o] ? rd->ctx[o] : rd->after[o];
        const write_ref *t = upto ? last_upto(J->tombs, g->tlo, g->thi, (cw_node_id)o, upto) : NULL;
        if (t)
            merge_max(h->nodes, read, rec(h, *t)->past);
    }
}

/* One client's operations in its order: the node serving each had applied
 * the past of every write the client made and every version it read
 * before, and of every delete a read of it that found nothing observed
 * (merge_observed_tombstones). O(N) an operation, O(N^2) at most a read
 * that found nothing. */
static void check_guarantees(cw_history *h, const judge *J, const op_order *ops, size_t n, uint64_t *wrote,
                             uint64_t *read, cw_history_report *rep)
{
    uint32_t N = h->nodes, c = ops[0].client;
    memset(wrote, 0, N * sizeof *wrote);
    memset(read, 0, N * sizeof *read);
    for (size_t i = 0; i < n; i++) {
        const client_op *op = &h->ops[ops[i].at];
        rep->session_ops++;
        uint32_t k;
        if (op->is_write) {
            const record *r = at(h, op->origin, op->seq);
            if ((k = first_gap(N, r->past, wrote)) != UINT32_MAX)
                violate(h, "client %u wrote %u.%llu at node %u, which had not applied write %u.%llu "
                           "(monotonic writes: the client had made it, or a write it made depends on it)",
                        c, op->origin, (unsigned long long)op->seq, op->origin, k, (unsigned long long)wrote[k]);
            else if ((k = first_gap(N, r->past, read)) != UINT32_MAX)
                violate(h, "client %u wrote %u.%llu at node %u, which had not applied write %u.%llu "
                           "(writes-follow-reads: a version the client had read, or a delete it found, depends on it)",
                        c, op->origin, (unsigned long long)op->seq, op->origin, k, (unsigned long long)read[k]);
            merge_max(N, wrote, r->past);
            continue;
        }
        const read_rec *rd = &h->reads[op->read];
        int shown = (int)(rd->key_len < 24 ? rd->key_len : 24);
        const char *more = rd->key_len > 24 ? "..." : "";
        if ((k = first_gap(N, rd->before, wrote)) != UINT32_MAX)
            violate(h, "client %u read a key (%.*s%s) at node %u, which had not applied write %u.%llu "
                       "(read-your-writes: the client had made it, or a write it made depends on it)",
                    c, shown, (const char *)rd->key, more, rd->x, k, (unsigned long long)wrote[k]);
        else if ((k = first_gap(N, rd->before, read)) != UINT32_MAX)
            violate(h, "client %u read a key (%.*s%s) at node %u, which had not applied write %u.%llu "
                       "(monotonic reads: a version the client had read, or a delete it found, depends on it)",
                    c, shown, (const char *)rd->key, more, rd->x, k, (unsigned long long)read[k]);
        for (size_t v = 0; v < rd->count; v++) {
            const record *r = rec_of(h, rd->found[v].origin, rd->found[v].seq);
            if (r)
                merge_max(N, read, r->past);
        }
        if (!rd->count && rd->ctx && ops[i].group != UINT32_MAX)
            merge_observed_tombstones(h, J, &J->ix.g[ops[i].group], rd, read);
    }
}

enum { MAX_OWED = 64 }; /* versions a client is owed of one key, at most (more: the oldest are forgotten) */

typedef struct owed {
    write_ref w;
    bool own;                 /* the client's write, else a version it read */
} owed;

/* One client's operations on one key g, in its order: each read returns
 * the client's last writes to it and what its last read of it returned,
 * or versions that superseded them (under LWW: a version at least as
 * great). */
static void check_owed(cw_history *h, const judge *J, const key_group *g, const op_order *ops, size_t n)
{
    owed o[MAX_OWED];
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const client_op *op = &h->ops[ops[i].at];
        if (op->is_write) {
            if (is_tombstone(h, op->origin, op->seq))
                continue;
            if (count == MAX_OWED)
                memmove(o, o + 1, --count * sizeof *o);
            o[count++] = (owed){{op->origin, op->seq}, true};
            continue;
        }
        const read_rec *rd = &h->reads[op->read];
        for (size_t k = 0; k < count && h->policy != CW_MERGE_CALLBACK; k++) {
            size_t v = find_ref(J->refs, g->lo, g->hi, o[k].w.origin, o[k].w.seq);
            if (v == SIZE_MAX || found_in(rd, o[k].w) || superseded_within(h, J, g, v, rd->after, NULL))
                continue;
            if (h->policy == CW_LAST_WRITER_WINS) {
                const record *r0 = rd->count ? rec_of(h, rd->found[0].origin, rd->found[0].seq) : NULL;
                if (!rd->count || !r0 || ts_order(r0, rd->found[0].origin, rec(h, o[k].w), o[k].w.origin) >= 0)
                    continue;
            }
            int shown = (int)(rd->key_len < 24 ? rd->key_len : 24);
            violate(h, "client %u read a key (%.*s%s) at node %u without version %u.%llu, %s, which no write it "
                       "had applied superseded (%s)",
                    ops[i].client, shown, (const char *)rd->key, rd->key_len > 24 ? "..." : "", rd->x,
                    o[k].w.origin, (unsigned long long)o[k].w.seq,
                    o[k].own ? "its own write" : "which it had read before",
                    o[k].own ? "read-your-writes" : "monotonic reads");
            break;
        }
        count = 0;
        for (size_t k = 0; k < rd->count && count < MAX_OWED; k++)
            if (find_ref(J->refs, g->lo, g->hi, rd->found[k].origin, rd->found[k].seq) != SIZE_MAX)
                o[count++] = (owed){{rd->found[k].origin, rd->found[k].seq}, false};
    }
}

/* Every client's operations (those recorded with a client id). False when
 * out of memory. */
static bool check_sessions(cw_history *h, const judge *J, cw_history_report *rep)
{
    size_t n = h->op_count;
    if (!n)
        return true;
    op_order *ops = malloc(n * sizeof *ops);
    uint64_t *wrote = malloc(2 * h->nodes * sizeof *wrote);
    if (!ops || !wrote) {
        free(ops);
        free(wrote);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const client_op *op = &h->ops[i];
        const key_group *g;
        if (op->is_write) {
            const record *r = at(h, op->origin, op->seq);
            g = find_group(&J->ix, r->hash, r->key, r->key_len);
        } else {
            const read_rec *rd = &h->reads[op->read];
            g = find_group(&J->ix, rd->hash, rd->key, rd->key_len);
        }
        ops[i] = (op_order){op->client, g ? (uint32_t)(g - J->ix.g) : UINT32_MAX, i};
    }
    qsort(ops, n, sizeof *ops, by_client);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && ops[b].client == ops[a].client;)
            b++;
        check_guarantees(h, J, ops + a, b - a, wrote, wrote + h->nodes, rep);
        qsort(ops + a, b - a, sizeof *ops, by_group);
        for (size_t c = a, d; c < b; c = d) {
            for (d = c + 1; d < b && ops[d].group == ops[c].group;)
                d++;
            if (ops[c].group != UINT32_MAX)
                check_owed(h, J, &J->ix.g[ops[c].group], ops + c, d - c);
        }
        if (b == n || (b - a) >= 65536)
            progress(h, "checking sessions", b, n);
    }
    free(ops);
    free(wrote);
    return true;
}

bool cw_history_verdict(cw_history *h, cw_history_report *rep)
{
    if (!h || !rep)
        return false;
    if (h->judged) { /* the same answer: judging again would count every violation twice */
        *rep = h->judgement;
        return rep->ok;
    }
    pthread_mutex_lock(&h->lock);
    bool again = h->judging; /* called from its own progress callback */
    atomic_store(&h->judging, true);
    pthread_mutex_unlock(&h->lock);
    if (again)
        return false; /* *rep untouched */
    *rep = (cw_history_report){0};
    for (uint32_t x = 0; x < h->nodes; x++) {
        rep->writes += made(h, x);
        rep->applications += h->applications[x];
        for (uint32_t o = 0; o < h->nodes; o++)
            if (h->applied[x][o] != made(h, o))
                violate(h, "node %u applied %llu of the %llu writes of node %u (lost writes)", x,
                        (unsigned long long)atomic_load(&h->applied[x][o]), (unsigned long long)made(h, o), o);
        if (!h->has_final_clock[x])
            violate(h, "node %u reported no final clock", x);
        else
            for (uint32_t k = 0; k < h->nodes; k++)
                if (h->final_clock[x][k] != made(h, k)) {
                    violate(h, "node %u ended with a clock other than the writes made", x);
                    break;
                }
    }
    progress(h, "grouping writes by key", 0, rep->writes);
    judge J = {0};
    cw__map_init(&J.ix.map);
    J.all = malloc(h->nodes * sizeof *J.all);
    for (uint32_t o = 0; J.all && o < h->nodes; o++)
        J.all[o] = made(h, o);
    if (!J.all || !group_writes(h, rep->writes, &J) || !index_readers(h, rep->writes, &J) ||
        !check_keys(h, rep->writes, &J, rep)) {
        out_of_memory(h, "checking the final state");
    } else {
        rep->keys = J.ix.count;
        rep->reads = h->read_count;
        bool *judged = calloc(h->read_count ? h->read_count : 1, sizeof *judged); /* found wrong already */
        for (size_t i = 0; judged && i < h->read_count; i++) {
            uint64_t had = h->violations;
            check_read(h, &J, &h->reads[i], rep);
            judged[i] = h->violations > had;
            if (had == 0 && h->violations > 0 && h->violation_read == SIZE_MAX)
                h->violation_read = i;
            if ((i + 1) % 65536 == 0 || i + 1 == h->read_count)
                progress(h, "checking reads", i + 1, h->read_count);
        }
        if (!judged || !check_live_versions(h, &J, judged))
            out_of_memory(h, "checking reads");
        free(judged);
        if (!check_sessions(h, &J, rep))
            out_of_memory(h, "checking sessions");
        for (uint32_t x = 0; x < h->nodes; x++) {
            check_finals(h, x, &J, rep);
            progress(h, "comparing final states", x + 1, h->nodes);
        }
    }
    free(J.refs);
    free(J.plain);
    free(J.tombs);
    free(J.rd_at);
    free(J.rd);
    free(J.dead);
    free(J.want);
    free(J.all);
    free(J.ix.g);
    cw__map_destroy(&J.ix.map);
    rep->ok = h->violations == 0;
    h->judged = true;
    h->judgement = *rep;
    atomic_store(&h->judging, false); /* after judged: the final states stay refused */
    return rep->ok;
}

/* ---- the history as text (docs/formats.md) ---- */

static void write_hex(FILE *f, const uint8_t *p, size_t n)
{
    if (n == 0)
        fputc('-', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

/* Nonzero counters as id:count, comma-separated; "-" for none. */
static void write_counters(FILE *f, const uint64_t *c, uint32_t nodes)
{
    bool any = false;
    for (uint32_t k = 0; k < nodes; k++)
        if (c[k]) {
            fprintf(f, "%s%" PRIu32 ":%" PRIu64, any ? "," : "", k, c[k]);
            any = true;
        }
    if (!any)
        fputc('-', f);
}

int cw_history_write(const cw_history *h, FILE *f)
{
    uint64_t *row = h ? malloc(h->nodes * sizeof *row) : NULL;
    if (!row || !f) {
        free(row);
        return h && f ? CW_ENOMEM : CW_EINVAL;
    }
    fprintf(f, "causeway-history 1\nnodes %" PRIu32 "\npolicy %s\nviolations %" PRIu64 "\n", h->nodes,
            h->policy == CW_LAST_WRITER_WINS ? "lww" : "siblings", h->violations);
    if (h->violations) /* one line: the sentence has no newline of its own */
        fprintf(f, "violation %s\n", h->violation);
    for (uint32_t o = 0; o < h->nodes; o++)
        for (uint64_t s = 1; s <= made(h, o); s++) {
            const record *r = at(h, o, s);
            fprintf(f, "write %" PRIu32 " %" PRIu64 " ", o, s);
            write_hex(f, r->key, r->key_len);
            fprintf(f, " %" PRIu64 ".%u ", r->ts.wall_ms, (unsigned)r->ts.counter);
            write_counters(f, r->past, h->nodes);
            fputc('\n', f);
        }
    for (uint32_t o = 0; o < h->nodes; o++) /* how the writes were made, where known or not plain puts */
        for (uint64_t s = 1; s <= made(h, o); s++) {
            const record *r = at(h, o, s);
            if (!(r->told & TOLD) && !(r->as_made & TOMBSTONE))
                continue;
            fprintf(f, "wrote %" PRIu32 " %" PRIu64 " ", o, s);
            if (r->client == CW_HISTORY_NO_CLIENT || !(r->told & TOLD))
                fputc('-', f);
            else
                fprintf(f, "%" PRIu32, r->client);
            fprintf(f, " %s ", r->as_made & TOMBSTONE ? "delete" : "put");
            if (!(r->told & CONTEXT))
                fputs("plain", f);
            else if (!r->read_count)
                fputs("none", f);
            for (uint32_t i = 0; i < r->read_count; i++)
                fprintf(f, "%s%" PRIu32 ".%" PRIu64, i ? "," : "", r->read[i].origin, r->read[i].seq);
            fputc('\n', f);
        }
    for (uint32_t x = 0; x < h->nodes; x++) {
        fprintf(f, "applied %" PRIu32 " ", x);
        cw_history_applied_counts(h, x, row);
        write_counters(f, row, h->nodes);
        fputc('\n', f);
    }
    for (uint32_t x = 0; x < h->nodes; x++) {
        if (h->has_final_clock[x]) {
            fprintf(f, "final-clock %" PRIu32 " ", x);
            write_counters(f, h->final_clock[x], h->nodes);
            fputc('\n', f);
        }
        for (size_t k = 0; k < h->final_count[x]; k++) {
            const final_key *fk = &h->finals[x][k];
            fprintf(f, "final-key %" PRIu32 " ", x);
            write_hex(f, final_key_bytes(h, x, fk), fk->key_len);
            const final_version *v = final_versions(h, x, fk);
            for (size_t i = 0; i < fk->count; i++)
                fprintf(f, " %" PRIu32 ".%" PRIu64, v[i].origin, v[i].seq);
            fputc('\n', f);
        }
    }
    free(row);
    return CW_OK;
}
