// The training loop, in plain C++: schedule, batches, model selection, calibration and the
// card. The network's side (forward, backward, augmentation) is TorchModel's.

#include "core/ml/engine/Trainer.h"

#include "core/domain/JsonFields.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"
#include "core/ml/Metrics.h"
#include "core/ml/engine/Distributed.h"
#include "core/ml/engine/TorchModel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <ctime>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>

namespace radiolens::ml {

namespace {

using Clock = std::chrono::steady_clock;

/// Mean and standard deviation of the training pixels in [0, 1].
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

/// softmax(logits / temperature) per row; independent sigmoids when `multiLabel`.
std::vector<double> probabilities(const std::vector<double>& logits, int classes,
                                  double temperature, bool multiLabel = false) {
    std::vector<double> p(logits.size());
    if (multiLabel) {
        for (std::size_t i = 0; i < logits.size(); ++i) {
            p[i] = 1.0 / (1.0 + std::exp(-logits[i] / temperature));
        }
        return p;
    }
    for (std::size_t row = 0; row < logits.size(); row += std::size_t(classes)) {
        double top = -std::numeric_limits<double>::infinity();
        for (int k = 0; k < classes; ++k) {
            top = std::max(top, logits[row + std::size_t(k)] / temperature);
        }
        double sum = 0.0;
        for (int k = 0; k < classes; ++k) {
            p[row + std::size_t(k)] = std::exp(logits[row + std::size_t(k)] / temperature - top);
            sum += p[row + std::size_t(k)];
        }
        for (int k = 0; k < classes; ++k) {
            p[row + std::size_t(k)] /= sum;
        }
    }
    return p;
}

/// Mean negative log-likelihood of `labels` under softmax(logits / temperature); for
/// multi-label models the mean binary cross-entropy of every (image, class) label.
double negativeLogLikelihood(const std::vector<double>& logits, int classes,
                             const std::vector<int>& labels, double temperature, bool multiLabel) {
    const std::vector<double> p = probabilities(logits, classes, temperature, multiLabel);
    double sum = 0.0;
    if (multiLabel) {
        for (std::size_t i = 0; i < labels.size(); ++i) {
            sum -= std::log(std::max(1e-300, labels[i] != 0 ? p[i] : 1.0 - p[i]));
        }
        return sum / double(std::max<std::size_t>(1, labels.size()));
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
        sum -= std::log(std::max(1e-300, p[i * std::size_t(classes) + std::size_t(labels[i])]));
    }
    return sum / double(std::max<std::size_t>(1, labels.size()));
}

/// The temperature that minimises the validation negative log-likelihood (golden-section
/// search on log T in [1/20, 20]).
double fitTemperature(const std::vector<double>& logits, int classes,
                      const std::vector<int>& labels, bool multiLabel) {
    const auto nll = [&](double logT) {
        return negativeLogLikelihood(logits, classes, labels, std::exp(logT), multiLabel);
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

/// Everything a checkpoint must match to be resumed: the images and labels, the classes and
/// every option that shapes training.
std::string trainingFingerprint(const ImageDataset& data, const TrainOptions& o,
                                const ModelCard& start) {
    Sha256 hash;
    const auto text = [&hash](const std::string& t) {
        const std::string framed = std::to_string(t.size()) + ":" + t;
        hash.update(framed.data(), framed.size());
    };
    const auto split = [&](const ImageSplit& s) {
        text(std::to_string(s.count) + "x" + std::to_string(s.channels) + "x" +
             std::to_string(s.height) + "x" + std::to_string(s.width));
        hash.update(s.pixels.data(), s.pixels.size());
        hash.update(s.labels.data(), s.labels.size() * sizeof(int));
    };
    text(data.task);
    for (const std::string& name : data.classNames) {
        text(name);
    }
    split(data.train);
    split(data.validation);
    for (const std::string& t :
         {o.architecture, o.stem, o.pooling, o.parent, start.version, start.weightsSha256,
          std::to_string(o.width), std::to_string(o.gradCamFlipAverage), std::to_string(o.epochs),
          std::to_string(o.imageSize), std::to_string(o.batchSize), std::to_string(o.learningRate),
          std::to_string(o.patience), std::to_string(o.seed), o.selectionName}) {
        text(t);
    }
    return hash.hexDigest();
}

/// Where a run stood after an epoch, as checkpoint.json keeps it (the tensors are in `file`).
struct Checkpoint {
    std::string fingerprint;
    int epoch = 0;
    std::size_t step = 0;
    double bestScore = 0.0;
    double bestAuc = 0.0;
    int bestEpoch = 0;
    std::string random;   ///< the shuffling generator's state
    std::string file;     ///< epoch-N.pt beside checkpoint.json
    double seconds = 0.0; ///< training time up to this checkpoint, over every process
    std::vector<std::pair<double, double>> history; ///< per epoch: loss, validation AUC
};

/// A double as text that reads back to the same bits ("%a"): the best score decides which later
/// epoch is better, so a resumed run must compare with exactly what the uninterrupted run had.
std::string exactText(double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%a", value);
    return text;
}

double exactValue(const JsonFields& f, const JsonValue& root, const char* key) {
    const std::string text = f.text(root, key);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0') {
        f.fail(std::string("'") + key + "' is not a number");
    }
    return value;
}

void writeCheckpoint(const std::string& dir, const Checkpoint& c) {
    std::ostringstream out;
    JsonWriter json(out);
    json.beginObject()
        .field("format", "radiolens-training-checkpoint")
        .field("fingerprint", c.fingerprint)
        .field("epoch", c.epoch)
        .field("step", c.step)
        .field("bestScore", exactText(c.bestScore))
        .field("bestAuc", exactText(c.bestAuc))
        .field("bestEpoch", c.bestEpoch)
        .field("random", c.random)
        .field("file", c.file)
        .field("seconds", c.seconds)
        .key("history")
        .beginArray();
    for (const auto& [loss, auc] : c.history) {
        json.numbers({loss, auc});
    }
    json.endArray().endObject();
    out << "\n";
    writeFileAtomically(dir + "/checkpoint.json", out.str());
}

/// The checkpoint of checkpoint.json's `text` (from `path`, for messages). Throws
/// std::runtime_error naming the file when it is damaged.
Checkpoint parseCheckpoint(const std::string& text, const std::string& path) {
    const JsonFields f(path);
    const JsonValue root = f.parseObject(text);
    if (f.text(root, "format") != "radiolens-training-checkpoint") {
        f.fail("not a Radiolens training checkpoint");
    }
    Checkpoint c;
    c.fingerprint = f.text(root, "fingerprint");
    c.epoch = int(f.number(root, "epoch"));
    c.step = std::size_t(f.number(root, "step"));
    c.bestScore = exactValue(f, root, "bestScore");
    c.bestAuc = exactValue(f, root, "bestAuc");
    c.bestEpoch = int(f.number(root, "bestEpoch"));
    c.random = f.text(root, "random");
    c.file = f.text(root, "file");
    c.seconds = f.number(root, "seconds");
    const JsonValue& history = f.member(root, "history", "", JsonValue::Kind::Array);
    for (const JsonValue& item : history.items()) {
        if (!item.isArray() || item.items().size() != 2) {
            f.fail("'history' holds something else than [loss, AUC] pairs");
        }
        c.history.emplace_back(item.items()[0].asNumber(), item.items()[1].asNumber());
    }
    return c;
}

/// The checkpoint in `dir`, or nullopt when there is none. Throws std::runtime_error naming
/// the file when it is damaged.
std::optional<Checkpoint> readCheckpoint(const std::string& dir) {
    const std::string path = dir + "/checkpoint.json";
    if (!std::filesystem::exists(path)) {
        return std::nullopt;
    }
    return parseCheckpoint(readTextFile(path), path);
}

/// The processes of a distributed run, connected; nullptr for a run of one process. Throws
/// std::runtime_error for impossible settings and when the others do not come.
std::unique_ptr<DistributedGroup> joinRun(const TrainOptions& options) {
    if (options.worldSize < 1 || options.rank < 0 || options.rank >= options.worldSize) {
        throw std::runtime_error("distributed training: rank " + std::to_string(options.rank) +
                                 " is not one of the " + std::to_string(options.worldSize) +
                                 " processes (ranks 0 to " + std::to_string(options.worldSize - 1) +
                                 ")");
    }
    if (options.worldSize == 1) {
        return nullptr;
    }
    DistributedSettings settings;
    settings.worldSize = options.worldSize;
    settings.rank = options.rank;
    settings.masterAddress = options.masterAddress;
    settings.masterPort = options.masterPort;
    settings.timeoutSeconds = options.distributedTimeout;
    return std::make_unique<DistributedGroup>(settings);
}

/// Throws std::runtime_error on every process of `group` when any of them trains other data
/// or options than rank 0 (their `fingerprint`s differ).
void checkSameTraining(DistributedGroup& group, const std::string& fingerprint) {
    std::string lead = fingerprint;
    group.broadcast(lead, 0);
    std::vector<double> differs(std::size_t(group.size()), 0.0);
    differs[std::size_t(group.rank())] = lead == fingerprint ? 0.0 : 1.0;
    group.allreduceSum(differs.data(), differs.size());
    std::string ranks;
    for (std::size_t r = 0; r < differs.size(); ++r) {
        if (differs[r] != 0.0) {
            ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
        }
    }
    if (!ranks.empty()) {
        throw std::runtime_error("distributed training: rank(s) " + ranks +
                                 " train on other images, labels, options or parent than rank "
                                 "0; every process needs the same");
    }
}

} // namespace

std::string timeStamp() {
    const std::time_t now = std::time(nullptr);
    char text[32];
    std::tm parts{};
    gmtime_r(&now, &parts);
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &parts);
    return text;
}

ModelCard trainClassifier(const ImageDataset& data, const TrainOptions& options,
                          const TrainObserver& observer) {
    // Rank 0 (or a process alone) writes the package and checkpoints.
    const bool lead = options.worldSize <= 1 || options.rank == 0;
    if (options.outDir.empty() && lead) {
        throw std::runtime_error("no output folder for the model");
    }
    const bool multiLabel = data.task == "multi-label";
    if (data.train.count == 0 || data.validation.count == 0) {
        throw std::runtime_error(data.source + ": training needs a training and a validation "
                                               "split with images");
    }
    if (multiLabel) {
        // Model selection needs a validation AUC: at least one class with both values.
        const std::size_t classes = data.classNames.size();
        bool someClassHasBoth = false;
        for (std::size_t k = 0; k < classes && !someClassHasBoth; ++k) {
            bool seen[2] = {false, false};
            for (std::size_t i = 0; i < data.validation.count; ++i) {
                seen[data.validation.labels[i * classes + k] != 0] = true;
            }
            someClassHasBoth = seen[0] && seen[1];
        }
        if (!someClassHasBoth) {
            throw std::runtime_error(data.source +
                                     ": no class has both positive and negative validation "
                                     "images; the model cannot be chosen on validation AUC");
        }
    } else {
        // Model selection needs a validation AUC: both classes present (binary), at least two
        // (multi-class).
        std::vector<int> labels = data.validation.labels;
        std::sort(labels.begin(), labels.end());
        if (std::unique(labels.begin(), labels.end()) - labels.begin() < 2) {
            throw std::runtime_error(data.source +
                                     ": the validation split holds only one class; the model "
                                     "cannot be chosen on validation AUC");
        }
    }
    // A distributed run: the others, each process's threads, and the same training everywhere.
    const std::unique_ptr<DistributedGroup> group = joinRun(options);
    const ScopedThreads threads(options.threads > 0 ? options.threads
                                : group ? std::max(1, hardwareThreads() / group->localProcesses())
                                        : 0);
    const auto start = Clock::now();
    double secondsBefore = 0.0; // of the processes before this one (a resumed run)
    const auto seconds = [&start, &secondsBefore] {
        return secondsBefore + std::chrono::duration<double>(Clock::now() - start).count();
    };

    std::unique_ptr<TorchModel> model;
    ModelCard parent;
    if (!options.parent.empty()) {
        model = TorchModel::load(options.parent);
        parent = model->card();
        if (parent.format == "torchscript") {
            throw std::runtime_error(options.parent +
                                     ": fine-tuning a TorchScript model is not supported; train "
                                     "a built-in architecture");
        }
        if (parent.classNames != data.classNames) {
            throw std::runtime_error(options.parent + ": its classes differ from the dataset's");
        }
        if (parent.input.channels != int(data.train.channels)) {
            throw std::runtime_error(
                options.parent + ": it takes " + std::to_string(parent.input.channels) +
                "-channel images; the dataset has " + std::to_string(data.train.channels));
        }
        model->card().parentVersion = parent.version;
        if (!options.pooling.empty()) {
            model->setPooling(options.pooling);
        }
        if (options.gradCamFlipAverage) {
            model->card().gradCamFlipAverage = true;
        }
    } else {
        ModelCard card;
        card.architecture = options.architecture.empty() ? "resnet18" : options.architecture;
        card.width = options.width > 0 ? options.width : 64;
        card.pooling = options.pooling.empty() ? "average" : options.pooling;
        card.gradCamFlipAverage = options.gradCamFlipAverage;
        card.task = data.task;
        card.classNames = data.classNames;
        card.input.size = options.imageSize > 0 ? options.imageSize : int(data.train.height);
        card.input.channels = int(data.train.channels);
        card.input.preprocessing = "normalize";
        const auto [mean, std] = pixelStatistics(data.train);
        card.input.mean = mean;
        card.input.std = std;
        card.stem = defaultStem(options.stem, card.input.size);
        model = std::make_unique<TorchModel>(card, options.seed);
    }
    ModelCard& card = model->card();
    std::string fingerprint;
    if (group) {
        fingerprint = trainingFingerprint(data, options, parent);
        checkSameTraining(*group, fingerprint);
    }
    model->distribute(group.get());
    const std::size_t slash = data.source.find_last_of('/');
    const std::string datasetName =
        slash == std::string::npos ? data.source : data.source.substr(slash + 1);
    card.id = !options.id.empty() ? options.id
              : !parent.id.empty()
                  ? parent.id
                  : datasetName.substr(0, datasetName.find('.')) + "-" + card.architecture;
    card.version = timeStamp();
    if (group) {
        group->broadcast(card.version, 0); // the same card everywhere
    }
    card.format = "torch-nn";
    card.temperature = 1.0;
    card.metrics.clear();
    card.training.clear();
    card.weightsFile = "model.pt";

    const std::size_t batch = options.batchSize > 0 ? std::size_t(options.batchSize) : 64;
    // Default: 12 epochs, or on a small training set as many (at most 100) as make about 500
    // optimisation steps, which a few hundred labels need to be learned at all.
    const int stepsPerEpoch = int((data.train.count + batch - 1) / batch);
    const int epochs = options.epochs > 0
                           ? options.epochs
                           : std::clamp((500 + stepsPerEpoch - 1) / stepsPerEpoch, 12, 100);
    const double learningRate = options.learningRate > 0 ? options.learningRate : 2e-3;
    const int patience = options.patience > 0 ? options.patience : std::max(5, epochs / 3);
    const int classes = int(card.classNames.size());

    // Class-balanced weights: each class contributes equally to the loss. Multi-label: each
    // class's positives weigh as much as its negatives (negatives / positives).
    std::vector<double> weights(std::size_t(classes), 0.0);
    if (multiLabel) {
        if (data.train.labels.size() != data.train.count * std::size_t(classes)) {
            throw std::runtime_error(data.source + ": multi-label data needs one 0/1 label per "
                                                   "class and image");
        }
        std::vector<double> positives(std::size_t(classes), 0.0);
        for (std::size_t i = 0; i < data.train.labels.size(); ++i) {
            const int label = data.train.labels[i];
            if (label != 0 && label != 1) {
                throw std::runtime_error(data.source + ": multi-label labels are 0 or 1, not " +
                                         std::to_string(label));
            }
            positives[i % std::size_t(classes)] += label;
        }
        for (std::size_t k = 0; k < weights.size(); ++k) {
            const double negatives = double(data.train.count) - positives[k];
            weights[k] = positives[k] > 0 ? std::clamp(negatives / positives[k], 0.1, 100.0) : 1.0;
        }
    } else {
        std::vector<double> counts(std::size_t(classes), 0.0);
        for (int label : data.train.labels) {
            if (label < 0 || label >= classes) {
                throw std::runtime_error(data.source + ": label " + std::to_string(label) +
                                         " outside the " + std::to_string(classes) + " classes");
            }
            counts[std::size_t(label)] += 1.0;
        }
        for (std::size_t k = 0; k < weights.size(); ++k) {
            weights[k] = counts[k] > 0 ? double(data.train.count) / (classes * counts[k]) : 0.0;
        }
    }
    model->startTraining(5e-4, weights, options.seed);
    std::mt19937_64 random(options.seed);

    const std::size_t steps = (data.train.count + batch - 1) / batch;
    const double totalSteps = double(steps) * epochs;
    const double warmUp = double(steps);
    std::size_t step = 0;
    TrainStatus status;
    status.epochs = epochs;
    status.validationAuc = std::numeric_limits<double>::quiet_NaN();
    double bestScore = -std::numeric_limits<double>::infinity();
    double bestAuc = std::numeric_limits<double>::quiet_NaN();
    int bestEpoch = 0;
    int firstEpoch = 1;

    // Checkpoints: go on from the last one when it was made by this very training. In a
    // distributed run rank 0 reads it and hands it to the others (a refusal goes to them too).
    const std::string checkpointDir = lead ? options.checkpointDir : std::string();
    Checkpoint checkpoint;
    std::optional<Checkpoint> saved;
    std::string savedText, savedState, refusal;
    if (!checkpointDir.empty()) {
        std::filesystem::create_directories(checkpointDir);
        checkpoint.fingerprint =
            !fingerprint.empty() ? fingerprint : trainingFingerprint(data, options, parent);
        try {
            saved = readCheckpoint(checkpointDir);
            if (saved && saved->fingerprint != checkpoint.fingerprint) {
                throw std::runtime_error(checkpointDir +
                                         ": its checkpoint belongs to a training of other "
                                         "images, labels or options; use another folder");
            }
            if (saved && group) {
                savedText = readTextFile(checkpointDir + "/checkpoint.json");
                savedState = readTextFile(checkpointDir + "/" + saved->file);
            }
        } catch (const std::exception& e) {
            if (!group) {
                throw;
            }
            refusal = e.what();
            saved.reset();
        }
    }
    if (group) {
        group->broadcast(refusal, 0);
        if (!refusal.empty()) {
            throw std::runtime_error(lead ? refusal : "rank 0: " + refusal);
        }
        group->broadcast(savedText, 0);
        group->broadcast(savedState, 0);
        if (!savedText.empty()) {
            saved = parseCheckpoint(savedText, "rank 0's checkpoint.json");
        }
    }
    if (saved) {
        if (savedState.empty()) {
            model->loadTrainingState(checkpointDir + "/" + saved->file);
        } else {
            model->loadTrainingStateBytes(savedState, "rank 0's " + saved->file);
        }
        std::istringstream(saved->random) >> random;
        checkpoint = *saved;
        step = saved->step;
        bestScore = saved->bestScore;
        bestAuc = saved->bestAuc;
        bestEpoch = saved->bestEpoch;
        firstEpoch = saved->epoch + 1;
        secondsBefore = saved->seconds;
        status.resumedAfterEpoch = saved->epoch;
        // The epochs already done, again, for whoever draws the run.
        status.replayed = true;
        status.epochEnded = true;
        double best = -std::numeric_limits<double>::infinity();
        for (std::size_t e = 0; e < saved->history.size(); ++e) {
            status.epoch = int(e + 1);
            status.trainLoss = saved->history[e].first;
            status.validationAuc = saved->history[e].second;
            best = std::isnan(best) || status.validationAuc > best ? status.validationAuc : best;
            status.bestValidationAuc = best;
            status.fraction = double(e + 1) * double(steps) / totalSteps;
            if (observer && !observer(status)) {
                throw std::runtime_error("cancelled");
            }
        }
        status.replayed = false;
    }

    std::vector<std::size_t> order(data.train.count);
    for (int epoch = firstEpoch; epoch <= epochs; ++epoch) {
        if (epoch > 1 && epoch - 1 - bestEpoch >= patience) {
            break; // early stopping: the previous epoch was the last
        }
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), random);
        double lossSum = 0.0;
        std::size_t seen = 0;
        status.epoch = epoch;
        status.epochEnded = false;
        for (std::size_t b = 0; b < steps; ++b, ++step) {
            // Warm-up for the first epoch, then cosine decay to zero.
            const double rate = double(step) < warmUp
                                    ? learningRate * double(step + 1) / warmUp
                                    : learningRate * 0.5 *
                                          (1.0 + std::cos(M_PI * (double(step) - warmUp) /
                                                          std::max(1.0, totalSteps - warmUp)));
            const std::size_t first = b * batch;
            const std::vector<std::size_t> indices(
                order.begin() + std::ptrdiff_t(first),
                order.begin() + std::ptrdiff_t(std::min(first + batch, order.size())));
            const double loss = model->trainStep(data.train, indices, rate);
            lossSum += loss * double(indices.size());
            seen += indices.size();
            status.trainLoss = lossSum / double(seen);
            status.fraction = double(step + 1) / totalSteps;
            status.seconds = seconds();
            if (observer && !observer(status)) {
                throw std::runtime_error("cancelled");
            }
        }
        const ModelMetrics m = metricsForTask(
            data.task, probabilities(model->logits(data.validation), classes, 1.0, multiLabel),
            classes, data.validation.labels);
        status.validationAuc = m.auc;
        const double score = options.selectionScore ? options.selectionScore(*model, m.auc) : m.auc;
        if (score > bestScore) {
            bestScore = score;
            bestAuc = m.auc;
            bestEpoch = epoch;
            model->keep();
        }
        status.bestValidationAuc = bestAuc;
        status.epochEnded = true;
        status.seconds = seconds();
        if (!checkpointDir.empty()) {
            // The new state under a new name first, then the note that points to it, then the
            // old state goes: a kill at any moment leaves a consistent checkpoint.
            const std::string previous = checkpoint.file;
            checkpoint.file = "epoch-" + std::to_string(epoch) + ".pt";
            model->saveTrainingState(checkpointDir + "/" + checkpoint.file);
            std::ostringstream state;
            state << random;
            checkpoint.random = state.str();
            checkpoint.epoch = epoch;
            checkpoint.step = step;
            checkpoint.bestScore = bestScore;
            checkpoint.bestAuc = bestAuc;
            checkpoint.bestEpoch = bestEpoch;
            checkpoint.seconds = seconds();
            checkpoint.history.emplace_back(status.trainLoss, std::isfinite(m.auc) ? m.auc : 0.0);
            writeCheckpoint(checkpointDir, checkpoint);
            if (!previous.empty() && previous != checkpoint.file) {
                std::filesystem::remove(checkpointDir + "/" + previous);
            }
        }
        if (observer && !observer(status)) {
            throw std::runtime_error("cancelled");
        }
    }
    // The best epoch's weights, exact BatchNorm statistics (2,048 images estimate them well),
    // then calibration on validation.
    model->restoreKept();
    model->recomputeBatchNormStatistics(data.train, 2048);
    const std::vector<double> logits = model->logits(data.validation);
    card.temperature = fitTemperature(logits, classes, data.validation.labels, multiLabel);
    card.metrics["validation"] =
        metricsForTask(data.task, probabilities(logits, classes, card.temperature, multiLabel),
                       classes, data.validation.labels);

    card.training["dataset"] = datasetName;
    card.training["trainImages"] = std::to_string(data.train.count);
    card.training["validationImages"] = std::to_string(data.validation.count);
    card.training["epochs"] = std::to_string(status.epoch);
    if (status.resumedAfterEpoch > 0) {
        card.training["resumedAfterEpoch"] = std::to_string(status.resumedAfterEpoch);
    }
    card.training["bestEpoch"] = std::to_string(bestEpoch);
    card.training["selection"] = options.selectionScore ? options.selectionName : "validation AUC";
    card.training["seconds"] = std::to_string(int(std::lround(seconds())));
    card.training["recipe"] = "AdamW lr " + std::to_string(learningRate) + ", batch " +
                              std::to_string(batch) +
                              ", cosine, class-balanced, affine+intensity augmentation, seed " +
                              std::to_string(options.seed);
    if (group) {
        card.training["processes"] = std::to_string(group->size());
    }
    if (lead) {
        model->save(options.outDir);
    }
    return card;
}

} // namespace radiolens::ml
