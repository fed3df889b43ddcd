/* Which keys causeway stress writes: uniformly, or zipfian (a few keys take
 * most writes, as in YCSB's workloads). */
#ifndef CW_CLI_WORKLOAD_H
#define CW_CLI_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

/* Zipfian: key i (from 0) is chosen with probability proportional to
 * 1 / (i + 1)^theta; key 0 is the most popular. */
typedef struct cli_keys {
    uint64_t n;              /* keys, >= 1 */
    bool zipfian;
    double theta, alpha, zetan, eta, half_pow_theta;
} cli_keys;

/* The largest key count cli_keys_zipfian takes: its set-up sums n terms. */
#define CLI_ZIPFIAN_MAX_KEYS 100000000u

void cli_keys_uniform(cli_keys *k, uint64_t n);
/* 0 < theta < 1, 1 <= n <= CLI_ZIPFIAN_MAX_KEYS. Cost: O(n) once (about a
 * second at the limit); each draw is O(1). */
void cli_keys_zipfian(cli_keys *k, uint64_t n, double theta);
/* A key index below k->n from 64 random bits (the top 53 are used).
 * Thread-safe (k is read only). */
uint64_t cli_keys_next(const cli_keys *k, uint64_t random);

#endif
