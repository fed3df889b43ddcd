/* Handshakes that fail inside libzmq (handshakes.h).
 *
 * Invariants:
 *  1. libzmq 4.3.4 sends monitor events on a PAIR socket with blocking
 *     sends, from its I/O thread, under the monitored socket's monitor
 *     lock: a reader that lagged past the PAIR's high-water mark would
 *     stall every link. So a thread of its own reads them as they come,
 *     and only counts and prints; and the monitor is stopped (which takes
 *     that lock) while the thread still reads, then the thread is stopped.
 *  2. Counted: a handshake that failed on a protocol error (another
 *     security mechanism, bytes that are not ZMTP), and one that the other
 *     side closed (HANDSHAKE_FAILED_NO_DETAIL): when the mechanisms differ,
 *     whichever side reads the other's greeting first closes, so this
 *     node sees either, and only counting both says so every time. (A
 *     probe of the port, such as a second process's check that the
 *     endpoint is served, counts too.) A refused CURVE key
 *     (HANDSHAKE_FAILED_AUTH) is auth.c's.
 */
#include "handshakes.h"

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

struct cw__handshakes {
    void *sock; /* the monitor's PAIR: the thread's alone once it runs */
    uint32_t self;
    pthread_t thread;
    bool started, monitoring;
    _Atomic bool stop;
    _Atomic uint64_t failed;
    cw__note said;    /* the thread's: the last warning, and the count then */
};

/* One event, its two frames read whole (a frame never left half read). */
static void take_event(cw__handshakes *h)
{
    zmq_msg_t head, addr;
    zmq_msg_init(&head);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&head, h->sock, 0) < 0 || !zmq_msg_more(&head) || zmq_msg_recv(&addr, h->sock, 0) < 0) {
        zmq_msg_close(&head);
        zmq_msg_close(&addr);
        return;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    if (zmq_msg_size(&head) == 6) {
        memcpy(&event, zmq_msg_data(&head), 2);
        memcpy(&value, (const char *)zmq_msg_data(&head) + 2, 4);
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        uint64_t failed = atomic_fetch_add_explicit(&h->failed, 1, memory_order_relaxed) + 1; /* a count only */
        char more[64];
        if (cw__note_due(&h->said, failed, "failed", more, sizeof more)) {
            const char *why =
                event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                    ? "it closed during the handshake (a probe of the port, or a peer that refused this node's "
                      "security mechanism)"
                : value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                    ? "it speaks another security mechanism (CURVE on one node and not the other?)"
                    : "it does not speak ZMTP";
            fprintf(stderr, "causeway node %" PRIu32 ": a connection to its %.*s failed its handshake: %s%s\n", h->self,
                    (int)(zmq_msg_size(&addr) < 200 ? zmq_msg_size(&addr) : 200), (const char *)zmq_msg_data(&addr),
                    why, more);
        }
    }
    while (zmq_msg_more(&addr)) { /* not the version-1 shape: drop the rest */
        zmq_msg_close(&addr);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&addr, h->sock, 0) < 0)
            break;
    }
    zmq_msg_close(&head);
    zmq_msg_close(&addr);
}

static void *handshakes_main(void *arg)
{
    cw__handshakes *h = arg;
    while (!atomic_load_explicit(&h->stop, memory_order_acquire)) { /* pairs with cw__handshakes_stop */
        zmq_pollitem_t item = {h->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, POLL_MS) > 0)
            take_event(h);
    }
    return NULL;
}

int cw__handshakes_start(cw__handshakes **out, void *zctx, void *router, uint32_t self)
{
    cw__handshakes *h = calloc(1, sizeof *h);
    if (!h)
        return CW_ENOMEM;
    h->self = self;
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://causeway-handshakes-%p", (void *)h);
    int linger = 0;
    h->sock = zmq_socket(zctx, ZMQ_PAIR);
    int why = 0;
    if (!h->sock || zmq_setsockopt(h->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_socket_monitor(router, addr, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) !=
            0)
        why = errno ? errno : EIO;
    if (!why) {
        h->monitoring = true;
        why = zmq_connect(h->sock, addr) != 0 ? (errno ? errno : EIO)
                                               : pthread_create(&h->thread, NULL, handshakes_main, h);
    }
    if (why) {
        cw__handshakes_stop(h, router);
        errno = why; /* CW_EIO's cause, for the caller's message (handshakes.h) */
        return CW_EIO;
    }
    h->started = true;
    *out = h;
    return CW_OK;
}

void cw__handshakes_stop(cw__handshakes *h, void *router)
{
    if (!h)
        return;
    if (h->monitoring) /* invariant 1: while the thread still reads */
        (void)zmq_socket_monitor(router, NULL, 0);
    atomic_store_explicit(&h->stop, true, memory_order_release); /* pairs with handshakes_main's acquire */
    if (h->started)
        pthread_join(h->thread, NULL);
    if (h->sock)
        zmq_close(h->sock);
    free(h);
}

uint64_t cw__handshakes_failed(const cw__handshakes *h)
{
    return h ? atomic_load_explicit(&((cw__handshakes *)h)->failed, memory_order_relaxed) : 0;
}
