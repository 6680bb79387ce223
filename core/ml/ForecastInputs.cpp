#include "core/ml/ForecastInputs.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace radiolens {

namespace {

constexpr int kAge = 0;
constexpr int kGender = 1;
constexpr int kHeight = 2;
constexpr int kIcuType = 3;

double transform(const InputScaling& s, double value) {
    return s.logScale ? std::log1p(std::max(0.0, value)) : value;
}

float scaled(const InputScaling& s, double value) {
    const double z = (transform(s, value) - s.mean) / s.std;
    return float(std::clamp(z, -double(kForecastClip), double(kForecastClip)));
}

/// Mean, standard deviation and skewness of `values` (already transformed).
InputScaling fit(const std::string& name, const std::vector<double>& raw, bool mayLog) {
    InputScaling s;
    s.variable = name;
    if (raw.size() < 2) {
        return s;
    }
    const auto moments = [](const std::vector<double>& v, double& mean, double& sd, double& skew) {
        mean = 0.0;
        for (double x : v) {
            mean += x;
        }
        mean /= double(v.size());
        double m2 = 0.0, m3 = 0.0;
        for (double x : v) {
            const double d = x - mean;
            m2 += d * d;
            m3 += d * d * d;
        }
        m2 /= double(v.size());
        m3 /= double(v.size());
        sd = std::sqrt(m2);
        skew = m2 > 0 ? m3 / (m2 * sd) : 0.0;
    };
    double mean = 0, sd = 0, skew = 0;
    moments(raw, mean, sd, skew);
    const bool nonNegative = *std::min_element(raw.begin(), raw.end()) >= 0.0;
    if (mayLog && nonNegative && skew > 2.0) {
        std::vector<double> logged(raw.size());
        std::transform(raw.begin(), raw.end(), logged.begin(),
                       [](double x) { return std::log1p(x); });
        s.logScale = true;
        moments(logged, mean, sd, skew);
    }
    s.mean = mean;
    s.std = sd > 1e-9 ? sd : 1.0;
    return s;
}

} // namespace

const std::vector<std::string>& forecastStaticFeatures() {
    static const std::vector<std::string> names = {"Age",
                                                   "Age missing",
                                                   "Gender",
                                                   "Height",
                                                   "Height missing",
                                                   "Weight",
                                                   "Weight missing",
                                                   "ICU coronary",
                                                   "ICU cardiac surgery",
                                                   "ICU medical",
                                                   "ICU surgical"};
    return names;
}

void fitInputScaling(const std::vector<const PatientStay*>& stays, ForecastCard& card) {
    const auto& catalogue = clinicalVariables();
    std::vector<std::vector<double>> values(catalogue.size());
    std::vector<double> age, height, weight;
    for (const PatientStay* stay : stays) {
        for (const Observation& o : stay->observations) {
            values[std::size_t(o.variable)].push_back(o.value);
        }
        if (!std::isnan(stay->age)) {
            age.push_back(stay->age);
        }
        if (!std::isnan(stay->height)) {
            height.push_back(stay->height);
        }
        if (!std::isnan(stay->weight)) {
            weight.push_back(stay->weight);
        }
    }
    card.series.clear();
    for (std::size_t v = 0; v < catalogue.size(); ++v) {
        if (!catalogue[v].isStatic) {
            card.series.push_back(fit(catalogue[v].name, values[v], true));
        }
    }
    card.statics = {fit("Age", age, false), fit("Height", height, false),
                    fit("Weight", weight, false)};
}

ForecastInputs encodeForecastInputs(const std::vector<const PatientStay*>& stays,
                                    const ForecastCard& card) {
    ForecastInputs in;
    in.count = stays.size();
    in.hours = card.hours;
    in.series = int(card.series.size());
    in.statics = int(forecastStaticFeatures().size());
    if (card.statics.size() != 3) {
        throw std::invalid_argument("forecast card: 'statics' must scale Age, Height and Weight");
    }
    // Catalogue index -> input series (-1: not read).
    std::vector<int> column(clinicalVariables().size(), -1);
    for (std::size_t s = 0; s < card.series.size(); ++s) {
        const int index = clinicalVariableIndex(card.series[s].variable);
        if (index < 0 || clinicalVariables()[std::size_t(index)].isStatic) {
            throw std::invalid_argument("forecast card: '" + card.series[s].variable +
                                        "' is not a time series Radiolens knows");
        }
        column[std::size_t(index)] = int(s);
    }
    const std::size_t cells = in.count * std::size_t(in.hours) * std::size_t(in.series);
    in.values.assign(cells, 0.0f);
    in.masks.assign(cells, 0.0f);
    in.deltas.assign(cells, 0.0f);
    in.lastValues.assign(cells, 0.0f);
    in.staticValues.assign(in.count * std::size_t(in.statics), 0.0f);
    in.outcomes.assign(in.count, -1.0f);
    std::vector<double> sum(std::size_t(in.series));
    std::vector<int> count(std::size_t(in.series));
    std::vector<double> lastTime(std::size_t(in.series));
    std::vector<float> lastValue(std::size_t(in.series));
    for (std::size_t i = 0; i < in.count; ++i) {
        const PatientStay& stay = *stays[i];
        in.outcomes[i] = float(stay.outcome);
        float* statics = &in.staticValues[i * std::size_t(in.statics)];
        const auto numeric = [&](double value, const InputScaling& s, int at) {
            statics[at] = std::isnan(value) ? 0.0f : scaled(s, value);
            statics[at + 1] = std::isnan(value) ? 1.0f : 0.0f;
        };
        numeric(stay.staticValue(kAge), card.statics[0], 0);
        const double gender = stay.staticValue(kGender);
        statics[2] = std::isnan(gender) ? 0.0f : gender > 0.5 ? 1.0f : -1.0f;
        numeric(stay.staticValue(kHeight), card.statics[1], 3);
        numeric(stay.weight, card.statics[2], 5);
        const double icu = stay.staticValue(kIcuType);
        if (!std::isnan(icu) && icu >= 1 && icu <= 4) {
            statics[7 + int(icu) - 1] = 1.0f;
        }

        std::fill(lastTime.begin(), lastTime.end(), -1.0);
        std::fill(lastValue.begin(), lastValue.end(), 0.0f);
        std::size_t next = 0;
        const auto& obs = stay.observations;
        for (int h = 0; h < in.hours; ++h) {
            std::fill(sum.begin(), sum.end(), 0.0);
            std::fill(count.begin(), count.end(), 0);
            const bool lastHour = h + 1 == in.hours;
            for (; next < obs.size(); ++next) {
                const double t = std::max(0.0, obs[next].hours);
                if (t >= h + 1 && !(lastHour && t <= h + 1)) {
                    break;
                }
                const int s = column[std::size_t(obs[next].variable)];
                if (s >= 0) {
                    sum[std::size_t(s)] += obs[next].value;
                    ++count[std::size_t(s)];
                }
            }
            for (int s = 0; s < in.series; ++s) {
                const std::size_t at = in.at(i, h, s);
                const auto si = std::size_t(s);
                in.deltas[at] = float(lastTime[si] < 0 ? h : h - lastTime[si]);
                if (count[si] > 0) {
                    const float v = scaled(card.series[si], sum[si] / count[si]);
                    in.values[at] = v;
                    in.masks[at] = 1.0f;
                    lastValue[si] = v;
                    lastTime[si] = h;
                }
                in.lastValues[at] = lastValue[si];
            }
        }
        in.valuesAfterHorizon += obs.size() - next;
    }
    return in;
}

bool stayInPart(const std::string& id, const std::string& salt, double fraction) {
    // FNV-1a, then a 64-bit finaliser (splitmix64) so that similar ids spread evenly.
    std::uint64_t h = 1469598103934665603ull;
    for (const char c : salt + "/" + id) {
        h = (h ^ std::uint8_t(c)) * 1099511628211ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return double(h >> 11) * 0x1.0p-53 < fraction;
}

} // namespace radiolens
