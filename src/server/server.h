/* One replica served to other processes: the node process's core.
 *
 * A server owns one replica (cw_node), its network links and its faults:
 *  - replication traffic on the network transport (net.h: a cw__transport
 *    over ZeroMQ, as the engine's workers run on the in-process one): one
 *    ROUTER bound at `listen` takes what peers send; one DEALER per peer,
 *    connected to the peer's endpoint, takes what this node sends to it (a
 *    slow or absent peer fills only its own DEALER's queue, up to the
 *    high-water mark);
 *  - one thread, the loop, receives from the ROUTER, runs the replica's ticks
 *    (loss recovery, stability) and the fault layer's timers;
 *  - client operations (write, read, status, replicate) come from any thread
 *    (the HTTP server's, the client socket's) and take the server's lock.
 *
 * Everything that touches the replica or the transport's send side (a
 * DEALER) holds the lock, so the replica sees one thread at a time and each
 * ZeroMQ socket is used by one thread at a time with the lock's barrier
 * between (as ZeroMQ requires of a socket that changes threads). The
 * transport's receive side (the ROUTER) is the loop's alone.
 *
 * Nothing accepted is lost at a full link: when a peer's DEALER is at its
 * high-water mark, the message for that peer is not queued (counted in
 * link_full) and the write stays in the retransmission log until every node
 * has applied it; the peer pulls it once it talks again. What bounds memory
 * is then max_log: a node whose writes no peer confirms refuses writes with
 * CW_ESTALLED (HTTP 503).
 */
#ifndef CW_SERVER_H
#define CW_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <causeway/node.h>

#include "allow.h"

typedef struct cw__server cw__server;

typedef struct cw__server_options {
    cw_node_id self;
    uint32_t nodes;                 /* 1..CW_SERVER_MAX_NODES */
    const char *listen;             /* ZeroMQ endpoint bound for replication */
    const char **peers;             /* peers[j]: node j's endpoint (nodes entries; peers[self] unused) */
    cw_conflict_policy policy;      /* CW_KEEP_SIBLINGS or CW_LAST_WRITER_WINS */
    /* The group's name (cw__server_group_ok), or NULL: links take
     * only peers that give the same, and a --data directory keeps it, so a
     * copy of another group's is refused at start. */
    const char *group;
    uint32_t hwm;                   /* high-water mark of each link, messages (default 10,000) */
    uint32_t heartbeat_ms;          /* ZeroMQ heartbeat interval, timeout 3x; 0 (the default): off (net.h) */
    uint32_t link_timeout_ms;       /* TCP links: unacknowledged data or a connect this long closes the
                                       connection, which ZeroMQ makes anew (net.h); default 30,000; 0: off */
    size_t max_log;                 /* own writes not yet stable before writes are refused */
    size_t max_siblings;            /* cw_node_options.max_siblings; 0 = its default */
    size_t max_buffered;            /* writes the causal buffer holds */
    size_t max_key_len, max_value_len;
    uint64_t recovery_timeout_ns;   /* default 10 ms; 0: the replica's (node.h) */
    uint32_t ahead_wait_ms;         /* a write whose context is ahead waits this long (default 1000; 0: none) */
    uint32_t ahead_waiters_max;     /* writes that may wait so at once; more get CW_EAHEAD at once
                                       (default UINT32_MAX: no bound; the HTTP API's threads - 1, so
                                       one always serves) */
    uint64_t report_interval_ns;    /* default 50 ms; 0: the replica's (node.h) */
    /* Without durable state a node starts by asking its peers for its own
     * last sequence number and refuses writes (CW_EJOINING) until every peer
     * has answered, so a restarted process never reuses a (node, seq). */
    bool fresh;                     /* true: this node has never run (no peer has its writes) */
    /* CURVE (optional): this node's secret key and every peer's public key,
     * Z85 text (40 characters). With them every link is encrypted, a peer
     * is admitted only with its configured key, and a message is taken
     * only from the node whose key it came with. NULL: plain TCP. */
    const char *curve_secret;
    const char **curve_peers;       /* [nodes]; [self] unused */
    /* NULL, or the only addresses replication connections are taken from
     * (allow.h; with CURVE or without): used while starting only. */
    const cw__allow *allow;
    /* Trace (JSON Lines, node-server.md "Traces"): every write made here,
     * every remote write applied, every read, and a state install (joined,
     * or its own saved state taken back), in the
     * order this node did them; NULL: none. Written under the server's lock
     * and flushed by the loop at least every 100 ms and at stop (a process
     * killed loses at most its last 100 ms; causeway node makes it line
     * buffered, so it loses none). The caller closes it after
     * cw__server_stop. */
    FILE *trace;
    /* Durable state (durable.h): the directory, NULL to keep state in
     * memory only; how saves reach the disk; the LMDB map's size (0: the
     * default). A directory that holds a state is taken back at start
     * (the node does not join: it knows its own last seq); a new one is
     * filled as the node goes (joining first unless fresh). */
    const char *data_dir;
    int sync_none;                  /* 1: --sync none (durable.h) */
    size_t map_size;
    uint64_t fault_seed;
    double drop_probability, delay_probability, duplicate_probability;
    uint32_t max_delay_us;
} cw__server_options;

#define CW_SERVER_MAX_NODES 1024u

/* A group's name: 1 to CW_SERVER_GROUP_MAX bytes of letters, digits, '.',
 * '_' and '-' (what a routing id and a log line carry as they are). */
#define CW_SERVER_GROUP_MAX 64u
bool cw__server_group_ok(const char *group);
/* Bytes that should be a group's name (a peer's routing id, a directory's
 * record) as a log line may show them: at most CW_SERVER_GROUP_MAX into
 * out (CW_SERVER_GROUP_MAX + 1 bytes, ended), each byte a name cannot hold
 * as '?'. */
void cw__server_group_quote(char *out, const char *bytes, size_t len);

/* Sets every default (1 node, self 0, no endpoints). */
void cw__server_options_init(cw__server_options *o);

/* Creates the replica, binds and connects, starts the loop.
 * CW_OK; CW_EINVAL (bad options: err says which), CW_EIO (a socket could not be
 * bound or connected: err says which endpoint and why), CW_ENOMEM.
 * err (nullable, errlen bytes) gets a one-line reason on failure. */
int cw__server_start(cw__server **out, const cw__server_options *o, char *err, size_t errlen);
/* Stops the loop, closes the links (messages still queued for peers are
 * dropped after a short linger: peers recover them from the others), saves
 * what the last turns applied (--data) and frees everything. CW_OK, or the
 * save's error (said on stderr): s is freed either way. NULL is ignored.
 * Not from a callback of this server. */
int cw__server_stop(cw__server *s);

/* A client's write: a put (tombstone false) or a delete, with a context
 * (NULL: a plain write over everything this node has). A context ahead of
 * this node waits up to ahead_wait_ms for the writes it covers to arrive
 * (the calling thread waits; the lock is free meanwhile).
 * *clock_out (nullable, initialized by the caller) gets the write's clock.
 * CW_OK (with durable state: saved); CW_EJOINING (not yet accepting writes),
 * CW_EIO (durable state cannot be saved: nothing made, writes are refused
 * until a save works), CW_EUNSAVED (made, and its save failed: it takes
 * effect if a later save succeeds), CW_ESTALLED or CW_EFULL (backpressure:
 * retry later), CW_EAHEAD (the context stayed ahead, or ahead_waiters_max
 * writes wait already),
 * CW_ECLOSED (the node is stopping: cw__server_close),
 * CW_ELIMIT, CW_EINVAL, CW_ENOMEM. Any thread. */
int cw__server_write(cw__server *s, const void *key, size_t key_len, const void *value, size_t value_len,
                     const cw_vclock *context, bool tombstone, cw_vclock *clock_out);
/* A burst of writes: between hold and release, what the writes send to
 * peers coalesces and leaves at the release (one message per peer for many
 * writes). Nested holds release at the outermost. The loop still flushes
 * what waits at each of its turns only when no hold is open. Any thread. */
void cw__server_hold_sends(cw__server *s);
void cw__server_release_sends(cw__server *s);
/* With durable state: saves the writes made so far (also within a burst,
 * whose writes are not saved before this or the release) and hands what
 * waits to the links; call it before answering a burst's writes. CW_OK
 * (also without durable state: nothing to do), CW_EIO (not saved: answer
 * the writes with it). Any thread. */
int cw__server_save(cw__server *s);
/* As cw__server_write, but a context ahead of this node is refused at once
 * (CW_EAHEAD) instead of waited for: for a thread that serves many clients
 * and must not stall them all for one. */
int cw__server_write_now(cw__server *s, const void *key, size_t key_len, const void *value, size_t value_len,
                         const cw_vclock *context, bool tombstone, cw_vclock *clock_out);
/* Refuses every write from now on (CW_ECLOSED) and ends the waits for ahead
 * contexts, so the threads that serve clients finish at once: call it before
 * stopping them, then stop the server. Any thread. */
void cw__server_close(cw__server *s);
/* cw_node_get under the lock (out: as cw_node_get); with durable state a
 * write of this node's own not yet saved is saved first (CW_EIO if that
 * fails). Any thread. */
int cw__server_read(cw__server *s, const void *key, size_t key_len, cw_read *out);
/* As cw__server_read, if the bytes of the key's live values, which *values
 * always gets (0 for none), are at most `most`; else CW_ELIMIT, and nothing
 * is copied (out unchanged): a host refuses a read too large to answer, or
 * to answer now, before it pays for a copy (a key's siblings can make it
 * one of megabytes). Those bytes are at least what any answer of the read
 * carries (a node server never merges siblings by callback); each value is
 * in memory, so the sum cannot wrap. */
int cw__server_read_at_most(cw__server *s, const void *key, size_t key_len, size_t most, size_t *values,
                            cw_read *out);
/* A write from a peer that came another way (HTTP POST /replicate): decoded
 * (the codec's bytes, any format) and received as if it came on a link.
 * CW_OK (delivered, buffered or a duplicate); CW_EINVAL (malformed, not for
 * this group, not a write, or a write of this node's own: nothing changed;
 * *why, nullable, then says which, for the client); CW_EBADMSG (it depends
 * on writes of this node that it has not made: HTTP cannot tell a forged
 * write from a sign that this node is behind itself, so it is refused and
 * changes nothing); CW_EJOINING (not taking anything yet), CW_EFULL,
 * CW_ENOMEM. Any thread. */
int cw__server_replicate(cw__server *s, const void *bytes, size_t len, const char **why);
/* Whether a line of the trace could not be written (said once on stderr
 * as it happened). Any thread. */
bool cw__server_trace_failed(cw__server *s);
/* Calls fn(ctx, node) under the lock, for reads of the whole replica (status,
 * metrics, dumps). fn must not change the node. Any thread. */
void cw__server_with_node(cw__server *s, void (*fn)(void *ctx, cw_node *n), void *ctx);
/* As cw__server_with_node, for what shows dots (status): with durable
 * state, a write of this node's own not yet saved is saved first, so no
 * client sees a dot a kill could give to another write. CW_OK (fn was
 * called), CW_EIO (that save failed: fn was not called). Any thread. */
int cw__server_with_saved_node(cw__server *s, void (*fn)(void *ctx, cw_node *n), void *ctx);

/* Test and demo faults on the link from -> to as this node sees it: what
 * arrives here from `from` (to must be this node; hold or cut the sending
 * end at the other node). CW__LINK_HOLD keeps messages until released, in
 * order, by whatever path they come (a hold keys messages by their origin);
 * CW__LINK_CUT loses them until healed. CW_OK, CW_EINVAL (to is not this
 * node, an id out of range, or from == to), CW_ENOMEM. Any thread. */
typedef enum cw__link_action { CW__LINK_HOLD, CW__LINK_RELEASE, CW__LINK_CUT, CW__LINK_HEAL } cw__link_action;
int cw__server_link(cw__server *s, cw_node_id from, cw_node_id to, cw__link_action a);

typedef struct cw__server_stats {
    bool joining;               /* writes refused until the peers answer */
    bool verifying;             /* a state taken back: writes refused until every peer is
                                   heard, or a second (server.c, invariant 4b) */
    bool behind;                /* a peer holds a write of this node that it has not made:
                                   writes refused for good (CW_EBEHIND) */
    uint64_t received;          /* messages taken from links */
    uint64_t sent;              /* messages queued on links */
    uint64_t link_full;         /* messages not queued: the peer's link full, or lent to a snapshot answer */
    uint64_t refused_peer;      /* messages from a process that is not a configured peer
                                   (with CURVE: also connections refused at the handshake) */
    uint64_t malformed;         /* messages that did not decode, or that the
                                   replica refused (a copy of its own write) */
    uint64_t wire_bytes_out;    /* bytes queued on links */
    uint64_t wire_bytes_in;     /* bytes taken from links */
    uint64_t faults_dropped;    /* messages lost to configured faults and cuts */
    uint64_t join_heads;        /* joining peers' head requests answered (invariant 4) */
    uint64_t join_copies;       /* whole snapshot answers sent to joining peers */
    uint64_t verify_timeouts;   /* a state taken back whose wait for every peer's head ended
                                   at its bound (invariant 4b): 0 or 1 */
    bool durable;               /* state saved in data_dir */
    bool save_failed;           /* the last save failed: writes get CW_EIO */
    uint64_t saves, failed_saves, map_used, map_size;
} cw__server_stats;
void cw__server_get_stats(cw__server *s, cw__server_stats *out);
/* What this node last heard from a peer: whether any message came from it
 * since the start (link frames, join requests and answers), and the
 * nanoseconds since the last one, or since the start if none came. A peer
 * sends only when it has writes, pulls or reports to send, so an idle group
 * is silent; but a live peer that takes this node's writes reports within a
 * report interval, so while those wait on it a silence of several
 * intervals is a peer cut off, stopped or gone. */
typedef struct cw__peer_word {
    bool heard;
    uint64_t silence_ns;
} cw__peer_word;
/* Every peer's into out[j], j < the group's size, from one look (one
 * moment for all); this node's entry is heard with no silence. */
void cw__server_peer_words(cw__server *s, cw__peer_word *out);
/* The node stability has waited for over two report intervals
 * (cw_node_stats.stability_blocker), with what was last heard from it in
 * *w, under one look; CW_NODE_NONE (*w untouched) if none. */
uint32_t cw__server_waits_for(cw__server *s, cw__peer_word *w);
/* How often a node silent that long tells its peers what it applied. */
uint64_t cw__server_report_interval_ns(const cw__server *s);

/* Writes a one-line reason into err (nullable, len bytes), as the start
 * functions of the node's parts report failures. */
__attribute__((format(printf, 3, 4))) void cw__server_err(char *err, size_t len, const char *fmt, ...);

/* This node's id and group size. */
cw_node_id cw__server_self(const cw__server *s);
/* The replication endpoint bound (cw__net_bound: a port 0 made real). */
const char *cw__server_bound(const cw__server *s);
uint32_t cw__server_nodes(const cw__server *s);
/* The longest key and value this node's replica takes, in bytes. */
size_t cw__server_max_key_len(const cw__server *s);
size_t cw__server_max_value_len(const cw__server *s);

#endif
