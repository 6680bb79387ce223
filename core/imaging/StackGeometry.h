#pragma once

#include "core/domain/Geometry.h"
#include "core/imaging/Volume.h"

#include <cstddef>
#include <string>
#include <vector>

namespace radiolens {

/// How a stack of parallel slices lies in space, from their positions alone.
struct StackAnalysis {
    /// Indices into the input, sorted by position along the slice normal (ascending); slices
    /// repeating a position already taken are left out (see `repeated`).
    std::vector<std::size_t> order;
    /// Inputs left out because another slice is at the same position (phases, echoes).
    std::vector<std::size_t> repeated;
    Vec3 normal;              ///< row x column, unit length
    double meanSpacing = 0.0; ///< (last - first) / (n - 1) along the normal, mm
    GeometryReport report;
    std::vector<std::string> warnings; ///< tilt, gaps, missing slices, repeats, in words
};

/// Sorts slices by their position along the normal of (row, column) - never by file name or
/// instance number - and measures what makes the stack irregular: gantry tilt (the stack is
/// sheared: it runs along a direction other than the normal), gaps that differ, gaps that look
/// like missing slices. `pixelSpacing` (mm) decides whether a shear is visible (more than half a
/// pixel across the stack). Positions within 1 um along the normal count as repeated.
StackAnalysis analyseStack(const std::vector<Vec3>& positions, const Vec3& row, const Vec3& column,
                           double pixelSpacing);

} // namespace radiolens
