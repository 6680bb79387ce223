#pragma once
// Local retraining (issue 6): the labels in the store (and optional external datasets) become a
// training set split by patient, the ML engine trains with checkpoints, and the finished model
// is published atomically into the store's registry. Plain C++; the engine is the plugin's.

#include "core/domain/Progress.h"
#include "core/ml/ActiveLearning.h"
#include "core/ml/MlEngine.h"
#include "core/ml/ModelComparison.h"
#include "core/domain/StudyIndex.h"
#include "core/store/ModelRegistry.h"

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace radiolens {

class StudyStore;

/// What went into a training set assembled from the store.
struct TrainingSetReport {
    std::size_t storeImages = 0;            ///< labelled DICOM images read
    std::size_t trainPatients = 0;          ///< patients whose images train
    std::size_t validationPatients = 0;     ///< patients whose images validate (no overlap)
    std::size_t extraTrain = 0;             ///< images from external datasets' training splits
    std::size_t extraValidation = 0;        ///< ... and their validation splits
    std::size_t disagreements = 0;          ///< items the annotators disagree on (left out)
    std::size_t unconfirmedSuggestions = 0; ///< model suggestions nobody confirmed (left out)
    /// Labelled items that could not be used, with the reason ("<uid>: not in the study
    /// index; open or index its folder first").
    std::vector<std::string> problems;
    std::set<std::string> modalities; ///< of the labelled DICOM images read
    std::map<std::string, std::size_t> trainPerClass;
    std::map<std::string, std::size_t> validationPerClass;
    /// SHA-256 of the exact label set: the store's consensus labels and the external datasets'
    /// files.
    std::string labelSetSha256;
};

/// Builds a training set: every trusted, agreed image-level label in the store whose instance
/// is in the study index, plus the series- and study-level labels of radiographs (each image of
/// the labelled series or study, unless it has an image label of its own); the images are
/// read from their DICOM files and prepared as `input` says (windowed as the card says,
/// MONOCHROME1 inverted, resized to input.size). Patients (PatientID; the study UID when it is
/// empty) go whole to training or validation: a fixed hash of the patient's id decides
/// (stayInPart), so about `validationFraction` of them validate and a patient never changes
/// side as labels are added; a class with two or more patients keeps one on each side. External
/// datasets (`extraData`: MedMNIST .npz or picture CSVs) add their training and validation splits
/// as they are (their test split is never used). Classes are `classes` first (a fine-tuned
/// model's), then any other in the order the store and the datasets name them. Labelled items that
/// cannot be read are reported and left out; the rest go on. With `validationOnly`, only the
/// validation part is read (the training split stays empty): what a comparison of models needs.
/// Throws std::runtime_error when nothing can be trained (or, with `validationOnly`, measured) on.
ImageDataset assembleTrainingSet(StudyStore& store, const std::vector<std::string>& extraData,
                                 const InputSpec& input, const std::vector<std::string>& classes,
                                 double validationFraction, TrainingSetReport& report,
                                 ProgressSink* progress = nullptr, bool validationOnly = false);

/// One retraining, as `radiolens-cli retrain` and the GUI's training window start it.
struct RetrainRequest {
    std::vector<std::string> extraData; ///< external datasets (.npz, picture CSV)
    /// Where the new package is published; empty: <store folder>/models/<id>/<version>. Must
    /// not exist.
    std::string out;
    /// Start from new weights even when a model is active (else the active model of the store,
    /// or `parentDir`, is fine-tuned when its classes match).
    bool fromScratch = false;
    std::string parentDir; ///< a model package to fine-tune instead of the active one
    /// Architecture, epochs, seed, ... for training from scratch; input size (default 224 for
    /// DICOM-only data, the dataset's for external data); outDir and checkpointDir are set by
    /// retrain().
    TrainOptions options;
    double validationFraction = 0.2;
    std::string actor;  ///< for the audit log; empty: the OS user
    bool fresh = false; ///< ignore an interrupted run of the same training and start over
};

struct RetrainResult {
    RegisteredModel model;
    TrainingSetReport report;
    TrainingRun run;
    int resumedAfterEpoch = 0; ///< 0: trained from the start
};

/// Trains a new model version from the store's labels and publishes it: assembles the training
/// set, records a training run, trains with a checkpoint after every epoch in the run's folder
/// (<store folder>/models/runs/...), then moves the finished package into place (flushed to
/// disk, renamed) and registers it with its label-set hash and parent, in one transaction. It
/// is not promoted: its metrics are there to be looked at first. A run of the same training
/// (same labels, data and options) that was interrupted (killed, machine off) or cancelled goes
/// on from its last checkpoint; one that another process is running is refused. Cancelling
/// (the observer returns false) ends the run as cancelled, keeping its checkpoint, and throws
/// std::runtime_error("cancelled"). `note` receives one-line messages for the user (resuming,
/// skipped images). `preparing` follows (and can cancel) the reading of the labelled images,
/// before training starts. The registry is changed only by the final publication. In a
/// distributed run (options.worldSize > 1) the process of rank 0 does all this; any other
/// assembles the same training set from its store, trains along, and returns the card in
/// result.model.card (not registered) without writing anything.
RetrainResult retrain(StudyStore& store, const RetrainRequest& request, MlEngine& engine,
                      const TrainObserver& observer,
                      const std::function<void(const std::string&)>& note = {},
                      ProgressSink* preparing = nullptr);

/// Two registered versions (of the same classes) measured on the same images: with `split`
/// "val", the validation patients of the store's labels (split as assembleTrainingSet splits
/// them, with the newer version's validation fraction) plus the validation splits of
/// `extraData`; with "test", the test splits of `extraData` only (never used in training).
/// Images are prepared for `a`'s input (each model resizes to its own). Throws
/// std::runtime_error when the classes differ, a package does not match the registry, or there
/// are no images.
ModelComparison compareVersions(StudyStore& store, MlEngine& engine, const RegisteredModel& a,
                                const RegisteredModel& b, const std::vector<std::string>& extraData,
                                const std::string& split, double threshold);

/// One image of a labelling worklist, with the active model's suggestion when there is one.
struct WorklistItem {
    InstanceRecord record;
    std::vector<double> probabilities; ///< the active model's, in its class order; empty: none
    int suggestedClass = -1;           ///< most probable class; -1 without a model
    double uncertainty = 0.0;          ///< entropy (nats) or 1 - margin, by the order
};

/// The images still to label, in the order an annotator should take them.
struct Worklist {
    std::vector<WorklistItem> items;
    std::vector<std::string> classNames; ///< the model's classes (or the store's without one)
    std::string modelId;                 ///< the active model; empty when none
    std::string modelVersion;
    WorklistOrder order = WorklistOrder::Date;
    std::size_t labelled = 0;          ///< images of the kind already labelled (left out)
    std::vector<std::string> problems; ///< images the model could not read, with reasons
};

/// Every indexed image still unlabelled (by `annotator`, or by anyone when empty) that the
/// active model accepts (its card's modalities; without an active model, projection
/// radiographs), in `order`: by study date, or most uncertain first under the active model.
/// The model's probabilities are kept in the store (suggestions), so only images it has not
/// seen yet are read and classified (`engine` may be null when no model is needed or
/// available: the order is then by date). Images that cannot be read are reported and left out.
Worklist buildWorklist(StudyStore& store, MlEngine* engine, WorklistOrder order,
                       const std::string& annotator, ProgressSink* progress = nullptr);

} // namespace radiolens
