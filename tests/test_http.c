/* The node process's HTTP API (src/server/http.c), over real HTTP with
 * libcurl against an in-process server: every route with good and bad
 * input, the shapes of node-server.md, body limits, percent-encoded keys,
 * keep-alive, and many clients at once. A bad request must change nothing:
 * the tests compare /status before and after. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "http.h"
#include "server.h"

void tu_fail_alloc_after(long k);
void tu_fail_alloc_off(void);
/* The client's own buffers never fail (the test's allocations are wrapped too). */
void *__real_realloc(void *p, size_t size);

typedef struct fx {
    cw__server *s;
    cw__http *h;
    CURL *c;
    char base[64];
} fx;

typedef struct resp {
    long status;
    char *body;
    size_t len, cap;
    char type[128];
    long connects;   /* new connections this request opened */
    json_t *json;    /* the body parsed, when it is JSON */
} resp;

static void resp_free(resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    if (r->len + size * n + 1 > r->cap) { /* doubling: a body of megabytes is not copied a thousand times */
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + size * n + 1)
            cap *= 2;
        char *grown = __real_realloc(r->body, cap);
        if (!grown)
            return 0;
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

/* A chunked body of `left` bytes of 'x', sent without Content-Length. */
typedef struct chunked {
    size_t left;
} chunked;

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    chunked *ch = ud;
    size_t k = size * n < ch->left ? size * n : ch->left;
    memset(p, 'x', k);
    ch->left -= k;
    return k;
}

/* Whether a request that gets no answer fails the test (test_out_of_memory
 * counts it instead). */
static bool tolerate_no_answer;

/* One request on c (connections are reused across calls). body NULL: none;
 * len < 0: strlen(body). ch non-NULL: a chunked body instead. */
/* Set: the next request asks "Expect: 100-continue" (its body waits for the
 * server's go-ahead). */
static _Thread_local bool expect_continue; /* per thread: test_many_clients requests from several */
/* Set: requests leave from this local address (a loopback one other than
 * 127.0.0.1, to be told apart by an allow-list). */
static const char *source_option;

static void request_on(CURL *c, const char *base, const char *method, const char *path, const char *body,
                       long len, chunked *ch, resp *out)
{
    memset(out, 0, sizeof *out);
    char url[16384]; /* a path may carry a key of 4 KiB and more */
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_reset(c); /* keeps the connection cache */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *headers = NULL;
    if (ch) {
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, ch);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (len < 0 ? (long)strlen(body) : len) : 0L);
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    /* Without it curl sends a large body unasked, and a refusal that closes the
     * connection can race it (a reset loses the answer); with it, never. */
    headers = curl_slist_append(headers, expect_continue ? "Expect: 100-continue" : "Expect:");
    /* curl sends the body anyway after 1 s without an answer: a slow
     * (sanitized) server must not make it. */
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 30000L);
    expect_continue = false;
    if (source_option)
        curl_easy_setopt(c, CURLOPT_INTERFACE, source_option);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK && tolerate_no_answer)
        return; /* status 0 */
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->connects);
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    snprintf(out->type, sizeof out->type, "%s", type ? type : "");
    if (out->body && strncmp(out->type, "application/json", 16) == 0)
        out->json = json_loadb(out->body, out->len, JSON_ALLOW_NUL, NULL);
}

static void request(fx *f, const char *method, const char *path, const char *body, resp *out)
{
    request_on(f->c, f->base, method, path, body, -1, NULL, out);
}

/* The response must be JSON {"status": "error", "error": "..."} with status. */
static void expect_error(resp *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: status %ld, expected %ld (body %s)", what, r->status, status, r->body ? r->body : "");
    assert_string_equal(r->type, "application/json");
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "status")), "error");
    assert_true(json_is_string(json_object_get(r->json, "error")));
    assert_true(json_string_length(json_object_get(r->json, "error")) > 0);
}

static void expect_success(resp *r, const char *what)
{
    if (r->status != 200)
        fail_msg("%s: status %ld (body %s)", what, r->status, r->body ? r->body : "");
    assert_string_equal(r->type, "application/json");
    assert_non_null(r->json);
}

/* A CLOCK with every node 0..nodes-1: the counter of `id`. */
static json_int_t clock_at(const json_t *clock, uint32_t nodes, unsigned id)
{
    assert_true(json_is_object(clock));
    assert_int_equal(json_object_size(clock), nodes);
    char name[12];
    snprintf(name, sizeof name, "%u", id);
    json_t *v = json_object_get(clock, name);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Server options a test sets before its setup runs. */
static uint32_t ahead_wait_option = 1000, ahead_waiters_option = UINT32_MAX;
static const char *data_dir_option;  /* durable state here, in a 1 MiB map */
static size_t max_siblings_option;   /* 0: the node's default */
static size_t max_log_option;        /* 0: the node's default */

static int start(void **state, uint32_t nodes, cw_node_id self, const cw__http_options *ho, size_t max_value_len)
{
    tu_fail_alloc_off();
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    cw__server_options o;
    cw__server_options_init(&o);
    o.nodes = nodes;
    o.self = self;
    o.listen = "tcp://127.0.0.1:*";
    o.fresh = true;
    o.max_value_len = max_value_len;
    o.ahead_wait_ms = ahead_wait_option;
    o.ahead_waiters_max = ahead_waiters_option;
    o.max_siblings = max_siblings_option;
    o.max_log = max_log_option;
    if (data_dir_option) {
        o.data_dir = data_dir_option;
        o.map_size = (size_t)1 << 20;
    }
    const char *peers[2] = {"tcp://127.0.0.1:1", "tcp://127.0.0.1:1"};
    o.peers = peers;
    char err[256] = "";
    int rc = cw__server_start(&f->s, &o, err, sizeof err);
    if (rc != CW_OK)
        fail_msg("server: %s (%s)", cw_strerror(rc), err);
    rc = cw__http_start(&f->h, f->s, "127.0.0.1", 0, ho, err, sizeof err);
    if (rc != CW_OK)
        fail_msg("http: %s (%s)", cw_strerror(rc), err);
    assert_true(cw__http_port(f->h) != 0);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", (unsigned)cw__http_port(f->h));
    f->c = curl_easy_init();
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int setup_one(void **state) { return start(state, 1, 0, NULL, 0); }

/* A small body limit, value limit and siblings limit (2), to reach them
 * cheaply. */
static int setup_small(void **state)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.max_body = 64 * 1024;
    max_siblings_option = 2;
    int rc = start(state, 1, 0, &ho, 1000);
    max_siblings_option = 0;
    return rc;
}

/* Node 1 of 2 (its peer never there, so no tombstone is ever collected),
 * a key holding one version at most. */
static int setup_two_one_sibling(void **state)
{
    max_siblings_option = 1;
    int rc = start(state, 2, 1, NULL, 0);
    max_siblings_option = 0;
    return rc;
}

/* Node 1 of 2; its peer (node 0) is never there. */
static int setup_two(void **state) { return start(state, 2, 1, NULL, 0); }

/* The same, with room for 4 writes not yet stable. */
static int setup_two_small_log(void **state)
{
    max_log_option = 4;
    int rc = start(state, 2, 1, NULL, 0);
    max_log_option = 0;
    return rc;
}

static int teardown(void **state)
{
    fx *f = *state;
    curl_easy_cleanup(f->c);
    cw__http_stop(f->h);
    cw__server_stop(f->s);
    free(f);
    return 0;
}

/* ---- writes and reads ---- */

static void write_key(fx *f, const char *key_json, const char *value_json, resp *out)
{
    char body[4096];
    snprintf(body, sizeof body, "{\"key\": %s, \"value\": %s}", key_json, value_json);
    request(f, "POST", "/write", body, out);
}

static void test_round_trip_every_json_type(void **state)
{
    fx *f = *state;
    static const char *values[] = {
        "{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"}", "[1, \"x\", true, 2.5, []]", "\"caf\\u00e9 \\\"q\\\" \\n\"",
        "\"with \\u0000 nul\"", "42", "-1.5", "1e300", "true", "false", "null", "\"\"", "{}", "[]",
        "12345678901234"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char key[32], path[48];
        snprintf(key, sizeof key, "\"k%zu\"", i);
        snprintf(path, sizeof path, "/read/k%zu", i);
        resp w, r;
        write_key(f, key, values[i], &w);
        expect_success(&w, values[i]);
        assert_string_equal(json_string_value(json_object_get(w.json, "status")), "success");
        assert_int_equal(clock_at(json_object_get(w.json, "clock"), 1, 0), (json_int_t)i + 1);
        request(f, "GET", path, NULL, &r);
        expect_success(&r, path);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "success");
        json_t *expected = json_loads(values[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(expected);
        if (!json_equal(json_object_get(r.json, "value"), expected))
            fail_msg("value %s came back as %s", values[i], r.body);
        json_decref(expected);
        assert_true(json_equal(json_object_get(r.json, "clock"), json_object_get(w.json, "clock")));
        assert_int_equal(clock_at(json_object_get(r.json, "context"), 1, 0), (json_int_t)i + 1);
        assert_null(json_object_get(r.json, "siblings"));
        resp_free(&w);
        resp_free(&r);
    }
}

static void test_not_found(void **state)
{
    fx *f = *state;
    resp r;
    request(f, "GET", "/read/never-written", NULL, &r);
    expect_error(&r, 404, "read of a missing key");
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not found");
    assert_int_equal(clock_at(json_object_get(r.json, "context"), 1, 0), 0); /* covers nothing */
    resp_free(&r);
}

static void expect_read(fx *f, const char *path, const char *value_json)
{
    resp r;
    request(f, "GET", path, NULL, &r);
    expect_success(&r, path);
    json_t *expected = json_loads(value_json, JSON_DECODE_ANY, NULL);
    if (!json_equal(json_object_get(r.json, "value"), expected))
        fail_msg("%s: expected %s, got %s", path, value_json, r.body);
    json_decref(expected);
    resp_free(&r);
}

static void expect_missing(fx *f, const char *path)
{
    resp r;
    request(f, "GET", path, NULL, &r);
    expect_error(&r, 404, path);
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "CW_ENOTFOUND");
    resp_free(&r);
}

static void test_percent_encoded_keys(void **state)
{
    fx *f = *state;
    resp w;
    write_key(f, "\"a/b c\"", "1", &w);
    expect_success(&w, "a/b c");
    resp_free(&w);
    write_key(f, "\"caf\\u00e9\"", "2", &w);
    expect_success(&w, "café");
    resp_free(&w);
    write_key(f, "\"x\\u0000y\"", "3", &w);
    expect_success(&w, "x NUL y");
    resp_free(&w);
    write_key(f, "\"p+q?r#s%t\"", "4", &w);
    expect_success(&w, "p+q?r#s%t");
    resp_free(&w);
    write_key(f, "\"\"", "5", &w);
    expect_success(&w, "empty key");
    resp_free(&w);

    expect_read(f, "/read/a%2Fb%20c", "1");
    expect_read(f, "/read/a%2fb%20c", "1");
    expect_read(f, "/read/a/b%20c", "1");       /* a raw slash is part of the key */
    expect_read(f, "/read/caf%C3%A9", "2");
    expect_read(f, "/read/x%00y", "3");
    expect_missing(f, "/read/x");               /* the NUL does not cut the key */
    expect_read(f, "/read/p+q%3Fr%23s%25t", "4"); /* '+' is a plus, not a space */
    expect_read(f, "/read/", "5");
    expect_missing(f, "/read/a%2Fb+c");
    expect_missing(f, "/read/%zz");             /* a bad escape is kept as it is */
}

/* ---- contexts, siblings and deletes ---- */

static json_t *read_json(fx *f, const char *path)
{
    resp r;
    request(f, "GET", path, NULL, &r);
    expect_success(&r, path);
    json_t *j = json_incref(r.json);
    resp_free(&r);
    return j;
}

static void write_ctx(fx *f, const char *op, const char *key, const char *value, const json_t *context, long status)
{
    json_t *body = json_pack("{s:s}", "key", key);
    if (value)
        json_object_set_new(body, "value", json_loads(value, JSON_DECODE_ANY, NULL));
    if (context)
        json_object_set(body, "context", (json_t *)context);
    char *text = json_dumps(body, JSON_COMPACT);
    resp r;
    request(f, "POST", op, text, &r);
    if (r.status != status)
        fail_msg("%s %s: status %ld, expected %ld (%s)", op, text, r.status, status, r.body);
    free(text);
    json_decref(body);
    resp_free(&r);
}

static void test_siblings_and_deletes(void **state)
{
    fx *f = *state;
    write_ctx(f, "/write", "k", "1", NULL, 200);
    json_t *first = read_json(f, "/read/k");
    json_t *ctx = json_object_get(first, "context");
    /* Two context writes from the same read: siblings. */
    write_ctx(f, "/write", "k", "\"left\"", ctx, 200);
    write_ctx(f, "/write", "k", "\"right\"", ctx, 200);
    json_t *both = read_json(f, "/read/k");
    json_t *siblings = json_object_get(both, "siblings");
    assert_true(json_is_array(siblings));
    assert_int_equal(json_array_size(siblings), 2);
    bool seen_left = false, seen_right = false;
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_array_get(siblings, i);
        assert_int_equal(json_object_size(v), 2);
        const char *s = json_string_value(json_object_get(v, "value"));
        assert_non_null(s);
        seen_left |= strcmp(s, "left") == 0;
        seen_right |= strcmp(s, "right") == 0;
        clock_at(json_object_get(v, "clock"), 1, 0);
    }
    assert_true(seen_left && seen_right);
    /* value/clock are the first sibling's. */
    assert_true(json_equal(json_object_get(both, "value"), json_object_get(json_array_get(siblings, 0), "value")));
    assert_true(json_equal(json_object_get(both, "clock"), json_object_get(json_array_get(siblings, 0), "clock")));
    assert_int_equal(clock_at(json_object_get(both, "context"), 1, 0), 3);

    /* A write with the merged context replaces both. */
    write_ctx(f, "/write", "k", "\"merged\"", json_object_get(both, "context"), 200);
    json_t *one = read_json(f, "/read/k");
    assert_string_equal(json_string_value(json_object_get(one, "value")), "merged");
    assert_null(json_object_get(one, "siblings"));

    /* A delete with the read's context, then nothing; a plain delete too. */
    write_ctx(f, "/delete", "k", NULL, json_object_get(one, "context"), 200);
    expect_missing(f, "/read/k");
    write_ctx(f, "/write", "d", "[1]", NULL, 200);
    write_ctx(f, "/delete", "d", NULL, NULL, 200);
    expect_missing(f, "/read/d");
    /* "context": null is no context. */
    json_t *null_ctx = json_null();
    write_ctx(f, "/write", "n", "1", null_ctx, 200);
    json_decref(null_ctx);
    expect_read(f, "/read/n", "1");
    /* A context ahead of this node (it waits, then gives up): 409, told
     * apart from other 409s by its code. */
    resp r;
    request(f, "POST", "/write", "{\"key\": \"k\", \"value\": 2, \"context\": {\"0\": 1000}}", &r);
    expect_error(&r, 409, "context ahead");
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "CW_EAHEAD");
    resp_free(&r);
    /* An error the HTTP layer finds itself has no code. */
    request(f, "POST", "/write", "{\"value\": 2}", &r);
    expect_error(&r, 400, "no key");
    assert_null(json_object_get(r.json, "code"));
    resp_free(&r);
    json_decref(first);
    json_decref(both);
    json_decref(one);
}

/* A client that writes with an empty context never replaces what it wrote:
 * past --max-siblings (2 here) such a write is 409 and changes nothing,
 * while a write with a read's context resolves them. */
static void test_siblings_limit(void **state)
{
    fx *f = *state;
    json_t *none = json_object();
    write_ctx(f, "/write", "k", "1", none, 200);
    write_ctx(f, "/write", "k", "2", none, 200);
    json_t *before = read_json(f, "/read/k");
    assert_int_equal(json_array_size(json_object_get(before, "siblings")), 2);
    json_t *third = json_pack("{s:s,s:i,s:o}", "key", "k", "value", 3, "context", json_object());
    char *text = json_dumps(third, JSON_COMPACT);
    json_decref(third);
    resp r;
    request(f, "POST", "/write", text, &r);
    expect_error(&r, 409, "a third sibling");
    /* The library's reason, with the node's option for its limit. */
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")),
                           "more than --max-siblings versions (its context covers too few): read the key again"));
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "CW_ESIBLINGS");
    resp_free(&r);
    free(text);
    /* A delete with a context that covers neither would leave a third
     * version (a tombstone) too. */
    write_ctx(f, "/delete", "k", NULL, none, 409);
    json_t *after = read_json(f, "/read/k");
    assert_true(json_equal(before, after));
    resp m;
    request(f, "GET", "/metrics", NULL, &m);
    assert_non_null(strstr(m.body, "\ncauseway_refused_siblings_total 2\n"));
    resp_free(&m);
    write_ctx(f, "/write", "k", "3", json_object_get(after, "context"), 200);
    expect_read(f, "/read/k", "3");
    json_decref(none);
    json_decref(before);
    json_decref(after);
}

/* A deleted key reads as 404 with the read's context, which covers its
 * tombstone: a write with it replaces the tombstone, where one with an
 * empty context would be its sibling, past --max-siblings (1 here) while
 * the tombstone is not collected (node 0 never confirms it). */
static void test_a_deleted_key_reads_with_its_context(void **state)
{
    fx *f = *state;
    write_ctx(f, "/write", "t", "1", NULL, 200);
    json_t *one = read_json(f, "/read/t");
    write_ctx(f, "/delete", "t", NULL, json_object_get(one, "context"), 200);
    json_t *none = json_object();
    write_ctx(f, "/write", "t", "2", none, 409);
    resp r;
    request(f, "GET", "/read/t", NULL, &r);
    expect_error(&r, 404, "read of a deleted key");
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "CW_ENOTFOUND");
    json_t *ctx = json_incref(json_object_get(r.json, "context"));
    resp_free(&r);
    assert_int_equal(clock_at(ctx, 2, 1), 2); /* the write and its tombstone */
    write_ctx(f, "/write", "t", "2", ctx, 200);
    expect_read(f, "/read/t", "2");
    json_decref(ctx);
    json_decref(none);
    json_decref(one);
}

/* ---- bad requests ---- */

static json_t *status_json(fx *f)
{
    json_t *j = read_json(f, "/status");
    return j;
}

static void test_bad_requests_change_nothing(void **state)
{
    fx *f = *state;
    write_ctx(f, "/write", "keep", "{\"x\": 1}", NULL, 200);
    json_t *before = status_json(f);
    static const struct {
        const char *method, *path, *body;
        long status;
    } cases[] = {
        {"POST", "/write", "{not json", 400},
        {"POST", "/write", "", 400},
        {"POST", "/write", "[1, 2]", 400},
        {"POST", "/write", "\"str\"", 400},
        {"POST", "/write", "{\"value\": 1}", 400},
        {"POST", "/write", "{\"key\": 5, \"value\": 1}", 400},
        {"POST", "/write", "{\"key\": null, \"value\": 1}", 400},
        {"POST", "/write", "{\"key\": [\"k\"], \"value\": 1}", 400},
        {"POST", "/write", "{\"key\": \"keep\"}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"key\": \"x\", \"value\": 1}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1} trailing", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": \"0:1\"}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": [1]}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": 3}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"1\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"x\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"-0\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"00\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"0\\u0000\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"99999999999\": 0}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"0\": -1}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"0\": 1.5}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"0\": \"1\"}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"0\": null}}", 400},
        {"POST", "/write", "{\"key\": \"keep\", \"value\": 99999999999999999999999}", 400},
        {"POST", "/write", "{\"key\": \"\xff\xfe\", \"value\": 1}", 400},
        {"POST", "/delete", "{}", 400},
        {"POST", "/delete", "{\"key\": 1}", 400},
        {"POST", "/delete", "{\"key\": \"keep\", \"context\": {\"7\": 1}}", 400},
        {"POST", "/replicate", "", 400},
        {"POST", "/replicate", "garbage bytes", 400},
        {"POST", "/admin/link", "{\"from\": 0, \"to\": 0, \"action\": \"hold\"}", 400},
        {"POST", "/admin/link", "{\"from\": 0, \"to\": 5, \"action\": \"hold\"}", 400},
        {"POST", "/admin/link", "{\"from\": -1, \"to\": 0, \"action\": \"cut\"}", 400},
        {"POST", "/admin/link", "{\"from\": 0, \"to\": 0, \"action\": \"explode\"}", 400},
        {"POST", "/admin/link", "{\"from\": \"0\", \"to\": 0, \"action\": \"heal\"}", 400},
        {"POST", "/admin/link", "nope", 400},
        {"GET", "/", NULL, 404},
        {"GET", "/nope", NULL, 404},
        {"GET", "/read", NULL, 404},
        {"GET", "/statusx", NULL, 404},
        {"GET", "/write%20", NULL, 404},
        {"POST", "/nope", "{}", 404},
        {"GET", "/write", NULL, 405},
        {"GET", "/delete", NULL, 405},
        {"GET", "/replicate", NULL, 405},
        {"GET", "/admin/link", NULL, 405},
        {"PUT", "/write", "{\"key\": \"keep\", \"value\": 2}", 405},
        {"DELETE", "/read/keep", NULL, 405},
        {"POST", "/read/keep", "{}", 405},
        {"POST", "/status", "{}", 405},
        {"PATCH", "/metrics", "", 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp r;
        request(f, cases[i].method, cases[i].path, cases[i].body, &r);
        char what[256];
        snprintf(what, sizeof what, "%s %s %s", cases[i].method, cases[i].path, cases[i].body ? cases[i].body : "");
        expect_error(&r, cases[i].status, what);
        resp_free(&r);
    }
    /* The reasons say what was wrong. */
    resp r;
    request(f, "POST", "/write", "{not json", &r);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "bad JSON: "));
    resp_free(&r);
    request(f, "POST", "/write", "{\"key\": \"keep\", \"value\": 1, \"context\": {\"1\": 0}}", &r);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "context"));
    resp_free(&r);
    request(f, "GET", "/write", NULL, &r);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "not allowed"));
    resp_free(&r);

    json_t *after = status_json(f);
    if (!json_equal(before, after)) {
        char *a = json_dumps(before, 0), *b = json_dumps(after, 0);
        fail_msg("bad requests changed the node: %s -> %s", a, b);
    }
    json_decref(before);
    json_decref(after);
}

/* ---- body limits ---- */

/* Posts head, fill repeated n times, then tail (in body, room enough) to
 * /write: 413 with the error text want. */
static void over_limit(fx *f, char *body, const char *head, char fill, size_t n, const char *tail, const char *want)
{
    size_t at = strlen(head);
    memcpy(body, head, at);
    memset(body + at, fill, n);
    strcpy(body + at + n, tail);
    resp r;
    request_on(f->c, f->base, "POST", "/write", body, -1, NULL, &r);
    expect_error(&r, 413, want);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), want);
    resp_free(&r);
}

static void test_body_limits(void **state)
{
    fx *f = *state;
    json_t *before = status_json(f);
    size_t big = 200 * 1024; /* above the 64 KiB limit */
    char *body = malloc(big + 64);
    assert_non_null(body);
    int n = snprintf(body, big + 64, "{\"key\": \"big\", \"value\": \"");
    memset(body + n, 'v', big - (size_t)n - 2);
    memcpy(body + big - 2, "\"}", 3);
    resp r;
    /* Declared: refused before it is read (the client waits for the go-ahead,
     * as a client sending a large body does, so it never sends it). */
    expect_continue = true;
    request_on(f->c, f->base, "POST", "/write", body, (long)big, NULL, &r);
    expect_error(&r, 413, "declared body above max_body");
    resp_free(&r);
    /* Chunked, undeclared: discarded past the limit, then refused. */
    chunked ch = {big};
    request_on(f->c, f->base, "POST", "/write", NULL, 0, &ch, &r);
    expect_error(&r, 413, "chunked body above max_body");
    resp_free(&r);
    chunked huge = {(size_t)8 << 20};
    request_on(f->c, f->base, "POST", "/replicate", NULL, 0, &huge, &r);
    expect_error(&r, 413, "chunked 8 MiB");
    resp_free(&r);
    /* Chunked without end: past 64 MiB discarded the connection is closed,
     * unanswered (it was read for as long as it came: a connection held
     * for good by one that never ends). */
    chunked endless = {(size_t)80 << 20};
    tolerate_no_answer = true;
    request_on(f->c, f->base, "POST", "/write", NULL, 0, &endless, &r);
    tolerate_no_answer = false;
    if (r.status != 0)
        fail_msg("a chunked body of 80 MiB: status %ld, expected the connection closed", r.status);
    assert_true(endless.left > 0); /* not read to its end */
    resp_free(&r);
    /* A chunked body within the limit is read whole (and is bad JSON). */
    chunked small = {1000};
    request_on(f->c, f->base, "POST", "/write", NULL, 0, &small, &r);
    expect_error(&r, 400, "chunked small body");
    resp_free(&r);
    /* Within the body limit, above the node's value limit (1000): 413 from
     * the node, naming the limit passed (2002 bytes as compact JSON: quotes). */
    over_limit(f, body, "{\"key\": \"big\", \"value\": \"", 'v', 2000, "\"}",
               "the value is 2002 bytes as compact JSON; the limit is 1000");
    over_limit(f, body, "{\"key\": \"", 'k', 4097, "\", \"value\": 1}", "the key is 4097 bytes; the limit is 4096");
    /* A read of such a key says so too (it was 404, where a write or a
     * delete of it is 413). */
    char path[8 + 4097];
    memcpy(path, "/read/", 6);
    memset(path + 6, 'k', 4097);
    path[6 + 4097] = 0;
    request(f, "GET", path, NULL, &r);
    expect_error(&r, 413, "a read of a key over the limit");
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "the key is 4097 bytes; the limit is 4096");
    resp_free(&r);
    free(body);
    /* The connection is still usable, and nothing changed. */
    json_t *after = status_json(f);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    write_ctx(f, "/write", "small", "1", NULL, 200);
}

/* ---- status, metrics ---- */

static void test_status_shape(void **state)
{
    fx *f = *state;
    write_ctx(f, "/write", "a", "{\"n\": 1}", NULL, 200);
    write_ctx(f, "/write", "gone", "1", NULL, 200);
    write_ctx(f, "/delete", "gone", NULL, NULL, 200);
    json_t *r = read_json(f, "/read/a");
    write_ctx(f, "/write", "s", "1", NULL, 200);
    json_t *rs = read_json(f, "/read/s");
    write_ctx(f, "/write", "s", "2", json_object_get(rs, "context"), 200);
    write_ctx(f, "/write", "s", "3", json_object_get(rs, "context"), 200);
    resp w;
    write_key(f, "\"nul\\u0000key\"", "true", &w);
    expect_success(&w, "key with NUL");
    resp_free(&w);

    resp resp_;
    request(f, "GET", "/status", NULL, &resp_);
    expect_success(&resp_, "/status");
    json_t *st = resp_.json;
    assert_int_equal(json_integer_value(json_object_get(st, "node")), 0);
    assert_true(json_is_integer(json_object_get(st, "node")));
    assert_int_equal(clock_at(json_object_get(st, "clock"), 1, 0), 7);
    assert_true(json_is_integer(json_object_get(st, "pending")));
    assert_int_equal(json_integer_value(json_object_get(st, "pending")), 0);
    clock_at(json_object_get(st, "stable"), 1, 0);
    json_t *data = json_object_get(st, "data");
    assert_true(json_is_object(data));
    assert_int_equal(json_object_size(data), 3); /* a, s, nul key; "gone" is omitted */
    json_t *a = json_object_get(data, "a");
    assert_int_equal(json_object_size(a), 2);
    assert_true(json_equal(json_object_get(a, "value"), json_object_get(r, "value")));
    assert_true(json_equal(json_object_get(a, "clock"), json_object_get(r, "clock")));
    json_t *s = json_object_get(data, "s");
    assert_int_equal(json_object_size(s), 1);
    json_t *sib = json_object_get(s, "siblings");
    assert_int_equal(json_array_size(sib), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_true(json_is_integer(json_object_get(json_array_get(sib, i), "value")));
        clock_at(json_object_get(json_array_get(sib, i), "clock"), 1, 0);
    }
    json_t *nul = json_object_get(data, "0x6e756c006b6579"); /* "nul\0key" in hex */
    assert_non_null(nul);
    assert_true(json_is_true(json_object_get(nul, "value")));
    assert_null(json_object_get(data, "gone"));
    resp_free(&resp_);
    json_decref(r);
    json_decref(rs);
}

/* A TCP connection to the node's HTTP port, its receive buffer rcvbuf
 * bytes (0: the kernel's default). */
static int raw_connect(fx *f, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(cw__http_port(f->h))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends raw bytes on a new connection and reads the answer's status
 * (0: the connection closed or reset without one), and its text into
 * `text` (cap bytes, nullable). A client slow to read: it reads 100 ms
 * after sending, so a reset the server caused comes first. */
static int raw_status(fx *f, const char *head, size_t body_len, char *text, size_t cap)
{
    int fd = raw_connect(f, 0);
    int status = 0;
    if (send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head)) {
        static char body[64 * 1024];
        memset(body, 'v', sizeof body);
        for (size_t sent = 0; sent < body_len;) { /* a reset may stop it: then the answer tells */
            size_t n = body_len - sent < sizeof body ? body_len - sent : sizeof body;
            ssize_t k = send(fd, body, n, MSG_NOSIGNAL);
            if (k <= 0)
                break;
            sent += (size_t)k;
        }
    }
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    char buf[1024];
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    if (got > 12 && memcmp(buf, "HTTP/1.1 ", 9) == 0) {
        status = atoi(buf + 9);
        buf[got] = 0;
        if (text)
            snprintf(text, cap, "%s", buf);
    }
    close(fd);
    return status;
}

/* Sends raw bytes on a new connection and reads until the server closes
 * it (or 5 s pass: then fails); what came, into text. */
static void raw_until_closed(fx *f, const char *bytes, char *text, size_t cap)
{
    int fd = raw_connect(f, 0);
    struct timeval tv = {5, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(send(fd, bytes, strlen(bytes), MSG_NOSIGNAL), (ssize_t)strlen(bytes));
    size_t len = 0;
    for (;;) {
        ssize_t got = recv(fd, text + len, cap - 1 - len, 0);
        if (got == 0 || (got < 0 && errno == ECONNRESET))
            break;
        if (got < 0)
            fail_msg("the connection stayed open (%s); so far: %.*s", strerror(errno), (int)len, text);
        len += (size_t)got;
        assert_true(len < cap - 1);
    }
    text[len] = '\0';
    close(fd);
}

/* Sends bytes and asserts the one answer that comes before the connection
 * closes: 400, naming why when why is not NULL (nothing after the request's
 * head was read as another request). */
static void refused_400_alone(fx *f, const char *bytes, const char *why)
{
    char text[4096];
    raw_until_closed(f, bytes, text, sizeof text);
    assert_true(strncmp(text, "HTTP/1.1 400", 12) == 0);
    if (why)
        assert_non_null(strstr(text, why));
    assert_null(strstr(text + 12, "HTTP/1.1 ")); /* one answer */
}

/* A request framed both by Content-Length and by Transfer-Encoding, or by
 * Transfer-Encoding on two lines (how a request is smuggled past a proxy
 * that reads the other framing), is 400 and its connection closes, so a
 * request after it on that connection is not served; a transfer coding
 * other than chunked is refused at once (501; libmicrohttpd 1.0 answers 400
 * itself), where it was left waiting for a body it could not frame. */
static void test_a_body_framed_twice_or_by_another_coding_is_refused(void **state)
{
    fx *f = *state;
    char text[4096];
    /* One answer each: the pipelined request was not read. */
    refused_400_alone(f,
                      "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "0\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\n",
                      "both Content-Length and Transfer-Encoding");
    refused_400_alone(f,
                      "POST /write HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
                      "0\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\n",
                      NULL);
    raw_until_closed(f, "POST /write HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxyz", text, sizeof text);
    assert_true(strncmp(text, "HTTP/1.1 501", 12) == 0 || strncmp(text, "HTTP/1.1 400", 12) == 0);
    /* chunked alone is served. */
    assert_int_equal(raw_status(f,
                                "POST /write HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "1c\r\n{\"key\": \"c\", \"value\": 12345}\r\n0\r\n\r\n",
                                0, NULL, 0),
                     200);
}

/* A header name with whitespace before its colon, or another byte that is
 * not a token's, is 400 and its connection closes (RFC 9112, 5.1):
 * libmicrohttpd takes "Content-Length :" or "Content-Length\v:"
 * for another header and frames no body by it, where a proxy that trims
 * the name frames one, so the body was served as the next request on the
 * connection (a request smuggled past the proxy); "Transfer-Encoding :"
 * beside a Content-Length was framed by the Content-Length alone. */
static void test_a_header_name_not_a_token_is_refused(void **state)
{
    fx *f = *state;
    /* One answer each: the body was not read as a request. */
    refused_400_alone(f,
                      "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length : 24\r\n\r\n"
                      "{\"key\": \"w\", \"value\": 1}",
                      "a header name that is not a token");
    refused_400_alone(f,
                      "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 24\r\nTransfer-Encoding\t: chunked\r\n\r\n"
                      "{\"key\": \"w\", \"value\": 1}",
                      NULL);
    refused_400_alone(f,
                      "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length\v: 24\r\n\r\n"
                      "{\"key\": \"w\", \"value\": 1}",
                      NULL);
    assert_int_equal(raw_status(f, "GET /read/w HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL, 0), 404); /* nothing made */
    assert_int_equal(raw_status(f, "GET /status HTTP/1.1\r\nHost: x\r\nX-A:  b \r\n\r\n", 0, NULL, 0), 200);
}

/* A body declared over max_body and sent at once, without waiting for a
 * go-ahead (no Expect: 100-continue), is read and discarded, and the 413
 * comes after it: answered at once, the close met the body still arriving
 * and the client's TCP reset destroyed the 413 in some tries (over a real
 * network; on this loopback the 413 came through even then, so this part
 * holds the behaviour, not the race). Content-Length given twice (which one
 * frames the body?) is 400. */
static void test_too_large_is_answered_not_reset(void **state)
{
    fx *f = *state;
    char head[256];
    size_t len = 300 * 1024; /* setup_small: max_body 64 KiB */
    snprintf(head, sizeof head,
             "POST /write HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             len);
    for (int i = 0; i < 5; i++)
        assert_int_equal(raw_status(f, head, len, NULL, 0), 413);
    char text[1024] = "";
    assert_int_equal(raw_status(f,
                                "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                "Content-Length: 40\r\n\r\n{}",
                                0, text, sizeof text),
                     400);
    assert_non_null(strstr(text, "Content-Length given twice"));
}

/* RFC 9112, 3.2: an HTTP/1.1 request without a Host line, or with two, is
 * 400 (once served); HTTP/1.0 needs none. */
static void test_http_1_1_without_host_is_refused(void **state)
{
    fx *f = *state;
    char text[1024] = "";
    assert_int_equal(raw_status(f, "GET /status HTTP/1.1\r\n\r\n", 0, text, sizeof text), 400);
    assert_non_null(strstr(text, "an HTTP/1.1 request without Host"));
    assert_int_equal(raw_status(f, "POST /write HTTP/1.1\r\nContent-Length: 24\r\n\r\n{\"key\": \"h\", \"value\": 1}", 0,
                                text, sizeof text),
                     400);
    assert_int_equal(raw_status(f, "GET /status HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 0, text, sizeof text),
                     400);
    assert_non_null(strstr(text, "Host given twice"));
    assert_int_equal(raw_status(f, "GET /status HTTP/1.1\r\nhost: x\r\n\r\n", 0, NULL, 0), 200);
    /* HTTP/1.0 needs no Host (MHD answers it in HTTP/1.0 or 1.1). */
    int fd = raw_connect(f, 0);
    struct timeval tv = {5, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    const char *get = "GET /read/h HTTP/1.0\r\n\r\n";
    assert_int_equal(send(fd, get, strlen(get), MSG_NOSIGNAL), (ssize_t)strlen(get));
    char head[16] = "";
    assert_true(recv(fd, head, 12, MSG_WAITALL) == 12);
    close(fd);
    assert_memory_equal(head + 8, " 404", 4); /* not found: the POST above was refused, nothing made */
}

/* A gauge or counter of /metrics. */
static uint64_t metric_of(fx *f, const char *name)
{
    resp r;
    request(f, "GET", "/metrics", NULL, &r);
    char line[128];
    snprintf(line, sizeof line, "\n%s ", name);
    const char *at = r.body ? strstr(r.body, line) : NULL;
    assert_non_null(at);
    uint64_t v = strtoull(at + strlen(line), NULL, 10);
    resp_free(&r);
    return v;
}

/* /status answers held at once (from setup_status_budget: any one). */
static int setup_status_budget(void **state)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.answers_held_max = 1;
    return start(state, 1, 0, &ho, 0);
}

/* A connection that asks for path and reads only the status line of the
 * answer, leaving the rest unread (more than the kernel's buffers take). */
static int slow_reader(fx *f, const char *path)
{
    int fd = raw_connect(f, 4096);
    char get[128];
    int len = snprintf(get, sizeof get, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(send(fd, get, (size_t)len, MSG_NOSIGNAL), (ssize_t)len);
    char head[64];
    assert_true(recv(fd, head, sizeof head, MSG_WAITALL) == (ssize_t)sizeof head);
    assert_memory_equal(head, "HTTP/1.1 200", 12);
    return fd;
}

/* GET path until it is 200 again (the large answers held were freed). */
static void await_served(fx *f, const char *path)
{
    long status = 0;
    for (int i = 0; i < 500 && status != 200; i++) {
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        resp r;
        request(f, "GET", path, NULL, &r);
        status = r.status;
        if (status == 200 && strcmp(path, "/status") == 0)
            assert_int_equal(json_object_size(json_object_get(r.json, "data")), 2);
        resp_free(&r);
    }
    assert_int_equal(status, 200);
}

/* A write to key of a string value of len 'v's, checked to succeed: with
 * "context": {} when `sibling` (it names no version, so the write is a
 * sibling of every version of the key). */
static void write_long_string(fx *f, const char *key, size_t len, bool sibling)
{
    char *body = malloc(len + 96);
    assert_non_null(body);
    int at = snprintf(body, 96, "{\"key\": \"%s\", %s\"value\": \"", key, sibling ? "\"context\": {}, " : "");
    memset(body + at, 'v', len);
    strcpy(body + at + len, "\"}");
    resp r;
    request(f, "POST", "/write", body, &r);
    expect_success(&r, "write");
    resp_free(&r);
    free(body);
}

/* n siblings of 1 MB under key "k". */
static void write_siblings_of_1mb(fx *f, int n)
{
    for (int i = 0; i < n; i++)
        write_long_string(f, "k", (1u << 20) - 16, true);
}

/* Slow readers cannot pile up copies of the store or of a large key (here
 * twelve siblings of 1 MB): while one reader leaves a 12 MB /status unread,
 * /status and reads of large keys past the bound are 503 with Retry-After,
 * other routes (a small key) are served, and once that reader goes, they
 * are answered again. A slow reader of a large key holds the bound the
 * same way. */
static void test_slow_status_readers_are_bounded(void **state)
{
    fx *f = *state;
    write_siblings_of_1mb(f, 12);
    resp r;
    request(f, "POST", "/write", "{\"key\": \"small\", \"value\": 1}", &r);
    expect_success(&r, "write");
    resp_free(&r);

    int fd = slow_reader(f, "/status");
    request(f, "GET", "/status", NULL, &r);
    expect_error(&r, 503, "a second /status while the first is unread");
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "large answers"));
    resp_free(&r);
    char text[1024] = "";
    assert_int_equal(raw_status(f, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", 0, text, sizeof text), 503);
    assert_non_null(strstr(text, "\r\nRetry-After: 1\r\n"));
    request(f, "GET", "/read/k", NULL, &r);
    expect_error(&r, 503, "a large key's read while /status is unread");
    resp_free(&r);
    request(f, "GET", "/read/small", NULL, &r);
    expect_success(&r, "a small read meanwhile");
    resp_free(&r);
    /* what holds, and what was refused */
    assert_true(metric_of(f, "causeway_http_large_answers_refused_total") >= 3);
    assert_true(metric_of(f, "causeway_http_large_answers_held_bytes") > 12000000);
    close(fd); /* the reader goes: its answer is freed */
    await_served(f, "/status");

    fd = slow_reader(f, "/read/k");
    request(f, "GET", "/status", NULL, &r);
    expect_error(&r, 503, "/status while a large read is unread");
    resp_free(&r);
    request(f, "GET", "/read/k", NULL, &r);
    expect_error(&r, 503, "a second large read while the first is unread");
    resp_free(&r);
    close(fd);
    await_served(f, "/read/k");
    await_served(f, "/status");
}

/* Bodies held at once: two half-sent bodies of 30,000 bytes (32 KiB of
 * room each), and each body at most 40,000 bytes. */
static int setup_bodies_budget(void **state)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.max_body = 40000;
    ho.bodies_held_max = 65536;
    return start(state, 1, 0, &ho, 0);
}

/* Waits (up to 5 s) for the bodies being received to hold `bytes`. */
static void await_bodies_held(fx *f, uint64_t bytes)
{
    uint64_t held = 0;
    for (int i = 0; i < 500 && (held = metric_of(f, "causeway_http_bodies_held_bytes")) != bytes; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    assert_int_equal(held, bytes);
}

/* A connection that sends a POST's headers and `sent` bytes of its body,
 * and no more. */
static int slow_sender(fx *f, size_t declared, size_t sent)
{
    int fd = raw_connect(f, 0);
    char head[160];
    int len = snprintf(head, sizeof head, "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", declared);
    assert_int_equal(send(fd, head, (size_t)len, MSG_NOSIGNAL), (ssize_t)len);
    static char body[64 * 1024];
    memset(body, ' ', sizeof body);
    assert_true(sent <= sizeof body);
    assert_int_equal(send(fd, body, sent, MSG_NOSIGNAL), (ssize_t)sent);
    return fd;
}

/* Slow senders of large bodies cannot make the node hold connections x
 * --max-body: the bodies being received hold a bound between them, and a
 * request whose body would pass it is 503 (with Retry-After), changing
 * nothing, until they complete or go. */
static void test_slow_senders_of_bodies_are_bounded(void **state)
{
    fx *f = *state;
    int a = slow_sender(f, 39000, 30000), b = slow_sender(f, 39000, 30000);
    await_bodies_held(f, 65536);
    resp r;
    request(f, "POST", "/write", "{\"key\": \"k\", \"value\": 1}", &r);
    expect_error(&r, 503, "a write while two half-sent bodies hold the bound");
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "bodies of requests"));
    resp_free(&r);
    char text[1024] = "";
    assert_int_equal(raw_status(f, "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", 5, text,
                                sizeof text), 503);
    assert_non_null(strstr(text, "\r\nRetry-After: 1\r\n"));
    expect_missing(f, "/read/k");
    assert_int_equal(metric_of(f, "causeway_http_bodies_refused_total"), 2);
    close(a); /* one sender goes: its room is free again */
    await_bodies_held(f, 32768);
    request(f, "POST", "/write", "{\"key\": \"k\", \"value\": 1}", &r);
    expect_success(&r, "a write once a sender went");
    resp_free(&r);
    expect_read(f, "/read/k", "1");
    close(b);
    await_bodies_held(f, 0);
    assert_int_equal(metric_of(f, "causeway_http_json_weight_held"), 0); /* nothing parsed is left held */
}

/* Node 1 of 2, large answers held at once: any one. */
static int setup_two_budget(void **state)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.answers_held_max = 1;
    return start(state, 2, 1, &ho, 0);
}

/* A read is large by its text too: 50,000 bytes that are not UTF-8 show
 * as 100,000 hex digits, past 64 KiB, so while a /status is unread its
 * read is 503 as a large key's is; a small key is served. */
static void test_a_read_large_by_its_text_is_bounded(void **state)
{
    fx *f = *state; /* node 1 of 2 */
    write_siblings_of_1mb(f, 12);
    size_t vlen = 50000, cap = vlen + 1024;
    char *value = malloc(vlen);
    uint8_t *buf = malloc(cap);
    assert_non_null(value);
    assert_non_null(buf);
    memset(value, 0xff, vlen);
    uint64_t clock[2] = {1, 0};
    cw_hlc_timestamp ts = {.wall_ms = 1000, .counter = 0, .node = 0};
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, 0, &ts, clock, 2, "b", 1, value, vlen), CW_OK);
    size_t len;
    assert_int_equal(cw_msg_encode(m, buf, cap, &len), CW_OK);
    cw_msg_unref(m);
    resp r;
    request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len, NULL, &r);
    expect_success(&r, "replicate");
    resp_free(&r);
    free(buf);
    free(value);
    request(f, "GET", "/read/b", NULL, &r);
    expect_success(&r, "the read alone");
    assert_true(r.len > 100000);
    resp_free(&r);
    write_ctx(f, "/write", "small", "1", NULL, 200);
    int fd = slow_reader(f, "/status");
    request(f, "GET", "/read/b", NULL, &r);
    expect_error(&r, 503, "a read large by its text while /status is unread");
    resp_free(&r);
    expect_read(f, "/read/small", "1");
    close(fd);
    await_served(f, "/read/b");
}

/* What Jansson holds for the server's threads (the test's own thread, which
 * parses the answers, is left out), and the most it held since a mark.
 * malloc_usable_size sizes each block, so a block Jansson allocated and
 * the server frees with free() (a json_dumps text) stays counted: only
 * the rise from a mark is looked at. Relaxed: counts, nothing they order. */
static pthread_t counting_thread;
static _Atomic size_t jansson_live, jansson_peak;

static void *counted_malloc(size_t n)
{
    void *p = malloc(n);
    if (p && !pthread_equal(pthread_self(), counting_thread)) {
        size_t now = atomic_fetch_add_explicit(&jansson_live, malloc_usable_size(p), memory_order_relaxed) +
                     malloc_usable_size(p);
        size_t peak = atomic_load_explicit(&jansson_peak, memory_order_relaxed);
        while (now > peak && !atomic_compare_exchange_weak_explicit(&jansson_peak, &peak, now, memory_order_relaxed,
                                                                    memory_order_relaxed))
            ;
    }
    return p;
}

static void counted_free(void *p)
{
    if (p && !pthread_equal(pthread_self(), counting_thread))
        atomic_fetch_sub_explicit(&jansson_live, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

/* The most Jansson held above what it held before, for the server's
 * threads, while GET path was answered (the caller checks it was 200,
 * once Jansson has its own allocator back). */
static size_t jansson_rise_of_read(fx *f, const char *path, resp *r)
{
    size_t before = atomic_load_explicit(&jansson_live, memory_order_relaxed);
    atomic_store_explicit(&jansson_peak, before, memory_order_relaxed);
    request(f, "GET", path, NULL, r);
    return atomic_load_explicit(&jansson_peak, memory_order_relaxed) - before;
}

/* Every value a read shows is parsed (a stored value may not be JSON), and
 * a value of 1 MiB can take ~80 MB parsed ([{},{},...]): a read of a key's
 * siblings holds one such parse at a time, not one for each sibling (20
 * siblings of 1 MiB took a node from 154 MB to 1.8 GB for one read, and
 * --max-siblings allows 1,024). Here 8 siblings of 4,000 empty objects
 * each: the read of all 8 takes less than twice what the read of one
 * takes. */
static void test_a_read_parses_one_sibling_at_a_time(void **state)
{
    fx *f = *state;
    enum { ELEMENTS = 4000, SIBLINGS = 8 };
    char *body = malloc(64 + 3 * ELEMENTS);
    assert_non_null(body);
    for (int i = 0; i <= SIBLINGS; i++) {
        /* "one" holds one version, "many" SIBLINGS ({} covers none). */
        size_t at = (size_t)sprintf(body, "{\"key\": \"%s\", \"context\": {}, \"value\": [", i ? "many" : "one");
        for (int e = 0; e < ELEMENTS; e++)
            at += (size_t)sprintf(body + at, e ? ",{}" : "{}");
        strcpy(body + at, "]}");
        resp r;
        request(f, "POST", "/write", body, &r);
        expect_success(&r, "write");
        resp_free(&r);
    }
    free(body);
    counting_thread = pthread_self();
    json_malloc_t was_malloc;
    json_free_t was_free;
    json_get_alloc_funcs(&was_malloc, &was_free);
    json_set_alloc_funcs(counted_malloc, counted_free); /* both sides free with free(): blocks may cross */
    resp one, many;
    size_t rise_one = jansson_rise_of_read(f, "/read/one", &one);
    size_t rise_many = jansson_rise_of_read(f, "/read/many", &many);
    json_set_alloc_funcs(was_malloc, was_free);
    expect_success(&one, "/read/one");
    expect_success(&many, "/read/many");
    json_t *siblings = json_object_get(many.json, "siblings");
    assert_int_equal(json_array_size(siblings), SIBLINGS);
    for (size_t i = 0; i < SIBLINGS; i++) {
        json_t *v = json_object_get(json_array_get(siblings, i), "value");
        assert_int_equal(json_array_size(v), ELEMENTS);
        assert_true(json_equal(v, json_object_get(one.json, "value")));
    }
    if (rise_many >= 2 * rise_one)
        fail_msg("a read of %d siblings held %zu bytes parsed at once, one of a single version %zu", SIBLINGS,
                 rise_many, rise_one);
    resp_free(&one);
    resp_free(&many);
}

/* A value nested as deep as the body may be would nest up to five levels
 * deeper in /status (a sibling's value), past what Jansson (and so every
 * client of /status built on it) reads: the deepest /status can carry is
 * taken, one level more is 400. Only arrays and objects count as levels. */
static void write_nested(fx *f, int depth, resp *r)
{
    size_t cap = 64 + 2 * (size_t)depth;
    char *body = malloc(cap);
    assert_non_null(body);
    int n = snprintf(body, cap, "{\"key\": \"deep\", \"value\": ");
    memset(body + n, '[', (size_t)depth);
    body[n + depth] = '1';
    memset(body + n + depth + 1, ']', (size_t)depth);
    memcpy(body + n + 2 * depth + 1, "}", 2);
    request(f, "POST", "/write", body, r);
    free(body);
}

static void test_deep_values_keep_status_readable(void **state)
{
    fx *f = *state;
    resp r;
    write_nested(f, 2044, &r);
    expect_error(&r, 400, "a value /status could not carry");
    resp_free(&r);
    write_nested(f, 2043, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* A value that came by another way (a peer, a client) nested deeper is
     * shown as its text, a string, so /status stays readable. */
    enum { DEEPER = 2047 };
    char *text = malloc(2 * DEEPER + 1);
    assert_non_null(text);
    memset(text, '[', DEEPER);
    memset(text + DEEPER, ']', DEEPER);
    cw_vclock clock;
    cw_vclock_init(&clock);
    assert_int_equal(cw__server_write(f->s, "deeper", 6, text, 2 * DEEPER, NULL, false, &clock), CW_OK);
    cw_vclock_destroy(&clock);
    json_t *st = status_json(f); /* fails the test if Jansson cannot read it */
    assert_non_null(json_object_get(json_object_get(st, "data"), "deep"));
    json_t *shown = json_object_get(json_object_get(json_object_get(st, "data"), "deeper"), "value");
    assert_true(json_is_string(shown));
    assert_int_equal(json_string_length(shown), 2 * DEEPER);
    json_decref(st);
    free(text);
}

/* /status lists the keys in the byte order of their names, whatever order
 * the store's hash table (seeded per process) visits them in: two nodes
 * with the same data show the same text. */
static void test_status_lists_keys_in_order(void **state)
{
    fx *f = *state;
    static const char *const keys[] = {"m", "b", "zz", "a", "k10", "k2", "k1", "Z", "y", "ab", "c", "0"};
    enum { N = sizeof keys / sizeof *keys };
    for (size_t i = 0; i < N; i++)
        write_ctx(f, "/write", keys[i], "1", NULL, 200);
    json_t *st = status_json(f);
    json_t *data = json_object_get(st, "data");
    assert_int_equal(json_object_size(data), N);
    const char *last = NULL;
    for (void *it = json_object_iter(data); it; it = json_object_iter_next(data, it)) {
        const char *name = json_object_iter_key(it);
        if (last)
            assert_true(strcmp(last, name) < 0);
        last = name;
    }
    json_decref(st);
}

/* Node 0's write with this clock, key and value, encoded into buf; its
 * length. */
static size_t encoded_write(const uint64_t clock[2], const char *key, size_t key_len, const char *value,
                            size_t value_len, uint8_t buf[256])
{
    cw_hlc_timestamp ts = {.wall_ms = 1000, .counter = 0, .node = 0};
    cw_msg *m;
    assert_int_equal(cw_msg_create(&m, 0, &ts, clock, 2, key, key_len, value, value_len), CW_OK);
    size_t len;
    assert_int_equal(cw_msg_encode(m, buf, 256, &len), CW_OK);
    cw_msg_unref(m);
    return len;
}

/* Node 0's write with this clock, key (text) and value, taken by POST
 * /replicate at node 1 of 2. */
static void replicate(fx *f, const uint64_t clock[2], const char *key, const char *value, size_t value_len)
{
    uint8_t buf[256];
    size_t len = encoded_write(clock, key, strlen(key), value, value_len, buf);
    resp r;
    request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len, NULL, &r);
    expect_success(&r, "replicate");
    resp_free(&r);
}

/* A key that is not text shows in /status by its "0x" hex name, unless a
 * text key has that name: then the text key alone is shown under it,
 * whichever was written first. */
static void test_status_text_key_wins_its_name(void **state)
{
    fx *f = *state; /* node 1 of 2 */
    static const char *const bin[] = {"\xff\x01", "\xfe"}, *const name[] = {"0xff01", "0xfe"};
    for (uint64_t i = 0; i < 2; i++) {
        if (i == 1) /* the text key first */
            write_ctx(f, "/write", name[i], "\"text\"", NULL, 200);
        uint64_t clock[2] = {i + 1, i == 1};
        replicate(f, clock, bin[i], "\"bytes\"", 7);
        if (i == 0) /* the text key after */
            write_ctx(f, "/write", name[i], "\"text\"", NULL, 200);
    }
    json_t *st = status_json(f);
    json_t *data = json_object_get(st, "data");
    assert_int_equal(json_object_size(data), 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(json_string_value(json_object_get(json_object_get(data, name[i]), "value")), "text");
    json_decref(st);
    expect_read(f, "/read/%FF%01", "\"bytes\"");
    expect_read(f, "/read/%FE", "\"bytes\"");
}

/* With --allow, POST /replicate is taken only from the addresses it lists,
 * as the node's links are: from elsewhere 403 before the body is read, and
 * nothing changes. */
static void test_replicate_only_from_allowed_addresses(void **state)
{
    (void)state;
    const char *lists[2] = {"10.0.0.0/8,fd00::/8", "192.168.0.0/16,127.0.0.1"};
    for (int admitted = 0; admitted < 2; admitted++) {
        cw__allow allow;
        char err[160];
        assert_int_equal(cw__allow_parse(&allow, lists[admitted], err, sizeof err), CW_OK);
        cw__http_options ho;
        cw__http_options_init(&ho);
        ho.replicate_allow = &allow;
        void *st = NULL;
        start(&st, 2, 1, &ho, 0); /* node 1 of 2 */
        fx *f = st;
        uint64_t clock[2] = {1, 0};
        uint8_t buf[256];
        size_t len = encoded_write(clock, "r", 1, "1", 1, buf);
        resp r;
        request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len, NULL, &r);
        if (admitted) {
            expect_success(&r, "replicate from an allowed address");
            expect_read(f, "/read/r", "1");
        } else {
            expect_error(&r, 403, "replicate from another address");
            assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "--allow"));
            assert_null(json_object_get(r.json, "code"));
            expect_missing(f, "/read/r");
        }
        resp_free(&r);
        /* A link cut is an operator's, and taken from the same addresses. */
        const char *cut = "{\"from\": 0, \"to\": 1, \"action\": \"cut\"}";
        request(f, "POST", "/admin/link", cut, &r);
        if (admitted)
            expect_success(&r, "cut from an allowed address");
        else
            expect_error(&r, 403, "cut from another address");
        resp_free(&r);
        /* Other methods are not writes: 405 as anywhere. */
        request(f, "GET", "/replicate", NULL, &r);
        expect_error(&r, 405, "GET /replicate");
        resp_free(&r);
        teardown(&st);
    }
}

/* A connection to 127.0.0.1:port from loopback address `from` (host order)
 * that has sent nothing yet (as a slow sender's headers that never end);
 * its descriptor. */
static int idle_connection(uint16_t port, uint32_t from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in source = {.sin_family = AF_INET};
    source.sin_addr.s_addr = htonl(from);
    assert_int_equal(bind(fd, (struct sockaddr *)&source, sizeof source), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* One address holds at most max_per_address connections: one more is closed
 * as it is accepted, while another address is served. 256 connections that
 * sent a header line every 15 s from one host held every slot, and no
 * client was answered for as long as they went on. */
static void test_connections_per_address(void **state)
{
    fx *f = *state;
    cw__http_options ho;
    cw__http_options_init(&ho);
    assert_int_equal(ho.max_per_address, 128);
    ho.max_per_address = 4;
    cw__http *h = NULL;
    char err[160];
    assert_int_equal(cw__http_start(&h, f->s, "127.0.0.1", 0, &ho, err, sizeof err), CW_OK);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)cw__http_port(h));
    int held[4];
    for (int i = 0; i < 4; i++)
        held[i] = idle_connection(cw__http_port(h), INADDR_LOOPBACK);
    /* Each accepted (and counted) before the next connection: MHD's pool
     * threads accept in their own time. */
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    resp r;
    tolerate_no_answer = true;
    CURL *c = curl_easy_init(); /* a connection of its own, not one the fixture's handle keeps */
    assert_non_null(c);
    request_on(c, base, "POST", "/write", "{\"key\": \"a\", \"value\": 1}", -1, NULL, &r);
    tolerate_no_answer = false;
    assert_int_equal(r.status, 0);
    resp_free(&r);
    source_option = "127.0.0.2";
    request_on(c, base, "POST", "/write", "{\"key\": \"a\", \"value\": 2}", -1, NULL, &r);
    source_option = NULL;
    expect_success(&r, "a write from another address");
    resp_free(&r);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    /* Their slots come free once the server has seen them closed. */
    tolerate_no_answer = true;
    for (int tries = 0; tries < 100; tries++) {
        curl_easy_cleanup(c);
        c = curl_easy_init();
        request_on(c, base, "POST", "/write", "{\"key\": \"a\", \"value\": 3}", -1, NULL, &r);
        if (r.status == 200)
            break;
        resp_free(&r);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    tolerate_no_answer = false;
    expect_success(&r, "a write from 127.0.0.1 once its connections closed");
    resp_free(&r);
    curl_easy_cleanup(c);
    cw__http_stop(h);
}

/* Node 1 of 2 takes node 0's writes by POST /replicate. Keys that are not
 * UTF-8 (they come from a peer, never from JSON) show in /status as "0x"
 * hex; a value that is not JSON as a string, or in hex. */
/* With --http-allow, a connection from elsewhere is closed as it is
 * accepted: no answer, nothing changes, and it is counted. From 127.0.0.2
 * (loopback too) the same server answers. */
static void test_connections_only_from_allowed_addresses(void **state)
{
    fx *f = *state; /* node 0 of 1, its own API open to all */
    cw__allow allow;
    char err[160];
    assert_int_equal(cw__allow_parse(&allow, "10.0.0.0/8,127.0.0.2", err, sizeof err), CW_OK);
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.allow = &allow;
    cw__http *h = NULL;
    assert_int_equal(cw__http_start(&h, f->s, "127.0.0.1", 0, &ho, err, sizeof err), CW_OK);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)cw__http_port(h));
    resp r;
    tolerate_no_answer = true;
    for (int i = 0; i < 3; i++) {
        request_on(f->c, base, "POST", "/write", "{\"key\": \"a\", \"value\": 1}", -1, NULL, &r);
        assert_int_equal(r.status, 0);
        resp_free(&r);
    }
    tolerate_no_answer = false;
    expect_missing(f, "/read/a");
    source_option = "127.0.0.2";
    request_on(f->c, base, "POST", "/write", "{\"key\": \"a\", \"value\": 1}", -1, NULL, &r);
    expect_success(&r, "a write from an allowed address");
    resp_free(&r);
    request_on(f->c, base, "GET", "/metrics", NULL, -1, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "# TYPE causeway_http_refused_connections_total counter\n"));
    assert_non_null(strstr(r.body, "\ncauseway_http_refused_connections_total 3\n"));
    resp_free(&r);
    source_option = NULL;
    cw__http_stop(h);
    expect_read(f, "/read/a", "1");
    /* Without a list the metric is not shown. */
    request(f, "GET", "/metrics", NULL, &r);
    assert_null(strstr(r.body, "causeway_http_refused_connections_total"));
    resp_free(&r);
}

static void test_replicate_and_link(void **state)
{
    fx *f = *state; /* node 1 of 2 */
    uint64_t clock[2] = {1, 0};
    /* Node 0's first write, key not UTF-8, value not JSON. */
    uint8_t buf[256];
    size_t len = encoded_write(clock, "\xff\x01", 2, "not json", 8, buf);
    resp r;
    request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len, NULL, &r);
    expect_success(&r, "replicate");
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "success");
    resp_free(&r);
    request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len, NULL, &r);
    expect_success(&r, "replicate a duplicate");
    resp_free(&r);
    request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len - 1, NULL, &r);
    expect_error(&r, 400, "replicate truncated");
    assert_string_equal(json_string_value(json_object_get(r.json, "code")), "CW_EINVAL");
    resp_free(&r);
    /* A write of node 0's that depends on a write node 1 never made: 400,
     * and node 1 goes on taking writes (the write of "w" below). */
    uint64_t forged[2] = {2, 1000000};
    len = encoded_write(forged, "f", 1, "1", 1, buf);
    request_on(f->c, f->base, "POST", "/replicate", (const char *)buf, (long)len, NULL, &r);
    expect_error(&r, 400, "replicate a write that depends on node 1's future");
    resp_free(&r);
    /* Node 0's second write: a text key, a value that is neither JSON nor UTF-8. */
    clock[0] = 2;
    replicate(f, clock, "t", "\xc3\x28", 2);

    json_t *st = status_json(f);
    json_t *data = json_object_get(st, "data");
    json_t *bin = json_object_get(data, "0xff01");
    assert_non_null(bin);
    assert_string_equal(json_string_value(json_object_get(bin, "value")), "not json");
    assert_int_equal(clock_at(json_object_get(bin, "clock"), 2, 0), 1);
    assert_int_equal(clock_at(json_object_get(bin, "clock"), 2, 1), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "t"), "value")), "0xc328");
    assert_int_equal(clock_at(json_object_get(st, "clock"), 2, 0), 2);
    json_decref(st);
    expect_read(f, "/read/%FF%01", "\"not json\"");
    /* A write here, with a context naming both nodes. */
    write_ctx(f, "/write", "w", "1", NULL, 200);
    json_t *rd = read_json(f, "/read/w");
    assert_int_equal(clock_at(json_object_get(rd, "clock"), 2, 1), 1);
    assert_int_equal(clock_at(json_object_get(rd, "clock"), 2, 0), 2);
    write_ctx(f, "/write", "w", "2", json_object_get(rd, "context"), 200);
    json_decref(rd);

    /* Links into this node. */
    static const char *ok[] = {"hold", "release", "cut", "heal"};
    for (size_t i = 0; i < 4; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"from\": 0, \"to\": 1, \"action\": \"%s\"}", ok[i]);
        request(f, "POST", "/admin/link", body, &r);
        expect_success(&r, body);
        resp_free(&r);
    }
    request(f, "POST", "/admin/link", "{\"from\": 1, \"to\": 1, \"action\": \"hold\"}", &r);
    expect_error(&r, 400, "link to itself");
    resp_free(&r);
    request(f, "POST", "/admin/link", "{\"from\": 2, \"to\": 1, \"action\": \"hold\"}", &r);
    expect_error(&r, 400, "link from a node out of range");
    resp_free(&r);
}

static void test_metrics(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 3; i++)
        write_ctx(f, "/write", "m", "1", NULL, 200);
    resp r;
    request(f, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(r.body);
    static const char *counters[] = {"causeway_writes_total", "causeway_deliveries_total",
                                     "causeway_duplicates_total", "causeway_retransmitted_total",
                                     "causeway_recovered_total", "causeway_link_full_total",
                                     "causeway_refused_peer_total", "causeway_malformed_total",
                                     "causeway_wire_bytes_in_total", "causeway_wire_bytes_out_total",
                                     "causeway_http_large_answers_refused_total",
                                     "causeway_http_bodies_refused_total", "causeway_rejected_full_total",
                                     "causeway_rejected_memory_total"};
    static const char *gauges[] = {"causeway_buffered", "causeway_log_entries", "causeway_joining",
                                   "causeway_http_large_answers_held_bytes", "causeway_http_bodies_held_bytes"};
    char line[160];
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        snprintf(line, sizeof line, "# TYPE %s counter\n", counters[i]);
        assert_non_null(strstr(r.body, line));
        snprintf(line, sizeof line, "# HELP %s ", counters[i]);
        assert_non_null(strstr(r.body, line));
    }
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++) {
        snprintf(line, sizeof line, "# TYPE %s gauge\n", gauges[i]);
        assert_non_null(strstr(r.body, line));
    }
    assert_non_null(strstr(r.body, "\ncauseway_writes_total 3\n"));
    assert_non_null(strstr(r.body, "\ncauseway_rejected_memory_total 0\n"));
    assert_non_null(strstr(r.body, "\ncauseway_joining 0\n"));
    assert_non_null(strstr(r.body, "# TYPE causeway_buffering_latency_seconds summary\n"));
    assert_non_null(strstr(r.body, "\ncauseway_buffering_latency_seconds{quantile=\"0.5\"} "));
    assert_non_null(strstr(r.body, "\ncauseway_buffering_latency_seconds{quantile=\"0.99\"} "));
    assert_non_null(strstr(r.body, "\ncauseway_buffering_latency_seconds{quantile=\"0.999\"} "));
    assert_non_null(strstr(r.body, "\ncauseway_buffering_latency_seconds_count 0\n"));
    /* One node: the per-peer families, with no peer in them. */
    static const char *per_peer[] = {"causeway_stability_waits_for", "causeway_peer_heard",
                                     "causeway_peer_silence_seconds"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(line, sizeof line, "# TYPE %s gauge\n", per_peer[i]);
        assert_non_null(strstr(r.body, line));
        snprintf(line, sizeof line, "\n%s{", per_peer[i]);
        assert_null(strstr(r.body, line));
    }
    /* Every line is a comment or "name[{labels}] value". */
    for (char *p = r.body; *p;) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (*p != '#') {
            char *sp = memchr(p, ' ', (size_t)(nl - p));
            assert_non_null(sp);
            assert_true(strncmp(p, "causeway_", 9) == 0);
            char *end;
            strtod(sp + 1, &end);
            assert_ptr_equal(end, nl);
        }
        p = nl + 1;
    }
    resp_free(&r);
}

/* Node 1 of 2 with room for 4 writes not yet stable, node 0 never there:
 * the writes after those 4 are 503 stalled, and once stability has waited
 * on node 0 (two report intervals) the answer names it and says nothing
 * has come from it, as /metrics does. (paused.sh sees a peer heard, then
 * silent.) */
static void test_a_stall_names_the_node_it_waits_for(void **state)
{
    fx *f = *state;
    resp r;
    int made = 0;
    for (;;) {
        write_key(f, "\"s\"", "1", &r);
        if (r.status != 200)
            break;
        resp_free(&r);
        assert_true(++made <= 4);
    }
    assert_int_equal(made, 4);
    const char *why = "";
    for (int tries = 0;; tries++) { /* the blocker is named after two report intervals */
        expect_error(&r, 503, "a write past --max-log");
        assert_string_equal(json_string_value(json_object_get(r.json, "code")), "CW_ESTALLED");
        why = json_string_value(json_object_get(r.json, "error"));
        if (strstr(why, "(cut off, stopped or gone)") || tries == 100)
            break;
        resp_free(&r);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        write_key(f, "\"s\"", "1", &r);
    }
    if (!strstr(why, "stalled: --max-log of this node's writes wait for node 0 to confirm them; nothing has come "
                     "from it since this node started, ") ||
        !strstr(why, " s ago (cut off, stopped or gone)"))
        fail_msg("the stall's reason: %s", why);
    double said = strtod(strstr(why, "started, ") + strlen("started, "), NULL);
    assert_true(said > 0.0);
    resp_free(&r);
    request(f, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\ncauseway_stability_waits_for{peer=\"0\"} 1\n"));
    assert_non_null(strstr(r.body, "\ncauseway_peer_heard{peer=\"0\"} 0\n"));
    const char *q = strstr(r.body, "\ncauseway_peer_silence_seconds{peer=\"0\"} ");
    assert_non_null(q);
    /* said was rounded to 0.1 s, and the silence has only grown since. */
    assert_true(strtod(q + strlen("\ncauseway_peer_silence_seconds{peer=\"0\"} "), NULL) >= said - 0.05);
    assert_null(strstr(r.body, "{peer=\"1\"}")); /* itself */
    resp_free(&r);
}

/* ---- connections ---- */

static void test_keep_alive(void **state)
{
    fx *f = *state;
    long connects = 0;
    for (int i = 0; i < 100; i++) {
        resp r;
        if (i % 3 == 0)
            write_key(f, "\"ka\"", "1", &r);
        else if (i % 3 == 1)
            request(f, "GET", "/read/ka", NULL, &r);
        else
            request(f, "GET", "/nope", NULL, &r); /* errors keep the connection too */
        connects += r.connects;
        resp_free(&r);
    }
    assert_int_equal(connects, 1);
}

typedef struct client {
    const char *base;
    int id, writes;
    int failures;
} client;

static void *client_main(void *arg)
{
    client *cl = arg;
    CURL *c = curl_easy_init();
    if (!c) {
        cl->failures++;
        return NULL;
    }
    for (int i = 0; i < cl->writes; i++) {
        char body[96], path[64];
        snprintf(body, sizeof body, "{\"key\": \"c%d-%d\", \"value\": [%d, %d]}", cl->id, i, cl->id, i);
        snprintf(path, sizeof path, "/read/c%d-%d", cl->id, i);
        resp r;
        memset(&r, 0, sizeof r);
        request_on(c, cl->base, "POST", "/write", body, -1, NULL, &r);
        cl->failures += r.status != 200;
        resp_free(&r);
        request_on(c, cl->base, "GET", path, NULL, -1, NULL, &r);
        cl->failures += r.status != 200;
        resp_free(&r);
        request_on(c, cl->base, "GET", i % 2 ? "/status" : "/metrics", NULL, -1, NULL, &r);
        cl->failures += r.status != 200;
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_many_clients(void **state)
{
    fx *f = *state;
    enum { CLIENTS = 6, WRITES = 40 };
    pthread_t th[CLIENTS];
    client cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){f->base, i, WRITES, 0};
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(cl[i].failures, 0);
    }
    json_t *st = status_json(f);
    assert_int_equal(clock_at(json_object_get(st, "clock"), 1, 0), CLIENTS * WRITES);
    assert_int_equal(json_object_size(json_object_get(st, "data")), CLIENTS * WRITES);
    json_decref(st);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The default connection limit (256) reached with keep-alive connections
 * (from two addresses, each at its limit of 128), each thread at its share
 * (128): every request sent on them at once is
 * answered at once, and a stop with them all still open is prompt. (On
 * epoll, libmicrohttpd 0.9.75 slept its whole timeout when exactly its
 * batch of 128 connections was ready, and those requests waited 60 s to be
 * closed unanswered; and the stop waited as long.) */
static void test_a_full_house_is_answered_and_stops(void **state)
{
    fx *f = *state;
    enum { CONNS = 256 };
    int fd[CONNS];
    for (int i = 0; i < CONNS; i++) /* from 127.0.0.1 and 127.0.0.2, 128 each: one address's limit */
        fd[i] = idle_connection(cw__http_port(f->h), INADDR_LOOPBACK + (uint32_t)(i / 128));
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL); /* every connection accepted first */
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < CONNS; i++)
        assert_int_equal(send(fd[i], get, sizeof get - 1, 0), (ssize_t)(sizeof get - 1));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int answered = 0;
    bool seen[CONNS] = {0};
    while (answered < CONNS && seconds_since(&t0) < 10) {
        struct pollfd p[CONNS];
        for (int i = 0; i < CONNS; i++)
            p[i] = (struct pollfd){.fd = seen[i] ? -1 : fd[i], .events = POLLIN};
        if (poll(p, CONNS, 100) <= 0)
            continue;
        for (int i = 0; i < CONNS; i++)
            if (p[i].revents) {
                char buf[4096];
                ssize_t got = recv(fd[i], buf, sizeof buf, 0);
                assert_true(got > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0); /* answered, not closed */
                seen[i] = true;
                answered++;
            }
    }
    assert_int_equal(answered, CONNS);
    assert_true(seconds_since(&t0) < 5);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cw__http_stop(f->h); /* every connection still open, idle */
    f->h = NULL;
    assert_true(seconds_since(&t0) < 5);
    for (int i = 0; i < CONNS; i++)
        close(fd[i]);
}

/* A write whose context is ahead holds its HTTP thread while it waits: at
 * most threads - 1 wait at once, so the other thread serves everyone else
 * (two such writes used to stall every client for the whole wait). */
typedef struct waiter {
    const char *base;
    const char *body; /* NULL: a write whose context is ahead */
    long status;
    char error[160];  /* the error's reason, if any */
} waiter;

static void *post_ahead(void *arg)
{
    waiter *w = arg;
    CURL *c = curl_easy_init();
    resp r;
    request_on(c, w->base, "POST", "/write",
               w->body ? w->body : "{\"key\": \"a\", \"value\": 1, \"context\": {\"0\": 99}}", -1, NULL, &r);
    w->status = r.status;
    const char *why = r.json ? json_string_value(json_object_get(r.json, "error")) : NULL;
    snprintf(w->error, sizeof w->error, "%s", why ? why : "");
    resp_free(&r);
    curl_easy_cleanup(c);
    return NULL;
}

static int setup_waiting(void **state)
{
    ahead_wait_option = 6000;
    ahead_waiters_option = 1; /* the node sets --http-threads - 1: two threads here */
    int rc = start(state, 1, 0, NULL, 0);
    ahead_wait_option = 1000;
    ahead_waiters_option = UINT32_MAX;
    return rc;
}

static void test_waiting_writes_leave_a_thread(void **state)
{
    fx *f = *state;
    waiter first = {f->base, NULL, 0, ""};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_ahead, &first), 0);
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL); /* it waits now (it has 6 s to) */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    waiter second = {f->base, NULL, 0, ""};
    post_ahead(&second);
    assert_int_equal(second.status, 409); /* at once, not after 6 s */
    resp r;
    request(f, "GET", "/status", NULL, &r);
    expect_success(&r, "status while a write waits");
    resp_free(&r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (s > 3.0)
        fail_msg("a second ahead write and a status took %.2f s while the first waited", s);
    pthread_join(t, NULL);
    assert_int_equal(first.status, 409); /* after its wait */
}

/* A write that waits for a context ahead has let go of its body: beside
 * one padded to 39,000 bytes (40,000 of the bound's 65,536 while it was
 * read), another padded to 30,000 is taken while the first waits. */
static void test_a_waiting_write_holds_no_body(void **state)
{
    fx *f = *state;
    static char ahead[39100], other[30100];
    int len = snprintf(ahead, sizeof ahead, "{\"key\": \"a\", \"value\": 1, \"context\": {\"0\": 99}");
    memset(ahead + len, ' ', 39000 - (size_t)len);
    strcpy(ahead + 39000, "}");
    len = snprintf(other, sizeof other, "{\"key\": \"b\", \"value\": 2");
    memset(other + len, ' ', 30000 - (size_t)len);
    strcpy(other + 30000, "}");
    waiter first = {f->base, ahead, 0, ""};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_ahead, &first), 0);
    nanosleep(&(struct timespec){0, 400 * 1000 * 1000}, NULL); /* it waits now (for 1 s) */
    waiter second = {f->base, other, 0, ""};
    post_ahead(&second);
    assert_int_equal(second.status, 200);
    pthread_join(t, NULL);
    assert_int_equal(first.status, 409);
    expect_read(f, "/read/b", "2");
}

/* Bodies up to 4 MiB, values up to the default 1 MiB. */
static int setup_large_bodies(void **state)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.max_body = (size_t)4 << 20;
    return start(state, 1, 0, &ho, 0);
}

/* A body is weighed before it is parsed: one heavier than any write (its
 * value's compact JSON, its key, a whole context) is 413 before Jansson
 * builds it (a 1.2 MB array of zeros takes ~30 MB parsed), and whitespace
 * weighs nothing, so a large body that is a small write is taken. */
static void test_a_body_heavier_than_any_write_is_not_parsed(void **state)
{
    fx *f = *state;
    size_t zeros = 600000, len = 0;
    char *body = malloc(2 * zeros + 64);
    assert_non_null(body);
    len += (size_t)sprintf(body, "{\"key\": \"w\", \"value\": [");
    for (size_t i = 0; i < zeros; i++)
        body[len++] = '0', body[len++] = ',';
    len += (size_t)sprintf(body + len - 1, "]}") - 1;
    resp r;
    request_on(f->c, f->base, "POST", "/write", body, (long)len, NULL, &r);
    expect_error(&r, 413, "a body heavier than any write");
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "weighs"));
    resp_free(&r);
    free(body);
    expect_missing(f, "/read/w");

    size_t pad = (size_t)3 << 20;
    body = malloc(pad + 64);
    assert_non_null(body);
    len = (size_t)sprintf(body, "{\"key\": \"p\", \"value\":");
    memset(body + len, ' ', pad);
    len += pad;
    len += (size_t)sprintf(body + len, "[1,\t2]}");
    request_on(f->c, f->base, "POST", "/write", body, (long)len, NULL, &r);
    expect_success(&r, "3 MiB of whitespace around a small value");
    resp_free(&r);
    free(body);
    expect_read(f, "/read/p", "[1, 2]");

    /* A number weighs one unit up to 1 KiB, then its length: Jansson
     * copies a token whole (a number of 2 MiB digits took 2x its length). */
    body = malloc(((size_t)2 << 20) + 64);
    assert_non_null(body);
    len = (size_t)sprintf(body, "{\"key\": \"n\", \"value\": 1.");
    memset(body + len, '0', (size_t)2 << 20);
    len += (size_t)2 << 20;
    len += (size_t)sprintf(body + len, "}");
    request_on(f->c, f->base, "POST", "/write", body, (long)len, NULL, &r);
    expect_error(&r, 413, "a number of 2 MiB digits");
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "weighs"));
    resp_free(&r);
    len = (size_t)sprintf(body, "{\"key\": \"n\", \"value\": 1.%01000d}", 0);
    request_on(f->c, f->base, "POST", "/write", body, (long)len, NULL, &r);
    expect_success(&r, "a number of 1,002 characters");
    resp_free(&r);
    free(body);
    expect_read(f, "/read/n", "1.0");
}

/* Eight HTTP threads; the JSON being parsed weighs at most the heaviest
 * write's weight (1,052,944 units). */
static int setup_parse_budget(void **state)
{
    cw__http_options ho;
    cw__http_options_init(&ho);
    ho.parse_max = 1;
    ho.threads = 8;
    return start(state, 1, 0, &ho, 0);
}

/* The JSON bodies being parsed weigh at most a bound between them: eight
 * clients at once writing values of 300,000 zeros (~600,000 units each,
 * more than half the bound; tens of ms to parse) are each taken or told
 * 503 for the bound, never anything else, and some are told 503 while
 * another parses. Up to ten rounds, to meet a moment when two overlap. */
static void test_bodies_being_read_weigh_a_bound(void **state)
{
    fx *f = *state;
    enum { CLIENTS = 8, ZEROS = 300000 };
    char *body = malloc(2 * ZEROS + 64);
    assert_non_null(body);
    size_t len = (size_t)sprintf(body, "{\"key\": \"z\", \"value\": [");
    for (size_t i = 0; i < ZEROS; i++)
        body[len++] = '0', body[len++] = ',';
    strcpy(body + len - 1, "]}");
    waiter w[CLIENTS];
    int refused = 0, taken = 0;
    for (int round = 0; round < 10 && !refused; round++) {
        pthread_t t[CLIENTS];
        for (int i = 0; i < CLIENTS; i++) {
            w[i] = (waiter){f->base, body, 0, ""};
            assert_int_equal(pthread_create(&t[i], NULL, post_ahead, &w[i]), 0);
        }
        for (int i = 0; i < CLIENTS; i++) {
            pthread_join(t[i], NULL);
            if (w[i].status != 200 && (w[i].status != 503 || !strstr(w[i].error, "JSON being parsed")))
                fail_msg("a heavy write among others: status %ld (%s)", w[i].status, w[i].error);
            refused += w[i].status == 503;
            taken += w[i].status == 200;
        }
    }
    free(body);
    assert_true(refused > 0);
    assert_true(taken > 0);
    write_ctx(f, "/write", "small", "1", NULL, 200); /* the bound let go of them all */
}

/* A gate in Jansson's allocator: armed, the first block of at least
 * GATE_BLOCK bytes a thread other than the test's asks for waits until the
 * gate is opened (or 30 s pass), so a server thread can be held in the
 * middle of a value's parse; later blocks pass. Only a parse of a value
 * over 512 KiB asks for one that large here. Under gate_lock. */
enum { GATE_BLOCK = 512 * 1024 };
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_moved = PTHREAD_COND_INITIALIZER;
static enum { GATE_OPEN, GATE_ARMED, GATE_HOLDING } gate;
static pthread_t gate_spared; /* the test's thread */

static struct timespec in_30_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 30;
    return t;
}

static void *gated_malloc(size_t n)
{
    if (n >= GATE_BLOCK) {
        pthread_mutex_lock(&gate_lock);
        if (gate == GATE_ARMED && !pthread_equal(pthread_self(), gate_spared)) {
            gate = GATE_HOLDING;
            pthread_cond_broadcast(&gate_moved);
            struct timespec until = in_30_s();
            while (gate == GATE_HOLDING && pthread_cond_timedwait(&gate_moved, &gate_lock, &until) == 0)
                ;
        }
        pthread_mutex_unlock(&gate_lock);
    }
    return malloc(n);
}

/* Waits (up to 30 s) for a thread to be held at the gate. */
static bool gate_holds(void)
{
    struct timespec until = in_30_s();
    pthread_mutex_lock(&gate_lock);
    while (gate != GATE_HOLDING && pthread_cond_timedwait(&gate_moved, &gate_lock, &until) == 0)
        ;
    bool holds = gate == GATE_HOLDING;
    pthread_mutex_unlock(&gate_lock);
    return holds;
}

static void gate_set(int to)
{
    pthread_mutex_lock(&gate_lock);
    gate = to;
    gate_spared = pthread_self();
    pthread_cond_broadcast(&gate_moved);
    pthread_mutex_unlock(&gate_lock);
}

/* A GET made on a thread of its own, on a connection of its own. */
typedef struct getter {
    const char *base, *path;
    resp r;
} getter;

static void *get_main(void *arg)
{
    getter *g = arg;
    CURL *c = curl_easy_init();
    request_on(c, g->base, "GET", g->path, NULL, -1, NULL, &g->r);
    curl_easy_cleanup(c);
    return NULL;
}

/* What test_answers_parse_within_the_bound sets up around its gate, in
 * one place so that its teardown puts it back after a failed assertion
 * too: Jansson's allocator, and the read held at the gate (its getter
 * static, outliving the test's frame). */
static struct {
    bool set, started;
    json_malloc_t was_malloc;
    json_free_t was_free;
    pthread_t t;
    getter first;
} gated;

/* Opens the gate, waits for the held read's thread and gives Jansson its
 * allocator back: each only if it was done. */
static void gate_restore(void)
{
    gate_set(GATE_OPEN);
    if (gated.started)
        pthread_join(gated.t, NULL);
    if (gated.set)
        json_set_alloc_funcs(gated.was_malloc, gated.was_free);
    gated.started = gated.set = false;
}

static int teardown_gate(void **state)
{
    gate_restore();
    return teardown(state);
}

/* The values an answer parses to show them count in the bound on the JSON
 * being parsed, as request bodies do: 8 threads reading a 1 MiB
 * [{},{},...] value each held ~80 MB parsed at once (a node went from 90 MB
 * to 492 MB), and nothing bounded it. Here a read of a 600,000-byte string
 * (600,002 units, more than half of the bound of 1,052,944) is held in the
 * middle of its parse: meanwhile a second read of it, and a /status that
 * shows it after a small key, are 503 with Retry-After ("try again"),
 * counted as refused, while a read of the small key is served; once the
 * first read is answered, the second is served and nothing stays held. */
static void test_answers_parse_within_the_bound(void **state)
{
    fx *f = *state;
    enum { LEN = 600000 };
    write_long_string(f, "heavy", LEN, false);
    write_ctx(f, "/write", "a", "1", NULL, 200);

    json_get_alloc_funcs(&gated.was_malloc, &gated.was_free);
    json_set_alloc_funcs(gated_malloc, free);
    gated.set = true;
    gate_set(GATE_ARMED);
    getter *first = &gated.first;
    *first = (getter){f->base, "/read/heavy", {0}};
    assert_int_equal(pthread_create(&gated.t, NULL, get_main, first), 0);
    gated.started = true;
    bool held = gate_holds();
    if (!held) /* nothing below would be held either: fail at once, not after its 30 s gates */
        gate_set(GATE_OPEN);
    /* Meanwhile, on new connections: the thread serving the first read's
     * serves nothing else until it is let go. */
    curl_easy_cleanup(f->c);
    f->c = curl_easy_init();
    assert_non_null(f->c);
    uint64_t weight = held ? metric_of(f, "causeway_http_json_weight_held") : 0;
    resp second, status, small;
    request(f, "GET", "/read/heavy", NULL, &second);
    request(f, "GET", "/status", NULL, &status);
    request(f, "GET", "/read/a", NULL, &small);
    char text[1024] = "";
    int raw = raw_status(f, "GET /read/heavy HTTP/1.1\r\nHost: x\r\n\r\n", 0, text, sizeof text);
    gate_restore();

    assert_true(held);
    expect_success(&first->r, "the read held in its parse");
    assert_int_equal(json_string_length(json_object_get(first->r.json, "value")), LEN);
    if (second.status != 503)
        fail_msg("a second read of the heavy value while the first parses it: %ld, not 503", second.status);
    assert_int_equal(weight, LEN + 2); /* the first read's parse, counted while it lasts */
    expect_error(&second, 503, "a second read of the heavy value");
    assert_non_null(strstr(json_string_value(json_object_get(second.json, "error")), "try again"));
    expect_error(&status, 503, "/status, which shows the heavy value after \"a\"");
    assert_non_null(strstr(json_string_value(json_object_get(status.json, "error")), "JSON being parsed"));
    expect_success(&small, "a read of a small value meanwhile");
    assert_int_equal(raw, 503);
    assert_non_null(strstr(text, "\r\nRetry-After: 1\r\n"));
    assert_int_equal(metric_of(f, "causeway_http_json_weight_refused_total"), 3);
    resp_free(&first->r);
    resp_free(&second);
    resp_free(&status);
    resp_free(&small);

    expect_read(f, "/read/a", "1");
    resp r;
    request(f, "GET", "/read/heavy", NULL, &r);
    expect_success(&r, "the heavy read once the first is answered");
    resp_free(&r);
    request(f, "GET", "/status", NULL, &r);
    expect_success(&r, "/status once the first is answered");
    assert_int_equal(json_object_size(json_object_get(r.json, "data")), 2);
    resp_free(&r);
    assert_int_equal(metric_of(f, "causeway_http_json_weight_held"), 0); /* nothing parsed is left held */
}

/* A node with --data in a fresh directory whose 1 MiB map soon fills. */
static char durable_dir[64];

static int setup_durable(void **state)
{
    snprintf(durable_dir, sizeof durable_dir, "/tmp/cw-test-http-XXXXXX");
    assert_non_null(mkdtemp(durable_dir));
    char data[96];
    snprintf(data, sizeof data, "%s/data", durable_dir);
    data_dir_option = data;
    int rc = start(state, 1, 0, NULL, 100000);
    data_dir_option = NULL;
    return rc;
}

static int teardown_durable(void **state)
{
    teardown(state);
    const char *files[] = {"data/data.mdb", "data/lock.mdb", "data/causeway.lock", "data"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", durable_dir, files[i]);
        if (unlink(p) != 0)
            rmdir(p);
    }
    rmdir(durable_dir);
    return 0;
}

/* A write made but not saved (the map is full) answers 500 with the reason,
 * not 503: a client must not take it for refused and retry it (a retry may
 * write twice). Writes after it are refused (503: not made). */
/* The body of write n of a run that fills a durable node's 1 MiB map: a
 * value of 10,000 bytes. */
static const char *filling_write(int n)
{
    static char body[10100], value[10001];
    if (!value[0])
        memset(value, 'v', sizeof value - 1);
    snprintf(body, sizeof body, "{\"key\": \"f%d\", \"value\": \"%s\"}", n, value);
    return body;
}

static void test_a_write_not_saved_is_500_not_503(void **state)
{
    fx *f = *state;
    long status = 200;
    int made = 0;
    for (; made < 1000; made++) {
        const char *body = filling_write(made);
        resp w;
        request(f, "POST", "/write", body, &w);
        status = w.status;
        if (status != 200) {
            expect_error(&w, 500, "the write whose save failed");
            assert_string_equal(json_string_value(json_object_get(w.json, "error")), cw_strerror(CW_EUNSAVED));
            resp_free(&w);
            break;
        }
        resp_free(&w);
    }
    assert_int_equal(status, 500);
    assert_true(made > 10); /* the map took some: it is the full map that failed */
    resp after, st;
    write_key(f, "\"after\"", "1", &after);
    expect_error(&after, 503, "a write after the failed save");
    resp_free(&after);
    /* The status shows the node's clock, with the unsaved write's dot in
     * it: refused too, saying why. /metrics shows no clock and answers. */
    request(f, "GET", "/status", NULL, &st);
    expect_error(&st, 503, "status after the failed save");
    assert_non_null(strstr(json_string_value(json_object_get(st.json, "error")), "could not be saved"));
    resp_free(&st);
    request(f, "GET", "/metrics", NULL, &st);
    assert_int_equal(st.status, 200);
    resp_free(&st);
}

/* Random and mutated bodies on every route: never a crash, never a 5xx,
 * and a request that fails changes nothing it should not. */
static void test_random_input(void **state)
{
    fx *f = *state;
    static const char *paths[] = {"/write", "/delete", "/replicate", "/admin/link", "/read/x", "/status",
                                  "/metrics", "/zzz"};
    static const char *seeds[] = {
        "{\"key\": \"k\", \"value\": {\"a\": [1, 2]}, \"context\": {\"0\": 1}}",
        "{\"from\": 0, \"to\": 0, \"action\": \"hold\"}", "{\"key\": \"\\u00e9\", \"value\": \"\\ud83d\\ude00\"}"};
    char body[256];
    for (int i = 0; i < 400; i++) {
        size_t len;
        if (tu_below(2)) {
            len = tu_below(sizeof body);
            for (size_t j = 0; j < len; j++)
                body[j] = (char)tu_below(256);
        } else {
            const char *s = seeds[tu_below(3)];
            len = strlen(s);
            memcpy(body, s, len);
            for (int k = 0; k < 3; k++)
                body[tu_below(len)] = (char)tu_below(256);
        }
        const char *path = paths[tu_below(sizeof paths / sizeof paths[0])];
        resp r;
        request_on(f->c, f->base, tu_below(4) ? "POST" : "GET", path, body, (long)len, NULL, &r);
        TU_CHECK(r.status >= 200 && r.status < 500);
        TU_CHECK(r.status == 200 || (r.json && json_is_string(json_object_get(r.json, "error"))));
        resp_free(&r);
    }
    json_t *st = status_json(f);
    assert_non_null(json_object_get(st, "data"));
    json_decref(st);
}

/* Allocations of this library failing one by one (failalloc.c: libcurl,
 * libmicrohttpd and Jansson allocate on their own): every request is
 * answered, 200 or 500, and a write that failed is not half made. */
static void test_out_of_memory(void **state)
{
    fx *f = *state;
    static const char *paths[] = {"/write", "/read/k1", "/status", "/metrics", "/read/k0"};
    long answered_500 = 0, no_answer = 0;
    for (long k = 0; k < 60; k++) {
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
            char body[96];
            snprintf(body, sizeof body, "{\"key\": \"k%ld\", \"value\": {\"n\": %ld}}", k % 2, k);
            resp r;
            tolerate_no_answer = true;
            tu_fail_alloc_after(k);
            request(f, p == 0 ? "POST" : "GET", paths[p], p == 0 ? body : NULL, &r);
            tu_fail_alloc_off();
            tolerate_no_answer = false;
            if (r.status == 0)
                no_answer++;
            else if (r.status == 500)
                answered_500++;
            else if (!(r.status == 200 || (r.status == 404 && p > 0 && p != 2 && p != 3)))
                fail_msg("%s with allocation %ld failing: %ld %s", paths[p], k, r.status, r.body ? r.body : "");
            if (p == 0 && r.status == 500) { /* a write answered as failed was not made */
                char path[16];
                snprintf(path, sizeof path, "/read/k%ld", k % 2);
                resp now;
                request(f, "GET", path, NULL, &now);
                json_t *n = now.json ? json_object_get(json_object_get(now.json, "value"), "n") : NULL;
                if (n && json_integer_value(n) == k)
                    fail_msg("POST /write of n = %ld answered 500, yet made", k);
                resp_free(&now);
            }
            resp_free(&r);
        }
    }
    assert_true(answered_500 > 0);
    /* An answer that cannot be made is one made at start: every request is
     * answered. */
    assert_int_equal(no_answer, 0);
    json_t *st = status_json(f);
    assert_non_null(json_object_get(st, "data"));
    json_decref(st);
}

/* libmicrohttpd's responses, made to fail on demand (the test links with
 * --wrap for these two): MHD allocates a response and each of its headers,
 * and that can run out after a write was made. Relaxed: a switch the
 * server's threads look at, read after the request that sets it is sent. */
static _Atomic int mhd_fails; /* 1: a response cannot be made; 2: nor a header added */
struct MHD_Response *__real_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);
enum MHD_Result __real_MHD_add_response_header(struct MHD_Response *r, const char *name, const char *value);
enum MHD_Result __wrap_MHD_add_response_header(struct MHD_Response *r, const char *name, const char *value);

struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode)
{
    if (atomic_load_explicit(&mhd_fails, memory_order_relaxed) & 1)
        return NULL;
    return __real_MHD_create_response_from_buffer(size, buffer, mode);
}

enum MHD_Result __wrap_MHD_add_response_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (atomic_load_explicit(&mhd_fails, memory_order_relaxed) & 2)
        return MHD_NO;
    return __real_MHD_add_response_header(r, name, value);
}

/* A write made is answered 200 even when libmicrohttpd cannot make its
 * answer (with its clock unknown): a closed connection would tell the
 * client "maybe not made", and a client that retries writes twice. Any
 * other answer that cannot be made is 500 CW_ENOMEM. */
static void test_a_write_made_is_answered_when_its_answer_cannot_be(void **state)
{
    fx *f = *state;
    for (int fails = 1; fails <= 2; fails++) {
        char body[64];
        snprintf(body, sizeof body, "{\"key\": \"m\", \"value\": %d}", fails);
        resp r;
        atomic_store_explicit(&mhd_fails, fails, memory_order_relaxed);
        tolerate_no_answer = true;
        request(f, "POST", "/write", body, &r);
        resp bad, read;
        request(f, "POST", "/write", "{\"key\": 1}", &bad);
        request(f, "GET", "/read/m", NULL, &read);
        tolerate_no_answer = false;
        atomic_store_explicit(&mhd_fails, 0, memory_order_relaxed);
        expect_success(&r, "a write whose answer could not be made");
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "success");
        assert_true(json_is_null(json_object_get(r.json, "clock")));
        expect_error(&bad, 500, "a bad write whose 400 could not be made");
        assert_string_equal(json_string_value(json_object_get(bad.json, "code")), "CW_ENOMEM");
        expect_error(&read, 500, "a read whose answer could not be made");
        resp_free(&r);
        resp_free(&bad);
        resp_free(&read);
        /* It was made. */
        request(f, "GET", "/read/m", NULL, &read);
        expect_success(&read, "the read after");
        assert_int_equal(json_integer_value(json_object_get(read.json, "value")), fails);
        resp_free(&read);
    }
}

/* A write made and not saved (the map full) whose answer libmicrohttpd
 * cannot make is still answered CW_EUNSAVED ("made but not saved", do not
 * simply retry), never CW_ENOMEM, which says not made. */
static void test_a_write_not_saved_says_so_when_its_answer_cannot_be_made(void **state)
{
    fx *f = *state;
    resp w = {0};
    int made = 0;
    atomic_store_explicit(&mhd_fails, 1, memory_order_relaxed);
    for (; made < 1000; made++) {
        request(f, "POST", "/write", filling_write(made), &w);
        if (w.status != 200)
            break;
        assert_true(json_is_null(json_object_get(w.json, "clock"))); /* made, its answer the one made at start */
        resp_free(&w);
    }
    atomic_store_explicit(&mhd_fails, 0, memory_order_relaxed);
    expect_error(&w, 500, "the write whose save failed");
    assert_string_equal(json_string_value(json_object_get(w.json, "code")), "CW_EUNSAVED");
    assert_string_equal(json_string_value(json_object_get(w.json, "error")), cw_strerror(CW_EUNSAVED));
    assert_true(made > 10);
    resp_free(&w);
}

/* ---- start and stop ---- */

static void test_start_errors(void **state)
{
    fx *f = *state;
    cw__http *h = NULL;
    char err[256] = "";
    /* The port this server holds: bound already. */
    assert_int_equal(cw__http_start(&h, f->s, "127.0.0.1", cw__http_port(f->h), NULL, err, sizeof err), CW_EIO);
    assert_null(h);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "127.0.0.1"));
    err[0] = '\0';
    assert_int_equal(cw__http_start(&h, f->s, "no-such-host.invalid", 0, NULL, err, sizeof err), CW_EIO);
    assert_true(strlen(err) > 0);
    cw__http_options o;
    cw__http_options_init(&o);
    o.threads = 0;
    assert_int_equal(cw__http_start(&h, f->s, "127.0.0.1", 0, &o, err, sizeof err), CW_EINVAL);
    assert_int_equal(cw__http_start(&h, NULL, "127.0.0.1", 0, NULL, err, sizeof err), CW_EINVAL);
    /* A second API on the same server, one thread. */
    o.threads = 1;
    assert_int_equal(cw__http_start(&h, f->s, "127.0.0.1", 0, &o, err, sizeof err), CW_OK);
    assert_true(cw__http_port(h) != cw__http_port(f->h));
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)cw__http_port(h));
    resp r;
    request_on(f->c, base, "GET", "/status", NULL, -1, NULL, &r);
    expect_success(&r, "second API");
    resp_free(&r);
    cw__http_stop(h);
    /* IPv6 loopback when there is one, and the IPv6 wildcard, which takes
     * IPv4 too (as a ZeroMQ endpoint on * does). */
    static const char *const v6[][3] = {{"::1", "[::1]", "IPv6"}, {"::", "127.0.0.1", "IPv4 on the IPv6 wildcard"}};
    for (size_t i = 0; i < 2; i++) {
        if (cw__http_start(&h, f->s, v6[i][0], 0, &o, err, sizeof err) != CW_OK)
            continue;
        snprintf(base, sizeof base, "http://%s:%u", v6[i][1], (unsigned)cw__http_port(h));
        request_on(f->c, base, "GET", "/status", NULL, -1, NULL, &r);
        expect_success(&r, v6[i][2]);
        resp_free(&r);
        cw__http_stop(h);
    }
    cw__http_stop(NULL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_json_type, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_percent_encoded_keys, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_siblings_and_deletes, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_a_deleted_key_reads_with_its_context, setup_two_one_sibling, teardown),
        cmocka_unit_test_setup_teardown(test_a_body_framed_twice_or_by_another_coding_is_refused, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_a_header_name_not_a_token_is_refused, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests_change_nothing, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_body_limits, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_siblings_limit, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_status_shape, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_status_lists_keys_in_order, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_and_link, setup_two, teardown),
        cmocka_unit_test(test_replicate_only_from_allowed_addresses),
        cmocka_unit_test_setup_teardown(test_connections_only_from_allowed_addresses, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_connections_per_address, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_status_text_key_wins_its_name, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_a_stall_names_the_node_it_waits_for, setup_two_small_log, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_is_answered_not_reset, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_http_1_1_without_host_is_refused, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_deep_values_keep_status_readable, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_slow_status_readers_are_bounded, setup_status_budget, teardown),
        cmocka_unit_test_setup_teardown(test_a_read_large_by_its_text_is_bounded, setup_two_budget, teardown),
        cmocka_unit_test_setup_teardown(test_a_read_parses_one_sibling_at_a_time, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_slow_senders_of_bodies_are_bounded, setup_bodies_budget, teardown),
        cmocka_unit_test_setup_teardown(test_a_waiting_write_holds_no_body, setup_bodies_budget, teardown),
        cmocka_unit_test_setup_teardown(test_a_body_heavier_than_any_write_is_not_parsed, setup_large_bodies,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bodies_being_read_weigh_a_bound, setup_parse_budget, teardown),
        cmocka_unit_test_setup_teardown(test_answers_parse_within_the_bound, setup_parse_budget, teardown_gate),
        cmocka_unit_test_setup_teardown(test_a_full_house_is_answered_and_stops, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_writes_leave_a_thread, setup_waiting, teardown),
        cmocka_unit_test_setup_teardown(test_a_write_not_saved_is_500_not_503, setup_durable, teardown_durable),
        cmocka_unit_test_setup_teardown(test_random_input, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_a_write_made_is_answered_when_its_answer_cannot_be, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_a_write_not_saved_says_so_when_its_answer_cannot_be_made, setup_durable,
                                        teardown_durable),
        cmocka_unit_test_setup_teardown(test_start_errors, setup_one, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
