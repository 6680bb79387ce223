#pragma once

#include "core/domain/ModelCard.h"
#include "core/imaging/SliceRenderer.h"
#include "core/imaging/Volume.h"
#include "core/ml/ImageDataset.h"

#include <string>

namespace radiolens {

/// Why a model cannot read `volume`: its modality is not one the card accepts, or its channel
/// count is another. Empty when it can. Names the modality and what the card accepts.
std::string modelRefusal(const Volume& volume, const ModelCard& card);

/// Native slices first .. first + count - 1 of `volume` as the model's input: each rendered as
/// a reader sees it (MONOCHROME1 inverted), through the card's window when its preprocessing
/// is "window", else through the file's window (or a robust automatic one); 8-bit, channels
/// first, in the slice's own pixel geometry (the model resizes). Pure; any thread.
ImageSplit modelInput(const Volume& volume, std::size_t first, std::size_t count,
                      const ModelCard& card);

/// An 8-bit rendering as a one-image split (channels first).
ImageSplit toImageSplit(const RenderedSlice& picture);

/// Image `index` of `images` as a split of its own (label 0).
ImageSplit imageOf(const ImageSplit& images, std::size_t index);

/// Image `index` of `images` resized to `size` x `size` pixels with `channels` channels
/// (channels first; a grey image is copied into every channel): the mean of the covered source
/// pixels when shrinking, bilinear when enlarging. For datasets, whose images share one size.
std::vector<std::uint8_t> squarePixels(const ImageSplit& images, std::size_t index, int size,
                                       int channels);

} // namespace radiolens
