// How long one patient's forecast takes, as a clinician opening a patient would wait for it:
// reading and cleaning the record file, the hourly encoding, the ensemble's trajectory and its
// band. Against a baseline in the same process: the same stays forecast in one batch (the cost
// per stay when the patient list is scored at once). Also the time of one explanation
// (integrated gradients, 64 steps, one batch).
//   bench_forecast MODEL_DIR RECORDS_FOLDER [--stays N] [--runs R]
// Every figure is the median over stays of each stay's median over R runs. Prints a table and
// one JSON line.

#include "core/ml/ClinicalImport.h"
#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace radiolens;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty()      ? 0.0
           : v.size() % 2 ? v[v.size() / 2]
                          : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, std::size_t(q * double(v.size())))];
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_forecast MODEL_DIR RECORDS_FOLDER [--stays N] "
                             "[--runs R]\n");
        return 2;
    }
    std::size_t count = 200;
    int runs = 7;
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string option = argv[i];
        if (option == "--stays") {
            count = std::size_t(std::atol(argv[i + 1]));
        } else if (option == "--runs") {
            runs = std::max(1, std::atoi(argv[i + 1]));
        }
    }
    try {
        auto start = Clock::now();
        auto forecaster = MlRuntime::engine().loadForecaster(argv[1]);
        const double loadMs = msSince(start);
        std::vector<std::string> files;
        for (const auto& entry : fs::directory_iterator(argv[2])) {
            if (entry.path().extension() == ".txt") {
                files.push_back(entry.path().string());
            }
        }
        std::sort(files.begin(), files.end());
        files.resize(std::min(files.size(), count));

        std::vector<double> single, modelOnly, explain;
        std::vector<PatientStay> stays;
        for (const auto& file : files) {
            std::vector<double> withReading, model;
            ClinicalDataset data;
            for (int r = 0; r < runs; ++r) {
                start = Clock::now();
                data = importClinical({file});
                if (data.stays.empty()) {
                    break;
                }
                const auto t = forecaster->forecast({&data.stays.front()});
                withReading.push_back(msSince(start));
                start = Clock::now();
                const auto again = forecaster->forecast({&data.stays.front()});
                model.push_back(msSince(start));
                if (t.front().risk != again.front().risk) {
                    std::fprintf(stderr, "%s: two forecasts differ\n", file.c_str());
                    return 1;
                }
            }
            if (data.stays.empty()) {
                continue;
            }
            single.push_back(median(withReading));
            modelOnly.push_back(median(model));
            stays.push_back(data.stays.front());
            if (stays.size() <= 50) {
                start = Clock::now();
                forecaster->explain(stays.back(), forecaster->card().hours);
                explain.push_back(msSince(start));
            }
        }
        std::vector<const PatientStay*> all;
        for (const auto& s : stays) {
            all.push_back(&s);
        }
        std::vector<double> batched;
        for (int r = 0; r < runs; ++r) {
            start = Clock::now();
            forecaster->forecast(all);
            batched.push_back(msSince(start) / double(all.size()));
        }
        const double one = median(single);
        const double batch = median(batched);
        std::printf("%-62s %10s\n", "forecast of one patient (48 hours, 5 members)", "median ms");
        std::printf("%-62s %10.2f  (p95 %.2f; target <= 5 ms)\n",
                    "  read + clean the record, encode, trajectory and band", one,
                    percentile(single, 0.95));
        std::printf("%-62s %10.2f\n", "  encode, trajectory and band (record already read)",
                    median(modelOnly));
        std::printf("%-62s %10.3f  (one patient costs %.1fx a batched one)\n",
                    "  per stay when all are forecast in one batch (baseline)", batch, one / batch);
        std::printf("%-62s %10.1f\n", "explanation (integrated gradients, 64 steps)",
                    median(explain));
        std::printf("%-62s %10.1f\n", "loading the model", loadMs);
        std::printf("stays %zu, runs %d each\n", stays.size(), runs);
        std::printf("{\"stays\":%zu,\"runs\":%d,\"forecastMs\":%.4f,\"forecastP95Ms\":%.4f,"
                    "\"modelOnlyMs\":%.4f,\"batchedPerStayMs\":%.4f,\"explainMs\":%.3f,"
                    "\"loadMs\":%.1f}\n",
                    stays.size(), runs, one, percentile(single, 0.95), median(modelOnly), batch,
                    median(explain), loadMs);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_forecast: %s\n", e.what());
        return 1;
    }
    return 0;
}
