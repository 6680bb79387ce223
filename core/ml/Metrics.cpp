#include "core/ml/Metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
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

double averagePrecision(const std::vector<double>& scores, const std::vector<bool>& positive) {
    if (scores.size() != positive.size()) {
        throw std::invalid_argument("averagePrecision: one label per score");
    }
    std::vector<std::size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&scores](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    const auto positives = std::size_t(std::count(positive.begin(), positive.end(), true));
    if (positives == 0) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    double ap = 0.0;
    std::size_t truePositives = 0;
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        std::size_t newPositives = 0;
        while (j < order.size() && scores[order[j]] == scores[order[i]]) {
            newPositives += positive[order[j]] ? 1 : 0;
            ++j;
        }
        truePositives += newPositives;
        ap += double(newPositives) / double(positives) * double(truePositives) / double(j);
        i = j;
    }
    return ap;
}

double brierScore(const std::vector<double>& risks, const std::vector<bool>& positive) {
    double sum = 0.0;
    for (std::size_t i = 0; i < risks.size(); ++i) {
        const double d = risks[i] - (positive[i] ? 1.0 : 0.0);
        sum += d * d;
    }
    return risks.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / double(risks.size());
}

namespace {

struct RiskFigures {
    double auroc, auprc, brier, ece;
};

RiskFigures riskFigures(const std::vector<double>& risks, const std::vector<bool>& positive) {
    return {rocAuc(risks, positive), averagePrecision(risks, positive), brierScore(risks, positive),
            expectedCalibrationError(risks, positive, 15)};
}

/// The 2.5th and 97.5th percentiles of `values` into `m`.
void percentileInterval(std::vector<double> values, MetricInterval& m) {
    std::sort(values.begin(), values.end());
    const auto at = [&values](double q) {
        const double x = q * double(values.size() - 1);
        const auto lo = std::size_t(std::floor(x));
        const auto hi = std::min(lo + 1, values.size() - 1);
        return values[lo] + (x - double(lo)) * (values[hi] - values[lo]);
    };
    m.low = at(0.025);
    m.high = at(0.975);
}

} // namespace

RiskMetrics riskMetrics(const std::vector<double>& risks, const std::vector<bool>& positive,
                        int resamples, unsigned seed) {
    if (risks.size() != positive.size()) {
        throw std::invalid_argument("riskMetrics: one outcome per risk");
    }
    RiskMetrics m;
    m.n = risks.size();
    m.positives = std::size_t(std::count(positive.begin(), positive.end(), true));
    const RiskFigures all = riskFigures(risks, positive);
    m.auroc.value = all.auroc;
    m.auprc.value = all.auprc;
    m.brier.value = all.brier;
    m.ece.value = all.ece;
    if (resamples <= 0 || m.positives == 0 || m.positives == m.n) {
        return m;
    }
    m.resamples = resamples;
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<std::size_t> pick(0, risks.size() - 1);
    std::vector<double> auroc, auprc, brier, ece;
    std::vector<double> r(risks.size());
    std::vector<bool> p(risks.size());
    while (int(auroc.size()) < resamples) {
        std::size_t drawnPositives = 0;
        for (std::size_t i = 0; i < risks.size(); ++i) {
            const std::size_t k = pick(random);
            r[i] = risks[k];
            p[i] = positive[k];
            drawnPositives += p[i] ? 1 : 0;
        }
        if (drawnPositives == 0 || drawnPositives == risks.size()) {
            continue;
        }
        const RiskFigures f = riskFigures(r, p);
        auroc.push_back(f.auroc);
        auprc.push_back(f.auprc);
        brier.push_back(f.brier);
        ece.push_back(f.ece);
    }
    percentileInterval(auroc, m.auroc);
    percentileInterval(auprc, m.auprc);
    percentileInterval(brier, m.brier);
    percentileInterval(ece, m.ece);
    return m;
}

LogisticCalibration fitLogisticCalibration(const std::vector<double>& z,
                                           const std::vector<bool>& positive) {
    // Newton's method on the penalised negative log-likelihood; the penalty (a Gaussian prior
    // of standard deviation 10 around slope 1, intercept 0) keeps the Hessian invertible.
    constexpr double kPrior = 0.01;
    double a = 1.0;
    double b = 0.0;
    for (int iteration = 0; iteration < 100; ++iteration) {
        double ga = kPrior * (a - 1.0), gb = kPrior * b;
        double haa = kPrior, hab = 0.0, hbb = kPrior;
        for (std::size_t i = 0; i < z.size(); ++i) {
            const double p = 1.0 / (1.0 + std::exp(-(a * z[i] + b)));
            const double d = p - (positive[i] ? 1.0 : 0.0);
            const double w = std::max(p * (1.0 - p), 1e-12);
            ga += d * z[i];
            gb += d;
            haa += w * z[i] * z[i];
            hab += w * z[i];
            hbb += w;
        }
        const double det = haa * hbb - hab * hab;
        if (!(det > 0)) {
            break;
        }
        const double da = (hbb * ga - hab * gb) / det;
        const double db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if (std::abs(da) + std::abs(db) < 1e-10) {
            break;
        }
    }
    return {a, b};
}

} // namespace radiolens
