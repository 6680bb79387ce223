#include "core/store/LabelFiles.h"

#include "core/domain/Csv.h"
#include "core/domain/JsonValue.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"
#include "core/store/LabelStore.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

namespace radiolens {

namespace {

std::string probabilityText(double p) {
    if (p < 0.0) {
        return {};
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", p);
    return text;
}

/// Fills `l` from named text fields (CSV cells or JSON members); an empty string when fine,
/// else the reason.
std::string fillLabel(Label& l, const std::map<std::string, std::string>& f,
                      const std::string& defaultAnnotator) {
    const auto get = [&f](const char* key) {
        const auto it = f.find(key);
        return it == f.end() ? std::string() : it->second;
    };
    int named = 0;
    for (const auto& [key, level] :
         {std::pair{"instance", LabelLevel::Image}, std::pair{"series", LabelLevel::Series},
          std::pair{"study", LabelLevel::Study}}) {
        if (!get(key).empty()) {
            l.item = get(key);
            l.level = level;
            ++named;
        }
    }
    if (named == 0) {
        l.item = get("item");
        if (!get("level").empty() && !parseLabelLevel(get("level"), l.level)) {
            return "level '" + get("level") + "' is not image, series or study";
        }
    }
    if (named > 1) {
        return "more than one of instance, series and study";
    }
    if (l.item.empty()) {
        return "no item (instance, series or study UID)";
    }
    if (f.count("class") == 0) {
        return "no class";
    }
    l.className = get("class");
    l.annotator = get("annotator").empty() ? defaultAnnotator : get("annotator");
    if (!get("time").empty() && !parseIsoTimeMs(get("time"), l.timeMs)) {
        return "time '" + get("time") + "' is not an ISO 8601 date-time";
    }
    if (!get("source").empty() && !parseLabelSource(get("source"), l.source)) {
        return "source '" + get("source") + "' is not human or model";
    }
    l.modelId = get("model");
    l.modelVersion = get("model_version").empty() ? get("modelVersion") : get("model_version");
    const std::string probability = get("probability");
    if (!probability.empty()) {
        char* end = nullptr;
        l.probability = std::strtod(probability.c_str(), &end);
        if (end == probability.c_str() || *end != '\0' || !(l.probability >= 0.0) ||
            l.probability > 1.0) {
            return "probability '" + probability + "' is not a number from 0 to 1";
        }
    }
    const std::string confirmed = get("confirmed");
    if (!confirmed.empty() && confirmed != "0" && confirmed != "1" && confirmed != "true" &&
        confirmed != "false") {
        return "confirmed '" + confirmed + "' is not true or false";
    }
    l.confirmed = confirmed == "1" || confirmed == "true";
    if (l.annotator.empty()) {
        return "no annotator";
    }
    for (const std::string* text : {&l.item, &l.className, &l.annotator}) {
        if (std::any_of(text->begin(), text->end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
            return "a control character in the item, class or annotator";
        }
    }
    if (l.source == LabelSource::Model && (l.modelId.empty() || l.modelVersion.empty())) {
        return "a model's suggestion needs model and model_version";
    }
    return {};
}

void readCsv(const std::string& path, const std::string& text, const std::string& annotator,
             LabelFileContents& out) {
    // A byte-order mark (spreadsheets write one) is not part of the first column's name.
    std::istringstream in(text.rfind("\xEF\xBB\xBF", 0) == 0 ? text.substr(3) : text);
    std::string line;
    if (!std::getline(in, line)) {
        throw std::runtime_error(path + ": empty (expected a header such as instance,class)");
    }
    const std::vector<std::string> header = splitCsvLine(line);
    const bool hasItem = std::any_of(header.begin(), header.end(), [](const std::string& h) {
        return h == "item" || h == "instance" || h == "series" || h == "study";
    });
    if (!hasItem || std::find(header.begin(), header.end(), "class") == header.end()) {
        throw std::runtime_error(path + ": line 1: the header needs an item column (item, "
                                        "instance, series or study) and a class column");
    }
    const std::string name = std::filesystem::path(path).filename().string();
    for (int number = 2; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        ++out.rows;
        const std::vector<std::string> cells = splitCsvLine(line);
        if (cells.size() > header.size()) {
            out.problems.push_back(name + ":" + std::to_string(number) + ": " +
                                   std::to_string(cells.size()) + " cells for " +
                                   std::to_string(header.size()) + " columns");
            continue;
        }
        std::map<std::string, std::string> fields;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            fields[header[i]] = cells[i];
        }
        Label l;
        const std::string problem = fillLabel(l, fields, annotator);
        if (!problem.empty()) {
            out.problems.push_back(name + ":" + std::to_string(number) + ": " + problem);
            continue;
        }
        out.labels.push_back(l);
    }
}

void readJson(const std::string& path, const std::string& text, const std::string& annotator,
              LabelFileContents& out) {
    JsonValue root;
    try {
        root = JsonValue::parse(text);
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    const JsonValue* list = &root;
    if (root.isObject()) {
        list = root.find("labels");
    }
    if (list == nullptr || !list->isArray()) {
        throw std::runtime_error(path + ": expected a JSON array of labels (or an object with "
                                        "\"labels\")");
    }
    const std::string name = std::filesystem::path(path).filename().string();
    std::size_t number = 0;
    for (const JsonValue& entry : list->items()) {
        ++number;
        ++out.rows;
        const std::string where = name + ": entry " + std::to_string(number) + ": ";
        if (!entry.isObject()) {
            out.problems.push_back(where + "not an object");
            continue;
        }
        std::map<std::string, std::string> fields;
        for (const auto& [key, value] : entry.members()) {
            if (value.isString()) {
                fields[key] = value.asString();
            } else if (value.isNumber()) {
                fields[key] = probabilityText(value.asNumber());
            } else if (value.kind() == JsonValue::Kind::Bool) {
                fields[key] = value.asBool() ? "true" : "false";
            }
        }
        Label l;
        const std::string problem = fillLabel(l, fields, annotator);
        if (!problem.empty()) {
            out.problems.push_back(where + problem);
            continue;
        }
        out.labels.push_back(l);
    }
}

} // namespace

void writeLabelsCsv(std::ostream& out, const std::vector<Label>& labels) {
    out << "level,item,class,annotator,time,source,model,model_version,probability,confirmed\n";
    for (const Label& l : labels) {
        out << toString(l.level) << ',' << csvCell(l.item) << ',' << csvCell(l.className) << ','
            << csvCell(l.annotator) << ',' << isoTimeMs(l.timeMs) << ',' << toString(l.source)
            << ',' << csvCell(l.modelId) << ',' << csvCell(l.modelVersion) << ','
            << probabilityText(l.probability) << ',' << (l.confirmed ? "true" : "false") << '\n';
    }
}

void writeLabelsJson(std::ostream& out, const std::vector<Label>& labels, bool pretty) {
    JsonWriter json(out, pretty);
    json.beginArray();
    for (const Label& l : labels) {
        json.beginObject();
        json.field(l.level == LabelLevel::Image    ? "instance"
                   : l.level == LabelLevel::Series ? "series"
                                                   : "study",
                   l.item);
        json.field("level", toString(l.level))
            .field("class", l.className)
            .field("annotator", l.annotator)
            .field("time", isoTimeMs(l.timeMs))
            .field("source", toString(l.source));
        if (l.source == LabelSource::Model) {
            json.field("model", l.modelId).field("modelVersion", l.modelVersion);
            if (l.probability >= 0.0) {
                json.field("probability", l.probability);
            }
            json.field("confirmed", l.confirmed);
        }
        json.field("id", (long long)l.id);
        json.endObject();
    }
    json.endArray();
    out << "\n";
}

LabelFileContents readLabelFile(const std::string& path, const std::string& defaultAnnotator) {
    const std::string text = readTextFile(path);
    LabelFileContents out;
    const std::size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) {
        readJson(path, text, defaultAnnotator, out);
    } else {
        readCsv(path, text, defaultAnnotator, out);
    }
    return out;
}

std::size_t importLabels(LabelStore& labels, const LabelFileContents& contents,
                         const std::string& actor, const std::string& source) {
    std::map<std::tuple<int, std::string, std::string>, Label> current;
    LabelQuery all;
    all.includeWithdrawn = true;
    for (const Label& l : labels.current(all)) {
        current[{int(l.level), l.item, l.annotator}] = l;
    }
    std::vector<Label> added;
    for (const Label& l : contents.labels) {
        const auto key = std::make_tuple(int(l.level), l.item, l.annotator);
        const auto it = current.find(key);
        const bool same = it != current.end() && it->second.className == l.className &&
                          it->second.source == l.source && it->second.confirmed == l.confirmed &&
                          it->second.modelVersion == l.modelVersion;
        // An older label (an old export imported again) never replaces a newer one.
        const bool older = it != current.end() && l.timeMs != 0 && l.timeMs < it->second.timeMs;
        if (!same && !older) {
            added.push_back(l);
            current[key] = l;
        }
    }
    if (!added.empty()) {
        labels.addAll(added, actor, source);
    }
    return added.size();
}

} // namespace radiolens
