#include "core/ml/engine/Networks.h"

#include <stdexcept>
#include <vector>

namespace radiolens::ml {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int in, int out, int kernel, int stride = 1, int padding = -1) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                          .stride(stride)
                          .padding(padding < 0 ? kernel / 2 : padding)
                          .bias(false));
}

/// He initialisation for convolutions; BatchNorm weight 1 and bias 0 (torchvision's).
void initialise(nn::Module& module) {
    for (auto& m : module.modules(false)) {
        if (auto* c = m->as<nn::Conv2d>()) {
            nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
        } else if (auto* b = m->as<nn::BatchNorm2d>()) {
            nn::init::ones_(b->weight);
            nn::init::zeros_(b->bias);
        } else if (auto* l = m->as<nn::Linear>()) {
            nn::init::zeros_(l->bias);
        }
    }
}

// ---- ResNet (He et al. 2016), basic blocks --------------------------------------------------

class BasicBlockImpl : public nn::Module {
public:
    BasicBlockImpl(int in, int out, int stride)
        : conv1(register_module("conv1", conv(in, out, 3, stride)))
        , bn1(register_module("bn1", nn::BatchNorm2d(out)))
        , conv2(register_module("conv2", conv(out, out, 3)))
        , bn2(register_module("bn2", nn::BatchNorm2d(out))) {
        if (stride != 1 || in != out) {
            down = register_module(
                "downsample", nn::Sequential(conv(in, out, 1, stride, 0), nn::BatchNorm2d(out)));
        }
    }

    torch::Tensor forward(const torch::Tensor& x) {
        auto y = torch::relu(bn1(conv1(x)));
        y = bn2(conv2(y));
        return torch::relu(y + (down.is_empty() ? x : down->forward(x)));
    }

private:
    nn::Conv2d conv1;
    nn::BatchNorm2d bn1;
    nn::Conv2d conv2;
    nn::BatchNorm2d bn2;
    nn::Sequential down{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet final : public Network {
public:
    ResNet(const NetworkSpec& spec, const std::vector<int>& blocks) {
        const int w = spec.width;
        m_small = spec.stem == "small";
        stem = register_module("conv1", m_small ? conv(spec.inputChannels, w, 3, 1)
                                                : conv(spec.inputChannels, w, 7, 2));
        bn = register_module("bn1", nn::BatchNorm2d(w));
        int in = w;
        for (std::size_t s = 0; s < blocks.size(); ++s) {
            const int out = w << s;
            nn::Sequential stage;
            for (int b = 0; b < blocks[s]; ++b) {
                stage->push_back(BasicBlock(in, out, (b == 0 && s > 0) ? 2 : 1));
                in = out;
            }
            stages.push_back(register_module("layer" + std::to_string(s + 1), stage));
        }
        fc = register_module("fc", nn::Linear(in, spec.classes));
        initialise(*this);
    }

    NetworkOutput forwardWithFeatures(const torch::Tensor& x) override {
        auto y = torch::relu(bn(stem(x)));
        if (!m_small) {
            y = torch::max_pool2d(y, 3, 2, 1);
        }
        for (auto& stage : stages) {
            y = stage->forward(y);
        }
        const auto pooled = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
        return {fc(pooled), y};
    }

private:
    bool m_small = true;
    nn::Conv2d stem{nullptr};
    nn::BatchNorm2d bn{nullptr};
    std::vector<nn::Sequential> stages;
    nn::Linear fc{nullptr};
};

// ---- DenseNet-121 (Huang et al. 2017) -------------------------------------------------------

class DenseLayerImpl : public nn::Module {
public:
    DenseLayerImpl(int in, int growth, int bottleneck)
        : bn1(register_module("norm1", nn::BatchNorm2d(in)))
        , conv1(register_module("conv1", conv(in, bottleneck * growth, 1, 1, 0)))
        , bn2(register_module("norm2", nn::BatchNorm2d(bottleneck * growth)))
        , conv2(register_module("conv2", conv(bottleneck * growth, growth, 3))) {}

    torch::Tensor forward(const torch::Tensor& x) {
        auto y = conv1(torch::relu(bn1(x)));
        y = conv2(torch::relu(bn2(y)));
        return torch::cat({x, y}, 1);
    }

private:
    nn::BatchNorm2d bn1;
    nn::Conv2d conv1;
    nn::BatchNorm2d bn2;
    nn::Conv2d conv2;
};
TORCH_MODULE(DenseLayer);

class DenseNet final : public Network {
public:
    explicit DenseNet(const NetworkSpec& spec) {
        const int growth = 32;
        const std::vector<int> blocks = {6, 12, 24, 16};
        int channels = spec.width;
        m_small = spec.stem == "small";
        stem = register_module("conv0", m_small ? conv(spec.inputChannels, channels, 3, 1)
                                                : conv(spec.inputChannels, channels, 7, 2));
        stemBn = register_module("norm0", nn::BatchNorm2d(channels));
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            nn::Sequential block;
            for (int l = 0; l < blocks[b]; ++l) {
                block->push_back(DenseLayer(channels, growth, 4));
                channels += growth;
            }
            if (b + 1 < blocks.size()) {
                // Transition: halve the channels and the resolution.
                block->push_back(nn::BatchNorm2d(channels));
                block->push_back(nn::Functional(torch::relu));
                block->push_back(conv(channels, channels / 2, 1, 1, 0));
                block->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
                channels /= 2;
            }
            body.push_back(register_module("denseblock" + std::to_string(b + 1), block));
        }
        finalBn = register_module("norm5", nn::BatchNorm2d(channels));
        fc = register_module("classifier", nn::Linear(channels, spec.classes));
        initialise(*this);
    }

    NetworkOutput forwardWithFeatures(const torch::Tensor& x) override {
        auto y = torch::relu(stemBn(stem(x)));
        if (!m_small) {
            y = torch::max_pool2d(y, 3, 2, 1);
        }
        for (auto& block : body) {
            y = block->forward(y);
        }
        y = torch::relu(finalBn(y));
        return {fc(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1)), y};
    }

private:
    bool m_small = true;
    nn::Conv2d stem{nullptr};
    nn::BatchNorm2d stemBn{nullptr};
    std::vector<nn::Sequential> body;
    nn::BatchNorm2d finalBn{nullptr};
    nn::Linear fc{nullptr};
};

// ---- a small CNN: four conv-BN-ReLU stages ---------------------------------------------------

class SmallCnn final : public Network {
public:
    explicit SmallCnn(const NetworkSpec& spec) {
        int in = spec.inputChannels;
        const int w = std::max(8, spec.width / 2);
        for (int s = 0; s < 4; ++s) {
            const int out = w << s;
            stages.push_back(
                register_module("block" + std::to_string(s + 1),
                                nn::Sequential(conv(in, out, 3), nn::BatchNorm2d(out),
                                               nn::Functional(torch::relu), conv(out, out, 3),
                                               nn::BatchNorm2d(out), nn::Functional(torch::relu))));
            in = out;
        }
        fc = register_module("fc", nn::Linear(in, spec.classes));
        initialise(*this);
    }

    NetworkOutput forwardWithFeatures(const torch::Tensor& x) override {
        auto y = x;
        for (std::size_t s = 0; s < stages.size(); ++s) {
            y = stages[s]->forward(y);
            if (s + 1 < stages.size()) {
                y = torch::max_pool2d(y, 2, 2);
            }
        }
        return {fc(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1)), y};
    }

private:
    std::vector<nn::Sequential> stages;
    nn::Linear fc{nullptr};
};

} // namespace

std::string stemFor(const NetworkSpec& spec, int inputSize) {
    if (!spec.stem.empty()) {
        return spec.stem;
    }
    return inputSize < 100 ? "small" : "standard";
}

std::shared_ptr<Network> makeNetwork(const NetworkSpec& spec) {
    if (spec.stem != "small" && spec.stem != "standard") {
        throw std::invalid_argument("unknown stem '" + spec.stem + "' (small or standard)");
    }
    if (spec.architecture == "resnet18") {
        return std::make_shared<ResNet>(spec, std::vector<int>{2, 2, 2, 2});
    }
    if (spec.architecture == "resnet34") {
        return std::make_shared<ResNet>(spec, std::vector<int>{3, 4, 6, 3});
    }
    if (spec.architecture == "densenet121") {
        return std::make_shared<DenseNet>(spec);
    }
    if (spec.architecture == "smallcnn") {
        return std::make_shared<SmallCnn>(spec);
    }
    throw std::invalid_argument("unknown architecture '" + spec.architecture +
                                "' (resnet18, resnet34, densenet121, smallcnn)");
}

} // namespace radiolens::ml
