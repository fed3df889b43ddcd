/* Who may connect to a node's ZeroMQ endpoint: a ZAP handler (ZeroMQ's
 * authentication protocol, RFC 27) that admits, for CURVE-encrypted links,
 * exactly the configured peers' public keys and names each connection by
 * its node id, so the receiving node can check that a peer speaks only as
 * itself; and, with an allow-list (allow.h), only connections from its
 * addresses, for CURVE and plain (NULL) links alike.
 */
#ifndef CW_AUTH_H
#define CW_AUTH_H

#include <stdint.h>

#include "allow.h"

typedef struct cw__auth cw__auth;

/* Starts the handler in ZeroMQ context zctx (before any socket of that
 * context with a ZAP domain binds). keys_z85: NULL for plain links (the
 * NULL mechanism, which is then the only one admitted), else keys_z85[j] is
 * node j's public key in Z85 (40 characters), NULL for nodes not admitted
 * (this node itself): a connection whose key is node j's gets the User-Id
 * "j" (zmq_msg_gets); any other key or mechanism is refused. allow: NULL
 * admits any address; else a connection from an address outside it is
 * refused whatever its key (copied: the caller's may go). CW_OK, CW_EINVAL
 * (a key that is not Z85 of 32 bytes), CW_EIO (errno says why: a socket's
 * error, or its thread could not start), CW_ENOMEM. Stop with
 * cw__auth_stop before the context is terminated. */
int  cw__auth_start(cw__auth **out, void *zctx, const char *const *keys_z85, uint32_t count,
                    const cw__allow *allow);
/* Stops the handler (within ~50 ms) and frees it. NULL is ignored. */
void cw__auth_stop(cw__auth *a);
/* Connections refused so far. Any thread. */
uint64_t cw__auth_refused(const cw__auth *a);

#endif
