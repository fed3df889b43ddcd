// Causal delivery buffer benchmarks.
//
// A causal history is made by simulation: 8 writer replicas, each of which,
// before each write, applies a random number of the writes the others sent
// it (so writes depend on each other's in irregular ways). A ninth replica
// then receives a stream of kStream writes (or P, if more), in which each
// block of P consecutive writes arrives in uniformly random order: it holds
// up to P writes at a time, and everything else about the run is the same
// at every P: the writes, their keys, the memory they occupy, and that no
// arrival sequence repeats. (Replaying one history of P = 100 writes
// thousands of times instead measures an input that lives in L1 and whose
// branches the predictor learns: 70 ns a write here, against 134 ns for 30
// different 100-write histories that all fit in L2.)
//
// Arrivals come in batches of 64 or one call per message; ns per delivered
// write is measured for P = 10^2 .. 10^6, beside a naive buffer that
// rescans everything it holds after each arrival until nothing more is
// deliverable (the seed store's approach, clock work only: it does not
// even apply writes to a store). buffer_one_lost: the cost of releasing
// n - 2 writes that all wait for one, at n nodes; buffer_falling_waits: n - 2
// writes that wait on one node for falling counters.
#include "bench_util.h"

#include <causeway/causeway.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <vector>

using cwbench::Rng;

namespace {

constexpr uint32_t kWriters = 8, kNodes = kWriters + 1, kReceiver = kWriters;

// Writes per stream: 19 MB of messages, more than this machine's caches
// hold, so arrivals come from memory at every P.
constexpr size_t kStream = 100000;

struct Gen {
    std::vector<cw_msg *> all;
    std::deque<cw_msg *> inbox[kWriters];
    cw_node *node[kWriters];
    uint32_t id[kWriters];
};

int collect(void *ctx, cw_msg *m) {
    auto *g = static_cast<Gen *>(static_cast<void **>(ctx)[0]);
    uint32_t from = *static_cast<uint32_t *>(static_cast<void **>(ctx)[1]);
    g->all.push_back(cw_msg_ref(m));
    for (uint32_t w = 0; w < kWriters; w++)
        if (w != from)
            g->inbox[w].push_back(cw_msg_ref(m));
    return CW_OK;
}

int ignore(void *, cw_msg *) { return CW_OK; }

// The inputs of the last size asked for, and only those; a history above
// kStream writes is released as soon as its run ends (drain). A history of
// 10^6 writes holds ~190 MB of messages, and keeping it for the rest of the
// process slowed every benchmark after this file's (docs/performance.md,
// "The engine beside one thread").
struct Inputs {
    size_t history_p = 0;
    std::vector<cw_msg *> history;   // one reference each
    size_t arrivals_p = 0;
    std::vector<cw_msg *> arrivals;  // borrowed from history
    void release() {
        for (cw_msg *m : history)
            cw_msg_unref(m);
        history.clear();
        arrivals.clear();
        history_p = arrivals_p = 0;
    }
    ~Inputs() { release(); }
};

Inputs &inputs() {
    static Inputs in;
    return in;
}

// Every write of a simulated history of p writes, in the order they were
// made (a causal order). Valid until history or arrivals is called with
// another size.
const std::vector<cw_msg *> &history(size_t p) {
    Inputs &in = inputs();
    if (in.history_p == p && !in.history.empty())
        return in.history;
    in.release();
    Gen g;
    void *ctx[kWriters][2];
    for (uint32_t w = 0; w < kWriters; w++) {
        g.id[w] = w;
        ctx[w][0] = &g;
        ctx[w][1] = &g.id[w];
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = cw_node_id(w);
        o.nodes = kNodes;
        o.send = collect;
        o.send_ctx = ctx[w];
        cw_node_create(&g.node[w], &o);
    }
    Rng rng(p);
    for (size_t i = 0; i < p; i++) {
        uint32_t w = uint32_t(rng.below(kWriters));
        // Apply a random share of what has reached this writer (in send
        // order, which is causal, so each applies at once).
        size_t take = rng.below(g.inbox[w].size() + 1);
        for (size_t k = 0; k < take; k++) {
            cw_msg *m = g.inbox[w].front();
            g.inbox[w].pop_front();
            cw_node_receive(g.node[w], m, nullptr, nullptr);
            cw_msg_unref(m);
        }
        char key[16], value[16] = "0123456789abcde";
        int len = std::snprintf(key, sizeof key, "k%llu", (unsigned long long)rng.below(1000));
        cw_node_put(g.node[w], key, size_t(len), value, sizeof value, nullptr);
    }
    for (uint32_t w = 0; w < kWriters; w++) {
        for (cw_msg *m : g.inbox[w])
            cw_msg_unref(m);
        cw_node_destroy(g.node[w]);
    }
    in.history = std::move(g.all);
    in.history_p = p;
    return in.history;
}

// What the receiver gets at depth p: the writes of a history of
// max(p, kStream), each block of p consecutive ones shuffled (Fisher-Yates).
// A write depends only on writes made before it, so once a block has
// arrived everything up to it is deliverable: at most p writes wait.
// Valid until history or arrivals is called with another size.
const std::vector<cw_msg *> &arrivals(size_t p) {
    const std::vector<cw_msg *> &made = history(std::max(p, kStream));
    Inputs &in = inputs();
    if (in.arrivals_p == p && !in.arrivals.empty())
        return in.arrivals;
    std::vector<cw_msg *> order = made;
    Rng rng(p);
    for (size_t b = 0; b < order.size(); b += p) {
        size_t len = std::min(p, order.size() - b);
        for (size_t i = len; i > 1; i--)
            std::swap(order[b + i - 1], order[b + rng.below(i)]);
    }
    in.arrivals = std::move(order);
    in.arrivals_p = p;
    return in.arrivals;
}

int ignore_to(void *, uint32_t, cw_msg *) { return CW_OK; }

// The receiving replica; with `logged`, recovery is on as the engine runs
// it (a send_to: every applied write is kept in the retransmission log).
cw_node *receiver(bool logged = false) {
    cw_node_options o;
    cw_node_options_init(&o);
    o.self = kReceiver;
    o.nodes = kNodes;
    o.send = ignore;
    if (logged)
        o.send_to = ignore_to;
    cw_node *n = nullptr;
    cw_node_create(&n, &o);
    return n;
}

// Arrivals are handed over as a driver draining a receive queue would: in
// batches of kBatch through cw_node_receive_many (batched == true), or one
// cw_node_receive call each.
constexpr size_t kBatch = 64;

void drain(benchmark::State &state, bool batched) {
    const std::vector<cw_msg *> &in = arrivals(size_t(state.range(0)));
    size_t total = in.size();
    cw_node_stats st{};
    for (auto _ : state) {
        cw_node *n = receiver();
        auto t0 = std::chrono::steady_clock::now();
        if (batched) {
            for (size_t i = 0; i < total; i += kBatch)
                cw_node_receive_many(n, in.data() + i, std::min(kBatch, total - i), nullptr, nullptr);
        } else {
            for (cw_msg *m : in)
                cw_node_receive(n, m, nullptr, nullptr);
        }
        auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        cw_node_get_stats(n, &st);
        if (st.delivered != total)
            state.SkipWithError("not every write was delivered");
        cw_node_destroy(n);
    }
    state.counters["time_per_entry"] = benchmark::Counter(
        double(state.iterations()) * double(total),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["max_buffered"] = double(st.max_buffered);
    state.counters["buf_p50_ns"] = double(st.buffering.p50_ns);
    state.counters["buf_p99_ns"] = double(st.buffering.p99_ns);
    state.counters["buf_p999_ns"] = double(st.buffering.p999_ns);
    if (size_t(state.range(0)) > kStream) // not kept for whatever runs next
        inputs().release();
}

// The replica's own rate on one core, with nothing buffered: the same
// writes arriving in the order they were made, in batches of kBatch. This
// bounds what the threaded engine can deliver per core. (replica_in_order_logged:
// with the retransmission log the engine keeps, recovery on.)
void in_order(benchmark::State &state, bool logged) {
    const std::vector<cw_msg *> &in = history(size_t(state.range(0)));
    size_t total = in.size();
    for (auto _ : state) {
        cw_node *n = receiver(logged);
        auto t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < total; i += kBatch)
            cw_node_receive_many(n, in.data() + i, std::min(kBatch, total - i), nullptr, nullptr);
        auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        cw_node_stats st;
        cw_node_get_stats(n, &st);
        if (st.delivered != total || st.max_buffered != 0)
            state.SkipWithError("in-order writes were buffered or lost");
        cw_node_destroy(n);
    }
    state.counters["time_per_entry"] = benchmark::Counter(double(state.iterations()) * double(total),
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["deliveries_per_s"] =
        benchmark::Counter(double(state.iterations()) * double(total), benchmark::Counter::kIsRate);
}
void replica_in_order(benchmark::State &state) { in_order(state, false); }
void replica_in_order_logged(benchmark::State &state) { in_order(state, true); }

void buffer_drain(benchmark::State &state) { drain(state, true); }
void buffer_drain_single(benchmark::State &state) { drain(state, false); }

// The naive buffer: after each arrival, scan every held write and deliver
// whatever is ready, repeating until a whole pass delivers nothing.
void naive_drain(benchmark::State &state) {
    const std::vector<cw_msg *> &in = arrivals(size_t(state.range(0)));
    size_t total = in.size();
    for (auto _ : state) {
        cw_dclock local, msg;
        cw_dclock_init(&local, kNodes);
        std::vector<cw_msg *> held;
        size_t delivered = 0;
        auto t0 = std::chrono::steady_clock::now();
        for (cw_msg *m : in) {
            held.push_back(m);
            for (bool progress = true; progress;) {
                progress = false;
                for (size_t i = 0; i < held.size();) {
                    msg.counters = const_cast<uint64_t *>(cw_msg_counters(held[i], &msg.n));
                    cw_delivery d = cw_dclock_deliverable(&local, &msg, cw_msg_origin(held[i]), nullptr);
                    if (d == CW_DELIVER_READY) {
                        cw_dclock_merge(&local, &msg);
                        held[i] = held.back();
                        held.pop_back();
                        delivered++;
                        progress = true;
                    } else {
                        i++;
                    }
                }
            }
        }
        auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        if (delivered != total)
            state.SkipWithError("naive buffer lost writes");
        cw_dclock_destroy(&local);
    }
    state.counters["time_per_entry"] = benchmark::Counter(
        double(state.iterations()) * double(total),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Writes for one receiver (node n - 1 of n), made one by one: each takes a
// reference, and the last one made has the largest timestamp.
struct Arrivals {
    uint32_t nodes;
    std::vector<uint64_t> clock; // the next write's clock, set by the caller
    std::vector<cw_msg *> in;
    bool ok = true;
    explicit Arrivals(uint32_t n) : nodes(n), clock(n, 0) {}
    ~Arrivals() {
        for (cw_msg *m : in)
            cw_msg_unref(m);
    }
    // A write of origin with the current clock, to a key of its own unless
    // shared (a key each: no siblings, so the store's work stays one
    // version a write).
    void add(cw_node_id origin, bool shared_key) {
        char key[16];
        int len = shared_key ? std::snprintf(key, sizeof key, "k")
                             : std::snprintf(key, sizeof key, "k%u", unsigned(origin));
        cw_hlc_timestamp ts = {1000 + in.size(), 0, origin};
        cw_msg *m = nullptr;
        ok = ok && cw_msg_create(&m, origin, &ts, clock.data(), nodes, key, size_t(len), "v", 1) == CW_OK;
        if (m)
            in.push_back(m);
    }
};

// Times a fresh receiver taking a.in in batches, per write delivered; every
// write must be delivered, and `blocked` of them held at once.
void time_arrivals(benchmark::State &state, const Arrivals &a, uint64_t blocked) {
    for (auto _ : state) {
        if (!a.ok) {
            state.SkipWithError("cw_msg_create failed");
            break;
        }
        cw_node_options o;
        cw_node_options_init(&o);
        o.self = a.nodes - 1;
        o.nodes = a.nodes;
        o.send = ignore;
        cw_node *n = nullptr;
        if (cw_node_create(&n, &o) != CW_OK) {
            state.SkipWithError("cw_node_create failed");
            break;
        }
        auto t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < a.in.size(); i += kBatch)
            cw_node_receive_many(n, a.in.data() + i, std::min(kBatch, a.in.size() - i), nullptr, nullptr);
        auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        cw_node_stats st;
        cw_node_get_stats(n, &st);
        cw_node_destroy(n);
        if (st.delivered != a.in.size() || st.max_buffered != blocked) {
            state.SkipWithError("the blocked writes were not all held, then all delivered");
            break;
        }
    }
    state.counters["time_per_entry"] = benchmark::Counter(double(state.iterations()) * double(a.in.size()),
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One write lost, everyone waiting on it: a receiver in a group of n gets
// one write from each of the other n - 2 senders, each made after origin 0's
// first write (and so blocked on it), and then that write, which releases
// them all. What a repaired loss costs the buffer at n nodes, per write
// delivered: each blocked head is filed under the same (node, counter).
void buffer_one_lost(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    Arrivals a(nodes); // the n - 2 blocked writes, then the one they wait for
    for (uint32_t s = 1; s + 1 <= nodes - 1; s++) {
        std::fill(a.clock.begin(), a.clock.end(), 0);
        a.clock[0] = 1;
        a.clock[s] = 1;
        a.add(cw_node_id(s), false);
    }
    std::fill(a.clock.begin(), a.clock.end(), 0);
    a.clock[0] = 1;
    a.add(0, true);
    time_arrivals(state, a, nodes - 2);
}

// Heads filed in falling counter order: a receiver in a group of n gets one
// write from each of n - 2 senders, sender s's made after origin 0's write
// n - 1 - s (so each waits on node 0, for a smaller counter than the one
// before it), then origin 0's writes 1 .. n - 2 in order, each releasing one.
// The order a waiting list meets when later senders saw less of a lagging
// node; per write delivered.
void buffer_falling_waits(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    Arrivals a(nodes); // n - 2 blocked writes, then origin 0's n - 2
    for (uint32_t s = 1; s + 1 <= nodes - 1; s++) {
        std::fill(a.clock.begin(), a.clock.end(), 0);
        a.clock[0] = nodes - 1 - s;
        a.clock[s] = 1;
        a.add(cw_node_id(s), false);
    }
    std::fill(a.clock.begin(), a.clock.end(), 0);
    for (uint32_t c = 1; c + 1 <= nodes - 1; c++) {
        a.clock[0] = c;
        a.add(0, true);
    }
    time_arrivals(state, a, nodes - 2);
}

struct Register {
    Register() {
        cwbench::register_with_baseline("buffer_drain", buffer_drain,
                                        {100, 1000, 10000, 100000, 1000000}, "naive", naive_drain,
                                        {100, 1000, 10000}, true);
        benchmark::RegisterBenchmark("replica_in_order", replica_in_order)
            ->Arg(10000)->UseManualTime()->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark("replica_in_order_logged", replica_in_order_logged)
            ->Arg(10000)->UseManualTime()->Unit(benchmark::kMillisecond);
        // The same naive runs stand beside the one-call-per-message feed.
        auto *single = benchmark::RegisterBenchmark("buffer_drain_single", buffer_drain_single);
        for (int64_t p : {100, 1000, 10000, 100000, 1000000})
            single->Arg(p);
        single->UseManualTime()->Unit(benchmark::kMillisecond);
        for (int64_t p : {100, 1000, 10000})
            cwbench::baselines()["buffer_drain_single/" + std::to_string(p)] =
                "naive:buffer_drain/" + std::to_string(p);
        benchmark::RegisterBenchmark("buffer_one_lost", buffer_one_lost)
            ->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096)->ArgName("nodes")->UseManualTime();
        benchmark::RegisterBenchmark("buffer_falling_waits", buffer_falling_waits)
            ->Arg(64)->Arg(1024)->Arg(4096)->ArgName("nodes")->UseManualTime();
    }
} registered;

} // namespace
