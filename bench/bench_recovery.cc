// Loss recovery benchmarks, each beside its baseline in the same run:
//   recovery_e2e       the engine_e2e workload with messages dropped, beside
//                      the same workload lossless (drop 0, recovery on) and
//                      with no_recovery (recovery_e2e_x10: ten times the writes);
//   recovery_overhead  recovery on at drop 0 beside no_recovery: what the
//                      logs and stability reports cost when nothing is lost
//                      (also as CPU per delivery; recovery_overhead_x10);
//   recovery_latency   put to application of the writes that arrived only by
//                      a retransmission, beside first copies, at a steady rate;
//   recovery_log_cut   the retransmission logs over time while node 7 is cut
//                      off for 1 s (a CSV series, and its summary as counters).
// On a shared 2-core machine one run of a configuration varies by 20-30%, so
// each iteration is a round that runs every configuration once, in an order
// that rotates from round to round (A,B,C then B,C,A ...), and the counters
// are medians over rounds: host noise falls on every side alike.
#include "bench_util.h"

#include <causeway/causeway.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t now_ns() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// CPU time of the whole process (client and workers), seconds.
double cpu_seconds() {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

template <class T> double median(std::vector<T> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t h = v.size() / 2;
    return v.size() % 2 ? double(v[h]) : (double(v[h - 1]) + double(v[h])) / 2;
}

// One engine configuration: drop < 0 is no_recovery.
cw_engine_options options(uint32_t nodes, double drop) {
    cw_engine_options o;
    cw_engine_options_init(&o);
    o.nodes = nodes;
    o.seed = 7;
    o.no_recovery = drop < 0;
    o.drop_probability = drop < 0 ? 0 : drop;
    return o;
}

// Recovery's counters summed over the nodes of one run.
struct Totals {
    uint64_t delivered = 0, recovered = 0, retransmitted = 0, pulls = 0, reports = 0, duplicates = 0;
    uint64_t max_buffered = 0; // the deepest causal buffer of any node
};

Totals totals(cw_engine *e, uint32_t nodes) {
    Totals t;
    for (uint32_t j = 0; j < nodes; j++) {
        cw_node_stats s;
        if (cw_engine_stats(e, cw_node_id(j), &s) != CW_OK)
            continue;
        t.delivered += s.delivered;
        t.recovered += s.recovered;
        t.retransmitted += s.retransmitted;
        t.pulls += s.pulls;
        t.reports += s.reports;
        t.duplicates += s.duplicates;
        t.max_buffered = std::max(t.max_buffered, s.max_buffered);
    }
    return t;
}

// One end-to-end run (engine_e2e's workload: puts at every node in turn,
// then quiesce; the time covers both). Deliveries/s counts writes x
// (nodes - 1), and the run checks that the nodes applied exactly that many.
struct E2e {
    double seconds = 0, put_seconds = 0, deliveries_per_s = 0; // put_seconds: the puts alone
    double cpu_ns_per_delivery = 0; // every thread's CPU: less sensitive to other tenants than wall time
    Totals t;
    const char *error = nullptr;
};

constexpr uint32_t kQuiesceMs = 60000;

E2e e2e_run(uint32_t nodes, double drop, uint64_t scale) {
    E2e r;
    cw_engine_options o = options(nodes, drop);
    cw_engine *e = nullptr;
    if (cw_engine_open(&e, &o) != CW_OK) {
        r.error = "open failed";
        return r;
    }
    uint64_t writes = cwbench::e2e_writes(nodes) * scale;
    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    uint64_t failed = cwbench::e2e_put_burst(e, nodes, writes);
    r.put_seconds = seconds_since(t0);
    int rc = cw_engine_quiesce(e, kQuiesceMs);
    r.seconds = seconds_since(t0);
    r.cpu_ns_per_delivery = (cpu_seconds() - c0) * 1e9 / double(writes * (nodes - 1));
    r.deliveries_per_s = double(writes * (nodes - 1)) / r.seconds;
    r.t = totals(e, nodes);
    if (failed)
        r.error = "a put failed";
    else if (rc != CW_OK)
        r.error = "quiesce timed out (60 s)";
    else if (r.t.delivered != writes * (nodes - 1))
        r.error = "deliveries != writes x (nodes - 1)";
    cw_engine_close(e);
    return r;
}

// Runs the configurations `drops` (-1: no_recovery) once each per iteration,
// rotating their order, and keeps each one's runs. The iteration's time is
// that of the last configuration (the one measured).
bool e2e_rounds(benchmark::State &state, uint32_t nodes, uint64_t scale, const std::vector<double> &drops,
                std::vector<std::vector<E2e>> &runs) {
    runs.assign(drops.size(), {});
    size_t round = 0;
    for (auto _ : state) {
        for (size_t k = 0; k < drops.size(); k++) {
            size_t c = (round + k) % drops.size();
            E2e r = e2e_run(nodes, drops[c], scale);
            if (r.error) {
                std::fprintf(stderr, "recovery bench: nodes %u drop %g: %s\n", nodes, drops[c], r.error);
                state.SkipWithError(r.error);
                return false;
            }
            runs[c].push_back(r);
        }
        state.SetIterationTime(runs.back().back().seconds);
        round++;
    }
    return true;
}

double median_rate(const std::vector<E2e> &v) {
    std::vector<double> x;
    for (const E2e &r : v)
        x.push_back(r.deliveries_per_s);
    return median(x);
}

// The median over rounds of measured / baseline within each round: drift
// over the run cancels within a round.
double median_pair_ratio(const std::vector<E2e> &measured, const std::vector<E2e> &base) {
    std::vector<double> x;
    for (size_t i = 0; i < measured.size() && i < base.size(); i++)
        x.push_back(measured[i].deliveries_per_s / base[i].deliveries_per_s);
    return median(x);
}

// Milliseconds of the puts, and of the wait for quiescence after them (the
// workers draining what the burst left, and the last losses, which wait for
// a pull's timeout), medians over runs.
void phase_counters(benchmark::State &state, const std::string &prefix, const std::vector<E2e> &runs) {
    std::vector<double> put_ms, tail_ms;
    for (const E2e &r : runs) {
        put_ms.push_back(r.put_seconds * 1e3);
        tail_ms.push_back((r.seconds - r.put_seconds) * 1e3);
    }
    state.counters[prefix + "puts_ms"] = median(put_ms);
    state.counters[prefix + "quiesce_ms"] = median(tail_ms);
}

// Recovery's traffic per write, medians over runs.
void traffic_counters(benchmark::State &state, const std::vector<E2e> &runs, uint64_t writes) {
    std::vector<double> pulls, retrans, recovered, dups, reports, buffered;
    for (const E2e &r : runs) {
        buffered.push_back(double(r.t.max_buffered));
        pulls.push_back(double(r.t.pulls) / double(writes));
        retrans.push_back(double(r.t.retransmitted) / double(writes));
        recovered.push_back(double(r.t.recovered) / double(r.t.delivered));
        dups.push_back(double(r.t.duplicates) / double(writes));
        reports.push_back(double(r.t.reports) / double(writes));
    }
    state.counters["pulls_per_write"] = median(pulls);
    state.counters["retransmitted_per_write"] = median(retrans);
    state.counters["recovered_of_deliveries"] = median(recovered);
    state.counters["duplicates_per_write"] = median(dups);
    state.counters["reports_per_write"] = median(reports);
    state.counters["max_buffered"] = median(buffered);
}

// The median over rounds of the measured run's CPU per delivery over the
// baseline's.
double median_cpu_ratio(const std::vector<E2e> &measured, const std::vector<E2e> &base) {
    std::vector<double> x;
    for (size_t i = 0; i < measured.size() && i < base.size(); i++)
        x.push_back(measured[i].cpu_ns_per_delivery / base[i].cpu_ns_per_delivery);
    return median(x);
}

double median_cpu(const std::vector<E2e> &v) {
    std::vector<double> x;
    for (const E2e &r : v)
        x.push_back(r.cpu_ns_per_delivery);
    return median(x);
}

// recovery_e2e/nodes:N/drop_permille:D: rounds of no_recovery, drop 0 and
// drop D/1000, all with engine_e2e's workload (scale times as many writes
// in recovery_e2e_x10).
void recovery_e2e(benchmark::State &state, uint64_t scale) {
    uint32_t nodes = uint32_t(state.range(0));
    double drop = double(state.range(1)) / 1000;
    std::vector<std::vector<E2e>> runs;
    if (!e2e_rounds(state, nodes, scale, {-1, 0, drop}, runs))
        return;
    const auto &base = runs[0], &lossless = runs[1], &lossy = runs[2];
    state.counters["deliveries_per_s"] = median_rate(lossy);
    state.counters["drop0_deliveries_per_s"] = median_rate(lossless);
    state.counters["no_recovery_deliveries_per_s"] = median_rate(base);
    state.counters["ratio_vs_drop0"] = median_pair_ratio(lossy, lossless);
    state.counters["ratio_vs_no_recovery"] = median_pair_ratio(lossy, base);
    state.counters["cpu_ns_per_delivery"] = median_cpu(lossy);
    state.counters["cpu_ratio_vs_drop0"] = median_cpu_ratio(lossy, lossless);
    phase_counters(state, "", lossy);
    phase_counters(state, "drop0_", lossless);
    traffic_counters(state, lossy, cwbench::e2e_writes(nodes) * scale);
}
void recovery_e2e_x1(benchmark::State &s) { recovery_e2e(s, 1); }
void recovery_e2e_x10(benchmark::State &s) { recovery_e2e(s, 10); }

// recovery_overhead/nodes:N: rounds of no_recovery (A) and recovery on at
// drop 0 (B), A,B then B,A: the cost of logging and stability reports when
// nothing is lost.
void recovery_overhead(benchmark::State &state, uint64_t scale) {
    uint32_t nodes = uint32_t(state.range(0));
    std::vector<std::vector<E2e>> runs;
    if (!e2e_rounds(state, nodes, scale, {-1, 0}, runs))
        return;
    state.counters["deliveries_per_s"] = median_rate(runs[1]);
    state.counters["no_recovery_deliveries_per_s"] = median_rate(runs[0]);
    state.counters["ratio_of_medians"] = median_rate(runs[1]) / median_rate(runs[0]);
    state.counters["median_pair_ratio"] = median_pair_ratio(runs[1], runs[0]);
    state.counters["cpu_ns_per_delivery"] = median_cpu(runs[1]);
    state.counters["no_recovery_cpu_ns_per_delivery"] = median_cpu(runs[0]);
    state.counters["cpu_ratio"] = median_cpu_ratio(runs[1], runs[0]);
    phase_counters(state, "", runs[1]);
    phase_counters(state, "no_recovery_", runs[0]);
    traffic_counters(state, runs[1], cwbench::e2e_writes(nodes) * scale);
}
void recovery_overhead_x1(benchmark::State &s) { recovery_overhead(s, 1); }
void recovery_overhead_x10(benchmark::State &s) { recovery_overhead(s, 10); }

// Paces a writer at `rate` writes/s from t0: how many writes are due now.
uint64_t due(Clock::time_point t0, double rate) { return uint64_t(seconds_since(t0) * rate); }

// ---- recovery latency ----

// What on_apply records: for every remote application, put to apply in ns,
// kept apart for writes that arrived by a retransmission. Put times are
// indexed by (origin, seq): the writer stores a write's put time before its
// put, and the message carrying the write is published to the applying
// worker after that (through the node's lock and the ring), so on_apply
// reads it after it was written.
struct LatencyLog {
    uint64_t per_node = 0;
    std::unique_ptr<uint64_t[]> put_ns;       // [origin * per_node + seq - 1]
    std::unique_ptr<uint32_t[]> first, retrans; // ns, capped at 4.29 s
    std::atomic<uint64_t> n_first{0}, n_retrans{0}, capacity{0};
};

void record_apply(void *ctx, cw_node_id node, const cw_msg *m) {
    auto *log = static_cast<LatencyLog *>(ctx);
    cw_node_id origin = cw_msg_origin(m);
    uint64_t seq = cw_msg_seq(m);
    if (origin == node || seq == 0 || seq > log->per_node)
        return;
    uint64_t dt = now_ns() - log->put_ns[origin * log->per_node + seq - 1];
    uint32_t v = dt > UINT32_MAX ? UINT32_MAX : uint32_t(dt);
    bool again = cw_msg_retransmitted(m);
    uint64_t i = (again ? log->n_retrans : log->n_first).fetch_add(1, std::memory_order_relaxed);
    if (i < log->capacity.load(std::memory_order_relaxed))
        (again ? log->retrans : log->first)[i] = v;
}

constexpr double kLatencyRate = 40000, kLatencySeconds = 1.0;

// recovery_latency/drop_permille:D at 8 nodes: one client writes at nodes in
// turn at 40k writes/s for 1 s (a steady rate, so latency is not queueing
// behind a burst), then quiesces. Counters: put to application of
// retransmitted writes (recovered) and of first copies, p50/p99, in us; the
// engine's replication latency (put to applied at every node).
void recovery_latency(benchmark::State &state) {
    const uint32_t nodes = 8;
    double drop = double(state.range(0)) / 1000;
    uint64_t writes = uint64_t(kLatencyRate * kLatencySeconds);
    std::vector<uint32_t> first, retrans;
    cw_latency repl{};
    for (auto _ : state) {
        LatencyLog log;
        log.per_node = writes / nodes + 1;
        log.put_ns.reset(new uint64_t[nodes * log.per_node]());
        log.first.reset(new uint32_t[writes * nodes]);
        log.retrans.reset(new uint32_t[writes * nodes]);
        log.capacity = writes * nodes;
        cw_engine_options o = options(nodes, drop);
        o.on_apply = record_apply;
        o.apply_ctx = &log;
        cw_engine *e = nullptr;
        if (cw_engine_open(&e, &o) != CW_OK) {
            state.SkipWithError("open failed");
            return;
        }
        static const char value[32] = "0123456789abcdef0123456789abcde";
        auto t0 = Clock::now();
        for (uint64_t i = 0; i < writes; i++) {
            while (due(t0, kLatencyRate) <= i)
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            char key[16];
            int len = std::snprintf(key, sizeof key, "k%llu", (unsigned long long)(i % 100));
            cw_node_id at = cw_node_id(i % nodes);
            log.put_ns[at * log.per_node + i / nodes] = now_ns(); // seq i / nodes + 1
            cw_engine_put(e, at, key, size_t(len), value, sizeof value, nullptr);
        }
        int rc = cw_engine_quiesce(e, kQuiesceMs);
        state.SetIterationTime(seconds_since(t0));
        cw_engine_latency(e, &repl, nullptr);
        Totals t = totals(e, nodes);
        cw_engine_close(e);
        if (rc != CW_OK || t.delivered != writes * (nodes - 1)) {
            state.SkipWithError(rc != CW_OK ? "quiesce timed out" : "deliveries != writes x (nodes - 1)");
            return;
        }
        uint64_t nf = std::min(log.n_first.load(), log.capacity.load());
        uint64_t nr = std::min(log.n_retrans.load(), log.capacity.load());
        first.assign(log.first.get(), log.first.get() + nf);
        retrans.assign(log.retrans.get(), log.retrans.get() + nr);
        state.counters["recovered_of_deliveries"] = double(t.recovered) / double(t.delivered);
        state.counters["pulls_per_write"] = double(t.pulls) / double(writes);
    }
    state.counters["recovered"] = double(retrans.size());
    state.counters["recovered_p50_us"] = cwbench::quantile(retrans, 0.50) / 1e3;
    state.counters["recovered_p99_us"] = cwbench::quantile(retrans, 0.99) / 1e3;
    state.counters["first_copy_p50_us"] = cwbench::quantile(first, 0.50) / 1e3;
    state.counters["first_copy_p99_us"] = cwbench::quantile(first, 0.99) / 1e3;
    state.counters["repl_p50_us"] = double(repl.p50_ns) / 1e3;
    state.counters["repl_p99_us"] = double(repl.p99_ns) / 1e3;
}

// ---- the logs while a node is cut off ----

// recovery_log_cut/rate:R at 8 nodes: one writer thread per node, together
// R writes/s (32-byte values over 100 keys), for 3 s; node 7 is cut off
// both ways from 0.5 s to 1.5 s. Every 10 ms a sampler reads log_entries
// of every node. The series goes as CSV (t_s, log_sum, log_node0,
// log_node7, writes, blocker0) to the file $CAUSEWAY_BENCH_LOG_CSV
// (appended: one block per run, each with its header), else to stderr.
constexpr uint32_t kCutNodes = 8, kCut = 7;
constexpr double kCutAt = 0.5, kHealAt = 1.5, kEnd = 3.0, kSample = 0.010;
constexpr double kSlowPut = 0.001; // a put this long waited on backpressure

struct Writer {
    std::atomic<uint64_t> made{0};
    uint64_t slow = 0, stalled = 0, failed = 0; // puts over kSlowPut, CW_ESTALLED, other errors
    double max_put_s = 0, first_slow_s = -1;  // first_slow_s: when the first slow put began
    uint64_t made_at_first_slow = 0;
};

struct Sample {
    double t;
    uint64_t sum, node0, node7, writes;
    uint32_t blocker0;
};

void write_steadily(cw_engine *e, cw_node_id at, double rate, Clock::time_point t0, const std::atomic<bool> &stop,
                    Writer &w) {
    static const char value[32] = "0123456789abcdef0123456789abcde";
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed);) {
        if (due(t0, rate) <= i) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            continue;
        }
        char key[16];
        int len = std::snprintf(key, sizeof key, "k%llu", (unsigned long long)(i % 100));
        auto p0 = Clock::now();
        int rc = cw_engine_put(e, at, key, size_t(len), value, sizeof value, nullptr);
        double dt = seconds_since(p0);
        w.max_put_s = std::max(w.max_put_s, dt);
        if (dt > kSlowPut && w.slow++ == 0) {
            w.first_slow_s = std::chrono::duration<double>(p0 - t0).count();
            w.made_at_first_slow = i;
        }
        if (rc == CW_ESTALLED)
            w.stalled++;
        else if (rc != CW_OK && rc != CW_ECLOSED)
            w.failed++;
        i++;
        w.made.store(i, std::memory_order_relaxed);
    }
}

int cut_both_ways(cw_engine *e, bool cut) {
    for (uint32_t j = 0; j < kCutNodes; j++)
        if (j != kCut) {
            int rc = cw_engine_cut_link(e, kCut, cw_node_id(j), cut);
            if (rc == CW_OK)
                rc = cw_engine_cut_link(e, cw_node_id(j), kCut, cut);
            if (rc != CW_OK)
                return rc;
        }
    return CW_OK;
}

void print_series(const std::vector<Sample> &series, double rate) {
    const char *path = std::getenv("CAUSEWAY_BENCH_LOG_CSV");
    FILE *f = path ? std::fopen(path, "a") : stderr;
    if (!f) {
        std::fprintf(stderr, "recovery_log_cut: cannot open %s\n", path);
        f = stderr;
    }
    std::fprintf(f, "# recovery_log_cut: 8 nodes, %.0f writes/s, node 7 cut %.1f-%.1f s\n", rate, kCutAt, kHealAt);
    std::fprintf(f, "t_s,log_sum,log_node0,log_node7,writes,blocker0\n");
    for (const Sample &s : series)
        std::fprintf(f, "%.3f,%llu,%llu,%llu,%llu,%d\n", s.t, (unsigned long long)s.sum,
                     (unsigned long long)s.node0, (unsigned long long)s.node7, (unsigned long long)s.writes,
                     s.blocker0 == CW_NODE_NONE ? -1 : int(s.blocker0));
    if (f != stderr)
        std::fclose(f);
}

void recovery_log_cut(benchmark::State &state) {
    double rate = double(state.range(0));
    for (auto _ : state) {
        cw_engine_options o = options(kCutNodes, 0);
        cw_engine *e = nullptr;
        if (cw_engine_open(&e, &o) != CW_OK) {
            state.SkipWithError("open failed");
            return;
        }
        std::vector<Writer> w(kCutNodes);
        std::vector<std::thread> threads;
        std::vector<Sample> series;
        std::atomic<bool> stop{false};
        auto t0 = Clock::now();
        for (uint32_t j = 0; j < kCutNodes; j++)
            threads.emplace_back(write_steadily, e, cw_node_id(j), rate / kCutNodes, t0, std::cref(stop),
                                 std::ref(w[j]));
        bool cut = false, healed = false;
        int cut_rc = CW_OK;
        uint64_t writes_at_cut = 0;
        for (uint64_t k = 1;; k++) {
            std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(double(k) * kSample)));
            double t = seconds_since(t0);
            if (!cut && t >= kCutAt) {
                cut = true;
                for (const Writer &x : w)
                    writes_at_cut += x.made.load();
                cut_rc = cut_both_ways(e, true);
            } else if (cut && !healed && t >= kHealAt) {
                healed = true;
                if (cut_rc == CW_OK)
                    cut_rc = cut_both_ways(e, false);
            }
            Sample s{t, 0, 0, 0, 0, CW_NODE_NONE};
            for (uint32_t j = 0; j < kCutNodes; j++) {
                cw_node_stats st;
                cw_engine_stats(e, cw_node_id(j), &st);
                s.sum += st.log_entries;
                if (j == 0) {
                    s.node0 = st.log_entries;
                    s.blocker0 = st.stability_blocker;
                } else if (j == kCut)
                    s.node7 = st.log_entries;
                s.writes += w[j].made.load();
            }
            series.push_back(s);
            if (t >= kEnd)
                break;
        }
        stop = true;
        if (cut_rc != CW_OK)
            cut_both_ways(e, false); // heal whatever was cut before quiescing
        for (std::thread &th : threads)
            th.join();
        int rc = cw_engine_quiesce(e, kQuiesceMs);
        state.SetIterationTime(seconds_since(t0));
        uint64_t made = 0;
        for (const Writer &x : w)
            made += x.made.load();
        Totals tot = totals(e, kCutNodes);
        cw_engine_close(e);
        print_series(series, rate);
        if (cut_rc != CW_OK || rc != CW_OK || tot.delivered != made * (kCutNodes - 1)) {
            state.SkipWithError(cut_rc != CW_OK ? "cut_link failed"
                                : rc != CW_OK   ? "quiesce timed out"
                                                : "deliveries != writes x (nodes - 1)");
            return;
        }
        // Baseline: the median log before the cut, once the writers run
        // steadily (a median: a host's hiccup swells a few samples).
        std::vector<double> before;
        double max_cut = 0, max_after = 0, back_s = -1;
        for (const Sample &s : series) {
            if (s.t >= kCutAt / 2 && s.t < kCutAt)
                before.push_back(double(s.sum));
            else if (s.t >= kCutAt && s.t < kHealAt)
                max_cut = std::max(max_cut, double(s.sum));
            else if (s.t >= kHealAt)
                max_after = std::max(max_after, double(s.sum));
        }
        double base = median(before);
        for (const Sample &s : series)
            if (s.t >= kHealAt && double(s.sum) <= 2 * base) {
                back_s = s.t - kHealAt;
                break;
            }
        uint64_t slow = 0, stalled = 0, failed = 0;
        double max_put = 0, first_slow = -1, into_cut = -1;
        for (const Writer &x : w) {
            slow += x.slow;
            stalled += x.stalled;
            failed += x.failed;
            max_put = std::max(max_put, x.max_put_s);
            if (x.first_slow_s >= 0 && (first_slow < 0 || x.first_slow_s < first_slow)) {
                first_slow = x.first_slow_s;
                into_cut = double(x.made_at_first_slow); // that writer's writes so far
            }
        }
        state.counters["log_baseline"] = base;
        state.counters["log_max_during_cut"] = max_cut;
        state.counters["log_max_after_heal"] = max_after;
        state.counters["back_within_2x_s"] = back_s; // -1: not by the end
        state.counters["writes_per_s"] = double(made) / kEnd;
        state.counters["writes_at_cut"] = double(writes_at_cut);
        state.counters["puts_over_1ms"] = double(slow);
        state.counters["puts_stalled"] = double(stalled); // CW_ESTALLED
        state.counters["puts_failed"] = double(failed);
        state.counters["max_put_ms"] = max_put * 1e3;
        state.counters["first_slow_put_s"] = first_slow; // -1: none
        state.counters["writer_puts_at_first_slow"] = into_cut;
        state.counters["recovered"] = double(tot.recovered);
        state.counters["pulls"] = double(tot.pulls);
    }
}

struct Register {
    Register() {
        auto *e2e = benchmark::RegisterBenchmark("recovery_e2e", recovery_e2e_x1);
        for (int64_t n : {8, 64})
            for (int64_t d : {1, 10, 100})
                e2e->Args({n, d});
        e2e->ArgNames({"nodes", "drop_permille"})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(5);
        // Ten times the writes: how much of the cost is the fixed tail.
        benchmark::RegisterBenchmark("recovery_e2e_x10", recovery_e2e_x10)
            ->ArgNames({"nodes", "drop_permille"})->Args({8, 10})->Args({64, 10})
            ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
        benchmark::RegisterBenchmark("recovery_overhead", recovery_overhead_x1)
            ->ArgName("nodes")->Arg(8)->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(15);
        benchmark::RegisterBenchmark("recovery_overhead_x10", recovery_overhead_x10)
            ->ArgName("nodes")->Arg(8)->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(5);
        benchmark::RegisterBenchmark("recovery_latency", recovery_latency)
            ->ArgName("drop_permille")->Arg(0)->Arg(10)->Arg(100)
            ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
        benchmark::RegisterBenchmark("recovery_log_cut", recovery_log_cut)
            ->ArgName("rate")->Arg(20000)->Arg(40000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
    }
} registered;

} // namespace
