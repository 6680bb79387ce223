#pragma once

#include "core/domain/Measurement.h"
#include "core/imaging/PlaneView.h"
#include "core/imaging/RoiStatistics.h"
#include "core/imaging/Volume.h"

#include <optional>
#include <string>

namespace radiolens {

/// What a measurement reads on its volume.
struct MeasurementValue {
    double lengthMm = 0.0; ///< distance: between the two points, in patient space
    double angleDegrees = 0.0;
    std::optional<RoiStatistics> roi;    ///< rectangle / ellipse: statistics on its slice
    PlaneKind plane = PlaneKind::Native; ///< plane it was drawn on
    int slice = -1;                      ///< slice of that plane it lies on (-1: off the volume)
};

/// The plane of `volume` whose in-plane axes are `u` and `v` (within 1 degree, either sign);
/// nullopt when none is (an oblique drawing plane).
std::optional<PlaneMapping> drawingPlane(const Volume& volume, const Vec3& u, const Vec3& v);

/// Measures `m` on `volume`: distances and angles in patient space (mm, degrees); rectangle and
/// ellipse statistics over the pixels of the slice they were drawn on.
MeasurementValue measure(const Volume& volume, const Measurement& m);

/// "23.4 mm", "47.2°", "mean 40.1 HU, SD 3.0, min 30 / max 52, 120.5 mm²".
std::string describe(const Measurement& m, const MeasurementValue& value, const std::string& units);

} // namespace radiolens
