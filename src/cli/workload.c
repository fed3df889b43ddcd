/* Key distributions for causeway stress (see workload.h).
 *
 * The zipfian generator is YCSB's ZipfianGenerator, which follows Gray et
 * al., "Quickly generating billion-record synthetic databases" (SIGMOD '94):
 * zeta(n, theta) is summed once, then each draw is one pow().
 *
 * Invariants:
 *  1. Every draw is below n, whatever the rounding of pow() (clamped).
 *  2. A draw uses only its 64 random bits: the same stream gives the same keys.
 */
#include <math.h>

#include "workload.h"

void cli_keys_uniform(cli_keys *k, uint64_t n)
{
    *k = (cli_keys){.n = n};
}

static double zeta(uint64_t n, double theta)
{
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

void cli_keys_zipfian(cli_keys *k, uint64_t n, double theta)
{
    double zetan = zeta(n, theta), zeta2 = zeta(2, theta);
    *k = (cli_keys){.n = n, .zipfian = true, .theta = theta, .alpha = 1.0 / (1.0 - theta), .zetan = zetan,
                    .half_pow_theta = pow(0.5, theta)};
    /* With n <= 2 every draw is decided before eta is used (and it would
     * divide by zero). */
    if (n > 2)
        k->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / zetan);
}

uint64_t cli_keys_next(const cli_keys *k, uint64_t random)
{
    if (!k->zipfian) /* the top 53 bits, as the uniform draw always was */
        return (random >> 11) % k->n;
    double u = (double)(random >> 11) * 0x1p-53, uz = u * k->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < 1.0 + k->half_pow_theta)
        return k->n > 1 ? 1 : 0;
    uint64_t i = (uint64_t)((double)k->n * pow(k->eta * u - k->eta + 1.0, k->alpha));
    return i < k->n ? i : k->n - 1;
}
