/* A replicated write as it travels between replicas: origin, HLC timestamp,
 * the write's vector clock (dense, one counter per node), key and value.
 *
 * Ownership: a cw_msg is immutable once made and reference counted. Whoever
 * holds a reference releases it with cw_msg_unref; cw_msg_ref adds one. The
 * counts are atomic, so references may be taken and dropped on any thread:
 * one message is shared by every receiver and every store that keeps it.
 *
 * Wire form (cw_msg_encode / cw_msg_decode), big-endian:
 *   u8   format version (1)
 *   u16  origin node id
 *   10   HLC timestamp (cw_hlc binary form)
 *   ...  clock in the binary vector-clock form of vclock.h (zeros omitted)
 *   u32  key length, then the key bytes
 *   u32  value length, then the value bytes
 * A worked example and the decoder's checks: docs/formats.md,
 * "Replicated-write message".
 */
#ifndef CAUSEWAY_MSG_H
#define CAUSEWAY_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <causeway/export.h>
#include <causeway/hlc.h>
#include <causeway/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_msg cw_msg;

#define CW_MSG_FORMAT_VERSION 1u

/* Makes a message with one reference (the caller's). clock has `nodes`
 * counters; clock[origin] is the write's sequence number at its origin and
 * must be >= 1. key and value are copied; either may be empty (len 0, pointer
 * may then be NULL). CW_EINVAL on a bad argument (ts->wall_ms above
 * CW_HLC_MAX_WALL among them: the codec carries 48 bits), CW_ENOMEM. */
CW_API int cw_msg_create(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts,
                         const uint64_t *clock, uint32_t nodes, const void *key, size_t key_len,
                         const void *value, size_t value_len);
/* Adds a reference; returns m. */
CW_API cw_msg *cw_msg_ref(cw_msg *m);
/* Drops a reference; the last one frees the message. NULL is ignored. */
CW_API void cw_msg_unref(cw_msg *m);

/* Accessors. Pointers stay valid while the caller holds a reference. */
CW_API cw_node_id cw_msg_origin(const cw_msg *m);
CW_API uint64_t cw_msg_seq(const cw_msg *m);               /* clock[origin] */
CW_API cw_hlc_timestamp cw_msg_timestamp(const cw_msg *m);
CW_API const uint64_t *cw_msg_counters(const cw_msg *m, uint32_t *nodes_out);
CW_API int cw_msg_clock(const cw_msg *m, cw_vclock *out);  /* sparse copy */
CW_API const void *cw_msg_key(const cw_msg *m, size_t *len_out);
CW_API const void *cw_msg_value(const cw_msg *m, size_t *len_out);

/* Bytes cw_msg_encode writes. */
CW_API size_t cw_msg_encoded_size(const cw_msg *m);
/* Encodes into buf[0..cap); *len_out: bytes written, or needed on CW_ENOSPC. */
CW_API int cw_msg_encode(const cw_msg *m, uint8_t *buf, size_t cap, size_t *len_out);

/* What a receiver accepts. */
typedef struct cw_msg_limits {
    uint32_t nodes;          /* ids (origin and clock) must be below this */
    size_t max_key_len;      /* CW_ELIMIT above */
    size_t max_value_len;    /* CW_ELIMIT above */
} cw_msg_limits;

/* Decodes one message from the front of buf[0..len) into a new message with
 * one reference. *consumed (nullable) gets the bytes read. Errors, with *out
 * untouched: CW_ETRUNC (shorter than it declares), CW_EBADMSG (unknown format
 * version, an id not below limits->nodes, or a clock whose origin entry is 0),
 * CW_ELIMIT (more clock entries than 65,536, key or value above the limits),
 * CW_ENOMEM. Never reads outside buf[0..len). */
CW_API int cw_msg_decode(cw_msg **out, const uint8_t *buf, size_t len,
                         const cw_msg_limits *limits, size_t *consumed);

#ifdef __cplusplus
}
#endif
#endif
