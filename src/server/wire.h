/* The bytes of a message on one network link (one sender to one receiver).
 *
 * A link carries the message codec's bytes (causeway/msg.h) in a frame of
 * its own, so the link may send less than the codec would: a clock can be
 * sent as the entries that changed since the previous message on the same
 * link, which the receiver still has (the link is FIFO: ZeroMQ over TCP).
 * Each side keeps one state per link: cw__wire_tx at the sender, cw__wire_rx
 * at the receiver. A message lost on the link (a peer restarted, a
 * reconnect) must never make a later one decode wrongly: it is refused, and
 * loss recovery brings its write again.
 *
 * Threads: one state is used by one thread at a time.
 */
#ifndef CW_WIRE_H
#define CW_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/msg.h>

/* A compact frame is a key frame (its clock whole, as varints) at least
 * every CW__WIRE_KEY_EVERY compact frames on a link, so a receiver that lost
 * one resynchronizes within that many. */
#define CW__WIRE_KEY_EVERY 64u

typedef struct cw__wire_tx {
    uint32_t nodes;
    uint32_t epoch;              /* this state's incarnation, on every compact frame */
    uint8_t *whole;              /* tag 0, then the codec's bytes of the last encode */
    size_t whole_cap;
    uint8_t *frame;              /* the last compact frame encoded */
    size_t frame_cap;
    uint64_t *base;              /* nodes counters: the clock of the last committed compact frame */
    uint64_t *next;              /* nodes counters: the clock of the encoded, uncommitted one */
    uint64_t link_seq;           /* compact frames committed on this link */
    uint32_t since_key;          /* compact frames committed since the last key frame */
    int pending;                 /* tag of the encoded, uncommitted frame; -1: none */
} cw__wire_tx;

typedef struct cw__wire_rx {
    uint32_t nodes;
    uint32_t epoch;              /* of the sender state whose frames are decoded */
    uint64_t *base;              /* 3 x nodes counters: the last compact frame's clock, */
                                 /* then scratch for a frame's clock and context */
    uint8_t *buf;                /* the codec's bytes rebuilt from a compact frame */
    size_t cap;
    uint64_t link_seq;           /* link seq of the last compact frame decoded; 0: no base */
    uint64_t gaps;               /* messages refused because one before them was lost */
    bool lost;                   /* a compact frame was lost since cw__wire_take_lost last looked */
} cw__wire_rx;

/* CW_OK, CW_EINVAL (nodes 0 or above CW_VCLOCK_MAX_ENTRIES), CW_ENOMEM. */
int  cw__wire_tx_init(cw__wire_tx *tx, uint32_t nodes);
void cw__wire_tx_destroy(cw__wire_tx *tx);
int  cw__wire_rx_init(cw__wire_rx *rx, uint32_t nodes);
void cw__wire_rx_destroy(cw__wire_rx *rx);

/* Encodes m for this link: a whole frame (tag 0) or a compact one,
 * whichever is shorter (docs/formats.md, "Link frames"); costs one codec
 * encode of m and O(nodes). *bytes (valid until the next encode or destroy)
 * and *len get the frame. The link's state does not move until
 * cw__wire_commit: a frame the socket refused is simply not committed.
 * CW_OK, CW_EINVAL (m for another group size), CW_ENOMEM. */
int  cw__wire_encode(cw__wire_tx *tx, const cw_msg *m, const uint8_t **bytes, size_t *len);
/* The last encoded frame was queued on the link. */
void cw__wire_commit(cw__wire_tx *tx);
/* The link may have lost what was queued (the peer reconnected): the next
 * frame carries everything the receiver needs on its own. */
void cw__wire_tx_reset(cw__wire_tx *tx);

/* Decodes one frame into a new message (*out: one reference, the caller's).
 * CW_OK; CW_EBADMSG (malformed, or beyond lim: nothing changed);
 * CW_ENOTFOUND (the frame depends on one before it that this link lost:
 * refused, counted in gaps; its write comes again through loss recovery);
 * CW_ENOMEM. */
int  cw__wire_decode(cw__wire_rx *rx, const uint8_t *bytes, size_t len, const cw_msg_limits *lim,
                     cw_msg **out);
/* Whether the link lost a compact frame (one was refused for want of its
 * base, or one came numbered past the next expected: the sender dropped
 * frames, or restarted numbering from its first compact frame unseen here)
 * since the last call; clears it. Whole frames are not numbered: their loss
 * does not show. A host asks after each message decoded: a message the link
 * lost came before it. */
bool cw__wire_take_lost(cw__wire_rx *rx);

#endif
