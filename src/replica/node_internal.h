/* Replica internals shared with tests and hosts: the invariant checker,
 * the option check. */
#ifndef CW_NODE_INTERNAL_H
#define CW_NODE_INTERNAL_H

#include <stdbool.h>
#include <causeway/node.h>

/* Checks every invariant listed at the top of node.c. Cost grows with the
 * buffer and the store: for assert() and tests, not for the hot path. */
bool cw__node_check(const cw_node *n);

/* Whether cw_node_create accepts o (nodes 1..CW_VCLOCK_MAX_ENTRIES, self
 * below nodes, a send callback when there are peers, a known policy with its
 * merge callback, max_buffered > 0). Hosts check their options with it. */
bool cw__node_options_valid(const cw_node_options *o);

/* The memory a new replica of a group of `nodes` takes before it holds any
 * write: its clock, what it has applied per origin, and the causal buffer's
 * per-sender indexes (a ring, a head and a waiting list for each sender).
 * Linear in nodes, so N replicas in one process take
 * N times this: quadratic in the group size. */
size_t cw__node_footprint(uint32_t nodes);

/* Adds this node's buffering-latency samples to a histogram (for the
 * engine's totals). */
struct cw__histogram;
void cw__node_add_buffering(const cw_node *n, struct cw__histogram *into);

/* The host's time, on the clock its ticks read, told at a put: the write's
 * clock goes out as this node's report (recovery.c, "Reports"), and is dated
 * by it. Between ticks the replica's time is the last tick's, so without
 * this a node writing without pause dated each write by its last tick and
 * sent reports that its writes had made needless. An earlier time than the
 * replica's is ignored (its time never goes back). */
void cw__node_note_time(cw_node *n, uint64_t now_ns);

/* The host's transport lost a message `from` sent this node, and a later
 * one has come since (a link that numbers its messages sees the skip; the
 * engine's fault layer decides its drops itself). If from's own writes have
 * a gap here that from itself vouched for (its later write or its report
 * came), the gap is a loss, not a write still on its way: it is pulled at
 * the next tick without waiting out recovery_timeout (recovery.c, "Gaps"),
 * and the tick is wanted now (cw_node_next_tick). Otherwise it does
 * nothing: what was lost may have been a report, a pull or an answer, which
 * the replicas repeat after their timeouts (a host that knows which answer
 * it lost says so: cw__node_answer_lost). */
void cw__node_link_lost(cw_node *n, cw_node_id from);
/* The copy of origin's write `seq` that peer `from` sent in answer to this
 * node's pull was lost on its way, and a later message from `from` has come
 * since (a link that numbers its messages sees the skip; a node process's
 * fault layer decides such drops itself). If origin's pulled window went to
 * `from` and still misses writes up to seq, those are asked of `from` again
 * at the next tick (its answers come in order, so any it sent before seq
 * came or were lost too), without waiting out the window's timeout, which
 * stays as it was (a window that times out by then is asked again whole,
 * as always); the tick is wanted now. Otherwise it does nothing. */
void cw__node_answer_lost(cw_node *n, cw_node_id from, cw_node_id origin, uint64_t seq);

/* The host asks for this node's report at its next tick, whatever its
 * interval (a report lets a peer that lost this node's last writes learn
 * of them; without new writes it would come only after the interval). For
 * a host waiting for the replicas to agree, such as the engine's quiesce.
 * Wants a tick now. */
void cw__node_report_now(cw_node *n);
/* cw__node_report_now, the report asking every peer to report back (as a
 * node with writes not yet stable does): for a host that must hear what
 * its peers have applied of its own writes (server.c, invariant 4b). */
void cw__node_ask_reports(cw_node *n);

/* cw_node_receive_many that also stops once pause(pause_ctx) says so,
 * asked every PAUSE_EVERY (16) arrivals and every 16 writes a drain
 * applies (the writes one arrival releases from the buffer): rc CW_OK with
 * *taken < count, the rest left to the caller. A host whose clients wait
 * for the node's lock uses it to let them in (the engine's combining).
 * When a drain stopped, cw__node_paused is true until a later call of this
 * (count 0 to finish it) has applied the rest: the host calls it again
 * before it lets go of the node. Meanwhile it may make a local write at the
 * node, and nothing else: a plain put leaves the rest for that call; a put
 * or delete with a context applies the rest first (without pausing), so
 * that a context covering them is not refused as ahead. No arrival is
 * taken while a drain's rest waits (paused, or out of memory: then the
 * first arrival is refused with CW_ENOMEM). */
int cw__node_receive_many_pausable(cw_node *n, cw_msg *const *msgs, size_t count, size_t *taken,
                                   size_t *delivered, bool (*pause)(void *ctx), void *pause_ctx);
bool cw__node_paused(const cw_node *n);

/* What a local write (put or delete) of these sizes with this context
 * (nullable) is refused for, however long it waits: CW_ELIMIT (a key or
 * value over the node's limits), CW_EINVAL (a context naming a node out of
 * range) or, with ahead_too, CW_EAHEAD (a context covering writes the node
 * has not applied: read under whatever guards its clock); else CW_OK. The
 * limits and ids need no lock: they are the node's fixed options. */
int cw__node_write_refused(const cw_node *n, size_t key_len, size_t value_len, const cw_vclock *context,
                           bool ahead_too);
/* Whether a write (put or delete) with this context, valid and not ahead,
 * would leave its key with more than max_siblings versions: refused with
 * CW_ESIBLINGS. Read under whatever guards the node's store. */
bool cw__node_too_many_siblings(const cw_node *n, const void *key, size_t key_len, const cw_vclock *context);

/* Each write the retransmission log holds (applied, not yet stable) in
 * turn: per origin in seq order, each origin's run ending
 * at the clock's entry, so that cw_node_restore takes them back (a peer
 * restarted without state installs them with a snapshot: the writes are
 * in no other log once their last logger restarted). fn's message is
 * borrowed for the call. */
void cw__node_each_logged(const cw_node *n, void (*fn)(void *ctx, const cw_msg *m), void *ctx);

/* cw_node_get, if the bytes of the key's live values, which *values always
 * gets (0 for none), are at most `most`; else CW_ELIMIT, nothing copied and
 * out unchanged, so a host refuses a read too large to answer before it
 * pays for the copy. Those bytes are what the read copies (before a
 * CW_MERGE_CALLBACK merge, whose value may be of any size); each value is
 * in memory, so the sum cannot wrap. */
int cw__node_get_at_most(cw_node *n, const void *key, size_t key_len, size_t most, size_t *values, cw_read *out);

/* The stable clock's counters (the node's own when it is alone). */
const uint64_t *cw__node_stable_counters(const cw_node *n);
/* Lowers the stable clock to at most cap, per origin: a saved stable clock
 * that cw_node_restore's log alone would overstate (a state installed
 * without a log saves a stable clock below where its log starts). */
void cw__node_cap_stable(cw_node *n, const uint64_t *cap);
/* The peer a stability round has waited for over two report intervals, or
 * CW_NODE_NONE. */
uint32_t cw__node_stability_blocker(const cw_node *n);

#endif
