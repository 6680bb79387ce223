// libFuzzer harness for the clinical importers (core/ml/ClinicalImport), built three times:
// RADIOLENS_FUZZ_PHYSIONET (one PhysioNet 2012 record, Time,Parameter,Value),
// RADIOLENS_FUZZ_LONG_CSV (patient_id,time,variable,value[,unit]) and RADIOLENS_FUZZ_FHIR (an R4
// Bundle of Observations). The input is imported on its own, then through importClinical with
// itself as the outcomes file, and what was imported is scaled and encoded for the forecaster
// (fitInputScaling, encodeForecastInputs) as training and prediction do.
//
// Promises checked besides the sanitizers': a file that cannot be imported at all is a
// std::runtime_error with a message; everything else is a report; imported values lie in their
// variable's possible range.

#include "core/domain/ForecastCard.h"
#include "core/domain/PatientSeries.h"
#include "core/ml/ClinicalImport.h"
#include "core/ml/ForecastInputs.h"

#include "tests/fuzz/FuzzInput.h"

#include <cstdint>
#include <stdexcept>

using namespace radiolens;

namespace {

#if defined(RADIOLENS_FUZZ_PHYSIONET)
const char* const kName = "132539.txt";
ClinicalDataset importOne(const std::string& path) {
    return importPhysioNet2012(path);
}
#elif defined(RADIOLENS_FUZZ_LONG_CSV)
const char* const kName = "stays.csv";
ClinicalDataset importOne(const std::string& path) {
    return importLongCsv(path);
}
#elif defined(RADIOLENS_FUZZ_FHIR)
const char* const kName = "bundle.json";
ClinicalDataset importOne(const std::string& path) {
    return importFhirBundle(path);
}
#else
#error "define RADIOLENS_FUZZ_PHYSIONET, RADIOLENS_FUZZ_LONG_CSV or RADIOLENS_FUZZ_FHIR"
#endif

void check(const ClinicalDataset& data) {
    const auto& catalogue = clinicalVariables();
    for (const PatientStay& stay : data.stays) {
        for (const Observation& o : stay.observations) {
            if (o.variable < 0 || std::size_t(o.variable) >= catalogue.size()) {
                fuzz::finding("an observation of an unknown variable in stay " + stay.id);
            }
            const ClinicalVariable& v = catalogue[std::size_t(o.variable)];
            if (!(o.value >= v.minimum && o.value <= v.maximum)) {
                fuzz::finding("an impossible " + v.name + " kept in stay " + stay.id);
            }
        }
    }
    if (data.report.summary().empty()) {
        fuzz::finding("an import without a summary");
    }
}

void forecast(const ClinicalDataset& data) {
    std::vector<const PatientStay*> stays;
    for (const PatientStay& stay : data.stays) {
        stays.push_back(&stay);
    }
    ForecastCard card;
    fitInputScaling(stays, card);
    const ForecastInputs inputs = encodeForecastInputs(stays, card);
    if (inputs.count != stays.size()) {
        fuzz::finding("encodeForecastInputs lost stays");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::inputFile(data, size, kName);
    try {
        const ClinicalDataset imported = importOne(path);
        check(imported);
        forecast(imported);
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("an import refused without a reason");
        }
    }
    try {
        const ClinicalDataset merged = importClinical({path}, {path});
        check(merged);
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).empty()) {
            fuzz::finding("an import refused without a reason");
        }
    }
    return 0;
}
