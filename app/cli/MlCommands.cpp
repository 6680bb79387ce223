// radiolens-cli train and evaluate: classifiers trained and measured on this machine, through
// the ML plugin (opened only by these commands).

#include "app/cli/CliSupport.h"
#include "core/domain/JsonWriter.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/Metrics.h"
#include "core/ml/MlRuntime.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace radiolens::cli {

const char* const kMlCommandsHelp =
    "  train                  train an image classifier and write a model package\n"
    "  evaluate               measure a model on a dataset split (AUC, accuracy, ...)\n";

namespace {

const char* kTrainHelp =
    R"(usage: radiolens-cli train --data DATASET --out MODEL_DIR [--arch A] [--epochs N]
                           [--image-size S] [--stem small|standard] [--width N]
                           [--batch N] [--lr X] [--patience N] [--seed N] [--id ID]
                           [--parent MODEL_DIR] [--json]

Trains an image classifier on the dataset's training split, keeps the epoch with the best
validation AUC, calibrates it on validation and writes MODEL_DIR/model.pt and card.json. The
test split is not looked at. Progress goes to stderr, one line per epoch.

  --data DATASET     a MedMNIST .npz file (train/val/test images and labels)
  --out MODEL_DIR    the model package folder (created)
  --arch A           resnet18 (default), resnet34, densenet121 or smallcnn
  --epochs N         at most N epochs (default 12); stops early when validation AUC stalls
  --image-size S     input size in pixels (default: the dataset's)
  --stem S           small (3x3, no pooling; default below 100 px) or standard (7x7 + pooling)
  --width N          channels of the first stage (default 64)
  --batch N          batch size (default 64)
  --lr X             peak learning rate of AdamW (default 0.002)
  --patience N       epochs without a better validation AUC before stopping
  --seed N           random seed (default 1)
  --id ID            model id for the card (default: DATASET-ARCH)
  --parent DIR       fine-tune this model instead of starting from scratch
  --json             print the card as JSON when done
)";

const char* kEvaluateHelp =
    R"(usage: radiolens-cli evaluate --model MODEL_DIR --data DATASET [--split test] [--json]

Classifies every image of one split and compares with its labels. Prints AUC (of the positive
class, or mean one-vs-rest), accuracy and sensitivity/specificity at probability 0.5, expected
calibration error (15 bins) and n.

  --model MODEL_DIR  a model package (card.json + weights)
  --data DATASET     a MedMNIST .npz file
  --split S          train, val or test (default test)
  --json             print JSON
)";

int positiveInt(const std::string& command, const Arguments& args, const std::string& option,
                int lo, int hi) {
    if (!args.has(option)) {
        return 0;
    }
    const double v = parseNumber(command, option, args.get(option));
    if (v != std::floor(v) || v < lo || v > hi) {
        usageError(command, option + " takes a whole number from " + std::to_string(lo) + " to " +
                                std::to_string(hi));
    }
    return int(v);
}

ImageDataset loadDataset(const std::string& command, const std::string& path) {
    if (path.size() < 4 || path.compare(path.size() - 4, 4, ".npz") != 0) {
        throw CliError{command + ": " + path +
                       ": not a dataset Radiolens reads (a MedMNIST .npz file)"};
    }
    try {
        return loadMedMnist(path);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

MlEngine& engine(const std::string& command) {
    try {
        return MlRuntime::engine();
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

void writeMetrics(JsonWriter& json, const ModelMetrics& m) {
    json.field("auc", m.auc);
    json.field("accuracy", m.accuracy);
    json.field("sensitivity", m.sensitivity);
    json.field("specificity", m.specificity);
    json.field("ece", m.ece);
    json.field("n", m.n);
}

} // namespace

int runTrain(const std::vector<std::string>& argv) {
    const std::string command = "train";
    const Arguments args =
        parse(command, argv, {"--help", "--json"},
              {"--data", "--out", "--arch", "--epochs", "--image-size", "--stem", "--width",
               "--batch", "--lr", "--patience", "--seed", "--id", "--parent"});
    if (args.has("--help")) {
        std::cout << kTrainHelp;
        return 0;
    }
    if (!args.positional.empty()) {
        usageError(command, "unexpected argument " + args.positional.front());
    }
    if (!args.has("--data") || !args.has("--out")) {
        usageError(command, "--data and --out are required");
    }
    TrainOptions options;
    options.architecture = args.get("--arch", "resnet18");
    if (options.architecture != "resnet18" && options.architecture != "resnet34" &&
        options.architecture != "densenet121" && options.architecture != "smallcnn") {
        usageError(command, "--arch is resnet18, resnet34, densenet121 or smallcnn");
    }
    options.stem = args.get("--stem");
    if (!options.stem.empty() && options.stem != "small" && options.stem != "standard") {
        usageError(command, "--stem is small or standard");
    }
    options.epochs = positiveInt(command, args, "--epochs", 1, 1000);
    options.imageSize = positiveInt(command, args, "--image-size", 8, 1024);
    options.width = positiveInt(command, args, "--width", 4, 512);
    options.batchSize = positiveInt(command, args, "--batch", 1, 4096);
    options.patience = positiveInt(command, args, "--patience", 1, 1000);
    options.seed = unsigned(positiveInt(command, args, "--seed", 0, 1 << 30));
    if (args.has("--lr")) {
        options.learningRate = parseNumber(command, "--lr", args.get("--lr"));
        if (options.learningRate <= 0 || options.learningRate > 1) {
            usageError(command, "--lr takes a number above 0 and at most 1");
        }
    }
    options.outDir = args.get("--out");
    options.id = args.get("--id");
    options.parent = args.get("--parent");

    const ImageDataset data = loadDataset(command, args.get("--data"));
    std::fprintf(stderr,
                 "%s: %zu training and %zu validation images, %zux%zu, %zu channel(s), "
                 "%s (%zu classes)\n",
                 data.source.c_str(), data.train.count, data.validation.count, data.train.width,
                 data.train.height, data.train.channels, data.task.c_str(), data.classNames.size());
    MlEngine& ml = engine(command);
    const bool terminal = isatty(2) != 0;
    int lastPercent = -1;
    const auto observer = [&](const TrainStatus& s) {
        if (s.epochEnded) {
            std::fprintf(stderr,
                         "%sepoch %d/%d  loss %.4f  validation AUC %.4f (best %.4f)  %.0f s\n",
                         terminal ? "\r" : "", s.epoch, s.epochs, s.trainLoss, s.validationAuc,
                         s.bestValidationAuc, s.seconds);
        } else if (terminal && int(s.fraction * 100) != lastPercent) {
            lastPercent = int(s.fraction * 100);
            std::fprintf(stderr, "\repoch %d/%d  %3d%%  loss %.4f", s.epoch, s.epochs, lastPercent,
                         s.trainLoss);
        }
        return true;
    };
    ModelCard card;
    try {
        card = ml.train(data, options, observer);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    const ModelMetrics& v = card.metrics["validation"];
    std::fprintf(stderr,
                 "model %s version %s written to %s: validation AUC %.4f, accuracy %.4f, ECE "
                 "%.4f (best epoch %s of %s, %s s)\n",
                 card.id.c_str(), card.version.c_str(), options.outDir.c_str(), v.auc, v.accuracy,
                 v.ece, card.training["bestEpoch"].c_str(), card.training["epochs"].c_str(),
                 card.training["seconds"].c_str());
    if (args.has("--json")) {
        std::cout << card.toJson();
    }
    return 0;
}

int runEvaluate(const std::vector<std::string>& argv) {
    const std::string command = "evaluate";
    const Arguments args =
        parse(command, argv, {"--help", "--json"}, {"--model", "--data", "--split"});
    if (args.has("--help")) {
        std::cout << kEvaluateHelp;
        return 0;
    }
    if (!args.positional.empty()) {
        usageError(command, "unexpected argument " + args.positional.front());
    }
    if (!args.has("--model") || !args.has("--data")) {
        usageError(command, "--model and --data are required");
    }
    const std::string splitName = args.get("--split", "test");
    if (splitName != "train" && splitName != "val" && splitName != "validation" &&
        splitName != "test") {
        usageError(command, "--split is train, val or test");
    }
    const ImageDataset data = loadDataset(command, args.get("--data"));
    MlEngine& ml = engine(command);
    std::unique_ptr<Classifier> model;
    try {
        model = ml.loadClassifier(args.get("--model"));
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    const ModelCard& card = model->card();
    if (card.classNames.size() != data.classNames.size()) {
        throw CliError{command + ": the model has " + std::to_string(card.classNames.size()) +
                       " classes, the dataset " + std::to_string(data.classNames.size())};
    }
    const ImageSplit& split = data.split(splitName);
    std::vector<double> probabilities;
    try {
        probabilities = model->predict(split);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + data.source + ": " + e.what()};
    }
    const ModelMetrics m =
        classificationMetrics(probabilities, int(card.classNames.size()), split.labels);
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject();
        writeMetrics(json, m);
        json.field("split", splitName == "validation" ? std::string("val") : splitName);
        json.field("dataset", data.source);
        json.field("modelId", card.id);
        json.field("modelVersion", card.version);
        json.field("weightsSha256", card.weightsSha256);
        json.endObject();
        std::cout << "\n";
    } else {
        std::cout << "Model        " << card.id << " " << card.version << " (" << card.architecture
                  << ")\n";
        std::cout << "Data         " << data.source << ", " << splitName << " split\n";
        std::cout << "n            " << m.n << "\n";
        std::cout << "AUC          " << fmt("%.4f", m.auc) << "\n";
        std::cout << "Accuracy     " << fmt("%.4f", m.accuracy) << "\n";
        std::cout << "Sensitivity  " << fmt("%.4f", m.sensitivity) << "\n";
        std::cout << "Specificity  " << fmt("%.4f", m.specificity) << "\n";
        std::cout << "ECE          " << fmt("%.4f", m.ece) << "\n";
    }
    return 0;
}

} // namespace radiolens::cli
