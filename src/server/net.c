/* The network transport (net.h): cw__transport over ZeroMQ, one endpoint
 * per process. The node server (server.c) hosts its replica on it.
 *
 * Why this implementation may lose messages when inproc.c never does: a
 * network link can lose what it queued anyway (ZeroMQ drops a dead peer's
 * queue, a peer restarts), so the host must run loss recovery whatever the
 * transport does; and a send that waited for a full link would stall the
 * host's every client behind one slow or absent peer. So a full link drops
 * (counted in link_full) and the host's replica, which keeps each of its
 * writes in its retransmission log until every node has applied it, has the
 * peer pull it later. What bounds memory is then the replica's max_log, and
 * here LINK_QUEUED_MAX bytes a link (invariant 6).
 *
 * Invariants:
 *  1. The send side (the DEALERs, each link's batch and wire tx state, the
 *     send-side counts) is used by one thread at a time, serialized by the
 *     host; the receive side (the ROUTER, each link's wire rx state, the
 *     decoded frames not yet taken, the receive-side counts) is the
 *     receiving thread's alone. wake touches only the eventfd. A link lent
 *     for a snapshot answer (cw__net_lend) is the exception: its DEALER is
 *     the borrowing thread's alone, used without the host's serialization,
 *     and the send side does not touch it until cw__net_return (a frame
 *     for it is lost as at a full link).
 *  2. A message for a peer is encoded for that peer's link at once and
 *     committed to the link's state; if its batch then does not go (a full
 *     link, a drop), the link's state restarts, so the next frame needs no
 *     base the peer never got.
 *  3. Between nodes, a ZeroMQ message of one part of two bytes or more is a
 *     link frame (wire.h: its first byte is its tag, 0..2); one part of
 *     nine bytes starting 'J' is a join request ([J][nonce: u64]), and
 *     one starting 'H' a head request (the same, for the answer's head
 *     alone); a message whose first part is the single byte 'S' is a
 *     snapshot answer ([clock: nodes x u64][seen: u64][nonce: u64]
 *     [versions: u64], all big-endian, then one part per version, then one
 *     per log write: codec bytes; a head without its versions field, from
 *     a node of an earlier release, has versions only; the answer to a head
 *     request is the head alone, with versions 0 and a last field [flags:
 *     u64] of 1); one part that starts with 'B' is
 *     a batch of link frames (invariant 4); one part of the single byte 'R'
 *     says the sender is a new process that took back its saved state: the
 *     link to it starts afresh. Anything else is malformed. The ROUTER sees
 *     each peer by the routing id its DEALER set, "cw-node-<id>", or
 *     "cw-node-<id>@<group>" with a group name (net.h, group); any other
 *     sender, one of another group among them, is refused and counted; with
 *     CURVE, a peer may speak only with its own key (auth.h).
 *  4. Frames for a peer coalesce in its batch until flush, and go to the
 *     DEALER as one message, the batch ('B', then each frame as [LEB128
 *     length][frame]), split at CW__NET_BATCH_FRAMES or about
 *     CW__NET_BATCH_BYTES; a batch of one frame goes as the frame alone.
 *     Without `hold`, a batch that reaches either bound goes at once.
 *  5. A message is never left half read: the next read would take its rest
 *     for a new message. A frame's write is taken only from its origin,
 *     unless retransmitted (a peer may not speak for another).
 *  6. A link's messages in ZeroMQ's queue and its batch hold at most
 *     LINK_QUEUED_MAX bytes together (out.queued and out.len), besides the
 *     frame or message that passes it: each batch is handed over as a block
 *     of its own, which libzmq gives back (released) once written or
 *     dropped. A link at the bound is full, as at its high-water mark: a
 *     frame for it is lost (numbered, so the receiver sees the loss), held
 *     frames included, so a burst of pull answers for one peer (each pull
 *     from the wire is answered with up to 256 writes) cannot pile up in a
 *     batch that waits for flush. Snapshot answers are not counted: a
 *     joiner asks for one at a time.
 */
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.h>

#include <causeway/error.h>

#include "auth.h"
#include "bytes.h"
#include "counted.h"
#include "endpoint.h"
#include "handshakes.h"
#include "msg_internal.h"
#include "note.h"
#include "now.h"
#include "server.h"
#include "thread_room.h"
#include "varint.h"
#include "vec.h"
#include "wire.h"

#define ID_PREFIX "cw-node-"
enum { CH_JOIN = 'J', CH_HEAD = 'H', CH_SNAPSHOT = 'S', CH_BATCH = 'B', CH_RESET = 'R' };
/* A snapshot head's flags (invariant 3): the answer to a head request. */
#define HEAD_ONLY 1u
#define BATCH_FRAMES CW__NET_BATCH_FRAMES
/* The most a link holds in ZeroMQ's queue, in bytes: its high-water mark
 * counts messages, and 10,000 of them of a 1 MiB write each, kept for a
 * slow or absent peer (or answers to its repeated pulls), would be 10 GB.
 * Past it a link is full (invariant 6). */
#define LINK_QUEUED_MAX ((size_t)64 << 20)
#define BATCH_BYTES CW__NET_BATCH_BYTES
/* What a snapshot answer may hold (more is refused): a bound on what a peer
 * can make a joining node keep. libzmq holds a multipart message whole
 * before it is read, and bounds only each part (ZMQ_MAXMSGSIZE): what a
 * sender that never ends a message makes libzmq hold, nothing here can
 * bound (docs/node-server.md, "Links"). */
#define SNAPSHOT_MAX_VERSIONS ((size_t)1 << 24)
#define SNAPSHOT_MAX_BYTES ((uint64_t)4 << 30)
#define SNAPSHOT_MAX_COUNTER ((uint64_t)1 << 62)

/* Frames for one peer not yet handed to its DEALER (invariant 4). */
typedef struct link_out {
    uint8_t *b;                /* [CH_BATCH][varint len][frame]... */
    size_t len, cap;
    uint32_t frames;
    /* Bytes handed to this link's DEALER that ZeroMQ has not yet released
     * (written to the kernel, or dropped): added by the sending thread,
     * taken off by libzmq's I/O thread (released). */
    cw__count queued;                /* total: NULL */
    /* Lent for a snapshot answer (invariant 1): the DEALER is not ours. */
    bool lent;
} link_out;

typedef struct net {
    cw__transport base;
    uint32_t self;
    cw_msg_limits lim;
    bool hold;
    cw__net_control control;
    void *zctx;
    cw__auth *auth;            /* CURVE's peer check and the allow-list, or NULL */
    bool curve;                /* links are CURVE: a peer speaks only as its key's node */
    char group[CW_SERVER_GROUP_MAX + 1]; /* this group's name ("" for none), as routing ids carry it */
    cw__note other_group;      /* says now and then that a peer of another group was refused */
    uint64_t other_groups;     /* how many messages came so (the receive side's) */
    cw__handshakes *handshakes; /* the ROUTER's handshakes that failed inside libzmq */
    int wake_fd;               /* an eventfd: wake makes it readable */
    /* The send side (invariant 1). */
    void **dealer;             /* [nodes]; NULL at self */
    cw__wire_tx *tx;           /* [nodes] */
    link_out *out;             /* [nodes] */
    cw__net_counts tx_n;
    /* The receive side. */
    void *router;
    char bound[CW__ENDPOINT_MAX]; /* the endpoint the ROUTER bound (a port 0 made real) */
    int router_fd;             /* the ROUTER's ZMQ_FD: readable when libzmq has news for it */
    bool rx_drained;           /* the last take ended on an empty ROUTER (park_wait) */
    cw__wire_rx *rx;           /* [nodes] */
    cw_msg **pend;             /* [BATCH_FRAMES]: a batch's frames decoded, not yet taken */
    size_t pend_at, pend_len;
    uint32_t pend_from;        /* the peer that sent them */
    bool pend_shows[BATCH_FRAMES]; /* each: its link lost a frame before it (cw__wire_take_lost) */
    uint32_t from[CW__NET_TAKE_MAX]; /* the sender of each message the last take gave */
    bool shows[CW__NET_TAKE_MAX];    /* ... and whether it shows a loss (cw__net_losses_shown) */
    cw__net_counts rx_n;
} net;

static net *net_of(cw__transport *t) { return (net *)t; }
static const net *net_of_const(const cw__transport *t) { return (const net *)t; }

void cw__net_snapshot_clear(cw__net_snapshot *sn)
{
    for (size_t i = 0; i < sn->count + sn->log_count; i++) /* the log follows the versions */
        cw_msg_unref(sn->versions[i]);
    free(sn->versions);
    free(sn->clock);
    memset(sn, 0, sizeof *sn);
}

/* ---- the send side ---- */

/* Whether len bytes more fit beside `held` within LINK_QUEUED_MAX
 * (invariant 6): anything fits an empty link, and held may pass the bound
 * (that one frame or message, and a batch's own bytes): nothing fits then. */
static bool fits(size_t held, size_t len)
{
    return !held || (held < LINK_QUEUED_MAX && len <= LINK_QUEUED_MAX - held);
}

/* Whether peer j's link takes a frame of len bytes now: not lent, and its
 * batch and what ZeroMQ holds of it leave room for it. */
static bool link_takes(const net *p, uint32_t j, size_t len)
{
    const link_out *o = &p->out[j];
    size_t queued = atomic_load_explicit(&o->queued.bytes, memory_order_relaxed); /* a bound, not an order */
    return !o->lent && fits(queued + o->len, len); /* bytes in memory: the sum cannot wrap */
}

bool cw__net_link_full(const cw__transport *t, uint32_t j, size_t len)
{
    const net *p = net_of_const(t);
    return j < t->endpoints && j != p->self && !link_takes(p, j, len);
}

/* Hands len bytes to peer j's DEALER as one message, counted in the link's
 * queued bytes until libzmq releases them (invariant 6). False if the link
 * is full (its high-water mark, or its bytes) or memory is short. */
static bool link_hand(net *p, uint32_t j, const uint8_t *b, size_t len)
{
    link_out *o = &p->out[j];
    size_t queued = atomic_load_explicit(&o->queued.bytes, memory_order_relaxed); /* a bound, not an order */
    if (o->lent || !fits(queued, len))
        return false;
    zmq_msg_t m;
    if (!cw__counted_msg(&m, b, len, &o->queued))
        return false;
    if (zmq_msg_send(&m, p->dealer[j], ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m); /* released now: the count goes back down */
        return false;
    }
    return true;
}

/* Hands peer j's coalesced frames to its DEALER: a frame alone as itself,
 * several as batches of at most BATCH_FRAMES frames and about BATCH_BYTES
 * (invariant 4; held frames may pile past that while they wait for flush).
 * A full link loses the rest (link_full counts their frames) and its link
 * state restarts (invariant 2). Whether there was anything to hand. */
static bool link_flush(net *p, uint32_t j)
{
    link_out *o = &p->out[j];
    size_t at = 1;
    uint32_t left = o->frames;
    while (left) {
        /* One message: frames from `start` until the bounds. */
        size_t start = at, first_len = 0;
        uint32_t n = 0;
        while (n < left && (n == 0 || (n < BATCH_FRAMES && at - start < BATCH_BYTES))) {
            uint64_t flen = 0;
            size_t frame_at = at;
            cw__varint_take(o->b, o->len, &at, &flen); /* written by link_send: it reads */
            if (n == 0)
                first_len = at - frame_at;
            at += (size_t)flen;
            n++;
        }
        const uint8_t *b;
        size_t len;
        if (n == 1) { /* the frame alone, without its length */
            b = o->b + start + first_len;
            len = at - start - first_len;
        } else { /* [B] then the frames: the byte before them is sent already (or is the B) */
            o->b[start - 1] = CH_BATCH;
            b = o->b + start - 1;
            len = at - start + 1;
        }
        if (!link_hand(p, j, b, len)) {
            p->tx_n.link_full += left;
            cw__wire_tx_reset(&p->tx[j]);
            break;
        }
        p->tx_n.sent += n;
        p->tx_n.bytes_out += len;
        left -= n;
    }
    bool any = o->frames > 0;
    o->len = 0;
    o->frames = 0;
    return any;
}

/* Appends one frame for peer j to its batch (invariants 2 and 4). */
static void link_send(net *p, uint32_t j, const cw_msg *m)
{
    const uint8_t *bytes;
    size_t len;
    if (cw__wire_encode(&p->tx[j], m, &bytes, &len) != CW_OK) {
        p->tx_n.link_full++; /* out of memory: as a full link, the peer pulls it */
        return;
    }
    if (!link_takes(p, j, len)) { /* lost as at a flush that finds the link full (invariants 2 and 6) */
        cw__wire_commit(&p->tx[j]);
        cw__wire_tx_reset(&p->tx[j]);
        p->tx_n.link_full++;
        return;
    }
    link_out *o = &p->out[j];
    size_t need = o->len + (o->len ? 0 : 1) + CW__VARINT_MAX + len;
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *b = realloc(o->b, cap);
        if (!b) {
            p->tx_n.link_full++;
            return;
        }
        o->b = b;
        o->cap = cap;
    }
    if (!o->len)
        o->b[o->len++] = CH_BATCH;
    o->len = (size_t)(cw__varint_put(o->b + o->len, len) - o->b);
    memcpy(o->b + o->len, bytes, len);
    o->len += len;
    o->frames++;
    /* The frame is as good as on the link: a batch that will not go restarts
     * the link's state (link_flush). */
    cw__wire_commit(&p->tx[j]);
    if (!p->hold && (o->frames >= BATCH_FRAMES || o->len >= BATCH_BYTES))
        (void)link_flush(p, j);
}

static void send_one(cw__transport *t, uint32_t from, uint32_t to, cw_msg *m)
{
    net *p = net_of(t);
    (void)from;
    if (to < t->endpoints && to != p->self)
        link_send(p, to, m);
}

static void send_all(cw__transport *t, uint32_t from, cw_msg *m)
{
    net *p = net_of(t);
    (void)from;
    for (uint32_t j = 0; j < t->endpoints; j++)
        if (j != p->self)
            link_send(p, j, m);
}

static bool flush(cw__transport *t, uint32_t from)
{
    net *p = net_of(t);
    (void)from;
    bool any = false;
    for (uint32_t j = 0; j < t->endpoints; j++)
        if (j != p->self)
            any |= link_flush(p, j);
    return any;
}

/* A full link drops (the file's comment): nothing ever waits for room. */
static bool sending(const cw__transport *t, uint32_t from)
{
    (void)t;
    (void)from;
    return false;
}

void cw__net_flush_to(cw__transport *t, uint32_t j) { (void)link_flush(net_of(t), j); }

void cw__net_reset(cw__transport *t, uint32_t j) { cw__wire_tx_reset(&net_of(t)->tx[j]); }

void cw__net_drop(cw__transport *t, uint32_t j)
{
    net *p = net_of(t);
    link_out *o = &p->out[j];
    if (!o->frames)
        return;
    p->tx_n.link_full += o->frames;
    cw__wire_tx_reset(&p->tx[j]);
    o->len = 0;
    o->frames = 0;
}

bool cw__net_send_join(cw__transport *t, uint32_t j, uint64_t nonce, bool head_only)
{
    net *p = net_of(t);
    uint8_t req[9] = {head_only ? CH_HEAD : CH_JOIN};
    cw__store_be(req + 1, nonce, 8);
    return !p->out[j].lent && zmq_send(p->dealer[j], req, sizeof req, ZMQ_DONTWAIT) == (int)sizeof req;
}

void cw__net_send_reset(cw__transport *t, uint32_t j)
{
    net *p = net_of(t);
    char r = CH_RESET;
    if (!p->out[j].lent)
        (void)zmq_send(p->dealer[j], &r, 1, ZMQ_DONTWAIT);
}

void cw__net_lend(cw__transport *t, uint32_t j) { net_of(t)->out[j].lent = true; }

void cw__net_return(cw__transport *t, uint32_t j) { net_of(t)->out[j].lent = false; }

/* Sends a snapshot answer's first two parts ('S' and its head: invariant
 * 3), the head with a flags field when head_only; more: parts follow. */
static bool send_head(net *p, uint32_t to, const uint64_t *clock, uint64_t seen, uint64_t nonce, size_t count,
                      bool head_only, bool more)
{
    uint32_t nodes = p->base.endpoints;
    size_t clen = (size_t)nodes * 8 + (head_only ? 32 : 24);
    uint8_t *head = malloc(clen);
    if (!head)
        return false;
    for (uint32_t k = 0; k < nodes; k++)
        cw__store_be(head + (size_t)k * 8, clock[k], 8);
    cw__store_be(head + (size_t)nodes * 8, seen, 8);
    cw__store_be(head + (size_t)nodes * 8 + 8, nonce, 8);
    cw__store_be(head + (size_t)nodes * 8 + 16, count, 8);
    if (head_only)
        cw__store_be(head + (size_t)nodes * 8 + 24, HEAD_ONLY, 8);
    char ch = CH_SNAPSHOT;
    bool sent = zmq_send(p->dealer[to], &ch, 1, ZMQ_DONTWAIT | ZMQ_SNDMORE) == 1; /* else a full link */
    if (sent) /* a message's later parts always go: ZeroMQ takes a message whole */
        (void)zmq_send(p->dealer[to], head, clen, more ? ZMQ_SNDMORE : 0);
    free(head);
    return sent;
}

bool cw__net_snapshot_start(cw__transport *t, cw__net_snapshot_out *so, uint32_t to, const uint64_t *clock,
                            uint64_t seen, uint64_t nonce, size_t count, size_t log_count)
{
    if (!send_head(net_of(t), to, clock, seen, nonce, count, false, count + log_count > 0))
        return false;
    *so = (cw__net_snapshot_out){to, count + log_count, false};
    return true;
}

bool cw__net_send_head(cw__transport *t, uint32_t to, const uint64_t *clock, uint64_t seen, uint64_t nonce)
{
    net *p = net_of(t);
    return !p->out[to].lent && send_head(p, to, clock, seen, nonce, 0, true, false);
}

void cw__net_snapshot_add(cw__transport *t, cw__net_snapshot_out *so, const cw_msg *m)
{
    if (so->failed || !so->left)
        return;
    size_t need = cw_msg_encoded_size(m), len = 0;
    zmq_msg_t part;
    if (zmq_msg_init_size(&part, need) != 0) {
        so->failed = true;
        return;
    }
    if (cw_msg_encode(m, zmq_msg_data(&part), need, &len) != CW_OK) {
        zmq_msg_close(&part);
        so->failed = true;
        return;
    }
    so->left--;
    if (zmq_msg_send(&part, net_of(t)->dealer[so->to], so->left ? ZMQ_SNDMORE : 0) < 0) {
        zmq_msg_close(&part);
        so->failed = true;
    }
}

void cw__net_snapshot_end(cw__transport *t, cw__net_snapshot_out *so)
{
    /* A multipart message half sent is dropped by ZeroMQ only when the
     * socket closes; end it with an empty version, which the joining node
     * refuses as malformed and asks again. */
    if (so->failed || so->left)
        (void)zmq_send(net_of(t)->dealer[so->to], "", 0, 0);
}

void cw__net_tx_counts(const cw__transport *t, cw__net_counts *out)
{
    const net *p = net_of_const(t);
    out->sent = p->tx_n.sent;
    out->link_full = p->tx_n.link_full;
    out->bytes_out = p->tx_n.bytes_out;
    out->refused_handshake = cw__auth_refused(p->auth) + cw__handshakes_failed(p->handshakes);
}

/* ---- the receive side ---- */

void cw__net_take_rx_counts(cw__transport *t, cw__net_counts *out)
{
    net *p = net_of(t);
    out->received += p->rx_n.received;
    out->malformed += p->rx_n.malformed;
    out->refused += p->rx_n.refused;
    out->bytes_in += p->rx_n.bytes_in;
    p->rx_n = (cw__net_counts){0};
}

/* Says now and then that a peer's messages were refused for its group. */
static void say_other_group(net *p, uint32_t node, const char *group, size_t len)
{
    char more[64];
    p->other_groups++;
    if (!cw__note_due(&p->other_group, p->other_groups, "refused", more, sizeof more))
        return;
    char name[CW_SERVER_GROUP_MAX + 1];
    cw__server_group_quote(name, group, len);
    fprintf(stderr,
            "causeway node %u: refused node %u's messages: it is of %s%s%s, this node of %s%s%s (--group: every "
            "node of a group gives the same)%s\n",
            (unsigned)p->self, (unsigned)node, len ? "group '" : "no group", name, len ? "'" : "",
            p->group[0] ? "group '" : "no group", p->group, p->group[0] ? "'" : "", more);
}

/* Which peer a routing id names; nodes if none. A name of a node of
 * another group (or of none, where this node has one, or the other way)
 * names none, and is said (say_other_group). */
static uint32_t peer_of(net *p, zmq_msg_t *id)
{
    size_t len = zmq_msg_size(id), plen = sizeof ID_PREFIX - 1;
    const char *b = zmq_msg_data(id);
    if (len <= plen || memcmp(b, ID_PREFIX, plen) != 0)
        return p->base.endpoints;
    const char *at = memchr(b + plen, '@', len - plen);
    size_t digits = (at ? (size_t)(at - b) : len) - plen;
    if (digits == 0 || digits > 10)
        return p->base.endpoints;
    uint64_t v = 0;
    for (size_t i = plen; i < plen + digits; i++) {
        if (b[i] < '0' || b[i] > '9' || (i == plen && b[i] == '0' && digits > 1))
            return p->base.endpoints;
        v = v * 10 + (uint64_t)(b[i] - '0');
    }
    if (v >= p->base.endpoints || v == p->self)
        return p->base.endpoints;
    size_t glen = at ? len - plen - digits - 1 : 0;
    if (at && glen == 0) /* "cw-node-<id>@": no node's id, with a group or without */
        return p->base.endpoints;
    if (glen != strlen(p->group) || (glen && memcmp(at + 1, p->group, glen) != 0)) {
        say_other_group(p, (uint32_t)v, at ? at + 1 : "", glen);
        return p->base.endpoints;
    }
    return (uint32_t)v;
}

/* With CURVE: whether the connection a frame came on was admitted with
 * node j's key (the ZAP handler named it, auth.h). */
static bool speaks_as(zmq_msg_t *frame, uint32_t j)
{
    const char *user = zmq_msg_gets(frame, "User-Id");
    if (!user || *user < '0' || *user > '9')
        return false;
    char *end;
    unsigned long id = strtoul(user, &end, 10); /* auth.c names connections by plain decimal ids */
    return !*end && id == j;
}

/* Reads the rest of a multipart message into nothing. */
static void discard_rest(void *sock)
{
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
}

/* A snapshot answer from peer j (its first part read): every part is read,
 * whatever it holds (invariant 5), but at most SNAPSHOT_MAX_VERSIONS
 * versions and log writes and SNAPSHOT_MAX_BYTES bytes of them are kept;
 * an answer short of the versions it declares, or beyond
 * either is refused (malformed). A good one goes to the host's handler. */
static void take_snapshot(net *p, uint32_t j)
{
    uint32_t nodes = p->base.endpoints;
    cw__net_snapshot sn = {0};
    bool ok = true;
    uint64_t bytes = 0, versions = UINT64_MAX; /* parts that are versions (the rest: log writes) */
    size_t cap = 0, parts = 0, head = (size_t)nodes * 8 + 16;
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, p->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return; /* ZeroMQ delivers a message whole: not reached */
    }
    int more = zmq_msg_more(&part);
    size_t size = zmq_msg_size(&part);
    if ((size != head && size != head + 8 && size != head + 16) || !(sn.clock = malloc((size_t)nodes * 8))) {
        ok = false;
    } else {
        const uint8_t *b = zmq_msg_data(&part);
        for (uint32_t k = 0; k < nodes; k++) {
            sn.clock[k] = cw__load_be(b + (size_t)k * 8, 8);
            ok &= sn.clock[k] <= SNAPSHOT_MAX_COUNTER; /* a counter counts writes */
        }
        sn.seen = cw__load_be(b + (size_t)nodes * 8, 8);
        sn.nonce = cw__load_be(b + (size_t)nodes * 8 + 8, 8);
        ok &= sn.seen >= sn.clock[p->self] && sn.seen <= SNAPSHOT_MAX_COUNTER;
        if (size >= head + 8) {
            sn.with_log = true;
            versions = cw__load_be(b + (size_t)nodes * 8 + 16, 8);
            ok &= versions <= SNAPSHOT_MAX_VERSIONS;
        }
        if (size == head + 16) { /* a head alone: nothing follows */
            sn.head_only = true;
            ok &= cw__load_be(b + (size_t)nodes * 8 + 24, 8) == HEAD_ONLY && versions == 0 && !more;
        }
    }
    zmq_msg_close(&part);
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, p->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            ok = false;
            break;
        }
        more = zmq_msg_more(&part);
        size_t len = zmq_msg_size(&part);
        bytes += len;
        ok &= parts < SNAPSHOT_MAX_VERSIONS && bytes <= SNAPSHOT_MAX_BYTES;
        cw_msg *m = NULL;
        size_t used = 0;
        if (ok && (cw_msg_decode(&m, zmq_msg_data(&part), len, &p->lim, &used) != CW_OK || used != len))
            ok = false;
        zmq_msg_close(&part);
        if (ok) {
            cw_msg **v = cw__vec_room(sn.versions, parts, &cap, sizeof *v);
            if (v)
                sn.versions = v;
            ok = v != NULL;
        }
        if (ok)
            sn.versions[parts++] = m;
        else if (m)
            cw_msg_unref(m);
    }
    /* The versions, then the log in the same array; every version it
     * declared came (an earlier release's head declares none: all versions). */
    ok &= versions == UINT64_MAX || parts >= versions;
    sn.count = ok && versions != UINT64_MAX ? (size_t)versions : parts;
    sn.log = sn.versions ? sn.versions + sn.count : NULL;
    sn.log_count = parts - sn.count;
    if (!ok)
        p->rx_n.malformed++;
    else if (p->control.snapshot)
        p->control.snapshot(p->control.ctx, j, &sn);
    cw__net_snapshot_clear(&sn);
}

/* Decodes one link frame from peer j into *out, and into *shows whether
 * the link lost a frame before it; false if it is refused. */
static bool take_frame(net *p, uint32_t j, const uint8_t *b, size_t len, cw_msg **out, bool *shows)
{
    cw_msg *m = NULL;
    int rc = cw__wire_decode(&p->rx[j], b, len, &p->lim, &m);
    /* A write's first copy comes only from its origin; a pull or report
     * names its sender: a peer may not speak for another (invariant 5). */
    if (rc == CW_OK && !cw_msg_retransmitted(m) && cw_msg_origin(m) != j) {
        cw_msg_unref(m);
        p->rx_n.refused++; /* well formed, but not this peer's to send */
        return false;
    }
    if (rc != CW_OK) {
        p->rx_n.malformed += rc != CW_ENOTFOUND; /* a frame after a lost one is counted by the link */
        return false;
    }
    p->rx_n.received++;
    *out = m;
    *shows = cw__wire_take_lost(&p->rx[j]);
    return true;
}

/* The frames of a batch from peer j (after its 'B'), at most BATCH_FRAMES,
 * into p->pend. A batch that does not parse is malformed from the frame
 * that does not on. */
static void take_batch(net *p, uint32_t j, const uint8_t *b, size_t len)
{
    size_t at = 0;
    p->pend_at = p->pend_len = 0;
    p->pend_from = j;
    while (at < len && p->pend_len < BATCH_FRAMES) {
        uint64_t flen = 0;
        if (!cw__varint_take(b, len, &at, &flen) || flen == 0 || flen > len - at) {
            p->rx_n.malformed++;
            return;
        }
        if (take_frame(p, j, b + at, (size_t)flen, &p->pend[p->pend_len], &p->pend_shows[p->pend_len]))
            p->pend_len++;
        at += (size_t)flen;
    }
    if (at < len) /* more frames than a batch may hold */
        p->rx_n.malformed++;
}

/* Reads one message from the ROUTER: a frame into batch[*got] (*got <
 * max), a batch's frames into p->pend, a control message to its handler
 * (invariant 3). False when nothing waits, or a join request ends the
 * take. */
static bool take_message(net *p, cw_msg **batch, size_t *got)
{
    uint32_t nodes = p->base.endpoints;
    zmq_msg_t id, f;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, p->router, ZMQ_DONTWAIT) < 0) {
        /* Empty: libzmq has just processed what its I/O thread told the
         * ROUTER, so a message that comes after this will signal ZMQ_FD. */
        p->rx_drained = zmq_errno() == EAGAIN;
        zmq_msg_close(&id);
        return false;
    }
    p->rx_drained = false;
    uint32_t j = peer_of(p, &id);
    zmq_msg_close(&id);
    zmq_msg_init(&f);
    int rc = zmq_msg_recv(&f, p->router, 0);
    /* The routing id frame is the ROUTER's own; the connection's properties
     * come with the frames the peer sent. */
    if (j != nodes && p->curve && (rc < 0 || !speaks_as(&f, j)))
        j = nodes; /* a peer's key, another peer's name */
    bool more = rc >= 0 && zmq_msg_more(&f);
    size_t len = rc >= 0 ? zmq_msg_size(&f) : 0;
    const uint8_t *b = zmq_msg_data(&f);
    p->rx_n.bytes_in += len;
    bool go_on = true;
    if (j == nodes || rc < 0) {
        zmq_msg_close(&f);
        discard_rest(p->router);
        p->rx_n.refused += j == nodes;
        return true;
    }
    if (len == 9 && (b[0] == CH_JOIN || b[0] == CH_HEAD) && !more) {
        /* Handled once what came before it is delivered (the host, after
         * this take), so a snapshot holds every frame the old process sent. */
        if (p->control.join)
            p->control.join(p->control.ctx, j, cw__load_be(b + 1, 8), b[0] == CH_HEAD);
        go_on = false;
    } else if (len == 1 && b[0] == CH_RESET && !more) {
        if (p->control.reset)
            p->control.reset(p->control.ctx, j);
    } else if (len == 1 && b[0] == CH_SNAPSHOT && more) {
        zmq_msg_close(&f);
        take_snapshot(p, j);
        return true;
    } else if (!more && len > 1 && b[0] == CH_BATCH) {
        take_batch(p, j, b + 1, len - 1);
    } else if (more) { /* a link frame is one part */
        zmq_msg_close(&f);
        discard_rest(p->router);
        p->rx_n.malformed++;
        return true;
    } else if (take_frame(p, j, b, len, &batch[*got], &p->shows[*got])) {
        p->from[(*got)++] = j;
    }
    zmq_msg_close(&f);
    return go_on;
}

static size_t take(cw__transport *t, uint32_t at, cw_msg **batch, size_t max)
{
    net *p = net_of(t);
    (void)at;
    size_t got = 0;
    if (max > CW__NET_TAKE_MAX)
        max = CW__NET_TAKE_MAX; /* the senders' room (cw__net_senders) */
    for (;;) {
        while (got < max && p->pend_at < p->pend_len) {
            p->from[got] = p->pend_from;
            p->shows[got] = p->pend_shows[p->pend_at];
            batch[got++] = p->pend[p->pend_at++];
        }
        if (got == max || !take_message(p, batch, &got))
            break;
    }
    return got;
}

const uint32_t *cw__net_senders(const cw__transport *t) { return net_of_const(t)->from; }
const bool *cw__net_losses_shown(const cw__transport *t) { return net_of_const(t)->shows; }
const char *cw__net_bound(const cw__transport *t) { return net_of_const(t)->bound; }

/* A look at the ROUTER (ZMQ_EVENTS): libzmq processes what its I/O thread
 * told the socket, which resets ZMQ_FD, so a look that finds messages marks
 * the ROUTER not drained (park_wait must not sleep on ZMQ_FD then), and one
 * that finds none leaves every link's pipe asking to be signalled. */
static bool look(net *p)
{
    int events = 0;
    size_t len = sizeof events;
    bool yes = zmq_getsockopt(p->router, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
    p->rx_drained = !yes;
    return yes;
}

static bool arrived(const cw__transport *t, uint32_t at)
{
    /* The receiving thread's own state (invariant 1), which a look changes:
     * the transport is not const to its receiving thread. */
    net *p = (net *)net_of_const(t);
    (void)at;
    return p->pend_at < p->pend_len || look(p);
}

static void wake(cw__transport *t, uint32_t at)
{
    (void)at;
    uint64_t one = 1;
    /* The eventfd's counter stays readable until park_wait reads it, so a
     * wake before the wait is not lost. It cannot overflow: a read empties it. */
    ssize_t n = write(net_of(t)->wake_fd, &one, sizeof one);
    (void)n;
}

/* The ticket is unused: a wake leaves the eventfd readable (wake). */
static uint32_t park_prepare(cw__transport *t, uint32_t at)
{
    (void)t;
    (void)at;
    return 0;
}

static void park_cancel(cw__transport *t, uint32_t at)
{
    (void)t;
    (void)at;
}

/* Returns on an arrival, a wake or the timeout (rounded up to whole
 * milliseconds); at once while the last take left messages (net.h). */
static void park_wait(cw__transport *t, uint32_t at, uint32_t ticket, uint64_t timeout_ns)
{
    net *p = net_of(t);
    (void)at;
    (void)ticket;
    if (p->pend_at < p->pend_len || !p->rx_drained)
        return;
    /* The last take (or look) found the ROUTER empty, and libzmq processed
     * then what its I/O thread had told it: a message that came since made
     * the I/O thread signal the ROUTER's mailbox, whose descriptor ZMQ_FD
     * is, and it stays readable until a look processes that. So this sleeps
     * on ZMQ_FD and the eventfd directly, and looks only when ZMQ_FD says
     * there is news: zmq_poll would look before sleeping too, each look a
     * poll and a getpid in libzmq (docs/performance.md, "Fewer looks at an
     * idle ROUTER"). News that brings no message (a connection's commands)
     * is slept through, as zmq_poll does, until the timeout. */
    uint64_t start = cw__now_ns();
    for (uint64_t waited = 0; !timeout_ns || waited < timeout_ns; waited = cw__now_ns() - start) {
        int ms = -1;
        if (timeout_ns) {
            uint64_t m = (timeout_ns - waited + 999999u) / 1000000u;
            ms = m > 3600000u ? 3600000 : (int)m;
        }
        struct pollfd fds[2] = {{p->router_fd, POLLIN, 0}, {p->wake_fd, POLLIN, 0}};
        int n = poll(fds, 2, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0 && (fds[1].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(p->wake_fd, &v, sizeof v); /* empties the counter: the wake is consumed */
            (void)r;
            return;
        }
        /* The timeout, an error (the caller's loop comes back), ZMQ_FD in
         * error, or news that brought messages. */
        if (n <= 0 || (fds[0].revents & ~POLLIN) || look(p))
            return;
    }
}

static void destroy(cw__transport *t)
{
    net *p = net_of(t);
    uint32_t nodes = t->endpoints;
    for (uint32_t j = 0; p->dealer && j < nodes; j++)
        if (p->dealer[j])
            zmq_close(p->dealer[j]);
    cw__handshakes_stop(p->handshakes, p->router);
    if (p->router)
        zmq_close(p->router);
    cw__auth_stop(p->auth);
    /* Only once the context is gone has libzmq released every block
     * link_hand gave it (released() writes into p->out): retried if a
     * signal interrupts it. */
    while (p->zctx && zmq_ctx_term(p->zctx) != 0 && zmq_errno() == EINTR) {
    }
    for (uint32_t j = 0; j < nodes; j++) {
        if (p->tx)
            cw__wire_tx_destroy(&p->tx[j]);
        if (p->rx)
            cw__wire_rx_destroy(&p->rx[j]);
        if (p->out)
            free(p->out[j].b);
    }
    for (size_t i = p->pend_at; i < p->pend_len; i++)
        cw_msg_unref(p->pend[i]);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    free(p->pend);
    free(p->dealer);
    free(p->tx);
    free(p->out);
    free(p->rx);
    free(p);
}

static const cw__transport_ops net_ops = {
    .send = send_one,
    .send_all = send_all,
    .flush = flush,
    .sending = sending,
    .take = take,
    .arrived = arrived,
    .wake = wake,
    .park_prepare = park_prepare,
    .park_cancel = park_cancel,
    .park_wait = park_wait,
    .destroy = destroy,
};

/* ---- opening ---- */

bool cw__net_check_keys(const char *secret, const char *const *peers, uint32_t nodes, uint32_t self,
                        char *err, size_t errlen)
{
    uint8_t key[32];
    if (strlen(secret) != 40 || !zmq_z85_decode(key, secret)) {
        cw__server_err(err, errlen, "the CURVE secret key is not 40 characters of Z85");
        return false;
    }
    for (uint32_t j = 0; j < nodes; j++)
        if (j != self && (!peers || !peers[j] || strlen(peers[j]) != 40 || !zmq_z85_decode(key, peers[j]))) {
            cw__server_err(err, errlen, "no CURVE public key (40 characters of Z85) for peer %u", j);
            return false;
        }
    if (!zmq_has("curve")) {
        cw__server_err(err, errlen, "this libzmq has no CURVE");
        return false;
    }
    return true;
}

static int sockopt_int(void *sock, int opt, int v) { return zmq_setsockopt(sock, opt, &v, sizeof v); }

/* The options every link socket gets: bounded queues, heartbeats if asked
 * for (net.h: off by default), TCP's own timeout on unacknowledged data and
 * on connecting (net.h, link_timeout_ms), no linger past a short grace at
 * close, and IPv6 for an endpoint that needs it (cw__endpoint_ipv6). */
static int link_options(void *sock, const cw__net_options *o, const char *endpoint)
{
    int hb = (int)o->heartbeat_ms, lt = (int)o->link_timeout_ms;
    int rc = sockopt_int(sock, ZMQ_IPV6, cw__endpoint_ipv6(endpoint)) | sockopt_int(sock, ZMQ_SNDHWM, (int)o->hwm) |
             sockopt_int(sock, ZMQ_RCVHWM, (int)o->hwm) | sockopt_int(sock, ZMQ_LINGER, 100);
    if (hb)
        rc |= sockopt_int(sock, ZMQ_HEARTBEAT_IVL, hb) | sockopt_int(sock, ZMQ_HEARTBEAT_TIMEOUT, 3 * hb) |
              sockopt_int(sock, ZMQ_HEARTBEAT_TTL, 3 * hb);
    if (lt) {
        /* Keepalive probes after the timeout's idleness (whole seconds): a
         * connection whose far end the timeout closed (the kernel sends no
         * reset then) is answered with a reset and closed, where nothing
         * else would ever close it (the ROUTER's side sends no data, and
         * libzmq keeps the old connection's engine when a reconnect takes
         * over its routing id). With TCP_USER_TIMEOUT set, Linux ends a
         * connection whose probes go unanswered once that timeout passed. */
        int idle = (lt + 999) / 1000;
        rc |= sockopt_int(sock, ZMQ_TCP_MAXRT, lt) | sockopt_int(sock, ZMQ_CONNECT_TIMEOUT, lt) |
              sockopt_int(sock, ZMQ_TCP_KEEPALIVE, 1) | sockopt_int(sock, ZMQ_TCP_KEEPALIVE_IDLE, idle) |
              sockopt_int(sock, ZMQ_TCP_KEEPALIVE_INTVL, idle) | sockopt_int(sock, ZMQ_TCP_KEEPALIVE_CNT, 3);
    }
    return rc;
}

/* A connection to the ROUTER that has not finished ZeroMQ's handshake this
 * long after it was accepted is closed (ZeroMQ's default is 30 s). Until
 * then libzmq may hold one part it read, up to ZMQ_MAXMSGSIZE, also for a
 * connection the ZAP handler refused: measured, 200 such connections each
 * sending most of a 1.1 MB part held 260 MB for the whole 30 s. A peer's
 * handshake (with CURVE too) takes a few round trips. */
#define HANDSHAKE_MS 5000

static int open_links(net *p, const cw__net_options *o, char *err, size_t errlen)
{
    p->curve = o->curve_secret != NULL;
    snprintf(p->group, sizeof p->group, "%s", o->group ? o->group : ""); /* checked by the host */
    char bind_to[CW__ENDPOINT_MAX], why[CW__ENDPOINT_MAX + 64];
    if (cw__endpoint_to_bind(o->listen, bind_to, why, sizeof why) != CW_OK) {
        cw__server_err(err, errlen, "cannot listen on %.200s: %s", o->listen, why);
        return CW_EIO;
    }
    p->zctx = zmq_ctx_new();
    if (!p->zctx) {
        cw__server_err(err, errlen, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    /* A socket a peer, the ROUTER, the ZAP handler's and the ROUTER's
     * monitor's two: ZeroMQ's default
     * limit (1,023 sockets a context) would refuse the last peers of a
     * group of 1,024. Set before the first socket, as ZeroMQ requires. */
    if (zmq_ctx_set(p->zctx, ZMQ_MAX_SOCKETS, (int)o->nodes + 8) != 0) {
        cw__server_err(err, errlen, "zmq_ctx_set: %s", zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    int no_room = cw__thread_room(CW__ZMQ_CONTEXT_THREADS); /* libzmq aborts where they cannot start */
    if (no_room) {
        cw__server_err(err, errlen, "cannot start ZeroMQ's threads: %s (%s)", strerror(no_room), CW__THREADS_WHY);
        return CW_EIO;
    }
    char public_key[41] = "";
    if (o->curve_secret || o->allow) {
        int rc = cw__auth_start(&p->auth, p->zctx, o->curve_secret ? o->curve_peers : NULL, o->nodes, o->allow);
        if (rc != CW_OK || (o->curve_secret && zmq_curve_public(public_key, o->curve_secret) != 0)) {
            int e = errno;
            cw__server_err(err, errlen, "ZAP authentication: %s%s",
                           rc == CW_EIO ? zmq_strerror(e) : cw_strerror(rc != CW_OK ? rc : CW_EINVAL),
                           rc == CW_EIO ? cw__thread_hint(e) : "");
            return rc != CW_OK ? rc : CW_EINVAL;
        }
    }
    p->router = zmq_socket(p->zctx, ZMQ_ROUTER);
    /* The largest part a peer sends: a batch of frames (BATCH_BYTES and the
     * frame that passed it), a frame being at most one write at this node's
     * limits with its clock and context. ZeroMQ drops a connection that
     * sends more, before any of it is kept. */
    int64_t max_part = (int64_t)(o->lim.max_key_len + o->lim.max_value_len + 16u * (size_t)o->nodes + 4096u) +
                       BATCH_BYTES + 16;
    if (!p->router || link_options(p->router, o, bind_to) != 0 || sockopt_int(p->router, ZMQ_ROUTER_HANDOVER, 1) != 0 ||
        sockopt_int(p->router, ZMQ_HANDSHAKE_IVL, HANDSHAKE_MS) != 0 ||
        zmq_setsockopt(p->router, ZMQ_MAXMSGSIZE, &max_part, sizeof max_part) != 0 ||
        (o->curve_secret && (sockopt_int(p->router, ZMQ_CURVE_SERVER, 1) != 0 ||
                             zmq_setsockopt(p->router, ZMQ_CURVE_SECRETKEY, o->curve_secret, 41) != 0)) ||
        (p->auth && zmq_setsockopt(p->router, ZMQ_ZAP_DOMAIN, "causeway", 8) != 0)) {
        cw__server_err(err, errlen, "ROUTER socket: %s", zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    if (cw__endpoint_in_use(o->listen)) {
        cw__server_err(err, errlen, "cannot listen on %s: another process serves it", o->listen);
        return CW_EIO;
    }
    int rc = cw__handshakes_start(&p->handshakes, p->zctx, p->router, o->self);
    if (rc != CW_OK) {
        int e = errno;
        cw__server_err(err, errlen, "ROUTER socket's monitor: %s%s", rc == CW_EIO ? zmq_strerror(e) : cw_strerror(rc),
                       rc == CW_EIO ? cw__thread_hint(e) : "");
        return rc;
    }
    if (zmq_bind(p->router, bind_to) != 0) {
        cw__server_err(err, errlen, "cannot listen on %s: %s", o->listen, zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    cw__endpoint_bound(p->router, o->listen, p->bound);
    size_t fdlen = sizeof p->router_fd;
    if (zmq_getsockopt(p->router, ZMQ_FD, &p->router_fd, &fdlen) != 0) {
        cw__server_err(err, errlen, "ROUTER socket: %s", zmq_strerror(zmq_errno()));
        return CW_EIO;
    }
    char id[sizeof ID_PREFIX + 11 + CW_SERVER_GROUP_MAX + 1];
    int idlen = o->group && o->group[0] ? snprintf(id, sizeof id, ID_PREFIX "%u@%s", o->self, o->group)
                                        : snprintf(id, sizeof id, ID_PREFIX "%u", o->self);
    for (uint32_t j = 0; j < o->nodes; j++) {
        if (j == o->self)
            continue;
        void *d = zmq_socket(p->zctx, ZMQ_DEALER);
        p->dealer[j] = d;
        if (!d || link_options(d, o, o->peers[j]) != 0 || zmq_setsockopt(d, ZMQ_ROUTING_ID, id, (size_t)idlen) != 0 ||
            (o->curve_secret && (zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, o->curve_peers[j], 41) != 0 ||
                                 zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, public_key, 41) != 0 ||
                                 zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, o->curve_secret, 41) != 0))) {
            cw__server_err(err, errlen, "DEALER socket for peer %u: %s", j, zmq_strerror(zmq_errno()));
            return CW_EIO;
        }
        if (zmq_connect(d, o->peers[j]) != 0) {
            cw__server_err(err, errlen, "cannot connect to peer %u at %s: %s", j, o->peers[j],
                           zmq_strerror(zmq_errno()));
            return CW_EIO;
        }
    }
    return CW_OK;
}

int cw__transport_net(cw__transport **out, const cw__net_options *o, char *err, size_t errlen)
{
    if (!out || !o || o->nodes == 0 || o->self >= o->nodes || !o->listen) {
        cw__server_err(err, errlen, "bad network transport options");
        return CW_EINVAL;
    }
    net *p = calloc(1, sizeof *p);
    if (!p) {
        cw__server_err(err, errlen, "out of memory");
        return CW_ENOMEM;
    }
    p->base = (cw__transport){.ops = &net_ops, .endpoints = o->nodes};
    p->self = o->self;
    p->lim = o->lim;
    p->hold = o->hold;
    p->control = o->control;
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->dealer = calloc(o->nodes, sizeof *p->dealer);
    p->tx = calloc(o->nodes, sizeof *p->tx);
    p->out = calloc(o->nodes, sizeof *p->out);
    p->rx = calloc(o->nodes, sizeof *p->rx);
    p->pend = malloc(BATCH_FRAMES * sizeof *p->pend);
    int rc = CW_ENOMEM;
    if (!p->dealer || !p->tx || !p->out || !p->rx || !p->pend)
        goto fail;
    for (uint32_t j = 0; j < o->nodes; j++)
        if (cw__wire_tx_init(&p->tx[j], o->nodes) != CW_OK || cw__wire_rx_init(&p->rx[j], o->nodes) != CW_OK)
            goto fail;
    if (p->wake_fd < 0) {
        cw__server_err(err, errlen, "eventfd: %s", strerror(errno));
        rc = CW_EIO;
        goto fail_quiet;
    }
    if ((rc = open_links(p, o, err, errlen)) != CW_OK)
        goto fail_quiet;
    *out = &p->base;
    return CW_OK;
fail:
    cw__server_err(err, errlen, "out of memory");
fail_quiet:
    destroy(&p->base);
    return rc;
}
