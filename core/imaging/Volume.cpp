#include "core/imaging/Volume.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace radiolens {

Volume::Volume(PixelFormat format, std::array<std::size_t, 3> size)
    : Volume(format, size,
             PixelBuffer::allocate(size[0] * size[1] * size[2] * format.bytesPerPixel())) {}

Volume::Volume(PixelFormat format, std::array<std::size_t, 3> size,
               std::shared_ptr<PixelBuffer> buffer)
    : m_format(format)
    , m_size(size)
    , m_buffer(std::move(buffer)) {
    if (!m_buffer || m_buffer->size() < byteSize()) {
        throw std::invalid_argument("Volume: pixel buffer smaller than the image");
    }
}

double Volume::value(std::size_t i, std::size_t j, std::size_t k, int component) const {
    const std::size_t index =
        ((k * m_size[1] + j) * m_size[0] + i) * std::size_t(m_format.components) +
        std::size_t(component);
    return dispatchComponent(m_format.component, [&](auto tag) {
        using T = decltype(tag);
        return double(static_cast<const T*>(data())[index]);
    });
}

Vec3 Volume::indexToPoint(double i, double j, double k) const {
    return origin + direction.i * (i * spacing.x) + direction.j * (j * spacing.y) +
           direction.k * (k * spacing.z);
}

void copyVolumeMetadata(const Volume& from, Volume& to) {
    to.spacing = from.spacing;
    to.origin = from.origin;
    to.direction = from.direction;
    to.slicePositions = from.slicePositions;
    to.geometry = from.geometry;
    to.photometric = from.photometric;
    to.windows = from.windows;
    to.modality = from.modality;
    to.units = from.units;
    to.pixelSpacingSource = from.pixelSpacingSource;
    to.statistics = from.statistics;
    to.warnings = from.warnings;
    to.seriesInstanceUid = from.seriesInstanceUid;
    to.description = from.description;
    to.patientName = from.patientName;
    to.patientId = from.patientId;
    to.patientBirthDate = from.patientBirthDate;
    to.patientSex = from.patientSex;
    to.studyInstanceUid = from.studyInstanceUid;
    to.studyDescription = from.studyDescription;
    to.studyDate = from.studyDate;
    to.seriesNumber = from.seriesNumber;
    to.sliceFiles = from.sliceFiles;
    to.sliceFrames = from.sliceFrames;
}

ValueStatistics computeStatistics(const Volume& volume) {
    ValueStatistics stats;
    const std::size_t n = volume.voxelCount() * std::size_t(volume.format().components);
    if (n == 0) {
        return stats;
    }
    dispatchComponent(volume.format().component, [&](auto tag) {
        using T = decltype(tag);
        const T* p = static_cast<const T*>(volume.data());
        T lo = p[0];
        T hi = p[0];
        double sum = 0.0;
        // Sum per block in a wide integer (or double) to keep the mean exact and fast.
        constexpr std::size_t block = 1 << 16;
        for (std::size_t start = 0; start < n; start += block) {
            const std::size_t end = std::min(n, start + block);
            std::conditional_t<std::is_floating_point_v<T>, double, long long> partial = 0;
            for (std::size_t idx = start; idx < end; ++idx) {
                const T v = p[idx];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
                partial += v;
            }
            sum += double(partial);
        }
        stats.min = double(lo);
        stats.max = double(hi);
        stats.mean = sum / double(n);
    });
    stats.count = n;
    return stats;
}

} // namespace radiolens
