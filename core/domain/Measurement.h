#pragma once

#include "core/domain/Geometry.h"

#include <cstdint>
#include <string>
#include <vector>

namespace radiolens {

enum class MeasurementKind { Distance, Angle, Rectangle, Ellipse };

/// A measurement a reader drew, kept with its study. Points are in patient coordinates (LPS,
/// mm), so a measurement does not depend on how the series is displayed (zoom, MPR plane):
///   Distance:  2 points (the two ends);
///   Angle:     3 points (first arm end, vertex, second arm end);
///   Rectangle, Ellipse: 2 points, opposite corners of the bounding box in the drawing plane,
///              whose in-plane axes are `axisU` (screen right) and `axisV` (screen down).
/// Values (mm, HU statistics) are computed from the image, not stored.
struct Measurement {
    std::int64_t id = 0; ///< store id; 0 until saved
    std::string studyInstanceUid;
    std::string seriesInstanceUid;
    MeasurementKind kind = MeasurementKind::Distance;
    std::vector<Vec3> points;
    Vec3 axisU{1, 0, 0};
    Vec3 axisV{0, 1, 0};
    std::string label;
    std::int64_t createdAt = 0; ///< seconds since 1970 (UTC)
};

/// "distance", "angle", "rectangle", "ellipse"
std::string toString(MeasurementKind kind);
/// Parses toString's names; false for anything else.
bool parseMeasurementKind(const std::string& text, MeasurementKind& kind);
/// Points the kind needs (2 or 3).
std::size_t pointCount(MeasurementKind kind);

/// A study the user opened, for File > Recent Studies.
struct RecentStudy {
    std::vector<std::string> paths; ///< what was opened: files, folders or a DICOMDIR
    std::string label;              ///< e.g. "Doe, Jane - CT head - 2026-11-24"
    std::int64_t openedAt = 0;      ///< seconds since 1970 (UTC)
};

} // namespace radiolens
