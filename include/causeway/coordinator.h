/* Per-node clock coordinator, as Clockworks' VectorClockCoordinator: every
 * send, receive and local event advances the node's own entry. (The
 * replication protocol counts writes only and does not use this; it is for
 * embedders who want Clockworks' event-counting model.)
 *
 * Threads: every function is safe to call from many threads at once on one
 * coordinator (a mutex guards it). */
#ifndef CAUSEWAY_COORDINATOR_H
#define CAUSEWAY_COORDINATOR_H

#include <pthread.h>
#include <stdint.h>
#include <causeway/export.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_coordinator_stats {
    uint64_t local_events;  /* cw_coordinator_local_event calls that succeeded */
    uint64_t sends;         /* cw_coordinator_before_send calls that succeeded */
    uint64_t receives;      /* cw_coordinator_before_receive calls that succeeded */
    uint64_t merges;        /* receives whose remote clock advanced some entry */
} cw_coordinator_stats;

/* Complete type so it can be embedded; fields are private. */
typedef struct cw_coordinator {
    pthread_mutex_t lock_;
    cw_node_id self_;
    cw_vclock clock_;
    cw_coordinator_stats stats_;
} cw_coordinator;

/* current = {}. CW_EINVAL on NULL; CW_ENOMEM if the mutex cannot be made.
 * Destroy with cw_coordinator_destroy. */
CW_API int  cw_coordinator_init(cw_coordinator *co, cw_node_id self);
CW_API void cw_coordinator_destroy(cw_coordinator *co);

/* Ticks the own entry and writes the new clock to out (to attach to a message).
 * CW_EOVERFLOW at 2^64-1, CW_ENOMEM; nothing changes on failure. */
CW_API int cw_coordinator_before_send(cw_coordinator *co, cw_vclock *out);
/* Merges remote, then ticks the own entry (the receive is an event). */
CW_API int cw_coordinator_before_receive(cw_coordinator *co, const cw_vclock *remote);
/* Ticks the own entry. */
CW_API int cw_coordinator_local_event(cw_coordinator *co);
/* Snapshot of the current clock into out. */
CW_API int cw_coordinator_current(cw_coordinator *co, cw_vclock *out);
CW_API void cw_coordinator_get_stats(cw_coordinator *co, cw_coordinator_stats *out);

#ifdef __cplusplus
}
#endif
#endif
