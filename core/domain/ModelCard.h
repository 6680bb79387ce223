#pragma once

#include <map>
#include <string>
#include <vector>

namespace radiolens {

/// How an image is turned into the network's input.
struct InputSpec {
    std::vector<std::string> modalities; ///< accepted DICOM modalities ("CR", "DX"); empty: any
    int size = 28;                       ///< square input, pixels
    int channels = 1;                    ///< 1 grey, 3 colour
    /// "normalize": value = (pixel / 255 - mean) / std on 8-bit pixels (MedMNIST-style data);
    /// "window": DICOM values are windowed with center/width to [0, 1] first, then normalised.
    std::string preprocessing = "normalize";
    double mean = 0.5;
    double std = 0.25;
    double windowCenter = 0.0; ///< "window" only (HU for CT)
    double windowWidth = 0.0;
};

/// Figures of one evaluation.
struct ModelMetrics {
    double auc = 0.0; ///< binary: of the positive class; otherwise the mean one-vs-rest AUC
    double accuracy = 0.0;
    double sensitivity = 0.0;
    double specificity = 0.0;
    double ece = 0.0; ///< expected calibration error, 15 equal-width confidence bins
    std::size_t n = 0;
};

class JsonWriter;

/// Writes the fields of `m` (auc, accuracy, sensitivity, specificity, ece, n) into the JSON
/// object being written.
void writeMetricsFields(JsonWriter& json, const ModelMetrics& m);

/// The card that travels with a model's weights: what it is, what it accepts, how it was made
/// and how well it did. Stored as `card.json` next to the weights; loading checks the weights
/// against `weightsSha256` and the architecture against the weights.
struct ModelCard {
    std::string id;      ///< e.g. "pneumonia-resnet18"
    std::string version; ///< e.g. "1", or a time stamp
    std::string format =
        "torch-nn"; ///< "torch-nn" (torch::save of a built-in module) or "torchscript"
    std::string architecture = "resnet18"; ///< resnet18, resnet34, densenet121, smallcnn
    std::string stem = "small";            ///< small or standard (built-in architectures)
    int width = 64;                        ///< channels of the first stage
    /// How the last feature map becomes one vector: "average" (global average pooling) or
    /// "max" (global max pooling: each feature counts where it is strongest, which keeps a
    /// small lesion's evidence in one place).
    std::string pooling = "average";
    /// Grad-CAM averages the maps of the image and its three mirror images (each mapped back),
    /// which cancels any offset between where a feature fires and where the object is.
    bool gradCamFlipAverage = false;
    std::string task = "binary"; ///< binary, multi-class, multi-label
    std::vector<std::string> classNames;
    InputSpec input;
    double temperature = 1.0; ///< logits are divided by it (calibration fitted on validation)
    std::map<std::string, std::string> training; ///< dataset, split sizes, epochs, seconds, ...
    std::map<std::string, ModelMetrics> metrics; ///< by split: "validation", "test"
    std::string weightsFile = "model.pt";
    std::string weightsSha256;
    std::string parentVersion; ///< the version this one was fine-tuned from, if any

    /// The card as JSON.
    std::string toJson() const;
    /// Parses a card. Throws std::runtime_error naming the field that is missing or wrong.
    static ModelCard fromJson(const std::string& text);
    /// Reads `<dir>/card.json`. Throws std::runtime_error naming the file and the problem.
    static ModelCard read(const std::string& dir);
    /// Writes `<dir>/card.json` atomically (a temporary file, then a rename).
    void write(const std::string& dir) const;
};

} // namespace radiolens
