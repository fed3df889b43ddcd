// Shared pieces of the benchmark suite: a deterministic generator, and the
// registry that pairs each measurement with its baseline so the reporter can
// print their ratio.
#pragma once

#include <benchmark/benchmark.h>

#include <causeway/causeway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "now.h"
#include "replica_options.h"
#include "splitmix.h"

namespace cwbench {

// splitmix64: deterministic inputs, the same in every run.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next() { return cw__splitmix64(&s); }
    uint64_t below(uint64_t n) { return next() % n; }
};

// Inputs rotate among this many pairs so the branch predictor cannot
// memorise one pair's shape.
constexpr size_t kPairs = 64;

// The end-to-end workload (engine_e2e, recovery_*): how many writes one run
// makes at `nodes` nodes, so that every node count takes tens of ms.
inline uint64_t e2e_writes(uint32_t nodes) {
    return nodes >= 256 ? 400 : nodes >= 64 ? 4000 : 100000 / nodes + 20000;
}

// A node of the end-to-end workload driven without the engine
// (replicas_one_thread, replicas_two_threads): `self` of `nodes`, with the
// options the engine gives its replicas by default (replica_options.h:
// recovery on, its report, stability and log settings). The caller sets
// the callbacks, send_to among them (recovery on).
inline void e2e_node_options(cw_node_options *o, uint32_t self, uint32_t nodes) {
    cw_engine_options e;
    cw_engine_options_init(&e);
    e.nodes = nodes;
    cw__engine_replica_options(&e, cw_node_id(self), o);
}

// Whether node j takes m, sent `to` one node or to CW_NODE_ALL (every node
// but its origin): how the drivers without an engine route traffic.
inline bool e2e_is_for(uint32_t to, uint32_t j, const cw_msg *m) {
    return to == CW_NODE_ALL ? j != cw_msg_origin(m) : j == to;
}

// Hands node j (of a driver without an engine) the writes among msgs
// (borrowed) that are not its own, through `scratch`. False if it refused
// any; *applied (nullable) gets the writes it applied.
inline bool e2e_receive_writes(cw_node *node, uint32_t j, cw_msg *const *msgs, size_t count,
                               std::vector<cw_msg *> &scratch, size_t *applied) {
    scratch.clear();
    for (size_t i = 0; i < count; i++)
        if (cw_msg_origin(msgs[i]) != j)
            scratch.push_back(msgs[i]);
    size_t taken = 0;
    return cw_node_receive_many(node, scratch.data(), scratch.size(), &taken, applied) == CW_OK &&
           taken == scratch.size();
}

// The q-quantile of v (reorders v); 0 for none.
template <class T> double quantile(std::vector<T> &v, double q) {
    if (v.empty())
        return 0;
    auto at = v.begin() + ptrdiff_t(q * double(v.size() - 1));
    std::nth_element(v.begin(), at, v.end());
    return double(*at);
}

// One client thread makes `writes` writes at nodes 0, 1, ..., nodes - 1 in
// turn, 32-byte values over 100 keys; each put returns once its node applied
// it. put_ns (nullable): each put's duration, `writes` of them. Returns the
// puts that failed.
inline uint64_t e2e_put_burst(cw_engine *e, uint32_t nodes, uint64_t writes, uint64_t *put_ns = nullptr) {
    static const char value[32] = "0123456789abcdef0123456789abcde";
    uint64_t failed = 0;
    for (uint64_t i = 0; i < writes; i++) {
        char key[16];
        int len = std::snprintf(key, sizeof key, "k%llu", (unsigned long long)(i % 100));
        uint64_t t0 = put_ns ? cw__now_ns() : 0;
        failed += cw_engine_put(e, cw_node_id(i % nodes), key, size_t(len), value, sizeof value, nullptr) != CW_OK;
        if (put_ns)
            put_ns[i] = cw__now_ns() - t0;
    }
    return failed;
}

// Measurement name -> its baseline's name (e.g. "dense_merge/64" ->
// "memcpy:dense_merge/64"), filled at registration.
std::map<std::string, std::string> &baselines();

// Registers fn as `name` with the given args, and `base` as its baseline
// "memcpy:<name>" with the same args.
void register_pair(const std::string &name, void (*fn)(benchmark::State &),
                   void (*base)(benchmark::State &), std::initializer_list<int64_t> args);

// Registers fn as `name` over args and base as "<base_prefix>:<name>" over
// base_args (a subset, e.g. where a quadratic baseline still finishes).
void register_with_baseline(const std::string &name, void (*fn)(benchmark::State &),
                            std::initializer_list<int64_t> args, const std::string &base_prefix,
                            void (*base)(benchmark::State &), std::initializer_list<int64_t> base_args,
                            bool manual_time);

} // namespace cwbench
