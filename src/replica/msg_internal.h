/* The message layout, shared inside the library so the replica's hot path
 * reads fields inline instead of through calls. Users see only msg.h. */
#ifndef CW_MSG_INTERNAL_H
#define CW_MSG_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <causeway/msg.h>

/* Flags (wire and memory). */
#define CW__MSG_RETRANSMITTED 0x01u /* a write sent again in answer to a pull */
#define CW__MSG_WANTS_REPORTS 0x02u /* a report whose sender still waits for
                                       stability: peers keep reporting to it */
#define CW__MSG_TOMBSTONE     0x04u /* a write that deletes: no value, hidden by reads */
#define CW__MSG_CONTEXT       0x08u /* a write with a context of its own (context[]) */
#define CW__MSG_FLAGS (CW__MSG_RETRANSMITTED | CW__MSG_WANTS_REPORTS | CW__MSG_TOMBSTONE | CW__MSG_CONTEXT)

/* dest of a message every other node receives (writes, reports). */
#define CW__MSG_ALL UINT32_MAX

/* A write's first copy, made by a put: what a host counts as a delivery
 * owed. Pulls, reports and retransmitted copies are recovery traffic,
 * best effort and repeated by the replicas. */
#define cw__msg_counted(m) ((m)->kind == CW_MSG_WRITE && !((m)->flags & CW__MSG_RETRANSMITTED))

/* A write's first copy or a report: its origin sent it with its clock, so
 * once taken it shows which of the origin's earlier writes are missing (a
 * host that saw one of them lost tells the replica then:
 * cw__node_link_lost). A pull says nothing of them, and a retransmitted copy
 * need not come from its origin. */
#define cw__msg_vouches(m) (cw__msg_counted(m) || (m)->kind == CW_MSG_REPORT)

/* A pull or a retransmitted copy: traffic that keeps no order with writes
 * or reports, so a host may carry it ahead of them (the in-process
 * transport's recovery lane, the engine's fast list). */
#define cw__msg_unordered(m) ((m)->kind == CW_MSG_PULL || ((m)->flags & CW__MSG_RETRANSMITTED))

/* One malloc (16-byte aligned; the clock kernels load unaligned): 64-byte
 * aligned_alloc took glibc's memalign path, which split and coalesced a
 * chunk per message and cost twice the allocator's instructions a write
 * (docs/performance.md, "Messages from plain malloc"). Everything an arrival
 * reads (origin, kind, width, seq, timestamp, lengths) sits in the first 56
 * bytes. The key and value follow the counters. A pull keeps its request in
 * counters[0..2] (origin, from, to); its `nodes` is still the group size. */
struct cw_msg {
    _Atomic uint32_t refs;
    cw_node_id origin;         /* a write's origin; a pull's or report's sender */
    uint8_t kind;              /* cw_msg_kind */
    uint8_t flags;             /* CW__MSG_* */
    uint32_t nodes;
    uint32_t dest;             /* the one node it is for, or CW__MSG_ALL; not on
                                  the wire (a network transport addresses links) */
    uint64_t seq;              /* counters[origin] (writes) */
    cw_hlc_timestamp ts;
    size_t key_len, value_len;
    uint64_t key_hash;         /* cw__hash_key of the key (writes), made once with
                                  the message for every store that looks it up; not
                                  on the wire (the seed is this process's) */
    uint64_t counters[];       /* nodes counters, then key bytes, then value bytes */
};

/* A pull from `sender` to `dest` for origin's writes from..to (1 <= from <=
 * to). CW_OK, CW_EINVAL, CW_ENOMEM. */
int cw__msg_pull(cw_msg **out, uint32_t nodes, cw_node_id sender, uint32_t dest, cw_node_id origin,
                 uint64_t from, uint64_t to);
/* A report of sender's applied clock (nodes counters) to every node;
 * flags: CW__MSG_WANTS_REPORTS or 0. */
int cw__msg_report(cw_msg **out, uint32_t nodes, cw_node_id sender, const uint64_t *applied, uint8_t flags);
/* A copy of write m for `dest`, marked retransmitted. */
int cw__msg_retransmission(cw_msg **out, const cw_msg *m, uint32_t dest);
/* A write as cw_msg_create makes it, with a context of its own (nodes
 * counters; NULL: none, the write replaces what its clock covers) and
 * marked a tombstone (its value then empty) when `tombstone`. */
int cw__msg_write(cw_msg **out, cw_node_id origin, const cw_hlc_timestamp *ts, const uint64_t *clock,
                  uint32_t nodes, const uint64_t *context, bool tombstone, const void *key, size_t key_len,
                  const void *value, size_t value_len);

/* A write's own context (nodes counters), or NULL: it has none, and its
 * context is its clock without its own dot. */
static inline const uint64_t *cw__msg_context(const cw_msg *m)
{
    return (m->flags & CW__MSG_CONTEXT) ? m->counters + m->nodes : NULL;
}

/* Whether a write's context covers the version (origin, seq): its own
 * context's entry, or its clock's (its clock covers its own earlier writes,
 * never its own dot). */
static inline bool cw__msg_covers(const cw_msg *m, cw_node_id origin, uint64_t seq)
{
    const uint64_t *c = cw__msg_context(m);
    return c ? c[origin] >= seq : (origin == m->origin ? m->seq > seq : m->counters[origin] >= seq);
}

/* The counters a write holds: its clock, then its own context if it has one. */
static inline size_t cw__msg_write_slots(const cw_msg *m)
{
    return (size_t)m->nodes * ((m->flags & CW__MSG_CONTEXT) ? 2u : 1u);
}

static inline uint8_t *cw__msg_key_ptr(const cw_msg *m)
{
    return (uint8_t *)(uintptr_t)(m->counters + cw__msg_write_slots(m));
}

static inline uint8_t *cw__msg_value_ptr(const cw_msg *m)
{
    return cw__msg_key_ptr(m) + m->key_len;
}

/* A write's value hash, once cw__msg_value_hash made it (0 before): in the
 * allocation's last 8 bytes, 8-aligned after the value (alloc_msg). Not
 * part of what the message says, so not on the wire and not copied: a
 * cache of a function of its bytes, which never change. */
static inline _Atomic uint64_t *cw__msg_value_hash_slot(const cw_msg *m)
{
    uintptr_t end = (uintptr_t)(cw__msg_value_ptr(m) + m->value_len);
    return (_Atomic uint64_t *)((end + 7u) & ~(uintptr_t)7u);
}

/* The hash of write m's value (never 0), made once a message, however many
 * threads ask: for checkers that compare each copy of a write with what
 * its origin made (verify.h) without hashing the value at every node. */
uint64_t cw__msg_value_hash(const cw_msg *m);

/* cw_msg_ref and cw_msg_unref, inline for the library's own hot paths (the
 * exported functions call these). */
static inline cw_msg *cw__msg_ref(cw_msg *m)
{
    /* Relaxed: taking a reference needs no ordering; the holder already
     * has a valid pointer through an existing reference. */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

static inline void cw__msg_unref(cw_msg *m)
{
    /* acq_rel: the release half orders this holder's uses of the message
     * before its decrement; the acquire half lets the last holder's free come
     * after every other holder's decrement, hence after all their uses.
     * (A release decrement plus an acquire fence on the last one is
     * equivalent, but ThreadSanitizer does not model standalone fences.) */
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

/* The bytes a write holds in memory: its header, clock (and context), key
 * and value. What the causal buffer's byte budget counts. */
static inline size_t cw__msg_bytes(const cw_msg *m)
{
    size_t clocks = (m->flags & CW__MSG_CONTEXT) ? 2u : 1u;
    return sizeof(cw_msg) + clocks * (size_t)m->nodes * sizeof(uint64_t) + m->key_len + m->value_len;
}

/* Starts loading the lines a delivery of m will read: its first three
 * lines, which hold the header, the counters and, up to 9 nodes, the key
 * the store looks up. Fixed offsets, not the key's address: that would read
 * m->nodes, the very miss this hides. (A prefetch past a shorter message
 * is a harmless hint.) */
static inline void cw__msg_prefetch(const cw_msg *m)
{
    __builtin_prefetch(m);
    __builtin_prefetch((const char *)m + 64);
    __builtin_prefetch((const char *)m + 128);
}

#endif
