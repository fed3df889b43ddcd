// Benchmark driver: Google Benchmark's console output, then a table of each
// measurement against its baseline from the same run. The ratio is
// baseline time / measured time: above 1.0 the operation moves its bytes
// faster than memcpy moves the same bytes.
#include "bench_util.h"

#include <causeway/causeway.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <strings.h>
#include <unistd.h>

namespace cwbench {

std::map<std::string, std::string> &baselines() {
    static std::map<std::string, std::string> m;
    return m;
}

void register_pair(const std::string &name, void (*fn)(benchmark::State &),
                   void (*base)(benchmark::State &), std::initializer_list<int64_t> args) {
    auto *b = benchmark::RegisterBenchmark(name.c_str(), fn);
    auto *m = benchmark::RegisterBenchmark(("memcpy:" + name).c_str(), base);
    for (int64_t a : args) {
        b->Arg(a);
        m->Arg(a);
        baselines()[name + "/" + std::to_string(a)] = "memcpy:" + name + "/" + std::to_string(a);
    }
}

void register_with_baseline(const std::string &name, void (*fn)(benchmark::State &),
                            std::initializer_list<int64_t> args, const std::string &base_prefix,
                            void (*base)(benchmark::State &), std::initializer_list<int64_t> base_args,
                            bool manual_time) {
    auto *b = benchmark::RegisterBenchmark(name.c_str(), fn);
    auto *m = benchmark::RegisterBenchmark((base_prefix + ":" + name).c_str(), base);
    for (int64_t a : args)
        b->Arg(a);
    for (int64_t a : base_args) {
        m->Arg(a);
        baselines()[name + "/" + std::to_string(a)] = base_prefix + ":" + name + "/" + std::to_string(a);
    }
    if (manual_time) {
        b->UseManualTime()->Unit(benchmark::kMillisecond);
        m->UseManualTime()->Unit(benchmark::kMillisecond);
    }
}

class RatioReporter : public benchmark::ConsoleReporter {
  public:
    explicit RatioReporter(OutputOptions o) : ConsoleReporter(o) {}

    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &r : runs) {
            // With --benchmark_repetitions the median stands for the row;
            // otherwise the single run does.
            bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
            if (r.error_occurred || (r.run_type != Run::RT_Iteration && !median))
                continue;
            std::string name = r.run_name.str();
            const std::string suffix = "/manual_time";
            if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                name.erase(name.size() - suffix.size());
            if (r.run_type == Run::RT_Iteration && rows_.count(name) && rows_[name].from_median)
                continue;
            Row &row = rows_[name];
            row.from_median = median;
            row.ns = r.GetAdjustedRealTime() * (r.time_unit == benchmark::kMillisecond ? 1e6 : 1.0);
            auto it = r.counters.find("time_per_entry"); // seconds per entry
            row.ns_per_entry = it == r.counters.end() ? -1 : double(it->second) * 1e9;
            if (std::find(order_.begin(), order_.end(), name) == order_.end())
                order_.push_back(name);
        }
        ConsoleReporter::ReportRuns(runs);
    }

    void Finalize() override {
        ConsoleReporter::Finalize();
        bool header = false; // only for a run that holds a benchmark beside its baseline
        for (const std::string &name : order_) {
            auto b = baselines().find(name);
            if (b == baselines().end() || !rows_.count(b->second))
                continue;
            if (!header)
                std::printf("\n| benchmark | ns/op | ns/entry | baseline ns | ratio vs baseline |\n"
                            "|---|---:|---:|---:|---:|\n");
            header = true;
            const Row &m = rows_[name], &base = rows_[b->second];
            char per[32] = "";
            if (m.ns_per_entry >= 0)
                std::snprintf(per, sizeof per, "%.3f", m.ns_per_entry);
            std::printf("| %s | %.1f | %s | %.1f | %.2fx |\n", name.c_str(), m.ns, per, base.ns,
                        base.ns / m.ns);
        }
        std::printf("\nsimd path: %s\n", cw_isa_name(cw_isa_active()));
    }

  private:
    struct Row {
        double ns = 0, ns_per_entry = -1;
        bool from_median = false;
    };
    std::map<std::string, Row> rows_;
    std::vector<std::string> order_;
};

} // namespace cwbench

// A reporter of our own ignores --benchmark_color: colours as the library's
// own would. "auto" (the default): only into a terminal; otherwise the
// library's reading of a flag's truth: empty, or one of 0 f n, or false no
// off in any case, is false; anything else true.
static benchmark::ConsoleReporter::OutputOptions console_options(int argc, char **argv) {
    bool color = isatty(STDOUT_FILENO);
    const char flag[] = "--benchmark_color=";
    for (int i = 1; i < argc; i++)
        if (std::strncmp(argv[i], flag, sizeof flag - 1) == 0) {
            const char *v = argv[i] + sizeof flag - 1;
            if (!strcasecmp(v, "auto"))
                color = isatty(STDOUT_FILENO);
            else if (!v[0] || (!v[1] && std::strchr("0fFnN", v[0])))
                color = false;
            else
                color = strcasecmp(v, "false") && strcasecmp(v, "no") && strcasecmp(v, "off");
        }
    return color ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular;
}

int main(int argc, char **argv) {
    benchmark::ConsoleReporter::OutputOptions options = console_options(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    cwbench::RatioReporter reporter(options);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
