#include "core/ml/Metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace radiolens {

double rocAuc(const std::vector<double>& scores, const std::vector<bool>& positive) {
    if (scores.size() != positive.size()) {
        throw std::invalid_argument("rocAuc: one label per score");
    }
    std::vector<std::size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&scores](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
    // Sum of the (average, for ties) ranks of the positives.
    double rankSum = 0.0;
    std::size_t positives = 0;
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j < order.size() && scores[order[j]] == scores[order[i]]) {
            ++j;
        }
        const double rank = (double(i) + double(j - 1)) / 2.0 + 1.0;
        for (std::size_t k = i; k < j; ++k) {
            if (positive[order[k]]) {
                rankSum += rank;
                ++positives;
            }
        }
        i = j;
    }
    const std::size_t negatives = scores.size() - positives;
    if (positives == 0 || negatives == 0) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    return (rankSum - double(positives) * double(positives + 1) / 2.0) /
           (double(positives) * double(negatives));
}

double expectedCalibrationError(const std::vector<double>& confidence,
                                const std::vector<bool>& correct, int bins) {
    std::vector<double> sumConfidence(std::size_t(bins), 0.0);
    std::vector<double> sumCorrect(std::size_t(bins), 0.0);
    std::vector<std::size_t> count(std::size_t(bins), 0);
    for (std::size_t i = 0; i < confidence.size(); ++i) {
        const int b = std::clamp(int(confidence[i] * bins), 0, bins - 1);
        sumConfidence[std::size_t(b)] += confidence[i];
        sumCorrect[std::size_t(b)] += correct[i] ? 1.0 : 0.0;
        ++count[std::size_t(b)];
    }
    double ece = 0.0;
    for (int b = 0; b < bins; ++b) {
        if (count[std::size_t(b)] > 0) {
            ece += std::abs(sumConfidence[std::size_t(b)] - sumCorrect[std::size_t(b)]);
        }
    }
    return confidence.empty() ? 0.0 : ece / double(confidence.size());
}

namespace {

/// One-vs-rest figures averaged over classes; a class without both positives and negatives has
/// no AUC and is left out.
class PerClassFigures {
public:
    void add(const std::vector<double>& score, const std::vector<bool>& positive,
             const std::vector<bool>& predicted) {
        const double auc = rocAuc(score, positive);
        if (std::isnan(auc)) {
            return;
        }
        std::size_t tp = 0, fn = 0, tn = 0, fp = 0;
        for (std::size_t i = 0; i < score.size(); ++i) {
            if (positive[i]) {
                (predicted[i] ? tp : fn) += 1;
            } else {
                (predicted[i] ? fp : tn) += 1;
            }
        }
        m_auc += auc;
        m_sensitivity += double(tp) / double(tp + fn);
        m_specificity += double(tn) / double(tn + fp);
        ++m_counted;
    }
    void writeTo(ModelMetrics& m) const {
        m.auc = m_counted > 0 ? m_auc / m_counted : std::numeric_limits<double>::quiet_NaN();
        m.sensitivity = m_counted > 0 ? m_sensitivity / m_counted : 0.0;
        m.specificity = m_counted > 0 ? m_specificity / m_counted : 0.0;
    }

private:
    double m_auc = 0.0, m_sensitivity = 0.0, m_specificity = 0.0;
    int m_counted = 0;
};

} // namespace

ModelMetrics classificationMetrics(const std::vector<double>& probabilities, int classes,
                                   const std::vector<int>& labels, double threshold) {
    const std::size_t n = labels.size();
    if (classes < 2 || probabilities.size() != n * std::size_t(classes)) {
        throw std::invalid_argument("classificationMetrics: n x classes probabilities");
    }
    ModelMetrics m;
    m.n = n;
    std::vector<double> confidence(n);
    std::vector<bool> correct(n);
    std::size_t right = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double* p = &probabilities[i * std::size_t(classes)];
        int predicted = 0;
        if (classes == 2) {
            predicted = p[1] >= threshold ? 1 : 0;
        } else {
            predicted = int(std::max_element(p, p + classes) - p);
        }
        confidence[i] = p[predicted];
        correct[i] = predicted == labels[i];
        right += correct[i] ? 1 : 0;
    }
    m.accuracy = n ? double(right) / double(n) : 0.0;
    m.ece = expectedCalibrationError(confidence, correct);
    // One-vs-rest for every class (for two classes, class 1 only).
    PerClassFigures figures;
    for (int k = classes == 2 ? 1 : 0; k < classes; ++k) {
        std::vector<double> score(n);
        std::vector<bool> positive(n), predicted(n);
        for (std::size_t i = 0; i < n; ++i) {
            const double* p = &probabilities[i * std::size_t(classes)];
            score[i] = p[k];
            positive[i] = labels[i] == k;
            predicted[i] =
                classes == 2 ? p[1] >= threshold : int(std::max_element(p, p + classes) - p) == k;
        }
        figures.add(score, positive, predicted);
    }
    figures.writeTo(m);
    return m;
}

ModelMetrics multiLabelMetrics(const std::vector<double>& probabilities, int classes,
                               const std::vector<int>& labels, double threshold) {
    if (classes < 1 || labels.size() % std::size_t(classes) != 0 ||
        probabilities.size() != labels.size()) {
        throw std::invalid_argument("multiLabelMetrics: n x classes probabilities and labels");
    }
    const std::size_t n = labels.size() / std::size_t(classes);
    ModelMetrics m;
    m.n = n;
    std::vector<double> confidence(labels.size());
    std::vector<bool> correct(labels.size());
    std::size_t right = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const bool predicted = probabilities[i] >= threshold;
        confidence[i] = std::max(probabilities[i], 1.0 - probabilities[i]);
        correct[i] = predicted == (labels[i] != 0);
        right += correct[i] ? 1 : 0;
    }
    m.accuracy = labels.empty() ? 0.0 : double(right) / double(labels.size());
    m.ece = expectedCalibrationError(confidence, correct);
    PerClassFigures figures;
    for (int k = 0; k < classes; ++k) {
        std::vector<double> score(n);
        std::vector<bool> positive(n), predicted(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t at = i * std::size_t(classes) + std::size_t(k);
            score[i] = probabilities[at];
            positive[i] = labels[at] != 0;
            predicted[i] = score[i] >= threshold;
        }
        figures.add(score, positive, predicted);
    }
    figures.writeTo(m);
    return m;
}

ModelMetrics metricsForTask(const std::string& task, const std::vector<double>& probabilities,
                            int classes, const std::vector<int>& labels) {
    return task == "multi-label" ? multiLabelMetrics(probabilities, classes, labels)
                                 : classificationMetrics(probabilities, classes, labels);
}

} // namespace radiolens
