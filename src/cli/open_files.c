/* The open-files limit of a command that uses ZeroMQ (a node, a stress run
 * of node processes). libzmq aborts the process when it cannot make a
 * descriptor it needs, so such a command checks its need first. */
#include <errno.h>
#include <sys/resource.h>

#include "cli.h"

int cli_open_files(uint64_t need, uint64_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    *hard = (uint64_t)rl.rlim_max;
    if (rl.rlim_max < need) /* RLIM_INFINITY is the largest rlim_t */
        return 1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -2;
    }
    return 0;
}
