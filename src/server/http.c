/* The node process's HTTP API: libmicrohttpd (MHD) takes the requests, Jansson
 * reads and writes the JSON, cw__server does the work. Shapes: http.h and
 * node-server.md, "HTTP API".
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in (the request's context is made then), once per piece of
 * body, and once more when the body is complete; the route runs on that last
 * call and queues the one response. MHD runs it on one of its pool threads.
 *
 * Invariants:
 *  1. A request holds at most max_body bytes of body, in its own context:
 *     one that declares more (Content-Length) and waits for a go-ahead
 *     (Expect: 100-continue), or declares more than DISCARD_MAX, is answered
 *     413 on the first call, before any body is read (MHD then closes the
 *     connection); any other that sends more (declared, or chunked) has the
 *     rest discarded as it comes and is answered 413 at its end, so the
 *     answer is not lost to a reset while the body still arrives; a chunked
 *     one whose discarded part passes DISCARD_MAX has its connection closed,
 *     unanswered. Nothing
 *     grows past max_body. Content-Length given twice is 400, and so is a
 *     header name that is not a token ("Content-Length :", which MHD
 *     frames no body by). The bodies
 *     of all requests being received hold at most o.bodies_held_max bytes
 *     between them (the room each has grown, counted from its growth until
 *     the body is let go): a body that would pass it is discarded as it
 *     comes, like one too large, and answered 503 at its end. Slow senders
 *     of large bodies cannot make the node hold max_connections x max_body.
 *     A JSON body is weighed before it is parsed (json_weight): one heavier
 *     than any write can be (json_max) is 413, and the bodies parsed and
 *     not yet let go (release_json: a write lets go before it may wait)
 *     weigh at most o.parse_max between them (503 past it), so what Jansson
 *     builds from them (up to ~86 bytes a unit) stays bounded however
 *     large max_body is. A body is let go as soon as it is parsed, or once
 *     its route has run: a write that waits holds neither. The stored
 *     values an answer parses to show them (invariant 4) count in the same
 *     bound, each weighed the same way, from before its parse until its
 *     text is written (as parse_max at most: one heavier is parsed alone,
 *     never refused for ever); a read or /status that would pass it is 503
 *     as a whole, as such a body is, so N threads reading heavy values
 *     hold one bound's worth of parses, not N values' worth.
 *  2. A bad request changes nothing: the body, the key, the value and the
 *     context are parsed and checked in full before the server is called.
 *  3. Keys are bytes with a length, never C strings: from JSON with
 *     json_string_length (so "\u0000" inside a key is kept), from the path
 *     percent-decoded by MHD_http_unescape on the raw path (MHD's own
 *     unescaping is turned off: it would leave only a NUL-terminated URL, and
 *     a key with %00 would be cut).
 *  4. A value written here is stored as its compact JSON text and read back
 *     as that JSON value. Bytes that are not JSON (a value written another
 *     way) are shown as a JSON string when they are UTF-8, else as "0x" and
 *     their bytes in lowercase hex, as cw_node_dump shows them. An answer
 *     parses its values one at a time, each only while it is written into
 *     the answer's text, and counted among the JSON being parsed meanwhile
 *     (invariant 1): a value of 1 MiB can take ~80 MB parsed
 *     ([{},{},...]), a read shows up to --max-siblings of a key's
 *     versions, /status every key's, and every HTTP thread may be making
 *     such an answer at once.
 *  5. /status names each key by its text. A key that is not valid UTF-8
 *     cannot be a JSON object key, and one with a NUL byte could be ("\u0000")
 *     but Jansson and other parsers refuse it, failing the whole document:
 *     such a key is named "0x" and its bytes in lowercase hex (as
 *     cw_node_dump shows keys that are not printable). If a text key of the
 *     same name exists, the text key wins and the other is left out,
 *     whatever order the keys are visited in. The keys are listed in the
 *     byte order of their names. GET /read/ reaches every key by its bytes
 *     (%00 included).
 *  6. Every error body is {"status": "error", "error": "<reason>"}, the
 *     reason made valid UTF-8 (bytes that are not become '?'), and, when
 *     the error has a code in error.h (a library call gave it, or memory
 *     ran out), "code": its name ("CW_ESIBLINGS"), so a client can tell two
 *     errors of one status apart (409: wait, or read first); errors of the
 *     request itself (bad JSON, a route or method unknown, a body too
 *     large) have none.
 *  7. The server's lock is taken by the cw__server calls only; what runs in
 *     cw__server_with_node's callback touches the node alone (the lock is
 *     not recursive), and server statistics are read outside it.
 *  8. Large answers, /status (a copy of the whole store as JSON text) and
 *     a /read whose values or answer pass SMALL_READ bytes (a key's
 *     siblings can make it as large as the store), hold at most
 *     o.answers_held_max bytes at once between them, from the text made
 *     until MHD frees it (sent, or the client gone), besides those begun
 *     while it was under the bound (at most one a pool thread): past it such
 *     an answer is 503 with Retry-After, a read large by its values before
 *     they are copied. Slow readers cannot pile up copies of a large
 *     store or key.
 *  9. /status holds the server's lock only to take a reference to each
 *     key's live versions (a pointer and a count each), with the clocks and
 *     the pending count, all from one moment: names, order, JSON and text
 *     are made after it is let go, so a large store's /status keeps writes
 *     and replication waiting for a walk of its pointers, not for its JSON
 *     (bench: node_procs/status_stall). A key replaced meanwhile is shown
 *     as taken; its versions live until the answer is made.
 * 10. With o.allow, a connection from an address outside it is closed by
 *     MHD's accept policy (on_accept), before any byte of it is read; no
 *     request of it reaches on_request.
 * 11. What the bounds of invariants 1 and 8 let go is counted (trim.h):
 *     once 64 MiB of large bodies, parses and answers were, and then none
 *     for 1 s, trim.c's thread gives the C library's free memory back
 *     to the system (trim.c says why and what it costs): each pool thread's
 *     heap would otherwise keep the high-water mark of the heavy parses it
 *     made, so an idle node after a burst of reads held many times the
 *     bounds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include <causeway/error.h>

#include "decimal.h"
#include "endpoint.h"
#include "http.h"
#include "note.h"
#include "trim.h"
#include "vec.h"

struct cw__http {
    struct MHD_Daemon *daemon;
    cw__server *server;
    cw__http_options o;
    uint32_t nodes;
    uint16_t port;
    struct sockaddr_storage addr;
    /* What MHD logs while it starts becomes the start's reason; later
     * messages (a client that went away, a malformed request) are dropped:
     * the client already got its answer or left. */
    pthread_mutex_t log_lock;
    bool starting;
    char start_log[200];
    /* Requests begun and not yet completed (answer sent, or the client
     * gone): stop waits for them a little, so the answers that
     * cw__server_close ended (503) reach their clients. Relaxed: a count
     * looked at, nothing it orders. */
    _Atomic unsigned in_progress;
    /* Bytes of large answers (/status, large reads) made and not yet freed
     * by MHD (invariant 8). Relaxed: a bound looked at, nothing it orders. */
    _Atomic size_t answers_held;
    _Atomic uint64_t answers_refused; /* 503s for it (invariant 8); a count, orders nothing */
    /* Bytes request bodies being received have grown (invariant 1), and the
     * requests refused (503) for the bound on them. Relaxed: a bound and a
     * count, nothing they order. */
    _Atomic size_t bodies_held;
    _Atomic uint64_t bodies_refused;
    /* The weight (json_weight) of the JSON parsed and not yet let go
     * (request bodies, and the stored values answers are showing), the
     * requests refused (503) for its bound (o.parse_max), and the heaviest
     * a write can be (json_max) (invariant 1). Relaxed: a bound and a
     * count, nothing they order. */
    _Atomic size_t parsing;
    _Atomic uint64_t parsing_refused;
    size_t json_max;
    /* What the bodies, parses and large answers above freed, given back to
     * the system after a burst of them (invariant 11). */
    cw__trim trim;
    /* Connections closed at accept (o.allow; a count, orders nothing), and
     * when the last was said on stderr and how many had been by then
     * (under log_lock: MHD's pool threads accept concurrently). */
    _Atomic uint64_t refused;
    cw__note said;
    /* Answers made at start, for when memory runs out while an answer is
     * made (libmicrohttpd allocates a response and each of its headers):
     * queued as they are, they need no allocation. A write already made
     * gets made_unanswered (200, its clock unknown), never a closed
     * connection a client would take for "maybe not made" and retry; one
     * made and not saved gets made_unsaved (500 CW_EUNSAVED, as when its
     * answer could be made). Responses are reference-counted by MHD: one
     * serves every connection, every thread. */
    struct MHD_Response *made_unanswered, *made_unsaved, *no_memory;
};

/* One request's state, from its headers to its completion. */
typedef struct request {
    char *body;
    size_t len, cap;
    bool too_large;    /* more than max_body came: the rest is discarded */
    bool no_memory;    /* the body could not be kept */
    bool held_full;    /* bodies held their bound (invariant 1): the rest is discarded */
    uint64_t discarded; /* bytes of body discarded (too_large, no_memory, held_full) */
    bool undeclared;   /* no Content-Length: a chunked body, which may never end */
    size_t weight;     /* its JSON's weight, counted in `parsing` until release_json */
} request;

/* Whether a request made a write (its answer must say so even when it
 * cannot be made: struct cw__http, the answers made at start). */
typedef enum made_as { NOT_MADE, MADE, MADE_UNSAVED } made_as;

/* What a route answers: a JSON body, a text body, or an error reason. */
typedef struct reply {
    unsigned status;
    json_t *json;           /* owned */
    char *text;             /* owned (malloc'd); with text_type */
    size_t text_len;
    const char *text_type;
    const char *allow;      /* 405: the methods the route takes */
    _Atomic size_t *held;   /* a large answer (text): its bytes count here (invariant 8) */
    int code;               /* the library's error code behind the error, or CW_OK */
    made_as made;           /* what a write was: answered so whatever memory is left */
    char error[240];
} reply;

void cw__http_options_init(cw__http_options *o)
{
    *o = (cw__http_options){0}; /* every field, those added later too */
    o->max_body = CW_HTTP_DEFAULT_MAX_BODY;
    o->threads = 2;
    o->max_connections = 256;
    o->max_per_address = 128;
    o->idle_timeout_s = 60;
    o->answers_held_max = CW_HTTP_DEFAULT_ANSWERS_HELD;
    o->bodies_held_max = CW_HTTP_DEFAULT_BODIES_HELD;
    o->parse_max = CW_HTTP_DEFAULT_PARSE_MAX;
}

uint16_t cw__http_port(const cw__http *h) { return h->port; }

/* ---- replies ---- */

/* An error: its status, the error.h code behind it (CW_OK: none; invariant
 * 6) and its reason. */
static void vfail(reply *rep, unsigned status, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void vfail(reply *rep, unsigned status, int code, const char *fmt, va_list ap)
{
    vsnprintf(rep->error, sizeof rep->error, fmt, ap);
    rep->status = status;
    rep->code = code;
}

/* An error of the request itself: no code. */
__attribute__((format(printf, 3, 4))) static void fail(reply *rep, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(rep, status, CW_OK, fmt, ap);
    va_end(ap);
}

/* The HTTP status of a server error. */
static unsigned status_of(int rc)
{
    switch (rc) {
    case CW_EINVAL:
    case CW_EPARSE:
    case CW_ETRUNC:
    case CW_EBADMSG:
        return MHD_HTTP_BAD_REQUEST;
    case CW_ELIMIT:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case CW_EAHEAD:
    case CW_ESIBLINGS:   /* read the key again and write with that read's context */
        return MHD_HTTP_CONFLICT;
    case CW_EJOINING:
    case CW_ESTALLED:
    case CW_EFULL:
    case CW_EDRIFT:      /* the wall clock catches up: retry later */
    case CW_ETIMEDOUT:
    case CW_ECLOSED:
    case CW_EIO:         /* durable state could not be saved: not accepting writes */
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case CW_EUNSAVED:    /* made, not saved: not "retry" (a retry may write twice) */
    case CW_EBEHIND:     /* for good: the node must join anew */
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* An error a library call gave, rc its code. */
__attribute__((format(printf, 4, 5))) static void fail_code(reply *rep, unsigned status, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(rep, status, rc, fmt, ap);
    va_end(ap);
}

static void fail_rc(reply *rep, int rc)
{
    /* CW_EIO reaches a route only from a save that failed (server.h). */
    const char *why = rc == CW_EAHEAD ? "context ahead of this node: it has not yet applied writes the context "
                                        "covers; retry, or read the key at this node and write with that "
                                        "read's context"
                      : rc == CW_ESIBLINGS ? "the write would leave its key with more than --max-siblings versions "
                                             "(its context covers too few): read the key again and write with "
                                             "that read's context (versions written meanwhile need a fresh read)"
                      : rc == CW_EIO ? "this node's state could not be saved to its data directory (its log says "
                                       "why): it takes no writes, and shows nothing unsaved, until a save works"
                                     : cw_strerror(rc);
    fail_code(rep, status_of(rc), rc, "%s", why);
}

/* A write's failure; a stall names the node holding stability back and
 * what was last heard from it, so whoever runs the group knows where to
 * look. A peer that takes this node's writes reports within a report
 * interval: silent for four of them (and a second) it is taken to be cut
 * off, stopped or gone. */
static void fail_write(cw__http *h, reply *rep, int rc)
{
    cw__peer_word w = {.heard = false, .silence_ns = 0};
    uint32_t b = rc == CW_ESTALLED ? cw__server_waits_for(h->server, &w) : CW_NODE_NONE;
    if (b == CW_NODE_NONE) {
        fail_rc(rep, rc);
        return;
    }
    uint64_t quiet_ns = 4 * cw__server_report_interval_ns(h->server);
    if (quiet_ns < 1000000000u)
        quiet_ns = 1000000000u;
    fail_code(rep, status_of(rc), rc,
              "stalled: --max-log of this node's writes wait for node %" PRIu32 " to confirm them; %s %.1f s "
              "ago (%s)",
              b, w.heard ? "the last word from it came" : "nothing has come from it since this node started,",
              (double)w.silence_ns / 1e9,
              w.heard && w.silence_ns < quiet_ns ? "it is heard from: it is behind, or its links hold them back"
                                                 : "cut off, stopped or gone");
}

static void succeed(reply *rep, json_t *j)
{
    rep->status = j ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR;
    rep->json = j;
    if (!j)
        fail(rep, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", cw_strerror(CW_ENOMEM));
}

/* {"status": "success"} plus what the caller adds; NULL on ENOMEM. */
static json_t *success_body(void)
{
    json_t *j = json_object();
    if (j && json_object_set_new(j, "status", json_string("success")) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* An error code's name in error.h ("CW_EAHEAD"), or NULL. */
static const char *code_name(int code)
{
    switch (code) {
#define CW_NAME_(name, value, text) \
    case CW_##name:                 \
        return "CW_" #name;
        CW_ERROR_MAP(CW_NAME_)
#undef CW_NAME_
    }
    return NULL;
}

static json_t *error_body(const char *reason, int code)
{
    json_t *msg = json_string(reason);
    if (!msg) {
        /* Not UTF-8 (a reason quoting a client's bytes), or no memory. */
        char clean[sizeof ((reply *)0)->error];
        size_t i = 0;
        for (; reason[i] && i + 1 < sizeof clean; i++)
            clean[i] = (unsigned char)reason[i] < 0x80 ? reason[i] : '?';
        clean[i] = '\0';
        msg = json_string(clean);
    }
    json_t *j = json_object();
    if (!j || !msg || json_object_set_new(j, "status", json_string("error")) != 0) {
        json_decref(msg);
        json_decref(j);
        return NULL;
    }
    if (json_object_set_new(j, "error", msg) != 0) { /* msg is taken even then */
        json_decref(j);
        return NULL;
    }
    const char *name = code != CW_OK ? code_name(code) : NULL;
    if (name && json_object_set_new(j, "code", json_string(name)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Queues resp (taken; NULL when it could not be made) with its headers.
 * False if memory ran out on the way. */
static bool queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp, const char *type,
                  const char *allow)
{
    if (!resp)
        return false;
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES && allow)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (ok == MHD_YES && status == MHD_HTTP_SERVICE_UNAVAILABLE)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ok == MHD_YES;
}

/* Bytes of memory Jansson may take for a unit of JSON's weight
 * (json_weight): 1 MiB of [{},{},...] took 78 MB. */
#define JSON_BYTES_A_UNIT 86u

/* A large answer's text and where its bytes are counted (invariant 8). */
typedef struct held_body {
    cw__http *h;
    char *text;
    size_t len;
    _Atomic size_t *held;
} held_body;

/* MHD is done with a large answer. */
static void held_free(void *cls)
{
    held_body *b = cls;
    cw__http *h = b->h;
    atomic_fetch_sub_explicit(b->held, b->len, memory_order_relaxed);
    free(b->text);
    cw__trim_freed(&h->trim, b->len);
    free(b);
}

/* A response of len bytes of dump (malloc'd, taken), counted in *held until
 * MHD frees it when held is not NULL. NULL on ENOMEM (dump freed). */
static struct MHD_Response *dump_response(cw__http *h, char *dump, size_t len, _Atomic size_t *held)
{
    if (!held) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, dump, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(dump);
        return resp;
    }
    held_body *b = malloc(sizeof *b);
    struct MHD_Response *resp =
        b ? MHD_create_response_from_buffer_with_free_callback_cls(len, dump, held_free, b) : NULL;
    if (!resp) {
        free(b);
        free(dump);
        return NULL;
    }
    *b = (held_body){h, dump, len, held};
    atomic_fetch_add_explicit(held, len, memory_order_relaxed);
    return resp;
}

/* Queues rep's response and frees what it holds. An answer that cannot be
 * made for want of memory is one of those made at start: a write made is
 * still 200, one made and not saved 500 CW_EUNSAVED, anything else 500
 * CW_ENOMEM. */
static enum MHD_Result send_reply(cw__http *h, struct MHD_Connection *c, reply *rep)
{
    bool queued;
    if (rep->text) {
        struct MHD_Response *resp =
            dump_response(h, rep->text, rep->text_len, rep->status == MHD_HTTP_OK ? rep->held : NULL);
        queued = queue(c, rep->status, resp, rep->text_type, NULL);
    } else {
        json_t *j = rep->json ? rep->json : error_body(rep->error, rep->code);
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        queued = dump && queue(c, rep->status, dump_response(h, dump, strlen(dump), NULL), "application/json", rep->allow);
    }
    if (queued)
        return MHD_YES;
    if (rep->made == MADE)
        return MHD_queue_response(c, MHD_HTTP_OK, h->made_unanswered);
    return MHD_queue_response(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              rep->made == MADE_UNSAVED ? h->made_unsaved : h->no_memory);
}

/* One of the answers made at start (struct cw__http): j's text (j taken;
 * NULL: none), or NULL on ENOMEM. */
static struct MHD_Response *spare_answer(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp)
        free(text);
    if (resp && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return resp;
}

/* ---- JSON <-> clocks, keys and values ---- */

/* A CLOCK: every node 0..nodes-1, in order. NULL on ENOMEM. Counters above
 * 2^63-1 (JSON integers in Jansson are signed 64-bit) cannot occur: a counter
 * counts writes. */
static json_t *clock_json(const cw_vclock *c, uint32_t nodes)
{
    json_t *j = json_object();
    uint32_t e = 0;
    for (uint32_t i = 0; j && i < nodes; i++) {
        uint64_t v = 0;
        if (e < c->size && c->ids[e] == i)
            v = c->counters[e++];
        char name[12];
        snprintf(name, sizeof name, "%" PRIu32, i);
        if (json_object_set_new(j, name, json_integer((json_int_t)v)) != 0) {
            json_decref(j);
            j = NULL;
        }
    }
    return j;
}

/* A context from JSON (missing ids mean 0). CW_OK; CW_EINVAL with the reason
 * in rep; CW_ENOMEM. out is changed only on success. */
static int parse_clock(const json_t *j, uint32_t nodes, cw_vclock *out, reply *rep)
{
    if (!json_is_object(j)) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "bad context: expected a JSON object from node ids to counters");
        return CW_EINVAL;
    }
    cw_vclock c;
    cw_vclock_init(&c);
    int rc = CW_OK;
    for (void *it = json_object_iter((json_t *)j); it && rc == CW_OK;
         it = json_object_iter_next((json_t *)j, it)) {
        const char *name = json_object_iter_key(it);
        size_t len = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        /* Decimal, no sign, no leading zero (one spelling per id). */
        bool ok = len > 0 && len <= 5 && (len == 1 || name[0] != '0');
        unsigned long id = 0;
        for (size_t i = 0; ok && i < len; i++) {
            ok = name[i] >= '0' && name[i] <= '9';
            id = id * 10 + (unsigned long)(name[i] - '0');
        }
        if (!ok || id >= nodes) {
            fail(rep, MHD_HTTP_BAD_REQUEST, "bad context: node id \"%.*s\" is not a decimal id below %" PRIu32,
                 (int)(len > 32 ? 32 : len), name, nodes);
            rc = CW_EINVAL;
        } else if (!json_is_integer(v) || json_integer_value(v) < 0) {
            fail(rep, MHD_HTTP_BAD_REQUEST, "bad context: the counter of node %lu is not a non-negative integer",
                 id);
            rc = CW_EINVAL;
        } else {
            rc = cw_vclock_set(&c, (cw_node_id)id, (uint64_t)json_integer_value(v));
            if (rc != CW_OK)
                fail_rc(rep, rc);
        }
    }
    if (rc == CW_OK) {
        rc = cw_vclock_copy(out, &c);
        if (rc != CW_OK)
            fail_rc(rep, rc);
    }
    cw_vclock_destroy(&c);
    return rc;
}

/* "0x" and bytes in lowercase hex, as a malloc'd string; NULL on ENOMEM. */
static char *hex_name(const void *bytes, size_t len, size_t *out_len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = bytes;
    if (len > (SIZE_MAX - 3) / 2)
        return NULL;
    char *s = malloc(2 * len + 3);
    if (!s)
        return NULL;
    s[0] = '0';
    s[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        s[2 + 2 * i] = digits[b[i] >> 4];
        s[3 + 2 * i] = digits[b[i] & 15];
    }
    s[2 * len + 2] = '\0';
    *out_len = 2 * len + 2;
    return s;
}

/* How deep a value may nest where it is shown: GET /status puts a sibling's
 * value five levels down ({"data": {KEY: {"siblings": [{"value": V}]}}}),
 * and Jansson, which reads the answers here and in causeway cluster, reads
 * at most 2048 levels: a value nested deeper would make every /status
 * unreadable. */
#define VALUE_MAX_DEPTH (2048 - 5)

/* Whether v nests arrays and objects more than `left` deep. */
static bool deeper_than(json_t *v, int left)
{
    if (!json_is_array(v) && !json_is_object(v))
        return false;
    if (left < 1)
        return true;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (deeper_than(json_array_get(v, i), left - 1))
                return true;
        return false;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if (deeper_than(x, left - 1))
            return true;
    }
    return false;
}

/* A stored value as JSON (invariant 4): its text parsed, or (not JSON, or
 * nested beyond VALUE_MAX_DEPTH: a write that came from a peer or a client,
 * which no HTTP check saw) the text as a string, or its bytes in hex; NULL
 * on ENOMEM. */
static json_t *value_json(const void *bytes, size_t len)
{
    json_t *j = json_loadb(len ? bytes : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (j && deeper_than(j, VALUE_MAX_DEPTH)) {
        json_decref(j);
        j = NULL;
    }
    if (!j)
        j = json_stringn(len ? bytes : "", len); /* NULL when not UTF-8 */
    if (!j) {
        size_t n;
        char *hex = hex_name(bytes, len, &n);
        j = hex ? json_stringn(hex, n) : NULL;
        free(hex);
    }
    return j;
}

/* Lets go of r's body and what it counted among the bodies held. */
static void drop_body(cw__http *h, request *r)
{
    free(r->body);
    atomic_fetch_sub_explicit(&h->bodies_held, r->cap, memory_order_relaxed); /* a bound only */
    if (r->cap)
        cw__trim_freed(&h->trim, r->cap);
    r->body = NULL;
    r->len = r->cap = 0;
}

/* A number or literal longer than this weighs its length: Jansson copies
 * a token whole, however long. */
#define SHORT_TOKEN 1024

/* What the JSON text at p takes at least once parsed, in units: each byte
 * outside strings that is not whitespace; each number or literal as one,
 * or as its whole length when that is over SHORT_TOKEN; and each string as
 * its two quotes and one unit for each byte or escape inside. A write's
 * value weighs at most its compact JSON's length (the limit the node keeps
 * values to; a short number dumps to at least a byte) unless it spells a
 * number in more than SHORT_TOKEN characters, its key at most its bytes
 * and quotes, and Jansson takes up to ~86 bytes of memory a unit (1 MiB of
 * `[{},{},...]` took 78 MB; of `[0,0,...]`, 23 MB). */
static size_t json_weight(const char *p, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        w++;
        if (c == '"') { /* a string, to its closing quote */
            w++;
            for (i++; i < n && p[i] != '"'; i++, w++)
                if (p[i] == '\\')
                    i += i + 1 < n && p[i + 1] == 'u' ? 5 : 1;
        } else if (!memchr("{}[],:", c, 6)) { /* a number or a literal: one unit if short */
            size_t from = i;
            while (i + 1 < n && !memchr("{}[],:\" \t\n\r", p[i + 1], 11))
                i++;
            if (i + 1 - from > SHORT_TOKEN)
                w += i - from;
        }
    }
    return w;
}

/* Counts `more` in *held if it stays at most max then; false if not. */
static bool hold_more(_Atomic size_t *held, size_t max, size_t more)
{
    size_t now = atomic_load_explicit(held, memory_order_relaxed);
    do {
        if (more > max - now) /* *held never passes max */
            return false;
    } while (!atomic_compare_exchange_weak_explicit(held, &now, now + more, memory_order_relaxed,
                                                    memory_order_relaxed)); /* a bound, not an order */
    return true;
}

/* A request refused (503) because the JSON being parsed holds its bound
 * (invariant 1): a body's, or the values an answer shows. */
static void parse_refused(cw__http *h, reply *rep)
{
    atomic_fetch_add_explicit(&h->parsing_refused, 1, memory_order_relaxed); /* a count only */
    fail(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
         "the JSON being parsed (request bodies, and the values answers show) weighs %zu units between them "
         "already, the most it may: try again",
         h->o.parse_max);
}

/* Lets go of doc (nullable), parsed by parse_body, and of r's weight. */
static void release_json(cw__http *h, request *r, json_t *doc)
{
    json_decref(doc);
    atomic_fetch_sub_explicit(&h->parsing, r->weight, memory_order_relaxed); /* a bound only */
    if (r->weight)
        cw__trim_freed(&h->trim, (uint64_t)r->weight * JSON_BYTES_A_UNIT);
    r->weight = 0;
}

/* Parses a request body that must be a JSON object, once it is weighed
 * (invariant 1); its weight counts until release_json, its body is let go.
 * NULL with rep failed. */
static json_t *parse_body(cw__http *h, request *r, reply *rep)
{
    size_t weight = json_weight(r->body, r->len);
    if (weight > h->json_max) {
        fail(rep, MHD_HTTP_CONTENT_TOO_LARGE,
             "the body's JSON weighs %zu (its bytes outside whitespace, each number and escape as one); no request "
             "weighs more than %zu",
             weight, h->json_max);
        return NULL;
    }
    if (!hold_more(&h->parsing, h->o.parse_max, weight)) {
        parse_refused(h, rep);
        return NULL;
    }
    r->weight = weight;
    json_error_t e;
    json_t *j = json_loadb(r->len ? r->body : "", r->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    drop_body(h, r); /* Jansson copied what it keeps */
    if (!j) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "bad JSON: %s", e.text);
        release_json(h, r, NULL);
        return NULL;
    }
    if (!json_is_object(j)) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "bad request: expected a JSON object");
        release_json(h, r, j);
        return NULL;
    }
    return j;
}

/* A growing text answer (metrics, and the answers written without Jansson). */
typedef struct text {
    char *p;
    size_t len, cap;
    bool failed;
} text;

/* Room for n more bytes and a NUL in t (doubling); false (t failed) when
 * memory ran out. */
static bool text_room(text *t, size_t n)
{
    if (t->failed)
        return false;
    if (n < t->cap - t->len)
        return true;
    if (n > SIZE_MAX / 2 - t->len) {
        t->failed = true;
        return false;
    }
    size_t cap = t->cap * 2 > t->len + n + 1 ? t->cap * 2 : t->len + n + 1024;
    char *grown = realloc(t->p, cap);
    if (!grown) {
        t->failed = true;
        return false;
    }
    t->p = grown;
    t->cap = cap;
    return true;
}

static void append(text *t, const char *bytes, size_t n)
{
    if (text_room(t, n)) {
        memcpy(t->p + t->len, bytes, n);
        t->len += n;
        t->p[t->len] = '\0';
    }
}

__attribute__((format(printf, 2, 3))) static void appendf(text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            t->failed = true;
        else if ((size_t)n < t->cap - t->len)
            t->len += (size_t)n;
        else if (text_room(t, (size_t)n))
            continue;
        return;
    }
}

/* A 200 with t's text (taken) as its body; 500 if t ran out of memory. */
static void succeed_text(reply *rep, text *t, const char *type)
{
    if (t->failed) {
        free(t->p);
        fail_rc(rep, CW_ENOMEM);
        return;
    }
    rep->status = MHD_HTTP_OK;
    rep->text = t->p;
    rep->text_len = t->len;
    rep->text_type = type;
}

/* "i":v at t's end, after a comma unless i is 0: one member of a CLOCK
 * (clock_json's shape) written directly. */
static void append_counter(text *t, uint32_t i, uint64_t v)
{
    unsigned ilen = cw__decimal_len(i), vlen = cw__decimal_len(v);
    if (!text_room(t, ilen + vlen + 4))
        return;
    char *o = t->p + t->len;
    if (i)
        *o++ = ',';
    *o++ = '"';
    cw__decimal_write(o, ilen, i);
    o += ilen;
    *o++ = '"';
    *o++ = ':';
    cw__decimal_write(o, vlen, v);
    t->len = (size_t)(o + vlen - t->p);
    t->p[t->len] = '\0';
}

/* A CLOCK from a sparse clock. */
static void append_clock(text *t, const cw_vclock *c, uint32_t nodes)
{
    append(t, "{", 1);
    for (uint32_t i = 0, e = 0; i < nodes && !t->failed; i++)
        append_counter(t, i, e < c->size && c->ids[e] == i ? c->counters[e++] : 0);
    append(t, "}", 1);
}

/* A CLOCK from a message's dense counters (n of them). */
static void append_dense_clock(text *t, const uint64_t *c, uint32_t n, uint32_t nodes)
{
    append(t, "{", 1);
    for (uint32_t i = 0; i < nodes && !t->failed; i++)
        append_counter(t, i, i < n ? c[i] : 0);
    append(t, "}", 1);
}

/* j's compact JSON text at t's end (Jansson writes it, so strings and
 * numbers read as in every other answer here); j is released. */
static void append_json(text *t, json_t *j)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = j ? json_dumpb(j, NULL, 0, flags) : 0;
    if (n == 0 || !text_room(t, n))
        t->failed = true;
    else
        t->len += json_dumpb(j, t->p + t->len, n, flags);
    json_decref(j);
}

/* A stored value's JSON (value_json) at t's end, its weight counted among
 * the JSON being parsed from before its parse until its text is written
 * (invariant 1). False, t unchanged, when that would pass o.parse_max:
 * the caller answers 503 (parse_refused). A value heavier than the bound
 * counts as the bound, so it is parsed alone rather than never (a stored
 * value weighs at most its length, one more for an unended string, and
 * parse_max is at least a write's weight, so only a value longer than the
 * node's value limit could be). */
static bool append_value(cw__http *h, text *t, const void *bytes, size_t len)
{
    if (t->failed) /* out of memory already: the answer is 500, its values need no parse */
        return true;
    size_t weight = json_weight(bytes, len);
    if (weight > h->o.parse_max)
        weight = h->o.parse_max;
    if (!hold_more(&h->parsing, h->o.parse_max, weight))
        return false;
    append_json(t, value_json(bytes, len)); /* which lets go of the parse */
    atomic_fetch_sub_explicit(&h->parsing, weight, memory_order_relaxed); /* a bound only */
    cw__trim_freed(&h->trim, (uint64_t)weight * JSON_BYTES_A_UNIT);
    return true;
}

/* Gives back the room t holds past its text (and NUL), so that what a large
 * answer counts (invariant 8) is what it keeps. */
static void fit_text(text *t)
{
    if (!t->failed && t->len + 1 < t->cap) {
        char *fit = realloc(t->p, t->len + 1);
        t->p = fit ? fit : t->p;
        t->cap = fit ? t->len + 1 : t->cap;
    }
}

/* {"status":"success","clock":CLOCK} written directly: the answer to every
 * write has this one shape, and building it through Jansson cost more than
 * the write itself (an object per counter, then a dump). */
static const char write_head[] = "{\"status\":\"success\",\"clock\":";

/* A read's answer begins so (do_read writes it directly). */
static const char read_head[] = "{\"status\":\"success\",\"value\":";

/* Room in t for a write's answer (succeed_with_clock) in a group of
 * `nodes`: a write is made only once its answer has room, so a write made
 * is never answered as if it had failed for want of memory. False if
 * memory ran out. */
static bool reserve_write_answer(text *t, uint32_t nodes)
{
    /* Each member: "i":v and a comma, i at most 10 digits, v 20. */
    return text_room(t, sizeof write_head + 2 + (size_t)nodes * (10 + 20 + 4));
}

/* t: reserved by reserve_write_answer (taken). */
static void succeed_with_clock(reply *rep, text *t, const cw_vclock *c, uint32_t nodes)
{
    append(t, write_head, sizeof write_head - 1);
    append_clock(t, c, nodes);
    append(t, "}", 1);
    succeed_text(rep, t, "application/json");
}

/* ---- routes ---- */

/* Whether a key of key_len bytes is over the node's limit, which the
 * replica would refuse as CW_ELIMIT: then rep says which limit (413). */
static bool key_too_long(cw__http *h, size_t key_len, reply *rep)
{
    if (key_len <= cw__server_max_key_len(h->server))
        return false;
    fail(rep, MHD_HTTP_CONTENT_TOO_LARGE, "the key is %zu bytes; the limit is %zu", key_len,
         cw__server_max_key_len(h->server));
    return true;
}

/* POST /write and POST /delete. */
static void do_write(cw__http *h, request *r, bool tombstone, reply *rep)
{
    json_t *doc = parse_body(h, r, rep);
    if (!doc)
        return;
    char *stored = NULL, *key_copy = NULL;
    bool has_context = false;
    cw_vclock context, clock;
    cw_vclock_init(&context);
    cw_vclock_init(&clock);
    json_t *key = json_object_get(doc, "key");
    json_t *value = json_object_get(doc, "value");
    json_t *ctx = json_object_get(doc, "context");
    if (!key) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "missing \"key\"");
        goto out;
    }
    if (!json_is_string(key)) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "\"key\" must be a string");
        goto out;
    }
    if (!tombstone && !value) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "missing \"value\"");
        goto out;
    }
    if (!tombstone && deeper_than(value, VALUE_MAX_DEPTH)) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "\"value\" nests more than %d levels deep (GET /status wraps it in 5 more)",
             VALUE_MAX_DEPTH);
        goto out;
    }
    /* "context": null is the same as no context. */
    if (ctx && !json_is_null(ctx)) {
        if (parse_clock(ctx, h->nodes, &context, rep) != CW_OK)
            goto out;
        has_context = true;
    }
    if (!tombstone) {
        stored = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!stored) {
            fail_rc(rep, CW_ENOMEM);
            goto out;
        }
    }
    /* The replica would refuse these as CW_ELIMIT; say which limit. A value
     * is stored as compact JSON, escapes included. */
    size_t key_len = json_string_length(key), stored_len = stored ? strlen(stored) : 0;
    if (key_too_long(h, key_len, rep))
        goto out;
    if (stored_len > cw__server_max_value_len(h->server)) {
        fail(rep, MHD_HTTP_CONTENT_TOO_LARGE, "the value is %zu bytes as compact JSON; the limit is %zu", stored_len,
             cw__server_max_value_len(h->server));
        goto out;
    }
    /* The parsed request goes before the write, which may wait (a context
     * ahead): only its key and value wait with it (invariant 1). */
    key_copy = malloc(key_len ? key_len : 1);
    if (!key_copy) {
        fail_rc(rep, CW_ENOMEM);
        goto out;
    }
    memcpy(key_copy, json_string_value(key), key_len);
    release_json(h, r, doc);
    doc = NULL;
    text answer = {NULL, 0, 0, false};
    int rc = !reserve_write_answer(&answer, h->nodes)
                 ? CW_ENOMEM
                 : cw__server_write(h->server, key_copy, key_len, stored, stored_len,
                                    has_context ? &context : NULL, tombstone, &clock);
    if (rc != CW_OK) {
        free(answer.p);
        fail_write(h, rep, rc);
        if (rc == CW_EUNSAVED)
            rep->made = MADE_UNSAVED;
        goto out;
    }
    succeed_with_clock(rep, &answer, &clock, h->nodes); /* cannot run out: reserved */
    rep->made = MADE;
out:
    free(stored);
    free(key_copy);
    cw_vclock_destroy(&context);
    cw_vclock_destroy(&clock);
    release_json(h, r, doc);
}

/* A read whose answer's text is longer is a large answer (invariant 8). */
#define SMALL_READ ((size_t)64 << 10)

/* Invariant 8: whether large answers hold too much to make another (rep
 * then says so). */
static bool too_much_held(cw__http *h, reply *rep)
{
    if (atomic_load_explicit(&h->answers_held, memory_order_relaxed) < h->o.answers_held_max) /* a bound, not an order */
        return false;
    atomic_fetch_add_explicit(&h->answers_refused, 1, memory_order_relaxed);
    fail(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
         "large answers (/status, and reads of large keys) being sent hold %zu bytes already, the most they may: "
         "try again when they are read",
         h->o.answers_held_max);
    return true;
}

/* GET /read/<key>; raw is the path after "/read/", still percent-encoded. */
static void do_read(cw__http *h, const char *raw, reply *rep)
{
    char *key = strdup(raw);
    if (!key) {
        fail_rc(rep, CW_ENOMEM);
        return;
    }
    size_t key_len = MHD_http_unescape(key);
    if (key_too_long(h, key_len, rep)) { /* as a write or delete of it is (it was 404) */
        free(key);
        return;
    }
    cw_read r;
    cw_read_init(&r);
    /* Past SMALL_READ of values, its answer is large whatever its text
     * (invariant 8): refused before the values are copied while large
     * answers hold their most. */
    size_t values = 0;
    bool full = atomic_load_explicit(&h->answers_held, memory_order_relaxed) >= h->o.answers_held_max;
    int rc = cw__server_read_at_most(h->server, key, key_len, full ? SMALL_READ : SIZE_MAX, &values, &r);
    if (rc == CW_ELIMIT && !too_much_held(h, rep)) /* they went out meanwhile */
        rc = cw__server_read_at_most(h->server, key, key_len, SIZE_MAX, &values, &r);
    free(key);
    bool by_values = values > SMALL_READ;
    if (rc == CW_ELIMIT) {
        /* Large, and large answers hold their most (rep says so). */
    } else if (rc == CW_ENOTFOUND) {
        /* With the read's context: a deleted key's covers its tombstones,
         * which a write must cover to replace them (--max-siblings counts
         * them until they are collected). */
        json_t *body = error_body("not found", rc);
        if (body && json_object_set_new(body, "context", clock_json(&r.context, h->nodes)) == 0) {
            rep->status = MHD_HTTP_NOT_FOUND;
            rep->json = body;
        } else {
            json_decref(body);
            fail_rc(rep, CW_ENOMEM);
        }
    } else if (rc != CW_OK) {
        fail_rc(rep, rc);
    } else if (by_values && too_much_held(h, rep)) {
        /* Large by its values: refused before its text is made (the
         * budget filled since the look above). */
    } else {
        /* The text written directly, one value parsed at a time
         * (invariant 4): as one Jansson tree it held every sibling's parse
         * at once. Its length says whether a read of small values is
         * large too (escapes, hex and every sibling's clock make it longer
         * than the values). */
        text t = {0};
        append(&t, read_head, sizeof read_head - 1);
        bool parsed = append_value(h, &t, r.versions[0].value, r.versions[0].value_len);
        append(&t, ",\"clock\":", 9);
        append_clock(&t, &r.versions[0].clock, h->nodes);
        append(&t, ",\"context\":", 11);
        append_clock(&t, &r.context, h->nodes);
        if (parsed && r.count > 1) {
            append(&t, ",\"siblings\":[", 13);
            for (size_t i = 0; parsed && i < r.count; i++) {
                append(&t, i ? ",{\"value\":" : "{\"value\":", i ? 10 : 9);
                parsed = append_value(h, &t, r.versions[i].value, r.versions[i].value_len);
                append(&t, ",\"clock\":", 9);
                append_clock(&t, &r.versions[i].clock, h->nodes);
                append(&t, "}", 1);
            }
            append(&t, "]", 1);
        }
        append(&t, "}", 1);
        bool large = by_values || t.len > SMALL_READ;
        if (!parsed) { /* a value met the parses' bound: the whole read is 503, nothing held */
            free(t.p);
            parse_refused(h, rep);
        } else if (large && !by_values && too_much_held(h, rep)) {
            free(t.p);
        } else {
            if (large)
                fit_text(&t);
            succeed_text(rep, &t, "application/json");
            rep->held = large ? &h->answers_held : NULL;
        }
    }
    cw_read_destroy(&r);
}

/* POST /replicate: the codec's bytes, as if they came on a link. */
static void do_replicate(cw__http *h, const request *r, reply *rep)
{
    if (h->o.no_replicate) {
        fail(rep, MHD_HTTP_FORBIDDEN, "this node authenticates its peers (CURVE): no write in a peer's name "
                                      "over HTTP");
        return;
    }
    const char *why = "";
    int rc = cw__server_replicate(h->server, r->len ? r->body : "", r->len, &why);
    if (rc == CW_EINVAL)
        fail_code(rep, MHD_HTTP_BAD_REQUEST, rc, "%s", why);
    else if (rc == CW_EBADMSG)
        fail_code(rep, MHD_HTTP_BAD_REQUEST, rc, "the write depends on writes of this node that it has not made");
    else if (rc != CW_OK)
        fail_rc(rep, rc);
    else
        succeed(rep, success_body());
}

/* POST /admin/link {"from": I, "to": J, "action": ...}. */
static void do_link(cw__http *h, request *r, reply *rep)
{
    static const struct {
        const char *name;
        cw__link_action action;
    } actions[] = {{"hold", CW__LINK_HOLD}, {"release", CW__LINK_RELEASE}, {"cut", CW__LINK_CUT},
                   {"heal", CW__LINK_HEAL}};
    json_t *doc = parse_body(h, r, rep);
    if (!doc)
        return;
    json_t *from = json_object_get(doc, "from"), *to = json_object_get(doc, "to");
    const char *name = json_string_value(json_object_get(doc, "action"));
    size_t a = 0;
    while (name && a < sizeof actions / sizeof actions[0] && strcmp(name, actions[a].name) != 0)
        a++;
    if (!json_is_integer(from) || !json_is_integer(to) || json_integer_value(from) < 0 ||
        json_integer_value(to) < 0 || (uint64_t)json_integer_value(from) >= h->nodes ||
        (uint64_t)json_integer_value(to) >= h->nodes) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "\"from\" and \"to\" must be node ids below %" PRIu32, h->nodes);
    } else if (!name || a == sizeof actions / sizeof actions[0]) {
        fail(rep, MHD_HTTP_BAD_REQUEST, "\"action\" must be one of hold, release, cut, heal");
    } else {
        int rc = cw__server_link(h->server, (cw_node_id)json_integer_value(from),
                                 (cw_node_id)json_integer_value(to), actions[a].action);
        if (rc == CW_EINVAL)
            fail_code(rep, MHD_HTTP_BAD_REQUEST, rc,
                      "bad link: \"to\" must be this node (%" PRIu32 ": a node holds or cuts the links into it), "
                      "and \"from\" another",
                      cw__server_self(h->server));
        else if (rc != CW_OK)
            fail_rc(rep, rc);
        else
            succeed(rep, success_body());
    }
    release_json(h, r, doc);
}

/* GET /status (invariant 9): under the server's lock, a reference to each
 * key's live versions, the clocks and the pending count; outside it, the
 * names, the order and the JSON. */
typedef struct status_key {
    size_t first, count; /* its versions in status_ctx.versions */
    const char *name;    /* the key's bytes (text), or hex */
    size_t name_len;
    char *hex;           /* malloc'd: the name of a key that is not text */
} status_key;

typedef struct status_ctx {
    uint32_t nodes;
    status_key *keys;
    size_t keys_len, keys_cap;
    cw_msg **versions; /* references taken */
    size_t versions_len, versions_cap;
    cw_vclock clock, stable;
    uint64_t pending;
    bool failed;
} status_ctx;

/* Lock held: one key of the store, its versions kept by reference (a count
 * is not a message's content: msg.h lets any holder take one). */
static void status_take_key(void *ctx, const void *key, size_t key_len, const cw_msg *const *versions,
                            size_t count)
{
    (void)key; /* every version carries it */
    (void)key_len;
    status_ctx *st = ctx;
    size_t first = st->versions_len;
    for (size_t i = 0; i < count && !st->failed; i++) {
        if (cw_msg_tombstone(versions[i]))
            continue;
        cw_msg **grown = cw__vec_room(st->versions, st->versions_len, &st->versions_cap, sizeof *grown);
        if (!grown) {
            st->failed = true;
            break;
        }
        st->versions = grown;
        st->versions[st->versions_len++] = cw_msg_ref((cw_msg *)versions[i]);
    }
    if (st->failed || st->versions_len == first)
        return; /* only tombstones: the key is not shown */
    status_key *k = cw__vec_room(st->keys, st->keys_len, &st->keys_cap, sizeof *k);
    if (!k) {
        st->failed = true;
        return;
    }
    st->keys = k;
    st->keys[st->keys_len++] = (status_key){.first = first, .count = st->versions_len - first};
}

static void status_take(void *ctx, cw_node *n)
{
    status_ctx *st = ctx;
    cw_node_each_key(n, status_take_key, st);
    cw_node_stats stats;
    st->failed |= cw_node_clock(n, &st->clock) != CW_OK || cw_node_stable(n, &st->stable) != CW_OK ||
                  cw_node_get_stats(n, &stats) != CW_OK;
    st->pending = st->failed ? 0 : stats.buffered;
}

static void status_release(status_ctx *st)
{
    for (size_t i = 0; i < st->versions_len; i++)
        cw_msg_unref(st->versions[i]);
    for (size_t i = 0; i < st->keys_len; i++)
        free(st->keys[i].hex);
    free(st->versions);
    free(st->keys);
    cw_vclock_destroy(&st->clock);
    cw_vclock_destroy(&st->stable);
}

/* The name key k is shown by (invariant 5): its text when that is UTF-8
 * without NUL, else "0x" and its bytes in hex. false on ENOMEM. */
static bool status_name(status_ctx *st, status_key *k)
{
    size_t len;
    const char *key = cw_msg_key(st->versions[k->first], &len);
    json_t *probe = len && memchr(key, '\0', len) ? NULL : json_stringn(len ? key : "", len);
    if (probe) { /* UTF-8 without NUL */
        json_decref(probe);
        k->name = len ? key : "";
        k->name_len = len;
        return true;
    }
    k->hex = hex_name(key, len, &k->name_len);
    k->name = k->hex;
    return k->hex != NULL;
}

/* By name in byte order (a shorter name before the longer one it begins),
 * then a text key before a hex-named one of the same name. */
static int by_name(const void *pa, const void *pb)
{
    const status_key *a = pa, *b = pb;
    int c = memcmp(a->name, b->name, a->name_len < b->name_len ? a->name_len : b->name_len);
    if (c)
        return c;
    if (a->name_len != b->name_len)
        return a->name_len < b->name_len ? -1 : 1;
    return (a->hex != NULL) - (b->hex != NULL);
}

/* {"value":V,"clock":C} of a version (a read's siblings' shape); false
 * when its value met the parses' bound (append_value). */
static bool append_version(cw__http *h, text *t, const cw_msg *m)
{
    size_t len;
    const void *value = cw_msg_value(m, &len);
    uint32_t n = 0;
    const uint64_t *c = cw_msg_counters(m, &n);
    append(t, "{\"value\":", 9);
    if (!append_value(h, t, value, len))
        return false;
    append(t, ",\"clock\":", 9);
    append_dense_clock(t, c, n, h->nodes);
    append(t, "}", 1);
    return true;
}

/* "data": every key taken, as "NAME":ENTRY in the order of their names
 * (a hex name left out where a text key has it), ENTRY its one version or
 * {"siblings":[...]}; false when a value met the parses' bound
 * (append_value), t then unfinished. */
static bool append_data(cw__http *h, text *t, status_ctx *st)
{
    for (size_t i = 0; i < st->keys_len; i++)
        if (!status_name(st, &st->keys[i]))
            t->failed = true;
    if (t->failed)
        return true;
    if (st->keys_len)
        qsort(st->keys, st->keys_len, sizeof *st->keys, by_name);
    append(t, "{", 1);
    bool first = true;
    for (size_t i = 0; i < st->keys_len && !t->failed; i++) {
        const status_key *k = &st->keys[i];
        if (i > 0 && k->hex && k->name_len == k[-1].name_len && memcmp(k->name, k[-1].name, k->name_len) == 0)
            continue; /* sorted after the text key of its name */
        if (!first)
            append(t, ",", 1);
        first = false;
        append_json(t, json_stringn(k->name, k->name_len));
        append(t, ":", 1);
        if (k->count > 1)
            append(t, "{\"siblings\":[", 13);
        for (size_t v = 0; v < k->count; v++) {
            if (v)
                append(t, ",", 1);
            if (!append_version(h, t, st->versions[k->first + v]))
                return false;
        }
        if (k->count > 1)
            append(t, "]}", 2);
    }
    append(t, "}", 1);
    return true;
}

static void do_status(cw__http *h, reply *rep)
{
    if (too_much_held(h, rep))
        return;
    status_ctx st = {.nodes = h->nodes};
    cw_vclock_init(&st.clock);
    cw_vclock_init(&st.stable);
    if (cw__server_with_saved_node(h->server, status_take, &st) != CW_OK) {
        status_release(&st);
        fail_rc(rep, CW_EIO);
        return;
    }
    text t = {.failed = st.failed};
    appendf(&t, "{\"node\":%" PRIu32 ",\"clock\":", (uint32_t)cw__server_self(h->server));
    append_clock(&t, &st.clock, st.nodes);
    appendf(&t, ",\"pending\":%" PRIu64 ",\"data\":", st.pending);
    bool parsed = append_data(h, &t, &st);
    append(&t, ",\"stable\":", 10);
    append_clock(&t, &st.stable, st.nodes);
    append(&t, "}", 1);
    status_release(&st);
    if (!parsed) { /* a value met the parses' bound (invariant 1): 503 as a whole */
        free(t.p);
        parse_refused(h, rep);
        return;
    }
    fit_text(&t);
    rep->held = &h->answers_held;
    succeed_text(rep, &t, "application/json");
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static void metric(text *t, const char *name, const char *type, const char *help, uint64_t value)
{
    appendf(t, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, value);
}

static void stats_fn(void *ctx, cw_node *n)
{
    cw_node_stats *st = ctx;
    if (cw_node_get_stats(n, st) != CW_OK) {
        memset(st, 0, sizeof *st);
        st->stability_blocker = CW_NODE_NONE;
    }
}

static void do_metrics(cw__http *h, reply *rep)
{
    cw_node_stats ns;
    cw__server_stats ss;
    memset(&ns, 0, sizeof ns);
    cw__server_with_node(h->server, stats_fn, &ns);
    cw__server_get_stats(h->server, &ss);
    text t = {0};
    metric(&t, "causeway_writes_total", "counter", "Local writes made at this node.", ns.writes);
    metric(&t, "causeway_deliveries_total", "counter", "Remote writes applied at this node.", ns.delivered);
    metric(&t, "causeway_duplicates_total", "counter", "Arrivals dropped as already delivered or buffered.",
           ns.duplicates);
    metric(&t, "causeway_retransmitted_total", "counter", "Writes this node sent again on request.",
           ns.retransmitted);
    metric(&t, "causeway_recovered_total", "counter", "Writes that reached this node only by a retransmission.",
           ns.recovered);
    metric(&t, "causeway_conflicts_total", "counter", "Writes that created or joined siblings.", ns.conflicts);
    metric(&t, "causeway_rejected_full_total", "counter", "Receives refused because the causal buffer was full.",
           ns.rejected_full);
    metric(&t, "causeway_rejected_memory_total", "counter",
           "Receives refused because memory ran out (each retry counts).", ns.rejected_memory);
    metric(&t, "causeway_clock_anomalies_total", "counter",
           "Writes taken in whose timestamp was more than the drift bound (60 s) ahead of the wall clock.",
           ns.clock_anomalies);
    metric(&t, "causeway_pulls_total", "counter", "Pulls sent for missing writes.", ns.pulls);
    metric(&t, "causeway_reports_total", "counter", "Stability reports sent.", ns.reports);
    metric(&t, "causeway_buffered", "gauge", "Remote writes waiting in the causal buffer.", ns.buffered);
    metric(&t, "causeway_buffered_bytes", "gauge",
           "Bytes the writes waiting in the causal buffer hold (at most 256 MiB: then refused, and pulled later).",
           ns.buffered_bytes);
    metric(&t, "causeway_log_entries", "gauge", "Writes kept for retransmission until causally stable.",
           ns.log_entries);
    metric(&t, "causeway_keys", "gauge", "Keys in the store.", ns.keys);
    metric(&t, "causeway_refused_siblings_total", "counter",
           "Writes refused (409, CW_ESIBLINGS) because their context covered too few of the key's versions and "
           "the key would pass --max-siblings.",
           ns.siblings_refused);
    metric(&t, "causeway_unsent", "gauge", "Local writes whose messages wait to be sent.", ns.unsent);
    /* Per peer: whether stability waits for it (0 or 1), whether anything
     * came from it since the start, and for how long nothing has. */
    const char *fam[3][2] = {
        {"causeway_stability_waits_for",
         "1 for the peer whose word stability has waited for over two report intervals (writes wait on it "
         "once --max-log of them do), 0 for the others."},
        {"causeway_peer_heard", "1 once a message from the peer has been taken since this node started."},
        {"causeway_peer_silence_seconds",
         "Seconds since a message from the peer was last taken (since this node started, if none was). An "
         "idle group is silent; a peer that takes this node's writes reports within --report-interval-ms."}};
    uint32_t self = cw__server_self(h->server);
    cw__peer_word *words = malloc(h->nodes * sizeof *words); /* one moment for both families */
    if (!words) {
        free(t.p);
        fail_rc(rep, CW_ENOMEM);
        return;
    }
    cw__server_peer_words(h->server, words);
    for (int f = 0; f < 3; f++) {
        appendf(&t, "# HELP %s %s\n# TYPE %s gauge\n", fam[f][0], fam[f][1], fam[f][0]);
        for (uint32_t j = 0; j < h->nodes; j++) {
            if (j == self)
                continue;
            if (f == 0) {
                appendf(&t, "%s{peer=\"%" PRIu32 "\"} %d\n", fam[f][0], j, ns.stability_blocker == j);
                continue;
            }
            if (f == 1)
                appendf(&t, "%s{peer=\"%" PRIu32 "\"} %d\n", fam[f][0], j, words[j].heard);
            else
                appendf(&t, "%s{peer=\"%" PRIu32 "\"} %.3f\n", fam[f][0], j, (double)words[j].silence_ns / 1e9);
        }
    }
    free(words);
    metric(&t, "causeway_joining", "gauge", "1 while writes are refused until the peers answer.",
           ss.joining || ss.verifying ? 1 : 0);
    metric(&t, "causeway_behind", "gauge",
           "1 once a peer held a write of this node that it had not made: writes refused for good.",
           ss.behind ? 1 : 0);
    metric(&t, "causeway_messages_received_total", "counter", "Messages taken from links.", ss.received);
    metric(&t, "causeway_messages_sent_total", "counter", "Messages queued on links.", ss.sent);
    metric(&t, "causeway_link_full_total", "counter",
           "Messages not queued because the peer's link was full or lent to a snapshot answer.", ss.link_full);
    metric(&t, "causeway_refused_peer_total", "counter",
           "Messages and connections from a process that is not a configured peer (a CURVE key no peer has, an "
           "address --allow does not name, a handshake that failed or was closed halfway, a node of another "
           "--group).",
           ss.refused_peer);
    metric(&t, "causeway_malformed_total", "counter", "Messages that did not decode.", ss.malformed);
    metric(&t, "causeway_wire_bytes_in_total", "counter", "Bytes taken from links.", ss.wire_bytes_in);
    metric(&t, "causeway_wire_bytes_out_total", "counter", "Bytes queued on links.", ss.wire_bytes_out);
    metric(&t, "causeway_faults_dropped_total", "counter",
           "Messages lost to configured faults and cuts (with a restarted peer's reports and pulls that a delay "
           "still held).",
           ss.faults_dropped);
    metric(&t, "causeway_join_heads_total", "counter",
           "Restarted peers' requests for the head of this node's state answered (its clock).", ss.join_heads);
    metric(&t, "causeway_join_copies_total", "counter",
           "Whole copies of this node's state sent to restarted peers.", ss.join_copies);
    metric(&t, "causeway_http_large_answers_held_bytes", "gauge",
           "Bytes of large HTTP answers (/status, reads over 64 KiB) not yet taken by their clients.",
           atomic_load_explicit(&h->answers_held, memory_order_relaxed));
    metric(&t, "causeway_http_large_answers_refused_total", "counter",
           "Large HTTP answers refused (503) while those not yet taken held their bound (64 MiB).",
           atomic_load_explicit(&h->answers_refused, memory_order_relaxed));
    metric(&t, "causeway_http_bodies_held_bytes", "gauge",
           "Bytes the bodies of HTTP requests being received or read hold.",
           atomic_load_explicit(&h->bodies_held, memory_order_relaxed));
    metric(&t, "causeway_http_bodies_refused_total", "counter",
           "HTTP requests refused (503) because the bodies being received held their bound (64 MiB, or "
           "--max-body if larger).",
           atomic_load_explicit(&h->bodies_refused, memory_order_relaxed));
    metric(&t, "causeway_http_json_weight_held", "gauge",
           "Weight (bytes outside whitespace, a short number or an escape as one) of the JSON being parsed: "
           "request bodies, and the stored values answers (reads, /status) show.",
           atomic_load_explicit(&h->parsing, memory_order_relaxed));
    metric(&t, "causeway_http_json_weight_refused_total", "counter",
           "HTTP requests refused (503) because the JSON being parsed (request bodies, and the stored values "
           "answers show) held its bound (4 Mi units, or the heaviest write's weight if more): writes whose "
           "body, and reads and /status whose values, would have passed it.",
           atomic_load_explicit(&h->parsing_refused, memory_order_relaxed));
    metric(&t, "causeway_trace_failed", "gauge",
           "1 once a line of --trace could not be written (a full disk, a closed pipe): the trace is incomplete "
           "and the node's stop will exit 1; 0 otherwise, and without --trace.",
           cw__server_trace_failed(h->server));
    metric(&t, "causeway_http_memory_trims_total", "counter",
           "Times the node gave the C library's free memory back to the system: after at least 64 MiB of large "
           "request bodies, parses and answers were let go, once none had been for 1 s.",
           cw__trim_count(&h->trim));
    if (h->o.allow)
        metric(&t, "causeway_http_refused_connections_total", "counter",
               "HTTP connections closed as they were accepted: their address is not in --http-allow.",
               atomic_load_explicit(&h->refused, memory_order_relaxed));
    if (h->o.clients) {
        metric(&t, "causeway_client_answers_held_bytes", "gauge",
               "Bytes of the client endpoint's answers not yet written out to their clients.",
               cw__clients_held(h->o.clients));
        metric(&t, "causeway_client_large_reads_refused_total", "counter",
               "Client reads over 4 KiB answered CW_EFULL while answers not yet written out held 64 MiB, or "
               "16 MiB for the asking connection.",
               cw__clients_refused_large(h->o.clients));
        metric(&t, "causeway_client_requests_unserved_total", "counter",
               "Client requests dropped unserved because their client did not read its answers.",
               cw__clients_unserved(h->o.clients));
        metric(&t, "causeway_client_memory_trims_total", "counter",
               "Times the node gave the C library's free memory back to the system after the client "
               "endpoint's answers let go of at least 64 MiB, once none had been for 1 s.",
               cw__clients_trims(h->o.clients));
        metric(&t, "causeway_client_refused_connections_total", "counter",
               "Client connections refused at their handshake: an address --client-allow does not name.",
               cw__clients_refused(h->o.clients));
    }
    metric(&t, "causeway_verify_timeouts_total", "counter",
           "1 if the check of the state taken back (--data) ended at its bound, not on every peer's answer.",
           ss.verify_timeouts);
    if (ss.durable) {
        metric(&t, "causeway_saves_total", "counter", "State saves committed (--data).", ss.saves);
        metric(&t, "causeway_failed_saves_total", "counter", "State saves that failed (--data).", ss.failed_saves);
        metric(&t, "causeway_save_failing", "gauge", "1 while saves fail and writes are refused.",
               ss.save_failed ? 1 : 0);
        metric(&t, "causeway_data_map_used_bytes", "gauge", "Bytes of the LMDB map in use.", ss.map_used);
        metric(&t, "causeway_data_map_size_bytes", "gauge", "The LMDB map's size (--map-size).", ss.map_size);
    }
    /* A summary without _sum: the latency histogram keeps no sum. */
    const char *lat = "causeway_buffering_latency_seconds";
    appendf(&t, "# HELP %s Remote writes' time from arrival to delivery.\n# TYPE %s summary\n", lat, lat);
    appendf(&t, "%s{quantile=\"0.5\"} %.9f\n", lat, (double)ns.buffering.p50_ns / 1e9);
    appendf(&t, "%s{quantile=\"0.99\"} %.9f\n", lat, (double)ns.buffering.p99_ns / 1e9);
    appendf(&t, "%s{quantile=\"0.999\"} %.9f\n", lat, (double)ns.buffering.p999_ns / 1e9);
    appendf(&t, "%s_count %" PRIu64 "\n", lat, ns.buffering.count);
    succeed_text(rep, &t, "text/plain; version=0.0.4; charset=utf-8");
}

/* The heaviest a write's JSON can weigh (json_weight): its value, its key,
 * a context naming every node ("65535":N, at most 10 units an entry), and
 * the members' names; SIZE_MAX if that does not fit. */
static size_t heaviest_write(const cw__server *s)
{
    size_t parts[] = {cw__server_max_value_len(s), cw__server_max_key_len(s), 16 * (size_t)cw__server_nodes(s), 256};
    size_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        sum = parts[i] > SIZE_MAX - sum ? SIZE_MAX : sum + parts[i];
    return sum;
}

/* ---- MHD callbacks ---- */

/* Routes by path and method; the request's body is complete. */
static void route(cw__http *h, const char *url, const char *method, request *r, reply *rep)
{
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    static const struct {
        const char *path;
        bool post;
        bool prefix; /* the rest of the path is an argument */
    } routes[] = {{"/write", true, false},   {"/delete", true, false},  {"/replicate", true, false},
                  {"/admin/link", true, false}, {"/status", false, false}, {"/metrics", false, false},
                  {"/read/", false, true}};
    size_t i = 0, n = sizeof routes / sizeof routes[0];
    while (i < n && (routes[i].prefix ? strncmp(url, routes[i].path, strlen(routes[i].path))
                                      : strcmp(url, routes[i].path)) != 0)
        i++;
    if (i == n) {
        fail(rep, MHD_HTTP_NOT_FOUND, "no such route: %s %.100s", method, url);
        return;
    }
    if (routes[i].post ? !post : !get) {
        rep->allow = routes[i].post ? "POST" : "GET, HEAD";
        fail(rep, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s not allowed on %s (use %s)", method, routes[i].path,
             routes[i].post ? "POST" : "GET");
        return;
    }
    switch (i) {
    case 0: do_write(h, r, false, rep); break;
    case 1: do_write(h, r, true, rep); break;
    case 2: do_replicate(h, r, rep); break;
    case 3: do_link(h, r, rep); break;
    case 4: do_status(h, rep); break;
    case 5: do_metrics(h, rep); break;
    default: do_read(h, url + 6, rep); break;
    }
}

/* Keeps piece in r's body, up to max_body and within the bodies' bound
 * (invariant 1). */
static void take_upload(cw__http *h, request *r, const char *piece, size_t n)
{
    if (r->too_large || r->no_memory || r->held_full) {
        r->discarded += n;
        return;
    }
    if (n > h->o.max_body - r->len) {
        r->too_large = true;
        drop_body(h, r);
        return;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096; /* powers of two: the room a body takes is its length's */
        while (cap < r->len + n && cap <= SIZE_MAX / 2)
            cap *= 2;
        if (cap > h->o.max_body)
            cap = h->o.max_body;
        if (!hold_more(&h->bodies_held, h->o.bodies_held_max, cap - r->cap)) {
            r->held_full = true;
            atomic_fetch_add_explicit(&h->bodies_refused, 1, memory_order_relaxed); /* a count only */
            drop_body(h, r);
            return;
        }
        char *grown = realloc(r->body, cap);
        if (!grown) {
            r->no_memory = true;
            atomic_fetch_sub_explicit(&h->bodies_held, cap - r->cap, memory_order_relaxed); /* a bound only */
            drop_body(h, r);
            return;
        }
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, piece, n);
    r->len += n;
}

static void too_large(const cw__http *h, reply *rep)
{
    fail(rep, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large (the limit is %zu bytes)", h->o.max_body);
}

/* The most body a request declared too large is read (and discarded) for,
 * so its 413 reaches a client that sends without waiting for a go-ahead;
 * past it the connection is closed at once. */
#define DISCARD_MAX ((unsigned long long)64 << 20)

/* The framing header lines of a request, Content-Length and
 * Transfer-Encoding, and its Host lines, each counted; and its header
 * names that are not tokens (MHD keeps "Content-Length :" as a name of its
 * own, which frames nothing). */
typedef struct framing {
    unsigned lengths, codings, hosts, not_tokens;
} framing;

/* Whether s is a token (RFC 9110, 5.6.2): what a header name is. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    framing *f = cls;
    f->lengths += strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0;
    f->codings += strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0;
    f->hosts += strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0;
    f->not_tokens += !is_token(key);
    return MHD_YES;
}

/* A peer's address as text ("" if it is neither IPv4 nor IPv6). */
static void address_text(const struct sockaddr *sa, char addr[INET6_ADDRSTRLEN])
{
    addr[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr, INET6_ADDRSTRLEN);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr, INET6_ADDRSTRLEN);
}

/* Whether the connection's peer may POST /replicate or /admin/link (a
 * write in a peer's name, or a link cut: replicate_allow). */
static bool may_replicate(const cw__http *h, struct MHD_Connection *c)
{
    if (!h->o.replicate_allow)
        return true;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[INET6_ADDRSTRLEN];
    address_text(ci ? ci->client_addr : NULL, addr);
    return cw__allow_admits(h->o.replicate_allow, addr);
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    cw__http *h = cls;
    (void)len;
    if (!h->o.allow)
        return MHD_YES;
    char addr[INET6_ADDRSTRLEN];
    address_text(sa, addr);
    if (cw__allow_admits(h->o.allow, addr))
        return MHD_YES;
    atomic_fetch_add_explicit(&h->refused, 1, memory_order_relaxed); /* a count only */
    /* The count read under the lock: pool threads refusing together then
     * say it in order. */
    char more[64];
    pthread_mutex_lock(&h->log_lock);
    if (cw__note_due(&h->said, atomic_load_explicit(&h->refused, memory_order_relaxed), "refused", more, sizeof more))
        fprintf(stderr, "causeway node: refused an HTTP connection from %s: its address is not in --http-allow%s\n",
                addr[0] ? addr : "an address that is not IP", more);
    pthread_mutex_unlock(&h->log_lock);
    return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    cw__http *h = cls;
    request *r = *req_cls;
    reply rep = {0};
    if (!r) {
        /* The headers are in: the request's state, and the early 413. */
        r = calloc(1, sizeof *r);
        if (!r) {
            /* Answered now, so MHD asks no more of this request. */
            fail_rc(&rep, CW_ENOMEM);
            return send_reply(h, c, &rep);
        }
        *req_cls = r;
        atomic_fetch_add_explicit(&h->in_progress, 1, memory_order_relaxed);
        framing f = {0, 0, 0, 0};
        (void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
        /* RFC 9112, 5.1: whitespace before a header's colon is 400, and
         * so is any name that is not a token (a folded line MHD took for
         * one, a control byte). MHD frames no body by "Content-Length :",
         * where a proxy that trims the name frames one: the body would be
         * read as the next request. */
        if (f.not_tokens) {
            r->too_large = true; /* nothing of the body is kept */
            fail(&rep, MHD_HTTP_BAD_REQUEST,
                 "a header name that is not a token (whitespace before its colon, a folded line, or a byte a "
                 "name cannot hold)");
            return send_reply(h, c, &rep);
        }
        if (f.lengths > 1) { /* which one frames the body? (RFC 9112, 6.3) */
            r->too_large = true; /* nothing of the body is kept */
            fail(&rep, MHD_HTTP_BAD_REQUEST, "Content-Length given twice");
            return send_reply(h, c, &rep);
        }
        /* RFC 9112, 3.2: an HTTP/1.1 request without a Host line, or with
         * more than one, is answered 400 (an HTTP/1.0 one may have none;
         * MHD serves a later 1.x as 1.1). */
        if (f.hosts > 1 || (f.hosts == 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0)) {
            r->too_large = true; /* nothing of the body is kept */
            fail(&rep, MHD_HTTP_BAD_REQUEST, f.hosts ? "Host given twice" : "an HTTP/1.1 request without Host");
            return send_reply(h, c, &rep);
        }
        /* Answered before the body, so the connection closes after the
         * answer (an early answer: MHD reads nothing more of it). Two
         * framings in one request (both headers, or Transfer-Encoding on
         * two lines, which MHD reads the first of and a proxy may join) are
         * how a request is smuggled past a proxy that reads the other one
         * (RFC 9112, 6.1 and 6.3); a coding other than chunked would leave
         * MHD waiting for a body it cannot frame. */
        const char *coding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (coding && (f.lengths || f.codings > 1 || strcasecmp(coding, "chunked") != 0)) {
            r->too_large = true;
            if (f.lengths)
                fail(&rep, MHD_HTTP_BAD_REQUEST, "both Content-Length and Transfer-Encoding: which frames the body?");
            else if (f.codings > 1)
                fail(&rep, MHD_HTTP_BAD_REQUEST, "Transfer-Encoding given twice");
            else
                fail(&rep, MHD_HTTP_NOT_IMPLEMENTED, "Transfer-Encoding: only chunked is taken");
            return send_reply(h, c, &rep);
        }
        if ((strcmp(url, "/replicate") == 0 || strcmp(url, "/admin/link") == 0) && strcmp(method, "POST") == 0 &&
            !may_replicate(h, c)) {
            r->too_large = true; /* nothing of the body is kept */
            fail(&rep, MHD_HTTP_FORBIDDEN, "POST %s is taken only from the addresses --allow names", url);
            return send_reply(h, c, &rep);
        }
        const char *group = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Causeway-Group");
        if (h->o.group && strcmp(url, "/replicate") == 0 && strcmp(method, "POST") == 0 &&
            (!group || strcmp(group, h->o.group) != 0)) {
            r->too_large = true; /* nothing of the body is kept */
            fail(&rep, MHD_HTTP_FORBIDDEN,
                 "this node is of group '%s' (--group): POST /replicate takes a write only with the header "
                 "'Causeway-Group: %s'",
                 h->o.group, h->o.group);
            return send_reply(h, c, &rep);
        }
        const char *declared = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        r->undeclared = !declared;
        if (declared) {
            errno = 0;
            unsigned long long n = strtoull(declared, NULL, 10);
            if (n > h->o.max_body || errno == ERANGE) {
                r->too_large = true; /* what comes is discarded: 413 at its end */
                const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
                if ((expect && strcasecmp(expect, "100-continue") == 0) || n > DISCARD_MAX || errno == ERANGE) {
                    too_large(h, &rep);
                    return send_reply(h, c, &rep);
                }
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        take_upload(h, r, upload, *upload_size);
        *upload_size = 0;
        /* A body that declared no length (chunked) and goes on past
         * DISCARD_MAX discarded: the connection is closed. It was read to
         * its end, however long, and held its connection all the while.
         * (MHD 0.9.75 takes no answer in the middle of a body: it wrote none
         * when one was queued here, and closed the connection.) */
        return !r->undeclared || r->discarded <= DISCARD_MAX ? MHD_YES : MHD_NO;
    }
    if (r->too_large)
        too_large(h, &rep);
    else if (r->no_memory)
        fail_rc(&rep, CW_ENOMEM);
    else if (r->held_full)
        fail(&rep, MHD_HTTP_SERVICE_UNAVAILABLE,
             "the bodies of requests being received hold %zu bytes already, the most they may: try again",
             h->o.bodies_held_max);
    else
        route(h, url, method, r, &rep);
    drop_body(h, r); /* the answer is made: the body is no longer needed */
    return send_reply(h, c, &rep);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode why)
{
    (void)c;
    (void)why;
    cw__http *h = cls;
    request *r = *req_cls;
    if (r) {
        drop_body(h, r);
        release_json(h, r, NULL);
        free(r);
        *req_cls = NULL;
        atomic_fetch_sub_explicit(&h->in_progress, 1, memory_order_relaxed);
    }
}

/* Leaves the path as it came (invariant 3): /read/ decodes its key itself. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* fmt is MHD's own format string. */
__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    cw__http *h = cls;
    pthread_mutex_lock(&h->log_lock);
    if (h->starting && !h->start_log[0]) {
        vsnprintf(h->start_log, sizeof h->start_log, fmt, ap);
        size_t n = strlen(h->start_log);
        while (n && (h->start_log[n - 1] == '\n' || h->start_log[n - 1] == '.'))
            h->start_log[--n] = '\0';
    }
    pthread_mutex_unlock(&h->log_lock);
}

/* ---- start and stop ---- */

__attribute__((format(printf, 4, 5))) static int start_failed(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Frees h, its daemon stopped or never started. */
static void destroy(cw__http *h)
{
    if (h->made_unanswered)
        MHD_destroy_response(h->made_unanswered);
    if (h->made_unsaved)
        MHD_destroy_response(h->made_unsaved);
    if (h->no_memory)
        MHD_destroy_response(h->no_memory);
    pthread_mutex_destroy(&h->log_lock);
    cw__trim_destroy(&h->trim); /* MHD is stopped: nothing frees any more */
    free(h);
}

int cw__http_start(cw__http **out, cw__server *s, const char *host, uint16_t port, const cw__http_options *o,
                   char *err, size_t errlen)
{
    if (!out || !s)
        return start_failed(CW_EINVAL, err, errlen, "no server");
    cw__http_options opts;
    cw__http_options_init(&opts);
    if (o)
        opts = *o;
    if (!opts.answers_held_max)
        opts.answers_held_max = CW_HTTP_DEFAULT_ANSWERS_HELD;
    if (!opts.bodies_held_max)
        opts.bodies_held_max = CW_HTTP_DEFAULT_BODIES_HELD;
    if (opts.bodies_held_max < opts.max_body)
        opts.bodies_held_max = opts.max_body;
    if (!opts.parse_max)
        opts.parse_max = CW_HTTP_DEFAULT_PARSE_MAX;
    size_t json_max = heaviest_write(s);
    if (opts.parse_max < json_max)
        opts.parse_max = json_max;
    if (!opts.threads || !opts.max_body || !opts.max_connections)
        return start_failed(CW_EINVAL, err, errlen, "threads, max_body and max_connections must be positive");

    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = host ? AF_UNSPEC : AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0 || !res)
        return start_failed(CW_EIO, err, errlen, "HTTP host %s: %s", host ? host : "*",
                            gai ? gai_strerror(gai) : "no address");

    cw__http *h = calloc(1, sizeof *h);
    if (!h || pthread_mutex_init(&h->log_lock, NULL) != 0) {
        free(h);
        freeaddrinfo(res);
        return start_failed(CW_ENOMEM, err, errlen, "%s", cw_strerror(CW_ENOMEM));
    }
    cw__trim_init(&h->trim);
    h->made_unanswered = spare_answer(json_pack("{s:s, s:n}", "status", "success", "clock"));
    h->made_unsaved = spare_answer(error_body(cw_strerror(CW_EUNSAVED), CW_EUNSAVED));
    h->no_memory = spare_answer(error_body(cw_strerror(CW_ENOMEM), CW_ENOMEM));
    if (!h->made_unanswered || !h->made_unsaved || !h->no_memory) {
        destroy(h);
        freeaddrinfo(res);
        return start_failed(CW_ENOMEM, err, errlen, "%s", cw_strerror(CW_ENOMEM));
    }
    h->server = s;
    h->o = opts;
    h->nodes = cw__server_nodes(s);
    h->json_max = json_max;
    const struct addrinfo *pick = cw__endpoint_bind_pick(res); /* a host name: its IPv4 address first */
    memcpy(&h->addr, pick->ai_addr, pick->ai_addrlen);
    bool v6 = pick->ai_family == AF_INET6;
    /* The IPv6 wildcard takes IPv4 too (as a ZeroMQ endpoint on * does):
     * an IPv4 client's address then comes mapped (::ffff:a.b.c.d), which
     * the allow-list matches as IPv4. */
    bool both = v6 && IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)pick->ai_addr)->sin6_addr);
    freeaddrinfo(res);

    /* One internal polling thread per pool member; keep-alive is MHD's
     * default. poll(), not epoll: libmicrohttpd 0.9.75's epoll loop waits
     * again, for its whole timeout, when exactly 128 (its batch) of its
     * edge-triggered connections are ready at once, and a thread at its
     * share of the connection limit (256 / 2 threads) has no listen socket
     * left to wake it: those 128 requests went unanswered until the idle
     * timeout (60 s) closed them. poll() waits over at most a thread's share
     * of max_connections. An inter-thread channel (ITC) wakes each thread
     * at stop: without it MHD shuts the listen socket down to wake them,
     * which a thread at its limit no longer watches (the stop took 60 s). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_POLL | MHD_USE_ITC |
                     (both ? MHD_USE_DUAL_STACK : v6 ? MHD_USE_IPv6 : 0);
    /* A pool of one is no pool (MHD warns about it): the option is left out. */
    struct MHD_OptionItem pool[] = {
        {opts.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)opts.threads, NULL},
        {MHD_OPTION_END, 0, NULL}};
    h->starting = true;
    h->daemon = MHD_start_daemon(flags, port, on_accept, h, on_request, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
                                 MHD_OPTION_ARRAY, pool,
                                 MHD_OPTION_CONNECTION_LIMIT, opts.max_connections,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts.max_per_address,
                                 /* Each request's pool is cleared when the next
                                  * starts: 16 KiB (not MHD's 32) halves that cost
                                  * and still holds any sane request line and
                                  * headers (the body streams through it). */
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024,
                                 MHD_OPTION_CONNECTION_TIMEOUT, opts.idle_timeout_s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                 MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, h,
                                 MHD_OPTION_END);
    int saved_errno = errno;
    pthread_mutex_lock(&h->log_lock);
    h->starting = false;
    pthread_mutex_unlock(&h->log_lock);
    if (!h->daemon) {
        int rc = start_failed(CW_EIO, err, errlen, "HTTP %s:%u: %s", host ? host : "*", (unsigned)port,
                              h->start_log[0] ? h->start_log : strerror(saved_errno));
        destroy(h);
        return rc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info && info->port ? info->port : port;
    *out = h;
    return CW_OK;
}

/* How long stop waits for requests in progress to be answered. */
#define STOP_WAIT_NS 1000000000u

void cw__http_stop(cw__http *h)
{
    if (!h)
        return;
    /* The requests under way (a write that waited for an ahead context,
     * ended by cw__server_close) get their answers out before the
     * connections close: at most STOP_WAIT_NS, for a client that sends
     * slowly. */
    for (unsigned waited_ms = 0; atomic_load_explicit(&h->in_progress, memory_order_relaxed) &&
                                 waited_ms < STOP_WAIT_NS / 1000000u;
         waited_ms++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    MHD_stop_daemon(h->daemon);
    destroy(h);
}
