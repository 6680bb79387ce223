#pragma once

#include <array>
#include <cmath>
#include <string>

namespace radiolens {

/// A point or direction in the DICOM patient coordinate system (LPS: +x left, +y posterior,
/// +z head). Positions are in millimetres.
struct Vec3 {
    double x = 0.0;
    double y = 0.0;
    double z = 0.0;

    double operator[](int i) const { return i == 0 ? x : (i == 1 ? y : z); }
    double& operator[](int i) { return i == 0 ? x : (i == 1 ? y : z); }
    Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
    Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
    Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
    bool operator==(const Vec3& o) const { return x == o.x && y == o.y && z == o.z; }
    bool operator!=(const Vec3& o) const { return !(*this == o); }
};

inline double dot(const Vec3& a, const Vec3& b) {
    return a.x * b.x + a.y * b.y + a.z * b.z;
}
inline Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline double norm(const Vec3& a) {
    return std::sqrt(dot(a, a));
}
/// Unit vector along `a`; the zero vector stays zero.
Vec3 normalized(const Vec3& a);
/// Angle between two directions in degrees, in [0, 180].
double angleDegrees(const Vec3& a, const Vec3& b);

/// Orientation of an image grid: the unit vectors (in LPS) along the grid's i (row, to the
/// right on screen), j (column, downwards) and k (slice) axes. ITK's direction matrix has these
/// as its columns.
struct Direction {
    Vec3 i{1, 0, 0};
    Vec3 j{0, 1, 0};
    Vec3 k{0, 0, 1};

    const Vec3& axis(int a) const { return a == 0 ? i : (a == 1 ? j : k); }
};

/// Anatomical letters (L/R, A/P, H/F) of the direction a vector points to, strongest first,
/// e.g. "L", "LP" for an oblique direction. Components under ~0.3 of the length are dropped.
std::string orientationLetters(const Vec3& v);

/// Parses a DICOM PatientOrientation value ("A", "FL", ...) into an LPS direction; returns
/// false when the text holds no anatomical letter.
bool directionFromLetters(const std::string& letters, Vec3& out);

} // namespace radiolens
