/* Verification: a ground-truth checker for replication runs (cw_history) and
 * a deterministic simulator that drives replicas through a seeded schedule
 * and checks the run with it (cw_sim). Embedders use them to check their own
 * drivers and transports: the history records what each replica applied,
 * independently of the replicas' own clocks, and judges the run.
 *
 * What the history checks. The true causal past of a write is what its node
 * had applied when the write was made: past(w)[k] = writes from k applied at
 * origin(w) before w, and past(w)[origin(w)] = w's sequence number. Then:
 *   - every application respects causality: when node x applies w, x has
 *     applied exactly past(w)[origin] - 1 writes of w's origin and at least
 *     past(w)[k] writes of every other node k (so no write is applied twice
 *     or out of order);
 *   - each write was stamped with exactly its true past, so every comparison
 *     of two writes' clocks gives the true relation (concurrency is detected
 *     exactly);
 *   - at the end: every node applied every write (nothing lost); every key
 *     holds exactly the writes to it that no other write to it causally
 *     follows, or under CW_LAST_WRITER_WINS the greatest (timestamp, origin);
 *     all nodes agree and have the same clock;
 *   - every read recorded (cw_history_read) saw only writes to its key that
 *     its node had applied, none that the node had overwritten before the
 *     read began, and nothing lost.
 *
 * Contexts, deletes and sessions (node.h: cw_node_put_ctx, cw_node_delete;
 * engine.h: cw_engine_wait_for). The history takes neither the replicas'
 * clocks nor their contexts as truth: the client tells it, for each write
 * (cw_history_wrote), the versions (dots) it actually read before writing.
 * Then write w supersedes version v exactly when w's client read v, or read
 * a version that superseded v (transitively); a plain write (no context)
 * is taken to have read every write to its key its node had applied (its
 * true past), so with plain writes only, "supersedes" is "causally
 * follows" and everything above is unchanged. Checked in the verdict:
 *   - each key's final versions at every node are exactly the writes to it
 *     that no write superseded (under CW_LAST_WRITER_WINS the greatest
 *     (timestamp, origin) of them), live versions identically at every
 *     node; a delete (tombstone) among them may be held or already
 *     collected, and a key may be absent when only tombstones survive.
 *     A version no write superseded that a node lacks is a lost update (a
 *     stale context removed what its client never saw); a superseded
 *     version a node holds is one sibling too many (siblings must be
 *     pairwise truly concurrent, so there are never more of them than
 *     truly concurrent writes), or a resurrected delete when a tombstone
 *     superseded it;
 *   - each write read only versions of its own key that its node had
 *     applied (cw_node_put_ctx refuses a context ahead of its node), and is
 *     the put or delete its client said;
 *   - reads: no version returned is a tombstone or was superseded by a
 *     write its node had applied before the read began; under
 *     CW_KEEP_SIBLINGS the last write of each node to the key that the
 *     node had applied before the read began is returned unless a write
 *     applied by the read's end superseded it (under LWW the version
 *     returned is at least as great); a read finds nothing only when no
 *     such write is live or a delete covers it;
 *   - sessions, for a client whose operations are recorded with its id
 *     (cw_history_client_read, cw_history_wrote), in its order: the node
 *     serving each operation had already applied the true past of every
 *     write the client made before (read-your-writes for a read, monotonic
 *     writes for a write) and of every version its reads returned before
 *     (monotonic reads, writes-follow-reads); and a read of a key returns
 *     the client's last write to it and what its last read of it returned,
 *     or versions that superseded them. A read that found nothing (its
 *     key's versions are tombstones, which reads hide) observed the deletes
 *     of its key that its returned context (cw_read.context) covers and
 *     that its node had applied by the read's end, by the history's own
 *     record: those count for the client's later operations like versions
 *     it read (the serving node must have applied them and their past; a
 *     later read returning a version one of them deleted is then caught as
 *     a read of a superseded version), so monotonic reads and
 *     writes-follow-reads are checked through a deleted key too (a client
 *     that found a key deleted at one node, then sees the deleted version
 *     at a node that has not applied the delete, is caught). A context
 *     covering a write its node had not applied is a violation itself.
 * A run is recorded by calling cw_history_applied for every write every node
 * applies, its own writes included (a node's cw_apply_fn or the engine's
 * on_apply is the place), then reporting each node's final state and asking
 * for the verdict.
 *
 * Threads: a cw_history may record events from several threads at once, as
 * long as the events of one node x (cw_history_applied with that x) come from
 * one thread at a time (the thread that drives x). A write's record is made
 * by its origin's thread before its message is sent, and read by the other
 * nodes' threads only after they received it, so that order of events is
 * what the transport provides anyway. Final reports and the verdict come
 * after the run, from one thread. A cw_sim is not thread-safe: one thread
 * drives it at a time.
 *
 * Memory: a history keeps a record (clock and key) of every write made,
 * nodes^2 counters, and each node's final state: it is for test runs, not
 * for production replicas.
 */
#ifndef CAUSEWAY_VERIFY_H
#define CAUSEWAY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <causeway/engine.h>
#include <causeway/export.h>
#include <causeway/msg.h>
#include <causeway/node.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the ground-truth history ---- */

typedef struct cw_history cw_history;

/* A history for a group of `nodes` replicas resolving conflicts by `policy`,
 * in which no node makes more than max_writes_per_node writes. Records are
 * allocated as writes are made, 4,096 at a time per node; up front, one
 * pointer per 4,096 of max_writes_per_node per node, and two nodes x nodes
 * tables of counters. CW_EINVAL (NULL out, nodes 0 or above 65,536, unknown
 * policy), CW_ELIMIT (that would pass this machine's physical memory),
 * CW_ENOMEM. Destroy with cw_history_destroy. */
CW_API int cw_history_create(cw_history **out, uint32_t nodes, uint64_t max_writes_per_node,
                             cw_conflict_policy policy);
/* Frees the history. NULL is ignored. */
CW_API void cw_history_destroy(cw_history *h);

/* For a CW_LAST_WRITER_WINS history whose writes carry no timestamps (one
 * judged from traces, which hold none): which of a key's maximal versions
 * (those no write its node applied superseded) wins is not known, so the
 * timestamp order is never consulted. A read then returns at most one
 * version, one of the maximal ones (a live one, applied, not superseded by
 * a write its node had applied before the read began), and finds nothing
 * only when a maximal version is a delete or no live version is maximal;
 * which of them it returns is not checked. Every rule that does not ask
 * which version wins (causal order, clocks, applications, contexts) is
 * unchanged. Such a history takes no final keys (cw_history_final_key and
 * the final_node calls return CW_EINVAL: report clocks with
 * cw_history_final_clock_only) and no client reads (cw_history_client_read
 * with a client: CW_EINVAL). Call before recording anything. CW_EINVAL
 * (NULL, another policy, or something already recorded: a write made, a
 * read, a final state, a violation; the history stays as it was). */
CW_API int cw_history_set_untimed(cw_history *h);

/* Records that node x applied m; x == cw_msg_origin(m) means m is x's new
 * write, which x applies as it makes it. m is read during the call only.
 * Returns true when the application is consistent with the history so far;
 * false when it is a violation (applied twice, out of order, before a write
 * it depends on, a copy whose key, value, kind, timestamp or clock is not
 * what its origin made, a write stamped with a clock that is not its past,
 * more writes than the history was made for, no message (m NULL), a node
 * id, origin or group size that does not fit the history, an application
 * while cw_history_verdict runs, or no memory to record the write), the
 * first of which cw_history_violation then describes; a changed copy still
 * counts as the write's application. The records of writes (8 bytes a node
 * and the key each) may take at most three quarters of this machine's
 * physical memory: a write past that is recorded as no memory, so a run
 * that outgrows the machine ends without a verdict rather than killed by
 * the kernel. No memory also sets cw_history_out_of_memory. h NULL: false.
 * Cost: O(nodes), and the key and value. */
CW_API bool cw_history_applied(cw_history *h, cw_node_id x, const cw_msg *m);

/* Node x's applied counts now: `nodes` counters into out, how many writes of
 * each node x has applied. Any thread, during the run: each count covers
 * only applications that happened (and, on an engine, the store updates
 * before them), and the counts are x's row as it stood at one moment
 * between x's applications, so two calls for one node, from any threads,
 * give counts ordered one below the other. (A row that changes through 64
 * reads of it in one call is given from the last read, each count between
 * the row's states at the call's start and end.) A node x the history
 * does not have gets zeros; NULL is ignored. Cost: O(nodes), a few times
 * over while x applies writes. */
CW_API void cw_history_applied_counts(const cw_history *h, cw_node_id x, uint64_t *out);

/* Records a read of `key` at node x, to be judged by the verdict: `before`
 * and `after` are cw_history_applied_counts(x) taken just before and just
 * after the read, r what it returned (count 0: not found); all borrowed for
 * the call. Checked: (1) now, each version returned is one x had applied by
 * the read's end (its seq <= after[origin]); (2) in the verdict, each is a
 * write to that key, and none is causally before a write to that key that x
 * had applied before the read began (counted in before); the last write of
 * each node to the key that x had applied before it began, unless one x had
 * applied by its end replaced it, is among them, and under
 * CW_KEEP_SIBLINGS so is every write x had applied before it began that no
 * write x had applied by its end replaced (a node's earlier write can be a
 * sibling of its later ones); (3) a read that found nothing came before x
 * applied any write to the key. So a read sees no write its node has not
 * applied, no version its node has overwritten, and nothing lost. The
 * reads at one node are judged in the order of their `before` counts, which
 * grow along one chain when each is taken at a moment (as
 * cw_history_applied_counts gives them, from any thread); where two are
 * not ordered (counts a caller made up), a lost sibling can go unseen
 * there, and nothing correct is ever reported.
 * A read that found nothing (count 0) keeps r->context, the dots it covers
 * (checked now: each one x had applied by the read's end), for the session
 * checks (see above). Any thread (a lock). CW_EINVAL, CW_ENOMEM. Memory:
 * O(nodes) per read; the verdict's cost: O(nodes * log w) per read of a key
 * written w times, O(log r) to order r reads, O(the versions live at the
 * read's start) to judge it, and O(w) for each node that reads the key.
 * CW_EINVAL also for counts no two moments of x give (before above after,
 * or after above what x has applied now), r->count > 0 with r->versions
 * NULL, and while
 * cw_history_verdict runs (from its progress callback or another thread:
 * nothing is recorded then). */
CW_API int cw_history_read(cw_history *h, cw_node_id x, const void *key, size_t key_len, const uint64_t *before,
                           const uint64_t *after, const cw_read *r);

/* A version's identity: its origin and that node's write sequence number
 * (cw_value_version's origin and seq; cw_msg_origin and cw_msg_seq). */
typedef struct cw_history_dot {
    cw_node_id origin;
    uint64_t seq;
} cw_history_dot;

/* "No client": operations recorded without one get no session checks. */
#define CW_HISTORY_NO_CLIENT UINT32_MAX

/* What a client did to make one write (cw_history_wrote). */
typedef struct cw_history_write_info {
    uint32_t client;             /* its id, or CW_HISTORY_NO_CLIENT */
    bool tombstone;              /* a delete (cw_node_delete, cw_engine_delete) */
    bool context;                /* made with a read's context (put_ctx, or a delete given one):
                                    it replaces what `read` lists. false: a plain write (NULL
                                    context), which replaces what its node had applied */
    const cw_history_dot *read;  /* context: the versions the client's read returned (the live
                                    versions of the cw_read whose context it passed); borrowed */
    size_t read_count;
} cw_history_write_info;

/* Tells the history how write `seq` of node `origin` was made, once the
 * write was made (after its put or delete returned, before the client's
 * next operation): which client made it, whether it deletes, and for a
 * context write the dots its client read. A write never told about is a
 * plain write by no client, a delete if its message is a tombstone.
 * Checked now: the write was made, is told about once, is a delete
 * exactly when its message is a tombstone, and read only versions its
 * node had applied (in its true past); in the verdict: each version read is
 * a write to the same key. A violation is recorded like any other (the
 * call still returns CW_OK). Any thread (a lock).
 * CW_EINVAL (NULL h or w, read NULL with read_count > 0, or while
 * cw_history_verdict runs), CW_ENOMEM (nothing recorded). Memory: the dots read, and one entry per client operation. */
CW_API int cw_history_wrote(cw_history *h, cw_node_id origin, uint64_t seq, const cw_history_write_info *w);

/* cw_history_read by a client, for the session checks: the client's
 * operations are judged in the order they are recorded (one thread per
 * client at a time). CW_HISTORY_NO_CLIENT is cw_history_read. */
CW_API int cw_history_client_read(cw_history *h, uint32_t client, cw_node_id x, const void *key, size_t key_len,
                                  const uint64_t *before, const uint64_t *after, const cw_read *r);

/* Reports one key of node x's final state: count >= 1 versions, the
 * messages of the writes the node holds for that key (borrowed for the
 * call), tombstones not yet collected among them. Call once for every key x
 * holds (cw_node_each_key gives exactly these). A version whose key,
 * value, kind, timestamp or clock is not what its origin made is a
 * violation. CW_EINVAL (NULL, a NULL
 * version, x out of range, count 0, a version that is no write of this
 * group's size or not of the first version's key, or after
 * cw_history_verdict), CW_ENOMEM; the history is then unchanged. */
CW_API int cw_history_final_key(cw_history *h, cw_node_id x, const cw_msg *const *versions,
                                size_t count);
/* Reports node x's final clock: `nodes` counters, copied. CW_EINVAL (NULL,
 * x out of range, or after cw_history_verdict). */
CW_API int cw_history_final_clock(cw_history *h, cw_node_id x, const uint64_t *clock);
/* The same for a node whose final keys are known only in part (a node judged
 * from a trace, whose last reads tell some keys): the verdict checks its
 * clock and the keys reported with cw_history_final_key, and does not ask
 * for the keys not reported. CW_EINVAL (as cw_history_final_clock). */
CW_API int cw_history_final_clock_only(cw_history *h, cw_node_id x, const uint64_t *clock);

/* Reports the whole final state (every key and the clock) of a replica, as
 * cw_history_final_key and cw_history_final_clock for cw_node_self(node).
 * CW_EINVAL (NULL, a node from another group size, or after
 * cw_history_verdict), CW_ENOMEM (the keys
 * reported before it stay reported: destroy the history). */
CW_API int cw_history_final_node(cw_history *h, const cw_node *node);
/* The same for node x of an engine, after cw_engine_quiesce. CW_EINVAL,
 * CW_ENOMEM, or the engine's error. */
CW_API int cw_history_final_engine_node(cw_history *h, cw_engine *e, cw_node_id x);

typedef struct cw_history_report {
    uint64_t writes;            /* writes made */
    uint64_t applications;      /* applications recorded, local and remote */
    uint64_t concurrent_pairs;  /* pairs of writes to one key that are truly concurrent */
    uint64_t ordered_pairs;     /* pairs of writes to one key ordered by happens-before */
    uint64_t keys;              /* distinct keys written */
    uint64_t reads;             /* reads recorded (cw_history_read) and checked */
    uint64_t check_steps;       /* the final checks' unit steps (origin tests per write, keys merged
                                   per node): their cost, which tests can bound */
    bool ok;                    /* no violation, during the run or at the end */
    uint64_t context_writes;    /* writes told as made with a context (cw_history_wrote) */
    uint64_t deletes;           /* writes that were deletes (tombstones) */
    uint64_t superseded;        /* writes that some write superseded (plain or by context) */
    uint64_t session_ops;       /* client operations checked for session guarantees */
    uint64_t max_siblings;      /* the most live versions of one key a read returned or a node
                                   held at the end */
    uint64_t max_concurrent;    /* the most live writes to one key that no write superseded at
                                   the end: the truly concurrent writes siblings are bounded by */
} cw_history_report;

/* Runs the final checks, once every node has reported its keys and clock,
 * and fills *report. Returns report->ok (false, *report untouched, for a
 * NULL history or report). It judges a history once: a later call gives
 * the same report, and the final-state calls (cw_history_final_*) then
 * return CW_EINVAL. Call it once the run is over, from one thread:
 * applications and final states must not overlap it (from its progress
 * callback they are refused: CW_EINVAL, an application a violation); reads
 * and tellings that come while it runs are refused from any thread; a
 * second call while it runs returns false, *report untouched. Events
 * recorded after it are not in that report
 * (their checks as they are recorded still run: cw_history_violation
 * says what they found). Cost, for
 * W writes by N nodes to K keys: O(W * N + N * K) time, hash lookups
 * counted as O(1) (the writes grouped by key through a table; per key, each
 * write against each node that wrote the key, never each pair of writes;
 * each key each node holds looked up once), plus O(N log W) per read
 * recorded; O(W + K + N) memory besides the history. With contexts: plus
 * O(log W) per dot a write read, O(N log W + r) per version a read
 * returned or a node holds (r: the writes that read it), O(N) per client
 * operation, O(N (N + log W)) per client read that found nothing (its
 * observed deletes). Pairs (concurrent_pairs, ordered_pairs) are counted by
 * happens-before: two context writes from one read are ordered by their
 * node's clock, yet siblings. */
CW_API bool cw_history_verdict(cw_history *h, cw_history_report *report);

/* Progress of cw_history_verdict, for a caller that shows it: `phase` names
 * the step ("checking keys"; a static string), `done` of `total` units. */
typedef void (*cw_history_progress_fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);
/* Sets the callback (NULL: none) that cw_history_verdict calls, on its own
 * thread, after every 65,536 writes checked and every node's final state
 * compared, and once before grouping the writes by key. A NULL history is
 * ignored. */
CW_API void cw_history_set_progress(cw_history *h, cw_history_progress_fn fn, void *ctx);

/* The first violation found, as a sentence owned by the history (valid until
 * cw_history_destroy), or NULL if none (for a NULL history, a sentence
 * saying so). Later violations are counted, not kept. */
CW_API const char *cw_history_violation(const cw_history *h);
/* Whether the first violation is memory running out where no error could
 * be returned: recording an application (cw_history_applied returns false,
 * from a node's apply callback) or in cw_history_verdict's checks. It is a
 * violation ("out of memory ..."), so report->ok is false, but it says
 * nothing of the replicas, and what the history then lacks may show as
 * more violations: the run was not judged. A tool gives no verdict then
 * (causeway exits 3), and cw_sim_run and cw_sim_finish return CW_ENOMEM
 * unless the simulator found a violation of its own. A violation recorded
 * before memory ran out stands (false here). False for NULL. Any thread. */
CW_API bool cw_history_out_of_memory(const cw_history *h);
/* Which read the first violation is about: its index among the reads
 * recorded (cw_history_read, cw_history_client_read), in the order they
 * were recorded, from 0; SIZE_MAX when the first violation is about no
 * read (or there is none). Lets a caller name the read in its own terms
 * (a trace's line). */
CW_API size_t cw_history_violation_read(const cw_history *h);

/* Writes the history as text to f, one record a line (the format is in
 * docs/formats.md, "Ground-truth history"): the group, the first violation,
 * every write with its key, timestamp and true past, what each node applied,
 * and each node's reported final state. For a failed run, so that it can be
 * examined or checked again. Call it after the run (from one thread),
 * before or after cw_history_verdict. Returns CW_OK or CW_EINVAL (NULL);
 * write errors are the stream's (check ferror or fclose). Cost: O(W * N)
 * text for W writes by N nodes, plus the final states. */
CW_API int cw_history_write(const cw_history *h, FILE *f);

/* ---- the deterministic simulator ---- */

typedef struct cw_sim cw_sim;

/* The embedder's transport, for a simulator driven by the embedder's loop:
 * called with each write's message made at node `from`, with the contract
 * of cw_send_fn (0: taken, carried to every other node, taking its own
 * references; negative: refused, not taken, offered again by cw_sim_flush).
 * The transport later hands each message to each other node with
 * cw_sim_receive, after the callback returned: called from inside a
 * simulator's call, neither callback may call the simulator (cw_sim_write,
 * _receive, _tick, _flush and _finish return CW_EINVAL then, and
 * cw_sim_destroy does nothing). */
typedef int (*cw_sim_send_fn)(void *ctx, cw_node_id from, cw_msg *msg);
/* The embedder's transport for the replicas' loss recovery: called with
 * each recovery message (a pull, a write sent again, a report) of node
 * `from`, with the contract of cw_send_to_fn: carried to node `to` only, or
 * to every other node when to == CW_NODE_ALL; best effort (it may be
 * refused, non-zero, or lost). Borrowed for the call (cw_msg_ref to keep
 * it). The transport hands it over with cw_sim_receive like a write. */
typedef int (*cw_sim_send_to_fn)(void *ctx, cw_node_id from, uint32_t to, cw_msg *msg);

typedef struct cw_sim_options {
    uint32_t nodes;                /* replicas, 1..65536 */
    uint64_t writes;               /* writes in the run (cw_sim_run), or at most (cw_sim_write) */
    uint32_t keys;                 /* distinct keys written, >= 1 */
    uint64_t seed;                 /* every random choice; the same seed replays the run */
    cw_conflict_policy policy;     /* CW_KEEP_SIBLINGS or CW_LAST_WRITER_WINS */
    double duplicate_probability;  /* built-in network: a delivered message stays in flight once more;
                                      below 1 (at 1 a pull or report, never a duplicate, stays for
                                      ever, and the network never goes quiet) */
    double hold_probability;       /* built-in network: each step, toggle a hold on a random link */
    double refuse_probability;     /* any transport: a send (of a write, or through send_to) is
                                      refused (CW_EFULL) before it is offered; below 1 */
    double drop_probability;       /* built-in network: each copy of a message, of any kind, the
                                      network takes for one node is lost; below 1 */
    double partition_probability;  /* built-in network: each step while writes are made, a partition
                                      starts (see cw_sim_run) */
    uint32_t partition_steps;      /* the longest a partition lasts, in steps; each lasts
                                      1..partition_steps; >= 1, default CW_SIM_DEFAULT_PARTITION_STEPS */
    size_t max_buffered;           /* per replica; small values exercise CW_EFULL on receive */
    size_t max_unsent;             /* per replica: refused writes kept (cw_node_options) */
    bool sequential;               /* built-in: each write reaches every node before the next */
    uint64_t recovery_timeout_ns;  /* the replicas' recovery_timeout_ns and report_interval_ns */
    uint64_t report_interval_ns;   /* (cw_node_options) on the simulated clock, each 0 or 1 ms to
                                      CW_NODE_MAX_INTERVAL_NS;
                                      0: the replicas' defaults (50 and 100 ms) */
    /* Clients (see cw_sim_write): with none of these set, every write is a
     * plain put by no client, as it always was (the same seed, the same run). */
    double rmw_probability;        /* a write reads its key at its node first and writes with that
                                      read's context (read-modify-write), telling the history what
                                      the read returned */
    double delete_probability;     /* a write is a delete: with its read's context when it read
                                      first, else a plain delete (the node's clock) */
    uint32_t clients;              /* 0..4096: writes are made by this many clients, each write by a
                                      random one, their reads and writes recorded with its id */
    bool sessions;                 /* clients keep sessions (needs clients): each acts at a random
                                      node that has applied everything it has seen (its writes'
                                      clocks and its reads' contexts, as cw_engine_wait_for
                                      would wait for), else at the node it used last */
    cw_sim_send_fn send;           /* NULL: the built-in network (cw_sim_run); else the embedder's */
    cw_sim_send_to_fn send_to;     /* the embedder's, or NULL: the replicas' loss recovery off
                                      (cw_sim_run: NULL, the built-in network's recovery is on) */
    void *send_ctx;                /* for send and send_to */
    /* Progress, for a caller that shows it (NULL: none): called on the
     * caller's thread with progress_ctx. cw_sim_run calls it every 1,024
     * steps of its schedule with "making writes" (writes made of `writes`),
     * then "delivering the rest" and "draining the logs" (steps taken of
     * that phase's bound, which is ample: a phase usually ends far below
     * it); cw_sim_finish passes it to the history for its verdict
     * (cw_history_set_progress: "checking keys" and the other phases). It
     * must not call the simulator. */
    cw_history_progress_fn progress;
    void *progress_ctx;
} cw_sim_options;

#define CW_SIM_DEFAULT_PARTITION_STEPS 200u

/* Sets every default: 3 nodes, 50 writes over 4 keys, seed 1, keep
 * siblings, no faults, the replicas' default limits and recovery timings,
 * partitions (when asked for) of up to CW_SIM_DEFAULT_PARTITION_STEPS steps,
 * the built-in network. */
CW_API void cw_sim_options_init(cw_sim_options *o);

typedef struct cw_sim_report {
    cw_history_report truth;       /* the history's verdict; truth.ok: the run was correct */
    uint64_t deliveries;           /* receives that took the message (any kind) */
    uint64_t duplicates;           /* arrivals the replicas dropped as duplicates */
    uint64_t full_refusals;        /* receives refused with CW_EFULL (the message retried later) */
    uint64_t send_refusals;        /* sends refused, injected or by the transport (writes kept and
                                      flushed; recovery messages repeated by the replica) */
    uint64_t put_refusals;         /* writes refused with CW_EFULL (too many unsent) or CW_ESTALLED
                                      (the retransmission log is full): not made */
    uint64_t max_buffered;         /* largest causal buffer any replica had */
    uint64_t conflicts;            /* sibling-creating writes, summed over replicas */
    uint64_t dropped;              /* built-in network: message copies lost (drop_probability, or a
                                      cut link: sent on it, or in flight when it was cut) */
    uint64_t partitions;           /* built-in network: partitions started */
    uint64_t retransmitted;        /* writes sent again on request, summed over replicas */
    uint64_t recovered;            /* writes that reached a replica only by a retransmission, summed */
    char violation[512];           /* the first violation and the seed, or empty */
} cw_sim_report;

/* Runs one whole seeded schedule on the built-in network: writes at random
 * nodes interleaved with deliveries of in-flight messages in random order
 * (delay and reordering), duplicates, link holds (messages wait), losses,
 * partitions and refused sends, as the options ask. The replicas' loss
 * recovery is on: their send_to goes to the built-in network (a directed
 * message to its node only, CW_NODE_ALL to every other node), and every step
 * each replica whose next tick is due (cw_node_next_tick) is ticked at the
 * simulated time.
 *
 * Partitions: at each step of the write phase, with partition_probability,
 * a random side is drawn (one random node on it, another off it, every
 * other node by a coin) and the links between it and the rest are cut,
 * both ways, or only from the side, or only to it (a third each), for a
 * random 1..partition_steps steps (a link cut again stays cut until the
 * later end). A cut link loses what is in flight on it and every message
 * sent on it until it heals.
 *
 * The end: every hold and cut is lifted (drop_probability still applies)
 * and the network runs, offering refused sends again each step, until
 * every replica has applied every write; then until every retransmission
 * log is empty, every replica's stable clock is its final clock and
 * nothing is in flight. Each phase has a bound of steps (ample: it grows
 * with the writes, nodes, messages in flight and the recovery timings);
 * missing it is a violation ("did not converge", "logs did not drain", with
 * the first lagging replica's recovery statistics and the seed), reported
 * with the history's verdict. Then the run is checked against its history.
 * Returns CW_OK when the run completed (report->truth.ok says whether it
 * was correct), or CW_EINVAL (bad options, or o->send or o->send_to set),
 * CW_ELIMIT (the replicas and the history would pass this machine's
 * physical memory: quadratic in nodes), CW_ENOMEM, CW_ETIMEDOUT (writes
 * could not be made: every put refused for too long), or a replica's
 * error; *report is then unchanged.
 * Single-threaded; cost grows with writes * nodes, and with nodes^3 while
 * replicas report (each reports an O(nodes) clock to every other every
 * report interval): one write took 2 s at 512 nodes, 24 s at 1024. */
CW_API int cw_sim_run(const cw_sim_options *o, cw_sim_report *report);

/* A simulator for the embedder's own loop and transport (o->send required):
 * `nodes` replicas on a simulated clock, recording into a history. The
 * embedder makes writes with cw_sim_write, carries each message its send
 * callback takes, hands it to each other node with cw_sim_receive, flushes
 * refused sends with cw_sim_flush, and ends with cw_sim_finish. With
 * o->send_to, the replicas' loss recovery is on: the embedder also carries
 * what send_to takes and calls cw_sim_tick as time passes (the replicas
 * pull what they miss and report what they applied only when ticked).
 * CW_EINVAL (bad options, no send), CW_ELIMIT (the replicas and the history
 * would pass this machine's physical memory: quadratic in nodes), CW_ENOMEM.
 * Destroy with cw_sim_destroy. */
CW_API int cw_sim_create(cw_sim **out, const cw_sim_options *o);
/* Frees the simulator, its replicas and every message they hold. NULL is
 * ignored. The embedder releases the references its transport took. */
CW_API void cw_sim_destroy(cw_sim *s);

/* One seeded write (a random key among o->keys, a random binary value) at
 * node `at`, or at a random node if at is CW_SIM_ANY_NODE; the replica
 * offers its message to the send callback before this returns (or queues it
 * behind refused ones, for cw_sim_flush). With the options' mix: made by a
 * random client; a read-modify-write (cw_node_get, then cw_node_put_ctx or
 * cw_node_delete with its context) or a plain delete; with sessions, at the
 * client's last node instead when `at` has not applied what the client has
 * seen. Every read and write is recorded with the history (cw_history_wrote,
 * cw_history_client_read). *made
 * (nullable) gets the node written at. Advances the simulated clock by 1 ms.
 * CW_EINVAL (at out of range, or after cw_sim_finish), CW_ELIMIT (o->writes
 * made already),
 * CW_EFULL (max_unsent messages of that node wait: flush first) or
 * CW_ESTALLED (that node's own writes fill its max_log: cw_node_put), with
 * no write made, though a read-modify-write's read was made and recorded,
 * and that node is the client's last; CW_ENOMEM. */
#define CW_SIM_ANY_NODE UINT32_MAX
CW_API int cw_sim_write(cw_sim *s, uint32_t at, cw_node_id *made);

/* Hands message m, carried by the transport, to node `to`, exactly as
 * cw_node_receive (the caller keeps its reference; *result nullable): a
 * write, or with send_to a pull or a report. CW_EFULL: the replica cannot
 * hold it now; keep it in flight and hand it over again later (after
 * others), or, with send_to, drop it (it is pulled again; a FIFO link that
 * keeps it at its head can block the very write the replica waits for).
 * Advances the simulated clock by 1 ms. CW_EINVAL (to out of range, or
 * after cw_sim_finish). */
CW_API int cw_sim_receive(cw_sim *s, cw_node_id to, cw_msg *m, cw_receive_result *result);

/* Offers node's refused messages to the send callback again (see
 * cw_node_flush); node CW_SIM_ANY_NODE flushes every node. Returns 0 when
 * none is left waiting, else the refusal's code; CW_EINVAL (node out of
 * range, or after cw_sim_finish). */
CW_API int cw_sim_flush(cw_sim *s, uint32_t node);

/* Advances the simulated clock by 1 ms and ticks `node` (cw_node_tick at
 * the simulated time), or, for CW_SIM_ANY_NODE, every node whose next tick
 * is due (cw_node_next_tick). Its pulls and reports go to the send_to
 * callback before this returns. *pending (nullable) gets whether that node
 * (CW_SIM_ANY_NODE: any node) still has a tick scheduled: false means time
 * alone will not make it send anything, so a loop whose transport is empty
 * and whose nodes have nothing unsent may stop. Without send_to nothing is
 * ever pending. Returns 0 or the replica's error; CW_EINVAL (node out of
 * range, or after cw_sim_finish). */
CW_API int cw_sim_tick(cw_sim *s, uint32_t node, bool *pending);

/* The next number of the run's seeded stream, for the embedder's own
 * choices (which message to deliver next), so that a seed replays the
 * whole run. 0 for NULL. */
CW_API uint64_t cw_sim_random(cw_sim *s);

/* Ends the run: reports every replica's final state to the history and
 * fills *report with the verdict. Call when every message has been
 * received everywhere and nothing waits to be sent (else the verdict finds
 * lost writes). A later call gives the same report; cw_sim_write,
 * cw_sim_receive, cw_sim_tick and cw_sim_flush then return CW_EINVAL (the
 * final states are recorded). CW_ENOMEM (report unchanged; part of the
 * final states may be recorded, so the run cannot be judged again: every
 * later call, this one included, returns CW_EINVAL). */
CW_API int cw_sim_finish(cw_sim *s, cw_sim_report *report);

#ifdef __cplusplus
}
#endif
#endif
