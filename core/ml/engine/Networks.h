#pragma once
// Plugin-internal (core/ml/engine): LibTorch types are allowed here and nowhere else; nothing
// outside this folder includes these headers (tests/tools/check_layers.py).

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

namespace radiolens::ml {

/// What every built-in architecture returns: class logits (N x classes) and the feature map of
/// its last convolutional stage (N x C x h x w), which Grad-CAM differentiates against.
struct NetworkOutput {
    torch::Tensor logits;
    torch::Tensor features;
};

/// A classifier built in C++ with torch::nn. Saved with torch::save, rebuilt from its model
/// card (architecture, stem, channels, classes) before torch::load.
class Network : public torch::nn::Module {
public:
    virtual NetworkOutput forwardWithFeatures(const torch::Tensor& x) = 0;
    torch::Tensor forward(const torch::Tensor& x) { return forwardWithFeatures(x).logits; }
};

/// How a network is built.
struct NetworkSpec {
    std::string architecture = "resnet18"; ///< resnet18, resnet34, densenet121, smallcnn
    /// "small" (3x3 stride-1 first convolution, no max-pool: for 28-64 px inputs) or
    /// "standard" (7x7 stride-2 and max-pool, as ImageNet models: for 224 px). Empty: chosen
    /// from the input size (small below 100 px).
    std::string stem;
    int inputChannels = 1;
    int classes = 2;
    int width = 64; ///< channels of the first stage (64 in the published ResNets)
};

/// Builds an untrained network. Throws std::invalid_argument for an unknown architecture.
std::shared_ptr<Network> makeNetwork(const NetworkSpec& spec);

/// The stem makeNetwork uses for `spec` at `inputSize` pixels.
std::string stemFor(const NetworkSpec& spec, int inputSize);

} // namespace radiolens::ml
