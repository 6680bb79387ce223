#pragma once
// Plugin-internal (core/ml/engine), plain C++: a network with its card. Its LibTorch side is in
// TorchModel.cpp; the training loop (Trainer.cpp) drives it through the methods below.

#include "core/domain/ModelCard.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/MlEngine.h"

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace radiolens::ml {

class DistributedGroup;

/// The stem to use: `stem` when given, else "small" below 100 px and "standard" from 100 px.
std::string defaultStem(const std::string& stem, int inputSize);

/// A classifier network (a built-in architecture) and its model card. Not thread-safe: one call
/// at a time.
class TorchModel final : public Classifier {
public:
    /// A new, untrained network for `card` (architecture, stem, width, input, classes), its
    /// weights drawn from `seed`: the same seed gives the same weights. Throws
    /// std::invalid_argument for an unknown architecture or stem.
    TorchModel(const ModelCard& card, unsigned seed);
    /// The package in `dir`: the card, then the weights, checked against the card's sha256 and
    /// against its architecture. Throws std::runtime_error naming the file and the problem.
    static std::unique_ptr<TorchModel> load(const std::string& dir);
    ~TorchModel() override;

    const ModelCard& card() const override;
    ModelCard& card();
    /// Whether inference (predict, Grad-CAM's forward pass, occlusion, faithfulness) runs
    /// through an inference plan: BatchNorm folded into the convolutions and weights prepared
    /// once for oneDNN (ResNet and the small CNN; on by default). Off: LibTorch's module
    /// forward, as a program using LibTorch directly runs it. Results agree to rounding.
    void setInferencePlans(bool on);
    /// Changes the global pooling ("average" or "max"; it has no weights, so a model trained
    /// with one can be fine-tuned with the other). Throws std::invalid_argument otherwise.
    void setPooling(const std::string& pooling);

    std::vector<double> predict(const ImageSplit& images) override;
    SaliencyMap saliency(const ImageSplit& images, std::size_t index, int classIndex,
                         SaliencyMethod method) override;
    Faithfulness faithfulness(const ImageSplit& images, std::size_t index, const SaliencyMap& map,
                              int steps) override;

    // ---- training ---------------------------------------------------------------------------
    /// Prepares AdamW (decoupled weight decay `weightDecay`), a cross-entropy weighted per class
    /// by `classWeights`, and the augmentation's random generator (`seed`).
    void startTraining(double weightDecay, const std::vector<double>& classWeights, unsigned seed);
    /// Trains data-parallel with the other processes of `group` from now on (nullptr: this
    /// process alone; the group must outlive the training). Every process then holds rank 0's
    /// weights and BatchNorm statistics, trainStep() takes the global batch and trains this
    /// process's share of it, BatchNorm normalises training batches with the global batch's
    /// statistics, and logits() shares the images out. Collective: every process calls it, and
    /// then trainStep() and logits() with the same arguments, in the same order.
    void distribute(DistributedGroup* group);
    /// One optimisation step at `learningRate` on images `indices` of `split` (labels from the
    /// split), randomly rotated (+-10 degrees), scaled (0.9-1.1), shifted (+-8 %) and
    /// brightness/contrast jittered. Returns the batch's mean loss. Distributed, `indices` is
    /// the global batch: this process trains the contiguous part of it that its rank gives,
    /// with the augmentation drawn for the whole batch, its loss normalised as the whole
    /// batch's, and the gradients summed over the processes (one exchange): the same step as one
    /// process training the whole batch, to rounding.
    double trainStep(const ImageSplit& split, const std::vector<std::size_t>& indices,
                     double learningRate);
    /// Raw logits of every image of `split` (eval mode), count x classes, row-major.
    /// Distributed, each process computes a share of the images and all get every logit.
    std::vector<double> logits(const ImageSplit& split);
    /// Remembers the current weights; restoreKept() brings them back.
    void keep();
    void restoreKept();
    /// Recomputes every BatchNorm's running statistics as exact averages over up to
    /// `maxImages` images of `split` (no augmentation). The running averages kept during
    /// training lag behind the weights; on short runs that shifts every output in eval mode.
    void recomputeBatchNormStatistics(const ImageSplit& split, std::size_t maxImages);
    /// Writes the weights (atomically) and the card, with the weights' sha256, into `dir`.
    void save(const std::string& dir);
    /// Writes all that training needs to go on exactly where it is to `path`: weights and
    /// BatchNorm statistics, the optimiser's moments and step counts, the kept (best) weights
    /// and the augmentation's random state; a temporary file flushed to disk, then renamed.
    void saveTrainingState(const std::string& path);
    /// Reads what saveTrainingState() wrote (after startTraining() with the same settings).
    /// Throws std::runtime_error naming the file when it cannot be read or does not fit.
    void loadTrainingState(const std::string& path);
    /// The same from the file's bytes (`name` for messages): how the other processes of a
    /// distributed run take over rank 0's checkpoint.
    void loadTrainingStateBytes(const std::string& bytes, const std::string& name);

private:
    TorchModel(); ///< no network yet (load fills it in)
    bool multiLabel() const { return card().task == "multi-label"; }
    std::vector<double> predictImages(const ImageSplit& images);
    SaliencyMap saliencyOf(const ImageSplit& images, std::size_t index, int classIndex,
                           SaliencyMethod method);
    Faithfulness faithfulnessOf(const ImageSplit& images, std::size_t index, const SaliencyMap& map,
                                int steps);
    double step(const ImageSplit& split, const std::vector<std::size_t>& indices,
                double learningRate);
    /// Sums every parameter's gradient, and `loss`, over the processes; returns the loss sum.
    double exchangeGradients(double loss);
    /// loadTrainingState from `bytes`, or from the file `path` when it is nullptr.
    void loadTrainingStateFrom(const std::string& path, std::istream* bytes);

    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace radiolens::ml
