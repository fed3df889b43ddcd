/* causeway cluster: N `causeway node` processes on 127.0.0.1 (node i:
 * replication tcp://127.0.0.1:(P+i), HTTP 127.0.0.1:(P+100+i)), run until
 * SIGINT or SIGTERM, or, with --scenario, the causal key-value scenario of
 * seed-scenarios.md (003) over HTTP against them, every claim checked as
 * causeway demo checks it in-process.
 *
 * Invariants:
 *  1. No child outlives the command: every path after the first fork goes
 *     through cluster_stop, which sends SIGTERM, waits 5 s, then SIGKILLs
 *     and reaps. The children stay in the command's process group (a
 *     terminal's ^C reaches them too) and ask for SIGTERM should the command
 *     die first (PR_SET_PDEATHSIG), so even a SIGKILL of it leaves none.
 *  2. SIGINT, SIGTERM and SIGCHLD are blocked from before the first fork and
 *     taken only by sigwait/sigtimedwait, so no signal is lost between
 *     checks; each child resets their dispositions and unblocks them before
 *     exec (the node takes its own signals the same way).
 *  3. Every wait is a poll with a deadline (cluster_pause: 50 ms at a time,
 *     woken early by a signal), and every poll notices a child that died.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include <causeway/causeway.h>

#include "cli.h"
#include "opts.h"
#include "server.h"

/* Node i's HTTP port is P+100+i, so more than 100 nodes would put a
 * replication port on another node's HTTP port. */
#define HTTP_OFFSET 100u
#define MAX_NODES HTTP_OFFSET
#define POLL_MS 50
#define READY_MS 10000   /* every node serves HTTP and has joined its peers */
#define WRITE_MS 10000   /* a write retried on 503 while nodes join */
#define SETTLE_MS 5000   /* a replicated write shows up */
#define STOP_MS 5000     /* SIGTERM before SIGKILL */

typedef struct cluster {
    uint32_t n, base;
    pid_t *pid;          /* 0: not started or reaped */
    int stop_signal;     /* SIGINT or SIGTERM taken, 0 if none */
    bool died;           /* a child died, or did not stop cleanly */
    bool serving;        /* every node answered: the start is over */
    bool stopping;
    sigset_t sigs;       /* SIGINT, SIGTERM, SIGCHLD */
    CURL **curl;         /* one keep-alive handle per node */
    struct curl_slist *headers;
    const char *data;    /* --data: node i keeps its state in DATA/node-i; NULL: in memory */
    const char *sync;    /* --sync, with data */
    const char *group;   /* --group, or NULL */
} cluster;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* How a child ended, as text. */
static const char *status_text(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "ended with wait status %d", status);
    return buf;
}

/* Reaps every child that ended. Before a stop (cluster_stop, or SIGINT or
 * SIGTERM taken: a terminal's ^C reaches the nodes too) an exit is an
 * unexpected death, reported; during one, anything but a clean stop is.
 * Returns how many were reaped. */
static uint32_t cluster_reap(cluster *c)
{
    uint32_t reaped = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        int status;
        if (c->pid[i] <= 0 || waitpid(c->pid[i], &status, WNOHANG) != c->pid[i])
            continue;
        char text[96];
        bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                     (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        if (!c->stopping && !c->stop_signal) {
            fprintf(stderr, "causeway cluster: node %u (pid %ld) %s %s\n", i, (long)c->pid[i],
                    status_text(status, text, sizeof text),
                    c->serving ? "unexpectedly" : "before it served (its reason, if it gave one, is above)");
            c->died = true;
        } else if (!clean && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)) {
            /* Before every node served, a stop may meet a node that was
             * still starting and failed at that (another group's --data):
             * its failure is its own, not the stop's. */
            fprintf(stderr, "causeway cluster: node %u (pid %ld) %s %s (its reason, if it gave one, is above)\n", i,
                    (long)c->pid[i], status_text(status, text, sizeof text),
                    c->serving ? "as the nodes stopped (want exit 0)" : "while the cluster was starting");
            c->died = true;
        }
        c->pid[i] = 0;
        reaped++;
    }
    return reaped;
}

/* Takes a signal, waiting up to t for one (a SIGINT or SIGTERM is a stop);
 * the signal, or -1 if none came. */
static int take_signal(cluster *c, const struct timespec *t)
{
    int sig = sigtimedwait(&c->sigs, NULL, t);
    if (sig == SIGINT || sig == SIGTERM)
        c->stop_signal = sig;
    return sig;
}

/* Takes every signal pending, without waiting. */
static void take_pending(cluster *c)
{
    const struct timespec zero = {0, 0};
    while (take_signal(c, &zero) > 0)
        ;
}

/* Waits up to ms for a signal. False when the cluster must stop: SIGINT or
 * SIGTERM was taken, or a child died. */
static bool cluster_pause(cluster *c, uint32_t ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    take_signal(c, &t);
    cluster_reap(c);
    return !c->stop_signal && !c->died;
}

/* Stops every child still running: SIGTERM, up to 5 s, then SIGKILL. */
static void cluster_stop(cluster *c)
{
    /* Those that ended before the stop are not its failures, unless they
     * ended on a SIGINT or SIGTERM (a terminal's ^C) not taken yet. */
    take_pending(c);
    cluster_reap(c);
    c->stopping = true;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->pid[i] > 0)
            kill(c->pid[i], SIGTERM);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    uint64_t deadline = now_ms() + STOP_MS;
    for (;;) {
        cluster_reap(c);
        uint32_t left = 0;
        for (uint32_t i = 0; i < c->n; i++)
            left += c->pid[i] > 0;
        uint64_t t = now_ms();
        if (left == 0 || t >= deadline)
            break;
        uint64_t wait = deadline - t < POLL_MS ? deadline - t : POLL_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait * 1000000L};
        sigtimedwait(&chld, NULL, &ts);
    }
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->pid[i] <= 0)
            continue;
        fprintf(stderr, "causeway cluster: node %u (pid %ld) still running 5 s after SIGTERM: killed\n", i,
                (long)c->pid[i]);
        kill(c->pid[i], SIGKILL);
        while (waitpid(c->pid[i], NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid[i] = 0;
        c->died = true;
    }
}

/* The first node directory below data that holds anything (a state from
 * an earlier run), into path; false if none does. */
static bool node_dir_used(const char *data, uint32_t nodes, char *path, size_t cap)
{
    for (uint32_t i = 0; i < nodes; i++) {
        snprintf(path, cap, "%s/node-%u", data, i);
        DIR *d = opendir(path);
        if (!d)
            continue;
        const struct dirent *e;
        bool used = false;
        while (!used && (e = readdir(d)) != NULL)
            used = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        if (used)
            return true;
    }
    return false;
}

/* Binds a TCP socket to each port the cluster needs; CLI_FAIL naming the
 * first one that is busy. (SO_REUSEADDR as the node's listeners use it, so
 * a port left in TIME_WAIT by a previous run is not busy.) */
static int check_ports(const cluster *c)
{
    for (uint32_t k = 0; k < 2 * c->n; k++) {
        uint32_t i = k % c->n, port = c->base + i + (k < c->n ? 0 : HTTP_OFFSET);
        const char *what = k < c->n ? "replication" : "HTTP";
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0) {
            fprintf(stderr, "causeway cluster: cannot open a socket to check port %u: %s\n", port,
                    strerror(errno));
            return CLI_FAIL;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = bind(fd, (struct sockaddr *)&a, sizeof a), err = errno;
        close(fd);
        if (rc != 0) {
            fprintf(stderr, "causeway cluster: port %u (node %u's %s) is %s: %s%s\n", port, i, what,
                    err == EADDRINUSE ? "busy" : "not usable", strerror(err),
                    err == EADDRINUSE ? "; choose other ports with --base-port" : "");
            return CLI_FAIL;
        }
    }
    return CLI_OK;
}

/* The node command line of node i, malloc'd strings in a NULL-terminated
 * array (free with free_argv). */
static char **node_argv(const cluster *c, const char *exe, uint32_t i, const char *policy)
{
    size_t cap = 18 + 2 * (size_t)c->n, k = 0;
    char **v = calloc(cap, sizeof *v);
    if (!v)
        return NULL;
    char buf[64]; /* the longest: "65535=tcp://127.0.0.1:65535" */
#define ARG(...) (snprintf(buf, sizeof buf, __VA_ARGS__), v[k++] = strdup(buf))
    v[k++] = strdup(exe);
    ARG("node");
    ARG("--id");
    ARG("%u", i);
    ARG("--nodes");
    ARG("%u", c->n);
    ARG("--listen");
    ARG("tcp://127.0.0.1:%u", c->base + i);
    for (uint32_t j = 0; j < c->n; j++) {
        if (j == i)
            continue;
        ARG("--peer");
        ARG("%u=tcp://127.0.0.1:%u", j, c->base + j);
    }
    ARG("--http");
    ARG("127.0.0.1:%u", c->base + HTTP_OFFSET + i);
    ARG("--policy");
    ARG("%s", policy);
    if (c->data) {
        ARG("--data");
        size_t len = strlen(c->data) + 32;
        if ((v[k] = malloc(len)))
            snprintf(v[k], len, "%s/node-%u", c->data, i);
        k++;
        ARG("--sync");
        ARG("%s", c->sync);
    }
    if (c->group) {
        ARG("--group");
        v[k++] = strdup(c->group); /* up to 64 bytes: longer than buf holds */
    }
#undef ARG
    for (size_t j = 0; j < k; j++)
        if (!v[j]) {
            for (size_t m = 0; m < k; m++)
                free(v[m]);
            free(v);
            return NULL;
        }
    return v;
}

static void free_argv(char **v)
{
    for (size_t j = 0; v && v[j]; j++)
        free(v[j]);
    free(v);
}

/* Starts node i. The child resets what the command set for itself
 * (invariant 2) and asks for SIGTERM if the command dies first. */
static int spawn(cluster *c, const char *exe, uint32_t i, const char *policy)
{
    char **argv = node_argv(c, exe, i, policy);
    if (!argv) {
        fprintf(stderr, "causeway cluster: out of memory starting node %u\n", i);
        return CLI_FAIL;
    }
    fflush(NULL); /* nothing buffered here is written twice by the child */
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) /* the command died before prctl */
            _exit(1);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(exe, argv);
        fprintf(stderr, "causeway cluster: cannot run %s for node %u: %s\n", exe, i, strerror(errno));
        _exit(127);
    }
    int err = errno;
    free_argv(argv);
    if (pid < 0) {
        fprintf(stderr, "causeway cluster: cannot start node %u: fork: %s\n", i, strerror(err));
        return CLI_FAIL;
    }
    c->pid[i] = pid;
    return CLI_OK;
}

/* ---- HTTP with libcurl ---- */

typedef struct inbox {
    char *data;
    size_t len, cap;
} inbox;

static size_t on_data(char *p, size_t size, size_t count, void *ctx)
{
    inbox *b = ctx;
    size_t n = size * count;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

typedef struct reply {
    long status;
    json_t *json;        /* the body parsed, or NULL if it is not JSON */
    char *body;          /* the body as it came (NULL if empty), body_len bytes */
    size_t body_len;
    char what[128];      /* "POST http://127.0.0.1:7100/write", for messages */
    char text[300];      /* the body's start, or curl's error, for messages */
} reply;

static void reply_clear(reply *r)
{
    json_decref(r->json);
    r->json = NULL;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* One request to node i on its keep-alive handle; body_json NULL: GET.
 * False when no HTTP answer came (r->text says why). */
static bool request(cluster *c, uint32_t i, const char *method, const char *path, json_t *body_json, reply *r)
{
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", c->base + HTTP_OFFSET + i, path);
    snprintf(r->what, sizeof r->what, "%s %s", method, url);
    reply_clear(r);
    r->status = 0;
    r->text[0] = 0;
    char *payload = body_json ? json_dumps(body_json, JSON_COMPACT) : NULL;
    if (body_json && !payload) {
        snprintf(r->text, sizeof r->text, "out of memory");
        return false;
    }
    CURL *h = c->curl[i];
    inbox b = {0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    }
    CURLcode rc = curl_easy_perform(h);
    /* nothing of this call's stack or heap stays referenced by the handle */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    free(payload);
    if (rc != CURLE_OK) {
        snprintf(r->text, sizeof r->text, "%s", err[0] ? err : curl_easy_strerror(rc));
        free(b.data);
        return false;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    snprintf(r->text, sizeof r->text, "%.*s", (int)(b.len < 150 ? b.len : 150), b.data ? b.data : "");
    r->json = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    r->body = b.data;
    r->body_len = b.len;
    return true;
}

static int curl_open(cluster *c)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "causeway cluster: cannot initialise libcurl\n");
        return CLI_FAIL;
    }
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *more = c->headers ? curl_slist_append(c->headers, "Expect:") : NULL;
    c->headers = more ? more : c->headers;
    c->curl = calloc(c->n, sizeof *c->curl);
    for (uint32_t i = 0; more && c->curl && i < c->n; i++) {
        if (!(c->curl[i] = curl_easy_init()))
            break;
        curl_easy_setopt(c->curl[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl[i], CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(c->curl[i], CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c->curl[i], CURLOPT_NOPROXY, "*");
    }
    if (!more || !c->curl || !c->curl[c->n - 1]) {
        fprintf(stderr, "causeway cluster: out of memory setting up HTTP\n");
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void curl_close(cluster *c)
{
    for (uint32_t i = 0; c->curl && i < c->n; i++)
        if (c->curl[i])
            curl_easy_cleanup(c->curl[i]);
    free(c->curl);
    curl_slist_free_all(c->headers);
    curl_global_cleanup();
}

/* Whether a 200 answer's body holds `line` ("\nNAME VALUE\n": a metric). */
static bool has_line(const reply *r, const char *line)
{
    return r->status == 200 && r->body && memmem(r->body, r->body_len, line, strlen(line));
}

/* Every node serves HTTP and has joined its peers (GET /metrics:
 * causeway_joining 0) within 10 s of the start: a step made while a node
 * still joins could reach it in the snapshot it installs rather than over
 * its links, and the scenario's holds would not show. */
static int wait_ready(cluster *c)
{
    uint64_t deadline = now_ms() + READY_MS;
    reply r = {0};
    for (uint32_t i = 0; i < c->n; i++) {
        while (!request(c, i, "GET", "/metrics", NULL, &r) || !has_line(&r, "\ncauseway_joining 0\n")) {
            if (now_ms() >= deadline) {
                if (r.status == 200)
                    snprintf(r.text, sizeof r.text, "%s",
                             has_line(&r, "\ncauseway_joining 1\n")
                                 ? "causeway_joining 1 (joining its peers, or verifying its saved state)"
                                 : "no causeway_joining 0 in its metrics");
                else if (r.status)
                    snprintf(r.text, sizeof r.text, "status %ld", r.status);
                fprintf(stderr, "causeway cluster: node %u is not ready after 10 s: %s: %s\n", i, r.what,
                        r.text);
                reply_clear(&r);
                return CLI_FAIL;
            }
            if (!cluster_pause(c, POLL_MS)) {
                reply_clear(&r);
                return CLI_FAIL;
            }
        }
    }
    reply_clear(&r);
    return CLI_OK;
}

/* ---- the scenario ---- */

typedef struct script {
    cluster *c;
    char failed[128];    /* the first check that failed, "" while all hold */
} script;

static bool check(script *s, bool ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A claim: printed to stderr with the reason when it fails. */
static bool check(script *s, bool ok, const char *what, const char *fmt, ...)
{
    if (ok)
        return true;
    fprintf(stderr, "causeway cluster: check failed: %s: ", what);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (!s->failed[0])
        snprintf(s->failed, sizeof s->failed, "%s", what);
    return false;
}

/* A CLOCK of the cluster's nodes (node-server.md: every id 0..N-1 present,
 * whole counters) as text, "0:1,1:1" as causeway demo prints clocks; false
 * with the reason in text otherwise. */
static bool clock_text(const json_t *j, uint32_t n, char *text, size_t cap)
{
    if (!json_is_object(j)) {
        snprintf(text, cap, "a CLOCK must be a JSON object");
        return false;
    }
    cw_vclock c;
    cw_vclock_init(&c);
    const char *key;
    json_t *v;
    uint32_t seen = 0;
    bool ok = true;
    json_object_foreach((json_t *)j, key, v) {
        char *end;
        unsigned long id = strtoul(key, &end, 10);
        if (key[0] < '0' || key[0] > '9' || *end || id >= n || !json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(text, cap, "entry \"%.20s\" is not a node id below %u with a whole counter", key, n);
            ok = false;
            break;
        }
        seen++;
        if (cw_vclock_set(&c, (cw_node_id)id, (uint64_t)json_integer_value(v)) != CW_OK) {
            snprintf(text, cap, "out of memory");
            ok = false;
            break;
        }
    }
    size_t len;
    if (ok && seen != n) {
        snprintf(text, cap, "%u of the %u node ids present (a CLOCK has every one)", seen, n);
        ok = false;
    } else if (ok && cw_vclock_format(&c, text, cap, &len) != CW_OK) {
        snprintf(text, cap, "too long to print");
        ok = false;
    }
    cw_vclock_destroy(&c);
    return ok;
}

/* The JSON value as compact text (malloc'd), or NULL. */
static char *value_text(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* request(), again every POLL_MS while the answer is `again` (503 while the
 * nodes join, 404 until a write arrives) and the deadline has not passed.
 * Whether an HTTP answer came. */
static bool request_while(script *s, uint32_t at, const char *method, const char *path, json_t *body, long again,
                          uint64_t deadline, reply *r)
{
    bool answered;
    while ((answered = request(s->c, at, method, path, body, r)) && r->status == again && now_ms() < deadline &&
           cluster_pause(s->c, POLL_MS))
        ;
    return answered;
}

/* POST /write {"key": key, "value": value} at node `at`, retried on 503
 * (nodes join) every 50 ms for up to 10 s; the clock must be `expect`. */
static bool write_step(script *s, int step, uint32_t at, const char *key, int value, const char *note,
                       const char *expect)
{
    char what[96], text[128] = "?";
    snprintf(what, sizeof what, "write %s=%d at node%u%s", key, value, at, note);
    json_t *body = json_pack("{s:s,s:i}", "key", key, "value", value);
    reply r = {0};
    uint64_t deadline = now_ms() + WRITE_MS;
    bool answered = request_while(s, at, "POST", "/write", body, 503, deadline, &r);
    json_decref(body);
    bool ok;
    if (!answered)
        ok = check(s, false, what, "%s: %s", r.what, r.text);
    else if (r.status != 200)
        ok = check(s, false, what, "%s: status %ld%s, body %s", r.what, r.status,
                   r.status == 503 ? " for 10 s" : "", r.text);
    else if (!clock_text(json_object_get(r.json, "clock"), s->c->n, text, sizeof text))
        ok = check(s, false, what, "%s: \"clock\" in %s: %s", r.what, r.text, text);
    else
        ok = true;
    printf("%d. %-42s clock %s\n", step, what, ok ? text : "?");
    if (ok)
        ok = check(s, strcmp(text, expect) == 0, what, "clock %s, want %s", text, expect);
    reply_clear(&r);
    return ok;
}

/* GET /read/<key> at node `at`, polled while 404 for up to 5 s (until the
 * write has arrived); the value must be `value`, the clock `expect`. */
static bool read_step(script *s, int step, uint32_t at, const char *key, int value, const char *expect)
{
    char what[64], path[64], text[128] = "?";
    snprintf(what, sizeof what, "read %s at node%u", key, at);
    snprintf(path, sizeof path, "/read/%s", key);
    reply r = {0};
    uint64_t deadline = now_ms() + SETTLE_MS;
    bool answered = request_while(s, at, "GET", path, NULL, 404, deadline, &r);
    json_t *v = json_object_get(r.json, "value");
    bool ok;
    if (!answered)
        ok = check(s, false, what, "%s: %s", r.what, r.text);
    else if (r.status != 200)
        ok = check(s, false, what, "%s: status %ld%s, body %s", r.what, r.status,
                   r.status == 404 ? " for 5 s" : "", r.text);
    else if (!v)
        ok = check(s, false, what, "%s: no \"value\" in %s", r.what, r.text);
    else if (!clock_text(json_object_get(r.json, "clock"), s->c->n, text, sizeof text))
        ok = check(s, false, what, "%s: \"clock\" in %s: %s", r.what, r.text, text);
    else
        ok = true;
    char *vt = value_text(v);
    printf("%d. %-42s value %s, clock %s\n", step, what, vt ? vt : "?", ok ? text : "?");
    if (ok)
        ok = check(s, json_is_integer(v) && json_integer_value(v) == value && strcmp(text, expect) == 0, what,
                   "value %s, clock %s; want value %d, clock %s", vt ? vt : "?", text, value, expect);
    free(vt);
    reply_clear(&r);
    return ok;
}

/* POST /admin/link {"from", "to", "action"} at node `to`. */
static bool link_step(script *s, uint32_t from, uint32_t to, const char *action)
{
    char what[64];
    snprintf(what, sizeof what, "%s the link node%u -> node%u at node%u", action, from, to, to);
    json_t *body = json_pack("{s:i,s:i,s:s}", "from", (json_int_t)from, "to", (json_int_t)to, "action", action);
    reply r = {0};
    bool answered = request(s->c, to, "POST", "/admin/link", body, &r);
    json_decref(body);
    bool ok = answered ? check(s, r.status == 200, what, "%s: status %ld, body %s", r.what, r.status, r.text)
                       : check(s, false, what, "%s: %s", r.what, r.text);
    reply_clear(&r);
    return ok;
}

/* GET /status at node `at`, polled up to 5 s until "pending" is `want`
 * (and, with `clock` non-NULL, the node's clock is it). *pending gets the
 * last count seen (-1: none). */
static bool pending_poll(script *s, uint32_t at, int64_t want, const char *clock, const char *what,
                         int64_t *pending)
{
    reply r = {0};
    char text[128] = "?";
    uint64_t deadline = now_ms() + SETTLE_MS;
    bool ok = false;
    *pending = -1;
    for (;;) {
        if (!request(s->c, at, "GET", "/status", NULL, &r)) {
            check(s, false, what, "%s: %s", r.what, r.text);
            break;
        }
        json_t *p = json_object_get(r.json, "pending");
        if (r.status != 200 || !json_is_integer(p)) {
            check(s, false, what, "%s: status %ld, no whole \"pending\" in %s", r.what, r.status, r.text);
            break;
        }
        *pending = json_integer_value(p);
        bool clock_ok = clock_text(json_object_get(r.json, "clock"), s->c->n, text, sizeof text);
        if (*pending == want && (!clock || (clock_ok && strcmp(text, clock) == 0))) {
            ok = true;
            break;
        }
        if (now_ms() >= deadline || !cluster_pause(s->c, POLL_MS)) {
            check(s, false, what, "pending writes %" PRId64 ", clock %s after 5 s; want %" PRId64 "%s%s", *pending,
                  text[0] ? text : "(empty)", want, clock ? ", clock " : "", clock ? clock : "");
            break;
        }
    }
    reply_clear(&r);
    return ok;
}

/* ---- every node's system state ---- */

static int by_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* "    KEY = VALUE {CLOCK}", as cw_node_dump prints a version. */
static void print_version(const char *key, const json_t *version, uint32_t n, size_t k, size_t count)
{
    char text[128];
    char *vt = value_text(json_object_get(version, "value"));
    if (!clock_text(json_object_get(version, "clock"), n, text, sizeof text))
        snprintf(text, sizeof text, "?");
    printf("    %s = %s {%s}", key, vt ? vt : "?", text);
    if (count > 1)
        printf("  (sibling %zu of %zu)", k + 1, count);
    putchar('\n');
    free(vt);
}

/* GET /status, printed as cw_node_dump prints the state (Node, Data,
 * Pending writes, Vector clock; then the stable clock). */
static void print_state(const json_t *st, uint32_t i, uint32_t n)
{
    json_t *data = json_object_get(st, "data"), *v;
    const char *key;
    size_t count = json_object_size(data), k = 0;
    const char **keys = calloc(count ? count : 1, sizeof *keys);
    printf("Node %u:\n  Data:\n", i);
    json_object_foreach(data, key, v) {
        if (keys)
            keys[k++] = key;
    }
    if (keys)
        qsort(keys, k, sizeof *keys, by_name);
    for (size_t j = 0; j < k; j++) {
        json_t *e = json_object_get(data, keys[j]), *sib = json_object_get(e, "siblings");
        if (json_is_array(sib))
            for (size_t m = 0; m < json_array_size(sib); m++)
                print_version(keys[j], json_array_get(sib, m), n, m, json_array_size(sib));
        else
            print_version(keys[j], e, n, 0, 1);
    }
    free(keys);
    char text[128];
    json_t *p = json_object_get(st, "pending");
    printf("  Pending writes: %" JSON_INTEGER_FORMAT "\n", json_is_integer(p) ? json_integer_value(p) : -1);
    printf("  Vector clock: %s\n", clock_text(json_object_get(st, "clock"), n, text, sizeof text) ? text : "?");
    if (json_object_get(st, "stable"))
        printf("  Stable clock: %s\n",
               !clock_text(json_object_get(st, "stable"), n, text, sizeof text) ? "?" : text[0] ? text : "none");
}

/* What differs from the scenario's final state (x=1 {0:1}, y=2 {0:1,1:1},
 * pending 0, clock 0:1,1:1) in node i's GET /status, or NULL. */
static const char *state_problem(const json_t *st, uint32_t i, uint32_t n, char *why, size_t cap)
{
    static const struct { const char *key; int value; const char *clock; } want[] = {{"x", 1, "0:1"},
                                                                                      {"y", 2, "0:1,1:1"}};
    char text[128];
    json_t *node = json_object_get(st, "node"), *p = json_object_get(st, "pending"),
           *data = json_object_get(st, "data");
    if (!json_is_integer(node) || json_integer_value(node) != (json_int_t)i)
        return snprintf(why, cap, "\"node\" is not %u", i), why;
    if (!json_is_object(data) || json_object_size(data) != 2)
        return snprintf(why, cap, "\"data\" does not hold exactly the keys x and y"), why;
    for (size_t k = 0; k < 2; k++) {
        json_t *e = json_object_get(data, want[k].key), *v = json_object_get(e, "value");
        if (!json_is_integer(v) || json_integer_value(v) != want[k].value ||
            !clock_text(json_object_get(e, "clock"), n, text, sizeof text) || strcmp(text, want[k].clock) != 0)
            return snprintf(why, cap, "does not hold %s = %d {%s} (one version)", want[k].key, want[k].value,
                            want[k].clock),
                   why;
    }
    if (!json_is_integer(p) || json_integer_value(p) != 0)
        return snprintf(why, cap, "pending writes are not 0"), why;
    if (!clock_text(json_object_get(st, "clock"), n, text, sizeof text) || strcmp(text, "0:1,1:1") != 0)
        return snprintf(why, cap, "vector clock %s, not 0:1,1:1", text), why;
    return NULL;
}

/* Every node's state, each polled up to 5 s until it is the final one (or,
 * after a failed step, printed as it is), then checked. */
static void final_states(script *s, bool check_them)
{
    reply r = {0};
    char why[160], what[64];
    for (uint32_t i = 0; i < s->c->n; i++) {
        snprintf(what, sizeof what, "node%u's final state", i);
        uint64_t deadline = now_ms() + (check_them ? SETTLE_MS : 0);
        const char *problem = "no answer";
        bool answered;
        while ((answered = request(s->c, i, "GET", "/status", NULL, &r)) && r.status == 200 &&
               (problem = state_problem(r.json, i, s->c->n, why, sizeof why)) && now_ms() < deadline &&
               cluster_pause(s->c, POLL_MS))
            ;
        if (answered && r.status == 200 && r.json)
            print_state(r.json, i, s->c->n);
        if (!check_them)
            continue;
        if (!answered)
            check(s, false, what, "%s: %s", r.what, r.text);
        else if (r.status != 200)
            check(s, false, what, "%s: status %ld, body %s", r.what, r.status, r.text);
        else
            check(s, !problem, what, "node%u %s", i, problem);
    }
    reply_clear(&r);
}

static int run_scenario(cluster *c)
{
    script s = {.c = c};
    printf("\nCauseway cluster: a causal key-value store on %u node processes, over HTTP.\n"
           "The link node0 -> node2 is held at node2, so node2 receives y before x.\n\n",
           c->n);
    int64_t p = -1;
    bool ok = link_step(&s, 0, 2, "hold");
    if (ok)
        printf("0. %-42s node2 keeps node0's writes\n", "hold node0 -> node2");
    ok = ok && write_step(&s, 1, 0, "x", 1, "", "0:1");
    ok = ok && read_step(&s, 2, 1, "x", 1, "0:1");
    ok = ok && write_step(&s, 3, 1, "y", 2, " (depends on x)", "0:1,1:1");
    if (ok) {
        ok = pending_poll(&s, 2, 1, NULL, "node2 buffers y", &p);
        printf("4. %-42s node2 buffers it (pending writes: %" PRId64 ")\n", "y reaches node2 before x", p);
    }
    ok = ok && link_step(&s, 0, 2, "release");
    if (ok) {
        ok = pending_poll(&s, 2, 0, "0:1,1:1", "node2 delivers x then y", &p);
        printf("5. %-42s node2 applies x, then y (pending writes: %" PRId64 ")\n",
               "release node0 -> node2: x arrives", p);
    }
    ok = ok && read_step(&s, 6, 2, "y", 2, "0:1,1:1");
    if (c->stop_signal) {
        fprintf(stderr, "causeway cluster: the scenario was interrupted (%s)\n", strsignal(c->stop_signal));
        return CLI_FAIL;
    }
    if (c->died) {
        fprintf(stderr, "causeway cluster: the scenario failed at \"%s\": a node died\n", s.failed);
        return CLI_FAIL;
    }
    if (ok)
        printf("\nCausal consistency verified: node2 applied y only after x.\n\n=== System State ===\n");
    else
        printf("\nThe scenario stopped at a failed check; every node's state as it is:\n\n=== System State ===\n");
    final_states(&s, ok);
    if (s.failed[0]) {
        fprintf(stderr, "causeway cluster: the scenario failed at \"%s\"\n", s.failed);
        return CLI_FAIL;
    }
    printf("\nAll nodes at clock 0:1,1:1 with no pending writes.\n");
    return CLI_OK;
}

/* Until SIGINT or SIGTERM (CLI_OK), or a child's death (CLI_FAIL). */
static int run_until_signal(cluster *c)
{
    printf("causeway cluster: %u nodes serve; SIGINT or SIGTERM stops them.\n", c->n);
    fflush(stdout);
    while (!c->stop_signal && !c->died) {
        int sig = 0;
        if (sigwait(&c->sigs, &sig) != 0)
            break;
        if (sig == SIGINT || sig == SIGTERM)
            c->stop_signal = sig;
        cluster_reap(c);
    }
    return c->died ? CLI_FAIL : CLI_OK;
}

static int run(cluster *c, const char *policy, bool scenario)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len < 0 || (size_t)len >= sizeof exe - 1) {
        fprintf(stderr, "causeway cluster: cannot find this program (/proc/self/exe): %s\n",
                len < 0 ? strerror(errno) : "path too long");
        return CLI_FAIL;
    }
    exe[len] = 0;
    sigset_t old;
    sigemptyset(&c->sigs);
    sigaddset(&c->sigs, SIGINT);
    sigaddset(&c->sigs, SIGTERM);
    sigaddset(&c->sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &c->sigs, &old);
    int rc = CLI_OK;
    for (uint32_t i = 0; i < c->n && rc == CLI_OK; i++) {
        rc = spawn(c, exe, i, policy);
        if (rc == CLI_OK)
            printf("node %u: starting (pid %ld): replication tcp://127.0.0.1:%u, http http://127.0.0.1:%u\n", i,
                   (long)c->pid[i], c->base + i, c->base + HTTP_OFFSET + i);
    }
    fflush(stdout);
    if (rc == CLI_OK)
        rc = curl_open(c);
    bool stopped_starting = false; /* SIGINT or SIGTERM while the nodes came up: a stop, not a failure */
    if (rc == CLI_OK) {
        rc = wait_ready(c);
        stopped_starting = rc != CLI_OK && c->stop_signal && !c->died;
        c->serving = rc == CLI_OK;
    }
    if (rc == CLI_OK)
        rc = scenario ? run_scenario(c) : run_until_signal(c);
    cluster_stop(c);
    if (c->stop_signal)
        printf("causeway cluster: %s: stopped the nodes\n", strsignal(c->stop_signal));
    curl_close(c);
    /* A second SIGINT or SIGTERM may have come during the stop: taken here,
     * or unblocking it would end the command with the signal's default
     * action instead of its exit status. */
    take_pending(c);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (stopped_starting && scenario) { /* no scenario ran: no pass, as one stopped partway is none */
        fprintf(stderr, "causeway cluster: the scenario was interrupted (%s) before it began\n",
                strsignal(c->stop_signal));
        return CLI_FAIL;
    }
    if (stopped_starting)
        return CLI_OK;
    return rc == CLI_OK && c->died ? CLI_FAIL : rc;
}

int cli_cluster(int argc, char **argv)
{
    uint32_t nodes = 0, base = 7000;
    int policy = 0, sync_mode = -1; /* -1: not given (full) */
    bool scenario = false;
    const char *data = NULL, *group = NULL;
    cli_opt opts[] = {
        {CLI_OPT_UINT32("nodes", &nodes, "N", "node processes to start (their ports must not overlap)", 1,
                        MAX_NODES),
         .required = true},
        {CLI_OPT_UINT32("base-port", &base, "P",
                        "node i replicates on port P+i and serves HTTP on port P+100+i", 1, 65535)},
        {CLI_OPT_FLAG("scenario", &scenario,
                      "run the causal key-value scenario against the nodes, then stop them")},
        {CLI_OPT_CHOICE("policy", &policy, "NAME", "how concurrent writes to a key resolve", "siblings|lww")},
        {CLI_OPT_TEXT("data", &data, "DIR",
                      "durable nodes: node i keeps its state in DIR/node-i (created if missing; a second\n"
                      "run on DIR takes every node's state back; --scenario wants a new or empty DIR)")},
        {CLI_OPT_CHOICE("sync", &sync_mode, "MODE", "with --data: full or none (causeway node --help)", "full|none")},
        {CLI_OPT_TEXT("group", &group, "NAME", "the group's name, given to every node (causeway node --help)")},
    };
    cli_command cmd = {
        .path = "cluster",
        .summary = "Start N `causeway node` processes on 127.0.0.1 and stop them on SIGINT or SIGTERM;\n"
                   "with --scenario, run the causal key-value scenario over HTTP and check every step.",
        .details = "Node i replicates on tcp://127.0.0.1:(P+i) and serves HTTP on 127.0.0.1:(P+100+i).\n"
                   "A busy port, a node that does not serve within 10 s or one that dies exits 1;\n"
                   "a failed check of the scenario exits 1 naming it. The nodes are stopped either way.\n",
        .opts = opts,
        .count = sizeof opts / sizeof opts[0]};
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_OK)
        return rc == CLI_HELP ? CLI_OK : rc;
    if ((uint64_t)base + HTTP_OFFSET + nodes - 1 > 65535)
        return cli_usage_error(&cmd, "--base-port %u with --nodes %u: node %u's HTTP port %u is above 65535", base,
                               nodes, nodes - 1, base + HTTP_OFFSET + nodes - 1);
    if (group && !cw__server_group_ok(group))
        return cli_usage_error(&cmd, "--group '%.80s': expected 1 to %u letters, digits, '.', '_' or '-'", group,
                               CW_SERVER_GROUP_MAX);
    if (sync_mode >= 0 && !data)
        return cli_usage_error(&cmd, "--sync goes with --data (a node without it saves nothing)");
    if (scenario && nodes < 3)
        return cli_usage_error(&cmd, "--scenario needs --nodes 3 or more (it uses nodes 0, 1 and 2)");
    char used[PATH_MAX + sizeof "/node-4294967295"];
    if (scenario && data && node_dir_used(data, nodes, used, sizeof used))
        return cli_usage_error(&cmd, "--scenario --data %s: %s holds an earlier run's state, and the scenario checks "
                                     "clocks from empty nodes: give a new or empty directory", data, used);
    if (data && mkdir(data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "causeway cluster: --data %s: %s\n", data, strerror(errno));
        return CLI_FAIL;
    }
    cluster c = {.n = nodes, .base = base, .data = data, .sync = sync_mode == 1 ? "none" : "full", .group = group};
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines interleave with the nodes' own output */
    rc = check_ports(&c);
    if (rc != CLI_OK)
        return rc;
    c.pid = calloc(nodes, sizeof *c.pid);
    if (!c.pid) {
        fprintf(stderr, "causeway cluster: out of memory\n");
        return CLI_FAIL;
    }
    rc = run(&c, policy == 1 ? "lww" : "siblings", scenario);
    free(c.pid);
    return rc;
}
