#include "core/imaging/RoiStatistics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace radiolens {

RoiStatistics roiStatistics(const StridedImage& image, MeasurementKind shape, double x0, double y0,
                            double x1, double y1, double spacingX, double spacingY) {
    RoiStatistics out;
    const double left = std::min(x0, x1), right = std::max(x0, x1);
    const double top = std::min(y0, y1), bottom = std::max(y0, y1);
    const bool ellipse = shape == MeasurementKind::Ellipse;
    const double widthMm = (right - left) * spacingX;
    const double heightMm = (bottom - top) * spacingY;
    out.areaMm2 = ellipse ? M_PI / 4.0 * widthMm * heightMm : widthMm * heightMm;
    const double cx = (left + right) / 2.0, cy = (top + bottom) / 2.0;
    const double rx = (right - left) / 2.0, ry = (bottom - top) / 2.0;
    // Corners come back from patient coordinates with rounding noise (1.9999999 for 2): a pixel
    // centre within 1e-6 of the edge counts as inside.
    constexpr double kEdge = 1e-6;
    const long xFirst = std::max(0L, long(std::ceil(left - kEdge)));
    const long xLast = std::min(long(image.width) - 1, long(std::floor(right + kEdge)));
    const long yFirst = std::max(0L, long(std::ceil(top - kEdge)));
    const long yLast = std::min(long(image.height) - 1, long(std::floor(bottom + kEdge)));
    const bool colour = image.format.components == 3;
    // Welford's running mean and variance: exact enough for any image size.
    double mean = 0.0, m2 = 0.0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    std::size_t n = 0;
    for (long y = yFirst; y <= yLast; ++y) {
        for (long x = xFirst; x <= xLast; ++x) {
            if (ellipse) {
                const double dx = rx > 0 ? (double(x) - cx) / rx : 0.0;
                const double dy = ry > 0 ? (double(y) - cy) / ry : 0.0;
                if (dx * dx + dy * dy > 1.0 + kEdge) {
                    continue;
                }
            }
            const double v = colour ? 0.299 * image.value(std::size_t(x), std::size_t(y), 0) +
                                          0.587 * image.value(std::size_t(x), std::size_t(y), 1) +
                                          0.114 * image.value(std::size_t(x), std::size_t(y), 2)
                                    : image.value(std::size_t(x), std::size_t(y));
            ++n;
            const double delta = v - mean;
            mean += delta / double(n);
            m2 += delta * (v - mean);
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    }
    out.pixels = n;
    if (n > 0) {
        out.mean = mean;
        out.standardDeviation = n > 1 ? std::sqrt(m2 / double(n - 1)) : 0.0;
        out.min = lo;
        out.max = hi;
    }
    return out;
}

} // namespace radiolens
