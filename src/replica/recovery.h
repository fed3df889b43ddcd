/* Loss recovery and causal stability of one replica (recovery.c), called
 * from node.c at the points where a replica learns something:
 *
 *  - a write or report from a peer: what that peer has applied (stability),
 *    and which writes exist that this replica has not applied (gaps);
 *  - a write applied: it enters the retransmission log;
 *  - a pull: the writes asked for go back to the asker;
 *  - a tick: pulls for gaps old enough to be losses, reports, rounds.
 *
 * Sans-I/O like the rest of the replica: time enters only through
 * cw_node_tick (and, from this library's own hosts, cw__node_note_time at a
 * put), output only through the send_to callback.
 */
#ifndef CW_RECOVERY_H
#define CW_RECOVERY_H

#include <stdint.h>
#include <causeway/msg.h>

struct cw_node;

int  cw__recovery_init(struct cw_node *n);
void cw__recovery_destroy(struct cw_node *n);

/* Room to log m, and to track it if it is a tombstone (before it is applied). */
int  cw__recovery_reserve(struct cw_node *n, const cw_msg *m);
/* Write m has been applied here (local or remote). */
void cw__recovery_applied(struct cw_node *n, cw_msg *m);
/* Peer `from` has applied at least `applied` (a write's clock, a report). */
void cw__recovery_heard(struct cw_node *n, cw_node_id from, const uint64_t *applied);
/* Origin itself sent its writes up to seq before a message that arrived
 * (its later write, or its report): one of those missing was lost. */
void cw__recovery_sent_before(struct cw_node *n, cw_node_id origin, uint64_t seq);
/* A message from origin itself (its own write's first copy, or its
 * report) arrived: it still talks to this node. */
void cw__recovery_heard_origin(struct cw_node *n, cw_node_id origin);
/* A write came again (a duplicate, m): if one of its two copies was an
 * answer to a pull, the pull was early, and that origin's timeout grows. */
void cw__recovery_twice(struct cw_node *n, const cw_msg *m);
/* Seq `seq` of origin exists and `holder` has applied it (a buffered write's
 * own seq, or its blocker's counter). */
void cw__recovery_saw(struct cw_node *n, cw_node_id origin, uint64_t seq, uint32_t holder);
/* A local write's message went out: it carries this node's clock. */
void cw__recovery_sent_clock(struct cw_node *n);
/* Pulls and reports (receive of those kinds). */
int  cw__recovery_pull(struct cw_node *n, const cw_msg *pull);
int  cw__recovery_report(struct cw_node *n, const cw_msg *report);

#endif
