/* The least work any dense merge or compare must do, for the clock benchmarks. */
#ifndef CW_BENCH_READ_FLOOR_H
#define CW_BENCH_READ_FLOOR_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Loads every counter of a[0..n) and b[0..n) once, with the vector width of
 * the library's active kernels (cw_isa_active), and returns the OR of them
 * all, so no load can be removed. No comparison, no store. */
uint64_t cwb_read_both(const uint64_t *a, const uint64_t *b, size_t n);
#ifdef __cplusplus
}
#endif
#endif
