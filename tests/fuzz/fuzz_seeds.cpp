// Writes seed inputs that only the product can write well, so that they follow its formats as
// they change:
//   fuzz_seeds OUTPUT_FOLDER [PHYSIONET_RECORD.txt ...]
// writes model-card-*.json and forecast-card.json (ModelCard::toJson, ForecastCard::toJson) and,
// for each PhysioNet 2012 record given (read by importPhysioNet2012), the same stay as a long
// CSV (stay-ID.csv, the first values only, hours as numbers, units as the catalogue names them) and
// as a FHIR R4 Bundle (stay-ID.json, LOINC codes, ISO times, a Patient with gender and birth date).

#include "core/domain/ForecastCard.h"
#include "core/domain/ModelCard.h"
#include "core/domain/PatientSeries.h"
#include "core/ml/ClinicalImport.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

using namespace radiolens;

namespace {

void save(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) {
        std::cerr << path << ": cannot be written\n";
        std::exit(1);
    }
}

/// Hours since 2020-01-01T00:00:00Z as an ISO 8601 date-time (January and February only).
std::string isoTime(double hours) {
    const long minutes = std::lround(hours * 60.0);
    const long day = minutes / (24 * 60);
    const int month = day < 31 ? 1 : 2;
    char text[40];
    std::snprintf(text, sizeof text, "2020-%02d-%02ldT%02ld:%02ld:00Z", month,
                  (month == 1 ? day : day - 31) + 1, (minutes / 60) % 24, minutes % 60);
    return text;
}

std::string number(double value) {
    std::ostringstream out;
    out.precision(10);
    out << value;
    return out.str();
}

/// Seeds stay small: mutations of a long file are slow and add little.
constexpr std::size_t kMaxObservations = 60;

/// One stay (its first kMaxObservations values) as a long CSV and as a FHIR bundle.
void saveStay(const std::string& out, const PatientStay& stay) {
    const auto& catalogue = clinicalVariables();
    std::ostringstream csv;
    csv << "patient_id,time,variable,value,unit\n";
    std::ostringstream fhir;
    fhir << "{\"resourceType\": \"Bundle\", \"type\": \"collection\", \"entry\": [\n";
    fhir << "  {\"resource\": {\"resourceType\": \"Patient\", \"id\": \"" << stay.id
         << "\", \"gender\": \"" << (stay.gender > 0.5 ? "male" : "female")
         << "\", \"birthDate\": \"1950-06-01\"}}";
    for (int i = 0; i < 4; ++i) {
        if (!std::isnan(stay.staticValue(i))) {
            csv << stay.id << ",0," << catalogue[std::size_t(i)].name << ","
                << number(stay.staticValue(i)) << "," << catalogue[std::size_t(i)].unit << "\n";
        }
    }
    std::size_t written = 0;
    for (const Observation& o : stay.observations) {
        if (++written > kMaxObservations) {
            break;
        }
        const ClinicalVariable& v = catalogue[std::size_t(o.variable)];
        csv << stay.id << "," << number(o.hours) << "," << v.name << "," << number(o.value) << ","
            << v.unit << "\n";
        if (v.loinc.empty()) {
            continue;
        }
        fhir << ",\n  {\"resource\": {\"resourceType\": \"Observation\", \"status\": \"final\", "
             << "\"subject\": {\"reference\": \"Patient/" << stay.id << "\"}, "
             << "\"effectiveDateTime\": \"" << isoTime(o.hours) << "\", "
             << "\"code\": {\"coding\": [{\"system\": \"http://loinc.org\", \"code\": \""
             << v.loinc.front() << "\"}], \"text\": \"" << v.name << "\"}, "
             << "\"valueQuantity\": {\"value\": " << number(o.value) << ", \"unit\": \"" << v.unit
             << "\", \"system\": \"http://unitsofmeasure.org\", \"code\": \"" << v.unit << "\"}}}";
    }
    fhir << "\n]}\n";
    save(out + "/stay-" + stay.id + ".csv", csv.str());
    save(out + "/stay-" + stay.id + ".json", fhir.str());
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: fuzz_seeds OUTPUT_FOLDER [PHYSIONET_RECORD.txt ...]\n";
        return 2;
    }
    const std::string out = argv[1];
    const std::string sha(64, 'a');

    ModelCard binary;
    binary.id = "pneumonia-resnet18";
    binary.version = "20240101T000000";
    binary.classNames = {"normal", "pneumonia"};
    binary.input.modalities = {"CR", "DX"};
    binary.weightsSha256 = sha;
    binary.training = {{"dataset", "pneumoniamnist.npz"}, {"epochs", "3"}};
    binary.metrics["validation"] = {0.95, 0.88, 0.9, 0.85, 0.03, 524};
    binary.metrics["test"] = {0.93, 0.86, 0.89, 0.8, 0.05, 624};
    save(out + "/model-card-binary.json", binary.toJson());

    ModelCard window = binary;
    window.id = "ct-window";
    window.format = "torchscript";
    window.architecture = "densenet121";
    window.stem = "standard";
    window.pooling = "max";
    window.gradCamFlipAverage = true;
    window.task = "multi-label";
    window.classNames = {"nodule", "effusion", "edema"};
    window.input.modalities = {"CT"};
    window.input.size = 224;
    window.input.channels = 3;
    window.input.preprocessing = "window";
    window.input.windowCenter = 40;
    window.input.windowWidth = 400;
    window.temperature = 1.7;
    window.parentVersion = "1";
    save(out + "/model-card-window.json", window.toJson());

    ForecastCard forecast;
    forecast.id = "physionet2012-mortality";
    forecast.version = "20240101T000000";
    forecast.series = {
        {"HR", false, 87.0, 17.5}, {"Lactate", true, 1.1, 0.5}, {"pH", false, 7.4, 0.07}};
    forecast.statics = {
        {"Age", false, 64.0, 17.0}, {"Height", false, 170.0, 12.0}, {"Weight", false, 82.0, 24.0}};
    forecast.hours = 6;
    forecast.calibrationSlope = {1.0, 0.9, 0.95, 1.0, 1.1, 1.0};
    forecast.calibrationIntercept = {0.0, -0.1, 0.05, 0.0, 0.1, -0.2};
    forecast.alertThreshold = 0.42;
    forecast.training = {{"data", "set-a"}, {"epochs", "20"}};
    RiskMetrics metrics;
    metrics.auroc = {0.84, 0.81, 0.87};
    metrics.auprc = {0.48, 0.42, 0.55};
    metrics.n = 800;
    metrics.positives = 110;
    metrics.resamples = 200;
    forecast.metrics["validation"] = metrics;
    forecast.weightsSha256 = sha;
    forecast.staysSha256 = sha;
    save(out + "/forecast-card.json", forecast.toJson());

    for (int i = 2; i < argc; ++i) {
        try {
            for (const PatientStay& stay : importPhysioNet2012(argv[i]).stays) {
                saveStay(out, stay);
            }
        } catch (const std::exception& e) {
            std::cerr << e.what() << "\n";
            return 1;
        }
    }
    return 0;
}
