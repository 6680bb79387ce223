#pragma once
// Two model versions measured on the same images, as a clinician needs to see them before the
// new one is used: ROC curves, confusion matrices, reliability (calibration) with ECE, and
// sensitivity and specificity at a chosen threshold; and the same as an HTML report.

#include "core/domain/ModelCard.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace radiolens {

/// One bin of a reliability diagram: predictions whose confidence (probability of the
/// predicted class) fell in [lower, upper).
struct CalibrationBin {
    double lower = 0.0;
    double upper = 0.0;
    double meanConfidence = 0.0;
    double accuracy = 0.0; ///< share of those predictions that were right
    std::size_t count = 0;
};

/// One model on the comparison set.
struct ModelEvaluation {
    std::string modelId;
    std::string version;
    std::string parentVersion;
    std::string labelSetSha256;
    std::vector<double> probabilities; ///< n x classes, calibrated, row-major
    /// AUC (positive class; multi-class: mean one-vs-rest), accuracy, sensitivity and
    /// specificity at the threshold (binary; multi-class: mean recall and mean one-vs-rest
    /// specificity of the most probable class), ECE with 15 bins, n.
    ModelMetrics metrics;
    /// ROC curve of the positive class (binary) or of each class one-vs-rest, flattened for
    /// class 1 only when binary: (false positive rate, true positive rate), from (0,0) to (1,1).
    std::vector<std::pair<double, double>> roc;
    std::vector<std::vector<int>> confusion; ///< [true class][predicted class]
    std::vector<CalibrationBin> calibration; ///< 15 equal-width bins of confidence
};

/// Two (or more) models on one labelled set.
struct ModelComparison {
    std::string setDescription; ///< what the images are ("the store's validation patients")
    std::vector<std::string> classNames;
    std::vector<int> labels; ///< the true class of each image
    double threshold = 0.5;  ///< probability of the positive class above which it is called
    std::vector<ModelEvaluation> models;
    /// AUC of the second model minus the first's, with a paired percentile bootstrap 95 %
    /// interval (1,000 resamples of the images); NaN with fewer than two models.
    double aucDifference = 0.0;
    double aucDifferenceLow = 0.0;
    double aucDifferenceHigh = 0.0;
};

/// Measures a model from its probabilities (n x classes) on images with `labels`.
ModelEvaluation evaluateProbabilities(const ModelCard& card, std::vector<double> probabilities,
                                      const std::vector<int>& labels, double threshold);

/// The comparison of `evaluations` (made on the same images, same order) with the paired
/// bootstrap of the AUC difference of the first two.
ModelComparison compareEvaluations(std::vector<ModelEvaluation> evaluations,
                                   const std::vector<std::string>& classNames,
                                   const std::vector<int>& labels, double threshold,
                                   const std::string& setDescription);

/// The comparison as a self-contained HTML page: a table of figures, the ROC curves and the
/// reliability diagrams as inline SVG, the confusion matrices, and what each model is (id,
/// version, parent, label-set hash). `generatedAt` is printed as given.
std::string comparisonReportHtml(const ModelComparison& comparison, const std::string& generatedAt);

} // namespace radiolens
