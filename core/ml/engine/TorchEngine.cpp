// The engine inside libradiolens_ml.so (opened by MlRuntime): the only code that links LibTorch.

#include "core/ml/MlEngine.h"
#include "core/ml/engine/ModelIo.h"
#include "core/ml/engine/Saliency.h"
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

class TorchClassifier final : public Classifier {
public:
    explicit TorchClassifier(const std::string& dir)
        : m_card(ModelCard::read(dir)) {
        if (m_card.format != "torch-nn") {
            throw std::runtime_error(dir + "/card.json: TorchScript models are not supported yet");
        }
        m_network = ml::loadNetwork(m_card, dir);
        // Inference only: saliency differentiates with respect to inputs and feature maps,
        // never the weights.
        for (auto& p : m_network->parameters()) {
            p.requires_grad_(false);
        }
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

    SaliencyMap saliency(const ImageSplit& images, std::size_t index, int classIndex,
                         SaliencyMethod method) override {
        checkIndex(images, index, classIndex);
        const auto start = std::chrono::steady_clock::now();
        const auto x = ml::inputTensor(images, index, 1, m_card.input);
        const double black = (0.0 - m_card.input.mean) / m_card.input.std;
        auto map = ml::saliencyAtInput(*m_network, x, classIndex, method, black);
        // Back into the image's own pixel geometry.
        if (map.size(0) != std::int64_t(images.height) ||
            map.size(1) != std::int64_t(images.width)) {
            namespace F = torch::nn::functional;
            map = F::interpolate(map.view({1, 1, map.size(0), map.size(1)}),
                                 F::InterpolateFuncOptions()
                                     .size(std::vector<std::int64_t>{std::int64_t(images.height),
                                                                     std::int64_t(images.width)})
                                     .mode(torch::kBilinear)
                                     .align_corners(false))[0][0]
                      .clamp(0.0, 1.0);
        }
        map = map.contiguous();
        SaliencyMap out;
        out.method = method;
        out.classIndex = classIndex;
        out.width = images.width;
        out.height = images.height;
        out.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
        out.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return out;
    }

    Faithfulness faithfulness(const ImageSplit& images, std::size_t index, const SaliencyMap& map,
                              int steps) override {
        checkIndex(images, index, map.classIndex);
        if (map.width != images.width || map.height != images.height ||
            map.values.size() != map.width * map.height) {
            throw std::invalid_argument("the saliency map is not of this image");
        }
        const auto x = ml::inputTensor(images, index, 1, m_card.input);
        auto m = torch::from_blob(const_cast<float*>(map.values.data()),
                                  {1, 1, std::int64_t(map.height), std::int64_t(map.width)},
                                  torch::kFloat32);
        namespace F = torch::nn::functional;
        m = F::interpolate(m, F::InterpolateFuncOptions()
                                  .size(std::vector<std::int64_t>{x.size(2), x.size(3)})
                                  .mode(torch::kBilinear)
                                  .align_corners(false))[0][0];
        return ml::deletionInsertion(*m_network, x, m, map.classIndex, m_card.temperature,
                                     std::max(2, steps));
    }

private:
    void checkIndex(const ImageSplit& images, std::size_t index, int classIndex) const {
        if (index >= images.count) {
            throw std::invalid_argument("no image " + std::to_string(index));
        }
        if (classIndex < 0 || classIndex >= int(m_card.classNames.size())) {
            throw std::invalid_argument("the model has no class " + std::to_string(classIndex));
        }
    }

    ModelCard m_card;
    std::shared_ptr<ml::Network> m_network;
};

class TorchEngine final : public MlEngine {
public:
    explicit TorchEngine(const MlEngineConfig& config) {
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
