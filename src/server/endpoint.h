/* What a node checks about a ZeroMQ endpoint before it binds or connects:
 * whether one it is about to bind is already served by another (ZeroMQ binds
 * an ipc:// path by removing whatever socket file is there: a second node
 * started on a running node's endpoint would take its traffic without a
 * word), and whether its socket needs IPv6. */
#ifndef CW_ENDPOINT_H
#define CW_ENDPOINT_H

#include <stdbool.h>

/* True for an ipc:// endpoint (a path, or @name for Linux's abstract
 * namespace) that a process accepts connections on now; false for any
 * other endpoint (tcp:// binds fail by themselves when taken). */
bool cw__endpoint_in_use(const char *endpoint);

/* True for a tcp:// endpoint whose host is an IPv6 literal in brackets
 * (tcp://[::1]:7001) or the wildcard '*' (every address, which then takes
 * both families, an IPv4 peer's address as ::ffff:a.b.c.d): its socket gets
 * ZMQ_IPV6. A host name keeps IPv4, as before: with IPv6 on, "localhost"
 * would resolve to ::1 and miss a node bound on 127.0.0.1. */
bool cw__endpoint_ipv6(const char *endpoint);

#endif
