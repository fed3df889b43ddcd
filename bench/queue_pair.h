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
/* P producers into one consumer: design 0 one shared MPSC ck_ring, design 1
 * one SPSC ck_ring per producer. Seconds, or -1 if stopped after 10 s. */
double cwb_fanin_seconds(int design, int producers, uint64_t per_producer);
#ifdef __cplusplus
}
#endif
#endif
