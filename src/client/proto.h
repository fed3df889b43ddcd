/* The client protocol's bytes (docs/formats.md, "Client protocol"): one
 * request per ZeroMQ frame from client to node, one answer per frame back.
 * Shared by the client library (client.c) and the node's client endpoint
 * (src/server/clients.c), so both ends read and write one definition.
 *
 * Integers are big-endian, as in the message codec. Clocks are the clock
 * library's binary form (vclock.h). Every decoder checks each length
 * against what is left before it reads, and never allocates more than the
 * frame's size justifies.
 */
#ifndef CW_PROTO_H
#define CW_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <causeway/client.h>
#include <causeway/node.h>
#include <causeway/vclock.h>

#define CW__PROTO_VERSION 1u

enum { CW__OP_PUT = 1, CW__OP_DELETE = 2, CW__OP_GET = 3, CW__OP_STATUS = 4, CW__OP_BATCH = 5 };

/* A batch request carries at most this many writes. */
#define CW__BATCH_MAX 4096u

/* A growing output buffer. */
typedef struct cw__out {
    uint8_t *b;
    size_t len, cap;
    bool failed;               /* out of memory: every later put is a no-op */
} cw__out;

void cw__out_u8(cw__out *o, uint8_t v);
void cw__out_u16(cw__out *o, uint16_t v);
void cw__out_u32(cw__out *o, uint32_t v);
void cw__out_u64(cw__out *o, uint64_t v);
void cw__out_bytes(cw__out *o, const void *p, size_t n);
/* u32 length, then the bytes. */
void cw__out_blob(cw__out *o, const void *p, size_t n);
void cw__out_clock(cw__out *o, const cw_vclock *c);
/* Makes room for n more bytes without writing them, so the puts that
 * follow, up to n bytes, cannot fail; false (o unchanged) if memory ran
 * out. */
bool cw__out_reserve(cw__out *o, size_t n);
/* The most bytes cw__out_clock writes for a clock of a group of `nodes`
 * (cw_vclock_encoded_size of a clock with every entry set). */
size_t cw__clock_room(uint32_t nodes);
/* The bytes of an answer's head. */
#define CW__ANSWER_HEAD 14u

/* A reader over one frame. */
typedef struct cw__in {
    const uint8_t *b;
    size_t len, pos;
} cw__in;

bool cw__in_u8(cw__in *in, uint8_t *v);
bool cw__in_u16(cw__in *in, uint16_t *v);
bool cw__in_u32(cw__in *in, uint32_t *v);
bool cw__in_u64(cw__in *in, uint64_t *v);
/* A u32 length and that many bytes, pointed to inside the frame. */
bool cw__in_blob(cw__in *in, const uint8_t **p, size_t *n);
/* A clock into out (initialized): CW_OK, CW_EBADMSG (it does not decode;
 * out unchanged), CW_ENOMEM (out unchanged). */
int cw__in_clock(cw__in *in, cw_vclock *out);

/* A request: [version u8][op u8][id u64][key blob][value blob]
 * [has_context u8][context clock, if has_context]. */
typedef struct cw__request {
    uint8_t op;
    uint64_t id;
    const uint8_t *key, *value;   /* inside the frame */
    size_t key_len, value_len;
    bool has_context;
    cw_vclock context;            /* initialized by decode; destroy it */
} cw__request;

int  cw__request_encode(cw__out *o, uint8_t op, uint64_t id, const void *key, size_t key_len, const void *value,
                        size_t value_len, const cw_vclock *context);
/* CW_OK; CW_EBADMSG (unknown version or op, lengths past the frame, bytes
 * left over, a delete with a value); CW_ENOMEM. r->context is initialized in every case. */
int  cw__request_decode(cw__request *r, const uint8_t *b, size_t len);
void cw__request_destroy(cw__request *r);

/* A batch of writes (op 5): [version u8][op u8 = 5][id u64][count u32], then
 * count writes, each [op u8: 1 put or 2 delete][key blob][value blob]
 * [has_context u8][context clock, if has_context]; nothing after them.
 * The answer: the head, then (status 0) [count u32] and each write's
 * [status i32 as u32][clock, if its status is 0]. */
void cw__batch_begin(cw__out *o, uint64_t id);
/* Appends one write; the count is set by cw__batch_end. */
void cw__batch_add(cw__out *o, bool tombstone, const void *key, size_t key_len, const void *value,
                   size_t value_len, const cw_vclock *context);
/* Writes the count at its place. CW_OK or CW_ENOMEM (the buffer failed). */
int  cw__batch_end(cw__out *o, uint32_t count);
/* After cw__request_decode gave op CW__OP_BATCH: the batch's count (1 ..
 * CW__BATCH_MAX, and at most a write for every 10 bytes after the head:
 * the smallest write's size) and a reader at its first write. CW_EBADMSG
 * otherwise. */
int  cw__batch_open(const uint8_t *b, size_t len, uint32_t *count, cw__in *in);
/* The next write of a batch into r (its context initialized; destroy r).
 * CW_OK, CW_EBADMSG, or CW_ENOMEM (its context could not be held). */
int  cw__batch_next(cw__in *in, cw__request *r);

/* An answer: [version u8][op u8][id u64][status i32 as u32], then by op
 * when status is CW_OK (reads: also CW_ENOTFOUND):
 *   put, delete: the write's clock;
 *   get: [count u32] count x ([origin u32][seq u64][wall_ms u64][counter u16]
 *        [value blob][clock][context]), then the read's context;
 *   status: [node u32][nodes u32][joining u8][writes, delivered, buffered,
 *        keys, retransmitted, recovered: u64 each][clock][stable]. */
void cw__answer_head(cw__out *o, uint8_t op, uint64_t id, int status);
void cw__answer_read(cw__out *o, const cw_read *r);
void cw__answer_status(cw__out *o, const cw_client_status *s);
/* A code this library knows (error.h): any other status in an answer makes
 * it a malformed answer, not an error to hand the caller. */
bool cw__code_known(int32_t status);
/* Reads the head; CW_EBADMSG if it is not one, or its status is not a code
 * error.h knows. */
int  cw__answer_take_head(cw__in *in, uint8_t *op, uint64_t *id, int *status);
/* The rest of a get's answer into out (replaced on CW_OK only). */
int  cw__answer_take_read(cw__in *in, cw_read *out);
int  cw__answer_take_status(cw__in *in, cw_client_status *out);

#endif
