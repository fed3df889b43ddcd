// replicas_two_threads: engine_e2e's workload on two threads that pass
// each other messages only through a ring each way: what this machine's two
// cores give these replicas with no engine in between. Thread t owns the
// nodes j with j % 2 == t (nodes must be even) and makes their writes itself
// (writes i = t, t + 2, ..., at node i % nodes with key i % 100: which node
// writes which key is engine_e2e's), with no client thread and no hand-off
// of puts. Every 32 writes it hands them to its own other nodes
// (cw_node_receive_many), then passes them to the other thread over a
// single-producer single-consumer ring of pointers; the other thread hands
// each batch it takes to its nodes. Recovery traffic (reports, and pulls and
// answers if any) goes the same way: to its one node, or to every node but
// its sender. Each thread ticks its own nodes. The replicas get the
// engine's node options.
//
// With copy:0 both threads' nodes hold the same messages, as the engine's
// do (a store or log reference is an atomic on a line both cores write).
// With copy:1 the receiving thread takes a copy of each message it is
// passed (cw_msg_encode then cw_msg_decode) and drops the sender's
// reference, so after the crossing every reference it takes is to a line
// only its own core writes.
//
// It measures the machine, not a design an engine could ship: no put
// crosses threads, no lock is taken, no thread sleeps (each spins on its
// ring). The replicas' own bounds hold: a put refused because its node's
// writes wait for stability (max_log) is made again after the next
// traffic, and stalled_puts counts the puts that waited so; at 2 and 4
// nodes many do, and the rate there is partly stability's pace. A full
// ring's messages wait in the sender's list.
#include "bench_util.h"
#include "now.h"

#include <causeway/causeway.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

namespace {

constexpr size_t kPutBatch = 32;    // writes a thread makes before it hands them on
constexpr size_t kTakeBatch = 256;  // messages taken from the ring at a time
constexpr size_t kRing = 4096;      // a power of two

struct Item {
    uint32_t to; // a node, or CW_NODE_ALL (every node but the origin)
    cw_msg *msg; // one reference, the receiver's
};

// One producer, one consumer. The producer's release store of tail
// publishes the slots it wrote before it; the consumer's acquire load of
// tail sees them. The consumer's release store of head hands the slots it
// read back; the producer's acquire load of head sees them free.
struct Ring {
    alignas(64) std::atomic<size_t> head{0};
    alignas(64) std::atomic<size_t> tail{0};
    alignas(64) Item slot[kRing];

    // Pushes from the front of `from` while there is room.
    void push(std::deque<Item> &from) {
        size_t t = tail.load(std::memory_order_relaxed);
        size_t room = kRing - (t - head.load(std::memory_order_acquire));
        size_t n = 0;
        for (; n < room && !from.empty(); n++) {
            slot[(t + n) & (kRing - 1)] = from.front();
            from.pop_front();
        }
        if (n)
            tail.store(t + n, std::memory_order_release);
    }
    size_t take(Item *out, size_t cap) {
        size_t h = head.load(std::memory_order_relaxed);
        size_t n = tail.load(std::memory_order_acquire) - h;
        n = n < cap ? n : cap;
        for (size_t i = 0; i < n; i++)
            out[i] = slot[(h + i) & (kRing - 1)];
        if (n)
            head.store(h + n, std::memory_order_release);
        return n;
    }
};

struct alignas(64) Half { // its own lines: the two halves sit side by side
    uint32_t self = 0, nodes = 0;
    bool copy = false;
    std::vector<cw_node *> *all = nullptr; // every node; this half touches its own only
    Ring *in = nullptr, *out = nullptr;
    std::vector<cw_msg *> written;                       // this batch's writes (a reference each)
    std::vector<std::pair<uint32_t, cw_msg *>> traffic;  // recovery traffic (a reference each)
    std::deque<Item> waiting;                            // for the other thread, in order
    std::vector<cw_msg *> mine, run_of_writes;
    std::vector<uint8_t> bytes;
    bool failed = false, timed_out = false;
    uint64_t stalled = 0;            // puts refused for stability at least once (made again later)
    uint64_t last_stalled = UINT64_MAX; // the write index last refused

    static int on_send(void *ctx, cw_msg *m) {
        static_cast<Half *>(ctx)->written.push_back(cw_msg_ref(m));
        return CW_OK;
    }
    static int on_send_to(void *ctx, uint32_t to, cw_msg *m) {
        static_cast<Half *>(ctx)->traffic.emplace_back(to, cw_msg_ref(m));
        return CW_OK;
    }
    bool owns(uint32_t j) const { return j % 2 == self; }

    // Hands writes (borrowed) to this half's nodes but each one's origin.
    void deliver_writes(cw_msg *const *msgs, size_t count) {
        for (uint32_t j = self; j < nodes; j += 2)
            failed |= !cwbench::e2e_receive_writes((*all)[j], j, msgs, count, mine, nullptr);
    }
    // Hands m (borrowed), sent `to`, to this half's nodes it is for.
    void deliver_one(uint32_t to, cw_msg *m) {
        for (uint32_t j = self; j < nodes; j += 2)
            if (cwbench::e2e_is_for(to, j, m))
                cw_node_receive((*all)[j], m, nullptr, nullptr);
    }
    // Recovery traffic its nodes sent (it grows while delivered: answers).
    void route_traffic() {
        for (size_t at = 0; at < traffic.size(); at++) {
            auto [to, m] = traffic[at];
            deliver_one(to, m);
            if (to == CW_NODE_ALL || !owns(to))
                waiting.push_back({to, cw_msg_ref(m)});
            cw_msg_unref(m);
        }
        traffic.clear();
    }
    // A message from the other thread, as this half keeps it.
    cw_msg *adopt(cw_msg *m) {
        if (!copy)
            return m;
        size_t len = 0;
        bytes.resize(cw_msg_encoded_size(m));
        cw_msg *c = nullptr;
        cw_msg_limits lim{nodes, SIZE_MAX, SIZE_MAX};
        if (cw_msg_encode(m, bytes.data(), bytes.size(), &len) != CW_OK ||
            cw_msg_decode(&c, bytes.data(), len, &lim, nullptr) != CW_OK) {
            failed = true;
            return m;
        }
        cw_msg_unref(m);
        return c;
    }
    // Takes what the other thread passed, and hands it to this half's nodes.
    bool take() {
        Item got[kTakeBatch];
        size_t n = in->take(got, kTakeBatch);
        for (size_t i = 0; i <= n; i++) {
            bool write = i < n && got[i].to == CW_NODE_ALL && cw_msg_kind_of(got[i].msg) == CW_MSG_WRITE;
            if (write) {
                run_of_writes.push_back(adopt(got[i].msg));
                continue;
            }
            deliver_writes(run_of_writes.data(), run_of_writes.size()); // in the link's order
            for (cw_msg *m : run_of_writes)
                cw_msg_unref(m);
            run_of_writes.clear();
            if (i == n)
                break;
            cw_msg *m = adopt(got[i].msg);
            deliver_one(got[i].to, m);
            cw_msg_unref(m);
        }
        return n > 0;
    }
    // Whether every write of the run was applied at this half's nodes.
    bool caught_up(uint64_t writes) const {
        for (uint32_t j = self; j < nodes; j += 2) {
            const uint64_t *v = cw_node_counters((*all)[j]);
            uint64_t applied = 0;
            for (uint32_t o = 0; o < nodes; o++)
                applied += v[o];
            if (applied != writes)
                return false;
        }
        return true;
    }
    // The run: its writes, then whatever arrives until both halves caught up.
    void run(uint64_t writes, std::atomic<int> &done) {
        static const char value[32] = "0123456789abcdef0123456789abcde";
        bool mine_done = false;
        uint64_t i = self, deadline = cw__now_ns() + 60000000000u; // a run takes tens of ms
        for (;;) {
            for (size_t k = 0; k < kPutBatch && i < writes; k++) {
                char key[16];
                int len = std::snprintf(key, sizeof key, "k%llu", (unsigned long long)(i % 100));
                int rc = cw_node_put((*all)[i % nodes], key, size_t(len), value, sizeof value, nullptr);
                if (rc == CW_ESTALLED) { // its own writes wait for stability: again after the traffic
                    stalled += last_stalled != i;
                    last_stalled = i;
                    break;
                }
                failed |= rc != CW_OK;
                i += 2;
            }
            if (!written.empty()) {
                deliver_writes(written.data(), written.size());
                for (cw_msg *m : written)
                    waiting.push_back({CW_NODE_ALL, m}); // its reference goes with it
                written.clear();
            }
            route_traffic();
            out->push(waiting);
            while (take())
                route_traffic();
            uint64_t now = cw__now_ns();
            for (uint32_t j = self; j < nodes; j += 2)
                if (cw_node_next_tick((*all)[j]) <= now)
                    cw_node_tick((*all)[j], now, nullptr);
            route_traffic();
            out->push(waiting);
            // Relaxed: a count of halves done, read to stop; the rings order the messages.
            if (!mine_done && i >= writes && waiting.empty() && caught_up(writes)) {
                mine_done = true;
                done.fetch_add(1, std::memory_order_relaxed);
            }
            timed_out |= cw__now_ns() > deadline;
            if (failed || timed_out)
                done.store(3, std::memory_order_relaxed); // the other half stops too
            if (done.load(std::memory_order_relaxed) >= 2) {
                failed |= done.load(std::memory_order_relaxed) > 2;
                return;
            }
        }
    }
};

void replicas_two_threads(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    bool copy = state.range(1) != 0;
    if (nodes < 2 || nodes % 2) { // each half writes only at its own nodes
        state.SkipWithError("nodes must be even");
        return;
    }
    uint64_t writes = cwbench::e2e_writes(nodes);
    uint64_t deliveries = 0, conflicts = 0, stalled = 0, buffered = 0;
    for (auto _ : state) {
        std::vector<cw_node *> all(nodes, nullptr);
        auto rings = std::make_unique<Ring[]>(2);
        Half half[2];
        bool made = true;
        for (uint32_t t = 0; t < 2; t++) {
            half[t].self = t;
            half[t].nodes = nodes;
            half[t].copy = copy;
            half[t].all = &all;
            half[t].in = &rings[t];
            half[t].out = &rings[1 - t];
        }
        for (uint32_t j = 0; j < nodes && made; j++) {
            cw_node_options o;
            cwbench::e2e_node_options(&o, j, nodes);
            o.send = Half::on_send;
            o.send_ctx = &half[j % 2];
            o.send_to = Half::on_send_to;
            o.send_to_ctx = &half[j % 2];
            made = cw_node_create(&all[j], &o) == CW_OK;
        }
        std::atomic<int> done{0};
        auto t0 = std::chrono::steady_clock::now();
        if (made) {
            std::thread other([&] { half[1].run(writes, done); });
            half[0].run(writes, done);
            other.join();
        }
        auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        // What is left in the rings and lists (a failed run's) is dropped here.
        for (uint32_t t = 0; t < 2; t++) {
            Item got[kTakeBatch];
            while (size_t n = rings[t].take(got, kTakeBatch))
                for (size_t k = 0; k < n; k++)
                    cw_msg_unref(got[k].msg);
            for (Item &it : half[t].waiting)
                cw_msg_unref(it.msg);
            for (cw_msg *m : half[t].written)
                cw_msg_unref(m);
            for (auto &tr : half[t].traffic)
                cw_msg_unref(tr.second);
        }
        for (cw_node *n : all) {
            cw_node_stats st;
            if (n && cw_node_get_stats(n, &st) == CW_OK) {
                conflicts += st.conflicts;
                buffered += st.max_buffered;
            }
            if (n)
                cw_node_destroy(n);
        }
        stalled += half[0].stalled + half[1].stalled;
        if (half[0].timed_out || half[1].timed_out) {
            state.SkipWithError("not every write was applied within 60 s");
            return;
        }
        if (!made || half[0].failed || half[1].failed) {
            state.SkipWithError("a node could not be made, or refused a write");
            return;
        }
        deliveries += writes * (nodes - 1);
    }
    state.counters["deliveries_per_s"] = benchmark::Counter(double(deliveries), benchmark::Counter::kIsRate);
    double runs = double(state.iterations());
    state.counters["conflicts_per_delivery"] = deliveries ? double(conflicts) / double(deliveries) : 0;
    state.counters["stalled_puts"] = double(stalled) / runs;
    state.counters["max_buffered_sum"] = double(buffered) / runs;
}

struct Register {
    Register() {
        benchmark::RegisterBenchmark("replicas_two_threads", replicas_two_threads)
            ->ArgsProduct({{2, 4, 8, 16, 64}, {0, 1}})
            ->ArgNames({"nodes", "copy"})
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(1);
    }
} registered;

} // namespace
