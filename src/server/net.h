/* The network transport: cw__transport (transport.h) over ZeroMQ, for one
 * process that hosts one endpoint, its node (endpoints = nodes; endpoint j
 * is node j, in process j).
 *
 * One ROUTER bound at `listen` takes what peers send; one DEALER per peer,
 * connected to the peer's endpoint with the routing id "cw-node-<self>",
 * carries what this node sends it. A message for a peer is encoded at once
 * for that peer's link (wire.h: compact frames, one state per link) and
 * waits in the link's batch until flush (or until the batch is full, unless
 * the options hold it); flush hands each batch to its DEALER.
 *
 * It lives in src/server, not src/transport, so that libcauseway keeps no
 * ZeroMQ dependency; it programs against transport.h like inproc.c does.
 *
 * How it differs from inproc.c (transport.h says which contract is whose):
 *  - It may lose a message: a link at its high-water mark does not take the
 *    batch (counted in link_full) and sending() is always false; the host
 *    runs loss recovery (its replica keeps every write in its
 *    retransmission log until stable), which repairs the loss. send takes
 *    no reference: it encodes the message before it returns.
 *  - Threads: the send side (send, send_all, flush and every cw__net_ call
 *    marked "send side") may run on any thread, one at a time, serialized
 *    by the host (the node server's lock), with a barrier between threads
 *    (a mutex's), as ZeroMQ requires of a socket that changes threads. The
 *    receive side (take, arrived, park_prepare, park_cancel, park_wait and
 *    the calls marked "receive side") is one thread's, the host's loop.
 *    wake may be called from any thread.
 *  - park_wait returns at once while the last take left messages behind (it
 *    stopped at max, or at a join request), and otherwise sleeps on the
 *    ROUTER's ZMQ_FD until something came, a wake, or the timeout. So the
 *    host parks without calling arrived first: arrived looks at the ROUTER,
 *    two system calls inside libzmq (net.c, park_wait).
 *  - take also handles the link's control messages (a join request, a
 *    snapshot answer, a reset: docs/node-server.md), calling the host's
 *    callbacks (cw__net_control) on the receiving thread as each comes; a
 *    join request ends the take, so the host handles it after every
 *    arrival that came before it.
 *  - A restarted peer's new connection takes over its routing id
 *    (ZMQ_ROUTER_HANDOVER): libzmq drops the old connection's unread
 *    messages (while that connection is open) or delivers them under an id
 *    of its own, which no peer has. So nothing the old process sent is
 *    taken as that peer's after the new process's first message (its join
 *    request): it is gone, or refused as from a process that is not a
 *    peer.
 */
#ifndef CW_NET_H
#define CW_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/msg.h>

#include "allow.h"
#include "transport.h"

/* A snapshot answer (a joining node's request answered): the sender's
 * clock, the most of the receiver's own writes the sender knows of
 * (applied, or waiting in a buffer), the request's nonce, every version
 * the sender holds, and its retransmission log (the writes it applied that
 * are not yet stable: cw_node_restore's `log`). */
typedef struct cw__net_snapshot {
    uint64_t *clock;           /* nodes counters */
    uint64_t seen;
    uint64_t nonce;
    cw_msg **versions;         /* count messages, one reference each */
    size_t count;
    cw_msg **log;              /* log_count messages, one reference each: the tail
                                  of versions' array (freed with it) */
    size_t log_count;
    bool with_log;             /* the answer has a log, empty or not (an earlier
                                  release's has none: its stable clock is unknown) */
    bool head_only;            /* an answer to a head request: clock, seen and
                                  nonce, no versions and no log */
} cw__net_snapshot;

/* Frees what sn holds and zeroes it. */
void cw__net_snapshot_clear(cw__net_snapshot *sn);

/* The host's handlers of control arrivals, called by take on the receiving
 * thread (any of them may be NULL: the message is then ignored). */
typedef struct cw__net_control {
    void *ctx;
    /* Peer `from` asks for this node's state (it started without its own),
     * under `nonce`, which the answer carries back; with head_only, for
     * the answer's head alone (its clock and seen: cw__net_send_head). */
    void (*join)(void *ctx, uint32_t from, uint64_t nonce, bool head_only);
    /* Peer `from` is a new process that took back its saved state: the link
     * to it should start afresh (cw__net_reset or cw__net_drop). */
    void (*reset)(void *ctx, uint32_t from);
    /* Peer `from`'s snapshot answer, checked against the bounds (at most
     * 2^24 versions and 4 GiB of them, counters below 2^62, seen at least
     * the clock's entry for this node) and decoded; a malformed one is
     * counted, not handed over. The handler may take what *sn holds
     * (zeroing it); what it leaves is freed. */
    void (*snapshot)(void *ctx, uint32_t from, cw__net_snapshot *sn);
} cw__net_control;

typedef struct cw__net_options {
    uint32_t self, nodes;
    const char *listen;                 /* ZeroMQ endpoint bound for arrivals */
    const char *const *peers;           /* [nodes]: node j's endpoint; [self] unused */
    uint32_t hwm;                       /* high-water mark of each link, messages */
    /* ZeroMQ heartbeat interval, timeout 3x; 0: off. libzmq 4.3.4 (Debian
     * 12's) can abort the process ("Assertion failed: !_io_error",
     * stream_engine_base.cpp:331; libzmq issues 3937, 4364, 4841) when a
     * heartbeat times out on a link whose queue is full, as a peer paused
     * (SIGSTOP) makes it: with heartbeats of 100 ms and --hwm 5 a healthy
     * node aborted within one or two pauses, without them none did in 120
     * (tests/cli/paused.sh). Without heartbeats a peer that stops
     * answering is noticed by TCP alone; what its links drop meanwhile is
     * pulled again, as after any loss. */
    uint32_t heartbeat_ms;
    /* TCP links only; 0: off. A link whose sent data stays unacknowledged
     * this long (its peer's host gone, its packets dropped, or a peer that
     * reads nothing with its window shut) is closed by the kernel
     * (ZMQ_TCP_MAXRT: Linux's TCP_USER_TIMEOUT), and a connection attempt
     * that has not completed this long is given up (ZMQ_CONNECT_TIMEOUT),
     * so the DEALER connects anew every interval while the peer cannot be
     * reached and the link is back within about this long after it heals.
     * Without it TCP's retransmissions back off while a cut lasts, and the
     * link resumes only at the next one: measured, 12.5 s after a 14 s
     * cut, and 1.1 s with 1000 ms here (tests/cli/longcut.sh). Keepalive
     * probes after as long idle close a connection whose far end the
     * timeout closed (link_options). No timer goes into libzmq's engine,
     * whose abort above comes from one. What a closed connection held is
     * lost and pulled again, as after any loss. */
    uint32_t link_timeout_ms;
    /* CURVE, or NULL: this node's secret key and every peer's public key,
     * Z85 (cw__net_check_keys). Used while opening only. */
    const char *curve_secret;
    const char *const *curve_peers;     /* [nodes]; [self] unused */
    /* NULL, or the addresses the ROUTER takes connections from (a
     * connection from elsewhere is refused at its handshake, with or
     * without CURVE). Used while opening only. */
    const cw__allow *allow;
    /* The group's name (server.h, cw__server_group_ok), or NULL for none: every
     * link's routing id carries it, and a peer of another group (or of
     * none, where this node has one) is refused, as a stranger is. */
    const char *group;
    cw_msg_limits lim;                  /* what an arriving frame may hold */
    /* true: frames wait in their batch until flush (the host saves its
     * state before it flushes), as many as the link's bound lets (64 MiB
     * with what ZeroMQ holds of the link; past it a frame is lost, as at a
     * full link); false: a batch that reaches CW__NET_BATCH_FRAMES or
     * CW__NET_BATCH_BYTES goes at once. */
    bool hold;
    cw__net_control control;
} cw__net_options;

/* A batch is handed to its link once it holds this many frames or bytes;
 * an arriving batch may hold at most CW__NET_BATCH_FRAMES. */
#define CW__NET_BATCH_FRAMES 128u
#define CW__NET_BATCH_BYTES (64u * 1024u)

/* Opens the transport: starts the CURVE handler (with keys), binds the
 * ROUTER, connects a DEALER to each peer (ZeroMQ connects in the
 * background). CW_OK; CW_EIO (a socket could not be made, bound or
 * connected: err says which and why), CW_EINVAL, CW_ENOMEM. err (nullable,
 * errlen bytes) gets a one-line reason on failure. Destroy with
 * cw__transport_destroy: it closes the links (what is still queued for
 * peers is dropped after a short linger). */
int cw__transport_net(cw__transport **out, const cw__net_options *o, char *err, size_t errlen);

/* Whether secret (this node's) and peers[j] for every j but self are
 * CURVE keys in Z85 and this libzmq has CURVE; false with err set if not. */
bool cw__net_check_keys(const char *secret, const char *const *peers, uint32_t nodes, uint32_t self,
                        char *err, size_t errlen);

/* ---- the send side ---- */

/* Peer j's link starts afresh: its next frame carries everything on its own
 * (a batch that waits was encoded on the old state and still goes). */
void cw__net_reset(cw__transport *t, uint32_t j);
/* Drops the frames that wait for peer j (counted in link_full, as a full
 * link loses them) and resets its link. */
void cw__net_drop(cw__transport *t, uint32_t j);
/* Whether a frame of len bytes for peer j would be lost now: its link is
 * lent (cw__net_lend), or its batch and what ZeroMQ holds of it leave no
 * room for it within 64 MiB. A host that would make many frames for j (a
 * pull's answers) stops making them. Send side. */
bool cw__net_link_full(const cw__transport *t, uint32_t j, size_t len);
/* Hands what waits for peer j to its DEALER (flush, for one link). */
void cw__net_flush_to(cw__transport *t, uint32_t j);
/* Asks peer j for its state under `nonce` (a join request), or with
 * head_only for the head of its answer alone; false if it did not go (a
 * full link, or one lent: cw__net_lend). A node of an earlier release
 * refuses a head request as malformed. */
bool cw__net_send_join(cw__transport *t, uint32_t j, uint64_t nonce, bool head_only);
/* Tells peer j this is a new process that took back its saved state ('R');
 * queued until connected. */
void cw__net_send_reset(cw__transport *t, uint32_t j);

/* Lends peer j's link for a snapshot answer (net.c's invariant 1): from
 * this call (the send side's) until cw__net_return (the send side's again),
 * the borrowing thread alone uses j's DEALER, through the snapshot calls
 * below, without the host's serialization of the send side; frames for j
 * meanwhile are lost as at a full link (counted in link_full; the peer pulls
 * the writes), and join and reset messages to j are not sent. The host
 * orders the calls with the borrower's (a lock both take). */
void cw__net_lend(cw__transport *t, uint32_t j);
void cw__net_return(cw__transport *t, uint32_t j);

/* A snapshot answer to peer j, sent as it is made: start, then add each of
 * the `count` versions, then each of the `log_count` log writes, then end.
 * start is false when the link is full (nothing sent; the peer asks again);
 * add and end are then not called. Called on the send side, or by the
 * thread j's link is lent to. */
typedef struct cw__net_snapshot_out {
    uint32_t to;
    size_t left;               /* versions and log writes still to add */
    bool failed;
} cw__net_snapshot_out;
bool cw__net_snapshot_start(cw__transport *t, cw__net_snapshot_out *so, uint32_t to, const uint64_t *clock,
                            uint64_t seen, uint64_t nonce, size_t count, size_t log_count);
/* The answer to a head request from peer j: the head alone, marked so (its
 * receiver hands it over with head_only). False if it did not go (a full
 * link, a lent one, out of memory): the peer asks again. Send side. */
bool cw__net_send_head(cw__transport *t, uint32_t to, const uint64_t *clock, uint64_t seen, uint64_t nonce);
void cw__net_snapshot_add(cw__transport *t, cw__net_snapshot_out *so, const cw_msg *m);
void cw__net_snapshot_end(cw__transport *t, cw__net_snapshot_out *so);

/* The most messages one take gives (a larger max is taken as this). */
#define CW__NET_TAKE_MAX 512u

/* The peer that sent each message the last take gave, in the same order:
 * valid until the next take (the receive side's). A write's first copy, a
 * pull and a report come only from the node they name; a retransmitted
 * copy from whichever peer answered (the fault layer's cut decides it by
 * that link: fault.h). */
const uint32_t *cw__net_senders(const cw__transport *t);
/* For each message the last take gave, in the same order: whether its link
 * lost a frame before it that the sender meant for this node (wire.h,
 * cw__wire_take_lost: a frame dropped at the sender's full link, or lost
 * in ZeroMQ's queue when a connection broke). Valid until the next take. */
const bool *cw__net_losses_shown(const cw__transport *t);
/* The endpoint the ROUTER bound, as libzmq says it (ZMQ_LAST_ENDPOINT: the
 * port the system chose for a port 0; a host name resolved). */
const char *cw__net_bound(const cw__transport *t);

/* What the links counted. The send side's fields are totals, read on the
 * send side; the receive side's are what came since the last
 * cw__net_take_rx_counts, taken on the receive side. */
typedef struct cw__net_counts {
    uint64_t sent;             /* frames queued on links */
    uint64_t link_full;        /* frames lost to a full link (or memory) */
    uint64_t bytes_out;        /* bytes queued on links */
    uint64_t refused_handshake; /* connections refused at the handshake: a CURVE key no
                                   peer has, an address outside the allow-list, or inside
                                   libzmq (handshakes.h) */
    uint64_t received;         /* frames taken */
    uint64_t malformed;        /* messages or frames that did not decode */
    uint64_t refused;          /* messages from a process that is not a peer, and
                                  a peer's first copies of another node's writes */
    uint64_t bytes_in;         /* bytes taken */
} cw__net_counts;
/* Send side: sets out's send-side fields (sent, link_full, bytes_out,
 * refused_handshake); leaves the others. */
void cw__net_tx_counts(const cw__transport *t, cw__net_counts *out);
/* Receive side: adds the counts since the last call to out's receive-side
 * fields (received, malformed, refused, bytes_in) and starts them again. */
void cw__net_take_rx_counts(cw__transport *t, cw__net_counts *out);

#endif
