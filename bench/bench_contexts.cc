// Contexts, deletes and sessions (issue 16), each beside its baseline in the
// same run:
//   ctx_write/nodes:N       one replica: cw_node_put_ctx with a read's
//                           context beside cw_node_put (same keys, same
//                           values), and read-modify-write (get, then the
//                           write) both ways;
//   ctx_get/nodes:N/siblings:S  cw_node_get (versions and context) of keys
//                           holding S siblings beside keys holding one;
//   rmw_siblings/clients:C/delay:D  C clients read-modify-write one key of a
//                           3-node engine (D = 1: with the fault layer delaying
//                           a fifth of the messages up to 300 us): contexts with sessions, contexts without
//                           sessions, plain puts with sessions; the most
//                           siblings any read saw, the count left at the end,
//                           and updates lost (checked against what the
//                           clients read, not against the engine's clocks);
//   delete_memory/nodes:N   resident memory and keys held over a delete-heavy
//                           run of the engine, beside puts only (a CSV series).
// On a shared 2-core machine host noise moves a run by 20-30%, so A and B
// alternate at a fine grain (batches of 64 operations, or whole runs in an
// order that rotates) and ratios are medians of each pair's own ratio.
#include "bench_util.h"

#include <causeway/causeway.h>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class T> double median(std::vector<T> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t h = v.size() / 2;
    return v.size() % 2 ? double(v[h]) : (double(v[h - 1]) + double(v[h])) / 2;
}

constexpr char kValue[32] = "0123456789abcdef0123456789abcde";

// ---- one replica ----

int ignore_send(void *, cw_msg *) { return CW_OK; }

int collect_send(void *ctx, cw_msg *m) {
    static_cast<std::vector<cw_msg *> *>(ctx)->push_back(cw_msg_ref(m));
    return CW_OK;
}

// Replica 0 of `nodes`, no loss recovery, after it has applied one write from
// every other node: its clock, and so the clock every write it makes carries
// and a plain put's context, has `nodes` entries (a read's context has one
// per version read).
cw_node *primed_replica(uint32_t nodes) {
    cw_node_options o;
    cw_node_options_init(&o);
    o.nodes = nodes;
    o.send = ignore_send;
    cw_node *n = nullptr;
    if (cw_node_create(&n, &o) != CW_OK)
        return nullptr;
    for (uint32_t j = 1; j < nodes; j++) {
        std::vector<cw_msg *> sent;
        cw_node_options w;
        cw_node_options_init(&w);
        w.self = cw_node_id(j);
        w.nodes = nodes;
        w.send = collect_send;
        w.send_ctx = &sent;
        cw_node *writer = nullptr;
        char key[16];
        int len = std::snprintf(key, sizeof key, "p%u", j);
        if (cw_node_create(&writer, &w) == CW_OK &&
            cw_node_put(writer, key, size_t(len), kValue, sizeof kValue, nullptr) == CW_OK)
            for (cw_msg *m : sent)
                cw_node_receive(n, m, nullptr, nullptr);
        for (cw_msg *m : sent)
            cw_msg_unref(m);
        cw_node_destroy(writer);
    }
    const uint64_t *v = cw_node_counters(n);
    for (uint32_t j = 1; j < nodes; j++)
        if (v[j] != 1) {
            cw_node_destroy(n);
            return nullptr;
        }
    return n;
}

// Timed work comes in batches of kBatch operations over consecutive keys of
// kKeys, 13-byte keys and 32-byte values.
constexpr size_t kBatch = 64, kKeys = 1024;

struct Keys {
    std::vector<std::string> k;
    explicit Keys(const char *prefix, size_t count) {
        char buf[32];
        for (size_t i = 0; i < count; i++) {
            std::snprintf(buf, sizeof buf, "%s%012zu", prefix, i);
            k.emplace_back(buf);
        }
    }
};

enum Way { kPut, kPutCtx, kRmwPut, kRmwPutCtx, kWays };

// One batch of `way` over keys [first, first + kBatch): ns per operation, or
// -1 if a call failed. For kPut and kPutCtx the keys are read first, outside
// the timing (so both find the same keys warm); kPutCtx writes with the
// context of that read. kRmw* time the read and the write.
double write_batch(cw_node *n, const Keys &keys, size_t first, Way way, std::vector<cw_read> &reads) {
    if (way == kPut || way == kPutCtx)
        for (size_t i = 0; i < kBatch; i++) {
            const std::string &k = keys.k[first + i];
            if (cw_node_get(n, k.data(), k.size(), &reads[i]) != CW_OK)
                return -1;
        }
    int bad = 0;
    auto t0 = Clock::now();
    for (size_t i = 0; i < kBatch; i++) {
        const std::string &k = keys.k[first + i];
        if (way == kRmwPut || way == kRmwPutCtx)
            bad |= cw_node_get(n, k.data(), k.size(), &reads[i]);
        if (way == kPut || way == kRmwPut)
            bad |= cw_node_put(n, k.data(), k.size(), kValue, sizeof kValue, nullptr);
        else
            bad |= cw_node_put_ctx(n, k.data(), k.size(), kValue, sizeof kValue, &reads[i].context, nullptr);
    }
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / double(kBatch);
    return bad ? -1 : ns;
}

// ctx_write/nodes:N: each iteration runs the four ways on the same batch of
// keys, in an order that rotates from iteration to iteration; the time is
// the context write's.
void ctx_write(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    cw_node *n = primed_replica(nodes);
    if (!n) {
        state.SkipWithError("priming the replica failed");
        return;
    }
    Keys keys("k", kKeys);
    for (const std::string &k : keys.k)
        cw_node_put(n, k.data(), k.size(), kValue, sizeof kValue, nullptr);
    std::vector<cw_read> reads(kBatch);
    for (cw_read &r : reads)
        cw_read_init(&r);
    std::vector<double> ns[kWays], ctx_ratio, rmw_ratio;
    const char *error = nullptr;
    size_t round = 0;
    for (auto _ : state) {
        size_t first = (round * kBatch) % kKeys;
        double t[kWays];
        for (size_t k = 0; k < kWays && !error; k++) {
            Way w = Way((round + k) % kWays);
            t[w] = write_batch(n, keys, first, w, reads);
            ns[w].push_back(t[w]);
            error = t[w] < 0 ? "a get or write failed" : nullptr;
        }
        if (error)
            break;
        ctx_ratio.push_back(t[kPutCtx] / t[kPut]);
        rmw_ratio.push_back(t[kRmwPutCtx] / t[kRmwPut]);
        state.SetIterationTime(t[kPutCtx] * kBatch / 1e9);
        round++;
    }
    // Every write replaced what its read saw: one version a key, always.
    for (size_t i = 0; i < kKeys && !error; i++)
        if (cw_node_get(n, keys.k[i].data(), keys.k[i].size(), &reads[0]) != CW_OK || reads[0].count != 1)
            error = "a key holds siblings after context writes";
    if (error) {
        state.SkipWithError(error);
    } else {
        state.counters["put_ns"] = median(ns[kPut]);
        state.counters["put_ctx_ns"] = median(ns[kPutCtx]);
        state.counters["ctx_vs_put"] = median(ctx_ratio);
        state.counters["rmw_put_ns"] = median(ns[kRmwPut]);
        state.counters["rmw_put_ctx_ns"] = median(ns[kRmwPutCtx]);
        state.counters["rmw_ctx_vs_put"] = median(rmw_ratio);
    }
    for (cw_read &r : reads)
        cw_read_destroy(&r);
    cw_node_destroy(n);
}

// ctx_get/nodes:N/siblings:S: kKeys keys holding S siblings each (S context
// writes from one empty read) beside kKeys keys holding one version made the
// same way (one such write); batches of kBatch gets alternate between them.
void ctx_get(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    size_t siblings = size_t(state.range(1));
    cw_node *n = primed_replica(nodes);
    if (!n) {
        state.SkipWithError("priming the replica failed");
        return;
    }
    Keys many("s", kKeys), one("o", kKeys);
    cw_vclock empty;
    cw_vclock_init(&empty);
    int bad = 0;
    for (size_t i = 0; i < kKeys; i++) {
        for (size_t s = 0; s < siblings; s++)
            bad |= cw_node_put_ctx(n, many.k[i].data(), many.k[i].size(), kValue, sizeof kValue, &empty, nullptr);
        bad |= cw_node_put_ctx(n, one.k[i].data(), one.k[i].size(), kValue, sizeof kValue, &empty, nullptr);
    }
    cw_read r;
    cw_read_init(&r);
    std::vector<double> ns_many, ns_one, ratio;
    size_t round = 0, context_entries = 0;
    auto batch = [&](const Keys &keys, size_t first, size_t want) {
        auto t0 = Clock::now();
        for (size_t i = 0; i < kBatch; i++) {
            const std::string &k = keys.k[first + i];
            bad |= cw_node_get(n, k.data(), k.size(), &r);
            bad |= r.count != want;
        }
        context_entries = cw_vclock_size(&r.context);
        return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / double(kBatch);
    };
    for (auto _ : state) {
        size_t first = (round * kBatch) % kKeys;
        double a, b;
        if (round % 2) {
            b = batch(one, first, 1);
            a = batch(many, first, siblings);
        } else {
            a = batch(many, first, siblings);
            b = batch(one, first, 1);
        }
        if (bad) {
            state.SkipWithError("a get failed or returned the wrong number of siblings");
            break;
        }
        ns_many.push_back(a);
        ns_one.push_back(b);
        ratio.push_back(a / b);
        state.SetIterationTime(a * kBatch / 1e9);
        round++;
    }
    state.counters["get_ns"] = median(ns_many);
    state.counters["one_version_get_ns"] = median(ns_one);
    state.counters["vs_one_version"] = median(ratio);
    state.counters["context_entries"] = double(context_entries);
    cw_read_destroy(&r);
    cw_vclock_destroy(&empty);
    cw_node_destroy(n);
}

// ---- siblings under concurrent read-modify-write clients ----

enum Mode { kSessions, kNoSessions, kPlainPuts, kModes };
const char *const kModeName[kModes] = {"sessions", "no_sessions", "plain"};

constexpr uint32_t kRmwNodes = 3;
constexpr uint64_t kRmwOps = 6000; // per run, shared among the clients

uint64_t dot(cw_node_id origin, uint64_t seq) { return uint64_t(origin) << 48 | seq; }

struct RmwClient {
    std::vector<uint64_t> read, wrote; // dots: read before a write; written
    uint32_t max_siblings = 0;
    const char *error = nullptr;
};

// One client: `rounds` times, at a node it picks at random: (with sessions)
// wait until the node has applied what the client has seen, read the key,
// write it (with the read's context, or a plain put), merge the write's clock
// and the read's context into what it has seen.
void rmw_client(cw_engine *e, Mode mode, uint32_t id, uint64_t rounds, uint64_t seed, RmwClient &c) {
    cwbench::Rng rng(seed * 1000 + id);
    cw_vclock seen, out;
    cw_vclock_init(&seen);
    cw_vclock_init(&out);
    cw_read rd;
    cw_read_init(&rd);
    for (uint64_t i = 0; i < rounds && !c.error; i++) {
        cw_node_id at = cw_node_id(rng.below(kRmwNodes));
        if (mode != kNoSessions && cw_engine_wait_for(e, at, &seen, 10000) != CW_OK) {
            c.error = "wait_for failed (10 s)";
            break;
        }
        int rc = cw_engine_get(e, at, "k", 1, &rd);
        if (rc != CW_OK && rc != CW_ENOTFOUND) {
            c.error = "get failed";
            break;
        }
        size_t count = rc == CW_OK ? rd.count : 0;
        c.max_siblings = std::max(c.max_siblings, uint32_t(count));
        for (size_t v = 0; v < count; v++)
            c.read.push_back(dot(rd.versions[v].origin, rd.versions[v].seq));
        char value[32];
        int len = std::snprintf(value, sizeof value, "c%u.%llu", id, (unsigned long long)i);
        rc = mode == kPlainPuts ? cw_engine_put(e, at, "k", 1, value, size_t(len), &out)
                                : cw_engine_put_ctx(e, at, "k", 1, value, size_t(len), &rd.context, &out);
        if (rc != CW_OK) {
            c.error = "write failed";
            break;
        }
        c.wrote.push_back(dot(at, cw_vclock_get(&out, at)));
        cw_vclock_merge(&seen, &rd.context);
        cw_vclock_merge(&seen, &out);
    }
    cw_read_destroy(&rd);
    cw_vclock_destroy(&seen);
    cw_vclock_destroy(&out);
}

struct RmwRun {
    uint32_t max_siblings = 0; // the most any read saw
    size_t final_count = 0;    // versions left once quiesced (the same at every node)
    uint64_t lost = 0;         // writes no client read, gone at the end: lost updates
    uint64_t stale = 0;        // versions some client read and replaced, still there
    double ops_per_s = 0;
    const char *error = nullptr;
};

RmwRun rmw_run(uint32_t clients, bool delay, Mode mode, uint64_t seed) {
    RmwRun r;
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = kRmwNodes;
    o.seed = seed;
    if (delay) { // as test_engine's read-modify-write test
        o.delay_probability = 0.2;
        o.max_delay_us = 300;
    }
    cw_engine *e = nullptr;
    if (cw_engine_open(&e, &o) != CW_OK) {
        r.error = "open failed";
        return r;
    }
    std::vector<RmwClient> c(clients);
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (uint32_t i = 0; i < clients; i++)
        threads.emplace_back(rmw_client, e, mode, i, kRmwOps / clients, seed, std::ref(c[i]));
    for (std::thread &t : threads)
        t.join();
    r.ops_per_s = double(kRmwOps / clients * clients) / seconds_since(t0);
    if (cw_engine_quiesce(e, 60000) != CW_OK)
        r.error = "quiesce timed out";
    std::unordered_set<uint64_t> read, wrote, final_dots;
    for (const RmwClient &x : c) {
        r.error = r.error ? r.error : x.error;
        r.max_siblings = std::max(r.max_siblings, x.max_siblings);
        read.insert(x.read.begin(), x.read.end());
        wrote.insert(x.wrote.begin(), x.wrote.end());
    }
    cw_read rd, other;
    cw_read_init(&rd);
    cw_read_init(&other);
    if (!r.error && cw_engine_get(e, 0, "k", 1, &rd) != CW_OK)
        r.error = "final get failed";
    for (cw_node_id j = 1; j < kRmwNodes && !r.error; j++)
        if (cw_engine_get(e, j, "k", 1, &other) != CW_OK || other.count != rd.count)
            r.error = "nodes ended with different versions";
    r.final_count = rd.count;
    for (size_t v = 0; v < rd.count; v++)
        final_dots.insert(dot(rd.versions[v].origin, rd.versions[v].seq));
    // A write survives exactly when no client read it before writing (what
    // was read, the reader's write replaced).
    for (uint64_t d : wrote)
        if (!read.count(d) && !final_dots.count(d))
            r.lost++;
    for (uint64_t d : final_dots)
        if (read.count(d) || !wrote.count(d))
            r.stale++;
    cw_read_destroy(&rd);
    cw_read_destroy(&other);
    cw_engine_close(e);
    return r;
}

// rmw_siblings/clients:C/delay:D: each iteration runs the three modes once, in an
// order that rotates. Counters: the most siblings any read saw over every
// run, the most left at the end, lost updates (median a run), ops/s
// (median), for each mode.
void rmw_siblings(benchmark::State &state) {
    uint32_t clients = uint32_t(state.range(0));
    bool delay = state.range(1) != 0;
    std::vector<RmwRun> runs[kModes];
    uint64_t round = 0;
    for (auto _ : state) {
        double seconds = 0;
        for (size_t k = 0; k < kModes; k++) {
            Mode m = Mode((round + k) % kModes);
            auto t0 = Clock::now();
            RmwRun r = rmw_run(clients, delay, m, 11 + round);
            seconds += seconds_since(t0);
            if (r.error) {
                std::fprintf(stderr, "rmw_siblings: %u clients, %s: %s\n", clients, kModeName[m], r.error);
                state.SkipWithError(r.error);
                return;
            }
            runs[m].push_back(r);
        }
        state.SetIterationTime(seconds);
        round++;
    }
    for (size_t m = 0; m < kModes; m++) {
        uint32_t max_sib = 0;
        size_t max_final = 0;
        uint64_t stale = 0;
        std::vector<double> lost, rate;
        for (const RmwRun &r : runs[m]) {
            max_sib = std::max(max_sib, r.max_siblings);
            max_final = std::max(max_final, r.final_count);
            stale += r.stale;
            lost.push_back(double(r.lost));
            rate.push_back(r.ops_per_s);
        }
        std::string p = kModeName[m];
        state.counters[p + "_max_siblings"] = max_sib;
        state.counters[p + "_final_max"] = double(max_final);
        state.counters[p + "_lost"] = median(lost);
        state.counters[p + "_stale"] = double(stale);
        state.counters[p + "_ops_per_s"] = median(rate);
    }
}

// ---- memory over a delete-heavy run ----

// Resident memory of the process, bytes.
double rss_bytes() {
    FILE *f = std::fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f) {
        if (std::fscanf(f, "%llu %llu", &size, &resident) != 2)
            resident = 0;
        std::fclose(f);
    }
    return double(resident) * double(sysconf(_SC_PAGESIZE));
}

enum Load { kDeletes, kPutsOnly, kFreshDeletes, kLoads };
const char *const kLoadName[kLoads] = {"deletes", "puts", "fresh_deletes"};

constexpr uint32_t kMemWriters = 2;

constexpr uint64_t kMemKeys = 10000;

// Operations a run makes: 1,000,000, or $CAUSEWAY_BENCH_DELETE_OPS (to look
// for slow growth over a longer run).
uint64_t mem_ops() {
    const char *env = std::getenv("CAUSEWAY_BENCH_DELETE_OPS");
    uint64_t ops = env ? std::strtoull(env, nullptr, 10) : 0;
    return ops >= 4 * kMemWriters ? ops : 1000000;
}
constexpr double kMemSample = 0.100, kMemSettle = 0.5;

struct MemSample {
    double t, rss;
    uint64_t ops, keys, log;
    bool settling; // after the writers finished
};

// Writer w of kMemWriters: its pairs of operations p = 0, 1, ... go to key
// p * kMemWriters + w (mod kMemKeys, except for fresh keys) at node key mod
// nodes: a put, then a delete (with the node's clock as context: the put it
// follows), or a second put.
void mem_writer(cw_engine *e, uint32_t nodes, Load load, uint32_t w, std::atomic<uint64_t> &ops,
                std::atomic<uint64_t> &failed) {
    for (uint64_t p = 0, pairs = mem_ops() / kMemWriters / 2; p < pairs; p++) {
        uint64_t id = p * kMemWriters + w;
        if (load != kFreshDeletes)
            id %= kMemKeys;
        char key[24];
        int len = std::snprintf(key, sizeof key, "m%llu", (unsigned long long)id);
        cw_node_id at = cw_node_id(id % nodes);
        int rc = cw_engine_put(e, at, key, size_t(len), kValue, sizeof kValue, nullptr);
        int rc2 = load == kPutsOnly ? cw_engine_put(e, at, key, size_t(len), kValue, sizeof kValue, nullptr)
                                    : cw_engine_delete(e, at, key, size_t(len), nullptr, nullptr);
        failed.fetch_add((rc != CW_OK) + (rc2 != CW_OK), std::memory_order_relaxed);
        ops.fetch_add(2, std::memory_order_relaxed);
    }
}

struct MemRun {
    std::vector<MemSample> s;
    double rss_start = 0, seconds = 0;
    const char *error = nullptr;
};

MemSample sample(cw_engine *e, uint32_t nodes, double t, uint64_t ops, bool settling) {
    MemSample s{t, rss_bytes(), ops, 0, 0, settling};
    for (uint32_t j = 0; j < nodes; j++) {
        cw_node_stats st;
        if (cw_engine_stats(e, cw_node_id(j), &st) == CW_OK) {
            s.keys += st.keys;
            s.log += st.log_entries;
        }
    }
    return s;
}

MemRun mem_run(uint32_t nodes, Load load) {
    MemRun r;
    malloc_trim(0); // what earlier runs freed goes back, so runs start alike
    r.rss_start = rss_bytes();
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = nodes;
    o.seed = 5;
    cw_engine *e = nullptr;
    if (cw_engine_open(&e, &o) != CW_OK) {
        r.error = "open failed";
        return r;
    }
    std::atomic<uint64_t> ops{0}, failed{0};
    std::atomic<uint32_t> running{kMemWriters};
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (uint32_t w = 0; w < kMemWriters; w++)
        threads.emplace_back([&, w] {
            mem_writer(e, nodes, load, w, ops, failed);
            running.fetch_sub(1);
        });
    double done_at = -1;
    for (uint64_t k = 1;; k++) {
        std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(double(k) * kMemSample)));
        double t = seconds_since(t0);
        bool settling = done_at >= 0;
        r.s.push_back(sample(e, nodes, t, ops.load(), settling));
        if (!settling && running.load() == 0) {
            for (std::thread &th : threads)
                th.join();
            if (cw_engine_quiesce(e, 60000) != CW_OK)
                r.error = "quiesce timed out";
            done_at = seconds_since(t0);
        }
        if (settling && t >= done_at + kMemSettle)
            break;
    }
    r.seconds = done_at;
    if (failed.load())
        r.error = "a put or delete failed";
    cw_engine_close(e);
    return r;
}

// The sample of the writing phase nearest to fraction q of it.
const MemSample &at_fraction(const std::vector<MemSample> &s, double q) {
    size_t n = 0;
    while (n < s.size() && !s[n].settling)
        n++;
    size_t i = size_t(q * double(n) + 0.5);
    return s[std::min(std::max<size_t>(i, 1), std::max<size_t>(n, 1)) - 1];
}

void print_mem_series(const MemRun &r, uint32_t nodes, Load load) {
    const char *path = std::getenv("CAUSEWAY_BENCH_CONTEXTS_CSV");
    FILE *f = path ? std::fopen(path, "a") : stderr;
    if (!f) {
        std::fprintf(stderr, "delete_memory: cannot open %s\n", path);
        f = stderr;
    }
    std::fprintf(f, "# delete_memory: %u nodes, %s, %llu operations, %u writers, rss at start %.1f MB\n", nodes,
                 kLoadName[load], (unsigned long long)mem_ops(), kMemWriters, r.rss_start / 1e6);
    std::fprintf(f, "t_s,ops,rss_mb,keys_sum,log_sum,phase\n");
    for (const MemSample &s : r.s)
        std::fprintf(f, "%.3f,%llu,%.2f,%llu,%llu,%s\n", s.t, (unsigned long long)s.ops, s.rss / 1e6,
                     (unsigned long long)s.keys, (unsigned long long)s.log, s.settling ? "settle" : "write");
    if (f != stderr)
        std::fclose(f);
}

// delete_memory/nodes:N: one iteration runs the three loads once (mem_ops()
// operations over kMemKeys keys, or over fresh keys). Counters for each:
// RSS at 25/50/75/100% of the writing phase (MB), the last sample's RSS over
// the median from 25% on (flat: ~1), keys summed over the nodes at 50% and
// 100% and 0.5 s after the writers stopped, operations/s.
void delete_memory(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    for (auto _ : state) {
        double seconds = 0;
        for (int l = 0; l < kLoads; l++) {
            Load load = Load(l);
            MemRun r = mem_run(nodes, load);
            if (r.error) {
                std::fprintf(stderr, "delete_memory: %u nodes, %s: %s\n", nodes, kLoadName[load], r.error);
                state.SkipWithError(r.error);
                return;
            }
            print_mem_series(r, nodes, load);
            seconds += r.seconds;
            std::vector<double> later;
            for (const MemSample &s : r.s)
                if (!s.settling && s.t >= 0.25 * r.seconds)
                    later.push_back(s.rss);
            const MemSample &last = at_fraction(r.s, 1.0);
            std::string p = kLoadName[load];
            state.counters[p + "_rss_mb_start"] = r.rss_start / 1e6;
            for (int q : {25, 50, 75, 100})
                state.counters[p + "_rss_mb_" + std::to_string(q)] = at_fraction(r.s, q / 100.0).rss / 1e6;
            state.counters[p + "_rss_last_vs_median"] = last.rss / median(later);
            state.counters[p + "_keys_50"] = double(at_fraction(r.s, 0.5).keys);
            state.counters[p + "_keys_100"] = double(last.keys);
            state.counters[p + "_keys_settled"] = double(r.s.back().keys);
            state.counters[p + "_ops_per_s"] = double(r.s.back().ops) / r.seconds;
        }
        state.SetIterationTime(seconds);
    }
}

struct Register {
    Register() {
        benchmark::RegisterBenchmark("ctx_write", ctx_write)
            ->ArgName("nodes")->Arg(3)->Arg(64)->UseManualTime()->Iterations(2000);
        auto *g = benchmark::RegisterBenchmark("ctx_get", ctx_get);
        for (int64_t n : {3, 64})
            for (int64_t s : {1, 2, 8})
                g->Args({n, s});
        g->ArgNames({"nodes", "siblings"})->UseManualTime()->Iterations(2000);
        auto *rmw = benchmark::RegisterBenchmark("rmw_siblings", rmw_siblings);
        for (int64_t d : {0, 1})
            for (int64_t c : {1, 2, 4, 7})
                rmw->Args({c, d});
        rmw->ArgNames({"clients", "delay"})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
        benchmark::RegisterBenchmark("delete_memory", delete_memory)
            ->ArgName("nodes")->Arg(3)->Arg(8)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
    }
} registered;

} // namespace
