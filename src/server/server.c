/* One replica served over the network (server.h): the replica, its ZeroMQ
 * links, its fault layer, the loop thread, and the joining protocol.
 *
 * Invariants:
 *  1. s->lock guards the replica, every DEALER, the fault layer's lane, the
 *     join state and the counters. The ROUTER and the receive side of each
 *     link's frame state (s->rx) are the loop's alone, used without the lock.
 *  2. A message for a peer is encoded for that peer's link and queued on its
 *     DEALER without waiting; a full link does not queue it (link_full) and
 *     the write stays in the replica's log until stable, so the peer pulls it
 *     later. The replica's send never refuses, so nothing waits in the
 *     replica's unsent queue.
 *  3. Between nodes, a ZeroMQ message of one part of two bytes or more is a
 *     link frame (wire.h: its first byte is its tag, 0..2); one part of the
 *     single byte 'J' is a join request; a message whose first part is the
 *     single byte 'S' is a snapshot answer ([clock: nodes x u64, big-endian]
 *     [one part per version: codec bytes]); one part that starts with 'B'
 *     is a batch of link frames (invariant 5); one part of the single byte
 *     'R' says the sender is a new process that took back its saved state
 *     (--data): the link to it starts afresh, its next frame needs no base
 *     the old process had. Anything else is malformed.
 *     The ROUTER sees each peer by the routing id its DEALER set,
 *     "cw-node-<id>"; any other sender is refused and counted.
 *  4. A node that is joining (started without state) makes no write and
 *     applies nothing from its links; it asks every peer for a snapshot and,
 *     once every peer has answered, installs the one that holds most of its
 *     own writes (cw_node_install), if that one holds every write of its own
 *     any peer knows of (cw_node_seen: applied, or waiting in a buffer);
 *     else it asks every peer again. So its next write's seq is one no peer
 *     has seen. (A write of its own that waits at a peer for a write lost
 *     with the old process keeps it joining: it never writes over it.)
 *     A peer that gets a join request forgets what the node said it applied
 *     before (cw_node_peer_restarted), so nothing the node lost becomes
 *     stable on its old word.
 *  5. Frames for a peer coalesce while a burst is under way (a batch of
 *     client writes between cw__server_hold_sends and its release, one turn
 *     of the loop) and go to the DEALER as one message, the batch ('B',
 *     then each frame as [LEB128 length][frame]), at the burst's end or
 *     when BATCH_FRAMES or BATCH_BYTES are reached: one ZeroMQ message
 *     carries many writes. A write made alone goes out at once.
 *  6. With durable state (--data), nothing leaves for a peer before the
 *     state it reflects is saved (node.h "Persisting a replica"): every
 *     flush of the links saves first (save_then_flush), frames wait in their
 *     batch meanwhile (split into messages of BATCH_FRAMES/BATCH_BYTES when
 *     they go), and a client's write is answered only once saved. A save
 *     that fails drops what waits for the links (as a full link does: the
 *     writes stay in the log, peers pull them once saving works again) and
 *     the write gets CW_EIO.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include <causeway/error.h>

#include "auth.h"
#include "bytes.h"
#include "durable.h"
#include "fault.h"
#include "msg_internal.h"
#include "now.h"
#include "varint.h"
#include "vec.h"
#include "wire.h"

#define DEFAULT_HWM 10000u
#define DEFAULT_HEARTBEAT_MS 1000u
/* The loop looks at the clock at least this often (stop, ticks, faults). */
#define LOOP_MAX_WAIT_MS 10
/* Messages the loop takes from the ROUTER before it takes the lock. */
#define BATCH 512
/* A joining node asks the peers that have not answered again this often; a
 * node answers one peer's requests at most this often. */
#define JOIN_RETRY_NS 250000000u
#define JOIN_ANSWER_NS 1000000000u
/* What a snapshot answer may hold (more is refused): a bound on what a peer
 * can make a joining node allocate. */
#define SNAPSHOT_MAX_VERSIONS ((size_t)1 << 24)
#define SNAPSHOT_MAX_BYTES ((uint64_t)4 << 30)
#define SNAPSHOT_MAX_COUNTER ((uint64_t)1 << 62)
#define DEFAULT_AHEAD_WAIT_MS 1000u
/* Loss recovery's clocks for processes on one network: a message takes
 * ~60 us across loopback and well under a millisecond in a data centre, so
 * a write missing for 10 ms is lost, not late; reports every 50 ms keep
 * stability (and the logs' size) following within a tenth of a second. */
#define DEFAULT_RECOVERY_TIMEOUT_NS 10000000u
#define DEFAULT_REPORT_INTERVAL_NS 50000000u
#define ID_PREFIX "cw-node-"
/* The trace reaches its file at least this often. */
#define TRACE_FLUSH_NS 100000000u

enum { CH_JOIN = 'J', CH_SNAPSHOT = 'S', CH_BATCH = 'B', CH_RESET = 'R' };
/* A batch is handed to its link once it holds this many frames or bytes. */
#define BATCH_FRAMES 128u
#define BATCH_BYTES (64u * 1024u)

/* Frames for one peer not yet handed to its DEALER (invariant 5). */
typedef struct link_out {
    uint8_t *b;                /* [CH_BATCH][varint len][frame]... */
    size_t len, cap;
    uint32_t frames;
} link_out;

typedef struct snapshot {
    bool have;
    uint64_t *clock;           /* nodes counters */
    uint64_t seen_self;        /* the most of the joiner's writes the peer knows of */
    cw_msg **versions;
    size_t count;
} snapshot;

struct cw__server {
    cw__server_options o;
    char *listen;
    char **peers;
    cw_msg_limits lim;

    pthread_mutex_t lock;
    pthread_cond_t applied;    /* broadcast after the loop applied writes */
    cw_node *node;
    cw__faults faults;
    bool faults_configured;

    void *zctx;
    cw__auth *auth;            /* CURVE's peer check, or NULL */
    void *router;
    void **dealer;             /* [nodes]; NULL at self */
    cw__wire_tx *tx;           /* [nodes] */
    link_out *out;             /* [nodes]: frames coalescing for each peer */
    unsigned sends_held;       /* cw__server_hold_sends depth: frames wait for the release */
    cw__wire_rx *rx;           /* [nodes]; the loop's */

    pthread_t loop;
    bool loop_started;
    _Atomic bool stop;
    _Atomic bool closing;      /* for the fault layer (fault.h) */

    /* Joining (invariant 4), under the lock. */
    bool joining;
    uint8_t *answered;         /* [nodes] */
    uint8_t *reset;            /* [nodes]: peers that asked for a new link state this turn; the loop's */
    uint32_t answers;
    uint64_t join_target;      /* the most of its own writes any peer knows of */
    uint64_t join_nonce;       /* this round's request; answers carry it back */
    uint64_t *answered_ns;     /* [nodes]: when each peer's join request was last answered */
    bool closing_writes;       /* cw__server_close: waits end, writes refused */
    uint32_t join_rounds;      /* rounds that ended with that write not applied anywhere */
    uint64_t next_ask_ns;
    snapshot best;

    cw__durable *dur;          /* --data: the saved state; NULL in memory only */
    uint64_t writes_made;      /* client writes made (durable: to know which a save covered) */
    uint64_t writes_saved;     /* writes_made when the last save succeeded */
    bool save_failed;          /* the last save failed: writes are refused until one works */

    cw__server_stats stats;    /* under the lock */
    uint64_t trace_flushed_ns; /* the loop's */
};

void cw__server_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void cw__server_options_init(cw__server_options *o)
{
    memset(o, 0, sizeof *o);
    o->nodes = 1;
    o->policy = CW_KEEP_SIBLINGS;
    o->hwm = DEFAULT_HWM;
    o->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    o->ahead_wait_ms = DEFAULT_AHEAD_WAIT_MS;
    o->recovery_timeout_ns = DEFAULT_RECOVERY_TIMEOUT_NS;
    o->report_interval_ns = DEFAULT_REPORT_INTERVAL_NS;
}

cw_node_id cw__server_self(const cw__server *s) { return s->o.self; }
uint32_t cw__server_nodes(const cw__server *s) { return s->o.nodes; }

/* ---- links ---- */

/* Hands peer j's coalesced frames to its DEALER: a frame alone as itself,
 * several as batches of at most BATCH_FRAMES frames and about BATCH_BYTES
 * (invariant 5; with durable state a burst's frames may pile past that
 * while they wait for the save). A full link loses the rest (link_full
 * counts their frames) and its link state restarts, so the next frame
 * needs no base the peer never got. Lock held. */
static void link_flush(cw__server *s, uint32_t j)
{
    link_out *o = &s->out[j];
    size_t at = 1;
    uint32_t left = o->frames;
    while (left) {
        /* One message: frames from `start` until the bounds. */
        size_t start = at, first_len = 0;
        uint32_t n = 0;
        while (n < left && (n == 0 || (n < BATCH_FRAMES && at - start < BATCH_BYTES))) {
            uint64_t flen = 0;
            size_t frame_at = at;
            cw__varint_take(o->b, o->len, &at, &flen); /* written by link_send: it reads */
            if (n == 0)
                first_len = at - frame_at;
            at += (size_t)flen;
            n++;
        }
        const uint8_t *b;
        size_t len;
        if (n == 1) { /* the frame alone, without its length */
            b = o->b + start + first_len;
            len = at - start - first_len;
        } else { /* [B] then the frames: the byte before them is sent already (or is the B) */
            o->b[start - 1] = CH_BATCH;
            b = o->b + start - 1;
            len = at - start + 1;
        }
        if (zmq_send(s->dealer[j], b, len, ZMQ_DONTWAIT) < 0) {
            s->stats.link_full += left;
            cw__wire_tx_reset(&s->tx[j]);
            break;
        }
        s->stats.sent += n;
        s->stats.wire_bytes_out += len;
        left -= n;
    }
    o->len = 0;
    o->frames = 0;
}

/* Drops what waits for peer j (a save failed: invariant 6), as a full link
 * would. Lock held. */
static void link_drop(cw__server *s, uint32_t j)
{
    link_out *o = &s->out[j];
    if (!o->frames)
        return;
    s->stats.link_full += o->frames;
    cw__wire_tx_reset(&s->tx[j]);
    o->len = 0;
    o->frames = 0;
}

static void link_flush_all(cw__server *s)
{
    for (uint32_t j = 0; j < s->o.nodes; j++)
        if (j != s->o.self)
            link_flush(s, j);
}

/* Saves what changed (durable state), then hands what waits to the links
 * (invariant 6); true when saved (or nothing to save). A failed save drops
 * what waits and is reported on stderr once per run of failures. Lock
 * held. */
static bool save_then_flush(cw__server *s)
{
    if (s->dur && cw__durable_dirty(s->dur)) {
        uint64_t made = s->writes_made;
        char err[256] = "";
        if (cw__durable_save(s->dur, s->node, err, sizeof err) != CW_OK) {
            if (!s->save_failed)
                fprintf(stderr, "causeway node %u: saving state failed: %s\n", s->o.self, err);
            s->save_failed = true;
            for (uint32_t j = 0; j < s->o.nodes; j++)
                if (j != s->o.self)
                    link_drop(s, j);
            return false;
        }
        if (s->save_failed)
            fprintf(stderr, "causeway node %u: saving state works again\n", s->o.self);
        s->save_failed = false;
        s->writes_saved = made;
        if (s->o.trace) /* the trace holds at least the saved state when a kill comes */
            fflush(s->o.trace);
    }
    link_flush_all(s);
    return true;
}

/* Appends one frame for peer j to its batch (invariants 2 and 5). Lock
 * held. */
static void link_send(cw__server *s, uint32_t j, const cw_msg *m)
{
    const uint8_t *bytes;
    size_t len;
    if (cw__wire_encode(&s->tx[j], m, &bytes, &len) != CW_OK) {
        s->stats.link_full++; /* out of memory: as a full link, the peer pulls it */
        return;
    }
    link_out *o = &s->out[j];
    size_t need = o->len + (o->len ? 0 : 1) + CW__VARINT_MAX + len;
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *b = realloc(o->b, cap);
        if (!b) {
            s->stats.link_full++;
            return;
        }
        o->b = b;
        o->cap = cap;
    }
    if (!o->len)
        o->b[o->len++] = CH_BATCH;
    o->len = (size_t)(cw__varint_put(o->b + o->len, len) - o->b);
    memcpy(o->b + o->len, bytes, len);
    o->len += len;
    o->frames++;
    /* The frame is as good as on the link: a batch that will not go restarts
     * the link's state (link_flush). */
    cw__wire_commit(&s->tx[j]);
    if (!s->dur && (o->frames >= BATCH_FRAMES || o->len >= BATCH_BYTES))
        link_flush(s, j); /* durable: the frames wait for the save (invariant 6) */
}

/* cw_send_fn: a local write's first copy to every peer. Never refuses. */
static int on_send(void *ctx, cw_msg *m)
{
    cw__server *s = ctx;
    for (uint32_t j = 0; j < s->o.nodes; j++)
        if (j != s->o.self)
            link_send(s, j, m);
    return 0;
}

/* cw_send_to_fn: recovery traffic, to one peer or all. */
static int on_send_to(void *ctx, uint32_t to, cw_msg *m)
{
    cw__server *s = ctx;
    if (to != CW_NODE_ALL) {
        if (to < s->o.nodes && to != s->o.self)
            link_send(s, to, m);
        return 0;
    }
    return on_send(ctx, m);
}

static uint64_t mono_ns(void) { return cw__now_ns(); }

/* ---- the trace (node-server.md, "Traces"); lock held ---- */

/* A key as a JSON string: each byte is the code point of the same value
 * (so any bytes map to one string and back), with JSON's escapes. */
static void trace_key(FILE *f, const uint8_t *k, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = k[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void trace_clock(FILE *f, const uint64_t *c, uint32_t nodes)
{
    fputc('{', f);
    for (uint32_t k = 0; k < nodes; k++)
        fprintf(f, "%s\"%u\": %" PRIu64, k ? ", " : "", k, c[k]);
    fputc('}', f);
}

/* cw_apply_fn: a write made here (its origin is this node) or applied here. */
static void trace_apply(void *ctx, const cw_msg *m)
{
    cw__server *s = ctx;
    FILE *f = s->o.trace;
    cw_node_id o = cw_msg_origin(m);
    uint64_t seq = cw_msg_seq(m);
    if (o != s->o.self) {
        fprintf(f, "{\"node\": %u, \"op\": \"apply\", \"dot\": [%u, %" PRIu64 "]}\n", s->o.self, o, seq);
        return;
    }
    uint32_t nodes = 0;
    const uint64_t *clock = cw_msg_counters(m, &nodes);
    size_t klen = 0;
    const uint8_t *key = cw_msg_key(m, &klen);
    fprintf(f, "{\"node\": %u, \"op\": \"write\", \"dot\": [%u, %" PRIu64 "], \"key\": ", s->o.self, o, seq);
    trace_key(f, key, klen);
    fputs(", \"clock\": ", f);
    trace_clock(f, clock, nodes);
    cw_vclock ctx_clock;
    cw_vclock_init(&ctx_clock);
    if (cw__msg_context(m) && cw_msg_context(m, &ctx_clock) == CW_OK) {
        fputs(", \"context\": {", f);
        for (uint32_t k = 0; k < nodes; k++)
            fprintf(f, "%s\"%u\": %" PRIu64, k ? ", " : "", k, cw_vclock_get(&ctx_clock, (cw_node_id)k));
        fputc('}', f);
    }
    cw_vclock_destroy(&ctx_clock);
    if (cw_msg_tombstone(m))
        fputs(", \"delete\": true", f);
    fputs("}\n", f);
}

/* cw_apply_fn: the trace and the saved state hear of every applied write. */
static void on_applied(void *ctx, const cw_msg *m)
{
    cw__server *s = ctx;
    if (s->o.trace)
        trace_apply(ctx, m);
    if (s->dur)
        (void)cw__durable_note(s->dur, m, true); /* out of memory: saving stops (durable.h) */
}

/* cw_apply_fn for on_forget: a tombstone left the store. */
static void on_forgot(void *ctx, const cw_msg *m)
{
    cw__server *s = ctx;
    (void)cw__durable_note(s->dur, m, false);
}

static void trace_read(cw__server *s, const void *key, size_t key_len, const cw_read *r)
{
    FILE *f = s->o.trace;
    fprintf(f, "{\"node\": %u, \"op\": \"read\", \"key\": ", s->o.self);
    trace_key(f, key, key_len);
    fputs(", \"dots\": [", f);
    for (size_t i = 0; i < r->count; i++)
        fprintf(f, "%s[%u, %" PRIu64 "]", i ? ", " : "", r->versions[i].origin, r->versions[i].seq);
    fputs("]}\n", f);
}

static void trace_install(cw__server *s, const uint64_t *clock)
{
    fprintf(s->o.trace, "{\"node\": %u, \"op\": \"install\", \"clock\": ", s->o.self);
    trace_clock(s->o.trace, clock, s->o.nodes);
    fputs("}\n", s->o.trace);
}

/* ---- delivery ---- */

/* The fault layer's delivery (fault.h): the message reaches the replica.
 * Lock held. A full buffer refuses it: not taken, so as lost; the replica
 * pulls it again once it has room. */
static void deliver(void *host, uint32_t lane, cw__route r)
{
    (void)lane;
    cw__server *s = host;
    cw_receive_result res;
    (void)cw_node_receive(s->node, r.msg, &res, NULL);
}

/* ---- joining (invariant 4) ---- */

static void snapshot_clear(snapshot *sn)
{
    for (size_t i = 0; i < sn->count; i++)
        cw_msg_unref(sn->versions[i]);
    free(sn->versions);
    free(sn->clock);
    memset(sn, 0, sizeof *sn);
}

/* Lock held: asks each peer that has not answered for a snapshot. */
static void ask_peers(cw__server *s, uint64_t now)
{
    uint8_t req[9] = {CH_JOIN};
    cw__store_be(req + 1, s->join_nonce, 8);
    for (uint32_t j = 0; j < s->o.nodes; j++)
        if (j != s->o.self && !s->answered[j])
            (void)zmq_send(s->dealer[j], req, sizeof req, ZMQ_DONTWAIT);
    s->next_ask_ns = now + JOIN_RETRY_NS;
}

/* Lock held: forget this round's answers; the next asks every peer again
 * under a new nonce, so an answer to this round that comes late is not
 * taken for the next one's. */
static void join_round_again(cw__server *s)
{
    snapshot_clear(&s->best);
    memset(s->answered, 0, s->o.nodes);
    s->answers = 0;
    s->join_target = 0;
    s->join_nonce++;
}

/* Lock held: every peer answered; adopt the best snapshot. */
static void finish_join(cw__server *s)
{
    int rc = CW_OK;
    if (s->best.have)
        rc = cw_node_install(s->node, s->best.clock, s->o.nodes, s->best.versions, s->best.count);
    if (rc == CW_OK && s->best.have && s->o.trace)
        trace_install(s, s->best.clock);
    if (rc != CW_OK) { /* out of memory, or an answer that is not a consistent state: ask again */
        s->stats.malformed += rc == CW_EINVAL;
        join_round_again(s);
        return;
    }
    snapshot_clear(&s->best);
    s->joining = false;
    if (s->dur)
        cw__durable_note_all(s->dur); /* the installed state is saved whole */
}

typedef struct snap_ctx {
    cw__server *s;
    uint32_t to;
    size_t left;               /* versions still to send */
    bool failed;
} snap_ctx;

static void send_versions(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                          size_t count)
{
    (void)key;
    (void)key_len;
    snap_ctx *c = ctx;
    for (size_t i = 0; i < count && !c->failed; i++) {
        size_t need = cw_msg_encoded_size(versions[i]), len = 0;
        zmq_msg_t part;
        if (zmq_msg_init_size(&part, need) != 0) {
            c->failed = true;
            return;
        }
        if (cw_msg_encode(versions[i], zmq_msg_data(&part), need, &len) != CW_OK) {
            zmq_msg_close(&part);
            c->failed = true;
            return;
        }
        c->left--;
        if (zmq_msg_send(&part, c->s->dealer[c->to], c->left ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&part);
            c->failed = true;
        }
    }
}

typedef struct count_ctx {
    size_t versions;
} count_ctx;

static void count_versions(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                           size_t count)
{
    (void)key;
    (void)key_len;
    (void)versions;
    ((count_ctx *)ctx)->versions += count;
}

/* Lock held: peer j restarted without its state and asks for this node's. */
static void answer_join(cw__server *s, uint32_t j, uint64_t nonce, uint64_t now)
{
    /* One answer per peer per JOIN_ANSWER_NS: a joiner asks again every
     * JOIN_RETRY_NS until answered, and requests that piled up while this
     * node was away must not each copy the whole store. */
    if (now - s->answered_ns[j] < JOIN_ANSWER_NS)
        return;
    /* The snapshot must not show what is not saved (invariant 6). */
    if (!save_then_flush(s))
        return; /* it asks again */
    s->answered_ns[j] = now;
    cw_node_peer_restarted(s->node, j);
    /* Its link state is new: the next frame must not need an old base. */
    link_flush(s, j);
    cw__wire_tx_reset(&s->tx[j]);
    count_ctx cc = {0};
    cw_node_each_key(s->node, count_versions, &cc);
    const uint64_t *v = cw_node_counters(s->node);
    size_t clen = (size_t)s->o.nodes * 8 + 16;
    uint8_t *clock = malloc(clen);
    if (!clock)
        return; /* it asks again */
    for (uint32_t k = 0; k < s->o.nodes; k++)
        cw__store_be(clock + (size_t)k * 8, v[k], 8);
    /* And the most of j's own writes this node knows of (applied or not). */
    cw__store_be(clock + (size_t)s->o.nodes * 8, cw_node_seen(s->node, j), 8);
    cw__store_be(clock + (size_t)s->o.nodes * 8 + 8, nonce, 8);
    char ch = CH_SNAPSHOT;
    int more = ZMQ_SNDMORE;
    if (zmq_send(s->dealer[j], &ch, 1, ZMQ_DONTWAIT | more) != 1) {
        free(clock);
        return; /* full link: it asks again */
    }
    (void)zmq_send(s->dealer[j], clock, clen, cc.versions ? more : 0);
    free(clock);
    snap_ctx c = {s, j, cc.versions, false};
    if (cc.versions)
        cw_node_each_key(s->node, send_versions, &c);
    if (c.failed) {
        /* A multipart message half sent is dropped by ZeroMQ only when the
         * socket closes; end it with an empty version, which the joining
         * node refuses as malformed and asks again. */
        (void)zmq_send(s->dealer[j], "", 0, 0);
    }
}

/* ---- the loop ---- */

typedef struct arrival {
    uint32_t from;
    cw_msg *msg;
} arrival;

/* Which peer a routing id names; nodes if none. */
static uint32_t peer_of(const cw__server *s, zmq_msg_t *id)
{
    size_t len = zmq_msg_size(id), plen = sizeof ID_PREFIX - 1;
    const char *p = zmq_msg_data(id);
    if (len <= plen || len > plen + 10 || memcmp(p, ID_PREFIX, plen) != 0)
        return s->o.nodes;
    uint64_t v = 0;
    for (size_t i = plen; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || (i == plen && p[i] == '0' && len > plen + 1))
            return s->o.nodes;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    return v < s->o.nodes && v != s->o.self ? (uint32_t)v : s->o.nodes;
}

/* With CURVE: whether the connection a frame came on was admitted with
 * node j's key (the ZAP handler named it, auth.h). */
static bool speaks_as(zmq_msg_t *frame, uint32_t j)
{
    const char *user = zmq_msg_gets(frame, "User-Id");
    if (!user || *user < '0' || *user > '9')
        return false;
    char *end;
    unsigned long id = strtoul(user, &end, 10); /* auth.c names connections by plain decimal ids */
    return !*end && id == j;
}

/* Reads the rest of a multipart message into nothing. */
static void discard_rest(void *sock)
{
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
}

/* A snapshot answer from peer j (its first part read): [clock: nodes x u64]
 * [seen: u64][nonce: u64], then one part per version. Every part is read,
 * whatever it holds (a message is never left half read: the next read would
 * take its rest for a new message), but at most SNAPSHOT_MAX_VERSIONS
 * versions and SNAPSHOT_MAX_BYTES bytes of them are kept; an answer beyond
 * either, or not for this node's request, is refused. Loop thread; takes
 * the lock to file it. */
static void take_snapshot(cw__server *s, uint32_t j)
{
    snapshot sn = {0};
    bool ok = true;
    uint64_t nonce = 0, bytes = 0;
    size_t cap = 0, head = (size_t)s->o.nodes * 8 + 16;
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, s->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return; /* ZeroMQ delivers a message whole: not reached */
    }
    int more = zmq_msg_more(&part);
    if (zmq_msg_size(&part) != head || !(sn.clock = malloc((size_t)s->o.nodes * 8))) {
        ok = false;
    } else {
        const uint8_t *p = zmq_msg_data(&part);
        for (uint32_t k = 0; k < s->o.nodes; k++) {
            sn.clock[k] = cw__load_be(p + (size_t)k * 8, 8);
            ok &= sn.clock[k] <= SNAPSHOT_MAX_COUNTER; /* a counter counts writes */
        }
        sn.seen_self = cw__load_be(p + (size_t)s->o.nodes * 8, 8);
        nonce = cw__load_be(p + (size_t)s->o.nodes * 8 + 8, 8);
        ok &= sn.seen_self >= sn.clock[s->o.self] && sn.seen_self <= SNAPSHOT_MAX_COUNTER;
    }
    zmq_msg_close(&part);
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            ok = false;
            break;
        }
        more = zmq_msg_more(&part);
        size_t len = zmq_msg_size(&part);
        bytes += len;
        ok &= sn.count < SNAPSHOT_MAX_VERSIONS && bytes <= SNAPSHOT_MAX_BYTES;
        cw_msg *m = NULL;
        size_t used = 0;
        if (ok && (cw_msg_decode(&m, zmq_msg_data(&part), len, &s->lim, &used) != CW_OK || used != len))
            ok = false;
        zmq_msg_close(&part);
        if (ok) {
            cw_msg **v = cw__vec_room(sn.versions, sn.count, &cap, sizeof *v);
            if (v)
                sn.versions = v;
            ok = v != NULL;
        }
        if (ok)
            sn.versions[sn.count++] = m;
        else if (m)
            cw_msg_unref(m);
    }
    pthread_mutex_lock(&s->lock);
    if (!ok) {
        s->stats.malformed++;
    } else if (s->joining && !s->answered[j] && nonce == s->join_nonce) {
        s->answered[j] = 1;
        s->answers++;
        if (sn.seen_self > s->join_target)
            s->join_target = sn.seen_self;
        if (!s->best.have || sn.clock[s->o.self] > s->best.clock[s->o.self]) {
            snapshot_clear(&s->best);
            s->best = sn;
            s->best.have = true;
            memset(&sn, 0, sizeof sn);
        }
        if (s->answers == s->o.nodes - 1) {
            if (s->best.clock[s->o.self] >= s->join_target) {
                finish_join(s);
            } else {
                /* A peer knows of a write of this node's that no peer has
                 * applied yet (waiting in a buffer for what it depends on):
                 * installing now would give its seq again. Ask every peer
                 * again until one has applied it. */
                join_round_again(s);
                s->join_rounds++;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    snapshot_clear(&sn);
}

/* What the loop counts while it takes arrivals without the lock; added to
 * the server's statistics under it. */
typedef struct rx_counts {
    uint64_t received, malformed, refused, bytes;
} rx_counts;

/* Decodes one link frame from peer j into *out; false if it is refused. */
static bool take_frame(cw__server *s, uint32_t j, const uint8_t *b, size_t len, cw_msg **out, rx_counts *n)
{
    cw_msg *m = NULL;
    int rc = cw__wire_decode(&s->rx[j], b, len, &s->lim, &m);
    /* A write's first copy comes only from its origin; a pull or report
     * names its sender: a peer may not speak for another. */
    if (rc == CW_OK && !cw_msg_retransmitted(m) && cw_msg_origin(m) != j) {
        cw_msg_unref(m);
        rc = CW_EINVAL;
    }
    if (rc != CW_OK) {
        n->malformed += rc != CW_ENOTFOUND; /* a frame after a lost one is counted by the link */
        return false;
    }
    n->received++;
    *out = m;
    return true;
}

/* The frames of a batch from peer j (after its 'B'), at most BATCH_FRAMES,
 * into in[]; how many. A batch that does not parse is malformed from the
 * frame that does not on. */
static size_t take_batch(cw__server *s, uint32_t j, const uint8_t *b, size_t len, arrival *in, rx_counts *n)
{
    size_t at = 0, got = 0;
    while (at < len && got < BATCH_FRAMES) {
        uint64_t flen = 0;
        if (!cw__varint_take(b, len, &at, &flen) || flen == 0 || flen > len - at) {
            n->malformed++;
            return got;
        }
        if (take_frame(s, j, b + at, (size_t)flen, &in[got].msg, n))
            in[got++].from = j;
        at += (size_t)flen;
    }
    if (at < len) /* more frames than a batch may hold */
        n->malformed++;
    return got;
}

/* Takes what waits at the ROUTER, up to BATCH link frames, into `in`.
 * Control messages are handled as they come (invariant 3). The count of
 * arrivals. */
static size_t take_arrivals(cw__server *s, arrival *in, rx_counts *n, uint32_t *join_from, uint64_t *join_nonce,
                            uint8_t *reset)
{
    size_t got = 0;
    while (got + BATCH_FRAMES <= BATCH) {
        zmq_msg_t id, f;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, s->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            break;
        }
        uint32_t j = peer_of(s, &id);
        zmq_msg_close(&id);
        zmq_msg_init(&f);
        int rc = zmq_msg_recv(&f, s->router, 0);
        /* The routing id frame is the ROUTER's own; the connection's
         * properties come with the frames the peer sent. */
        if (j != s->o.nodes && s->auth && (rc < 0 || !speaks_as(&f, j)))
            j = s->o.nodes; /* a peer's key, another peer's name */
        bool more = rc >= 0 && zmq_msg_more(&f);
        size_t len = rc >= 0 ? zmq_msg_size(&f) : 0;
        const uint8_t *b = zmq_msg_data(&f);
        n->bytes += len;
        if (j == s->o.nodes || rc < 0) {
            zmq_msg_close(&f);
            discard_rest(s->router);
            n->refused += j == s->o.nodes;
            continue;
        }
        if (len == 9 && b[0] == CH_JOIN && !more) {
            /* Answered once what came before it is delivered (the caller),
             * so the snapshot holds every frame the old process sent. */
            *join_from = j;
            *join_nonce = cw__load_be(b + 1, 8);
            zmq_msg_close(&f);
            break;
        }
        if (len == 1 && b[0] == CH_RESET && !more) {
            reset[j] = 1; /* the link's state is the lock's: reset by the caller */
            zmq_msg_close(&f);
            continue;
        }
        if (len == 1 && b[0] == CH_SNAPSHOT && more) {
            zmq_msg_close(&f);
            take_snapshot(s, j);
            continue;
        }
        if (!more && len > 1 && b[0] == CH_BATCH) {
            got += take_batch(s, j, b + 1, len - 1, in + got, n);
            zmq_msg_close(&f);
            continue;
        }
        if (more) { /* a link frame is one part */
            zmq_msg_close(&f);
            discard_rest(s->router);
            n->malformed++;
            continue;
        }
        if (take_frame(s, j, b, len, &in[got].msg, n))
            in[got++].from = j;
        zmq_msg_close(&f);
    }
    return got;
}

static void *loop_main(void *arg)
{
    cw__server *s = arg;
    arrival *in = malloc(BATCH * sizeof *in);
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        uint64_t now = mono_ns();
        pthread_mutex_lock(&s->lock);
        uint64_t next = cw_node_next_tick(s->node);
        uint64_t due = s->faults_configured ? cw__faults_next_due(&s->faults, 0) : 0;
        if (due && due < next)
            next = due;
        if (s->joining && s->next_ask_ns < next)
            next = s->next_ask_ns;
        pthread_mutex_unlock(&s->lock);
        long wait_ms = LOOP_MAX_WAIT_MS;
        if (next != UINT64_MAX)
            wait_ms = next <= now ? 0 : (long)((next - now) / 1000000u);
        if (wait_ms > LOOP_MAX_WAIT_MS)
            wait_ms = LOOP_MAX_WAIT_MS;
        zmq_pollitem_t item = {s->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, wait_ms) < 0 && zmq_errno() == ETERM)
            break;
        rx_counts counts = {0, 0, 0, 0};
        uint32_t join_from = s->o.nodes;
        uint64_t join_nonce = 0;
        size_t got = in ? take_arrivals(s, in, &counts, &join_from, &join_nonce, s->reset) : 0;
        now = mono_ns();
        pthread_mutex_lock(&s->lock);
        s->stats.received += counts.received;
        s->stats.malformed += counts.malformed;
        s->stats.refused_peer += counts.refused;
        s->stats.wire_bytes_in += counts.bytes;
        bool any = false;
        for (size_t i = 0; i < got; i++) {
            if (!s->joining) {
                cw__route r = {in[i].msg, s->o.self, 0};
                if (s->faults_configured && !cw__faults_direct(&s->faults))
                    cw__faults_route(&s->faults, 0, r, s->faults.on);
                else
                    deliver(s, 0, r);
                any = true;
            }
            cw_msg_unref(in[i].msg);
        }
        if (s->faults_configured && !s->joining) {
            any |= cw__faults_take_released(&s->faults, 0);
            any |= cw__faults_release_due(&s->faults, 0);
        }
        if (join_from != s->o.nodes)
            answer_join(s, join_from, join_nonce, now);
        if (s->joining && now >= s->next_ask_ns)
            ask_peers(s, now);
        if (!s->joining)
            (void)cw_node_tick(s->node, now, NULL);
        if (!s->sends_held)
            (void)save_then_flush(s);
        for (uint32_t j = 0; j < s->o.nodes; j++)
            if (s->reset[j]) { /* after what was encoded for the old process left */
                if (!s->sends_held)
                    cw__wire_tx_reset(&s->tx[j]);
                else
                    link_drop(s, j); /* frames against the old state: peers pull them */
                s->reset[j] = 0;
            }
        if (s->o.trace && now - s->trace_flushed_ns >= TRACE_FLUSH_NS) {
            fflush(s->o.trace);
            s->trace_flushed_ns = now;
        }
        if (any)
            pthread_cond_broadcast(&s->applied);
        pthread_mutex_unlock(&s->lock);
    }
    free(in);
    return NULL;
}

/* ---- lifecycle ---- */

static int sockopt_int(void *sock, int opt, int v) { return zmq_setsockopt(sock, opt, &v, sizeof v); }

/* The options every link socket gets: bounded queues, heartbeats, no linger
 * past a short grace at close. */
static int link_options(void *sock, const cw__server_options *o)
{
    int hb = (int)o->heartbeat_ms;
    return sockopt_int(sock, ZMQ_SNDHWM, (int)o->hwm) | sockopt_int(sock, ZMQ_RCVHWM, (int)o->hwm) |
           sockopt_int(sock, ZMQ_LINGER, 100) | sockopt_int(sock, ZMQ_HEARTBEAT_IVL, hb) |
           sockopt_int(sock, ZMQ_HEARTBEAT_TIMEOUT, 3 * hb) | sockopt_int(sock, ZMQ_HEARTBEAT_TTL, 3 * hb);
}

static bool options_valid(const cw__server_options *o, char *err, size_t errlen)
{
    if (o->nodes == 0 || o->nodes > CW_SERVER_MAX_NODES) {
        cw__server_err(err, errlen, "nodes must be 1..%u", CW_SERVER_MAX_NODES);
        return false;
    }
    if (o->self >= o->nodes) {
        cw__server_err(err, errlen, "id %u is not below nodes %u", o->self, o->nodes);
        return false;
    }
    if (!o->listen || !*o->listen) {
        cw__server_err(err, errlen, "no endpoint to listen on");
        return false;
    }
    for (uint32_t j = 0; j < o->nodes; j++)
        if (j != o->self && (!o->peers || !o->peers[j] || !*o->peers[j])) {
            cw__server_err(err, errlen, "no endpoint for peer %u", j);
            return false;
        }
    if (o->policy != CW_KEEP_SIBLINGS && o->policy != CW_LAST_WRITER_WINS) {
        cw__server_err(err, errlen, "policy must be siblings or lww");
        return false;
    }
    if (o->curve_secret) {
        uint8_t key[32];
        if (strlen(o->curve_secret) != 40 || !zmq_z85_decode(key, o->curve_secret)) {
            cw__server_err(err, errlen, "the CURVE secret key is not 40 characters of Z85");
            return false;
        }
        for (uint32_t j = 0; j < o->nodes; j++)
            if (j != o->self && (!o->curve_peers || !o->curve_peers[j] || strlen(o->curve_peers[j]) != 40 ||
                                 !zmq_z85_decode(key, o->curve_peers[j]))) {
                cw__server_err(err, errlen, "no CURVE public key (40 characters of Z85) for peer %u", j);
                return false;
            }
        if (!zmq_has("curve")) {
            cw__server_err(err, errlen, "this libzmq has no CURVE");
            return false;
        }
    }
    if (o->hwm == 0 || o->hwm > 10000000u || o->heartbeat_ms == 0 || o->heartbeat_ms > 600000u) {
        cw__server_err(err, errlen, "hwm must be 1..10000000 and heartbeat 1..600000 ms");
        return false;
    }
    return true;
}

static int make_node(cw__server *s)
{
    const cw__server_options *o = &s->o;
    cw_node_options no;
    cw_node_options_init(&no);
    no.self = o->self;
    no.nodes = o->nodes;
    no.policy = o->policy;
    if (o->max_key_len)
        no.max_key_len = o->max_key_len;
    if (o->max_value_len)
        no.max_value_len = o->max_value_len;
    if (o->max_buffered)
        no.max_buffered = o->max_buffered;
    if (o->max_log)
        no.max_log = o->max_log;
    no.recovery_timeout_ns = o->recovery_timeout_ns;
    no.report_interval_ns = o->report_interval_ns;
    no.send = on_send;
    no.send_ctx = s;
    if (o->trace || s->dur) {
        no.on_apply = on_applied;
        no.apply_ctx = s;
    }
    if (s->dur) {
        no.on_forget = on_forgot;
        no.forget_ctx = s;
    }
    if (o->nodes > 1) {
        no.send_to = on_send_to;
        no.send_to_ctx = s;
    }
    s->lim.nodes = o->nodes;
    s->lim.max_key_len = no.max_key_len;
    s->lim.max_value_len = no.max_value_len;
    return cw_node_create(&s->node, &no);
}

static int open_links(cw__server *s, char *err, size_t errlen)
{
    const cw__server_options *o = &s->o;
    s->zctx = zmq_ctx_new();
    if (!s->zctx) {
        cw__server_err(err, errlen, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    char public_key[41] = "";
    if (o->curve_secret) {
        int rc = cw__auth_start(&s->auth, s->zctx, o->curve_peers, o->nodes);
        if (rc != CW_OK || zmq_curve_public(public_key, o->curve_secret) != 0) {
            cw__server_err(err, errlen, "CURVE authentication: %s", cw_strerror(rc != CW_OK ? rc : CW_EINVAL));
            return rc != CW_OK ? rc : CW_EINVAL;
        }
    }
    s->router = zmq_socket(s->zctx, ZMQ_ROUTER);
    /* The largest part a peer sends: a batch of frames (BATCH_BYTES and the
     * frame that passed it), a frame being at most one write at this node's
     * limits with its clock and context. ZeroMQ drops a connection that
     * sends more, before any of it is kept. */
    int64_t max_part = (int64_t)(s->lim.max_key_len + s->lim.max_value_len + 16u * (size_t)o->nodes + 4096u) +
                       BATCH_BYTES + 16;
    if (!s->router || link_options(s->router, o) != 0 || sockopt_int(s->router, ZMQ_ROUTER_HANDOVER, 1) != 0 ||
        zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &max_part, sizeof max_part) != 0 ||
        (o->curve_secret &&
         (sockopt_int(s->router, ZMQ_CURVE_SERVER, 1) != 0 ||
          zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, o->curve_secret, 41) != 0 ||
          zmq_setsockopt(s->router, ZMQ_ZAP_DOMAIN, "causeway", 8) != 0))) {
        cw__server_err(err, errlen, "ROUTER socket: %s", zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    if (zmq_bind(s->router, o->listen) != 0) {
        cw__server_err(err, errlen, "cannot listen on %s: %s", o->listen, zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    char id[32];
    int idlen = snprintf(id, sizeof id, ID_PREFIX "%u", o->self);
    for (uint32_t j = 0; j < o->nodes; j++) {
        if (j == o->self)
            continue;
        void *d = zmq_socket(s->zctx, ZMQ_DEALER);
        s->dealer[j] = d;
        if (!d || link_options(d, o) != 0 || zmq_setsockopt(d, ZMQ_ROUTING_ID, id, (size_t)idlen) != 0 ||
            (o->curve_secret && (zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, o->curve_peers[j], 41) != 0 ||
                                 zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, public_key, 41) != 0 ||
                                 zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, o->curve_secret, 41) != 0))) {
            cw__server_err(err, errlen, "DEALER socket for peer %u: %s", j, zmq_strerror(zmq_errno()));
            return CW_EIO;
        }
        if (zmq_connect(d, o->peers[j]) != 0) {
            cw__server_err(err, errlen, "cannot connect to peer %u at %s: %s", j, o->peers[j],
                    zmq_strerror(zmq_errno()));
            return CW_EIO;
        }
    }
    return CW_OK;
}

int cw__server_start(cw__server **out, const cw__server_options *o, char *err, size_t errlen)
{
    if (!out || !o || !options_valid(o, err, errlen)) {
        if (!o)
            cw__server_err(err, errlen, "no options");
        return CW_EINVAL;
    }
    cw__server *s = calloc(1, sizeof *s);
    if (!s)
        return CW_ENOMEM;
    s->o = *o;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall clock step does not stretch a wait */
    pthread_cond_init(&s->applied, &ca);
    pthread_condattr_destroy(&ca);
    int rc = CW_ENOMEM;
    s->listen = strdup(o->listen);
    s->peers = calloc(o->nodes, sizeof *s->peers);
    s->dealer = calloc(o->nodes, sizeof *s->dealer);
    s->tx = calloc(o->nodes, sizeof *s->tx);
    s->out = calloc(o->nodes, sizeof *s->out);
    s->rx = calloc(o->nodes, sizeof *s->rx);
    s->answered = calloc(o->nodes, 1);
    s->reset = calloc(o->nodes, 1);
    s->answered_ns = calloc(o->nodes, sizeof *s->answered_ns);
    if (!s->listen || !s->peers || !s->dealer || !s->tx || !s->out || !s->rx || !s->answered || !s->answered_ns || !s->reset)
        goto fail;
    s->o.listen = s->listen;
    for (uint32_t j = 0; j < o->nodes; j++) {
        if (j != o->self && !(s->peers[j] = strdup(o->peers[j])))
            goto fail;
        if (cw__wire_tx_init(&s->tx[j], o->nodes) != CW_OK || cw__wire_rx_init(&s->rx[j], o->nodes) != CW_OK)
            goto fail;
    }
    s->o.peers = (const char **)s->peers;
    s->o.data_dir = NULL; /* the caller's string: not kept */
    if (o->data_dir &&
        (rc = cw__durable_open(&s->dur, o->data_dir, o->self, o->nodes, o->policy,
                               o->sync_none ? CW__SYNC_NONE : CW__SYNC_FULL, o->map_size, err, errlen)) != CW_OK)
        goto fail_quiet;
    if ((rc = make_node(s)) != CW_OK) {
        cw__server_err(err, errlen, "replica: %s", cw_strerror(rc));
        goto fail;
    }
    bool restored = false;
    if (s->dur && (rc = cw__durable_load(s->dur, s->node, &s->lim, &restored, err, errlen)) != CW_OK)
        goto fail_quiet;
    if (restored && o->trace) /* to a trace, a process that adopts a state: its own saved one */
        trace_install(s, cw_node_counters(s->node));
    cw__fault_options fo = {o->fault_seed, o->drop_probability, o->delay_probability, o->max_delay_us,
                            o->duplicate_probability};
    if ((rc = cw__faults_init(&s->faults, &fo, 1, deliver, s)) != CW_OK) {
        cw__server_err(err, errlen, "faults: %s", cw_strerror(rc));
        goto fail;
    }
    s->faults.closing = &s->closing;
    s->faults_configured = true;
    if ((rc = open_links(s, err, errlen)) != CW_OK)
        goto fail;
    if (restored) { /* peers' links to this process start afresh (invariant 3); queued until connected */
        char r = CH_RESET;
        for (uint32_t j = 0; j < o->nodes; j++)
            if (j != o->self)
                (void)zmq_send(s->dealer[j], &r, 1, ZMQ_DONTWAIT);
    }
    /* The keys are in the sockets and the handler now: the caller's copies
     * may go (and the secret is not kept a moment longer than needed). */
    s->o.curve_secret = NULL;
    s->o.curve_peers = NULL;
    /* A node that took its state back knows its own last seq: it saved
     * every write before it left (invariant 6). */
    s->joining = !o->fresh && !restored && o->nodes > 1;
    /* Each process asks under nonces of its own: an answer to an earlier
     * process of this node (queued at a peer when it died) is not taken. */
    if (getrandom(&s->join_nonce, sizeof s->join_nonce, 0) != (ssize_t)sizeof s->join_nonce)
        s->join_nonce = mono_ns() ^ ((uint64_t)getpid() << 32);
    if (pthread_create(&s->loop, NULL, loop_main, s) != 0) {
        cw__server_err(err, errlen, "cannot start the loop thread");
        rc = CW_ENOMEM;
        goto fail;
    }
    s->loop_started = true;
    *out = s;
    return CW_OK;
fail:
    if (rc == CW_ENOMEM)
        cw__server_err(err, errlen, "out of memory");
fail_quiet:
    cw__server_stop(s);
    return rc;
}

void cw__server_stop(cw__server *s)
{
    if (!s)
        return;
    atomic_store(&s->closing, true); /* seq_cst: before the loop is stopped (fault.h) */
    atomic_store_explicit(&s->stop, true, memory_order_release); /* pairs with the loop's acquire */
    if (s->loop_started)
        pthread_join(s->loop, NULL);
    if (s->faults_configured)
        cw__faults_destroy(&s->faults);
    for (uint32_t j = 0; s->dealer && j < s->o.nodes; j++)
        if (s->dealer[j])
            zmq_close(s->dealer[j]);
    if (s->router)
        zmq_close(s->router);
    cw__auth_stop(s->auth);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    if (s->dur && s->node) { /* what the last turns applied; nothing is sent any more */
        char err[256] = "";
        if (cw__durable_save(s->dur, s->node, err, sizeof err) != CW_OK)
            fprintf(stderr, "causeway node %u: saving state at stop failed: %s\n", s->o.self, err);
    }
    cw__durable_close(s->dur);
    cw_node_destroy(s->node);
    if (s->o.trace)
        fflush(s->o.trace);
    for (uint32_t j = 0; j < s->o.nodes; j++) {
        if (s->tx)
            cw__wire_tx_destroy(&s->tx[j]);
        if (s->rx)
            cw__wire_rx_destroy(&s->rx[j]);
        if (s->peers)
            free(s->peers[j]);
        if (s->out)
            free(s->out[j].b);
    }
    snapshot_clear(&s->best);
    free(s->peers);
    free(s->listen);
    free(s->dealer);
    free(s->tx);
    free(s->out);
    free(s->rx);
    free(s->answered);
    free(s->answered_ns);
    free(s->reset);
    pthread_cond_destroy(&s->applied);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- client operations ---- */

/* A client write just made, with durable state: answered once saved
 * (invariant 6). Writers that came meanwhile share the save: the lock is
 * let go once before it, so their puts join this transaction (a group
 * commit; a save with --sync full costs a disk flush). Within a burst
 * (sends held) the burst's owner saves (cw__server_save). Lock held. */
static int saved(cw__server *s)
{
    uint64_t mine = ++s->writes_made;
    if (s->sends_held)
        return CW_OK;
    pthread_mutex_unlock(&s->lock);
    sched_yield();
    pthread_mutex_lock(&s->lock);
    return s->writes_saved >= mine || save_then_flush(s) ? CW_OK : CW_EIO;
}

static int write_at(cw__server *s, const void *key, size_t key_len, const void *value, size_t value_len,
                    const cw_vclock *context, bool tombstone, cw_vclock *clock_out, bool wait_ahead)
{
    pthread_mutex_lock(&s->lock);
    int rc;
    struct timespec until;
    bool waited = false;
    for (;;) {
        if (s->closing_writes) {
            rc = CW_ECLOSED;
            break;
        }
        if (s->joining) {
            rc = CW_EJOINING;
            break;
        }
        if (s->save_failed && !save_then_flush(s)) { /* saving does not work: take nothing */
            rc = CW_EIO;
            break;
        }
        if (tombstone)
            rc = cw_node_delete(s->node, key, key_len, context, clock_out);
        else if (context)
            rc = cw_node_put_ctx(s->node, key, key_len, value, value_len, context, clock_out);
        else
            rc = cw_node_put(s->node, key, key_len, value, value_len, clock_out);
        if (rc != CW_EAHEAD || !wait_ahead || s->o.ahead_wait_ms == 0) {
            if (rc == CW_OK && s->dur)
                rc = saved(s);
            else if (rc == CW_OK && !s->sends_held)
                link_flush_all(s);
            break;
        }
        /* The writes the context covers are on their way: wait for them. */
        if (!waited) {
            clock_gettime(CLOCK_MONOTONIC, &until); /* the condition variable's clock */
            uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)(s->o.ahead_wait_ms % 1000u) * 1000000u;
            until.tv_sec += (time_t)(s->o.ahead_wait_ms / 1000u + ns / 1000000000u);
            until.tv_nsec = (long)(ns % 1000000000u);
            waited = true;
        }
        if (pthread_cond_timedwait(&s->applied, &s->lock, &until) == ETIMEDOUT) {
            rc = CW_EAHEAD;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cw__server_write(cw__server *s, const void *key, size_t key_len, const void *value, size_t value_len,
                     const cw_vclock *context, bool tombstone, cw_vclock *clock_out)
{
    return write_at(s, key, key_len, value, value_len, context, tombstone, clock_out, true);
}

int cw__server_write_now(cw__server *s, const void *key, size_t key_len, const void *value, size_t value_len,
                         const cw_vclock *context, bool tombstone, cw_vclock *clock_out)
{
    return write_at(s, key, key_len, value, value_len, context, tombstone, clock_out, false);
}

void cw__server_close(cw__server *s)
{
    pthread_mutex_lock(&s->lock);
    s->closing_writes = true;
    pthread_cond_broadcast(&s->applied); /* ends every wait for an ahead context */
    pthread_mutex_unlock(&s->lock);
}

int cw__server_read(cw__server *s, const void *key, size_t key_len, cw_read *out)
{
    pthread_mutex_lock(&s->lock);
    int rc = cw_node_get(s->node, key, key_len, out);
    if (s->o.trace && (rc == CW_OK || rc == CW_ENOTFOUND))
        trace_read(s, key, key_len, out);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cw__server_replicate(cw__server *s, const void *bytes, size_t len)
{
    cw_msg *m = NULL;
    size_t used = 0;
    int rc = cw_msg_decode(&m, bytes, len, &s->lim, &used);
    if (rc == CW_ENOMEM)
        return rc;
    /* Writes only: a pull or a report names its sender, which nothing here
     * can check (the links check theirs). */
    if (rc != CW_OK || used != len || cw_msg_kind_of(m) != CW_MSG_WRITE || cw_msg_origin(m) == s->o.self) {
        if (m)
            cw_msg_unref(m);
        return CW_EINVAL;
    }
    pthread_mutex_lock(&s->lock);
    if (s->joining) {
        rc = CW_EJOINING;
    } else {
        cw_receive_result res;
        rc = cw_node_receive(s->node, m, &res, NULL);
        if (rc == CW_OK)
            pthread_cond_broadcast(&s->applied);
        if (!s->sends_held && !save_then_flush(s) && rc == CW_OK)
            rc = CW_EIO; /* taken, not saved: the peer sends it again */
    }
    pthread_mutex_unlock(&s->lock);
    cw_msg_unref(m);
    return rc;
}

void cw__server_hold_sends(cw__server *s)
{
    pthread_mutex_lock(&s->lock);
    s->sends_held++;
    pthread_mutex_unlock(&s->lock);
}

void cw__server_release_sends(cw__server *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->sends_held && --s->sends_held == 0)
        (void)save_then_flush(s);
    pthread_mutex_unlock(&s->lock);
}

int cw__server_save(cw__server *s)
{
    if (!s->dur)
        return CW_OK;
    pthread_mutex_lock(&s->lock);
    int rc = save_then_flush(s) ? CW_OK : CW_EIO;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void cw__server_with_node(cw__server *s, void (*fn)(void *ctx, cw_node *n), void *ctx)
{
    pthread_mutex_lock(&s->lock);
    fn(ctx, s->node);
    pthread_mutex_unlock(&s->lock);
}

int cw__server_link(cw__server *s, cw_node_id from, cw_node_id to, cw__link_action a)
{
    if (from >= s->o.nodes || to != s->o.self || from == to)
        return CW_EINVAL;
    pthread_mutex_lock(&s->lock);
    bool released = false;
    int rc;
    if (a == CW__LINK_HOLD || a == CW__LINK_RELEASE)
        rc = cw__faults_hold(&s->faults, from, to, a == CW__LINK_HOLD, 0, &released);
    else
        rc = cw__faults_cut(&s->faults, from, to, a == CW__LINK_CUT);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void cw__server_get_stats(cw__server *s, cw__server_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    out->joining = s->joining;
    out->faults_dropped = atomic_load_explicit(&s->faults.dropped, memory_order_relaxed);
    out->refused_peer += cw__auth_refused(s->auth);
    out->durable = s->dur != NULL;
    out->save_failed = s->save_failed;
    if (s->dur) {
        cw__durable_stats d;
        cw__durable_get_stats(s->dur, &d);
        out->saves = d.saves;
        out->failed_saves = d.failed_saves;
        out->map_used = d.map_used;
        out->map_size = d.map_size;
    }
    pthread_mutex_unlock(&s->lock);
}
