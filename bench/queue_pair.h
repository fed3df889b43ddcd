/* C functions the C++ harness calls for the queue measurements. */
#ifndef CW_BENCH_QUEUE_PAIR_H
#define CW_BENCH_QUEUE_PAIR_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/* which: 0 raw ck_ring SPSC, 1 the engine's queue. Seconds taken. */
double cwb_queue_throughput(int which, uint64_t messages, uint32_t capacity);
double cwb_queue_round_trips(int which, uint64_t rounds);
#ifdef __cplusplus
}
#endif
#endif
