#pragma once

#include "core/domain/ForecastCard.h"
#include "core/domain/ModelCard.h"

#include <string>
#include <vector>

namespace radiolens {

/// Area under the ROC curve of `scores` for `positive` (true: positive), ties counted half
/// (the Mann-Whitney statistic). NaN when one class is absent.
double rocAuc(const std::vector<double>& scores, const std::vector<bool>& positive);

/// Expected calibration error: the confidence of each prediction against whether it was right,
/// in `bins` equal-width bins, weighted by bin size.
double expectedCalibrationError(const std::vector<double>& confidence,
                                const std::vector<bool>& correct, int bins = 15);

/// Metrics of class probabilities `probabilities` (n x classes, row-major) against `labels`
/// (class indices). Binary (2 classes): AUC of class 1, accuracy, sensitivity and specificity
/// at probability `threshold` for class 1. More classes: mean one-vs-rest AUC and accuracy of
/// the most probable class; sensitivity is the mean recall, specificity the mean one-vs-rest
/// specificity. ECE uses the probability of the predicted class.
ModelMetrics classificationMetrics(const std::vector<double>& probabilities, int classes,
                                   const std::vector<int>& labels, double threshold = 0.5);

/// Metrics of a multi-label model: `probabilities` and `labels` are n x classes (independent
/// class probabilities; 0/1 labels). AUC, sensitivity and specificity are means over the
/// classes that have both positives and negatives, at probability `threshold`; accuracy is the
/// share of correct (image, class) decisions; ECE treats every decision as one prediction
/// with confidence max(p, 1 - p).
ModelMetrics multiLabelMetrics(const std::vector<double>& probabilities, int classes,
                               const std::vector<int>& labels, double threshold = 0.5);

/// classificationMetrics, or multiLabelMetrics when `task` is "multi-label".
ModelMetrics metricsForTask(const std::string& task, const std::vector<double>& probabilities,
                            int classes, const std::vector<int>& labels);

/// Average precision of `scores` for `positive`: the precision at each positive, in order of
/// decreasing score, averaged (ties enter together); the step-wise area under the
/// precision-recall curve. NaN without positives.
double averagePrecision(const std::vector<double>& scores, const std::vector<bool>& positive);

/// Mean squared difference between risks and outcomes (0 or 1).
double brierScore(const std::vector<double>& risks, const std::vector<bool>& positive);

/// AUROC, AUPRC (average precision), Brier score and ECE (risk against the observed rate, 15
/// equal-width bins) of `risks` against outcomes, each with a percentile bootstrap 95%
/// interval from `resamples` resamples of the cases drawn with `seed` (0 resamples: no
/// intervals). A resample without both outcomes is drawn again.
RiskMetrics riskMetrics(const std::vector<double>& risks, const std::vector<bool>& positive,
                        int resamples = 1000, unsigned seed = 1);

/// Logistic calibration (Platt scaling): the slope and intercept of p = sigmoid(slope * z +
/// intercept) that maximise the likelihood of `positive` given scores `z` (logits), with a
/// weak pull towards slope 1, intercept 0 so that a tiny or one-class set stays sane.
struct LogisticCalibration {
    double slope = 1.0;
    double intercept = 0.0;
};
LogisticCalibration fitLogisticCalibration(const std::vector<double>& z,
                                           const std::vector<bool>& positive);

} // namespace radiolens
