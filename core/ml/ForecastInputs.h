#pragma once
// How stays (core/domain/PatientSeries.h) become the forecaster's input: an hourly grid in the
// manner of GRU-D (Che et al., Scientific Reports 2018). Hour h holds what was measured in
// [h, h + 1) hours after admission (a measurement at exactly `hours`, as PhysioNet's 48:00,
// goes to the last hour). For each series and hour: the scaled mean of the hour's
// measurements, whether there was one (the mask), the hours since the series was last measured
// before this hour, and the last scaled measurement so far (what GRU-D decays towards the
// mean). Plain C++: the command line and the tests use it without LibTorch.

#include "core/domain/ForecastCard.h"
#include "core/domain/PatientSeries.h"

#include <cstddef>
#include <string>
#include <vector>

namespace radiolens {

/// The static features the forecaster reads, in order: Age, Age missing, Gender (+1 male, -1
/// female, 0 unknown), Height, Height missing, Weight, Weight missing, and ICU type one-hot
/// (coronary care, cardiac surgery recovery, medical, surgical).
const std::vector<std::string>& forecastStaticFeatures();

/// Fits card.series (every time series of the catalogue) and card.statics (Age, Height,
/// Weight) on `stays`, the training stays: mean and standard deviation, on a log scale for
/// strongly right-skewed non-negative series (skewness above 2: lactate, creatinine, ALT).
void fitInputScaling(const std::vector<const PatientStay*>& stays, ForecastCard& card);

/// Stays on the hourly grid; every per-hour array is count x hours x series, row-major.
struct ForecastInputs {
    std::size_t count = 0;
    int hours = 0;
    int series = 0;
    int statics = 0;
    std::vector<float> values;          ///< scaled mean of the hour's measurements; 0 where none
    std::vector<float> masks;           ///< 1 where the hour has a measurement, else 0
    std::vector<float> deltas;          ///< hours since the last measurement before the hour
    std::vector<float> lastValues;      ///< last scaled measurement up to the hour; 0 before any
    std::vector<float> staticValues;    ///< count x statics
    std::vector<float> outcomes;        ///< 1 died, 0 survived, -1 unknown
    std::size_t valuesAfterHorizon = 0; ///< measurements after hour `hours`, not read

    std::size_t at(std::size_t stay, int hour, int series) const {
        return (stay * std::size_t(hours) + std::size_t(hour)) * std::size_t(this->series) +
               std::size_t(series);
    }
};

/// Scaled values are clipped to this many standard deviations.
constexpr float kForecastClip = 6.0f;

/// Encodes `stays` with the card's scaling and horizon. Throws std::invalid_argument when the
/// card names a variable the catalogue does not know.
ForecastInputs encodeForecastInputs(const std::vector<const PatientStay*>& stays,
                                    const ForecastCard& card);

/// Which part of a data set a stay belongs to, decided by its id alone (a hash with a fixed
/// salt), so the same stay falls in the same part whatever else is loaded and in whatever
/// order: true for about `fraction` of ids.
bool stayInPart(const std::string& id, const std::string& salt, double fraction);

} // namespace radiolens
