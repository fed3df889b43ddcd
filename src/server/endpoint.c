/* See endpoint.h. */
#include "endpoint.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
