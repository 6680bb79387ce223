#pragma once

#include "core/domain/Measurement.h"
#include "core/imaging/PlaneView.h"

#include <cstddef>

namespace radiolens {

/// Statistics of the pixels inside a region of interest, in output units (HU for CT).
struct RoiStatistics {
    double mean = 0.0;
    double standardDeviation = 0.0; ///< sample standard deviation (n - 1)
    double min = 0.0;
    double max = 0.0;
    std::size_t pixels = 0; ///< pixels whose centres lie inside the region
    double areaMm2 = 0.0;   ///< area of the drawn shape (not of the pixels), mm2
};

/// Statistics over the pixels of `image` whose centres lie inside the rectangle or the ellipse
/// inscribed in the axis-aligned box with corners (x0, y0) and (x1, y1), in image pixel
/// coordinates. Colour images use luminance (0.299 R + 0.587 G + 0.114 B).
RoiStatistics roiStatistics(const StridedImage& image, MeasurementKind shape, double x0, double y0,
                            double x1, double y1, double spacingX, double spacingY);

} // namespace radiolens
