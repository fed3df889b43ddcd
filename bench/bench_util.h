// Shared pieces of the benchmark suite: a deterministic generator, and the
// registry that pairs each measurement with its baseline so the reporter can
// print their ratio.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <string>

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
