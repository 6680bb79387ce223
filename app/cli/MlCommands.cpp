// radiolens-cli train and evaluate: classifiers trained and measured on this machine, through
// the ML plugin (opened only by these commands).

#include "app/cli/CliSupport.h"
#include "core/dicom/DicomHeaderScanner.h"
#include "core/dicom/ResultDocuments.h"
#include "core/domain/JsonWriter.h"
#include "core/imaging/PlanarImageIo.h"
#include "core/imaging/SliceRenderer.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/DemoChestModel.h"
#include "core/ml/DicomModelInput.h"
#include "core/ml/ImageFolderDataset.h"
#include "core/ml/Metrics.h"
#include "core/ml/MlRuntime.h"
#include "core/ml/ModelInput.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

namespace radiolens::cli {

const char* const kMlCommandsHelp =
    "  train                  train an image classifier and write a model package\n"
    "  evaluate               measure a model on a dataset split (AUC, accuracy, ...)\n"
    "  classify               classify images with a model, with saliency overlays\n"
    "  demo-model             train the demo's chest nodule classifier and measure it\n";

namespace {

const char* kTrainHelp =
    R"(usage: radiolens-cli train --data DATASET --out MODEL_DIR [--arch A] [--epochs N]
                           [--image-size S] [--stem small|standard] [--width N]
                           [--pooling average|max] [--gradcam-flips] [--batch N] [--lr X] [--patience N] [--seed N] [--id ID]
                           [--parent MODEL_DIR] [--threads N] [--json]
                           [--world-size N --rank R --master ADDR:PORT [--dist-timeout S]]

Trains an image classifier on the dataset's training split, keeps the epoch with the best
validation AUC, calibrates it on validation and writes MODEL_DIR/model.pt and card.json. The
test split is not looked at. Progress goes to stderr, one line per epoch.

  --data DATASET     a MedMNIST .npz file (train/val/test images and labels), or a CSV file
                     with columns file,label[,split] listing PNG/JPEG/BMP pictures (paths
                     relative to the CSV; without a split column 80/10/10 % by file name)
  --out MODEL_DIR    the model package folder (created)
  --arch A           resnet18 (default), resnet34, densenet121 or smallcnn
  --epochs N         at most N epochs (default 12, more on a small training set: enough for
                     about 500 optimisation steps, at most 100); stops early when validation
                     AUC stalls
  --image-size S     input size in pixels (default: the dataset's)
  --stem S           small (3x3, no pooling; default below 100 px) or standard (7x7 + pooling)
  --width N          channels of the first stage (default 64)
  --pooling P        global pooling of the last feature map: average (default, or the
                     parent's) or max (keeps a small lesion's evidence where the lesion is)
  --gradcam-flips    the model's Grad-CAM maps average the image and its three mirror
                     images, which cancels any offset between a feature and its object
  --batch N          batch size (default 64)
  --lr X             peak learning rate of AdamW (default 0.002)
  --patience N       epochs without a better validation AUC before stopping
  --seed N           random seed (default 1)
  --id ID            model id for the card (default: DATASET-ARCH)
  --parent DIR       fine-tune this model instead of starting from scratch
  --threads N        intra-op threads (default: every core; in a distributed run, the cores
                     divided by the run's processes on this machine)
  --json             print the card as JSON when done

Data-parallel training over several processes, on one machine or several (LibTorch's c10d,
Gloo backend): run the same command once per process, each with its own --rank, the same
dataset and options. Each global batch of --batch images is shared out among the processes,
their gradients are summed and BatchNorm uses the whole batch's statistics: every step is
the single process's step up to float rounding (which a run can amplify, as it does between
thread counts). Only rank 0 writes MODEL_DIR; the others exit 0 when done, having written
nothing. A process that is gone (killed, a master that never came)
makes the others fail within the timeout, naming the master.
  --world-size N     processes in the run (default 1: this one alone)
  --rank R           this process, 0 to N-1; rank 0 is the master
  --master ADDR:PORT where rank 0 listens and the others connect (e.g. 127.0.0.1:29500). On
                     several machines, an address of rank 0's machine the others can reach;
                     the processes then connect to each other on the interface of each
                     machine's host name, or $GLOO_SOCKET_IFNAME
  --dist-timeout S   seconds to wait for the other processes, at the start and for any one
                     exchange (default 300)
)";

const char* kEvaluateHelp =
    R"(usage: radiolens-cli evaluate --model MODEL_DIR --data DATASET [--split test] [--json]

Classifies every image of one split and compares with its labels. Prints AUC (of the positive
class, or mean one-vs-rest), accuracy and sensitivity/specificity at probability 0.5, expected
calibration error (15 bins) and n.

  --model MODEL_DIR  a model package (card.json + weights)
  --data DATASET     a MedMNIST .npz file, or a CSV listing pictures (see train --help)
  --split S          train, val or test (default test)
  --json             print JSON
)";

const char* kClassifyHelp =
    R"(usage: radiolens-cli classify --model MODEL_DIR INPUT... [--saliency METHOD]
                              [--class NAME] [--out DIR] [--faithfulness] [--dicom DIR]

Classifies each INPUT (a DICOM file, every frame of it, or a PNG/JPEG/BMP picture) and prints
one JSON document: the model's id, version and weights hash, and per image the probability of
every class. DICOM images are windowed as the model card says (or with the file's window) and
shown as a reader sees them (MONOCHROME1 inverted). An input the model does not accept (another
modality, another channel count) or cannot read is reported under "errors" and on stderr, the
others are still classified, and the exit code is 1.

  --saliency METHOD  gradcam, ig (Integrated Gradients, 32 steps) or occlusion (14 x 14 grid):
                     a map for the predicted class (or --class) in the image's own geometry;
                     the JSON gives its peak [column, row] in image pixels (and
                     "flipAveraged" when the card asks Grad-CAM to average mirror images)
  --class NAME       the class the map explains (default: the most probable one)
  --out DIR          write each map as a colour overlay on the image, DIR/NAME.METHOD.png
  --faithfulness     also compute the map's deletion and insertion AUC
  --dicom DIR        write the results as DICOM objects that file with each input's study
                     (new series; patient and study copied from the input), for any PACS or
                     viewer: one Comprehensive SR per study, DIR/classification-STUDYUID.dcm,
                     with every image's class probabilities, the predicted class, the model's id,
                     version and weights hash and references to the images; with --saliency also
                     one Secondary Capture per image of its overlay, DIR/NAME.METHOD.dcm, and,
                     where the image has patient geometry (position, orientation, spacing and
                     frame of reference: CT, MR), a Parametric Map of the map's values (32-bit
                     float, on the image's grid), DIR/NAME.METHOD.pm.dcm. The JSON lists the
                     files under "dicomResults"; inputs that are not DICOM (pictures) are listed
                     under "dicomSkipped"
)";

/// `picture` in grey with `map` over it: a colour scale from transparent (below 0.2) through
/// blue, green and yellow to red at 1, half opaque.
RenderedSlice overlay(const ImageSplit& picture, const SaliencyMap& map) {
    RenderedSlice out;
    out.width = int(picture.width);
    out.height = int(picture.height);
    out.channels = 3;
    out.pixels.resize(std::size_t(out.width) * std::size_t(out.height) * 3);
    for (std::size_t i = 0; i < map.values.size(); ++i) {
        double grey = picture.pixels[i]; // the first channel
        const double v = map.values[i];
        double rgb[3] = {grey, grey, grey};
        if (v >= 0.2) {
            const double t = (v - 0.2) / 0.8;
            const double colour[3] = {255.0 * std::clamp(2.0 * t - 0.5, 0.0, 1.0),
                                      255.0 *
                                          std::clamp(1.5 - std::abs(2.0 * t - 1.0) * 1.5, 0.0, 1.0),
                                      255.0 * std::clamp(1.0 - 2.0 * t, 0.0, 1.0)};
            const double alpha = 0.35 + 0.25 * t;
            for (int c = 0; c < 3; ++c) {
                rgb[c] = (1 - alpha) * rgb[c] + alpha * colour[c];
            }
        }
        for (int c = 0; c < 3; ++c) {
            out.pixels[i * 3 + std::size_t(c)] =
                std::uint8_t(std::lround(std::clamp(rgb[c], 0.0, 255.0)));
        }
    }
    return out;
}

/// One image to classify: a picture, or a frame of a DICOM file.
struct ClassifyItem {
    std::string input;
    int frame = -1;   ///< -1 for pictures and single-frame DICOM
    ImageSplit image; ///< one image, as the model takes it
};

/// The images of `path` the model accepts; throws std::runtime_error with the reason.
std::vector<ClassifyItem> itemsOf(const std::string& path, const ModelCard& card) {
    std::vector<ClassifyItem> items;
    if (isPlanarImagePath(path)) {
        items.push_back({path, -1, toImageSplit(readPlanarImage(path))});
        return items;
    }
    if (std::filesystem::is_directory(path)) {
        throw std::runtime_error(path + ": a folder; give the image files");
    }
    ImageSplit frames;
    try {
        frames = dicomModelInput(path, card);
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    for (std::size_t k = 0; k < frames.count; ++k) {
        items.push_back({path, frames.count > 1 ? int(k) : -1, imageOf(frames, k)});
    }
    return items;
}

/// A MedMNIST .npz file, or a CSV listing pictures (resized to `size` pixels; 0 keeps them).
ImageDataset loadDataset(const std::string& command, const std::string& path, int size = 0) {
    try {
        return loadImageDataset(path, size);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

/// The model package in `dir`, through the ML plugin; its reason as a CLI error otherwise.
std::unique_ptr<Classifier> loadModel(const std::string& command, const std::string& dir) {
    MlEngine& ml = engine(command);
    try {
        return ml.loadClassifier(dir);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

/// The name of the result files of one image: its SOP Instance UID (unique, unlike file names
/// such as IM00001 in different series folders) and the frame of a multi-frame file.
std::string resultStem(const std::string& sourceSopUid, const ClassifyItem& item) {
    return sourceSopUid + (item.frame >= 0 ? "_f" + std::to_string(item.frame) : std::string());
}

/// Writes the saliency overlay of `item` as a Secondary Capture into `dir`
/// (DIR/SOURCE_SOP_UID.METHOD.dcm), in `series` (all captures of one study in one series);
/// returns its path.
std::string writeCapture(const std::string& dir, const std::string& sourceSopUid,
                         const ClassifyItem& item, const ModelCard& card,
                         const std::vector<double>& p, int target, SaliencyMethod method,
                         const RenderedSlice& picture, ResultSeries& series) {
    const std::string file =
        dir + "/" + resultStem(sourceSopUid, item) + "." + saliencyName(method) + ".dcm";
    const std::string& className = card.classNames[std::size_t(target)];
    const std::string description =
        std::string(saliencyName(method)) + " saliency map of class '" + className +
        "' (probability " + fmt("%.4f", p[std::size_t(target)]) + ") by model " + card.id +
        " version " + card.version +
        ", over the image as the model saw it: transparent below 0.2, blue to red at 1";
    const WrittenObject written =
        writeSaliencyCapture(item.input, item.frame, picture, description, file, series);
    series.seriesInstanceUid = written.seriesInstanceUid;
    ++series.instanceNumber;
    return file;
}

/// Writes `map` as a Parametric Map into `dir` (DIR/SOURCE_SOP_UID.METHOD.pm.dcm), in `series`,
/// when the image's geometry allows; returns its path, or an empty string when it does not.
std::string writeParametricMap(const std::string& dir, const std::string& sourceSopUid,
                               const ClassifyItem& item, const ModelCard& card, int target,
                               SaliencyMethod method, const SaliencyMap& map,
                               ResultSeries& series) {
    const std::string file =
        dir + "/" + resultStem(sourceSopUid, item) + "." + saliencyName(method) + ".pm.dcm";
    const std::string description = std::string(saliencyName(method)) + " map of '" +
                                    card.classNames[std::size_t(target)] + "', " + card.id + " " +
                                    card.version;
    const std::optional<WrittenObject> written =
        writeSaliencyParametricMap(item.input, item.frame, int(map.width), int(map.height),
                                   map.values, description, file, series);
    if (!written) {
        return {};
    }
    series.seriesInstanceUid = written->seriesInstanceUid;
    ++series.instanceNumber;
    return file;
}

} // namespace

/// Prints training progress on stderr: a line per epoch, and a percentage on a terminal.
TrainObserver terminalTrainObserver() {
    const bool terminal = isatty(2) != 0;
    auto lastPercent = std::make_shared<int>(-1);
    return [terminal, lastPercent](const TrainStatus& s) {
        if (s.epochEnded) {
            std::fprintf(stderr,
                         "%sepoch %d/%d  loss %.4f  validation AUC %.4f (best %.4f)  %.0f s\n",
                         terminal ? "\r" : "", s.epoch, s.epochs, s.trainLoss, s.validationAuc,
                         s.bestValidationAuc, s.seconds);
        } else if (terminal && int(s.fraction * 100) != *lastPercent) {
            *lastPercent = int(s.fraction * 100);
            std::fprintf(stderr, "\repoch %d/%d  %3d%%  loss %.4f", s.epoch, s.epochs, *lastPercent,
                         s.trainLoss);
        }
        return true;
    };
}

TrainOptions trainOptions(const std::string& command, const Arguments& args) {
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
    options.pooling = args.get("--pooling");
    if (!options.pooling.empty() && options.pooling != "average" && options.pooling != "max") {
        usageError(command, "--pooling is average or max");
    }
    options.gradCamFlipAverage = args.has("--gradcam-flips");
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
    options.id = args.get("--id");
    options.threads = parseThreads(command, args);

    // Data-parallel training: --world-size N --rank R --master ADDR:PORT [--dist-timeout S].
    options.worldSize =
        args.has("--world-size") ? positiveInt(command, args, "--world-size", 1, 1024) : 1;
    if (options.worldSize == 1) {
        if (args.has("--rank") || args.has("--master") || args.has("--dist-timeout")) {
            usageError(command, "--rank, --master and --dist-timeout need --world-size above 1");
        }
        return options;
    }
    if (!args.has("--rank") || !args.has("--master")) {
        usageError(command, "--world-size above 1 needs --rank R and --master ADDR:PORT");
    }
    options.rank = positiveInt(command, args, "--rank", 0, 1023);
    if (options.rank >= options.worldSize) {
        usageError(command, "--rank " + std::to_string(options.rank) +
                                " is not below --world-size " + std::to_string(options.worldSize) +
                                " (ranks 0 to " + std::to_string(options.worldSize - 1) + ")");
    }
    // ADDR:PORT, or [IPv6]:PORT.
    const std::string master = args.get("--master");
    const std::size_t colon = master.rfind(':');
    std::string address = colon == std::string::npos ? std::string() : master.substr(0, colon);
    if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    }
    char* end = nullptr;
    const std::string portText =
        colon == std::string::npos ? std::string() : master.substr(colon + 1);
    const long port = std::strtol(portText.c_str(), &end, 10);
    if (address.empty() || portText.empty() || *end != '\0' || port < 1 || port > 65535) {
        usageError(command, "--master takes ADDR:PORT (a host name or IP address and a port from 1 "
                            "to 65535), not '" +
                                master + "'");
    }
    options.masterAddress = address;
    options.masterPort = int(port);
    if (args.has("--dist-timeout")) {
        options.distributedTimeout =
            parseNumber(command, "--dist-timeout", args.get("--dist-timeout"));
        if (!(options.distributedTimeout > 0.0 && options.distributedTimeout <= 86400.0)) {
            usageError(command, "--dist-timeout takes seconds above 0 and at most 86400");
        }
    }
    return options;
}

int runTrain(const std::vector<std::string>& argv) {
    const std::string command = "train";
    const Arguments args =
        parse(command, argv, {"--help", "--json", "--gradcam-flips"},
              {"--data", "--out", "--arch", "--epochs", "--image-size", "--stem", "--width",
               "--pooling", "--batch", "--lr", "--patience", "--seed", "--id", "--parent",
               "--threads", "--world-size", "--rank", "--master", "--dist-timeout"});
    if (args.has("--help")) {
        std::cout << kTrainHelp;
        return 0;
    }
    checkArguments(command, args, {"--data", "--out"});
    TrainOptions options = trainOptions(command, args);
    options.outDir = args.get("--out");
    options.id = args.get("--id");
    options.parent = args.get("--parent");

    const ImageDataset data = loadDataset(command, args.get("--data"), options.imageSize);
    std::fprintf(stderr,
                 "%s: %zu training and %zu validation images, %zux%zu, %zu channel(s), "
                 "%s (%zu classes)\n",
                 data.source.c_str(), data.train.count, data.validation.count, data.train.width,
                 data.train.height, data.train.channels, data.task.c_str(), data.classNames.size());
    MlEngine& ml = engine(command);
    const TrainObserver observer = terminalTrainObserver();
    const std::string process =
        options.worldSize > 1
            ? "rank " + std::to_string(options.rank) + " of " + std::to_string(options.worldSize)
            : std::string();
    if (!process.empty()) {
        std::fprintf(stderr, "%s: joining the run at %s:%d\n", process.c_str(),
                     options.masterAddress.c_str(), options.masterPort);
    }
    ModelCard card;
    try {
        card = ml.train(data, options, observer);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    const ModelMetrics& v = card.metrics["validation"];
    if (options.rank != 0) {
        std::fprintf(stderr,
                     "%s: done: validation AUC %.4f, accuracy %.4f (best epoch %s of %s, %s s); "
                     "rank 0 writes the model\n",
                     process.c_str(), v.auc, v.accuracy, card.training["bestEpoch"].c_str(),
                     card.training["epochs"].c_str(), card.training["seconds"].c_str());
        if (args.has("--json")) {
            std::cout << card.toJson();
        }
        return 0;
    }
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
    checkArguments(command, args, {"--model", "--data"});
    const std::string splitName = args.get("--split", "test");
    if (splitName != "train" && splitName != "val" && splitName != "validation" &&
        splitName != "test") {
        usageError(command, "--split is train, val or test");
    }
    const std::unique_ptr<Classifier> model = loadModel(command, args.get("--model"));
    const ModelCard& card = model->card();
    const ImageDataset data = loadDataset(command, args.get("--data"), card.input.size);
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
        metricsForTask(card.task, probabilities, int(card.classNames.size()), split.labels);
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject();
        writeMetricsFields(json, m);
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

int runClassify(const std::vector<std::string>& argv) {
    const std::string command = "classify";
    const Arguments args = parse(command, argv, {"--help", "--faithfulness"},
                                 {"--model", "--saliency", "--class", "--out", "--dicom"});
    if (args.has("--help")) {
        std::cout << kClassifyHelp;
        return 0;
    }
    if (!args.has("--model") || args.positional.empty()) {
        usageError(command, "--model and at least one INPUT are required");
    }
    std::optional<SaliencyMethod> method;
    if (args.has("--saliency")) {
        try {
            method = parseSaliencyMethod(args.get("--saliency"));
        } catch (const std::exception& e) {
            usageError(command, e.what());
        }
    }
    if ((args.has("--out") || args.has("--faithfulness") || args.has("--class")) && !method) {
        usageError(command, "--out, --class and --faithfulness need --saliency");
    }
    const std::string outDir = args.get("--out");
    const std::unique_ptr<Classifier> model = loadModel(command, args.get("--model"));
    const ModelCard& card = model->card();
    int chosenClass = -1;
    if (args.has("--class")) {
        const auto it =
            std::find(card.classNames.begin(), card.classNames.end(), args.get("--class"));
        if (it == card.classNames.end()) {
            usageError(command, "the model has no class '" + args.get("--class") + "'");
        }
        chosenClass = int(it - card.classNames.begin());
    }
    if (!outDir.empty()) {
        std::filesystem::create_directories(outDir);
    }
    const std::string dicomDir = args.get("--dicom");
    if (!dicomDir.empty()) {
        std::error_code error;
        std::filesystem::create_directories(dicomDir, error);
        if (!std::filesystem::is_directory(dicomDir)) {
            throw CliError{command + ": " + dicomDir + ": cannot create the folder"};
        }
    }
    // --dicom: what each study's report holds, and the series of its captures.
    std::vector<std::string> studies; // in the order first seen
    std::map<std::string, std::vector<ImageClassification>> classified;
    std::map<std::string, ResultSeries> captureSeries;
    std::map<std::string, ResultSeries> mapSeries;
    std::vector<std::string> dicomResults;
    std::vector<std::pair<std::string, std::string>> dicomSkipped;
    JsonWriter json(std::cout);
    json.beginObject();
    json.key("model").beginObject();
    json.field("id", card.id);
    json.field("version", card.version);
    json.field("architecture", card.architecture);
    json.field("weightsSha256", card.weightsSha256);
    json.endObject();
    json.key("results").beginArray();
    std::vector<std::pair<std::string, std::string>> errors;
    for (const std::string& input : args.positional) {
        std::vector<ClassifyItem> items;
        try {
            items = itemsOf(input, card);
        } catch (const std::exception& e) {
            errors.push_back({input, e.what()});
            continue;
        }
        std::string study; // the input's study when results go back as DICOM
        std::string sourceSop;
        if (!dicomDir.empty()) {
            const DicomScanResult scanned =
                isPlanarImagePath(input) ? DicomScanResult{} : DicomHeaderScanner::scan(input);
            study = scanned.ok() ? scanned.header.dataSet.text(tags::StudyInstanceUID) : "";
            sourceSop = scanned.ok() ? scanned.header.dataSet.text(tags::SOPInstanceUID) : "";
            if (study.empty() || sourceSop.empty()) {
                study.clear();
                dicomSkipped.push_back(
                    {input, input + ": not a DICOM image; its results cannot be written as DICOM"});
            }
        }
        for (const ClassifyItem& item : items) {
            // Everything is computed before anything of this image is printed, so an image
            // that fails leaves only its reason under "errors".
            const ImageSplit& split = item.image;
            std::vector<double> p;
            int predicted = 0;
            int target = 0;
            SaliencyMap map;
            Faithfulness faithful;
            std::string overlayFile;
            std::string captureFile;
            std::string parametricFile;
            try {
                p = model->predict(split);
                predicted = int(std::max_element(p.begin(), p.end()) - p.begin());
                target = chosenClass >= 0 ? chosenClass : predicted;
                if (method) {
                    map = model->saliency(split, 0, target, *method);
                    if (args.has("--faithfulness")) {
                        faithful = model->faithfulness(split, 0, map);
                    }
                    if (!outDir.empty()) {
                        std::string stem = std::filesystem::path(item.input).stem().string();
                        if (item.frame >= 0) {
                            stem += "_f" + std::to_string(item.frame);
                        }
                        overlayFile = outDir + "/" + stem + "." + saliencyName(*method) + ".png";
                        writePng(overlay(split, map), overlayFile);
                    }
                    if (!study.empty()) {
                        captureFile =
                            writeCapture(dicomDir, sourceSop, item, card, p, target, *method,
                                         overlay(split, map), captureSeries[study]);
                        dicomResults.push_back(captureFile);
                        parametricFile = writeParametricMap(dicomDir, sourceSop, item, card, target,
                                                            *method, map, mapSeries[study]);
                        if (!parametricFile.empty()) {
                            dicomResults.push_back(parametricFile);
                        }
                    }
                }
            } catch (const std::exception& e) {
                errors.push_back({input, input + ": " + e.what()});
                break;
            }
            json.beginObject();
            json.field("input", item.input);
            if (item.frame >= 0) {
                json.field("frame", item.frame);
            }
            json.key("probabilities").beginObject();
            for (std::size_t k = 0; k < card.classNames.size(); ++k) {
                json.field(card.classNames[k], p[k]);
            }
            json.endObject();
            json.field("predicted", card.classNames[std::size_t(predicted)]);
            if (card.task == "multi-label") {
                // Every class at or above 0.5: a multi-label image may have several, or none.
                json.key("positive").beginArray();
                for (std::size_t k = 0; k < card.classNames.size(); ++k) {
                    if (p[k] >= 0.5) {
                        json.value(card.classNames[k]);
                    }
                }
                json.endArray();
            }
            if (method) {
                json.key("saliency").beginObject();
                json.field("method", saliencyName(*method));
                if (*method == SaliencyMethod::GradCam && card.gradCamFlipAverage) {
                    json.field("flipAveraged", true);
                }
                json.field("class", card.classNames[std::size_t(target)]);
                json.field("seconds", map.seconds);
                // Where the evidence is strongest, in image pixels (column, row).
                const std::size_t peak = std::size_t(
                    std::max_element(map.values.begin(), map.values.end()) - map.values.begin());
                json.key("peak").beginArray();
                json.value(peak % map.width).value(peak / map.width);
                json.endArray();
                if (args.has("--faithfulness")) {
                    json.field("deletionAuc", faithful.deletionAuc);
                    json.field("insertionAuc", faithful.insertionAuc);
                }
                if (!overlayFile.empty()) {
                    json.field("overlay", overlayFile);
                }
                if (!captureFile.empty()) {
                    json.field("capture", captureFile);
                }
                if (!parametricFile.empty()) {
                    json.field("parametricMap", parametricFile);
                }
                json.endObject();
            }
            json.endObject();
            if (!study.empty()) {
                ImageClassification c;
                c.sourcePath = item.input;
                c.frame = item.frame;
                for (std::size_t k = 0; k < card.classNames.size(); ++k) {
                    c.findings.push_back({card.classNames[k], p[k]});
                }
                c.predicted = card.classNames[std::size_t(predicted)];
                c.saliencyMethod = method ? saliencyName(*method) : "";
                c.saliencyCapturePath = captureFile;
                if (classified.count(study) == 0) {
                    studies.push_back(study);
                }
                classified[study].push_back(c);
            }
        }
    }
    json.endArray();
    if (!dicomDir.empty()) {
        const ModelIdentity model{card.id, card.version, card.architecture, card.weightsSha256};
        for (const std::string& study : studies) {
            const std::string file = dicomDir + "/classification-" + study + ".dcm";
            try {
                writeClassificationReport(classified[study], model, file);
                dicomResults.push_back(file);
            } catch (const std::exception& e) {
                errors.push_back({file, e.what()});
            }
        }
        json.key("dicomResults").beginArray();
        for (const std::string& file : dicomResults) {
            json.value(file);
        }
        json.endArray();
        json.key("dicomSkipped").beginArray();
        for (const auto& [input, reason] : dicomSkipped) {
            json.beginObject().field("input", input).field("reason", reason).endObject();
            std::fprintf(stderr, "%s: %s: %s\n", kProgram, command.c_str(), reason.c_str());
        }
        json.endArray();
    }
    json.key("errors").beginArray();
    for (const auto& [input, reason] : errors) {
        json.beginObject();
        json.field("input", input);
        json.field("reason", reason);
        json.endObject();
        std::fprintf(stderr, "%s: %s: %s\n", kProgram, command.c_str(), reason.c_str());
    }
    json.endArray();
    json.endObject();
    std::cout << "\n";
    return errors.empty() ? 0 : 1;
}

namespace {

const char* kDemoModelHelp = R"(usage: radiolens-cli demo-model [--out MODEL_DIR] [--force] [--json]

Trains the built-in demo's classifier with Radiolens's own training code: a small CNN that
tells synthetic chest radiographs with a nodule-like opacity from those without (1600
training, 200 validation images at 128 px), then measures it on 200 held-out test radiographs: AUC,
accuracy, and on each test radiograph with a nodule whether the Grad-CAM maximum falls inside
the nodule. 'radiolens --demo' does the same in the background the first time it runs. About a
minute on two cores; progress on stderr.

  --out MODEL_DIR  where the model package goes (default: the user's data folder,
                   models/demo-chest, where 'radiolens --demo' looks)
  --force          train again even when a demo model is already there
  --json           print the measurements as JSON
)";

} // namespace

int runDemoModel(const std::vector<std::string>& argv) {
    const std::string command = "demo-model";
    const Arguments args = parse(command, argv, {"--help", "--force", "--json"}, {"--out"});
    if (args.has("--help")) {
        std::cout << kDemoModelHelp;
        return 0;
    }
    checkArguments(command, args, {});
    const std::string dir = args.get("--out", demoChestModelFolder());
    DemoChestReport report;
    if (!args.has("--force") && std::filesystem::exists(dir + "/card.json")) {
        // Already trained: measure it again.
        MlEngine& ml = engine(command);
        try {
            report = measureDemoChestModel(ml, dir);
        } catch (const std::exception& e) {
            throw CliError{command + ": " + e.what()};
        }
    } else {
        MlEngine& ml = engine(command);
        try {
            report = trainDemoChestModel(ml, dir, terminalTrainObserver());
        } catch (const std::exception& e) {
            throw CliError{command + ": " + e.what()};
        }
    }
    const std::string hit = report.card.training["gradcam-peak-in-lesion"];
    std::fprintf(stderr,
                 "demo model in %s: test AUC %.4f, accuracy %.4f; Grad-CAM peak in lesion %s\n",
                 dir.c_str(), report.test.auc, report.test.accuracy, hit.c_str());
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject();
        json.field("model", dir);
        json.field("id", report.card.id);
        json.field("version", report.card.version);
        json.field("weightsSha256", report.card.weightsSha256);
        json.key("test").beginObject();
        writeMetricsFields(json, report.test);
        json.endObject();
        json.field("gradcamPeakInLesion", hit.empty() ? 0.0 : std::stod(hit));
        json.endObject();
        std::cout << "\n";
    }
    return 0;
}

} // namespace radiolens::cli
