#include "core/imaging/SliceRenderer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace radiolens {

RenderedSlice renderImage(const StridedImage& image, const DisplayWindow& window, bool invert) {
    RenderedSlice out;
    out.width = int(image.width);
    out.height = int(image.height);
    const std::size_t w = image.width, h = image.height;
    if (image.format.components == 3) {
        out.channels = 3;
        out.pixels.resize(w * h * 3);
        dispatchComponent(image.format.component, [&](auto tag) {
            using T = decltype(tag);
            const T* base = static_cast<const T*>(image.origin);
            // Wider than 8 bits: scale by this image's own maximum.
            double scale = 1.0;
            if (sizeof(T) > 1) {
                double peak = 1.0;
                for (std::size_t y = 0; y < h; ++y) {
                    for (std::size_t x = 0; x < w; ++x) {
                        const T* p = base + std::ptrdiff_t(y) * image.strideY +
                                     std::ptrdiff_t(x) * image.strideX;
                        peak = std::max({peak, double(p[0]), double(p[1]), double(p[2])});
                    }
                }
                scale = 255.0 / peak;
            }
            std::uint8_t* o = out.pixels.data();
            for (std::size_t y = 0; y < h; ++y) {
                for (std::size_t x = 0; x < w; ++x) {
                    const T* p = base + std::ptrdiff_t(y) * image.strideY +
                                 std::ptrdiff_t(x) * image.strideX;
                    for (int c = 0; c < 3; ++c) {
                        *o++ = std::uint8_t(std::clamp(double(p[c]) * scale, 0.0, 255.0));
                    }
                }
            }
        });
        return out;
    }
    out.pixels.resize(w * h);
    const double width = std::max(1.0, window.width);
    const double low = window.center - width / 2.0;
    const double gain = 255.0 / width;
    dispatchComponent(image.format.component, [&](auto tag) {
        using T = decltype(tag);
        const T* base = static_cast<const T*>(image.origin);
        std::uint8_t* o = out.pixels.data();
        if constexpr (sizeof(T) <= 2 && std::is_integral_v<T>) {
            // A lookup table over every possible value: one load per pixel.
            const long first = long(std::numeric_limits<T>::lowest());
            thread_local std::vector<std::uint8_t> lut;
            lut.resize(std::size_t(long(std::numeric_limits<T>::max()) - first + 1));
            for (std::size_t v = 0; v < lut.size(); ++v) {
                const double g = std::clamp((double(long(v) + first) - low) * gain, 0.0, 255.0);
                lut[v] = std::uint8_t(invert ? 255.0 - g + 0.5 : g + 0.5);
            }
            const std::uint8_t* table = lut.data() - first;
            for (std::size_t y = 0; y < h; ++y) {
                const T* row = base + std::ptrdiff_t(y) * image.strideY;
                if (image.strideX == 1) {
                    for (std::size_t x = 0; x < w; ++x) {
                        *o++ = table[long(row[x])];
                    }
                } else {
                    for (std::size_t x = 0; x < w; ++x) {
                        *o++ = table[long(row[std::ptrdiff_t(x) * image.strideX])];
                    }
                }
            }
        } else {
            for (std::size_t y = 0; y < h; ++y) {
                const T* row = base + std::ptrdiff_t(y) * image.strideY;
                for (std::size_t x = 0; x < w; ++x) {
                    const double g = std::clamp(
                        (double(row[std::ptrdiff_t(x) * image.strideX]) - low) * gain, 0.0, 255.0);
                    *o++ = std::uint8_t(invert ? 255.0 - g + 0.5 : g + 0.5);
                }
            }
        }
    });
    return out;
}

RenderedSlice renderSlice(const Volume& volume, std::size_t k, const DisplayWindow& window) {
    const PlaneMapping native = planeMapping(volume, PlaneKind::Native);
    return renderImage(native.image(volume, k), window,
                       volume.photometric == Photometric::Monochrome1);
}

DisplayWindow defaultWindow(const Volume& volume, std::size_t k) {
    if (!volume.windows.empty()) {
        return {volume.windows.front().center, volume.windows.front().width};
    }
    const std::size_t n =
        volume.size()[0] * volume.size()[1] * std::size_t(volume.format().components);
    std::vector<double> sample;
    const std::size_t step = std::max<std::size_t>(1, n / 65536);
    sample.reserve(n / step + 1);
    dispatchComponent(volume.format().component, [&](auto tag) {
        using T = decltype(tag);
        const T* p = static_cast<const T*>(volume.sliceData(k));
        for (std::size_t i = 0; i < n; i += step) {
            sample.push_back(double(p[i]));
        }
    });
    if (sample.empty()) {
        return {};
    }
    std::sort(sample.begin(), sample.end());
    const double lo = sample[sample.size() / 100];
    const double hi = sample[sample.size() - 1 - sample.size() / 100];
    return {(lo + hi) / 2.0, std::max(1.0, hi - lo)};
}

} // namespace radiolens
