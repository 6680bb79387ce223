// The LibTorch side of a model: architectures, weights on disk, input tensors, inference,
// saliency and the training step. Everything torch-specific of the plugin is in this file (and
// TorchEngine.cpp); the rest of the plugin sees the plain C++ TorchModel.

#include "core/ml/engine/TorchModel.h"

#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"
#include "core/ml/engine/Distributed.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

// Debian's LibTorch 1.13 exports BatchNorm2dImpl's vtable but not the BatchNormImplBase
// pretty_print it points to. A class derived from BatchNorm2dImpl (BatchNormImpl below) makes the
// compiler emit that vtable here too; an optimised build drops it, the sanitizer build keeps it
// and the plugin then fails to load ("undefined symbol ...pretty_print"). The same text as
// LibTorch's, defined here for that one specialisation.
template <>
void torch::nn::BatchNormImplBase<2, torch::nn::BatchNorm2dImpl>::pretty_print(
    std::ostream& stream) const {
    stream << std::boolalpha << "torch::nn::BatchNorm2d(" << options.num_features()
           << ", eps=" << options.eps() << ", momentum=";
    if (options.momentum().has_value()) {
        stream << *options.momentum();
    } else {
        stream << "None";
    }
    stream << ", affine=" << options.affine()
           << ", track_running_stats=" << options.track_running_stats() << ")";
}

namespace radiolens::ml {

namespace {

// ---- architectures ------------------------------------------------------------------------

/// What every built-in architecture returns: class logits (N x classes) and the feature map
/// Grad-CAM differentiates against (N x C x h x w): the output of the last stage whose map is
/// still at least 7 x 7 (the last stage at 224 px, as in Selvaraju et al.; the one before it
/// for 28-px inputs, whose last stage is only 4 x 4 and would blur the map over a quarter of
/// the image).
struct NetworkOutput {
    torch::Tensor logits;
    torch::Tensor features;
};

class InferencePlan;

/// A classifier built in C++ with torch::nn. Saved with torch::save, rebuilt from its model
/// card (architecture, stem, channels, classes) before torch::load.
///
/// Two ways through it: the modules (forward, features, head: autograd works, used for training
/// and Integrated Gradients) and, for inference, infer/inferFeatures, which go through the
/// architecture's InferencePlan when it has one (ResNet, small CNN) and plans are on.
class Network : public torch::nn::Module {
public:
    /// Logits and the Grad-CAM feature map, through the modules.
    virtual NetworkOutput forwardWithFeatures(const torch::Tensor& x) {
        const auto map = features(x);
        return {head(map), map};
    }
    torch::Tensor forward(const torch::Tensor& x) { return forwardWithFeatures(x).logits; }
    /// From the input to the Grad-CAM feature map, and from that map to the logits.
    virtual torch::Tensor features(const torch::Tensor& x) = 0;
    virtual torch::Tensor head(const torch::Tensor& features) = 0;
    /// False when the network cannot be split at its feature map (a TorchScript module).
    virtual bool hasHead() const { return true; }

    /// Logits, and the Grad-CAM feature map, for inference only (no autograd; eval mode).
    torch::Tensor infer(const torch::Tensor& x);
    torch::Tensor inferFeatures(const torch::Tensor& x);
    /// Whether infer goes through an InferencePlan (on by default). Off: the modules, as a
    /// program using LibTorch directly would run them.
    void usePlans(bool on) {
        m_usePlans = on;
        dropPlan();
    }
    /// Forgets the plan; the next inference builds it from the current weights. Training mode
    /// drops it too; call this after changing weights or statistics any other way.
    void dropPlan() {
        m_plan.reset();
        m_planBuilt = false;
    }
    void train(bool on = true) override {
        if (on) {
            dropPlan();
        }
        torch::nn::Module::train(on);
    }

    /// "average" or "max": how globalPool reduces the last feature map. Throws
    /// std::invalid_argument for anything else.
    void setPooling(const std::string& pooling) {
        if (pooling != "average" && pooling != "max") {
            throw std::invalid_argument("unknown pooling '" + pooling + "' (average or max)");
        }
        m_maxPooling = pooling == "max";
    }

    /// The last feature map (N x C x h x w) pooled and classified: N x classes logits.
    torch::Tensor classify(const torch::Tensor& lastMap) { return m_fc(globalPool(lastMap)); }

protected:
    /// Registers the final linear layer under `name` (its name in saved weights).
    void addClassifier(const std::string& name, int features, int classes) {
        m_fc = register_module(name, torch::nn::Linear(features, classes));
    }

    /// This architecture's plan, from its current eval-mode weights; nullptr when it has none.
    virtual std::unique_ptr<InferencePlan> makePlan() { return nullptr; }

    /// The last feature map (N x C x h x w) as one vector per image (N x C).
    torch::Tensor globalPool(const torch::Tensor& y) const {
        return m_maxPooling ? torch::amax(y, {2, 3}) : y.mean({2, 3});
    }

private:
    InferencePlan* plan();

    torch::nn::Linear m_fc{nullptr};
    bool m_maxPooling = false;
    bool m_usePlans = true;
    bool m_planBuilt = false;
    std::unique_ptr<InferencePlan> m_plan;
};

/// A network frozen for inference: every BatchNorm folded into the convolution before it, the
/// weights reordered once into oneDNN's blocked layout and the activations kept in it from the
/// first layer to the last. LibTorch's module forward instead runs each BatchNorm as a layer
/// and reorders every weight and activation at every convolution. ResNet-18 at 224 px, batch 1,
/// 2 threads: 17.0 ms against 26.5 ms through the modules, in the same run
/// (tests/bench/bench_inference.py). Built from the weights as they are; the network drops it
/// when they change. Used without autograd.
class InferencePlan {
public:
    virtual ~InferencePlan() = default;
    /// The Grad-CAM feature map and the last feature map (dense tensors) of a batch.
    virtual torch::Tensor features(const torch::Tensor& x) = 0;
    virtual torch::Tensor lastMap(const torch::Tensor& x) = 0;
};

InferencePlan* Network::plan() {
    if (!m_planBuilt) {
        m_planBuilt = true;
        if (m_usePlans) {
            try {
                torch::NoGradGuard noGrad;
                m_plan = makePlan();
            } catch (const c10::Error&) {
                m_plan.reset(); // oneDNN cannot run here: the modules will do
            }
        }
    }
    return m_plan.get();
}

torch::Tensor Network::infer(const torch::Tensor& x) {
    if (InferencePlan* p = is_training() ? nullptr : plan()) {
        return classify(p->lastMap(x));
    }
    return forward(x);
}

torch::Tensor Network::inferFeatures(const torch::Tensor& x) {
    if (InferencePlan* p = is_training() ? nullptr : plan()) {
        return p->features(x);
    }
    return features(x);
}

/// How a network is built.
struct NetworkSpec {
    std::string architecture = "resnet18"; ///< resnet18, resnet34, densenet121, smallcnn
    /// "small" (3x3 stride-1 first convolution, no max-pool: for 28-64 px inputs) or
    /// "standard" (7x7 stride-2 and max-pool, as ImageNet models: for 224 px). Empty: chosen
    /// from the input size (small below 100 px).
    std::string stem;
    int inputChannels = 1;
    int classes = 2;
    int width = 64;                  ///< channels of the first stage (64 in the published ResNets)
    std::string pooling = "average"; ///< global pooling of the last feature map: average or max
};

/// Builds an untrained network. Throws std::invalid_argument for an unknown architecture.
std::shared_ptr<Network> makeNetwork(const NetworkSpec& spec);

/// The stem makeNetwork uses for `spec` at `inputSize` pixels.
std::string stemFor(const NetworkSpec& spec, int inputSize);

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int in, int out, int kernel, int stride = 1, int padding = -1) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                          .stride(stride)
                          .padding(padding < 0 ? kernel / 2 : padding)
                          .bias(false));
}

// ---- BatchNorm, synchronised across the processes of a data-parallel run ---------------------

/// Per-channel mean and biased variance of a training batch, and how many values per channel
/// they are over.
struct BatchMoments {
    torch::Tensor mean;     ///< C, float
    torch::Tensor variance; ///< C, float
    double count = 0.0;
};

/// The moments of `x` (N x C x H x W) over every process's part of the global batch. Each
/// process puts its count, mean and sum of squared deviations in its own row of a table, the
/// table is summed across the processes, and every process combines the rows in rank order in
/// double precision (Chan, Golub and LeVeque's pairwise update): the same statistics
/// everywhere, bit for bit.
BatchMoments globalMoments(const torch::Tensor& x, DistributedGroup& group) {
    const std::size_t channels = std::size_t(x.size(1));
    const std::size_t width = 1 + 2 * channels;
    std::vector<double> table(std::size_t(group.size()) * width, 0.0);
    double* row = table.data() + std::size_t(group.rank()) * width;
    row[0] = double(x.numel()) / double(channels);
    if (x.numel() > 0) {
        const std::vector<std::int64_t> dims{0, 2, 3};
        const auto [variance, mean] = torch::var_mean(x, at::IntArrayRef(dims), false);
        const auto m = mean.to(torch::kFloat64).contiguous();
        const auto v = variance.to(torch::kFloat64).contiguous();
        for (std::size_t c = 0; c < channels; ++c) {
            row[1 + c] = m.data_ptr<double>()[c];
            row[1 + channels + c] = v.data_ptr<double>()[c] * row[0];
        }
    }
    group.allreduceSum(table.data(), table.size());
    BatchMoments out;
    std::vector<double> mean(channels, 0.0), squares(channels, 0.0);
    for (int r = 0; r < group.size(); ++r) {
        const double* part = table.data() + std::size_t(r) * width;
        out.count += part[0];
        for (std::size_t c = 0; c < channels; ++c) {
            mean[c] += part[0] * part[1 + c];
        }
    }
    for (std::size_t c = 0; c < channels; ++c) {
        mean[c] /= std::max(1.0, out.count);
    }
    for (int r = 0; r < group.size(); ++r) {
        const double* part = table.data() + std::size_t(r) * width;
        for (std::size_t c = 0; c < channels; ++c) {
            const double d = part[1 + c] - mean[c];
            squares[c] += part[1 + channels + c] + part[0] * d * d;
        }
    }
    for (std::size_t c = 0; c < channels; ++c) {
        squares[c] /= std::max(1.0, out.count);
    }
    out.mean = torch::tensor(mean, torch::kFloat64).to(torch::kFloat32);
    out.variance = torch::tensor(squares, torch::kFloat64).to(torch::kFloat32);
    return out;
}

/// Training-mode BatchNorm of one process's part of a global batch, normalised with the global
/// batch's moments (computed before, by globalMoments). Forward: LibTorch's eval-mode kernel
/// with those moments. Backward: the eval-mode backward (which also gives the local sums of
/// dy and dy * x_hat, the weight's and bias's gradients), plus the terms through the moments,
/// for which those two sums over the global batch are exchanged: one allreduce of 2C values.
/// Every process of the group runs it in the same order (the graphs are alike), as collectives
/// require.
class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& weight, const torch::Tensor& bias,
                                 const torch::Tensor& mean, const torch::Tensor& variance,
                                 double count, double eps, DistributedGroup* group) {
        ctx->save_for_backward({x, weight, mean, variance});
        ctx->saved_data["count"] = count;
        ctx->saved_data["eps"] = eps;
        ctx->saved_data["group"] =
            static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(group));
        if (x.numel() == 0) {
            return torch::empty_like(x);
        }
        return std::get<0>(at::native_batch_norm(x, weight, bias, mean, variance, false, 0.0, eps));
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const auto& x = saved[0];
        const auto& weight = saved[1];
        const auto& mean = saved[2];
        const auto& variance = saved[3];
        const double count = ctx->saved_data["count"].toDouble();
        const double eps = ctx->saved_data["eps"].toDouble();
        auto* group = reinterpret_cast<DistributedGroup*>(
            static_cast<std::intptr_t>(ctx->saved_data["group"].toInt()));
        torch::Tensor dx, dWeight, dBias;
        if (x.numel() > 0) {
            std::tie(dx, dWeight, dBias) = at::native_batch_norm_backward(
                grads[0], x, weight, mean, variance, {}, {}, false, eps, {true, true, true});
        } else {
            dx = torch::empty_like(x);
            dWeight = torch::zeros_like(weight);
            dBias = torch::zeros_like(weight);
        }
        // The global sums of dy and dy * x_hat.
        const std::int64_t channels = weight.size(0);
        auto sums = torch::cat({dBias, dWeight}).contiguous();
        group->allreduceSum(sums.data_ptr<float>(), std::size_t(sums.numel()));
        const auto sumDy = sums.narrow(0, 0, channels);
        const auto sumDyXhat = sums.narrow(0, channels, channels);
        // dx = w s (dy - sum(dy) / n - x_hat sum(dy x_hat) / n), s = 1 / sqrt(var + eps); the
        // first term is the eval-mode dx, the others are a * x + b per channel.
        const auto invStd = (variance + eps).rsqrt();
        const auto k = weight * invStd / count;
        const auto a = -k * invStd * sumDyXhat;
        const auto b = -k * (sumDy - mean * invStd * sumDyXhat);
        if (x.numel() > 0) {
            dx = dx.addcmul(x, a.view({1, -1, 1, 1})).add_(b.view({1, -1, 1, 1}));
        }
        return {dx, dWeight, dBias, {}, {}, {}, {}, {}};
    }
};

/// BatchNorm2d that, once given a group (a data-parallel run), normalises training batches
/// with the statistics of the global batch, as one process training the whole batch would
/// (synchronised BatchNorm): the processes' running statistics and gradients stay those of a
/// single process. Without a group, and in eval mode, it is LibTorch's BatchNorm2d; its
/// weights are named and saved the same.
class BatchNormImpl : public nn::BatchNorm2dImpl {
public:
    explicit BatchNormImpl(std::int64_t features)
        : nn::BatchNorm2dImpl(nn::BatchNorm2dOptions(features)) {}

    torch::Tensor forward(const torch::Tensor& x) {
        if (group == nullptr || !is_training()) {
            return nn::BatchNorm2dImpl::forward(x);
        }
        const BatchMoments moments = globalMoments(x.detach(), *group);
        if (moments.count < 2.0) {
            throw std::runtime_error("BatchNorm needs more than one value per channel in "
                                     "training; use a larger batch");
        }
        if (options.track_running_stats()) {
            torch::NoGradGuard noGrad;
            num_batches_tracked.add_(1);
            const double factor = options.momentum().has_value()
                                      ? *options.momentum()
                                      : 1.0 / num_batches_tracked.item<double>();
            running_mean.mul_(1.0 - factor).add_(moments.mean, factor);
            running_var.mul_(1.0 - factor)
                .add_(moments.variance * float(moments.count / (moments.count - 1.0)), factor);
        }
        return SyncBatchNormFunction::apply(x, weight, bias, moments.mean, moments.variance,
                                            moments.count, options.eps(), group);
    }

    /// The run whose global batches are normalised together; nullptr: this process alone.
    DistributedGroup* group = nullptr;
};
TORCH_MODULE(BatchNorm);

/// Gives every BatchNorm of `network` the group (nullptr: none).
void setBatchNormGroup(nn::Module& network, DistributedGroup* group) {
    for (const auto& m : network.modules(false)) {
        if (auto* bn = dynamic_cast<BatchNormImpl*>(m.get())) {
            bn->group = group;
        }
    }
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

/// Module `index` of `sequence`, of type T.
template <typename T>
const T& child(const nn::Sequential& sequence, std::size_t index) {
    return dynamic_cast<const T&>(*sequence->ptr(index));
}

/// A convolution and the BatchNorm after it as one convolution for an InferencePlan: the
/// BatchNorm's eval-mode scale and shift folded into the weights and a bias, the weights
/// reordered once into oneDNN's layout. Takes and returns oneDNN (mkldnn) tensors.
class FoldedConv {
public:
    FoldedConv(const nn::Conv2dImpl& conv, const nn::BatchNorm2dImpl& norm) {
        const auto& options = conv.options;
        if (options.groups() != 1 || options.dilation()->at(0) != 1 ||
            options.dilation()->at(1) != 1 || conv.bias.defined()) {
            throw std::logic_error("FoldedConv: only plain convolutions without bias");
        }
        const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&options.padding());
        if (padding == nullptr) {
            throw std::logic_error("FoldedConv: padding must be given in pixels");
        }
        m_stride = {options.stride()->at(0), options.stride()->at(1)};
        m_padding = {padding->operator*().at(0), padding->operator*().at(1)};
        const auto scale = norm.weight / torch::sqrt(norm.running_var + norm.options.eps());
        const auto weight = (conv.weight * scale.view({-1, 1, 1, 1})).contiguous();
        m_bias = (norm.bias - norm.running_mean * scale).contiguous().to_mkldnn();
        m_weight =
            at::mkldnn_reorder_conv2d_weight(weight.to_mkldnn(), m_padding, m_stride, {1, 1}, 1);
    }

    torch::Tensor operator()(const torch::Tensor& x) const {
        return at::mkldnn_convolution(x, m_weight, m_bias, m_padding, m_stride, {1, 1}, 1);
    }

private:
    torch::Tensor m_weight;
    torch::Tensor m_bias;
    std::vector<std::int64_t> m_stride;
    std::vector<std::int64_t> m_padding;
};

// ---- ResNet (He et al. 2016), basic blocks --------------------------------------------------

/// A basic block in an InferencePlan.
struct PlannedBlock {
    FoldedConv conv1;
    FoldedConv conv2;
    c10::optional<FoldedConv> down;

    torch::Tensor operator()(const torch::Tensor& x) const {
        auto y = conv2(conv1(x).relu_());
        return y.add_(down ? (*down)(x) : x).relu_();
    }
};

class BasicBlockImpl : public nn::Module {
public:
    BasicBlockImpl(int in, int out, int stride)
        : conv1(register_module("conv1", conv(in, out, 3, stride)))
        , bn1(register_module("bn1", BatchNorm(out)))
        , conv2(register_module("conv2", conv(out, out, 3)))
        , bn2(register_module("bn2", BatchNorm(out))) {
        if (stride != 1 || in != out) {
            down = register_module("downsample",
                                   nn::Sequential(conv(in, out, 1, stride, 0), BatchNorm(out)));
        }
    }

    torch::Tensor forward(const torch::Tensor& x) {
        auto y = torch::relu(bn1(conv1(x)));
        y = bn2(conv2(y));
        return torch::relu(y + (down.is_empty() ? x : down->forward(x)));
    }

    PlannedBlock planned() const {
        PlannedBlock block{FoldedConv(*conv1, *bn1), FoldedConv(*conv2, *bn2), c10::nullopt};
        if (!down.is_empty()) {
            block.down.emplace(child<nn::Conv2dImpl>(down, 0), child<nn::BatchNorm2dImpl>(down, 1));
        }
        return block;
    }

private:
    nn::Conv2d conv1;
    BatchNorm bn1;
    nn::Conv2d conv2;
    BatchNorm bn2;
    nn::Sequential down{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet final : public Network {
public:
    ResNet(const NetworkSpec& spec, const std::vector<int>& blocks) {
        m_width = spec.width;
        m_small = spec.stem == "small";
        stem = register_module("conv1", m_small ? conv(spec.inputChannels, m_width, 3, 1)
                                                : conv(spec.inputChannels, m_width, 7, 2));
        bn = register_module("bn1", BatchNorm(m_width));
        int in = m_width;
        for (std::size_t s = 0; s < blocks.size(); ++s) {
            const int out = m_width << s;
            nn::Sequential stage;
            for (int b = 0; b < blocks[s]; ++b) {
                stage->push_back(BasicBlock(in, out, (b == 0 && s > 0) ? 2 : 1));
                in = out;
            }
            stages.push_back(register_module("layer" + std::to_string(s + 1), stage));
        }
        addClassifier("fc", in, spec.classes);
        initialise(*this);
    }

    torch::Tensor features(const torch::Tensor& x) override {
        auto y = torch::relu(bn(stem(x)));
        if (!m_small) {
            y = torch::max_pool2d(y, 3, 2, 1);
        }
        for (int s = 0; s < featureStages(x); ++s) {
            y = stages[std::size_t(s)]->forward(y);
        }
        return y;
    }

    torch::Tensor head(const torch::Tensor& map) override {
        auto y = map;
        // Stage s has width << s channels: the stages after the map's.
        for (std::size_t s = 0; s < stages.size(); ++s) {
            if ((std::int64_t(m_width) << s) > map.size(1)) {
                y = stages[s]->forward(y);
            }
        }
        return classify(y);
    }

protected:
    std::unique_ptr<InferencePlan> makePlan() override;

private:
    friend class ResNetPlan;

    /// How many stages, from the first, make the Grad-CAM feature map: the first, and each
    /// later one (stride 2) whose output is still fine enough (at least 7 x 7).
    int featureStages(const torch::Tensor& x) const {
        // The standard stem's 7x7 stride-2 convolution and 3x3 stride-2 max-pool halve twice.
        std::int64_t size = std::min(x.size(2), x.size(3));
        size = m_small ? size : (size + 3) / 4;
        int n = 1;
        while (n < int(stages.size()) && (size = (size + 1) / 2) >= 7) {
            ++n;
        }
        return n;
    }

    bool m_small = true;
    int m_width = 64;
    nn::Conv2d stem{nullptr};
    BatchNorm bn{nullptr};
    std::vector<nn::Sequential> stages;
};

class ResNetPlan final : public InferencePlan {
public:
    explicit ResNetPlan(const ResNet& network)
        : m_network(network)
        , m_stem(*network.stem, *network.bn) {
        for (const auto& stage : network.stages) {
            std::vector<PlannedBlock> blocks;
            for (std::size_t b = 0; b < stage->size(); ++b) {
                blocks.push_back(child<BasicBlockImpl>(stage, b).planned());
            }
            m_stages.push_back(std::move(blocks));
        }
    }

    torch::Tensor features(const torch::Tensor& x) override {
        return run(x, m_network.featureStages(x));
    }
    torch::Tensor lastMap(const torch::Tensor& x) override { return run(x, int(m_stages.size())); }

private:
    torch::Tensor run(const torch::Tensor& x, int stages) const {
        auto y = m_stem(x.contiguous().to_mkldnn()).relu_();
        if (!m_network.m_small) {
            y = torch::max_pool2d(y, 3, 2, 1);
        }
        for (int s = 0; s < stages; ++s) {
            for (const auto& block : m_stages[std::size_t(s)]) {
                y = block(y);
            }
        }
        return y.to_dense();
    }

    const ResNet& m_network;
    FoldedConv m_stem;
    std::vector<std::vector<PlannedBlock>> m_stages;
};

std::unique_ptr<InferencePlan> ResNet::makePlan() {
    return std::make_unique<ResNetPlan>(*this);
}

// ---- DenseNet-121 (Huang et al. 2017) -------------------------------------------------------

class DenseLayerImpl : public nn::Module {
public:
    DenseLayerImpl(int in, int growth, int bottleneck)
        : bn1(register_module("norm1", BatchNorm(in)))
        , conv1(register_module("conv1", conv(in, bottleneck * growth, 1, 1, 0)))
        , bn2(register_module("norm2", BatchNorm(bottleneck * growth)))
        , conv2(register_module("conv2", conv(bottleneck * growth, growth, 3))) {}

    torch::Tensor forward(const torch::Tensor& x) {
        auto y = conv1(torch::relu(bn1(x)));
        y = conv2(torch::relu(bn2(y)));
        return torch::cat({x, y}, 1);
    }

private:
    BatchNorm bn1;
    nn::Conv2d conv1;
    BatchNorm bn2;
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
        stemBn = register_module("norm0", BatchNorm(channels));
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            nn::Sequential block;
            for (int l = 0; l < blocks[b]; ++l) {
                block->push_back(DenseLayer(channels, growth, 4));
                channels += growth;
            }
            if (b + 1 < blocks.size()) {
                // Transition: halve the channels and the resolution.
                block->push_back(BatchNorm(channels));
                block->push_back(nn::Functional(torch::relu));
                block->push_back(conv(channels, channels / 2, 1, 1, 0));
                block->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
                channels /= 2;
            }
            body.push_back(register_module("denseblock" + std::to_string(b + 1), block));
        }
        finalBn = register_module("norm5", BatchNorm(channels));
        addClassifier("classifier", channels, spec.classes);
        initialise(*this);
    }

    torch::Tensor features(const torch::Tensor& x) override {
        auto y = torch::relu(stemBn(stem(x)));
        if (!m_small) {
            y = torch::max_pool2d(y, 3, 2, 1);
        }
        for (auto& block : body) {
            y = block->forward(y);
        }
        return torch::relu(finalBn(y));
    }

    torch::Tensor head(const torch::Tensor& map) override { return classify(map); }

private:
    bool m_small = true;
    nn::Conv2d stem{nullptr};
    BatchNorm stemBn{nullptr};
    std::vector<nn::Sequential> body;
    BatchNorm finalBn{nullptr};
};

// ---- a small CNN: four conv-BN-ReLU stages ---------------------------------------------------

class SmallCnn final : public Network {
public:
    explicit SmallCnn(const NetworkSpec& spec) {
        int in = spec.inputChannels;
        m_width = std::max(8, spec.width / 2);
        for (int s = 0; s < 4; ++s) {
            const int out = m_width << s;
            stages.push_back(register_module(
                "block" + std::to_string(s + 1),
                nn::Sequential(conv(in, out, 3), BatchNorm(out), nn::Functional(torch::relu),
                               conv(out, out, 3), BatchNorm(out), nn::Functional(torch::relu))));
            in = out;
        }
        addClassifier("fc", in, spec.classes);
        initialise(*this);
    }

    torch::Tensor features(const torch::Tensor& x) override {
        auto y = x;
        for (int s = 0; s < featureStages(x); ++s) {
            y = stages[std::size_t(s)]->forward(s > 0 ? torch::max_pool2d(y, 2, 2) : y);
        }
        return y;
    }

    torch::Tensor head(const torch::Tensor& map) override {
        auto y = map;
        // Stage s has width << s channels: the stages after the map's, each after a 2x2 pool.
        for (std::size_t s = 0; s < stages.size(); ++s) {
            if ((std::int64_t(m_width) << s) > map.size(1)) {
                y = stages[s]->forward(torch::max_pool2d(y, 2, 2));
            }
        }
        return classify(y);
    }

protected:
    std::unique_ptr<InferencePlan> makePlan() override;

private:
    friend class SmallCnnPlan;

    /// How many stages, from the first, make the Grad-CAM feature map: the first, and each
    /// later one (after a 2x2 max-pool) whose output is still at least 7 x 7.
    int featureStages(const torch::Tensor& x) const {
        std::int64_t size = std::min(x.size(2), x.size(3));
        int n = 1;
        while (n < int(stages.size()) && (size /= 2) >= 7) {
            ++n;
        }
        return n;
    }

    int m_width = 8;
    std::vector<nn::Sequential> stages;
};

class SmallCnnPlan final : public InferencePlan {
public:
    explicit SmallCnnPlan(const SmallCnn& network)
        : m_network(network) {
        for (const auto& stage : network.stages) {
            m_stages.emplace_back(
                FoldedConv(child<nn::Conv2dImpl>(stage, 0), child<nn::BatchNorm2dImpl>(stage, 1)),
                FoldedConv(child<nn::Conv2dImpl>(stage, 3), child<nn::BatchNorm2dImpl>(stage, 4)));
        }
    }

    torch::Tensor features(const torch::Tensor& x) override {
        return run(x, m_network.featureStages(x));
    }
    torch::Tensor lastMap(const torch::Tensor& x) override { return run(x, int(m_stages.size())); }

private:
    torch::Tensor run(const torch::Tensor& x, int stages) const {
        auto y = x.contiguous().to_mkldnn();
        for (int s = 0; s < stages; ++s) {
            if (s > 0) {
                y = torch::max_pool2d(y, 2, 2);
            }
            const auto& [first, second] = m_stages[std::size_t(s)];
            y = second(first(y).relu_()).relu_();
        }
        return y.to_dense();
    }

    const SmallCnn& m_network;
    std::vector<std::pair<FoldedConv, FoldedConv>> m_stages;
};

std::unique_ptr<InferencePlan> SmallCnn::makePlan() {
    return std::make_unique<SmallCnnPlan>(*this);
}

// ---- TorchScript models exported from PyTorch -------------------------------------------------

/// A TorchScript module behind the Network interface. Its forward returns logits, or a tuple
/// (logits, features) for Grad-CAM.
class ScriptNetwork final : public Network {
public:
    explicit ScriptNetwork(torch::jit::Module module)
        : m_module(std::move(module)) {}

    NetworkOutput forwardWithFeatures(const torch::Tensor& x) override {
        const c10::IValue out = m_module.forward({x});
        if (out.isTuple()) {
            const auto& items = out.toTupleRef().elements();
            if (items.empty() || !items[0].isTensor()) {
                throw std::runtime_error("the TorchScript model returns a tuple without logits");
            }
            return {items[0].toTensor(), items.size() > 1 && items[1].isTensor()
                                             ? items[1].toTensor()
                                             : torch::Tensor()};
        }
        if (!out.isTensor()) {
            throw std::runtime_error("the TorchScript model returns neither a tensor nor a tuple");
        }
        return {out.toTensor(), torch::Tensor()};
    }

    torch::Tensor features(const torch::Tensor&) override { throw noSplit(); }
    torch::Tensor head(const torch::Tensor&) override { throw noSplit(); }
    bool hasHead() const override { return false; }

    void train(bool on) override {
        Network::train(on);
        m_module.train(on);
    }

    torch::jit::Module& module() { return m_module; }

private:
    static std::logic_error noSplit() {
        return std::logic_error("a TorchScript model runs as a whole");
    }

    torch::jit::Module m_module;
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
    std::shared_ptr<Network> network;
    if (spec.architecture == "resnet18") {
        network = std::make_shared<ResNet>(spec, std::vector<int>{2, 2, 2, 2});
    } else if (spec.architecture == "resnet34") {
        network = std::make_shared<ResNet>(spec, std::vector<int>{3, 4, 6, 3});
    } else if (spec.architecture == "densenet121") {
        network = std::make_shared<DenseNet>(spec);
    } else if (spec.architecture == "smallcnn") {
        network = std::make_shared<SmallCnn>(spec);
    }
    if (network) {
        network->setPooling(spec.pooling);
        return network;
    }
    throw std::invalid_argument("unknown architecture '" + spec.architecture +
                                "' (resnet18, resnet34, densenet121, smallcnn)");
}

// ---- weights and inputs ---------------------------------------------------------------------

torch::Tensor inputTensor(const ImageSplit& images, std::size_t first, std::size_t count,
                          const InputSpec& input) {
    if (images.channels != std::size_t(input.channels)) {
        throw std::invalid_argument("the model takes " + std::to_string(input.channels) +
                                    "-channel images; these have " +
                                    std::to_string(images.channels));
    }
    const auto bytes = images.imageBytes();
    auto x = torch::from_blob(const_cast<std::uint8_t*>(images.pixels.data() + first * bytes),
                              {std::int64_t(count), std::int64_t(images.channels),
                               std::int64_t(images.height), std::int64_t(images.width)},
                              torch::kUInt8)
                 .to(torch::kFloat32)
                 .div_(255.0);
    if (images.height != std::size_t(input.size) || images.width != std::size_t(input.size)) {
        namespace F = torch::nn::functional;
        const bool shrinking = images.height > std::size_t(input.size);
        x = F::interpolate(x, F::InterpolateFuncOptions()
                                  .size(std::vector<std::int64_t>{input.size, input.size})
                                  .mode(torch::kBilinear)
                                  .align_corners(false)
                                  .antialias(shrinking));
    }
    return x.sub_(input.mean).div_(input.std);
}

std::shared_ptr<Network> networkFor(const ModelCard& card) {
    NetworkSpec spec;
    spec.architecture = card.architecture;
    spec.stem = card.stem.empty() ? stemFor(spec, card.input.size) : card.stem;
    spec.inputChannels = card.input.channels;
    spec.classes = int(card.classNames.size());
    spec.width = card.width;
    spec.pooling = card.pooling;
    return makeNetwork(spec);
}

std::string saveWeights(const std::shared_ptr<Network>& network, const std::string& path) {
    const std::string temporary = path + ".tmp";
    torch::serialize::OutputArchive archive;
    network->save(archive);
    archive.save_to(temporary);
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        throw std::runtime_error(path + ": cannot be written");
    }
    return Sha256::ofFile(path);
}

namespace {

/// Empty when `archive` holds exactly the tensors and sub-modules of `module`, otherwise the
/// first difference ("layer3.1.conv2.weight is missing").
std::string compareWithArchive(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                               const std::string& prefix) {
    std::set<std::string> expected;
    for (const auto& p : module.named_parameters(false)) {
        expected.insert(p.key());
    }
    for (const auto& b : module.named_buffers(false)) {
        expected.insert(b.key());
    }
    // Children without tensors (activations wrapped in Functional) leave no trace in the file.
    const auto hasTensors = [](const torch::nn::Module& child) {
        return !child.parameters().empty() || !child.buffers().empty();
    };
    for (const auto& c : module.named_children()) {
        if (hasTensors(*c.value())) {
            expected.insert(c.key());
        }
    }
    for (const std::string& key : archive.keys()) {
        if (expected.erase(key) == 0) {
            return prefix + key + " is in the weights but not in the architecture";
        }
    }
    if (!expected.empty()) {
        return prefix + *expected.begin() + " is missing from the weights";
    }
    for (const auto& c : module.named_children()) {
        if (!hasTensors(*c.value())) {
            continue;
        }
        torch::serialize::InputArchive child;
        archive.read(c.key(), child);
        const std::string difference =
            compareWithArchive(*c.value(), child, prefix + c.key() + ".");
        if (!difference.empty()) {
            return difference;
        }
    }
    return {};
}

} // namespace

/// The path of the package's weights file, after checking it exists and its sha256 is the
/// card's. Throws std::runtime_error naming the file otherwise.
std::string checkedWeightsPath(const ModelCard& card, const std::string& dir) {
    const std::string path = dir + "/" + card.weightsFile;
    if (!std::filesystem::is_regular_file(path)) {
        throw std::runtime_error(path + ": the weights file is missing");
    }
    const std::string hash = Sha256::ofFile(path);
    if (hash != card.weightsSha256) {
        throw std::runtime_error(path + ": the weights do not match the model card (sha256 " +
                                 hash.substr(0, 12) + "..., the card says " +
                                 card.weightsSha256.substr(0, 12) +
                                 "...): changed, damaged or from another model");
    }
    return path;
}

std::shared_ptr<Network> loadNetwork(const ModelCard& card, const std::string& dir) {
    const std::string path = checkedWeightsPath(card, dir);
    std::shared_ptr<Network> network;
    try {
        network = networkFor(card);
    } catch (const std::exception& e) {
        throw std::runtime_error(dir + "/card.json: " + e.what());
    }
    try {
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        std::string difference = compareWithArchive(*network, archive, "");
        // Module::load replaces a tensor of another shape without complaint: compare shapes.
        std::map<std::string, std::vector<std::int64_t>> shapes;
        for (const auto& p : network->named_parameters()) {
            shapes[p.key()] = p.value().sizes().vec();
        }
        if (difference.empty()) {
            network->load(archive);
            for (const auto& p : network->named_parameters()) {
                if (p.value().sizes().vec() != shapes[p.key()]) {
                    difference = p.key() + " has another shape";
                    break;
                }
            }
        }
        if (!difference.empty()) {
            throw std::runtime_error(path + ": the weights do not fit the card's " +
                                     card.architecture + " (" + difference + ")");
        }
    } catch (const c10::Error& e) {
        std::string why = e.what_without_backtrace();
        why = why.substr(0, why.find('\n'));
        throw std::runtime_error(path + ": the weights cannot be read as the card's " +
                                 card.architecture + " (" + why + ")");
    }
    network->eval();
    return network;
}

// ---- saliency -------------------------------------------------------------------------------

/// A single map (h x w, or 1 x 1 x h x w) resized to height x width, as h x w. Bicubic: a
/// coarse map's peak may then fall between its cells (bilinear interpolation always puts it on
/// a cell centre, up to half a cell from where the evidence is). Callers clamp the overshoot.
torch::Tensor resizedMap(const torch::Tensor& map, std::int64_t height, std::int64_t width) {
    namespace F = torch::nn::functional;
    const auto four = map.dim() == 4 ? map : map.view({1, 1, map.size(0), map.size(1)});
    return F::interpolate(four, F::InterpolateFuncOptions()
                                    .size(std::vector<std::int64_t>{height, width})
                                    .mode(torch::kBicubic)
                                    .align_corners(false))[0][0];
}

namespace {

/// Scales `map` to [0, 1]; a flat map becomes all zeros.
torch::Tensor normalised(torch::Tensor map) {
    map = map.clamp_min(0);
    const double top = map.max().item<double>();
    return top > 0 ? map / top : torch::zeros_like(map);
}

torch::Tensor gradCam(Network& network, const torch::Tensor& x, int classIndex, bool flipAverage) {
    // Gradients of the class score with respect to the last feature map only: about one
    // extra forward pass, where a full backward through the parameters costs about three.
    torch::AutoGradMode gradients(true);
    // With flip averaging, the image and its three mirror images go through in one batch.
    const auto batch =
        flipAverage ? torch::cat({x, x.flip({3}), x.flip({2}), x.flip({2, 3})}, 0) : x;
    NetworkOutput out;
    if (network.hasHead()) {
        // Nothing before the feature map needs gradients: it goes through the inference plan.
        {
            torch::NoGradGuard noGrad;
            out.features = network.inferFeatures(batch);
        }
        out.features.requires_grad_(true);
        out.logits = network.head(out.features);
    } else {
        out = network.forwardWithFeatures(batch.detach().requires_grad_(true));
    }
    if (!out.features.defined()) {
        throw std::runtime_error("Grad-CAM needs a model that returns (logits, features); this "
                                 "TorchScript model returns logits only (use ig or occlusion)");
    }
    // The class score before the softmax, as in the paper; summed over the batch of flips.
    const auto score = out.logits.index({torch::indexing::Slice(), classIndex}).sum();
    const auto grad = torch::autograd::grad({score}, {out.features})[0];
    const auto weights = grad.mean({2, 3}, true);                           // N x K x 1 x 1
    auto cam = torch::relu((weights * out.features).sum(1, true)).detach(); // N x 1 x h x w
    if (flipAverage) {
        // Each map back into the image's orientation, then their mean.
        cam = torch::stack({cam[0], cam[1].flip({2}), cam[2].flip({1}), cam[3].flip({1, 2})})
                  .mean(0, true);
    }
    return normalised(resizedMap(cam, x.size(2), x.size(3)));
}

torch::Tensor integratedGradients(Network& network, const torch::Tensor& x, int classIndex,
                                  double blackValue) {
    constexpr int kSteps = 32;
    torch::AutoGradMode gradients(true);
    const auto baseline = torch::full_like(x, blackValue);
    // Midpoint rule: alpha = (k + 0.5) / steps, all steps in one batch.
    const auto alpha =
        (torch::arange(kSteps, torch::kFloat32) + 0.5).div_(kSteps).view({kSteps, 1, 1, 1});
    const auto path = (baseline + alpha * (x - baseline)).detach().requires_grad_(true);
    const auto logits = network.forward(path);
    const auto score = logits.index({torch::indexing::Slice(), classIndex}).sum();
    const auto grad = torch::autograd::grad({score}, {path})[0];
    const auto attribution = ((x - baseline) * grad.mean(0, true)).sum(1); // 1 x S x S
    // Light smoothing: per-pixel gradients are speckled; readers look for regions.
    const auto smooth = torch::avg_pool2d(attribution.unsqueeze(0), 3, 1, 1)[0][0];
    return normalised(smooth.detach());
}

/// Class probabilities of `logits` (N x classes): independent sigmoids for multi-label
/// models, a softmax otherwise.
torch::Tensor classProbabilities(const torch::Tensor& logits, bool multiLabel) {
    return multiLabel ? torch::sigmoid(logits) : torch::softmax(logits, 1);
}

torch::Tensor occlusion(Network& network, const torch::Tensor& x, int classIndex, bool multiLabel) {
    constexpr int kGrid = 14;
    c10::InferenceMode inference;
    const auto size = x.size(2);
    const auto base =
        classProbabilities(network.infer(x), multiLabel)[0][classIndex].item<double>();
    std::vector<double> drop(kGrid * kGrid);
    // One row of cells per batch: batches of 49 at 224 px took 7.2-8.5 s (their activations
    // outgrow the caches), batches of 14 took 3.0-3.5 s.
    const int batch = kGrid;
    for (int first = 0; first < kGrid * kGrid; first += batch) {
        const int count = std::min(batch, kGrid * kGrid - first);
        auto occluded = x.repeat({count, 1, 1, 1});
        for (int i = 0; i < count; ++i) {
            const int cell = first + i;
            const auto y0 = (cell / kGrid) * size / kGrid;
            const auto y1 = (cell / kGrid + 1) * size / kGrid;
            const auto x0 = (cell % kGrid) * size / kGrid;
            const auto x1 = (cell % kGrid + 1) * size / kGrid;
            using torch::indexing::Slice;
            occluded.index_put_({i, Slice(), Slice(y0, y1), Slice(x0, x1)}, 0.0);
        }
        const auto p = classProbabilities(network.infer(occluded), multiLabel)
                           .index({torch::indexing::Slice(), classIndex})
                           .contiguous();
        for (int i = 0; i < count; ++i) {
            drop[std::size_t(first + i)] = base - p[i].item<double>();
        }
    }
    const auto grid =
        torch::tensor(std::vector<float>(drop.begin(), drop.end())).view({1, 1, kGrid, kGrid});
    return normalised(resizedMap(grid, size, size));
}

} // namespace

torch::Tensor saliencyAtInput(Network& network, const torch::Tensor& x, int classIndex,
                              SaliencyMethod method, double blackValue, bool multiLabel,
                              bool gradCamFlipAverage) {
    network.eval();
    switch (method) {
    case SaliencyMethod::GradCam:
        return gradCam(network, x, classIndex, gradCamFlipAverage);
    case SaliencyMethod::IntegratedGradients:
        return integratedGradients(network, x, classIndex, blackValue);
    case SaliencyMethod::Occlusion:
        return occlusion(network, x, classIndex, multiLabel);
    }
    throw std::invalid_argument("unknown saliency method");
}

Faithfulness deletionInsertion(Network& network, const torch::Tensor& x, const torch::Tensor& map,
                               int classIndex, double temperature, int steps, bool multiLabel) {
    torch::NoGradGuard noGrad;
    network.eval();
    const auto pixels = map.numel();
    // Most salient first; ties broken by position so the order is reproducible.
    const auto order = std::get<1>(map.flatten().sort(/*stable=*/true, 0, /*descending=*/true));
    const auto rank = torch::empty_like(order);
    rank.index_put_({order}, torch::arange(pixels, order.options()));
    const auto rankMap = rank.view({1, 1, map.size(0), map.size(1)});
    // Removed pixels become the mean (0 after normalisation); insertion starts from a blurred
    // copy, which keeps the image's low frequencies but none of its detail.
    const auto removed = torch::zeros_like(x);
    const int k = std::max(3, int(x.size(2) / 8) | 1);
    const auto blurred = torch::avg_pool2d(x, k, 1, k / 2, false, false);
    Faithfulness result;
    const auto curve = [&](bool deletion) {
        std::vector<torch::Tensor> batch;
        for (int s = 0; s <= steps; ++s) {
            const auto shown = (rankMap < double(s) / steps * double(pixels)).to(x.dtype());
            batch.push_back(deletion ? x * (1 - shown) + removed * shown
                                     : x * shown + blurred * (1 - shown));
        }
        const auto p =
            classProbabilities(network.infer(torch::cat(batch, 0)) / temperature, multiLabel)
                .index({torch::indexing::Slice(), classIndex})
                .to(torch::kFloat64)
                .contiguous();
        std::vector<double> values(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
        double area = 0.0;
        for (int s = 0; s < steps; ++s) {
            area += (values[std::size_t(s)] + values[std::size_t(s + 1)]) / 2.0 / steps;
        }
        return std::make_pair(area, values);
    };
    std::tie(result.deletionAuc, result.deletionCurve) = curve(true);
    std::tie(result.insertionAuc, result.insertionCurve) = curve(false);
    return result;
}

// ---- training -------------------------------------------------------------------------------

/// Random affine warps and intensity jitter of a normalised batch (N x C x H x W). The random
/// values are drawn for a batch of `total` images of which `x` holds those from `first` on: each
/// process of a distributed run draws what one process would for the global batch and uses
/// its share (alone: total = N, first = 0).
torch::Tensor augment(const torch::Tensor& x, torch::Generator& generator, std::int64_t total,
                      std::int64_t first) {
    const auto n = x.size(0);
    const auto uniform = [&](double lo, double hi) {
        return (torch::rand({total}, generator, torch::kFloat32) * (hi - lo) + lo)
            .narrow(0, first, n);
    };
    const auto angle = uniform(-10.0, 10.0) * (M_PI / 180.0);
    const auto scale = uniform(0.9, 1.1);
    const auto tx = uniform(-0.08, 0.08) * 2.0; // grid units: the image spans [-1, 1]
    const auto ty = uniform(-0.08, 0.08) * 2.0;
    if (n == 0) { // a process whose share of a small last batch is empty: draw all the same
        uniform(0.9, 1.1);
        uniform(-0.1, 0.1);
        return x;
    }
    const auto c = torch::cos(angle) / scale;
    const auto s = torch::sin(angle) / scale;
    const auto theta = torch::stack({torch::stack({c, -s, tx}, 1), torch::stack({s, c, ty}, 1)}, 1);
    namespace F = torch::nn::functional;
    const auto grid = F::affine_grid(theta, x.sizes(), false);
    auto y = F::grid_sample(x, grid,
                            F::GridSampleFuncOptions()
                                .mode(torch::kBilinear)
                                .padding_mode(torch::kBorder)
                                .align_corners(false));
    const auto contrast = uniform(0.9, 1.1).view({n, 1, 1, 1});
    const auto brightness = uniform(-0.1, 0.1).view({n, 1, 1, 1});
    return y * contrast + brightness;
}

/// See TorchModel::recomputeBatchNormStatistics.
void recomputeBatchNormStatistics(Network& network, const ImageSplit& split, const InputSpec& input,
                                  std::size_t maxImages) {
    std::vector<torch::nn::BatchNorm2dImpl*> norms;
    for (const auto& m : network.modules(false)) {
        if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
            norms.push_back(bn);
        }
    }
    std::vector<c10::optional<double>> momentum;
    for (auto* bn : norms) {
        momentum.push_back(bn->options.momentum());
        bn->options.momentum(c10::nullopt); // cumulative average
        bn->reset_running_stats();
    }
    {
        torch::NoGradGuard noGrad;
        network.train();
        const std::size_t images = std::min(split.count, maxImages);
        for (std::size_t first = 0; first < images; first += 256) {
            const std::size_t count = std::min<std::size_t>(256, images - first);
            network.forward(inputTensor(split, first, count, input));
        }
        network.eval();
    }
    for (std::size_t i = 0; i < norms.size(); ++i) {
        norms[i]->options.momentum(momentum[i]);
    }
}

} // namespace

std::string defaultStem(const std::string& stem, int inputSize) {
    NetworkSpec spec;
    spec.stem = stem;
    return stemFor(spec, inputSize);
}

namespace {

/// Runs `work`, turning LibTorch's errors (whose text carries a C++ backtrace) into one-line
/// std::runtime_error reasons a user can read.
template <typename Work>
auto plainErrors(Work&& work) -> decltype(work()) {
    try {
        return work();
    } catch (const c10::Error& e) {
        const std::string why = e.what_without_backtrace();
        throw std::runtime_error(why.substr(0, why.find('\n')));
    }
}

} // namespace

struct TorchModel::Impl {
    ModelCard card;
    std::shared_ptr<Network> network;
    std::unique_ptr<torch::optim::AdamW> optimiser;
    torch::Tensor classWeights;
    torch::Generator generator;
    std::vector<torch::Tensor> kept;
    DistributedGroup* group = nullptr; ///< a distributed run's processes; nullptr: alone
    torch::Tensor gradients;           ///< every gradient and the loss, flat, to exchange

    bool distributed() const { return group != nullptr && group->size() > 1; }
    /// The part [first, last) of `count` items that this process takes.
    std::pair<std::size_t, std::size_t> share(std::size_t count) const {
        if (!distributed()) {
            return {0, count};
        }
        const auto r = std::size_t(group->rank()), n = std::size_t(group->size());
        return {count * r / n, count * (r + 1) / n};
    }

    void checkIndex(const ImageSplit& images, std::size_t index, int classIndex) const {
        if (index >= images.count) {
            throw std::invalid_argument("no image " + std::to_string(index));
        }
        if (classIndex < 0 || classIndex >= int(card.classNames.size())) {
            throw std::invalid_argument("the model has no class " + std::to_string(classIndex));
        }
    }

    std::vector<torch::Tensor> state() const {
        std::vector<torch::Tensor> all;
        for (const auto& p : network->parameters()) {
            all.push_back(p);
        }
        for (const auto& b : network->buffers()) {
            all.push_back(b);
        }
        return all;
    }
};

TorchModel::TorchModel()
    : m(std::make_unique<Impl>()) {}

TorchModel::TorchModel(const ModelCard& card, unsigned seed)
    : TorchModel() {
    m->card = card;
    if (card.format != "torchscript") {
        // LibTorch seeds its default generator from the system's entropy: without this, every
        // run starts from other weights.
        torch::manual_seed(seed);
        m->network = networkFor(card);
    }
}

namespace {

/// A TorchScript package: hash checked, module loaded, its output checked against the card.
std::shared_ptr<Network> loadScriptNetwork(const ModelCard& card, const std::string& dir) {
    const std::string path = checkedWeightsPath(card, dir);
    std::shared_ptr<ScriptNetwork> network;
    try {
        network = std::make_shared<ScriptNetwork>(torch::jit::load(path));
    } catch (const c10::Error& e) {
        std::string why = e.what_without_backtrace();
        throw std::runtime_error(path + ": cannot be read as TorchScript (" +
                                 why.substr(0, why.find('\n')) + ")");
    }
    network->eval();
    for (auto p : network->module().parameters()) {
        p.requires_grad_(false);
    }
    // The card says what goes in and how many classes come out: try it.
    try {
        c10::InferenceMode inference;
        const auto logits = network->forward(
            torch::zeros({1, card.input.channels, card.input.size, card.input.size}));
        if (logits.dim() != 2 || logits.size(1) != std::int64_t(card.classNames.size())) {
            throw std::runtime_error("it returns logits of shape " + c10::str(logits.sizes()) +
                                     ", the card lists " + std::to_string(card.classNames.size()) +
                                     " classes");
        }
    } catch (const c10::Error& e) {
        std::string why = e.what_without_backtrace();
        throw std::runtime_error(
            path + ": does not run on the card's input (" + std::to_string(card.input.channels) +
            " x " + std::to_string(card.input.size) + " x " + std::to_string(card.input.size) +
            "): " + why.substr(0, why.find('\n')));
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    return network;
}

} // namespace

std::unique_ptr<TorchModel> TorchModel::load(const std::string& dir) {
    ModelCard card = ModelCard::read(dir);
    auto model = std::unique_ptr<TorchModel>(new TorchModel());
    model->m->card = card;
    if (card.format == "torchscript") {
        model->m->network = loadScriptNetwork(card, dir);
        return model;
    }
    model->m->network = loadNetwork(card, dir);
    // Inference only: saliency differentiates with respect to inputs and feature maps, never
    // the weights.
    for (auto& p : model->m->network->parameters()) {
        p.requires_grad_(false);
    }
    return model;
}

TorchModel::~TorchModel() = default;

const ModelCard& TorchModel::card() const {
    return m->card;
}

ModelCard& TorchModel::card() {
    return m->card;
}

void TorchModel::setInferencePlans(bool on) {
    m->network->usePlans(on);
}

void TorchModel::setPooling(const std::string& pooling) {
    m->network->setPooling(pooling);
    m->card.pooling = pooling;
}

std::vector<double> TorchModel::predict(const ImageSplit& images) {
    return plainErrors([&] { return predictImages(images); });
}

std::vector<double> TorchModel::predictImages(const ImageSplit& images) {
    // No autograd bookkeeping at all (cheaper than NoGradGuard).
    c10::InferenceMode inference;
    m->network->eval();
    std::vector<double> out;
    out.reserve(images.count * m->card.classNames.size());
    for (std::size_t first = 0; first < images.count; first += 128) {
        const std::size_t count = std::min<std::size_t>(128, images.count - first);
        const auto logits = m->network->infer(inputTensor(images, first, count, m->card.input));
        const auto p = classProbabilities(logits / m->card.temperature, multiLabel())
                           .to(torch::kFloat64)
                           .contiguous();
        out.insert(out.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    }
    return out;
}

SaliencyMap TorchModel::saliency(const ImageSplit& images, std::size_t index, int classIndex,
                                 SaliencyMethod method) {
    return plainErrors([&] { return saliencyOf(images, index, classIndex, method); });
}

SaliencyMap TorchModel::saliencyOf(const ImageSplit& images, std::size_t index, int classIndex,
                                   SaliencyMethod method) {
    m->checkIndex(images, index, classIndex);
    const auto start = std::chrono::steady_clock::now();
    const auto x = inputTensor(images, index, 1, m->card.input);
    const double black = (0.0 - m->card.input.mean) / m->card.input.std;
    auto map = saliencyAtInput(*m->network, x, classIndex, method, black, multiLabel(),
                               m->card.gradCamFlipAverage);
    // Back into the image's own pixel geometry.
    if (map.size(0) != std::int64_t(images.height) || map.size(1) != std::int64_t(images.width)) {
        map = resizedMap(map, std::int64_t(images.height), std::int64_t(images.width))
                  .clamp(0.0, 1.0);
    }
    map = map.contiguous();
    SaliencyMap out;
    out.method = method;
    out.classIndex = classIndex;
    out.width = images.width;
    out.height = images.height;
    out.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
}

Faithfulness TorchModel::faithfulness(const ImageSplit& images, std::size_t index,
                                      const SaliencyMap& map, int steps) {
    return plainErrors([&] { return faithfulnessOf(images, index, map, steps); });
}

Faithfulness TorchModel::faithfulnessOf(const ImageSplit& images, std::size_t index,
                                        const SaliencyMap& map, int steps) {
    m->checkIndex(images, index, map.classIndex);
    if (map.width != images.width || map.height != images.height ||
        map.values.size() != map.width * map.height) {
        throw std::invalid_argument("the saliency map is not of this image");
    }
    const auto x = inputTensor(images, index, 1, m->card.input);
    auto values = torch::from_blob(const_cast<float*>(map.values.data()),
                                   {1, 1, std::int64_t(map.height), std::int64_t(map.width)},
                                   torch::kFloat32);
    values = resizedMap(values, x.size(2), x.size(3));
    return deletionInsertion(*m->network, x, values, map.classIndex, m->card.temperature,
                             std::max(2, steps), multiLabel());
}

void TorchModel::startTraining(double weightDecay, const std::vector<double>& classWeights,
                               unsigned seed) {
    if (m->card.format == "torchscript" || !m->network) {
        throw std::runtime_error("fine-tuning a TorchScript model is not supported");
    }
    torch::manual_seed(seed);
    m->generator = at::detail::createCPUGenerator(seed);
    for (auto& p : m->network->parameters()) {
        p.requires_grad_(true);
    }
    m->optimiser = std::make_unique<torch::optim::AdamW>(
        m->network->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(weightDecay));
    m->classWeights = torch::tensor(std::vector<float>(classWeights.begin(), classWeights.end()));
}

void TorchModel::distribute(DistributedGroup* group) {
    if (!m->network || m->card.format == "torchscript") {
        throw std::runtime_error("distributed training needs a built-in architecture");
    }
    m->group = group;
    setBatchNormGroup(*m->network, group);
    if (!m->distributed()) {
        return;
    }
    // Rank 0's weights and statistics everywhere (a parent or seed that differs would show).
    std::string bytes;
    if (group->rank() == 0) {
        torch::serialize::OutputArchive archive;
        m->network->save(archive);
        std::ostringstream out;
        archive.save_to(out);
        bytes = out.str();
    }
    group->broadcast(bytes, 0);
    if (group->rank() != 0) {
        plainErrors([&] {
            torch::NoGradGuard noGrad;
            std::istringstream in(bytes);
            torch::serialize::InputArchive archive;
            archive.load_from(in);
            m->network->load(archive);
            return 0;
        });
    }
    m->network->dropPlan();
}

double TorchModel::trainStep(const ImageSplit& split, const std::vector<std::size_t>& indices,
                             double learningRate) {
    return plainErrors([&] { return step(split, indices, learningRate); });
}

double TorchModel::step(const ImageSplit& split, const std::vector<std::size_t>& indices,
                        double learningRate) {
    if (!m->optimiser) {
        throw std::logic_error("trainStep before startTraining");
    }
    m->network->train();
    for (auto& group : m->optimiser->param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learningRate);
    }
    // Gather the batch's images (distributed: this process's share) into one contiguous split.
    const bool distributed = m->distributed();
    const auto [first, last] = m->share(indices.size());
    ImageSplit batch;
    batch.count = last - first;
    batch.channels = split.channels;
    batch.height = split.height;
    batch.width = split.width;
    batch.pixels.resize(batch.count * batch.imageBytes());
    const std::size_t classes = m->card.classNames.size();
    const bool multi = multiLabel();
    std::vector<std::int64_t> labels(batch.count);
    std::vector<float> targets(multi ? batch.count * classes : 0);
    for (std::size_t i = 0; i < batch.count; ++i) {
        const std::size_t image = indices[first + i];
        std::copy_n(split.pixels.data() + image * batch.imageBytes(), batch.imageBytes(),
                    batch.pixels.data() + i * batch.imageBytes());
        if (multi) {
            for (std::size_t k = 0; k < classes; ++k) {
                targets[i * classes + k] = float(split.labels[image * classes + k]);
            }
        } else {
            labels[i] = split.labels[image];
        }
    }
    const auto x = augment(inputTensor(batch, 0, batch.count, m->card.input), m->generator,
                           std::int64_t(indices.size()), std::int64_t(first));
    m->optimiser->zero_grad();
    namespace F = torch::nn::functional;
    const auto logits = m->network->forward(x);
    // Multi-label: one sigmoid per class, positives weighted by negatives / positives.
    torch::Tensor loss;
    if (!distributed) {
        loss = multi ? F::binary_cross_entropy_with_logits(
                           logits,
                           torch::tensor(targets).view(
                               {std::int64_t(batch.count), std::int64_t(classes)}),
                           F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(m->classWeights))
                     : F::cross_entropy(logits, torch::tensor(labels),
                                        F::CrossEntropyFuncOptions().weight(m->classWeights));
    } else {
        // The share's summed loss over what the mean over the whole global batch divides by:
        // the processes' losses (and gradients) add up to the global batch's.
        double denominator = 0.0;
        if (multi) {
            denominator = double(indices.size() * classes);
        } else {
            const float* weights = m->classWeights.data_ptr<float>();
            for (std::size_t image : indices) {
                denominator += double(weights[split.labels[image]]);
            }
        }
        loss = (multi ? F::binary_cross_entropy_with_logits(
                            logits,
                            torch::tensor(targets).view(
                                {std::int64_t(batch.count), std::int64_t(classes)}),
                            F::BinaryCrossEntropyWithLogitsFuncOptions()
                                .pos_weight(m->classWeights)
                                .reduction(torch::kSum))
                      : F::cross_entropy(logits, torch::tensor(labels),
                                         F::CrossEntropyFuncOptions()
                                             .weight(m->classWeights)
                                             .reduction(torch::kSum))) /
               std::max(denominator, 1e-12);
    }
    loss.backward();
    double value = loss.item<double>();
    if (distributed) {
        value = exchangeGradients(value);
    }
    m->optimiser->step();
    return value;
}

double TorchModel::exchangeGradients(double loss) {
    // One flat buffer (made once: fresh pages are slow here) holds every gradient and the loss.
    const auto parameters = m->network->parameters();
    std::int64_t total = 1;
    for (const auto& p : parameters) {
        total += p.numel();
    }
    if (!m->gradients.defined() || m->gradients.numel() != total) {
        m->gradients = torch::empty({total}, torch::kFloat32);
    }
    torch::NoGradGuard noGrad;
    std::int64_t offset = 0;
    for (const auto& p : parameters) {
        auto part = m->gradients.narrow(0, offset, p.numel());
        if (p.grad().defined()) {
            part.copy_(p.grad().reshape({-1}));
        } else {
            part.zero_();
        }
        offset += p.numel();
    }
    float* data = m->gradients.data_ptr<float>();
    data[offset] = float(loss);
    m->group->allreduceSum(data, std::size_t(total));
    offset = 0;
    for (auto& p : parameters) {
        const auto part = m->gradients.narrow(0, offset, p.numel()).view_as(p);
        if (p.grad().defined()) {
            p.mutable_grad().copy_(part);
        } else {
            p.mutable_grad() = part.clone();
        }
        offset += p.numel();
    }
    return double(data[offset]);
}

std::vector<double> TorchModel::logits(const ImageSplit& split) {
    torch::NoGradGuard noGrad;
    m->network->eval();
    std::vector<double> out;
    const auto [begin, end] = m->share(split.count);
    for (std::size_t first = begin; first < end; first += 256) {
        const std::size_t count = std::min<std::size_t>(256, end - first);
        const auto l = m->network->infer(inputTensor(split, first, count, m->card.input))
                           .to(torch::kFloat64)
                           .contiguous();
        out.insert(out.end(), l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
    }
    if (m->distributed()) {
        // Each process's logits in their place, zero elsewhere, summed: every logit everywhere.
        const std::size_t classes = m->card.classNames.size();
        std::vector<double> all(split.count * classes, 0.0);
        std::copy(out.begin(), out.end(), all.begin() + std::ptrdiff_t(begin * classes));
        m->group->allreduceSum(all.data(), all.size());
        return all;
    }
    return out;
}

void TorchModel::keep() {
    m->kept.clear();
    for (const auto& t : m->state()) {
        m->kept.push_back(t.detach().clone());
    }
}

void TorchModel::restoreKept() {
    torch::NoGradGuard noGrad;
    const auto now = m->state();
    for (std::size_t i = 0; i < now.size() && i < m->kept.size(); ++i) {
        now[i].copy_(m->kept[i]);
    }
    m->network->dropPlan();
}

void TorchModel::recomputeBatchNormStatistics(const ImageSplit& split, std::size_t maxImages) {
    // Every process of a distributed run computes the same statistics on the same images,
    // without exchanging anything.
    setBatchNormGroup(*m->network, nullptr);
    ml::recomputeBatchNormStatistics(*m->network, split, m->card.input, maxImages);
    setBatchNormGroup(*m->network, m->group);
}

void TorchModel::save(const std::string& dir) {
    std::filesystem::create_directories(dir);
    m->card.weightsSha256 = saveWeights(m->network, dir + "/" + m->card.weightsFile);
    m->card.write(dir);
}

void TorchModel::saveTrainingState(const std::string& path) {
    if (!m->optimiser) {
        throw std::logic_error("saveTrainingState before startTraining");
    }
    plainErrors([&] {
        torch::serialize::OutputArchive archive;
        torch::serialize::OutputArchive network;
        m->network->save(network);
        archive.write("network", network);
        torch::serialize::OutputArchive optimiser;
        m->optimiser->save(optimiser);
        archive.write("optimiser", optimiser);
        archive.write("keptCount", torch::tensor(std::int64_t(m->kept.size())));
        for (std::size_t i = 0; i < m->kept.size(); ++i) {
            archive.write("kept." + std::to_string(i), m->kept[i]);
        }
        archive.write("generator", m->generator.get_state());
        const std::string temporary = path + ".tmp";
        archive.save_to(temporary);
        syncToDisk(temporary);
        if (std::rename(temporary.c_str(), path.c_str()) != 0) {
            throw std::runtime_error(path + ": cannot be written");
        }
        return 0;
    });
}

void TorchModel::loadTrainingState(const std::string& path) {
    loadTrainingStateFrom(path, nullptr);
}

void TorchModel::loadTrainingStateBytes(const std::string& bytes, const std::string& name) {
    std::istringstream in(bytes);
    loadTrainingStateFrom(name, &in);
}

void TorchModel::loadTrainingStateFrom(const std::string& path, std::istream* bytes) {
    if (!m->optimiser) {
        throw std::logic_error("loadTrainingState before startTraining");
    }
    try {
        torch::NoGradGuard noGrad;
        torch::serialize::InputArchive archive;
        if (bytes != nullptr) {
            archive.load_from(*bytes);
        } else {
            archive.load_from(path);
        }
        torch::serialize::InputArchive network;
        archive.read("network", network);
        const std::string mismatch = compareWithArchive(*m->network, network, "");
        if (!mismatch.empty()) {
            throw std::runtime_error("it was saved by another architecture (" + mismatch + ")");
        }
        m->network->load(network);
        torch::serialize::InputArchive optimiser;
        archive.read("optimiser", optimiser);
        m->optimiser->load(optimiser);
        torch::Tensor count;
        archive.read("keptCount", count);
        m->kept.clear();
        for (std::int64_t i = 0; i < count.item<std::int64_t>(); ++i) {
            torch::Tensor t;
            archive.read("kept." + std::to_string(i), t);
            m->kept.push_back(t);
        }
        torch::Tensor generator;
        archive.read("generator", generator);
        m->generator.set_state(generator);
        m->network->dropPlan();
    } catch (const c10::Error& e) {
        throw std::runtime_error(path + ": not a training checkpoint Radiolens can read (" +
                                 std::string(e.what_without_backtrace()) + ")");
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

} // namespace radiolens::ml
