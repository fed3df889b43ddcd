/* Handshakes that fail inside libzmq: a connection to the node's ROUTER
 * whose ZMTP handshake fails (the other side speaks another security
 * mechanism, CURVE on one node and not the other, or not ZMTP at all) is
 * refused by libzmq before any ZAP handler hears of it
 * (auth.h counts only those it refuses). A thread reads the ROUTER's
 * monitor events, counts those failures, and says so on stderr, at most
 * once every WARN_EVERY_NS.
 */
#ifndef CW_HANDSHAKES_H
#define CW_HANDSHAKES_H

#include <stdint.h>

typedef struct cw__handshakes cw__handshakes;

/* Starts watching `router` (a socket of zctx, on the calling thread, which
 * owns it) for node `self`. CW_OK, CW_EIO (errno says why: a socket's
 * error, or its thread could not start), CW_ENOMEM. */
int cw__handshakes_start(cw__handshakes **out, void *zctx, void *router, uint32_t self);
/* Stops watching (on the thread that owns the router, before it is closed)
 * and frees it. NULL is ignored. */
void cw__handshakes_stop(cw__handshakes *h, void *router);
/* Handshakes failed so far. Any thread. */
uint64_t cw__handshakes_failed(const cw__handshakes *h);

#endif
