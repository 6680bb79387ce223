#pragma once
// Importers of patients' vitals and labs into PatientStay (core/domain/PatientSeries.h):
// PhysioNet 2012 records, a long CSV and FHIR R4 Observation bundles. Every value passes the
// same cleaning rules, and what each rule dropped is counted and reported:
//   1. missing marker: a value of -1 (PhysioNet writes it for an unknown height, weight, ...);
//   2. unknown unit: a unit the variable's catalogue entry does not list (CSV and FHIR); known
//      units are converted to the canonical one (degF to degC, lb to kg, FiO2 % to a fraction);
//   3. impossible value: outside the variable's possible range (a heart rate of 0, a pH of 95);
//   4. unknown variable: a name or LOINC code not in the catalogue;
//   5. unparseable row: a wrong field count, a bad time, a value that is not a number (with its
//      file and line);
//   6. a stay with no time-series value at all is left out of the dataset and listed.

#include "core/domain/PatientSeries.h"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace radiolens {

/// What an import read, kept, converted and dropped, and why.
struct ImportReport {
    std::size_t files = 0;
    std::size_t rows = 0;      ///< data rows (CSV, PhysioNet) or observation values (FHIR) read
    std::size_t kept = 0;      ///< values kept (time series and statics)
    std::size_t converted = 0; ///< of which converted from another unit
    /// Dropped rows and values by rule: "missing marker (-1)", "unknown unit", "impossible
    /// value", "unknown variable", "unparseable row".
    std::map<std::string, std::size_t> dropped;
    /// The same by variable: "HR: impossible value", "Foo: unknown variable".
    std::map<std::string, std::size_t> droppedByVariable;
    /// "set-a/132539.txt:12: the value 'abc' is not a number", the first kMaxProblems.
    std::vector<std::string> problems;
    std::size_t moreProblems = 0; ///< problems past kMaxProblems, counted only
    /// Stays with no time-series value, left out of the dataset.
    std::vector<std::string> staysWithoutData;
    std::size_t outcomesMissing = 0; ///< stays an outcomes file was given for but did not list

    static constexpr std::size_t kMaxProblems = 100;

    /// Several lines of plain text: counts, then each rule, then the problems.
    std::string summary() const;
};

/// Imported stays, sorted by id, and the report of the import.
struct ClinicalDataset {
    std::vector<PatientStay> stays;
    ImportReport report;
};

/// A folder of PhysioNet 2012 records (one `Time,Parameter,Value` file per stay, times HH:MM
/// since ICU admission, RecordID and statics at 00:00). Throws std::runtime_error when the
/// folder cannot be read or holds no record; a damaged record is reported and the rest import.
ClinicalDataset importPhysioNet2012(const std::string& folder);

/// A long CSV with the header `patient_id,time,variable,value[,unit]`. Time is hours since
/// admission (a number, or HH:MM), or an ISO 8601 date-time (then hours since the patient's
/// first row); the first data row sets which for the whole file. Variables by PhysioNet name.
ClinicalDataset importLongCsv(const std::string& file);

/// A FHIR R4 Bundle (JSON) of Observation resources (LOINC codes, valueQuantity, components
/// for blood-pressure panels) and optionally Patient resources (birthDate, gender). Times are
/// hours since the patient's first observation. Throws std::runtime_error when the file is not
/// a Bundle.
ClinicalDataset importFhirBundle(const std::string& file);

/// Imports every path by what it is (a folder or a .txt record: PhysioNet 2012; .csv: long CSV;
/// .json: FHIR)
/// and merges them: stays with the same id become one (values of all inputs, each static from
/// the first input that has it; times as each input gives them). With `outcomesFiles`
/// (PhysioNet's `Outcomes-*.txt`, or any CSV with an id column, RecordID or patient_id, and an
/// In-hospital_death or outcome column; a later file wins for an id listed twice), sets each
/// stay's outcome and counts the stays none of them lists.
ClinicalDataset importClinical(const std::vector<std::string>& paths,
                               const std::vector<std::string>& outcomesFiles = {});

} // namespace radiolens
