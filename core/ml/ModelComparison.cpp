#include "core/ml/ModelComparison.h"

#include "core/ml/Metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

int predictedClass(const double* p, int classes, double threshold) {
    if (classes == 2) {
        return p[1] >= threshold ? 1 : 0;
    }
    return int(std::max_element(p, p + classes) - p);
}

/// ROC points of `scores` for `positive`, ties taken together.
std::vector<std::pair<double, double>> rocCurve(const std::vector<double>& scores,
                                                const std::vector<bool>& positive) {
    std::vector<std::size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&scores](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    const double positives = double(std::count(positive.begin(), positive.end(), true));
    const double negatives = double(positive.size()) - positives;
    std::vector<std::pair<double, double>> curve{{0.0, 0.0}};
    if (positives == 0 || negatives == 0) {
        curve.emplace_back(1.0, 1.0);
        return curve;
    }
    double tp = 0.0, fp = 0.0;
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j < order.size() && scores[order[j]] == scores[order[i]]) {
            (positive[order[j]] ? tp : fp) += 1.0;
            ++j;
        }
        curve.emplace_back(fp / negatives, tp / positives);
        i = j;
    }
    return curve;
}

double aucOf(const std::vector<double>& probabilities, int classes, const std::vector<int>& labels,
             const std::vector<std::size_t>& rows) {
    std::vector<double> p;
    std::vector<int> l;
    p.reserve(rows.size() * std::size_t(classes));
    for (std::size_t r : rows) {
        p.insert(p.end(), probabilities.begin() + std::ptrdiff_t(r * std::size_t(classes)),
                 probabilities.begin() + std::ptrdiff_t((r + 1) * std::size_t(classes)));
        l.push_back(labels[r]);
    }
    return classificationMetrics(p, classes, l).auc;
}

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '&':
            out += "&amp;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string number(double value, int decimals = 3) {
    if (!std::isfinite(value)) {
        return "&ndash;";
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

/// A square plot with axes 0..1, a diagonal, and one polyline per series.
std::string svgPlot(const std::string& title, const std::string& xLabel, const std::string& yLabel,
                    const std::vector<std::vector<std::pair<double, double>>>& series,
                    const std::vector<std::string>& names, bool markers) {
    const double size = 300, left = 50, top = 30;
    const auto x = [&](double v) {
        return left + v * size;
    };
    const auto y = [&](double v) {
        return top + (1.0 - v) * size;
    };
    std::ostringstream svg;
    svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << left + size + 170 << "' height='"
        << top + size + 50 << "' font-family='sans-serif' font-size='12'>";
    svg << "<text x='" << left << "' y='18' font-weight='bold'>" << escape(title) << "</text>";
    svg << "<rect x='" << left << "' y='" << top << "' width='" << size << "' height='" << size
        << "' fill='none' stroke='#888'/>";
    for (int t = 0; t <= 4; ++t) {
        const double v = t / 4.0;
        svg << "<line x1='" << x(v) << "' y1='" << y(0) << "' x2='" << x(v) << "' y2='" << y(1)
            << "' stroke='#eee'/><line x1='" << x(0) << "' y1='" << y(v) << "' x2='" << x(1)
            << "' y2='" << y(v) << "' stroke='#eee'/>";
        svg << "<text x='" << x(v) - 8 << "' y='" << y(0) + 15 << "'>" << number(v, 2)
            << "</text><text x='" << left - 34 << "' y='" << y(v) + 4 << "'>" << number(v, 2)
            << "</text>";
    }
    svg << "<line x1='" << x(0) << "' y1='" << y(0) << "' x2='" << x(1) << "' y2='" << y(1)
        << "' stroke='#aaa' stroke-dasharray='4 4'/>";
    svg << "<text x='" << left + size / 2 - 40 << "' y='" << top + size + 35 << "'>"
        << escape(xLabel) << "</text>";
    svg << "<text transform='translate(14," << top + size / 2 + 40 << ") rotate(-90)'>"
        << escape(yLabel) << "</text>";
    for (std::size_t s = 0; s < series.size(); ++s) {
        const char* colour = kColours[s % std::size(kColours)];
        svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='2' points='";
        for (const auto& [px, py] : series[s]) {
            svg << x(px) << "," << y(py) << " ";
        }
        svg << "'/>";
        if (markers) {
            for (const auto& [px, py] : series[s]) {
                svg << "<circle cx='" << x(px) << "' cy='" << y(py) << "' r='3' fill='" << colour
                    << "'/>";
            }
        }
        svg << "<rect x='" << left + size + 15 << "' y='" << top + 10 + 20 * double(s)
            << "' width='12' height='12' fill='" << colour << "'/><text x='" << left + size + 32
            << "' y='" << top + 20 + 20 * double(s) << "'>" << escape(names[s]) << "</text>";
    }
    svg << "</svg>";
    return svg.str();
}

} // namespace

ModelEvaluation evaluateProbabilities(const ModelCard& card, std::vector<double> probabilities,
                                      const std::vector<int>& labels, double threshold) {
    const int classes = int(card.classNames.size());
    if (classes < 2 || probabilities.size() != labels.size() * std::size_t(classes)) {
        throw std::invalid_argument("evaluateProbabilities: n x classes probabilities");
    }
    ModelEvaluation e;
    e.modelId = card.id;
    e.version = card.version;
    e.parentVersion = card.parentVersion;
    const auto hash = card.training.find("labelSetSha256");
    e.labelSetSha256 = hash == card.training.end() ? std::string() : hash->second;
    e.metrics = classificationMetrics(probabilities, classes, labels, threshold);
    const std::size_t n = labels.size();
    // ROC: the positive class, or every (image, class) decision pooled (micro-average).
    std::vector<double> scores;
    std::vector<bool> positive;
    for (std::size_t i = 0; i < n; ++i) {
        for (int k = classes == 2 ? 1 : 0; k < classes; ++k) {
            scores.push_back(probabilities[i * std::size_t(classes) + std::size_t(k)]);
            positive.push_back(labels[i] == k);
        }
    }
    e.roc = rocCurve(scores, positive);
    e.confusion.assign(std::size_t(classes), std::vector<int>(std::size_t(classes), 0));
    const int bins = 15;
    e.calibration.resize(bins);
    for (int b = 0; b < bins; ++b) {
        e.calibration[std::size_t(b)].lower = double(b) / bins;
        e.calibration[std::size_t(b)].upper = double(b + 1) / bins;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double* p = &probabilities[i * std::size_t(classes)];
        const int predicted = predictedClass(p, classes, threshold);
        ++e.confusion[std::size_t(labels[i])][std::size_t(predicted)];
        const double confidence = p[predicted];
        CalibrationBin& bin =
            e.calibration[std::size_t(std::clamp(int(confidence * bins), 0, bins - 1))];
        bin.meanConfidence += confidence;
        bin.accuracy += predicted == labels[i] ? 1.0 : 0.0;
        ++bin.count;
    }
    for (CalibrationBin& bin : e.calibration) {
        if (bin.count > 0) {
            bin.meanConfidence /= double(bin.count);
            bin.accuracy /= double(bin.count);
        }
    }
    e.probabilities = std::move(probabilities);
    return e;
}

ModelComparison compareEvaluations(std::vector<ModelEvaluation> evaluations,
                                   const std::vector<std::string>& classNames,
                                   const std::vector<int>& labels, double threshold,
                                   const std::string& setDescription) {
    ModelComparison c;
    c.setDescription = setDescription;
    c.classNames = classNames;
    c.labels = labels;
    c.threshold = threshold;
    c.models = std::move(evaluations);
    c.aucDifference = c.aucDifferenceLow = c.aucDifferenceHigh =
        std::numeric_limits<double>::quiet_NaN();
    if (c.models.size() < 2 || labels.empty()) {
        return c;
    }
    const int classes = int(classNames.size());
    c.aucDifference = c.models[1].metrics.auc - c.models[0].metrics.auc;
    std::mt19937_64 random(12345);
    std::uniform_int_distribution<std::size_t> pick(0, labels.size() - 1);
    std::vector<double> differences;
    std::vector<std::size_t> rows(labels.size());
    for (int r = 0; r < 1000; ++r) {
        for (std::size_t& row : rows) {
            row = pick(random);
        }
        const double a = aucOf(c.models[0].probabilities, classes, labels, rows);
        const double b = aucOf(c.models[1].probabilities, classes, labels, rows);
        if (std::isfinite(a) && std::isfinite(b)) {
            differences.push_back(b - a);
        }
    }
    if (differences.size() >= 100) {
        std::sort(differences.begin(), differences.end());
        c.aucDifferenceLow = differences[std::size_t(0.025 * double(differences.size()))];
        c.aucDifferenceHigh = differences[std::size_t(0.975 * double(differences.size() - 1))];
    }
    return c;
}

std::string comparisonReportHtml(const ModelComparison& c, const std::string& generatedAt) {
    std::ostringstream html;
    const std::size_t positives =
        c.classNames.size() == 2 ? std::size_t(std::count(c.labels.begin(), c.labels.end(), 1)) : 0;
    html << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Radiolens model "
            "comparison</title><style>body{font-family:sans-serif;margin:2em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px "
            "10px;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}"
            ".plots{display:flex;flex-wrap:wrap;gap:2em}</style></head><body>";
    html << "<h1>Model comparison</h1><p>Generated by Radiolens " << escape(generatedAt)
         << ". Images: " << escape(c.setDescription) << ", " << c.labels.size() << " in all";
    if (c.classNames.size() == 2) {
        html << " (" << positives << " " << escape(c.classNames[1]) << ", "
             << c.labels.size() - positives << " " << escape(c.classNames[0]) << ")";
    }
    html << ". Threshold: " << escape(c.classNames.size() == 2 ? c.classNames[1] : "top class")
         << " when its probability is at least " << number(c.threshold, 2) << ".</p>";

    html << "<h2>Figures</h2><table><tr><th class='l'>model</th><th class='l'>version</th>"
            "<th class='l'>parent</th><th>AUC</th><th>accuracy</th><th>sensitivity</th>"
            "<th>specificity</th><th>ECE (15 bins)</th><th>n</th><th class='l'>label set "
            "(SHA-256)</th></tr>";
    for (const ModelEvaluation& e : c.models) {
        html << "<tr><td class='l'>" << escape(e.modelId) << "</td><td class='l'>"
             << escape(e.version) << "</td><td class='l'>"
             << escape(e.parentVersion.empty() ? "-" : e.parentVersion) << "</td><td>"
             << number(e.metrics.auc) << "</td><td>" << number(e.metrics.accuracy) << "</td><td>"
             << number(e.metrics.sensitivity) << "</td><td>" << number(e.metrics.specificity)
             << "</td><td>" << number(e.metrics.ece) << "</td><td>" << e.metrics.n
             << "</td><td class='l'><code>"
             << escape(e.labelSetSha256.empty() ? "-" : e.labelSetSha256.substr(0, 16))
             << "</code></td></tr>";
    }
    html << "</table>";
    if (c.models.size() >= 2) {
        html << "<p>AUC of " << escape(c.models[1].version) << " minus "
             << escape(c.models[0].version) << ": <b>" << (c.aucDifference >= 0 ? "+" : "")
             << number(c.aucDifference) << "</b> (paired bootstrap 95 % interval "
             << number(c.aucDifferenceLow) << " to " << number(c.aucDifferenceHigh)
             << ", 1,000 resamples of the images).</p>";
    }

    std::vector<std::vector<std::pair<double, double>>> rocs, reliability;
    std::vector<std::string> names;
    for (const ModelEvaluation& e : c.models) {
        rocs.push_back(e.roc);
        names.push_back(e.version + " (AUC " + number(e.metrics.auc) + ")");
        std::vector<std::pair<double, double>> points;
        for (const CalibrationBin& bin : e.calibration) {
            if (bin.count > 0) {
                points.emplace_back(bin.meanConfidence, bin.accuracy);
            }
        }
        reliability.push_back(points);
    }
    std::vector<std::string> eceNames;
    for (const ModelEvaluation& e : c.models) {
        eceNames.push_back(e.version + " (ECE " + number(e.metrics.ece) + ")");
    }
    html << "<h2>ROC curves and reliability</h2><div class='plots'>"
         << svgPlot(c.classNames.size() == 2 ? "ROC: " + c.classNames[1]
                                             : "ROC (every class, pooled)",
                    "false positive rate (1 - specificity)", "true positive rate (sensitivity)",
                    rocs, names, false)
         << svgPlot("Reliability (15 bins of confidence)", "confidence of the predicted class",
                    "share right", reliability, eceNames, true)
         << "</div>";

    html << "<h2>Confusion matrices</h2><div class='plots'>";
    for (const ModelEvaluation& e : c.models) {
        html << "<table><tr><th class='l'>" << escape(e.version) << ": true \\ called</th>";
        for (const std::string& name : c.classNames) {
            html << "<th>" << escape(name) << "</th>";
        }
        html << "</tr>";
        for (std::size_t t = 0; t < c.classNames.size(); ++t) {
            html << "<tr><th class='l'>" << escape(c.classNames[t]) << "</th>";
            for (std::size_t p = 0; p < c.classNames.size(); ++p) {
                html << "<td" << (t == p ? " style='background:#e8f4e8'" : "") << ">"
                     << e.confusion[t][p] << "</td>";
            }
            html << "</tr>";
        }
        html << "</table>";
    }
    html << "</div></body></html>\n";
    return html.str();
}

} // namespace radiolens
