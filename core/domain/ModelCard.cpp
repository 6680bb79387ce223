#include "core/domain/ModelCard.h"

#include "core/domain/JsonFields.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

const JsonFields kFields("model card");

} // namespace

void writeMetricsFields(JsonWriter& json, const ModelMetrics& m) {
    json.field("auc", m.auc);
    json.field("accuracy", m.accuracy);
    json.field("sensitivity", m.sensitivity);
    json.field("specificity", m.specificity);
    json.field("ece", m.ece);
    json.field("n", m.n);
}

std::string ModelCard::toJson() const {
    std::ostringstream out;
    JsonWriter json(out);
    json.beginObject();
    json.field("id", id);
    json.field("version", version);
    json.field("format", format);
    json.field("architecture", architecture);
    json.field("stem", stem);
    json.field("width", width);
    json.field("pooling", pooling);
    json.field("gradCamFlipAverage", gradCamFlipAverage);
    json.field("task", task);
    json.key("classNames").beginArray();
    for (const std::string& name : classNames) {
        json.value(name);
    }
    json.endArray();
    json.key("input").beginObject();
    json.key("modalities").beginArray();
    for (const std::string& m : input.modalities) {
        json.value(m);
    }
    json.endArray();
    json.field("size", input.size);
    json.field("channels", input.channels);
    json.field("preprocessing", input.preprocessing);
    json.field("mean", input.mean);
    json.field("std", input.std);
    if (input.preprocessing == "window") {
        json.field("windowCenter", input.windowCenter);
        json.field("windowWidth", input.windowWidth);
    }
    json.endObject();
    json.field("temperature", temperature);
    json.field("training", training);
    json.key("metrics").beginObject();
    for (const auto& [split, m] : metrics) {
        json.key(split).beginObject();
        writeMetricsFields(json, m);
        json.endObject();
    }
    json.endObject();
    json.field("weightsFile", weightsFile);
    json.field("weightsSha256", weightsSha256);
    json.field("parentVersion", parentVersion);
    json.endObject();
    out << '\n';
    return out.str();
}

ModelCard ModelCard::fromJson(const std::string& textIn) {
    const JsonValue root = kFields.parseObject(textIn);
    ModelCard card;
    card.id = kFields.text(root, "id");
    card.version = kFields.text(root, "version");
    card.format = kFields.oneOf(root, "format", {"torch-nn", "torchscript"}, "torch-nn");
    card.architecture = kFields.text(root, "architecture");
    card.stem = kFields.optionalText(root, "stem");
    card.width = kFields.wholeNumber(kFields.optionalNumber(root, "width", 64), 4, 512,
                                     "'width' must be 4 to 512 channels");
    card.pooling = kFields.oneOf(root, "pooling", {"average", "max"}, "average");
    if (const JsonValue* flips = root.find("gradCamFlipAverage")) {
        if (flips->kind() != JsonValue::Kind::Bool) {
            throw std::runtime_error("model card: 'gradCamFlipAverage' is not true or false");
        }
        card.gradCamFlipAverage = flips->asBool();
    }
    card.task = kFields.oneOf(root, "task", {"binary", "multi-class", "multi-label"});
    for (const JsonValue& name :
         kFields.member(root, "classNames", "", JsonValue::Kind::Array).items()) {
        if (!name.isString()) {
            throw std::runtime_error("model card: 'classNames' must hold strings");
        }
        card.classNames.push_back(name.asString());
    }
    if (card.classNames.size() < 2 && card.task != "multi-label") {
        throw std::runtime_error("model card: 'classNames' needs at least two classes");
    }
    const JsonValue& input = kFields.member(root, "input", "", JsonValue::Kind::Object);
    if (const JsonValue* m = input.find("modalities"); m != nullptr && m->isArray()) {
        for (const JsonValue& modality : m->items()) {
            card.input.modalities.push_back(modality.asString());
        }
    }
    card.input.size = kFields.wholeNumber(kFields.number(input, "size", "input."), 8, 1024,
                                          "'input.size' must be 8 to 1024 pixels");
    card.input.channels = kFields.wholeNumber(kFields.number(input, "channels", "input."), 1, 3,
                                              "'input.channels' must be 1 or 3");
    if (card.input.channels != 1 && card.input.channels != 3) {
        throw std::runtime_error("model card: 'input.channels' must be 1 or 3");
    }
    card.input.preprocessing = kFields.text(input, "preprocessing", "input.");
    if (card.input.preprocessing != "normalize" && card.input.preprocessing != "window") {
        throw std::runtime_error("model card: 'input.preprocessing' is '" +
                                 card.input.preprocessing + "' (normalize or window)");
    }
    card.input.mean = kFields.optionalNumber(input, "mean", 0.0);
    card.input.std = kFields.optionalNumber(input, "std", 1.0);
    if (card.input.std <= 0) {
        throw std::runtime_error("model card: 'input.std' must be positive");
    }
    card.input.windowCenter = kFields.optionalNumber(input, "windowCenter", 0.0);
    card.input.windowWidth = kFields.optionalNumber(input, "windowWidth", 0.0);
    card.temperature = kFields.optionalNumber(root, "temperature", 1.0);
    if (card.temperature <= 0) {
        throw std::runtime_error("model card: 'temperature' must be positive");
    }
    card.training = kFields.textMap(root, "training");
    if (const JsonValue* m = root.find("metrics"); m != nullptr && m->isObject()) {
        for (const auto& [split, v] : m->members()) {
            ModelMetrics metrics;
            metrics.auc = kFields.optionalNumber(v, "auc", 0);
            metrics.accuracy = kFields.optionalNumber(v, "accuracy", 0);
            metrics.sensitivity = kFields.optionalNumber(v, "sensitivity", 0);
            metrics.specificity = kFields.optionalNumber(v, "specificity", 0);
            metrics.ece = kFields.optionalNumber(v, "ece", 0);
            metrics.n =
                std::size_t(kFields.wholeNumber(kFields.optionalNumber(v, "n", 0), 0, 2e9,
                                                "'metrics." + split + ".n' must be a count"));
            card.metrics[split] = metrics;
        }
    }
    card.weightsFile = kFields.text(root, "weightsFile");
    if (card.weightsFile.empty() || card.weightsFile.find('/') != std::string::npos) {
        throw std::runtime_error("model card: 'weightsFile' must be a file name in the model "
                                 "folder");
    }
    card.weightsSha256 = kFields.text(root, "weightsSha256");
    if (!JsonFields::isSha256(card.weightsSha256)) {
        throw std::runtime_error("model card: 'weightsSha256' must be 64 hex digits");
    }
    card.parentVersion = kFields.optionalText(root, "parentVersion");
    return card;
}

ModelCard ModelCard::read(const std::string& dir) {
    const std::string path = dir + "/card.json";
    std::string content;
    try {
        content = readTextFile(path);
    } catch (const std::exception&) {
        throw std::runtime_error(path + ": cannot be read (is this a model folder?)");
    }
    try {
        return fromJson(content);
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

void ModelCard::write(const std::string& dir) const {
    writeFileAtomically(dir + "/card.json", toJson());
}

} // namespace radiolens
