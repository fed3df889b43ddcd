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

/* An idle node's report goes to every other node, and each takes in its
 * clock in O(nodes): a round of reports costs O(nodes^3) in all. At 1,024
 * nodes reports every 10 ms kept both workers busy whenever a write was
 * not yet stable: `causeway stress --nodes 1024 --writes 50 --sequential`
 * took 0.8 s a write. So the default is 10 ms, or 1 ns x nodes^3 beyond
 * 215 nodes (1.07 s at 1,024), at most 10 s: the reports' share of the CPU
 * stays about the same at any size, as the stability rounds' does. */
uint64_t cw__engine_report_interval_ns(const cw_engine_options *o)
{
    if (o->report_interval_us)
        return (uint64_t)o->report_interval_us * 1000u;
    uint64_t n = o->nodes, pace = n * n * n; /* n <= 65,536: no overflow */
    return pace < 10000000u ? 10000000u : pace > 10000000000u ? 10000000000u : pace;
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
