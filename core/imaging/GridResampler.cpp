#include "core/imaging/GridResampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

namespace radiolens {

namespace {

template <typename T>
T roundTo(double v) {
    if constexpr (std::is_integral_v<T>) {
        const double lo = double(std::numeric_limits<T>::lowest());
        const double hi = double(std::numeric_limits<T>::max());
        return T(std::clamp(std::nearbyint(v), lo, hi));
    } else {
        return T(v);
    }
}

struct SourcePlane {
    double depth = 0.0; ///< position along the normal (mm)
    double du = 0.0;    ///< in-plane shift along i relative to the first slice (mm)
    double dv = 0.0;    ///< in-plane shift along j (mm)
};

} // namespace

std::shared_ptr<Volume> GridResampler::resample(const Volume& input) const {
    const auto& size = input.size();
    if (input.slicePositions.size() != size[2] || size[2] < 2) {
        throw std::invalid_argument(
            "resampling needs two or more slices with positions from their files");
    }
    const Vec3 u = input.direction.i;
    const Vec3 v = input.direction.j;
    const Vec3 n = normalized(cross(u, v));
    const Vec3 p0 = input.slicePositions.front();

    std::vector<SourcePlane> planes(size[2]);
    for (std::size_t s = 0; s < size[2]; ++s) {
        const Vec3 d = input.slicePositions[s] - p0;
        planes[s] = {dot(input.slicePositions[s], n), dot(d, u), dot(d, v)};
    }
    for (std::size_t s = 1; s < planes.size(); ++s) {
        if (!(planes[s].depth > planes[s - 1].depth)) {
            throw std::invalid_argument(
                "resampling needs slices in increasing, distinct positions");
        }
    }

    double spacing = m_sliceSpacing;
    if (spacing <= 0.0) {
        std::vector<double> gaps;
        for (std::size_t s = 1; s < planes.size(); ++s) {
            gaps.push_back(planes[s].depth - planes[s - 1].depth);
        }
        std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
        spacing = gaps[gaps.size() / 2];
    }

    // The output in-plane extent covers every shifted slice.
    double uMin = 0, uMax = 0, vMin = 0, vMax = 0;
    for (const auto& plane : planes) {
        uMin = std::min(uMin, plane.du);
        uMax = std::max(uMax, plane.du);
        vMin = std::min(vMin, plane.dv);
        vMax = std::max(vMax, plane.dv);
    }
    const double sx = input.spacing.x;
    const double sy = input.spacing.y;
    const auto extra = [](double range, double step) {
        return std::size_t(std::ceil(range / step - 1e-6));
    };
    const std::size_t nx = size[0] + extra(uMax - uMin, sx);
    const std::size_t ny = size[1] + extra(vMax - vMin, sy);
    const double depth0 = planes.front().depth;
    const double depthSpan = planes.back().depth - depth0;
    const std::size_t nz = std::size_t(std::floor(depthSpan / spacing + 1e-6)) + 1;

    auto output = std::make_shared<Volume>(input.format(), std::array<std::size_t, 3>{nx, ny, nz});
    copyVolumeMetadata(input, *output);
    output->direction = {u, v, n};
    output->spacing = {sx, sy, spacing};
    output->origin = p0 + u * uMin + v * vMin;
    output->slicePositions.clear();
    for (std::size_t t = 0; t < nz; ++t) {
        output->slicePositions.push_back(output->indexToPoint(0, 0, double(t)));
    }
    output->geometry.resampled = true;
    output->sliceFiles.clear(); // resampled slices come from no single file
    output->sliceFrames.clear();

    const int components = input.format().components;
    const double fill = input.statistics.count > 0 ? input.statistics.min : 0.0;

    dispatchComponent(input.format().component, [&](auto tag) {
        using T = decltype(tag);
        const T* src = static_cast<const T*>(input.data());
        T* dst = static_cast<T*>(output->data());
        const std::size_t inRow = size[0] * std::size_t(components);
        const std::size_t inSlice = inRow * size[1];
        const std::size_t outRow = nx * std::size_t(components);
        const std::size_t outSlice = outRow * ny;

        // Bilinear sample of source slice s at in-plane position (x, y) in input pixels; false
        // outside.
        auto sample = [&](std::size_t s, double x, double y, int c, double& out) {
            if (x < 0.0 || y < 0.0 || x > double(size[0] - 1) || y > double(size[1] - 1)) {
                return false;
            }
            const std::size_t x0 = std::min(std::size_t(x), size[0] - 1);
            const std::size_t y0 = std::min(std::size_t(y), size[1] - 1);
            const std::size_t x1 = std::min(x0 + 1, size[0] - 1);
            const std::size_t y1 = std::min(y0 + 1, size[1] - 1);
            const double fx = x - double(x0);
            const double fy = y - double(y0);
            const T* base = src + s * inSlice;
            const auto at = [&](std::size_t xi, std::size_t yi) {
                return double(base[yi * inRow + xi * std::size_t(components) + std::size_t(c)]);
            };
            out = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) +
                  (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
            return true;
        };

        auto work = [&](std::size_t tBegin, std::size_t tEnd) {
            std::size_t s = 0;
            for (std::size_t t = tBegin; t < tEnd; ++t) {
                const double depth = std::min(depth0 + double(t) * spacing, planes.back().depth);
                while (s + 2 < planes.size() && planes[s + 1].depth < depth) {
                    ++s;
                }
                const double w =
                    (depth - planes[s].depth) / (planes[s + 1].depth - planes[s].depth);
                T* out = dst + t * outSlice;
                for (std::size_t j = 0; j < ny; ++j) {
                    const double yMm = vMin + double(j) * sy;
                    for (std::size_t i = 0; i < nx; ++i) {
                        const double xMm = uMin + double(i) * sx;
                        for (int c = 0; c < components; ++c) {
                            double a = 0.0, b = 0.0;
                            const bool hasA = sample(s, (xMm - planes[s].du) / sx,
                                                     (yMm - planes[s].dv) / sy, c, a);
                            const bool hasB = sample(s + 1, (xMm - planes[s + 1].du) / sx,
                                                     (yMm - planes[s + 1].dv) / sy, c, b);
                            // Only points both neighbouring slices cover are inside: a value
                            // taken from one slice alone would sit at the wrong depth.
                            const double value = hasA && hasB ? a * (1 - w) + b * w : fill;
                            out[j * outRow + i * std::size_t(components) + std::size_t(c)] =
                                roundTo<T>(value);
                        }
                    }
                }
            }
        };
        const unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
        std::vector<std::thread> pool;
        const std::size_t chunk = (nz + threads - 1) / threads;
        for (unsigned w = 1; w < threads; ++w) {
            const std::size_t b = std::min(nz, w * chunk);
            const std::size_t e = std::min(nz, b + chunk);
            if (b < e) {
                pool.emplace_back(work, b, e);
            }
        }
        work(0, std::min(nz, chunk));
        for (auto& thread : pool) {
            thread.join();
        }
    });
    output->statistics = computeStatistics(*output);
    return output;
}

} // namespace radiolens
