#pragma once
// Patient risk forecasts (issue 7), as the rest of Radiolens sees them: plain C++. The model is
// a deep ensemble of GRU-D networks (Che et al., Scientific Reports 2018) trained and run inside
// the ML plugin (core/ml/engine/Forecasting.cpp).

#include "core/domain/ForecastCard.h"
#include "core/domain/PatientSeries.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// How MlEngine::trainForecaster trains. The defaults work on PhysioNet 2012 without tuning.
struct ForecastTrainOptions {
    int hours = 48;  ///< horizon: the model reads hours [0, hours) of each stay
    int hidden = 64; ///< recurrent state size of each member
    int members = 5; ///< deep-ensemble members, trained together from different seeds
    double dropout = 0.3;
    int epochs = 30;  ///< at most
    int patience = 6; ///< epochs without a better validation AUROC before stopping
    int batchSize = 64;
    double learningRate = 2e-3;
    /// Share of the given stays kept for validation (early stopping, calibration, the alert
    /// threshold), chosen by a hash of the stay id (stayInPart, salt `validationSalt`).
    double validationFraction = 0.15;
    std::string validationSalt = "validation"; ///< another salt: another validation part
    unsigned seed = 1;  ///< the same seed, data and threads give the same model
    std::string outDir; ///< the model package is written here (created)
    std::string id = "physionet2012-mortality";
    std::string dataDescription; ///< what it was trained on, for the card ("set-a, set-b")
};

/// Where a training run is; passed to the observer after every batch and epoch.
struct ForecastTrainStatus {
    int epoch = 0; ///< 1-based; 0 before the first
    int epochs = 0;
    double fraction = 0.0;  ///< of the whole run (at most `epochs` epochs), 0..1
    double trainLoss = 0.0; ///< mean over the epoch so far
    double validationAuroc = 0.0;
    double bestValidationAuroc = 0.0;
    double seconds = 0.0;
    bool epochEnded = false;
};

/// Receives progress on the training thread; returning false cancels the run.
using ForecastObserver = std::function<bool(const ForecastTrainStatus&)>;

/// A stay's risk of the card's outcome, hour by hour: at hour h (1..hours) the risk given what
/// was measured before h. The band spans the ensemble mean logit plus and minus two standard
/// deviations of the members' logits, calibrated like the risk: where the members disagree,
/// it is wide.
struct RiskTrajectory {
    std::string stayId;
    std::vector<double> hours; ///< 1, 2, ..., card.hours
    std::vector<double> risk;  ///< calibrated, 0..1
    std::vector<double> low;
    std::vector<double> high;
    std::vector<double> uncalibrated;   ///< sigmoid of the ensemble's mean logit
    std::size_t valuesAfterHorizon = 0; ///< measurements after the last hour, not read
};

/// What moved one stay's risk at one hour: integrated gradients (Sundararajan et al. 2017) of
/// the calibrated risk from a baseline stay with the same measurements at the same times but
/// every value, and every static, at the training mean. Contributions are in risk units and add
/// up to risk - baselineRisk (up to the integral's discretisation, `completenessError`).
struct RiskContribution {
    std::string variable; ///< "Lactate", or a static feature ("Age", "ICU medical")
    bool isStatic = false;
    double total = 0.0;         ///< summed over hours
    std::vector<double> byHour; ///< by the hour the value was measured (time series only)
};

struct RiskExplanation {
    int hour = 0;
    double risk = 0.0;
    double baselineRisk = 0.0;
    double completenessError = 0.0;              ///< |sum of contributions - (risk - baselineRisk)|
    std::vector<RiskContribution> contributions; ///< by decreasing |total|
    double seconds = 0.0;
};

/// A loaded forecaster. Thread-safety: one call at a time.
class Forecaster {
public:
    virtual ~Forecaster() = default;
    virtual const ForecastCard& card() const = 0;
    /// The trajectory of every stay, in order; valuesAfterHorizon is counted for one stay.
    virtual std::vector<RiskTrajectory> forecast(const std::vector<const PatientStay*>& stays) = 0;
    /// What moved `stay`'s risk at `hour` (1..card.hours), with `steps` integration steps.
    /// Throws std::invalid_argument for an hour out of range.
    virtual RiskExplanation explain(const PatientStay& stay, int hour, int steps = 64) = 0;
};

} // namespace radiolens
