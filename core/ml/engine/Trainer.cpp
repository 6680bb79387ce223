#include "core/ml/engine/Trainer.h"

#include "core/ml/Metrics.h"
#include "core/ml/engine/ModelIo.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace radiolens::ml {

namespace {

using Clock = std::chrono::steady_clock;

/// Mean and standard deviation of the training pixels in [0, 1], per dataset.
std::pair<double, double> pixelStatistics(const ImageSplit& split) {
    double sum = 0.0, sumSquares = 0.0;
    for (std::uint8_t p : split.pixels) {
        const double v = p / 255.0;
        sum += v;
        sumSquares += v * v;
    }
    const double n = std::max<double>(1.0, double(split.pixels.size()));
    const double mean = sum / n;
    return {mean, std::sqrt(std::max(1e-12, sumSquares / n - mean * mean))};
}

/// Random affine warps and intensity jitter of a normalised batch (N x C x H x W).
torch::Tensor augment(const torch::Tensor& x, torch::Generator& generator) {
    const auto n = x.size(0);
    const auto uniform = [&](double lo, double hi) {
        return torch::rand({n}, generator, torch::kFloat32) * (hi - lo) + lo;
    };
    const auto angle = uniform(-10.0, 10.0) * (M_PI / 180.0);
    const auto scale = uniform(0.9, 1.1);
    const auto tx = uniform(-0.08, 0.08) * 2.0; // grid units: the image spans [-1, 1]
    const auto ty = uniform(-0.08, 0.08) * 2.0;
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

/// Logits of every image of `split` (eval mode, no gradients).
torch::Tensor allLogits(Network& network, const ImageSplit& split, const InputSpec& input) {
    torch::NoGradGuard noGrad;
    network.eval();
    std::vector<torch::Tensor> parts;
    for (std::size_t first = 0; first < split.count; first += 256) {
        const std::size_t count = std::min<std::size_t>(256, split.count - first);
        parts.push_back(network.forward(inputTensor(split, first, count, input)));
    }
    return torch::cat(parts, 0);
}

std::vector<double> probabilities(const torch::Tensor& logits, double temperature) {
    const auto p = torch::softmax(logits / temperature, 1).to(torch::kFloat64).contiguous();
    return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

/// The temperature that minimises the validation negative log-likelihood (golden-section
/// search on log T in [1/20, 20]).
double fitTemperature(const torch::Tensor& logits, const torch::Tensor& labels) {
    const auto nll = [&](double logT) {
        return torch::nn::functional::cross_entropy(logits / std::exp(logT), labels).item<double>();
    };
    double lo = std::log(0.05), hi = std::log(20.0);
    const double ratio = (std::sqrt(5.0) - 1.0) / 2.0;
    double a = hi - ratio * (hi - lo), b = lo + ratio * (hi - lo);
    double fa = nll(a), fb = nll(b);
    for (int i = 0; i < 40; ++i) {
        if (fa < fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = nll(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = nll(b);
        }
    }
    return std::exp((lo + hi) / 2.0);
}

/// Recomputes every BatchNorm's running mean and variance as exact averages over (up to 2,048 of)
/// the training images, without augmentation. The running averages kept during training lag behind
/// the weights; on short runs or small datasets that shifts every output in eval mode (a good
/// ranking, a bad threshold).
void recomputeBatchNormStatistics(Network& network, const ImageSplit& split,
                                  const InputSpec& input) {
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
        // 2,048 images estimate the statistics well; more only costs time.
        const std::size_t images = std::min<std::size_t>(split.count, 2048);
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

std::string timeStamp() {
    const std::time_t now = std::time(nullptr);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", std::gmtime(&now));
    return text;
}

} // namespace

ModelCard trainClassifier(const ImageDataset& data, const TrainOptions& options,
                          const TrainObserver& observer) {
    if (options.outDir.empty()) {
        throw std::runtime_error("no output folder for the model");
    }
    if (data.task == "multi-label") {
        throw std::runtime_error(data.source + ": multi-label training is not supported yet");
    }
    if (data.train.count == 0 || data.validation.count == 0) {
        throw std::runtime_error(data.source + ": training needs a training and a validation "
                                               "split with images");
    }
    const auto start = Clock::now();
    torch::manual_seed(options.seed);
    torch::Generator generator = at::detail::createCPUGenerator(options.seed);

    ModelCard card;
    ModelCard parent;
    std::shared_ptr<Network> network;
    if (!options.parent.empty()) {
        parent = ModelCard::read(options.parent);
        if (parent.classNames != data.classNames) {
            throw std::runtime_error(options.parent + ": its classes differ from the dataset's");
        }
        card = parent;
        card.parentVersion = parent.version;
        network = loadNetwork(parent, options.parent);
    } else {
        card.architecture = options.architecture.empty() ? "resnet18" : options.architecture;
        card.width = options.width > 0 ? options.width : 64;
        card.task = data.task;
        card.classNames = data.classNames;
        card.input.size = options.imageSize > 0 ? options.imageSize : int(data.train.height);
        card.input.channels = int(data.train.channels);
        card.input.preprocessing = "normalize";
        const auto [mean, std] = pixelStatistics(data.train);
        card.input.mean = mean;
        card.input.std = std;
        NetworkSpec spec;
        spec.architecture = card.architecture;
        spec.stem = options.stem;
        card.stem = stemFor(spec, card.input.size);
        network = networkFor(card);
    }
    const std::size_t slash = data.source.find_last_of('/');
    const std::string datasetName =
        slash == std::string::npos ? data.source : data.source.substr(slash + 1);
    card.id = !options.id.empty() ? options.id
              : !parent.id.empty()
                  ? parent.id
                  : datasetName.substr(0, datasetName.find('.')) + "-" + card.architecture;
    card.version = timeStamp();
    card.format = "torch-nn";
    card.temperature = 1.0;
    card.metrics.clear();

    const int epochs = options.epochs > 0 ? options.epochs : 12;
    const int batch = options.batchSize > 0 ? options.batchSize : 64;
    const double learningRate = options.learningRate > 0 ? options.learningRate : 2e-3;
    const int patience = options.patience > 0 ? options.patience : std::max(5, epochs / 3);
    const int classes = int(card.classNames.size());

    // Class-balanced weights: each class contributes equally to the loss.
    std::vector<double> counts(std::size_t(classes), 0.0);
    for (int label : data.train.labels) {
        if (label >= classes) {
            throw std::runtime_error(data.source + ": label " + std::to_string(label) +
                                     " outside the " + std::to_string(classes) + " classes");
        }
        counts[std::size_t(label)] += 1.0;
    }
    auto weights = torch::empty({classes});
    for (int k = 0; k < classes; ++k) {
        weights[k] = counts[std::size_t(k)] > 0
                         ? double(data.train.count) / (classes * counts[std::size_t(k)])
                         : 0.0;
    }
    const auto trainLabels = torch::tensor(
        std::vector<std::int64_t>(data.train.labels.begin(), data.train.labels.end()));
    const std::vector<int>& validationLabels = data.validation.labels;
    const auto validationTargets =
        torch::tensor(std::vector<std::int64_t>(validationLabels.begin(), validationLabels.end()));

    torch::optim::AdamW optimiser(network->parameters(),
                                  torch::optim::AdamWOptions(learningRate).weight_decay(5e-4));
    const std::size_t steps = (data.train.count + std::size_t(batch) - 1) / std::size_t(batch);
    const double totalSteps = double(steps) * epochs;
    std::size_t step = 0;

    TrainStatus status;
    status.epochs = epochs;
    status.validationAuc = std::numeric_limits<double>::quiet_NaN();
    double bestAuc = -1.0;
    int bestEpoch = 0;
    std::vector<torch::Tensor> best;
    const auto snapshot = [&network] {
        std::vector<torch::Tensor> copy;
        for (const auto& p : network->parameters()) {
            copy.push_back(p.detach().clone());
        }
        for (const auto& b : network->buffers()) {
            copy.push_back(b.detach().clone());
        }
        return copy;
    };
    const auto seconds = [&start] {
        return std::chrono::duration<double>(Clock::now() - start).count();
    };

    for (int epoch = 1; epoch <= epochs; ++epoch) {
        network->train();
        const auto order = torch::randperm(std::int64_t(data.train.count), generator);
        double lossSum = 0.0;
        std::size_t seen = 0;
        status.epoch = epoch;
        status.epochEnded = false;
        for (std::size_t b = 0; b < steps; ++b, ++step) {
            // Warm-up for the first epoch, then cosine decay to zero.
            const double warm = double(steps);
            const double rate = step < warm
                                    ? learningRate * double(step + 1) / warm
                                    : learningRate * 0.5 *
                                          (1.0 + std::cos(M_PI * (double(step) - warm) /
                                                          std::max(1.0, totalSteps - warm)));
            for (auto& group : optimiser.param_groups()) {
                static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
            }
            const std::int64_t first = std::int64_t(b) * batch;
            const std::int64_t count =
                std::min<std::int64_t>(batch, std::int64_t(data.train.count) - first);
            const auto index = order.slice(0, first, first + count);
            // Gather the batch's images into one contiguous split view.
            ImageSplit picked;
            picked.count = std::size_t(count);
            picked.channels = data.train.channels;
            picked.height = data.train.height;
            picked.width = data.train.width;
            picked.pixels.resize(picked.count * picked.imageBytes());
            const auto* indices = index.data_ptr<std::int64_t>();
            for (std::int64_t i = 0; i < count; ++i) {
                std::copy_n(data.train.pixels.data() +
                                std::size_t(indices[i]) * picked.imageBytes(),
                            picked.imageBytes(),
                            picked.pixels.data() + std::size_t(i) * picked.imageBytes());
            }
            const auto x = augment(inputTensor(picked, 0, picked.count, card.input), generator);
            const auto y = trainLabels.index_select(0, index);
            optimiser.zero_grad();
            const auto loss = torch::nn::functional::cross_entropy(
                network->forward(x), y,
                torch::nn::functional::CrossEntropyFuncOptions().weight(weights));
            loss.backward();
            optimiser.step();
            lossSum += loss.item<double>() * double(count);
            seen += std::size_t(count);
            status.trainLoss = lossSum / double(seen);
            status.fraction = double(step + 1) / totalSteps;
            status.seconds = seconds();
            if (observer && !observer(status)) {
                throw std::runtime_error("cancelled");
            }
        }
        const auto logits = allLogits(*network, data.validation, card.input);
        const ModelMetrics m =
            classificationMetrics(probabilities(logits, 1.0), classes, validationLabels);
        status.validationAuc = m.auc;
        if (m.auc > bestAuc) {
            bestAuc = m.auc;
            bestEpoch = epoch;
            best = snapshot();
        }
        status.bestValidationAuc = bestAuc;
        status.epochEnded = true;
        status.seconds = seconds();
        if (observer && !observer(status)) {
            throw std::runtime_error("cancelled");
        }
        if (epoch - bestEpoch >= patience) {
            break;
        }
    }
    // The best epoch's weights, then calibration on validation.
    {
        torch::NoGradGuard noGrad;
        std::size_t i = 0;
        for (auto& p : network->parameters()) {
            p.copy_(best[i++]);
        }
        for (auto& b : network->buffers()) {
            b.copy_(best[i++]);
        }
    }
    recomputeBatchNormStatistics(*network, data.train, card.input);
    const auto logits = allLogits(*network, data.validation, card.input);
    card.temperature = fitTemperature(logits, validationTargets);
    card.metrics["validation"] =
        classificationMetrics(probabilities(logits, card.temperature), classes, validationLabels);

    card.training["dataset"] = datasetName;
    card.training["trainImages"] = std::to_string(data.train.count);
    card.training["validationImages"] = std::to_string(data.validation.count);
    card.training["epochs"] = std::to_string(status.epoch);
    card.training["bestEpoch"] = std::to_string(bestEpoch);
    card.training["seconds"] = std::to_string(int(std::lround(seconds())));
    card.training["recipe"] = "AdamW lr " + std::to_string(learningRate) + ", batch " +
                              std::to_string(batch) +
                              ", cosine, class-balanced, affine+intensity augmentation, seed " +
                              std::to_string(options.seed);
    card.training["threads"] = std::to_string(torch::get_num_threads());

    std::filesystem::create_directories(options.outDir);
    card.weightsFile = "model.pt";
    card.weightsSha256 = saveWeights(network, options.outDir + "/" + card.weightsFile);
    card.write(options.outDir);
    return card;
}

} // namespace radiolens::ml
