/* The fault layer: what happens to a message between its arrival at a host's
 * thread and its delivery to one replica there. Seeded decisions (drop,
 * delay, duplicate), a delay heap per lane, link holds whose messages wait,
 * in order, until released, and link cuts (partitions) that lose what
 * crosses them. Independent of the transport: the host passes every arrival
 * through it, whichever transport brought it.
 *
 * Counted messages (cw__msg_counted: a write's first copy) are deliveries
 * the host owes; the rest (pulls, reports, retransmitted copies) is the
 * replicas' recovery traffic, best effort: lost, never parked on a held
 * link, never duplicated, and never counted here.
 *
 * A link is named by its sender: a message's origin, except for a
 * retransmitted copy (its origin is the write's, not its sender's). A
 * copy's drop and cut the host decides where it is sent
 * (cw__faults_send_lost), unless the route names the sender (a host whose
 * link knows who sent each arrival): then they are decided on arrival, the
 * cut by the link from that sender, as for any other message. A hold keys
 * every message by origin, retransmitted copies too: a held link from o to
 * j delays o's writes to j by whatever path they take.
 *
 * A lane is one receiving thread (the engine's worker); its delay heap is
 * that thread's, and so are the messages on its list of released holds,
 * which any thread's release appends to. The host supplies the
 * delivery (cw__deliver_fn) that a route reaches when no fault keeps it.
 */
#ifndef CW_FAULT_H
#define CW_FAULT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <causeway/msg.h>

#include "map.h"

/* One delivery: a message to one node. */
typedef struct cw__route {
    cw_msg *msg;
    cw_node_id to;
    uint32_t copy;        /* 0: the original; 1: an injected duplicate */
    /* Who sent a retransmitted copy, when the host's link knows it (a node
     * process's ROUTER does; the engine's rings do not, and decide where a
     * copy is sent instead): then the link from that sender decides its cut. */
    bool sender_known;
    /* The host drew the original's drop already (cw__faults_dropped_here,
     * before it routed the rest): cw__faults_route does not draw it again.
     * An injected duplicate draws its own. */
    bool drop_drawn;
    cw_node_id sender;
} cw__route;

/* A growing list of routes, each owning one reference. */
typedef struct cw__routes {
    cw__route *r;
    size_t len, cap;
} cw__routes;

/* Appends r (its reference moves in). False if memory ran out (unchanged). */
bool cw__routes_push(cw__routes *v, cw__route r);
/* Drops every route's reference and frees the list; leaves it empty. */
void cw__routes_release(cw__routes *v);

/* The host's delivery of r at lane; r.msg is borrowed (the callee takes a
 * reference if it keeps it). */
typedef void cw__deliver_fn(void *host, uint32_t lane, cw__route r);

typedef struct cw__fault_options {
    uint64_t seed;
    double drop_probability;        /* 0..1 */
    double delay_probability;       /* 0..1 */
    uint32_t max_delay_us;
    double duplicate_probability;   /* 0..1 */
} cw__fault_options;

typedef struct cw__timed {
    uint64_t due_ns;
    cw__route r;
} cw__timed;

/* One released hold's queue, on its way back to a lane. Made when the link
 * is held, so that the release itself needs no memory. */
typedef struct cw__released {
    struct cw__released *next;
    cw__routes q;
} cw__released;

typedef struct cw__fault_lane {
    cw__timed *delayed;             /* min-heap by due_ns; the lane's thread only */
    size_t dlen, dcap;
    pthread_mutex_t released_lock;  /* released holds, from client threads */
    cw__released *released, **released_tail; /* oldest release first */
    _Atomic uint32_t released_waiting; /* nonzero while any release waits on the list */
    uint64_t rng;                   /* the lane thread's draws for recovery traffic */
} cw__fault_lane;

typedef struct cw__faults {
    cw__fault_options o;
    bool on;                        /* drop, delay or duplicate can happen */
    cw__fault_lane *lane;
    uint32_t lanes;
    cw__deliver_fn *deliver;
    void *host;
    pthread_mutex_t holds_lock;
    _Atomic uint32_t holds_active;  /* links held or cut now; 0 skips the table */
    _Atomic uint32_t cuts_active;   /* links cut now */
    cw__map holds;                  /* per link: held, cut, what a hold keeps */
    _Atomic uint64_t injected;      /* deliveries added: duplicates, released holds */
    _Atomic uint64_t parked;        /* deliveries kept on held links */
    _Atomic uint64_t lost;          /* counted deliveries dropped or cut (done: never owed again) */
    _Atomic uint64_t dropped;       /* every message lost, counted or not (statistics) */
    const _Atomic bool *closing;    /* the host's; NULL: never (see cw__transport.closing) */
    _Atomic uint32_t *memory_waits; /* the host's; NULL: not counted (see cw__transport.memory_waits) */
    /* The host's links lose messages anyway and its replicas recover what
     * is lost (a node process, whose host thread routes under its own
     * lock): a route a held link cannot keep for want of memory is lost,
     * as a cut loses it, instead of waiting for memory. */
    bool lose_unkept;
} cw__faults;

/* CW_OK, CW_EINVAL (a probability outside 0..1), or CW_ENOMEM (f is then
 * cleared). Destroy with cw__faults_destroy, once no lane runs. */
int cw__faults_init(cw__faults *f, const cw__fault_options *o, uint32_t lanes, cw__deliver_fn *deliver,
                    void *host);
/* Drops every delayed and held message and frees what f holds. */
void cw__faults_destroy(cw__faults *f);

/* Whether arrivals may skip cw__faults_route: no link is held and no fault
 * is configured. A hold placed meanwhile applies from the next check on. */
bool cw__faults_direct(const cw__faults *f);

/* Whether drop is the only fault configured and no link is held or cut:
 * arrivals may then go in batches, each route passed through
 * cw__faults_dropped_here first. */
bool cw__faults_drop_only(const cw__faults *f);
/* Whether drop is configured and no link is held or cut: a host may then
 * draw each arrival's drop first (cw__faults_dropped_here), where it still
 * knows what came before it on its link, and route the rest with drop_drawn
 * set (delay and duplicate apply as usual). */
bool cw__faults_drop_first(const cw__faults *f);
/* The drop decision for one route (as cw__faults_route makes it), counted
 * when it is lost: whether r is lost. Lane's thread only. */
bool cw__faults_dropped_here(cw__faults *f, uint32_t lane, cw__route r);

/* Routes one delivery at `lane` through holds and (if faults) the seeded
 * faults to the host's delivery. r.msg is borrowed; a reference is taken
 * whenever the route is kept for later. Lane's thread only. */
void cw__faults_route(cw__faults *f, uint32_t lane, cw__route r, bool faults);

/* Lane's thread: delivers the delayed routes now due, and the routes a
 * released hold sent back to this lane. Whether any were. */
bool cw__faults_release_due(cw__faults *f, uint32_t lane);
bool cw__faults_take_released(cw__faults *f, uint32_t lane);

/* Lane's thread: whether released routes wait or a delayed one is due at
 * now_ns; and when the next delayed route is due (0: none). */
bool cw__faults_pending(cw__faults *f, uint32_t lane, uint64_t now_ns);
uint64_t cw__faults_next_due(const cw__faults *f, uint32_t lane);

/* Holds (hold_it) or releases the link from -> to. A release sends what the
 * link kept back to `lane` (to's), in order, after what earlier releases
 * sent there: *released says whether any, so the caller wakes that lane. A
 * hold placed later does not keep them again. A release needs no memory and
 * never waits: the hold made room for it. Any thread. CW_OK, or CW_ENOMEM
 * from a hold of a link not held (the link is then not held). */
int cw__faults_hold(cw__faults *f, cw_node_id from, cw_node_id to, bool hold_it, uint32_t lane, bool *released);

/* Cuts (cut_it) or heals the link from -> to: while cut, what crosses it is
 * lost. Any thread. CW_OK or CW_ENOMEM. */
int cw__faults_cut(cw__faults *f, cw_node_id from, cw_node_id to, bool cut_it);

/* At the sender (`lane` is its thread's): whether a retransmitted copy sent
 * from -> to is lost (the link is cut, or the drop draw). Counts it as
 * dropped. */
bool cw__faults_send_lost(cw__faults *f, uint32_t lane, cw_node_id from, cw_node_id to);

/* Calls fn for each link held or cut now, under the table's lock (fn must
 * not call back into f). Any thread. */
void cw__faults_each_link(cw__faults *f, void (*fn)(void *ctx, cw_node_id from, cw_node_id to, bool held, bool cut),
                          void *ctx);

/* Origin restarted without its state: drops the reports and pulls of
 * origin that lane's delay heap holds, sent by the process that is gone.
 * A report counts in a stability round as what its sender has applied; the
 * new process may have installed less (a snapshot from a peer that lacked
 * a write the old one had), so the old word, arriving after the peer
 * answered the new process, could make a write stable that the new process
 * never gets. (The old process's writes are kept: the new process's
 * installed state holds each of them that any peer knows of, with its
 * causal past, so their clocks say nothing false; and over the network the
 * old connection's later messages are dropped or come under another
 * routing id, refused: net.h.) Returns how many were dropped, which
 * cw__faults_dropped counts too. The lane's thread. */
size_t cw__faults_forget_reports_of(cw__faults *f, uint32_t lane, cw_node_id origin);

/* The highest seq of origin's writes this layer keeps from node `to`:
 * delayed, released from a hold and not yet delivered, or kept on the held
 * link origin -> to; 0 if none. They have arrived but the replica has not
 * seen them, so a host that tells a restarted origin which of its own
 * writes it holds counts them too. The lane's thread. */
uint64_t cw__faults_parked_seq(cw__faults *f, uint32_t lane, cw_node_id origin, cw_node_id to);

/* For quiescence (cw_engine_quiesce): read parked and lost with the
 * deliveries done, before injected with the deliveries owed. Acquire: pairs
 * with the releases that count them. */
uint64_t cw__faults_parked(const cw__faults *f);
uint64_t cw__faults_lost(const cw__faults *f);
uint64_t cw__faults_injected(const cw__faults *f);
/* Messages lost so far, counted or not (relaxed: statistics). */
uint64_t cw__faults_dropped(const cw__faults *f);

#endif
