// The GRU-D ensemble risk forecaster in LibTorch: network, training, calibration, inference and
// integrated gradients over time.

#include "core/ml/engine/Forecasting.h"

#include "core/domain/JsonValue.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"
#include "core/ml/ForecastInputs.h"
#include "core/ml/Metrics.h"
#include "core/ml/engine/Trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace radiolens::ml {

namespace {

using Clock = std::chrono::steady_clock;
using torch::indexing::Slice;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// K GRU-D networks with their weights stacked along a leading member dimension, so that one
/// batched matrix product runs every member.
///
/// Inputs: values, masks, deltas and last values N x T x V (ForecastInputs), statics N x S.
/// Output: logits K x N x T, the logit at hour t reading the data of hours 0..t.
struct GruDEnsembleImpl : torch::nn::Module {
    GruDEnsembleImpl(int members, int series, int statics, int hidden, double dropout)
        : K(members)
        , V(series)
        , S(statics)
        , H(hidden)
        , dropoutRate(dropout) {
        const double bound = 1.0 / std::sqrt(double(H));
        const auto uniform = [](std::vector<std::int64_t> shape, double lo, double hi) {
            return torch::empty(shape).uniform_(lo, hi);
        };
        // Decays start gentle (exp(-0.05 per hour) or slower) and are learned.
        decayXWeight = register_parameter("decay_x_weight", uniform({K, 1, 1, V}, 0.0, 0.1));
        decayXBias = register_parameter("decay_x_bias", torch::zeros({K, 1, 1, V}));
        decayHWeight =
            register_parameter("decay_h_weight", uniform({K, V, H}, 0.0, 0.1 / std::sqrt(V)));
        decayHBias = register_parameter("decay_h_bias", torch::zeros({K, 1, H}));
        inputWeight = register_parameter("input_weight", uniform({K, 2 * V, 3 * H}, -bound, bound));
        staticWeight = register_parameter("static_weight", uniform({K, S, 3 * H}, -bound, bound));
        inputBias = register_parameter("input_bias", uniform({K, 1, 3 * H}, -bound, bound));
        hiddenWeight = register_parameter("hidden_weight", uniform({K, H, 3 * H}, -bound, bound));
        hiddenBias = register_parameter("hidden_bias", uniform({K, 1, 3 * H}, -bound, bound));
        initWeight = register_parameter("init_weight", uniform({K, S, H}, -bound, bound));
        initBias = register_parameter("init_bias", torch::zeros({K, 1, H}));
        outWeight = register_parameter("out_weight", uniform({K, H, 1}, -bound, bound));
        outStatic = register_parameter("out_static", uniform({K, S, 1}, -bound, bound));
        outBias = register_parameter("out_bias", torch::zeros({K, 1, 1}));
    }

    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& m, const torch::Tensor& d,
                          const torch::Tensor& xl, const torch::Tensor& s) {
        const std::int64_t N = x.size(0);
        const std::int64_t T = x.size(1);
        // Input decay: an unmeasured value moves from its last measurement towards the mean
        // (0 after scaling) as the hours since the measurement grow.
        const auto gammaX = torch::exp(-torch::relu(d.unsqueeze(0) * decayXWeight + decayXBias));
        const auto xHat = m * x + (1 - m) * gammaX * xl; // K x N x T x V
        const auto inputs =
            torch::cat({xHat, m.unsqueeze(0).expand({K, N, T, V})}, -1).reshape({K, N * T, 2 * V});
        const auto sK = s.unsqueeze(0).expand({K, N, S});
        const auto gatesIn = torch::bmm(inputs, inputWeight).view({K, N, T, 3 * H}) +
                             torch::baddbmm(inputBias, sK, staticWeight).unsqueeze(2);
        // Hidden decay: the state forgets as the hours since the last measurements grow.
        const auto gammaH =
            torch::exp(
                -torch::relu(torch::matmul(d.reshape({1, N * T, V}), decayHWeight) + decayHBias))
                .view({K, N, T, H});
        auto h = torch::tanh(torch::baddbmm(initBias, sK, initWeight)); // K x N x H
        // Split once (one gradient copy in backward), not a select per hour (a full-size
        // gradient per hour: T times the memory traffic).
        const auto gatesInSteps = gatesIn.unbind(2);
        const auto gammaHSteps = gammaH.unbind(2);
        std::vector<torch::Tensor> states;
        states.reserve(std::size_t(T));
        for (std::int64_t t = 0; t < T; ++t) {
            h = h * gammaHSteps[std::size_t(t)];
            const auto gi = gatesInSteps[std::size_t(t)].chunk(3, -1);
            const auto gh = torch::baddbmm(hiddenBias, h, hiddenWeight).chunk(3, -1);
            const auto r = torch::sigmoid(gi[0] + gh[0]);
            const auto z = torch::sigmoid(gi[1] + gh[1]);
            const auto n = torch::tanh(gi[2] + r * gh[2]);
            h = n + z * (h - n);
            states.push_back(h);
        }
        auto all = torch::stack(states, 2); // K x N x T x H
        if (is_training() && dropoutRate > 0) {
            // One mask per stay for all hours (variational dropout, Gal and Ghahramani 2016):
            // the same units are off along the whole trajectory, and 1/T of the random numbers.
            const auto keep = torch::empty({K, N, 1, H}).bernoulli_(1.0 - dropoutRate);
            all = all * keep / (1.0 - dropoutRate);
        }
        return torch::bmm(all.reshape({K, N * T, H}), outWeight).view({K, N, T}) +
               torch::baddbmm(outBias, sK, outStatic); // K x N x 1 broadcast over T
    }

    std::int64_t K, V, S, H;
    double dropoutRate;
    torch::Tensor decayXWeight, decayXBias, decayHWeight, decayHBias;
    torch::Tensor inputWeight, staticWeight, inputBias, hiddenWeight, hiddenBias;
    torch::Tensor initWeight, initBias, outWeight, outStatic, outBias;
};
TORCH_MODULE(GruDEnsemble);

/// ForecastInputs as tensors (copies).
struct InputTensors {
    torch::Tensor values, masks, deltas, lastValues, statics, outcomes;

    explicit InputTensors(const ForecastInputs& in) {
        const auto n = std::int64_t(in.count);
        const std::vector<std::int64_t> grid = {n, in.hours, in.series};
        const auto copy = [](const std::vector<float>& v, std::vector<std::int64_t> shape) {
            return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
        };
        values = copy(in.values, grid);
        masks = copy(in.masks, grid);
        deltas = copy(in.deltas, grid);
        lastValues = copy(in.lastValues, grid);
        statics = copy(in.staticValues, {n, in.statics});
        outcomes = copy(in.outcomes, {n});
    }
};

GruDEnsemble makeNetwork(const ForecastCard& card) {
    return GruDEnsemble(card.members, int(card.series.size()), int(forecastStaticFeatures().size()),
                        card.hidden, card.dropout);
}

/// Logits K x N x T of every stay of `in`, in batches (inference mode).
torch::Tensor ensembleLogits(GruDEnsemble& net, const InputTensors& in, std::int64_t batch = 512) {
    torch::InferenceMode inference;
    std::vector<torch::Tensor> parts;
    const std::int64_t n = in.values.size(0);
    for (std::int64_t at = 0; at < n; at += batch) {
        const auto part = Slice(at, std::min(n, at + batch));
        parts.push_back(net->forward(in.values.index({part}), in.masks.index({part}),
                                     in.deltas.index({part}), in.lastValues.index({part}),
                                     in.statics.index({part})));
    }
    return parts.empty() ? torch::zeros({net->K, 0, in.values.size(1)}) : torch::cat(parts, 1);
}

std::vector<double> toVector(const torch::Tensor& t) {
    const auto c = t.to(torch::kFloat64).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

/// The weights of the loss over hours: the last hour counts as much as all hours together,
/// and hour t (0-based) within the trajectory by t + 1, so early hours, which know little,
/// weigh little.
torch::Tensor hourWeights(std::int64_t hours) {
    auto w = torch::arange(1, hours + 1, torch::kFloat32);
    w = w / w.sum() * 0.5;
    w[hours - 1] += 0.5;
    return w;
}

/// The validation risk that maximises min(sensitivity, positive predictive value).
double bestAlertThreshold(const std::vector<double>& risk, const std::vector<bool>& died) {
    std::vector<std::size_t> order(risk.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return risk[a] > risk[b]; });
    const auto positives = double(std::count(died.begin(), died.end(), true));
    double best = -1.0;
    double threshold = 0.5;
    std::size_t truePositives = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
        truePositives += died[order[i]] ? 1 : 0;
        if (i + 1 < order.size() && risk[order[i + 1]] == risk[order[i]]) {
            continue;
        }
        const double score =
            std::min(double(truePositives) / positives, double(truePositives) / double(i + 1));
        if (score > best) {
            best = score;
            threshold = risk[order[i]];
        }
    }
    return threshold;
}

std::string staysJson(const std::vector<std::string>& train,
                      const std::vector<std::string>& validation) {
    std::ostringstream out;
    JsonWriter json(out, false);
    json.beginObject();
    for (const auto& [name, ids] : {std::pair{"train", &train}, {"validation", &validation}}) {
        json.key(name).beginArray();
        for (const auto& id : *ids) {
            json.value(id);
        }
        json.endArray();
    }
    json.endObject();
    out << '\n';
    return out.str();
}

double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

class TorchForecaster final : public Forecaster {
public:
    TorchForecaster(ForecastCard card, GruDEnsemble network)
        : m_card(std::move(card))
        , m_network(std::move(network)) {
        m_network->eval();
        for (auto& p : m_network->parameters()) {
            p.requires_grad_(false); // attributions need gradients of the inputs only
        }
    }

    const ForecastCard& card() const override { return m_card; }

    std::vector<RiskTrajectory> forecast(const std::vector<const PatientStay*>& stays) override {
        const ForecastInputs in = encodeForecastInputs(stays, m_card);
        const InputTensors tensors(in);
        const auto logits = ensembleLogits(m_network, tensors); // K x N x T
        const auto mean = logits.mean(0);
        const auto spread =
            m_card.members > 1 ? logits.std(0, /*unbiased=*/true) : torch::zeros_like(mean);
        const std::vector<double> z = toVector(mean);
        const std::vector<double> sd = toVector(spread);
        std::vector<RiskTrajectory> out(stays.size());
        const auto hours = std::size_t(m_card.hours);
        for (std::size_t i = 0; i < stays.size(); ++i) {
            RiskTrajectory& r = out[i];
            r.stayId = stays[i]->id;
            r.hours.resize(hours);
            r.risk.resize(hours);
            r.low.resize(hours);
            r.high.resize(hours);
            r.uncalibrated.resize(hours);
            for (std::size_t h = 0; h < hours; ++h) {
                const double a = m_card.calibrationSlope[h];
                const double b = m_card.calibrationIntercept[h];
                const double zi = z[i * hours + h];
                const double band = 2.0 * sd[i * hours + h];
                r.hours[h] = double(h + 1);
                r.risk[h] = sigmoid(a * zi + b);
                r.uncalibrated[h] = sigmoid(zi);
                const double lo = sigmoid(a * (zi - band) + b);
                const double hi = sigmoid(a * (zi + band) + b);
                r.low[h] = std::min(lo, hi);
                r.high[h] = std::max(lo, hi);
            }
        }
        if (stays.size() == 1) {
            out[0].valuesAfterHorizon = in.valuesAfterHorizon;
        }
        return out;
    }

    RiskExplanation explain(const PatientStay& stay, int hour, int steps) override {
        if (hour < 1 || hour > m_card.hours) {
            throw std::invalid_argument("the hour must be 1 to " + std::to_string(m_card.hours));
        }
        steps = std::clamp(steps, 4, 256);
        const auto start = Clock::now();
        const ForecastInputs in = encodeForecastInputs({&stay}, m_card);
        const InputTensors t(in);
        const std::int64_t T = in.hours;
        const std::int64_t V = in.series;
        // The hour each last value was measured at (T, a zero row, before the first), so that
        // a carried-forward value's effect is credited to its measurement.
        auto lastIndex = torch::full({1, T, V}, T, torch::kLong);
        {
            auto idx = lastIndex.accessor<std::int64_t, 3>();
            auto mask = t.masks.accessor<float, 3>();
            for (std::int64_t v = 0; v < V; ++v) {
                std::int64_t last = T;
                for (std::int64_t h = 0; h < T; ++h) {
                    if (mask[0][h][v] > 0) {
                        last = h;
                    }
                    idx[0][h][v] = last;
                }
            }
        }
        // Points on the straight path from the baseline (alpha 0) to the stay (alpha 1):
        // midpoints for the integral, then the two ends.
        const std::int64_t B = steps + 2;
        auto alpha = (torch::arange(steps, torch::kFloat32) + 0.5) / steps;
        alpha = torch::cat({alpha, torch::tensor({0.0f, 1.0f})});
        auto x = (alpha.view({B, 1, 1}) * t.values).detach().requires_grad_(true);
        auto s = (alpha.view({B, 1}) * t.statics).detach().requires_grad_(true);
        const auto padded = torch::cat({x, torch::zeros({B, 1, V})}, 1);
        const auto xl = torch::gather(padded, 1, lastIndex.expand({B, T, V}));
        const auto logits =
            m_network->forward(x, t.masks.expand({B, T, V}), t.deltas.expand({B, T, V}), xl, s);
        const auto h = std::size_t(hour - 1);
        const auto z = logits.select(2, std::int64_t(h)).mean(0); // B
        const auto risk =
            torch::sigmoid(m_card.calibrationSlope[h] * z + m_card.calibrationIntercept[h]);
        const auto grads = torch::autograd::grad({risk.sum()}, {x, s});
        const auto path = Slice(0, steps);
        const auto attrX = (t.values[0] * grads[0].index({path}).mean(0)).contiguous();
        const auto attrS = (t.statics[0] * grads[1].index({path}).mean(0)).contiguous();

        RiskExplanation e;
        e.hour = hour;
        e.risk = risk[B - 1].item<double>();
        e.baselineRisk = risk[B - 2].item<double>();
        double sum = 0.0;
        const auto ax = attrX.accessor<float, 2>();
        for (std::int64_t v = 0; v < V; ++v) {
            RiskContribution c;
            c.variable = m_card.series[std::size_t(v)].variable;
            c.byHour.resize(std::size_t(hour));
            for (int hh = 0; hh < hour; ++hh) {
                c.byHour[std::size_t(hh)] = ax[hh][v];
                c.total += ax[hh][v];
            }
            sum += c.total;
            e.contributions.push_back(std::move(c));
        }
        const auto as = attrS.accessor<float, 1>();
        const auto& names = forecastStaticFeatures();
        for (std::size_t i = 0; i < names.size(); ++i) {
            RiskContribution c;
            c.variable = names[i];
            c.isStatic = true;
            c.total = as[std::int64_t(i)];
            sum += c.total;
            e.contributions.push_back(std::move(c));
        }
        std::stable_sort(e.contributions.begin(), e.contributions.end(),
                         [](const RiskContribution& a, const RiskContribution& b) {
                             return std::abs(a.total) > std::abs(b.total);
                         });
        e.completenessError = std::abs(sum - (e.risk - e.baselineRisk));
        e.seconds = secondsSince(start);
        return e;
    }

private:
    ForecastCard m_card;
    GruDEnsemble m_network;
};

/// Checks that every parameter of `net` has the shape a network built from `card` has (the
/// archive replaced them) and names the first that differs.
void checkShapes(GruDEnsemble& net, const ForecastCard& card, const std::string& path) {
    GruDEnsemble fresh = makeNetwork(card);
    const auto expected = fresh->named_parameters();
    for (const auto& p : net->named_parameters()) {
        const auto* e = expected.find(p.key());
        if (e == nullptr || !e->sizes().equals(p.value().sizes())) {
            throw std::runtime_error(path + ": '" + p.key() +
                                     "' does not have the shape the card describes");
        }
    }
}

} // namespace

ForecastCard trainForecaster(const std::vector<const PatientStay*>& all,
                             const ForecastTrainOptions& options,
                             const ForecastObserver& observer) {
    const auto start = Clock::now();
    if (options.outDir.empty()) {
        throw std::runtime_error("no output folder given for the model");
    }
    if (options.hours < 1 || options.hidden < 1 || options.members < 1 || options.epochs < 1 ||
        options.batchSize < 1 || !(options.learningRate > 0) || options.dropout < 0 ||
        options.dropout >= 1 || !(options.validationFraction > 0) ||
        options.validationFraction >= 1) {
        throw std::runtime_error("training options out of range");
    }
    std::vector<const PatientStay*> train, validation;
    std::size_t unknown = 0;
    for (const PatientStay* stay : all) {
        if (stay->outcome != 0 && stay->outcome != 1) {
            ++unknown;
            continue;
        }
        (stayInPart(stay->id, options.validationSalt, options.validationFraction) ? validation
                                                                                  : train)
            .push_back(stay);
    }
    const auto deaths = [](const std::vector<const PatientStay*>& stays) {
        return std::size_t(std::count_if(stays.begin(), stays.end(),
                                         [](const PatientStay* s) { return s->outcome == 1; }));
    };
    for (const auto& [name, part] : {std::pair{"training", &train}, {"validation", &validation}}) {
        const std::size_t d = deaths(*part);
        if (d == 0 || d == part->size()) {
            throw std::runtime_error(std::string("the ") + name + " part (" +
                                     std::to_string(part->size()) +
                                     " stays with a known outcome) needs both outcomes; give "
                                     "more stays or their outcomes");
        }
    }

    torch::manual_seed(options.seed);
    ForecastCard card;
    card.id = options.id;
    card.version = timeStamp();
    card.hours = options.hours;
    card.hidden = options.hidden;
    card.members = options.members;
    card.dropout = options.dropout;
    fitInputScaling(train, card);
    const InputTensors trainData(encodeForecastInputs(train, card));
    const InputTensors validationData(encodeForecastInputs(validation, card));
    std::vector<bool> validationDied;
    for (const PatientStay* stay : validation) {
        validationDied.push_back(stay->outcome == 1);
    }

    GruDEnsemble net = makeNetwork(card);
    torch::optim::Adam optimizer(net->parameters(),
                                 torch::optim::AdamOptions(options.learningRate));
    const auto weights = hourWeights(card.hours);
    const auto n = std::int64_t(train.size());
    const std::int64_t batches = (n + options.batchSize - 1) / options.batchSize;
    ForecastTrainStatus status;
    status.epochs = options.epochs;
    status.validationAuroc = std::numeric_limits<double>::quiet_NaN();
    std::vector<torch::Tensor> best;
    int bestEpoch = 0;
    int epochsRun = 0;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        net->train();
        status.epoch = epoch;
        status.epochEnded = false;
        const auto order = torch::randperm(n, torch::kLong);
        double lossSum = 0.0;
        for (std::int64_t b = 0; b < batches; ++b) {
            const auto idx =
                order.slice(0, b * options.batchSize, std::min(n, (b + 1) * options.batchSize));
            const auto logits = net->forward(
                trainData.values.index_select(0, idx), trainData.masks.index_select(0, idx),
                trainData.deltas.index_select(0, idx), trainData.lastValues.index_select(0, idx),
                trainData.statics.index_select(0, idx)); // K x B x T
            const auto target =
                trainData.outcomes.index_select(0, idx).view({1, -1, 1}).expand_as(logits);
            const auto perHour = torch::binary_cross_entropy_with_logits(logits, target, {}, {},
                                                                         torch::Reduction::None);
            const auto loss = (perHour.mean(std::vector<std::int64_t>{0, 1}) * weights).sum() *
                              double(card.members);
            optimizer.zero_grad();
            loss.backward();
            torch::nn::utils::clip_grad_norm_(net->parameters(), 5.0);
            optimizer.step();
            lossSum += loss.item<double>() / card.members;
            status.trainLoss = lossSum / double(b + 1);
            status.fraction =
                (double(epoch - 1) + double(b + 1) / double(batches)) / double(options.epochs);
            status.seconds = secondsSince(start);
            if (observer && !observer(status)) {
                throw std::runtime_error("cancelled");
            }
        }
        net->eval();
        const auto logits = ensembleLogits(net, validationData);
        const auto finalLogit = logits.select(2, card.hours - 1).mean(0);
        status.validationAuroc = rocAuc(toVector(finalLogit), validationDied);
        epochsRun = epoch;
        if (best.empty() || status.validationAuroc > status.bestValidationAuroc) {
            status.bestValidationAuroc = status.validationAuroc;
            bestEpoch = epoch;
            best.clear();
            for (const auto& p : net->parameters()) {
                best.push_back(p.detach().clone());
            }
        }
        status.epochEnded = true;
        status.seconds = secondsSince(start);
        if (observer && !observer(status)) {
            throw std::runtime_error("cancelled");
        }
        if (epoch - bestEpoch >= options.patience) {
            break;
        }
    }
    {
        torch::NoGradGuard noGrad;
        auto params = net->parameters();
        for (std::size_t i = 0; i < params.size(); ++i) {
            params[i].copy_(best[i]);
        }
    }
    net->eval();

    // Calibration per hour on validation, then the validation figures of the calibrated risk.
    const auto logits = ensembleLogits(net, validationData).mean(0); // N x T
    std::vector<double> finalRisk;
    for (int h = 0; h < card.hours; ++h) {
        const std::vector<double> z = toVector(logits.select(1, h));
        const LogisticCalibration c = fitLogisticCalibration(z, validationDied);
        card.calibrationSlope.push_back(c.slope);
        card.calibrationIntercept.push_back(c.intercept);
        if (h + 1 == card.hours) {
            for (double zi : z) {
                finalRisk.push_back(sigmoid(c.slope * zi + c.intercept));
            }
        }
    }
    card.alertThreshold = bestAlertThreshold(finalRisk, validationDied);
    card.metrics["validation"] = riskMetrics(finalRisk, validationDied, 1000, options.seed);

    card.training["data"] = options.dataDescription;
    card.training["stays"] = std::to_string(all.size());
    card.training["staysWithoutOutcome"] = std::to_string(unknown);
    card.training["trainStays"] = std::to_string(train.size());
    card.training["trainDeaths"] = std::to_string(deaths(train));
    card.training["validationStays"] = std::to_string(validation.size());
    card.training["validationDeaths"] = std::to_string(deaths(validation));
    card.training["epochs"] = std::to_string(epochsRun);
    card.training["bestEpoch"] = std::to_string(bestEpoch);
    card.training["seed"] = std::to_string(options.seed);
    card.training["threads"] = std::to_string(torch::get_num_threads());
    card.training["learningRate"] = std::to_string(options.learningRate);
    card.training["batchSize"] = std::to_string(options.batchSize);
    card.training["seconds"] = std::to_string(secondsSince(start));

    std::filesystem::create_directories(options.outDir);
    const std::string weightsPath = options.outDir + "/" + card.weightsFile;
    {
        torch::serialize::OutputArchive archive;
        net->save(archive);
        archive.save_to(weightsPath + ".tmp");
        if (std::rename((weightsPath + ".tmp").c_str(), weightsPath.c_str()) != 0) {
            throw std::runtime_error(weightsPath + ": cannot be written");
        }
    }
    card.weightsSha256 = Sha256::ofFile(weightsPath);
    std::vector<std::string> trainIds, validationIds;
    for (const PatientStay* s : train) {
        trainIds.push_back(s->id);
    }
    for (const PatientStay* s : validation) {
        validationIds.push_back(s->id);
    }
    const std::string staysPath = options.outDir + "/" + card.staysFile;
    writeFileAtomically(staysPath, staysJson(trainIds, validationIds));
    card.staysSha256 = Sha256::ofFile(staysPath);
    card.write(options.outDir);
    return card;
}

std::unique_ptr<Forecaster> loadForecaster(const std::string& dir) {
    ForecastCard card = ForecastCard::read(dir);
    for (const auto& [file, sha] :
         {std::pair{card.weightsFile, card.weightsSha256}, {card.staysFile, card.staysSha256}}) {
        const std::string path = dir + "/" + file;
        if (!std::filesystem::exists(path)) {
            throw std::runtime_error(path + ": missing (the model folder is incomplete)");
        }
        if (Sha256::ofFile(path) != sha) {
            throw std::runtime_error(path + ": its sha256 does not match the card (the file was "
                                            "changed or damaged)");
        }
    }
    GruDEnsemble net = makeNetwork(card);
    const std::string path = dir + "/" + card.weightsFile;
    try {
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        net->load(archive);
    } catch (const c10::Error& e) {
        throw std::runtime_error(path + ": not weights of this forecaster (" +
                                 e.what_without_backtrace() + ")");
    }
    checkShapes(net, card, path);
    return std::make_unique<TorchForecaster>(std::move(card), std::move(net));
}

} // namespace radiolens::ml
