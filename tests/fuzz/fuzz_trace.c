/* Fuzz target: a trace as `causeway check` judges it (JSON Lines,
 * docs/traces.md). Any bytes are read and judged to a verdict, or refused
 * with a reason, never a crash, a hang or a leak: read, nodes, split,
 * history, table, replay, verdict, each step only after the last one
 * succeeded, as check_cmd.c's judge runs them. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <causeway/causeway.h>

#include "trace_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal is one of the codes cli_trace_read and cli_trace_nodes name,
 * with its reason. */
static void expect_refusal(int rc, const char *err)
{
    if (rc != CW_EINVAL && rc != CW_ENOMEM && rc != CW_ELIMIT && rc != CW_EIO)
        abort();
    if (rc != CW_ENOMEM && !err[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("trace", 0);
    if (fd < 0)
        return 0;
    size_t at = 0;
    while (at < size) {
        ssize_t n = write(fd, data + at, size - at);
        if (n <= 0)
            break;
        at += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    static cli_trace_judge J; /* large: one at a time */
    memset(&J, 0, sizeof J);
    cli_trace_init(&J, 0);
    J.lww = size > 0 && data[0] & 1; /* both read rules */
    char err[512] = "";
    int rc = cli_trace_read(&J, path, -1, -1, false, err, sizeof err);
    if (rc == CW_OK)
        rc = cli_trace_nodes(&J, err, sizeof err);
    if (rc != CW_OK) {
        expect_refusal(rc, err);
    } else {
        rc = cli_trace_split(&J);
        if (rc == CW_OK)
            rc = cli_trace_history(&J);
        if (rc == CW_OK)
            rc = cli_trace_table(&J, true);
        if (rc == CW_OK) {
            cli_trace_replay(&J);
            cw_history_report rep;
            cw_history_verdict(J.h, &rep);
        } else if (rc != CW_ENOMEM && rc != CW_ELIMIT) {
            abort();
        }
    }
    cli_trace_free(&J);
    close(fd);
    return 0;
}
