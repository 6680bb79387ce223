#pragma once
// Patients' vitals and labs over time, as Radiolens keeps them whatever file they came from
// (PhysioNet 2012 records, a long CSV, FHIR Observations): one stay per patient admission, its
// static descriptors and its time-stamped measurements in canonical units.

#include <limits>
#include <string>
#include <vector>

namespace radiolens {

/// A unit a variable may arrive in: canonical = value * scale + offset.
struct UnitConversion {
    std::string unit; ///< as written in files, compared case-insensitively ("degF", "[lb_av]")
    double scale = 1.0;
    double offset = 0.0;
};

/// A variable Radiolens knows: its canonical unit, the values that are physiologically
/// possible (anything outside is a recording error and is dropped on import), the normal range
/// (shaded on charts) and the LOINC codes it is known by in FHIR.
struct ClinicalVariable {
    std::string name;        ///< PhysioNet 2012 parameter name: "HR", "Temp", "Age"
    std::string description; ///< "heart rate"
    std::string unit;        ///< canonical unit: "bpm", "degC", "mg/dL"
    double minimum = 0.0;    ///< smallest possible value, in `unit`
    double maximum = 0.0;    ///< largest possible value, in `unit`
    double normalLow = 0.0;  ///< normal range, in `unit` (equal bounds: none)
    double normalHigh = 0.0;
    bool isStatic = false;          ///< a descriptor of the stay (Age, Gender, Height, ICUType)
    std::vector<std::string> loinc; ///< codes in FHIR Observation.code
    /// Units accepted besides `unit` (which needs no conversion), and how to convert them.
    std::vector<UnitConversion> otherUnits;

    /// `value` in `given` unit converted into `unit`; false when the unit is not known. An
    /// empty unit is taken as the canonical one.
    bool toCanonical(const std::string& given, double& value) const;
};

/// Every variable, statics first (Age, Gender, Height, ICUType), then PhysioNet 2012's 37 time
/// series (Weight among them), in a fixed order: a variable's index is stable.
const std::vector<ClinicalVariable>& clinicalVariables();

/// The index of `name` in clinicalVariables() (exact PhysioNet spelling), or -1.
int clinicalVariableIndex(const std::string& name);

/// The variable with LOINC code `code`, or -1.
int clinicalVariableByLoinc(const std::string& code);

/// One measurement: `hours` after the start of the stay, in the variable's canonical unit.
struct Observation {
    double hours = 0.0;
    int variable = 0; ///< index into clinicalVariables()
    double value = 0.0;
};

/// One ICU stay of one patient.
struct PatientStay {
    static constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

    std::string id;           ///< RecordID (PhysioNet), patient_id (CSV), Patient id (FHIR)
    std::string source;       ///< the file it came from
    double age = kMissing;    ///< years
    double gender = kMissing; ///< 0 female, 1 male
    double height = kMissing; ///< cm
    double icuType =
        kMissing; ///< 1 coronary care, 2 cardiac surgery recovery, 3 medical, 4 surgical
    double weight = kMissing;              ///< kg, the first weight of the stay
    std::vector<Observation> observations; ///< time series only, sorted by time
    /// Hour 0 of the stay as hours since 1970-01-01 UTC (ClockTime.h) when the input gave
    /// date-times (ISO 8601 CSV, FHIR); NaN when it gave hours since admission (PhysioNet).
    double startTime = kMissing;
    int outcome = -1; ///< in-hospital death: 1 died, 0 survived, -1 unknown

    /// The static descriptor of variable `index` (Age, Gender, Height, ICUType), NaN if none.
    double staticValue(int index) const;
    /// Sets a static descriptor; `index` must be a static variable.
    void setStatic(int index, double value);
};

} // namespace radiolens
