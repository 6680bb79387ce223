// radiolens-cli forecast: patients' vitals and labs over time (issue 7). `forecast import`
// reads PhysioNet 2012 folders, long CSVs and FHIR bundles and reports what the cleaning rules
// kept and dropped.

#include "app/cli/CliSupport.h"
#include "core/domain/JsonWriter.h"
#include "core/ml/ClinicalImport.h"

#include <iostream>

namespace radiolens::cli {

namespace {

const char* const kForecastHelp =
    R"(usage: radiolens-cli forecast import PATH... [--outcomes FILE] [--json]

Imports patients' vitals and labs and reports what was kept and dropped, and why. PATH is a
folder of PhysioNet 2012 records (Time,Parameter,Value per stay), a long CSV
(patient_id,time,variable,value[,unit]) or a FHIR R4 Bundle of Observations (.json).

Cleaning rules, applied to every value: a value of -1 is a missing marker; a unit the variable
does not know is dropped, known ones are converted (degF, lb, FiO2 in %, mmol/L glucose, ...);
a value outside the physiologically possible range is dropped; an unknown variable is dropped;
an unreadable row is reported with its file and line; a stay with no time-series value is left
out and listed.

  --outcomes FILE  PhysioNet's Outcomes-*.txt, or a CSV with patient_id and outcome columns
  --json           print JSON: {"stays","observations","deaths","files","rows","kept",
                   "converted","dropped":{rule:n},"droppedByVariable":{what:n},
                   "staysWithoutData":[id],"outcomesMissing","problems":[text]}
)";

int runImport(const std::vector<std::string>& argv) {
    const std::string command = "forecast import";
    const Arguments args = parse(command, argv, {"--help", "--json"}, {"--outcomes"});
    if (args.has("--help")) {
        std::cout << kForecastHelp;
        return 0;
    }
    if (args.positional.empty()) {
        usageError(command, "give at least one PATH");
    }
    const ClinicalDataset data = importClinical(args.positional, args.get("--outcomes"));
    const ImportReport& r = data.report;
    std::size_t observations = 0;
    std::size_t deaths = 0;
    for (const auto& stay : data.stays) {
        observations += stay.observations.size();
        deaths += stay.outcome == 1;
    }
    if (!args.has("--json")) {
        std::cout << data.stays.size() << " stays, " << observations << " time-series values";
        if (args.has("--outcomes")) {
            std::cout << ", " << deaths << " in-hospital deaths";
        }
        std::cout << "\n" << r.summary();
        return 0;
    }
    JsonWriter json(std::cout);
    json.beginObject();
    json.field("stays", data.stays.size());
    json.field("observations", observations);
    json.field("deaths", deaths);
    json.field("files", r.files);
    json.field("rows", r.rows);
    json.field("kept", r.kept);
    json.field("converted", r.converted);
    json.key("dropped").beginObject();
    for (const auto& [rule, count] : r.dropped) {
        json.field(rule, count);
    }
    json.endObject();
    json.key("droppedByVariable").beginObject();
    for (const auto& [what, count] : r.droppedByVariable) {
        json.field(what, count);
    }
    json.endObject();
    json.key("staysWithoutData").beginArray();
    for (const auto& id : r.staysWithoutData) {
        json.value(id);
    }
    json.endArray();
    json.field("outcomesMissing", r.outcomesMissing);
    json.key("problems").beginArray();
    for (const auto& p : r.problems) {
        json.value(p);
    }
    json.endArray();
    json.field("moreProblems", r.moreProblems);
    json.endObject();
    std::cout << "\n";
    return 0;
}

} // namespace

int runForecast(const std::vector<std::string>& argv) {
    if (argv.empty()) {
        usageError("forecast", "give a subcommand (import)");
    }
    if (argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kForecastHelp;
        return 0;
    }
    if (argv[0] == "import") {
        return runImport(std::vector<std::string>(argv.begin() + 1, argv.end()));
    }
    usageError("forecast", "unknown subcommand '" + argv[0] + "' (import)");
}

} // namespace radiolens::cli
