// Node processes (`causeway node`, src/server): three processes on loopback,
// written to at node 0 through libcauseway-client and through the HTTP API,
// each figure beside its baseline from the same run:
//
//   raw_zmq_stream       one DEALER streaming to one ROUTER (two threads,
//                        separate ZeroMQ contexts, loopback TCP), messages of
//                        a replicated write's size and shape (one part: a
//                        whole link frame, tag and codec bytes): the most
//                        one link moves. deliveries_per_s of the nodes is
//                        compared with it (vs_raw).
//   raw_zmq_pingpong     the same socket pair, one message each way at a time:
//                        the floor of any request/answer over ZeroMQ (p50/p99).
//   tcp_pingpong         one loopback TCP connection between two processes,
//                        blocking sockets, a POST /write's bytes one way and a
//                        write answer's back, one at a time: the floor of any
//                        server that sleeps while it waits for a request, at
//                        one connection (what the kernel's wake-ups cost on
//                        these cores; flask_http_write/1/G's floor_vs_flask
//                        divides it by Flask's rate).
//   client_put/T         T threads, each its own cw_client handle, put at
//                        node 0 and wait for each answer. writes_per_s: puts
//                        answered per second; deliveries_per_s: 2 x writes
//                        over the time until nodes 1 and 2 report (status
//                        clock, entry 0) that they applied every one.
//   client_write_many/T/B  T threads, each sending batches of B puts with
//                        cw_client_write_many (batch requests: one round trip a
//                        batch); p50/p99 are a batch's. As many writes as the
//                        raw stream sends messages (200,000), and a raw stream
//                        of that size runs just before each batch, before the
//                        nodes start: vs_raw is deliveries_per_s over it
//                        (raw_msgs_per_s), the baseline beside each figure.
//   durable_put/S/T/B    client_put (B 1) or client_write_many (B writes a
//                        batch) with T threads, the nodes' state in memory
//                        (S 0), in LMDB with --sync none (1) or --sync full
//                        (2, a tenth of the writes); vs_memory: writes_per_s
//                        over S 0's in this run.
//   restart_recovery/K   node 0 holding K keys is SIGKILLed, misses 1000
//                        writes, and is started again on its directory:
//                        restart to serving, restart to caught up.
//   http_write/C/G       C keep-alive connections, POST /write at node 0,
//                        each waiting for its answer before the next; G the
//                        load generator: 0 libcurl (a thread and an easy
//                        handle per connection), 1 plain sockets (a thread
//                        each: what libcurl itself costs), 2 plain sockets
//                        on one thread with epoll (as wrk drives them).
//   http_write_durable/C/G/S  http_write with the nodes' state in LMDB (S 1
//                        --sync none, 2 --sync full, a tenth of the writes);
//                        vs_memory: over http_write/C/G of this run (the
//                        median of its repetitions).
//   mhd_trivial/C/G      the same load generators against a libmicrohttpd
//                        server in its own process with the node's threading
//                        (pool of 2, epoll) that reads the body and answers a
//                        constant write answer: what HTTP alone costs here.
//   replication_latency  a put at node 0 through the client; from its answer
//                        until a get at node 2 finds the key (unique keys),
//                        polled with client gets at node 2 (get_rtt_us: one
//                        such get when the key is there).
//   unread_gets/C/G      node 0 holds a key of one 1,000,000-byte value; C
//                        connections (raw DEALERs that take one message and
//                        4 KiB of socket buffer) each ask for it G times and
//                        read nothing, while a client that reads gets it and
//                        a small key. node0_mb: node 0's resident size
//                        once those requests are served or dropped (its
//                        peak, node0_peak_mb), beside node0_before_mb, the
//                        same just before they came; held_mb: the answers
//                        node 0 holds for its clients (/metrics), against
//                        held_bound_mb, what it promises (64 MiB and one
//                        answer: node-server.md); asked_mb: the answers
//                        asked for. reader_big_ok: whether the reading
//                        client's get of the large key was served (1) or
//                        refused CW_EFULL (0); reader_small_ms: its get of a
//                        small key; node0_cpu_ms: node 0's CPU time while
//                        it dealt with the requests.
//   flask_http_write/C/G the HTTP load generator G against the seed's system in
//                        Python (bench/flask_node.py): only when
//                        CAUSEWAY_BENCH_FLASK="PORT0,PORT1,PORT2" names three
//                        running Flask nodes (bench/compare_flask.sh does).
//                        cw_vs_flask: the median of http_write/C/G's
//                        writes_per_s over its repetitions in this run, over
//                        this one's (the same generator).
//
// Where the CPU goes, per write: cpu_us_node0, cpu_us_peers (nodes 1 and 2
// together), cpu_us_loadgen (this process), cs_* the context switches
// (/proc and getrusage, all threads).
//
// Every benchmark is one timed batch (Iterations(1), manual time = seconds
// per write, so ns/op is ns per write); repeat with
// --benchmark_repetitions. Nodes are started fresh for each batch (fork +
// exec of $CAUSEWAY_BIN if set, else the one built here, CAUSEWAY_CLI_PATH; free
// TCP ports) and stopped with SIGTERM. Load generator and nodes share the
// machine's cores, as they would for the Python system.
#include "bench_util.h"

#include <array>

#include <causeway/causeway.h>
#include <causeway/client.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <zmq.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <sys/stat.h>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

constexpr uint32_t kNodes = 3;
constexpr int kKeys = 1000;
// Every write's value: a 16-character JSON string (stored as its JSON text,
// so the client puts carry the same bytes the HTTP API stores).
const char kValue[] = "\"0123456789abcdef\"";
// Writes of a replication latency batch.
const uint64_t kLatencyWrites = 1000;

// Writes of a batch: dflt, or CAUSEWAY_BENCH_NODE_WRITES where it is a
// positive count (to profile a node under callgrind, which runs it ~50x
// slower).
uint64_t node_writes(uint64_t dflt) {
    const char *e = std::getenv("CAUSEWAY_BENCH_NODE_WRITES");
    uint64_t n = e && *e ? std::strtoull(e, nullptr, 10) : 0;
    return n ? n : dflt;
}

uint64_t batch_writes() { return node_writes(40000); }

const char *cli_path() {
    const char *e = std::getenv("CAUSEWAY_BIN");
#ifdef CAUSEWAY_CLI_PATH
    return e && *e ? e : CAUSEWAY_CLI_PATH;
#else
    return e;
#endif
}

// A free TCP port on 127.0.0.1 (bound and released: another process could
// take it in between, which a bench run on this machine does not see).
// A port on 127.0.0.1 that nothing listens on now, below the range the
// kernel takes outgoing connections' ports from (ip_local_port_range): a
// port taken from that range (bind to port 0) can be taken again by any
// connection made before the node binds it, such as the Flask nodes'
// replication requests (one connection each), and the node then fails.
uint16_t free_port() {
    static std::mt19937 rng{std::random_device{}()};
    unsigned low = 32768;
    if (FILE *f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
        if (std::fscanf(f, "%u", &low) != 1)
            low = 32768;
        std::fclose(f);
    }
    const unsigned first = 10000, last = low > first + 1000 ? low - 1 : 65535;
    for (int attempt = 0; attempt < 1000; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(uint16_t(first + rng() % (last - first + 1)));
        bool ok = fd >= 0 && bind(fd, (sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return ntohs(a.sin_port);
    }
    std::abort();
}

std::string tcp(uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }

struct Percentiles {
    double p50_us = 0, p99_us = 0;
};

Percentiles percentiles(std::vector<double> &us) {
    Percentiles p;
    if (us.empty())
        return p;
    std::sort(us.begin(), us.end());
    p.p50_us = us[us.size() / 2];
    p.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    return p;
}

// ---- three node processes ----

// Where the nodes keep their state: in memory, or in LMDB (--data) with
// --sync none or --sync full.
enum Store { kMemory = 0, kSyncNone = 1, kSyncFull = 2 };

struct Cluster {
    uint32_t n;
    std::vector<pid_t> pid;
    std::vector<uint16_t> http;
    std::vector<std::string> client, repl;
    std::string data;
    Store store = kMemory;
    bool ok = false;

    explicit Cluster(std::string &why, Store st = kMemory, uint32_t nodes = kNodes)
        : n(nodes), pid(nodes), http(nodes), client(nodes), repl(nodes), store(st) {
        if (!cli_path()) {
            why = "no causeway binary (set CAUSEWAY_BIN)";
            return;
        }
        if (store != kMemory) {
            char tmpl[] = "/tmp/cw-bench-data-XXXXXX"; // the machine's disk, as a user's would be
            if (!mkdtemp(tmpl)) {
                why = "no temporary directory";
                return;
            }
            data = tmpl;
        }
        for (uint32_t i = 0; i < n; i++) {
            repl[i] = tcp(free_port());
            client[i] = tcp(free_port());
        }
        for (uint32_t i = 0; i < n; i++)
            if (!spawn(i, true, why))
                return;
        ok = true;
    }

    // Starts node i (fresh: first start); true once it serves.
    bool spawn(uint32_t i, bool fresh, std::string &why) {
        const char *bin = cli_path();
        std::vector<std::string> args = {bin,       "node",      "--id",   std::to_string(i), "--nodes",
                                         std::to_string(n),      "--listen", repl[i],         "--http",
                                         "127.0.0.1:0",          "--client", client[i]};
        if (fresh)
            args.push_back("--fresh");
        if (store != kMemory) {
            args.insert(args.end(), {"--data", data + "/node" + std::to_string(i), "--sync",
                                     store == kSyncFull ? "full" : "none"});
        }
        for (uint32_t j = 0; j < n; j++)
            if (j != i) {
                args.push_back("--peer");
                args.push_back(std::to_string(j) + "=" + repl[j]);
            }
        int fds[2];
        if (pipe(fds) != 0)
            std::abort();
        pid[i] = fork();
        if (pid[i] == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            close(fds[1]);
            std::vector<char *> argv;
            for (auto &a : args)
                argv.push_back(const_cast<char *>(a.c_str()));
            argv.push_back(nullptr);
            execv(bin, argv.data());
            _exit(127);
        }
        close(fds[1]);
        // The node prints one line once it serves: "..., http HOST:PORT, ...".
        std::string line;
        char c;
        pollfd pf{fds[0], POLLIN, 0};
        while (line.find('\n') == std::string::npos && poll(&pf, 1, 60000) > 0 && read(fds[0], &c, 1) == 1)
            line += c;
        close(fds[0]);
        size_t at = line.find("http 127.0.0.1:");
        if (at == std::string::npos) {
            why = "node " + std::to_string(i) + " did not start: '" + line + "'";
            return false;
        }
        http[i] = (uint16_t)std::atoi(line.c_str() + at + 15);
        return true;
    }

    void kill_node(uint32_t i) {
        if (pid[i] > 0) {
            kill(pid[i], SIGKILL);
            waitpid(pid[i], nullptr, 0);
            pid[i] = 0;
        }
    }

    ~Cluster() {
        for (uint32_t i = 0; i < n; i++)
            if (pid[i] > 0)
                kill(pid[i], SIGTERM);
        // A node stops within a second of SIGTERM; one that does not (a
        // wrapper such as strace that holds the signal) is killed after 5 s.
        auto give_up = Clock::now() + std::chrono::seconds(5);
        for (uint32_t i = 0; i < n; i++) {
            while (pid[i] > 0 && waitpid(pid[i], nullptr, WNOHANG) == 0) {
                if (Clock::now() > give_up)
                    kill(pid[i], SIGKILL);
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
        if (!data.empty()) {
            for (uint32_t i = 0; i < n; i++)
                for (const char *f : {"/data.mdb", "/lock.mdb", "/causeway.lock", ""})
                    std::remove((data + "/node" + std::to_string(i) + f).c_str());
            rmdir(data.c_str());
        }
    }
};

// Where the CPU goes: CPU seconds and context switches (all threads) of each
// node process and of this process (the load generator), read from /proc
// and getrusage before and after a batch.
struct Usage {
    double cpu[kNodes + 1] = {};
    double switches[kNodes + 1] = {};
};

void proc_usage(pid_t pid, double *cpu, double *switches) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    *cpu = *switches = 0;
    if (FILE *f = std::fopen(path, "r")) {
        char line[1024];
        if (std::fgets(line, sizeof line, f))
            if (const char *p = std::strrchr(line, ')')) {
                unsigned long ut = 0, st = 0;
                // After ")": state ppid pgrp session tty tpgid flags minflt
                // cminflt majflt cmajflt utime stime.
                if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                    *cpu = double(ut + st) / double(sysconf(_SC_CLK_TCK));
            }
        std::fclose(f);
    }
    std::snprintf(path, sizeof path, "/proc/%d/task", int(pid));
    if (DIR *d = opendir(path)) {
        while (dirent *e = readdir(d)) {
            if (e->d_name[0] == '.')
                continue;
            std::string st = std::string(path) + "/" + e->d_name + "/status";
            if (FILE *f = std::fopen(st.c_str(), "r")) {
                char line[256];
                unsigned long v;
                while (std::fgets(line, sizeof line, f))
                    if (std::sscanf(line, "voluntary_ctxt_switches: %lu", &v) == 1 ||
                        std::sscanf(line, "nonvoluntary_ctxt_switches: %lu", &v) == 1)
                        *switches += double(v);
                std::fclose(f);
            }
        }
        closedir(d);
    }
}

Usage usage(const Cluster &cl) {
    Usage u;
    for (uint32_t i = 0; i < kNodes; i++)
        proc_usage(cl.pid[i], &u.cpu[i], &u.switches[i]);
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    u.cpu[kNodes] = double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    u.switches[kNodes] = double(r.ru_nvcsw + r.ru_nivcsw);
    return u;
}

// CPU us per write at node 0, at nodes 1 and 2 together, in the load
// generator; context switches per write at node 0 and in the generator.
void report_usage(benchmark::State &state, const Usage &a, const Usage &b, uint64_t writes) {
    auto per = [&](double x) { return x / double(writes); };
    state.counters["cpu_us_node0"] = per(b.cpu[0] - a.cpu[0]) * 1e6;
    state.counters["cpu_us_peers"] = per(b.cpu[1] - a.cpu[1] + b.cpu[2] - a.cpu[2]) * 1e6;
    state.counters["cpu_us_loadgen"] = per(b.cpu[kNodes] - a.cpu[kNodes]) * 1e6;
    state.counters["cs_node0"] = per(b.switches[0] - a.switches[0]);
    state.counters["cs_peers"] = per(b.switches[1] - a.switches[1] + b.switches[2] - a.switches[2]);
    state.counters["cs_loadgen"] = per(b.switches[kNodes] - a.switches[kNodes]);
}

// Node j's count of node 0's writes applied (its status clock, entry 0).
uint64_t applied_from(cw_client *c, cw_node_id origin) {
    cw_client_status st;
    cw_client_status_init(&st);
    uint64_t v = cw_client_get_status(c, &st) == CW_OK ? cw_vclock_get(&st.clock, origin) : 0;
    cw_client_status_destroy(&st);
    return v;
}

uint64_t applied_from_0(cw_client *c) { return applied_from(c, 0); }

// Waits until every node but node 0 has applied `want` writes of node 0
// (60 s at most); the time it returned.
Clock::time_point wait_replicated(const Cluster &cl, uint64_t want, bool *all) {
    std::vector<cw_client *> c(cl.n, nullptr);
    for (uint32_t i = 1; i < cl.n; i++)
        cw_client_open(&c[i], cl.client[i].c_str(), 2000);
    auto give_up = Clock::now() + std::chrono::seconds(60);
    bool done = false;
    while (!done && Clock::now() < give_up) {
        done = true;
        for (uint32_t i = 1; done && i < cl.n; i++)
            done = applied_from_0(c[i]) >= want;
        if (!done)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    auto t = Clock::now();
    for (uint32_t i = 1; i < cl.n; i++)
        cw_client_close(c[i]);
    *all = done;
    return t;
}

// Waits until every node's client endpoint answers (ZeroMQ connects in the
// background) and the links are up: a put at node 0 reaches every other node.
bool warm_up(const Cluster &cl) {
    cw_client *c = nullptr;
    cw_client_open(&c, cl.client[0].c_str(), 5000);
    int rc = cw_client_put(c, "warm", 4, kValue, sizeof kValue - 1, nullptr, nullptr);
    cw_client_close(c);
    bool all = false;
    if (rc == CW_OK)
        wait_replicated(cl, 1, &all);
    return all;
}

// Whether cl started and replicates; if not, the benchmark is skipped with
// the reason (why, from the cluster's start, or that replication never began).
bool ready(benchmark::State &state, const Cluster &cl, const std::string &why) {
    if (cl.ok && warm_up(cl))
        return true;
    state.SkipWithError(why.empty() ? "the nodes did not start replicating" : why.c_str());
    return false;
}

void key_of(uint64_t i, char *key, int *len) { *len = std::snprintf(key, 16, "k%03d", int(i % kKeys)); }

void report(benchmark::State &state, uint64_t writes, double ack_s, double deliv_s, std::vector<double> &lat,
            uint64_t failed) {
    Percentiles p = percentiles(lat);
    state.SetIterationTime(ack_s / double(writes));
    state.counters["writes_per_s"] = double(writes) / ack_s;
    if (deliv_s > 0)
        state.counters["deliveries_per_s"] = 2.0 * double(writes) / deliv_s;
    state.counters["p50_us"] = p.p50_us;
    state.counters["p99_us"] = p.p99_us;
    state.counters["failed"] = double(failed);
}

// The raw baseline's last figure, for vs_raw (benchmarks run in the order
// they are registered, so it is measured first in the same run).
double g_raw_msgs_per_s = 0;
// The load generators: a libcurl easy handle per connection and a thread
// each; a plain socket per connection and a thread each; or one thread
// driving every connection through epoll, each connection with one request
// in flight (what wrk does: the generator that takes least from the cores
// it shares with the nodes).
enum Gen { kCurl = 0, kRawSocket = 1, kEpoll = 2 };
constexpr int kGens = 3;

// writes_per_s of every repetition so far of http_write and mhd_trivial, by
// generator and connection count: the ratios later benchmarks report divide
// by their median (one repetition alone moves by 20-40% on a shared host).
std::vector<double> g_cw_http[kGens][9], g_mhd_http[kGens][9];

double median_of(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---- 1. raw ZeroMQ DEALER -> ROUTER ----

// The bytes of node 0's r-th replicated write in a 3-node group, encoded by
// the codec, with the link's 1-byte channel in front (a part of its own).
size_t replicated_write_size() {
    const uint64_t clock[kNodes] = {20001, 20000, 20000};
    const cw_hlc_timestamp ts = {1700000000123u, 0, 0};
    cw_msg *m = nullptr;
    if (cw_msg_create(&m, 0, &ts, clock, kNodes, "k123", 4, kValue, sizeof kValue - 1) != CW_OK)
        std::abort();
    size_t n = cw_msg_encoded_size(m);
    cw_msg_unref(m);
    return n + 1;
}

struct RawPair {
    void *ctx_tx, *ctx_rx, *dealer, *router;
    RawPair() {
        ctx_tx = zmq_ctx_new();
        ctx_rx = zmq_ctx_new();
        router = zmq_socket(ctx_rx, ZMQ_ROUTER);
        dealer = zmq_socket(ctx_tx, ZMQ_DEALER);
        int hwm = 10000; // the node's default --hwm
        zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "cw-node-0", 9);
        if (zmq_bind(router, "tcp://127.0.0.1:*") != 0)
            std::abort();
        char ep[256];
        size_t len = sizeof ep;
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
        zmq_connect(dealer, ep);
    }
    ~RawPair() {
        int zero = 0;
        zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(dealer);
        zmq_close(router);
        zmq_ctx_term(ctx_tx);
        zmq_ctx_term(ctx_rx);
    }
};

// Receives one [id][frame] message; the frame's size.
int raw_recv(void *router, uint8_t *buf, size_t cap) {
    char id[32];
    if (zmq_recv(router, id, sizeof id, 0) < 0)
        return -1;
    return zmq_recv(router, buf, cap, 0);
}

// Messages a raw stream sends, and writes a batched run makes: the same
// count, so that both amortize their start (a fresh socket pair, fresh node
// processes) over the same work.
uint64_t stream_writes() { return node_writes(200000); }

// One raw stream of `msgs` messages on a fresh socket pair: messages/s, and
// the one-way latency of each (queued behind the stream) into lat.
double raw_stream(uint64_t msgs, std::vector<double> &lat) {
    const size_t payload = replicated_write_size();
    RawPair p;
    // Connect before timing: one message through.
    std::vector<uint8_t> out(payload, 'x'), in(payload + 64);
    zmq_send(p.dealer, out.data(), payload, 0);
    raw_recv(p.router, in.data(), in.size());
    lat.clear();
    lat.reserve(msgs);
    Clock::time_point t0 = Clock::now(), t1;
    std::thread rx([&] {
        for (uint64_t i = 0; i < msgs; i++) {
            raw_recv(p.router, in.data(), in.size());
            int64_t sent;
            std::memcpy(&sent, in.data(), sizeof sent);
            lat.push_back(double(Clock::now().time_since_epoch().count() - sent) / 1e3);
        }
        t1 = Clock::now();
    });
    for (uint64_t i = 0; i < msgs; i++) {
        int64_t now = Clock::now().time_since_epoch().count();
        std::memcpy(out.data(), &now, sizeof now);
        zmq_send(p.dealer, out.data(), payload, 0);
    }
    rx.join();
    return double(msgs) / secs(t0, t1);
}

void raw_zmq_stream(benchmark::State &state) {
    const uint64_t msgs = stream_writes();
    const size_t size = replicated_write_size();
    for (auto _ : state) {
        std::vector<double> lat;
        double rate = raw_stream(msgs, lat);
        Percentiles pc = percentiles(lat);
        state.SetIterationTime(1.0 / rate);
        g_raw_msgs_per_s = rate;
        state.counters["writes_per_s"] = rate;
        state.counters["deliveries_per_s"] = rate;
        state.counters["p50_us"] = pc.p50_us; // one way, queued behind the stream
        state.counters["p99_us"] = pc.p99_us;
        state.counters["msg_B"] = double(size);
    }
}

void raw_zmq_pingpong(benchmark::State &state) {
    const size_t payload = replicated_write_size();
    const uint64_t rounds = 20000;
    for (auto _ : state) {
        RawPair p;
        std::atomic<bool> stop{false};
        std::thread echo([&] {
            std::vector<uint8_t> buf(payload + 64);
            while (true) {
                zmq_msg_t id, body;
                zmq_msg_init(&id);
                zmq_msg_init(&body);
                if (zmq_msg_recv(&id, p.router, 0) < 0 || zmq_msg_recv(&body, p.router, 0) < 0)
                    break;
                bool last = zmq_msg_size(&body) == 1;
                zmq_msg_send(&id, p.router, ZMQ_SNDMORE);
                zmq_msg_send(&body, p.router, 0);
                if (last)
                    break;
            }
        });
        std::vector<uint8_t> out(payload, 'x'), in(payload + 64);
        std::vector<double> lat;
        lat.reserve(rounds);
        Clock::time_point t0 = Clock::now();
        for (uint64_t i = 0; i <= rounds; i++) {
            auto a = Clock::now();
            zmq_send(p.dealer, out.data(), payload, 0);
            zmq_recv(p.dealer, in.data(), in.size(), 0);
            if (i == 0)
                t0 = Clock::now(); // the first round connects
            else
                lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
        }
        double s = secs(t0, Clock::now());
        zmq_send(p.dealer, "e", 1, 0);
        echo.join();
        stop = true;
        Percentiles pc = percentiles(lat);
        state.SetIterationTime(s / double(rounds));
        state.counters["writes_per_s"] = double(rounds) / s;
        state.counters["p50_us"] = pc.p50_us;
        state.counters["p99_us"] = pc.p99_us;
    }
}

// The bytes of one POST /write as the plain-socket generators send it, and
// of the node's answer to it (both within a few bytes of the real ones).
std::string sample_request();
constexpr char kSampleAnswer[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 56\r\nContent-Type: application/json\r\n"
    "Date: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n"
    "{\"status\": \"success\", \"clock\": {\"0\": 1, \"1\": 0, \"2\": 0}}";

// The round trips per second one connection allows here, whatever runs at
// either end. tcp_pingpong's last figure, for floor_vs_flask.
double g_tcp_round_trips_per_s = 0;

void tcp_pingpong(benchmark::State &state) {
    const std::string req = sample_request();
    const size_t answer = sizeof kSampleAnswer - 1;
    const uint64_t rounds = 20000;
    for (auto _ : state) {
        int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t alen = sizeof a;
        if (ls < 0 || bind(ls, (sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0 ||
            getsockname(ls, (sockaddr *)&a, &alen) != 0) {
            state.SkipWithError("no loopback socket");
            return;
        }
        // No thread of this process is running here, so the child may do
        // anything; it answers each request's bytes once they have all come.
        pid_t pid = fork();
        if (pid == 0) {
            int c = accept(ls, nullptr, nullptr);
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            std::vector<char> buf(req.size());
            for (;;) {
                for (size_t got = 0; got < req.size();) {
                    ssize_t r = read(c, buf.data() + got, req.size() - got);
                    if (r <= 0)
                        _exit(0);
                    got += size_t(r);
                }
                if (write(c, kSampleAnswer, answer) != ssize_t(answer))
                    _exit(1);
            }
        }
        close(ls);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bool ok = connect(fd, (sockaddr *)&a, sizeof a) == 0;
        std::vector<char> in(answer);
        std::vector<double> lat;
        lat.reserve(rounds);
        Clock::time_point t0 = Clock::now();
        for (uint64_t i = 0; i <= rounds && ok; i++) {
            auto at = Clock::now();
            ok = write(fd, req.data(), req.size()) == ssize_t(req.size());
            for (size_t got = 0; ok && got < answer;) {
                ssize_t r = read(fd, in.data() + got, answer - got);
                ok = r > 0;
                got += ok ? size_t(r) : 0;
            }
            if (i == 0)
                t0 = Clock::now(); // the first round warms the connection
            else
                lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - at).count());
        }
        double s = secs(t0, Clock::now());
        close(fd);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        if (!ok) {
            state.SkipWithError("the echo process went away");
            return;
        }
        Percentiles pc = percentiles(lat);
        state.SetIterationTime(s / double(rounds));
        state.counters["writes_per_s"] = double(rounds) / s;
        state.counters["p50_us"] = pc.p50_us;
        state.counters["p99_us"] = pc.p99_us;
        g_tcp_round_trips_per_s = double(rounds) / s;
    }
}

// ---- 2. puts through libcauseway-client ----

// One batch of `per` writes per thread at node 0 through libcauseway-client,
// each thread with its own handle; `body(c, t, per, lat, failed)` makes
// thread t's writes and records one latency per call. Reports writes/s,
// deliveries/s (until nodes 1 and 2 have them all) and CPU per write.
// With raw_msgs > 0 a raw stream of that many messages runs first, before
// the nodes start, and vs_raw divides by it (the baseline measured beside
// each batch); else by the raw_zmq_stream benchmark's last figure.
template <typename Body>
void run_clients(benchmark::State &state, int threads, uint64_t per, Body body, Store store = kMemory,
                 uint64_t raw_msgs = 0) {
    double raw = g_raw_msgs_per_s;
    if (raw_msgs) {
        std::vector<double> lat;
        raw = raw_stream(raw_msgs, lat);
        state.counters["raw_msgs_per_s"] = raw;
    }
    std::string why;
    Cluster cl(why, store);
    if (!ready(state, cl, why))
        return;
    const uint64_t base = 1, writes = per * threads;
    std::vector<std::vector<double>> lat(threads);
    std::atomic<uint64_t> failed{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++)
        ts.emplace_back([&, t] {
            cw_client *c = nullptr;
            cw_client_open(&c, cl.client[0].c_str(), 5000);
            cw_client_status st;
            cw_client_status_init(&st);
            cw_client_get_status(c, &st); // connected
            cw_client_status_destroy(&st);
            lat[t].reserve(per);
            ready++;
            while (!go.load())
                ;
            body(c, t, per, lat[t], failed);
            cw_client_close(c);
        });
    while (ready.load() < threads)
        std::this_thread::yield();
    Usage u0 = usage(cl);
    Clock::time_point t0 = Clock::now();
    go = true;
    for (auto &t : ts)
        t.join();
    Clock::time_point t_ack = Clock::now();
    bool all = false;
    Clock::time_point t_deliv = wait_replicated(cl, base + writes - failed, &all);
    std::vector<double> merged;
    for (auto &v : lat)
        merged.insert(merged.end(), v.begin(), v.end());
    report(state, writes, secs(t0, t_ack), all ? secs(t0, t_deliv) : 0, merged, failed);
    report_usage(state, u0, usage(cl), writes);
    if (raw > 0 && all)
        state.counters["vs_raw"] = 2.0 * double(writes) / secs(t0, t_deliv) / raw;
}

double micros_since(Clock::time_point a) {
    return std::chrono::duration<double, std::micro>(Clock::now() - a).count();
}

// Thread t of `threads` puts its share of the keys, one call at a time.
auto put_body(int threads) {
    return [threads](cw_client *c, int t, uint64_t per, std::vector<double> &lat, std::atomic<uint64_t> &failed) {
        for (uint64_t i = 0; i < per; i++) {
            char key[16];
            int len;
            key_of(i * threads + t, key, &len);
            auto a = Clock::now();
            failed += cw_client_put(c, key, size_t(len), kValue, sizeof kValue - 1, nullptr, nullptr) != CW_OK;
            lat.push_back(micros_since(a));
        }
    };
}

void client_put(benchmark::State &state) {
    const int threads = int(state.range(0));
    for (auto _ : state)
        run_clients(state, threads, batch_writes() / threads, put_body(threads));
}

// ---- 2b. batched puts: cw_client_write_many ----

// p50/p99 here: of a whole batch's round trip.
auto write_many_body(int threads, size_t batch) {
    return [threads, batch](cw_client *c, int t, uint64_t per, std::vector<double> &lat,
                            std::atomic<uint64_t> &failed) {
        std::vector<cw_client_write> w(batch);
        std::vector<std::array<char, 16>> keys(batch);
        for (uint64_t i = 0; i < per; i += batch) {
            for (size_t k = 0; k < batch; k++) {
                int len;
                key_of((i + k) * threads + t, keys[k].data(), &len);
                w[k] = cw_client_write{keys[k].data(), size_t(len), kValue, sizeof kValue - 1, false, nullptr, nullptr, 0};
            }
            auto a = Clock::now();
            if (cw_client_write_many(c, w.data(), batch) != CW_OK)
                failed += batch;
            else
                for (auto &x : w)
                    failed += x.result != CW_OK;
            lat.push_back(micros_since(a));
        }
    };
}

void client_write_many(benchmark::State &state) {
    const int threads = int(state.range(0));
    const size_t batch = size_t(state.range(1));
    for (auto _ : state)
        run_clients(state, threads, stream_writes() / threads / batch * batch, write_many_body(threads, batch), kMemory,
                    stream_writes());
}

// ---- 2c. durable nodes (--data): the same puts, in memory and in LMDB ----

// writes_per_s of each (store, threads, batch) in this run; vs_memory is a
// durable run's over the in-memory one's (registered first).
std::map<std::array<int64_t, 3>, double> g_store_writes;

// Args: store (0 memory, 1 --sync none, 2 --sync full), threads, batch (1:
// cw_client_put, else cw_client_write_many batches). With --sync full every
// save waits for the disk, so a tenth of the writes keeps a batch short.
void durable_put(benchmark::State &state) {
    const Store store = Store(state.range(0));
    const int threads = int(state.range(1));
    const size_t batch = size_t(state.range(2));
    uint64_t writes = batch_writes() / (store == kSyncFull ? 10 : 1);
    uint64_t per = writes / threads / batch * batch;
    for (auto _ : state) {
        if (batch == 1)
            run_clients(state, threads, per, put_body(threads), store);
        else
            run_clients(state, threads, per, write_many_body(threads, batch), store);
    }
    auto it = state.counters.find("writes_per_s");
    if (it == state.counters.end())
        return;
    g_store_writes[{int64_t(store), threads, int64_t(batch)}] = it->second;
    auto mem = g_store_writes.find({int64_t(kMemory), threads, int64_t(batch)});
    if (store != kMemory && mem != g_store_writes.end() && mem->second > 0)
        state.counters["vs_memory"] = it->second / mem->second;
}

// Writes keys "r00000000", "r00000001", ... (`keys` of them) through c in
// batches of 512; the writes that failed.
uint64_t write_keys(cw_client *c, uint64_t keys) {
    const size_t batch = 512;
    std::vector<cw_client_write> w(batch);
    std::vector<std::array<char, 16>> names(batch);
    uint64_t failed = 0;
    for (uint64_t i = 0; i < keys; i += batch) {
        size_t n = size_t(std::min<uint64_t>(batch, keys - i));
        for (size_t k = 0; k < n; k++) {
            std::snprintf(names[k].data(), 16, "r%08llu", (unsigned long long)(i + k));
            w[k] = cw_client_write{names[k].data(), 9, kValue, sizeof kValue - 1, false, nullptr, nullptr, 0};
        }
        if (cw_client_write_many(c, w.data(), n) != CW_OK)
            failed += n;
    }
    return failed;
}

// Recovery after SIGKILL: node 0 holds `keys` keys (written through
// write_many), is killed, misses 1000 writes made at node 1 meanwhile, and is
// started again on its directory. restart_to_serving_ms: from the start to
// the node's line (its state taken back: a read of the whole environment);
// restart_to_caught_up_ms: until its clock holds node 1's writes (loss
// recovery pulled them). data_mb: the environment's file.
void restart_recovery(benchmark::State &state) {
    const uint64_t keys = uint64_t(state.range(0));
    for (auto _ : state) {
        std::string why;
        Cluster cl(why, kSyncNone);
        if (!ready(state, cl, why))
            return;
        cw_client *c0 = nullptr, *c1 = nullptr;
        cw_client_open(&c0, cl.client[0].c_str(), 5000);
        uint64_t failed = write_keys(c0, keys);
        cw_client_close(c0);
        bool all = false;
        wait_replicated(cl, 1 + keys - failed, &all);
        cl.kill_node(0);
        cw_client_open(&c1, cl.client[1].c_str(), 5000);
        for (int i = 0; i < 1000; i++)
            failed += cw_client_put(c1, "missed", 6, kValue, sizeof kValue - 1, nullptr, nullptr) != CW_OK;
        uint64_t want = applied_from(c1, 1);
        cw_client_close(c1);
        struct stat st {};
        stat((cl.data + "/node0/data.mdb").c_str(), &st);
        Clock::time_point t0 = Clock::now();
        if (!cl.spawn(0, false, why)) {
            state.SkipWithError(why.c_str());
            return;
        }
        Clock::time_point t_serving = Clock::now();
        cw_client_open(&c0, cl.client[0].c_str(), 5000);
        auto give_up = Clock::now() + std::chrono::seconds(60);
        while (applied_from(c0, 1) < want && Clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        Clock::time_point t_caught = Clock::now();
        bool caught = applied_from(c0, 1) >= want && applied_from(c0, 0) >= 1 + keys - failed;
        cw_client_close(c0);
        state.SetIterationTime(secs(t0, t_caught));
        state.counters["restart_to_serving_ms"] = 1e3 * secs(t0, t_serving);
        state.counters["restart_to_caught_up_ms"] = caught ? 1e3 * secs(t0, t_caught) : 0;
        state.counters["data_mb"] = double(st.st_size) / 1e6;
        state.counters["failed"] = double(failed);
        if (!all || !caught)
            state.SkipWithError("node 0 did not catch up");
    }
}

// ---- 3. HTTP POST /write, keep-alive, libcurl ----

size_t keep_body(char *p, size_t size, size_t n, void *ud) {
    static_cast<std::string *>(ud)->append(p, size * n);
    return size * n;
}

// A keep-alive HTTP/1.1 connection on a plain socket: the load generator
// without libcurl, to see what libcurl itself costs. One request at a time.
// Like libcurl, it connects again when an answer says "Connection: close"
// (Werkzeug's server closes after every answer).
struct RawHttp {
    int fd = -1;
    uint16_t port = 0;
    std::string head, buf;
    size_t end = std::string::npos, need = 0; // the answer's head end, whole size
    explicit RawHttp(uint16_t p) : port(p) {
        head = "POST /write HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
               "\r\nContent-Type: application/json\r\nContent-Length: ";
        if (port)
            open_socket();
    }
    ~RawHttp() { drop(); }
    RawHttp(const RawHttp &) = delete;
    RawHttp &operator=(const RawHttp &) = delete;
    void drop() {
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    void open_socket() {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (sockaddr *)&a, sizeof a) != 0)
            drop();
    }
    // Where the value of header `name` (lower case, with ": ") starts in the
    // answer's head, or npos.
    size_t header(const char *name) const {
        size_t n = std::strlen(name);
        for (size_t at = buf.find("\r\n"); at != std::string::npos && at < end; at = buf.find("\r\n", at + 2))
            if (at + 2 + n <= end && strncasecmp(buf.c_str() + at + 2, name, n) == 0)
                return at + 2 + n;
        return std::string::npos;
    }
    // Sends one POST with body (connecting first if the last answer
    // closed); false if it could not.
    bool send_request(const char *body, size_t len) {
        if (fd < 0)
            open_socket();
        std::string req = head + std::to_string(len) + "\r\n\r\n";
        req.append(body, len);
        buf.clear();
        end = std::string::npos;
        if (fd < 0 || send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
            drop();
            return false;
        }
        return true;
    }
    // Reads what the socket has (blocking if nothing): 1 when the answer is
    // whole (*ok: a 200), 0 when more is to come, -1 when the connection
    // failed or closed early.
    int receive(bool *ok) {
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            drop();
            return -1;
        }
        buf.append(tmp, size_t(n));
        if (end == std::string::npos) {
            if ((end = buf.find("\r\n\r\n")) == std::string::npos)
                return 0;
            size_t cl = header("content-length: ");
            need = end + 4 + (cl == std::string::npos ? 0 : std::strtoul(buf.c_str() + cl, nullptr, 10));
        }
        if (buf.size() < need)
            return 0;
        size_t conn = header("connection: ");
        if (conn != std::string::npos && strncasecmp(buf.c_str() + conn, "close", 5) == 0)
            drop();
        *ok = buf.compare(0, 12, "HTTP/1.1 200") == 0;
        return 1;
    }
    // One POST and its whole answer; true on a 200.
    bool post(const char *body, size_t len) {
        if (!send_request(body, len))
            return false;
        bool ok = false;
        int r;
        while ((r = receive(&ok)) == 0)
            ;
        return r == 1 && ok;
    }
};

// The body of write i.
int write_body(char *body, size_t cap, uint64_t i) {
    return std::snprintf(body, cap, "{\"key\": \"k%03d\", \"value\": %s}", int(i % kKeys), kValue);
}

std::string sample_request() {
    char body[128];
    int n = write_body(body, sizeof body, 7);
    RawHttp h(0); // its head only: port 0 opens no socket
    return h.head + std::to_string(n) + "\r\n\r\n" + std::string(body, size_t(n));
}

// kEpoll: `conns` connections, one thread. Same contract as http_load.
double http_load_epoll(uint16_t port, int conns, uint64_t writes, std::vector<double> &lat, uint64_t &failed) {
    const uint64_t per = writes / conns;
    std::vector<std::unique_ptr<RawHttp>> c;
    std::vector<uint64_t> done(conns, 0);
    std::vector<Clock::time_point> sent(conns);
    char body[96];
    failed = 0;
    for (int t = 0; t < conns; t++) { /* connects and warms up, not counted */
        c.emplace_back(new RawHttp(port));
        c[t]->post(body, size_t(write_body(body, sizeof body, kKeys - 1 - t)));
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    // Registers connection t's socket (again after a reconnection).
    auto watch = [&](int t) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = uint32_t(t);
        return c[t]->fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c[t]->fd, &ev) == 0;
    };
    // Sends connection t's next write; false when it has none left.
    std::function<bool(int)> next = [&](int t) {
        while (done[t] < per) {
            int was = c[t]->fd;
            sent[t] = Clock::now();
            int n = write_body(body, sizeof body, done[t] * uint64_t(conns) + uint64_t(t));
            if (c[t]->send_request(body, size_t(n)) && (c[t]->fd == was || watch(t)))
                return true;
            failed++;
            done[t]++;
        }
        return false;
    };
    lat.reserve(writes);
    Clock::time_point t0 = Clock::now();
    int busy = 0;
    for (int t = 0; t < conns; t++)
        if (watch(t) || c[t]->fd < 0)
            busy += next(t);
    epoll_event evs[64];
    while (busy > 0) {
        int n = epoll_wait(ep, evs, 64, 30000);
        if (n <= 0)
            break; /* 30 s without an answer: the rest fail */
        for (int k = 0; k < n; k++) {
            int t = int(evs[k].data.u32);
            bool ok = false;
            int r = c[t]->receive(&ok);
            if (r == 0)
                continue;
            lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent[t]).count());
            failed += r < 0 || !ok;
            done[t]++;
            if (!next(t))
                busy--;
        }
    }
    double s = secs(t0, Clock::now());
    for (int t = 0; t < conns; t++)
        failed += per - done[t];
    close(ep);
    return s;
}

// `conns` threads, one connection each (a libcurl easy handle, or a plain
// socket), POST /write to 127.0.0.1:port for `writes` writes in all.
// Returns the seconds and fills lat (us per request) and failed (not 200).
double http_load(uint16_t port, int conns, uint64_t writes, std::vector<double> &merged, uint64_t &failed_out,
                 Gen gen = kCurl) {
    if (gen == kEpoll)
        return http_load_epoll(port, conns, writes, merged, failed_out);
    const uint64_t per = writes / conns;
    std::vector<std::vector<double>> lat(conns);
    std::atomic<uint64_t> failed{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/write";
    for (int t = 0; t < conns; t++)
        ts.emplace_back([&, t] {
            CURL *h = gen == kCurl ? curl_easy_init() : nullptr;
            RawHttp raw(gen == kRawSocket ? port : 0);
            curl_slist *hdr = curl_slist_append(nullptr, "Content-Type: application/json");
            std::string answer;
            char body[96];
            if (h) {
                curl_easy_setopt(h, CURLOPT_URL, url.c_str());
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
                curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
            }
            auto one = [&](uint64_t i) {
                int n = write_body(body, sizeof body, i);
                if (!h)
                    return raw.post(body, size_t(n));
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, long(n));
                answer.clear();
                long code = 0;
                if (curl_easy_perform(h) != CURLE_OK ||
                    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
                    return false;
                return true;
            };
            one(kKeys - 1 - t); // connects (not counted: not a measured write)
            lat[t].reserve(per);
            ready++;
            while (!go.load())
                ;
            for (uint64_t i = 0; i < per; i++) {
                auto a = Clock::now();
                failed += !one(i * conns + t);
                lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
            }
            curl_slist_free_all(hdr);
            if (h)
                curl_easy_cleanup(h);
        });
    while (ready.load() < conns)
        std::this_thread::yield();
    Clock::time_point t0 = Clock::now();
    go = true;
    for (auto &t : ts)
        t.join();
    double s = secs(t0, Clock::now());
    for (auto &v : lat)
        merged.insert(merged.end(), v.begin(), v.end());
    failed_out = failed;
    return s;
}

void http_write_in(benchmark::State &state, Store store) {
    const int conns = int(state.range(0));
    const Gen gen = Gen(state.range(1));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (auto _ : state) {
        std::string why;
        Cluster cl(why, store);
        if (!ready(state, cl, why))
            return;
        const uint64_t writes = batch_writes() / (store == kSyncFull ? 10 : 1) / conns * conns;
        std::vector<double> lat;
        uint64_t failed = 0;
        Usage u0 = usage(cl);
        Clock::time_point t0 = Clock::now();
        // 1 warm-up write per connection, and the warm_up put, come before.
        double s = http_load(cl.http[0], conns, writes, lat, failed, gen);
        bool all = false;
        Clock::time_point t_deliv = wait_replicated(cl, 1 + uint64_t(conns) + writes - failed, &all);
        report(state, writes, s, all ? secs(t0, t_deliv) : 0, lat, failed);
        report_usage(state, u0, usage(cl), writes);
        if (store != kMemory) { /* beside the in-memory row of the same run */
            if (double m = median_of(g_cw_http[gen][conns]); m > 0)
                state.counters["vs_memory"] = double(writes) / s / m;
            continue;
        }
        g_cw_http[gen][conns].push_back(double(writes) / s);
        if (double m = median_of(g_mhd_http[gen][conns]); m > 0)
            state.counters["vs_mhd_trivial"] = double(writes) / s / m;
        if (g_raw_msgs_per_s > 0 && all)
            state.counters["vs_raw"] = 2.0 * double(writes) / secs(t0, t_deliv) / g_raw_msgs_per_s;
    }
}

void http_write(benchmark::State &state) { http_write_in(state, kMemory); }
void http_write_durable(benchmark::State &state) { http_write_in(state, Store(state.range(2))); }

// The HTTP baseline: libmicrohttpd as the node runs it (internal polling
// threads, a pool of 2, epoll), reading each POST body and answering a
// constant write answer, in a process of its own.
MHD_Result trivial_answer(void *, MHD_Connection *conn, const char *, const char *, const char *,
                          const char *, size_t *upload_size, void **con_cls) {
    static int marker;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    static const char body[] = "{\"status\": \"success\", \"clock\": {\"0\": 1, \"1\": 0, \"2\": 0}}";
    MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

void mhd_trivial(benchmark::State &state) {
    const int conns = int(state.range(0));
    const Gen gen = Gen(state.range(1));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (auto _ : state) {
        uint16_t port = free_port();
        int fds[2];
        if (pipe(fds) != 0)
            std::abort();
        // No thread of this process is running here (each benchmark joins
        // its own), so the child may start threads of its own.
        pid_t pid = fork();
        if (pid == 0) {
            MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, port, nullptr,
                                             nullptr, trivial_answer, nullptr, MHD_OPTION_THREAD_POOL_SIZE,
                                             (unsigned)2, MHD_OPTION_END);
            char ok = d ? 1 : 0;
            (void)!write(fds[1], &ok, 1);
            if (!d)
                _exit(1);
            pause();
            _exit(0);
        }
        close(fds[1]);
        char ok = 0;
        (void)!read(fds[0], &ok, 1);
        close(fds[0]);
        if (!ok) {
            waitpid(pid, nullptr, 0);
            state.SkipWithError("libmicrohttpd did not start");
            return;
        }
        std::vector<double> lat;
        uint64_t failed = 0;
        const uint64_t writes = batch_writes() / conns * conns;
        rusage r0{}, r1{};
        getrusage(RUSAGE_SELF, &r0);
        double srv0 = 0, srv1 = 0, sw;
        proc_usage(pid, &srv0, &sw);
        double s = http_load(port, conns, writes, lat, failed, gen);
        getrusage(RUSAGE_SELF, &r1);
        proc_usage(pid, &srv1, &sw);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        report(state, writes, s, 0, lat, failed);
        auto cpu = [](const rusage &r) {
            return double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
        };
        state.counters["cpu_us_server"] = (srv1 - srv0) / double(writes) * 1e6;
        state.counters["cpu_us_loadgen"] = (cpu(r1) - cpu(r0)) / double(writes) * 1e6;
        g_mhd_http[gen][conns].push_back(double(writes) / s);
    }
}

// ---- 4. replication latency ----

void replication_latency(benchmark::State &state) {
    for (auto _ : state) {
        std::string why;
        Cluster cl(why);
        if (!ready(state, cl, why))
            return;
        cw_client *c0 = nullptr, *c2 = nullptr;
        cw_client_open(&c0, cl.client[0].c_str(), 5000);
        cw_client_open(&c2, cl.client[2].c_str(), 5000);
        cw_read r;
        cw_read_init(&r);
        std::vector<double> lat, get_rtt;
        uint64_t failed = 0, polls = 0;
        Clock::time_point t0 = Clock::now();
        for (uint64_t i = 0; i < kLatencyWrites; i++) {
            char key[32];
            int len = std::snprintf(key, sizeof key, "lat-%llu", (unsigned long long)i);
            if (cw_client_put(c0, key, size_t(len), kValue, sizeof kValue - 1, nullptr, nullptr) != CW_OK) {
                failed++;
                continue;
            }
            auto a = Clock::now(), b = a;
            int rc;
            while ((rc = cw_client_get(c2, key, size_t(len), &r)) == CW_ENOTFOUND &&
                   Clock::now() - a < std::chrono::seconds(5))
                polls++;
            b = Clock::now();
            if (rc != CW_OK) {
                failed++;
                continue;
            }
            lat.push_back(std::chrono::duration<double, std::micro>(b - a).count());
            cw_client_get(c2, key, size_t(len), &r); // found: one get's round trip
            get_rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - b).count());
        }
        double s = secs(t0, Clock::now());
        cw_read_destroy(&r);
        cw_client_close(c0);
        cw_client_close(c2);
        Percentiles p = percentiles(lat), g = percentiles(get_rtt);
        state.SetIterationTime(s / double(kLatencyWrites));
        state.counters["p50_us"] = p.p50_us;
        state.counters["p99_us"] = p.p99_us;
        state.counters["get_rtt_us"] = g.p50_us;
        state.counters["polls_per_write"] = double(polls) / double(kLatencyWrites);
        state.counters["failed"] = double(failed);
    }
}

// ---- the seed's system in Python, when it is running ----

// Node j's count of node 0's writes, from its GET /status ("clock": {"0": N}).
uint64_t flask_applied_from_0(uint16_t port) {
    CURL *h = curl_easy_init();
    std::string body;
    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/status";
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    uint64_t v = 0;
    if (curl_easy_perform(h) == CURLE_OK) {
        json_error_t err;
        json_t *root = json_loads(body.c_str(), 0, &err);
        json_t *n = root ? json_object_get(json_object_get(root, "clock"), "0") : nullptr;
        v = n ? uint64_t(json_integer_value(n)) : 0;
        json_decref(root);
    }
    curl_easy_cleanup(h);
    return v;
}

void flask_http_write(benchmark::State &state) {
    const int conns = int(state.range(0));
    const Gen gen = Gen(state.range(1));
    const char *env = std::getenv("CAUSEWAY_BENCH_FLASK");
    unsigned p[3];
    if (!env || std::sscanf(env, "%u,%u,%u", &p[0], &p[1], &p[2]) != 3) {
        state.SkipWithError("set CAUSEWAY_BENCH_FLASK=PORT0,PORT1,PORT2 (bench/compare_flask.sh)");
        return;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uint64_t writes = 1000;
    if (const char *w = std::getenv("CAUSEWAY_BENCH_FLASK_WRITES"))
        writes = std::strtoull(w, nullptr, 10);
    writes = writes / conns * conns;
    for (auto _ : state) {
        uint64_t base = flask_applied_from_0(uint16_t(p[1]));
        std::vector<double> lat;
        uint64_t failed = 0;
        Clock::time_point t0 = Clock::now();
        double s = http_load(uint16_t(p[0]), conns, writes, lat, failed, gen);
        // Replication is synchronous there (the write answers after both
        // POSTs to the peers), so this is one poll when every write arrived.
        uint64_t want = base + uint64_t(conns) + writes - failed;
        auto give_up = Clock::now() + std::chrono::seconds(30);
        while ((flask_applied_from_0(uint16_t(p[1])) < want || flask_applied_from_0(uint16_t(p[2])) < want) &&
               Clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        bool all = Clock::now() < give_up;
        report(state, writes, s, all ? secs(t0, Clock::now()) : 0, lat, failed);
        if (double m = median_of(g_cw_http[gen][conns]); m > 0)
            state.counters["cw_vs_flask"] = m / (double(writes) / s);
        if (conns == 1 && g_tcp_round_trips_per_s > 0) /* what no server could beat at one connection */
            state.counters["floor_vs_flask"] = g_tcp_round_trips_per_s / (double(writes) / s);
    }
}

// ---- /status, and a join, beside a client's puts ----

// A client putting at a node without pause, on a thread of its own (none if
// `on` is false): each put's time goes to `alone` until beside() and to
// `beside` after, until stop(). report() sets put_max_ms and put_p99_us (of
// the puts beside) and put_p99_alone_us.
struct Prober {
    std::atomic<int> phase{0}; // 0 alone, 1 beside, 2 stopped
    std::vector<double> alone, beside;
    std::thread t;
    Prober(cw_client *c, std::atomic<uint64_t> &failed, bool on = true) {
        t = std::thread([this, c, &failed, on] {
            while (on && phase.load() < 2) {
                int ph = phase.load();
                auto a = Clock::now();
                failed += cw_client_put(c, "probe", 5, kValue, sizeof kValue - 1, nullptr, nullptr) != CW_OK;
                (ph == 0 ? alone : beside).push_back(micros_since(a));
            }
        });
    }
    void start_beside() { phase = 1; }
    bool stopped() const { return phase.load() == 2; }
    bool during() const { return phase.load() == 1; }
    void stop() {
        phase = 2;
        t.join();
    }
    void report(benchmark::State &state) {
        Percentiles pa = percentiles(alone), pb = percentiles(beside);
        state.counters["put_max_ms"] = beside.empty() ? 0 : beside.back() / 1000; // sorted by percentiles()
        state.counters["put_p99_us"] = pb.p99_us;
        state.counters["put_p99_alone_us"] = pa.p99_us;
    }
};

// Node 0 holds `keys` keys (written through write_many), and a client puts
// at it without pause while this thread asks for GET /status kStatusGets
// times in a row. status_ms: a /status's median time, the whole answer
// read. put_max_ms, put_p99_us: of the puts made while the /status
// requests ran (the time writes wait for the node's lock while /status
// takes the store); put_p99_alone_us: the same client's puts just before,
// with no /status under way. status_mb: one answer's size.
constexpr int kStatusGets = 3;

void status_stall(benchmark::State &state) {
    const uint64_t keys = uint64_t(state.range(0));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (auto _ : state) {
        std::string why;
        Cluster cl(why);
        if (!ready(state, cl, why))
            return;
        cw_client *c = nullptr;
        cw_client_open(&c, cl.client[0].c_str(), 10000);
        std::atomic<uint64_t> failed{write_keys(c, keys)};
        Prober probe(c, failed);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        probe.start_beside();
        std::vector<double> ms;
        double mb = 0;
        CURL *h = curl_easy_init();
        std::string url = "http://127.0.0.1:" + std::to_string(cl.http[0]) + "/status";
        for (int g = 0; g < kStatusGets; g++) {
            std::string body;
            curl_easy_setopt(h, CURLOPT_URL, url.c_str());
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
            long code = 0;
            auto a = Clock::now();
            if (curl_easy_perform(h) != CURLE_OK ||
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
                failed++;
            ms.push_back(micros_since(a) / 1000);
            mb = double(body.size()) / 1e6;
        }
        curl_easy_cleanup(h);
        probe.stop();
        cw_client_close(c);
        state.SetIterationTime(median_of(ms) / 1000);
        state.counters["status_ms"] = median_of(ms);
        state.counters["status_mb"] = mb;
        probe.report(state);
        state.counters["failed"] = double(failed);
    }
}

// A size line of a process's /proc status (field "VmHWM": its peak
// resident size; "VmRSS": its resident size now), MB; 0 if unknown.
double proc_mb(pid_t pid, const char *field) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", int(pid));
    double mb = 0;
    size_t flen = std::strlen(field);
    if (FILE *f = std::fopen(path, "r")) {
        char line[256];
        unsigned long kb;
        while (std::fgets(line, sizeof line, f))
            if (std::strncmp(line, field, flen) == 0 && line[flen] == ':' &&
                std::sscanf(line + flen + 1, " %lu kB", &kb) == 1)
                mb = double(kb) / 1024;
        std::fclose(f);
    }
    return mb;
}

double peak_mb(pid_t pid) { return proc_mb(pid, "VmHWM"); }

// Node 0 holds `keys` keys (written through write_many); node 2 is killed
// and started again without state, so it joins: nodes 0 and 1 each answer
// with a copy of their store. With `load` 1 a client puts at node 0
// without pause meanwhile (0: no client). join_ms: from the start to node 2
// holding every key; put_max_ms, put_p99_us: of the puts made meanwhile
// (the time writes wait for node 0's lock while it answers);
// put_p99_alone_us: the same client's puts just before, node 2 up;
// puts_meanwhile: the puts made in join_ms; into0_max_ms: with load, the
// longest a write at node 1 took to be applied at node 0 during the join
// (node 0's loop applies it); joiner_peak_mb and
// answerer_peak_mb: node 2's and node 0's peak resident size (VmHWM) once
// node 2 holds every key.
// A counter of node i's GET /metrics (-1: none; a node of an earlier
// release may not have it).
double metric_of(const Cluster &cl, uint32_t i, const char *name) {
    CURL *h = curl_easy_init();
    std::string body;
    std::string url = "http://127.0.0.1:" + std::to_string(cl.http[i]) + "/metrics";
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    double v = -1;
    if (curl_easy_perform(h) == CURLE_OK) {
        std::string line = std::string("\n") + name + " ";
        size_t at = body.find(line);
        if (at != std::string::npos)
            v = std::strtod(body.c_str() + at + line.size(), nullptr);
    }
    curl_easy_cleanup(h);
    return v;
}

// KEYS keys at node 0 of a group of NODES; the last node is killed and
// started again without state, and joins. With LOAD, a client puts at node
// 0 throughout, and node 1 writes to node 0 (into0_max_ms).
void join_run(benchmark::State &state, uint64_t keys, bool load, uint32_t nodes) {
    const uint32_t joiner = nodes - 1;
    for (auto _ : state) {
        std::string why;
        Cluster cl(why, kMemory, nodes);
        if (!ready(state, cl, why))
            return;
        cw_client *c = nullptr, *c2 = nullptr;
        cw_client_open(&c, cl.client[0].c_str(), 10000);
        const uint64_t written = keys - write_keys(c, keys);
        std::atomic<uint64_t> failed{keys - written};
        bool all = false;
        wait_replicated(cl, 1 + written, &all);
        Prober probe(c, failed, load);
        // Replication into node 0 meanwhile: node 1's writes, each until
        // node 0 has applied it (node 0's loop applies what comes).
        std::vector<double> into0;
        std::thread relay([&] {
            cw_client *c1 = nullptr, *c0 = nullptr;
            cw_client_open(&c1, cl.client[1].c_str(), 10000);
            cw_client_open(&c0, cl.client[0].c_str(), 10000);
            while (load && !probe.stopped()) {
                auto a = Clock::now();
                cw_vclock clock;
                cw_vclock_init(&clock);
                if (cw_client_put(c1, "relay", 5, kValue, sizeof kValue - 1, nullptr, &clock) == CW_OK) {
                    uint64_t seq = cw_vclock_get(&clock, 1);
                    while (applied_from(c0, 1) < seq && !probe.stopped())
                        std::this_thread::sleep_for(std::chrono::microseconds(200));
                    if (probe.during())
                        into0.push_back(micros_since(a));
                }
                cw_vclock_destroy(&clock);
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            cw_client_close(c0);
            cw_client_close(c1);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        cl.kill_node(joiner);
        probe.start_beside();
        Clock::time_point t0 = Clock::now();
        bool up = cl.spawn(joiner, false, why);
        cw_client_open(&c2, cl.client[joiner].c_str(), 5000);
        auto give_up = Clock::now() + std::chrono::seconds(120);
        // Every key and the warm-up write of node 0 (its probes come on top).
        while (up && applied_from(c2, 0) < 1 + written && Clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        Clock::time_point t1 = Clock::now();
        bool joined = up && applied_from(c2, 0) >= 1 + written;
        double joiner_mb = peak_mb(cl.pid[joiner]), answerer_mb = peak_mb(cl.pid[0]);
        double copies = 0, copies0 = -1;
        for (uint32_t i = 0; i < joiner && copies >= 0; i++) {
            double c_i = metric_of(cl, i, "causeway_join_copies_total");
            copies = c_i < 0 ? -1 : copies + c_i;
            copies0 = i == 0 ? c_i : copies0;
        }
        probe.stop();
        relay.join();
        cw_client_close(c2);
        cw_client_close(c);
        state.SetIterationTime(secs(t0, t1));
        state.counters["join_ms"] = 1e3 * secs(t0, t1);
        state.counters["puts_meanwhile"] = double(probe.beside.size());
        state.counters["into0_max_ms"] = into0.empty() ? 0 : *std::max_element(into0.begin(), into0.end()) / 1000;
        state.counters["joiner_peak_mb"] = joiner_mb;
        state.counters["answerer_peak_mb"] = answerer_mb;
        state.counters["copies_sent"] = copies; // whole snapshots the peers sent (-1: not counted)
        // Node 0's: whether the client's puts (put_max_ms) ran beside a copy
        // of node 0's (the joiner takes one peer's: of equal states, the
        // first head's).
        state.counters["copies_from_0"] = copies0;
        probe.report(state);
        state.counters["failed"] = double(failed);
        if (!all || !joined)
            state.SkipWithError(up ? "the restarted node did not join" : why.c_str());
    }
}

void join_stall(benchmark::State &state) { join_run(state, uint64_t(state.range(0)), state.range(1) != 0, kNodes); }

// A join in a larger group: NODES, KEYS, no client.
void join_group(benchmark::State &state) {
    join_run(state, uint64_t(state.range(1)), false, uint32_t(state.range(0)));
}

// A client-protocol get of key (src/client/proto.h: version 1, op 3, the
// id, the key and an empty value as big-endian length-prefixed blobs, no
// context), encoded here as any client in another language would.
std::string get_request(uint64_t id, const std::string &key) {
    std::string b = {char(1), char(3)};
    for (int i = 7; i >= 0; i--)
        b += char(id >> (8 * i));
    for (int i = 3; i >= 0; i--)
        b += char(uint32_t(key.size()) >> (8 * i));
    b += key;
    b.append(5, '\0'); // an empty value, no context
    return b;
}

void unread_gets(benchmark::State &state) {
    const int conns = int(state.range(0)), gets = int(state.range(1));
    const size_t kBig = 1000000;
    for (auto _ : state) {
        std::string why;
        Cluster cl(why, kMemory, 1);
        if (!ready(state, cl, why))
            return;
        cw_client *c = nullptr;
        cw_client_open(&c, cl.client[0].c_str(), 30000);
        std::string big(kBig, 'v');
        bool wrote = cw_client_put(c, "big", 3, big.data(), big.size(), nullptr, nullptr) == CW_OK &&
                     cw_client_put(c, "small", 5, kValue, sizeof kValue - 1, nullptr, nullptr) == CW_OK;
        if (!wrote) {
            cw_client_close(c);
            state.SkipWithError("the node did not take the key");
            return;
        }
        cw_read rd;
        cw_read_init(&rd);
        cw_client_get(c, "big", 3, &rd); // one answer of it made before
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        double before = proc_mb(cl.pid[0], "VmRSS"), cpu0 = 0, cpu1 = 0, sw;
        proc_usage(cl.pid[0], &cpu0, &sw);
        void *ctx = zmq_ctx_new();
        std::vector<void *> d;
        bool sent = true;
        Clock::time_point t0 = Clock::now();
        for (int i = 0; i < conns; i++) {
            void *s = zmq_socket(ctx, ZMQ_DEALER);
            // A send waits at most 10 s: a node that died meanwhile leaves
            // a DEALER's queue full for good.
            int linger = 0, hwm = 1, buf = 4096, sndtimeo = 10000;
            zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
            zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
            zmq_setsockopt(s, ZMQ_RCVBUF, &buf, sizeof buf);
            zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
            zmq_connect(s, cl.client[0].c_str());
            d.push_back(s);
            for (int g = 0; g < gets && sent; g++) {
                std::string req = get_request(uint64_t(1000 + g), "big");
                sent = zmq_send(s, req.data(), req.size(), 0) >= 0;
            }
        }
        // Until the node has dealt with them: its counters of refused and
        // unserved requests and its held bytes still for half a second (at
        // most 30 s).
        std::string last;
        auto still_since = Clock::now(), give_up = Clock::now() + std::chrono::seconds(30);
        while (Clock::now() < give_up && Clock::now() - still_since < std::chrono::milliseconds(500)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            std::string now = std::to_string(metric_of(cl, 0, "causeway_client_large_reads_refused_total")) + " " +
                              std::to_string(metric_of(cl, 0, "causeway_client_requests_unserved_total")) + " " +
                              std::to_string(metric_of(cl, 0, "causeway_client_answers_held_bytes"));
            if (now != last)
                still_since = Clock::now();
            last = now;
        }
        Clock::time_point t1 = Clock::now();
        proc_usage(cl.pid[0], &cpu1, &sw);
        int big_rc = cw_client_get(c, "big", 3, &rd);
        auto a = Clock::now();
        int small_rc = cw_client_get(c, "small", 5, &rd);
        double small_ms = 1e3 * secs(a, Clock::now());
        state.SetIterationTime(secs(t0, t1));
        state.counters["node0_before_mb"] = before;
        state.counters["node0_mb"] = proc_mb(cl.pid[0], "VmRSS");
        state.counters["node0_peak_mb"] = peak_mb(cl.pid[0]);
        state.counters["held_mb"] = metric_of(cl, 0, "causeway_client_answers_held_bytes") / 1048576;
        state.counters["held_bound_mb"] = 64 + double(kBig) / 1048576;
        state.counters["asked_mb"] = double(conns) * gets * double(kBig) / 1048576;
        state.counters["refused"] = metric_of(cl, 0, "causeway_client_large_reads_refused_total");
        state.counters["unserved"] = metric_of(cl, 0, "causeway_client_requests_unserved_total");
        state.counters["reader_big_ok"] = big_rc == CW_OK;
        state.counters["reader_small_ms"] = small_ms;
        state.counters["node0_cpu_ms"] = 1e3 * (cpu1 - cpu0);
        for (void *s : d)
            zmq_close(s);
        zmq_ctx_term(ctx);
        cw_read_destroy(&rd);
        cw_client_close(c);
        if (!sent)
            state.SkipWithError("the node stopped taking requests");
        else if (small_rc != CW_OK || (big_rc != CW_OK && big_rc != CW_EFULL))
            state.SkipWithError("the reading client was not served");
    }
}

int reg = [] {
    auto one = [](const char *name, void (*fn)(benchmark::State &)) {
        return benchmark::RegisterBenchmark(name, fn)->Iterations(1)->UseManualTime()->Unit(
            benchmark::kNanosecond);
    };
    one("node_procs/raw_zmq_stream", raw_zmq_stream);
    one("node_procs/raw_zmq_pingpong", raw_zmq_pingpong);
    one("node_procs/tcp_pingpong", tcp_pingpong);
    one("node_procs/client_put", client_put)->Arg(1)->Arg(8);
    // Threads, writes per batch.
    one("node_procs/client_write_many", client_write_many)->Args({1, 256})->Args({2, 256});
    // Store (0 memory, 1 --sync none, 2 --sync full), threads, batch.
    one("node_procs/durable_put", durable_put)
        ->Args({0, 1, 1})->Args({1, 1, 1})->Args({2, 1, 1})
        ->Args({0, 8, 1})->Args({1, 8, 1})->Args({2, 8, 1})
        ->Args({0, 1, 256})->Args({1, 1, 256})->Args({2, 1, 256});
    one("node_procs/restart_recovery", restart_recovery)->Arg(10000)->Arg(1000000);
    // Second argument: the load generator, 0 libcurl, 1 plain sockets, 2 epoll.
    one("node_procs/mhd_trivial", mhd_trivial)->Args({1, 0})->Args({8, 0})->Args({1, 1})->Args({8, 1})->Args({1, 2})->Args({8, 2});
    one("node_procs/http_write", http_write)->Args({1, 0})->Args({8, 0})->Args({1, 1})->Args({8, 1})->Args({1, 2})->Args({8, 2});
    // Durable: connections, load generator, store (1 --sync none, 2 --sync full).
    one("node_procs/http_write_durable", http_write_durable)->Args({8, 1, 1})->Args({8, 1, 2});
    one("node_procs/replication_latency", replication_latency);
    one("node_procs/status_stall", status_stall)->Arg(100000)->Arg(300000);
    // Keys, a client putting meanwhile (1) or not (0).
    one("node_procs/join_stall", join_stall)->Args({100000, 1})->Args({300000, 1})->Args({300000, 0});
    // Nodes, keys.
    one("node_procs/join_group", join_group)->Args({8, 200000})->Args({16, 100000});
    // Connections that do not read, gets each.
    one("node_procs/unread_gets", unread_gets)->Args({1, 3000})->Args({8, 400});
    // Only beside running Flask nodes (bench/compare_flask.sh).
    if (std::getenv("CAUSEWAY_BENCH_FLASK"))
        one("node_procs/flask_http_write", flask_http_write)->Args({1, 0})->Args({8, 0})->Args({1, 1})->Args({8, 1})->Args({1, 2})->Args({8, 2});
    return 0;
}();

} // namespace
