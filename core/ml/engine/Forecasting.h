#pragma once
// Plugin-internal (core/ml/engine): the GRU-D ensemble risk forecaster, its training and its
// attributions.

#include "core/ml/MlEngine.h"

#include <memory>
#include <string>
#include <vector>

namespace radiolens::ml {

/// Trains the ensemble on `stays` (see MlEngine::trainForecaster).
///
/// Recipe: every member is a GRU-D network (input decay towards the training mean, hidden-state
/// decay, masks as inputs) whose initial state and gates also see the static features; a
/// linear read-out gives a logit at every hour. The members are trained together (their
/// weights stacked, so the ensemble costs little more than one network) from different initial
/// weights, with Adam, dropout on the read-out, and a loss that weighs the last hour as much as
/// the whole trajectory (hour h weighted by h). The epoch with the best validation AUROC of the
/// ensemble at the last hour is kept; then one logistic calibration per hour is fitted on
/// validation. Deterministic for a seed and thread count.
ForecastCard trainForecaster(const std::vector<const PatientStay*>& stays,
                             const ForecastTrainOptions& options, const ForecastObserver& observer);

/// Loads a forecaster package (forecast.json, the weights and stays.json checked against it).
std::unique_ptr<Forecaster> loadForecaster(const std::string& dir);

} // namespace radiolens::ml
