/* What replicas send each other. Mostly a replicated write: origin, HLC
 * timestamp, the write's vector clock (dense, one counter per node), key and
 * value. Loss recovery adds two small kinds (cw_msg_kind): a pull ("send me
 * origin o's writes from..to", sent to one node) and a report (the sender's
 * applied clock: everything it has applied, for causal stability). A write
 * sent again in answer to a pull is a copy of the original, marked
 * retransmitted (cw_msg_retransmitted).
 *
 * Ownership: a cw_msg is immutable once made and reference counted. Whoever
 * holds a reference releases it with cw_msg_unref; cw_msg_ref adds one. The
 * counts are atomic, so references may be taken and dropped on any thread:
 * one message is shared by every receiver and every store that keeps it.
 *
 * Wire form (cw_msg_encode / cw_msg_decode), big-endian. A plain write
 * (not retransmitted) keeps format 1, byte for byte, so peers that know only
 * format 1 still read every first copy of a write:
 *   u8   format version (1)
 *   u16  origin node id
 *   10   HLC timestamp (cw_hlc binary form)
 *   ...  clock in the binary vector-clock form of vclock.h (zeros omitted)
 *   u32  key length, then the key bytes
 *   u32  value length, then the value bytes
 * Every other message is format 2: u8 version (2), u8 kind, u8 flags, u16
 * sender, then for a write the rest of format 1 from the timestamp on; for a
 * pull u16 origin, u64 from, u64 to; for a report its clock (binary form).
 * The decoder reads both. Worked examples and the decoder's checks:
 * docs/formats.md, "Replica messages".
 */
#ifndef CAUSEWAY_MSG_H
#define CAUSEWAY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <causeway/export.h>
#include <causeway/hlc.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_msg cw_msg;

/* The format of a plain write; of every other message; and of a write that
 * deletes or carries a context of its own (cw_node_put_ctx, cw_node_delete).
 * Each encodes in the oldest format that can carry it, so what older
 * versions sent still decodes, and they refuse only what they cannot know. */
#define CW_MSG_FORMAT_VERSION 1u
#define CW_MSG_FORMAT_VERSION_2 2u
#define CW_MSG_FORMAT_VERSION_3 3u

typedef enum cw_msg_kind {
    CW_MSG_WRITE = 0,   /* a replicated write */
    CW_MSG_PULL = 1,    /* a request for a range of one origin's writes */
    CW_MSG_REPORT = 2   /* the sender's applied clock */
} cw_msg_kind;

/* Makes a message with one reference (the caller's). clock has `nodes`
 * counters; clock[origin] is the write's sequence number at its origin and
 * must be >= 1. key and value are copied; either may be empty (len 0, pointer
 * may then be NULL). CW_EINVAL on a bad argument (ts->wall_ms above
 * CW_HLC_MAX_WALL among them: the codec carries 48 bits), CW_ENOMEM. */
CW_API int cw_msg_create(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts,
                         const uint64_t *clock, uint32_t nodes, const void *key, size_t key_len,
                         const void *value, size_t value_len);
/* As cw_msg_create, for a write with a context of its own (`context`:
 * nodes counters, the versions it replaces; NULL: none, its clock without
 * its own dot) that may be a delete (`tombstone`: its value is then empty,
 * and value must be empty). For hosts and checkers that rebuild writes
 * (from a trace, say) exactly as the replica made them. CW_EINVAL also for
 * a context above the clock, or one that covers the write's own dot (as
 * the decoder refuses them). */
CW_API int cw_msg_create_write(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts,
                               const uint64_t *clock, uint32_t nodes, const uint64_t *context, bool tombstone,
                               const void *key, size_t key_len, const void *value, size_t value_len);
/* Adds a reference; returns m (NULL is ignored: NULL). */
CW_API cw_msg *cw_msg_ref(cw_msg *m);
/* Drops a reference; the last one frees the message. NULL is ignored. */
CW_API void cw_msg_unref(cw_msg *m);

/* Accessors. Pointers stay valid while the caller holds a reference. Those
 * that return an int give CW_EINVAL for a NULL m; the others (and
 * cw_msg_encoded_size) have no error to give and need a message: m must not
 * be NULL.
 * cw_msg_origin is a write's origin, and a pull's or report's sender.
 * Counters and clock: a write's clock, or a report's applied clock (a pull
 * has none: NULL and CW_EINVAL). Seq, timestamp, key and value: a write's
 * (0 and empty for the other kinds). */
CW_API cw_node_id cw_msg_origin(const cw_msg *m);
CW_API uint64_t cw_msg_seq(const cw_msg *m);               /* clock[origin] */
CW_API cw_hlc_timestamp cw_msg_timestamp(const cw_msg *m);
CW_API const uint64_t *cw_msg_counters(const cw_msg *m, uint32_t *nodes_out);
CW_API int cw_msg_clock(const cw_msg *m, cw_vclock *out);  /* sparse copy */
CW_API const void *cw_msg_key(const cw_msg *m, size_t *len_out);
CW_API const void *cw_msg_value(const cw_msg *m, size_t *len_out);
CW_API cw_msg_kind cw_msg_kind_of(const cw_msg *m);
/* Whether a write is a copy sent again in answer to a pull. */
CW_API bool cw_msg_retransmitted(const cw_msg *m);
/* Whether a write deletes (a tombstone: its value is empty). */
CW_API bool cw_msg_tombstone(const cw_msg *m);
/* A write's context: the versions it replaces (those whose dot (origin, seq)
 * it covers). A plain put's is its clock without its own dot; a context
 * write's is the one its client gave. CW_EINVAL if m is not a write. */
CW_API int cw_msg_context(const cw_msg *m, cw_vclock *out);
/* A pull's request: origin's writes from..to (inclusive). CW_EINVAL if m is
 * not a pull. */
CW_API int cw_msg_pull_range(const cw_msg *m, cw_node_id *origin, uint64_t *from, uint64_t *to);

/* Bytes cw_msg_encode writes. */
CW_API size_t cw_msg_encoded_size(const cw_msg *m);
/* Encodes into buf[0..cap); *len_out: bytes written, or needed on CW_ENOSPC.
 * CW_ELIMIT: a key or value of more than UINT32_MAX bytes (its length is a
 * u32 on the wire). */
CW_API int cw_msg_encode(const cw_msg *m, uint8_t *buf, size_t cap, size_t *len_out);

/* What a receiver accepts. */
typedef struct cw_msg_limits {
    uint32_t nodes;          /* ids (origin and clock) must be below this */
    size_t max_key_len;      /* CW_ELIMIT above */
    size_t max_value_len;    /* CW_ELIMIT above */
} cw_msg_limits;

/* Decodes one message (either format, any kind) from the front of
 * buf[0..len) into a new message with one reference. *consumed (nullable)
 * gets the bytes read. Errors, with *out untouched: CW_ETRUNC (shorter than
 * it declares), CW_EBADMSG (unknown format version, kind or flag, an id not
 * below limits->nodes, a write's clock whose origin entry is 0, or a pull
 * whose range is empty or starts at 0),
 * CW_ELIMIT (more clock entries than 65,536, key or value above the limits),
 * CW_ENOMEM. Never reads outside buf[0..len). */
CW_API int cw_msg_decode(cw_msg **out, const uint8_t *buf, size_t len,
                         const cw_msg_limits *limits, size_t *consumed);

#ifdef __cplusplus
}
#endif
#endif
