/* Replica internals shared with tests and hosts: the invariant checker,
 * the option check. */
#ifndef CW_NODE_INTERNAL_H
#define CW_NODE_INTERNAL_H

#include <stdbool.h>
#include <causeway/node.h>

/* Checks every invariant listed at the top of node.c. Cost grows with the
 * buffer and the store: for assert() and tests, not for the hot path. */
bool cw__node_check(const cw_node *n);

/* Whether cw_node_create accepts o (nodes 1..CW_VCLOCK_MAX_ENTRIES, self
 * below nodes, a send callback when there are peers, a known policy with its
 * merge callback, max_buffered > 0). Hosts check their options with it. */
bool cw__node_options_valid(const cw_node_options *o);

/* Adds this node's buffering-latency samples to a histogram (for the
 * engine's totals). */
struct cw__histogram;
void cw__node_add_buffering(const cw_node *n, struct cw__histogram *into);

#endif
