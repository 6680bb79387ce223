#include "core/ml/ClinicalImport.h"

#include "core/domain/ClockTime.h"
#include "core/domain/JsonValue.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

std::string trimmed(const std::string& text) {
    std::size_t a = 0;
    std::size_t b = text.size();
    while (a < b && (std::isspace(static_cast<unsigned char>(text[a])) || text[a] == '"')) {
        ++a;
    }
    while (b > a && (std::isspace(static_cast<unsigned char>(text[b - 1])) || text[b - 1] == '"')) {
        --b;
    }
    return text.substr(a, b - a);
}

std::vector<std::string> fields(const std::string& line) {
    std::vector<std::string> out;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, ',')) {
        out.push_back(trimmed(field));
    }
    if (!line.empty() && line.back() == ',') {
        out.emplace_back();
    }
    return out;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

/// The next line of `in` that is not blank, without its CR; `number` counts every line read.
bool nextLine(std::istream& in, std::string& line, int& number) {
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (!trimmed(line).empty()) {
            return true;
        }
    }
    return false;
}

/// Makes `stay`'s times hours since its first observation; returns that first time (infinite
/// when there is none).
double startAtFirstObservation(PatientStay& stay) {
    double first = INFINITY;
    for (const auto& o : stay.observations) {
        first = std::min(first, o.hours);
    }
    for (auto& o : stay.observations) {
        o.hours -= first;
    }
    return first;
}

/// A finite number filling the whole of `text`.
bool parseNumber(const std::string& text, double& value) {
    if (text.empty()) {
        return false;
    }
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return end == text.c_str() + text.size() && std::isfinite(value);
}

/// "HH:MM" (hours may exceed 24) as hours.
bool parseHoursMinutes(const std::string& text, double& hours) {
    const auto colon = text.find(':');
    double h = 0.0;
    double m = 0.0;
    if (colon == std::string::npos || !parseNumber(text.substr(0, colon), h) ||
        !parseNumber(text.substr(colon + 1), m) || h < 0 || m < 0 || m >= 60) {
        return false;
    }
    hours = h + m / 60.0;
    return true;
}

/// The rules, applied the same way to every source.
class Cleaner {
public:
    explicit Cleaner(ImportReport& report)
        : m_report(report) {}

    /// A row that cannot be read at all.
    void unparseable(const std::string& where, const std::string& reason) {
        ++m_report.dropped["unparseable row"];
        problem(where, reason);
    }

    void problem(const std::string& where, const std::string& reason) {
        if (m_report.problems.size() < ImportReport::kMaxProblems) {
            m_report.problems.push_back(where + ": " + reason);
        } else {
            ++m_report.moreProblems;
        }
    }

    /// One value of variable `index` (-1: unknown, named `name`) at `hours`, in `unit`.
    void add(PatientStay& stay, int index, const std::string& name, double hours, double value,
             const std::string& unit) {
        if (index < 0) {
            drop("unknown variable", name);
            return;
        }
        const ClinicalVariable& variable = clinicalVariables()[std::size_t(index)];
        if (value == -1.0) {
            drop("missing marker (-1)", variable.name);
            return;
        }
        const double given = value;
        if (!variable.toCanonical(unit, value)) {
            drop("unknown unit", variable.name + " in " + unit);
            return;
        }
        if (value < variable.minimum || value > variable.maximum) {
            drop("impossible value", variable.name);
            return;
        }
        if (value != given) {
            ++m_report.converted;
        }
        ++m_report.kept;
        if (variable.isStatic) {
            if (std::isnan(stay.staticValue(index))) {
                stay.setStatic(index, value);
            }
            return;
        }
        if (variable.name == "Weight" && std::isnan(stay.weight)) {
            stay.weight = value;
        }
        stay.observations.push_back({hours, index, value});
    }

    void drop(const std::string& rule, const std::string& variable) {
        ++m_report.dropped[rule];
        ++m_report.droppedByVariable[variable + ": " + rule];
    }

private:
    ImportReport& m_report;
};

/// Sorts each stay's observations by time, leaves out stays without any and sorts by id.
void finish(ClinicalDataset& data) {
    std::vector<PatientStay> kept;
    for (auto& stay : data.stays) {
        std::stable_sort(
            stay.observations.begin(), stay.observations.end(),
            [](const Observation& a, const Observation& b) { return a.hours < b.hours; });
        if (stay.observations.empty()) {
            data.report.staysWithoutData.push_back(stay.id);
        } else {
            kept.push_back(std::move(stay));
        }
    }
    std::sort(kept.begin(), kept.end(),
              [](const PatientStay& a, const PatientStay& b) { return a.id < b.id; });
    data.stays = std::move(kept);
}

std::ifstream openText(const std::string& file) {
    std::ifstream in(file);
    if (!in) {
        throw std::runtime_error(file + ": cannot be read");
    }
    return in;
}

/// One PhysioNet 2012 record into `stay`.
void readPhysioNetRecord(const fs::path& path, PatientStay& stay, Cleaner& cleaner,
                         ImportReport& report) {
    std::ifstream in(path);
    const std::string name =
        path.parent_path().filename().string() + "/" + path.filename().string();
    stay.id = path.stem().string();
    stay.source = path.string();
    if (!in) {
        cleaner.problem(name, "cannot be read");
        return;
    }
    std::string line;
    int number = 0;
    while (nextLine(in, line, number)) {
        if (number == 1 && line.rfind("Time,", 0) == 0) {
            continue;
        }
        ++report.rows;
        const auto f = fields(line);
        const std::string where = name + ":" + std::to_string(number);
        double hours = 0.0;
        double value = 0.0;
        if (f.size() != 3) {
            cleaner.unparseable(where, "expected Time,Parameter,Value, found " +
                                           std::to_string(f.size()) + " fields");
        } else if (!parseHoursMinutes(f[0], hours)) {
            cleaner.unparseable(where, "the time '" + f[0] + "' is not HH:MM");
        } else if (f[1].empty()) {
            cleaner.unparseable(where, "no parameter name");
        } else if (!parseNumber(f[2], value)) {
            cleaner.unparseable(where, "the value '" + f[2] + "' of " + f[1] + " is not a number");
        } else if (f[1] == "RecordID") {
            stay.id = f[2];
        } else {
            cleaner.add(stay, clinicalVariableIndex(f[1]), f[1], hours, value, "");
        }
    }
}

/// Reads the outcomes listed in `file` into `outcomes` (id -> 0, 1 or -1).
void readOutcomes(ClinicalDataset& data, const std::string& file,
                  std::map<std::string, int>& outcomes) {
    std::ifstream in = openText(file);
    Cleaner cleaner(data.report);
    std::string line;
    std::getline(in, line);
    const auto header = fields(line);
    int idColumn = -1;
    int outcomeColumn = -1;
    for (std::size_t i = 0; i < header.size(); ++i) {
        const std::string h = lower(header[i]);
        if (h == "recordid" || h == "patient_id" || h == "id") {
            idColumn = int(i);
        } else if (h == "in-hospital_death" || h == "outcome") {
            outcomeColumn = int(i);
        }
    }
    if (idColumn < 0 || outcomeColumn < 0) {
        throw std::runtime_error(file + ": needs an id column (RecordID or patient_id) and an "
                                        "outcome column (In-hospital_death or outcome)");
    }
    int number = 1;
    const std::string name = fs::path(file).filename().string();
    while (nextLine(in, line, number)) {
        const auto f = fields(line);
        double value = 0.0;
        const std::string where = name + ":" + std::to_string(number);
        if (f.size() <= std::size_t(std::max(idColumn, outcomeColumn))) {
            cleaner.problem(where, "too few fields");
        } else if (!parseNumber(f[std::size_t(outcomeColumn)], value) ||
                   (value != 0 && value != 1 && value != -1)) {
            cleaner.problem(where, "the outcome '" + f[std::size_t(outcomeColumn)] +
                                       "' is not 0, 1 or -1");
        } else {
            outcomes[f[std::size_t(idColumn)]] = int(value);
        }
    }
}

/// Sets outcomes from `files` on `data`'s stays and counts the stays none of them lists.
void applyOutcomes(ClinicalDataset& data, const std::vector<std::string>& files) {
    std::map<std::string, int> outcomes;
    for (const auto& file : files) {
        readOutcomes(data, file, outcomes);
    }
    for (auto& stay : data.stays) {
        const auto it = outcomes.find(stay.id);
        stay.outcome = it == outcomes.end() ? -1 : it->second;
        if (stay.outcome < 0) {
            ++data.report.outcomesMissing;
        }
    }
}

void merge(ClinicalDataset& into, ClinicalDataset&& from) {
    auto& a = into.report;
    const auto& b = from.report;
    a.files += b.files;
    a.rows += b.rows;
    a.kept += b.kept;
    a.converted += b.converted;
    for (const auto& [k, v] : b.dropped) {
        a.dropped[k] += v;
    }
    for (const auto& [k, v] : b.droppedByVariable) {
        a.droppedByVariable[k] += v;
    }
    for (const auto& p : b.problems) {
        if (a.problems.size() < ImportReport::kMaxProblems) {
            a.problems.push_back(p);
        } else {
            ++a.moreProblems;
        }
    }
    a.moreProblems += b.moreProblems;
    a.staysWithoutData.insert(a.staysWithoutData.end(), b.staysWithoutData.begin(),
                              b.staysWithoutData.end());
    for (auto& stay : from.stays) {
        into.stays.push_back(std::move(stay));
    }
}

} // namespace

std::string ImportReport::summary() const {
    std::ostringstream out;
    out << files << " files, " << rows << " rows or values read, " << kept << " values kept";
    if (converted > 0) {
        out << " (" << converted << " converted from another unit)";
    }
    out << "\n";
    for (const auto& [rule, count] : dropped) {
        out << "dropped, " << rule << ": " << count << "\n";
    }
    for (const auto& [what, count] : droppedByVariable) {
        out << "  " << what << ": " << count << "\n";
    }
    if (!staysWithoutData.empty()) {
        out << "stays without any time-series value, left out: " << staysWithoutData.size() << " (";
        for (std::size_t i = 0; i < staysWithoutData.size() && i < 10; ++i) {
            out << (i ? ", " : "") << staysWithoutData[i];
        }
        out << (staysWithoutData.size() > 10 ? ", ...)\n" : ")\n");
    }
    if (outcomesMissing > 0) {
        out << "stays the outcomes file does not list: " << outcomesMissing << "\n";
    }
    for (const auto& p : problems) {
        out << p << "\n";
    }
    if (moreProblems > 0) {
        out << "... and " << moreProblems << " more problems\n";
    }
    return out.str();
}

namespace {

/// A folder of PhysioNet 2012 records, or one record file (*.txt).
ClinicalDataset readPhysioNet2012(const std::string& folder) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::path(folder).extension() == ".txt") {
        if (!fs::is_regular_file(folder, ec)) {
            throw std::runtime_error(folder + ": cannot be read (missing, or a broken link)");
        }
        files.push_back(folder);
    } else if (!fs::is_directory(folder, ec)) {
        throw std::runtime_error(folder + ": not a folder of PhysioNet 2012 records");
    } else {
        for (const auto& entry : fs::directory_iterator(folder, ec)) {
            if (entry.is_regular_file() && entry.path().extension() == ".txt") {
                files.push_back(entry.path());
            }
        }
    }
    if (files.empty()) {
        throw std::runtime_error(folder + ": no PhysioNet 2012 records (*.txt)");
    }
    std::sort(files.begin(), files.end());
    ClinicalDataset data;
    Cleaner cleaner(data.report);
    data.stays.resize(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
        readPhysioNetRecord(files[i], data.stays[i], cleaner, data.report);
    }
    data.report.files = files.size();
    return data;
}

ClinicalDataset readLongCsv(const std::string& file) {
    std::ifstream in = openText(file);
    ClinicalDataset data;
    data.report.files = 1;
    Cleaner cleaner(data.report);
    std::string line;
    std::getline(in, line);
    const auto header = fields(line);
    if (header.size() < 4 || lower(header[0]) != "patient_id" || lower(header[1]) != "time" ||
        lower(header[2]) != "variable" || lower(header[3]) != "value") {
        throw std::runtime_error(file +
                                 ": the header must be patient_id,time,variable,value[,unit]");
    }
    const std::string name = fs::path(file).filename().string();
    std::map<std::string, std::size_t> index;
    int form = 0; // 1: hours since admission; 2: ISO date-times
    int number = 1;
    while (nextLine(in, line, number)) {
        ++data.report.rows;
        const auto f = fields(line);
        const std::string where = name + ":" + std::to_string(number);
        if (f.size() != 4 && f.size() != 5) {
            cleaner.unparseable(where, "expected 4 or 5 fields, found " + std::to_string(f.size()));
            continue;
        }
        if (f[0].empty()) {
            cleaner.unparseable(where, "no patient_id");
            continue;
        }
        double hours = 0.0;
        const bool relative = parseNumber(f[1], hours) || parseHoursMinutes(f[1], hours);
        const bool absolute = !relative && parseIsoDateTime(f[1], hours);
        if (!relative && !absolute) {
            cleaner.unparseable(where, "the time '" + f[1] +
                                           "' is neither hours, HH:MM nor an ISO 8601 date-time");
            continue;
        }
        if (form == 0) {
            form = relative ? 1 : 2;
        } else if ((form == 1) != relative) {
            cleaner.unparseable(where, "the time '" + f[1] +
                                           "' is not in the form of the file's "
                                           "first row");
            continue;
        }
        double value = 0.0;
        const int variable = clinicalVariableIndex(f[2]);
        if (!parseNumber(f[3], value)) {
            const std::string v = lower(f[3]);
            if (variable == clinicalVariableIndex("Gender") && (v == "f" || v == "female")) {
                value = 0.0;
            } else if (variable == clinicalVariableIndex("Gender") && (v == "m" || v == "male")) {
                value = 1.0;
            } else {
                cleaner.unparseable(where,
                                    "the value '" + f[3] + "' of " + f[2] + " is not a number");
                continue;
            }
        }
        auto [it, added] = index.emplace(f[0], data.stays.size());
        if (added) {
            data.stays.emplace_back();
            data.stays.back().id = f[0];
            data.stays.back().source = file;
        }
        cleaner.add(data.stays[it->second], variable, f[2], hours, value,
                    f.size() == 5 ? f[4] : "");
    }
    if (form == 2) {
        // Hours since each patient's first row.
        for (auto& stay : data.stays) {
            stay.startTime = startAtFirstObservation(stay);
        }
    }
    return data;
}

ClinicalDataset readFhirBundle(const std::string& file) {
    std::ifstream in = openText(file);
    std::stringstream text;
    text << in.rdbuf();
    JsonValue bundle;
    try {
        bundle = JsonValue::parse(text.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(file + ": not JSON (" + e.what() + ")");
    }
    const JsonValue* type = bundle.find("resourceType");
    const JsonValue* entries = bundle.find("entry");
    if (type == nullptr || !type->isString() || type->asString() != "Bundle") {
        throw std::runtime_error(file + ": not a FHIR Bundle (resourceType)");
    }
    ClinicalDataset data;
    data.report.files = 1;
    Cleaner cleaner(data.report);
    const std::string name = fs::path(file).filename().string();
    std::map<std::string, std::size_t> index;
    const auto stayOf = [&](const std::string& id) -> PatientStay& {
        auto [it, added] = index.emplace(id, data.stays.size());
        if (added) {
            data.stays.emplace_back();
            data.stays.back().id = id;
            data.stays.back().source = file;
        }
        return data.stays[it->second];
    };
    const auto string = [](const JsonValue* v) {
        return v && v->isString() ? v->asString() : "";
    };
    std::map<std::string, double> birth; // hours since 1970
    if (entries == nullptr || !entries->isArray()) {
        return data;
    }
    for (std::size_t e = 0; e < entries->items().size(); ++e) {
        const std::string where = name + ": entry " + std::to_string(e);
        const JsonValue* resource = entries->items()[e].find("resource");
        if (resource == nullptr || !resource->isObject()) {
            cleaner.unparseable(where, "no resource");
            continue;
        }
        const std::string kind = string(resource->find("resourceType"));
        if (kind == "Patient") {
            const std::string id = string(resource->find("id"));
            if (id.empty()) {
                cleaner.unparseable(where, "a Patient without id");
                continue;
            }
            PatientStay& stay = stayOf(id);
            const std::string gender = string(resource->find("gender"));
            if (gender == "female" || gender == "male") {
                stay.gender = gender == "male" ? 1.0 : 0.0;
            }
            double hours = 0.0;
            if (parseIsoDateTime(string(resource->find("birthDate")), hours)) {
                birth[id] = hours;
            }
            continue;
        }
        if (kind != "Observation") {
            continue;
        }
        const JsonValue* subject = resource->find("subject");
        std::string reference = string(subject ? subject->find("reference") : nullptr);
        if (reference.rfind("Patient/", 0) == 0) {
            reference = reference.substr(8);
        }
        std::string when = string(resource->find("effectiveDateTime"));
        if (when.empty()) {
            when = string(resource->find("effectiveInstant"));
        }
        if (when.empty()) {
            const JsonValue* period = resource->find("effectivePeriod");
            when = string(period ? period->find("start") : nullptr);
        }
        double hours = 0.0;
        if (reference.empty()) {
            cleaner.unparseable(where, "an Observation without subject.reference");
            continue;
        }
        if (!parseIsoDateTime(when, hours)) {
            cleaner.unparseable(where, "an Observation without a readable effective time ('" +
                                           when + "')");
            continue;
        }
        PatientStay& stay = stayOf(reference);
        // The value itself, or each component of a panel (blood pressure).
        std::vector<const JsonValue*> parts = {resource};
        if (const JsonValue* components = resource->find("component");
            components && components->isArray() && !resource->find("valueQuantity")) {
            parts.clear();
            for (const auto& c : components->items()) {
                parts.push_back(&c);
            }
        }
        for (const JsonValue* part : parts) {
            ++data.report.rows;
            const JsonValue* code = part->find("code");
            const JsonValue* codings = code ? code->find("coding") : nullptr;
            int variable = -1;
            std::string label = string(code ? code->find("text") : nullptr);
            if (codings && codings->isArray()) {
                for (const auto& c : codings->items()) {
                    const std::string system = string(c.find("system"));
                    if (variable < 0 && system.find("loinc") != std::string::npos) {
                        variable = clinicalVariableByLoinc(string(c.find("code")));
                        label = label.empty() ? "LOINC " + string(c.find("code")) : label;
                    }
                }
            }
            if (variable < 0 && !label.empty()) {
                variable = clinicalVariableIndex(label);
            }
            const JsonValue* quantity = part->find("valueQuantity");
            const JsonValue* value = quantity ? quantity->find("value") : nullptr;
            if (value == nullptr || !value->isNumber()) {
                cleaner.unparseable(where, "no numeric valueQuantity for " +
                                               (label.empty() ? std::string("a code") : label));
                continue;
            }
            std::string unit = string(quantity->find("code"));
            if (unit.empty()) {
                unit = string(quantity->find("unit"));
            }
            cleaner.add(stay, variable, label.empty() ? "an uncoded observation" : label, hours,
                        value->asNumber(), unit);
        }
    }
    for (auto& stay : data.stays) {
        const double first = startAtFirstObservation(stay);
        if (std::isfinite(first)) {
            stay.startTime = first;
        }
        const auto b = birth.find(stay.id);
        if (b != birth.end() && std::isfinite(first) && std::isnan(stay.age)) {
            stay.age = std::floor((first - b->second) / (24.0 * 365.2425));
        }
    }
    return data;
}

} // namespace

ClinicalDataset importPhysioNet2012(const std::string& folder) {
    ClinicalDataset data = readPhysioNet2012(folder);
    finish(data);
    return data;
}

ClinicalDataset importLongCsv(const std::string& file) {
    ClinicalDataset data = readLongCsv(file);
    finish(data);
    return data;
}

ClinicalDataset importFhirBundle(const std::string& file) {
    ClinicalDataset data = readFhirBundle(file);
    finish(data);
    return data;
}

ClinicalDataset importClinical(const std::vector<std::string>& paths,
                               const std::vector<std::string>& outcomesFiles) {
    ClinicalDataset all;
    for (const auto& path : paths) {
        std::error_code ec;
        const std::string extension = lower(fs::path(path).extension().string());
        if (fs::is_directory(path, ec)) {
            merge(all, readPhysioNet2012(path));
        } else if (extension == ".txt") {
            merge(all, readPhysioNet2012(path));
        } else if (extension == ".csv") {
            merge(all, readLongCsv(path));
        } else if (extension == ".json") {
            merge(all, readFhirBundle(path));
        } else {
            throw std::runtime_error(path + ": neither PhysioNet 2012 records (a folder or a .txt "
                                            "record), a .csv nor a FHIR .json bundle");
        }
    }
    // One stay per id: values from several inputs (a CSV of labs, a FHIR bundle of vitals) join.
    std::stable_sort(all.stays.begin(), all.stays.end(),
                     [](const PatientStay& a, const PatientStay& b) { return a.id < b.id; });
    std::vector<PatientStay> joined;
    for (auto& stay : all.stays) {
        if (joined.empty() || joined.back().id != stay.id) {
            joined.push_back(std::move(stay));
            continue;
        }
        PatientStay& into = joined.back();
        for (int i = 0; i < 4; ++i) {
            if (std::isnan(into.staticValue(i))) {
                into.setStatic(i, stay.staticValue(i));
            }
        }
        if (std::isnan(into.weight)) {
            into.weight = stay.weight;
        }
        if (std::isnan(into.startTime)) {
            into.startTime = stay.startTime;
        }
        into.source += ", " + stay.source;
        into.observations.insert(into.observations.end(), stay.observations.begin(),
                                 stay.observations.end());
        std::stable_sort(
            into.observations.begin(), into.observations.end(),
            [](const Observation& a, const Observation& b) { return a.hours < b.hours; });
    }
    all.stays = std::move(joined);
    finish(all);
    if (!outcomesFiles.empty()) {
        applyOutcomes(all, outcomesFiles);
    }
    return all;
}

} // namespace radiolens
