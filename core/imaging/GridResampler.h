#pragma once

#include "core/imaging/Volume.h"

#include <memory>

namespace radiolens {

/// Resamples a stack of parallel slices whose positions are not a regular grid (gantry tilt,
/// irregular or missing slices) onto a regular grid in patient space.
///
/// The output keeps the slices' in-plane axes and pixel spacing, uses the slice normal as its
/// third axis, and spans every input slice: its in-plane extent grows to hold the sheared stack
/// of a tilted series. Each output voxel is the bilinear value in the two input slices around
/// it, blended linearly along the normal, so millimetres are exact to interpolation.
/// Voxels outside the input (not covered by both slices around them) get `statistics.min` of
/// the input (air for CT).
class GridResampler {
public:
    /// `sliceSpacing` in mm; 0 picks the median gap between input slices.
    explicit GridResampler(double sliceSpacing = 0.0)
        : m_sliceSpacing(sliceSpacing) {}

    /// Needs `input.slicePositions` (one per slice, sorted along the normal) and at least two
    /// slices. Integer values are rounded to the nearest integer. Throws std::invalid_argument
    /// when the input has no slice positions.
    std::shared_ptr<Volume> resample(const Volume& input) const;

private:
    double m_sliceSpacing;
};

} // namespace radiolens
