// Does the active-learning worklist pay? A simulation on PneumoniaMNIST, as issue 6 asks: start
// from 5 % of the training labels (chosen at random), then in each of 8 rounds an annotator
// labels 200 more images, either in the worklist's active-learning order (the most uncertain
// first under the model trained so far: predictive entropy) or in random order; after every
// round a new model is trained from scratch on the labels so far, with the product's default
// recipe, and measured on the validation split (and on the test split, never used for any
// choice). Three seeds; the same starting labels for both orders within a seed.
//
//   bench_active_learning DATASET.npz [--arch smallcnn] [--seeds 3] [--rounds 8]
//                         [--batch-labels 200] [--start 0.05] [--order entropy|margin]
//
// Prints a table per round (mean over seeds) and one JSON line with every figure.

#include "core/ml/ActiveLearning.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/Metrics.h"
#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <unistd.h>
#include <sstream>
#include <string>
#include <vector>

using namespace radiolens;
namespace fs = std::filesystem;

namespace {

/// Images `indices` of `from` as a split of their own.
ImageSplit subset(const ImageSplit& from, const std::vector<std::size_t>& indices) {
    ImageSplit out;
    out.count = indices.size();
    out.channels = from.channels;
    out.height = from.height;
    out.width = from.width;
    out.pixels.reserve(indices.size() * from.imageBytes());
    for (std::size_t i : indices) {
        const auto first = from.pixels.begin() + std::ptrdiff_t(i * from.imageBytes());
        out.pixels.insert(out.pixels.end(), first, first + std::ptrdiff_t(from.imageBytes()));
        out.labels.push_back(from.labels[i]);
    }
    return out;
}

double aucOf(Classifier& model, const ImageSplit& split) {
    const std::vector<double> p = model.predict(split);
    std::vector<double> scores;
    std::vector<bool> positive;
    for (std::size_t i = 0; i < split.count; ++i) {
        scores.push_back(p[i * 2 + 1]);
        positive.push_back(split.labels[i] == 1);
    }
    return rocAuc(scores, positive);
}

struct Round {
    std::size_t labels = 0;
    double validationAuc = 0.0;
    double testAuc = 0.0;
    double seconds = 0.0;
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_active_learning DATASET.npz [--arch A] [--seeds N] "
                             "[--rounds N] [--batch-labels N] [--start F] [--order O]\n");
        return 2;
    }
    std::string architecture = "smallcnn";
    int seeds = 3, rounds = 8;
    std::size_t perRound = 200;
    double start = 0.05;
    WorklistOrder order = WorklistOrder::Entropy;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string option = argv[i];
        const std::string value = argv[i + 1];
        if (option == "--arch") {
            architecture = value;
        } else if (option == "--seeds") {
            seeds = std::atoi(value.c_str());
        } else if (option == "--rounds") {
            rounds = std::atoi(value.c_str());
        } else if (option == "--batch-labels") {
            perRound = std::size_t(std::atol(value.c_str()));
        } else if (option == "--start") {
            start = std::atof(value.c_str());
        } else if (option == "--order" && !parseWorklistOrder(value, order)) {
            std::fprintf(stderr, "--order is entropy or margin\n");
            return 2;
        }
    }
    const std::string scratch =
        (fs::temp_directory_path() / ("radiolens-al-" + std::to_string(::getpid()))).string();
    try {
        const ImageDataset data = loadMedMnist(argv[1]);
        MlEngine& engine = MlRuntime::engine();
        const std::size_t pool = data.train.count;
        const std::size_t initial = std::size_t(std::lround(start * double(pool)));
        std::fprintf(stderr,
                     "%s: pool %zu training images, start %zu labels (%.0f %%), %d rounds of %zu, "
                     "%d seeds, %s, order %s vs random; %d threads\n",
                     argv[1], pool, initial, 100 * start, rounds, perRound, seeds,
                     architecture.c_str(), toString(order), engine.threads());
        // results[strategy][seed][round]
        std::vector<std::vector<std::vector<Round>>> results(2);
        const char* names[2] = {"random", toString(order)};
        const auto began = std::chrono::steady_clock::now();
        for (int seed = 1; seed <= seeds; ++seed) {
            std::mt19937_64 random(std::uint64_t(seed) * 7919u);
            std::vector<std::size_t> shuffled(pool);
            std::iota(shuffled.begin(), shuffled.end(), 0);
            std::shuffle(shuffled.begin(), shuffled.end(), random);
            const std::vector<std::size_t> first(shuffled.begin(),
                                                 shuffled.begin() + std::ptrdiff_t(initial));
            for (int strategy = 0; strategy < 2; ++strategy) {
                std::vector<std::size_t> labelled = first;
                std::vector<bool> taken(pool, false);
                for (std::size_t i : labelled) {
                    taken[i] = true;
                }
                // The random order is fixed per seed: the images an annotator would meet.
                std::vector<std::size_t> randomOrder;
                for (std::size_t i : shuffled) {
                    if (!taken[i]) {
                        randomOrder.push_back(i);
                    }
                }
                std::size_t randomNext = 0;
                results[std::size_t(strategy)].emplace_back();
                for (int round = 0; round <= rounds; ++round) {
                    const auto t0 = std::chrono::steady_clock::now();
                    ImageDataset part;
                    part.source = data.source;
                    part.task = data.task;
                    part.classNames = data.classNames;
                    part.train = subset(data.train, labelled);
                    part.validation = data.validation;
                    TrainOptions options;
                    options.architecture = architecture;
                    options.seed = unsigned(seed);
                    options.outDir = scratch + "/" + names[strategy] + "-" + std::to_string(seed) +
                                     "-" + std::to_string(round);
                    engine.train(part, options, {});
                    auto model = engine.loadClassifier(options.outDir);
                    Round r;
                    r.labels = labelled.size();
                    r.validationAuc = aucOf(*model, data.validation);
                    r.testAuc = aucOf(*model, data.test);
                    if (round < rounds) {
                        // The annotator's next 200 images.
                        if (strategy == 0) {
                            for (std::size_t k = 0; k < perRound && randomNext < randomOrder.size();
                                 ++randomNext) {
                                if (!taken[randomOrder[randomNext]]) {
                                    labelled.push_back(randomOrder[randomNext]);
                                    taken[randomOrder[randomNext]] = true;
                                    ++k;
                                }
                            }
                        } else {
                            std::vector<std::size_t> unlabelled;
                            for (std::size_t i = 0; i < pool; ++i) {
                                if (!taken[i]) {
                                    unlabelled.push_back(i);
                                }
                            }
                            const std::vector<double> p =
                                model->predict(subset(data.train, unlabelled));
                            const std::vector<std::size_t> ranked = mostUncertainFirst(p, 2, order);
                            for (std::size_t k = 0; k < perRound && k < ranked.size(); ++k) {
                                labelled.push_back(unlabelled[ranked[k]]);
                                taken[unlabelled[ranked[k]]] = true;
                            }
                        }
                    }
                    fs::remove_all(options.outDir);
                    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                                    .count();
                    results[std::size_t(strategy)].back().push_back(r);
                    std::fprintf(stderr,
                                 "seed %d %-8s round %d: %4zu labels  validation AUC %.4f  test "
                                 "AUC %.4f  (%.0f s)\n",
                                 seed, names[strategy], round, r.labels, r.validationAuc, r.testAuc,
                                 r.seconds);
                }
            }
        }
        fs::remove_all(scratch);
        const double minutes =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() / 60;

        // Mean curves and the labels each order needs to reach a validation AUC.
        const auto mean = [&](int strategy, int round, bool test) {
            double sum = 0.0;
            for (const auto& seedRounds : results[std::size_t(strategy)]) {
                const Round& r = seedRounds[std::size_t(round)];
                sum += test ? r.testAuc : r.validationAuc;
            }
            return sum / double(results[std::size_t(strategy)].size());
        };
        std::printf("%-7s %-8s %-22s %-22s\n", "round", "labels", "validation AUC (mean)",
                    "test AUC (mean)");
        std::printf("%-7s %-8s %-10s %-11s %-10s %-11s\n", "", "", "random", names[1], "random",
                    names[1]);
        for (int round = 0; round <= rounds; ++round) {
            std::printf("%-7d %-8zu %-10.4f %-11.4f %-10.4f %-11.4f\n", round,
                        results[0][0][std::size_t(round)].labels, mean(0, round, false),
                        mean(1, round, false), mean(0, round, true), mean(1, round, true));
        }
        const auto labelsToReach = [&](int strategy, double target) -> long {
            for (int round = 0; round <= rounds; ++round) {
                if (mean(strategy, round, false) >= target) {
                    return long(results[0][0][std::size_t(round)].labels);
                }
            }
            return -1;
        };
        std::ostringstream json;
        json << "{\"dataset\":\"" << argv[1] << "\",\"architecture\":\"" << architecture
             << "\",\"order\":\"" << names[1] << "\",\"seeds\":" << seeds
             << ",\"rounds\":" << rounds << ",\"perRound\":" << perRound
             << ",\"initial\":" << initial << ",\"minutes\":" << minutes << ",\"reach\":{";
        const double targets[] = {0.99, 0.992, 0.994, 0.995, 0.996};
        for (std::size_t t = 0; t < std::size(targets); ++t) {
            const long r = labelsToReach(0, targets[t]), a = labelsToReach(1, targets[t]);
            std::printf("validation AUC %.3f reached with: random %ld labels, %s %ld labels\n",
                        targets[t], r, names[1], a);
            json << (t ? "," : "") << "\"" << targets[t] << "\":{\"random\":" << r << ",\""
                 << names[1] << "\":" << a << "}";
        }
        json << "},\"curves\":{";
        for (int strategy = 0; strategy < 2; ++strategy) {
            json << (strategy ? "," : "") << "\"" << names[strategy] << "\":[";
            for (std::size_t s = 0; s < results[std::size_t(strategy)].size(); ++s) {
                json << (s ? "," : "") << "[";
                const auto& seedRounds = results[std::size_t(strategy)][s];
                for (std::size_t r = 0; r < seedRounds.size(); ++r) {
                    json << (r ? "," : "") << "[" << seedRounds[r].labels << ","
                         << seedRounds[r].validationAuc << "," << seedRounds[r].testAuc << "]";
                }
                json << "]";
            }
            json << "]";
        }
        json << "}}";
        std::printf("%s\n", json.str().c_str());
        std::printf("%.1f minutes\n", minutes);
    } catch (const std::exception& e) {
        fs::remove_all(scratch);
        std::fprintf(stderr, "bench_active_learning: %s\n", e.what());
        return 1;
    }
    return 0;
}
