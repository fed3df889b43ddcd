// Engine benchmarks: the worker-to-worker queue beside raw ck_ring (same run),
// end-to-end replication at 2..1024 nodes with and without faults beside
// the same workload driven on one thread (replicas_one_thread; on two,
// bench_two_threads.cc), each put's latency in that workload, the CPU an
// idle engine uses, and how much of two cores the machine gives.
#include "bench_util.h"
#include "now.h"
#include "queue_pair.h"

extern "C" {
#include "node_internal.h" // cw__node_link_lost: what a numbering link tells a replica
}

#include <causeway/causeway.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint64_t kHandoff = 4000000, kRounds = 200000;

void queue_handoff(benchmark::State &state, int which) {
    for (auto _ : state)
        state.SetIterationTime(cwb_queue_throughput(which, kHandoff, uint32_t(state.range(0))));
    state.SetItemsProcessed(int64_t(state.iterations() * kHandoff));
    state.counters["time_per_entry"] = benchmark::Counter(
        double(state.iterations() * kHandoff), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
void queue_handoff_cw(benchmark::State &s) { queue_handoff(s, 1); }
void queue_handoff_ck(benchmark::State &s) { queue_handoff(s, 0); }

void queue_round_trip(benchmark::State &state, int which) {
    double total = 0;
    for (auto _ : state) {
        double dt = cwb_queue_round_trips(which, kRounds);
        total += dt;
        state.SetIterationTime(dt);
    }
    state.counters["one_way_ns"] = total / double(state.iterations() * kRounds) / 2 * 1e9;
}
void queue_round_trip_cw(benchmark::State &s) { queue_round_trip(s, 1); }
void queue_round_trip_ck(benchmark::State &s) { queue_round_trip(s, 0); }

// Fan-in of P producers into one consumer on this 2-core machine: the
// engine's per-pair SPSC rings beside one shared ck_ring MPSC (the candidate
// it replaced). With more threads than cores, MPSC producers wait on each
// other's commits.
constexpr uint64_t kFanin = 200000;

void fanin(benchmark::State &state, int design) {
    int producers = int(state.range(0));
    for (auto _ : state) {
        double s = cwb_fanin_seconds(design, producers, kFanin);
        if (s < 0) {
            state.SkipWithError("did not finish in 10 s (producers stalled)");
            return;
        }
        state.SetIterationTime(s);
    }
    state.SetItemsProcessed(int64_t(state.iterations() * kFanin * uint64_t(producers)));
}
void fanin_spsc(benchmark::State &s) { fanin(s, 1); }
void fanin_mpsc(benchmark::State &s) { fanin(s, 0); }

uint64_t cpu_ns() {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return uint64_t(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
           uint64_t(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

// How many cores' work the machine does with T busy threads: T threads run
// the same fixed loop (no memory traffic, no sharing) for 300 ms; the loops
// they finish per second over one thread's, measured just before. On a
// virtual machine whose CPUs share host cores the two-thread figure is
// below 2 (cores_of_work), and so is the CPU time the threads are given
// over the wall time (cpu_busy: getrusage, which leaves out time the host
// took back). A cap computed as 2 x a one-thread rate assumes 2.
double spin_loops_per_s(int threads, double *busy) {
    std::atomic<bool> stop{false};
    std::vector<uint64_t> done(size_t(threads) * 8, 0); // a line each
    std::vector<std::thread> t;
    uint64_t cpu0 = cpu_ns();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < threads; i++)
        t.emplace_back([&stop, &done, i] {
            uint64_t n = 0;
            while (!stop.load(std::memory_order_relaxed)) { // relaxed: a flag read, nothing it orders
                for (int k = 0; k < 1000; k++)
                    __asm__ volatile("" ::: "memory");
                n++;
            }
            done[size_t(i) * 8] = n;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.store(true, std::memory_order_relaxed);
    for (auto &x : t)
        x.join(); // join orders each thread's count before the sum
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t total = 0;
    for (int i = 0; i < threads; i++)
        total += done[size_t(i) * 8];
    *busy = double(cpu_ns() - cpu0) / 1e9 / wall;
    return double(total) / wall;
}

// What moving one cache line between two threads costs here, one way: the
// threads take turns writing a counter the other waits for (each waits by
// spinning, and yields after a while so one CPU still finishes). Every
// line an engine's client writes and a worker then reads, or two workers
// write in turn, pays this; 40-100 ns is usual between two cores of one
// machine, and this host's phases give it from ~35 to ~250 ns
// (docs/performance.md, "How much of two cores the machine gives" and "Two
// phases of one host"). At most `turns` turns and about max_ms: on CPUs
// other processes keep busy a turn can take a scheduler's time slice.
double line_transfer_ns(long turns = 200000, long max_ms = 1000) {
    assert(turns >= 10);
    alignas(64) static std::atomic<long> turn;
    turn.store(0, std::memory_order_relaxed);
    std::atomic<long> last{turns}; // the turns both threads take: lowered once time is up
    auto await = [](long v) {
        for (int spins = 0; turn.load(std::memory_order_acquire) != v;)
            if (++spins % 4096 == 0)
                std::this_thread::yield();
    };
    // Acquire/release: each turn's store is seen by the other before it
    // answers; what is measured is the line's trip, not the ordering.
    // `last` is read by the other thread only after a turn's acquire, which
    // orders the main thread's earlier store of it.
    std::thread other([&await, &last] {
        for (long i = 0; i < last.load(std::memory_order_relaxed); i++) {
            await(2 * i + 1);
            turn.store(2 * i + 2, std::memory_order_release);
        }
    });
    // The first tenth is not timed: the other thread may not have started.
    long warm = turns / 10;
    auto start = std::chrono::steady_clock::now(), t0 = start;
    for (long i = 0; i < last.load(std::memory_order_relaxed); i++) {
        if (i == warm)
            t0 = std::chrono::steady_clock::now();
        if (i > warm && i % 1024 == 0 && std::chrono::steady_clock::now() - start > std::chrono::milliseconds(max_ms))
            last.store(i + 1, std::memory_order_relaxed); // this turn is the last
        turn.store(2 * i + 1, std::memory_order_release);
        await(2 * i + 2);
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    other.join();
    return s / double(last.load(std::memory_order_relaxed) - warm) / 2 * 1e9;
}

void machine_cores(benchmark::State &state) {
    int threads = int(state.range(0));
    double one = 0, many = 0, busy1 = 0, busy = 0, line = 0;
    for (auto _ : state) {
        one = spin_loops_per_s(1, &busy1);
        many = spin_loops_per_s(threads, &busy);
        line = line_transfer_ns();
        state.SetIterationTime(0.6);
    }
    state.counters["cores_of_work"] = many / one;
    state.counters["cpu_busy"] = busy;
    state.counters["line_transfer_ns"] = line;
}

// Turns of line_transfer_ns that engine_e2e takes before each run (~10 ms,
// at most 50 ms): the engine's rate follows this host's phase
// (docs/performance.md, "Two phases of one host"), so each figure carries
// the phase it ran in.
constexpr long kPhaseTurns = 20000, kPhaseMs = 50;

// One run of engine_e2e's workload on a new engine (seed 7; with faults:
// 10% of messages delayed up to 100 us, 5% duplicated): one client thread
// writes at nodes in turn, then waits for quiescence. put_ns (nullable):
// each put's duration. error: why the run does not count (the engine is
// closed either way).
struct E2eRun {
    double seconds = 0, cpu_seconds = 0; // puts and quiescence; the process's CPU meanwhile
    cw_latency repl{}, buf{};
    const char *error = nullptr;
};

E2eRun e2e_engine_run(uint32_t nodes, uint32_t workers, bool faults, uint64_t writes, uint64_t *put_ns = nullptr) {
    E2eRun r;
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = nodes;
    o.workers = workers;
    o.seed = 7;
    if (faults) {
        o.delay_probability = 0.1;
        o.max_delay_us = 100;
        o.duplicate_probability = 0.05;
    }
    cw_engine *e = nullptr;
    if (cw_engine_open(&e, &o) != CW_OK) {
        r.error = "open failed";
        return r;
    }
    uint64_t c0 = cpu_ns();
    auto t0 = std::chrono::steady_clock::now();
    uint64_t failed = cwbench::e2e_put_burst(e, nodes, writes, put_ns);
    int rc = cw_engine_quiesce(e, 600000);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cpu_seconds = double(cpu_ns() - c0) / 1e9;
    if (failed)
        r.error = "a put failed";
    else if (rc != CW_OK)
        r.error = "quiesce timed out";
    cw_engine_latency(e, &r.repl, &r.buf);
    cw_engine_close(e);
    return r;
}

// engine_e2e: e2e_engine_run's time and deliveries. cpu_busy: the process's
// CPU time over that time (getrusage: what the machine gave the client and
// the workers). line_transfer_ns: a line's trip between the cores, measured
// just before the run.
void engine_e2e(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    bool faults = state.range(1) != 0;
    uint32_t workers = uint32_t(state.range(2));
    uint64_t writes = cwbench::e2e_writes(nodes);
    E2eRun r;
    uint64_t deliveries = 0;
    double busy_cpu = 0, busy_wall = 0, line = 0;
    for (auto _ : state) {
        line = line_transfer_ns(kPhaseTurns, kPhaseMs); // untimed: manual time below
        r = e2e_engine_run(nodes, workers, faults, writes);
        if (r.error) {
            state.SkipWithError(r.error);
            return;
        }
        busy_cpu += r.cpu_seconds;
        busy_wall += r.seconds;
        state.SetIterationTime(r.seconds);
        deliveries += writes * (nodes - 1);
    }
    state.counters["writes_per_s"] =
        benchmark::Counter(double(state.iterations() * writes), benchmark::Counter::kIsRate);
    state.counters["deliveries_per_s"] = benchmark::Counter(double(deliveries), benchmark::Counter::kIsRate);
    state.counters["repl_p50_us"] = double(r.repl.p50_ns) / 1e3;
    state.counters["repl_p99_us"] = double(r.repl.p99_ns) / 1e3;
    state.counters["repl_p999_us"] = double(r.repl.p999_ns) / 1e3;
    state.counters["buf_p50_us"] = double(r.buf.p50_ns) / 1e3;
    state.counters["buf_p99_us"] = double(r.buf.p99_ns) / 1e3;
    state.counters["buf_p999_us"] = double(r.buf.p999_ns) / 1e3;
    state.counters["cpu_busy"] = busy_wall > 0 ? busy_cpu / busy_wall : 0;
    state.counters["line_transfer_ns"] = line;
}

// engine_e2e's workload with no threads: one thread drives every replica
// through the public node API, as the engine configures them (recovery on,
// its report, stability and log options). It makes the writes at nodes in
// turn and, after every kE2eBatch of them, hands the batch to every node but
// each write's origin (cw_node_receive_many), then the recovery traffic
// they sent (reports), then ticks every node. No locks, no transport, no
// cache line crosses a core: what the replicas cost on one core for the
// workload, the baseline engine_e2e's threads are measured against.
constexpr size_t kE2eBatch = 64;

struct OneThread {
    std::vector<cw_node *> nodes;
    std::vector<cw_msg *> written;                       // this batch's writes (a reference each)
    std::vector<std::pair<uint32_t, cw_msg *>> traffic;  // recovery traffic (a reference each)
    // Loss (replicas_one_thread_loss): each message for each node is lost
    // with probability drop, decided by the seed; lost[o * n + j] marks a
    // write of o lost on its way to j, told to j (cw__node_link_lost) once
    // j has taken o's next write, as a link that numbers its messages does.
    double drop = 0;
    uint64_t seed = 0;
    std::vector<uint8_t> lost;
    static int on_send(void *ctx, cw_msg *m) {
        static_cast<OneThread *>(ctx)->written.push_back(cw_msg_ref(m));
        return CW_OK;
    }
    static int on_send_to(void *ctx, uint32_t to, cw_msg *m) {
        static_cast<OneThread *>(ctx)->traffic.emplace_back(to, cw_msg_ref(m));
        return CW_OK;
    }
    bool dropped() { return drop > 0 && double(cw__splitmix64(&seed) >> 11) * 0x1p-53 < drop; }
};

// Hands the batch's writes to every node but their origin, then the
// recovery traffic (to one node, or to all but its sender), then ticks
// every node. The writes applied; -1 if a node refused one.
int64_t one_thread_deliver(OneThread &c) {
    uint32_t n = uint32_t(c.nodes.size());
    std::vector<cw_msg *> mine, kept;
    std::vector<uint32_t> shown; // origins whose next write showed j a loss
    int64_t delivered = 0;
    for (uint32_t j = 0; j < n; j++) {
        size_t applied = 0;
        cw_msg *const *batch = c.written.data();
        size_t count = c.written.size();
        if (c.drop > 0) {
            kept.clear();
            for (cw_msg *m : c.written) {
                uint32_t o = cw_msg_origin(m);
                if (o == j)
                    continue;
                uint8_t &lost = c.lost[size_t(o) * n + j];
                if (c.dropped()) {
                    lost = 1;
                    continue;
                }
                if (lost)
                    shown.push_back(o);
                lost = 0;
                kept.push_back(m);
            }
            batch = kept.data();
            count = kept.size();
        }
        if (!cwbench::e2e_receive_writes(c.nodes[j], j, batch, count, mine, &applied))
            return -1;
        delivered += int64_t(applied);
        for (uint32_t o : shown) // once it took the message that shows the gap, as the engine's worker
            cw__node_link_lost(c.nodes[j], o);
        shown.clear();
    }
    for (cw_msg *m : c.written)
        cw_msg_unref(m);
    c.written.clear();
    uint64_t now = cw__now_ns();
    for (size_t at = 0; at < c.traffic.size(); at++) { // grows while delivered: answers
        auto [to, m] = c.traffic[at];
        for (uint32_t j = 0; j < n; j++)
            if (cwbench::e2e_is_for(to, j, m) && !c.dropped()) {
                size_t applied = 0;
                cw_node_receive(c.nodes[j], m, nullptr, &applied);
                delivered += int64_t(applied);
            }
        cw_msg_unref(m);
    }
    c.traffic.clear();
    for (cw_node *node : c.nodes)
        if (cw_node_next_tick(node) <= now)
            cw_node_tick(node, now, nullptr);
    return delivered;
}

uint64_t thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The writes node `node` has applied, all origins together.
uint64_t applied_total(cw_node *node, uint32_t nodes) {
    const uint64_t *v = cw_node_counters(node);
    uint64_t sum = 0;
    for (uint32_t k = 0; k < nodes; k++)
        sum += v[k];
    return sum;
}

// replicas_one_thread, and with drop > 0 replicas_one_thread_loss: the same
// workload with each message for each node lost with probability drop, the
// replicas repairing it as they do in the engine (a skip on a link told,
// pulls, answers, reports; ticks at real time after each batch), and the
// run ending once every node applied every write (at most 10 s).
void one_thread_run(benchmark::State &state, double drop) {
    uint32_t nodes = uint32_t(state.range(0));
    uint64_t writes = cwbench::e2e_writes(nodes);
    static const char value[32] = "0123456789abcdef0123456789abcde";
    uint64_t deliveries = 0, conflicts = 0, pulls = 0, retransmitted = 0, runs = 0, cpu = 0;
    for (auto _ : state) {
        OneThread c;
        c.drop = drop;
        c.seed = 0x5eed0000u + runs++;
        c.lost.assign(size_t(nodes) * nodes, 0);
        for (uint32_t j = 0; j < nodes; j++) {
            cw_node_options o;
            cwbench::e2e_node_options(&o, j, nodes);
            o.send = OneThread::on_send;
            o.send_ctx = &c;
            o.send_to = OneThread::on_send_to;
            o.send_to_ctx = &c;
            cw_node *node = nullptr;
            if (cw_node_create(&node, &o) != CW_OK) {
                state.SkipWithError("cw_node_create failed");
                for (cw_node *made : c.nodes)
                    cw_node_destroy(made);
                return;
            }
            c.nodes.push_back(node);
        }
        auto t0 = std::chrono::steady_clock::now();
        uint64_t cpu0 = thread_cpu_ns();
        int64_t owed = 0; // writes applied so far; -1 once one was refused
        for (uint64_t i = 0; i < writes && owed >= 0; i++) {
            char key[16];
            int len = std::snprintf(key, sizeof key, "k%llu", (unsigned long long)(i % 100));
            if (cw_node_put(c.nodes[i % nodes], key, size_t(len), value, sizeof value, nullptr) != CW_OK)
                owed = -1;
            else if (c.written.size() == kE2eBatch || i + 1 == writes) {
                int64_t d = one_thread_deliver(c);
                owed = d < 0 ? d : owed + d;
            }
        }
        // With loss, repairs go on after the last write: tick and deliver
        // until every node has every write.
        bool complete = owed == int64_t(writes * (nodes - 1));
        while (owed >= 0 && !complete && drop > 0 &&
               std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
            // Nothing in flight: sleep to the first tick due (a wait the CPU
            // time leaves out; the wall time keeps it).
            uint64_t next = UINT64_MAX, now = cw__now_ns();
            for (cw_node *node : c.nodes)
                next = std::min(next, cw_node_next_tick(node));
            if (c.traffic.empty() && next > now && next != UINT64_MAX)
                std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(next - now, 1000000)));
            int64_t d = one_thread_deliver(c);
            owed = d < 0 ? d : owed + d;
            complete = true;
            for (uint32_t j = 0; j < nodes && complete; j++)
                complete = applied_total(c.nodes[j], nodes) == writes;
        }
        auto t1 = std::chrono::steady_clock::now();
        cpu += thread_cpu_ns() - cpu0;
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        if (!complete)
            state.SkipWithError("a write was refused or never applied");
        else
            deliveries += writes * (nodes - 1);
        for (cw_msg *m : c.written)
            cw_msg_unref(m);
        for (auto &t : c.traffic)
            cw_msg_unref(t.second);
        for (cw_node *node : c.nodes) {
            cw_node_stats st;
            if (cw_node_get_stats(node, &st) == CW_OK) {
                conflicts += st.conflicts;
                pulls += st.pulls;
                retransmitted += st.retransmitted;
            }
            cw_node_destroy(node);
        }
    }
    state.counters["deliveries_per_s"] = benchmark::Counter(double(deliveries), benchmark::Counter::kIsRate);
    state.counters["conflicts_per_delivery"] = deliveries ? double(conflicts) / double(deliveries) : 0;
    state.counters["cpu_ns_per_delivery"] = deliveries ? double(cpu) / double(deliveries) : 0;
    state.counters["pulls_per_delivery"] = deliveries ? double(pulls) / double(deliveries) : 0;
    state.counters["retransmitted_per_delivery"] = deliveries ? double(retransmitted) / double(deliveries) : 0;
}

void replicas_one_thread(benchmark::State &state) { one_thread_run(state, 0); }
void replicas_one_thread_loss(benchmark::State &state) { one_thread_run(state, double(state.range(1)) / 1000); }

// cw_engine_get at node 0 of an engine with `nodes` nodes, each read timed
// on its own: while another client thread keeps writing at every node (so
// node 0's worker is applying writes under the node's lock), and, as the
// baseline, on the same engine with no writer. Values are 32 bytes; reads
// cycle over 100 keys that every node holds.
void engine_get(benchmark::State &state, bool writing) {
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = uint32_t(state.range(0));
    cw_engine *e = nullptr;
    if (cw_engine_open(&e, &o) != CW_OK) {
        state.SkipWithError("open failed");
        return;
    }
    char value[32] = "0123456789abcdef0123456789abcde";
    auto key = [](uint64_t i, char *k) { return size_t(std::snprintf(k, 16, "k%llu", (unsigned long long)(i % 100))); };
    char k[16];
    for (uint64_t i = 0; i < 100; i++)
        cw_engine_put(e, cw_node_id(i % o.nodes), k, key(i, k), value, sizeof value, nullptr);
    cw_engine_quiesce(e, 60000);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> written{0};
    std::thread writer;
    if (writing)
        writer = std::thread([&] {
            char wk[16];
            for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); i++) {
                cw_engine_put(e, cw_node_id(i % o.nodes), wk, key(i, wk), value, sizeof value, nullptr);
                written.store(i + 1, std::memory_order_relaxed);
            }
        });
    cw_read r;
    cw_read_init(&r);
    std::vector<uint64_t> ns;
    uint64_t i = 0;
    auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        size_t len = key(i++, k);
        auto t0 = std::chrono::steady_clock::now();
        int rc = cw_engine_get(e, 0, k, len, &r);
        auto t1 = std::chrono::steady_clock::now();
        if (rc != CW_OK) {
            state.SkipWithError("get failed");
            break;
        }
        ns.push_back(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stop = true;
    if (writer.joinable())
        writer.join();
    cw_read_destroy(&r);
    cw_engine_close(e);
    if (ns.empty())
        return;
    state.counters["get_p50_ns"] = cwbench::quantile(ns, 0.50);
    state.counters["get_p99_ns"] = cwbench::quantile(ns, 0.99);
    state.counters["get_p999_ns"] = cwbench::quantile(ns, 0.999);
    state.counters["writes_per_s"] = double(written.load()) / seconds;
}
void engine_get_writing(benchmark::State &s) { engine_get(s, true); }
void engine_get_idle(benchmark::State &s) { engine_get(s, false); }

// engine_e2e's workload with each put timed on its own (two clock reads a
// put: its rate is not engine_e2e's): over the runs, a put's mean, p50,
// p99 and p999 in ns, and slow_put_share, the share of all put time spent
// in puts over 10 us (a put whose node's worker was switched out while it
// held the node's lock waits for the scheduler: docs/performance.md, "Two
// phases of one host"). line_transfer_ns: the host's phase before the
// last run.
void engine_put_latency(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    uint64_t writes = cwbench::e2e_writes(nodes);
    std::vector<uint64_t> all, one(writes);
    double line = 0;
    for (auto _ : state) {
        line = line_transfer_ns(kPhaseTurns, kPhaseMs); // untimed: manual time below
        E2eRun r = e2e_engine_run(nodes, 0, false, writes, one.data());
        if (r.error) {
            state.SkipWithError(r.error);
            return;
        }
        state.SetIterationTime(r.seconds);
        all.insert(all.end(), one.begin(), one.end());
    }
    double total = 0, slow = 0;
    for (uint64_t ns : all) {
        total += double(ns);
        slow += ns > 10000 ? double(ns) : 0;
    }
    state.counters["put_mean_ns"] = all.empty() ? 0 : total / double(all.size());
    state.counters["put_p50_ns"] = cwbench::quantile(all, 0.50);
    state.counters["put_p99_ns"] = cwbench::quantile(all, 0.99);
    state.counters["put_p999_ns"] = cwbench::quantile(all, 0.999);
    state.counters["slow_put_share"] = total > 0 ? slow / total : 0;
    state.counters["line_transfer_ns"] = line;
}

// CPU used by an engine with nothing to do, as % of one core over 1 s.
void engine_idle(benchmark::State &state) {
    double pct = 0;
    for (auto _ : state) {
        cw_engine_options o;
        cw_engine_options_init(&o);
        o.nodes = uint32_t(state.range(0));
        cw_engine *e = nullptr;
        cw_engine_open(&e, &o);
        std::this_thread::sleep_for(std::chrono::milliseconds(200)); // workers spin down
        uint64_t c0 = cpu_ns();
        auto t0 = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        uint64_t c1 = cpu_ns();
        double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        pct = double(c1 - c0) / 1e9 / wall * 100;
        state.SetIterationTime(wall);
        cw_engine_close(e);
    }
    state.counters["cpu_pct_of_core"] = pct;
}

// A list of whole numbers "8,16,64" into out; false if it is anything else.
bool parse_list(const char *text, std::vector<int64_t> &out) {
    out.clear();
    for (const char *p = text; *p;) {
        char *end;
        if (*p < '0' || *p > '9')
            return false;
        long long v = std::strtoll(p, &end, 10);
        out.push_back(v);
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return false;
    }
    return !out.empty();
}

// CAUSEWAY_BENCH_E2E="NODES;WORKERS;FAULTS" (lists, e.g. "8,16;0,2;0,1"),
// set by `causeway bench --nodes/--workers/--faults` (which checks the
// ranges): engine_e2e runs exactly that grid instead of its default one.
bool e2e_grid_from_env(benchmark::internal::Benchmark *b) {
    const char *env = std::getenv("CAUSEWAY_BENCH_E2E");
    if (!env)
        return false;
    std::string spec(env);
    size_t a = spec.find(';'), z = a == std::string::npos ? a : spec.find(';', a + 1);
    std::vector<int64_t> nodes, workers, faults;
    if (z == std::string::npos || !parse_list(spec.substr(0, a).c_str(), nodes) ||
        !parse_list(spec.substr(a + 1, z - a - 1).c_str(), workers) ||
        !parse_list(spec.substr(z + 1).c_str(), faults)) {
        std::fprintf(stderr, "causeway_bench: CAUSEWAY_BENCH_E2E='%s' is not NODES;WORKERS;FAULTS\n", env);
        std::exit(2);
    }
    for (int64_t n : nodes)
        for (int64_t f : faults)
            for (int64_t w : workers)
                if (w <= n)
                    b->Args({n, f, w});
    return true;
}

// replicas_one_thread runs up to this many nodes. Beyond, one thread's
// run is mostly reports: every node that makes no write reports each
// interval to every other (O(nodes^2) receives, each O(nodes)), and at 1,024
// nodes a run took 12 s for 409k deliveries.
constexpr int64_t kOneThreadMaxNodes = 64;

// The sizes replicas_one_thread runs at: its own, or those of
// CAUSEWAY_BENCH_E2E (checked by e2e_grid_from_env) up to kOneThreadMaxNodes.
std::vector<int64_t> one_thread_sizes() {
    const char *env = std::getenv("CAUSEWAY_BENCH_E2E");
    if (!env)
        return {2, 4, 8, 16, 64};
    std::string spec(env);
    std::vector<int64_t> nodes, kept;
    if (parse_list(spec.substr(0, spec.find(';')).c_str(), nodes))
        for (int64_t n : nodes)
            if (n <= kOneThreadMaxNodes)
                kept.push_back(n);
    return kept;
}

struct Register {
    Register() {
        cwbench::register_with_baseline("queue_handoff", queue_handoff_cw, {4096}, "ck_ring",
                                        queue_handoff_ck, {4096}, true);
        cwbench::register_with_baseline("queue_round_trip", queue_round_trip_cw, {64}, "ck_ring",
                                        queue_round_trip_ck, {64}, true);
        cwbench::register_with_baseline("fanin_per_pair_spsc", fanin_spsc, {1, 3, 7}, "ck_mpsc", fanin_mpsc,
                                        {1, 3, 7}, true);
        auto *b = benchmark::RegisterBenchmark("engine_e2e", engine_e2e);
        if (!e2e_grid_from_env(b)) {
            for (int64_t n : {2, 4, 8, 16, 64, 256, 1024})
                for (int64_t f : {0, 1})
                    b->Args({n, f, 0});
            b->Args({8, 0, 2})->Args({8, 0, 1})->Args({16, 0, 2});
        }
        b->ArgNames({"nodes", "faults", "workers"})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        std::vector<int64_t> sizes = one_thread_sizes();
        if (!sizes.empty()) { // a benchmark with no size would run once without one
            auto *one = benchmark::RegisterBenchmark("replicas_one_thread", replicas_one_thread);
            for (int64_t n : sizes)
                one->Arg(n);
            one->ArgName("nodes")->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        }
        auto *loss = benchmark::RegisterBenchmark("replicas_one_thread_loss", replicas_one_thread_loss);
        for (int64_t n : {8, 64})
            for (int64_t d : {0, 1, 10, 100})
                loss->Args({n, d});
        loss->ArgNames({"nodes", "drop_permille"})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        cwbench::register_with_baseline("engine_get_while_writing", engine_get_writing, {8}, "no_writer",
                                        engine_get_idle, {8}, false);
        benchmark::RegisterBenchmark("engine_put_latency", engine_put_latency)
            ->Arg(8)->Arg(64)->ArgName("nodes")->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
        benchmark::RegisterBenchmark("machine_cores", machine_cores)
            ->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        benchmark::RegisterBenchmark("engine_idle", engine_idle)
            ->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
    }
} registered;

} // namespace
