// radiolens-cli forecast: patients' vitals and labs over time (issue 7). `forecast import`
// reads PhysioNet 2012 folders, long CSVs and FHIR bundles and reports what the cleaning rules
// kept and dropped; `train`, `evaluate` and `predict` train, measure and run the risk
// forecaster.

#include "app/cli/CliSupport.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/JsonValue.h"
#include "core/domain/Paths.h"
#include "core/ml/ClinicalImport.h"
#include "core/ml/ForecastInputs.h"
#include "core/ml/Metrics.h"
#include "core/ml/MlEngine.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>

namespace radiolens::cli {

namespace {

const char* const kForecastHelp =
    R"(usage: radiolens-cli forecast import|train|evaluate|predict ... (each takes --help)

  import PATH...    import vitals and labs and report what the cleaning rules dropped
  train             train the risk forecaster (a GRU-D deep ensemble) on stays with outcomes
  evaluate          AUROC, AUPRC, Brier score and ECE with bootstrap 95% intervals
  predict RECORD... risk trajectory, uncertainty band and what drove the risk
)";

const char* const kImportHelp =
    R"(usage: radiolens-cli forecast import PATH... [--outcomes FILE] [--json]

Imports patients' vitals and labs and reports what was kept and dropped, and why. PATH is a
folder of PhysioNet 2012 records (Time,Parameter,Value per stay), a long CSV
(patient_id,time,variable,value[,unit]) or a FHIR R4 Bundle of Observations (.json).

Cleaning rules, applied to every value: a value of -1 is a missing marker; a unit the variable
does not know is dropped, known ones are converted (degF, lb, FiO2 in %, mmol/L glucose, ...);
a value outside the physiologically possible range is dropped; an unknown variable is dropped;
an unreadable row is reported with its file and line; a stay with no time-series value is left
out and listed.

  --outcomes FILE  PhysioNet's Outcomes-*.txt, or a CSV with patient_id and outcome columns;
                   repeat it for several files (Outcomes-a.txt and Outcomes-b.txt)
  --json           print JSON: {"stays","observations","deaths","files","rows","kept",
                   "converted","dropped":{rule:n},"droppedByVariable":{what:n},
                   "staysWithoutData":[id],"outcomesMissing","problems":[text]}
)";

int runImport(const std::vector<std::string>& argv) {
    const std::string command = "forecast import";
    const Arguments args = parse(command, argv, {"--help", "--json"}, {"--outcomes"});
    if (args.has("--help")) {
        std::cout << kImportHelp;
        return 0;
    }
    if (args.positional.empty()) {
        usageError(command, "give at least one PATH");
    }
    const ClinicalDataset data = importClinical(args.positional, args.all("--outcomes"));
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

const char* const kTrainHelp =
    R"(usage: radiolens-cli forecast train --data PATH [--data PATH...] --outcomes FILE
                                    [--outcomes FILE...] --out MODEL_DIR [options]

Trains the in-hospital mortality forecaster on the stays of every --data (PhysioNet 2012
folders, long CSVs, FHIR bundles; see 'forecast import --help') that an --outcomes file lists.
The model is a deep ensemble of GRU-D networks: hourly values with their missingness masks,
the hours since each variable was last measured (learned decay towards the mean), and the
statics (age, sex, height, weight, ICU type). It gives the risk hour by hour. 15% of the stays
(by a hash of the stay id) are kept for validation: the epoch with the best validation AUROC is
kept, and a logistic calibration is fitted for every hour. Progress goes to stderr.

  --holdout F       leave out a fraction F of the stays (by a hash of the stay id, salt
                    "holdout") for a test the model never sees; 'forecast evaluate' on the same
                    data then measures exactly those (default 0: train on everything)
  --split NAME      another salt for --holdout and the validation part: another random split
                    of the same stays (for repeated splits)
  --members N       ensemble members (default 5)     --hidden N   state size (default 64)
  --epochs N        at most (default 30)             --patience N (default 6)
  --batch N         (default 64)   --lr X (default 0.002)   --seed N (default 1)
  --id NAME         model id for the card (default physionet2012-mortality)
  --json            print the card
)";

const char* const kEvaluateHelp =
    R"(usage: radiolens-cli forecast evaluate --model MODEL_DIR --data PATH [--data PATH...]
                                       --outcomes FILE [--outcomes FILE...] [--json]

Measures the forecaster's calibrated risk at the last hour against in-hospital death on the
given stays. Stays the model was trained or validated on (its stays.json) are left out and
counted, so evaluating on the data the model was trained on with --holdout measures the
held-out stays only.

  --hour H          evaluate the risk at hour H instead of the last hour
  --resamples N     bootstrap resamples for the 95% intervals (default 1000)
  --include-training  keep the stays the model was trained or validated on
  --json            print {"auroc","auprc","brier","ece","n","positives","hour",
                    "ci95":{"auroc":[lo,hi],...},"uncalibratedEce","excludedTrainingStays",
                    "staysWithoutOutcome","model","version","protocol"}
)";

const char* const kPredictHelp =
    R"(usage: radiolens-cli forecast predict --model MODEL_DIR RECORD... [--hour H] [--top N] [--json]

For every stay in the RECORDs (PhysioNet .txt records or folders, long CSVs, FHIR bundles):
the calibrated risk of in-hospital death hour by hour with its uncertainty band (the spread of
the ensemble's members), whether it crosses the model's alert threshold, and the variables that
moved the risk at hour H (default: the last), by integrated gradients over time from a
baseline with every value at the training mean.

  --hour H   the hour to explain (1 to the model's horizon)
  --top N    contributors to list (default 5)
  --json     print [{"id","hours":[..],"risk":[..],"low":[..],"high":[..],"alert":bool,
             "alertThreshold","hour","explanation":{"risk","baselineRisk","contributions":
             [{"variable","total","byHour":[..]}]}}]
)";

/// Stays of `paths` with `outcomes`, their problems said on stderr.
ClinicalDataset importFor(const std::string& command, const std::vector<std::string>& paths,
                          const std::vector<std::string>& outcomes) {
    ClinicalDataset data;
    try {
        data = importClinical(paths, outcomes);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    const ImportReport& r = data.report;
    std::size_t dropped = 0;
    for (const auto& [rule, count] : r.dropped) {
        dropped += count;
    }
    std::fprintf(stderr,
                 "%zu stays read from %zu file(s): %zu values kept, %zu dropped by the "
                 "cleaning rules (see 'forecast import')\n",
                 data.stays.size(), r.files, r.kept, dropped);
    for (const auto& p : r.problems) {
        std::fprintf(stderr, "  %s\n", p.c_str());
    }
    return data;
}

std::string joined(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& item : list) {
        out += (out.empty() ? "" : ", ") + item;
    }
    return out;
}

int runForecastTrain(const std::vector<std::string>& argv) {
    const std::string command = "forecast train";
    const Arguments args =
        parse(command, argv, {"--help", "--json"},
              {"--data", "--outcomes", "--out", "--holdout", "--split", "--members", "--hidden",
               "--epochs", "--patience", "--batch", "--lr", "--seed", "--id"});
    if (args.has("--help")) {
        std::cout << kTrainHelp;
        return 0;
    }
    checkArguments(command, args, {"--data", "--outcomes", "--out"});
    ForecastTrainOptions options;
    const auto setInt = [&](const char* option, int& into, int lo, int hi) {
        if (args.has(option)) {
            into = positiveInt(command, args, option, lo, hi);
        }
    };
    setInt("--members", options.members, 1, 64);
    setInt("--hidden", options.hidden, 4, 1024);
    setInt("--epochs", options.epochs, 1, 1000);
    setInt("--patience", options.patience, 1, 1000);
    setInt("--batch", options.batchSize, 1, 4096);
    int seed = 1;
    setInt("--seed", seed, 0, 1 << 30);
    options.seed = unsigned(seed);
    if (args.has("--lr")) {
        options.learningRate = parseNumber(command, "--lr", args.get("--lr"));
        if (!(options.learningRate > 0) || options.learningRate > 1) {
            usageError(command, "--lr takes a number above 0 and at most 1");
        }
    }
    double holdout = 0.0;
    if (args.has("--holdout")) {
        holdout = parseNumber(command, "--holdout", args.get("--holdout"));
        if (holdout < 0 || holdout >= 0.9) {
            usageError(command, "--holdout takes a fraction from 0 to 0.9");
        }
    }
    options.outDir = args.get("--out");
    options.id = args.get("--id", options.id);
    if (args.has("--split")) {
        if (args.get("--split").empty()) {
            usageError(command, "--split takes a name");
        }
        options.validationSalt = "validation/" + args.get("--split");
    }

    const ClinicalDataset data = importFor(command, args.all("--data"), args.all("--outcomes"));
    std::vector<const PatientStay*> stays;
    std::size_t heldOut = 0;
    for (const auto& stay : data.stays) {
        if (holdout > 0 && stayInPart(stay.id, args.get("--split", "holdout"), holdout)) {
            ++heldOut;
        } else {
            stays.push_back(&stay);
        }
    }
    options.dataDescription = joined(args.all("--data"));
    if (heldOut > 0) {
        options.dataDescription +=
            fmt(" (%.0f stays held out", double(heldOut)) + fmt(" by --holdout %g", holdout) +
            (args.has("--split") ? ", split " + args.get("--split") + ")" : ")");
    }
    std::fprintf(stderr, "training on %zu stays (%zu held out for testing)\n", stays.size(),
                 heldOut);
    MlEngine& ml = engine(command);
    const bool terminal = isatty(2) != 0;
    auto lastPercent = std::make_shared<int>(-1);
    const ForecastObserver observer = [terminal, lastPercent](const ForecastTrainStatus& s) {
        if (s.epochEnded) {
            std::fprintf(stderr,
                         "%sepoch %d/%d  loss %.4f  validation AUROC %.4f (best %.4f)  %.0f s\n",
                         terminal ? "\r" : "", s.epoch, s.epochs, s.trainLoss, s.validationAuroc,
                         s.bestValidationAuroc, s.seconds);
        } else if (terminal && int(s.fraction * 100) != *lastPercent) {
            *lastPercent = int(s.fraction * 100);
            std::fprintf(stderr, "\repoch %d/%d  %3d%%  loss %.4f", s.epoch, s.epochs, *lastPercent,
                         s.trainLoss);
        }
        return true;
    };
    ForecastCard card;
    try {
        card = ml.trainForecaster(stays, options, observer);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    const RiskMetrics& v = card.metrics["validation"];
    std::fprintf(stderr,
                 "forecaster %s version %s written to %s: validation AUROC %.3f, AUPRC %.3f, ECE "
                 "%.3f on %zu stays (best epoch %s of %s, %s s)\n",
                 card.id.c_str(), card.version.c_str(), options.outDir.c_str(), v.auroc.value,
                 v.auprc.value, v.ece.value, v.n, card.training["bestEpoch"].c_str(),
                 card.training["epochs"].c_str(), card.training["seconds"].c_str());
    if (args.has("--json")) {
        std::cout << card.toJson();
    }
    return 0;
}

/// The ids the model in `dir` was trained or validated on (its stays.json).
std::set<std::string> trainingStays(const std::string& command, const std::string& dir,
                                    const ForecastCard& card) {
    std::set<std::string> ids;
    try {
        const JsonValue root = JsonValue::parse(readTextFile(dir + "/" + card.staysFile));
        for (const char* part : {"train", "validation"}) {
            if (const JsonValue* list = root.find(part); list != nullptr && list->isArray()) {
                for (const JsonValue& id : list->items()) {
                    ids.insert(id.asString());
                }
            }
        }
    } catch (const std::exception& e) {
        throw CliError{command + ": " + dir + "/" + card.staysFile + ": " + e.what()};
    }
    return ids;
}

std::unique_ptr<Forecaster> loadForecaster(const std::string& command, const std::string& dir) {
    MlEngine& ml = engine(command);
    try {
        return ml.loadForecaster(dir);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

int runForecastEvaluate(const std::vector<std::string>& argv) {
    const std::string command = "forecast evaluate";
    const Arguments args = parse(command, argv, {"--help", "--json", "--include-training"},
                                 {"--model", "--data", "--outcomes", "--hour", "--resamples"});
    if (args.has("--help")) {
        std::cout << kEvaluateHelp;
        return 0;
    }
    checkArguments(command, args, {"--model", "--data", "--outcomes"});
    const int resamples =
        args.has("--resamples") ? positiveInt(command, args, "--resamples", 0, 100000) : 1000;
    const std::string dir = args.get("--model");
    const auto forecaster = loadForecaster(command, dir);
    const ForecastCard& card = forecaster->card();
    const int hour =
        args.has("--hour") ? positiveInt(command, args, "--hour", 1, card.hours) : card.hours;
    const std::set<std::string> seen = args.has("--include-training")
                                           ? std::set<std::string>{}
                                           : trainingStays(command, dir, card);
    const ClinicalDataset data = importFor(command, args.all("--data"), args.all("--outcomes"));
    std::vector<const PatientStay*> stays;
    std::size_t excluded = 0, unknown = 0;
    for (const auto& stay : data.stays) {
        if (seen.count(stay.id) != 0) {
            ++excluded;
        } else if (stay.outcome != 0 && stay.outcome != 1) {
            ++unknown;
        } else {
            stays.push_back(&stay);
        }
    }
    if (stays.empty()) {
        throw CliError{command + ": no stay with a known outcome is left to evaluate (" +
                       std::to_string(excluded) + " were used in training)"};
    }
    const auto start = std::chrono::steady_clock::now();
    const std::vector<RiskTrajectory> trajectories = forecaster->forecast(stays);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<double> risk, raw;
    std::vector<bool> died;
    for (std::size_t i = 0; i < stays.size(); ++i) {
        risk.push_back(trajectories[i].risk[std::size_t(hour - 1)]);
        raw.push_back(trajectories[i].uncalibrated[std::size_t(hour - 1)]);
        died.push_back(stays[i]->outcome == 1);
    }
    const RiskMetrics m = riskMetrics(risk, died, resamples, 1);
    const double rawEce = expectedCalibrationError(raw, died, 15);
    const std::string protocol =
        "stays not in the model's training or validation lists; risk at hour " +
        std::to_string(hour) + "; percentile bootstrap over stays";
    if (!args.has("--json")) {
        std::printf("%zu stays (%zu deaths) at hour %d; %zu used in training left out, %zu "
                    "without an outcome\n",
                    m.n, m.positives, hour, excluded, unknown);
        const auto line = [](const char* name, const MetricInterval& v) {
            std::printf("%-6s %.4f  (95%% CI %.4f-%.4f)\n", name, v.value, v.low, v.high);
        };
        line("AUROC", m.auroc);
        line("AUPRC", m.auprc);
        line("Brier", m.brier);
        line("ECE", m.ece);
        std::printf("ECE before calibration %.4f; forecasts took %.3f s (%.2f ms a stay)\n", rawEce,
                    seconds, 1000.0 * seconds / double(stays.size()));
        return 0;
    }
    JsonWriter json(std::cout);
    json.beginObject();
    json.field("model", card.id);
    json.field("version", card.version);
    json.field("hour", hour);
    json.field("auroc", m.auroc.value);
    json.field("auprc", m.auprc.value);
    json.field("brier", m.brier.value);
    json.field("ece", m.ece.value);
    json.field("n", m.n);
    json.field("positives", m.positives);
    json.key("ci95").beginObject();
    for (const auto& [name, v] : {std::pair{"auroc", &m.auroc},
                                  {"auprc", &m.auprc},
                                  {"brier", &m.brier},
                                  {"ece", &m.ece}}) {
        json.key(name).numbers({v->low, v->high});
    }
    json.endObject();
    json.field("resamples", m.resamples);
    json.field("uncalibratedEce", rawEce);
    json.field("excludedTrainingStays", excluded);
    json.field("staysWithoutOutcome", unknown);
    json.field("seconds", seconds);
    json.field("protocol", protocol);
    json.endObject();
    std::cout << "\n";
    return 0;
}

int runForecastPredict(const std::vector<std::string>& argv) {
    const std::string command = "forecast predict";
    const Arguments args =
        parse(command, argv, {"--help", "--json"}, {"--model", "--hour", "--top"});
    if (args.has("--help")) {
        std::cout << kPredictHelp;
        return 0;
    }
    checkArguments(command, args, {"--model"}, true);
    if (args.positional.empty()) {
        usageError(command, "give at least one RECORD");
    }
    const auto forecaster = loadForecaster(command, args.get("--model"));
    const ForecastCard& card = forecaster->card();
    const int hour =
        args.has("--hour") ? positiveInt(command, args, "--hour", 1, card.hours) : card.hours;
    const int top = args.has("--top") ? positiveInt(command, args, "--top", 1, 100) : 5;
    const ClinicalDataset data = importFor(command, args.positional, {});
    if (data.stays.empty()) {
        throw CliError{command + ": the records hold no stay with time-series values"};
    }
    const bool asJson = args.has("--json");
    JsonWriter json(std::cout);
    if (asJson) {
        json.beginArray();
    }
    for (const PatientStay& stay : data.stays) {
        const RiskTrajectory t = forecaster->forecast({&stay}).front();
        const RiskExplanation e = forecaster->explain(stay, hour);
        const bool alert = std::any_of(t.risk.begin(), t.risk.end(),
                                       [&card](double r) { return r >= card.alertThreshold; });
        const auto h = std::size_t(hour - 1);
        if (!asJson) {
            std::printf(
                "stay %s: risk %.1f%% at hour %d (band %.1f-%.1f%%)%s\n", stay.id.c_str(),
                100 * t.risk[h], hour, 100 * t.low[h], 100 * t.high[h],
                alert ? fmt("; ALERT: at or above %.0f%%", 100 * card.alertThreshold).c_str() : "");
            std::printf("  hour:");
            for (std::size_t k = 5; k < t.hours.size(); k += 6) {
                std::printf(" %5.0f", t.hours[k]);
            }
            std::printf("\n  risk:");
            for (std::size_t k = 5; k < t.hours.size(); k += 6) {
                std::printf(" %4.1f%%", 100 * t.risk[k]);
            }
            std::printf("\n  what moved the risk at hour %d (from %.1f%% with every value at the "
                        "mean):\n",
                        hour, 100 * e.baselineRisk);
            for (int k = 0; k < top && k < int(e.contributions.size()); ++k) {
                const RiskContribution& c = e.contributions[std::size_t(k)];
                std::printf("    %-20s %+6.1f points\n", c.variable.c_str(), 100 * c.total);
            }
            if (t.valuesAfterHorizon > 0) {
                std::printf("  %zu values after hour %d are not read by this model\n",
                            t.valuesAfterHorizon, card.hours);
            }
            continue;
        }
        json.beginObject();
        json.field("id", stay.id);
        json.key("hours").numbers(t.hours);
        json.key("risk").numbers(t.risk);
        json.key("low").numbers(t.low);
        json.key("high").numbers(t.high);
        json.field("alert", alert);
        json.field("alertThreshold", card.alertThreshold);
        json.field("hour", hour);
        json.field("valuesAfterHorizon", t.valuesAfterHorizon);
        json.key("explanation").beginObject();
        json.field("risk", e.risk);
        json.field("baselineRisk", e.baselineRisk);
        json.field("completenessError", e.completenessError);
        json.key("contributions").beginArray();
        for (int k = 0; k < top && k < int(e.contributions.size()); ++k) {
            const RiskContribution& c = e.contributions[std::size_t(k)];
            json.beginObject();
            json.field("variable", c.variable);
            json.field("static", c.isStatic);
            json.field("total", c.total);
            json.key("byHour").numbers(c.byHour);
            json.endObject();
        }
        json.endArray();
        json.endObject();
        json.endObject();
    }
    if (asJson) {
        json.endArray();
        std::cout << "\n";
    }
    return 0;
}

} // namespace

int runForecast(const std::vector<std::string>& argv) {
    if (argv.empty()) {
        usageError("forecast", "give a subcommand (import, train, evaluate or predict)");
    }
    if (argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kForecastHelp;
        return 0;
    }
    const std::vector<std::string> rest(argv.begin() + 1, argv.end());
    if (argv[0] == "import") {
        return runImport(rest);
    }
    if (argv[0] == "train") {
        return runForecastTrain(rest);
    }
    if (argv[0] == "evaluate") {
        return runForecastEvaluate(rest);
    }
    if (argv[0] == "predict") {
        return runForecastPredict(rest);
    }
    usageError("forecast", "unknown subcommand '" + argv[0] +
                               "' (import, train, evaluate or "
                               "predict)");
}

} // namespace radiolens::cli
