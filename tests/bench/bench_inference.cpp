// One process of the inference benchmark (tests/bench/bench_inference.py runs it):
//   bench_inference --create DIR                  write an untrained ResNet-18 (224 px, standard
//                                                 stem, 1 channel, 2 classes) package
//   bench_inference --mode radiolens|modules|default DIR [--runs N] [--saliency]
// "radiolens" opens the engine as the application does (MlRuntime: two threads, passive
// OpenMP waiting, one BLAS thread, inference plans). "default" opens the same plugin without
// touching the environment, keeps LibTorch's own thread count (one here: LibTorch 1.13 reports
// one core) and runs the module's own forward, as a program using Debian's LibTorch with its
// defaults would. "modules" is the application's threads and waiting without the plans. Batch
// 1, 224 x 224; median of N runs after 5 warm-up runs. Prints one JSON line.

#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace radiolens;

namespace {

double medianSeconds(int runs, const std::function<void()>& work) {
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        work();
        t.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 2 && args[0] == "--create") {
            ModelCard card;
            card.id = "bench-resnet18-224";
            card.version = "0";
            card.architecture = "resnet18";
            card.stem = "standard";
            card.task = "binary";
            card.classNames = {"negative", "positive"};
            card.input.size = 224;
            card.input.channels = 1;
            MlRuntime::engine().createModel(card, args[1], 1);
            return 0;
        }
        if (args.size() < 3 || args[0] != "--mode") {
            std::fprintf(stderr,
                         "usage: bench_inference --create DIR | --mode radiolens|modules|default "
                         "DIR [--runs N] [--saliency]\n");
            return 2;
        }
        const std::string mode = args[1];
        if (mode != "radiolens" && mode != "modules" && mode != "default") {
            std::fprintf(stderr, "bench_inference: unknown mode %s\n", mode.c_str());
            return 2;
        }
        const std::string dir = args[2];
        int runs = 30;
        bool saliency = false;
        for (std::size_t i = 3; i < args.size(); ++i) {
            if (args[i] == "--runs" && i + 1 < args.size()) {
                runs = std::atoi(args[++i].c_str());
            } else if (args[i] == "--saliency") {
                saliency = true;
            }
        }
        std::unique_ptr<MlEngine> baseline;
        if (mode == "modules") {
            // As MlRuntime::engine() does before opening the plugin.
            setenv("OMP_WAIT_POLICY", "passive", 0);
            setenv("OPENBLAS_NUM_THREADS", "1", 0);
        }
        if (mode != "radiolens") {
            MlEngineConfig config;
            // One thread is what LibTorch 1.13 chooses by itself here.
            config.threads =
                mode == "modules" ? int(std::max(1u, std::thread::hardware_concurrency())) : 1;
            config.inferencePlans = false; // the module's own forward, BatchNorm layers and all
            baseline = MlRuntime::createEngine(config);
        }
        MlEngine* engine = baseline ? baseline.get() : &MlRuntime::engine();
        std::unique_ptr<Classifier> model = engine->loadClassifier(dir);
        ImageSplit image;
        image.count = 1;
        image.height = image.width = 224;
        image.labels = {0};
        image.pixels.resize(224 * 224);
        std::mt19937 random(3);
        for (auto& p : image.pixels) {
            p = std::uint8_t(random() & 0xff);
        }
        for (int i = 0; i < 5; ++i) {
            model->predict(image);
        }
        const double inference = medianSeconds(runs, [&] { model->predict(image); });
        std::printf("{\"mode\":\"%s\",\"threads\":%d,\"inferenceMs\":%.3f", mode.c_str(),
                    engine->threads(), inference * 1e3);
        if (saliency) {
            model->saliency(image, 0, 1, SaliencyMethod::GradCam);
            const double gradCam = medianSeconds(std::max(5, runs / 3), [&] {
                model->saliency(image, 0, 1, SaliencyMethod::GradCam);
            });
            const double ig = medianSeconds(
                3, [&] { model->saliency(image, 0, 1, SaliencyMethod::IntegratedGradients); });
            const double occlusion =
                medianSeconds(3, [&] { model->saliency(image, 0, 1, SaliencyMethod::Occlusion); });
            std::printf(",\"gradCamMs\":%.3f,\"integratedGradientsMs\":%.3f,\"occlusionMs\":%.3f",
                        gradCam * 1e3, ig * 1e3, occlusion * 1e3);
        }
        std::printf("}\n");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_inference: %s\n", e.what());
        return 1;
    }
}
