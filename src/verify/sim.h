/* Deterministic simulator: N replicas (cw_node) driven by one seeded
 * scheduler that interleaves writes at random nodes with deliveries of
 * in-flight messages in random order (delay and reordering), duplicates,
 * and link holds (partitions), then drains everything and checks the run
 * against its ground-truth history. The same seed replays the same run. */
#ifndef CW_VERIFY_SIM_H
#define CW_VERIFY_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <causeway/node.h>

#include "history.h"

typedef struct cw_sim_options {
    uint32_t nodes;                /* replicas (>= 1) */
    uint64_t writes;               /* writes in the run */
    uint32_t keys;                 /* distinct keys written */
    uint64_t seed;
    cw_conflict_policy policy;
    double duplicate_probability;  /* a delivered message stays in flight once more */
    double hold_probability;       /* each step: toggle a hold on a random link */
    size_t max_buffered;           /* per replica; small values exercise CW_EFULL */
    double refuse_probability;     /* the network refuses a send (backpressure) */
    size_t max_unsent;             /* per replica: refused writes kept (cw_node_options) */
    bool sequential;               /* each write is delivered everywhere before the next */
} cw_sim_options;

void cw_sim_options_init(cw_sim_options *o);

typedef struct cw_sim_report {
    cw_history_report truth;
    uint64_t deliveries;           /* cw_node_receive calls that took the message */
    uint64_t duplicates;           /* arrivals the replicas dropped as duplicates */
    uint64_t full_refusals;        /* CW_EFULL answers (message kept, retried) */
    uint64_t send_refusals;        /* sends the network refused (the replica kept them) */
    uint64_t put_refusals;         /* writes refused with CW_EFULL: too much left unsent */
    uint64_t max_buffered;         /* largest buffer any replica had */
    uint64_t conflicts;            /* summed over replicas */
    char violation[512];           /* empty when the run is correct */
} cw_sim_report;

/* Runs one schedule. Returns CW_OK when it ran (report->truth.ok says whether
 * it was correct), or a CW_E* code if it could not run (bad options, memory). */
int cw_sim_run(const cw_sim_options *o, cw_sim_report *report);

#endif
