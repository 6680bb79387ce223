#pragma once

#include "core/domain/ModelCard.h"
#include "core/ml/ImageDataset.h"

#include <string>

namespace radiolens {

/// Every image (frame) of the DICOM file `path` as the model's input (modelInput: windowed as
/// the card says, MONOCHROME1 inverted, 8-bit, channels first, in the image's own pixel
/// geometry). Throws std::runtime_error with the reason when the file cannot be read or the
/// card does not accept it (another modality or channel count).
ImageSplit dicomModelInput(const std::string& path, const ModelCard& card);

} // namespace radiolens
