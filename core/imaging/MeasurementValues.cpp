#include "core/imaging/MeasurementValues.h"

#include <cmath>
#include <cstdio>

namespace radiolens {

std::optional<PlaneMapping> drawingPlane(const Volume& volume, const Vec3& u, const Vec3& v) {
    const double limit = std::cos(M_PI / 180.0);
    for (PlaneKind kind :
         {PlaneKind::Native, PlaneKind::Axial, PlaneKind::Coronal, PlaneKind::Sagittal}) {
        const PlaneMapping m = planeMapping(volume, kind);
        if (std::abs(dot(m.directionX(volume), normalized(u))) >= limit &&
            std::abs(dot(m.directionY(volume), normalized(v))) >= limit) {
            return m;
        }
    }
    return std::nullopt;
}

MeasurementValue measure(const Volume& volume, const Measurement& m) {
    MeasurementValue out;
    if (m.points.size() < pointCount(m.kind)) {
        return out;
    }
    const auto plane = drawingPlane(volume, m.axisU, m.axisV);
    if (plane) {
        out.plane = plane->kind;
        const auto first = plane->fromPatient(volume, m.points.front());
        const long s = std::lround(first[2]);
        out.slice = s >= 0 && s < long(plane->depth) ? int(s) : -1;
    }
    switch (m.kind) {
    case MeasurementKind::Distance:
        out.lengthMm = norm(m.points[1] - m.points[0]);
        break;
    case MeasurementKind::Angle:
        out.angleDegrees = angleDegrees(m.points[0] - m.points[1], m.points[2] - m.points[1]);
        break;
    case MeasurementKind::Rectangle:
    case MeasurementKind::Ellipse:
        if (plane && out.slice >= 0) {
            const auto a = plane->fromPatient(volume, m.points[0]);
            const auto b = plane->fromPatient(volume, m.points[1]);
            out.roi = roiStatistics(plane->image(volume, std::size_t(out.slice)), m.kind, a[0],
                                    a[1], b[0], b[1], plane->spacingX, plane->spacingY);
        }
        break;
    }
    return out;
}

std::string describe(const Measurement& m, const MeasurementValue& value,
                     const std::string& units) {
    char text[256];
    const std::string u = units.empty() ? "" : " " + units;
    switch (m.kind) {
    case MeasurementKind::Distance:
        std::snprintf(text, sizeof text, "%.1f mm", value.lengthMm);
        return text;
    case MeasurementKind::Angle:
        std::snprintf(text, sizeof text, "%.1f\u00B0", value.angleDegrees);
        return text;
    case MeasurementKind::Rectangle:
    case MeasurementKind::Ellipse:
        if (!value.roi) {
            return "off the volume";
        }
        std::snprintf(text, sizeof text, "mean %.1f%s, SD %.1f, min %.0f / max %.0f, %.1f mm\u00B2",
                      value.roi->mean, u.c_str(), value.roi->standardDeviation, value.roi->min,
                      value.roi->max, value.roi->areaMm2);
        return text;
    }
    return {};
}

} // namespace radiolens
