// The engine inside libradiolens_ml.so (opened by MlRuntime): the only code that links LibTorch.

#include "core/ml/MlEngine.h"
#include "core/ml/engine/ModelIo.h"
#include "core/ml/engine/Trainer.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace radiolens {

namespace {

class TorchClassifier final : public Classifier {
public:
    explicit TorchClassifier(const std::string& dir)
        : m_card(ModelCard::read(dir)) {
        if (m_card.format != "torch-nn") {
            throw std::runtime_error(dir + "/card.json: TorchScript models are not supported yet");
        }
        m_network = ml::loadNetwork(m_card, dir);
    }

    const ModelCard& card() const override { return m_card; }

    std::vector<double> predict(const ImageSplit& images) override {
        torch::NoGradGuard noGrad;
        m_network->eval();
        std::vector<double> out;
        out.reserve(images.count * m_card.classNames.size());
        for (std::size_t first = 0; first < images.count; first += 128) {
            const std::size_t count = std::min<std::size_t>(128, images.count - first);
            const auto logits =
                m_network->forward(ml::inputTensor(images, first, count, m_card.input));
            const auto p =
                torch::softmax(logits / m_card.temperature, 1).to(torch::kFloat64).contiguous();
            out.insert(out.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
        }
        return out;
    }

private:
    ModelCard m_card;
    std::shared_ptr<ml::Network> m_network;
};

class TorchEngine final : public MlEngine {
public:
    explicit TorchEngine(const MlEngineConfig& config) {
        // LibTorch 1.13 on these machines reports one core and defaults to one thread.
        m_threads = std::max(1, config.threads);
        torch::set_num_threads(m_threads);
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
        return std::make_unique<TorchClassifier>(dir);
    }

private:
    int m_threads = 1;
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
