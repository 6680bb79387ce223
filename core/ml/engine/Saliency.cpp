#include "core/ml/engine/Saliency.h"

#include <algorithm>
#include <stdexcept>

namespace radiolens::ml {

namespace {

/// Scales `map` to [0, 1]; a flat map becomes all zeros.
torch::Tensor normalised(torch::Tensor map) {
    map = map.clamp_min(0);
    const double top = map.max().item<double>();
    return top > 0 ? map / top : torch::zeros_like(map);
}

torch::Tensor gradCam(Network& network, const torch::Tensor& x, int classIndex) {
    // Gradients of the class logit with respect to the last feature map only: about one extra
    // forward pass, where a full backward through the parameters costs about three.
    torch::AutoGradMode gradients(true);
    const auto input = x.detach().requires_grad_(true);
    const NetworkOutput out = network.forwardWithFeatures(input);
    const auto score = out.logits.index({0, classIndex});
    const auto grad = torch::autograd::grad({score}, {out.features})[0];
    const auto weights = grad.mean({2, 3}, true);                        // 1 x K x 1 x 1
    const auto cam = torch::relu((weights * out.features).sum(1, true)); // 1 x 1 x h x w
    namespace F = torch::nn::functional;
    const auto up =
        F::interpolate(cam.detach(), F::InterpolateFuncOptions()
                                         .size(std::vector<std::int64_t>{x.size(2), x.size(3)})
                                         .mode(torch::kBilinear)
                                         .align_corners(false));
    return normalised(up[0][0]);
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

torch::Tensor occlusion(Network& network, const torch::Tensor& x, int classIndex) {
    constexpr int kGrid = 14;
    torch::NoGradGuard noGrad;
    const auto size = x.size(2);
    const auto base = torch::softmax(network.forward(x), 1)[0][classIndex].item<double>();
    std::vector<double> drop(kGrid * kGrid);
    const int batch = 49;
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
        const auto p = torch::softmax(network.forward(occluded), 1)
                           .index({torch::indexing::Slice(), classIndex})
                           .contiguous();
        for (int i = 0; i < count; ++i) {
            drop[std::size_t(first + i)] = base - p[i].item<double>();
        }
    }
    const auto grid =
        torch::tensor(std::vector<float>(drop.begin(), drop.end())).view({1, 1, kGrid, kGrid});
    namespace F = torch::nn::functional;
    const auto up = F::interpolate(grid, F::InterpolateFuncOptions()
                                             .size(std::vector<std::int64_t>{size, size})
                                             .mode(torch::kBilinear)
                                             .align_corners(false));
    return normalised(up[0][0]);
}

} // namespace

torch::Tensor saliencyAtInput(Network& network, const torch::Tensor& x, int classIndex,
                              SaliencyMethod method, double blackValue) {
    network.eval();
    switch (method) {
    case SaliencyMethod::GradCam:
        return gradCam(network, x, classIndex);
    case SaliencyMethod::IntegratedGradients:
        return integratedGradients(network, x, classIndex, blackValue);
    case SaliencyMethod::Occlusion:
        return occlusion(network, x, classIndex);
    }
    throw std::invalid_argument("unknown saliency method");
}

Faithfulness deletionInsertion(Network& network, const torch::Tensor& x, const torch::Tensor& map,
                               int classIndex, double temperature, int steps) {
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
        const auto p = torch::softmax(network.forward(torch::cat(batch, 0)) / temperature, 1)
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

} // namespace radiolens::ml
