/* Lamport clock (Lamport 1978). A local event or send ticks t = t + 1; a
 * receive of stamp r sets t = max(t, r) + 1 (rule IR2: the receive is itself an
 * event), which satisfies the clock condition. Not thread-safe: one per process
 * or thread, or guard it. */
#ifndef CAUSEWAY_LAMPORT_H
#define CAUSEWAY_LAMPORT_H

#include <stdint.h>
#include <causeway/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cw_lamport { uint64_t time; } cw_lamport;

CW_API void cw_lamport_init(cw_lamport *l);  /* time = 0 */
/* t = t + 1; *stamp_out (nullable) = t. CW_EOVERFLOW at 2^64-1, changing nothing. */
CW_API int  cw_lamport_tick(cw_lamport *l, uint64_t *stamp_out);
/* t = max(t, remote) + 1; *stamp_out (nullable) = t. CW_EOVERFLOW, changing nothing. */
CW_API int  cw_lamport_receive(cw_lamport *l, uint64_t remote, uint64_t *stamp_out);

#ifdef __cplusplus
}
#endif
#endif
