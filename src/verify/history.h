/* Ground truth for a replication run, recorded independently of the engine's
 * own clocks, and the checks made against it. Used by the deterministic
 * simulator (tests) and by `causeway stress`.
 *
 * The true causal past of a write is what its node had applied when the
 * write was made: past(w)[k] = writes from k applied at origin(w) before w,
 * and past(w)[origin] = w's sequence number. Checks:
 *   - every application respects causality: when node x applies w, x has
 *     applied exactly past(w)[origin] - 1 writes of w's origin and at least
 *     past(w)[k] writes of every other node k (so no write is applied twice
 *     or out of order);
 *   - the engine stamped each write with exactly its true past, so every
 *     comparison of two writes' clocks is the true relation;
 *   - at the end: every node applied every write; every key holds exactly the
 *     writes no other write to it causally follows (its concurrent maximal
 *     writes), or under last-writer-wins the greatest (timestamp, origin); all
 *     nodes agree and have the same clock.
 *
 * Threads: events for node x (cw_history_applied with that x) must come from
 * one thread at a time; different nodes may record concurrently. A write's
 * record is published by its origin's thread before its message is sent, and
 * read by others only after they received it. */
#ifndef CW_VERIFY_HISTORY_H
#define CW_VERIFY_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <causeway/msg.h>
#include <causeway/node.h>

typedef struct cw_history cw_history;

/* max_writes_per_node bounds the writes any one node may make. */
int  cw_history_create(cw_history **out, uint32_t nodes, uint64_t max_writes_per_node,
                       cw_conflict_policy policy);
void cw_history_destroy(cw_history *h);

/* Records that node x applied m (x == origin: m is x's new write). Returns
 * false, with the first violation kept for cw_history_violation, if the
 * application breaks causality or the write's clock is not its true past. */
bool cw_history_applied(cw_history *h, cw_node_id x, const cw_msg *m);

/* Final state of node x, key by key (call for every key x holds). versions
 * are the key's writes as the node holds them. */
void cw_history_final_key(cw_history *h, cw_node_id x, const cw_msg *const *versions, size_t count);
/* Final clock of node x. */
void cw_history_final_clock(cw_history *h, cw_node_id x, const uint64_t *clock);

typedef struct cw_history_report {
    uint64_t writes;            /* writes made */
    uint64_t applications;      /* applications recorded, local and remote */
    uint64_t concurrent_pairs;  /* pairs of writes to one key that are truly concurrent */
    uint64_t ordered_pairs;     /* pairs of writes to one key ordered by happens-before */
    uint64_t keys;
    bool ok;
} cw_history_report;

/* Runs the final checks (after every node reported its keys and clock) and
 * fills the report. True when no violation was found, during or at the end. */
bool cw_history_verdict(cw_history *h, cw_history_report *report);

/* The first violation found, as a sentence, or NULL. */
const char *cw_history_violation(const cw_history *h);

/* Shortcut for drivers that own cw_node objects: reports every key and the
 * clock of node x to the history. */
void cw_history_final_node(cw_history *h, const cw_node *node);

/* The same for node x of an engine (after quiescence). CW_ENOMEM, or the
 * engine's error. */
struct cw_engine;
int cw_history_final_engine_node(cw_history *h, struct cw_engine *e, cw_node_id x);

#endif
