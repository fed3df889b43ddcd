/* One replica as a deterministic, single-threaded state machine ("sans-I/O"):
 * its vector clock, its key-value store, its causal delivery buffer and its
 * statistics, with no threads and no queues of its own. The engine's worker
 * threads drive it, and so can a simulator or an embedder's own network code.
 *
 * Inputs: a local write (cw_node_put) or a message from a peer
 * (cw_node_receive). Outputs: each local write's message through the `send`
 * callback (the driver carries it to every other replica), and every write
 * the replica applies, local or remote, through the optional `on_apply`
 * callback.
 *
 * Replication protocol: clock counters count writes. A local write adds 1 to
 * the node's own entry and is stamped with the node's clock. A message m from
 * node j is delivered at node i, whose clock is V, when
 *     m[j] == V[j] + 1   and   m[k] <= V[k] for every k != j
 * (Birman-Schiper-Stephenson); delivery sets V = max(V, m) without adding to
 * i's own entry. A message with m[j] <= V[j], or one already buffered, is a
 * duplicate: dropped and counted, never applied twice. Any other message waits
 * in the buffer; every buffered write that a delivery makes ready is then
 * delivered, until none is.
 *
 * Loss recovery (with a send_to callback): every message may be lost, and
 * the replica repairs it. It keeps every write it applied in a
 * retransmission log until the write is causally stable (applied at every
 * node); it notices writes it misses (a buffered write waiting on an
 * earlier one that has not come, or a peer's report of having applied more
 * of an origin than it has), and after recovery_timeout pulls them from the
 * origin, or from any peer known to hold them, again until they come,
 * with a doubling back-off (slower for a peer that still talks: its pull
 * or answers were likely lost; a silent peer's turn goes to one that
 * talks when one of the next two does). Peers answer
 * from their logs. Replicas tell
 * each other what they have applied: each write carries its origin's clock,
 * and a node that sends no write for a report interval sends a small report.
 * The stable clock (cw_node_stable) is the pointwise minimum over all nodes
 * of what each has applied, as far as this node knows; writes at or below
 * it leave the log. Time enters only through cw_node_tick: the driver calls
 * it at the time it returns (or earlier), with its own clock.
 *
 * Threads: a cw_node is not thread-safe; one thread drives it at a time.
 *
 * Callbacks (send, send_to, on_apply, on_forget, the merge function, and the
 * function cw_node_each_key, cw_node_key_versions or cw_node_each_pending
 * calls) run while the node is in the middle of a call, with what it holds
 * lent to them: they may read the node, never change it. While one runs,
 * every call that would change it (put, delete, receive, flush, tick,
 * install, restore) returns CW_EINVAL, and cw_node_peer_restarted and
 * cw_node_destroy do nothing.
 */
#ifndef CAUSEWAY_NODE_H
#define CAUSEWAY_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <causeway/export.h>
#include <causeway/hlc.h>
#include <causeway/msg.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How concurrent writes to one key are resolved. Every replica resolves the
 * same way, so all converge. */
typedef enum cw_conflict_policy {
    CW_KEEP_SIBLINGS = 0,     /* keep every concurrent version; reads return them all */
    CW_LAST_WRITER_WINS = 1,  /* keep the greatest (HLC timestamp, origin node id) */
    CW_MERGE_CALLBACK = 2     /* keep siblings; reads merge them with the callback */
} cw_conflict_policy;

/* One version of a key's value, as returned by a read. */
typedef struct cw_value_version {
    void *value;              /* malloc'd copy, owned by the cw_read */
    size_t value_len;
    cw_vclock clock;          /* the write's clock (its causal past and itself) */
    cw_hlc_timestamp timestamp;
    cw_node_id origin;
    uint64_t seq;             /* with origin: the version's dot */
    cw_vclock context;        /* the versions this write replaced (those whose dot
                                 it covers): a plain put's clock without its own
                                 dot, or the context a client gave */
} cw_value_version;

/* A read: one version, or several siblings no one of which replaced another
 * (pairwise CONCURRENT under cw_version_compare), ordered by (timestamp,
 * origin); deleted versions (tombstones) are not among them. */
typedef struct cw_read {
    size_t count;
    cw_value_version *versions;
    cw_vclock context;        /* covers every version the key holds at that node,
                                 tombstones included, and nothing that arrives
                                 later: pass it to cw_node_put_ctx or
                                 cw_node_delete to replace exactly what was read */
} cw_read;

/* The order of two versions by dots and contexts: BEFORE when b's context
 * covers a's dot (b replaced a), AFTER the other way, EQUAL for one dot,
 * CONCURRENT when neither covers the other. With plain puts only, the same as
 * cw_vclock_compare of their clocks; two context writes made at one node from
 * the same read are CONCURRENT though the node's clock orders them. NULL
 * counts as no version: BEFORE every version, EQUAL to NULL. */
CW_API cw_order cw_version_compare(const cw_value_version *a, const cw_value_version *b);

/* Empty; allocates nothing. */
CW_API void cw_read_init(cw_read *r);
/* Frees every version; r is then empty. */
CW_API void cw_read_destroy(cw_read *r);

/* Resolves siblings for CW_MERGE_CALLBACK. Called by a read with the
 * siblings in (timestamp, origin) order, count >= 2; writes a malloc'd value
 * to *value_out / *len_out and returns 0, or a negative CW_E* code, which
 * the read returns. The read takes the value: it is the callback's own
 * allocation, or one sibling's `value` handed back as it is (a merge that
 * picks one sibling need not copy it; *len_out at most that sibling's
 * value_len). A NULL value with a length, a pointer into a sibling's value
 * past its start, or a length past the sibling's fails the read with
 * CW_EINVAL. On an error return the read takes nothing from *value_out: free
 * what you allocated first. A positive return fails the read with
 * CW_EINVAL. Every replica that holds the same siblings calls it with the
 * same input, so a deterministic callback gives the same answer
 * everywhere. */
typedef int (*cw_merge_fn)(void *ctx, const cw_value_version *siblings, size_t count,
                           void **value_out, size_t *len_out);

/* Offers one local write's message to the driver, which must carry it to
 * every other node. Returns 0 when the driver took it, or a negative CW_E*
 * code when it refused it (backpressure: CW_EFULL; or CW_ENOMEM, or any code
 * the driver chooses; any non-zero value is a refusal).
 *
 * Ownership: the message is borrowed for the call. A driver that takes it
 * takes its own reference (cw_msg_ref) if it keeps it past the call. A
 * refusal means "not taken", all or nothing: the driver keeps no reference
 * and has handed it to no peer. (A driver that cannot undo a partial send
 * may still refuse: the peers that got it drop the later copy as a
 * duplicate, so nothing is applied twice; it only costs a message.)
 *
 * What the node guarantees: each local write's message is offered until it
 * is taken, and taken exactly once; messages are taken in the order their
 * writes were made (sequence order); after a refusal the node keeps the
 * refused message and every later write's message queued (see
 * cw_node_unsent) and calls send again only from cw_node_flush, so the driver
 * decides when to retry. The write itself is made and applied locally either
 * way: a refused send never loses or undoes it.
 *
 * Threads: called on the thread driving the node, from cw_node_put or
 * cw_node_flush. It must not call back into the same node. */
typedef int (*cw_send_fn)(void *ctx, cw_msg *msg);
/* `to` of a message for every other node. */
#define CW_NODE_ALL UINT32_MAX
/* "No node" in statistics. */
#define CW_NODE_NONE UINT32_MAX
/* Offers a recovery message to the driver: a pull, a write sent again in
 * answer to one (to one node, `to` < nodes), or a report (to every other
 * node, `to` == CW_NODE_ALL). Best effort, unlike send: the driver may
 * refuse (non-zero) or lose it, and the replica repeats what matters (pulls
 * until answered, reports every interval). Borrowed for the call, as in
 * send. Called from cw_node_tick and cw_node_receive(_many); it must not
 * call back into the node. */
typedef int (*cw_send_to_fn)(void *ctx, uint32_t to, cw_msg *msg);
/* Called for every write applied at this node, local or remote, in the order
 * applied. The message is borrowed for the call. It must not change the node:
 * cw_node_put, cw_node_receive(_many) and cw_node_flush called from it (or
 * from send) return CW_EINVAL and change nothing; reads are allowed. A write
 * triggered by an applied one is made after the call that applied it. */
typedef void (*cw_apply_fn)(void *ctx, const cw_msg *msg);
/* A monotonic clock in nanoseconds, for latency statistics. */
typedef uint64_t (*cw_ns_clock_fn)(void *ctx);

typedef struct cw_node_options {
    cw_node_id self;               /* this node's id, < nodes */
    uint32_t nodes;                /* replicas in the group, 1..65536 */
    cw_conflict_policy policy;     /* default CW_KEEP_SIBLINGS */
    cw_merge_fn merge;             /* required for CW_MERGE_CALLBACK */
    void *merge_ctx;
    size_t max_key_len;            /* default 4096 bytes */
    size_t max_value_len;          /* default 1 MiB. The wire form (msg.h) carries
                                      keys and values of up to UINT32_MAX bytes:
                                      cw_msg_encode refuses a larger one (CW_ELIMIT),
                                      so limits above that suit only a host that
                                      never encodes, as the engine */
    size_t max_buffered;           /* writes the causal buffer holds; default 1,048,576,
                                      at most CW_NODE_MAX_BUFFERED_LIMIT (2^32) */
    size_t max_unsent;             /* refused local writes kept to send again; default 4096
                                      (0 is refused: a refused write must be kept) */
    cw_send_fn send;               /* required when nodes > 1 */
    void *send_ctx;
    cw_apply_fn on_apply;          /* optional */
    void *apply_ctx;
    /* Optional: called with each tombstone that leaves the store (causally
     * stable, see cw_node_delete), the message borrowed for the call: the
     * key's versions changed without a write. Same rules as on_apply. For
     * a driver that persists the store ("Persisting a replica" below). */
    cw_apply_fn on_forget;
    void *forget_ctx;
    cw_wall_clock_fn wall_clock;   /* HLC wall clock (ms); NULL = CLOCK_REALTIME */
    void *wall_ctx;
    uint64_t max_drift_ms;         /* HLC drift bound; 0 = CW_HLC_DEFAULT_MAX_DRIFT_MS */
    cw_ns_clock_fn ns_clock;       /* latency clock; NULL = CLOCK_MONOTONIC */
    void *ns_ctx;
    /* Loss recovery and stability reports (see the top of this file); NULL:
     * off, for a driver whose network never loses a message (no log is
     * kept, no pull or report is sent; the stable clock then follows the
     * clocks writes carry). */
    cw_send_to_fn send_to;
    void *send_to_ctx;
    size_t max_log;                /* this node's own writes not yet stable before its
                                      puts refuse with CW_ESTALLED; default 1,048,576.
                                      Every log then holds at most nodes x max_log
                                      writes (each origin's bound, at every holder) */
    uint64_t recovery_timeout_ns;  /* a missing write is pulled once it has been
                                      missing this long; default 50 ms */
    uint64_t report_interval_ns;   /* a node silent this long reports its clock;
                                      default 100 ms */
    uint64_t stability_interval_ns; /* a stability round opens this long after the last
                                      closed (each round costs O(nodes) per peer heard),
                                      or at once while half of max_log or more of this
                                      node's own writes are not yet stable;
                                      0: report_interval_ns */
    size_t max_buffered_bytes;     /* bytes the buffered writes may hold (their clocks,
                                      keys and values): past it a write that would wait
                                      is refused with CW_EFULL, unless the buffer is
                                      empty; 0 = CW_NODE_DEFAULT_MAX_BUFFERED_BYTES */
    size_t max_siblings;           /* versions a write with a context may leave its key
                                      with (those its context does not cover, siblings
                                      and tombstones not yet collected, and itself):
                                      past it the put or delete is refused with
                                      CW_ESIBLINGS; 0 = CW_NODE_DEFAULT_MAX_SIBLINGS.
                                      Writes from peers are never refused: with the
                                      same max_siblings at every node (and peers that
                                      keep to it), a key holds at most max_siblings of
                                      each origin, nodes x max_siblings in all. A
                                      bound on versions, not bytes: each may be a
                                      max_value_len value */
} cw_node_options;

#define CW_NODE_DEFAULT_MAX_KEY_LEN 4096u
#define CW_NODE_DEFAULT_MAX_VALUE_LEN (1u << 20)
#define CW_NODE_DEFAULT_MAX_BUFFERED (1u << 20)
/* 256 MiB: a write that cannot be delivered yet waits in memory, so without
 * it the count alone (1,048,576 writes of up to max_value_len each) would
 * let the buffer reach a terabyte. */
#define CW_NODE_DEFAULT_MAX_BUFFERED_BYTES ((size_t)256 << 20)
#define CW_NODE_DEFAULT_MAX_UNSENT 4096u
/* Siblings come from concurrent writes, so a key holds about as many as
 * clients wrote it at once; far more means a client writes with a context
 * that covers nothing it replaces (an empty one, or one never read), and
 * every read and write of the key then pays for all of them. */
#define CW_NODE_DEFAULT_MAX_SIBLINGS 1024u
#define CW_NODE_DEFAULT_MAX_LOG (1u << 20)
#define CW_NODE_DEFAULT_RECOVERY_TIMEOUT_NS 50000000u
#define CW_NODE_DEFAULT_REPORT_INTERVAL_NS 100000000u
/* The largest max_buffered accepted: its index budget (4 * max_buffered +
 * 16 * nodes ring slots of 16 bytes) is then at most ~256 GiB, and no size
 * computed from it can wrap. */
#define CW_NODE_MAX_BUFFERED_LIMIT ((size_t)1 << 32)
/* The longest recovery_timeout_ns, report_interval_ns and
 * stability_interval_ns accepted (2^42 ns, about 73 minutes), and the
 * latest time cw_node_tick takes (2^62 ns, 146 years of a monotonic clock):
 * times computed from them (a doubled timeout, a deadline) never wrap. */
#define CW_NODE_MAX_INTERVAL_NS ((uint64_t)1 << 42)
#define CW_NODE_MAX_TIME_NS ((uint64_t)1 << 62)

/* Sets every default (nodes = 1, self = 0). */
CW_API void cw_node_options_init(cw_node_options *o);

typedef struct cw_node cw_node;

/* CW_EINVAL on bad options (self >= nodes, nodes out of range, missing send
 * or merge callback, unknown policy, max_buffered 0 or above
 * CW_NODE_MAX_BUFFERED_LIMIT, max_unsent 0, a time option above CW_NODE_MAX_INTERVAL_NS),
 * CW_ENOMEM. Destroy with cw_node_destroy. */
CW_API int  cw_node_create(cw_node **out, const cw_node_options *o);
/* Frees the node and releases every message it holds, including those that
 * wait to be sent (flush first to send them). NULL is ignored, and so is a
 * call from inside one of the node's callbacks. */
CW_API void cw_node_destroy(cw_node *n);

/* A local write: ticks the own entry, stamps the write with the clock and an
 * HLC timestamp, applies it to the store (it dominates every version this
 * node holds for the key, so it replaces them), calls on_apply, then offers
 * its message to send, unless earlier messages still wait to be sent (then
 * it queues behind them; see cw_send_fn). A refused send does not fail the
 * put: the write is made, and its message waits for cw_node_flush.
 * *clock_out (nullable) gets the write's clock. Errors, node unchanged:
 * CW_EINVAL (NULL key with key_len > 0), CW_ELIMIT (key or value too long),
 * CW_EFULL (max_unsent messages already wait to be sent: backpressure from
 * the driver; flush, then retry), CW_ESTALLED (max_log of this node's own
 * writes are not yet stable, because some node has not told this one it
 * applied them, see cw_node_stats.stability_blocker; tick and receive, then
 * retry), CW_EOVERFLOW, CW_EDRIFT (this node's HLC is
 * further ahead of its wall clock than max_drift_ms: the wall clock went back;
 * the bound is enforced here, at the write's origin, and nowhere else),
 * CW_ENOMEM. Keys and values are any bytes; empty is allowed. */
CW_API int cw_node_put(cw_node *n, const void *key, size_t key_len, const void *value,
                       size_t value_len, cw_vclock *clock_out);

/* A write with the context of a read (cw_read.context, from this node or
 * another): it replaces exactly the versions the context covers, and
 * becomes a sibling of every version it does not cover, so a stale context
 * never removes a version its reader did not see (no lost update), and two
 * writes from one read are siblings. That holds for a read of the same
 * key: a context is a clock, not tied to its key, and one read from another
 * key covers this key's versions as far as its counters reach, read or not.
 * An empty context covers nothing (the write is a sibling of every version;
 * a delete with it removes none). NULL context: the node's whole clock
 * (cw_node_put). The context must be at or below this node's clock:
 * CW_EAHEAD if it covers a write this node has not applied yet (wait for
 * it: cw_engine_wait_for; a write may not replace what its node has not
 * seen, or replicas would disagree on what survives). CW_ESIBLINGS if the
 * key would then hold more than max_siblings versions (those the context
 * does not cover, tombstones too, and this one): a client writing with an
 * empty or made-up context instead of a read's. A plain put always fits,
 * and so does a put with the context of a read of the key, unless
 * max_siblings concurrent writes to it arrived since. Otherwise as cw_node_put; CW_EINVAL
 * also for an id >= nodes in the context.
 * Policies: CW_KEEP_SIBLINGS keeps every version no context covers;
 * CW_LAST_WRITER_WINS first drops what the context covers, then keeps the
 * greatest (timestamp, origin) of what is left and the new write (a
 * tombstone competing like any write); CW_MERGE_CALLBACK keeps siblings as
 * CW_KEEP_SIBLINGS does and merges the live ones at each read. */
CW_API int cw_node_put_ctx(cw_node *n, const void *key, size_t key_len, const void *value,
                           size_t value_len, const cw_vclock *context, cw_vclock *clock_out);
/* A delete: a tombstone under the same rule as cw_node_put_ctx (NULL
 * context: the node's clock; CW_ESIBLINGS as there). Reads hide it: the key reads as CW_ENOTFOUND
 * unless a version the delete did not cover is still there (add-wins
 * against a concurrent put). Tombstones leave the store once causally stable
 * and no write concurrent with them can still arrive. */
CW_API int cw_node_delete(cw_node *n, const void *key, size_t key_len, const cw_vclock *context,
                          cw_vclock *clock_out);

/* Offers the messages that wait to be sent (their sends were refused) to
 * send again, oldest first, until one is refused or none is left. Call it
 * when the driver can take messages again (its socket became writable, its
 * queue drained). Returns 0 when none is left waiting (also when none was),
 * or the refusal's code (CW_EFULL for a refusal that was not a negative
 * code): the refused message and the ones after it keep waiting, in order.
 * *sent (nullable) counts the messages taken by this call, also on a
 * refusal. Cost: one send call per message taken, plus one for a refusal.
 * Threads: the thread driving the node. */
CW_API int cw_node_flush(cw_node *n, size_t *sent);

/* Messages of local writes that wait to be sent (refused, or queued behind
 * a refused one): 0 when every write made so far has been taken by send. */
CW_API size_t cw_node_unsent(const cw_node *n);

/* What cw_node_receive did with a message. */
typedef enum cw_receive_result {
    CW_RECEIVE_DELIVERED = 0,  /* applied now (and *delivered counts the cascade) */
    CW_RECEIVE_BUFFERED = 1,   /* waits in the causal buffer */
    CW_RECEIVE_DUPLICATE = 2   /* already delivered or already buffered: dropped */
} cw_receive_result;

/* Takes a message from a peer: a write (first copy or retransmitted), a pull
 * (answered at once through send_to) or a report. The node takes its own
 * references where it keeps the message; the caller keeps (and later
 * releases) its reference. Pulls and reports are always CW_RECEIVE_DELIVERED
 * with nothing counted in *delivered.
 * *result and *delivered (both nullable) report the outcome: delivered counts
 * every write applied by this call, the message and the buffered writes it
 * released. Errors, the message not taken and counted as refused
 * (rejected_full, rejected_memory), the node otherwise unchanged (but a
 * write an earlier call released and left may be applied first, counted
 * in *delivered):
 * CW_EINVAL (NULL, or a message for another group size or from self),
 * CW_ELIMIT (key or value above this node's limits),
 * CW_EFULL (it would have to wait and the buffer holds max_buffered writes,
 * or max_buffered_bytes with it, or holding it would pass the buffer's memory
 * budget of 4 * max_buffered + 16 * nodes index slots: backpressure; deliver
 * other messages and retry; a deliverable write is never refused), CW_ENOMEM.
 * This node's HLC follows every applied write's timestamp (so last-writer-
 * wins extends causality at every replica). A write whose timestamp is
 * further ahead of this node's wall clock than max_drift_ms is applied all
 * the same (its origin accepted it) and counted in clock_anomalies. Under CW_LAST_WRITER_WINS the HLC follows it
 * whole, which convergence needs, so this node's puts fail with CW_EDRIFT
 * until the wall clock catches up (with CW_EOVERFLOW for good after a
 * timestamp at the top of the HLC's range, CW_HLC_MAX_WALL with its
 * counter full: no later timestamp exists); under the other policies, where no
 * timestamp decides what converges (a sibling's timestamp only orders it),
 * it follows it only up to the bound and puts go on. The same holds for the
 * versions a node installs or restores. */
CW_API int cw_node_receive(cw_node *n, cw_msg *msg, cw_receive_result *result, size_t *delivered);

/* Takes count messages in order, exactly as count calls to cw_node_receive
 * would, for drivers that dequeue in batches: while one message is handled the
 * next ones are already being loaded, so messages that arrive cold in memory
 * (a deep buffer, random arrival order) cost no more than warm ones. Stops at
 * the first message that fails and returns its error (that message is not
 * taken; the ones before it are). *taken (nullable) counts the messages taken,
 * *delivered (nullable) the writes applied by the whole call. The messages of
 * one call arrive together: the clock is read once for all of them, and the
 * buffering latency of those that wait counts from the call. */
CW_API int cw_node_receive_many(cw_node *n, cw_msg *const *msgs, size_t count, size_t *taken,
                                size_t *delivered);

/* The key's current versions (see cw_read). CW_ENOTFOUND if none is live
 * (never written, or deleted): an answer, not a failure, so out is replaced
 * then too: no version, and a context that is empty or covers the
 * tombstones, so a client can write over a delete knowing what it replaces.
 * On any other error out is unchanged. Under
 * CW_MERGE_CALLBACK live siblings come back merged into one version whose
 * clock and context are the merges of theirs (a tombstone is never passed to
 * the callback); under CW_LAST_WRITER_WINS a tombstone competes like any
 * write, and a key whose winner is a tombstone reads as CW_ENOTFOUND. */
CW_API int cw_node_get(cw_node *n, const void *key, size_t key_len, cw_read *out);

/* Time for loss recovery and stability, in nanoseconds on the driver's
 * monotonic clock (any origin; it must not go back: an earlier time counts
 * as the latest one). Sends the pulls that are due, a report if one is due,
 * opens the next stability round. *next_ns (nullable) gets the time the
 * next tick has work (UINT64_MAX: none until something arrives); a receive
 * or put may bring it forward (cw_node_next_tick). Cheap when nothing is
 * due. CW_EINVAL (NULL, called from a callback, or now_ns beyond
 * CW_NODE_MAX_TIME_NS). */
CW_API int cw_node_tick(cw_node *n, uint64_t now_ns, uint64_t *next_ns);
/* When the next tick has work, as it stands now (UINT64_MAX: none). */
CW_API uint64_t cw_node_next_tick(const cw_node *n);
/* The causally stable clock as this node knows it (sparse copy): writes
 * every node has applied. Always at or below the node's clock. */
CW_API int cw_node_stable(const cw_node *n, cw_vclock *out);

/* Restarting without state. A replica whose process lost its state (no
 * durable storage) must not make a write until it knows the last seq any
 * peer holds of its own, or it would reuse a (node, seq) pair; and it must
 * hold everything that may already be stable, which no log keeps any more.
 * So it asks every peer for its state and installs the one that holds the
 * most of its own writes; of those, the one that holds the most writes in
 * all (a peer restarted at the same time answers with its empty state,
 * which must not win because it came first). It takes that peer's
 * retransmission log with it (cw_node_restore), since a write not yet
 * stable may be in no other log. The node server does this (src/server).
 *
 * cw_node_install adopts a peer's state: `clock` (nodes counters, the peer's
 * clock) and the versions its store held at that clock (every message
 * cw_node_each_key gave, tombstones too; borrowed, references taken). The
 * node then holds what it would had it applied every write at or below the
 * clock; later writes arrive, and missing ones are pulled, as usual. Only
 * on a node that has applied nothing and made no write. CW_EINVAL (NULL, a
 * size mismatch, a node that is not empty, or a version that is not a write
 * at or below clock with its clock and context at or below it), CW_ENOMEM
 * (the node stays empty). Cost: one store insert per version. */
CW_API int cw_node_install(cw_node *n, const uint64_t *clock, uint32_t nodes, cw_msg *const *versions,
                           size_t count);
/* The highest seq of origin's writes this node holds: applied here or
 * waiting in its buffer (at least its clock's entry). A seq only named by a
 * buffered write's clock or a peer's report is not counted: the peer that
 * applied it holds it. A restarted node must not write again under any seq
 * a peer holds. */
CW_API uint64_t cw_node_seen(const cw_node *n, cw_node_id origin);
/* Peer `peer` restarted without its state (it asked for a snapshot): what it
 * said it had applied before no longer holds, so the open stability round
 * starts over and nothing it lost becomes stable on its old word. Call it
 * before answering the peer. Ignored for self, an id out of range, or from
 * inside a callback. */
CW_API void cw_node_peer_restarted(cw_node *n, cw_node_id peer);

/* The node's clock (sparse copy). */
CW_API int cw_node_clock(const cw_node *n, cw_vclock *out);
/* The node's clock as n counters, valid until the next put/receive (NULL
 * for a NULL node). */
CW_API const uint64_t *cw_node_counters(const cw_node *n);
/* The node's own id; n must not be NULL (every id is a valid one). */
CW_API cw_node_id cw_node_self(const cw_node *n);

/* Latency distribution in nanoseconds (percentiles within ~6%). */
typedef struct cw_latency {
    uint64_t count, p50_ns, p99_ns, p999_ns, max_ns;
} cw_latency;

typedef struct cw_node_stats {
    uint64_t writes;        /* local writes made at this node */
    uint64_t delivered;     /* remote writes applied */
    uint64_t buffered;      /* remote writes waiting in the causal buffer now */
    uint64_t max_buffered;  /* high-water mark of buffered */
    uint64_t buffered_bytes; /* what the writes waiting in the buffer hold now
                                (max_buffered_bytes counts it; writes released
                                and being applied, which buffered counts, not) */
    uint64_t duplicates;    /* arrivals dropped as already delivered or buffered */
    uint64_t conflicts;     /* writes that created or joined siblings */
    uint64_t keys;          /* keys in the store */
    uint64_t rejected_full; /* receives refused with CW_EFULL */
    uint64_t rejected_memory; /* receives refused with CW_ENOMEM, each retry
                                 counted (the engine waits for memory before
                                 it retries: cw_engine_memory_waits) */
    uint64_t clock_anomalies; /* writes applied or installed whose HLC
                                 timestamp was further ahead of this node's
                                 wall clock than max_drift_ms (cw_node_receive) */
    uint64_t unsent;        /* local writes whose messages wait to be sent now */
    uint64_t send_refusals; /* times send refused a message (each retry counts) */
    uint64_t siblings_refused; /* local writes refused with CW_ESIBLINGS */
    uint64_t retransmitted; /* writes this node sent again on request */
    uint64_t recovered;     /* writes that reached this node only by a retransmission */
    uint64_t log_entries;   /* writes kept for retransmission, until stable */
    uint64_t pulls;         /* pulls sent (one per missing run per attempt) */
    uint64_t reports;       /* reports sent */
    uint64_t missing;       /* origins whose writes this node knows it misses now */
    uint32_t stability_blocker; /* the node whose word a stability round has waited
                                   for over two report intervals; CW_NODE_NONE */
    cw_latency buffering;   /* arrival to delivery of remote writes */
    cw_latency replication; /* engine only: put at this node to applied at every node */
} cw_node_stats;

CW_API int cw_node_get_stats(const cw_node *n, cw_node_stats *out);

/* Calls fn for every key in the store with its versions (borrowed for the
 * call, in (timestamp, origin) order), in no particular key order; and
 * cw_node_each_pending for every buffered write. For dumps and checks. */
typedef void (*cw_key_fn)(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                          size_t count);
CW_API void cw_node_each_key(const cw_node *n, cw_key_fn fn, void *ctx);
CW_API void cw_node_each_pending(const cw_node *n, void (*fn)(void *ctx, const cw_msg *msg), void *ctx);

/* Persisting a replica. A driver that keeps a replica's state on disk (the
 * node server's --data keeps it in LMDB) saves, at points where it has
 * called nothing on the node yet to return:
 *  - the clock (cw_node_counters);
 *  - each key's versions (cw_node_key_versions), for every key an applied
 *    write (on_apply) or a forgotten tombstone (on_forget) touched since it
 *    last saved: a key with no version left is removed;
 *  - the retransmission log: every write applied (on_apply) that is not yet
 *    stable, removing those at or below cw_node_stable as it advances.
 * Saved together (one transaction), these are a state cw_node_restore takes
 * back. Save before anything the node sent since leaves the process (a
 * write's message, a report of what it applied, a pull's answer): then no
 * peer can hold, or count as stable, a write the saved state lacks, and a
 * restarted node never reuses one of its own (node, seq) pairs. */

/* The key's versions: calls fn once with them (borrowed for the call, in
 * (timestamp, origin) order, tombstones included), count 0 when the key
 * holds none. CW_EINVAL (NULL node or fn, NULL key with key_len > 0). */
CW_API int cw_node_key_versions(const cw_node *n, const void *key, size_t key_len, cw_key_fn fn, void *ctx);

/* Takes back a saved state (see above) on a node just created with the same
 * self, nodes and policy: as cw_node_install with clock and versions, and
 * then the retransmission log: `log` holds, for each origin, the writes it
 * logged, each origin's seqs contiguous and ending at clock[origin] (any
 * order across origins; borrowed, references taken). The node then goes on
 * with its own counter where it stopped. A node restarted without state
 * takes a peer's state and log the same way (the node server does), so
 * that it can serve writes not yet stable. CW_EINVAL (as cw_node_install,
 * or a log write above the clock, not a write, or a gap in an origin's
 * seqs), CW_ENOMEM; on either the node stays empty and may take a state
 * again. Cost: one store insert per version, one log append per log
 * write. */
CW_API int cw_node_restore(cw_node *n, const uint64_t *clock, uint32_t nodes, cw_msg *const *versions,
                           size_t count, cw_msg *const *log, size_t log_count);

/* Writes the node's "system state" as text: its data with clocks (keys
 * sorted, so converged replicas dump identically; siblings marked), its
 * pending writes (buffered, with their origin) and its clock:
 *     Node 2:
 *       Data:
 *         x = 1 {0:1}
 *         y = 2 {0:1,1:1}
 *       Pending writes: 0
 *       Vector clock: 0:1,1:1
 * Keys and values print as text when printable, else as 0x-prefixed hex.
 * CW_EINVAL (NULL, or a write error on out), CW_ENOMEM. Threads: the thread
 * driving the node. */
CW_API int cw_node_dump(const cw_node *n, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
