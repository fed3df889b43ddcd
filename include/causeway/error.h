/* Error codes shared by every Causeway module.
 *
 * Functions that can fail return int: 0 (CW_OK) on success, a negative CW_E*
 * code on failure. A failed call leaves its outputs and objects unchanged
 * (one exception: on CW_ENOSPC, a len_out parameter reports the size needed). */
#ifndef CAUSEWAY_ERROR_H
#define CAUSEWAY_ERROR_H

#include <causeway/export.h>
#include <causeway/version.h> /* cw_version: the contract's "Errors and version" block */

#ifdef __cplusplus
extern "C" {
#endif

/* One list makes both the codes and their sentences (cw_strerror). */
#define CW_ERROR_MAP(XX)                                                              \
    XX(OK,          0, "success")                                                      \
    XX(EINVAL,     -1, "invalid argument (NULL, id out of range, or bad option)")      \
    XX(ENOMEM,     -2, "memory allocation failed")                                     \
    XX(EPARSE,     -3, "malformed text input")                                         \
    XX(ETRUNC,     -4, "binary input is shorter than it declares")                     \
    XX(ENOSPC,     -5, "output buffer too small; the needed size was reported")        \
    XX(EOVERFLOW,  -6, "a counter would pass 2^64-1")                                  \
    XX(ELIMIT,     -7, "more than 65,536 entries, or another configured limit, exceeded") \
    XX(ENOTFOUND,  -8, "key not present")                                              \
    XX(ETIMEDOUT,  -9, "a wait ran out of time")                                       \
    XX(ECLOSED,   -10, "shutting down: the engine or node is closing")                  \
    XX(EDRIFT,    -11, "a timestamp is further ahead of the wall clock than the allowed drift") \
    XX(EFULL,     -12, "full: a bounded buffer or queue has no room (backpressure); retry once it drains") \
    XX(EBADMSG,   -13, "malformed binary message")                                   \
    XX(ESTALLED,  -14, "stalled: some node has not applied or acknowledged this node's writes (cut off or held back), so no room came") \
    XX(EAHEAD,    -15, "the context covers writes this node has not applied yet: wait for them first") \
    XX(EJOINING,  -16, "joining: this node does not accept writes until its peers have told it its own last sequence number") \
    XX(EIO,       -17, "a network or operating-system call failed")                     \
    XX(EUNSAVED,  -18, "made but not saved: the write is in memory and takes effect if a later save succeeds, or is gone if the node stops first (its outcome is unknown)") \
    XX(EBEHIND,   -19, "this node's state is older than its peers' record of it (restored from an earlier copy, started --fresh after it ran, or a second process with its id): it takes no writes; start it on an empty state without --fresh to join") \
    XX(ESIBLINGS, -20, "the write would leave its key with more than max_siblings versions (its context covers too few): read the key again and write with that read's context (versions written meanwhile need a fresh read)")

enum {
#define CW_ERROR_ENUM_(name, code, text) CW_##name = (code),
    CW_ERROR_MAP(CW_ERROR_ENUM_)
#undef CW_ERROR_ENUM_
};

/* A sentence describing err. Never NULL; unknown codes get a generic sentence.
 * The string is static: do not free it. Any thread. */
CW_API const char *cw_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
