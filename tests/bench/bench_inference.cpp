// One process of the inference benchmark (tests/bench/bench_inference.py runs it):
//   bench_inference --create DIR                  write an untrained ResNet-18 (224 px, standard
//                                                 stem, 1 channel, 2 classes) package
//   bench_inference --mode radiolens|default DIR [--runs N] [--saliency]
// "radiolens" opens the engine as the application does (MlRuntime: two threads, passive
// OpenMP waiting, one BLAS thread). "default" opens the same plugin without touching the
// environment and keeps LibTorch's own thread count (one here: LibTorch 1.13 reports one core),
// as a program using Debian's LibTorch with its defaults would run. Batch 1, 224 x 224; median
// of N runs after 5 warm-up runs. Prints one JSON line.

#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
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

MlEngine* defaultEngine() {
    const std::string path = MlRuntime::pluginPath();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        throw std::runtime_error(dlerror());
    }
    using Create = MlEngine* (*)(const MlEngineConfig*, char*, int);
    auto create = reinterpret_cast<Create>(dlsym(handle, "radiolens_create_ml_engine"));
    MlEngineConfig config;
    config.threads = 1; // what LibTorch 1.13 chooses by itself on these machines
    char error[256] = {0};
    MlEngine* engine = create(&config, error, sizeof error);
    if (engine == nullptr) {
        throw std::runtime_error(error);
    }
    return engine;
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
            std::fprintf(stderr, "usage: bench_inference --create DIR | --mode radiolens|default "
                                 "DIR [--runs N] [--saliency]\n");
            return 2;
        }
        const bool ours = args[1] == "radiolens";
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
        MlEngine* engine = ours ? &MlRuntime::engine() : defaultEngine();
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
        std::printf("{\"mode\":\"%s\",\"threads\":%d,\"inferenceMs\":%.3f", args[1].c_str(),
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
