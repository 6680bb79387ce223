#include "core/ml/DicomModelInput.h"

#include "core/dicom/SeriesLoader.h"
#include "core/ml/ModelInput.h"

#include <stdexcept>

namespace radiolens {

ImageSplit dicomModelInput(const std::string& path, const ModelCard& card) {
    SeriesLoadOptions options;
    options.instance = 0;
    const SeriesLoadResult result = SeriesLoader(options).load({path});
    if (!result.ok()) {
        throw std::runtime_error(result.error);
    }
    const Volume& volume = *result.volume;
    if (const std::string refusal = modelRefusal(volume, card); !refusal.empty()) {
        throw std::runtime_error(refusal);
    }
    return modelInput(volume, 0, volume.size()[2], card);
}

} // namespace radiolens
