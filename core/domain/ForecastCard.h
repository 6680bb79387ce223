#pragma once
// The card of a patient-risk forecaster (issue 7): what the model reads, how its inputs are
// scaled, how its outputs are calibrated, how it was trained and how well it did. Stored as
// `forecast.json` next to the weights; plain C++ so that the GUI and the command line read it
// without loading LibTorch.

#include <cstddef>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace radiolens {

/// How one input is scaled: z = (f(value) - mean) / std, with f = log(1 + value) when
/// `logScale` (strongly skewed labs: lactate, creatinine, ALT) and the identity otherwise.
struct InputScaling {
    std::string variable; ///< catalogue name (PatientSeries.h): "HR", "Lactate", "Age"
    bool logScale = false;
    double mean = 0.0;
    double std = 1.0;
};

/// A figure with its bootstrap 95% interval (percentile method).
struct MetricInterval {
    double value = std::numeric_limits<double>::quiet_NaN();
    double low = std::numeric_limits<double>::quiet_NaN();
    double high = std::numeric_limits<double>::quiet_NaN();
};

/// How well predicted risks matched outcomes.
struct RiskMetrics {
    MetricInterval auroc; ///< area under the ROC curve
    MetricInterval auprc; ///< average precision (area under the precision-recall curve)
    MetricInterval brier; ///< mean squared error of the risk
    MetricInterval ece;   ///< expected calibration error of the risk, 15 equal-width bins
    std::size_t n = 0;
    std::size_t positives = 0;
    int resamples = 0; ///< bootstrap resamples behind the intervals
};

struct ForecastCard {
    std::string id;      ///< "physionet2012-mortality"
    std::string version; ///< time stamp of training
    std::string architecture = "gru-d-ensemble";
    std::string outcome = "in-hospital death";
    int hours = 48;  ///< the model reads hours [0, hours) of a stay, one step per hour
    int hidden = 64; ///< recurrent state size of each member
    int members = 5; ///< deep-ensemble members
    double dropout = 0.3;
    /// The time series the model reads, in its input order.
    std::vector<InputScaling> series;
    /// Scaling of the numeric statics: Age, Height, Weight (the first weight of the stay).
    std::vector<InputScaling> statics;
    /// Calibration fitted on validation stays, one pair per hour: risk at hour h =
    /// sigmoid(slope[h] * z + intercept[h]), z the ensemble's mean logit.
    std::vector<double> calibrationSlope;
    std::vector<double> calibrationIntercept;
    /// Risk at or above which the screen raises an alert: by default the validation risk that
    /// maximises min(sensitivity, positive predictive value) (PhysioNet 2012's event-1 score).
    double alertThreshold = 0.5;
    std::map<std::string, std::string> training; ///< data, split sizes, epochs, seconds, ...
    std::map<std::string, RiskMetrics> metrics;  ///< by split: "validation"
    std::string weightsFile = "forecast.pt";
    std::string weightsSha256;
    /// The ids of the stays training and validation used (stays.json), so that evaluation can
    /// leave them out.
    std::string staysFile = "stays.json";
    std::string staysSha256;

    std::string toJson() const;
    /// Parses a card. Throws std::runtime_error naming the field that is missing or wrong.
    static ForecastCard fromJson(const std::string& text);
    /// Reads `<dir>/forecast.json`. Throws std::runtime_error naming the file and the problem.
    static ForecastCard read(const std::string& dir);
    /// Writes `<dir>/forecast.json` atomically.
    void write(const std::string& dir) const;
};

class JsonWriter;
/// Writes `m` as the fields n, positives, resamples, and auroc, auprc, brier, ece each as
/// {value, low, high}, into the object being written.
void writeRiskMetricsFields(JsonWriter& json, const RiskMetrics& m);

} // namespace radiolens
