/* A ZAP handler for a node's ZeroMQ endpoints: CURVE keys and address
 * allow-lists (auth.h).
 *
 * Invariants:
 *  1. A connection is admitted only when its address is in the allow-list
 *     (if there is one) and, with keys, its CURVE public key is exactly one
 *     configured node's, or without keys its mechanism is NULL; every other
 *     request (another mechanism, a key nobody configured, an address
 *     outside the list, a malformed request) is answered 400 and counted.
 *  2. The handler answers every request it reads (ZeroMQ waits for it), on
 *     its own thread, and touches nothing of the server's.
 *  3. A refusal is said on stderr, with the address and why, at most once
 *     every CW__NOTE_EVERY_NS (note.h) (with how many came since): a peer left out of
 *     --allow by mistake is otherwise only a counter, and a flood of
 *     strangers does not flood the log.
 */
#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include <causeway/error.h>

#include "note.h"

#define POLL_MS 50
#define KEY_BYTES 32

struct cw__auth {
    void *sock;
    uint8_t (*keys)[KEY_BYTES]; /* NULL: plain links */
    bool *admitted;
    uint32_t count;
    bool has_allow;
    cw__allow allow;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic uint64_t refused;
    cw__note said;                  /* invariant 3; the handler's thread only */
};

/* Reads one request's frames (at most 8 kept); how many, or -1. */
static int take_request(void *sock, zmq_msg_t *part, int cap)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < cap)
            part[n] = m;
        else
            zmq_msg_close(&m);
        n++;
    }
    return n;
}

static void send_str(void *sock, const char *s, bool more)
{
    (void)zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0);
}

static bool is_text(zmq_msg_t *m, const char *s)
{
    size_t len = strlen(s);
    return zmq_msg_size(m) == len && memcmp(zmq_msg_data(m), s, len) == 0;
}

/* Whether the request's address frame names an address the list admits
 * (invariant 1); any address without a list. */
static bool address_admitted(const cw__auth *a, zmq_msg_t *frame)
{
    if (!a->has_allow)
        return true;
    char text[64];
    size_t len = zmq_msg_size(frame);
    if (len >= sizeof text)
        return false;
    memcpy(text, zmq_msg_data(frame), len);
    text[len] = '\0';
    return cw__allow_admits(&a->allow, text);
}

/* Invariant 3: says why a connection was refused, now and then. */
static void say_refused(cw__auth *a, zmq_msg_t *part, int n, bool from_allowed, uint64_t refused)
{
    char more[64];
    if (!cw__note_due(&a->said, refused, "refused", more, sizeof more))
        return;
    const char *why = !from_allowed ? "its address is not in the allow-list"
                      : a->keys     ? "its CURVE key is no configured peer's"
                                    : "it asked for a security mechanism this endpoint does not take";
    int len = n >= 4 ? (int)(zmq_msg_size(&part[3]) < 64 ? zmq_msg_size(&part[3]) : 64) : 0;
    const char *addr = n >= 4 ? (const char *)zmq_msg_data(&part[3]) : "";
    bool clients = n >= 3 && zmq_msg_size(&part[2]) == 16 && memcmp(zmq_msg_data(&part[2]), "causeway-clients", 16) == 0;
    fprintf(stderr, "causeway node: refused a %s connection from %.*s: %s%s\n", clients ? "client" : "replication", len,
            addr, why, more);
}

static void *auth_main(void *arg)
{
    cw__auth *a = arg;
    while (!atomic_load_explicit(&a->stop, memory_order_acquire)) { /* pairs with cw__auth_stop */
        zmq_pollitem_t item = {a->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, POLL_MS) <= 0)
            continue;
        zmq_msg_t part[8];
        int n = take_request(a->sock, part, 8);
        if (n < 0)
            continue;
        /* version, request id, domain, address, routing id, mechanism, key */
        int kept = n < 8 ? n : 8;
        long who = -1;
        bool plain = false;
        bool from_allowed = n >= 6 && address_admitted(a, &part[3]); /* else refused, whatever the key */
        if (from_allowed && !a->keys)
            plain = n == 6 && is_text(&part[5], "NULL");
        else if (from_allowed && n == 7 && is_text(&part[5], "CURVE") && zmq_msg_size(&part[6]) == KEY_BYTES)
            for (uint32_t j = 0; j < a->count && who < 0; j++)
                if (a->admitted[j] && memcmp(a->keys[j], zmq_msg_data(&part[6]), KEY_BYTES) == 0)
                    who = (long)j;
        bool ok = plain || who >= 0;
        send_str(a->sock, "1.0", true);
        if (kept >= 2)
            (void)zmq_send(a->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
        else
            send_str(a->sock, "", true);
        char id[24] = "";
        if (who >= 0)
            snprintf(id, sizeof id, "%ld", who);
        send_str(a->sock, ok ? "200" : "400", true);
        send_str(a->sock, ok ? "OK" : "not admitted", true);
        send_str(a->sock, id, true);
        send_str(a->sock, "", false);
        if (!ok)
            say_refused(a, part, kept, from_allowed,
                        atomic_fetch_add_explicit(&a->refused, 1, memory_order_relaxed) + 1); /* a count only */
        for (int i = 0; i < kept; i++)
            zmq_msg_close(&part[i]);
    }
    return NULL;
}

int cw__auth_start(cw__auth **out, void *zctx, const char *const *keys_z85, uint32_t count,
                   const cw__allow *allow)
{
    cw__auth *a = calloc(1, sizeof *a);
    if (!a)
        return CW_ENOMEM;
    if (allow) {
        a->has_allow = true;
        a->allow = *allow;
    }
    a->count = keys_z85 ? count : 0;
    a->keys = keys_z85 ? calloc(count ? count : 1, sizeof *a->keys) : NULL;
    a->admitted = calloc(count ? count : 1, sizeof *a->admitted);
    if ((keys_z85 && !a->keys) || !a->admitted) {
        cw__auth_stop(a);
        return CW_ENOMEM;
    }
    for (uint32_t j = 0; j < a->count; j++) {
        if (!keys_z85[j])
            continue;
        if (strlen(keys_z85[j]) != 40 || !zmq_z85_decode(a->keys[j], keys_z85[j])) {
            cw__auth_stop(a);
            return CW_EINVAL;
        }
        a->admitted[j] = true;
    }
    int linger = 0;
    a->sock = zmq_socket(zctx, ZMQ_REP);
    int why = 0;
    if (!a->sock || zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(a->sock, "inproc://zeromq.zap.01") != 0)
        why = errno ? errno : EIO;
    else
        why = pthread_create(&a->thread, NULL, auth_main, a);
    if (why) {
        cw__auth_stop(a);
        errno = why; /* CW_EIO's cause, for the caller's message (auth.h) */
        return CW_EIO;
    }
    a->started = true;
    *out = a;
    return CW_OK;
}

void cw__auth_stop(cw__auth *a)
{
    if (!a)
        return;
    atomic_store_explicit(&a->stop, true, memory_order_release); /* pairs with auth_main's acquire */
    if (a->started)
        pthread_join(a->thread, NULL);
    if (a->sock)
        zmq_close(a->sock);
    free(a->keys);
    free(a->admitted);
    free(a);
}

uint64_t cw__auth_refused(const cw__auth *a)
{
    return a ? atomic_load_explicit(&((cw__auth *)a)->refused, memory_order_relaxed) : 0;
}
