/* An outside program using the installed libcauseway-client against a node
 * process: put, get (bytes back exactly), status.
 *   client_consumer ENDPOINT */
#include <stdio.h>
#include <string.h>

#include <causeway/causeway.h>
#include <causeway/client.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    cw_client *c;
    if (cw_client_open(&c, argv[1], 5000) != CW_OK)
        return 1;
    int rc = cw_client_put(c, "k", 1, "v\0w", 3, NULL, NULL);
    cw_read r;
    cw_read_init(&r);
    if (rc == CW_OK)
        rc = cw_client_get(c, "k", 1, &r);
    int ok = rc == CW_OK && r.count == 1 && r.versions[0].value_len == 3 && memcmp(r.versions[0].value, "v\0w", 3) == 0;
    cw_client_status st;
    cw_client_status_init(&st);
    ok = ok && cw_client_get_status(c, &st) == CW_OK && st.writes == 1;
    printf("%s\n", ok ? "client ok" : cw_strerror(rc));
    cw_client_status_destroy(&st);
    cw_read_destroy(&r);
    cw_client_close(c);
    return ok ? 0 : 1;
}
