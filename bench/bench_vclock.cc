// Clock benchmarks: merge and compare (dense; sparse with identical
// membership; sparse with ~50% overlap) and the text and binary codecs, for
// n = 4 .. 65536, each beside memcpy of the same bytes in the same run.
//
// What "the same bytes" means, per operation:
//   dense / sparse-identical merge and compare: one clock's counters (8n)
//   sparse overlap merge: the output clock (10 bytes per entry)
//   encode / decode: the encoded form.
#include "bench_util.h"
#include "plain_clock.h"
#include "read_floor.h"

#include <causeway/causeway.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

using cwbench::kPairs;
using cwbench::Rng;

namespace {

const std::initializer_list<int64_t> kSizes = {4, 16, 64, 256, 1024, 4096, 65536};

// ---- data sets, built once per (kind, n) ----

// Dense clocks come from cw_dclock_init, as users get them (64-byte aligned).
struct Dense {
    std::vector<cw_dclock> a, b;  // kPairs pairs; b >= a pointwise
    std::vector<cw_dclock> m;     // per-pair merge targets (start as copies of a)
};

Dense &dense_set(size_t n) {
    static std::map<size_t, std::unique_ptr<Dense>> cache;
    auto &slot = cache[n];
    if (!slot) {
        slot.reset(new Dense);
        Rng rng(n);
        for (size_t p = 0; p < kPairs; p++) {
            cw_dclock a, b;
            cw_dclock_init(&a, uint32_t(n));
            cw_dclock_init(&b, uint32_t(n));
            for (size_t i = 0; i < n; i++) {
                a.counters[i] = rng.below(1000000);
                // Ordered pairs (a <= b): compare must scan everything, the
                // worst case; merge does the same work either way.
                b.counters[i] = a.counters[i] + (rng.below(2) ? rng.below(1000) : 0);
            }
            cw_dclock m;
            cw_dclock_init(&m, uint32_t(n));
            cw_dclock_copy(&m, &a);
            slot->a.push_back(a);
            slot->b.push_back(b);
            slot->m.push_back(m);
        }
    }
    return *slot;
}

struct Sparse {
    std::vector<cw_vclock> a, b;
    std::vector<cw_vclock> merged;  // per-pair merge targets (copies of a)
    cw_vclock scratch;
    size_t out_entries = 0; // average union size, for time per output entry
    size_t a_entries = 0;   // average size of a (the clock the codecs encode)
    size_t encoded = 0;     // average encoded bytes of a (binary)
    size_t text = 0;        // average text bytes of a
    std::vector<std::vector<uint8_t>> bin;
    std::vector<std::string> txt;
};

enum Shape { kIdentical, kOverlap };

// kIdentical: a and b have the same n ids (b >= a pointwise).
// kOverlap: the union has n ids; each id is in a only, b only, or both with
// probability 1/3 each, so about half of each clock's ids are shared.
Sparse &sparse_set(Shape shape, size_t n) {
    static std::map<std::pair<int, size_t>, std::unique_ptr<Sparse>> cache;
    auto &slot = cache[{shape, n}];
    if (!slot) {
        slot.reset(new Sparse);
        cw_vclock_init(&slot->scratch);
        Rng rng(n * 7 + shape);
        size_t universe = 65536;
        size_t total_out = 0;
        for (size_t p = 0; p < kPairs; p++) {
            cw_vclock a, b;
            cw_vclock_init(&a);
            cw_vclock_init(&b);
            // Choose n distinct ids spread over the id space.
            std::vector<uint16_t> ids;
            for (size_t id = 0; id < universe && ids.size() < n; id++)
                if (rng.below(universe - id) < n - ids.size())
                    ids.push_back(uint16_t(id));
            for (uint16_t id : ids) {
                uint64_t v = 1 + rng.below(1000000);
                int where = shape == kIdentical ? 2 : int(rng.below(3));
                if (where != 1)
                    cw_vclock_set(&a, id, v);
                if (where != 0)
                    cw_vclock_set(&b, id, v + (rng.below(2) ? rng.below(1000) : 0));
            }
            total_out += ids.size();
            slot->a.push_back(a);
            slot->b.push_back(b);
        }
        slot->out_entries = total_out / kPairs;
        for (auto &c : slot->a) {
            cw_vclock m;
            cw_vclock_init(&m);
            cw_vclock_copy(&m, &c);
            slot->merged.push_back(m);
        }
        size_t enc = 0, txt = 0, na = 0;
        for (auto &c : slot->a) {
            na += c.size;
            std::vector<uint8_t> buf(cw_vclock_encoded_size(&c));
            size_t len;
            cw_vclock_encode(&c, buf.data(), buf.size(), &len);
            slot->bin.push_back(buf);
            cw_vclock_format(&c, nullptr, 0, &len);
            std::string s(len + 1, '\0');
            cw_vclock_format(&c, &s[0], s.size(), &len);
            s.resize(len);
            slot->txt.push_back(s);
            enc += buf.size();
            txt += len;
        }
        slot->encoded = enc / kPairs;
        slot->a_entries = na / kPairs;
        slot->text = txt / kPairs;
    }
    return *slot;
}

// The baseline for every measurement: memcpy(dst_p, src_p, bytes) over 64
// rotating pairs of 64-byte-aligned buffers, so it touches as many distinct
// bytes, from as many places, as the operation it stands beside (which also
// rotates over 64 pairs of inputs and writes to a per-pair target).
void memcpy_rotating(benchmark::State &state, size_t bytes) {
    // One exactly-sized set of buffers per size: reusing larger buffers would
    // spread small copies over more pages than the operation touches.
    struct Buffers {
        std::vector<char *> src, dst;
    };
    static std::map<size_t, Buffers> cache;
    Buffers &buf = cache[bytes];
    if (buf.src.empty()) {
        size_t alloc = (bytes + 63) & ~size_t(63);
        for (size_t p = 0; p < kPairs; p++) {
            buf.src.push_back(static_cast<char *>(std::aligned_alloc(64, alloc)));
            buf.dst.push_back(static_cast<char *>(std::aligned_alloc(64, alloc)));
            std::memset(buf.src[p], 1, bytes);
            std::memset(buf.dst[p], 2, bytes);
        }
    }
    auto &src = buf.src, &dst = buf.dst;
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        std::memcpy(dst[p], src[p], bytes);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

// ---- dense ----

void dense_merge(benchmark::State &state) {
    size_t n = size_t(state.range(0));
    Dense &d = dense_set(n);
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        cw_dclock_merge(&d.m[p], &d.b[p]);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * 8));
}

void dense_compare(benchmark::State &state) {
    size_t n = size_t(state.range(0));
    Dense &d = dense_set(n);
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        benchmark::DoNotOptimize(cw_dclock_compare(&d.a[p], &d.b[p]));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * 8));
}

// The read floor: only the loads merge and compare cannot avoid (both
// clocks of the pair, 16n bytes), with no arithmetic and no store. Its ratio
// to memcpy bounds what any dense kernel can reach on this machine.
void dense_read_floor(benchmark::State &state) {
    size_t n = size_t(state.range(0));
    Dense &d = dense_set(n);
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        benchmark::DoNotOptimize(cwb_read_both(d.m[p].counters, d.b[p].counters, n));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * 8));
}

void dense_baseline(benchmark::State &state) { memcpy_rotating(state, size_t(state.range(0)) * 8); }

// The same kernels pinned to portable C, to show what vectorisation buys.
void dense_merge_scalar(benchmark::State &state) {
    cw_isa was = cw_isa_active();
    cw_isa_select(CW_ISA_SCALAR);
    dense_merge(state);
    cw_isa_select(was);
}

void dense_compare_scalar(benchmark::State &state) {
    cw_isa was = cw_isa_active();
    cw_isa_select(CW_ISA_SCALAR);
    dense_compare(state);
    cw_isa_select(was);
}

// ---- sparse ----

void sparse_identical_merge(benchmark::State &state) {
    Sparse &s = sparse_set(kIdentical, size_t(state.range(0)));
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        cw_vclock_merge(&s.merged[p], &s.b[p]); // same ids: the vectorised path
        benchmark::ClobberMemory();
    }
}

void sparse_identical_compare(benchmark::State &state) {
    Sparse &s = sparse_set(kIdentical, size_t(state.range(0)));
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        benchmark::DoNotOptimize(cw_vclock_compare(&s.a[p], &s.b[p]));
    }
}

void sparse_identical_baseline(benchmark::State &state) {
    memcpy_rotating(state, sparse_set(kIdentical, size_t(state.range(0))).out_entries * 8);
}

// Merge into a copy of a (copy included in the time: merge alone is cheaper).
void sparse_overlap_merge(benchmark::State &state) {
    Sparse &s = sparse_set(kOverlap, size_t(state.range(0)));
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        cw_vclock_copy(&s.scratch, &s.a[p]);
        cw_vclock_merge(&s.scratch, &s.b[p]);
        benchmark::ClobberMemory();
    }
}

// b's ids are a superset of a's with larger counters (a BEFORE b): a full
// walk over both, unlike concurrent pairs, which stop at the first witness.
void sparse_overlap_compare(benchmark::State &state) {
    Sparse &s = sparse_set(kOverlap, size_t(state.range(0)));
    static std::map<size_t, std::vector<cw_vclock>> supersets;
    auto &sup = supersets[size_t(state.range(0))];
    if (sup.empty())
        for (size_t p = 0; p < kPairs; p++) {
            cw_vclock c;
            cw_vclock_init(&c);
            cw_vclock_copy(&c, &s.a[p]);
            cw_vclock_merge(&c, &s.b[p]);
            sup.push_back(c);
        }
    size_t i = 0;
    for (auto _ : state) {
        size_t p = i++ & (kPairs - 1);
        benchmark::DoNotOptimize(cw_vclock_compare(&s.a[p], &sup[p]));
    }
}

void sparse_overlap_baseline(benchmark::State &state) {
    memcpy_rotating(state, sparse_set(kOverlap, size_t(state.range(0))).out_entries * 10);
}

// ---- codecs ----

void binary_encode(benchmark::State &state) {
    Sparse &s = sparse_set(kOverlap, size_t(state.range(0)));
    std::vector<uint8_t> buf(4 + 10 * 65536);
    size_t i = 0, len;
    for (auto _ : state) {
        cw_vclock_encode(&s.a[i++ & (kPairs - 1)], buf.data(), buf.size(), &len);
        benchmark::ClobberMemory();
    }
}

void binary_decode(benchmark::State &state) {
    Sparse &s = sparse_set(kOverlap, size_t(state.range(0)));
    size_t i = 0;
    for (auto _ : state) {
        auto &b = s.bin[i++ & (kPairs - 1)];
        cw_vclock_decode(&s.scratch, b.data(), b.size(), nullptr);
        benchmark::ClobberMemory();
    }
}

void binary_baseline(benchmark::State &state) {
    memcpy_rotating(state, sparse_set(kOverlap, size_t(state.range(0))).encoded);
}

void text_format(benchmark::State &state) {
    Sparse &s = sparse_set(kOverlap, size_t(state.range(0)));
    std::vector<char> buf(65536 * 28);
    size_t i = 0, len;
    for (auto _ : state) {
        cw_vclock_format(&s.a[i++ & (kPairs - 1)], buf.data(), buf.size(), &len);
        benchmark::ClobberMemory();
    }
}

void text_parse(benchmark::State &state) {
    Sparse &s = sparse_set(kOverlap, size_t(state.range(0)));
    size_t i = 0;
    for (auto _ : state) {
        auto &t = s.txt[i++ & (kPairs - 1)];
        cw_vclock_parse(&s.scratch, t.data(), t.size());
        benchmark::ClobberMemory();
    }
}

void text_baseline(benchmark::State &state) {
    memcpy_rotating(state, sparse_set(kOverlap, size_t(state.range(0))).text);
}


// ---- the library beside the plain C a user would write (plain_clock.c) ----
//
// Each `<op>/n` calls the library and `plain:<op>/n` runs the plain code on
// the same inputs, in the same run, so plain ns / library ns is the figure.
// Inputs are pools of 2^18 entries in all (2^18 / n clocks a side), walked in
// order, so small clocks come from L2 rather than all sitting in L1.
//   dclock_merge:        dst = max(dst, src) in place, dense.
//   dclock_compare:      a vs max(a, b): BEFORE or EQUAL, no early exit.
//   vclock_merge:        copy a, then merge b (a fresh a+b, as a user makes
//                        one from two clocks: cw_vclock_copy + cw_vclock_merge);
//                        plain writes the same union into an output array.
//   vclock_join:         the same fresh a+b in one call (cw_vclock_join),
//                        beside the same plain code.
//   vclock_compare:      a vs the merge of a and b, no early exit.
// The vclock ones come with identical ids, and with `_half`, where each id of
// the union is in a only, b only or both (1/3 each): ~50% of either clock's
// ids are shared. Counters are random.

constexpr size_t kPoolEntries = size_t(1) << 18;

// Clocks of n entries a pool holds: the largest power of two whose entries fit
// in kPoolEntries, so rotate()'s mask visits every clock of the pool.
size_t pool_clocks(size_t n) {
    size_t clocks = 1;
    while (clocks * 2 * n <= kPoolEntries)
        clocks *= 2;
    return clocks;
}
const std::initializer_list<int64_t> kPlainSizes = {1, 2, 3, 4, 6, 8, 16, 64, 256, 1024, 4096, 65536};

struct DensePool {
    // Each side one 64-byte-aligned block, as cw_dclock_init's memory is;
    // clock p is counters [p n, p n + n). sup = max(a, b); m: merge targets.
    uint64_t *a, *b, *sup, *m;
    // The same memory as cw_dclock views, held as a user holds clocks.
    std::vector<cw_dclock> va, vb, vsup, vm;
    size_t clocks = 0;
};

DensePool &dense_pool(size_t n) {
    static std::map<size_t, std::unique_ptr<DensePool>> cache;
    auto &slot = cache[n];
    if (!slot) {
        slot.reset(new DensePool);
        DensePool &d = *slot;
        d.clocks = pool_clocks(n);
        for (auto **v : {&d.a, &d.b, &d.sup, &d.m})
            *v = static_cast<uint64_t *>(std::aligned_alloc(64, kPoolEntries * sizeof(uint64_t)));
        Rng rng(n * 13 + 1);
        for (size_t i = 0; i < kPoolEntries; i++) {
            d.a[i] = d.m[i] = rng.next() >> 24;
            d.b[i] = rng.next() >> 24;
            d.sup[i] = std::max(d.a[i], d.b[i]);
        }
        for (size_t p = 0; p < d.clocks; p++) {
            d.va.push_back(cw_dclock{d.a + p * n, uint32_t(n)});
            d.vb.push_back(cw_dclock{d.b + p * n, uint32_t(n)});
            d.vsup.push_back(cw_dclock{d.sup + p * n, uint32_t(n)});
            d.vm.push_back(cw_dclock{d.m + p * n, uint32_t(n)});
        }
    }
    return *slot;
}

// Runs op(p) once an iteration over clocks p = 0, 1, ... of a pool, in order
// (clocks is a power of two: pool_clocks).
template <class Op>
void rotate(benchmark::State &state, size_t clocks, Op op) {
    size_t i = 0;
    for (auto _ : state)
        op(i++ & (clocks - 1));
}

void dclock_merge(benchmark::State &state) {
    DensePool &d = dense_pool(size_t(state.range(0)));
    rotate(state, d.clocks, [&](size_t p) {
        cw_dclock_merge(&d.vm[p], &d.vb[p]);
        benchmark::ClobberMemory();
    });
}

// The plain code takes its arrays from the same cw_dclock handles the
// library gets, as the sparse plain code reads cw_vclock's fields: both
// sides load the same bytes. Both run inline below 8 counters (merge) and 5
// (compare), where the library adds only its argument checks; above, the
// library calls its kernels.
void plain_dclock_merge(benchmark::State &state) {
    DensePool &d = dense_pool(size_t(state.range(0)));
    rotate(state, d.clocks, [&](size_t p) {
        plain_dense_merge(d.vm[p].counters, d.vb[p].counters, d.vb[p].n);
        benchmark::ClobberMemory();
    });
}

void dclock_compare(benchmark::State &state) {
    DensePool &d = dense_pool(size_t(state.range(0)));
    rotate(state, d.clocks, [&](size_t p) { benchmark::DoNotOptimize(cw_dclock_compare(&d.va[p], &d.vsup[p])); });
}

void plain_dclock_compare(benchmark::State &state) {
    DensePool &d = dense_pool(size_t(state.range(0)));
    rotate(state, d.clocks, [&](size_t p) {
        benchmark::DoNotOptimize(plain_dense_compare(d.va[p].counters, d.vsup[p].counters, d.va[p].n));
    });
}

struct SparsePool {
    std::vector<cw_vclock> a, b, sup; // sup = merge of a and b
    cw_vclock out;                    // the library's merge output, reused
    std::vector<uint16_t> out_ids;    // the plain merge's output
    std::vector<uint64_t> out_counters;
    size_t clocks = 0;
};

// n distinct ids, ascending, spread over the whole id space.
std::vector<uint16_t> random_ids(Rng &rng, size_t n) {
    std::vector<uint16_t> ids;
    if (n * 8 >= 65536) { // dense enough: one pass over the id space
        for (size_t id = 0; id < 65536 && ids.size() < n; id++)
            if (rng.below(65536 - id) < n - ids.size())
                ids.push_back(uint16_t(id));
        return ids;
    }
    while (ids.size() < n) {
        ids.push_back(uint16_t(rng.below(65536)));
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    }
    return ids;
}

SparsePool &sparse_pool(Shape shape, size_t n) {
    static std::map<std::pair<int, size_t>, std::unique_ptr<SparsePool>> cache;
    auto &slot = cache[{shape, n}];
    if (!slot) {
        slot.reset(new SparsePool);
        SparsePool &s = *slot;
        s.clocks = pool_clocks(n);
        Rng rng(n * 11 + shape);
        for (size_t p = 0; p < s.clocks; p++) {
            cw_vclock a, b, sup;
            cw_vclock_init(&a);
            cw_vclock_init(&b);
            cw_vclock_init(&sup);
            for (uint16_t id : random_ids(rng, n)) {
                int where = shape == kIdentical ? 2 : int(rng.below(3));
                if (where != 1)
                    cw_vclock_set(&a, id, 1 + (rng.next() >> 24));
                if (where != 0)
                    cw_vclock_set(&b, id, 1 + (rng.next() >> 24));
            }
            cw_vclock_copy(&sup, &a);
            cw_vclock_merge(&sup, &b);
            s.a.push_back(a);
            s.b.push_back(b);
            s.sup.push_back(sup);
        }
        cw_vclock_init(&s.out);
        s.out_ids.resize(2 * n);
        s.out_counters.resize(2 * n);
    }
    return *slot;
}

// Whether the plain code gives the library's answers on every pair of the
// pool, and the library's join the merge's (checked once per pool, outside
// the timing).
bool plain_agrees(SparsePool &s) {
    static std::map<SparsePool *, bool> checked;
    auto it = checked.find(&s);
    if (it != checked.end())
        return it->second;
    bool ok = true;
    for (size_t p = 0; p < s.clocks && ok; p++) {
        const cw_vclock &a = s.a[p], &b = s.b[p], &sup = s.sup[p];
        size_t k = plain_sparse_merge(a.ids, a.counters, a.size, b.ids, b.counters, b.size, s.out_ids.data(),
                                      s.out_counters.data());
        ok = k == sup.size && std::equal(sup.ids, sup.ids + k, s.out_ids.data()) &&
             std::equal(sup.counters, sup.counters + k, s.out_counters.data()) &&
             plain_sparse_compare(a.ids, a.counters, a.size, sup.ids, sup.counters, sup.size) ==
                 unsigned(cw_vclock_compare(&a, &sup)) &&
             cw_vclock_join(&s.out, &a, &b) == CW_OK && cw_vclock_compare(&s.out, &sup) == CW_EQUAL;
    }
    return checked[&s] = ok;
}

// The pool for a plain benchmark, which is skipped with an error if plain
// code and library disagree on it.
SparsePool &plain_pool(Shape shape, benchmark::State &state) {
    SparsePool &s = sparse_pool(shape, size_t(state.range(0)));
    if (!plain_agrees(s))
        state.SkipWithError("plain code and library disagree (merge, join or compare)");
    return s;
}

template <Shape S>
void vclock_merge(benchmark::State &state) {
    SparsePool &s = sparse_pool(S, size_t(state.range(0)));
    rotate(state, s.clocks, [&](size_t p) {
        cw_vclock_copy(&s.out, &s.a[p]);
        cw_vclock_merge(&s.out, &s.b[p]);
        benchmark::ClobberMemory();
    });
}

// A fresh a+b in one call (cw_vclock_join), beside the same plain walk.
template <Shape S>
void vclock_join(benchmark::State &state) {
    SparsePool &s = sparse_pool(S, size_t(state.range(0)));
    rotate(state, s.clocks, [&](size_t p) {
        cw_vclock_join(&s.out, &s.a[p], &s.b[p]);
        benchmark::ClobberMemory();
    });
}

template <Shape S>
void plain_vclock_merge(benchmark::State &state) {
    SparsePool &s = plain_pool(S, state);
    rotate(state, s.clocks, [&](size_t p) {
        const cw_vclock &a = s.a[p], &b = s.b[p];
        benchmark::DoNotOptimize(plain_sparse_merge(a.ids, a.counters, a.size, b.ids, b.counters, b.size,
                                                    s.out_ids.data(), s.out_counters.data()));
        benchmark::ClobberMemory();
    });
}

template <Shape S>
void vclock_compare(benchmark::State &state) {
    SparsePool &s = sparse_pool(S, size_t(state.range(0)));
    rotate(state, s.clocks, [&](size_t p) { benchmark::DoNotOptimize(cw_vclock_compare(&s.a[p], &s.sup[p])); });
}

template <Shape S>
void plain_vclock_compare(benchmark::State &state) {
    SparsePool &s = plain_pool(S, state);
    rotate(state, s.clocks, [&](size_t p) {
        const cw_vclock &a = s.a[p], &b = s.sup[p];
        benchmark::DoNotOptimize(plain_sparse_compare(a.ids, a.counters, a.size, b.ids, b.counters, b.size));
    });
}

// Registers `name` and `plain:name` over kPlainSizes, interleaved (library,
// then plain, at each n), so each pair runs close together in time.
void register_plain(const std::string &name, void (*lib)(benchmark::State &), void (*plain)(benchmark::State &)) {
    for (int64_t n : kPlainSizes) {
        benchmark::RegisterBenchmark(name.c_str(), lib)->Arg(n);
        benchmark::RegisterBenchmark(("plain:" + name).c_str(), plain)->Arg(n);
        std::string arg = "/" + std::to_string(n);
        cwbench::baselines()[name + arg] = "plain:" + name + arg;
    }
}

// Adds "time_per_entry" (seconds per entry; the table shows ns): per output
// entry for merge and compare, per entry of the clock for the codecs.
void set_per_entry(benchmark::State &state, size_t entries) {
    state.counters["time_per_entry"] =
        benchmark::Counter(double(state.iterations()) * double(entries),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <void (*F)(benchmark::State &), Shape S>
void per_output(benchmark::State &state) {
    F(state);
    set_per_entry(state, sparse_set(S, size_t(state.range(0))).out_entries);
}

template <void (*F)(benchmark::State &)>
void per_clock_entry(benchmark::State &state) {
    F(state);
    set_per_entry(state, sparse_set(kOverlap, size_t(state.range(0))).a_entries);
}

struct Register {
    Register() {
        using cwbench::register_pair;
        register_pair("dense_merge", dense_merge, dense_baseline, kSizes);
        register_pair("dense_compare", dense_compare, dense_baseline, kSizes);
        register_pair("dense_read_floor", dense_read_floor, dense_baseline, kSizes);
        register_pair("dense_merge_scalar", dense_merge_scalar, dense_baseline, {64, 1024, 65536});
        register_pair("dense_compare_scalar", dense_compare_scalar, dense_baseline, {64, 1024, 65536});
        register_pair("sparse_identical_merge", per_output<sparse_identical_merge, kIdentical>,
                      sparse_identical_baseline, kSizes);
        register_pair("sparse_identical_compare", per_output<sparse_identical_compare, kIdentical>,
                      sparse_identical_baseline, kSizes);
        register_pair("sparse_overlap_merge", per_output<sparse_overlap_merge, kOverlap>,
                      sparse_overlap_baseline, kSizes);
        register_pair("sparse_overlap_compare", per_output<sparse_overlap_compare, kOverlap>,
                      sparse_overlap_baseline, kSizes);
        register_pair("binary_encode", per_clock_entry<binary_encode>, binary_baseline, kSizes);
        register_pair("binary_decode", per_clock_entry<binary_decode>, binary_baseline, kSizes);
        register_pair("text_format", per_clock_entry<text_format>, text_baseline, kSizes);
        register_pair("text_parse", per_clock_entry<text_parse>, text_baseline, kSizes);
        register_plain("dclock_merge", dclock_merge, plain_dclock_merge);
        register_plain("dclock_compare", dclock_compare, plain_dclock_compare);
        register_plain("vclock_merge", vclock_merge<kIdentical>, plain_vclock_merge<kIdentical>);
        register_plain("vclock_merge_half", vclock_merge<kOverlap>, plain_vclock_merge<kOverlap>);
        register_plain("vclock_join", vclock_join<kIdentical>, plain_vclock_merge<kIdentical>);
        register_plain("vclock_join_half", vclock_join<kOverlap>, plain_vclock_merge<kOverlap>);
        register_plain("vclock_compare", vclock_compare<kIdentical>, plain_vclock_compare<kIdentical>);
        register_plain("vclock_compare_half", vclock_compare<kOverlap>, plain_vclock_compare<kOverlap>);
    }
} registered;

} // namespace
