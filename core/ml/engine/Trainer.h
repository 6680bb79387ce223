#pragma once
// Plugin-internal (core/ml/engine): supervised training of a classifier.

#include "core/ml/MlEngine.h"

namespace radiolens::ml {

/// Trains on `data.train`, chooses the epoch with the best validation AUC, fits a temperature
/// on validation, and writes the package (model.pt, card.json) to `options.outDir`.
///
/// Recipe (defaults): AdamW, one warm-up epoch then cosine decay, class-balanced cross-entropy,
/// random affine augmentation (rotation +-10 degrees, scale 0.9-1.1, shift +-8 %) and
/// brightness/contrast jitter, early stopping when the validation AUC has not improved for
/// `patience` epochs. Deterministic for a seed and thread count.
///
/// Distributed (options.worldSize > 1): joins the other processes first, checks that they train
/// the same (data, options, parent), then shares every global batch out among them
/// (TorchModel::distribute); every process runs the same schedule, validation and early
/// stopping on the same numbers, so all stop at the same epoch. Only rank 0 reads and writes
/// checkpoints and writes the package.
ModelCard trainClassifier(const ImageDataset& data, const TrainOptions& options,
                          const TrainObserver& observer);

/// The current UTC time as a model version: "20261125T101500".
std::string timeStamp();

} // namespace radiolens::ml
