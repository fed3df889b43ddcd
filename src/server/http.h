/* The node process's HTTP API (reference: node-server.md, "HTTP API"), on
 * libmicrohttpd with Jansson, in front of one cw__server.
 *
 *   POST /write      {"key": STRING, "value": ANY, "context"?: CLOCK}
 *   POST /delete     {"key": STRING, "context"?: CLOCK}
 *   GET  /read/<key> (the key percent-decoded from the path, any bytes)
 *   POST /replicate  the message codec's bytes (application/octet-stream)
 *   GET  /status     the replica's data, clocks and pending writes as JSON
 *   GET  /metrics    Prometheus text exposition format 0.0.4
 *   POST /admin/link {"from": I, "to": J, "action": "hold"|"release"|"cut"|"heal"}
 *
 * Every response but /metrics is application/json; every error body is
 * {"status": "error", "error": "<reason>"}. Connections are kept alive.
 *
 * Threads: requests are served by libmicrohttpd's internal thread pool
 * (epoll where the library has it), which calls the server from its own
 * threads (cw__server's calls are any-thread).
 */
#ifndef CW_HTTP_H
#define CW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "clients.h"
#include "server.h"

typedef struct cw__http cw__http;

typedef struct cw__http_options {
    /* Bytes of one request body. A request that declares more (Content-Length)
     * gets 413 before its body is read; a chunked one that sends more is
     * discarded past the limit (memory stays bounded) and gets 413. Default
     * CW_HTTP_DEFAULT_MAX_BODY: a node's largest value plus room for the key,
     * a context and the JSON around them. */
    size_t max_body;
    unsigned threads;            /* libmicrohttpd threads (default 2; 1: no pool) */
    unsigned max_connections;    /* open connections at once (default 256) */
    unsigned max_per_address;    /* open connections at once from one address (default 128; 0: no
                                    limit beyond max_connections): one more is closed as it is
                                    accepted, so one host's connections (slow senders among them)
                                    cannot take every slot */
    unsigned idle_timeout_s;     /* an idle keep-alive connection is closed after (default 60) */
    size_t answers_held_max;     /* bytes large answers (/status, /read of a large key) hold at
                                    once before more are 503 (default CW_HTTP_DEFAULT_ANSWERS_HELD:
                                    64 MiB; 0 as the default) */
    size_t bodies_held_max;      /* bytes the bodies of requests being received hold at once between
                                    them before a body that would pass it is discarded and its
                                    request answered 503 (default CW_HTTP_DEFAULT_BODIES_HELD: 64
                                    MiB; 0 as the default; raised to max_body when below it, so a
                                    body of max_body always fits alone) */
    size_t parse_max;            /* the weight (units of JSON text: bytes outside whitespace, a short
                                    number or an escape as one) the JSON being parsed holds at once
                                    (request bodies, and the stored values a read or /status
                                    shows) before a request that would pass it is 503 (default
                                    CW_HTTP_DEFAULT_PARSE_MAX: 4 Mi units, which Jansson may make up
                                    to ~360 MB of; 0 as the default; raised to the heaviest write
                                    when below it) */
    /* The group's name (--group), or NULL: POST /replicate then takes a
     * write only with a "Causeway-Group" header that gives it (403
     * otherwise), as a link takes only a peer of the group. */
    const char *group;
    bool no_replicate;           /* POST /replicate answers 403: a node that authenticates its peers
                                    (CURVE) takes no write in a peer's name from HTTP, which cannot
                                    check it */
    const cw__clients *clients;  /* the node's client endpoint, whose counts /metrics shows (NULL:
                                    none); it must outlive the handle */
    const cw__allow *replicate_allow; /* NULL, or the only addresses POST /replicate and POST
                                    /admin/link are taken from (others: 403 before the body is
                                    read), as the node's links take connections (--allow); it
                                    must outlive the handle */
    const cw__allow *allow;      /* NULL, or the only addresses any HTTP connection is taken
                                    from (--http-allow): one from elsewhere is closed as it is
                                    accepted, before a byte of it is read, counted
                                    (causeway_http_refused_connections_total) and said on
                                    stderr at most every 10 s; it must outlive the handle */
} cw__http_options;

#define CW_HTTP_DEFAULT_MAX_BODY ((size_t)CW_NODE_DEFAULT_MAX_VALUE_LEN + 64u * 1024u)

#define CW_HTTP_DEFAULT_ANSWERS_HELD ((size_t)64 << 20)

#define CW_HTTP_DEFAULT_BODIES_HELD ((size_t)64 << 20)

#define CW_HTTP_DEFAULT_PARSE_MAX ((size_t)4 << 20)

/* Sets every default. */
void cw__http_options_init(cw__http_options *o);

/* Serves s's HTTP API on host:port (host: a name or numeric IPv4/IPv6
 * address, NULL: every IPv4 address; port 0: any free port, see
 * cw__http_port). o NULL: the defaults. s must outlive the returned handle.
 * CW_OK; CW_EINVAL (NULL s or out, threads 0, max_body 0; err says which),
 * CW_EIO (the host did not resolve or the address could not be bound: err
 * says why), CW_ENOMEM. err (nullable, errlen bytes) gets a one-line reason
 * on failure. Stop with cw__http_stop. */
int cw__http_start(cw__http **out, cw__server *s, const char *host, uint16_t port,
                   const cw__http_options *o, char *err, size_t errlen);

/* The port bound (the one chosen when started with port 0). */
uint16_t cw__http_port(const cw__http *h);

/* Stops serving and frees h: requests in progress get up to a second to
 * be answered (after cw__server_close, a write waiting for an ahead context
 * is answered 503 at once), then open connections are closed. NULL is
 * ignored. Stop the HTTP API before the server it serves. */
void cw__http_stop(cw__http *h);

#endif
