#pragma once

#include "core/domain/Geometry.h"
#include "core/domain/PixelFormat.h"
#include "core/imaging/PixelBuffer.h"

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace radiolens {

/// A display window from the file or a preset: centre and width in output units (HU for CT).
struct WindowPreset {
    double center = 0.0;
    double width = 0.0;
    std::string name;
};

/// Minimum, maximum and mean of every sample of an image, in output units.
struct ValueStatistics {
    double min = 0.0;
    double max = 0.0;
    double mean = 0.0;
    std::size_t count = 0;
};

/// What the slice positions of a series say about its grid, in millimetres and degrees.
struct GeometryReport {
    /// Angle between the direction slices are stacked along and the slice normal (gantry
    /// tilt, or any sheared stack). Zero for a single slice.
    double tiltDegrees = 0.0;
    bool tilted = false;
    /// Distances between consecutive slice planes, along the normal (mm); n-1 values.
    std::vector<double> gaps;
    /// Distances between consecutive slice positions (mm); n-1 values. Equal to `gaps` unless
    /// the stack is tilted (then they are the table steps).
    std::vector<double> steps;
    double minGap = 0.0;
    double maxGap = 0.0;
    double nominalGap = 0.0; ///< the most common gap, the spacing the series was meant to have
    bool irregular = false;  ///< gaps differ by more than 1% (and 0.01 mm) from each other
    /// Indices k where the gap between slice k and k+1 is about twice the nominal or more:
    /// slices seem to be missing there.
    std::vector<int> missingAfter;
    bool resampled = false;          ///< the voxels were resampled onto a regular grid
    bool hasPatientGeometry = false; ///< positions and orientation came from the file
};

/// An image or volume in patient space with exact values: the decoded pixels after the
/// modality rescale (HU for CT), one buffer, x fastest.
///
/// Geometry follows ITK: `origin` is the centre of the first voxel (LPS, mm), `spacing` is
/// (column spacing, row spacing, slice spacing) in mm, `direction` holds the unit vectors of
/// the i, j, k axes. For a tilted or irregular stack the per-slice `slicePositions` are the
/// truth and the regular grid is an approximation (see `geometry`); GridResampler turns such a
/// series into a true regular grid.
///
/// A Volume is filled by one loader and then shared read-only (std::shared_ptr<const Volume>)
/// between threads. While a loader fills it, slice k may be read once the loader has said that
/// slice k is ready.
class Volume {
public:
    Volume(PixelFormat format, std::array<std::size_t, 3> size);
    /// Wraps an existing buffer of at least format.bytesPerPixel() * voxelCount() bytes.
    Volume(PixelFormat format, std::array<std::size_t, 3> size,
           std::shared_ptr<PixelBuffer> buffer);

    const PixelFormat& format() const { return m_format; }
    const std::array<std::size_t, 3>& size() const { return m_size; }
    std::size_t voxelCount() const { return m_size[0] * m_size[1] * m_size[2]; }
    std::size_t sliceBytes() const { return m_size[0] * m_size[1] * m_format.bytesPerPixel(); }
    std::size_t byteSize() const { return sliceBytes() * m_size[2]; }
    bool is2D() const { return m_size[2] == 1; }

    void* data() { return m_buffer->data(); }
    const void* data() const { return m_buffer->data(); }
    void* sliceData(std::size_t k) { return static_cast<char*>(data()) + k * sliceBytes(); }
    const void* sliceData(std::size_t k) const {
        return static_cast<const char*>(data()) + k * sliceBytes();
    }
    const std::shared_ptr<PixelBuffer>& buffer() const { return m_buffer; }

    /// Value of sample `component` of voxel (i, j, k) as a double.
    double value(std::size_t i, std::size_t j, std::size_t k, int component = 0) const;

    // Geometry, in LPS millimetres.
    Vec3 spacing{1, 1, 1};
    Vec3 origin;
    Direction direction;
    /// Position (centre of the first pixel) of each slice as stored in its file; empty when
    /// the files carry no position.
    std::vector<Vec3> slicePositions;
    GeometryReport geometry;

    /// Patient position (mm) of the centre of voxel (i, j, k) on the regular grid.
    Vec3 indexToPoint(double i, double j, double k) const;

    // How to show it.
    Photometric photometric = Photometric::Monochrome2;
    std::vector<WindowPreset> windows; ///< from the file, first is the default
    std::string modality;              ///< CT, MR, CR, DX, ...
    std::string units;                 ///< "HU" for CT, empty when unitless
    /// Where the in-plane spacing came from: "PixelSpacing", "ImagerPixelSpacing (at the
    /// detector)", "none (1 mm assumed)".
    std::string pixelSpacingSource;

    ValueStatistics statistics;
    std::vector<std::string> warnings;
    std::string seriesInstanceUid;
    std::string description;

    // Who and what, for the corner overlays (UTF-8, DICOM formats: dates YYYYMMDD, names with
    // '^' between components).
    std::string patientName;
    std::string patientId;
    std::string patientBirthDate;
    std::string patientSex;
    std::string studyInstanceUid;
    std::string studyDescription;
    std::string studyDate;
    int seriesNumber = 0;
    /// The file each slice came from, and its frame within that file (for the tag browser);
    /// empty for volumes not made from files.
    std::vector<std::string> sliceFiles;
    std::vector<int> sliceFrames;

private:
    PixelFormat m_format;
    std::array<std::size_t, 3> m_size;
    std::shared_ptr<PixelBuffer> m_buffer;
};

/// Copies everything but the pixels (geometry, presentation, warnings) from `from` to `to`.
void copyVolumeMetadata(const Volume& from, Volume& to);

/// Computes minimum, maximum and mean over all samples of `volume`.
ValueStatistics computeStatistics(const Volume& volume);

} // namespace radiolens
