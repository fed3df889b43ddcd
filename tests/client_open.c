/* Opens one libcauseway-client handle to argv[1] and closes it: exit 0 if
 * it opened, 1 with the reason if not. For tests/cli/thread_limit.sh, which
 * runs it at thread limits where ZeroMQ's threads cannot start (libzmq
 * aborts the process then, unless cw_client_open refuses first). */
#include <stdio.h>

#include <causeway/client.h>
#include <causeway/error.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: client_open ENDPOINT\n");
        return 2;
    }
    cw_client *c = NULL;
    int rc = cw_client_open(&c, argv[1], 100);
    if (rc != CW_OK) {
        fprintf(stderr, "cw_client_open: %s\n", cw_strerror(rc)); /* unbuffered: said before any exit hook */
        return 1;
    }
    cw_client_close(c);
    fprintf(stderr, "opened\n");
    return 0;
}
