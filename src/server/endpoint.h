/* Whether a ZeroMQ endpoint this process is about to bind is already served
 * by another. ZeroMQ binds an ipc:// path by removing whatever socket file
 * is there: a second node started on a running node's endpoint would take
 * its traffic without a word. */
#ifndef CW_ENDPOINT_H
#define CW_ENDPOINT_H

#include <stdbool.h>

/* True for an ipc:// endpoint (a path, or @name for Linux's abstract
 * namespace) that a process accepts connections on now; false for any
 * other endpoint (tcp:// binds fail by themselves when taken). */
bool cw__endpoint_in_use(const char *endpoint);

#endif
