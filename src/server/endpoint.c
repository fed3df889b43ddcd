/* See endpoint.h. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include <causeway/error.h>

bool cw__endpoint_in_use(const char *endpoint)
{
    if (!endpoint || strncmp(endpoint, "ipc://", 6) != 0)
        return false;
    const char *path = endpoint + 6;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof a.sun_path)
        return false; /* ZeroMQ refuses it */
    memcpy(a.sun_path, path, len);
    socklen_t alen = (socklen_t)sizeof a;
    if (path[0] == '@') { /* abstract: a leading NUL, the name's own length */
        a.sun_path[0] = '\0';
        alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool taken = connect(fd, (const struct sockaddr *)&a, alen) == 0;
    close(fd);
    return taken;
}

bool cw__endpoint_ipv6(const char *endpoint)
{
    return endpoint && (strncmp(endpoint, "tcp://[", 7) == 0 || strncmp(endpoint, "tcp://*:", 8) == 0);
}

/* Whether ZeroMQ binds this host itself: the wildcard, an IPv4 address, an
 * IPv6 one in brackets, or a network interface's name. */
static bool binds_as_given(const char *host)
{
    unsigned char a[sizeof(struct in6_addr)];
    return strcmp(host, "*") == 0 || host[0] == '[' || inet_pton(AF_INET, host, a) == 1 ||
           (strlen(host) < IF_NAMESIZE && if_nametoindex(host) != 0);
}

const struct addrinfo *cw__endpoint_bind_pick(const struct addrinfo *res)
{
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            return ai;
    return res;
}

int cw__endpoint_to_bind(const char *endpoint, char *out, char *err, size_t errlen)
{
    size_t len = endpoint ? strlen(endpoint) : 0;
    if (!endpoint || !out || len >= CW__ENDPOINT_MAX) {
        snprintf(err, errlen, "an endpoint is at most %u characters", CW__ENDPOINT_MAX - 1);
        return CW_EINVAL;
    }
    memcpy(out, endpoint, len + 1);
    const char *colon = strrchr(endpoint, ':');
    if (strncmp(endpoint, "tcp://", 6) != 0 || !colon || colon < endpoint + 6)
        return CW_OK;
    char host[CW__ENDPOINT_MAX];
    size_t hl = (size_t)(colon - (endpoint + 6));
    memcpy(host, endpoint + 6, hl);
    host[hl] = '\0';
    if (hl == 0 || binds_as_given(host))
        return CW_OK;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(err, errlen, "host %s: %s", host, gai ? gai_strerror(gai) : "no address");
        return CW_EINVAL;
    }
    const struct addrinfo *pick = cw__endpoint_bind_pick(res);
    /* The address as text, a link-local one with its scope (fe80::1%eth0). */
    char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 1] = "";
    bool v6 = pick->ai_family == AF_INET6;
    bool named = (v6 || pick->ai_family == AF_INET) &&
                 getnameinfo(pick->ai_addr, pick->ai_addrlen, text, sizeof text, NULL, 0, NI_NUMERICHOST) == 0;
    freeaddrinfo(res);
    if (!named) {
        snprintf(err, errlen, "host %s: no IPv4 or IPv6 address", host);
        return CW_EINVAL;
    }
    int made = snprintf(out, CW__ENDPOINT_MAX, v6 ? "tcp://[%s]%s" : "tcp://%s%s", text, colon);
    if (made < 0 || (size_t)made >= CW__ENDPOINT_MAX) {
        memcpy(out, endpoint, len + 1);
        snprintf(err, errlen, "host %s: its address and port pass %u characters", host, CW__ENDPOINT_MAX - 1);
        return CW_EINVAL;
    }
    return CW_OK;
}

void cw__endpoint_bound(void *sock, const char *given, char *out)
{
    size_t len = CW__ENDPOINT_MAX;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &len) != 0)
        snprintf(out, CW__ENDPOINT_MAX, "%s", given);
}
