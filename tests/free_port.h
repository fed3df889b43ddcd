/* TCP ports on 127.0.0.1 that were free a moment ago, for tests that need
 * a tcp:// endpoint (an address to check) and must name it in advance.
 * Another process can take such a port before the test binds it (an
 * outgoing connection's local port, a test running beside it): a test
 * that binds one retries on "Address already in use" (tu_in_use). */
#ifndef CW_TEST_FREE_PORT_H
#define CW_TEST_FREE_PORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* n distinct ports: every probe socket stays bound until all are drawn, so
 * the kernel cannot hand the same port out twice. */
static inline void tu_free_ports(unsigned n, unsigned *ports)
{
    int fds[16];
    assert_true(n <= 16);
    for (unsigned i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        assert_int_equal(bind(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(getsockname(fds[i], (struct sockaddr *)&sa, &len), 0);
        ports[i] = ntohs(sa.sin_port);
    }
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
}

static inline unsigned tu_free_port(void)
{
    unsigned port;
    tu_free_ports(1, &port);
    return port;
}

/* Whether a failed bind's message says the port was taken meanwhile. */
static inline int tu_in_use(const char *err)
{
    return strstr(err, "Address already in use") != NULL;
}

/* How many times a test draws new ports after tu_in_use. */
#define TU_PORT_TRIES 5

#endif
