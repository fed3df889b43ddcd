/* What a node checks about a ZeroMQ endpoint before it binds or connects:
 * whether one it is about to bind is already served by another (ZeroMQ binds
 * an ipc:// path by removing whatever socket file is there: a second node
 * started on a running node's endpoint would take its traffic without a
 * word), the address a host name binds to, whether its socket needs IPv6,
 * and what it bound. */
#ifndef CW_ENDPOINT_H
#define CW_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

/* Room for the endpoints cw__endpoint_to_bind takes and gives: "tcp://", a
 * host name of at most 253 characters or an address in brackets, ':' and a
 * port (a longer one is refused). */
#define CW__ENDPOINT_MAX 272u

/* True for an ipc:// endpoint (a path, or @name for Linux's abstract
 * namespace) that a process accepts connections on now; false for any
 * other endpoint (tcp:// binds fail by themselves when taken). */
bool cw__endpoint_in_use(const char *endpoint);

/* The endpoint to bind for `endpoint`, into out (CW__ENDPOINT_MAX bytes).
 * ZeroMQ resolves a host name only to connect (it binds "tcp://localhost:P"
 * as a network interface named localhost, and fails), so a tcp:// endpoint
 * whose host is neither '*', an address nor a network interface's name
 * (tcp://lo:7001, which ZeroMQ binds itself) is resolved here: to its first
 * IPv4 address, as a peer's host name is resolved to connect (see
 * cw__endpoint_ipv6), else to its first IPv6 one in brackets. Any other
 * endpoint is copied as it is. CW_OK; CW_EINVAL with the reason in err for
 * a name that does not resolve or an endpoint longer than
 * CW__ENDPOINT_MAX - 1 (its caller says it cannot be bound). */
int cw__endpoint_to_bind(const char *endpoint, char *out, char *err, size_t errlen);

/* The endpoint a socket bound, as libzmq says it (ZMQ_LAST_ENDPOINT: the
 * port the system chose for a port 0, a host name resolved), into out
 * (CW__ENDPOINT_MAX bytes); `given` if libzmq cannot say. */
void cw__endpoint_bound(void *sock, const char *given, char *out);

/* Of getaddrinfo's answers for a host to bind, the one it binds at: the
 * first IPv4 address, else the first answer (the HTTP API's host, as
 * cw__endpoint_to_bind for a ZeroMQ endpoint). */
struct addrinfo;
const struct addrinfo *cw__endpoint_bind_pick(const struct addrinfo *res);

/* True for a tcp:// endpoint whose host is an IPv6 literal in brackets
 * (tcp://[::1]:7001) or the wildcard '*' (every address, which then takes
 * both families, an IPv4 peer's address as ::ffff:a.b.c.d): its socket gets
 * ZMQ_IPV6. A host name keeps IPv4, as before: with IPv6 on, "localhost"
 * would resolve to ::1 and miss a node bound on 127.0.0.1. */
bool cw__endpoint_ipv6(const char *endpoint);

#endif
