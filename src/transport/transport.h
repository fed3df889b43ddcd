/* The transport: how messages move between the threads that host replicas.
 * A host programs against this interface only. Two implementations: the
 * in-process one (inproc.c: per-pair SPSC rings), which the engine runs on,
 * and the network one (src/server/net.c: ZeroMQ, one endpoint per process),
 * which the node server runs on; the network one lives with its host so
 * that this library keeps no ZeroMQ dependency.
 *
 * Endpoints 0 .. endpoints-1 are the host's threads (the engine's workers),
 * or the processes (the nodes) for the network transport.
 * A message goes to an endpoint, not to a node: the receiving host fans it in
 * to the nodes it runs there, through the fault layer (fault.h), which sits
 * between arrival and delivery whatever the transport.
 *
 * Shape: an ops table behind an opaque handle. The worker loop must run
 * unchanged over either implementation, chosen at open time, so the calls go
 * through function pointers; every one of them moves a batch or a whole
 * fan-out (one indirect call per write sent and per batch taken, not per
 * ring operation), so the indirection costs nothing measurable against a
 * delivery (~100 ns). A set of plain functions with the implementation chosen
 * at link time would forbid the two living side by side in one library.
 *
 * Threads: send, send_all, flush, sending, take, park_prepare, park_cancel
 * and park_wait are the endpoint's own thread's (one thread per endpoint);
 * arrived and wake may be called from any thread. An implementation may
 * narrow this where it says so (net.h: sends from any thread the host
 * serializes, arrived on the receiving thread only).
 *
 * Loss: an implementation never drops a message unless its header says it
 * may, and then only for a host that runs loss recovery (its replicas keep
 * what they sent until stable and pull what is missing), which repairs the
 * loss. inproc.c never drops; net.c drops what a full link refuses.
 */
#ifndef CW_TRANSPORT_H
#define CW_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/msg.h>

typedef struct cw__transport cw__transport;

typedef struct cw__transport_ops {
    /* Sends m from endpoint `from` to endpoint `to`, taking a reference of its
     * own (or copying m's bytes before it returns). Never drops (but see
     * "Loss" above): a full link keeps it (and every later send from
     * `from`, in order) until flush moves it; out of memory, it waits. Does
     * not wake the receiver: call wake once after a batch of sends. A link
     * keeps the order of what is sent on it, except that an implementation
     * may carry recovery traffic (a pull, a retransmitted copy) ahead of
     * the rest: inproc.c does. */
    void (*send)(cw__transport *t, uint32_t from, uint32_t to, cw_msg *m);
    /* send to every endpoint but `from` (a fan-out). */
    void (*send_all)(cw__transport *t, uint32_t from, cw_msg *m);
    /* Makes room for `sends` more sends from `from` (a fan-out counts one a
     * receiving endpoint), at most `per_link` of them to any one endpoint,
     * so that they need no memory and never wait: for a host that must not
     * wait while it holds a lock others need, and that refuses what it was
     * to send instead. Room the links have now counts too: out of memory,
     * the sends fit if every link from `from` takes `per_link` more. False
     * out of memory, with nothing sent and nothing lost. The room lasts
     * until the endpoint's next send beyond it; NULL for an implementation
     * whose sends never wait. */
    bool (*reserve)(cw__transport *t, uint32_t from, size_t sends, size_t per_link);
    /* Retries the sends a full link kept, in order, waking each receiver it
     * reaches. Whether anything moved. */
    bool (*flush)(cw__transport *t, uint32_t from);
    /* Whether sends from `from` wait for room (flush them); always false
     * for an implementation that drops what a full link refuses. */
    bool (*sending)(const cw__transport *t, uint32_t from);
    /* Takes up to max arrivals at endpoint `at` into batch, each holding one
     * reference for the caller; links are visited round robin from where the
     * last take stopped, so no sender starves. The count taken. */
    size_t (*take)(cw__transport *t, uint32_t at, cw_msg **batch, size_t max);
    /* Takes only recovery traffic carried ahead of the rest (see send), as
     * take does; NULL for an implementation without such a lane. For a
     * host that looks for it more often than it takes a batch. */
    size_t (*take_recovery)(cw__transport *t, uint32_t at, cw_msg **batch, size_t max);
    /* Whether anything waits to be taken at `at` (an estimate: exact when
     * the senders are idle). */
    bool (*arrived)(const cw__transport *t, uint32_t at);
    /* Wakes endpoint `at` if it is parked or about to park. Call after
     * publishing work for it (sends, or the host's own work lists). */
    void (*wake)(cw__transport *t, uint32_t at);
    /* Parking, for an endpoint that found no work: prepare gives a ticket;
     * the caller then looks for work once more and either cancels (found
     * some) or waits on the ticket. A wake after prepare makes the wait
     * return at once, so no wake-up is lost. */
    uint32_t (*park_prepare)(cw__transport *t, uint32_t at);
    void (*park_cancel)(cw__transport *t, uint32_t at);
    /* Sleeps until woken, or timeout_ns (0: no limit). */
    void (*park_wait)(cw__transport *t, uint32_t at, uint32_t ticket, uint64_t timeout_ns);
    /* Drops every message still in flight (their references) and frees t. */
    void (*destroy)(cw__transport *t);
} cw__transport_ops;

/* Every implementation's handle starts with this. */
struct cw__transport {
    const cw__transport_ops *ops;
    uint32_t endpoints;
    /* Set by the host (NULL: never): once *closing is true, a send that
     * waits for memory gives up and drops its message instead of waiting,
     * so out of memory can never keep a closing host from stopping. Read
     * with acquire; the host sets it (seq_cst) before it stops its threads. */
    const _Atomic bool *closing;
    /* Set by the host (NULL: not counted): the threads a send keeps waiting
     * for memory now (backoff.h). */
    _Atomic uint32_t *memory_waits;
};

/* The in-process transport (inproc.c): a bounded SPSC ring for every ordered
 * pair of endpoints, each holding at least ring_capacity - 1 messages, and
 * beside it one holding cw__inproc_fast_capacity(ring_capacity) - 1 for
 * recovery traffic sent to one endpoint (pulls and retransmitted copies),
 * which take serves first (up to half its batch) and which may overtake the
 * link's earlier messages.
 * CW_OK, CW_EINVAL (no endpoints), or CW_ENOMEM. Destroy with
 * cw__transport_destroy. */
int cw__transport_inproc(cw__transport **out, uint32_t endpoints, uint32_t ring_capacity);

/* The recovery ring's room beside a ring of ring_capacity: a quarter, at
 * least 16 (beyond it recovery traffic waits in the link's order). */
static inline uint32_t cw__inproc_fast_capacity(uint32_t ring_capacity)
{
    return ring_capacity / 4 > 16 ? ring_capacity / 4 : 16;
}
/* The bytes cw__transport_inproc takes for each ordered pair of endpoints:
 * its two rings, their headers, and the pointers to them. */
size_t cw__inproc_pair_bytes(uint32_t ring_capacity);

static inline void cw__transport_send(cw__transport *t, uint32_t from, uint32_t to, cw_msg *m)
{
    t->ops->send(t, from, to, m);
}
static inline void cw__transport_send_all(cw__transport *t, uint32_t from, cw_msg *m)
{
    t->ops->send_all(t, from, m);
}
static inline bool cw__transport_reserve(cw__transport *t, uint32_t from, size_t sends, size_t per_link)
{
    return sends == 0 || !t->ops->reserve || t->ops->reserve(t, from, sends, per_link);
}
static inline bool cw__transport_flush(cw__transport *t, uint32_t from) { return t->ops->flush(t, from); }
static inline bool cw__transport_sending(const cw__transport *t, uint32_t from)
{
    return t->ops->sending(t, from);
}
static inline size_t cw__transport_take(cw__transport *t, uint32_t at, cw_msg **batch, size_t max)
{
    return t->ops->take(t, at, batch, max);
}
static inline size_t cw__transport_take_recovery(cw__transport *t, uint32_t at, cw_msg **batch, size_t max)
{
    return t->ops->take_recovery ? t->ops->take_recovery(t, at, batch, max) : 0;
}
static inline bool cw__transport_arrived(const cw__transport *t, uint32_t at)
{
    return t->ops->arrived(t, at);
}
static inline void cw__transport_wake(cw__transport *t, uint32_t at) { t->ops->wake(t, at); }
static inline uint32_t cw__transport_park_prepare(cw__transport *t, uint32_t at)
{
    return t->ops->park_prepare(t, at);
}
static inline void cw__transport_park_cancel(cw__transport *t, uint32_t at) { t->ops->park_cancel(t, at); }
static inline void cw__transport_park_wait(cw__transport *t, uint32_t at, uint32_t ticket, uint64_t timeout_ns)
{
    t->ops->park_wait(t, at, ticket, timeout_ns);
}
static inline void cw__transport_destroy(cw__transport *t)
{
    if (t)
        t->ops->destroy(t);
}

#endif
