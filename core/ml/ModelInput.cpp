#include "core/ml/ModelInput.h"

#include <algorithm>
#include <cmath>
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

ImageSplit imageOf(const ImageSplit& images, std::size_t index) {
    ImageSplit one;
    one.count = 1;
    one.channels = images.channels;
    one.height = images.height;
    one.width = images.width;
    one.labels = {0};
    const auto first = images.pixels.begin() + std::ptrdiff_t(index * images.imageBytes());
    one.pixels.assign(first, first + std::ptrdiff_t(images.imageBytes()));
    return one;
}

std::vector<std::uint8_t> squarePixels(const ImageSplit& images, std::size_t index, int size,
                                       int channels) {
    const int w = int(images.width), h = int(images.height);
    const std::size_t plane = images.width * images.height;
    const std::uint8_t* pixels = images.pixels.data() + index * images.imageBytes();
    std::vector<std::uint8_t> out(std::size_t(channels) * std::size_t(size) * std::size_t(size));
    const double sx = double(w) / size, sy = double(h) / size;
    for (int c = 0; c < channels; ++c) {
        const std::uint8_t* source =
            pixels + std::size_t(std::min(c, int(images.channels) - 1)) * plane;
        const auto at = [&](int x, int y) {
            return double(source[std::size_t(y) * std::size_t(w) + std::size_t(x)]);
        };
        for (int y = 0; y < size; ++y) {
            for (int x = 0; x < size; ++x) {
                double value = 0.0;
                if (sx > 1.0 || sy > 1.0) {
                    // Shrinking: the mean of the source pixels the output pixel covers.
                    const int x0 = int(x * sx), x1 = std::max(x0 + 1, int((x + 1) * sx));
                    const int y0 = int(y * sy), y1 = std::max(y0 + 1, int((y + 1) * sy));
                    double sum = 0.0;
                    int n = 0;
                    for (int yy = y0; yy < std::min(y1, h); ++yy) {
                        for (int xx = x0; xx < std::min(x1, w); ++xx) {
                            sum += at(xx, yy);
                            ++n;
                        }
                    }
                    value = n ? sum / n : 0.0;
                } else {
                    // Enlarging: bilinear.
                    const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, double(w - 1));
                    const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, double(h - 1));
                    const int x0 = int(fx), y0 = int(fy);
                    const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
                    const double ax = fx - x0, ay = fy - y0;
                    value = (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) +
                            ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
                }
                out[(std::size_t(c) * std::size_t(size) + std::size_t(y)) * std::size_t(size) +
                    std::size_t(x)] = std::uint8_t(std::lround(std::clamp(value, 0.0, 255.0)));
            }
        }
    }
    return out;
}

} // namespace radiolens
