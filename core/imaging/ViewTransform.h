#pragma once

#include <array>
#include <cstddef>

namespace radiolens {

/// A point in 2D: image pixel coordinates (pixel centres at integers, x right, y down) or
/// widget coordinates (pixels).
struct Point2 {
    double x = 0.0;
    double y = 0.0;
};

/// How an image plane sits in a widget: fit, zoom, pan, quarter-turn rotation and flips, with
/// true proportions for anisotropic pixels (spacing in mm). Pure value; GUI-free and testable.
///
/// widget = centre + pan + scale * rotate(flip((image - imageCentre) * spacing))
struct ViewTransform {
    double widgetWidth = 1.0;
    double widgetHeight = 1.0;
    std::size_t imageWidth = 1;
    std::size_t imageHeight = 1;
    double spacingX = 1.0; ///< mm between pixel centres along x
    double spacingY = 1.0;
    double zoom = 1.0; ///< 1: the whole image fits the widget
    double panX = 0.0; ///< widget pixels from the widget centre to the image centre
    double panY = 0.0;
    int rotation = 0;            ///< quarter turns clockwise, 0..3
    bool flipHorizontal = false; ///< mirrored left-right before rotation
    bool flipVertical = false;

    /// Widget pixels per mm at zoom 1 (the whole image visible).
    double fitScale() const;
    /// Widget pixels per mm now.
    double scale() const { return fitScale() * zoom; }
    /// The zoom at which one image pixel (along its finer axis) covers one widget pixel.
    double oneToOneZoom() const;

    Point2 toWidget(const Point2& image) const;
    Point2 toImage(const Point2& widget) const;
    /// Multiplies the zoom by `factor` keeping the image point under `widget` where it is.
    void zoomAt(double factor, const Point2& widget);
    /// Turns a quarter clockwise (quarters > 0) or counter-clockwise, about the widget centre.
    void rotate(int quarters);
    /// Back to fit: zoom 1, no pan (rotation and flips kept).
    void fit();

    /// The affine map from QImage coordinates (pixel (x, y) covers [x, x+1) x [y, y+1)) to widget
    /// coordinates, as QTransform(m11, m12, m21, m22, dx, dy).
    std::array<double, 6> qtAffine() const;

private:
    /// The linear part: widget delta = L * image delta (image pixels).
    std::array<double, 4> linear() const;
};

} // namespace radiolens
