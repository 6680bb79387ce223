// Inference plans (core/ml/engine/TorchModel.cpp): inference with BatchNorm folded into the
// convolutions and weights prepared once for oneDNN must give what LibTorch's module forward
// gives. Each architecture with a plan is trained briefly (so its BatchNorm statistics are real),
// then loaded twice: by the application's engine (plans on) and by a second engine of the same
// plugin with plans off. Probabilities, saliency maps and faithfulness are compared.

#include "core/domain/ModelCard.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/Metrics.h"
#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

/// `count` grey images, `size` pixels square: noise, and for class 1 a bright square somewhere.
ImageSplit squares(std::size_t count, int size, unsigned seed) {
    ImageSplit split;
    split.count = count;
    split.height = split.width = std::size_t(size);
    split.pixels.resize(count * split.imageBytes());
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> noise(40, 90);
    std::uniform_int_distribution<int> corner(0, size - size / 4 - 1);
    for (std::size_t i = 0; i < count; ++i) {
        const int label = int(i % 2);
        split.labels.push_back(label);
        std::uint8_t* image = split.pixels.data() + i * split.imageBytes();
        for (std::size_t p = 0; p < split.imageBytes(); ++p) {
            image[p] = std::uint8_t(noise(random));
        }
        if (label == 1) {
            const int x0 = corner(random);
            const int y0 = corner(random);
            for (int y = y0; y < y0 + size / 4; ++y) {
                for (int x = x0; x < x0 + size / 4; ++x) {
                    image[y * size + x] = 220;
                }
            }
        }
    }
    return split;
}

struct Case {
    const char* name;
    const char* architecture;
    const char* stem;
    int imageSize;
    const char* pooling;
    bool flips;
};

// ctest lists each case by its name.
void PrintTo(const Case& c, std::ostream* out) {
    *out << c.name;
}

class InferencePlanTest : public ::testing::TestWithParam<Case> {};

TEST_P(InferencePlanTest, PlansGiveWhatTheModulesGive) {
    std::error_code ec;
    if (!fs::exists(MlRuntime::pluginPath(), ec)) {
        GTEST_SKIP() << "ML plugin not built (RADIOLENS_BUILD_ML=OFF); issue 5";
    }
    const Case& c = GetParam();
    const char* base = std::getenv("TEST_TMPDIR");
    const fs::path dir = fs::path(base ? base : "/tmp") / (std::string("plan-") + c.name);
    fs::remove_all(dir);

    ImageDataset data;
    data.source = "squares";
    data.classNames = {"blank", "square"};
    data.train = squares(96, 28, 1);
    data.validation = squares(32, 28, 2);
    TrainOptions options;
    options.architecture = c.architecture;
    options.stem = c.stem;
    options.width = 16;
    options.imageSize = c.imageSize;
    options.pooling = c.pooling;
    options.gradCamFlipAverage = c.flips;
    options.epochs = 1;
    options.batchSize = 32;
    options.outDir = dir.string();
    MlEngine& planned = MlRuntime::engine();
    const ModelCard card = planned.train(data, options, {});

    MlEngineConfig config;
    config.threads = planned.threads();
    config.inferencePlans = false;
    const auto modulesEngine = MlRuntime::createEngine(config);
    const auto withPlans = planned.loadClassifier(dir.string());
    const auto withModules = modulesEngine->loadClassifier(dir.string());

    const ImageSplit images = squares(8, 28, 3);
    const auto p = withPlans->predict(images);
    const auto q = withModules->predict(images);
    ASSERT_EQ(p.size(), q.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
        EXPECT_NEAR(p[i], q[i], 1e-4) << "probability " << i;
    }
    // The card's validation metrics came through the plan at the end of training: the modules
    // on the saved weights give the same.
    const ModelMetrics v =
        classificationMetrics(withModules->predict(data.validation), 2, data.validation.labels);
    EXPECT_NEAR(card.metrics.at("validation").auc, v.auc, 1e-6);
    EXPECT_NEAR(card.metrics.at("validation").ece, v.ece, 1e-4);

    for (const auto method : {SaliencyMethod::GradCam, SaliencyMethod::Occlusion}) {
        for (const std::size_t index : {std::size_t(0), std::size_t(1)}) {
            const SaliencyMap a = withPlans->saliency(images, index, 1, method);
            const SaliencyMap b = withModules->saliency(images, index, 1, method);
            ASSERT_EQ(a.values.size(), b.values.size());
            float largest = 0.0f;
            for (std::size_t k = 0; k < a.values.size(); ++k) {
                largest = std::max(largest, std::abs(a.values[k] - b.values[k]));
            }
            EXPECT_LT(largest, 2e-3) << saliencyName(method) << " of image " << index;
            const Faithfulness f = withPlans->faithfulness(images, index, b, 16);
            const Faithfulness g = withModules->faithfulness(images, index, b, 16);
            EXPECT_NEAR(f.deletionAuc, g.deletionAuc, 1e-4);
            EXPECT_NEAR(f.insertionAuc, g.insertionAuc, 1e-4);
        }
    }
}

// The small stem at 28 px: the Grad-CAM map is stage 3 (7 x 7) and the head runs stage 4. The
// standard stem at 64 px: the map is stage 2 (8 x 8). The small CNN at 28 px: stage 3 (7 x 7).
INSTANTIATE_TEST_SUITE_P(
    Architectures, InferencePlanTest,
    ::testing::Values(Case{"resnet18_small", "resnet18", "small", 28, "average", false},
                      Case{"resnet18_standard", "resnet18", "standard", 64, "average", false},
                      Case{"resnet34_small_max", "resnet34", "small", 28, "max", true},
                      Case{"smallcnn", "smallcnn", "", 28, "average", false},
                      Case{"smallcnn_max_flips", "smallcnn", "", 28, "max", true}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

} // namespace
