#include "core/ml/ModelInput.h"

#include <algorithm>
#include <stdexcept>

namespace radiolens {

std::string modelRefusal(const Volume& volume, const ModelCard& card) {
    const std::vector<std::string>& accepted = card.input.modalities;
    if (!accepted.empty() &&
        std::find(accepted.begin(), accepted.end(), volume.modality) == accepted.end()) {
        std::string list;
        for (const std::string& m : accepted) {
            list += (list.empty() ? "" : ", ") + m;
        }
        return "modality " + (volume.modality.empty() ? std::string("(none)") : volume.modality) +
               " is not one the model accepts (" + list + ")";
    }
    const int channels = volume.format().components;
    if (channels != card.input.channels) {
        return "the model takes " + std::to_string(card.input.channels) +
               "-channel images; this image has " + std::to_string(channels);
    }
    return {};
}

ImageSplit toImageSplit(const RenderedSlice& picture) {
    ImageSplit split;
    split.count = 1;
    split.channels = std::size_t(picture.channels);
    split.width = std::size_t(picture.width);
    split.height = std::size_t(picture.height);
    split.labels = {0};
    const std::size_t plane = split.width * split.height;
    split.pixels.resize(plane * split.channels);
    for (std::size_t p = 0; p < plane; ++p) {
        for (std::size_t c = 0; c < split.channels; ++c) {
            split.pixels[c * plane + p] = picture.pixels[p * split.channels + c];
        }
    }
    return split;
}

ImageSplit modelInput(const Volume& volume, std::size_t first, std::size_t count,
                      const ModelCard& card) {
    if (first + count > volume.size()[2]) {
        throw std::out_of_range("modelInput: slices beyond the volume");
    }
    ImageSplit split;
    split.count = count;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t k = first + i;
        const DisplayWindow window =
            card.input.preprocessing == "window"
                ? DisplayWindow{card.input.windowCenter, card.input.windowWidth}
                : defaultWindow(volume, k);
        const ImageSplit one = toImageSplit(renderSlice(volume, k, window));
        if (i == 0) {
            split.channels = one.channels;
            split.height = one.height;
            split.width = one.width;
            split.pixels.reserve(count * one.pixels.size());
        }
        split.pixels.insert(split.pixels.end(), one.pixels.begin(), one.pixels.end());
        split.labels.push_back(0);
    }
    return split;
}

} // namespace radiolens
