#include "core/domain/Label.h"

#include "core/domain/ClockTime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <set>

namespace radiolens {

const char* toString(LabelLevel level) {
    switch (level) {
    case LabelLevel::Image:
        return "image";
    case LabelLevel::Series:
        return "series";
    case LabelLevel::Study:
        return "study";
    }
    return "image";
}

bool parseLabelLevel(const std::string& text, LabelLevel& level) {
    for (LabelLevel candidate : {LabelLevel::Image, LabelLevel::Series, LabelLevel::Study}) {
        if (text == toString(candidate)) {
            level = candidate;
            return true;
        }
    }
    return false;
}

const char* toString(LabelSource source) {
    return source == LabelSource::Model ? "model" : "human";
}

bool parseLabelSource(const std::string& text, LabelSource& source) {
    if (text == "human" || text == "model") {
        source = text == "model" ? LabelSource::Model : LabelSource::Human;
        return true;
    }
    return false;
}

std::string isoTimeMs(std::int64_t ms) {
    const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    const int milliseconds = int(ms - seconds * 1000);
    const std::time_t t = std::time_t(seconds);
    std::tm parts{};
    gmtime_r(&t, &parts);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", milliseconds);
    return text;
}

bool parseIsoTimeMs(const std::string& text, std::int64_t& ms) {
    double hours = 0.0;
    if (!parseIsoDateTime(text, hours)) {
        return false;
    }
    ms = std::int64_t(std::llround(hours * 3600000.0));
    return true;
}

std::int64_t nowMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Agreement cohensKappa(const std::vector<std::pair<std::string, std::string>>& pairs) {
    Agreement result;
    std::set<std::string> names;
    for (const auto& [a, b] : pairs) {
        names.insert(a);
        names.insert(b);
    }
    result.classes.assign(names.begin(), names.end());
    const std::size_t k = result.classes.size();
    result.table.assign(k, std::vector<int>(k, 0));
    const auto index = [&](const std::string& name) {
        return std::size_t(std::lower_bound(result.classes.begin(), result.classes.end(), name) -
                           result.classes.begin());
    };
    for (const auto& [a, b] : pairs) {
        ++result.table[index(a)][index(b)];
    }
    result.items = pairs.size();
    if (pairs.empty()) {
        result.kappa = std::numeric_limits<double>::quiet_NaN();
        return result;
    }
    const double n = double(pairs.size());
    double agree = 0.0, chance = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
        agree += result.table[i][i];
        double rowSum = 0.0, columnSum = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
            rowSum += result.table[i][j];
            columnSum += result.table[j][i];
        }
        chance += (rowSum / n) * (columnSum / n);
    }
    result.observed = agree / n;
    result.expected = chance;
    result.kappa = chance >= 1.0 ? std::numeric_limits<double>::quiet_NaN()
                                 : (result.observed - chance) / (1.0 - chance);
    return result;
}

} // namespace radiolens
