/* What the engine's files share: the engine, its nodes and its workers
 * (engine.c: lifecycle and the public API; worker.c: the worker loop). */
#ifndef CW_ENGINE_INTERNAL_H
#define CW_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <causeway/engine.h>

#include "fault.h"
#include "histogram.h"
#include "node_internal.h"
#include "now.h"
#include "retry.h"
#include "transport.h"
#include "writes.h"

typedef struct worker worker;

typedef struct enode {
    pthread_mutex_t lock;
    cw_node *node;
    cw_msg **outbox;                /* written, not yet fanned out; under lock */
    size_t out_len, out_cap;
    cw_engine *e;
    cw_node_id id;
    worker *w;
    cw__histogram replication;      /* atomic adds from any worker */
    cw__writes writes;              /* its writes' records, for replication */
    uint64_t put_ns;                /* the running put's time, read once (under lock) */
    _Atomic uint64_t applied;       /* other nodes' writes applied here (written under lock) */
    cw__retry refused;              /* writes its replica refused for now; its worker's */
    uint64_t retried_at;            /* applied when refused was last offered; its worker's */
    uint64_t *lost_from;            /* with drops: a bit per origin whose write's first copy
                                       to this node was dropped, until the next message that
                                       origin sent itself comes (deliver_batch); its worker's */
    _Atomic(struct cw__put_call *) combine; /* a put that found the lock taken, for its
                                       holder to make (engine.c, "Combining") */
    /* Put backpressure, on lines of their own: every worker applying a
     * write's last copy decrements in_flight, and must not take the line of
     * the node's lock (or its worker's fields) from their users each time. */
    _Alignas(64) _Atomic uint32_t in_flight; /* writes made here not yet applied everywhere */
    _Atomic uint32_t waiting;       /* puts waiting on space */
    pthread_mutex_t room;           /* a leaf lock: puts wait for room in flight on space */
    pthread_cond_t space;           /* in_flight fell to the low water (put backpressure) */
} enode; /* a multiple of 64 bytes (the alignment): nodes in an array share no line */

/* A worker's list of messages its own nodes sent each other (one reference
 * each), and the other array, swapped in while one is handed over. */
typedef struct cw__local_list {
    cw_msg **msgs;
    size_t len, cap;
    cw_msg **spare;
    size_t spare_cap;
    bool in_hand;                   /* being handed over (not again within that) */
} cw__local_list;

struct worker {
    cw_engine *e;
    uint32_t id;                    /* also its transport endpoint */
    pthread_t thread;
    bool started;
    _Atomic uint32_t outbox_dirty;  /* a local node has writes to send; the put
                                       that sets it 0 -> 1 wakes the worker */
    cw_msg **taken;                 /* a node's outbox, taken whole (outbox_limit entries) */
    size_t refused;                 /* writes its nodes refused for now, waiting */
    bool nomem;                     /* one of them for memory (CW_ENOMEM) */
    _Atomic uint64_t consumed;
    /* What its nodes send each other through send_to, its thread's only:
     * local holds reports and the writes a node sends ahead of them
     * (send_outbox_first), in the order sent; fast holds pulls and
     * retransmitted copies, which keep no order with anything (the
     * transport's recovery lane, inproc.c invariant 5) and so are handed
     * over even while a batch holds its nodes' writes (recovery_between). */
    cw__local_list local, fast;
    bool nested;                    /* handing over recovery traffic within a batch */
    bool holds_own;                 /* a batch in hand holds writes of its own nodes
                                       (send_outboxes, take_local) */
    /* When one of its nodes next wants a tick (UINT64_MAX: none): lowered
     * by its thread after deliveries and by puts (an atomic minimum), taken
     * whole by its thread before it ticks. */
    _Atomic uint64_t tick_due;
    uint64_t reports_seen;          /* the engine's reports_asked_ns it last acted on */
};

struct cw_engine {
    cw_engine_options o;
    uint32_t nodes, workers, ring_capacity;
    uint32_t outbox_limit;          /* inbox_capacity: writes a node may have in flight,
                                       so also what its outbox can hold */
    enode *node;
    worker *w;
    cw__transport *t;
    cw__faults faults;
    _Atomic uint64_t produced;
    _Atomic bool closed;
    _Atomic uint32_t memory_waits;  /* threads waiting for memory now (backoff.h) */
    /* The first error a replica refused a message with for good (0: none).
     * The engine never hands a replica a message it must refuse (another
     * group's, its own, beyond its limits), so this is a bug's trace: the
     * message is neither delivered nor counted as delivered, and quiesce
     * returns this error rather than wait for it. */
    _Atomic int refused_rc;
    _Atomic uint32_t active;
    _Atomic bool stop;
    bool recovery;                  /* loss recovery on (nodes > 1) */
    bool combine;                   /* puts that find their node's lock taken are made by
                                       its holder (engine.c, "Combining") */
    /* When quiesce last asked every node to report now (0: never). A hint:
     * workers compare it with the ask they last acted on; the replicas'
     * state it concerns is taken under their locks. */
    _Atomic uint64_t reports_asked_ns;
    uint64_t stall_timeout_ns;      /* a put's wait for stability */
    pthread_mutex_t shutdown_lock;  /* one shutdown at a time */
    bool down;
};

/* The memory an engine opened with o (valid options) takes before any
 * write, as cw_engine_open estimates it against the machine's (CW_ELIMIT
 * above it). */
double cw__engine_fixed_bytes(const cw_engine_options *o);

/* A worker thread's body (pthread_create's start routine); arg is its
 * worker. Runs until the engine's stop flag is set and it is woken. */
void *cw__worker_main(void *arg);

/* The fault layer's delivery (cw__deliver_fn): hands r to its replica on
 * worker `lane`'s thread. r.msg is borrowed. */
void cw__engine_deliver(void *host, uint32_t lane, cw__route r);

/* For quiesce after a loss (quiesce.c): whether every node has every write
 * a node it can reach has. Out of memory: true, with *rc = CW_ENOMEM. */
bool cw__engine_recovered(cw_engine *e, int *rc);

/* Lowers w's tick_due to at (an atomic minimum): whether it did. */
bool cw__worker_want_tick(worker *w, uint64_t at);

/* A replica's send_to (under its node's lock, on its worker's thread):
 * recovery traffic to one node or to all. */
int cw__engine_send_to(void *ctx, uint32_t to, cw_msg *m);

/* Makes the put waiting at en for its lock, if any (engine.c, "Combining").
 * en's lock held. */
void cw__engine_serve_put(enode *en);

/* Lets go of en's lock, making the put waiting there first: every worker
 * hold and every put ends this way, so an offered put waits for at most
 * one of them (reads let go plainly: the put takes the lock itself). */
static inline void cw__engine_unlock_serving(enode *en)
{
    cw__engine_serve_put(en);
    pthread_mutex_unlock(&en->lock);
}

#endif
