// radiolens-cli label, audit, models and retrain: the local store's labels, its hash-chained
// audit log, the model registry, and retraining from the labels (issue 6).

#include "app/cli/CliSupport.h"
#include "core/dicom/ResultDocuments.h"
#include "core/domain/JsonWriter.h"
#include "core/domain/Paths.h"
#include "core/ml/Retraining.h"
#include "core/store/AuditLog.h"
#include "core/store/IndexCache.h"
#include "core/store/LabelFiles.h"
#include "core/store/LabelStore.h"
#include "core/store/ModelRegistry.h"
#include "core/store/StudyStore.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

namespace radiolens::cli {

const char* const kLabelCommandsHelp =
    "  label                  add, list, import and export labels; classes, agreement\n"
    "  audit                  verify or list the store's hash-chained audit log\n"
    "  models                 list, promote and roll back the model registry's versions\n"
    "  retrain                train a new model version from the store's labels\n";

namespace {

const char* kStoreOption =
    "  --store DB           the Radiolens store (default: the application's own,\n"
    "                       ~/.local/share/Radiolens/radiolens.sqlite)\n";

const char* kLabelHelp =
    R"(usage: radiolens-cli label add --store DB (--instance UID | --series UID | --study UID)
                               --class NAME --annotator NAME [--withdraw]
       radiolens-cli label list --store DB [--annotator NAME] [--level image|series|study]
                               [--history] [--json]
       radiolens-cli label import --store DB FILE [--annotator NAME]
       radiolens-cli label export --store DB --out FILE [--history]
       radiolens-cli label export --store DB --sr DIR [--study UID]
       radiolens-cli label classes --store DB [--add NAME]
       radiolens-cli label agreement --store DB [--annotators A,B] [--json]
       radiolens-cli label worklist --store DB [--order date|entropy|margin]
                               [--annotator NAME] [--limit N] [--json]

Labels say which class an image (a SOP instance), a series or a study belongs to, who said so
and when. They are never changed or deleted: a new label replaces the annotator's earlier one
for the same item and --withdraw takes it back, and both stay in the history; every change is
in the audit log. Every command returns only once its change is safely on disk.

  add         saves one label; a class used for the first time is added to the classes
  list        the current label of every item and annotator (with --history: every label
              ever given), oldest first; --json prints a list of objects with "instance"
              ("series", "study"), "level", "class", "annotator", "time", "source", ...
  import      reads labels from a CSV (header with instance|series|study|item, class and
              optionally level, annotator, time, source, model, model_version, probability,
              confirmed) or a JSON list as export writes it; rows that cannot be read are
              reported with their line and the rest is imported; labels equal to the
              annotator's current one are skipped
  export      writes the current labels (or --history) as CSV or JSON (by --out's extension);
              --sr DIR writes DICOM instead: per study (or only --study UID) one Comprehensive
              SR, DIR/annotations-STUDYUID.dcm, with the study's current labels (class,
              annotator, time, model and probability of suggestions, the labelled image,
              series or study) and its measurements (mm, degrees, mm2, with their outline on
              the image they were drawn on), in a new series of that study, for any PACS or
              viewer; labelled items are found through the study index (index their folders)
  classes     lists the classes with their counts; --add defines one
  agreement   Cohen's kappa of two annotators on the items both labelled (default: the first
              two who labelled), with the confusion table
  worklist    the indexed images still to label (by --annotator, or by anyone) that the
              active model accepts, with its suggestion: by study date, or (entropy, margin)
              the images the model is least sure of first, where a label teaches it most
)";

const char* kAuditHelp = R"(usage: radiolens-cli audit verify --store DB [--head HASH] [--json]
       radiolens-cli audit list --store DB [--after ID] [--limit N] [--json]

The audit log records every change to labels, measurements, the model registry and training
runs: who, what, when. Each entry carries the SHA-256 of the entry before it, so that editing,
inserting or deleting any entry breaks the chain.

  verify      recomputes the chain and says the first entry that does not check (exit 1), or
              prints the number of entries and the head hash; --head HASH also checks that a
              head hash written down earlier is still in the chain
  list        prints the entries (oldest first)
)";

const char* kModelsHelp = R"(usage: radiolens-cli models list --store DB [--model ID] [--json]
       radiolens-cli models add --store DB MODEL_DIR
       radiolens-cli models promote --store DB VERSION [--model ID]
       radiolens-cli models rollback --store DB [--model ID]
       radiolens-cli models runs --store DB [--json]
       radiolens-cli models compare --store DB VERSION_A VERSION_B [--model ID]
                               [--data DATASET]... [--split val|test] [--threshold T]
                               [--report FILE.html] [--json]

The model registry keeps every version retrain publishes (its card, validation metrics, the
SHA-256 of the exact label set, its parent) and which version of each model is active: the one
the viewer and the labelling worklist use. Publishing does not activate a version.

  list        every version, oldest first; * marks the active one
  add         registers a model package made elsewhere (radiolens-cli train, demo-model, a
              colleague's) as it is, not active
  promote     makes VERSION the active version (its package is checked against the registry
              first: a changed or missing file is refused with the reason)
  rollback    goes back to the version that was active before the current one
  runs        training runs: running, interrupted (its process is gone: the same training
              started again goes on from its last checkpoint), finished, failed, cancelled
  compare     measures two versions on the same images: the validation patients of the
              store's labels (and --data datasets' validation splits), or with --split test
              the test splits of --data; AUC with the paired bootstrap interval of the
              difference, accuracy, sensitivity and specificity at --threshold (default 0.5),
              ECE; --report writes an HTML page with ROC curves, reliability diagrams and
              confusion matrices
--model ID is needed only when the store has versions of several models.
)";

const char* kRetrainHelp =
    R"(usage: radiolens-cli retrain --store DB [--data EXTRA]... [--out MODEL_DIR] [--scratch]
                              [--parent MODEL_DIR] [--fresh] [--validation F] [--progress-json]
                              [--json] [train options: --arch --epochs --image-size --batch
                              --lr --patience --seed --id --width --stem --pooling --threads
                              --world-size --rank --master --dist-timeout]

Trains a new model version from the labels in the store and publishes it in the registry
(not active: look at its metrics, then 'models promote'). Labelled images are read from their
DICOM files (found through the study index: open or index their folders first) and prepared
as the model card says; patients go whole to training or validation (20 %, --validation), so
no patient is in both. Disagreeing labels and unconfirmed model suggestions are left out.
By default the active model is fine-tuned (when it knows every labelled class); --scratch
trains new weights. Classes are balanced in the loss; images are augmented; the epoch with
the best validation AUC is kept (early stopping). A checkpoint is written after every epoch:
if the process is killed, running the same command again goes on from the last checkpoint
(--fresh starts over). The registry changes only when the new version is published, whole.

  --data EXTRA       also train on an external dataset (MedMNIST .npz or a CSV of pictures;
                     its own train/val splits; repeatable)
  --out MODEL_DIR    where the package goes (default: <store folder>/models/ID/VERSION)
  --progress-json    one JSON object per line on stdout as training goes (for the GUI)
  --json             print the registered version as JSON when done

Data-parallel over several processes or machines as 'train --help' describes (--world-size N
--rank R --master ADDR:PORT): each process reads the labelled images from its store (the same
store, or a copy of it); rank 0 alone records the run, keeps the checkpoints (the others take
its state over when it resumes) and publishes the model; the others exit 0 when done, having
written nothing to their store.
)";

std::string storePath(const Arguments& args) {
    return args.get("--store", StudyStore::defaultPath());
}

/// The store, opened (and checked: `check`); its reason as a CLI error otherwise.
std::unique_ptr<StudyStore> openStore(const std::string& command, const Arguments& args,
                                      StudyStore::OpenCheck check = StudyStore::OpenCheck::Full) {
    try {
        return std::make_unique<StudyStore>(storePath(args), check);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
}

std::optional<LabelLevel> levelOption(const std::string& command, const Arguments& args) {
    if (!args.has("--level")) {
        return std::nullopt;
    }
    LabelLevel level;
    if (!parseLabelLevel(args.get("--level"), level)) {
        usageError(command, "--level is image, series or study");
    }
    return level;
}

std::vector<Label> labelsToShow(LabelStore& labels, const Arguments& args,
                                const std::string& command) {
    LabelQuery query;
    query.annotator = args.get("--annotator");
    query.level = levelOption(command, args);
    if (!args.has("--history")) {
        return labels.current(query);
    }
    query.includeWithdrawn = true;
    std::vector<Label> all;
    for (const Label& l : labels.current(query)) {
        for (const Label& h : labels.history(l.level, l.item)) {
            if (query.annotator.empty() || h.annotator == query.annotator) {
                all.push_back(h);
            }
        }
    }
    std::sort(all.begin(), all.end(), [](const Label& a, const Label& b) { return a.id < b.id; });
    all.erase(std::unique(all.begin(), all.end(),
                          [](const Label& a, const Label& b) { return a.id == b.id; }),
              all.end());
    return all;
}

int labelAdd(const std::vector<std::string>& argv) {
    const std::string command = "label add";
    const Arguments args =
        parse(command, argv, {"--withdraw"},
              {"--store", "--instance", "--series", "--study", "--class", "--annotator"});
    checkArguments(command, args, {"--annotator"});
    Label l;
    int items = 0;
    for (const auto& [option, level] :
         {std::pair{"--instance", LabelLevel::Image}, std::pair{"--series", LabelLevel::Series},
          std::pair{"--study", LabelLevel::Study}}) {
        if (args.has(option)) {
            l.item = args.get(option);
            l.level = level;
            ++items;
        }
    }
    if (items != 1) {
        usageError(command, "give one of --instance, --series or --study");
    }
    if (args.has("--withdraw") == args.has("--class")) {
        usageError(command, "give --class NAME, or --withdraw to take the label back");
    }
    l.className = args.get("--class");
    l.annotator = args.get("--annotator");
    auto store = openStore(command, args);
    LabelStore labels(*store);
    bool newClass = false;
    try {
        l = labels.add(l, &newClass);
    } catch (const std::invalid_argument& e) {
        usageError(command, e.what());
    }
    if (newClass) {
        std::fprintf(stderr, "new class '%s' (the classes now: ", l.className.c_str());
        const auto names = labels.classes();
        for (std::size_t i = 0; i < names.size(); ++i) {
            std::fprintf(stderr, "%s%s", i ? ", " : "", names[i].c_str());
        }
        std::fprintf(stderr, ")\n");
    }
    std::printf("label %lld: %s %s %s by %s at %s\n", (long long)l.id, toString(l.level),
                l.item.c_str(), l.withdrawn() ? "withdrawn" : ("is " + l.className).c_str(),
                l.annotator.c_str(), isoTimeMs(l.timeMs).c_str());
    return 0;
}

int labelList(const std::vector<std::string>& argv) {
    const std::string command = "label list";
    const Arguments args =
        parse(command, argv, {"--json", "--history"}, {"--store", "--annotator", "--level"});
    checkArguments(command, args, {});
    auto store = openStore(command, args);
    LabelStore labels(*store);
    const std::vector<Label> shown = labelsToShow(labels, args, command);
    if (args.has("--json")) {
        writeLabelsJson(std::cout, shown);
        return 0;
    }
    for (const Label& l : shown) {
        std::printf("%-7s %-40s %-16s %-16s %s%s\n", toString(l.level), l.item.c_str(),
                    l.withdrawn() ? "(withdrawn)" : l.className.c_str(), l.annotator.c_str(),
                    isoTimeMs(l.timeMs).c_str(),
                    l.source == LabelSource::Model ? (" model " + l.modelId + " " + l.modelVersion +
                                                      (l.confirmed ? " confirmed" : " unconfirmed"))
                                                         .c_str()
                                                   : "");
    }
    std::fprintf(stderr, "%zu label%s\n", shown.size(), shown.size() == 1 ? "" : "s");
    return 0;
}

int labelImport(const std::vector<std::string>& argv) {
    const std::string command = "label import";
    const Arguments args = parse(command, argv, {}, {"--store", "--annotator"});
    if (args.positional.size() != 1) {
        usageError(command, "give one CSV or JSON file");
    }
    const std::string file = args.positional.front();
    const std::string annotator = args.get("--annotator", StudyStore::defaultActor());
    LabelFileContents contents;
    try {
        contents = readLabelFile(file, annotator);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    for (const std::string& problem : contents.problems) {
        std::fprintf(stderr, "skipped %s\n", problem.c_str());
    }
    auto store = openStore(command, args);
    LabelStore labels(*store);
    std::size_t added = 0;
    try {
        added = importLabels(labels, contents, annotator, "import " + file);
    } catch (const std::invalid_argument& e) {
        throw CliError{command + ": " + file + ": " + e.what()};
    }
    std::printf("%s: %zu rows, %zu labels imported, %zu unchanged, %zu skipped\n", file.c_str(),
                contents.rows, added, contents.labels.size() - added, contents.problems.size());
    return contents.labels.empty() && !contents.problems.empty() ? 1 : 0;
}

/// label export --sr: one SR per study with its current labels and its measurements, written
/// into `dir`. Returns the exit code: 1 when a study could not be written.
int exportStructuredReports(const std::string& command, StudyStore& store,
                            const std::vector<Label>& shown, const std::string& dir,
                            const std::string& onlyStudy) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (!std::filesystem::is_directory(dir)) {
        throw CliError{command + ": " + dir + ": cannot create the folder"};
    }
    IndexCache index(store);
    // The study of each label, through the study index.
    std::map<std::string, std::vector<Label>> labelsOf;
    std::vector<std::string> studies; // in the order first seen
    const auto addStudy = [&](const std::string& study) {
        if (std::find(studies.begin(), studies.end(), study) == studies.end()) {
            studies.push_back(study);
        }
    };
    std::size_t unknown = 0;
    for (const Label& l : shown) {
        std::string study;
        if (l.level == LabelLevel::Image) {
            const auto record = index.instance(l.item);
            study = record ? record->studyInstanceUid : "";
        } else {
            const auto records = index.instances(l.level, l.item);
            study = records.empty() ? "" : records.front().studyInstanceUid;
        }
        if (study.empty()) {
            std::fprintf(stderr,
                         "label %lld (%s %s): not in the study index (index its folder first); "
                         "not exported\n",
                         (long long)l.id, toString(l.level), l.item.c_str());
            ++unknown;
            continue;
        }
        if (onlyStudy.empty() || study == onlyStudy) {
            labelsOf[study].push_back(l);
            addStudy(study);
        }
    }
    // Every indexed study's measurements.
    std::map<std::string, std::vector<Measurement>> measurementsOf;
    std::set<std::string> indexed;
    for (const InstanceRecord& r : index.all()) {
        indexed.insert(r.studyInstanceUid);
    }
    for (const std::string& study : indexed) {
        if (!onlyStudy.empty() && study != onlyStudy) {
            continue;
        }
        std::vector<Measurement> ms = store.measurementsForStudy(study);
        if (!ms.empty()) {
            measurementsOf[study] = std::move(ms);
            addStudy(study);
        }
    }
    if (!onlyStudy.empty() && studies.empty()) {
        throw CliError{command + ": study " + onlyStudy +
                       " has no labels or measurements in the index of " + store.path()};
    }
    std::size_t written = 0;
    int status = 0;
    for (const std::string& study : studies) {
        StudyAnnotations annotations;
        annotations.labels = labelsOf[study];
        annotations.measurements = measurementsOf[study];
        for (const InstanceRecord& r : index.instances(LabelLevel::Study, study)) {
            if (std::filesystem::is_regular_file(r.instance.path)) {
                annotations.files.push_back(r.instance.path);
            }
        }
        const std::string file = dir + "/annotations-" + study + ".dcm";
        if (annotations.files.empty()) {
            std::fprintf(stderr, "study %s: none of its files is there any more; not exported\n",
                         study.c_str());
            status = 1;
            continue;
        }
        try {
            writeAnnotationReport(annotations, file);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "study %s: %s\n", study.c_str(), e.what());
            status = 1;
            continue;
        }
        ++written;
        std::printf("%s: %zu labels, %zu measurements\n", file.c_str(), annotations.labels.size(),
                    annotations.measurements.size());
    }
    std::fprintf(
        stderr, "%zu structured report%s written to %s%s\n", written, written == 1 ? "" : "s",
        dir.c_str(),
        unknown == 0 ? "" : (", " + std::to_string(unknown) + " labels not in the index").c_str());
    return status;
}

int labelExport(const std::vector<std::string>& argv) {
    const std::string command = "label export";
    const Arguments args = parse(command, argv, {"--history"},
                                 {"--store", "--out", "--annotator", "--level", "--sr", "--study"});
    checkArguments(command, args, {});
    if (args.has("--out") == args.has("--sr")) {
        usageError(command, "give --out FILE (CSV or JSON) or --sr DIR (DICOM SR)");
    }
    if (args.has("--sr") && args.has("--history")) {
        usageError(command, "--history is for --out; an SR holds the current labels");
    }
    if (args.has("--study") && !args.has("--sr")) {
        usageError(command, "--study is for --sr");
    }
    auto store = openStore(command, args);
    LabelStore labels(*store);
    const std::vector<Label> shown = labelsToShow(labels, args, command);
    if (args.has("--sr")) {
        return exportStructuredReports(command, *store, shown, args.get("--sr"),
                                       args.get("--study"));
    }
    const std::string out = args.get("--out");
    std::ostringstream text;
    const bool json = std::filesystem::path(out).extension() == ".json";
    if (json) {
        writeLabelsJson(text, shown);
    } else {
        writeLabelsCsv(text, shown);
    }
    writeFileAtomically(out, text.str());
    std::printf("%zu labels written to %s\n", shown.size(), out.c_str());
    return 0;
}

int labelClasses(const std::vector<std::string>& argv) {
    const std::string command = "label classes";
    const Arguments args = parse(command, argv, {"--json"}, {"--store", "--add"});
    checkArguments(command, args, {});
    auto store = openStore(command, args);
    LabelStore labels(*store);
    if (args.has("--add")) {
        try {
            labels.addClass(args.get("--add"), StudyStore::defaultActor());
        } catch (const std::invalid_argument& e) {
            usageError(command, e.what());
        }
    }
    const auto counts = labels.counts();
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginArray();
        for (const std::string& name : labels.classes()) {
            json.beginObject().field("class", name).field("labels", counts.at(name)).endObject();
        }
        json.endArray();
        std::cout << "\n";
        return 0;
    }
    for (const std::string& name : labels.classes()) {
        std::printf("%-24s %zu\n", name.c_str(), counts.at(name));
    }
    return 0;
}

int labelAgreement(const std::vector<std::string>& argv) {
    const std::string command = "label agreement";
    const Arguments args = parse(command, argv, {"--json"}, {"--store", "--annotators", "--level"});
    checkArguments(command, args, {});
    auto store = openStore(command, args);
    LabelStore labels(*store);
    std::string a, b;
    if (args.has("--annotators")) {
        const std::string both = args.get("--annotators");
        const std::size_t comma = both.find(',');
        if (comma == std::string::npos) {
            usageError(command, "--annotators takes two names separated by a comma");
        }
        a = both.substr(0, comma);
        b = both.substr(comma + 1);
    } else {
        const auto names = labels.annotators();
        if (names.size() < 2) {
            throw CliError{command + ": agreement needs two annotators; the store has " +
                           std::to_string(names.size())};
        }
        a = names[0];
        b = names[1];
    }
    const Agreement agreement = labels.agreement(a, b, levelOption(command, args));
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject()
            .field("readerA", a)
            .field("readerB", b)
            .field("items", agreement.items)
            .field("observed", agreement.observed)
            .field("expected", agreement.expected);
        json.key("kappa");
        if (std::isnan(agreement.kappa)) {
            json.null();
        } else {
            json.value(agreement.kappa);
        }
        json.key("classes").beginArray();
        for (const std::string& name : agreement.classes) {
            json.value(name);
        }
        json.endArray().key("table").beginArray();
        for (const auto& row : agreement.table) {
            json.numbers(std::vector<double>(row.begin(), row.end()));
        }
        json.endArray().endObject();
        std::cout << "\n";
        return 0;
    }
    std::printf("%s and %s: %zu items labelled by both, agreement %.3f (chance %.3f), Cohen's "
                "kappa %.3f\n",
                a.c_str(), b.c_str(), agreement.items, agreement.observed, agreement.expected,
                agreement.kappa);
    std::printf("%-16s", ("A \\ B"));
    for (const std::string& name : agreement.classes) {
        std::printf(" %12s", name.c_str());
    }
    std::printf("\n");
    for (std::size_t i = 0; i < agreement.classes.size(); ++i) {
        std::printf("%-16s", agreement.classes[i].c_str());
        for (int n : agreement.table[i]) {
            std::printf(" %12d", n);
        }
        std::printf("\n");
    }
    return 0;
}

int labelWorklist(const std::vector<std::string>& argv) {
    const std::string command = "label worklist";
    const Arguments args =
        parse(command, argv, {"--json"}, {"--store", "--order", "--annotator", "--limit"});
    checkArguments(command, args, {});
    WorklistOrder order = WorklistOrder::Entropy;
    if (args.has("--order") && !parseWorklistOrder(args.get("--order"), order)) {
        usageError(command, "--order is date, entropy or margin");
    }
    const std::size_t limit = std::size_t(positiveInt(command, args, "--limit", 1, 100000000));
    auto store = openStore(command, args);
    MlEngine* ml = nullptr;
    if (order != WorklistOrder::Date && ModelRegistry(*store).active()) {
        ml = &engine(command);
    }
    Worklist list;
    try {
        list = buildWorklist(*store, ml, order, args.get("--annotator"));
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    for (const std::string& problem : list.problems) {
        std::fprintf(stderr, "left out %s\n", problem.c_str());
    }
    const std::size_t shown = limit > 0 ? std::min(limit, list.items.size()) : list.items.size();
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject()
            .field("order", toString(list.order))
            .field("model", list.modelId)
            .field("modelVersion", list.modelVersion)
            .field("labelled", list.labelled)
            .field("unlabelled", list.items.size());
        json.key("items").beginArray();
        for (std::size_t i = 0; i < shown; ++i) {
            const WorklistItem& item = list.items[i];
            json.beginObject()
                .field("instance", item.record.instance.sopInstanceUid)
                .field("series", item.record.seriesInstanceUid)
                .field("study", item.record.studyInstanceUid)
                .field("patientId", item.record.patientId)
                .field("studyDate", item.record.studyDate)
                .field("modality", item.record.modality)
                .field("path", item.record.instance.path);
            if (item.suggestedClass >= 0) {
                json.field("suggestion", list.classNames[std::size_t(item.suggestedClass)])
                    .field("probability", item.probabilities[std::size_t(item.suggestedClass)])
                    .field("uncertainty", item.uncertainty);
            }
            json.endObject();
        }
        json.endArray().endObject();
        std::cout << "\n";
        return 0;
    }
    std::printf("%zu images to label (%zu labelled), order %s%s\n", list.items.size(),
                list.labelled, toString(list.order),
                list.modelId.empty()
                    ? " (no active model: by date)"
                    : (", model " + list.modelId + " " + list.modelVersion).c_str());
    for (std::size_t i = 0; i < shown; ++i) {
        const WorklistItem& item = list.items[i];
        std::printf("%5zu  %-40s %-14s %-8s %-4s", i + 1,
                    item.record.instance.sopInstanceUid.c_str(), item.record.patientId.c_str(),
                    item.record.studyDate.c_str(), item.record.modality.c_str());
        if (item.suggestedClass >= 0) {
            std::printf("  %s %.3f  uncertainty %.3f",
                        list.classNames[std::size_t(item.suggestedClass)].c_str(),
                        item.probabilities[std::size_t(item.suggestedClass)], item.uncertainty);
        }
        std::printf("\n");
    }
    return 0;
}

// ---- models ------------------------------------------------------------------------------------

/// The model id the user means: --model, or the only one in the registry.
std::string modelIdOf(const std::string& command, const Arguments& args,
                      const ModelRegistry& registry) {
    if (args.has("--model")) {
        return args.get("--model");
    }
    std::set<std::string> ids;
    for (const RegisteredModel& m : registry.versions()) {
        ids.insert(m.modelId);
    }
    if (ids.empty()) {
        throw CliError{command + ": the registry has no models yet (retrain publishes them)"};
    }
    if (ids.size() > 1) {
        std::string list;
        for (const std::string& id : ids) {
            list += (list.empty() ? "" : ", ") + id;
        }
        usageError(command, "the registry has several models (" + list + "); give --model ID");
    }
    return *ids.begin();
}

void writeVersionJson(JsonWriter& json, const RegisteredModel& m) {
    json.beginObject()
        .field("model", m.modelId)
        .field("version", m.version)
        .field("active", m.active)
        .field("package", m.package)
        .field("parent", m.parentVersion)
        .field("labels", m.labels)
        .field("labelSetSha256", m.labelSetSha256)
        .field("weightsSha256", m.weightsSha256)
        .field("cardSha256", m.cardSha256)
        .field("created", isoTimeMs(m.createdMs))
        .field("run", (long long)m.runId);
    json.key("metrics").beginObject();
    for (const auto& [split, metrics] : m.card.metrics) {
        json.key(split).beginObject();
        writeMetricsFields(json, metrics);
        json.endObject();
    }
    json.endObject();
    json.key("classes").beginArray();
    for (const std::string& name : m.card.classNames) {
        json.value(name);
    }
    json.endArray().endObject();
}

int modelsList(const std::vector<std::string>& argv) {
    const std::string command = "models list";
    const Arguments args = parse(command, argv, {"--json"}, {"--store", "--model"});
    checkArguments(command, args, {});
    auto store = openStore(command, args);
    ModelRegistry registry(*store);
    const std::vector<RegisteredModel> versions = registry.versions(args.get("--model"));
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginArray();
        for (const RegisteredModel& m : versions) {
            writeVersionJson(json, m);
        }
        json.endArray();
        std::cout << "\n";
        return 0;
    }
    for (const RegisteredModel& m : versions) {
        const auto v = m.card.metrics.find("validation");
        std::printf("%s %-24s %-16s validation AUC %s  %zu labels  parent %s  %s\n",
                    m.active ? "*" : " ", m.modelId.c_str(), m.version.c_str(),
                    v == m.card.metrics.end() ? "-" : fmt("%.4f", v->second.auc).c_str(), m.labels,
                    m.parentVersion.empty() ? "-" : m.parentVersion.c_str(), m.package.c_str());
    }
    if (versions.empty()) {
        std::fprintf(stderr, "no model versions in %s\n", store->path().c_str());
    }
    return 0;
}

int modelsAdd(const std::vector<std::string>& argv) {
    const std::string command = "models add";
    const Arguments args = parse(command, argv, {"--json"}, {"--store", "--actor"});
    if (args.positional.size() != 1) {
        usageError(command, "give the model package folder");
    }
    auto store = openStore(command, args);
    MlEngine& ml = engine(command);
    try {
        // Only a package the engine can load goes in: the card checked against its weights.
        ml.loadClassifier(args.positional.front());
        const ModelCard card = ModelCard::read(args.positional.front());
        const auto hash = card.training.find("labelSetSha256");
        const RegisteredModel m = ModelRegistry(*store).publish(
            args.positional.front(), hash == card.training.end() ? std::string() : hash->second, 0,
            0, args.get("--actor"));
        std::printf("registered %s version %s (not active)\n", m.modelId.c_str(),
                    m.version.c_str());
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    return 0;
}

int modelsPromote(const std::vector<std::string>& argv) {
    const std::string command = "models promote";
    const Arguments args = parse(command, argv, {}, {"--store", "--model", "--actor"});
    if (args.positional.size() != 1) {
        usageError(command, "give the VERSION to promote");
    }
    auto store = openStore(command, args);
    ModelRegistry registry(*store);
    const std::string id = modelIdOf(command, args, registry);
    try {
        registry.promote(id, args.positional.front(), args.get("--actor"));
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    std::printf("%s %s is active\n", id.c_str(), args.positional.front().c_str());
    return 0;
}

int modelsRollback(const std::vector<std::string>& argv) {
    const std::string command = "models rollback";
    const Arguments args = parse(command, argv, {}, {"--store", "--model", "--actor"});
    checkArguments(command, args, {});
    auto store = openStore(command, args);
    ModelRegistry registry(*store);
    const std::string id = modelIdOf(command, args, registry);
    try {
        const RegisteredModel back = registry.rollback(id, args.get("--actor"));
        std::printf("%s %s is active again\n", id.c_str(), back.version.c_str());
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    return 0;
}

int modelsRuns(const std::vector<std::string>& argv) {
    const std::string command = "models runs";
    const Arguments args = parse(command, argv, {"--json"}, {"--store"});
    checkArguments(command, args, {});
    auto store = openStore(command, args);
    const std::vector<TrainingRun> runs = ModelRegistry(*store).runs();
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginArray();
        for (const TrainingRun& r : runs) {
            json.beginObject()
                .field("run", (long long)r.id)
                .field("model", r.modelId)
                .field("state", r.interrupted() ? std::string("interrupted") : r.state)
                .field("epoch", r.epoch)
                .field("started", isoTimeMs(r.startedMs))
                .field("version", r.version)
                .field("message", r.message)
                .field("folder", r.folder)
                .endObject();
        }
        json.endArray();
        std::cout << "\n";
        return 0;
    }
    for (const TrainingRun& r : runs) {
        std::printf("run %-4lld %-24s %-10s epoch %-3d started %s %s%s\n", (long long)r.id,
                    r.modelId.c_str(), r.interrupted() ? "interrupted" : r.state.c_str(), r.epoch,
                    isoTimeMs(r.startedMs).c_str(), r.version.c_str(),
                    r.message.empty() ? "" : ("  " + r.message).c_str());
    }
    return 0;
}

int modelsCompare(const std::vector<std::string>& argv) {
    const std::string command = "models compare";
    const Arguments args =
        parse(command, argv, {"--json"},
              {"--store", "--model", "--data", "--split", "--threshold", "--report"});
    if (args.positional.size() != 2) {
        usageError(command, "give two versions to compare");
    }
    const std::string split = args.get("--split", "val");
    if (split != "val" && split != "test") {
        usageError(command, "--split is val or test");
    }
    double threshold = 0.5;
    if (args.has("--threshold")) {
        threshold = parseNumber(command, "--threshold", args.get("--threshold"));
        if (!(threshold > 0.0 && threshold < 1.0)) {
            usageError(command, "--threshold takes a probability above 0 and below 1");
        }
    }
    auto store = openStore(command, args);
    ModelRegistry registry(*store);
    const std::string id = modelIdOf(command, args, registry);
    std::vector<RegisteredModel> versions;
    for (const std::string& version : args.positional) {
        const auto found = registry.find(id, version);
        if (!found) {
            throw CliError{command + ": model " + id + " has no version " + version};
        }
        versions.push_back(*found);
    }
    MlEngine& ml = engine(command);
    ModelComparison comparison;
    try {
        comparison = compareVersions(*store, ml, versions[0], versions[1], args.all("--data"),
                                     split, threshold);
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    if (args.has("--report")) {
        writeFileAtomically(args.get("--report"),
                            comparisonReportHtml(comparison, isoTimeMs(nowMs())));
        std::fprintf(stderr, "report written to %s\n", args.get("--report").c_str());
    }
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject()
            .field("set", comparison.setDescription)
            .field("n", comparison.labels.size())
            .field("threshold", comparison.threshold)
            .field("aucDifference", comparison.aucDifference)
            .field("aucDifferenceCi95",
                   std::vector<double>{comparison.aucDifferenceLow, comparison.aucDifferenceHigh});
        json.key("models").beginArray();
        for (const ModelEvaluation& e : comparison.models) {
            json.beginObject().field("model", e.modelId).field("version", e.version);
            writeMetricsFields(json, e.metrics);
            json.key("confusion").beginArray();
            for (const auto& row : e.confusion) {
                json.numbers(std::vector<double>(row.begin(), row.end()));
            }
            json.endArray().endObject();
        }
        json.endArray().endObject();
        std::cout << "\n";
        return 0;
    }
    std::printf("on %s (%zu images), threshold %.2f:\n", comparison.setDescription.c_str(),
                comparison.labels.size(), comparison.threshold);
    for (const ModelEvaluation& e : comparison.models) {
        std::printf("  %-20s AUC %.4f  accuracy %.4f  sensitivity %.4f  specificity %.4f  ECE "
                    "%.4f\n",
                    e.version.c_str(), e.metrics.auc, e.metrics.accuracy, e.metrics.sensitivity,
                    e.metrics.specificity, e.metrics.ece);
    }
    std::printf("  AUC difference %+.4f (95 %% interval %+.4f to %+.4f)\n",
                comparison.aucDifference, comparison.aucDifferenceLow,
                comparison.aucDifferenceHigh);
    return 0;
}

// ---- retrain ---------------------------------------------------------------------------------

/// Set by SIGTERM or SIGINT during retrain: the run is cancelled at the next batch (its
/// checkpoint kept), instead of the process dying mid-write.
volatile std::sig_atomic_t g_stopRequested = 0;

void requestStop(int) {
    g_stopRequested = 1;
}

/// Reading the labelled images: cancelled once a stop was requested.
class StopRequested final : public ProgressSink {
public:
    bool report(double) override { return g_stopRequested == 0; }
};

/// `observer`, cancelling once a stop was requested.
TrainObserver stoppable(TrainObserver observer) {
    return [observer](const TrainStatus& s) {
        return g_stopRequested == 0 && (!observer || observer(s));
    };
}

/// Training progress as one JSON object per line on stdout, flushed, for the GUI's training
/// window: {"event":"progress"|"epoch", ...}.
TrainObserver jsonTrainObserver() {
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return [last](const TrainStatus& s) {
        const auto now = std::chrono::steady_clock::now();
        if (!s.epochEnded && now - *last < std::chrono::milliseconds(200)) {
            return true;
        }
        *last = now;
        std::ostringstream line;
        JsonWriter json(line, false);
        json.beginObject()
            .field("event", s.epochEnded ? "epoch" : "progress")
            .field("epoch", s.epoch)
            .field("epochs", s.epochs)
            .field("fraction", s.fraction)
            .field("loss", s.trainLoss)
            .field("seconds", s.seconds)
            .field("replayed", s.replayed);
        if (s.epochEnded) {
            json.field("validationAuc", std::isfinite(s.validationAuc) ? s.validationAuc : 0.0)
                .field("bestValidationAuc",
                       std::isfinite(s.bestValidationAuc) ? s.bestValidationAuc : 0.0);
        }
        json.endObject();
        std::printf("%s\n", line.str().c_str());
        std::fflush(stdout);
        return true;
    };
}

void jsonNote(const char* event, const std::string& text) {
    std::ostringstream line;
    JsonWriter(line, false).beginObject().field("event", event).field("text", text).endObject();
    std::printf("%s\n", line.str().c_str());
    std::fflush(stdout);
}

int retrainCommand(const std::vector<std::string>& argv) {
    const std::string command = "retrain";
    const Arguments args = parse(
        command, argv,
        {"--help", "--json", "--scratch", "--fresh", "--progress-json", "--gradcam-flips"},
        {"--store",      "--data",       "--out",    "--parent",      "--validation", "--arch",
         "--epochs",     "--image-size", "--stem",   "--width",       "--pooling",    "--batch",
         "--lr",         "--patience",   "--seed",   "--id",          "--actor",      "--threads",
         "--world-size", "--rank",       "--master", "--dist-timeout"});
    if (args.has("--help")) {
        std::cout << kRetrainHelp << kStoreOption;
        return 0;
    }
    checkArguments(command, args, {});
    RetrainRequest request;
    request.options = trainOptions(command, args);
    request.extraData = args.all("--data");
    request.out = args.get("--out");
    request.fromScratch = args.has("--scratch");
    request.parentDir = args.get("--parent");
    request.fresh = args.has("--fresh");
    request.actor = args.get("--actor");
    if (args.has("--validation")) {
        request.validationFraction = parseNumber(command, "--validation", args.get("--validation"));
        if (!(request.validationFraction > 0.0 && request.validationFraction < 0.9)) {
            usageError(command, "--validation takes a fraction above 0 and below 0.9");
        }
    }
    const bool progressJson = args.has("--progress-json");
    auto store = openStore(command, args);
    MlEngine& ml = engine(command);
    const auto note = [progressJson](const std::string& text) {
        if (progressJson) {
            jsonNote("note", text);
        }
        std::fprintf(stderr, "%s\n", text.c_str());
    };
    RetrainResult result;
    std::signal(SIGTERM, requestStop);
    std::signal(SIGINT, requestStop);
    try {
        result =
            retrain(*store, request, ml,
                    stoppable(progressJson ? jsonTrainObserver() : terminalTrainObserver()), note);
    } catch (const std::exception& e) {
        if (progressJson) {
            jsonNote("error", e.what());
        }
        throw CliError{command + ": " + e.what()};
    }
    const RegisteredModel& m = result.model;
    const auto v = m.card.metrics.find("validation");
    if (request.options.rank != 0) {
        // A distributed run's other process: rank 0 publishes.
        const std::string text =
            "rank " + std::to_string(request.options.rank) + " of " +
            std::to_string(request.options.worldSize) + ": done (validation AUC " +
            fmt("%.4f", v == m.card.metrics.end() ? std::nan("") : v->second.auc) +
            "); rank 0 publishes the model";
        if (progressJson) {
            jsonNote("done", text);
        }
        std::fprintf(stderr, "%s\n", text.c_str());
        return 0;
    }
    std::fprintf(stderr,
                 "published %s version %s in %s: %zu labelled images from the store (%zu "
                 "patients train, %zu validate), %zu + %zu external; validation AUC %.4f; "
                 "not active until promoted ('radiolens-cli models promote %s')\n",
                 m.modelId.c_str(), m.version.c_str(), m.package.c_str(), result.report.storeImages,
                 result.report.trainPatients, result.report.validationPatients,
                 result.report.extraTrain, result.report.extraValidation,
                 v == m.card.metrics.end() ? std::nan("") : v->second.auc, m.version.c_str());
    if (progressJson) {
        std::ostringstream line;
        JsonWriter json(line, false);
        json.beginObject().field("event", "done").key("model");
        writeVersionJson(json, m);
        json.endObject();
        std::printf("%s\n", line.str().c_str());
    } else if (args.has("--json")) {
        JsonWriter json(std::cout);
        writeVersionJson(json, m);
        std::cout << "\n";
    }
    return 0;
}

// ---- audit -----------------------------------------------------------------------------------

int auditVerify(const std::vector<std::string>& argv) {
    const std::string command = "audit verify";
    const Arguments args = parse(command, argv, {"--json"}, {"--store", "--head"});
    checkArguments(command, args, {});
    auto store = openStore(command, args, StudyStore::OpenCheck::SkipAudit);
    const AuditVerification v = AuditLog(*store).verify(args.get("--head"));
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject()
            .field("ok", v.ok)
            .field("entries", v.entries)
            .field("firstBadEntry", (long long)v.firstBadId)
            .field("reason", v.reason)
            .field("head", v.headHash)
            .endObject();
        std::cout << "\n";
        return v.ok ? 0 : 1;
    }
    if (!v.ok) {
        throw CliError{command + ": " + store->path() +
                       ": the audit log does not check: " + v.reason};
    }
    std::printf("audit log of %s: %zu entries, chain intact; head %s\n", store->path().c_str(),
                v.entries, v.headHash.empty() ? "(empty)" : v.headHash.c_str());
    return 0;
}

int auditList(const std::vector<std::string>& argv) {
    const std::string command = "audit list";
    const Arguments args = parse(command, argv, {"--json"}, {"--store", "--after", "--limit"});
    checkArguments(command, args, {});
    auto store = openStore(command, args, StudyStore::OpenCheck::SkipAudit);
    const std::vector<AuditEntry> entries =
        AuditLog(*store).entries(positiveInt(command, args, "--after", 0, 2000000000),
                                 std::size_t(positiveInt(command, args, "--limit", 1, 2000000000)));
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginArray();
        for (const AuditEntry& e : entries) {
            json.beginObject()
                .field("id", (long long)e.id)
                .field("time", isoTimeMs(e.timeMs))
                .field("actor", e.actor)
                .field("action", e.action)
                .field("subject", e.subject)
                .field("details", e.details)
                .field("hash", e.hash)
                .endObject();
        }
        json.endArray();
        std::cout << "\n";
        return 0;
    }
    for (const AuditEntry& e : entries) {
        std::printf("%6lld %s %-12s %-20s %s %s\n", (long long)e.id, isoTimeMs(e.timeMs).c_str(),
                    e.actor.c_str(), e.action.c_str(), e.subject.c_str(), e.details.c_str());
    }
    return 0;
}

/// Runs subcommand argv[0] of `group` from `table`, with --help.
int dispatch(
    const std::string& group, const std::vector<std::string>& argv, const char* help,
    const std::map<std::string, std::function<int(const std::vector<std::string>&)>>& table) {
    std::string names;
    for (const auto& [name, run] : table) {
        names += (names.empty() ? "" : ", ") + name;
    }
    if (argv.empty()) {
        usageError(group, "give a subcommand (" + names + ")");
    }
    const bool wantsHelp = std::find(argv.begin(), argv.end(), "--help") != argv.end() ||
                           std::find(argv.begin(), argv.end(), "-h") != argv.end();
    if (wantsHelp) {
        std::cout << help << kStoreOption;
        return 0;
    }
    const auto it = table.find(argv[0]);
    if (it == table.end()) {
        usageError(group, "unknown subcommand '" + argv[0] + "' (" + names + ")");
    }
    return it->second(std::vector<std::string>(argv.begin() + 1, argv.end()));
}

} // namespace

int runLabel(const std::vector<std::string>& argv) {
    return dispatch("label", argv, kLabelHelp,
                    {{"add", labelAdd},
                     {"list", labelList},
                     {"import", labelImport},
                     {"export", labelExport},
                     {"classes", labelClasses},
                     {"agreement", labelAgreement},
                     {"worklist", labelWorklist}});
}

int runAudit(const std::vector<std::string>& argv) {
    return dispatch("audit", argv, kAuditHelp, {{"verify", auditVerify}, {"list", auditList}});
}

int runModels(const std::vector<std::string>& argv) {
    return dispatch("models", argv, kModelsHelp,
                    {{"list", modelsList},
                     {"add", modelsAdd},
                     {"promote", modelsPromote},
                     {"rollback", modelsRollback},
                     {"runs", modelsRuns},
                     {"compare", modelsCompare}});
}

int runRetrain(const std::vector<std::string>& argv) {
    return retrainCommand(argv);
}

} // namespace radiolens::cli
