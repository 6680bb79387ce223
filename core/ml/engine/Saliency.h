#pragma once
// Plugin-internal (core/ml/engine): saliency maps and their faithfulness.

#include "core/ml/MlEngine.h"
#include "core/ml/engine/Networks.h"

#include <torch/torch.h>

namespace radiolens::ml {

/// Saliency of `x` (1 x C x S x S, normalised input) for `classIndex`, at the input's
/// resolution (S x S), in [0, 1]. `blackValue` is the normalised value of a black pixel
/// (Integrated Gradients' baseline); occlusion greys cells to 0 (the mean).
torch::Tensor saliencyAtInput(Network& network, const torch::Tensor& x, int classIndex,
                              SaliencyMethod method, double blackValue);

/// Deletion and insertion curves of `map` (S x S) on `x` for `classIndex`, with probabilities
/// softmax(logits / temperature).
Faithfulness deletionInsertion(Network& network, const torch::Tensor& x, const torch::Tensor& map,
                               int classIndex, double temperature, int steps);

} // namespace radiolens::ml
