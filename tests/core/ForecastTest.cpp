// The patient-risk forecaster (issue 7): the hourly encoding, the risk metrics and calibration
// (plain C++), the forecast card, and the GRU-D ensemble trained briefly on synthetic stays
// whose outcome is written in their lactate from hour 12 on.

#include "../common/Scratch.h"
#include "core/domain/ForecastCard.h"
#include "core/domain/JsonValue.h"
#include "core/domain/Paths.h"
#include "core/ml/ForecastInputs.h"
#include "core/ml/Metrics.h"
#include "core/ml/MlEngine.h"
#include "core/ml/MlRuntime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

int variable(const char* name) {
    const int index = clinicalVariableIndex(name);
    EXPECT_GE(index, 0) << name;
    return index;
}

/// A card whose scaling is fitted on `stays`.
ForecastCard fittedCard(const std::vector<const PatientStay*>& stays, int hours = 48) {
    ForecastCard card;
    card.hours = hours;
    fitInputScaling(stays, card);
    return card;
}

int seriesColumn(const ForecastCard& card, const std::string& name) {
    for (std::size_t s = 0; s < card.series.size(); ++s) {
        if (card.series[s].variable == name) {
            return int(s);
        }
    }
    return -1;
}

/// Synthetic ICU stays: hourly heart rate and mean pressure, lactate every 4 hours. Stays that
/// die (about 30%) have a lactate near 6 mmol/L from hour 12 on (1.5 before, and in survivors);
/// 5% of outcomes are flipped, so that no model is perfect. Nothing before hour 12 tells the
/// outcome.
std::vector<PatientStay> syntheticStays(int count, unsigned seed) {
    std::mt19937 random(seed);
    std::normal_distribution<double> noise(0.0, 1.0);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<PatientStay> stays(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        PatientStay& s = stays[std::size_t(i)];
        s.id = "syn" + std::to_string(seed) + "-" + std::to_string(i);
        const bool sick = uniform(random) < 0.3;
        s.outcome = (uniform(random) < 0.05) ? !sick : sick;
        s.age = 65 + 12 * noise(random);
        s.gender = uniform(random) < 0.5 ? 0 : 1;
        s.icuType = 1 + int(uniform(random) * 4) % 4;
        s.weight = 80 + 15 * noise(random);
        for (int h = 0; h < 48; ++h) {
            const double t = h + 0.25 + 0.5 * uniform(random);
            s.observations.push_back({t, variable("HR"), 85 + 12 * noise(random)});
            s.observations.push_back({t, variable("MAP"), 80 + 10 * noise(random)});
            if (h % 4 == 1) {
                const double lactate =
                    (sick && h >= 12 ? 6.0 : 1.5) * std::exp(0.25 * noise(random));
                s.observations.push_back({t + 0.1, variable("Lactate"), lactate});
            }
        }
        std::sort(s.observations.begin(), s.observations.end(),
                  [](const Observation& a, const Observation& b) { return a.hours < b.hours; });
    }
    return stays;
}

std::vector<const PatientStay*> pointers(const std::vector<PatientStay>& stays) {
    std::vector<const PatientStay*> out;
    for (const auto& s : stays) {
        out.push_back(&s);
    }
    return out;
}

} // namespace

TEST(ForecastInputs, BinsHoursAndCarriesTheLastValueWithItsAge) {
    PatientStay stay;
    stay.id = "1";
    stay.age = 70;
    stay.gender = 1;
    stay.icuType = 3;
    const int hr = variable("HR");
    stay.observations = {
        {0.5, hr, 80}, {0.7, hr, 90}, {3.2, hr, 100}, {48.0, hr, 70}, {50.0, hr, 75}};
    PatientStay other = stay;
    other.observations = {{1.0, hr, 60}, {2.0, hr, 120}};
    const std::vector<const PatientStay*> both = {&stay, &other};
    const ForecastCard card = fittedCard(both);
    const ForecastInputs in = encodeForecastInputs({&stay}, card);
    const int c = seriesColumn(card, "HR");
    ASSERT_GE(c, 0);
    const auto& s = card.series[std::size_t(c)];
    const auto z = [&s](double v) {
        return float((v - s.mean) / s.std);
    };
    // Hour 0 holds the mean of 80 and 90; hour 3 holds 100; 48:00 goes to the last hour.
    EXPECT_FLOAT_EQ(in.values[in.at(0, 0, c)], z(85));
    EXPECT_EQ(in.masks[in.at(0, 0, c)], 1.0f);
    EXPECT_EQ(in.masks[in.at(0, 1, c)], 0.0f);
    EXPECT_EQ(in.values[in.at(0, 1, c)], 0.0f);
    EXPECT_FLOAT_EQ(in.lastValues[in.at(0, 2, c)], z(85));
    EXPECT_FLOAT_EQ(in.values[in.at(0, 3, c)], z(100));
    EXPECT_FLOAT_EQ(in.values[in.at(0, 47, c)], z(70));
    // Hours since the last measurement before the hour; since admission before any.
    EXPECT_EQ(in.deltas[in.at(0, 0, c)], 0.0f);
    EXPECT_EQ(in.deltas[in.at(0, 3, c)], 3.0f);
    EXPECT_EQ(in.deltas[in.at(0, 4, c)], 1.0f);
    EXPECT_EQ(in.deltas[in.at(0, 47, c)], 44.0f);
    const int lactate = seriesColumn(card, "Lactate");
    EXPECT_EQ(in.deltas[in.at(0, 10, lactate)], 10.0f);
    EXPECT_EQ(in.masks[in.at(0, 10, lactate)], 0.0f);
    EXPECT_EQ(in.valuesAfterHorizon, 1u); // the value at 50 h
    // Statics: age scaled, male +1, height and weight missing, medical ICU.
    const float* st = &in.staticValues[0];
    EXPECT_EQ(st[1], 0.0f); // age present
    EXPECT_EQ(st[2], 1.0f); // male
    EXPECT_EQ(st[4], 1.0f); // height missing
    EXPECT_EQ(st[6], 1.0f); // weight missing
    EXPECT_EQ(st[7] + st[8] + st[10], 0.0f);
    EXPECT_EQ(st[9], 1.0f); // medical
    EXPECT_EQ(forecastStaticFeatures().size(), std::size_t(in.statics));
}

TEST(ForecastInputs, SkewedLabsAreScaledOnALogScaleAndClipped) {
    // Lactate spread over a log scale, as in ICU data (median 1.6, a long tail to 20).
    auto stays = syntheticStays(200, 3);
    std::mt19937 random(8);
    std::normal_distribution<double> noise(0.5, 0.7);
    for (auto& stay : stays) {
        for (auto& o : stay.observations) {
            if (o.variable == variable("Lactate")) {
                o.value = std::exp(noise(random));
            }
        }
    }
    const ForecastCard card = fittedCard(pointers(stays));
    const auto& lactate = card.series[std::size_t(seriesColumn(card, "Lactate"))];
    const auto& hr = card.series[std::size_t(seriesColumn(card, "HR"))];
    EXPECT_TRUE(lactate.logScale);
    EXPECT_FALSE(hr.logScale);
    EXPECT_NEAR(hr.mean, 85, 1.0);
    EXPECT_NEAR(hr.std, 12, 1.0);
    PatientStay extreme;
    extreme.observations = {{1.0, variable("HR"), 290}};
    const ForecastInputs in = encodeForecastInputs({&extreme}, card);
    EXPECT_EQ(in.values[in.at(0, 1, seriesColumn(card, "HR"))], kForecastClip);
}

TEST(ForecastInputs, PartsAreChosenByIdAlone) {
    int in = 0;
    for (int i = 0; i < 10000; ++i) {
        const std::string id = std::to_string(130000 + i);
        const bool part = stayInPart(id, "holdout", 0.2);
        EXPECT_EQ(part, stayInPart(id, "holdout", 0.2));
        in += part;
    }
    EXPECT_NEAR(in / 10000.0, 0.2, 0.015);
    // Another salt picks another part.
    int both = 0;
    for (int i = 0; i < 10000; ++i) {
        const std::string id = std::to_string(130000 + i);
        both += stayInPart(id, "holdout", 0.2) && stayInPart(id, "validation", 0.2);
    }
    EXPECT_NEAR(both / 10000.0, 0.04, 0.01);
}

TEST(RiskMetrics, AveragePrecisionBrierAndBootstrapIntervals) {
    EXPECT_NEAR(averagePrecision({0.9, 0.8, 0.7, 0.6}, {true, false, true, false}),
                (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
    // A tie between a positive and a negative enters together: precision 1/2 at recall 1.
    EXPECT_NEAR(averagePrecision({0.5, 0.5}, {true, false}), 0.5, 1e-12);
    EXPECT_TRUE(std::isnan(averagePrecision({0.1, 0.2}, {false, false})));
    EXPECT_NEAR(brierScore({0.2, 0.9}, {false, true}), (0.04 + 0.01) / 2, 1e-12);

    std::mt19937 random(5);
    std::normal_distribution<double> noise(0.0, 1.0);
    std::vector<double> risk;
    std::vector<bool> died;
    for (int i = 0; i < 600; ++i) {
        const bool d = i % 5 == 0;
        died.push_back(d);
        risk.push_back(1.0 / (1.0 + std::exp(-(noise(random) + (d ? 1.5 : -1.0)))));
    }
    const RiskMetrics m = riskMetrics(risk, died, 300, 7);
    EXPECT_EQ(m.n, 600u);
    EXPECT_EQ(m.positives, 120u);
    for (const MetricInterval* v : {&m.auroc, &m.auprc, &m.brier, &m.ece}) {
        EXPECT_LT(v->low, v->value);
        EXPECT_GT(v->high, v->value);
    }
    EXPECT_GT(m.auroc.value, 0.8);
    EXPECT_LT(m.auroc.high - m.auroc.low, 0.12);
    EXPECT_EQ(riskMetrics(risk, died, 300, 7).auroc.low, m.auroc.low); // seeded
    EXPECT_TRUE(std::isnan(riskMetrics(risk, died, 0).auroc.low));
}

TEST(RiskMetrics, LogisticCalibrationRecoversSlopeAndIntercept) {
    std::mt19937 random(11);
    std::normal_distribution<double> spread(0.0, 2.0);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> z;
    std::vector<bool> y;
    for (int i = 0; i < 20000; ++i) {
        z.push_back(spread(random));
        y.push_back(uniform(random) < 1.0 / (1.0 + std::exp(-(0.5 * z.back() - 1.0))));
    }
    const LogisticCalibration c = fitLogisticCalibration(z, y);
    EXPECT_NEAR(c.slope, 0.5, 0.05);
    EXPECT_NEAR(c.intercept, -1.0, 0.08);
    // One outcome only: the prior keeps it finite.
    const LogisticCalibration flat = fitLogisticCalibration({0.1, 0.2}, {false, false});
    EXPECT_TRUE(std::isfinite(flat.slope) && std::isfinite(flat.intercept));
}

TEST(ForecastCardFile, RoundTripsAndNamesWhatIsWrong) {
    ForecastCard card;
    card.id = "m";
    card.version = "1";
    card.hours = 3;
    card.series = {{"HR", false, 85, 12}, {"Lactate", true, 0.9, 0.4}};
    card.statics = {{"Age", false, 64, 17}, {"Height", false, 170, 10}, {"Weight", false, 80, 20}};
    card.calibrationSlope = {1, 0.9, 0.8};
    card.calibrationIntercept = {-2, -1.9, -1.8};
    card.alertThreshold = 0.3;
    card.metrics["validation"].auroc = {0.85, 0.8, 0.9};
    card.metrics["validation"].n = 100;
    card.weightsSha256 = std::string(64, 'a');
    card.staysSha256 = std::string(64, 'b');
    const ForecastCard back = ForecastCard::fromJson(card.toJson());
    EXPECT_EQ(back.toJson(), card.toJson());
    EXPECT_TRUE(back.series[1].logScale);
    EXPECT_DOUBLE_EQ(back.metrics.at("validation").auroc.low, 0.8);

    std::string text = card.toJson();
    const auto at = text.find("\"calibrationSlope\"");
    ASSERT_NE(at, std::string::npos) << text;
    const auto end = text.find(']', at);
    text.replace(at, end + 1 - at, "\"calibrationSlope\": [1, 0.9]");
    try {
        ForecastCard::fromJson(text);
        FAIL() << "a short calibration was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("'calibrationSlope' has 2 numbers, not 3"),
                  std::string::npos)
            << e.what();
    }
}

namespace {

/// The engine, or a skip naming the reason (the plugin is built with RADIOLENS_BUILD_ML).
MlEngine* engineOrSkip() {
    try {
        return &MlRuntime::engine();
    } catch (const std::exception& e) {
        return nullptr;
    }
}

ForecastTrainOptions smallOptions(const fs::path& out) {
    ForecastTrainOptions o;
    o.hidden = 16;
    o.members = 3;
    o.epochs = 12;
    o.patience = 12;
    o.batchSize = 32;
    o.learningRate = 0.01;
    o.validationFraction = 0.3;
    o.seed = 3;
    o.outDir = out.string();
    o.id = "synthetic";
    return o;
}

/// One small forecaster for the tests below, trained once.
class TrainedForecaster : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ml = engineOrSkip();
        if (ml == nullptr) {
            return;
        }
        dir = new fs::path(test::scratch("forecaster"));
        stays = new std::vector<PatientStay>(syntheticStays(400, 1));
        card = new ForecastCard(ml->trainForecaster(pointers(*stays), smallOptions(*dir), {}));
    }
    static void TearDownTestSuite() {
        delete dir;
        delete stays;
        delete card;
    }
    void SetUp() override {
        if (ml == nullptr) {
            GTEST_SKIP() << "the ML plugin (LibTorch) is not built here; issue 7's forecaster "
                            "needs it";
        }
    }

    static inline MlEngine* ml = nullptr;
    static inline fs::path* dir = nullptr;
    static inline std::vector<PatientStay>* stays = nullptr;
    static inline ForecastCard* card = nullptr;
};

} // namespace

TEST_F(TrainedForecaster, LearnsTheOutcomeOnlyOnceTheDataShowIt) {
    EXPECT_GT(card->metrics.at("validation").auroc.value, 0.85);
    const auto fresh = syntheticStays(600, 2);
    const auto forecaster = ml->loadForecaster(dir->string());
    const auto trajectories = forecaster->forecast(pointers(fresh));
    ASSERT_EQ(trajectories.size(), fresh.size());
    std::vector<double> at6, at48, raw48;
    std::vector<bool> died;
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        const RiskTrajectory& t = trajectories[i];
        ASSERT_EQ(t.risk.size(), 48u);
        EXPECT_EQ(t.stayId, fresh[i].id);
        EXPECT_EQ(t.hours.front(), 1.0);
        EXPECT_EQ(t.hours.back(), 48.0);
        for (std::size_t h = 0; h < 48; ++h) {
            EXPECT_LE(t.low[h], t.risk[h] + 1e-12);
            EXPECT_GE(t.high[h], t.risk[h] - 1e-12);
        }
        at6.push_back(t.risk[5]);
        at48.push_back(t.risk[47]);
        raw48.push_back(t.uncalibrated[47]);
        died.push_back(fresh[i].outcome == 1);
    }
    // Hour 6 knows nothing of the outcome (lactate rises at 12); hour 48 does.
    EXPECT_LT(rocAuc(at6, died), 0.65);
    EXPECT_GT(rocAuc(at48, died), 0.88);
    // Calibrated on validation: risks match the observed rate on new stays.
    EXPECT_LT(expectedCalibrationError(at48, died, 10), 0.08);
    // The members disagree somewhere: the band is not a line.
    double widest = 0.0;
    for (const auto& t : trajectories) {
        widest = std::max(widest, t.high[47] - t.low[47]);
    }
    EXPECT_GT(widest, 0.01);
}

TEST_F(TrainedForecaster, CreditsTheLactateAtTheHoursItWasMeasured) {
    const auto fresh = syntheticStays(40, 4);
    const auto forecaster = ml->loadForecaster(dir->string());
    const int lactate = variable("Lactate");
    int explained = 0;
    for (const PatientStay& stay : fresh) {
        // The sick ones (high lactate from hour 12), whatever their (5% flipped) outcome.
        const bool sick = std::any_of(
            stay.observations.begin(), stay.observations.end(),
            [lactate](const Observation& o) { return o.variable == lactate && o.value > 3.5; });
        if (!sick) {
            continue;
        }
        const RiskExplanation e = forecaster->explain(stay, 48);
        ASSERT_FALSE(e.contributions.empty());

        EXPECT_LT(e.completenessError, 0.02);
        const RiskContribution& top = e.contributions.front();
        EXPECT_EQ(top.variable, "Lactate");
        EXPECT_GT(top.total, 0.0);
        ASSERT_EQ(top.byHour.size(), 48u);
        std::set<int> measured;
        for (const Observation& o : stay.observations) {
            if (o.variable == lactate) {
                measured.insert(int(o.hours));
            }
        }
        double late = 0.0;
        for (int h = 0; h < 48; ++h) {
            if (measured.count(h) == 0) {
                EXPECT_EQ(top.byHour[std::size_t(h)], 0.0) << "hour " << h;
            } else if (h >= 12) {
                late += top.byHour[std::size_t(h)];
            }
        }
        EXPECT_GT(late, 0.5 * top.total);
        ++explained;
    }
    EXPECT_GE(explained, 5);
    // The risk at hour 6 reads hours 0-5 only.
    const RiskExplanation early = forecaster->explain(fresh.front(), 6);
    for (const auto& c : early.contributions) {
        EXPECT_TRUE(c.isStatic || c.byHour.size() == 6u);
    }
    EXPECT_THROW(forecaster->explain(fresh.front(), 49), std::invalid_argument);
}

TEST_F(TrainedForecaster, ThePackageHoldsWhatWasMeasuredAndRefusesTampering) {
    // The saved model reproduces the validation figure of its card on its validation stays.
    const JsonValue ids = JsonValue::parse(readTextFile((*dir / "stays.json").string()));
    std::set<std::string> validation;
    for (const JsonValue& id : ids.find("validation")->items()) {
        validation.insert(id.asString());
    }
    EXPECT_EQ(validation.size(), std::stoul(card->training.at("validationStays")));
    std::vector<const PatientStay*> chosen;
    for (const PatientStay& s : *stays) {
        if (validation.count(s.id) != 0) {
            chosen.push_back(&s);
        }
    }
    const auto forecaster = ml->loadForecaster(dir->string());
    std::vector<double> risk;
    std::vector<bool> died;
    for (const auto& t : forecaster->forecast(chosen)) {
        risk.push_back(t.risk.back());
    }
    for (const PatientStay* s : chosen) {
        died.push_back(s->outcome == 1);
    }
    EXPECT_NEAR(rocAuc(risk, died), card->metrics.at("validation").auroc.value, 1e-9);

    const fs::path copy = test::scratch("tampered") / "model";
    fs::copy(*dir, copy);
    {
        std::fstream f(copy / "forecast.pt", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(2000);
        f.put('\x7f');
    }
    try {
        ml->loadForecaster(copy.string());
        FAIL() << "tampered weights were loaded";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("forecast.pt"), std::string::npos) << what;
        EXPECT_NE(what.find("sha256"), std::string::npos) << what;
    }
    fs::remove(copy / "stays.json");
    EXPECT_THROW(ml->loadForecaster(copy.string()), std::runtime_error);
}

TEST_F(TrainedForecaster, TheSameSeedGivesTheSameModelAndCancelWritesNothing) {
    const fs::path again = test::scratch("again");
    const ForecastCard second = ml->trainForecaster(pointers(*stays), smallOptions(again), {});
    EXPECT_EQ(second.weightsSha256, card->weightsSha256);

    const fs::path cancelled = test::scratch("cancelled") / "model";
    int calls = 0;
    try {
        ml->trainForecaster(pointers(*stays), smallOptions(cancelled),
                            [&calls](const ForecastTrainStatus&) { return ++calls < 3; });
        FAIL() << "the run was not cancelled";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cancelled");
    }
    EXPECT_FALSE(fs::exists(cancelled / "forecast.json"));

    std::vector<PatientStay> survivors = syntheticStays(50, 9);
    for (auto& s : survivors) {
        s.outcome = 0;
    }
    try {
        ml->trainForecaster(pointers(survivors), smallOptions(test::scratch("one")), {});
        FAIL() << "trained on one outcome";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("needs both outcomes"), std::string::npos) << e.what();
    }
}
