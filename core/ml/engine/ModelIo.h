#pragma once
// Plugin-internal (core/ml/engine): model packages and input tensors.

#include "core/domain/ModelCard.h"
#include "core/ml/ImageDataset.h"
#include "core/ml/engine/Networks.h"

#include <torch/torch.h>

#include <memory>
#include <string>

namespace radiolens::ml {

/// Images [first, first + count) of `images` as the network input the card describes:
/// float32 N x C x size x size, resized (bilinear, antialiased when shrinking) and normalised.
torch::Tensor inputTensor(const ImageSplit& images, std::size_t first, std::size_t count,
                          const InputSpec& input);

/// The untrained network a card describes.
std::shared_ptr<Network> networkFor(const ModelCard& card);

/// Writes the weights to `path` atomically (temporary file, rename) and returns their sha256.
std::string saveWeights(const std::shared_ptr<Network>& network, const std::string& path);

/// Loads the weights of `dir` into a network built from `card`, after checking their sha256
/// against the card. Throws std::runtime_error naming the file: missing, truncated or corrupt
/// weights, a hash mismatch, or weights that do not fit the card's architecture.
std::shared_ptr<Network> loadNetwork(const ModelCard& card, const std::string& dir);

} // namespace radiolens::ml
