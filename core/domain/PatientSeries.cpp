#include "core/domain/PatientSeries.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

namespace radiolens {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

// Units written several ways in CSV and FHIR (UCUM) files.
const std::vector<std::string> kMmHg = {"mmhg", "mm[hg]"};
const std::vector<std::string> kPerMinute = {
    "bpm", "/min", "{beats}/min", "{breaths}/min", "beats/min", "breaths/min", "1/min"};
const std::vector<std::string> kPerNanolitre = {"cells/nl", "10*3/ul", "10^3/ul", "k/ul",
                                                "10*9/l",   "10^9/l",  "x10^9/l"};
const std::vector<std::string> kMillimolar = {"mmol/l", "meq/l"};
const std::vector<std::string> kUnitsPerLitre = {"iu/l", "u/l"};

std::vector<UnitConversion> same(const std::vector<std::string>& names) {
    std::vector<UnitConversion> units;
    for (const auto& n : names) {
        units.push_back({n, 1.0, 0.0});
    }
    return units;
}

std::vector<UnitConversion> operator+(std::vector<UnitConversion> a,
                                      const std::vector<UnitConversion>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// The catalogue. Possible ranges are wide on purpose: they drop recording errors (a heart rate
/// of 0 written for "not measured", a pH of 95), never a sick patient's real value. Normal
/// ranges are common adult reference ranges. PhysioNet 2012's documentation gives magnesium in
/// mmol/L, but its values (median 2.0) are mg/dL, which is what is kept.
std::vector<ClinicalVariable> makeCatalogue() {
    const auto pressure = [](const char* name, const char* what, double lo, double hi, double nlo,
                             double nhi, std::vector<std::string> loinc) {
        return ClinicalVariable{name,
                                what,
                                "mmHg",
                                lo,
                                hi,
                                nlo,
                                nhi,
                                false,
                                std::move(loinc),
                                same(kMmHg) + std::vector<UnitConversion>{{"kpa", 7.50062, 0.0}}};
    };
    return {
        // ---- statics
        {"Age", "age", "years", 0, 120, 0, 0, true, {"30525-0"}, same({"a", "yr", "year"})},
        {"Gender", "sex (0 female, 1 male)", "", 0, 1, 0, 0, true, {"46098-0"}, {}},
        {"Height",
         "height",
         "cm",
         50,
         250,
         0,
         0,
         true,
         {"8302-2"},
         {{"m", 100.0, 0.0}, {"in", 2.54, 0.0}, {"[in_i]", 2.54, 0.0}}},
        {"ICUType",
         "ICU type (1 coronary, 2 cardiac surgery, 3 medical, 4 surgical)",
         "",
         1,
         4,
         0,
         0,
         true,
         {},
         {}},
        // ---- time series (PhysioNet 2012)
        {"Albumin", "albumin", "g/dL", 0.5, 7, 3.5, 5.0, false, {"1751-7"}, {{"g/l", 0.1, 0.0}}},
        {"ALP",
         "alkaline phosphatase",
         "IU/L",
         1,
         5000,
         44,
         147,
         false,
         {"6768-6"},
         same(kUnitsPerLitre)},
        {"ALT",
         "alanine transaminase",
         "IU/L",
         1,
         20000,
         7,
         56,
         false,
         {"1742-6"},
         same(kUnitsPerLitre)},
        {"AST",
         "aspartate transaminase",
         "IU/L",
         1,
         20000,
         10,
         40,
         false,
         {"1920-8"},
         same(kUnitsPerLitre)},
        {"Bilirubin",
         "bilirubin",
         "mg/dL",
         0.05,
         60,
         0.1,
         1.2,
         false,
         {"1975-2"},
         {{"umol/l", 1.0 / 17.1, 0.0}, {"\u00b5mol/l", 1.0 / 17.1, 0.0}}},
        {"BUN",
         "blood urea nitrogen",
         "mg/dL",
         0.5,
         300,
         7,
         20,
         false,
         {"3094-0"},
         {{"mmol/l", 2.801, 0.0}}},
        {"Cholesterol",
         "cholesterol",
         "mg/dL",
         20,
         1000,
         100,
         200,
         false,
         {"2093-3"},
         {{"mmol/l", 38.67, 0.0}}},
        {"Creatinine",
         "creatinine",
         "mg/dL",
         0.05,
         30,
         0.6,
         1.3,
         false,
         {"2160-0"},
         {{"umol/l", 1.0 / 88.42, 0.0}, {"\u00b5mol/l", 1.0 / 88.42, 0.0}}},
        pressure("DiasABP", "invasive diastolic arterial pressure", 5, 250, 60, 90, {"76213-5"}),
        {"FiO2",
         "fraction of inspired oxygen",
         "fraction",
         0.21,
         1,
         0,
         0,
         false,
         {"3150-0"},
         {{"1", 1.0, 0.0}, {"%", 0.01, 0.0}}},
        {"GCS", "Glasgow coma score", "", 3, 15, 14, 15, false, {"9269-2"}, same({"{score}"})},
        {"Glucose",
         "glucose",
         "mg/dL",
         10,
         2000,
         70,
         140,
         false,
         {"2345-7", "2339-0"},
         {{"mmol/l", 18.016, 0.0}}},
        {"HCO3",
         "bicarbonate",
         "mmol/L",
         2,
         60,
         22,
         29,
         false,
         {"1963-8", "1960-4"},
         same(kMillimolar)},
        {"HCT", "haematocrit", "%", 5, 75, 36, 50, false, {"4544-3"}, {}},
        {"HR", "heart rate", "bpm", 10, 300, 60, 100, false, {"8867-4"}, same(kPerMinute)},
        {"K", "potassium", "mEq/L", 1, 12, 3.5, 5.1, false, {"2823-3"}, same(kMillimolar)},
        {"Lactate",
         "lactate",
         "mmol/L",
         0.1,
         40,
         0.5,
         2.0,
         false,
         {"2524-7", "32693-4"},
         same(kMillimolar)},
        {"Mg",
         "magnesium",
         "mg/dL",
         0.3,
         10,
         1.7,
         2.4,
         false,
         {"19123-9", "2601-3"},
         {{"mmol/l", 2.431, 0.0}}},
        pressure("MAP", "invasive mean arterial pressure", 10, 300, 70, 105, {"76214-3"}),
        {"MechVent", "mechanical ventilation (0/1)", "", 0, 1, 0, 0, false, {}, {}},
        {"Na", "sodium", "mEq/L", 90, 200, 135, 145, false, {"2951-2"}, same(kMillimolar)},
        pressure("NIDiasABP", "non-invasive diastolic blood pressure", 5, 250, 60, 90, {"8462-4"}),
        pressure("NIMAP", "non-invasive mean blood pressure", 10, 300, 70, 105, {"8478-0"}),
        pressure("NISysABP", "non-invasive systolic blood pressure", 20, 300, 90, 140, {"8480-6"}),
        pressure("PaCO2", "arterial CO2 partial pressure", 5, 200, 35, 45, {"2019-8"}),
        pressure("PaO2", "arterial O2 partial pressure", 10, 800, 75, 100, {"2703-7"}),
        {"pH",
         "arterial pH",
         "",
         6.5,
         8.0,
         7.35,
         7.45,
         false,
         {"2744-1", "11558-4"},
         same({"[ph]", "ph"})},
        {"Platelets",
         "platelets",
         "cells/nL",
         1,
         2000,
         150,
         400,
         false,
         {"777-3"},
         same(kPerNanolitre)},
        {"RespRate",
         "respiratory rate",
         "bpm",
         1,
         100,
         12,
         20,
         false,
         {"9279-1"},
         same(kPerMinute)},
        {"SaO2", "arterial O2 saturation", "%", 20, 100, 95, 100, false, {"2708-6"}, {}},
        pressure("SysABP", "invasive systolic arterial pressure", 20, 300, 90, 140, {"76215-0"}),
        {"Temp",
         "temperature",
         "degC",
         20,
         45,
         36.1,
         37.8,
         false,
         {"8310-5"},
         same({"cel", "c", "\u00b0c"}) +
             std::vector<UnitConversion>{{"degf", 5.0 / 9.0, -160.0 / 9.0},
                                         {"[degf]", 5.0 / 9.0, -160.0 / 9.0},
                                         {"f", 5.0 / 9.0, -160.0 / 9.0},
                                         {"\u00b0f", 5.0 / 9.0, -160.0 / 9.0}}},
        {"TroponinI",
         "troponin I",
         "ug/L",
         0,
         500,
         0,
         0.04,
         false,
         {"10839-9"},
         {{"ng/ml", 1.0, 0.0}, {"ng/l", 0.001, 0.0}}},
        {"TroponinT",
         "troponin T",
         "ug/L",
         0,
         100,
         0,
         0.01,
         false,
         {"6598-7"},
         {{"ng/ml", 1.0, 0.0}, {"ng/l", 0.001, 0.0}}},
        {"Urine", "urine output", "mL", 0, 15000, 0, 0, false, {"9187-6"}, {{"l", 1000.0, 0.0}}},
        {"WBC",
         "white blood cells",
         "cells/nL",
         0.1,
         500,
         4.5,
         11,
         false,
         {"6690-2"},
         same(kPerNanolitre)},
        {"Weight",
         "weight",
         "kg",
         20,
         400,
         0,
         0,
         false,
         {"29463-7", "3141-9"},
         {{"lb", 0.45359237, 0.0},
          {"lbs", 0.45359237, 0.0},
          {"[lb_av]", 0.45359237, 0.0},
          {"g", 0.001, 0.0}}},
    };
}

} // namespace

bool ClinicalVariable::toCanonical(const std::string& given, double& value) const {
    const std::string u = lower(given);
    if (u.empty() || u == lower(unit)) {
        return true;
    }
    for (const auto& c : otherUnits) {
        if (u == lower(c.unit)) {
            value = value * c.scale + c.offset;
            return true;
        }
    }
    return false;
}

const std::vector<ClinicalVariable>& clinicalVariables() {
    static const std::vector<ClinicalVariable> catalogue = makeCatalogue();
    return catalogue;
}

int clinicalVariableIndex(const std::string& name) {
    static const std::map<std::string, int> byName = [] {
        std::map<std::string, int> m;
        const auto& all = clinicalVariables();
        for (std::size_t i = 0; i < all.size(); ++i) {
            m[all[i].name] = int(i);
        }
        return m;
    }();
    const auto it = byName.find(name);
    return it == byName.end() ? -1 : it->second;
}

int clinicalVariableByLoinc(const std::string& code) {
    static const std::map<std::string, int> byCode = [] {
        std::map<std::string, int> m;
        const auto& all = clinicalVariables();
        for (std::size_t i = 0; i < all.size(); ++i) {
            for (const auto& c : all[i].loinc) {
                m[c] = int(i);
            }
        }
        return m;
    }();
    const auto it = byCode.find(code);
    return it == byCode.end() ? -1 : it->second;
}

double PatientStay::staticValue(int index) const {
    switch (index) {
    case 0:
        return age;
    case 1:
        return gender;
    case 2:
        return height;
    case 3:
        return icuType;
    default:
        return kMissing;
    }
}

void PatientStay::setStatic(int index, double value) {
    switch (index) {
    case 0:
        age = value;
        return;
    case 1:
        gender = value;
        return;
    case 2:
        height = value;
        return;
    case 3:
        icuType = value;
        return;
    default:
        throw std::invalid_argument("variable " + std::to_string(index) + " is not static");
    }
}

} // namespace radiolens
