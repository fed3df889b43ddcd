/* Replica internals shared with tests: the invariant checker. */
#ifndef CW_NODE_INTERNAL_H
#define CW_NODE_INTERNAL_H

#include <stdbool.h>
#include <causeway/node.h>

/* Checks every invariant listed at the top of node.c. Cost grows with the
 * buffer and the store: for assert() and tests, not for the hot path. */
bool cw__node_check(const cw_node *n);

/* Adds this node's buffering-latency samples to a histogram (for the
 * engine's totals). */
struct cw__histogram;
void cw__node_add_buffering(const cw_node *n, struct cw__histogram *into);

#endif
