/* The in-process transport: a bounded single-producer single-consumer ring
 * (ck_ring, queue.h) for every ordered pair of endpoints, and a parker
 * (park.h) per endpoint.
 *
 * Why per-pair SPSC rings. The measured alternative was one multi-producer
 * ck_ring per endpoint. Fan-in of P producers into one consumer on a 2-core
 * machine (causeway-bench --benchmark_filter=fanin): per-pair rings moved
 * 247M, 262M and 48M messages/s with 1, 3 and 7 producers; one shared MPSC
 * ck_ring moved 25.2M/s with one producer (a compare-and-swap per enqueue:
 * 9.8x slower) and did not finish in 10 s with 3 or 7: with more threads than
 * cores, a producer preempted between reserving and committing its slot
 * stalls every producer behind it. Per-pair rings have one producer each, so
 * nothing waits on another thread's progress.
 *
 * Invariants:
 *  1. Ring ep[to].in[from] has one producer (endpoint from's thread) and one
 *     consumer (endpoint to's thread); ep[e].in[e] is NULL.
 *  2. Nothing sent is lost: a send a full ring refuses goes on the sender's
 *     pending list, and while that list is not empty every later send from
 *     that endpoint goes behind it, so each link keeps its order. The sender
 *     keeps taking its own arrivals meanwhile, so two endpoints full towards
 *     each other still drain each other.
 *  3. A message in a ring or on a pending list holds one reference, which
 *     take hands to the caller (or destroy drops).
 *  4. Everything a sender wrote before a send is visible to the receiver
 *     after it takes the message (queue.h: the ring publishes the slot
 *     after writing it).
 *  5. Recovery traffic sent to one endpoint (a pull, a retransmitted copy:
 *     cw__msg_unordered) goes on a second ring per pair, ep[to].fast[from],
 *     which take serves first (up to half a batch, and take_recovery alone),
 *     so a pull and its answer do not wait behind a backlog of writes (under
 *     load the writes' rings hold tens of milliseconds of deliveries). They
 *     may overtake the link's earlier messages; the replicas need no order
 *     among them (a pull is repeated, an answer that comes twice is a
 *     duplicate). A full fast ring sends on the ordinary path (invariant 2).
 *     Writes and reports keep their link's order: a report that overtook the
 *     writes it counts would be taken for their loss.
 */
#include <stdlib.h>
#include <string.h>

#include <causeway/error.h>

#include "backoff.h"
#include "msg_internal.h"
#include "park.h"
#include "queue.h"
#include "transport.h"
#include "vec.h"

typedef struct outgoing {
    cw_msg *msg;
    uint32_t to;
} outgoing;

typedef struct endpoint {
    cw__parker park;
    cw__queue **in;             /* in[from], NULL for from == this endpoint */
    cw__queue **fast;           /* fast[from]: recovery traffic (invariant 5) */
    uint32_t next_from;         /* where the next take starts */
    outgoing *pending;          /* sends a full ring refused, in order */
    size_t plen, pcap;
} endpoint;

typedef struct inproc {
    cw__transport base;
    endpoint *ep;
} inproc;

static inproc *inproc_of(cw__transport *t) { return (inproc *)t; }
static const inproc *inproc_of_const(const cw__transport *t) { return (const inproc *)t; }

static bool push_out(inproc *p, uint32_t from, uint32_t to, cw_msg *m)
{
    endpoint *ep = &p->ep[from];
    if (ep->plen == 0 && cw__queue_push(p->ep[to].in[from], m))
        return true;
    outgoing *room = cw__vec_room(ep->pending, ep->plen, &ep->pcap, sizeof *room);
    if (!room)
        return false;
    ep->pending = room;
    ep->pending[ep->plen++] = (outgoing){m, to};
    return true;
}

/* Whether every ring from `from` takes `per_link` more now. With nothing
 * pending, sends of which no endpoint gets more than that then all go into
 * rings, allocating nothing (a recovery send whose fast ring is full takes
 * the ordinary one). */
static bool rings_take(inproc *p, uint32_t from, size_t per_link)
{
    for (uint32_t to = 0; to < p->base.endpoints; to++)
        if (to != from && cw__queue_room(p->ep[to].in[from]) < per_link)
            return false;
    return true;
}

/* Room for `sends` more that needs no memory: on from's pending list
 * (invariant 2 puts every send there once it holds one), or, when the list
 * cannot grow, in the rings while nothing is pending. (The rings are looked
 * at last: a look reads every receiver's progress, a cache miss each, where
 * a list that has grown once answers at once.) */
static bool reserve(cw__transport *t, uint32_t from, size_t sends, size_t per_link)
{
    inproc *p = inproc_of(t);
    endpoint *ep = &p->ep[from];
    if (sends <= ep->pcap - ep->plen)
        return true;
    outgoing *room = cw__vec_reserve(ep->pending, ep->plen, &ep->pcap, sends, sizeof *room);
    if (room)
        ep->pending = room;
    return room != NULL || (ep->plen == 0 && rings_take(p, from, per_link));
}

/* Sends m in its link's order (invariant 2). */
static void send_ordered(cw__transport *t, uint32_t from, uint32_t to, cw_msg *m)
{
    cw__msg_ref(m);
    /* Out of memory: wait for it rather than lose the write ... */
    cw__memory_wait mw = {.closing = t->closing, .waiting = t->memory_waits};
    while (!push_out(inproc_of(t), from, to, m) && cw__memory_wait_more(&mw)) {
    }
    if (cw__memory_wait_end(&mw)) /* ... unless the host is closing: then nothing is delivered anyway */
        cw__msg_unref(m);
}

static void send_one(cw__transport *t, uint32_t from, uint32_t to, cw_msg *m)
{
    if (cw__msg_unordered(m)) {
        cw__msg_ref(m); /* the ring's (invariant 3), before the receiver can take it */
        if (cw__queue_push(inproc_of(t)->ep[to].fast[from], m))
            return;
        cw__msg_unref(m); /* full: the caller's reference still holds it */
    }
    send_ordered(t, from, to, m);
}

static void send_all(cw__transport *t, uint32_t from, cw_msg *m)
{
    for (uint32_t to = 0; to < t->endpoints; to++)
        if (to != from)
            send_ordered(t, from, to, m);
}

static bool flush(cw__transport *t, uint32_t from)
{
    inproc *p = inproc_of(t);
    endpoint *ep = &p->ep[from];
    size_t done = 0;
    while (done < ep->plen) {
        outgoing o = ep->pending[done];
        if (!cw__queue_push(p->ep[o.to].in[from], o.msg))
            break;
        cw__park_wake(&p->ep[o.to].park);
        done++;
    }
    memmove(ep->pending, ep->pending + done, (ep->plen - done) * sizeof *ep->pending);
    ep->plen -= done;
    return done > 0;
}

static bool sending(const cw__transport *t, uint32_t from) { return inproc_of_const(t)->ep[from].plen > 0; }

static size_t take_recovery(cw__transport *t, uint32_t at, cw_msg **batch, size_t max)
{
    endpoint *ep = &inproc_of(t)->ep[at];
    size_t count = 0;
    for (uint32_t f = 0; f < t->endpoints && count < max; f++) {
        void *m;
        while (ep->fast[f] && count < max && cw__queue_pop(ep->fast[f], &m))
            batch[count++] = m;
    }
    return count;
}

static size_t take(cw__transport *t, uint32_t at, cw_msg **batch, size_t max)
{
    endpoint *ep = &inproc_of(t)->ep[at];
    uint32_t n = t->endpoints, from = ep->next_from;
    /* Recovery traffic first (invariant 5), at most half the batch: a flood
     * of it does not hold back the writes. */
    size_t count = take_recovery(t, at, batch, max > 1 ? max / 2 : max);
    for (uint32_t k = 0; k < n && count < max; k++, from = from + 1 < n ? from + 1 : 0) {
        cw__queue *q = ep->in[from];
        void *m;
        while (q && count < max && cw__queue_pop(q, &m))
            batch[count++] = m;
    }
    ep->next_from = from;
    return count;
}

static bool arrived(const cw__transport *t, uint32_t at)
{
    const endpoint *ep = &inproc_of_const(t)->ep[at];
    for (uint32_t from = 0; from < t->endpoints; from++)
        if (ep->in[from] && (cw__queue_size(ep->in[from]) || cw__queue_size(ep->fast[from])))
            return true;
    return false;
}

static void wake(cw__transport *t, uint32_t at) { cw__park_wake(&inproc_of(t)->ep[at].park); }

static uint32_t park_prepare(cw__transport *t, uint32_t at)
{
    return cw__park_prepare(&inproc_of(t)->ep[at].park);
}

static void park_cancel(cw__transport *t, uint32_t at) { cw__park_cancel(&inproc_of(t)->ep[at].park); }

static void park_wait(cw__transport *t, uint32_t at, uint32_t ticket, uint64_t timeout_ns)
{
    cw__park_wait(&inproc_of(t)->ep[at].park, ticket, timeout_ns);
}

static void destroy(cw__transport *t)
{
    inproc *p = inproc_of(t);
    for (uint32_t e = 0; p->ep && e < t->endpoints; e++) {
        endpoint *ep = &p->ep[e];
        for (uint32_t from = 0; ep->in && from < t->endpoints; from++) {
            void *m;
            while (ep->in[from] && cw__queue_pop(ep->in[from], &m))
                cw__msg_unref(m);
            while (ep->fast && ep->fast[from] && cw__queue_pop(ep->fast[from], &m))
                cw__msg_unref(m);
            cw__queue_destroy(ep->in[from]);
            if (ep->fast)
                cw__queue_destroy(ep->fast[from]);
        }
        free(ep->in);
        free(ep->fast);
        for (size_t i = 0; i < ep->plen; i++)
            cw__msg_unref(ep->pending[i].msg);
        free(ep->pending);
    }
    free(p->ep);
    free(p);
}

static const cw__transport_ops inproc_ops = {
    .send = send_one,
    .send_all = send_all,
    .reserve = reserve,
    .flush = flush,
    .sending = sending,
    .take = take,
    .take_recovery = take_recovery,
    .arrived = arrived,
    .wake = wake,
    .park_prepare = park_prepare,
    .park_cancel = park_cancel,
    .park_wait = park_wait,
    .destroy = destroy,
};

size_t cw__inproc_pair_bytes(uint32_t ring_capacity)
{
    return cw__queue_bytes(ring_capacity) + cw__queue_bytes(cw__inproc_fast_capacity(ring_capacity)) +
           2 * sizeof(cw__queue *);
}

int cw__transport_inproc(cw__transport **out, uint32_t endpoints, uint32_t ring_capacity)
{
    if (!out || endpoints == 0)
        return CW_EINVAL;
    inproc *p = calloc(1, sizeof *p);
    if (!p)
        return CW_ENOMEM;
    p->base = (cw__transport){.ops = &inproc_ops, .endpoints = endpoints};
    p->ep = calloc(endpoints, sizeof *p->ep);
    int rc = p->ep ? CW_OK : CW_ENOMEM;
    for (uint32_t e = 0; rc == CW_OK && e < endpoints; e++) {
        endpoint *ep = &p->ep[e];
        ep->in = calloc(endpoints, sizeof *ep->in);
        ep->fast = calloc(endpoints, sizeof *ep->fast);
        if (!ep->in || !ep->fast)
            rc = CW_ENOMEM;
        for (uint32_t from = 0; rc == CW_OK && from < endpoints; from++)
            if (from != e && (!(ep->in[from] = cw__queue_create(ring_capacity)) ||
                              !(ep->fast[from] = cw__queue_create(cw__inproc_fast_capacity(ring_capacity)))))
                rc = CW_ENOMEM;
    }
    if (rc != CW_OK) {
        destroy(&p->base);
        return rc;
    }
    *out = &p->base;
    return CW_OK;
}
