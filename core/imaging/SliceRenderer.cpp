#include "core/imaging/SliceRenderer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace radiolens {

void renderImageInto(const StridedImage& image, const DisplayWindow& window, bool invert,
                     std::uint8_t* out, std::size_t rowBytes) {
    const std::size_t w = image.width, h = image.height;
    if (image.format.components == 3) {
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
            for (std::size_t y = 0; y < h; ++y) {
                std::uint8_t* o = out + y * rowBytes;
                for (std::size_t x = 0; x < w; ++x) {
                    const T* p = base + std::ptrdiff_t(y) * image.strideY +
                                 std::ptrdiff_t(x) * image.strideX;
                    for (int c = 0; c < 3; ++c) {
                        *o++ = std::uint8_t(std::clamp(double(p[c]) * scale, 0.0, 255.0));
                    }
                }
            }
        });
        return;
    }
    const double width = std::max(1.0, window.width);
    const double low = window.center - width / 2.0;
    const double gain = 255.0 / width;
    dispatchComponent(image.format.component, [&](auto tag) {
        using T = decltype(tag);
        const T* base = static_cast<const T*>(image.origin);
        if constexpr (sizeof(T) <= 2 && std::is_integral_v<T>) {
            // A lookup table over every possible value: one load per pixel. Rebuilt only when
            // the window changes.
            const long first = long(std::numeric_limits<T>::lowest());
            thread_local std::vector<std::uint8_t> lut;
            thread_local double lutLow = 0.0, lutGain = -1.0;
            thread_local bool lutInvert = false;
            thread_local long lutFirst = 1;
            const std::size_t size = std::size_t(long(std::numeric_limits<T>::max()) - first + 1);
            if (lut.size() != size || lutLow != low || lutGain != gain || lutInvert != invert ||
                lutFirst != first) {
                lut.resize(size);
                for (std::size_t v = 0; v < size; ++v) {
                    const double g = std::clamp((double(long(v) + first) - low) * gain, 0.0, 255.0);
                    lut[v] = std::uint8_t(invert ? 255.0 - g + 0.5 : g + 0.5);
                }
                lutLow = low;
                lutGain = gain;
                lutInvert = invert;
                lutFirst = first;
            }
            const std::uint8_t* table = lut.data() - first;
            for (std::size_t y = 0; y < h; ++y) {
                const T* row = base + std::ptrdiff_t(y) * image.strideY;
                std::uint8_t* o = out + y * rowBytes;
                if (image.strideX == 1) {
                    for (std::size_t x = 0; x < w; ++x) {
                        o[x] = table[long(row[x])];
                    }
                } else {
                    for (std::size_t x = 0; x < w; ++x) {
                        o[x] = table[long(row[std::ptrdiff_t(x) * image.strideX])];
                    }
                }
            }
        } else {
            for (std::size_t y = 0; y < h; ++y) {
                const T* row = base + std::ptrdiff_t(y) * image.strideY;
                std::uint8_t* o = out + y * rowBytes;
                for (std::size_t x = 0; x < w; ++x) {
                    const double g = std::clamp(
                        (double(row[std::ptrdiff_t(x) * image.strideX]) - low) * gain, 0.0, 255.0);
                    o[x] = std::uint8_t(invert ? 255.0 - g + 0.5 : g + 0.5);
                }
            }
        }
    });
}

RenderedSlice renderImage(const StridedImage& image, const DisplayWindow& window, bool invert) {
    RenderedSlice out;
    out.width = int(image.width);
    out.height = int(image.height);
    out.channels = image.format.components == 3 ? 3 : 1;
    const std::size_t rowBytes = image.width * std::size_t(out.channels);
    out.pixels.resize(rowBytes * image.height);
    renderImageInto(image, window, invert, out.pixels.data(), rowBytes);
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
