// The engine inside libradiolens_ml.so (opened by MlRuntime): the only code that links LibTorch.

#include "core/ml/MlEngine.h"
#include "core/ml/engine/Forecasting.h"
#include "core/ml/engine/TorchModel.h"
#include "core/ml/engine/Trainer.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace radiolens {

namespace {

class TorchEngine final : public MlEngine {
public:
    explicit TorchEngine(const MlEngineConfig& config)
        : m_inferencePlans(config.inferencePlans) {
        // LibTorch 1.13 on these machines reports one core and defaults to one thread.
        m_threads = std::max(1, config.threads);
        torch::set_num_threads(m_threads);
        // Training allocates and frees tens of megabytes of activations per batch. With glibc's
        // defaults each large block is a fresh mmap, and fresh pages cost about 25 us each on
        // these machines (DESIGN.md section 5): a ResNet-18 batch took 1.19-1.31 s, against
        // 0.68-0.81 s once freed blocks stay in the heap for reuse. Volumes are mapped
        // separately (PixelBuffer) and are not affected.
        mallopt(M_MMAP_THRESHOLD, 256 << 20);
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
    }

    std::string backendName() const override {
        return std::string("LibTorch ") + TORCH_VERSION + " (CPU)";
    }

    int threads() const override { return torch::get_num_threads(); }

    std::string buildConfiguration() const override { return torch::show_config(); }

    double matmulGflops(int n, int repeats) override {
        torch::NoGradGuard noGrad;
        const auto a = torch::rand({n, n});
        const auto b = torch::rand({n, n});
        auto c = torch::mm(a, b); // warm-up
        const auto start = std::chrono::steady_clock::now();
        for (int r = 0; r < repeats; ++r) {
            c = torch::mm(a, b);
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return 2.0 * double(n) * double(n) * double(n) * double(repeats) / seconds / 1e9;
    }

    ModelCard train(const ImageDataset& data, const TrainOptions& options,
                    const TrainObserver& observer) override {
        return ml::trainClassifier(data, options, observer);
    }

    std::unique_ptr<Classifier> loadClassifier(const std::string& dir) override {
        auto model = ml::TorchModel::load(dir);
        model->setInferencePlans(m_inferencePlans);
        return model;
    }

    ModelCard createModel(const ModelCard& card, const std::string& dir, unsigned seed) override {
        ml::TorchModel model(card, seed);
        model.save(dir);
        return model.card();
    }

    ForecastCard trainForecaster(const std::vector<const PatientStay*>& stays,
                                 const ForecastTrainOptions& options,
                                 const ForecastObserver& observer) override {
        return ml::trainForecaster(stays, options, observer);
    }

    std::unique_ptr<Forecaster> loadForecaster(const std::string& dir) override {
        return ml::loadForecaster(dir);
    }

private:
    int m_threads = 1;
    bool m_inferencePlans = true;
};

} // namespace

} // namespace radiolens

extern "C" radiolens::MlEngine* radiolens_create_ml_engine(const radiolens::MlEngineConfig* config,
                                                           char* error, int errorSize) {
    try {
        return new radiolens::TorchEngine(config ? *config : radiolens::MlEngineConfig{});
    } catch (const std::exception& e) {
        if (error != nullptr && errorSize > 0) {
            std::snprintf(error, std::size_t(errorSize), "%s", e.what());
        }
        return nullptr;
    }
}
