#include "core/domain/Measurement.h"

namespace radiolens {

std::string toString(MeasurementKind kind) {
    switch (kind) {
    case MeasurementKind::Distance:
        return "distance";
    case MeasurementKind::Angle:
        return "angle";
    case MeasurementKind::Rectangle:
        return "rectangle";
    case MeasurementKind::Ellipse:
        return "ellipse";
    }
    return "distance";
}

bool parseMeasurementKind(const std::string& text, MeasurementKind& kind) {
    for (MeasurementKind k : {MeasurementKind::Distance, MeasurementKind::Angle,
                              MeasurementKind::Rectangle, MeasurementKind::Ellipse}) {
        if (toString(k) == text) {
            kind = k;
            return true;
        }
    }
    return false;
}

std::size_t pointCount(MeasurementKind kind) {
    return kind == MeasurementKind::Angle ? 3 : 2;
}

} // namespace radiolens
