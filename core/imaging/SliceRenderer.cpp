#include "core/imaging/SliceRenderer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace radiolens {

RenderedSlice renderSlice(const Volume& volume, std::size_t k, const DisplayWindow& window) {
    RenderedSlice out;
    out.width = int(volume.size()[0]);
    out.height = int(volume.size()[1]);
    const std::size_t n = volume.size()[0] * volume.size()[1];
    const PixelFormat& format = volume.format();
    if (format.components == 3) {
        out.channels = 3;
        out.pixels.resize(n * 3);
        dispatchComponent(format.component, [&](auto tag) {
            using T = decltype(tag);
            const T* p = static_cast<const T*>(volume.sliceData(k));
            // Wider than 8 bits: scale by this slice's own maximum (the volume's statistics are
            // not final while the slices are still arriving).
            double scale = 1.0;
            if (sizeof(T) > 1) {
                double peak = 1.0;
                for (std::size_t i = 0; i < n * 3; ++i) {
                    peak = std::max(peak, double(p[i]));
                }
                scale = 255.0 / peak;
            }
            for (std::size_t i = 0; i < n * 3; ++i) {
                out.pixels[i] = std::uint8_t(std::clamp(double(p[i]) * scale, 0.0, 255.0));
            }
        });
        return out;
    }
    out.pixels.resize(n);
    const double width = std::max(1.0, window.width);
    const double low = window.center - width / 2.0;
    const double gain = 255.0 / width;
    const bool invert = volume.photometric == Photometric::Monochrome1;
    dispatchComponent(format.component, [&](auto tag) {
        using T = decltype(tag);
        const T* p = static_cast<const T*>(volume.sliceData(k));
        if constexpr (sizeof(T) <= 2 && std::is_integral_v<T>) {
            // A lookup table over every possible value: one load per pixel.
            const long first = long(std::numeric_limits<T>::lowest());
            std::vector<std::uint8_t> lut(
                std::size_t(long(std::numeric_limits<T>::max()) - first + 1));
            for (std::size_t v = 0; v < lut.size(); ++v) {
                const double g = std::clamp((double(long(v) + first) - low) * gain, 0.0, 255.0);
                lut[v] = std::uint8_t(invert ? 255.0 - g + 0.5 : g + 0.5);
            }
            for (std::size_t i = 0; i < n; ++i) {
                out.pixels[i] = lut[std::size_t(long(p[i]) - first)];
            }
        } else {
            for (std::size_t i = 0; i < n; ++i) {
                const double g = std::clamp((double(p[i]) - low) * gain, 0.0, 255.0);
                out.pixels[i] = std::uint8_t(invert ? 255.0 - g + 0.5 : g + 0.5);
            }
        }
    });
    return out;
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
