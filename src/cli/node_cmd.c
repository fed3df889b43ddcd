/* causeway node: one replica as a process. Replication with its peers over
 * ZeroMQ (src/server/server.c), the key-value HTTP API (src/server/http.c).
 * Prints one line when it serves (the endpoints, the HTTP port it bound),
 * runs until SIGTERM or SIGINT, then stops cleanly and exits 0. Bad
 * arguments exit 2 with the reason; an endpoint that cannot be bound exits 1.
 */
#define _DEFAULT_SOURCE 1 /* explicit_bzero */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "clients.h"
#include "endpoint.h"
#include "http.h"
#include "opts.h"
#include "server.h"

/* Open files a node needs: its own (stdio, the trace, LMDB's two files,
 * ZeroMQ's threads and their wake-up descriptors: 64 covers them; measured,
 * 23 and 1 a peer before any peer is up), three a peer (its DEALER's
 * wake-up descriptor and connection, and the peer's connection into the
 * ROUTER), two an HTTP thread (libmicrohttpd's epoll and wake-up
 * descriptors), HTTP's connection limit, and as many again for clients. */
#define NODE_OWN_FILES 64u
#define FILES_PER_PEER 3u
#define FILES_PER_HTTP_THREAD 2u

/* ZeroMQ aborts the process when it cannot make a descriptor it needs (a
 * socket's, a reconnection's, an accepted ipc connection's), so a node
 * starts only where the hard limit leaves room for what it needs, and then
 * takes all the room there is: the soft limit goes up to the hard one.
 * Client connections are not bounded (the endpoint is for trusted
 * clients); the room beyond the need is what a burst of them uses. */
static int ensure_open_files(uint32_t nodes, bool http, uint32_t http_threads, bool client)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    uint64_t need = NODE_OWN_FILES + (uint64_t)FILES_PER_PEER * (nodes - 1) +
                    (http ? ho.max_connections + (uint64_t)FILES_PER_HTTP_THREAD * http_threads : 0) +
                    (client ? ho.max_connections : 0), hard = 0;
    int got = cli_open_files(need, &hard);
    if (got < 0) {
        if (got == -1)
            fprintf(stderr, "causeway node: open files limit: %s\n", strerror(errno));
        else
            fprintf(stderr, "causeway node: raising the open files limit to %llu: %s\n", (unsigned long long)hard,
                    strerror(errno));
        return CLI_FAIL;
    }
    if (got > 0) {
        char why[160];
        int len = snprintf(why, sizeof why, "%u of its own", NODE_OWN_FILES);
        if (nodes > 1)
            len += snprintf(why + len, sizeof why - (size_t)len, ", %u a peer", FILES_PER_PEER);
        if (http)
            len += snprintf(why + len, sizeof why - (size_t)len, ", %u an HTTP thread and %u HTTP connections",
                            FILES_PER_HTTP_THREAD, ho.max_connections);
        if (client)
            (void)snprintf(why + len, sizeof why - (size_t)len, ", %u client connections", ho.max_connections);
        fprintf(stderr,
                "causeway node: a node of %u may need %llu open files (%s); this process may open at most %llu "
                "(ulimit -Hn)\n",
                nodes, (unsigned long long)need, why, (unsigned long long)hard);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* --allow, --client-allow or --http-allow RANGES (text; NULL: not given) for
 * the endpoint it guards (NULL: HTTP), into *out. An ipc:// endpoint has no
 * addresses to check: its file's permissions say who may connect. */
static int take_allow(const char *option, const char *text, const char *endpoint, cw__allow *out)
{
    char why[160];
    if (!text)
        return CLI_OK;
    if (endpoint && strncmp(endpoint, "tcp://", 6) != 0) {
        fprintf(stderr, "causeway node: %s checks the addresses of TCP connections; '%.80s' is not tcp:// (the "
                        "file of an ipc:// endpoint has permissions for that)\n", option, endpoint);
        return CLI_USAGE;
    }
    if (cw__allow_parse(out, text, why, sizeof why) != CW_OK) {
        fprintf(stderr, "causeway node: %s: %s\n", option, why);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* --peer J=ENDPOINT, repeated: taken out of argv before the option table
 * parses the rest (the table holds one value per option). */
static int take_peers(int *argc, char **argv, const char **peers, uint32_t cap, uint32_t *given)
{
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--peer") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "causeway node: --peer: expected J=ENDPOINT\n");
                return CLI_USAGE;
            }
            val = argv[++i];
        } else if (strncmp(a, "--peer=", 7) == 0) {
            val = a + 7;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        char *end;
        unsigned long j = strtoul(val, &end, 10);
        if (end == val || *end != '=' || val[0] < '0' || val[0] > '9' || j >= cap || !end[1]) {
            fprintf(stderr, "causeway node: --peer '%.80s': expected J=ENDPOINT with J below %u\n", val, cap);
            return CLI_USAGE;
        }
        if (peers[j]) {
            fprintf(stderr, "causeway node: --peer: node %lu given twice\n", j);
            return CLI_USAGE;
        }
        peers[j] = end + 1;
        (*given)++;
    }
    *argc = out;
    return CLI_OK;
}

/* Whether a tcp:// endpoint asks for port 0 (any free port): the line a
 * node prints then names the port the system chose. */
static bool port_zero(const char *endpoint)
{
    size_t n = strlen(endpoint);
    return strncmp(endpoint, "tcp://", 6) == 0 && n > 8 &&
           (strcmp(endpoint + n - 2, ":0") == 0 || strcmp(endpoint + n - 2, ":*") == 0);
}

/* What is wrong with a ZeroMQ endpoint given as an option, or NULL:
 * TRANSPORT://ADDRESS, and a tcp:// one's HOST:PORT with its port, when a
 * number, a port (ZeroMQ takes tcp://host:99999 and binds some other
 * port). Other transports (ipc, ws, ...) and names that do not resolve are
 * left to ZeroMQ (exit 1 at start). bound: this node binds it, and port 0
 * or * picks a free one; a peer's must name the port it is bound to. */
_Static_assert(CW__ENDPOINT_MAX == 272u, "endpoint_problem names the longest endpoint");

static const char *endpoint_problem(const char *endpoint, bool bound)
{
    if (!endpoint)
        return NULL;
    const char *sep = strstr(endpoint, "://");
    if (!sep || sep == endpoint || !sep[3])
        return "expected TRANSPORT://ADDRESS, e.g. tcp://HOST:PORT or ipc://PATH";
    if (strlen(endpoint) >= CW__ENDPOINT_MAX)
        return "an endpoint is at most 271 characters"; /* as the server says: CW__ENDPOINT_MAX - 1 */
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return NULL;
    const char *colon = strrchr(endpoint + 6, ':');
    if (!colon || colon == endpoint + 6 || !colon[1])
        return "expected tcp://HOST:PORT";
    bool any = strcmp(colon + 1, "*") == 0; /* a free port, as port 0 */
    if (!any && (strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5 ||
                 strtoul(colon + 1, NULL, 10) > 65535))
        return bound ? "the port must be 0 to 65535 (or *)" : "the port must be 1 to 65535";
    if (colon[1] == '0' && colon[2]) /* ZeroMQ refuses :00 (EINVAL): one form for every port */
        return "a port is written without leading zeros";
    if (!bound && (any || strtoul(colon + 1, NULL, 10) == 0))
        return "a peer's port must be a real one: 1 to 65535 (* and 0 are for an endpoint bound here)";
    return NULL;
}

/* The trace, opened to append. A FIFO must have its reader already: the
 * open does not wait for one (ENXIO), as a blocking open would, before the
 * node serves and with SIGTERM blocked. Writes block again once open (a
 * slow reader holds the node back; nothing is dropped). */
static FILE *open_trace(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
    if (fd < 0)
        return NULL;
    int flags = fcntl(fd, F_GETFL);
    FILE *f = NULL;
    if (flags != -1 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0)
        f = fdopen(fd, "a");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

/* HOST:PORT (the last colon splits; [v6]:port too). */
static int split_host_port(const char *text, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1])
        return CLI_USAGE;
    size_t hl = (size_t)(colon - text);
    bool opened = text[0] == '[', closed = hl >= 2 && text[hl - 1] == ']';
    if (opened != closed || (opened && hl == 2))
        return CLI_USAGE; /* [::1:80, ::1]:80, []:80 */
    if (opened) {
        text++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return CLI_USAGE;
    memcpy(host, text, hl);
    host[hl] = 0;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || p > 65535 || colon[1] < '0' || colon[1] > '9')
        return CLI_USAGE;
    *port = (uint16_t)p;
    return CLI_OK;
}

/* Key files are a line or a line a node: anything larger is not one (an
 * endless device such as /dev/zero is refused, not read forever), and no
 * line of one is longer than KEY_LINE_MAX (a longer line is refused whole,
 * never read as two). */
#define KEY_FILE_MAX (1u << 20)
#define KEY_LINE_MAX 255

/* A stop asked before the node serves: set by the handler start_up_stops
 * installs, read on the main thread once SIGTERM and SIGINT are blocked. */
static volatile sig_atomic_t stop_asked;

/* The text of key file `path` (option opt), NUL-terminated; NULL with the
 * reason printed and *rc set: CLI_FAIL when it cannot be read, CLI_USAGE
 * when it is not a text file of at most KEY_FILE_MAX bytes. */
static char *read_key_file(const char *opt, const char *path, size_t *len, int *rc)
{
    FILE *f = fopen(path, "r");
    char *text = f ? cli_read_all(f, KEY_FILE_MAX, len) : NULL;
    int err = errno;
    if (f)
        fclose(f);
    if (!text) {
        *rc = err == EFBIG ? CLI_USAGE : CLI_FAIL;
        if (!(err == EINTR && stop_asked)) /* a stop the user asked for: said once, as that */
            fprintf(stderr, "causeway node: %s %s: %s\n", opt, path,
                    err == EFBIG ? "larger than 1 MiB: not a key file" : strerror(err));
        return NULL;
    }
    if (memchr(text, '\0', *len)) {
        explicit_bzero(text, *len);
        free(text);
        *rc = CLI_USAGE;
        fprintf(stderr, "causeway node: %s %s: holds a NUL byte: not a key file\n", opt, path);
        return NULL;
    }
    return text;
}

/* The next line of *text (moved past it) that is not blank or a '#'
 * comment, trimmed and NUL-terminated in place, and its number in *lineno;
 * NULL at the end, or with *too_long at a line over KEY_LINE_MAX. */
static char *next_line(char **text, unsigned *lineno, bool *too_long)
{
    while (**text) {
        char *line = *text, *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        *text = line + n + (nl != NULL);
        ++*lineno;
        if (n && line[n - 1] == '\r') /* a CRLF line is as long as its LF twin */
            n--;
        if (n > KEY_LINE_MAX) {
            *too_long = true;
            return NULL;
        }
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        line[n] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line && *line != '#')
            return line;
    }
    return NULL;
}

static bool z85_key(const char *k)
{
    uint8_t bin[32];
    return strlen(k) == 40 && zmq_z85_decode(bin, k) != NULL;
}

/* --curve-secret FILE: one line, this node's secret key in Z85; its public
 * key into pub. */
static int read_secret(const char *path, char out[41], char pub[41])
{
    size_t len = 0;
    int rc = CLI_OK;
    char *text = read_key_file("--curve-secret", path, &len, &rc);
    if (!text)
        return rc;
    char *at = text, *line;
    unsigned lineno = 0;
    bool too_long = false;
    bool ok = (line = next_line(&at, &lineno, &too_long)) != NULL && z85_key(line) &&
              zmq_curve_public(pub, line) == 0;
    if (ok)
        memcpy(out, line, 41);
    explicit_bzero(text, len);
    free(text);
    if (!ok) {
        fprintf(stderr, "causeway node: --curve-secret %s: expected a line with a secret key (40 characters of Z85)\n",
                path);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* --curve-peers FILE: lines "J KEY", node J's public key in Z85, for every
 * peer (a line for this node itself may be there, with its own public key
 * `own`: one file can serve every node). keys[j] points into store (nodes x
 * 41 bytes). A node listed twice, a key given to two nodes, or this node's
 * own key given to a peer is refused: the handshake would admit the wrong
 * node under an id, and its messages would be refused for good. */
static int read_peer_keys(const char *path, uint32_t nodes, uint32_t self, const char own[41], char *store,
                          const char **keys)
{
    size_t len = 0;
    int rc = CLI_OK;
    char *text = read_key_file("--curve-peers", path, &len, &rc);
    if (!text)
        return rc;
    unsigned *line_of = calloc(nodes, sizeof *line_of); /* where node j's key is, 0: not yet */
    if (!line_of) {
        free(text);
        fprintf(stderr, "causeway node: out of memory\n");
        return CLI_FAIL;
    }
    char *at = text, *line;
    unsigned lineno = 0;
    bool too_long = false;
    while (rc == CLI_OK && (line = next_line(&at, &lineno, &too_long)) != NULL) {
        char *end;
        unsigned long j = strtoul(line, &end, 10);
        bool apart = *end == ' ' || *end == '\t'; /* "J KEY": a key glued to J is not J's */
        while (*end == ' ' || *end == '\t')
            end++;
        rc = CLI_USAGE;
        if (end == line || line[0] < '0' || line[0] > '9' || !apart || j >= nodes || !z85_key(end))
            fprintf(stderr, "causeway node: --curve-peers %s: line %u: expected 'J KEY' with J below %u and a public "
                            "key of 40 characters of Z85\n", path, lineno, nodes);
        else if (line_of[j])
            fprintf(stderr, "causeway node: --curve-peers %s: line %u: node %lu is listed already, on line %u\n",
                    path, lineno, j, line_of[j]);
        else if (j == self && strcmp(end, own) != 0)
            fprintf(stderr, "causeway node: --curve-peers %s: line %u: node %lu is this node, and this is not the "
                            "public key of its --curve-secret\n", path, lineno, j);
        else if (j != self && strcmp(end, own) == 0)
            fprintf(stderr, "causeway node: --curve-peers %s: line %u: node %lu is given this node's own public key\n",
                    path, lineno, j);
        else
            rc = CLI_OK;
        for (uint32_t k = 0; rc == CLI_OK && k < nodes; k++)
            if (keys[k] && strcmp(keys[k], end) == 0) {
                fprintf(stderr, "causeway node: --curve-peers %s: line %u: node %lu is given the key of node %u (line "
                                "%u): each node needs its own\n", path, lineno, j, k, line_of[k]);
                rc = CLI_USAGE;
            }
        if (rc == CLI_OK) {
            line_of[j] = lineno;
            if (j != self) {
                memcpy(store + j * 41, end, 41);
                keys[j] = store + j * 41;
            }
        }
    }
    if (too_long) {
        fprintf(stderr, "causeway node: --curve-peers %s: line %u is longer than %u characters\n", path, lineno,
                KEY_LINE_MAX);
        rc = CLI_USAGE;
    }
    free(text);
    free(line_of);
    for (uint32_t j = 0; rc == CLI_OK && j < nodes; j++)
        if (j != self && !keys[j]) {
            fprintf(stderr, "causeway node: --curve-peers %s: no key for node %u\n", path, j);
            rc = CLI_USAGE;
        }
    return rc;
}

int cli_keygen(int argc, char **argv)
{
    cli_command cmd = {.path = "keygen",
                       .operands = "SECRET_FILE",
                       .summary = "Makes a CURVE key pair for `causeway node --curve-secret`: writes the secret\n"
                                  "key to SECRET_FILE (a new file, readable by its owner only) and prints the\n"
                                  "public key, for the other nodes' --curve-peers files.",
                       .min_operands = 1,
                       .max_operands = 1};
    int first = 0;
    int rc = cli_parse(&cmd, argc, argv, &first);
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    char pub[41], sec[41];
    if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "causeway keygen: this libzmq cannot make CURVE keys\n");
        return CLI_FAIL;
    }
    const char *path = argv[first];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "causeway keygen: %s: %s\n", path, strerror(errno));
        return CLI_FAIL;
    }
    char text[64];
    int n = snprintf(text, sizeof text, "%s\n", sec);
    errno = 0;
    bool ok = write(fd, text, (size_t)n) == n;
    int err = ok ? 0 : errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) { /* a file this call made, not a key: it goes, so that keygen can be run again */
        unlink(path);
        fprintf(stderr, "causeway keygen: %s: %s\n", path, err ? strerror(err) : "written in part");
        return CLI_FAIL;
    }
    printf("%s\n", pub);
    return CLI_OK;
}

/* start_up_stops' handler: async-signal-safe, it only notes the signal. */
static void note_stop(int sig) { stop_asked = sig; }

/* Until the node serves, SIGTERM and SIGINT are noted by a handler instead of
 * ending the process with their default action (exit 143 or 130, where
 * --help promises 0), and interrupt what start-up blocks on (a key file that
 * is a pipe whose writer waits on a person: Ctrl-C still stops it). No
 * SA_RESTART: an open or read they interrupt fails with EINTR. */
static void start_up_stops(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* A node told to stop before it served: it says so, and exits 0 as a node
 * stopped after serving does (it holds nothing to save: nothing has been
 * started). */
static int stopped_before_serving(void)
{
    fprintf(stderr, "causeway node: stopped by %s before it served\n", stop_asked == SIGINT ? "SIGINT" : "SIGTERM");
    return CLI_OK;
}

int cli_node(int argc, char **argv)
{
    start_up_stops();
    uint32_t id = 0, nodes = 0, hwm = 10000, heartbeat = 0, link_timeout = 30000, delay_us = 0, ahead_wait = 1000,
             http_threads = 2, http_per_address = 128, recovery_ms = 10, report_ms = 50;
    uint64_t max_log = 0, max_siblings = CW_NODE_DEFAULT_MAX_SIBLINGS, max_body = CW_HTTP_DEFAULT_MAX_BODY, seed = 1;
    const char *listen = NULL, *http = NULL, *client = NULL, *trace = NULL, *curve_secret = NULL,
               *curve_peers = NULL, *data = NULL, *allow_text = NULL, *client_allow_text = NULL,
               *http_allow_text = NULL, *group = NULL;
    int policy = 0, sync_mode = -1; /* -1: not given (full) */
    uint64_t map_size = 0;
    double drop = 0, delay = 0, dup = 0;
    bool fresh = false;
    cli_opt opts[] = {
        {CLI_OPT_UINT32("id", &id, "I", "this node's id, below --nodes", 0, CW_SERVER_MAX_NODES - 1),
         .required = true},
        {CLI_OPT_UINT32("nodes", &nodes, "N", "replicas in the group", 1, CW_SERVER_MAX_NODES), .required = true},
        {CLI_OPT_TEXT("listen", &listen, "ENDPOINT", "ZeroMQ endpoint to bind for replication, e.g. tcp://127.0.0.1:7001"),
         .required = true},
        {CLI_OPT_TEXT("http", &http, "HOST:PORT", "serve the HTTP API there (port 0: any free port, printed)")},
        {CLI_OPT_TEXT("client", &client, "ENDPOINT",
                      "serve libcauseway-client (causeway/client.h) on this ZeroMQ endpoint")},
        {CLI_OPT_TEXT("curve-secret", &curve_secret, "FILE",
                      "encrypt and authenticate links with CURVE: this node's secret key (causeway keygen)")},
        {CLI_OPT_TEXT("curve-peers", &curve_peers, "FILE",
                      "with --curve-secret: lines 'J KEY', every peer's public key; no other key is admitted")},
        {CLI_OPT_TEXT("allow", &allow_text, "RANGES",
                      "take replication connections (and HTTP POST /replicate, /admin/link) only from these\n"
                      "addresses: comma-separated CIDR ranges (10.0.0.0/8,192.168.1.7); others are refused")},
        {CLI_OPT_TEXT("client-allow", &client_allow_text, "RANGES",
                      "with --client: take client connections only from these addresses (as --allow)")},
        {CLI_OPT_TEXT("http-allow", &http_allow_text, "RANGES",
                      "with --http: take HTTP connections only from these addresses (as --allow); others\n"
                      "are closed as they are accepted")},
        {CLI_OPT_TEXT("trace", &trace, "FILE",
                      "append this node's trace (JSON Lines: writes, applies, reads) to FILE (a FIFO\n"
                      "must have its reader running)")},
        {CLI_OPT_CHOICE("policy", &policy, "P", "how concurrent writes to a key resolve", "siblings|lww")},
        {CLI_OPT_TEXT("group", &group, "NAME",
                      "the group's name (1-64 letters, digits, '.', '_', '-'), the same at every node: links\n"
                      "take only peers that give it, and a --data DIR keeps it (another group's is refused)")},
        {CLI_OPT_TEXT("data", &data, "DIR",
                      "keep the replica's state (clock, store, log) in LMDB there: a write is answered\n"
                      "once saved, and a restart on DIR comes back with every write it answered")},
        {CLI_OPT_CHOICE("sync", &sync_mode, "MODE",
                        "with --data: full (a save is on disk before the answer; survives a machine crash)\n"
                        "or none (left to the kernel: survives a killed process, not a machine crash)",
                        "full|none")},
        {CLI_OPT_UINT("map-size", &map_size, "BYTES", "with --data: the LMDB map's size, its largest state",
                      (uint64_t)1 << 20, (uint64_t)1 << 40),
         .default_text = "4294967296 (4 GiB)"},
        {CLI_OPT_UINT32("hwm", &hwm, "MSGS", "high-water mark of each link: beyond it a peer's messages wait in the log", 1,
                        10000000)},
        {CLI_OPT_UINT32("heartbeat-ms", &heartbeat, "MS",
                        "ZeroMQ heartbeat interval (a peer silent 3x this is gone); 0: off. On with libzmq 4.3.4, a "
                        "heartbeat that times out on a full link can abort the node",
                        0, 600000),
         .default_text = "0 (off)"},
        {CLI_OPT_UINT32("link-timeout-ms", &link_timeout, "MS",
                        "TCP links: data unacknowledged this long (a peer cut off, gone, or stopped with full\n"
                        "buffers) closes the connection and ZeroMQ makes it anew, so a cut link is back within\n"
                        "about this long of healing; 0: off, else at least 1000",
                        0, 600000)},
        {CLI_OPT_UINT("max-log", &max_log, "WRITES",
                      "own writes not yet applied everywhere before writes get 503", 1, (uint64_t)1 << 32),
         .default_text = "1048576"},
        {CLI_OPT_UINT("max-siblings", &max_siblings, "N",
                      "versions (siblings, tombstones) a write with a context may leave its key with (409\n"
                      "above): a client writing with a context that covers too few of them, not a read's", 1,
                      (uint64_t)1 << 32)},
        {CLI_OPT_UINT("max-body", &max_body, "BYTES", "largest HTTP request body (413 above)", 64,
                      (uint64_t)1 << 30)},
        {CLI_OPT_UINT32("ahead-wait-ms", &ahead_wait, "MS",
                        "a write whose context is ahead of this node waits this long for it (then 409);\n"
                        "at most --http-threads - 1 such writes wait at once (the others: 409 at once)", 0, 60000)},
        {CLI_OPT_UINT32("recovery-timeout-ms", &recovery_ms, "MS",
                        "a write missing this long is pulled from a peer (loss recovery)", 1, 600000)},
        {CLI_OPT_UINT32("report-interval-ms", &report_ms, "MS",
                        "a node silent this long tells its peers what it applied (stability)", 1, 600000)},
        {CLI_OPT_UINT32("http-threads", &http_threads, "N", "threads serving HTTP requests", 1, 64)},
        {CLI_OPT_UINT32("http-per-address", &http_per_address, "N",
                        "HTTP connections open at once from one address, of the 256 (one more is closed\n"
                        "as it is accepted); 0: no limit of its own", 0, 256)},
        {CLI_OPT_REAL("drop", &drop, "P", "fault: lose each arriving message with probability P", 0, 0.9)},
        {CLI_OPT_REAL("delay", &delay, "P", "fault: delay each arriving message with probability P", 0, 1)},
        {CLI_OPT_UINT32("max-delay-us", &delay_us, "US", "fault: the longest delay (needed by --delay)", 0,
                        10000000),
         .default_text = "0 (no delay: give it with --delay)"},
        {CLI_OPT_REAL("dup", &dup, "P", "fault: deliver each arriving message twice with probability P", 0, 1)},
        {CLI_OPT_UINT("seed", &seed, "S", "seed of the faults", 0, UINT64_MAX)},
        {CLI_OPT_FLAG("fresh", &fresh,
                      "this node has never run: accept writes at once (without it the node asks its\n"
                      "peers for its own last sequence number and its state first)")},
    };
    cli_command cmd = {
        .path = "node",
        .summary = "One replica as a process: replication with its peers over ZeroMQ, the key-value\n"
                   "HTTP API (POST /write, GET /read/KEY, POST /delete, GET /status, GET /metrics).",
        .details = "peers:\n"
                   "  --peer J=ENDPOINT      node J's replication endpoint (its --listen); required once\n"
                   "                         for every other node J below --nodes\n"
                   "\n"
                   "The node prints one line when it serves, runs until SIGTERM or SIGINT, then\n"
                   "exits 0. Without --fresh it answers writes with 503 until every peer has told\n"
                   "it its state (so a restarted process never reuses one of its sequence numbers).\n"
                   "With --data it takes its saved state back instead, and answers writes with 503\n"
                   "until every peer has said it holds no later write of this node (a peer that\n"
                   "does not answer: 1 s, or four report intervals if longer), so it never serves\n"
                   "from a state older than its last.\n"
                   "\n"
                   "Exit status: 0 stopped by SIGTERM or SIGINT (before it served too: it then\n"
                   "starts nothing and says so); 1 it could not start or stop cleanly (an\n"
                   "endpoint that cannot be bound, a key file that cannot be read, a\n"
                   "trace that cannot be written, a --data DIR that cannot be created, read or\n"
                   "saved to, too few open files); 2 bad arguments, or a --data DIR that cannot be\n"
                   "taken back (another node's, damaged, or in use).\n",
        .opts = opts,
        .count = sizeof opts / sizeof opts[0]};
    const char **peers = calloc(CW_SERVER_MAX_NODES, sizeof *peers);
    if (!peers) {
        fprintf(stderr, "causeway node: out of memory\n");
        return CLI_FAIL;
    }
    uint32_t given = 0;
    int rc = take_peers(&argc, argv, peers, CW_SERVER_MAX_NODES, &given);
    if (rc == CLI_OK)
        rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc == CLI_HELP) {
        free(peers);
        return CLI_OK;
    }
    if (rc != CLI_OK) {
        free(peers);
        return rc;
    }
    char host[256] = "";
    uint16_t port = 0;
    if (id >= nodes) {
        fprintf(stderr, "causeway node: --id %u: must be below --nodes %u\n", id, nodes);
        rc = CLI_USAGE;
    } else if (http && split_host_port(http, host, sizeof host, &port) != CLI_OK) {
        fprintf(stderr, "causeway node: --http '%.80s': expected HOST:PORT\n", http);
        rc = CLI_USAGE;
    } else if (group && !cw__server_group_ok(group)) {
        fprintf(stderr, "causeway node: --group '%.80s': expected 1 to %u letters, digits, '.', '_' or '-'\n", group,
                CW_SERVER_GROUP_MAX);
        rc = CLI_USAGE;
    } else if (!data && (sync_mode >= 0 || map_size)) {
        fprintf(stderr, "causeway node: --sync and --map-size go with --data\n");
        rc = CLI_USAGE;
    } else if (link_timeout > 0 && link_timeout < 1000) {
        /* Below a second it would give up on connections whose round trip
         * or TCP's 200 ms retransmission floor is longer. */
        fprintf(stderr, "causeway node: --link-timeout-ms '%u': expected 0 (off) or a whole number from 1000 to "
                        "600000\n", link_timeout);
        rc = CLI_USAGE;
    } else if (delay > 0 && delay_us == 0) { /* a delay of 0 us delays nothing */
        fprintf(stderr, "causeway node: --delay %g: --max-delay-us, the longest delay, must be above 0 (%s)\n", delay,
                cli_seen(&cmd, "max-delay-us") ? "it was given 0" : "give it");
        rc = CLI_USAGE;
    } else if (delay == 0 && cli_seen(&cmd, "max-delay-us")) {
        fprintf(stderr, "causeway node: --max-delay-us: applies to --delay only\n");
        rc = CLI_USAGE;
    } else if (endpoint_problem(listen, true)) {
        fprintf(stderr, "causeway node: --listen '%.80s': %s\n", listen, endpoint_problem(listen, true));
        rc = CLI_USAGE;
    } else if (endpoint_problem(client, true)) {
        fprintf(stderr, "causeway node: --client '%.80s': %s\n", client, endpoint_problem(client, true));
        rc = CLI_USAGE;
    } else {
        for (uint32_t j = 0; j < CW_SERVER_MAX_NODES && rc == CLI_OK; j++) {
            if (j < nodes && j != id && !peers[j]) {
                fprintf(stderr, "causeway node: no --peer for node %u (every node but --id needs one)\n", j);
                rc = CLI_USAGE;
            } else if (peers[j] && (j >= nodes || j == id)) {
                fprintf(stderr, "causeway node: --peer %u: not a peer of node %u in a group of %u\n", j, id, nodes);
                rc = CLI_USAGE;
            } else if (peers[j] && endpoint_problem(peers[j], false)) {
                fprintf(stderr, "causeway node: --peer %u='%.80s': %s\n", j, peers[j],
                        endpoint_problem(peers[j], false));
                rc = CLI_USAGE;
            } else if (peers[j] && strcmp(peers[j], listen) == 0) {
                /* Spelled the same: this node would send node j's messages to itself. */
                fprintf(stderr, "causeway node: --peer %u='%.80s' is this node's own --listen\n", j, peers[j]);
                rc = CLI_USAGE;
            }
            for (uint32_t k = 0; peers[j] && k < j && rc == CLI_OK; k++)
                if (peers[k] && strcmp(peers[k], peers[j]) == 0) {
                    fprintf(stderr, "causeway node: --peer %u and --peer %u are both '%.80s'\n", k, j, peers[j]);
                    rc = CLI_USAGE;
                }
        }
    }
    cw__allow allow, client_allow, http_allow;
    if (rc == CLI_OK)
        rc = take_allow("--allow", allow_text, listen, &allow);
    if (rc == CLI_OK && client_allow_text && !client) {
        fprintf(stderr, "causeway node: --client-allow goes with --client\n");
        rc = CLI_USAGE;
    }
    if (rc == CLI_OK)
        rc = take_allow("--client-allow", client_allow_text, client, &client_allow);
    if (rc == CLI_OK && http_allow_text && !http) {
        fprintf(stderr, "causeway node: --http-allow goes with --http\n");
        rc = CLI_USAGE;
    }
    if (rc == CLI_OK)
        rc = take_allow("--http-allow", http_allow_text, NULL, &http_allow);
    char secret[41] = "", *peer_key_store = NULL;
    const char **peer_keys = NULL;
    if (rc == CLI_OK && (curve_secret != NULL) != (curve_peers != NULL)) {
        fprintf(stderr, "causeway node: --curve-secret and --curve-peers go together\n");
        rc = CLI_USAGE;
    }
    if (rc == CLI_OK && curve_secret) {
        peer_key_store = calloc(nodes, 41);
        peer_keys = calloc(nodes, sizeof *peer_keys);
        if (!peer_key_store || !peer_keys) {
            fprintf(stderr, "causeway node: out of memory\n");
            rc = CLI_FAIL;
        }
        char own[41];
        if (rc == CLI_OK)
            rc = read_secret(curve_secret, secret, own);
        if (rc == CLI_OK)
            rc = read_peer_keys(curve_peers, nodes, id, own, peer_key_store, peer_keys);
    }
    if (rc == CLI_OK)
        rc = ensure_open_files(nodes, http != NULL, http_threads, client != NULL);
    /* Signals are taken by sigwait below, on this thread only: blocked
     * before any thread starts, so every thread inherits the mask. One that
     * came before is in stop_asked (start_up_stops), and then this node
     * does not start: bad arguments still exit 2, anything else (a key
     * file's read the signal interrupted, EINTR, among them) is the stop
     * the user asked for. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    /* Their default action back: a signal that comes now stays pending for
     * sigwait, and no thread that unblocked them would swallow one. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (rc != CLI_OK || stop_asked) {
        explicit_bzero(secret, sizeof secret);
        free(peers);
        free(peer_key_store);
        free(peer_keys);
        return stop_asked && rc != CLI_USAGE ? stopped_before_serving() : rc;
    }
    signal(SIGPIPE, SIG_IGN);
    /* A write past the file size limit (ulimit -f) fails with EFBIG, which
     * the --data and --trace paths report as the failed save or trace line
     * it is, instead of ending the node unannounced (exit 153). */
    signal(SIGXFSZ, SIG_IGN);

    FILE *trace_file = NULL;
    if (trace && !(trace_file = open_trace(trace))) {
        struct stat st;
        bool fifo = errno == ENXIO && stat(trace, &st) == 0 && S_ISFIFO(st.st_mode); /* ENXIO: devices too */
        fprintf(stderr, "causeway node: --trace %s: %s\n", trace,
                fifo ? "a FIFO that no process reads (start its reader first)" : strerror(errno));
        explicit_bzero(secret, sizeof secret);
        free(peers);
        free(peer_key_store);
        free(peer_keys);
        return CLI_FAIL;
    }
    /* Whole lines reach the file as they are written: a node killed loses
     * none of what it did (the trace is for checking, not for speed). */
    if (trace_file)
        setvbuf(trace_file, NULL, _IOLBF, 0);
    cw__server_options so;
    cw__server_options_init(&so);
    so.trace = trace_file;
    if (curve_secret) {
        so.curve_secret = secret;
        so.curve_peers = peer_keys;
    }
    so.self = id;
    so.nodes = nodes;
    so.listen = listen;
    so.peers = peers;
    so.policy = policy == 1 ? CW_LAST_WRITER_WINS : CW_KEEP_SIBLINGS;
    so.group = group;
    so.hwm = hwm;
    so.heartbeat_ms = heartbeat;
    so.link_timeout_ms = link_timeout;
    so.max_log = (size_t)max_log;
    so.allow = allow_text ? &allow : NULL;
    so.max_siblings = (size_t)max_siblings;
    so.ahead_wait_ms = ahead_wait;
    so.ahead_waiters_max = http_threads - 1; /* an HTTP thread always serves others */
    so.recovery_timeout_ns = (uint64_t)recovery_ms * 1000000u;
    so.report_interval_ns = (uint64_t)report_ms * 1000000u;
    so.fresh = fresh;
    so.data_dir = data;
    so.sync_none = sync_mode == 1;
    so.map_size = (size_t)map_size;
    so.fault_seed = seed;
    so.drop_probability = drop;
    so.delay_probability = delay;
    so.max_delay_us = delay_us;
    so.duplicate_probability = dup;
    char err[PATH_MAX + 512] = ""; /* a reason may name the --data directory */
    cw__server *s = NULL;
    rc = cw__server_start(&s, &so, err, sizeof err);
    /* The secret is in the sockets now (or was refused): not a moment
     * longer in this process's memory than that. */
    explicit_bzero(secret, sizeof secret);
    free(peers);
    free(peer_key_store);
    free(peer_keys);
    if (rc != CW_OK) {
        if (trace_file)
            fclose(trace_file);
        fprintf(stderr, "causeway node: %s\n", err[0] ? err : cw_strerror(rc));
        return rc == CW_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    cw__clients *cl = NULL;
    if (client) {
        rc = cw__clients_start(&cl, s, client, CW__CLIENTS_MAX_FRAME, client_allow_text ? &client_allow : NULL, err,
                               sizeof err);
        if (rc != CW_OK) {
            fprintf(stderr, "causeway node: --client %s: %s\n", client, err[0] ? err : cw_strerror(rc));
            cw__server_stop(s);
            if (trace_file)
                fclose(trace_file);
            return CLI_FAIL;
        }
    }
    cw__http *h = NULL;
    if (http) {
        cw__http_options ho;
        cw__http_options_init(&ho);
        ho.max_body = (size_t)max_body;
        ho.threads = http_threads;
        ho.max_per_address = http_per_address;
        ho.group = group;
        ho.no_replicate = curve_secret != NULL; /* its links are authenticated: HTTP must not bypass them */
        ho.clients = cl;
        ho.replicate_allow = allow_text ? &allow : NULL;
        ho.allow = http_allow_text ? &http_allow : NULL;
        rc = cw__http_start(&h, s, host, port, &ho, err, sizeof err);
        if (rc != CW_OK) {
            fprintf(stderr, "causeway node: --http %s: %s\n", http, err[0] ? err : cw_strerror(rc));
            cw__clients_stop(cl);
            cw__server_stop(s);
            if (trace_file)
                fclose(trace_file);
            return CLI_FAIL;
        }
    }
    printf("causeway node %u of %u: replication %s", id, nodes, port_zero(listen) ? cw__server_bound(s) : listen);
    if (h)
        printf(strchr(host, ':') ? ", http [%s]:%u" : ", http %s:%u", host, (unsigned)cw__http_port(h));
    if (cl)
        printf(", client %s", port_zero(client) ? cw__clients_bound(cl) : client);
    if (group)
        printf(", group %s", group); /* checked: name bytes only */
    printf("\n");
    /* The line is for whoever started the node (cluster reads its ports
     * from it); a node that cannot write it (a full disk, a closed pipe)
     * still serves, and says so now, with the reason. Its exit is then
     * judged by what it served: standard output goes to /dev/null (what is
     * left in its buffer with it), so that main's check of the output at
     * the end does not fail a clean stop. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "causeway node: the start-up line could not be written: %s; serving anyway\n",
                strerror(errno ? errno : EIO));
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC); /* the stream stays open (freopen may close it) */
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            close(null);
        }
        clearerr(stdout);
    }

    int sig = 0;
    sigwait(&stop, &sig);
    cw__server_close(s); /* requests waiting for an ahead context end now */
    cw__http_stop(h);
    cw__clients_stop(cl);
    bool saved = cw__server_stop(s) == CW_OK; /* its stderr says why not */
    /* The trace is line-buffered: a line that could not be written failed
     * as it was written (a full disk, /dev/full, a closed pipe), and fclose
     * has nothing left to report. The stream's error flag keeps it. */
    bool trace_lost = trace_file && ferror(trace_file);
    if (trace_file && (fclose(trace_file) != 0 || trace_lost)) {
        fprintf(stderr, "causeway node: --trace %s: %s\n", trace,
                trace_lost ? "part of the trace could not be written (a full disk or a closed pipe?)" : strerror(errno));
        return CLI_FAIL;
    }
    return saved ? CLI_OK : CLI_FAIL;
}
