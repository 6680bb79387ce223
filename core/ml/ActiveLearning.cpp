#include "core/ml/ActiveLearning.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace radiolens {

const char* toString(WorklistOrder order) {
    switch (order) {
    case WorklistOrder::Date:
        return "date";
    case WorklistOrder::Entropy:
        return "entropy";
    case WorklistOrder::Margin:
        return "margin";
    }
    return "date";
}

bool parseWorklistOrder(const std::string& text, WorklistOrder& order) {
    for (WorklistOrder o : {WorklistOrder::Date, WorklistOrder::Entropy, WorklistOrder::Margin}) {
        if (text == toString(o)) {
            order = o;
            return true;
        }
    }
    return false;
}

double predictiveEntropy(const double* p, int classes) {
    double h = 0.0;
    for (int k = 0; k < classes; ++k) {
        if (p[k] > 0.0) {
            h -= p[k] * std::log(p[k]);
        }
    }
    return h;
}

double marginUncertainty(const double* p, int classes) {
    double first = 0.0, second = 0.0;
    for (int k = 0; k < classes; ++k) {
        if (p[k] > first) {
            second = first;
            first = p[k];
        } else if (p[k] > second) {
            second = p[k];
        }
    }
    return 1.0 - (first - second);
}

double uncertainty(const double* probabilities, int classes, WorklistOrder order) {
    switch (order) {
    case WorklistOrder::Entropy:
        return predictiveEntropy(probabilities, classes);
    case WorklistOrder::Margin:
        return marginUncertainty(probabilities, classes);
    case WorklistOrder::Date:
        break;
    }
    return 0.0;
}

std::vector<std::size_t> mostUncertainFirst(const std::vector<double>& probabilities, int classes,
                                            WorklistOrder order) {
    const std::size_t n = classes > 0 ? probabilities.size() / std::size_t(classes) : 0;
    std::vector<double> score(n);
    for (std::size_t i = 0; i < n; ++i) {
        score[i] = uncertainty(probabilities.data() + i * std::size_t(classes), classes, order);
    }
    std::vector<std::size_t> indices(n);
    std::iota(indices.begin(), indices.end(), 0);
    std::stable_sort(indices.begin(), indices.end(),
                     [&score](std::size_t a, std::size_t b) { return score[a] > score[b]; });
    return indices;
}

} // namespace radiolens
