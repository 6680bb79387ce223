#include "core/imaging/PlaneView.h"

#include <cmath>

namespace radiolens {

std::string toString(PlaneKind kind) {
    switch (kind) {
    case PlaneKind::Native:
        return "native";
    case PlaneKind::Axial:
        return "axial";
    case PlaneKind::Coronal:
        return "coronal";
    case PlaneKind::Sagittal:
        return "sagittal";
    }
    return "native";
}

double StridedImage::value(std::size_t x, std::size_t y, int component) const {
    const std::ptrdiff_t at = std::ptrdiff_t(x) * strideX + std::ptrdiff_t(y) * strideY + component;
    return dispatchComponent(format.component, [&](auto tag) {
        using T = decltype(tag);
        return double(static_cast<const T*>(origin)[at]);
    });
}

Vec3 indexToPatient(const Volume& volume, const std::array<double, 3>& index) {
    return volume.indexToPoint(index[0], index[1], index[2]);
}

std::array<double, 3> patientToIndex(const Volume& volume, const Vec3& point) {
    // The direction axes are orthonormal, so the inverse is a projection on each axis.
    const Vec3 d = point - volume.origin;
    return {dot(d, volume.direction.i) / volume.spacing.x,
            dot(d, volume.direction.j) / volume.spacing.y,
            dot(d, volume.direction.k) / volume.spacing.z};
}

std::array<double, 3> PlaneMapping::toIndex(double x, double y, double s) const {
    std::array<double, 3> index{};
    const double image[3] = {x, y, s};
    const std::size_t extent[3] = {width, height, depth};
    for (int a = 0; a < 3; ++a) {
        const double last = double(extent[a]) - 1.0;
        index[std::size_t(axis[std::size_t(a)])] =
            sign[std::size_t(a)] > 0 ? image[a] : last - image[a];
    }
    return index;
}

std::array<double, 3> PlaneMapping::fromIndex(const std::array<double, 3>& index) const {
    std::array<double, 3> out{};
    const std::size_t extent[3] = {width, height, depth};
    for (int a = 0; a < 3; ++a) {
        const double v = index[std::size_t(axis[std::size_t(a)])];
        const double last = double(extent[a]) - 1.0;
        out[std::size_t(a)] = sign[std::size_t(a)] > 0 ? v : last - v;
    }
    return out;
}

Vec3 PlaneMapping::toPatient(const Volume& volume, double x, double y, double s) const {
    return indexToPatient(volume, toIndex(x, y, s));
}

std::array<double, 3> PlaneMapping::fromPatient(const Volume& volume, const Vec3& point) const {
    return fromIndex(patientToIndex(volume, point));
}

namespace {

Vec3 axisVector(const Volume& volume, int axis, int sign) {
    return volume.direction.axis(axis) * double(sign);
}

/// The volume axis (and its sign) whose direction is nearest to `target`, among `free`.
std::pair<int, int> nearestAxis(const Volume& volume, const Vec3& target, const bool free[3]) {
    int best = -1;
    double bestDot = -1.0;
    for (int a = 0; a < 3; ++a) {
        if (!free[a]) {
            continue;
        }
        const double d = std::abs(dot(volume.direction.axis(a), target));
        if (d > bestDot) {
            bestDot = d;
            best = a;
        }
    }
    const int sign = dot(volume.direction.axis(best), target) >= 0.0 ? 1 : -1;
    return {best, sign};
}

} // namespace

Vec3 PlaneMapping::directionX(const Volume& volume) const {
    return axisVector(volume, axis[0], sign[0]);
}

Vec3 PlaneMapping::directionY(const Volume& volume) const {
    return axisVector(volume, axis[1], sign[1]);
}

Vec3 PlaneMapping::directionS(const Volume& volume) const {
    return axisVector(volume, axis[2], sign[2]);
}

StridedImage PlaneMapping::image(const Volume& volume, std::size_t s) const {
    const auto& size = volume.size();
    const std::ptrdiff_t components = volume.format().components;
    const std::ptrdiff_t strideOf[3] = {components, std::ptrdiff_t(size[0]) * components,
                                        std::ptrdiff_t(size[0] * size[1]) * components};
    // Index of image pixel (0, 0) on slice s.
    const std::array<double, 3> first = toIndex(0.0, 0.0, double(s));
    std::ptrdiff_t offset = 0;
    for (int a = 0; a < 3; ++a) {
        offset += std::ptrdiff_t(std::llround(first[std::size_t(a)])) * strideOf[a];
    }
    StridedImage out;
    out.format = volume.format();
    out.width = width;
    out.height = height;
    out.strideX = strideOf[axis[0]] * sign[0];
    out.strideY = strideOf[axis[1]] * sign[1];
    const std::size_t bytes = volume.format().componentBytes();
    out.origin = static_cast<const char*>(volume.data()) + offset * std::ptrdiff_t(bytes);
    return out;
}

PlaneMapping planeMapping(const Volume& volume, PlaneKind kind) {
    PlaneMapping m;
    m.kind = kind;
    if (kind == PlaneKind::Native) {
        m.axis = {0, 1, 2};
        m.sign = {1, 1, 1};
    } else {
        // Screen right and screen down in patient space (LPS) for each anatomical plane.
        Vec3 right, down;
        switch (kind) {
        case PlaneKind::Axial:
            right = {1, 0, 0};
            down = {0, 1, 0};
            break; // L, P
        case PlaneKind::Coronal:
            right = {1, 0, 0};
            down = {0, 0, -1};
            break; // L, F
        default:
            right = {0, 1, 0};
            down = {0, 0, -1};
            break; // P, F
        }
        bool free[3] = {true, true, true};
        const auto [ax, sx] = nearestAxis(volume, right, free);
        free[ax] = false;
        const auto [ay, sy] = nearestAxis(volume, down, free);
        free[ay] = false;
        int az = 0;
        for (int a = 0; a < 3; ++a) {
            if (free[a]) {
                az = a;
            }
        }
        m.axis = {ax, ay, az};
        // Slices run so that s increases along x cross y (right-handed with the view).
        const Vec3 normal = cross(axisVector(volume, ax, sx), axisVector(volume, ay, sy));
        const int sz = dot(volume.direction.axis(az), normal) >= 0.0 ? 1 : -1;
        m.sign = {sx, sy, sz};
    }
    const auto& size = volume.size();
    const double spacing[3] = {volume.spacing.x, volume.spacing.y, volume.spacing.z};
    m.width = size[std::size_t(m.axis[0])];
    m.height = size[std::size_t(m.axis[1])];
    m.depth = size[std::size_t(m.axis[2])];
    m.spacingX = spacing[m.axis[0]];
    m.spacingY = spacing[m.axis[1]];
    m.spacingZ = spacing[m.axis[2]];
    return m;
}

} // namespace radiolens
