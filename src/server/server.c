/* One replica served over the network (server.h): the replica, its
 * transport (net.h: the ZeroMQ links), its fault layer, the loop thread,
 * and the joining protocol. The replica code is the same one the engine
 * runs; only the host differs: one replica, its transport, its HTTP server
 * and its client-facing threads make a node process.
 *
 * Invariants:
 *  1. s->lock guards the replica, the transport's send side (net.h: every
 *     DEALER but one lent for a snapshot answer (invariant 7), each link's
 *     batch and frame state), the fault layer's lane, the join state and
 *     the counters. The transport's receive side (the
 *     ROUTER, each link's rx frame state) is the loop's alone, used without
 *     the lock; the control handlers it calls (on_join, on_reset,
 *     on_snapshot) run on the loop.
 *  2. A message for a peer is encoded for that peer's link and queued on its
 *     DEALER without waiting; a full link does not queue it (link_full) and
 *     the write stays in the replica's log until stable, so the peer pulls it
 *     later (net.c says why that transport may lose what inproc.c never
 *     does). The replica's send never refuses, so nothing waits in the
 *     replica's unsent queue.
 *  3. Between nodes, a ZeroMQ message is a link frame, a batch of them, or a
 *     control message: a join request ('J'), a snapshot answer ('S'), or a
 *     reset ('R': the sender is a new process that took back its saved
 *     state (--data), so the link to it starts afresh, its next frame
 *     needing no base the old process had). The bytes and who may send
 *     them are net.c's (its invariant 3); what a control message means is
 *     decided here.
 *  4. A node that is joining (started without state) makes no write and
 *     applies nothing from its links; it asks every peer for the head of a
 *     snapshot (its clock, and what it knows of the joiner's writes; a peer
 *     of an earlier release, which answers no head request, for a whole
 *     snapshot, JOIN_ASKS at a time) and, once every peer has answered, takes
 *     the state of the one that holds most of its own writes (of those, the
 *     one that holds most writes in all: a peer joining too answers with its
 *     empty state; better_snapshot), if that one holds every write of its own
 *     any peer knows of; else it asks every peer again. Only that peer sends
 *     its whole state (copy_from; none when its answer was whole already, or
 *     empty), and the joiner installs it if it holds the chosen head (a state
 *     only grows, unless the peer restarted: holds) and every such write,
 *     else asks every peer again; a whole answer from another peer that holds
 *     the chosen head serves as well. Rounds are a JOIN_RETRY_NS apart. What
 *     a peer knows of: applied, or waiting in a buffer (cw_node_seen); kept
 *     by its fault layer (cw__faults_parked_seq); and, while the peer is
 *     joining itself, held by the answers it has taken (it may install the
 *     state of one of their peers, which may have grown since: node-server.md
 *     asks that nodes without state restart one at a time). So its next
 *     write's seq is one no peer has seen. (A write of its own that waits at
 *     a peer for a write lost with the old process keeps it joining: it never
 *     writes over it.) It installs the chosen peer's retransmission log too
 *     (cw_node_restore): a write not yet stable may be in no other log once
 *     its other loggers restarted. A peer that gets a join request (for a
 *     head or a whole snapshot) forgets what the node said it applied before
 *     (cw_node_peer_restarted), so nothing the node lost becomes stable on
 *     its old word.
 *  5. Frames for a peer coalesce while a burst is under way (a batch of
 *     client writes between cw__server_hold_sends and its release, one turn
 *     of the loop) and go to the DEALER as one message (net.c's invariant
 *     4) when the burst ends and the transport is flushed, or when a batch
 *     is full: one ZeroMQ message carries many writes. A write made alone
 *     goes out at once.
 *  4b. A node is never behind itself: no peer can have applied a write of
 *     this node that this node has not made. A message from a peer whose
 *     clock says so (a write that depends on such a write, or a report)
 *     proves this node's state older than what it numbered before (a --data
 *     directory restored from an earlier copy, a --fresh start after it
 *     ran, a second process with its id): from then on it makes no write
 *     (CW_EBEHIND), which would reuse a seq its peers hold. A node that took
 *     its saved state back makes no write until every peer has answered a
 *     head request of its own (the most of this node's writes the peer
 *     holds, applied or waiting, as a joiner asks: fresh, where a report
 *     may have waited in the peer's queue since before the old process
 *     stopped) or VERIFY_NS passed, so that with its peers up the evidence
 *     comes before its first write.
 *  6. With durable state (--data), nothing leaves for a peer before the
 *     state it reflects is saved (node.h "Persisting a replica"): the
 *     transport holds every frame until flushed (cw__net_options.hold),
 *     every flush saves first (save_then_flush), frames wait in their batch
 *     meanwhile (split into messages of CW__NET_BATCH_FRAMES/BYTES when
 *     they go), and a client's write is answered only once saved. A save
 *     that fails drops what waits for the links (cw__net_drop, as a full
 *     link does: the writes stay in the log, peers pull them once saving
 *     works again) and the write gets CW_EIO.
 *  7. A snapshot answer is taken under the lock (its head, and a reference
 *     to each version and log write: a message is immutable) and sent by a
 *     thread of its own, on the joiner's link lent to it (cw__net_lend), so
 *     a store of any size holds the lock only while the references are
 *     taken, and the loop goes on meanwhile. One answer is encoded at a
 *     time (answer_busy; copies handed to ZeroMQ for different joiners may
 *     still wait there together): the first request of another joiner that
 *     comes meanwhile is kept and answered next (join_next; dropped if the
 *     joiner has not asked again for JOIN_KEEP_NS), later ones when they
 *     ask again.
 *     Frames for the joiner meanwhile are lost as at a full link; a joiner
 *     applies nothing from its links until it installs an answer, and
 *     pulls what came after the answer was taken.
 *  8. A loss is told to the replica when a later message on its link
 *     comes (arrive), so the replica pulls at once rather than after its
 *     recovery timeout. Two kinds of loss show so:
 *     - a compact frame the link lost (net.h, cw__net_losses_shown: a
 *       frame dropped at the sender's full link, or lost with a broken
 *       connection), told as a loss of the sender's own writes
 *       (cw__node_link_lost) once the replica has taken the sender's next
 *       write or report delivered at once (the message that showed it, or
 *       a later one; not one the fault layer delays or holds);
 *     - with --drop injected and no link held or cut, a message the fault
 *       layer drops on arrival (its drop is drawn first, before any delay
 *       or duplicate, so whatever comes from that peer after it, in
 *       ZeroMQ's order, was sent after it): a write's own copy, told as
 *       above once its origin's next write or report is taken at once; a
 *       copy answering this node's pull, told as a lost answer
 *       (cw__node_answer_lost, with the write's seq: what the window misses
 *       up to it is asked of the window's peer again at once) when that
 *       peer's next message comes. Per peer, only its last answer dropped
 *       before its next message is remembered; one of another origin
 *       before it waits out its window's timeout.
 *     With --delay, a write or an answer the fault layer still delays when
 *     a later message shows the loss is pulled too (its copy then arrives
 *     twice, and the replica drops the second). Other losses (whole
 *     frames, which are not numbered; pulls and reports; whatever a held
 *     or cut link loses) wait out the timeout. A peer's restart
 *     (forget_old_process) forgets its losses.
 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <causeway/error.h>

#include "bits.h"
#include "durable.h"
#include "fault.h"
#include "msg_internal.h"
#include "mutex.h"
#include "node_internal.h"
#include "net.h"
#include "now.h"
#include "thread_room.h"
#include "transport.h"
#include "vec.h"

#define DEFAULT_HWM 10000u
/* ZeroMQ heartbeats off (net.h, heartbeat_ms): libzmq 4.3.4 can abort the
 * process when one times out on a link whose queue is full. */
#define DEFAULT_HEARTBEAT_MS 0u
/* Long enough that a peer busy for seconds keeps its connection, short
 * enough that a link cut for minutes is back within this long of healing
 * (net.h, link_timeout_ms). */
#define DEFAULT_LINK_TIMEOUT_MS 30000u
/* The loop looks at the clock at least this often (stop, ticks, faults). */
#define LOOP_MAX_WAIT_MS 10
/* Messages the loop takes from the transport before it takes the lock. */
#define BATCH CW__NET_TAKE_MAX
/* A joining node asks the peers that have not answered again this often,
 * and starts a round that failed over after as long; a node that took its
 * state back asks again for the heads it waits for as often. */
#define JOIN_RETRY_NS 250000000u
/* A joining node asks at most this many peers at a time for a whole copy
 * of their store (those of an earlier release, which answer no head
 * request: HEAD_WAIT_NS): in a large group the copies that came together
 * would wait in the joiner's memory at once. The next peer is asked as
 * soon as an answer comes. */
#define JOIN_ASKS 2u
/* A joining node asks the peers for the heads of their answers (again
 * every JOIN_RETRY_NS) for this long from a round's start; a peer that has
 * not answered by then is asked for a whole copy instead (a node of an
 * earlier release refuses a head request as malformed). */
#define HEAD_WAIT_NS (4u * JOIN_RETRY_NS)
/* A node answers one peer's head requests at most this often. */
#define HEAD_ANSWER_NS 100000000u
/* A request kept while another answer is sent (join_next) is dropped when
 * older than this: a joiner still waiting asks every JOIN_RETRY_NS. */
#define JOIN_KEEP_NS (2u * JOIN_RETRY_NS)
#define JOIN_ANSWER_NS 1000000000u
/* A round's request answered once is answered again only after this long,
 * doubled each time up to JOIN_AGAIN_MAX_NS (answer_join). */
#define JOIN_AGAIN_NS 4000000000u
#define JOIN_AGAIN_MAX_NS 64000000000u
#define DEFAULT_AHEAD_WAIT_MS 1000u
/* Loss recovery's clocks for processes on one network: a message takes
 * ~60 us across loopback and well under a millisecond in a data centre, so
 * a write missing for 10 ms is lost, not late; reports every 50 ms keep
 * stability (and the logs' size) following within a tenth of a second. */
#define DEFAULT_RECOVERY_TIMEOUT_NS 10000000u
#define DEFAULT_REPORT_INTERVAL_NS 50000000u
/* A node that took its saved state back takes writes once every peer has
 * answered its head request (asked again every JOIN_RETRY_NS) or after the
 * longer of this and four report intervals (invariant 4b). */
#define VERIFY_NS 1000000000u
/* While saves fail, the loop tries again this often (a writer tries at once). */
#define SAVE_RETRY_NS 100000000u
/* The trace reaches its file at least this often. */
#define TRACE_FLUSH_NS 100000000u

typedef struct snapshot {
    bool have;
    uint32_t from;             /* the peer that answered */
    cw__net_snapshot sn;       /* sn.seen: the most of the joiner's writes the peer knows of;
                                  sn.head_only: no versions or log (invariant 4) */
} snapshot;

/* The last join request of a peer this node answered (answer_join). */
typedef struct join_answer {
    uint64_t at_ns;            /* when (0: never) */
    uint64_t nonce;            /* the request's round */
    uint64_t again_ns;         /* the same round is answered again after this long */
    uint64_t head_ns;          /* the last head request answered (answer_head): when (0: never) */
    uint64_t head_nonce;       /* ... and its round */
} join_answer;

/* A snapshot answer (invariant 7): its head and a reference to each version
 * and log write, taken under the lock; sent by its thread without it. */
typedef struct snapshot_out {
    uint32_t to;
    uint64_t nonce, seen;
    bool again;                /* the round was answered before */
    bool failed;               /* out of memory while taking it */
    uint64_t *clock;           /* [nodes] */
    cw_msg **msgs;             /* the versions, then the log writes */
    size_t versions, len, cap;
} snapshot_out;

/* A copy answering this node's pull that the fault layer dropped (arrive). */
typedef struct lost_answer {
    uint32_t origin;           /* the write's origin; nodes: none */
    uint64_t seq;
} lost_answer;

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
    /* A line of the trace could not be written (said once on stderr;
     * cw__server_trace_failed). Set under the lock, by the trace's writers;
     * relaxed: a flag read by /metrics, which orders nothing. */
    _Atomic bool trace_failed;
    uint64_t *lost_from;       /* [bits of nodes]: origins with a write lost on the way here since
                                  their last message of their own (arrive); the loop's */
    lost_answer *lost_answer;  /* [nodes]: per peer, its last answer to a pull dropped here since
                                  its last message (origin nodes: none); the loop's */
    bool arriving;             /* the loop's: a delivery now is of the arrival being routed (arrive) */

    cw__transport *net;        /* net.h: send side under the lock, receive side the loop's */
    unsigned sends_held;       /* cw__server_hold_sends depth: frames wait for the release */

    pthread_t loop;
    bool loop_started;
    _Atomic bool stop;
    _Atomic bool closing;      /* for the fault layer (fault.h) */

    /* Joining (invariant 4), under the lock. */
    bool joining;
    uint8_t *answered;         /* [nodes] */
    uint64_t round_ns;         /* when this round's first requests went (0: not yet) */
    uint32_t copy_from;        /* every head is in: the peer whose whole state is asked for
                                  (nodes: none yet) */
    uint64_t *taken;           /* [nodes]: per origin, the most this round's answers hold */
    uint8_t *reset;            /* [nodes]: peers that asked for a new link state this turn; the loop's */
    uint32_t join_from;        /* a join request this turn (nodes: none); the loop's */
    uint64_t join_from_nonce;  /* its nonce; the loop's */
    bool join_from_head;       /* for the head alone (answer_head); the loop's */
    uint32_t join_next;        /* a request to answer once no answer is sent (nodes: none);
                                  the loop's, as the three below */
    uint64_t join_next_nonce;
    uint64_t join_next_ns;     /* when it came */
    uint32_t answering;        /* the joiner whose answer is sent, while answer_busy */
    uint32_t answers;
    uint64_t join_target;      /* the most of its own writes any peer knows of */
    uint64_t join_nonce;       /* this round's request; answers carry it back */
    join_answer *answered_join; /* [nodes]: each peer's last join request answered */
    bool closing_writes;       /* cw__server_close: waits end, writes refused */
    uint32_t ahead_waiters;    /* writes waiting for an ahead context (ahead_waiters_max) */
    uint32_t join_rounds;      /* rounds that ended with that write not applied anywhere */
    uint64_t next_ask_ns;
    snapshot best;
    /* The join answer being sent (invariant 7): one at a time. */
    bool answer_busy;          /* taken and not yet sent; under the lock */
    snapshot_out answer;       /* taken under the lock; the sender's alone while answer_busy */
    pthread_t answer_thread;
    bool answer_joinable;      /* answer_thread started, not yet joined; the loop's */

    /* Invariant 4b, under the lock. */
    bool verifying;            /* state taken back: writes wait to hear every peer */
    uint64_t verify_until_ns;  /* ... or until then */
    uint8_t *heard;            /* [nodes]: peers that answered a head request of this process */
    uint64_t *last_ns;         /* [nodes]: when a message from each peer was last taken (link
                                  frames, join requests and answers); 0: none yet; under the lock */
    uint64_t start_ns;
    uint64_t verify_ask_ns;    /* while verifying, the peers' reports are asked for again then */
    bool behind;               /* a peer holds a write of this node it has not made */

    cw__durable *dur;          /* --data: the saved state; NULL in memory only */
    bool save_failed;          /* the last save failed: writes are refused until one works */
    uint64_t save_retry_ns;    /* while saves fail, the loop tries again from then on */

    cw__server_stats stats;    /* under the lock (the transport's send-side counts: cw__net_tx_counts) */
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

/* Whether c may be in a group's name. */
static bool name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

void cw__server_group_quote(char *out, const char *bytes, size_t len)
{
    size_t shown = len < CW_SERVER_GROUP_MAX ? len : CW_SERVER_GROUP_MAX;
    for (size_t i = 0; i < shown; i++)
        out[i] = name_byte(bytes[i]) ? bytes[i] : '?';
    out[shown] = 0;
}

bool cw__server_group_ok(const char *group)
{
    size_t len = strlen(group);
    if (len == 0 || len > CW_SERVER_GROUP_MAX)
        return false;
    for (const char *c = group; *c; c++)
        if (!name_byte(*c))
            return false;
    return true;
}

void cw__server_options_init(cw__server_options *o)
{
    memset(o, 0, sizeof *o);
    o->nodes = 1;
    o->policy = CW_KEEP_SIBLINGS;
    o->hwm = DEFAULT_HWM;
    o->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    o->link_timeout_ms = DEFAULT_LINK_TIMEOUT_MS;
    o->ahead_wait_ms = DEFAULT_AHEAD_WAIT_MS;
    o->ahead_waiters_max = UINT32_MAX;
    o->recovery_timeout_ns = DEFAULT_RECOVERY_TIMEOUT_NS;
    o->report_interval_ns = DEFAULT_REPORT_INTERVAL_NS;
}

cw_node_id cw__server_self(const cw__server *s) { return s->o.self; }
const char *cw__server_bound(const cw__server *s) { return cw__net_bound(s->net); }
uint32_t cw__server_nodes(const cw__server *s) { return s->o.nodes; }
size_t cw__server_max_key_len(const cw__server *s) { return s->lim.max_key_len; }
size_t cw__server_max_value_len(const cw__server *s) { return s->lim.max_value_len; }

/* ---- links (the transport, net.h) ---- */

/* Drops what waits for every peer (a save failed: invariant 6), as a full
 * link would. Lock held. */
static void links_drop(cw__server *s)
{
    for (uint32_t j = 0; j < s->o.nodes; j++)
        if (j != s->o.self)
            cw__net_drop(s->net, j);
}

/* Saves what changed (durable state), then hands what waits to the links
 * (invariant 6); true when saved (or nothing to save). A failed save drops
 * what waits and is reported on stderr once per run of failures. Lock
 * held. */
/* The burst this thread holds (cw__server_hold_sends), and how deep: only
 * the holder's own writes wait for its burst's save; a write another
 * thread makes meanwhile is saved before it is answered (invariant 6). */
static _Thread_local const cw__server *tl_holding;
static _Thread_local unsigned tl_depth;

static bool held_here(const cw__server *s) { return tl_holding == s; }

/* Hands what the links hold to ZeroMQ. With durable state only what is
 * saved may leave (invariant 6): debug builds check it at every flush. */
static void flush_links(cw__server *s)
{
    assert(!s->dur || !cw__durable_dirty(s->dur));
    (void)cw__transport_flush(s->net, s->o.self);
}

static bool save_then_flush(cw__server *s)
{
    if (s->dur && cw__durable_dirty(s->dur)) {
        char err[256] = "";
        /* The trace first: a kill after the save finds in the trace every
         * write the saved state holds (a restart's install covers none it
         * lacks); one before it leaves traced writes unsaved, which a
         * trace reads as lost with the process (never answered). */
        if (s->o.trace)
            fflush(s->o.trace);
        if (cw__durable_save(s->dur, s->node, err, sizeof err) != CW_OK) {
            if (!s->save_failed)
                fprintf(stderr, "causeway node %u: saving state failed: %s\n", s->o.self, err);
            s->save_failed = true;
            s->save_retry_ns = cw__now_ns() + SAVE_RETRY_NS;
            links_drop(s);
            return false;
        }
        if (s->save_failed)
            fprintf(stderr, "causeway node %u: saving state works again\n", s->o.self);
        s->save_failed = false;
    }
    flush_links(s);
    return true;
}

/* cw_send_fn: a local write's first copy to every peer, encoded into each
 * link's batch (invariants 2 and 5). Never refuses. Lock held. */
static int on_send(void *ctx, cw_msg *m)
{
    cw__server *s = ctx;
    if (s->net) /* always, but while the saved state loads the links are not open: nothing is sent then */
        cw__transport_send_all(s->net, s->o.self, m);
    return 0;
}

/* cw_send_to_fn: recovery traffic, to one peer or all. Refused (CW_EFULL)
 * for one peer whose link is full: the replica then stops answering that
 * peer's pull (up to 256 writes, each copied and encoded, however large)
 * or pulling from it, and the peer pulls again, or is pulled again, later.
 * A pull from the wire costs one refusal then, not 256 copies lost. */
static int on_send_to(void *ctx, uint32_t to, cw_msg *m)
{
    cw__server *s = ctx;
    if (to != CW_NODE_ALL) {
        if (s->net && to < s->o.nodes && to != s->o.self) {
            if (cw__net_link_full(s->net, to, cw_msg_encoded_size(m)))
                return CW_EFULL;
            cw__transport_send(s->net, s->o.self, to, m);
        }
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

/* After a trace line: the first that could not be written is said on
 * stderr at once (the trace is line-buffered, so each line is written as
 * it ends), and counted in /metrics; the node serves on, and its stop
 * exits 1 (node_cmd.c). */
static void trace_written(cw__server *s)
{
    if (!atomic_load_explicit(&s->trace_failed, memory_order_relaxed) && ferror(s->o.trace)) {
        atomic_store_explicit(&s->trace_failed, true, memory_order_relaxed);
        fprintf(stderr, "causeway node: a line of the trace could not be written (a full disk or a closed "
                        "pipe?): the node serves on, its trace incomplete, and its stop will exit 1\n");
    }
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
        trace_written(s);
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
    /* A context write's context, an empty one too, from the message's own
     * counters: nothing to allocate, so a write is never traced as a plain
     * one for want of memory (the judge tells the two apart). */
    const uint64_t *context = cw__msg_context(m);
    if (context) {
        fputs(", \"context\": ", f);
        trace_clock(f, context, nodes);
    }
    if (cw_msg_tombstone(m))
        fputs(", \"delete\": true", f);
    fputs("}\n", f);
    trace_written(s);
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
    trace_written(s);
}

static void trace_install(cw__server *s, const uint64_t *clock)
{
    fprintf(s->o.trace, "{\"node\": %u, \"op\": \"install\", \"clock\": ", s->o.self);
    trace_clock(s->o.trace, clock, s->o.nodes);
    fputs("}\n", s->o.trace);
    trace_written(s);
}

bool cw__server_trace_failed(cw__server *s)
{
    return atomic_load_explicit(&s->trace_failed, memory_order_relaxed); /* a flag (struct cw__server) */
}

/* ---- delivery ---- */

/* Lock held: the message reaches the replica. CW_EFULL and CW_ENOMEM lose
 * it (the replica counts a full buffer, and pulls it again once it has
 * room). CW_EINVAL is a message that decoded but is not this node's to take
 * (a copy of its own write): counted. */
static int receive(cw__server *s, cw_msg *m)
{
    cw_receive_result res;
    int rc = cw_node_receive(s->node, m, &res, NULL);
    if (rc == CW_EINVAL)
        s->stats.malformed++;
    return rc;
}

/* Lock held: m reaches the replica as it arrives, not later (delayed or
 * held), so it came after every message before it on its link: a write or
 * report of m's origin tells the replica of a loss of that origin's writes
 * noted before it (arrive). */
static void take_at_once(cw__server *s, cw_msg *m)
{
    bool shows = cw__msg_vouches(m) && cw__bit_take(s->lost_from, m->origin);
    int rc = receive(s, m);
    if (shows && (rc == CW_EFULL || rc == CW_ENOMEM))
        cw__bit_set(s->lost_from, m->origin); /* not taken: the next one shows it */
    else if (shows)
        cw__node_link_lost(s->node, m->origin);
}

/* The fault layer's delivery (fault.h): of the arrival being routed (a
 * duplicate of it too), or of one it delayed or held. */
static void deliver(void *host, uint32_t lane, cw__route r)
{
    (void)lane;
    cw__server *s = host;
    if (s->arriving)
        take_at_once(s, r.msg);
    else
        (void)receive(s, r.msg);
}

/* Lock held, the loop's: one arrival from peer r.sender, through the fault
 * layer to the replica. A message its link lost before this one
 * (shows_loss, the wire's numbering), or one the fault layer drops here
 * (drop_first: cw__faults_drop_first, the drop drawn before any delay, so
 * every later arrival from that peer was sent after it), is told to the
 * replica once a later message on that link comes (invariant 8). */
static void arrive(cw__server *s, cw__route r, bool drop_first, bool shows_loss)
{
    const cw_msg *m = r.msg;
    uint32_t from = r.sender;
    assert(from < s->o.nodes); /* the links hand out only their peers' messages (net.c) */
    if (shows_loss)
        cw__bit_set(s->lost_from, from);
    if (drop_first) {
        if (cw__faults_dropped_here(&s->faults, 0, r)) {
            if (cw__msg_counted(m))
                cw__bit_set(s->lost_from, m->origin);
            else if (m->kind == CW_MSG_WRITE) /* a copy that answered a pull */
                s->lost_answer[from] = (lost_answer){m->origin, m->seq};
            return;
        }
        r.drop_drawn = true;
    }
    lost_answer lost = s->lost_answer[from];
    s->lost_answer[from].origin = s->o.nodes;
    if (s->faults_configured && !cw__faults_direct(&s->faults)) {
        s->arriving = true; /* what the route delivers now comes at once (deliver) */
        cw__faults_route(&s->faults, 0, r, s->faults.on);
        s->arriving = false;
    } else {
        take_at_once(s, r.msg);
    }
    if (lost.origin != s->o.nodes)
        cw__node_answer_lost(s->node, (cw_node_id)from, (cw_node_id)lost.origin, lost.seq);
}

/* ---- a node never behind itself (invariant 4b) ---- */

/* Lock held: the seq of this node's last write that m's sender had applied
 * when it made m (0 for a message that carries no clock of writes). */
static uint64_t own_in(const cw__server *s, const cw_msg *m)
{
    cw_msg_kind kind = cw_msg_kind_of(m);
    if (kind != CW_MSG_WRITE && kind != CW_MSG_REPORT)
        return 0;
    uint32_t n = 0;
    const uint64_t *c = cw_msg_counters(m, &n);
    return s->o.self < n ? c[s->o.self] : 0;
}

/* Lock held: whether a peer that holds this node's writes up to seq `held`
 * holds one this node has not made. */
static bool beyond_own(const cw__server *s, uint64_t held)
{
    return held > cw_node_counters(s->node)[s->o.self];
}

/* Lock held: peer `from` holds this node's writes up to seq `held`. */
static void check_held(cw__server *s, uint32_t from, uint64_t held)
{
    if (s->behind || !beyond_own(s, held))
        return;
    uint64_t own = cw_node_counters(s->node)[s->o.self];
    s->behind = true;
    fprintf(stderr,
            "causeway node %u: node %u holds this node's write %" PRIu64 ", but this node has made only %" PRIu64
            ": its state is older than what it numbered before (a --data directory restored from an earlier "
            "copy, a --fresh start after it ran, or a second process with its id). It takes no writes; stop it "
            "and start it without --fresh on an empty state (with --data: move its directory aside), to join. "
            "Unless node %u is the one on a state not of this group (a --data directory copied from another "
            "group of the same size and policy): then move node %u's aside instead.\n",
            (unsigned)s->o.self, (unsigned)from, held, own, (unsigned)from, (unsigned)from);
}

/* Lock held: a message m from peer `from` (a link's sender, or a write's
 * origin): what the peer had applied when it made m (a report, or a write
 * that depends on what it applied). */
static void check_own(cw__server *s, const cw_msg *m, uint32_t from)
{
    check_held(s, from, own_in(s, m));
}

/* Lock held: a node that took its state back stops waiting once every
 * peer has answered its head request (what it holds of this node's
 * writes, asked for now: a report may have waited in the peer's queue
 * since before this node's old process stopped, and say less), or at
 * verify_until_ns (a peer of an earlier release answers no head request).
 * Meanwhile it asks again every JOIN_RETRY_NS (an earlier release's peer
 * counts each request malformed), and asks for reports too, which such
 * peers answer (check_own). */
static void verify_end(cw__server *s, uint64_t now)
{
    if (!s->verifying)
        return;
    bool all = true;
    for (uint32_t j = 0; all && j < s->o.nodes; j++)
        all = j == s->o.self || s->heard[j];
    if (all || now >= s->verify_until_ns) {
        s->verifying = false;
        s->stats.verify_timeouts += !all;
    } else if (now >= s->verify_ask_ns) {
        for (uint32_t j = 0; j < s->o.nodes; j++)
            if (j != s->o.self && !s->heard[j])
                (void)cw__net_send_join(s->net, j, s->join_nonce, true);
        cw__node_ask_reports(s->node);
        s->verify_ask_ns = now + JOIN_RETRY_NS;
    }
}

/* ---- joining (invariant 4) ---- */

static void snapshot_clear(snapshot *sn)
{
    cw__net_snapshot_clear(&sn->sn);
    sn->have = false;
}

/* Lock held: once every head is in, asks the chosen peer for its whole
 * state; before, asks every peer that has not answered for its head, or,
 * HEAD_WAIT_NS into the round, the first JOIN_ASKS of them for a whole
 * snapshot, from the one after this node on (so the joiners of a group
 * start at different peers). */
static void ask_peers(cw__server *s, uint64_t now)
{
    s->next_ask_ns = now + JOIN_RETRY_NS;
    if (s->copy_from != s->o.nodes) {
        (void)cw__net_send_join(s->net, s->copy_from, s->join_nonce, false);
        return;
    }
    if (!s->round_ns)
        s->round_ns = now;
    bool heads = now - s->round_ns < HEAD_WAIT_NS;
    uint32_t asked = 0;
    for (uint32_t i = 1; i < s->o.nodes && asked < (heads ? s->o.nodes : JOIN_ASKS); i++) {
        uint32_t j = (s->o.self + i) % s->o.nodes;
        if (!s->answered[j] && cw__net_send_join(s->net, j, s->join_nonce, heads))
            asked++;
    }
}

/* Lock held: forget this round's answers; the next asks every peer again
 * under a new nonce, so an answer to this round that comes late is not
 * taken for the next one's. */
static void join_round_again(cw__server *s)
{
    snapshot_clear(&s->best);
    memset(s->answered, 0, s->o.nodes);
    s->round_ns = 0;
    s->copy_from = s->o.nodes;
    memset(s->taken, 0, s->o.nodes * sizeof *s->taken);
    s->answers = 0;
    s->join_target = 0;
    s->join_nonce++;
}

/* Lock held: every peer answered; adopt the best snapshot. */
static void finish_join(cw__server *s)
{
    int rc = CW_OK;
    /* With the peer's log: the writes it applied that are not yet stable
     * may be in no other log (their other loggers restarted too), and a
     * node that lacks one could then never pull it. */
    const cw__net_snapshot *b = &s->best.sn;
    if (s->best.have && b->with_log)
        rc = cw_node_restore(s->node, b->clock, s->o.nodes, b->versions, b->count, b->log, b->log_count);
    if (s->best.have && (!b->with_log || (rc == CW_EINVAL && b->log_count))) {
        /* An answer without a log (an earlier release's), or with one that
         * does not fit its clock (no honest peer sends one: counted): the
         * state alone, its log starting above the clock and nothing taken
         * as stable (cw_node_restore would take what a log starts after as
         * the stable clock), rather than that answer winning every round. */
        s->stats.malformed += b->with_log;
        rc = cw_node_install(s->node, b->clock, s->o.nodes, b->versions, b->count);
    }
    if (rc == CW_OK && s->best.have && s->o.trace)
        trace_install(s, s->best.sn.clock);
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


/* Takes a reference to m into the answer ctx (a snapshot_out). */
static void take(void *ctx, const cw_msg *m)
{
    snapshot_out *o = ctx;
    cw_msg **grown = o->failed ? NULL : cw__vec_room(o->msgs, o->len, &o->cap, sizeof *grown);
    if (!grown) {
        o->failed = true;
        return;
    }
    o->msgs = grown;
    o->msgs[o->len++] = cw_msg_ref((cw_msg *)m); /* immutable: a reference is a copy */
}

static void take_versions(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                          size_t count)
{
    (void)key;
    (void)key_len;
    for (size_t i = 0; i < count; i++)
        take(ctx, versions[i]);
}

static void snapshot_out_clear(snapshot_out *o)
{
    for (size_t i = 0; i < o->len; i++)
        cw_msg_unref(o->msgs[i]);
    free(o->msgs);
    free(o->clock);
    *o = (snapshot_out){0};
}

/* Lock held: the last of j's own writes this node holds (invariant 4):
 * applied or buffered (cw_node_seen); kept by the fault layer (held or
 * delayed: they came, and j must not number a write with their seqs); and,
 * while this node is joining, held by an answer it has taken and may
 * install. */
static uint64_t seen_of(cw__server *s, uint32_t j)
{
    uint64_t seen = cw_node_seen(s->node, j), parked = cw__faults_parked_seq(&s->faults, 0, j, s->o.self);
    if (parked > seen)
        seen = parked;
    return s->joining && s->taken[j] > seen ? s->taken[j] : seen;
}

/* Lock held: peer j is a new process that asks for this node's state (a
 * whole answer or its head): what its old process said it applied no
 * longer counts (invariant 4; nor its reports a delay still holds), and
 * its link state is new, so the next frame must not need an old base. */
static void forget_old_process(cw__server *s, uint32_t j)
{
    cw_node_peer_restarted(s->node, j);
    cw__bit_take(s->lost_from, j); /* the old process's losses (invariant 8) */
    s->lost_answer[j].origin = s->o.nodes;
    if (s->faults_configured)
        cw__faults_forget_reports_of(&s->faults, 0, j);
    cw__net_flush_to(s->net, j);
    cw__net_reset(s->net, j);
}

/* Lock held, no answer being sent: peer j restarted without its state and
 * asks for this node's. True if it took the answer into s->answer and lent
 * j's link for it (start_answer sends it). */
static bool answer_join(cw__server *s, uint32_t j, uint64_t nonce, uint64_t now)
{
    /* One answer per peer per JOIN_ANSWER_NS: a joiner asks again every
     * JOIN_RETRY_NS until answered, and requests that piled up while this
     * node was away must not each copy the whole store. And one answer per
     * round (nonce): a store copy may take longer than that to cross a slow
     * link or reach a joiner that reads slowly, and each copy answered to
     * the same round would wait in this node's memory beside the others.
     * The round is answered again only in case its answer was lost with a
     * connection, after JOIN_AGAIN_NS, then twice as long each time. */
    join_answer *a = &s->answered_join[j];
    bool again = a->at_ns && a->nonce == nonce;
    /* (now was read before the lock: the sender may have set at_ns since,
     * at the end of its copy, so now < at_ns is "not yet" too.) */
    if (a->at_ns && (now < a->at_ns || now - a->at_ns < (again ? a->again_ns : JOIN_ANSWER_NS)))
        return false;
    /* The snapshot must not show what is not saved (invariant 6). */
    if (!save_then_flush(s))
        return false; /* it asks again */
    a->at_ns = now;
    forget_old_process(s, j);
    snapshot_out *o = &s->answer;
    cw_node_each_key(s->node, take_versions, o);
    o->versions = o->len;
    /* What cw_node_restore takes back with the versions (finish_join). */
    cw__node_each_logged(s->node, take, o);
    o->clock = malloc((size_t)s->o.nodes * sizeof *o->clock);
    if (o->failed || !o->clock) {
        snapshot_out_clear(o);
        return false; /* out of memory: it asks again, answered in JOIN_ANSWER_NS */
    }
    memcpy(o->clock, cw_node_counters(s->node), (size_t)s->o.nodes * sizeof *o->clock);
    o->to = j;
    o->nonce = nonce;
    o->seen = seen_of(s, j);
    o->again = again;
    cw__net_lend(s->net, j);
    s->answer_busy = true;
    s->answering = j;
    return true;
}

/* Lock held, on the loop: peer j, a new process (joining, or verifying a
 * state it took back: invariants 4 and 4b), asks for the head of this
 * node's state: its clock and what it knows of j's writes, taken as for a
 * whole answer (answer_join) but sent at once, under the lock. At most one
 * a HEAD_ANSWER_NS for each peer (j asks again: a request flood must not
 * keep its stability round from closing), and the old process's word is
 * forgotten once a round (nonce). Not while j's link is lent to a whole
 * answer for it. */
static void answer_head(cw__server *s, uint32_t j, uint64_t nonce, uint64_t now)
{
    join_answer *a = &s->answered_join[j];
    if ((a->head_ns && now - a->head_ns < HEAD_ANSWER_NS) || (s->answer_busy && s->answering == j) ||
        !save_then_flush(s))
        return;
    if (!a->head_ns || a->head_nonce != nonce)
        forget_old_process(s, j);
    if (cw__net_send_head(s->net, j, cw_node_counters(s->node), seen_of(s, j), nonce)) {
        s->stats.join_heads++;
        a->head_ns = now;
        a->head_nonce = nonce;
    }
}

/* Lock not held: sends the answer answer_join took (invariant 7), then,
 * under the lock, gives the link back. On its own thread (answer_main), or
 * the loop's if that could not start. */
static void send_snapshot(cw__server *s)
{
    snapshot_out *o = &s->answer;
    cw__net_snapshot_out out;
    bool whole = false;
    if (cw__net_snapshot_start(s->net, &out, o->to, o->clock, o->seen, o->nonce, o->versions,
                               o->len - o->versions)) {
        for (size_t i = 0; i < o->len && !out.failed; i++) {
            if (atomic_load_explicit(&s->stop, memory_order_relaxed)) /* a flag: nothing to order */
                break; /* cut short: end refuses it */
            cw__net_snapshot_add(s->net, &out, o->msgs[i]);
        }
        whole = !out.failed && !out.left;
        cw__net_snapshot_end(s->net, &out);
    } /* else a full link: it asks again */
    uint32_t j = o->to;
    uint64_t nonce = o->nonce;
    bool again = o->again;
    snapshot_out_clear(o); /* the references go without the lock (cw_msg_unref is atomic) */
    pthread_mutex_lock(&s->lock);
    cw__net_return(s->net, j);
    join_answer *a = &s->answered_join[j];
    a->at_ns = mono_ns(); /* the waits of answer_join count from the end of a long copy */
    s->stats.join_copies += whole;
    if (whole) { /* else cut short (the joiner refuses it): it asks again, answered in JOIN_ANSWER_NS */
        a->again_ns = !again ? JOIN_AGAIN_NS
                      : 2 * a->again_ns < JOIN_AGAIN_MAX_NS ? 2 * a->again_ns
                                                            : JOIN_AGAIN_MAX_NS;
        a->nonce = nonce;
    }
    s->answer_busy = false;
    pthread_mutex_unlock(&s->lock);
}

static void *answer_main(void *arg)
{
    send_snapshot(arg);
    return NULL;
}

/* The loop, lock not held: sends the answer answer_join took, on a thread
 * of its own so the loop goes on meanwhile. The thread before it is done
 * (answer_busy was false), and only its return is left to join. */
static void start_answer(cw__server *s)
{
    if (s->answer_joinable)
        pthread_join(s->answer_thread, NULL);
    s->answer_joinable = pthread_create(&s->answer_thread, NULL, answer_main, s) == 0;
    if (!s->answer_joinable)
        send_snapshot(s); /* no thread: the loop sends it */
}

/* ---- the loop ---- */

/* The transport's control handlers (net.h), called by its take on the loop
 * thread, without the lock. */

/* Peer j asks for this node's state: answered by the loop once what came
 * before it is delivered (the take ends at it), so the snapshot holds every
 * frame the old process sent. */
static void on_join(void *ctx, uint32_t j, uint64_t nonce, bool head_only)
{
    cw__server *s = ctx;
    s->join_from = j;
    s->join_from_nonce = nonce;
    s->join_from_head = head_only;
}

/* Peer j is a new process: its link restarts at the end of the turn (the
 * link's state is the lock's). */
static void on_reset(void *ctx, uint32_t j)
{
    cw__server *s = ctx;
    s->reset[j] = 1;
}

/* The writes a snapshot's clock counts, over every origin (saturating: a
 * tie-break, exact below 2^64). */
static uint64_t writes_in(const cw__net_snapshot *sn, uint32_t nodes)
{
    uint64_t total = 0;
    for (uint32_t k = 0; k < nodes; k++)
        total = total + sn->clock[k] < total ? UINT64_MAX : total + sn->clock[k];
    return total;
}

/* Whether a's clock holds b's: every entry at least as high. */
static bool holds(const cw__net_snapshot *a, const cw__net_snapshot *b, uint32_t nodes)
{
    for (uint32_t k = 0; k < nodes; k++)
        if (a->clock[k] < b->clock[k])
            return false;
    return true;
}

/* Whether answer a is a better state to install than b (invariant 4): more
 * of the joiner's own writes, or as many and more writes in all. The second
 * rule matters: a peer that is joining too answers with its empty state (it
 * must answer, or two nodes restarted together would wait for each other),
 * and a joiner that installed that one, because it came first, would never
 * get the writes that were stable before it restarted: no log holds them. */
static bool better_snapshot(const cw__net_snapshot *a, const cw__net_snapshot *b, cw_node_id self, uint32_t nodes)
{
    if (a->clock[self] != b->clock[self])
        return a->clock[self] > b->clock[self];
    return writes_in(a, nodes) > writes_in(b, nodes);
}

/* A snapshot answer from peer j (checked by the transport): filed under the
 * lock if it answers this node's current request (invariant 4). */
static void on_snapshot(void *ctx, uint32_t j, cw__net_snapshot *sn)
{
    cw__server *s = ctx;
    cw_node_id self = s->o.self;
    uint32_t nodes = s->o.nodes;
    pthread_mutex_lock(&s->lock);
    if (j < nodes)
        s->last_ns[j] = mono_ns();
    if (!s->joining && sn->head_only && sn->nonce == s->join_nonce) {
        /* An answer to this process's head request (verify_end): what the
         * peer holds of this node's writes now (invariant 4b). */
        s->heard[j] = 1;
        check_held(s, j, sn->seen);
    }
    /* This round's answers only, and a peer's head once (its whole answer,
     * to a request made when its head was late, may still come). */
    if (!s->joining || sn->nonce != s->join_nonce || (sn->head_only && s->answered[j]))
        goto out;
    bool copy = s->copy_from != nodes; /* every head is in: a whole state holding the chosen head */
    if (copy && (sn->head_only || !holds(sn, &s->best.sn, nodes))) {
        if (j == s->copy_from && !sn->head_only) { /* the chosen peer holds less now: it restarted */
            join_round_again(s);
            s->next_ask_ns = mono_ns() + JOIN_RETRY_NS;
        }
        goto out;
    }
    if (!s->answered[j]) {
        s->answered[j] = 1;
        s->answers++;
    }
    if (!sn->head_only && !copy) /* a whole answer: the next peer asked for one at once (ask_peers) */
        s->next_ask_ns = 0;
    for (uint32_t k = 0; k < nodes; k++)
        if (sn->clock[k] > s->taken[k])
            s->taken[k] = sn->clock[k];
    if (sn->seen > s->join_target)
        s->join_target = sn->seen;
    /* The best so far; as good and whole beats a head (no copy to ask for);
     * a whole state that holds the chosen head replaces it. */
    if (copy || !s->best.have || better_snapshot(sn, &s->best.sn, self, nodes) ||
        (s->best.sn.head_only && !sn->head_only && !better_snapshot(&s->best.sn, sn, self, nodes))) {
        snapshot_clear(&s->best);
        s->best.sn = *sn;
        s->best.have = true;
        s->best.from = j;
        memset(sn, 0, sizeof *sn);
    }
    if (!copy && s->answers < nodes - 1)
        goto out;
    s->copy_from = nodes;
    if (s->best.sn.clock[self] < s->join_target) {
        /* A peer knows of a write of this node's that no peer has applied
         * yet (waiting in a buffer for what it depends on): installing now
         * would give its seq again. Ask every peer again, a round every
         * JOIN_RETRY_NS, until one has applied it. */
        join_round_again(s);
        s->join_rounds++;
        s->next_ask_ns = mono_ns() + JOIN_RETRY_NS;
    } else if (s->best.sn.head_only && writes_in(&s->best.sn, nodes)) {
        s->copy_from = s->best.from;
        s->next_ask_ns = 0; /* asked at once (ask_peers) */
    } else {
        finish_join(s); /* a whole state, or an empty one (no peer has applied a write) */
    }
out:
    pthread_mutex_unlock(&s->lock);
}

static void *loop_main(void *arg)
{
    cw__server *s = arg;
    cw_node_id self = s->o.self;
    cw_msg *in[BATCH]; /* 4 KiB of the thread's stack: no allocation that could fail */
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
        uint32_t ticket = cw__transport_park_prepare(s->net, self);
        if (wait_ms == 0)
            cw__transport_park_cancel(s->net, self);
        else /* until an arrival, a wake (cw__server_stop) or the timeout; at once
              * if the last take left messages, or more came since (net.c: no
              * look at the ROUTER first, which costs two system calls) */
            cw__transport_park_wait(s->net, self, ticket, (uint64_t)wait_ms * 1000000u);
        s->join_from = s->o.nodes;
        size_t got = cw__transport_take(s->net, self, in, BATCH);
        const uint32_t *sender = cw__net_senders(s->net);
        const bool *shown = cw__net_losses_shown(s->net);
        cw__net_counts counts = {0};
        cw__net_take_rx_counts(s->net, &counts);
        now = mono_ns();
        pthread_mutex_lock(&s->lock);
        s->stats.received += counts.received;
        s->stats.malformed += counts.malformed;
        s->stats.refused_peer += counts.refused;
        s->stats.wire_bytes_in += counts.bytes_in;
        bool any = false;
        if (s->join_from != s->o.nodes) /* a join request came in this take (on_join) */
            s->last_ns[s->join_from] = now;
        for (size_t i = 0; i < got; i++) {
            if (sender[i] < s->o.nodes)
                s->last_ns[sender[i]] = now;
            if (!s->joining) {
                check_own(s, in[i], sender[i]);
                cw__route r = {.msg = in[i], .to = self, .sender_known = true, .sender = (cw_node_id)sender[i]};
                /* Looked at for each arrival: a hold placed meanwhile applies at once. */
                arrive(s, r, s->faults_configured && cw__faults_drop_first(&s->faults), shown[i]);
                any = true;
            }
            cw_msg_unref(in[i]);
        }
        if (s->faults_configured && !s->joining) {
            any |= cw__faults_take_released(&s->faults, 0);
            any |= cw__faults_release_due(&s->faults, 0);
        }
        bool answer = false;
        /* Join requests (invariant 7): kept in join_next (the first joiner
         * to ask; its own later request replaces it; not the joiner whose
         * answer is being sent), and answered once no answer is. A kept
         * request the joiner has not made again for JOIN_KEEP_NS is stale. */
        if (s->join_next != s->o.nodes && now - s->join_next_ns > JOIN_KEEP_NS)
            s->join_next = s->o.nodes;
        if (s->join_from != s->o.nodes && s->join_from_head) { /* a head is answered at once */
            answer_head(s, s->join_from, s->join_from_nonce, now);
            s->join_from = s->o.nodes;
        }
        if (s->join_from != s->o.nodes && !(s->answer_busy && s->join_from == s->answering) &&
            (s->join_next == s->o.nodes || s->join_next == s->join_from)) {
            s->join_next = s->join_from;
            s->join_next_nonce = s->join_from_nonce;
            s->join_next_ns = now;
        }
        if (!s->answer_busy && s->join_next != s->o.nodes) {
            uint32_t j = s->join_next;
            s->join_next = s->o.nodes;
            answer = answer_join(s, j, s->join_next_nonce, now);
        }
        if (s->joining && now >= s->next_ask_ns)
            ask_peers(s, now);
        verify_end(s, now);
        if (!s->joining)
            (void)cw_node_tick(s->node, now, NULL);
        if (!s->sends_held && (!s->save_failed || now >= s->save_retry_ns))
            (void)save_then_flush(s);
        for (uint32_t j = 0; j < s->o.nodes; j++)
            if (s->reset[j]) { /* after what was encoded for the old process left */
                if (!s->sends_held)
                    cw__net_reset(s->net, j);
                else
                    cw__net_drop(s->net, j); /* frames against the old state: peers pull them */
                s->reset[j] = 0;
            }
        if (s->o.trace && now - s->trace_flushed_ns >= TRACE_FLUSH_NS) {
            fflush(s->o.trace);
            s->trace_flushed_ns = now;
        }
        if (any)
            pthread_cond_broadcast(&s->applied);
        pthread_mutex_unlock(&s->lock);
        if (answer)
            start_answer(s);
    }
    return NULL;
}

/* ---- lifecycle ---- */

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
    if (o->group && !cw__server_group_ok(o->group)) {
        cw__server_err(err, errlen, "group must be 1..%u letters, digits, '.', '_' or '-'", CW_SERVER_GROUP_MAX);
        return false;
    }
    if (o->curve_secret && !cw__net_check_keys(o->curve_secret, o->curve_peers, o->nodes, o->self, err, errlen))
        return false;
    if (o->hwm == 0 || o->hwm > 10000000u || o->heartbeat_ms > 600000u || o->link_timeout_ms > 600000u ||
        (o->link_timeout_ms > 0 && o->link_timeout_ms < 1000u)) {
        cw__server_err(err, errlen,
                       "hwm must be 1..10000000, heartbeat 0..600000 ms and link timeout 0 or 1000..600000 ms "
                       "(0: off)");
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
    if (o->max_siblings)
        no.max_siblings = o->max_siblings;
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
    cw__cond_init_monotonic(&s->applied); /* a wall clock step does not stretch a wait */
    int rc = CW_ENOMEM;
    s->listen = strdup(o->listen);
    s->peers = calloc(o->nodes, sizeof *s->peers);
    s->answered = calloc(o->nodes, 1);
    s->copy_from = o->nodes;
    s->taken = calloc(o->nodes, sizeof *s->taken);
    s->reset = calloc(o->nodes, 1);
    s->answered_join = calloc(o->nodes, sizeof *s->answered_join);
    s->join_next = o->nodes;
    s->heard = calloc(o->nodes, 1);
    s->last_ns = calloc(o->nodes, sizeof *s->last_ns);
    s->lost_from = calloc(cw__bits_words(o->nodes), sizeof *s->lost_from);
    s->lost_answer = calloc(o->nodes, sizeof *s->lost_answer);
    for (uint32_t j = 0; s->lost_answer && j < o->nodes; j++)
        s->lost_answer[j].origin = o->nodes;
    s->start_ns = mono_ns();
    if (!s->listen || !s->peers || !s->answered || !s->taken || !s->answered_join || !s->reset || !s->heard ||
        !s->last_ns || !s->lost_from || !s->lost_answer)
        goto fail;
    s->o.listen = s->listen;
    for (uint32_t j = 0; j < o->nodes; j++)
        if (j != o->self && !(s->peers[j] = strdup(o->peers[j])))
            goto fail;
    s->o.peers = (const char **)s->peers;
    s->o.data_dir = NULL; /* the caller's string: not kept */
    if (o->data_dir &&
        (rc = cw__durable_open(&s->dur, o->data_dir, o->self, o->nodes, o->policy, o->group,
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
    s->faults.lose_unkept = true; /* routed under s->lock: no wait for memory there; recovery repairs it */
    s->faults_configured = true;
    cw__net_options no = {
        .self = o->self,
        .nodes = o->nodes,
        .listen = s->listen,
        .peers = (const char *const *)s->peers,
        .hwm = o->hwm,
        .heartbeat_ms = o->heartbeat_ms,
        .link_timeout_ms = o->link_timeout_ms,
        .curve_secret = o->curve_secret,
        .curve_peers = o->curve_peers,
        .group = o->group,
        .allow = o->allow,
        .lim = s->lim,
        .hold = s->dur != NULL, /* frames wait for the save (invariant 6) */
        .control = {.ctx = s, .join = on_join, .reset = on_reset, .snapshot = on_snapshot},
    };
    if ((rc = cw__transport_net(&s->net, &no, err, errlen)) != CW_OK)
        goto fail_quiet;
    if (restored) /* peers' links to this process start afresh (invariant 3); queued until connected */
        for (uint32_t j = 0; j < o->nodes; j++)
            if (j != o->self)
                cw__net_send_reset(s->net, j);
    /* The keys are in the sockets and the handler now: the caller's copies
     * may go (and the secret is not kept a moment longer than needed). */
    s->o.curve_secret = NULL;
    s->o.curve_peers = NULL;
    s->o.allow = NULL;
    /* A node that took its state back knows its own last seq: it saved
     * every write before it left (invariant 6). */
    s->joining = !o->fresh && !restored && o->nodes > 1;
    s->verifying = restored && o->nodes > 1; /* invariant 4b */
    uint64_t verify_ns = 4 * o->report_interval_ns > VERIFY_NS ? 4 * o->report_interval_ns : VERIFY_NS;
    s->verify_until_ns = mono_ns() + verify_ns;
    /* Each process asks under nonces of its own: an answer to an earlier
     * process of this node (queued at a peer when it died) is not taken. */
    if (getrandom(&s->join_nonce, sizeof s->join_nonce, 0) != (ssize_t)sizeof s->join_nonce)
        s->join_nonce = mono_ns() ^ ((uint64_t)getpid() << 32);
    int why = pthread_create(&s->loop, NULL, loop_main, s);
    if (why) {
        cw__server_err(err, errlen, "cannot start the loop thread: %s (%s)", strerror(why), CW__THREADS_WHY);
        rc = CW_EIO;
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

int cw__server_stop(cw__server *s)
{
    if (!s)
        return CW_OK;
    atomic_store(&s->closing, true); /* seq_cst: before the loop is stopped (fault.h) */
    atomic_store_explicit(&s->stop, true, memory_order_release); /* pairs with the loop's acquire */
    if (s->net)
        cw__transport_wake(s->net, s->o.self); /* the loop need not wait out its poll */
    if (s->loop_started)
        pthread_join(s->loop, NULL);
    if (s->answer_joinable) /* it sees stop, and stops sending */
        pthread_join(s->answer_thread, NULL);
    if (s->faults_configured)
        cw__faults_destroy(&s->faults);
    cw__transport_destroy(s->net); /* the links close after a short linger */
    int saved = CW_OK;
    if (s->dur && s->node) { /* what the last turns applied; nothing is sent any more */
        char err[256] = "";
        if ((saved = cw__durable_save(s->dur, s->node, err, sizeof err)) != CW_OK)
            fprintf(stderr, "causeway node %u: saving state at stop failed: %s\n", s->o.self, err);
    }
    cw__durable_close(s->dur);
    cw_node_destroy(s->node);
    if (s->o.trace)
        fflush(s->o.trace);
    for (uint32_t j = 0; s->peers && j < s->o.nodes; j++)
        free(s->peers[j]);
    snapshot_clear(&s->best);
    free(s->peers);
    free(s->listen);
    free(s->answered);
    free(s->taken);
    free(s->answered_join);
    free(s->reset);
    free(s->heard);
    free(s->last_ns);
    free(s->lost_from);
    free(s->lost_answer);
    pthread_cond_destroy(&s->applied);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return saved;
}

/* ---- client operations ---- */

/* A client write just made, with durable state: answered once saved
 * (invariant 6). Writers that came meanwhile share the save: the lock is
 * let go once before it, so their puts join this transaction (a group
 * commit; a save with --sync full costs a disk flush). Within a burst
 * this thread holds, the burst's end saves (cw__server_save); a burst
 * another thread holds does not cover this write. Lock held. */
static int saved(cw__server *s)
{
    uint64_t mine = cw_node_counters(s->node)[s->o.self]; /* the write's own seq */
    if (held_here(s))
        return CW_OK;
    pthread_mutex_unlock(&s->lock);
    sched_yield();
    pthread_mutex_lock(&s->lock);
    return cw__durable_saved_self(s->dur) >= mine || save_then_flush(s) ? CW_OK : CW_EIO;
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
        if (s->behind) {
            rc = CW_EBEHIND;
            break;
        }
        if (s->joining || s->verifying) {
            rc = CW_EJOINING;
            break;
        }
        if (s->save_failed && !save_then_flush(s)) { /* saving does not work: take nothing */
            rc = CW_EIO;
            break;
        }
        /* The write's clock is this node's report: dated now, not by the
         * loop's last tick (node_internal.h). */
        cw__node_note_time(s->node, mono_ns());
        if (tombstone)
            rc = cw_node_delete(s->node, key, key_len, context, clock_out);
        else if (context)
            rc = cw_node_put_ctx(s->node, key, key_len, value, value_len, context, clock_out);
        else
            rc = cw_node_put(s->node, key, key_len, value, value_len, clock_out);
        if (rc != CW_EAHEAD || !wait_ahead || s->o.ahead_wait_ms == 0) {
            if (rc == CW_OK && s->dur) { /* saved (and flushed) by saved(), never flushed unsaved */
                if (saved(s) != CW_OK)
                    rc = CW_EUNSAVED; /* made, in memory: answered as neither taken nor refused */
            } else if (rc == CW_OK && !s->sends_held) {
                flush_links(s);
            }
            break;
        }
        /* The writes the context covers are on their way: wait for them,
         * unless as many writes wait already as may (each holds a thread
         * that serves other clients too). */
        if (!waited) {
            if (s->ahead_waiters >= s->o.ahead_waiters_max)
                break; /* rc is CW_EAHEAD */
            s->ahead_waiters++;
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
    if (waited)
        s->ahead_waiters--;
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

/* With durable state, no one sees a write of this node's own before it is
 * saved: its dot, read and then lost in a kill, would be given to another
 * write after the restart, and a context that covered it would cover that
 * one. So a status, which shows the node's clock, saves first while one is
 * not saved (a read does when it shows one: cw__server_read); CW_EIO if the
 * save fails. Lock held. */
static int own_writes_saved(cw__server *s)
{
    if (!s->dur || cw_node_counters(s->node)[s->o.self] <= cw__durable_saved_self(s->dur))
        return CW_OK;
    return save_then_flush(s) ? CW_OK : CW_EIO;
}

int cw__server_read_at_most(cw__server *s, const void *key, size_t key_len, size_t most, size_t *values,
                            cw_read *out)
{
    pthread_mutex_lock(&s->lock);
    /* CW_ELIMIT: refused before the copy (a large key's siblings make it one of megabytes). */
    int rc = cw__node_get_at_most(s->node, key, key_len, most, values, out);
    /* Only a read that shows one of this node's writes not yet saved waits
     * for a save (its context names every version's dot: a write of its own
     * not saved is in it, or in none), so reads of other keys go on while
     * saving fails. */
    if ((rc == CW_OK || rc == CW_ENOTFOUND) && s->dur &&
        cw_vclock_get(&out->context, s->o.self) > cw__durable_saved_self(s->dur) && !save_then_flush(s))
        rc = CW_EIO;
    if (s->o.trace && (rc == CW_OK || rc == CW_ENOTFOUND))
        trace_read(s, key, key_len, out);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cw__server_read(cw__server *s, const void *key, size_t key_len, cw_read *out)
{
    size_t values;
    return cw__server_read_at_most(s, key, key_len, SIZE_MAX, &values, out);
}

int cw__server_replicate(cw__server *s, const void *bytes, size_t len, const char **why)
{
    cw_msg *m = NULL;
    size_t used = 0;
    int rc = cw_msg_decode(&m, bytes, len, &s->lim, &used);
    if (rc == CW_ENOMEM)
        return rc;
    /* Writes only: a pull or a report names its sender, which nothing here
     * can check (the links check theirs). */
    const char *refused = NULL;
    if (rc != CW_OK || used != len)
        refused = "malformed message, or not for this group";
    else if (cw_msg_kind_of(m) != CW_MSG_WRITE)
        refused = "not a write: a pull or a report names its sender, which HTTP cannot check";
    else if (cw_msg_origin(m) == s->o.self)
        refused = "a write of this node's own: only this node makes them";
    if (refused) {
        if (m)
            cw_msg_unref(m);
        if (why)
            *why = refused;
        return CW_EINVAL;
    }
    pthread_mutex_lock(&s->lock);
    if (s->joining) {
        rc = CW_EJOINING;
    } else if (beyond_own(s, own_in(s, m))) {
        /* It depends on writes of this node that this node has not made.
         * From a link that says this node's state is older than what it
         * numbered before (check_own); from HTTP, which cannot tell who
         * sent it, it is refused and changes nothing: one unauthenticated
         * request must not stop the node's writes for good. */
        rc = CW_EBADMSG;
    } else {
        cw_receive_result res;
        rc = cw_node_receive(s->node, m, &res, NULL);
        if (rc == CW_OK)
            pthread_cond_broadcast(&s->applied);
        bool flush_now = s->dur ? !held_here(s) : !s->sends_held; /* else the burst's end saves and flushes */
        if (flush_now && !save_then_flush(s) && rc == CW_OK)
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
    if (held_here(s))
        tl_depth++;
    else if (!tl_holding) { /* a thread holding two servers' sends saves the second's per write */
        tl_holding = s;
        tl_depth = 1;
    }
}

void cw__server_release_sends(cw__server *s)
{
    if (held_here(s) && --tl_depth == 0)
        tl_holding = NULL;
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

int cw__server_with_saved_node(cw__server *s, void (*fn)(void *ctx, cw_node *n), void *ctx)
{
    pthread_mutex_lock(&s->lock);
    int rc = own_writes_saved(s);
    if (rc == CW_OK)
        fn(ctx, s->node);
    pthread_mutex_unlock(&s->lock);
    return rc;
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
    if (released) /* the loop delivers them now, not when its wait next ends */
        cw__transport_wake(s->net, s->o.self);
    return rc;
}

/* Lock held. */
static cw__peer_word peer_word(const cw__server *s, uint32_t j, uint64_t now)
{
    cw__peer_word w = {.heard = s->last_ns[j] != 0};
    uint64_t since = w.heard ? s->last_ns[j] : s->start_ns;
    w.silence_ns = now > since ? now - since : 0;
    return w;
}

void cw__server_peer_words(cw__server *s, cw__peer_word *out)
{
    pthread_mutex_lock(&s->lock);
    uint64_t now = mono_ns();
    for (uint32_t j = 0; j < s->o.nodes; j++)
        out[j] = j == s->o.self ? (cw__peer_word){.heard = true} : peer_word(s, j, now);
    pthread_mutex_unlock(&s->lock);
}

uint32_t cw__server_waits_for(cw__server *s, cw__peer_word *w)
{
    cw_node_stats ns;
    pthread_mutex_lock(&s->lock);
    uint32_t b = cw_node_get_stats(s->node, &ns) == CW_OK ? ns.stability_blocker : CW_NODE_NONE;
    if (b >= s->o.nodes || b == s->o.self)
        b = CW_NODE_NONE;
    else
        *w = peer_word(s, b, mono_ns());
    pthread_mutex_unlock(&s->lock);
    return b;
}

uint64_t cw__server_report_interval_ns(const cw__server *s)
{
    return s->o.report_interval_ns ? s->o.report_interval_ns : CW_NODE_DEFAULT_REPORT_INTERVAL_NS;
}

void cw__server_get_stats(cw__server *s, cw__server_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    out->joining = s->joining;
    out->verifying = s->verifying;
    out->behind = s->behind;
    out->faults_dropped = atomic_load_explicit(&s->faults.dropped, memory_order_relaxed);
    cw__net_counts net = {0};
    cw__net_tx_counts(s->net, &net);
    out->sent = net.sent;
    out->link_full = net.link_full;
    out->wire_bytes_out = net.bytes_out;
    out->refused_peer += net.refused_handshake;
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
