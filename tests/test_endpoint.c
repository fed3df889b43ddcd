/* What a node checks about a ZeroMQ endpoint before it binds it
 * (src/server/endpoint.c): the address a host name binds to, endpoints
 * ZeroMQ binds as given, an ipc:// endpoint another process serves, and
 * which endpoints need IPv6. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "testutil.h"

#include "endpoint.h"

static void expect_bound_as_given(const char *endpoint)
{
    char out[CW__ENDPOINT_MAX], err[160] = "";
    if (cw__endpoint_to_bind(endpoint, out, err, sizeof err) != CW_OK)
        fail_msg("%s: refused: %s", endpoint, err);
    assert_string_equal(out, endpoint);
}

static void test_a_host_name_binds_to_its_address(void **state)
{
    (void)state;
    char out[CW__ENDPOINT_MAX], err[160] = "";
    assert_int_equal(cw__endpoint_to_bind("tcp://localhost:*", out, err, sizeof err), CW_OK);
    assert_string_equal(out, "tcp://127.0.0.1:*"); /* IPv4 first, as a peer's name connects */

    /* ZeroMQ takes the resolved endpoint and not the name. */
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_ROUTER);
    assert_non_null(sock);
    assert_int_not_equal(zmq_bind(sock, "tcp://localhost:*"), 0);
    assert_int_equal(zmq_bind(sock, out), 0);
    char last[CW__ENDPOINT_MAX];
    size_t len = sizeof last;
    assert_int_equal(zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &len), 0);
    assert_true(strncmp(last, "tcp://127.0.0.1:", 16) == 0);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

static void test_addresses_interfaces_and_other_transports_bind_as_given(void **state)
{
    (void)state;
    expect_bound_as_given("tcp://127.0.0.1:7001");
    expect_bound_as_given("tcp://*:7001");
    expect_bound_as_given("tcp://[::1]:7001");
    expect_bound_as_given("tcp://lo:7001"); /* a network interface's name */
    expect_bound_as_given("ipc:///tmp/causeway-node-0");
    expect_bound_as_given("ipc://@causeway-node-0");
    expect_bound_as_given("inproc://x");
}

static void test_a_name_that_does_not_resolve_is_refused_with_the_name(void **state)
{
    (void)state;
    char out[CW__ENDPOINT_MAX], err[160] = "";
    assert_int_equal(cw__endpoint_to_bind("tcp://no-such-host.invalid:7001", out, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "no-such-host.invalid"));

    char longest[CW__ENDPOINT_MAX + 8];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memcpy(longest, "tcp://", 6);
    memcpy(longest + sizeof longest - 6, ":7001", 5);
    assert_int_equal(cw__endpoint_to_bind(longest, out, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "at most"));

    /* An endpoint that its address in brackets makes too long is refused,
     * not cut. */
    char port[CW__ENDPOINT_MAX];
    int n = snprintf(port, sizeof port, "tcp://::1:");
    memset(port + n, '9', CW__ENDPOINT_MAX - 2 - (size_t)n);
    port[CW__ENDPOINT_MAX - 2] = '\0';
    assert_int_equal(cw__endpoint_to_bind(port, out, err, sizeof err), CW_EINVAL);
    assert_non_null(strstr(err, "pass"));
}

static void test_a_link_local_address_keeps_its_scope(void **state)
{
    (void)state;
    char out[CW__ENDPOINT_MAX], err[160] = "";
    assert_int_equal(cw__endpoint_to_bind("tcp://fe80::1%lo:7001", out, err, sizeof err), CW_OK);
    assert_string_equal(out, "tcp://[fe80::1%lo]:7001");
    assert_int_equal(cw__endpoint_to_bind("tcp://::1:7001", out, err, sizeof err), CW_OK);
    assert_string_equal(out, "tcp://[::1]:7001");
}

static void test_an_ipc_endpoint_served_by_another_process_is_in_use(void **state)
{
    (void)state;
    char path[64], endpoint[80];
    snprintf(path, sizeof path, "/tmp/cw-test-endpoint-%ld", (long)getpid());
    snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
    unlink(path);
    assert_false(cw__endpoint_in_use(endpoint));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_true(cw__endpoint_in_use(endpoint));
    close(fd); /* the file stays, nobody serves it */
    assert_false(cw__endpoint_in_use(endpoint));
    unlink(path);
    assert_false(cw__endpoint_in_use("tcp://127.0.0.1:7001")); /* a taken tcp:// bind fails by itself */
}

static void test_ipv6_is_on_for_bracketed_addresses_and_the_wildcard(void **state)
{
    (void)state;
    assert_true(cw__endpoint_ipv6("tcp://[::1]:7001"));
    assert_true(cw__endpoint_ipv6("tcp://*:7001"));
    assert_false(cw__endpoint_ipv6("tcp://127.0.0.1:7001"));
    assert_false(cw__endpoint_ipv6("tcp://localhost:7001"));
    assert_false(cw__endpoint_ipv6("ipc:///tmp/x"));
    assert_false(cw__endpoint_ipv6(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_host_name_binds_to_its_address),
        cmocka_unit_test(test_addresses_interfaces_and_other_transports_bind_as_given),
        cmocka_unit_test(test_a_name_that_does_not_resolve_is_refused_with_the_name),
        cmocka_unit_test(test_a_link_local_address_keeps_its_scope),
        cmocka_unit_test(test_an_ipc_endpoint_served_by_another_process_is_in_use),
        cmocka_unit_test(test_ipv6_is_on_for_bracketed_addresses_and_the_wildcard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
