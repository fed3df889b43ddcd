// Link frames (src/server/wire.c): encoding and decoding one link's stream
// of writes at 3, 64 and 1024 nodes, each beside the codec doing the same
// messages whole (cw_msg_encode / cw_msg_decode, what a link sent before
// compact frames). Counters: the mean frame (B/msg) and the whole frame
// (whole_B/msg) of the same messages.
//
// The stream is what node 0 sends node 1 when every node writes in turn: its
// r-th write has clock {0: r + 1, others: r}, so every entry moved since the
// previous message on the link, the most a delta frame carries. (The bytes
// table with a few active writers is `test_wire --bytes`.) wire.h is a
// server-layer header, reached here as queue_pair.c reaches the engine's:
// wire.c is compiled into the benchmark.
#include "bench_util.h"

#include <causeway/causeway.h>

extern "C" {
#include "wire.h"
}

#include <cstring>
#include <map>
#include <memory>
#include <vector>

namespace {

// Two key-frame periods, so decoding can cycle: frame 0 is a key frame.
constexpr size_t kStream = 2 * CW__WIRE_KEY_EVERY;
constexpr uint64_t kFirstRound = 1000;

struct Stream {
    std::vector<cw_msg *> msgs;
    std::vector<std::vector<uint8_t>> whole, frames;
    double whole_bytes = 0, frame_bytes = 0; // means
};

Stream &stream(uint32_t nodes) {
    static std::map<uint32_t, std::unique_ptr<Stream>> cache;
    auto &slot = cache[nodes];
    if (slot)
        return *slot;
    slot.reset(new Stream);
    cw__wire_tx tx;
    if (cw__wire_tx_init(&tx, nodes) != CW_OK)
        std::abort();
    std::vector<uint64_t> clock(nodes);
    const cw_hlc_timestamp ts = {1700000000123u, 0, 0};
    for (size_t i = 0; i < kStream; i++) {
        for (uint32_t k = 0; k < nodes; k++)
            clock[k] = kFirstRound + i + (k == 0);
        cw_msg *m = nullptr;
        if (cw_msg_create(&m, 0, &ts, clock.data(), nodes, "k", 1, "v", 1) != CW_OK)
            std::abort();
        std::vector<uint8_t> w(cw_msg_encoded_size(m));
        size_t n = 0;
        const uint8_t *b = nullptr;
        if (cw_msg_encode(m, w.data(), w.size(), &n) != CW_OK || cw__wire_encode(&tx, m, &b, &n) != CW_OK)
            std::abort();
        cw__wire_commit(&tx);
        slot->frames.emplace_back(b, b + n);
        slot->whole_bytes += double(w.size() + 1) / kStream;
        slot->frame_bytes += double(n) / kStream;
        slot->whole.push_back(std::move(w));
        slot->msgs.push_back(m);
    }
    cw__wire_tx_destroy(&tx);
    return *slot;
}

void set_counters(benchmark::State &state, const Stream &s) {
    state.counters["B/msg"] = s.frame_bytes;
    state.counters["whole_B/msg"] = s.whole_bytes;
}

void wire_encode(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    Stream &s = stream(nodes);
    cw__wire_tx tx;
    if (cw__wire_tx_init(&tx, nodes) != CW_OK)
        std::abort();
    size_t i = 0;
    for (auto _ : state) {
        const uint8_t *b;
        size_t n;
        if (cw__wire_encode(&tx, s.msgs[i], &b, &n) != CW_OK)
            std::abort();
        cw__wire_commit(&tx);
        benchmark::DoNotOptimize(b);
        i = (i + 1) % kStream;
    }
    cw__wire_tx_destroy(&tx);
    set_counters(state, s);
}

void codec_encode(benchmark::State &state) {
    Stream &s = stream(uint32_t(state.range(0)));
    std::vector<uint8_t> buf(s.whole[0].size() + 64);
    size_t i = 0;
    for (auto _ : state) {
        size_t n;
        if (cw_msg_encode(s.msgs[i], buf.data(), buf.size(), &n) != CW_OK)
            std::abort();
        benchmark::DoNotOptimize(buf.data());
        i = (i + 1) % kStream;
    }
    set_counters(state, s);
}

void wire_decode(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    Stream &s = stream(nodes);
    cw__wire_rx rx;
    if (cw__wire_rx_init(&rx, nodes) != CW_OK)
        std::abort();
    const cw_msg_limits lim = {nodes, 1024, 1024};
    size_t i = 0;
    for (auto _ : state) {
        cw_msg *m = nullptr;
        if (cw__wire_decode(&rx, s.frames[i].data(), s.frames[i].size(), &lim, &m) != CW_OK)
            std::abort();
        cw_msg_unref(m);
        i = (i + 1) % kStream;
    }
    cw__wire_rx_destroy(&rx);
    set_counters(state, s);
}

void codec_decode(benchmark::State &state) {
    uint32_t nodes = uint32_t(state.range(0));
    Stream &s = stream(nodes);
    const cw_msg_limits lim = {nodes, 1024, 1024};
    size_t i = 0;
    for (auto _ : state) {
        cw_msg *m = nullptr;
        if (cw_msg_decode(&m, s.whole[i].data(), s.whole[i].size(), &lim, nullptr) != CW_OK)
            std::abort();
        cw_msg_unref(m);
        i = (i + 1) % kStream;
    }
    set_counters(state, s);
}

struct Register {
    Register() {
        cwbench::register_with_baseline("wire_encode", wire_encode, {3, 64, 1024}, "codec", codec_encode,
                                        {3, 64, 1024}, false);
        cwbench::register_with_baseline("wire_decode", wire_decode, {3, 64, 1024}, "codec", codec_decode,
                                        {3, 64, 1024}, false);
    }
} registered;

} // namespace
