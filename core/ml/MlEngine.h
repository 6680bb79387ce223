#pragma once

#include "core/domain/ModelCard.h"
#include "core/ml/Forecaster.h"
#include "core/ml/ImageDataset.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// Settings the ML engine takes when it is created.
struct MlEngineConfig {
    int threads = 0; ///< intra-op threads; 0 uses every core
    /// Inference through plans (BatchNorm folded, weights prepared once for oneDNN); false
    /// runs LibTorch's module forward as a program using LibTorch directly would (the
    /// inference benchmark's baseline). Results agree to rounding.
    bool inferencePlans = true;
};

class Classifier;

/// How `MlEngine::train` trains a classifier. Zero or empty fields take defaults that work on
/// MedMNIST-sized data without tuning.
struct TrainOptions {
    std::string architecture = "resnet18"; ///< resnet18, resnet34, densenet121, smallcnn
    std::string stem;                      ///< small or standard; empty: from the input size
    int width = 0;                         ///< channels of the first stage; 0: the default
    /// Global pooling, average or max (ModelCard); empty: the parent's, else average.
    std::string pooling;
    bool gradCamFlipAverage = false; ///< see ModelCard::gradCamFlipAverage
    /// At most this many epochs; 0: 12, or on a small training set enough for about 500
    /// optimisation steps (at most 100 epochs).
    int epochs = 0;
    int imageSize = 0; ///< input pixels; 0: the dataset's own
    int batchSize = 0;
    double learningRate = 0.0;
    int patience = 0;   ///< epochs without a better selection score before stopping; 0: default
    unsigned seed = 1;  ///< the same seed, data and threads give the same model
    std::string outDir; ///< the model package is written here (created)
    std::string id;     ///< model id for the card; empty: from the dataset and architecture
    std::string parent; ///< a model folder to fine-tune from (same architecture and classes)
    /// What an epoch is chosen by, higher being better: called after each epoch with the model
    /// as it stands (inference mode) and that epoch's validation AUC. Empty: the validation AUC
    /// alone. For a task whose AUC saturates early, the score can add what else matters (the
    /// demo adds where Grad-CAM points on validation images). The first best epoch is kept.
    std::function<double(Classifier& model, double validationAuc)> selectionScore;
    std::string selectionName; ///< what selectionScore measures, for the card
    /// A folder for checkpoints. After every epoch the whole training state is written there
    /// (flushed to disk, then renamed into place), and a run started again with the same data
    /// and options goes on after the last checkpointed epoch and ends with the model an
    /// uninterrupted run would have made. A checkpoint of other data or options is refused.
    /// Empty: no checkpoints.
    std::string checkpointDir;

    // ---- data-parallel training across processes (and machines) -------------------------------
    /// `worldSize` processes run the same training (the same data, options and parent), each
    /// with its own `rank` (0 .. worldSize - 1), and meet at masterAddress:masterPort, where
    /// rank 0 listens (LibTorch's c10d: a TCP store, then Gloo). Every global batch of
    /// `batchSize` images is shared out among them, their gradients are summed and BatchNorm
    /// uses the whole batch's statistics: each step is a single process's step up to float
    /// rounding (AdamW can amplify that over a run, as it does between thread counts). Only
    /// rank 0 reads and writes checkpoints (the others take its state over) and writes the
    /// model package; the others return the same card and write nothing (outDir may be empty
    /// there). Every process calls the observer; one that cancels ends the run for all (the
    /// others fail, having lost it). 1: this process alone.
    int worldSize = 1;
    int rank = 0;
    std::string masterAddress; ///< host name or IP address of rank 0
    int masterPort = 0;
    /// Seconds to wait for the other processes, at the start and for any one exchange. A
    /// process that is gone makes the others fail with a message that names the master and
    /// this timeout, rather than hang.
    double distributedTimeout = 300.0;
    /// Intra-op threads for this run; 0: the engine's, or in a distributed run the cores divided
    /// by the run's processes on this machine (2 processes on 2 cores: 1 thread each).
    int threads = 0;
};

/// Where a training run is; passed to the observer after every batch and epoch.
struct TrainStatus {
    int epoch = 0; ///< 1-based; 0 before the first
    int epochs = 0;
    double fraction = 0.0;      ///< of the whole run, 0..1
    double trainLoss = 0.0;     ///< mean over the epoch so far
    double validationAuc = 0.0; ///< after the epoch; NaN before
    double bestValidationAuc = 0.0;
    double seconds = 0.0; ///< since the start (of this process's part of the run)
    bool epochEnded = false;
    /// The run went on from a checkpoint after this epoch (0: it started afresh). On resuming,
    /// the observer first receives each checkpointed epoch again (epochEnded, `replayed`), so
    /// a chart can draw the whole run.
    int resumedAfterEpoch = 0;
    bool replayed = false;
};

/// Receives training progress on the training thread; returning false cancels the run.
using TrainObserver = std::function<bool(const TrainStatus&)>;

/// Saliency methods: what in the image drove a class score.
enum class SaliencyMethod {
    GradCam,             ///< gradient-weighted last feature map (Selvaraju et al. 2017)
    IntegratedGradients, ///< 32 steps from a black image, batched (Sundararajan et al. 2017)
    Occlusion,           ///< score drop when each cell of a 14 x 14 grid is greyed out
};

/// "gradcam", "ig", "occlusion"; and back. parseSaliencyMethod throws std::invalid_argument.
const char* saliencyName(SaliencyMethod method);
SaliencyMethod parseSaliencyMethod(const std::string& name);

/// A saliency map in the image's own pixel geometry (mapped back through the resizing the
/// model's preprocessing did): values in [0, 1], 1 where the evidence for the class is
/// strongest. Row-major, width x height.
struct SaliencyMap {
    SaliencyMethod method = SaliencyMethod::GradCam;
    int classIndex = 0;
    std::size_t width = 0;
    std::size_t height = 0;
    std::vector<float> values;
    double seconds = 0.0; ///< time to compute it
};

/// Deletion and insertion curves of a map (Petsiuk et al. 2018): the class probability as the
/// most salient pixels are removed from the image (greyed to the mean) or added to a blurred
/// copy, in `steps` equal steps; the areas under the curves, in [0, 1]. A faithful map has a
/// low deletion and a high insertion AUC.
struct Faithfulness {
    double deletionAuc = 0.0;
    double insertionAuc = 0.0;
    std::vector<double> deletionCurve;
    std::vector<double> insertionCurve;
};

/// A loaded model, ready to classify. Thread-safety: one call at a time.
class Classifier {
public:
    virtual ~Classifier() = default;
    virtual const ModelCard& card() const = 0;
    /// Class probabilities (calibrated with the card's temperature) for every image of
    /// `images`, count x classes, row-major. Images of another size are resized to the card's
    /// input size; the channel count must match the card (std::invalid_argument otherwise).
    virtual std::vector<double> predict(const ImageSplit& images) = 0;
    /// The saliency map of image `index` of `images` for class `classIndex`.
    virtual SaliencyMap saliency(const ImageSplit& images, std::size_t index, int classIndex,
                                 SaliencyMethod method) = 0;
    /// Deletion and insertion AUC of `map` for image `index` (the map's class).
    virtual Faithfulness faithfulness(const ImageSplit& images, std::size_t index,
                                      const SaliencyMap& map, int steps = 32) = 0;
};

/// The machine-learning engine (LibTorch, CPU), as the rest of Radiolens sees it: plain C++,
/// implemented inside the separately loaded plugin (MlRuntime).
///
/// Thread-safety: methods may be called from any thread, one call at a time.
class MlEngine {
public:
    virtual ~MlEngine() = default;
    /// "LibTorch 1.13.1 (CPU)"
    virtual std::string backendName() const = 0;
    /// Intra-op threads the engine uses.
    virtual int threads() const = 0;
    /// LibTorch's build configuration (BLAS, OpenMP, CPU capabilities).
    virtual std::string buildConfiguration() const = 0;
    /// Multiplies two n x n float32 matrices `repeats` times and returns the speed in GFLOP/s:
    /// a check that a fast BLAS is in use (DESIGN.md section 5: about 2.4 GFLOP/s per core with
    /// OpenBLAS against 48x slower reference BLAS).
    virtual double matmulGflops(int n, int repeats) = 0;

    /// Trains a classifier on `data` (train split; the model is chosen on validation AUC, the
    /// test split is never looked at) and writes the model package (weights, card with the
    /// validation metrics) to `options.outDir`. Returns its card. Throws std::runtime_error
    /// with the reason when it cannot train (bad options, an unreadable parent); a cancelled
    /// run throws std::runtime_error("cancelled") and writes nothing.
    virtual ModelCard train(const ImageDataset& data, const TrainOptions& options,
                            const TrainObserver& observer) = 0;

    /// Loads the model package in `dir`: the card, the weights checked against the card's
    /// sha256, the architecture checked against the weights. Throws std::runtime_error naming
    /// the file and the problem.
    virtual std::unique_ptr<Classifier> loadClassifier(const std::string& dir) = 0;

    /// Writes a new, untrained model package for `card` (architecture, stem, width, input,
    /// classes; weights initialised from `seed`) into `dir`, and returns the card as written
    /// (with the weights' sha256). For fine-tuning from scratch and for benchmarks.
    virtual ModelCard createModel(const ModelCard& card, const std::string& dir, unsigned seed) = 0;

    /// Trains a risk forecaster on `stays` (those with a known outcome; a share is kept for
    /// validation by options.validationFraction) and writes the package (weights, card, the
    /// ids of the stays used) to `options.outDir`. Returns its card. Throws
    /// std::runtime_error with the reason when it cannot train (too few stays, one outcome
    /// only); a cancelled run throws std::runtime_error("cancelled") and writes nothing.
    virtual ForecastCard trainForecaster(const std::vector<const PatientStay*>& stays,
                                         const ForecastTrainOptions& options,
                                         const ForecastObserver& observer) = 0;

    /// Loads the forecaster package in `dir`, its files checked against the card's sha256.
    /// Throws std::runtime_error naming the file and the problem.
    virtual std::unique_ptr<Forecaster> loadForecaster(const std::string& dir) = 0;
};

} // namespace radiolens

/// Entry point of the plugin: creates the engine (the caller owns it). Returns nullptr and
/// writes a reason into `error` (at most `errorSize` bytes) when LibTorch cannot start.
extern "C" __attribute__((visibility("default"))) radiolens::MlEngine*
radiolens_create_ml_engine(const radiolens::MlEngineConfig* config, char* error, int errorSize);
