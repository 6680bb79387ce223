#pragma once
// Which unlabelled images an annotator should label first: the ones the active model is least
// sure about (uncertainty sampling), so each label teaches the next model the most.

#include <cstddef>
#include <string>
#include <vector>

namespace radiolens {

/// The order of a labelling worklist.
enum class WorklistOrder {
    Date,    ///< oldest study first (as the archive has them)
    Entropy, ///< highest predictive entropy of the active model first
    Margin,  ///< smallest margin between the two most probable classes first
};

/// "date", "entropy", "margin"; and back (false for anything else).
const char* toString(WorklistOrder order);
bool parseWorklistOrder(const std::string& text, WorklistOrder& order);

/// Entropy of one image's class probabilities, in nats: 0 when the model is certain, ln(k) when
/// it gives k classes equal probability.
double predictiveEntropy(const double* probabilities, int classes);
/// 1 minus the margin between the two most probable classes: 0 when certain, 1 when the top
/// two are tied.
double marginUncertainty(const double* probabilities, int classes);
/// The uncertainty of `order` (Entropy or Margin; 0 for Date).
double uncertainty(const double* probabilities, int classes, WorklistOrder order);

/// Indices of the images of `probabilities` (n x classes, row-major), most uncertain first by
/// `order` (Entropy or Margin); ties keep their original order.
std::vector<std::size_t> mostUncertainFirst(const std::vector<double>& probabilities, int classes,
                                            WorklistOrder order);

} // namespace radiolens
