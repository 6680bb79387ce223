#pragma once

#include "core/imaging/Volume.h"

#include <array>
#include <cstddef>
#include <string>

namespace radiolens {

/// Which plane of a volume a viewport shows.
///   Native:   the slices as acquired (k), shown as stored.
///   Axial, Coronal, Sagittal: the volume axis nearest to the anatomical plane's normal, with
///   the radiological display convention: axial with the patient's left on screen right and
///   anterior up; coronal with left on the right and head up; sagittal with anterior on the
///   left and head up.
enum class PlaneKind { Native, Axial, Coronal, Sagittal };

std::string toString(PlaneKind kind);

/// One image of a volume seen as a 2D array with strides, without copying: sample (x, y) of the
/// image is at `origin + x * strideX + y * strideY` (in samples of the volume's component type;
/// strides may be negative). `width` x `height` pixels of `components` samples each.
struct StridedImage {
    const void* origin = nullptr;
    std::size_t width = 0;
    std::size_t height = 0;
    std::ptrdiff_t strideX = 1; ///< samples from one pixel to the next in x
    std::ptrdiff_t strideY = 0; ///< samples from one row to the next
    PixelFormat format;

    /// Value of sample `component` of pixel (x, y) as a double.
    double value(std::size_t x, std::size_t y, int component = 0) const;
};

/// How the image axes (x to the right, y down, s through the slices) of a plane run through
/// the volume's index axes (i, j, k). Pure value; cheap to copy.
struct PlaneMapping {
    PlaneKind kind = PlaneKind::Native;
    std::array<int, 3> axis{0, 1, 2}; ///< volume axis of image x, image y, slice s
    std::array<int, 3> sign{1, 1, 1}; ///< +1: increasing image coordinate = increasing index
    std::size_t width = 0;            ///< pixels along x
    std::size_t height = 0;           ///< pixels along y
    std::size_t depth = 0;            ///< number of slices
    double spacingX = 1.0;            ///< mm between pixel centres along x
    double spacingY = 1.0;
    double spacingZ = 1.0; ///< mm between slices

    /// Volume index (i, j, k), continuous, of image point (x, y) on slice s.
    std::array<double, 3> toIndex(double x, double y, double s) const;
    /// Image point (x, y, s) of a continuous volume index.
    std::array<double, 3> fromIndex(const std::array<double, 3>& index) const;
    /// Patient position (LPS, mm) of image point (x, y) on slice s.
    Vec3 toPatient(const Volume& volume, double x, double y, double s) const;
    /// Image point (x, y, s) of a patient position (inverse of toPatient on the volume's grid).
    std::array<double, 3> fromPatient(const Volume& volume, const Vec3& point) const;
    /// Unit vectors in patient space of image +x (screen right), +y (screen down) and +s.
    Vec3 directionX(const Volume& volume) const;
    Vec3 directionY(const Volume& volume) const;
    Vec3 directionS(const Volume& volume) const;
    /// Slice s as a strided image of `volume` (no copy). `s` must be < depth.
    StridedImage image(const Volume& volume, std::size_t s) const;
};

/// The mapping of `kind` for `volume`.
PlaneMapping planeMapping(const Volume& volume, PlaneKind kind);

/// Patient position of the centre of voxel `index` (continuous) of `volume`.
Vec3 indexToPatient(const Volume& volume, const std::array<double, 3>& index);
/// Continuous voxel index of a patient position (inverse of indexToPatient).
std::array<double, 3> patientToIndex(const Volume& volume, const Vec3& point);

} // namespace radiolens
