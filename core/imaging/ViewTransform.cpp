#include "core/imaging/ViewTransform.h"

#include <algorithm>
#include <cmath>

namespace radiolens {

double ViewTransform::fitScale() const {
    const double w = double(imageWidth) * spacingX;
    const double h = double(imageHeight) * spacingY;
    const bool turned = (rotation & 1) != 0;
    const double across = turned ? h : w;
    const double down = turned ? w : h;
    return std::max(1e-9, std::min(widgetWidth / across, widgetHeight / down));
}

double ViewTransform::oneToOneZoom() const {
    return 1.0 / (std::min(spacingX, spacingY) * fitScale());
}

std::array<double, 4> ViewTransform::linear() const {
    // L = scale * R^rotation * F * diag(spacing), row-major {a, b, c, d}: (a b; c d).
    double a = spacingX * (flipHorizontal ? -1.0 : 1.0);
    double b = 0.0;
    double c = 0.0;
    double d = spacingY * (flipVertical ? -1.0 : 1.0);
    for (int r = 0; r < (rotation & 3); ++r) {
        // A quarter turn clockwise on screen (y down): (x, y) -> (-y, x).
        const double na = -c, nb = -d, nc = a, nd = b;
        a = na;
        b = nb;
        c = nc;
        d = nd;
    }
    const double s = scale();
    return {a * s, b * s, c * s, d * s};
}

Point2 ViewTransform::toWidget(const Point2& image) const {
    const auto L = linear();
    const double x = image.x - (double(imageWidth) - 1.0) / 2.0;
    const double y = image.y - (double(imageHeight) - 1.0) / 2.0;
    return {widgetWidth / 2.0 + panX + L[0] * x + L[1] * y,
            widgetHeight / 2.0 + panY + L[2] * x + L[3] * y};
}

Point2 ViewTransform::toImage(const Point2& widget) const {
    const auto L = linear();
    const double det = L[0] * L[3] - L[1] * L[2];
    const double wx = widget.x - widgetWidth / 2.0 - panX;
    const double wy = widget.y - widgetHeight / 2.0 - panY;
    return {(L[3] * wx - L[1] * wy) / det + (double(imageWidth) - 1.0) / 2.0,
            (-L[2] * wx + L[0] * wy) / det + (double(imageHeight) - 1.0) / 2.0};
}

void ViewTransform::zoomAt(double factor, const Point2& widget) {
    const Point2 anchor = toImage(widget);
    zoom = std::clamp(zoom * factor, 0.05, 100.0);
    const Point2 moved = toWidget(anchor);
    panX += widget.x - moved.x;
    panY += widget.y - moved.y;
}

void ViewTransform::rotate(int quarters) {
    rotation = ((rotation + quarters) % 4 + 4) % 4;
    // The pan turns with the image about the widget centre.
    for (int r = 0; r < ((quarters % 4) + 4) % 4; ++r) {
        const double x = panX;
        panX = -panY;
        panY = x;
    }
}

void ViewTransform::fit() {
    zoom = 1.0;
    panX = 0.0;
    panY = 0.0;
}

std::array<double, 6> ViewTransform::qtAffine() const {
    const auto L = linear();
    // QImage pixel (u, v) has its centre at image point (u + 0.5, v + 0.5) - 0.5 = (u, v) + 0:
    // image point x = u - 0.5.
    const Point2 origin = toWidget({-0.5, -0.5});
    return {L[0], L[2], L[1], L[3], origin.x, origin.y};
}

} // namespace radiolens
