/* The engine: N replicas (cw_node) hosted on worker threads that exchange
 * replicated writes through lock-free single-producer rings, with a seeded
 * fault layer (delay, reordering, duplication) and link holds (partitions).
 *
 * Threads: every function may be called from any number of client threads at
 * once, on any nodes. Shutting down is two steps, as with sockets:
 * cw_engine_shutdown may run at any time, also while writers are still
 * calling: calls in progress finish (a put blocked on backpressure returns
 * CW_ECLOSED), every later call returns CW_ECLOSED, and it returns once none
 * is inside the engine and the workers have stopped. cw_engine_close frees
 * the engine (shutting it down first if needed) and must come after every
 * thread has stopped calling. Each node's state is changed by one thread at a
 * time (its worker, or a client's put under the node's lock). A put that
 * finds its node's lock taken may be made for its caller by the thread
 * holding it (the node's worker, or another caller's put), which then also
 * runs the put's on_apply; the call returns once it is made.
 *
 * Placement: node j runs on worker j mod workers. A write made at node i is
 * one message, allocated once, shared by reference among every receiver;
 * it crosses one ring per destination worker and is fanned out there.
 */
#ifndef CAUSEWAY_ENGINE_H
#define CAUSEWAY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <causeway/export.h>
#include <causeway/node.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_engine cw_engine;

/* Called for every write applied at any node, local or remote, on the
 * applying thread, under that node's lock. For a local write that is not
 * always the put's caller (see "Threads"). It must not call into an engine,
 * this one or another (it would wait for the lock it runs under, for the
 * worker it runs on, or for another engine's worker waiting on this one):
 * every such call returns CW_EINVAL, and cw_engine_shutdown and
 * cw_engine_close do nothing. The same holds for the merge function
 * (CW_MERGE_CALLBACK) and cw_engine_each_key's fn. To act on a write in
 * another engine, hand it to a thread of your own. */
typedef void (*cw_engine_apply_fn)(void *ctx, cw_node_id node, const cw_msg *msg);

typedef struct cw_engine_options {
    uint32_t nodes;                 /* replicas, 1..65536 (required) */
    uint32_t workers;               /* threads; 0 = one per online CPU, at most
                                       one per node */
    uint32_t inbox_capacity;        /* writes a node may have in flight (made, not yet
                                       applied at every other node) before its puts
                                       block, and about the messages a worker-to-worker
                                       ring holds; 0 = 4096; at most
                                       CW_ENGINE_MAX_INBOX_CAPACITY */
    cw_conflict_policy policy;      /* LWW orders by hybrid logical timestamp, then node id */
    uint64_t seed;                  /* for the fault layer */
    double   delay_probability;     /* 0..1: a message is held back ... */
    uint32_t max_delay_us;          /* ... for up to this long (reorders) */
    double   duplicate_probability; /* 0..1: a message is delivered twice */
    double   drop_probability;      /* 0..1, below 1: a message is lost in transit (each
                                       copy to each node, recovery traffic too); replicas
                                       detect the gap and recover the write */
    cw_merge_fn merge;              /* for CW_MERGE_CALLBACK */
    void *merge_ctx;
    size_t max_key_len;             /* 0 = CW_NODE_DEFAULT_MAX_KEY_LEN */
    size_t max_value_len;           /* 0 = CW_NODE_DEFAULT_MAX_VALUE_LEN */
    size_t max_buffered;            /* per node causal buffer; 0 = CW_NODE_DEFAULT_MAX_BUFFERED */
    size_t max_siblings;            /* versions a write with a context may leave its key
                                       with, else CW_ESIBLINGS (cw_node_options);
                                       0 = CW_NODE_DEFAULT_MAX_SIBLINGS */
    cw_engine_apply_fn on_apply;    /* optional: see cw_engine_apply_fn */
    void *apply_ctx;
    /* Loss recovery and causal stability (cw_node_options; on whenever
     * nodes > 1): every node logs the writes it applied until they are
     * stable, pulls what it misses, and reports its clock when idle. */
    uint32_t recovery_timeout_us;   /* a write missing this long is pulled;
                                       0 = 2 ms + 2 x max_delay_us */
    uint32_t report_interval_us;    /* an idle node's clock report; 0 = 10 ms, or 1 ns x nodes^3
                                     * beyond 215 nodes (1.07 s at 1,024), at most 10 s */
    size_t   max_log;               /* a node's own writes not yet stable before its
                                       puts wait (then CW_ESTALLED);
                                       0 = 2 x inbox_capacity */
    uint32_t stall_timeout_ms;      /* how long a put waits for room in flight or for
                                       stability before CW_ESTALLED; 0 = 10 s */
    bool     no_recovery;           /* true: no log, no pull, no report (a network
                                       that never loses, and the baseline that
                                       measures recovery's cost); drop_probability
                                       must then be 0, and cut_link and delete are
                                       refused */
} cw_engine_options;

/* Sets every default; nodes = 1. */
CW_API void cw_engine_options_init(cw_engine_options *o);

/* The largest inbox_capacity accepted (sizes computed from it cannot wrap). */
#define CW_ENGINE_MAX_INBOX_CAPACITY (1u << 24)

/* Starts the workers. CW_EINVAL on bad options (nodes 0 or > 65536,
 * probabilities outside 0..1, drop_probability 1, workers > nodes,
 * inbox_capacity above CW_ENGINE_MAX_INBOX_CAPACITY), CW_ENOMEM, CW_ELIMIT
 * if threads cannot be started or the engine's fixed memory would exceed
 * this machine's physical memory. Close with cw_engine_close.
 * Cost: every replica keeps state for every sender, so N replicas in one
 * process allocate memory quadratic in N before any write: about 150 x N^2
 * bytes, plus 8 x (inbox_capacity + 1) bytes a node for its outbox (32 KiB
 * at the default). Resident after open with 2 workers (measured): 11 MB at
 * 256 nodes, 132 MB at 1024, 640 MB at 4096 (pages are touched as senders
 * are heard from); 65,536 nodes would allocate ~650 GB and is refused. A
 * message carries the whole clock, 8 x N bytes (8 KiB at 1024 nodes). The
 * README's figures go to 1024 nodes. Workers cost quadratically too: two
 * rings for each ordered pair of workers, about 1.3 KB at the default
 * inbox_capacity (counted in the fixed memory: 1,024 nodes on 1,024
 * workers take 1.56 GB resident at open), and more
 * threads than CPUs wait on each other: at 1000 nodes, 1000 workers took
 * 3 GB and 27 s to quiesce one write, 2 workers 0.25 GB and 4 ms. */
CW_API int  cw_engine_open(cw_engine **out, const cw_engine_options *o);
/* Refuses new calls (CW_ECLOSED), waits for calls in progress, stops the
 * workers. Undelivered messages stay undelivered. Safe at any time and from
 * any thread, also while others are calling; idempotent. From inside an
 * engine's callback it does nothing (see cw_engine_apply_fn). */
CW_API void cw_engine_shutdown(cw_engine *e);
/* Shuts down if needed, then frees everything, including undelivered
 * messages. No thread may use e afterwards. NULL is ignored, and so is a
 * call from inside an engine's callback. */
CW_API void cw_engine_close(cw_engine *e);

/* put: returns once the write is applied at `node`; *clock_out (nullable)
 * gets the write's clock. Replication to the other nodes is asynchronous.
 * Backpressure: blocks (sleeping, not spinning) while `node` has
 * inbox_capacity writes in flight, until an eighth of them are applied
 * everywhere, or the engine shuts down (then CW_ECLOSED), or for at most
 * stall_timeout_ms (then CW_ESTALLED: some node cannot apply them, behind a
 * cut or a held link). Writes in flight
 * are what the engine holds for replication, wherever they are (queues,
 * the fault layer's delays, held links, writes a full causal buffer refused
 * for now). A put blocked at a node whose writes cannot be applied
 * everywhere (a held link: cw_engine_hold_link) waits until they can.
 * Stability bounds what the retransmission logs keep: once max_log of the
 * node's own writes are not yet stable (some node has not said it applied them: a cut link), a
 * put waits up to stall_timeout_ms for stability, then fails with
 * CW_ESTALLED (cw_node_stats.stability_blocker names the node holding it
 * back). So memory is bounded by the options whatever the speed of writers
 * and receivers: at most nodes x max_log messages alive (2 x inbox_capacity
 * each by default), each shared by its receivers and logs.
 * A write that would be refused whatever it waited for (a key or value
 * over max_key_len or max_value_len, a context naming a node out of range
 * or ahead of the node) is refused before it waits.
 * CW_EINVAL (node out of range, NULL key with length), CW_ELIMIT,
 * CW_EOVERFLOW, CW_ENOMEM, CW_ECLOSED, CW_ESTALLED. */
CW_API int  cw_engine_put(cw_engine *e, cw_node_id node, const void *key, size_t key_len,
                          const void *value, size_t value_len, cw_vclock *clock_out);

/* put with the context of a read of the same key (cw_read.context, from
 * any node; a context is not tied to its key, see cw_node_put_ctx): the
 * write replaces exactly the versions the context covers and becomes a
 * sibling of every version it does not cover (cw_node_put_ctx), so a client
 * that reads, resolves and writes never erases a write it did not see.
 * NULL context: the node's whole clock, which is cw_engine_put. The node
 * must have applied what the context covers: CW_EAHEAD if not (call
 * cw_engine_wait_for with the context first). CW_ESIBLINGS if the key
 * would then hold more than max_siblings versions (the context covers too
 * few: read the key and write with the read's context; deletes too).
 * Otherwise as cw_engine_put. */
CW_API int  cw_engine_put_ctx(cw_engine *e, cw_node_id node, const void *key, size_t key_len,
                              const void *value, size_t value_len, const cw_vclock *context,
                              cw_vclock *clock_out);
/* delete: a tombstone under the same rule (cw_node_delete). A read then
 * returns CW_ENOTFOUND, unless a version the delete did not cover is still
 * there (add-wins). Tombstones are collected once causally stable; with
 * no_recovery there is no stability to collect them (no reports), so a
 * delete is refused there (CW_EINVAL) rather than grow the store forever. */
CW_API int  cw_engine_delete(cw_engine *e, cw_node_id node, const void *key, size_t key_len,
                             const cw_vclock *context, cw_vclock *clock_out);

/* get: the key's current versions at `node` (cw_read), and its context.
 * CW_ENOTFOUND if the node has none live (out->context is still set: see
 * cw_node_get). Cheap: takes the node's lock for a copy of its versions. */
CW_API int  cw_engine_get(cw_engine *e, cw_node_id node, const void *key, size_t key_len, cw_read *out);

/* Session guarantee: returns once `node` has applied every write `seen`
 * covers; CW_ETIMEDOUT after timeout_ms, CW_EINVAL for an id >= nodes. A
 * client that merges every clock_out and every read's context into `seen`
 * and calls this before it reads or writes at another node gets
 * read-your-writes, monotonic reads, monotonic writes and
 * writes-follow-reads. It sleeps between looks (20 us doubling to 1 ms). */
CW_API int  cw_engine_wait_for(cw_engine *e, cw_node_id node, const cw_vclock *seen, uint32_t timeout_ms);

/* Holds (hold true) or releases the link from `from` to `to`: while held,
 * writes from `from` to `to` wait, in order, until it is released. They stay
 * in flight (cw_engine_put), so a held link is bounded like every other
 * queue: once inbox_capacity of `from`'s writes wait on it, puts at `from`
 * block until it is released (or the engine shuts down, or stall_timeout_ms
 * passes: CW_ESTALLED). A put at any other
 * node goes on, unless its writes also wait. cw_engine_quiesce does not wait
 * for held writes. A release needs no memory and never waits for it.
 * CW_EINVAL (a node out of range, from == to), CW_ENOMEM (a hold only: the
 * link is then not held), CW_ECLOSED. */
CW_API int  cw_engine_hold_link(cw_engine *e, cw_node_id from, cw_node_id to, bool hold);

/* Cuts (cut true) or heals the link from `from` to `to`: while cut, every
 * message from `from` to `to` is lost (a partition; hold_link delays
 * instead). Cut both ways for a two-way partition. Healing it lets loss
 * recovery catch up. `from`'s writes that `to` lost stay in flight
 * (cw_engine_put) until `to` has recovered them, so, as behind a hold, puts
 * at `from` block once inbox_capacity of them wait (CW_ESTALLED after
 * stall_timeout_ms); a put at any other node goes on, unless its writes wait
 * too (they depend on `from`'s at `to`).
 * CW_EINVAL (a node out of range, from == to, or no_recovery), CW_ENOMEM,
 * CW_ECLOSED. */
CW_API int  cw_engine_cut_link(cw_engine *e, cw_node_id from, cw_node_id to, bool cut);

/* quiesce: wait until no message is in flight outside held links, no node
 * has a deliverable write, and no node misses a write that it can recover
 * from a node it is not cut from (both ways, directly or through others).
 * A node with a held link into it is not waited for at all: the held
 * origin's writes, and any of others' that depend on them, wait for the
 * release, and quiesce does not tell those apart from the rest. After every
 * cut is healed and quiesce returns, every node has applied every accepted
 * write. Once only lost writes remain, it has every node send its clock
 * report at once (not after its report interval; at most once a report
 * interval, across calls), so losses at the end of a run are found and
 * pulled without that wait. CW_ETIMEDOUT after timeout_ms; CW_EINVAL
 * (NULL, or a call from one of the engine's callbacks); CW_ECLOSED (shut
 * down, before or during the call); CW_ENOMEM when, with losses, there is
 * no memory to tell whether every loss is repaired (it says so rather than
 * wait); or the error with which a replica refused a message for good (a
 * message that will never be delivered, which only a bug makes). */
CW_API int  cw_engine_quiesce(cw_engine *e, uint32_t timeout_ms);

/* The causally stable clock known at `node` (sparse copy): writes that every
 * node has applied, as far as `node` has heard (the pointwise minimum of
 * what each node is known to have applied). It trails the clocks by up to
 * a report interval. */
CW_API int  cw_engine_stable(cw_engine *e, cw_node_id node, cw_vclock *out);

/* The node's clock (sparse copy). */
CW_API int  cw_engine_clock(cw_engine *e, cw_node_id node, cw_vclock *out);

/* Statistics of one node (cw_node_stats, with `replication`: put at this node
 * to applied at every node). */
CW_API int  cw_engine_stats(cw_engine *e, cw_node_id node, cw_node_stats *out);

/* Latency over all nodes: replication (put to applied at every node) and
 * buffering (arrival to delivery). Either pointer may be NULL. */
CW_API int  cw_engine_latency(cw_engine *e, cw_latency *replication, cw_latency *buffering);

/* the "system state" of every node: data with clocks, pending writes, clock */
CW_API int  cw_engine_dump(cw_engine *e, FILE *out);

/* Calls fn for every key node holds, with its versions (see cw_node_each_key),
 * under the node's lock: fn must not call back into the engine (as for
 * on_apply, such calls return CW_EINVAL). */
CW_API int  cw_engine_each_key(cw_engine *e, cw_node_id node, cw_key_fn fn, void *ctx);

/* Workers the engine runs. */
CW_API uint32_t cw_engine_workers(const cw_engine *e);

/* How many of the engine's threads wait for memory now: an allocation the
 * engine needs to keep a message failed, and rather than lose the message
 * the thread tries again (yielding, then sleeping up to 1 ms between
 * tries) until it succeeds or the engine closes. Such a thread holds no
 * lock meanwhile: what a node sends under its lock (a pull, an answer, a
 * report, with the node's new writes ahead of it) is refused instead when
 * there is no memory to keep it, the writes stay with the node, and the
 * replica sends again later; so statistics and the other calls on that
 * node go on (a put waits only for room for its write, as ever). Read
 * without any lock, so a host can ask it while the engine is stuck: nothing
 * applied for a while and a nonzero count means memory ran out (causeway
 * stress stops its run then). 0 for NULL. */
CW_API uint32_t cw_engine_memory_waits(cw_engine *e);

#ifdef __cplusplus
}
#endif
#endif
