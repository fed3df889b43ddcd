/* The options of the engine's replicas (replica_options.h).
 *
 * Invariants:
 *  1. Every interval given to a replica is at most CW_NODE_MAX_INTERVAL_NS,
 *     whatever the engine's options (cw_node_create refuses more).
 *  2. With recovery off the replica keeps the node defaults for every
 *     recovery setting (cw_node_options_init): it has no send_to, so none
 *     of them applies.
 */
#include "replica_options.h"

#include <assert.h>

/* A replica's interval at most CW_NODE_MAX_INTERVAL_NS: a timeout or pace
 * computed from the engine's options (2 ms + 2 x max_delay_us, 20 ns x
 * nodes^3) can pass it. */
static uint64_t at_most_interval(uint64_t ns)
{
    return ns < CW_NODE_MAX_INTERVAL_NS ? ns : CW_NODE_MAX_INTERVAL_NS;
}

uint64_t cw__engine_report_interval_ns(const cw_engine_options *o)
{
    return (uint64_t)(o->report_interval_us ? o->report_interval_us : 10000u) * 1000u;
}

void cw__engine_replica_options(const cw_engine_options *o, cw_node_id self, cw_node_options *no)
{
    assert(o && no);
    cw_node_options_init(no);
    no->self = self;
    no->nodes = o->nodes;
    no->policy = o->policy;
    no->merge = o->merge;
    no->merge_ctx = o->merge_ctx;
    if (o->max_key_len)
        no->max_key_len = o->max_key_len;
    if (o->max_value_len)
        no->max_value_len = o->max_value_len;
    if (o->max_buffered)
        no->max_buffered = o->max_buffered;
    if (o->max_siblings)
        no->max_siblings = o->max_siblings;
    if (!cw__engine_recovers(o))
        return;
    /* Loss recovery and stability (engine.h). */
    no->recovery_timeout_ns = at_most_interval(o->recovery_timeout_us ? (uint64_t)o->recovery_timeout_us * 1000u
                                                                      : 2000000u + 2000u * (uint64_t)o->max_delay_us);
    no->report_interval_ns = at_most_interval(cw__engine_report_interval_ns(o));
    /* A round costs O(nodes) per peer heard at every node, nodes^3 in all:
     * paced at 20 ns x nodes^3 (5 ms at 64 nodes), so rounds take about the
     * same share of the CPU at any size. */
    uint64_t n = o->nodes, pace = n * n * n * 20u;
    no->stability_interval_ns = at_most_interval(pace > 100000u ? pace : 100000u);
    no->max_log = o->max_log ? o->max_log : 2 * (size_t)cw__engine_inbox_capacity(o);
}
