#include "core/ml/DemoChestModel.h"

#include "core/domain/Paths.h"
#include "core/imaging/SyntheticChest.h"
#include "core/ml/Metrics.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

namespace radiolens {

namespace {

namespace fs = std::filesystem;

// Seed ranges of the splits (the demo study's own radiographs start at kDemoChestStudySeed).
constexpr std::uint64_t kTrainSeed = 0;
constexpr std::uint64_t kValidationSeed = 200000;
constexpr std::uint64_t kTestSeed = 400000;

/// Case i of a split: even cases have a nodule.
bool hasNodule(std::size_t i) {
    return i % 2 == 0;
}

ImageSplit makeSplit(int size, std::size_t count, std::uint64_t firstSeed,
                     std::vector<SyntheticChest>* cases = nullptr) {
    ImageSplit split;
    split.count = count;
    split.channels = 1;
    split.height = std::size_t(size);
    split.width = std::size_t(size);
    split.pixels.resize(count * split.imageBytes());
    split.labels.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        SyntheticChest chest = syntheticChest(size, firstSeed + i, hasNodule(i));
        const std::vector<std::uint8_t> pixels = chestDisplayPixels(chest);
        std::copy(pixels.begin(), pixels.end(),
                  split.pixels.begin() + long(i * split.imageBytes()));
        split.labels[i] = hasNodule(i) ? 1 : 0;
        if (cases != nullptr) {
            cases->push_back(std::move(chest));
        }
    }
    return split;
}

/// How many of the images with a nodule have the maximum of the "nodule" class's Grad-CAM
/// inside it; and how many have a nodule.
std::pair<std::size_t, std::size_t> peaksInLesion(Classifier& model, const ImageSplit& split,
                                                  const std::vector<SyntheticChest>& cases) {
    std::size_t inside = 0;
    std::size_t positives = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        if (!cases[i].hasNodule) {
            continue;
        }
        ++positives;
        const SaliencyMap map = model.saliency(split, i, 1, SaliencyMethod::GradCam);
        const std::size_t peak = std::size_t(
            std::max_element(map.values.begin(), map.values.end()) - map.values.begin());
        if (cases[i].insideNodule(int(peak % map.width), int(peak / map.width))) {
            ++inside;
        }
    }
    return {inside, positives};
}

/// The dataset, and the validation split's cases (where their nodules are) when asked.
ImageDataset demoChestDataset(const DemoChestDataOptions& options,
                              std::vector<SyntheticChest>* validationCases) {
    ImageDataset data;
    data.source = "synthetic chest radiographs (Radiolens demo)";
    data.task = "binary";
    data.classNames = {"no nodule", "nodule"};
    data.train = makeSplit(options.size, options.train, kTrainSeed);
    data.validation = makeSplit(options.size, options.validation, kValidationSeed, validationCases);
    data.test = makeSplit(options.size, options.test, kTestSeed);
    return data;
}

} // namespace

ImageDataset makeDemoChestDataset(const DemoChestDataOptions& options) {
    return demoChestDataset(options, nullptr);
}

std::string demoChestModelFolder() {
    return userDataFolder() + "/models/demo-chest";
}

DemoChestReport measureDemoChestModel(MlEngine& engine, const std::string& dir) {
    const DemoChestDataOptions sizes;
    std::vector<SyntheticChest> testCases;
    const ImageSplit test = makeSplit(sizes.size, sizes.test, kTestSeed, &testCases);
    DemoChestReport report;
    const std::unique_ptr<Classifier> model = engine.loadClassifier(dir);
    report.card = model->card();
    const std::vector<double> p = model->predict(test);
    report.test = classificationMetrics(p, 2, test.labels);
    std::tie(report.peaksInLesion, report.positives) = peaksInLesion(*model, test, testCases);
    char hit[96];
    std::snprintf(hit, sizeof hit, "%.3f (%zu of %zu test radiographs with a nodule)",
                  double(report.peaksInLesion) / double(std::max<std::size_t>(1, report.positives)),
                  report.peaksInLesion, report.positives);
    report.card.training["gradcam-peak-in-lesion"] = hit;
    return report;
}

DemoChestReport trainDemoChestModel(MlEngine& engine, const std::string& dir,
                                    const TrainObserver& observer) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<SyntheticChest> validationCases;
    const ImageDataset data = demoChestDataset({}, &validationCases);

    // Trained next to its destination and moved into place when complete, so a reader never
    // sees a half-written model.
    const fs::path target = fs::path(dir).lexically_normal();
    const fs::path partial = target.string() + ".partial-" + std::to_string(getpid());
    std::error_code ec;
    fs::remove_all(partial, ec);
    // Two phases. Average pooling learns the nodule quickly and reliably, but spreads its
    // evidence over the last features' whole receptive field (68 of 128 pixels), so the
    // Grad-CAM maximum lands anywhere near the nodule. Fine-tuned with max pooling, each
    // feature counts only where it is strongest: the evidence gathers on the nodule. (Max
    // pooling from the start sometimes stalls near chance for most of the run.) Grad-CAM then
    // averages the image with its mirror images, which cancels the offset the features keep
    // between where they fire and where the nodule is. The validation AUC comes close to 1 in
    // a few epochs, so on its own it would keep the first fine-tuned epoch to reach it,
    // whatever its maps; the second phase keeps the epoch best by validation AUC plus the share of
    // validation nodules with the Grad-CAM maximum inside (their positions are known).
    constexpr int kAverageEpochs = 6;
    constexpr int kMaxEpochs = 10;
    TrainOptions options;
    options.architecture = "smallcnn";
    options.width = 16;
    options.pooling = "average";
    options.epochs = kAverageEpochs;
    options.outDir = partial.string() + "-average";
    options.id = "demo-chest-nodule";
    const fs::path firstPhase = options.outDir;
    DemoChestReport report;
    try {
        // Progress runs over both phases as one.
        const auto phaseObserver = [&observer](int before) -> TrainObserver {
            if (!observer) {
                return {};
            }
            return [&observer, before](const TrainStatus& status) {
                TrainStatus whole = status;
                whole.epoch += before;
                whole.epochs = kAverageEpochs + kMaxEpochs;
                whole.fraction = (double(before) + status.fraction * double(status.epochs)) /
                                 double(whole.epochs);
                return observer(whole);
            };
        };
        fs::remove_all(firstPhase, ec);
        engine.train(data, options, phaseObserver(0));
        options.parent = firstPhase.string();
        options.pooling = "max";
        options.gradCamFlipAverage = true;
        options.epochs = kMaxEpochs;
        options.outDir = partial.string();
        options.selectionName =
            "validation AUC + share of validation nodules with the Grad-CAM maximum inside";
        options.selectionScore = [&](Classifier& model, double auc) {
            const auto [inside, positives] = peaksInLesion(model, data.validation, validationCases);
            return auc + double(inside) / double(std::max<std::size_t>(1, positives));
        };
        report.card = engine.train(data, options, phaseObserver(kAverageEpochs));
        fs::remove_all(firstPhase, ec);
        report.card.training["phases"] =
            std::to_string(kAverageEpochs) + " epochs with average pooling, then " +
            std::to_string(kMaxEpochs) + " fine-tuned with max pooling";
        report.card.input.modalities = {"DX", "CR"};
        report.card.training["dataset"] = data.source;

        const DemoChestReport measured = measureDemoChestModel(engine, partial.string());
        report.test = measured.test;
        report.positives = measured.positives;
        report.peaksInLesion = measured.peaksInLesion;
        report.card.metrics["test"] = measured.test;
        report.card.training["gradcam-peak-in-lesion"] =
            measured.card.training.at("gradcam-peak-in-lesion");
        report.card.write(partial.string());

        if (fs::exists(target)) {
            fs::remove_all(target);
        } else if (target.has_parent_path()) {
            fs::create_directories(target.parent_path());
        }
        fs::rename(partial, target);
    } catch (...) {
        fs::remove_all(partial, ec);
        fs::remove_all(firstPhase, ec);
        throw;
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
}

} // namespace radiolens
