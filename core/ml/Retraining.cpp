#include "core/ml/Retraining.h"

#include "core/domain/Paths.h"
#include "core/domain/Sha256.h"
#include "core/ml/DicomModelInput.h"
#include "core/ml/ForecastInputs.h"
#include "core/ml/ImageFolderDataset.h"
#include "core/ml/ModelInput.h"
#include "core/store/IndexCache.h"
#include "core/store/LabelStore.h"
#include "core/store/StudyStore.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace radiolens {

namespace {

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// One labelled image to read.
struct Labelled {
    InstanceRecord record;
    std::string className;
};

std::string patientOf(const InstanceRecord& r) {
    return r.patientId.empty() ? "study " + r.studyInstanceUid : r.patientId;
}

void appendImage(ImageSplit& split, const std::vector<std::uint8_t>& pixels, int label) {
    split.pixels.insert(split.pixels.end(), pixels.begin(), pixels.end());
    split.labels.push_back(label);
    ++split.count;
}

/// An exclusive lock on a run's folder, held while a process trains it (flock: released when
/// the process ends, however it ends).
class RunLock {
public:
    explicit RunLock(const std::string& path)
        : m_fd(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
        if (m_fd < 0) {
            throw std::runtime_error(path + ": cannot be created");
        }
        m_locked = ::flock(m_fd, LOCK_EX | LOCK_NB) == 0;
    }
    ~RunLock() { ::close(m_fd); }
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;
    bool locked() const { return m_locked; }

private:
    int m_fd;
    bool m_locked = false;
};

/// A number as text that tells every double apart.
std::string exactNumber(double value) {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

} // namespace

ImageDataset assembleTrainingSet(StudyStore& store, const std::vector<std::string>& extraData,
                                 const InputSpec& input, const std::vector<std::string>& classes,
                                 double validationFraction, TrainingSetReport& report,
                                 ProgressSink* progress, bool validationOnly) {
    report = TrainingSetReport();
    NullProgress none;
    ProgressSink& sink = progress != nullptr ? *progress : none;
    std::vector<std::string> names = classes;
    const auto classIndex = [&names](const std::string& name) {
        const auto it = std::find(names.begin(), names.end(), name);
        if (it != names.end()) {
            return int(it - names.begin());
        }
        names.push_back(name);
        return int(names.size() - 1);
    };

    // The store's labels: images first, then series and study labels of radiographs.
    LabelStore labels(store);
    IndexCache index(store);
    std::map<std::string, Labelled> chosen; // by SOP Instance UID
    const LabelLevel levels[] = {LabelLevel::Image, LabelLevel::Series, LabelLevel::Study};
    for (LabelLevel level : levels) {
        const Consensus consensus = labels.consensus(level);
        report.disagreements += consensus.disagreements.size();
        report.unconfirmedSuggestions += consensus.unconfirmedSuggestions;
        for (const auto& [uid, className] : consensus.items) {
            const std::vector<InstanceRecord> records = index.instances(level, uid);
            if (records.empty()) {
                report.problems.push_back(std::string(toString(level)) + " " + uid +
                                          ": not in the study index (open or index its folder "
                                          "first)");
                continue;
            }
            std::size_t used = 0;
            for (const InstanceRecord& r : records) {
                if (level != LabelLevel::Image && !isProjectionModality(r.modality)) {
                    continue;
                }
                used += chosen.emplace(r.instance.sopInstanceUid, Labelled{r, className}).second;
            }
            if (level != LabelLevel::Image && used == 0 &&
                std::none_of(records.begin(), records.end(), [](const InstanceRecord& r) {
                    return isProjectionModality(r.modality);
                })) {
                report.problems.push_back(std::string(toString(level)) + " " + uid + " (" +
                                          records.front().modality +
                                          "): a series or study label does not say which slice "
                                          "shows it; label images to train on them");
            }
        }
    }

    ImageDataset data;
    data.source = store.path();
    for (ImageSplit* split : {&data.train, &data.validation, &data.test}) {
        split->channels = std::size_t(input.channels);
        split->width = split->height = std::size_t(input.size);
    }

    // Patients go whole to training or validation, chosen per class by a stable hash.
    std::map<std::string, std::vector<const Labelled*>> byPatient;
    for (const auto& [uid, item] : chosen) {
        byPatient[patientOf(item.record)].push_back(&item);
    }
    std::map<std::string, std::vector<std::string>> patientsOfClass;
    for (auto& [patient, items] : byPatient) {
        std::sort(items.begin(), items.end(), [](const Labelled* a, const Labelled* b) {
            return a->record.instance.path < b->record.instance.path;
        });
        patientsOfClass[items.front()->className].push_back(patient);
    }
    // A patient validates when its id's hash falls below the fraction (stayInPart, as the
    // forecaster splits stays): the same patient stays on the same side as labels are added, so
    // a later version is never measured on patients an earlier one trained on. A class with two
    // or more patients keeps one on each side.
    std::set<std::string> validationPatients;
    for (auto& [className, patients] : patientsOfClass) {
        std::sort(patients.begin(), patients.end());
        std::size_t taken = 0;
        for (const std::string& patient : patients) {
            if (stayInPart(patient, "validation", validationFraction)) {
                validationPatients.insert(patient);
                ++taken;
            }
        }
        if (patients.size() >= 2 && taken == 0) {
            validationPatients.insert(patients.front());
        } else if (patients.size() >= 2 && taken == patients.size()) {
            validationPatients.erase(patients.back());
        }
    }

    ModelCard reader;
    reader.input = input;
    std::vector<std::string> usedLines;
    std::size_t done = 0;
    for (const auto& [patient, items] : byPatient) {
        const bool validation = validationPatients.count(patient) != 0;
        if (validationOnly && !validation) {
            continue; // its images are not read
        }
        bool any = false;
        for (const Labelled* item : items) {
            if (!sink.report(0.9 * double(done++) /
                             double(std::max<std::size_t>(1, chosen.size())))) {
                throw std::runtime_error("cancelled");
            }
            try {
                const ImageSplit frames = dicomModelInput(item->record.instance.path, reader);
                const std::vector<std::uint8_t> pixels =
                    squarePixels(frames, frames.count / 2, input.size, input.channels);
                appendImage(validation ? data.validation : data.train, pixels,
                            classIndex(item->className));
                (validation ? report.validationPerClass : report.trainPerClass)[item->className]++;
                usedLines.push_back(item->record.instance.sopInstanceUid + " " + item->className);
                ++report.storeImages;
                report.modalities.insert(item->record.modality);
                any = true;
            } catch (const std::exception& e) {
                report.problems.push_back("image " + item->record.instance.sopInstanceUid + ": " +
                                          e.what());
            }
        }
        if (any) {
            ++(validation ? report.validationPatients : report.trainPatients);
        }
    }
    std::sort(usedLines.begin(), usedLines.end());
    std::string labelSet;
    for (const std::string& line : usedLines) {
        labelSet += line + "\n";
    }

    // External datasets, their splits as they are.
    for (const std::string& path : extraData) {
        const ImageDataset extra = loadImageDataset(path, input.size);
        if (extra.task == "multi-label") {
            throw std::runtime_error(path + ": multi-label datasets cannot be mixed with labels");
        }
        labelSet +=
            "dataset " + fs::path(path).filename().string() + " " + Sha256::ofFile(path) + "\n";
        std::vector<int> mapped;
        for (const std::string& name : extra.classNames) {
            mapped.push_back(classIndex(name));
        }
        for (const auto& [from, to, counts, added] :
             {std::tuple{&extra.train, &data.train, &report.trainPerClass, &report.extraTrain},
              std::tuple{&extra.validation, &data.validation, &report.validationPerClass,
                         &report.extraValidation}}) {
            if (validationOnly && to == &data.train) {
                continue;
            }
            const bool same = from->channels == to->channels && from->width == to->width &&
                              from->height == to->height;
            to->pixels.reserve(to->pixels.size() + from->count * to->imageBytes());
            for (std::size_t i = 0; i < from->count; ++i) {
                const int label = mapped[std::size_t(from->labels[i])];
                if (same) {
                    const auto first =
                        from->pixels.begin() + std::ptrdiff_t(i * from->imageBytes());
                    to->pixels.insert(to->pixels.end(), first,
                                      first + std::ptrdiff_t(from->imageBytes()));
                    to->labels.push_back(label);
                    ++to->count;
                } else {
                    appendImage(*to, squarePixels(*from, i, input.size, input.channels), label);
                }
                ++(*counts)[names[std::size_t(label)]];
            }
            *added += from->count;
        }
    }
    sink.report(1.0);

    data.classNames = names;
    data.task = names.size() == 2 ? "binary" : "multi-class";
    report.labelSetSha256 = Sha256::ofText(labelSet);
    if ((data.train.count == 0 && !validationOnly) || data.validation.count == 0) {
        std::string left;
        for (std::size_t i = 0; i < report.problems.size() && i < 3; ++i) {
            left += (i ? "; " : "; left out: ") + report.problems[i];
        }
        if (report.problems.size() > 3) {
            left += "; and " + std::to_string(report.problems.size() - 3) + " more";
        }
        throw std::runtime_error(
            "too few labelled images to train: " + std::to_string(data.train.count) +
            " for training and " + std::to_string(data.validation.count) +
            " for validation (a class needs images of two or more patients)" + left);
    }
    if (names.size() < 2) {
        throw std::runtime_error("the labels name fewer than two classes; a classifier needs two "
                                 "or more");
    }
    return data;
}

RetrainResult retrain(StudyStore& store, const RetrainRequest& request, MlEngine& engine,
                      const TrainObserver& observer,
                      const std::function<void(const std::string&)>& note,
                      ProgressSink* preparing) {
    const auto say = [&note](const std::string& text) {
        if (note) {
            note(text);
        }
    };
    ModelRegistry registry(store);
    LabelStore labels(store);
    const std::string actor = request.actor.empty() ? StudyStore::defaultActor() : request.actor;
    RetrainResult result;
    // A distributed run's process other than rank 0 trains along and touches nothing.
    const bool follower = request.options.worldSize > 1 && request.options.rank != 0;
    if (std::error_code error;
        !follower && !request.out.empty() && fs::exists(request.out, error)) {
        throw std::runtime_error(request.out + ": exists already; choose another folder");
    }

    // What to start from: the given package, else the active model, unless from scratch.
    TrainOptions options = request.options;
    std::optional<ModelCard> parent;
    std::string parentDir = request.fromScratch ? std::string() : request.parentDir;
    if (!request.fromScratch && parentDir.empty()) {
        if (const auto active = registry.active()) {
            if (const std::string problem = ModelRegistry::verifyPackage(*active);
                !problem.empty()) {
                throw std::runtime_error("the active model cannot be fine-tuned: " + problem);
            }
            parentDir = active->package;
        }
    }
    if (!parentDir.empty()) {
        parent = ModelCard::read(parentDir);
        const std::vector<std::string> labelClasses = labels.classes();
        std::set<std::string> mine(labelClasses.begin(), labelClasses.end());
        for (const std::string& name : parent->classNames) {
            mine.erase(name);
        }
        if (!mine.empty() || parent->format == "torchscript") {
            say("the model " + parent->id + " " + parent->version +
                (parent->format == "torchscript"
                     ? " is a TorchScript model"
                     : " does not know the class '" + *mine.begin() + "'") +
                "; training a new model from scratch");
            parent.reset();
            parentDir.clear();
        }
    }

    InputSpec input;
    if (parent) {
        input = parent->input;
        options.parent = parentDir;
    } else {
        options.parent.clear();
        input.preprocessing = "normalize";
        input.size = options.imageSize > 0 ? options.imageSize : 0;
        // The first external dataset gives the size when none is asked for; DICOM radiographs
        // and CT are grey, and a colour external dataset makes the model colour.
        for (std::size_t i = 0; i < request.extraData.size(); ++i) {
            const std::string& path = request.extraData[i];
            if ((i == 0 && input.size == 0) || endsWith(path, ".npz")) {
                const ImageDataset extra = loadImageDataset(path, 0);
                input.size = input.size > 0 ? input.size : int(extra.train.width);
                input.channels = std::max<int>(input.channels, int(extra.train.channels));
            }
        }
        input.size = input.size > 0 ? input.size : 224;
    }
    options.imageSize = input.size;
    result.report = TrainingSetReport();
    const ImageDataset data = assembleTrainingSet(
        store, request.extraData, input, parent ? parent->classNames : std::vector<std::string>{},
        request.validationFraction, result.report);
    for (const std::string& problem : result.report.problems) {
        say("left out: " + problem);
    }
    if (options.id.empty()) {
        const std::string base =
            parent ? parent->id
                   : (request.extraData.empty()
                          ? std::string("radiolens-labels")
                          : fs::path(request.extraData.front()).stem().string()) +
                         "-" + (options.architecture.empty() ? "resnet18" : options.architecture);
        options.id = base;
    }

    // The training's identity: the exact labels, data and options. The same training started
    // again goes on where an interrupted one stopped.
    const std::string fingerprint = Sha256::ofText(
        result.report.labelSetSha256 + "|" + options.id + "|" + options.architecture + "|" +
        options.stem + "|" + options.pooling + "|" + std::to_string(options.width) + "|" +
        std::to_string(options.epochs) + "|" + std::to_string(options.imageSize) + "|" +
        std::to_string(options.batchSize) + "|" + exactNumber(options.learningRate) + "|" +
        std::to_string(options.patience) + "|" + std::to_string(options.seed) + "|" +
        (parent ? parent->id + "@" + parent->version : std::string("scratch")) + "|" +
        exactNumber(request.validationFraction));

    if (preparing != nullptr && !preparing->report(1.0)) {
        throw std::runtime_error("cancelled");
    }
    if (follower) {
        // Rank 0 records the run, reads and writes the checkpoints and publishes; this process
        // trains its share of every batch and returns the same card, unregistered.
        options.outDir.clear();
        options.checkpointDir.clear();
        result.model.card = engine.train(data, options, observer);
        result.model.modelId = result.model.card.id;
        result.model.version = result.model.card.version;
        return result;
    }
    std::optional<TrainingRun> run =
        request.fresh ? std::nullopt : registry.unfinishedRun(fingerprint);
    if (run) {
        // A run whose package was published (registered, or moved into place but not yet
        // registered) before its end was recorded: finish the record now.
        for (const RegisteredModel& m : registry.versions(run->modelId)) {
            if (m.runId == run->id) {
                registry.endRun(run->id, "finished", "", m.version, actor);
                result.model = m;
                result.run = *registry.run(run->id);
                say("this training finished before as " + m.modelId + " " + m.version);
                return result;
            }
        }
        std::vector<std::string> places;
        if (!run->out.empty()) {
            places.push_back(run->out);
        }
        std::error_code error;
        for (const auto& entry :
             fs::directory_iterator(registry.modelsFolder() + "/" + run->modelId, error)) {
            places.push_back(entry.path().string());
        }
        for (const std::string& place : places) {
            try {
                const ModelCard published = ModelCard::read(place);
                const auto by = published.training.find("run");
                if (by != published.training.end() && by->second == std::to_string(run->id)) {
                    const auto hash = published.training.find("labelSetSha256");
                    result.model = registry.publish(
                        place, hash == published.training.end() ? "" : hash->second,
                        std::size_t(std::atol(published.training.count("storeImages")
                                                  ? published.training.at("storeImages").c_str()
                                                  : "0")),
                        run->id, actor);
                    registry.endRun(run->id, "finished", "", result.model.version, actor);
                    result.run = *registry.run(run->id);
                    say("this training finished before as " + result.model.modelId + " " +
                        result.model.version + "; it is registered now");
                    return result;
                }
            } catch (const std::exception&) {
                // not a package of this run
            }
        }
    }
    const std::string runsFolder = registry.modelsFolder() + "/runs";
    if (run && run->state != "running") {
        registry.reopenRun(run->id, actor);
    }
    if (!run) {
        fs::create_directories(runsFolder);
        const std::string folder =
            runsFolder + "/" + std::to_string(nowMs()) + "-" + fingerprint.substr(0, 12);
        fs::create_directories(folder);
        run = registry.startRun(options.id, fingerprint, folder, request.out, actor);
    }
    RunLock lock(run->folder + "/lock");
    if (!lock.locked()) {
        throw std::runtime_error("this training is running in another process (run " +
                                 std::to_string(run->id) + ", " + run->folder +
                                 "); wait for it, or cancel it there");
    }
    // The package is written beside where it is published, so that moving it into place is a
    // rename on one file system.
    const std::string package = request.out.empty()
                                    ? run->folder + "/package"
                                    : fs::absolute(request.out).lexically_normal().string() +
                                          ".partial-" + std::to_string(run->id);
    fs::remove_all(package);
    options.outDir = package;
    options.checkpointDir = run->folder + "/checkpoint";
    result.run = *run;

    const std::int64_t runId = run->id;
    const TrainObserver recordingObserver = [&](const TrainStatus& s) {
        if (s.epochEnded && !s.replayed) {
            registry.checkpointed(runId, s.epoch);
        }
        if (s.resumedAfterEpoch > 0 && result.resumedAfterEpoch == 0) {
            result.resumedAfterEpoch = s.resumedAfterEpoch;
            say("resuming run " + std::to_string(runId) + " after epoch " +
                std::to_string(s.resumedAfterEpoch) + " (its checkpoint in " +
                options.checkpointDir + ")");
        }
        return !observer || observer(s);
    };
    ModelCard card;
    try {
        card = engine.train(data, options, recordingObserver);
    } catch (const std::exception& e) {
        const std::string what = e.what();
        registry.endRun(runId, what == "cancelled" ? "cancelled" : "failed",
                        what == "cancelled" ? "cancelled; its checkpoint is kept" : what, "",
                        actor);
        throw;
    }

    // What it was trained on goes on its card, then the package is published whole.
    bool inPlace = false;
    try {
        card.training["labelSetSha256"] = result.report.labelSetSha256;
        card.training["storeImages"] = std::to_string(result.report.storeImages);
        card.training["trainPatients"] = std::to_string(result.report.trainPatients);
        card.training["validationPatients"] = std::to_string(result.report.validationPatients);
        card.training["validationFraction"] = std::to_string(request.validationFraction);
        card.training["split"] = "by patient";
        card.training["run"] = std::to_string(runId);
        std::string external;
        for (const std::string& path : request.extraData) {
            external += (external.empty() ? "" : "\n") + fs::absolute(path).string();
        }
        if (!external.empty()) {
            card.training["externalData"] = external; // one path per line
        }
        // The model reads what it was trained on: the modalities of its labelled images (and
        // its parent's).
        std::set<std::string> modalities(card.input.modalities.begin(),
                                         card.input.modalities.end());
        if (!card.input.modalities.empty() || request.extraData.empty()) {
            modalities.insert(result.report.modalities.begin(), result.report.modalities.end());
        }
        card.input.modalities.assign(modalities.begin(), modalities.end());
        card.write(package);
        const std::string out = !request.out.empty()
                                    ? request.out
                                    : registry.modelsFolder() + "/" + card.id + "/" + card.version;
        publishFolder(package, out);
        inPlace = true;
        result.model = registry.publish(out, result.report.labelSetSha256,
                                        result.report.storeImages + result.report.extraTrain +
                                            result.report.extraValidation,
                                        runId, actor);
        registry.endRun(runId, "finished", "", card.version, actor);
    } catch (const std::exception& e) {
        if (!inPlace) {
            registry.endRun(runId, "failed", std::string("publishing: ") + e.what(), "", actor);
        }
        // Once in place, the run stays open: the same command registers the package.
        throw;
    }
    result.run = *registry.run(runId);
    std::error_code ignored;
    fs::remove_all(run->folder, ignored); // its checkpoints; the package has moved out
    return result;
}

ModelComparison compareVersions(StudyStore& store, MlEngine& engine, const RegisteredModel& a,
                                const RegisteredModel& b, const std::vector<std::string>& extraData,
                                const std::string& split, double threshold) {
    if (a.card.classNames != b.card.classNames) {
        throw std::runtime_error(a.modelId + " " + a.version + " and " + b.modelId + " " +
                                 b.version + " have other classes; they cannot be compared");
    }
    for (const RegisteredModel* m : {&a, &b}) {
        if (const std::string problem = ModelRegistry::verifyPackage(*m); !problem.empty()) {
            throw std::runtime_error(problem);
        }
    }
    const ModelCard& card = a.card;
    ImageSplit images;
    std::string description;
    if (split == "test") {
        if (extraData.empty()) {
            throw std::runtime_error("the store's labels have no test part; compare on their "
                                     "validation patients, or give a dataset with a test split");
        }
        images.channels = std::size_t(card.input.channels);
        images.width = images.height = std::size_t(card.input.size);
        for (const std::string& path : extraData) {
            const ImageDataset extra = loadImageDataset(path, card.input.size);
            for (std::size_t i = 0; i < extra.test.count; ++i) {
                const std::string& name = extra.classNames[std::size_t(extra.test.labels[i])];
                const auto it = std::find(card.classNames.begin(), card.classNames.end(), name);
                if (it == card.classNames.end()) {
                    throw std::runtime_error(path + ": class '" + name +
                                             "' is not one the models know");
                }
                appendImage(images,
                            squarePixels(extra.test, i, card.input.size, card.input.channels),
                            int(it - card.classNames.begin()));
            }
            description += (description.empty() ? "" : " and ") +
                           std::string("the test split of ") + fs::path(path).filename().string();
        }
    } else {
        const auto fraction = b.card.training.find("validationFraction");
        TrainingSetReport report;
        const ImageDataset data = assembleTrainingSet(
            store, extraData, card.input, card.classNames,
            fraction == b.card.training.end() ? 0.2 : std::atof(fraction->second.c_str()), report,
            nullptr, true);
        if (data.classNames != card.classNames) {
            throw std::runtime_error("the labels name classes the models do not know");
        }
        images = data.validation;
        description = std::to_string(report.validationPatients) +
                      " validation patients of the store's labels";
        if (report.extraValidation > 0) {
            description += " and " + std::to_string(report.extraValidation) +
                           " validation images of the external datasets";
        }
    }
    if (images.count == 0) {
        throw std::runtime_error("no labelled images to compare the models on");
    }
    std::vector<ModelEvaluation> evaluations;
    for (const RegisteredModel* m : {&a, &b}) {
        std::unique_ptr<Classifier> model = engine.loadClassifier(m->package);
        evaluations.push_back(
            evaluateProbabilities(m->card, model->predict(images), images.labels, threshold));
    }
    return compareEvaluations(std::move(evaluations), card.classNames, images.labels, threshold,
                              description);
}

Worklist buildWorklist(StudyStore& store, MlEngine* engine, WorklistOrder order,
                       const std::string& annotator, ProgressSink* progress) {
    NullProgress none;
    ProgressSink& sink = progress != nullptr ? *progress : none;
    Worklist list;
    list.order = order;
    LabelStore labels(store);
    ModelRegistry registry(store);
    std::optional<RegisteredModel> active = registry.active();
    if (active && ModelRegistry::verifyPackage(*active).empty()) {
        list.modelId = active->modelId;
        list.modelVersion = active->version;
        list.classNames = active->card.classNames;
    } else {
        if (active) {
            list.problems.push_back(ModelRegistry::verifyPackage(*active));
        }
        active.reset();
        list.classNames = labels.classes();
    }
    // What is labelled already: images, and images of labelled radiograph series and studies.
    LabelQuery query;
    query.annotator = annotator;
    std::set<std::string> done[3];
    for (const Label& l : labels.current(query)) {
        done[int(l.level)].insert(l.item);
    }
    const auto accepted = [&active](const InstanceRecord& r) {
        if (!active) {
            return isProjectionModality(r.modality);
        }
        const std::vector<std::string>& modalities = active->card.input.modalities;
        return modalities.empty() ||
               std::find(modalities.begin(), modalities.end(), r.modality) != modalities.end();
    };
    for (const InstanceRecord& r : IndexCache(store).all()) {
        if (!accepted(r)) {
            continue;
        }
        const bool isLabelled = done[int(LabelLevel::Image)].count(r.instance.sopInstanceUid) ||
                                (isProjectionModality(r.modality) &&
                                 (done[int(LabelLevel::Series)].count(r.seriesInstanceUid) ||
                                  done[int(LabelLevel::Study)].count(r.studyInstanceUid)));
        if (isLabelled) {
            ++list.labelled;
            continue;
        }
        WorklistItem item;
        item.record = r;
        list.items.push_back(std::move(item));
    }
    if (active && engine != nullptr) {
        // Classify what the model has not seen yet; keep its probabilities in the store.
        std::map<std::string, std::vector<double>> known =
            labels.suggestions(active->modelId, active->version);
        std::map<std::string, std::vector<double>> fresh;
        std::unique_ptr<Classifier> model;
        std::size_t done = 0;
        std::vector<WorklistItem> readable;
        for (WorklistItem& item : list.items) {
            if (!sink.report(double(done++) / double(list.items.size()))) {
                throw std::runtime_error("cancelled");
            }
            const std::string& uid = item.record.instance.sopInstanceUid;
            auto it = known.find(uid);
            if (it == known.end() || it->second.size() != list.classNames.size()) {
                try {
                    if (!model) {
                        model = engine->loadClassifier(active->package);
                    }
                    const ImageSplit frames =
                        dicomModelInput(item.record.instance.path, active->card);
                    fresh[uid] = model->predict(imageOf(frames, frames.count / 2));
                    it = known.emplace(uid, fresh[uid]).first;
                } catch (const std::exception& e) {
                    list.problems.push_back(uid + " (" + item.record.instance.path +
                                            "): " + e.what());
                    continue;
                }
            }
            item.probabilities = it->second;
            const int k = int(list.classNames.size());
            item.suggestedClass =
                int(std::max_element(item.probabilities.begin(), item.probabilities.end()) -
                    item.probabilities.begin());
            item.uncertainty =
                uncertainty(item.probabilities.data(), k,
                            order == WorklistOrder::Date ? WorklistOrder::Entropy : order);
            readable.push_back(std::move(item));
        }
        list.items = std::move(readable);
        if (!fresh.empty()) {
            labels.saveSuggestions(active->modelId, active->version, fresh);
        }
    }
    if (order != WorklistOrder::Date && active) {
        std::stable_sort(list.items.begin(), list.items.end(),
                         [](const WorklistItem& a, const WorklistItem& b) {
                             return a.uncertainty > b.uncertainty;
                         });
    }
    sink.report(1.0);
    return list;
}

} // namespace radiolens
