/* The options the engine gives each of its replicas, from its own options:
 * limits, policy, and with recovery on the recovery, report, stability and
 * log settings it derives (engine.h documents their defaults). Also for
 * code that drives replicas the engine's way without the engine (the
 * benchmarks' baselines), so that both always run the same replicas. */
#ifndef CW_REPLICA_OPTIONS_H
#define CW_REPLICA_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <causeway/engine.h>
#include <causeway/node.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An idle node's clock report interval in ns (engine.h: 0 = 10 ms). */
uint64_t cw__engine_report_interval_ns(const cw_engine_options *o);

/* The writes a node may have in flight (engine.h: 0 = 4096). */
static inline uint32_t cw__engine_inbox_capacity(const cw_engine_options *o)
{
    return o->inbox_capacity ? o->inbox_capacity : 4096u;
}

/* Whether the engine runs loss recovery and stability with these options:
 * its replicas then get a send_to callback. */
static inline bool cw__engine_recovers(const cw_engine_options *o)
{
    return o->nodes > 1 && !o->no_recovery;
}

/* Node `self`'s options, with the engine's merge function but none of its
 * send or apply callbacks (the caller sets send and on_apply, and send_to
 * where cw__engine_recovers(o)). */
void cw__engine_replica_options(const cw_engine_options *o, cw_node_id self, cw_node_options *no);

#ifdef __cplusplus
}
#endif

#endif
