#include "core/domain/ForecastCard.h"

#include "core/domain/JsonFields.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

const JsonFields kFields("forecast card");

void writeInterval(JsonWriter& json, const char* name, const MetricInterval& m) {
    json.key(name).beginObject();
    json.field("value", m.value);
    json.field("low", m.low);
    json.field("high", m.high);
    json.endObject();
}

MetricInterval readInterval(const JsonValue& object, const std::string& key) {
    MetricInterval m;
    if (const JsonValue* v = object.find(key); v != nullptr && v->isObject()) {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        m.value = kFields.optionalNumber(*v, "value", nan);
        m.low = kFields.optionalNumber(*v, "low", nan);
        m.high = kFields.optionalNumber(*v, "high", nan);
    }
    return m;
}

void writeScalings(JsonWriter& json, const char* name, const std::vector<InputScaling>& list) {
    json.key(name).beginArray();
    for (const auto& s : list) {
        json.beginObject();
        json.field("variable", s.variable);
        json.field("logScale", s.logScale);
        json.field("mean", s.mean);
        json.field("std", s.std);
        json.endObject();
    }
    json.endArray();
}

std::vector<InputScaling> readScalings(const JsonValue& root, const std::string& key) {
    std::vector<InputScaling> out;
    for (const JsonValue& item : kFields.member(root, key, "", JsonValue::Kind::Array).items()) {
        InputScaling s;
        s.variable = kFields.text(item, "variable", key + ".");
        const JsonValue& log = kFields.member(item, "logScale", key + ".", JsonValue::Kind::Bool);
        s.logScale = log.asBool();
        s.mean = kFields.number(item, "mean", key + ".");
        s.std = kFields.number(item, "std", key + ".");
        if (!(s.std > 0) || !std::isfinite(s.mean)) {
            kFields.fail("'" + key + "' of " + s.variable +
                         " needs a finite mean and a positive "
                         "std");
        }
        out.push_back(s);
    }
    return out;
}

} // namespace

void writeRiskMetricsFields(JsonWriter& json, const RiskMetrics& m) {
    json.field("n", m.n);
    json.field("positives", m.positives);
    json.field("resamples", m.resamples);
    writeInterval(json, "auroc", m.auroc);
    writeInterval(json, "auprc", m.auprc);
    writeInterval(json, "brier", m.brier);
    writeInterval(json, "ece", m.ece);
}

std::string ForecastCard::toJson() const {
    std::ostringstream out;
    JsonWriter json(out);
    json.beginObject();
    json.field("id", id);
    json.field("version", version);
    json.field("architecture", architecture);
    json.field("outcome", outcome);
    json.field("hours", hours);
    json.field("hidden", hidden);
    json.field("members", members);
    json.field("dropout", dropout);
    writeScalings(json, "series", series);
    writeScalings(json, "statics", statics);
    json.key("calibrationSlope").numbers(calibrationSlope);
    json.key("calibrationIntercept").numbers(calibrationIntercept);
    json.field("alertThreshold", alertThreshold);
    json.field("training", training);
    json.key("metrics").beginObject();
    for (const auto& [split, m] : metrics) {
        json.key(split).beginObject();
        writeRiskMetricsFields(json, m);
        json.endObject();
    }
    json.endObject();
    json.field("weightsFile", weightsFile);
    json.field("weightsSha256", weightsSha256);
    json.field("staysFile", staysFile);
    json.field("staysSha256", staysSha256);
    json.endObject();
    out << '\n';
    return out.str();
}

ForecastCard ForecastCard::fromJson(const std::string& text) {
    const JsonValue root = kFields.parseObject(text);
    ForecastCard card;
    card.id = kFields.text(root, "id");
    card.version = kFields.text(root, "version");
    card.architecture = kFields.oneOf(root, "architecture", {"gru-d-ensemble"});
    card.outcome = kFields.text(root, "outcome");
    card.hours =
        kFields.wholeNumber(kFields.number(root, "hours"), 1, 24 * 14, "'hours' must be 1 to 336");
    const std::string sizes = "'hidden' must be 1 to 1024 and 'members' 1 to 64";
    card.hidden = kFields.wholeNumber(kFields.number(root, "hidden"), 1, 1024, sizes);
    card.members = kFields.wholeNumber(kFields.number(root, "members"), 1, 64, sizes);
    card.dropout = kFields.number(root, "dropout");
    card.series = readScalings(root, "series");
    card.statics = readScalings(root, "statics");
    if (card.series.empty()) {
        kFields.fail("'series' is empty");
    }
    const auto hours = std::size_t(card.hours);
    card.calibrationSlope = kFields.numbers(root, "calibrationSlope", "", hours);
    card.calibrationIntercept = kFields.numbers(root, "calibrationIntercept", "", hours);
    card.alertThreshold = kFields.number(root, "alertThreshold");
    card.training = kFields.textMap(root, "training");
    if (const JsonValue* m = root.find("metrics"); m != nullptr && m->isObject()) {
        for (const auto& [split, v] : m->members()) {
            RiskMetrics metrics;
            const JsonValue& values = v;
            const std::string where = "'metrics." + split + ".";
            const auto count = [&values, &where](const char* key) {
                return kFields.wholeNumber(kFields.optionalNumber(values, key, 0), 0, 2e9,
                                           where + key + "' must be a count");
            };
            metrics.n = std::size_t(count("n"));
            metrics.positives = std::size_t(count("positives"));
            metrics.resamples = count("resamples");
            metrics.auroc = readInterval(v, "auroc");
            metrics.auprc = readInterval(v, "auprc");
            metrics.brier = readInterval(v, "brier");
            metrics.ece = readInterval(v, "ece");
            card.metrics[split] = metrics;
        }
    }
    for (const auto* name : {"weightsFile", "staysFile"}) {
        const std::string file = kFields.text(root, name);
        if (file.empty() || file.find('/') != std::string::npos) {
            kFields.fail(std::string("'") + name + "' must be a file name in the model folder");
        }
    }
    card.weightsFile = kFields.text(root, "weightsFile");
    card.staysFile = kFields.text(root, "staysFile");
    card.weightsSha256 = kFields.text(root, "weightsSha256");
    card.staysSha256 = kFields.text(root, "staysSha256");
    if (!JsonFields::isSha256(card.weightsSha256) || !JsonFields::isSha256(card.staysSha256)) {
        kFields.fail("'weightsSha256' and 'staysSha256' must be 64 hex digits");
    }
    return card;
}

ForecastCard ForecastCard::read(const std::string& dir) {
    const std::string path = dir + "/forecast.json";
    std::string content;
    try {
        content = readTextFile(path);
    } catch (const std::exception&) {
        throw std::runtime_error(path + ": cannot be read (is this a forecast model folder?)");
    }
    try {
        return fromJson(content);
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

void ForecastCard::write(const std::string& dir) const {
    writeFileAtomically(dir + "/forecast.json", toJson());
}

} // namespace radiolens
